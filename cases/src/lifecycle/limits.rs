//! Bounded approvals: the caps an approver puts on the parameters a step-up lists (`step_up {
//! limits amount }`, `aarm case approve … --max amount=5000`), and the limits a release carries.
//!
//! A cap only narrows. It is checked against the case's own action when it is given: a cap on a
//! parameter the step-up does not list is `limit_not_allowed`, and one below the action's value
//! is `limit_below_action` (the approval would approve nothing), so a capped approval never
//! counts toward releasing an action over its cap. The action itself cannot change under an
//! approval: each is bound to the action hash, which covers every capped parameter (the checker
//! refuses `limits` on one `settings { action_hash_ignores }` leaves out), so a request with
//! another value, within the cap or beyond it, is another action and another case.

use super::event::Rejection;
use aarm_runtime::convert::{exact_number, exact_number_of};
use aarm_runtime::decision::ParamLimit;
use aarm_runtime::value::format_decimal;
use std::collections::BTreeMap;

pub use super::event::Caps;

/// A cap given as text (`5000`, `5000.50`, `5e3`) in its canonical form (`5000.5`): `None`
/// when it is not a number a `Decimal` holds exactly.
pub fn cap_of_text(text: &str) -> Option<String> {
    exact_number(text).map(format_decimal)
}

/// A cap given as JSON (a number, or a string holding one), as [`cap_of_text`] reads it.
pub(crate) fn cap_of_json(json: &serde_json::Value) -> Option<String> {
    exact_number_of(json).map(format_decimal)
}

/// Why an approval's `max` could not be read (before the lifecycle checks it against the tier).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CapsError {
    /// `max` is neither `null` nor an object of caps.
    #[error("`max` must be an object of caps, such as {{\"amount\": 5000}}")]
    NotAnObject,
    #[error(
        "`max.{name}` must be a number a Decimal holds exactly (below 10^20, at most 18 digits after \
         the point), or a string holding one: found {found}"
    )]
    /// A cap that is not a number read exactly (a float beyond Decimal, a boolean, text).
    NotANumber {
        /// The parameter the cap is for.
        name: String,
        /// The JSON given for it.
        found: String,
    },
}

/// An approver's caps as an approval's JSON gives them (the service's body, the bindings'
/// argument): `null` for none, or an object of parameter names to a number or a string holding
/// one (`"12.50"`), read exactly ([`cap_of_json`]). Whether the step-up lets the approver cap
/// each parameter is [`check`]'s to say.
pub fn caps_of_json(max: &serde_json::Value) -> Result<Caps, CapsError> {
    let caps = match max {
        serde_json::Value::Null => return Ok(Caps::new()),
        serde_json::Value::Object(caps) => caps,
        _ => return Err(CapsError::NotAnObject),
    };
    caps.iter()
        .map(|(name, value)| match cap_of_json(value) {
            Some(cap) => Ok((name.clone(), cap)),
            None => Err(CapsError::NotANumber { name: name.clone(), found: value.to_string() }),
        })
        .collect()
}

/// The caps of an approval checked against its tier (`allowed`: the parameters the step-up's
/// `limits` lists) and the case's action (`params`, as submitted), in canonical form.
pub fn check(
    caps: &Caps,
    allowed: &[String],
    params: Option<&serde_json::Map<String, serde_json::Value>>,
) -> Result<Caps, Rejection> {
    let mut out = Caps::new();
    for (name, text) in caps {
        let cap = exact_number(text).filter(|_| allowed.iter().any(|a| a == name));
        let Some(cap) = cap else { return Err(Rejection::LimitNotAllowed) };
        // A value the action does not carry as a number cannot be shown to be within the cap.
        let own = params.and_then(|p| p.get(name)).and_then(exact_number_of);
        if own.is_none_or(|v| v > cap) {
            return Err(Rejection::LimitBelowAction);
        }
        out.insert(name.clone(), format_decimal(cap));
    }
    Ok(out)
}

/// The limits of a release: for each parameter some of the approvals that made the quorum
/// capped (`caps`, one per approval), the smallest cap, keyed by its path (`params.amount`).
pub fn released<'a>(caps: impl IntoIterator<Item = &'a Caps>) -> BTreeMap<String, ParamLimit> {
    let mut smallest: BTreeMap<&str, i128> = BTreeMap::new();
    for max in caps {
        // Recorded caps are canonical (`check`), so each reads back.
        for (name, cap) in max.iter().filter_map(|(n, t)| Some((n.as_str(), exact_number(t)?))) {
            let entry = smallest.entry(name).or_insert(cap);
            *entry = (*entry).min(cap);
        }
    }
    smallest
        .into_iter()
        .map(|(name, cap)| (format!("params.{name}"), ParamLimit { max: format_decimal(cap) }))
        .collect()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use serde_json::json;

    fn caps(pairs: &[(&str, &str)]) -> Caps {
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    #[test]
    fn a_cap_is_checked_against_the_tier_and_the_action() {
        let allowed = ["amount".to_string(), "fee".to_string()];
        let params = json!({ "amount": 4000, "fee": "12.50", "to": "acme" });
        let params = params.as_object();
        assert_eq!(
            check(&caps(&[("amount", "5000.00"), ("fee", "12.5")]), &allowed, params),
            Ok(caps(&[("amount", "5000"), ("fee", "12.5")])),
            "at or above the action's value, in canonical form"
        );
        assert_eq!(check(&caps(&[("amount", "4000")]), &allowed, params).map(|c| c.len()), Ok(1), "equal is within");
        assert_eq!(check(&caps(&[("amount", "3999.99")]), &allowed, params), Err(Rejection::LimitBelowAction));
        assert_eq!(check(&caps(&[("fee", "12.49")]), &allowed, params), Err(Rejection::LimitBelowAction));
        assert_eq!(check(&caps(&[("to", "1")]), &allowed, params), Err(Rejection::LimitNotAllowed), "not listed");
        assert_eq!(check(&caps(&[("amount", "lots")]), &allowed, params), Err(Rejection::LimitNotAllowed));
        let without = json!({ "fee": "x" });
        assert_eq!(check(&caps(&[("amount", "1")]), &allowed, without.as_object()), Err(Rejection::LimitBelowAction));
        assert_eq!(check(&caps(&[("fee", "1")]), &allowed, without.as_object()), Err(Rejection::LimitBelowAction));
        assert_eq!(check(&Caps::new(), &[], None), Ok(Caps::new()), "no caps: nothing to check");
    }

    #[test]
    fn a_release_carries_the_smallest_cap_per_parameter() {
        let approvals = [caps(&[("amount", "5000"), ("fee", "20")]), Caps::new(), caps(&[("amount", "4500.5")])];
        let limits = released(&approvals);
        assert_eq!(
            serde_json::to_value(&limits).unwrap(),
            json!({ "params.amount": { "max": "4500.5" }, "params.fee": { "max": "20" } })
        );
        assert!(released(&approvals[1..2]).is_empty(), "no cap, no limits");
    }

    #[test]
    fn caps_are_read_exactly() {
        assert_eq!(cap_of_text("5e3").as_deref(), Some("5000"));
        assert_eq!(cap_of_text("0.000000000000000001").as_deref(), Some("0.000000000000000001"));
        assert_eq!(cap_of_text("0.0000000000000000001"), None, "a 19th digit is not rounded away");
        assert_eq!(cap_of_json(&json!(5000)).as_deref(), Some("5000"));
        assert_eq!(cap_of_json(&json!("12.50")).as_deref(), Some("12.5"));
        assert_eq!(cap_of_json(&json!(true)), None);
        assert_eq!(cap_of_text("five"), None);
    }
}

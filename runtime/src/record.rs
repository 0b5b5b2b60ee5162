//! The decision as a record (docs/json.md, "The decision record"): which request it answers, when
//! it was made, what it covers and until when an allow may be acted on.
//!
//! The seam between the deterministic evaluator and the host: the engine fills in everything that
//! follows from the request (`request_id`, `evaluated_at` — the request's `context.now` —, `scope`,
//! `expires_at`), so that the same request always gets the same decision; only the
//! `decision_id` is the host's, stamped by [`Decision::identify`] with [`new_decision_id`] when the
//! decision is handed out (`aarm eval`, `aarm serve`, `aarm-host` and the bindings). The engine
//! itself never calls it.

use crate::decision::{Decision, Effect};
use crate::value::{format_time, parse_time};
use serde::{Deserialize, Serialize};

/// The version of the decision JSON. A change users can see bumps it.
pub const DECISION_SCHEMA: &str = "aarm.decision/2";

/// The longest `request_id` a request may carry, in bytes.
pub const MAX_REQUEST_ID_BYTES: usize = 128;

/// What a decision covers: the tool, the operation and the parameters it was decided on. An allow
/// authorizes this call, not another one with other parameters.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Scope {
    pub tool: String,
    pub operation: String,
    /// The names of the parameters the decision saw, sorted.
    pub params: Vec<String>,
}

/// A new decision id: a ULID (26 characters of Crockford base 32, sortable by creation time,
/// 80 random bits), from the operating system's clock and random numbers. For hosts only.
pub fn new_decision_id() -> String {
    ulid::Ulid::new().to_string()
}

/// The `schema` of a decision: [`DECISION_SCHEMA`].
pub(crate) fn schema_default() -> String {
    DECISION_SCHEMA.to_string()
}

impl Decision {
    /// Stamps the host's `decision_id` (see the module documentation); an id already given is
    /// kept, so that a decision handed through two layers keeps its first identity.
    pub fn identify(mut self) -> Self {
        if self.decision_id.is_none() {
            self.decision_id = Some(new_decision_id());
        }
        self
    }

    /// The `deny` that replaces this decision when the host cannot stand by it (a store failure,
    /// a session history it could not read): the same rule, policy and record (ids, time, scope),
    /// with no expiry and no obligation.
    pub fn denied_instead(&self, code: &str, message: impl Into<String>) -> Decision {
        let mut d = Decision::fail_closed(code, message, self.policy.clone());
        d.rule = self.rule.clone();
        d.decision_id = self.decision_id.clone();
        d.request_id = self.request_id.clone();
        d.evaluated_at = self.evaluated_at.clone();
        d.scope = self.scope.clone();
        d.review = self.review.clone();
        d
    }

    /// Whether the decision may be acted on at `now` (seconds since the epoch): it is an `allow`
    /// or a `modify` and, when it has an `expires_at`, `now` is before it. Every other decision,
    /// and an expiry that cannot be read, is not current: fail closed.
    ///
    /// An override is an `allow` with an `expires_at`: it is current until then, like any other.
    pub fn is_current(&self, now: i64) -> bool {
        if !matches!(self.decision, Effect::Allow | Effect::Modify) {
            return false;
        }
        match &self.expires_at {
            None => true,
            Some(at) => parse_time(at).is_some_and(|expires| now < expires),
        }
    }

    /// Names the reviewer (`settings { review }`) on a decision that can be appealed: a `deny`, a
    /// `step_up` or a `defer`; an allow or modify has nothing to appeal.
    pub fn for_review(mut self, review: Option<String>) -> Self {
        if !matches!(self.decision, Effect::Allow | Effect::Modify) {
            self.review = review;
        }
        self
    }

    /// Sets `evaluated_at` to `now` and, for an allow or modify valid `valid_s` seconds,
    /// `expires_at`.
    pub fn timed(self, now: i64, valid_s: Option<i64>) -> Self {
        self.timed_within(now, valid_s, None)
    }

    /// [`Decision::timed`], cut at `until` (seconds since the epoch) when that is earlier: an
    /// approver's bound on the allow it releases (`aarm case approve --until`).
    pub fn timed_within(mut self, now: i64, valid_s: Option<i64>, until: Option<i64>) -> Self {
        self.evaluated_at = Some(format_time(now));
        if matches!(self.decision, Effect::Allow | Effect::Modify) {
            self.expires_at = earliest(valid_s.map(|s| now.saturating_add(s)), until).map(format_time);
        }
        self
    }
}

/// The earlier of two optional bounds (seconds since the epoch); `None` is no bound.
pub fn earliest(a: Option<i64>, b: Option<i64>) -> Option<i64> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::decision::{codes, PolicyRef};

    fn allow() -> Decision {
        let policy = PolicyRef { name: "p".into(), version: "1".into(), bundle_hash: String::new() };
        let mut d = Decision::fail_closed(codes::DEFAULT_ALLOW, "ok", policy);
        d.decision = Effect::Allow;
        d
    }

    #[test]
    fn ids_are_unique_and_sort_by_time() {
        let a = allow().identify();
        let b = allow().identify();
        let (a, b) = (a.decision_id.unwrap(), b.decision_id.unwrap());
        assert_eq!(a.len(), 26);
        assert_ne!(a, b);
        assert!(a[..10] <= b[..10], "the time part sorts: {a} {b}");
    }

    #[test]
    fn identify_keeps_an_id_already_given() {
        let d = allow().identify();
        let id = d.decision_id.clone();
        assert_eq!(d.identify().decision_id, id);
    }

    #[test]
    fn an_allow_is_current_until_it_expires() {
        let d = allow().timed(1000, Some(300));
        assert_eq!(d.expires_at.as_deref(), Some("1970-01-01T00:21:40Z"));
        assert!(d.is_current(1000));
        assert!(d.is_current(1299));
        assert!(!d.is_current(1300), "expired at expires_at");
        assert!(allow().timed(1000, None).is_current(i64::MAX), "no validity declared: no expiry");
    }

    #[test]
    fn a_denial_instead_keeps_the_record_and_drops_the_expiry() {
        let mut d = allow().timed(1000, Some(300)).identify();
        d.request_id = Some("r-1".into());
        let denied = d.denied_instead(codes::STORE_UNAVAILABLE, "no store");
        assert_eq!(denied.decision, Effect::Deny);
        assert_eq!((&denied.decision_id, &denied.request_id), (&d.decision_id, &d.request_id));
        assert_eq!(denied.evaluated_at, d.evaluated_at);
        assert_eq!(denied.expires_at, None);
        assert!(!Decision::is_current(&d.denied_instead(codes::STORE_UNAVAILABLE, "x"), 1000));
    }

    #[test]
    fn only_allow_and_modify_are_ever_current() {
        for effect in [Effect::Deny, Effect::StepUp, Effect::Defer] {
            let mut d = allow().timed(1000, Some(300));
            d.decision = effect;
            assert!(!d.is_current(1000), "{effect:?}");
        }
        let mut unreadable = allow();
        unreadable.expires_at = Some("soon".into());
        assert!(!unreadable.is_current(0), "an expiry that cannot be read fails closed");
    }
}

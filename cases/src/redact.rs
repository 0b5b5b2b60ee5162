//! What the records of a request show of the fields its policy marks `@redact`
//! (docs/language.md, "Sensitive fields"): in their place, `{"redacted": "hmac-sha256:<hex>"}`,
//! an HMAC-SHA256 of the value's canonical JSON under the deployment's redaction key.
//!
//! Why keyed: a plain SHA-256 of a PIN, a card's last digits or a yes/no is undone by hashing
//! every candidate. The key is derived from the deployment's receipt signing key (`--sign-key`),
//! so one deployment gives one value one digest (a value can be recognised across records
//! without being shown), and nobody without the key can test guesses. Without a key there is
//! nothing safe to publish: the value is replaced by `{"redacted": "withheld"}`.
//!
//! The evaluator and the case store keep the real values (a deferral is decided again on them,
//! and the action hash that binds approvals covers them); only the views made here leave.

use crate::lifecycle::case::Case;
use aarm_runtime::decision::{ActionOut, Decision};
use ed25519_dalek::SigningKey;
use hmac::{Hmac, Mac};
use serde_json::{json, Map, Value};
use sha2::Sha256;

type HmacSha256 = Hmac<Sha256>;

/// What the key's derivation mixes in, so that the redaction key is never the signing key
/// itself nor anything else derived from it.
const DERIVATION_LABEL: &[u8] = b"aarm redaction key v1";

/// What replaces a value when there is no key to hash it with.
pub(crate) const WITHHELD: &str = "withheld";

/// The deployment's secret for redacted values.
#[derive(Clone)]
pub struct RedactionKey([u8; 32]);

impl std::fmt::Debug for RedactionKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("RedactionKey(..)")
    }
}

impl RedactionKey {
    /// The key of a deployment whose receipts are signed with `signing`: HMAC-SHA256 of a fixed
    /// label under the signing key's secret bytes.
    pub fn from_signing_key(signing: &SigningKey) -> Option<RedactionKey> {
        let mut mac = HmacSha256::new_from_slice(signing.as_bytes()).ok()?;
        mac.update(DERIVATION_LABEL);
        Some(RedactionKey(mac.finalize().into_bytes().into()))
    }

    /// `hmac-sha256:<hex>` of the value's canonical JSON.
    fn digest(&self, value: &Value) -> Option<String> {
        let mut mac = HmacSha256::new_from_slice(&self.0).ok()?;
        mac.update(crate::receipts::canonical_json(value).as_bytes());
        Some(format!("hmac-sha256:{}", hex::encode(mac.finalize().into_bytes())))
    }
}

/// The key derived from an optional signing key.
pub fn key_of(signing: Option<&SigningKey>) -> Option<RedactionKey> {
    signing.and_then(RedactionKey::from_signing_key)
}

/// What stands in for `value`: `{"redacted": "hmac-sha256:<hex>"}`, or `"withheld"` without a key.
pub fn placeholder(value: &Value, key: Option<&RedactionKey>) -> Value {
    let digest = key.and_then(|k| k.digest(value)).unwrap_or_else(|| WITHHELD.to_string());
    json!({ "redacted": digest })
}

/// Replaces the value at `path` (object keys from `root`) with its placeholder, when it is there
/// and not `null` (an absent optional value shows nothing).
fn replace_at(root: &mut Value, path: &[&str], key: Option<&RedactionKey>) {
    let Some((last, parents)) = path.split_last() else { return };
    let mut cur = root;
    for k in parents {
        match cur.get_mut(*k) {
            Some(next) => cur = next,
            None => return,
        }
    }
    if let Some(slot) = cur.as_object_mut().and_then(|o| o.get_mut(*last)) {
        if !slot.is_null() {
            *slot = placeholder(slot, key);
        }
    }
}

/// The part of `path` (`params.body`, `context.ssn`) after `root.`, as keys.
fn under<'a>(path: &'a str, root: &str) -> Option<Vec<&'a str>> {
    let rest = path.strip_prefix(root)?.strip_prefix('.')?;
    Some(rest.split('.').collect())
}

/// Redacts the `params.…` paths in an action's parameters.
pub fn redact_params(params: &mut Value, paths: &[String], key: Option<&RedactionKey>) {
    for keys in paths.iter().filter_map(|p| under(p, "params")) {
        replace_at(params, &keys, key);
    }
}

fn redact_param_map(params: &mut Map<String, Value>, paths: &[String], key: Option<&RedactionKey>) {
    let mut v = Value::Object(std::mem::take(params));
    redact_params(&mut v, paths, key);
    if let Value::Object(m) = v {
        *params = m;
    }
}

/// Redacts `paths` in a request: `params.…` under `action.params`, `context.…` under `context`.
pub(crate) fn redact_request(request: &mut Value, paths: &[String], key: Option<&RedactionKey>) {
    if let Some(params) = request.pointer_mut("/action/params") {
        redact_params(params, paths, key);
    }
    if let Some(context) = request.get_mut("context") {
        for keys in paths.iter().filter_map(|p| under(p, "context")) {
            replace_at(context, &keys, key);
        }
    }
}

fn redact_action(action: Option<&mut ActionOut>, paths: &[String], key: Option<&RedactionKey>) {
    if let Some(a) = action {
        redact_param_map(&mut a.params, paths, key);
    }
}

fn redact_decision(decision: Option<&mut Decision>, paths: &[String], key: Option<&RedactionKey>) {
    if let Some(d) = decision {
        redact_action(d.modified_action.as_deref_mut(), paths, key);
    }
}

/// The case as it may be shown outside the service: every copy of a field its decision lists
/// in `redacted` (the request, a `modify`'s rewritten action, the released action) replaced by
/// its placeholder. The case in the store keeps the real values.
pub fn redacted_case(case: &Case, key: Option<&RedactionKey>) -> Case {
    let paths = &case.decision.redacted;
    let mut shown = case.clone();
    if paths.is_empty() {
        return shown;
    }
    redact_request(&mut shown.request, paths, key);
    redact_action(shown.released_action.as_mut(), paths, key);
    redact_decision(Some(&mut shown.decision), paths, key);
    redact_decision(shown.outcome.as_mut(), paths, key);
    shown
}

/// [`redacted_case`] as JSON, with the top-level `redacted` list of the paths replaced (absent
/// when there are none).
pub fn case_json(case: &Case, key: Option<&RedactionKey>) -> Value {
    let mut v = serde_json::to_value(redacted_case(case, key)).unwrap_or(Value::Null);
    if let Some(obj) = v.as_object_mut() {
        if !case.decision.redacted.is_empty() {
            obj.insert("redacted".into(), json!(case.decision.redacted));
        }
    }
    v
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn key(seed: u8) -> RedactionKey {
        RedactionKey::from_signing_key(&SigningKey::from_bytes(&[seed; 32])).unwrap()
    }

    fn paths(p: &[&str]) -> Vec<String> {
        p.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn a_marked_value_becomes_a_keyed_digest_and_the_rest_is_untouched() {
        let mut req = json!({
            "action": { "tool": "pay", "params": { "pin": "1234", "amount": 5, "card": { "number": "4111", "brand": "v" } } },
            "context": { "ssn": "078-05-1120", "absent": null }
        });
        let p = paths(&["params.pin", "params.card.number", "params.missing", "context.ssn", "context.absent"]);
        redact_request(&mut req, &p, Some(&key(1)));
        let text = req.to_string();
        for secret in ["1234", "4111", "078-05-1120"] {
            assert!(!text.contains(secret), "{text}");
        }
        assert_eq!(req["action"]["params"]["amount"], json!(5));
        assert_eq!(req["action"]["params"]["card"]["brand"], json!("v"));
        assert_eq!(req["context"]["absent"], Value::Null, "an absent value shows nothing");
        let digest = req["action"]["params"]["pin"]["redacted"].as_str().unwrap();
        assert!(digest.starts_with("hmac-sha256:") && digest.len() == "hmac-sha256:".len() + 64, "{digest}");
    }

    #[test]
    fn one_key_gives_one_value_one_digest_and_another_key_another() {
        let v = json!("1234");
        assert_eq!(placeholder(&v, Some(&key(1))), placeholder(&v, Some(&key(1))));
        assert_ne!(placeholder(&v, Some(&key(1))), placeholder(&v, Some(&key(2))));
        assert_ne!(placeholder(&v, Some(&key(1))), placeholder(&json!("1235"), Some(&key(1))));
        // Not the plain SHA-256 anyone could compute from a guess.
        let plain = crate::lifecycle::action::value_hash(&v);
        assert!(!placeholder(&v, Some(&key(1))).to_string().contains(plain.trim_start_matches("sha256:")));
    }

    #[test]
    fn without_a_key_the_value_is_withheld() {
        assert_eq!(placeholder(&json!("1234"), None), json!({ "redacted": WITHHELD }));
    }
}

//! The canonical action an approval binds to.

use serde::ser::{Serialize, SerializeMap, SerializeSeq, Serializer};
use serde_json::Value;

/// `sha256:<hex>` of `{"operation", "params", "tool"}` of a request, keys sorted, compact. Two
/// submissions of the same action hash the same; any change to tool, operation or a parameter
/// changes it.
pub fn action_hash(request: &Value) -> String {
    action_hash_ignoring(request, &[])
}

/// [`action_hash`] without the top-level parameters `ignored` (the policy's `settings {
/// action_hash_ignores }`): a volatile parameter such as a client timestamp then does not make
/// the same action another one.
pub fn action_hash_ignoring(request: &Value, ignored: &[String]) -> String {
    let action = request.get("action");
    let field = |k: &str| action.and_then(|a| a.get(k));
    let canonical =
        CanonicalAction { tool: field("tool"), operation: field("operation"), params: field("params"), ignored };
    match serde_json::to_string(&canonical) {
        Ok(text) => crate::receipts::sha256_hex(text.as_bytes()),
        // Unreachable (a `Value` always serializes); not a well-formed hash, so it matches no
        // approval's.
        Err(e) => format!("unhashable: {e}"),
    }
}

/// The action as hashed: `{"operation": …, "params": …, "tool": …}`, every object's members
/// sorted by name (recursively), an absent `operation` as `""`, absent `params` as `{}` less
/// `ignored`, an absent `tool` as `null`. Written straight from the request, without a sorted
/// copy of it (approvals are checked against this hash on every event).
struct CanonicalAction<'a> {
    tool: Option<&'a Value>,
    operation: Option<&'a Value>,
    params: Option<&'a Value>,
    ignored: &'a [String],
}

impl Serialize for CanonicalAction<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut map = s.serialize_map(Some(3))?;
        match self.operation {
            Some(op) => map.serialize_entry("operation", &Sorted(op))?,
            None => map.serialize_entry("operation", "")?,
        }
        match self.params {
            Some(Value::Object(params)) => {
                let kept = params.iter().filter(|(k, _)| !self.ignored.iter().any(|i| i == *k));
                map.serialize_entry("params", &SortedMembers::new(kept))?;
            }
            Some(other) => map.serialize_entry("params", &Sorted(other))?,
            None => map.serialize_entry("params", &SortedMembers::new(std::iter::empty()))?,
        }
        map.serialize_entry("tool", &self.tool.map(Sorted))?;
        map.end()
    }
}

/// A JSON value with every object's members sorted by name, recursively.
struct Sorted<'a>(&'a Value);

impl Serialize for Sorted<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self.0 {
            Value::Object(map) => SortedMembers::new(map.iter()).serialize(s),
            Value::Array(items) => {
                let mut seq = s.serialize_seq(Some(items.len()))?;
                for item in items {
                    seq.serialize_element(&Sorted(item))?;
                }
                seq.end()
            }
            other => other.serialize(s),
        }
    }
}

/// An object's members, sorted by name (a `serde_json::Map` has no repeated names).
struct SortedMembers<'a>(Vec<(&'a String, &'a Value)>);

impl<'a> SortedMembers<'a> {
    fn new(members: impl Iterator<Item = (&'a String, &'a Value)>) -> Self {
        let mut members: Vec<_> = members.collect();
        members.sort_by(|a, b| a.0.cmp(b.0));
        SortedMembers(members)
    }
}

impl Serialize for SortedMembers<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut map = s.serialize_map(Some(self.0.len()))?;
        for (k, v) in &self.0 {
            map.serialize_entry(*k, &Sorted(v))?;
        }
        map.end()
    }
}

/// `sha256:<hex>` of a JSON value's canonical form ([`crate::receipts::canonical_json`]): what a
/// receipt records of a value it must not carry in the clear (evidence).
pub fn value_hash(value: &Value) -> String {
    crate::receipts::sha256_hex(crate::receipts::canonical_json(value).as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::canonical::tests::{json, text};
    use proptest::prelude::*;
    use sha2::{Digest, Sha256};

    #[test]
    fn key_order_does_not_matter_but_values_do() {
        let a = serde_json::json!({"action": {"tool": "t", "params": {"a": 1, "b": [1, 2]}}});
        let b = serde_json::json!({"action": {"params": {"b": [1, 2], "a": 1}, "tool": "t", "operation": ""}});
        let c = serde_json::json!({"action": {"tool": "t", "params": {"a": 2, "b": [1, 2]}}});
        assert_eq!(action_hash(&a), action_hash(&b));
        assert_ne!(action_hash(&a), action_hash(&c));
    }

    /// `serde_json::Value` with every object's keys sorted (recursively): the way the action was
    /// hashed before it was written straight from the request, kept as the reference.
    fn sorted(v: &Value) -> Value {
        match v {
            Value::Object(map) => {
                let mut keys: Vec<&String> = map.keys().collect();
                keys.sort();
                let mut out = serde_json::Map::new();
                for k in keys {
                    if let Some(x) = map.get(k) {
                        out.insert(k.clone(), sorted(x));
                    }
                }
                Value::Object(out)
            }
            Value::Array(items) => Value::Array(items.iter().map(sorted).collect()),
            other => other.clone(),
        }
    }

    fn hash_by_sorted_copy(request: &Value, ignored: &[String]) -> String {
        let action = request.get("action");
        let field = |k: &str| action.and_then(|a| a.get(k)).cloned();
        let mut params = field("params").unwrap_or(serde_json::json!({}));
        if let Some(map) = params.as_object_mut() {
            map.retain(|k, _| !ignored.iter().any(|i| i == k));
        }
        let canonical = serde_json::json!({
            "tool": field("tool").unwrap_or(Value::Null),
            "operation": field("operation").unwrap_or(Value::String(String::new())),
            "params": params,
        });
        let text = sorted(&canonical).to_string();
        format!("sha256:{}", hex::encode(Sha256::digest(text.as_bytes())))
    }

    /// Requests with any, some or none of `tool`, `operation` and `params`, of any JSON type,
    /// and parameter names that `ignored` may hit.
    fn request() -> impl Strategy<Value = (Value, Vec<String>)> {
        let name = prop_oneof![Just("ts".to_string()), Just("amount".to_string()), text()];
        let params = prop_oneof![
            proptest::collection::vec((name.clone(), json()), 0..6)
                .prop_map(|members| Value::Object(members.into_iter().collect())),
            json(),
        ];
        let action = (proptest::option::of(json()), proptest::option::of(json()), proptest::option::of(params), json())
            .prop_map(|(tool, operation, params, other)| {
                let mut action = serde_json::Map::new();
                for (k, v) in [("tool", tool), ("operation", operation), ("params", params)] {
                    if let Some(v) = v {
                        action.insert(k.to_string(), v);
                    }
                }
                action.insert("other".to_string(), other);
                Value::Object(action)
            });
        let request = prop_oneof![
            action.prop_map(|action| serde_json::json!({ "action": action, "identity": {"human": "a"} })),
            json(),
        ];
        (request, proptest::collection::vec(name, 0..3))
    }

    proptest! {
        /// Approvals already given bind to the hash as it was computed before: it must not move.
        #[test]
        fn the_hash_is_the_one_of_the_sorted_copy((request, ignored) in request()) {
            prop_assert_eq!(action_hash_ignoring(&request, &ignored), hash_by_sorted_copy(&request, &ignored));
        }
    }
}

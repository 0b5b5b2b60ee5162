//! The canonical action an approval binds to.

use sha2::{Digest, Sha256};

/// `serde_json::Value` with every object's keys sorted (recursively).
fn sorted(v: &serde_json::Value) -> serde_json::Value {
    match v {
        serde_json::Value::Object(map) => {
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort();
            let mut out = serde_json::Map::new();
            for k in keys {
                if let Some(x) = map.get(k) {
                    out.insert(k.clone(), sorted(x));
                }
            }
            serde_json::Value::Object(out)
        }
        serde_json::Value::Array(items) => serde_json::Value::Array(items.iter().map(sorted).collect()),
        other => other.clone(),
    }
}

/// `sha256:<hex>` of `{"operation", "params", "tool"}` of a request, keys sorted, compact. Two
/// submissions of the same action hash the same; any change to tool, operation or a parameter
/// changes it.
pub fn action_hash(request: &serde_json::Value) -> String {
    action_hash_ignoring(request, &[])
}

/// [`action_hash`] without the top-level parameters `ignored` (the policy's `settings {
/// action_hash_ignores }`): a volatile parameter such as a client timestamp then does not make
/// the same action another one.
pub fn action_hash_ignoring(request: &serde_json::Value, ignored: &[String]) -> String {
    let action = request.get("action");
    let field = |k: &str| action.and_then(|a| a.get(k)).cloned();
    let mut params = field("params").unwrap_or(serde_json::json!({}));
    if let Some(map) = params.as_object_mut() {
        map.retain(|k, _| !ignored.iter().any(|i| i == k));
    }
    let canonical = serde_json::json!({
        "tool": field("tool").unwrap_or(serde_json::Value::Null),
        "operation": field("operation").unwrap_or(serde_json::Value::String(String::new())),
        "params": params,
    });
    let text = sorted(&canonical).to_string();
    format!("sha256:{}", hex::encode(Sha256::digest(text.as_bytes())))
}

/// `sha256:<hex>` of a JSON value's canonical form ([`crate::receipts::canonical_json`]): what a
/// receipt records of a value it must not carry in the clear (evidence).
pub fn value_hash(value: &serde_json::Value) -> String {
    let text = crate::receipts::canonical_json(value);
    format!("sha256:{}", hex::encode(Sha256::digest(text.as_bytes())))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_order_does_not_matter_but_values_do() {
        let a = serde_json::json!({"action": {"tool": "t", "params": {"a": 1, "b": [1, 2]}}});
        let b = serde_json::json!({"action": {"params": {"b": [1, 2], "a": 1}, "tool": "t", "operation": ""}});
        let c = serde_json::json!({"action": {"tool": "t", "params": {"a": 2, "b": [1, 2]}}});
        assert_eq!(action_hash(&a), action_hash(&b));
        assert_ne!(action_hash(&a), action_hash(&c));
    }
}

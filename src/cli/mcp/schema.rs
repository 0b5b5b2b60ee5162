//! JSON Schema (an MCP tool's `inputSchema`) → aarm types, for `aarm mcp import`.
//!
//! string → `String`, integer → `Int`, number → `Decimal`, boolean → `Bool`, array → `List<T>`,
//! object with properties → a record, a property not in `required` → `T?`, a nullable type
//! (`["string", "null"]`, `anyOf` with `null`) → `T?`. What has no aarm type (a free-form object,
//! a union of several types, no type at all, nesting past [`MAX_DEPTH`]) becomes `String` with a
//! note: a call that passes anything but a string there is refused by the engine
//! (`input.invalid`), so the nearest type is also the safe one.

use super::names::field_name;
use serde_json::{Map, Value};

/// Deeper schemas are cut off (the engine's own nesting limit is 64).
pub const MAX_DEPTH: usize = 16;

/// An aarm type as text, with what could not be mapped exactly.
pub struct Mapped {
    pub ty: String,
    pub notes: Vec<String>,
}

/// `name: Type` pairs, in declaration order.
pub type Fields = Vec<(String, String)>;

/// The parameter list of a tool: `name: Type` per property, in the schema's order, and notes
/// (each starting with the property's path). An error when two properties map to one name.
pub fn params(input_schema: &Value) -> Result<(Fields, Vec<String>), String> {
    let mut notes = Vec::new();
    let fields = match input_schema.get("properties") {
        Some(Value::Object(props)) => fields(props, required(input_schema), "params", 0, &mut notes)?,
        Some(_) => return Err("`inputSchema.properties` is not an object".into()),
        None => Vec::new(),
    };
    Ok((fields, notes))
}

fn required(schema: &Value) -> Vec<&str> {
    schema
        .get("required")
        .and_then(Value::as_array)
        .map(|r| r.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default()
}

fn fields(
    props: &Map<String, Value>,
    required: Vec<&str>,
    path: &str,
    depth: usize,
    notes: &mut Vec<String>,
) -> Result<Fields, String> {
    let mut out: Fields = Vec::new();
    for (name, schema) in props {
        let aarm = field_name(name);
        if let Some((_, _)) = out.iter().find(|(n, _)| *n == aarm) {
            return Err(format!("`{path}.{name}` and another property both become `{aarm}`"));
        }
        if aarm != *name {
            notes.push(format!("{path}.{aarm} is `{name}` in MCP"));
        }
        let (ty, optional) = ty(schema, &format!("{path}.{aarm}"), depth + 1, notes)?;
        let ty =
            if (optional || !required.contains(&name.as_str())) && !ty.ends_with('?') { format!("{ty}?") } else { ty };
        out.push((aarm, ty));
    }
    Ok(out)
}

fn nearest(path: &str, why: &str, notes: &mut Vec<String>) -> (String, bool) {
    notes
        .push(format!("{path}: {why} has no aarm type; declared String, so any other value is denied (input.invalid)"));
    ("String".into(), false)
}

/// The type of one schema, and whether it admits `null`.
fn ty(schema: &Value, path: &str, depth: usize, notes: &mut Vec<String>) -> Result<(String, bool), String> {
    if depth > MAX_DEPTH {
        return Ok(nearest(path, "a schema nested this deep", notes));
    }
    let Some(obj) = schema.as_object() else {
        return Ok(nearest(path, "a schema that is not an object", notes));
    };
    // `anyOf` / `oneOf`: one type, possibly with `null`.
    for key in ["anyOf", "oneOf"] {
        if let Some(Value::Array(alts)) = obj.get(key) {
            let non_null: Vec<&Value> =
                alts.iter().filter(|a| a.get("type").and_then(Value::as_str) != Some("null")).collect();
            let nullable = non_null.len() < alts.len();
            return match non_null.as_slice() {
                [one] => {
                    let (t, n) = ty(one, path, depth + 1, notes)?;
                    Ok((t, n || nullable))
                }
                _ => Ok(nearest(path, &format!("a choice of {} types ({key})", non_null.len()), notes)),
            };
        }
    }
    let (name, nullable) = match obj.get("type") {
        Some(Value::String(t)) => (Some(t.as_str()), false),
        Some(Value::Array(ts)) => {
            let non_null: Vec<&str> = ts.iter().filter_map(Value::as_str).filter(|t| *t != "null").collect();
            match non_null.as_slice() {
                [one] => (Some(*one), non_null.len() < ts.len()),
                _ => return Ok(nearest(path, "a union of several types", notes)),
            }
        }
        None if obj.contains_key("properties") => (Some("object"), false),
        _ => (None, false),
    };
    let t = match name {
        Some("string") => {
            if let Some(Value::Array(values)) = obj.get("enum") {
                let shown: Vec<String> = values.iter().map(Value::to_string).collect();
                notes.push(format!("{path}: one of {}", shown.join(", ")));
            }
            "String".to_string()
        }
        Some("integer") => "Int".into(),
        Some("number") => "Decimal".into(),
        Some("boolean") => "Bool".into(),
        Some("array") => match obj.get("items") {
            Some(items) => format!("List<{}>", ty(items, &format!("{path}[]"), depth + 1, notes)?.0),
            None => format!("List<{}>", nearest(&format!("{path}[]"), "an array whose items have no schema", notes).0),
        },
        Some("object") => match obj.get("properties") {
            Some(Value::Object(props)) if !props.is_empty() => {
                let fs = fields(props, required(schema), path, depth, notes)?;
                let inner: Vec<String> = fs.iter().map(|(n, t)| format!("{n}: {t}")).collect();
                format!("{{ {} }}", inner.join(", "))
            }
            _ => return Ok(nearest(path, "an object without declared properties", notes)),
        },
        Some(other) => return Ok(nearest(path, &format!("type `{other}`"), notes)),
        None => return Ok(nearest(path, "a value of any type", notes)),
    };
    Ok((t, nullable))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use serde_json::json;

    fn p(schema: Value) -> Vec<(String, String)> {
        params(&schema).unwrap().0
    }

    #[test]
    fn scalars_lists_records_and_optionals() {
        let got = p(json!({
            "type": "object",
            "properties": {
                "path": {"type": "string"},
                "head": {"type": "number"},
                "n": {"type": "integer"},
                "dry-run": {"type": "boolean"},
                "edits": {"type": "array", "items": {"type": "object",
                    "properties": {"oldText": {"type": "string"}, "newText": {"type": "string"}},
                    "required": ["oldText"]}},
                "maybe": {"type": ["string", "null"]},
                "either": {"anyOf": [{"type": "integer"}, {"type": "null"}]}
            },
            "required": ["path", "n", "dry-run", "edits", "maybe", "either"]
        }));
        let want = [
            ("path", "String"),
            ("head", "Decimal?"),
            ("n", "Int"),
            ("dry_run", "Bool"),
            ("edits", "List<{ oldText: String, newText: String? }>"),
            ("maybe", "String?"),
            ("either", "Int?"),
        ];
        assert_eq!(got, want.map(|(a, b)| (a.to_string(), b.to_string())).to_vec());
    }

    #[test]
    fn what_has_no_type_is_a_string_with_a_note() {
        let (got, notes) = params(&json!({"properties": {
            "meta": {"type": "object"}, "x": {}, "u": {"type": ["string", "integer"]}
        }, "required": ["meta", "x", "u"]}))
        .unwrap();
        assert!(got.iter().all(|(_, t)| t == "String"));
        assert_eq!(notes.len(), 3);
    }

    #[test]
    fn two_properties_that_map_to_one_name_are_an_error() {
        assert!(params(&json!({"properties": {"a-b": {"type": "string"}, "a_b": {"type": "string"}}})).is_err());
    }

    #[test]
    fn deep_schemas_stop() {
        let mut s = json!({"type": "string"});
        for _ in 0..100 {
            s = json!({"type": "array", "items": s});
        }
        let (got, notes) = params(&json!({"properties": {"deep": s}})).unwrap();
        assert!(got[0].1.contains("List<String>"));
        assert!(notes.iter().any(|n| n.contains("nested")));
    }
}

//! The one way JSON from outside is read: requests ([`crate::convert`]), evidence values,
//! receipts exports, and the service's request bodies all go through [`parse`] (bytes through
//! [`crate::engine::Engine::read`] or [`crate::convert::read_exact`], which check UTF-8 first).
//!
//! It differs from `serde_json::from_str::<Value>` in one way: an object that repeats a key is
//! refused, with the JSON path of the second copy (`$.action.params.amount`). serde_json keeps
//! the last copy, another reader (a proxy, an audit tool, the host) may keep the first: the
//! policy would then decide on an amount the host does not send. Refusing is the only answer
//! every reader agrees on.
//!
//! Paths are written as [`crate::convert`] documents them: `$` is the whole document, `.key` for
//! identifier-like keys, `["odd key"]` for others, `[i]` for array elements.
#![deny(missing_docs)]

use crate::input::{InputError, Path};
use serde::de::{self, DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Number, Value};
use std::cell::Cell;
use std::fmt;

/// Parses JSON text. Invalid JSON, or an object with a repeated key, is an [`InputError`].
pub fn parse(text: &str) -> Result<Value, InputError> {
    let duplicate = Cell::new(None);
    let mut de = serde_json::Deserializer::from_str(text);
    let parsed = Seed { path: &Path::Root, duplicate: &duplicate }.deserialize(&mut de).and_then(|v| {
        de.end()?;
        Ok(v)
    });
    parsed.map_err(|e| {
        duplicate.take().unwrap_or_else(|| InputError { path: "$".into(), message: format!("invalid JSON: {e}") })
    })
}

/// The bytes as text, or an [`InputError`] at `$` naming the offset of the first invalid byte.
pub(crate) fn utf8(bytes: &[u8]) -> Result<&str, InputError> {
    std::str::from_utf8(bytes).map_err(|e| InputError {
        path: "$".into(),
        message: format!("the text is not valid UTF-8 (byte {}): send JSON encoded as UTF-8", e.valid_up_to()),
    })
}

/// Reads one value at `path`; the first repeated key found is left in `duplicate` (serde's own
/// error can only carry text).
struct Seed<'p, 'd> {
    path: &'p Path<'p>,
    duplicate: &'d Cell<Option<InputError>>,
}

impl<'de> DeserializeSeed<'de> for Seed<'_, '_> {
    type Value = Value;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Value, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Seed<'_, '_> {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_bool<E>(self, b: bool) -> Result<Value, E> {
        Ok(Value::Bool(b))
    }

    fn visit_i64<E>(self, i: i64) -> Result<Value, E> {
        Ok(Value::Number(i.into()))
    }

    fn visit_u64<E>(self, u: u64) -> Result<Value, E> {
        Ok(Value::Number(u.into()))
    }

    fn visit_f64<E: de::Error>(self, f: f64) -> Result<Value, E> {
        Number::from_f64(f).map(Value::Number).ok_or_else(|| E::custom("a number that is not finite"))
    }

    fn visit_str<E>(self, s: &str) -> Result<Value, E> {
        Ok(Value::String(s.to_string()))
    }

    fn visit_string<E>(self, s: String) -> Result<Value, E> {
        Ok(Value::String(s))
    }

    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_none<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Value, D::Error> {
        self.deserialize(d)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut items = Vec::new();
        loop {
            let path = self.path.index(items.len());
            match seq.next_element_seed(Seed { path: &path, duplicate: self.duplicate })? {
                Some(v) => items.push(v),
                None => return Ok(Value::Array(items)),
            }
        }
    }

    fn visit_map<A: MapAccess<'de>>(self, mut access: A) -> Result<Value, A::Error> {
        let mut map = Map::new();
        while let Some(key) = access.next_key::<String>()? {
            let path = self.path.key(&key);
            if map.contains_key(&key) {
                let shown = serde_json::to_string(&key).unwrap_or_default();
                self.duplicate.set(Some(path.error(format!(
                    "the key {shown} appears twice in one object: send each key once \
                     (readers disagree on which copy counts, so neither is believed)"
                ))));
                return Err(de::Error::custom(format!("the key {shown} appears twice in one object")));
            }
            let value = access.next_value_seed(Seed { path: &path, duplicate: self.duplicate })?;
            map.insert(key, value);
        }
        Ok(Value::Object(map))
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn a_repeated_key_is_refused_at_its_path() {
        let e = parse(r#"{"action":{"params":{"amount":500000,"amount":5}}}"#).unwrap_err();
        assert_eq!(e.path, "$.action.params.amount");
        let e = parse(r#"[{"a":1},{"odd key":1,"odd key":2}]"#).unwrap_err();
        assert_eq!(e.path, r#"$[1]["odd key"]"#);
    }

    #[test]
    fn everything_else_reads_as_serde_json_does() {
        let text = r#"{"a":[1,-2,3.5,"x",null,true,{"b":{}}],"c":18446744073709551615}"#;
        assert_eq!(parse(text).unwrap(), serde_json::from_str::<Value>(text).unwrap());
        assert_eq!(parse("{} x").unwrap_err().path, "$");
        assert!(utf8(b"{\"a\":\"\xff\"}").unwrap_err().message.contains("byte 6"));
    }
}

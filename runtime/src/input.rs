//! What the two readers of a request's text share, so that neither imports the other: the
//! error both report ([`InputError`]) at a JSON path ([`Path`]), the bounds both enforce
//! ([`Limits`]), the names of the built-in keys, and the typed conversion of one JSON value to a
//! [`Value`] of its declared type ([`Conv`]: the type rules of [`crate::convert`]'s module doc,
//! written once).
//!
//! [`crate::convert`] (the reference reader, on a `serde_json::Value` tree) and [`crate::decode`]
//! (the one-pass reader of the text) both build on it; [`crate::json`] uses [`InputError`] and
//! [`Path`] for its repeated-key refusal. This module imports none of the three.
#![deny(missing_docs)]

use crate::decimal::{self, DecimalTextError, FRACTION_DIGITS};
use crate::schema::{FieldSchema, ValueType};
use crate::value::{parse_time, Value};
use serde_json::{Map, Value as Json};
use std::collections::hash_map::RandomState;
use std::collections::{HashMap, HashSet};
use std::hash::{BuildHasher, Hash, Hasher};
use std::sync::Arc;

/// Invalid input: the JSON path at fault and what is wrong there. Every refusal of a request
/// (and of any JSON read by [`crate::json`]) is one; the engine turns it into a `deny` with
/// reason `input.invalid`, so that invalid input fails closed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{path}: {message}")]
pub struct InputError {
    /// `$`, `$.action.params.amount`, `$.identity.roles[2]`, `$.evidence["odd key"]`.
    pub path: String,
    /// What is wrong there, for the person who wrote the request (`expected Int, found string
    /// "5"`): the `input.invalid` decision's reason.
    pub message: String,
}

/// Bounds on a request document (hostile input must not cost unbounded memory or recursion),
/// enforced alike by both readers: see [`crate::convert`]'s "Limits". `Engine` holds one.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Limits {
    /// Deepest nesting of arrays and objects; the top-level object is depth 1. Default 64.
    /// Values above [`MAX_DEPTH_CEILING`] act as the ceiling.
    pub max_depth: usize,
    /// Longest string or object key, in UTF-8 bytes. Default 1 MiB.
    pub max_string_bytes: usize,
    /// Most elements in one array. Default 100 000.
    pub max_list_len: usize,
    /// Largest request text ([`crate::convert::convert_str`] only). Default 16 MiB.
    pub max_request_bytes: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits { max_depth: 64, max_string_bytes: 1 << 20, max_list_len: 100_000, max_request_bytes: 16 << 20 }
    }
}

/// The deepest nesting ever accepted (serde_json's parser refuses deeper documents anyway).
pub const MAX_DEPTH_CEILING: usize = 128;

/// The context keys every request may carry, whatever the schema declares.
pub(crate) const CONTEXT_BUILTINS: &[&str] =
    &["original_request", "prior_actions", "data_classes", "semantic_distance", "now"];
/// The keys of a `prior_actions` entry, in the record's field order.
pub(crate) const PRIOR_ACTION_KEYS: &[&str] = &["tool", "decision"];

/// A JSON path, built on the stack and rendered only for an error.
#[derive(Clone, Copy)]
pub(crate) enum Path<'a> {
    /// `$`, the whole document.
    Root,
    /// A member of an object: `.key`, or `["odd key"]` when the key is not identifier-like.
    Key(&'a Path<'a>, &'a str),
    /// An element of an array: `[i]`.
    Index(&'a Path<'a>, usize),
}

impl<'a> Path<'a> {
    /// The member `k` of the object at this path.
    pub(crate) fn key(&'a self, k: &'a str) -> Path<'a> {
        Path::Key(self, k)
    }

    /// The element `i` of the array at this path.
    pub(crate) fn index(&'a self, i: usize) -> Path<'a> {
        Path::Index(self, i)
    }

    /// The path as text (`$.action.params.amount`), for a message.
    pub(crate) fn render(&self) -> String {
        let mut segs = Vec::new();
        let mut at = self;
        loop {
            match at {
                Path::Root => break,
                Path::Key(parent, k) => {
                    segs.push(render_key(k));
                    at = parent;
                }
                Path::Index(parent, i) => {
                    segs.push(format!("[{i}]"));
                    at = parent;
                }
            }
        }
        let mut out = String::from("$");
        for s in segs.iter().rev() {
            out.push_str(s);
        }
        out
    }

    /// An [`InputError`] at this path.
    pub(crate) fn error(&self, message: impl Into<String>) -> InputError {
        InputError { path: self.render(), message: message.into() }
    }
}

fn render_key(k: &str) -> String {
    let mut chars = k.chars();
    let ident = chars.next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_');
    if ident {
        format!(".{k}")
    } else {
        let shown: String = k.chars().take(64).collect();
        let quoted = serde_json::to_string(&shown).unwrap_or_else(|_| "\"?\"".into());
        if shown.len() < k.len() {
            format!("[{}…\"]", quoted.trim_end_matches('"'))
        } else {
            format!("[{quoted}]")
        }
    }
}

thread_local! {
    static EMPTY_STR: Arc<str> = Arc::from("");
    static EMPTY_LIST: Value = Value::empty_list();
}

/// The empty string, shared: a request's absent `operation`, identity fields and
/// `original_request` are one reference count each instead of one allocation each.
pub(crate) fn empty_str() -> Arc<str> {
    EMPTY_STR.with(Arc::clone)
}

/// The empty list, shared (absent `roles`, `prior_actions`, `data_classes`), as [`empty_str`].
pub(crate) fn empty_list() -> Value {
    EMPTY_LIST.with(Value::clone)
}

// ---------------------------------------------------------------------------------------------
// Typed conversion

/// The typed conversion of JSON values (the "Types" rules of [`crate::convert`]), shared by the
/// tree reader and the one-pass reader so that a type rule is written once.
pub(crate) struct Conv<'a> {
    /// f64 bits of JSON numbers whose text had more digits than the f64 keeps.
    pub(crate) lossy: &'a HashSet<u64>,
}

impl Conv<'_> {
    /// Fields of an object that must match `fields` exactly (params, records).
    pub(crate) fn fields(
        &self,
        fields: &[FieldSchema],
        obj: &Map<String, Json>,
        path: &Path<'_>,
        what: &str,
    ) -> Result<Vec<Value>, InputError> {
        for k in obj.keys() {
            if !fields.iter().any(|f| *f.name == **k) {
                return Err(path.key(k).error(unknown(what, k, fields.iter().map(|f| &*f.name))));
            }
        }
        self.declared(fields, obj, path, what)
    }

    /// The declared fields of `obj`, in order (unknown keys are the caller's business).
    pub(crate) fn declared(
        &self,
        fields: &[FieldSchema],
        obj: &Map<String, Json>,
        path: &Path<'_>,
        what: &str,
    ) -> Result<Vec<Value>, InputError> {
        let mut out = Vec::with_capacity(fields.len());
        for f in fields {
            let p = path.key(&f.name);
            let v = match obj.get(&*f.name) {
                Some(v) => self.convert(v, &f.ty, &p)?,
                None if matches!(f.ty, ValueType::Optional(_)) => Value::Absent,
                None => return Err(p.error(format!("missing required {what} \"{}\" ({})", f.name, f.ty))),
            };
            out.push(v);
        }
        Ok(out)
    }

    /// `json` as a value of type `ty`, or the [`InputError`] at `path` saying why it is not one.
    pub(crate) fn convert(&self, json: &Json, ty: &ValueType, path: &Path<'_>) -> Result<Value, InputError> {
        let mismatch = || path.error(format!("expected {ty}, found {}", describe(json)));
        match ty {
            ValueType::Optional(inner) => {
                if json.is_null() {
                    Ok(Value::Absent)
                } else {
                    self.convert(json, inner, path)
                }
            }
            ValueType::Bool => json.as_bool().map(Value::Bool).ok_or_else(mismatch),
            ValueType::Int => match json {
                Json::Number(n) => {
                    if let Some(i) = n.as_i64() {
                        Ok(Value::Int(i))
                    } else if n.is_u64() || n.as_f64().is_some_and(|f| f.fract() == 0.0 && f.abs() >= 9.2e18) {
                        Err(path.error(format!("Int {n} is out of range (64-bit)")))
                    } else {
                        Err(mismatch())
                    }
                }
                _ => Err(mismatch()),
            },
            ValueType::Decimal => {
                let text = match json {
                    Json::Number(n) => {
                        if n.as_f64().is_some_and(|f| !n.is_i64() && !n.is_u64() && self.lossy.contains(&f.to_bits())) {
                            return Err(path.error(format!(
                                "the JSON number near {n} has more digits than a 64-bit float keeps; send the Decimal as a string"
                            )));
                        }
                        n.to_string()
                    }
                    Json::String(s) => s.clone(),
                    _ => return Err(mismatch()),
                };
                match parse_decimal(&text) {
                    Ok(d) => Ok(Value::Decimal(d)),
                    Err(DecimalError::Syntax) => Err(mismatch()),
                    Err(DecimalError::TooPrecise) => Err(path.error(format!(
                        "Decimal {} has more than {FRACTION_DIGITS} fractional digits",
                        describe_number_text(json, &text)
                    ))),
                    Err(DecimalError::OutOfRange) => Err(path.error(format!(
                        "Decimal {} is out of range (less than 10^20 in magnitude, with {FRACTION_DIGITS} fractional digits)",
                        describe_number_text(json, &text)
                    ))),
                }
            }
            ValueType::String => match json {
                Json::String(s) => Ok(Value::str(s)),
                _ => Err(mismatch()),
            },
            ValueType::Duration => match json {
                Json::Number(n) => match n.as_i64() {
                    Some(i) => Ok(Value::Duration(i)),
                    None => Err(path.error(format!(
                        "expected Duration (integer seconds or a string like \"1h30m\"), found {}",
                        describe(json)
                    ))),
                },
                Json::String(s) => parse_duration(s).map(Value::Duration).ok_or_else(|| {
                    path.error(format!(
                        "expected Duration (integer seconds or a string like \"1h30m\"), found {}",
                        describe(json)
                    ))
                }),
                _ => Err(mismatch()),
            },
            ValueType::Time => match json {
                Json::String(s) => parse_time(s).map(Value::Time).ok_or_else(|| {
                    path.error(format!(
                        "expected Time (RFC 3339, like \"2026-11-24T10:00:00Z\"), found {}",
                        describe(json)
                    ))
                }),
                _ => Err(mismatch()),
            },
            ValueType::List(inner) | ValueType::Set(inner) => {
                let Json::Array(items) = json else {
                    return Err(mismatch());
                };
                let mut out = Vec::with_capacity(items.len());
                for (i, item) in items.iter().enumerate() {
                    out.push(self.convert(item, inner, &path.index(i))?);
                }
                if matches!(ty, ValueType::Set(_)) {
                    out = dedup(out);
                }
                Ok(Value::list(out))
            }
            ValueType::Record(fields) => {
                let Json::Object(obj) = json else {
                    return Err(mismatch());
                };
                let fields: Vec<FieldSchema> = fields
                    .iter()
                    .map(|(name, ty)| FieldSchema { name: Arc::from(name.as_str()), ty: ty.clone() })
                    .collect();
                Ok(Value::Record(Arc::from(self.fields(&fields, obj, path, "field")?)))
            }
        }
    }
}

fn describe_number_text(json: &Json, text: &str) -> String {
    match json {
        Json::String(_) => describe(json),
        _ => text.to_string(),
    }
}

/// `string "abc"`, `number 1.5`, `bool true`, `null`, `array`, `object`.
pub(crate) fn describe(json: &Json) -> String {
    match json {
        Json::Null => "null".into(),
        Json::Bool(b) => format!("bool {b}"),
        Json::Number(n) => format!("number {n}"),
        Json::String(s) => {
            let shown: String = s.chars().take(40).collect();
            let quoted = serde_json::to_string(&shown).unwrap_or_else(|_| "\"?\"".into());
            if shown.len() < s.len() {
                format!("string {}…\"", quoted.trim_end_matches('"'))
            } else {
                format!("string {quoted}")
            }
        }
        Json::Array(_) => "array".into(),
        Json::Object(_) => "object".into(),
    }
}

/// `unknown parameter "ammount" (did you mean "amount"?)`.
pub(crate) fn unknown<'n>(what: &str, name: &str, known: impl Iterator<Item = &'n str>) -> String {
    let shown: String = name.chars().take(64).collect();
    let quoted = serde_json::to_string(&shown).unwrap_or_else(|_| "\"?\"".into());
    match suggest(name, known) {
        Some(s) => format!("unknown {what} {quoted} (did you mean \"{s}\"?)"),
        None => format!("unknown {what} {quoted}"),
    }
}

/// The closest known name within edit distance 2 (first one on ties).
fn suggest<'n>(name: &str, known: impl Iterator<Item = &'n str>) -> Option<&'n str> {
    let mut best: Option<(usize, &str)> = None;
    let n = name.chars().count();
    for k in known {
        if k.chars().count().abs_diff(n) > 2 {
            continue;
        }
        let d = edit_distance(name, k);
        if d <= 2 && d < k.chars().count().max(1) && best.is_none_or(|(bd, _)| d < bd) {
            best = Some((d, k));
        }
    }
    best.map(|(_, k)| k)
}

fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    let mut cur = vec![0usize; b.len() + 1];
    for (i, ca) in a.chars().enumerate() {
        if let Some(first) = cur.first_mut() {
            *first = i + 1;
        }
        for (j, cb) in b.iter().enumerate() {
            let sub = prev.get(j).copied().unwrap_or(usize::MAX).saturating_add(usize::from(ca != *cb));
            let del = prev.get(j + 1).copied().unwrap_or(usize::MAX).saturating_add(1);
            let ins = cur.get(j).copied().unwrap_or(usize::MAX).saturating_add(1);
            if let Some(c) = cur.get_mut(j + 1) {
                *c = sub.min(del).min(ins);
            }
        }
        std::mem::swap(&mut prev, &mut cur);
    }
    prev.last().copied().unwrap_or(0)
}

// ---------------------------------------------------------------------------------------------
// Sets

/// Removes duplicates (structural equality), keeping first occurrences in order. Hash-bucketed
/// with a randomly keyed hasher, so that 100 000 elements stay linear.
pub(crate) fn dedup(items: Vec<Value>) -> Vec<Value> {
    // A few elements (roles, data classes) are compared pairwise: no hasher, no table.
    if items.len() <= 8 {
        let mut out: Vec<Value> = Vec::with_capacity(items.len());
        for v in items {
            if !out.iter().any(|o| o.equals(&v) == Some(true)) {
                out.push(v);
            }
        }
        return out;
    }
    let state = RandomState::new();
    let mut buckets: HashMap<u64, Vec<usize>> = HashMap::new();
    let mut out: Vec<Value> = Vec::with_capacity(items.len());
    for v in items {
        let mut h = state.build_hasher();
        hash_value(&v, &mut h);
        let bucket = buckets.entry(h.finish()).or_default();
        if bucket.iter().any(|&i| out.get(i).and_then(|o| o.equals(&v)) == Some(true)) {
            continue;
        }
        bucket.push(out.len());
        out.push(v);
    }
    out
}

fn hash_value<H: Hasher>(v: &Value, h: &mut H) {
    match v {
        Value::Bool(b) => (0u8, b).hash(h),
        Value::Int(i) => (1u8, i).hash(h),
        Value::Decimal(d) => (2u8, d).hash(h),
        Value::Str(s) => (3u8, s.as_ref()).hash(h),
        Value::Duration(d) => (4u8, d).hash(h),
        Value::Time(t) => (5u8, t).hash(h),
        Value::List(items) | Value::Record(items) => {
            (6u8, items.len()).hash(h);
            for i in items.iter() {
                hash_value(i, h);
            }
        }
        Value::Absent => 7u8.hash(h),
        Value::Unknown(m) => (8u8, m).hash(h),
    }
}

// ---------------------------------------------------------------------------------------------
// Numbers and durations

#[derive(Debug, PartialEq, Eq)]
enum DecimalError {
    Syntax,
    TooPrecise,
    OutOfRange,
}

/// A decimal number's exact value: sign, significant digits (no leading or trailing zeros;
/// empty for zero), and the power of ten they are multiplied by.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Exact {
    negative: bool,
    digits: Vec<u8>,
    exp10: i64,
}

/// `-?\d+(\.\d+)?([eE][+-]?\d+)?` read exactly; `None` on a syntax error.
pub(crate) fn normalize(text: &str) -> Option<Exact> {
    let b = text.as_bytes();
    let mut i = 0;
    let negative = b.first() == Some(&b'-');
    if negative {
        i += 1;
    }
    let mut digits: Vec<u8> = Vec::new();
    let int_start = i;
    while let Some(c) = b.get(i).filter(|c| c.is_ascii_digit()) {
        digits.push(c - b'0');
        i += 1;
    }
    if i == int_start {
        return None;
    }
    let mut frac_len: i64 = 0;
    if b.get(i) == Some(&b'.') {
        i += 1;
        let start = i;
        while let Some(c) = b.get(i).filter(|c| c.is_ascii_digit()) {
            digits.push(c - b'0');
            i += 1;
            frac_len += 1;
        }
        if i == start {
            return None;
        }
    }
    let mut exp: i64 = 0;
    if matches!(b.get(i), Some(b'e' | b'E')) {
        i += 1;
        let neg_exp = match b.get(i) {
            Some(b'-') => {
                i += 1;
                true
            }
            Some(b'+') => {
                i += 1;
                false
            }
            _ => false,
        };
        let start = i;
        while let Some(c) = b.get(i).filter(|c| c.is_ascii_digit()) {
            // Saturate: anything beyond a million is out of range or too precise either way.
            exp = (exp * 10 + i64::from(c - b'0')).min(1_000_000);
            i += 1;
        }
        if i == start {
            return None;
        }
        if neg_exp {
            exp = -exp;
        }
    }
    if i != b.len() {
        return None;
    }
    let lead = digits.iter().take_while(|d| **d == 0).count();
    digits.drain(..lead);
    let trail = digits.iter().rev().take_while(|d| **d == 0).count();
    digits.truncate(digits.len() - trail);
    let mut exp10 = exp - frac_len + i64::try_from(trail).unwrap_or(0);
    if digits.is_empty() {
        exp10 = 0;
    }
    Some(Exact { negative: negative && !digits.is_empty(), digits, exp10 })
}

/// The exact value of a number given as decimal text (`5000`, `12.50`, `1e3`), as a `Decimal`
/// (units of 10^-18, [`crate::decimal`]); `None` when the text is not a number a `Decimal` holds
/// exactly. An `Int` has the same value read this way.
pub fn exact_number(text: &str) -> Option<i128> {
    parse_decimal(text).ok()
}

/// The exact value of an `Int` or `Decimal` as a request carries it in JSON (a number, or a
/// Decimal as a string), as [`exact_number`] reads it; `None` for anything else.
pub fn exact_number_of(json: &Json) -> Option<i128> {
    match json {
        Json::Number(n) => exact_number(&n.to_string()),
        Json::String(s) => exact_number(s),
        _ => None,
    }
}

/// A decimal text's exact value in units of 10^-18 (`crate::decimal`), never rounded.
fn parse_decimal(text: &str) -> Result<i128, DecimalError> {
    let exact = normalize(text).ok_or(DecimalError::Syntax)?;
    decimal::from_digits(exact.negative, &exact.digits, exact.exp10).map_err(|e| match e {
        DecimalTextError::TooPrecise => DecimalError::TooPrecise,
        DecimalTextError::OutOfRange => DecimalError::OutOfRange,
    })
}

/// `1h30m`, `45s`, `-2d`: digits and units `d h m s`, largest first, each at most once.
fn parse_duration(s: &str) -> Option<i64> {
    let (negative, body) = match s.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, s),
    };
    if body.is_empty() {
        return None;
    }
    let mut total: i64 = 0;
    let mut last_unit = i64::MAX;
    let mut number: Option<i64> = None;
    for c in body.chars() {
        if let Some(d) = c.to_digit(10) {
            number = Some(number.unwrap_or(0).checked_mul(10)?.checked_add(i64::from(d))?);
            continue;
        }
        let unit = match c {
            'd' => 86_400,
            'h' => 3_600,
            'm' => 60,
            's' => 1,
            _ => return None,
        };
        if unit >= last_unit {
            return None;
        }
        last_unit = unit;
        total = total.checked_add(number.take()?.checked_mul(unit)?)?;
    }
    if number.is_some() {
        return None;
    }
    if negative {
        total.checked_neg()
    } else {
        Some(total)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::decimal::DECIMAL_SCALE;

    #[test]
    fn decimals_are_read_exactly() {
        let one = DECIMAL_SCALE;
        assert_eq!(parse_decimal("10000.50"), Ok(100_005 * one / 10));
        assert_eq!(parse_decimal("1e3"), Ok(1000 * one));
        assert_eq!(parse_decimal("1.50000"), Ok(one * 3 / 2));
        assert_eq!(parse_decimal("-0.000000000000000001"), Ok(-1));
        assert_eq!(parse_decimal("1e-18"), Ok(1));
        assert_eq!(parse_decimal("1e-19"), Err(DecimalError::TooPrecise));
        assert_eq!(parse_decimal("1000.0000000000000000001"), Err(DecimalError::TooPrecise));
        assert_eq!(parse_decimal("0e-999999999999"), Ok(0));
        assert_eq!(parse_decimal("1e999999999999"), Err(DecimalError::OutOfRange));
        assert_eq!(parse_decimal("99999999999999999999.999999999999999999"), Ok(decimal::DECIMAL_LIMIT - 1));
        assert_eq!(parse_decimal("-99999999999999999999.999999999999999999"), Ok(1 - decimal::DECIMAL_LIMIT));
        assert_eq!(parse_decimal("100000000000000000000"), Err(DecimalError::OutOfRange));
        assert_eq!(parse_decimal("1e20"), Err(DecimalError::OutOfRange));
        for bad in ["", "-", "1.", ".5", "1e", "abc", "1.5x", "+1", "0x10", "1e+"] {
            assert_eq!(parse_decimal(bad), Err(DecimalError::Syntax), "{bad}");
        }
    }

    #[test]
    fn durations() {
        assert_eq!(parse_duration("1h30m"), Some(5400));
        assert_eq!(parse_duration("0s"), Some(0));
        assert_eq!(parse_duration("-2d"), Some(-172_800));
        for bad in ["", "-", "30", "1m1h", "1h1h", "1.5h", "10ms", "h", "99999999999999999999s"] {
            assert_eq!(parse_duration(bad), None, "{bad}");
        }
    }

    #[test]
    fn edit_distances() {
        assert_eq!(edit_distance("ammount", "amount"), 1);
        assert_eq!(edit_distance("", "abc"), 3);
        assert_eq!(suggest("ammount", ["amount", "currency"].into_iter()), Some("amount"));
        assert_eq!(suggest("zzz", ["amount"].into_iter()), None);
    }

    #[test]
    fn keys_render_in_paths() {
        let root = Path::Root;
        let a = root.key("evidence");
        let b = a.key("odd key");
        assert_eq!(b.render(), "$.evidence[\"odd key\"]");
        assert_eq!(a.index(3).render(), "$.evidence[3]");
    }
}

//! The host's JSON request (docs/json.md) → [`Request`], validated against the
//! bundle's [`Schema`]; and [`value_to_json`], the way back for a decision's `modified_action`.
//!
//! Every failure is an [`InputError`] naming the JSON path at fault (`$` is the whole document,
//! then `.key` for identifier-like keys, `["odd key"]` for others, `[i]` for array elements), which
//! the engine turns into a `deny` with reason code `input.invalid`. Nothing here panics, whatever
//! the input.
//!
//! # Shape
//!
//! - The top level is an object with `action` (required), optional `identity`, `context` and
//!   `evidence` objects and an optional `request_id` (printable ASCII, 1 to 128 bytes, echoed in
//!   the decision). Any other key is an error (typos must not pass silently); so is any
//!   unknown key inside `action`, `identity`, `context`, a `prior_actions` entry, the params of a
//!   declared tool and a record. An unknown name gets "did you mean" when a known one is within
//!   edit distance 2.
//! - `action.tool` (string) is the only mandatory field; `action.operation` defaults to `""`,
//!   `action.params` to `{}`. `Request::params_json` is the params object exactly as given.
//! - A declared tool's params must match its declaration: unknown keys are reported first (so
//!   that `ammount` reads as a typo rather than as `amount` missing), then the fields in
//!   declaration order (missing required field, then type). A missing field's error path is the
//!   field's own path (`$.action.params.amount`). `Request::params` is in slot order. An
//!   undeclared tool's params are not checked and `Request::params` is empty.
//! - **`null` is the same as absent** wherever a field may be absent: optional (`T?`) params,
//!   record fields and context fields, the built-in identity and context fields, `operation`,
//!   `params`, and the `identity`, `context` and `evidence` objects. A `null` evidence value is
//!   "not given" (`None`). A `null` for a required field is a type error.
//! - Identity: `human`, `service`, `agent`, `session` (strings, absent → `""`), `roles`
//!   (strings, duplicates removed, first occurrence kept).
//! - Context: `original_request` (string, `""`), `prior_actions` (objects with exactly `tool` and
//!   `decision`, both strings), `data_classes` (strings, deduplicated), `semantic_distance`
//!   (Decimal or absent), `now` (RFC 3339; absent → the `now` argument), and the schema's
//!   declared context fields by name (a required one that is missing is an error).
//! - Evidence: an object of declared evidence names; one `Request::evidence` entry per declared
//!   evidence, `None` when not given.
//!
//! # Types
//!
//! - `Bool` ← JSON `true`/`false`.
//! - `Int` ← a JSON integer in the i64 range. `1.0`, `1e3` (JSON floats) are errors.
//! - `Decimal` ← a JSON number or a string holding one (`10000.5`, `"10000.50"`, `"-3"`,
//!   `"1.5e3"`: the JSON number grammar, leading zeros tolerated in strings). The value is read
//!   from its decimal text, never through float arithmetic, and must be **exactly**
//!   representable with 18 fractional digits ([`crate::decimal`]): `1e-19` is an error (no
//!   silent rounding) while `1.50000` and `1e3` are fine (exact). The magnitude must be below
//!   10^20: `1e20` is an error.
//!   A JSON *number* with a fraction or exponent is held by serde_json as an f64; its text is
//!   recovered as the f64's shortest representation, which is exact for up to 15 significant
//!   digits. [`convert_str`] sees the original text, and rejects a Decimal given as a JSON number
//!   whose digits the f64 did not keep (e.g. `0.10000000000000000001`, which is not `0.1`); send
//!   such values as strings. [`convert_value`] only sees the f64 and cannot tell.
//! - `String` ← a JSON string.
//! - `Duration` ← an integer number of seconds (`5400`), or a string in the language's duration
//!   syntax: digits with units `d h m s`, largest first, each at most once (`"1h30m"`, `"45s"`,
//!   `"0s"`), optionally preceded by `-`.
//! - `Time` ← an RFC 3339 string ([`crate::value::parse_time`]); numbers are not accepted.
//! - `List<T>` ← a JSON array, each element converted (path `[i]`).
//! - `Set<T>` ← a JSON array; duplicates (after conversion: `"1.5"` and `1.5` are one Decimal)
//!   are removed, keeping the first occurrence's order.
//! - Record `{ f: T, ... }` ← a JSON object with exactly the declared fields (optional ones may
//!   be absent), converted in declaration order.
//! - `T?` ← absent or `null` (→ `Value::Absent`), or a `T`.
//!
//! # Repeated keys
//!
//! [`convert_str`] reads the text as [`crate::json::parse`] does (its one-pass reader,
//! [`crate::decode`], declines a repeated key and leaves the refusal to [`read_tree`], which
//! parses with [`crate::json::parse`]): an object that repeats a key
//! (`"amount": 500000, "amount": 5`) is an error at the repeated key's path, never "the last one
//! wins". [`convert_value`] gets a `serde_json::Value` that has already lost the repeat: hosts
//! that parse JSON themselves should parse it with [`crate::json::parse`].
//!
//! # Limits
//!
//! [`Limits`] bounds the document before any conversion: its size in bytes (text input only),
//! its nesting depth (the top-level object is depth 1; capped at [`MAX_DEPTH_CEILING`] = 128,
//! serde_json's own parser limit), the length in bytes of every string and object key, and the
//! length of every array — everywhere in the document, including an undeclared tool's params.
//! The size and depth errors are reported at `$`.

use crate::decimal::{self, DecimalTextError, DECIMAL_SCALE, FRACTION_DIGITS};
use crate::json::Path;
use crate::record::MAX_REQUEST_ID_BYTES;
use crate::request::{Context, Identity, Request};
use crate::schema::{FieldSchema, Schema, ToolSchema, ValueType};
use crate::value::{format_decimal, format_time, parse_time, Value};
use serde_json::{Map, Number, Value as Json};
use std::collections::hash_map::RandomState;
use std::collections::{HashMap, HashSet};
use std::hash::{BuildHasher, Hash, Hasher};
use std::sync::Arc;

/// Invalid input: the JSON path at fault and what is wrong there.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{path}: {message}")]
pub struct InputError {
    /// `$`, `$.action.params.amount`, `$.identity.roles[2]`, `$.evidence["odd key"]`.
    pub path: String,
    pub message: String,
}

/// Bounds on a request document. See the module documentation.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Limits {
    /// Deepest nesting of arrays and objects; the top-level object is depth 1. Default 64.
    /// Values above [`MAX_DEPTH_CEILING`] act as the ceiling.
    pub max_depth: usize,
    /// Longest string or object key, in UTF-8 bytes. Default 1 MiB.
    pub max_string_bytes: usize,
    /// Most elements in one array. Default 100 000.
    pub max_list_len: usize,
    /// Largest request text ([`convert_str`] only). Default 16 MiB.
    pub max_request_bytes: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits { max_depth: 64, max_string_bytes: 1 << 20, max_list_len: 100_000, max_request_bytes: 16 << 20 }
    }
}

/// The deepest nesting ever accepted (serde_json's parser refuses deeper documents anyway).
pub const MAX_DEPTH_CEILING: usize = 128;

const TOP_KEYS: &[&str] = &["request_id", "action", "identity", "context", "evidence"];
const ACTION_KEYS: &[&str] = &["tool", "operation", "params"];
const IDENTITY_KEYS: &[&str] = &["human", "service", "agent", "session", "roles"];
pub(crate) const CONTEXT_BUILTINS: &[&str] =
    &["original_request", "prior_actions", "data_classes", "semantic_distance", "now"];
pub(crate) const PRIOR_ACTION_KEYS: &[&str] = &["tool", "decision"];

/// Parses `text` as JSON and converts it (see [`convert_value`]). Bad JSON of any kind —
/// truncated, not an object, `NaN`, absurdly nested, too large, an object repeating a key — is
/// an [`InputError`].
///
/// Most requests are read in one pass by [`crate::decode`]; whatever it declines (every invalid
/// request among them) is read by [`read_tree`], which decides and words every refusal.
pub fn convert_str(schema: &Schema, text: &str, now: i64, limits: &Limits) -> Result<Request, InputError> {
    match crate::decode::request(schema, text, now, limits) {
        Some(request) => Ok(request),
        None => read_tree(schema, text, now, limits),
    }
}

/// The reference reader of a request's text: a lexical scan (depth, and numbers whose digits an
/// f64 drops), [`crate::json::parse`] into a `serde_json::Value`, then [`convert_value`]'s
/// conversion of the tree. [`convert_str`] gives it what [`crate::decode`] declines; tests compare
/// the two.
pub fn read_tree(schema: &Schema, text: &str, now: i64, limits: &Limits) -> Result<Request, InputError> {
    if text.len() > limits.max_request_bytes {
        return Err(InputError {
            path: "$".into(),
            message: format!("request is {} bytes, more than the limit of {}", text.len(), limits.max_request_bytes),
        });
    }
    let lossy = scan(text, effective_depth(limits))?;
    // Strict: an object repeating a key is refused at its path (see crate::json).
    let json: Json = crate::json::parse(text)?;
    convert_checked(schema, &json, now, limits, &lossy)
}

/// Converts a parsed JSON request, validating it against `schema`. `now` (seconds since the
/// epoch) is `context.now` when the request gives none.
pub fn convert_value(schema: &Schema, json: &Json, now: i64, limits: &Limits) -> Result<Request, InputError> {
    convert_checked(schema, json, now, limits, &HashSet::new())
}

/// A value as JSON, without its type: `Bool`, `Int` and `String` as themselves; `Decimal` as a
/// JSON number when it has at most 15 significant digits (exact in a JSON reader's f64; integral
/// values in the i64 range as integers), else as a string (`"0.123456789012345678"`); `Time` as an RFC 3339
/// string; `Duration` as integer seconds; lists and sets as arrays; `Absent` (and `Unknown`) as
/// `null`. A record has no field names here, so it becomes an array of its field values; use
/// [`typed_value_to_json`] to get an object. Everything but records converts back with
/// [`convert_value`] to an equal value.
pub fn value_to_json(v: &Value) -> Json {
    match v {
        Value::Bool(b) => Json::Bool(*b),
        Value::Int(i) => Json::Number(Number::from(*i)),
        Value::Decimal(d) => decimal_to_json(*d),
        Value::Str(s) => Json::String(s.to_string()),
        Value::Duration(d) => Json::Number(Number::from(*d)),
        Value::Time(t) => Json::String(format_time(*t)),
        Value::List(items) | Value::Record(items) => Json::Array(items.iter().map(value_to_json).collect()),
        Value::Absent | Value::Unknown(_) => Json::Null,
    }
}

/// [`value_to_json`], with records as objects named by their type (absent optional fields as
/// `null`). Converts back to an equal value for every type.
pub fn typed_value_to_json(v: &Value, ty: &ValueType) -> Json {
    match (v, ty) {
        (Value::List(items), ValueType::List(t) | ValueType::Set(t)) => {
            Json::Array(items.iter().map(|i| typed_value_to_json(i, t)).collect())
        }
        (Value::Record(items), ValueType::Record(fields)) => Json::Object(
            fields
                .iter()
                .zip(items.iter())
                .map(|((name, t), item)| (name.clone(), typed_value_to_json(item, t)))
                .collect(),
        ),
        (_, ValueType::Optional(t)) => typed_value_to_json(v, t),
        _ => value_to_json(v),
    }
}

/// A declared tool's params (in slot order) as the JSON object of a `modified_action`.
pub fn params_to_json(tool: &ToolSchema, params: &[Value]) -> Map<String, Json> {
    tool.fields.iter().zip(params.iter()).map(|(f, v)| (f.name.clone(), typed_value_to_json(v, &f.ty))).collect()
}

fn decimal_to_json(d: i128) -> Json {
    if d % DECIMAL_SCALE == 0 {
        if let Ok(whole) = i64::try_from(d / DECIMAL_SCALE) {
            return Json::Number(Number::from(whole));
        }
    }
    let text = format_decimal(d);
    let significant = text.bytes().filter(u8::is_ascii_digit).skip_while(|b| *b == b'0').count();
    if significant <= 15 {
        if let Some(n) = text.parse::<f64>().ok().and_then(Number::from_f64) {
            if normalize(&n.to_string()) == normalize(&text) {
                return Json::Number(n);
            }
        }
    }
    Json::String(text)
}

// ---------------------------------------------------------------------------------------------
// Paths

// `Path` (a JSON path rendered only for an error) is shared with the JSON reader: crate::json.

// ---------------------------------------------------------------------------------------------
// Limits and the text scan

fn effective_depth(limits: &Limits) -> usize {
    limits.max_depth.min(MAX_DEPTH_CEILING)
}

fn too_deep(max: usize) -> InputError {
    InputError { path: "$".into(), message: format!("JSON nested deeper than {max} levels") }
}

/// A lexical pass over the text, before serde_json parses it: rejects nesting deeper than `max`
/// (so that the error does not depend on serde_json's recursion limit), and collects the f64
/// bits of every number token with a fraction or exponent whose digits the f64 does not keep.
fn scan(text: &str, max: usize) -> Result<HashSet<u64>, InputError> {
    let bytes = text.as_bytes();
    let mut lossy = HashSet::new();
    let mut depth = 0usize;
    let mut i = 0usize;
    while let Some(&b) = bytes.get(i) {
        match b {
            b'"' => {
                i += 1;
                while let Some(&c) = bytes.get(i) {
                    i += if c == b'\\' { 2 } else { 1 };
                    if c == b'"' {
                        break;
                    }
                }
                continue;
            }
            b'[' | b'{' => {
                depth += 1;
                if depth > max {
                    return Err(too_deep(max));
                }
            }
            b']' | b'}' => depth = depth.saturating_sub(1),
            b'-' | b'0'..=b'9' => {
                let start = i;
                while bytes.get(i).is_some_and(|c| matches!(c, b'0'..=b'9' | b'.' | b'e' | b'E' | b'+' | b'-')) {
                    i += 1;
                }
                if let Some(token) = text.get(start..i) {
                    if token.contains(['.', 'e', 'E']) {
                        if let Ok(f) = serde_json::from_str::<f64>(token) {
                            let kept = Number::from_f64(f).map(|n| n.to_string());
                            if kept.is_none_or(|k| normalize(&k) != normalize(token)) {
                                lossy.insert(f.to_bits());
                            }
                        }
                    }
                }
                continue;
            }
            _ => {}
        }
        i += 1;
    }
    Ok(lossy)
}

/// Depth, string, key and array limits over the whole document. Recursion is bounded by the
/// depth limit (at most [`MAX_DEPTH_CEILING`]).
fn check_limits(json: &Json, path: &Path<'_>, depth: usize, limits: &Limits) -> Result<(), InputError> {
    let max_depth = effective_depth(limits);
    match json {
        Json::String(s) => {
            if s.len() > limits.max_string_bytes {
                return Err(path.error(format!(
                    "string is {} bytes, more than the limit of {}",
                    s.len(),
                    limits.max_string_bytes
                )));
            }
        }
        Json::Array(items) => {
            if depth + 1 > max_depth {
                return Err(too_deep(max_depth));
            }
            if items.len() > limits.max_list_len {
                return Err(path.error(format!(
                    "array has {} elements, more than the limit of {}",
                    items.len(),
                    limits.max_list_len
                )));
            }
            for (i, item) in items.iter().enumerate() {
                check_limits(item, &path.index(i), depth + 1, limits)?;
            }
        }
        Json::Object(map) => {
            if depth + 1 > max_depth {
                return Err(too_deep(max_depth));
            }
            for (k, v) in map {
                if k.len() > limits.max_string_bytes {
                    return Err(path.error(format!(
                        "a key is {} bytes, more than the limit of {}",
                        k.len(),
                        limits.max_string_bytes
                    )));
                }
                check_limits(v, &path.key(k), depth + 1, limits)?;
            }
        }
        Json::Null | Json::Bool(_) | Json::Number(_) => {}
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Conversion

fn convert_checked(
    schema: &Schema,
    json: &Json,
    now: i64,
    limits: &Limits,
    lossy: &HashSet<u64>,
) -> Result<Request, InputError> {
    let root = Path::Root;
    let Json::Object(top) = json else {
        return Err(root.error(format!("expected a JSON object, found {}", describe(json))));
    };
    check_limits(json, &root, 0, limits)?;
    let conv = Conv { lossy };
    check_keys(top, TOP_KEYS, &root, "top-level key")?;

    let action_path = root.key("action");
    let action = match top.get("action") {
        Some(Json::Object(m)) => m,
        Some(other) => return Err(action_path.error(format!("expected an object, found {}", describe(other)))),
        None => return Err(action_path.error("missing required key \"action\"")),
    };
    check_keys(action, ACTION_KEYS, &action_path, "action key")?;
    let tool_path = action_path.key("tool");
    let tool: Arc<str> = match action.get("tool") {
        Some(Json::String(s)) => Arc::from(s.as_str()),
        Some(other) => return Err(tool_path.error(format!("expected String, found {}", describe(other)))),
        None => return Err(tool_path.error("missing required key \"tool\"")),
    };
    let operation = opt_string(action, "operation", &action_path)?;
    let params_path = action_path.key("params");
    let params_json = opt_object(action, "params", &action_path)?.cloned().unwrap_or_default();
    let tool_index = schema.tool_index(&tool);
    let params = match tool_index.and_then(|i| schema.tools.get(i)) {
        Some(decl) => conv.fields(&decl.fields, &params_json, &params_path, "parameter")?,
        None => Vec::new(),
    };

    let identity = conv.identity(top, &root)?;
    let context = conv.context(schema, top, &root, now)?;
    let evidence = conv.evidence(schema, top, &root)?;

    let request_id = request_id(top, &root)?;

    Ok(Request { request_id, tool, tool_index, operation, params, params_json, identity, context, evidence })
}

/// The caller's `request_id`: absent or `null`, or 1 to [`MAX_REQUEST_ID_BYTES`] printable ASCII
/// characters without spaces (it is echoed in decisions, receipts and logs, so it carries nothing
/// a reader could mistake for something else).
fn request_id(top: &Map<String, Json>, root: &Path<'_>) -> Result<Option<Arc<str>>, InputError> {
    let path = root.key("request_id");
    match top.get("request_id") {
        None | Some(Json::Null) => Ok(None),
        Some(Json::String(s)) if s.is_empty() || s.len() > MAX_REQUEST_ID_BYTES => {
            Err(path.error(format!("a request_id is 1 to {MAX_REQUEST_ID_BYTES} characters, found {}", s.len())))
        }
        Some(Json::String(s)) if !s.bytes().all(|b| b.is_ascii_graphic()) => {
            Err(path.error("a request_id is printable ASCII without spaces (letters, digits, `-`, `_`, `.`, `:`…)"))
        }
        Some(Json::String(s)) => Ok(Some(Arc::from(s.as_str()))),
        Some(other) => Err(path.error(format!("expected String, found {}", describe(other)))),
    }
}

pub(crate) struct Conv<'a> {
    /// f64 bits of JSON numbers whose text had more digits than the f64 keeps.
    pub(crate) lossy: &'a HashSet<u64>,
}

impl Conv<'_> {
    fn identity(&self, top: &Map<String, Json>, root: &Path<'_>) -> Result<Identity, InputError> {
        let path = root.key("identity");
        let empty = Map::new();
        let obj = opt_object(top, "identity", root)?.unwrap_or(&empty);
        check_keys(obj, IDENTITY_KEYS, &path, "identity field")?;
        Ok(Identity {
            human: opt_string(obj, "human", &path)?,
            service: opt_string(obj, "service", &path)?,
            agent: opt_string(obj, "agent", &path)?,
            session: opt_string(obj, "session", &path)?,
            roles: self.string_set(obj, "roles", &path)?,
        })
    }

    fn context(
        &self,
        schema: &Schema,
        top: &Map<String, Json>,
        root: &Path<'_>,
        now: i64,
    ) -> Result<Context, InputError> {
        let path = root.key("context");
        let empty = Map::new();
        let obj = opt_object(top, "context", root)?.unwrap_or(&empty);
        for k in obj.keys() {
            if !CONTEXT_BUILTINS.contains(&k.as_str()) && !schema.context.iter().any(|f| &f.name == k) {
                let known = CONTEXT_BUILTINS.iter().copied().chain(schema.context.iter().map(|f| f.name.as_str()));
                return Err(path.key(k).error(unknown("context field", k, known)));
            }
        }
        let original_request = Value::Str(opt_string(obj, "original_request", &path)?);

        let pa_path = path.key("prior_actions");
        let mut prior = Vec::new();
        for (i, entry) in opt_array(obj, "prior_actions", &path)?.iter().enumerate() {
            let entry_path = pa_path.index(i);
            let Json::Object(m) = entry else {
                return Err(
                    entry_path.error(format!("expected an object {{ tool, decision }}, found {}", describe(entry)))
                );
            };
            check_keys(m, PRIOR_ACTION_KEYS, &entry_path, "key")?;
            let mut fields = Vec::with_capacity(2);
            for key in PRIOR_ACTION_KEYS {
                let p = entry_path.key(key);
                match m.get(*key) {
                    Some(Json::String(s)) => fields.push(Value::str(s)),
                    Some(other) => return Err(p.error(format!("expected String, found {}", describe(other)))),
                    None => return Err(p.error(format!("missing required key \"{key}\""))),
                }
            }
            prior.push(Value::Record(Arc::from(fields)));
        }

        let data_classes = self.string_set(obj, "data_classes", &path)?;
        let semantic_distance = match obj.get("semantic_distance") {
            None | Some(Json::Null) => Value::Absent,
            Some(v) => self.convert(v, &ValueType::Decimal, &path.key("semantic_distance"))?,
        };
        let now = match obj.get("now") {
            None | Some(Json::Null) => Value::Time(now),
            Some(v) => self.convert(v, &ValueType::Time, &path.key("now"))?,
        };
        let declared = self.declared(&schema.context, obj, &path, "context field")?;
        Ok(Context {
            original_request,
            prior_actions: Value::list(prior),
            data_classes,
            semantic_distance,
            now,
            declared,
        })
    }

    fn evidence(
        &self,
        schema: &Schema,
        top: &Map<String, Json>,
        root: &Path<'_>,
    ) -> Result<Vec<Option<Value>>, InputError> {
        let path = root.key("evidence");
        let mut out: Vec<Option<Value>> = vec![None; schema.evidence.len()];
        let Some(obj) = opt_object(top, "evidence", root)? else {
            return Ok(out);
        };
        for (name, v) in obj {
            let p = path.key(name);
            let Some(i) = schema.evidence.iter().position(|e| &e.name == name) else {
                return Err(p.error(unknown("evidence", name, schema.evidence.iter().map(|e| e.name.as_str()))));
            };
            if v.is_null() {
                continue;
            }
            let ty = schema.evidence.get(i).map(|e| &e.ty);
            if let (Some(ty), Some(slot)) = (ty, out.get_mut(i)) {
                *slot = Some(self.convert(v, ty, &p)?);
            }
        }
        Ok(out)
    }

    /// An optional array of strings, deduplicated (first occurrence kept), as a list value.
    fn string_set(&self, obj: &Map<String, Json>, key: &str, parent: &Path<'_>) -> Result<Value, InputError> {
        let path = parent.key(key);
        match obj.get(key) {
            None | Some(Json::Null) => Ok(Value::empty_list()),
            Some(v) => self.convert(v, &ValueType::Set(Box::new(ValueType::String)), &path),
        }
    }

    /// Fields of an object that must match `fields` exactly (params, records).
    pub(crate) fn fields(
        &self,
        fields: &[FieldSchema],
        obj: &Map<String, Json>,
        path: &Path<'_>,
        what: &str,
    ) -> Result<Vec<Value>, InputError> {
        for k in obj.keys() {
            if !fields.iter().any(|f| &f.name == k) {
                return Err(path.key(k).error(unknown(what, k, fields.iter().map(|f| f.name.as_str()))));
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
            let v = match obj.get(&f.name) {
                Some(v) => self.convert(v, &f.ty, &p)?,
                None if matches!(f.ty, ValueType::Optional(_)) => Value::Absent,
                None => return Err(p.error(format!("missing required {what} \"{}\" ({})", f.name, f.ty))),
            };
            out.push(v);
        }
        Ok(out)
    }

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
                let fields: Vec<FieldSchema> =
                    fields.iter().map(|(name, ty)| FieldSchema { name: name.clone(), ty: ty.clone() }).collect();
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
fn describe(json: &Json) -> String {
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

fn check_keys(obj: &Map<String, Json>, allowed: &[&str], path: &Path<'_>, what: &str) -> Result<(), InputError> {
    for k in obj.keys() {
        if !allowed.contains(&k.as_str()) {
            return Err(path.key(k).error(unknown(what, k, allowed.iter().copied())));
        }
    }
    Ok(())
}

/// `unknown parameter "ammount" (did you mean "amount"?)`.
fn unknown<'n>(what: &str, name: &str, known: impl Iterator<Item = &'n str>) -> String {
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

fn opt_object<'j>(
    obj: &'j Map<String, Json>,
    key: &str,
    parent: &Path<'_>,
) -> Result<Option<&'j Map<String, Json>>, InputError> {
    match obj.get(key) {
        None | Some(Json::Null) => Ok(None),
        Some(Json::Object(m)) => Ok(Some(m)),
        Some(other) => Err(parent.key(key).error(format!("expected an object, found {}", describe(other)))),
    }
}

fn opt_array<'j>(obj: &'j Map<String, Json>, key: &str, parent: &Path<'_>) -> Result<&'j [Json], InputError> {
    match obj.get(key) {
        None | Some(Json::Null) => Ok(&[]),
        Some(Json::Array(a)) => Ok(a),
        Some(other) => Err(parent.key(key).error(format!("expected an array, found {}", describe(other)))),
    }
}

fn opt_string(obj: &Map<String, Json>, key: &str, parent: &Path<'_>) -> Result<Arc<str>, InputError> {
    match obj.get(key) {
        None | Some(Json::Null) => Ok(Arc::from("")),
        Some(Json::String(s)) => Ok(Arc::from(s.as_str())),
        Some(other) => Err(parent.key(key).error(format!("expected String, found {}", describe(other)))),
    }
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
struct Exact {
    negative: bool,
    digits: Vec<u8>,
    exp10: i64,
}

/// `-?\d+(\.\d+)?([eE][+-]?\d+)?` read exactly; `None` on a syntax error.
fn normalize(text: &str) -> Option<Exact> {
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

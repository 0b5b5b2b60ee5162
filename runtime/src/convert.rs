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
#![deny(missing_docs)]

use crate::decimal::DECIMAL_SCALE;
use crate::input::{
    describe, empty_list, empty_str, normalize, unknown, Conv, Path, CONTEXT_BUILTINS, PRIOR_ACTION_KEYS,
};
pub use crate::input::{exact_number, exact_number_of, InputError, Limits, MAX_DEPTH_CEILING};
use crate::record::MAX_REQUEST_ID_BYTES;
use crate::recurring::recurring;
use crate::request::{Context, Identity, Params, Request};
use crate::schema::{Schema, ToolSchema, ValueType};
use crate::value::{format_decimal, format_time, Value};
use serde_json::{Map, Number, Value as Json};
use std::collections::HashSet;
use std::sync::Arc;

const TOP_KEYS: &[&str] = &["request_id", "action", "identity", "context", "evidence"];
const ACTION_KEYS: &[&str] = &["tool", "operation", "params"];
const IDENTITY_KEYS: &[&str] = &["human", "service", "agent", "session", "roles"];

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
    convert_read(schema, &read_request(text, limits)?, now, limits)
}

/// A request's text read into a JSON tree, for a host that edits the tree before it is decided
/// (the server binds the caller's identity into it and adds the session's history), and what
/// the tree lost on the way: the numbers whose digits an f64 does not keep. Deciding the edited
/// tree with [`convert_read`] refuses those numbers as the text path does; writing the tree back
/// to text would hand the engine the rounded number instead (`1000.0000000000000001` becomes
/// `1000.0`, which slips under `> 1000`).
#[derive(Debug, Clone, PartialEq)]
pub struct ReadRequest {
    /// The request as read; the host may edit it.
    pub json: Json,
    /// f64 bits of the numbers whose text had more digits than the f64 keeps.
    lossy: HashSet<u64>,
}

impl From<Json> for ReadRequest {
    /// A tree that lost nothing in reading (one a host built itself), as [`convert_value`]
    /// takes it.
    fn from(json: Json) -> ReadRequest {
        ReadRequest { json, lossy: HashSet::new() }
    }
}

/// Reads a request's text as [`read_tree`] does (its size, its depth, a repeated key), without
/// converting it.
pub fn read_request(text: &str, limits: &Limits) -> Result<ReadRequest, InputError> {
    if text.len() > limits.max_request_bytes {
        return Err(InputError {
            path: "$".into(),
            message: format!("request is {} bytes, more than the limit of {}", text.len(), limits.max_request_bytes),
        });
    }
    let lossy = scan(text, effective_depth(limits))?;
    // Strict: an object repeating a key is refused at its path (see crate::json).
    let json: Json = crate::json::parse(text)?;
    Ok(ReadRequest { json, lossy })
}

/// Reads a JSON body strictly (not UTF-8, too deep, a repeated key: refused) and refuses a
/// number whose digits an f64 does not keep, wherever it is. For bodies that are kept and decided
/// on as trees with no schema at hand to say which numbers are `Decimal`s (a case event's facts):
/// the tree would hold, and the policy would later see, a rounded copy of what was sent.
pub fn read_exact(body: &[u8]) -> Result<Json, InputError> {
    // No bundle's limits apply here: the reader's own depth ceiling, and no size cap (the
    // caller caps what it reads).
    let limits = Limits { max_depth: MAX_DEPTH_CEILING, max_request_bytes: usize::MAX, ..Limits::default() };
    let read = read_request(crate::json::utf8(body)?, &limits)?;
    match first_lossy(&read.json, &Path::Root, &read.lossy) {
        Some(e) => Err(e),
        None => Ok(read.json),
    }
}

/// The first number of `json` (in document order) whose text the f64 rounded.
fn first_lossy(json: &Json, path: &Path<'_>, lossy: &HashSet<u64>) -> Option<InputError> {
    match json {
        Json::Number(n) if !n.is_i64() && !n.is_u64() => {
            n.as_f64().filter(|f| lossy.contains(&f.to_bits())).map(|_| {
                path.error(format!(
                    "the JSON number near {n} has more digits than a 64-bit float keeps; send it as a string"
                ))
            })
        }
        Json::Array(items) => items.iter().enumerate().find_map(|(i, v)| first_lossy(v, &path.index(i), lossy)),
        Json::Object(map) => map.iter().find_map(|(k, v)| first_lossy(v, &path.key(k), lossy)),
        Json::Null | Json::Bool(_) | Json::Number(_) | Json::String(_) => None,
    }
}

/// Converts a request read by [`read_request`] (and perhaps edited since), refusing a `Decimal`
/// whose digits the reading rounded.
pub fn convert_read(schema: &Schema, read: &ReadRequest, now: i64, limits: &Limits) -> Result<Request, InputError> {
    convert_checked(schema, &read.json, now, limits, &read.lossy)
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
    tool.fields.iter().zip(params.iter()).map(|(f, v)| (f.name.to_string(), typed_value_to_json(v, &f.ty))).collect()
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
        Some(Json::String(s)) => recurring(s),
        Some(other) => return Err(tool_path.error(format!("expected String, found {}", describe(other)))),
        None => return Err(tool_path.error("missing required key \"tool\"")),
    };
    let operation = opt_string(action, "operation", &action_path)?;
    let params_path = action_path.key("params");
    let params_json = opt_object(action, "params", &action_path)?.cloned().unwrap_or_default();
    let tool_index = schema.tool_index(&tool);
    let declared = tool_index.and_then(|i| schema.tools.get(i)).map(|decl| decl.fields.as_slice());
    let params = match declared {
        Some(fields) => conv.fields(fields, &params_json, &params_path, "parameter")?,
        None => Vec::new(),
    };

    let identity = conv.identity(top, &root)?;
    let context = conv.context(schema, top, &root, now)?;
    let evidence = conv.evidence(schema, top, &root)?;

    let request_id = request_id(top, &root)?;

    let params_json = Params::declared(params_json, declared.unwrap_or_default());
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
            if !CONTEXT_BUILTINS.contains(&k.as_str()) && !schema.context.iter().any(|f| *f.name == **k) {
                let known = CONTEXT_BUILTINS.iter().copied().chain(schema.context.iter().map(|f| &*f.name));
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
            None | Some(Json::Null) => Ok(empty_list()),
            Some(v) => self.convert(v, &ValueType::Set(Box::new(ValueType::String)), &path),
        }
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
        None | Some(Json::Null) => Ok(empty_str()),
        Some(Json::String(s)) => Ok(Arc::from(s.as_str())),
        Some(other) => Err(parent.key(key).error(format!("expected String, found {}", describe(other)))),
    }
}

//! The native half of the `aarm` npm package. It speaks JSON text with `index.js`, which turns
//! JavaScript values into it and back (`JSON.stringify` and `JSON.parse` are V8's fastest
//! conversions) and errors into the package's error classes by their `code`. What the calls do
//! is `aarm-host`'s, shared with the Python package.

use aarm_host::cases::{Cases, Event};
use aarm_host::engine::{decision_json, read_file, Bundle, Request};
use aarm_host::{now_or_clock, ErrorKind, HostError};
use aarm_runtime::convert::InputError;
use napi::bindgen_prelude::{Buffer, Either};
use napi_derive::napi;
use std::path::Path;

type Result<T> = napi::Result<T, String>;

/// The error `index.js` rethrows as `AarmError`, `BundleError`, ... by its `code`.
fn js_error(e: HostError) -> napi::Error<String> {
    let code = match e.kind() {
        ErrorKind::Bundle => "AARM_BUNDLE".to_string(),
        ErrorKind::Build => "AARM_BUILD".to_string(),
        // The lifecycle's stable code rides after the kind: `AARM_CASE:not_an_approver`.
        ErrorKind::Case => format!("AARM_CASE:{}", e.rejection().unwrap_or_default()),
        ErrorKind::Store => "AARM_STORE".to_string(),
        ErrorKind::Usage => "AARM_USAGE".to_string(),
    };
    napi::Error::new(code, e.to_string())
}

fn usage(message: impl Into<String>) -> napi::Error<String> {
    js_error(HostError::Usage(message.into()))
}

/// A file's contents: a `Buffer` as it is, a string as a path to read.
fn path_or_buffer(source: Either<Buffer, String>, what: &str) -> Result<Vec<u8>> {
    match source {
        Either::A(buffer) => Ok(buffer.to_vec()),
        Either::B(path) => read_file(Path::new(&path), what).map_err(js_error),
    }
}

/// `now` as seconds since the epoch: absent (the clock), or a time as [`time_of`] reads it.
fn now_of(now: Option<Either<f64, String>>) -> Result<i64> {
    match now {
        None => Ok(now_or_clock(None)),
        Some(t) => time_of(t, "now"),
    }
}

/// A time, `what` in its errors: seconds since the epoch or an RFC 3339 string (`index.js`
/// turns a `Date` into seconds).
fn time_of(time: Either<f64, String>, what: &str) -> Result<i64> {
    match time {
        Either::A(f) if f.is_finite() && f.abs() < 1e15 => {
            // In range, so the cast is exact after flooring.
            #[allow(clippy::cast_possible_truncation)]
            Ok(f.floor() as i64)
        }
        Either::A(_) => Err(usage(format!("{what} is out of range"))),
        Either::B(text) => aarm_runtime::value::parse_time(&text)
            .ok_or_else(|| usage(format!("{what} {text:?} is not an RFC 3339 time (e.g. 2026-11-24T10:00:00Z)"))),
    }
}

fn json_text(value: &serde_json::Value) -> Result<String> {
    serde_json::to_string(value).map_err(|e| usage(format!("the answer cannot be written as JSON: {e}")))
}

/// A request `index.js` could not write as JSON (a cycle, a BigInt, NaN, too deep a nesting).
fn invalid(message: String) -> Request {
    Request::Invalid(InputError { path: "$".into(), message })
}

#[napi]
pub struct NativeEngine {
    bundle: Bundle,
}

#[napi]
impl NativeEngine {
    #[napi(factory)]
    pub fn load(
        source: Either<Buffer, String>,
        trusted_keys: Option<Vec<Either<Buffer, String>>>,
        require_signature: Option<bool>,
    ) -> Result<NativeEngine> {
        let bytes = path_or_buffer(source, "bundle")?;
        let keys = trusted_keys
            .unwrap_or_default()
            .into_iter()
            .map(|k| path_or_buffer(k, "trusted key"))
            .collect::<Result<Vec<_>>>()?;
        let bundle = Bundle::load(bytes, &keys, require_signature.unwrap_or(false)).map_err(js_error)?;
        Ok(NativeEngine { bundle })
    }

    /// The decision JSON of a request's JSON text; invalid input is a `deny`, never an error.
    #[napi]
    pub fn decide(&self, request: String, now: Option<Either<f64, String>>) -> Result<String> {
        let now = now_of(now)?;
        let decision = self.bundle.decide(&Request::Text(request), now);
        json_text(&decision_json(&decision).map_err(js_error)?)
    }

    /// The `deny` (`input.invalid`) of a request `index.js` could not write as JSON.
    #[napi]
    pub fn decide_invalid(&self, message: String) -> Result<String> {
        let decision = self.bundle.decide(&invalid(message), now_or_clock(None));
        json_text(&decision_json(&decision).map_err(js_error)?)
    }

    #[napi(getter)]
    pub fn bundle_hash(&self) -> String {
        self.bundle.bundle_hash().to_string()
    }

    #[napi(getter)]
    pub fn policy_json(&self) -> Result<String> {
        json_text(&self.bundle.policy())
    }

    #[napi(getter)]
    pub fn tools_json(&self) -> Result<String> {
        json_text(&self.bundle.tools())
    }
}

#[napi]
pub struct NativeCases {
    cases: Cases,
}

#[napi]
impl NativeCases {
    #[napi(constructor)]
    pub fn new(
        store_path: String,
        engine: &NativeEngine,
        sign_key: Option<Either<Buffer, String>>,
    ) -> Result<NativeCases> {
        let key = sign_key.map(|k| path_or_buffer(k, "signing key")).transpose()?;
        let cases = Cases::open(Path::new(&store_path), engine.bundle.clone(), key.as_deref()).map_err(js_error)?;
        Ok(NativeCases { cases })
    }

    /// `request` is JSON text; `invalid` the reason `index.js` could not write one.
    #[napi]
    pub fn open(
        &self,
        request: Option<String>,
        invalid_reason: Option<String>,
        now: Option<Either<f64, String>>,
    ) -> Result<String> {
        let now = now_of(now)?;
        let request = match (request, invalid_reason) {
            (Some(text), None) => Request::Text(text),
            (_, Some(reason)) => invalid(reason),
            (None, None) => invalid("no request".into()),
        };
        json_text(&self.cases.open_case(&request, now).map_err(js_error)?)
    }

    /// `until`: the approver's bound on the approval, a time as `now` is read; `max`: the JSON
    /// text of the caps, `{"amount":5000}` (`aarm_cases::lifecycle::limits::caps_of_json`).
    #[napi]
    pub fn approve(
        &self,
        case_id: String,
        by: String,
        roles: Option<Vec<String>>,
        now: Option<Either<f64, String>>,
        until: Option<Either<f64, String>>,
        max: Option<String>,
    ) -> Result<String> {
        let now = now_of(now)?;
        let until = until.map(|t| time_of(t, "until")).transpose()?;
        let max = match max {
            Some(text) => aarm_runtime::json::parse(&text).map_err(|e| usage(format!("max: {e}")))?,
            None => serde_json::Value::Null,
        };
        let roles = roles.unwrap_or_default();
        json_text(&self.cases.approve(&case_id, &by, roles, until, &max, now).map_err(js_error)?)
    }

    #[napi]
    pub fn deny(
        &self,
        case_id: String,
        by: String,
        why: String,
        roles: Option<Vec<String>>,
        now: Option<Either<f64, String>>,
    ) -> Result<String> {
        let event = Event::Deny { by, why: Some(why), roles: roles.unwrap_or_default() };
        self.apply(&case_id, &event, now)
    }

    /// `facts` is the JSON text of an object, fact name → value.
    #[napi]
    pub fn provide(
        &self,
        case_id: String,
        facts: String,
        by: Option<String>,
        now: Option<Either<f64, String>>,
    ) -> Result<String> {
        let now = now_of(now)?;
        let facts = aarm_runtime::json::parse(&facts).map_err(|e| usage(format!("facts: {e}")))?;
        json_text(&self.cases.provide(&case_id, &facts, by.as_deref(), now).map_err(js_error)?)
    }

    #[napi]
    pub fn tick(&self, now: Option<Either<f64, String>>) -> Result<String> {
        let now = now_of(now)?;
        json_text(&self.cases.tick(now).map_err(js_error)?)
    }

    /// The case's JSON text, or `null` when there is no such case.
    #[napi]
    pub fn get(&self, case_id: String) -> Result<Option<String>> {
        self.cases.get(&case_id).map_err(js_error)?.map(|c| json_text(&c)).transpose()
    }

    #[napi]
    pub fn receipts(&self, case_id: Option<String>) -> Result<String> {
        json_text(&self.cases.receipts(case_id.as_deref()).map_err(js_error)?)
    }
}

impl NativeCases {
    fn apply(&self, case_id: &str, event: &Event, now: Option<Either<f64, String>>) -> Result<String> {
        let now = now_of(now)?;
        json_text(&self.cases.apply(case_id, event, now).map_err(js_error)?)
    }
}

/// Bundle bytes of the sources at `path`; `AARM_BUILD` when they have errors (`index.js` then
/// asks `check` for the diagnostics).
#[napi]
pub fn build(path: String, sign_key: Option<Either<Buffer, String>>) -> Result<Buffer> {
    let key = sign_key.map(|k| path_or_buffer(k, "signing key")).transpose()?;
    let bytes = aarm_host::source::build(Path::new(&path), key.as_deref()).map_err(js_error)?;
    Ok(bytes.into())
}

/// Whether the decision (its JSON text) may still be acted on at `now` (the clock when absent):
/// an `allow` or `modify` before its `expires_at`; text that is not a decision is not current.
#[napi]
pub fn is_current(decision: String, now: Option<Either<f64, String>>) -> Result<bool> {
    let now = now_of(now)?;
    let decision = aarm_runtime::json::parse(&decision).unwrap_or(serde_json::Value::Null);
    Ok(aarm_host::engine::is_current(&decision, now))
}

/// The JSON text of what `aarm check PATH --format json` reports, as one array.
#[napi]
pub fn check(path: String) -> Result<String> {
    let diagnostics = aarm_host::source::check(Path::new(&path)).map_err(js_error)?;
    serde_json::to_string(&diagnostics).map_err(|e| usage(format!("the diagnostics cannot be written as JSON: {e}")))
}

//! A loaded bundle as the packages hold it: the engine, shared across threads, and the bundle's
//! bytes (a case store keeps them, so that a case re-evaluates against its own bundle later or in
//! another process).

use crate::error::HostError;
use aarm_runtime::bundle;
use aarm_runtime::convert::InputError;
use aarm_runtime::decision::Decision;
use aarm_runtime::engine::Engine;
use serde_json::{json, Value as Json};
use std::path::Path;
use std::sync::Arc;

/// A request as the host language handed it over.
pub enum Request {
    /// JSON text (a Python `str`, a JavaScript string): read by the runtime's strict reader.
    Text(String),
    /// A value the package converted itself (a Python `dict`), already refusing what text would
    /// (inexact numbers, repeated keys, too deep a nesting).
    Value(Json),
    /// A value the package could not convert: decided as a `deny` with `input.invalid`.
    Invalid(InputError),
}

impl Request {
    /// The request as the case store records it (`Null` for one that could not be read).
    fn as_json(&self) -> Json {
        match self {
            Request::Text(text) => aarm_runtime::json::parse(text).unwrap_or(Json::Null),
            Request::Value(v) => v.clone(),
            Request::Invalid(_) => Json::Null,
        }
    }
}

/// Reads a file the caller named, for the error message's sake naming what it was.
pub fn read_file(path: &Path, what: &str) -> Result<Vec<u8>, HostError> {
    std::fs::read(path).map_err(|e| HostError::Usage(format!("cannot read {what} {}: {e}", path.display())))
}

/// A loaded, verified bundle with its bytes: what a package's `Engine` holds. Cloning it is
/// cheap (both parts are shared), and the case store keeps the bytes so that a case is
/// re-evaluated with the bundle it was opened under.
#[derive(Clone)]
pub struct Bundle {
    engine: Arc<Engine>,
    bytes: Arc<[u8]>,
}

impl Bundle {
    /// Loads bundle bytes as `aarm eval` does: hash, signature, bytecode verification.
    /// `trusted_keys` are public key files' contents (32 raw bytes or 64 hex digits), as
    /// `aarm keygen` writes them.
    pub fn load(bytes: Vec<u8>, trusted_keys: &[Vec<u8>], require_signature: bool) -> Result<Bundle, HostError> {
        let keys = trusted_keys
            .iter()
            .enumerate()
            .map(|(index, k)| {
                bundle::verifying_key_from_file_bytes(k)
                    .map_err(|e| HostError::TrustedKey { index, message: e.to_string() })
            })
            .collect::<Result<Vec<_>, _>>()?;
        let engine = Engine::load(&bytes, &keys, require_signature).map_err(|e| HostError::Bundle(e.to_string()))?;
        Ok(Bundle { engine: Arc::new(engine), bytes: bytes.into() })
    }

    /// The engine that decides with the bundle.
    pub fn engine(&self) -> &Arc<Engine> {
        &self.engine
    }

    /// The bundle's bytes, as loaded.
    pub(crate) fn bytes(&self) -> &[u8] {
        &self.bytes
    }

    /// The bundle's hash (`sha256:...`): what decisions and receipts name it by.
    pub fn bundle_hash(&self) -> &str {
        self.engine.bundle_hash()
    }

    /// `{"name", "version"}` of the bundle's policy (the first, when it holds several).
    pub fn policy(&self) -> Json {
        let p = self.engine.default_policy();
        json!({ "name": &*p.name, "version": &*p.version })
    }

    /// The declared tools, what a framework needs to map its tool calls:
    /// `[{"name", "doc", "params": [{"name", "type", "required"}]}]`, `type` as the policy
    /// writes it (`Decimal`, `List<String>`, `String?`).
    pub fn tools(&self) -> Json {
        let tools = self.engine.program().schema.tools.iter().map(|t| {
            let params = t.fields.iter().map(|f| {
                let required = !matches!(f.ty, aarm_runtime::schema::ValueType::Optional(_));
                json!({ "name": f.name, "type": f.ty.to_string(), "required": required })
            });
            json!({ "name": t.name, "doc": t.doc, "params": params.collect::<Vec<_>>() })
        });
        Json::Array(tools.collect())
    }

    /// Decides; invalid input of any kind is a `deny` with `input.invalid`. The decision carries
    /// a new `decision_id`.
    pub fn decide(&self, request: &Request, now: i64) -> Decision {
        let decision = match request {
            Request::Text(text) => self.engine.decide_json(text, now),
            Request::Value(v) => self.engine.decide_value(v, now),
            Request::Invalid(e) => self.engine.input_invalid(e, now),
        };
        decision.identify()
    }

    /// [`Bundle::decide`] with the request as the store records it.
    pub(crate) fn decide_recorded(&self, request: &Request, now: i64) -> (Decision, Json) {
        (self.decide(request, now), request.as_json())
    }
}

/// Whether a decision (its JSON, as [`decision_json`] wrote it) may still be acted on at `now`
/// (seconds since the epoch): an `allow` or `modify` before its `expires_at`. Anything that does
/// not read as a decision is not current: fail closed.
pub fn is_current(decision: &Json, now: i64) -> bool {
    serde_json::from_value::<Decision>(decision.clone()).is_ok_and(|d| d.is_current(now))
}

/// The decision JSON of docs/json.md.
pub fn decision_json(decision: &Decision) -> Result<Json, HostError> {
    serde_json::to_value(decision).map_err(|e| HostError::Usage(format!("the decision cannot be written as JSON: {e}")))
}

//! A request converted once into slot-indexed values, ready to be evaluated any number of times.
//!
//! Conversion from the JSON of docs/json.md validates against the bundle's schema; see
//! [`crate::convert`].

use crate::value::Value;
use std::sync::Arc;

#[derive(Clone, Debug)]
pub struct Identity {
    pub human: Arc<str>,
    pub service: Arc<str>,
    pub agent: Arc<str>,
    pub session: Arc<str>,
    /// A list of distinct strings.
    pub roles: Value,
}

#[derive(Clone, Debug)]
pub struct Context {
    pub original_request: Value,
    /// List of `{ tool, decision }` records.
    pub prior_actions: Value,
    /// A list of distinct strings.
    pub data_classes: Value,
    /// `Decimal` or `Absent`.
    pub semantic_distance: Value,
    /// `Time`.
    pub now: Value,
    /// Declared context fields in schema order (`Absent` when optional and not given).
    pub declared: Vec<Value>,
}

#[derive(Clone, Debug)]
pub struct Request {
    /// The caller's own id of the request (`request_id`), echoed in the decision.
    pub request_id: Option<Arc<str>>,
    pub tool: Arc<str>,
    /// Index of the tool in the bundle's schema; `None` for an undeclared tool.
    pub tool_index: Option<usize>,
    pub operation: Arc<str>,
    /// Parameter values in the tool's slot order (empty for an undeclared tool).
    pub params: Vec<Value>,
    /// The parameters as given, for the decision's `modified_action` and for hashing.
    pub params_json: serde_json::Map<String, serde_json::Value>,
    pub identity: Identity,
    pub context: Context,
    /// Known evidence by index; `None` is unknown.
    pub evidence: Vec<Option<Value>>,
}

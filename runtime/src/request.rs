//! A request converted once into slot-indexed values, ready to be evaluated any number of times.
//!
//! Conversion from the JSON of docs/json.md validates against the bundle's schema; see
//! [`crate::convert`].

use crate::value::Value;
use std::sync::Arc;

/// Who is asking (`identity`): the strings are `""` when the request omits them.
#[derive(Clone, Debug)]
pub struct Identity {
    /// `identity.human`: the person the agent acts for.
    pub human: Arc<str>,
    /// `identity.service`: the service account.
    pub service: Arc<str>,
    /// `identity.agent`: the agent making the call.
    pub agent: Arc<str>,
    /// `identity.session`: the agent session.
    pub session: Arc<str>,
    /// A list of distinct strings.
    pub roles: Value,
}

/// The request's `context`: the built-in fields and the declared ones.
#[derive(Clone, Debug)]
pub struct Context {
    /// `context.original_request`: a `String`.
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

/// A request as the evaluator reads it: every value already checked against the schema and
/// in its slot, so that evaluation never parses or looks up a name.
#[derive(Clone, Debug)]
pub struct Request {
    /// The caller's own id of the request (`request_id`), echoed in the decision.
    pub request_id: Option<Arc<str>>,
    /// `action.tool`, as given (declared or not).
    pub tool: Arc<str>,
    /// Index of the tool in the bundle's schema; `None` for an undeclared tool.
    pub tool_index: Option<usize>,
    /// `action.operation` (`""` when the host sends none).
    pub operation: Arc<str>,
    /// Parameter values in the tool's slot order (empty for an undeclared tool).
    pub params: Vec<Value>,
    /// The parameters as given, for the decision's `modified_action` and for hashing.
    pub params_json: serde_json::Map<String, serde_json::Value>,
    /// Who is asking.
    pub identity: Identity,
    /// The request's context.
    pub context: Context,
    /// Known evidence by index; `None` is unknown.
    pub evidence: Vec<Option<Value>>,
}

#[cfg(test)]
impl Request {
    /// A request for tool `t` (index 0) by agent `a` for human `h`, with these parameters and
    /// nothing else: the one the unit tests build on.
    pub(crate) fn for_tests(params: Vec<Value>, params_json: serde_json::Map<String, serde_json::Value>) -> Request {
        Request {
            tool: Arc::from("t"),
            tool_index: Some(0),
            operation: Arc::from("execute"),
            params,
            params_json,
            request_id: None,
            identity: Identity {
                human: Arc::from("h"),
                service: Arc::from(""),
                agent: Arc::from("a"),
                session: Arc::from(""),
                roles: Value::empty_list(),
            },
            context: Context {
                original_request: Value::Absent,
                prior_actions: Value::empty_list(),
                data_classes: Value::empty_list(),
                semantic_distance: Value::Absent,
                now: Value::Time(0),
                declared: Vec::new(),
            },
            evidence: Vec::new(),
        }
    }
}

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
    /// The parameters as given, for the decision's `scope` and `modified_action`.
    pub params_json: Params,
    /// Who is asking.
    pub identity: Identity,
    /// The request's context.
    pub context: Context,
    /// Known evidence by index; `None` is unknown.
    pub evidence: Vec<Option<Value>>,
}

/// A request's parameters as given: each key with its JSON value, in the order given. The keys
/// are distinct (both readers refuse a repeated key).
///
/// A list rather than a `serde_json::Map`: every decision reads the keys, few need a map (a
/// `modify` writes into one), and hashing each key into an index map was a tenth of reading a
/// request's JSON text (issue 20).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Params(Vec<(String, serde_json::Value)>);

impl Params {
    /// Room for `n` parameters.
    pub(crate) fn with_capacity(n: usize) -> Params {
        Params(Vec::with_capacity(n))
    }

    /// Adds a parameter; the caller has checked that `key` is not already there.
    pub(crate) fn push_new(&mut self, key: String, value: serde_json::Value) {
        self.0.push((key, value));
    }

    /// The keys, in the order given.
    pub fn keys(&self) -> impl ExactSizeIterator<Item = &str> {
        self.0.iter().map(|(k, _)| k.as_str())
    }

    /// The value given for `key`.
    pub fn get(&self, key: &str) -> Option<&serde_json::Value> {
        self.0.iter().find(|(k, _)| k == key).map(|(_, v)| v)
    }

    /// How many parameters were given.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether none were.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The parameters as a JSON object, in the order given.
    pub fn to_map(&self) -> serde_json::Map<String, serde_json::Value> {
        self.0.iter().map(|(k, v)| (k.clone(), v.clone())).collect()
    }
}

impl From<serde_json::Map<String, serde_json::Value>> for Params {
    fn from(map: serde_json::Map<String, serde_json::Value>) -> Params {
        Params(map.into_iter().collect())
    }
}

#[cfg(test)]
impl Request {
    /// A request for tool `t` (index 0) by agent `a` for human `h`, with these parameters and
    /// nothing else: the one the unit tests build on.
    pub(crate) fn for_tests(params: Vec<Value>, params_json: Params) -> Request {
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

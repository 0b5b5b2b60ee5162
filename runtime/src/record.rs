//! The decision as a record (docs/json.md, "The decision record"): which request it answers, when
//! it was made, what it covers and until when an allow may be acted on.
//!
//! The seam between the deterministic evaluator and the host: the engine fills in everything that
//! follows from the request (`request_id`, `evaluated_at` — the request's `context.now` —, `scope`,
//! `expires_at`), so that the same request always gets the same decision; only the
//! `decision_id` is the host's, stamped by `Decision::identify` with `new_decision_id` when the
//! decision is handed out (`aarm eval`, `aarm serve`, `aarm-host` and the bindings). The engine
//! itself never calls it.
//!
//! The methods that stamp, time and check a decision (`Decision::identify`, `timed`,
//! `is_current`, `denied_instead`) are the decision's own, in `decision.rs`; this module holds the
//! pieces of the record they and the case service share: the schema version, the [`Scope`], the
//! id and [`earliest`].

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::borrow::Cow;
use std::sync::Arc;

/// The version of the decision JSON. A change users can see bumps it.
pub const DECISION_SCHEMA: &str = "aarm.decision/2";

/// The longest `request_id` a request may carry, in bytes.
pub(crate) const MAX_REQUEST_ID_BYTES: usize = 128;

/// What a decision covers: the tool, the operation and the parameters it was decided on. An allow
/// authorizes this call, not another one with other parameters.
///
/// [`ScopeNames`] behind one shared reference: every decision carries one, and its three names
/// would otherwise be three reference counts taken and given back per decision (atomic
/// operations; issue 20). The engine shares a scope between the decisions of one thread that name
/// the same tool, operation and parameters (`recurring::recurring_scope`). Reads as its names
/// (`scope.tool`); serialized as them, two strings and a list of strings.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Scope(Arc<ScopeNames>);

/// The names a [`Scope`] shares: reference counted themselves, since the engine shares the
/// request's tool and operation and its own sorted parameter names (issue 20).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ScopeNames {
    /// The tool, as requested.
    #[serde(serialize_with = "ser_str", deserialize_with = "de_str")]
    pub tool: Arc<str>,
    /// The operation, as requested (`""` when none was given).
    #[serde(serialize_with = "ser_str", deserialize_with = "de_str")]
    pub operation: Arc<str>,
    /// The names of the parameters the decision saw, sorted.
    #[serde(serialize_with = "ser_names", deserialize_with = "de_names")]
    pub params: Arc<[Arc<str>]>,
}

impl Scope {
    /// The scope of a call of `tool`'s `operation` with the parameters `params` (sorted).
    pub fn new(tool: Arc<str>, operation: Arc<str>, params: Arc<[Arc<str>]>) -> Scope {
        Scope(Arc::new(ScopeNames { tool, operation, params }))
    }

    /// Whether this scope holds these very names (the same allocations, not equal text).
    pub(crate) fn holds(&self, tool: &Arc<str>, operation: &Arc<str>, params: &Arc<[Arc<str>]>) -> bool {
        Arc::ptr_eq(&self.0.tool, tool)
            && Arc::ptr_eq(&self.0.operation, operation)
            && Arc::ptr_eq(&self.0.params, params)
    }
}

impl std::ops::Deref for Scope {
    type Target = ScopeNames;

    fn deref(&self) -> &ScopeNames {
        &self.0
    }
}

pub(crate) fn ser_str<S: Serializer>(s: &Arc<str>, out: S) -> Result<S::Ok, S::Error> {
    out.serialize_str(s)
}

pub(crate) fn de_str<'de, D: Deserializer<'de>>(d: D) -> Result<Arc<str>, D::Error> {
    String::deserialize(d).map(Arc::from)
}

fn ser_names<S: Serializer>(names: &Arc<[Arc<str>]>, out: S) -> Result<S::Ok, S::Error> {
    out.collect_seq(names.iter().map(|n| &**n))
}

fn de_names<'de, D: Deserializer<'de>>(d: D) -> Result<Arc<[Arc<str>]>, D::Error> {
    Vec::<String>::deserialize(d).map(|v| v.into_iter().map(Arc::from).collect())
}

/// A new decision id: a ULID (26 characters of Crockford base 32, sortable by creation time,
/// 80 random bits), from the operating system's clock and random numbers. For hosts only.
pub(crate) fn new_decision_id() -> String {
    ulid::Ulid::new().to_string()
}

/// The `schema` of a decision: [`DECISION_SCHEMA`].
pub(crate) fn schema_default() -> Cow<'static, str> {
    Cow::Borrowed(DECISION_SCHEMA)
}

/// The earlier of two optional bounds (seconds since the epoch); `None` is no bound.
pub fn earliest(a: Option<i64>, b: Option<i64>) -> Option<i64> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    /// A shared scope is written as the two strings and the list it was before it was shared, and
    /// reads back equal.
    #[test]
    fn a_scope_is_written_as_its_names() {
        let params: Arc<[Arc<str>]> = ["amount", "dest"].into_iter().map(Arc::from).collect();
        let scope = Scope::new(Arc::from("payments"), Arc::from(""), params);
        let text = serde_json::to_string(&scope).unwrap();
        assert_eq!(text, r#"{"tool":"payments","operation":"","params":["amount","dest"]}"#);
        assert_eq!(serde_json::from_str::<Scope>(&text).unwrap(), scope);
    }
}

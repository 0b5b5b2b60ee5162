//! Which request fields a policy marks `@redact` (docs/language.md, "Sensitive fields"): the
//! bundle's list, and the paths a decision names in its `redacted` list.
//!
//! The evaluator always sees the real values; only what leaves it (receipts, decision logs,
//! notifications, the inbox, `aarm case show`) shows a keyed hash in their place. The hashing
//! itself is the case service's (`aarm_cases::redact`): the evaluator holds no secret.

use serde::{Deserialize, Serialize};

/// The fields a bundle marks `@redact`, as paths from the request's roots: `params.body`,
/// `params.card.number` (a field of a record parameter), `context.ssn`.
#[derive(Clone, Debug, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Redaction {
    /// Per tool that marks any field, in declaration order: the tool's name and its paths.
    pub tools: Vec<(String, Vec<String>)>,
    /// Declared context fields marked `@redact`, as `context.NAME` paths.
    pub context: Vec<String>,
}

impl Redaction {
    /// The paths a request for `tool` has redacted: the tool's own, then the context's.
    pub fn paths_for(&self, tool: &str) -> Vec<String> {
        let own = self.tools.iter().filter(|(t, _)| t == tool).flat_map(|(_, paths)| paths.iter());
        own.chain(self.context.iter()).cloned().collect()
    }

    pub fn is_empty(&self) -> bool {
        self.tools.is_empty() && self.context.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_tool_gets_its_own_paths_and_the_contexts() {
        let r = Redaction {
            tools: vec![("send_email".into(), vec!["params.body".into()]), ("pay".into(), vec!["params.pin".into()])],
            context: vec!["context.ssn".into()],
        };
        assert_eq!(r.paths_for("send_email"), vec!["params.body".to_string(), "context.ssn".to_string()]);
        assert_eq!(r.paths_for("undeclared"), vec!["context.ssn".to_string()]);
        assert!(Redaction::default().is_empty());
    }
}

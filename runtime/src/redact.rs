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

    /// Whether the policy marks nothing `@redact`: then no record needs a keyed hash.
    pub fn is_empty(&self) -> bool {
        self.tools.is_empty() && self.context.is_empty()
    }

    /// Whether the request value at `json_path` (an input error's `$.action.params.pin`,
    /// `$.context.ssn`, `$.action.params.codes[2]`) is a marked field or inside one, for any
    /// tool: an `input.invalid` message about it must not quote the value.
    pub(crate) fn covers_input_path(&self, json_path: &str) -> bool {
        let marked = self.tools.iter().flat_map(|(_, paths)| paths.iter()).chain(self.context.iter());
        marked.filter_map(|p| input_path(p)).any(|m| {
            json_path == m
                || json_path.strip_prefix(m.as_str()).is_some_and(|rest| rest.starts_with('.') || rest.starts_with('['))
        })
    }
}

/// `params.pin` → `$.action.params.pin`; `context.ssn` → `$.context.ssn` (how input errors name
/// a place in the request).
fn input_path(marked: &str) -> Option<String> {
    if let Some(rest) = marked.strip_prefix("params.") {
        Some(format!("$.action.params.{rest}"))
    } else {
        marked.strip_prefix("context.").map(|rest| format!("$.context.{rest}"))
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

    #[test]
    fn an_input_error_inside_a_marked_field_is_covered() {
        let r = Redaction {
            tools: vec![("pay".into(), vec!["params.pin".into(), "params.card.number".into()])],
            context: vec!["context.ssn".into()],
        };
        for covered in ["$.action.params.pin", "$.action.params.card.number", "$.context.ssn", "$.action.params.pin[0]"]
        {
            assert!(r.covers_input_path(covered), "{covered}");
        }
        for open in ["$.action.params.pins", "$.action.params.card", "$.action.params.amount", "$.context"] {
            assert!(!r.covers_input_path(open), "{open}");
        }
    }
}

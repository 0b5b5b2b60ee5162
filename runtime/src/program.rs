//! The contents of a bundle (its payload): schema, constants, code, rule metadata, dispatch
//! table and settings. This is what the compiler produces and what `bundle.rs` encodes.

use crate::bytecode::Chunk;
use crate::policy::{Const, Risk, Settings};
use crate::schema::Schema;
use serde::{Deserialize, Serialize};
use std::sync::Arc;

/// A policy of the bundle, as decisions name it (`policy.name`, `policy.version`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PolicyMeta {
    /// The policy's name.
    pub name: String,
    /// Its declared version.
    pub version: String,
    /// Its doc comment, for `aarm inspect` and the editor.
    pub doc: Option<String>,
}

/// A `group` declaration: named identities or values, checked with `in`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct GroupData {
    /// The group's name.
    pub name: String,
    /// Its members, as declared.
    pub members: Vec<String>,
}

/// The decision a rule makes when it matches (its code, and its `modify` assignments' code,
/// live per candidate).
pub type DecisionTemplate = crate::policy::RuleDecision;

/// A piece of a reason message: text, or the chunk computing an interpolated value.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum ReasonPart {
    /// Literal text of the message.
    Text(String),
    /// Index into the candidate's `reason_chunks`.
    Expr(u32),
}

/// What a rule is, beside its code: everything a decision it makes shows.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RuleMeta {
    /// The rule's name in its policy.
    pub name: String,
    /// `POLICY.rule`: the decision's `rule`; shared with every decision it makes.
    pub qualified_name: Arc<str>,
    /// Its policy (index into [`Program::policies`]).
    pub policy: u32,
    /// Its priority: higher levels are decided first.
    pub priority: i64,
    /// Source order across the bundle: breaks ties.
    pub order: u32,
    /// Its own `risk`, if any.
    pub risk: Option<Risk>,
    /// Ten-thousandths.
    pub confidence: Option<i64>,
    /// What it decides when it matches.
    pub decision: DecisionTemplate,
    /// The decision's `reason.code`: the rule's own, or `rule.NAME`; shared as the name is.
    pub reason_code: Arc<str>,
    /// The decision's `reason.message`, in pieces.
    pub reason: Vec<ReasonPart>,
    /// Its doc comment, for `aarm inspect` and the editor.
    pub doc: Option<String>,
    /// `file:line`, for `--explain` and errors.
    pub location: String,
    /// The rule's `valid D` in seconds: how long its allow or modify may be acted on
    /// (overrides `settings { allow_valid }`).
    pub valid_s: Option<i64>,
}

/// A rule's code for one tool (a rule on several tools has one candidate per tool, because
/// `params` slots differ).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Candidate {
    /// The rule (index into [`Program::rules`]).
    pub rule: u32,
    /// Chunk index of the condition (all `when` lines): `true`, `false` or `unknown`.
    pub condition: u32,
    /// Chunk indices of the reason's interpolations, in order.
    pub reason_chunks: Vec<u32>,
    /// `modify` assignments: (params slot, chunk index).
    pub assignments: Vec<(u16, u32)>,
}

/// The payload of a `.aarmb` bundle.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Program {
    /// The version of the `aarm` that compiled it (also in the bundle header; the two must agree).
    pub compiler_version: String,
    /// The bundle's policies; decisions no rule made name the first.
    pub policies: Vec<PolicyMeta>,
    /// The declared inputs requests are validated against.
    pub schema: Schema,
    /// The declared groups, by index.
    pub groups: Vec<GroupData>,
    /// The constant pool, by index.
    pub consts: Vec<Const>,
    /// Patterns of `matches`, compiled when the bundle is loaded.
    pub regexes: Vec<String>,
    /// The rule chunks (conditions, reason interpolations, assignments), by index.
    pub chunks: Vec<Chunk>,
    /// `fn` bodies, called by [`crate::bytecode::Op::Call`].
    pub functions: Vec<Chunk>,
    /// The rules, by index.
    pub rules: Vec<RuleMeta>,
    /// Per declared tool (schema order): its candidates, sorted by priority (highest first),
    /// then source order; `on *` rules included.
    pub dispatch: Vec<Vec<Candidate>>,
    /// Candidates for a tool the bundle does not declare: the `on *` rules, sorted.
    pub dispatch_any: Vec<Candidate>,
    /// The bundle's `settings`, with the language's defaults filled in.
    pub settings: Settings,
    /// The source expressions [`Chunk::spans`] refer to (`spans.rs`).
    pub spans: crate::spans::SpanTable,
    /// The `override` declarations, one per tool at most (checked), in source order.
    pub overrides: Vec<crate::policy::OverridePolicy>,
}

impl Program {
    /// The `valid` of the rule called `qualified_name` (a decision's `rule`), if it has one.
    pub fn rule_valid_s(&self, qualified_name: &str) -> Option<i64> {
        self.rules.iter().find(|r| &*r.qualified_name == qualified_name).and_then(|r| r.valid_s)
    }
}

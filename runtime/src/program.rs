//! The contents of a bundle (its payload): schema, constants, code, rule metadata, dispatch
//! table and settings. This is what the compiler produces and what `bundle.rs` encodes.

use crate::bytecode::Chunk;
use crate::policy::{Const, Risk, Settings};
use crate::schema::Schema;
use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PolicyMeta {
    pub name: String,
    pub version: String,
    pub doc: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct GroupData {
    pub name: String,
    pub members: Vec<String>,
}

/// The decision a rule makes when it matches (its code, and its `modify` assignments' code,
/// live per candidate).
pub type DecisionTemplate = crate::policy::RuleDecision;

/// A piece of a reason message: text, or the chunk computing an interpolated value.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum ReasonPart {
    Text(String),
    /// Index into the candidate's `reason_chunks`.
    Expr(u32),
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RuleMeta {
    pub name: String,
    pub qualified_name: String,
    pub policy: u32,
    pub priority: i64,
    /// Source order across the bundle: breaks ties.
    pub order: u32,
    pub risk: Option<Risk>,
    /// Ten-thousandths.
    pub confidence: Option<i64>,
    pub decision: DecisionTemplate,
    pub reason_code: String,
    pub reason: Vec<ReasonPart>,
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
    pub compiler_version: String,
    pub policies: Vec<PolicyMeta>,
    pub schema: Schema,
    pub groups: Vec<GroupData>,
    pub consts: Vec<Const>,
    /// Patterns of `matches`, compiled when the bundle is loaded.
    pub regexes: Vec<String>,
    pub chunks: Vec<Chunk>,
    /// `fn` bodies, called by [`crate::bytecode::Op::Call`].
    pub functions: Vec<Chunk>,
    pub rules: Vec<RuleMeta>,
    /// Per declared tool (schema order): its candidates, sorted by priority (highest first),
    /// then source order; `on *` rules included.
    pub dispatch: Vec<Vec<Candidate>>,
    /// Candidates for a tool the bundle does not declare: the `on *` rules, sorted.
    pub dispatch_any: Vec<Candidate>,
    pub settings: Settings,
    /// The source expressions [`Chunk::spans`] refer to (`spans.rs`).
    pub spans: crate::spans::SpanTable,
    /// The `override` declarations, one per tool at most (checked), in source order.
    pub overrides: Vec<crate::policy::OverridePolicy>,
}

impl Program {
    /// The `valid` of the rule called `qualified_name` (a decision's `rule`), if it has one.
    pub fn rule_valid_s(&self, qualified_name: &str) -> Option<i64> {
        self.rules.iter().find(|r| r.qualified_name == qualified_name).and_then(|r| r.valid_s)
    }
}

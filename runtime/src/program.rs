//! The contents of a bundle (its payload): schema, constants, code, rule metadata, dispatch
//! table and settings. This is what the compiler produces and what `bundle.rs` encodes.

use crate::bytecode::Chunk;
use crate::schema::{Schema, ValueType};
use serde::{Deserialize, Serialize};

/// A constant of the pool.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Const {
    Bool(bool),
    Int(i64),
    Decimal(i64),
    Str(String),
    Duration(i64),
    Time(i64),
    List(Vec<Const>),
    Record(Vec<Const>),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum Risk {
    Low,
    Medium,
    High,
    Critical,
}

impl Risk {
    pub fn as_str(self) -> &'static str {
        match self {
            Risk::Low => "low",
            Risk::Medium => "medium",
            Risk::High => "high",
            Risk::Critical => "critical",
        }
    }
}

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

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum ApproversData {
    Identities(Vec<String>),
    Role(String),
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct StepUpData {
    pub quorum: u32,
    pub approvers: ApproversData,
    pub timeout_s: i64,
    pub on_timeout: OutcomeData,
    pub escalate: Option<(i64, Vec<String>)>,
    pub veto: bool,
    pub self_approval: bool,
    pub risk: Risk,
    pub notify: Vec<String>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum OutcomeData {
    Allow,
    Deny,
    Cancel,
    StepUp(Box<StepUpData>),
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeferData {
    /// Evidence indices.
    pub need: Vec<u16>,
    pub timeout_s: i64,
    pub on_timeout: OutcomeData,
    pub max_attempts: u32,
    pub on_exhausted: OutcomeData,
}

/// The decision a rule makes when it matches (its code lives per candidate).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum DecisionTemplate {
    Allow,
    Deny,
    Modify,
    StepUp(StepUpData),
    Defer(DeferData),
}

impl DecisionTemplate {
    /// Restrictiveness at equal priority: deny > step_up > defer > modify > allow.
    pub fn rank(&self) -> u8 {
        match self {
            DecisionTemplate::Deny => 4,
            DecisionTemplate::StepUp(_) => 3,
            DecisionTemplate::Defer(_) => 2,
            DecisionTemplate::Modify => 1,
            DecisionTemplate::Allow => 0,
        }
    }

    pub fn name(&self) -> &'static str {
        match self {
            DecisionTemplate::Allow => "allow",
            DecisionTemplate::Deny => "deny",
            DecisionTemplate::Modify => "modify",
            DecisionTemplate::StepUp(_) => "step_up",
            DecisionTemplate::Defer(_) => "defer",
        }
    }
}

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

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum DefaultEffect {
    Allow,
    Deny,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum ConflictMode {
    Restrictive,
    Defer,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SettingsData {
    pub default: DefaultEffect,
    pub conflict: ConflictMode,
    pub min_confidence: Option<i64>,
    pub defer_timeout_s: i64,
    pub defer_on_timeout: OutcomeData,
    pub defer_attempts: u32,
    pub defer_on_exhausted: OutcomeData,
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
    pub settings: SettingsData,
    /// The source expressions [`Chunk::spans`] refer to (`spans.rs`).
    pub spans: crate::spans::SpanTable,
}

impl Program {
    /// The type of evidence `i`, if declared.
    pub fn evidence_type(&self, i: usize) -> Option<&ValueType> {
        self.schema.evidence.get(i).map(|e| &e.ty)
    }
}

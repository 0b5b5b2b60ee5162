//! The checked, resolved and typed intermediate representation: what code generation and the
//! reference interpreter consume without re-checking anything.
//!
//! Every name is resolved to an index into a table of [`Bundle`]; every expression carries its
//! [`Type`]; `Int`→`Decimal` widening and the narrowing of guarded optionals are explicit nodes
//! ([`ExprKind::Widen`], [`ExprKind::Unwrap`]); defaults from `settings` are filled in.

use crate::types::Type;
use aarm_lang::ast::{BinOp, QuantKind};
use aarm_lang::{FileId, Span};
use aarm_runtime::policy;
/// The policy vocabulary is the runtime's (`aarm_runtime::policy`): the checker lowers the syntax
/// into it, and code generation copies it into the bundle unchanged.
pub use aarm_runtime::policy::{
    Approvers, ConflictMode, Const, DefaultEffect, Escalation, Outcome, Risk, Settings, StepUp,
};

macro_rules! id_type {
    ($($(#[$m:meta])* $name:ident;)*) => {$(
        $(#[$m])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub struct $name(pub u32);
        impl $name {
            pub fn index(self) -> usize { self.0 as usize }
        }
    )*};
}

id_type! {
    /// Index into [`Bundle::tools`].
    ToolId;
    /// Index into [`Bundle::evidence`].
    EvidenceId;
    /// Index into [`Bundle::groups`].
    GroupId;
    /// Index into [`Bundle::fns`].
    FnId;
    /// Index into [`Bundle::policies`].
    PolicyId;
    /// Index into [`Bundle::rules`].
    RuleId;
    /// Index into [`Bundle::context_fields`].
    ContextFieldId;
    /// A local variable (`fn` parameter, quantifier or lambda variable) of one body; see
    /// `locals` on [`Rule`] and [`Function`].
    LocalId;
}

/// A source location: file and byte span.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub struct Loc {
    pub file: FileId,
    pub span: Span,
}

#[derive(Clone, Debug, Default)]
pub struct Bundle {
    pub policies: Vec<Policy>,
    pub tools: Vec<Tool>,
    pub context_fields: Vec<Field>,
    pub evidence: Vec<Evidence>,
    pub groups: Vec<Group>,
    pub fns: Vec<Function>,
    /// In source order: files in path order, then by position. The order breaks ties.
    pub rules: Vec<Rule>,
    pub settings: Settings,
    /// Where the `settings` block is; `None` when the bundle has none.
    pub settings_loc: Option<Loc>,
    pub tests: Vec<Test>,
    /// The files of standard-library modules (`use std.NAME`): a library declares more than one
    /// bundle uses, so analysis never calls their declarations unused.
    pub std_files: Vec<FileId>,
    /// `override on TOOL by … for D requires …`, one per tool, in source order.
    pub overrides: Vec<aarm_runtime::policy::OverridePolicy>,
}

impl Bundle {
    pub fn tool(&self, id: ToolId) -> Option<&Tool> {
        self.tools.get(id.index())
    }
    pub fn tool_by_name(&self, name: &str) -> Option<ToolId> {
        self.tools.iter().position(|t| t.name == name).and_then(|i| u32::try_from(i).ok()).map(ToolId)
    }
    pub fn rule(&self, id: RuleId) -> Option<&Rule> {
        self.rules.get(id.index())
    }
}

#[derive(Clone, Debug)]
pub struct Policy {
    pub name: String,
    pub version: String,
    pub doc: Option<String>,
    pub loc: Loc,
}

#[derive(Clone, Debug)]
pub struct Tool {
    pub name: String,
    pub fields: Vec<Field>,
    pub doc: Option<String>,
    pub loc: Loc,
}

impl Tool {
    pub fn field(&self, name: &str) -> Option<(usize, &Field)> {
        self.fields.iter().enumerate().find(|(_, f)| f.name == name)
    }
}

#[derive(Clone, Debug)]
pub struct Field {
    pub name: String,
    pub ty: Type,
    pub doc: Option<String>,
    pub loc: Loc,
}

#[derive(Clone, Debug)]
pub struct Evidence {
    pub name: String,
    pub ty: Type,
    /// Where the host should look for the fact (`from "..."`); empty when not given.
    pub source: String,
    pub doc: Option<String>,
    pub loc: Loc,
}

#[derive(Clone, Debug)]
pub struct Group {
    pub name: String,
    pub members: Vec<String>,
    /// Named by a `step_up`'s `approvers` or `escalate` clause, whose identities the IR holds
    /// resolved (so a use there leaves no [`ExprKind::Group`] behind).
    pub named_by_step_up: bool,
    pub loc: Loc,
}

#[derive(Clone, Debug)]
pub struct Function {
    pub name: String,
    pub params: Vec<(String, Type)>,
    pub ret: Type,
    /// Parameters are locals `0..params.len()`; quantifier and lambda variables follow.
    pub locals: u32,
    pub body: Expr,
    pub doc: Option<String>,
    pub loc: Loc,
}

// ---------------------------------------------------------------------------------------------
// Settings

// ---------------------------------------------------------------------------------------------
// Rules

#[derive(Clone, Debug)]
pub struct Rule {
    pub name: String,
    /// `policy.rule`, as decisions and receipts show it.
    pub qualified_name: String,
    pub policy: PolicyId,
    pub targets: Targets,
    pub priority: i64,
    /// The `when` lines, each `Bool`; the rule matches when all hold.
    pub conditions: Vec<Expr>,
    pub risk: Option<Risk>,
    /// Ten-thousandths in `0..=10000`.
    pub confidence: Option<i64>,
    pub decision: Decision,
    pub reason: Reason,
    pub locals: u32,
    pub doc: Option<String>,
    pub loc: Loc,
    /// `valid D` in seconds: how long this rule's allow or modify may be acted on.
    pub valid_s: Option<i64>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Targets {
    /// `on *`
    All,
    Tools(Vec<ToolId>),
}

#[derive(Clone, Debug)]
pub struct Reason {
    /// The stable code; `rule.<name>` when the rule gives none.
    pub code: String,
    pub message: Vec<TemplatePart>,
}

#[derive(Clone, Debug)]
pub enum TemplatePart {
    Text(String),
    Expr(Expr),
}

/// What a rule decides; a `modify` carries new values for fields of `params`, by field name
/// (each target tool has the field).
pub type Decision = policy::RuleDecision<Vec<Assignment>, EvidenceId>;

#[derive(Clone, Debug)]
pub struct Assignment {
    pub field: String,
    pub value: Expr,
    pub loc: Loc,
}

/// A `defer` block; its `need` names evidence by id.
pub type Defer = policy::Defer<EvidenceId>;

// ---------------------------------------------------------------------------------------------
// Expressions

#[derive(Clone, Debug)]
pub struct Expr {
    pub kind: ExprKind,
    pub ty: Type,
    pub span: Span,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ActionField {
    Tool,
    Operation,
}

/// A field of `identity`: the runtime's own enum, so code generation needs no mapping.
pub use aarm_runtime::bytecode::IdentityField;
/// The runtime's built-in method primitives (see [`Method`]).
pub use aarm_runtime::bytecode::MethodOp;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ContextField {
    OriginalRequest,
    PriorActions,
    DataClasses,
    SemanticDistance,
    Now,
    Declared(ContextFieldId),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum LogicOp {
    And,
    Or,
}

/// A built-in method, resolved by receiver type: one of the runtime's primitives (so code
/// generation and the interpreter need no mapping), or `matches` with its pattern, already
/// validated (the bytecode refers to the pattern by index).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Method {
    Op(MethodOp),
    Matches(String),
}

impl Method {
    /// The name the source calls it by.
    pub fn name(&self) -> &'static str {
        match self {
            Method::Op(op) => op.name(),
            Method::Matches(_) => "matches",
        }
    }

    /// The runtime primitive of the method; `None` for `matches`, which needs its pattern.
    pub fn primitive(&self) -> Option<MethodOp> {
        match self {
            Method::Op(op) => Some(*op),
            Method::Matches(_) => None,
        }
    }
}

/// Arithmetic, resolved by operand types: the runtime's own operators, so the code generator
/// and the interpreter need no mapping.
pub use aarm_runtime::bytecode::ArithOp as Arith;

/// The comparison a `Compare` node performs (`None` for the arithmetic operators, which never
/// appear in one).
pub fn comparison(op: BinOp) -> Option<aarm_runtime::bytecode::CmpOp> {
    use aarm_runtime::bytecode::CmpOp;
    Some(match op {
        BinOp::Eq => CmpOp::Eq,
        BinOp::Ne => CmpOp::Ne,
        BinOp::Lt => CmpOp::Lt,
        BinOp::Le => CmpOp::Le,
        BinOp::Gt => CmpOp::Gt,
        BinOp::Ge => CmpOp::Ge,
        BinOp::Add | BinOp::Sub | BinOp::Mul | BinOp::Div => return None,
    })
}

#[derive(Clone, Debug)]
pub enum ExprKind {
    Const(Const),
    List(Vec<Expr>),
    Record(Vec<(String, Expr)>),
    /// `params.FIELD` of the action's tool; code generation maps the name to each target
    /// tool's slot.
    Param(String),
    Action(ActionField),
    Identity(IdentityField),
    Context(ContextField),
    /// Three-valued: unknown until the request carries the fact.
    Evidence(EvidenceId),
    Local(LocalId),
    /// A group as a `Set<String>`.
    Group(GroupId),
    /// A field of a record value, by position in its record type.
    Field {
        base: Box<Expr>,
        index: u32,
        name: String,
    },
    /// Reading an optional that a guard (`is set`) has proved present.
    Unwrap(Box<Expr>),
    /// `Int` → `Decimal`.
    Widen(Box<Expr>),
    Neg(Box<Expr>),
    Not(Box<Expr>),
    Arith {
        op: Arith,
        lhs: Box<Expr>,
        rhs: Box<Expr>,
    },
    /// Operands have the same type after widening.
    Compare {
        op: BinOp,
        lhs: Box<Expr>,
        rhs: Box<Expr>,
    },
    Logic {
        op: LogicOp,
        operands: Vec<Expr>,
    },
    In {
        element: Box<Expr>,
        collection: Box<Expr>,
    },
    IsSet {
        value: Box<Expr>,
        negated: bool,
    },
    Method {
        method: Method,
        receiver: Box<Expr>,
        args: Vec<Expr>,
    },
    Quantifier {
        kind: QuantKind,
        var: LocalId,
        collection: Box<Expr>,
        body: Box<Expr>,
    },
    /// `xs.filter(x => pred)`.
    Filter {
        var: LocalId,
        collection: Box<Expr>,
        predicate: Box<Expr>,
    },
    Call {
        func: FnId,
        args: Vec<Expr>,
    },
}

// ---------------------------------------------------------------------------------------------
// Tests

#[derive(Clone, Debug)]
pub struct Test {
    pub name: String,
    pub steps: Vec<TestStep>,
    pub loc: Loc,
}

#[derive(Clone, Debug)]
pub struct TestStep {
    pub kind: TestStepKind,
    pub loc: Loc,
}

#[derive(Clone, Debug)]
pub enum TestStepKind {
    /// The action; `tool` is `None` for a tool the bundle does not declare.
    Action {
        tool_name: String,
        tool: Option<ToolId>,
        /// `""` when the test names none, as a host that sends none.
        operation: String,
        params: Vec<(String, Const)>,
    },
    Identity(Vec<(String, Const)>),
    Context(Vec<(String, Const)>),
    Evidence(Vec<(EvidenceId, Const)>),
    Approve {
        by: String,
        roles: Vec<String>,
    },
    Deny {
        by: String,
        why: Option<String>,
        roles: Vec<String>,
    },
    Provide {
        evidence: EvidenceId,
        value: Const,
    },
    Wait {
        seconds: i64,
    },
    Cancel,
    ExpectDecision {
        decision: &'static str,
        /// `expect modify { ... }`: parameters the rewritten action must carry (others may differ).
        params: Option<Vec<(String, Const)>>,
        rule: Option<RuleId>,
        reason: Option<String>,
    },
    ExpectPending,
    ExpectRejected(String),
    /// The case was withdrawn.
    ExpectCancelled,
    /// The case's receipt trail, as event names, in order.
    ExpectReceipts(Vec<String>),
}

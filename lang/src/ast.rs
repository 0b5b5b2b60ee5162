//! The syntax tree of one `.aarm` file. Every node carries its byte [`Span`]; `///` doc comments
//! are kept on the declarations they precede, and every other comment is kept in
//! [`File::comments`] so that the formatter can put it back.
//!
//! The tree is untyped and unresolved: names are plain strings. `aarm-compiler` resolves and
//! type-checks it into its IR.

use crate::span::Span;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Ident {
    pub name: String,
    pub span: Span,
}

/// A string literal with its escapes already decoded.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StrLit {
    pub value: String,
    pub span: Span,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct IntLit {
    pub value: i64,
    pub span: Span,
}

/// A decimal (or an integer where a decimal is expected), in units of 10^-18.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DecLit {
    pub scaled: i128,
    pub span: Span,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DurLit {
    pub seconds: i64,
    pub span: Span,
}

/// A comment that is not a doc comment, kept for the formatter.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Comment {
    pub text: String,
    pub(crate) span: Span,
}

/// The `///` lines before a declaration, joined with newlines, without the slashes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Doc {
    pub text: String,
    pub(crate) span: Span,
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct File {
    pub header: Option<PolicyHeader>,
    pub items: Vec<Item>,
    pub comments: Vec<Comment>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PolicyHeader {
    pub doc: Option<Doc>,
    pub name: Ident,
    pub version: StrLit,
    pub span: Span,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Item {
    pub doc: Option<Doc>,
    pub kind: ItemKind,
    pub span: Span,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ItemKind {
    Use(UseDecl),
    Settings(SettingsDecl),
    Tool(ToolDecl),
    Context(ContextDecl),
    Evidence(EvidenceDecl),
    Group(GroupDecl),
    Fn(FnDecl),
    Rule(RuleDecl),
    Test(TestDecl),
    Override(OverrideDecl),
}

/// `override on TOOL, ... by (role "R" | GROUP | ["id", ...]) for D [requires NAME, ...]
/// [notify "CHANNEL", ...]`: who may override a denial of these tools, for how long, what they
/// must state, and who is told.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OverrideDecl {
    pub tools: Vec<Ident>,
    pub by: ApproverSet,
    pub valid: DurLit,
    /// The statements named after `requires` (any word: `reason` is reserved elsewhere).
    pub requires: Vec<Ident>,
    /// The channels after `notify`, as written.
    pub notify: Vec<StrLit>,
}

// ---------------------------------------------------------------------------------------------
// Declarations

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum UseDecl {
    /// `use std.text`: the dotted words as written.
    Path(Vec<Ident>),
    /// `use ./common`: a file of the same bundle, relative to this file.
    Relative(StrLit),
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SettingsDecl {
    pub entries: Vec<Setting>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Setting {
    pub kind: SettingKind,
    pub span: Span,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SettingKind {
    Default(Effect),
    Conflict(ConflictMode),
    MinConfidence(DecLit),
    Defer(Vec<Limit>),
    StepUpTimeout(Limit),
    /// `allow_valid 5m`: how long an allow may be acted on.
    AllowValid(DurLit),
    /// `review "security-team"`: who reviews and hears appeals of denials and escalations.
    Review(StrLit),
    /// `action_hash_ignores ["params.requested_at"]`: parameters the action hash leaves out.
    ActionHashIgnores(Vec<StrLit>, Span),
}

/// `default allow | deny`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Effect {
    Allow,
    Deny,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ConflictMode {
    Restrictive,
    Defer,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ToolDecl {
    pub name: Ident,
    pub fields: Vec<FieldDecl>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ContextDecl {
    pub fields: Vec<FieldDecl>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FieldDecl {
    pub doc: Option<Doc>,
    pub name: Ident,
    pub ty: TypeExpr,
    pub(crate) span: Span,
    /// `@redact` after the type: where it is written, when it is.
    pub redact: Option<Span>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TypeExpr {
    pub kind: TypeExprKind,
    pub optional: bool,
    pub span: Span,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TypeExprKind {
    /// `String`, `List<Int>`: a name and at most one type argument.
    Named {
        name: Ident,
        arg: Option<Box<TypeExpr>>,
    },
    Record(Vec<FieldDecl>),
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EvidenceDecl {
    pub name: Ident,
    pub ty: TypeExpr,
    pub source: Option<StrLit>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GroupDecl {
    pub name: Ident,
    pub members: Vec<StrLit>,
    pub(crate) members_span: Span,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FnDecl {
    pub name: Ident,
    pub params: Vec<FnParam>,
    pub ret: TypeExpr,
    pub body: Expr,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FnParam {
    pub name: Ident,
    pub ty: TypeExpr,
}

// ---------------------------------------------------------------------------------------------
// Rules

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RuleDecl {
    pub name: Ident,
    pub targets: Targets,
    pub priority: Option<IntLit>,
    /// `when`, `risk`, `confidence` and `valid` lines in source order.
    pub clauses: Vec<RuleClause>,
    pub decision: Decision,
    pub reason: Option<Reason>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Targets {
    /// `on *`
    All(Span),
    Tools(Vec<Ident>),
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RuleClause {
    When(Expr),
    Risk(RiskLit),
    Confidence(DecLit),
    /// `valid 30s`: how long this rule's allow or modify may be acted on (overrides
    /// `settings { allow_valid }`).
    Valid(DurLit),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum RiskLevel {
    Low,
    Medium,
    High,
    Critical,
}

impl RiskLevel {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            RiskLevel::Low => "low",
            RiskLevel::Medium => "medium",
            RiskLevel::High => "high",
            RiskLevel::Critical => "critical",
        }
    }

    pub(crate) fn parse(s: &str) -> Option<RiskLevel> {
        match s {
            "low" => Some(RiskLevel::Low),
            "medium" => Some(RiskLevel::Medium),
            "high" => Some(RiskLevel::High),
            "critical" => Some(RiskLevel::Critical),
            _ => None,
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RiskLit {
    pub level: RiskLevel,
    pub span: Span,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Reason {
    pub code: StrLit,
    pub message: Template,
    pub(crate) span: Span,
}

/// A reason message: literal text with `{expr}` holes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Template {
    pub parts: Vec<TemplatePart>,
    pub(crate) span: Span,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TemplatePart {
    Text(String),
    Expr(Expr),
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Decision {
    pub kind: DecisionKind,
    pub span: Span,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DecisionKind {
    Allow,
    Deny,
    Modify(Vec<Assignment>),
    StepUp(StepUpBlock),
    Defer(DeferBlock),
}

/// `params.FIELD = EXPR` inside `modify { ... }`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Assignment {
    pub field: Ident,
    pub value: Expr,
    pub span: Span,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StepUpBlock {
    pub clauses: Vec<StepUpClause>,
    pub span: Span,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StepUpClause {
    pub kind: StepUpClauseKind,
    pub span: Span,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum StepUpClauseKind {
    Approvers {
        quorum: IntLit,
        from: ApproverSet,
    },
    Timeout(Limit),
    Escalate {
        after: DurLit,
        to: ApproverSet,
    },
    Veto(bool),
    SelfApproval,
    Risk(RiskLit),
    Notify(Vec<StrLit>),
    /// `valid 1h`: how long an approval, and the allow it releases, may be acted on.
    Valid(DurLit),
    /// `limits amount, count`: the top-level parameters an approver may cap
    /// (`aarm case approve … --max amount=5000`).
    Limits(Vec<Ident>),
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ApproverSet {
    Group(Ident),
    List { members: Vec<StrLit>, span: Span },
    Role(StrLit),
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DeferBlock {
    pub clauses: Vec<DeferClause>,
    pub(crate) span: Span,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DeferClause {
    Need(Vec<Ident>, Span),
    Limit(Limit),
}

/// `timeout D -> OUTCOME` or `attempts N -> OUTCOME`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Limit {
    pub kind: LimitKind,
    pub outcome: Outcome,
    pub span: Span,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LimitKind {
    Timeout(DurLit),
    Attempts(IntLit),
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Outcome {
    pub kind: OutcomeKind,
    pub span: Span,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum OutcomeKind {
    Allow,
    Deny,
    Cancel,
    StepUp(StepUpBlock),
}

// ---------------------------------------------------------------------------------------------
// Tests

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TestDecl {
    pub name: StrLit,
    pub steps: Vec<TestStep>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TestStep {
    pub kind: TestStepKind,
    pub span: Span,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TestStepKind {
    /// `action TOOL [operation "OP"] { ... }`.
    Action {
        tool: Ident,
        operation: Option<StrLit>,
        fields: Vec<RecordField>,
    },
    Identity(Vec<RecordField>),
    Context(Vec<RecordField>),
    Evidence(Vec<RecordField>),
    Approve {
        by: StrLit,
        roles: Option<Expr>,
    },
    Deny {
        by: StrLit,
        why: Option<StrLit>,
        roles: Option<Expr>,
    },
    Provide {
        name: Ident,
        value: Expr,
    },
    Wait(DurLit),
    Cancel,
    Expect(Expectation),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum DecisionName {
    Allow,
    Deny,
    Modify,
    StepUp,
    Defer,
}

impl DecisionName {
    pub fn as_str(self) -> &'static str {
        match self {
            DecisionName::Allow => "allow",
            DecisionName::Deny => "deny",
            DecisionName::Modify => "modify",
            DecisionName::StepUp => "step_up",
            DecisionName::Defer => "defer",
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Expectation {
    /// `expect DECISION [PARAMS] [rule R] [reason "C"]`; `params` only after `modify`: the
    /// parameters the rewritten action must carry.
    Decision {
        decision: DecisionName,
        params: Option<Vec<RecordField>>,
        rule: Option<Vec<Ident>>,
        reason: Option<StrLit>,
    },
    Pending,
    Rejected(StrLit),
    /// `expect cancel`: the case was withdrawn (its decision reads `deny`, but no rule said so).
    Cancelled,
    /// `expect receipts ["open", "approve", ...]`: the events of the case's receipt trail, in order.
    Receipts(Expr),
}

// ---------------------------------------------------------------------------------------------
// Expressions

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Expr {
    pub kind: ExprKind,
    pub span: Span,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Root {
    Params,
    Action,
    Identity,
    Context,
    Evidence,
}

impl Root {
    pub fn as_str(self) -> &'static str {
        match self {
            Root::Params => "params",
            Root::Action => "action",
            Root::Identity => "identity",
            Root::Context => "context",
            Root::Evidence => "evidence",
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum BinOp {
    Add,
    Sub,
    Mul,
    Div,
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
}

impl BinOp {
    pub fn as_str(self) -> &'static str {
        match self {
            BinOp::Add => "+",
            BinOp::Sub => "-",
            BinOp::Mul => "*",
            BinOp::Div => "/",
            BinOp::Eq => "==",
            BinOp::Ne => "!=",
            BinOp::Lt => "<",
            BinOp::Le => "<=",
            BinOp::Gt => ">",
            BinOp::Ge => ">=",
        }
    }

    pub fn is_comparison(self) -> bool {
        !matches!(self, BinOp::Add | BinOp::Sub | BinOp::Mul | BinOp::Div)
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum LogicOp {
    And,
    Or,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum QuantKind {
    Any,
    All,
    Count,
}

impl QuantKind {
    pub fn as_str(self) -> &'static str {
        match self {
            QuantKind::Any => "any",
            QuantKind::All => "all",
            QuantKind::Count => "count",
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RecordField {
    pub name: Ident,
    pub value: Expr,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ExprKind {
    Bool(bool),
    Int(i64),
    /// Units of 10^-18: `12.5` is `12_500_000_000_000_000_000`.
    Decimal(i128),
    Str(String),
    Duration(i64),
    List(Vec<Expr>),
    Record(Vec<RecordField>),
    /// A bare name: a quantifier or lambda variable, a `fn` parameter, or a group.
    Name(Ident),
    Root(Root),
    Field {
        base: Box<Expr>,
        field: Ident,
    },
    Method {
        receiver: Box<Expr>,
        method: Ident,
        args: Vec<Expr>,
    },
    Call {
        callee: Ident,
        args: Vec<Expr>,
    },
    Neg(Box<Expr>),
    Not(Box<Expr>),
    Binary {
        op: BinOp,
        lhs: Box<Expr>,
        rhs: Box<Expr>,
    },
    /// `a and b and c` is one node, so that long conditions do not nest deeply.
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
    Quantifier {
        kind: QuantKind,
        var: Ident,
        collection: Box<Expr>,
        body: Box<Expr>,
    },
    /// `x => body`, only as a method argument.
    Lambda {
        param: Ident,
        body: Box<Expr>,
    },
    Paren(Box<Expr>),
    /// Where the parser recovered from an error; never reaches code generation.
    Error,
}

impl Expr {
    pub fn new(kind: ExprKind, span: Span) -> Self {
        Expr { kind, span }
    }
}

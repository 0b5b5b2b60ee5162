//! The syntax tree of one `.aarm` file, as [`crate::parse`] returns it. Nodes carry byte
//! [`Span`]s into the file's text (diagnostics point at them); `///` doc comments are kept on the
//! declarations they precede, and every other comment is kept in [`File::comments`] so that the
//! formatter can put it back.
//!
//! The tree is untyped and unresolved: names are plain strings, and a reference to a tool, group,
//! evidence or function is just an [`Ident`]. `aarm-compiler` resolves and type-checks it into its
//! IR. Literal values are already decoded (escapes, digits, duration units); a literal out of
//! range is reported by the parser and stored as zero. The tree follows `lang/aarm.pest`: the
//! syntax quoted on each node below is that grammar's.

use crate::span::Span;

/// A name as written: a declared name, a reference to one, a field or a record key. Not yet
/// resolved: the checker decides what it refers to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Ident {
    /// The name as written (a name longer than [`crate::limits::MAX_NAME_BYTES`] is reported as
    /// `E0021`).
    pub name: String,
    /// Where the name is written.
    pub span: Span,
}

/// A string literal with its escapes already decoded.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StrLit {
    /// The decoded text (`\n` is a line break, `\u{..}` the character).
    pub value: String,
    /// The literal, quotes included.
    pub span: Span,
}

/// An integer literal: a quorum, attempt count or priority (a priority may be negative).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct IntLit {
    /// The value; zero when it did not fit in 64 bits (reported as `E0030`).
    pub value: i64,
    /// The digits, and the sign of a negative priority.
    pub span: Span,
}

/// A decimal (or an integer where a decimal is expected), in units of 10^-18.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DecLit {
    /// The value times 10^18 (see [`crate::parser::DECIMAL_SCALE`]): `0.5` is `5 * 10^17`.
    pub scaled: i128,
    /// The literal.
    pub span: Span,
}

/// A duration literal such as `1h30m`: units `d`, `h`, `m`, `s`, each a whole number.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DurLit {
    /// The total in seconds; zero when it overflowed (reported as `E0033`).
    pub seconds: i64,
    /// The literal.
    pub span: Span,
}

/// A comment that is not a doc comment, kept for the formatter.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Comment {
    /// The comment as written, with its `//` or `/* */`.
    pub text: String,
    pub(crate) span: Span,
}

/// The `///` lines before a declaration, joined with newlines, without the slashes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Doc {
    /// The documentation text: each line without its leading `///`.
    pub text: String,
    pub(crate) span: Span,
}

/// One parsed `.aarm` file: an optional `policy` header, then declarations in source order.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct File {
    /// `policy NAME version "V"`, when the file starts with one (rules need it; a file of shared
    /// declarations may leave it out).
    pub header: Option<PolicyHeader>,
    /// The declarations after the header, in source order (those that parsed).
    pub items: Vec<Item>,
    /// Comments other than attached `///` docs, in source order, for the formatter. A `///`
    /// comment attached to nothing is kept here too.
    pub comments: Vec<Comment>,
}

/// `policy NAME version "V"`: names the policy a bundle builds and its version.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PolicyHeader {
    /// The `///` lines before the header.
    pub doc: Option<Doc>,
    /// The policy name.
    pub name: Ident,
    /// The version string, as written.
    pub version: StrLit,
    /// From `policy` to the version string.
    pub span: Span,
}

/// One top-level declaration with its doc comment.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Item {
    /// The `///` lines right before the declaration.
    pub doc: Option<Doc>,
    /// Which declaration it is.
    pub kind: ItemKind,
    /// The declaration, from its first word to its end, without the doc comment.
    pub span: Span,
}

/// The kinds of top-level declaration.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ItemKind {
    /// `use std.text` or `use ./common`.
    Use(UseDecl),
    /// `settings { ... }`.
    Settings(SettingsDecl),
    /// `tool NAME { FIELD: TYPE, ... }`.
    Tool(ToolDecl),
    /// `context { FIELD: TYPE, ... }`.
    Context(ContextDecl),
    /// `evidence NAME: TYPE [from "SOURCE"]`.
    Evidence(EvidenceDecl),
    /// `group NAME = ["id", ...]`.
    Group(GroupDecl),
    /// `fn NAME(PARAM: TYPE, ...) -> TYPE = EXPR`.
    Fn(FnDecl),
    /// `rule NAME on TARGETS [priority N] { ... }`.
    Rule(RuleDecl),
    /// `test "NAME" { ... }`.
    Test(TestDecl),
    /// `override on TOOL, ... by ... for D ...`.
    Override(OverrideDecl),
}

/// `override on TOOL, ... by (role "R" | GROUP | ["id", ...]) for D [requires NAME, ...]
/// [notify "CHANNEL", ...]`: who may override a denial of these tools, for how long, what they
/// must state, and who is told.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OverrideDecl {
    /// The tools after `override on`.
    pub tools: Vec<Ident>,
    /// Who may override, after `by`.
    pub by: ApproverSet,
    /// How long an override lasts, after `for`.
    pub valid: DurLit,
    /// The statements named after `requires` (any word: `reason` is reserved elsewhere).
    pub requires: Vec<Ident>,
    /// The channels after `notify`, as written.
    pub notify: Vec<StrLit>,
}

// ---------------------------------------------------------------------------------------------
// Declarations

/// What a `use` declaration names.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum UseDecl {
    /// `use std.text`: the dotted words as written.
    Path(Vec<Ident>),
    /// `use ./common`: a file of the same bundle, relative to this file.
    Relative(StrLit),
}

/// `settings { ... }`: bundle-wide defaults (at most one block per bundle; the checker
/// enforces that).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SettingsDecl {
    /// The settings, in source order.
    pub entries: Vec<Setting>,
}

/// One line of a `settings` block.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Setting {
    /// Which setting and its value.
    pub kind: SettingKind,
    /// The whole line.
    pub span: Span,
}

/// The settings a `settings` block may hold.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SettingKind {
    /// `default allow | deny`: the decision when no rule matches.
    Default(Effect),
    /// `conflict restrictive | defer`: what happens when rules of one priority disagree.
    Conflict(ConflictMode),
    /// `min_confidence 0.8`: a winning rule with a lower `confidence` defers instead.
    MinConfidence(DecLit),
    /// `defer timeout D -> OUTCOME, attempts N -> OUTCOME`: the limits of every deferral that
    /// does not set its own.
    Defer(Vec<Limit>),
    /// `step_up timeout D -> OUTCOME`: the timeout of a `step_up` that sets none.
    StepUpTimeout(Limit),
    /// `allow_valid 5m`: how long an allow may be acted on.
    AllowValid(DurLit),
    /// `review "security-team"`: who reviews and hears appeals of denials and escalations.
    Review(StrLit),
    /// `action_hash_ignores ["params.requested_at"]`: parameters the action hash leaves out.
    /// The span is the list's, brackets included.
    ActionHashIgnores(Vec<StrLit>, Span),
}

/// `default allow | deny`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Effect {
    /// `allow`.
    Allow,
    /// `deny`.
    Deny,
}

/// The value of `settings { conflict ... }`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ConflictMode {
    /// `conflict restrictive`: the most restrictive decision of the level wins.
    Restrictive,
    /// `conflict defer`: disagreeing rules of one level make the decision `defer`.
    Defer,
}

/// `tool NAME { FIELD: TYPE, ... }`: a tool an agent may call, and its parameters.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ToolDecl {
    /// The tool's name, as actions name it.
    pub name: Ident,
    /// The parameters, in source order.
    pub fields: Vec<FieldDecl>,
}

/// `context { FIELD: TYPE, ... }`: fields the host supplies with every request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ContextDecl {
    /// The context fields, in source order.
    pub fields: Vec<FieldDecl>,
}

/// `NAME: TYPE [@redact]`: a field of a tool, of `context` or of a record type.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FieldDecl {
    /// The `///` lines before the field.
    pub doc: Option<Doc>,
    /// The field name (any word, reserved or not).
    pub name: Ident,
    /// The field's type.
    pub ty: TypeExpr,
    /// From the name to the end of the type (or of `@redact`).
    pub(crate) span: Span,
    /// `@redact` after the type: where it is written, when it is.
    pub redact: Option<Span>,
}

/// A type as written: `String`, `List<Int>`, `{ a: Int }`, each optionally followed by `?`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TypeExpr {
    /// The type without its `?`.
    pub kind: TypeExprKind,
    /// Whether `?` follows: the value may be absent (read it after an `is set` guard).
    pub optional: bool,
    /// The type, `?` included.
    pub span: Span,
}

/// The shapes a written type takes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TypeExprKind {
    /// `String`, `List<Int>`: a name and at most one type argument.
    Named {
        /// The type's name, unresolved (`String`, `List`, ...).
        name: Ident,
        /// The argument between `<` and `>`, if any.
        arg: Option<Box<TypeExpr>>,
    },
    /// `{ FIELD: TYPE, ... }`: a record with these fields.
    Record(Vec<FieldDecl>),
}

/// `evidence NAME: TYPE [from "SOURCE"]`: a fact the host may have to fetch before deciding.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EvidenceDecl {
    /// The evidence name (read as `evidence.NAME`).
    pub name: Ident,
    /// The type of its value (never optional; the checker enforces that).
    pub ty: TypeExpr,
    /// Where the host gets it, after `from`, as written.
    pub source: Option<StrLit>,
}

/// `group NAME = ["id", ...]`: a named set of identities, for approver sets and `in` checks.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GroupDecl {
    /// The group name.
    pub name: Ident,
    /// The members, as written.
    pub members: Vec<StrLit>,
    /// The list, brackets included.
    pub(crate) members_span: Span,
}

/// `fn NAME(PARAM: TYPE, ...) -> TYPE = EXPR`: a pure helper that rules can call.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FnDecl {
    /// The function name.
    pub name: Ident,
    /// The parameters, in order.
    pub params: Vec<FnParam>,
    /// The declared result type.
    pub ret: TypeExpr,
    /// The expression after `=`.
    pub body: Expr,
}

/// `NAME: TYPE`: one parameter of a `fn`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FnParam {
    /// The parameter name (a bare name in the body).
    pub name: Ident,
    /// Its type.
    pub ty: TypeExpr,
}

// ---------------------------------------------------------------------------------------------
// Rules

/// `rule NAME on TARGETS [priority N] { CLAUSES DECISION [reason "CODE" "MESSAGE"] }`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RuleDecl {
    /// The rule name, unique within its policy.
    pub name: Ident,
    /// The tools the rule applies to, after `on`.
    pub targets: Targets,
    /// `priority N`, when written; higher levels are evaluated first.
    pub priority: Option<IntLit>,
    /// `when`, `risk`, `confidence` and `valid` lines in source order.
    pub clauses: Vec<RuleClause>,
    /// What the rule decides when its conditions hold.
    pub decision: Decision,
    /// `reason "CODE" "MESSAGE"`, when written.
    pub reason: Option<Reason>,
}

/// What a rule applies to, after `on`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Targets {
    /// `on *`: every tool; the span is the `*`.
    All(Span),
    /// `on a, b`: these tools (names unresolved).
    Tools(Vec<Ident>),
}

/// One line of a rule body before its decision.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RuleClause {
    /// `when EXPR`: a condition; a rule with several needs all of them.
    When(Expr),
    /// `risk LEVEL`: the risk the rule reports with its decision.
    Risk(RiskLit),
    /// `confidence 0.9`: how sure the rule is; compared with `settings { min_confidence }`.
    Confidence(DecLit),
    /// `valid 30s`: how long this rule's allow or modify may be acted on (overrides
    /// `settings { allow_valid }`).
    Valid(DurLit),
}

/// The levels of `risk low | medium | high | critical`, ordered from low to critical.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum RiskLevel {
    /// `low`.
    Low,
    /// `medium`.
    Medium,
    /// `high`.
    High,
    /// `critical`.
    Critical,
}

impl RiskLevel {
    /// The word as written in source.
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            RiskLevel::Low => "low",
            RiskLevel::Medium => "medium",
            RiskLevel::High => "high",
            RiskLevel::Critical => "critical",
        }
    }

    /// The level a word names, if any (the parser reports the others as `E0306`).
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

/// A risk level as written, with its place.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RiskLit {
    /// The level.
    pub level: RiskLevel,
    /// The word.
    pub span: Span,
}

/// `reason "CODE" "MESSAGE"`: what a decision reports to the agent and in its record.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Reason {
    /// The machine-readable reason code, such as `"amount.too_large"`.
    pub code: StrLit,
    /// The message for people, with `{expr}` holes.
    pub message: Template,
    /// From `reason` to the end of the message.
    pub(crate) span: Span,
}

/// A reason message: literal text with `{expr}` holes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Template {
    /// Text and holes in order.
    pub parts: Vec<TemplatePart>,
    /// The message literal, quotes included.
    pub(crate) span: Span,
}

/// A piece of a reason message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TemplatePart {
    /// Literal text, escapes decoded.
    Text(String),
    /// `{expr}`: a value shown in the message.
    Expr(Expr),
}

/// What a rule decides: the word and its block.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Decision {
    /// Which decision.
    pub kind: DecisionKind,
    /// The decision, block included.
    pub span: Span,
}

/// The decisions a rule can make.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DecisionKind {
    /// `allow`.
    Allow,
    /// `deny`.
    Deny,
    /// `modify { params.F = EXPR ... }`: allow the action with these parameters rewritten.
    Modify(Vec<Assignment>),
    /// `step_up { ... }`: hold the action until people approve it.
    StepUp(StepUpBlock),
    /// `defer { ... }`: hold the action until evidence arrives or a limit is reached.
    Defer(DeferBlock),
}

/// `params.FIELD = EXPR` inside `modify { ... }`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Assignment {
    /// The parameter assigned, after `params.`.
    pub field: Ident,
    /// The new value.
    pub value: Expr,
    /// From `params` to the end of the value.
    pub span: Span,
}

/// The `{ ... }` of a `step_up`: who approves, and what happens when they do not.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StepUpBlock {
    /// The clauses in source order (the checker rejects repeats).
    pub clauses: Vec<StepUpClause>,
    /// The block, braces included.
    pub span: Span,
}

/// One clause of a `step_up` block.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StepUpClause {
    /// Which clause.
    pub kind: StepUpClauseKind,
    /// The clause.
    pub span: Span,
}

/// The clauses of a `step_up` block.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum StepUpClauseKind {
    /// `approvers N of SET`: how many approvals, from whom.
    Approvers {
        /// How many approvals are needed.
        quorum: IntLit,
        /// Who may approve.
        from: ApproverSet,
    },
    /// `timeout D -> OUTCOME`: what happens when the approvals do not come in time.
    Timeout(Limit),
    /// `escalate after D to SET`: who else may approve after a while.
    Escalate {
        /// How long to wait first.
        after: DurLit,
        /// The approvers added then.
        to: ApproverSet,
    },
    /// `veto` (`true`) or `no veto` (`false`): whether one denial ends the request.
    Veto(bool),
    /// `self_approval`: the requester's own approval counts toward the quorum.
    SelfApproval,
    /// `risk LEVEL`: the risk shown to approvers.
    Risk(RiskLit),
    /// `notify "CHANNEL", ...`: who is told of the request.
    Notify(Vec<StrLit>),
    /// `valid 1h`: how long an approval, and the allow it releases, may be acted on.
    Valid(DurLit),
    /// `limits amount, count`: the top-level parameters an approver may cap
    /// (`aarm case approve … --max amount=5000`).
    Limits(Vec<Ident>),
}

/// Who may approve or override: after `of`, `to` or `by`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ApproverSet {
    /// A group's name (`group` declaration).
    Group(Ident),
    /// `["id", ...]`: these identities.
    List {
        /// The identities, as written.
        members: Vec<StrLit>,
        /// The list, brackets included.
        span: Span,
    },
    /// `role "R"`: anyone the host says has the role.
    Role(StrLit),
}

/// The `{ ... }` of a `defer`: the evidence awaited and the limits of the wait.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DeferBlock {
    /// The clauses, in source order.
    pub clauses: Vec<DeferClause>,
    /// The block, braces included.
    pub(crate) span: Span,
}

/// One clause of a `defer` block.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DeferClause {
    /// `need NAME, ...`: the evidence awaited (span: from `need` to the last name).
    Need(Vec<Ident>, Span),
    /// `timeout D -> OUTCOME` or `attempts N -> OUTCOME`.
    Limit(Limit),
}

/// `timeout D -> OUTCOME` or `attempts N -> OUTCOME`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Limit {
    /// Time or attempts.
    pub kind: LimitKind,
    /// What the decision becomes when the limit is reached.
    pub outcome: Outcome,
    /// From the first word to the end of the outcome.
    pub span: Span,
}

/// How a wait is bounded.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LimitKind {
    /// `timeout D`: a time limit.
    Timeout(DurLit),
    /// `attempts N`: how many re-evaluations in a row may come back `defer`.
    Attempts(IntLit),
}

/// What a limit resolves to, after `->`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Outcome {
    /// Which outcome.
    pub kind: OutcomeKind,
    /// The outcome, block included.
    pub span: Span,
}

/// The outcomes a limit may have.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum OutcomeKind {
    /// `allow`.
    Allow,
    /// `deny`.
    Deny,
    /// `cancel`: the request is withdrawn.
    Cancel,
    /// `step_up { ... }`: hand the request to approvers.
    StepUp(StepUpBlock),
}

// ---------------------------------------------------------------------------------------------
// Tests

/// `test "NAME" { STEP ... }`: a scenario run by `aarm test` against the policy.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TestDecl {
    /// The test's name.
    pub name: StrLit,
    /// The steps, in the order they run.
    pub steps: Vec<TestStep>,
}

/// One step of a test.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TestStep {
    /// Which step.
    pub kind: TestStepKind,
    /// The step.
    pub span: Span,
}

/// The steps of a `test` block.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TestStepKind {
    /// `action TOOL [operation "OP"] { ... }`.
    Action {
        /// The tool called.
        tool: Ident,
        /// The operation, after `operation`.
        operation: Option<StrLit>,
        /// The parameters.
        fields: Vec<RecordField>,
    },
    /// `identity { ... }`: who makes the following requests.
    Identity(Vec<RecordField>),
    /// `context { ... }`: the context of the following requests.
    Context(Vec<RecordField>),
    /// `evidence { ... }`: evidence the host supplies up front.
    Evidence(Vec<RecordField>),
    /// `approve by "ID" [roles EXPR]`: an approval of the pending request.
    Approve {
        /// The approver's identity.
        by: StrLit,
        /// The approver's roles, after `roles`.
        roles: Option<Expr>,
    },
    /// `deny by "ID" ["WHY"] [roles EXPR]`: a denial of the pending request.
    Deny {
        /// The denier's identity.
        by: StrLit,
        /// The stated reason.
        why: Option<StrLit>,
        /// The denier's roles, after `roles`.
        roles: Option<Expr>,
    },
    /// `provide NAME = EXPR`: evidence arrives for the deferred request.
    Provide {
        /// The evidence name.
        name: Ident,
        /// Its value.
        value: Expr,
    },
    /// `wait D`: time passes (timeouts may fire).
    Wait(DurLit),
    /// `cancel`: the requester withdraws the pending request.
    Cancel,
    /// `expect ...`: what must be true now.
    Expect(Expectation),
}

/// A decision named in `expect DECISION`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum DecisionName {
    /// `allow`.
    Allow,
    /// `deny`.
    Deny,
    /// `modify`.
    Modify,
    /// `step_up`.
    StepUp,
    /// `defer`.
    Defer,
}

impl DecisionName {
    /// The word as written in source.
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

/// What an `expect` step checks.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Expectation {
    /// `expect DECISION [PARAMS] [rule R] [reason "C"]`; `params` only after `modify`: the
    /// parameters the rewritten action must carry.
    Decision {
        /// The decision expected.
        decision: DecisionName,
        /// `modify { ... }`: the parameters the rewritten action must carry.
        params: Option<Vec<RecordField>>,
        /// `rule R` or `rule POLICY.R`: the rule that must have decided.
        rule: Option<Vec<Ident>>,
        /// `reason "CODE"`: the reason code expected.
        reason: Option<StrLit>,
    },
    /// `expect pending`: the request waits for approvers or evidence.
    Pending,
    /// `expect rejected "WHY"`: the last step was refused, for this reason.
    Rejected(StrLit),
    /// `expect cancel`: the case was withdrawn (its decision reads `deny`, but no rule said so).
    Cancelled,
    /// `expect receipts ["open", "approve", ...]`: the events of the case's receipt trail, in order.
    Receipts(Expr),
}

// ---------------------------------------------------------------------------------------------
// Expressions

/// An expression: conditions, values, function bodies, reason holes and test values.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Expr {
    /// What the expression is.
    pub kind: ExprKind,
    /// The whole expression.
    pub span: Span,
}

/// The words that start a path into the request.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Root {
    /// `params`: the action's parameters.
    Params,
    /// `action`: the tool and operation called.
    Action,
    /// `identity`: who asks.
    Identity,
    /// `context`: the host-supplied context.
    Context,
    /// `evidence`: declared evidence.
    Evidence,
}

impl Root {
    /// The word as written in source.
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

/// Arithmetic and comparison operators.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum BinOp {
    /// `+`.
    Add,
    /// `-`.
    Sub,
    /// `*`.
    Mul,
    /// `/`.
    Div,
    /// `==`.
    Eq,
    /// `!=`.
    Ne,
    /// `<`.
    Lt,
    /// `<=`.
    Le,
    /// `>`.
    Gt,
    /// `>=`.
    Ge,
}

impl BinOp {
    /// The operator as written in source.
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

    /// Whether the operator compares (its result is a `Bool`) rather than computes.
    pub fn is_comparison(self) -> bool {
        !matches!(self, BinOp::Add | BinOp::Sub | BinOp::Mul | BinOp::Div)
    }
}

/// The boolean connectives.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum LogicOp {
    /// `and`.
    And,
    /// `or`.
    Or,
}

/// The quantifiers of `any | all | count x in xs: p`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum QuantKind {
    /// `any`: true when some element satisfies the body.
    Any,
    /// `all`: true when every element does.
    All,
    /// `count`: how many elements do.
    Count,
}

impl QuantKind {
    /// The word as written in source.
    pub fn as_str(self) -> &'static str {
        match self {
            QuantKind::Any => "any",
            QuantKind::All => "all",
            QuantKind::Count => "count",
        }
    }
}

/// `NAME: EXPR` inside `{ ... }`: a record literal's field, or a test step's.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RecordField {
    /// The key (any word, reserved or not).
    pub name: Ident,
    /// The value.
    pub value: Expr,
}

/// The kinds of expression.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ExprKind {
    /// `true` or `false`.
    Bool(bool),
    /// An integer literal.
    Int(i64),
    /// Units of 10^-18: `12.5` is `12_500_000_000_000_000_000`.
    Decimal(i128),
    /// A string literal, escapes decoded.
    Str(String),
    /// A duration literal, in seconds.
    Duration(i64),
    /// `[a, b, ...]`.
    List(Vec<Expr>),
    /// `{ k: v, ... }`.
    Record(Vec<RecordField>),
    /// A bare name: a quantifier or lambda variable, a `fn` parameter, or a group.
    Name(Ident),
    /// `params`, `action`, `identity`, `context` or `evidence`.
    Root(Root),
    /// `base.field`.
    Field {
        /// The value read from.
        base: Box<Expr>,
        /// The field name (any word).
        field: Ident,
    },
    /// `receiver.method(args)`: a built-in method.
    Method {
        /// The value the method is called on.
        receiver: Box<Expr>,
        /// The method name.
        method: Ident,
        /// The arguments, lambdas included.
        args: Vec<Expr>,
    },
    /// `f(args)`: a call of a `fn` declaration (the bundle's own or a `use`d module's).
    Call {
        /// The function name.
        callee: Ident,
        /// The arguments.
        args: Vec<Expr>,
    },
    /// `-x`.
    Neg(Box<Expr>),
    /// `not x`.
    Not(Box<Expr>),
    /// `lhs OP rhs` for arithmetic and comparison; comparisons do not chain.
    Binary {
        /// The operator.
        op: BinOp,
        /// The left operand.
        lhs: Box<Expr>,
        /// The right operand.
        rhs: Box<Expr>,
    },
    /// `a and b and c` is one node, so that long conditions do not nest deeply.
    Logic {
        /// `and` or `or`.
        op: LogicOp,
        /// Two or more operands, in order.
        operands: Vec<Expr>,
    },
    /// `element in collection`.
    In {
        /// The value looked for.
        element: Box<Expr>,
        /// The collection looked in.
        collection: Box<Expr>,
    },
    /// `value is set` or `value is not set`: whether an optional value is present.
    IsSet {
        /// The optional value tested.
        value: Box<Expr>,
        /// `true` for `is not set`.
        negated: bool,
    },
    /// `any | all | count VAR in COLLECTION: BODY`.
    Quantifier {
        /// `any`, `all` or `count`.
        kind: QuantKind,
        /// The variable bound to each element.
        var: Ident,
        /// The collection ranged over.
        collection: Box<Expr>,
        /// The condition, with `var` in scope.
        body: Box<Expr>,
    },
    /// `x => body`, only as a method argument.
    Lambda {
        /// The parameter.
        param: Ident,
        /// The body, with `param` in scope.
        body: Box<Expr>,
    },
    /// `(x)`: kept so that the formatter reprints the parentheses.
    Paren(Box<Expr>),
    /// Where the parser recovered from an error; never reaches code generation.
    Error,
}

impl Expr {
    /// An expression node (the compiler also builds some, such as the `params.F` an assignment
    /// writes).
    pub fn new(kind: ExprKind, span: Span) -> Self {
        Expr { kind, span }
    }
}

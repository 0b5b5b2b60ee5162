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
pub(crate) use aarm_runtime::policy::{
    Approvers, ConflictMode, Const, DefaultEffect, Escalation, Outcome, Risk, Settings, StepUp,
};

macro_rules! id_type {
    ($($(#[$m:meta])* $vis:vis $name:ident;)*) => {$(
        $(#[$m])*
        ///
        /// Made only inside this crate, from a position in the table it names, so an id always
        /// indexes the bundle it came with.
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
        $vis struct $name(pub(crate) u32);
        impl $name {
            /// The position in the table the id indexes.
            $vis fn index(self) -> usize { self.0 as usize }
        }
    )*};
}

id_type! {
    /// Index into the bundle's `tools` table.
    pub ToolId;
    /// Index into the bundle's `evidence` table.
    pub EvidenceId;
    /// Index into the bundle's `groups` table.
    pub GroupId;
    /// Index into the bundle's `fns` table.
    pub FnId;
    /// Index into [`Bundle::policies`].
    pub(crate) PolicyId;
    /// Index into [`Bundle::rules`].
    pub RuleId;
    /// Index into the bundle's `context_fields` table.
    pub ContextFieldId;
    /// A local variable (`fn` parameter, quantifier or lambda variable) of one body, numbered
    /// from 0 within that rule or `fn`.
    pub LocalId;
}

/// A source location: file and byte span. Diagnostics, coverage reports and the editor support
/// all point at source through it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub struct Loc {
    /// The file, as an id of the loader's source map.
    pub file: FileId,
    /// Byte offsets into that file's text.
    pub span: Span,
}

/// A whole checked bundle: every declaration of every module, resolved into tables that
/// expressions refer to by index. [`crate::codegen`] turns it into a program, the reference
/// interpreter evaluates it directly, and analysis and `aarm test` read it.
#[derive(Clone, Debug, Default)]
pub struct Bundle {
    pub(crate) policies: Vec<Policy>,
    pub(crate) tools: Vec<Tool>,
    pub(crate) context_fields: Vec<Field>,
    pub(crate) evidence: Vec<Evidence>,
    pub(crate) groups: Vec<Group>,
    pub(crate) fns: Vec<Function>,
    /// In source order: files in path order, then by position. The order breaks ties.
    pub rules: Vec<Rule>,
    pub(crate) settings: Settings,
    /// Where the `settings` block is; `None` when the bundle has none.
    pub(crate) settings_loc: Option<Loc>,
    /// The `test` blocks, in source order (`aarm test` runs them).
    pub tests: Vec<Test>,
    /// The files of standard-library modules (`use std.NAME`): a library declares more than one
    /// bundle uses, so analysis never calls their declarations unused.
    pub(crate) std_files: Vec<FileId>,
    /// `override on TOOL by … for D requires …`, one per tool, in source order.
    pub(crate) overrides: Vec<aarm_runtime::policy::OverridePolicy>,
}

impl Bundle {
    pub(crate) fn tool(&self, id: ToolId) -> Option<&Tool> {
        self.tools.get(id.index())
    }
    pub(crate) fn rule(&self, id: RuleId) -> Option<&Rule> {
        self.rules.get(id.index())
    }
}

#[derive(Clone, Debug)]
pub(crate) struct Policy {
    pub name: String,
    pub version: String,
    pub doc: Option<String>,
    pub loc: Loc,
}

#[derive(Clone, Debug)]
pub(crate) struct Tool {
    pub name: String,
    pub fields: Vec<Field>,
    pub doc: Option<String>,
    pub loc: Loc,
}

impl Tool {
    pub(crate) fn field(&self, name: &str) -> Option<(usize, &Field)> {
        self.fields.iter().enumerate().find(|(_, f)| f.name == name)
    }
}

#[derive(Clone, Debug)]
pub(crate) struct Field {
    pub name: String,
    pub ty: Type,
    pub doc: Option<String>,
    pub loc: Loc,
}

#[derive(Clone, Debug)]
pub(crate) struct Evidence {
    pub name: String,
    pub ty: Type,
    /// Where the host should look for the fact (`from "..."`); empty when not given.
    pub source: String,
    pub doc: Option<String>,
    pub loc: Loc,
}

#[derive(Clone, Debug)]
pub(crate) struct Group {
    pub name: String,
    pub members: Vec<String>,
    /// Named by a `step_up`'s `approvers` or `escalate` clause, whose identities the IR holds
    /// resolved (so a use there leaves no [`ExprKind::Group`] behind).
    pub named_by_step_up: bool,
    pub loc: Loc,
}

#[derive(Clone, Debug)]
pub(crate) struct Function {
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

/// One checked `rule`: which tools it applies to, when it matches, and what it decides.
#[derive(Clone, Debug)]
pub struct Rule {
    pub(crate) name: String,
    /// `policy.rule`, as decisions and receipts show it.
    pub qualified_name: String,
    pub(crate) policy: PolicyId,
    pub(crate) targets: Targets,
    /// Higher decides first; rules of equal priority are resolved by the bundle's conflict mode.
    pub priority: i64,
    /// The `when` lines, each `Bool`; the rule matches when all hold.
    pub conditions: Vec<Expr>,
    pub(crate) risk: Option<Risk>,
    /// Ten-thousandths in `0..=10000`.
    pub(crate) confidence: Option<i64>,
    pub(crate) decision: Decision,
    pub(crate) reason: Reason,
    pub(crate) locals: u32,
    pub(crate) doc: Option<String>,
    pub(crate) loc: Loc,
    /// `valid D` in seconds: how long this rule's allow or modify may be acted on.
    pub(crate) valid_s: Option<i64>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Targets {
    /// `on *`
    All,
    Tools(Vec<ToolId>),
}

#[derive(Clone, Debug)]
pub(crate) struct Reason {
    /// The stable code; `rule.<name>` when the rule gives none.
    pub code: String,
    pub message: Vec<TemplatePart>,
}

#[derive(Clone, Debug)]
pub(crate) enum TemplatePart {
    Text(String),
    Expr(Expr),
}

/// What a rule decides; a `modify` carries new values for fields of `params`, by field name
/// (each target tool has the field).
pub(crate) type Decision = policy::RuleDecision<Vec<Assignment>, EvidenceId>;

#[derive(Clone, Debug)]
pub(crate) struct Assignment {
    pub field: String,
    pub value: Expr,
    pub loc: Loc,
}

/// A `defer` block; its `need` names evidence by id.
pub(crate) type Defer = policy::Defer<EvidenceId>;

// ---------------------------------------------------------------------------------------------
// Expressions

/// A checked expression: what it does, its type (after any widening), and where it is written.
#[derive(Clone, Debug)]
pub struct Expr {
    /// The operation, with its operands.
    pub kind: ExprKind,
    pub(crate) ty: Type,
    /// Where the expression is written, in the file of the rule or `fn` that contains it.
    pub span: Span,
}

/// A field of `action` other than `params`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ActionField {
    /// `action.tool`: the name of the tool the agent calls.
    Tool,
    /// `action.operation`: the operation the host names (`""` when it names none).
    Operation,
}

/// A field of `identity`: the runtime's own enum, so code generation needs no mapping.
pub(crate) use aarm_runtime::bytecode::IdentityField;
/// The runtime's built-in method primitives (see [`Method`]).
pub(crate) use aarm_runtime::bytecode::MethodOp;

/// A field of `context`: one of the built-in fields every request may carry, or one the
/// bundle declares.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ContextField {
    /// `context.original_request`: what the user originally asked the agent for.
    OriginalRequest,
    /// `context.prior_actions`: the session's earlier actions, each with its tool and decision.
    PriorActions,
    /// `context.data_classes`: the classes of data involved (`"PII"`, `"CONFIDENTIAL"`, …).
    DataClasses,
    /// `context.semantic_distance`: the host's measure of how far the action is from the original
    /// request; optional.
    SemanticDistance,
    /// `context.now`: the time of the request.
    Now,
    /// A field of the bundle's own `context` declaration.
    Declared(ContextFieldId),
}

/// The operator of a [`ExprKind::Logic`] node.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum LogicOp {
    /// `and`: Kleene conjunction, stopping at the first `false`.
    And,
    /// `or`: Kleene disjunction, stopping at the first `true`.
    Or,
}

/// A built-in method, resolved by receiver type: one of the runtime's primitives (so code
/// generation and the interpreter need no mapping), or `matches` with its pattern, already
/// validated (the bytecode refers to the pattern by index).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Method {
    /// A method the runtime implements directly (`contains`, `starts_with`, `len`, …).
    Op(MethodOp),
    /// `matches(PATTERN)`: the regular expression, as written and already validated.
    Matches(String),
}

impl Method {
    /// The runtime primitive of the method; `None` for `matches`, which needs its pattern.
    pub(crate) fn primitive(&self) -> Option<MethodOp> {
        match self {
            Method::Op(op) => Some(*op),
            Method::Matches(_) => None,
        }
    }
}

/// Arithmetic, resolved by operand types: the runtime's own operators, so the code generator
/// and the interpreter need no mapping.
pub(crate) use aarm_runtime::bytecode::ArithOp as Arith;

/// The comparison a `Compare` node performs (`None` for the arithmetic operators, which never
/// appear in one).
pub(crate) fn comparison(op: BinOp) -> Option<aarm_runtime::bytecode::CmpOp> {
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

/// What an expression does. Every operand is itself a typed [`Expr`]; names are already
/// resolved to ids, so evaluating a node never looks anything up by name (except `params`
/// fields, see [`ExprKind::Param`]).
#[derive(Clone, Debug)]
pub enum ExprKind {
    /// A literal value.
    Const(Const),
    /// A list literal; a set-typed one is a set literal.
    List(Vec<Expr>),
    /// A record literal: field names and values, in the record type's order.
    Record(Vec<(String, Expr)>),
    /// `params.FIELD` of the action's tool; code generation maps the name to each target
    /// tool's slot.
    Param(String),
    /// `action.tool` or `action.operation`.
    Action(ActionField),
    /// A field of `identity`.
    Identity(IdentityField),
    /// A field of `context`.
    Context(ContextField),
    /// Three-valued: unknown until the request carries the fact.
    Evidence(EvidenceId),
    /// A `fn` parameter, or the variable of an enclosing quantifier or `filter`.
    Local(LocalId),
    /// A group as a `Set<String>`.
    Group(GroupId),
    /// A field of a record value, by position in its record type.
    Field {
        /// The record.
        base: Box<Expr>,
        /// The field's position in the record type.
        index: u32,
        /// The field's name, for messages.
        name: String,
    },
    /// Reading an optional that a guard (`is set`) has proved present.
    Unwrap(Box<Expr>),
    /// `Int` → `Decimal`.
    Widen(Box<Expr>),
    /// Arithmetic negation (`-x`).
    Neg(Box<Expr>),
    /// `not x`, in three-valued logic (`not unknown` is unknown).
    Not(Box<Expr>),
    /// `+`, `-`, `*`, `/`, resolved by operand types.
    Arith {
        /// The operation, for the operands' type.
        op: Arith,
        /// The left operand.
        lhs: Box<Expr>,
        /// The right operand.
        rhs: Box<Expr>,
    },
    /// Operands have the same type after widening.
    Compare {
        /// One of the comparison operators (never an arithmetic one).
        op: BinOp,
        /// The left operand.
        lhs: Box<Expr>,
        /// The right operand.
        rhs: Box<Expr>,
    },
    /// `and` / `or` over its operands, evaluated left to right and stopping at the first deciding
    /// one.
    Logic {
        /// Which of the two.
        op: LogicOp,
        /// The operands, in source order.
        operands: Vec<Expr>,
    },
    /// `element in collection`.
    In {
        /// The value looked for.
        element: Box<Expr>,
        /// The list or set looked in.
        collection: Box<Expr>,
    },
    /// `value is set` / `value is not set`.
    IsSet {
        /// The optional value tested.
        value: Box<Expr>,
        /// `true` for `is not set`.
        negated: bool,
    },
    /// A built-in method call.
    Method {
        /// The method, resolved by the receiver's type.
        method: Method,
        /// The value the method is called on.
        receiver: Box<Expr>,
        /// The arguments, in order.
        args: Vec<Expr>,
    },
    /// `any`, `all` or `count` over a collection.
    Quantifier {
        /// Which quantifier.
        kind: QuantKind,
        /// The variable bound to each element in turn.
        var: LocalId,
        /// The list or set quantified over.
        collection: Box<Expr>,
        /// The `Bool` condition evaluated for each element.
        body: Box<Expr>,
    },
    /// `xs.filter(x => pred)`.
    Filter {
        /// The lambda's variable, bound to each element in turn.
        var: LocalId,
        /// The list or set filtered.
        collection: Box<Expr>,
        /// The `Bool` condition an element must meet to be kept.
        predicate: Box<Expr>,
    },
    /// A call of a bundle `fn`.
    Call {
        /// The function called.
        func: FnId,
        /// The arguments, one per parameter.
        args: Vec<Expr>,
    },
}

// ---------------------------------------------------------------------------------------------
// Tests

/// One checked `test` block: the steps `aarm test` plays against the compiled program.
#[derive(Clone, Debug)]
pub struct Test {
    pub(crate) name: String,
    pub(crate) steps: Vec<TestStep>,
    pub(crate) loc: Loc,
}

#[derive(Clone, Debug)]
pub(crate) struct TestStep {
    pub kind: TestStepKind,
    pub loc: Loc,
}

#[derive(Clone, Debug)]
pub(crate) enum TestStepKind {
    /// The action, by the tool name the test gives (it may name a tool the bundle does not
    /// declare, as a host might).
    Action {
        tool_name: String,
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

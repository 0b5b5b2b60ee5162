//! The bytecode: a small stack machine with three-valued booleans (docs/language.md, "Evidence and three-valued logic").
//!
//! Each rule condition, reason interpolation, `modify` assignment and `fn` body is a [`Chunk`]
//! ending in [`Op::Ret`]. Operands are indices into the bundle's tables, checked once by the
//! verifier when the bundle is loaded, and again (cheaply, without panicking) by the VM.
// A new instruction, decision or outcome must be handled wherever these are matched, not fall
// into a catch-all arm unnoticed.
#![warn(clippy::wildcard_enum_match_arm)]

use serde::{Deserialize, Serialize};

/// A unit of code the VM runs to completion: a rule's condition, one reason interpolation or
/// `modify` assignment, or a function body. It always ends in [`Op::Ret`] and leaves exactly one
/// value (the verifier checks both before anything runs).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Chunk {
    /// The instructions, in order; jump targets index into this list.
    pub code: Vec<Op>,
    /// Local variable slots the chunk uses (parameters first, for a function).
    pub locals: u16,
    /// Number of parameters (functions only; 0 for other chunks).
    pub params: u16,
    /// Where the instructions came from, in runs sorted by first instruction (`spans.rs`): read
    /// only to name the expression an evaluation error happened in.
    pub spans: Vec<crate::spans::SpanRun>,
}

impl Chunk {
    /// The span of instruction `pc`: the last run starting at or before it.
    pub(crate) fn span_at(&self, pc: usize) -> Option<u32> {
        let runs = self.spans.partition_point(|r| r.from as usize <= pc);
        runs.checked_sub(1).and_then(|i| self.spans.get(i)).map(|r| r.span)
    }
}

/// A field of `identity`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum IdentityField {
    /// `identity.human`: the person the agent acts for (`""` when absent).
    Human,
    /// `identity.service`: the service account, if any (`""` when absent).
    Service,
    /// `identity.agent`: the agent making the call (`""` when absent).
    Agent,
    /// `identity.session`: the agent session (`""` when absent).
    Session,
    /// `identity.roles`: the host-verified roles, a set of strings.
    Roles,
}

/// A field of `context`: built in, or declared (by slot).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum ContextField {
    /// `context.original_request`: what the human asked for, as text.
    OriginalRequest,
    /// `context.prior_actions`: the session's earlier actions and their decisions.
    PriorActions,
    /// `context.data_classes`: the data classes the action touches (`"PII"`).
    DataClasses,
    /// `context.semantic_distance`: how far the action is from the request (optional).
    SemanticDistance,
    /// `context.now`: the request's time, else the host's clock, so a decision is reproducible.
    Now,
    /// A field declared in the policy's `context { ... }`, by slot in declaration order.
    Declared(u16),
}

/// A binary arithmetic operation, resolved by operand type at compile time. Every one is
/// checked: overflow and division by zero are evaluation errors (`eval.error`), never a wrapped
/// or saturated result.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum ArithOp {
    /// `Int + Int`.
    IntAdd,
    /// `Int - Int`.
    IntSub,
    /// `Int * Int`.
    IntMul,
    /// `Int / Int`, truncating toward zero.
    IntDiv,
    /// `Decimal + Decimal`, exact.
    DecAdd,
    /// `Decimal - Decimal`, exact.
    DecSub,
    /// `Decimal * Decimal`, rounded toward zero to the 18 fractional digits a `Decimal` keeps.
    DecMul,
    /// `Decimal / Decimal`, rounded toward zero to the 18 fractional digits a `Decimal` keeps.
    DecDiv,
    /// `String + String`: the two strings joined.
    Concat,
    /// `Time + Duration` (either order): a later (or earlier) time.
    TimeAddDur,
    /// `Time - Duration`.
    TimeSubDur,
    /// `Time - Time`: the `Duration` between them.
    TimeSubTime,
    /// `Duration + Duration`.
    DurAdd,
    /// `Duration - Duration`.
    DurSub,
    /// `Duration * Int` (either order).
    DurMulInt,
    /// `Duration / Int`, truncating toward zero.
    DurDivInt,
}

/// A comparison. `==` and `!=` take any two values of one type; the orderings take values that
/// have an order (numbers, times, durations, strings). Mismatched operands are an evaluation error.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum CmpOp {
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

/// Built-in methods. Each pops its receiver and fixed arguments and pushes one value.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum MethodOp {
    /// `s.starts_with(prefix)`.
    StartsWith,
    /// `s.ends_with(suffix)`.
    EndsWith,
    /// `s.contains(sub)` on a string: whether `sub` occurs in `s`.
    StrContains,
    /// `s.lower()`.
    Lower,
    /// `s.upper()`.
    Upper,
    /// `s.trim()`: without leading and trailing whitespace.
    Trim,
    /// `s.glob(pattern)`: `*` matches any run of characters, `?` one character.
    Glob,
    /// `s.len()` on a string, in characters.
    StrLen,
    /// `xs.len()` on a list or set: its number of elements.
    Len,
    /// `xs.contains(x)` on a list or set: whether `x` is an element.
    Contains,
    /// `xs.contains_any(ys)`: whether the two share an element.
    ContainsAny,
    /// `xs.contains_all(ys)`: whether every element of `ys` is in `xs`.
    ContainsAll,
    /// `t.hour()`: the hour of a `Time`, in UTC.
    Hour,
    /// `t.minute()`: the minute of a `Time`, in UTC.
    Minute,
    /// `t.weekday()`: ISO day of the week in UTC, Monday 1 to Sunday 7.
    Weekday,
    /// `d.seconds()`: a `Duration` as a whole number of seconds.
    Seconds,
    // Appended after the first release of the format, so earlier bundles decode unchanged.
    /// `s.split(sep)`: `List<String>`.
    Split,
    /// `xs.at(i)`: the element at `i` (negative counts from the end).
    At,
    /// `xs.index_of(x)`: the first position of `x`, or -1.
    IndexOf,
    /// `s.in_cidr(block)`: an IPv4 address in a CIDR block.
    InCidr,
    /// `s.utc_offset()`: the `Duration` east of UTC that `"+05:30"` names.
    UtcOffset,
    // Appended too (the URL methods and `offset_in`): the layout is unchanged and earlier
    // bundles decode as before; a runtime older than these refuses a bundle that uses them as a
    // malformed payload, before anything runs.
    /// `s.url_scheme()`: the scheme of a WHATWG URL, lower-cased.
    UrlScheme,
    /// `s.url_host()`: the host of a WHATWG URL (a domain, or an IP address without brackets).
    UrlHost,
    /// `s.url_port()`: the port of a WHATWG URL, or its scheme's default port.
    UrlPort,
    /// `s.url_path()`: the path of a WHATWG URL, as the URL serializes it.
    UrlPath,
    /// `s.url_query()`: the query of a WHATWG URL without its `?` (empty when there is none).
    UrlQuery,
    /// `t.offset_in(zone)`: the offset east of UTC in force at `t` in an IANA zone or fixed offset.
    OffsetIn,
    /// `s.is_ip()`: whether `s` is an IPv4 or IPv6 address, as `in_cidr` reads one.
    IsIp,
}

impl MethodOp {
    /// Arguments besides the receiver.
    pub(crate) fn arity(self) -> usize {
        match self {
            MethodOp::StartsWith
            | MethodOp::EndsWith
            | MethodOp::StrContains
            | MethodOp::Glob
            | MethodOp::Contains
            | MethodOp::ContainsAny
            | MethodOp::ContainsAll
            | MethodOp::Split
            | MethodOp::At
            | MethodOp::IndexOf
            | MethodOp::InCidr
            | MethodOp::OffsetIn => 1,
            MethodOp::Lower
            | MethodOp::Upper
            | MethodOp::Trim
            | MethodOp::StrLen
            | MethodOp::Len
            | MethodOp::Hour
            | MethodOp::Minute
            | MethodOp::Weekday
            | MethodOp::Seconds
            | MethodOp::UtcOffset
            | MethodOp::UrlScheme
            | MethodOp::UrlHost
            | MethodOp::UrlPort
            | MethodOp::UrlPath
            | MethodOp::UrlQuery
            | MethodOp::IsIp => 0,
        }
    }

    /// The method's name as the source spells it (`starts_with`), for messages and disassembly.
    pub fn name(self) -> &'static str {
        match self {
            MethodOp::StartsWith => "starts_with",
            MethodOp::EndsWith => "ends_with",
            MethodOp::StrContains | MethodOp::Contains => "contains",
            MethodOp::Lower => "lower",
            MethodOp::Upper => "upper",
            MethodOp::Trim => "trim",
            MethodOp::Glob => "glob",
            MethodOp::StrLen | MethodOp::Len => "len",
            MethodOp::ContainsAny => "contains_any",
            MethodOp::ContainsAll => "contains_all",
            MethodOp::Hour => "hour",
            MethodOp::Minute => "minute",
            MethodOp::Weekday => "weekday",
            MethodOp::Seconds => "seconds",
            MethodOp::Split => "split",
            MethodOp::At => "at",
            MethodOp::IndexOf => "index_of",
            MethodOp::InCidr => "in_cidr",
            MethodOp::UtcOffset => "utc_offset",
            MethodOp::UrlScheme => "url_scheme",
            MethodOp::UrlHost => "url_host",
            MethodOp::UrlPort => "url_port",
            MethodOp::UrlPath => "url_path",
            MethodOp::UrlQuery => "url_query",
            MethodOp::OffsetIn => "offset_in",
            MethodOp::IsIp => "is_ip",
        }
    }
}

/// Which quantifier a [`Op::QuantStep`] folds for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum QuantKind {
    /// `any x in xs: p`: `true` once one element satisfies `p`.
    Any,
    /// `all x in xs: p`: `false` once one element fails `p`.
    All,
    /// `count x in xs: p`: how many elements satisfy `p`.
    Count,
}

/// One instruction. Jump targets are instruction indices within the chunk.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Op {
    /// Push constant `i` of the pool.
    Const(u32),
    /// Push a `Bool` literal.
    Bool(bool),
    /// Push `params` slot `i` of the action's tool.
    Param(u16),
    /// Push `action.tool`.
    ActionTool,
    /// Push `action.operation` (`""` when the host sends none).
    ActionOperation,
    /// Push an `identity` field.
    Identity(IdentityField),
    /// Push a `context` field.
    Context(ContextField),
    /// Push evidence `i`, or `unknown` when the request does not carry it.
    Evidence(u16),
    /// Push `is set` of evidence `i` (always definite).
    EvidenceIsSet(u16),
    /// Push local slot `i` (a function parameter, a `let`, a loop variable).
    Local(u16),
    /// Pop a value into local slot `i`.
    SetLocal(u16),
    /// Push group `i` as a set of strings.
    Group(u16),
    /// Replace a record with its field `i`.
    Field(u16),
    /// Replace an optional that must be set with its value (absent is an evaluation error).
    Unwrap,
    /// `Int` → `Decimal`, also element-wise on a list.
    Widen,
    /// Negate the number or duration on top (overflow is an error).
    Neg,
    /// Boolean `not` of the top (`unknown` stays `unknown`).
    Not,
    /// Pop two operands and push the result of an arithmetic operation.
    Arith(ArithOp),
    /// Pop two operands and push their comparison (`unknown` when either is).
    Cmp(CmpOp),
    /// Pops an operand and merges it into the `and` accumulator below it; on `false`, the
    /// accumulator becomes `false` and control jumps to the target.
    AndMerge(u32),
    /// Like [`Op::AndMerge`] for `or`, short-circuiting on `true`.
    OrMerge(u32),
    /// `element in collection`: pops the collection, then the element.
    In,
    /// `is set` / `is not set` on an optional.
    IsSet {
        /// `true` for `is not set`.
        negated: bool,
    },
    /// Pop a receiver and its arguments and push the method's result.
    Method(MethodOp),
    /// `s.matches(regex i)`.
    Matches(u32),
    /// Build a list of the top `n` values.
    MakeList(u32),
    /// Build a record of the top `n` values.
    MakeRecord(u32),
    /// `[.., coll]` → `[.., coll, 0]`: start iterating. When the collection is unknown, the
    /// accumulator local becomes unknown and control jumps to the target (the loop's exit).
    IterInit {
        /// The local that holds the quantifier's or filter's accumulator.
        acc: u16,
        /// The loop's exit, jumped to when the collection is unknown.
        end: u32,
    },
    /// `[.., coll, i]`: if `i < len`, store `coll[i]` in the local, advance; else jump.
    IterNext {
        /// The local the element is stored in (the loop variable).
        local: u16,
        /// The loop's exit, jumped to when the elements are exhausted.
        end: u32,
    },
    /// Pops a body result and folds it into the accumulator local; `any` / `all` jump to the
    /// target once decided.
    QuantStep {
        /// The quantifier being folded.
        kind: QuantKind,
        /// The local holding the accumulator.
        acc: u16,
        /// The loop's exit, jumped to once the outcome is decided.
        end: u32,
    },
    /// Pops a predicate result; appends the local `var` to the list in local `acc` when true.
    FilterStep {
        /// The local holding the current element.
        var: u16,
        /// The local holding the list being built.
        acc: u16,
    },
    /// `[.., coll, i]` → `[..]`.
    IterEnd,
    /// Continue at the target instruction.
    Jump(u32),
    /// Drop the top of the stack.
    Pop,
    /// Call function `i` with its arguments on the stack.
    Call(u16),
    /// Return the top of the stack.
    Ret,
    // Fused instructions, made by `fuse.rs` when an engine loads a verified program and never
    // part of a bundle: `#[serde(skip)]` means a bundle cannot even encode them, and they come
    // last so that skipping them shifts no other variant's index. Each stands for exactly the
    // three-instruction sequence it replaces (which stays in place behind it, unreached) and
    // continues after that sequence.
    /// `param slot; const konst; method(m)`, `m` taking one argument.
    #[serde(skip)]
    ParamConstMethod {
        /// The `params` slot read.
        slot: u16,
        /// The one-argument method applied.
        m: MethodOp,
        /// The constant (index into the pool).
        konst: u32,
    },
    /// `param slot; const konst; cmp(c)`.
    #[serde(skip)]
    ParamConstCmp {
        /// The `params` slot read.
        slot: u16,
        /// The comparison made.
        c: CmpOp,
        /// The constant (index into the pool).
        konst: u32,
    },
    /// `param slot; const konst; in`: the parameter in a constant collection.
    #[serde(skip)]
    ParamInConst {
        /// The `params` slot read.
        slot: u16,
        /// The constant (index into the pool).
        konst: u32,
    },
    /// `const konst; param slot; in`: a constant in a list parameter.
    #[serde(skip)]
    ConstInParam {
        /// The constant (index into the pool).
        konst: u32,
        /// The `params` slot read.
        slot: u16,
    },
    /// `const konst; identity(roles); in`.
    #[serde(skip)]
    ConstInRoles {
        /// The constant (index into the pool).
        konst: u32,
    },
    /// `param slot; group g; in`: the parameter in a group.
    #[serde(skip)]
    ParamInGroup {
        /// The `params` slot read.
        slot: u16,
        /// The group (index into the group table).
        group: u16,
    },
    /// `identity(field); group g; in`: `identity.human in admins` and the like.
    #[serde(skip)]
    IdentityInGroup {
        /// The `identity` field read.
        field: IdentityField,
        /// The group (index into the group table).
        group: u16,
    },
}

impl Op {
    /// (values popped, values pushed), for the verifier's stack-depth analysis. Calls are
    /// resolved by the verifier from the callee's parameter count.
    pub(crate) fn stack_effect(self) -> (usize, usize) {
        match self {
            Op::Const(_)
            | Op::Bool(_)
            | Op::Param(_)
            | Op::ActionTool
            | Op::ActionOperation
            | Op::Identity(_)
            | Op::Context(_)
            | Op::Evidence(_)
            | Op::EvidenceIsSet(_)
            | Op::Local(_)
            | Op::Group(_)
            | Op::ParamConstMethod { .. }
            | Op::ParamConstCmp { .. }
            | Op::ParamInConst { .. }
            | Op::ConstInParam { .. }
            | Op::ConstInRoles { .. }
            | Op::ParamInGroup { .. }
            | Op::IdentityInGroup { .. } => (0, 1),
            Op::SetLocal(_) | Op::Pop => (1, 0),
            Op::Field(_) | Op::Unwrap | Op::Widen | Op::Neg | Op::Not | Op::IsSet { .. } | Op::Matches(_) => (1, 1),
            Op::Arith(_) | Op::Cmp(_) | Op::In => (2, 1),
            Op::AndMerge(_) | Op::OrMerge(_) => (1, 0),
            Op::Method(m) => (1 + m.arity(), 1),
            Op::MakeList(n) | Op::MakeRecord(n) => (n as usize, 1),
            Op::IterInit { .. } => (0, 1),
            Op::IterNext { .. } => (0, 0),
            Op::QuantStep { .. } | Op::FilterStep { .. } => (1, 0),
            Op::IterEnd => (2, 0),
            Op::Jump(_) => (0, 0),
            Op::Call(_) => (0, 1),
            Op::Ret => (1, 0),
        }
    }

    /// Whether this is one of the fused instructions an engine makes at load time.
    pub(crate) fn is_fused(self) -> bool {
        matches!(
            self,
            Op::ParamConstMethod { .. }
                | Op::ParamConstCmp { .. }
                | Op::ParamInConst { .. }
                | Op::ConstInParam { .. }
                | Op::ConstInRoles { .. }
                | Op::ParamInGroup { .. }
                | Op::IdentityInGroup { .. }
        )
    }

    /// The same instruction jumping to `target` instead (itself when it does not jump): how code
    /// generation patches a forward jump once it knows where the target is.
    pub fn with_target(mut self, target: u32) -> Op {
        if let Some(slot) = self.target_mut() {
            *slot = target;
        }
        self
    }

    /// The jump target, if the instruction may jump.
    pub fn target(mut self) -> Option<u32> {
        self.target_mut().copied()
    }

    /// The one place that says which instructions jump and where their target is kept.
    fn target_mut(&mut self) -> Option<&mut u32> {
        match self {
            Op::AndMerge(t) | Op::OrMerge(t) | Op::Jump(t) => Some(t),
            Op::IterInit { end, .. } | Op::IterNext { end, .. } | Op::QuantStep { end, .. } => Some(end),
            Op::Const(_)
            | Op::Bool(_)
            | Op::Param(_)
            | Op::ActionTool
            | Op::ActionOperation
            | Op::Identity(_)
            | Op::Context(_)
            | Op::Evidence(_)
            | Op::EvidenceIsSet(_)
            | Op::Local(_)
            | Op::SetLocal(_)
            | Op::Group(_)
            | Op::Field(_)
            | Op::Unwrap
            | Op::Widen
            | Op::Neg
            | Op::Not
            | Op::Arith(_)
            | Op::Cmp(_)
            | Op::In
            | Op::IsSet { .. }
            | Op::Method(_)
            | Op::Matches(_)
            | Op::MakeList(_)
            | Op::MakeRecord(_)
            | Op::FilterStep { .. }
            | Op::IterEnd
            | Op::Pop
            | Op::Call(_)
            | Op::Ret
            | Op::ParamConstMethod { .. }
            | Op::ParamConstCmp { .. }
            | Op::ParamInConst { .. }
            | Op::ConstInParam { .. }
            | Op::ConstInRoles { .. }
            | Op::ParamInGroup { .. }
            | Op::IdentityInGroup { .. } => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::spans::SpanRun;

    #[test]
    fn span_at_finds_the_run_covering_an_instruction() {
        let chunk = Chunk {
            code: vec![Op::Bool(true); 6],
            locals: 0,
            params: 0,
            spans: vec![SpanRun { from: 1, span: 7 }, SpanRun { from: 3, span: 9 }],
        };
        assert_eq!(chunk.span_at(0), None);
        assert_eq!(chunk.span_at(1), Some(7));
        assert_eq!(chunk.span_at(2), Some(7));
        assert_eq!(chunk.span_at(3), Some(9));
        assert_eq!(chunk.span_at(5), Some(9));
    }
}

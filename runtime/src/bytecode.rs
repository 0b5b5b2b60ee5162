//! The bytecode: a small stack machine with three-valued booleans (docs/language.md, "Evidence and three-valued logic").
//!
//! Each rule condition, reason interpolation, `modify` assignment and `fn` body is a [`Chunk`]
//! ending in [`Op::Ret`]. Operands are indices into the bundle's tables, checked once by the
//! verifier when the bundle is loaded, and again (cheaply, without panicking) by the VM.
// A new instruction, decision or outcome must be handled wherever these are matched, not fall
// into a catch-all arm unnoticed.
#![warn(clippy::wildcard_enum_match_arm)]

use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Chunk {
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
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum IdentityField {
    Human,
    Service,
    Agent,
    Session,
    Roles,
}

/// A field of `context`: built in, or declared (by slot).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum ContextField {
    OriginalRequest,
    PriorActions,
    DataClasses,
    SemanticDistance,
    Now,
    Declared(u16),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum ArithOp {
    IntAdd,
    IntSub,
    IntMul,
    IntDiv,
    DecAdd,
    DecSub,
    DecMul,
    DecDiv,
    Concat,
    TimeAddDur,
    TimeSubDur,
    TimeSubTime,
    DurAdd,
    DurSub,
    DurMulInt,
    DurDivInt,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum CmpOp {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
}

/// Built-in methods. Each pops its receiver and fixed arguments and pushes one value.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum MethodOp {
    StartsWith,
    EndsWith,
    StrContains,
    Lower,
    Upper,
    Trim,
    Glob,
    StrLen,
    Len,
    Contains,
    ContainsAny,
    ContainsAll,
    Hour,
    Minute,
    Weekday,
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

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum QuantKind {
    Any,
    All,
    Count,
}

/// One instruction. Jump targets are instruction indices within the chunk.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Op {
    /// Push constant `i` of the pool.
    Const(u32),
    Bool(bool),
    /// Push `params` slot `i` of the action's tool.
    Param(u16),
    ActionTool,
    ActionOperation,
    Identity(IdentityField),
    Context(ContextField),
    /// Push evidence `i`, or `unknown` when the request does not carry it.
    Evidence(u16),
    /// Push `is set` of evidence `i` (always definite).
    EvidenceIsSet(u16),
    Local(u16),
    SetLocal(u16),
    /// Push group `i` as a set of strings.
    Group(u16),
    /// Replace a record with its field `i`.
    Field(u16),
    /// Replace an optional that must be set with its value (absent is an evaluation error).
    Unwrap,
    /// `Int` → `Decimal`, also element-wise on a list.
    Widen,
    Neg,
    Not,
    Arith(ArithOp),
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
        negated: bool,
    },
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
        acc: u16,
        end: u32,
    },
    /// `[.., coll, i]`: if `i < len`, store `coll[i]` in the local, advance; else jump.
    IterNext {
        local: u16,
        end: u32,
    },
    /// Pops a body result and folds it into the accumulator local; `any` / `all` jump to the
    /// target once decided.
    QuantStep {
        kind: QuantKind,
        acc: u16,
        end: u32,
    },
    /// Pops a predicate result; appends the local `var` to the list in local `acc` when true.
    FilterStep {
        var: u16,
        acc: u16,
    },
    /// `[.., coll, i]` → `[..]`.
    IterEnd,
    Jump(u32),
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
        slot: u16,
        m: MethodOp,
        konst: u32,
    },
    /// `param slot; const konst; cmp(c)`.
    #[serde(skip)]
    ParamConstCmp {
        slot: u16,
        c: CmpOp,
        konst: u32,
    },
    /// `param slot; const konst; in`: the parameter in a constant collection.
    #[serde(skip)]
    ParamInConst {
        slot: u16,
        konst: u32,
    },
    /// `const konst; param slot; in`: a constant in a list parameter.
    #[serde(skip)]
    ConstInParam {
        konst: u32,
        slot: u16,
    },
    /// `const konst; identity(roles); in`.
    #[serde(skip)]
    ConstInRoles {
        konst: u32,
    },
    /// `param slot; group g; in`: the parameter in a group.
    #[serde(skip)]
    ParamInGroup {
        slot: u16,
        group: u16,
    },
    /// `identity(field); group g; in`: `identity.human in admins` and the like.
    #[serde(skip)]
    IdentityInGroup {
        field: IdentityField,
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
    pub fn with_target(self, target: u32) -> Op {
        match self {
            Op::AndMerge(_) => Op::AndMerge(target),
            Op::OrMerge(_) => Op::OrMerge(target),
            Op::Jump(_) => Op::Jump(target),
            Op::IterInit { acc, .. } => Op::IterInit { acc, end: target },
            Op::IterNext { local, .. } => Op::IterNext { local, end: target },
            Op::QuantStep { kind, acc, .. } => Op::QuantStep { kind, acc, end: target },
            other @ (Op::Const(_)
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
            | Op::IdentityInGroup { .. }) => other,
        }
    }

    /// The jump target, if the instruction may jump.
    pub fn target(self) -> Option<u32> {
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

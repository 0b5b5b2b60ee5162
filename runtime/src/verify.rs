//! The bytecode verifier, run on every bundle load (docs/bundle.md, "Verification on load"): a bundle that passes it
//! cannot make the VM read out of bounds, underflow or overflow its stack, end a chunk with other
//! than exactly one value, or recurse; a bundle that fails it is refused with an error that says
//! where (chunk or function and instruction index) and what is wrong.
//!
//! Checks, in order:
//! - tables: evidence count within [`MAX_EVIDENCE`], `dispatch` has one list per declared tool,
//!   every regex compiles (with the `REGEX_SIZE_LIMIT`), every rule's policy exists;
//! - rules and candidates: rule, chunk and `params` slot indices in range, `reason` interpolations
//!   within each candidate's `reason_chunks`, `defer` evidence in range, each dispatch list sorted
//!   by priority (highest first) then source order;
//! - each chunk and function: non-empty, ends with `Ret`, operand indices within the program's
//!   tables and the chunk's locals, jump targets inside the chunk, `Param` slots within the fields
//!   of every tool whose candidates use the chunk (none at all for `on *` candidates of an
//!   undeclared tool, and none in functions), stack depth (abstract interpretation over the control
//!   flow graph: no underflow, one depth at each join, at most [`MAX_STACK`], exactly one value at
//!   `Ret`);
//! - functions: `params <= locals`; the call graph is acyclic (the cycle is named) and no deeper
//!   than [`MAX_CALL_DEPTH`].
//!
//! The verifier itself never panics, recurses or indexes unchecked: it reads hostile input.
// A new instruction, decision or outcome must be handled wherever these are matched, not fall
// into a catch-all arm unnoticed.
#![warn(clippy::wildcard_enum_match_arm)]

use crate::bytecode::{Chunk, ContextField, Op};
use crate::program::{Candidate, DecisionTemplate, Program, ReasonPart};
use crate::regex_memo::RegexMemo;
use crate::spans::MAX_SPAN_TEXT;
use crate::value::MAX_EVIDENCE;

/// Most values a chunk may have on its stack at any point.
pub const MAX_STACK: usize = 1024;

/// Longest chain of nested function calls (`f` calls `g` calls ...), counting the outermost call.
pub const MAX_CALL_DEPTH: usize = 256;

/// Compiled-size limit for each `matches` regex, in bytes (the `regex` crate's `size_limit`).
pub(crate) const REGEX_SIZE_LIMIT: usize = 1 << 22;

/// Compiles a bundle regex with the limits the verifier checks. The VM should compile with this
/// too, so that what passed verification compiles again. Remembered (`regex_memo.rs`): the
/// verifier and the engine compile each of a bundle's patterns, and bundles share patterns.
pub(crate) fn compile_regex(pattern: &str) -> Result<regex::Regex, regex::Error> {
    static PATTERNS: RegexMemo = RegexMemo::new(compile_regex_afresh);
    PATTERNS.compile(pattern)
}

/// [`compile_regex`] without the memo.
pub(crate) fn compile_regex_afresh(pattern: &str) -> Result<regex::Regex, regex::Error> {
    regex::RegexBuilder::new(pattern).size_limit(REGEX_SIZE_LIMIT).dfa_size_limit(REGEX_SIZE_LIMIT).build()
}

/// A piece of code: a rule chunk (`Program::chunks`) or a function body (`Program::functions`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ChunkRef {
    /// A rule chunk, by index into `Program::chunks`.
    Chunk(usize),
    /// A function body, by index into `Program::functions`.
    Function(usize),
}

impl std::fmt::Display for ChunkRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ChunkRef::Chunk(i) => write!(f, "chunk {i}"),
            ChunkRef::Function(i) => write!(f, "function {i}"),
        }
    }
}

/// A dispatch list: a declared tool's (by schema index), or the one for undeclared tools.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DispatchRef {
    /// The list of a declared tool, by its index in the schema.
    Tool(usize),
    /// The list for tools the schema does not declare.
    Any,
}

impl std::fmt::Display for DispatchRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            DispatchRef::Tool(i) => write!(f, "the dispatch list of tool {i}"),
            DispatchRef::Any => write!(f, "the dispatch list of undeclared tools"),
        }
    }
}

/// Which table an instruction operand indexes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Table {
    /// The constant pool.
    Const,
    /// The `matches` patterns.
    Regex,
    /// The groups (sets of identities or values).
    Group,
    /// The declared evidence facts.
    Evidence,
    /// The declared `context` fields.
    Context,
    /// The function bodies.
    Function,
}

impl std::fmt::Display for Table {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Table::Const => "constant",
            Table::Regex => "regex",
            Table::Group => "group",
            Table::Evidence => "evidence",
            Table::Context => "declared context field",
            Table::Function => "function",
        })
    }
}

/// What a candidate refers to by chunk index.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ChunkUse {
    /// The rule's condition.
    Condition,
    /// An expression its reason interpolates.
    Reason,
    /// A value a `modify` assigns.
    Assignment,
}

impl std::fmt::Display for ChunkUse {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            ChunkUse::Condition => "condition",
            ChunkUse::Reason => "reason interpolation",
            ChunkUse::Assignment => "`modify` assignment",
        })
    }
}

/// Why a bundle's program was refused. Each names where (chunk or function, instruction index;
/// dispatch list and candidate; rule) and what is wrong.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum VerifyError {
    /// The bundle declares more evidence facts than an evidence mask has bits.
    #[error("the bundle declares {count} evidence facts; at most {max} are supported")]
    TooManyEvidence {
        /// How many the bundle declares.
        count: usize,
        /// The most an evidence mask can carry.
        max: usize,
    },
    /// The dispatch table does not have exactly one list per declared tool.
    #[error("the dispatch table has {dispatch} lists but the schema declares {tools} tools")]
    DispatchLength {
        /// Lists in the dispatch table.
        dispatch: usize,
        /// Tools the schema declares.
        tools: usize,
    },
    /// A `matches` pattern does not compile within the size limits the VM compiles it with.
    #[error("regex {index} (`{pattern}`) does not compile: {message}")]
    BadRegex {
        /// The regex (index into the regex table).
        index: usize,
        /// The pattern, as the bundle carries it.
        pattern: String,
        /// The `regex` crate's reason.
        message: String,
    },
    /// A rule names a policy the bundle does not have.
    #[error("rule {rule} belongs to policy {policy}, but the bundle has {policies} policies")]
    PolicyOutOfRange {
        /// The rule (index into the program's rules).
        rule: usize,
        /// The policy index the rule names.
        policy: u32,
        /// Policies the bundle has.
        policies: usize,
    },
    /// A rule's `defer` block needs an evidence fact the bundle does not declare.
    #[error("rule {rule}: `defer` needs evidence {index}, but the bundle declares {evidence} evidence facts")]
    DeferEvidenceOutOfRange {
        /// The rule (index into the program's rules).
        rule: usize,
        /// The evidence fact the block needs.
        index: u16,
        /// Evidence facts the bundle declares.
        evidence: usize,
    },
    /// A dispatch candidate names a rule the bundle does not have.
    #[error("candidate {candidate} of {dispatch} names rule {rule}, but the bundle has {rules} rules")]
    RuleOutOfRange {
        /// The dispatch list.
        dispatch: DispatchRef,
        /// The candidate (position in its dispatch list).
        candidate: usize,
        /// The rule (index into the program's rules).
        rule: u32,
        /// Rules the bundle has.
        rules: usize,
    },
    /// A candidate's condition, reason or assignment chunk does not exist.
    #[error("candidate {candidate} of {dispatch}: its {what} is chunk {chunk}, but the bundle has {chunks} chunks")]
    CandidateChunkOutOfRange {
        /// The dispatch list.
        dispatch: DispatchRef,
        /// The candidate (position in its dispatch list).
        candidate: usize,
        /// Which of the candidate's chunks.
        what: ChunkUse,
        /// The chunk index the candidate names.
        chunk: u32,
        /// Chunks the bundle has.
        chunks: usize,
    },
    /// A rule's reason interpolates an expression its candidate has no chunk for.
    #[error(
        "candidate {candidate} of {dispatch}: the reason of rule {rule} interpolates expression {index}, \
         but the candidate has {available} reason chunks"
    )]
    ReasonExprOutOfRange {
        /// The dispatch list.
        dispatch: DispatchRef,
        /// The candidate (position in its dispatch list).
        candidate: usize,
        /// The rule (index into the program's rules).
        rule: u32,
        /// The interpolated expression.
        index: u32,
        /// Reason chunks the candidate has.
        available: usize,
    },
    /// A `modify` assigns a parameter slot the tool does not have.
    #[error(
        "candidate {candidate} of {dispatch}: `modify` assigns params slot {slot}, but the tool has {fields} fields"
    )]
    AssignmentSlotOutOfRange {
        /// The dispatch list.
        dispatch: DispatchRef,
        /// The candidate (position in its dispatch list).
        candidate: usize,
        /// The parameter slot assigned.
        slot: u16,
        /// Parameters (fields) the tool has.
        fields: usize,
    },
    /// A candidate for undeclared tools has `modify` assignments, which need declared parameters.
    #[error("candidate {candidate} of the dispatch list of undeclared tools has `modify` assignments")]
    AssignmentWithoutTool {
        /// The candidate (position in its dispatch list).
        candidate: usize,
    },
    /// A dispatch list is out of order: the engine stops at the first priority level that decides, so the order is part of the meaning.
    #[error(
        "{dispatch} is not sorted by priority (highest first), then source order: candidate {candidate} \
         (rule {rule}) comes after candidate {previous} (rule {previous_rule})"
    )]
    DispatchNotSorted {
        /// The dispatch list.
        dispatch: DispatchRef,
        /// The candidate out of order.
        candidate: usize,
        /// The rule (index into the program's rules).
        rule: u32,
        /// The candidate before it.
        previous: usize,
        /// The previous candidate's rule.
        previous_rule: u32,
    },
    /// A chunk carries a fused instruction, which only the engine makes, at load time.
    #[error("{chunk}, instruction {at}: `{op:?}` is made by the engine at load time and cannot come from a program")]
    FusedInstruction {
        /// The chunk or function.
        chunk: ChunkRef,
        /// The instruction (index within the chunk).
        at: usize,
        /// The offending instruction.
        op: Op,
    },
    /// A chunk has no instructions at all.
    #[error("{chunk} is empty (every chunk ends with `Ret`)")]
    EmptyChunk {
        /// The chunk or function.
        chunk: ChunkRef,
    },
    /// A chunk does not end with `Ret`, so running it could fall off its end.
    #[error("{chunk} does not end with `Ret` (its last instruction, {at}, is `{op:?}`)")]
    MissingRet {
        /// The chunk or function.
        chunk: ChunkRef,
        /// The instruction (index within the chunk).
        at: usize,
        /// The offending instruction.
        op: Op,
    },
    /// A chunk declares a parameter count that does not fit its use (functions only have parameters).
    #[error("{chunk} declares {params} parameters, but {expected}")]
    BadParamCount {
        /// The chunk or function.
        chunk: ChunkRef,
        /// The parameter count the chunk declares.
        params: u16,
        /// What its use requires, in words.
        expected: String,
    },
    /// A jump lands outside its chunk.
    #[error("{chunk}, instruction {at}: jump target {target} is outside the chunk ({len} instructions)")]
    JumpOutOfRange {
        /// The chunk or function.
        chunk: ChunkRef,
        /// The instruction (index within the chunk).
        at: usize,
        /// The jump target.
        target: u32,
        /// The chunk's length in instructions.
        len: usize,
    },
    /// An operand indexes a table entry the bundle does not have.
    #[error("{chunk}, instruction {at}: {table} {index} does not exist (the bundle has {len})")]
    IndexOutOfRange {
        /// The chunk or function.
        chunk: ChunkRef,
        /// The instruction (index within the chunk).
        at: usize,
        /// The table indexed.
        table: Table,
        /// The entry the operand names.
        index: u64,
        /// Entries the table has.
        len: usize,
    },
    /// An instruction reads or writes a local slot beyond the chunk's declared locals.
    #[error("{chunk}, instruction {at}: local {slot} is outside the chunk's {locals} locals")]
    LocalOutOfRange {
        /// The chunk or function.
        chunk: ChunkRef,
        /// The instruction (index within the chunk).
        at: usize,
        /// The local slot.
        slot: u16,
        /// Locals the chunk declares.
        locals: u16,
    },
    /// An instruction reads a parameter slot that some tool using the chunk does not have.
    #[error(
        "{chunk}, instruction {at}: params slot {slot} does not exist for tool {tool} ({fields} fields), \
         whose candidate {candidate} uses this chunk"
    )]
    ParamOutOfRange {
        /// The chunk or function.
        chunk: ChunkRef,
        /// The instruction (index within the chunk).
        at: usize,
        /// The parameter slot read.
        slot: u16,
        /// The tool (schema index).
        tool: usize,
        /// Parameters that tool has (the fewest among the tools using the chunk).
        fields: usize,
        /// A candidate of that tool that uses the chunk.
        candidate: usize,
    },
    /// An instruction reads a parameter in code that runs without a declared tool.
    #[error("{chunk}, instruction {at}: reads params slot {slot}, but {reason}")]
    ParamWithoutTool {
        /// The chunk or function.
        chunk: ChunkRef,
        /// The instruction (index within the chunk).
        at: usize,
        /// The parameter slot read.
        slot: u16,
        /// Why no tool is known there.
        reason: &'static str,
    },
    /// An instruction pops more values than the stack holds on some path.
    #[error("{chunk}, instruction {at}: `{op:?}` needs {needed} values on the stack, but there are {depth}")]
    StackUnderflow {
        /// The chunk or function.
        chunk: ChunkRef,
        /// The instruction (index within the chunk).
        at: usize,
        /// The offending instruction.
        op: Op,
        /// Values the instruction pops.
        needed: usize,
        /// Values on the stack at that point.
        depth: usize,
    },
    /// A chunk would push more values than the VM allows.
    #[error("{chunk}, instruction {at}: the stack would hold {depth} values, more than the {max} allowed")]
    StackOverflow {
        /// The chunk or function.
        chunk: ChunkRef,
        /// The instruction (index within the chunk).
        at: usize,
        /// The depth the chunk would reach.
        depth: usize,
        /// The deepest stack allowed.
        max: usize,
    },
    /// Two paths reach one instruction with different stack depths.
    #[error(
        "{chunk}, instruction {at}: paths join with different stack depths ({expected} and {found}, the \
         latter from instruction {from})"
    )]
    StackMismatch {
        /// The chunk or function.
        chunk: ChunkRef,
        /// The instruction (index within the chunk).
        at: usize,
        /// The depth along the first path.
        expected: usize,
        /// The depth along the other path.
        found: usize,
        /// The instruction the other path comes from.
        from: usize,
    },
    /// `Ret` is reached with other than exactly one value on the stack.
    #[error("{chunk}, instruction {at}: `Ret` with {depth} values on the stack (exactly 1 expected)")]
    RetDepth {
        /// The chunk or function.
        chunk: ChunkRef,
        /// The instruction (index within the chunk).
        at: usize,
        /// Values on the stack at `Ret`.
        depth: usize,
    },
    /// A chunk's span runs are not sorted, or one starts past the chunk's end.
    #[error("{chunk}: span run {run} starts at instruction {from}, not after the previous run and before the end ({len} instructions)")]
    SpanRunOutOfOrder {
        /// The chunk or function.
        chunk: ChunkRef,
        /// The span run (index within the chunk).
        run: usize,
        /// The first instruction the run claims.
        from: u32,
        /// The chunk's length in instructions.
        len: usize,
    },
    /// A span run names a span the span table does not have.
    #[error("{chunk}: span run {run} names span {span}, but the span table has {spans}")]
    SpanOutOfRange {
        /// The chunk or function.
        chunk: ChunkRef,
        /// The span run (index within the chunk).
        run: usize,
        /// The span (index into the span table).
        span: u32,
        /// Spans the table has.
        spans: usize,
    },
    /// A span names a file the span table does not have.
    #[error("span {span} names file {file}, but the span table has {files} files")]
    SpanFileOutOfRange {
        /// The span (index into the span table).
        span: usize,
        /// The file index the span names.
        file: u32,
        /// Files the table has.
        files: usize,
    },
    /// A span's expression text is longer than the bundle format allows.
    #[error("span {span} carries {len} bytes of expression text; at most {max} are allowed")]
    SpanTextTooLong {
        /// The span (index into the span table).
        span: usize,
        /// The text's length in bytes.
        len: usize,
        /// The longest text allowed, in bytes.
        max: usize,
    },
    /// Functions call each other in a cycle: evaluation could recurse without end.
    #[error("functions call each other in a cycle: {}", fmt_cycle(.cycle))]
    CallCycle {
        /// The functions of the cycle, in call order.
        cycle: Vec<usize>,
    },
    /// A chain of nested calls is deeper than the VM allows.
    #[error("function {function} starts a chain of {depth} nested calls; at most {max} are allowed")]
    CallTooDeep {
        /// The outermost function of the chain.
        function: usize,
        /// Calls in the chain, counting the outermost.
        depth: usize,
        /// The deepest chain allowed.
        max: usize,
    },
}

fn fmt_cycle(cycle: &[usize]) -> String {
    let mut parts: Vec<String> = cycle.iter().map(|f| format!("function {f}")).collect();
    if let Some(first) = cycle.first() {
        parts.push(format!("function {first}"));
    }
    parts.join(" -> ")
}

/// Where a chunk's `Param` reads are checked against: the smallest field count among the tools
/// whose candidates use it (and which one), or "no Param at all".
#[derive(Clone, Copy)]
enum ParamBound {
    /// Not used by any candidate: nothing to check against (the VM never runs it).
    Unused,
    /// (fields, tool, candidate) of the tool with the fewest fields among the users.
    Tool { fields: usize, tool: usize, candidate: usize },
    /// Used by a candidate for undeclared tools, or a function body: no `Param` allowed.
    None(&'static str),
}

/// Checks a decoded program before anything runs it.
pub fn verify_program(p: &Program) -> Result<(), VerifyError> {
    verify_tables(p)?;
    let bounds = verify_dispatch(p)?;
    for (i, chunk) in p.chunks.iter().enumerate() {
        let bound = bounds.get(i).copied().unwrap_or(ParamBound::Unused);
        verify_chunk(p, ChunkRef::Chunk(i), chunk, bound)?;
    }
    for (i, chunk) in p.functions.iter().enumerate() {
        let bound = ParamBound::None("function bodies have no tool parameters");
        verify_chunk(p, ChunkRef::Function(i), chunk, bound)?;
    }
    verify_spans(p)?;
    verify_call_graph(p)
}

/// The span table is only read when an evaluation fails, but it is checked here like the rest:
/// a bundle whose spans point outside their tables is refused, never read out of bounds later.
fn verify_spans(p: &Program) -> Result<(), VerifyError> {
    let table = &p.spans;
    for (span, s) in table.spans.iter().enumerate() {
        if s.file as usize >= table.files.len() {
            return Err(VerifyError::SpanFileOutOfRange { span, file: s.file, files: table.files.len() });
        }
        if s.text.len() > MAX_SPAN_TEXT {
            return Err(VerifyError::SpanTextTooLong { span, len: s.text.len(), max: MAX_SPAN_TEXT });
        }
    }
    let chunks = p.chunks.iter().enumerate().map(|(i, c)| (ChunkRef::Chunk(i), c));
    let functions = p.functions.iter().enumerate().map(|(i, c)| (ChunkRef::Function(i), c));
    for (chunk, c) in chunks.chain(functions) {
        let mut next_from = 0u32;
        for (run, r) in c.spans.iter().enumerate() {
            if r.from < next_from || r.from as usize >= c.code.len() {
                return Err(VerifyError::SpanRunOutOfOrder { chunk, run, from: r.from, len: c.code.len() });
            }
            if r.span as usize >= table.spans.len() {
                return Err(VerifyError::SpanOutOfRange { chunk, run, span: r.span, spans: table.spans.len() });
            }
            next_from = r.from.saturating_add(1);
        }
    }
    Ok(())
}

fn verify_tables(p: &Program) -> Result<(), VerifyError> {
    if p.schema.evidence.len() > MAX_EVIDENCE {
        return Err(VerifyError::TooManyEvidence { count: p.schema.evidence.len(), max: MAX_EVIDENCE });
    }
    if p.dispatch.len() != p.schema.tools.len() {
        return Err(VerifyError::DispatchLength { dispatch: p.dispatch.len(), tools: p.schema.tools.len() });
    }
    for (index, pattern) in p.regexes.iter().enumerate() {
        if let Err(e) = compile_regex(pattern) {
            return Err(VerifyError::BadRegex { index, pattern: pattern.clone(), message: e.to_string() });
        }
    }
    let evidence = p.schema.evidence.len();
    for (rule, meta) in p.rules.iter().enumerate() {
        if meta.policy as usize >= p.policies.len() {
            return Err(VerifyError::PolicyOutOfRange { rule, policy: meta.policy, policies: p.policies.len() });
        }
        if let DecisionTemplate::Defer(d) = &meta.decision {
            if let Some(&index) = d.need.iter().find(|&&n| usize::from(n) >= evidence) {
                return Err(VerifyError::DeferEvidenceOutOfRange { rule, index, evidence });
            }
        }
    }
    Ok(())
}

/// Checks every candidate; returns, per chunk, what its `Param` reads are checked against.
fn verify_dispatch(p: &Program) -> Result<Vec<ParamBound>, VerifyError> {
    let mut bounds = vec![ParamBound::Unused; p.chunks.len()];
    let lists = p
        .dispatch
        .iter()
        .enumerate()
        .map(|(t, list)| (DispatchRef::Tool(t), list))
        .chain(std::iter::once((DispatchRef::Any, &p.dispatch_any)));
    for (dispatch, list) in lists {
        let fields = match dispatch {
            DispatchRef::Tool(t) => p.schema.tools.get(t).map(|tool| tool.fields.len()),
            DispatchRef::Any => None,
        };
        let mut previous: Option<(usize, u32, i64, u32)> = None;
        for (ci, cand) in list.iter().enumerate() {
            let Some(rule) = p.rules.get(cand.rule as usize) else {
                return Err(VerifyError::RuleOutOfRange {
                    dispatch,
                    candidate: ci,
                    rule: cand.rule,
                    rules: p.rules.len(),
                });
            };
            if let Some((prev_ci, prev_rule, prev_priority, prev_order)) = previous {
                let sorted =
                    prev_priority > rule.priority || (prev_priority == rule.priority && prev_order <= rule.order);
                if !sorted {
                    return Err(VerifyError::DispatchNotSorted {
                        dispatch,
                        candidate: ci,
                        rule: cand.rule,
                        previous: prev_ci,
                        previous_rule: prev_rule,
                    });
                }
            }
            previous = Some((ci, cand.rule, rule.priority, rule.order));
            for part in &rule.reason {
                if let ReasonPart::Expr(index) = part {
                    if *index as usize >= cand.reason_chunks.len() {
                        return Err(VerifyError::ReasonExprOutOfRange {
                            dispatch,
                            candidate: ci,
                            rule: cand.rule,
                            index: *index,
                            available: cand.reason_chunks.len(),
                        });
                    }
                }
            }
            for &(slot, _) in &cand.assignments {
                match fields {
                    Some(n) if usize::from(slot) >= n => {
                        return Err(VerifyError::AssignmentSlotOutOfRange { dispatch, candidate: ci, slot, fields: n })
                    }
                    Some(_) => {}
                    None => return Err(VerifyError::AssignmentWithoutTool { candidate: ci }),
                }
            }
            for (what, chunk) in candidate_chunks(cand) {
                let Some(bound) = bounds.get_mut(chunk as usize) else {
                    return Err(VerifyError::CandidateChunkOutOfRange {
                        dispatch,
                        candidate: ci,
                        what,
                        chunk,
                        chunks: p.chunks.len(),
                    });
                };
                *bound = match (dispatch, fields, *bound) {
                    (_, _, ParamBound::None(r)) => ParamBound::None(r),
                    (DispatchRef::Tool(tool), Some(n), ParamBound::Unused) => {
                        ParamBound::Tool { fields: n, tool, candidate: ci }
                    }
                    (DispatchRef::Tool(tool), Some(n), ParamBound::Tool { fields, .. }) if n < fields => {
                        ParamBound::Tool { fields: n, tool, candidate: ci }
                    }
                    (DispatchRef::Tool(_), Some(_), b @ ParamBound::Tool { .. }) => b,
                    _ => ParamBound::None("a candidate for undeclared tools uses this chunk"),
                };
            }
        }
    }
    Ok(bounds)
}

fn candidate_chunks(c: &Candidate) -> impl Iterator<Item = (ChunkUse, u32)> + '_ {
    std::iter::once((ChunkUse::Condition, c.condition))
        .chain(c.reason_chunks.iter().map(|&r| (ChunkUse::Reason, r)))
        .chain(c.assignments.iter().map(|&(_, a)| (ChunkUse::Assignment, a)))
}

fn verify_chunk(p: &Program, at_chunk: ChunkRef, chunk: &Chunk, bound: ParamBound) -> Result<(), VerifyError> {
    match at_chunk {
        ChunkRef::Function(_) if chunk.params > chunk.locals => {
            return Err(VerifyError::BadParamCount {
                chunk: at_chunk,
                params: chunk.params,
                expected: format!("it has only {} locals (parameters are its first locals)", chunk.locals),
            });
        }
        ChunkRef::Chunk(_) if chunk.params != 0 => {
            return Err(VerifyError::BadParamCount {
                chunk: at_chunk,
                params: chunk.params,
                expected: "only functions have parameters".to_string(),
            });
        }
        ChunkRef::Function(_) | ChunkRef::Chunk(_) => {}
    }
    let code = &chunk.code;
    let Some(&last) = code.last() else {
        return Err(VerifyError::EmptyChunk { chunk: at_chunk });
    };
    if last != Op::Ret {
        return Err(VerifyError::MissingRet { chunk: at_chunk, at: code.len() - 1, op: last });
    }
    for (at, &op) in code.iter().enumerate() {
        verify_operands(p, at_chunk, chunk, bound, at, op)?;
    }
    verify_stack(p, at_chunk, code)
}

fn verify_operands(
    p: &Program,
    at_chunk: ChunkRef,
    chunk: &Chunk,
    bound: ParamBound,
    at: usize,
    op: Op,
) -> Result<(), VerifyError> {
    let index = |table: Table, index: u64, len: usize| {
        if index >= len as u64 {
            Err(VerifyError::IndexOutOfRange { chunk: at_chunk, at, table, index, len })
        } else {
            Ok(())
        }
    };
    let local = |slot: u16| {
        if slot >= chunk.locals {
            Err(VerifyError::LocalOutOfRange { chunk: at_chunk, at, slot, locals: chunk.locals })
        } else {
            Ok(())
        }
    };
    if let Some(target) = op.target() {
        if target as usize >= chunk.code.len() {
            return Err(VerifyError::JumpOutOfRange { chunk: at_chunk, at, target, len: chunk.code.len() });
        }
    }
    if op.is_fused() {
        return Err(VerifyError::FusedInstruction { chunk: at_chunk, at, op });
    }
    match op {
        Op::Const(i) => index(Table::Const, i.into(), p.consts.len()),
        Op::Matches(i) => index(Table::Regex, i.into(), p.regexes.len()),
        Op::Group(i) => index(Table::Group, i.into(), p.groups.len()),
        Op::Evidence(i) | Op::EvidenceIsSet(i) => index(Table::Evidence, i.into(), p.schema.evidence.len()),
        Op::Context(ContextField::Declared(i)) => index(Table::Context, i.into(), p.schema.context.len()),
        Op::Call(i) => index(Table::Function, i.into(), p.functions.len()),
        Op::Local(slot)
        | Op::SetLocal(slot)
        | Op::IterInit { acc: slot, .. }
        | Op::IterNext { local: slot, .. }
        | Op::QuantStep { acc: slot, .. } => local(slot),
        Op::FilterStep { var, acc } => local(var).and_then(|()| local(acc)),
        Op::Param(slot) => match bound {
            ParamBound::Unused => Ok(()),
            ParamBound::Tool { fields, tool, candidate } if usize::from(slot) >= fields => {
                Err(VerifyError::ParamOutOfRange { chunk: at_chunk, at, slot, tool, fields, candidate })
            }
            ParamBound::Tool { .. } => Ok(()),
            ParamBound::None(reason) => Err(VerifyError::ParamWithoutTool { chunk: at_chunk, at, slot, reason }),
        },
        // No table index or slot to check (jump targets are checked above, fused instructions
        // refused): a new instruction with an operand must be added to an arm above.
        Op::Bool(_)
        | Op::ActionTool
        | Op::ActionOperation
        | Op::Identity(_)
        | Op::Context(
            ContextField::OriginalRequest
            | ContextField::PriorActions
            | ContextField::DataClasses
            | ContextField::SemanticDistance
            | ContextField::Now,
        )
        | Op::Field(_)
        | Op::Unwrap
        | Op::Widen
        | Op::Neg
        | Op::Not
        | Op::Arith(_)
        | Op::Cmp(_)
        | Op::AndMerge(_)
        | Op::OrMerge(_)
        | Op::In
        | Op::IsSet { .. }
        | Op::Method(_)
        | Op::MakeList(_)
        | Op::MakeRecord(_)
        | Op::IterEnd
        | Op::Jump(_)
        | Op::Pop
        | Op::Ret
        | Op::ParamConstMethod { .. }
        | Op::ParamConstCmp { .. }
        | Op::ParamInConst { .. }
        | Op::ConstInParam { .. }
        | Op::ConstInRoles { .. }
        | Op::ParamInGroup { .. }
        | Op::IdentityInGroup { .. } => Ok(()),
    }
}

/// (values the instruction needs on the stack, depth change as (popped, pushed)).
fn effect(p: &Program, op: Op) -> (usize, usize, usize) {
    // Three instructions need more than they pop; every other one needs exactly what it pops, as
    // `Op::stack_effect` says (which names every instruction).
    if let Op::Call(f) = op {
        let params = p.functions.get(usize::from(f)).map_or(0, |c| usize::from(c.params));
        return (params, params, 1);
    }
    if let Op::IterInit { .. } = op {
        // `[.., coll]` → `[.., coll, 0]`: needs the collection.
        return (1, 0, 1);
    }
    if let Op::IterNext { .. } = op {
        // `[.., coll, i]`, unchanged.
        return (2, 0, 0);
    }
    let (pops, pushes) = op.stack_effect();
    (pops, pops, pushes)
}

/// Stack depth by abstract interpretation: each instruction gets one entry depth, whichever path
/// reaches it. Runs in time linear in the chunk's size (each instruction is visited once).
fn verify_stack(p: &Program, at_chunk: ChunkRef, code: &[Op]) -> Result<(), VerifyError> {
    let mut depth_at: Vec<Option<usize>> = vec![None; code.len()];
    if let Some(first) = depth_at.first_mut() {
        *first = Some(0);
    }
    let mut work: Vec<usize> = vec![0];
    while let Some(at) = work.pop() {
        let (Some(&op), Some(&Some(depth))) = (code.get(at), depth_at.get(at)) else {
            continue;
        };
        let (needed, pops, pushes) = effect(p, op);
        if depth < needed {
            return Err(VerifyError::StackUnderflow { chunk: at_chunk, at, op, needed, depth });
        }
        if op == Op::Ret {
            if depth != 1 {
                return Err(VerifyError::RetDepth { chunk: at_chunk, at, depth });
            }
            continue;
        }
        let after = depth - pops + pushes;
        if after > MAX_STACK {
            return Err(VerifyError::StackOverflow { chunk: at_chunk, at, depth: after, max: MAX_STACK });
        }
        let fall_through = if matches!(op, Op::Jump(_)) { None } else { Some(at + 1) };
        let jump = op.target().map(|t| t as usize);
        for next in fall_through.into_iter().chain(jump) {
            match depth_at.get_mut(next) {
                Some(slot @ None) => {
                    *slot = Some(after);
                    work.push(next);
                }
                Some(Some(expected)) if *expected != after => {
                    return Err(VerifyError::StackMismatch {
                        chunk: at_chunk,
                        at: next,
                        expected: *expected,
                        found: after,
                        from: at,
                    });
                }
                // Already reached with the same depth; or past the end, which cannot happen
                // (targets were checked, and the last instruction is `Ret`).
                _ => {}
            }
        }
    }
    Ok(())
}

/// The call graph among functions must be acyclic (the VM would recurse forever) and shallow.
/// Iterative depth-first search: a hostile bundle cannot overflow the verifier's stack either.
fn verify_call_graph(p: &Program) -> Result<(), VerifyError> {
    let n = p.functions.len();
    let callees: Vec<Vec<usize>> = p
        .functions
        .iter()
        .map(|f| {
            let mut c: Vec<usize> = f
                .code
                .iter()
                .filter_map(|op| if let Op::Call(g) = op { Some(usize::from(*g)) } else { None })
                .filter(|&g| g < n)
                .collect();
            c.sort_unstable();
            c.dedup();
            c
        })
        .collect();
    #[derive(Clone, Copy, PartialEq)]
    enum State {
        New,
        OnPath,
        Done,
    }
    let mut state = vec![State::New; n];
    // Longest call chain starting at each function (itself included), known once Done.
    let mut height = vec![0usize; n];
    for root in 0..n {
        if state.get(root) != Some(&State::New) {
            continue;
        }
        // (function, next callee position)
        let mut path: Vec<(usize, usize)> = vec![(root, 0)];
        if let Some(s) = state.get_mut(root) {
            *s = State::OnPath;
        }
        while let Some(&mut (f, ref mut pos)) = path.last_mut() {
            let next = callees.get(f).and_then(|c| c.get(*pos)).copied();
            *pos += 1;
            match next {
                Some(g) => match state.get(g) {
                    Some(State::New) => {
                        if let Some(s) = state.get_mut(g) {
                            *s = State::OnPath;
                        }
                        path.push((g, 0));
                    }
                    Some(State::OnPath) => {
                        let start = path.iter().position(|&(h, _)| h == g).unwrap_or(0);
                        let cycle = path.iter().skip(start).map(|&(h, _)| h).collect();
                        return Err(VerifyError::CallCycle { cycle });
                    }
                    _ => {}
                },
                None => {
                    let h = 1 + callees
                        .get(f)
                        .map_or(0, |c| c.iter().filter_map(|&g| height.get(g)).copied().max().unwrap_or(0));
                    if h > MAX_CALL_DEPTH {
                        return Err(VerifyError::CallTooDeep { function: f, depth: h, max: MAX_CALL_DEPTH });
                    }
                    if let Some(slot) = height.get_mut(f) {
                        *slot = h;
                    }
                    if let Some(s) = state.get_mut(f) {
                        *s = State::Done;
                    }
                    path.pop();
                }
            }
        }
    }
    Ok(())
}

//! Expressions → bytecode. Constant lists and records go to the pool, so that a literal list in
//! a condition costs one instruction and no allocation at evaluation time.

use super::CodegenError;
use crate::ir::{self, ActionField, ContextField, ExprKind, Method};
use aarm_lang::ast::QuantKind;
use aarm_lang::{FileId, Span};
use aarm_runtime::bytecode::{self as bc, Chunk, Op};
use aarm_runtime::decimal;
use aarm_runtime::policy::Const;
use aarm_runtime::spans::SpanRun;

/// The bundle-wide tables chunks refer to: constants (deduplicated), regexes, chunks.
#[derive(Default)]
pub(super) struct Pool {
    pub(super) consts: Vec<Const>,
    pub(super) regexes: Vec<String>,
    pub(super) chunks: Vec<Chunk>,
    /// Each constant's index in `consts`, for deduplication (the constants themselves as keys:
    /// equal exactly when their `Debug` texts, the keys formerly built for every constant, are).
    const_index: crate::check::Map<Const, u32>,
    /// The source expressions instructions came from, in first-use order: rendered into the
    /// bundle's span table once code generation is done (`super::span_table`).
    pub(super) spans: Vec<(FileId, Span)>,
    span_index: crate::check::Map<(FileId, Span), u32>,
}

impl Pool {
    fn constant(&mut self, c: Const) -> Result<u32, CodegenError> {
        if let Some(&i) = self.const_index.get(&c) {
            return Ok(i);
        }
        let i = u32::try_from(self.consts.len()).map_err(|_| CodegenError::TooMany("constants"))?;
        self.const_index.insert(c.clone(), i);
        self.consts.push(c);
        Ok(i)
    }

    /// The index of a source expression in the span table. Saturates rather than fails: there
    /// are fewer spans than instructions, and [`ChunkGen::here`] refuses more than `u32::MAX` of
    /// those (the verifier would refuse a saturated index anyway).
    fn span(&mut self, file: FileId, span: Span) -> u32 {
        if let Some(&i) = self.span_index.get(&(file, span)) {
            return i;
        }
        let i = u32::try_from(self.spans.len()).unwrap_or(u32::MAX);
        self.spans.push((file, span));
        self.span_index.insert((file, span), i);
        i
    }

    fn regex(&mut self, pattern: &str) -> Result<u32, CodegenError> {
        if let Some(i) = self.regexes.iter().position(|p| p == pattern) {
            return u32::try_from(i).map_err(|_| CodegenError::TooMany("patterns"));
        }
        self.regexes.push(pattern.to_string());
        u32::try_from(self.regexes.len() - 1).map_err(|_| CodegenError::TooMany("patterns"))
    }
}

/// Builds one chunk.
pub(super) struct ChunkGen<'p, 'b> {
    pool: &'p mut Pool,
    bundle: &'b ir::Bundle,
    /// The tool whose `params` this chunk reads (`None` for `on *` rules and functions).
    tool: Option<&'b ir::Tool>,
    code: Vec<Op>,
    /// Next free local slot: the IR's locals come first, accumulators after.
    next_local: u16,
    /// The file the chunk's source is in (the rule's or the function's).
    file: FileId,
    /// The expression being generated: instructions emitted now come from it.
    at: Option<Span>,
    /// Runs of instructions per source expression (`aarm_runtime::spans`).
    spans: Vec<SpanRun>,
    /// The span last looked up in the pool's span table and its index there: an expression
    /// emits several instructions in a row, and each looked it up again.
    last_span: Option<(Span, u32)>,
}

fn u16_of(n: u32, what: &'static str) -> Result<u16, CodegenError> {
    u16::try_from(n).map_err(|_| CodegenError::TooMany(what))
}

/// Whether an expression is a constant that can live in the pool.
#[expect(
    clippy::wildcard_enum_match_arm,
    reason = "constant folding: any expression that is not a literal is not a constant, and only \
              `Int` constants change when widened"
)]
fn as_const(e: &ir::Expr) -> Option<Const> {
    match &e.kind {
        ExprKind::Const(c) => Some(c.clone()),
        ExprKind::List(items) => items.iter().map(as_const).collect::<Option<Vec<_>>>().map(Const::List),
        ExprKind::Record(fields) => {
            fields.iter().map(|(n, v)| Some((n.clone(), as_const(v)?))).collect::<Option<Vec<_>>>().map(Const::Record)
        }
        ExprKind::Widen(inner) => match as_const(inner)? {
            Const::Int(i) => Some(Const::Decimal(decimal::from_int(i))),
            Const::List(items) => items
                .into_iter()
                .map(|c| match c {
                    Const::Int(i) => Some(Const::Decimal(decimal::from_int(i))),
                    Const::Decimal(d) => Some(Const::Decimal(d)),
                    _ => None,
                })
                .collect::<Option<Vec<_>>>()
                .map(Const::List),
            Const::Decimal(d) => Some(Const::Decimal(d)),
            // Anything else (a record, a list of records) is widened field by field by the
            // checker; a `Widen` around it is left to the VM, which refuses it (fail closed).
            _ => None,
        },
        _ => None,
    }
}

impl<'p, 'b> ChunkGen<'p, 'b> {
    /// A generator for code from `file` (the rule's or the function's).
    pub(super) fn new(
        pool: &'p mut Pool,
        bundle: &'b ir::Bundle,
        tool: Option<&'b ir::Tool>,
        locals: u32,
        file: FileId,
    ) -> Result<Self, CodegenError> {
        Ok(ChunkGen {
            pool,
            bundle,
            tool,
            code: Vec::new(),
            next_local: u16_of(locals, "local variables")?,
            file,
            at: None,
            spans: Vec::new(),
            last_span: None,
        })
    }

    /// Appends an instruction, noting the expression it comes from when that changes.
    fn emit(&mut self, op: Op) {
        if let Some(span) = self.at {
            let index = match self.last_span {
                Some((last, index)) if last == span => index,
                _ => {
                    let index = self.pool.span(self.file, span);
                    self.last_span = Some((span, index));
                    index
                }
            };
            if self.spans.last().map(|r| r.span) != Some(index) {
                let from = u32::try_from(self.code.len()).unwrap_or(u32::MAX);
                self.spans.push(SpanRun { from, span: index });
            }
        }
        self.code.push(op);
    }

    /// Ends the chunk and returns it (for functions, which live in their own table).
    pub(super) fn finish(mut self, params: u16) -> Result<Chunk, CodegenError> {
        self.emit(Op::Ret);
        self.here()?;
        Ok(Chunk { code: self.code, locals: self.next_local.max(params), params, spans: self.spans })
    }

    /// Ends the chunk, adds it to the pool and returns its index.
    pub(super) fn finish_chunk(mut self) -> Result<u32, CodegenError> {
        let pool_len = self.pool.chunks.len();
        let index = u32::try_from(pool_len).map_err(|_| CodegenError::TooMany("chunks"))?;
        self.emit(Op::Ret);
        self.here()?;
        self.pool.chunks.push(Chunk { code: self.code, locals: self.next_local, params: 0, spans: self.spans });
        Ok(index)
    }

    fn here(&self) -> Result<u32, CodegenError> {
        u32::try_from(self.code.len()).map_err(|_| CodegenError::TooMany("instructions"))
    }

    fn fresh_local(&mut self) -> Result<u16, CodegenError> {
        let l = self.next_local;
        self.next_local = self.next_local.checked_add(1).ok_or(CodegenError::TooMany("local variables"))?;
        Ok(l)
    }

    /// Points the jump at `at` to `target`.
    fn patch(&mut self, at: usize, target: u32) {
        if let Some(op) = self.code.get_mut(at) {
            *op = op.with_target(target);
        }
    }

    /// All `when` lines as one three-valued `and` (no lines: `true`).
    pub(super) fn conditions(&mut self, conds: &[ir::Expr]) -> Result<(), CodegenError> {
        match conds {
            [] => {
                self.emit(Op::Bool(true));
                Ok(())
            }
            [one] => self.expr(one),
            many => self.logic(true, many),
        }
    }

    fn logic(&mut self, is_and: bool, operands: &[ir::Expr]) -> Result<(), CodegenError> {
        self.emit(Op::Bool(is_and));
        let mut jumps = Vec::with_capacity(operands.len());
        for o in operands {
            self.expr(o)?;
            jumps.push(self.code.len());
            self.emit(if is_and { Op::AndMerge(0) } else { Op::OrMerge(0) });
        }
        let end = self.here()?;
        for j in jumps {
            self.patch(j, end);
        }
        Ok(())
    }

    /// Emits `e`: its own instructions carry its span, its operands' theirs. A leaf that only
    /// pushes a value (a constant, a parameter, a local, …) cannot fail but for fuel, and carries
    /// the span of the expression it is an operand of: the table stays small, and "fuel ran out
    /// in `params.amount > 100`" says more than "in `params.amount`".
    pub(super) fn expr(&mut self, e: &ir::Expr) -> Result<(), CodegenError> {
        let leaf = as_const(e).is_some()
            || matches!(
                e.kind,
                ExprKind::Param(_)
                    | ExprKind::Action(_)
                    | ExprKind::Identity(_)
                    | ExprKind::Context(_)
                    | ExprKind::Evidence(_)
                    | ExprKind::Local(_)
                    | ExprKind::Group(_)
            );
        // `and` / `or` only merge their operands' answers: their operands' spans say more, and
        // the whole condition's text would be the longest entry of the table.
        if (leaf && self.at.is_some()) || matches!(e.kind, ExprKind::Logic { .. }) {
            return self.expr_node(e);
        }
        let outer = self.at.replace(e.span);
        let result = self.expr_node(e);
        self.at = outer;
        result
    }

    fn expr_node(&mut self, e: &ir::Expr) -> Result<(), CodegenError> {
        if let Some(c) = as_const(e) {
            if let Const::Bool(b) = c {
                self.emit(Op::Bool(b));
            } else {
                let i = self.pool.constant(c)?;
                self.emit(Op::Const(i));
            }
            return Ok(());
        }
        match &e.kind {
            // Constants were handled above; a list or record with a non-constant part is built.
            ExprKind::Const(c) => {
                let i = self.pool.constant(c.clone())?;
                self.emit(Op::Const(i));
            }
            ExprKind::List(items) => {
                for i in items {
                    self.expr(i)?;
                }
                let n = u32::try_from(items.len()).map_err(|_| CodegenError::TooMany("list elements"))?;
                self.emit(Op::MakeList(n));
            }
            ExprKind::Record(fields) => {
                for (_, v) in fields {
                    self.expr(v)?;
                }
                let n = u32::try_from(fields.len()).map_err(|_| CodegenError::TooMany("record fields"))?;
                self.emit(Op::MakeRecord(n));
            }
            ExprKind::Param(name) => {
                let slot = self.tool.and_then(|t| t.field(name)).map(|(i, _)| i).unwrap_or(usize::MAX);
                // An unresolvable slot cannot come from a checked bundle; the VM reports it.
                self.emit(Op::Param(u16::try_from(slot).unwrap_or(u16::MAX)));
            }
            ExprKind::Action(ActionField::Tool) => self.emit(Op::ActionTool),
            ExprKind::Action(ActionField::Operation) => self.emit(Op::ActionOperation),
            ExprKind::Identity(f) => self.emit(Op::Identity(*f)),
            ExprKind::Context(f) => self.emit(Op::Context(match f {
                ContextField::OriginalRequest => bc::ContextField::OriginalRequest,
                ContextField::PriorActions => bc::ContextField::PriorActions,
                ContextField::DataClasses => bc::ContextField::DataClasses,
                ContextField::SemanticDistance => bc::ContextField::SemanticDistance,
                ContextField::Now => bc::ContextField::Now,
                ContextField::Declared(id) => bc::ContextField::Declared(u16_of(id.0, "context fields")?),
            })),
            ExprKind::Evidence(id) => self.emit(Op::Evidence(u16_of(id.0, "evidence facts")?)),
            ExprKind::Local(id) => self.emit(Op::Local(u16_of(id.0, "local variables")?)),
            ExprKind::Group(id) => self.emit(Op::Group(u16_of(id.0, "groups")?)),
            ExprKind::Field { base, index, .. } => {
                self.expr(base)?;
                self.emit(Op::Field(u16_of(*index, "record fields")?));
            }
            ExprKind::Unwrap(inner) => {
                self.expr(inner)?;
                self.emit(Op::Unwrap);
            }
            ExprKind::Widen(inner) => {
                self.expr(inner)?;
                self.emit(Op::Widen);
            }
            ExprKind::Neg(inner) => {
                self.expr(inner)?;
                self.emit(Op::Neg);
            }
            ExprKind::Not(inner) => {
                self.expr(inner)?;
                self.emit(Op::Not);
            }
            ExprKind::Arith { op, lhs, rhs } => {
                self.expr(lhs)?;
                self.expr(rhs)?;
                self.emit(Op::Arith(*op));
            }
            ExprKind::Compare { op, lhs, rhs } => {
                self.expr(lhs)?;
                self.expr(rhs)?;
                let op = ir::comparison(*op).ok_or(CodegenError::Internal("an arithmetic operator in a comparison"))?;
                self.emit(Op::Cmp(op));
            }
            ExprKind::Logic { op, operands } => self.logic(*op == ir::LogicOp::And, operands)?,
            ExprKind::In { element, collection } => {
                self.expr(element)?;
                self.expr(collection)?;
                self.emit(Op::In);
            }
            ExprKind::IsSet { value, negated } => {
                if let ExprKind::Evidence(id) = value.kind {
                    self.emit(Op::EvidenceIsSet(u16_of(id.0, "evidence facts")?));
                    if *negated {
                        self.emit(Op::Not);
                    }
                } else {
                    self.expr(value)?;
                    self.emit(Op::IsSet { negated: *negated });
                }
            }
            ExprKind::Method { method, receiver, args } => {
                self.expr(receiver)?;
                if let Method::Matches(pattern) = method {
                    let i = self.pool.regex(pattern)?;
                    self.emit(Op::Matches(i));
                    return Ok(());
                }
                for a in args {
                    self.expr(a)?;
                }
                let op = method.primitive().ok_or(CodegenError::Internal("`matches` without its pattern"))?;
                self.emit(Op::Method(op));
            }
            ExprKind::Quantifier { kind, var, collection, body } => {
                let acc = self.fresh_local()?;
                let (init, qk) = match kind {
                    QuantKind::Any => (Op::Bool(false), bc::QuantKind::Any),
                    QuantKind::All => (Op::Bool(true), bc::QuantKind::All),
                    QuantKind::Count => (Op::Const(self.pool.constant(Const::Int(0))?), bc::QuantKind::Count),
                };
                self.emit(init);
                self.emit(Op::SetLocal(acc));
                let var = u16_of(var.0, "local variables")?;
                self.iterate(collection, acc, var, |g| {
                    g.expr(body)?;
                    g.emit(Op::QuantStep { kind: qk, acc, end: 0 });
                    Ok(true)
                })?;
            }
            ExprKind::Filter { var, collection, predicate } => {
                let acc = self.fresh_local()?;
                let empty = self.pool.constant(Const::List(Vec::new()))?;
                self.emit(Op::Const(empty));
                self.emit(Op::SetLocal(acc));
                let var = u16_of(var.0, "local variables")?;
                self.iterate(collection, acc, var, |g| {
                    g.expr(predicate)?;
                    g.emit(Op::FilterStep { var, acc });
                    Ok(false)
                })?;
            }
            ExprKind::Call { func, args } => {
                for a in args {
                    self.expr(a)?;
                }
                self.emit(Op::Call(u16_of(func.0, "functions")?));
                let _ = self.bundle;
            }
        }
        Ok(())
    }

    /// The loop shared by quantifiers and `filter`; `step` emits the body and says whether its
    /// last instruction jumps to the exit.
    fn iterate(
        &mut self,
        collection: &ir::Expr,
        acc: u16,
        var: u16,
        step: impl FnOnce(&mut Self) -> Result<bool, CodegenError>,
    ) -> Result<(), CodegenError> {
        self.expr(collection)?;
        let init = self.code.len();
        self.emit(Op::IterInit { acc, end: 0 });
        let top = self.here()?;
        let next = self.code.len();
        self.emit(Op::IterNext { local: var, end: 0 });
        let step_jumps = step(self)?;
        let step_at = self.code.len().saturating_sub(1);
        self.emit(Op::Jump(top));
        let end = self.here()?;
        self.patch(init, end);
        self.patch(next, end);
        if step_jumps {
            self.patch(step_at, end);
        }
        self.emit(Op::IterEnd);
        self.emit(Op::Local(acc));
        Ok(())
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// Small constants of every kind, nested, so that equal ones (and ones equal but for a
    /// field name or a variant) come up often.
    fn constant() -> impl Strategy<Value = Const> {
        let leaf = prop_oneof![
            any::<bool>().prop_map(Const::Bool),
            (-2i64..3).prop_map(Const::Int),
            (-2i128..3).prop_map(Const::Decimal),
            "[ab\"\\\\]{0,2}".prop_map(Const::Str),
            (-2i64..3).prop_map(Const::Duration),
            (-2i64..3).prop_map(Const::Time),
        ];
        leaf.prop_recursive(3, 12, 3, |inner| {
            prop_oneof![
                proptest::collection::vec(inner.clone(), 0..3).prop_map(Const::List),
                proptest::collection::vec(("[ab]{1,2}", inner), 0..3).prop_map(Const::Record),
            ]
        })
    }

    proptest! {
        /// The pool deduplicates as it did when its keys were the constants' `Debug` texts.
        #[test]
        fn constants_are_deduplicated_as_by_their_debug_texts(consts in proptest::collection::vec(constant(), 0..24)) {
            let mut pool = Pool::default();
            let mut by_debug: std::collections::HashMap<String, u32> = std::collections::HashMap::new();
            let mut reference: Vec<Const> = Vec::new();
            for c in consts {
                let want = *by_debug.entry(format!("{c:?}")).or_insert_with(|| {
                    reference.push(c.clone());
                    u32::try_from(reference.len() - 1).unwrap()
                });
                prop_assert_eq!(pool.constant(c).unwrap(), want);
            }
            prop_assert_eq!(pool.consts, reference);
        }
    }
}

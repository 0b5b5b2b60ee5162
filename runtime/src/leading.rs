//! The leading leaves of a condition: the leaf tests a `false` of which decides the whole
//! condition `false`, and nothing before which can fail. The rule index (`index.rs`) skips a rule
//! by them.
//!
//! A condition is read from its first instruction by an abstract interpreter that knows the type
//! of every value (the declared types of the tool's parameters, the constants', the groups') and
//! accepts only instructions that cannot fail on values of those types: leaf tests, `and` / `or`
//! merges, `not`, string tests and comparisons, membership, `any` / `all` over a list parameter,
//! and calls to functions built of the same. A fused leaf test met on the way is *leading* when
//! its `and_merge` passes a `false` through `and_merge`s only to the final `ret` (so the condition
//! is `false` with it) and no jump before it leads past it other than such an `and_merge`. It
//! stops at the first instruction it does not accept (arithmetic, evidence, an optional
//! parameter, a parsing method…): what follows may fail, so no later leaf is leading.
//!
//! "Cannot fail" needs two more things the interpreter cannot see, which the index checks on each
//! request before it uses the tables: that the values read have the types assumed (`reads`), and
//! that the fuel covers the instructions before the leaf (`fixed`, `loops`: an upper bound).
// A new instruction must be accepted here on purpose: it falls into the catch-all arm, which
// stops the reading, so at worst fewer rules are skipped.

use crate::bytecode::{Chunk, CmpOp, IdentityField, MethodOp, Op, QuantKind};
use crate::plan::{leaf_at, Leaf};
use crate::schema::{FieldSchema, ValueType};
use crate::value::Value;
use crate::vm::work;
use std::cell::{Cell, RefCell};
use std::collections::BTreeMap;

/// What a leaf or the code before it reads from the request.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Subject {
    /// A parameter, by slot.
    Param(u16),
    /// A string field of `identity` (not `roles`): always a string.
    Identity(IdentityField),
    /// `identity.roles`.
    Roles,
}

/// The type a value read must hold for the index to apply (and the abstract interpreter's types).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Expect {
    Bool,
    Int,
    Dec,
    Str,
    /// A list whose items are all strings.
    Strs,
    /// A list whose items are all strings, read only to be iterated: no instruction takes the
    /// list itself, so its length costs turns but no work (only read, never on the stack).
    Items,
}

/// A leading leaf, and what the code before it costs and reads.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Leading {
    pub leaf: Leaf,
    /// The instructions the condition runs when this leaf is the first `false` one, loops aside:
    /// everything before it (counted once, jumps ignored: an upper bound), itself, and the merges
    /// from it to `ret`. Each charges one unit of fuel plus the work of its operands.
    pub fixed: u64,
    /// The loops before it: the parameter slot iterated and the instructions of one turn (the
    /// loop runs one turn per item, and one more to find the end).
    pub loops: Vec<(u16, u64)>,
    /// The values read before it (besides its own), with the type they must hold.
    pub reads: Vec<(Subject, Expect)>,
    /// The most work of a constant or group read before it, or by it.
    pub const_work: u64,
}

/// What the reading needs besides the chunk.
#[derive(Clone, Copy)]
pub(crate) struct Context<'a> {
    pub consts: &'a [Value],
    pub groups: &'a [Value],
    /// The fused functions.
    pub functions: &'a [Chunk],
    /// The tool's parameters, in slot order (none inside a function: a function reads no
    /// parameter, so what reading it gives holds for every tool).
    pub fields: &'a [FieldSchema],
    pub shared: &'a Shared,
}

/// What reading a function gave for its arguments' types: the instructions it runs (besides
/// data), what it reads, the most work of its constants, and its result's type.
#[derive(Clone, Debug)]
struct Summary {
    fixed: u64,
    reads: Vec<(Subject, Expect)>,
    const_work: u64,
    result: Expect,
}

/// Each function read, by index and arguments' types: its summary, or `None` when it may fail.
type Calls = BTreeMap<(u16, Vec<Expect>), Option<Summary>>;

/// What the readings of one engine share, so that loading costs at most a multiple of the code's
/// size, whatever the code: each function is read once per list of argument types (a chain of
/// functions each calling the next a thousand times is otherwise read a thousand to the power of
/// its length times), and a budget of instructions to read, past which nothing more is leading.
pub(crate) struct Shared {
    calls: RefCell<Calls>,
    budget: Cell<u64>,
}

impl Shared {
    /// For a program of `instructions` instructions (its chunks and functions).
    pub(crate) fn new(instructions: usize) -> Shared {
        let budget = (instructions as u64).saturating_mul(64).saturating_add(1 << 16);
        Shared { calls: RefCell::new(BTreeMap::new()), budget: Cell::new(budget) }
    }
}

/// How deep calls are followed (the verifier bounds the call graph; this keeps the reading small).
const MAX_CALL_DEPTH: usize = 4;

/// Where a `false` merged at `target` goes: through `and_merge`s only (each passing the `false`
/// up one level and jumping on) to the chunk's final `ret`. The instructions executed on the way
/// (the `ret` included), or `None` when the `false` would meet anything else (an `or_merge` goes
/// on evaluating, so the condition is not decided by it).
pub(crate) fn falls_to_ret(code: &[Op], mut target: usize) -> Option<u64> {
    let end = code.len().checked_sub(1)?;
    let mut executed = 0u64;
    loop {
        executed += 1;
        match *code.get(target)? {
            Op::Ret if target == end => return Some(executed),
            // Forward only: a merge never jumps back, and this keeps the walk finite.
            Op::AndMerge(next) if next as usize > target => target = next as usize,
            _ => return None,
        }
    }
}

fn type_of(v: &Value) -> Option<Expect> {
    Some(match v {
        Value::Bool(_) => Expect::Bool,
        Value::Int(_) => Expect::Int,
        Value::Decimal(_) => Expect::Dec,
        Value::Str(_) => Expect::Str,
        Value::List(items) if items.iter().all(|i| matches!(i, Value::Str(_))) => Expect::Strs,
        _ => return None,
    })
}

/// The type a parameter of this declared type holds in every converted request (an optional one
/// may be absent: not accepted).
fn declared(ty: &ValueType) -> Option<Expect> {
    Some(match ty {
        ValueType::Bool => Expect::Bool,
        ValueType::Int => Expect::Int,
        ValueType::Decimal => Expect::Dec,
        ValueType::String => Expect::Str,
        ValueType::List(item) | ValueType::Set(item) if **item == ValueType::String => Expect::Strs,
        _ => return None,
    })
}

/// The abstract interpreter's state over one chunk (a condition or a called function).
struct Reader<'c, 'a> {
    cx: &'c Context<'a>,
    stack: Vec<Expect>,
    locals: Vec<Option<Expect>>,
    /// Instructions read outside loops (callees' included).
    fixed: u64,
    loops: Vec<(u16, u64)>,
    reads: Vec<(Subject, Expect)>,
    const_work: u64,
    /// The loop being read.
    looping: Option<Loop>,
    /// Forward jumps read (`and_merge`, `or_merge`): the target, and the stack and locals a jump
    /// arrives there with. Reading on in order must arrive with the same, or the types read
    /// after the target would hold on one path only (code no compiler emits; a crafted bundle
    /// could).
    joins: Vec<(usize, Vec<Expect>, Vec<Option<Expect>>)>,
}

/// A quantifier's loop, while its turn is read.
struct Loop {
    /// The parameter iterated.
    slot: u16,
    /// Where each turn starts (its `iter_next`, right after `iter_init`).
    next: usize,
    /// Where the loop ends (its `iter_end`).
    end: usize,
    /// The local holding the answer so far.
    acc: u16,
    /// The instructions of one turn so far.
    turn: u64,
    /// The locals before the first turn: what they are after the loop, since an empty list runs
    /// no turn.
    before: Vec<Option<Expect>>,
}

impl Loop {
    fn at_end(&self, end: u32) -> Option<()> {
        (end as usize == self.end).then_some(())
    }
}

impl<'c, 'a> Reader<'c, 'a> {
    fn new(cx: &'c Context<'a>, locals: Vec<Option<Expect>>) -> Self {
        Reader {
            cx,
            stack: Vec::new(),
            locals,
            fixed: 0,
            loops: Vec::new(),
            reads: Vec::new(),
            const_work: 0,
            looping: None,
            joins: Vec::new(),
        }
    }

    fn count(&mut self, n: u64) {
        match &mut self.looping {
            Some(l) => l.turn += n,
            None => self.fixed += n,
        }
    }

    /// One instruction read, from the engine's budget.
    fn spend(&self) -> Option<()> {
        let left = self.cx.shared.budget.get().checked_sub(1)?;
        self.cx.shared.budget.set(left);
        Some(())
    }

    /// Reading arrives at `pc`: every jump read to it must bring the same stack and locals.
    fn arrive(&mut self, pc: usize) -> Option<()> {
        let mut ok = true;
        self.joins.retain(|(target, stack, locals)| {
            if *target != pc {
                return true;
            }
            ok &= *stack == self.stack && *locals == self.locals;
            false
        });
        ok.then_some(())
    }

    fn read(&mut self, subject: Subject, expect: Expect) {
        if !self.reads.contains(&(subject, expect)) {
            self.reads.push((subject, expect));
        }
    }

    fn konst(&mut self, i: u32) -> Option<Expect> {
        let v = self.cx.consts.get(i as usize)?;
        self.const_work = self.const_work.max(work(v));
        type_of(v)
    }

    fn group(&mut self, i: u16) -> Option<Expect> {
        let v = self.cx.groups.get(usize::from(i))?;
        self.const_work = self.const_work.max(work(v));
        (type_of(v)? == Expect::Strs).then_some(Expect::Strs)
    }

    fn param(&mut self, slot: u16) -> Option<Expect> {
        let t = declared(&self.cx.fields.get(usize::from(slot))?.ty)?;
        self.read(Subject::Param(slot), t);
        Some(t)
    }

    fn pop(&mut self) -> Option<Expect> {
        self.stack.pop()
    }

    /// A fused leaf test: `Some(())` when it cannot fail on values of the types read.
    fn fused(&mut self, op: Op) -> Option<()> {
        self.spend()?;
        let ok = match op {
            Op::ParamConstMethod { slot, m, konst } => {
                matches!(m, MethodOp::StartsWith | MethodOp::EndsWith | MethodOp::StrContains)
                    && self.param(slot)? == Expect::Str
                    && self.konst(konst)? == Expect::Str
            }
            Op::ParamConstCmp { slot, c, konst } => comparable(c, self.param(slot)?, self.konst(konst)?),
            Op::ParamInConst { slot, konst } => self.param(slot)? == Expect::Str && self.konst(konst)? == Expect::Strs,
            Op::ConstInParam { konst, slot } => self.konst(konst)? == Expect::Str && self.param(slot)? == Expect::Strs,
            Op::ConstInRoles { konst } => {
                self.read(Subject::Roles, Expect::Strs);
                self.konst(konst)? == Expect::Str
            }
            Op::ParamInGroup { slot, group } => self.param(slot)? == Expect::Str && self.group(group)? == Expect::Strs,
            Op::IdentityInGroup { field, group } => {
                self.read(Subject::Identity(field), Expect::Str);
                field != IdentityField::Roles && self.group(group)? == Expect::Strs
            }
            _ => false,
        };
        ok.then_some(())
    }

    /// One instruction that is not a fused leaf, at `pc` of `code`: `Some(())` when it cannot
    /// fail on the values the stack holds.
    fn step(&mut self, code: &[Op], pc: usize, depth: usize) -> Option<()> {
        let op = *code.get(pc)?;
        self.spend()?;
        self.arrive(pc)?;
        self.count(1);
        match op {
            Op::Bool(_) => self.stack.push(Expect::Bool),
            Op::Const(i) => {
                let t = self.konst(i)?;
                self.stack.push(t);
            }
            Op::Param(slot) => {
                let t = match code.get(pc + 1) {
                    // Iterated: read as its items (`Expect::Items`).
                    Some(Op::IterInit { .. }) => {
                        let t = declared(&self.cx.fields.get(usize::from(slot))?.ty)?;
                        self.read(Subject::Param(slot), Expect::Items);
                        t
                    }
                    _ => self.param(slot)?,
                };
                self.stack.push(t);
            }
            Op::Group(g) => {
                let t = self.group(g)?;
                self.stack.push(t);
            }
            Op::Local(i) => {
                let t = (*self.locals.get(usize::from(i))?)?;
                self.stack.push(t);
            }
            Op::SetLocal(i) => {
                // Only `quant_step` writes a loop's answer.
                if self.looping.as_ref().is_some_and(|l| l.acc == i) {
                    return None;
                }
                let t = self.pop()?;
                *self.locals.get_mut(usize::from(i))? = Some(t);
            }
            Op::Not => (self.pop()? == Expect::Bool).then(|| self.stack.push(Expect::Bool))?,
            Op::AndMerge(target) | Op::OrMerge(target) => {
                // Both `Bool`: the merge keeps one of them, and a jump goes forward with it.
                (self.pop()? == Expect::Bool && self.stack.last() == Some(&Expect::Bool)).then_some(())?;
                (target as usize > pc).then_some(())?;
                self.joins.push((target as usize, self.stack.clone(), self.locals.clone()));
            }
            Op::Cmp(c) => {
                let (b, a) = (self.pop()?, self.pop()?);
                comparable(c, a, b).then(|| self.stack.push(Expect::Bool))?
            }
            Op::In => {
                let (coll, elem) = (self.pop()?, self.pop()?);
                (elem == Expect::Str && coll == Expect::Strs).then(|| self.stack.push(Expect::Bool))?
            }
            Op::Method(m) => {
                let ok = match m {
                    MethodOp::StartsWith | MethodOp::EndsWith | MethodOp::StrContains => {
                        (self.pop()?, self.pop()?) == (Expect::Str, Expect::Str)
                    }
                    MethodOp::Contains => (self.pop()?, self.pop()?) == (Expect::Str, Expect::Strs),
                    _ => false,
                };
                ok.then(|| self.stack.push(Expect::Bool))?
            }
            // A quantifier over a list parameter: `bool(init) set_local(acc) param(slot)
            // iter_init iter_next <body> quant_step jump iter_end local(acc)`, read once (every
            // turn has the same types), counted per item.
            Op::IterInit { acc, end } => {
                if self.looping.is_some() || self.stack.last() != Some(&Expect::Strs) {
                    return None;
                }
                let slot = match pc.checked_sub(1).and_then(|p| code.get(p)) {
                    Some(Op::Param(slot)) => *slot,
                    _ => return None,
                };
                // The answer starts as a `Bool` (`any`: false, `all`: true) and stays one.
                (*self.locals.get(usize::from(acc))? == Some(Expect::Bool)).then_some(())?;
                self.stack.push(Expect::Int);
                let before = self.locals.clone();
                self.looping = Some(Loop { slot, next: pc + 1, end: end as usize, acc, turn: 0, before });
            }
            Op::IterNext { local, end } => {
                let l = self.looping.as_ref()?;
                l.at_end(end)?;
                (pc == l.next && local != l.acc).then_some(())?;
                *self.locals.get_mut(usize::from(local))? = Some(Expect::Str);
            }
            Op::QuantStep { kind: QuantKind::Any | QuantKind::All, acc, end } => {
                let l = self.looping.as_ref()?;
                l.at_end(end)?;
                (acc == l.acc && self.pop()? == Expect::Bool).then_some(())?;
            }
            Op::Jump(target) => {
                // The turn ends, back to its `iter_next` (anywhere else, a turn could run without
                // taking the next item: without end); the loop's end follows, with the locals it
                // began with.
                let l = self.looping.take()?;
                (pc + 1 == l.end && target as usize == l.next).then_some(())?;
                self.loops.push((l.slot, l.turn));
                self.locals = l.before;
            }
            Op::IterEnd => {
                (self.pop()? == Expect::Int && self.pop()? == Expect::Strs).then_some(())?;
            }
            Op::Call(f) => self.call(f, depth)?,
            _ => return None,
        }
        Some(())
    }

    /// A call: the callee's summary for its arguments' types (read once per engine).
    fn call(&mut self, f: u16, depth: usize) -> Option<()> {
        if depth >= MAX_CALL_DEPTH {
            return None;
        }
        let callee = self.cx.functions.get(usize::from(f))?;
        let at = self.stack.len().checked_sub(usize::from(callee.params))?;
        let args: Vec<Expect> = self.stack.drain(at..).collect();
        let key = (f, args);
        let known = self.cx.shared.calls.borrow().get(&key).cloned();
        let summary = match known {
            Some(summary) => summary,
            None => {
                // While it is read, a call of it reads as failing (a cycle, which the verifier
                // refuses anyway, ends there).
                self.cx.shared.calls.borrow_mut().insert(key.clone(), None);
                let summary = read_function(self.cx, callee, &key.1, depth);
                self.cx.shared.calls.borrow_mut().insert(key, summary.clone());
                summary
            }
        }?;
        self.count(summary.fixed);
        for r in summary.reads {
            self.read(r.0, r.1);
        }
        self.const_work = self.const_work.max(summary.const_work);
        self.stack.push(summary.result);
        Some(())
    }
}

/// Reads a called function with its arguments' types, straight through to its `ret`.
fn read_function(cx: &Context<'_>, callee: &Chunk, args: &[Expect], depth: usize) -> Option<Summary> {
    let mut locals: Vec<Option<Expect>> = args.iter().copied().map(Some).collect();
    locals.resize(usize::from(callee.locals.max(callee.params)), None);
    let inner_cx = Context { fields: &[], ..*cx };
    let mut inner = Reader::new(&inner_cx, locals);
    let code = callee.code.as_slice();
    let mut pc = 0;
    let result = loop {
        match code.get(pc)? {
            // The last instruction, leaving one value: nothing after it is reached.
            Op::Ret if pc + 1 == code.len() => {
                inner.spend()?;
                inner.arrive(pc)?;
                inner.fixed += 1;
                let result = inner.stack.pop()?;
                break inner.stack.is_empty().then_some(result)?;
            }
            op if op.is_fused() => {
                inner.arrive(pc)?;
                let (leaf, next) = leaf_at(code, pc)?;
                inner.fused(leaf.op)?;
                inner.fixed += (next - pc) as u64;
                inner.stack.push(Expect::Bool);
                pc = next;
            }
            _ => {
                inner.step(code, pc, depth + 1)?;
                pc += 1;
            }
        }
    };
    // Straight-line callees only: a loop's turns would multiply under the caller's.
    if !inner.loops.is_empty() || inner.looping.is_some() {
        return None;
    }
    Some(Summary { fixed: inner.fixed, reads: inner.reads, const_work: inner.const_work, result })
}

/// Whether `a <c> b` is defined (cannot fail) on values of these types: two of one scalar type
/// (lists are compared by equality only, which the index never needs).
fn comparable(_c: CmpOp, a: Expect, b: Expect) -> bool {
    a == b && !matches!(a, Expect::Strs | Expect::Items)
}

/// The leading leaves of a fused condition chunk (see the module doc), in order.
pub(crate) fn leading(chunk: &Chunk, cx: &Context<'_>) -> Vec<Leading> {
    let code = chunk.code.as_slice();
    let mut r = Reader::new(cx, vec![None; usize::from(chunk.locals)]);
    let mut out = Vec::new();
    // The farthest target of a jump read so far that is not an `and_merge` falling to `ret`: no
    // leaf before it is leading (a path could reach `ret` past the leaf).
    let mut skipped_to = 0usize;
    let mut pc = 0;
    while let Some(op) = code.get(pc) {
        if op.is_fused() {
            let Some((leaf, next)) = leaf_at(code, pc) else { break };
            if r.arrive(pc).is_none() || r.fused(leaf.op).is_none() {
                break;
            }
            let chain = match code.get(next) {
                Some(Op::AndMerge(t)) => falls_to_ret(code, *t as usize),
                // The whole condition is this leaf.
                Some(Op::Ret) if next + 1 == code.len() => Some(0),
                _ => None,
            };
            if let (Some(chain), true, true) = (chain, r.looping.is_none(), pc >= skipped_to) {
                // `next` instructions up to the leaf's merge, the merge, then the way to `ret`.
                out.push(Leading {
                    leaf,
                    fixed: r.fixed + (next - pc) as u64 + 1 + chain,
                    loops: r.loops.clone(),
                    reads: r.reads.clone(),
                    const_work: r.const_work,
                });
            }
            r.count((next - pc) as u64);
            r.stack.push(Expect::Bool);
            pc = next;
            continue;
        }
        match *op {
            Op::AndMerge(t) if falls_to_ret(code, t as usize).is_some() => {}
            Op::AndMerge(t) | Op::OrMerge(t) | Op::Jump(t) => skipped_to = skipped_to.max(t as usize),
            Op::IterInit { end, .. } | Op::IterNext { end, .. } | Op::QuantStep { end, .. } => {
                skipped_to = skipped_to.max(end as usize)
            }
            _ => {}
        }
        if r.step(code, pc, 0).is_none() {
            break;
        }
        pc += 1;
    }
    out
}

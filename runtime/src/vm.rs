//! The evaluator: runs one chunk of bytecode against a converted request, in the three-valued
//! logic of docs/language.md ("Evidence and three-valued logic"), within a fuel budget.
//!
//! Every access is checked (a hostile bundle that slipped past the verifier gets an
//! [`EvalError::Malformed`], never a panic), and nothing allocates unless the program builds a
//! value (a list literal that is not constant, `lower()`, `filter`, string concatenation).

use crate::bytecode::{Chunk, CmpOp, ContextField, IdentityField, MethodOp, Op, QuantKind};
use crate::ops::{self, EvalError};
use crate::request::Request;
use crate::value::{EvidenceMask, Value};
use regex::Regex;
use std::sync::Arc;

/// Instructions one evaluation of one rule may execute.
pub(crate) const DEFAULT_FUEL: u64 = 1_000_000;

/// What a program's tables look like to the VM once loaded: constants as values, regexes
/// compiled, groups as sets.
pub(crate) struct Tables<'a> {
    pub(crate) consts: &'a [Value],
    pub(crate) regexes: &'a [Regex],
    pub(crate) groups: &'a [Value],
    pub(crate) functions: &'a [Chunk],
}

/// The outcome of a condition.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Truth {
    True,
    False,
    /// Might match: depends on these evidence facts.
    Unknown(EvidenceMask),
}

struct Frame {
    /// `None`: the entry chunk; `Some(f)`: function `f`.
    func: Option<u16>,
    pc: usize,
    locals_base: usize,
}

/// Reusable scratch space: keep one per thread and evaluation does not allocate.
#[derive(Default)]
pub struct Vm {
    stack: Vec<Value>,
    locals: Vec<Value>,
    frames: Vec<Frame>,
    /// Instructions allowed per evaluation of one chunk (0: [`DEFAULT_FUEL`]).
    pub(crate) fuel_limit: u64,
    /// The span (`spans.rs`) of the instruction the last [`Vm::run`] failed at.
    fault: Option<u32>,
    /// The candidates of a tool that may hold for the request being decided (`index.rs`).
    pub(crate) live: crate::live::Live,
}

fn merge_unknown(a: &Value, b: &Value) -> Option<EvidenceMask> {
    match (a, b) {
        (Value::Unknown(x), Value::Unknown(y)) => Some(x | y),
        (Value::Unknown(x), _) | (_, Value::Unknown(x)) => Some(*x),
        _ => None,
    }
}

fn malformed(what: &'static str) -> EvalError {
    EvalError::Malformed(what)
}

// The value each operation produces from its operands, shared by the plain instructions and the
// fused ones (`fuse.rs`), so that both give exactly the same result.

/// Fuel for the data an operation walks or copies, on top of the one unit every instruction
/// costs: a list's or record's length, a string's length in 64-byte blocks. Without it a loop could
/// do quadratic work within its instruction budget (a `filter` copies its growing result at every
/// step; a string doubled in a loop grows exponentially), and so can a legitimate policy on a
/// large request (`all x in xs: x in xs` over 100 000 items).
pub(crate) fn work(v: &Value) -> u64 {
    match v {
        Value::Str(s) => (s.len() / 64) as u64,
        Value::List(items) | Value::Record(items) => items.len() as u64,
        _ => 0,
    }
}

/// The work of method `m` on `args` (receiver first): list-against-list methods compare every
/// pair.
fn method_work(m: MethodOp, args: &[Value]) -> u64 {
    match args {
        [recv, arg] => method1_work(m, recv, arg),
        _ => args.iter().map(work).fold(0, u64::saturating_add),
    }
}

/// [`method_work`] of a one-argument method.
fn method1_work(m: MethodOp, recv: &Value, arg: &Value) -> u64 {
    match m {
        MethodOp::ContainsAny | MethodOp::ContainsAll => work(recv).saturating_mul(work(arg).max(1)),
        _ => work(recv).saturating_add(work(arg)),
    }
}

/// Takes `amount` from the fuel left.
#[inline(always)]
pub(crate) fn charge(fuel: &mut u64, amount: u64) -> Result<(), EvalError> {
    *fuel = fuel.checked_sub(amount).ok_or(EvalError::OutOfFuel)?;
    Ok(())
}

impl From<Truth> for Value {
    fn from(t: Truth) -> Value {
        match t {
            Truth::True => Value::Bool(true),
            Truth::False => Value::Bool(false),
            Truth::Unknown(m) => Value::Unknown(m),
        }
    }
}

#[inline(always)]
fn truth_of(b: bool) -> Truth {
    if b {
        Truth::True
    } else {
        Truth::False
    }
}

/// `lhs <c> rhs`, in three-valued logic. The one definition: `Cmp`, the fused comparison and
/// plans all use it.
#[inline(always)]
fn cmp_truth(c: CmpOp, lhs: &Value, rhs: &Value) -> Result<Truth, EvalError> {
    Ok(match merge_unknown(lhs, rhs) {
        Some(m) => Truth::Unknown(m),
        None => truth_of(ops::compare(c, lhs, rhs)?),
    })
}

/// `elem in coll`, in three-valued logic (the one definition, as [`cmp_truth`]).
#[inline(always)]
fn in_truth(elem: &Value, coll: &Value) -> Result<Truth, EvalError> {
    Ok(match merge_unknown(elem, coll) {
        Some(m) => Truth::Unknown(m),
        None => truth_of(ops::contains(coll, elem)?),
    })
}

fn method_value(m: MethodOp, args: &[Value]) -> Result<Value, EvalError> {
    let mut unknown: EvidenceMask = 0;
    for a in args {
        if let Value::Unknown(mask) = a {
            unknown |= mask;
        }
    }
    if unknown != 0 {
        return Ok(Value::Unknown(unknown));
    }
    let (recv, rest) = args.split_first().ok_or(malformed("stack underflow"))?;
    ops::method(m, recv, rest)
}

/// `recv.m(arg)` for a one-argument method, without building an argument slice on the stack.
fn method1_value(m: MethodOp, recv: &Value, arg: &Value) -> Result<Value, EvalError> {
    match merge_unknown(recv, arg) {
        Some(mask) => Ok(Value::Unknown(mask)),
        None => ops::method(m, recv, std::slice::from_ref(arg)),
    }
}

#[inline(always)]
fn param(req: &Request, slot: u16) -> Result<&Value, EvalError> {
    req.params.get(usize::from(slot)).ok_or(malformed("params slot"))
}

#[inline(always)]
fn group_of<'t>(t: &'t Tables, i: u16) -> Result<&'t Value, EvalError> {
    t.groups.get(usize::from(i)).ok_or(malformed("group index"))
}

/// What `identity(field)` pushes.
fn identity_value(req: &Request, field: IdentityField) -> Value {
    let id = &req.identity;
    match field {
        IdentityField::Human => Value::Str(id.human.clone()),
        IdentityField::Service => Value::Str(id.service.clone()),
        IdentityField::Agent => Value::Str(id.agent.clone()),
        IdentityField::Session => Value::Str(id.session.clone()),
        IdentityField::Roles => id.roles.clone(),
    }
}

fn konst_of<'t>(t: &'t Tables, i: u32) -> Result<&'t Value, EvalError> {
    t.consts.get(i as usize).ok_or(malformed("constant index"))
}

/// The operands of a fused instruction (`fuse.rs`), read in place, and the operation on them.
enum Leaf<'a> {
    Method(MethodOp, &'a Value, &'a Value),
    Cmp(CmpOp, &'a Value, &'a Value),
    /// `elem in coll`; an identity field is a value made for the test.
    In(std::borrow::Cow<'a, Value>, &'a Value),
}

/// Reads a fused instruction's operands and charges their work (as the instruction it ends with
/// would, before it runs).
#[inline(always)]
fn leaf<'a>(t: &'a Tables, req: &'a Request, op: Op, fuel: &mut u64) -> Result<Leaf<'a>, EvalError> {
    use std::borrow::Cow;
    let leaf = match op {
        Op::ParamConstMethod { slot, m, konst } => Leaf::Method(m, param(req, slot)?, konst_of(t, konst)?),
        Op::ParamConstCmp { slot, c, konst } => Leaf::Cmp(c, param(req, slot)?, konst_of(t, konst)?),
        Op::ParamInConst { slot, konst } => Leaf::In(Cow::Borrowed(param(req, slot)?), konst_of(t, konst)?),
        Op::ConstInParam { konst, slot } => Leaf::In(Cow::Borrowed(konst_of(t, konst)?), param(req, slot)?),
        Op::ConstInRoles { konst } => Leaf::In(Cow::Borrowed(konst_of(t, konst)?), &req.identity.roles),
        Op::ParamInGroup { slot, group } => Leaf::In(Cow::Borrowed(param(req, slot)?), group_of(t, group)?),
        Op::IdentityInGroup { field, group } => Leaf::In(Cow::Owned(identity_value(req, field)), group_of(t, group)?),
        _ => return Err(malformed("not a fused instruction")),
    };
    let cost = match &leaf {
        Leaf::Method(m, recv, arg) => method1_work(*m, recv, arg),
        Leaf::Cmp(_, lhs, rhs) => work(lhs).saturating_add(work(rhs)),
        Leaf::In(elem, coll) => work(elem).saturating_add(work(coll)),
    };
    charge(fuel, cost)?;
    Ok(leaf)
}

/// The value of a fused instruction: exactly what its three-instruction sequence leaves on the
/// stack (a method such as `at` yields a value that is not a Bool).
pub(crate) fn leaf_value(t: &Tables, req: &Request, op: Op, fuel: &mut u64) -> Result<Value, EvalError> {
    match leaf(t, req, op, fuel)? {
        Leaf::Method(m, recv, arg) => method1_value(m, recv, arg),
        Leaf::Cmp(c, lhs, rhs) => cmp_truth(c, lhs, rhs).map(Value::from),
        Leaf::In(elem, coll) => in_truth(&elem, coll).map(Value::from),
    }
}

/// The truth of a fused instruction that tests something, for plans: the same operations as
/// [`leaf_value`], answered as a [`Truth`] instead of a `Value` (a `Value` returned through
/// memory costs a store-forwarding stall on the hot path). A test that yields no Bool is an error.
#[inline(always)]
pub(crate) fn leaf_truth(t: &Tables, req: &Request, op: Op, fuel: &mut u64) -> Result<Truth, EvalError> {
    match leaf(t, req, op, fuel)? {
        Leaf::Method(m, recv, arg) => {
            if let Some(mask) = merge_unknown(recv, arg) {
                return Ok(Truth::Unknown(mask));
            }
            if let (Value::Str(s), Value::Str(a)) = (recv, arg) {
                if let Some(b) = ops::str_test(m, s, a) {
                    return Ok(truth_of(b));
                }
            }
            match ops::method(m, recv, std::slice::from_ref(arg))? {
                Value::Bool(b) => Ok(truth_of(b)),
                _ => Err(malformed("a condition that is not a Bool")),
            }
        }
        Leaf::Cmp(c, lhs, rhs) => cmp_truth(c, lhs, rhs),
        Leaf::In(elem, coll) => in_truth(&elem, coll),
    }
}

/// At a fused instruction: charge the fuel of the instructions it stands for (before it runs, as
/// they would be) and continue after them.
fn skip_fused(fuel: u64, pc: &mut usize) -> Result<u64, EvalError> {
    let rest = crate::fuse::FUSED_LEN - 1;
    *pc += rest;
    fuel.checked_sub(rest as u64).ok_or(EvalError::OutOfFuel)
}

impl Vm {
    /// Scratch space with the default fuel: a million instructions per evaluation of one rule.
    pub fn new() -> Self {
        Vm { fuel_limit: DEFAULT_FUEL, ..Default::default() }
    }

    /// Instructions one evaluation may execute.
    pub(crate) fn fuel(&self) -> u64 {
        if self.fuel_limit == 0 {
            DEFAULT_FUEL
        } else {
            self.fuel_limit
        }
    }

    /// Evaluates a condition chunk: `true`, `false` or unknown.
    pub(crate) fn condition(&mut self, t: &Tables, chunk: &Chunk, req: &Request) -> Result<Truth, EvalError> {
        match self.run(t, chunk, req)? {
            Value::Bool(true) => Ok(Truth::True),
            Value::Bool(false) => Ok(Truth::False),
            Value::Unknown(m) => Ok(Truth::Unknown(m)),
            _ => Err(malformed("a condition that is not a Bool")),
        }
    }

    /// The work of the top two values (a binary operation's operands).
    fn top_two_work(&self) -> u64 {
        let n = self.stack.len();
        let at = |i: usize| n.checked_sub(i).and_then(|k| self.stack.get(k)).map_or(0, work);
        at(1).saturating_add(at(2))
    }

    fn pop(&mut self) -> Result<Value, EvalError> {
        self.stack.pop().ok_or(malformed("stack underflow"))
    }

    fn top_mut(&mut self) -> Result<&mut Value, EvalError> {
        self.stack.last_mut().ok_or(malformed("stack underflow"))
    }

    fn local(&self, base: usize, i: u16) -> Result<&Value, EvalError> {
        self.locals.get(base + usize::from(i)).ok_or(malformed("local out of range"))
    }

    fn set_local(&mut self, base: usize, i: u16, v: Value) -> Result<(), EvalError> {
        let slot = self.locals.get_mut(base + usize::from(i)).ok_or(malformed("local out of range"))?;
        *slot = v;
        Ok(())
    }

    /// The span (an index into the program's [`crate::spans::SpanTable`]) of the instruction the
    /// last [`Vm::run`] or [`Vm::condition`] failed at; `None` after a success, or when the code
    /// has no span there.
    pub(crate) fn fault(&self) -> Option<u32> {
        self.fault
    }

    /// Forgets the last failure (an evaluation that runs no chunk on the VM leaves none).
    pub(crate) fn clear_fault(&mut self) {
        self.fault = None;
    }

    /// Runs a chunk to its `Ret` and returns the value, within `fuel_limit` instructions.
    pub(crate) fn run(&mut self, t: &Tables, entry: &Chunk, req: &Request) -> Result<Value, EvalError> {
        self.fault = None;
        let mut pc = 0usize;
        let result = self.execute(t, entry, req, &mut pc);
        if result.is_err() {
            // Only on failure: which chunk was running (the innermost frame's) and the span of the
            // instruction that failed (`pc` is already past it).
            let chunk = match self.frames.last().and_then(|f| f.func) {
                None => Some(entry),
                Some(f) => t.functions.get(usize::from(f)),
            };
            self.fault = chunk.and_then(|c| c.span_at(pc.saturating_sub(1)));
        }
        result
    }

    fn execute(&mut self, t: &Tables, entry: &Chunk, req: &Request, pc: &mut usize) -> Result<Value, EvalError> {
        self.stack.clear();
        self.locals.clear();
        self.frames.clear();
        let mut fuel = self.fuel();
        self.locals.resize(usize::from(entry.locals), Value::Absent);
        self.frames.push(Frame { func: None, pc: 0, locals_base: 0 });
        let mut code: &[Op] = &entry.code;
        let mut base = 0usize;
        loop {
            // Fetch before charging, so that `pc` is past the instruction fuel runs out at.
            let op = *code.get(*pc).ok_or(malformed("ran past the end of a chunk"))?;
            *pc += 1;
            fuel = fuel.checked_sub(1).ok_or(EvalError::OutOfFuel)?;
            match op {
                Op::Const(i) => {
                    let v = t.consts.get(i as usize).ok_or(malformed("constant index"))?.clone();
                    self.stack.push(v);
                }
                Op::Bool(b) => self.stack.push(Value::Bool(b)),
                Op::Param(slot) => {
                    let v = req.params.get(usize::from(slot)).ok_or(malformed("params slot"))?.clone();
                    self.stack.push(v);
                }
                Op::ActionTool => self.stack.push(Value::Str(req.tool.clone())),
                Op::ActionOperation => self.stack.push(Value::Str(req.operation.clone())),
                Op::Identity(f) => self.stack.push(identity_value(req, f)),
                Op::Context(f) => {
                    let c = &req.context;
                    let v = match f {
                        ContextField::OriginalRequest => c.original_request.clone(),
                        ContextField::PriorActions => c.prior_actions.clone(),
                        ContextField::DataClasses => c.data_classes.clone(),
                        ContextField::SemanticDistance => c.semantic_distance.clone(),
                        ContextField::Now => c.now.clone(),
                        ContextField::Declared(i) => {
                            c.declared.get(usize::from(i)).ok_or(malformed("context slot"))?.clone()
                        }
                    };
                    self.stack.push(v);
                }
                Op::Evidence(i) => {
                    let v = match req.evidence.get(usize::from(i)) {
                        Some(Some(v)) => v.clone(),
                        _ => Value::Unknown(1u128.checked_shl(u32::from(i)).ok_or(malformed("evidence index"))?),
                    };
                    self.stack.push(v);
                }
                Op::EvidenceIsSet(i) => {
                    let known = matches!(req.evidence.get(usize::from(i)), Some(Some(_)));
                    self.stack.push(Value::Bool(known));
                }
                Op::Local(i) => {
                    let v = self.local(base, i)?.clone();
                    self.stack.push(v);
                }
                Op::SetLocal(i) => {
                    let v = self.pop()?;
                    self.set_local(base, i, v)?;
                }
                Op::Group(i) => {
                    let v = t.groups.get(usize::from(i)).ok_or(malformed("group index"))?.clone();
                    self.stack.push(v);
                }
                Op::Field(i) => {
                    let v = self.pop()?;
                    let out = match v {
                        Value::Record(fields) => fields.get(usize::from(i)).ok_or(malformed("record field"))?.clone(),
                        Value::Unknown(m) => Value::Unknown(m),
                        Value::Absent => return Err(EvalError::Absent),
                        _ => return Err(malformed("field of a non-record")),
                    };
                    self.stack.push(out);
                }
                Op::Unwrap => {
                    if matches!(self.stack.last(), Some(Value::Absent)) {
                        return Err(EvalError::Absent);
                    }
                }
                Op::Widen => {
                    charge(&mut fuel, self.stack.last().map_or(0, work))?;
                    let v = self.pop()?;
                    let out = if let Value::Unknown(m) = v { Value::Unknown(m) } else { ops::widen(&v)? };
                    self.stack.push(out);
                }
                Op::Neg => {
                    let v = self.pop()?;
                    let out = if let Value::Unknown(m) = v { Value::Unknown(m) } else { ops::neg(&v)? };
                    self.stack.push(out);
                }
                Op::Not => {
                    let top = self.top_mut()?;
                    *top = match top {
                        Value::Bool(b) => Value::Bool(!*b),
                        Value::Unknown(m) => Value::Unknown(*m),
                        _ => return Err(malformed("`not` of a non-Bool")),
                    };
                }
                Op::Arith(a) => {
                    charge(&mut fuel, self.top_two_work())?;
                    let rhs = self.pop()?;
                    let lhs = self.pop()?;
                    let out = match merge_unknown(&lhs, &rhs) {
                        Some(m) => Value::Unknown(m),
                        None => ops::arith(a, &lhs, &rhs)?,
                    };
                    self.stack.push(out);
                }
                Op::Cmp(c) => {
                    charge(&mut fuel, self.top_two_work())?;
                    let rhs = self.pop()?;
                    let lhs = self.pop()?;
                    let out = cmp_truth(c, &lhs, &rhs)?.into();
                    self.stack.push(out);
                }
                Op::AndMerge(target) | Op::OrMerge(target) => {
                    let is_and = matches!(op, Op::AndMerge(_));
                    let v = self.pop()?;
                    let acc = self.top_mut()?;
                    match v {
                        // The short-circuit value decides, whatever came before.
                        Value::Bool(b) if b != is_and => {
                            *acc = Value::Bool(b);
                            *pc = target as usize;
                        }
                        Value::Bool(_) => {}
                        Value::Unknown(m) => {
                            *acc = match acc {
                                Value::Unknown(m0) => Value::Unknown(*m0 | m),
                                _ => Value::Unknown(m),
                            };
                        }
                        _ => return Err(malformed("`and`/`or` of a non-Bool")),
                    }
                }
                Op::In => {
                    charge(&mut fuel, self.top_two_work())?;
                    let coll = self.pop()?;
                    let elem = self.pop()?;
                    let out = in_truth(&elem, &coll)?.into();
                    self.stack.push(out);
                }
                Op::IsSet { negated } => {
                    let top = self.top_mut()?;
                    *top = match top {
                        Value::Unknown(m) => Value::Unknown(*m),
                        Value::Absent => Value::Bool(negated),
                        _ => Value::Bool(!negated),
                    };
                }
                Op::Method(m) => {
                    let arity = m.arity();
                    let at = self.stack.len().checked_sub(arity + 1).ok_or(malformed("stack underflow"))?;
                    let args = self.stack.get(at..).ok_or(malformed("stack underflow"))?;
                    charge(&mut fuel, method_work(m, args))?;
                    let out = method_value(m, args)?;
                    self.stack.truncate(at);
                    self.stack.push(out);
                }
                Op::Matches(i) => {
                    charge(&mut fuel, self.stack.last().map_or(0, work))?;
                    let re = t.regexes.get(i as usize).ok_or(malformed("regex index"))?;
                    let top = self.top_mut()?;
                    *top = match top {
                        Value::Str(s) => Value::Bool(re.is_match(s)),
                        Value::Unknown(m) => Value::Unknown(*m),
                        _ => return Err(malformed("`matches` on a non-string")),
                    };
                }
                Op::MakeList(n) | Op::MakeRecord(n) => {
                    charge(&mut fuel, u64::from(n))?;
                    let at = self.stack.len().checked_sub(n as usize).ok_or(malformed("stack underflow"))?;
                    let items: Vec<Value> = self.stack.drain(at..).collect();
                    let mut unknown: EvidenceMask = 0;
                    for v in &items {
                        if let Value::Unknown(m) = v {
                            unknown |= m;
                        }
                    }
                    self.stack.push(if unknown != 0 {
                        Value::Unknown(unknown)
                    } else if matches!(op, Op::MakeList(_)) {
                        Value::List(Arc::from(items))
                    } else {
                        Value::Record(Arc::from(items))
                    });
                }
                Op::IterInit { acc, end } => {
                    match self.stack.last() {
                        Some(Value::List(_)) => {}
                        Some(Value::Unknown(m)) => {
                            let m = *m;
                            self.set_local(base, acc, Value::Unknown(m))?;
                            *pc = end as usize;
                        }
                        _ => return Err(malformed("iteration over a non-collection")),
                    }
                    self.stack.push(Value::Int(0));
                }
                Op::IterNext { local, end } => {
                    let n = self.stack.len();
                    let (Some(Value::List(items)), Some(Value::Int(i))) =
                        (self.stack.get(n.wrapping_sub(2)), self.stack.get(n.wrapping_sub(1)))
                    else {
                        return Err(malformed("iteration state"));
                    };
                    let i = *i;
                    match usize::try_from(i).ok().and_then(|i| items.get(i)).cloned() {
                        Some(item) => {
                            self.set_local(base, local, item)?;
                            if let Some(slot) = self.stack.last_mut() {
                                *slot = Value::Int(i.saturating_add(1));
                            }
                        }
                        None => *pc = end as usize,
                    }
                }
                Op::QuantStep { kind, acc, end } => {
                    let b = self.pop()?;
                    let current = self.local(base, acc)?.clone();
                    let next = match (kind, b) {
                        (QuantKind::Any, Value::Bool(true)) => {
                            *pc = end as usize;
                            Value::Bool(true)
                        }
                        (QuantKind::All, Value::Bool(false)) => {
                            *pc = end as usize;
                            Value::Bool(false)
                        }
                        (QuantKind::Any | QuantKind::All, Value::Bool(_)) => current,
                        (QuantKind::Count, Value::Bool(true)) => match current {
                            Value::Int(n) => Value::Int(n.checked_add(1).ok_or(EvalError::Overflow)?),
                            other => other,
                        },
                        (QuantKind::Count, Value::Bool(false)) => current,
                        (_, Value::Unknown(m)) => match current {
                            Value::Unknown(m0) => Value::Unknown(m0 | m),
                            _ => Value::Unknown(m),
                        },
                        _ => return Err(malformed("quantifier body that is not a Bool")),
                    };
                    self.set_local(base, acc, next)?;
                }
                Op::FilterStep { var, acc } => {
                    let b = self.pop()?;
                    let current = self.local(base, acc)?.clone();
                    let next = match (b, current) {
                        (Value::Unknown(m), Value::Unknown(m0)) => Value::Unknown(m0 | m),
                        (Value::Unknown(m), _) => Value::Unknown(m),
                        (Value::Bool(true), Value::List(items)) => {
                            // The copy of the result so far: quadratic in the list without this.
                            charge(&mut fuel, items.len() as u64)?;
                            let mut v: Vec<Value> = items.to_vec();
                            v.push(self.local(base, var)?.clone());
                            Value::List(Arc::from(v))
                        }
                        (Value::Bool(_), current) => current,
                        _ => return Err(malformed("filter predicate that is not a Bool")),
                    };
                    self.set_local(base, acc, next)?;
                }
                Op::IterEnd => {
                    self.pop()?;
                    self.pop()?;
                }
                Op::ParamConstMethod { .. }
                | Op::ParamConstCmp { .. }
                | Op::ParamInConst { .. }
                | Op::ConstInParam { .. }
                | Op::ConstInRoles { .. }
                | Op::ParamInGroup { .. }
                | Op::IdentityInGroup { .. } => {
                    fuel = skip_fused(fuel, pc)?;
                    let out = leaf_value(t, req, op, &mut fuel)?;
                    self.stack.push(out);
                }
                Op::Jump(target) => *pc = target as usize,
                Op::Pop => {
                    self.pop()?;
                }
                Op::Call(f) => {
                    let callee = t.functions.get(usize::from(f)).ok_or(malformed("function index"))?;
                    if self.frames.len() > 1024 {
                        return Err(malformed("call depth"));
                    }
                    if let Some(frame) = self.frames.last_mut() {
                        frame.pc = *pc;
                    }
                    let params = usize::from(callee.params);
                    let at = self.stack.len().checked_sub(params).ok_or(malformed("stack underflow"))?;
                    let new_base = self.locals.len();
                    self.locals.extend(self.stack.drain(at..));
                    self.locals.resize(new_base + usize::from(callee.locals.max(callee.params)), Value::Absent);
                    self.frames.push(Frame { func: Some(f), pc: 0, locals_base: new_base });
                    code = &callee.code;
                    *pc = 0;
                    base = new_base;
                }
                Op::Ret => {
                    let result = self.pop()?;
                    self.frames.pop();
                    let Some(caller) = self.frames.last() else {
                        return Ok(result);
                    };
                    self.locals.truncate(base);
                    code = match caller.func {
                        None => &entry.code,
                        Some(f) => &t.functions.get(usize::from(f)).ok_or(malformed("function index"))?.code,
                    };
                    *pc = caller.pc;
                    base = caller.locals_base;
                    self.stack.push(result);
                }
            }
        }
    }
}

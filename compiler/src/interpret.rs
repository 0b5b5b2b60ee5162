//! The reference interpreter: evaluates the typed IR ([`ir::Bundle`]) directly against a converted
//! request and returns the same [`Decision`] as the runtime engine.
//!
//! It exists as an independent oracle for the VM (`runtime/src/vm.rs`, `engine.rs`) and the code
//! generator: `compiler/tests/differential.rs` compares the two on generated policies. It is
//! written to be obviously correct, not fast: a tree walk with fresh local environments, regexes
//! compiled on every use, and a resolution that first computes every candidate's condition and then
//! applies the walk of `lang/REFERENCE.md`, "Evaluation", step by step.
//!
//! Only the primitive operations on *known* values come from [`aarm_runtime::ops`] (shared on
//! purpose); the three-valued logic, the control flow and the resolution are written here from the
//! specification. The presentation of decisions (messages, which fields are filled) is the
//! runtime's one decision assembly, `aarm_runtime::assemble`, as the engine's is.
//!
//! `aarm test` also decides through it to measure branch coverage ([`crate::coverage`]): the same
//! walk, recording each counted condition's outcome on the way, so that the engine's decision
//! path carries no instrumentation.

use crate::codegen;
use crate::ir::{self, ActionField, Bundle, ContextField, ExprKind, IdentityField, LogicOp, Method, Targets};
use crate::trace::{Outcome, Shape};
use aarm_lang::ast::QuantKind;
use aarm_runtime::assemble::{self, Assigned, Resolved, RuleFacts};
use aarm_runtime::decision::{Decision, DeferObligation, Need, PolicyRef};
use aarm_runtime::ops::{self, EvalError};
use aarm_runtime::policy::DefaultEffect;
use aarm_runtime::regex_memo::RegexMemo;
use aarm_runtime::request::Request;
use aarm_runtime::value::{EvidenceMask, Value};
use std::borrow::Cow;
use std::sync::Arc;

/// Decides `req` under `bundle`, as `Engine::decide` does for the compiled bundle.
pub fn decide(bundle: &Bundle, req: &Request, bundle_hash: &str) -> Decision {
    let interp = Interp { bundle, req, bundle_hash };
    let results = interp.candidates(|_, r| interp.condition(r));
    let (verdict, _) = interp.resolve(&results);
    interp.materialize(&verdict)
}

/// [`decide`], also answering the outcome of each counted condition (`shapes`: per rule, per
/// `when` line, see [`crate::coverage`]) of the rules the resolution walked, by condition index.
/// A rule whose shapes do not match its lines is evaluated without recording anything.
pub(crate) fn decide_traced(
    bundle: &Bundle,
    req: &Request,
    bundle_hash: &str,
    shapes: &[Vec<Shape>],
) -> (Decision, Vec<(usize, Outcome)>) {
    let interp = Interp { bundle, req, bundle_hash };
    let mut traces: Vec<(usize, Vec<(usize, Truth)>)> = Vec::new();
    let results = interp.candidates(|i, r| {
        let mut trace = Vec::new();
        let truth = match shapes.get(i) {
            Some(lines) => interp.condition_traced(r, lines, &mut trace),
            None => interp.condition(r),
        };
        traces.push((i, trace));
        truth
    });
    let (verdict, walked) = interp.resolve(&results);
    let outcomes = traces
        .into_iter()
        .filter(|(i, _)| bundle.rules.get(*i).is_some_and(|r| walked.includes(*i, r)))
        .flat_map(|(_, trace)| trace)
        .map(|(id, truth)| (id, truth.outcome()))
        .collect();
    (interp.materialize(&verdict), outcomes)
}

/// The outcome of `e`, a `Bool` expression in the `when` lines of `rule`, evaluated alone on
/// `req`; `None` when its evaluation fails. What each counted condition (see [`crate::coverage`])
/// takes when it is reached, by definition: `compiler/tests/coverage.rs` compares the two.
pub fn condition_alone(bundle: &Bundle, req: &Request, rule: &ir::Rule, e: &ir::Expr) -> Option<Outcome> {
    let interp = Interp { bundle, req, bundle_hash: "" };
    truth_of(&interp.rule_expr(rule, e).ok()?).ok().map(Truth::outcome)
}

// ---------------------------------------------------------------------------------------------
// Three-valued results

/// The value of a condition.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Truth {
    True,
    False,
    /// Might be true: depends on these evidence facts.
    Unknown(EvidenceMask),
}

impl Truth {
    fn outcome(self) -> Outcome {
        match self {
            Truth::True => Outcome::True,
            Truth::False => Outcome::False,
            Truth::Unknown(_) => Outcome::Unknown,
        }
    }
}

type Eval = Result<Value, EvalError>;

/// `regex::Regex::new(pattern)`, remembered (`aarm_runtime::regex_memo`): `matches` compiled its
/// pattern at every evaluation, and the differential tests evaluate the same few patterns over
/// and over.
fn pattern_regex(pattern: &str) -> Result<regex::Regex, regex::Error> {
    static PATTERNS: RegexMemo = RegexMemo::new(regex::Regex::new);
    PATTERNS.compile(pattern)
}

fn malformed(what: &'static str) -> EvalError {
    EvalError::Malformed(what)
}

/// The union of the unknown labels among `values`, `None` when all are known.
fn unknown_of<'v>(values: impl IntoIterator<Item = &'v Value>) -> Option<EvidenceMask> {
    let mut mask: Option<EvidenceMask> = None;
    for v in values {
        if let Value::Unknown(m) = v {
            mask = Some(mask.unwrap_or(0) | m);
        }
    }
    mask
}

fn evidence_bit(index: usize) -> Result<EvidenceMask, EvalError> {
    u32::try_from(index).ok().and_then(|i| 1u128.checked_shl(i)).ok_or(malformed("evidence index"))
}

fn truth_of(v: &Value) -> Result<Truth, EvalError> {
    match v {
        Value::Bool(true) => Ok(Truth::True),
        Value::Bool(false) => Ok(Truth::False),
        Value::Unknown(m) => Ok(Truth::Unknown(*m)),
        _ => Err(malformed("a condition that is not a Bool")),
    }
}

// ---------------------------------------------------------------------------------------------
// Expressions

struct Interp<'a> {
    bundle: &'a Bundle,
    req: &'a Request,
    bundle_hash: &'a str,
}

/// The local variables of one body (a rule's expressions or one call of a `fn`).
struct Env {
    locals: Vec<Value>,
}

impl Env {
    fn new(size: u32) -> Env {
        Env { locals: vec![Value::Absent; size as usize] }
    }

    fn get(&self, id: ir::LocalId) -> Eval {
        self.locals.get(id.index()).cloned().ok_or(malformed("local out of range"))
    }

    fn set(&mut self, id: ir::LocalId, v: Value) -> Result<(), EvalError> {
        let slot = self.locals.get_mut(id.index()).ok_or(malformed("local out of range"))?;
        *slot = v;
        Ok(())
    }
}

impl<'a> Interp<'a> {
    fn eval(&self, e: &ir::Expr, env: &mut Env) -> Eval {
        match &e.kind {
            ExprKind::Const(c) => Ok(c.to_value()),
            ExprKind::List(items) => {
                let values = self.eval_all(items, env)?;
                Ok(match unknown_of(&values) {
                    Some(m) => Value::Unknown(m),
                    None => Value::list(values),
                })
            }
            ExprKind::Record(fields) => {
                let mut values = Vec::with_capacity(fields.len());
                for (_, f) in fields {
                    values.push(self.eval(f, env)?);
                }
                Ok(match unknown_of(&values) {
                    Some(m) => Value::Unknown(m),
                    None => Value::Record(Arc::from(values)),
                })
            }
            ExprKind::Param(name) => {
                let tool = self
                    .req
                    .tool_index
                    .and_then(|i| self.bundle.tools.get(i))
                    .ok_or(malformed("params of an undeclared tool"))?;
                let (slot, _) = tool.field(name).ok_or(malformed("params field"))?;
                self.req.params.get(slot).cloned().ok_or(malformed("params slot"))
            }
            ExprKind::Action(ActionField::Tool) => Ok(Value::Str(self.req.tool.clone())),
            ExprKind::Action(ActionField::Operation) => Ok(Value::Str(self.req.operation.clone())),
            ExprKind::Identity(f) => {
                let id = &self.req.identity;
                Ok(match f {
                    IdentityField::Human => Value::Str(id.human.clone()),
                    IdentityField::Service => Value::Str(id.service.clone()),
                    IdentityField::Agent => Value::Str(id.agent.clone()),
                    IdentityField::Session => Value::Str(id.session.clone()),
                    IdentityField::Roles => id.roles.clone(),
                })
            }
            ExprKind::Context(f) => {
                let c = &self.req.context;
                Ok(match f {
                    ContextField::OriginalRequest => c.original_request.clone(),
                    ContextField::PriorActions => c.prior_actions.clone(),
                    ContextField::DataClasses => c.data_classes.clone(),
                    ContextField::SemanticDistance => c.semantic_distance.clone(),
                    ContextField::Now => c.now.clone(),
                    ContextField::Declared(id) => {
                        c.declared.get(id.index()).cloned().ok_or(malformed("context field"))?
                    }
                })
            }
            ExprKind::Evidence(id) => match self.req.evidence.get(id.index()) {
                Some(Some(v)) => Ok(v.clone()),
                _ => Ok(Value::Unknown(evidence_bit(id.index())?)),
            },
            ExprKind::Local(id) => env.get(*id),
            ExprKind::Group(id) => {
                let g = self.bundle.groups.get(id.index()).ok_or(malformed("group"))?;
                Ok(Value::list(g.members.iter().map(|m| Value::str(m)).collect()))
            }
            ExprKind::Field { base, index, .. } => match self.eval(base, env)? {
                Value::Record(fields) => fields.get(*index as usize).cloned().ok_or(malformed("record field")),
                Value::Unknown(m) => Ok(Value::Unknown(m)),
                Value::Absent => Err(EvalError::Absent),
                _ => Err(malformed("field of a non-record")),
            },
            ExprKind::Unwrap(inner) => match self.eval(inner, env)? {
                Value::Absent => Err(EvalError::Absent),
                v => Ok(v),
            },
            ExprKind::Widen(inner) => self.unary(inner, env, ops::widen),
            ExprKind::Neg(inner) => self.unary(inner, env, ops::neg),
            ExprKind::Not(inner) => self.unary(inner, env, not),
            ExprKind::Arith { op, lhs, rhs } => {
                let a = self.eval(lhs, env)?;
                let b = self.eval(rhs, env)?;
                match unknown_of([&a, &b]) {
                    Some(m) => Ok(Value::Unknown(m)),
                    None => ops::arith(*op, &a, &b),
                }
            }
            ExprKind::Compare { op, lhs, rhs } => {
                let a = self.eval(lhs, env)?;
                let b = self.eval(rhs, env)?;
                match unknown_of([&a, &b]) {
                    Some(m) => Ok(Value::Unknown(m)),
                    None => ops::compare(ir::comparison(*op).ok_or(malformed("comparison operator"))?, &a, &b)
                        .map(Value::Bool),
                }
            }
            ExprKind::Logic { op, operands } => kleene(*op, operands, env, |e, env| self.eval(e, env)),
            ExprKind::In { element, collection } => {
                let x = self.eval(element, env)?;
                let xs = self.eval(collection, env)?;
                match unknown_of([&x, &xs]) {
                    Some(m) => Ok(Value::Unknown(m)),
                    None => ops::contains(&xs, &x).map(Value::Bool),
                }
            }
            ExprKind::IsSet { value, negated } => {
                // `evidence.X is set` asks whether the fact is known: always definite.
                if let ExprKind::Evidence(id) = &value.kind {
                    let known = matches!(self.req.evidence.get(id.index()), Some(Some(_)));
                    return Ok(Value::Bool(known != *negated));
                }
                Ok(match self.eval(value, env)? {
                    Value::Unknown(m) => Value::Unknown(m),
                    Value::Absent => Value::Bool(*negated),
                    _ => Value::Bool(!*negated),
                })
            }
            ExprKind::Method { method, receiver, args } => {
                let recv = self.eval(receiver, env)?;
                let args = self.eval_all(args, env)?;
                if let Some(m) = unknown_of(std::iter::once(&recv).chain(args.iter())) {
                    return Ok(Value::Unknown(m));
                }
                match method.primitive() {
                    Some(op) => ops::method(op, &recv, &args),
                    None => {
                        let Method::Matches(pattern) = method else { return Err(malformed("method")) };
                        let Value::Str(s) = &recv else { return Err(malformed("`matches` on a non-string")) };
                        let re = pattern_regex(pattern).map_err(|_| malformed("invalid pattern"))?;
                        Ok(Value::Bool(re.is_match(s)))
                    }
                }
            }
            ExprKind::Quantifier { kind, var, collection, body } => {
                let items = match self.eval(collection, env)? {
                    Value::Unknown(m) => return Ok(Value::Unknown(m)),
                    Value::List(items) => items,
                    _ => return Err(malformed("quantifier over a non-collection")),
                };
                self.quantifier(*kind, *var, &items, body, env)
            }
            ExprKind::Filter { var, collection, predicate } => {
                let items = match self.eval(collection, env)? {
                    Value::Unknown(m) => return Ok(Value::Unknown(m)),
                    Value::List(items) => items,
                    _ => return Err(malformed("filter of a non-collection")),
                };
                let mut kept = Vec::new();
                let mut unknown: Option<EvidenceMask> = None;
                for item in items.iter() {
                    env.set(*var, item.clone())?;
                    match truth_of(&self.eval(predicate, env)?)? {
                        Truth::True => kept.push(item.clone()),
                        Truth::False => {}
                        Truth::Unknown(m) => unknown = Some(unknown.unwrap_or(0) | m),
                    }
                }
                Ok(match unknown {
                    Some(m) => Value::Unknown(m),
                    None => Value::list(kept),
                })
            }
            ExprKind::Call { func, args } => {
                let f = self.bundle.fns.get(func.index()).ok_or(malformed("function"))?;
                let values = self.eval_all(args, env)?;
                let mut callee = Env::new(f.locals.max(u32::try_from(values.len()).unwrap_or(u32::MAX)));
                for (i, v) in values.into_iter().enumerate() {
                    let id = u32::try_from(i).map_err(|_| malformed("argument index"))?;
                    callee.set(ir::LocalId(id), v)?;
                }
                self.eval(&f.body, &mut callee)
            }
        }
    }

    fn eval_all(&self, es: &[ir::Expr], env: &mut Env) -> Result<Vec<Value>, EvalError> {
        let mut out = Vec::with_capacity(es.len());
        for e in es {
            out.push(self.eval(e, env)?);
        }
        Ok(out)
    }

    /// A strict one-operand operator: unknown in, unknown out.
    fn unary(&self, inner: &ir::Expr, env: &mut Env, f: impl Fn(&Value) -> Eval) -> Eval {
        strict(self.eval(inner, env)?, f)
    }

    fn quantifier(&self, kind: QuantKind, var: ir::LocalId, items: &[Value], body: &ir::Expr, env: &mut Env) -> Eval {
        let mut unknown: Option<EvidenceMask> = None;
        let mut count: i64 = 0;
        for item in items {
            env.set(var, item.clone())?;
            match (kind, truth_of(&self.eval(body, env)?)?) {
                (QuantKind::Any, Truth::True) => return Ok(Value::Bool(true)),
                (QuantKind::All, Truth::False) => return Ok(Value::Bool(false)),
                (QuantKind::Count, Truth::True) => count = count.checked_add(1).ok_or(EvalError::Overflow)?,
                (_, Truth::Unknown(m)) => unknown = Some(unknown.unwrap_or(0) | m),
                _ => {}
            }
        }
        Ok(match (unknown, kind) {
            (Some(m), _) => Value::Unknown(m),
            (None, QuantKind::Any) => Value::Bool(false),
            (None, QuantKind::All) => Value::Bool(true),
            (None, QuantKind::Count) => Value::Int(count),
        })
    }

    /// All `when` lines of a rule, as one `and`; no line is `true`.
    fn condition(&self, rule: &ir::Rule) -> Result<Truth, EvalError> {
        let mut env = Env::new(rule.locals);
        truth_of(&kleene(LogicOp::And, &rule.conditions, &mut env, |e, env| self.eval(e, env))?)
    }

    /// [`Interp::condition`], adding to `trace` the outcome of each counted condition reached
    /// (`lines`: the shapes of the rule's `when` lines).
    fn condition_traced(
        &self,
        rule: &ir::Rule,
        lines: &[Shape],
        trace: &mut Vec<(usize, Truth)>,
    ) -> Result<Truth, EvalError> {
        if lines.len() != rule.conditions.len() {
            return self.condition(rule);
        }
        let mut env = Env::new(rule.locals);
        let lines = rule.conditions.iter().zip(lines);
        truth_of(&kleene(LogicOp::And, lines, &mut env, |(e, s), env| self.eval_counted(e, s, env, trace))?)
    }

    /// A counted condition (`shape`: where it sits), adding its outcome to `trace` when it has
    /// one (a failed evaluation has none).
    fn eval_counted(&self, e: &ir::Expr, shape: &Shape, env: &mut Env, trace: &mut Vec<(usize, Truth)>) -> Eval {
        let v = self.eval_operands(e, &shape.children, env, trace)?;
        if let Ok(t) = truth_of(&v) {
            trace.push((shape.id, t));
        }
        Ok(v)
    }

    /// `e`, whose counted operands are `children`: the operands of an `and` or `or`, and through
    /// a `not`, those of its operand; any other expression is a leaf, evaluated as a whole.
    fn eval_operands(&self, e: &ir::Expr, children: &[Shape], env: &mut Env, trace: &mut Vec<(usize, Truth)>) -> Eval {
        match &e.kind {
            ExprKind::Logic { op, operands } if operands.len() == children.len() => {
                kleene(*op, operands.iter().zip(children), env, |(o, s), env| self.eval_counted(o, s, env, trace))
            }
            ExprKind::Not(inner) => strict(self.eval_operands(inner, children, env, trace)?, not),
            _ => self.eval(e, env),
        }
    }

    fn rule_expr(&self, rule: &ir::Rule, e: &ir::Expr) -> Eval {
        let mut env = Env::new(rule.locals);
        self.eval(e, &mut env)
    }
}

/// `not` of a known value.
fn not(v: &Value) -> Eval {
    match v {
        Value::Bool(b) => Ok(Value::Bool(!b)),
        _ => Err(malformed("`not` of a non-Bool")),
    }
}

/// A strict operator applied to `v`: unknown in, unknown out.
fn strict(v: Value, f: impl Fn(&Value) -> Eval) -> Eval {
    match v {
        Value::Unknown(m) => Ok(Value::Unknown(m)),
        v => f(&v),
    }
}

/// Kleene `and`/`or` over `operands`, left to right, stopping at the first deciding operand
/// (`eval` evaluates one).
fn kleene<T>(
    op: LogicOp,
    operands: impl IntoIterator<Item = T>,
    env: &mut Env,
    mut eval: impl FnMut(T, &mut Env) -> Eval,
) -> Eval {
    let decisive = op == LogicOp::Or; // `or` stops at true, `and` at false
    let mut unknown: Option<EvidenceMask> = None;
    for e in operands {
        match truth_of(&eval(e, env)?)? {
            Truth::True if decisive => return Ok(Value::Bool(true)),
            Truth::False if !decisive => return Ok(Value::Bool(false)),
            Truth::True | Truth::False => {}
            Truth::Unknown(m) => unknown = Some(unknown.unwrap_or(0) | m),
        }
    }
    Ok(match unknown {
        Some(m) => Value::Unknown(m),
        None => Value::Bool(!decisive),
    })
}

// ---------------------------------------------------------------------------------------------
// Resolution

/// A candidate rule (by index into `bundle.rules`) with its condition.
type Candidate<'a> = (usize, &'a ir::Rule, Result<Truth, EvalError>);

/// How far the resolution walked: every candidate above the deciding level `level` (all levels
/// when `None`), and at that level every candidate, or those up to the failing one `through`.
struct Walked {
    level: Option<i64>,
    through: Option<usize>,
}

impl Walked {
    fn includes(&self, i: usize, rule: &ir::Rule) -> bool {
        match self.level {
            None => true,
            Some(level) => {
                rule.priority > level || (rule.priority == level && self.through.is_none_or(|last| i <= last))
            }
        }
    }
}

/// How the request was decided (rules by index into `bundle.rules`).
type Verdict = assemble::Verdict<usize>;

/// Restrictiveness at equal priority: deny > step_up > defer > modify > allow.
fn restrictiveness(d: &ir::Decision) -> u8 {
    match d {
        ir::Decision::Deny => 4,
        ir::Decision::StepUp(_) => 3,
        ir::Decision::Defer(_) => 2,
        ir::Decision::Modify(_) => 1,
        ir::Decision::Allow => 0,
    }
}

impl<'a> Interp<'a> {
    /// Whether rule `r` is a candidate for the request's tool.
    fn is_candidate(&self, r: &ir::Rule) -> bool {
        match (&r.targets, self.req.tool_index) {
            (Targets::All, _) => true,
            (Targets::Tools(tools), Some(t)) => tools.iter().any(|id| id.index() == t),
            (Targets::Tools(_), None) => false,
        }
    }

    /// Every candidate with its condition (`condition` computes it), in source order.
    fn candidates(
        &self,
        mut condition: impl FnMut(usize, &ir::Rule) -> Result<Truth, EvalError>,
    ) -> Vec<Candidate<'a>> {
        let bundle: &'a Bundle = self.bundle;
        bundle
            .rules
            .iter()
            .enumerate()
            .filter(|(_, r)| self.is_candidate(r))
            .map(|(i, r)| (i, r, condition(i, r)))
            .collect()
    }

    /// The walk of `lang/REFERENCE.md`, "Evaluation", over the candidates `results`, and how far
    /// it went.
    fn resolve(&self, results: &[Candidate<'a>]) -> (Verdict, Walked) {
        let mut levels: Vec<i64> = results.iter().map(|(_, r, _)| r.priority).collect();
        levels.sort_unstable_by(|a, b| b.cmp(a));
        levels.dedup();

        let mut pending: EvidenceMask = 0;
        let mut first_unknown: Option<usize> = None;
        // The candidates walked so far whose condition is not `false`, in walk order (for "the
        // evidence's rule").
        let mut walked: Vec<(usize, &ir::Rule)> = Vec::new();
        for level in levels {
            let here = Walked { level: Some(level), through: None };
            let at_level: Vec<&Candidate<'a>> = results.iter().filter(|(_, r, _)| r.priority == level).collect();
            walked.extend(
                at_level.iter().filter(|(_, _, res)| !matches!(res, Ok(Truth::False))).map(|(i, r, _)| (*i, *r)),
            );
            // 1. The first failure of the level decides.
            for (i, _, res) in &at_level {
                if let Err(error) = res {
                    let here = Walked { through: Some(*i), ..here };
                    return (Verdict::Error { candidate: *i, error: error.clone(), at: None }, here);
                }
            }
            // 2. True and unknown candidates.
            let mut trues: Vec<(usize, &ir::Rule)> = Vec::new();
            for (i, r, res) in &at_level {
                match res {
                    Ok(Truth::True) => trues.push((*i, r)),
                    Ok(Truth::Unknown(m)) => {
                        pending |= m;
                        if first_unknown.is_none() {
                            first_unknown = Some(*i);
                        }
                    }
                    Ok(Truth::False) | Err(_) => {}
                }
            }
            // 3. Nothing true: next level.
            let Some(&(first_true, first_rule)) = trues.first() else { continue };
            // 4. The level decides.
            if pending != 0 {
                if let Some(first) = first_unknown {
                    let needing = needing_rule(&walked, pending);
                    return (Verdict::EvidenceDefer { first, mask: pending, needing }, here);
                }
            }
            if self.bundle.settings.conflict == ir::ConflictMode::Defer
                && trues.iter().any(|(_, r)| r.decision.name() != first_rule.decision.name())
            {
                return (Verdict::Conflict { first: first_true, priority: level }, here);
            }
            let mut winner = (first_true, first_rule);
            for &(i, r) in &trues {
                if restrictiveness(&r.decision) > restrictiveness(&winner.1.decision) {
                    winner = (i, r);
                }
            }
            if let (Some(min), Some(c)) = (self.bundle.settings.min_confidence, winner.1.confidence) {
                if c < min {
                    return (Verdict::LowConfidence(winner.0), here);
                }
            }
            return (Verdict::Rule(winner.0), here);
        }
        let verdict = match first_unknown {
            Some(first) if pending != 0 => {
                Verdict::EvidenceDefer { first, mask: pending, needing: needing_rule(&walked, pending) }
            }
            _ => Verdict::Default,
        };
        (verdict, Walked { level: None, through: None })
    }
}

/// "The evidence's rule": the first of `walked` (the candidates walked whose condition is not
/// `false`) whose decision is an explicit `defer` block that `need`s one of the pending facts.
fn needing_rule(walked: &[(usize, &ir::Rule)], pending: EvidenceMask) -> Option<usize> {
    walked
        .iter()
        .find(|(_, r)| match &r.decision {
            ir::Decision::Defer(block) => {
                block.need.iter().any(|id| evidence_bit(id.index()).is_ok_and(|bit| pending & bit != 0))
            }
            _ => false,
        })
        .map(|(i, _)| *i)
}

// ---------------------------------------------------------------------------------------------
// Materialization: the runtime's one decision assembly (`aarm_runtime::assemble`), fed from the
// IR. The presentation is written once; the resolution being compared is not.

impl<'a> Interp<'a> {
    fn policy_ref(&self, id: ir::PolicyId) -> PolicyRef {
        self.policy_named(self.bundle.policies.get(id.index()).or(self.bundle.policies.first()))
    }

    fn default_policy_ref(&self) -> PolicyRef {
        self.policy_named(self.bundle.policies.first())
    }

    /// How a decision names `policy` (nameless when the bundle has none).
    fn policy_named(&self, policy: Option<&ir::Policy>) -> PolicyRef {
        let (name, version) = policy.map(|p| (p.name.as_str(), p.version.as_str())).unwrap_or_default();
        PolicyRef::new(name, version, self.bundle_hash)
    }

    fn materialize(&self, verdict: &Verdict) -> Decision {
        assemble::assemble(&mut &*self, self.req, verdict)
    }
}

impl Resolved for &Interp<'_> {
    type Rule = usize;
    type Modify = Vec<ir::Assignment>;
    type Evidence = ir::EvidenceId;

    fn rule(&self, i: usize) -> Option<RuleFacts<'_, Vec<ir::Assignment>, ir::EvidenceId>> {
        let rule = self.bundle.rules.get(i)?;
        Some(RuleFacts {
            qualified_name: Cow::Owned(Arc::from(rule.qualified_name.as_str())),
            policy: Cow::Owned(self.policy_ref(rule.policy)),
            risk: rule.risk,
            confidence: rule.confidence,
            reason_code: Cow::Owned(Arc::from(rule.reason.code.as_str())),
            decision: &rule.decision,
            valid_s: rule.valid_s,
        })
    }

    fn default_policy(&self) -> PolicyRef {
        self.default_policy_ref()
    }

    fn default_effect(&self) -> DefaultEffect {
        self.bundle.settings.default
    }

    fn min_confidence(&self) -> Option<i64> {
        self.bundle.settings.min_confidence
    }
    fn allow_valid(&self) -> Option<i64> {
        self.bundle.settings.allow_valid_s
    }
    fn review(&self) -> Option<String> {
        self.bundle.settings.review.clone()
    }
    fn redaction(&self) -> &aarm_runtime::redact::Redaction {
        &self.bundle.settings.redact
    }

    fn settings_limits(&self) -> DeferObligation {
        DeferObligation::limits(&self.bundle.settings.defer_limits::<u16>())
    }

    /// The facts of `mask`, in declaration order.
    fn needs(&self, mask: EvidenceMask) -> Vec<Need> {
        self.bundle
            .evidence
            .iter()
            .enumerate()
            .filter(|(i, _)| evidence_bit(*i).is_ok_and(|b| mask & b != 0))
            .map(|(_, e)| Need { name: e.name.clone(), ty: e.ty.to_string(), source: e.source.clone() })
            .collect()
    }

    fn need_mask(&self, need: &[ir::EvidenceId]) -> Result<EvidenceMask, EvalError> {
        let mut mask: EvidenceMask = 0;
        for id in need {
            mask |= evidence_bit(id.index())?;
        }
        Ok(mask)
    }

    /// A rule's reason message with its interpolations.
    fn render_reason(&mut self, i: usize) -> Result<String, EvalError> {
        let rule = self.bundle.rules.get(i).ok_or(malformed("rule index"))?;
        let mut message = String::new();
        for part in &rule.reason.message {
            match part {
                ir::TemplatePart::Text(t) => message.push_str(t),
                ir::TemplatePart::Expr(e) => message.push_str(&self.rule_expr(rule, e)?.display()),
            }
        }
        Ok(message)
    }

    fn assignments(&mut self, i: usize) -> Result<Vec<Assigned>, EvalError> {
        let rule = self.bundle.rules.get(i).ok_or(malformed("rule index"))?;
        let ir::Decision::Modify(assignments) = &rule.decision else { return Ok(Vec::new()) };
        let tool = self
            .req
            .tool_index
            .and_then(|t| self.bundle.tools.get(t))
            .ok_or(malformed("modify of an undeclared tool"))?;
        let mut out = Vec::with_capacity(assignments.len());
        for a in assignments {
            let (_, field) = tool.field(&a.field).ok_or(malformed("modify field"))?;
            let value = self.rule_expr(rule, &a.value)?;
            out.push(Assigned { field: a.field.clone(), ty: codegen::value_type(&field.ty), value });
        }
        Ok(out)
    }
}

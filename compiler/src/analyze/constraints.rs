//! A conservative constraint domain over conjunctions of conditions, and the finding it backs:
//! a rule whose condition can never be true (W0014).
//!
//! The analysis reads the top-level `and` of the given conditions (several `when` lines are one
//! `and`; `not` is pushed inward through `or` by De Morgan) and collects, per *path* — a value
//! named from the request (`params.x`, `context.x.y`, `identity.human`, `action.tool`,
//! `evidence.x`), never a local — the constraints that comparisons with constants put on it:
//! numeric bounds (`Int`, `Decimal`, `Duration`, `Time`), string `==`/`!=`/`in [literals]`,
//! `Bool` equalities, and `is set`/`is not set`. Any other conjunct adds nothing.
//!
//! Soundness: every constraint is implied by its conjunct being *true* (in three-valued logic an
//! unknown conjunct is not true, so evidence is no exception), and the conjunction is true only
//! if every conjunct is. Dropping a conjunct only weakens the system. So an empty system proves
//! that the conjunction is never true; a non-empty one proves nothing and is never reported.
//! Numbers are exact: all numeric values are integers in their unit (an `Int` is scaled to
//! ten-thousandths, the unit of `Decimal`, so that widened comparisons share it), and strict
//! bounds are tightened to the next representable value.

use super::rule_name;
use crate::ir::{self, Const, Expr, ExprKind, LogicOp};
use crate::types::Type;
use aarm_lang::ast::BinOp;
use aarm_lang::{Code, Diagnostic};
use std::collections::HashMap;

/// Reports rules whose condition can never be true; returns, per rule, whether it was.
pub(super) fn check(bundle: &ir::Bundle, out: &mut Vec<Diagnostic>) -> Vec<bool> {
    let mut unsat = Vec::with_capacity(bundle.rules.len());
    for r in &bundle.rules {
        let conds: Vec<&Expr> = r.conditions.iter().collect();
        let never = is_unsatisfiable(bundle, &conds);
        unsat.push(never);
        if !never {
            continue;
        }
        let mut d = Diagnostic::new(
            Code::UnsatisfiableCondition,
            r.loc.file,
            r.loc.span,
            format!("the condition of rule {} can never be true", rule_name(r)),
        )
        .with_label("this rule never decides")
        .with_help(
            "the `when` lines contradict each other (a value bounded from both sides with no room between, \
             or equal to two different constants); fix the comparison, or join alternatives with `or`",
        );
        for c in &r.conditions {
            d = d.with_secondary(r.loc.file, c.span, "one of the conditions that together cannot hold");
        }
        out.push(d);
    }
    unsat
}

/// True when the conjunction of `conds` is provably never true.
pub(super) fn is_unsatisfiable(bundle: &ir::Bundle, conds: &[&Expr]) -> bool {
    let mut sys = System::default();
    for c in conds {
        sys.add(bundle, c, true);
    }
    sys.is_empty()
}

/// A value named from the request.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
enum Path {
    Param(String),
    Action(ir::ActionField),
    Identity(ir::IdentityField),
    Context(ir::ContextField),
    Evidence(ir::EvidenceId),
    Field(Box<Path>, u32),
}

fn path_of(e: &Expr) -> Option<Path> {
    match &e.kind {
        ExprKind::Param(n) => Some(Path::Param(n.clone())),
        ExprKind::Action(f) => Some(Path::Action(*f)),
        ExprKind::Identity(f) => Some(Path::Identity(*f)),
        ExprKind::Context(f) => Some(Path::Context(*f)),
        ExprKind::Evidence(id) => Some(Path::Evidence(*id)),
        ExprKind::Field { base, index, .. } => Some(Path::Field(Box::new(path_of(base)?), *index)),
        // The value of an optional that a guard proved present is the optional's value.
        ExprKind::Unwrap(inner) => path_of(inner),
        _ => None,
    }
}

/// Ten-thousandths per `Int`.
const INT_SCALE: i128 = 10_000;

/// A numeric path and its granularity in the shared unit.
fn numeric_path(e: &Expr) -> Option<(Path, i128)> {
    match (&e.kind, &e.ty) {
        (ExprKind::Widen(inner), _) => numeric_path(inner),
        (_, Type::Int) => Some((path_of(e)?, INT_SCALE)),
        (_, Type::Decimal | Type::Duration | Type::Time) => Some((path_of(e)?, 1)),
        _ => None,
    }
}

fn numeric_const(e: &Expr) -> Option<i128> {
    match &e.kind {
        ExprKind::Const(Const::Int(i)) => Some(i128::from(*i) * INT_SCALE),
        ExprKind::Const(Const::Decimal(d) | Const::Duration(d) | Const::Time(d)) => Some(i128::from(*d)),
        ExprKind::Widen(inner) => numeric_const(inner),
        ExprKind::Neg(inner) => numeric_const(inner).map(|v| -v),
        _ => None,
    }
}

fn string_const(e: &Expr) -> Option<&str> {
    match &e.kind {
        ExprKind::Const(Const::Str(s)) => Some(s),
        _ => None,
    }
}

fn bool_const(e: &Expr) -> Option<bool> {
    match &e.kind {
        ExprKind::Const(Const::Bool(b)) => Some(*b),
        _ => None,
    }
}

/// The string constants of a literal list, a constant list or a group; `None` when not all are.
fn string_list(bundle: &ir::Bundle, e: &Expr) -> Option<Vec<String>> {
    match &e.kind {
        ExprKind::Const(Const::List(items)) => items
            .iter()
            .map(|c| match c {
                Const::Str(s) => Some(s.clone()),
                _ => None,
            })
            .collect(),
        ExprKind::List(items) => items.iter().map(|i| string_const(i).map(str::to_string)).collect(),
        ExprKind::Group(id) => bundle.groups.get(id.index()).map(|g| g.members.clone()),
        _ => None,
    }
}

fn negate(op: BinOp) -> BinOp {
    match op {
        BinOp::Eq => BinOp::Ne,
        BinOp::Ne => BinOp::Eq,
        BinOp::Lt => BinOp::Ge,
        BinOp::Le => BinOp::Gt,
        BinOp::Gt => BinOp::Le,
        BinOp::Ge => BinOp::Lt,
        other => other,
    }
}

/// `c OP x` as `x OP' c`.
fn flip(op: BinOp) -> BinOp {
    match op {
        BinOp::Lt => BinOp::Gt,
        BinOp::Le => BinOp::Ge,
        BinOp::Gt => BinOp::Lt,
        BinOp::Ge => BinOp::Le,
        other => other,
    }
}

#[derive(Debug, Default)]
struct Num {
    lo: Option<i128>,
    hi: Option<i128>,
    gran: i128,
    excluded: Vec<i128>,
}

#[derive(Debug, Default)]
struct Str {
    eq: Vec<String>,
    ne: Vec<String>,
    /// Each an allowed set (`x in [..]`); the value is in all of them.
    within: Vec<Vec<String>>,
}

#[derive(Debug, Default)]
struct Domain {
    num: Option<Num>,
    str: Str,
    bools: Vec<bool>,
    set: Vec<bool>,
}

impl Domain {
    fn is_empty(&self) -> bool {
        if self.bools.windows(2).any(|w| w.first() != w.get(1)) || self.set.windows(2).any(|w| w.first() != w.get(1)) {
            return true;
        }
        if let Some(n) = &self.num {
            if n.is_empty() {
                return true;
            }
        }
        self.str.is_empty()
    }
}

impl Num {
    fn is_empty(&self) -> bool {
        let g = self.gran.max(1);
        // Round the bounds inward to multiples of the granularity.
        let lo = self.lo.map(|l| l.div_euclid(g) * g + if l.rem_euclid(g) == 0 { 0 } else { g });
        let hi = self.hi.map(|h| h.div_euclid(g) * g);
        let (Some(lo), Some(hi)) = (lo, hi) else { return false };
        if lo > hi {
            return true;
        }
        // A finite range: empty if `!=` excludes every value in it.
        let size = (hi - lo) / g + 1;
        let mut excluded: Vec<i128> = self
            .excluded
            .iter()
            .copied()
            .filter(|v| *v >= lo && *v <= hi && v.rem_euclid(g) == lo.rem_euclid(g))
            .collect();
        excluded.sort_unstable();
        excluded.dedup();
        i128::try_from(excluded.len()).is_ok_and(|n| n >= size)
    }
}

impl Str {
    fn is_empty(&self) -> bool {
        if let Some(first) = self.eq.first() {
            return self.eq.iter().any(|s| s != first)
                || self.ne.contains(first)
                || self.within.iter().any(|w| !w.contains(first));
        }
        if let Some((first, rest)) = self.within.split_first() {
            return !first.iter().any(|s| !self.ne.contains(s) && rest.iter().all(|w| w.contains(s)));
        }
        false
    }
}

#[derive(Debug, Default)]
struct System {
    paths: HashMap<Path, Domain>,
    /// A conjunct that is the constant `false`.
    falsum: bool,
}

impl System {
    fn is_empty(&self) -> bool {
        self.falsum || self.paths.values().any(Domain::is_empty)
    }

    fn domain(&mut self, p: Path) -> &mut Domain {
        self.paths.entry(p).or_default()
    }

    /// Adds the constraints implied by `e` being `positive` (true, or with `false` false).
    fn add(&mut self, bundle: &ir::Bundle, e: &Expr, positive: bool) {
        match &e.kind {
            ExprKind::Logic { op: LogicOp::And, operands } if positive => {
                operands.iter().for_each(|o| self.add(bundle, o, true))
            }
            ExprKind::Logic { op: LogicOp::Or, operands } if !positive => {
                operands.iter().for_each(|o| self.add(bundle, o, false))
            }
            ExprKind::Not(inner) => self.add(bundle, inner, !positive),
            ExprKind::Const(Const::Bool(b)) => self.falsum |= *b != positive,
            ExprKind::IsSet { value, negated } => {
                if let Some(p) = path_of(value) {
                    self.domain(p).set.push(*negated != positive);
                }
            }
            ExprKind::Compare { op, lhs, rhs } => {
                let op = if positive { *op } else { negate(*op) };
                self.compare(op, lhs, rhs);
            }
            ExprKind::In { element, collection } => {
                let (Some(p), Some(list)) = (path_of(element), string_list(bundle, collection)) else { return };
                if element.ty != Type::String {
                    return;
                }
                let d = self.domain(p);
                if positive {
                    d.str.within.push(list);
                } else {
                    d.str.ne.extend(list);
                }
            }
            _ if e.ty == Type::Bool => {
                if let Some(p) = path_of(e) {
                    self.domain(p).bools.push(positive);
                }
            }
            _ => {}
        }
    }

    fn compare(&mut self, op: BinOp, lhs: &Expr, rhs: &Expr) {
        // Numbers.
        let num = match (numeric_path(lhs), numeric_const(rhs), numeric_path(rhs), numeric_const(lhs)) {
            (Some((p, g)), Some(c), _, _) => Some((p, g, op, c)),
            (_, _, Some((p, g)), Some(c)) => Some((p, g, flip(op), c)),
            _ => None,
        };
        if let Some((p, g, op, c)) = num {
            let d = self.domain(p);
            let n = d.num.get_or_insert_with(|| Num { gran: g, ..Num::default() });
            n.gran = n.gran.max(g);
            let lower = |n: &mut Num, v: i128| n.lo = Some(n.lo.map_or(v, |l| l.max(v)));
            let upper = |n: &mut Num, v: i128| n.hi = Some(n.hi.map_or(v, |h| h.min(v)));
            match op {
                BinOp::Eq => {
                    lower(n, c);
                    upper(n, c);
                }
                BinOp::Ne => n.excluded.push(c),
                // Every value is an integer in the unit, so `x < c` is `x <= c - 1`.
                BinOp::Lt => upper(n, c - 1),
                BinOp::Le => upper(n, c),
                BinOp::Gt => lower(n, c + 1),
                BinOp::Ge => lower(n, c),
                BinOp::Add | BinOp::Sub | BinOp::Mul | BinOp::Div => {}
            }
            return;
        }
        // Strings and booleans: only `==` and `!=`.
        let (path_side, const_side) = if path_of(lhs).is_some() { (lhs, rhs) } else { (rhs, lhs) };
        let Some(p) = path_of(path_side) else { return };
        match (&path_side.ty, op) {
            (Type::String, BinOp::Eq | BinOp::Ne) => {
                let Some(s) = string_const(const_side) else { return };
                let d = self.domain(p);
                if op == BinOp::Eq {
                    d.str.eq.push(s.to_string());
                } else {
                    d.str.ne.push(s.to_string());
                }
            }
            (Type::Bool, BinOp::Eq | BinOp::Ne) => {
                let Some(b) = bool_const(const_side) else { return };
                self.domain(p).bools.push(b == (op == BinOp::Eq));
            }
            _ => {}
        }
    }
}

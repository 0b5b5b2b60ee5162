//! A conservative constraint domain over conjunctions of conditions, and the finding it backs:
//! a rule whose condition can never be true (W0014).
//!
//! The analysis reads the top-level `and` of the given conditions (several `when` lines are one
//! `and`; `not` is pushed inward through `or` by De Morgan) and collects, per *path* — a value
//! named from the request (`params.x`, `context.x.y`, `identity.human`, `action.tool`,
//! `evidence.x`), never a local — the constraints that comparisons with constants put on it:
//! numeric bounds (`Int`, `Decimal`, `Duration`, `Time`), string `==`/`!=`/`in [literals]`,
//! `starts_with`/`ends_with` a literal (and their negations), `Bool` equalities, and
//! `is set`/`is not set`. Any other conjunct adds nothing.
//!
//! Soundness: every constraint is implied by its conjunct being *true* (in three-valued logic an
//! unknown conjunct is not true, so evidence is no exception), and the conjunction is true only
//! if every conjunct is. Dropping a conjunct only weakens the system. So an empty system proves
//! that the conjunction is never true; a non-empty one proves nothing and is never reported.
//! Numbers are exact: all numeric values are integers in their unit (an `Int` is scaled to
//! 10^-18, the unit of `Decimal`, so that widened comparisons share it), and strict
//! bounds are tightened to the next representable value. Without `==` or `in`, a string has
//! infinitely many candidates: its constraints are empty only when two required prefixes (or
//! suffixes) disagree, or a forbidden prefix (suffix) is implied by a required one; any other mix
//! is met by a long enough string of a character no constraint mentions.
//!
//! [`Constraints`] is the system of one rule, built once, so that the conflict analysis can ask
//! whether two rules can hold together without reading their conditions again.

use super::rule_name;
use crate::ir::{self, Const, Expr, ExprKind, LogicOp, Method, MethodOp};
use crate::types::Type;
use aarm_lang::ast::BinOp;
use aarm_lang::{Code, Diagnostic};
use std::collections::HashMap;

/// Reports rules whose condition can never be true; returns the constraints of every rule, in
/// rule order.
pub(super) fn check(bundle: &ir::Bundle, out: &mut Vec<Diagnostic>) -> Vec<Constraints> {
    let mut all = Vec::with_capacity(bundle.rules.len());
    let mut ids = PathIds::default();
    for r in &bundle.rules {
        let cons = Constraints::of(bundle, &r.conditions, &mut ids);
        let never = cons.never();
        all.push(cons);
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
             equal to two different constants, or with two prefixes that cannot both start it); fix the \
             comparison, or join alternatives with `or`",
        );
        for c in &r.conditions {
            d = d.with_secondary(r.loc.file, c.span, "one of the conditions that together cannot hold");
        }
        out.push(d);
    }
    all
}

/// The constraints that a conjunction of conditions puts on the paths of a request: per path
/// (numbered by [`PathIds`], in increasing order), its domain.
#[derive(Debug, Default)]
pub(super) struct Constraints {
    paths: Vec<(PathId, Domain)>,
    never: bool,
}

/// A path of one bundle, by number: rules' constraints are compared by merging two sorted lists.
pub(super) type PathId = u32;

/// Numbers the paths of one bundle.
#[derive(Debug, Default)]
pub(super) struct PathIds(HashMap<Path, PathId>);

impl Constraints {
    pub(super) fn of(bundle: &ir::Bundle, conds: &[Expr], ids: &mut PathIds) -> Constraints {
        let mut sys = System::default();
        for c in conds {
            sys.add(bundle, c, true);
        }
        let never = sys.is_empty();
        let mut paths: Vec<(PathId, Domain)> = sys
            .paths
            .into_iter()
            .map(|(p, d)| {
                let next = PathId::try_from(ids.0.len()).unwrap_or(PathId::MAX);
                (*ids.0.entry(p).or_insert(next), d)
            })
            .collect();
        paths.sort_unstable_by_key(|(p, _)| *p);
        Constraints { paths, never }
    }

    /// True when the conjunction is provably never true.
    pub(super) fn never(&self) -> bool {
        self.never
    }

    /// True when the two conjunctions are provably never true together: one of them never is,
    /// or a path that both constrain has no value that meets both.
    pub(super) fn disjoint(&self, other: &Constraints) -> bool {
        if self.never || other.never {
            return true;
        }
        let (mut a, mut b) = (self.paths.iter().peekable(), other.paths.iter().peekable());
        while let (Some((pa, da)), Some((pb, db))) = (a.peek(), b.peek()) {
            match pa.cmp(pb) {
                std::cmp::Ordering::Less => {
                    a.next();
                }
                std::cmp::Ordering::Greater => {
                    b.next();
                }
                std::cmp::Ordering::Equal => {
                    if domain_empty([da, db]) {
                        return true;
                    }
                    a.next();
                    b.next();
                }
            }
        }
        false
    }

    /// The paths whose string value is one of finitely many (`x == "a"`, `x in [...]`), with
    /// those values.
    pub(super) fn string_points(&self) -> impl Iterator<Item = (PathId, Vec<&str>)> {
        self.paths.iter().filter_map(|(p, d)| d.str.points().map(|v| (*p, v)))
    }
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

/// Units of `Decimal` (10^-18) per `Int`.
const INT_SCALE: i128 = aarm_runtime::decimal::DECIMAL_SCALE;

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
        ExprKind::Const(Const::Decimal(d)) => Some(*d),
        ExprKind::Const(Const::Duration(d) | Const::Time(d)) => Some(i128::from(*d)),
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

#[derive(Clone, Debug, Default)]
struct Num {
    lo: Option<i128>,
    hi: Option<i128>,
    gran: i128,
    excluded: Vec<i128>,
}

#[derive(Clone, Debug, Default)]
struct Str {
    eq: Vec<String>,
    ne: Vec<String>,
    /// Each an allowed set (`x in [..]`); the value is in all of them.
    within: Vec<Vec<String>>,
    /// `x.starts_with(p)` true, and false.
    prefixes: Vec<String>,
    not_prefixes: Vec<String>,
    /// `x.ends_with(s)` true, and false.
    suffixes: Vec<String>,
    not_suffixes: Vec<String>,
}

#[derive(Clone, Debug, Default)]
struct Domain {
    num: Option<Num>,
    str: Str,
    bools: Vec<bool>,
    set: Vec<bool>,
}

// Emptiness is decided over the constraints of one domain or of several at once (two rules'
// constraints on one path, for the conflict analysis), without merging them into a new one.

fn domain_empty<const N: usize>(parts: [&Domain; N]) -> bool {
    let disagree = |each: fn(&Domain) -> &[bool]| {
        let mut all = parts.iter().flat_map(|d| each(d).iter());
        all.next().is_some_and(|first| all.any(|b| b != first))
    };
    if disagree(|d| &d.bools) || disagree(|d| &d.set) {
        return true;
    }
    let nums = parts.map(|d| d.num.as_ref());
    (nums.iter().any(Option::is_some) && num_empty(&nums)) || str_empty(&parts.map(|d| &d.str))
}

fn num_empty(parts: &[Option<&Num>]) -> bool {
    let parts = || parts.iter().flatten();
    let g = parts().map(|n| n.gran).max().unwrap_or(1).max(1);
    let lo = parts().filter_map(|n| n.lo).max();
    let hi = parts().filter_map(|n| n.hi).min();
    // Round the bounds inward to multiples of the granularity.
    let lo = lo.map(|l| l.div_euclid(g) * g + if l.rem_euclid(g) == 0 { 0 } else { g });
    let hi = hi.map(|h| h.div_euclid(g) * g);
    let (Some(lo), Some(hi)) = (lo, hi) else { return false };
    if lo > hi {
        return true;
    }
    // A finite range: empty if `!=` excludes every value in it.
    let size = (hi - lo) / g + 1;
    let mut excluded: Vec<i128> = parts()
        .flat_map(|n| n.excluded.iter().copied())
        .filter(|v| *v >= lo && *v <= hi && v.rem_euclid(g) == lo.rem_euclid(g))
        .collect();
    excluded.sort_unstable();
    excluded.dedup();
    i128::try_from(excluded.len()).is_ok_and(|n| n >= size)
}

/// True when `s` meets every constraint of `parts` but `==` and `in`.
fn admits(parts: &[&Str], s: &str) -> bool {
    parts.iter().all(|p| {
        !p.ne.iter().any(|n| n == s)
            && p.prefixes.iter().all(|x| s.starts_with(x.as_str()))
            && !p.not_prefixes.iter().any(|x| s.starts_with(x.as_str()))
            && p.suffixes.iter().all(|x| s.ends_with(x.as_str()))
            && !p.not_suffixes.iter().any(|x| s.ends_with(x.as_str()))
    })
}

/// True when `s` meets every constraint of `parts`.
fn meets(parts: &[&Str], s: &str) -> bool {
    parts.iter().all(|p| p.eq.iter().all(|e| e == s) && p.within.iter().all(|w| w.iter().any(|x| x == s)))
        && admits(parts, s)
}

/// The candidates `==` or `in` leave, when there is one of them: `None` means infinitely many.
fn finite_candidates<'a>(parts: &[&'a Str]) -> Option<&'a [String]> {
    if let Some(e) = parts.iter().find_map(|p| p.eq.first()) {
        return Some(std::slice::from_ref(e));
    }
    parts.iter().find_map(|p| p.within.first()).map(Vec::as_slice)
}

fn str_empty(parts: &[&Str]) -> bool {
    if let Some(candidates) = finite_candidates(parts) {
        return !candidates.iter().any(|s| meets(parts, s));
    }
    // Infinitely many candidates: see the module documentation.
    let affixes_conflict =
        |required: fn(&Str) -> &[String], forbidden: fn(&Str) -> &[String], extends: fn(&str, &str) -> bool| {
            let required = || parts.iter().flat_map(|p| required(p).iter());
            let longest = required().max_by_key(|p| p.len()).map_or("", String::as_str);
            required().any(|p| !extends(longest, p))
                || parts.iter().flat_map(|p| forbidden(p).iter()).any(|q| extends(longest, q))
        };
    affixes_conflict(|p| &p.prefixes, |p| &p.not_prefixes, |s, p| s.starts_with(p))
        || affixes_conflict(|p| &p.suffixes, |p| &p.not_suffixes, |s, p| s.ends_with(p))
}

impl Str {
    /// The values left when `==` or `in` makes them finitely many.
    fn points(&self) -> Option<Vec<&str>> {
        let candidates = finite_candidates(&[self])?;
        let mut out: Vec<&str> = candidates.iter().map(String::as_str).filter(|s| meets(&[self], s)).collect();
        out.sort_unstable();
        out.dedup();
        Some(out)
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
        self.falsum || self.paths.values().any(|d| domain_empty([d]))
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
            ExprKind::Method {
                method: method @ (Method::Op(MethodOp::StartsWith) | Method::Op(MethodOp::EndsWith)),
                receiver,
                args,
            } => {
                let (Some(p), [arg]) = (path_of(receiver), args.as_slice()) else { return };
                let Some(affix) = string_const(arg) else { return };
                let d = self.domain(p);
                let list = match (method, positive) {
                    (Method::Op(MethodOp::StartsWith), true) => &mut d.str.prefixes,
                    (Method::Op(MethodOp::StartsWith), false) => &mut d.str.not_prefixes,
                    (_, true) => &mut d.str.suffixes,
                    (_, false) => &mut d.str.not_suffixes,
                };
                list.push(affix.to_string());
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

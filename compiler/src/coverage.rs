//! Branch coverage of rules' `when` conditions, for `aarm test`.
//!
//! **What counts.** A *condition* is a `when` line, each operand of an `and` or `or` (at any
//! depth), and each `not` (its operand is not counted again: its outcomes are the `not`'s, swapped;
//! the operand's own `and`/`or` operands are). Everything else — a comparison, `in`, `is set`, a
//! method, a quantifier, a `fn` call — is a leaf, counted as a whole. A *branch* is a condition
//! with one of its outcomes: `true`, `false`, and `unknown` where the condition can be unknown
//! (it reads the value of an evidence fact that no `evidence.X is set` guard before it on the way
//! proved set). So `when params.a > 1 and not evidence.ok` is three conditions (the line,
//! `params.a > 1` and `not evidence.ok`) and eight branches: `true` and `false` of each, and
//! `unknown` of the line and of the `not`.
//!
//! **When an outcome is taken.** The outcome is the condition's value in the language's
//! three-valued logic, for a request the tests decided (a submitted action, and each re-evaluation
//! after `provide`), evaluated as `lang/REFERENCE.md`, "Evaluation", prescribes: `and` and `or`
//! stop at their first deciding operand, so the operands after it are not reached; a rule below
//! the priority level that decided is not consulted, so none of its conditions is. A condition
//! whose evaluation fails (an evaluation error) takes no outcome.
//!
//! The outcomes are recorded by the reference interpreter ([`crate::interpret`]) deciding the same
//! request beside the engine, so the engine's decision path never pays for coverage;
//! `compiler/tests/differential.rs` holds the two to the same decisions, and
//! `compiler/tests/coverage.rs` holds the recorded outcomes to the engine's conditions.

use crate::interpret;
use crate::ir::{self, Bundle, EvidenceId, Expr, ExprKind, LogicOp, RuleId};
use aarm_runtime::decision::Decision;
use aarm_runtime::request::Request;
use std::collections::BTreeSet;

pub use crate::trace::Outcome;
pub(crate) use crate::trace::Shape;

/// One counted condition of a rule.
#[derive(Clone, Debug)]
pub struct Condition {
    /// The rule whose `when` lines the condition is part of.
    pub rule: RuleId,
    /// The rule's file and the condition's own span.
    pub loc: ir::Loc,
    /// Whether `unknown` is one of its branches.
    pub(crate) may_be_unknown: bool,
    /// The condition it is an operand of (through a `not`, the `not`'s); `None` for a `when` line.
    pub parent: Option<usize>,
}

impl Condition {
    /// Its branches: `true`, `false`, and `unknown` when it can be unknown.
    pub fn branches(&self) -> impl Iterator<Item = Outcome> + '_ {
        Outcome::ALL.into_iter().filter(|o| *o != Outcome::Unknown || self.may_be_unknown)
    }
}

/// The counted conditions of a bundle and the outcomes the requests decided so far took.
#[derive(Clone, Debug)]
pub struct Coverage {
    conditions: Vec<Condition>,
    /// Per rule, per `when` line.
    shapes: Vec<Vec<Shape>>,
    /// Per condition, per [`Outcome::index`].
    taken: Vec<[bool; 3]>,
}

impl Coverage {
    /// The conditions of every rule of `bundle`, none taken yet.
    pub fn new(bundle: &Bundle) -> Coverage {
        let mut conditions = Vec::new();
        let mut shapes = Vec::with_capacity(bundle.rules.len());
        for (i, rule) in bundle.rules.iter().enumerate() {
            let rule_id = RuleId(u32::try_from(i).unwrap_or(u32::MAX));
            let mut lines = Vec::with_capacity(rule.conditions.len());
            // Lines are one `and`: a later line is reached only when the earlier ones held (or
            // were unknown), so their guards hold for it.
            let mut known = BTreeSet::new();
            let mut site = Site { bundle, rule: rule_id, file: rule.loc.file, conditions: &mut conditions };
            for line in &rule.conditions {
                lines.push(site.shape(line, None, &known));
                known.extend(proved_set(line, true));
            }
            shapes.push(lines);
        }
        let taken = vec![[false; 3]; conditions.len()];
        Coverage { conditions, shapes, taken }
    }

    /// Decides `req` under `bundle` (the bundle this coverage was made for) as
    /// [`interpret::decide`] does, and marks the outcomes the request took.
    pub fn decide(&mut self, bundle: &Bundle, req: &Request, bundle_hash: &str) -> Decision {
        let (decision, outcomes) = interpret::decide_traced(bundle, req, bundle_hash, &self.shapes);
        for (id, outcome) in outcomes {
            if let Some(t) = self.taken.get_mut(id).and_then(|t| t.get_mut(outcome.index())) {
                *t = true;
            }
        }
        decision
    }

    /// Every counted condition, rule by rule in the bundle's order, each before its operands.
    pub fn conditions(&self) -> &[Condition] {
        &self.conditions
    }

    /// Whether a request decided so far made condition `id` take `outcome`.
    pub fn taken(&self, id: usize, outcome: Outcome) -> bool {
        self.taken.get(id).and_then(|t| t.get(outcome.index())).copied().unwrap_or(false)
    }

    /// How many branches there are.
    pub(crate) fn branches_total(&self) -> usize {
        self.conditions.iter().map(|c| c.branches().count()).sum()
    }

    /// How many branches a request decided so far took.
    pub(crate) fn branches_taken(&self) -> usize {
        self.conditions.iter().enumerate().map(|(i, c)| c.branches().filter(|o| self.taken(i, *o)).count()).sum()
    }
}

/// Builds the shapes of one rule, adding its conditions.
struct Site<'a> {
    bundle: &'a Bundle,
    rule: RuleId,
    file: aarm_lang::FileId,
    conditions: &'a mut Vec<Condition>,
}

impl Site<'_> {
    /// `e` as a counted condition, reached only when the facts in `known` are set.
    fn shape(&mut self, e: &Expr, parent: Option<usize>, known: &BTreeSet<EvidenceId>) -> Shape {
        let id = self.conditions.len();
        let loc = ir::Loc { file: self.file, span: e.span };
        self.conditions.push(Condition { rule: self.rule, loc, may_be_unknown: false, parent });
        let children = self.operands(e, id, known);
        // Kleene `and`/`or` (and `not`) are unknown only when an operand is; a leaf when it
        // reads an evidence value that may be missing.
        let may_be_unknown = if children.is_empty() {
            reads_evidence(self.bundle, e, known, 0)
        } else {
            children.iter().any(|c| self.conditions.get(c.id).is_some_and(|c| c.may_be_unknown))
        };
        if let Some(c) = self.conditions.get_mut(id) {
            c.may_be_unknown = may_be_unknown;
        }
        Shape { id, children }
    }

    /// The counted conditions directly under `e` (condition `id`).
    fn operands(&mut self, e: &Expr, id: usize, known: &BTreeSet<EvidenceId>) -> Vec<Shape> {
        match &e.kind {
            ExprKind::Logic { op, operands } => {
                let mut known = known.clone();
                let mut out = Vec::with_capacity(operands.len());
                for o in operands {
                    out.push(self.shape(o, Some(id), &known));
                    // `a and b`: b is reached when a was true or unknown; `a or b`: false or unknown.
                    known.extend(proved_set(o, *op == LogicOp::And));
                }
                out
            }
            ExprKind::Not(inner) => self.operands(inner, id, known),
            _ => Vec::new(),
        }
    }
}

/// The evidence facts `e` proves set when it is `when` (or unknown): an `evidence.X is set`
/// that is true, an `evidence.X is not set` that is false, through `and`, `or` and `not`.
///
/// Why unknown counts as `when`: an `and` is unknown only when no operand is false, so every
/// operand was evaluated and each is true or unknown; an `or` likewise with false. By induction
/// on `e`, a fact in `proved_set(e, true)` is set whenever `e` is true or unknown.
fn proved_set(e: &Expr, when: bool) -> BTreeSet<EvidenceId> {
    match &e.kind {
        ExprKind::IsSet { value, negated } => match &value.kind {
            ExprKind::Evidence(id) if *negated != when => BTreeSet::from([*id]),
            _ => BTreeSet::new(),
        },
        ExprKind::Not(inner) => proved_set(inner, !when),
        ExprKind::Logic { op, operands } => {
            let mut sets = operands.iter().map(|o| proved_set(o, when));
            // `and` true: every operand held; `and` false: one of them failed (which is not
            // known). `or` the other way round.
            if (*op == LogicOp::And) == when {
                sets.fold(BTreeSet::new(), |mut all, s| {
                    all.extend(s);
                    all
                })
            } else {
                let first = sets.next().unwrap_or_default();
                sets.fold(first, |common, s| common.intersection(&s).copied().collect())
            }
        }
        _ => BTreeSet::new(),
    }
}

/// Whether `e` (or a `fn` it calls) reads the value of an evidence fact outside `known`; only
/// such a value is ever unknown. `evidence.X is set` reads no value: it is always true or false.
fn reads_evidence(bundle: &Bundle, e: &Expr, known: &BTreeSet<EvidenceId>, depth: u32) -> bool {
    if evidence_values(e).iter().any(|id| !known.contains(id)) {
        return true;
    }
    let mut found = false;
    crate::check::visit(e, &mut |e| {
        if let ExprKind::Call { func, .. } = &e.kind {
            // Function bodies are acyclic (checked); the depth bound only guards the analysis.
            found |= depth > 64
                || bundle.fns.get(func.index()).is_none_or(|f| reads_evidence(bundle, &f.body, known, depth + 1));
        }
    });
    found
}

/// The evidence facts whose value `e` reads (not counting `evidence.X is set`), without
/// following calls.
fn evidence_values(e: &Expr) -> BTreeSet<EvidenceId> {
    // Every `evidence.X is set` contains one read of `evidence.X` that reads no value: count
    // the reads of each fact, less its `is set` tests.
    let mut reads: std::collections::BTreeMap<EvidenceId, i64> = std::collections::BTreeMap::new();
    crate::check::visit(e, &mut |e| match &e.kind {
        ExprKind::Evidence(id) => *reads.entry(*id).or_default() += 1,
        ExprKind::IsSet { value, .. } => {
            if let ExprKind::Evidence(id) = &value.kind {
                *reads.entry(*id).or_default() -= 1;
            }
        }
        _ => {}
    });
    reads.into_iter().filter(|(_, n)| *n > 0).map(|(id, _)| id).collect()
}

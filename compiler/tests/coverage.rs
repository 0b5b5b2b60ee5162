#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]
//! Branch coverage (`aarm_compiler::coverage`) on generated policies and requests: what it
//! records for a request is what the request's evaluation took.
//!
//! For every request the converter accepts, with a fresh [`Coverage`]:
//! - deciding with coverage decides exactly as `interpret::decide` (and so as the engine:
//!   `aarm_testkit::differential`);
//! - the conditions are those of the definition, walked here independently: each `when` line,
//!   each operand of `and`/`or`, each `not` (its operand not again);
//! - each outcome recorded is the condition's value evaluated alone, and it is a branch of the
//!   condition (an `unknown` only where the analysis allows one);
//! - an `and`/`or` recorded with an outcome has exactly the operands its evaluation reached
//!   recorded: up to its first deciding operand, none after;
//! - a rule whose lines were recorded is a candidate, and its lines combine (Kleene `and`,
//!   stopping at the first `false`) into the condition the engine's `explain` reports;
//! - only the walk is recorded: no rule below the level of the rule that decided, and the first
//!   line of every candidate above it.
//!
//! 300 policies with 6 requests each by default; `PROPTEST_CASES=N` for more.

mod common;

use aarm_compiler::coverage::{Coverage, Outcome};
use aarm_compiler::interpret;
use aarm_compiler::ir::{Bundle, Expr, ExprKind, LogicOp, Rule};
use aarm_runtime::decision::Effect;
use aarm_runtime::request::Request;
use aarm_testkit::differential::{Engines, NOW};
use aarm_testkit::generate;
use arbitrary::Unstructured;
use proptest::prelude::*;
use proptest::test_runner::TestCaseError;
use std::cell::Cell;

const HASH: &str = "sha256:test";

/// A counted condition as the definition reads: the expression and its parent's index.
struct Site<'a> {
    expr: &'a Expr,
    rule: usize,
    parent: Option<usize>,
}

fn sites_of<'a>(bundle: &'a Bundle) -> Vec<Site<'a>> {
    fn site<'a>(e: &'a Expr, rule: usize, parent: Option<usize>, out: &mut Vec<Site<'a>>) {
        let id = out.len();
        out.push(Site { expr: e, rule, parent });
        operands(e, rule, id, out);
    }
    fn operands<'a>(e: &'a Expr, rule: usize, id: usize, out: &mut Vec<Site<'a>>) {
        match &e.kind {
            ExprKind::Logic { operands: os, .. } => os.iter().for_each(|o| site(o, rule, Some(id), out)),
            ExprKind::Not(inner) => operands(inner, rule, id, out),
            _ => {}
        }
    }
    let mut out = Vec::new();
    for (i, r) in bundle.rules.iter().enumerate() {
        for line in &r.conditions {
            site(line, i, None, &mut out);
        }
    }
    out
}

/// `e` without its `not`s, and whether there was an odd number of them.
fn strip_not(e: &Expr) -> (&Expr, bool) {
    match &e.kind {
        ExprKind::Not(inner) => {
            let (e, odd) = strip_not(inner);
            (e, !odd)
        }
        _ => (e, false),
    }
}

fn flip(o: Outcome, odd: bool) -> Outcome {
    match (o, odd) {
        (Outcome::True, true) => Outcome::False,
        (Outcome::False, true) => Outcome::True,
        (o, _) => o,
    }
}

/// The one outcome `coverage` recorded for condition `id` (a fresh coverage, one request).
fn recorded(coverage: &Coverage, id: usize) -> Result<Option<Outcome>, TestCaseError> {
    let taken: Vec<Outcome> = Outcome::ALL.into_iter().filter(|o| coverage.taken(id, *o)).collect();
    prop_assert!(taken.len() <= 1, "condition {id} took {taken:?} in one request");
    Ok(taken.first().copied())
}

#[derive(Default)]
struct Stats {
    requests: Cell<usize>,
    outcomes: Cell<usize>,
    unknowns: Cell<usize>,
    short_circuits: Cell<usize>,
}

fn bump(c: &Cell<usize>) {
    c.set(c.get() + 1);
}

fn check_request(engines: &Engines, req: &Request, stats: &Stats) -> Result<(), TestCaseError> {
    let ir = &engines.ir;
    let mut coverage = Coverage::new(ir);
    let decision = coverage.decide(ir, req, HASH);
    prop_assert_eq!(&decision, &interpret::decide(ir, req, HASH));
    bump(&stats.requests);

    let sites = sites_of(ir);
    let conditions = coverage.conditions();
    prop_assert_eq!(sites.len(), conditions.len());
    for (id, (s, c)) in sites.iter().zip(conditions).enumerate() {
        prop_assert_eq!(s.expr.span, c.loc.span, "condition {}", id);
        prop_assert_eq!(s.rule, c.rule.index());
        prop_assert_eq!(s.parent, c.parent);
    }
    let outcomes: Vec<Option<Outcome>> =
        (0..sites.len()).map(|id| recorded(&coverage, id)).collect::<Result<_, _>>()?;

    for (id, s) in sites.iter().enumerate() {
        let Some(o) = outcomes[id] else { continue };
        bump(&stats.outcomes);
        let rule: &Rule = &ir.rules[s.rule];
        prop_assert_eq!(Some(o), interpret::condition_alone(ir, req, rule, s.expr), "condition {}", id);
        prop_assert!(conditions[id].branches().any(|b| b == o), "condition {id} took {o:?}, not one of its branches");
        if o == Outcome::Unknown {
            bump(&stats.unknowns);
        }
        // The operands an `and`/`or` reached are recorded, none after the deciding one.
        let (inner, odd) = strip_not(s.expr);
        let ExprKind::Logic { op, .. } = &inner.kind else { continue };
        let decisive = if *op == LogicOp::And { Outcome::False } else { Outcome::True };
        let children: Vec<Option<Outcome>> =
            sites.iter().enumerate().filter(|(_, c)| c.parent == Some(id)).map(|(i, _)| outcomes[i]).collect();
        let reached = match children.iter().position(|c| *c == Some(decisive)) {
            Some(first) => {
                prop_assert_eq!(flip(o, odd), decisive);
                if first + 1 < children.len() {
                    bump(&stats.short_circuits);
                }
                first + 1
            }
            None => children.len(),
        };
        prop_assert!(children[..reached].iter().all(Option::is_some), "condition {id}: {children:?}");
        prop_assert!(children[reached..].iter().all(Option::is_none), "condition {id}: {children:?}");
    }

    // Against the VM: rules whose lines were recorded, and what their lines combine to.
    let explained = engines.engine.explain(req);
    for (i, rule) in ir.rules.iter().enumerate() {
        let lines: Vec<Option<Outcome>> = sites
            .iter()
            .enumerate()
            .filter(|(_, s)| s.rule == i && s.parent.is_none())
            .map(|(id, _)| outcomes[id])
            .collect();
        let recorded: Vec<Outcome> = lines.iter().map_while(|o| *o).collect();
        if recorded.is_empty() {
            continue;
        }
        let Some(tried) = explained.iter().find(|t| t.rule == rule.qualified_name) else {
            return Err(TestCaseError::fail(format!("{} was recorded but is not a candidate", rule.qualified_name)));
        };
        let combined = if recorded.contains(&Outcome::False) {
            prop_assert_eq!(recorded.iter().position(|o| *o == Outcome::False), Some(recorded.len() - 1));
            "false"
        } else if recorded.len() < lines.len() {
            "error"
        } else if recorded.contains(&Outcome::Unknown) {
            "unknown"
        } else {
            "true"
        };
        prop_assert!(
            tried.condition.starts_with(combined),
            "{}: recorded {recorded:?}, the VM: {}",
            rule.qualified_name,
            tried.condition
        );
    }

    // The walk, where the decision names the level that decided (a deferral for evidence names
    // the first unknown rule, which may sit above it); no rule: the default, every level walked.
    if decision.decision != Effect::Defer {
        let level =
            decision.rule.as_ref().and_then(|n| ir.rules.iter().find(|r| *r.qualified_name == **n)).map(|r| r.priority);
        for (i, rule) in ir.rules.iter().enumerate() {
            let own: Vec<Option<Outcome>> =
                sites.iter().enumerate().filter(|(_, s)| s.rule == i).map(|(id, _)| outcomes[id]).collect();
            if level.is_some_and(|p| rule.priority < p) {
                prop_assert!(own.iter().all(Option::is_none), "{} is below the deciding level", rule.qualified_name);
            }
            let above = level.is_none_or(|p| rule.priority > p);
            let tried = explained.iter().find(|t| t.rule == rule.qualified_name);
            if let (true, Some(t), Some(first)) = (above, tried, own.first()) {
                if !t.condition.starts_with("error") {
                    prop_assert!(
                        first.is_some(),
                        "{} is above the deciding level but not recorded",
                        rule.qualified_name
                    );
                }
            }
        }
    }
    Ok(())
}

#[test]
fn recorded_outcomes_are_the_outcomes_the_evaluation_took() {
    let mut runner = common::runner(300, 1000);
    let stats = Stats::default();
    let result = runner.run(&proptest::collection::vec(any::<u8>(), 4096), |bytes| {
        let mut u = Unstructured::new(&bytes);
        let src = generate::policy(&mut u, 3).expect("the grammar answers every choice");
        let Ok(engines) = Engines::new(&src) else { return Ok(()) };
        for _ in 0..6 {
            let json = generate::request(&mut u).expect("a request");
            let Ok(req) = engines.engine.convert(&json, NOW) else { continue };
            check_request(&engines, &req, &stats).map_err(|e| TestCaseError::fail(format!("{e}\n{src}\n{json}")))?;
        }
        Ok(())
    });
    if let Err(e) = result {
        panic!("{e}");
    }
    eprintln!(
        "{} requests, {} outcomes recorded ({} unknown), {} short-circuits",
        stats.requests.get(),
        stats.outcomes.get(),
        stats.unknowns.get(),
        stats.short_circuits.get()
    );
    // The properties above must have had something to hold on.
    assert!(stats.requests.get() > 100 && stats.unknowns.get() > 10 && stats.short_circuits.get() > 10);
}

/// Each condition of `src` (one file) with whether `unknown` is one of its branches.
fn unknown_branches(src: &str) -> Vec<(String, bool)> {
    let built = aarm_testkit::build(src).unwrap();
    let coverage = Coverage::new(&built.ir);
    coverage
        .conditions()
        .iter()
        .map(|c| (src[c.loc.span.range()].to_string(), c.branches().any(|b| b == Outcome::Unknown)))
        .collect()
}

#[test]
fn unknown_is_a_branch_where_an_evidence_value_is_read_that_no_guard_before_it_proved_set() {
    let head = "policy p version \"1\"\ntool t { n: Int }\nevidence score: Int\nevidence ok: Bool\n\
                fn big(n: Int) -> Bool = n > 10\n";
    let cases: [(&str, &[(&str, bool)]); 7] = [
        (
            "when evidence.score is set and evidence.score > 3",
            &[
                ("evidence.score is set and evidence.score > 3", false),
                ("evidence.score is set", false),
                ("evidence.score > 3", false),
            ],
        ),
        (
            "when evidence.score is not set or evidence.score > 3",
            &[
                ("evidence.score is not set or evidence.score > 3", false),
                ("evidence.score is not set", false),
                ("evidence.score > 3", false),
            ],
        ),
        // An `or`'s guard is its operand being false: `is set` proves nothing to the next one.
        (
            "when evidence.score is set or evidence.score > 3",
            &[
                ("evidence.score is set or evidence.score > 3", true),
                ("evidence.score is set", false),
                ("evidence.score > 3", true),
            ],
        ),
        // An earlier `when` line guards the later ones; a `not` swaps what its operand proves.
        (
            "when not (evidence.ok is not set)\n  when evidence.ok and params.n > 1",
            &[
                ("not (evidence.ok is not set)", false),
                ("evidence.ok and params.n > 1", false),
                ("evidence.ok", false),
                ("params.n > 1", false),
            ],
        ),
        // Another fact is not guarded; a `not`'s operand is not counted again.
        (
            "when evidence.ok is set and not evidence.score > 1",
            &[
                ("evidence.ok is set and not evidence.score > 1", true),
                ("evidence.ok is set", false),
                ("not evidence.score > 1", true),
            ],
        ),
        // Through a call's argument; a guard proves nothing when it is on another operand.
        (
            "when big(evidence.score) or (evidence.ok is set and params.n > 1)",
            &[
                ("big(evidence.score) or (evidence.ok is set and params.n > 1)", true),
                ("big(evidence.score)", true),
                ("(evidence.ok is set and params.n > 1)", false),
                ("evidence.ok is set", false),
                ("params.n > 1", false),
            ],
        ),
        ("when params.n > 1", &[("params.n > 1", false)]),
    ];
    for (when, want) in cases {
        let src = format!("{head}rule r on t {{\n  {when}\n  deny\n}}\n");
        let got = unknown_branches(&src);
        let want: Vec<(String, bool)> = want.iter().map(|(t, u)| (t.to_string(), *u)).collect();
        assert_eq!(got, want, "{when}");
    }
}

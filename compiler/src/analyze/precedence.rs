//! Precedence between rules, per tool: rules that can never decide because a higher-priority rule
//! always matches first (W0015), and equal-priority rules with different decisions that can match
//! together (W0016).
//!
//! Resolution (lang/REFERENCE.md, "Evaluation") walks the candidates of a tool — its rules and the
//! `on *` rules — by priority level, highest first, and stops at the first level where a
//! condition is true. The precedence graph of a tool has an edge from every rule of one level to
//! every rule of the next lower level; a rule's ancestors are the rules evaluated before it.
//!
//! Shadowing is proved, not guessed: a rule without `when` (or whose every `when` is the constant
//! `true`) is true on every request and cannot fail to evaluate, so its level always decides and
//! nothing below it on that tool is ever evaluated. A rule is reported when, on every tool it
//! applies to (for `on *`: every declared tool and any undeclared one), such a rule is among its
//! ancestors.
//!
//! A conflict is reported when two rules of one priority share a tool and decide differently,
//! unless the constraint analysis proves their conditions disjoint. This is a *may* finding: it
//! says that nothing in the conditions keeps them apart, not that a request matching both exists.

use super::constraints::is_unsatisfiable;
use super::rule_name;
use crate::ir::{self, Decision, ExprKind, Rule, RuleId, Targets, ToolId};
use aarm_lang::{Code, Diagnostic};
use petgraph::graph::{DiGraph, NodeIndex};
use petgraph::visit::{Dfs, Reversed};
use std::collections::BTreeMap;

/// True when the rule matches every request it is a candidate for: no `when`, or only the
/// constant `true`. Such a condition cannot be unknown and cannot fail to evaluate.
fn always_true(r: &Rule) -> bool {
    r.conditions.iter().all(|c| matches!(c.kind, ExprKind::Const(ir::Const::Bool(true))))
}

/// A tool a rule can be a candidate for: a declared one, or any undeclared tool (only `on *`
/// rules see those).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Slot {
    Tool(ToolId),
    Undeclared,
}

fn slots(bundle: &ir::Bundle, r: &Rule) -> Vec<Slot> {
    match &r.targets {
        Targets::All => (0..bundle.tools.len())
            .map(|i| Slot::Tool(ToolId(u32::try_from(i).unwrap_or(u32::MAX))))
            .chain(std::iter::once(Slot::Undeclared))
            .collect(),
        Targets::Tools(ts) => ts.iter().map(|t| Slot::Tool(*t)).collect(),
    }
}

/// The precedence graph of one tool: nodes are its candidate rules; edges go from each rule of a
/// priority level to each rule of the next lower level.
struct Precedence {
    graph: DiGraph<RuleId, ()>,
    nodes: BTreeMap<RuleId, NodeIndex>,
}

impl Precedence {
    fn build(bundle: &ir::Bundle, candidates: &[RuleId]) -> Self {
        let mut graph = DiGraph::new();
        let mut nodes = BTreeMap::new();
        let mut levels: BTreeMap<std::cmp::Reverse<i64>, Vec<NodeIndex>> = BTreeMap::new();
        for &id in candidates {
            let Some(r) = bundle.rule(id) else { continue };
            let n = graph.add_node(id);
            nodes.insert(id, n);
            levels.entry(std::cmp::Reverse(r.priority)).or_default().push(n);
        }
        let levels: Vec<&Vec<NodeIndex>> = levels.values().collect();
        for pair in levels.windows(2) {
            if let [upper, lower] = pair {
                for &a in upper.iter() {
                    for &b in lower.iter() {
                        graph.add_edge(a, b, ());
                    }
                }
            }
        }
        Precedence { graph, nodes }
    }

    /// The first (highest, earliest) always-true rule evaluated before `id`, if any.
    fn shadower(&self, bundle: &ir::Bundle, id: RuleId) -> Option<RuleId> {
        let start = *self.nodes.get(&id)?;
        let reversed = Reversed(&self.graph);
        let mut dfs = Dfs::new(reversed, start);
        let mut found: Vec<(i64, std::cmp::Reverse<RuleId>)> = Vec::new();
        while let Some(n) = dfs.next(reversed) {
            let Some(&other) = self.graph.node_weight(n) else { continue };
            if other == id {
                continue;
            }
            if let Some(r) = bundle.rule(other).filter(|r| always_true(r)) {
                found.push((r.priority, std::cmp::Reverse(other)));
            }
        }
        found.into_iter().max().map(|(_, std::cmp::Reverse(r))| r)
    }
}

pub(super) fn check(bundle: &ir::Bundle, unsat: &[bool], out: &mut Vec<Diagnostic>) {
    // Candidates per slot.
    let mut candidates: BTreeMap<Slot, Vec<RuleId>> = BTreeMap::new();
    for (i, r) in bundle.rules.iter().enumerate() {
        let id = RuleId(u32::try_from(i).unwrap_or(u32::MAX));
        for s in slots(bundle, r) {
            candidates.entry(s).or_default().push(id);
        }
    }
    let graphs: BTreeMap<Slot, Precedence> =
        candidates.iter().map(|(s, ids)| (*s, Precedence::build(bundle, ids))).collect();

    // W0015: shadowed on every slot.
    let mut shadowed = vec![false; bundle.rules.len()];
    for (i, r) in bundle.rules.iter().enumerate() {
        let id = RuleId(u32::try_from(i).unwrap_or(u32::MAX));
        let mut by: Vec<RuleId> = Vec::new();
        let all = slots(bundle, r).iter().all(|s| match graphs.get(s).and_then(|g| g.shadower(bundle, id)) {
            Some(s) => {
                if !by.contains(&s) {
                    by.push(s);
                }
                true
            }
            None => false,
        });
        if !all || by.is_empty() {
            continue;
        }
        if let Some(flag) = shadowed.get_mut(i) {
            *flag = true;
        }
        let names: Vec<String> = by.iter().filter_map(|b| bundle.rule(*b)).map(rule_name).collect();
        let mut d = Diagnostic::new(
            Code::ShadowedRule,
            r.loc.file,
            r.loc.span,
            format!(
                "rule {} can never decide: {} always {} first",
                rule_name(r),
                names.join(", "),
                if names.len() == 1 { "matches" } else { "match" }
            ),
        )
        .with_label(format!("priority {}: never evaluated", r.priority));
        for b in by.iter().filter_map(|b| bundle.rule(*b)) {
            d = d.with_secondary(
                b.loc.file,
                b.loc.span,
                format!("priority {}, no condition, on every tool this rule covers", b.priority),
            );
        }
        out.push(d.with_help(
            "a rule without `when` matches every call of its tools, so its priority level always decides; \
             give the higher rule a condition, or raise this rule's priority above it",
        ));
    }

    // W0016: equal priority, shared tool, different decisions, not provably disjoint.
    for (i, a) in bundle.rules.iter().enumerate() {
        for (j, b) in bundle.rules.iter().enumerate().skip(i + 1) {
            if a.priority != b.priority || !overlap(&a.targets, &b.targets) {
                continue;
            }
            let skip = |k: usize| unsat.get(k).copied().unwrap_or(false) || shadowed.get(k).copied().unwrap_or(false);
            if skip(i) || skip(j) {
                continue;
            }
            let Some(what) = disagreement(&a.decision, &b.decision) else { continue };
            let conds: Vec<&ir::Expr> = a.conditions.iter().chain(&b.conditions).collect();
            if is_unsatisfiable(bundle, &conds) {
                continue;
            }
            let outcome = match (what, bundle.settings.conflict) {
                (Disagreement::Kind, ir::ConflictMode::Defer) => {
                    "with `conflict defer` the action then defers (`conflict.defer`)".to_string()
                }
                (Disagreement::Kind, ir::ConflictMode::Restrictive) => format!(
                    "the more restrictive decision (`{}`) then wins",
                    more_restrictive(&a.decision, &b.decision)
                ),
                (Disagreement::Parameters, _) => format!("the first in source order ({}) then wins", rule_name(a)),
            };
            let what_text = match what {
                Disagreement::Kind => format!("`{}` and `{}`", a.decision.name(), b.decision.name()),
                Disagreement::Parameters if matches!(a.decision, Decision::Modify(_)) => {
                    "`modify`, and only one block applies".to_string()
                }
                Disagreement::Parameters => format!("`{}` with different parameters", a.decision.name()),
            };
            out.push(
                Diagnostic::new(
                    Code::PriorityConflict,
                    b.loc.file,
                    b.loc.span,
                    format!(
                        "rules {} and {} both have priority {} and decide {what_text}",
                        rule_name(a),
                        rule_name(b),
                        a.priority
                    ),
                )
                .with_label("can match together with the other rule")
                .with_secondary(a.loc.file, a.loc.span, "the other rule")
                .with_help(format!(
                    "nothing in their conditions keeps them apart, so one call can match both; {outcome}. \
                     Give one of them a different priority, or conditions that exclude each other"
                )),
            );
        }
    }
}

fn overlap(a: &Targets, b: &Targets) -> bool {
    match (a, b) {
        (Targets::All, _) | (_, Targets::All) => true,
        (Targets::Tools(x), Targets::Tools(y)) => x.iter().any(|t| y.contains(t)),
    }
}

#[derive(Clone, Copy)]
enum Disagreement {
    Kind,
    Parameters,
}

fn disagreement(a: &Decision, b: &Decision) -> Option<Disagreement> {
    match (a, b) {
        (Decision::Allow, Decision::Allow) | (Decision::Deny, Decision::Deny) => None,
        (Decision::StepUp(x), Decision::StepUp(y)) => (x != y).then_some(Disagreement::Parameters),
        (Decision::Defer(x), Decision::Defer(y)) => (x != y).then_some(Disagreement::Parameters),
        // `modify` values are expressions; two blocks are not compared, so any two differ.
        (Decision::Modify(_), Decision::Modify(_)) => Some(Disagreement::Parameters),
        _ => Some(Disagreement::Kind),
    }
}

fn restrictiveness(d: &Decision) -> u8 {
    match d {
        Decision::Deny => 4,
        Decision::StepUp(_) => 3,
        Decision::Defer(_) => 2,
        Decision::Modify(_) => 1,
        Decision::Allow => 0,
    }
}

fn more_restrictive<'a>(a: &'a Decision, b: &'a Decision) -> &'static str {
    if restrictiveness(a) >= restrictiveness(b) {
        a.name()
    } else {
        b.name()
    }
}

//! The lifecycle outcome graph of each suspending rule, and paths in it that reach `allow`
//! without an approval (W0017).
//!
//! Nodes are lifecycle states: a pending approval tier (the rule's `step_up`, or a `step_up`
//! reached as an outcome), a deferral, and terminal states (`allow`, `deny`, `cancel`, and
//! "re-evaluated", where arriving evidence hands the decision back to the rules). Edges are what
//! moves a case: the quorum approving (→ `allow`), a veto (→ `deny`), the timeout and the attempts
//! limit (→ their outcome), evidence (→ re-evaluated). Each outcome gets its own terminal node, so
//! the graph is a tree and every path is one way the case can end.
//!
//! The IR holds the limits with `settings` and the language defaults already filled in, so a
//! rule that inherits `timeout … -> allow` from `settings` is reported like one that writes it.
//! The deferrals the engine makes on a rule's behalf (unknown evidence without an explicit
//! `defer`, conflicts, low confidence) use `settings`' deferral limits; they are checked once, at
//! `settings`. Sound by construction: a reported path is a sequence of events the lifecycle
//! accepts (a timeout or the attempts limit firing), and its last edge sets `allow`.

use super::rule_name;
use crate::ir::{self, Decision, Outcome, StepUp};
use aarm_lang::{Code, Diagnostic};
use petgraph::algo::all_simple_paths;
use petgraph::graph::{DiGraph, NodeIndex};
use petgraph::Direction;
use std::collections::hash_map::RandomState;

#[derive(Clone, Debug, PartialEq, Eq)]
enum State {
    Tier(String),
    Deferral,
    Allow,
    Deny,
    Cancel,
    Reevaluated,
}

impl State {
    fn is_terminal(&self) -> bool {
        matches!(self, State::Allow | State::Deny | State::Cancel | State::Reevaluated)
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Event {
    Approved,
    Vetoed,
    Timeout(i64),
    Attempts(u32),
    Evidence,
}

impl Event {
    fn unanswered(self) -> bool {
        matches!(self, Event::Timeout(_) | Event::Attempts(_))
    }
    fn describe(self) -> String {
        match self {
            Event::Approved => "approved".into(),
            Event::Vetoed => "vetoed".into(),
            Event::Timeout(s) => format!("no answer within {}", duration(s)),
            Event::Attempts(n) => format!("{n} re-evaluations still deferred"),
            Event::Evidence => "evidence provided".into(),
        }
    }
}

fn duration(s: i64) -> String {
    let (d, h, m, sec) = (s / 86_400, s % 86_400 / 3600, s % 3600 / 60, s % 60);
    let mut out = String::new();
    for (v, u) in [(d, "d"), (h, "h"), (m, "m"), (sec, "s")] {
        if v != 0 {
            out.push_str(&format!("{v}{u}"));
        }
    }
    if out.is_empty() {
        "0s".into()
    } else {
        out
    }
}

#[derive(Default)]
struct Graph {
    g: DiGraph<State, Event>,
    tiers: usize,
}

impl Graph {
    fn step_up(&mut self, s: &StepUp) -> NodeIndex {
        self.tiers += 1;
        let label = if self.tiers == 1 { "`step_up`".to_string() } else { format!("`step_up` tier {}", self.tiers) };
        let tier = self.g.add_node(State::Tier(label));
        let allow = self.g.add_node(State::Allow);
        self.g.add_edge(tier, allow, Event::Approved);
        if s.veto {
            let deny = self.g.add_node(State::Deny);
            self.g.add_edge(tier, deny, Event::Vetoed);
        }
        let next = self.outcome(&s.on_timeout);
        self.g.add_edge(tier, next, Event::Timeout(s.timeout_s));
        tier
    }

    fn outcome(&mut self, o: &Outcome) -> NodeIndex {
        match o {
            Outcome::Allow => self.g.add_node(State::Allow),
            Outcome::Deny => self.g.add_node(State::Deny),
            Outcome::Cancel => self.g.add_node(State::Cancel),
            Outcome::StepUp(s) => self.step_up(s),
        }
    }

    fn deferral(&mut self, timeout_s: i64, on_timeout: &Outcome, attempts: u32, on_exhausted: &Outcome) -> NodeIndex {
        let node = self.g.add_node(State::Deferral);
        let re = self.g.add_node(State::Reevaluated);
        self.g.add_edge(node, re, Event::Evidence);
        let t = self.outcome(on_timeout);
        self.g.add_edge(node, t, Event::Timeout(timeout_s));
        let a = self.outcome(on_exhausted);
        self.g.add_edge(node, a, Event::Attempts(attempts));
        node
    }

    /// Every path from `root` that ends in `allow` through a timeout or the attempts limit, as
    /// text; and whether some state has no way out (never, by construction: checked anyway).
    fn allow_paths(&self, root: NodeIndex) -> (Vec<String>, bool) {
        let mut found = Vec::new();
        let mut stuck = false;
        for n in self.g.node_indices() {
            let Some(state) = self.g.node_weight(n) else { continue };
            let sink = self.g.neighbors_directed(n, Direction::Outgoing).next().is_none();
            if sink && !state.is_terminal() {
                stuck = true;
            }
            if *state != State::Allow {
                continue;
            }
            let paths = if n == root {
                vec![vec![root]]
            } else {
                all_simple_paths::<Vec<NodeIndex>, _, RandomState>(&self.g, root, n, 0, None).collect()
            };
            for path in paths {
                let mut steps: Vec<String> = Vec::new();
                let mut last_unanswered = false;
                for pair in path.windows(2) {
                    let (Some(&a), Some(&b)) = (pair.first(), pair.get(1)) else { continue };
                    let Some(e) = self.g.find_edge(a, b).and_then(|e| self.g.edge_weight(e)) else { continue };
                    if let Some(State::Tier(label)) = self.g.node_weight(a) {
                        steps.push(label.clone());
                    } else if let Some(State::Deferral) = self.g.node_weight(a) {
                        steps.push("`defer`".into());
                    }
                    steps.push(e.describe());
                    last_unanswered = e.unanswered();
                }
                if last_unanswered {
                    steps.push("`allow`".into());
                    found.push(steps.join(" → "));
                }
            }
        }
        (found, stuck)
    }
}

pub(super) fn check(bundle: &ir::Bundle, out: &mut Vec<Diagnostic>) {
    for r in &bundle.rules {
        let mut g = Graph::default();
        let root = match &r.decision {
            Decision::StepUp(s) => g.step_up(s),
            Decision::Defer(d) => g.deferral(d.timeout_s, &d.on_timeout, d.max_attempts, &d.on_exhausted),
            Decision::Allow | Decision::Deny | Decision::Modify(_) => continue,
        };
        let (paths, stuck) = g.allow_paths(root);
        report(out, r.loc, &format!("rule {}", rule_name(r)), &paths, stuck);
    }
    let s = &bundle.settings;
    if let Some(loc) = bundle.settings_loc {
        let mut g = Graph::default();
        let root = g.deferral(s.defer_timeout_s, &s.defer_on_timeout, s.defer_attempts, &s.defer_on_exhausted);
        let (paths, stuck) = g.allow_paths(root);
        report(
            out,
            loc,
            "a deferral under these `settings` (missing evidence, `conflict defer`, low confidence)",
            &paths,
            stuck,
        );
    }
}

fn report(out: &mut Vec<Diagnostic>, loc: ir::Loc, what: &str, paths: &[String], stuck: bool) {
    if !paths.is_empty() {
        let mut d = Diagnostic::new(
            Code::LifecycleAllows,
            loc.file,
            loc.span,
            format!("{what} can end in `allow` without any approval"),
        )
        .with_label(paths.join("; "));
        d = d.with_help(
            "nobody approved, yet the action would run: make every timeout and attempts limit end in `deny`, \
             `cancel` or a further `step_up` (limits not written in the rule come from `settings`)",
        );
        out.push(d);
    }
    if stuck {
        out.push(
            Diagnostic::new(
                Code::LifecycleAllows,
                loc.file,
                loc.span,
                format!("{what} has a lifecycle state with no way out"),
            )
            .with_help(
                "every pending state needs a timeout; this is a bug in the analysis or the IR, please report it",
            ),
        );
    }
}

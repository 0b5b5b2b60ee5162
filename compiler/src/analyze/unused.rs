//! Declarations nothing uses: evidence no rule reads (W0010), tools no rule covers (W0011),
//! groups nothing names (W0012), functions no rule calls (W0013).
//!
//! "Used" is read off the IR: a rule uses what its conditions, reason and `modify` values
//! mention, and what the functions they call mention, transitively. A finding is therefore a
//! fact about the bundle, not a guess. Declarations of standard-library modules are never
//! reported: a library offers more than one bundle needs.

use super::{rule_exprs, rule_name};
use crate::check::visit;
use crate::ir::{self, Decision, ExprKind, Targets};
use aarm_lang::{Code, Diagnostic};
use petgraph::graph::{DiGraph, NodeIndex};
use petgraph::visit::Dfs;

pub(super) fn check(bundle: &ir::Bundle, out: &mut Vec<Diagnostic>) {
    let is_std = |loc: ir::Loc| bundle.std_files.contains(&loc.file);

    // Functions reachable from rules, over the call graph.
    let mut calls: DiGraph<Option<ir::FnId>, ()> = DiGraph::new();
    let root = calls.add_node(None);
    let fn_nodes: Vec<NodeIndex> =
        (0..bundle.fns.len()).map(|i| calls.add_node(Some(ir::FnId(u32::try_from(i).unwrap_or(u32::MAX))))).collect();
    let add_calls = |from: NodeIndex, e: &ir::Expr, calls: &mut DiGraph<Option<ir::FnId>, ()>| {
        visit(e, &mut |e| {
            if let ExprKind::Call { func, .. } = &e.kind {
                if let Some(&to) = fn_nodes.get(func.index()) {
                    calls.update_edge(from, to, ());
                }
            }
        });
    };
    for r in &bundle.rules {
        for e in rule_exprs(r) {
            add_calls(root, e, &mut calls);
        }
    }
    for (i, f) in bundle.fns.iter().enumerate() {
        if let Some(&from) = fn_nodes.get(i) {
            add_calls(from, &f.body, &mut calls);
        }
    }
    let mut used_fn = vec![false; bundle.fns.len()];
    let mut dfs = Dfs::new(&calls, root);
    while let Some(n) = dfs.next(&calls) {
        if let Some(Some(id)) = calls.node_weight(n) {
            if let Some(u) = used_fn.get_mut(id.index()) {
                *u = true;
            }
        }
    }

    // What the rules and the functions they call read.
    let mut used_evidence = vec![false; bundle.evidence.len()];
    let mut used_group = vec![false; bundle.groups.len()];
    let mut mark = |e: &ir::Expr| {
        visit(e, &mut |e| match &e.kind {
            ExprKind::Evidence(id) => {
                if let Some(u) = used_evidence.get_mut(id.index()) {
                    *u = true;
                }
            }
            ExprKind::Group(id) => {
                if let Some(u) = used_group.get_mut(id.index()) {
                    *u = true;
                }
            }
            _ => {}
        })
    };
    for r in &bundle.rules {
        rule_exprs(r).for_each(&mut mark);
    }
    for (f, used) in bundle.fns.iter().zip(&used_fn) {
        if *used {
            mark(&f.body);
        }
    }

    for (e, used) in bundle.evidence.iter().zip(&used_evidence) {
        if *used || is_std(e.loc) {
            continue;
        }
        let needed_by: Vec<String> = bundle
            .rules
            .iter()
            .filter(|r| match &r.decision {
                Decision::Defer(d) => {
                    d.need.iter().any(|n| bundle.evidence.get(n.index()).is_some_and(|x| x.name == e.name))
                }
                _ => false,
            })
            .map(rule_name)
            .collect();
        let why = if needed_by.is_empty() {
            "no rule condition, reason or `modify` value reads it, so providing it never changes a decision".to_string()
        } else {
            format!(
                "{} `need` it, but no condition reads it, so providing it never changes a decision",
                needed_by.join(", ")
            )
        };
        out.push(
            Diagnostic::new(
                Code::UnusedEvidence,
                e.loc.file,
                e.loc.span,
                format!("evidence `{}` is never read", e.name),
            )
            .with_label(why)
            .with_help("read it in a rule (`when evidence.NAME …`) or remove the declaration"),
        );
    }

    let any_wildcard = bundle.rules.iter().any(|r| r.targets == Targets::All);
    if !any_wildcard {
        let mut covered = vec![false; bundle.tools.len()];
        for r in &bundle.rules {
            if let Targets::Tools(ts) = &r.targets {
                ts.iter().for_each(|t| covered.get_mut(t.index()).into_iter().for_each(|c| *c = true));
            }
        }
        for (t, covered) in bundle.tools.iter().zip(covered) {
            if covered || is_std(t.loc) {
                continue;
            }
            let default = match bundle.settings.default {
                ir::DefaultEffect::Allow => "allow",
                ir::DefaultEffect::Deny => "deny",
            };
            out.push(
                Diagnostic::new(
                    Code::ToolWithoutRules,
                    t.loc.file,
                    t.loc.span,
                    format!("no rule covers tool `{}`", t.name),
                )
                .with_label(format!(
                    "no rule is `on {}` and none is `on *`: every call gets `default {default}`",
                    t.name
                ))
                .with_help(format!("add a rule `on {}`, or remove the declaration", t.name)),
            );
        }
    }

    for (g, used) in bundle.groups.iter().zip(&used_group) {
        if *used || g.named_by_step_up || is_std(g.loc) {
            continue;
        }
        out.push(
            Diagnostic::new(Code::UnusedGroup, g.loc.file, g.loc.span, format!("group `{}` is never used", g.name))
                .with_label("no condition, `approvers` or `escalate` clause names it")
                .with_help("use it (`identity.human in GROUP`, `approvers 1 of GROUP`) or remove the declaration"),
        );
    }

    for (f, used) in bundle.fns.iter().zip(&used_fn) {
        if *used || is_std(f.loc) {
            continue;
        }
        out.push(
            Diagnostic::new(
                Code::UnusedFunction,
                f.loc.file,
                f.loc.span,
                format!("function `{}` is never called", f.name),
            )
            .with_label("no rule calls it, directly or through another function")
            .with_help("call it from a rule or remove it"),
        );
    }
}

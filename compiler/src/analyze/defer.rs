//! Explicit deferrals that evidence cannot end (W0018).
//!
//! A deferred action keeps its request, identity and context snapshot; arriving evidence is bound
//! and the same bundle is evaluated again. The rule's condition held (or was unknown only for
//! want of evidence) when it deferred. Once every `need`ed fact is provided,
//! `evidence.X is set` is `true` and `evidence.X is not set` is `false` for each of them; every
//! part of the condition that reads nothing that can change (no evidence, no `context.now`)
//! evaluates as it did before.
//!
//! The finding is reported when, under exactly those substitutions, the condition is proved to
//! stay true: each conjunct is either unchanged or a constant `true`, through `and`, `or` and `not`.
//! A conjunct that reads a needed fact's *value*, any other evidence, or the clock may change, and
//! then nothing is claimed. So a reported rule still matches on re-evaluation; unless a
//! higher-priority rule decides instead, the action defers again until the attempts limit or the
//! timeout ends it.

use super::rule_name;
use crate::check::visit;
use crate::ir::{self, ContextField, Decision, Expr, ExprKind, LogicOp};
use aarm_lang::{Code, Diagnostic};

/// What a condition is once the needed facts are provided.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum After {
    True,
    False,
    /// Not proved either way.
    Maybe,
}

fn changeable(bundle: &ir::Bundle, e: &Expr, depth: u32) -> bool {
    let mut found = false;
    visit(e, &mut |e| match &e.kind {
        ExprKind::Evidence(_) | ExprKind::Context(ContextField::Now) => found = true,
        // Function bodies are acyclic (checked); the depth bound only guards the analysis.
        ExprKind::Call { func, .. } => {
            found |= depth > 64 || bundle.fns.get(func.index()).is_none_or(|f| changeable(bundle, &f.body, depth + 1))
        }
        _ => {}
    });
    found
}

/// `e` once the `need`ed facts are provided. `held` says that `e` is known to have held before
/// (a `when` line, or an operand of an `and` that held); a part that reads nothing that can change
/// keeps its value, so it is proved true only where it is known to have held.
fn after(bundle: &ir::Bundle, need: &[ir::EvidenceId], e: &Expr, held: bool) -> After {
    match &e.kind {
        ExprKind::IsSet { value, negated } if matches!(&value.kind, ExprKind::Evidence(id) if need.contains(id)) => {
            if *negated {
                After::False
            } else {
                After::True
            }
        }
        ExprKind::Const(ir::Const::Bool(b)) => {
            if *b {
                After::True
            } else {
                After::False
            }
        }
        ExprKind::Not(inner) => match after(bundle, need, inner, false) {
            After::True => After::False,
            After::False => After::True,
            After::Maybe => After::Maybe,
        },
        ExprKind::Logic { op: LogicOp::And, operands } => {
            let parts: Vec<After> = operands.iter().map(|o| after(bundle, need, o, held)).collect();
            if parts.contains(&After::False) {
                After::False
            } else if parts.iter().all(|p| *p == After::True) {
                After::True
            } else {
                After::Maybe
            }
        }
        ExprKind::Logic { op: LogicOp::Or, operands } => {
            // Which operand held before is not known: none is taken to have held.
            let parts: Vec<After> = operands.iter().map(|o| after(bundle, need, o, false)).collect();
            if parts.contains(&After::True) {
                After::True
            } else if parts.iter().all(|p| *p == After::False) {
                After::False
            } else {
                After::Maybe
            }
        }
        _ if held && !changeable(bundle, e, 0) => After::True,
        _ => After::Maybe,
    }
}

pub(super) fn check(bundle: &ir::Bundle, out: &mut Vec<Diagnostic>) {
    for r in &bundle.rules {
        let Decision::Defer(d) = &r.decision else { continue };
        let stays = r.conditions.iter().all(|c| after(bundle, &d.need, c, true) == After::True);
        if !stays {
            continue;
        }
        let names: Vec<String> =
            d.need.iter().filter_map(|n| bundle.evidence.get(n.index())).map(|e| format!("`{}`", e.name)).collect();
        let message = if names.is_empty() {
            format!("the deferral of rule {} can never end by evidence: it needs none", rule_name(r))
        } else {
            format!(
                "the deferral of rule {} can never end by evidence: its condition stays true once {} {} provided",
                rule_name(r),
                names.join(", "),
                if names.len() == 1 { "is" } else { "are" }
            )
        };
        let guard = names.first().map_or("evidence.NAME".to_string(), |n| format!("evidence.{}", n.trim_matches('`')));
        out.push(
            Diagnostic::new(Code::EndlessDefer, r.loc.file, r.loc.span, message)
                .with_label("every re-evaluation defers again, until the attempts limit or the timeout")
                .with_help(format!(
                    "add `and {guard} is not set` to the condition, so that the rule stops matching once the fact is known"
                )),
        );
    }
}

//! Static analysis of a checked bundle (`aarm analyze`): findings about rules that can never
//! decide, conditions that can never hold, rules that disagree, lifecycles that end in `allow`
//! without an approval, deferrals that evidence cannot end, and declarations nothing uses.
//!
//! Every finding is a warning with its own code (W0010…W0018) and is *proved*, never guessed:
//! each family's module says what it proves and why that is sound. Where a question is beyond
//! the analysis (a condition it cannot read), it says nothing rather than something false.
//!
//! - `unused.rs`: evidence, tools, groups and functions nothing uses (W0010–W0013)
//! - `constraints.rs`: the interval/constraint domain over the `when` conjunction; conditions
//!   that can never be true (W0014)
//! - `precedence.rs`: the per-tool precedence graph; shadowed rules (W0015) and equal-priority
//!   rules that disagree (W0016)
//! - `lifecycle.rs`: the outcome graph of each `step_up`/`defer`; paths to `allow` by timeout or
//!   attempts (W0017)
//! - `defer.rs`: explicit deferrals whose condition stays true once their evidence arrives
//!   (W0018)

mod constraints;
mod defer;
mod lifecycle;
mod precedence;
mod unused;

use crate::ir::{self, Decision, Expr, Rule, TemplatePart};
use aarm_lang::Diagnostic;

/// Analyzes a checked bundle; the findings are warnings, sorted by file and position.
pub fn analyze(bundle: &ir::Bundle) -> Vec<Diagnostic> {
    let mut out = Vec::new();
    // "Unused" is relative to rules: a bundle without any (a library of declarations, like
    // `stdlib/` checked on its own) uses nothing yet, and saying so of every name is noise.
    if !bundle.rules.is_empty() {
        unused::check(bundle, &mut out);
    }
    let constraints = constraints::check(bundle, &mut out);
    precedence::check(bundle, &constraints, &mut out);
    lifecycle::check(bundle, &mut out);
    defer::check(bundle, &mut out);
    out.sort_by(|a, b| {
        (a.file, a.span.start, a.span.end, a.code.as_str()).cmp(&(b.file, b.span.start, b.span.end, b.code.as_str()))
    });
    out.dedup();
    out
}

/// A finding about rule `r`, pointing at its name.
fn at_rule(code: aarm_lang::Code, r: &Rule, message: String) -> Diagnostic {
    Diagnostic::new(code, r.loc.file, r.loc.span, message)
}

/// A rule's name as findings show it: `policy.rule`.
fn rule_name(r: &Rule) -> String {
    format!("`{}`", r.qualified_name)
}

/// Every expression of a rule: its conditions, its reason's interpolations and its `modify`
/// values.
fn rule_exprs(r: &Rule) -> impl Iterator<Item = &Expr> {
    let reason = r.reason.message.iter().filter_map(|p| match p {
        TemplatePart::Expr(e) => Some(e),
        TemplatePart::Text(_) => None,
    });
    let modify: &[ir::Assignment] = match &r.decision {
        Decision::Modify(a) => a,
        _ => &[],
    };
    r.conditions.iter().chain(reason).chain(modify.iter().map(|a| &a.value))
}

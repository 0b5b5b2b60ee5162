//! Precedence between rules, per tool: rules that can never decide because a higher-priority rule
//! always matches first (W0015), and equal-priority rules with different decisions that can match
//! together (W0016).
//!
//! Resolution (lang/REFERENCE.md, "Evaluation") walks the candidates of a tool — its rules and the
//! `on *` rules — by priority level, highest first, and stops at the first level where a
//! condition is true. Per tool, precedence is therefore a chain of priority levels, and the rules
//! evaluated before a rule are exactly those of the higher levels. Both findings are computed
//! from that chain in time linear in the rules (plus the pairs compared for W0016, see below);
//! an explicit graph with an edge between every two rules of adjacent levels, as an earlier
//! version built, is quadratic in the size of the levels.
//!
//! Shadowing is proved, not guessed: a rule without `when` (or whose every `when` is the constant
//! `true`) is true on every request and cannot fail to evaluate, so its level always decides and
//! nothing below it on that tool is ever evaluated. The highest such rule of a tool (the first in
//! source order among equals) is the one that matters. A rule is reported when, on every tool it
//! applies to (for `on *`: every declared tool and any undeclared one), that rule is above it.
//!
//! A conflict is reported when two rules of one priority share a tool and decide differently,
//! unless the constraint analysis proves their conditions disjoint. This is a *may* finding: it
//! says that nothing in the conditions keeps them apart, not that a request matching both exists.
//! The finding is made once per rule, at the later rule of each pair, naming the earlier rules it
//! conflicts with. Pairs that cannot conflict are never compared: rules of one decision agree, and
//! within one priority and tool the rules are indexed by the string values they allow on the path
//! most of them compare with constants (`params.command == "ls"`), so rules that allow different
//! values are never paired. What is left is bounded: at most [`LISTED_RULES`] rules get a finding
//! of their own (one more finding counts the rest), and after [`PAIR_BUDGET`] comparisons the
//! analysis stops and says where.

use super::constraints::{Constraints, PathId};
use super::{at_rule, rule_name};
use crate::ir::{self, Decision, ExprKind, Rule, Targets, ToolId};
use aarm_lang::{Code, Diagnostic};
use std::cmp::Reverse;
use std::collections::{BTreeSet, HashMap};

/// Rules that get a W0016 finding of their own; further conflicting rules are counted in one.
pub(super) const LISTED_RULES: usize = 50;
/// Rules named in one finding; the rest are counted.
const NAMED: usize = 3;
/// Pairs of rules compared per bundle at most (each well under a microsecond).
pub(super) const PAIR_BUDGET: usize = 2_000_000;

pub(super) fn check(bundle: &ir::Bundle, cons: &[Constraints], out: &mut Vec<Diagnostic>) {
    let shadowed = shadowing(bundle, out);
    conflicts(bundle, cons, &shadowed, out);
}

/// True when the rule matches every request it is a candidate for: no `when`, or only the
/// constant `true`. Such a condition cannot be unknown and cannot fail to evaluate.
fn always_true(r: &Rule) -> bool {
    r.conditions.iter().all(|c| matches!(c.kind, ExprKind::Const(ir::Const::Bool(true))))
}

/// The highest always-true rule of a tool: priority, then the earliest in source order.
type Top = Option<(i64, Reverse<usize>)>;

/// `a, b and c`, or `a, b, c and 4 more` past [`NAMED`].
fn name_list(names: &[String]) -> String {
    let shown: Vec<&str> = names.iter().take(NAMED).map(String::as_str).collect();
    match (names.len().saturating_sub(NAMED), shown.split_last()) {
        (0, Some((last, []))) => (*last).to_string(),
        (0, Some((last, init))) => format!("{} and {last}", init.join(", ")),
        (more, _) => format!("{} and {more} more", shown.join(", ")),
    }
}

/// W0015; returns, per rule, whether it is shadowed.
fn shadowing(bundle: &ir::Bundle, out: &mut Vec<Diagnostic>) -> Vec<bool> {
    let mut wildcard: Top = None;
    let mut per_tool: Vec<Top> = vec![None; bundle.tools.len()];
    for (i, r) in bundle.rules.iter().enumerate().filter(|(_, r)| always_true(r)) {
        let me = Some((r.priority, Reverse(i)));
        match &r.targets {
            Targets::All => wildcard = wildcard.max(me),
            Targets::Tools(ts) => {
                for t in ts {
                    if let Some(top) = per_tool.get_mut(t.index()) {
                        *top = (*top).max(me);
                    }
                }
            }
        }
    }
    // The top of a declared tool counts its own rules and the `on *` ones; an undeclared tool
    // sees only the `on *` rules.
    let top_of = |t: &ToolId| per_tool.get(t.index()).copied().flatten().max(wildcard);

    let mut shadowed = vec![false; bundle.rules.len()];
    for (i, r) in bundle.rules.iter().enumerate() {
        let tops: Vec<Top> = match &r.targets {
            Targets::All => std::iter::once(wildcard)
                .chain(bundle.tools.iter().enumerate().map(|(t, _)| per_tool.get(t).copied().flatten().max(wildcard)))
                .collect(),
            Targets::Tools(ts) => ts.iter().map(top_of).collect(),
        };
        let above = |top: &Top| top.is_some_and(|(p, _)| p > r.priority);
        if tops.is_empty() || !tops.iter().all(above) {
            continue;
        }
        if let Some(flag) = shadowed.get_mut(i) {
            *flag = true;
        }
        let by: BTreeSet<usize> = tops.iter().flatten().map(|(_, Reverse(j))| *j).collect();
        let by: Vec<&Rule> = by.iter().filter_map(|j| bundle.rules.get(*j)).collect();
        let names: Vec<String> = by.iter().map(|b| rule_name(b)).collect();
        let mut d = at_rule(
            Code::ShadowedRule,
            r,
            format!(
                "rule {} can never decide: {} always {} first",
                rule_name(r),
                name_list(&names),
                if names.len() == 1 { "matches" } else { "match" }
            ),
        )
        .with_label(format!("priority {}: never evaluated", r.priority));
        for b in by.iter().take(NAMED) {
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
    shadowed
}

/// The rules of one priority on one tool (`None`: the `on *` rules of that priority), indexed by
/// their values on the bucket's key path. Filled in source order, so it holds the earlier rules.
#[derive(Default)]
struct Bucket {
    key: Option<PathId>,
    by_value: HashMap<String, Vec<usize>>,
    /// Rules without finitely many values on the key (all rules when there is no key).
    free: Vec<usize>,
}

impl Bucket {
    fn values<'a>(&self, c: &'a Constraints) -> Option<Vec<&'a str>> {
        let key = self.key?;
        c.string_points().find(|(p, _)| *p == key).map(|(_, v)| v)
    }

    fn insert(&mut self, i: usize, c: &Constraints) {
        match self.values(c) {
            Some(vs) => vs.into_iter().for_each(|v| self.by_value.entry(v.to_string()).or_default().push(i)),
            None => self.free.push(i),
        }
    }

    /// The earlier rules that `c` may overlap with on the key path.
    fn candidates(&self, c: &Constraints, into: &mut Vec<usize>) {
        into.extend_from_slice(&self.free);
        match self.values(c) {
            Some(vs) => vs.iter().filter_map(|v| self.by_value.get(*v)).for_each(|is| into.extend_from_slice(is)),
            None => self.by_value.values().for_each(|is| into.extend_from_slice(is)),
        }
    }
}

/// Which bucket: a priority and a tool, or `None` for the `on *` rules.
type BucketKey = (i64, Option<ToolId>);

fn bucket_keys(r: &Rule) -> Vec<BucketKey> {
    match &r.targets {
        Targets::All => vec![(r.priority, None)],
        Targets::Tools(ts) => ts.iter().map(|t| (r.priority, Some(*t))).collect(),
    }
}

/// The decision class of each rule: rules of one class agree (`allow` with `allow`, a `step_up`
/// with an identical one); every `modify` is its own class, since blocks are not compared.
fn classes(bundle: &ir::Bundle) -> Vec<usize> {
    let mut seen: HashMap<String, usize> = HashMap::new();
    let mut next = 0usize;
    bundle
        .rules
        .iter()
        .enumerate()
        .map(|(i, r)| {
            let key = match &r.decision {
                Decision::Allow => "allow".to_string(),
                Decision::Deny => "deny".to_string(),
                Decision::StepUp(s) => format!("{s:?}"),
                Decision::Defer(d) => format!("{d:?}"),
                Decision::Modify(_) => format!("modify {i}"),
            };
            *seen.entry(key).or_insert_with(|| {
                next += 1;
                next
            })
        })
        .collect()
}

/// How much of the conflict search is reported and done.
#[derive(Clone, Copy, Debug)]
struct Limits {
    listed_rules: usize,
    pair_budget: usize,
}

const LIMITS: Limits = Limits { listed_rules: LISTED_RULES, pair_budget: PAIR_BUDGET };

/// What the conflict search found.
#[derive(Debug, Default, PartialEq, Eq)]
struct Found {
    /// The first rules (at most `listed_rules`, in source order) that can match together with
    /// earlier rules of their priority that decide differently, with all those earlier rules.
    listed: Vec<(usize, Vec<usize>)>,
    /// Further rules with a conflict (each with at least one), not listed; the first of them.
    unlisted: usize,
    first_unlisted: Option<usize>,
    /// The rule at which the pair budget ran out, if it did.
    stopped_at: Option<usize>,
}

/// W0016.
fn conflicts(bundle: &ir::Bundle, cons: &[Constraints], shadowed: &[bool], out: &mut Vec<Diagnostic>) {
    let found = search(bundle, cons, shadowed, LIMITS);
    for (b, earlier) in &found.listed {
        if let Some(rule) = bundle.rules.get(*b) {
            out.push(conflict_finding(bundle, rule, earlier));
        }
    }
    if let Some(r) = found.first_unlisted.and_then(|i| bundle.rules.get(i)) {
        let at_least = if found.stopped_at.is_some() { "at least " } else { "" };
        let n = found.unlisted;
        out.push(
            at_rule(
                Code::PriorityConflict,
                r,
                format!(
                    "{at_least}{} more {}, the first {}, can match together with earlier rules of equal \
                     priority that decide differently (not listed)",
                    thousands(n),
                    if n == 1 { "rule" } else { "rules" },
                    rule_name(r),
                ),
            )
            .with_label("the first conflicting rule not listed")
            .with_help(format!(
                "at most {LISTED_RULES} rules get a finding of their own; give the rules of one priority and tool \
                 conditions that exclude each other, or different priorities, and run again"
            )),
        );
    }
    if let Some(r) = found.stopped_at.and_then(|i| bundle.rules.get(i)) {
        out.push(
            at_rule(
                Code::PriorityConflict,
                r,
                format!(
                    "equal-priority conflicts were not analyzed from rule {} on: more than {} pairs of rules \
                     would have to be compared",
                    rule_name(r),
                    thousands(PAIR_BUDGET)
                ),
            )
            .with_label("analysis of conflicts stopped here")
            .with_help(
                "rules of one priority and tool that compare one field with different constants \
                 (`params.command == \"ls\"`) are never compared; spread the rules over priorities, or make their \
                 conditions exclude each other that way",
            ),
        );
    }
}

/// `2 000 000`.
fn thousands(n: usize) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(' ');
        }
        out.push(c);
    }
    out
}

/// The conflict search: every rule, in source order, against the earlier rules it may overlap.
fn search(bundle: &ir::Bundle, cons: &[Constraints], shadowed: &[bool], limits: Limits) -> Found {
    let skip = |i: usize| cons.get(i).is_none_or(Constraints::never) || shadowed.get(i).copied().unwrap_or(true);
    let class = classes(bundle);

    // The buckets, each keyed by the path most of its rules compare with string constants.
    let mut members: HashMap<BucketKey, Vec<usize>> = HashMap::new();
    for (i, r) in bundle.rules.iter().enumerate().filter(|(i, _)| !skip(*i)) {
        for k in bucket_keys(r) {
            members.entry(k).or_default().push(i);
        }
    }
    let mut by_priority: HashMap<i64, Vec<BucketKey>> = HashMap::new();
    let mut buckets: HashMap<BucketKey, Bucket> = HashMap::new();
    for (k, rules) in &members {
        // Per path: how many rules give it finitely many values, and the first that does (ties go
        // to the path seen first, so the choice does not depend on hashing).
        let mut counts: HashMap<PathId, (usize, Reverse<usize>)> = HashMap::new();
        for (at, c) in rules.iter().filter_map(|i| cons.get(*i)).enumerate() {
            for (p, _) in c.string_points() {
                counts.entry(p).or_insert((0, Reverse(at))).0 += 1;
            }
        }
        let key = counts.into_iter().filter(|(_, (n, _))| *n > 1).max_by_key(|(_, n)| *n).map(|(p, _)| p);
        buckets.insert(*k, Bucket { key, ..Bucket::default() });
        by_priority.entry(k.0).or_default().push(*k);
    }

    let mut found = Found::default();
    let mut budget = limits.pair_budget;
    let mut stamp = vec![usize::MAX; bundle.rules.len()];
    let mut candidates: Vec<usize> = Vec::new();
    'rules: for (b, rule) in bundle.rules.iter().enumerate() {
        let Some(cb) = cons.get(b).filter(|_| !skip(b)) else { continue };
        let keys: Vec<BucketKey> = match &rule.targets {
            Targets::All => by_priority.get(&rule.priority).cloned().unwrap_or_default(),
            Targets::Tools(_) => bucket_keys(rule).into_iter().chain(std::iter::once((rule.priority, None))).collect(),
        };
        candidates.clear();
        for k in &keys {
            if let Some(bucket) = buckets.get(k) {
                bucket.candidates(cb, &mut candidates);
            }
        }
        // One rule may sit in several buckets (several tools): compare it once.
        candidates.retain(|a| stamp.get_mut(*a).is_some_and(|s| std::mem::replace(s, b) != b));
        // Past the listed rules, one conflict is enough to count a rule.
        let only_first = found.listed.len() >= limits.listed_rules;
        let mut earlier: Vec<usize> = Vec::new();
        for &a in &candidates {
            if class.get(a) == class.get(b) {
                continue;
            }
            if budget == 0 {
                found.stopped_at = Some(b);
                break 'rules;
            }
            budget -= 1;
            if cons.get(a).is_some_and(|ca| !ca.disjoint(cb)) {
                earlier.push(a);
                if only_first {
                    break;
                }
            }
        }
        for k in bucket_keys(rule) {
            if let Some(bucket) = buckets.get_mut(&k) {
                bucket.insert(b, cb);
            }
        }
        if earlier.is_empty() {
            continue;
        }
        if only_first {
            found.unlisted += 1;
            found.first_unlisted.get_or_insert(b);
        } else {
            earlier.sort_unstable();
            found.listed.push((b, earlier));
        }
    }
    found
}

/// The finding at rule `b`, which can match together with the earlier rules `found`.
fn conflict_finding(bundle: &ir::Bundle, b: &Rule, found: &[usize]) -> Diagnostic {
    let others: Vec<&Rule> = found.iter().filter_map(|a| bundle.rules.get(*a)).collect();
    let kinds: Vec<Disagreement> = others.iter().filter_map(|a| disagreement(&a.decision, &b.decision)).collect();
    let what = |a: &Rule, d: Disagreement| match d {
        Disagreement::Kind => format!("`{}` and `{}`", a.decision.name(), b.decision.name()),
        Disagreement::Parameters if matches!(a.decision, Decision::Modify(_)) => {
            "`modify`, and only one block applies".to_string()
        }
        Disagreement::Parameters => format!("`{}` with different parameters", a.decision.name()),
    };
    let message = match (others.as_slice(), kinds.as_slice()) {
        ([a], [d]) => format!(
            "rules {} and {} both have priority {} and decide {}",
            rule_name(a),
            rule_name(b),
            b.priority,
            what(a, *d)
        ),
        _ => {
            let names: Vec<String> = others
                .iter()
                .zip(&kinds)
                .map(|(a, d)| match d {
                    Disagreement::Kind => format!("{} (`{}`)", rule_name(a), a.decision.name()),
                    Disagreement::Parameters => {
                        format!("{} (`{}`, other parameters)", rule_name(a), a.decision.name())
                    }
                })
                .collect();
            format!(
                "rule {} (`{}`) can match together with {} earlier rules of priority {} that decide differently: {}",
                rule_name(b),
                b.decision.name(),
                others.len(),
                b.priority,
                name_list(&names)
            )
        }
    };
    let has_kind = kinds.iter().any(|k| matches!(k, Disagreement::Kind));
    let has_params = kinds.iter().any(|k| matches!(k, Disagreement::Parameters));
    let mut outcomes = Vec::new();
    if has_kind {
        outcomes.push(match (bundle.settings.conflict, others.as_slice()) {
            (ir::ConflictMode::Defer, _) => {
                "with `conflict defer` the action then defers (`conflict.defer`)".to_string()
            }
            (ir::ConflictMode::Restrictive, [a]) => {
                format!("the more restrictive decision (`{}`) then wins", more_restrictive(&a.decision, &b.decision))
            }
            (ir::ConflictMode::Restrictive, _) => {
                "the most restrictive decision then wins (`deny` > `step_up` > `defer` > `modify` > `allow`)"
                    .to_string()
            }
        });
    }
    if has_params {
        outcomes.push(match others.as_slice() {
            [a] => format!("the first in source order ({}) then wins", rule_name(a)),
            _ => "between rules of one decision, the first in source order wins".to_string(),
        });
    }
    let label = if others.len() == 1 {
        "can match together with the other rule".to_string()
    } else {
        format!("can match together with {} other rules", others.len())
    };
    let mut d = at_rule(Code::PriorityConflict, b, message).with_label(label);
    for a in others.iter().take(NAMED) {
        let text =
            if others.len() == 1 { "the other rule".to_string() } else { format!("decides `{}`", a.decision.name()) };
        d = d.with_secondary(a.loc.file, a.loc.span, text);
    }
    let (all, fix) = if others.len() == 1 {
        ("both", "Give one of them a different priority, or conditions that exclude each other")
    } else {
        ("several of them", "Give them different priorities, or conditions that exclude each other")
    };
    d.with_help(format!(
        "nothing in their conditions keeps them apart, so one call can match {all}; {}. {fix}",
        outcomes.join("; ")
    ))
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

fn more_restrictive<'a>(a: &'a Decision, b: &'a Decision) -> &'static str {
    if a.rank() >= b.rank() {
        a.name()
    } else {
        b.name()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn bundle(src: &str) -> ir::Bundle {
        let loaded = crate::load_sources(vec![("p.aarm".into(), src.to_string())]);
        let checked = crate::check(&loaded);
        checked.bundle.unwrap_or_else(|| panic!("{src}\n{:#?}", checked.diagnostics))
    }

    fn run(b: &ir::Bundle, limits: Limits) -> Found {
        let mut sink = Vec::new();
        let cons = super::super::constraints::check(b, &mut sink);
        let shadowed = shadowing(b, &mut sink);
        search(b, &cons, &shadowed, limits)
    }

    const ALL: Limits = Limits { listed_rules: usize::MAX, pair_budget: usize::MAX };

    /// Every pair, compared directly: what the indexed search must find.
    fn naive(b: &ir::Bundle) -> Vec<(usize, Vec<usize>)> {
        let mut sink = Vec::new();
        let cons = super::super::constraints::check(b, &mut sink);
        let shadowed = shadowing(b, &mut sink);
        let skip = |i: usize| cons[i].never() || shadowed[i];
        let shares_tool = |x: &Targets, y: &Targets| match (x, y) {
            (Targets::All, _) | (_, Targets::All) => true,
            (Targets::Tools(p), Targets::Tools(q)) => p.iter().any(|t| q.contains(t)),
        };
        let mut out = Vec::new();
        for (j, rb) in b.rules.iter().enumerate().filter(|(j, _)| !skip(*j)) {
            let earlier: Vec<usize> = (0..j)
                .filter(|&i| !skip(i))
                .filter(|&i| {
                    let ra = &b.rules[i];
                    ra.priority == rb.priority
                        && shares_tool(&ra.targets, &rb.targets)
                        && disagreement(&ra.decision, &rb.decision).is_some()
                        && !cons[i].disjoint(&cons[j])
                })
                .collect();
            if !earlier.is_empty() {
                out.push((j, earlier));
            }
        }
        out
    }

    /// A rule is shadowed when, on each of its tools (and on an undeclared one, for `on *`),
    /// some other always-true candidate has a higher priority.
    fn naive_shadowing(b: &ir::Bundle) -> Vec<bool> {
        let tools: Vec<Option<ToolId>> =
            (0..b.tools.len()).map(|t| Some(ToolId(t as u32))).chain(std::iter::once(None)).collect();
        let on = |r: &Rule, t: Option<ToolId>| match (&r.targets, t) {
            (Targets::All, _) => true,
            (Targets::Tools(ts), Some(t)) => ts.contains(&t),
            (Targets::Tools(_), None) => false,
        };
        b.rules
            .iter()
            .enumerate()
            .map(|(i, r)| {
                tools.iter().filter(|t| on(r, **t)).all(|t| {
                    b.rules
                        .iter()
                        .enumerate()
                        .any(|(j, a)| j != i && on(a, *t) && always_true(a) && a.priority > r.priority)
                })
            })
            .collect()
    }

    fn rule_src() -> impl Strategy<Value = String> {
        let targets = prop::sample::select(vec!["t1", "t2", "t1, t2", "*"]);
        let when = prop::collection::vec(
            prop::sample::select(vec![
                "action.operation == \"a\"",
                "action.operation == \"b\"",
                "action.operation in [\"a\", \"c\"]",
                "action.operation != \"a\"",
                "identity.human.starts_with(\"x\")",
                "identity.human.starts_with(\"xy\")",
                "identity.human.starts_with(\"y\")",
                "not identity.human.starts_with(\"x\")",
                "identity.roles.len() > 2",
                "true",
            ]),
            0..3,
        );
        let decision = prop::sample::select(vec![
            "allow",
            "deny",
            "step_up { approvers 1 of [\"a@x\"] }",
            "step_up { approvers 1 of [\"b@x\"] }",
        ]);
        (targets, 0..2i64, when, decision).prop_map(|(t, p, when, d)| {
            let when: String = when.iter().map(|w| format!("when {w}\n")).collect();
            format!("on {t} priority {p} {{\n{when}{d}\n}}\n")
        })
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]

        /// The bucket index and the decision classes only skip pairs that cannot conflict.
        #[test]
        fn indexed_search_finds_what_comparing_every_pair_finds(rules in prop::collection::vec(rule_src(), 1..14)) {
            let mut src = String::from("policy p version \"1\"\ntool t1 { x: Int }\ntool t2 { x: Int }\n");
            for (i, r) in rules.iter().enumerate() {
                src.push_str(&format!("rule r{i} {r}"));
            }
            let b = bundle(&src);
            let found = run(&b, ALL);
            prop_assert_eq!(&found.listed, &naive(&b), "{}", src);
            prop_assert_eq!((found.unlisted, found.stopped_at), (0, None));
            prop_assert_eq!(shadowing(&b, &mut Vec::new()), naive_shadowing(&b), "{}", src);
        }
    }

    fn alternating(n: usize, when: impl Fn(usize) -> String) -> ir::Bundle {
        let mut src = String::from("policy p version \"1\"\ntool t { n: Int, cmd: String }\n");
        for k in 0..n {
            src.push_str(&format!(
                "rule r{k} on t {{ when {}\n {} }}\n",
                when(k),
                if k % 2 == 0 { "deny" } else { "allow" }
            ));
        }
        bundle(&src)
    }

    #[test]
    fn past_the_listed_rules_conflicts_are_counted() {
        // Every rule overlaps every other (`n > k`); rules 1..=9 each conflict with an earlier one.
        let b = alternating(10, |k| format!("params.n > {k}"));
        let found = run(&b, Limits { listed_rules: 3, pair_budget: usize::MAX });
        assert_eq!(found.listed.iter().map(|(r, _)| *r).collect::<Vec<_>>(), [1, 2, 3]);
        assert_eq!(found.listed[2].1, [0, 2], "rule 3 (allow) conflicts with the earlier denies");
        assert_eq!((found.unlisted, found.first_unlisted, found.stopped_at), (6, Some(4), None));
    }

    #[test]
    fn the_pair_budget_stops_the_search_where_it_runs_out() {
        // Disjoint ranges: nothing conflicts, and every allow is compared with every earlier deny.
        let b = alternating(40, |k| format!("params.n >= {} and params.n < {}", k * 10, k * 10 + 10));
        assert_eq!(run(&b, ALL), Found::default());
        // Rule k is compared with the k / 2 rounded-up earlier rules of the other decision.
        let found = run(&b, Limits { listed_rules: usize::MAX, pair_budget: 20 });
        let compared_before = |r: usize| (0..r).map(|k| k.div_ceil(2)).sum::<usize>();
        let stop = found.stopped_at.unwrap();
        assert!(compared_before(stop) <= 20 && compared_before(stop + 1) > 20, "stopped at {stop}");
    }

    #[test]
    fn rules_comparing_one_field_with_different_constants_are_never_compared() {
        let b = alternating(2_000, |k| format!("params.cmd == \"c{k}\""));
        // A budget of one pair would stop at once if any pair were compared.
        assert_eq!(run(&b, Limits { listed_rules: usize::MAX, pair_budget: 1 }), Found::default());
        // ...while the same conditions without the index would conflict-check every pair.
        let b = alternating(4, |k| format!("params.cmd == \"c{}\"", k / 2));
        let found = run(&b, ALL);
        assert_eq!(found.listed, [(1, vec![0]), (3, vec![2])]);
    }

    #[test]
    fn thousands_separates_groups_of_three() {
        assert_eq!(thousands(2_000_000), "2 000 000");
        assert_eq!(thousands(999), "999");
        assert_eq!(thousands(1_000), "1 000");
    }
}

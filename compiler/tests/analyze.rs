#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]
//! `aarm_compiler::analyze`, finding by finding: each test analyzes a policy that has the finding
//! and a near-identical one that does not.

use aarm_compiler::analyze::analyze;
use aarm_compiler::{check, load_sources};

const HEADER: &str = "policy p version \"1.0.0\"\n\
tool pay { amount: Decimal, count: Int, currency: String, memo: String?, urgent: Bool }\n\
context { age: Duration }\n";

/// The findings of `src` (after `HEADER`) as `(code, message)`.
fn findings(src: &str) -> Vec<(String, String)> {
    let loaded = load_sources(vec![("p.aarm".into(), format!("{HEADER}{src}"))]);
    let checked = check(&loaded);
    let Some(bundle) = checked.bundle else { panic!("does not check: {:#?}", checked.diagnostics) };
    analyze(&bundle).into_iter().map(|d| (d.code.as_str().to_string(), d.message)).collect()
}

fn codes(src: &str) -> Vec<String> {
    findings(src).into_iter().map(|(c, _)| c).collect()
}

fn assert_one(src: &str, code: &str, words: &[&str]) {
    let found = findings(src);
    assert_eq!(found.len(), 1, "expected one {code} in {found:#?}");
    let (c, message) = &found[0];
    assert_eq!(c, code, "{found:#?}");
    for w in words {
        assert!(message.contains(w), "`{message}` lacks `{w}`");
    }
}

fn assert_clean(src: &str) {
    assert_eq!(findings(src), Vec::<(String, String)>::new());
}

// ---- W0010..W0013: unused declarations

#[test]
fn unused_evidence() {
    let has = "evidence ok: Bool\nrule r on pay { deny }\n";
    let hasnt = "evidence ok: Bool\nrule r on pay { when not evidence.ok\n deny }\n";
    assert_one(has, "W0010", &["`ok`"]);
    assert_clean(hasnt);
    // Read in a reason or through a function counts.
    assert_clean("evidence ok: Bool\nfn f(b: Bool) -> Bool = b\nrule r on pay { when f(evidence.ok)\n deny }\n");
    assert_clean("evidence who: String\nrule r on pay { deny reason \"x\" \"{evidence.who}\" }\n");
}

#[test]
fn tool_without_rules() {
    assert_one("tool other { x: Int }\nrule r on pay { deny }\n", "W0011", &["`other`"]);
    assert_clean("tool other { amount: Decimal }\nrule r on pay, other { deny }\n");
    // An `on *` rule covers every tool.
    assert_clean(
        "tool other { x: Int }\nrule r on pay { deny }\nrule s on * priority -1 { when action.tool == \"x\"\n deny }\n",
    );
}

#[test]
fn unused_group() {
    let has = "group admins = [\"a@corp.com\"]\nrule r on pay { deny }\n";
    assert_one(has, "W0012", &["`admins`"]);
    assert_clean("group admins = [\"a@corp.com\"]\nrule r on pay { when identity.human in admins\n deny }\n");
    assert_clean("group admins = [\"a@corp.com\"]\nrule r on pay { step_up { approvers 1 of admins } }\n");
}

#[test]
fn unused_function() {
    let has = "fn big(x: Decimal) -> Bool = x > 100\nrule r on pay { when params.amount > 100\n deny }\n";
    let hasnt = "fn big(x: Decimal) -> Bool = x > 100\nrule r on pay { when big(params.amount)\n deny }\n";
    assert_one(has, "W0013", &["`big`"]);
    assert_clean(hasnt);
    // Called only by an unused function: unused too.
    let chain = "fn a(x: Decimal) -> Bool = x > 1\nfn b(x: Decimal) -> Bool = a(x)\nrule r on pay { deny }\n";
    assert_eq!(codes(chain), ["W0013", "W0013"]);
    // The standard library's functions are a library's, never reported.
    assert_clean("use std.text\nrule r on pay { deny }\n");
}

// ---- W0014: conditions that can never be true

#[test]
fn unsatisfiable_bounds() {
    assert_one("rule r on pay { when params.amount > 5 and params.amount < 3\n deny }\n", "W0014", &["`p.r`"]);
    assert_clean("rule r on pay { when params.amount > 5 and params.amount < 7\n deny }\n");
    // Across `when` lines, and `not` pushed inward.
    assert_one("rule r on pay { when params.amount >= 10\n when not (params.amount >= 5)\n deny }\n", "W0014", &[]);
    assert_clean("rule r on pay { when params.amount >= 10\n when not (params.amount >= 50)\n deny }\n");
}

#[test]
fn unsatisfiable_integers_are_exact() {
    // No integer lies strictly between 5 and 6, nor between 2.5 and 3 (a widened comparison)...
    assert_one("rule r on pay { when params.count > 5 and params.count < 6\n deny }\n", "W0014", &[]);
    assert_one("rule r on pay { when params.count > 2.5 and params.count < 3\n deny }\n", "W0014", &[]);
    // ...but a decimal does.
    assert_clean("rule r on pay { when params.amount > 5 and params.amount < 6\n deny }\n");
    assert_clean("rule r on pay { when params.count > 2.5 and params.count < 4\n deny }\n");
    // `!=` excluding the only value left.
    assert_one(
        "rule r on pay { when params.count >= 3 and params.count <= 3 and params.count != 3\n deny }\n",
        "W0014",
        &[],
    );
    assert_clean("rule r on pay { when params.count >= 3 and params.count <= 4 and params.count != 3\n deny }\n");
}

#[test]
fn unsatisfiable_strings_bools_and_presence() {
    assert_one(
        "rule r on pay { when params.currency == \"USD\"\n when params.currency == \"EUR\"\n deny }\n",
        "W0014",
        &[],
    );
    assert_clean("rule r on pay { when params.currency == \"USD\" or params.currency == \"EUR\"\n deny }\n");
    assert_one(
        "rule r on pay { when params.currency in [\"USD\", \"EUR\"] and params.currency == \"GBP\"\n deny }\n",
        "W0014",
        &[],
    );
    assert_clean(
        "rule r on pay { when params.currency in [\"USD\", \"EUR\"] and params.currency != \"USD\"\n deny }\n",
    );
    assert_one("rule r on pay { when params.urgent and params.urgent == false\n deny }\n", "W0014", &[]);
    assert_clean("rule r on pay { when params.urgent and params.currency == \"USD\"\n deny }\n");
    assert_one("rule r on pay { when params.memo is set and params.memo is not set\n deny }\n", "W0014", &[]);
    assert_clean("rule r on pay { when params.memo is set and params.memo != \"x\"\n deny }\n");
    assert_one("rule r on pay { when context.age > 1h and context.age < 30m\n deny }\n", "W0014", &[]);
    assert_clean("rule r on pay { when context.age > 1h or context.age < 30m\n deny }\n");
}

#[test]
fn unsatisfiable_prefixes_and_suffixes() {
    // Two prefixes neither of which extends the other; a forbidden prefix a required one implies.
    assert_one(
        "rule r on pay { when params.currency.starts_with(\"US\") and params.currency.starts_with(\"EU\")\n deny }\n",
        "W0014",
        &["`p.r`"],
    );
    assert_clean(
        "rule r on pay { when params.currency.starts_with(\"U\") and params.currency.starts_with(\"US\")\n deny }\n",
    );
    assert_one(
        "rule r on pay { when params.currency.starts_with(\"USD\")\n when not params.currency.starts_with(\"US\")\n deny }\n",
        "W0014",
        &[],
    );
    assert_clean(
        "rule r on pay { when params.currency.starts_with(\"US\")\n when not params.currency.starts_with(\"USD\")\n deny }\n",
    );
    // With `==`, the constant must have the affix.
    assert_one(
        "rule r on pay { when params.currency == \"EUR\" and params.currency.ends_with(\"D\")\n deny }\n",
        "W0014",
        &[],
    );
    assert_clean("rule r on pay { when params.currency == \"USD\" and params.currency.ends_with(\"D\")\n deny }\n");
    // A prefix and a suffix together always leave room.
    assert_clean(
        "rule r on pay { when params.currency.starts_with(\"AB\") and params.currency.ends_with(\"XY\")\n deny }\n",
    );
}

#[test]
fn unsatisfiable_ignores_what_it_cannot_read() {
    // Locals, methods and arithmetic add no constraint: nothing is claimed.
    assert_clean("rule r on pay { when params.amount * 2 > 5 and params.amount < 1\n deny }\n");
    assert_clean("rule r on pay { when params.currency.lower() == \"usd\" and params.currency == \"USD\"\n deny }\n");
}

// ---- W0015: shadowed rules

#[test]
fn shadowed_rule() {
    let has =
        "rule all_deny on pay priority 10 { deny }\nrule later on pay priority 5 { when params.amount > 1\n allow }\n";
    let hasnt = "rule all_deny on pay priority 10 { when params.amount > 100\n deny }\nrule later on pay priority 5 { when params.amount > 1\n allow }\n";
    assert_one(has, "W0015", &["`p.later`", "`p.all_deny`"]);
    assert_clean(hasnt);
    // `on *` shadows every tool; a rule `on *` is not shadowed by a rule on some tools.
    assert_one("rule everything on * priority 10 { deny }\nrule later on pay { allow }\n", "W0015", &["`p.later`"]);
    assert_clean("rule some on pay priority 10 { deny }\nrule later on * { when action.tool == \"x\"\n allow }\n");
    // Equal priority does not shadow (the level evaluates both).
    assert_clean("rule a on pay priority 10 { deny }\nrule b on pay priority 10 { when params.amount > 1\n deny }\n");
}

// ---- W0016: equal-priority conflicts

#[test]
fn equal_priority_conflict() {
    let has = "rule a on pay priority 10 { when params.amount > 5\n deny }\nrule b on pay priority 10 { when params.amount < 10\n allow }\n";
    let hasnt = "rule a on pay priority 10 { when params.amount > 5\n deny }\nrule b on pay priority 10 { when params.amount < 3\n allow }\n";
    assert_one(has, "W0016", &["`p.a`", "`p.b`", "`deny`", "`allow`"]);
    assert_clean(hasnt);
    // Same decision: no conflict; different priorities: no conflict.
    assert_clean("rule a on pay priority 10 { when params.amount > 5\n deny }\nrule b on pay priority 10 { when params.amount < 10\n deny }\n");
    assert_clean("rule a on pay priority 11 { when params.amount > 5\n deny }\nrule b on pay priority 10 { when params.amount < 10\n allow }\n");
    // Two step-ups that differ in their parameters.
    assert_one(
        "rule a on pay { when params.amount > 5\n step_up { approvers 1 of [\"x@corp.com\"] } }\nrule b on pay { when params.urgent\n step_up { approvers 1 of [\"y@corp.com\"] } }\n",
        "W0016",
        &["different parameters"],
    );
}

#[test]
fn equal_priority_rules_with_exclusive_prefixes_do_not_conflict() {
    let rules = |second: &str| {
        format!(
            "rule a on pay {{ when params.currency.starts_with(\"US\")\n deny }}\nrule b on pay {{ when params.currency.starts_with(\"{second}\")\n allow }}\n"
        )
    };
    assert_one(&rules("U"), "W0016", &["`p.a`", "`p.b`"]);
    assert_clean(&rules("EU"));
}

#[test]
fn one_conflict_finding_per_rule_names_the_earlier_rules() {
    // `late` overlaps four earlier denies; the denies agree with each other.
    let mut src = String::new();
    for i in 0..4 {
        src.push_str(&format!("rule d{i} on pay {{ when params.amount > {i}\n deny }}\n"));
    }
    let has = format!("{src}rule late on pay {{ when params.amount < 100\n allow }}\n");
    let hasnt = format!("{src}rule late on pay {{ when params.amount < 0\n allow }}\n");
    assert_one(
        &has,
        "W0016",
        &[
            "rule `p.late` (`allow`) can match together with 4 earlier rules of priority 0",
            "`p.d0` (`deny`), `p.d1` (`deny`), `p.d2` (`deny`) and 1 more",
        ],
    );
    assert_clean(&hasnt);
}

// ---- W0017: lifecycle paths to allow

#[test]
fn lifecycle_reaches_allow_by_timeout() {
    let has = "rule r on pay { step_up { approvers 1 of [\"x@corp.com\"]\n timeout 1h -> step_up { approvers 1 of [\"y@corp.com\"]\n timeout 30m -> allow } } }\n";
    let hasnt = "rule r on pay { step_up { approvers 1 of [\"x@corp.com\"]\n timeout 1h -> step_up { approvers 1 of [\"y@corp.com\"]\n timeout 30m -> deny } } }\n";
    assert_one(has, "W0017", &["`p.r`"]);
    assert_clean(hasnt);
    // Inherited from `settings`, and the attempts limit of a deferral.
    assert_one(
        "settings { step_up timeout 1h -> allow }\nrule r on pay { step_up { approvers 1 of [\"x@corp.com\"] } }\n",
        "W0017",
        &["`p.r`"],
    );
    assert_eq!(
        codes("evidence e: Bool\nrule r on pay { when evidence.e is not set\n defer { need e\n attempts 2 -> allow } }\nrule s on pay priority 5 { when evidence.e\n deny }\n"),
        ["W0017"]
    );
    // `settings`' own deferral limits.
    assert_one("settings { defer timeout 10m -> allow }\nrule r on pay { deny }\n", "W0017", &["settings"]);
    assert_clean("settings { defer timeout 10m -> deny }\nrule r on pay { deny }\n");
}

#[test]
fn lifecycle_labels_say_the_path() {
    let src = "rule r on pay { step_up { approvers 1 of [\"x@corp.com\"]\n timeout 1h -> step_up { approvers 1 of [\"y@corp.com\"]\n timeout 30m -> allow } } }\n";
    let loaded = load_sources(vec![("p.aarm".into(), format!("{HEADER}{src}"))]);
    let bundle = check(&loaded).bundle.unwrap();
    let d = analyze(&bundle);
    let label = d[0].label.clone().unwrap();
    assert_eq!(label, "`step_up` → no answer within 1h → `step_up` tier 2 → no answer within 30m → `allow`");
}

// ---- W0018: deferrals evidence cannot end

#[test]
fn endless_defer() {
    let higher = "rule restricted on pay priority 80 { when evidence.fresh == \"RESTRICTED\"\n deny }\n";
    let has = format!(
        "evidence fresh: String\n{higher}rule stale on pay priority 70 {{ when context.age > 24h\n defer {{ need fresh }} }}\n"
    );
    let hasnt = format!(
        "evidence fresh: String\n{higher}rule stale on pay priority 70 {{ when context.age > 24h and evidence.fresh is not set\n defer {{ need fresh }} }}\n"
    );
    assert_one(&has, "W0018", &["`p.stale`", "`fresh`"]);
    assert_clean(&hasnt);
    // A condition on the evidence's value may change: nothing is claimed.
    assert_clean(&format!(
        "evidence fresh: String\n{higher}rule stale on pay priority 70 {{ when evidence.fresh != \"PUBLIC\"\n defer {{ need fresh }} }}\n"
    ));
    // `or` with a guard: the guard may have been what held.
    assert_clean(&format!(
        "evidence fresh: String\n{higher}rule stale on pay priority 70 {{ when context.age > 24h or evidence.fresh is not set\n defer {{ need fresh }} }}\n"
    ));
}

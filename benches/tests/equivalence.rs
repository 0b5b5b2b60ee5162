//! The comparison is honest only if the three policy texts mean the same thing: on generated
//! calls, aarm, Cedar and every regorus evaluator must decide as the rule model does
//! (`Workload::expected`), and the mix must contain allows, denies by a rule and default denies.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]

use aarm_bench::engines::{AarmSide, CedarSide, RegoPath, RegoSide};
use aarm_bench::equivalent::{Call, Workload};

fn check(rules: usize, n: usize, seed: u64) {
    let w = Workload::new(rules);
    let calls = w.calls(n, seed);
    let mut aarm = AarmSide::new(&w, &calls).unwrap();
    let cedar = CedarSide::new(&w, &calls).unwrap();
    let mut rego = RegoSide::new(&w, &calls).unwrap();
    // The Rego VM compiles programs of up to 65 535 instructions: every size but 10 000 rules.
    assert_eq!(rego.has(RegoPath::Rvm), rules <= 1_000, "{:?}", rego.rvm_error);
    let (mut allows, mut rule_denies, mut default_denies) = (0, 0, 0);
    for (i, call) in calls.iter().enumerate() {
        let want = w.expected(call);
        let what = || format!("rules={rules} call {i}: {call:?}");
        assert_eq!(aarm.allow(i), want, "aarm evaluate, {}", what());
        assert_eq!(aarm.decide_allows(i), want, "aarm decide, {}", what());
        assert_eq!(cedar.allow(i), want, "cedar, {}", what());
        let paths: Vec<RegoPath> = RegoPath::ALL.into_iter().filter(|p| rego.has(*p)).collect();
        for path in paths {
            assert_eq!(rego.try_allow(path, i).unwrap(), want, "regorus {}, {}", path.name(), what());
        }
        let decision = aarm.engine.decide(&aarm.requests[i]);
        match (want, decision.rule.is_some()) {
            (true, _) => allows += 1,
            (false, true) => rule_denies += 1,
            (false, false) => default_denies += 1,
        }
    }
    for (what, count) in [("allow", allows), ("deny by a rule", rule_denies), ("default deny", default_denies)] {
        assert!(count * 10 >= n, "rules={rules}: only {count} of {n} calls end in {what}");
    }
}

#[test]
fn ten_rules_decide_alike() {
    check(10, 2_000, 1);
}

#[test]
fn a_hundred_rules_decide_alike() {
    check(100, 2_000, 2);
}

#[test]
fn a_thousand_rules_decide_alike() {
    check(1_000, 600, 3);
}

#[test]
fn ten_thousand_rules_decide_alike() {
    check(10_000, 60, 4);
}

#[test]
fn every_rule_decides_some_call() {
    // Each rule decides some generated call on its own tool (a deny rule matches it; an allow
    // rule matches it and no deny rule of the tool does): no rule is dead weight that one engine
    // could skip and another not.
    let w = Workload::new(100);
    let calls = w.calls(20_000, 9);
    let rules = w.rule_list();
    for (i, rule) in rules.iter().enumerate() {
        let tool = aarm_bench::equivalent::tool_name(rule.tool);
        let decides = |c: &Call| {
            c.tool == tool
                && rule.matches(c)
                && (rule.deny || !rules.iter().any(|r| r.tool == rule.tool && r.deny && r.matches(c)))
        };
        assert!(calls.iter().any(decides), "rule r{i} decides no call: {rule:?}");
    }
}

#[test]
fn the_three_texts_name_every_rule() {
    let w = Workload::new(10);
    assert_eq!(w.rule_list().len(), 10);
    assert_eq!(w.aarm().matches("\nrule ").count(), 10);
    assert_eq!(w.cedar().matches("@id(").count(), 10);
    assert_eq!(w.rego().matches("permit if {").count() + w.rego().matches("forbid if {").count(), 10);
}

//! The per-tool workload (`per_tool.rs`) means what it says: the engine decides every generated
//! request as the rule model does (`PerTool::denies`), with and without the rule index, and the
//! mix holds both denies and allows.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]

use aarm_bench::engines::aarm_engine;
use aarm_bench::per_tool::PerTool;
use aarm_runtime::decision::Effect;

const NOW: i64 = 1_790_000_000;

fn check(rules_per_tool: usize, n: usize) {
    let w = PerTool::new(rules_per_tool);
    let engine = aarm_engine(&w.policy()).unwrap();
    assert_eq!(engine.indexed_tools(), if rules_per_tool >= 8 { 50 } else { 0 });
    let scan = aarm_engine(&w.policy()).unwrap().unindexed();
    let mut denies = 0;
    for text in w.requests(n, 11) {
        let v: serde_json::Value = serde_json::from_str(&text).unwrap();
        let tool: usize = v["action"]["tool"].as_str().unwrap()["pay_".len()..].parse().unwrap();
        let amount = v["action"]["params"]["amount"].as_i64().unwrap();
        let dest = v["action"]["params"]["dest"].as_str().unwrap();
        let want = if w.denies(tool, amount, dest) { Effect::Deny } else { Effect::Allow };
        let got = engine.decide_json(&text, NOW);
        assert_eq!(got.decision, want, "N={rules_per_tool}: {text}");
        assert_eq!(scan.decide_json(&text, NOW), got, "N={rules_per_tool}, without the index: {text}");
        denies += usize::from(want == Effect::Deny);
    }
    assert!(denies * 10 >= n && (n - denies) * 10 >= n, "N={rules_per_tool}: {denies} denies of {n}");
}

#[test]
fn one_rule_per_tool() {
    check(1, 1_000);
}

#[test]
fn twenty_rules_per_tool() {
    check(20, 1_000);
}

#[test]
fn two_hundred_rules_per_tool() {
    check(200, 1_000);
}

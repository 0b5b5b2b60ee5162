//! An evaluation error names where it happened: the bundle's span table (runtime/src/spans.rs)
//! maps the failing instruction to `file:line:col` and the expression's text, in the decision's
//! message and its `error_at` field — through the host API, on the VM and on a condition's plan,
//! in a `fn` body, a reason and a `modify` value, and through `aarm eval`.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]

mod common;

use aarm::runtime::decision::{codes, Decision, Effect};
use aarm::runtime::engine::Engine;
use aarm::runtime::spans::ErrorLocation;
use serde_json::{json, Value};

const NOW: i64 = 1_795_514_400;

const POLICY: &str = r#"policy p version "1"
settings { default allow }
tool pay { amount: Int, items: List<Int>, ip: String, note: String }
fn ratio(n: Int) -> Int = 100 / (n - 7)
rule overflow on pay priority 50 {
  when params.note == "overflow" and params.amount * params.amount > 0
  allow
}
rule ranged on pay priority 40 {
  when params.note == "at" and params.items.at(5) > 0
  allow
}
rule cidr on pay priority 30 {
  when params.note == "cidr" and params.ip.in_cidr("10.0.0.0/8")
  deny
}
rule by_fn on pay priority 20 {
  when params.note == "fn" and ratio(params.amount) > 0
  allow
}
rule noted on pay priority 10 {
  when params.note == "reason"
  deny reason "p.ratio" "ratio {100 / (params.amount - 3)}"
}
rule rewritten on pay priority 5 {
  when params.note == "modify"
  modify { params.amount = params.amount / (params.amount - 4) }
}
rule spins on pay priority 4 {
  when params.note == "fuel" and (count x in params.items: (count y in params.items: x == y) > 0) > 0
  allow
}
"#;

fn engine() -> Engine {
    aarm_testkit::build_files(vec![("p.aarm".into(), POLICY.into())]).unwrap().engine().unwrap()
}

fn pay(amount: i64, items: &str, ip: &str, note: &str) -> String {
    json!({"action": {"tool": "pay", "params": {"amount": amount, "items": serde_json::from_str::<Value>(items).unwrap(), "ip": ip, "note": note}}})
        .to_string()
}

fn at(line: u32, col: u32, expr: &str) -> Option<ErrorLocation> {
    Some(ErrorLocation { file: "p.aarm".into(), line, col, expr: expr.into() })
}

/// Decides with the engine as loaded (fused, with plans) and unfused (every condition on the
/// VM): both must name the same place.
fn decide(json: &str) -> Decision {
    let e = engine();
    let fused = e.decide_json(json, NOW);
    let unfused = e.unfused().decide_json(json, NOW);
    assert_eq!(fused, unfused, "the plan and the VM disagree on {json}");
    assert_eq!(fused.decision, Effect::Deny);
    assert_eq!(&*fused.reason.code, codes::EVAL_ERROR);
    fused
}

#[test]
fn an_overflow_names_the_multiplication() {
    let d = decide(&pay(4_000_000_000, "[]", "10.0.0.1", "overflow"));
    assert_eq!(d.error_at.as_deref().cloned(), at(6, 38, "params.amount * params.amount"));
    assert_eq!(
        d.reason.message,
        "rule p.overflow failed at p.aarm:6:38 in `params.amount * params.amount`: integer overflow"
    );
}

#[test]
fn an_index_out_of_range_names_the_method_call() {
    let d = decide(&pay(1, "[1, 2]", "10.0.0.1", "at"));
    assert_eq!(d.rule.as_deref(), Some("p.ranged"));
    assert_eq!(d.error_at.as_deref().cloned(), at(10, 32, "params.items.at(5)"));
}

#[test]
fn an_error_in_a_planned_condition_is_located_on_the_vm() {
    // Both tests of the condition are fused leaves: the engine evaluates it without the VM.
    let d = decide(&pay(1, "[]", "not an address", "cidr"));
    assert_eq!(d.rule.as_deref(), Some("p.cidr"));
    assert_eq!(d.error_at.as_deref().cloned(), at(14, 34, "params.ip.in_cidr(\"10.0.0.0/8\")"));
}

#[test]
fn an_error_in_a_function_names_the_function_body() {
    let d = decide(&pay(7, "[]", "10.0.0.1", "fn"));
    assert_eq!(d.rule.as_deref(), Some("p.by_fn"));
    assert_eq!(d.error_at.as_deref().cloned(), at(4, 27, "100 / (n - 7)"));
    assert!(d.reason.message.ends_with(": division by zero"), "{}", d.reason.message);
}

#[test]
fn errors_in_a_reason_and_a_modify_value_are_located_too() {
    let d = decide(&pay(3, "[]", "10.0.0.1", "reason"));
    assert_eq!(d.rule.as_deref(), Some("p.noted"));
    assert_eq!(d.error_at.as_deref().cloned(), at(23, 33, "100 / (params.amount - 3)"));
    let d = decide(&pay(4, "[]", "10.0.0.1", "modify"));
    assert_eq!(d.rule.as_deref(), Some("p.rewritten"));
    assert_eq!(d.error_at.as_deref().cloned(), at(27, 28, "params.amount / (params.amount - 4)"));
}

#[test]
fn a_decision_without_an_error_has_no_error_at() {
    let e = engine();
    let d = e.decide_json(&pay(12, "[]", "10.0.0.1", ""), NOW);
    assert_eq!(d.error_at, None);
    let json = serde_json::to_value(&d).unwrap();
    assert!(json.get("error_at").is_none(), "{json}");
}

#[test]
fn aarm_eval_prints_the_location() {
    let dir = common::scratch("error-spans", "eval");
    std::fs::write(dir.join("p.aarm"), POLICY).unwrap();
    let out = common::eval_stdin(dir.join("p.aarm"), pay(7, "[]", "10.0.0.1", "fn").as_bytes(), &[]);
    let d: Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{e}: {out:?}"));
    assert_eq!(d["reason"]["code"], "eval.error");
    assert_eq!(d["error_at"], json!({"file": "p.aarm", "line": 4, "col": 27, "expr": "100 / (n - 7)"}));
    assert_eq!(d["reason"]["message"], "rule p.by_fn failed at p.aarm:4:27 in `100 / (n - 7)`: division by zero");
}

#[test]
fn exhausted_fuel_names_an_expression_of_the_loop() {
    let items = format!("[{}]", (0..3_000).map(|i| i.to_string()).collect::<Vec<_>>().join(","));
    let d = decide(&pay(1, &items, "10.0.0.1", "fuel"));
    assert_eq!(d.rule.as_deref(), Some("p.spins"));
    assert!(d.reason.message.ends_with(": evaluation ran out of fuel"), "{}", d.reason.message);
    let at = d.error_at.expect("a location");
    assert_eq!((at.file.as_str(), at.line), ("p.aarm", 30), "{at:?}");
    assert!(at.col > 33, "inside the `count`: {at:?}");
}

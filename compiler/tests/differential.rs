#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]
//! The differential test: the VM (code generator + bytecode + engine) against the reference
//! interpreter (`aarm_compiler::interpret`), on generated policies and requests. This is the main
//! correctness argument for the VM: both implement "Evaluation" of `lang/REFERENCE.md`
//! independently, and must return the same decision for every request.
//!
//! Policies and requests come from the one grammar in `aarm_testkit::generate` (the fuzz target
//! `differential` uses it too): proptest draws the bytes the grammar reads its choices from, and
//! shrinks a failing case as bytes. Policies are well-typed by construction (cases the checker
//! rejects are skipped and counted); invalid requests are skipped and counted. What must hold is
//! `aarm_testkit::differential`: the engine, the engine without the rule index, the engine
//! without fusion and the interpreter decide alike. 500 cases by default (about 2 s in debug);
//! more with `PROPTEST_CASES=20000 cargo test -p aarm-compiler --test differential -- --nocapture`
//! (which also prints how many decisions of each kind were compared), deeper conditions with
//! `DIFF_DEPTH=6`, the checker's rejections with `DIFF_VERBOSE=1`.
//!
//! Also: example-based tests of the interpreter on docs/language.md's examples. No disagreement has
//! been found so far (see the commit messages for the runs), so there are no ignored
//! reproductions here.

mod common;

use aarm_compiler::interpret;
use aarm_runtime::decision::{Decision, Effect};
use aarm_testkit::differential::{Engines, NOW};
use aarm_testkit::generate::{self, SCHEMA};
use aarm_testkit::{build, Built, FILE_MARK};
use arbitrary::Unstructured;
use proptest::prelude::*;
use proptest::test_runner::TestCaseError;
use std::cell::{Cell, RefCell};
use std::collections::BTreeMap;

// ---------------------------------------------------------------------------------------------
// Compiling and deciding

fn compile_ok(src: &str) -> Built {
    build(src).unwrap_or_else(|e| panic!("{e}\n{src}"))
}

/// Every decider on one request; panics with everything needed to reproduce on disagreement.
fn assert_agree(src: &str, json: &str) -> Decision {
    let engines = Engines::new(src).unwrap_or_else(|e| panic!("{e}\n{src}"));
    match engines.compare(src, json) {
        Ok(Some(decision)) => decision,
        Ok(None) => panic!("the request is refused: {json}"),
        Err(e) => panic!("{e}"),
    }
}

const HASH: &str = "sha256:test";

// ---------------------------------------------------------------------------------------------
// Example-based tests of the interpreter (docs/language.md, evidence, and the examples)

const CREDENTIALS: &str = r#"
policy credentials version "1.0.0"

tool rotate_credentials { environment: String }
tool delete_database { name: String }

evidence maintenance_window_active: Bool from "maintenance_api"

rule rotation_outside_window on rotate_credentials priority 50 {
  when not evidence.maintenance_window_active
  deny
  reason "creds.outside_window" "Credential rotation outside an approved maintenance window"
}

rule rotation_in_window on rotate_credentials priority 10 {
  allow
}

rule never_drop_databases on delete_database priority 100 {
  deny
  reason "db.delete" "The agent may not delete database {params.name}"
}
"#;

fn rotate(evidence: &str) -> String {
    format!(
        r#"{{"action": {{"tool": "rotate_credentials", "params": {{"environment": "prod"}}}}, "evidence": {{{evidence}}}}}"#
    )
}

/// The interpreter alone (these tests pin its answers; `assert_agree` adds the VM).
fn interp_only(src: &str, json: &str) -> Decision {
    let c = compile_ok(src);
    let engine = c.engine().unwrap();
    let req = engine.convert(json, NOW).expect("valid request");
    interpret::decide(&c.ir, &req, HASH)
}

#[test]
fn credential_rotation_without_evidence_defers() {
    let d = interp_only(CREDENTIALS, &rotate(""));
    assert_eq!(d.decision, Effect::Defer);
    assert_eq!(d.rule.as_deref(), Some("credentials.rotation_outside_window"));
    assert_eq!(&*d.reason.code, "evidence.required");
    assert_eq!(d.reason.message, "waiting for evidence: maintenance_window_active");
    let defer = d.defer.expect("defer obligation");
    let names: Vec<&str> = defer.need.iter().map(|n| n.name.as_str()).collect();
    assert_eq!(names, ["maintenance_window_active"]);
    assert_eq!(defer.need[0].ty, "Bool");
    assert_eq!(defer.need[0].source, "maintenance_api");
    assert_eq!(defer.timeout_s, 600);
    assert_eq!(defer.max_attempts, 3);
    assert_eq!(&*d.policy.name, "credentials");
    assert_eq!(&*d.policy.bundle_hash, HASH);
}

#[test]
fn credential_rotation_outside_window_denies() {
    let d = interp_only(CREDENTIALS, &rotate(r#""maintenance_window_active": false"#));
    assert_eq!(d.decision, Effect::Deny);
    assert_eq!(d.rule.as_deref(), Some("credentials.rotation_outside_window"));
    assert_eq!(&*d.reason.code, "creds.outside_window");
    assert_eq!(d.reason.message, "Credential rotation outside an approved maintenance window");
}

#[test]
fn credential_rotation_inside_window_allows() {
    let d = interp_only(CREDENTIALS, &rotate(r#""maintenance_window_active": true"#));
    assert_eq!(d.decision, Effect::Allow);
    assert_eq!(d.rule.as_deref(), Some("credentials.rotation_in_window"));
    assert_eq!(&*d.reason.code, "rule.rotation_in_window");
    assert_eq!(d.reason.message, "decided by rule credentials.rotation_in_window");
}

#[test]
fn reason_interpolation_and_undeclared_tool_default() {
    let d = interp_only(CREDENTIALS, r#"{"action": {"tool": "delete_database", "params": {"name": "users"}}}"#);
    assert_eq!(d.decision, Effect::Deny);
    assert_eq!(d.reason.message, "The agent may not delete database users");
    // An undeclared tool sees only `on *` rules (none here): the default.
    let d = interp_only(CREDENTIALS, r#"{"action": {"tool": "format_disk"}}"#);
    assert_eq!(d.decision, Effect::Deny);
    assert_eq!(d.rule, None);
    assert_eq!(&*d.reason.code, "default.deny");
    assert_eq!(&*d.policy.name, "credentials");
}

const PAYMENTS: &str = r#"
policy payments version "1.4.0"
settings { min_confidence 0.6 }
tool transfer_funds { amount: Decimal, currency: String, recipient: String, memo: String? }
tool send_email { to: List<String>, subject: String, body: String }
group finance_approvers = ["cfo@corp.com", "controller@corp.com", "lead@corp.com"]
fn is_internal(addr: String) -> Bool = addr.ends_with("@corp.com")

rule large_transfer on transfer_funds priority 90 {
  when params.amount > 5000
  when params.currency == "USD"
  step_up {
    approvers 2 of finance_approvers
    timeout 30m -> deny
    escalate after 15m to ["security-manager@corp.com"]
    risk high
  }
  reason "transfer.large" "Transfer of {params.amount} {params.currency} needs two approvers"
}

rule small_transfer on transfer_funds priority 10 {
  when params.amount <= 5000
  confidence 0.5
  allow
}

rule internal_mail_only on send_email priority 20 {
  when any r in params.to: not is_internal(r)
  modify {
    params.to = params.to.filter(x => is_internal(x));
    params.subject = "[reviewed] " + params.subject
  }
}
"#;

#[test]
fn payments_step_up_modify_and_low_confidence() {
    let d = interp_only(
        PAYMENTS,
        r#"{"action": {"tool": "transfer_funds", "params": {"amount": 10000.5, "currency": "USD", "recipient": "acme"}}}"#,
    );
    assert_eq!(d.decision, Effect::StepUp);
    assert_eq!(d.reason.message, "Transfer of 10000.5 USD needs two approvers");
    assert_eq!(d.risk.as_deref(), Some("high"));
    let s = d.step_up.expect("step_up obligation");
    assert_eq!((s.quorum, s.timeout_s, s.approvers.len()), (2, 1800, 3));

    let d = interp_only(
        PAYMENTS,
        r#"{"action": {"tool": "transfer_funds", "params": {"amount": 10, "currency": "USD", "recipient": "acme"}}}"#,
    );
    assert_eq!(d.decision, Effect::Defer);
    assert_eq!(&*d.reason.code, "confidence.low");
    assert_eq!(d.reason.message, "confidence 0.5 is below the minimum 0.6");
    assert_eq!(d.confidence, Some(0.5));

    let d = interp_only(
        PAYMENTS,
        r#"{"action": {"tool": "send_email", "params": {"to": ["a@corp.com", "b@evil.com"], "subject": "hi", "body": "x"}}}"#,
    );
    assert_eq!(d.decision, Effect::Modify);
    let m = d.modified_action.expect("modified action");
    assert_eq!(m.params.get("to").map(ToString::to_string).as_deref(), Some(r#"["a@corp.com"]"#));
    assert_eq!(m.params.get("subject").map(ToString::to_string).as_deref(), Some(r#""[reviewed] hi""#));
    assert_eq!(m.params.get("body").map(ToString::to_string).as_deref(), Some(r#""x""#));
}

/// A `modify` that writes a record-typed parameter: the VM wrote it as a JSON object, the
/// interpreter (before the one decision assembly) as an array. A constant record goes through the
/// constant pool, a record built from the request through the VM's record construction.
const RECORD_MODIFY: &str = r#"
policy r version "1"
tool connect { target: { host: String, port: Int, weight: Decimal }, tags: List<{ k: String, v: Int }> }

rule pin_external on connect priority 20 {
  when not params.target.host.ends_with(".corp")
  modify { params.target = { host: "proxy.corp", port: 3128, weight: 1 } }
}

rule keep_host_fix_port on connect priority 10 {
  modify {
    params.target = { host: params.target.host, port: 443, weight: params.target.weight };
    params.tags = [{ k: "via", v: params.target.port }]
  }
}
"#;

#[test]
fn a_record_typed_modify_is_an_object_in_both() {
    let external = r#"{"action": {"tool": "connect", "params": {"target": {"host": "evil.example", "port": 80, "weight": 0.5}, "tags": []}}}"#;
    let d = assert_agree(RECORD_MODIFY, external);
    let m = d.modified_action.expect("modified action");
    assert_eq!(
        m.params.get("target").map(ToString::to_string).as_deref(),
        Some(r#"{"host":"proxy.corp","port":3128,"weight":1}"#)
    );
    let internal = r#"{"action": {"tool": "connect", "params": {"target": {"host": "db.corp", "port": 5432, "weight": 2.25}, "tags": []}}}"#;
    let d = assert_agree(RECORD_MODIFY, internal);
    let m = d.modified_action.expect("modified action");
    assert_eq!(
        m.params.get("target").map(ToString::to_string).as_deref(),
        Some(r#"{"host":"db.corp","port":443,"weight":2.25}"#)
    );
    assert_eq!(m.params.get("tags").map(ToString::to_string).as_deref(), Some(r#"[{"k":"via","v":5432}]"#));
}

/// An `Int` written where a record's field is `Decimal` is widened in that field only. A `Widen`
/// around the whole record used to leave the VM's pooled constant holding an `Int` (so `t.w > 0.5`
/// compared an `Int` with a `Decimal`) and fail in the interpreter.
#[test]
fn an_int_in_a_decimal_record_field_is_widened() {
    let src = r#"
policy w version "1"
tool t { n: Int }
fn heavy(t: { w: Decimal, n: Int }) -> Bool = t.w > 0.5 and t.n == 2
fn heaviest(ts: List<{ w: Decimal }>) -> Bool = any t in ts: t.w > 2.5
rule heavy_record on t priority 2 {
  when heavy({ w: 1, n: 2 })
  deny
  reason "w.heavy" "heavy"
}
rule heaviest_in_list on t priority 1 {
  when heaviest([{ w: 1 }, { w: params.n }])
  deny
  reason "w.heaviest" "heaviest"
}
"#;
    let d = assert_agree(src, r#"{"action": {"tool": "t", "params": {"n": 2}}}"#);
    assert_eq!((d.decision, &*d.reason.code), (Effect::Deny, "w.heavy"));
    let src = src.replace("heavy({ w: 1, n: 2 })", "heavy({ w: 1, n: 3 })");
    let d = assert_agree(&src, r#"{"action": {"tool": "t", "params": {"n": 3}}}"#);
    assert_eq!((d.decision, &*d.reason.code), (Effect::Deny, "w.heaviest"));
}

const THREE_VALUED: &str = r#"
policy t version "1"
tool t { n: Int }
evidence a: Bool
evidence b: Bool
evidence c: Int

rule hi on t priority 5 { when evidence.a or params.n > 3 deny }
rule mid on t priority 3 { when false and evidence.b allow }
rule lo on t priority 1 { when (count x in ["p", "q"]: evidence.c > 1) == 2 step_up { approvers 1 of role "r" } }
rule err on t priority 0 { when 1 / params.n > 0 allow }
"#;

fn t_req(n: i64, evidence: &str) -> String {
    format!(r#"{{"action": {{"tool": "t", "params": {{"n": {n}}}}}, "evidence": {{{evidence}}}}}"#)
}

#[test]
fn kleene_logic_and_resolution() {
    // `or` is true once one operand is: the unknown `a` does not matter.
    let d = interp_only(THREE_VALUED, &t_req(5, ""));
    assert_eq!((d.decision, d.rule.as_deref()), (Effect::Deny, Some("t.hi")));
    // `a` unknown, n small: `hi` might match; `lo`'s count is unknown too; no level decides.
    let d = interp_only(THREE_VALUED, &t_req(1, ""));
    assert_eq!((d.decision, d.rule.as_deref()), (Effect::Defer, Some("t.hi")));
    assert_eq!(d.reason.message, "waiting for evidence: a, c");
    // With a=false and c known, `lo` decides; `mid` is false despite the unknown `b`.
    let d = interp_only(THREE_VALUED, &t_req(1, r#""a": false, "c": 2"#));
    assert_eq!((d.decision, d.rule.as_deref()), (Effect::StepUp, Some("t.lo")));
    assert_eq!(d.risk.as_deref(), Some("medium"));
    // Division by zero at a level that is reached: deny eval.error.
    let d = interp_only(THREE_VALUED, &t_req(0, r#""a": false, "c": 0"#));
    assert_eq!((d.decision, d.rule.as_deref()), (Effect::Deny, Some("t.err")));
    assert_eq!(&*d.reason.code, "eval.error");
    assert_eq!(d.reason.message, "rule t.err failed: division by zero");
    // ... and not when a higher level decides first.
    let d = interp_only(THREE_VALUED, &t_req(0, r#""a": true"#));
    assert_eq!((d.decision, d.rule.as_deref()), (Effect::Deny, Some("t.hi")));
}

const EXPORT: &str = include_str!("../../examples/data_export/export.aarm");

fn export(age: i64, evidence: &str) -> String {
    format!(
        r#"{{"action": {{"tool": "export_table", "params": {{"table": "customers", "destination": "s3://b"}}}}, "context": {{"classification_age": {age}}}, "evidence": {{{evidence}}}}}"#
    )
}

#[test]
fn evidence_deferral_is_the_own_deferral_of_the_rule_needing_the_fact() {
    // docs/language.md, `defer`: `export_restricted` (80) is unknown, `stale_classification` (70) is true
    // and needs the missing fact: the export defers as `stale_classification` says.
    let d = interp_only(EXPORT, &export(172_800, ""));
    assert_eq!((d.decision, d.rule.as_deref()), (Effect::Defer, Some("data_export.stale_classification")));
    assert_eq!(&*d.reason.code, "data.classification_stale");
    assert_eq!(d.reason.message, "Classification of customers is older than a day");
    let defer = d.defer.expect("defer obligation");
    let names: Vec<&str> = defer.need.iter().map(|n| n.name.as_str()).collect();
    assert_eq!(names, ["fresh_classification"]);
    assert_eq!((defer.timeout_s, defer.max_attempts), (600, 3));
    assert!(matches!(defer.on_exhausted, aarm_runtime::decision::Outcome::StepUp(_)), "{defer:?}");
    // A recent classification: `stale_classification` is false, so it is not the evidence's
    // rule; the unknown `export_restricted` defers with the settings' limits.
    let d = interp_only(EXPORT, &export(60, ""));
    assert_eq!((d.decision, d.rule.as_deref()), (Effect::Defer, Some("data_export.export_restricted")));
    assert_eq!(&*d.reason.code, "evidence.required");
    assert_eq!(d.reason.message, "waiting for evidence: fresh_classification");
    let defer = d.defer.expect("defer obligation");
    assert_eq!(defer.on_exhausted, aarm_runtime::decision::Outcome::Deny);
    let d = interp_only(EXPORT, &export(172_800, r#""fresh_classification": "RESTRICTED""#));
    assert_eq!((d.decision, d.rule.as_deref()), (Effect::Deny, Some("data_export.export_restricted")));
    let d = interp_only(EXPORT, &export(172_800, r#""fresh_classification": "PUBLIC""#));
    assert_eq!((d.decision, d.rule.as_deref()), (Effect::Allow, Some("data_export.export_default")));
}

#[test]
fn an_unknown_rule_needing_the_fact_owns_the_deferral() {
    let src = r#"
policy n version "1"
tool t { n: Int }
evidence a: Int
evidence b: Bool
rule ask on t priority 5 {
  when evidence.a > params.n
  defer { need a timeout 2m -> deny }
  reason "ask.a" "need a for {params.n}"
}
rule other on t priority 5 { when evidence.b deny }
rule base on t { allow }
"#;
    let req = |ev: &str| format!(r#"{{"action": {{"tool": "t", "params": {{"n": 1}}}}, "evidence": {{{ev}}}}}"#);
    let d = assert_agree(src, &req(""));
    assert_eq!((d.decision, d.rule.as_deref(), &*d.reason.code), (Effect::Defer, Some("n.ask"), "ask.a"));
    assert_eq!(d.reason.message, "need a for 1");
    let defer = d.defer.expect("defer");
    let names: Vec<&str> = defer.need.iter().map(|n| n.name.as_str()).collect();
    assert_eq!((names, defer.timeout_s), (vec!["a", "b"], 120));
    // `ask` is false: not the evidence's rule; the first unknown rule defers.
    let d = assert_agree(src, &req(r#""a": 0"#));
    assert_eq!((d.decision, d.rule.as_deref(), &*d.reason.code), (Effect::Defer, Some("n.other"), "evidence.required"));
    assert_eq!(d.defer.expect("defer").timeout_s, 600);
}

#[test]
fn evidence_beyond_the_first_64_facts() {
    let mut src = String::from("policy many version \"1\"\ntool t { n: Int }\n");
    for i in 0..100 {
        src.push_str(&format!("evidence e{i}: Int\n"));
    }
    src.push_str("rule hi on t priority 2 { when evidence.e99 > params.n or evidence.e3 > 0 deny }\n");
    src.push_str(
        "rule lo on t priority 1 { when evidence.e70 + evidence.e65 > 0 defer { need e0 timeout 1m -> deny } }\n",
    );
    src.push_str("rule base on t { allow }\n");
    let req = |ev: &str| format!(r#"{{"action": {{"tool": "t", "params": {{"n": 1}}}}, "evidence": {{{ev}}}}}"#);
    let d = assert_agree(&src, &req(""));
    let names: Vec<String> = d.defer.expect("defer").need.into_iter().map(|n| n.name).collect();
    assert_eq!(names, ["e3", "e65", "e70", "e99"]);
    assert_eq!(d.rule.as_deref(), Some("many.hi"));
    let d = assert_agree(&src, &req(r#""e99": 0, "e3": 0, "e70": 1"#));
    assert_eq!(d.reason.message, "waiting for evidence: e65");
    assert_eq!(d.defer.expect("defer").timeout_s, 60);
    let d = assert_agree(&src, &req(r#""e99": 0, "e3": 0, "e70": 1, "e65": 0"#));
    assert_eq!((d.decision, d.rule.as_deref()), (Effect::Defer, Some("many.lo")));
    assert_eq!(d.defer.expect("defer").need[0].name, "e0");
    let d = assert_agree(&src, &req(r#""e99": 0, "e3": 0, "e70": 1, "e65": -1"#));
    assert_eq!((d.decision, d.rule.as_deref()), (Effect::Allow, Some("many.base")));
}

#[test]
fn examples_agree_with_the_vm() {
    for (age, ev) in [
        (172_800, ""),
        (60, ""),
        (172_800, r#""fresh_classification": "RESTRICTED""#),
        (60, r#""fresh_classification": "X""#),
    ] {
        assert_agree(EXPORT, &export(age, ev));
    }
    for evidence in ["", r#""maintenance_window_active": false"#, r#""maintenance_window_active": true"#] {
        assert_agree(CREDENTIALS, &rotate(evidence));
    }
    for (n, ev) in [(5, ""), (1, ""), (1, r#""a": false, "c": 2"#), (0, r#""a": false, "c": 0"#), (0, r#""a": true"#)] {
        assert_agree(THREE_VALUED, &t_req(n, ev));
    }
    assert_agree(
        PAYMENTS,
        r#"{"action": {"tool": "send_email", "params": {"to": ["a@corp.com", "b@evil.com"], "subject": "hi", "body": "x"}}}"#,
    );
}

#[test]
fn every_example_request_agrees_with_the_vm() {
    let examples = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples");
    let mut dirs: Vec<_> =
        std::fs::read_dir(&examples).unwrap().map(|e| e.unwrap().path()).filter(|p| p.is_dir()).collect();
    dirs.sort();
    assert!(dirs.len() >= 9, "{dirs:?}");
    for dir in dirs {
        let mut names: Vec<String> = std::fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().to_string())
            .filter(|n| n.ends_with(".aarm"))
            .collect();
        names.sort();
        let src: String = names
            .iter()
            .map(|n| format!("{FILE_MARK}{n}\n{}", std::fs::read_to_string(dir.join(n)).unwrap()))
            .collect();
        let request = std::fs::read_to_string(dir.join("request.json")).unwrap();
        let decision = assert_agree(&src, &request);
        assert!(decision.rule.is_some(), "{}: the example's request is decided by a rule: {decision:?}", dir.display());
    }
}

// ---------------------------------------------------------------------------------------------
// The differential property, on the testkit's grammar

/// Bytes for the grammar: enough that a large policy and its requests rarely run out (when they
/// do, every further choice is the first option, a leaf).
fn bytes() -> impl Strategy<Value = Vec<u8>> {
    proptest::collection::vec(any::<u8>(), 4096)
}

/// Nesting depth of generated conditions (`DIFF_DEPTH`, default 3).
fn depth() -> u32 {
    std::env::var("DIFF_DEPTH").ok().and_then(|s| s.parse().ok()).unwrap_or(3)
}

#[derive(Default)]
struct Stats {
    cases: Cell<usize>,
    rejected: Cell<usize>,
    requests: Cell<usize>,
    invalid_requests: Cell<usize>,
    /// Policies with at least one condition the engine runs as a plan (`runtime/src/plan.rs`).
    planned: Cell<usize>,
    /// Policies with a tool whose rules the engine indexes (`runtime/src/index.rs`).
    indexed: Cell<usize>,
    /// Candidates the rule index skipped (each checked `false` by `Engines::compare`), and those
    /// among them whose condition runs on the VM (a quantifier or a call before or after the
    /// indexed leaves).
    skipped: Cell<usize>,
    skipped_on_vm: Cell<usize>,
    codes: RefCell<BTreeMap<String, usize>>,
}

fn bump(c: &Cell<usize>) {
    c.set(c.get() + 1);
}

fn run_case(src: &str, requests: &[String], stats: &Stats) -> Result<(), TestCaseError> {
    bump(&stats.cases);
    let engines = match Engines::new(src) {
        Ok(e) => e,
        Err(e) => {
            bump(&stats.rejected);
            if std::env::var_os("DIFF_VERBOSE").is_some() {
                eprintln!("rejected:\n{e}\n{src}\n");
            }
            return Ok(());
        }
    };
    if engines.engine.planned_chunks() > 0 {
        bump(&stats.planned);
    }
    if engines.engine.indexed_tools() > 0 {
        bump(&stats.indexed);
    }
    for json in requests {
        let reference = match engines.compare(src, json) {
            Ok(Some(d)) => d,
            Ok(None) => {
                bump(&stats.invalid_requests);
                continue;
            }
            Err(e) => return Err(TestCaseError::fail(e.to_string())),
        };
        bump(&stats.requests);
        if let Ok(req) = engines.engine.convert(json, NOW) {
            let (all, on_vm) = engines.engine.check_index_skips(&req).map_err(TestCaseError::fail)?;
            stats.skipped.set(stats.skipped.get() + all);
            stats.skipped_on_vm.set(stats.skipped_on_vm.get() + on_vm);
        }
        let code = if reference.reason.code.starts_with("code.r") || reference.reason.code.starts_with("rule.r") {
            "(rule)".to_string()
        } else if &*reference.reason.code == "eval.error" {
            let why = reference.reason.message.split_once(" failed: ").map(|(_, w)| w).unwrap_or("");
            format!("eval.error: {why}")
        } else {
            reference.reason.code.to_string()
        };
        *stats.codes.borrow_mut().entry(format!("{} {code}", reference.decision.as_str())).or_default() += 1;
        if &*reference.policy.name == "q" {
            *stats.codes.borrow_mut().entry("(decided by the second policy)".to_string()).or_default() += 1;
        }
    }
    Ok(())
}

/// A policy (`indexed`: of the rule index's shape) and `n` requests read from `bytes`.
fn case(bytes: &[u8], indexed: bool, n: usize) -> (String, Vec<String>) {
    let mut u = Unstructured::new(bytes);
    let src = if indexed { generate::indexed_policy(&mut u) } else { generate::policy(&mut u, depth()) };
    let src = src.expect("the grammar answers every choice, even from no bytes");
    let requests = (0..n).map(|_| generate::request(&mut u).expect("a request")).collect();
    (src, requests)
}

fn print_stats(what: &str, stats: &Stats) {
    eprintln!(
        "{what}: {} policies ({} rejected by the checker), {} requests compared ({} invalid), {} with a plan, {} with an indexed tool, {} candidates skipped by the index ({} on the VM)",
        stats.cases.get(),
        stats.rejected.get(),
        stats.requests.get(),
        stats.invalid_requests.get(),
        stats.planned.get(),
        stats.indexed.get(),
        stats.skipped.get(),
        stats.skipped_on_vm.get()
    );
    for (code, count) in stats.codes.borrow().iter() {
        eprintln!("  {count:6}  {code}");
    }
}

#[test]
fn vm_agrees_with_the_reference_interpreter() {
    let mut runner = common::runner(500, 2000);
    let stats = Stats::default();
    let started = std::time::Instant::now();
    let result = runner.run(&bytes(), |bytes| {
        let (src, requests) = case(&bytes, false, 6);
        run_case(&src, &requests, &stats)
    });
    if let Err(e) = result {
        panic!("{e}");
    }
    print_stats(&format!("differential ({:.1?})", started.elapsed()), &stats);
    let (n, rejected, reqs, invalid) =
        (stats.cases.get(), stats.rejected.get(), stats.requests.get(), stats.invalid_requests.get());
    assert!(stats.planned.get() * 10 >= n, "too few policies reach the plan path: {} of {n}", stats.planned.get());
    assert!(rejected * 10 <= n, "the generator is producing too many ill-typed policies: {rejected} of {n}");
    assert!(invalid * 5 <= invalid + reqs, "too many invalid requests: {invalid} of {}", invalid + reqs);
    let codes = stats.codes.borrow();
    for wanted in [
        "deny eval.error",
        "defer evidence.required",
        "defer conflict.defer",
        "defer confidence.low",
        "modify",
        "(decided by the second",
    ] {
        assert!(codes.keys().any(|k| k.starts_with(wanted)), "no `{wanted}` decision was generated: {codes:?}");
    }
}

/// `Engines` builds its engine from the compiled program and the encoded bundle's hash, not by
/// decoding the bytes: on generated policies (general and of the index's shape), decoding the
/// bytes gives back that very program and hash, and the engine a host loads from them decides
/// every request as the `Engines` engine does.
#[test]
fn the_engines_are_the_loaded_bundles() {
    let mut runner = common::runner(200, 1000);
    let checked = Cell::new(0usize);
    let result = runner.run(&(bytes(), any::<bool>()), |(bytes, indexed)| {
        let (src, requests) = case(&bytes, indexed, 4);
        let Ok(engines) = Engines::new(&src) else { return Ok(()) };
        let built = compile_ok(&src);
        let (info, program) = aarm_runtime::bundle::decode(&built.bytes, &[], false).unwrap();
        prop_assert_eq!(&program, &built.program);
        prop_assert_eq!(engines.engine.program(), &built.program);
        prop_assert_eq!(info.hash_string(), engines.engine.bundle_hash());
        let loaded = built.engine().unwrap();
        for json in &requests {
            let Ok(req) = loaded.convert(json, NOW) else { continue };
            prop_assert_eq!(engines.engine.decide(&req), loaded.decide(&req), "{}", json);
            checked.set(checked.get() + 1);
        }
        Ok(())
    });
    if let Err(e) = result {
        panic!("{e}");
    }
    assert!(checked.get() > 100, "too few requests compared: {}", checked.get());
}

// ---------------------------------------------------------------------------------------------
// The rule index (`runtime/src/index.rs`): many same-shape rules on one tool

#[test]
fn the_rule_index_decides_as_the_interpreter_and_the_scan() {
    let mut runner = common::runner(300, 2000);
    let stats = Stats::default();
    let result = runner.run(&bytes(), |bytes| {
        let (src, requests) = case(&bytes, true, 12);
        run_case(&src, &requests, &stats)
    });
    if let Err(e) = result {
        panic!("{e}");
    }
    print_stats("index differential", &stats);
    let (n, rejected) = (stats.cases.get(), stats.rejected.get());
    assert!(rejected * 10 <= n, "too many ill-typed policies: {rejected} of {n}");
    assert!(stats.indexed.get() * 10 >= n * 6, "too few policies reach the index: {} of {n}", stats.indexed.get());
    // The index skips rules, through its tables alone and past a quantifier, a call or a
    // negation (conditions on the VM): on average more than one per request, and not rarely on
    // the VM.
    let (requests, skipped, on_vm) = (stats.requests.get(), stats.skipped.get(), stats.skipped_on_vm.get());
    assert!(skipped >= requests, "the index skipped {skipped} candidates in {requests} requests");
    assert!(on_vm * 20 >= skipped, "{on_vm} of {skipped} skipped candidates run on the VM");
    let codes = stats.codes.borrow();
    for wanted in ["deny eval.error", "defer evidence.required", "defer conflict.defer", "allow", "deny (rule)"] {
        assert!(codes.keys().any(|k| k.starts_with(wanted)), "no `{wanted}` decision was generated: {codes:?}");
    }
}

/// Many threshold and prefix rules on one tool (the shape of issue 20), on both sides of every
/// bound: the indexed engine decides as the interpreter and as the scan. Each rule has its own
/// priority, so a rule the index wrongly skipped would change which rule decides.
#[test]
fn the_rule_index_on_bounds_and_prefixes() {
    let mut src = format!("policy p version \"1\"\nsettings {{\n  default allow\n}}\n{SCHEMA}\n");
    for (k, op) in [">", ">=", "<", "<=", "=="].iter().cycle().take(15).enumerate() {
        let prefix = ["U", "US", "USD", "E", "EU"][k % 5];
        src.push_str(&format!(
            "rule r{k} on pay priority {k} {{\n  when params.count {op} {} and params.currency.starts_with(\"{prefix}\")\n  {}\n}}\n",
            k as i64 / 3 - 1,
            if k % 2 == 0 { "deny" } else { "allow" }
        ));
    }
    let c = compile_ok(&src);
    let engine = c.engine().unwrap();
    assert_eq!(engine.indexed_tools(), 1);
    let unindexed = c.engine().unwrap().unindexed();
    for count in -3..7 {
        for currency in ["USD", "US", "U", "", "EUR", "usd"] {
            let json = format!(
                r#"{{"action": {{"tool": "pay", "params": {{"amount": 1, "count": {count}, "currency": "{currency}", "tags": [], "urgent": false}}}}, "identity": {{"human": "a@x"}}, "context": {{"env": "x"}}}}"#
            );
            let decision = assert_agree(&src, &json);
            let req = engine.convert(&json, NOW).unwrap();
            assert_eq!(unindexed.decide(&req).without_error_location(), decision, "{json}");
        }
    }
}

/// A `modify` releases the parameters it does not assign exactly as the host gave them, whether
/// the request was read from text (the one-pass reader keeps each value as the span it was read
/// from and parses it again for the released action) or from a JSON value (the reference reader
/// keeps the values): escapes, a number with trailing zeros, a nested record, whitespace and key
/// order survive, and the assigned parameters are the policy's.
#[test]
fn a_modify_releases_the_unassigned_params_as_given_from_text_or_value() {
    let engines = Engines::new(RECORD_MODIFY).unwrap_or_else(|e| panic!("{e}"));
    let text = r#"{ "action" : { "tool" : "connect" , "params" : {
        "tags" : [ { "k" : "caf\u00e9 \"q\"", "v" : 0 } , {"v": 7, "k": "\ud83d\ude00"} ] ,
        "target" : { "weight" : 2.50 , "port" : 80 , "host" : "evil.example" } } } }"#;
    let schema = &engines.engine.program().schema;
    let limits = aarm_runtime::convert::Limits::default();
    assert!(aarm_runtime::decode::request(schema, text, NOW, &limits).is_some(), "the one-pass reader declined it");
    let from_text = engines.engine.decide_json(text, NOW);
    let value: serde_json::Value = serde_json::from_str(text).expect("JSON");
    let from_value = engines.engine.decide_value(&value, NOW);
    assert_eq!(from_text.decision, Effect::Modify, "{from_text:#?}");
    let (a, b) = (from_text.modified_action.expect("modified"), from_value.modified_action.expect("modified"));
    assert_eq!(a, b, "the two readers release different actions");
    // `pin_external` assigned `target` only: `tags` is the host's, value for value and in order.
    assert_eq!(a.params.get("tags"), value.pointer("/action/params/tags"));
    assert!(a.params.keys().eq(["tags", "target"]), "keys in the order given: {:?}", a.params.keys());
    assert_eq!(
        a.params.get("target").map(ToString::to_string).as_deref(),
        Some(r#"{"host":"proxy.corp","port":3128,"weight":1}"#)
    );
}

/// Hostile bytecode against the rule index: every instruction of every condition and function of
/// a bundle whose tool is indexed (`aarm_testkit::indexed`) is replaced, one at a time, by each
/// instruction of a palette (those the bundle has, their jump targets moved by one, and a few
/// more). Whenever the verifier accepts the result, every candidate the index skips on the
/// fixture's requests must be `false`, and the engine must decide as it does without the index:
/// code whose types hold on one path only, jumps past a leaf, calls with code after their
/// `ret`, must not let the index hide a rule that holds or fails.
#[test]
fn hostile_bytecode_cannot_make_the_index_hide_a_rule() {
    use aarm_runtime::bytecode::Op;
    use aarm_runtime::engine::Engine;
    use aarm_testkit::indexed::{POLICY, REQUESTS};
    let built = build(POLICY).unwrap_or_else(|e| panic!("{e}"));
    let base = Engine::from_program(built.program.clone(), "sha256:fixture").expect("loads");
    assert_eq!(base.indexed_tools(), 1, "the fixture's tool is indexed");
    let mut palette: Vec<Op> = vec![Op::Bool(true), Op::Bool(false), Op::Not, Op::Pop, Op::Ret, Op::IterEnd];
    palette.extend((0..3).flat_map(|i| [Op::Local(i), Op::SetLocal(i), Op::Param(i)]));
    let code_of = |p: &aarm_runtime::program::Program| -> Vec<Op> {
        p.chunks.iter().chain(&p.functions).flat_map(|c| c.code.iter().copied()).collect()
    };
    for op in code_of(&built.program) {
        let moved = |f: fn(u32) -> Op, t: u32| [f(t.saturating_sub(1)), f(t + 1)];
        palette.push(op);
        match op {
            Op::AndMerge(t) => palette.extend(moved(Op::AndMerge, t).into_iter().chain([Op::OrMerge(t)])),
            Op::OrMerge(t) => palette.extend(moved(Op::OrMerge, t).into_iter().chain([Op::AndMerge(t)])),
            Op::Jump(t) => palette.extend(moved(Op::Jump, t)),
            _ => {}
        }
    }
    let mut unique: Vec<Op> = Vec::new();
    for op in palette {
        if !unique.contains(&op) {
            unique.push(op);
        }
    }
    let (mut loaded, mut skipped) = (0usize, 0usize);
    let chunks = built.program.chunks.len();
    for c in 0..chunks + built.program.functions.len() {
        let len = if c < chunks {
            built.program.chunks[c].code.len()
        } else {
            built.program.functions[c - chunks].code.len()
        };
        for pc in 0..len {
            for op in &unique {
                let mut program = built.program.clone();
                let code =
                    if c < chunks { &mut program.chunks[c].code } else { &mut program.functions[c - chunks].code };
                if code[pc] == *op {
                    continue;
                }
                code[pc] = *op;
                let Ok(engine) = Engine::from_program(program, "sha256:fixture") else { continue };
                loaded += 1;
                let scanned = engine.clone().unindexed();
                for json in REQUESTS {
                    let Ok(req) = engine.convert(json, NOW) else { continue };
                    match engine.check_index_skips(&req) {
                        Ok((n, _)) => skipped += n,
                        Err(why) => panic!("{why}\nchunk {c}, instruction {pc} replaced by {op:?}\nrequest: {json}"),
                    }
                    assert_eq!(engine.decide(&req), scanned.decide(&req), "chunk {c}, {pc} := {op:?}: {json}");
                }
            }
        }
    }
    eprintln!("hostile bytecode: {loaded} variants loaded, {skipped} candidates skipped and checked");
    assert!(loaded >= 500, "only {loaded} variants passed the verifier");
    assert!(skipped >= 1000, "the index skipped only {skipped} candidates");
}

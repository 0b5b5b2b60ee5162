#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]
//! The differential test: the VM (code generator + bytecode + engine) against the reference
//! interpreter (`aarm_compiler::interpret`), on generated policies and requests. This is the main
//! correctness argument for the VM: both implement "Evaluation" of `lang/REFERENCE.md`
//! independently, and must return the same decision for every request.
//!
//! Policies are generated as `.aarm` source over a fixed schema, well-typed by construction
//! (cases the checker rejects are skipped and counted); requests as JSON (invalid ones are
//! skipped and counted). 500 cases by default (about 2 s in debug); more with
//! `PROPTEST_CASES=20000 cargo test -p aarm-compiler --test differential -- --nocapture`
//! (which also prints how many decisions of each kind were compared), deeper conditions with
//! `DIFF_DEPTH=6`, the checker's rejections with `DIFF_VERBOSE=1`.
//!
//! Known, intended divergence: the interpreter has no fuel, so a condition that exhausts the
//! VM's fuel (1 000 000 instructions) is an `eval.error` for the VM only; the generated programs
//! stay far below that.
//!
//! Also: example-based tests of the interpreter on docs/language.md's examples. No disagreement has
//! been found so far (see the commit messages for the runs), so there are no ignored
//! reproductions here.

use aarm_compiler::{check, codegen, interpret, ir, load_sources};
use aarm_runtime::convert::{convert_str, Limits};
use aarm_runtime::decision::{Decision, Effect};
use aarm_runtime::engine::Engine;
use aarm_runtime::program::Program;
use aarm_runtime::request::Request;
use proptest::prelude::*;
use proptest::test_runner::{Config, TestCaseError, TestRunner};
use std::cell::Cell;

const HASH: &str = "sha256:test";
/// `context.now` when a request gives none: 2026-11-24T10:00:00Z.
const NOW: i64 = 1_795_514_400;

// ---------------------------------------------------------------------------------------------
// Compiling and deciding

struct Compiled {
    ir: ir::Bundle,
    program: Program,
}

/// The files of a generated bundle: `src` is one file, or several, each starting with a line
/// `//// file NAME`.
fn files(src: &str) -> Vec<(String, String)> {
    if !src.starts_with(FILE_MARK) {
        return vec![("policy.aarm".to_string(), src.to_string())];
    }
    src.split(FILE_MARK)
        .filter(|part| !part.is_empty())
        .map(|part| {
            let (name, text) = part.split_once('\n').unwrap_or((part, ""));
            (name.trim().to_string(), text.to_string())
        })
        .collect()
}

const FILE_MARK: &str = "//// file ";

/// Load, check and generate; `Err` with the diagnostics when the checker rejects the source.
fn compile(src: &str) -> Result<Compiled, String> {
    let loaded = load_sources(files(src));
    let checked = check(&loaded);
    let Some(bundle) = checked.bundle else {
        let msgs: Vec<String> = checked
            .diagnostics
            .iter()
            .filter(|d| d.is_error())
            .map(|d| format!("{} {}", d.code.as_str(), d.message))
            .collect();
        return Err(msgs.join("\n"));
    };
    let program = codegen::generate(&bundle, &loaded).expect("codegen");
    Ok(Compiled { ir: bundle, program })
}

fn compile_ok(src: &str) -> Compiled {
    match compile(src) {
        Ok(c) => c,
        Err(e) => panic!("policy does not check:\n{e}\n{src}"),
    }
}

fn convert(program: &Program, json: &str) -> Request {
    convert_str(&program.schema, json, NOW, &Limits::default()).expect("valid request")
}

/// Both deciders on one request; panics with everything needed to reproduce on disagreement.
fn both(src: &str, json: &str) -> (Decision, Decision) {
    let c = compile_ok(src);
    let engine = Engine::from_program(c.program.clone(), HASH).expect("engine");
    let req = engine.convert(json, NOW).expect("valid request");
    // The interpreter has no span table: it names the rule that failed, not the expression.
    (engine.decide(&req).without_error_location(), interpret::decide(&c.ir, &req, HASH))
}

fn assert_agree(src: &str, json: &str) -> Decision {
    let (vm, interp) = both(src, json);
    assert_eq!(vm, interp, "VM and interpreter disagree\npolicy:\n{src}\nrequest: {json}");
    interp
}

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

fn interp_only(src: &str, json: &str) -> Decision {
    let c = compile_ok(src);
    let req = convert(&c.program, json);
    interpret::decide(&c.ir, &req, HASH)
}

#[test]
fn credential_rotation_without_evidence_defers() {
    let d = interp_only(CREDENTIALS, &rotate(""));
    assert_eq!(d.decision, Effect::Defer);
    assert_eq!(d.rule.as_deref(), Some("credentials.rotation_outside_window"));
    assert_eq!(d.reason.code, "evidence.required");
    assert_eq!(d.reason.message, "waiting for evidence: maintenance_window_active");
    let defer = d.defer.expect("defer obligation");
    let names: Vec<&str> = defer.need.iter().map(|n| n.name.as_str()).collect();
    assert_eq!(names, ["maintenance_window_active"]);
    assert_eq!(defer.need[0].ty, "Bool");
    assert_eq!(defer.need[0].source, "maintenance_api");
    assert_eq!(defer.timeout_s, 600);
    assert_eq!(defer.max_attempts, 3);
    assert_eq!(d.policy.name, "credentials");
    assert_eq!(d.policy.bundle_hash, HASH);
}

#[test]
fn credential_rotation_outside_window_denies() {
    let d = interp_only(CREDENTIALS, &rotate(r#""maintenance_window_active": false"#));
    assert_eq!(d.decision, Effect::Deny);
    assert_eq!(d.rule.as_deref(), Some("credentials.rotation_outside_window"));
    assert_eq!(d.reason.code, "creds.outside_window");
    assert_eq!(d.reason.message, "Credential rotation outside an approved maintenance window");
}

#[test]
fn credential_rotation_inside_window_allows() {
    let d = interp_only(CREDENTIALS, &rotate(r#""maintenance_window_active": true"#));
    assert_eq!(d.decision, Effect::Allow);
    assert_eq!(d.rule.as_deref(), Some("credentials.rotation_in_window"));
    assert_eq!(d.reason.code, "rule.rotation_in_window");
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
    assert_eq!(d.reason.code, "default.deny");
    assert_eq!(d.policy.name, "credentials");
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
    assert_eq!(d.reason.code, "confidence.low");
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
    assert_eq!((d.decision, d.reason.code.as_str()), (Effect::Deny, "w.heavy"));
    let src = src.replace("heavy({ w: 1, n: 2 })", "heavy({ w: 1, n: 3 })");
    let d = assert_agree(&src, r#"{"action": {"tool": "t", "params": {"n": 3}}}"#);
    assert_eq!((d.decision, d.reason.code.as_str()), (Effect::Deny, "w.heaviest"));
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
    assert_eq!(d.reason.code, "eval.error");
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
    assert_eq!(d.reason.code, "data.classification_stale");
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
    assert_eq!(d.reason.code, "evidence.required");
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
    assert_eq!((d.decision, d.rule.as_deref(), d.reason.code.as_str()), (Effect::Defer, Some("n.ask"), "ask.a"));
    assert_eq!(d.reason.message, "need a for 1");
    let defer = d.defer.expect("defer");
    let names: Vec<&str> = defer.need.iter().map(|n| n.name.as_str()).collect();
    assert_eq!((names, defer.timeout_s), (vec!["a", "b"], 120));
    // `ask` is false: not the evidence's rule; the first unknown rule defers.
    let d = assert_agree(src, &req(r#""a": 0"#));
    assert_eq!(
        (d.decision, d.rule.as_deref(), d.reason.code.as_str()),
        (Effect::Defer, Some("n.other"), "evidence.required")
    );
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
// Generators: policies

const SCHEMA: &str = r#"
tool pay { amount: Decimal, count: Int, currency: String, memo: String?, tags: List<String>, urgent: Bool, limit: Int? }
tool mail { to: List<String>, subject: String, count: Int, urgent: Bool }
tool wipe { name: String }

context { env: String, level: Int? }

evidence ok: Bool from "ok_api"
evidence score: Int from "scorer"
evidence label: String
evidence flag: Bool from "flags"
evidence seen: List<String> from "history"
evidence rate: Decimal

group admins = ["a@x", "b@x", "c@x"]

fn is_big(n: Int) -> Bool = n > 100
fn has(xs: List<String>, s: String) -> Bool = any x in xs: x == s
fn both_ok(b: Bool, n: Int) -> Bool = b and n != 0
fn double(n: Int) -> Int = n * 2
fn longer(xs: List<String>, n: Int) -> Bool = any x in xs: x.len() > n and not is_big(n)
fn tally(xs: List<String>, ys: List<String>) -> Int = count x in xs: (any y in ys: y == x)
fn opt_pos(n: Int?) -> Bool = n is set and n > 0
"#;

/// Which `params` a rule sees.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Scope {
    Pay,
    Mail,
    /// `on pay, mail`: the shared fields `count` and `urgent`.
    Both,
    /// `on *`: no `params`.
    Any,
}

impl Scope {
    fn targets(self) -> &'static str {
        match self {
            Scope::Pay => "pay",
            Scope::Mail => "mail",
            Scope::Both => "pay, mail",
            Scope::Any => "*",
        }
    }
}

type S = BoxedStrategy<String>;

fn pick(options: &[&'static str]) -> S {
    proptest::sample::select(options.to_vec()).prop_map(str::to_string).boxed()
}

/// Expression strategies of one depth, by type.
#[derive(Clone)]
struct Fam {
    b: S,
    i: S,
    d: S,
    s: S,
    /// Lists and sets.
    ls: S,
    /// Lists only (a `Set` is not a `List` argument).
    l: S,
}

fn leaves(scope: Scope) -> Fam {
    let mut b = vec![
        "true",
        "false",
        "evidence.ok",
        "evidence.flag",
        "evidence.ok is set",
        "evidence.score is not set",
        "context.level is not set",
        "not evidence.seen is set",
        "(context.semantic_distance is set and context.semantic_distance > 0.5)",
        "context.now - 1h < context.now",
        "(context.now - (context.now - 1d)).seconds() > 86399",
    ];
    let mut i = vec![
        "0",
        "1",
        "2",
        "-1",
        "7",
        "9223372036854775807",
        "evidence.score",
        "context.now.hour()",
        "identity.roles.len()",
        "context.now.minute()",
        "context.now.weekday()",
        "evidence.seen.len()",
        "context.prior_actions.len()",
    ];
    let mut d = vec![
        "0.5",
        "12.25",
        "1000",
        "0.0001",
        "900000000000000.0",
        "evidence.rate",
        "-0.3333",
        "922337203685477.5807",
        "0.000000000000000001",
        "1.000000000000000001",
        "-0.333333333333333333",
        "99999999999999999999.999999999999999999",
        "12345678901.123456789012345678",
    ];
    let mut s = vec![
        r#""a""#,
        r#""ab""#,
        r#""A""#,
        r#""""#,
        r#"" a ""#,
        r#""USD""#,
        "identity.human",
        "context.env",
        "evidence.label",
        "action.tool",
        "action.operation",
        r#""10.1.2.3""#,
        r#""+05:30""#,
        // An error when there is no prior action.
        "context.prior_actions.at(-1).tool",
    ];
    let mut ls = vec![r#"["a", "b"]"#, "identity.roles", "context.data_classes", "admins", "evidence.seen"];
    let mut l = vec![r#"["a", "b"]"#, "evidence.seen", r#"["b", "x", "a@x"]"#];
    match scope {
        Scope::Pay => {
            b.extend(["params.urgent", "params.memo is set", "params.limit is not set"]);
            i.extend(["params.count", "params.tags.len()", "params.currency.len()"]);
            d.extend(["params.amount", "params.amount"]);
            s.extend(["params.currency", "params.currency"]);
            ls.extend(["params.tags", "params.tags"]);
            l.extend(["params.tags", "params.tags"]);
        }
        Scope::Mail => {
            b.push("params.urgent");
            i.extend(["params.count", "params.to.len()", "params.subject.len()"]);
            s.extend(["params.subject", "params.subject"]);
            ls.extend(["params.to", "params.to"]);
            l.extend(["params.to", "params.to"]);
        }
        Scope::Both => {
            b.push("params.urgent");
            i.extend(["params.count", "params.count"]);
        }
        Scope::Any => {}
    }
    Fam { b: pick(&b), i: pick(&i), d: pick(&d), s: pick(&s), ls: pick(&ls), l: pick(&l) }
}

/// A quantifier or lambda body over the string variable `v`.
fn body(v: &str, f: &Fam) -> S {
    let v = v.to_string();
    let (v1, v2, v3, v4, v5, v6, v7) = (v.clone(), v.clone(), v.clone(), v.clone(), v.clone(), v.clone(), v.clone());
    let (v8, v9) = (v.clone(), v.clone());
    prop_oneof![
        f.ls.clone().prop_map(move |xs| format!("(any w_{v8} in {xs}: w_{v8} == {v8})")),
        f.ls.clone().prop_map(move |xs| format!("(count w_{v9} in {xs}: w_{v9} < {v9}) > 1")),
        Just(format!(r#"{v}.starts_with("a")"#)),
        f.s.clone().prop_map(move |s| format!("{v1} == {s}")),
        Just(format!("{v2} in admins")),
        f.i.clone().prop_map(move |i| format!("{v3}.len() > {i}")),
        Just(format!("{v4} == evidence.label")),
        f.b.clone().prop_map(move |b| format!(r#"({b} and {v5} != "b")"#)),
        f.b.clone().prop_map(move |b| format!(r#"({b} or {v6}.contains("a"))"#)),
        Just(format!("{v7}.upper() == \"AB\"")),
    ]
    .boxed()
}

fn step(scope: Scope, f: &Fam, depth: u32) -> Fam {
    let v = format!("q{depth}");
    let leaf = leaves(scope);
    let bd = body(&v, f);
    let (b, i, d, s, ls, l) = (f.b.clone(), f.i.clone(), f.d.clone(), f.s.clone(), f.ls.clone(), f.l.clone());
    let arith = pick(&["+", "-", "*", "/"]);
    let cmp = pick(&["==", "!=", "<", "<=", ">", ">="]);

    // Separators for `split`, blocks for `in_cidr`, offsets for `utc_offset`, zones for
    // `offset_in`, URLs for the `url_*` methods: valid and invalid inputs both frequent (the
    // request's strings are mostly invalid). A literal that a method parses is read at compile
    // time (E0211), so an invalid one is built at run time (`"…" + "…"`), and so is any generated
    // string (`runtime`) that may be a literal.
    let sep = pick(&[r#"",""#, r#""a""#, r#""""#, r#""@""#, r#"".""#]);
    let block = pick(&[
        r#""10.0.0.0/8""#,
        r#""0.0.0.0/0""#,
        r#""10.1.2.3/32""#,
        r#""fc00::/7""#,
        r#"("10.1.2.0/3" + "3")"#,
        "identity.human",
    ]);
    let offset = pick(&[r#""+05:30""#, r#""-08:00""#, r#""Z""#, r#""UTC+2""#, r#"("+24:0" + "0")"#, "context.env"]);
    let zone = pick(&[
        r#""Europe/Paris""#,
        r#""America/New_York""#,
        r#""+05:30""#,
        r#""Z""#,
        r#"("Europe/Pari" + "")"#,
        "context.env",
    ]);
    let url = pick(&[
        r#""https://evil.example\\@github.com/x?q=1""#,
        r#""https://User@API.Example.com:8443/a/../b?x#f""#,
        r#""http://[::1]/""#,
        r#"("foo://h/" + "p")"#,
        r#"("mailto:" + "a@b")"#,
        r#"("github.com/" + "x")"#,
        "context.env",
    ]);
    let runtime = |x: String| format!("({x} + \"\")");
    let int = prop_oneof![
        4 => leaf.i.clone(),
        1 => (l.clone(), s.clone()).prop_map(|(xs, a)| format!("{xs}.index_of({a})")),
        1 => (s.clone(), sep.clone()).prop_map(|(a, p)| format!("({a}).split({p}).len()")),
        1 => prop_oneof![offset, s.clone().prop_map(runtime)].prop_map(|o| format!("(context.now + ({o}).utc_offset()).hour()")),
        1 => prop_oneof![zone, s.clone().prop_map(runtime)].prop_map(|z| format!("(context.now + context.now.offset_in({z})).hour()")),
        1 => prop_oneof![url.clone(), s.clone().prop_map(runtime)].prop_map(|u| format!("({u}).url_port()")),
        3 => (i.clone(), arith.clone(), i.clone()).prop_map(|(a, op, b)| format!("({a} {op} {b})")),
        1 => i.clone().prop_map(|a| format!("(-{a})")),
        1 => (ls.clone(), bd.clone()).prop_map({ let v = v.clone(); move |(xs, p)| format!("(count {v} in {xs}: {p})") }),
        1 => i.clone().prop_map(|a| format!("double({a})")),
        1 => (s.clone(), s.clone(), l.clone()).prop_map(|(a, b, ys)| format!("tally([{a}, {b}], {ys})")),
    ]
    .boxed();
    let dec = prop_oneof![
        4 => leaf.d.clone(),
        3 => (d.clone(), arith.clone(), d.clone()).prop_map(|(a, op, b)| format!("({a} {op} {b})")),
        2 => (d.clone(), arith.clone(), i.clone()).prop_map(|(a, op, b)| format!("({a} {op} {b})")),
        1 => d.clone().prop_map(|a| format!("(-{a})")),
    ]
    .boxed();
    // Small indices, mostly in range, and any integer.
    let index = prop_oneof![3 => pick(&["0", "1", "-1", "-2"]), 1 => i.clone()];
    let string = prop_oneof![
        4 => leaf.s.clone(),
        1 => (s.clone(), sep.clone(), index.clone()).prop_map(|(a, p, n)| format!("({a}).split({p}).at({n})")),
        1 => (l.clone(), index).prop_map(|(xs, n)| format!("{xs}.at({n})")),
        2 => (s.clone(), s.clone()).prop_map(|(a, b)| format!("({a} + {b})")),
        1 => (s.clone(), pick(&["lower", "upper", "trim"])).prop_map(|(a, m)| format!("({a}).{m}()")),
        1 => (prop_oneof![url, s.clone().prop_map(runtime)], pick(&["url_scheme", "url_host", "url_path", "url_query"]))
            .prop_map(|(u, m)| format!("({u}).{m}()")),
    ]
    .boxed();
    let list = prop_oneof![
        4 => leaf.ls.clone(),
        1 => (ls.clone(), bd.clone()).prop_map({ let v = v.clone(); move |(xs, p)| format!("{xs}.filter({v} => {p})") }),
        1 => (s.clone(), s.clone()).prop_map(|(a, b)| format!("[{a}, {b}]")),
    ]
    .boxed();
    let mut bools: Vec<(u32, S)> = vec![
        (4, leaf.b.clone()),
        (3, (i.clone(), cmp.clone(), i.clone()).prop_map(|(a, op, b)| format!("{a} {op} {b}")).boxed()),
        (2, (d.clone(), cmp.clone(), i.clone()).prop_map(|(a, op, b)| format!("{a} {op} {b}")).boxed()),
        (1, (d.clone(), cmp.clone(), d.clone()).prop_map(|(a, op, b)| format!("{a} {op} {b}")).boxed()),
        (2, (s.clone(), cmp.clone(), s.clone()).prop_map(|(a, op, b)| format!("{a} {op} {b}")).boxed()),
        (1, (b.clone(), b.clone()).prop_map(|(a, c)| format!("({a}) == ({c})")).boxed()),
        (2, (s.clone(), ls.clone()).prop_map(|(a, xs)| format!("{a} in {xs}")).boxed()),
        (2, b.clone().prop_map(|a| format!("not ({a})")).boxed()),
        (3, (b.clone(), b.clone()).prop_map(|(a, c)| format!("({a} and {c})")).boxed()),
        (3, (b.clone(), b.clone()).prop_map(|(a, c)| format!("({a} or {c})")).boxed()),
        (1, (b.clone(), b.clone(), b.clone()).prop_map(|(a, c, e)| format!("({a} and {c} or {e})")).boxed()),
        (
            2,
            (pick(&["any", "all"]), ls.clone(), bd.clone())
                .prop_map({
                    let v = v.clone();
                    move |(q, xs, p)| format!("({q} {v} in {xs}: {p})")
                })
                .boxed(),
        ),
        (1, (ls.clone(), s.clone()).prop_map(|(xs, a)| format!("{xs}.contains({a})")).boxed()),
        (
            1,
            (
                prop_oneof![
                    s.clone().prop_map(runtime),
                    pick(&[
                        r#""10.1.2.3""#,
                        r#""10.9.9.9""#,
                        r#""fd00::1""#,
                        r#""::ffff:10.0.0.1""#,
                        r#"("256.0.0." + "1")"#
                    ])
                ],
                block,
            )
                .prop_map(|(a, b)| format!("({a}).in_cidr({b})"))
                .boxed(),
        ),
        (1, s.clone().prop_map(|a| format!("({a}).is_ip()")).boxed()),
        (
            1,
            (ls.clone(), pick(&["contains_any", "contains_all"]), ls.clone())
                .prop_map(|(xs, m, ys)| format!("{xs}.{m}({ys})"))
                .boxed(),
        ),
        (
            2,
            (s.clone(), pick(&["starts_with", "ends_with", "contains"]), s.clone())
                .prop_map(|(a, m, c)| format!("({a}).{m}({c})"))
                .boxed(),
        ),
        (
            1,
            (s.clone(), pick(&[r#"matches("^a+b?$")"#, r#"matches("(?i)usd")"#, r#"glob("a*")"#, r#"glob("?b")"#]))
                .prop_map(|(a, m)| format!("({a}).{m}"))
                .boxed(),
        ),
        (1, i.clone().prop_map(|a| format!("is_big({a})")).boxed()),
        // `has` takes a `List` (a `Set` argument is E0200): a list literal.
        (1, (s.clone(), s.clone(), s.clone()).prop_map(|(x, y, a)| format!("has([{x}, {y}], {a})")).boxed()),
        (1, (b.clone(), i.clone()).prop_map(|(a, n)| format!("both_ok({a}, {n})")).boxed()),
        (1, i.clone().prop_map(|n| format!("(context.level is set and context.level * {n} > 3)")).boxed()),
        (1, (d.clone(), i.clone()).prop_map(|(x, n)| format!("{x} in [1, 2.5, {n}]")).boxed()),
        (
            1,
            (s.clone(), i.clone())
                .prop_map({
                    let v = v.clone();
                    move |(a, n)| {
                        format!("(any p_{v} in context.prior_actions: p_{v}.tool == {a} or p_{v}.decision.len() > {n})")
                    }
                })
                .boxed(),
        ),
        (1, (l.clone(), i.clone()).prop_map(|(xs, n)| format!("longer({xs}, {n})")).boxed()),
        (1, i.clone().prop_map(|n| format!("({n} * 1h).seconds() > 3600")).boxed()),
        (1, (b.clone(), i.clone()).prop_map(|(a, n)| format!("not ({a} or {n} > 0)")).boxed()),
        (1, i.clone().prop_map(|n| format!("opt_pos({n})")).boxed()),
        (1, i.clone().prop_map(|n| format!("(1h / {n}).seconds() > 60")).boxed()),
        (1, i.clone().prop_map(|n| format!("(context.now + {n} * 1m).hour() > 3")).boxed()),
        (1, i.clone().prop_map(|n| format!("1h + {n} * 30m - 1s >= 90m")).boxed()),
        // `[]` (not as a method receiver: `[].contains("a")` is E0200, the element type of `[]`
        // does not unify with `String` there).
        (1, (s.clone(), i.clone()).prop_map(|(a, n)| format!("({a} in [] or [].len() == {n})")).boxed()),
        // Records: literals, field access, membership in `context.prior_actions`.
        (
            1,
            (s.clone(), s.clone())
                .prop_map(|(a, c)| format!("{{ tool: {a}, decision: {c} }} in context.prior_actions"))
                .boxed(),
        ),
        (1, (i.clone(), s.clone(), s.clone()).prop_map(|(n, a, c)| format!("{{ n: {n}, s: {a} }}.s == {c}")).boxed()),
        (1, (l.clone(), s.clone(), s.clone()).prop_map(|(xs, a, c)| format!("{xs} == [{a}, {c}]")).boxed()),
    ];
    if scope == Scope::Pay {
        bools.push((2, s.clone().prop_map(|a| format!("(params.memo is set and params.memo.contains({a}))")).boxed()));
        bools.push((1, s.clone().prop_map(|a| format!("(params.memo is not set or params.memo == {a})")).boxed()));
        bools.push((1, i.clone().prop_map(|n| format!("(params.limit is set and params.limit > {n})")).boxed()));
    }
    let boolean = proptest::strategy::Union::new_weighted(bools).boxed();
    let list_only = prop_oneof![
        3 => leaf.l.clone(),
        1 => (s.clone(), sep).prop_map(|(a, p)| format!("({a}).split({p})")),
        1 => (l.clone(), bd.clone()).prop_map({ let v = v.clone(); move |(xs, p)| format!("{xs}.filter({v} => {p})") }),
    ]
    .boxed();
    Fam { b: boolean, i: int, d: dec, s: string, ls: list, l: list_only }
}

fn family(scope: Scope, depth: u32) -> Fam {
    let mut f = leaves(scope);
    for d in 1..=depth {
        f = step(scope, &f, d);
    }
    f
}

/// Reason interpolations: no string literals allowed inside `{}`.
fn interpolation(scope: Scope) -> S {
    let mut parts = vec![
        "evidence.score",
        "evidence.label",
        "evidence.ok",
        "identity.human",
        "context.env",
        "action.tool",
        "evidence.score * 1000000000000000",
        "100 / evidence.score",
        "identity.roles",
        "context.now",
        "context.level is set",
        "evidence.seen",
        "evidence.rate",
        "count x in identity.roles: x in admins",
        "evidence.seen.filter(x => x in admins)",
        "context.now - 90m",
        "context.now - (context.now - 1h)",
    ];
    match scope {
        Scope::Pay => parts.extend([
            "params.amount",
            "params.tags",
            "params.count + 1",
            "params.amount * params.count",
            "params.tags.filter(t => t == evidence.label)",
            "params.amount / evidence.rate",
        ]),
        Scope::Mail => parts.extend(["params.to", "params.subject"]),
        Scope::Both => parts.extend(["params.count", "params.urgent"]),
        Scope::Any => {}
    }
    pick(&parts)
}

fn decision(scope: Scope, f: &Fam) -> S {
    let simple = prop_oneof![
        Just("allow".to_string()),
        Just("deny".to_string()),
        pick(&[
            "step_up { approvers 1 of admins }",
            r#"step_up { approvers 2 of ["a@x", "b@x"] timeout 30m -> deny risk high }"#,
            r#"step_up { approvers 1 of role "sec" timeout 10m -> step_up { approvers 1 of admins } escalate after 5m to ["boss@x"] notify "slack:#x" no veto }"#,
        ]),
        pick(&[
            "defer { need ok }",
            "defer { need score, label timeout 5m -> deny attempts 2 -> cancel }",
            "defer { }"
        ]),
    ];
    let (i, b, s, d) = (f.i.clone(), f.b.clone(), f.s.clone(), f.d.clone());
    let modify: S = match scope {
        Scope::Any => return simple.boxed(),
        Scope::Pay => prop_oneof![
            s.clone().prop_map(|s| format!("modify {{ params.currency = {s} }}")),
            s.clone().prop_map(|s| format!("modify {{ params.memo = {s} }}")),
            Just(r#"modify { params.tags = params.tags.filter(x => x != "a") }"#.to_string()),
            Just(
                r#"modify { params.tags = params.tags.filter(x => x != evidence.label); params.memo = "m" }"#
                    .to_string()
            ),
            Just(r#"modify { params.memo = params.memo; params.limit = params.count }"#.to_string()),
            Just(r#"modify { params.amount = params.amount * evidence.rate }"#.to_string()),
            d.prop_map(|d| format!("modify {{ params.amount = {d} }}")),
            (i.clone(), b.clone()).prop_map(|(i, b)| format!("modify {{ params.count = {i}; params.urgent = {b} }}")),
        ]
        .boxed(),
        Scope::Mail => prop_oneof![
            Just(r#"modify { params.subject = "[r] " + params.subject }"#.to_string()),
            s.prop_map(|s| format!("modify {{ params.to = params.to.filter(x => x != {s}) }}")),
            i.clone().prop_map(|i| format!("modify {{ params.count = {i} }}")),
        ]
        .boxed(),
        Scope::Both => {
            (i, b).prop_map(|(i, b)| format!("modify {{ params.urgent = {b}; params.count = {i} }}")).boxed()
        }
    };
    prop_oneof![4 => simple, 1 => modify].boxed()
}

/// Nesting depth of generated conditions (`DIFF_DEPTH`, default 3).
fn depth() -> u32 {
    std::env::var("DIFF_DEPTH").ok().and_then(|s| s.parse().ok()).unwrap_or(3)
}

/// Leaf tests of one parameter or role against a constant: the conditions the engine fuses and
/// runs as plans (`runtime/src/fuse.rs`, `plan.rs`), so that path meets the interpreter too.
fn straight_leaf(scope: Scope) -> S {
    let mut leaves = vec![
        r#""admin" in identity.roles"#,
        r#""dev" in identity.roles"#,
        r#"not ("a" in identity.roles)"#,
        "identity.human in admins",
        "not (identity.agent in admins)",
    ];
    match scope {
        Scope::Pay => leaves.extend([
            "params.count > 3",
            "params.count == 7",
            "params.count <= 2",
            "not (params.count < 0)",
            r#"params.currency == "USD""#,
            r#"params.currency != "EUR""#,
            r#"params.currency.starts_with("U")"#,
            r#"params.currency.ends_with("D")"#,
            r#"params.currency.contains("S")"#,
            r#"params.currency.glob("U*")"#,
            r#"params.currency in ["USD", "GBP"]"#,
            r#""a" in params.tags"#,
            r#"params.tags.contains("b")"#,
            r#"params.tags.contains_any(["a", "x"])"#,
            "params.amount > 12.25",
            "params.urgent == true",
            "params.currency in admins",
        ]),
        Scope::Mail => leaves.extend([
            r#"params.subject.starts_with("a")"#,
            r#"params.subject == "ab""#,
            r#"not params.subject.contains("b")"#,
            r#""a@x" in params.to"#,
            r#"params.to.contains_all(["a"])"#,
            "params.count >= 1",
            "params.subject in admins",
        ]),
        Scope::Both => leaves.extend(["params.count > 1", "params.urgent == false"]),
        Scope::Any => {}
    }
    pick(&leaves)
}

/// `when` lines that are straight-line: leaves (and-ed as lines), or one `or` of leaves.
fn straight_whens(scope: Scope) -> BoxedStrategy<Vec<String>> {
    prop_oneof![
        proptest::collection::vec(straight_leaf(scope), 1..4),
        proptest::collection::vec(straight_leaf(scope), 2..4).prop_map(|xs| vec![xs.join(" or ")]),
    ]
    .boxed()
}

fn rule(index: usize, scope: Scope) -> S {
    let f = family(scope, depth());
    let shallow = family(scope, 1);
    let whens = prop_oneof![3 => proptest::collection::vec(f.b.clone(), 0..3), 1 => straight_whens(scope)];
    let priority = proptest::option::of(-1i64..3);
    let risk = proptest::option::of(pick(&["low", "high", "critical"]));
    let confidence = proptest::option::of(pick(&["0.3", "0.6", "0.9"]));
    let reason =
        proptest::option::of((pick(&["", "value ", "x "]), proptest::collection::vec(interpolation(scope), 0..3)));
    (whens, priority, risk, confidence, decision(scope, &shallow), reason)
        .prop_map(move |(whens, priority, risk, confidence, decision, reason)| {
            let mut out = format!("rule r{index} on {}", scope.targets());
            if let Some(p) = priority {
                out.push_str(&format!(" priority {p}"));
            }
            out.push_str(" {\n");
            for w in whens {
                out.push_str(&format!("  when {w}\n"));
            }
            if let Some(r) = risk {
                out.push_str(&format!("  risk {r}\n"));
            }
            if let Some(c) = confidence {
                out.push_str(&format!("  confidence {c}\n"));
            }
            out.push_str(&format!("  {decision}\n"));
            if let Some((text, parts)) = reason {
                let mut msg = text.to_string();
                for p in parts {
                    msg.push_str(&format!("{{{p}}} / "));
                }
                out.push_str(&format!("  reason \"code.r{index}\" \"{msg}\"\n"));
            }
            out.push_str("}\n");
            out
        })
        .boxed()
}

fn scope() -> impl Strategy<Value = Scope> {
    prop_oneof![4 => Just(Scope::Pay), 3 => Just(Scope::Mail), 2 => Just(Scope::Both), 2 => Just(Scope::Any)]
}

fn settings() -> S {
    (
        proptest::bool::weighted(0.2),
        proptest::bool::weighted(0.3),
        proptest::option::weighted(0.3, pick(&["0.5", "0.6", "0.7"])),
        proptest::bool::weighted(0.2),
    )
        .prop_map(|(allow, conflict, min, limits)| {
            let mut lines = Vec::new();
            if allow {
                lines.push("default allow".to_string());
            }
            if conflict {
                lines.push("conflict defer".to_string());
            }
            if let Some(m) = min {
                lines.push(format!("min_confidence {m}"));
            }
            if limits {
                lines.push("defer timeout 2m -> deny, attempts 5 -> cancel".to_string());
                lines.push("step_up timeout 2h -> deny".to_string());
            }
            if lines.is_empty() {
                String::new()
            } else {
                format!("settings {{\n  {}\n}}\n", lines.join("\n  "))
            }
        })
        .boxed()
}

/// One file, or (sometimes) two files of two policies, the second sorting before or after the
/// first: rule order and the default policy follow file path order.
fn policy() -> S {
    let split = proptest::option::weighted(0.3, (0usize..7, pick(&["0.aarm", "b.aarm"])));
    (settings(), proptest::collection::vec(scope(), 1..8), split)
        .prop_flat_map(|(settings, scopes, split)| {
            let rules: Vec<S> = scopes.iter().enumerate().map(|(i, s)| rule(i, *s)).collect();
            rules.prop_map(move |rules| {
                let head = format!("policy p version \"1\"\n{settings}{SCHEMA}\n");
                match &split {
                    None => format!("{head}{}", rules.join("\n")),
                    Some((at, other)) => {
                        let at = (*at).min(rules.len());
                        format!(
                            "{FILE_MARK}a.aarm\n{head}{}{FILE_MARK}{other}\npolicy q version \"2\"\n{}",
                            rules[..at].join("\n"),
                            rules[at..].join("\n")
                        )
                    }
                }
            })
        })
        .boxed()
}

// ---------------------------------------------------------------------------------------------
// Generators: requests

fn json_list(items: &[&str]) -> String {
    let quoted: Vec<String> = items.iter().map(|s| format!("\"{s}\"")).collect();
    format!("[{}]", quoted.join(", "))
}

fn str_value() -> S {
    pick(&["a", "ab", "b", "A", "", " a ", "USD", "usd", "x", "a@x", "É"]).prop_map(|s| format!("\"{s}\"")).boxed()
}

fn str_list() -> S {
    proptest::collection::vec(pick(&["a", "b", "ab", "x", "a@x", "c@x"]), 0..4)
        .prop_map(|v| json_list(&v.iter().map(String::as_str).collect::<Vec<_>>()))
        .boxed()
}

fn int_value() -> S {
    prop_oneof![
        6 => (-2i64..6).prop_map(|i| i.to_string()),
        1 => pick(&["9223372036854775807", "-9223372036854775808", "101", "1000000"]),
    ]
    .boxed()
}

fn dec_value() -> S {
    pick(&[
        "0",
        "12.5",
        "-3.25",
        "99999.9999",
        "5000",
        "0.0001",
        "922337203685477",
        "1",
        // All 18 fractional digits, and the range's edges (as strings: a JSON number's double
        // would lose digits, and the reader refuses it).
        r#""0.000000000000000001""#,
        r#""1.000000000000000001""#,
        r#""-0.333333333333333333""#,
        r#""1.234567890123456789""#,
        r#""99999999999999999999.999999999999999999""#,
        r#""-99999999999999999999.999999999999999999""#,
        r#""9223372036854775807.5""#,
    ])
}

fn bool_value() -> S {
    pick(&["true", "false"])
}

/// A `"key": value` entry, sometimes left out.
fn maybe(key: &'static str, value: S, present: f64) -> S {
    proptest::option::weighted(present, value)
        .prop_map(move |v| v.map(|v| format!("\"{key}\": {v}")).unwrap_or_default())
        .boxed()
}

fn object(entries: Vec<String>) -> String {
    let kept: Vec<String> = entries.into_iter().filter(|e| !e.is_empty()).collect();
    format!("{{{}}}", kept.join(", "))
}

fn params(tool: &'static str) -> S {
    match tool {
        "pay" => (
            maybe("amount", dec_value(), 0.98),
            maybe("count", int_value(), 0.98),
            maybe("currency", str_value(), 0.98),
            maybe("memo", prop_oneof![str_value(), Just("null".to_string())].boxed(), 0.5),
            maybe("tags", str_list(), 0.98),
            maybe("urgent", bool_value(), 0.98),
            maybe("limit", int_value(), 0.5),
        )
            .prop_map(|(a, b, c, d, e, f, g)| object(vec![a, b, c, d, e, f, g]))
            .boxed(),
        "mail" => (
            maybe("to", str_list(), 0.98),
            maybe("subject", str_value(), 0.98),
            maybe("count", int_value(), 0.98),
            maybe("urgent", bool_value(), 0.98),
        )
            .prop_map(|(a, b, c, d)| object(vec![a, b, c, d]))
            .boxed(),
        "wipe" => maybe("name", str_value(), 0.98).prop_map(|a| object(vec![a])).boxed(),
        _ => pick(&["{}", r#"{"x": 1}"#]),
    }
}

fn request() -> S {
    let tool = pick(&["pay", "pay", "mail", "mail", "wipe", "other"]);
    let action = (tool, pick(&["", "run"]))
        .prop_flat_map(|(tool, op)| {
            let tool: &'static str = match tool.as_str() {
                "pay" => "pay",
                "mail" => "mail",
                "wipe" => "wipe",
                _ => "other",
            };
            params(tool).prop_map(move |p| format!(r#"{{"tool": "{tool}", "operation": "{op}", "params": {p}}}"#))
        })
        .boxed();
    let identity = (pick(&["a@x", "z@y", ""]), str_list())
        .prop_map(|(h, r)| format!(r#"{{"human": "{h}", "roles": {r}}}"#))
        .boxed();
    let context = (
        maybe("env", str_value(), 0.98),
        maybe("level", int_value(), 0.5),
        maybe("data_classes", str_list(), 0.5),
        maybe(
            "now",
            pick(&[r#""2026-11-24T10:30:00Z""#, r#""2026-11-29T23:59:59Z""#, r#""1970-01-01T00:00:00Z""#]),
            0.7,
        ),
        maybe("semantic_distance", dec_value(), 0.3),
        maybe(
            "prior_actions",
            pick(&[
                "[]",
                r#"[{"tool": "pay", "decision": "allow"}]"#,
                r#"[{"tool": "a", "decision": "deny"}, {"tool": "mail", "decision": "x"}]"#,
            ]),
            0.4,
        ),
    )
        .prop_map(|(a, b, c, d, e, f)| object(vec![a, b, c, d, e, f]))
        .boxed();
    let evidence = (
        maybe("ok", bool_value(), 0.5),
        maybe("score", int_value(), 0.5),
        maybe("label", str_value(), 0.5),
        maybe("flag", bool_value(), 0.5),
        maybe("seen", str_list(), 0.5),
        maybe("rate", dec_value(), 0.5),
    )
        .prop_map(|(a, b, c, d, e, f)| object(vec![a, b, c, d, e, f]))
        .boxed();
    (action, identity, context, evidence)
        .prop_map(|(a, i, c, e)| format!(r#"{{"action": {a}, "identity": {i}, "context": {c}, "evidence": {e}}}"#))
        .boxed()
}

// ---------------------------------------------------------------------------------------------
// The differential property

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
    codes: std::cell::RefCell<std::collections::BTreeMap<String, usize>>,
}

fn bump(c: &Cell<usize>) {
    c.set(c.get() + 1);
}

fn run_case(src: &str, requests: &[String], stats: &Stats) -> Result<(), TestCaseError> {
    bump(&stats.cases);
    let compiled = match compile(src) {
        Ok(c) => c,
        Err(e) => {
            bump(&stats.rejected);
            if std::env::var_os("DIFF_VERBOSE").is_some() {
                eprintln!("rejected:\n{e}\n{src}\n");
            }
            return Ok(());
        }
    };
    let engine = Engine::from_program(compiled.program.clone(), HASH)
        .map_err(|e| TestCaseError::fail(format!("engine: {e}\n{src}")))?;
    // The same bundle with load-time fusion and plans off: both must decide alike as well.
    let unfused = Engine::from_program(compiled.program.clone(), HASH)
        .map_err(|e| TestCaseError::fail(format!("engine: {e}\n{src}")))?
        .unfused();
    // And without the rule index alone.
    let unindexed = Engine::from_program(compiled.program.clone(), HASH)
        .map_err(|e| TestCaseError::fail(format!("engine: {e}\n{src}")))?
        .unindexed();
    if engine.planned_chunks() > 0 {
        bump(&stats.planned);
    }
    if engine.indexed_tools() > 0 {
        bump(&stats.indexed);
    }
    for json in requests {
        let req = match engine.convert(json, NOW) {
            Ok(r) => r,
            Err(_) => {
                bump(&stats.invalid_requests);
                continue;
            }
        };
        bump(&stats.requests);
        let vm = engine.decide(&req);
        let reference = interpret::decide(&compiled.ir, &req, HASH);
        let code = if reference.reason.code.starts_with("code.r") || reference.reason.code.starts_with("rule.r") {
            "(rule)".to_string()
        } else if reference.reason.code == "eval.error" {
            let why = reference.reason.message.split_once(" failed: ").map(|(_, w)| w).unwrap_or("");
            format!("eval.error: {why}")
        } else {
            reference.reason.code.clone()
        };
        *stats.codes.borrow_mut().entry(format!("{} {code}", reference.decision.as_str())).or_default() += 1;
        if reference.policy.name == "q" {
            *stats.codes.borrow_mut().entry("(decided by the second policy)".to_string()).or_default() += 1;
        }
        let scanned = unindexed.decide(&req);
        if vm != scanned {
            return Err(TestCaseError::fail(format!(
                "indexed and unindexed engines disagree\n--- policy:\n{src}\n--- request:\n{json}\n--- indexed:\n{vm:#?}\n--- unindexed:\n{scanned:#?}"
            )));
        }
        let plain = unfused.decide(&req);
        if vm != plain {
            return Err(TestCaseError::fail(format!(
                "fused and unfused VM disagree\n--- policy:\n{src}\n--- request:\n{json}\n--- fused:\n{vm:#?}\n--- unfused:\n{plain:#?}"
            )));
        }
        // Every failure of the VM's code names its expression (a `modify` value that is not yet
        // known is the engine's refusal, not a failed instruction).
        if vm.reason.code == "eval.error" && vm.error_at.is_none() && !vm.reason.message.contains("depends on evidence")
        {
            return Err(TestCaseError::fail(format!(
                "an evaluation error without its location\n--- policy:\n{src}\n--- request:\n{json}\n--- VM:\n{vm:#?}"
            )));
        }
        // The interpreter has no span table: it names the rule that failed, not the expression.
        if vm.clone().without_error_location() != reference {
            return Err(TestCaseError::fail(format!(
                "VM and interpreter disagree\n--- policy:\n{src}\n--- request:\n{json}\n--- VM:\n{vm:#?}\n--- interpreter:\n{reference:#?}"
            )));
        }
    }
    Ok(())
}

#[test]
fn vm_agrees_with_the_reference_interpreter() {
    let cases = std::env::var("PROPTEST_CASES").ok().and_then(|s| s.parse().ok()).unwrap_or(500);
    let config = Config { cases, failure_persistence: None, max_shrink_iters: 2000, ..Config::default() };
    let mut runner = TestRunner::new(config);
    let stats = Stats::default();
    let strategy = (policy(), proptest::collection::vec(request(), 6));
    let started = std::time::Instant::now();
    let result = runner.run(&strategy, |(src, requests)| run_case(&src, &requests, &stats));
    if let Err(e) = result {
        panic!("{e}");
    }
    let (n, rejected, reqs, invalid) =
        (stats.cases.get(), stats.rejected.get(), stats.requests.get(), stats.invalid_requests.get());
    eprintln!(
        "differential: {n} policies ({rejected} rejected by the checker), {reqs} requests compared ({invalid} invalid), {:.1?}",
        started.elapsed()
    );
    for (code, count) in stats.codes.borrow().iter() {
        eprintln!("  {count:6}  {code}");
    }
    eprintln!("  {} policies had a condition run as a plan", stats.planned.get());
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

// ---------------------------------------------------------------------------------------------
// The rule index (`runtime/src/index.rs`): many same-shape rules on one tool

/// A leaf the rule index reads (integer bounds and equality, string equality, prefixes, list and
/// group membership), with constants on both sides of the generated requests' values.
fn indexable_leaf() -> S {
    prop_oneof![
        (pick(&[">", ">=", "<", "<=", "=="]), -3i64..8).prop_map(|(op, k)| format!("params.count {op} {k}")),
        pick(&["a", "ab", "b", "USD", "", "É", "x"]).prop_map(|c| format!(r#"params.currency == "{c}""#)),
        pick(&["", "a", "U", "US", "USD", "É", "ab"]).prop_map(|c| format!(r#"params.currency.starts_with("{c}")"#)),
        pick(&[r#"["a", "USD"]"#, r#"["b"]"#, "[]", r#"["É", "x", "ab"]"#])
            .prop_map(|l| format!("params.currency in {l}")),
        Just("params.currency in admins".to_string()),
    ]
    .boxed()
}

/// A leaf that ends the indexed ones: a negation, evidence (unknown), an optional parameter, a
/// decimal, a quantifier, a test that can fail.
fn other_leaf() -> S {
    pick(&[
        "not (params.count > 2)",
        "evidence.score > 2",
        "evidence.label == \"a\"",
        "evidence.ok",
        "params.limit is set and params.limit > 1",
        "params.amount > 12.25",
        "any t in params.tags: t == \"a\"",
        "100 / params.count > 20",
        "params.currency.ends_with(\"D\")",
        "\"admin\" in identity.roles",
        "params.count * 1000000000000000000 > 1",
    ])
}

/// Conditions of one `when` each, most starting with indexed leaves.
fn indexed_when() -> S {
    prop_oneof![
        3 => proptest::collection::vec(indexable_leaf(), 1..4).prop_map(|xs| xs.join(" and ")),
        2 => (proptest::collection::vec(indexable_leaf(), 1..3), other_leaf())
            .prop_map(|(xs, o)| format!("{} and {o}", xs.join(" and "))),
        1 => (other_leaf(), indexable_leaf()).prop_map(|(o, x)| format!("{o} and {x}")),
        1 => (indexable_leaf(), indexable_leaf()).prop_map(|(a, b)| format!("{a} or {b}")),
    ]
    .boxed()
}

fn indexed_rule(index: usize) -> S {
    let shallow = family(Scope::Pay, 1);
    let targets = pick(&["pay", "pay", "pay", "pay, mail", "*"]);
    let priority = proptest::option::of(-1i64..3);
    (targets, proptest::collection::vec(indexed_when(), 0..3), priority, decision(Scope::Pay, &shallow))
        .prop_map(move |(targets, whens, priority, decision)| {
            // `on pay, mail` and `on *` see only the shared fields.
            let whens: Vec<String> = if targets == "pay" { whens } else { Vec::new() };
            let decision = if targets == "pay" || !decision.starts_with("modify") { decision } else { "deny".into() };
            let mut out = format!("rule r{index} on {targets}");
            if let Some(p) = priority {
                out.push_str(&format!(" priority {p}"));
            }
            out.push_str(" {\n");
            for w in whens {
                out.push_str(&format!("  when {w}\n"));
            }
            out.push_str(&format!("  {decision}\n}}\n"));
            out
        })
        .boxed()
}

fn indexed_policy() -> S {
    (settings(), 8usize..40)
        .prop_flat_map(|(settings, n)| {
            let rules: Vec<S> = (0..n).map(indexed_rule).collect();
            rules.prop_map(move |rules| format!("policy p version \"1\"\n{settings}{SCHEMA}\n{}", rules.join("\n")))
        })
        .boxed()
}

#[test]
fn the_rule_index_decides_as_the_interpreter_and_the_scan() {
    let cases = std::env::var("PROPTEST_CASES").ok().and_then(|s| s.parse().ok()).unwrap_or(300);
    let config = Config { cases, failure_persistence: None, max_shrink_iters: 2000, ..Config::default() };
    let mut runner = TestRunner::new(config);
    let stats = Stats::default();
    let strategy = (indexed_policy(), proptest::collection::vec(request(), 12));
    let result = runner.run(&strategy, |(src, requests)| run_case(&src, &requests, &stats));
    if let Err(e) = result {
        panic!("{e}");
    }
    let (n, rejected, reqs) = (stats.cases.get(), stats.rejected.get(), stats.requests.get());
    eprintln!(
        "index differential: {n} policies ({rejected} rejected), {reqs} requests, {} with an indexed tool",
        stats.indexed.get()
    );
    for (code, count) in stats.codes.borrow().iter() {
        eprintln!("  {count:6}  {code}");
    }
    assert!(rejected * 10 <= n, "too many ill-typed policies: {rejected} of {n}");
    assert!(stats.indexed.get() * 10 >= n * 6, "too few policies reach the index: {} of {n}", stats.indexed.get());
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
    let engine = Engine::from_program(c.program.clone(), HASH).unwrap();
    assert_eq!(engine.indexed_tools(), 1);
    let unindexed = Engine::from_program(c.program.clone(), HASH).unwrap().unindexed();
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

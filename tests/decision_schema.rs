//! The published JSON Schemas (docs/schema/decision.json, docs/schema/approval.json) hold for what
//! aarm really prints: every example's request through `aarm eval` (with and without
//! `--explain`, with a `request_id`, at a time an allow is still current), requests that are
//! refused (`input.invalid`), a bundle that cannot be loaded (`bundle.invalid`), and the decision
//! and approvals of a case opened and approved with `aarm case`. A schema that drifts from the
//! decision type fails here.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]

mod common;
use common::{aarm, build_example, eval_stdin, root};
use serde_json::{json, Value};
use std::path::Path;

fn schema(name: &str) -> jsonschema::Validator {
    let text = std::fs::read_to_string(root().join("docs/schema").join(name)).unwrap();
    jsonschema::validator_for(&serde_json::from_str(&text).unwrap()).unwrap()
}

fn assert_valid(validator: &jsonschema::Validator, value: &Value, what: &str) {
    let errors: Vec<String> = validator.iter_errors(value).map(|e| format!("{} at {}", e, e.instance_path())).collect();
    assert!(errors.is_empty(), "{what} does not match its schema: {errors:?}\n{value:#}");
}

fn decision_of(out: &std::process::Output) -> Value {
    serde_json::from_slice(&out.stdout).unwrap_or_else(|_| {
        panic!("stdout={} stderr={}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr))
    })
}

fn examples() -> Vec<std::path::PathBuf> {
    let mut dirs: Vec<_> = std::fs::read_dir(root().join("examples"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.join("request.json").is_file())
        .collect();
    dirs.sort();
    dirs
}

#[test]
fn every_example_decision_matches_the_decision_schema() {
    let validator = schema("decision.json");
    let dirs = examples();
    assert!(dirs.len() >= 8, "the examples with a request: {dirs:?}");
    let mut seen = std::collections::BTreeSet::new();
    for dir in &dirs {
        let request: Value = serde_json::from_slice(&std::fs::read(dir.join("request.json")).unwrap()).unwrap();
        let mut with_id = request.clone();
        with_id["request_id"] = json!("req-schema-0001");
        for (input, extra) in [(&request, &[][..]), (&with_id, &["--explain"][..])] {
            let out = eval_stdin(dir, input.to_string().as_bytes(), extra);
            let d = decision_of(&out);
            assert_valid(&validator, &d, &format!("aarm eval {} {extra:?}", dir.display()));
            seen.insert(d["decision"].as_str().unwrap().to_string());
        }
    }
    assert!(seen.len() >= 3, "the corpus shows several kinds of decision: {seen:?}");
}

#[test]
fn refused_requests_and_bundles_match_the_decision_schema() {
    let validator = schema("decision.json");
    let payments = root().join("examples/payments");
    for input in [
        &b"{broken"[..],
        br#"[1, 2]"#,
        br#"{"action": {"tool": "transfer_funds", "params": {"amount": 1}}, "request_id": "has space"}"#,
        br#"{"action": {"tool": "transfer_funds"}, "request_id": ""}"#,
        br#"{"action": {"tool": "no_such_tool"}}"#,
    ] {
        let d = decision_of(&eval_stdin(&payments, input, &[]));
        assert_valid(&validator, &d, &format!("the decision of {}", String::from_utf8_lossy(input)));
    }
    let dir = common::scratch("schema", "bad-bundle");
    let bundle = dir.join("bad.aarmb");
    std::fs::write(&bundle, b"AARMB\0\0\0 not a bundle").unwrap();
    let out = eval_stdin(&bundle, br#"{"action": {"tool": "t"}}"#, &[]);
    let d = decision_of(&out);
    assert_eq!(d["reason"]["code"], "bundle.invalid");
    assert_valid(&validator, &d, "the bundle.invalid decision");
}

/// `aarm eval POLICY` of `input` at 10:00 on 2026-11-24: its decision, which must match the schema.
fn valid_decision_at_10(validator: &jsonschema::Validator, policy: &Path, input: &str) -> Value {
    let d = decision_of(&eval_stdin(policy, input.as_bytes(), &["--now", "2026-11-24T10:00:00Z"]));
    assert_valid(validator, &d, input);
    d
}

fn run(dir: &Path, args: &[&str]) -> Value {
    let out = aarm().args(args).current_dir(dir).output().unwrap();
    assert!(out.status.success(), "{args:?}: {}", String::from_utf8_lossy(&out.stderr));
    decision_of(&out)
}

#[test]
fn a_case_decision_and_its_approvals_match_the_schemas() {
    let (decisions, approvals) = (schema("decision.json"), schema("approval.json"));
    let dir = common::scratch("schema", "case");
    build_example("quorum_transfer", &dir.join("q.aarmb"));
    let request = root().join("examples/quorum_transfer/request.json");
    let at = ["--store", "cases.db", "--now"];
    let mut open = vec!["case", "open", "--bundle", "q.aarmb", "--input", request.to_str().unwrap()];
    open.extend_from_slice(&at);
    open.push("2026-11-24T10:00:00Z");
    let opened = run(&dir, &open);
    assert_valid(&decisions, &opened, "aarm case open");
    let id = opened["case"].as_str().unwrap().to_string();
    // The second approver bounds theirs (`until`, an approval field the schema publishes).
    for (by, now, until) in
        [("cfo@corp.com", "2026-11-24T10:01:00Z", None), ("lead@corp.com", "2026-11-24T10:02:00Z", Some("11:00"))]
    {
        let mut approve = vec!["case", "approve", &id, "--by", by];
        if let Some(t) = until {
            approve.extend_from_slice(&["--until", t]);
        }
        approve.extend_from_slice(&at);
        approve.push(now);
        run(&dir, &approve);
    }
    let mut show = vec!["case", "show", &id];
    show.extend_from_slice(&at);
    show.push("2026-11-24T10:03:00Z");
    let case = run(&dir, &show);
    let list = case["approvals"].as_array().unwrap();
    assert_eq!(list.len(), 2, "{case:#}");
    assert_eq!(list[1]["until"], json!(1_795_518_000), "11:00 on the day of --now: {case:#}");
    for a in list {
        assert_valid(&approvals, a, "an approval of aarm case show");
    }
    assert_valid(&decisions, &case["decision"], "the case's decision");
    assert_valid(&decisions, &case["outcome"], "the case's released outcome");
    assert_eq!(case["outcome"]["expires_at"], "2026-11-24T11:00:00Z", "cut at the approver's until");
}

/// A step-up whose approvers may cap the amount (`limits amount`): its decision lists what may be
/// capped, each approval its caps (`max`) and the released outcome the smallest (`limits`), all
/// as the schemas publish them; caps the schemas do not describe (a cap not in canonical form, a
/// limit not keyed by its path) are refused by them.
#[test]
fn a_capped_release_matches_the_schemas() {
    let (decisions, approvals) = (schema("decision.json"), schema("approval.json"));
    let dir = common::scratch("schema", "capped");
    let policy = r#"policy treasury version "1"
tool transfer { amount: Decimal, to: String }
rule big on transfer { step_up { approvers 2 of ["cfo@corp.com", "lead@corp.com"] limits amount } }
"#;
    std::fs::write(dir.join("t.aarm"), policy).unwrap();
    let built = aarm().args(["build", "t.aarm", "-o", "t.aarmb"]).current_dir(&dir).output().unwrap();
    assert!(built.status.success(), "{}", String::from_utf8_lossy(&built.stderr));
    let request = json!({ "action": { "tool": "transfer", "params": { "amount": "1200.25", "to": "acme" } },
        "identity": { "human": "alice@corp.com", "agent": "pay-bot" } });
    std::fs::write(dir.join("request.json"), request.to_string()).unwrap();
    let at = ["--store", "cases.db", "--now", "2026-11-24T10:00:00Z"];
    let mut open = vec!["case", "open", "--bundle", "t.aarmb", "--input", "request.json"];
    open.extend_from_slice(&at);
    let opened = run(&dir, &open);
    assert_valid(&decisions, &opened, "aarm case open");
    assert_eq!(opened["step_up"]["limits"], json!(["amount"]));
    let id = opened["case"].as_str().unwrap().to_string();
    for (by, cap) in [("cfo@corp.com", "amount=1500.50"), ("lead@corp.com", "amount=1300")] {
        let mut approve = vec!["case", "approve", &id, "--by", by, "--max", cap];
        approve.extend_from_slice(&at);
        run(&dir, &approve);
    }
    let mut show = vec!["case", "show", &id];
    show.extend_from_slice(&at);
    let case = run(&dir, &show);
    for a in case["approvals"].as_array().unwrap() {
        assert_valid(&approvals, a, "a capped approval");
    }
    assert_eq!(case["approvals"][0]["max"], json!({ "amount": "1500.5" }));
    let outcome = &case["outcome"];
    assert_valid(&decisions, outcome, "the capped release");
    assert_eq!(outcome["limits"], json!({ "params.amount": { "max": "1300" } }), "{case:#}");

    let mut drifted = outcome.clone();
    drifted["limits"] = json!({ "params.amount": { "max": "1300.0" } });
    assert!(!decisions.is_valid(&drifted), "a cap not in canonical form");
    drifted["limits"] = json!({ "amount": { "max": "1300" } });
    assert!(!decisions.is_valid(&drifted), "a limit not keyed by its path");
    let mut approval = case["approvals"][0].clone();
    approval["max"] = json!({ "amount": 1500 });
    assert!(!approvals.is_valid(&approval), "a cap as a JSON number");
}

/// `settings { review }` names where to appeal on every denial and escalation (a rule's, the
/// default's, an invalid request's) and never on an allow; `allow_valid` times the allow.
#[test]
fn review_names_where_to_appeal_denials_and_escalations_only() {
    let validator = schema("decision.json");
    let dir = common::scratch_with_policy(
        "schema",
        "review",
        r#"policy p version "1"
settings { review "security-team" allow_valid 5m }
tool op { kind: String }
rule reads on op { when params.kind == "read" allow }
rule wires on op { when params.kind == "wire" step_up { approvers 1 of ["cfo@corp.com"] } }
rule drops on op { when params.kind == "drop" deny }
"#,
    );
    let policy = dir.join("p.aarm");
    let decide = |input: &str| valid_decision_at_10(&validator, &policy, input);
    let op = |kind: &str| format!(r#"{{"action": {{"tool": "op", "params": {{"kind": "{kind}"}}}}}}"#);
    for (kind, effect) in [("drop", "deny"), ("wire", "step_up"), ("other", "deny")] {
        let d = decide(&op(kind));
        assert_eq!((d["decision"].as_str(), d["review"].as_str()), (Some(effect), Some("security-team")), "{d}");
        assert_eq!(d["expires_at"], Value::Null);
    }
    let invalid = decide(r#"{"action": {"tool": "op", "params": {"kind": 1}}}"#);
    assert_eq!(
        (invalid["reason"]["code"].as_str(), invalid["review"].as_str()),
        (Some("input.invalid"), Some("security-team"))
    );
    let allow = decide(&op("read"));
    assert_eq!((allow["decision"].as_str(), &allow["review"]), (Some("allow"), &Value::Null));
    assert_eq!(allow["expires_at"], "2026-11-24T10:05:00Z");
}

/// A decision on a tool with fields marked `@redact` names them in `redacted`, which the schema
/// admits; a decision on a tool without marks has no such field.
#[test]
fn redacted_fields_are_named_in_the_decision() {
    let validator = schema("decision.json");
    let dir = common::scratch_with_policy(
        "schema",
        "redacted",
        r#"policy p version "1"
tool pay { pin: String @redact, card: { number: String @redact, brand: String }, amount: Int }
tool ping { host: String }
context { ssn: String? @redact }
rule right on pay { when params.pin == "2468" allow }
rule pings on ping { allow }
"#,
    );
    let policy = dir.join("p.aarm");
    let decide = |input: &str| valid_decision_at_10(&validator, &policy, input);
    let pay = |pin: &str| {
        format!(
            r#"{{"action": {{"tool": "pay", "params": {{"pin": "{pin}", "card": {{"number": "4111", "brand": "v"}}, "amount": 5}}}}}}"#
        )
    };
    let allowed = decide(&pay("2468"));
    assert_eq!(allowed["decision"], "allow", "the rule reads the real value");
    assert_eq!(allowed["redacted"], json!(["params.pin", "params.card.number", "context.ssn"]));
    assert_eq!(decide(&pay("1357"))["decision"], "deny");
    // A wrong-typed marked value is refused without quoting it (the message reaches receipts).
    let refused = decide(
        r#"{"action": {"tool": "pay", "params": {"pin": 97531, "card": {"number": "4111", "brand": "v"}, "amount": 5}}}"#,
    );
    assert_eq!(refused["reason"]["code"], "input.invalid");
    assert!(!refused.to_string().contains("97531"), "{refused}");
    let ping = decide(r#"{"action": {"tool": "ping", "params": {"host": "h"}}}"#);
    assert_eq!(ping["redacted"], json!(["context.ssn"]), "the context's marks apply to every tool");
    let mut bad = allowed.clone();
    bad["redacted"] = json!(["body"]);
    assert!(validator.iter_errors(&bad).next().is_some(), "a path outside params and context is refused");
}

/// A caller's `request_id` at its limit is echoed; one past it, or one that could disguise itself
/// in a log (spaces, control or non-ASCII characters), a non-string, or a second copy of the key
/// is `input.invalid` and a deny, never a decision on the action.
#[test]
fn a_request_id_is_echoed_at_its_limit_and_refused_past_it() {
    let payments = root().join("examples/payments");
    let request: Value = serde_json::from_slice(&std::fs::read(payments.join("request.json")).unwrap()).unwrap();
    let with = |id: Value| {
        let mut r = request.clone();
        r["request_id"] = id;
        decision_of(&eval_stdin(&payments, r.to_string().as_bytes(), &[]))
    };
    let at_limit = "r".repeat(128);
    let d = with(json!(at_limit));
    assert_eq!(d["request_id"], json!(at_limit), "{d}");
    assert_ne!(d["reason"]["code"], "input.invalid", "{d}");
    for bad in
        [json!("r".repeat(129)), json!("réq-1"), json!("req\u{7}1"), json!("req\u{200b}1"), json!(42), json!(["r"])]
    {
        let d = with(bad.clone());
        assert_eq!(
            (d["decision"].as_str(), d["reason"]["code"].as_str()),
            (Some("deny"), Some("input.invalid")),
            "{bad}: {d}"
        );
        assert!(d.to_string().contains("request_id"), "the refusal names the field: {bad}: {d}");
    }
    let body = request.to_string();
    let twice = format!("{{\"request_id\": \"a\", \"request_id\": \"b\", {}", &body[1..]);
    let d = decision_of(&eval_stdin(&payments, twice.as_bytes(), &[]));
    assert_eq!((d["decision"].as_str(), d["reason"]["code"].as_str()), (Some("deny"), Some("input.invalid")), "{d}");
}

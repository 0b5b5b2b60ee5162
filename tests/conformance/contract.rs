//! The policy and approval contract: decisions as typed, reviewable records; approvals bound to
//! one action; overrides as new decisions; evidence by reference; redaction.

use crate::{op, text, Dir, FIVE};
use serde_json::{json, Value};

const NOW: &str = "2026-11-24T10:00:00Z";

/// A decision names the policy, its version and the bundle it was decided with, and a reason
/// code that is stable across requests while the message for people varies.
#[test]
fn contract_decision_names_its_policy_version_and_reason_code() {
    let dir = Dir::new("c1", FIVE);
    let out = dir.run(&["inspect", "policy.aarmb", "--format", "json"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let bundle: Value = serde_json::from_slice(&out.stdout).unwrap();
    let (small, large) = (dir.decide(&op("drop", 5)), dir.decide(&op("drop", 5000)));
    for d in [&small, &large] {
        assert_eq!(d["policy"]["name"], "five");
        assert_eq!(d["policy"]["version"], "2.1.0");
        assert_eq!(d["policy"]["bundle_hash"], bundle["hash"], "{d}");
        assert_eq!(d["rule"], "five.drops");
        assert_eq!(d["reason"]["code"], "op.drop");
    }
    assert_eq!(small["reason"]["message"], "Dropping 5 rows is never allowed");
    assert_eq!(large["reason"]["message"], "Dropping 5000 rows is never allowed");
}

/// A decision is identified and timed: it carries its own `decision_id` (a ULID, new for every
/// decision), the caller's `request_id` and `evaluated_at`, and the receipt that records it names
/// the same ids at the same time.
#[test]
fn contract_decision_is_identified_and_timed() {
    let dir = Dir::new("c2", FIVE);
    let mut request = op("read", 5);
    request["request_id"] = json!("req-c2-1");
    let answers = [dir.open(&request, NOW), dir.open(&op("read", 5), "2026-11-24T10:00:01Z")];
    assert_eq!(answers[0]["schema"], "aarm.decision/2");
    assert_ne!(answers[0]["decision_id"], answers[1]["decision_id"], "two decisions, two identities");
    assert!(answers.iter().all(|a| a["decision_id"].as_str().is_some_and(|id| id.len() == 26)), "{answers:?}");
    assert_eq!((&answers[0]["request_id"], &answers[1]["request_id"]), (&json!("req-c2-1"), &Value::Null));
    assert_eq!(answers[1]["evaluated_at"], "2026-11-24T10:00:01Z");
    let receipts = dir.export(None, "chain.jsonl");
    for (answer, at) in answers.iter().zip([1_795_514_400, 1_795_514_401]) {
        let receipt = receipts.iter().find(|r| r["hash"] == answer["receipt"]).expect("the named receipt");
        assert_eq!((receipt["decision"].as_str(), receipt["at"].as_i64()), (Some("allow"), Some(at)));
        assert_eq!(receipt["detail"]["decision_id"], answer["decision_id"], "{receipt}");
    }
    let first = receipts.iter().find(|r| r["hash"] == answers[0]["receipt"]).unwrap();
    assert_eq!(first["detail"]["request_id"], "req-c2-1");
}

/// An allow states what it covers (`scope`: tool, operation, the parameters decided on) and
/// until when it may be acted on: the rule's `valid`, else `settings { allow_valid }`; a released
/// step-up's allow for its `valid`, cut by the approver's `--until` (which can only narrow);
/// other decisions never expire into an allow.
#[test]
fn contract_allow_carries_scope_and_expiry() {
    let dir = Dir::new("c3", &FIVE.replacen("tool op", "settings { allow_valid 5m }\ntool op", 1));
    let mut request = op("read", 5);
    request["context"]["now"] = json!(NOW);
    let allow = dir.decide(&request);
    assert_eq!(allow["decision"], "allow");
    assert_eq!(allow["scope"], json!({ "tool": "op", "operation": "", "params": ["amount", "kind"] }));
    assert_eq!(
        (allow["evaluated_at"].as_str(), allow["expires_at"].as_str()),
        (Some(NOW), Some("2026-11-24T10:05:00Z"))
    );
    let deny = dir.decide(&op("drop", 5));
    assert_eq!((deny["decision"].as_str(), &deny["expires_at"]), (Some("deny"), &Value::Null));
    let unbounded = Dir::new("c3-unbounded", FIVE).decide(&op("read", 5));
    assert_eq!(unbounded["expires_at"], Value::Null, "no allow_valid: no expiry");

    // A rule's own `valid`, and a step-up's, over `allow_valid`; an approver narrows with --until.
    let bounded = FIVE
        .replacen("tool op", "settings { allow_valid 5m }\ntool op", 1)
        .replacen("when params.kind == \"read\"\n  allow", "when params.kind == \"read\"\n  valid 30s\n  allow", 1)
        .replacen("timeout 1h -> deny }", "timeout 1h -> deny  valid 20m }", 1);
    let dir = Dir::new("c3-valid", &bounded);
    let read = dir.decide(&request);
    assert_eq!(read["expires_at"], "2026-11-24T10:00:30Z", "the rule's valid 30s: {read}");
    let id = dir.open(&op("wire", 500), NOW)["case"].as_str().unwrap().to_string();
    let past = dir.case(&["approve", &id, "--by", "cfo@corp.com", "--until", "09:59"], NOW);
    assert_eq!(past.status.code(), Some(1));
    assert!(text(&past.stderr).contains("until_in_past"), "{}", text(&past.stderr));
    let out = dir.case(&["approve", &id, "--by", "cfo@corp.com", "--until", "10:10"], "2026-11-24T10:01:00Z");
    assert!(out.status.success(), "{}", text(&out.stderr));
    let case = dir.show(&id, "2026-11-24T10:01:00Z");
    assert_eq!(case["outcome"]["expires_at"], "2026-11-24T10:10:00Z", "--until under valid 20m: {case}");
    let later = "2026-11-24T10:02:00Z";
    let id = dir.open(&op("wire", 501), later)["case"].as_str().unwrap().to_string();
    let out = dir.case(&["approve", &id, "--by", "cfo@corp.com", "--until", "2026-11-25T10:00:00Z"], later);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(dir.show(&id, later)["outcome"]["expires_at"], "2026-11-24T10:22:00Z", "--until cannot widen valid 20m");
}

/// An approval authorizes one action: it binds the hash of the action decided, the approver and
/// the time; the same request changed is another action, which needs its own approval. Where the
/// policy allows it (`step_up { limits amount }`), an approver caps a parameter
/// (`approve … --max amount=800`): the approval and its receipt record the cap and the release
/// carries it (`limits`); a cap below the action's own amount would approve nothing and is
/// refused (`limit_below_action`), so a capped approval never releases an action over its cap,
/// and the action re-sent with more is another case, which the cap cannot release either.
#[test]
fn contract_approval_binds_the_approved_action() {
    let capped = FIVE.replacen("timeout 1h -> deny }", "timeout 1h -> deny  limits amount }", 1);
    let dir = Dir::new("c4", &capped);
    let first = dir.open(&op("wire", 500), NOW);
    let id = first["case"].as_str().unwrap().to_string();
    assert_eq!(first["step_up"]["limits"], json!(["amount"]), "{first}");
    for (cap, reason) in [("amount=499", "limit_below_action"), ("kind=1", "limit_not_allowed")] {
        let out = dir.case(&["approve", &id, "--by", "cfo@corp.com", "--max", cap], "2026-11-24T10:04:00Z");
        assert_eq!(out.status.code(), Some(1), "{cap}");
        assert!(text(&out.stderr).contains(reason), "{cap}: {}", text(&out.stderr));
    }
    assert_eq!(dir.show(&id, "2026-11-24T10:04:00Z")["state"], "pending_approval", "no capped approval released it");
    let out = dir.case(&["approve", &id, "--by", "cfo@corp.com", "--max", "amount=800"], "2026-11-24T10:05:00Z");
    assert!(out.status.success(), "{}", text(&out.stderr));
    let receipts = dir.export(Some(&id), "case.jsonl");
    assert!(first["action_hash"].as_str().unwrap().starts_with("sha256:"), "{first}");
    for r in receipts.iter().filter(|r| r.get("event").is_some()) {
        assert_eq!(r["action_hash"], first["action_hash"], "every receipt of the case binds the action: {r}");
    }
    let approve = receipts.iter().find(|r| r["event"] == "approve").unwrap();
    assert_eq!((approve["actor"].as_str(), approve["at"].as_i64()), (Some("cfo@corp.com"), Some(1_795_514_700)));
    assert_eq!(approve["detail"]["max"], json!({ "amount": "800" }), "{approve}");
    assert_eq!(approve["detail"]["limits"], json!({ "params.amount": { "max": "800" } }), "{approve}");
    assert_eq!(dir.verify("case.jsonl").status.code(), Some(0), "the signed chain holds the caps");
    let case = dir.show(&id, "2026-11-24T10:05:00Z");
    assert_eq!(case["state"], "allowed");
    assert_eq!(case["approvals"][0]["max"], json!({ "amount": "800" }));
    assert_eq!(case["outcome"]["limits"], json!({ "params.amount": { "max": "800" } }), "{case}");
    assert_eq!(case["released_action"]["params"]["amount"], 500, "the approved action, within the cap");

    let changed = dir.open(&op("wire", 50_000), "2026-11-24T10:06:00Z");
    assert_ne!(changed["action_hash"], first["action_hash"]);
    assert_ne!(changed["case"], first["case"]);
    let other = changed["case"].as_str().unwrap();
    let out = dir.case(&["approve", other, "--by", "cfo@corp.com", "--max", "amount=800"], "2026-11-24T10:07:00Z");
    assert!(text(&out.stderr).contains("limit_below_action"), "{}", text(&out.stderr));
    assert_eq!(dir.show(other, "2026-11-24T10:07:00Z")["state"], "pending_approval");
}

/// Evidence is referenced, not copied: the receipt of a provided fact names it, who provided it
/// and the SHA-256 of its value; the value itself is nowhere in the audit trail.
#[test]
fn contract_evidence_is_referenced_not_copied() {
    let dir = Dir::new("c6", FIVE);
    let id = dir.open(&op("purge", 5), NOW)["case"].as_str().unwrap().to_string();
    let out = dir.case(&["provide", &id, "ticket=\"CHG-4711 rotate the vault\"", "--by", "alice@corp.com"], NOW);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(dir.show(&id, NOW)["state"], "allowed", "the fact was used");
    let receipts = dir.export(Some(&id), "case.jsonl");
    let provide = receipts.iter().find(|r| r["event"] == "provide").expect("a provide receipt");
    assert_eq!(
        (provide["actor"].as_str(), provide["detail"]["evidence"].as_str()),
        (Some("alice@corp.com"), Some("ticket"))
    );
    let hash = provide["detail"]["value_hash"].as_str().unwrap();
    assert!(hash.starts_with("sha256:") && hash.len() == 71, "{provide}");
    let trail = std::fs::read_to_string(dir.0.join("case.jsonl")).unwrap();
    assert!(!trail.contains("CHG-4711"), "the value is not copied: {trail}");
    assert_eq!(dir.verify("case.jsonl").status.code(), Some(0));
    // The decision it made names the fact, who gave it and that receipt, not the value.
    let outcome = &dir.show(&id, NOW)["outcome"];
    assert_eq!(
        outcome["evidence_refs"],
        json!([{ "fact": "ticket", "source": "provided_by:alice@corp.com", "receipt": provide["hash"] }])
    );
    assert!(!outcome.to_string().contains("CHG-4711"), "{outcome}");
}

/// A policy that marks a tool field and a context field `@redact`.
const PINS: &str = r#"
policy pins version "1"

tool pay { pin: String @redact, amount: Int }
context { ssn: String? @redact }

rule right_pin on pay {
  when params.pin == "2468"
  step_up { approvers 1 of ["cfo@corp.com"] }
  reason "pay.confirm" "a payment of {params.amount}"
}

rule wrong_pin on pay {
  when params.pin != "2468"
  deny
  reason "pay.wrong_pin" "the PIN does not match"
}
"#;

fn pay(pin: &str) -> Value {
    json!({
        "action": { "tool": "pay", "params": { "pin": pin, "amount": 70 } },
        "identity": { "human": "alice@corp.com", "agent": "pay-bot" },
        "context": { "ssn": "078-05-1120" }
    })
}

/// Redaction metadata says which inputs a record leaves out and where they were: the decision
/// names the marked fields (`redacted`), and `aarm case show` replaces each value by a keyed
/// hash; neither it nor the receipts export holds the value, while the decision was made on it.
#[test]
fn contract_redaction_explains_omitted_fields() {
    let dir = Dir::new("c7", PINS);
    // The decision depends on the real value.
    assert_eq!(dir.open(&pay("1357"), NOW)["decision"], "deny");
    let decision = dir.open(&pay("2468"), NOW);
    assert_eq!(decision["decision"], "step_up", "{decision}");
    assert_eq!(decision["redacted"], json!(["params.pin", "context.ssn"]));
    let id = decision["case"].as_str().unwrap().to_string();
    let out = dir.case(&["show", &id], NOW);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let shown = text(&out.stdout);
    // Digests and ids are hex or ULIDs whose digits may spell the PIN by chance.
    let visible = aarm_testkit::without_generated_ids(&shown);
    assert!(!visible.contains("2468") && !visible.contains("078-05-1120"), "{shown}");
    let case: Value = serde_json::from_str(&shown).unwrap();
    assert_eq!(case["redacted"], json!(["params.pin", "context.ssn"]));
    let pin = case["request"]["action"]["params"]["pin"]["redacted"].as_str().unwrap();
    assert!(pin.starts_with("hmac-sha256:"), "{case}");
    assert_eq!(case["request"]["action"]["params"]["amount"], 70, "unmarked fields are shown");
    // The same value gets the same hash within a deployment (one signing key).
    let again = dir.open(&pay("2468"), NOW)["case"].as_str().unwrap().to_string();
    assert_eq!(dir.show(&again, NOW)["request"]["action"]["params"]["pin"]["redacted"], pin);
    dir.export(None, "chain.jsonl");
    let trail = std::fs::read_to_string(dir.0.join("chain.jsonl")).unwrap();
    let visible = aarm_testkit::without_generated_ids(&trail);
    assert!(!visible.contains("2468") && !visible.contains("078-05-1120"), "{trail}");
}

//! AARM core requirements that the CLI shows: R3 (evaluation against the action and the stated
//! intent, deferring when context is missing), R4 (five decisions), R5 (a tamper-evident
//! receipt for every evaluated action). The others are in `server/tests/conformance/aarm.rs`.

use crate::{op, text, Dir, FIVE};
use serde_json::json;

/// An e-mail policy that weighs the action against the stated intent: a request that drifted
/// far from what the user asked waits for security, one the user did not ask to e-mail anyone
/// is denied, and an outside recipient is allowed only once the directory vouches for it.
const INTENT: &str = r#"
policy intent version "1"

tool send_email { to: String, body: String }
evidence recipient_approved: Bool from "directory"

rule drifted on send_email priority 90 {
  when context.semantic_distance is set and context.semantic_distance > 0.5
  step_up { approvers 1 of ["security@corp.com"]  timeout 1h -> deny }
  reason "intent.drift" "The action drifted from the original request"
}
rule unasked on send_email priority 80 {
  when not context.original_request.contains("mail")
  deny
  reason "intent.unasked" "Nobody asked to send mail"
}
rule outside on send_email priority 70 {
  when not params.to.ends_with("@corp.com") and not evidence.recipient_approved
  deny
  reason "mail.outside" "Outside recipients need the directory's approval"
}
rule mail on send_email { allow }
"#;

fn email(to: &str, asked: &str, distance: f64) -> serde_json::Value {
    json!({
        "action": { "tool": "send_email", "params": { "to": to, "body": "the report" } },
        "identity": { "human": "alice@corp.com", "agent": "mail-bot" },
        "context": { "original_request": asked, "semantic_distance": distance }
    })
}

/// R3: the same action is decided differently by its alignment with the stated intent (the
/// original request, the distance from it) and waits (DEFER) when a fact it depends on is
/// missing, instead of guessing.
#[test]
fn r3_policy_weighs_the_action_against_the_stated_intent() {
    let dir = Dir::new("r3", INTENT);
    let decision = |request| {
        let d = dir.decide(&request);
        (d["decision"].as_str().unwrap().to_string(), d["reason"]["code"].as_str().unwrap().to_string())
    };
    let pair = |a: &str, b: &str| (a.to_string(), b.to_string());
    assert_eq!(decision(email("bob@corp.com", "mail the report to bob", 0.1)), pair("allow", "rule.mail"));
    assert_eq!(decision(email("bob@corp.com", "mail the report to bob", 0.8)), pair("step_up", "intent.drift"));
    assert_eq!(decision(email("bob@corp.com", "summarise the report", 0.1)), pair("deny", "intent.unasked"));
    assert_eq!(
        decision(email("eve@partner.example", "mail the report to eve", 0.1)),
        pair("defer", "evidence.required")
    );
    let mut vouched = email("eve@partner.example", "mail the report to eve", 0.1);
    vouched["evidence"] = json!({ "recipient_approved": true });
    assert_eq!(decision(vouched), pair("allow", "rule.mail"));
}

/// R4 (and the decision model of the policy/approval contract): the engine produces each of
/// the five decisions — with its obligation — and says which in its exit status.
#[test]
fn r4_the_engine_produces_all_five_decisions() {
    let dir = Dir::new("r4", FIVE);
    let cases = [
        ("read", "allow", 0),
        ("drop", "deny", 13),
        ("pay", "modify", 10),
        ("wire", "step_up", 11),
        ("purge", "defer", 12),
    ];
    for (kind, decision, status) in cases {
        let out = dir.eval(&op(kind, 500), &["--exit-code"]);
        assert_eq!(out.status.code(), Some(status), "{kind}: {}", text(&out.stderr));
        let answer: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(answer["decision"], decision, "{kind}: {answer}");
    }
    let d = dir.decide(&op("pay", 500));
    assert_eq!(d["modified_action"]["params"], json!({ "kind": "pay", "amount": 100 }));
    assert_eq!(dir.decide(&op("wire", 500))["step_up"]["approvers"], json!(["cfo@corp.com"]));
    assert_eq!(dir.decide(&op("purge", 500))["defer"]["need"][0]["name"], "ticket");
}

/// R5: every evaluated action leaves a receipt — allow, deny and modify a `decide` receipt,
/// step_up and defer their case's `open` receipt — with the decision, the time and the
/// context; the answer names it; the signed export verifies, and fails once a receipt is edited.
#[test]
fn r5_every_decision_has_a_receipt() {
    let dir = Dir::new("r5", FIVE);
    let now = "2026-11-24T10:00:00Z";
    let answers: Vec<serde_json::Value> =
        ["read", "drop", "pay", "wire", "purge"].iter().map(|kind| dir.open(&op(kind, 500), now)).collect();
    let receipts = dir.export(None, "chain.jsonl");
    let (head, receipts) = receipts.split_last().unwrap();
    assert!(head.get("export_head").is_some(), "{head}");
    assert_eq!(receipts.len(), 5, "one receipt per decision: {receipts:?}");
    for (answer, receipt) in answers.iter().zip(receipts) {
        assert_eq!(answer["receipt"], receipt["hash"], "the answer names its receipt");
        let event = if answer.get("case").is_some() { "open" } else { "decide" };
        assert_eq!(receipt["event"], event, "{receipt}");
        assert_eq!(receipt["decision"], answer["decision"]);
        assert_eq!(receipt["reason"]["code"], answer["reason"]["code"]);
        assert_eq!(receipt["at"], json!(1_795_514_400), "{receipt}");
        assert_eq!(receipt["identity"]["human"], "alice@corp.com");
        assert!(receipt["signature"].is_object(), "signed: {receipt}");
    }
    assert_eq!(dir.verify("chain.jsonl").status.code(), Some(0), "{}", text(&dir.verify("chain.jsonl").stderr));

    let original = std::fs::read_to_string(dir.0.join("chain.jsonl")).unwrap();
    let edited = original.replacen("\"decision\":\"deny\"", "\"decision\":\"allow\"", 1);
    assert_ne!(edited, original);
    std::fs::write(dir.0.join("edited.jsonl"), edited).unwrap();
    let out = dir.verify("edited.jsonl");
    assert_eq!(out.status.code(), Some(1), "an edited receipt is refused: {}", text(&out.stdout));
}

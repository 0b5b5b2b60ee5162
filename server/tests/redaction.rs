#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]
//! Fields marked `@redact` never leave the service in the clear: notifications (webhook, Slack,
//! e-mail), the inbox API, the case views of operators and approvers, the receipts and the
//! decision log show a keyed hash instead; the decision is still made on the real value, and
//! the agent that submitted the request still reads it.

mod common;

use aarm_server::config::DecisionLogSection;
use common::{eventually, Deployment};
use serde_json::{json, Value};

const SECRET: &str = "vault-code-8812";

const POLICY: &str = r#"
policy pay version "1"
tool transfer { amount: Int, to: String, memo: String @redact }
group finance = ["cfo@corp.com", "controller@corp.com"]

rule petty on transfer priority 95 {
  when params.memo == "petty cash"
  deny
  reason "transfer.petty" "petty cash is not paid by transfer"
}

rule big on transfer priority 90 {
  when params.amount > 1000
  step_up {
    approvers 1 of finance
    timeout 1h -> deny
    notify "webhook:audit", "slack:#finance", "email:approvals@corp.com"
  }
  reason "transfer.big" "Transfer of {params.amount} to {params.to} needs approval"
}

rule small on transfer { allow }
"#;

fn transfer(amount: i64, memo: &str) -> Value {
    json!({
        "action": { "tool": "transfer", "params": { "amount": amount, "to": "acme", "memo": memo } },
        "identity": { "human": "alice@corp.com", "service": "svc-payments" },
        "context": { "original_request": "pay the acme invoice" }
    })
}

fn hidden(what: &str, text: &str) {
    assert!(!text.contains(SECRET), "the redacted memo is in {what}:\n{text}");
}

/// The memo's digest as a view shows it.
fn memo_digest(params: &Value) -> String {
    let digest = params["memo"]["redacted"].as_str().unwrap_or_else(|| panic!("not redacted: {params}"));
    assert!(digest.starts_with("hmac-sha256:") && digest.len() == "hmac-sha256:".len() + 64, "{digest}");
    digest.to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_redacted_field_shows_only_its_keyed_hash_outside_the_evaluator() {
    let logs = common::temp_dir("redaction-log");
    let log = logs.path().join("decisions.jsonl");
    let section = DecisionLogSection { path: log.display().to_string(), redact: vec!["params.to".into()], queue: 100 };
    let d = Deployment::start_with("redaction", POLICY, |o| {
        o.config.decision_log = Some(section);
        o.sign_key = Some(ed25519_dalek::SigningKey::from_bytes(&[7; 32]));
    })
    .await;

    // The decision is made on the real value.
    assert_eq!(d.decide(transfer(5000, "petty cash")).await["decision"], "deny");
    let decided = d.decide(transfer(5000, SECRET)).await;
    assert_eq!(decided["decision"], "step_up", "{decided}");
    assert_eq!(decided["redacted"], json!(["params.memo"]));
    let id = decided["case"].as_str().unwrap().to_string();

    // Notifications: the webhook and Slack bodies as received, and the e-mail.
    let hook = d.receiver.wait_for("/hook", 1).await.remove(0);
    hidden("the webhook body", &String::from_utf8_lossy(&hook.body));
    let hook_digest = memo_digest(&hook.json()["case"]["action"]["params"]);
    let slack = d.receiver.wait_for("/slack", 1).await.remove(0);
    hidden("the Slack message", &String::from_utf8_lossy(&slack.body));
    let mail = d.smtp.wait_for(1).await.remove(0);
    hidden("the e-mail", &mail);

    // The inbox API, as an approver reads it.
    let (status, inbox) = d.get("/v1/inbox", "tok-cfo").await;
    assert_eq!(status, 200, "{inbox}");
    hidden("the inbox", &inbox.to_string());
    let item = inbox["cases"].as_array().unwrap().iter().find(|i| i["case"]["id"] == id.as_str()).unwrap();
    assert_eq!(item["case"]["redacted"], json!(["params.memo"]));
    assert_eq!(memo_digest(&item["case"]["request"]["action"]["params"]), hook_digest, "one value, one digest");
    assert_eq!(memo_digest(&item["context"]["action"]["params"]), hook_digest);

    // The operator's view; the requesting agent reads what it sent.
    let (_, ops) = d.get(&format!("/v1/cases/{id}"), "tok-ops").await;
    hidden("the operator's case view", &ops.to_string());
    let (_, own) = d.get(&format!("/v1/cases/{id}"), "agent-token").await;
    assert_eq!(own["request"]["action"]["params"]["memo"], SECRET);

    // The same value gets the same digest in another case of the deployment.
    let again = d.decide(transfer(7000, SECRET)).await["case"].as_str().unwrap().to_string();
    let (_, other) = d.get(&format!("/v1/cases/{again}"), "tok-ops").await;
    assert_eq!(memo_digest(&other["request"]["action"]["params"]), hook_digest);

    // Released: the approver's answer hides it, the agent's wait answer carries it.
    let (status, approved) = d.post(&format!("/v1/cases/{id}/approve"), "tok-cfo", json!({})).await;
    assert_eq!((status, approved["state"].as_str()), (200, Some("allowed")), "{approved}");
    hidden("the approver's answer", &approved.to_string());
    assert_eq!(memo_digest(&approved["released_action"]["params"]), hook_digest);
    let (_, waited) = d.get(&format!("/v1/cases/{id}/wait?timeout_s=0"), "agent-token").await;
    assert_eq!(waited["released_action"]["params"]["memo"], SECRET);

    // Receipts and the decision log.
    let (status, receipts) = d.get("/v1/receipts", "tok-ops").await;
    assert_eq!(status, 200);
    hidden("the receipts", &receipts.to_string());
    let lines: Vec<Value> = eventually("three decision lines", || async {
        let text = std::fs::read_to_string(&log).unwrap_or_default();
        let lines: Vec<Value> = text.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
        (lines.len() == 3).then_some(lines)
    })
    .await;
    hidden("the decision log", &std::fs::read_to_string(&log).unwrap());
    let line = &lines[1];
    assert_eq!(line["redacted"], json!(["params.memo"]));
    assert_eq!(line["params"]["to"], "[redacted]", "the configured list applies too");
    assert_eq!(memo_digest(&line["params"]), hook_digest);
    assert_eq!(line["params"]["amount"], 5000);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_a_signing_key_a_redacted_value_is_withheld() {
    let d = Deployment::start_with("redaction-unkeyed", POLICY, |_| {}).await;
    let id = d.decide(transfer(5000, SECRET)).await["case"].as_str().unwrap().to_string();
    let (_, ops) = d.get(&format!("/v1/cases/{id}"), "tok-ops").await;
    hidden("the operator's case view", &ops.to_string());
    assert_eq!(ops["request"]["action"]["params"]["memo"], json!({ "redacted": "withheld" }));
    let hook = d.receiver.wait_for("/hook", 1).await.remove(0);
    assert_eq!(hook.json()["case"]["action"]["params"]["memo"], json!({ "redacted": "withheld" }));
}

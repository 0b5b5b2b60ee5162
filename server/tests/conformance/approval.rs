//! The Approval Service's requirements table (MUST and SHOULD rows), through `aarm serve`.

use super::{case_as, case_id, receipts_of};
use crate::common::{tool, transfer, Deployment, POLICY, WAIT_BOUND};
use serde_json::{json, Value};
use std::time::Duration;

/// A step-up and a deferral that escalates to the same approver, both announced on Slack and by
/// e-mail, so that the two kinds of request can be told apart on one channel.
const TWO_SOURCES: &str = r#"
policy desk version "1"
tool pay { amount: Int }
tool rotate { env: String }
evidence window_ok: Bool from "maintenance_api"

rule pay_big on pay priority 90 {
  when params.amount > 1000
  step_up { approvers 1 of ["cfo@corp.com"]  timeout 1h -> deny  notify "slack:#finance", "email:approvals@corp.com" }
}
rule pay_ok on pay { allow }

rule rotate_prod on rotate priority 60 {
  when params.env == "prod" and evidence.window_ok is not set
  defer {
    need window_ok
    timeout 1m -> step_up { approvers 1 of ["cfo@corp.com"]  timeout 1h -> deny  notify "slack:#finance", "email:approvals@corp.com" }
  }
}
rule rotate_ok on rotate { allow }
"#;

/// The inbox entry of case `id` for approver `token`, if it is there.
async fn inbox_item(d: &Deployment, token: &str, id: &str) -> Option<Value> {
    let (status, inbox) = d.get("/v1/inbox", token).await;
    assert_eq!(status, 200, "{inbox}");
    inbox["cases"].as_array().unwrap().iter().find(|c| c["case"]["id"] == id).cloned()
}

/// MUST: no effect before the approval. The agent's wait is held while the case is pending and
/// released by the approval; before it, the case holds no outcome the host could act on.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn approval_service_must_block_execution_until_a_decision() {
    let d = Deployment::start("conf-block").await;
    let decision = d.decide(transfer(5000)).await;
    assert_eq!(decision["decision"], "step_up");
    let id = case_id(&decision);
    let waiter = d.agent_waiting(&id).await;
    let pending = case_as(&d, &id, "agent-token").await;
    assert_eq!((pending["state"].as_str(), pending["resolved"].as_bool()), (Some("pending_approval"), Some(false)));
    assert!(!waiter.is_finished(), "the wait is held while nobody has decided");

    let (status, _) = d.post(&format!("/v1/cases/{id}/approve"), "tok-controller", json!({})).await;
    assert_eq!(status, 200);
    let (_, waited) = tokio::time::timeout(WAIT_BOUND, waiter).await.expect("the approval releases the wait").unwrap();
    assert_eq!((waited["state"].as_str(), waited["outcome"]["decision"].as_str()), (Some("allowed"), Some("allow")));
}

/// MUST: the request goes to the approvers the policy configures, and only they can decide it:
/// they see it in their inbox and their channels are notified; anyone else is refused.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn approval_service_must_route_to_configured_approvers() {
    let d = Deployment::start("conf-route").await;
    let decision = d.decide(transfer(5000)).await;
    let id = case_id(&decision);
    assert_eq!(decision["step_up"]["approvers"], json!(["cfo@corp.com", "controller@corp.com"]));
    for approver in ["tok-cfo", "tok-controller"] {
        assert!(inbox_item(&d, approver, &id).await.is_some(), "{approver} sees the case");
    }
    assert!(inbox_item(&d, "tok-outsider", &id).await.is_none(), "an outsider does not");
    let hook = d.receiver.wait_for("/hook", 1).await.remove(0).json();
    assert_eq!(hook["case"]["approvers"], json!(["cfo@corp.com", "controller@corp.com"]));
    let mail = d.smtp.wait_for(1).await.remove(0);
    assert!(mail.contains("To: approvals@corp.com"), "{mail}");

    let (status, body) = d.post(&format!("/v1/cases/{id}/approve"), "tok-outsider", json!({})).await;
    assert_eq!((status, body["reason"].as_str()), (403, Some("not_an_approver")));
    let (status, case) = d.post(&format!("/v1/cases/{id}/approve"), "tok-cfo", json!({})).await;
    assert_eq!((status, case["state"].as_str()), (200, Some("allowed")), "{case}");
}

/// MUST: the timeout the policy configures (`timeout 2s -> deny`) fires without any request, and
/// its outcome is a deny; not a moment before.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn approval_service_must_enforce_a_configurable_timeout() {
    let d = Deployment::start("conf-timeout").await;
    let decision = d.decide(tool("wire", 5000)).await;
    assert_eq!(
        (decision["step_up"]["timeout_s"].as_i64(), decision["step_up"]["on_timeout"].as_str()),
        (Some(2), Some("deny"))
    );
    let id = case_id(&decision);
    d.advance(Duration::from_millis(1999)).await;
    assert_eq!(case_as(&d, &id, "agent-token").await["state"], "pending_approval");
    assert_eq!(d.advance(Duration::from_millis(1)).await, vec![id.clone()]);
    let case = case_as(&d, &id, "agent-token").await;
    assert_eq!((case["state"].as_str(), case["outcome"]["decision"].as_str()), (Some("denied"), Some("deny")));
    let events: Vec<Value> = receipts_of(&d, &id).await.iter().map(|r| r["event"].clone()).collect();
    assert_eq!(events, [json!("open"), json!("timeout")]);
}

/// MUST: approvers see the full action context: the original request, the action with its
/// parameters, the prior actions of the session, the data classifications, the identity chain,
/// and the rule that asks and why.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn approval_service_must_present_full_action_context() {
    let d = Deployment::start("conf-context").await;
    let mut earlier = json!({ "action": { "tool": "patch", "params": { "env": "dev" } } });
    earlier["identity"]["session"] = json!("s-ctx");
    assert_eq!(d.decide(earlier).await["decision"], "allow");
    let mut request = transfer(5000);
    request["identity"]["session"] = json!("s-ctx");
    let id = case_id(&d.decide(request).await);

    let item = inbox_item(&d, "tok-cfo", &id).await.expect("the case is in the approver's inbox");
    let c = &item["context"];
    assert_eq!(c["original_request"], "pay the acme invoice");
    assert_eq!(c["action"]["tool"], "transfer");
    assert_eq!(c["action"]["params"], json!({ "amount": 5000, "to": "acme" }));
    assert_eq!(c["prior_actions"], json!([{ "tool": "patch", "decision": "allow" }]));
    assert_eq!(c["data_classes"], json!(["PII"]));
    let identity = &c["identity"];
    let chain = ["human", "service", "agent", "session"].map(|k| identity[k].as_str().unwrap_or_default().to_string());
    assert_eq!(chain, ["alice@corp.com", "svc-payments", "finance-agent", "s-ctx"]);
    assert_eq!(c["rule"], "pay.big");
    assert_eq!(c["reason"], "Transfer of 5000 to acme needs approval");
    let hook = d.receiver.wait_for("/hook", 1).await.remove(0).json();
    assert_eq!(hook["case"]["original_request"], c["original_request"], "the notification carries the same context");
}

/// MUST: the receipt records who approved or denied (as authenticated), the decision, the time
/// and the reason.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn approval_service_must_record_approver_identity_and_decision_in_the_receipt() {
    let d = Deployment::start("conf-receipt").await;
    let id = case_id(&d.decide(transfer(5000)).await);
    let now = d.time.now_ms().div_euclid(1000);
    let (status, _) =
        d.post(&format!("/v1/cases/{id}/deny"), "tok-controller", json!({ "why": "vendor not on file" })).await;
    assert_eq!(status, 200);
    let receipts = receipts_of(&d, &id).await;
    let deny = receipts.iter().find(|r| r["event"] == "deny").expect("a deny receipt");
    assert_eq!(deny["actor"], "controller@corp.com");
    assert_eq!(deny["detail"]["verified_actor"], json!({ "id": "controller@corp.com", "method": "bearer" }));
    assert_eq!((deny["state"].as_str(), deny["decision"].as_str()), (Some("denied"), Some("deny")));
    assert_eq!(deny["detail"]["why"], "vendor not on file");
    assert_eq!(deny["at"], json!(now), "the time of the decision, by the service's clock");
    d.verified_chain().await;
}

/// MUST: the identity captured when the action was submitted is the case's, whatever happens
/// later; a requester's credential that expired while the case waited is re-validated before
/// the action is released (`identity_invalid` until then).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn approval_service_must_preserve_and_revalidate_the_original_identity() {
    let d = Deployment::start_with("conf-identity", POLICY, |o| o.config.auth.credential_max_age_s = Some(600)).await;
    let id = case_id(&d.decide(transfer(5000)).await);
    d.advance(Duration::from_secs(601)).await;

    let (status, body) = d.post(&format!("/v1/cases/{id}/approve"), "tok-cfo", json!({})).await;
    assert_eq!((status, body["reason"].as_str()), (409, Some("identity_invalid")), "{body}");
    assert_eq!(case_as(&d, &id, "tok-ops").await["state"], "pending_approval", "nothing was released");
    let (status, body) = d.post(&format!("/v1/cases/{id}/revalidate"), "other-agent-token", json!({})).await;
    assert_eq!((status, body["reason"].as_str()), (403, Some("not_allowed")), "only the requester renews");
    let (status, body) = d.post(&format!("/v1/cases/{id}/revalidate"), "agent-token", json!({})).await;
    assert_eq!(status, 200, "{body}");
    let (status, case) = d.post(&format!("/v1/cases/{id}/approve"), "tok-cfo", json!({})).await;
    assert_eq!((status, case["state"].as_str()), (200, Some("allowed")), "{case}");

    let receipts = receipts_of(&d, &id).await;
    let events: Vec<&str> = receipts.iter().map(|r| r["event"].as_str().unwrap()).collect();
    assert_eq!(events, ["open", "revalidate", "approve"]);
    for r in &receipts {
        assert_eq!(r["identity"]["human"], "alice@corp.com", "the identity as submitted: {r}");
        assert_eq!(r["identity"]["agent"], "finance-agent");
    }
}

/// MUST: a deferral that nobody resolves in time reaches people as an approval request (DEFER ->
/// STEP_UP), and their decision ends it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn approval_service_must_accept_escalations_from_the_deferral_service() {
    let d = Deployment::start("conf-escalation").await;
    let rotate = json!({ "action": { "tool": "rotate", "params": { "env": "prod" } } });
    let decision = d.decide(rotate).await;
    assert_eq!(decision["decision"], "defer");
    let id = case_id(&decision);
    assert_eq!(d.advance(Duration::from_secs(1)).await, vec![id.clone()], "the deferral's timeout");
    let case = case_as(&d, &id, "tok-ops").await;
    assert_eq!(case["state"], "pending_approval", "{case}");
    let item = inbox_item(&d, "tok-sre", &id).await.expect("the role's approver sees it");
    assert_eq!(item["context"]["source"], "defer_escalation");
    let (status, case) = d.post(&format!("/v1/cases/{id}/approve"), "tok-sre", json!({})).await;
    assert_eq!((status, case["state"].as_str()), (200, Some("allowed")), "{case}");
}

/// MUST: the risk level is part of the decision and of what approvers see, and the inbox puts
/// the riskiest first.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn approval_service_must_expose_the_risk_level() {
    let d = Deployment::start("conf-risk").await;
    let high = d.decide(transfer(5000)).await;
    let critical = d.decide(tool("payout", 5000)).await;
    assert_eq!((high["risk"].as_str(), critical["risk"].as_str()), (Some("high"), Some("critical")));
    let (status, inbox) = d.get("/v1/inbox", "tok-cfo").await;
    assert_eq!(status, 200, "{inbox}");
    let order: Vec<(String, String)> = inbox["cases"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| (c["case"]["id"].as_str().unwrap().to_string(), c["context"]["risk"].as_str().unwrap().to_string()))
        .collect();
    assert_eq!(order, [(case_id(&critical), "critical".to_string()), (case_id(&high), "high".to_string())]);
    let hook = d.receiver.wait_for("/hook", 2).await;
    assert!(hook.iter().any(|h| h.json()["case"]["risk"] == "critical"), "notifications carry the risk");
}

/// SHOULD: the policy's confidence reaches the host and the approvers.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn approval_service_should_expose_policy_confidence() {
    let d = Deployment::start("conf-confidence").await;
    let decision = d.decide(transfer(5000)).await;
    assert_eq!(decision["confidence"], json!(0.9));
    let id = case_id(&decision);
    let item = inbox_item(&d, "tok-cfo", &id).await.unwrap();
    assert_eq!(item["context"]["confidence"], json!(0.9));
    let slack = d.receiver.wait_for("/slack", 1).await.remove(0).json().to_string();
    assert!(slack.contains("90%"), "{slack}");
}

/// SHOULD: several notification channels: one request reaches a signed webhook, Slack and
/// e-mail, and each delivery is recorded.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn approval_service_should_support_multiple_notification_channels() {
    let d = Deployment::start("conf-channels").await;
    let id = case_id(&d.decide(transfer(5000)).await);
    let hook = d.receiver.wait_for("/hook", 1).await.remove(0);
    let ts: i64 = hook.headers["x-aarm-timestamp"].to_str().unwrap().parse().unwrap();
    let sig = hook.headers["x-aarm-signature"].to_str().unwrap();
    assert!(aarm_server::notify::webhook::verify("hook-secret", ts, &hook.body, sig), "the webhook is signed");
    let slack = d.receiver.wait_for("/slack", 1).await.remove(0).json();
    assert!(slack.to_string().contains(&id), "{slack}");
    let mail = d.smtp.wait_for(1).await.remove(0);
    assert!(mail.contains(&id), "{mail}");
    let channels = crate::common::eventually("three deliveries", || async {
        let (_, list) = d.get(&format!("/v1/cases/{id}/deliveries"), "tok-ops").await;
        let delivered: Vec<String> = list
            .as_array()?
            .iter()
            .filter(|x| x["state"] == "delivered")
            .map(|x| x["channel"].as_str().unwrap_or_default().to_string())
            .collect();
        (delivered.len() == 3).then_some(delivered)
    })
    .await;
    let mut channels = channels;
    channels.sort();
    assert_eq!(channels, ["email:approvals@corp.com", "slack:#finance", "webhook:audit"]);
}

/// SHOULD: when nobody answers within the configured window, the request goes to a backup
/// approver, who can then decide it; the escalation is announced.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn approval_service_should_escalate_on_non_response() {
    let d = Deployment::start("conf-escalate").await;
    let decision = d.decide(tool("payout", 5000)).await;
    assert_eq!(decision["step_up"]["escalate"], json!({ "after_s": 1, "to": ["security@corp.com"] }));
    let id = case_id(&decision);
    let (status, _) = d.post(&format!("/v1/cases/{id}/approve"), "tok-security", json!({})).await;
    assert_eq!(status, 403, "not a backup approver before the window passes");
    assert_eq!(d.advance(Duration::from_secs(1)).await, vec![id.clone()]);
    let hooks = d.receiver.wait_for("/hook", 2).await;
    assert!(hooks.iter().any(|h| h.json()["event"] == "escalated"), "the escalation is announced");
    let (status, case) = d.post(&format!("/v1/cases/{id}/approve"), "tok-security", json!({})).await;
    assert_eq!((status, case["state"].as_str()), (200, Some("allowed")), "{case}");
}

/// SHOULD: approvers can tell a direct step-up from an escalated deferral on every channel: the
/// Slack header, the e-mail subject and the inbox's `source`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn approval_service_should_distinguish_step_up_from_defer_escalation() {
    let d = Deployment::start_with("conf-distinct", TWO_SOURCES, |_| {}).await;
    let direct = case_id(&d.decide(json!({ "action": { "tool": "pay", "params": { "amount": 5000 } } })).await);
    d.receiver.wait_for("/slack", 1).await;
    d.smtp.wait_for(1).await;
    let deferred = case_id(&d.decide(json!({ "action": { "tool": "rotate", "params": { "env": "prod" } } })).await);
    assert_eq!(d.advance(Duration::from_secs(60)).await, vec![deferred.clone()]);

    let slack: Vec<Value> = d.receiver.wait_for("/slack", 2).await.iter().map(|h| h.json()).collect();
    let header = |id: &str| {
        let m = slack.iter().find(|m| m.to_string().contains(id)).unwrap();
        m["blocks"][0]["text"]["text"].as_str().unwrap().to_string()
    };
    assert_eq!(header(&direct), "🔐 Approval Required");
    assert_eq!(header(&deferred), "⏸️ Escalated from DEFER");
    let mails = d.smtp.wait_for(2).await;
    let subject = |id: &str| {
        let m = mails.iter().find(|m| m.contains(id)).unwrap();
        m.lines().find(|l| l.starts_with("Subject:")).unwrap().to_string()
    };
    assert!(subject(&direct).contains("[APPROVAL REQUIRED]"), "{}", subject(&direct));
    assert!(subject(&deferred).contains("[DEFER ESCALATION]"), "{}", subject(&deferred));
    for (id, source) in [(&direct, "step_up"), (&deferred, "defer_escalation")] {
        assert_eq!(inbox_item(&d, "tok-cfo", id).await.unwrap()["context"]["source"], source);
    }
}

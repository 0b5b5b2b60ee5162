//! AARM core (R1–R6, MUST) and extended (R7–R9, SHOULD) requirements that the service shows.
//! R3, R4 and R5 are shown through the CLI (`tests/conformance/aarm.rs` of the root package).

use super::{case_as, case_id};
use crate::common::{transfer, Deployment, Receiver, POLICY};
use aarm_cases::lifecycle::receipt::Receipt;
use aarm_cases::receipts::{verify_chain, VerifyOptions};
use aarm_server::config::TracingSection;
use ed25519_dalek::SigningKey;
use serde_json::json;

/// R1: nothing is released before its decision. A call without a credential gets no decision,
/// a tool the policy never heard of is still decided (the default: deny), and a suspended
/// action's wait answers "pending" until an approver decides.
/// Gap: issue 17. aarm decides what the host asks before the host runs it, but intercepts
/// nothing itself: a host that skips the call bypasses it (`aarm mcp proxy` will sit in the path).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn r1_no_action_is_released_before_its_decision() {
    let d = Deployment::start("conf-r1").await;
    let (status, body) = d.call("POST", "/v1/decide", None, Some(transfer(5))).await;
    assert_eq!((status, body["reason"].as_str()), (401, Some("unauthenticated")), "{body}");

    let unknown = d.decide(json!({ "action": { "tool": "drop_database" } })).await;
    assert_eq!(
        (unknown["decision"].as_str(), unknown["reason"]["code"].as_str()),
        (Some("deny"), Some("default.deny"))
    );

    let id = case_id(&d.decide(transfer(5000)).await);
    let (status, waited) = d.get(&format!("/v1/cases/{id}/wait?timeout_s=0"), "agent-token").await;
    assert_eq!(status, 200, "{waited}");
    assert_eq!((waited["state"].as_str(), waited["resolved"].as_bool()), (Some("pending_approval"), Some(false)));
    assert!(waited.get("outcome_summary").is_none(), "nothing to act on yet: {waited}");

    let (status, _) = d.post(&format!("/v1/cases/{id}/approve"), "tok-cfo", json!({})).await;
    assert_eq!(status, 200);
    let (_, waited) = d.get(&format!("/v1/cases/{id}/wait?timeout_s=0"), "agent-token").await;
    assert_eq!(waited["state"], "allowed");
    assert_eq!(waited["outcome_summary"]["decision"], "allow");
}

/// R2: the service accumulates each session's actions and the policy sees them: after a file
/// was read in a session, a transfer from that session is denied; the same transfer from a
/// fresh session is allowed, and a request cannot rewrite its session's history.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn r2_a_session_accumulates_the_agents_prior_actions() {
    let d = Deployment::start("conf-r2").await;
    let in_session = |mut request: serde_json::Value, session: &str| {
        request["identity"]["session"] = json!(session);
        request
    };
    let read = json!({ "action": { "tool": "read_file", "params": { "path": "/etc/customers.csv" } } });
    assert_eq!(d.decide(in_session(read, "s-read")).await["decision"], "allow");

    let after = d.decide(in_session(transfer(5), "s-read")).await;
    assert_eq!(
        (after["decision"].as_str(), after["reason"]["code"].as_str()),
        (Some("deny"), Some("exfil.after_read"))
    );
    let fresh = d.decide(in_session(transfer(5), "s-clean")).await;
    assert_eq!(fresh["decision"], "allow", "{fresh}");

    let mut forged = in_session(transfer(5), "s-read");
    forged["context"]["prior_actions"] = json!([]);
    let forged = d.decide(forged).await;
    assert_eq!((forged["decision"].as_str(), forged["reason"]["code"].as_str()), (Some("deny"), Some("input.invalid")));
}

/// R6: every receipt names the authenticated agent and is signed. A request naming another
/// agent is refused; the receipt of an allowed action names the caller's identity, verifies with
/// the service's public key, and no longer verifies once its identity is edited.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn r6_every_receipt_is_signed_and_names_the_authenticated_agent() {
    let key = SigningKey::from_bytes(&[6u8; 32]);
    let signer = key.clone();
    let d = Deployment::start_with("conf-r6", POLICY, move |o| o.sign_key = Some(signer)).await;

    let mut impostor = transfer(5);
    impostor["identity"]["agent"] = json!("ops-agent");
    let (status, body) = d.post("/v1/decide", "agent-token", impostor).await;
    assert_eq!((status, body["reason"].as_str()), (403, Some("agent_mismatch")), "{body}");

    let allowed = d.decide(transfer(5)).await;
    let (status, body) = d.get("/v1/receipts", "tok-ops").await;
    assert_eq!(status, 200, "{body}");
    let chain: Vec<Receipt> = serde_json::from_value(body).unwrap();
    let keys = [key.verifying_key()];
    let signed = VerifyOptions { keys: &keys, require_signatures: true, ..VerifyOptions::default() };
    verify_chain(&chain, &signed).unwrap();
    let receipt = chain.iter().find(|r| allowed["receipt"] == r.hash.as_str()).unwrap();
    assert_eq!(receipt.body.actor.as_deref(), Some("finance-agent"));
    assert_eq!(receipt.body.identity["agent"], "finance-agent");

    let mut edited = chain.clone();
    for r in edited.iter_mut().filter(|r| r.hash == receipt.hash) {
        r.body.identity["agent"] = json!("ops-agent");
    }
    assert!(verify_chain(&edited, &signed).is_err(), "an edited identity must not verify");
}

/// R7: the distance of an action from the original request reaches the policy's approvers,
/// and a large one is flagged as drift in what they are sent.
/// Gap: aarm does not compute or track the distance over a session; the host supplies
/// `context.semantic_distance` with each request (out of scope by design).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn r7_semantic_distance_is_weighed_and_drift_is_flagged() {
    let d = Deployment::start("conf-r7").await;
    let id = case_id(&d.decide(transfer(5000)).await);
    let hook = d.receiver.wait_for("/hook", 1).await.remove(0).json();
    assert_eq!(hook["case"]["case"], json!(id));
    assert_eq!(hook["case"]["semantic_distance"], json!(0.7));
    let slack = d.receiver.wait_for("/slack", 1).await.remove(0).json().to_string();
    assert!(slack.contains("may have drifted"), "drift above 0.5 is flagged: {slack}");
    let (_, inbox) = d.get("/v1/inbox", "tok-cfo").await;
    let item = inbox["cases"].as_array().unwrap().iter().find(|c| c["case"]["id"] == id.as_str()).cloned().unwrap();
    assert_eq!(item["context"]["semantic_distance"], json!(0.7));
}

/// R8: action telemetry in a standard format: `GET /metrics` in the Prometheus (OpenMetrics)
/// text format, every decision as a JSON line (`[decision_log]`, server/tests/signals.rs), and
/// OpenTelemetry spans over OTLP/HTTP (`[tracing]`) for each decision and case transition.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn r8_action_telemetry_is_exported_in_a_standard_format() {
    let collector = Receiver::start().await;
    let endpoint = collector.url.clone();
    let mut d = Deployment::start_with("conf-r8", POLICY, |o| {
        o.config.tracing = Some(TracingSection { otlp_endpoint: endpoint });
    })
    .await;
    assert_eq!(d.decide(transfer(10)).await["decision"], "allow");
    let text = d.metrics_text().await;
    assert!(text.contains("# TYPE aarm_decisions counter"), "{text}");
    assert!(text.contains("aarm_decisions_total{decision=\"allow\",rule=\"pay.small\"} 1"), "{text}");
    assert!(text.ends_with("# EOF\n"), "{text}");
    d.stop().await;
    let spans = collector.spans();
    let decide = spans.iter().find(|s| s.name == "aarm.decide").unwrap_or_else(|| panic!("{spans:?}"));
    assert_eq!((decide.service.as_str(), decide.attributes["aarm.decision"].as_str()), ("aarm", "allow"));
    assert_eq!(decide.attributes["aarm.rule"], "pay.small");
}

/// R9: each credential reaches only what its role needs, checked at the time of the action: an
/// agent decides and follows its own cases, never approves; an approver approves only the cases
/// that name them and decides nothing; another agent cannot read the case; an agent cannot claim
/// a role its credential does not hold, nor act for a human it does not list.
/// Gap: aarm issues no credentials (no just-in-time or per-operation scoping).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn r9_each_credential_acts_only_within_its_scope() {
    let d = Deployment::start("conf-r9").await;
    let id = case_id(&d.decide(transfer(5000)).await);
    let before = d.snapshot().await;
    let mut as_admin = transfer(5);
    as_admin["identity"]["roles"] = json!(["admin"]);
    let mut for_cfo = transfer(5);
    for_cfo["identity"]["human"] = json!("cfo@corp.com");
    let approve = format!("/v1/cases/{id}/approve");
    let refused = [
        ("POST", approve.clone(), "agent-token", Some(json!({})), "not_an_approver"),
        ("POST", approve, "tok-outsider", Some(json!({})), "not_an_approver"),
        ("POST", "/v1/decide".to_string(), "tok-cfo", Some(transfer(5)), "not_an_agent"),
        ("GET", format!("/v1/cases/{id}"), "other-agent-token", None, "not_allowed"),
        ("POST", "/v1/decide".to_string(), "agent-token", Some(as_admin), "roles_not_held"),
        ("POST", "/v1/decide".to_string(), "other-agent-token", Some(for_cfo), "human_not_allowed"),
    ];
    for (method, path, token, body, reason) in refused {
        let (status, answer) = d.call(method, &path, Some(token), body).await;
        assert_eq!((status, answer["reason"].as_str()), (403, Some(reason)), "{method} {path} as {token}: {answer}");
    }
    assert_eq!(d.snapshot().await, before, "refused calls change nothing");
    assert_eq!(case_as(&d, &id, "agent-token").await["state"], "pending_approval");
}

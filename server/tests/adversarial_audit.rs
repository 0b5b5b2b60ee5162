//! Issue 13, "Audit trail" and "Identities", through the real server: every decision leaves a
//! receipt its answer names, evidence is attributed and never replaced, role-based approvers
//! can veto, identities compare in one normalized form, and a release after the requester's
//! credential expired needs a valid one first.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]

mod common;

use common::{transfer, Deployment, POLICY};
use serde_json::{json, Value};

/// Decides as `token` (an agent's static token or a JWT).
async fn decide_as(d: &Deployment, token: &str, request: Value) -> Value {
    let (status, body) = d.post("/v1/decide", token, request).await;
    assert_eq!(status, 200, "{body}");
    body
}

#[tokio::test]
async fn every_decision_leaves_a_receipt_its_answer_names() {
    let d = Deployment::start("audit-receipts").await;
    let invalid = json!({ "action": { "tool": "transfer", "params": { "amount": "lots", "to": "acme" } } });
    let mut answers = Vec::new();
    for i in 0..21 {
        let request = match i % 3 {
            0 => transfer(5),      // allow
            1 => invalid.clone(),  // deny, input.invalid
            _ => transfer(50_000), // step_up: opens a case
        };
        answers.push(d.decide(request).await);
    }
    let chain = d.verified_chain().await;
    assert_eq!(chain.len(), 21, "one receipt per decision");
    for (i, a) in answers.iter().enumerate() {
        let hash = a["receipt"].as_str().unwrap_or_else(|| panic!("decision {i} names no receipt: {a}"));
        let r = chain.iter().find(|r| r.hash == hash).unwrap_or_else(|| panic!("receipt of decision {i} not stored"));
        assert_eq!(r.body.decision, a["decision"].as_str().unwrap(), "decision {i}");
        match a["decision"].as_str().unwrap() {
            "step_up" => {
                assert_eq!((r.body.event.as_str(), r.body.case.as_str()), ("open", a["case"].as_str().unwrap()))
            }
            _ => {
                assert_eq!((r.body.event.as_str(), r.body.case.as_str()), ("decide", ""), "decision {i}");
                assert_eq!(r.body.actor.as_deref(), Some("finance-agent"), "who asked");
                assert_eq!(r.case_seq, None, "a decision without a case has no per-case link");
            }
        }
    }
}

/// Decisions in flight together share group commits (server/src/audit.rs asks for one flush per
/// batch, not one per call): each is still answered only with its own durable receipt, none is
/// lost between two flushes, and the chain verifies.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_decisions_each_get_their_own_receipt() {
    const CALLS: usize = 200;
    let d = std::sync::Arc::new(Deployment::start("audit-concurrent").await);
    let calls: Vec<_> = (0..CALLS)
        .map(|i| {
            let d = d.clone();
            // Amounts tell the answers apart; all of them allow.
            tokio::spawn(async move { (i, decide_as(&d, "agent-token", transfer(1 + i as i64)).await) })
        })
        .collect();
    let mut answers = Vec::new();
    for c in calls {
        answers.push(c.await.unwrap());
    }
    let chain = d.verified_chain().await;
    assert_eq!(chain.len(), CALLS, "one receipt per decision, none lost or doubled");
    let mut seen = std::collections::HashSet::new();
    for (i, a) in &answers {
        assert_eq!(a["decision"], "allow", "decision {i}: {a}");
        let hash = a["receipt"].as_str().unwrap_or_else(|| panic!("decision {i} names no receipt: {a}"));
        assert!(seen.insert(hash.to_string()), "decision {i} was given another decision's receipt");
        let r = chain.iter().find(|r| r.hash == hash).unwrap_or_else(|| panic!("receipt of decision {i} not stored"));
        assert_eq!(r.body.event, "decide", "decision {i}");
        assert_eq!(r.body.decision, "allow", "decision {i}");
        assert_eq!(
            r.body.action_hash,
            a["action_hash"].as_str().unwrap(),
            "decision {i}: the receipt is of its action"
        );
    }
}

#[tokio::test]
async fn evidence_is_attributed_and_a_second_value_is_refused() {
    let d = Deployment::start("audit-evidence").await;
    let case = d.decide(transfer(50_000)).await["case"].as_str().unwrap().to_string();
    let (status, body) =
        d.post(&format!("/v1/cases/{case}/evidence"), "agent-token", json!({ "window_ok": true })).await;
    assert_eq!(status, 200, "{body}");
    let (status, body) =
        d.post(&format!("/v1/cases/{case}/evidence"), "agent-token", json!({ "window_ok": false })).await;
    assert_eq!((status, body["reason"].as_str()), (409, Some("evidence_already_provided")), "{body}");
    let (_, c) = d.get(&format!("/v1/cases/{case}"), "tok-ops").await;
    assert_eq!(c["evidence"]["window_ok"], json!(true), "the first value stands");
    let chain = d.verified_chain().await;
    let provided: Vec<_> = chain.iter().filter(|r| r.body.case == case && r.body.event == "provide").collect();
    assert_eq!(provided.len(), 1, "the refused value left no receipt");
    assert_eq!(provided[0].body.actor.as_deref(), Some("finance-agent"), "who provided it");
    let expected = aarm_cases::lifecycle::action::value_hash(&json!(true));
    assert_eq!(provided[0].body.detail["value_hash"], json!(expected), "what was provided");
}

const ROLE_POLICY: &str = r#"
policy deploys version "1"
tool deploy { env: String }
rule prod on deploy priority 90 {
  when params.env == "prod"
  step_up { approvers 1 of role "security-admin"  timeout 1h -> deny }
  reason "deploy.prod" "Production deploys need a security admin"
}
rule other on deploy { allow }
"#;

#[tokio::test]
async fn a_role_based_approver_can_veto() {
    let d = Deployment::start_with("audit-role-veto", ROLE_POLICY, |o| {
        o.config.auth.approver_roles.insert("security@corp.com".into(), vec!["security-admin".into()]);
    })
    .await;
    let request = json!({ "action": { "tool": "deploy", "params": { "env": "prod" } }, "identity": { "human": "alice@corp.com" } });
    let case = d.decide(request).await["case"].as_str().unwrap().to_string();
    // Without the role: not an approver, nothing changes.
    let (status, body) = d.post(&format!("/v1/cases/{case}/deny"), "tok-cfo", json!({ "why": "no" })).await;
    assert_eq!((status, body["reason"].as_str()), (403, Some("not_an_approver")), "{body}");
    let (status, c) =
        d.post(&format!("/v1/cases/{case}/deny"), "tok-security", json!({ "why": "not this week" })).await;
    assert_eq!(status, 200, "{c}");
    assert_eq!((c["state"].as_str(), c["resolution"]["code"].as_str()), (Some("denied"), Some("vetoed")));
    let chain = d.verified_chain().await;
    let veto = chain.iter().find(|r| r.body.case == case && r.body.event == "deny").unwrap();
    assert_eq!(veto.body.detail["roles"], json!(["security-admin"]), "the verified roles are in the receipt");
}

#[tokio::test]
async fn an_approver_differing_from_the_requester_only_in_case_is_self_approval() {
    let d = Deployment::start("audit-identity-case").await;
    let mut request = transfer(50_000);
    request["identity"]["human"] = json!("CFO@Corp.com");
    let case = d.decide(request).await["case"].as_str().unwrap().to_string();
    let (status, body) = d.post(&format!("/v1/cases/{case}/approve"), "tok-cfo", json!({})).await;
    assert_eq!((status, body["reason"].as_str()), (409, Some("self_approval")), "{body}");
    // `by` in another case is still the caller.
    let (status, body) =
        d.post(&format!("/v1/cases/{case}/approve"), "tok-controller", json!({ "by": "Controller@Corp.com" })).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["state"], "allowed");
}

/// A requester or agent spelled with white space at an end, an invisible character or
/// full-width letters would be recorded as sent while comparing equal to the plain spelling:
/// the service refuses it before deciding (422 `input.invalid`), and nothing is recorded.
#[tokio::test]
async fn a_padded_or_disguised_identity_is_refused_at_the_door() {
    let d = Deployment::start("audit-identity-spoof").await;
    let before = d.snapshot().await;
    let spoofs = [
        ("human", "cfo@corp.com "),
        ("human", "\u{a0}cfo@corp.com"),
        ("human", "cfo\u{200b}@corp.com"),
        ("human", "cfo\u{ff20}corp.com"),
        ("human", "cfo@corp.com\u{202e}"),
        ("human", "cfo@corp.com\t"),
        ("agent", "finance-agent "),
    ];
    for (field, spoof) in spoofs {
        let mut request = transfer(50_000);
        request["identity"][field] = json!(spoof);
        let (status, body) = d.post("/v1/decide", "agent-token", request).await;
        assert_eq!((status, body["reason"].as_str()), (422, Some("input.invalid")), "{spoof:?}: {body}");
        assert!(body["message"].as_str().unwrap().contains(&format!("identity.{field}")), "{body}");
    }
    assert_eq!(d.snapshot().await, before, "a refused identity opens no case and leaves no receipt");
    // The plain spelling is decided, and its approver is still refused as the requester.
    let mut request = transfer(50_000);
    request["identity"]["human"] = json!("cfo@corp.com");
    let case = d.decide(request).await["case"].as_str().unwrap().to_string();
    let (status, body) = d.post(&format!("/v1/cases/{case}/approve"), "tok-cfo", json!({})).await;
    assert_eq!((status, body["reason"].as_str()), (409, Some("self_approval")), "{body}");
}

fn jwt(claims: Value) -> String {
    jsonwebtoken::encode(
        &jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256),
        &claims,
        &jsonwebtoken::EncodingKey::from_secret(b"jwt-test-secret"),
    )
    .unwrap()
}

fn agent_jwt(exp: i64) -> String {
    jwt(
        json!({ "iss": "https://idp.corp.com", "aud": "aarm", "sub": "finance-agent", "aarm_kind": "agent", "exp": exp }),
    )
}

#[tokio::test]
async fn a_release_after_the_requesters_jwt_expired_is_identity_invalid_until_revalidated() {
    // The issuer tolerates an hour of clock skew, so a token that expired a minute ago still
    // authenticates; the case records its `exp`, which is already past for the server's clock.
    let d = Deployment::start_with("audit-identity-expiry", POLICY, |o| {
        o.config.auth.jwt[0].leeway_s = 3600;
    })
    .await;
    let now = d.app().clock.now();
    let expired = agent_jwt(now - 60);
    let answer = decide_as(&d, &expired, transfer(50_000)).await;
    let case = answer["case"].as_str().unwrap().to_string();
    let (status, body) = d.post(&format!("/v1/cases/{case}/approve"), "tok-cfo", json!({})).await;
    assert_eq!((status, body["reason"].as_str()), (409, Some("identity_invalid")), "{body}");
    let (_, c) = d.get(&format!("/v1/cases/{case}"), "tok-ops").await;
    assert_eq!(c["state"], "pending_approval", "nothing was released");

    // Another agent cannot renew it; the same agent with a valid token can.
    let (status, _) = d.post(&format!("/v1/cases/{case}/revalidate"), "other-agent-token", json!({})).await;
    assert_eq!(status, 403);
    let fresh = agent_jwt(now + 600);
    let (status, c) = d.post(&format!("/v1/cases/{case}/revalidate"), &fresh, json!({})).await;
    assert_eq!(status, 200, "{c}");
    assert_eq!(c["credential"]["valid_until"], json!(now + 600));
    let (status, c) = d.post(&format!("/v1/cases/{case}/approve"), "tok-cfo", json!({})).await;
    assert_eq!(status, 200, "{c}");
    assert_eq!(c["state"], "allowed");
}

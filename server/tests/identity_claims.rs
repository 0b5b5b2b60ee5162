#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]
//! What an agent says about whom it acts for is held to its credential: `identity.roles` only
//! among the roles `[auth.agent_roles]` or the JWT's roles claim grant, `identity.human` and
//! `identity.service` only those `[auth.agent_humans]` / `[auth.agent_services]` or the JWT's
//! claims name. A request claiming more is refused with 403 and changes nothing.

mod common;

use common::{transfer, Deployment};
use serde_json::{json, Value};

const POLICY: &str = r#"
policy claims version "1"
tool deploy { env: String }
tool transfer { amount: Int, to: String }
group finance = ["cfo@corp.com", "controller@corp.com"]

rule admins_deploy on deploy priority 90 {
  when "admin" in identity.roles
  allow
  reason "deploy.admin" "Admins deploy"
}

rule payments_deploy on deploy priority 80 {
  when "payments" in identity.roles
  allow
  reason "deploy.payments" "Payments deploys"
}

rule big on transfer priority 90 {
  when params.amount > 1000
  step_up { approvers 1 of finance  timeout 1h -> deny }
  reason "transfer.big" "Transfer needs approval"
}

rule small on transfer { allow }
"#;

fn deploy(identity: Value) -> Value {
    json!({ "action": { "tool": "deploy", "params": { "env": "prod" } }, "identity": identity })
}

fn agent_jwt(extra: Value) -> String {
    let mut claims = json!({
        "iss": "https://idp.corp.com", "aud": "aarm", "sub": "idp-agent", "aarm_kind": "agent", "exp": 4_000_000_000_i64,
    });
    for (k, v) in extra.as_object().unwrap() {
        claims[k] = v.clone();
    }
    jsonwebtoken::encode(
        &jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256),
        &claims,
        &jsonwebtoken::EncodingKey::from_secret(b"jwt-test-secret"),
    )
    .unwrap()
}

/// The conformance finding: a static-token agent sending `"roles": ["admin"]` got the admin
/// rule's allow. Now it is refused, names the role, and nothing is decided or recorded.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_spoofed_admin_role_is_refused_and_nothing_is_allowed() {
    let d = Deployment::start_with("claims-spoof", POLICY, |_| {}).await;
    let before = d.snapshot().await;
    for token in ["agent-token", "bare-agent-token"] {
        let (status, body) = d.post("/v1/decide", token, deploy(json!({ "roles": ["admin"] }))).await;
        assert_eq!((status, body["reason"].as_str()), (403, Some("roles_not_held")), "{token}: {body}");
        let message = body["message"].as_str().unwrap();
        assert!(message.contains("`admin`") && message.contains("[auth.agent_roles]"), "{message}");
    }
    // Hidden among held roles, it is refused all the same.
    let (status, body) = d.post("/v1/decide", "agent-token", deploy(json!({ "roles": ["payments", "admin"] }))).await;
    assert_eq!((status, body["reason"].as_str()), (403, Some("roles_not_held")), "{body}");
    assert_eq!(d.snapshot().await, before, "a refused claim is neither decided nor recorded");
}

/// Roles are compared exactly: another spelling of a held role (case, padding, an invisible
/// character) is not that role, and a list mixing held roles with non-strings is never an allow.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn another_spelling_of_a_held_role_is_not_held_and_odd_lists_never_allow() {
    let d = Deployment::start_with("claims-spelling", POLICY, |_| {}).await;
    for spelled in ["Payments", "PAYMENTS", "payments ", "pay\u{200b}ments"] {
        let (status, body) =
            d.post("/v1/decide", "agent-token", deploy(json!({ "roles": ["payments", spelled] }))).await;
        assert_eq!((status, body["reason"].as_str()), (403, Some("roles_not_held")), "{spelled:?}: {body}");
    }
    for odd in [json!(["payments", 5]), json!(["payments", null]), json!(["payments", ["admin"]]), json!("admin")] {
        let (status, body) = d.post("/v1/decide", "agent-token", deploy(json!({ "roles": odd.clone() }))).await;
        assert_ne!(body["decision"].as_str(), Some("allow"), "{odd}: {status} {body}");
    }
}

/// Roles absent: the verified ones are filled in. A subset is accepted (least privilege), and
/// the policy sees only it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn verified_roles_are_filled_in_and_a_subset_is_accepted() {
    let d = Deployment::start_with("claims-subset", POLICY, |_| {}).await;
    let filled = d.decide(deploy(json!({}))).await;
    assert_eq!((filled["decision"].as_str(), filled["rule"].as_str()), (Some("allow"), Some("claims.payments_deploy")));
    let fewer = d.decide(deploy(json!({ "roles": ["finance"] }))).await;
    assert_eq!(
        (fewer["decision"].as_str(), fewer["reason"]["code"].as_str()),
        (Some("deny"), Some("default.deny")),
        "the agent gave up `payments`: {fewer}"
    );
    let none = d.decide(deploy(json!({ "roles": [] }))).await;
    assert_eq!(none["decision"], "deny", "{none}");
    // An agent with no configured roles gets none.
    let (status, bare) = d.post("/v1/decide", "bare-agent-token", deploy(json!({}))).await;
    assert_eq!((status, bare["decision"].as_str()), (200, Some("deny")), "{bare}");
}

/// A JWT agent's roles come from the issuer's roles claim (`roles_claim`).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_jwt_roles_claim_grants_an_agent_its_roles() {
    let d = Deployment::start_with("claims-jwt", POLICY, |_| {}).await;
    let admin = agent_jwt(json!({ "groups": ["admin"] }));
    let (status, body) = d.post("/v1/decide", &admin, deploy(json!({ "roles": ["admin"] }))).await;
    assert_eq!((status, body["rule"].as_str()), (200, Some("claims.admins_deploy")), "{body}");
    let (status, body) = d.post("/v1/decide", &admin, deploy(json!({}))).await;
    assert_eq!((status, body["rule"].as_str()), (200, Some("claims.admins_deploy")), "{body}");
    let plain = agent_jwt(json!({}));
    let (status, body) = d.post("/v1/decide", &plain, deploy(json!({ "roles": ["admin"] }))).await;
    assert_eq!((status, body["reason"].as_str()), (403, Some("roles_not_held")), "{body}");
}

/// An agent acts only for the humans and services its credential names; one with none
/// configured names none, and the refusal says which key to set.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_agent_acting_for_an_unlisted_human_or_service_is_refused() {
    let d = Deployment::start_with("claims-human", POLICY, |_| {}).await;
    let before = d.snapshot().await;
    let cases = [
        ("bare-agent-token", json!({ "human": "alice@corp.com" }), "human_not_allowed", "[auth.agent_humans]"),
        ("other-agent-token", json!({ "human": "bob@corp.com" }), "human_not_allowed", "[auth.agent_humans]"),
        ("bare-agent-token", json!({ "service": "svc-payments" }), "service_not_allowed", "[auth.agent_services]"),
        ("other-agent-token", json!({ "service": "svc-hr" }), "service_not_allowed", "[auth.agent_services]"),
    ];
    for (token, identity, reason, key) in cases {
        let (status, body) = d.post("/v1/decide", token, deploy(identity.clone())).await;
        assert_eq!((status, body["reason"].as_str()), (403, Some(reason)), "{token} {identity}: {body}");
        assert!(body["message"].as_str().unwrap().contains(key), "{body}");
    }
    assert_eq!(d.snapshot().await, before, "refusals change nothing");
    // The listed human and service, in any case of the address, are accepted.
    let mut listed = transfer(5);
    listed["identity"]["human"] = json!("Alice@Corp.com");
    let (status, body) = d.post("/v1/decide", "other-agent-token", listed).await;
    assert_eq!((status, body["decision"].as_str()), (200, Some("allow")), "{body}");
    // Naming nobody needs no configuration.
    let (status, body) = d.post("/v1/decide", "bare-agent-token", deploy(json!({}))).await;
    assert_eq!(status, 200, "{body}");
}

/// `self_approval`: an agent acting for the CFO cannot name another requester so that the CFO
/// approves their own transfer.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn self_approval_cannot_be_escaped_by_naming_another_human() {
    let d = Deployment::start_with("claims-self", POLICY, |_| {}).await;
    let for_cfo = agent_jwt(json!({ "acts_for": ["cfo@corp.com"], "groups": ["finance"] }));
    let as_human = |who: &str| {
        let mut t = transfer(5000);
        t["identity"]["human"] = json!(who);
        t["identity"].as_object_mut().unwrap().remove("service");
        t
    };
    let (status, body) = d.post("/v1/decide", &for_cfo, as_human("bob@corp.com")).await;
    assert_eq!((status, body["reason"].as_str()), (403, Some("human_not_allowed")), "{body}");

    let (status, body) = d.post("/v1/decide", &for_cfo, as_human("cfo@corp.com")).await;
    assert_eq!((status, body["decision"].as_str()), (200, Some("step_up")), "{body}");
    let id = body["case"].as_str().unwrap();
    let (status, body) = d.post(&format!("/v1/cases/{id}/approve"), "tok-cfo", json!({})).await;
    assert_eq!((status, body["reason"].as_str()), (409, Some("self_approval")), "{body}");
    d.verified_chain().await;
}

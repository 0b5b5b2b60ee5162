#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]
//! The service end to end on loopback: an agent decides, approvers act over HTTP, the agent's
//! long-poll returns, receipts verify; refusals change nothing.

mod common;

use common::{case_id, tool, transfer, Deployment, WAIT_BOUND};
use serde_json::{json, Value};
use std::time::Duration;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn step_up_approved_over_http_releases_the_agents_wait() {
    let d = Deployment::start("approve").await;
    let decision = d.decide(transfer(5000)).await;
    assert_eq!(decision["decision"], "step_up");
    assert_eq!(decision["rule"], "pay.big");
    let id = case_id(&decision);
    // The approvers hear of it: the webhook names the case and links to its approval.
    let hook = d.receiver.wait_for("/hook", 1).await.remove(0).json();
    assert_eq!(hook["case"]["case"], json!(id));
    assert!(hook["case"]["links"]["approve"].as_str().unwrap().contains(&format!("case={id}")));

    // The agent blocks on its case (for up to 300 s); the approver approves while it waits.
    let waiter = d.agent_waiting(&id).await;
    let (status, case) = d.post(&format!("/v1/cases/{id}/approve"), "tok-cfo", json!({})).await;
    assert_eq!(status, 200, "{case}");
    assert_eq!(case["state"], "allowed");
    // Released by the approval: well before its own 300 s, which would have answered it pending.
    let (status, waited) =
        tokio::time::timeout(WAIT_BOUND, waiter).await.expect("the approval releases the wait").unwrap();
    assert_eq!(status, 200);
    common::schema::check_answer("GET", &format!("/v1/cases/{id}/wait"), status, &waited);
    assert_eq!(waited["state"], "allowed");
    assert_eq!(waited["resolved"], true);
    assert_eq!(waited["outcome"]["decision"], "allow");

    // The approval records the verified identity, and the chain verifies.
    assert_eq!(waited["approvals"][0]["by"], "cfo@corp.com");
    assert_eq!(waited["approvals"][0]["verified_by"], "bearer");
    let chain = d.verified_chain().await;
    let approve = chain.iter().find(|r| r.body.event == "approve").unwrap();
    assert_eq!(approve.body.actor.as_deref(), Some("cfo@corp.com"));
    assert_eq!(approve.body.detail["identity_verified"], json!(true));
    let (status, receipts) = d.get(&format!("/v1/receipts?case={id}"), "agent-token").await;
    assert_eq!(status, 200);
    let events: Vec<&str> = receipts.as_array().unwrap().iter().map(|r| r["event"].as_str().unwrap()).collect();
    assert_eq!(events, ["open", "approve"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn allow_and_deny_need_no_case_and_invalid_input_is_a_deny() {
    let d = Deployment::start("plain").await;
    let allow = d.decide(transfer(10)).await;
    assert_eq!(allow["decision"], "allow");
    assert!(allow.get("case").is_none());
    let invalid = d.decide(json!({ "action": { "tool": "transfer", "params": { "amount": "many" } } })).await;
    assert_eq!(invalid["decision"], "deny");
    assert_eq!(invalid["reason"]["code"], "input.invalid");
    let (status, garbage) = d.call("POST", "/v1/decide", Some("agent-token"), None).await;
    assert_eq!(status, 200);
    assert_eq!(garbage["reason"]["code"], "input.invalid");
    let (_, cases) = d.get("/v1/cases", "tok-ops").await;
    assert_eq!(cases, json!([]));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unauthenticated_forged_and_foreign_calls_change_nothing() {
    let d = Deployment::start("auth").await;
    let id = case_id(&d.decide(transfer(5000)).await);
    let before = d.snapshot().await;
    let approve = format!("/v1/cases/{id}/approve");
    // No token, an unknown token, a forged JWT: 401.
    assert_eq!(d.call("POST", &approve, None, Some(json!({}))).await.0, 401);
    assert_eq!(d.call("POST", &approve, Some("tok-cfx"), Some(json!({}))).await.0, 401);
    let forged = jsonwebtoken::encode(
        &jsonwebtoken::Header::default(),
        &json!({ "iss": "https://idp.corp.com", "aud": "aarm", "sub": "cfo@corp.com", "aarm_kind": "approver", "exp": 4_000_000_000u64 }),
        &jsonwebtoken::EncodingKey::from_secret(b"not-the-secret"),
    )
    .unwrap();
    assert_eq!(d.call("POST", &approve, Some(&forged), Some(json!({}))).await.0, 401);
    assert_eq!(d.call("POST", "/v1/decide", None, Some(transfer(5000))).await.0, 401);
    // Authenticated but not allowed: 403 with a reason.
    let (status, body) = d.post(&approve, "tok-outsider", json!({})).await;
    assert_eq!((status, body["reason"].as_str()), (403, Some("not_an_approver")));
    let (status, body) = d.post(&approve, "agent-token", json!({})).await;
    assert_eq!((status, body["reason"].as_str()), (403, Some("not_an_approver")), "an agent approves nothing");
    let (status, body) = d.post(&approve, "tok-cfo", json!({ "by": "controller@corp.com" })).await;
    assert_eq!((status, body["reason"].as_str()), (403, Some("not_yourself")));
    let (status, body) = d.post(&format!("/v1/cases/{id}/cancel"), "other-agent-token", json!({})).await;
    assert_eq!((status, body["reason"].as_str()), (403, Some("not_allowed")), "another agent's case");
    assert_eq!(d.get(&format!("/v1/cases/{id}"), "other-agent-token").await.0, 403);
    let (status, body) = d.post("/v1/decide", "tok-cfo", transfer(5000)).await;
    assert_eq!((status, body["reason"].as_str()), (403, Some("not_an_agent")));
    let mut as_other = transfer(5000);
    as_other["identity"]["agent"] = json!("ops-agent");
    let (status, body) = d.post("/v1/decide", "agent-token", as_other).await;
    assert_eq!((status, body["reason"].as_str()), (403, Some("agent_mismatch")));
    assert_eq!(d.get("/v1/receipts", "tok-cfo").await.0, 403, "the whole chain is for operators");
    // Unknown case: 404.
    let (status, body) = d.post("/v1/cases/case-999999/approve", "tok-cfo", json!({})).await;
    assert_eq!((status, body["reason"].as_str()), (404, Some("unknown_case")));
    assert_eq!(d.snapshot().await, before, "no refused call changed a case or a receipt");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn veto_self_approval_and_lifecycle_refusals_are_409_with_their_code() {
    let d = Deployment::start("veto").await;
    let id = case_id(&d.decide(transfer(5000)).await);
    let (status, case) =
        d.post(&format!("/v1/cases/{id}/deny"), "tok-controller", json!({ "why": "unknown payee" })).await;
    assert_eq!(status, 200, "{case}");
    assert_eq!(case["state"], "denied");
    assert_eq!(case["resolution"]["code"], "vetoed");
    assert_eq!(case["denials"][0]["why"], "unknown payee");
    let (status, body) = d.post(&format!("/v1/cases/{id}/approve"), "tok-cfo", json!({})).await;
    assert_eq!((status, body["reason"].as_str()), (409, Some("case_resolved")));
    let (_, waited) = d.get(&format!("/v1/cases/{id}/wait?timeout_s=5"), "agent-token").await;
    assert_eq!(waited["outcome"]["decision"], "deny");

    // The requester cannot approve their own action.
    let mut own = transfer(5000);
    own["identity"]["human"] = json!("cfo@corp.com");
    let id = case_id(&d.decide(own).await);
    let (status, body) = d.post(&format!("/v1/cases/{id}/approve"), "tok-cfo", json!({})).await;
    assert_eq!((status, body["reason"].as_str()), (409, Some("self_approval")));
    d.verified_chain().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_clock_times_out_an_unanswered_case_without_any_request() {
    let d = Deployment::start("timeout").await;
    let id = case_id(&d.decide(tool("wire", 5000)).await);
    // The wire waits 2 s: one second in, the clock changes nothing.
    assert_eq!(d.advance(Duration::from_secs(1)).await, Vec::<String>::new());
    assert_eq!(d.get(&format!("/v1/cases/{id}"), "agent-token").await.1["state"], "pending_approval");
    // At 2 s it times out, with nobody calling; an agent waiting on the case is released.
    let waiter = d.agent_waiting(&id).await;
    assert_eq!(d.advance(Duration::from_secs(1)).await, vec![id.clone()]);
    let (_, case) = tokio::time::timeout(WAIT_BOUND, waiter).await.expect("the timeout releases the wait").unwrap();
    assert_eq!(case["state"], "denied", "{case}");
    assert_eq!(case["resolution"]["code"], "timeout");
    let chain = d.verified_chain().await;
    assert_eq!(
        chain.iter().filter(|r| r.body.case == id).map(|r| r.body.event.as_str()).collect::<Vec<_>>(),
        ["open", "timeout"]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn escalation_adds_approvers_who_can_then_approve() {
    let d = Deployment::start("escalate").await;
    let id = case_id(&d.decide(tool("payout", 5000)).await);
    // Before the escalation is due (it is due after 1 s), security is not an approver (and
    // nothing changes).
    d.receiver.wait_for("/hook", 1).await;
    let before = d.snapshot().await;
    d.advance(Duration::from_millis(999)).await;
    let (status, _) = d.post(&format!("/v1/cases/{id}/approve"), "tok-security", json!({})).await;
    assert_eq!(status, 403);
    assert_eq!(d.snapshot().await, before);
    // The clock escalates with no request arriving; the webhook hears of it.
    assert_eq!(d.advance(Duration::from_millis(1)).await, vec![id.clone()]);
    let mut hits: Vec<Value> = d.receiver.wait_for("/hook", 2).await.iter().map(|h| h.json()).collect();
    // (Sorted: under load the first delivery may arrive after the escalation's.)
    hits.sort_by_key(|h| h["event"].as_str().unwrap().to_string());
    let events: Vec<&Value> = hits.iter().map(|h| &h["event"]).collect();
    assert_eq!(events, [&json!("approval_requested"), &json!("escalated")]);
    assert_eq!(hits[1]["case"]["escalated_to"], json!(["security@corp.com"]));
    let (_, case) = d.get(&format!("/v1/cases/{id}"), "tok-ops").await;
    assert_eq!(case["escalated"], true);
    let (status, case) = d.post(&format!("/v1/cases/{id}/approve"), "tok-security", json!({})).await;
    assert_eq!(status, 200, "{case}");
    assert_eq!(case["state"], "allowed");
    let chain = d.verified_chain().await;
    let events: Vec<&str> = chain.iter().filter(|r| r.body.case == id).map(|r| r.body.event.as_str()).collect();
    assert_eq!(events, ["open", "escalate", "approve"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn evidence_reevaluates_and_a_deferral_escalates_to_a_role() {
    let d = Deployment::start("defer").await;
    let rotate = json!({ "action": { "tool": "rotate", "params": { "env": "prod" } } });
    let id = case_id(&d.decide(rotate.clone()).await);
    let (status, case) = d.post(&format!("/v1/cases/{id}/evidence"), "agent-token", json!({ "window_ok": true })).await;
    assert_eq!(status, 200, "{case}");
    assert_eq!(case["state"], "allowed");
    let (status, body) = d.post(&format!("/v1/cases/{id}/evidence"), "agent-token", json!({ "window_ok": true })).await;
    assert_eq!((status, body["reason"].as_str()), (409, Some("case_resolved")));

    // Nobody provides it: the deferral becomes a step-up to role "sre" (a defer escalation).
    let id = case_id(&d.decide(rotate).await);
    let (status, body) = d.post(&format!("/v1/cases/{id}/evidence"), "agent-token", json!({ "nonsense": 1 })).await;
    assert_eq!((status, body["reason"].as_str()), (409, Some("undeclared_evidence")));
    assert_eq!(d.advance(Duration::from_secs(1)).await, vec![id.clone()], "the deferral's 1 s timeout");
    let hits = d.receiver.wait_for("/hook", 1).await;
    let msg = hits[0].json();
    assert_eq!(msg["case"]["source"], "defer_escalation");
    assert_eq!(msg["case"]["approver_role"], "sre");
    // The role comes from serve.toml's approver_roles; a deny by the role holder vetoes.
    let (status, case) = d.post(&format!("/v1/cases/{id}/deny"), "tok-sre", json!({ "why": "not now" })).await;
    assert_eq!(status, 200, "{case}");
    assert_eq!(case["state"], "denied");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_retried_approval_is_applied_once() {
    let d = Deployment::start("retry").await;
    let id = case_id(&d.decide(transfer(5000)).await);
    let send = || {
        d.http
            .post(format!("{}/v1/cases/{id}/approve", d.base))
            .bearer_auth("tok-cfo")
            .header("Idempotency-Key", "approve-1")
            .json(&json!({}))
            .send()
    };
    let first = send().await.unwrap();
    assert_eq!(first.status(), 200);
    let first: Value = first.json().await.unwrap();
    let before = d.snapshot().await;
    // The answer was lost; the approver's client retries: the same case, not `case_resolved`.
    let again = send().await.unwrap();
    assert_eq!(again.status(), 200);
    assert_eq!(again.json::<Value>().await.unwrap(), first);
    assert_eq!(d.snapshot().await, before);
    // Someone else with the same key learns nothing and changes nothing.
    let foreign = d
        .http
        .post(format!("{}/v1/cases/{id}/approve", d.base))
        .bearer_auth("tok-outsider")
        .header("Idempotency-Key", "approve-1")
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    assert_eq!(foreign.status(), 403);
    assert_eq!(d.snapshot().await, before);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_session_accumulates_prior_actions_across_requests() {
    let d = Deployment::start("session").await;
    let mut pay = transfer(10);
    pay["identity"]["session"] = json!("s-1");
    assert_eq!(d.decide(pay.clone()).await["decision"], "allow");
    let read = json!({ "action": { "tool": "read_file", "params": { "path": "/etc/customers.csv" } }, "identity": { "session": "s-1" } });
    assert_eq!(d.decide(read).await["decision"], "allow");
    // Without sending prior_actions, the host's next transfer in the session sees the read.
    let after = d.decide(pay.clone()).await;
    assert_eq!(after["decision"], "deny", "{after}");
    assert_eq!(after["reason"]["code"], "exfil.after_read");
    // Another session, or the same session id of another agent, starts clean.
    let mut other = pay.clone();
    other["identity"]["session"] = json!("s-2");
    assert_eq!(d.decide(other).await["decision"], "allow");
    let (status, fresh) = d.post("/v1/decide", "other-agent-token", pay.clone()).await;
    assert_eq!((status, fresh["decision"].as_str()), (200, Some("allow")));
    // The service's history is the only one believed in a session: a list sent with the
    // request could erase the read, so the request is denied, and the history stays.
    let mut forged = pay.clone();
    forged["context"]["prior_actions"] = json!([]);
    let refused = d.decide(forged).await;
    assert_eq!(
        (refused["decision"].as_str(), refused["reason"]["code"].as_str()),
        (Some("deny"), Some("input.invalid"))
    );
    assert!(refused["reason"]["message"].as_str().unwrap().contains("context.prior_actions"), "{refused}");
    assert_eq!(d.decide(pay.clone()).await["reason"]["code"], "exfil.after_read");
    // Without a session, a host gives its own list and is believed.
    let mut own = pay;
    own["identity"]["session"] = json!("");
    own["context"]["prior_actions"] = json!([]);
    assert_eq!(d.decide(own).await["decision"], "allow");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn jwt_approvers_and_listing_by_state() {
    let d = Deployment::start("jwt").await;
    let id = case_id(&d.decide(transfer(5000)).await);
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs();
    let token = jsonwebtoken::encode(
        &jsonwebtoken::Header::default(),
        &json!({ "iss": "https://idp.corp.com", "aud": "aarm", "sub": "controller@corp.com", "aarm_kind": "approver", "exp": now + 300 }),
        &jsonwebtoken::EncodingKey::from_secret(b"jwt-test-secret"),
    )
    .unwrap();
    let (status, pending) = d.get("/v1/cases?state=pending", &token).await;
    assert_eq!(status, 200);
    assert_eq!(pending.as_array().unwrap().len(), 1);
    let (status, case) = d.post(&format!("/v1/cases/{id}/approve"), &token, json!({})).await;
    assert_eq!(status, 200, "{case}");
    assert_eq!(case["approvals"][0]["verified_by"], "jwt");
    let (_, pending) = d.get("/v1/cases?state=pending", &token).await;
    assert_eq!(pending, json!([]));
    let (_, allowed) = d.get("/v1/cases?state=allowed", "agent-token").await;
    assert_eq!(allowed.as_array().unwrap().len(), 1);
    assert_eq!(d.get("/v1/cases?state=bogus", "agent-token").await.0, 400);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn limits_refuse_oversized_bodies() {
    let d = Deployment::start_with("limits", common::POLICY, |o| o.limits.max_body_bytes = 4096).await;
    let mut big = transfer(10);
    big["context"]["original_request"] = json!("x".repeat(10_000));
    let (status, _) = d.post("/v1/decide", "agent-token", big).await;
    assert_eq!(status, 413);
    let (status, _) = d.get("/v1/nowhere", "agent-token").await;
    assert_eq!(status, 404);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn server_sent_events_follow_the_case_until_it_is_resolved() {
    let d = Deployment::start("sse").await;
    let id = case_id(&d.decide(transfer(5000)).await);
    let mut res =
        d.http.get(format!("{}/v1/cases/{id}/events", d.base)).bearer_auth("agent-token").send().await.unwrap();
    assert_eq!(res.status(), 200);
    assert!(res.headers()["content-type"].to_str().unwrap().starts_with("text/event-stream"));
    let mut seen = String::new();
    while !seen.contains("\"state\":\"pending_approval\"") {
        seen.push_str(&String::from_utf8_lossy(&res.chunk().await.unwrap().unwrap()));
    }
    let (status, _) = d.post(&format!("/v1/cases/{id}/approve"), "tok-cfo", json!({})).await;
    assert_eq!(status, 200);
    // The stream sends the resolved case, then ends.
    while let Some(chunk) = tokio::time::timeout(WAIT_BOUND, res.chunk()).await.unwrap().unwrap() {
        seen.push_str(&String::from_utf8_lossy(&chunk));
    }
    let events: Vec<&str> = seen.lines().filter(|l| l.starts_with("event:")).collect();
    assert_eq!(events, ["event: case", "event: case"], "{seen}");
    assert!(seen.contains("\"state\":\"allowed\""), "{seen}");
    assert_eq!(d.get(&format!("/v1/cases/{id}/events"), "other-agent-token").await.0, 403);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_store_or_rule_is_a_deny_never_an_allow() {
    let policy = format!(
        "{}\nrule broken on read_file priority 99 {{\n  when params.path.len() / (params.path.len() - params.path.len()) > 0\n  allow\n}}\n",
        common::POLICY
    );
    let d = Deployment::start_with("failclosed", &policy, |_| {}).await;
    // An evaluation error (division by zero) denies.
    let read = json!({ "action": { "tool": "read_file", "params": { "path": "/x" } } });
    let denied = d.decide(read).await;
    assert_eq!(denied["decision"], "deny", "{denied}");
    assert_eq!(denied["reason"]["code"], "eval.error");
    // It names the expression that failed (the bundle's span table).
    let line = policy.lines().position(|l| l.starts_with("  when params.path.len() /")).unwrap() + 1;
    let expr = "params.path.len() / (params.path.len() - params.path.len())";
    assert_eq!(denied["error_at"], json!({ "file": "policy.aarm", "line": line, "col": 8, "expr": expr }), "{denied}");
    assert_eq!(
        denied["reason"]["message"],
        format!(
            "rule {}.broken failed at policy.aarm:{line}:8 in `{expr}`: division by zero",
            denied["rule"].as_str().unwrap().split('.').next().unwrap()
        ),
    );
    // The store breaks (its case counter is corrupted by another writer): a step-up that cannot
    // be recorded is denied, and no case exists.
    let conn = rusqlite::Connection::open(d.dir.path().join("cases.db")).unwrap();
    conn.execute("UPDATE meta SET value = -5 WHERE key = 'last_case'", []).unwrap();
    let denied = d.decide(transfer(5000)).await;
    assert_eq!(denied["decision"], "deny", "{denied}");
    assert_eq!(denied["reason"]["code"], "store.unavailable");
    assert!(denied.get("case").is_none());
    assert_eq!(d.get("/v1/cases", "tok-ops").await.1, json!([]));
    // Decisions that need no case still work.
    assert_eq!(d.decide(transfer(10)).await["decision"], "allow");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_retried_decision_with_an_idempotency_key_opens_one_case() {
    let d = Deployment::start("decide-retry").await;
    let send = |token: &'static str, key: &'static str| {
        d.http
            .post(format!("{}/v1/decide", d.base))
            .bearer_auth(token)
            .header("Idempotency-Key", key)
            .json(&transfer(5000))
            .send()
    };
    let first: Value = send("agent-token", "k-1").await.unwrap().json().await.unwrap();
    let again: Value = send("agent-token", "k-1").await.unwrap().json().await.unwrap();
    common::schema::assert_decision(&first, "a decision with an Idempotency-Key");
    assert_eq!(first["decision"], "step_up");
    assert_eq!(again, first, "the retry gets the first answer, the same case");
    let (_, cases) = d.get("/v1/cases", "tok-ops").await;
    assert_eq!(cases.as_array().unwrap().len(), 1);
    // Another key is another decision; the same key from another agent is refused.
    let other: Value = send("agent-token", "k-2").await.unwrap().json().await.unwrap();
    assert_ne!(other["case"], first["case"]);
    let theirs = send("other-agent-token", "k-1").await.unwrap();
    assert_eq!(theirs.status(), 422);
    let (_, cases) = d.get("/v1/cases", "tok-ops").await;
    assert_eq!(cases.as_array().unwrap().len(), 2);
}

const BOUNDED: &str = r#"
policy bounded version "1"
settings { allow_valid 10m  action_hash_ignores ["params.sent_at"] }
tool transfer { amount: Int, to: String, sent_at: String? }
rule big on transfer priority 90 {
  when params.amount > 1000
  step_up { approvers 1 of ["cfo@corp.com", "controller@corp.com"]  valid 1h  timeout 2h -> deny }
  reason "transfer.big" "Transfer of {params.amount} needs approval"
}
rule tiny on transfer priority 10 {
  when params.amount < 10
  valid 30s
  allow
}
rule small on transfer { allow }
"#;

/// A rule's `valid` times its allow over `settings { allow_valid }`; a step-up's `valid` is in
/// the decision; an approver's `until` over HTTP narrows the approval and the allow it
/// releases, and a past, non-string or unreadable one is refused and changes nothing. Every
/// answer here is also checked against the published schemas (common::schema).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn allows_expire_by_the_rules_valid_and_an_approver_narrows_a_release() {
    let d = Deployment::start_with("bounded", BOUNDED, |_| {}).await;
    let secs = |v: &Value| aarm_runtime::value::parse_time(v.as_str().unwrap()).unwrap();
    let tiny = d.decide(transfer(5)).await;
    assert_eq!(
        (tiny["rule"].as_str(), secs(&tiny["expires_at"]) - secs(&tiny["evaluated_at"])),
        (Some("bounded.tiny"), 30)
    );
    let small = d.decide(transfer(50)).await;
    assert_eq!(secs(&small["expires_at"]) - secs(&small["evaluated_at"]), 600, "no valid of its own");

    let decision = d.decide(transfer(5000)).await;
    assert_eq!((decision["decision"].as_str(), decision["step_up"]["valid_s"].as_i64()), (Some("step_up"), Some(3600)));
    let id = case_id(&decision);
    let now = secs(&decision["evaluated_at"]);
    let at = aarm_runtime::value::format_time;
    let path = format!("/v1/cases/{id}/approve");
    let before = d.snapshot().await;
    let (status, body) = d.post(&path, "tok-cfo", json!({ "until": at(now) })).await;
    assert_eq!((status, body["reason"].as_str()), (409, Some("until_in_past")), "{body}");
    for bad in [json!(now + 600), json!("in ten minutes")] {
        let (status, body) = d.post(&path, "tok-cfo", json!({ "until": bad })).await;
        assert_eq!(status, 400, "{body}");
    }
    assert_eq!(d.snapshot().await, before, "refused approvals changed nothing");

    let (status, case) = d.post(&path, "tok-cfo", json!({ "until": at(now + 900) })).await;
    assert_eq!((status, case["state"].as_str()), (200, Some("allowed")), "{case}");
    assert_eq!(case["approvals"][0]["until"], json!(now + 900));
    assert_eq!(case["outcome"]["expires_at"], json!(at(now + 900)), "the approver's bound is under valid 1h");
    let chain = d.verified_chain().await;
    let approve = chain.iter().find(|r| r.body.event == "approve").unwrap();
    assert_eq!(approve.body.detail["until"], json!(now + 900));
}

/// The schema check every answer passes through can fail: a decision with a field the schema
/// does not publish, or without one it requires, is refused.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_schema_check_refuses_a_decision_that_drifted() {
    let d = Deployment::start("schema-drift").await;
    let decision = d.decide(transfer(10)).await;
    let mut extra = decision.clone();
    extra["unpublished"] = json!(true);
    let mut missing = decision.clone();
    missing.as_object_mut().unwrap().remove("scope");
    for drifted in [extra, missing] {
        let refused = std::panic::catch_unwind(|| common::schema::assert_decision(&drifted, "a drifted decision"));
        assert!(refused.is_err(), "{drifted}");
    }
}

/// `settings { action_hash_ignores }` over HTTP: the `action_hash` the service answers (what
/// approvals bind to) leaves the ignored parameter out, and covers every other one.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_answered_action_hash_leaves_out_only_the_ignored_parameters() {
    let d = Deployment::start_with("hash-ignores", BOUNDED, |_| {}).await;
    let sent = |amount: i64, at: &str| {
        let mut r = transfer(amount);
        r["action"]["params"]["sent_at"] = json!(at);
        r
    };
    let first = d.decide(sent(5000, "2026-11-24T10:00:00Z")).await;
    let again = d.decide(sent(5000, "2026-11-24T10:03:00Z")).await;
    let bare = d.decide(transfer(5000)).await;
    let other = d.decide(sent(5001, "2026-11-24T10:00:00Z")).await;
    assert!(first["action_hash"].as_str().unwrap().starts_with("sha256:"), "{first}");
    assert_eq!(again["action_hash"], first["action_hash"], "another sent_at: the same action");
    assert_eq!(bare["action_hash"], first["action_hash"], "no sent_at: the same action");
    assert_ne!(other["action_hash"], first["action_hash"], "another amount: another action");
    let (_, case) = d.get(&format!("/v1/cases/{}", case_id(&again)), "tok-ops").await;
    assert_eq!(case["action_hash"], first["action_hash"], "the case binds the same hash");
}

const CAPPED: &str = r#"
policy capped version "1"
tool transfer { amount: Int, to: String }
rule big on transfer priority 90 {
  when params.amount > 1000
  step_up { approvers 2 of ["cfo@corp.com", "controller@corp.com"]  limits amount  timeout 2h -> deny }
  reason "transfer.big" "Transfer of {params.amount} needs approval"
}
rule small on transfer { allow }
"#;

/// `POST /v1/cases/{id}/approve {"max": {"amount": N}}`: a cap on a parameter the step-up does
/// not list is 409 `limit_not_allowed`, one below the action's amount 409 `limit_below_action`,
/// one that is not a number (or a `max` that is not an object) 400, and none of them changes
/// anything; accepted caps are recorded on the approval and its receipt, and the release carries
/// the smallest as `limits`. Every answer here is also checked against the published schemas.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn approvers_cap_a_parameter_over_http_and_the_release_carries_the_smallest_cap() {
    let d = Deployment::start_with("capped", CAPPED, |_| {}).await;
    let decision = d.decide(transfer(4000)).await;
    assert_eq!(decision["step_up"]["limits"], json!(["amount"]), "{decision}");
    let id = case_id(&decision);
    let path = format!("/v1/cases/{id}/approve");
    let before = d.snapshot().await;
    for (max, status, reason) in [
        (json!({ "to": 1 }), 409, Some("limit_not_allowed")),
        (json!({ "amount": 3999 }), 409, Some("limit_below_action")),
        (json!({ "amount": "3999.99" }), 409, Some("limit_below_action")),
        (json!({ "amount": "lots" }), 400, None),
        (json!({ "amount": true }), 400, None),
        (json!(5000), 400, None),
    ] {
        let (got, body) = d.post(&path, "tok-cfo", json!({ "max": max })).await;
        assert_eq!(got, status, "{max}: {body}");
        if let Some(reason) = reason {
            assert_eq!(body["reason"].as_str(), Some(reason), "{max}: {body}");
        }
    }
    assert_eq!(d.snapshot().await, before, "refused approvals changed nothing");

    let (status, case) = d.post(&path, "tok-cfo", json!({ "max": { "amount": 5000 } })).await;
    assert_eq!((status, case["state"].as_str()), (200, Some("pending_approval")), "{case}");
    assert_eq!(case["approvals"][0]["max"], json!({ "amount": "5000" }));
    let (status, case) = d.post(&path, "tok-controller", json!({ "max": { "amount": "4500.00" } })).await;
    assert_eq!((status, case["state"].as_str()), (200, Some("allowed")), "{case}");
    assert_eq!(case["outcome"]["limits"], json!({ "params.amount": { "max": "4500" } }), "{case}");
    let chain = d.verified_chain().await;
    let release = chain.iter().rfind(|r| r.body.event == "approve").unwrap();
    assert_eq!(release.body.detail["max"], json!({ "amount": "4500" }));
    assert_eq!(release.body.detail["limits"], case["outcome"]["limits"]);

    // The same transfer for more is another action: its own case, which the caps do not reach.
    let more = d.decide(transfer(6000)).await;
    assert_ne!((&more["case"], &more["action_hash"]), (&decision["case"], &decision["action_hash"]));
    let (status, body) =
        d.post(&format!("/v1/cases/{}/approve", case_id(&more)), "tok-cfo", json!({ "max": { "amount": 5000 } })).await;
    assert_eq!((status, body["reason"].as_str()), (409, Some("limit_below_action")), "{body}");
}

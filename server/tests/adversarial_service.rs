#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]
//! The service as an attacker tries it: one test per promise of "Service: one path for every
//! request" (issue 13). Each runs the real server on loopback with a real SQLite store, and each
//! failed on the code before its fix.

mod common;

use common::{case_id, eventually, transfer, Deployment};
use serde_json::{json, Value};
use std::time::Duration;
use tokio::io::AsyncReadExt;

/// Generous bound for anything that waits on the server (never a timing assertion).
const PATIENCE: Duration = Duration::from_secs(30);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unparsable_body_still_binds_the_agent() {
    let d = Deployment::start("adv-unparsable").await;
    // Valid JSON but for one byte that is not UTF-8: ops-agent speaks as finance-agent.
    let as_other = b"{\"identity\":{\"agent\":\"finance-agent\"},\"action\":{\"tool\":\"transfer\",\"params\":{\"amount\":10,\"to\":\"acme\"}},\"context\":{\"original_request\":\"\xff\"}}".to_vec();
    let (status, body) = d.post_raw("/v1/decide", "other-agent-token", as_other.clone(), &[]).await;
    assert_eq!((status, body["reason"].as_str()), (403, Some("agent_mismatch")), "{body}");

    // Its own agent gets a deny, `input.invalid`, naming the bad byte.
    let (status, body) = d.post_raw("/v1/decide", "agent-token", as_other, &[]).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!((body["decision"].as_str(), body["reason"]["code"].as_str()), (Some("deny"), Some("input.invalid")));
    assert!(body["reason"]["message"].as_str().unwrap().contains("UTF-8"), "{body}");

    // And it is charged to its session like any other request: after an (unreadable) read of
    // files in session s-1, a transfer in s-1 is the exfiltration the policy forbids.
    let read = b"{\"action\":{\"tool\":\"read_file\",\"params\":{\"path\":\"/etc/customers.csv\xff\"}},\"identity\":{\"session\":\"s-1\"}}".to_vec();
    let (status, body) = d.post_raw("/v1/decide", "agent-token", read, &[]).await;
    assert_eq!((status, body["reason"]["code"].as_str()), (200, Some("input.invalid")), "{body}");
    let mut pay = transfer(10);
    pay["identity"]["session"] = json!("s-1");
    let after = d.decide(pay).await;
    assert_eq!(after["reason"]["code"], "exfil.after_read", "{after}");

    // Not JSON at all: a deny, and nothing opened.
    let (status, body) = d.post_raw("/v1/decide", "agent-token", b"not json".to_vec(), &[]).await;
    assert_eq!((status, body["reason"]["code"].as_str()), (200, Some("input.invalid")), "{body}");
    assert_eq!(d.get("/v1/cases", "tok-ops").await.1, json!([]));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_repeated_key_is_input_invalid_at_its_path() {
    let d = Deployment::start("adv-dupkey").await;
    let smuggled = br#"{"action":{"tool":"transfer","params":{"amount":500000,"amount":5,"to":"acme"}}}"#.to_vec();
    let (status, body) = d.post_raw("/v1/decide", "agent-token", smuggled, &[]).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!((body["decision"].as_str(), body["reason"]["code"].as_str()), (Some("deny"), Some("input.invalid")));
    assert!(body["reason"]["message"].as_str().unwrap().contains("$.action.params.amount"), "{body}");
    assert_eq!(d.get("/v1/cases", "tok-ops").await.1, json!([]));

    // Event bodies are read the same way: 400 `input.invalid`, and the case does not change.
    let id = case_id(&d.decide(transfer(5000)).await);
    let before = d.snapshot().await;
    let deny = br#"{"why":"fraud","why":"ok"}"#.to_vec();
    let (status, body) = d.post_raw(&format!("/v1/cases/{id}/deny"), "tok-cfo", deny, &[]).await;
    assert_eq!((status, body["reason"].as_str()), (400, Some("input.invalid")), "{body}");
    let facts = br#"{"window_ok":true,"window_ok":false}"#.to_vec();
    let (status, body) = d.post_raw(&format!("/v1/cases/{id}/evidence"), "agent-token", facts, &[]).await;
    assert_eq!((status, body["reason"].as_str()), (400, Some("input.invalid")), "{body}");
    assert!(body["message"].as_str().unwrap().contains("$.window_ok"), "{body}");
    assert_eq!(d.snapshot().await, before);
}

/// `big` needs two finance approvers, so that a second approver's deny still matters.
const QUORUM: &str = r#"
policy pay version "1"
tool transfer { amount: Int, to: String }
group finance = ["cfo@corp.com", "controller@corp.com"]
rule big on transfer priority 90 {
  when params.amount > 1000
  step_up { approvers 2 of finance  timeout 1h -> deny }
}
rule small on transfer { allow }
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_idempotency_key_answers_only_its_own_call() {
    let d = Deployment::start_with("adv-idem", QUORUM, |_| {}).await;
    let key = [("Idempotency-Key", "pay-1")];
    let small = serde_json::to_vec(&transfer(10)).unwrap();
    let (status, first) = d.post_raw("/v1/decide", "agent-token", small.clone(), &key).await;
    assert_eq!((status, first["decision"].as_str()), (200, Some("allow")), "{first}");
    assert!(first["action_hash"].as_str().unwrap().starts_with("sha256:"), "{first}");
    // The retry of the same call gets the first answer.
    assert_eq!(d.post_raw("/v1/decide", "agent-token", small, &key).await, (200, first.clone()));

    // The key with another body (a 900 000 transfer) or from another agent: 422, nothing changes.
    let before = d.snapshot().await;
    let big = serde_json::to_vec(&transfer(900_000)).unwrap();
    let (status, body) = d.post_raw("/v1/decide", "agent-token", big.clone(), &key).await;
    assert_eq!((status, body["reason"].as_str()), (422, Some("idempotency_key_reused")), "{body}");
    let (status, body) = d.post_raw("/v1/decide", "other-agent-token", big.clone(), &key).await;
    assert_eq!((status, body["reason"].as_str()), (422, Some("idempotency_key_reused")), "{body}");
    assert_eq!(d.snapshot().await, before);

    // The decide answer names the action it decided: the hash the case's approvals bind to.
    let (status, opened) = d.post_raw("/v1/decide", "agent-token", big, &[]).await;
    assert_eq!(status, 200);
    let id = case_id(&opened);
    let (_, case) = d.get(&format!("/v1/cases/{id}"), "tok-ops").await;
    assert_eq!(opened["action_hash"], case["action_hash"]);
    assert_ne!(opened["action_hash"], first["action_hash"]);

    // An approver's deny sent with the key another approver used is refused, not dropped as a
    // "retry": the veto can then be sent with its own key, and it counts.
    let (status, case) =
        d.post_raw(&format!("/v1/cases/{id}/approve"), "tok-cfo", b"{}".to_vec(), &[("Idempotency-Key", "k")]).await;
    assert_eq!((status, case["state"].as_str()), (200, Some("pending_approval")), "{case}");
    let veto = br#"{"why":"not this one"}"#.to_vec();
    let (status, body) =
        d.post_raw(&format!("/v1/cases/{id}/deny"), "tok-controller", veto.clone(), &[("Idempotency-Key", "k")]).await;
    assert_eq!((status, body["reason"].as_str()), (422, Some("idempotency_key_reused")), "{body}");
    let (status, case) =
        d.post_raw(&format!("/v1/cases/{id}/deny"), "tok-controller", veto, &[("Idempotency-Key", "k2")]).await;
    assert_eq!((status, case["state"].as_str()), (200, Some("denied")), "{case}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_jwt_without_the_configured_audience_is_refused() {
    let d = Deployment::start("adv-aud").await;
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs();
    let token = |claims: Value| {
        jsonwebtoken::encode(
            &jsonwebtoken::Header::default(),
            &claims,
            &jsonwebtoken::EncodingKey::from_secret(b"jwt-test-secret"),
        )
        .unwrap()
    };
    let with_aud = token(
        json!({ "iss": "https://idp.corp.com", "aud": "aarm", "sub": "cfo@corp.com", "aarm_kind": "approver", "exp": now + 300 }),
    );
    assert_eq!(d.get("/v1/me", &with_aud).await.0, 200);
    let without = token(
        json!({ "iss": "https://idp.corp.com", "sub": "cfo@corp.com", "aarm_kind": "approver", "exp": now + 300 }),
    );
    let (status, body) = d.get("/v1/me", &without).await;
    assert_eq!((status, body["reason"].as_str()), (401, Some("unauthenticated")), "{body}");
    assert!(body["message"].as_str().unwrap().contains("aud"), "{body}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idle_connections_are_closed_and_capped() {
    let d = Deployment::start_with("adv-conns", common::POLICY, |o| {
        o.config.server.header_read_timeout_s = 1;
        o.config.server.max_connections = 4;
    })
    .await;
    let addr = d.base.trim_start_matches("http://").to_string();
    // Twice the cap of connections that never send a request head.
    let mut idle = Vec::new();
    for _ in 0..8 {
        idle.push(tokio::net::TcpStream::connect(&addr).await.unwrap());
    }
    // The server closes every one of them (the first four at their header timeout, the others
    // once accepted in their place), and then answers a decision.
    for mut conn in idle {
        let mut buf = [0u8; 64];
        let read = tokio::time::timeout(PATIENCE, conn.read(&mut buf)).await;
        assert!(matches!(read, Ok(Ok(0)) | Ok(Err(_))), "an idle connection was left open: {read:?}");
    }
    // A client of its own without kept-alive connections: the server closes idle ones after 1 s.
    let http = reqwest::Client::builder().pool_max_idle_per_host(0).build().unwrap();
    let decided: Value = eventually("a decision after the idle connections", || async {
        let sent = http.post(format!("{}/v1/decide", d.base)).bearer_auth("agent-token").json(&transfer(10)).send();
        let res = sent.await.ok().filter(|r| r.status() == 200)?;
        res.json().await.ok()
    })
    .await;
    common::schema::assert_decision(&decided, "a decision after the idle connections");
    assert_eq!(decided["decision"], "allow");
    let health: Value = http.get(format!("{}/healthz", d.base)).send().await.unwrap().json().await.unwrap();
    assert_eq!(health["connections"]["max"], 4);
    assert!(health["connections"]["open"].as_u64().unwrap() <= 4, "{health}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_error_answer_has_a_reason_and_a_message() {
    let d = Deployment::start_with("adv-errors", common::POLICY, |o| o.limits.max_body_bytes = 4096).await;
    let shaped = |what: &str, status: u16, body: &Value, expected: (u16, &str)| {
        assert_eq!((status, body["reason"].as_str()), (expected.0, Some(expected.1)), "{what}: {body}");
        assert!(body["message"].as_str().is_some_and(|m| !m.is_empty()), "{what}: {body}");
    };
    let (status, body) = d.get("/v1/decide", "agent-token").await;
    shaped("wrong method", status, &body, (405, "method_not_allowed"));
    let big = vec![b' '; 10_000];
    let (status, body) = d.post_raw("/v1/decide", "agent-token", big, &[]).await;
    shaped("body too large", status, &body, (413, "body_too_large"));
    let huge = "x".repeat(40 * 1024);
    let (status, body) = d.post_raw("/v1/decide", "agent-token", b"{}".to_vec(), &[("x-padding", &huge)]).await;
    shaped("head too large", status, &body, (431, "headers_too_large"));
    let (status, body) = d.get("/v1/nowhere", "agent-token").await;
    shaped("unknown route", status, &body, (404, "not_found"));
    let (status, body) = d.get("/v1/cases/case-000001/wait?timeout_s=soon", "agent-token").await;
    shaped("bad query", status, &body, (400, "bad_request"));
    let (status, body) = d.get("/v1/cases/%FF", "agent-token").await;
    shaped("bad path", status, &body, (400, "bad_request"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn healthz_is_503_when_the_store_cannot_be_read_or_written() {
    let d = Deployment::start("adv-health").await;
    let (status, body) = d.call("GET", "/healthz", None, None).await;
    assert_eq!((status, body["status"].as_str()), (200, Some("ok")), "{body}");
    let db = rusqlite::Connection::open(d.dir.path().join("cases.db")).unwrap();

    // Writes fail (as on a full disk): 503.
    db.execute_batch(
        "CREATE TRIGGER no_writes BEFORE INSERT ON serve_health BEGIN SELECT RAISE(ABORT, 'disk full'); END;",
    )
    .unwrap();
    let (status, body) = d.call("GET", "/healthz", None, None).await;
    assert_eq!((status, body["reason"].as_str()), (503, Some("store.unavailable")), "{body}");
    db.execute_batch("DROP TRIGGER no_writes;").unwrap();
    assert_eq!(d.call("GET", "/healthz", None, None).await.0, 200);

    // Reads fail (the receipts are gone): 503.
    db.execute_batch("ALTER TABLE receipts RENAME TO receipts_gone;").unwrap();
    let (status, body) = d.call("GET", "/healthz", None, None).await;
    assert_eq!((status, body["reason"].as_str()), (503, Some("store.unavailable")), "{body}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreadable_case_is_quarantined_and_the_others_move_on() {
    let d = Deployment::start("adv-quarantine").await;
    // Two wires that time out after 2 s, and a transfer waiting for the CFO.
    let wire = json!({ "action": { "tool": "wire", "params": { "amount": 5000 } } });
    let broken = case_id(&d.decide(wire.clone()).await);
    let timing_out = case_id(&d.decide(wire).await);
    let waiting = case_id(&d.decide(transfer(5000)).await);
    let db = rusqlite::Connection::open(d.dir.path().join("cases.db")).unwrap();
    db.execute("UPDATE cases SET json = '{\"id\": ' WHERE id = ?1", [&broken]).unwrap();

    // The listings go on without it.
    let (status, pending) = d.get("/v1/cases?state=pending", "tok-ops").await;
    assert_eq!(status, 200, "{pending}");
    let ids: Vec<&str> = pending.as_array().unwrap().iter().map(|c| c["id"].as_str().unwrap()).collect();
    assert!(!ids.contains(&broken.as_str()) && ids.contains(&waiting.as_str()), "{ids:?}");
    let (status, inbox) = d.get("/v1/inbox", "tok-cfo").await;
    assert_eq!(status, 200, "{inbox}");
    assert!(inbox["cases"].as_array().unwrap().iter().any(|c| c["case"]["id"] == json!(waiting)), "{inbox}");

    // /healthz names it.
    let (status, health) = d.call("GET", "/healthz", None, None).await;
    assert_eq!((status, health["status"].as_str()), (200, Some("degraded")), "{health}");
    assert_eq!(health["quarantined_cases"][0]["id"], json!(broken));

    // The clock keeps moving the others: past the 2 s, the tick times the second wire out to a
    // deny (before the fix the tick stopped at the unreadable case with an error).
    let changed = d.advance(Duration::from_secs(3)).await;
    assert!(changed.contains(&timing_out), "the tick timed out {timing_out}: {changed:?}");
    let (_, case) = d.get(&format!("/v1/cases/{timing_out}"), "tok-ops").await;
    assert_eq!(case["state"], "denied", "{case}");
}

/// A payment whose amount is a `Decimal`: `big` denies over 1000, anything else is allowed; a
/// payout waits for the bank's `balance` (a `Decimal` fact) and is denied under 1000.
const DECIMAL: &str = r#"
policy pay version "1"
tool pay { amount: Decimal }
rule big on pay {
  when params.amount > 1000
  deny
  reason "pay.big" "too much"
}
rule rest on pay { allow }

evidence balance: Decimal from "bank"
tool payout { amount: Int }
rule payout_wait on payout priority 90 {
  when evidence.balance is not set
  defer { need balance  timeout 1h -> deny }
}
rule payout_low on payout priority 80 {
  when evidence.balance < 1000
  deny
  reason "payout.low" "the balance is too low"
}
rule payout_ok on payout { allow }
"#;

/// A number with more digits than a 64-bit float keeps is refused over HTTP as it is in-process
/// (`Engine::decide_json`): the server must decide on the digits the agent sent, never on a
/// rounded copy it made while reading the body (`1000.0000000000000001` read as `1000.0` slips
/// under `> 1000`).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_number_rounded_while_reading_the_body_is_not_decided_on() {
    let d = Deployment::start_with("adv-rounded", DECIMAL, |_| {}).await;
    for amount in ["1000.0000000000000001", "1000.00000000000000000000001", "0.10000000000000000001"] {
        let text = format!(r#"{{"action":{{"tool":"pay","params":{{"amount":{amount}}}}}}}"#);
        let (status, body) = d.post_raw("/v1/decide", "agent-token", text.into_bytes(), &[]).await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(
            (body["decision"].as_str(), body["reason"]["code"].as_str()),
            (Some("deny"), Some("input.invalid")),
            "{amount}: {body}"
        );
    }
    // A case event's facts are kept and decided on as a tree: a balance it would round up to
    // 1000 (`999.99999999999999999`) is refused at its path, and the case does not change.
    let payout = d.decide(json!({ "action": { "tool": "payout", "params": { "amount": 5 } } })).await;
    assert_eq!(payout["decision"], "defer", "{payout}");
    let id = case_id(&payout);
    let before = d.snapshot().await;
    let facts = br#"{"balance":999.99999999999999999}"#.to_vec();
    let (status, body) = d.post_raw(&format!("/v1/cases/{id}/evidence"), "agent-token", facts, &[]).await;
    assert_eq!((status, body["reason"].as_str()), (400, Some("input.invalid")), "{body}");
    assert!(body["message"].as_str().unwrap().contains("$.balance"), "{body}");
    assert_eq!(d.snapshot().await, before);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_decimal_sent_as_a_string_is_decided_on_exactly() {
    let d = Deployment::start_with("adv-exact", DECIMAL, |_| {}).await;
    // The same amount as a string is exact, and decided on.
    let (status, body) = d
        .post_raw(
            "/v1/decide",
            "agent-token",
            br#"{"action":{"tool":"pay","params":{"amount":"1000.0000000000000001"}}}"#.to_vec(),
            &[],
        )
        .await;
    assert_eq!((status, body["reason"]["code"].as_str()), (200, Some("pay.big")), "{body}");
}

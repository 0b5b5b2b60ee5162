#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]
//! What the inbox needs from the service, over HTTP on loopback: the inbox stream
//! (`/v1/inbox/events`), the context of an escalated deferral, and the outcome of a resolved case.

mod common;

use common::{case_id, transfer, Deployment};
use serde_json::{json, Value};
use std::time::{Duration, Instant};

const PATIENCE: Duration = Duration::from_secs(30);

/// Reads the stream until an `inbox` event satisfies `done`; answers that event's data.
async fn next_inbox(res: &mut reqwest::Response, buf: &mut String, done: impl Fn(&Value) -> bool) -> Value {
    let start = Instant::now();
    loop {
        while let Some(cut) = buf.find("\n\n") {
            let block: String = buf.drain(..cut + 2).collect();
            if !block.lines().any(|l| l == "event: inbox") {
                continue;
            }
            let data: String = block.lines().filter_map(|l| l.strip_prefix("data: ")).collect::<Vec<_>>().join("\n");
            let v: Value = serde_json::from_str(&data).unwrap();
            if done(&v) {
                return v;
            }
        }
        assert!(start.elapsed() < PATIENCE, "no such inbox event in 30 s; last bytes: {buf}");
        let chunk = tokio::time::timeout(PATIENCE, res.chunk()).await.unwrap().unwrap().expect("the stream stays open");
        buf.push_str(&String::from_utf8_lossy(&chunk));
    }
}

fn ids(inbox: &Value) -> Vec<String> {
    inbox["cases"].as_array().unwrap().iter().map(|c| c["case"]["id"].as_str().unwrap().to_string()).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_inbox_stream_follows_new_and_changed_cases() {
    let d = Deployment::start("inbox-stream").await;
    let first = case_id(&d.decide(transfer(5000)).await);
    let mut res = d.http.get(format!("{}/v1/inbox/events", d.base)).bearer_auth("tok-cfo").send().await.unwrap();
    assert_eq!(res.status(), 200);
    assert!(res.headers()["content-type"].to_str().unwrap().starts_with("text/event-stream"));
    let mut buf = String::new();
    let now = next_inbox(&mut res, &mut buf, |_| true).await;
    assert_eq!(now["approver"], "cfo@corp.com");
    assert_eq!(ids(&now), [first.as_str()]);

    // A new case shows up without asking again.
    let second = case_id(&d.decide(transfer(6000)).await);
    let now = next_inbox(&mut res, &mut buf, |v| ids(v).len() == 2).await;
    assert_eq!(ids(&now), [first.as_str(), second.as_str()]);

    // Another approver resolves the first: it leaves this approver's inbox.
    let (status, _) = d.post(&format!("/v1/cases/{first}/approve"), "tok-controller", json!({})).await;
    assert_eq!(status, 200);
    let now = next_inbox(&mut res, &mut buf, |v| ids(v).len() == 1).await;
    assert_eq!(ids(&now), [second]);

    // Only approvers have an inbox.
    let (status, body) = d.get("/v1/inbox/events", "agent-token").await;
    assert_eq!((status, body["reason"].as_str()), (403, Some("not_an_approver")));
    assert_eq!(d.call("GET", "/v1/inbox/events", None, None).await.0, 401);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_escalated_deferral_says_what_it_waited_for_and_a_resolved_case_how_it_ended() {
    let d = Deployment::start("inbox-deferral").await;
    let rotate =
        json!({ "action": { "tool": "rotate", "params": { "env": "prod" } }, "identity": { "human": "bob@corp.com" } });
    let id = case_id(&d.decide(rotate).await);
    // Nobody provides `window_ok` within the deferral's 1 s: the test's clock moves past it.
    assert_eq!(d.advance(Duration::from_secs(2)).await, vec![id.clone()], "the tick escalated the deferral");
    let (status, inbox) = d.get("/v1/inbox", "tok-sre").await;
    assert_eq!(status, 200, "{inbox}");
    let item = inbox["cases"].as_array().unwrap().iter().find(|c| c["case"]["id"] == id.as_str()).cloned();
    let item = item.expect("the escalated deferral is in the sre inbox");
    let c = &item["context"];
    assert_eq!(c["source"], "defer_escalation");
    assert_eq!(c["deferral"]["awaited"], json!(["window_ok"]));
    assert_eq!(c["deferral"]["missing"], json!(["window_ok"]));
    assert_eq!(c["deferral"]["attempts"], 0);
    assert_eq!(c["deferral"]["escalated_because"], "timeout");
    assert!(c["deferral"]["explanation"].as_str().unwrap().contains("Nobody supplied window_ok"), "{c}");
    assert!(item["case"].get("outcome_summary").is_none(), "a pending case has no outcome yet");
    // The notification carries the same context.
    let hook = d.receiver.wait_for("/hook", 1).await;
    assert_eq!(hook[0].json()["case"]["deferral"]["awaited"], json!(["window_ok"]), "{}", hook[0].json());

    // A direct step-up carries no deferral.
    let direct = case_id(&d.decide(transfer(5000)).await);
    let (_, inbox) = d.get("/v1/inbox", "tok-cfo").await;
    let item = inbox["cases"].as_array().unwrap().iter().find(|c| c["case"]["id"] == direct.as_str()).unwrap();
    assert!(item["context"].get("deferral").is_none(), "{item}");

    // Resolved: the decision, who, when and why, on the case itself.
    let (status, case) =
        d.post(&format!("/v1/cases/{id}/deny"), "tok-sre", json!({ "why": "no window tonight" })).await;
    assert_eq!(status, 200, "{case}");
    let o = &case["outcome_summary"];
    assert_eq!(o["decision"], "deny");
    assert_eq!(o["state"], "denied");
    assert_eq!(o["by"], json!(["sre-lead@corp.com"]));
    assert_eq!(o["reason_code"], "vetoed");
    assert_eq!(o["why"], "no window tonight");
    assert!(o["at"].as_str().unwrap().ends_with('Z'), "{o}");
    let (status, case) = d.post(&format!("/v1/cases/{direct}/approve"), "tok-cfo", json!({})).await;
    assert_eq!(status, 200, "{case}");
    let (_, case) = d.get(&format!("/v1/cases/{direct}"), "tok-cfo").await;
    let o = &case["outcome_summary"];
    assert_eq!((o["decision"].as_str(), o["reason_code"].as_str()), (Some("allow"), Some("approved")));
    assert_eq!(o["by"], json!(["cfo@corp.com"]));
    assert_eq!(o["why"], Value::Null);
}

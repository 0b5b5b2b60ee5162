//! Operational signals of `aarm serve` (issue 14): `/metrics` scraped after a scenario (each
//! metric moves as the scenario says), who may read it, and the decision log's lines.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]

mod common;

use aarm_server::config::{DecisionLogSection, TracingSection};
use common::{bundle, case_id, eventually, metric, metric_value, tool, transfer, Deployment, Receiver, POLICY};
use serde_json::{json, Value};
use std::time::Duration;

async fn scrape(d: &Deployment) -> String {
    let res = d.http.get(format!("{}/metrics", d.base)).bearer_auth("tok-ops").send().await.unwrap();
    assert_eq!(res.status().as_u16(), 200);
    let kind = res.headers()["content-type"].to_str().unwrap().to_string();
    assert!(kind.starts_with("application/openmetrics-text"), "{kind}");
    res.text().await.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_move_as_decisions_cases_deliveries_and_reloads_happen() {
    let d = Deployment::start_with("signals-metrics", POLICY, |o| o.reload_interval = None).await;
    let before = scrape(&d).await;
    assert_eq!(metric_value(&before, "aarm_open_cases{state=\"pending_approval\"}"), 0.0);
    assert_eq!(metric_value(&before, "aarm_deferred_total"), 0.0);

    // allow, then a deny by a rule (a transfer after a read in the same session).
    assert_eq!(d.decide(transfer(10)).await["decision"], "allow");
    let session = |mut v: Value| {
        v["identity"]["session"] = json!("s-1");
        v
    };
    let read = json!({ "action": { "tool": "read_file", "params": { "path": "/etc/passwd" } } });
    assert_eq!(d.decide(session(read)).await["decision"], "allow");
    assert_eq!(d.decide(session(transfer(10))).await["decision"], "deny");

    // Cases: a step-up approved later, one that times out, one that escalates, a deferral handed
    // to people at its timeout, and a deferral left waiting.
    let approved = case_id(&d.decide(transfer(5000)).await);
    case_id(&d.decide(tool("wire", 5000)).await);
    case_id(&d.decide(tool("payout", 5000)).await);
    case_id(&d.decide(json!({ "action": { "tool": "rotate", "params": { "env": "prod" } } })).await);
    case_id(&d.decide(json!({ "action": { "tool": "patch", "params": { "env": "prod" } } })).await);
    let opened = scrape(&d).await;
    assert_eq!(metric_value(&opened, "aarm_deferred_total"), 2.0);
    assert_eq!(metric_value(&opened, "aarm_open_cases{state=\"pending_approval\"}"), 3.0);
    assert_eq!(metric_value(&opened, "aarm_open_cases{state=\"pending_evidence\"}"), 2.0);

    // 3 s later: the wire's 2 s timeout denies it; the payout's escalation (1 s) fires; the
    // rotation's deferral (1 s) times out into a step-up to people.
    d.advance(Duration::from_secs(3)).await;
    let (status, case) = d.post(&format!("/v1/cases/{approved}/approve"), "tok-cfo", json!({})).await;
    assert_eq!((status, case["state"].as_str()), (200, Some("allowed")), "{case}");

    // A reload with a new bundle, one with the same, one that does not verify.
    std::fs::write(d.dir.path().join("policy.aarmb"), bundle(&POLICY.replace("version \"1\"", "version \"2\""), None))
        .unwrap();
    assert_eq!(d.post("/v1/admin/reload", "tok-ops", json!({})).await.0, 200);
    assert_eq!(d.post("/v1/admin/reload", "tok-ops", json!({})).await.0, 200);
    std::fs::write(d.dir.path().join("policy.aarmb"), b"not a bundle").unwrap();
    assert_eq!(d.post("/v1/admin/reload", "tok-ops", json!({})).await.0, 400);

    let text = eventually("the webhook deliveries to be counted", || async {
        let text = scrape(&d).await;
        (metric(&text, "aarm_notification_deliveries_total{channel=\"webhook:audit\",result=\"delivered\"}")
            .is_some_and(|n| n >= 4.0))
        .then_some(text)
    })
    .await;
    assert_eq!(metric_value(&text, "aarm_decisions_total{decision=\"allow\",rule=\"pay.small\"}"), 1.0);
    assert_eq!(metric_value(&text, "aarm_decisions_total{decision=\"allow\",rule=\"pay.reads\"}"), 1.0);
    assert_eq!(metric_value(&text, "aarm_decisions_total{decision=\"deny\",rule=\"pay.after_read\"}"), 1.0);
    assert_eq!(metric_value(&text, "aarm_decisions_total{decision=\"step_up\",rule=\"pay.big\"}"), 1.0);
    assert_eq!(metric_value(&text, "aarm_decisions_total{decision=\"defer\",rule=\"pay.rotate_prod\"}"), 1.0);
    assert_eq!(metric_value(&text, "aarm_decision_seconds_count"), 8.0);
    assert_eq!(metric_value(&text, "aarm_deferred_total"), 2.0);
    // The wire's approval tier and the rotation's deferral.
    assert_eq!(metric_value(&text, "aarm_case_timeouts_total"), 2.0);
    // The payout's `escalate after` and the rotation handed to people.
    assert_eq!(metric_value(&text, "aarm_case_escalations_total"), 2.0);
    // The wire (denied at its timeout) and the approved transfer, each 3 s after it opened.
    assert_eq!(metric_value(&text, "aarm_case_resolution_seconds_count"), 2.0);
    assert_eq!(metric_value(&text, "aarm_case_resolution_seconds_sum"), 6.0);
    // Waiting: the payout and the rotation for approvers, the patch for evidence.
    assert_eq!(metric_value(&text, "aarm_open_cases{state=\"pending_approval\"}"), 2.0);
    assert_eq!(metric_value(&text, "aarm_open_cases{state=\"pending_evidence\"}"), 1.0);
    assert_eq!(metric_value(&text, "aarm_bundle_reloads_total{result=\"ok\"}"), 1.0);
    assert_eq!(metric_value(&text, "aarm_bundle_reloads_total{result=\"unchanged\"}"), 1.0);
    assert_eq!(metric_value(&text, "aarm_bundle_reloads_total{result=\"failed\"}"), 1.0);
    // No series carries what an agent sent.
    assert!(!text.contains("acme") && !text.contains("finance-agent") && !text.contains("s-1"), "{text}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_are_for_operators_on_the_main_address_and_open_on_the_metrics_address() {
    let d = Deployment::start_with("signals-access", POLICY, |o| {
        o.metrics_listen = Some("127.0.0.1:0".parse().unwrap());
    })
    .await;
    assert_eq!(d.call("GET", "/metrics", None, None).await.0, 401);
    assert_eq!(d.get("/metrics", "agent-token").await.0, 403);
    assert_eq!(d.get("/metrics", "tok-cfo").await.0, 403);
    assert_eq!(d.get("/metrics", "tok-ops").await.0, 200);

    let at = d.server.as_ref().unwrap().metrics_addr.expect("the metrics address");
    let res = d.http.get(format!("http://{at}/metrics")).send().await.unwrap();
    assert_eq!(res.status().as_u16(), 200);
    let text = res.text().await.unwrap();
    assert!(text.contains("aarm_decision_seconds_count 0"), "{text}");
    // That address serves nothing else: not the decisions, not the cases.
    let res = d.http.post(format!("http://{at}/v1/decide")).bearer_auth("agent-token").json(&transfer(10)).send();
    assert_eq!(res.await.unwrap().status().as_u16(), 404);
    let res = d.http.get(format!("http://{at}/v1/cases")).bearer_auth("tok-ops").send().await.unwrap();
    assert_eq!(res.status().as_u16(), 404);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_decision_is_one_json_line_with_the_configured_fields_redacted() {
    let logs = common::temp_dir("signals-decision-log");
    let path = logs.path().join("decisions.jsonl");
    let section = DecisionLogSection {
        path: path.display().to_string(),
        redact: vec!["params.to".into(), "params.absent.deeper".into()],
        queue: 100,
    };
    let d = Deployment::start_with("signals-log", POLICY, |o| o.config.decision_log = Some(section)).await;
    let allowed = d.decide(transfer(10)).await;
    let stepped = d.decide(transfer(5000)).await;
    // A body that is not JSON is still a decision (a fail-closed deny), and still logged.
    let (status, denied) = d.post_raw("/v1/decide", "agent-token", b"{not json".to_vec(), &[]).await;
    assert_eq!((status, denied["decision"].as_str()), (200, Some("deny")));

    let lines: Vec<Value> = eventually("three decision lines", || async {
        let text = std::fs::read_to_string(&path).unwrap_or_default();
        let lines: Vec<Value> = text.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
        (lines.len() == 3).then_some(lines)
    })
    .await;
    let text = std::fs::read_to_string(&path).unwrap();
    assert!(!text.contains("acme"), "the redacted recipient is in the log:\n{text}");

    let first = &lines[0];
    assert_eq!(first["agent"], "finance-agent");
    assert_eq!(first["tool"], "transfer");
    assert_eq!(first["effect"], "allow");
    assert_eq!(first["rule"], "pay.small");
    assert_eq!(first["params"], json!({ "amount": 10, "to": "[redacted]" }));
    assert_eq!(first["receipt"], allowed["receipt"]);
    assert_eq!(first["decision_id"], allowed["decision_id"]);
    assert!(first["decision_id"].is_string(), "{first}");
    assert_eq!(first["bundle_hash"], allowed["policy"]["bundle_hash"]);
    assert!(first["reason_code"].is_string() && first["latency_ms"].is_number() && first["time"].is_string());
    assert_eq!(first["case"], Value::Null);

    assert_eq!(lines[1]["effect"], "step_up");
    assert_eq!(lines[1]["case"], stepped["case"]);
    assert_eq!(lines[1]["receipt"], stepped["receipt"]);
    assert_eq!((lines[2]["effect"].as_str(), lines[2]["reason_code"].as_str()), (Some("deny"), Some("input.invalid")));

    d.metrics_text().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn traces_of_a_decide_and_an_approval_reach_an_otlp_receiver() {
    // The collector: a receiver on loopback that keeps every request (common::Receiver).
    let collector = Receiver::start().await;
    let endpoint = format!("{}/", collector.url);
    let mut d = Deployment::start_with("signals-traces", POLICY, |o| {
        o.config.tracing = Some(TracingSection { otlp_endpoint: endpoint });
    })
    .await;

    let allowed = d.decide(transfer(10)).await;
    assert_eq!(allowed["decision"], "allow");
    let id = case_id(&d.decide(transfer(5000)).await);
    let (status, _) = d.post(&format!("/v1/cases/{id}/approve"), "tok-cfo", json!({})).await;
    assert_eq!(status, 200);
    // Stopping sends what is still batched.
    d.stop().await;

    let spans = collector.spans();
    let named = |name: &str| spans.iter().filter(|s| s.name == name).map(|s| &s.attributes).collect::<Vec<_>>();
    assert!(spans.iter().all(|s| s.service == "aarm"), "service name: {spans:?}");
    let decides = named("aarm.decide");
    assert_eq!(decides.len(), 2, "{spans:?}");
    let allow = decides.iter().find(|a| a["aarm.decision"] == "allow").unwrap();
    assert_eq!(allow["aarm.rule"], "pay.small");
    assert_eq!(allow["aarm.tool"], "transfer");
    assert_eq!(allow["aarm.agent"], "finance-agent");
    assert_eq!(allow["aarm.decision_id"], allowed["decision_id"].as_str().unwrap());
    assert!(allow["aarm.bundle_hash"].starts_with("sha256:"), "{allow:?}");
    assert!(!allow.contains_key("aarm.case.id"));
    let step_up = decides.iter().find(|a| a["aarm.decision"] == "step_up").unwrap();
    assert_eq!(step_up["aarm.case.id"], id);

    let open = named("aarm.case.open");
    assert_eq!(open.len(), 1, "{spans:?}");
    assert_eq!(
        (open[0]["aarm.case.id"].as_str(), open[0]["aarm.case.state"].as_str()),
        (id.as_str(), "pending_approval")
    );
    let approve = named("aarm.case.approve");
    assert_eq!(approve.len(), 1, "{spans:?}");
    assert_eq!(approve[0]["aarm.case.id"], id);
    assert_eq!(approve[0]["aarm.actor"], "cfo@corp.com");
    assert_eq!(approve[0]["aarm.decision"], "allow");
    assert_eq!(approve[0]["aarm.tool"], "transfer");
    assert_eq!(approve[0]["aarm.agent"], "finance-agent");
    assert!(approve[0]["aarm.receipt"].starts_with("sha256:"));
    // Parameters never leave the service.
    // Receipt digests and trace ids are hex, whose digits may spell 5000 by chance.
    let all = aarm_testkit::without_generated_ids(&format!("{spans:?}"));
    assert!(!all.contains("acme") && !all.contains("5000"), "a parameter value in the spans: {all}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_collector_that_is_down_fails_no_decision() {
    // Nothing listens there: every export fails.
    let dead = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let endpoint = format!("http://{}", dead.local_addr().unwrap());
    drop(dead);
    let mut d = Deployment::start_with("signals-traces-down", POLICY, |o| {
        o.config.tracing = Some(TracingSection { otlp_endpoint: endpoint });
    })
    .await;
    assert_eq!(d.decide(transfer(10)).await["decision"], "allow");
    let id = case_id(&d.decide(transfer(5000)).await);
    let (status, case) = d.post(&format!("/v1/cases/{id}/approve"), "tok-cfo", json!({})).await;
    assert_eq!((status, case["state"].as_str()), (200, Some("allowed")));
    d.stop().await;
}

/// A timeout that fell due before a late event is committed by the call that refuses the event
/// (an approval after the deadline: the timeout is recorded, the approval answered 409
/// `case_resolved`). It is a timeout like any other: counted, its resolution timed, the case no
/// longer open. It once went uncounted: only the events a call applied were reported.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_timeout_committed_by_the_call_that_refuses_a_late_event_is_counted() {
    let d = Deployment::start_with("signals-late-event", POLICY, |o| o.reload_interval = None).await;
    let id = case_id(&d.decide(transfer(5000)).await);
    // Past the transfer's `timeout 1h -> deny`, with no tick: the late approval finds it due.
    d.time.advance(Duration::from_secs(3601));
    let (status, body) = d.post(&format!("/v1/cases/{id}/approve"), "tok-cfo", json!({})).await;
    assert_eq!((status, body["reason"].as_str()), (409, Some("case_resolved")), "{body}");
    let (_, case) = d.get(&format!("/v1/cases/{id}"), "tok-ops").await;
    assert_eq!(case["state"], "denied", "{case}");
    let text = scrape(&d).await;
    assert_eq!(metric_value(&text, "aarm_case_timeouts_total"), 1.0, "{text}");
    assert_eq!(metric_value(&text, "aarm_case_resolution_seconds_count"), 1.0, "{text}");
    assert_eq!(metric_value(&text, "aarm_case_resolution_seconds_sum"), 3601.0, "{text}");
}

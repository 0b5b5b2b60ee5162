//! The deferral service: `aarm serve` asks the evidence sources a deferral names (a real HTTP
//! source, served by the test on loopback), records every try as a receipt, counts each round as
//! one attempt with backoff between rounds, and picks the rounds up again after a restart. The
//! test moves the server's clock; every wait is on an event with [`common::WAIT_BOUND`].
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]

mod common;

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use common::Deployment;
use serde_json::{json, Value};
use std::sync::{Arc, Mutex};
use std::time::Duration;

const POLICY: &str = r#"
policy ops version "1"
tool rotate { env: String }
tool patch { env: String }
evidence window_ok: Bool from "maintenance_api"
evidence huge_ok: Bool from "huge"
evidence typed_ok: Bool from "wrong_type"
evidence slow_ok: Bool from "slow"
evidence moved_ok: Bool from "redirect"
evidence twice_ok: Bool from "twice"
evidence rounded_margin: Decimal from "rounded"
evidence manual_ok: Bool from "ticket_system"
evidence sure: Bool from "requester"
evidence left_ok: Bool from "left"
evidence right_ok: Bool from "right"
evidence solo_ok: Bool from "solo"
tool purge { records: Int }
tool deploy { env: String }
tool probe { n: Int }
tool wipe { records: Int }

rule rotate_prod on rotate priority 60 {
  when evidence.window_ok is not set
  defer {
    need window_ok
    timeout 1h -> deny
    attempts 3 -> step_up { approvers 1 of role "sre"  timeout 1h -> deny }
  }
  reason "rotate.window" "Rotation needs a maintenance window"
}
rule rotate_closed on rotate priority 50 {
  when not evidence.window_ok
  deny
  reason "rotate.closed" "No maintenance window now"
}
rule rotate_ok on rotate { allow }

rule patch_all on patch priority 60 {
  when evidence.huge_ok is not set or evidence.typed_ok is not set or evidence.slow_ok is not set or evidence.moved_ok is not set or evidence.twice_ok is not set or evidence.rounded_margin is not set or evidence.manual_ok is not set
  defer { need huge_ok, typed_ok, slow_ok, moved_ok, twice_ok, rounded_margin, manual_ok  timeout 1h -> deny  attempts 5 -> deny }
}
rule patch_ok on patch { allow }

rule purge_ask on purge priority 60 {
  when evidence.sure is not set
  defer { need sure  timeout 1h -> deny  attempts 2 -> deny }
  reason "purge.ask" "Delete these records?"
}
rule purge_declined on purge priority 50 {
  when not evidence.sure
  deny
  reason "purge.declined" "The requester declined"
}
rule purge_ok on purge { allow }

rule deploy_both on deploy priority 60 {
  when evidence.left_ok is not set or evidence.right_ok is not set
  defer { need left_ok, right_ok  timeout 1h -> deny  attempts 3 -> deny }
}
rule deploy_ok on deploy { allow }

rule probe_wait on probe priority 60 {
  when evidence.solo_ok is not set
  defer { need solo_ok  timeout 1h -> deny  attempts 3 -> deny }
}
rule probe_ok on probe { allow }

rule wipe_ask on wipe priority 60 {
  when evidence.sure is not set
  defer {
    need sure
    timeout 1h -> step_up {
      approvers 1 of ["cfo@corp.com"]
      timeout 1h -> deny
      notify "webhook:audit", "slack:#finance", "email:approvals@corp.com"
    }
    attempts 2 -> deny
  }
  reason "wipe.ask" "Wipe 47 records from the customer table?"
}
rule wipe_declined on wipe priority 50 {
  when not evidence.sure
  deny
}
rule wipe_ok on wipe { allow }
"#;

/// What the test's source answers at `/facts`, switched by the test.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Mode {
    Answer,
    Fail,
}

/// One request a source got: its path, its `Authorization` header, its JSON body.
type Hit = (String, Option<String>, Value);

/// A small evidence source on 127.0.0.1: `/facts` answers or fails as its mode says, the other
/// paths misbehave each in one way. Every request it gets is kept (path, bearer, body).
#[derive(Clone)]
struct Source {
    url: String,
    mode: Arc<Mutex<Mode>>,
    hits: Arc<Mutex<Vec<Hit>>>,
    /// `/left`, `/right` and `/solo` answer only once two requests wait here: two that arrive
    /// one after the other never meet, so an answer proves they were asked at the same time.
    meet: Arc<tokio::sync::Barrier>,
}

impl Source {
    async fn start(mode: Mode) -> Source {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let source = Source {
            url,
            mode: Arc::new(Mutex::new(mode)),
            hits: Arc::default(),
            meet: Arc::new(tokio::sync::Barrier::new(2)),
        };
        let app = axum::Router::new().route("/{path}", axum::routing::post(answer)).with_state(source.clone());
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        source
    }

    fn set(&self, mode: Mode) {
        *self.mode.lock().unwrap() = mode;
    }

    fn hits(&self, path: &str) -> Vec<(Option<String>, Value)> {
        self.hits.lock().unwrap().iter().filter(|h| h.0 == path).map(|h| (h.1.clone(), h.2.clone())).collect()
    }
}

async fn answer(State(s): State<Source>, Path(path): Path<String>, headers: HeaderMap, body: String) -> Response {
    let bearer = headers.get("authorization").and_then(|v| v.to_str().ok()).map(str::to_string);
    s.hits.lock().unwrap().push((path.clone(), bearer, serde_json::from_str(&body).unwrap_or(Value::Null)));
    let mode = *s.mode.lock().unwrap();
    match path.as_str() {
        "facts" if mode == Mode::Answer => axum::Json(json!({ "window_ok": true, "unasked": 1 })).into_response(),
        "facts" => (StatusCode::INTERNAL_SERVER_ERROR, "down").into_response(),
        "huge" => format!("{{\"huge_ok\": true, \"pad\": \"{}\"}}", "x".repeat(1024 * 1024)).into_response(),
        "wrong_type" => axum::Json(json!({ "typed_ok": "yes" })).into_response(),
        // Two values for one fact: which one would the case keep?
        "twice" => r#"{"twice_ok": false, "twice_ok": true}"#.into_response(),
        // More digits than an f64 keeps: the case would keep, and decide on, 1000.0.
        "rounded" => r#"{"rounded_margin": 999.99999999999999999}"#.into_response(),
        "slow" => {
            // Far past the source's timeout: the service gives up, this never has to finish.
            tokio::time::sleep(Duration::from_secs(600)).await;
            axum::Json(json!({ "slow_ok": true })).into_response()
        }
        "left" | "right" | "solo" => {
            s.meet.wait().await;
            let fact = format!("{path}_ok");
            axum::Json(json!({ fact: true })).into_response()
        }
        // To another host: never followed (it would carry the question and its token away).
        "redirect" => (StatusCode::TEMPORARY_REDIRECT, [("location", "http://127.0.0.2:1/steal")], "").into_response(),
        _ => StatusCode::NOT_FOUND.into_response(),
    }
}

/// serve.toml's `[evidence]` pointing at `source`.
fn sources_toml(source: &Source) -> String {
    let u = &source.url;
    format!(
        r#"
[evidence.sources.maintenance_api]
kind = "http"
url = "{u}/facts"
timeout_ms = 5000
token = "source-secret"
headers = {{ "X-Caller" = "aarm" }}

[evidence.sources.huge]
kind = "http"
url = "{u}/huge"

[evidence.sources.wrong_type]
kind = "http"
url = "{u}/wrong_type"

[evidence.sources.twice]
kind = "http"
url = "{u}/twice"

[evidence.sources.rounded]
kind = "http"
url = "{u}/rounded"

[evidence.sources.slow]
kind = "http"
url = "{u}/slow"
timeout_ms = 300

[evidence.sources.redirect]
kind = "http"
url = "{u}/redirect"

[evidence.sources.requester]
kind = "confirm"

# Far longer than a round asked concurrently needs: asked one after the other, each would wait
# this long for the other and fail.
[evidence.sources.left]
kind = "http"
url = "{u}/left"
timeout_ms = 60000

[evidence.sources.right]
kind = "http"
url = "{u}/right"
timeout_ms = 60000

[evidence.sources.solo]
kind = "http"
url = "{u}/solo"
timeout_ms = 60000

[evidence.retry]
initial_backoff_ms = 1000
max_backoff_ms = 4000
"#
    )
}

/// A deployment of [`POLICY`] whose serve.toml also configures the test's sources.
async fn deployment(name: &str, source: &Source) -> Deployment {
    let extra = sources_toml(source);
    let mut d = Deployment::start_with(name, POLICY, |_| {}).await;
    d.reconfigure(|text| text + &extra).await;
    d
}

fn rotate() -> Value {
    json!({ "action": { "tool": "rotate", "params": { "env": "prod" } }, "identity": { "agent": "finance-agent", "human": "bob@corp.com" } })
}

async fn open(d: &Deployment, request: Value) -> String {
    let decision = d.decide(request).await;
    assert_eq!(decision["decision"], "defer", "{decision}");
    decision["case"].as_str().unwrap().to_string()
}

/// The case's receipts of one kind, as JSON.
async fn receipts(d: &Deployment, id: &str, event: &str) -> Vec<Value> {
    let (status, body) = d.get(&format!("/v1/receipts?case={id}"), "tok-ops").await;
    assert_eq!(status, 200, "{body}");
    let all = body.as_array().cloned().unwrap();
    all.into_iter().filter(|r| r["event"] == event).collect()
}

/// The count of `aarm_resolver_attempts_total` for `source` and `result`, once `/metrics` shows
/// `want` (the counter moves right after the round is stored).
async fn attempts_counted(d: &Deployment, source: &str, result: &str, want: f64) {
    let series = format!("aarm_resolver_attempts_total{{source=\"{source}\",result=\"{result}\"}}");
    common::eventually(&format!("{series} = {want}"), || async {
        (common::metric(&d.metrics_text().await, &series) == Some(want)).then_some(())
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_source_that_answers_resolves_the_deferral_with_one_receipt_per_try() {
    let source = Source::start(Mode::Answer).await;
    let d = deployment("sources-answer", &source).await;
    let id = open(&d, rotate()).await;
    assert!(d.tick().await.contains(&id), "the first round is due at once");
    let case = d.case_until(&id, |c| c["state"] != "pending_evidence").await;
    assert_eq!(case["state"], "allowed", "{case}");

    // The source was asked for the fact, with the action, the identity and the token.
    let hits = source.hits("facts");
    assert_eq!(hits.len(), 1);
    let (bearer, body) = &hits[0];
    assert_eq!(bearer.as_deref(), Some("Bearer source-secret"));
    assert_eq!((body["case"].as_str(), &body["facts"]), (Some(id.as_str()), &json!(["window_ok"])), "{body}");
    assert_eq!(body["request"]["action"]["tool"], "rotate");
    assert_eq!(body["request"]["identity"]["human"], "bob@corp.com");

    // The auditor's view: the try (source, facts, values), then the round that re-evaluated.
    let tries = receipts(&d, &id, "source").await;
    assert_eq!(tries.len(), 1, "{tries:?}");
    let t = &tries[0]["detail"];
    assert_eq!((t["source"].as_str(), t["result"].as_str()), (Some("maintenance_api"), Some("answered")), "{t}");
    assert_eq!(t["values"], json!({ "window_ok": true }), "a member it was not asked for is left out");
    let round = receipts(&d, &id, "round").await;
    assert_eq!(round[0]["detail"]["reevaluated"], "allow", "{round:?}");
    assert_eq!(round[0]["detail"]["provided"], json!(["window_ok"]));
    d.verified_chain().await;
    // The operator's view: one try of this source, answered.
    attempts_counted(&d, "maintenance_api", "answered", 1.0).await;
    // The round's resolution counts like any other (it once went uncounted: only API calls and
    // the clock reported their receipts).
    let text = d.metrics_text().await;
    assert_eq!(common::metric(&text, "aarm_case_resolution_seconds_count"), Some(1.0), "{text}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_source_that_always_fails_runs_out_of_attempts_into_the_step_up_with_backoff() {
    let source = Source::start(Mode::Fail).await;
    let d = deployment("sources-fail", &source).await;
    let id = open(&d, rotate()).await;
    d.tick().await;
    assert_eq!(source.hits("facts").len(), 1);
    // Backoff: no second round before the first wait (1 s) is over.
    d.tick().await;
    assert_eq!(source.hits("facts").len(), 1, "a round before its backoff");
    d.advance(Duration::from_secs(1)).await;
    assert_eq!(source.hits("facts").len(), 2);
    // The second wait is twice the first.
    d.advance(Duration::from_secs(1)).await;
    assert_eq!(source.hits("facts").len(), 2, "the wait doubled");
    d.advance(Duration::from_secs(1)).await;
    assert_eq!(source.hits("facts").len(), 3);

    let case = d.case_until(&id, |c| c["state"] != "pending_evidence").await;
    assert_eq!(case["state"], "pending_approval", "attempts 3 -> step_up: {case}");
    let tries = receipts(&d, &id, "source").await;
    assert_eq!(tries.len(), 3);
    assert!(tries.iter().all(|t| t["detail"]["code"] == "source.status"), "{tries:?}");
    assert!(tries[0]["detail"]["message"].as_str().unwrap().contains("500"), "{tries:?}");
    // The step-up tier waits for people now: no more rounds.
    d.advance(Duration::from_secs(60)).await;
    assert_eq!(source.hits("facts").len(), 3);
    attempts_counted(&d, "maintenance_api", "failed", 3.0).await;
    // Handing the deferral to people is an escalation (it once went uncounted when a round,
    // not a POST of evidence, ran the attempts out).
    let text = d.metrics_text().await;
    assert_eq!(common::metric(&text, "aarm_case_escalations_total"), Some(1.0), "{text}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restart_in_the_middle_resumes_the_rounds_from_the_store() {
    let source = Source::start(Mode::Fail).await;
    let mut d = deployment("sources-restart", &source).await;
    let id = open(&d, rotate()).await;
    d.tick().await;
    assert_eq!(source.hits("facts").len(), 1);
    d.stop().await;
    source.set(Mode::Answer);
    d.boot(|_| {}).await;
    // The round's backoff came from the store: not due yet after the restart...
    d.tick().await;
    assert_eq!(source.hits("facts").len(), 1, "a restart does not reset the backoff");
    // ... then due, and the second round resolves the case.
    d.advance(Duration::from_secs(1)).await;
    let case = d.case_until(&id, |c| c["state"] != "pending_evidence").await;
    assert_eq!((case["state"].as_str(), source.hits("facts").len()), (Some("allowed"), 2), "{case}");
    let rounds: Vec<Value> =
        receipts(&d, &id, "round").await.into_iter().map(|r| r["detail"]["round"].clone()).collect();
    assert_eq!(rounds, [json!(1), json!(2)]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_sources_are_failed_tries_never_facts_and_never_followed() {
    let source = Source::start(Mode::Answer).await;
    let d = deployment("sources-hostile", &source).await;
    let id = open(
        &d,
        json!({ "action": { "tool": "patch", "params": { "env": "prod" } }, "identity": { "agent": "finance-agent" } }),
    )
    .await;
    d.tick().await;
    let case = d.case_until(&id, |c| c["attempts"] == 1).await;
    assert_eq!(case["state"], "pending_evidence", "{case}");
    let by_source: std::collections::BTreeMap<String, String> = receipts(&d, &id, "source")
        .await
        .iter()
        .map(|t| {
            (
                t["detail"]["source"].as_str().unwrap().to_string(),
                t["detail"]["code"].as_str().unwrap_or("").to_string(),
            )
        })
        .collect();
    let expected: std::collections::BTreeMap<String, String> = [
        ("huge", "source.too_large"),
        ("wrong_type", "source.invalid"),
        ("twice", "source.invalid"),
        ("rounded", "source.invalid"),
        ("slow", "source.timeout"),
        ("redirect", "source.status"),
    ]
    .into_iter()
    .map(|(a, b)| (a.to_string(), b.to_string()))
    .collect();
    // `ticket_system` is not configured: its fact is left to be provided by hand, never asked
    // (and the start-up warning names it).
    let unconfigured = d.app().sources.unconfigured(&d.app().engine().unwrap());
    assert_eq!(unconfigured, [("manual_ok".to_string(), "ticket_system".to_string())]);
    assert_eq!(by_source, expected);
    assert!(case["evidence"].as_object().is_none_or(|e| e.is_empty()), "{case}");
    // By hand, it still works.
    let (status, body) = d.post(&format!("/v1/cases/{id}/evidence"), "agent-token", json!({ "manual_ok": true })).await;
    assert_eq!(status, 200, "{body}");
}

/// Two sources of one round, each answering only while the other is being asked too: the round
/// resolves the case only if they are asked concurrently (one after the other, each would wait
/// out its 60 s timeout and fail). No timing is measured: the answer itself is the proof.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_sources_of_a_round_are_asked_at_the_same_time() {
    let source = Source::start(Mode::Answer).await;
    let d = deployment("sources-concurrent", &source).await;
    let id = open(
        &d,
        json!({ "action": { "tool": "deploy", "params": { "env": "prod" } }, "identity": { "agent": "finance-agent" } }),
    )
    .await;
    d.tick().await;
    let case = d.case_until(&id, |c| c["state"] != "pending_evidence").await;
    assert_eq!(case["state"], "allowed", "{case}");
    let tries = receipts(&d, &id, "source").await;
    let results: Vec<(&str, &str)> = tries
        .iter()
        .map(|t| (t["detail"]["source"].as_str().unwrap(), t["detail"]["result"].as_str().unwrap()))
        .collect();
    assert_eq!(results, [("left", "answered"), ("right", "answered")], "the tries in the plan's order: {tries:?}");
    assert_eq!(receipts(&d, &id, "round").await.len(), 1, "one round");
}

/// The rounds of two cases due together run at the same time too: a case whose source is slow
/// does not hold up another's.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_rounds_of_cases_due_together_run_at_the_same_time() {
    let source = Source::start(Mode::Answer).await;
    let d = deployment("sources-concurrent-cases", &source).await;
    let probe =
        || json!({ "action": { "tool": "probe", "params": { "n": 1 } }, "identity": { "agent": "finance-agent" } });
    let (a, b) = (open(&d, probe()).await, open(&d, probe()).await);
    let changed = d.tick().await;
    assert!(changed.contains(&a) && changed.contains(&b), "{changed:?}");
    for id in [&a, &b] {
        let case = d.case_until(id, |c| c["state"] != "pending_evidence").await;
        assert_eq!(case["state"], "allowed", "{case}");
    }
}

fn purge(human: &str) -> Value {
    json!({ "action": { "tool": "purge", "params": { "records": 47 } }, "identity": { "agent": "finance-agent", "human": human } })
}

async fn answer_confirm(d: &Deployment, id: &str, token: &str, answer: &str) -> (u16, Value) {
    d.post(&format!("/v1/cases/{id}/confirm"), token, json!({ "answer": answer })).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_confirm_source_asks_the_requesting_human_and_never_burns_attempts() {
    let source = Source::start(Mode::Answer).await;
    let d = deployment("sources-confirm", &source).await;
    let id = open(&d, purge("controller@corp.com")).await;
    // Open question: rounds pass (far beyond `attempts 2`), nothing is tried or counted.
    d.tick().await;
    d.advance(Duration::from_secs(30)).await;
    let (_, case) = d.get(&format!("/v1/cases/{id}"), "tok-ops").await;
    assert_eq!((case["state"].as_str(), case["attempts"].as_u64()), (Some("pending_evidence"), Some(0)), "{case}");
    assert!(receipts(&d, &id, "source").await.is_empty());

    // Only that human answers: not the agent, not an operator, not another approver.
    for token in ["agent-token", "tok-ops", "tok-cfo"] {
        let (status, body) = answer_confirm(&d, &id, token, "confirm").await;
        assert_eq!((status, body["reason"].as_str()), (403, Some("not_the_requester")), "{token}: {body}");
    }
    let (status, body) = answer_confirm(&d, &id, "tok-controller", "maybe").await;
    assert_eq!(status, 400, "{body}");

    let (status, body) = answer_confirm(&d, &id, "tok-controller", "confirm").await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["state"], "allowed", "confirmed: the policy's allow: {body}");
    // The answer is a receipt: who answered, and the value.
    let provided = receipts(&d, &id, "provide").await;
    assert_eq!(provided.len(), 1, "{provided:?}");
    let text = provided[0].to_string();
    assert!(text.contains("controller@corp.com") && text.contains("sure"), "{text}");
    d.verified_chain().await;
    // The question is closed now.
    let (status, body) = answer_confirm(&d, &id, "tok-controller", "decline").await;
    assert_eq!(status, 409, "{body}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_declined_confirm_takes_the_false_branch_and_spoofed_humans_are_refused() {
    let source = Source::start(Mode::Answer).await;
    let d = deployment("sources-decline", &source).await;
    // A padded identity is refused at the door: it never becomes a question to anyone.
    let (status, body) = d.post("/v1/decide", "agent-token", purge("controller@corp.com ")).await;
    assert_eq!((status, body["reason"].as_str()), (422, Some("input.invalid")), "{body}");
    // The controller cannot answer the question of another human's case.
    let other = open(&d, purge("cfo@corp.com")).await;
    let (status, body) = answer_confirm(&d, &other, "tok-controller", "confirm").await;
    assert_eq!((status, body["reason"].as_str()), (403, Some("not_the_requester")), "{body}");

    let id = open(&d, purge("controller@corp.com")).await;
    let (status, body) = answer_confirm(&d, &id, "tok-controller", "decline").await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["state"], "denied", "declined: the `not evidence.sure` branch: {body}");
    let (_, case) = d.get(&format!("/v1/cases/{other}"), "tok-ops").await;
    assert_eq!(case["state"], "pending_evidence", "{case}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_confirm_source_for_a_fact_other_than_bool_is_refused_naming_the_evidence() {
    let source = Source::start(Mode::Answer).await;
    let d = deployment("sources-confirm-type", &source).await;
    let wrong = POLICY
        .replace("evidence sure: Bool from", "evidence sure: Int from")
        .replace("when not evidence.sure\n", "when evidence.sure == 0\n");
    std::fs::write(d.dir.path().join("policy.aarmb"), common::bundle(&wrong, None)).unwrap();
    let (status, body) = d.post("/v1/admin/reload", "tok-ops", json!({})).await;
    assert_eq!(status, 400, "{body}");
    let text = body.to_string();
    assert!(text.contains("`sure`") && text.contains("confirm") && text.contains("Bool"), "{text}");
}

fn wipe(human: &str) -> Value {
    json!({ "action": { "tool": "wipe", "params": { "records": 47 } },
            "identity": { "agent": "finance-agent", "human": human },
            "context": { "original_request": "clean up the old customers" } })
}

/// The questions `GET /v1/inbox` lists for the holder of `token`, as their case ids.
async fn questions(d: &Deployment, token: &str) -> Vec<String> {
    let (status, body) = d.get("/v1/inbox", token).await;
    assert_eq!(status, 200, "{body}");
    body["questions"].as_array().unwrap().iter().map(|q| q["case"].as_str().unwrap().to_string()).collect()
}

/// The question of a `confirm` source reaches the requesting human: on the channels the rule
/// names (webhook, Slack, e-mail through the outbox, counted as deliveries) and in their inbox,
/// nobody else's; it leaves the inbox once answered or once the case ends.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_confirm_question_reaches_only_the_requesting_human_on_the_channels_and_in_the_inbox() {
    let source = Source::start(Mode::Answer).await;
    let d = deployment("sources-question", &source).await;
    let id = open(&d, wipe("controller@corp.com")).await;

    let hook = d.receiver.wait_for("/hook", 1).await;
    assert_eq!(hook[0].headers["x-aarm-event"], "confirm_requested");
    let body = hook[0].json();
    assert_eq!(body["event"], "confirm_requested", "{body}");
    let q = &body["case"]["question"];
    assert_eq!(q["to"], "controller@corp.com", "{body}");
    assert_eq!(q["text"], "Wipe 47 records from the customer table?", "the rule's reason: {body}");
    assert_eq!(q["facts"], json!(["sure"]));
    assert_eq!(q["on_timeout"], "step_up");
    assert_eq!(body["case"]["case"], id.as_str());
    let links = &body["case"]["links"];
    assert!(links["approve"].as_str().unwrap().ends_with(&format!("/inbox?case={id}&action=confirm")), "{links}");
    assert!(links["deny"].as_str().unwrap().ends_with(&format!("/inbox?case={id}&action=decline")), "{links}");
    let slack = d.receiver.wait_for("/slack", 1).await[0].json().to_string();
    for needle in ["Confirm", "Decline", "controller@corp.com", "Wipe 47 records from the customer table?"] {
        assert!(slack.contains(needle), "the Slack message lacks {needle:?}: {slack}");
    }
    let mail = d.smtp.wait_for(1).await.join("\n");
    assert!(mail.contains(&format!("[CONFIRM] wipe ({id})")), "{mail}");
    let delivered = "aarm_notification_deliveries_total{channel=\"webhook:audit\",result=\"delivered\"}";
    common::eventually("the question's webhook delivery to be counted", || async {
        (common::metric(&d.metrics_text().await, delivered) == Some(1.0)).then_some(())
    })
    .await;

    // In the inbox of that human only: not another approver's, not the agent's, not an operator's.
    assert_eq!(questions(&d, "tok-controller").await, std::slice::from_ref(&id));
    assert!(questions(&d, "tok-cfo").await.is_empty());
    let (_, cfo) = d.get("/v1/inbox", "tok-cfo").await;
    assert!(!cfo.to_string().contains(&id), "{cfo}");
    for token in ["agent-token", "tok-ops"] {
        assert_eq!(d.get("/v1/inbox", token).await.0, 403, "{token}");
    }
    let (_, inbox) = d.get("/v1/inbox", "tok-controller").await;
    assert_eq!(inbox["questions"][0]["context"]["question"]["text"], "Wipe 47 records from the customer table?");

    // Answered: it is gone from the inbox, and asked once only (no second message).
    let (status, body) = answer_confirm(&d, &id, "tok-controller", "confirm").await;
    assert_eq!((status, body["state"].as_str()), (200, Some("allowed")), "{body}");
    assert!(questions(&d, "tok-controller").await.is_empty());

    // A case that ends unanswered (the agent cancels it) takes its question away too.
    let other = open(&d, wipe("controller@corp.com")).await;
    assert_eq!(questions(&d, "tok-controller").await, std::slice::from_ref(&other));
    let (status, body) = d.post(&format!("/v1/cases/{other}/cancel"), "agent-token", json!({})).await;
    assert_eq!(status, 200, "{body}");
    assert!(questions(&d, "tok-controller").await.is_empty());
    let asked = d.receiver.wait_for("/hook", 2).await;
    let asked: Vec<String> = asked.iter().map(|h| h.json()["case"]["case"].as_str().unwrap().to_string()).collect();
    assert_eq!(asked, [id, other], "one question per case");
}

/// A deferral's timeout that falls due while its sources are being asked: the round, recorded
/// after the deadline, commits the timeout and is refused. The timeout is reported like any
/// other (counted, the case's waiters told), and no try is recorded for the refused round.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_timeout_that_falls_due_during_a_round_is_committed_and_counted() {
    let source = Source::start(Mode::Answer).await;
    let d = deployment("sources-late-round", &source).await;
    let id = open(
        &d,
        json!({ "action": { "tool": "probe", "params": { "n": 1 } }, "identity": { "agent": "finance-agent" } }),
    )
    .await;
    // The source holds its answer until the test has moved the clock past `timeout 1h -> deny`.
    let late = async {
        common::eventually("the source to be asked", || async { (!source.hits("solo").is_empty()).then_some(()) })
            .await;
        d.time.advance(Duration::from_secs(3601));
        source.meet.wait().await;
    };
    let (changed, ()) = tokio::join!(d.tick(), late);
    assert!(changed.contains(&id), "{changed:?}");
    let (_, case) = d.get(&format!("/v1/cases/{id}"), "tok-ops").await;
    assert_eq!(case["state"], "denied", "{case}");
    assert!(receipts(&d, &id, "source").await.is_empty(), "the refused round left no try");
    assert_eq!(receipts(&d, &id, "timeout").await.len(), 1);
    let text = d.metrics_text().await;
    assert_eq!(common::metric(&text, "aarm_case_timeouts_total"), Some(1.0), "{text}");
    assert_eq!(common::metric(&text, "aarm_case_resolution_seconds_count"), Some(1.0), "{text}");
}

fn deploy_with(left_ok: bool) -> Value {
    json!({
        "action": { "tool": "deploy", "params": { "env": "prod" } },
        "identity": { "agent": "finance-agent" },
        "evidence": { "left_ok": left_ok }
    })
}

/// Checks one evidence ref against the verified chain: its receipt is there, it is one of the
/// case's, it is a receipt of `event`, and it records `fact` (a `source` try that asked for it,
/// or an `open` / `provide` that names it). Returns that receipt.
fn assert_recorded<'a>(
    chain: &'a [aarm_cases::lifecycle::receipt::Receipt],
    case: &str,
    r: &Value,
    event: &str,
) -> &'a aarm_cases::lifecycle::receipt::Receipt {
    let hash = r["receipt"].as_str().unwrap();
    assert!(hash.starts_with("sha256:"), "a sealed receipt, not a pending one: {r}");
    let receipt = chain.iter().find(|x| x.hash == hash).unwrap_or_else(|| panic!("{hash} is not in the chain"));
    assert_eq!((receipt.body.case.as_str(), receipt.body.event.as_str()), (case, event), "{r}");
    let fact = r["fact"].as_str().unwrap();
    let d = &receipt.body.detail;
    match event {
        "source" => assert!(d["facts"].as_array().unwrap().iter().any(|f| f == fact), "{d}"),
        "provide" => assert_eq!(d["evidence"], fact, "{d}"),
        _ => {}
    }
    receipt
}

/// A decision re-evaluated with evidence names where each fact came from — the source that
/// answered, who provided it, the human who confirmed, the request — and the receipt that
/// recorded it, in place of the values; each ref's receipt is in the verified chain.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_re_evaluated_decision_names_where_each_fact_came_from() {
    let source = Source::start(Mode::Answer).await;
    let d = deployment("sources-refs", &source).await;

    // An evidence source's round.
    let rotated = open(&d, rotate()).await;
    d.tick().await;
    let case = d.case_until(&rotated, |c| c["state"] != "pending_evidence").await;
    assert_eq!(case["state"], "allowed", "{case}");
    let refs = case["outcome"]["evidence_refs"].clone();
    assert_eq!(refs.as_array().unwrap().len(), 1, "{case}");
    assert_eq!((refs[0]["fact"].as_str(), refs[0]["source"].as_str()), (Some("window_ok"), Some("maintenance_api")));
    assert_eq!(case["evidence_refs"], refs, "the case names the same receipts");

    // A fact the request carried, then one the agent provided.
    let deployed = open(&d, deploy_with(true)).await;
    let (status, case) =
        d.post(&format!("/v1/cases/{deployed}/evidence"), "agent-token", json!({ "right_ok": true })).await;
    assert_eq!((status, case["state"].as_str()), (200, Some("allowed")), "{case}");
    let deploy_refs = case["outcome"]["evidence_refs"].clone();
    let sources: Vec<(&str, &str)> = deploy_refs
        .as_array()
        .unwrap()
        .iter()
        .map(|r| (r["fact"].as_str().unwrap(), r["source"].as_str().unwrap()))
        .collect();
    assert_eq!(sources, [("left_ok", "request"), ("right_ok", "provided_by:finance-agent")], "{case}");
    assert!(case["outcome"].get("evidence").is_none(), "refs, not values: {case}");

    // The requesting human's answer to a `confirm` question.
    let purged = open(&d, purge("controller@corp.com")).await;
    let (status, case) = answer_confirm(&d, &purged, "tok-controller", "confirm").await;
    assert_eq!((status, case["state"].as_str()), (200, Some("allowed")), "{case}");
    let purge_refs = case["outcome"]["evidence_refs"].clone();
    assert_eq!(
        (purge_refs[0]["fact"].as_str(), purge_refs[0]["source"].as_str()),
        (Some("sure"), Some("confirm:controller@corp.com")),
        "{case}"
    );

    // Every ref's receipt verifies in the one chain and records its fact.
    let chain = d.verified_chain().await;
    let tried = assert_recorded(&chain, &rotated, &refs[0], "source");
    assert_eq!(tried.body.detail["source"], "maintenance_api");
    let opened = assert_recorded(&chain, &deployed, &deploy_refs[0], "open");
    assert_eq!(opened.body.case, deployed);
    let provided = assert_recorded(&chain, &deployed, &deploy_refs[1], "provide");
    assert_eq!(provided.body.actor.as_deref(), Some("finance-agent"));
    let confirmed = assert_recorded(&chain, &purged, &purge_refs[0], "provide");
    assert_eq!(
        (confirmed.body.actor.as_deref(), &confirmed.body.detail["confirm"]),
        (Some("controller@corp.com"), &json!(true))
    );
    // The stored case, as a restart reads it, holds the same sealed refs.
    let (_, stored) = d.get(&format!("/v1/cases/{deployed}"), "tok-ops").await;
    assert_eq!(stored["outcome"]["evidence_refs"], deploy_refs);
}

//! The deferral flow's design rules and operational signals, through `aarm serve`. "A timeout
//! is never an implicit allow" is shown through the CLI (`tests/conformance/deferral.rs`).

use super::{case_as, case_id, receipts_of};
use crate::common::{eventually, metric, metric_value, Deployment, POLICY};
use serde_json::{json, Value};
use std::time::Duration;

/// A production patch defers until `window_ok` is known (`defer { need window_ok timeout 1h -> deny }`).
fn patch_prod(session: &str) -> Value {
    json!({
        "action": { "tool": "patch", "params": { "env": "prod" } },
        "identity": { "human": "bob@corp.com", "service": "svc-deploy", "session": session, "roles": ["sre"] },
        "context": { "original_request": "patch the payment service", "data_classes": ["INTERNAL"] }
    })
}

/// Design rule 1: the suspended action keeps what it was deferred with: the request, the
/// session's context at that moment, the identity chain, why it was deferred and which evidence
/// it still needs.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deferral_preserves_the_original_context() {
    let d = Deployment::start("conf-d1").await;
    let staging =
        json!({ "action": { "tool": "patch", "params": { "env": "staging" } }, "identity": { "session": "s-d1" } });
    assert_eq!(d.decide(staging).await["decision"], "allow");
    let decision = d.decide(patch_prod("s-d1")).await;
    assert_eq!(decision["decision"], "defer");
    let id = case_id(&decision);
    // Later actions of the session do not rewrite the snapshot the case holds.
    let later = json!({ "action": { "tool": "patch", "params": { "env": "dev" } }, "identity": { "session": "s-d1" } });
    assert_eq!(d.decide(later).await["decision"], "allow");

    let case = case_as(&d, &id, "agent-token").await;
    let text = case.to_string();
    assert_eq!(case["state"], "pending_evidence", "{case}");
    assert_eq!(
        case["decision"]["defer"]["need"],
        json!([{ "name": "window_ok", "type": "Bool", "source": "maintenance_api" }])
    );
    assert_eq!(case["decision"]["rule"], "pay.patch_prod");
    assert!(text.contains("patch the payment service"), "the original request: {text}");
    assert!(text.contains("svc-deploy") && text.contains("bob@corp.com") && text.contains("finance-agent"), "{text}");
    let open = receipts_of(&d, &id).await.remove(0);
    assert_eq!(open["event"], "open");
    assert_eq!(open["identity"]["service"], "svc-deploy");
    let request = &case["request"];
    assert_eq!(request["action"]["params"]["env"], "prod", "{case}");
    assert_eq!(request["context"]["prior_actions"], json!([{ "tool": "patch", "decision": "allow" }]), "{case}");
}

/// Design rule 2: a deferral has a deadline and a terminal outcome: the policy's own
/// (`timeout 1h -> deny`), or 10 minutes to a deny when a rule only reads missing evidence.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deferral_window_is_bounded() {
    let implicit = format!("{POLICY}\ntool unlock {{ door: String }}\nrule unlock_in_window on unlock {{ when evidence.window_ok allow }}\n");
    let d = Deployment::start_with("conf-d2", &implicit, |_| {}).await;
    let explicit = d.decide(patch_prod("s-d2")).await;
    assert_eq!(
        (explicit["defer"]["timeout_s"].as_i64(), explicit["defer"]["on_timeout"].as_str()),
        (Some(3600), Some("deny"))
    );
    let by_evidence = d.decide(json!({ "action": { "tool": "unlock", "params": { "door": "dc-1" } } })).await;
    assert_eq!(by_evidence["decision"], "defer", "{by_evidence}");
    assert_eq!(
        (by_evidence["defer"]["timeout_s"].as_i64(), by_evidence["defer"]["on_timeout"].as_str()),
        (Some(600), Some("deny"))
    );

    let (explicit, by_evidence) = (case_id(&explicit), case_id(&by_evidence));
    assert_eq!(d.advance(Duration::from_secs(600)).await, vec![by_evidence.clone()]);
    assert_eq!(d.advance(Duration::from_secs(3000)).await, vec![explicit.clone()]);
    for id in [explicit, by_evidence] {
        let case = case_as(&d, &id, "tok-ops").await;
        assert_eq!(
            (case["state"].as_str(), case["outcome"]["decision"].as_str()),
            (Some("denied"), Some("deny")),
            "{case}"
        );
    }
}

/// Design rule 3: a deferral asks a narrow question: the decision names each missing fact, its
/// type and its source; an answer to another question, or of another type, is refused and
/// changes nothing; the right fact ends it by re-evaluation. (Who asks the source is
/// `deferral_service_asks_evidence_sources`.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deferral_asks_narrow_evidence_questions() {
    let d = Deployment::start("conf-d3").await;
    let decision = d.decide(patch_prod("s-d3")).await;
    assert_eq!(
        decision["defer"]["need"],
        json!([{ "name": "window_ok", "type": "Bool", "source": "maintenance_api" }])
    );
    let id = case_id(&decision);
    let path = format!("/v1/cases/{id}/evidence");
    let before = d.snapshot().await;
    let (status, body) = d.post(&path, "agent-token", json!({ "is_it_safe": true })).await;
    assert_eq!((status, body["reason"].as_str()), (409, Some("undeclared_evidence")), "{body}");
    let (status, body) = d.post(&path, "agent-token", json!({ "window_ok": "yes" })).await;
    assert_eq!((status, body["reason"].as_str()), (409, Some("evidence_type")), "{body}");
    assert_eq!(d.snapshot().await, before, "refused answers change nothing");
    let (status, case) = d.post(&path, "agent-token", json!({ "window_ok": true })).await;
    assert_eq!((status, case["state"].as_str()), (200, Some("allowed")), "{case}");
}

/// Design rule 4: a receipt for the DEFER and one for its resolution, in one verified chain.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deferral_emits_a_receipt_for_the_defer_and_for_its_resolution() {
    let d = Deployment::start("conf-d4").await;
    let decision = d.decide(patch_prod("s-d4")).await;
    let id = case_id(&decision);
    let (status, _) = d.post(&format!("/v1/cases/{id}/evidence"), "agent-token", json!({ "window_ok": true })).await;
    assert_eq!(status, 200);
    let receipts = receipts_of(&d, &id).await;
    let summary: Vec<(String, String)> = receipts
        .iter()
        .map(|r| (r["event"].as_str().unwrap().to_string(), r["decision"].as_str().unwrap().to_string()))
        .collect();
    assert_eq!(summary, [("open".to_string(), "defer".to_string()), ("provide".to_string(), "allow".to_string())]);
    assert_eq!(receipts[0]["hash"], decision["receipt"], "the decision's answer names the DEFER's receipt");
    let chain = d.verified_chain().await;
    assert!(chain.iter().any(|r| r.hash == receipts[1]["hash"].as_str().unwrap()));
}

/// Queue and retry pattern: on DEFER the service asks the evidence's source itself, retries
/// with backoff, and escalates when automatic resolution is exhausted. The source here is never
/// reachable: each round is a recorded failed try and one attempt, and the second attempt ends
/// as the policy says (`attempts 2 -> step_up`), in the approvers' hands.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deferral_service_asks_evidence_sources() {
    let d = with_unreachable_source("conf-d6").await;
    let id = case_id(&d.decide(patch_prod("s-d6")).await);
    d.tick().await;
    let case = case_as(&d, &id, "tok-ops").await;
    assert_eq!((case["state"].as_str(), case["attempts"].as_u64()), (Some("pending_evidence"), Some(1)), "{case}");
    d.advance(Duration::from_secs(1)).await;
    let case = case_as(&d, &id, "tok-ops").await;
    assert_eq!(case["state"], "pending_approval", "exhausted: escalated to people: {case}");
    let events: Vec<Value> = receipts_of(&d, &id).await.iter().map(|r| r["event"].clone()).collect();
    assert_eq!(events, [json!("open"), json!("source"), json!("round"), json!("source"), json!("round")]);
    let tries = receipts_of(&d, &id).await;
    assert_eq!(tries[1]["detail"]["source"], "maintenance_api");
    assert_eq!(tries[1]["detail"]["result"], "failed", "{}", tries[1]);
    assert_eq!(
        (tries[4]["detail"]["attempts"].as_u64(), tries[4]["state"].as_str()),
        (Some(2), Some("pending_approval"))
    );
}

/// A deployment whose patch rule's deferral has two attempts before a step-up, and whose
/// `maintenance_api` source is port 9 (discard) on loopback, where nothing answers.
async fn with_unreachable_source(name: &str) -> Deployment {
    let policy = POLICY.replace(
        "defer { need window_ok  timeout 1h -> deny }",
        "defer { need window_ok  timeout 1h -> deny  attempts 2 -> step_up { approvers 1 of role \"sre\"  timeout 1h -> deny } }",
    );
    assert_ne!(policy, POLICY, "the patch rule's deferral changed: update this test");
    let mut d = Deployment::start_with(name, &policy, |_| {}).await;
    d.reconfigure(|text| {
        text + "\n[evidence.sources.maintenance_api]\nkind = \"http\"\nurl = \"http://127.0.0.1:9/facts\"\n[evidence.retry]\ninitial_backoff_ms = 1000\nmax_backoff_ms = 1000\n"
    })
    .await;
    d
}

/// The service's metrics text after `scenario` ran on a fresh deployment.
async fn signals_after(name: &str, scenario: impl AsyncFnOnce(&Deployment)) -> String {
    let d = Deployment::start(name).await;
    scenario(&d).await;
    d.metrics_text().await
}

/// Operational signal: deferred action count (`aarm_deferred_total`; `aarm case stats` from a
/// store).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deferral_signal_deferred_action_count() {
    let text = signals_after("conf-m1", async |d| {
        assert_eq!(d.decide(patch_prod("s-m1")).await["decision"], "defer");
        assert_eq!(d.decide(patch_prod("s-m1b")).await["decision"], "defer");
    })
    .await;
    assert_eq!(metric_value(&text, "aarm_deferred_total"), 2.0);
    assert_eq!(metric_value(&text, "aarm_open_cases{state=\"pending_evidence\"}"), 2.0);
}

/// Operational signal: median time to resolution (the `aarm_case_resolution_seconds`
/// histogram; `aarm case stats` prints the median and the 90th percentile).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deferral_signal_median_time_to_resolution() {
    let text = signals_after("conf-m2", async |d| {
        let id = case_id(&d.decide(patch_prod("s-m2")).await);
        d.advance(Duration::from_secs(90)).await;
        let (status, case) =
            d.post(&format!("/v1/cases/{id}/evidence"), "agent-token", json!({ "window_ok": true })).await;
        assert_eq!((status, case["state"].as_str()), (200, Some("allowed")), "{case}");
    })
    .await;
    assert_eq!(metric_value(&text, "aarm_case_resolution_seconds_count"), 1.0);
    assert_eq!(metric_value(&text, "aarm_case_resolution_seconds_sum"), 90.0);
    assert_eq!(metric_value(&text, "aarm_case_resolution_seconds_bucket{le=\"64.0\"}"), 0.0);
    assert_eq!(metric_value(&text, "aarm_case_resolution_seconds_bucket{le=\"256.0\"}"), 1.0);
}

/// Operational signal: timeout rate (`aarm_case_timeouts_total` against `aarm_decisions_total`).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deferral_signal_timeout_rate() {
    let text = signals_after("conf-m3", async |d| {
        case_id(&d.decide(patch_prod("s-m3")).await);
        d.advance(Duration::from_secs(3601)).await;
    })
    .await;
    assert_eq!(metric_value(&text, "aarm_case_timeouts_total"), 1.0);
    assert_eq!(metric_value(&text, "aarm_decisions_total{decision=\"defer\",rule=\"pay.patch_prod\"}"), 1.0);
    assert_eq!(metric_value(&text, "aarm_open_cases{state=\"pending_evidence\"}"), 0.0);
}

/// Operational signal: escalation rate (`aarm_case_escalations_total`: `escalate after` fired,
/// or a deferral handed to people).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deferral_signal_escalation_rate() {
    let text = signals_after("conf-m4", async |d| {
        let rotate = json!({ "action": { "tool": "rotate", "params": { "env": "prod" } } });
        assert_eq!(d.decide(rotate).await["decision"], "defer");
        d.advance(Duration::from_secs(1)).await;
    })
    .await;
    assert_eq!(metric_value(&text, "aarm_case_escalations_total"), 1.0);
    assert_eq!(metric_value(&text, "aarm_open_cases{state=\"pending_approval\"}"), 1.0);
}

/// Operational signal: resolver success rate by source (`aarm_resolver_attempts_total{source,
/// result}`: `answered`, `partial` or `failed`; server/tests/evidence_sources.rs counts answers).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deferral_signal_resolver_success_rate_by_source() {
    let d = with_unreachable_source("conf-m5").await;
    let id = case_id(&d.decide(patch_prod("s-m5")).await);
    d.tick().await;
    d.advance(Duration::from_secs(1)).await;
    assert_eq!(case_as(&d, &id, "tok-ops").await["state"], "pending_approval");
    let series = "aarm_resolver_attempts_total{source=\"maintenance_api\",result=\"failed\"}";
    let text = eventually("two failed tries counted", || async {
        let text = d.metrics_text().await;
        (metric(&text, series) == Some(2.0)).then_some(text)
    })
    .await;
    assert!(!text.contains("result=\"answered\""), "{text}");
}

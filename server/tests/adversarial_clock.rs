#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]
//! The clock never refuses a legitimate request (issue 13): the store refuses an event earlier
//! than its last one (`clock_went_back`), so every path that applies a lifecycle event must
//! carry a time no earlier than the events committed before it — also when concurrent requests
//! wait for the lifecycle's lock while time moves on.
//!
//! Time moves fast here (a second every millisecond) while agents
//! decide and approvers and agents act concurrently, and the clock ticks: each request that
//! read the time before waiting for the lock would be refused.

mod common;

use common::Deployment;
use serde_json::{json, Value};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

const POLICY: &str = r#"
policy clockrace version "1"
tool pay { amount: Int }
tool patch { env: String }
evidence window_ok: Bool from "maintenance_api"
rule big on pay priority 90 {
  when params.amount > 1000
  step_up { approvers 1 of ["cfo@corp.com", "controller@corp.com"]  timeout 365d -> deny }
}
rule small on pay { allow }
rule patch_prod on patch priority 60 {
  when evidence.window_ok is not set
  defer { need window_ok  timeout 365d -> deny }
}
rule patch_ok on patch { allow }
"#;

const AGENTS: usize = 8;
const ROUNDS: usize = 12;

/// What went wrong in one call, if anything: the calls of this test are all legitimate.
fn refused(what: &str, status: u16, body: &Value, expected: &str) -> Option<String> {
    let ok = status == 200 && (body["decision"] == expected || body["state"] == expected);
    (!ok).then(|| format!("{what}: {status} {body}"))
}

async fn agent(d: Arc<Deployment>, n: usize) -> Vec<String> {
    let mut failures = Vec::new();
    for round in 0..ROUNDS {
        // A step-up, approved or denied by an approver.
        let pay = json!({ "action": { "tool": "pay", "params": { "amount": 5000 + n } } });
        let (status, decided) = d.post("/v1/decide", "agent-token", pay).await;
        failures.extend(refused("decide pay", status, &decided, "step_up"));
        if let Some(id) = decided["case"].as_str() {
            let (verb, expected) = if round % 2 == 0 { ("approve", "allowed") } else { ("deny", "denied") };
            let approver = if n % 2 == 0 { "tok-cfo" } else { "tok-controller" };
            let (status, case) = d.post(&format!("/v1/cases/{id}/{verb}"), approver, json!({})).await;
            failures.extend(refused(verb, status, &case, expected));
        }
        // A deferral, released by evidence.
        let patch = json!({ "action": { "tool": "patch", "params": { "env": "prod" } } });
        let (status, decided) = d.post("/v1/decide", "agent-token", patch).await;
        failures.extend(refused("decide patch", status, &decided, "defer"));
        if let Some(id) = decided["case"].as_str() {
            let (status, case) =
                d.post(&format!("/v1/cases/{id}/evidence"), "agent-token", json!({ "window_ok": true })).await;
            failures.extend(refused("evidence", status, &case, "allowed"));
        }
    }
    failures
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_decisions_and_events_are_never_refused_while_time_moves() {
    let d = Arc::new(Deployment::start_with("clock-race", POLICY, |_| {}).await);
    let done = Arc::new(AtomicBool::new(false));
    // Time moves a second at every step, and the clock ticks, all along.
    let mover = {
        let (d, done) = (d.clone(), done.clone());
        tokio::spawn(async move {
            let mut steps: u64 = 0;
            while !done.load(Ordering::SeqCst) {
                d.time.advance(Duration::from_secs(1));
                steps += 1;
                if steps % 16 == 0 {
                    d.tick().await;
                }
                // Pacing only (the test waits on its agents, not on this).
                tokio::time::sleep(Duration::from_millis(1)).await;
            }
            steps
        })
    };
    let agents: Vec<_> = (0..AGENTS).map(|n| tokio::spawn(agent(d.clone(), n))).collect();
    let mut failures = Vec::new();
    for a in agents {
        failures.extend(a.await.unwrap());
    }
    done.store(true, Ordering::SeqCst);
    let steps = mover.await.unwrap();
    assert!(steps > 0, "time moved during the run");
    let went_back = failures.iter().filter(|f| f.contains("clock_went_back")).count();
    assert!(
        failures.is_empty(),
        "{} of {} calls refused ({went_back} clock_went_back), e.g. {:?}",
        failures.len(),
        AGENTS * ROUNDS * 4,
        failures.first()
    );
    // Every case was opened and resolved, and the chain verifies.
    let (_, cases) = d.get("/v1/cases?state=resolved", "tok-ops").await;
    assert_eq!(cases.as_array().unwrap().len(), AGENTS * ROUNDS * 2);
    d.verified_chain().await;
}

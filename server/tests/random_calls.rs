#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]
//! Random sequences of calls by random callers (agents, approvers, outsiders, bad tokens)
//! against one real server, checked after every call against what must always hold:
//!
//! - a refused call (any status but 200) changed no case and no receipt;
//! - an accepted approval or denial was made by the caller, as that caller, and recorded so
//!   (`verified_by`); nobody outside a case's approver set ever appears in it;
//! - a case is `allowed` only with its quorum of distinct eligible approvals;
//! - the receipt chain verifies after every call.
//!
//! The server's clock is the test's and does not move, so no timeout fires during the run. A fixed seed per
//! round keeps a failure reproducible (the seed is printed).

mod common;

use common::Deployment;
use serde_json::{json, Value};

const POLICY: &str = r#"
policy p version "1"
tool pay { amount: Int }
group finance = ["cfo@corp.com", "controller@corp.com"]
evidence window_ok: Bool from "maintenance_api"
rule two on pay priority 90 {
  when params.amount > 1000
  step_up { approvers 2 of finance  timeout 1h -> deny  no veto }
}
rule one on pay priority 80 {
  when params.amount > 100
  step_up { approvers 1 of ["cfo@corp.com", "security@corp.com"]  timeout 1h -> deny }
}
rule window on pay priority 70 {
  when params.amount > 50 and not evidence.window_ok
  deny
}
rule small on pay { allow }
"#;

struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn pick<'a, T>(&mut self, xs: &'a [T]) -> &'a T {
        &xs[(self.next() % xs.len() as u64) as usize]
    }
}

const TOKENS: &[(&str, &str)] = &[
    ("agent-token", "finance-agent"),
    ("other-agent-token", "ops-agent"),
    ("tok-cfo", "cfo@corp.com"),
    ("tok-controller", "controller@corp.com"),
    ("tok-security", "security@corp.com"),
    ("tok-outsider", "mallory@corp.com"),
    ("tok-ops", "ops@corp.com"),
    ("tok-forged", "nobody"),
];

fn eligible(case: &Value) -> Vec<String> {
    let s = &case["decision"]["step_up"];
    let mut set: Vec<String> = s["approvers"]
        .as_array()
        .map(|a| a.iter().map(|x| x.as_str().unwrap().to_string()).collect())
        .unwrap_or_default();
    set.extend(case["extra_approvers"].as_array().unwrap().iter().map(|x| x.as_str().unwrap().to_string()));
    set
}

fn check_invariants(cases: &Value) {
    for case in cases.as_array().unwrap() {
        let set = eligible(case);
        for a in case["approvals"].as_array().unwrap().iter().chain(case["denials"].as_array().unwrap()) {
            let by = a["by"].as_str().unwrap();
            assert!(set.iter().any(|x| x == by), "{by} acted on {} but is not an approver: {case}", case["id"]);
            assert_eq!(a["verified_by"], "bearer", "{case}");
        }
        if case["state"] == "allowed" && case["resolution"]["code"] == "approved" {
            let quorum = case["decision"]["step_up"]["quorum"].as_u64().unwrap() as usize;
            let mut by: Vec<&str> =
                case["approvals"].as_array().unwrap().iter().map(|a| a["by"].as_str().unwrap()).collect();
            by.sort();
            by.dedup();
            assert!(by.len() >= quorum, "allowed without quorum: {case}");
            assert!(!by.contains(&"alice@corp.com"), "self-approval: {case}");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn random_calls_by_random_callers_keep_every_invariant() {
    let (mut accepted_events, mut refused) = (0, 0);
    let rounds: u64 = std::env::var("AARM_RANDOM_ROUNDS").ok().and_then(|s| s.parse().ok()).unwrap_or(3);
    for round in 0..rounds {
        let seed = 0x9E37_79B9_7F4A_7C15u64 ^ (round + 1).wrapping_mul(0x2545_F491_4F6C_DD1D);
        eprintln!("round {round}: seed {seed:#x}");
        let mut rng = Rng(seed);
        let d = Deployment::start_with("random", POLICY, |_| {}).await;
        let mut ids: Vec<String> = Vec::new();
        for step in 0..60 {
            let before = d.snapshot().await;
            // Mostly a real case (the newest ones more often), sometimes an unknown one.
            let id = if ids.is_empty() || rng.next() % 8 == 0 {
                "case-999999".to_string()
            } else {
                let recent = &ids[ids.len().saturating_sub(3)..];
                if rng.next() % 2 == 0 {
                    rng.pick(recent).clone()
                } else {
                    rng.pick(&ids).clone()
                }
            };
            // Decide more often at first, so that there are cases to act on.
            let kind = if step < 4 || rng.next() % 5 == 0 { 0 } else { 1 + rng.next() % 5 };
            let amount = *rng.pick(&[10i64, 60, 500, 5000]);
            // The caller: mostly one who could make sense of the call, sometimes anyone.
            let likely: &[&str] = match kind {
                0 | 4 | 5 => &["agent-token", "other-agent-token"],
                _ => &["tok-cfo", "tok-controller", "tok-security"],
            };
            let token = if rng.next() % 4 == 0 { rng.pick(TOKENS).0 } else { *rng.pick(likely) };
            let (status, body) = match kind {
                0 => {
                    let human = *rng.pick(&["alice@corp.com", "cfo@corp.com"]);
                    let mut req = json!({ "action": { "tool": "pay", "params": { "amount": amount } }, "identity": { "human": human } });
                    if rng.next() % 3 == 0 {
                        req["identity"]["agent"] = json!(rng.pick(&["finance-agent", "ops-agent", "x"]));
                    }
                    d.post("/v1/decide", token, req).await
                }
                1 => d.post(&format!("/v1/cases/{id}/approve"), token, json!({})).await,
                2 => {
                    let by = *rng.pick(&["cfo@corp.com", "controller@corp.com", "security@corp.com"]);
                    d.post(&format!("/v1/cases/{id}/approve"), token, json!({ "by": by })).await
                }
                3 => d.post(&format!("/v1/cases/{id}/deny"), token, json!({ "why": "random" })).await,
                4 => d.post(&format!("/v1/cases/{id}/cancel"), token, json!({})).await,
                _ => {
                    d.post(&format!("/v1/cases/{id}/evidence"), token, json!({ "window_ok": rng.next() % 2 == 0 }))
                        .await
                }
            };
            if let Some(case) = body.get("case").and_then(Value::as_str) {
                ids.push(case.to_string());
            }
            let after = d.snapshot().await;
            if status == 200 && kind != 0 {
                accepted_events += 1;
                let who = TOKENS.iter().find(|(t, _)| *t == token).unwrap().1;
                let case = after.0.as_array().unwrap().iter().find(|c| c["id"] == json!(id)).unwrap();
                match kind {
                    1..=3 => assert!(eligible(case).iter().any(|x| x == who), "{who} acted on {id}: {case}"),
                    _ => assert!(
                        case["identity"]["agent"] == json!(who) || who == "ops@corp.com",
                        "{who} changed {id}, submitted by {}",
                        case["identity"]["agent"]
                    ),
                }
            }
            if status != 200 {
                refused += 1;
                assert_eq!(
                    after, before,
                    "round {round} step {step}: a refused call ({status} {body}) changed the store"
                );
            }
            if body["decision"] == "allow" {
                assert_eq!(amount, 10, "round {round} step {step}: only a small payment is allowed at once: {body}");
            }
            check_invariants(&after.0);
            d.verified_chain().await;
        }
    }
    eprintln!("{accepted_events} events accepted, {refused} calls refused");
    // Not vacuous: both kinds of outcome happened.
    assert!(
        accepted_events >= rounds as usize && refused >= rounds as usize,
        "{accepted_events} accepted, {refused} refused"
    );
}

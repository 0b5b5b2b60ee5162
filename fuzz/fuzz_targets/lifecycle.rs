//! Target (5): event sequences against the case state machine, through
//! `Lifecycle<MemoryStore>` with a fixed bundle (`fuzz/seeds/lifecycle_policy.aarm`: quorums with
//! and without veto, an escalation, role approvers, self-approval, a second tier, deferrals that
//! re-evaluate, a deferral that times out to a step-up, timeouts to `allow` and `cancel`).
//!
//! The fuzzer's bytes (via `arbitrary::Unstructured`) choose: requests to submit (opening cases),
//! then events — approve / deny / provide / cancel on a case, or a tick — each with a clock move
//! (sometimes backwards). Invariants checked after every step:
//! - a resolved case never changes again (state, outcome, receipts of that case);
//! - a rejected event changes nothing, except the timers that were already due (the stored case
//!   is then exactly what a `Tick` at that time gives);
//! - a case is `allowed` only with a quorum of distinct eligible approvers (no requester unless
//!   `self_approval`), or by a timeout/attempts outcome that is `allow`, or by a re-evaluation
//!   that the engine decides `allow`;
//! - versions grow by one per commit, receipts chain (checked at the end).
#![no_main]

use aarm_cases::lifecycle::case::{Case, CaseState};
use aarm_cases::lifecycle::event::Event;
use aarm_cases::lifecycle::identity::NoIdentityService;
use aarm_cases::lifecycle::machine::{self, Env};
use aarm_cases::lifecycle::service::{Lifecycle, LifecycleError};
use aarm_cases::store::memory::MemoryStore;
use aarm_cases::store::CaseStore;
use aarm_fuzz::{build, Built};
use aarm_runtime::decision::{Effect, Outcome};
use aarm_runtime::engine::Engine;
use arbitrary::{Result, Unstructured};
use libfuzzer_sys::fuzz_target;
use serde_json::json;
use std::collections::BTreeMap;
use std::sync::{Arc, OnceLock};

const T0: i64 = 1_795_514_400;

static FIXTURE: OnceLock<(Built, Arc<Engine>)> = OnceLock::new();

const PEOPLE: [&str; 9] = ["a", "b", "c", "d", "e", "lead", "alice", "mallory", ""];

fn request(u: &mut Unstructured<'_>) -> Result<String> {
    let tool = *u.choose(&["pay", "rotate", "wire", "push"])?;
    let params = match tool {
        "pay" | "wire" => json!({"amount": *u.choose(&[5i64, 500])?}),
        "rotate" => json!({"env": "prod"}),
        _ => json!({"branch": "main"}),
    };
    let mut evidence = serde_json::Map::new();
    if u.ratio(1, 3)? {
        evidence.insert("window".into(), json!(u.arbitrary::<bool>()?));
    }
    if u.ratio(1, 3)? {
        evidence.insert("score".into(), json!(*u.choose(&[0i64, 4, 9])?));
    }
    Ok(json!({
        "action": {"tool": tool, "params": params},
        "identity": {"human": *u.choose(&["alice", "a", "mallory"])?},
        "evidence": evidence,
    })
    .to_string())
}

fn event(u: &mut Unstructured<'_>) -> Result<Event> {
    Ok(match u.int_in_range(0u8..=5)? {
        0 | 1 => {
            let roles = if u.ratio(1, 3)? { vec![(*u.choose(&["sec", "fin"])?).to_string()] } else { vec![] };
            Event::Approve { by: (*u.choose(&PEOPLE)?).to_string(), roles, until: None, max: Default::default() }
        }
        2 => {
            let roles = if u.ratio(1, 3)? { vec![(*u.choose(&["sec", "fin"])?).to_string()] } else { vec![] };
            Event::Deny { by: (*u.choose(&PEOPLE)?).to_string(), why: None, roles }
        }
        3 => {
            let name = *u.choose(&["window", "score", "nope"])?;
            let value = u.choose(&[json!(true), json!(false), json!(2), json!(9), json!("x"), json!(null)])?.clone();
            Event::Provide { name: name.to_string(), value, by: None }
        }
        4 => Event::Tick,
        _ => Event::Cancel { by: None },
    })
}

fn clock(u: &mut Unstructured<'_>) -> Result<i64> {
    Ok(*u.choose(&[0i64, 0, 1, 59, 60, 120, 299, 300, 600, 900, 901, 1200, 1800, 3600, 7200, -60])?)
}

/// Whether an `allowed` case got there legitimately.
fn check_allowed(case: &Case, engine: &Engine) {
    let code = case.resolution.as_ref().map(|r| &*r.code).unwrap_or("");
    match code {
        "approved" => {
            let s = case.decision.step_up.as_ref().expect("approved without a step-up obligation");
            let requester = case.identity.get("human").and_then(|h| h.as_str()).unwrap_or("");
            let mut distinct: Vec<&str> = Vec::new();
            for a in &case.approvals {
                assert!(!distinct.contains(&a.by.as_str()), "duplicate approver {} in {case:#?}", a.by);
                distinct.push(&a.by);
                let eligible = case.extra_approvers.contains(&a.by)
                    || match &s.role {
                        Some(role) => a.roles.contains(role),
                        None => s.approvers.contains(&a.by),
                    };
                assert!(eligible, "ineligible approver {} counted in {case:#?}", a.by);
                assert!(s.self_approval || a.by.is_empty() || a.by != requester, "self-approval counted: {case:#?}");
                assert_eq!(a.action_hash, case.action_hash, "approval bound to another action");
            }
            assert!(distinct.len() >= s.quorum as usize, "allowed without quorum: {case:#?}");
        }
        "timeout" => {
            let allow_out = match (&case.decision.step_up, &case.decision.defer) {
                (Some(s), _) if case.decision.decision == Effect::StepUp => s.on_timeout == Outcome::Allow,
                (_, Some(d)) => d.on_timeout == Outcome::Allow,
                (Some(s), None) => s.on_timeout == Outcome::Allow,
                (None, None) => false,
            };
            assert!(allow_out, "allowed by a timeout whose outcome is not allow: {case:#?}");
        }
        "attempts_exhausted" => {
            let d = case.decision.defer.as_ref().expect("attempts without a deferral");
            assert_eq!(d.on_exhausted, Outcome::Allow, "allowed by exhausted attempts: {case:#?}");
        }
        _ => {
            // A re-evaluation with the evidence collected: the engine must say allow.
            let again = engine.decide_json(&case.request.to_string(), case.updated_at);
            assert_eq!(
                again.decision,
                Effect::Allow,
                "allowed by re-evaluation ({code}) the engine does not allow: {case:#?}"
            );
        }
    }
}

/// How many receipts the chain holds: the head's sequence number (receipts are numbered from 1),
/// read without copying the chain.
fn chain_length(store: &MemoryStore) -> u64 {
    store.chain_head().expect("chain head").map_or(0, |(seq, _)| seq)
}

fuzz_target!(|data: &[u8]| {
    let (_, engine) = FIXTURE.get_or_init(|| {
        let built = build(vec![("lc.aarm".to_string(), include_str!("../seeds/lifecycle_policy.aarm").to_string())]);
        let engine = Arc::new(Engine::load(&built.bytes, &[], false).expect("fixture loads"));
        (built, engine)
    });
    let mut u = Unstructured::new(data);
    let mut lc = Lifecycle::new(MemoryStore::new(), Box::new(NoIdentityService));
    lc.add_engine(engine.clone(), None).expect("add engine");
    let hash = engine.bundle_hash().to_string();
    let mut now = T0;
    let mut ids: Vec<String> = Vec::new();
    // Cases seen resolved, as they were then.
    let mut resolved: BTreeMap<String, Case> = BTreeMap::new();
    // Every case's id and version as the last step left it, in the store's (id) order; the
    // checks below read the cases in place rather than copying them all after every step.
    let mut versions: Vec<(String, u64)> = Vec::new();

    for _ in 0..64 {
        if u.is_empty() {
            break;
        }
        let Ok(dt) = clock(&mut u) else { break };
        let at = now + dt;
        let Ok(kind) = u.int_in_range(0u8..=7) else { break };
        let receipts_before = chain_length(lc.store());
        if kind == 0 || ids.is_empty() {
            let Ok(req) = request(&mut u) else { break };
            match lc.submit(&hash, &req, at) {
                Ok(s) => {
                    if let Some(c) = s.case {
                        assert!(matches!(s.decision.decision, Effect::StepUp | Effect::Defer));
                        ids.push(c.id);
                    }
                }
                Err(LifecycleError::Rejected(r)) => {
                    assert_eq!(r.as_str(), "clock_went_back");
                    assert!(at < now);
                }
                Err(e) => panic!("submit failed: {e}"),
            }
        } else if kind == 1 {
            match lc.tick(at) {
                Ok(_) => {}
                Err(LifecycleError::Rejected(r)) => assert_eq!(r.as_str(), "clock_went_back"),
                Err(e) => panic!("tick failed: {e}"),
            }
        } else {
            let Ok(id) = u.choose(&ids).cloned() else { break };
            let Ok(ev) = event(&mut u) else { break };
            let case_before = lc.store().get(&id).expect("get").expect("case exists");
            match lc.apply(&id, &ev, at, None) {
                Ok((case, _)) => {
                    assert!(!case_before.state.is_resolved(), "an event was accepted on a resolved case");
                    assert_eq!(lc.store().cases().find(|c| c.id == id), Some(&case));
                }
                Err(LifecycleError::Rejected(r)) => {
                    let after = lc.store().cases().find(|c| c.id == id).expect("case exists");
                    // What a tick alone would have done to the case as it was before the event.
                    let env = Env { engine, identities: &NoIdentityService };
                    let ticked = machine::apply(&case_before, &Event::Tick, at, &env).ok().map(|t| t.case);
                    let due_only = ticked.as_ref().is_some_and(|t| {
                        let mut t = t.clone();
                        // The store stamps versions; compare the rest.
                        t.version = after.version;
                        t == *after
                    });
                    assert!(
                        *after == case_before || due_only,
                        "rejected {ev:?} ({r}) changed case {id} beyond what was due:\nbefore {case_before:#?}\nafter {after:#?}"
                    );
                }
                Err(e) => panic!("apply failed: {e}"),
            }
        }
        if at >= now {
            now = at;
        }
        // Invariants over every case.
        let receipts_after = chain_length(lc.store());
        assert!(receipts_after >= receipts_before, "receipts disappeared");
        let mut seen = 0;
        for (i, case) in lc.store().cases().enumerate() {
            seen += 1;
            match versions.get_mut(i) {
                Some((id, old)) => {
                    assert_eq!(id, &case.id, "the store's cases changed order");
                    assert!(case.version >= *old, "version went back");
                    assert!(case.version <= *old + 1, "more than one commit per step on one case");
                    *old = case.version;
                }
                None => versions.push((case.id.clone(), case.version)),
            }
            if let Some(old) = resolved.get(&case.id) {
                // Checked when it resolved; any change since is a change to a resolved case.
                assert_eq!(old, case, "a resolved case changed");
            } else if case.state.is_resolved() {
                assert!(case.outcome.is_some() || case.resolution.is_some(), "resolved without outcome: {case:#?}");
                if case.state == CaseState::Allowed {
                    check_allowed(case, engine);
                }
                resolved.insert(case.id.clone(), case.clone());
            }
        }
        assert_eq!(seen, versions.len(), "a case disappeared");
    }
    let receipts = lc.store().receipts(None).expect("receipts");
    if let Err(e) = aarm_cases::receipts::verify_chain(&receipts, &aarm_cases::receipts::VerifyOptions::default()) {
        panic!("receipt chain does not verify: {e:?}");
    }
});

//! Fail closed, everywhere: a store failure, an evaluation error, exhausted fuel, a corrupt
//! bundle and invalid input each end in a `deny` with a reason — never an allow, never a panic,
//! never a hang.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]

use aarm::cases::lifecycle::case::Case;
use aarm::cases::lifecycle::event::Event;
use aarm::cases::lifecycle::identity::NoIdentityService;
use aarm::cases::lifecycle::receipt::{Receipt, ReceiptDraft};
use aarm::cases::lifecycle::service::{Lifecycle, LifecycleError};
use aarm::cases::store::memory::MemoryStore;
use aarm::cases::store::{CaseStore, StoreError};
use aarm::runtime::decision::{codes, Decision, Effect};
use aarm::runtime::engine::Engine;
use std::sync::Arc;

const NOW: i64 = 1_795_514_400;

fn engine(src: &str) -> (Engine, Vec<u8>) {
    let built = aarm_testkit::build(src).unwrap();
    (built.engine().unwrap(), built.bytes)
}

const POLICY: &str = r#"
policy p version "1"
settings { default allow }
tool pay { amount: Int, items: List<Int> }
rule big on pay priority 10 {
  when params.amount > 100
  step_up { approvers 1 of ["a@corp.com"] }
}
rule overflow on pay priority 20 {
  when params.amount * params.amount > 0 and params.amount > 1_000_000_000
  allow
}
rule expensive on pay priority 30 {
  when (count x in params.items: (count y in params.items: x == y) > 0) > 1_000_000
  allow
}
"#;

fn pay(amount: i64, items: usize) -> String {
    let items: Vec<String> = (0..items).map(|i| i.to_string()).collect();
    format!(r#"{{"action": {{"tool": "pay", "params": {{"amount": {amount}, "items": [{}]}}}}}}"#, items.join(","))
}

/// `d`, the decision on `what`, is the deny of an evaluation error whose message names `cause`.
fn assert_eval_error_deny(d: &Decision, cause: &str, what: &str) {
    assert_eq!(d.decision, Effect::Deny, "{what}: {d:?}");
    assert_eq!(&*d.reason.code, codes::EVAL_ERROR, "{what}: {d:?}");
    assert!(d.reason.message.contains(cause), "{what}: {}", d.reason.message);
}

#[test]
fn an_evaluation_error_is_a_deny_naming_the_rule_even_under_default_allow() {
    let (engine, _) = engine(POLICY);
    let d = engine.decide_json(&pay(4_000_000_000, 0), NOW);
    assert_eval_error_deny(&d, "overflow", "a product past the Int range");
    assert_eq!(d.rule.as_deref(), Some("p.overflow"));
}

#[test]
fn exhausted_fuel_is_a_deny_not_a_hang() {
    let (engine, _) = engine(POLICY);
    // 3 000 × 3 000 iterations: far past the instruction budget. That it stops is the fuel's
    // doing (the message says so); how fast is the benchmarks' business, not a test's.
    let d = engine.decide_json(&pay(5, 3_000), NOW);
    assert_eval_error_deny(&d, "fuel", "3 000 × 3 000 iterations");
}

/// A policy whose work is quadratic in the request without fuel for data: `filter` copies its
/// growing result at every step, `x in xs` walks the list.
const QUADRATIC: &str = r#"
policy q version "1"
settings { default allow }
tool pay { amount: Int, items: List<Int> }
rule copies on pay priority 20 {
  when params.items.filter(x => x >= 0).len() < 0
  deny
}
rule walks on pay priority 10 {
  when all x in params.items: x in params.items
  deny
}
"#;

#[test]
fn work_on_large_data_is_charged_as_fuel() {
    let (engine, _) = engine(QUADRATIC);
    // Stopped by fuel (the message says so), not by the data running out.
    for items in [100_000, 30_000] {
        assert_eval_error_deny(&engine.decide_json(&pay(1, items), NOW), "fuel", &format!("{items} items"));
    }
    // Small data stays well within the budget.
    let d = engine.decide_json(&pay(1, 100), NOW);
    assert_eq!(d.decision, Effect::Deny);
    assert_eq!(d.rule.as_deref(), Some("q.walks"));
}

#[test]
fn a_hostile_loop_that_grows_a_list_is_bounded_by_fuel() {
    // What the bundle_mutate fuzzer found: a valid bundle whose `filter` loop jumps back past its
    // `iter_next`, so the body runs again and again on the same element and the result list
    // grows (and is copied) at every step. The verifier accepts it (the stack is balanced); the
    // fuel must bound it.
    use aarm::runtime::bytecode::Op;
    let src = r#"
policy p version "1"
settings { default deny }
tool mail { to: List<String> }
rule keep on mail {
  when params.to.len() > 0
  modify { params.to = params.to.filter(x => x.ends_with("@corp.com")) }
}
"#;
    let mut program = aarm_testkit::build(src).unwrap().program;
    let mut patched = 0;
    for chunk in &mut program.chunks {
        let code = chunk.code.clone();
        for (at, op) in code.iter().enumerate() {
            if let (Op::Jump(back), Some(Op::FilterStep { .. })) = (op, at.checked_sub(1).and_then(|i| code.get(i))) {
                chunk.code[at] = Op::Jump(back + 1);
                patched += 1;
            }
        }
    }
    assert_eq!(patched, 1, "the filter loop was not found");
    let engine = Engine::from_program(program, "sha256:test").expect("the verifier accepts the loop");
    let d = engine.decide_json(r#"{"action": {"tool": "mail", "params": {"to": ["a@corp.com"]}}}"#, NOW);
    assert_eq!(d.decision, Effect::Deny, "{d:?}");
    assert!(d.reason.message.contains("fuel"), "{}", d.reason.message);
}

#[test]
fn invalid_input_is_a_deny() {
    let (engine, _) = engine(POLICY);
    for bad in
        ["", "{", "[]", r#"{"action": {}}"#, r#"{"action": {"tool": "pay", "params": {"amount": "x", "items": []}}}"#]
    {
        let d = engine.decide_json(bad, NOW);
        assert_eq!((d.decision, &*d.reason.code), (Effect::Deny, codes::INPUT_INVALID), "{bad}");
    }
}

/// `decide_value` (the Python and Node packages' path for a request they hold as a value) decides
/// as `decide_json` does on the same document, and refuses what the text path refuses, even
/// under `default allow`.
#[test]
fn decide_value_agrees_with_decide_json_and_an_invalid_value_is_a_deny() {
    let (engine, _) = engine(POLICY);
    for text in [pay(5, 2), pay(500, 0)] {
        let value = aarm::runtime::json::parse(&text).unwrap();
        assert_eq!(engine.decide_value(&value, NOW), engine.decide_json(&text, NOW), "{text}");
    }
    let mut deep = serde_json::json!(1);
    for _ in 0..200 {
        deep = serde_json::json!([deep]);
    }
    for bad in [
        serde_json::json!([]),
        serde_json::json!(null),
        serde_json::json!({"action": {"tool": "pay", "params": {"amount": 1.5, "items": []}}}),
        serde_json::json!({"action": {"tool": "pay", "params": {"amount": 1, "items": [deep]}}}),
    ] {
        let d = engine.decide_value(&bad, NOW);
        assert_eq!((d.decision, &*d.reason.code), (Effect::Deny, codes::INPUT_INVALID), "{bad}");
    }
}

#[test]
fn a_corrupt_bundle_never_loads() {
    let (_, bytes) = engine(POLICY);
    for i in (0..bytes.len()).step_by(7) {
        let mut b = bytes.clone();
        b[i] ^= 0x20;
        assert!(Engine::load(&b, &[], false).is_err(), "byte {i}");
    }
    assert!(Engine::load(&[], &[], false).is_err());
}

/// A store whose disk is gone: every write fails.
struct BrokenStore(MemoryStore);

impl CaseStore for BrokenStore {
    fn open(&mut self, _: Case, _: ReceiptDraft) -> Result<(Case, Receipt), StoreError> {
        Err(StoreError::Backend("disk I/O error".into()))
    }
    fn commit(&mut self, _: &Case, _: Vec<ReceiptDraft>, _: Option<&str>) -> Result<Option<Vec<Receipt>>, StoreError> {
        Err(StoreError::Backend("disk I/O error".into()))
    }
    fn record(&mut self, _: Vec<ReceiptDraft>) -> Result<Vec<Receipt>, StoreError> {
        Err(StoreError::Backend("disk I/O error".into()))
    }
    fn applied(&self, case: &str, event_id: &str) -> Result<bool, StoreError> {
        self.0.applied(case, event_id)
    }
    fn chain_head(&self) -> Result<Option<(u64, String)>, StoreError> {
        self.0.chain_head()
    }
    fn get(&self, id: &str) -> Result<Option<Case>, StoreError> {
        self.0.get(id)
    }
    fn list(&self, pending_only: bool) -> Result<Vec<Case>, StoreError> {
        self.0.list(pending_only)
    }
    fn receipts(&self, case: Option<&str>) -> Result<Vec<Receipt>, StoreError> {
        self.0.receipts(case)
    }
    fn last_event_at(&self) -> Result<Option<i64>, StoreError> {
        self.0.last_event_at()
    }
    fn put_bundle(&mut self, _: &str, _: &[u8]) -> Result<(), StoreError> {
        Err(StoreError::Backend("disk I/O error".into()))
    }
    fn get_bundle(&self, hash: &str) -> Result<Option<Vec<u8>>, StoreError> {
        self.0.get_bundle(hash)
    }
}

#[test]
fn a_suspended_action_the_store_cannot_record_is_denied() {
    let (engine, _) = engine(POLICY);
    let hash = engine.bundle_hash().to_string();
    let mut lc = Lifecycle::new(BrokenStore(MemoryStore::new()), Box::new(NoIdentityService));
    lc.add_engine(Arc::new(engine), None).unwrap();
    let s = lc.submit(&hash, &pay(500, 0), NOW).unwrap();
    assert_eq!(s.decision.decision, Effect::Deny);
    assert_eq!(&*s.decision.reason.code, codes::STORE_UNAVAILABLE);
    assert!(s.case.is_none());
    // Every decision leaves a receipt: an allow the store cannot record is a deny too.
    let s = lc.submit(&hash, &pay(5, 0), NOW).unwrap();
    assert_eq!((s.decision.decision, &*s.decision.reason.code), (Effect::Deny, codes::STORE_UNAVAILABLE));
    assert!(s.receipt.is_none());
}

#[test]
fn an_event_the_store_cannot_record_changes_nothing() {
    let (engine, bytes) = engine(POLICY);
    let hash = engine.bundle_hash().to_string();
    let mut good = Lifecycle::new(MemoryStore::new(), Box::new(NoIdentityService));
    good.add_engine(Arc::new(engine), Some(&bytes)).unwrap();
    let case = good.submit(&hash, &pay(500, 0), NOW).unwrap().case.unwrap();
    // The same cases behind a store that can no longer write.
    let store = std::mem::take(good.store_mut());
    let mut broken = Lifecycle::new(BrokenStore(store), Box::new(NoIdentityService));
    let approve = Event::Approve { by: "a@corp.com".into(), roles: vec![], until: None, max: Default::default() };
    let err = broken.apply(&case.id, &approve, NOW + 60, None).unwrap_err();
    assert!(matches!(err, LifecycleError::Store(_)), "{err}");
    let stored = broken.store().get(&case.id).unwrap().unwrap();
    assert!(!stored.state.is_resolved(), "the approval was not applied, so nothing was released");
}

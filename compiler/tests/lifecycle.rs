#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]
//! The lifecycle of suspended actions, clause by clause (docs/language.md `step_up` and
//! `defer`): small policies compiled from source, loaded as real bundles, and driven through
//! `Lifecycle<MemoryStore>` (and `machine::open/apply` directly) on a simulated clock.
//!
//! Every test checks the receipts a transition appends (count and `event` names), and every
//! rejection test checks that the refused event changed nothing: the stored case and the whole
//! receipt chain are identical before and after.
//!
//! Some tests are minimal reproductions of bugs the machine once had (no-veto reachability,
//! re-evaluation time, clock checks on resolved cases); they stay as regression tests.

use aarm_cases::lifecycle::action::action_hash;
use aarm_cases::lifecycle::case::{Case, CaseState, Credential};
use aarm_cases::lifecycle::event::{Event, Rejection};
use aarm_cases::lifecycle::identity::{IdentityVerifier, NoIdentityService};
use aarm_cases::lifecycle::machine::{self, Env};
use aarm_cases::lifecycle::receipt::Receipt;
use aarm_cases::lifecycle::service::{Lifecycle, LifecycleError, Submitted};
use aarm_cases::store::memory::MemoryStore;
use aarm_cases::store::CaseStore;
use aarm_compiler::{compile, load_sources};
use aarm_runtime::decision::{Effect, Outcome};
use aarm_runtime::engine::Engine;
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::sync::Arc;

/// 2026-11-24T10:00:00Z, the simulated clock's start.
const T0: i64 = 1_795_514_400;
const MIN: i64 = 60;

// ---------------------------------------------------------------------------------------------
// Building bundles

/// A loaded engine and the bundle bytes it was loaded from.
type Built = (Arc<Engine>, Vec<u8>);

/// Compiles `src` (one file) and returns the diagnostics' codes and, when error-free, the bundle.
fn try_build(src: &str) -> (Vec<String>, Option<Built>) {
    let loaded = load_sources(vec![("policy.aarm".to_string(), src.to_string())]);
    let compiled = compile(&loaded);
    let codes = compiled.checked.diagnostics.iter().map(|d| d.code.as_str().to_string()).collect();
    let built = compiled.program.map(|program| {
        let bytes = aarm_runtime::bundle::encode(&program, None).expect("encode");
        let engine = Engine::load(&bytes, &[], false).expect("load");
        (Arc::new(engine), bytes)
    });
    (codes, built)
}

fn build(src: &str) -> (Arc<Engine>, Vec<u8>) {
    let built = aarm_testkit::build(src).unwrap_or_else(|e| panic!("{e}\n{src}"));
    (Arc::new(built.engine().unwrap()), built.bytes)
}

/// A payments policy whose large transfers step up with the given `step_up { ... }` body.
fn step_up_policy(body: &str) -> String {
    format!(
        r#"policy p version "1"
tool pay {{ amount: Int }}
evidence receipt_checked: Bool from "ledger"
rule big on pay priority 10 {{
  when params.amount > 100
  step_up {{ {body} }}
  reason "pay.big" "Payment of {{params.amount}} needs approval"
}}
rule small on pay {{ allow }}
"#
    )
}

/// Credential rotation waits for evidence (docs/language.md, evidence and `defer`); `settings` is inserted as is.
fn defer_policy(settings: &str, version: &str) -> String {
    format!(
        r#"policy creds version "{version}"
{settings}
tool rotate {{ env: String }}
tool mail {{ to: String, subject: String }}
tool export {{ table: String }}
context {{ age_h: Int? }}
evidence window: Bool from "maintenance_api"
evidence risk_score: Int from "risk_api"
evidence ext_ok: Bool from "directory"
evidence fresh: String from "data_catalog"
evidence unrelated: Bool from "elsewhere"

rule risky on rotate priority 60 {{
  when evidence.risk_score > 5
  step_up {{ approvers 1 of ["sec"] timeout 30m -> deny }}
  reason "creds.risky" "Risky rotation"
}}
rule outside on rotate priority 50 {{
  when not evidence.window
  deny
  reason "creds.outside_window" "Rotation outside the maintenance window"
}}
rule inside on rotate priority 10 {{
  allow
  reason "creds.ok" "Inside the window"
}}

rule tag_external on mail priority 10 {{
  when not evidence.ext_ok
  modify {{ params.subject = "[ext] " + params.subject }}
  reason "mail.tagged" "External mail is tagged"
}}
rule mail_ok on mail priority 0 {{ allow reason "mail.ok" "ok" }}

rule stale on export priority 70 {{
  when evidence.fresh is not set
  defer {{
    need fresh
    timeout 10m -> deny
    attempts 2 -> step_up {{ approvers 1 of ["steward"] timeout 1h -> deny }}
  }}
  reason "data.stale" "Classification is stale"
}}
rule restricted on export priority 80 {{
  when evidence.fresh == "RESTRICTED"
  deny
  reason "data.restricted" "Restricted table"
}}
rule export_ok on export priority 0 {{ allow reason "data.ok" "ok" }}
"#
    )
}

fn pay(amount: i64, human: &str) -> Value {
    json!({ "action": { "tool": "pay", "params": { "amount": amount } }, "identity": { "human": human, "agent": "pay-agent" } })
}

fn rotate() -> Value {
    json!({ "action": { "tool": "rotate", "params": { "env": "prod" } }, "identity": { "human": "alice", "agent": "ops-agent" } })
}

// ---------------------------------------------------------------------------------------------
// Identity services

#[derive(Default, Clone)]
struct Ids {
    roles: BTreeMap<String, Vec<String>>,
    validity: Option<i64>,
    revalidate: bool,
}

impl IdentityVerifier for Ids {
    fn roles(&self, who: &str) -> Vec<String> {
        self.roles.get(who).cloned().unwrap_or_default()
    }
    fn validity_s(&self, _identity: &Value) -> Option<i64> {
        self.validity
    }
    fn revalidate(&self, _identity: &Value, _now: i64) -> bool {
        self.revalidate
    }
}

// ---------------------------------------------------------------------------------------------
// The harness

struct H {
    lc: Lifecycle<MemoryStore>,
    hash: String,
    now: i64,
}

impl H {
    fn new(src: &str) -> H {
        H::with(src, Ids::default())
    }

    fn with(src: &str, ids: Ids) -> H {
        let (engine, bytes) = build(src);
        let mut lc = Lifecycle::new(MemoryStore::new(), Box::new(ids));
        lc.add_engine(engine.clone(), Some(&bytes)).unwrap();
        let hash = engine.bundle_hash().to_string();
        H { lc, hash, now: T0 }
    }

    /// Moves the clock to `T0 + secs`.
    fn at(&mut self, secs: i64) -> &mut H {
        self.now = T0 + secs;
        self
    }

    fn submit(&mut self, req: &Value) -> Submitted {
        self.lc.submit(&self.hash, &req.to_string(), self.now).unwrap()
    }

    /// Submits and expects a case to open; returns its id.
    fn open(&mut self, req: &Value) -> String {
        let s = self.submit(req);
        let case = s.case.unwrap_or_else(|| panic!("no case opened: {:?}", s.decision));
        assert_eq!(self.receipts(&case.id).len(), 1);
        assert_eq!(self.events(&case.id), ["open"]);
        assert_eq!(case.version, 0);
        case.id
    }

    fn ev(&mut self, id: &str, e: Event) -> Result<(Case, Vec<Receipt>), Rejection> {
        match self.lc.apply(id, &e, self.now, None) {
            Ok(x) => Ok(x),
            Err(LifecycleError::Rejected(r)) => Err(r),
            Err(other) => panic!("not a lifecycle rejection: {other}"),
        }
    }

    /// Applies `e`, expects it accepted, and returns the case and the event names it appended.
    fn ok(&mut self, id: &str, e: Event) -> (Case, Vec<String>) {
        let before = self.lc.store().receipts(None).unwrap().len();
        let version = self.case(id).version;
        let (case, receipts) = self.ev(id, e.clone()).unwrap_or_else(|r| panic!("{e:?} rejected: {r}"));
        let after = self.lc.store().receipts(None).unwrap().len();
        assert_eq!(after - before, receipts.len(), "the store holds exactly the receipts returned");
        assert_eq!(case, self.case(id), "the returned case is the stored one");
        if receipts.is_empty() {
            assert_eq!(case.version, version);
        } else {
            assert_eq!(case.version, version + 1, "one commit, one version");
        }
        (case, receipts.iter().map(|r| r.body.event.clone()).collect())
    }

    /// Applies `e`, expects the rejection `why`, and that nothing changed.
    fn reject(&mut self, id: &str, e: Event, why: Rejection) {
        let case = self.lc.store().get(id).unwrap();
        let chain = self.lc.store().receipts(None).unwrap();
        let got = self.ev(id, e.clone());
        assert_eq!(got.as_ref().err(), Some(&why), "{e:?} at {}: expected {why}, got {got:?}", self.now - T0);
        assert_eq!(self.lc.store().get(id).unwrap(), case, "a rejected {e:?} changed the case");
        assert_eq!(self.lc.store().receipts(None).unwrap(), chain, "a rejected {e:?} appended receipts");
    }

    fn case(&self, id: &str) -> Case {
        self.lc.store().get(id).unwrap().unwrap()
    }

    fn receipts(&self, id: &str) -> Vec<Receipt> {
        self.lc.store().receipts(Some(id)).unwrap()
    }

    fn events(&self, id: &str) -> Vec<String> {
        self.receipts(id).iter().map(|r| r.body.event.clone()).collect()
    }
}

fn approve(by: &str) -> Event {
    Event::Approve { by: by.to_string(), roles: Vec::new(), until: None, max: Default::default() }
}

fn approve_as(by: &str, roles: &[&str]) -> Event {
    Event::Approve {
        by: by.to_string(),
        roles: roles.iter().map(|r| r.to_string()).collect(),
        until: None,
        max: Default::default(),
    }
}

fn deny(by: &str) -> Event {
    Event::Deny { by: by.to_string(), why: Some("no".to_string()), roles: vec![] }
}

fn provide(name: &str, value: Value) -> Event {
    Event::Provide { name: name.to_string(), value, by: None }
}

fn cancel() -> Event {
    Event::Cancel { by: Some("host".to_string()) }
}

fn resolution(case: &Case) -> &str {
    case.resolution.as_ref().map(|r| &*r.code).unwrap_or("")
}

fn approvers(case: &Case) -> Vec<&str> {
    case.approvals.iter().map(|a| a.by.as_str()).collect()
}

// ---------------------------------------------------------------------------------------------
// 5.2 `approvers M of ...`: quorum of distinct approvers

#[test]
fn two_of_three_needs_two_different_people() {
    let mut h = H::new(&step_up_policy(r#"approvers 2 of ["a", "b", "c"]"#));
    let id = h.open(&pay(500, "alice"));
    let case = h.case(&id);
    assert_eq!(case.state, CaseState::PendingApproval);
    assert_eq!(case.decision.decision, Effect::StepUp);
    assert_eq!(case.decision.step_up.as_ref().unwrap().quorum, 2);

    h.at(MIN);
    let (case, evs) = h.ok(&id, approve("a"));
    assert_eq!(evs, ["approve"]);
    assert_eq!(case.state, CaseState::PendingApproval, "one approval of two");
    // The same person again does not make two.
    h.at(2 * MIN);
    h.reject(&id, approve("a"), Rejection::DuplicateApproval);
    assert_eq!(h.case(&id).state, CaseState::PendingApproval);

    let (case, evs) = h.ok(&id, approve("b"));
    assert_eq!(evs, ["approve"]);
    assert_eq!(case.state, CaseState::Allowed);
    assert_eq!(resolution(&case), "approved");
    assert_eq!(case.outcome.as_ref().unwrap().decision, Effect::Allow);
    assert_eq!(approvers(&case), ["a", "b"]);
    let released = case.released_action.as_ref().unwrap();
    assert_eq!((released.tool.as_str(), released.params.get("amount")), ("pay", Some(&json!(500))));
    assert_eq!(h.events(&id), ["open", "approve", "approve"]);
}

#[test]
fn one_of_needs_one() {
    let mut h = H::new(&step_up_policy(r#"approvers 1 of ["a", "b"]"#));
    let id = h.open(&pay(500, "alice"));
    let (case, evs) = h.ok(&id, approve("b"));
    assert_eq!((case.state, resolution(&case), evs.len()), (CaseState::Allowed, "approved", 1));
}

/// A released step-up is an allow like any other: under `settings { allow_valid }` it may be
/// acted on for that long from its release (not from the request), and the outcome says when.
#[test]
fn a_released_allow_expires_allow_valid_after_its_release() {
    let policy = step_up_policy(r#"approvers 1 of ["a", "b"]"#).replacen(
        "tool pay",
        "settings { allow_valid 10m }\ntool pay",
        1,
    );
    let mut h = H::new(&policy);
    let id = h.open(&pay(500, "alice"));
    assert_eq!(h.case(&id).decision.expires_at, None, "a step_up never expires into an allow");
    h.at(30 * MIN);
    let (case, _) = h.ok(&id, approve("b"));
    let outcome = case.outcome.as_ref().unwrap();
    assert_eq!(outcome.decision, Effect::Allow);
    let released = outcome.evaluated_at.as_deref().and_then(aarm_runtime::value::parse_time).unwrap();
    let expires = outcome.expires_at.as_deref().and_then(aarm_runtime::value::parse_time).unwrap();
    assert_eq!(expires - released, 600, "{outcome:?}");
    assert!(outcome.is_current(released + 599) && !outcome.is_current(released + 600));
    assert_eq!(outcome.decision_id, case.decision.decision_id, "the outcome is the case decision's");
}

fn expiry(d: &aarm_runtime::decision::Decision) -> (i64, Option<i64>) {
    let at = d.evaluated_at.as_deref().and_then(aarm_runtime::value::parse_time).unwrap();
    (at, d.expires_at.as_deref().and_then(aarm_runtime::value::parse_time))
}

fn approve_until(by: &str, until: i64) -> Event {
    Event::Approve { by: by.to_string(), roles: Vec::new(), until: Some(until), max: Default::default() }
}

/// A rule's `valid` times its own allow, over `settings { allow_valid }`; a rule without one
/// keeps the setting's.
#[test]
fn a_rules_valid_overrides_allow_valid_for_its_allow() {
    let policy = step_up_policy(r#"approvers 1 of ["a"]"#)
        .replacen("tool pay", "settings { allow_valid 10m }\ntool pay", 1)
        .replacen(
            "rule small on pay { allow }",
            "rule small on pay { when params.amount < 10 valid 30s allow }\nrule mid on pay { allow }",
            1,
        );
    let mut h = H::new(&policy);
    let tiny = h.submit(&pay(5, "alice")).decision;
    assert_eq!(tiny.rule.as_deref(), Some("p.small"));
    let (at, expires) = expiry(&tiny);
    assert_eq!(expires, Some(at + 30), "{tiny:?}");
    let mid = h.submit(&pay(50, "alice")).decision;
    let (at, expires) = expiry(&mid);
    assert_eq!(expires, Some(at + 600), "no valid of its own: allow_valid");
}

/// `step_up { valid D }` times the allow a release gives, over `settings { allow_valid }`.
#[test]
fn a_step_ups_valid_times_the_allow_it_releases() {
    let policy = step_up_policy(r#"approvers 1 of ["a", "b"] valid 2m"#).replacen(
        "tool pay",
        "settings { allow_valid 10m }\ntool pay",
        1,
    );
    let mut h = H::new(&policy);
    let id = h.open(&pay(500, "alice"));
    assert_eq!(h.case(&id).decision.step_up.as_ref().unwrap().valid_s, Some(120));
    h.at(30 * MIN);
    let (case, _) = h.ok(&id, approve("b"));
    let (released, expires) = expiry(case.outcome.as_ref().unwrap());
    assert_eq!((released, expires), (T0 + 30 * MIN, Some(T0 + 32 * MIN)));
    assert_eq!(case.approvals[0].until, Some(T0 + 32 * MIN), "the approval records its bound");
}

/// An approval counts for the step-up's `valid` only: a quorum cannot be made of one fresh
/// approval and one that has lapsed.
#[test]
fn an_approval_older_than_its_valid_stops_counting() {
    let mut h = H::new(&step_up_policy(r#"approvers 2 of ["a", "b", "c"] valid 1h timeout 4h -> deny"#));
    let id = h.open(&pay(500, "alice"));
    h.at(MIN);
    h.ok(&id, approve("a"));
    h.at(2 * 60 * MIN);
    let (case, _) = h.ok(&id, approve("b"));
    assert_eq!(case.state, CaseState::PendingApproval, "a's approval lapsed at 1h01");
    let (case, _) = h.ok(&id, approve("c"));
    assert_eq!((case.state, resolution(&case)), (CaseState::Allowed, "approved"));
    let (released, expires) = expiry(case.outcome.as_ref().unwrap());
    assert_eq!(expires, Some(released + 3600));
}

/// An approver's `until` only narrows: it cuts the released allow's expiry and the approval's
/// own; one later than the step-up's `valid` changes nothing; one not in the future is refused
/// and changes nothing.
#[test]
fn an_approvers_until_narrows_and_a_past_one_is_refused() {
    let mut h = H::new(&step_up_policy(r#"approvers 1 of ["a", "b"] valid 1h"#));
    let id = h.open(&pay(500, "alice"));
    h.at(10 * MIN);
    h.reject(&id, approve_until("a", T0 + 10 * MIN), Rejection::UntilInPast);
    h.reject(&id, approve_until("a", T0), Rejection::UntilInPast);
    let (case, _) = h.ok(&id, approve_until("a", T0 + 15 * MIN));
    let outcome = case.outcome.as_ref().unwrap();
    assert_eq!(expiry(outcome), (T0 + 10 * MIN, Some(T0 + 15 * MIN)));
    assert!(outcome.is_current(T0 + 15 * MIN - 1) && !outcome.is_current(T0 + 15 * MIN));
    assert_eq!(h.receipts(&id).last().unwrap().body.detail["until"], json!(T0 + 15 * MIN));

    // Later than `valid`: the policy's bound holds.
    let mut h = H::new(&step_up_policy(r#"approvers 1 of ["a", "b"] valid 1h"#));
    let id = h.open(&pay(500, "alice"));
    let (case, _) = h.ok(&id, approve_until("a", T0 + 5 * 3600));
    assert_eq!(expiry(case.outcome.as_ref().unwrap()), (T0, Some(T0 + 3600)));
}

/// Without any `valid`, an approver's `until` alone bounds the released allow.
#[test]
fn an_approvers_until_bounds_an_otherwise_unbounded_allow() {
    let mut h = H::new(&step_up_policy(r#"approvers 1 of ["a"]"#));
    let id = h.open(&pay(500, "alice"));
    let (case, _) = h.ok(&id, approve_until("a", T0 + 90));
    assert_eq!(expiry(case.outcome.as_ref().unwrap()), (T0, Some(T0 + 90)));
}

#[test]
fn valid_is_checked() {
    let cases = [
        (step_up_policy(r#"approvers 1 of ["a"] valid 0s"#), "E0302"),
        (step_up_policy(r#"approvers 1 of ["a"] valid 1h valid 2h"#), "E0304"),
        (
            step_up_policy(r#"approvers 1 of ["a"]"#)
                .replace("rule small on pay { allow }", "rule small on pay { valid 0s allow }"),
            "E0302",
        ),
        (
            step_up_policy(r#"approvers 1 of ["a"]"#)
                .replace("rule small on pay { allow }", "rule small on pay { valid 1m valid 2m allow }"),
            "E0304",
        ),
        (
            step_up_policy(r#"approvers 1 of ["a"]"#)
                .replace("rule small on pay { allow }", "rule small on pay { valid 1m deny }"),
            "E0309",
        ),
        (
            step_up_policy(r#"approvers 1 of ["a"]"#)
                .replace("when params.amount > 100", "when params.amount > 100\n  valid 1h"),
            "E0309",
        ),
    ];
    for (src, code) in cases {
        let (codes, built) = try_build(&src);
        assert!(built.is_none() && codes.contains(&code.to_string()), "{code}: {codes:?}\n{src}");
    }
}

/// `settings { action_hash_ignores ["params.requested_at"] }`: the same action sent again with
/// another `requested_at` has the hash the approval bound, so the approval stands for it;
/// another amount is another action, which needs its own case. Only top-level parameters some
/// tool has can be left out.
#[test]
fn an_ignored_parameter_keeps_the_approved_action_hash_and_any_other_change_does_not() {
    let policy = step_up_policy(r#"approvers 1 of ["a"]"#).replacen(
        "tool pay { amount: Int }",
        "settings { action_hash_ignores [\"params.requested_at\"] }\ntool pay { amount: Int, requested_at: String? }",
        1,
    );
    let mut h = H::new(&policy);
    let at = |amount: i64, t: &str| {
        let mut r = pay(amount, "alice");
        r["action"]["params"]["requested_at"] = json!(t);
        r
    };
    let id = h.open(&at(500, "2026-11-24T09:59:00Z"));
    let (case, _) = h.ok(&id, approve("a"));
    assert_eq!(case.state, CaseState::Allowed);
    let ignored = ["requested_at".to_string()];
    let hash = |r: &Value| aarm_cases::lifecycle::action::action_hash_ignoring(r, &ignored);
    assert_eq!(case.approvals[0].action_hash, case.action_hash);
    assert_eq!(hash(&at(500, "2026-11-24T10:07:00Z")), case.action_hash, "a new timestamp: the same action");
    assert_eq!(hash(&pay(500, "alice")), case.action_hash, "no timestamp: the same action");
    assert_ne!(hash(&at(501, "2026-11-24T09:59:00Z")), case.action_hash, "another amount: another action");
    assert_ne!(action_hash(&at(500, "2026-11-24T10:07:00Z")), action_hash(&at(500, "2026-11-24T09:59:00Z")));
    // The lifecycle hashes the same way: a second case for the re-sent action has the same hash.
    let again = h.open(&at(500, "2026-11-24T10:07:00Z"));
    assert_eq!(h.case(&again).action_hash, case.action_hash);
    let other = h.open(&at(501, "2026-11-24T10:07:00Z"));
    assert_ne!(h.case(&other).action_hash, case.action_hash);

    for bad in [r#"["tool"]"#, r#"["params.nope"]"#, r#"["params.amount.x"]"#, r#"["requested_at"]"#] {
        let src = policy.replace(r#"["params.requested_at"]"#, bad);
        let (codes, built) = try_build(&src);
        assert!(built.is_none() && codes.contains(&"E0101".to_string()), "{bad}: {codes:?}");
    }
}

fn approve_max(by: &str, caps: &[(&str, &str)]) -> Event {
    let max = caps.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
    Event::Approve { by: by.to_string(), roles: Vec::new(), until: None, max }
}

/// `step_up { limits amount }`: an approver caps the amount (`--max amount=5000`); the approval
/// records its caps, the receipt shows them, and the release carries the smallest cap of the
/// approvals that made the quorum as `limits` (an approval that lapsed does not count, nor does
/// its cap), while the released action is the case's own, within them.
#[test]
fn an_approver_caps_a_listed_parameter_and_the_release_carries_the_smallest_cap() {
    let mut h = H::new(&step_up_policy(r#"approvers 2 of ["a", "b", "c"] limits amount valid 1h timeout 4h -> deny"#));
    let id = h.open(&pay(4000, "alice"));
    assert_eq!(h.case(&id).decision.step_up.as_ref().unwrap().limits, ["amount"], "approvers see what they may cap");
    let (case, events) = h.ok(&id, approve_max("a", &[("amount", "5000.00")]));
    assert_eq!((case.state, events), (CaseState::PendingApproval, vec!["approve".to_string()]));
    assert_eq!(case.approvals[0].max, BTreeMap::from([("amount".to_string(), "5000".to_string())]), "canonical");
    assert_eq!(h.receipts(&id).last().unwrap().body.detail["max"], json!({ "amount": "5000" }));
    let (case, _) = h.ok(&id, approve_max("b", &[("amount", "4500")]));
    assert_eq!((case.state, resolution(&case)), (CaseState::Allowed, "approved"));
    let outcome = serde_json::to_value(case.outcome.as_ref().unwrap()).unwrap();
    assert_eq!(outcome["limits"], json!({ "params.amount": { "max": "4500" } }), "the smaller cap: {outcome}");
    assert_eq!(case.released_action.as_ref().unwrap().params["amount"], json!(4000), "the case's own action");
    let release = h.receipts(&id).last().unwrap().body.detail.clone();
    assert_eq!((&release["max"], &release["limits"]), (&json!({ "amount": "4500" }), &outcome["limits"]));

    // One capped and one uncapped approval: the cap holds. A cap whose approval lapsed: none.
    let id = h.open(&pay(4000, "alice"));
    h.ok(&id, approve_max("a", &[("amount", "4000")]));
    let (case, _) = h.ok(&id, approve("b"));
    assert_eq!(case.outcome.as_ref().unwrap().limits["params.amount"].max, "4000", "equal to the action is within");
    let id = h.open(&pay(4000, "alice"));
    h.ok(&id, approve_max("a", &[("amount", "5000")]));
    h.at(2 * 60 * MIN);
    h.ok(&id, approve("b"));
    let (case, _) = h.ok(&id, approve("c"));
    assert_eq!(case.state, CaseState::Allowed);
    assert!(case.outcome.as_ref().unwrap().limits.is_empty(), "a's approval and cap lapsed at 1h");
    let outcome = serde_json::to_value(case.outcome.as_ref().unwrap()).unwrap();
    assert!(outcome.get("limits").is_none(), "no caps, no `limits` in the JSON: {outcome}");
}

/// A capped approval never releases an action over its cap: a cap below the action's amount is
/// refused (`limit_below_action`) and changes nothing, so the case waits; a cap on a parameter
/// the step-up does not list, or that is not a number, is `limit_not_allowed`. The re-sent
/// action over the cap is another action (another hash, another case), which the first release
/// does not cover and the same cap cannot release either.
#[test]
fn a_capped_approval_never_releases_an_action_over_its_cap() {
    let policy = step_up_policy(r#"approvers 1 of ["a", "b"] limits amount"#).replacen(
        "tool pay { amount: Int }",
        "tool pay { amount: Int, fee: Int }",
        1,
    );
    let mut h = H::new(&policy);
    let over = |amount: i64| {
        let mut r = pay(amount, "alice");
        r["action"]["params"]["fee"] = json!(5);
        r
    };
    let id = h.open(&over(6000));
    h.reject(&id, approve_max("a", &[("amount", "5000")]), Rejection::LimitBelowAction);
    h.reject(&id, approve_max("a", &[("amount", "5999.999999999999999999")]), Rejection::LimitBelowAction);
    h.reject(&id, approve_max("a", &[("fee", "10")]), Rejection::LimitNotAllowed);
    h.reject(&id, approve_max("a", &[("amount", "6000"), ("fee", "10")]), Rejection::LimitNotAllowed);
    h.reject(&id, approve_max("a", &[("amount", "lots")]), Rejection::LimitNotAllowed);
    assert_eq!(h.case(&id).state, CaseState::PendingApproval, "no capped approval released it");
    let (case, _) = h.ok(&id, approve_max("a", &[("amount", "6000")]));
    assert_eq!(case.outcome.as_ref().unwrap().limits["params.amount"].max, "6000");

    let again = h.open(&over(6001));
    let resent = h.case(&again);
    assert_ne!(resent.action_hash, case.action_hash, "the capped parameter is in the hash");
    assert_eq!(resent.state, CaseState::PendingApproval, "the first release does not cover it");
    h.reject(&again, approve_max("b", &[("amount", "6000")]), Rejection::LimitBelowAction);

    // A step-up without `limits` takes no caps at all.
    let mut h = H::new(&step_up_policy(r#"approvers 1 of ["a"]"#));
    let id = h.open(&pay(500, "alice"));
    h.reject(&id, approve_max("a", &[("amount", "500")]), Rejection::LimitNotAllowed);
}

/// `limits` names parameters of the rule's tools that approvers can cap: a number every call
/// carries (`Int` or `Decimal`, not optional), covered by the action hash, not `@redact`; a
/// rule on several tools needs it in all of them; a rule `on *` and `settings` know no
/// parameters. Next tiers are checked against the same rule.
#[test]
fn limits_are_checked() {
    let base = r#"policy p version "1"
tool pay { amount: Int, rate: Decimal, tip: Int?, memo: String, pin: Int @redact, at: Int }
tool refund { amount: Int, rate: Decimal }
tool ping { n: Int }
rule big on pay, refund { step_up { approvers 1 of ["a"] LIMITS } }
"#;
    let good = base.replace("LIMITS", "limits rate, amount, amount");
    let (engine, _) = build(&good);
    let req = json!({ "action": { "tool": "refund", "params": { "amount": 1, "rate": "0.5" } } });
    let d = engine.decide_json(&req.to_string(), T0);
    assert_eq!(d.step_up.unwrap().limits, ["amount", "rate"], "sorted, each once");
    let cases = [
        (base.replace("LIMITS", "limits amout"), "E0101"),
        (base.replace("LIMITS", "limits memo"), "E0113"),
        (base.replace("on pay, refund", "on pay").replace("LIMITS", "limits memo"), "E0310"),
        (base.replace("on pay, refund", "on pay").replace("LIMITS", "limits tip"), "E0310"),
        (base.replace("on pay, refund", "on pay").replace("LIMITS", "limits pin"), "E0310"),
        (
            base.replace("on pay, refund", "on pay").replace("LIMITS", "limits at").replacen(
                "tool pay",
                "settings { action_hash_ignores [\"params.at\"] }\ntool pay",
                1,
            ),
            "E0310",
        ),
        (base.replace("on pay, refund", "on *").replace("LIMITS", "limits amount"), "E0111"),
        (base.replace("LIMITS", "limits amount limits rate"), "E0304"),
        (base.replace("LIMITS", "timeout 1h -> step_up { approvers 1 of [\"b\"] limits n }"), "E0101"),
        (
            base.replace("LIMITS", "").replacen(
                "tool pay",
                "settings { step_up timeout 1h -> step_up { approvers 1 of [\"b\"] limits amount } }\ntool pay",
                1,
            ),
            "E0111",
        ),
    ];
    for (src, code) in cases {
        let (codes, built) = try_build(&src);
        assert!(built.is_none() && codes.contains(&code.to_string()), "{code}: {codes:?}\n{src}");
    }
}

#[test]
fn quorum_over_a_declared_group() {
    let src =
        step_up_policy("approvers 2 of finance").replace("tool pay", "group finance = [\"cfo\", \"ctl\"]\ntool pay");
    let mut h = H::new(&src);
    let id = h.open(&pay(500, "alice"));
    h.reject(&id, approve("stranger"), Rejection::NotAnApprover);
    h.ok(&id, approve("cfo"));
    let (case, _) = h.ok(&id, approve("ctl"));
    assert_eq!(case.state, CaseState::Allowed);
}

#[test]
fn approvers_clause_is_required_and_quorum_must_be_reachable() {
    let (codes, built) = try_build(&step_up_policy("timeout 1h -> deny"));
    assert!(built.is_none() && codes.contains(&"E0303".to_string()), "{codes:?}");
    let (codes, built) = try_build(&step_up_policy(r#"approvers 3 of ["a", "b"]"#));
    assert!(built.is_none() && codes.contains(&"E0300".to_string()), "{codes:?}");
    let (codes, built) = try_build(&step_up_policy(r#"approvers 0 of ["a", "b"]"#));
    assert!(built.is_none() && codes.contains(&"E0301".to_string()), "{codes:?}");
}

// ---------------------------------------------------------------------------------------------
// 5.2 `approvers M of role "R"`

#[test]
fn role_approvers_with_roles_from_the_event() {
    let mut h = H::new(&step_up_policy(r#"approvers 2 of role "finance""#));
    let id = h.open(&pay(500, "alice"));
    h.reject(&id, approve("bob"), Rejection::NotAnApprover);
    h.reject(&id, approve_as("bob", &["engineering"]), Rejection::NotAnApprover);
    let (case, evs) = h.ok(&id, approve_as("bob", &["finance"]));
    assert_eq!((case.state, evs.len()), (CaseState::PendingApproval, 1));
    assert_eq!(case.approvals[0].roles, ["finance"]);
    h.reject(&id, approve_as("bob", &["finance"]), Rejection::DuplicateApproval);
    // The requester has the role too, but self-approval is forbidden.
    h.reject(&id, approve_as("alice", &["finance"]), Rejection::SelfApproval);
    let (case, _) = h.ok(&id, approve_as("carol", &["engineering", "finance"]));
    assert_eq!((case.state, resolution(&case)), (CaseState::Allowed, "approved"));
}

#[test]
fn role_approvers_with_roles_from_the_identity_verifier() {
    let mut ids = Ids::default();
    ids.roles.insert("bob".into(), vec!["finance".into()]);
    ids.roles.insert("eve".into(), vec!["sales".into()]);
    let mut h = H::with(&step_up_policy(r#"approvers 1 of role "finance""#), ids);
    let id = h.open(&pay(500, "alice"));
    h.reject(&id, approve("eve"), Rejection::NotAnApprover);
    let (case, _) = h.ok(&id, approve("bob"));
    assert_eq!((case.state, resolution(&case)), (CaseState::Allowed, "approved"));
}

#[test]
fn role_approver_known_to_the_verifier_can_veto() {
    let mut ids = Ids::default();
    ids.roles.insert("bob".into(), vec!["finance".into()]);
    let mut h = H::with(&step_up_policy(r#"approvers 1 of role "finance""#), ids);
    let id = h.open(&pay(500, "alice"));
    h.reject(&id, deny("eve"), Rejection::NotAnApprover);
    let (case, evs) = h.ok(&id, deny("bob"));
    assert_eq!((case.state, resolution(&case), evs), (CaseState::Denied, "vetoed", vec!["deny".to_string()]));
}

// ---------------------------------------------------------------------------------------------
// 5.2 `veto` / `no veto`

#[test]
fn veto_is_the_default_and_one_denial_ends_the_case() {
    for clause in ["", "veto"] {
        let mut h = H::new(&step_up_policy(&format!(r#"approvers 2 of ["a", "b", "c"] {clause}"#)));
        let id = h.open(&pay(500, "alice"));
        h.ok(&id, approve("a"));
        h.reject(&id, deny("a"), Rejection::DuplicateApproval);
        h.reject(&id, deny("stranger"), Rejection::NotAnApprover);
        let (case, evs) = h.ok(&id, deny("b"));
        assert_eq!(evs, ["deny"]);
        assert_eq!(case.state, CaseState::Denied, "clause {clause:?}");
        assert_eq!(resolution(&case), "vetoed");
        assert_eq!(case.outcome.as_ref().unwrap().decision, Effect::Deny);
        assert!(case.released_action.is_none());
        assert_eq!(h.events(&id), ["open", "approve", "deny"]);
        h.reject(&id, approve("c"), Rejection::CaseResolved);
    }
}

#[test]
fn no_veto_a_denial_does_not_end_the_case() {
    let mut h = H::new(&step_up_policy(r#"approvers 2 of ["a", "b", "c"] no veto"#));
    let id = h.open(&pay(500, "alice"));
    let (case, evs) = h.ok(&id, deny("b"));
    assert_eq!((case.state, evs.len()), (CaseState::PendingApproval, 1));
    assert_eq!(case.denials.len(), 1);
    // Who denied does not approve afterwards.
    h.reject(&id, approve("b"), Rejection::DuplicateApproval);
    h.ok(&id, approve("a"));
    let (case, _) = h.ok(&id, approve("c"));
    assert_eq!((case.state, resolution(&case)), (CaseState::Allowed, "approved"));
    assert_eq!(h.events(&id), ["open", "deny", "approve", "approve"]);
}

#[test]
fn no_veto_denials_end_the_case_once_quorum_is_unreachable() {
    let mut h = H::new(&step_up_policy(r#"approvers 2 of ["a", "b", "c"] no veto"#));
    let id = h.open(&pay(500, "alice"));
    h.ok(&id, deny("b"));
    let (case, evs) = h.ok(&id, deny("c"));
    assert_eq!(evs, ["deny"]);
    assert_eq!((case.state, resolution(&case)), (CaseState::Denied, "vetoed"));
}

/// The requester cannot approve (no `self_approval`), so once `bob` denies, only `carol` is
/// left for a quorum of two: the quorum is unreachable and the case should end, as the
/// machine's own rule says ("a denial ends the case only once the quorum can no longer be
/// reached"). The machine counts the requester as a possible approver and keeps waiting (and
/// with `timeout -> allow`, would even allow at the timeout a case nobody can approve).
#[test]
fn no_veto_unreachable_quorum_ignores_the_requester() {
    let mut h = H::new(&step_up_policy(r#"approvers 2 of ["alice", "bob", "carol"] no veto"#));
    let id = h.open(&pay(500, "alice"));
    let (case, _) = h.ok(&id, deny("bob"));
    assert_eq!((case.state, resolution(&case)), (CaseState::Denied, "vetoed"));
}

/// `b` is both an approver and in the escalation list: after the escalation there are still
/// only three distinct approvers. Once two of them deny, a quorum of two is unreachable, but
/// the machine counts `b` twice (3 + 2 possible) and keeps the case pending.
#[test]
fn no_veto_unreachable_quorum_counts_each_person_once() {
    let mut h = H::new(&step_up_policy(r#"approvers 2 of ["a", "b"] no veto escalate after 10m to ["b", "c"]"#));
    let id = h.open(&pay(500, "alice"));
    h.at(11 * MIN);
    h.ok(&id, Event::Tick);
    h.ok(&id, deny("a"));
    let (case, _) = h.ok(&id, deny("b"));
    assert_eq!((case.state, resolution(&case)), (CaseState::Denied, "vetoed"));
}

// ---------------------------------------------------------------------------------------------
// 5.2 `self_approval`

#[test]
fn self_approval_is_forbidden_by_default() {
    let mut h = H::new(&step_up_policy(r#"approvers 1 of ["alice", "bob"]"#));
    let id = h.open(&pay(500, "alice"));
    h.reject(&id, approve("alice"), Rejection::SelfApproval);
    let (case, _) = h.ok(&id, approve("bob"));
    assert_eq!(case.state, CaseState::Allowed);
}

#[test]
fn self_approval_clause_lets_the_requester_count() {
    let mut h = H::new(&step_up_policy(r#"approvers 2 of ["alice", "bob"] self_approval"#));
    let id = h.open(&pay(500, "alice"));
    let (case, _) = h.ok(&id, approve("alice"));
    assert_eq!(case.state, CaseState::PendingApproval);
    let (case, _) = h.ok(&id, approve("bob"));
    assert_eq!((case.state, resolution(&case)), (CaseState::Allowed, "approved"));
    assert_eq!(approvers(&case), ["alice", "bob"]);
}

// ---------------------------------------------------------------------------------------------
// 5.2 `escalate after D to LIST`

#[test]
fn escalation_widens_the_approvers_after_d() {
    let mut h = H::new(&step_up_policy(r#"approvers 1 of ["a"] timeout 30m -> deny escalate after 10m to ["sec"]"#));
    let id = h.open(&pay(500, "alice"));
    h.at(9 * MIN);
    h.reject(&id, approve("sec"), Rejection::NotAnApprover);
    let (case, evs) = h.ok(&id, Event::Tick);
    assert!(evs.is_empty() && !case.escalated, "nothing is due before D");
    h.at(10 * MIN);
    let (case, evs) = h.ok(&id, Event::Tick);
    assert_eq!(evs, ["escalate"]);
    assert!(case.escalated);
    assert_eq!(case.extra_approvers, ["sec"]);
    assert_eq!(case.state, CaseState::PendingApproval);
    let r = h.receipts(&id).last().cloned().unwrap();
    assert_eq!(r.body.at, T0 + 10 * MIN);
    assert_eq!(r.body.actor, None);
    assert_eq!(r.body.detail["added"], json!(["sec"]));
    // It fires once.
    h.at(11 * MIN);
    let (_, evs) = h.ok(&id, Event::Tick);
    assert!(evs.is_empty());
    let (case, evs) = h.ok(&id, approve("sec"));
    assert_eq!(evs, ["approve"]);
    assert_eq!((case.state, resolution(&case)), (CaseState::Allowed, "approved"));
    assert_eq!(h.events(&id), ["open", "escalate", "approve"]);
}

#[test]
fn a_due_escalation_fires_before_the_event_that_finds_it() {
    let mut h = H::new(&step_up_policy(r#"approvers 1 of ["a"] timeout 30m -> deny escalate after 10m to ["sec"]"#));
    let id = h.open(&pay(500, "alice"));
    h.at(15 * MIN);
    let (case, evs) = h.ok(&id, approve("sec"));
    assert_eq!(evs, ["escalate", "approve"]);
    assert_eq!(case.state, CaseState::Allowed);
    let r = h.receipts(&id);
    // Stamped when observed; the moment it fell due is kept in the detail.
    assert_eq!((r[1].body.at, r[2].body.at), (T0 + 15 * MIN, T0 + 15 * MIN));
    assert_eq!(r[1].body.detail["due_at"], json!(T0 + 10 * MIN));
    assert_eq!(case.version, 1, "one commit for both receipts");
}

#[test]
fn escalation_after_the_timeout_is_a_compile_error() {
    let (codes, built) =
        try_build(&step_up_policy(r#"approvers 1 of ["a"] timeout 10m -> deny escalate after 10m to ["sec"]"#));
    assert!(built.is_none(), "{codes:?}");
}

// ---------------------------------------------------------------------------------------------
// 5.2 `timeout D -> OUTCOME`

#[test]
fn timeout_defaults_to_one_hour_then_deny() {
    let mut h = H::new(&step_up_policy(r#"approvers 1 of ["a"]"#));
    let id = h.open(&pay(500, "alice"));
    let s = h.case(&id).decision.step_up.clone().unwrap();
    assert_eq!((s.timeout_s, &s.on_timeout), (3600, &Outcome::Deny));
    h.at(60 * MIN - 1);
    let (case, evs) = h.ok(&id, Event::Tick);
    assert!(evs.is_empty() && case.state == CaseState::PendingApproval);
    h.at(60 * MIN);
    let (case, evs) = h.ok(&id, Event::Tick);
    assert_eq!(evs, ["timeout"]);
    assert_eq!((case.state, resolution(&case)), (CaseState::Denied, "timeout"));
    assert_eq!(case.outcome.as_ref().unwrap().decision, Effect::Deny);
    assert_eq!(h.receipts(&id)[1].body.at, T0 + 60 * MIN);
}

#[test]
fn timeout_settings_default_applies() {
    let src = step_up_policy(r#"approvers 1 of ["a"]"#)
        .replace("tool pay", "settings { step_up timeout 2h -> cancel }\ntool pay");
    let mut h = H::new(&src);
    let id = h.open(&pay(500, "alice"));
    h.at(119 * MIN);
    h.ok(&id, Event::Tick);
    assert_eq!(h.case(&id).state, CaseState::PendingApproval);
    h.at(120 * MIN);
    let (case, _) = h.ok(&id, Event::Tick);
    assert_eq!((case.state, resolution(&case)), (CaseState::Cancelled, "timeout"));
}

#[test]
fn timeout_explicit_deny() {
    let mut h = H::new(&step_up_policy(r#"approvers 2 of ["a", "b"] timeout 30m -> deny"#));
    let id = h.open(&pay(500, "alice"));
    h.ok(&id, approve("a"));
    h.at(30 * MIN);
    let (case, evs) = h.ok(&id, Event::Tick);
    assert_eq!(evs, ["timeout"]);
    assert_eq!((case.state, resolution(&case)), (CaseState::Denied, "timeout"));
}

/// An approval after the deadline: the timeout that fell due first is committed, the approval
/// refused. `apply` answers only the refusal; `apply_committed` answers the timeout's receipt
/// with it, so a host that reports transitions (metrics, traces) sees it.
#[test]
fn a_late_event_commits_the_due_timeout_and_apply_committed_answers_its_receipt() {
    let mut h = H::new(&step_up_policy(r#"approvers 1 of ["a"] timeout 30m -> deny"#));
    let id = h.open(&pay(500, "alice"));
    h.at(30 * MIN);
    let applied = h.lc.apply_committed(&id, &approve("a"), h.now, None, None).unwrap();
    assert_eq!(applied.refused, Some(Rejection::CaseResolved));
    let events: Vec<&str> = applied.receipts.iter().map(|r| r.body.event.as_str()).collect();
    assert_eq!(events, ["timeout"]);
    assert_eq!(applied.case, h.case(&id), "the answered case is the stored one");
    assert_eq!(h.events(&id), ["open", "timeout"]);
    // The same through `apply`: the refusal, and the timeout stays committed.
    let id = h.open(&pay(600, "alice"));
    h.at(60 * MIN);
    assert_eq!(h.ev(&id, approve("a")).err(), Some(Rejection::CaseResolved));
    assert_eq!(h.events(&id), ["open", "timeout"]);
}

#[test]
fn timeout_cancel() {
    let mut h = H::new(&step_up_policy(r#"approvers 1 of ["a"] timeout 30m -> cancel"#));
    let id = h.open(&pay(500, "alice"));
    h.at(45 * MIN);
    let (case, evs) = h.ok(&id, Event::Tick);
    assert_eq!(evs, ["timeout"]);
    assert_eq!((case.state, resolution(&case)), (CaseState::Cancelled, "timeout"));
    assert!(case.released_action.is_none());
}

#[test]
fn timeout_allow_is_legal_with_a_warning_and_allows() {
    let src = step_up_policy(r#"approvers 1 of ["a"] timeout 30m -> allow"#);
    let (codes, built) = try_build(&src);
    assert!(built.is_some() && codes.contains(&"W0001".to_string()), "{codes:?}");
    let mut h = H::new(&src);
    let id = h.open(&pay(500, "alice"));
    h.at(30 * MIN);
    let (case, evs) = h.ok(&id, Event::Tick);
    assert_eq!(evs, ["timeout"]);
    assert_eq!((case.state, resolution(&case)), (CaseState::Allowed, "timeout"));
    assert!(case.approvals.is_empty());
    assert!(case.released_action.is_some());
}

#[test]
fn timeout_allow_after_the_requesters_credential_expired_is_a_deny() {
    let src = step_up_policy(r#"approvers 1 of ["a"] timeout 30m -> allow"#);
    let mut h = H::new(&src);
    let credential = Credential { holder: "pay-bot".into(), valid_until: T0 + 10 * MIN };
    let s = h.lc.submit_as(&h.hash.clone(), &pay(500, "alice").to_string(), T0, Some(credential)).unwrap();
    let id = s.case.unwrap().id;
    h.at(30 * MIN);
    let (case, _) = h.ok(&id, Event::Tick);
    assert_eq!((case.state, resolution(&case)), (CaseState::Denied, "identity_invalid"));
    assert!(case.released_action.is_none());
}

#[test]
fn timeout_step_up_tier_has_new_approvers_and_resets_approvals() {
    let mut h = H::new(&step_up_policy(
        r#"approvers 2 of ["a", "b"] timeout 30m -> step_up { approvers 1 of ["boss"] timeout 1h -> deny }"#,
    ));
    let id = h.open(&pay(500, "alice"));
    h.reject(&id, approve("boss"), Rejection::NotAnApprover);
    h.at(MIN);
    h.ok(&id, approve("a"));
    h.at(30 * MIN);
    let (case, evs) = h.ok(&id, Event::Tick);
    assert_eq!(evs, ["timeout"]);
    assert_eq!(case.state, CaseState::PendingApproval);
    assert_eq!(case.tier, 1);
    assert!(case.approvals.is_empty(), "approvals reset with the tier");
    assert_eq!(case.waiting_since, T0 + 30 * MIN);
    let s = case.decision.step_up.as_ref().unwrap();
    assert_eq!((s.approvers.as_slice(), s.quorum), (&["boss".to_string()][..], 1));
    assert!(!case.escalated_from_defer);
    h.at(31 * MIN);
    // Tier-0 approvers are not approvers of tier 1.
    h.reject(&id, approve("b"), Rejection::NotAnApprover);
    let (case, evs) = h.ok(&id, approve("boss"));
    assert_eq!(evs, ["approve"]);
    assert_eq!((case.state, resolution(&case)), (CaseState::Allowed, "approved"));
    assert_eq!(h.events(&id), ["open", "approve", "timeout", "approve"]);
}

#[test]
fn a_step_up_tier_times_out_on_its_own_clock() {
    let mut h = H::new(&step_up_policy(
        r#"approvers 1 of ["a"] timeout 30m -> step_up { approvers 1 of ["boss"] timeout 1h -> cancel }"#,
    ));
    let id = h.open(&pay(500, "alice"));
    // Both deadlines pass in one jump: one receipt each, in time order.
    h.at(30 * MIN + 60 * MIN);
    let (case, evs) = h.ok(&id, Event::Tick);
    assert_eq!(evs, ["timeout", "timeout"]);
    assert_eq!((case.state, resolution(&case), case.tier), (CaseState::Cancelled, "timeout", 1));
    let r = h.receipts(&id);
    assert_eq!((r[1].body.at, r[2].body.at), (T0 + 90 * MIN, T0 + 90 * MIN));
    assert_eq!(
        (r[1].body.detail["due_at"].clone(), r[2].body.detail["due_at"].clone()),
        (json!(T0 + 30 * MIN), json!(T0 + 90 * MIN))
    );
}

#[test]
fn an_approval_after_the_deadline_finds_the_case_timed_out() {
    let mut h = H::new(&step_up_policy(r#"approvers 1 of ["a"] timeout 30m -> deny"#));
    let id = h.open(&pay(500, "alice"));
    h.at(31 * MIN);
    // The timeout that was due is recorded; the approval itself is refused.
    assert_eq!(h.ev(&id, approve("a")).err(), Some(Rejection::CaseResolved));
    let case = h.case(&id);
    assert_eq!((case.state, resolution(&case)), (CaseState::Denied, "timeout"));
    assert!(case.approvals.is_empty());
    assert_eq!(h.events(&id), ["open", "timeout"]);
}

// ---------------------------------------------------------------------------------------------
// cancel

#[test]
fn cancel_withdraws_a_pending_case() {
    let mut h = H::new(&step_up_policy(r#"approvers 1 of ["a"]"#));
    let id = h.open(&pay(500, "alice"));
    let (case, evs) = h.ok(&id, cancel());
    assert_eq!(evs, ["cancel"]);
    assert_eq!((case.state, resolution(&case)), (CaseState::Cancelled, "cancelled"));
    assert_eq!(h.receipts(&id)[1].body.actor.as_deref(), Some("host"));
}

// ---------------------------------------------------------------------------------------------
// 5.3 `defer`: evidence, re-evaluation, attempts, timeouts

#[test]
fn defer_then_evidence_allows() {
    let mut h = H::new(&defer_policy("", "1"));
    let id = h.open(&rotate());
    let case = h.case(&id);
    assert_eq!(case.state, CaseState::PendingEvidence);
    assert_eq!(case.decision.decision, Effect::Defer);
    let need: Vec<&str> = case.decision.defer.as_ref().unwrap().need.iter().map(|n| n.name.as_str()).collect();
    assert_eq!(need, ["window", "risk_score"]);
    // One fact is not enough: the re-evaluation defers again (an attempt).
    let (case, evs) = h.ok(&id, provide("window", json!(true)));
    assert_eq!(evs, ["provide"]);
    assert_eq!((case.state, case.attempts), (CaseState::PendingEvidence, 1));
    assert_eq!(case.evidence.get("window"), Some(&json!(true)));
    let (case, evs) = h.ok(&id, provide("risk_score", json!(1)));
    assert_eq!(evs, ["provide"]);
    assert_eq!(case.state, CaseState::Allowed);
    assert_eq!(resolution(&case), "creds.ok", "re-evaluation ends with the deciding rule's code");
    assert_eq!(case.outcome.as_ref().unwrap().rule.as_deref(), Some("creds.inside"));
    assert_eq!(h.receipts(&id)[2].body.detail["reevaluated"], "allow");
}

/// One try of a source, answered with `values`.
fn answered(source: &str, facts: &[&str], values: Value) -> aarm_cases::lifecycle::round::SourceTry {
    use aarm_cases::lifecycle::round::{SourceTry, TryResult};
    let values = values.as_object().unwrap().clone().into_iter().collect();
    SourceTry {
        source: source.into(),
        facts: facts.iter().map(|f| f.to_string()).collect(),
        result: TryResult::Answered { values },
    }
}

#[test]
fn a_round_takes_only_usable_answers_counts_one_attempt_and_is_never_counted_twice() {
    use aarm_cases::lifecycle::round::{SourceTry, TryResult};
    let mut h = H::new(&defer_policy("", "1"));
    let id = h.open(&rotate());
    let bad_type = answered("maintenance_api", &["window"], json!({ "window": "yes" }));
    let not_asked = answered("risk_api", &["risk_score"], json!({ "risk_score": 1, "window": true }));
    let failed = SourceTry {
        source: "risk_api".into(),
        facts: vec!["risk_score".into()],
        result: TryResult::Failed { code: "source.timeout".into(), message: "no answer".into() },
    };
    let (case, evs) = h.ok(&id, Event::Round { round: 0, tries: vec![bad_type, not_asked, failed] });
    assert_eq!(evs, ["source", "source", "source", "round"]);
    assert!(case.evidence.is_empty(), "nothing usable: {:?}", case.evidence);
    assert_eq!(
        (case.state, case.attempts, case.rounds.done, case.rounds.last_at),
        (CaseState::PendingEvidence, 1, 1, Some(T0))
    );
    let r = h.receipts(&id);
    assert_eq!(
        (r[1].body.detail["code"].as_str(), r[2].body.detail["code"].as_str()),
        (Some("source.invalid"), Some("source.invalid"))
    );
    assert_eq!(r[3].body.detail["code"], "source.timeout");
    // A round started before this one was recorded (another host's) changes nothing.
    let (_, evs) = h.ok(
        &id,
        Event::Round { round: 0, tries: vec![answered("maintenance_api", &["window"], json!({ "window": true }))] },
    );
    assert!(evs.is_empty(), "{evs:?}");
    // Both facts from the next round: one re-evaluation resolves the case.
    let both = vec![
        answered("maintenance_api", &["window"], json!({ "window": true })),
        answered("risk_api", &["risk_score"], json!({ "risk_score": 1, "unrelated": null })),
    ];
    let (case, evs) = h.ok(&id, Event::Round { round: 1, tries: both });
    assert_eq!(evs, ["source", "source", "round"]);
    assert_eq!((case.state, case.attempts), (CaseState::Allowed, 1));
    assert_eq!(h.receipts(&id).last().unwrap().body.detail["provided"], json!(["window", "risk_score"]));
}

#[test]
fn rounds_that_bring_nothing_run_out_of_attempts_into_the_policy_outcome() {
    let mut h = H::new(&defer_policy("", "1"));
    let id =
        h.open(&json!({ "action": { "tool": "export", "params": { "table": "t" } }, "identity": { "human": "bob" } }));
    h.ok(&id, Event::Round { round: 0, tries: vec![] });
    let (case, _) = h.ok(&id, Event::Round { round: 1, tries: vec![] });
    assert_eq!((case.state, case.attempts), (CaseState::PendingApproval, 2), "attempts 2 -> step_up");
    assert!(case.escalated_from_defer);
    let (_, evs) = h.ok(&id, Event::Round { round: 2, tries: vec![] });
    assert!(evs.is_empty(), "no round once people decide");
}

#[test]
fn defer_then_evidence_denies() {
    let mut h = H::new(&defer_policy("", "1"));
    let id = h.open(&rotate());
    h.ok(&id, provide("risk_score", json!(2)));
    let (case, _) = h.ok(&id, provide("window", json!(false)));
    assert_eq!((case.state, resolution(&case)), (CaseState::Denied, "creds.outside_window"));
    assert_eq!(h.events(&id), ["open", "provide", "provide"]);
}

#[test]
fn defer_then_evidence_modifies() {
    let mut h = H::new(&defer_policy("", "1"));
    let req = json!({ "action": { "tool": "mail", "params": { "to": "x@ext.com", "subject": "hi" } }, "identity": { "human": "alice" } });
    let id = h.open(&req);
    let (case, _) = h.ok(&id, provide("ext_ok", json!(false)));
    assert_eq!((case.state, resolution(&case)), (CaseState::Modified, "mail.tagged"));
    assert_eq!(case.released_action.as_ref().unwrap().params.get("subject"), Some(&json!("[ext] hi")));
}

#[test]
fn defer_then_evidence_steps_up() {
    let mut h = H::new(&defer_policy("", "1"));
    let id = h.open(&rotate());
    h.at(MIN);
    let (case, evs) = h.ok(&id, provide("risk_score", json!(9)));
    assert_eq!(evs, ["provide"]);
    assert_eq!(case.state, CaseState::PendingApproval);
    assert_eq!(case.decision.rule.as_deref(), Some("creds.risky"));
    assert_eq!(&*case.decision.reason.code, "creds.risky");
    assert!(!case.escalated_from_defer, "a re-evaluation's own step_up is not a defer escalation");
    assert_eq!(case.waiting_since, T0 + MIN);
    // Evidence still arrives for approvers to see; it does not re-evaluate.
    let (case, evs) = h.ok(&id, provide("window", json!(false)));
    assert_eq!((evs.len(), case.state), (1, CaseState::PendingApproval));
    assert_eq!(case.evidence.get("window"), Some(&json!(false)));
    let (case, _) = h.ok(&id, approve("sec"));
    assert_eq!((case.state, resolution(&case)), (CaseState::Allowed, "approved"));
}

#[test]
fn evidence_from_the_request_counts_and_deferral_ends_on_definite_rules() {
    let mut h = H::new(&defer_policy("", "1"));
    let mut req = rotate();
    req["evidence"] = json!({ "window": true, "risk_score": 0 });
    let s = h.submit(&req);
    assert!(s.case.is_none());
    assert_eq!(s.decision.decision, Effect::Allow);
}

#[test]
fn deferral_reevaluates_against_the_same_bundle() {
    // Bundle v1 is loaded and a case opened; bundle v2 (which denies inside the window) is
    // loaded afterwards; the case still re-evaluates against v1.
    let v1 = defer_policy("", "1");
    let v2 = v1
        .replace("allow\n  reason \"creds.ok\"", "deny\n  reason \"creds.v2\"")
        .replace("version \"1\"", "version \"2\"");
    assert_ne!(v1, v2);
    let mut h = H::new(&v1);
    let id = h.open(&rotate());
    let (engine2, bytes2) = build(&v2);
    assert_ne!(engine2.bundle_hash(), h.hash);
    h.lc.add_engine(engine2.clone(), Some(&bytes2)).unwrap();
    // A new submission under v2 opens its own case under v2.
    let s2 = h.lc.submit(engine2.bundle_hash(), &rotate().to_string(), h.now).unwrap().case.unwrap();
    h.ok(&id, provide("window", json!(true)));
    h.ok(&s2.id, provide("window", json!(true)));
    let (case, _) = h.ok(&id, provide("risk_score", json!(0)));
    assert_eq!((case.state, resolution(&case)), (CaseState::Allowed, "creds.ok"));
    assert_eq!(&*case.outcome.as_ref().unwrap().policy.bundle_hash, h.hash);
    assert_eq!(case.bundle_hash, h.hash);
    let (case2, _) = h.ok(&s2.id, provide("risk_score", json!(0)));
    assert_eq!((case2.state, resolution(&case2)), (CaseState::Denied, "creds.v2"));
}

#[test]
fn attempts_exhausted_resolves_to_the_outcome() {
    let mut h = H::new(&defer_policy("settings { defer timeout 10m -> deny, attempts 2 -> deny }", "1"));
    let id = h.open(&rotate());
    let (case, _) = h.ok(&id, provide("unrelated", json!(true)));
    assert_eq!((case.state, case.attempts), (CaseState::PendingEvidence, 1));
    let (case, evs) = h.ok(&id, provide("ext_ok", json!(false)));
    assert_eq!(evs, ["provide"], "the exhausting re-evaluation is one receipt");
    assert_eq!((case.state, resolution(&case), case.attempts), (CaseState::Denied, "attempts_exhausted", 2));
}

#[test]
fn attempts_exhausted_can_cancel() {
    let mut h = H::new(&defer_policy("settings { defer attempts 1 -> cancel }", "1"));
    let id = h.open(&rotate());
    let (case, _) = h.ok(&id, provide("window", json!(true)));
    assert_eq!((case.state, resolution(&case)), (CaseState::Cancelled, "attempts_exhausted"));
}

#[test]
fn attempts_exhausted_escalates_to_people_with_the_evidence() {
    // `stale` on export: `attempts 2 -> step_up { approvers 1 of ["steward"] ... }`.
    let mut h = H::new(&defer_policy("", "1"));
    let req = json!({ "action": { "tool": "export", "params": { "table": "t" } }, "identity": { "human": "alice" } });
    let id = h.open(&req);
    let case = h.case(&id);
    assert_eq!(case.decision.rule.as_deref(), Some("creds.stale"));
    assert_eq!(case.decision.defer.as_ref().unwrap().max_attempts, 2);
    h.at(MIN);
    h.ok(&id, provide("unrelated", json!(true)));
    h.at(2 * MIN);
    let (case, evs) = h.ok(&id, provide("window", json!(true)));
    assert_eq!(evs, ["provide"]);
    assert_eq!(case.state, CaseState::PendingApproval);
    assert!(case.escalated_from_defer, "marked as a defer escalation");
    assert_eq!(case.decision.decision, Effect::StepUp);
    assert_eq!(case.decision.step_up.as_ref().unwrap().approvers, ["steward"]);
    assert_eq!(case.evidence.get("unrelated"), Some(&json!(true)), "collected evidence is carried");
    assert_eq!(case.evidence.get("window"), Some(&json!(true)));
    assert_eq!(case.waiting_since, T0 + 2 * MIN);
    h.reject(&id, approve("sec"), Rejection::NotAnApprover);
    let (case, _) = h.ok(&id, approve("steward"));
    assert_eq!((case.state, resolution(&case)), (CaseState::Allowed, "approved"));
    assert!(case.escalated_from_defer);
}

#[test]
fn defer_timeout_denies_by_default() {
    let mut h = H::new(&defer_policy("", "1"));
    let id = h.open(&rotate());
    let d = h.case(&id).decision.defer.clone().unwrap();
    assert_eq!((d.timeout_s, &d.on_timeout, d.max_attempts, &d.on_exhausted), (600, &Outcome::Deny, 3, &Outcome::Deny));
    h.at(5 * MIN);
    h.ok(&id, provide("window", json!(true)));
    h.at(10 * MIN - 1);
    assert!(h.ok(&id, Event::Tick).1.is_empty());
    h.at(10 * MIN);
    let (case, evs) = h.ok(&id, Event::Tick);
    assert_eq!(evs, ["timeout"], "the wait is bounded from the opening, not from the last evidence");
    assert_eq!((case.state, resolution(&case)), (CaseState::Denied, "timeout"));
}

#[test]
fn defer_timeout_can_cancel_or_allow() {
    let mut h = H::new(&defer_policy("settings { defer timeout 5m -> cancel }", "1"));
    let id = h.open(&rotate());
    h.at(6 * MIN);
    let (case, _) = h.ok(&id, Event::Tick);
    assert_eq!((case.state, resolution(&case)), (CaseState::Cancelled, "timeout"));

    let src = defer_policy("settings { defer timeout 5m -> allow }", "1");
    assert!(try_build(&src).0.contains(&"W0001".to_string()));
    let mut h = H::new(&src);
    let id = h.open(&rotate());
    h.at(5 * MIN);
    let (case, _) = h.ok(&id, Event::Tick);
    assert_eq!((case.state, resolution(&case)), (CaseState::Allowed, "timeout"));
}

#[test]
fn defer_timeout_escalates_to_a_step_up() {
    let mut h = H::new(&defer_policy(
        r#"settings { defer timeout 10m -> step_up { approvers 1 of ["lead"] timeout 20m -> deny } }"#,
        "1",
    ));
    let id = h.open(&rotate());
    h.at(MIN);
    h.ok(&id, provide("window", json!(true)));
    h.at(10 * MIN);
    let (case, evs) = h.ok(&id, Event::Tick);
    assert_eq!(evs, ["timeout"]);
    assert_eq!(case.state, CaseState::PendingApproval);
    assert!(case.escalated_from_defer);
    assert_eq!(case.evidence.get("window"), Some(&json!(true)));
    assert_eq!(case.waiting_since, T0 + 10 * MIN);
    // The escalated step-up times out on its own clock.
    h.at(30 * MIN);
    let (case, evs) = h.ok(&id, Event::Tick);
    assert_eq!(evs, ["timeout"]);
    assert_eq!((case.state, resolution(&case)), (CaseState::Denied, "timeout"));
    assert_eq!(h.events(&id), ["open", "provide", "timeout", "timeout"]);
}

// ---------------------------------------------------------------------------------------------
// 5.2 approvals bound to the action hash

#[test]
fn approvals_are_bound_to_the_action_hash() {
    let mut h = H::new(&step_up_policy(r#"approvers 1 of ["a"]"#));
    let r1 = pay(500, "alice");
    let r2 = pay(501, "alice");
    let id1 = h.open(&r1);
    let id2 = h.open(&r2);
    let (c1, c2) = (h.case(&id1), h.case(&id2));
    assert_eq!(c1.action_hash, action_hash(&r1));
    assert!(c1.action_hash.starts_with("sha256:"));
    assert_ne!(c1.action_hash, c2.action_hash, "a changed parameter changes the hash");
    // Identity is bound separately; the action hash is tool, operation and params only.
    assert_eq!(action_hash(&pay(500, "bob")), c1.action_hash);
    let other_tool = json!({ "action": { "tool": "pay2", "params": { "amount": 500 } } });
    assert_ne!(action_hash(&other_tool), c1.action_hash);
    let with_op = json!({ "action": { "tool": "pay", "operation": "x", "params": { "amount": 500 } } });
    assert_ne!(action_hash(&with_op), c1.action_hash);

    let (c1, _) = h.ok(&id1, approve("a"));
    assert_eq!(c1.approvals[0].action_hash, c1.action_hash);
    assert_eq!(c1.identity["human"], "alice", "identity captured at submission");
    // Approving one case does nothing for the other (changed) action.
    assert_eq!(h.case(&id2).state, CaseState::PendingApproval);
    assert!(h.case(&id2).approvals.is_empty());
    for r in h.receipts(&id1) {
        assert_eq!(r.body.action_hash, c1.action_hash);
        assert_eq!(r.body.identity["human"], "alice");
    }
}

// ---------------------------------------------------------------------------------------------
// 5.2 identity re-validation before release

#[test]
fn identity_is_revalidated_before_release_when_the_wait_outlived_it() {
    let ids = Ids { validity: Some(10 * MIN), revalidate: false, ..Ids::default() };
    let mut h = H::with(&step_up_policy(r#"approvers 2 of ["a", "b"] timeout 1h -> deny"#), ids);
    let id = h.open(&pay(500, "alice"));
    // A non-final approval is not a release: no check.
    h.at(15 * MIN);
    h.ok(&id, approve("a"));
    // The final one is refused: the identity expired and does not re-validate.
    h.reject(&id, approve("b"), Rejection::IdentityInvalid);
    assert_eq!(h.case(&id).state, CaseState::PendingApproval);
}

#[test]
fn identity_within_its_validity_is_not_revalidated() {
    let ids = Ids { validity: Some(10 * MIN), revalidate: false, ..Ids::default() };
    let mut h = H::with(&step_up_policy(r#"approvers 1 of ["a"]"#), ids);
    let id = h.open(&pay(500, "alice"));
    h.at(10 * MIN);
    let (case, _) = h.ok(&id, approve("a"));
    assert_eq!(case.state, CaseState::Allowed);
}

#[test]
fn identity_that_revalidates_is_released() {
    let ids = Ids { validity: Some(10 * MIN), revalidate: true, ..Ids::default() };
    let mut h = H::with(&step_up_policy(r#"approvers 1 of ["a"]"#), ids);
    let id = h.open(&pay(500, "alice"));
    h.at(50 * MIN);
    let (case, _) = h.ok(&id, approve("a"));
    assert_eq!((case.state, resolution(&case)), (CaseState::Allowed, "approved"));
}

// ---------------------------------------------------------------------------------------------
// Rejections: each one, and that it changes nothing

#[test]
fn rejected_not_an_approver() {
    let mut h = H::new(&step_up_policy(r#"approvers 1 of ["a"]"#));
    let id = h.open(&pay(500, "alice"));
    h.reject(&id, approve("stranger"), Rejection::NotAnApprover);
    h.reject(&id, deny("stranger"), Rejection::NotAnApprover);
    h.reject(&id, approve(""), Rejection::NotAnApprover);
    // Nobody approves a deferral: it waits for evidence.
    let mut h = H::new(&defer_policy("", "1"));
    let id = h.open(&rotate());
    h.reject(&id, approve("sec"), Rejection::NotAnApprover);
    h.reject(&id, deny("sec"), Rejection::NotAnApprover);
}

#[test]
fn rejected_self_approval() {
    let mut h = H::new(&step_up_policy(r#"approvers 1 of ["alice", "bob"] escalate after 5m to ["carol"]"#));
    let id = h.open(&pay(500, "alice"));
    h.reject(&id, approve("alice"), Rejection::SelfApproval);
    // A due escalation that came with a refused event is not recorded either.
    h.at(6 * MIN);
    h.reject(&id, approve("alice"), Rejection::SelfApproval);
    assert!(!h.case(&id).escalated);
}

#[test]
fn rejected_duplicate_approval() {
    let mut h = H::new(&step_up_policy(r#"approvers 2 of ["a", "b", "c", "d"] no veto"#));
    let id = h.open(&pay(500, "alice"));
    h.ok(&id, approve("a"));
    h.reject(&id, approve("a"), Rejection::DuplicateApproval);
    h.reject(&id, deny("a"), Rejection::DuplicateApproval);
    h.ok(&id, deny("b"));
    h.reject(&id, deny("b"), Rejection::DuplicateApproval);
    h.reject(&id, approve("b"), Rejection::DuplicateApproval);
}

#[test]
fn identities_compare_in_one_normalized_form() {
    // The group spells them one way, the requester and the approvers another.
    let mut h = H::new(&step_up_policy(
        r#"approvers 2 of ["Ana@Corp.Example", "bob@corp.example", "carol@corp.example"] no veto"#,
    ));
    let id = h.open(&pay(500, "ANA@corp.example"));
    h.reject(&id, approve("ana@corp.example"), Rejection::SelfApproval);
    h.ok(&id, approve("Bob@Corp.Example"));
    h.reject(&id, approve("bob@corp.example"), Rejection::DuplicateApproval);
    h.reject(&id, deny("BOB@corp.example"), Rejection::DuplicateApproval);
    // Two distinct people are still needed: carol completes the quorum.
    let (case, _) = h.ok(&id, approve("carol@CORP.example"));
    assert_eq!(case.state, CaseState::Allowed);
}

#[test]
fn rejected_case_resolved_for_every_event() {
    let mut h = H::new(&defer_policy("", "1"));
    let id = h.open(&rotate());
    h.ok(&id, provide("window", json!(false)));
    h.ok(&id, provide("risk_score", json!(0)));
    assert_eq!(h.case(&id).state, CaseState::Denied);
    h.at(MIN);
    for e in
        [approve("sec"), deny("sec"), provide("window", json!(true)), Event::Tick, cancel(), provide("nope", json!(1))]
    {
        h.reject(&id, e, Rejection::CaseResolved);
    }
    // Every resolved state.
    let mut h = H::new(&step_up_policy(r#"approvers 1 of ["a"] timeout 10m -> cancel"#));
    let allowed = h.open(&pay(500, "alice"));
    let denied = h.open(&pay(500, "alice"));
    let cancelled = h.open(&pay(500, "alice"));
    let timed_out = h.open(&pay(500, "alice"));
    h.ok(&allowed, approve("a"));
    h.ok(&denied, deny("a"));
    h.ok(&cancelled, cancel());
    h.at(10 * MIN);
    h.lc.tick(h.now).unwrap();
    assert_eq!(h.case(&timed_out).state, CaseState::Cancelled);
    for id in [allowed, denied, cancelled, timed_out] {
        for e in [approve("a"), deny("a"), provide("receipt_checked", json!(true)), Event::Tick, cancel()] {
            h.reject(&id, e, Rejection::CaseResolved);
        }
    }
}

#[test]
fn rejected_unknown_case() {
    let mut h = H::new(&step_up_policy(r#"approvers 1 of ["a"]"#));
    let _ = h.open(&pay(500, "alice"));
    for id in ["case-999999", "nope", "", "case-1"] {
        h.reject(id, approve("a"), Rejection::UnknownCase);
        h.reject(id, Event::Tick, Rejection::UnknownCase);
    }
}

#[test]
fn rejected_undeclared_evidence() {
    let mut h = H::new(&defer_policy("", "1"));
    let id = h.open(&rotate());
    h.reject(&id, provide("windw", json!(true)), Rejection::UndeclaredEvidence);
    let mut h = H::new(&step_up_policy(r#"approvers 1 of ["a"]"#));
    let id = h.open(&pay(500, "alice"));
    h.reject(&id, provide("window", json!(true)), Rejection::UndeclaredEvidence);
    // Declared evidence on a step-up is accepted and shown to approvers.
    let (case, evs) = h.ok(&id, provide("receipt_checked", json!(true)));
    assert_eq!((case.state, evs), (CaseState::PendingApproval, vec!["provide".to_string()]));
}

#[test]
fn rejected_evidence_type() {
    let mut h = H::new(&defer_policy("", "1"));
    let id = h.open(&rotate());
    h.reject(&id, provide("window", json!("yes")), Rejection::EvidenceType);
    h.reject(&id, provide("risk_score", json!(true)), Rejection::EvidenceType);
    h.reject(&id, provide("fresh", json!(3)), Rejection::EvidenceType);
    h.reject(&id, provide("risk_score", json!(1.5)), Rejection::EvidenceType);
    assert_eq!(h.case(&id).attempts, 0, "a refused provide is not an attempt");
}

#[test]
fn rejected_identity_invalid() {
    let ids = Ids { validity: Some(60), revalidate: false, ..Ids::default() };
    let mut h = H::with(&step_up_policy(r#"approvers 1 of ["a"]"#), ids);
    let id = h.open(&pay(500, "alice"));
    h.at(61);
    h.reject(&id, approve("a"), Rejection::IdentityInvalid);
}

#[test]
fn rejected_clock_went_back_for_the_case() {
    let mut h = H::new(&step_up_policy(r#"approvers 2 of ["a", "b"]"#));
    let id = h.open(&pay(500, "alice"));
    h.at(10 * MIN);
    h.ok(&id, approve("a"));
    h.at(10 * MIN - 1);
    for e in [approve("b"), Event::Tick, cancel(), deny("b")] {
        h.reject(&id, e, Rejection::ClockWentBack);
    }
    // The same instant is fine.
    h.at(10 * MIN);
    h.ok(&id, approve("b"));
}

#[test]
fn rejected_clock_went_back_for_the_store() {
    let mut h = H::new(&step_up_policy(r#"approvers 2 of ["a", "b"]"#));
    let first = h.open(&pay(500, "alice"));
    let second = h.open(&pay(600, "alice"));
    h.at(10 * MIN);
    h.ok(&first, approve("a"));
    // `second` itself last changed at T0, but the store's last receipt is at T0 + 10m.
    h.at(5 * MIN);
    h.reject(&second, approve("a"), Rejection::ClockWentBack);
    h.reject(&second, Event::Tick, Rejection::ClockWentBack);
    assert!(matches!(h.lc.tick(h.now), Err(LifecycleError::Rejected(Rejection::ClockWentBack))));
    assert!(matches!(
        h.lc.submit(&h.hash.clone(), &pay(700, "alice").to_string(), h.now),
        Err(LifecycleError::Rejected(Rejection::ClockWentBack))
    ));
    assert_eq!(h.lc.store().list(false).unwrap().len(), 2, "no case opened in the past");
}

#[test]
fn rejected_evidence_already_provided() {
    let mut h = H::new(&defer_policy("", "1"));
    let id = h.open(&rotate());
    h.ok(&id, provide("window", json!(true)));
    let before = h.case(&id);
    assert_eq!(before.state, CaseState::PendingEvidence, "still waiting for risk_score");
    // A second value for a fact already given never replaces the first.
    h.reject(&id, provide("window", json!(false)), Rejection::EvidenceAlreadyProvided);
    assert_eq!(h.case(&id), before, "nothing changed");
}

/// The stable code is written once (`Rejection::as_str`); the message and the JSON say the same.
#[test]
fn a_rejection_displays_and_serializes_as_its_code() {
    for r in Rejection::ALL {
        assert_eq!(r.to_string(), r.as_str());
        assert_eq!(serde_json::to_value(r).unwrap(), json!(r.as_str()));
    }
}

#[test]
fn every_rejection_reason_is_covered_by_a_test_above() {
    // A reminder that the list of reasons is closed: if one is added, add its test.
    let codes: Vec<&str> = Rejection::ALL.iter().map(|r| r.as_str()).collect();
    assert_eq!(
        codes,
        [
            "not_an_approver",
            "self_approval",
            "duplicate_approval",
            "case_resolved",
            "unknown_case",
            "undeclared_evidence",
            "evidence_type",
            "identity_invalid",
            "evidence_already_provided",
            "clock_went_back",
            "until_in_past",
            "limit_not_allowed",
            "limit_below_action"
        ]
    );
}

// ---------------------------------------------------------------------------------------------
// Receipts, versions, and the machine on its own

#[test]
fn every_transition_appends_one_receipt_and_versions_count_commits() {
    let mut h = H::new(&step_up_policy(
        r#"approvers 3 of ["a", "b", "c", "d"] no veto timeout 1h -> deny escalate after 10m to ["e"]"#,
    ));
    let id = h.open(&pay(500, "alice"));
    h.at(MIN);
    h.ok(&id, approve("a"));
    h.at(2 * MIN);
    h.ok(&id, deny("b"));
    h.at(3 * MIN);
    h.ok(&id, provide("receipt_checked", json!(true)));
    h.at(12 * MIN);
    h.ok(&id, Event::Tick);
    h.ok(&id, approve("e"));
    let (case, _) = h.ok(&id, approve("c"));
    assert_eq!(case.state, CaseState::Allowed);
    assert_eq!(case.version, 6);
    let r = h.receipts(&id);
    let evs: Vec<&str> = r.iter().map(|r| r.body.event.as_str()).collect();
    assert_eq!(evs, ["open", "approve", "deny", "provide", "escalate", "approve", "approve"]);
    let states: Vec<CaseState> = r.iter().map(|r| r.body.state).collect();
    assert_eq!(*states.last().unwrap(), CaseState::Allowed);
    assert!(states[..states.len() - 1].iter().all(|s| *s == CaseState::PendingApproval));
    assert_eq!(r.last().unwrap().body.decision, "allow");
    assert_eq!(&*r.last().unwrap().body.reason.code, "approved");
    assert_eq!(r[0].body.decision, "step_up");
    assert_eq!(&*r[0].body.reason.code, "pay.big");
    // A hash chain in store order.
    for (i, w) in r.windows(2).enumerate() {
        assert_eq!(w[1].seq, w[0].seq + 1, "at {i}");
        assert_eq!(w[1].prev, w[0].hash, "at {i}");
    }
    for x in &r {
        assert_eq!(x.body.case, id);
        assert_eq!(&*x.body.policy.bundle_hash, h.hash);
        assert_eq!(&*x.body.policy.name, "p");
    }
}

#[test]
fn the_service_tick_fires_due_timers_across_cases() {
    let mut h = H::new(&step_up_policy(r#"approvers 1 of ["a"] timeout 10m -> deny escalate after 5m to ["x"]"#));
    let a = h.open(&pay(500, "alice"));
    h.at(2 * MIN);
    let b = h.open(&pay(600, "alice"));
    h.at(6 * MIN);
    let changed = h.lc.tick(h.now).unwrap();
    assert_eq!(changed.len(), 1);
    assert_eq!(h.events(&a), ["open", "escalate"]);
    assert_eq!(h.events(&b), ["open"]);
    h.at(12 * MIN);
    let changed = h.lc.tick(h.now).unwrap();
    assert_eq!(changed.len(), 2);
    assert_eq!(h.events(&a), ["open", "escalate", "timeout"]);
    assert_eq!(h.events(&b), ["open", "escalate", "timeout"]);
    assert!(h.lc.store().list(true).unwrap().is_empty());
}

#[test]
fn machine_open_and_apply_directly() {
    let (engine, _) = build(&step_up_policy(r#"approvers 1 of ["a"] timeout 10m -> deny"#));
    let req = pay(500, "alice");
    let decision = engine.decide_json(&req.to_string(), T0);
    assert_eq!(decision.decision, Effect::StepUp);
    let (case, receipt) = machine::open(&decision, &req, T0, &[]).unwrap();
    assert_eq!((case.state, receipt.event.as_str()), (CaseState::PendingApproval, "open"));
    assert!(
        machine::open(&engine.decide_json(&pay(5, "alice").to_string(), T0), &pay(5, "alice"), T0, &[]).is_none(),
        "allow opens no case"
    );
    let ids = NoIdentityService;
    let env = Env { engine: &engine, identities: &ids };

    // Nothing due: no receipts, no new version.
    let t = machine::apply(&case, &Event::Tick, T0 + 60, &env).unwrap();
    assert!(t.receipts.is_empty() && t.rejected.is_none());
    assert_eq!(t.case.version, case.version);
    assert_eq!(machine::apply(&case, &approve("zed"), T0, &env).err(), Some(Rejection::NotAnApprover));

    let t = machine::apply(&case, &approve("a"), T0 + 60, &env).unwrap();
    assert_eq!(t.receipts.len(), 1);
    assert_eq!((t.case.state, t.case.version, t.case.updated_at), (CaseState::Allowed, 1, T0 + 60));
    assert_eq!(machine::apply(&t.case, &Event::Tick, T0 + 120, &env).err(), Some(Rejection::CaseResolved));

    let t = machine::apply(&case, &deny("a"), T0 + 60, &env).unwrap();
    // The clock is checked first: an event from before the case's last event is refused as such.
    assert_eq!(machine::apply(&t.case, &approve("a"), T0 + 30, &env).err(), Some(Rejection::ClockWentBack));
    assert_eq!(machine::apply(&t.case, &approve("a"), T0 + 90, &env).err(), Some(Rejection::CaseResolved));

    let pending = machine::apply(&case, &provide("receipt_checked", json!(true)), T0 + 60, &env).unwrap().case;
    assert_eq!(machine::apply(&pending, &approve("a"), T0 + 59, &env).err(), Some(Rejection::ClockWentBack));

    // An approval past the deadline: the timeout is recorded, the approval refused.
    let t = machine::apply(&case, &approve("a"), T0 + 11 * 60, &env).unwrap();
    assert_eq!(t.rejected, Some(Rejection::CaseResolved));
    assert_eq!(t.receipts.len(), 1);
    assert_eq!((t.case.state, t.receipts[0].event.as_str()), (CaseState::Denied, "timeout"));
}

/// docs/lifecycle.md, "Re-evaluation": a deferred action is re-evaluated with its original
/// request, identity and context snapshot, against the same bundle. The request below carries no
/// `context.now`, so the engine fills it in with the submission time (10:00); the re-evaluation
/// at 18:00 should see the same snapshot (hour 10, allowed), but the machine re-converts the
/// stored request with the clock of the `provide` event, so the rule sees hour 18 and denies.
#[test]
fn reevaluation_keeps_the_context_snapshot() {
    let src = r#"policy w version "1"
settings { defer timeout 1d -> deny }
tool deploy { env: String }
evidence green: Bool from "ci"
rule office_hours on deploy priority 10 {
  when evidence.green and context.now.hour() < 17
  allow
  reason "deploy.ok" "green, in office hours"
}
"#;
    let mut h = H::new(src);
    let req = json!({ "action": { "tool": "deploy", "params": { "env": "prod" } }, "identity": { "human": "alice" } });
    let id = h.open(&req);
    assert_eq!(h.case(&id).state, CaseState::PendingEvidence);
    h.at(8 * 60 * MIN);
    let (case, _) = h.ok(&id, provide("green", json!(true)));
    assert_eq!((case.state, resolution(&case)), (CaseState::Allowed, "deploy.ok"));
}

/// An event earlier than the case's last event is `clock_went_back`, also on a resolved case;
/// the machine answers `case_resolved` instead when the case's last transition was a timer
/// (whose receipt is stamped with its deadline, so the store's clock does not catch it), and
/// `clock_went_back` when it was an approval. Both refuse and change nothing; the code differs.
#[test]
fn clock_went_back_on_a_resolved_case_is_reported_consistently() {
    // Receipts are stamped when observed, so the clock only moves forward: an old event gets the
    // same answer whichever way the case ended.
    let mut h = H::new(&step_up_policy(r#"approvers 1 of ["a"] timeout 10m -> deny"#));
    let approved = h.open(&pay(500, "alice"));
    let timed_out = h.open(&pay(600, "alice"));
    h.at(5 * MIN);
    h.ok(&approved, approve("a"));
    h.at(20 * MIN);
    h.ok(&timed_out, Event::Tick);
    assert_eq!(h.case(&timed_out).updated_at, T0 + 20 * MIN, "stamped when the tick observed it");
    h.at(15 * MIN);
    h.reject(&timed_out, approve("a"), Rejection::ClockWentBack);
    h.reject(&approved, approve("a"), Rejection::ClockWentBack);
    h.at(25 * MIN);
    h.reject(&timed_out, approve("a"), Rejection::CaseResolved);
    h.reject(&approved, approve("a"), Rejection::CaseResolved);
    h.at(4 * MIN);
    h.reject(&timed_out, approve("a"), Rejection::ClockWentBack);
    h.reject(&approved, approve("a"), Rejection::ClockWentBack);
}

// ---------------------------------------------------------------------------------------------
// Retries and verified actors (what an HTTP host needs)

#[test]
fn a_retried_event_after_its_case_resolved_is_a_no_op() {
    let mut h = H::new(&step_up_policy(r#"approvers 1 of ["a", "b"]"#));
    let id = h.open(&pay(500, "alice"));
    h.at(MIN);
    let (case, receipts) = h.lc.apply(&id, &approve("a"), h.now, Some("retry-1")).unwrap();
    assert_eq!(case.state, CaseState::Allowed);
    assert_eq!(receipts.len(), 1);
    let chain = h.lc.store().receipts(None).unwrap();
    // The same delivery again (the first answer was lost): the stored case, nothing appended,
    // not `case_resolved`.
    h.at(2 * MIN);
    let (again, receipts) = h.lc.apply(&id, &approve("a"), h.now, Some("retry-1")).unwrap();
    assert_eq!(again, case);
    assert!(receipts.is_empty());
    assert_eq!(h.lc.store().receipts(None).unwrap(), chain);
    // A different event on the resolved case is still refused.
    let other = h.lc.apply(&id, &approve("b"), h.now, Some("retry-2"));
    assert_eq!(other.err().and_then(|e| e.rejection()), Some(Rejection::CaseResolved));
}

#[test]
fn a_verified_actor_is_recorded_in_the_case_and_its_receipt() {
    use aarm_cases::lifecycle::identity::VerifiedActor;
    let mut h = H::new(&step_up_policy(r#"approvers 2 of ["a", "b", "c"] no veto"#));
    let id = h.open(&pay(500, "alice"));
    h.at(MIN);
    let actor = VerifiedActor { id: "a".into(), method: "bearer".into() };
    let (case, receipts) = h.lc.apply_verified(&id, &approve("a"), h.now, None, Some(&actor)).unwrap();
    assert_eq!(case.approvals[0].verified_by.as_deref(), Some("bearer"));
    assert_eq!(receipts[0].body.detail["identity_verified"], json!(true));
    assert_eq!(receipts[0].body.detail["verified_actor"], json!({"id": "a", "method": "bearer"}));
    let actor = VerifiedActor { id: "b".into(), method: "jwt".into() };
    let (case, receipts) = h.lc.apply_verified(&id, &deny("b"), h.now, None, Some(&actor)).unwrap();
    assert_eq!(case.denials[0].verified_by.as_deref(), Some("jwt"));
    assert_eq!(receipts[0].body.detail["verified_actor"]["method"], json!("jwt"));
    // Without a verified actor nothing is claimed.
    let (case, receipts) = h.lc.apply(&id, &approve("c"), h.now, None).unwrap();
    assert_eq!(case.approvals[1].verified_by, None);
    assert!(receipts[0].body.detail.get("identity_verified").is_none());
    // The chain, with the annotations, verifies.
    let chain = h.lc.store().receipts(None).unwrap();
    aarm_cases::receipts::verify_chain(&chain, &aarm_cases::receipts::VerifyOptions::default()).unwrap();
}

/// A step-up reached through a timeout (a deferral's, or a tier's) shows the rule's `risk`, as a
/// step-up written directly does: docs/language.md says a step-up's risk defaults to the rule's. It
/// used to be `medium`, so an escalated deferral of a `risk high` rule sorted below high cases.
#[test]
fn a_step_up_reached_through_a_timeout_inherits_the_rules_risk() {
    use aarm_runtime::policy::{Outcome, Risk};
    use aarm_runtime::program::DecisionTemplate;
    let src = r#"
policy p version "1"
tool rotate { env: String }
evidence window_ok: Bool from "maintenance_api"
rule rotate_prod on rotate {
  when evidence.window_ok is not set
  risk high
  defer {
    need window_ok
    timeout 1m -> step_up {
      approvers 1 of ["sre@corp.com"]
      timeout 1h -> step_up { approvers 1 of ["ceo@corp.com"]  timeout 1h -> deny }
    }
  }
}
rule own_risk on rotate priority 5 {
  when params.env == "dev"
  risk critical
  defer { need window_ok  timeout 1m -> step_up { approvers 1 of ["a@corp.com"]  risk low } }
}
"#;
    let program = aarm_testkit::build(src).unwrap().program;
    let tier = |rule: &str| {
        let meta = program.rules.iter().find(|r| r.name == rule).expect("rule");
        let DecisionTemplate::Defer(d) = &meta.decision else { panic!("{rule} defers") };
        let Outcome::StepUp(s) = &d.on_timeout else { panic!("{rule} steps up") };
        s.clone()
    };
    let first = tier("rotate_prod");
    assert_eq!(first.risk, Risk::High, "the deferral's step-up");
    let Outcome::StepUp(second) = &first.on_timeout else { panic!("a second tier") };
    assert_eq!(second.risk, Risk::High, "the step-up after the step-up's timeout");
    assert_eq!(tier("own_risk").risk, Risk::Low, "a step-up's own `risk` still wins");
}

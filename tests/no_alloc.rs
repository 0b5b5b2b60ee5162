//! The hot path's promise: no allocation for allow/deny on an already-converted
//! request. A counting global allocator checks that `Engine::evaluate` with a warmed-up `Vm`
//! performs zero allocations, for requests that end in `allow`, `deny`, `step_up` and the default
//! deny, through conditions with `in [..]`, `starts_with`/`ends_with`/`contains`, quantifiers over
//! lists, numeric comparisons, `identity.roles`, groups, `fn` calls, optionals and regexes.
//!
//! The allocator's counters are process-wide, so this binary serializes its tests with a lock and
//! takes, for each case, the smallest count over several attempts (the test harness's own thread
//! may allocate while printing another test's result; an allocation made by `evaluate` itself
//! shows up in every attempt).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]

use aarm::runtime::decision::Effect;
use aarm::runtime::engine::Engine;
use aarm::runtime::request::Request;
use aarm::runtime::vm::Vm;
use serde_json::json;
use stats_alloc::{Region, StatsAlloc, INSTRUMENTED_SYSTEM};
use std::alloc::System;
use std::hint::black_box;
use std::sync::Mutex;

#[global_allocator]
static GLOBAL: &StatsAlloc<System> = &INSTRUMENTED_SYSTEM;

static SERIAL: Mutex<()> = Mutex::new(());

const POLICY: &str = r#"
policy noalloc version "1.0.0"

settings { default deny }

tool transfer { amount: Decimal, currency: String, recipient: String, memo: String? }
tool shell { command: String, args: List<String> }
tool http_get { url: String, method: String }
tool send_email { to: List<String>, subject: String }
tool db_query { database: String, rows: Int }

group admins = ["alice@corp.com", "root@corp.com"]
group finance = ["cfo@corp.com", "controller@corp.com"]

fn is_internal(addr: String) -> Bool = addr.ends_with("@corp.com")
fn over(amount: Decimal, limit: Int) -> Bool = amount > limit

rule small_transfer on transfer priority 10 {
  when params.amount <= 100 and params.currency in ["USD", "EUR", "GBP"]
  when params.recipient.starts_with("vendor-")
  allow
}

rule large_transfer on transfer priority 50 {
  when over(params.amount, 10000) and not ("finance" in identity.roles)
  deny
  reason "transfer.large" "Transfer of {params.amount} {params.currency} refused"
}

rule reviewed_transfer on transfer priority 45 {
  when params.amount > 1000.50 and "finance" in identity.roles
  step_up { approvers 1 of finance }
}

rule suspicious_memo on transfer priority 40 {
  when params.memo is set and params.memo.contains("bribe")
  deny
}

rule shell_injection on shell priority 90 {
  when any a in params.args: a.contains(";") or a == "-rf"
  deny
}

rule shell_read_only on shell priority 10 {
  when params.command in ["ls", "cat", "grep"] and identity.human in admins
  allow
}

rule http_api on http_get {
  when params.url.starts_with("https://api.") and params.method in ["GET", "HEAD"]
  when not ("blocked" in identity.roles)
  allow
}

rule mail_external on send_email priority 20 {
  when any r in params.to: not is_internal(r)
  deny
}

rule mail_pii on send_email priority 30 {
  when "PII" in context.data_classes and (count r in params.to: is_internal(r)) > 2
  deny
}

rule mail_internal on send_email priority 10 {
  when all r in params.to: is_internal(r)
  when params.to.len() <= 10
  allow
}

rule db_prod on db_query priority 60 {
  when params.database.matches("^prod-[0-9]+$") and params.rows > 100
  deny
}

rule db_dba on db_query priority 10 {
  when params.rows <= 100000 and "dba" in identity.roles
  allow
}
"#;

/// (name, request, expected effect, expected rule or `None` for the default).
fn cases() -> Vec<(&'static str, serde_json::Value, Effect, Option<&'static str>)> {
    let alice = json!({ "human": "alice@corp.com", "roles": ["dev"] });
    let fin = json!({ "human": "cfo@corp.com", "roles": ["finance"] });
    vec![
        (
            "transfer: numeric bound, `in [..]`, starts_with -> allow",
            json!({ "action": { "tool": "transfer", "params": { "amount": "99.50", "currency": "EUR", "recipient": "vendor-acme" } }, "identity": alice }),
            Effect::Allow,
            Some("noalloc.small_transfer"),
        ),
        (
            "transfer: fn call with Int widening, role not held -> deny",
            json!({ "action": { "tool": "transfer", "params": { "amount": 20000, "currency": "USD", "recipient": "acme" } }, "identity": alice }),
            Effect::Deny,
            Some("noalloc.large_transfer"),
        ),
        (
            "transfer: identity.roles -> step_up",
            json!({ "action": { "tool": "transfer", "params": { "amount": 5000, "currency": "USD", "recipient": "acme" } }, "identity": fin }),
            Effect::StepUp,
            Some("noalloc.reviewed_transfer"),
        ),
        (
            "transfer: optional `is set` + contains -> deny",
            json!({ "action": { "tool": "transfer", "params": { "amount": 10, "currency": "USD", "recipient": "vendor-x", "memo": "a small bribe" } }, "identity": alice }),
            Effect::Deny,
            Some("noalloc.suspicious_memo"),
        ),
        (
            "transfer: nothing matches -> default deny",
            json!({ "action": { "tool": "transfer", "params": { "amount": 500, "currency": "JPY", "recipient": "acme" } }, "identity": alice }),
            Effect::Deny,
            None,
        ),
        (
            "shell: any a in params.args -> deny",
            json!({ "action": { "tool": "shell", "params": { "command": "rm", "args": ["-v", "-rf", "/"] } }, "identity": alice }),
            Effect::Deny,
            Some("noalloc.shell_injection"),
        ),
        (
            "shell: `in [..]` + group membership -> allow",
            json!({ "action": { "tool": "shell", "params": { "command": "ls", "args": ["-l", "/srv"] } }, "identity": alice }),
            Effect::Allow,
            Some("noalloc.shell_read_only"),
        ),
        (
            "shell: not in the group -> default deny",
            json!({ "action": { "tool": "shell", "params": { "command": "cat", "args": ["x"] } }, "identity": { "human": "mallory@example.net" } }),
            Effect::Deny,
            None,
        ),
        (
            "http_get: starts_with, `in [..]`, not-in roles -> allow",
            json!({ "action": { "tool": "http_get", "params": { "url": "https://api.example.com/v1", "method": "GET" } }, "identity": alice }),
            Effect::Allow,
            Some("noalloc.http_api"),
        ),
        (
            "http_get: -> default deny",
            json!({ "action": { "tool": "http_get", "params": { "url": "http://evil.example", "method": "POST" } }, "identity": alice }),
            Effect::Deny,
            None,
        ),
        (
            "send_email: any + fn call -> deny",
            json!({ "action": { "tool": "send_email", "params": { "to": ["a@corp.com", "x@gmail.com"], "subject": "hi" } }, "identity": alice }),
            Effect::Deny,
            Some("noalloc.mail_external"),
        ),
        (
            "send_email: count + context.data_classes -> deny",
            json!({ "action": { "tool": "send_email", "params": { "to": ["a@corp.com", "b@corp.com", "c@corp.com"], "subject": "hi" } },
                    "identity": alice, "context": { "data_classes": ["PII"] } }),
            Effect::Deny,
            Some("noalloc.mail_pii"),
        ),
        (
            "send_email: all + fn call + len -> allow",
            json!({ "action": { "tool": "send_email", "params": { "to": ["a@corp.com", "b@corp.com"], "subject": "hi" } }, "identity": alice }),
            Effect::Allow,
            Some("noalloc.mail_internal"),
        ),
        (
            "db_query: regex `matches` -> deny",
            json!({ "action": { "tool": "db_query", "params": { "database": "prod-7", "rows": 5000 } }, "identity": { "roles": ["dba"] } }),
            Effect::Deny,
            Some("noalloc.db_prod"),
        ),
        (
            "db_query: regex does not match, role -> allow",
            json!({ "action": { "tool": "db_query", "params": { "database": "staging", "rows": 5000 } }, "identity": { "roles": ["dba"] } }),
            Effect::Allow,
            Some("noalloc.db_dba"),
        ),
        (
            "undeclared tool -> default deny",
            json!({ "action": { "tool": "launch_rocket", "params": { "target": "moon" } }, "identity": alice }),
            Effect::Deny,
            None,
        ),
    ]
}

fn engine() -> Engine {
    aarm_testkit::build_files(vec![("noalloc.aarm".to_string(), POLICY.to_string())]).unwrap().engine().unwrap()
}

/// Allocations (and reallocations) made by `reps` evaluations of `req`: the smallest count over
/// five attempts.
fn allocations(engine: &Engine, req: &Request, vm: &mut Vm, reps: usize) -> usize {
    (0..5)
        .map(|_| {
            let region = Region::new(GLOBAL);
            for _ in 0..reps {
                black_box(engine.evaluate(black_box(req), vm));
            }
            let change = region.change();
            change.allocations + change.reallocations
        })
        .min()
        .unwrap_or(0)
}

#[test]
fn evaluate_does_not_allocate_on_a_converted_request() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let engine = engine();
    let now = 1_790_000_000;
    let cases: Vec<_> = cases()
        .into_iter()
        .map(|(name, json, effect, rule)| {
            let req = engine.convert(&json.to_string(), now).unwrap_or_else(|e| panic!("{name}: {e}"));
            let d = engine.decide(&req);
            assert_eq!((d.decision, d.rule.as_deref()), (effect, rule), "{name}: {d:?}");
            (name, req)
        })
        .collect();

    // One Vm for everything, warmed up once on every request (its stacks reach their size).
    let mut vm = Vm::new();
    for (_, req) in &cases {
        black_box(engine.evaluate(req, &mut vm));
    }

    // Sanity: the counter sees an allocation made in the measured section.
    let region = Region::new(GLOBAL);
    black_box(vec![1u8; 16]);
    assert!(region.change().allocations >= 1, "the counting allocator is not installed");

    let allocating: Vec<String> = cases
        .iter()
        .filter_map(|(name, req)| {
            let n = allocations(&engine, req, &mut vm, 100);
            (n > 0).then(|| format!("{name}: {n} allocations in 100 evaluations"))
        })
        .collect();
    assert!(allocating.is_empty(), "Engine::evaluate allocates:\n{}", allocating.join("\n"));

    // Interleaved, as a host evaluating a stream of different requests would.
    let region = Region::new(GLOBAL);
    for _ in 0..20 {
        for (_, req) in &cases {
            black_box(engine.evaluate(black_box(req), &mut vm));
        }
    }
    let change = region.change();
    // The harness thread may allocate meanwhile; retry once before failing.
    if change.allocations + change.reallocations > 0 {
        let region = Region::new(GLOBAL);
        for (_, req) in &cases {
            black_box(engine.evaluate(black_box(req), &mut vm));
        }
        let again = region.change();
        assert_eq!(again.allocations + again.reallocations, 0, "interleaved evaluation allocates");
    }
}

/// Negative control: `lower()` builds a string (the VM documents it as allocating), so the
/// measurement above would have seen an allocating construct.
#[test]
fn the_counter_sees_a_condition_that_allocates() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let src = r#"
policy lowering version "1.0.0"
tool send_email { to: List<String>, subject: String }
rule shouting on send_email { when params.subject.lower().contains("urgent") deny }
"#;
    let program = aarm_testkit::build(src).unwrap().program;
    let engine = Engine::from_program(program, "sha256:test").expect("engine");
    let json = json!({ "action": { "tool": "send_email", "params": { "to": [], "subject": "URGENT: read" } } });
    let req = engine.convert(&json.to_string(), 1_790_000_000).expect("convert");
    assert_eq!(engine.decide(&req).decision, Effect::Deny);
    let mut vm = Vm::new();
    black_box(engine.evaluate(&req, &mut vm));
    assert!(allocations(&engine, &req, &mut vm, 10) >= 10);
}

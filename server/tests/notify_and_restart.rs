#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]
//! Notifications (webhook with HMAC, Slack message, e-mail over SMTP, retries, failures that
//! keep the case), a restart in the middle of a case, hot reload, and the OpenAPI document.

mod common;

use common::{case_id, eventually, transfer, Deployment, WAIT_BOUND};
use serde_json::{json, Value};
use std::time::Duration;

async fn deliveries(d: &Deployment, id: &str) -> Vec<Value> {
    let (status, list) = d.get(&format!("/v1/cases/{id}/deliveries"), "tok-ops").await;
    assert_eq!(status, 200, "{list}");
    list.as_array().unwrap().clone()
}

async fn wait_delivered(d: &Deployment, id: &str, n: usize) -> Vec<Value> {
    let what = format!("{n} deliveries of {id} to settle");
    eventually(&what, || async {
        let list = deliveries(d, id).await;
        (list.iter().filter(|x| x["state"] != "pending").count() >= n).then_some(list)
    })
    .await
}

/// Waits until the delivery of `id` on `channel` satisfies `done`, and returns it.
async fn delivery_until(d: &Deployment, id: &str, channel: &str, done: impl Fn(&Value) -> bool) -> Value {
    let what = format!("the {channel} delivery of {id}");
    eventually(&what, || async { deliveries(d, id).await.into_iter().find(|x| x["channel"] == channel && done(x)) })
        .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_step_up_notifies_every_channel_with_the_full_context() {
    let d = Deployment::start("notify").await;
    let mut request = transfer(5000);
    request["identity"]["session"] = json!("s-9");
    // The session's history, as the service keeps it: a patch in development before.
    let before = json!({ "action": { "tool": "patch", "params": { "env": "dev" } }, "identity": { "session": "s-9" } });
    assert_eq!(d.decide(before).await["decision"], "allow");
    let id = case_id(&d.decide(request).await);

    // Webhook: signed, verifiable, the whole context.
    let hook = d.receiver.wait_for("/hook", 1).await.remove(0);
    let ts: i64 = hook.headers["x-aarm-timestamp"].to_str().unwrap().parse().unwrap();
    let sig = hook.headers["x-aarm-signature"].to_str().unwrap();
    assert!(aarm_server::notify::webhook::verify("hook-secret", ts, &hook.body, sig), "HMAC verifies");
    assert!(!aarm_server::notify::webhook::verify("other", ts, &hook.body, sig));
    let msg = hook.json();
    assert_eq!(msg["event"], "approval_requested");
    let c = &msg["case"];
    assert_eq!(c["case"], json!(id));
    assert_eq!(c["source"], "step_up");
    assert_eq!(c["original_request"], "pay the acme invoice");
    assert_eq!(c["action"], json!({ "tool": "transfer", "operation": "", "params": { "amount": 5000, "to": "acme" } }));
    assert_eq!(c["prior_actions"], json!([{ "tool": "patch", "decision": "allow" }]));
    assert_eq!(c["data_classes"], json!(["PII"]));
    assert_eq!(c["semantic_distance"], json!(0.7));
    assert_eq!(c["risk"], "high");
    assert_eq!(c["confidence"], json!(0.9));
    assert_eq!(c["identity"]["human"], "alice@corp.com");
    assert_eq!(c["identity"]["service"], "svc-payments");
    assert_eq!(c["identity"]["agent"], "finance-agent");
    assert_eq!(c["identity"]["session"], "s-9");
    assert_eq!(c["rule"], "pay.big");
    assert_eq!(c["rule_doc"], "Large transfers need a finance approver.");
    assert_eq!(c["reason"], "Transfer of 5000 to acme needs approval");
    assert_eq!(c["approvers"], json!(["cfo@corp.com", "controller@corp.com"]));
    assert!(c["links"]["approve"].as_str().unwrap().ends_with(&format!("/inbox?case={id}&action=approve")));

    // Slack: header, the context, and approve/deny buttons linking to the inbox.
    let slack = d.receiver.wait_for("/slack", 1).await.remove(0).json();
    let text = slack.to_string();
    assert_eq!(slack["blocks"][0]["text"]["text"], "🔐 Approval Required");
    for needle in [
        "pay the acme invoice",
        "PII",
        "0.7",
        "may have drifted",
        "`high`",
        "90%",
        "alice@corp.com",
        "pay.big",
        "patch",
    ] {
        assert!(text.contains(needle), "slack message lacks {needle}: {text}");
    }
    let buttons = slack["blocks"].as_array().unwrap().last().unwrap()["elements"].clone();
    assert!(buttons[0]["url"].as_str().unwrap().contains("action=approve"));
    assert!(buttons[1]["url"].as_str().unwrap().contains("action=deny"));

    // E-mail through SMTP, to the channel's address.
    let mail = d.smtp.wait_for(1).await.remove(0);
    assert!(mail.contains("To: approvals@corp.com"), "{mail}");
    assert!(mail.contains("[APPROVAL REQUIRED] transfer"), "{mail}");
    for needle in ["pay the acme invoice", "Semantic distance: 0.7", "svc-payments", "pay.big", "direct step-up"] {
        assert!(mail.contains(needle), "mail lacks {needle}: {mail}");
    }

    // Each delivery is recorded as delivered.
    let list = wait_delivered(&d, &id, 3).await;
    assert_eq!(list.len(), 3);
    assert!(list.iter().all(|x| x["state"] == "delivered" && x["attempts"] == 1), "{list:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failed_deliveries_are_retried_and_a_dead_channel_never_loses_the_case() {
    // Backoff of an hour, then two: only the server's clock can make a retry due in a test.
    let mut d = Deployment::start("retries").await;
    d.reconfigure(|text| {
        text.replace("initial_backoff_ms = 100", "initial_backoff_ms = 3600000")
            .replace("max_backoff_ms = 400", "max_backoff_ms = 7200000")
    })
    .await;
    d.receiver.fail_first.store(2, std::sync::atomic::Ordering::SeqCst);
    let id = case_id(&d.decide(common::tool("wire", 5000)).await);
    // Each retry waits for the server's time to move by its backoff, and comes once it has (the
    // time is moved without a tick: the case itself is not the point here).
    let hook = "webhook:audit";
    let first = delivery_until(&d, &id, hook, |x| x["attempts"] == 1).await;
    assert_eq!(first["state"], "pending", "a 500 is retried: {first}");
    d.time.advance(Duration::from_secs(3600));
    let second = delivery_until(&d, &id, hook, |x| x["attempts"] == 2).await;
    assert_eq!(second["state"], "pending", "{second}");
    d.time.advance(Duration::from_secs(7200));
    let third = delivery_until(&d, &id, hook, |x| x["state"] != "pending").await;
    assert_eq!((third["state"].as_str(), third["attempts"].as_u64()), (Some("delivered"), Some(3)), "{third}");
    assert_eq!(d.receiver.hits("/hook").len(), 1);

    // A channel whose receiver is gone: attempts until max_attempts, then `failed`; the case waits.
    let mut dead = Deployment::start("dead").await;
    let smtp = dead.smtp.addr.clone();
    dead.reconfigure(|_| common::config_text("http://127.0.0.1:9", &smtp)).await;
    let id = case_id(&dead.decide(transfer(5000)).await);
    for attempts in 1..4 {
        delivery_until(&dead, &id, hook, |x| x["attempts"] == attempts).await;
        // The longest backoff (max_backoff_ms): the next attempt is due.
        dead.advance(Duration::from_millis(400)).await;
    }
    let hook = delivery_until(&dead, &id, hook, |x| x["state"] != "pending").await;
    assert_eq!(hook["state"], "failed");
    assert_eq!(hook["attempts"], 4);
    assert!(hook["last_error"].as_str().unwrap().contains("127.0.0.1:9"));
    let (_, case) = dead.get(&format!("/v1/cases/{id}"), "agent-token").await;
    assert_eq!(case["state"], "pending_approval");
    let (status, case) = dead.post(&format!("/v1/cases/{id}/approve"), "tok-cfo", json!({})).await;
    assert_eq!((status, case["state"].as_str()), (200, Some("allowed")));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restart_in_the_middle_loses_nothing() {
    let mut d = Deployment::start("restart").await;
    let id = case_id(&d.decide(transfer(5000)).await);
    let wire = case_id(&d.decide(common::tool("wire", 5000)).await);
    d.receiver.wait_for("/hook", 2).await;
    let (before_id, before_wire) = (wait_delivered(&d, &id, 3).await, wait_delivered(&d, &wire, 1).await);
    let delivered = |list: &[Value]| list.iter().all(|x| x["state"] == "delivered" && x["attempts"] == 1);
    assert!(delivered(&before_id) && delivered(&before_wire), "{before_id:?} {before_wire:?}");
    let (_, before) = d.get(&format!("/v1/cases/{id}"), "tok-ops").await;
    // A wait in progress when the server stops is answered with the case as it is.
    let waiter = d.agent_waiting(&id).await;
    d.stop().await;
    // Answered by the shutdown, not by its own 300 s.
    let (status, waited) = tokio::time::timeout(WAIT_BOUND, waiter).await.expect("shutdown answers the poll").unwrap();
    assert_eq!((status, waited["state"].as_str()), (200, Some("pending_approval")));
    // Down: the wire's 2 s timeout passes with no server running.
    d.time.advance(Duration::from_secs(3));
    d.boot(|_| {}).await;
    let (status, after) = d.get(&format!("/v1/cases/{id}"), "tok-ops").await;
    assert_eq!(status, 200);
    assert_eq!(after, before, "the pending case is exactly as it was");
    // The clock fires the timeout that fell due while the server was down.
    d.tick().await;
    let (_, wired) = d.get(&format!("/v1/cases/{wire}"), "agent-token").await;
    assert_eq!(wired["state"], "denied");
    assert_eq!(wired["resolution"]["code"], "timeout");
    // Approve after the restart; the agent's wait returns allow; no notification sent twice:
    // the restart queued no delivery (each is one row, delivered at its first attempt).
    let (status, case) = d.post(&format!("/v1/cases/{id}/approve"), "tok-controller", json!({})).await;
    assert_eq!((status, case["state"].as_str()), (200, Some("allowed")));
    let (_, waited) = d.get(&format!("/v1/cases/{id}/wait?timeout_s=5"), "agent-token").await;
    assert_eq!(waited["outcome"]["decision"], "allow");
    let (after_id, after_wire) = (deliveries(&d, &id).await, deliveries(&d, &wire).await);
    assert_eq!((after_id.len(), after_wire.len()), (3, 1), "{after_id:?} {after_wire:?}");
    assert!(delivered(&after_id) && delivered(&after_wire), "{after_id:?} {after_wire:?}");
    assert_eq!((before_id, before_wire), (after_id, after_wire));
    assert_eq!(d.receiver.hits("/hook").len(), 2, "the restart queued nothing already delivered");
    let chain = d.verified_chain().await;
    let events: Vec<&str> = chain.iter().map(|r| r.body.event.as_str()).collect();
    assert_eq!(events, ["open", "open", "timeout", "approve"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reloaded_bundle_decides_new_requests_and_old_cases_keep_theirs() {
    let key = ed25519_dalek::SigningKey::from_bytes(&[7u8; 32]);
    let dir = common::temp_dir("reload-keys");
    let mut d = Deployment::start("reload").await;
    // Restart with a trusted key and a signed bundle.
    d.stop().await;
    std::fs::write(d.dir.path().join("policy.aarmb"), common::bundle(common::POLICY, Some(&key))).unwrap();
    let trusted = key.verifying_key();
    d.boot(|o| o.trusted_keys = vec![trusted]).await;
    let old = case_id(&d.decide(common::tool("wire", 5000)).await);
    let patch = |window: Option<bool>| {
        let mut r = json!({ "action": { "tool": "patch", "params": { "env": "prod" } } });
        if let Some(w) = window {
            r["evidence"] = json!({ "window_ok": w });
        }
        r
    };
    let deferred = case_id(&d.decide(patch(None)).await);
    let (_, health) = d.call("GET", "/healthz", None, None).await;
    let first = health["bundle_hash"].clone();

    // An unsigned bundle is refused; the service keeps deciding with the signed one.
    let stricter = common::POLICY
        .replace(
            "when params.amount > 1000\n  step_up { approvers 1 of finance  timeout 2s",
            "when params.amount > 10\n  step_up { approvers 1 of finance  timeout 1h",
        )
        .replace("rule patch_ok on patch { allow }", "rule patch_ok on patch { deny }");
    assert_ne!(stricter, common::POLICY);
    std::fs::write(d.dir.path().join("policy.aarmb"), common::bundle(&stricter, None)).unwrap();
    let (status, body) = d.post("/v1/admin/reload", "tok-ops", json!({})).await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(d.call("GET", "/healthz", None, None).await.1["bundle_hash"], first);

    // Signed: picked up by the file watcher.
    std::fs::write(d.dir.path().join("policy.aarmb"), common::bundle(&stricter, Some(&key))).unwrap();
    eventually("the watcher to reload the signed bundle", || async {
        (d.call("GET", "/healthz", None, None).await.1["bundle_hash"] != first).then_some(())
    })
    .await;
    let new = d.decide(common::tool("wire", 50)).await;
    assert_eq!(new["decision"], "step_up", "the new bundle decides");
    assert_ne!(new["policy"]["bundle_hash"], first);
    assert_eq!(d.decide(patch(Some(true))).await["decision"], "deny", "the new bundle denies patches");
    // The deferral opened before the reload is re-evaluated against its own bundle: allowed.
    let (status, case) =
        d.post(&format!("/v1/cases/{deferred}/evidence"), "agent-token", json!({ "window_ok": true })).await;
    assert_eq!((status, case["state"].as_str()), (200, Some("allowed")), "{case}");
    // The old case still runs under its own bundle: its 2 s timeout fires (the new bundle's
    // wire waits an hour).
    assert_eq!(d.advance(Duration::from_secs(2)).await, vec![old.clone()]);
    let (_, case) = d.get(&format!("/v1/cases/{old}"), "agent-token").await;
    assert_eq!(case["state"], "denied");
    assert_eq!(case["bundle_hash"], first);
    assert_eq!(d.post("/v1/admin/reload", "tok-cfo", json!({})).await.0, 403);
    drop(dir);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn openapi_lists_exactly_the_routes_and_every_route_is_served() {
    let d = Deployment::start("openapi").await;
    let (status, doc) = d.call("GET", "/openapi.json", None, None).await;
    assert_eq!(status, 200);
    assert_eq!(doc["openapi"], "3.0.3");
    let paths = doc["paths"].as_object().unwrap();
    let mut documented: Vec<(String, String)> = Vec::new();
    for (path, ops) in paths {
        for method in ops.as_object().unwrap().keys() {
            documented.push((method.clone(), path.clone()));
        }
    }
    let mut routes: Vec<(String, String)> =
        aarm_server::routes::ROUTES.iter().map(|(m, p)| (m.to_string(), p.to_string())).collect();
    documented.sort();
    routes.sort();
    assert_eq!(documented, routes, "openapi.json and the router list the same routes");
    // Every $ref resolves.
    let text = doc.to_string();
    for part in text.split("\"$ref\":\"#/components/schemas/").skip(1) {
        let name = part.split('"').next().unwrap();
        assert!(doc["components"]["schemas"].get(name).is_some(), "dangling $ref {name}");
    }
    // Each route is really served: anything but 404/405 (a made-up path gives 404).
    for (method, path) in aarm_server::routes::ROUTES {
        let path = path.replace("{id}", "case-000001");
        let req = if *method == "get" {
            d.http.get(format!("{}{path}", d.base))
        } else {
            d.http.post(format!("{}{path}", d.base))
        };
        // No long-poll holds the connection: the case does not exist, so each answers at once.
        let s = req.bearer_auth("tok-ops").timeout(WAIT_BOUND).send().await.unwrap().status().as_u16();
        assert!(s != 404 || path.contains("case-000001"), "{method} {path}: {s}");
        assert_ne!(s, 405, "{method} {path}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_further_tier_after_a_timeout_notifies_its_own_approvers() {
    let d = Deployment::start("tiers").await;
    let id = case_id(&d.decide(common::tool("refund", 5000)).await);
    d.receiver.wait_for("/hook", 1).await;
    // Nobody of the first tier answers within its 1 s: the second tier is asked.
    assert_eq!(d.advance(Duration::from_secs(1)).await, vec![id.clone()]);
    let mut hits: Vec<Value> = d.receiver.wait_for("/hook", 2).await.iter().map(|h| h.json()).collect();
    hits.sort_by_key(|h| h["case"]["tier"].as_u64());
    let (first, second) = (hits[0].clone(), hits[1].clone());
    assert_eq!(first["case"]["tier"], 0);
    assert_eq!(first["case"]["approvers"], json!(["cfo@corp.com", "controller@corp.com"]));
    assert_eq!(second["event"], "approval_requested");
    assert_eq!(second["case"]["tier"], 1);
    assert_eq!(second["case"]["approvers"], json!(["ceo@corp.com"]));
    // The first tier's approvers are no longer asked; the CEO is.
    let (status, body) = d.post(&format!("/v1/cases/{id}/approve"), "tok-cfo", json!({})).await;
    assert_eq!((status, body["reason"].as_str()), (403, Some("not_an_approver")));
    let (status, case) = d.post(&format!("/v1/cases/{id}/approve"), "tok-ceo", json!({})).await;
    assert_eq!((status, case["state"].as_str()), (200, Some("allowed")));
    let list = wait_delivered(&d, &id, 2).await;
    let triggers: Vec<&str> = list.iter().map(|x| x["trigger"].as_str().unwrap()).collect();
    assert_eq!(triggers, ["approval:tier0", "approval:tier1"]);
    let chain = d.verified_chain().await;
    let events: Vec<&str> = chain.iter().map(|r| r.body.event.as_str()).collect();
    assert_eq!(events, ["open", "timeout", "approve"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_session_remembers_its_actions_across_a_restart() {
    let mut d = Deployment::start("session-restart").await;
    let read = json!({ "action": { "tool": "read_file", "params": { "path": "/etc/customers.csv" } }, "identity": { "session": "s-1" } });
    assert_eq!(d.decide(read).await["decision"], "allow");
    d.stop().await;
    d.boot(|_| {}).await;
    let mut pay = transfer(10);
    pay["identity"]["session"] = json!("s-1");
    let after = d.decide(pay.clone()).await;
    assert_eq!(after["decision"], "deny", "the read before the restart still counts: {after}");
    assert_eq!(after["reason"]["code"], "exfil.after_read");
    pay["identity"]["session"] = json!("s-2");
    assert_eq!(d.decide(pay).await["decision"], "allow");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_case_another_process_opened_is_timed_out_by_the_server_clock() {
    // The background clock ticks on its own here (the rescan that finds the case is its job).
    let d = Deployment::start_with("external", common::POLICY, |o| o.tick_interval = Duration::from_millis(50)).await;
    // As `aarm case open` would, on the same store file, while the server runs.
    let id = {
        let bytes = std::fs::read(d.dir.path().join("policy.aarmb")).unwrap();
        let engine = std::sync::Arc::new(aarm_runtime::engine::Engine::load(&bytes, &[], false).unwrap());
        let store = aarm_cases::store::sqlite::SqliteStore::open(&d.dir.path().join("cases.db")).unwrap();
        let mut lc = aarm_cases::lifecycle::service::Lifecycle::new(
            store,
            Box::new(aarm_cases::lifecycle::identity::NoIdentityService),
        );
        let hash = engine.bundle_hash().to_string();
        lc.add_engine(engine, Some(&bytes)).unwrap();
        let now = d.app().clock.now();
        let mut request = common::tool("wire", 5000);
        request["identity"]["agent"] = json!("finance-agent");
        lc.submit(&hash, &request.to_string(), now).unwrap().case.unwrap().id
    };
    // Its 2 s pass; no request touches it, no test tick runs: the background clock's rescan finds
    // it and times it out.
    d.time.advance(Duration::from_secs(2));
    let case = d.case_until(&id, |c| c["state"] != "pending_approval").await;
    assert_eq!(case["state"], "denied", "the rescan found it and the clock timed it out: {case}");
    assert_eq!(case["resolution"]["code"], "timeout");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_python_agent_blocks_until_approved() {
    if std::process::Command::new("python3").arg("--version").output().is_err() {
        eprintln!("\n!!! SKIPPED: no python3 for server/examples/agent.py !!!\n");
        return;
    }
    let d = Deployment::start("python").await;
    std::fs::write(d.dir.path().join("request.json"), transfer(5000).to_string()).unwrap();
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/examples/agent.py");
    let agent = tokio::process::Command::new("python3")
        .args([script, &d.base, "agent-token"])
        .arg(d.dir.path().join("request.json"))
        .output();
    let approver = async {
        // The approver finds the case in their list and approves it.
        let id = eventually("the agent's case", || async {
            let (_, pending) = d.get("/v1/cases?state=pending", "tok-cfo").await;
            pending.as_array().unwrap().first().map(|c| c["id"].as_str().unwrap().to_string())
        })
        .await;
        let (status, _) = d.post(&format!("/v1/cases/{id}/approve"), "tok-cfo", json!({})).await;
        assert_eq!(status, 200);
    };
    let (out, ()) = tokio::join!(agent, approver);
    let out = out.unwrap();
    assert!(out.status.success(), "{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    let outcome: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(outcome["decision"], "allow");
    assert_eq!(outcome["reason"]["code"], "approved");
}

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]
//! Break-glass overrides and their review, on the real server over loopback with its real store:
//! only the declared authority overrides, with the statements the policy requires; the override
//! is a new decision (the denial untouched) whose receipt verifies in the chain beside the
//! denial's; it ends when it expires; its author cannot review it; a replayed request grants once;
//! the channels the declaration names are told of each override and of each flag, with no value
//! a `@redact` field holds.

mod common;

use aarm_runtime::decision::Decision;
use common::*;
use serde_json::{json, Value};
use std::time::Duration;

const POLICY: &str = r#"
policy ops version "1"
tool delete_database { name: String }
tool read_file { path: String }
tool drop_table { name: String }
settings { review "security-team" }
rule no_delete on delete_database { deny reason "db.delete" "Deleting a database is denied" }
rule no_drop on drop_table { deny }
rule reads on read_file { allow }
override on delete_database by role "incident-commander" for 1h requires reason, ticket
  notify "webhook:audit", "slack:#finance", "email:approvals@corp.com"
tool unseal { vault: String, pin: String @redact }
rule no_unseal on unseal { deny reason "vault.sealed" "Vaults stay sealed" }
override on unseal by ["cfo@corp.com"] for 10m notify "webhook:audit"
"#;

/// A deployment where `cfo@corp.com` and `controller@corp.com` hold `incident-commander`.
async fn deployment(name: &str) -> Deployment {
    let mut d = Deployment::start_with(name, POLICY, |_| {}).await;
    d.reconfigure(|config| {
        config.replace(
            "\"sre-lead@corp.com\" = [\"sre\"]",
            "\"sre-lead@corp.com\" = [\"sre\"]\n\"cfo@corp.com\" = [\"incident-commander\"]\n\"controller@corp.com\" = [\"incident-commander\"]",
        )
    })
    .await;
    d
}

fn delete(name: &str) -> Value {
    json!({ "action": { "tool": "delete_database", "params": { "name": name } }, "request_id": format!("req-{name}") })
}

fn statements() -> Value {
    json!({ "reason": "primary is corrupt, restoring from backup", "ticket": "INC-4711" })
}

fn schema() -> jsonschema::Validator {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/schema/decision.json");
    let text = std::fs::read_to_string(path).unwrap();
    jsonschema::validator_for(&serde_json::from_str(&text).unwrap()).unwrap()
}

fn assert_valid(value: &Value) {
    let validator = schema();
    let errors: Vec<String> = validator.iter_errors(value).map(|e| format!("{e} at {}", e.instance_path())).collect();
    assert!(errors.is_empty(), "does not match docs/schema/decision.json: {errors:?}\n{value:#}");
}

fn override_path(id: &str) -> String {
    format!("/v1/decisions/{id}/override")
}

/// The receipts of the chain whose event is `event`.
fn events<'a>(
    chain: &'a [aarm_cases::lifecycle::receipt::Receipt],
    event: &str,
) -> Vec<&'a aarm_cases::lifecycle::receipt::Receipt> {
    chain.iter().filter(|r| r.body.event == event).collect()
}

#[tokio::test]
async fn only_the_declared_role_overrides_and_the_denial_stays_as_it_was() {
    let d = deployment("override-authority").await;
    let denial = d.decide(delete("orders")).await;
    assert_eq!(denial["decision"], "deny", "{denial}");
    let id = denial["decision_id"].as_str().unwrap().to_string();
    let before = d.snapshot().await;

    // Nobody without the declared role: an approver without it, an agent, an operator.
    for token in ["tok-outsider", "agent-token", "tok-ops", "tok-sre"] {
        let (status, body) = d.post(&override_path(&id), token, statements()).await;
        assert_eq!((status, body["reason"].as_str()), (403, Some("not_an_overrider")), "{token}: {body}");
    }
    // Nobody as someone else.
    let (status, body) = d
        .post(&override_path(&id), "tok-outsider", json!({ "by": "cfo@corp.com", "reason": "x", "ticket": "y" }))
        .await;
    assert_eq!((status, body["reason"].as_str()), (403, Some("not_yourself")), "{body}");
    // The holder, without a statement the policy requires, or with an empty one.
    let (status, body) = d.post(&override_path(&id), "tok-cfo", json!({ "reason": "restore" })).await;
    assert_eq!((status, body["reason"].as_str()), (422, Some("statement_missing")), "{body}");
    assert!(body["message"].as_str().unwrap().contains("`ticket`"), "{body}");
    let (status, body) = d.post(&override_path(&id), "tok-cfo", json!({ "reason": "  ", "ticket": "INC-1" })).await;
    assert_eq!((status, body["reason"].as_str()), (422, Some("statement_missing")), "{body}");
    let (status, body) =
        d.post(&override_path(&id), "tok-cfo", json!({ "reason": "r", "ticket": "t", "expires_at": "never" })).await;
    assert_eq!((status, body["reason"].as_str()), (400, Some("bad_request")), "{body}");
    assert_eq!(d.snapshot().await, before, "a refused override changes nothing");

    // The holder, stating both: a new decision naming the denial and its authority.
    let (status, o) = d.post(&override_path(&id), "tok-cfo", statements()).await;
    assert_eq!(status, 200, "{o}");
    assert_valid(&o);
    assert_eq!(o["decision"], "allow");
    assert_eq!(o["reason"]["code"], "override.granted");
    assert_eq!(o["overrides"], id.as_str());
    assert_ne!(o["decision_id"], id.as_str(), "a decision of its own");
    assert_eq!(o["request_id"], "req-orders");
    assert_eq!(
        o["authority"],
        json!({ "by": "cfo@corp.com", "role": "incident-commander", "statements": statements() })
    );
    assert_eq!(o["scope"], denial["scope"], "it covers the denied action, nothing else");
    assert_eq!(o["action_hash"], denial["action_hash"]);
    let record: Decision = serde_json::from_value(o.clone()).unwrap();
    let now = d.app().clock.now();
    assert!(record.is_current(now));
    let expires = aarm_runtime::value::parse_time(record.expires_at.as_deref().unwrap()).unwrap();
    assert_eq!(expires - now, 3600, "for 1h");

    // A second override of the same denial while the first is in force.
    let (status, body) = d.post(&override_path(&id), "tok-controller", statements()).await;
    assert_eq!((status, body["reason"].as_str()), (409, Some("override_active")), "{body}");

    // The chain: the denial's receipt as it was, then the override's; both verify.
    let chain = d.verified_chain().await;
    let decided = events(&chain, "decide");
    let [denied] = decided.as_slice() else { panic!("{decided:?}") };
    assert_eq!(denied.hash, denial["receipt"].as_str().unwrap(), "the denial's receipt is untouched");
    assert_eq!(denied.body.decision, "deny");
    let overrides = events(&chain, "override");
    let [granted] = overrides.as_slice() else { panic!("{overrides:?}") };
    assert_eq!(granted.hash, o["receipt"].as_str().unwrap());
    assert_eq!(granted.body.actor.as_deref(), Some("cfo@corp.com"));
    assert_eq!(granted.body.detail["overrides"], id.as_str());
    assert_eq!(granted.body.detail["decision_id"], o["decision_id"]);
    assert!(granted.seq > denied.seq);
}

#[tokio::test]
async fn only_denials_of_declared_tools_can_be_overridden() {
    let d = deployment("override-what").await;
    let allow = d.decide(json!({ "action": { "tool": "read_file", "params": { "path": "/etc/motd" } } })).await;
    assert_eq!(allow["decision"], "allow");
    let (status, body) = d.post(&override_path(allow["decision_id"].as_str().unwrap()), "tok-cfo", statements()).await;
    assert_eq!((status, body["reason"].as_str()), (404, Some("unknown_denial")), "an allow: {body}");
    let (status, body) = d.post(&override_path("01JB0000000000000000000000"), "tok-cfo", statements()).await;
    assert_eq!((status, body["reason"].as_str()), (404, Some("unknown_denial")), "{body}");
    let dropped = d.decide(json!({ "action": { "tool": "drop_table", "params": { "name": "t" } } })).await;
    assert_eq!(dropped["decision"], "deny");
    let (status, body) =
        d.post(&override_path(dropped["decision_id"].as_str().unwrap()), "tok-cfo", statements()).await;
    assert_eq!(
        (status, body["reason"].as_str()),
        (403, Some("not_overridable")),
        "no `override on drop_table`: {body}"
    );
    assert!(events(&d.verified_chain().await, "override").is_empty());
}

#[tokio::test]
async fn an_override_ends_when_it_expires() {
    let d = deployment("override-expiry").await;
    let id = d.decide(delete("users")).await["decision_id"].as_str().unwrap().to_string();
    let (status, o) = d.post(&override_path(&id), "tok-cfo", statements()).await;
    assert_eq!(status, 200, "{o}");
    let record: Decision = serde_json::from_value(o.clone()).unwrap();

    d.advance(Duration::from_secs(3599)).await;
    assert!(record.is_current(d.app().clock.now()), "a second before it expires");
    let (_, listed) = d.get("/v1/reviews", "tok-security").await;
    assert_eq!(listed["reviews"][0]["current"], true, "{listed}");

    d.advance(Duration::from_secs(1)).await;
    assert!(!record.is_current(d.app().clock.now()), "expired at expires_at");
    let (_, listed) = d.get("/v1/reviews", "tok-security").await;
    assert_eq!(listed["reviews"][0]["current"], false, "{listed}");
    // Expired, it no longer stands in the way of another (which names the same denial).
    let (status, again) = d.post(&override_path(&id), "tok-controller", statements()).await;
    assert_eq!(status, 200, "{again}");
    assert_eq!(again["overrides"], id.as_str());
    assert_eq!(events(&d.verified_chain().await, "override").len(), 2);
}

#[tokio::test]
async fn every_override_is_reviewed_by_someone_else_and_the_verdict_is_a_receipt() {
    let d = deployment("override-review").await;
    let id = d.decide(delete("billing")).await["decision_id"].as_str().unwrap().to_string();
    let (_, o) = d.post(&override_path(&id), "tok-cfo", statements()).await;
    let oid = o["decision_id"].as_str().unwrap().to_string();

    let (status, body) = d.get("/v1/reviews", "agent-token").await;
    assert_eq!((status, body["reason"].as_str()), (403, Some("not_a_reviewer")), "{body}");
    let (status, listed) = d.get("/v1/reviews", "tok-security").await;
    assert_eq!(status, 200, "{listed}");
    let reviews = listed["reviews"].as_array().unwrap();
    assert_eq!(reviews.len(), 1, "{listed}");
    assert_eq!((reviews[0]["id"].as_str(), reviews[0]["kind"].as_str()), (Some(oid.as_str()), Some("override")));
    assert_eq!(reviews[0]["author"], "cfo@corp.com");
    assert_eq!(reviews[0]["decision"], o);

    let path = format!("/v1/reviews/{oid}");
    let (status, body) = d.post(&path, "tok-cfo", json!({ "verdict": "accept" })).await;
    assert_eq!((status, body["reason"].as_str()), (403, Some("self_review")), "{body}");
    let (status, body) = d.post(&path, "tok-security", json!({ "verdict": "maybe" })).await;
    assert_eq!((status, body["reason"].as_str()), (400, Some("bad_request")), "{body}");
    let (status, body) = d.post("/v1/reviews/nope", "tok-security", json!({ "verdict": "flag" })).await;
    assert_eq!((status, body["reason"].as_str()), (404, Some("unknown_review")), "{body}");

    let (status, reviewed) =
        d.post(&path, "tok-security", json!({ "verdict": "flag", "note": "no change ticket" })).await;
    assert_eq!(status, 200, "{reviewed}");
    assert_eq!(reviewed["verdict"]["reviewer"], "security@corp.com");
    assert_eq!(reviewed["verdict"]["verdict"], "flag");
    let (status, body) = d.post(&path, "tok-ops", json!({ "verdict": "accept" })).await;
    assert_eq!((status, body["reason"].as_str()), (409, Some("already_reviewed")), "{body}");
    let (_, listed) = d.get("/v1/reviews", "tok-security").await;
    assert_eq!(listed["reviews"], json!([]), "reviewed: no longer pending");

    let chain = d.verified_chain().await;
    let verdicts = events(&chain, "review");
    let [v] = verdicts.as_slice() else { panic!("{verdicts:?}") };
    assert_eq!(v.body.actor.as_deref(), Some("security@corp.com"));
    assert_eq!(
        (v.body.detail["override"].as_str(), v.body.detail["verdict"].as_str()),
        (Some(oid.as_str()), Some("flag"))
    );
    assert_eq!(reviewed["verdict"]["receipt"], v.hash.as_str());
}

#[tokio::test]
async fn a_replayed_override_request_grants_once() {
    let d = deployment("override-replay").await;
    let id = d.decide(delete("ledger")).await["decision_id"].as_str().unwrap().to_string();
    let body = serde_json::to_vec(&statements()).unwrap();
    let headers = [("idempotency-key", "break-glass-1")];
    let (s1, first) = d.post_raw(&override_path(&id), "tok-cfo", body.clone(), &headers).await;
    let (s2, second) = d.post_raw(&override_path(&id), "tok-cfo", body.clone(), &headers).await;
    assert_eq!((s1, s2), (200, 200), "{first} {second}");
    assert_eq!(first, second, "the retry gets the first answer");
    assert_eq!(events(&d.verified_chain().await, "override").len(), 1, "one override");
    let other = serde_json::to_vec(&json!({ "reason": "another", "ticket": "INC-2" })).unwrap();
    let (status, body) = d.post_raw(&override_path(&id), "tok-cfo", other, &headers).await;
    assert_eq!((status, body["reason"].as_str()), (422, Some("idempotency_key_reused")), "{body}");
}

/// The webhook deliveries of one event.
fn notices(d: &Deployment, event: &str) -> Vec<Hit> {
    d.receiver.hits("/hook").into_iter().filter(|h| h.headers["x-aarm-event"] == event).collect()
}

#[tokio::test]
async fn a_granted_override_is_announced_on_the_channels_its_declaration_names() {
    let d = deployment("override-notify").await;
    let denial = d.decide(delete("orders")).await;
    let id = denial["decision_id"].as_str().unwrap().to_string();
    let (status, o) = d.post(&override_path(&id), "tok-cfo", statements()).await;
    assert_eq!(status, 200, "{o}");
    let oid = o["decision_id"].as_str().unwrap().to_string();

    // The webhook: signed, `override_granted`, naming who overrode which denial and why.
    let hits = d.receiver.wait_for("/hook", 1).await;
    let hit = &hits[0];
    assert_eq!(hit.headers["x-aarm-event"], "override_granted");
    let ts: i64 = hit.headers["x-aarm-timestamp"].to_str().unwrap().parse().unwrap();
    let sig = hit.headers["x-aarm-signature"].to_str().unwrap();
    assert!(aarm_server::notify::webhook::verify("hook-secret", ts, &hit.body, sig));
    let body = hit.json();
    assert_eq!(body["event"], "override_granted");
    let n = &body["override"];
    assert_eq!(n["override_id"], oid.as_str());
    assert_eq!(n["denied"]["decision_id"], id.as_str());
    assert_eq!(n["denied"]["tool"], "delete_database");
    assert_eq!(n["denied"]["rule"], "ops.no_delete");
    assert_eq!(n["denied"]["reason_code"], "db.delete");
    assert_eq!(n["denied"]["agent"], "finance-agent");
    assert_eq!(n["denied"]["receipt"], denial["receipt"]);
    assert_eq!(n["authority"], o["authority"], "by, role and the statements");
    assert_eq!(
        (n["granted_at"].clone(), n["expires_at"].clone()),
        (o["evaluated_at"].clone(), o["expires_at"].clone())
    );
    assert_eq!((n["receipt"].clone(), n["action_hash"].clone()), (o["receipt"].clone(), o["action_hash"].clone()));
    assert!(n["review"].is_null(), "{n}");
    // The link opens the override for a reviewer.
    let link = n["review_url"].as_str().unwrap();
    let path = link.strip_prefix(d.base.as_str()).unwrap_or_else(|| panic!("{link} is not on {}", d.base));
    let (status, shown) = d.get(path, "tok-security").await;
    assert_eq!((status, shown["id"].as_str()), (200, Some(oid.as_str())), "{shown}");
    let (status, body) = d.get(path, "agent-token").await;
    assert_eq!((status, body["reason"].as_str()), (403, Some("not_a_reviewer")), "{body}");

    // Slack and e-mail say the same for people.
    let slack = d.receiver.wait_for("/slack", 1).await[0].json();
    let title = slack["text"].as_str().unwrap();
    assert!(
        title.starts_with("[OVERRIDE] delete_database") && title.contains("cfo@corp.com (role incident-commander)"),
        "{title}"
    );
    let blocks = slack["blocks"].to_string();
    assert!(blocks.contains("INC-4711") && blocks.contains("db.delete") && blocks.contains(link), "{blocks}");
    let mail = &d.smtp.wait_for(1).await[0];
    assert!(mail.contains("Subject: [OVERRIDE] delete_database"), "{mail}");
    for part in [
        "INC-4711",
        "primary is corrupt",
        "incident-commander",
        "ops.no_delete",
        o["expires_at"].as_str().unwrap(),
        link,
    ] {
        assert!(mail.contains(part), "{part} is missing from the mail:\n{mail}");
    }
    // Once per override and channel, filed under the override.
    let deliveries = d.app().notices.outbox.list(&oid).unwrap();
    let channels: Vec<&str> = deliveries.iter().map(|x| x.channel.as_str()).collect();
    assert_eq!(channels, ["webhook:audit", "slack:#finance", "email:approvals@corp.com"], "{deliveries:?}");
}

#[tokio::test]
async fn a_flag_is_announced_where_the_override_was_and_an_accept_is_not() {
    let d = deployment("override-flag").await;
    let first = d.decide(delete("billing")).await["decision_id"].as_str().unwrap().to_string();
    let second = d.decide(delete("ledger")).await["decision_id"].as_str().unwrap().to_string();
    let (_, a) = d.post(&override_path(&first), "tok-cfo", statements()).await;
    let (_, b) = d.post(&override_path(&second), "tok-controller", statements()).await;
    d.receiver.wait_for("/hook", 2).await;

    let (status, _) = d
        .post(
            &format!("/v1/reviews/{}", a["decision_id"].as_str().unwrap()),
            "tok-security",
            json!({ "verdict": "accept" }),
        )
        .await;
    assert_eq!(status, 200);
    let bid = b["decision_id"].as_str().unwrap();
    let (status, reviewed) = d
        .post(&format!("/v1/reviews/{bid}"), "tok-security", json!({ "verdict": "flag", "note": "no change ticket" }))
        .await;
    assert_eq!(status, 200, "{reviewed}");

    d.receiver.wait_for("/hook", 3).await;
    let flagged = notices(&d, "override_flagged");
    let [hit] = flagged.as_slice() else { panic!("one flag, no accept: {flagged:?}") };
    let n = &hit.json()["override"];
    assert_eq!(n["override_id"], bid);
    assert_eq!(n["denied"]["decision_id"], second.as_str());
    assert_eq!(n["authority"]["by"], "controller@corp.com");
    assert_eq!(
        (n["review"]["reviewer"].as_str(), n["review"]["verdict"].as_str(), n["review"]["note"].as_str()),
        (Some("security@corp.com"), Some("flag"), Some("no change ticket"))
    );
    assert_eq!(n["review"]["receipt"], reviewed["verdict"]["receipt"]);
    // Channels deliver concurrently: the flag is the one message that says so.
    let titles: Vec<String> =
        d.receiver.wait_for("/slack", 3).await.iter().map(|h| h.json()["text"].as_str().unwrap().to_string()).collect();
    let flags: Vec<&String> = titles.iter().filter(|t| t.starts_with("[OVERRIDE FLAGGED] delete_database")).collect();
    assert!(flags.len() == 1 && flags[0].contains("security@corp.com"), "{titles:?}");
    let mails = d.smtp.wait_for(3).await;
    let flagged: Vec<&String> = mails.iter().filter(|m| m.contains("Subject: [OVERRIDE FLAGGED]")).collect();
    assert!(flagged.len() == 1 && flagged[0].contains("no change ticket"), "{mails:?}");
    // An accept sends nothing: after the flag's three deliveries, none follows for it.
    let accepted = d.app().notices.outbox.list(a["decision_id"].as_str().unwrap()).unwrap();
    assert!(accepted.iter().all(|x| x.trigger == "override:granted"), "{accepted:?}");
    assert_eq!(notices(&d, "override_granted").len(), 2);
}

#[tokio::test]
async fn an_override_notice_carries_no_redacted_value() {
    let d = deployment("override-redact").await;
    let request = json!({ "action": { "tool": "unseal", "params": { "vault": "payroll", "pin": "8675309" } } });
    let denial = d.decide(request).await;
    assert_eq!((denial["decision"].as_str(), &denial["redacted"]), (Some("deny"), &json!(["params.pin"])), "{denial}");
    let id = denial["decision_id"].as_str().unwrap();
    let (status, o) = d.post(&override_path(id), "tok-cfo", json!({ "reason": "payroll run" })).await;
    assert_eq!(status, 200, "{o}");
    assert_eq!(o["authority"]["role"], Value::Null, "named by the declaration");
    let hit = &d.receiver.wait_for("/hook", 1).await[0];
    let text = String::from_utf8_lossy(&hit.body).to_string();
    assert!(!text.contains("8675309"), "the pin reached a channel: {text}");
    let n = &hit.json()["override"];
    assert_eq!(n["denied"]["params"], json!(["pin", "vault"]), "names, not values");
    assert_eq!(n["denied"]["redacted"], json!(["params.pin"]), "what was left out is said");
    assert_eq!(d.receiver.hits("/slack").len(), 0, "only the channels this declaration names");
}

/// The kept denial `id`, as the store holds it (`None`: not kept).
fn kept_denial(d: &Deployment, id: &str) -> Option<Value> {
    let db = rusqlite::Connection::open(d.dir.path().join("cases.db")).unwrap();
    let json: Option<String> = rusqlite::OptionalExtension::optional(db.query_row(
        "SELECT json FROM serve_denials WHERE decision_id = ?1",
        [id],
        |r| r.get(0),
    ))
    .unwrap();
    json.map(|j| serde_json::from_str(&j).unwrap())
}

/// Runs `sql` on the deployment's store from a connection of the test's own (a trigger that
/// makes a write fail, as a full disk or a broken table would).
fn on_store(d: &Deployment, sql: &str) {
    rusqlite::Connection::open(d.dir.path().join("cases.db")).unwrap().execute_batch(sql).unwrap();
}

/// A denial is kept in the same write as its receipt, before it is answered: an override sent
/// the moment the answer arrives (no wait, no retry) always finds it, and the denial it finds
/// reads exactly as it was answered, receipt included.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_denial_can_be_overridden_the_moment_it_is_answered() {
    let d = deployment("override-at-once").await;
    for i in 0..20 {
        let denial = d.decide(delete(&format!("db-{i}"))).await;
        assert_eq!(denial["decision"], "deny", "{denial}");
        let id = denial["decision_id"].as_str().unwrap();
        let (status, o) = d.post(&override_path(id), "tok-cfo", statements()).await;
        assert_eq!(status, 200, "override {i} right after its denial: {o}");
        assert_eq!(o["overrides"], id);
        assert_eq!(kept_denial(&d, id).as_ref(), Some(&denial), "kept as answered");
    }
}

/// Many agents denied at once (their receipts share group commits, beside allows that keep no
/// denial), each denial overridden as soon as it is answered: every override finds its denial,
/// every allow stays unknown to overrides, and the chain holds every receipt once.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_denials_are_each_kept_with_their_receipt() {
    let d = std::sync::Arc::new(deployment("override-concurrent").await);
    let n = 48;
    let mut tasks = Vec::new();
    for i in 0..n {
        let d = d.clone();
        tasks.push(tokio::spawn(async move {
            if i % 2 == 0 {
                let allow = d
                    .decide(json!({ "action": { "tool": "read_file", "params": { "path": format!("/f{i}") } } }))
                    .await;
                assert_eq!(allow["decision"], "allow", "{allow}");
                let (status, body) =
                    d.post(&override_path(allow["decision_id"].as_str().unwrap()), "tok-cfo", statements()).await;
                assert_eq!((status, body["reason"].as_str()), (404, Some("unknown_denial")), "{body}");
                return None;
            }
            let denial = d.decide(delete(&format!("db-{i}"))).await;
            assert_eq!(denial["decision"], "deny", "{denial}");
            let id = denial["decision_id"].as_str().unwrap().to_string();
            let (status, o) = d.post(&override_path(&id), "tok-cfo", statements()).await;
            assert_eq!(status, 200, "{o}");
            assert_eq!(o["overrides"], id.as_str());
            Some((id, denial["receipt"].as_str().unwrap().to_string()))
        }));
    }
    let mut denied = Vec::new();
    for t in tasks {
        denied.extend(t.await.unwrap());
    }
    assert_eq!(denied.len(), n / 2);
    let chain = d.verified_chain().await;
    assert_eq!(events(&chain, "decide").len(), n, "one receipt per decision");
    assert_eq!(events(&chain, "override").len(), n / 2);
    for (id, receipt) in &denied {
        let kept = kept_denial(&d, id).unwrap();
        assert_eq!(kept["receipt"], receipt.as_str(), "{id} is kept with its own receipt");
        assert!(chain.iter().any(|r| &r.hash == receipt), "{id}'s receipt is in the chain");
    }
}

/// A store that cannot keep a denial: the decision stays a deny, answered with its receipt (it
/// only cannot be overridden); an allow in the same state is still an allow; once the store
/// keeps denials again, so does the service.
#[tokio::test]
async fn a_denial_the_store_cannot_keep_stays_a_denial_and_cannot_be_overridden() {
    let d = deployment("override-unkept").await;
    on_store(
        &d,
        "CREATE TRIGGER refuse_denials BEFORE INSERT ON serve_denials BEGIN SELECT RAISE(ABORT, 'refused'); END;",
    );
    let denial = d.decide(delete("orders")).await;
    assert_eq!(denial["decision"], "deny", "{denial}");
    assert_eq!(denial["reason"]["code"], "db.delete", "the policy's deny, not a store failure: {denial}");
    let id = denial["decision_id"].as_str().unwrap();
    assert_eq!(kept_denial(&d, id), None);
    let (status, body) = d.post(&override_path(id), "tok-cfo", statements()).await;
    assert_eq!((status, body["reason"].as_str()), (404, Some("unknown_denial")), "{body}");
    let allow = d.decide(json!({ "action": { "tool": "read_file", "params": { "path": "/etc/motd" } } })).await;
    assert_eq!(allow["decision"], "allow", "{allow}");
    let chain = d.verified_chain().await;
    assert!(chain.iter().any(|r| Some(r.hash.as_str()) == denial["receipt"].as_str()), "the denial is recorded");
    assert!(events(&chain, "override").is_empty());

    on_store(&d, "DROP TRIGGER refuse_denials;");
    let again = d.decide(delete("orders")).await;
    let (status, o) = d.post(&override_path(again["decision_id"].as_str().unwrap()), "tok-cfo", statements()).await;
    assert_eq!(status, 200, "{o}");
}

/// A denial whose receipt cannot be written is neither answered as the policy's deny nor kept:
/// the answer is a `store.unavailable` deny without a receipt, and no override can name it.
#[tokio::test]
async fn a_denial_whose_receipt_is_not_written_is_not_kept() {
    let d = deployment("override-unrecorded").await;
    on_store(
        &d,
        "CREATE TRIGGER refuse_receipts BEFORE INSERT ON receipts BEGIN SELECT RAISE(ABORT, 'disk full'); END;",
    );
    let denial = d.decide(delete("orders")).await;
    assert_eq!(denial["decision"], "deny", "{denial}");
    assert_eq!(denial["reason"]["code"], "store.unavailable", "{denial}");
    assert!(denial.get("receipt").is_none(), "{denial}");
    let id = denial["decision_id"].as_str().unwrap();
    assert_eq!(kept_denial(&d, id), None, "no receipt, no denial kept");
    on_store(&d, "DROP TRIGGER refuse_receipts;");
    let (status, body) = d.post(&override_path(id), "tok-cfo", statements()).await;
    assert_eq!((status, body["reason"].as_str()), (404, Some("unknown_denial")), "{body}");
}

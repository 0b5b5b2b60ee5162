#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]
//! What a service keeps beside the cases (session history, idempotency keys, the notification
//! outbox, the write probe), the same on SQLite and PostgreSQL: each store's handles are two
//! connections to one database, as two replicas (or a restart) would see it.

use aarm_cases::lifecycle::case::CaseState;
use aarm_cases::lifecycle::receipt::ReceiptDraft;
use aarm_cases::receipts::{verify_chain, VerifyOptions};
use aarm_cases::store::any::AnyStore;
use aarm_cases::store::service::{
    AttemptOutcome, Denial, DenialDraft, Granted, Queued, SessionAction, StoredOverride, Verdict, CLAIM_LEASE_MS,
};
use aarm_cases::store::CaseStore;
use std::path::Path;

mod common;
#[path = "common/postgres.rs"]
mod pg;

fn action(session: &str, tool: &str, at: i64) -> SessionAction {
    SessionAction { agent: "a".into(), session: session.into(), tool: tool.into(), decision: "allow".into(), at }
}

/// The service contract, on two handles of the store `store` names.
fn contract(store: &Path) {
    let (one, two) = (AnyStore::open(store, true).unwrap(), AnyStore::open(store, true).unwrap());

    // Session history: appended on one, read in order on the other, pruned.
    let (h1, h2) = (one.session_history().unwrap(), two.session_history().unwrap());
    h1.append(&[action("s1", "read", 10), action("s2", "send", 20)]).unwrap();
    h2.append(&[action("s1", "pay", 30)]).unwrap();
    let tools: Vec<String> = h1.since(0).unwrap().into_iter().map(|a| a.tool).collect();
    assert_eq!(tools, ["read", "send", "pay"]);
    assert_eq!(h2.since(25).unwrap(), vec![action("s1", "pay", 30)]);
    assert_eq!(h1.prune(20).unwrap(), 1);
    assert_eq!(h2.since(0).unwrap().len(), 2);

    // Idempotency keys: the first binder wins across handles; answers kept and forgotten.
    let (k1, k2) = (one.idempotency_keys().unwrap(), two.idempotency_keys().unwrap());
    k1.bind("case-1", "k", "sha256:a", 10).unwrap();
    k2.bind("case-1", "k", "sha256:b", 11).unwrap();
    let bound = k2.bound("case-1", "k", 0).unwrap().unwrap();
    assert_eq!((bound.fingerprint.as_str(), bound.response), ("sha256:a", None));
    assert_eq!(k1.bound("case-2", "k", 0).unwrap(), None, "keys are scoped");
    k1.keep_answer("decide", "old", "sha256:o", "{}", 5, 0).unwrap();
    k2.keep_answer("decide", "new", "sha256:n", "{\"x\":1}", 100, 50).unwrap();
    assert_eq!(k1.bound("decide", "old", 0).unwrap(), None, "forgotten");
    assert_eq!(k1.bound("decide", "new", 0).unwrap().unwrap().response.as_deref(), Some("{\"x\":1}"));
    assert_eq!(k1.bound("decide", "new", 101).unwrap(), None, "bound before `since`");

    // The outbox: queued once per occasion and channel, whichever handle queues it.
    let (o1, o2) = (one.deliveries().unwrap(), two.deliveries().unwrap());
    let hook = Queued { channel: "webhook:audit".into(), kind: "webhook".into(), refused: None };
    let unknown = Queued { channel: "pager".into(), kind: "unknown".into(), refused: Some("not mapped".into()) };
    assert_eq!(o1.queue("case-1", "approval:tier0", "{}", &[hook.clone(), unknown], 1_000, 1).unwrap(), 2);
    assert_eq!(o2.queue("case-1", "approval:tier0", "{}", &[hook], 1_000, 2).unwrap(), 0, "queued once");
    assert_eq!(o2.due(999, 10).unwrap(), vec![], "not yet due");
    assert_eq!(o2.next_due_ms().unwrap(), Some(1_000), "the refused channel is not pending");
    let due = o2.due(1_000, 10).unwrap();
    let [d] = due.as_slice() else { panic!("{due:?}") };
    o2.record(d.id, 1, AttemptOutcome::Retry { error: "503", next_at_ms: 1_500 }).unwrap();
    assert_eq!(o1.next_due_ms().unwrap(), Some(1_500));
    o1.record(d.id, 2, AttemptOutcome::Delivered { at: 3 }).unwrap();
    let states: Vec<(String, u32)> =
        o2.deliveries("case-1").unwrap().into_iter().map(|d| (d.state, d.attempts)).collect();
    assert_eq!(states, [("delivered".to_string(), 2), ("failed".to_string(), 0)]);
    assert_eq!(o1.next_due_ms().unwrap(), None);

    // Claims: two handles claiming due deliveries at once get each one once; a claim is
    // leased, so it is not due again until the lease runs out (its process died unrecorded).
    let channels: Vec<Queued> =
        (0..40).map(|i| Queued { channel: format!("webhook:{i}"), kind: "webhook".into(), refused: None }).collect();
    assert_eq!(o1.queue("case-2", "approval:tier0", "{}", &channels, 5_000, 4).unwrap(), 40);
    let claims: Vec<Vec<i64>> = std::thread::scope(|scope| {
        let claimers: Vec<_> = [&o1, &o2]
            .into_iter()
            .map(|o| {
                scope.spawn(move || {
                    let mut ids = Vec::new();
                    loop {
                        let batch = o.due(5_000, 3).unwrap();
                        if batch.is_empty() {
                            return ids;
                        }
                        ids.extend(batch.into_iter().map(|d| d.id));
                    }
                })
            })
            .collect();
        claimers.into_iter().map(|c| c.join().unwrap()).collect()
    });
    let mut all: Vec<i64> = claims.concat();
    all.sort_unstable();
    let claimed = all.len();
    all.dedup();
    assert_eq!((claimed, all.len()), (40, 40), "each delivery claimed once: {claims:?}");
    assert_eq!(o1.due(5_000 + CLAIM_LEASE_MS - 1, 100).unwrap(), vec![], "leased");
    assert_eq!(o2.due(5_000 + CLAIM_LEASE_MS, 100).unwrap().len(), 40, "due again once the lease ran out");

    // The write probe writes, again and again.
    one.write_probe().unwrap().write(7).unwrap();
    two.write_probe().unwrap().write(8).unwrap();

    overrides(&one, &two);
    denials_kept_with_their_receipts(store, &one);
}

/// Runs `sql` on the store `store` names, from a connection of the test's own.
fn on_store(store: &Path, sql: &str) {
    match store.to_str().filter(|s| s.starts_with("postgres")) {
        Some(url) => postgres::Client::connect(url, postgres::NoTls).unwrap().batch_execute(sql).unwrap(),
        None => rusqlite::Connection::open(store).unwrap().execute_batch(sql).unwrap(),
    }
}

fn decide_draft(decision: &str, i: i64) -> ReceiptDraft {
    ReceiptDraft {
        case: String::new(),
        event: "decide".into(),
        actor: Some("agent-1".into()),
        state: if decision == "deny" { CaseState::Denied } else { CaseState::Allowed },
        decision: decision.into(),
        reason: aarm_runtime::decision::Reason { code: "".into(), message: String::new() },
        policy: aarm_runtime::decision::PolicyRef::new("p", "1", ""),
        action_hash: format!("sha256:{i}"),
        identity: serde_json::json!({}),
        at: 1_000 + i,
        detail: serde_json::json!({}),
    }
}

fn denial_draft(id: &str) -> Option<DenialDraft> {
    let answer = serde_json::json!({ "decision": "deny", "decision_id": id }).to_string();
    DenialDraft::of("agent-1", Some(id), answer, 1_000)
}

/// A denial is kept in the transaction of its receipt, sealed with its hash: read back (on
/// another handle) as answered, receipt included. When the denials cannot be written, none of
/// the batch is kept, its receipts are stored all the same, and the next batch keeps its own.
fn denials_kept_with_their_receipts(store: &Path, other: &AnyStore) {
    let mut lc = AnyStore::open(store, true).unwrap();
    let kept = other.overrides().unwrap();
    let recorded = lc
        .record_keeping(vec![
            (decide_draft("allow", 1), None),
            (decide_draft("deny", 2), denial_draft("K2")),
            (decide_draft("deny", 3), denial_draft("K3")),
        ])
        .unwrap();
    recorded.denials.as_ref().unwrap();
    let [_, r2, r3] = recorded.receipts.as_slice() else { panic!("{recorded:?}") };
    for (id, receipt) in [("K2", r2), ("K3", r3)] {
        let denial = kept.denial(id).unwrap().unwrap();
        let answered: serde_json::Value = serde_json::from_str(&denial.json).unwrap();
        assert_eq!(answered, serde_json::json!({ "decision": "deny", "decision_id": id, "receipt": receipt.hash }));
        assert_eq!((denial.agent.as_str(), denial.at), ("agent-1", 1_000));
    }

    on_store(store, "ALTER TABLE serve_denials RENAME TO serve_denials_away");
    let recorded = lc
        .record_keeping(vec![(decide_draft("deny", 4), denial_draft("K4")), (decide_draft("allow", 5), None)])
        .unwrap();
    assert!(recorded.denials.is_err(), "the denial could not be written, and says so");
    assert_eq!(recorded.receipts.len(), 2, "the receipts are stored all the same");
    on_store(store, "ALTER TABLE serve_denials_away RENAME TO serve_denials");
    assert_eq!(kept.denial("K4").unwrap(), None);
    let recorded = lc.record_keeping(vec![(decide_draft("deny", 6), denial_draft("K6"))]).unwrap();
    recorded.denials.unwrap();
    assert!(kept.denial("K6").unwrap().is_some());

    // A receipt that cannot be stored (a decide receipt naming a case) keeps no denial either.
    let mut named = decide_draft("deny", 7);
    named.case = "case-000001".into();
    assert!(lc.record_keeping(vec![(decide_draft("deny", 8), denial_draft("K8")), (named, None)]).is_err());
    assert_eq!(kept.denial("K8").unwrap(), None, "no receipt, no denial");

    let chain = lc.receipts(None).unwrap();
    verify_chain(&chain, &VerifyOptions::default()).unwrap();
    assert_eq!(chain.len(), 6);
}

/// Denials and overrides: a denial kept once; one override of a denial in force at a time,
/// whichever handle grants it; another once it expired; the first verdict stands.
fn overrides(one: &AnyStore, two: &AnyStore) {
    let (v1, v2) = (one.overrides().unwrap(), two.overrides().unwrap());
    let denial = Denial { decision_id: "D1".into(), agent: "agent-1".into(), json: "{}".into(), at: 100 };
    v1.remember_denial(&denial).unwrap();
    v2.remember_denial(&Denial { json: "{\"again\":1}".into(), ..denial.clone() }).unwrap();
    assert_eq!(v2.denial("D1").unwrap(), Some(denial), "kept once, never rewritten");
    assert_eq!(v1.denial("D2").unwrap(), None);

    let o = |id: &str, created_at: i64| StoredOverride {
        id: id.into(),
        overrides: "D1".into(),
        author: "ic@corp.com".into(),
        json: "{}".into(),
        receipt: format!("sha256:{id}"),
        created_at,
        expires_at: created_at + 3600,
        verdict: None,
    };
    assert_eq!(v1.grant(&o("O1", 200), 200).unwrap(), Granted::Granted);
    assert_eq!(v2.grant(&o("O2", 300), 300).unwrap(), Granted::Active("O1".into()), "O1 is still in force");
    assert_eq!(v2.get("O2").unwrap(), None, "a refused override is not kept");
    assert_eq!(v2.active("D1", 3799).unwrap().as_deref(), Some("O1"));
    assert_eq!(v2.active("D1", 3800).unwrap(), None, "expired");
    assert_eq!(v2.grant(&o("O3", 3800), 3800).unwrap(), Granted::Granted, "O1 expired at 3800");
    let pending: Vec<String> = v1.unreviewed().unwrap().into_iter().map(|o| o.id).collect();
    assert_eq!(pending, ["O1", "O3"]);

    let verdict = |by: &str| Verdict {
        reviewer: by.into(),
        verdict: "flag".into(),
        note: Some("no ticket".into()),
        receipt: "sha256:r".into(),
        at: 4000,
    };
    assert!(v2.review("O1", &verdict("sec@corp.com")).unwrap());
    assert!(!v1.review("O1", &verdict("other@corp.com")).unwrap(), "the first verdict stands");
    assert!(!v1.review("nope", &verdict("other@corp.com")).unwrap());
    assert_eq!(v1.get("O1").unwrap().unwrap().verdict, Some(verdict("sec@corp.com")));
    let pending: Vec<String> = v2.unreviewed().unwrap().into_iter().map(|o| o.id).collect();
    assert_eq!(pending, ["O3"]);
}

#[test]
fn sqlite_service_stores() {
    let dir = common::temp_dir("service-stores");
    contract(&dir.path().join("cases.db"));
}

#[test]
fn postgres_service_stores() {
    let Some(url) = pg::database() else { return };
    contract(Path::new(&url));
}

/// A denial refused half-way through a batch (its insert aborts after the batch's first denial
/// was written) leaves none of the batch's denials kept: the savepoint is rolled back, not
/// released with the first; the receipts are stored all the same, the transaction stays usable,
/// and the next batch keeps its own denial.
#[test]
fn sqlite_a_denial_refused_half_way_keeps_none_of_its_batch() {
    let dir = common::temp_dir("service-denial-half");
    let path = dir.path().join("cases.db");
    let mut lc = AnyStore::open(&path, true).unwrap();
    let kept = lc.overrides().unwrap();
    on_store(
        &path,
        "CREATE TRIGGER refuse_k3 BEFORE INSERT ON serve_denials WHEN NEW.decision_id = 'K3' \
         BEGIN SELECT RAISE(ABORT, 'refused'); END;",
    );
    let recorded = lc
        .record_keeping_stamped(vec![
            (decide_draft("deny", 2), denial_draft("K2")),
            (decide_draft("deny", 3), denial_draft("K3")),
            (decide_draft("allow", 4), None),
        ])
        .unwrap();
    assert!(recorded.denials.unwrap_err().to_string().contains("refused"));
    assert_eq!(recorded.receipts.len(), 3, "the receipts are stored all the same");
    assert_eq!(kept.denial("K2").unwrap(), None, "the batch's first denial is rolled back with the second");
    on_store(&path, "DROP TRIGGER refuse_k3");
    let recorded = lc.record_keeping_stamped(vec![(decide_draft("deny", 5), denial_draft("K5"))]).unwrap();
    recorded.denials.unwrap();
    assert!(kept.denial("K5").unwrap().is_some());
    let chain = lc.receipts(None).unwrap();
    assert_eq!(chain.len(), 4);
    verify_chain(&chain, &VerifyOptions::default()).unwrap();
}

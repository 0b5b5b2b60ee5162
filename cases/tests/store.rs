#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]
//! The case-store conformance suite, run against every store (memory, SQLite, PostgreSQL): ids,
//! optimistic versions, idempotent events, the receipt chain, listing, the clock floor, bundles,
//! evidence refs sealed with their receipts' hashes;
//! and, for the stores several handles share (SQLite's file, PostgreSQL's database), persistence
//! across reopening, handles taking turns, and handles racing from threads: two approvals of one
//! case resolve it once, concurrent appends leave one chain that verifies.

use aarm_cases::lifecycle::case::{pending_receipt, Case, CaseState};
use aarm_cases::lifecycle::receipt::{Receipt, ReceiptDraft};
use aarm_cases::receipts::{self, VerifyOptions};
use aarm_cases::store::memory::MemoryStore;
use aarm_cases::store::sqlite::SqliteStore;
use aarm_cases::store::{CaseStore, StoreError};
use aarm_runtime::decision::EvidenceRef;
use serde_json::json;

use aarm_cases::store::postgres::PostgresStore;

use std::sync::Barrier;

mod common;
#[path = "common/postgres.rs"]
mod pg;
use common::new_case;

fn draft(case: &str, event: &str, state: CaseState, at: i64) -> ReceiptDraft {
    common::draft_with(case, event, state, at, json!({}))
}

fn open(store: &mut impl CaseStore, at: i64) -> Case {
    let (case, receipt) = store.open(new_case(at), draft("", "open", CaseState::PendingApproval, at)).unwrap();
    assert_eq!(receipt.body.case, case.id);
    assert_eq!(receipt.body.event, "open");
    case
}

/// The next version of `case`, as the lifecycle would produce it for an event at `at`.
fn next(case: &Case, state: CaseState, at: i64) -> Case {
    let mut c = case.clone();
    c.state = state;
    c.updated_at = at;
    c.version += 1;
    c
}

fn assert_chain(chain: &[Receipt]) {
    let mut prev = receipts::GENESIS.to_string();
    for (i, r) in chain.iter().enumerate() {
        assert_eq!(r.seq, i as u64 + 1, "seq contiguous from 1");
        assert_eq!(r.prev, prev, "receipt {} links to the previous hash", r.seq);
        assert!(r.hash.starts_with("sha256:") && r.hash != r.prev);
        prev = r.hash.clone();
    }
    // and the receipts module agrees: every hash recomputes, every link holds
    let report = receipts::verify_chain(chain, &VerifyOptions { from_genesis: true, ..Default::default() }).unwrap();
    assert_eq!(report.count, chain.len());
}

/// The behavioural contract every store must meet.
fn contract(store: &mut impl CaseStore) {
    assert!(store.list(false).unwrap().is_empty());
    assert!(store.receipts(None).unwrap().is_empty());
    assert_eq!(store.last_event_at().unwrap(), None);
    assert_eq!(store.get("case-000001").unwrap(), None);

    // open assigns ids in order
    let a = open(store, 100);
    let b = open(store, 110);
    let c = open(store, 105);
    assert_eq!((a.id.as_str(), b.id.as_str(), c.id.as_str()), ("case-000001", "case-000002", "case-000003"));
    assert_eq!(store.get("case-000002").unwrap().unwrap(), b);
    assert_eq!(store.get("case-000009").unwrap(), None);
    assert_eq!(store.get("nonsense").unwrap(), None);

    // a commit with the next version is stored, with its receipts
    let a2 = next(&a, CaseState::PendingApproval, 120);
    let sealed = store
        .commit(&a2, vec![draft(&a.id, "approve", CaseState::PendingApproval, 120)], Some("ev-1"))
        .unwrap()
        .expect("first application");
    assert_eq!(sealed.len(), 1);
    assert_eq!(sealed[0].seq, 4);
    assert_eq!(store.get(&a.id).unwrap().unwrap(), a2);
    // the applied id is known for that case only
    assert!(store.applied(&a.id, "ev-1").unwrap());
    assert!(!store.applied(&a.id, "ev-9").unwrap());
    assert!(!store.applied(&b.id, "ev-1").unwrap());

    // stale version: Conflict, nothing changes (case, chain, and the event id stays unapplied)
    let before = store.receipts(None).unwrap();
    let stale = next(&a, CaseState::Denied, 130); // built from version 1, stored is 2
    match store.commit(&stale, vec![draft(&a.id, "deny", CaseState::Denied, 130)], Some("ev-2")) {
        Err(StoreError::Conflict(id)) => assert_eq!(id, a.id),
        other => panic!("expected Conflict, got {other:?}"),
    }
    let skipped = next(&a2, CaseState::Denied, 130);
    let mut skipped = skipped;
    skipped.version += 1; // two ahead
    assert!(matches!(store.commit(&skipped, vec![], None), Err(StoreError::Conflict(_))));
    assert_eq!(store.get(&a.id).unwrap().unwrap(), a2);
    assert_eq!(store.receipts(None).unwrap(), before);
    assert_eq!(store.last_event_at().unwrap(), Some(120));

    // unknown case
    let mut ghost = next(&a2, CaseState::Denied, 130);
    ghost.id = "case-000042".into();
    assert!(matches!(store.commit(&ghost, vec![], None), Err(StoreError::NotFound(id)) if id == "case-000042"));

    // repeated event id: Ok(None), no new receipt, case unchanged, even with a fresh version
    let a3 = next(&a2, CaseState::Allowed, 140);
    assert_eq!(store.commit(&a3, vec![draft(&a.id, "approve", CaseState::Allowed, 140)], Some("ev-1")).unwrap(), None);
    assert_eq!(store.receipts(None).unwrap(), before);
    assert_eq!(store.get(&a.id).unwrap().unwrap(), a2);
    // ... while the same id on another case is a different event
    let b2 = next(&b, CaseState::PendingApproval, 140);
    assert!(store
        .commit(&b2, vec![draft(&b.id, "approve", CaseState::PendingApproval, 140)], Some("ev-1"))
        .unwrap()
        .is_some());
    // ... and the conflicting ev-2 above was not recorded: it still applies
    let a3 = next(&a2, CaseState::Denied, 150);
    let sealed = store
        .commit(
            &a3,
            vec![draft(&a.id, "deny", CaseState::Denied, 150), draft(&a.id, "resolve", CaseState::Denied, 150)],
            Some("ev-2"),
        )
        .unwrap()
        .unwrap();
    assert_eq!(sealed.iter().map(|r| r.seq).collect::<Vec<_>>(), vec![6, 7]);
    assert_eq!(sealed[1].prev, sealed[0].hash);
    // events without an id are never deduplicated
    let c2 = next(&c, CaseState::PendingApproval, 145);
    assert!(store
        .commit(&c2, vec![draft(&c.id, "escalate", CaseState::PendingApproval, 145)], None)
        .unwrap()
        .is_some());
    let c3 = next(&c2, CaseState::PendingEvidence, 146);
    assert!(store.commit(&c3, vec![draft(&c.id, "tick", CaseState::PendingEvidence, 146)], None).unwrap().is_some());

    // the chain: one sequence across cases, each receipt linked to the previous one
    let chain = store.receipts(None).unwrap();
    assert_eq!(chain.len(), 9);
    assert_chain(&chain);
    let cases: Vec<&str> = chain.iter().map(|r| r.body.case.as_str()).collect();
    assert_eq!(
        cases,
        [
            "case-000001",
            "case-000002",
            "case-000003",
            "case-000001",
            "case-000002",
            "case-000001",
            "case-000001",
            "case-000003",
            "case-000003"
        ]
    );

    // receipts(Some(case)) filters, keeping chain order
    let of_a = store.receipts(Some(&a.id)).unwrap();
    assert_eq!(of_a.iter().map(|r| r.seq).collect::<Vec<_>>(), vec![1, 4, 6, 7]);
    assert_eq!(of_a.iter().map(|r| r.body.event.as_str()).collect::<Vec<_>>(), ["open", "approve", "deny", "resolve"]);
    assert!(store.receipts(Some("case-000099")).unwrap().is_empty());

    // list: all in id order, or only the pending ones
    let all = store.list(false).unwrap();
    assert_eq!(all.iter().map(|c| c.id.as_str()).collect::<Vec<_>>(), ["case-000001", "case-000002", "case-000003"]);
    assert_eq!(all[0], a3);
    let pending = store.list(true).unwrap();
    assert_eq!(pending.iter().map(|c| c.id.as_str()).collect::<Vec<_>>(), ["case-000002", "case-000003"]);
    assert_eq!(pending[1].state, CaseState::PendingEvidence);

    // last_event_at is the latest `at`, not the last receipt's
    assert_eq!(store.last_event_at().unwrap(), Some(150));

    // bundles
    assert_eq!(store.get_bundle("sha256:abc").unwrap(), None);
    store.put_bundle("sha256:abc", b"AARMB\x00\x01bytes").unwrap();
    store.put_bundle("sha256:def", &[]).unwrap();
    store.put_bundle("sha256:abc", b"AARMB\x00\x01bytes").unwrap(); // again: fine
    assert_eq!(store.get_bundle("sha256:abc").unwrap().unwrap(), b"AARMB\x00\x01bytes");
    assert_eq!(store.get_bundle("sha256:def").unwrap().unwrap(), Vec::<u8>::new());
    assert_eq!(store.get_bundle("sha256:nope").unwrap(), None);

    // Evidence refs leave the lifecycle as `#N`, the write's N-th receipt, and are stored (and
    // returned) with that receipt's hash: in the case, its decision and its outcome.
    let refer =
        |fact: &str, source: &str, receipt: String| EvidenceRef { fact: fact.into(), source: source.into(), receipt };
    let mut d = new_case(200);
    d.evidence_refs = vec![refer("window_ok", "request", pending_receipt(0))];
    let (d, opened) = store.open(d, draft("", "open", CaseState::PendingEvidence, 200)).unwrap();
    assert_eq!(d.evidence_refs, [refer("window_ok", "request", opened.hash.clone())]);
    assert_eq!(store.get(&d.id).unwrap().unwrap(), d, "stored as returned");
    let mut d2 = next(&d, CaseState::Allowed, 210);
    d2.evidence_refs.push(refer("ticket", "provided_by:ops", pending_receipt(1)));
    d2.decision.evidence_refs = d2.evidence_refs.clone();
    d2.outcome = Some(d2.decision.clone());
    let receipts =
        vec![draft(&d.id, "timeout", CaseState::Allowed, 210), draft(&d.id, "provide", CaseState::Allowed, 210)];
    let sealed = store.commit(&d2, receipts, None).unwrap().unwrap();
    let want = vec![
        refer("window_ok", "request", opened.hash.clone()),
        refer("ticket", "provided_by:ops", sealed[1].hash.clone()),
    ];
    let stored = store.get(&d.id).unwrap().unwrap();
    assert_eq!((&stored.evidence_refs, &stored.decision.evidence_refs), (&want, &want));
    assert_eq!(stored.outcome.unwrap().evidence_refs, want);
}

#[test]
fn memory_store_contract() {
    contract(&mut MemoryStore::new());
}

#[test]
fn sqlite_in_memory_contract() {
    contract(&mut SqliteStore::open_in_memory().unwrap());
}

#[test]
fn sqlite_file_contract() {
    let dir = common::temp_dir("store-contract");
    contract(&mut SqliteStore::open(&dir.path().join("cases.db")).unwrap());
}

#[test]
fn signed_stores_contract() {
    let key = ed25519_dalek::SigningKey::from_bytes(&[7; 32]);
    let keys = [key.verifying_key()];
    let opts = VerifyOptions { keys: &keys, require_signatures: true, expected_head: None, from_genesis: true };
    let check = |store: &dyn CaseStore| {
        let chain = store.receipts(None).unwrap();
        assert!(chain.iter().all(|r| r.signature.is_some()));
        let report = receipts::verify_chain(&chain, &opts).unwrap();
        assert_eq!(report.signed, chain.len());
        let of_a = store.receipts(Some("case-000001")).unwrap();
        assert_eq!(receipts::verify_subsequence(&of_a, &opts).unwrap().signed, of_a.len());
    };
    let mut memory = MemoryStore::new().with_signer(key.clone());
    contract(&mut memory);
    check(&memory);
    let mut sqlite = SqliteStore::open_in_memory().unwrap().with_signer(key);
    contract(&mut sqlite);
    check(&sqlite);
}

#[test]
fn unsigned_stores_do_not_sign() {
    let mut store = MemoryStore::new();
    open(&mut store, 1);
    assert!(store.receipts(None).unwrap().iter().all(|r| r.signature.is_none()));
}

#[test]
fn sqlite_persists_across_reopen() {
    let dir = common::temp_dir("store-reopen");
    let path = dir.path().join("cases.db");
    let (cases, chain, last) = {
        let mut store = SqliteStore::open(&path).unwrap();
        contract(&mut store);
        (store.list(false).unwrap(), store.receipts(None).unwrap(), store.last_event_at().unwrap())
    }; // dropped: the file is all that is left

    let mut store = SqliteStore::open(&path).unwrap();
    assert_eq!(store.list(false).unwrap(), cases);
    assert_eq!(store.receipts(None).unwrap(), chain);
    assert_eq!(store.last_event_at().unwrap(), last);
    assert_eq!(store.get_bundle("sha256:abc").unwrap().unwrap(), b"AARMB\x00\x01bytes");

    // applied event ids survived: re-applying ev-1 on case-000001 changes nothing
    let b = store.get("case-000002").unwrap().unwrap();
    assert_eq!(store.commit(&next(&b, CaseState::Allowed, 200), vec![], Some("ev-1")).unwrap(), None);
    // versions survived: a stale write still conflicts
    let mut stale = b.clone();
    stale.state = CaseState::Denied;
    assert!(matches!(store.commit(&stale, vec![], None), Err(StoreError::Conflict(_))));

    // the chain and the id counter continue (the contract opened four cases)
    let d = open(&mut store, 210);
    assert_eq!(d.id, "case-000005");
    let b2 = next(&b, CaseState::Allowed, 220);
    store.commit(&b2, vec![draft(&b.id, "approve", CaseState::Allowed, 220)], Some("ev-9")).unwrap().unwrap();
    let chain2 = store.receipts(None).unwrap();
    assert_eq!(chain2.len(), chain.len() + 2);
    assert_eq!(chain2[..chain.len()], chain[..]);
    assert_chain(&chain2);
    assert_eq!(store.last_event_at().unwrap(), Some(220));
}

/// Two handles on one store taking turns: one id counter, one chain, each seeing the other's
/// writes, a stale copy conflicting, an applied event id known to both.
fn two_handles_keep_one_chain<S: CaseStore>(open_handle: impl Fn() -> S) {
    let mut s1 = open_handle();
    let mut s2 = open_handle();

    let mut ids = Vec::new();
    for i in 0..10i64 {
        let store: &mut S = if i % 2 == 0 { &mut s1 } else { &mut s2 };
        ids.push(open(store, 1000 + i).id);
    }
    assert_eq!(ids, (1..=10).map(|n| format!("case-{n:06}")).collect::<Vec<_>>(), "one id counter");

    // alternate commits on the same cases through both handles
    for round in 0..6i64 {
        for (k, id) in ids.iter().enumerate() {
            let store: &mut S = if (k as i64 + round) % 2 == 0 { &mut s1 } else { &mut s2 };
            let current = store.get(id).unwrap().unwrap();
            let at = 2000 + round * 100 + k as i64;
            let updated = next(&current, CaseState::PendingApproval, at);
            let ev = format!("r{round}-{k}");
            assert!(store
                .commit(&updated, vec![draft(id, "approve", CaseState::PendingApproval, at)], Some(&ev))
                .unwrap()
                .is_some());
            // the other handle sees it, and its stale copy conflicts
            let other: &mut S = if (k as i64 + round) % 2 == 0 { &mut s2 } else { &mut s1 };
            assert_eq!(other.get(id).unwrap().unwrap(), updated);
            assert!(matches!(other.commit(&updated, vec![], None), Err(StoreError::Conflict(_))));
            assert_eq!(other.commit(&next(&updated, CaseState::Denied, at), vec![], Some(&ev)).unwrap(), None);
        }
    }
    let c1 = s1.receipts(None).unwrap();
    let c2 = s2.receipts(None).unwrap();
    assert_eq!(c1, c2);
    assert_eq!(c1.len(), 10 + 60);
    assert_chain(&c1);
    assert_eq!(s2.last_event_at().unwrap(), Some(2000 + 500 + 9));
}

#[test]
fn sqlite_two_handles_keep_one_chain() {
    let dir = common::temp_dir("store-two-handles");
    let path = dir.path().join("cases.db");
    two_handles_keep_one_chain(|| SqliteStore::open(&path).unwrap());
}

/// Two handles, on two threads, commit the next version of one case at once (two approvers
/// resolving it): exactly one wins, the other gets `Conflict`, and the case has one resolution
/// receipt. Repeated over many cases so that the writes really overlap.
fn racing_commits_resolve_once<S: CaseStore + Send>(open_handle: impl Fn() -> S + Sync) {
    let mut store = open_handle();
    let ids: Vec<String> = (0..20).map(|i| open(&mut store, 100 + i).id).collect();
    let barrier = Barrier::new(2);
    for id in &ids {
        let outcomes: Vec<Result<Option<Vec<Receipt>>, StoreError>> = std::thread::scope(|scope| {
            let racers: Vec<_> = (0..2i64)
                .map(|i| {
                    let (barrier, open_handle) = (&barrier, &open_handle);
                    scope.spawn(move || {
                        let mut handle = open_handle();
                        let current = handle.get(id).unwrap().unwrap();
                        let resolved = next(&current, CaseState::Allowed, 500 + i);
                        barrier.wait();
                        let ev = format!("approve-{i}");
                        handle.commit(&resolved, vec![draft(id, "approve", CaseState::Allowed, 500 + i)], Some(&ev))
                    })
                })
                .collect();
            racers.into_iter().map(|r| r.join().unwrap()).collect()
        });
        let won = outcomes.iter().filter(|o| matches!(o, Ok(Some(_)))).count();
        let lost = outcomes.iter().filter(|o| matches!(o, Err(StoreError::Conflict(c)) if c == id)).count();
        assert_eq!((won, lost), (1, 1), "{id}: {outcomes:?}");
        let of_case = store.receipts(Some(id)).unwrap();
        assert_eq!(of_case.iter().filter(|r| r.body.event == "approve").count(), 1, "{id} resolved once");
    }
    assert_chain(&store.receipts(None).unwrap());
}

/// Four handles on four threads append decision receipts at once: every receipt is stored
/// once, in one chain that verifies (no two with one `seq`, no fork).
fn concurrent_records_keep_one_chain<S: CaseStore + Send>(open_handle: impl Fn() -> S + Sync) {
    let barrier = Barrier::new(4);
    std::thread::scope(|scope| {
        for t in 0..4i64 {
            let (barrier, open_handle) = (&barrier, &open_handle);
            scope.spawn(move || {
                let mut handle = open_handle();
                barrier.wait();
                for i in 0..25 {
                    let at = 1000 + t * 100 + i;
                    let drafts =
                        vec![draft("", "decide", CaseState::Allowed, at), draft("", "decide", CaseState::Denied, at)];
                    assert_eq!(handle.record(drafts).unwrap().len(), 2);
                }
            });
        }
    });
    let chain = open_handle().receipts(None).unwrap();
    assert_eq!(chain.len(), 4 * 25 * 2);
    assert_chain(&chain);
}

#[test]
fn sqlite_racing_commits_resolve_once() {
    let dir = common::temp_dir("store-race");
    let path = dir.path().join("cases.db");
    racing_commits_resolve_once(|| SqliteStore::open(&path).unwrap());
}

#[test]
fn sqlite_concurrent_records_keep_one_chain() {
    let dir = common::temp_dir("store-records");
    let path = dir.path().join("cases.db");
    concurrent_records_keep_one_chain(|| SqliteStore::open(&path).unwrap());
}

#[test]
fn postgres_store_contract() {
    let Some(url) = pg::database() else { return };
    contract(&mut PostgresStore::open(&url).unwrap());
}

#[test]
fn postgres_signed_store_contract() {
    let Some(url) = pg::database() else { return };
    let key = ed25519_dalek::SigningKey::from_bytes(&[7; 32]);
    let keys = [key.verifying_key()];
    let opts = VerifyOptions { keys: &keys, require_signatures: true, expected_head: None, from_genesis: true };
    let mut store = PostgresStore::open(&url).unwrap().with_signer(key);
    contract(&mut store);
    let report = receipts::verify_chain(&store.receipts(None).unwrap(), &opts).unwrap();
    assert_eq!(report.signed, report.count);
}

#[test]
fn postgres_persists_across_reopen() {
    let Some(url) = pg::database() else { return };
    let (cases, chain, head) = {
        let mut store = PostgresStore::open(&url).unwrap();
        contract(&mut store);
        (store.list(false).unwrap(), store.receipts(None).unwrap(), store.chain_head().unwrap())
    };
    let store = PostgresStore::open(&url).unwrap();
    assert_eq!(store.list(false).unwrap(), cases);
    assert_eq!(store.receipts(None).unwrap(), chain);
    assert_eq!(store.chain_head().unwrap(), head);
    assert_eq!(head.map(|(seq, _)| seq), chain.last().map(|r| r.seq));
}

#[test]
fn postgres_two_handles_keep_one_chain() {
    let Some(url) = pg::database() else { return };
    two_handles_keep_one_chain(|| PostgresStore::open(&url).unwrap());
}

#[test]
fn postgres_racing_commits_resolve_once() {
    let Some(url) = pg::database() else { return };
    racing_commits_resolve_once(|| PostgresStore::open(&url).unwrap());
}

#[test]
fn postgres_concurrent_records_keep_one_chain() {
    let Some(url) = pg::database() else { return };
    concurrent_records_keep_one_chain(|| PostgresStore::open(&url).unwrap());
}

#[test]
fn postgres_replicas_starting_at_once_migrate_once() {
    let Some(url) = pg::database() else { return };
    let barrier = Barrier::new(4);
    std::thread::scope(|scope| {
        for _ in 0..4 {
            let (barrier, url) = (&barrier, &url);
            scope.spawn(move || {
                barrier.wait();
                PostgresStore::open(url).unwrap();
            });
        }
    });
    let mut raw = postgres::Client::connect(&url, postgres::NoTls).unwrap();
    let versions: Vec<i64> =
        raw.query("SELECT version FROM aarm_schema ORDER BY version", &[]).unwrap().iter().map(|r| r.get(0)).collect();
    assert_eq!(versions, (1..=aarm_cases::store::postgres::SCHEMA_VERSION).collect::<Vec<_>>());

    // A database a newer aarm migrated is refused, not written to.
    raw.execute("INSERT INTO aarm_schema (version) VALUES (99)", &[]).unwrap();
    let err = PostgresStore::open(&url).unwrap_err();
    assert!(matches!(&err, StoreError::Backend(m) if m.contains("schema version 99") && m.contains("newer")), "{err}");
}

#[test]
fn postgres_failures_are_backend_errors_never_panics() {
    // Nothing listens on port 1: the store fails closed at open, naming the database.
    let err = PostgresStore::open("postgres://aarm@127.0.0.1:1/cases?connect_timeout=5").unwrap_err();
    assert!(
        matches!(&err, StoreError::Backend(m) if m.contains("cannot connect") && m.contains("127.0.0.1:1/cases")),
        "{err}"
    );
    let err = PostgresStore::open("postgres://aarm:secret@127.0.0.1:1/cases").unwrap_err();
    assert!(!err.to_string().contains("secret"), "the password is never shown: {err}");
    let err = PostgresStore::open("postgres://[::1/cases").unwrap_err();
    assert!(matches!(&err, StoreError::Backend(m) if m.contains("not a PostgreSQL URL")), "{err}");
}

#[test]
fn postgres_quarantines_an_unreadable_case_and_lists_the_others() {
    let Some(url) = pg::database() else { return };
    let mut store = PostgresStore::open(&url).unwrap();
    let a = open(&mut store, 10);
    let b = open(&mut store, 20);
    let c = open(&mut store, 30);
    let mut raw = postgres::Client::connect(&url, postgres::NoTls).unwrap();
    raw.execute("UPDATE cases SET json = '{\"id\": ' WHERE id = $1", &[&b.id]).unwrap();

    let ids = |cases: Vec<Case>| cases.into_iter().map(|c| c.id).collect::<Vec<_>>();
    assert_eq!(ids(store.list(true).unwrap()), [a.id.clone(), c.id.clone()]);
    assert_eq!(ids(store.list(false).unwrap()), [a.id.clone(), c.id.clone()]);
    assert!(matches!(store.get(&b.id), Err(StoreError::Unreadable { id, .. }) if id == b.id));
    assert_eq!(store.unreadable().len(), 1);
    assert_eq!(store.newly_unreadable().len(), 1);
    assert!(store.newly_unreadable().is_empty());
    raw.execute("UPDATE cases SET json = $2 WHERE id = $1", &[&b.id, &serde_json::to_string(&b).unwrap()]).unwrap();
    assert_eq!(store.list(true).unwrap().len(), 3);
    assert!(store.unreadable().is_empty());
}

#[test]
fn postgres_reconnects_after_its_connection_is_killed() {
    let Some(url) = pg::database() else { return };
    let mut store = PostgresStore::open(&url).unwrap();
    let a = open(&mut store, 10);
    // An operator (or a failover) ends every other session on the database.
    let mut raw = postgres::Client::connect(&url, postgres::NoTls).unwrap();
    raw.execute(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()",
        &[],
    )
    .unwrap();
    // The call that meets the dead connection fails (closed), the next one reconnects.
    let first = store.get(&a.id);
    assert!(matches!(&first, Ok(Some(_)) | Err(StoreError::Backend(_))), "{first:?}");
    assert_eq!(store.get(&a.id).unwrap().unwrap(), a);
}

#[test]
fn sqlite_refuses_a_newer_schema_and_foreign_databases() {
    let dir = common::temp_dir("store-schema");
    let path = dir.path().join("cases.db");
    drop(SqliteStore::open(&path).unwrap());
    {
        let conn = rusqlite::Connection::open(&path).unwrap();
        conn.execute("UPDATE meta SET value = 99 WHERE key = 'schema_version'", []).unwrap();
    }
    let err = SqliteStore::open(&path).unwrap_err();
    assert!(matches!(&err, StoreError::Backend(m) if m.contains("schema version 99") && m.contains("newer")), "{err}");

    let other = dir.path().join("other.db");
    {
        let conn = rusqlite::Connection::open(&other).unwrap();
        conn.execute("CREATE TABLE stuff (x)", []).unwrap();
    }
    let err = SqliteStore::open(&other).unwrap_err();
    assert!(matches!(&err, StoreError::Backend(m) if m.contains("not an aarm case store")), "{err}");

    let err = SqliteStore::open(&dir.path().join("missing-dir").join("cases.db")).unwrap_err();
    assert!(matches!(err, StoreError::Backend(_)));
}

#[test]
fn sqlite_file_is_in_wal_mode() {
    let dir = common::temp_dir("store-wal");
    let path = dir.path().join("cases.db");
    let _store = SqliteStore::open(&path).unwrap();
    let conn = rusqlite::Connection::open(&path).unwrap();
    let mode: String = conn.query_row("PRAGMA journal_mode", [], |r| r.get(0)).unwrap();
    assert_eq!(mode, "wal");
    let version: i64 = conn.query_row("SELECT value FROM meta WHERE key = 'schema_version'", [], |r| r.get(0)).unwrap();
    assert_eq!(version, aarm_cases::store::sqlite::SCHEMA_VERSION);
}

#[test]
fn sqlite_quarantines_an_unreadable_case_and_lists_the_others() {
    let dir = common::temp_dir("store-quarantine");
    let path = dir.path().join("cases.db");
    let mut store = SqliteStore::open(&path).unwrap();
    let a = open(&mut store, 10);
    let b = open(&mut store, 20);
    let c = open(&mut store, 30);
    // Another writer (a disk fault, a bad restore) leaves b's row unreadable.
    let raw = rusqlite::Connection::open(&path).unwrap();
    raw.execute("UPDATE cases SET json = '{\"id\": ' WHERE id = ?1", [&b.id]).unwrap();

    // Listings skip it (pending or not), and keep every other case.
    let ids = |cases: Vec<Case>| cases.into_iter().map(|c| c.id).collect::<Vec<_>>();
    assert_eq!(ids(store.list(true).unwrap()), [a.id.clone(), c.id.clone()]);
    assert_eq!(ids(store.list(false).unwrap()), [a.id.clone(), c.id.clone()]);
    // Reading it by id says what is wrong with it; the others read as before.
    assert!(matches!(store.get(&b.id), Err(StoreError::Unreadable { id, .. }) if id == b.id));
    assert_eq!(store.get(&a.id).unwrap().unwrap(), a);
    // It is reported (once as new), until it is repaired.
    let quarantined = store.unreadable();
    assert_eq!(quarantined.len(), 1);
    assert_eq!(quarantined[0].id, b.id);
    assert_eq!(store.newly_unreadable().len(), 1);
    assert!(store.newly_unreadable().is_empty());
    raw.execute("UPDATE cases SET json = ?2 WHERE id = ?1", [&b.id, &serde_json::to_string(&b).unwrap()]).unwrap();
    assert_eq!(store.list(true).unwrap().len(), 3);
    assert!(store.unreadable().is_empty());
}

/// A listener on one handle hears every case another handle changes, once the change commits:
/// a commit the store refuses (a stale version) sends nothing, so the next change heard is the
/// next one committed. Dropping the listener stops it.
#[test]
fn postgres_listeners_hear_committed_case_changes_only() {
    use aarm_cases::store::postgres_listen::Changed;
    use std::time::Duration;
    let Some(url) = pg::database() else { return };
    let bound = Duration::from_secs(120);
    let (watcher, mut writer) = (PostgresStore::open(&url).unwrap(), PostgresStore::open(&url).unwrap());
    let (tx, rx) = std::sync::mpsc::channel();
    let listener = watcher.listen(move |change| drop(tx.send(change))).unwrap();

    let c = open(&mut writer, 100);
    assert_eq!(rx.recv_timeout(bound).unwrap(), Changed::Case(c.id.clone()), "opening is a change");
    let approved = next(&c, CaseState::Allowed, 110);
    writer.commit(&approved, vec![draft(&c.id, "approve", CaseState::Allowed, 110)], None).unwrap();
    assert_eq!(rx.recv_timeout(bound).unwrap(), Changed::Case(c.id.clone()));

    // Refused (the version is stale): rolled back, so not announced.
    let stale = next(&c, CaseState::Denied, 120);
    assert!(matches!(
        writer.commit(&stale, vec![draft(&c.id, "deny", CaseState::Denied, 120)], None),
        Err(StoreError::Conflict(_))
    ));
    let other = open(&mut writer, 130);
    assert_eq!(rx.recv_timeout(bound).unwrap(), Changed::Case(other.id.clone()), "the refused commit sent nothing");

    drop(listener);
    // The listener's thread ends (within its stop check) and drops the channel's sender.
    while rx.recv_timeout(bound).is_ok() {}
    assert!(matches!(rx.try_recv(), Err(std::sync::mpsc::TryRecvError::Disconnected)));
}

/// What a stamped write of decision receipts must give each receipt (`seq`, the draft's `at`,
/// the `seq` of its write's first receipt): its own `at`, raised to the latest `at` stored before
/// its write (by any handle, any kind of write).
fn assert_stamped_as_by_the_latest_at(chain: &[Receipt], stamped: &[(u64, i64, u64)]) {
    for &(seq, draft_at, first) in stamped {
        let before = chain.iter().filter(|r| r.seq < first).map(|r| r.body.at).max();
        let r = chain.iter().find(|r| r.seq == seq).unwrap();
        assert_eq!(r.body.at, before.map_or(draft_at, |b| b.max(draft_at)), "receipt {seq} stamped");
    }
}

/// One step of two handles sharing a store: handle `.0` (0 or 1) writes `.1` at `.2`.
#[derive(Debug, Clone, Copy)]
enum Step {
    /// Decision receipts, stamped (the group commit's write); how many.
    Stamped(usize),
    /// Decision receipts, not stamped.
    Record,
    /// A new case, with its `open` receipt.
    Open,
}

/// Runs `steps` on two handles of one store and checks every stamped receipt against the
/// receipts stored before it: a handle that remembers the latest `at` of its own last write must
/// notice every receipt another handle (or another kind of write) stored since.
fn stamped_writes_see_every_other_write<S: CaseStore>(mut handles: [S; 2], steps: &[(usize, Step, i64)]) {
    let mut stamped = Vec::new();
    for &(h, step, at) in steps {
        let store = &mut handles[h % 2];
        match step {
            Step::Stamped(n) => {
                let drafts = (0..n.max(1) as i64)
                    .map(|k| (draft("", "decide", CaseState::Allowed, at - k), None))
                    .collect::<Vec<_>>();
                let ats: Vec<i64> = drafts.iter().map(|(d, _)| d.at).collect();
                let recorded = store.record_keeping_stamped(drafts).unwrap();
                assert!(recorded.denials.is_ok());
                let first = recorded.receipts[0].seq;
                stamped.extend(recorded.receipts.iter().zip(ats).map(|(r, at)| (r.seq, at, first)));
            }
            Step::Record => {
                store.record(vec![draft("", "decide", CaseState::Denied, at)]).unwrap();
            }
            Step::Open => {
                open(store, at);
            }
        }
    }
    let chain = handles[0].receipts(None).unwrap();
    assert_chain(&chain);
    assert_stamped_as_by_the_latest_at(&chain, &stamped);
    assert_eq!(handles[1].last_event_at().unwrap(), chain.iter().map(|r| r.body.at).max());
}

/// The interleavings that matter, written out: a handle's second stamped write after another
/// handle stored a later `at` (by a case, by an unstamped record, by its own stamped write).
const INTERLEAVED: &[(usize, Step, i64)] = &[
    (0, Step::Stamped(1), 100),
    (0, Step::Stamped(2), 50),
    (1, Step::Open, 300),
    (0, Step::Stamped(1), 200),
    (1, Step::Record, 400),
    (0, Step::Stamped(1), 10),
    (1, Step::Stamped(1), 500),
    (0, Step::Stamped(3), 20),
    (0, Step::Stamped(1), 30),
];

#[test]
fn sqlite_stamped_writes_see_every_other_handles_writes() {
    let dir = common::temp_dir("store-stamped");
    let path = dir.path().join("cases.db");
    stamped_writes_see_every_other_write(
        [SqliteStore::open(&path).unwrap(), SqliteStore::open(&path).unwrap()],
        INTERLEAVED,
    );
}

#[test]
fn postgres_stamped_writes_see_every_other_handles_writes() {
    let Some(url) = pg::database() else { return };
    stamped_writes_see_every_other_write(
        [PostgresStore::open(&url).unwrap(), PostgresStore::open(&url).unwrap()],
        INTERLEAVED,
    );
}

fn step() -> impl proptest::strategy::Strategy<Value = (usize, Step, i64)> {
    use proptest::prelude::*;
    let kind = prop_oneof![3 => (1usize..4).prop_map(Step::Stamped), 1 => Just(Step::Record), 1 => Just(Step::Open)];
    (0usize..2, kind, 0i64..100)
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig::with_cases(24))]
    /// Any interleaving of the two handles' writes, at any times.
    #[test]
    fn sqlite_stamped_writes_see_every_other_write_in_any_order(steps in proptest::collection::vec(step(), 1..14)) {
        let dir = common::temp_dir("store-stamped-any");
        let path = dir.path().join("cases.db");
        stamped_writes_see_every_other_write([SqliteStore::open(&path).unwrap(), SqliteStore::open(&path).unwrap()], &steps);
    }
}

/// A group commit that fails half-way (its second receipt refused) stores nothing, and leaves
/// the handle able to write: its transaction was rolled back, not left open. The rows it writes
/// are the receipts it returns, as serde_json writes them, byte for byte.
#[test]
fn sqlite_a_failed_group_commit_is_rolled_back_and_rows_are_the_receipts() {
    let dir = common::temp_dir("store-rollback");
    let path = dir.path().join("cases.db");
    let mut store = SqliteStore::open(&path).unwrap();
    let first = store.record_keeping_stamped(vec![(draft("", "decide", CaseState::Allowed, 10), None)]).unwrap();
    let side = rusqlite::Connection::open(&path).unwrap();
    side.execute_batch(
        "CREATE TRIGGER refuse_third BEFORE INSERT ON receipts WHEN NEW.seq = 3 \
         BEGIN SELECT RAISE(ABORT, 'refused'); END;",
    )
    .unwrap();
    let two = || {
        vec![(draft("", "decide", CaseState::Allowed, 20), None), (draft("", "decide", CaseState::Denied, 30), None)]
    };
    let err = store.record_keeping_stamped(two()).unwrap_err();
    assert!(err.to_string().contains("refused"), "{err}");
    assert_eq!(store.receipts(None).unwrap(), first.receipts, "the half-written batch is rolled back");
    // The handle writes again at once (a transaction left open would refuse the next BEGIN).
    let one = store.record(vec![draft("", "decide", CaseState::Allowed, 15)]).unwrap();
    assert_eq!(one[0].seq, 2);
    side.execute_batch("DROP TRIGGER refuse_third").unwrap();
    let recorded = store.record_keeping_stamped(two()).unwrap().receipts;
    assert_eq!(recorded.iter().map(|r| (r.seq, r.body.at)).collect::<Vec<_>>(), [(3, 20), (4, 30)]);
    let chain = store.receipts(None).unwrap();
    assert_chain(&chain);
    let rows: Vec<String> = side
        .prepare("SELECT json FROM receipts ORDER BY seq")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    let want: Vec<String> = chain.iter().map(|r| serde_json::to_string(r).unwrap()).collect();
    assert_eq!(rows, want);
    assert_eq!(chain[2..], recorded[..]);
}

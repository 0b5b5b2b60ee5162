//! Receipt exports on the real SQLite store: `decide` receipts share the chain, every case
//! receipt is linked among its case's receipts, and an export's head makes any missing receipt
//! — the last ones included — a verification failure.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]

mod common;

use aarm_cases::export::{self, ExportError};
use aarm_cases::lifecycle::case::CaseState;
use aarm_cases::lifecycle::receipt::Receipt;
use aarm_cases::receipts::{VerifyOptions, GENESIS};
use aarm_cases::store::sqlite::SqliteStore;
use aarm_cases::store::CaseStore;
use common::{draft_with, new_case};
use ed25519_dalek::SigningKey;
use serde_json::json;

fn key() -> SigningKey {
    SigningKey::from_bytes(&[7u8; 32])
}

/// Two interleaved cases (three receipts each, the last a veto) and a `decide` receipt between.
fn store() -> (SqliteStore, String, String) {
    let mut s = SqliteStore::open_in_memory().unwrap().with_signer(key());
    let (a, _) = s.open(new_case(100), draft_with("", "open", CaseState::PendingApproval, 100, json!({}))).unwrap();
    let (b, _) = s.open(new_case(101), draft_with("", "open", CaseState::PendingApproval, 101, json!({}))).unwrap();
    let mut decide = draft_with("", "decide", CaseState::Allowed, 102, json!({}));
    decide.case = String::new();
    s.record(vec![decide]).unwrap();
    for (i, case) in [&a, &b, &a, &b].into_iter().enumerate() {
        let mut next = s.get(&case.id).unwrap().unwrap();
        next.version += 1;
        let event = if i >= 2 { "deny" } else { "approve" };
        let state = if i >= 2 { CaseState::Denied } else { CaseState::PendingApproval };
        s.commit(&next, vec![draft_with(&case.id, event, state, 103 + i as i64, json!({}))], None).unwrap();
    }
    (s, a.id, b.id)
}

fn case_export(s: &SqliteStore, case: &str) -> (Vec<Receipt>, export::ExportHead) {
    let list = s.receipts(Some(case)).unwrap();
    let head = export::make_head(&list, Some(case), s.chain_head().unwrap(), Some(&key()));
    (list, head)
}

fn verify(list: &[Receipt], head: Option<&export::ExportHead>) -> Result<(), ExportError> {
    let keys = [key().verifying_key()];
    let opts = VerifyOptions { keys: &keys, require_signatures: true, ..VerifyOptions::default() };
    export::verify_export(list, head, &opts).map(|_| ())
}

#[test]
fn decisions_without_a_case_share_the_chain_and_cases_are_linked() {
    let (s, a, _) = store();
    let chain = s.receipts(None).unwrap();
    assert_eq!(chain.len(), 7);
    let decide = &chain[2];
    assert_eq!((decide.body.event.as_str(), decide.body.case.as_str(), decide.case_seq), ("decide", "", None));
    let mine = s.receipts(Some(&a)).unwrap();
    let links: Vec<(Option<u64>, Option<String>)> = mine.iter().map(|r| (r.case_seq, r.case_prev.clone())).collect();
    assert_eq!(
        links,
        [
            (Some(1), Some(GENESIS.to_string())),
            (Some(2), Some(mine[0].hash.clone())),
            (Some(3), Some(mine[1].hash.clone()))
        ]
    );
}

#[test]
fn a_case_export_missing_its_last_receipt_does_not_verify() {
    let (s, a, _) = store();
    let (list, head) = case_export(&s, &a);
    verify(&list, Some(&head)).unwrap();
    // The final veto left out: the signed head names three receipts.
    let cut = &list[..2];
    assert!(matches!(verify(cut, Some(&head)), Err(ExportError::Incomplete { expected: 3, found: 2, .. })));
    // ... and with the head left out too, completeness cannot be shown.
    assert_eq!(verify(cut, None), Err(ExportError::NoHead));
    // A head restated for the shorter list without the key is refused; with another key too.
    let unsigned = export::make_head(cut, Some(&a), s.chain_head().unwrap(), None);
    assert_eq!(verify(cut, Some(&unsigned)), Err(ExportError::HeadUnsigned));
    let other = export::make_head(cut, Some(&a), s.chain_head().unwrap(), Some(&SigningKey::from_bytes(&[8u8; 32])));
    assert_eq!(verify(cut, Some(&other)), Err(ExportError::HeadBadSignature));
}

#[test]
fn a_case_export_missing_a_middle_or_first_receipt_does_not_verify() {
    let (s, a, b) = store();
    let (list, _) = case_export(&s, &a);
    // The approval removed and the head restated by the key holder: the per-case link breaks.
    let gap = vec![list[0].clone(), list[2].clone()];
    let head = export::make_head(&gap, Some(&a), s.chain_head().unwrap(), Some(&key()));
    assert!(matches!(verify(&gap, Some(&head)), Err(ExportError::CaseLink { expected: 2, .. })));
    let late = vec![list[1].clone(), list[2].clone()];
    let head = export::make_head(&late, Some(&a), s.chain_head().unwrap(), Some(&key()));
    assert!(matches!(verify(&late, Some(&head)), Err(ExportError::CaseLink { expected: 1, .. })));
    // Another case's receipt slipped in.
    let mut mixed = list.clone();
    mixed.insert(1, s.receipts(Some(&b)).unwrap()[0].clone());
    let head = export::make_head(&mixed, Some(&a), s.chain_head().unwrap(), Some(&key()));
    assert!(matches!(verify(&mixed, Some(&head)), Err(ExportError::ForeignReceipt { .. })));
}

#[test]
fn the_export_text_round_trips_and_the_head_must_be_last() {
    let (s, a, _) = store();
    let (list, head) = case_export(&s, &a);
    let text = export::to_json_lines(&list, &head);
    let (parsed, parsed_head) = export::from_json_lines(&text).unwrap();
    assert_eq!((parsed, parsed_head), (list.clone(), Some(head)));
    let mut lines: Vec<&str> = text.lines().collect();
    let head_line = lines.pop().unwrap();
    lines.insert(0, head_line);
    assert!(export::from_json_lines(&lines.join("\n")).is_err());
}

#[test]
fn a_schema_1_store_is_migrated_and_keeps_its_receipts() {
    let dir = common::temp_dir("export-migrate");
    let path = dir.path().join("cases.db");
    let (id, before) = {
        let mut s = SqliteStore::open(&path).unwrap();
        let (c, _) = s.open(new_case(100), draft_with("", "open", CaseState::PendingApproval, 100, json!({}))).unwrap();
        (c.id, s.receipts(None).unwrap())
    };
    // Back to schema 1 as it was: receipts always named a case.
    {
        let conn = rusqlite::Connection::open(&path).unwrap();
        conn.execute_batch(
            "CREATE TABLE r1 (seq INTEGER PRIMARY KEY, case_id TEXT NOT NULL REFERENCES cases(id), at INTEGER NOT NULL, hash TEXT NOT NULL, json TEXT NOT NULL);
             INSERT INTO r1 SELECT * FROM receipts; DROP TABLE receipts; ALTER TABLE r1 RENAME TO receipts;
             CREATE INDEX receipts_case ON receipts(case_id, seq);
             UPDATE meta SET value = 1 WHERE key = 'schema_version';",
        )
        .unwrap();
    }
    let mut s = SqliteStore::open(&path).unwrap();
    assert_eq!(s.receipts(None).unwrap(), before);
    s.record(vec![draft_with("", "decide", CaseState::Denied, 101, json!({}))]).unwrap();
    assert_eq!(s.receipts(Some(&id)).unwrap(), before);
}

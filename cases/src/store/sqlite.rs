//! The SQLite case store (embedded, via rusqlite's bundled SQLite): the default for real hosts.
//! A restart, or a crash, loses no accepted event: every write is one `BEGIN IMMEDIATE`
//! transaction, committed with `synchronous=FULL` in WAL mode before the call returns.
//!
//! Several handles, in one process or several, may share a file: each write reads the chain head
//! (last `seq` and `hash`) and the case's version inside its own write transaction, so writers
//! are serialized by SQLite and the chain never forks.
//!
//! A case row that does not decode (corrupt JSON: a disk fault, a bad restore) is quarantined,
//! not fatal: `list` skips it, `get` answers [`StoreError::Unreadable`], and
//! [`SqliteStore::unreadable`] names it for the host to report, so that one bad row cannot stop
//! the clock or the listings for every other case.
//!
//! Schema (version [`SCHEMA_VERSION`], kept in `meta`):
//!
//! - `meta(key, value)`: `schema_version`, `last_case` (the counter behind `case-000001`, ...)
//! - `cases(id, version, state, json)`: the whole [`Case`] as JSON, plus what queries need
//! - `receipts(seq, case_id, at, hash, json)`: the sealed chain, the whole [`Receipt`] as JSON;
//!   `case_id` is NULL for a `decide` receipt (a decision that opened no case)
//! - `applied_events(case_id, event_id)`: event ids already applied, per case
//! - `bundles(hash, bytes)`: bundles cases were opened under

use super::chain::{case_link_after, decisions_only, stored_head, Sealer};
use super::memory::case_id;
pub use super::rows::Unreadable;
use super::rows::{case_json, parse_receipt, receipt_json, to_i64, to_u64, Quarantine};
use super::service::DenialDraft;
use super::{sealed_denials, CaseStore, Recorded, StoreError};
use crate::lifecycle::case::{Case, CaseState};
use crate::lifecycle::receipt::{CaseLink, Receipt, ReceiptDraft};
use ed25519_dalek::SigningKey;
use rusqlite::{params, Connection, OpenFlags, OptionalExtension, TransactionBehavior};
use std::cell::RefCell;
use std::path::Path;
use std::time::Duration;

/// Keeps a denial; a second one with the same id changes nothing. Run here in the transaction
/// of the denial's receipt ([`super::CaseStore::record_keeping`]) and by the overrides store
/// (`remember_denial`), which imports it from here so that the two modules do not import each
/// other.
pub(super) const KEEP_DENIAL: &str =
    "INSERT OR IGNORE INTO serve_denials (decision_id, agent, json, at) VALUES (?1, ?2, ?3, ?4)";

/// The schema this code reads and writes. A store with a newer version is refused; version 1
/// (receipts always named a case) is migrated in place.
pub const SCHEMA_VERSION: i64 = 2;

/// Version 1 → 2: `receipts.case_id` may be NULL (`decide` receipts). SQLite cannot relax a
/// column constraint, so the table is rebuilt, rows unchanged; `at` gets an index, as every
/// decision now adds a receipt and the clock check reads the latest `at`.
const MIGRATE_1_TO_2: &str = "
CREATE TABLE receipts_v2 (
    seq     INTEGER PRIMARY KEY,
    case_id TEXT REFERENCES cases(id),
    at      INTEGER NOT NULL,
    hash    TEXT NOT NULL,
    json    TEXT NOT NULL
);
INSERT INTO receipts_v2 (seq, case_id, at, hash, json) SELECT seq, case_id, at, hash, json FROM receipts;
DROP TABLE receipts;
ALTER TABLE receipts_v2 RENAME TO receipts;
CREATE INDEX receipts_case ON receipts(case_id, seq);
CREATE INDEX receipts_at ON receipts(at);
UPDATE meta SET value = 2 WHERE key = 'schema_version';
";

/// How long a write waits for another writer (another handle or process) to finish.
const BUSY_TIMEOUT: Duration = Duration::from_secs(10);

/// What a connection's commits survive.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Durability {
    /// A kill or a power loss (`synchronous=FULL`): cases and receipts.
    PowerLoss,
    /// A crash of the process, not necessarily a power loss (`synchronous=NORMAL`): what can be
    /// rebuilt or repeated (a notification sent again, a session action), kept without an fsync
    /// per write.
    ProcessCrash,
}

/// Every connection to a store's file, set up in one place.
fn configure(conn: &Connection, durability: Durability) -> Result<(), StoreError> {
    // First, so that the pragmas below wait for other writers instead of failing.
    conn.busy_timeout(BUSY_TIMEOUT)?;
    // WAL: readers do not block the writer, and a commit is one append to the log.
    // (An in-memory database answers `memory`: nothing to make durable there.)
    let _mode: String = conn.query_row("PRAGMA journal_mode=WAL", [], |r| r.get(0))?;
    let synchronous = match durability {
        // The log is synced at every commit. Durability over speed.
        Durability::PowerLoss => "FULL",
        Durability::ProcessCrash => "NORMAL",
    };
    conn.pragma_update(None, "synchronous", synchronous)?;
    Ok(())
}

const SCHEMA: &str = "
CREATE TABLE meta (
    key   TEXT PRIMARY KEY,
    value INTEGER NOT NULL
);
CREATE TABLE cases (
    id      TEXT PRIMARY KEY,
    version INTEGER NOT NULL,
    state   TEXT NOT NULL,
    json    TEXT NOT NULL
);
CREATE INDEX cases_state ON cases(state);
CREATE TABLE receipts (
    seq     INTEGER PRIMARY KEY,
    case_id TEXT REFERENCES cases(id),
    at      INTEGER NOT NULL,
    hash    TEXT NOT NULL,
    json    TEXT NOT NULL
);
CREATE INDEX receipts_case ON receipts(case_id, seq);
-- The clock check reads MAX(at) before every event and every batch of decision receipts.
CREATE INDEX receipts_at ON receipts(at);
CREATE TABLE applied_events (
    case_id  TEXT NOT NULL REFERENCES cases(id),
    event_id TEXT NOT NULL,
    PRIMARY KEY (case_id, event_id)
) WITHOUT ROWID;
CREATE TABLE bundles (
    hash  TEXT PRIMARY KEY,
    bytes BLOB NOT NULL
);
";

/// Cases, the receipt chain, applied event ids and bundles, in one SQLite database.
pub struct SqliteStore {
    conn: Connection,
    signer: Option<SigningKey>,
    quarantine: RefCell<Quarantine>,
    /// What this handle's last stamped write of decision receipts left stored
    /// ([`LastRecorded`]): `None` until one commits, and taken by every write of decision
    /// receipts before it begins.
    last_recorded: Option<LastRecorded>,
}

/// The chain head a write of decision receipts committed, with the latest `at` stored then.
///
/// Receipts are only ever appended (no aarm code updates or deletes one), each new one with a
/// `seq` above the head's and a hash over its whole content and its predecessor's hash. So when
/// a later write reads, inside its own write transaction, this same head (`seq` and hash), no
/// receipt was stored since, by this handle or any other (another server, an `aarm case`
/// command on the same file), and the latest `at` is still `last_at`: the write takes it instead
/// of reading `MAX(at)`. Any other head, the query runs as before.
#[derive(Debug, Clone, PartialEq, Eq)]
struct LastRecorded {
    head: (u64, String),
    last_at: Option<i64>,
}

impl std::fmt::Debug for SqliteStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqliteStore").field("path", &self.conn.path()).field("signed", &self.signer.is_some()).finish()
    }
}

impl From<rusqlite::Error> for StoreError {
    fn from(e: rusqlite::Error) -> StoreError {
        StoreError::Backend(format!("sqlite: {e}"))
    }
}

impl SqliteStore {
    /// Opens (creating if needed) the store at `path`.
    pub fn open(path: &Path) -> Result<SqliteStore, StoreError> {
        let conn = Connection::open(path)
            .map_err(|e| StoreError::Backend(format!("sqlite: cannot open {}: {e}", path.display())))?;
        SqliteStore::init(conn)
    }

    /// Opens a store that must already exist: a missing file is an error and nothing is created
    /// (commands that only read or act on existing cases must not leave an empty store behind a
    /// mistyped path).
    pub(crate) fn open_existing(path: &Path) -> Result<SqliteStore, StoreError> {
        // Without SQLITE_OPEN_CREATE, SQLite itself refuses a missing file: no check-then-open
        // race.
        let flags = OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX;
        match Connection::open_with_flags(path, flags) {
            Ok(conn) => SqliteStore::init(conn),
            Err(_) if std::fs::symlink_metadata(path).is_err() => Err(StoreError::Backend(format!(
                "{}: no such case store (`aarm case open` creates one; every other command needs it to exist)",
                path.display()
            ))),
            Err(e) => Err(StoreError::Backend(format!("sqlite: cannot open {}: {e}", path.display()))),
        }
    }

    /// A private, empty store that lives as long as the handle (tests, dry runs).
    pub fn open_in_memory() -> Result<SqliteStore, StoreError> {
        SqliteStore::init(Connection::open_in_memory()?)
    }

    /// A further connection to the store's file, for the tables a host keeps beside the cases
    /// (a server's notification outbox, session journal, idempotency keys, health probe), with
    /// `schema` created. The store opens every connection to its file the same way: the same
    /// busy timeout, the file already in WAL mode; `durability` says what its commits survive.
    /// The connection is the caller's: it never holds the store's write transaction.
    pub(crate) fn side_connection(&self, durability: Durability, schema: &str) -> Result<Connection, StoreError> {
        let conn = match self.conn.path().filter(|p| !p.is_empty()) {
            Some(path) => {
                Connection::open(path).map_err(|e| StoreError::Backend(format!("sqlite: cannot open {path}: {e}")))?
            }
            // A private in-memory store has no file to share: the side tables live apart.
            None => Connection::open_in_memory()?,
        };
        configure(&conn, durability)?;
        conn.execute_batch(schema)?;
        Ok(conn)
    }

    /// Receipts stored from now on are signed with `key`.
    pub fn with_signer(mut self, key: SigningKey) -> SqliteStore {
        self.signer = Some(key);
        self
    }

    fn init(mut conn: Connection) -> Result<SqliteStore, StoreError> {
        configure(&conn, Durability::PowerLoss)?;
        conn.pragma_update(None, "foreign_keys", "ON")?;

        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let has_meta: bool = tx.query_row(
            "SELECT EXISTS (SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'meta')",
            [],
            |r| r.get(0),
        )?;
        if has_meta {
            let version: Option<i64> =
                tx.query_row("SELECT value FROM meta WHERE key = 'schema_version'", [], |r| r.get(0)).optional()?;
            match version {
                Some(SCHEMA_VERSION) => {}
                Some(1) => tx.execute_batch(MIGRATE_1_TO_2)?,
                Some(v) if v > SCHEMA_VERSION => {
                    return Err(StoreError::Backend(format!(
                        "case store schema version {v} is newer than this aarm supports ({SCHEMA_VERSION}): \
                         upgrade aarm to open it"
                    )))
                }
                Some(v) => {
                    return Err(StoreError::Backend(format!(
                        "case store schema version {v} is not one this aarm knows ({SCHEMA_VERSION})"
                    )))
                }
                None => return Err(StoreError::Backend("not an aarm case store: meta has no schema_version".into())),
            }
        } else {
            let tables: i64 = tx.query_row(
                "SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'",
                [],
                |r| r.get(0),
            )?;
            if tables > 0 {
                return Err(StoreError::Backend("not an aarm case store: the database has other tables".into()));
            }
            tx.execute_batch(SCHEMA)?;
            tx.execute(
                "INSERT INTO meta (key, value) VALUES ('schema_version', ?1), ('last_case', 0)",
                [SCHEMA_VERSION],
            )?;
        }
        tx.commit()?;
        Ok(SqliteStore { conn, signer: None, quarantine: RefCell::default(), last_recorded: None })
    }
}

/// Seals `drafts` after the chain head read inside `tx`, and stores them.
fn append(tx: &Connection, drafts: Vec<ReceiptDraft>, signer: Option<&SigningKey>) -> Result<Vec<Receipt>, StoreError> {
    append_after(tx, head(tx)?, drafts, signer)
}

/// Seals `drafts` after `head` (the chain head, read inside the write transaction `tx`), and
/// stores them.
fn append_after(
    tx: &Connection,
    head: Option<(u64, String)>,
    drafts: Vec<ReceiptDraft>,
    signer: Option<&SigningKey>,
) -> Result<Vec<Receipt>, StoreError> {
    // Cached statements: these run on every group commit of decision receipts.
    let mut sealer = Sealer::after(head, signer);
    let mut insert =
        tx.prepare_cached("INSERT INTO receipts (seq, case_id, at, hash, json) VALUES (?1, ?2, ?3, ?4, ?5)")?;
    let mut sealed = Vec::with_capacity(drafts.len());
    for draft in drafts {
        let receipt = sealer.seal(draft, |case| case_link(tx, case))?;
        let json = receipt_json(&receipt);
        let case_id = Some(receipt.body.case.as_str()).filter(|c| !c.is_empty());
        insert.execute(params![to_i64(receipt.seq, "receipt seq")?, case_id, receipt.body.at, receipt.hash, json])?;
        sealed.push(receipt);
    }
    Ok(sealed)
}

/// A write transaction begun with `BEGIN IMMEDIATE`, as rusqlite's [`rusqlite::Transaction`]
/// begins one, but through statements prepared once per connection (cached) instead of parsed
/// again by every group commit. Dropped without [`Immediate::commit`], or when the commit fails,
/// it is rolled back, as a [`rusqlite::Transaction`] is.
struct Immediate<'c> {
    conn: &'c mut Connection,
}

impl<'c> Immediate<'c> {
    fn begin(conn: &'c mut Connection) -> Result<Immediate<'c>, StoreError> {
        conn.prepare_cached("BEGIN IMMEDIATE")?.execute([])?;
        Ok(Immediate { conn })
    }

    fn commit(self) -> Result<(), StoreError> {
        // On an error the guard is dropped still open, and rolls back.
        self.conn.prepare_cached("COMMIT")?.execute([])?;
        Ok(())
    }
}

impl std::ops::Deref for Immediate<'_> {
    type Target = Connection;
    fn deref(&self) -> &Connection {
        self.conn
    }
}

impl Drop for Immediate<'_> {
    fn drop(&mut self) {
        // As rusqlite's `Transaction` does: a transaction still open (not committed, or its
        // commit failed) is rolled back, and an error doing so has nowhere to go.
        if !self.conn.is_autocommit() {
            let _ = self.conn.execute_batch("ROLLBACK");
        }
    }
}

/// Keeps, inside `tx`, the denials that go with the receipts `sealed`, in a savepoint: when one
/// cannot be kept (its table is missing, a trigger refuses it), none of them is, and the
/// receipts are committed all the same (see [`CaseStore::record_keeping`]).
fn keep_denials(tx: &Connection, sealed: &[Receipt], denials: Vec<Option<DenialDraft>>) -> Result<(), StoreError> {
    if denials.iter().all(Option::is_none) {
        return Ok(());
    }
    // Dropped without a release, the savepoint is rolled back: the receipts' writes stay.
    let savepoint = KeepSavepoint::begin(tx)?;
    {
        let mut insert = tx.prepare_cached(KEEP_DENIAL)?;
        for d in sealed_denials(sealed, denials) {
            insert.execute(params![d.decision_id, d.agent, d.json, d.at])?;
        }
    }
    savepoint.release()
}

/// The savepoint [`keep_denials`] writes in, as rusqlite's [`rusqlite::Savepoint`] (which
/// parsed its `SAVEPOINT` and `RELEASE` again on every denial kept), through cached statements:
/// dropped without [`KeepSavepoint::release`], or when the release fails, it is rolled back to
/// and released, errors ignored, as rusqlite's is.
struct KeepSavepoint<'c> {
    conn: &'c Connection,
    released: bool,
}

impl<'c> KeepSavepoint<'c> {
    fn begin(conn: &'c Connection) -> Result<KeepSavepoint<'c>, StoreError> {
        conn.prepare_cached("SAVEPOINT keep_denials")?.execute([])?;
        Ok(KeepSavepoint { conn, released: false })
    }

    fn release(mut self) -> Result<(), StoreError> {
        self.conn.prepare_cached("RELEASE keep_denials")?.execute([])?;
        self.released = true;
        Ok(())
    }
}

impl Drop for KeepSavepoint<'_> {
    fn drop(&mut self) {
        if !self.released {
            let _ = self
                .conn
                .prepare_cached("ROLLBACK TO keep_denials")
                .and_then(|mut s| s.execute([]))
                .and_then(|_| self.conn.prepare_cached("RELEASE keep_denials")?.execute([]));
        }
    }
}

/// The latest `at` among stored receipts (`None` while there are none).
fn last_event_at(conn: &Connection) -> Result<Option<i64>, StoreError> {
    Ok(conn.prepare_cached("SELECT MAX(at) FROM receipts")?.query_row([], |r| r.get(0))?)
}

/// The last receipt's `seq` and hash (`None` while the chain is empty).
fn head(conn: &Connection) -> Result<Option<(u64, String)>, StoreError> {
    let head: Option<(i64, String)> = conn
        .prepare_cached("SELECT seq, hash FROM receipts ORDER BY seq DESC LIMIT 1")?
        .query_row([], |r| Ok((r.get(0)?, r.get(1)?)))
        .optional()?;
    stored_head(head)
}

/// The next receipt of `case`, from the receipts stored so far in `tx` (including those this
/// write already inserted).
fn case_link(tx: &Connection, case: &str) -> Result<CaseLink, StoreError> {
    let (count, last): (i64, Option<String>) = tx.query_row(
        "SELECT COUNT(*), (SELECT hash FROM receipts WHERE case_id = ?1 ORDER BY seq DESC LIMIT 1) \
         FROM receipts WHERE case_id = ?1",
        [case],
        |r| Ok((r.get(0)?, r.get(1)?)),
    )?;
    case_link_after(to_u64(count, "receipt count")?, last)
}

impl SqliteStore {
    /// Runs a query whose rows are one JSON column, and decodes each row (in one statement, so
    /// from one consistent snapshot).
    fn query_json<T>(
        &self,
        sql: &str,
        params: impl rusqlite::Params,
        decode: fn(&str) -> Result<T, StoreError>,
    ) -> Result<Vec<T>, StoreError> {
        let mut stmt = self.conn.prepare_cached(sql)?;
        let rows = stmt.query_map(params, |r| r.get::<_, String>(0))?;
        rows.map(|json| decode(&json?)).collect()
    }
}

impl SqliteStore {
    /// The cases reads found unreadable (quarantined), in id order. Every other case is listed,
    /// ticked and acted on as usual; these need an operator (restore the row from a backup).
    pub fn unreadable(&self) -> Vec<Unreadable> {
        self.quarantine.borrow().all()
    }

    /// The unreadable cases not returned by an earlier call: what a host should log now.
    pub fn newly_unreadable(&self) -> Vec<Unreadable> {
        self.quarantine.borrow_mut().newly()
    }

    /// The cases of one listing query (`id, json` rows), the unreadable ones skipped.
    fn list_cases(&self, sql: &str, params: impl rusqlite::Params) -> Result<Vec<Case>, StoreError> {
        let mut stmt = self.conn.prepare_cached(sql)?;
        let rows = stmt.query_map(params, |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?)))?;
        let rows = rows.collect::<Result<Vec<_>, _>>()?;
        Ok(self.quarantine.borrow_mut().decode_listing(rows))
    }
}

impl SqliteStore {
    /// [`CaseStore::record_keeping`], and with `stamp` [`CaseStore::record_keeping_stamped`]:
    /// each receipt's `at` raised to the latest `at` stored, read in the write transaction
    /// itself (or known from this handle's previous such write: [`LastRecorded`]).
    fn record_decisions(
        &mut self,
        decided: Vec<(ReceiptDraft, Option<DenialDraft>)>,
        stamp: bool,
    ) -> Result<Recorded, StoreError> {
        let (mut receipts, denials): (Vec<ReceiptDraft>, Vec<Option<DenialDraft>>) = decided.into_iter().unzip();
        decisions_only(&receipts)?;
        // Taken before the write: one that fails leaves nothing remembered.
        let remembered = self.last_recorded.take();
        let tx = Immediate::begin(&mut self.conn)?;
        let head = head(&tx)?;
        let mut last_at = None;
        if stamp {
            let floor = match (remembered, &head) {
                (Some(r), Some(h)) if r.head == *h => r.last_at,
                _ => last_event_at(&tx)?,
            };
            if let Some(floor) = floor {
                for d in &mut receipts {
                    d.at = d.at.max(floor);
                }
            }
            // Every `at` stamped is at least the floor: the latest after this write.
            last_at = receipts.iter().map(|d| d.at).max().max(floor);
        }
        let sealed = append_after(&tx, head.clone(), receipts, self.signer.as_ref())?;
        let denials = keep_denials(&tx, &sealed, denials);
        tx.commit()?;
        if stamp {
            let committed_head = sealed.last().map(|r| (r.seq, r.hash.clone())).or(head);
            self.last_recorded = committed_head.map(|head| LastRecorded { head, last_at });
        }
        Ok(Recorded { receipts: sealed, denials })
    }
}

impl CaseStore for SqliteStore {
    fn open(&mut self, mut case: Case, mut receipt: ReceiptDraft) -> Result<(Case, Receipt), StoreError> {
        let tx = self.conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let last: i64 = tx.query_row("SELECT value FROM meta WHERE key = 'last_case'", [], |r| r.get(0))?;
        let n = to_u64(last, "case counter")?
            .checked_add(1)
            .ok_or_else(|| StoreError::Backend("case number overflow".into()))?;
        tx.execute("UPDATE meta SET value = ?1 WHERE key = 'last_case'", [to_i64(n, "case number")?])?;
        case.id = case_id(n);
        receipt.case = case.id.clone();
        tx.execute(
            "INSERT INTO cases (id, version, state, json) VALUES (?1, ?2, ?3, ?4)",
            params![case.id, to_i64(case.version, "case version")?, case.state.as_str(), case_json(&case)?],
        )?;
        let sealed = append(&tx, vec![receipt], self.signer.as_ref())?;
        // The request's facts name the `open` receipt, known only now: the case row is
        // rewritten in the same transaction.
        if case.seal_evidence_refs(&sealed) {
            tx.execute("UPDATE cases SET json = ?2 WHERE id = ?1", params![case.id, case_json(&case)?])?;
        }
        let Some(receipt) = sealed.into_iter().next() else {
            return Err(StoreError::Backend("sealing produced no receipt".into()));
        };
        tx.commit()?;
        Ok((case, receipt))
    }

    fn commit(
        &mut self,
        case: &Case,
        receipts: Vec<ReceiptDraft>,
        event_id: Option<&str>,
    ) -> Result<Option<Vec<Receipt>>, StoreError> {
        // Dropping `tx` without committing rolls it back: every early return changes nothing.
        let tx = self.conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let stored: Option<i64> =
            tx.query_row("SELECT version FROM cases WHERE id = ?1", [&case.id], |r| r.get(0)).optional()?;
        let Some(stored) = stored else {
            return Err(StoreError::NotFound(case.id.clone()));
        };
        if let Some(event_id) = event_id {
            let seen: bool = tx.query_row(
                "SELECT EXISTS (SELECT 1 FROM applied_events WHERE case_id = ?1 AND event_id = ?2)",
                [&case.id, event_id],
                |r| r.get(0),
            )?;
            if seen {
                return Ok(None);
            }
        }
        let version = to_i64(case.version, "case version")?;
        if stored.checked_add(1) != Some(version) {
            return Err(StoreError::Conflict(case.id.clone()));
        }
        // Sealed first: the evidence refs of the case name the receipts' hashes.
        let sealed = append(&tx, receipts, self.signer.as_ref())?;
        let mut case = case.clone();
        case.seal_evidence_refs(&sealed);
        tx.execute(
            "UPDATE cases SET version = ?2, state = ?3, json = ?4 WHERE id = ?1",
            params![case.id, version, case.state.as_str(), case_json(&case)?],
        )?;
        if let Some(event_id) = event_id {
            tx.execute("INSERT INTO applied_events (case_id, event_id) VALUES (?1, ?2)", [&case.id, event_id])?;
        }
        tx.commit()?;
        Ok(Some(sealed))
    }

    fn record(&mut self, receipts: Vec<ReceiptDraft>) -> Result<Vec<Receipt>, StoreError> {
        Ok(self.record_keeping(receipts.into_iter().map(|r| (r, None)).collect())?.receipts)
    }

    fn record_keeping(&mut self, decided: Vec<(ReceiptDraft, Option<DenialDraft>)>) -> Result<Recorded, StoreError> {
        self.record_decisions(decided, false)
    }

    fn record_keeping_stamped(
        &mut self,
        decided: Vec<(ReceiptDraft, Option<DenialDraft>)>,
    ) -> Result<Recorded, StoreError> {
        self.record_decisions(decided, true)
    }

    fn applied(&self, case: &str, event_id: &str) -> Result<bool, StoreError> {
        Ok(self.conn.query_row(
            "SELECT EXISTS (SELECT 1 FROM applied_events WHERE case_id = ?1 AND event_id = ?2)",
            [case, event_id],
            |r| r.get(0),
        )?)
    }

    fn get(&self, id: &str) -> Result<Option<Case>, StoreError> {
        let json: Option<String> =
            self.conn.query_row("SELECT json FROM cases WHERE id = ?1", [id], |r| r.get(0)).optional()?;
        json.map(|json| self.quarantine.borrow_mut().decode(id, &json)).transpose()
    }

    fn list(&self, pending_only: bool) -> Result<Vec<Case>, StoreError> {
        // Ids are `case-` and at least six digits: by length, then text, is numeric order.
        if pending_only {
            let pending = [CaseState::PendingApproval.as_str(), CaseState::PendingEvidence.as_str()];
            self.list_cases("SELECT id, json FROM cases WHERE state IN (?1, ?2) ORDER BY length(id), id", pending)
        } else {
            self.list_cases("SELECT id, json FROM cases ORDER BY length(id), id", [])
        }
    }

    fn receipts(&self, case: Option<&str>) -> Result<Vec<Receipt>, StoreError> {
        match case {
            Some(id) => {
                self.query_json("SELECT json FROM receipts WHERE case_id = ?1 ORDER BY seq", [id], parse_receipt)
            }
            None => self.query_json("SELECT json FROM receipts ORDER BY seq", [], parse_receipt),
        }
    }

    fn chain_head(&self) -> Result<Option<(u64, String)>, StoreError> {
        head(&self.conn)
    }

    fn last_event_at(&self) -> Result<Option<i64>, StoreError> {
        last_event_at(&self.conn)
    }

    fn put_bundle(&mut self, hash: &str, bytes: &[u8]) -> Result<(), StoreError> {
        // Content-addressed: the first copy stored under a hash is kept.
        self.conn.execute("INSERT OR IGNORE INTO bundles (hash, bytes) VALUES (?1, ?2)", params![hash, bytes])?;
        Ok(())
    }

    fn get_bundle(&self, hash: &str) -> Result<Option<Vec<u8>>, StoreError> {
        Ok(self.conn.query_row("SELECT bytes FROM bundles WHERE hash = ?1", [hash], |r| r.get(0)).optional()?)
    }
}

//! The SQLite side of [`super::service`]: each on its own connection to the store's file
//! ([`SqliteStore::side_connection`]), `synchronous=NORMAL` (a write survives a crash of the
//! process; what these keep can be rebuilt or repeated, so no fsync per write).

use super::service::{
    AttemptOutcome, BoundKey, Delivery, DeliveryStore, Denial, DueDelivery, Granted, IdempotencyKeyStore,
    OverrideStore, Queued, SessionAction, SessionHistory, StoredOverride, Verdict, WriteProbe, CLAIM_LEASE_MS,
};
use super::service_rows::{
    bound_key, delivery, denial, due_delivery, oldest_first, queued_state, session_action, stored_override, Columns,
    FromColumn, OVERRIDE_COLUMNS,
};
use super::side::Side;
use super::sqlite::{Durability, SqliteStore, KEEP_DENIAL};
use super::StoreError;
use rusqlite::{params, Connection, OptionalExtension};

const SESSIONS: &str = "
CREATE TABLE IF NOT EXISTS serve_session_actions (
    id       INTEGER PRIMARY KEY AUTOINCREMENT,
    agent    TEXT NOT NULL,
    session  TEXT NOT NULL,
    tool     TEXT NOT NULL,
    decision TEXT NOT NULL,
    at       INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS serve_session_actions_at ON serve_session_actions(at);
";

const KEYS: &str = "
CREATE TABLE IF NOT EXISTS serve_idempotency_keys (
    scope       TEXT NOT NULL,
    key         TEXT NOT NULL,
    fingerprint TEXT NOT NULL,
    response    TEXT,
    created_at  INTEGER NOT NULL,
    PRIMARY KEY (scope, key)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS serve_idempotency_keys_at ON serve_idempotency_keys(scope, created_at);
-- Kept per agent and without a fingerprint by earlier versions: superseded.
DROP TABLE IF EXISTS serve_decide_keys;
";

const DELIVERIES: &str = "
CREATE TABLE IF NOT EXISTS serve_deliveries (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    case_id     TEXT NOT NULL,
    trigger_key TEXT NOT NULL,
    channel     TEXT NOT NULL,
    kind        TEXT NOT NULL,
    payload     TEXT NOT NULL,
    state       TEXT NOT NULL,
    attempts    INTEGER NOT NULL DEFAULT 0,
    next_at_ms  INTEGER NOT NULL,
    last_error  TEXT,
    created_at  INTEGER NOT NULL,
    delivered_at INTEGER,
    UNIQUE (case_id, trigger_key, channel)
);
CREATE INDEX IF NOT EXISTS serve_deliveries_due ON serve_deliveries(state, next_at_ms);
";

const OVERRIDES: &str = "
CREATE TABLE IF NOT EXISTS serve_denials (
    decision_id TEXT PRIMARY KEY,
    agent       TEXT NOT NULL,
    json        TEXT NOT NULL,
    at          INTEGER NOT NULL
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS serve_overrides (
    id              TEXT PRIMARY KEY,
    overrides       TEXT NOT NULL,
    author          TEXT NOT NULL,
    json            TEXT NOT NULL,
    receipt         TEXT NOT NULL,
    created_at      INTEGER NOT NULL,
    expires_at      INTEGER NOT NULL,
    reviewer        TEXT,
    verdict         TEXT,
    note            TEXT,
    verdict_receipt TEXT,
    reviewed_at     INTEGER
);
CREATE INDEX IF NOT EXISTS serve_overrides_of ON serve_overrides(overrides, expires_at);
CREATE INDEX IF NOT EXISTS serve_overrides_unreviewed ON serve_overrides(verdict, created_at);
";

const HEALTH: &str = "CREATE TABLE IF NOT EXISTS serve_health (id INTEGER PRIMARY KEY, checked_at INTEGER NOT NULL);";

/// How a side connection's query reads a row (as [`Columns`] or a single column).
type Decode<T> = fn(&rusqlite::Row<'_>) -> rusqlite::Result<T>;

impl Side<Connection> {
    fn open(store: &SqliteStore, schema: &str, what: &'static str) -> Result<Side<Connection>, StoreError> {
        Side::open_with(store, Durability::ProcessCrash, schema, what)
    }

    fn open_with(
        store: &SqliteStore,
        durability: Durability,
        schema: &str,
        what: &'static str,
    ) -> Result<Side<Connection>, StoreError> {
        let conn =
            store.side_connection(durability, schema).map_err(|e| StoreError::Backend(format!("{what}: {e}")))?;
        Ok(Side::new(conn, what))
    }

    fn fail(&self, e: rusqlite::Error) -> StoreError {
        StoreError::Backend(format!("{}: {e}", self.what))
    }

    /// Runs `sql` and decodes every row it returns (a cached statement: these run again and
    /// again on a long-lived connection).
    fn query<T>(&self, sql: &str, params: impl rusqlite::Params, decode: Decode<T>) -> Result<Vec<T>, StoreError> {
        let conn = self.lock()?;
        let mut stmt = conn.prepare_cached(sql).map_err(|e| self.fail(e))?;
        let rows = stmt.query_map(params, decode).map_err(|e| self.fail(e))?;
        rows.collect::<Result<_, _>>().map_err(|e| self.fail(e))
    }

    /// Runs `sql` and decodes the first row it returns, if any.
    fn query_opt<T>(
        &self,
        sql: &str,
        params: impl rusqlite::Params,
        decode: Decode<T>,
    ) -> Result<Option<T>, StoreError> {
        self.lock()?.query_row(sql, params, decode).optional().map_err(|e| self.fail(e))
    }

    /// Runs the statement `sql`; returns how many rows it changed.
    fn execute(&self, sql: &str, params: impl rusqlite::Params) -> Result<usize, StoreError> {
        self.lock()?.execute(sql, params).map_err(|e| self.fail(e))
    }
}

impl Columns for rusqlite::Row<'_> {
    type Error = rusqlite::Error;

    fn get<T: FromColumn>(&self, i: usize) -> rusqlite::Result<T> {
        rusqlite::Row::get(self, i)
    }

    fn attempts(&self, i: usize) -> rusqlite::Result<u32> {
        rusqlite::Row::get(self, i)
    }
}

/// [`SessionHistory`] in `serve_session_actions`.
pub struct SqliteSessionHistory(Side<Connection>);
/// [`IdempotencyKeyStore`] in `serve_idempotency_keys`.
pub struct SqliteIdempotencyKeys(Side<Connection>);
/// [`DeliveryStore`] in `serve_deliveries`.
pub struct SqliteDeliveries(Side<Connection>);
/// [`WriteProbe`] on `serve_health`.
pub struct SqliteWriteProbe(Side<Connection>);
/// [`OverrideStore`] in `serve_denials` and `serve_overrides`.
pub struct SqliteOverrides(Side<Connection>);

impl SqliteStore {
    /// The session history kept in this store's file.
    pub fn session_history(&self) -> Result<SqliteSessionHistory, StoreError> {
        Side::open(self, SESSIONS, "session history").map(SqliteSessionHistory)
    }

    /// The idempotency keys kept in this store's file.
    pub fn idempotency_keys(&self) -> Result<SqliteIdempotencyKeys, StoreError> {
        Side::open(self, KEYS, "idempotency keys").map(SqliteIdempotencyKeys)
    }

    /// The notification outbox kept in this store's file.
    pub fn deliveries(&self) -> Result<SqliteDeliveries, StoreError> {
        Side::open(self, DELIVERIES, "notification outbox").map(SqliteDeliveries)
    }

    /// A write probe on this store's file.
    pub fn write_probe(&self) -> Result<SqliteWriteProbe, StoreError> {
        Side::open(self, HEALTH, "health probe").map(SqliteWriteProbe)
    }

    /// The denials and overrides kept in this store's file: an override is an audit record, so
    /// it is written as durably as the cases (`synchronous=FULL`).
    pub fn overrides(&self) -> Result<SqliteOverrides, StoreError> {
        Side::open_with(self, Durability::PowerLoss, OVERRIDES, "overrides").map(SqliteOverrides)
    }
}

impl SessionHistory for SqliteSessionHistory {
    fn append(&self, batch: &[SessionAction]) -> Result<(), StoreError> {
        let side = &self.0;
        let mut conn = side.lock()?;
        let tx = conn.transaction().map_err(|e| side.fail(e))?;
        {
            let mut insert = tx
                .prepare_cached(
                    "INSERT INTO serve_session_actions (agent, session, tool, decision, at) VALUES (?1, ?2, ?3, ?4, ?5)",
                )
                .map_err(|e| side.fail(e))?;
            for a in batch {
                insert.execute(params![a.agent, a.session, a.tool, a.decision, a.at]).map_err(|e| side.fail(e))?;
            }
        }
        tx.commit().map_err(|e| side.fail(e))
    }

    fn since(&self, since: i64) -> Result<Vec<SessionAction>, StoreError> {
        self.0.query(
            "SELECT agent, session, tool, decision, at FROM serve_session_actions WHERE at >= ?1 ORDER BY id",
            [since],
            |r| session_action(r),
        )
    }

    fn prune(&self, before: i64) -> Result<usize, StoreError> {
        self.0.execute("DELETE FROM serve_session_actions WHERE at < ?1", [before])
    }
}

impl IdempotencyKeyStore for SqliteIdempotencyKeys {
    fn bound(&self, scope: &str, key: &str, since: i64) -> Result<Option<BoundKey>, StoreError> {
        self.0.query_opt(
            "SELECT fingerprint, response FROM serve_idempotency_keys \
             WHERE scope = ?1 AND key = ?2 AND created_at >= ?3",
            params![scope, key, since],
            |r| bound_key(r),
        )
    }

    fn keep_answer(
        &self,
        scope: &str,
        key: &str,
        fingerprint: &str,
        response: &str,
        now: i64,
        forget_before: i64,
    ) -> Result<(), StoreError> {
        let side = &self.0;
        let conn = side.lock()?;
        conn.execute(
            "INSERT OR REPLACE INTO serve_idempotency_keys (scope, key, fingerprint, response, created_at) \
             VALUES (?1, ?2, ?3, ?4, ?5)",
            params![scope, key, fingerprint, response, now],
        )
        .map_err(|e| side.fail(e))?;
        conn.execute(
            "DELETE FROM serve_idempotency_keys WHERE scope = ?1 AND created_at < ?2",
            params![scope, forget_before],
        )
        .map_err(|e| side.fail(e))?;
        Ok(())
    }

    fn bind(&self, scope: &str, key: &str, fingerprint: &str, now: i64) -> Result<(), StoreError> {
        self.0.execute(
            "INSERT OR IGNORE INTO serve_idempotency_keys (scope, key, fingerprint, response, created_at) \
             VALUES (?1, ?2, ?3, NULL, ?4)",
            params![scope, key, fingerprint, now],
        )?;
        Ok(())
    }
}

impl DeliveryStore for SqliteDeliveries {
    fn queue(
        &self,
        case: &str,
        occasion: &str,
        payload: &str,
        channels: &[Queued],
        due_ms: i64,
        now: i64,
    ) -> Result<usize, StoreError> {
        let side = &self.0;
        let conn = side.lock()?;
        let mut added = 0usize;
        for q in channels {
            let n = conn
                .execute(
                    "INSERT OR IGNORE INTO serve_deliveries
                        (case_id, trigger_key, channel, kind, payload, state, next_at_ms, last_error, created_at)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
                    params![case, occasion, q.channel, q.kind, payload, queued_state(q), due_ms, q.refused, now],
                )
                .map_err(|e| side.fail(e))?;
            added = added.saturating_add(n);
        }
        Ok(added)
    }

    fn deliveries(&self, case: &str) -> Result<Vec<Delivery>, StoreError> {
        self.0.query(
            "SELECT id, case_id, trigger_key, channel, kind, state, attempts, last_error, created_at, delivered_at
             FROM serve_deliveries WHERE case_id = ?1 ORDER BY id",
            [case],
            |r| delivery(r),
        )
    }

    fn due(&self, now_ms: i64, limit: i64) -> Result<Vec<DueDelivery>, StoreError> {
        let claimed = self.0.query(
            // One statement, so one write transaction: two handles never claim one row.
            "UPDATE serve_deliveries SET next_at_ms = ?3 WHERE id IN (
                 SELECT id FROM serve_deliveries WHERE state = 'pending' AND next_at_ms <= ?1
                 ORDER BY next_at_ms, id LIMIT ?2)
             RETURNING id, channel, payload, attempts",
            params![now_ms, limit, now_ms.saturating_add(CLAIM_LEASE_MS)],
            |r| due_delivery(r),
        )?;
        Ok(oldest_first(claimed))
    }

    fn next_due_ms(&self) -> Result<Option<i64>, StoreError> {
        let next: Option<Option<i64>> =
            self.0
                .query_opt("SELECT MIN(next_at_ms) FROM serve_deliveries WHERE state = 'pending'", [], |r| r.get(0))?;
        Ok(next.flatten())
    }

    fn record(&self, id: i64, attempts: u32, outcome: AttemptOutcome<'_>) -> Result<(), StoreError> {
        let side = &self.0;
        let conn = side.lock()?;
        match outcome {
            AttemptOutcome::Delivered { at } => conn.execute(
                "UPDATE serve_deliveries SET state = 'delivered', attempts = ?2, last_error = NULL, delivered_at = ?3
                 WHERE id = ?1",
                params![id, attempts, at],
            ),
            AttemptOutcome::GaveUp { error } => conn.execute(
                "UPDATE serve_deliveries SET state = 'failed', attempts = ?2, last_error = ?3 WHERE id = ?1",
                params![id, attempts, error],
            ),
            AttemptOutcome::Retry { error, next_at_ms } => conn.execute(
                "UPDATE serve_deliveries SET attempts = ?2, last_error = ?3, next_at_ms = ?4 WHERE id = ?1",
                params![id, attempts, error, next_at_ms],
            ),
        }
        .map_err(|e| side.fail(e))?;
        Ok(())
    }
}

impl WriteProbe for SqliteWriteProbe {
    fn write(&self, now: i64) -> Result<(), StoreError> {
        self.0.execute("INSERT OR REPLACE INTO serve_health (id, checked_at) VALUES (1, ?1)", params![now])?;
        Ok(())
    }
}

fn active_override(conn: &Connection, overrides: &str, now: i64) -> rusqlite::Result<Option<String>> {
    conn.query_row(
        "SELECT id FROM serve_overrides WHERE overrides = ?1 AND expires_at > ?2 ORDER BY created_at LIMIT 1",
        params![overrides, now],
        |r| r.get(0),
    )
    .optional()
}

impl OverrideStore for SqliteOverrides {
    fn remember_denial(&self, d: &Denial) -> Result<(), StoreError> {
        self.0.execute(KEEP_DENIAL, params![d.decision_id, d.agent, d.json, d.at])?;
        Ok(())
    }

    fn denial(&self, decision_id: &str) -> Result<Option<Denial>, StoreError> {
        self.0.query_opt(
            "SELECT decision_id, agent, json, at FROM serve_denials WHERE decision_id = ?1",
            params![decision_id],
            |r| denial(r),
        )
    }

    fn active(&self, overrides: &str, now: i64) -> Result<Option<String>, StoreError> {
        let side = &self.0;
        active_override(&*side.lock()?, overrides, now).map_err(|e| side.fail(e))
    }

    fn grant(&self, o: &StoredOverride, now: i64) -> Result<Granted, StoreError> {
        let side = &self.0;
        let mut conn = side.lock()?;
        // IMMEDIATE: another connection (another process on the same file) cannot grant between
        // the check and the insert.
        let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate).map_err(|e| side.fail(e))?;
        if let Some(id) = active_override(&tx, &o.overrides, now).map_err(|e| side.fail(e))? {
            return Ok(Granted::Active(id));
        }
        tx.execute(
            "INSERT INTO serve_overrides (id, overrides, author, json, receipt, created_at, expires_at) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            params![o.id, o.overrides, o.author, o.json, o.receipt, o.created_at, o.expires_at],
        )
        .map_err(|e| side.fail(e))?;
        tx.commit().map_err(|e| side.fail(e))?;
        Ok(Granted::Granted)
    }

    fn get(&self, id: &str) -> Result<Option<StoredOverride>, StoreError> {
        self.0.query_opt(&format!("SELECT {OVERRIDE_COLUMNS} FROM serve_overrides WHERE id = ?1"), params![id], |r| {
            stored_override(r)
        })
    }

    fn unreviewed(&self) -> Result<Vec<StoredOverride>, StoreError> {
        self.0.query(
            &format!("SELECT {OVERRIDE_COLUMNS} FROM serve_overrides WHERE verdict IS NULL ORDER BY created_at, id"),
            [],
            |r| stored_override(r),
        )
    }

    fn review(&self, id: &str, v: &Verdict) -> Result<bool, StoreError> {
        let n = self.0.execute(
            "UPDATE serve_overrides SET reviewer = ?2, verdict = ?3, note = ?4, verdict_receipt = ?5, reviewed_at = ?6 \
             WHERE id = ?1 AND verdict IS NULL",
            params![id, v.reviewer, v.verdict, v.note, v.receipt, v.at],
        )?;
        Ok(n == 1)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn action(session: &str, tool: &str, at: i64) -> SessionAction {
        SessionAction { agent: "a".into(), session: session.into(), tool: tool.into(), decision: "allow".into(), at }
    }

    #[test]
    fn session_actions_come_back_in_order_after_a_reopen_and_old_ones_are_pruned() {
        // Removed with its -wal and -shm files when dropped, also when an assertion fails.
        let dir = tempfile::Builder::new().prefix("aarm-session-history-").tempdir().unwrap();
        let path = dir.path().join("cases.db");
        let open = || SqliteStore::open(&path).unwrap().session_history().unwrap();
        let h = open();
        h.append(&[action("s1", "read", 10), action("s2", "send", 20)]).unwrap();
        h.append(&[action("s1", "pay", 30)]).unwrap();
        drop(h);
        let h = open();
        let tools: Vec<String> = h.since(0).unwrap().into_iter().map(|a| a.tool).collect();
        assert_eq!(tools, ["read", "send", "pay"]);
        assert_eq!(h.since(25).unwrap(), vec![action("s1", "pay", 30)]);
        assert_eq!(h.prune(20).unwrap(), 1);
        assert_eq!(h.since(0).unwrap().len(), 2);
    }
}

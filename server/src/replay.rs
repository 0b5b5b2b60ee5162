//! Retried decisions: `POST /v1/decide` with an `Idempotency-Key` header answers a retry with the
//! first answer (the same case id) instead of deciding again, so an agent whose connection broke
//! does not open a second case (and ask the approvers twice), nor record the action twice in its
//! session.
//!
//! Answers are kept per (authenticated agent, key) for [`KEEP_S`] in `serve_decide_keys` of the
//! store's file. The answer is written right after the case is (two local commits): a crash
//! between them lets one retry decide again. Two calls with the same key at the same time: the
//! second is refused with 409 `decide_in_progress`.

use rusqlite::{params, Connection, OptionalExtension};
use std::collections::HashSet;
use std::path::Path;
use std::sync::Mutex;
use std::time::Duration;

/// How long an answer is kept for retries.
pub const KEEP_S: i64 = 24 * 3600;

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS serve_decide_keys (
    agent      TEXT NOT NULL,
    key        TEXT NOT NULL,
    response   TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    PRIMARY KEY (agent, key)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS serve_decide_keys_at ON serve_decide_keys(created_at);
";

pub struct DecideKeys {
    conn: Mutex<Connection>,
    in_flight: Mutex<HashSet<(String, String)>>,
}

impl std::fmt::Debug for DecideKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DecideKeys").finish()
    }
}

fn db<T>(r: rusqlite::Result<T>) -> Result<T, String> {
    r.map_err(|e| format!("decide keys: {e}"))
}

/// A claim on a key while its first call runs; released when dropped.
pub struct Claim<'a> {
    keys: &'a DecideKeys,
    id: (String, String),
}

impl Drop for Claim<'_> {
    fn drop(&mut self) {
        if let Ok(mut set) = self.keys.in_flight.lock() {
            set.remove(&self.id);
        }
    }
}

impl DecideKeys {
    pub fn open(path: &Path) -> Result<DecideKeys, String> {
        let conn = db(Connection::open(path))?;
        db(conn.busy_timeout(Duration::from_secs(10)))?;
        db(conn.pragma_update(None, "synchronous", "NORMAL"))?;
        db(conn.execute_batch(SCHEMA))?;
        Ok(DecideKeys { conn: Mutex::new(conn), in_flight: Mutex::new(HashSet::new()) })
    }

    fn conn(&self) -> Result<std::sync::MutexGuard<'_, Connection>, String> {
        self.conn.lock().map_err(|_| "decide keys: the lock is poisoned".to_string())
    }

    /// The first answer to (agent, key), if one was given within [`KEEP_S`] of `now`.
    pub fn answered(&self, agent: &str, key: &str, now: i64) -> Result<Option<serde_json::Value>, String> {
        let conn = self.conn()?;
        let text: Option<String> = db(conn
            .query_row(
                "SELECT response FROM serve_decide_keys WHERE agent = ?1 AND key = ?2 AND created_at >= ?3",
                params![agent, key, now.saturating_sub(KEEP_S)],
                |r| r.get(0),
            )
            .optional())?;
        text.map(|t| serde_json::from_str(&t).map_err(|e| format!("decide keys: stored answer: {e}"))).transpose()
    }

    /// Claims (agent, key) for the call that decides it; `None` while another call holds it.
    pub fn claim(&self, agent: &str, key: &str) -> Option<Claim<'_>> {
        let id = (agent.to_string(), key.to_string());
        let mut set = self.in_flight.lock().ok()?;
        if !set.insert(id.clone()) {
            return None;
        }
        Some(Claim { keys: self, id })
    }

    /// Keeps the answer (and forgets answers older than [`KEEP_S`]).
    pub fn keep(&self, agent: &str, key: &str, answer: &serde_json::Value, now: i64) -> Result<(), String> {
        let conn = self.conn()?;
        db(conn.execute(
            "INSERT OR REPLACE INTO serve_decide_keys (agent, key, response, created_at) VALUES (?1, ?2, ?3, ?4)",
            params![agent, key, answer.to_string(), now],
        ))?;
        db(conn.execute("DELETE FROM serve_decide_keys WHERE created_at < ?1", [now.saturating_sub(KEEP_S)]))?;
        Ok(())
    }
}

//! The session journal: recorded actions appended to `serve_session_actions` in the store's
//! SQLite file, in batches (one transaction per batch, `synchronous=NORMAL`: a batch survives a
//! crash of the process once written), loaded back at start-up, pruned after [`super::IDLE_S`].

use super::{Entry, PriorAction, IDLE_S};
use crate::clock::Clock;
use aarm_cases::store::sqlite::{Durability, SqliteStore};
use rusqlite::{params, Connection};
use std::sync::{Arc, Mutex};
use tokio::sync::mpsc::UnboundedReceiver;

const SCHEMA: &str = "
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

/// Most entries written in one transaction.
const BATCH: usize = 4096;

pub struct Journal {
    conn: Mutex<Connection>,
}

impl std::fmt::Debug for Journal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Journal").finish()
    }
}

fn db<T>(r: rusqlite::Result<T>) -> Result<T, String> {
    r.map_err(|e| format!("session journal: {e}"))
}

impl Journal {
    /// The journal's own connection to the store's file: a batch survives a crash of the
    /// process once written.
    pub fn open(store: &SqliteStore) -> Result<Journal, String> {
        let conn =
            store.side_connection(Durability::ProcessCrash, SCHEMA).map_err(|e| format!("session journal: {e}"))?;
        Ok(Journal { conn: Mutex::new(conn) })
    }

    fn conn(&self) -> Result<std::sync::MutexGuard<'_, Connection>, String> {
        self.conn.lock().map_err(|_| "session journal: the lock is poisoned".to_string())
    }

    /// Every entry since `since`, oldest first.
    pub fn load(&self, since: i64) -> Result<Vec<Entry>, String> {
        let conn = self.conn()?;
        let mut stmt = db(conn.prepare(
            "SELECT agent, session, tool, decision, at FROM serve_session_actions WHERE at >= ?1 ORDER BY id",
        ))?;
        let rows = db(stmt.query_map([since], |r| {
            Ok(Entry {
                agent: r.get(0)?,
                session: r.get(1)?,
                action: PriorAction { tool: r.get(2)?, decision: r.get(3)? },
                at: r.get(4)?,
            })
        }))?;
        db(rows.collect())
    }

    pub fn append(&self, batch: &[Entry]) -> Result<(), String> {
        let mut conn = self.conn()?;
        let tx = db(conn.transaction())?;
        {
            let mut insert = db(tx.prepare_cached(
                "INSERT INTO serve_session_actions (agent, session, tool, decision, at) VALUES (?1, ?2, ?3, ?4, ?5)",
            ))?;
            for e in batch {
                db(insert.execute(params![e.agent, e.session, e.action.tool, e.action.decision, e.at]))?;
            }
        }
        db(tx.commit())
    }

    /// Forgets entries older than `before`.
    pub fn prune(&self, before: i64) -> Result<usize, String> {
        let conn = self.conn()?;
        db(conn.execute("DELETE FROM serve_session_actions WHERE at < ?1", [before]))
    }
}

/// Writes what arrives, in batches, until every sender is gone (then the rest is written).
pub async fn run(journal: Arc<Journal>, clock: Arc<Clock>, mut rx: UnboundedReceiver<Entry>) {
    let mut last_prune = i64::MIN;
    let mut buf = Vec::with_capacity(BATCH);
    loop {
        buf.clear();
        if rx.recv_many(&mut buf, BATCH).await == 0 {
            return;
        }
        let now = clock.now();
        let prune = now.saturating_sub(last_prune) >= 60;
        if prune {
            last_prune = now;
        }
        let j = journal.clone();
        let batch = std::mem::take(&mut buf);
        let written = tokio::task::spawn_blocking(move || {
            let r = j.append(&batch);
            if prune {
                if let Err(e) = j.prune(now.saturating_sub(IDLE_S)) {
                    tracing::warn!(error = %e, "cannot prune the session journal");
                }
            }
            (r, batch)
        })
        .await;
        match written {
            Ok((Ok(()), batch)) => buf = batch,
            Ok((Err(e), batch)) => {
                tracing::error!(error = %e, entries = batch.len(), "session actions kept in memory only");
                buf = batch;
            }
            Err(e) => tracing::error!(error = %e, "session journal task failed"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(session: &str, tool: &str, at: i64) -> Entry {
        Entry {
            agent: "a".into(),
            session: session.into(),
            action: PriorAction { tool: tool.into(), decision: "allow".into() },
            at,
        }
    }

    #[test]
    fn entries_come_back_in_order_and_old_ones_are_pruned() {
        let path = std::env::temp_dir().join(format!("aarm-journal-{}.db", std::process::id()));
        let _ = std::fs::remove_file(&path);
        let open = || Journal::open(&SqliteStore::open(&path).unwrap()).unwrap();
        let j = open();
        j.append(&[entry("s1", "read", 10), entry("s2", "send", 20)]).unwrap();
        j.append(&[entry("s1", "pay", 30)]).unwrap();
        drop(j);
        let j = open();
        let tools: Vec<String> = j.load(0).unwrap().into_iter().map(|e| e.action.tool).collect();
        assert_eq!(tools, ["read", "send", "pay"]);
        assert_eq!(j.load(25).unwrap(), vec![entry("s1", "pay", 30)]);
        assert_eq!(j.prune(20).unwrap(), 1);
        assert_eq!(j.load(0).unwrap().len(), 2);
        let _ = std::fs::remove_file(&path);
    }
}

//! `GET /healthz`: whether the service can decide — the bundle is loaded, the store can be read
//! (on the lifecycle's own connection) and written (a row of `serve_health`, on a connection of
//! its own, so a probe never holds the lifecycle's transaction) — with the cases the store
//! quarantined and the open connections. 503 `store.unavailable` when the store fails either way:
//! a load balancer then takes the instance out, since every decision that needs the store would
//! be a `deny`.

use crate::error::ApiError;
use crate::lifecycle::Cases;
use crate::listen::Connections;
use aarm_cases::store::sqlite::{Durability, SqliteStore};
use aarm_cases::store::CaseStore;
use aarm_runtime::engine::Engine;
use rusqlite::{params, Connection};
use serde_json::{json, Value};
use std::sync::{Arc, Mutex};

const SCHEMA: &str = "CREATE TABLE IF NOT EXISTS serve_health (id INTEGER PRIMARY KEY, checked_at INTEGER NOT NULL);";

/// The write half of the probe.
pub struct Probe {
    conn: Mutex<Connection>,
}

impl std::fmt::Debug for Probe {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Probe").finish()
    }
}

impl Probe {
    /// The probe's own connection to the store's file (its row is rewritten at every check).
    pub fn open(store: &SqliteStore) -> Result<Probe, String> {
        let conn = store.side_connection(Durability::ProcessCrash, SCHEMA).map_err(|e| format!("health probe: {e}"))?;
        Ok(Probe { conn: Mutex::new(conn) })
    }

    /// Writes one row (always the same one: the table never grows).
    fn write(&self, now: i64) -> Result<(), ApiError> {
        let conn = self.conn.lock().map_err(|_| ApiError::Unavailable("health probe: the lock is poisoned".into()))?;
        conn.execute("INSERT OR REPLACE INTO serve_health (id, checked_at) VALUES (1, ?1)", params![now])
            .map_err(|e| ApiError::Unavailable(format!("the case store cannot be written: {e}")))?;
        Ok(())
    }
}

/// The `/healthz` answer, or 503 when the bundle or the store fails.
pub async fn check(
    engine: Arc<Engine>,
    cases: &Cases,
    probe: Arc<Probe>,
    connections: &Connections,
    now: i64,
) -> Result<Value, ApiError> {
    let policy = engine.default_policy();
    let quarantined = cases
        .run(move |lc| {
            lc.store()
                .last_event_at()
                .map_err(|e| ApiError::Unavailable(format!("the case store cannot be read: {e}")))?;
            probe.write(now)?;
            Ok(lc.store().unreadable())
        })
        .await?;
    let status = if quarantined.is_empty() { "ok" } else { "degraded" };
    Ok(json!({
        "status": status,
        "bundle_hash": engine.bundle_hash(),
        "policy": policy.name,
        "version": policy.version,
        "quarantined_cases": quarantined,
        "connections": { "open": connections.open(), "max": connections.max() },
    }))
}

//! The PostgreSQL side of [`super::service`]: each on a connection of its own to the store's
//! database (so none waits behind the lifecycle's write transaction), in the tables the store's
//! migrations created. Every replica sharing the database shares these too: a session's
//! history, an idempotency key bound on one replica and retried on another, the outbox.

use super::postgres::{fail, Connection, PostgresStore};
use super::service::{
    AttemptOutcome, BoundKey, Delivery, DeliveryStore, Denial, DueDelivery, Granted, IdempotencyKeyStore,
    OverrideStore, Queued, SessionAction, SessionHistory, StoredOverride, Verdict, WriteProbe, CLAIM_LEASE_MS,
};
use super::StoreError;
use postgres::{Client, Row};
use std::sync::Mutex;

/// One side connection, and what it is for (named in its errors).
struct Side {
    conn: Mutex<Connection>,
    what: &'static str,
}

impl Side {
    fn open(store: &PostgresStore, what: &'static str) -> Result<Side, StoreError> {
        let conn = Connection::open(store.config().clone()).map_err(|e| StoreError::Backend(format!("{what}: {e}")))?;
        Ok(Side { conn: Mutex::new(conn), what })
    }

    /// Runs `f` on this side's connection.
    fn with<T: Send>(&self, f: impl FnOnce(&mut Client) -> Result<T, StoreError> + Send) -> Result<T, StoreError> {
        self.conn.lock().map_err(|_| StoreError::Backend(format!("{}: the lock is poisoned", self.what)))?.with(f)
    }
}

fn int<T: TryFrom<i64>>(n: i64, what: &str) -> Result<T, StoreError> {
    T::try_from(n).map_err(|_| StoreError::Backend(format!("stored {what} {n} is out of range")))
}

/// [`SessionHistory`] in `serve_session_actions`.
pub struct PostgresSessionHistory(Side);
/// [`IdempotencyKeyStore`] in `serve_idempotency_keys`.
pub struct PostgresIdempotencyKeys(Side);
/// [`DeliveryStore`] in `serve_deliveries`.
pub struct PostgresDeliveries(Side);
/// [`WriteProbe`] on `serve_health`.
pub struct PostgresWriteProbe(Side);
/// [`OverrideStore`] in `serve_denials` and `serve_overrides`.
pub struct PostgresOverrides(Side);

impl PostgresStore {
    /// The session history kept in this store's database.
    pub fn session_history(&self) -> Result<PostgresSessionHistory, StoreError> {
        Side::open(self, "session history").map(PostgresSessionHistory)
    }

    /// The idempotency keys kept in this store's database.
    pub fn idempotency_keys(&self) -> Result<PostgresIdempotencyKeys, StoreError> {
        Side::open(self, "idempotency keys").map(PostgresIdempotencyKeys)
    }

    /// The notification outbox kept in this store's database.
    pub fn deliveries(&self) -> Result<PostgresDeliveries, StoreError> {
        Side::open(self, "notification outbox").map(PostgresDeliveries)
    }

    /// A write probe on this store's database.
    pub fn write_probe(&self) -> Result<PostgresWriteProbe, StoreError> {
        Side::open(self, "health probe").map(PostgresWriteProbe)
    }

    /// The denials and overrides kept in this store's database.
    pub fn overrides(&self) -> Result<PostgresOverrides, StoreError> {
        Side::open(self, "overrides").map(PostgresOverrides)
    }
}

impl SessionHistory for PostgresSessionHistory {
    fn append(&self, batch: &[SessionAction]) -> Result<(), StoreError> {
        let side = &self.0;
        side.with(|client| {
            let mut tx = client.transaction().map_err(fail(side.what))?;
            for a in batch {
                tx.execute(
                    "INSERT INTO serve_session_actions (agent, session, tool, decision, at) VALUES ($1, $2, $3, $4, $5)",
                    &[&a.agent, &a.session, &a.tool, &a.decision, &a.at],
                )
                .map_err(fail(side.what))?;
            }
            tx.commit().map_err(fail(side.what))
        })
    }

    fn since(&self, since: i64) -> Result<Vec<SessionAction>, StoreError> {
        let side = &self.0;
        side.with(|client| {
            let rows = client
                .query(
                    "SELECT agent, session, tool, decision, at FROM serve_session_actions WHERE at >= $1 ORDER BY id",
                    &[&since],
                )
                .map_err(fail(side.what))?;
            rows.iter()
                .map(|r| {
                    Ok(SessionAction {
                        agent: r.try_get(0)?,
                        session: r.try_get(1)?,
                        tool: r.try_get(2)?,
                        decision: r.try_get(3)?,
                        at: r.try_get(4)?,
                    })
                })
                .collect::<Result<_, postgres::Error>>()
                .map_err(fail(side.what))
        })
    }

    fn prune(&self, before: i64) -> Result<usize, StoreError> {
        let side = &self.0;
        let n = side.with(|client| {
            client.execute("DELETE FROM serve_session_actions WHERE at < $1", &[&before]).map_err(fail(side.what))
        })?;
        usize::try_from(n).map_err(|_| StoreError::Backend(format!("{}: {n} rows", side.what)))
    }
}

impl IdempotencyKeyStore for PostgresIdempotencyKeys {
    fn bound(&self, scope: &str, key: &str, since: i64) -> Result<Option<BoundKey>, StoreError> {
        let side = &self.0;
        side.with(|client| {
            let row = client
                .query_opt(
                    "SELECT fingerprint, response FROM serve_idempotency_keys \
                     WHERE scope = $1 AND key = $2 AND created_at >= $3",
                    &[&scope, &key, &since],
                )
                .map_err(fail(side.what))?;
            row.map(|r| Ok(BoundKey { fingerprint: r.try_get(0)?, response: r.try_get(1)? }))
                .transpose()
                .map_err(fail(side.what))
        })
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
        side.with(|client| {
            let mut tx = client.transaction().map_err(fail(side.what))?;
            tx.execute(
                "INSERT INTO serve_idempotency_keys (scope, key, fingerprint, response, created_at) \
                 VALUES ($1, $2, $3, $4, $5) ON CONFLICT (scope, key) DO UPDATE \
                 SET fingerprint = EXCLUDED.fingerprint, response = EXCLUDED.response, created_at = EXCLUDED.created_at",
                &[&scope, &key, &fingerprint, &response, &now],
            )
            .map_err(fail(side.what))?;
            tx.execute(
                "DELETE FROM serve_idempotency_keys WHERE scope = $1 AND created_at < $2",
                &[&scope, &forget_before],
            )
            .map_err(fail(side.what))?;
            tx.commit().map_err(fail(side.what))
        })
    }

    fn bind(&self, scope: &str, key: &str, fingerprint: &str, now: i64) -> Result<(), StoreError> {
        let side = &self.0;
        side.with(|client| {
            client
                .execute(
                    "INSERT INTO serve_idempotency_keys (scope, key, fingerprint, response, created_at) \
                     VALUES ($1, $2, $3, NULL, $4) ON CONFLICT (scope, key) DO NOTHING",
                    &[&scope, &key, &fingerprint, &now],
                )
                .map_err(fail(side.what))
        })?;
        Ok(())
    }
}

fn delivery(r: &Row) -> Result<Delivery, StoreError> {
    let get = fail("notification outbox");
    Ok(Delivery {
        id: r.try_get(0).map_err(&get)?,
        case: r.try_get(1).map_err(&get)?,
        trigger: r.try_get(2).map_err(&get)?,
        channel: r.try_get(3).map_err(&get)?,
        kind: r.try_get(4).map_err(&get)?,
        state: r.try_get(5).map_err(&get)?,
        attempts: int(r.try_get(6).map_err(&get)?, "attempt count")?,
        last_error: r.try_get(7).map_err(&get)?,
        created_at: r.try_get(8).map_err(&get)?,
        delivered_at: r.try_get(9).map_err(&get)?,
    })
}

impl DeliveryStore for PostgresDeliveries {
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
        let added = side.with(|client| {
            let mut tx = client.transaction().map_err(fail(side.what))?;
            let mut added = 0u64;
            for q in channels {
                let state = if q.refused.is_some() { "failed" } else { "pending" };
                let n = tx
                    .execute(
                        "INSERT INTO serve_deliveries
                            (case_id, trigger_key, channel, kind, payload, state, next_at_ms, last_error, created_at)
                         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
                         ON CONFLICT (case_id, trigger_key, channel) DO NOTHING",
                        &[&case, &occasion, &q.channel, &q.kind, &payload, &state, &due_ms, &q.refused, &now],
                    )
                    .map_err(fail(side.what))?;
                added = added.saturating_add(n);
            }
            tx.commit().map_err(fail(side.what))?;
            Ok(added)
        })?;
        usize::try_from(added).map_err(|_| StoreError::Backend(format!("{}: {added} rows", side.what)))
    }

    fn deliveries(&self, case: &str) -> Result<Vec<Delivery>, StoreError> {
        let side = &self.0;
        let rows = side.with(|client| {
            client
                .query(
                    "SELECT id, case_id, trigger_key, channel, kind, state, attempts, last_error, created_at, delivered_at
                     FROM serve_deliveries WHERE case_id = $1 ORDER BY id",
                    &[&case],
                )
                .map_err(fail(side.what))
        })?;
        rows.iter().map(delivery).collect()
    }

    fn due(&self, now_ms: i64, limit: i64) -> Result<Vec<DueDelivery>, StoreError> {
        let side = &self.0;
        let rows = side.with(|client| {
            client
                .query(
                    // SKIP LOCKED: a row another replica is claiming right now is its, not ours.
                    "UPDATE serve_deliveries SET next_at_ms = $3 WHERE id IN (
                         SELECT id FROM serve_deliveries WHERE state = 'pending' AND next_at_ms <= $1
                         ORDER BY next_at_ms, id LIMIT $2 FOR UPDATE SKIP LOCKED)
                     RETURNING id, channel, payload, attempts",
                    &[&now_ms, &limit, &now_ms.saturating_add(CLAIM_LEASE_MS)],
                )
                .map_err(fail(side.what))
        })?;
        let get = fail(side.what);
        let mut claimed = rows
            .iter()
            .map(|r| {
                Ok(DueDelivery {
                    id: r.try_get(0).map_err(&get)?,
                    channel: r.try_get(1).map_err(&get)?,
                    payload: r.try_get(2).map_err(&get)?,
                    attempts: int(r.try_get(3).map_err(&get)?, "attempt count")?,
                })
            })
            .collect::<Result<Vec<_>, StoreError>>()?;
        // RETURNING keeps no order: the oldest first, as queued.
        claimed.sort_by_key(|d| d.id);
        Ok(claimed)
    }

    fn next_due_ms(&self) -> Result<Option<i64>, StoreError> {
        let side = &self.0;
        side.with(|client| {
            client
                .query_one("SELECT MIN(next_at_ms) FROM serve_deliveries WHERE state = 'pending'", &[])
                .and_then(|r| r.try_get(0))
                .map_err(fail(side.what))
        })
    }

    fn record(&self, id: i64, attempts: u32, outcome: AttemptOutcome<'_>) -> Result<(), StoreError> {
        let side = &self.0;
        let attempts = i64::from(attempts);
        side.with(|client| {
            match outcome {
                AttemptOutcome::Delivered { at } => client.execute(
                    "UPDATE serve_deliveries SET state = 'delivered', attempts = $2, last_error = NULL, delivered_at = $3
                     WHERE id = $1",
                    &[&id, &attempts, &at],
                ),
                AttemptOutcome::GaveUp { error } => client.execute(
                    "UPDATE serve_deliveries SET state = 'failed', attempts = $2, last_error = $3 WHERE id = $1",
                    &[&id, &attempts, &error],
                ),
                AttemptOutcome::Retry { error, next_at_ms } => client.execute(
                    "UPDATE serve_deliveries SET attempts = $2, last_error = $3, next_at_ms = $4 WHERE id = $1",
                    &[&id, &attempts, &error, &next_at_ms],
                ),
            }
            .map_err(fail(side.what))
        })?;
        Ok(())
    }
}

impl WriteProbe for PostgresWriteProbe {
    fn write(&self, now: i64) -> Result<(), StoreError> {
        let side = &self.0;
        side.with(|client| {
            client
                .execute(
                    "INSERT INTO serve_health (id, checked_at) VALUES (1, $1) \
                     ON CONFLICT (id) DO UPDATE SET checked_at = EXCLUDED.checked_at",
                    &[&now],
                )
                .map_err(fail(side.what))
        })?;
        Ok(())
    }
}

const OVERRIDE_COLUMNS: &str = "id, overrides, author, json, receipt, created_at, expires_at, \
     reviewer, verdict, note, verdict_receipt, reviewed_at";

fn override_row(r: &Row) -> Result<StoredOverride, postgres::Error> {
    let verdict = match (r.try_get::<_, Option<String>>(7)?, r.try_get::<_, Option<String>>(8)?) {
        (Some(reviewer), Some(verdict)) => Some(Verdict {
            reviewer,
            verdict,
            note: r.try_get(9)?,
            receipt: r.try_get::<_, Option<String>>(10)?.unwrap_or_default(),
            at: r.try_get::<_, Option<i64>>(11)?.unwrap_or_default(),
        }),
        _ => None,
    };
    Ok(StoredOverride {
        id: r.try_get(0)?,
        overrides: r.try_get(1)?,
        author: r.try_get(2)?,
        json: r.try_get(3)?,
        receipt: r.try_get(4)?,
        created_at: r.try_get(5)?,
        expires_at: r.try_get(6)?,
        verdict,
    })
}

impl OverrideStore for PostgresOverrides {
    fn remember_denial(&self, d: &Denial) -> Result<(), StoreError> {
        let side = &self.0;
        side.with(|client| {
            client
                .execute(
                    "INSERT INTO serve_denials (decision_id, agent, json, at) VALUES ($1, $2, $3, $4) \
                     ON CONFLICT (decision_id) DO NOTHING",
                    &[&d.decision_id, &d.agent, &d.json, &d.at],
                )
                .map_err(fail(side.what))
        })?;
        Ok(())
    }

    fn denial(&self, decision_id: &str) -> Result<Option<Denial>, StoreError> {
        let side = &self.0;
        side.with(|client| {
            let row = client
                .query_opt(
                    "SELECT decision_id, agent, json, at FROM serve_denials WHERE decision_id = $1",
                    &[&decision_id],
                )
                .map_err(fail(side.what))?;
            row.map(|r| -> Result<Denial, postgres::Error> {
                Ok(Denial { decision_id: r.try_get(0)?, agent: r.try_get(1)?, json: r.try_get(2)?, at: r.try_get(3)? })
            })
            .transpose()
            .map_err(fail(side.what))
        })
    }

    fn active(&self, overrides: &str, now: i64) -> Result<Option<String>, StoreError> {
        let side = &self.0;
        side.with(|client| {
            let row = client
                .query_opt(
                    "SELECT id FROM serve_overrides WHERE overrides = $1 AND expires_at > $2 ORDER BY created_at LIMIT 1",
                    &[&overrides, &now],
                )
                .map_err(fail(side.what))?;
            row.map(|r| r.try_get::<_, String>(0)).transpose().map_err(fail(side.what))
        })
    }

    fn grant(&self, o: &StoredOverride, now: i64) -> Result<Granted, StoreError> {
        let side = &self.0;
        side.with(|client| {
            let mut tx = client.transaction().map_err(fail(side.what))?;
            // Replicas grant one at a time per denial: the lock is the denial's id.
            tx.execute("SELECT pg_advisory_xact_lock(hashtext($1))", &[&o.overrides]).map_err(fail(side.what))?;
            let active = tx
                .query_opt(
                    "SELECT id FROM serve_overrides WHERE overrides = $1 AND expires_at > $2 ORDER BY created_at LIMIT 1",
                    &[&o.overrides, &now],
                )
                .map_err(fail(side.what))?;
            if let Some(r) = active {
                let id: String = r.try_get(0).map_err(fail(side.what))?;
                return Ok(Granted::Active(id));
            }
            tx.execute(
                "INSERT INTO serve_overrides (id, overrides, author, json, receipt, created_at, expires_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7)",
                &[&o.id, &o.overrides, &o.author, &o.json, &o.receipt, &o.created_at, &o.expires_at],
            )
            .map_err(fail(side.what))?;
            tx.commit().map_err(fail(side.what))?;
            Ok(Granted::Granted)
        })
    }

    fn get(&self, id: &str) -> Result<Option<StoredOverride>, StoreError> {
        let side = &self.0;
        side.with(|client| {
            let row = client
                .query_opt(&format!("SELECT {OVERRIDE_COLUMNS} FROM serve_overrides WHERE id = $1"), &[&id])
                .map_err(fail(side.what))?;
            row.as_ref().map(override_row).transpose().map_err(fail(side.what))
        })
    }

    fn unreviewed(&self) -> Result<Vec<StoredOverride>, StoreError> {
        let side = &self.0;
        side.with(|client| {
            let rows = client
                .query(
                    &format!(
                        "SELECT {OVERRIDE_COLUMNS} FROM serve_overrides WHERE verdict IS NULL ORDER BY created_at, id"
                    ),
                    &[],
                )
                .map_err(fail(side.what))?;
            rows.iter().map(override_row).collect::<Result<_, _>>().map_err(fail(side.what))
        })
    }

    fn review(&self, id: &str, v: &Verdict) -> Result<bool, StoreError> {
        let side = &self.0;
        let n = side.with(|client| {
            client
                .execute(
                    "UPDATE serve_overrides SET reviewer = $2, verdict = $3, note = $4, verdict_receipt = $5, reviewed_at = $6 \
                     WHERE id = $1 AND verdict IS NULL",
                    &[&id, &v.reviewer, &v.verdict, &v.note, &v.receipt, &v.at],
                )
                .map_err(fail(side.what))
        })?;
        Ok(n == 1)
    }
}

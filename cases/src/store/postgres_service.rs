//! The PostgreSQL side of [`super::service`]: each on a connection of its own to the store's
//! database (so none waits behind the lifecycle's write transaction), in the tables the store's
//! migrations created. Every replica sharing the database shares these too: a session's
//! history, an idempotency key bound on one replica and retried on another, the outbox.

use super::postgres::{fail, Connection, PostgresStore, KEEP_DENIAL};
use super::service::{
    AttemptOutcome, BoundKey, Delivery, DeliveryStore, Denial, DueDelivery, Granted, IdempotencyKeyStore,
    OverrideStore, Queued, SessionAction, SessionHistory, StoredOverride, Verdict, WriteProbe, CLAIM_LEASE_MS,
};
use super::service_rows::{
    bound_key, delivery, denial, due_delivery, oldest_first, queued_state, session_action, stored_override, Columns,
    FromColumn, OVERRIDE_COLUMNS,
};
use super::side::Side;
use super::StoreError;
use postgres::types::ToSql;
use postgres::{Client, Row};

/// The parameters of a statement, as the driver takes them.
type Params<'a> = &'a [&'a (dyn ToSql + Sync)];
/// How a side connection's query reads a row (as [`Columns`] or a single column).
type Decode<T> = fn(&Read<'_>) -> Result<T, StoreError>;

impl Side<Connection> {
    fn open(store: &PostgresStore, what: &'static str) -> Result<Side<Connection>, StoreError> {
        let conn = Connection::open(store.config().clone()).map_err(|e| StoreError::Backend(format!("{what}: {e}")))?;
        Ok(Side::new(conn, what))
    }

    /// Runs `f` on this side's connection.
    fn with<T: Send>(&self, f: impl FnOnce(&mut Client) -> Result<T, StoreError> + Send) -> Result<T, StoreError> {
        self.lock()?.with(f)
    }

    /// Runs `sql` and decodes every row it returns (on the connection's thread, as one call).
    fn query<T: Send>(&self, sql: &str, params: Params<'_>, decode: Decode<T>) -> Result<Vec<T>, StoreError> {
        self.with(|client| {
            let rows = client.query(sql, params).map_err(fail(self.what))?;
            rows.iter().map(|row| decode(&Read { row, what: self.what })).collect()
        })
    }

    /// Runs `sql` and decodes the row it returns, if any.
    fn query_opt<T: Send>(&self, sql: &str, params: Params<'_>, decode: Decode<T>) -> Result<Option<T>, StoreError> {
        self.with(|client| {
            let row = client.query_opt(sql, params).map_err(fail(self.what))?;
            row.map(|row| decode(&Read { row: &row, what: self.what })).transpose()
        })
    }

    /// Runs the statement `sql`; returns how many rows it changed.
    fn execute(&self, sql: &str, params: Params<'_>) -> Result<u64, StoreError> {
        self.with(|client| client.execute(sql, params).map_err(fail(self.what)))
    }
}

fn int<T: TryFrom<i64>>(n: i64, what: &str) -> Result<T, StoreError> {
    T::try_from(n).map_err(|_| StoreError::Backend(format!("stored {what} {n} is out of range")))
}

/// A row read for one side connection, its failures named as the connection's.
struct Read<'a> {
    row: &'a Row,
    what: &'static str,
}

impl Columns for Read<'_> {
    type Error = StoreError;

    fn get<T: FromColumn>(&self, i: usize) -> Result<T, StoreError> {
        self.row.try_get(i).map_err(fail(self.what))
    }

    fn attempts(&self, i: usize) -> Result<u32, StoreError> {
        int(self.get(i)?, "attempt count")
    }
}

/// [`SessionHistory`] in `serve_session_actions`.
pub struct PostgresSessionHistory(Side<Connection>);
/// [`IdempotencyKeyStore`] in `serve_idempotency_keys`.
pub struct PostgresIdempotencyKeys(Side<Connection>);
/// [`DeliveryStore`] in `serve_deliveries`.
pub struct PostgresDeliveries(Side<Connection>);
/// [`WriteProbe`] on `serve_health`.
pub struct PostgresWriteProbe(Side<Connection>);
/// [`OverrideStore`] in `serve_denials` and `serve_overrides`.
pub struct PostgresOverrides(Side<Connection>);

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
        self.0.query(
            "SELECT agent, session, tool, decision, at FROM serve_session_actions WHERE at >= $1 ORDER BY id",
            &[&since],
            |r| session_action(r),
        )
    }

    fn prune(&self, before: i64) -> Result<usize, StoreError> {
        let n = self.0.execute("DELETE FROM serve_session_actions WHERE at < $1", &[&before])?;
        usize::try_from(n).map_err(|_| StoreError::Backend(format!("{}: {n} rows", self.0.what)))
    }
}

impl IdempotencyKeyStore for PostgresIdempotencyKeys {
    fn bound(&self, scope: &str, key: &str, since: i64) -> Result<Option<BoundKey>, StoreError> {
        self.0.query_opt(
            "SELECT fingerprint, response FROM serve_idempotency_keys \
             WHERE scope = $1 AND key = $2 AND created_at >= $3",
            &[&scope, &key, &since],
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
        self.0.execute(
            "INSERT INTO serve_idempotency_keys (scope, key, fingerprint, response, created_at) \
             VALUES ($1, $2, $3, NULL, $4) ON CONFLICT (scope, key) DO NOTHING",
            &[&scope, &key, &fingerprint, &now],
        )?;
        Ok(())
    }
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
                let n = tx
                    .execute(
                        "INSERT INTO serve_deliveries
                            (case_id, trigger_key, channel, kind, payload, state, next_at_ms, last_error, created_at)
                         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
                         ON CONFLICT (case_id, trigger_key, channel) DO NOTHING",
                        &[&case, &occasion, &q.channel, &q.kind, &payload, &queued_state(q), &due_ms, &q.refused, &now],
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
        rows.iter().map(|row| delivery(&Read { row, what: side.what })).collect()
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
        let claimed = rows.iter().map(|row| due_delivery(&Read { row, what: side.what })).collect::<Result<_, _>>()?;
        Ok(oldest_first(claimed))
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
        self.0.execute(
            "INSERT INTO serve_health (id, checked_at) VALUES (1, $1) \
             ON CONFLICT (id) DO UPDATE SET checked_at = EXCLUDED.checked_at",
            &[&now],
        )?;
        Ok(())
    }
}

impl OverrideStore for PostgresOverrides {
    fn remember_denial(&self, d: &Denial) -> Result<(), StoreError> {
        self.0.execute(KEEP_DENIAL, &[&d.decision_id, &d.agent, &d.json, &d.at])?;
        Ok(())
    }

    fn denial(&self, decision_id: &str) -> Result<Option<Denial>, StoreError> {
        self.0.query_opt(
            "SELECT decision_id, agent, json, at FROM serve_denials WHERE decision_id = $1",
            &[&decision_id],
            |r| denial(r),
        )
    }

    fn active(&self, overrides: &str, now: i64) -> Result<Option<String>, StoreError> {
        self.0.query_opt(
            "SELECT id FROM serve_overrides WHERE overrides = $1 AND expires_at > $2 ORDER BY created_at LIMIT 1",
            &[&overrides, &now],
            |r| r.get(0),
        )
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
        self.0.query_opt(&format!("SELECT {OVERRIDE_COLUMNS} FROM serve_overrides WHERE id = $1"), &[&id], |r| {
            stored_override(r)
        })
    }

    fn unreviewed(&self) -> Result<Vec<StoredOverride>, StoreError> {
        self.0.query(
            &format!("SELECT {OVERRIDE_COLUMNS} FROM serve_overrides WHERE verdict IS NULL ORDER BY created_at, id"),
            &[],
            |r| stored_override(r),
        )
    }

    fn review(&self, id: &str, v: &Verdict) -> Result<bool, StoreError> {
        let n = self.0.execute(
            "UPDATE serve_overrides SET reviewer = $2, verdict = $3, note = $4, verdict_receipt = $5, reviewed_at = $6 \
             WHERE id = $1 AND verdict IS NULL",
            &[&id, &v.reviewer, &v.verdict, &v.note, &v.receipt, &v.at],
        )?;
        Ok(n == 1)
    }
}

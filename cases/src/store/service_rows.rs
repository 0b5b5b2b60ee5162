//! The rows of the service tables ([`super::service`]) as both backends read and write them:
//! each `SELECT` of [`super::sqlite_service`] and [`super::postgres_service`] names the columns
//! in the order decoded here, so that what a row means is written once for both drivers.

use super::service::{BoundKey, Delivery, Denial, DueDelivery, Queued, SessionAction, StoredOverride, Verdict};

/// A value both drivers decode from a column.
pub(super) trait FromColumn: rusqlite::types::FromSql + postgres::types::FromSqlOwned {}

impl<T: rusqlite::types::FromSql + postgres::types::FromSqlOwned> FromColumn for T {}

/// A row of either driver, read by column index.
pub(super) trait Columns {
    /// What a column that does not decode fails with: the driver's error, or the store's
    /// (each backend maps its failures as it always named them).
    type Error;
    /// Column `i`.
    fn get<T: FromColumn>(&self, i: usize) -> Result<T, Self::Error>;
    /// Column `i`, an attempt count: PostgreSQL keeps it as a `BIGINT`, checked into range.
    fn attempts(&self, i: usize) -> Result<u32, Self::Error>;
}

/// `agent, session, tool, decision, at`.
pub(super) fn session_action<R: Columns>(r: &R) -> Result<SessionAction, R::Error> {
    Ok(SessionAction { agent: r.get(0)?, session: r.get(1)?, tool: r.get(2)?, decision: r.get(3)?, at: r.get(4)? })
}

/// `fingerprint, response`.
pub(super) fn bound_key<R: Columns>(r: &R) -> Result<BoundKey, R::Error> {
    Ok(BoundKey { fingerprint: r.get(0)?, response: r.get(1)? })
}

/// The state a delivery is queued in: a channel refused at once is recorded `failed`, so that
/// its failure shows; any other is `pending`.
pub(super) fn queued_state(q: &Queued) -> &'static str {
    if q.refused.is_some() {
        "failed"
    } else {
        "pending"
    }
}

/// `id, case_id, trigger_key, channel, kind, state, attempts, last_error, created_at,
/// delivered_at`.
pub(super) fn delivery<R: Columns>(r: &R) -> Result<Delivery, R::Error> {
    Ok(Delivery {
        id: r.get(0)?,
        case: r.get(1)?,
        trigger: r.get(2)?,
        channel: r.get(3)?,
        kind: r.get(4)?,
        state: r.get(5)?,
        attempts: r.attempts(6)?,
        last_error: r.get(7)?,
        created_at: r.get(8)?,
        delivered_at: r.get(9)?,
    })
}

/// `id, channel, payload, attempts`, as a claim returns them.
pub(super) fn due_delivery<R: Columns>(r: &R) -> Result<DueDelivery, R::Error> {
    Ok(DueDelivery { id: r.get(0)?, channel: r.get(1)?, payload: r.get(2)?, attempts: r.attempts(3)? })
}

/// The deliveries a claim returned, oldest first (as queued): `RETURNING` keeps no order.
pub(super) fn oldest_first(mut claimed: Vec<DueDelivery>) -> Vec<DueDelivery> {
    claimed.sort_by_key(|d| d.id);
    claimed
}

/// `decision_id, agent, json, at`.
pub(super) fn denial<R: Columns>(r: &R) -> Result<Denial, R::Error> {
    Ok(Denial { decision_id: r.get(0)?, agent: r.get(1)?, json: r.get(2)?, at: r.get(3)? })
}

/// The columns [`stored_override`] decodes, in its order.
pub(super) const OVERRIDE_COLUMNS: &str = "id, overrides, author, json, receipt, created_at, expires_at, \
     reviewer, verdict, note, verdict_receipt, reviewed_at";

/// [`OVERRIDE_COLUMNS`]: the verdict is there once a reviewer and a verdict are.
pub(super) fn stored_override<R: Columns>(r: &R) -> Result<StoredOverride, R::Error> {
    let verdict = match (r.get::<Option<String>>(7)?, r.get::<Option<String>>(8)?) {
        (Some(reviewer), Some(verdict)) => Some(Verdict {
            reviewer,
            verdict,
            note: r.get(9)?,
            receipt: r.get::<Option<String>>(10)?.unwrap_or_default(),
            at: r.get::<Option<i64>>(11)?.unwrap_or_default(),
        }),
        _ => None,
    };
    Ok(StoredOverride {
        id: r.get(0)?,
        overrides: r.get(1)?,
        author: r.get(2)?,
        json: r.get(3)?,
        receipt: r.get(4)?,
        created_at: r.get(5)?,
        expires_at: r.get(6)?,
        verdict,
    })
}

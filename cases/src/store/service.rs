//! What a service keeps beside the cases, behind the same store as they: an agent session's
//! history, the idempotency keys of retried calls, the notification outbox, and a write probe
//! for health checks. A server
//! asks these traits, never SQL, so that another backend (PostgreSQL) can keep them too.
//! [`super::sqlite::SqliteStore`] hands out the SQLite implementations
//! ([`super::sqlite::SqliteStore::session_history`], ...), each on a connection of its own to the
//! store's file, so none of them ever holds the lifecycle's write transaction.

use super::StoreError;

/// One action of an agent's session, as its history keeps it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionAction {
    pub agent: String,
    pub session: String,
    pub tool: String,
    /// The decision it got (`allow`, `deny`, ...).
    pub decision: String,
    pub at: i64,
}

/// The recorded actions of every session, oldest first.
pub trait SessionHistory: Send + Sync {
    /// Appends `batch` in one transaction: all of it or none.
    fn append(&self, batch: &[SessionAction]) -> Result<(), StoreError>;
    /// Every action at or after `since`, in the order appended.
    fn since(&self, since: i64) -> Result<Vec<SessionAction>, StoreError>;
    /// Forgets the actions before `before`; returns how many.
    fn prune(&self, before: i64) -> Result<usize, StoreError>;
}

/// A key as bound to the call it was first used for, and the answer kept for its retries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BoundKey {
    pub fingerprint: String,
    pub response: Option<String>,
}

/// Idempotency keys by scope (a server's `decide`, or a case id for events).
pub trait IdempotencyKeyStore: Send + Sync {
    /// The key `key` in `scope` if it was bound at or after `since`.
    fn bound(&self, scope: &str, key: &str, since: i64) -> Result<Option<BoundKey>, StoreError>;
    /// Binds `key` to `fingerprint` with its answer (replacing an earlier binding), and forgets
    /// the keys of `scope` bound before `forget_before`.
    fn keep_answer(
        &self,
        scope: &str,
        key: &str,
        fingerprint: &str,
        response: &str,
        now: i64,
        forget_before: i64,
    ) -> Result<(), StoreError>;
    /// Binds `key` to `fingerprint` unless it is bound already (the first binder wins).
    fn bind(&self, scope: &str, key: &str, fingerprint: &str, now: i64) -> Result<(), StoreError>;
}

/// One recorded notification delivery, as `GET /v1/cases/{id}/deliveries` shows it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Delivery {
    pub id: i64,
    pub case: String,
    pub trigger: String,
    pub channel: String,
    pub kind: String,
    /// `pending` (queued or waiting for a retry), `delivered`, or `failed` (gave up).
    pub state: String,
    pub attempts: u32,
    pub last_error: Option<String>,
    pub created_at: i64,
    pub delivered_at: Option<i64>,
}

/// A channel a message is queued to: its kind, or why it fails at once (an unknown channel).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Queued {
    pub channel: String,
    pub kind: String,
    pub refused: Option<String>,
}

/// A pending delivery whose time has come.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DueDelivery {
    pub id: i64,
    pub channel: String,
    pub payload: String,
    pub attempts: u32,
}

/// What became of one attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AttemptOutcome<'a> {
    Delivered {
        at: i64,
    },
    /// No attempt left: the delivery is `failed` for good.
    GaveUp {
        error: &'a str,
    },
    /// Tried again at `next_at_ms`.
    Retry {
        error: &'a str,
        next_at_ms: i64,
    },
}

/// The notification outbox: a delivery per (case, occasion, channel), recorded before anything
/// is sent.
/// How long a claimed delivery is kept from other claimants: longer than any attempt may take.
pub const CLAIM_LEASE_MS: i64 = 5 * 60 * 1000;

pub trait DeliveryStore: Send + Sync {
    /// Queues `payload` for `case` on `occasion` to each channel, due at `due_ms`; a channel
    /// already queued for that case and occasion is left as it is. Returns how many were new.
    fn queue(
        &self,
        case: &str,
        occasion: &str,
        payload: &str,
        channels: &[Queued],
        due_ms: i64,
        now: i64,
    ) -> Result<usize, StoreError>;
    /// Every delivery of `case`, oldest first.
    fn deliveries(&self, case: &str) -> Result<Vec<Delivery>, StoreError>;
    /// Claims at most `limit` pending deliveries due by `now_ms`, earliest first: each is put
    /// off by [`CLAIM_LEASE_MS`] in the same statement, so another process (a replica) sharing
    /// the store does not claim it too while this one sends it. [`DeliveryStore::record`] then
    /// sets its real state; a claim never recorded (the process died) is due again after the lease.
    fn due(&self, now_ms: i64, limit: i64) -> Result<Vec<DueDelivery>, StoreError>;
    /// When the earliest pending delivery is due (milliseconds), if any.
    fn next_due_ms(&self) -> Result<Option<i64>, StoreError>;
    /// Records attempt number `attempts` of delivery `id`.
    fn record(&self, id: i64, attempts: u32, outcome: AttemptOutcome<'_>) -> Result<(), StoreError>;
}

/// Proves the store takes writes (one row, rewritten each time).
pub trait WriteProbe: Send + Sync {
    fn write(&self, now: i64) -> Result<(), StoreError>;
}

/// A denial the service answered without opening a case, kept so that an override can name it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Denial {
    pub decision_id: String,
    /// The agent that was denied.
    pub agent: String,
    /// The decision JSON as answered (with its `action_hash` and `receipt`).
    pub json: String,
    pub at: i64,
}

/// A reviewer's verdict on an override.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verdict {
    pub reviewer: String,
    /// `accept` or `flag`.
    pub verdict: String,
    pub note: Option<String>,
    /// The hash of the verdict's receipt.
    pub receipt: String,
    pub at: i64,
}

/// An override as kept: a separate decision naming the denial it overrides.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredOverride {
    /// The override's own `decision_id`.
    pub id: String,
    /// The `decision_id` of the denial it overrides.
    pub overrides: String,
    /// The identity that granted it.
    pub author: String,
    /// The override's decision JSON as answered.
    pub json: String,
    /// The hash of its receipt in the chain.
    pub receipt: String,
    pub created_at: i64,
    pub expires_at: i64,
    pub verdict: Option<Verdict>,
}

/// What [`OverrideStore::grant`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Granted {
    Granted,
    /// Another override of the same denial is still in force: this one was not kept.
    Active(String),
}

/// The denials a service answered and the overrides granted on them, with their reviews. An
/// override never changes the denial's row: it is a row of its own.
pub trait OverrideStore: Send + Sync {
    /// Keeps a denial (a second call with the same id changes nothing).
    fn remember_denial(&self, denial: &Denial) -> Result<(), StoreError>;
    fn denial(&self, decision_id: &str) -> Result<Option<Denial>, StoreError>;
    /// The id of an override of denial `overrides` that expires after `now`, if any.
    fn active(&self, overrides: &str, now: i64) -> Result<Option<String>, StoreError>;
    /// Keeps `o` unless an override of the same denial expires after `now`, in one transaction.
    fn grant(&self, o: &StoredOverride, now: i64) -> Result<Granted, StoreError>;
    fn get(&self, id: &str) -> Result<Option<StoredOverride>, StoreError>;
    /// The overrides without a verdict, oldest first.
    fn unreviewed(&self) -> Result<Vec<StoredOverride>, StoreError>;
    /// Records the first verdict on override `id`; `false` when it already had one (or none
    /// such exists).
    fn review(&self, id: &str, verdict: &Verdict) -> Result<bool, StoreError>;
}

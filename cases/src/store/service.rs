//! What a service keeps beside the cases, behind the same store as they: an agent session's
//! history, the idempotency keys of retried calls, and a write probe for health checks. A server
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

/// Proves the store takes writes (one row, rewritten each time).
pub trait WriteProbe: Send + Sync {
    fn write(&self, now: i64) -> Result<(), StoreError>;
}

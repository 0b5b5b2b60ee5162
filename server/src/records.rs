//! The case records: the lifecycle behind its lock, what the store keeps beside the cases for
//! the service (idempotency keys, the denials and overrides, the health probe), the `decide`
//! receipts waiting for their group commit, and who waits for which case. Every handle here comes
//! from the one store the service opened (app.rs).

use crate::audit::DecisionLog;
use crate::lifecycle::Cases;
use crate::replay::IdempotencyKeys;
use crate::wait::Waiters;
use aarm_cases::store::postgres_listen::Listener;
use aarm_cases::store::service::{OverrideStore, WriteProbe};
use std::sync::Arc;

/// The case lifecycle and the store's side tables, and the long-polls waiting on them.
pub struct Records {
    /// The lifecycle behind its lock (lifecycle.rs).
    pub(crate) cases: Cases,
    /// Long-polls and inbox streams, woken by every committed change (wait.rs).
    pub waiters: Arc<Waiters>,
    /// Idempotency keys of decides, case events and overrides (replay.rs).
    pub(crate) keys: IdempotencyKeys,
    /// `decide` receipts waiting for their group commit (audit.rs).
    pub(crate) decisions: Arc<DecisionLog>,
    /// The denials answered and the overrides granted on them (overrides.rs).
    pub(crate) overrides: Box<dyn OverrideStore>,
    /// The store's write probe for `/healthz`.
    pub(crate) probe: Arc<dyn WriteProbe>,
    /// Wakes `waiters` on changes other replicas commit (PostgreSQL); stops when dropped.
    _listener: Option<Listener>,
}

impl std::fmt::Debug for Records {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Records").finish()
    }
}

impl Records {
    /// The records over `cases` and the side tables of the same store.
    pub(crate) fn new(
        cases: Cases,
        waiters: Arc<Waiters>,
        keys: IdempotencyKeys,
        overrides: Box<dyn OverrideStore>,
        probe: Arc<dyn WriteProbe>,
        listener: Option<Listener>,
    ) -> Records {
        Records {
            cases,
            waiters,
            keys,
            decisions: Arc::new(DecisionLog::default()),
            overrides,
            probe,
            _listener: listener,
        }
    }
}

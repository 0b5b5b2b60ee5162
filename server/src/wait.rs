//! Who is waiting for which case: a long-poll (`/v1/cases/{id}/wait`) subscribes to its case and
//! is woken by every committed change of it (an approval over HTTP, the clock, a reload), then
//! reads the case again. The registry holds a sender only while someone waits.
//!
//! On a PostgreSQL store the changes other replicas commit wake them too ([`follow_store`]).

use aarm_cases::store::any::AnyStore;
use aarm_cases::store::postgres_listen::{Changed, Listener};
use aarm_cases::store::StoreError;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use tokio::sync::watch;

/// Who waits for which case, and for any change at all.
#[derive(Debug)]
pub struct Waiters {
    map: Mutex<HashMap<String, watch::Sender<u64>>>,
    /// Changes whenever any case does (or one opens): what the inbox's stream follows.
    any: watch::Sender<u64>,
}

impl Default for Waiters {
    fn default() -> Waiters {
        Waiters { map: Mutex::default(), any: watch::channel(0).0 }
    }
}

impl Waiters {
    /// Nobody waiting.
    pub fn new() -> Waiters {
        Waiters::default()
    }

    /// A receiver that changes whenever any case does.
    pub fn subscribe_all(&self) -> watch::Receiver<u64> {
        self.any.subscribe()
    }

    /// A receiver that changes whenever case `id` does.
    pub fn subscribe(&self, id: &str) -> Option<watch::Receiver<u64>> {
        let mut map = self.map.lock().ok()?;
        let tx = map.entry(id.to_string()).or_insert_with(|| watch::channel(0).0);
        Some(tx.subscribe())
    }

    /// Case `id` changed: wake its waiters (and forget the sender once nobody listens).
    pub fn changed(&self, id: &str) {
        self.any.send_modify(|v| *v = v.wrapping_add(1));
        let Ok(mut map) = self.map.lock() else { return };
        if let Some(tx) = map.get(id) {
            tx.send_modify(|v| *v = v.wrapping_add(1));
            if tx.receiver_count() == 0 {
                map.remove(id);
            }
        }
    }

    /// Any case may have changed (changes were missed): wake every waiter to read again.
    pub fn changed_all(&self) {
        self.any.send_modify(|v| *v = v.wrapping_add(1));
        let Ok(mut map) = self.map.lock() else { return };
        map.retain(|_, tx| {
            tx.send_modify(|v| *v = v.wrapping_add(1));
            tx.receiver_count() > 0
        });
    }

    /// How many are waiting for case `id` now (for tests and diagnostics).
    pub fn watching(&self, id: &str) -> usize {
        self.map.lock().ok().and_then(|m| m.get(id).map(|tx| tx.receiver_count())).unwrap_or(0)
    }

    /// Drops senders nobody listens to any more (waits that timed out).
    pub fn prune(&self) {
        if let Ok(mut map) = self.map.lock() {
            map.retain(|_, tx| tx.receiver_count() > 0);
        }
    }
}

/// Wakes `waiters` on the case changes every process commits to `store` (another replica's
/// approval, its clock firing a timeout), for as long as the returned listener lives. None on
/// SQLite, where this process's own changes are all there are.
pub fn follow_store(store: &AnyStore, waiters: &Arc<Waiters>) -> Result<Option<Listener>, StoreError> {
    let waiters = Arc::clone(waiters);
    store.listen(move |change| match change {
        Changed::Case(id) => waiters.changed(&id),
        Changed::Lost(error) => tracing::warn!(%error, "case change listener: connection lost, reconnecting"),
        Changed::Unknown => {
            tracing::info!("case change listener: reconnected; waking every waiter to read again");
            waiters.changed_all();
        }
    })
}

//! The case service as the server uses it: the lifecycle (engine registry, state machine and
//! SQLite store) behind one mutex, driven only from blocking threads, because every write is a
//! synced SQLite transaction, and the service's clock read under that mutex. Whatever decides,
//! acts on a case, fires timers or records a decision takes a [`Cases`] (or the
//! [`crate::records::Records`] around it), not the whole service.

use crate::clock::Clock;
use crate::error::ApiError;
use aarm_cases::lifecycle::service::Lifecycle;
use aarm_cases::store::any::AnyStore;
use std::sync::{Arc, Mutex};

/// The lifecycle behind its lock, and the clock its events are stamped with.
pub struct Cases {
    lifecycle: Arc<Mutex<Lifecycle<AnyStore>>>,
    clock: Arc<Clock>,
}

impl std::fmt::Debug for Cases {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Cases").finish()
    }
}

impl Cases {
    pub fn new(lifecycle: Lifecycle<AnyStore>, clock: Arc<Clock>) -> Cases {
        Cases { lifecycle: Arc::new(Mutex::new(lifecycle)), clock }
    }

    /// The service's time now (the clock the lifecycle's events are stamped with).
    pub fn now(&self) -> i64 {
        self.clock.now()
    }

    /// Runs `f` on the lifecycle on a blocking thread (its writes are synced SQLite transactions).
    pub async fn run<T, F>(&self, f: F) -> Result<T, ApiError>
    where
        T: Send + 'static,
        F: FnOnce(&mut Lifecycle<AnyStore>) -> Result<T, ApiError> + Send + 'static,
    {
        let lifecycle = self.lifecycle.clone();
        tokio::task::spawn_blocking(move || {
            let mut lc =
                lifecycle.lock().map_err(|_| ApiError::Unavailable("the case store lock is poisoned".into()))?;
            let result = f(&mut lc);
            // Whatever read found a case unreadable, it is reported once, here.
            for u in lc.store().newly_unreadable() {
                tracing::error!(case = %u.id, error = %u.message, "case quarantined: its stored row cannot be read; every other case goes on (restore it from a backup)");
            }
            result
        })
        .await
        .map_err(|e| ApiError::Unavailable(format!("the case store task failed: {e}")))?
    }

    /// [`Cases::run`] for whatever applies a lifecycle event (open, approve, deny, evidence,
    /// cancel, tick): `f` gets the time read under the lifecycle's lock. Read before the lock,
    /// a request that waited for it behind a later one would carry an earlier time than the
    /// store's last event and be refused (`clock_went_back`); read under it, the times of the
    /// events follow the order they are committed in, because the clock never goes back.
    pub async fn run_at<T, F>(&self, f: F) -> Result<T, ApiError>
    where
        T: Send + 'static,
        F: FnOnce(&mut Lifecycle<AnyStore>, i64) -> Result<T, ApiError> + Send + 'static,
    {
        let clock = self.clock.clone();
        self.run(move |lc| f(lc, clock.now())).await
    }
}

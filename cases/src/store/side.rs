//! The connection a service table is kept on ([`super::service`]): one of its own per handle,
//! so that none waits behind the lifecycle's write transaction. Each backend adds how a
//! statement runs on its driver ([`super::sqlite_service`], [`super::postgres_service`]).

use super::StoreError;
use std::sync::{Mutex, MutexGuard};

/// One side connection, and what it is for (named in its errors).
pub(super) struct Side<C> {
    conn: Mutex<C>,
    /// What the connection is for: every error of its calls names it.
    pub(super) what: &'static str,
}

impl<C> Side<C> {
    pub(super) fn new(conn: C, what: &'static str) -> Side<C> {
        Side { conn: Mutex::new(conn), what }
    }

    /// The connection, held for one call. A holder that panicked poisoned it: its state is
    /// unknown, so every later call fails (closed) instead of using it.
    pub(super) fn lock(&self) -> Result<MutexGuard<'_, C>, StoreError> {
        self.conn.lock().map_err(|_| StoreError::Backend(format!("{}: the lock is poisoned", self.what)))
    }
}

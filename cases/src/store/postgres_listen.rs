//! Cross-replica wake: every write that changes a case sends the case id on the [`CHANNEL`]
//! (`pg_notify` inside the writing transaction, so PostgreSQL delivers it only if the write
//! commits: the store's side, in the `postgres` module), and [`PostgresStore::listen`] follows that channel on a connection and thread of
//! its own, so that a replica's waiters wake when another replica resolves their case.
//!
//! A notification only says "read this case again": a forged or duplicated one costs a read,
//! never a decision. When the listening connection fails, the listener reconnects and reports
//! [`Changed::Unknown`] (notifications sent while it was away are lost), so its host wakes
//! every waiter to read again rather than leave one asleep on a resolved case.

use super::postgres::{connect, fail, PostgresStore, CHANNEL};
use super::StoreError;
use postgres::fallible_iterator::FallibleIterator;
use postgres::{Client, Config};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// How often the listening thread looks whether it should stop (between notifications).
const STOP_CHECK: Duration = Duration::from_millis(500);
/// How long the listener waits before it connects again after a failure.
const RECONNECT_AFTER: Duration = Duration::from_secs(1);

/// What the listener saw.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Changed {
    /// The case with this id changed (on some replica, possibly this one).
    Case(String),
    /// The listening connection failed (why): until [`Changed::Unknown`], changes go unseen.
    Lost(String),
    /// Notifications may have been missed (the listening connection was re-established).
    Unknown,
}

/// A running listener; dropping it stops its thread (within [`STOP_CHECK`]).
#[derive(Debug)]
pub struct Listener {
    stop: Arc<AtomicBool>,
}

impl Drop for Listener {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

impl PostgresStore {
    /// Follows the case changes committed by every process on this database, calling
    /// `on_change` for each on a thread of its own, until the returned [`Listener`] is dropped.
    /// Fails if the first connection cannot be made or cannot listen.
    pub fn listen(&self, on_change: impl Fn(Changed) + Send + 'static) -> Result<Listener, StoreError> {
        let config = self.config().clone();
        let first = subscribe(&config)?;
        let stop = Arc::new(AtomicBool::new(false));
        let stopped = stop.clone();
        std::thread::Builder::new()
            .name("aarm-pg-listen".into())
            .spawn(move || follow(first, &config, &stopped, &on_change))
            .map_err(|e| StoreError::Backend(format!("postgres: cannot start the listener: {e}")))?;
        Ok(Listener { stop })
    }
}

/// A new connection that listens on [`CHANNEL`].
fn subscribe(config: &Config) -> Result<Client, StoreError> {
    let mut client = connect(config)?;
    client.batch_execute(&format!("LISTEN {CHANNEL}")).map_err(fail("listen"))?;
    Ok(client)
}

fn follow(mut client: Client, config: &Config, stop: &AtomicBool, on_change: &dyn Fn(Changed)) {
    while !stop.load(Ordering::Relaxed) {
        let next = client.notifications().timeout_iter(STOP_CHECK).next();
        match next {
            Ok(Some(n)) if n.channel() == CHANNEL => on_change(Changed::Case(n.payload().to_string())),
            Ok(_) => {}
            Err(e) => {
                on_change(Changed::Lost(e.to_string()));
                client = loop {
                    if stop.load(Ordering::Relaxed) {
                        return;
                    }
                    std::thread::sleep(RECONNECT_AFTER);
                    if let Ok(c) = subscribe(config) {
                        break c;
                    }
                };
                on_change(Changed::Unknown);
            }
        }
    }
}

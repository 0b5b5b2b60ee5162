//! The store a `--store` argument names, and the one place that tells the two apart: a
//! `postgres://` (or `postgresql://`) URL is a PostgreSQL database, anything else a SQLite file.
//! Commands and hosts open [`AnyStore`] and never look at the argument themselves.

use super::postgres::{is_postgres_url, PostgresStore};
use super::postgres_listen::{Changed, Listener};
use super::rows::Unreadable;
use super::service::{DeliveryStore, DenialDraft, IdempotencyKeyStore, OverrideStore, SessionHistory, WriteProbe};
use super::sqlite::SqliteStore;
use super::{CaseStore, Recorded, StoreError};
use crate::lifecycle::case::Case;
use crate::lifecycle::receipt::{Receipt, ReceiptDraft};
use ed25519_dalek::SigningKey;
use std::path::Path;

/// A SQLite file or a PostgreSQL database, behind one [`CaseStore`].
// A host holds one store for its lifetime: the size of the value does not matter.
#[allow(clippy::large_enum_variant)]
#[derive(Debug)]
pub enum AnyStore {
    /// A SQLite file: one host, or several processes on one machine.
    Sqlite(SqliteStore),
    /// A PostgreSQL database, shared by replicas of a service.
    Postgres(PostgresStore),
}

/// The PostgreSQL URL `store` is, if it is one (a path that is not UTF-8 is a file's).
fn postgres_url(store: &Path) -> Option<&str> {
    store.to_str().filter(|s| is_postgres_url(s))
}

/// `store` as messages may show it: a path as it is, a URL without its password or options.
pub fn describe(store: &Path) -> String {
    match postgres_url(store) {
        Some(url) => match url.parse::<postgres::Config>() {
            Ok(config) => format!("postgres://{}", super::postgres::describe(&config)),
            Err(_) => "postgres://…".into(),
        },
        None => store.display().to_string(),
    }
}

impl AnyStore {
    /// Opens the store `store` names. A SQLite file is created when `create` (only commands
    /// that open cases create a store); otherwise a missing one is an error. A PostgreSQL
    /// database must exist; its tables are created or migrated.
    pub fn open(store: &Path, create: bool) -> Result<AnyStore, StoreError> {
        match postgres_url(store) {
            Some(url) => PostgresStore::open(url).map(AnyStore::Postgres),
            None if create => SqliteStore::open(store).map(AnyStore::Sqlite),
            None => SqliteStore::open_existing(store).map(AnyStore::Sqlite),
        }
    }

    /// Receipts stored from now on are signed with `key`.
    pub fn with_signer(self, key: SigningKey) -> AnyStore {
        match self {
            AnyStore::Sqlite(s) => AnyStore::Sqlite(s.with_signer(key)),
            AnyStore::Postgres(s) => AnyStore::Postgres(s.with_signer(key)),
        }
    }

    /// The cases reads found unreadable (quarantined), in id order.
    pub fn unreadable(&self) -> Vec<Unreadable> {
        match self {
            AnyStore::Sqlite(s) => s.unreadable(),
            AnyStore::Postgres(s) => s.unreadable(),
        }
    }

    /// The unreadable cases not returned by an earlier call: what a host should log now.
    pub fn newly_unreadable(&self) -> Vec<Unreadable> {
        match self {
            AnyStore::Sqlite(s) => s.newly_unreadable(),
            AnyStore::Postgres(s) => s.newly_unreadable(),
        }
    }

    /// The session history kept in the same store.
    pub fn session_history(&self) -> Result<Box<dyn SessionHistory>, StoreError> {
        Ok(match self {
            AnyStore::Sqlite(s) => Box::new(s.session_history()?),
            AnyStore::Postgres(s) => Box::new(s.session_history()?),
        })
    }

    /// The idempotency keys kept in the same store.
    pub fn idempotency_keys(&self) -> Result<Box<dyn IdempotencyKeyStore>, StoreError> {
        Ok(match self {
            AnyStore::Sqlite(s) => Box::new(s.idempotency_keys()?),
            AnyStore::Postgres(s) => Box::new(s.idempotency_keys()?),
        })
    }

    /// The notification outbox kept in the same store.
    pub fn deliveries(&self) -> Result<Box<dyn DeliveryStore>, StoreError> {
        Ok(match self {
            AnyStore::Sqlite(s) => Box::new(s.deliveries()?),
            AnyStore::Postgres(s) => Box::new(s.deliveries()?),
        })
    }

    /// The denials and overrides kept in the same store.
    pub fn overrides(&self) -> Result<Box<dyn OverrideStore>, StoreError> {
        Ok(match self {
            AnyStore::Sqlite(s) => Box::new(s.overrides()?),
            AnyStore::Postgres(s) => Box::new(s.overrides()?),
        })
    }

    /// A write probe on the same store.
    pub fn write_probe(&self) -> Result<Box<dyn WriteProbe>, StoreError> {
        Ok(match self {
            AnyStore::Sqlite(s) => Box::new(s.write_probe()?),
            AnyStore::Postgres(s) => Box::new(s.write_probe()?),
        })
    }

    /// Follows the case changes other processes commit to the same store, calling `on_change`
    /// for each until the listener is dropped: PostgreSQL only. A SQLite file has one writing
    /// process, whose host wakes its own waiters, so it has none (`Ok(None)`).
    pub fn listen(&self, on_change: impl Fn(Changed) + Send + 'static) -> Result<Option<Listener>, StoreError> {
        match self {
            AnyStore::Sqlite(_) => Ok(None),
            AnyStore::Postgres(s) => s.listen(on_change).map(Some),
        }
    }

    fn inner(&self) -> &dyn CaseStore {
        match self {
            AnyStore::Sqlite(s) => s,
            AnyStore::Postgres(s) => s,
        }
    }

    fn inner_mut(&mut self) -> &mut dyn CaseStore {
        match self {
            AnyStore::Sqlite(s) => s,
            AnyStore::Postgres(s) => s,
        }
    }
}

impl CaseStore for AnyStore {
    fn open(&mut self, case: Case, receipt: ReceiptDraft) -> Result<(Case, Receipt), StoreError> {
        self.inner_mut().open(case, receipt)
    }

    fn commit(
        &mut self,
        case: &Case,
        receipts: Vec<ReceiptDraft>,
        event_id: Option<&str>,
    ) -> Result<Option<Vec<Receipt>>, StoreError> {
        self.inner_mut().commit(case, receipts, event_id)
    }

    fn record(&mut self, receipts: Vec<ReceiptDraft>) -> Result<Vec<Receipt>, StoreError> {
        self.inner_mut().record(receipts)
    }

    fn record_keeping(&mut self, decided: Vec<(ReceiptDraft, Option<DenialDraft>)>) -> Result<Recorded, StoreError> {
        self.inner_mut().record_keeping(decided)
    }

    fn record_keeping_stamped(
        &mut self,
        decided: Vec<(ReceiptDraft, Option<DenialDraft>)>,
    ) -> Result<Recorded, StoreError> {
        self.inner_mut().record_keeping_stamped(decided)
    }

    fn applied(&self, case: &str, event_id: &str) -> Result<bool, StoreError> {
        self.inner().applied(case, event_id)
    }

    fn get(&self, id: &str) -> Result<Option<Case>, StoreError> {
        self.inner().get(id)
    }

    fn list(&self, pending_only: bool) -> Result<Vec<Case>, StoreError> {
        self.inner().list(pending_only)
    }

    fn receipts(&self, case: Option<&str>) -> Result<Vec<Receipt>, StoreError> {
        self.inner().receipts(case)
    }

    fn chain_head(&self) -> Result<Option<(u64, String)>, StoreError> {
        self.inner().chain_head()
    }

    fn last_event_at(&self) -> Result<Option<i64>, StoreError> {
        self.inner().last_event_at()
    }

    fn put_bundle(&mut self, hash: &str, bytes: &[u8]) -> Result<(), StoreError> {
        self.inner_mut().put_bundle(hash, bytes)
    }

    fn get_bundle(&self, hash: &str) -> Result<Option<Vec<u8>>, StoreError> {
        self.inner().get_bundle(hash)
    }
}

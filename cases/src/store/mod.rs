//! Where cases and receipts live. The lifecycle talks to a [`CaseStore`]; hosts pick the
//! implementation: [`memory::MemoryStore`] for tests, [`sqlite::SqliteStore`] for real
//! deployments (a restart loses no pending approval and no receipt). What a service keeps
//! beside the cases (session histories, idempotency keys) goes through [`service`]'s traits.
//!
//! Every write is atomic: a case's new state and the receipts of the transition are stored
//! together or not at all, receipts are chained (each holds the hash of the previous one, in
//! the store's order), and an event carrying an `event_id` that was already applied is not
//! applied again.

pub mod any;
mod chain;
pub mod memory;
pub mod postgres;
pub mod postgres_listen;
pub mod postgres_service;
mod rows;
pub mod service;
mod service_rows;
mod side;
pub mod sqlite;
pub mod sqlite_service;

use crate::lifecycle::case::Case;
use crate::lifecycle::receipt::{Receipt, ReceiptDraft};
use service::{Denial, DenialDraft};

/// Why a store did not do what was asked. Only [`StoreError::Conflict`] is worth retrying as is;
/// the lifecycle retries it on a fresh read, and hosts fail closed on the others.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The case changed since it was read (another writer won): read it again and retry.
    #[error("case {0} was changed by another writer")]
    Conflict(String),
    /// No case has this id.
    #[error("no case {0}")]
    NotFound(String),
    /// The storage itself failed (disk, corruption, lock). Hosts fail closed on it.
    #[error("case store failure: {0}")]
    Backend(String),
    /// One stored case cannot be read (its row does not decode). Only that case is unusable:
    /// [`CaseStore::list`] skips it (see [`sqlite::SqliteStore::unreadable`]), so that the
    /// clock and the listings keep every other case moving.
    #[error("case {id} is unreadable in the store (quarantined): {message}")]
    Unreadable {
        /// The case's id.
        id: String,
        /// Why its row does not decode.
        message: String,
    },
}

/// What [`CaseStore::record_keeping`] stored: the receipts, in order, and whether the denials
/// that went with them were kept.
#[derive(Debug)]
pub struct Recorded {
    /// The sealed receipts, in the order given.
    pub receipts: Vec<Receipt>,
    /// `Ok` when every denial given was kept (or none was given).
    pub denials: Result<(), StoreError>,
}

/// Pairs sealed receipts with the denials that went with them, each denial sealed with its
/// receipt's hash (a receipt without a denial pairs with nothing).
fn sealed_denials(receipts: &[Receipt], denials: Vec<Option<DenialDraft>>) -> impl Iterator<Item = Denial> + '_ {
    receipts.iter().zip(denials).filter_map(|(receipt, denial)| Some(denial?.sealed(&receipt.hash)))
}

/// Where a lifecycle keeps its cases, their receipts and the bundles they were opened with.
/// Every implementation keeps the same contract: writes are atomic, the receipt chain is
/// appended in one order with each receipt holding the previous one's hash, and an `event_id`
/// is applied at most once per case.
pub trait CaseStore {
    /// Stores a new case with the receipt of its opening; assigns and returns its id
    /// (`case-000001`, ...) and the sealed receipt. The case stored and returned has its
    /// pending evidence receipts sealed ([`Case::seal_evidence_refs`]).
    fn open(&mut self, case: Case, receipt: ReceiptDraft) -> Result<(Case, Receipt), StoreError>;

    /// Stores `case` (whose `version` must be one more than the stored one, else
    /// [`StoreError::Conflict`]) and appends the receipts, atomically; the case is stored with
    /// its pending evidence receipts sealed by them ([`Case::seal_evidence_refs`]). When
    /// `event_id` was already applied to this case, nothing changes and `Ok(None)` is returned.
    fn commit(
        &mut self,
        case: &Case,
        receipts: Vec<ReceiptDraft>,
        event_id: Option<&str>,
    ) -> Result<Option<Vec<Receipt>>, StoreError>;

    /// Appends the receipts of decisions that opened no case (`decide` receipts: an immediate
    /// `allow`, `deny` or `modify`), atomically and in order, after the chain's head.
    fn record(&mut self, receipts: Vec<ReceiptDraft>) -> Result<Vec<Receipt>, StoreError>;

    /// [`CaseStore::record`], keeping in the same transaction the denial that goes with a
    /// receipt (a `deny` answered without a case, see [`DenialDraft`]), sealed with its
    /// receipt's hash: a denial is durable exactly when its receipt is. The denials are written
    /// in a savepoint: when they cannot be kept, none of this batch is, the receipts are stored
    /// all the same, and [`Recorded::denials`] says why (the decisions stay what they were; a
    /// denial not kept only cannot be overridden). A store that keeps no denials (this default)
    /// records the receipts and says so.
    fn record_keeping(&mut self, decided: Vec<(ReceiptDraft, Option<DenialDraft>)>) -> Result<Recorded, StoreError> {
        let (receipts, denials): (Vec<ReceiptDraft>, Vec<Option<DenialDraft>>) = decided.into_iter().unzip();
        let receipts = self.record(receipts)?;
        let denials = if denials.iter().any(Option::is_some) {
            Err(StoreError::Backend("this store keeps no denials".into()))
        } else {
            Ok(())
        };
        Ok(Recorded { receipts, denials })
    }

    /// [`CaseStore::record_keeping`], each receipt stamped no earlier than the latest `at`
    /// already stored ([`CaseStore::last_event_at`]), so that receipt times never decrease along
    /// the chain. This default reads that `at`, then writes; a store may read it inside the
    /// write's own transaction instead (no other writer can come in between), as SQLite's does.
    fn record_keeping_stamped(
        &mut self,
        mut decided: Vec<(ReceiptDraft, Option<DenialDraft>)>,
    ) -> Result<Recorded, StoreError> {
        let floor = self.last_event_at()?.unwrap_or(i64::MIN);
        for (d, _) in &mut decided {
            d.at = d.at.max(floor);
        }
        self.record_keeping(decided)
    }

    /// Whether an event carrying `event_id` was already applied to case `case`: a retried event
    /// is then answered with the case as stored instead of being run again (it might otherwise
    /// be refused as `case_resolved` because its first delivery resolved the case).
    fn applied(&self, case: &str, event_id: &str) -> Result<bool, StoreError>;

    /// The case `id` as stored, `None` when there is none ([`StoreError::Unreadable`] when its
    /// row does not decode).
    fn get(&self, id: &str) -> Result<Option<Case>, StoreError>;

    /// All cases, or only those still pending, in id order. A case that cannot be read is
    /// skipped (quarantined), never the end of the listing.
    fn list(&self, pending_only: bool) -> Result<Vec<Case>, StoreError>;

    /// The chain in order, or the receipts of one case (`decide` receipts belong to none).
    fn receipts(&self, case: Option<&str>) -> Result<Vec<Receipt>, StoreError>;

    /// The last receipt's `seq` and hash, `None` while the chain is empty (an export's head
    /// names it).
    fn chain_head(&self) -> Result<Option<(u64, String)>, StoreError>;

    /// The latest `at` among stored receipts: a clock earlier than this is refused.
    fn last_event_at(&self) -> Result<Option<i64>, StoreError>;

    /// Keeps a bundle by its hash, so that a case re-evaluates against the bundle it was opened
    /// with, even after a reload or in another process.
    fn put_bundle(&mut self, hash: &str, bytes: &[u8]) -> Result<(), StoreError>;

    /// The bytes of the bundle kept under `hash`, `None` when none was kept.
    fn get_bundle(&self, hash: &str) -> Result<Option<Vec<u8>>, StoreError>;
}

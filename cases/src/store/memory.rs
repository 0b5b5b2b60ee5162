//! The in-memory case store: for tests and short-lived tools. Everything is lost when it is
//! dropped; hosts that must survive a restart use [`super::sqlite::SqliteStore`].

use super::chain::{case_link_after, decisions_only, Sealer};
use super::{CaseStore, StoreError};
use crate::lifecycle::case::Case;
use crate::lifecycle::receipt::{CaseLink, Receipt, ReceiptDraft};
use ed25519_dalek::SigningKey;
use std::collections::{BTreeMap, BTreeSet, HashMap};

/// Cases, one receipt chain, applied event ids and bundles, held in memory.
#[derive(Default)]
pub struct MemoryStore {
    /// By case number (`case-000001` is 1), so that iteration is in id order.
    cases: BTreeMap<u64, Case>,
    /// The number of the last case opened.
    last_case: u64,
    /// The chain, in order (`seq` 1 first).
    chain: Vec<Receipt>,
    /// `(case id, event id)` of every applied event that carried an id.
    applied: BTreeSet<(String, String)>,
    bundles: HashMap<String, Vec<u8>>,
    signer: Option<SigningKey>,
}

impl std::fmt::Debug for MemoryStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MemoryStore")
            .field("cases", &self.cases.len())
            .field("receipts", &self.chain.len())
            .field("signed", &self.signer.is_some())
            .finish()
    }
}

impl MemoryStore {
    /// An empty, unsigned store: for tests and hosts that need no restart to keep anything.
    pub fn new() -> MemoryStore {
        MemoryStore::default()
    }

    /// Receipts stored from now on are signed with `key`.
    pub fn with_signer(mut self, key: SigningKey) -> MemoryStore {
        self.signer = Some(key);
        self
    }

    /// The cases, in id order, read in place: what [`CaseStore::list`] copies. For tests that
    /// check every case after every step (the lifecycle fuzz target) without copying them all.
    pub fn cases(&self) -> impl Iterator<Item = &Case> {
        self.cases.values()
    }

    /// Seals `drafts` after the current head of the chain, without storing them.
    fn seal_after_head(&self, drafts: Vec<ReceiptDraft>) -> Result<Vec<Receipt>, StoreError> {
        let mut sealer =
            Sealer::after(self.chain.last().map(|head| (head.seq, head.hash.clone())), self.signer.as_ref());
        let mut sealed: Vec<Receipt> = Vec::with_capacity(drafts.len());
        for draft in drafts {
            let receipt = sealer.seal(draft, |case| self.case_link(case, &sealed))?;
            sealed.push(receipt);
        }
        Ok(sealed)
    }

    /// The next receipt of `case`, counting the stored chain and the receipts `pending` in the
    /// same write.
    fn case_link(&self, case: &str, pending: &[Receipt]) -> Result<CaseLink, StoreError> {
        let mut theirs = self.chain.iter().chain(pending).filter(|r| r.body.case == case);
        let count =
            u64::try_from(theirs.clone().count()).map_err(|_| StoreError::Backend("too many receipts".into()))?;
        case_link_after(count, theirs.next_back().map(|r| r.hash.clone()))
    }
}

/// `case-000042` → 42; `None` for anything this store did not issue.
pub(super) fn case_number(id: &str) -> Option<u64> {
    let digits = id.strip_prefix("case-")?;
    if digits.len() < 6 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let n: u64 = digits.parse().ok()?;
    (case_id(n) == id).then_some(n)
}

pub(super) fn case_id(n: u64) -> String {
    format!("case-{n:06}")
}

impl CaseStore for MemoryStore {
    fn open(&mut self, mut case: Case, mut receipt: ReceiptDraft) -> Result<(Case, Receipt), StoreError> {
        let n = self.last_case.checked_add(1).ok_or_else(|| StoreError::Backend("case number overflow".into()))?;
        let id = case_id(n);
        case.id = id.clone();
        receipt.case = id;
        let sealed = self.seal_after_head(vec![receipt])?;
        let Some(receipt) = sealed.first().cloned() else {
            return Err(StoreError::Backend("sealing produced no receipt".into()));
        };
        self.last_case = n;
        case.seal_evidence_refs(&sealed);
        self.cases.insert(n, case.clone());
        self.chain.extend(sealed);
        Ok((case, receipt))
    }

    fn commit(
        &mut self,
        case: &Case,
        receipts: Vec<ReceiptDraft>,
        event_id: Option<&str>,
    ) -> Result<Option<Vec<Receipt>>, StoreError> {
        let n = case_number(&case.id).ok_or_else(|| StoreError::NotFound(case.id.clone()))?;
        let stored = self.cases.get(&n).ok_or_else(|| StoreError::NotFound(case.id.clone()))?;
        if let Some(event_id) = event_id {
            if self.applied.contains(&(case.id.clone(), event_id.to_string())) {
                return Ok(None);
            }
        }
        if stored.version.checked_add(1) != Some(case.version) {
            return Err(StoreError::Conflict(case.id.clone()));
        }
        let sealed = self.seal_after_head(receipts)?;
        // Nothing below can fail: the write is all or nothing.
        if let Some(event_id) = event_id {
            self.applied.insert((case.id.clone(), event_id.to_string()));
        }
        let mut case = case.clone();
        case.seal_evidence_refs(&sealed);
        self.cases.insert(n, case);
        self.chain.extend(sealed.iter().cloned());
        Ok(Some(sealed))
    }

    fn record(&mut self, receipts: Vec<ReceiptDraft>) -> Result<Vec<Receipt>, StoreError> {
        decisions_only(&receipts)?;
        let sealed = self.seal_after_head(receipts)?;
        self.chain.extend(sealed.iter().cloned());
        Ok(sealed)
    }

    fn applied(&self, case: &str, event_id: &str) -> Result<bool, StoreError> {
        Ok(self.applied.contains(&(case.to_string(), event_id.to_string())))
    }

    fn get(&self, id: &str) -> Result<Option<Case>, StoreError> {
        Ok(case_number(id).and_then(|n| self.cases.get(&n)).cloned())
    }

    fn list(&self, pending_only: bool) -> Result<Vec<Case>, StoreError> {
        Ok(self.cases.values().filter(|c| !pending_only || !c.state.is_resolved()).cloned().collect())
    }

    fn receipts(&self, case: Option<&str>) -> Result<Vec<Receipt>, StoreError> {
        Ok(self.chain.iter().filter(|r| case.is_none_or(|id| r.body.case == id)).cloned().collect())
    }

    fn chain_head(&self) -> Result<Option<(u64, String)>, StoreError> {
        Ok(self.chain.last().map(|r| (r.seq, r.hash.clone())))
    }

    fn last_event_at(&self) -> Result<Option<i64>, StoreError> {
        Ok(self.chain.iter().map(|r| r.body.at).max())
    }

    fn put_bundle(&mut self, hash: &str, bytes: &[u8]) -> Result<(), StoreError> {
        // Content-addressed: the first copy stored under a hash is kept.
        self.bundles.entry(hash.to_string()).or_insert_with(|| bytes.to_vec());
        Ok(())
    }

    fn get_bundle(&self, hash: &str) -> Result<Option<Vec<u8>>, StoreError> {
        Ok(self.bundles.get(hash).cloned())
    }
}

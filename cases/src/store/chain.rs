//! How every store extends the receipt chain: the next `seq` after the head, each receipt
//! holding the previous one's hash, and its place in its case's own chain. The stores differ
//! only in where they read the head and a case's receipts from, and how they keep the result.

use super::rows::to_u64;
use super::StoreError;
use crate::lifecycle::receipt::{CaseLink, Receipt, ReceiptDraft};
use crate::receipts;
use ed25519_dalek::SigningKey;

/// Seals drafts one after the other, after a chain head.
pub(super) struct Sealer<'k> {
    /// The `seq` of the last receipt sealed (or of the head).
    seq: u64,
    /// The hash of the last receipt sealed (or of the head).
    prev: String,
    signer: Option<&'k SigningKey>,
}

impl<'k> Sealer<'k> {
    /// Sealing after `head` (the last receipt's `seq` and hash; `None` while the chain is
    /// empty), signed with `signer` when there is one.
    pub(super) fn after(head: Option<(u64, String)>, signer: Option<&'k SigningKey>) -> Sealer<'k> {
        let (seq, prev) = head.unwrap_or_else(|| (0, receipts::GENESIS.to_string()));
        Sealer { seq, prev, signer }
    }

    /// Seals `draft` as the next receipt of the chain. A draft that names a case is also the
    /// next receipt of that case's own chain, which `link` reads (after this write's earlier
    /// receipts); a `decide` receipt belongs to no case.
    pub(super) fn seal(
        &mut self,
        draft: ReceiptDraft,
        link: impl FnOnce(&str) -> Result<CaseLink, StoreError>,
    ) -> Result<Receipt, StoreError> {
        self.seq = self.seq.checked_add(1).ok_or_else(overflow)?;
        let link = if draft.case.is_empty() { None } else { Some(link(&draft.case)?) };
        let receipt = receipts::seal_linked(draft, self.seq, &self.prev, link, self.signer);
        self.prev = receipt.hash.clone();
        Ok(receipt)
    }
}

/// A case's next place in its own chain, after its `count` receipts, the last with hash `last`.
pub(super) fn case_link_after(count: u64, last: Option<String>) -> Result<CaseLink, StoreError> {
    let seq = count.checked_add(1).ok_or_else(overflow)?;
    Ok(CaseLink { seq, prev: last.unwrap_or_else(|| receipts::GENESIS.to_string()) })
}

/// A chain head as a database keeps it (a signed `seq`).
pub(super) fn stored_head(head: Option<(i64, String)>) -> Result<Option<(u64, String)>, StoreError> {
    head.map(|(seq, hash)| Ok((to_u64(seq, "receipt seq")?, hash))).transpose()
}

/// [`super::CaseStore::record`] takes only the receipts of decisions that opened no case.
pub(super) fn decisions_only(receipts: &[ReceiptDraft]) -> Result<(), StoreError> {
    match receipts.iter().find(|r| !r.case.is_empty()) {
        Some(r) => Err(StoreError::Backend(format!("a decision receipt names case {}", r.case))),
        None => Ok(()),
    }
}

fn overflow() -> StoreError {
    StoreError::Backend("receipt sequence overflow".into())
}

//! Receipts: one per transition, hash-chained per store, optionally signed.
//!
//! (Sealing, canonical JSON and verification are in [`crate::receipts`].)

use crate::decision::{PolicyRef, Reason};
use crate::lifecycle::case::CaseState;
use serde::{Deserialize, Serialize};

/// A receipt before the store gives it its place in the chain.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ReceiptDraft {
    pub case: String,
    /// `open`, `approve`, `deny`, `provide`, `reevaluate`, `escalate`, `timeout`, `cancel`.
    pub event: String,
    /// Who caused it (an approver, the host), `null` for the clock.
    pub actor: Option<String>,
    /// The case's state after the transition.
    pub state: CaseState,
    /// The decision the case holds after the transition (`step_up`, `defer`, or the outcome).
    pub decision: String,
    pub reason: Reason,
    pub policy: PolicyRef,
    pub action_hash: String,
    /// The identity captured at submission.
    pub identity: serde_json::Value,
    /// Seconds since the epoch, from the clock the host supplied.
    pub at: i64,
    /// Event-specific facts (approvals so far, evidence name, new tier, ...).
    pub detail: serde_json::Value,
}

/// A sealed receipt.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Receipt {
    /// Position in the store's chain, from 1.
    pub seq: u64,
    #[serde(flatten)]
    pub body: ReceiptDraft,
    /// `sha256:<hex>` of the previous receipt (`sha256:` + 64 zeros for the first).
    pub prev: String,
    /// `sha256:<hex>` of this receipt's canonical JSON without `hash` and `signature`.
    pub hash: String,
    /// Ed25519 over `hash`, when the store has a signing key.
    pub signature: Option<ReceiptSignature>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReceiptSignature {
    pub key_id: String,
    /// Hex of the 64-byte signature.
    pub sig: String,
}

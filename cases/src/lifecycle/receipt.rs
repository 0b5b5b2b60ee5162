//! Receipts: one per transition of a case, and one per decision that opened no case, all in one
//! hash chain per store, optionally signed. A case's receipts are also linked among themselves
//! (`case_seq`, `case_prev`), so that a per-case export shows a receipt missing from its middle.
//!
//! (Sealing, canonical JSON and verification are in [`crate::receipts`].)

use crate::lifecycle::state::CaseState;
use aarm_runtime::decision::{PolicyRef, Reason};
use serde::{Deserialize, Serialize};

/// Every `event` a receipt can name, in the order a case usually meets them; `expect receipts`
/// in a test is checked against this list.
pub const RECEIPT_EVENTS: &[&str] =
    &["decide", "open", "approve", "deny", "provide", "revalidate", "escalate", "timeout", "cancel"];

/// A receipt before the store gives it its place in the chain.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ReceiptDraft {
    /// The case; empty (and absent from the JSON) for a `decide` receipt, a decision that opened
    /// no case (an immediate `allow`, `deny` or `modify`).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub case: String,
    /// `decide`, `open`, `approve`, `deny`, `provide`, `revalidate`, `escalate`, `timeout`,
    /// `cancel`.
    pub event: String,
    /// Who caused it (an approver, the host), `null` for the clock.
    pub actor: Option<String>,
    /// The case's state after the transition.
    pub state: CaseState,
    /// The decision the case holds after the transition (`step_up`, `defer`, or the outcome).
    pub decision: String,
    /// The reason of that decision: the lifecycle's (a resolution reason) or the deciding rule's.
    pub reason: Reason,
    /// The policy and bundle that decided, so that a receipt can be checked against the bundle it
    /// names.
    pub policy: PolicyRef,
    /// The SHA-256 of the canonical action decided (what approvals bind to), so that a receipt
    /// names the exact action it is about.
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
    /// What the receipt records; flattened, so that the JSON of a receipt is one flat object.
    #[serde(flatten)]
    pub body: ReceiptDraft,
    /// `sha256:<hex>` of the previous receipt (`sha256:` + 64 zeros for the first).
    pub prev: String,
    /// The receipt's position among its case's receipts, from 1 (absent for `decide` receipts
    /// and for receipts written before per-case links existed).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub case_seq: Option<u64>,
    /// `hash` of the case's previous receipt ([`crate::receipts::GENESIS`] for its first).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub case_prev: Option<String>,
    /// `sha256:<hex>` of this receipt's canonical JSON without `hash` and `signature`.
    pub hash: String,
    /// Ed25519 over `hash`, when the store has a signing key.
    pub signature: Option<ReceiptSignature>,
}

/// Where a case's next receipt goes among that case's receipts.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CaseLink {
    /// How many receipts the case has before this one, plus one.
    pub seq: u64,
    /// The hash of the case's last receipt ([`crate::receipts::GENESIS`] for its first).
    pub prev: String,
}

/// An Ed25519 signature over a receipt's (or an export head's) `hash`, with the key that made it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReceiptSignature {
    /// The signing key's id, derived from its public key: a verifier finds the key to check with by
    /// it.
    pub key_id: String,
    /// Hex of the 64-byte signature.
    pub sig: String,
}

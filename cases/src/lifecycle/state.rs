//! Where a case stands. Its own module because the case and its receipts both record it, and the
//! receipt must not depend on the whole case.

use serde::{Deserialize, Serialize};

/// Where a case stands: waiting (for approvers or evidence) or resolved, and how.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CaseState {
    /// Waiting for approvers (a `step_up`, or a deferral escalated to people).
    PendingApproval,
    /// Waiting for evidence (a `defer`).
    PendingEvidence,
    /// Resolved: the action may run as requested.
    Allowed,
    /// Resolved: the rewritten action may run (`modify` on re-evaluation).
    Modified,
    /// Resolved: never run it.
    Denied,
    /// Resolved: withdrawn.
    Cancelled,
}

impl CaseState {
    /// The state's name in JSON, receipts and the command line (`pending_approval`, ...), as serde
    /// writes it.
    pub fn as_str(self) -> &'static str {
        match self {
            CaseState::PendingApproval => "pending_approval",
            CaseState::PendingEvidence => "pending_evidence",
            CaseState::Allowed => "allowed",
            CaseState::Modified => "modified",
            CaseState::Denied => "denied",
            CaseState::Cancelled => "cancelled",
        }
    }

    /// Resolved cases never change again.
    pub fn is_resolved(self) -> bool {
        !matches!(self, CaseState::PendingApproval | CaseState::PendingEvidence)
    }
}

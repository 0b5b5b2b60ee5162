//! A case: one suspended action (a `step_up` or `defer` decision) carried to its end.

use aarm_runtime::decision::{ActionOut, Decision, Reason};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

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

/// One approver's approval, bound to the action it approved.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Approval {
    pub by: String,
    pub at: i64,
    /// The SHA-256 of the canonical action the approver saw.
    pub action_hash: String,
    /// Roles the host verified for the approver at that moment.
    pub roles: Vec<String>,
    /// How the host authenticated the approver (`bearer`, `jwt`), when it did
    /// ([`crate::lifecycle::service::Lifecycle::apply_verified`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub verified_by: Option<String>,
}

/// A denial that did not end the case (`no veto`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Denial {
    pub by: String,
    pub at: i64,
    pub why: Option<String>,
    /// How the host authenticated the approver, when it did.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub verified_by: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Case {
    pub id: String,
    pub state: CaseState,
    /// The request as the host submitted it (re-evaluated, with evidence, by deferrals).
    pub request: serde_json::Value,
    /// SHA-256 of the canonical action (tool, operation, params): what approvals bind to.
    pub action_hash: String,
    /// `identity` as captured at submission.
    pub identity: serde_json::Value,
    /// The bundle the case was opened under; re-evaluation uses the same one.
    pub bundle_hash: String,
    /// The decision the case is waiting on (a `step_up` or `defer` with its obligations).
    pub decision: Decision,
    /// `true` when the current step-up came from a deferral's timeout or exhausted attempts.
    pub escalated_from_defer: bool,
    /// Step-up tier: 0 for the first, +1 for each `timeout -> step_up { ... }`.
    pub tier: u32,
    pub approvals: Vec<Approval>,
    pub denials: Vec<Denial>,
    /// Approvers added by `escalate after D to [...]` once it fired.
    pub extra_approvers: Vec<String>,
    pub escalated: bool,
    /// Evidence collected so far, by name, as given.
    pub evidence: BTreeMap<String, serde_json::Value>,
    /// Re-evaluations that came back `defer`.
    pub attempts: u32,
    pub opened_at: i64,
    /// When the current wait (approval tier or deferral) started.
    pub waiting_since: i64,
    /// Last event applied (the clock may not go back past it).
    pub updated_at: i64,
    /// The final decision, once resolved.
    pub outcome: Option<Decision>,
    /// The lifecycle's or the deciding rule's reason, once resolved.
    pub resolution: Option<Reason>,
    /// What the host may run, once allowed or modified.
    pub released_action: Option<ActionOut>,
    /// Optimistic concurrency: +1 per applied event.
    pub version: u64,
    /// Until when the requester's credential is valid, when the host knows (a JWT's `exp`, a
    /// configured maximum age): a release after that is `identity_invalid` unless the requester
    /// presents a currently valid credential first ([`crate::lifecycle::event::Event::Revalidate`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub credential: Option<Credential>,
}

/// The requester's credential as the host verified it when the action was submitted.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Credential {
    /// The identity the credential proves (only a credential of the same identity renews it).
    pub holder: String,
    /// Seconds since the epoch after which it no longer vouches for the requester.
    pub valid_until: i64,
}

/// Why the lifecycle ended a case (docs/lifecycle.md, "Resolution reasons").
pub mod reasons {
    pub const APPROVED: &str = "approved";
    pub const VETOED: &str = "vetoed";
    pub const TIMEOUT: &str = "timeout";
    pub const ATTEMPTS_EXHAUSTED: &str = "attempts_exhausted";
    pub const CANCELLED: &str = "cancelled";
}

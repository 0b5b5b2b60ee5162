//! Events that drive a case, and the stable reasons an event is refused.

use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum Event {
    /// An approver approves. `roles` are the roles the host verified for them.
    Approve { by: String, roles: Vec<String> },
    /// An approver denies.
    Deny { by: String, why: Option<String> },
    /// Evidence arrives for a deferral.
    Provide { name: String, value: serde_json::Value },
    /// The clock moves: timeouts and escalations fire.
    Tick,
    /// The case is withdrawn.
    Cancel { by: Option<String> },
}

impl Event {
    pub fn name(&self) -> &'static str {
        match self {
            Event::Approve { .. } => "approve",
            Event::Deny { .. } => "deny",
            Event::Provide { .. } => "provide",
            Event::Tick => "tick",
            Event::Cancel { .. } => "cancel",
        }
    }
}

/// Why an event was refused. A refused event changes nothing.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, thiserror::Error)]
#[serde(rename_all = "snake_case")]
pub enum Rejection {
    #[error("not_an_approver")]
    NotAnApprover,
    #[error("self_approval")]
    SelfApproval,
    #[error("duplicate_approval")]
    DuplicateApproval,
    #[error("case_resolved")]
    CaseResolved,
    #[error("unknown_case")]
    UnknownCase,
    #[error("undeclared_evidence")]
    UndeclaredEvidence,
    #[error("evidence_type")]
    EvidenceType,
    #[error("identity_invalid")]
    IdentityInvalid,
    #[error("clock_went_back")]
    ClockWentBack,
}

impl Rejection {
    /// The stable code (docs/lifecycle.md, "Refused events").
    pub fn as_str(self) -> &'static str {
        match self {
            Rejection::NotAnApprover => "not_an_approver",
            Rejection::SelfApproval => "self_approval",
            Rejection::DuplicateApproval => "duplicate_approval",
            Rejection::CaseResolved => "case_resolved",
            Rejection::UnknownCase => "unknown_case",
            Rejection::UndeclaredEvidence => "undeclared_evidence",
            Rejection::EvidenceType => "evidence_type",
            Rejection::IdentityInvalid => "identity_invalid",
            Rejection::ClockWentBack => "clock_went_back",
        }
    }

    pub const ALL: [Rejection; 9] = [
        Rejection::NotAnApprover,
        Rejection::SelfApproval,
        Rejection::DuplicateApproval,
        Rejection::CaseResolved,
        Rejection::UnknownCase,
        Rejection::UndeclaredEvidence,
        Rejection::EvidenceType,
        Rejection::IdentityInvalid,
        Rejection::ClockWentBack,
    ];
}

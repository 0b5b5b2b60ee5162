//! Events that drive a case, and the stable reasons an event is refused.

use serde::{Deserialize, Serialize};

/// An approver's caps: a parameter's name, as the step-up's `limits` lists it, and the largest
/// value approved, as exact decimal text (`"5000"`, `"12.5"`).
pub type Caps = std::collections::BTreeMap<String, String>;

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum Event {
    /// An approver approves. `roles` are the roles the host verified for them. `until` (seconds
    /// since the epoch), when given, narrows the approval: it stops counting then, and the allow
    /// it releases expires then at the latest. It can only narrow: a past `until` is refused.
    /// `max` caps parameters the step-up's `limits` lists (`{"amount": "5000"}`): only at or
    /// above the action's own values ([`crate::lifecycle::limits`]).
    Approve {
        by: String,
        roles: Vec<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        until: Option<i64>,
        #[serde(default, skip_serializing_if = "std::collections::BTreeMap::is_empty")]
        max: Caps,
    },
    /// An approver denies. `roles` are the roles the host verified for them, as for `Approve`:
    /// a role-based approver may deny (and veto) as well as approve.
    Deny {
        by: String,
        why: Option<String>,
        #[serde(default)]
        roles: Vec<String>,
    },
    /// Evidence arrives for a deferral, from `by` (the caller the host authenticated) when known.
    /// A fact is provided once: a second value is refused (`evidence_already_provided`).
    Provide {
        name: String,
        value: serde_json::Value,
        #[serde(default)]
        by: Option<String>,
    },
    /// The requesting human answers a `confirm` question (server/README.md, "Asking the
    /// requester"): `value` for fact `name`, from `by`, whom the host authenticated as the
    /// request's `identity.human`. Applied as [`Event::Provide`]; its evidence ref names the
    /// source `confirm:BY`.
    Confirm { name: String, value: bool, by: String },
    /// The host verified a currently valid credential of the case's requester `by`, valid until
    /// `until` (seconds since the epoch): a release refused as `identity_invalid` may then happen.
    Revalidate { by: String, until: i64 },
    /// One round of automatic resolution of a deferral ([`crate::lifecycle::round`]): what the
    /// evidence sources answered. Counts as one attempt of the deferral. `round` is the number
    /// of rounds the host saw recorded when it started this one: if another host recorded a
    /// round meanwhile, this one changes nothing (no round is counted twice).
    Round { round: u32, tries: Vec<crate::lifecycle::round::SourceTry> },
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
            Event::Confirm { .. } => "confirm",
            Event::Revalidate { .. } => "revalidate",
            Event::Round { .. } => "round",
            Event::Tick => "tick",
            Event::Cancel { .. } => "cancel",
        }
    }
}

/// Why an event was refused. A refused event changes nothing. Displayed, serialized and
/// matched in `expect rejected "..."` by its stable code, [`Rejection::as_str`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, thiserror::Error)]
#[error("{}", self.as_str())]
#[serde(rename_all = "snake_case")]
pub enum Rejection {
    NotAnApprover,
    SelfApproval,
    DuplicateApproval,
    CaseResolved,
    UnknownCase,
    UndeclaredEvidence,
    EvidenceType,
    IdentityInvalid,
    EvidenceAlreadyProvided,
    ClockWentBack,
    /// An approval's `until` is not in the future.
    UntilInPast,
    /// An approval caps a parameter the step-up's `limits` does not list, or with a value that is
    /// not a number.
    LimitNotAllowed,
    /// An approval caps a parameter below the action's own value: it would approve nothing.
    LimitBelowAction,
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
            Rejection::EvidenceAlreadyProvided => "evidence_already_provided",
            Rejection::ClockWentBack => "clock_went_back",
            Rejection::UntilInPast => "until_in_past",
            Rejection::LimitNotAllowed => "limit_not_allowed",
            Rejection::LimitBelowAction => "limit_below_action",
        }
    }

    pub const ALL: [Rejection; 13] = [
        Rejection::NotAnApprover,
        Rejection::SelfApproval,
        Rejection::DuplicateApproval,
        Rejection::CaseResolved,
        Rejection::UnknownCase,
        Rejection::UndeclaredEvidence,
        Rejection::EvidenceType,
        Rejection::IdentityInvalid,
        Rejection::EvidenceAlreadyProvided,
        Rejection::ClockWentBack,
        Rejection::UntilInPast,
        Rejection::LimitNotAllowed,
        Rejection::LimitBelowAction,
    ];
}

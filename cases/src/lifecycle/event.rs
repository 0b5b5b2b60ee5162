//! Events that drive a case, and the stable reasons an event is refused.

use serde::{Deserialize, Serialize};

/// An approver's caps: a parameter's name, as the step-up's `limits` lists it, and the largest
/// value approved, as exact decimal text (`"5000"`, `"12.5"`).
pub type Caps = std::collections::BTreeMap<String, String>;

/// What can happen to a case: an approver acts, evidence arrives, the clock moves, the case is
/// withdrawn. The state machine ([`crate::lifecycle::machine::apply`]) either applies one with a
/// receipt per step, or refuses it and changes nothing.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum Event {
    /// An approver approves. `roles` are the roles the host verified for them. `until` (seconds
    /// since the epoch), when given, narrows the approval: it stops counting then, and the allow
    /// it releases expires then at the latest. It can only narrow: a past `until` is refused.
    /// `max` caps parameters the step-up's `limits` lists (`{"amount": "5000"}`): only at or
    /// above the action's own values ([`crate::lifecycle::limits`]).
    Approve {
        /// The approver, as the host authenticated them (compared after normalization,
        /// [`crate::lifecycle::identity`]).
        by: String,
        /// The roles the host verified the approver holds now; a role-based tier admits them by
        /// these.
        roles: Vec<String>,
        /// Seconds since the epoch when the approval stops counting; absent: it counts until the
        /// case resolves.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        until: Option<i64>,
        /// The approver's caps on the step-up's `limits` parameters; empty when none.
        #[serde(default, skip_serializing_if = "std::collections::BTreeMap::is_empty")]
        max: Caps,
    },
    /// An approver denies. `roles` are the roles the host verified for them, as for `Approve`:
    /// a role-based approver may deny (and veto) as well as approve.
    Deny {
        /// The approver, as the host authenticated them.
        by: String,
        /// Why they deny, for the receipt and the requester; optional.
        why: Option<String>,
        /// The roles the host verified the approver holds now.
        #[serde(default)]
        roles: Vec<String>,
    },
    /// Evidence arrives for a deferral, from `by` (the caller the host authenticated) when known.
    /// A fact is provided once: a second value is refused (`evidence_already_provided`).
    Provide {
        /// The evidence's name, as the bundle declares it; an undeclared name is refused.
        name: String,
        /// The fact's value; it must have the evidence's declared type.
        value: serde_json::Value,
        /// Who provided it, when the host authenticated the caller; recorded in the receipt and the
        /// evidence ref.
        #[serde(default)]
        by: Option<String>,
    },
    /// The requesting human answers a `confirm` question (server/README.md, "Asking the
    /// requester"): `value` for fact `name`, from `by`, whom the host authenticated as the
    /// request's `identity.human`. Applied as [`Event::Provide`]; its evidence ref names the
    /// source `confirm:BY`.
    Confirm {
        /// The fact asked about, as the policy's `confirm` names it.
        name: String,
        /// The requester's answer.
        value: bool,
        /// The requester, as the host authenticated them.
        by: String,
    },
    /// The host verified a currently valid credential of the case's requester `by`, valid until
    /// `until` (seconds since the epoch): a release refused as `identity_invalid` may then happen.
    Revalidate {
        /// The credential's holder: only the case's requester renews it.
        by: String,
        /// Seconds since the epoch until which the new credential is valid.
        until: i64,
    },
    /// One round of automatic resolution of a deferral ([`crate::lifecycle::round`]): what the
    /// evidence sources answered. Counts as one attempt of the deferral. `round` is the number
    /// of rounds the host saw recorded when it started this one: if another host recorded a
    /// round meanwhile, this one changes nothing (no round is counted twice).
    Round {
        /// The rounds the host saw recorded when it started this one (its guard against
        /// counting a round twice).
        round: u32,
        /// Each source asked in the round, and what it answered.
        tries: Vec<crate::lifecycle::round::SourceTry>,
    },
    /// The clock moves: timeouts and escalations fire.
    Tick,
    /// The case is withdrawn.
    Cancel {
        /// Who withdrew it, when the host knows (recorded in the receipt).
        by: Option<String>,
    },
}

impl Event {
    /// The event's name in JSON (`approve`, `round`, ...), as serde tags it; a receipt's `event` is
    /// this or the step it caused.
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
    /// `not_an_approver`: the actor may not approve or deny in this tier, or the case is not
    /// waiting for approvers.
    NotAnApprover,
    /// `self_approval`: the requester tried to approve their own action without `self_approval`.
    SelfApproval,
    /// `duplicate_approval`: this person already approved or denied in this tier.
    DuplicateApproval,
    /// `case_resolved`: the case was already resolved (perhaps by a timer that fell due first).
    CaseResolved,
    /// `unknown_case`: no case has this id.
    UnknownCase,
    /// `undeclared_evidence`: the bundle declares no evidence of this name.
    UndeclaredEvidence,
    /// `evidence_type`: the value does not have the evidence's declared type.
    EvidenceType,
    /// `identity_invalid`: the requester's credential expired before the release and the host did
    /// not revalidate it; the action is not released.
    IdentityInvalid,
    /// `evidence_already_provided`: the case already holds this fact (from the request or an
    /// earlier `provide`).
    EvidenceAlreadyProvided,
    /// `clock_went_back`: the event's time is earlier than the case's (or the store's) last event;
    /// time never runs backwards in the receipts.
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

    /// Every rejection: the codes a test's `expect rejected "..."` may name.
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

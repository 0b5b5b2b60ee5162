//! A case: one suspended action (a `step_up` or `defer` decision) carried to its end.

use super::identity::same_identity;
use super::receipt::Receipt;
use super::round::Backoff;
pub use super::state::CaseState;
use aarm_runtime::decision::{ActionOut, Decision, EvidenceRef, Reason, StepUpObligation};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// One approver's approval, bound to the action it approved.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Approval {
    /// The approver, as the host authenticated them.
    pub by: String,
    /// When they approved, in seconds since the epoch (the lifecycle's clock).
    pub at: i64,
    /// The SHA-256 of the canonical action the approver saw.
    pub action_hash: String,
    /// Roles the host verified for the approver at that moment.
    pub roles: Vec<String>,
    /// How the host authenticated the approver (`bearer`, `jwt`), when it did
    /// ([`crate::lifecycle::service::Lifecycle::apply_verified`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub verified_by: Option<String>,
    /// Until when this approval counts (seconds since the epoch): the approver's `until`, or the
    /// step-up's `valid` after it was given, whichever is earlier; absent: no bound.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub until: Option<i64>,
    /// The approver's caps (`--max amount=5000`), on parameters the step-up's `limits` lists:
    /// the released action is within them, and the release carries the smallest of each
    /// ([`super::limits`]). Absent when none.
    #[serde(default, skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub max: super::limits::Caps,
}

impl Approval {
    /// Whether the approval still counts at `now`.
    pub(crate) fn counts_at(&self, now: i64) -> bool {
        self.until.is_none_or(|u| now < u)
    }
}

/// A denial that did not end the case (`no veto`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Denial {
    /// The approver who denied.
    pub by: String,
    /// When, in seconds since the epoch.
    pub at: i64,
    /// Their reason, when they gave one.
    pub why: Option<String>,
    /// How the host authenticated the approver, when it did.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub verified_by: Option<String>,
}

/// One suspended action carried to its end: the request as submitted, the decision it waits on, who
/// approved or denied, the evidence so far and, once resolved, the outcome and what the host may
/// run. Stored whole by a [`crate::store::CaseStore`] and changed only through events, each with
/// its receipts.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Case {
    /// The store's id for it (`case-000001`, ...), given when the case is opened.
    pub id: String,
    /// Where it stands: waiting (for approvers or evidence) or resolved, and how.
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
    /// The approvals on the current tier, in order; a new tier starts empty.
    pub approvals: Vec<Approval>,
    /// The denials that did not end the case (a tier with `no veto`).
    pub denials: Vec<Denial>,
    /// Approvers added by `escalate after D to [...]` once it fired.
    pub extra_approvers: Vec<String>,
    /// Whether the current tier's `escalate after D` has fired (it fires once per tier).
    pub escalated: bool,
    /// Evidence collected so far, by name, as given.
    pub evidence: BTreeMap<String, serde_json::Value>,
    /// Re-evaluations that came back `defer`.
    pub attempts: u32,
    /// When the case was opened, in seconds since the epoch.
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
    /// The rounds of automatic resolution recorded so far ([`crate::lifecycle::round`]).
    #[serde(default, skip_serializing_if = "super::round::Rounds::is_empty")]
    pub rounds: super::round::Rounds,
    /// Where each fact in `evidence` came from and the receipt that recorded it, in the order
    /// they arrived; a decision re-evaluated with them carries the same list
    /// ([`Decision::evidence_refs`]). Absent when the case has no evidence.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub evidence_refs: Vec<EvidenceRef>,
}

/// What an evidence ref's `receipt` holds between the transition that records its fact and the
/// commit that seals that transition's receipts: `#N`, the transition's `N`th receipt (0-based).
/// A sealed hash is `sha256:…`, so the two never mix; the store seals before it writes the case
/// ([`Case::seal_evidence_refs`]), so a stored case never holds one.
pub fn pending_receipt(index: usize) -> String {
    format!("#{index}")
}

impl Case {
    /// Replaces every pending evidence receipt (`#N`, [`pending_receipt`]) in the case, its
    /// decision and its outcome with the hash of the `N`th of `sealed`, the receipts of the
    /// transition just committed, in order. Every store calls this with the receipts it sealed
    /// before it writes the case, and the lifecycle on its own copy, so both agree. Returns
    /// whether anything changed.
    pub(crate) fn seal_evidence_refs(&mut self, sealed: &[Receipt]) -> bool {
        let mut changed = false;
        let mut seal = |refs: &mut Vec<EvidenceRef>| {
            for r in refs.iter_mut() {
                let Some(n) = r.receipt.strip_prefix('#').and_then(|n| n.parse::<usize>().ok()) else { continue };
                if let Some(receipt) = sealed.get(n) {
                    r.receipt = receipt.hash.clone();
                    changed = true;
                }
            }
        };
        seal(&mut self.evidence_refs);
        seal(&mut self.decision.evidence_refs);
        if let Some(outcome) = self.outcome.as_mut() {
            seal(&mut outcome.evidence_refs);
        }
        changed
    }
}

/// The case's rules about time and people, asked by the state machine (to fire what is due, to
/// accept an approval) and by hosts (a server's clock index, who sees an approval inbox): one
/// answer for both.
impl Case {
    /// The current approval tier's obligation, while the case waits for approvers.
    pub fn step_up(&self) -> Option<&StepUpObligation> {
        match self.state {
            CaseState::PendingApproval => self.decision.step_up.as_deref(),
            _ => None,
        }
    }

    /// When the current wait (approval tier or deferral) times out; `None` once resolved.
    pub fn deadline(&self) -> Option<i64> {
        let timeout_s = match self.state {
            CaseState::PendingApproval => self.decision.step_up.as_ref()?.timeout_s,
            CaseState::PendingEvidence => self.decision.defer.as_ref()?.timeout_s,
            _ => return None,
        };
        Some(self.waiting_since.saturating_add(timeout_s))
    }

    /// When the current tier's `escalate after D` falls due, until it has fired.
    pub(crate) fn escalation_due(&self) -> Option<i64> {
        let escalate = self.step_up()?.escalate.as_ref().filter(|_| !self.escalated)?;
        Some(self.waiting_since.saturating_add(escalate.after_s))
    }

    /// The earliest moment something is due for the case (an escalation or the timeout of its
    /// wait): before it, a clock tick changes nothing; `None` once resolved.
    pub fn next_due(&self) -> Option<i64> {
        let deadline = self.deadline()?;
        Some(self.escalation_due().map_or(deadline, |e| e.min(deadline)))
    }

    /// The person who asked for the action (`identity.human` as submitted; empty when none).
    pub fn requester(&self) -> &str {
        self.identity.get("human").and_then(|h| h.as_str()).unwrap_or("")
    }

    /// Whether `who` may approve or deny on the current tier at `now`: named by the tier, added
    /// by an escalation (also one due at `now` that no tick has fired yet: it fires before any
    /// event at `now`), or holding the tier's role (`holds` answers for a role name, with the
    /// roles the host verified).
    pub fn eligible(&self, who: &str, holds: impl Fn(&str) -> bool, now: i64) -> bool {
        let Some(tier) = self.step_up() else { return false };
        if self.extra_approvers.iter().any(|a| same_identity(a, who)) {
            return true;
        }
        if let Some(escalate) = &tier.escalate {
            let due = self.escalation_due().is_some_and(|at| at <= now);
            if due && escalate.to.iter().any(|a| same_identity(a, who)) {
                return true;
            }
        }
        match &tier.role {
            Some(role) => holds(role),
            None => tier.approvers.iter().any(|a| same_identity(a, who)),
        }
    }

    /// Whether `who` already approved or denied on the current tier.
    pub fn acted(&self, who: &str) -> bool {
        self.approvals.iter().any(|a| same_identity(&a.by, who))
            || self.denials.iter().any(|d| same_identity(&d.by, who))
    }

    /// Whether the case names `who` as one of its people: approved or denied it, added by an
    /// escalation, or listed as an approver of its tier (what an approver may read later).
    pub fn names(&self, who: &str) -> bool {
        self.acted(who)
            || self.extra_approvers.iter().any(|a| same_identity(a, who))
            || self.decision.step_up.as_ref().is_some_and(|s| s.approvers.iter().any(|a| same_identity(a, who)))
    }

    /// The facts the case still needs, grouped by the source the policy names for each, in the
    /// order the decision lists them; empty unless the case waits for evidence.
    pub fn needed_by_source(&self) -> BTreeMap<String, Vec<String>> {
        let mut out: BTreeMap<String, Vec<String>> = BTreeMap::new();
        if self.state != CaseState::PendingEvidence {
            return out;
        }
        let Some(defer) = &self.decision.defer else { return out };
        for need in &defer.need {
            if !self.evidence.contains_key(&need.name) && !need.source.is_empty() {
                out.entry(need.source.clone()).or_default().push(need.name.clone());
            }
        }
        out
    }

    /// When the case's next round is due: at once for its first round, then `backoff` after the
    /// last; `None` when it does not wait for evidence.
    pub fn next_round_due(&self, backoff: &Backoff) -> Option<i64> {
        if self.state != CaseState::PendingEvidence {
            return None;
        }
        Some(match self.rounds.last_at {
            None => self.waiting_since,
            Some(last) => last.saturating_add(backoff.wait_s(self.rounds.done)),
        })
    }
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
    /// The approvals met the quorum.
    pub const APPROVED: &str = "approved";
    /// An approver denied, and the tier lets one denial end the case.
    pub const VETOED: &str = "vetoed";
    /// A wait (approval tier or deferral) ran out, and the policy's `timeout ->` outcome (deny,
    /// cancel or allow) resolved the case.
    pub const TIMEOUT: &str = "timeout";
    /// A deferral was re-evaluated as many times as it allows and still came back `defer`.
    pub const ATTEMPTS_EXHAUSTED: &str = "attempts_exhausted";
    /// The case was withdrawn ([`crate::lifecycle::event::Event::Cancel`]).
    pub const CANCELLED: &str = "cancelled";
}

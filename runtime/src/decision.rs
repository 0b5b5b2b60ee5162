//! Decisions as hosts and `aarm eval` see them (the JSON contract of docs/json.md).

use crate::record::{earliest, new_decision_id, schema_default, Scope};
use crate::recurring::recurring;
use crate::spans::ErrorLocation;
use crate::value::{format_time, parse_time};
use serde::{Deserialize, Serialize};
use std::borrow::Cow;
use std::sync::Arc;

pub use crate::policy::Effect;

/// Why the decision is what it is: a stable code for programs and a message for people.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Reason {
    /// The rule's own code, `rule.NAME` for a rule without `reason`, or one of [`codes`].
    /// Shared: a decision takes the code its rule or verdict has, without a copy (issue 20).
    pub code: Arc<str>,
    /// For people: the rule's message with its interpolations rendered.
    pub message: String,
}

/// Which policy decided, and the exact bundle it came from: [`PolicyNames`] behind one shared
/// reference.
///
/// Every decision names one, and the engine keeps one per policy: a decision takes one reference
/// count instead of three, and dropping it gives one back (each is an atomic operation, and on a
/// busy server the counts of a popular policy are shared between cores; issue 20). Reads as its
/// names (`decision.policy.name`); serialized as them, an object of three strings.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct PolicyRef(Arc<PolicyNames>);

/// The names a [`PolicyRef`] shares.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PolicyNames {
    /// The deciding rule's policy (the bundle's first policy when no rule decided).
    pub name: String,
    /// That policy's version, as it declares it.
    pub version: String,
    /// The bundle's hash, `sha256:` and 64 hex digits: which build decided.
    pub bundle_hash: String,
}

impl PolicyRef {
    /// Policy `name` at `version`, from the bundle whose hash is `bundle_hash`.
    pub fn new(name: impl Into<String>, version: impl Into<String>, bundle_hash: impl Into<String>) -> PolicyRef {
        PolicyRef(Arc::new(PolicyNames { name: name.into(), version: version.into(), bundle_hash: bundle_hash.into() }))
    }

    /// The names to change, copied first if another decision shares them.
    pub fn make_mut(&mut self) -> &mut PolicyNames {
        Arc::make_mut(&mut self.0)
    }
}

impl std::ops::Deref for PolicyRef {
    type Target = PolicyNames;

    fn deref(&self) -> &PolicyNames {
        &self.0
    }
}

pub use crate::policy::Escalation;

/// A `step_up` as the decision JSON shows it (docs/json.md, "The `step_up` obligation"):
/// what the host needs to open a case for approvers.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct StepUpObligation {
    /// The identities that may approve (a group or list, resolved). Empty when `role` is set.
    pub approvers: Vec<String>,
    /// Approvers are identities whose host-verified roles include this one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub role: Option<String>,
    /// How many distinct approvals release the action.
    pub quorum: u32,
    /// Seconds until `on_timeout` applies.
    pub timeout_s: i64,
    /// What an unanswered step-up becomes.
    pub on_timeout: Outcome,
    /// Whom else to ask, and when; `None` without `escalate`.
    pub escalate: Option<Escalation>,
    /// Whether one denial ends the case.
    pub veto: bool,
    /// Whether the requester may count toward the quorum.
    pub self_approval: bool,
    /// `low`, `medium`, `high` or `critical`.
    pub risk: String,
    /// Channel names, as the policy wrote them: the host maps them.
    pub notify: Vec<String>,
    /// `valid D` in seconds: how long an approval counts, and how long the allow it releases may
    /// be acted on; absent: `settings { allow_valid }`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub valid_s: Option<i64>,
    /// `limits amount, count`: the parameters (names, as `--max NAME=V` takes them) an approver
    /// may cap. Absent from the JSON when there are none.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub limits: Vec<String>,
}

/// What an unanswered step-up or an unresolved deferral becomes, its step-up as hosts read it.
pub type Outcome = crate::policy::Outcome<StepUpObligation>;

/// An evidence fact a deferral waits for.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Need {
    /// The fact's name, as declared.
    pub name: String,
    /// Its declared type (`"Bool"`, `"String"`, ...).
    #[serde(rename = "type")]
    pub ty: String,
    /// Its declared `from` source, `""` when none: where the host may fetch it.
    pub source: String,
}

/// A `defer` as the decision JSON shows it (docs/json.md, "The `defer` obligation").
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeferObligation {
    /// The missing facts, in declaration order.
    pub need: Vec<Need>,
    /// Seconds the case may stay deferred.
    pub timeout_s: i64,
    /// What it then becomes.
    pub on_timeout: Outcome,
    /// How many re-evaluations may come back `defer`.
    pub max_attempts: u32,
    /// What the case becomes after that.
    pub on_exhausted: Outcome,
}

/// The action a `modify` lets go ahead: the request's, with the assigned parameters replaced.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ActionOut {
    /// The tool, as requested.
    pub tool: String,
    /// The operation, as requested.
    pub operation: String,
    /// The parameters, each assigned one written as the request writes that type.
    pub params: serde_json::Map<String, serde_json::Value>,
}

/// One decision, ready to serialize.
///
/// The obligations only some decisions carry (`step_up`, `defer`, `modified_action`, `error_at`,
/// `authority`) are boxed: every decision is moved several times between the evaluator and the
/// host, and inline they made it a kilobyte to copy each time (issue 20).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Decision {
    /// The version of this JSON: [`crate::record::DECISION_SCHEMA`].
    /// Borrowed from the constant when the engine made the decision (no allocation per decision),
    /// owned when it was read from JSON.
    #[serde(default = "crate::record::schema_default")]
    pub schema: Cow<'static, str>,
    /// The host's id of this decision (a ULID, see [`crate::record`]); `null` only from the bare
    /// engine, before a host hands the decision out.
    #[serde(default)]
    pub decision_id: Option<String>,
    /// The request's own `request_id`, when it has one.
    #[serde(default)]
    pub request_id: Option<String>,
    /// The time the request was decided at (its `context.now`), RFC 3339 UTC.
    #[serde(default)]
    pub evaluated_at: Option<String>,
    /// Until when an `allow` or `modify` may be acted on (`allow_valid`, a rule's `valid`);
    /// `null` when the policy sets no bound, and for every other decision.
    #[serde(default)]
    pub expires_at: Option<String>,
    /// The tool, operation and parameters decided on; `null` when the request could not be read.
    #[serde(default)]
    pub scope: Option<Scope>,
    /// Where to appeal a denial or an escalation (`settings { review }`); `null` for allows and
    /// when the policy names nobody.
    #[serde(default)]
    pub review: Option<String>,
    /// What the host may do.
    pub decision: Effect,
    /// The deciding rule's qualified name; `null` for the default and for invalid input.
    pub rule: Option<Arc<str>>,
    /// Why.
    pub reason: Reason,
    /// Which policy and bundle decided.
    pub policy: PolicyRef,
    /// The rule's `risk`, else its step-up's; `None` otherwise.
    pub risk: Option<Cow<'static, str>>,
    /// The rule's `confidence`, 0 to 1; `None` when it has none.
    pub confidence: Option<f64>,
    /// For `step_up` only: what approvers are asked.
    pub step_up: Option<Box<StepUpObligation>>,
    /// For `defer` only: what evidence is awaited.
    pub defer: Option<Box<DeferObligation>>,
    /// For `modify` only: the action as it may go ahead.
    pub modified_action: Option<Box<ActionOut>>,
    /// For `eval.error`: the source expression that failed, when the bundle's span table has it.
    /// Absent from the JSON otherwise.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error_at: Option<Box<ErrorLocation>>,
    /// The request fields the policy marks `@redact` for this tool (`params.body`,
    /// `context.ssn`): every record of the decision outside the evaluator shows a keyed hash in
    /// their place. Absent from the JSON when there are none.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub redacted: Vec<String>,
    /// On an override only: the `decision_id` of the denial it overrides (which it never
    /// changes). Absent from every other decision's JSON.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub overrides: Option<String>,
    /// On an override only: who granted it, by which authority, stating what.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub authority: Option<Box<Authority>>,
    /// On a case's released allow only: the caps its approvers set (`aarm case approve … --max
    /// amount=5000`), the smallest per parameter, keyed by path (`params.amount`). The released
    /// action is within them. Absent from the JSON when there are none.
    #[serde(default, skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub limits: std::collections::BTreeMap<String, ParamLimit>,
    /// On a case's decision re-evaluated with evidence: where each fact it was decided on came
    /// from, and the receipt that recorded it (the values stay in the case and out of the
    /// decision). Absent from the JSON when there are none.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub evidence_refs: Vec<EvidenceRef>,
}

/// A bound on one parameter of a released action: `max`, the largest value the approvers
/// approved, as exact decimal text (`"5000"`, `"12.5"`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ParamLimit {
    /// The largest approved value, as exact decimal text.
    pub max: String,
}

/// Where one fact of a re-evaluated decision came from (docs/json.md, "Evidence references"):
/// `source` is `request` (the request carried it), `provided_by:ID` (`POST …/evidence`,
/// `aarm case provide --by`), `provided` (nobody named), `confirm:HUMAN` (the requester's answer
/// to a `confirm` question) or the name of the evidence source that answered; `receipt` is the
/// hash of the receipt that recorded it (`open`, `provide` or `source`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct EvidenceRef {
    /// The evidence fact, by its declared name.
    pub fact: String,
    /// Where its value came from (see above).
    pub source: String,
    /// The hash of the receipt that recorded it.
    pub receipt: String,
}

/// The named authority of an override (docs/json.md, "Overrides"): the authenticated identity
/// that granted it, the role of the `override` declaration it held (`null` when the declaration
/// names identities), and the statements the declaration requires, as given.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Authority {
    /// The authenticated identity that granted the override.
    pub by: String,
    /// The role it held, when the declaration names a role.
    pub role: Option<String>,
    /// The statements the declaration requires (`reason`, `ticket`), as given.
    pub statements: std::collections::BTreeMap<String, String>,
}

/// Reason codes the engine itself produces (rules produce their own).
pub mod codes {
    /// The request did not match the bundle's schema or was not valid JSON.
    pub const INPUT_INVALID: &str = "input.invalid";
    /// Evaluating a rule failed (overflow, division by zero, fuel): never an allow.
    pub const EVAL_ERROR: &str = "eval.error";
    /// No rule matched: `settings { default ... }`.
    pub const DEFAULT_DENY: &str = "default.deny";
    /// No rule matched and `settings { default allow }`.
    pub const DEFAULT_ALLOW: &str = "default.allow";
    /// A rule whose condition depends on evidence the request does not carry might match.
    pub const EVIDENCE_REQUIRED: &str = "evidence.required";
    /// Equal-priority rules disagree under `settings { conflict defer }`.
    pub const CONFLICT: &str = "conflict.defer";
    /// The winning rule's confidence is below `settings { min_confidence }`.
    pub const LOW_CONFIDENCE: &str = "confidence.low";
    /// The bundle could not be loaded: fail closed.
    pub const BUNDLE_INVALID: &str = "bundle.invalid";
    /// A suspended action could not be recorded in the case store: it is denied rather than
    /// left waiting in a case nobody can find.
    pub const STORE_UNAVAILABLE: &str = "store.unavailable";
}

impl Decision {
    /// A `deny` that no rule made: invalid input, an unloadable bundle. Fail closed.
    pub fn fail_closed(code: &str, message: impl Into<String>, policy: PolicyRef) -> Decision {
        Decision::fail_closed_as(recurring(code), message, policy)
    }

    /// [`Decision::fail_closed`] with a code already shared (a rule's own).
    pub fn fail_closed_as(code: Arc<str>, message: impl Into<String>, policy: PolicyRef) -> Decision {
        Decision {
            schema: schema_default(),
            decision_id: None,
            request_id: None,
            evaluated_at: None,
            expires_at: None,
            scope: None,
            review: None,
            decision: Effect::Deny,
            rule: None,
            reason: Reason { code, message: message.into() },
            policy,
            risk: None,
            confidence: None,
            step_up: None,
            defer: None,
            modified_action: None,
            error_at: None,
            overrides: None,
            authority: None,
            redacted: Vec::new(),
            limits: Default::default(),
            evidence_refs: Vec::new(),
        }
    }
}

impl Decision {
    /// The decision as a decider without a span table would make it: no `error_at`, and the
    /// message without the ` at file:line:col in `expr`` it adds. For differential tests against
    /// the reference interpreter, which checks decisions, not source locations.
    pub fn without_error_location(mut self) -> Self {
        if let Some(at) = self.error_at.take() {
            self.reason.message = self.reason.message.replacen(&format!(" at {at}"), "", 1);
        }
        self
    }
}

// The decision as a record (`record.rs`): stamped, timed, denied instead, current or not.

impl Decision {
    /// Stamps the host's `decision_id` (see the module documentation); an id already given is
    /// kept, so that a decision handed through two layers keeps its first identity.
    pub fn identify(mut self) -> Self {
        if self.decision_id.is_none() {
            self.decision_id = Some(new_decision_id());
        }
        self
    }

    /// The `deny` that replaces this decision when the host cannot stand by it (a store failure,
    /// a session history it could not read): the same rule, policy and record (ids, time, scope),
    /// with no expiry and no obligation.
    pub fn denied_instead(&self, code: &str, message: impl Into<String>) -> Decision {
        let mut d = Decision::fail_closed(code, message, self.policy.clone());
        d.rule = self.rule.clone();
        d.decision_id = self.decision_id.clone();
        d.request_id = self.request_id.clone();
        d.evaluated_at = self.evaluated_at.clone();
        d.scope = self.scope.clone();
        d.review = self.review.clone();
        d
    }

    /// Whether the decision may be acted on at `now` (seconds since the epoch): it is an `allow`
    /// or a `modify` and, when it has an `expires_at`, `now` is before it. Every other decision,
    /// and an expiry that cannot be read, is not current: fail closed.
    ///
    /// An override is an `allow` with an `expires_at`: it is current until then, like any other.
    pub fn is_current(&self, now: i64) -> bool {
        if !self.decision.goes_ahead() {
            return false;
        }
        match &self.expires_at {
            None => true,
            Some(at) => parse_time(at).is_some_and(|expires| now < expires),
        }
    }

    /// Names the reviewer (`settings { review }`) on a decision that can be appealed: a `deny`, a
    /// `step_up` or a `defer`; an allow or modify has nothing to appeal.
    pub(crate) fn for_review(mut self, review: Option<String>) -> Self {
        if !self.decision.goes_ahead() {
            self.review = review;
        }
        self
    }

    /// Sets `evaluated_at` to `now` and, for an allow or modify valid `valid_s` seconds,
    /// `expires_at`.
    pub fn timed(self, now: i64, valid_s: Option<i64>) -> Self {
        self.timed_within(now, valid_s, None)
    }

    /// [`Decision::timed`], cut at `until` (seconds since the epoch) when that is earlier: an
    /// approver's bound on the allow it releases (`aarm case approve --until`).
    pub fn timed_within(mut self, now: i64, valid_s: Option<i64>, until: Option<i64>) -> Self {
        let (evaluated_at, expires_at) = Decision::times(self.decision, now, valid_s, until);
        self.evaluated_at = evaluated_at;
        if self.decision.goes_ahead() {
            self.expires_at = expires_at;
        }
        self
    }

    /// `evaluated_at` and `expires_at` of a decision `effect` made at `now`, valid `valid_s`
    /// seconds and at most until `until`: only an allow or a modify expires.
    pub(crate) fn times(
        effect: Effect,
        now: i64,
        valid_s: Option<i64>,
        until: Option<i64>,
    ) -> (Option<String>, Option<String>) {
        let expires_at = if effect.goes_ahead() {
            earliest(valid_s.map(|s| now.saturating_add(s)), until).map(format_time)
        } else {
            None
        };
        (Some(format_time(now)), expires_at)
    }
}

// ---------------------------------------------------------------------------------------------
// From the policy vocabulary to what hosts see (the one conversion; decisions are assembled in
// `assemble.rs`, for the engine and the compiler's reference interpreter alike).

use crate::policy::{Approvers, Defer, StepUp};

impl From<&StepUp> for StepUpObligation {
    fn from(s: &StepUp) -> StepUpObligation {
        let (approvers, role) = match &s.approvers {
            Approvers::Identities(ids) => (ids.clone(), None),
            Approvers::Role(r) => (Vec::new(), Some(r.clone())),
        };
        StepUpObligation {
            approvers,
            role,
            quorum: s.quorum,
            timeout_s: s.timeout_s,
            on_timeout: s.on_timeout.map(|s| StepUpObligation::from(s)),
            escalate: s.escalate.clone(),
            veto: s.veto,
            self_approval: s.self_approval,
            risk: s.risk.as_str().to_string(),
            notify: s.notify.clone(),
            valid_s: s.valid_s,
            limits: s.limits.clone(),
        }
    }
}

impl DeferObligation {
    /// A deferral's limits, with no `need` yet.
    pub fn limits<E>(d: &Defer<E>) -> Self {
        DeferObligation {
            need: Vec::new(),
            timeout_s: d.timeout_s,
            on_timeout: d.on_timeout.map(|s| StepUpObligation::from(s)),
            max_attempts: d.max_attempts,
            on_exhausted: d.on_exhausted.map(|s| StepUpObligation::from(s)),
        }
    }
}

/// Ten-thousandths per one of a rule's `confidence` and `settings { min_confidence }` (0..=1 with
/// at most 4 fractional digits, exact as an f64).
pub const CONFIDENCE_SCALE: i64 = 10_000;

/// A confidence in ten-thousandths as the decision shows it (exact for 0..=1).
pub fn confidence(scaled: i64) -> f64 {
    scaled as f64 / CONFIDENCE_SCALE as f64
}

/// A confidence in ten-thousandths as a reason message shows it (`0.75`).
pub(crate) fn format_confidence(scaled: i64) -> String {
    crate::value::format_decimal(i128::from(scaled) * (crate::decimal::DECIMAL_SCALE / i128::from(CONFIDENCE_SCALE)))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn allow() -> Decision {
        let policy = PolicyRef::new("p", "1", "");
        let mut d = Decision::fail_closed(codes::DEFAULT_ALLOW, "ok", policy);
        d.decision = Effect::Allow;
        d
    }

    #[test]
    fn ids_are_unique_and_sort_by_time() {
        let a = allow().identify();
        let b = allow().identify();
        let (a, b) = (a.decision_id.unwrap(), b.decision_id.unwrap());
        assert_eq!(a.len(), 26);
        assert_ne!(a, b);
        assert!(a[..10] <= b[..10], "the time part sorts: {a} {b}");
    }

    #[test]
    fn identify_keeps_an_id_already_given() {
        let d = allow().identify();
        let id = d.decision_id.clone();
        assert_eq!(d.identify().decision_id, id);
    }

    #[test]
    fn an_allow_is_current_until_it_expires() {
        let d = allow().timed(1000, Some(300));
        assert_eq!(d.expires_at.as_deref(), Some("1970-01-01T00:21:40Z"));
        assert!(d.is_current(1000));
        assert!(d.is_current(1299));
        assert!(!d.is_current(1300), "expired at expires_at");
        assert!(allow().timed(1000, None).is_current(i64::MAX), "no validity declared: no expiry");
    }

    #[test]
    fn a_denial_instead_keeps_the_record_and_drops_the_expiry() {
        let mut d = allow().timed(1000, Some(300)).identify();
        d.request_id = Some("r-1".into());
        let denied = d.denied_instead(codes::STORE_UNAVAILABLE, "no store");
        assert_eq!(denied.decision, Effect::Deny);
        assert_eq!((&denied.decision_id, &denied.request_id), (&d.decision_id, &d.request_id));
        assert_eq!(denied.evaluated_at, d.evaluated_at);
        assert_eq!(denied.expires_at, None);
        assert!(!Decision::is_current(&d.denied_instead(codes::STORE_UNAVAILABLE, "x"), 1000));
    }

    #[test]
    fn only_allow_and_modify_are_ever_current() {
        for effect in [Effect::Deny, Effect::StepUp, Effect::Defer] {
            let mut d = allow().timed(1000, Some(300));
            d.decision = effect;
            assert!(!d.is_current(1000), "{effect:?}");
        }
        let mut unreadable = allow();
        unreadable.expires_at = Some("soon".into());
        assert!(!unreadable.is_current(0), "an expiry that cannot be read fails closed");
    }

    /// A policy reference is written as the three strings it was before it was shared, reads
    /// back equal, and a change to one decision's copy leaves the others alone.
    #[test]
    fn a_policy_reference_is_written_as_its_three_names() {
        let p = PolicyRef::new("payments", "1.2.0", "sha256:ab");
        let text = serde_json::to_string(&p).unwrap();
        assert_eq!(text, r#"{"name":"payments","version":"1.2.0","bundle_hash":"sha256:ab"}"#);
        assert_eq!(serde_json::from_str::<PolicyRef>(&text).unwrap(), p);
        let mut q = p.clone();
        q.make_mut().version = "2".into();
        assert_eq!((p.version.as_str(), q.version.as_str()), ("1.2.0", "2"));
    }
}

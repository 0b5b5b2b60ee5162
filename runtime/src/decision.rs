//! Decisions as hosts and `aarm eval` see them (the JSON contract of docs/json.md).

use serde::{Deserialize, Serialize};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Effect {
    Allow,
    Deny,
    Modify,
    StepUp,
    Defer,
}

impl Effect {
    pub fn as_str(self) -> &'static str {
        match self {
            Effect::Allow => "allow",
            Effect::Deny => "deny",
            Effect::Modify => "modify",
            Effect::StepUp => "step_up",
            Effect::Defer => "defer",
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Reason {
    pub code: String,
    pub message: String,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PolicyRef {
    pub name: String,
    pub version: String,
    pub bundle_hash: String,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Escalation {
    pub after_s: i64,
    pub to: Vec<String>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct StepUpObligation {
    /// The identities that may approve (a group or list, resolved). Empty when `role` is set.
    pub approvers: Vec<String>,
    /// Approvers are identities whose host-verified roles include this one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub role: Option<String>,
    pub quorum: u32,
    pub timeout_s: i64,
    pub on_timeout: Outcome,
    pub escalate: Option<Escalation>,
    pub veto: bool,
    pub self_approval: bool,
    pub risk: String,
    pub notify: Vec<String>,
}

/// What an unanswered step-up or an unresolved deferral becomes.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    Allow,
    Deny,
    Cancel,
    StepUp(Box<StepUpObligation>),
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Need {
    pub name: String,
    #[serde(rename = "type")]
    pub ty: String,
    pub source: String,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeferObligation {
    pub need: Vec<Need>,
    pub timeout_s: i64,
    pub on_timeout: Outcome,
    pub max_attempts: u32,
    pub on_exhausted: Outcome,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ActionOut {
    pub tool: String,
    pub operation: String,
    pub params: serde_json::Map<String, serde_json::Value>,
}

/// One decision, ready to serialize.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Decision {
    pub decision: Effect,
    /// The deciding rule's qualified name; `null` for the default and for invalid input.
    pub rule: Option<String>,
    pub reason: Reason,
    pub policy: PolicyRef,
    pub risk: Option<String>,
    pub confidence: Option<f64>,
    pub step_up: Option<StepUpObligation>,
    pub defer: Option<DeferObligation>,
    pub modified_action: Option<ActionOut>,
    /// For `eval.error`: the source expression that failed, when the bundle's span table has it.
    /// Absent from the JSON otherwise.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error_at: Option<crate::spans::ErrorLocation>,
}

/// Reason codes the engine itself produces (rules produce their own).
pub mod codes {
    /// The request did not match the bundle's schema or was not valid JSON.
    pub const INPUT_INVALID: &str = "input.invalid";
    /// Evaluating a rule failed (overflow, division by zero, fuel): never an allow.
    pub const EVAL_ERROR: &str = "eval.error";
    /// No rule matched: `settings { default ... }`.
    pub const DEFAULT_DENY: &str = "default.deny";
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
        Decision {
            decision: Effect::Deny,
            rule: None,
            reason: Reason { code: code.to_string(), message: message.into() },
            policy,
            risk: None,
            confidence: None,
            step_up: None,
            defer: None,
            modified_action: None,
            error_at: None,
        }
    }
}

// ---------------------------------------------------------------------------------------------
// From the bundle's decision templates to what hosts see (one place, used by the engine and by
// the compiler's reference interpreter).

use crate::program::{ApproversData, DeferData, OutcomeData, StepUpData};

impl From<&OutcomeData> for Outcome {
    fn from(o: &OutcomeData) -> Outcome {
        match o {
            OutcomeData::Allow => Outcome::Allow,
            OutcomeData::Deny => Outcome::Deny,
            OutcomeData::Cancel => Outcome::Cancel,
            OutcomeData::StepUp(s) => Outcome::StepUp(Box::new(StepUpObligation::from(&**s))),
        }
    }
}

impl From<&StepUpData> for StepUpObligation {
    fn from(s: &StepUpData) -> StepUpObligation {
        let (approvers, role) = match &s.approvers {
            ApproversData::Identities(ids) => (ids.clone(), None),
            ApproversData::Role(r) => (Vec::new(), Some(r.clone())),
        };
        StepUpObligation {
            approvers,
            role,
            quorum: s.quorum,
            timeout_s: s.timeout_s,
            on_timeout: Outcome::from(&s.on_timeout),
            escalate: s.escalate.as_ref().map(|(after_s, to)| Escalation { after_s: *after_s, to: to.clone() }),
            veto: s.veto,
            self_approval: s.self_approval,
            risk: s.risk.as_str().to_string(),
            notify: s.notify.clone(),
        }
    }
}

impl DeferObligation {
    /// A deferral's limits, with no `need` yet.
    pub fn limits(timeout_s: i64, on_timeout: &OutcomeData, max_attempts: u32, on_exhausted: &OutcomeData) -> Self {
        DeferObligation {
            need: Vec::new(),
            timeout_s,
            on_timeout: Outcome::from(on_timeout),
            max_attempts,
            on_exhausted: Outcome::from(on_exhausted),
        }
    }
}

/// The limits of an explicit `defer` block (its `need` is filled in by the caller).
impl From<&DeferData> for DeferObligation {
    fn from(d: &DeferData) -> DeferObligation {
        DeferObligation::limits(d.timeout_s, &d.on_timeout, d.max_attempts, &d.on_exhausted)
    }
}

/// A confidence in ten-thousandths as the decision shows it (exact for 0..=1).
pub fn confidence(scaled: i64) -> f64 {
    scaled as f64 / crate::value::DECIMAL_SCALE as f64
}

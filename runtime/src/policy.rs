//! The policy vocabulary: what a rule, a `step_up` or `defer` block and `settings` say, once
//! checked. One set of types for the compiler's IR, the bundle's program and the engine, so that
//! no layer converts between copies of the same idea.
//!
//! The syntax tree (`aarm-lang`) keeps its own nodes, with spans; the checker lowers them into
//! these. The decision JSON of docs/json.md presents a step-up as a host reads it (approvers
//! resolved to a list or a role, the risk as text): see [`crate::decision::StepUpObligation`].

use crate::value::Value;
use serde::{Deserialize, Serialize};
use std::sync::Arc;

/// A constant: a literal of the source, a value of the bundle's pool, a value of a `test` step.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Const {
    /// A `Bool`.
    Bool(bool),
    /// An `Int`, a signed 64-bit integer.
    Int(i64),
    /// Units of 10^-18 (`crate::decimal`).
    Decimal(i128),
    /// A `String`.
    Str(String),
    /// Seconds.
    Duration(i64),
    /// Seconds since the Unix epoch, UTC.
    Time(i64),
    /// A list or set, its elements in order.
    List(Vec<Const>),
    /// Fields in the order of the record type, with their names (for JSON and messages).
    Record(Vec<(String, Const)>),
}

impl Const {
    /// The runtime value of the constant (record field names are positional at run time).
    pub fn to_value(&self) -> Value {
        match self {
            Const::Bool(b) => Value::Bool(*b),
            Const::Int(i) => Value::Int(*i),
            Const::Decimal(d) => Value::Decimal(*d),
            Const::Str(s) => Value::Str(Arc::from(s.as_str())),
            Const::Duration(d) => Value::Duration(*d),
            Const::Time(t) => Value::Time(*t),
            Const::List(items) => Value::List(items.iter().map(Const::to_value).collect()),
            Const::Record(fields) => Value::Record(fields.iter().map(|(_, c)| c.to_value()).collect()),
        }
    }
}

/// What a decision says the host may do, as the decision JSON names it (`decision`). Only
/// `Allow` and `Modify` let an action go ahead; everything that cannot be decided fails closed
/// to `Deny`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Effect {
    /// The action may go ahead as requested.
    Allow,
    /// The action must not go ahead.
    Deny,
    /// The action may go ahead only as `modified_action`, with the parameters a rule assigned.
    Modify,
    /// The action waits for approvers (the `step_up` obligation).
    StepUp,
    /// The action waits for evidence the request did not carry (the `defer` obligation).
    Defer,
}

impl Effect {
    /// Whether the host may go ahead with the action, as requested or as modified: an `allow` or
    /// a `modify`. Only these expire, and only the others can be appealed.
    pub fn goes_ahead(self) -> bool {
        matches!(self, Effect::Allow | Effect::Modify)
    }

    /// The name the decision JSON and the source give it (`step_up`).
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

/// `settings { default allow | deny }`: the decision when no rule matches.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum DefaultEffect {
    /// Allow what no rule decided: `default.allow`.
    Allow,
    /// Deny what no rule decided (the language's default): `default.deny`.
    Deny,
}

/// `settings { conflict restrictive | defer }`: what equal-priority rules that disagree do.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum ConflictMode {
    /// The most restrictive wins: deny, step_up, defer, modify, allow (the default).
    Restrictive,
    /// Neither wins: the action is deferred with `conflict.defer`.
    Defer,
}

/// A rule's or a step-up's `risk`, ordered from least to most severe.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Risk {
    /// `low`.
    Low,
    /// `medium`.
    Medium,
    /// `high`.
    High,
    /// `critical`.
    Critical,
}

impl Risk {
    /// The keyword, as the source and the decision JSON spell it.
    pub fn as_str(self) -> &'static str {
        match self {
            Risk::Low => "low",
            Risk::Medium => "medium",
            Risk::High => "high",
            Risk::Critical => "critical",
        }
    }
}

/// Who may approve a step-up.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Approvers {
    /// Named identities (from a group or a literal list, resolved).
    Identities(Vec<String>),
    /// Identities whose host-verified roles include this one.
    Role(String),
}

/// `escalate after D to [...]`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Escalation {
    /// Seconds after the step-up opens at which the escalation happens.
    pub after_s: i64,
    /// The identities the request then goes to as well.
    pub to: Vec<String>,
}

/// A `step_up` block with the bundle's defaults filled in.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct StepUp {
    /// How many distinct approvals release the action.
    pub quorum: u32,
    /// Who may approve.
    pub approvers: Approvers,
    /// Seconds until `on_timeout` applies.
    pub timeout_s: i64,
    /// What an unanswered step-up becomes.
    pub on_timeout: Outcome,
    /// Whom else to ask, and when; `None` without `escalate`.
    pub escalate: Option<Escalation>,
    /// Whether one denial ends the case, whatever the other approvers say.
    pub veto: bool,
    /// Whether the requester may approve their own action.
    pub self_approval: bool,
    /// The step-up's risk, shown to approvers.
    pub risk: Risk,
    /// The channels told of the request, as written: the host maps the names.
    pub notify: Vec<String>,
    /// `valid D` in seconds: how long an approval counts, and how long the allow it releases
    /// may be acted on (overrides `settings { allow_valid }`).
    pub valid_s: Option<i64>,
    /// `limits amount, count`: the top-level parameters (names, without `params.`, sorted) an
    /// approver may cap; each is an `Int` or `Decimal` every tool of the rule has.
    pub limits: Vec<String>,
}

/// What an unanswered step-up or an unresolved deferral becomes. `S` is the step-up as the
/// reader needs it: [`StepUp`] in a bundle, [`crate::decision::StepUpObligation`] in a decision.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome<S = StepUp> {
    /// The action is allowed.
    Allow,
    /// The action is denied.
    Deny,
    /// The case is cancelled: the action does not happen, and no approver denied it.
    Cancel,
    /// A further tier of approval.
    StepUp(Box<S>),
}

impl<S> Outcome<S> {
    /// The same outcome with its step-up presented by `f`.
    pub fn map<T>(&self, f: impl FnOnce(&S) -> T) -> Outcome<T> {
        match self {
            Outcome::Allow => Outcome::Allow,
            Outcome::Deny => Outcome::Deny,
            Outcome::Cancel => Outcome::Cancel,
            Outcome::StepUp(s) => Outcome::StepUp(Box::new(f(s))),
        }
    }
}

/// A `defer` block with the bundle's defaults filled in. `E` names an evidence fact: the IR's
/// id in the compiler, its index (`u16`) in a bundle.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Defer<E = u16> {
    /// The evidence facts the action waits for.
    pub need: Vec<E>,
    /// Seconds the case may stay deferred.
    pub timeout_s: i64,
    /// What it then becomes.
    pub on_timeout: Outcome,
    /// How many re-evaluations may come back `defer`.
    pub max_attempts: u32,
    /// What the case becomes after that.
    pub on_exhausted: Outcome,
}

/// Default deferral window when `settings` says nothing: ten minutes.
pub(crate) const DEFAULT_DEFER_TIMEOUT_S: i64 = 600;
/// Default number of re-evaluations that may come back `defer`.
pub(crate) const DEFAULT_DEFER_ATTEMPTS: u32 = 3;
/// Default approval window (docs/language.md, `step_up`: `1h -> deny`).
pub(crate) const DEFAULT_STEP_UP_TIMEOUT_S: i64 = 3600;

/// The bundle's `settings`, with the language's defaults where a line is absent.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Settings {
    /// The decision when no rule matches.
    pub default: DefaultEffect,
    /// What equal-priority rules that disagree do.
    pub conflict: ConflictMode,
    /// Ten-thousandths; `None` when not set.
    pub min_confidence: Option<i64>,
    /// For deferrals that come from unknown evidence or a `defer` block without limits.
    pub defer_timeout_s: i64,
    /// What such a deferral becomes when it times out.
    pub defer_on_timeout: Outcome,
    /// How many re-evaluations of such a deferral may come back `defer`.
    pub defer_attempts: u32,
    /// What such a deferral becomes after that.
    pub defer_on_exhausted: Outcome,
    /// For `step_up` blocks without a `timeout` clause.
    pub step_up_timeout_s: i64,
    /// What such a step-up becomes when it times out.
    pub step_up_on_timeout: Outcome,
    /// `allow_valid`: how long an allow or modify may be acted on (its `expires_at`); `None`:
    /// no bound.
    pub allow_valid_s: Option<i64>,
    /// `review`: who reviews denials and escalations, and hears appeals.
    pub review: Option<String>,
    /// `action_hash_ignores`: the parameters (top-level names, without `params.`) the action
    /// hash leaves out, sorted.
    pub action_hash_ignores: Vec<String>,
    /// The request fields marked `@redact` (tool and context declarations).
    pub redact: crate::redact::Redaction,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            default: DefaultEffect::Deny,
            conflict: ConflictMode::Restrictive,
            min_confidence: None,
            defer_timeout_s: DEFAULT_DEFER_TIMEOUT_S,
            defer_on_timeout: Outcome::Deny,
            defer_attempts: DEFAULT_DEFER_ATTEMPTS,
            defer_on_exhausted: Outcome::Deny,
            step_up_timeout_s: DEFAULT_STEP_UP_TIMEOUT_S,
            step_up_on_timeout: Outcome::Deny,
            allow_valid_s: None,
            review: None,
            action_hash_ignores: Vec::new(),
            redact: crate::redact::Redaction::default(),
        }
    }
}

impl Settings {
    /// The deferral limits of `settings`, as a `defer` block that needs nothing.
    pub fn defer_limits<E>(&self) -> Defer<E> {
        Defer {
            need: Vec::new(),
            timeout_s: self.defer_timeout_s,
            on_timeout: self.defer_on_timeout.clone(),
            max_attempts: self.defer_attempts,
            on_exhausted: self.defer_on_exhausted.clone(),
        }
    }
}

/// What a rule decides when it matches. `M` is what a `modify` carries (its assignments in the
/// compiler's IR; nothing in a bundle, whose candidates hold the assignments' code); `E` names an
/// evidence fact, as in [`Defer`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum RuleDecision<M = (), E = u16> {
    /// `allow`.
    Allow,
    /// `deny`.
    Deny,
    /// `modify`, with what it assigns.
    Modify(M),
    /// `step_up`, with its block.
    StepUp(StepUp),
    /// `defer`, with its block.
    Defer(Defer<E>),
}

impl<M, E> RuleDecision<M, E> {
    /// The decision's kind, as the decision JSON names it.
    pub fn effect(&self) -> Effect {
        match self {
            RuleDecision::Allow => Effect::Allow,
            RuleDecision::Deny => Effect::Deny,
            RuleDecision::Modify(_) => Effect::Modify,
            RuleDecision::StepUp(_) => Effect::StepUp,
            RuleDecision::Defer(_) => Effect::Defer,
        }
    }

    /// The decision's name, as the decision JSON and messages spell it (`step_up`).
    pub fn name(&self) -> &'static str {
        self.effect().as_str()
    }

    /// Restrictiveness at equal priority: deny > step_up > defer > modify > allow.
    pub fn rank(&self) -> u8 {
        match self {
            RuleDecision::Deny => 4,
            RuleDecision::StepUp(_) => 3,
            RuleDecision::Defer(_) => 2,
            RuleDecision::Modify(_) => 1,
            RuleDecision::Allow => 0,
        }
    }
}

/// The statements an `override … requires` may ask of the person who overrides: the only
/// words the checker accepts there, and the body fields `POST /v1/decisions/{id}/override` reads.
pub const OVERRIDE_STATEMENTS: &[&str] = &["reason", "ticket"];

/// What an override states when its declaration has no `requires`: a break-glass is never
/// without a stated reason.
pub const DEFAULT_OVERRIDE_STATEMENTS: &[&str] = &["reason"];

/// `override on TOOL by … for D requires …`: who may override a denial of `tool` (a separate,
/// signed decision that never changes the denial), how long the override may be acted on, and
/// what its author must state.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct OverridePolicy {
    /// The tool whose denials may be overridden.
    pub tool: String,
    /// Who may override: named identities, or holders of a host-verified role.
    pub by: Approvers,
    /// How long the override may be acted on (its `expires_at`), in seconds; at least 1.
    pub valid_s: i64,
    /// Names from [`OVERRIDE_STATEMENTS`], in the order written.
    pub requires: Vec<String>,
    /// The channels told when an override is granted or its review flags it (`notify "…"`), as
    /// written: the host maps the names, as for a `step_up`'s `notify`.
    pub notify: Vec<String>,
}

//! The context an approver needs to decide (seed 003, "What Approvers Must See"): the original
//! request, the action and its parameters, prior actions, data classes, semantic distance, risk,
//! policy confidence, the identity chain, the matched rule and why, and whether this is a direct
//! step-up or a deferral escalated to people. Every channel and the inbox render this one value.

use super::names::tool_call;
use aarm_cases::lifecycle::case::Case;
use aarm_runtime::decision::StepUpObligation;
use aarm_runtime::value::format_time;
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// Why the message was sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Trigger {
    /// The case waits for approvers (opened as a step-up, escalated from a deferral, or a
    /// further tier after a timeout).
    ApprovalRequested,
    /// `escalate after D to [...]` fired: more approvers were added.
    Escalated,
    /// A deferral waits for a fact from a `confirm` source: its requesting human is asked
    /// ([`Question`]).
    ConfirmRequested,
}

impl Trigger {
    /// A key that is the same for the same occasion, so that it is queued once per case.
    pub fn key(self, case: &Case) -> String {
        match self {
            Trigger::ApprovalRequested => format!("approval:tier{}", case.tier),
            Trigger::Escalated => format!("escalate:tier{}", case.tier),
            // A case's question is asked once: its answer, or the case's end, closes it.
            Trigger::ConfirmRequested => "confirm".to_string(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ActionView {
    pub tool: String,
    pub operation: String,
    pub params: Value,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct IdentityChain {
    pub human: String,
    pub service: String,
    pub agent: String,
    pub session: String,
    pub roles: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Links {
    /// The inbox, showing this case.
    pub case: String,
    /// The inbox with the approve (or deny) form of this case open. Links never act by
    /// themselves: the approver confirms in the inbox, signed in, so a link preview or a
    /// forwarded e-mail cannot approve anything.
    pub approve: String,
    pub deny: String,
}

/// One approval request as every channel shows it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ApprovalContext {
    pub case: String,
    pub trigger: Trigger,
    /// `step_up` (the policy asked for approval directly) or `defer_escalation` (a deferral
    /// that automated resolution could not end, escalated to people).
    pub source: String,
    pub state: String,
    pub original_request: String,
    pub action: ActionView,
    pub prior_actions: Vec<Value>,
    pub data_classes: Vec<String>,
    pub semantic_distance: Option<Value>,
    pub risk: String,
    /// Policy confidence, 0..1, when the rule states one.
    pub confidence: Option<f64>,
    pub identity: IdentityChain,
    /// The rule that asked for approval, its documentation, and its reason.
    pub rule: Option<std::sync::Arc<str>>,
    pub rule_doc: Option<String>,
    pub reason_code: std::sync::Arc<str>,
    pub reason: String,
    pub approvers: Vec<String>,
    pub approver_role: Option<String>,
    pub quorum: u32,
    pub approvals: Vec<String>,
    /// Approvers added by an escalation.
    pub escalated_to: Vec<String>,
    pub tier: u32,
    /// Evidence collected so far (a deferral's facts carried to the approvers).
    pub evidence: Value,
    pub opened_at: String,
    /// When the wait times out, and what it then becomes.
    pub deadline: Option<String>,
    pub on_timeout: Option<String>,
    pub policy: String,
    pub bundle_hash: String,
    pub links: Links,
    /// For an escalated deferral (`source` = `defer_escalation`): what it waited for and why
    /// it reached people. Absent otherwise (and in contexts built without the bundle).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deferral: Option<DeferralContext>,
    /// For a question to the requesting human (`trigger` = `confirm_requested`): what they are
    /// asked and how to answer. Absent otherwise.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub question: Option<Question>,
}

/// A deferral's question to the person the action is for (a `confirm` source): only they
/// answer it, signed in, with confirm (the facts become `true`) or decline (`false`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Question {
    /// Who is asked: the request's `identity.human`, as the agent's credential vouched for it.
    pub to: String,
    /// The question, in the deferring rule's words (its reason).
    pub text: String,
    /// The facts the answer gives.
    pub facts: Vec<String>,
    /// When the deferral times out unanswered (RFC 3339), and what it then becomes.
    pub deadline: Option<String>,
    pub on_timeout: Option<String>,
}

/// The channels a deferral's question goes out on: those its rule names for the people it
/// would hand the case to (the `notify` of its `timeout` and `attempts` outcomes' `step_up`), in
/// that order, each once. A deferral that hands nobody over names none: its question is only in
/// the inbox.
pub fn question_channels(case: &Case) -> Vec<String> {
    let Some(d) = &case.decision.defer else { return Vec::new() };
    let mut out: Vec<String> = Vec::new();
    for outcome in [&d.on_timeout, &d.on_exhausted] {
        if let aarm_runtime::decision::Outcome::StepUp(s) = outcome {
            for channel in &s.notify {
                if !out.contains(channel) {
                    out.push(channel.clone());
                }
            }
        }
    }
    out
}

/// Why a deferral became an approval request, and what it had waited for.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DeferralContext {
    /// The evidence the deferring rule waited for (its `need`), by name.
    pub awaited: Vec<String>,
    /// Of those, the ones nobody supplied.
    pub missing: Vec<String>,
    /// Re-evaluations with new evidence that still came back `defer`.
    pub attempts: u32,
    /// The rule's `attempts` limit, when the bundle states it.
    pub max_attempts: Option<u32>,
    /// `timeout` (the evidence did not come in time) or `attempts_exhausted`.
    pub escalated_because: String,
    /// The same in plain words, for people.
    pub explanation: String,
}

impl DeferralContext {
    /// `window_ok (missing), ticket_id`: what the deferral waited for, as one line.
    pub fn awaited_line(&self) -> String {
        if self.awaited.is_empty() {
            return "not recorded".to_string();
        }
        let names: Vec<String> = self
            .awaited
            .iter()
            .map(|n| if self.missing.contains(n) { format!("{n} (missing)") } else { n.clone() })
            .collect();
        names.join(", ")
    }

    /// `awaited` and `max_attempts` come from the deferring rule in the case's bundle.
    pub fn new(case: &Case, awaited: Vec<String>, max_attempts: Option<u32>) -> DeferralContext {
        let missing: Vec<String> = awaited.iter().filter(|n| !case.evidence.contains_key(*n)).cloned().collect();
        let exhausted = max_attempts.is_some_and(|max| case.attempts >= max);
        let explanation = if exhausted {
            format!(
                "The policy was asked again {} time(s) with new evidence and still could not decide, so it asks people.",
                case.attempts
            )
        } else if missing.is_empty() {
            "The evidence did not settle it before the deferral's time limit, so the policy asks people.".to_string()
        } else {
            format!(
                "Nobody supplied {} before the deferral's time limit, so the policy asks people.",
                missing.join(", ")
            )
        };
        DeferralContext {
            awaited,
            missing,
            attempts: case.attempts,
            max_attempts,
            escalated_because: if exhausted { "attempts_exhausted" } else { "timeout" }.to_string(),
            explanation,
        }
    }
}

/// How a resolved case ended, in the terms an approver asks about: the decision, who made it,
/// when, and why. `by` is empty when nobody did (a timeout, the policy on new evidence).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OutcomeSummary {
    /// `allow`, `modify` or `deny` (a cancelled case is a `deny`).
    pub decision: String,
    pub state: String,
    /// When the case was resolved (RFC 3339, UTC).
    pub at: String,
    pub by: Vec<String>,
    /// The lifecycle's or the rule's reason code (`approved`, `vetoed`, `timeout`, ...).
    pub reason_code: std::sync::Arc<str>,
    pub reason: String,
    /// The deny reason an approver gave, when one did.
    pub why: Option<String>,
}

impl OutcomeSummary {
    /// `None` while the case is pending.
    pub fn of(case: &Case) -> Option<OutcomeSummary> {
        if !case.state.is_resolved() {
            return None;
        }
        let reason = case.resolution.clone().unwrap_or_else(|| case.decision.reason.clone());
        let vetoed = &*reason.code == aarm_cases::lifecycle::case::reasons::VETOED;
        let approved = &*reason.code == aarm_cases::lifecycle::case::reasons::APPROVED;
        let by = if vetoed {
            case.denials.iter().map(|d| d.by.clone()).collect()
        } else if approved {
            case.approvals.iter().map(|a| a.by.clone()).collect()
        } else {
            Vec::new()
        };
        let why = if vetoed { case.denials.iter().rev().find_map(|d| d.why.clone()) } else { None };
        Some(OutcomeSummary {
            decision: case.outcome.as_ref().map(|d| d.decision.as_str().to_string()).unwrap_or_else(|| "deny".into()),
            state: case.state.as_str().to_string(),
            at: format_time(case.updated_at),
            by,
            reason_code: reason.code,
            reason: reason.message,
            why,
        })
    }
}

fn strings(v: Option<&Value>) -> Vec<String> {
    v.and_then(Value::as_array)
        .map(|a| a.iter().filter_map(|s| s.as_str().map(str::to_string)).collect())
        .unwrap_or_default()
}

fn text(v: Option<&Value>) -> String {
    v.and_then(Value::as_str).unwrap_or("").to_string()
}

fn outcome_name(o: &aarm_runtime::decision::Outcome) -> &'static str {
    match o {
        aarm_runtime::decision::Outcome::Allow => "allow",
        aarm_runtime::decision::Outcome::Deny => "deny",
        aarm_runtime::decision::Outcome::Cancel => "cancel",
        aarm_runtime::decision::Outcome::StepUp(_) => "step_up",
    }
}

/// Risk levels highest first, for sorting queues.
pub fn risk_rank(risk: &str) -> u8 {
    match risk {
        "critical" => 4,
        "high" => 3,
        "medium" => 2,
        "low" => 1,
        _ => 0,
    }
}

impl ApprovalContext {
    pub fn new(case: &Case, trigger: Trigger, public_url: &str, rule_doc: Option<String>) -> ApprovalContext {
        let req = &case.request;
        let action = req.get("action");
        let ctx = req.get("context");
        let id = req.get("identity");
        let s: Option<&StepUpObligation> = case.decision.step_up.as_deref();
        let deadline = s.map(|s| format_time(case.waiting_since.saturating_add(s.timeout_s)));
        let link = |action: &str| match action {
            "" => format!("{public_url}/inbox?case={}", case.id),
            a => format!("{public_url}/inbox?case={}&action={a}", case.id),
        };
        ApprovalContext {
            case: case.id.clone(),
            trigger,
            source: if case.escalated_from_defer { "defer_escalation" } else { "step_up" }.to_string(),
            state: case.state.as_str().to_string(),
            original_request: text(ctx.and_then(|c| c.get("original_request"))),
            action: ActionView {
                tool: text(action.and_then(|a| a.get("tool"))),
                operation: text(action.and_then(|a| a.get("operation"))),
                params: action.and_then(|a| a.get("params")).cloned().unwrap_or_else(|| serde_json::json!({})),
            },
            prior_actions: ctx
                .and_then(|c| c.get("prior_actions"))
                .and_then(Value::as_array)
                .cloned()
                .unwrap_or_default(),
            data_classes: strings(ctx.and_then(|c| c.get("data_classes"))),
            semantic_distance: ctx.and_then(|c| c.get("semantic_distance")).filter(|v| !v.is_null()).cloned(),
            risk: s
                .map(|s| s.risk.clone())
                .or_else(|| case.decision.risk.as_deref().map(str::to_string))
                .unwrap_or_else(|| "medium".into()),
            confidence: case.decision.confidence,
            identity: IdentityChain {
                human: text(id.and_then(|i| i.get("human"))),
                service: text(id.and_then(|i| i.get("service"))),
                agent: text(id.and_then(|i| i.get("agent"))),
                session: text(id.and_then(|i| i.get("session"))),
                roles: strings(id.and_then(|i| i.get("roles"))),
            },
            rule: case.decision.rule.clone(),
            rule_doc,
            reason_code: case.decision.reason.code.clone(),
            reason: case.decision.reason.message.clone(),
            approvers: s.map(|s| s.approvers.clone()).unwrap_or_default(),
            approver_role: s.and_then(|s| s.role.clone()),
            quorum: s.map(|s| s.quorum).unwrap_or(0),
            approvals: case.approvals.iter().map(|a| a.by.clone()).collect(),
            escalated_to: case.extra_approvers.clone(),
            tier: case.tier,
            evidence: serde_json::to_value(&case.evidence).unwrap_or(Value::Null),
            opened_at: format_time(case.opened_at),
            deadline,
            on_timeout: s.map(|s| outcome_name(&s.on_timeout).to_string()),
            policy: format!("{} {}", case.decision.policy.name, case.decision.policy.version),
            bundle_hash: case.bundle_hash.clone(),
            links: Links { case: link(""), approve: link("approve"), deny: link("deny") },
            deferral: None,
            question: None,
        }
    }

    /// The question of a deferral waiting for `facts` from a `confirm` source, to the
    /// request's `identity.human`: the links open the inbox on it with confirm (`approve`) or
    /// decline (`deny`) chosen, and like every link, they do not answer by themselves.
    pub fn question(case: &Case, public_url: &str, facts: Vec<String>) -> ApprovalContext {
        let mut c = ApprovalContext::new(case, Trigger::ConfirmRequested, public_url, None);
        let link = |answer: &str| format!("{public_url}/inbox?case={}&action={answer}", case.id);
        c.links.approve = link("confirm");
        c.links.deny = link("decline");
        let d = case.decision.defer.as_ref();
        c.question = Some(Question {
            to: c.identity.human.clone(),
            text: c.reason.clone(),
            facts,
            deadline: d.map(|d| format_time(case.waiting_since.saturating_add(d.timeout_s))),
            on_timeout: d.map(|d| outcome_name(&d.on_timeout).to_string()),
        });
        c
    }

    /// Adds what an escalated deferral waited for (known only with the case's bundle at hand).
    pub fn with_deferral(mut self, deferral: Option<DeferralContext>) -> ApprovalContext {
        self.deferral = deferral;
        self
    }

    /// `[APPROVAL REQUIRED] tool.operation` (or `[DEFER ESCALATION]`, `[ESCALATED]`).
    pub fn title(&self) -> String {
        let tool = tool_call(&self.action.tool, &self.action.operation);
        if let Some(q) = &self.question {
            return format!("[CONFIRM] {tool} ({}): {}", self.case, q.text);
        }
        let prefix = match (self.trigger, self.source.as_str()) {
            (Trigger::Escalated, _) => "[ESCALATED]",
            (_, "defer_escalation") => "[DEFER ESCALATION]",
            _ => "[APPROVAL REQUIRED]",
        };
        format!("{prefix} {tool} ({}, risk {})", self.case, self.risk)
    }

    /// Who may approve, as one line.
    pub fn approver_line(&self) -> String {
        let set = match &self.approver_role {
            Some(role) => format!("role \"{role}\""),
            None => self.approvers.join(", "),
        };
        let mut line = format!("{} of {set}", self.quorum);
        if !self.escalated_to.is_empty() {
            line.push_str(&format!("; escalated to {}", self.escalated_to.join(", ")));
        }
        line
    }

    /// The prior actions as `tool → decision` items.
    pub fn prior_lines(&self) -> Vec<String> {
        self.prior_actions.iter().map(|a| format!("{} → {}", text(a.get("tool")), text(a.get("decision")))).collect()
    }

    pub fn identity_line(&self) -> String {
        let id = &self.identity;
        let or_dash = |s: &str| if s.is_empty() { "—".to_string() } else { s.to_string() };
        let roles = if id.roles.is_empty() { "—".to_string() } else { id.roles.join(", ") };
        format!(
            "{} → {} → {} (session {}) → roles {roles}",
            or_dash(&id.human),
            or_dash(&id.service),
            or_dash(&id.agent),
            or_dash(&id.session)
        )
    }

    /// The whole context as plain text (e-mail bodies).
    pub fn to_text(&self) -> String {
        if let Some(q) = &self.question {
            return self.question_text(q);
        }
        let params = serde_json::to_string_pretty(&self.action.params).unwrap_or_default();
        let source = if self.source == "defer_escalation" {
            "escalated deferral (automated resolution could not decide)"
        } else {
            "direct step-up"
        };
        let distance = self.semantic_distance.as_ref().map(Value::to_string).unwrap_or_else(|| "not given".into());
        let confidence = self.confidence.map(|c| format!("{:.0}%", c * 100.0)).unwrap_or_else(|| "not stated".into());
        let prior = if self.prior_actions.is_empty() { "none".to_string() } else { self.prior_lines().join("; ") };
        let classes =
            if self.data_classes.is_empty() { "none flagged".to_string() } else { self.data_classes.join(", ") };
        let mut out = String::new();
        out.push_str(&format!("{}\n\n", self.title()));
        out.push_str(&format!("Source:            {source}\n"));
        out.push_str(&format!("Original request:  {}\n", self.original_request));
        out.push_str(&format!("Action:            {} {}\n", self.action.tool, self.action.operation));
        out.push_str(&format!("Parameters:\n{params}\n"));
        out.push_str(&format!("Prior actions:     {prior}\n"));
        out.push_str(&format!("Data classes:      {classes}\n"));
        out.push_str(&format!("Semantic distance: {distance}\n"));
        out.push_str(&format!("Risk:              {}\n", self.risk));
        out.push_str(&format!("Policy confidence: {confidence}\n"));
        out.push_str(&format!("Identity chain:    {}\n", self.identity_line()));
        out.push_str(&format!("Matched rule:      {}\n", self.rule.as_deref().unwrap_or("—")));
        if let Some(doc) = &self.rule_doc {
            out.push_str(&format!("Rule doc:          {doc}\n"));
        }
        out.push_str(&format!("Why:               {} ({})\n", self.reason, self.reason_code));
        if let Some(d) = &self.deferral {
            out.push_str(&format!("Why people decide: {}\n", d.explanation));
            out.push_str(&format!("Evidence awaited:  {}\n", d.awaited_line()));
        }
        out.push_str(&format!("Approvers:         {}\n", self.approver_line()));
        if let Some(deadline) = &self.deadline {
            out.push_str(&format!(
                "Deadline:          {deadline} (then: {})\n",
                self.on_timeout.as_deref().unwrap_or("deny")
            ));
        }
        out.push_str(&format!("Policy:            {} ({})\n\n", self.policy, self.bundle_hash));
        out.push_str(&format!("Approve: {}\nDeny:    {}\n", self.links.approve, self.links.deny));
        out
    }

    /// A question as plain text: who is asked what, about which action, until when, and where
    /// to answer.
    fn question_text(&self, q: &Question) -> String {
        let params = serde_json::to_string_pretty(&self.action.params).unwrap_or_default();
        let deadline = q.deadline.as_deref().unwrap_or("none");
        let mut out = String::new();
        out.push_str(&format!("{}\n\n", self.title()));
        out.push_str(&format!("To:                {} (only you can answer)\n", q.to));
        out.push_str(&format!("Question:          {}\n", q.text));
        out.push_str(&format!("Asked by:          {}\n", self.identity_line()));
        out.push_str(&format!("Original request:  {}\n", self.original_request));
        out.push_str(&format!("Action:            {} {}\n", self.action.tool, self.action.operation));
        out.push_str(&format!("Parameters:\n{params}\n"));
        out.push_str(&format!("Your answer gives: {}\n", q.facts.join(", ")));
        out.push_str(&format!("Deadline:          {deadline} (then: {})\n", q.on_timeout.as_deref().unwrap_or("deny")));
        out.push_str(&format!("Policy:            {} ({})\n\n", self.policy, self.bundle_hash));
        out.push_str(&format!(
            "Answer in the inbox, signed in as {}:\nConfirm: {}\nDecline: {}\n",
            q.to, self.links.approve, self.links.deny
        ));
        out
    }
}

/// What the outbox keeps and every channel sends: an approval request (or a question to the
/// requester), or the notice of an override. Kept as JSON; an approval context kept by an
/// earlier version reads back as one (a notice has `override_id`, a context has not).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Message {
    Override(Box<super::override_notice::OverrideNotice>),
    Approval(Box<ApprovalContext>),
}

impl Message {
    /// `X-Aarm-Event` and the webhook body's `event`.
    pub fn event(&self) -> String {
        match self {
            Message::Override(n) => n.event.as_str().to_string(),
            Message::Approval(c) => {
                serde_json::to_value(c.trigger).ok().and_then(|v| v.as_str().map(str::to_string)).unwrap_or_default()
            }
        }
    }

    /// The case or the override the message is about: what the outbox files it under.
    pub fn subject(&self) -> &str {
        match self {
            Message::Override(n) => &n.override_id,
            Message::Approval(c) => &c.case,
        }
    }

    /// An e-mail's subject, a Slack message's text.
    pub fn title(&self) -> String {
        match self {
            Message::Override(n) => n.title(),
            Message::Approval(c) => c.title(),
        }
    }

    /// The whole message as plain text (e-mail bodies).
    pub fn to_text(&self) -> String {
        match self {
            Message::Override(n) => n.to_text(),
            Message::Approval(c) => c.to_text(),
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use serde_json::json;

    /// A pending step-up case, as the store keeps one.
    fn case() -> Case {
        serde_json::from_value(json!({
            "id": "case-000001", "state": "pending_approval",
            "request": { "action": { "tool": "transfer", "params": { "amount": 5000 } } },
            "action_hash": "sha256:a", "identity": { "agent": "bot" }, "bundle_hash": "sha256:b",
            "decision": {
                "decision": "step_up", "rule": "p.big", "reason": { "code": "big", "message": "big" },
                "policy": { "name": "p", "version": "1", "bundle_hash": "sha256:b" }, "risk": "high",
                "confidence": null, "defer": null, "modified_action": null,
                "step_up": { "approvers": ["cfo@corp.com"], "quorum": 1, "timeout_s": 60, "on_timeout": "deny",
                             "escalate": null, "veto": true, "self_approval": false, "risk": "high", "notify": [] }
            },
            "escalated_from_defer": false, "tier": 0, "approvals": [], "denials": [], "extra_approvers": [],
            "escalated": false, "evidence": {}, "attempts": 0, "opened_at": 0, "waiting_since": 0, "updated_at": 0,
            "outcome": null, "resolution": null, "released_action": null, "version": 1
        }))
        .unwrap()
    }

    /// The outbox keeps messages as JSON across restarts and upgrades: an approval context kept
    /// before override notices existed reads back as an approval, and each kind as itself.
    #[test]
    fn kept_messages_read_back_as_what_they_were() {
        let context = ApprovalContext::new(&case(), Trigger::ApprovalRequested, "https://aarm", None);
        let kept_before = serde_json::to_string(&context).unwrap();
        let read: Message = serde_json::from_str(&kept_before).unwrap();
        assert_eq!(read, Message::Approval(Box::new(context.clone())));
        assert_eq!((read.event(), read.subject()), ("approval_requested".to_string(), "case-000001"));
        let kept_now = serde_json::to_string(&read).unwrap();
        assert_eq!(kept_now, kept_before, "the same bytes as before");
    }
}

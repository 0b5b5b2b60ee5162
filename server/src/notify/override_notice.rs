//! What the channels an `override` declaration names (`notify "…"`) are told of a break-glass
//! override (server/README.md, "Overrides and review"): when it is granted, and when a review
//! flags it. Who overrode which denial (the tool, the rule and its reason), by which authority,
//! stating what, until when, and where to review it.
//!
//! A notice carries no parameter value: the service keeps a denial's decision, not its request,
//! and a decision names parameters without their values (its reason cannot interpolate a field
//! marked `@redact`, E0323). What is left out is said: `denied.redacted` lists the marked paths.

use aarm_cases::overrides::DeniedAction;
use aarm_cases::store::service::StoredOverride;
use aarm_runtime::decision::{Authority, Decision};
use aarm_runtime::value::format_time;
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// Why a notice is sent: `X-Aarm-Event` and the webhook body's `event`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OverrideEvent {
    /// An override was granted.
    OverrideGranted,
    /// A reviewer flagged an override.
    OverrideFlagged,
}

impl OverrideEvent {
    /// The outbox's occasion: each is queued once per override and channel.
    pub fn key(self) -> &'static str {
        match self {
            OverrideEvent::OverrideGranted => "override:granted",
            OverrideEvent::OverrideFlagged => "override:flagged",
        }
    }

    /// The event's name, as a notice's `event` and a delivery's trigger spell it.
    pub fn as_str(self) -> &'static str {
        match self {
            OverrideEvent::OverrideGranted => "override_granted",
            OverrideEvent::OverrideFlagged => "override_flagged",
        }
    }
}

/// The denial an override names, as its decision recorded it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DeniedView {
    /// The denial's `decision_id`.
    pub decision_id: String,
    /// The request's `request_id`, when it sent one.
    pub request_id: Option<String>,
    /// The agent that was denied.
    pub agent: String,
    /// The tool the denied action called.
    pub tool: String,
    /// The tool's operation.
    pub operation: String,
    /// The names of the parameters decided on (never their values).
    pub params: Vec<String>,
    /// The rule that denied it (`null` for the default and refused input).
    pub rule: Option<std::sync::Arc<str>>,
    /// The denial's stable reason code.
    pub reason_code: std::sync::Arc<str>,
    /// The denial's reason, as its decision said it.
    pub reason: String,
    /// When it was denied (RFC 3339).
    pub at: String,
    /// The hash of the denial's receipt.
    pub receipt: String,
    /// The request fields the policy marks `@redact` for this tool: left out of every record.
    pub redacted: Vec<String>,
}

/// A reviewer's verdict, on a flagged override's notice.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct VerdictView {
    /// Who reviewed it.
    pub reviewer: String,
    /// `accept` or `flag`.
    pub verdict: String,
    /// The reviewer's note, if any.
    pub note: Option<String>,
    /// When it was reviewed (RFC 3339).
    pub at: String,
    /// The hash of the verdict's receipt.
    pub receipt: String,
}

/// One override as every channel shows it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OverrideNotice {
    /// Granted or flagged.
    pub event: OverrideEvent,
    /// The override's own `decision_id`.
    pub override_id: String,
    /// The denial the override names.
    pub denied: DeniedView,
    /// Who granted it, by which role, stating what (`reason`, `ticket`).
    pub authority: Authority,
    /// When it was granted (RFC 3339).
    pub granted_at: String,
    /// Until when the override may be acted on.
    pub expires_at: String,
    /// The hash of the denied (and overridden) action.
    pub action_hash: String,
    /// The hash of the override's receipt.
    pub receipt: String,
    /// The policy that denied the action, by name.
    pub policy: String,
    /// The bundle the override was checked against.
    pub bundle_hash: String,
    /// The verdict, on an `override_flagged` notice.
    pub review: Option<VerdictView>,
    /// `GET` it (an approver's or operator's token) to see the override and its verdict;
    /// `POST {"verdict": …}` there to review it.
    pub review_url: String,
}

impl OverrideNotice {
    /// The notice of override `o` of `denied`, for `event`; `public_url` is where the service
    /// is reached (links are relative without one).
    pub fn new(event: OverrideEvent, o: &StoredOverride, denied: &DeniedAction, public_url: &str) -> OverrideNotice {
        let granted: Option<Decision> = serde_json::from_str(&o.json).ok();
        let d = &denied.decision;
        let text = |key: &str| denied.answered.get(key).and_then(Value::as_str).unwrap_or_default().to_string();
        OverrideNotice {
            event,
            override_id: o.id.clone(),
            denied: DeniedView {
                decision_id: denied.denial.decision_id.clone(),
                request_id: d.request_id.clone(),
                agent: denied.denial.agent.clone(),
                tool: denied.scope.tool.to_string(),
                operation: denied.scope.operation.to_string(),
                params: denied.scope.params.iter().map(|p| p.to_string()).collect(),
                rule: d.rule.clone(),
                reason_code: d.reason.code.clone(),
                reason: d.reason.message.clone(),
                at: format_time(denied.denial.at),
                receipt: text("receipt"),
                redacted: d.redacted.clone(),
            },
            authority: granted.as_ref().and_then(|g| g.authority.as_deref().cloned()).unwrap_or_else(|| Authority {
                by: o.author.clone(),
                role: None,
                statements: Default::default(),
            }),
            granted_at: format_time(o.created_at),
            expires_at: format_time(o.expires_at),
            action_hash: denied.action_hash(),
            receipt: o.receipt.clone(),
            policy: granted.as_ref().map(|g| format!("{} {}", g.policy.name, g.policy.version)).unwrap_or_default(),
            bundle_hash: granted.map(|g| g.policy.bundle_hash.to_string()).unwrap_or_default(),
            review: o.verdict.as_ref().map(|v| VerdictView {
                reviewer: v.reviewer.clone(),
                verdict: v.verdict.clone(),
                note: v.note.clone(),
                at: format_time(v.at),
                receipt: v.receipt.clone(),
            }),
            review_url: format!("{public_url}/v1/reviews/{}", o.id),
        }
    }

    /// `[OVERRIDE] tool denial overridden by who (role R)` or `[OVERRIDE FLAGGED] …`.
    pub fn title(&self) -> String {
        let tool = super::names::tool_call(&self.denied.tool, &self.denied.operation);
        match self.event {
            OverrideEvent::OverrideGranted => {
                format!("[OVERRIDE] {tool} denial overridden by {}", self.authority_line())
            }
            OverrideEvent::OverrideFlagged => format!(
                "[OVERRIDE FLAGGED] {tool} override by {} flagged by {}",
                self.authority.by,
                self.review.as_ref().map_or("a reviewer", |r| r.reviewer.as_str())
            ),
        }
    }

    /// `cfo@corp.com (role incident-commander)`.
    pub fn authority_line(&self) -> String {
        match &self.authority.role {
            Some(role) => format!("{} (role {role})", self.authority.by),
            None => format!("{} (named by the policy)", self.authority.by),
        }
    }

    /// The statements as `reason: …; ticket: …`.
    pub fn statements_line(&self) -> String {
        let s: Vec<String> = self.authority.statements.iter().map(|(k, v)| format!("{k}: {v}")).collect();
        if s.is_empty() {
            "none".to_string()
        } else {
            s.join("; ")
        }
    }

    /// `rule p.no_delete — Deleting a database is denied (db.delete)`.
    pub fn denial_line(&self) -> String {
        format!(
            "rule {} — {} ({})",
            self.denied.rule.as_deref().unwrap_or("(none)"),
            self.denied.reason,
            self.denied.reason_code
        )
    }

    /// The whole notice as plain text (e-mail bodies).
    pub fn to_text(&self) -> String {
        let params = if self.denied.params.is_empty() { "none".to_string() } else { self.denied.params.join(", ") };
        let mut out = format!("{}\n\n", self.title());
        if let Some(r) = &self.review {
            out.push_str(&format!("Flagged by:        {} at {}\n", r.reviewer, r.at));
            out.push_str(&format!("Reviewer's note:   {}\n", r.note.as_deref().unwrap_or("none")));
        }
        out.push_str(&format!("Override:          {} (receipt {})\n", self.override_id, self.receipt));
        out.push_str(&format!("Granted by:        {}\n", self.authority_line()));
        out.push_str(&format!("Stated:            {}\n", self.statements_line()));
        out.push_str(&format!("Granted at:        {}\n", self.granted_at));
        out.push_str(&format!("Expires at:        {}\n", self.expires_at));
        out.push_str(&format!(
            "Denied action:     {} {} (parameters: {params})\n",
            self.denied.tool, self.denied.operation
        ));
        out.push_str(&format!("Denied by:         {}\n", self.denial_line()));
        out.push_str(&format!(
            "Denial:            {} at {} (receipt {})\n",
            self.denied.decision_id, self.denied.at, self.denied.receipt
        ));
        out.push_str(&format!("Agent:             {}\n", self.denied.agent));
        if !self.denied.redacted.is_empty() {
            out.push_str(&format!("Left out:          {} (marked @redact)\n", self.denied.redacted.join(", ")));
        }
        out.push_str(&format!("Action hash:       {}\n", self.action_hash));
        out.push_str(&format!("Policy:            {} ({})\n\n", self.policy, self.bundle_hash));
        out.push_str(&format!("Review it: {}\n", self.review_url));
        out
    }
}

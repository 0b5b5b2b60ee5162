//! A Slack-compatible incoming-webhook message: a header that tells a direct step-up from an
//! escalated deferral, the whole context in sections, and Approve / Deny buttons that open the
//! inbox on the case (incoming webhooks cannot receive button clicks, and an approval must be
//! made signed in). A question to the requesting human has Confirm / Decline buttons instead;
//! an override's notice a Review button.

use super::message::{ApprovalContext, Message, Question, Trigger};
use super::names::tool_call;
use super::override_notice::{OverrideEvent, OverrideNotice};
use serde_json::{json, Value};

/// Slack limits a section's text to 3000 characters.
fn clip(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        return s.to_string();
    }
    let mut out: String = s.chars().take(max.saturating_sub(1)).collect();
    out.push('…');
    out
}

/// When the wait ends, and what the case then becomes.
fn deadline_line(deadline: Option<&str>, on_timeout: Option<&str>) -> String {
    format!("*Deadline:* {} (then {})", deadline.unwrap_or("—"), on_timeout.unwrap_or("deny"))
}

/// The action's parameters, as a code block.
fn parameters(c: &ApprovalContext) -> Value {
    let params = serde_json::to_string_pretty(&c.action.params).unwrap_or_default();
    json!({"type": "section", "text": {"type": "mrkdwn", "text": format!("*Parameters:*\n```{}```", clip(&params, 2800))}})
}

pub fn message(c: &ApprovalContext) -> Value {
    if let Some(q) = &c.question {
        return question(c, q);
    }
    let header = match (c.trigger, c.source.as_str()) {
        (Trigger::Escalated, _) => "⏫ Escalated: approval still needed",
        (_, "defer_escalation") => "⏸️ Escalated from DEFER",
        _ => "🔐 Approval Required",
    };
    let distance = match &c.semantic_distance {
        Some(d) => {
            let drift = d.as_f64().or_else(|| d.as_str().and_then(|s| s.parse().ok())).unwrap_or(0.0);
            let warn = if drift > 0.5 { " ⚠️ may have drifted from the original request" } else { "" };
            format!("{d}{warn}")
        }
        None => "not given".to_string(),
    };
    let confidence = c.confidence.map(|x| format!("{:.0}%", x * 100.0)).unwrap_or_else(|| "not stated".into());
    let prior = if c.prior_actions.is_empty() {
        "none".to_string()
    } else {
        format!("{} in session: {}", c.prior_actions.len(), c.prior_lines().join(", "))
    };
    let classes = if c.data_classes.is_empty() { "none flagged".to_string() } else { c.data_classes.join(", ") };
    let summary = [
        format!(
            "*Case:* {} ({})",
            c.case,
            if c.source == "defer_escalation" { "escalated deferral" } else { "direct step-up" }
        ),
        format!("*Tool:* `{}`", tool_call(&c.action.tool, &c.action.operation)),
        format!("*Original request:* {}", clip(&c.original_request, 300)),
        format!("*Prior actions:* {}", clip(&prior, 500)),
        format!("*Data accessed:* {classes}"),
        format!("*Semantic distance:* {distance}"),
        format!("*Risk level:* `{}`", c.risk),
        format!("*Policy confidence:* {confidence}"),
        format!("*Identity:* {}", c.identity_line()),
        format!("*Rule:* `{}` — {} (`{}`)", c.rule.as_deref().unwrap_or("—"), c.reason, c.reason_code),
        format!("*Approvers:* {}", c.approver_line()),
        deadline_line(c.deadline.as_deref(), c.on_timeout.as_deref()),
    ]
    .join("\n");
    let summary = match &c.deferral {
        Some(d) => {
            format!("{summary}\n*Why people decide:* {}\n*Evidence awaited:* {}", d.explanation, d.awaited_line())
        }
        None => summary,
    };
    let mut blocks = vec![
        json!({"type": "header", "text": {"type": "plain_text", "text": header}}),
        json!({"type": "section", "text": {"type": "mrkdwn", "text": clip(&summary, 2900)}}),
        parameters(c),
    ];
    if let Some(doc) = &c.rule_doc {
        blocks.push(json!({"type": "context", "elements": [{"type": "mrkdwn", "text": clip(doc, 2900)}]}));
    }
    blocks.push(json!({"type": "actions", "elements": [
        {"type": "button", "text": {"type": "plain_text", "text": "✅ Approve"}, "style": "primary",
         "url": c.links.approve, "action_id": format!("approve_{}", c.case)},
        {"type": "button", "text": {"type": "plain_text", "text": "❌ Deny"}, "style": "danger",
         "url": c.links.deny, "action_id": format!("deny_{}", c.case)},
    ]}));
    json!({ "text": c.title(), "blocks": blocks })
}

/// A question to the requesting human: the question, the action, and Confirm / Decline buttons
/// that open the inbox (they answer nothing by themselves; only that human, signed in, can).
fn question(c: &ApprovalContext, q: &Question) -> Value {
    let summary = [
        format!("*For:* {} (only they can answer)", q.to),
        format!("*Question:* {}", clip(&q.text, 500)),
        format!("*Case:* {}", c.case),
        format!("*Tool:* `{}`", tool_call(&c.action.tool, &c.action.operation)),
        format!("*Original request:* {}", clip(&c.original_request, 300)),
        format!("*Asked by:* {}", c.identity_line()),
        deadline_line(q.deadline.as_deref(), q.on_timeout.as_deref()),
    ]
    .join("\n");
    let blocks = vec![
        json!({"type": "header", "text": {"type": "plain_text", "text": "❓ Your confirmation is asked"}}),
        json!({"type": "section", "text": {"type": "mrkdwn", "text": clip(&summary, 2900)}}),
        parameters(c),
        json!({"type": "actions", "elements": [
            {"type": "button", "text": {"type": "plain_text", "text": "✅ Confirm"}, "style": "primary",
             "url": c.links.approve, "action_id": format!("confirm_{}", c.case)},
            {"type": "button", "text": {"type": "plain_text", "text": "✋ Decline"}, "style": "danger",
             "url": c.links.deny, "action_id": format!("decline_{}", c.case)},
        ]}),
    ];
    json!({ "text": c.title(), "blocks": blocks })
}

/// An override's notice: who overrode which denial, by which authority, stating what, until
/// when, and (once flagged) the reviewer's verdict; a button opens the review.
pub fn override_message(n: &OverrideNotice) -> Value {
    let header = match n.event {
        OverrideEvent::OverrideGranted => "🚨 Break-glass override granted",
        OverrideEvent::OverrideFlagged => "🚩 Override flagged by review",
    };
    let mut lines = Vec::new();
    if let Some(r) = &n.review {
        lines.push(format!("*Flagged by:* {} — {}", r.reviewer, clip(r.note.as_deref().unwrap_or("no note"), 500)));
    }
    lines.extend([
        format!("*Tool:* `{}` (agent {})", tool_call(&n.denied.tool, &n.denied.operation), n.denied.agent),
        format!("*Denied by:* {}", clip(&n.denial_line(), 600)),
        format!("*Overridden by:* {}", n.authority_line()),
        format!("*Stated:* {}", clip(&n.statements_line(), 1200)),
        format!("*Valid:* {} → {}", n.granted_at, n.expires_at),
        format!("*Override:* `{}` (denial `{}`)", n.override_id, n.denied.decision_id),
    ]);
    if !n.denied.redacted.is_empty() {
        lines.push(format!("*Left out:* {} (marked @redact)", n.denied.redacted.join(", ")));
    }
    let blocks = vec![
        json!({"type": "header", "text": {"type": "plain_text", "text": header}}),
        json!({"type": "section", "text": {"type": "mrkdwn", "text": clip(&lines.join("\n"), 2900)}}),
        json!({"type": "actions", "elements": [
            {"type": "button", "text": {"type": "plain_text", "text": "🔎 Review"},
             "url": n.review_url, "action_id": format!("review_{}", n.override_id)},
        ]}),
    ];
    json!({ "text": n.title(), "blocks": blocks })
}

pub async fn send(http: &reqwest::Client, url: &str, m: &Message) -> Result<(), String> {
    let body = match m {
        Message::Approval(context) => message(context),
        Message::Override(notice) => override_message(notice),
    };
    let response = http.post(url).json(&body).send().await.map_err(|e| format!("POST {url}: {e}"))?;
    if response.status().is_success() {
        Ok(())
    } else {
        Err(format!("POST {url}: HTTP {}", response.status()))
    }
}

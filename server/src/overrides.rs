//! Break-glass overrides and their review (docs: server/README.md, "Overrides and review").
//!
//! An override is a new decision — an `allow` of exactly the denied action, for the time the
//! policy's `override` declaration grants, naming who granted it by which authority and what
//! they stated — with a receipt of its own in the chain. The denial it names is never changed.
//! Every override waits for a verdict (`accept` or `flag`) from someone other than its author,
//! recorded as a receipt too.
//!
//! Fail closed: only a denial this service answered (kept by [`remember_denial`]) can be
//! overridden, only on a tool the current policy declares overridable, only by an approver who
//! holds the declared authority, and only with every statement the declaration requires.

use crate::app::App;
use crate::auth::Principal;
use crate::config::Kind;
use crate::error::ApiError;
use crate::replay::Key;
use aarm_cases::lifecycle::case::CaseState;
use aarm_cases::lifecycle::identity::same_identity;
use aarm_cases::lifecycle::receipt::ReceiptDraft;
use aarm_cases::store::service::{Denial, Granted, StoredOverride, Verdict};
use aarm_runtime::decision::{Authority, Decision, Effect};
use aarm_runtime::policy::{Approvers, OverridePolicy, OVERRIDE_STATEMENTS};
use aarm_runtime::value::format_time;
use serde_json::{json, Map, Value};
use std::collections::BTreeMap;
use std::sync::Arc;

/// The reason code of every override decision.
pub const OVERRIDE_GRANTED: &str = "override.granted";
/// The longest statement (a reason, a ticket) kept, in bytes.
pub const MAX_STATEMENT_BYTES: usize = 2000;
/// The longest review note kept, in bytes.
pub const MAX_NOTE_BYTES: usize = 2000;

/// Keeps a denial the service answered without a case, so that an override can name it. A
/// denial that cannot be kept stays a denial (it only cannot be overridden): logged, not fatal.
pub fn remember_denial(app: &App, agent: &str, answer: &Value, now: i64) {
    let Some(decision_id) = answer.get("decision_id").and_then(Value::as_str) else { return };
    let denial =
        Denial { decision_id: decision_id.to_string(), agent: agent.to_string(), json: answer.to_string(), at: now };
    if let Err(e) = app.overrides.remember_denial(&denial) {
        tracing::error!(decision = decision_id, error = %e, "cannot keep the denial for overrides");
    }
}

/// The scope of an override's idempotency keys: one per denial.
fn key_scope(denied: &str) -> String {
    format!("override:{denied}")
}

/// `POST /v1/decisions/{id}/override`: the override decision JSON (with `action_hash` and
/// `receipt`). A retry with the same idempotency key gets the first answer.
pub async fn grant(
    app: &Arc<App>,
    p: &Principal,
    denied: &str,
    body: Map<String, Value>,
    key: Option<Key>,
) -> Result<Value, ApiError> {
    let scope = key_scope(denied);
    let Some(key) = key else { return grant_once(app, p, denied, body).await };
    if let Some(first) = app.keys.answered_in(&scope, &key)? {
        return Ok(first);
    }
    let Some(_claim) = app.keys.claim(&key) else {
        return Err(ApiError::Conflict("override_in_progress", "a call with this key is still being answered".into()));
    };
    if let Some(first) = app.keys.answered_in(&scope, &key)? {
        return Ok(first);
    }
    let answer = grant_once(app, p, denied, body).await?;
    app.keys.keep_in(&scope, &key, &answer, app.clock.now())?;
    Ok(answer)
}

async fn grant_once(app: &Arc<App>, p: &Principal, denied: &str, body: Map<String, Value>) -> Result<Value, ApiError> {
    if p.kind != Kind::Approver {
        return Err(ApiError::forbidden(
            "not_an_overrider",
            format!("{} `{}` may not override decisions: overrides are granted by approvers", p.kind.as_str(), p.id),
        ));
    }
    let denial = app.overrides.denial(denied)?.ok_or_else(|| {
        ApiError::NotFound(
            "unknown_denial",
            format!("no denial `{denied}`: only a deny this service answered without opening a case can be overridden"),
        )
    })?;
    let answered: Value = serde_json::from_str(&denial.json)
        .map_err(|e| ApiError::Unavailable(format!("the stored denial {denied} does not read: {e}")))?;
    let decision: Decision = serde_json::from_value(answered.clone())
        .map_err(|e| ApiError::Unavailable(format!("the stored denial {denied} does not read: {e}")))?;
    let scope = match (&decision.decision, &decision.scope) {
        (Effect::Deny, Some(scope)) => scope.clone(),
        _ => {
            return Err(ApiError::Conflict(
                "not_overridable",
                format!("decision `{denied}` named no action that could be read: there is nothing to override"),
            ))
        }
    };
    let engine = app.engine()?;
    let policy = engine.program().overrides.iter().find(|o| o.tool == scope.tool).cloned().ok_or_else(|| {
        ApiError::forbidden(
            "not_overridable",
            format!("the policy declares no `override on {}`: its denials cannot be overridden", scope.tool),
        )
    })?;
    let role = authority(app, p, &policy)?;
    let statements = statements(&policy, &body)?;
    let action_hash = answered.get("action_hash").and_then(Value::as_str).unwrap_or_default().to_string();
    let policy_ref = engine.default_policy();
    let app2 = app.clone();
    let (p_id, denied) = (p.id.clone(), denied.to_string());
    app.cases
        .run_at(move |lc, now| {
            // Under the lifecycle's lock: two overrides of one denial in this process are
            // serialized; the store's grant() holds the line between processes.
            if let Some(active) = app2.overrides.active(&denied, now)? {
                return Err(ApiError::Conflict(
                    "override_active",
                    format!("denial `{denied}` is already overridden by `{active}` until it expires"),
                ));
            }
            let expires_at = now.saturating_add(policy.valid_s);
            let authority = Authority { by: p_id.clone(), role, statements };
            let mut record = Decision::fail_closed(OVERRIDE_GRANTED, message(&authority, &scope.tool), policy_ref);
            record.decision = Effect::Allow;
            record.request_id = decision.request_id.clone();
            record.evaluated_at = Some(format_time(now));
            record.expires_at = Some(format_time(expires_at));
            record.scope = Some(scope);
            record.overrides = Some(denied.clone());
            record.authority = Some(authority);
            let record = record.identify();
            let id = record.decision_id.clone().unwrap_or_default();
            let draft = ReceiptDraft {
                case: String::new(),
                event: "override".into(),
                actor: Some(p_id.clone()),
                state: CaseState::Allowed,
                decision: Effect::Allow.as_str().into(),
                reason: record.reason.clone(),
                policy: record.policy.clone(),
                action_hash: action_hash.clone(),
                identity: json!({ "agent": denial.agent }),
                at: now,
                detail: json!({
                    "decision_id": id,
                    "request_id": record.request_id,
                    "overrides": denied,
                    "authority": record.authority,
                    "expires_at": record.expires_at,
                    "scope": record.scope,
                }),
            };
            let receipt = lc.record_decisions(vec![draft])?.pop().map(|r| r.hash).unwrap_or_default();
            let mut answer = serde_json::to_value(&record).map_err(|e| ApiError::Unavailable(e.to_string()))?;
            if let Some(obj) = answer.as_object_mut() {
                obj.insert("action_hash".into(), Value::String(action_hash));
                obj.insert("receipt".into(), Value::String(receipt.clone()));
            }
            let stored = StoredOverride {
                id: id.clone(),
                overrides: denied.clone(),
                author: p_id,
                json: answer.to_string(),
                receipt,
                created_at: now,
                expires_at,
                verdict: None,
            };
            match app2.overrides.grant(&stored, now)? {
                Granted::Granted => {
                    tracing::warn!(override_id = %id, denial = %denied, by = %stored.author, "decision overridden");
                    Ok(answer)
                }
                // Another process granted one between our check and our insert; its receipt
                // stands, ours records an override that was not kept.
                Granted::Active(active) => Err(ApiError::Conflict(
                    "override_active",
                    format!("denial `{denied}` is already overridden by `{active}` until it expires"),
                )),
            }
        })
        .await
}

fn message(a: &Authority, tool: &str) -> String {
    let role = a.role.as_deref().map(|r| format!(" (role {r})")).unwrap_or_default();
    let reason = a.statements.get("reason").map(|r| format!(": {r}")).unwrap_or_default();
    format!("denial of {tool} overridden by {}{role}{reason}", a.by)
}

/// Whether a role grants `p` authority: the roles its credential carries and those the
/// configuration gives it.
pub fn holds(app: &App, p: &Principal, role: &str) -> bool {
    p.roles.iter().any(|r| r == role) || app.roles.of(&p.id).iter().any(|r| r == role)
}

/// The role under which `p` may override per `policy` (`None`: named as an identity), or 403.
fn authority(app: &App, p: &Principal, policy: &OverridePolicy) -> Result<Option<String>, ApiError> {
    match &policy.by {
        Approvers::Role(role) if holds(app, p, role) => Ok(Some(role.clone())),
        Approvers::Identities(ids) if ids.iter().any(|id| same_identity(id, &p.id)) => Ok(None),
        Approvers::Role(role) => Err(ApiError::forbidden(
            "not_an_overrider",
            format!("`{}` does not hold the role `{role}` that may override denials of {}", p.id, policy.tool),
        )),
        Approvers::Identities(_) => Err(ApiError::forbidden(
            "not_an_overrider",
            format!("`{}` is not among those who may override denials of {}", p.id, policy.tool),
        )),
    }
}

/// The statements the declaration requires, each a non-empty string of at most
/// [`MAX_STATEMENT_BYTES`]; any other field than a statement, `by` or `event_id` is refused.
fn statements(policy: &OverridePolicy, body: &Map<String, Value>) -> Result<BTreeMap<String, String>, ApiError> {
    if let Some(k) = body.keys().find(|k| !OVERRIDE_STATEMENTS.contains(&k.as_str()) && *k != "by" && *k != "event_id")
    {
        return Err(ApiError::BadRequest(format!(
            "unknown field `{k}`: an override states {}",
            OVERRIDE_STATEMENTS.join(", ")
        )));
    }
    let mut out = BTreeMap::new();
    for name in &policy.requires {
        let text = match body.get(name) {
            Some(Value::String(s)) if !s.trim().is_empty() => s,
            _ => {
                return Err(ApiError::Unprocessable(
                    "statement_missing",
                    format!(
                        "an override of {} must state `{name}` (the policy requires {}): send {{\"{name}\": \"...\"}}",
                        policy.tool,
                        policy.requires.join(", ")
                    ),
                ))
            }
        };
        if text.len() > MAX_STATEMENT_BYTES || text.chars().any(char::is_control) {
            return Err(ApiError::BadRequest(format!(
                "`{name}` is 1 to {MAX_STATEMENT_BYTES} bytes of text on one line"
            )));
        }
        out.insert(name.clone(), text.clone());
    }
    Ok(out)
}

/// Who may see and give reviews: approvers and operators.
fn reviewer(p: &Principal) -> Result<(), ApiError> {
    match p.kind {
        Kind::Approver | Kind::Admin => Ok(()),
        Kind::Agent => Err(ApiError::forbidden("not_a_reviewer", format!("agent `{}` may not review overrides", p.id))),
    }
}

/// One pending review as `GET /v1/reviews` and `aarm review list` show it.
pub fn review_view(o: &StoredOverride, now: i64) -> Value {
    let decision: Value = serde_json::from_str(&o.json).unwrap_or(Value::Null);
    let current = serde_json::from_value::<Decision>(decision.clone()).is_ok_and(|d| d.is_current(now));
    json!({
        "id": o.id,
        "kind": "override",
        "overrides": o.overrides,
        "author": o.author,
        "created_at": format_time(o.created_at),
        "expires_at": format_time(o.expires_at),
        "current": current,
        "receipt": o.receipt,
        "verdict": o.verdict.as_ref().map(|v| json!({
            "reviewer": v.reviewer, "verdict": v.verdict, "note": v.note, "receipt": v.receipt, "at": format_time(v.at),
        })),
        "decision": decision,
    })
}

/// `GET /v1/reviews`: every override still waiting for a verdict, oldest first.
pub async fn pending(app: &Arc<App>, p: &Principal) -> Result<Value, ApiError> {
    reviewer(p)?;
    let now = app.clock.now();
    let list = app.overrides.unreviewed()?;
    Ok(json!({ "reviews": list.iter().map(|o| review_view(o, now)).collect::<Vec<_>>() }))
}

/// `POST /v1/reviews/{id}`: records `accept` or `flag` on override `id`, as a receipt; its
/// author may not review it.
pub async fn review(app: &Arc<App>, p: &Principal, id: &str, body: Map<String, Value>) -> Result<Value, ApiError> {
    reviewer(p)?;
    let verdict = match body.get("verdict").and_then(Value::as_str) {
        Some(v @ ("accept" | "flag")) => v.to_string(),
        _ => {
            return Err(ApiError::BadRequest(
                "give the verdict: {\"verdict\": \"accept\"} or {\"verdict\": \"flag\"}".into(),
            ))
        }
    };
    let note = match body.get("note") {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) if s.len() <= MAX_NOTE_BYTES => Some(s.clone()),
        Some(_) => return Err(ApiError::BadRequest(format!("`note` is a string of at most {MAX_NOTE_BYTES} bytes"))),
    };
    if let Some(k) = body.keys().find(|k| !matches!(k.as_str(), "verdict" | "note" | "by" | "event_id")) {
        return Err(ApiError::BadRequest(format!("unknown field `{k}`: a review gives `verdict` and `note`")));
    }
    let o = app
        .overrides
        .get(id)?
        .ok_or_else(|| ApiError::NotFound("unknown_review", format!("no override `{id}` to review")))?;
    if same_identity(&o.author, &p.id) {
        return Err(ApiError::forbidden(
            "self_review",
            format!("`{}` granted override `{id}` and may not review it: someone else must", p.id),
        ));
    }
    if let Some(v) = &o.verdict {
        return Err(ApiError::Conflict(
            "already_reviewed",
            format!("override `{id}` was already reviewed ({}) by `{}`", v.verdict, v.reviewer),
        ));
    }
    let record: Decision = serde_json::from_str(&o.json)
        .map_err(|e| ApiError::Unavailable(format!("the stored override {id} does not read: {e}")))?;
    let action_hash = serde_json::from_str::<Value>(&o.json)
        .ok()
        .and_then(|v| v.get("action_hash").and_then(Value::as_str).map(str::to_string))
        .unwrap_or_default();
    let app2 = app.clone();
    let (reviewer_id, id) = (p.id.clone(), id.to_string());
    app.cases
        .run_at(move |lc, now| {
            let draft = ReceiptDraft {
                case: String::new(),
                event: "review".into(),
                actor: Some(reviewer_id.clone()),
                state: CaseState::Allowed,
                decision: record.decision.as_str().into(),
                reason: record.reason.clone(),
                policy: record.policy.clone(),
                action_hash,
                identity: json!({}),
                at: now,
                detail: json!({ "override": id, "overrides": record.overrides, "verdict": verdict, "note": note }),
            };
            let receipt = lc.record_decisions(vec![draft])?.pop().map(|r| r.hash).unwrap_or_default();
            let v = Verdict { reviewer: reviewer_id, verdict, note, receipt, at: now };
            if !app2.overrides.review(&id, &v)? {
                return Err(ApiError::Conflict("already_reviewed", format!("override `{id}` was already reviewed")));
            }
            let stored = app2.overrides.get(&id)?.ok_or_else(|| ApiError::NotFound("unknown_review", id.clone()))?;
            Ok(review_view(&stored, now))
        })
        .await
}

//! Break-glass overrides and their review over HTTP (docs: server/README.md, "Overrides and
//! review"). The rules are `aarm_cases::overrides`, shared with `aarm case override` and
//! `aarm review`; this module says who the caller is (the authenticated credential, its roles
//! and those `[auth.approver_roles]` gives it), keeps idempotency keys, and tells the channels
//! the policy's `override` declaration names when an override is granted or flagged.

use crate::access::Access;
use crate::auth::Principal;
use crate::bundle::CurrentBundle;
use crate::config::Kind;
use crate::error::ApiError;
use crate::notify::notices::Notices;
use crate::notify::override_notice::{OverrideEvent, OverrideNotice};
use crate::records::Records;
use crate::replay::Key;
use aarm_cases::overrides::{self as rules, denied_action, Grant, Review};
use aarm_cases::store::service::{Delivery, OverrideStore, StoredOverride};
use serde_json::{json, Map, Value};
use std::sync::Arc;

pub use aarm_cases::overrides::{review_view, MAX_NOTE_BYTES, MAX_STATEMENT_BYTES, OVERRIDE_GRANTED};

/// The scope of an override's idempotency keys: one per denial.
fn key_scope(denied: &str) -> String {
    format!("override:{denied}")
}

/// An override call: the denial it names, what its body states, and its idempotency key.
#[derive(Debug, Clone)]
pub(crate) struct OverrideCall {
    pub(crate) denied: String,
    pub(crate) body: Map<String, Value>,
    pub(crate) key: Option<Key>,
}

/// `POST /v1/decisions/{id}/override`: the override decision JSON (with `action_hash` and
/// `receipt`). A retry with the same idempotency key gets the first answer.
pub(crate) async fn grant(
    bundle: &CurrentBundle,
    access: &Access,
    records: &Arc<Records>,
    notices: &Arc<Notices>,
    p: &Principal,
    call: OverrideCall,
) -> Result<Value, ApiError> {
    let OverrideCall { denied, body, key } = call;
    let scope = key_scope(&denied);
    let Some(key) = key else { return grant_once(bundle, access, records, notices, p, &denied, body).await };
    let keys = &records.keys;
    if let Some(first) = keys.answered_in(&scope, &key)? {
        return Ok(first);
    }
    let Some(_claim) = keys.claim(&key) else {
        return Err(ApiError::Conflict("override_in_progress", "a call with this key is still being answered".into()));
    };
    if let Some(first) = keys.answered_in(&scope, &key)? {
        return Ok(first);
    }
    let answer = grant_once(bundle, access, records, notices, p, &denied, body).await?;
    keys.keep_in(&scope, &key, &answer, records.cases.now())?;
    Ok(answer)
}

async fn grant_once(
    bundle: &CurrentBundle,
    access: &Access,
    records: &Arc<Records>,
    notices: &Arc<Notices>,
    p: &Principal,
    denied: &str,
    body: Map<String, Value>,
) -> Result<Value, ApiError> {
    if p.kind != Kind::Approver {
        return Err(ApiError::forbidden(
            "not_an_overrider",
            format!("{} `{}` may not override decisions: overrides are granted by approvers", p.kind.as_str(), p.id),
        ));
    }
    let engine = bundle.engine()?;
    let holds = |role: &str| access.holds(p, role);
    let checked = Grant::check(
        records.overrides.as_ref(),
        (engine.program(), engine.default_policy()),
        denied,
        &p.id,
        holds,
        &body,
    )?;
    let (records2, notices) = (records.clone(), notices.clone());
    let granted = records
        .cases
        .run_at(move |lc, now| {
            let store = records2.overrides.as_ref();
            let granted = rules::grant(lc, store, &checked, now)?;
            tracing::warn!(override_id = %granted.stored.id, denial = %checked.denied.denial.decision_id, by = %granted.stored.author, "decision overridden");
            announce(store, &notices, OverrideEvent::OverrideGranted, &granted.stored, &checked.policy.notify, now);
            Ok(granted)
        })
        .await?;
    Ok(granted.answer)
}

/// The notice of override `o` for `event`, built from the denial it names.
pub fn notice(
    store: &dyn OverrideStore,
    event: OverrideEvent,
    o: &StoredOverride,
    public_url: &str,
) -> Result<OverrideNotice, String> {
    let denied = denied_action(store, &o.overrides).map_err(|e| e.to_string())?;
    Ok(OverrideNotice::new(event, o, &denied, public_url))
}

/// The channels a flag of an override goes to: those its grant was queued to (`deliveries`:
/// the outbox's record of the override).
pub fn granted_channels(deliveries: &[Delivery]) -> Vec<String> {
    let mut channels: Vec<String> = deliveries
        .iter()
        .filter(|d| d.trigger == OverrideEvent::OverrideGranted.key())
        .map(|d| d.channel.clone())
        .collect();
    channels.dedup();
    channels
}

/// Queues the notice of override `o` to `channels`. The override is recorded either way; a
/// notice that cannot be queued is late, never lost silently: logged as an error.
fn announce(
    store: &dyn OverrideStore,
    notices: &Notices,
    event: OverrideEvent,
    o: &StoredOverride,
    channels: &[String],
    now: i64,
) {
    let queued = notice(store, event, o, &notices.public_url)
        .and_then(|notice| notices.outbox.enqueue_override(&notice, channels, now));
    if let Err(e) = queued {
        tracing::error!(override_id = %o.id, event = event.as_str(), error = %e, "cannot queue the override's notice");
    }
}

/// Who may see and give reviews: approvers and operators.
fn reviewer(p: &Principal) -> Result<(), ApiError> {
    match p.kind {
        Kind::Approver | Kind::Admin => Ok(()),
        Kind::Agent => Err(ApiError::forbidden("not_a_reviewer", format!("agent `{}` may not review overrides", p.id))),
    }
}

/// `GET /v1/reviews`: every override still waiting for a verdict, oldest first.
pub(crate) async fn pending(records: &Records, p: &Principal) -> Result<Value, ApiError> {
    reviewer(p)?;
    let now = records.cases.now();
    let list = records.overrides.unreviewed()?;
    Ok(json!({ "reviews": list.iter().map(|o| review_view(o, now)).collect::<Vec<_>>() }))
}

/// `GET /v1/reviews/{id}`: one override, reviewed or not (the link its notices carry).
pub(crate) async fn one(records: &Records, p: &Principal, id: &str) -> Result<Value, ApiError> {
    reviewer(p)?;
    let o = records
        .overrides
        .get(id)?
        .ok_or_else(|| ApiError::NotFound("unknown_review", format!("no override `{id}` to review")))?;
    Ok(review_view(&o, records.cases.now()))
}

/// `POST /v1/reviews/{id}`: records `accept` or `flag` on override `id`, as a receipt; its
/// author may not review it. A flag is announced where the override's grant was.
pub(crate) async fn review(
    records: &Arc<Records>,
    notices: &Arc<Notices>,
    p: &Principal,
    id: &str,
    body: Map<String, Value>,
) -> Result<Value, ApiError> {
    reviewer(p)?;
    let note = match body.get("note") {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) => Some(s.clone()),
        Some(_) => return Err(ApiError::BadRequest(format!("`note` is a string of at most {MAX_NOTE_BYTES} bytes"))),
    };
    let verdict = Review::new(body.get("verdict").and_then(Value::as_str).unwrap_or_default(), note)?;
    if let Some(k) = body.keys().find(|k| !matches!(k.as_str(), "verdict" | "note" | "by" | "event_id")) {
        return Err(ApiError::BadRequest(format!("unknown field `{k}`: a review gives `verdict` and `note`")));
    }
    let (records2, notices) = (records.clone(), notices.clone());
    let (reviewer_id, id) = (p.id.clone(), id.to_string());
    records
        .cases
        .run_at(move |lc, now| {
            let store = records2.overrides.as_ref();
            let stored = rules::review(lc, store, &id, &reviewer_id, &verdict, now)?;
            if verdict.flags() {
                match notices.outbox.list(&id) {
                    Ok(deliveries) => {
                        let channels = granted_channels(&deliveries);
                        announce(store, &notices, OverrideEvent::OverrideFlagged, &stored, &channels, now)
                    }
                    // The verdict is recorded; only its notice is missing, and said so.
                    Err(e) => {
                        tracing::error!(override_id = %id, error = %e, "cannot read where the override was announced")
                    }
                }
            }
            Ok(review_view(&stored, now))
        })
        .await
}

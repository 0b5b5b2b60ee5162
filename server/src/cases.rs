//! What the API does, independent of HTTP: decide a request (opening a case when it suspends),
//! drive cases with authenticated events, and say who may see or act on which case.
//!
//! Fail closed everywhere: a decision that cannot be recorded, a store that fails, a task that
//! dies — each is a `deny` with a reason or an error status, never an allow. Authorization is
//! checked before anything is written, so a refused call changes nothing.

use crate::access::{text, Access};
use crate::auth::Principal;
use crate::bundle::CurrentBundle;
use crate::claims::bind_claims;
use crate::committed::Committed;
use crate::config::Kind;
use crate::error::ApiError;
use crate::notify::message::{risk_rank, ApprovalContext, Trigger};
use crate::notify::notices::{deferral_context, rule_doc};
use crate::records::Records;
use crate::replay::Key;
use crate::sessions::{PriorAction, Sessions};
use crate::sources::Resolver;
use aarm_cases::lifecycle::action::action_hash_ignoring;
use aarm_cases::lifecycle::case::{Case, CaseState};
use aarm_cases::lifecycle::event::{Event, Rejection};
use aarm_cases::lifecycle::identity::VerifiedActor;
use aarm_cases::lifecycle::identity::{check, same_identity};
use aarm_cases::lifecycle::machine;
use aarm_cases::lifecycle::receipt::ReceiptDraft;
use aarm_cases::lifecycle::service::LifecycleError;
use aarm_cases::redact::RedactionKey;
use aarm_cases::store::service::DenialDraft;
use aarm_cases::store::CaseStore;
use aarm_runtime::convert::{InputError, ReadRequest};
use aarm_runtime::decision::{codes, Decision, Effect};
use aarm_runtime::engine::Engine;
use serde::Serialize;
use serde_json::{json, Value};
use std::sync::Arc;

/// The case as `p` may see it: as `aarm case show` prints it, plus `resolved`. The fields its
/// policy marks `@redact` show a keyed hash (under `redaction`, the service's key), except to the
/// agent that submitted them (an agent reads only its own cases, and runs the released action).
pub fn view(redaction: Option<&RedactionKey>, p: &Principal, case: &Case) -> Value {
    let mut v = if p.kind == Kind::Agent {
        serde_json::to_value(case).unwrap_or(Value::Null)
    } else {
        aarm_cases::redact::case_json(case, redaction)
    };
    if let Some(obj) = v.as_object_mut() {
        obj.insert("resolved".into(), Value::Bool(case.state.is_resolved()));
        if let Some(summary) = crate::notify::message::OutcomeSummary::of(case) {
            obj.insert("outcome_summary".into(), serde_json::to_value(summary).unwrap_or(Value::Null));
        }
    }
    v
}

/// The parts of the service a decide call uses: the engine, credentials and sessions, the case
/// records, and what follows a commit.
#[derive(Clone, Copy)]
pub struct Deciding<'a> {
    /// The engine decisions are made with.
    pub bundle: &'a CurrentBundle,
    /// Credentials and the sessions' history.
    pub access: &'a Access,
    /// The cases, receipts and idempotency keys.
    pub records: &'a Arc<Records>,
    /// What follows a commit (notices, telemetry).
    pub committed: &'a Arc<Committed>,
}

/// `POST /v1/decide` with an optional `Idempotency-Key`: a retry of the same call gets the first
/// answer; the key used for another call is refused (replay.rs). The answer is JSON text.
pub async fn decide_once(
    parts: Deciding<'_>,
    p: &Principal,
    body: &[u8],
    key: Option<Key>,
) -> Result<String, ApiError> {
    let records = parts.records;
    let decide_now = || decide(parts, p, body);
    // Only an agent's decide call is kept for retries (anyone else's is refused by `decide`).
    let Some(key) = key.filter(|_| p.kind == Kind::Agent) else { return decide_now().await };
    let now = records.cases.now();
    let keys = &records.keys;
    if let Some(first) = keys.answered(&key, now)? {
        tracing::info!(agent = %p.id, "a retried decision answered as the first time");
        return Ok(first);
    }
    let Some(_claim) = keys.claim(&key) else {
        return Err(ApiError::Conflict(
            "decide_in_progress",
            "a call with this Idempotency-Key is still being decided".into(),
        ));
    };
    // Checked again under the claim: the first call may have finished meanwhile.
    if let Some(first) = keys.answered(&key, now)? {
        return Ok(first);
    }
    let answer = decide_now().await?;
    if let Err(e) = keys.keep(&key, &answer, now) {
        tracing::error!(error = %e, "cannot keep the answer for retries");
    }
    Ok(answer)
}

/// `POST /v1/decide`: the decision JSON ([`Answer`]), with `"case"` when a case opened.
pub async fn decide(parts: Deciding<'_>, p: &Principal, body: &[u8]) -> Result<String, ApiError> {
    let Deciding { bundle, access, records, committed } = parts;
    if p.kind != Kind::Agent {
        return Err(ApiError::forbidden(
            "not_an_agent",
            format!("{} `{}` may not ask for decisions", p.kind.as_str(), p.id),
        ));
    }
    let started = std::time::Instant::now();
    let engine = bundle.engine()?;
    // The time the policy sees; a case opens at the time read under the lifecycle's lock
    // (never earlier than this one), see Cases::run_at.
    let now = records.cases.now();
    // One path for every body: readable or not, it is bound to the caller, counted in its
    // session, recorded and answered by the code below; an unreadable one is decided `deny`.
    let (mut read, unreadable) = read_request(&engine, body);
    let session = bind_identity(&mut read.json, p)?;
    let refused = match (unreadable, &session) {
        (Some(e), _) => Some((codes::INPUT_INVALID, e.to_string())),
        (None, Some(session)) => fill_prior_actions(&access.sessions, &mut read.json, &p.id, session).err(),
        (None, None) => None,
    };
    let decision = match refused {
        // Without the session's whole history the policy cannot be asked: deny.
        Some((code, message)) => Decision::fail_closed(code, message, engine.default_policy()).timed(now, None),
        // The tree as read and edited, not its text written again: a number the reading
        // rounded must be refused, not decided on rounded (ReadRequest).
        None => engine.decide_read(&read, now),
    }
    .identify();
    let request = read.json;
    let tool = text(&request, &["action", "tool"]).to_string();
    // Read before the request is handed to the case store; only when decision lines are kept.
    let telemetry = &committed.telemetry;
    let logged_action = telemetry
        .decision_log
        .as_ref()
        .map(|_| (text(&request, &["action", "operation"]).to_string(), request.pointer("/action/params").cloned()));
    let ignored = &engine.program().settings.action_hash_ignores;
    let action_hash = (!request.is_null()).then(|| action_hash_ignoring(&request, ignored));
    let (decision, case, receipt) = if matches!(decision.decision, Effect::StepUp | Effect::Defer) {
        let after_commit = committed.clone();
        let pending = decision.clone();
        let credential = access.credential(p, now);
        let opened = records
            .cases
            .run_at(move |lc, at| {
                let submitted = lc.open_decided_as(pending, &request, at, credential)?;
                if let Some(case) = &submitted.case {
                    after_commit.telemetry.traces.opened(case, submitted.receipt.as_deref());
                    after_commit.observed(lc, case, at);
                }
                Ok(submitted)
            })
            .await;
        if let Some(case) = opened.as_ref().ok().and_then(|s| s.case.as_ref()) {
            // A new case: open inbox streams show it.
            records.waiters.changed(&case.id);
        }
        match opened {
            Ok(s) => (s.decision, s.case, s.receipt),
            // Fail closed: the action waits for nobody, so it must not run.
            Err(e) => {
                let message = format!("the suspended action could not be recorded: {e}");
                (decision.denied_instead(codes::STORE_UNAVAILABLE, message), None, None)
            }
        }
    } else {
        // A body that was not JSON at all is recorded as the caller's (what it named is unread).
        let (as_recorded, recorded_hash) = match (request.is_object(), &action_hash) {
            (true, Some(hash)) => (request, hash.clone()),
            _ => {
                let stand_in = json!({ "identity": { "agent": p.id } });
                let hash = action_hash_ignoring(&stand_in, ignored);
                (stand_in, hash)
            }
        };
        // A deny is kept for overrides with its receipt, as it will be answered (overrides.rs).
        let denial = (decision.decision == Effect::Deny)
            .then(|| {
                let answer =
                    Answer { decision: &decision, case: None, action_hash: action_hash.as_deref(), receipt: None };
                DenialDraft::of(&p.id, decision.decision_id.as_deref(), serde_json::to_string(&answer).ok()?, now)
            })
            .flatten();
        let draft = machine::decided(&decision, &as_recorded, recorded_hash, now);
        let (decision, receipt) = recorded(records, decision, draft, denial).await;
        (decision, None, receipt)
    };
    if let Some(session) = &session {
        if !tool.is_empty() {
            let action = PriorAction { tool: tool.clone(), decision: decision.decision.as_str().to_string() };
            access.sessions.record(&p.id, session, action, now);
        }
    }
    if let Some(case) = &case {
        telemetry.metrics.opened(case);
        tracing::info!(case = %case.id, decision = decision.decision.as_str(), rule = decision.rule.as_deref().unwrap_or(""), agent = %p.id, "case opened");
    }
    let took = started.elapsed();
    telemetry.metrics.decided(decision.decision.as_str(), decision.rule.as_deref(), took);
    telemetry.traces.decided(&crate::traces::Decided {
        decision: decision.decision.as_str(),
        rule: decision.rule.as_deref(),
        reason_code: &decision.reason.code,
        tool: &tool,
        agent: &p.id,
        bundle_hash: &decision.policy.bundle_hash,
        decision_id: decision.decision_id.as_deref(),
        case: case.as_ref().map(|c| c.id.as_str()),
        took,
    });
    if let (Some(log), Some((operation, params))) = (&telemetry.decision_log, logged_action) {
        let tool_name = tool;
        log.log(crate::decision_log::Line {
            decision_id: decision.decision_id.clone(),
            request_id: decision.request_id.clone(),
            time: aarm_runtime::value::format_time(now),
            agent: p.id.clone(),
            tool: tool_name.clone(),
            operation,
            rule: decision.rule.clone(),
            effect: decision.decision.as_str(),
            reason_code: decision.reason.code.clone(),
            bundle_hash: decision.policy.bundle_hash.to_string(),
            receipt: receipt.clone(),
            case: case.as_ref().map(|c| c.id.clone()),
            latency_ms: took.as_secs_f64() * 1000.0,
            params: params.unwrap_or(Value::Null),
            // The policy's `@redact` marks for this tool, also when the request was refused.
            redacted: engine.program().settings.redact.paths_for(&tool_name),
        });
    }
    let answer = Answer {
        decision: &decision,
        case: case.as_ref().map(|c| c.id.as_str()),
        action_hash: action_hash.as_deref(),
        receipt: receipt.as_deref(),
    };
    serde_json::to_string(&answer).map_err(|e| ApiError::Unavailable(format!("the decision cannot be written: {e}")))
}

/// The body as read by the engine, and why it cannot be decided on. A body that is not UTF-8,
/// not JSON, too large or too deep, or repeats a key is `input.invalid`; what can still be read
/// of it (bad bytes replaced, the last copy of a repeated key) is returned, only so that the
/// agent it names is bound and its session charged exactly as for any other body, never to be
/// decided on.
fn read_request(engine: &Engine, body: &[u8]) -> (ReadRequest, Option<InputError>) {
    match engine.read(body) {
        Ok(read) => (read, None),
        Err(e) => {
            let readable = serde_json::from_str(&String::from_utf8_lossy(body)).unwrap_or(Value::Null);
            (ReadRequest::from(readable), Some(e))
        }
    }
}

/// A decision that opens no case, with its `decide` receipt written (see [`crate::audit`]) and,
/// for a deny, `denial` kept in the same transaction; a decision that cannot be recorded is a
/// `deny` (`store.unavailable`) without a receipt, and kept nowhere.
async fn recorded(
    records: &Records,
    decision: Decision,
    draft: ReceiptDraft,
    denial: Option<DenialDraft>,
) -> (Decision, Option<String>) {
    match records.decisions.record(&records.cases, draft, denial).await {
        Ok(hash) => (decision, Some(hash)),
        Err(e) => {
            let message = format!("the decision could not be recorded: {e}");
            (decision.denied_instead(codes::STORE_UNAVAILABLE, message), None)
        }
    }
}

/// A decide answer: the decision JSON, then the case it opened, the hash of the action it
/// decided (what an approval binds to; absent when the body was not JSON at all) and the hash of
/// its receipt, each left out when absent. Written straight to text: building a
/// `serde_json::Value` first and writing that cost about a tenth of an HTTP decision. A denial
/// kept for overrides is this same text without its receipt, to which
/// [`aarm_cases::store::service::with_receipt`] appends it as the last member, so the kept text
/// reads as the one sent.
#[derive(Serialize)]
struct Answer<'a> {
    #[serde(flatten)]
    decision: &'a Decision,
    #[serde(skip_serializing_if = "Option::is_none")]
    case: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    action_hash: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    receipt: Option<&'a str>,
}

/// The agent in the request is the authenticated one: filled in when absent, refused when it
/// names another agent; then its roles and whom it acts for are held to the credential
/// ([`bind_claims`]). Returns the session id, when the request names one.
fn bind_identity(request: &mut Value, p: &Principal) -> Result<Option<String>, ApiError> {
    let Some(obj) = request.as_object_mut() else { return Ok(None) };
    let identity = obj.entry("identity").or_insert_with(|| json!({}));
    if identity.is_null() {
        *identity = json!({});
    }
    // Anything else than an object is left for the engine to refuse as `input.invalid`.
    let Some(identity) = identity.as_object_mut() else { return Ok(None) };
    // Before anything else: a padded or disguised identity is refused, never compared.
    for (field, path) in [("human", "identity.human"), ("agent", "identity.agent")] {
        if let Some(id) = identity.get(field).and_then(Value::as_str) {
            check(id).map_err(|source| ApiError::IdentityRefused { path, source })?;
        }
    }
    match identity.get("agent") {
        None | Some(Value::Null) => {
            identity.insert("agent".into(), Value::String(p.id.clone()));
        }
        Some(Value::String(s)) if s.is_empty() => {
            identity.insert("agent".into(), Value::String(p.id.clone()));
        }
        Some(Value::String(s)) if same_identity(s, &p.id) => {}
        Some(other) => {
            return Err(ApiError::forbidden(
                "agent_mismatch",
                format!("the request names agent {other}, but the credential is `{}`'s", p.id),
            ))
        }
    }
    bind_claims(identity, p)?;
    Ok(identity.get("session").and_then(Value::as_str).filter(|s| !s.is_empty()).map(str::to_string))
}

/// `context.prior_actions` from the session's history. The service's history is the only one
/// believed for a session: a request that sends its own list could erase what the session did,
/// so it is refused, as is a session whose history is incomplete or unreadable. The error is the
/// reason code and message of the deny.
fn fill_prior_actions(
    sessions: &Sessions,
    request: &mut Value,
    agent: &str,
    session: &str,
) -> Result<(), (&'static str, String)> {
    let Some(obj) = request.as_object_mut() else { return Ok(()) };
    let context = obj.entry("context").or_insert_with(|| json!({}));
    if context.is_null() {
        *context = json!({});
    }
    // Anything else than an object is left for the engine to refuse as `input.invalid`.
    let Some(context) = context.as_object_mut() else { return Ok(()) };
    if context.get("prior_actions").is_some_and(|v| !v.is_null()) {
        return Err((
            codes::INPUT_INVALID,
            format!(
                "context.prior_actions: the service keeps the history of session `{session}`; \
                 send requests with identity.session without it (or without identity.session to give your own)"
            ),
        ));
    }
    let prior = sessions.prior(agent, session).map_err(|e| (e.code(), e.to_string()))?;
    let prior = serde_json::to_value(prior).map_err(|e| (codes::INPUT_INVALID, e.to_string()))?;
    context.insert("prior_actions".into(), prior);
    Ok(())
}

/// Reads a case that `p` may see.
pub async fn get(records: &Records, access: &Access, p: &Principal, id: &str) -> Result<Case, ApiError> {
    let id2 = id.to_string();
    let case = records
        .cases
        .run(move |lc| Ok(lc.store().get(&id2)?))
        .await?
        .ok_or_else(|| ApiError::UnknownCase(id.to_string()))?;
    if !access.may_read(&case, p, records.cases.now()) {
        return Err(ApiError::forbidden("not_allowed", format!("`{}` may not see {id}", p.id)));
    }
    Ok(case)
}

/// The stable code of a confirm answer from anyone but the request's `identity.human`.
pub const NOT_THE_REQUESTER: &str = "not_the_requester";

/// What an approver or agent asks the lifecycle to do.
#[derive(Debug, Clone)]
pub enum Action {
    /// `until`: the approver's own bound on the approval (seconds since the epoch); `max`: the
    /// approver's caps on parameters the step-up lists.
    Approve {
        until: Option<i64>,
        max: aarm_cases::lifecycle::limits::Caps,
    },
    Deny {
        why: Option<String>,
    },
    Cancel,
    Provide(serde_json::Map<String, Value>),
    /// The agent presents its current credential for a case whose release needs it.
    Revalidate,
    /// The requesting human answers the open question of a `confirm` source: `true` confirms,
    /// `false` declines; the answer is the value of every fact the question asks.
    Confirm(bool),
}

/// Applies an authenticated event. Who may: approve and deny, an approver of the case, as
/// themself; evidence and cancel, the agent that submitted the action (or an operator).
pub async fn act(
    access: &Arc<Access>,
    records: &Arc<Records>,
    committed: &Arc<Committed>,
    p: &Principal,
    id: &str,
    action: Action,
    event_id: Option<Key>,
) -> Result<Case, ApiError> {
    match (&action, p.kind) {
        (Action::Approve { .. } | Action::Deny { .. }, Kind::Approver) => {}
        (Action::Approve { .. } | Action::Deny { .. }, _) => {
            return Err(ApiError::Rejected(Rejection::NotAnApprover));
        }
        (Action::Confirm(_), Kind::Approver) => {}
        (Action::Confirm(_), _) => {
            return Err(ApiError::forbidden(
                NOT_THE_REQUESTER,
                "only the human the action is for answers its question, signed in as themself",
            ));
        }
        (Action::Revalidate, Kind::Agent) => {}
        (Action::Revalidate, _) => {
            return Err(ApiError::forbidden("not_allowed", "only the agent that submitted the action revalidates it"));
        }
        (Action::Cancel | Action::Provide(_), Kind::Agent | Kind::Admin) => {}
        (Action::Cancel | Action::Provide(_), Kind::Approver) => {
            return Err(ApiError::forbidden(
                "not_allowed",
                "approvers approve or deny; the agent or an operator provides evidence or cancels",
            ));
        }
    }
    if p.kind == Kind::Approver {
        access.roles.saw(&p.id, &p.roles);
    }
    let (access2, records2, after_commit) = (access.clone(), records.clone(), committed.clone());
    let p2 = p.clone();
    let id2 = id.to_string();
    let result = records
        .cases
        .run_at(move |lc, now| {
            let case = lc.store().get(&id2)?.ok_or_else(|| ApiError::UnknownCase(id2.clone()))?;
            // A retry of an event that was applied: the case as stored, whatever it is now. Only
            // the same call is a retry: a key used for another call is refused (replay.rs).
            if let Some(key) = &event_id {
                let same_call = records2.keys.check_event(&id2, key);
                if same_call.is_err() || lc.store().applied(&id2, &key.id)? {
                    // Only to someone who may see it (an event id is no credential).
                    if !access2.may_read(&case, &p2, now) {
                        return Err(ApiError::forbidden("not_allowed", format!("`{}` may not see {id2}", p2.id)));
                    }
                    same_call?;
                    return Ok(case);
                }
            }
            authorize(&access2, &after_commit.sources, &case, &p2, &action, now)?;
            if let Some(key) = &event_id {
                records2.keys.bind_event(&id2, key, now)?;
            }
            let event_id = event_id.map(|k| k.id);
            let actor = VerifiedActor { id: p2.id.clone(), method: p2.method.to_string() };
            let events: Vec<(Event, Option<String>)> = match action {
                Action::Approve { until, max } => {
                    vec![(Event::Approve { by: p2.id.clone(), roles: p2.roles.clone(), until, max }, event_id)]
                }
                Action::Deny { why } => {
                    vec![(Event::Deny { by: p2.id.clone(), why, roles: p2.roles.clone() }, event_id)]
                }
                Action::Cancel => vec![(Event::Cancel { by: Some(p2.id.clone()) }, event_id)],
                Action::Provide(facts) => facts
                    .into_iter()
                    .map(|(name, value)| {
                        let eid = event_id.as_ref().map(|e| format!("{e}/{name}"));
                        (Event::Provide { name, value, by: Some(p2.id.clone()) }, eid)
                    })
                    .collect(),
                Action::Confirm(value) => after_commit
                    .sources
                    .confirm_facts(&case)
                    .into_iter()
                    .map(|name| {
                        let eid = event_id.as_ref().map(|e| format!("{e}/{name}"));
                        (Event::Confirm { name, value, by: p2.id.clone() }, eid)
                    })
                    .collect(),
                Action::Revalidate => {
                    // A credential without an end (a static token, no maximum age) stays valid.
                    let until = access2.credential(&p2, now).map_or(i64::MAX, |c| c.valid_until);
                    vec![(Event::Revalidate { by: p2.id.clone(), until }, event_id)]
                }
            };
            let mut last = case;
            let mut outcome = Ok(());
            for (event, eid) in events {
                match lc.apply_committed(&id2, &event, now, eid.as_deref(), Some(&actor)) {
                    Ok(applied) => {
                        // Reported even when the event was refused: a timeout that fell due
                        // before it was committed by this call, and counts like any other.
                        after_commit.transitioned(&applied.case, &applied.receipts);
                        last = applied.case;
                        if let Some(r) = applied.refused {
                            outcome = Err(ApiError::from(LifecycleError::Rejected(r)));
                            break;
                        }
                    }
                    Err(e) => {
                        outcome = Err(ApiError::from(e));
                        break;
                    }
                }
            }
            // Whatever was committed (even before a refusal: a timeout that fell due first).
            if let Some(stored) = lc.store().get(&id2)? {
                after_commit.observed(lc, &stored, now);
                last = stored;
            }
            outcome.map(|()| last)
        })
        .await;
    records.waiters.changed(id);
    if let Ok(case) = &result {
        tracing::info!(case = %case.id, by = %p.id, method = p.method, state = case.state.as_str(), "event applied");
    }
    result
}

fn authorize(
    access: &Access,
    sources: &Resolver,
    case: &Case,
    p: &Principal,
    action: &Action,
    now: i64,
) -> Result<(), ApiError> {
    match action {
        Action::Approve { .. } | Action::Deny { .. } => {
            if case.state.is_resolved() {
                return Err(ApiError::Rejected(Rejection::CaseResolved));
            }
            if !access.may_act(case, p, now) {
                return Err(ApiError::Rejected(Rejection::NotAnApprover));
            }
        }
        Action::Confirm(_) => {
            if case.state.is_resolved() {
                return Err(ApiError::Rejected(Rejection::CaseResolved));
            }
            // The door refuses a padded or disguised `identity.human`; the comparison is the
            // lifecycle's, so no other spelling of another person passes.
            let human = text(&case.identity, &["human"]);
            if human.is_empty() || !same_identity(human, &p.id) {
                return Err(ApiError::forbidden(
                    NOT_THE_REQUESTER,
                    format!("{} asks its requesting human, not `{}`", case.id, p.id),
                ));
            }
            if sources.confirm_facts(case).is_empty() {
                return Err(ApiError::Conflict(
                    "no_question",
                    format!("{} asks no question now: it waits for no fact from a `confirm` source", case.id),
                ));
            }
        }
        Action::Cancel | Action::Provide(_) | Action::Revalidate => {
            if p.kind == Kind::Agent && !same_identity(text(&case.identity, &["agent"]), &p.id) {
                return Err(ApiError::forbidden("not_allowed", format!("{} was not submitted by `{}`", case.id, p.id)));
            }
        }
    }
    Ok(())
}

/// Which cases `GET /v1/cases?state=...` lists.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StateFilter {
    All,
    Pending,
    Resolved,
    Exactly(CaseState),
}

impl StateFilter {
    pub fn parse(s: Option<&str>) -> Result<StateFilter, ApiError> {
        Ok(match s.unwrap_or("all") {
            "all" => StateFilter::All,
            "pending" => StateFilter::Pending,
            "resolved" => StateFilter::Resolved,
            "pending_approval" => StateFilter::Exactly(CaseState::PendingApproval),
            "pending_evidence" => StateFilter::Exactly(CaseState::PendingEvidence),
            "allowed" => StateFilter::Exactly(CaseState::Allowed),
            "modified" => StateFilter::Exactly(CaseState::Modified),
            "denied" => StateFilter::Exactly(CaseState::Denied),
            "cancelled" => StateFilter::Exactly(CaseState::Cancelled),
            other => {
                return Err(ApiError::BadRequest(format!(
                    "unknown state `{other}`: use all, pending, resolved, pending_approval, pending_evidence, allowed, \
                     modified, denied or cancelled"
                )))
            }
        })
    }

    fn keeps(self, s: CaseState) -> bool {
        match self {
            StateFilter::All => true,
            StateFilter::Pending => !s.is_resolved(),
            StateFilter::Resolved => s.is_resolved(),
            StateFilter::Exactly(x) => x == s,
        }
    }
}

/// The cases `p` may see, filtered by state; for an approver asking for pending cases, those
/// they may act on.
pub async fn list(
    records: &Records,
    access: &Access,
    p: &Principal,
    filter: StateFilter,
) -> Result<Vec<Case>, ApiError> {
    let pending_only =
        matches!(filter, StateFilter::Pending) || matches!(filter, StateFilter::Exactly(s) if !s.is_resolved());
    let cases = records.cases.run(move |lc| Ok(lc.store().list(pending_only)?)).await?;
    let now = records.cases.now();
    Ok(cases
        .into_iter()
        .filter(|c| filter.keeps(c.state))
        .filter(|c| {
            if c.state.is_resolved() || p.kind != Kind::Approver {
                access.may_read(c, p, now)
            } else {
                access.may_act(c, p, now)
            }
        })
        .collect())
}

/// The approver's inbox, as `GET /v1/inbox` and each event of its stream answer it:
/// `{ approver, cases, questions }`. `cases`: those waiting for them, highest risk first, then
/// oldest first, each with the context of seed 003. `questions`: the open questions of
/// deferrals whose requesting human they are (`confirm` sources), oldest first; nobody else
/// sees them.
pub async fn inbox(
    records: &Records,
    access: &Arc<Access>,
    committed: &Arc<Committed>,
    p: &Principal,
) -> Result<Value, ApiError> {
    if p.kind != Kind::Approver {
        return Err(ApiError::forbidden("not_an_approver", "the inbox is for approvers"));
    }
    access.roles.saw(&p.id, &p.roles);
    let (access2, committed2) = (access.clone(), committed.clone());
    let notices = &committed.notices;
    let p2 = p.clone();
    let (mut items, mut questions) = records
        .cases
        .run_at(move |lc, now| {
            let notices = &committed2.notices;
            let cases = lc.store().list(true)?;
            let mut out = Vec::new();
            let mut questions = Vec::new();
            for case in cases {
                if access2.may_act(&case, &p2, now) {
                    let doc = rule_doc(lc, &case);
                    let deferral = deferral_context(lc, &case);
                    let shown = notices.redacted(&case);
                    let context = ApprovalContext::new(&shown, Trigger::ApprovalRequested, &notices.public_url, doc)
                        .with_deferral(deferral);
                    out.push((case, context));
                } else if let Some(facts) = committed2.open_question(&case) {
                    if same_identity(text(&case.identity, &["human"]), &p2.id) {
                        questions.push((
                            case.opened_at,
                            ApprovalContext::question(&notices.redacted(&case), &notices.public_url, facts),
                        ));
                    }
                }
            }
            Ok((out, questions))
        })
        .await?;
    items.sort_by(|(a, ca), (b, cb)| {
        risk_rank(&cb.risk).cmp(&risk_rank(&ca.risk)).then(a.opened_at.cmp(&b.opened_at)).then(a.id.cmp(&b.id))
    });
    questions.sort_by(|(a, ca), (b, cb)| a.cmp(b).then(ca.case.cmp(&cb.case)));
    let cases: Vec<Value> = items
        .into_iter()
        .map(|(case, context)| json!({ "case": view(notices.redaction.as_ref(), p, &case), "context": context }))
        .collect();
    let questions: Vec<Value> =
        questions.into_iter().map(|(_, context)| json!({ "case": context.case, "context": context })).collect();
    Ok(json!({ "approver": p.id, "cases": cases, "questions": questions }))
}

/// `GET /v1/receipts?case=ID`: the case's receipts; without a case, the whole chain (operators).
pub async fn receipts(
    records: &Records,
    access: &Access,
    p: &Principal,
    case: Option<String>,
) -> Result<Value, ApiError> {
    match case {
        Some(id) => {
            get(records, access, p, &id).await?;
            let r = records.cases.run(move |lc| Ok(lc.store().receipts(Some(&id))?)).await?;
            Ok(serde_json::to_value(r).unwrap_or(Value::Null))
        }
        None if p.kind == Kind::Admin => {
            let r = records.cases.run(|lc| Ok(lc.store().receipts(None)?)).await?;
            Ok(serde_json::to_value(r).unwrap_or(Value::Null))
        }
        None => Err(ApiError::forbidden("not_allowed", "the whole chain is for operators: ask for ?case=ID")),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]
mod tests {
    use super::*;
    use aarm_runtime::decision::PolicyRef;

    /// The answer as it was written before [`Answer`]: the decision as a tree, each present
    /// extra inserted after its members, then the tree written out.
    fn by_tree(decision: &Decision, case: Option<&str>, action_hash: Option<&str>, receipt: Option<&str>) -> String {
        let mut out = serde_json::to_value(decision).unwrap();
        let obj = out.as_object_mut().unwrap();
        for (key, value) in [("case", case), ("action_hash", action_hash), ("receipt", receipt)] {
            if let Some(v) = value {
                obj.insert(key.into(), Value::String(v.to_string()));
            }
        }
        out.to_string()
    }

    fn decisions() -> Vec<Decision> {
        let plain =
            Decision::fail_closed(codes::INPUT_INVALID, "params.to: \"bad\" \u{e9}\n\u{1}", PolicyRef::default())
                .timed(1_790_000_000, None);
        let mut allowed = plain.clone().identify();
        allowed.decision = Effect::Allow;
        allowed.rule = Some(Arc::from("payments.small"));
        allowed.confidence = Some(1.0);
        allowed.request_id = Some("req-\u{2028}".into());
        allowed.redacted = vec!["params.pin".into()];
        let mut unsure = allowed.clone();
        unsure.confidence = Some(0.1 + 0.2);
        vec![plain, allowed, unsure]
    }

    /// Written straight to text, an answer is byte for byte the one the tree gave, whichever
    /// extras it has: clients see the same text as before.
    #[test]
    fn an_answer_is_written_as_the_tree_wrote_it() {
        let extras = [None, Some("case-1"), Some("sha256:ab\"c")];
        for decision in decisions() {
            for case in extras {
                for action_hash in extras {
                    for receipt in extras {
                        let answer = Answer { decision: &decision, case, action_hash, receipt };
                        assert_eq!(
                            serde_json::to_string(&answer).unwrap(),
                            by_tree(&decision, case, action_hash, receipt),
                            "case {case:?}, action_hash {action_hash:?}, receipt {receipt:?}"
                        );
                    }
                }
            }
        }
    }

    /// A kept denial is the answer's text without its receipt, with the receipt appended by
    /// `with_receipt`: byte for byte the answer sent.
    #[test]
    fn a_kept_denial_reads_as_the_answer_sent() {
        for decision in decisions() {
            let without = Answer { decision: &decision, case: None, action_hash: Some("sha256:1"), receipt: None };
            let text = serde_json::to_string(&without).unwrap();
            let draft = DenialDraft::of("agent-1", decision.decision_id.as_deref(), text, 5);
            let Some(draft) = draft else { continue };
            let sent =
                Answer { decision: &decision, case: None, action_hash: Some("sha256:1"), receipt: Some("sha256:2") };
            assert_eq!(draft.sealed("sha256:2").json, serde_json::to_string(&sent).unwrap());
        }
    }
}

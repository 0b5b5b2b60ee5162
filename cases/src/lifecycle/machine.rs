//! The case state machine: deterministic, clock passed in, no I/O. [`open`] turns a `step_up` or
//! `defer` decision into a case; [`apply`] takes a case and an event to the next case and the
//! receipts of the transition, or refuses the event with a stable [`Rejection`] and changes
//! nothing.
//!
//! ```text
//! defer ──provide | round──► re-evaluate (same bundle) ──► allow | deny | modify | step_up | defer (attempt+1)
//!   │ timeout / attempts exhausted ──► on_timeout / on_exhausted (deny by default)
//! step_up ──approve×quorum──► allowed
//!   │ deny (veto) ──► denied          escalate after D ──► approvers widened
//!   │ timeout ──► on_timeout (deny by default; cancel; a further step_up tier)
//! ```

use super::action::action_hash_ignoring;
use super::case::{pending_receipt, reasons, Approval, Case, CaseState, Denial};
use super::event::{Event, Rejection};
use super::identity::{same_identity, IdentityVerifier, VerifiedActor};
use super::receipt::ReceiptDraft;
use super::round::{SourceTry, TryResult};
use aarm_runtime::decision::{ActionOut, Decision, Effect, EvidenceRef, Outcome, Reason, StepUpObligation};
use aarm_runtime::engine::Engine;
use serde_json::json;
use std::sync::Arc;

/// What a transition needs besides the case: the bundle the case was opened with, and the
/// host's identity service.
pub struct Env<'a> {
    /// The engine of the bundle the case was opened with: a deferral re-evaluates under the same
    /// policy, never a newer one.
    pub engine: &'a Engine,
    /// The host's identity service, asked whether the requester is still valid before a release.
    pub identities: &'a dyn IdentityVerifier,
}

/// The case after an event, and one receipt per step it took. `rejected` is set when the event
/// itself was refused although something was due first (an approval that arrives after the
/// timeout: the timeout is recorded, the approval refused with `case_resolved`).
#[derive(Debug, Clone)]
pub struct Transition {
    /// The case as it stands after the event and everything that fell due before it.
    pub case: Case,
    /// One draft per step taken, in order, for the store to seal into the chain with the case.
    pub receipts: Vec<ReceiptDraft>,
    /// Why the event itself was refused, when steps that fell due first were still taken and must
    /// be committed.
    pub rejected: Option<Rejection>,
}

/// The action as submitted, which an approval releases.
fn original_action(request: &serde_json::Value) -> ActionOut {
    let action = request.get("action");
    let text = |k: &str| action.and_then(|a| a.get(k)).and_then(|v| v.as_str()).unwrap_or("").to_string();
    let params = action.and_then(|a| a.get("params")).and_then(|p| p.as_object()).cloned().unwrap_or_default();
    ActionOut { tool: text("tool"), operation: text("operation"), params }
}

fn draft(case: &Case, event: &str, actor: Option<&str>, at: i64, mut detail: serde_json::Value) -> ReceiptDraft {
    let current = case.outcome.as_ref().unwrap_or(&case.decision);
    if let Some(obj) = detail.as_object_mut() {
        recorded_ids(obj, &case.decision);
    }
    ReceiptDraft {
        case: case.id.clone(),
        event: event.to_string(),
        actor: actor.map(str::to_string),
        state: case.state,
        decision: current.decision.as_str().to_string(),
        reason: case.resolution.clone().unwrap_or_else(|| case.decision.reason.clone()),
        policy: case.decision.policy.clone(),
        action_hash: case.action_hash.clone(),
        identity: case.identity.clone(),
        at,
        detail,
    }
}

/// Opens a case for a `step_up` or `defer` decision; other decisions need no case. `ignored`:
/// the parameters the action hash leaves out (`settings { action_hash_ignores }`).
pub fn open(
    decision: &Decision,
    request: &serde_json::Value,
    now: i64,
    ignored: &[String],
) -> Option<(Case, ReceiptDraft)> {
    let state = match decision.decision {
        Effect::StepUp => CaseState::PendingApproval,
        Effect::Defer => CaseState::PendingEvidence,
        Effect::Allow | Effect::Deny | Effect::Modify => return None,
    };
    let evidence: std::collections::BTreeMap<String, serde_json::Value> = request
        .get("evidence")
        .and_then(|e| e.as_object())
        .map(|m| m.iter().filter(|(_, v)| !v.is_null()).map(|(k, v)| (k.clone(), v.clone())).collect())
        .unwrap_or_default();
    // The context snapshot: a re-evaluation must see the time the action was submitted at.
    let mut request = request.clone();
    if let Some(obj) = request.as_object_mut() {
        let context = obj.entry("context").or_insert_with(|| json!({}));
        if context.is_null() {
            *context = json!({});
        }
        if let Some(ctx) = context.as_object_mut() {
            if ctx.get("now").is_none_or(serde_json::Value::is_null) {
                ctx.insert("now".into(), json!(aarm_runtime::value::format_time(now)));
            }
        }
    }
    let request = &request;
    let evidence_names: Vec<String> = evidence.keys().cloned().collect();
    let mut case = Case {
        id: String::new(),
        state,
        request: request.clone(),
        action_hash: action_hash_ignoring(request, ignored),
        identity: request.get("identity").cloned().unwrap_or_else(|| json!({})),
        bundle_hash: decision.policy.bundle_hash.to_string(),
        decision: decision.clone(),
        escalated_from_defer: false,
        tier: 0,
        approvals: Vec::new(),
        denials: Vec::new(),
        extra_approvers: Vec::new(),
        escalated: false,
        evidence,
        attempts: 0,
        opened_at: now,
        waiting_since: now,
        updated_at: now,
        outcome: None,
        resolution: None,
        released_action: None,
        version: 0,
        credential: None,
        rounds: Default::default(),
        evidence_refs: Vec::new(),
    };
    // The request carried these: their receipt is the `open` one, the transition's only one.
    for name in evidence_names {
        refer(&mut case, &name, "request".to_string(), 0);
    }
    let receipt = draft(&case, "open", None, now, json!({ "rule": decision.rule }));
    Some((case, receipt))
}

/// The one-event record of a decision that opened no case (`allow`, `deny`, `modify`): a
/// `decide` receipt, in the same chain as the cases' receipts, naming the requester (the agent)
/// as its actor. `action_hash` is the request's ([`super::action::action_hash_ignoring`]), which
/// the caller has already computed for its answer: hashing the request twice cost a tenth of
/// an HTTP decision.
pub fn decided(decision: &Decision, request: &serde_json::Value, action_hash: String, now: i64) -> ReceiptDraft {
    let state = match decision.decision {
        Effect::Allow => CaseState::Allowed,
        Effect::Modify => CaseState::Modified,
        // A step_up or defer that could not open a case is not released either.
        Effect::Deny | Effect::StepUp | Effect::Defer => CaseState::Denied,
    };
    let identity = request.get("identity").cloned().filter(serde_json::Value::is_object).unwrap_or_else(|| json!({}));
    let actor = identity.get("agent").and_then(|a| a.as_str()).map(str::to_string);
    let modified = decision.modified_action.as_ref().and_then(|m| serde_json::to_value(m).ok());
    ReceiptDraft {
        case: String::new(),
        event: "decide".to_string(),
        actor,
        state,
        decision: decision.decision.as_str().to_string(),
        reason: decision.reason.clone(),
        policy: decision.policy.clone(),
        action_hash,
        identity,
        at: now,
        detail: {
            let mut detail = serde_json::Map::new();
            detail.insert("rule".into(), json!(decision.rule));
            detail.insert("modified_action_hash".into(), json!(modified.as_ref().map(super::action::value_hash)));
            recorded_ids(&mut detail, decision);
            serde_json::Value::Object(detail)
        },
    }
}

/// A receipt names the decision it records (or the case's decision) and the caller's request by
/// the ids the decision carries (docs/json.md, "The decision record"); absent ids are left out.
fn recorded_ids(detail: &mut serde_json::Map<String, serde_json::Value>, decision: &Decision) {
    for (key, id) in [("decision_id", &decision.decision_id), ("request_id", &decision.request_id)] {
        if let Some(id) = id {
            detail.entry(key).or_insert_with(|| json!(id));
        }
    }
}

/// Applies one event at time `now`, its actor unauthenticated (see [`apply_verified`]).
pub fn apply(case: &Case, event: &Event, now: i64, env: &Env) -> Result<Transition, Rejection> {
    apply_verified(case, event, now, None, env)
}

/// Applies one event at time `now`. `verified`: the event's actor as the host authenticated them;
/// the event's own receipts then record `identity_verified` and `verified_actor`, and the
/// approval or denial it adds records how its author was verified (`verified_by`).
pub fn apply_verified(
    case: &Case,
    event: &Event,
    now: i64,
    verified: Option<&VerifiedActor>,
    env: &Env,
) -> Result<Transition, Rejection> {
    refused_outright(case, now)?;
    transition(case.clone(), event, now, verified, env)
}

/// [`apply_verified`] to a case the caller no longer needs (one it has just read from the store):
/// the transition starts from it instead of a copy.
pub fn apply_verified_owned(
    case: Case,
    event: &Event,
    now: i64,
    verified: Option<&VerifiedActor>,
    env: &Env,
) -> Result<Transition, Rejection> {
    refused_outright(&case, now)?;
    transition(case, event, now, verified, env)
}

/// An event refused whatever it is: one from the past (refused the same way whatever became of
/// the case), or any event on a resolved case.
fn refused_outright(case: &Case, now: i64) -> Result<(), Rejection> {
    if now < case.updated_at {
        return Err(Rejection::ClockWentBack);
    }
    if case.state.is_resolved() {
        return Err(Rejection::CaseResolved);
    }
    Ok(())
}

/// The transition of `next`, a case [`refused_outright`] let through, by `event`.
fn transition(
    mut next: Case,
    event: &Event,
    now: i64,
    verified: Option<&VerifiedActor>,
    env: &Env,
) -> Result<Transition, Rejection> {
    let mut receipts = Vec::new();
    // Timeouts and escalations that are due fire before the event itself.
    fire_due(&mut next, now, &mut receipts);
    if next.state.is_resolved() && !matches!(event, Event::Tick) {
        released_until(&mut next, now, env);
        finish(&mut next, now, &receipts);
        return Ok(Transition { case: next, receipts, rejected: Some(Rejection::CaseResolved) });
    }
    // What fired before is the clock's; what follows is the event's own.
    let clock_receipts = receipts.len();
    match event {
        Event::Tick => {}
        Event::Cancel { by } => {
            resolve(&mut next, CaseState::Cancelled, Effect::Deny, reasons::CANCELLED, "the case was cancelled", None);
            receipts.push(draft(&next, "cancel", by.as_deref(), now, json!({})));
        }
        Event::Approve { by, roles, until, max } => {
            approve(&mut next, Grant { by, roles, until: *until, max }, now, verified, env, &mut receipts)?
        }
        Event::Deny { by, why, roles } => {
            deny(&mut next, Verdict { by, why: why.as_deref(), roles, verified }, now, env, &mut receipts)?
        }
        Event::Provide { name, value, by } => {
            let from = Given { by: by.as_deref(), confirm: false };
            provide(&mut next, name, value, from, now, env, &mut receipts)?
        }
        Event::Confirm { name, value, by } => {
            let from = Given { by: Some(by), confirm: true };
            provide(&mut next, name, &json!(value), from, now, env, &mut receipts)?
        }
        Event::Revalidate { by, until } => revalidate(&mut next, by, *until, now, &mut receipts)?,
        Event::Round { round: n, tries } => round(&mut next, *n, tries, now, env, &mut receipts)?,
    }
    if let Some(actor) = verified {
        for r in receipts.iter_mut().skip(clock_receipts) {
            actor.vouch(&mut r.detail);
        }
    }
    released_until(&mut next, now, env);
    finish(&mut next, now, &receipts);
    Ok(Transition { case: next, receipts, rejected: None })
}

/// A case released now (its outcome an `allow` or `modify`; a case is resolved once, so any
/// outcome here is new) may be acted on from now for as long as its release allows, like any
/// allow: the outcome says when it was released (`evaluated_at`) and until when it holds
/// (`expires_at`), also when a re-evaluation decided it on the request's own, older,
/// `context.now`. Released by approvals: the step-up's `valid`, cut at the earliest approval's
/// `until`, and within the smallest of their caps (`limits`); decided by a rule: the rule's
/// `valid`; either way `settings { allow_valid }` when the policy gives no `valid`.
fn released_until(case: &mut Case, now: i64, env: &Env) {
    let Some(outcome) = case.outcome.take() else { return };
    if !matches!(outcome.decision, Effect::Allow | Effect::Modify) {
        case.outcome = Some(outcome);
        return;
    }
    let program = env.engine.program();
    let rule_valid = outcome.rule.as_deref().and_then(|name| program.rule_valid_s(name));
    let approved = &*outcome.reason.code == reasons::APPROVED;
    let (valid, cut, limits) = if approved {
        let step = step_up(case).and_then(|s| s.valid_s);
        let cut = quorum_approvals(case, now).filter_map(|a| a.until).min();
        (step, cut, super::limits::released(quorum_approvals(case, now).map(|a| &a.max)))
    } else {
        (rule_valid, None, Default::default())
    };
    let mut outcome = outcome.timed_within(now, valid.or(program.settings.allow_valid_s), cut);
    outcome.limits = limits;
    case.outcome = Some(outcome);
}

/// The approvals that make the quorum at `now`: bound to the case's action and still counting.
fn quorum_approvals(case: &Case, now: i64) -> impl Iterator<Item = &Approval> {
    case.approvals.iter().filter(move |a| a.action_hash == case.action_hash && a.counts_at(now))
}

/// Bumps the version once per committed transition. Receipts are stamped when the lifecycle
/// observes the step (a timeout noticed by a tick at 10:31 is stamped 10:31, with its deadline
/// in `detail.due_at`), so receipt times never decrease along the chain, and the case's clock and
/// the store's agree on what "earlier than the last event" means.
fn finish(case: &mut Case, _now: i64, receipts: &[ReceiptDraft]) {
    if let Some(last) = receipts.iter().map(|r| r.at).max() {
        case.updated_at = case.updated_at.max(last);
        case.version = case.version.saturating_add(1);
    }
}

/// Ends the case.
fn resolve(case: &mut Case, state: CaseState, effect: Effect, code: &str, message: &str, released: Option<ActionOut>) {
    let reason = Reason { code: Arc::from(code), message: message.to_string() };
    let mut outcome = case.decision.clone();
    outcome.decision = effect;
    outcome.reason = reason.clone();
    outcome.step_up = None;
    outcome.defer = None;
    outcome.modified_action = if state == CaseState::Modified { released.clone().map(Box::new) } else { None };
    case.state = state;
    case.outcome = Some(outcome);
    case.resolution = Some(reason);
    case.released_action = released;
}

fn step_up(case: &Case) -> Option<&StepUpObligation> {
    case.decision.step_up.as_deref()
}

/// Enters a (new) approval tier with `obligation`.
fn enter_step_up(case: &mut Case, obligation: StepUpObligation, since: i64, from_defer: bool) {
    case.state = CaseState::PendingApproval;
    case.decision.decision = Effect::StepUp;
    case.decision.risk = Some(obligation.risk.clone().into());
    case.decision.step_up = Some(Box::new(obligation));
    case.decision.defer = None;
    case.approvals.clear();
    case.denials.clear();
    case.extra_approvers.clear();
    case.escalated = false;
    case.waiting_since = since;
    if from_defer {
        case.escalated_from_defer = true;
    }
}

/// Applies what an unanswered wait resolves to.
fn apply_outcome(case: &mut Case, outcome: &Outcome, at: i64, code: &str, from_defer: bool) {
    let released = original_action(&case.request);
    match outcome {
        Outcome::Deny => resolve(case, CaseState::Denied, Effect::Deny, code, "nobody decided in time", None),
        Outcome::Cancel => {
            resolve(case, CaseState::Cancelled, Effect::Deny, code, "cancelled: nobody decided in time", None)
        }
        // The policy's `-> allow` still needs a requester who may act: fail closed without one.
        Outcome::Allow if !credential_valid(case, at) => resolve(
            case,
            CaseState::Denied,
            Effect::Deny,
            Rejection::IdentityInvalid.as_str(),
            "the requester's credential expired before the timeout's allow",
            None,
        ),
        Outcome::Allow => resolve(
            case,
            CaseState::Allowed,
            Effect::Allow,
            code,
            "allowed by the policy's timeout outcome",
            Some(released),
        ),
        Outcome::StepUp(obligation) => {
            case.tier = case.tier.saturating_add(1);
            enter_step_up(case, (**obligation).clone(), at, from_defer);
        }
    }
}

/// Fires every escalation and timeout due at `now`, in time order, one receipt each (stamped
/// `now`; the moment it fell due is `detail.due_at`, and the next tier's clock starts there).
fn fire_due(case: &mut Case, now: i64, receipts: &mut Vec<ReceiptDraft>) {
    // Each round resolves the case or moves to a later tier, so this ends; the bound is a guard.
    for _ in 0..64 {
        match case.state {
            CaseState::PendingApproval => {
                let (Some(s), Some(deadline)) = (step_up(case).cloned(), case.deadline()) else { return };
                if let (Some(esc), Some(at)) = (&s.escalate, case.escalation_due()) {
                    // An escalation due with or after the timeout never fires: the timeout wins.
                    if at <= now && at < deadline {
                        case.escalated = true;
                        case.extra_approvers = esc.to.clone();
                        receipts.push(draft(
                            case,
                            "escalate",
                            None,
                            now,
                            json!({ "added": esc.to, "tier": case.tier, "due_at": at }),
                        ));
                    }
                }
                if deadline > now {
                    return;
                }
                let tier = case.tier;
                apply_outcome(case, &s.on_timeout, deadline, reasons::TIMEOUT, case.escalated_from_defer);
                receipts.push(draft(case, "timeout", None, now, json!({ "tier": tier, "due_at": deadline })));
            }
            CaseState::PendingEvidence => {
                let (Some(d), Some(deadline)) = (case.decision.defer.clone(), case.deadline()) else { return };
                if deadline > now {
                    return;
                }
                apply_outcome(case, &d.on_timeout, deadline, reasons::TIMEOUT, true);
                receipts.push(draft(
                    case,
                    "timeout",
                    None,
                    now,
                    json!({ "attempts": case.attempts, "due_at": deadline }),
                ));
            }
            _ => return,
        }
    }
}

/// Whether `by` may act on the current approval tier ([`Case::eligible`]), with the roles the
/// event carries and those the host's identity service verified.
fn eligible(case: &Case, by: &str, roles: &[String], now: i64, env: &Env) -> bool {
    let holds = |role: &str| roles.iter().any(|r| r == role) || env.identities.roles(by).iter().any(|r| r == role);
    case.eligible(by, holds, now)
}

/// How the approver `by` was verified, when the event's authenticated actor is them.
fn verified_by(by: &str, verified: Option<&VerifiedActor>) -> Option<String> {
    verified.filter(|v| same_identity(&v.id, by)).map(|v| v.method.clone())
}

/// A denial as the event brings it.
struct Verdict<'a> {
    by: &'a str,
    why: Option<&'a str>,
    roles: &'a [String],
    verified: Option<&'a VerifiedActor>,
}

/// Whether the requester may still act at `at`: the credential recorded at submission (or renewed
/// by [`Event::Revalidate`]) has not expired. A case without a recorded credential has no limit
/// here (the identity service's [`IdentityVerifier::validity_s`] may still set one).
fn credential_valid(case: &Case, at: i64) -> bool {
    case.credential.as_ref().is_none_or(|c| at <= c.valid_until)
}

fn revalidate(
    case: &mut Case,
    by: &str,
    until: i64,
    now: i64,
    receipts: &mut Vec<ReceiptDraft>,
) -> Result<(), Rejection> {
    // Only a credential of the identity that submitted the action renews it, and only a valid one.
    let Some(credential) = case.credential.as_mut() else { return Err(Rejection::IdentityInvalid) };
    if !same_identity(&credential.holder, by) || until < now {
        return Err(Rejection::IdentityInvalid);
    }
    credential.valid_until = until;
    receipts.push(draft(case, "revalidate", Some(by), now, json!({ "valid_until": until })));
    Ok(())
}

/// An approval as given: who, with which verified roles, and the approver's own `until` and caps.
struct Grant<'a> {
    by: &'a str,
    roles: &'a [String],
    until: Option<i64>,
    max: &'a super::limits::Caps,
}

/// The step-up `by` acts on as an approver (approving or denying): only while the case waits
/// for an approval, and only for an eligible approver.
fn approver_step(case: &Case, by: &str, roles: &[String], now: i64, env: &Env) -> Result<StepUpObligation, Rejection> {
    if case.state != CaseState::PendingApproval || !eligible(case, by, roles, now, env) {
        return Err(Rejection::NotAnApprover);
    }
    step_up(case).cloned().ok_or(Rejection::NotAnApprover)
}

fn approve(
    case: &mut Case,
    grant: Grant<'_>,
    now: i64,
    verified: Option<&VerifiedActor>,
    env: &Env,
    receipts: &mut Vec<ReceiptDraft>,
) -> Result<(), Rejection> {
    let Grant { by, roles, until, max } = grant;
    let s = approver_step(case, by, roles, now, env)?;
    if !s.self_approval && !by.is_empty() && same_identity(by, case.requester()) {
        return Err(Rejection::SelfApproval);
    }
    if case.acted(by) {
        return Err(Rejection::DuplicateApproval);
    }
    // An approver may only narrow: an `until` already past would approve nothing.
    if until.is_some_and(|u| u <= now) {
        return Err(Rejection::UntilInPast);
    }
    // Caps only narrow too: on listed parameters, never below the action's own values.
    let params = case.request.pointer("/action/params").and_then(|p| p.as_object());
    let max = super::limits::check(max, &s.limits, params)?;
    let until = aarm_runtime::record::earliest(until, s.valid_s.map(|v| now.saturating_add(v)));
    let approvals = case.approvals.iter().filter(|a| a.counts_at(now)).count().saturating_add(1);
    if approvals >= s.quorum as usize {
        // Before release: re-validate the captured identity if the wait outlived it.
        if !credential_valid(case, now) {
            return Err(Rejection::IdentityInvalid);
        }
        if let Some(valid) = env.identities.validity_s(&case.identity) {
            if now.saturating_sub(case.opened_at) > valid && !env.identities.revalidate(&case.identity, now) {
                return Err(Rejection::IdentityInvalid);
            }
        }
    }
    case.approvals.push(Approval {
        by: by.to_string(),
        at: now,
        action_hash: case.action_hash.clone(),
        roles: roles.to_vec(),
        verified_by: verified_by(by, verified),
        until,
        max: max.clone(),
    });
    // Every counted approval must be bound to this very action, and still count (its `until`).
    let bound = quorum_approvals(case, now).count();
    let mut detail = serde_json::Map::new();
    detail.insert("approvals".into(), json!(bound));
    detail.insert("quorum".into(), json!(s.quorum));
    detail.insert("tier".into(), json!(case.tier));
    if let Some(u) = until {
        detail.insert("until".into(), json!(u));
    }
    if !max.is_empty() {
        detail.insert("max".into(), json!(max));
    }
    if bound >= s.quorum as usize {
        let released = original_action(&case.request);
        let message = format!("{bound} of {} approvals", s.quorum);
        resolve(case, CaseState::Allowed, Effect::Allow, reasons::APPROVED, &message, Some(released));
        let limits = super::limits::released(quorum_approvals(case, now).map(|a| &a.max));
        if !limits.is_empty() {
            detail.insert("limits".into(), json!(limits));
        }
    }
    receipts.push(draft(case, "approve", Some(by), now, serde_json::Value::Object(detail)));
    Ok(())
}

fn deny(
    case: &mut Case,
    verdict: Verdict<'_>,
    now: i64,
    env: &Env,
    receipts: &mut Vec<ReceiptDraft>,
) -> Result<(), Rejection> {
    let Verdict { by, why, roles, verified } = verdict;
    let s = approver_step(case, by, roles, now, env)?;
    if case.acted(by) {
        return Err(Rejection::DuplicateApproval);
    }
    let verified_by = verified_by(by, verified);
    case.denials.push(Denial { by: by.to_string(), at: now, why: why.map(str::to_string), verified_by });
    // Without veto, a denial ends the case only once the quorum can no longer be reached: the
    // approvals so far plus the distinct people who may still approve (not the requester, unless
    // the policy allows self-approval) fall short of it. Role-based sets are open-ended.
    let requester = case.requester().to_string();
    let mut remaining: Vec<String> = s
        .approvers
        .iter()
        .chain(&case.extra_approvers)
        .filter(|p| !case.acted(p))
        .filter(|p| s.self_approval || requester.is_empty() || !same_identity(p, &requester))
        .map(|p| super::identity::normalized(p).into_owned())
        .collect();
    remaining.sort();
    remaining.dedup();
    let reachable = case.approvals.len().saturating_add(remaining.len()) >= s.quorum as usize;
    let unreachable = s.role.is_none() && !reachable;
    if s.veto || unreachable {
        let message = match why {
            Some(w) => format!("denied by {by}: {w}"),
            None => format!("denied by {by}"),
        };
        resolve(case, CaseState::Denied, Effect::Deny, reasons::VETOED, &message, None);
    }
    receipts.push(draft(
        case,
        "deny",
        Some(by),
        now,
        json!({ "why": why, "denials": case.denials.len(), "roles": roles }),
    ));
    Ok(())
}

/// Who gave a fact by hand: `by` when the host names them; `confirm` when it is the requesting
/// human's answer to a `confirm` question.
struct Given<'a> {
    by: Option<&'a str>,
    confirm: bool,
}

impl Given<'_> {
    /// The `source` of the fact's evidence ref (docs/json.md, "Evidence references").
    fn source(&self) -> String {
        match (self.by, self.confirm) {
            (Some(by), true) => format!("confirm:{by}"),
            (Some(by), false) => format!("provided_by:{by}"),
            (None, _) => "provided".to_string(),
        }
    }
}

/// Notes where fact `name` came from; its receipt is the transition's `index`th (sealed with it).
fn refer(case: &mut Case, name: &str, source: String, index: usize) {
    case.evidence_refs.push(EvidenceRef { fact: name.to_string(), source, receipt: pending_receipt(index) });
}

fn provide(
    case: &mut Case,
    name: &str,
    value: &serde_json::Value,
    from: Given<'_>,
    now: i64,
    env: &Env,
    receipts: &mut Vec<ReceiptDraft>,
) -> Result<(), Rejection> {
    check_new_fact(case, name, env)?;
    let mut evidence = case.evidence.clone();
    evidence.insert(name.to_string(), value.clone());
    let (request, converted) = with_evidence(case, &evidence, now, env)?;
    case.evidence = evidence;
    // The `provide` receipt pushed below records the fact.
    refer(case, name, from.source(), receipts.len());
    // What was provided and by whom: the value's hash (the value itself may be sensitive; whoever
    // holds it can check it against the receipt).
    let value_hash = crate::lifecycle::action::value_hash(value);
    let mut detail = serde_json::Map::new();
    detail.insert("evidence".into(), json!(name));
    detail.insert("value_hash".into(), json!(value_hash));
    if from.confirm {
        detail.insert("confirm".into(), json!(true));
    }
    // While approvers decide, the fact is theirs to see: the case is not decided again.
    if case.state != CaseState::PendingApproval {
        let (effect, rule) = reevaluate(case, request, &converted, now, env)?;
        detail.insert("reevaluated".into(), json!(effect));
        detail.insert("rule".into(), json!(rule));
    }
    receipts.push(draft(case, "provide", from.by, now, serde_json::Value::Object(detail)));
    Ok(())
}

/// A fact the case may still be given: declared by the bundle, and not given before.
fn check_new_fact(case: &Case, name: &str, env: &Env) -> Result<(), Rejection> {
    if !env.engine.program().schema.evidence.iter().any(|e| e.name == name) {
        return Err(Rejection::UndeclaredEvidence);
    }
    // A fact, once given, is what the case was decided on: a second value never replaces it.
    if case.evidence.contains_key(name) {
        return Err(Rejection::EvidenceAlreadyProvided);
    }
    Ok(())
}

/// The case's request carrying `evidence`, and the engine's conversion of it: `evidence_type`
/// when a value does not fit its declared type.
fn with_evidence(
    case: &Case,
    evidence: &std::collections::BTreeMap<String, serde_json::Value>,
    now: i64,
    env: &Env,
) -> Result<(serde_json::Value, aarm_runtime::request::Request), Rejection> {
    let mut request = case.request.clone();
    if let Some(obj) = request.as_object_mut() {
        obj.insert("evidence".into(), serde_json::Value::Object(evidence.clone().into_iter().collect()));
    }
    let converted = env.engine.convert(&request.to_string(), now).map_err(|_| Rejection::EvidenceType)?;
    Ok((request, converted))
}

/// Decides the deferred request again with the evidence it now carries, and moves the case
/// as the decision says; a decision that defers again counts as one attempt, and the last
/// allowed attempt ends as the policy's `on_exhausted`. Returns the new decision and its rule.
fn reevaluate(
    case: &mut Case,
    request: serde_json::Value,
    converted: &aarm_runtime::request::Request,
    now: i64,
    env: &Env,
) -> Result<(&'static str, Option<String>), Rejection> {
    // The same case's decision, decided again: it keeps the case's id (as a release's outcome
    // does), so the case's decision and outcome are never left without one.
    let mut decision = env.engine.decide(converted);
    decision.decision_id = case.decision.decision_id.clone();
    // Decided on the case's facts: it names where each came from, not their values.
    decision.evidence_refs = case.evidence_refs.clone();
    case.request = request;
    let summary = (decision.decision.as_str(), decision.rule.as_deref().map(str::to_string));
    if matches!(decision.decision, Effect::Allow | Effect::Modify) && !credential_valid(case, now) {
        return Err(Rejection::IdentityInvalid);
    }
    match decision.decision {
        Effect::Allow => {
            let released = original_action(&case.request);
            resolve(
                case,
                CaseState::Allowed,
                Effect::Allow,
                &decision.reason.code,
                &decision.reason.message,
                Some(released),
            );
            case.outcome = Some(decision);
        }
        Effect::Deny => {
            resolve(case, CaseState::Denied, Effect::Deny, &decision.reason.code, &decision.reason.message, None);
            case.outcome = Some(decision);
        }
        Effect::Modify => {
            let released = decision.modified_action.as_deref().cloned();
            resolve(
                case,
                CaseState::Modified,
                Effect::Modify,
                &decision.reason.code,
                &decision.reason.message,
                released,
            );
            case.outcome = Some(decision);
        }
        Effect::StepUp => {
            let Some(obligation) = decision.step_up.as_deref().cloned() else { return Err(Rejection::EvidenceType) };
            case.decision = decision;
            enter_step_up(case, obligation, now, false);
        }
        Effect::Defer => {
            case.attempts = case.attempts.saturating_add(1);
            let limits = case.decision.defer.clone();
            case.decision = decision;
            if let Some(limits) = limits {
                if case.attempts >= limits.max_attempts {
                    apply_outcome(case, &limits.on_exhausted, now, reasons::ATTEMPTS_EXHAUSTED, true);
                }
            }
        }
    }
    Ok(summary)
}

/// One round of automatic resolution: one `source` receipt per try (the source, the facts
/// asked, the values it answered or why the try failed), then one re-evaluation with every
/// usable value, recorded as a `round` receipt. A round that brings nothing re-evaluates the
/// same request: it defers again and so counts as an attempt, as a failed round must.
///
/// A try is usable only as a whole: a value for a fact it was not asked, or of the wrong type,
/// makes it a failed try (`source.invalid`), and none of its values is used. A round on a case
/// that no longer waits for evidence, or that another host already counted (`round` behind the
/// case's), changes nothing.
fn round(
    case: &mut Case,
    round: u32,
    tries: &[SourceTry],
    now: i64,
    env: &Env,
    receipts: &mut Vec<ReceiptDraft>,
) -> Result<(), Rejection> {
    if case.state != CaseState::PendingEvidence || case.rounds.done != round {
        return Ok(());
    }
    let mut evidence = case.evidence.clone();
    let mut provided = Vec::new();
    for t in tries {
        let result = match usable(case, &evidence, t, now, env) {
            Ok(values) => {
                for (name, value) in &values {
                    evidence.insert(name.clone(), value.clone());
                    provided.push(name.clone());
                    // The `source` receipt pushed below records the try that answered it.
                    refer(case, name, t.source.clone(), receipts.len());
                }
                t.result.clone()
            }
            Err(message) => TryResult::Failed { code: "source.invalid".into(), message },
        };
        let recorded = SourceTry { source: t.source.clone(), facts: t.facts.clone(), result };
        let mut detail = serde_json::to_value(&recorded).unwrap_or_else(|_| json!({}));
        if let Some(d) = detail.as_object_mut() {
            d.insert("round".into(), json!(round.saturating_add(1)));
        }
        receipts.push(draft(case, "source", None, now, detail));
    }
    let (request, converted) = with_evidence(case, &evidence, now, env)?;
    case.evidence = evidence;
    case.rounds.done = round.saturating_add(1);
    case.rounds.last_at = Some(now);
    let (effect, rule) = reevaluate(case, request, &converted, now, env)?;
    let detail = json!({
        "round": case.rounds.done,
        "provided": provided,
        "attempts": case.attempts,
        "reevaluated": effect,
        "rule": rule,
    });
    receipts.push(draft(case, "round", None, now, detail));
    Ok(())
}

/// The values of an answered try that the case can take (non-null, asked for, declared, not
/// given before, of their declared type); the reason when the try cannot be used.
fn usable(
    case: &Case,
    so_far: &std::collections::BTreeMap<String, serde_json::Value>,
    t: &SourceTry,
    now: i64,
    env: &Env,
) -> Result<Vec<(String, serde_json::Value)>, String> {
    let TryResult::Answered { values } = &t.result else { return Ok(Vec::new()) };
    let mut out = Vec::new();
    let mut evidence = so_far.clone();
    for (name, value) in values {
        if value.is_null() {
            continue;
        }
        if !t.facts.iter().any(|f| f == name) {
            return Err(format!("answered `{name}`, which it was not asked for"));
        }
        if so_far.contains_key(name) {
            continue;
        }
        check_new_fact(case, name, env).map_err(|r| format!("`{name}`: {}", r.as_str()))?;
        evidence.insert(name.clone(), value.clone());
        with_evidence(case, &evidence, now, env)
            .map_err(|_| format!("`{name}`: the value does not fit the fact's declared type"))?;
        out.push((name.clone(), value.clone()));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;
    use proptest::prelude::*;

    const T0: i64 = 1_700_000_000;

    /// A step-up tier (or, with `defer`, a deferral) with these times, opened at `T0`.
    fn case(timeout_s: i64, escalate_after_s: Option<i64>, defer: bool) -> Case {
        let escalate = escalate_after_s.map(|after_s| json!({ "after_s": after_s, "to": ["dave@corp.example"] }));
        let decision: Decision = serde_json::from_value(json!({
            "decision": if defer { "defer" } else { "step_up" },
            "rule": "pay.big",
            "reason": { "code": "pay.big", "message": "needs approval" },
            "policy": { "name": "pay", "version": "1", "bundle_hash": "sha256:abc" },
            "risk": "high",
            "confidence": null,
            "step_up": if defer { serde_json::Value::Null } else { json!({
                "approvers": ["ana@corp.example", "bob@corp.example"], "quorum": 1, "timeout_s": timeout_s,
                "on_timeout": "deny", "escalate": escalate, "veto": false, "self_approval": false,
                "risk": "high", "notify": []
            }) },
            "defer": if defer { json!({
                "need": [{ "name": "window_ok", "type": "Bool", "source": "api" }], "timeout_s": timeout_s, "max_attempts": 3,
                "on_timeout": "deny", "on_exhausted": "deny"
            }) } else { serde_json::Value::Null },
            "modified_action": null
        }))
        .unwrap();
        let request =
            json!({ "action": { "tool": "transfer", "params": {} }, "identity": { "human": "ana@corp.example " } });
        open(&decision, &request, T0, &[]).unwrap().0
    }

    #[test]
    fn the_rules_of_a_pending_tier() {
        let c = case(3600, Some(600), false);
        assert_eq!((c.deadline(), c.escalation_due(), c.next_due()), (Some(T0 + 3600), Some(T0 + 600), Some(T0 + 600)));
        // The padded requester is the approver `ana@corp.example`.
        assert!(same_identity(c.requester(), "ana@corp.example"));
        assert!(c.eligible("Ana@Corp.Example", |_| false, T0));
        assert!(!c.eligible("dave@corp.example", |_| false, T0 + 599), "not before the escalation");
        assert!(c.eligible("dave@corp.example", |_| false, T0 + 600), "due, even before a tick fired it");
        assert!(!c.eligible("mallory@corp.example", |_| true, T0), "a role does not open a named tier");
        let deferral = case(60, None, true);
        assert_eq!((deferral.next_due(), deferral.eligible("ana@corp.example", |_| true, T0)), (Some(T0 + 60), false));
    }

    proptest! {
        /// After the clock fired what was due at `now`, nothing is due at or before `now`, and
        /// before the next due time the clock fires nothing: the server's index of due cases
        /// and the machine agree.
        #[test]
        fn nothing_is_due_before_next_due(
            timeout_s in 0i64..100_000,
            escalate in proptest::option::of(0i64..100_000),
            defer in any::<bool>(),
            elapsed in 0i64..200_000,
        ) {
            let mut c = case(timeout_s, escalate, defer);
            let due = c.next_due().unwrap();
            prop_assert!(due >= c.waiting_since);
            let now = T0 + elapsed;
            let mut receipts = Vec::new();
            fire_due(&mut c, now, &mut receipts);
            prop_assert_eq!(receipts.is_empty(), now < due);
            if let Some(next) = c.next_due() {
                prop_assert!(next > now, "next due {} at or before now {}", next, now);
            }
        }
    }
}

//! Break-glass overrides and their review: the one set of rules every host applies, `aarm serve`
//! (`POST /v1/decisions/{id}/override`, `POST /v1/reviews/{id}`) and the operator's
//! `aarm case override` and `aarm review accept|flag` alike (server/README.md, "Overrides and
//! review"). The hosts only say who is acting and with which roles: the service from the
//! caller's credential, the CLI from `--by` and `--roles`.
//!
//! An override is a new decision — an `allow` of exactly the denied action, for the time the
//! policy's `override` declaration grants, naming who granted it by which authority and what
//! they stated — with a receipt of its own in the chain. The denial it names is never changed.
//! Every override waits for a verdict (`accept` or `flag`) from someone other than its author,
//! recorded as a receipt too.
//!
//! Fail closed: only a denial kept by the service can be overridden (`aarm serve` keeps it in the
//! transaction of its receipt, [`crate::store::CaseStore::record_keeping`]; the CLI with
//! [`OverrideStore::remember_denial`]), only on a tool the policy declares overridable, only by
//! someone holding the declared authority, and only with every statement the declaration
//! requires.

use crate::lifecycle::case::CaseState;
use crate::lifecycle::identity::same_identity;
use crate::lifecycle::receipt::ReceiptDraft;
use crate::lifecycle::service::{Lifecycle, LifecycleError};
use crate::store::service::{Denial, Granted, OverrideStore, StoredOverride, Verdict};
use crate::store::{CaseStore, StoreError};
use aarm_runtime::decision::{Authority, Decision, Effect, PolicyRef};
use aarm_runtime::policy::{Approvers, OverridePolicy, OVERRIDE_STATEMENTS};
use aarm_runtime::program::Program;
use aarm_runtime::record::Scope;
use aarm_runtime::value::format_time;
use serde_json::{json, Map, Value};
use std::collections::BTreeMap;

/// The reason code of every override decision.
pub const OVERRIDE_GRANTED: &str = "override.granted";
/// The longest statement (a reason, a ticket) kept, in bytes.
pub const MAX_STATEMENT_BYTES: usize = 2000;
/// The longest review note kept, in bytes.
pub const MAX_NOTE_BYTES: usize = 2000;

/// Why an override or a review was refused (nothing was written), or could not be recorded.
/// [`OverrideError::code`] is the stable reason hosts answer with.
#[derive(Debug, thiserror::Error)]
pub enum OverrideError {
    /// No kept denial has this decision id (only a `deny` that opened no case is kept).
    #[error("no denial `{0}`: only a deny the service answered without opening a case can be overridden")]
    UnknownDenial(String),
    /// The denial names no action that reads back: there is nothing to allow instead.
    #[error("decision `{0}` named no action that could be read: there is nothing to override")]
    NothingToOverride(String),
    /// The policy in force declares no override for the denied tool.
    #[error("the policy declares no `override on {0}`: its denials cannot be overridden")]
    NotDeclared(String),
    /// The actor is neither named by the declaration nor holds its role (the message says who may).
    #[error("{0}")]
    NotAnOverrider(String),
    /// A statement the declaration `requires` (`reason`, `ticket`) was not given.
    #[error("{0}")]
    StatementMissing(String),
    /// A statement or note that is too long or not one line, an unknown field, a verdict that
    /// is neither `accept` nor `flag`.
    #[error("{0}")]
    Invalid(String),
    #[error("denial `{denial}` is already overridden by `{active}` until it expires")]
    /// The denial already has an override in force: one override at a time.
    Active {
        /// The denial's decision id.
        denial: String,
        /// The decision id of the override in force.
        active: String,
    },
    /// No override has this decision id.
    #[error("no override `{0}` to review")]
    UnknownReview(String),
    #[error("`{by}` granted override `{id}` and may not review it: someone else must")]
    /// The reviewer granted the override: someone else must review it.
    SelfReview {
        /// The reviewer, who is also the override's author.
        by: String,
        /// The override's decision id.
        id: String,
    },
    #[error("override `{id}` was already reviewed ({verdict}) by `{reviewer}`")]
    /// The override already has a verdict: a review is given once.
    AlreadyReviewed {
        /// The override's decision id.
        id: String,
        /// The verdict it has (`accept` or `flag`).
        verdict: String,
        /// Who gave it.
        reviewer: String,
    },
    /// A kept denial or override that does not read back.
    #[error("{0}")]
    Unreadable(String),
    /// The store failed: nothing was granted or reviewed (hosts fail closed).
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The lifecycle could not record the override's (or the review's) receipt: nothing is kept.
    #[error(transparent)]
    Lifecycle(#[from] LifecycleError),
}

impl OverrideError {
    /// The stable reason of a refusal (`unknown_denial`, `not_an_overrider`, ...);
    /// `store.unavailable` when the store failed.
    pub fn code(&self) -> &'static str {
        match self {
            OverrideError::UnknownDenial(_) => "unknown_denial",
            OverrideError::NothingToOverride(_) | OverrideError::NotDeclared(_) => "not_overridable",
            OverrideError::NotAnOverrider(_) => "not_an_overrider",
            OverrideError::StatementMissing(_) => "statement_missing",
            OverrideError::Invalid(_) => "bad_request",
            OverrideError::Active { .. } => "override_active",
            OverrideError::UnknownReview(_) => "unknown_review",
            OverrideError::SelfReview { .. } => "self_review",
            OverrideError::AlreadyReviewed { .. } => "already_reviewed",
            OverrideError::Unreadable(_) | OverrideError::Store(_) => "store.unavailable",
            OverrideError::Lifecycle(e) => e.rejection().map_or("store.unavailable", |r| r.as_str()),
        }
    }
}

/// Keeps a denial that opened no case, as answered to `agent` (the decision JSON with its
/// `decision_id`, `action_hash` and `receipt`), so that an override can name it. An answer
/// without a `decision_id` cannot be named, and is not kept.
pub fn keep_denial(store: &dyn OverrideStore, agent: &str, answer: &Value, now: i64) -> Result<(), StoreError> {
    let Some(decision_id) = answer.get("decision_id").and_then(Value::as_str) else { return Ok(()) };
    let denial =
        Denial { decision_id: decision_id.to_string(), agent: agent.to_string(), json: answer.to_string(), at: now };
    store.remember_denial(&denial)
}

/// A denial that may be named by an override: as kept, as answered, and what it denied.
#[derive(Debug, Clone)]
pub struct DeniedAction {
    /// The denial as the store keeps it (who was denied, when, and its decision id).
    pub denial: Denial,
    /// The decision JSON as answered (with its `action_hash` and `receipt`).
    pub answered: Value,
    /// The decision as answered, read back: its policy names the bundle that denied.
    pub decision: Decision,
    /// The action denied (tool, operation, parameters): what the override allows, and nothing else.
    pub scope: Scope,
}

impl DeniedAction {
    /// The hash of the denied action, as the denial's answer gave it.
    pub fn action_hash(&self) -> String {
        self.answered.get("action_hash").and_then(Value::as_str).unwrap_or_default().to_string()
    }
}

/// The denial `id` as kept, read: only a `deny` with a scope can be overridden.
pub fn denied_action(store: &dyn OverrideStore, id: &str) -> Result<DeniedAction, OverrideError> {
    let denial = store.denial(id)?.ok_or_else(|| OverrideError::UnknownDenial(id.to_string()))?;
    let unreadable =
        |e: serde_json::Error| OverrideError::Unreadable(format!("the kept denial {id} does not read: {e}"));
    let answered: Value = serde_json::from_str(&denial.json).map_err(unreadable)?;
    let decision: Decision = serde_json::from_value(answered.clone()).map_err(unreadable)?;
    let scope = match (&decision.decision, &decision.scope) {
        (Effect::Deny, Some(scope)) => scope.clone(),
        _ => return Err(OverrideError::NothingToOverride(id.to_string())),
    };
    Ok(DeniedAction { denial, answered, decision, scope })
}

/// The policy's `override` declaration for `tool`.
pub fn declaration(program: &Program, tool: &str) -> Result<OverridePolicy, OverrideError> {
    program
        .overrides
        .iter()
        .find(|o| o.tool == tool)
        .cloned()
        .ok_or_else(|| OverrideError::NotDeclared(tool.to_string()))
}

/// The role under which `by` may override per `policy` (`None`: named as an identity). `holds`
/// says whether `by` holds a role, as the host verified it.
pub fn authority(
    policy: &OverridePolicy,
    by: &str,
    holds: impl Fn(&str) -> bool,
) -> Result<Option<String>, OverrideError> {
    match &policy.by {
        Approvers::Role(role) if holds(role) => Ok(Some(role.clone())),
        Approvers::Identities(ids) if ids.iter().any(|id| same_identity(id, by)) => Ok(None),
        Approvers::Role(role) => Err(OverrideError::NotAnOverrider(format!(
            "`{by}` does not hold the role `{role}` that may override denials of {}",
            policy.tool
        ))),
        Approvers::Identities(_) => Err(OverrideError::NotAnOverrider(format!(
            "`{by}` is not among those who may override denials of {}",
            policy.tool
        ))),
    }
}

/// Text a person stated: 1 to `max` bytes on one line.
fn one_line(name: &str, text: &str, max: usize) -> Result<(), OverrideError> {
    if text.len() > max || text.chars().any(char::is_control) {
        return Err(OverrideError::Invalid(format!("`{name}` is 1 to {max} bytes of text on one line")));
    }
    Ok(())
}

/// What an override request may carry besides its statements: fields the host itself reads
/// (`by`, which must be the caller, and `event_id`, an idempotency key).
pub(crate) const HOST_FIELDS: &[&str] = &["by", "event_id"];

/// The statements the declaration requires, from `given` (a body's fields, the CLI's flags):
/// each a non-empty line of at most [`MAX_STATEMENT_BYTES`]. A field that is neither a
/// statement nor one of [`HOST_FIELDS`] is refused.
pub fn statements(
    policy: &OverridePolicy,
    given: &Map<String, Value>,
) -> Result<BTreeMap<String, String>, OverrideError> {
    let known = |k: &str| OVERRIDE_STATEMENTS.contains(&k) || HOST_FIELDS.contains(&k);
    if let Some(k) = given.keys().find(|k| !known(k)) {
        return Err(OverrideError::Invalid(format!(
            "unknown field `{k}`: an override states {}",
            OVERRIDE_STATEMENTS.join(", ")
        )));
    }
    let mut out = BTreeMap::new();
    for name in &policy.requires {
        let text = match given.get(name) {
            Some(Value::String(s)) if !s.trim().is_empty() => s,
            _ => {
                return Err(OverrideError::StatementMissing(format!(
                    "an override of {} must state `{name}` (the policy requires {})",
                    policy.tool,
                    policy.requires.join(", ")
                )))
            }
        };
        one_line(name, text, MAX_STATEMENT_BYTES)?;
        out.insert(name.clone(), text.clone());
    }
    Ok(out)
}

/// An override ready to be granted: every check that needs no lock passed.
#[derive(Debug, Clone)]
pub struct Grant {
    /// The denial to override.
    pub denied: DeniedAction,
    /// The policy's `override` declaration for the denied tool: who may, for how long, what they
    /// must state, where it is announced.
    pub policy: OverridePolicy,
    /// Who overrides, by which right (named or by role), and what they stated.
    pub authority: Authority,
    /// The policy in force (the override decision names it).
    pub policy_ref: PolicyRef,
}

impl Grant {
    /// Checks an override of denial `id` by `by` (holding the roles `holds` says) stating
    /// `given`, against `program`, the policy in force (named by `policy_ref`).
    pub fn check(
        store: &dyn OverrideStore,
        (program, policy_ref): (&Program, PolicyRef),
        id: &str,
        by: &str,
        holds: impl Fn(&str) -> bool,
        given: &Map<String, Value>,
    ) -> Result<Grant, OverrideError> {
        let denied = denied_action(store, id)?;
        let policy = declaration(program, &denied.scope.tool)?;
        let role = authority(&policy, by, holds)?;
        let statements = statements(&policy, given)?;
        Ok(Grant { denied, policy, authority: Authority { by: by.to_string(), role, statements }, policy_ref })
    }
}

/// What granting an override kept.
#[derive(Debug, Clone)]
pub struct GrantedOverride {
    /// The override's decision JSON as answered (with `action_hash` and `receipt`).
    pub answer: Value,
    /// The override as the store keeps it, for notices and later review.
    pub stored: StoredOverride,
}

fn message(a: &Authority, tool: &str) -> String {
    let role = a.role.as_deref().map(|r| format!(" (role {r})")).unwrap_or_default();
    let reason = a.statements.get("reason").map(|r| format!(": {r}")).unwrap_or_default();
    format!("denial of {tool} overridden by {}{role}{reason}", a.by)
}

/// Grants `g` at `now`: refused while another override of the same denial is in force;
/// otherwise the override decision, its `override` receipt, and the kept override. Hosts call
/// it under their lifecycle's lock, so that two overrides of one denial in one process are
/// serialized; the store's [`OverrideStore::grant`] holds the line between processes.
pub fn grant<S: CaseStore>(
    lc: &mut Lifecycle<S>,
    store: &dyn OverrideStore,
    g: &Grant,
    now: i64,
) -> Result<GrantedOverride, OverrideError> {
    let denied_id = g.denied.denial.decision_id.clone();
    if let Some(active) = store.active(&denied_id, now)? {
        return Err(OverrideError::Active { denial: denied_id, active });
    }
    let expires_at = now.saturating_add(g.policy.valid_s);
    let action_hash = g.denied.action_hash();
    let mut record =
        Decision::fail_closed(OVERRIDE_GRANTED, message(&g.authority, &g.denied.scope.tool), g.policy_ref.clone());
    record.decision = Effect::Allow;
    record.request_id = g.denied.decision.request_id.clone();
    record.evaluated_at = Some(format_time(now));
    record.expires_at = Some(format_time(expires_at));
    record.scope = Some(g.denied.scope.clone());
    record.overrides = Some(denied_id.clone());
    record.authority = Some(Box::new(g.authority.clone()));
    let record = record.identify();
    let id = record.decision_id.clone().unwrap_or_default();
    let draft = ReceiptDraft {
        case: String::new(),
        event: "override".into(),
        actor: Some(g.authority.by.clone()),
        state: CaseState::Allowed,
        decision: Effect::Allow.as_str().into(),
        reason: record.reason.clone(),
        policy: record.policy.clone(),
        action_hash: action_hash.clone(),
        identity: json!({ "agent": g.denied.denial.agent }),
        at: now,
        detail: json!({
            "decision_id": id,
            "request_id": record.request_id,
            "overrides": denied_id,
            "authority": record.authority,
            "expires_at": record.expires_at,
            "scope": record.scope,
        }),
    };
    let receipt = lc.record_decisions(vec![draft])?.pop().map(|r| r.hash).unwrap_or_default();
    let mut answer = serde_json::to_value(&record).map_err(|e| OverrideError::Unreadable(e.to_string()))?;
    if let Some(obj) = answer.as_object_mut() {
        obj.insert("action_hash".into(), Value::String(action_hash));
        obj.insert("receipt".into(), Value::String(receipt.clone()));
    }
    let stored = StoredOverride {
        id,
        overrides: denied_id.clone(),
        author: g.authority.by.clone(),
        json: answer.to_string(),
        receipt,
        created_at: now,
        expires_at,
        verdict: None,
    };
    match store.grant(&stored, now)? {
        Granted::Granted => Ok(GrantedOverride { answer, stored }),
        // Another process granted one between our check and our insert; its receipt stands,
        // ours records an override that was not kept.
        Granted::Active(active) => Err(OverrideError::Active { denial: denied_id, active }),
    }
}

/// A verdict as a reviewer gives it: `accept` or `flag`, with an optional note.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Review {
    /// `accept` or `flag` ([`Review::new`] refuses anything else).
    pub verdict: String,
    /// The reviewer's note, when given: at most [`MAX_NOTE_BYTES`] bytes.
    pub note: Option<String>,
}

impl Review {
    /// `verdict` must be `accept` or `flag`; `note` at most [`MAX_NOTE_BYTES`].
    pub fn new(verdict: &str, note: Option<String>) -> Result<Review, OverrideError> {
        if !matches!(verdict, "accept" | "flag") {
            return Err(OverrideError::Invalid(
                "give the verdict: {\"verdict\": \"accept\"} or {\"verdict\": \"flag\"}".into(),
            ));
        }
        if note.as_ref().is_some_and(|n| n.len() > MAX_NOTE_BYTES) {
            return Err(OverrideError::Invalid(format!("`note` is a string of at most {MAX_NOTE_BYTES} bytes")));
        }
        Ok(Review { verdict: verdict.to_string(), note })
    }

    /// Whether the verdict is a flag: a flag is announced where the override's grant was.
    pub fn flags(&self) -> bool {
        self.verdict == "flag"
    }
}

/// Records `reviewer`'s verdict on override `id` as a `review` receipt: refused to its author
/// and once reviewed. Returns the override as kept after it. Hosts call it under their
/// lifecycle's lock, as [`grant`].
pub fn review<S: CaseStore>(
    lc: &mut Lifecycle<S>,
    store: &dyn OverrideStore,
    id: &str,
    reviewer: &str,
    verdict: &Review,
    now: i64,
) -> Result<StoredOverride, OverrideError> {
    let o = store.get(id)?.ok_or_else(|| OverrideError::UnknownReview(id.to_string()))?;
    if same_identity(&o.author, reviewer) {
        return Err(OverrideError::SelfReview { by: reviewer.to_string(), id: id.to_string() });
    }
    if let Some(v) = &o.verdict {
        return Err(OverrideError::AlreadyReviewed {
            id: id.to_string(),
            verdict: v.verdict.clone(),
            reviewer: v.reviewer.clone(),
        });
    }
    let answered: Value = serde_json::from_str(&o.json)
        .map_err(|e| OverrideError::Unreadable(format!("the kept override {id} does not read: {e}")))?;
    let record: Decision = serde_json::from_value(answered.clone())
        .map_err(|e| OverrideError::Unreadable(format!("the kept override {id} does not read: {e}")))?;
    let action_hash = answered.get("action_hash").and_then(Value::as_str).unwrap_or_default().to_string();
    let draft = ReceiptDraft {
        case: String::new(),
        event: "review".into(),
        actor: Some(reviewer.to_string()),
        state: CaseState::Allowed,
        decision: record.decision.as_str().into(),
        reason: record.reason.clone(),
        policy: record.policy.clone(),
        action_hash,
        identity: json!({}),
        at: now,
        detail: json!({ "override": id, "overrides": record.overrides, "verdict": verdict.verdict, "note": verdict.note }),
    };
    let receipt = lc.record_decisions(vec![draft])?.pop().map(|r| r.hash).unwrap_or_default();
    let v = Verdict {
        reviewer: reviewer.to_string(),
        verdict: verdict.verdict.clone(),
        note: verdict.note.clone(),
        receipt,
        at: now,
    };
    if !store.review(id, &v)? {
        // Another process gave the first verdict between our read and our write.
        let first = store.get(id)?.and_then(|o| o.verdict);
        return Err(OverrideError::AlreadyReviewed {
            id: id.to_string(),
            verdict: first.as_ref().map(|v| v.verdict.clone()).unwrap_or_default(),
            reviewer: first.map(|v| v.reviewer).unwrap_or_default(),
        });
    }
    store.get(id)?.ok_or_else(|| OverrideError::UnknownReview(id.to_string()))
}

/// One override as `GET /v1/reviews`, `POST /v1/reviews/{id}` and `aarm review` show it
/// (`current`: whether it may still be acted on at `now`).
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

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn declared(by: Approvers, requires: &[&str]) -> OverridePolicy {
        OverridePolicy {
            tool: "delete_database".into(),
            by,
            valid_s: 3600,
            requires: requires.iter().map(|s| (*s).to_string()).collect(),
            notify: Vec::new(),
        }
    }

    #[test]
    fn the_authority_is_the_declared_role_or_a_named_identity() {
        let by_role = declared(Approvers::Role("ic".into()), &["reason"]);
        assert_eq!(authority(&by_role, "cfo@corp.com", |r| r == "ic").unwrap(), Some("ic".to_string()));
        let e = authority(&by_role, "cfo@corp.com", |_| false).unwrap_err();
        assert_eq!(e.code(), "not_an_overrider");
        let named = declared(Approvers::Identities(vec!["cfo@corp.com".into()]), &["reason"]);
        assert_eq!(authority(&named, "CFO@corp.com", |_| true).unwrap(), None, "identities compare as everywhere");
        assert_eq!(authority(&named, "ceo@corp.com", |_| true).unwrap_err().code(), "not_an_overrider");
    }

    #[test]
    fn statements_are_the_required_lines_and_nothing_else() {
        let policy = declared(Approvers::Role("ic".into()), &["reason", "ticket"]);
        let given = |v: Value| v.as_object().cloned().unwrap();
        let ok = statements(&policy, &given(json!({ "reason": "restore", "ticket": "INC-1", "by": "x" }))).unwrap();
        assert_eq!(
            ok.into_iter().collect::<Vec<_>>(),
            [("reason".into(), "restore".into()), ("ticket".into(), "INC-1".into())]
        );
        let code = |v: Value| statements(&policy, &given(v)).unwrap_err().code();
        assert_eq!(code(json!({ "reason": "restore" })), "statement_missing");
        assert_eq!(code(json!({ "reason": " ", "ticket": "INC-1" })), "statement_missing");
        assert_eq!(code(json!({ "reason": "a\nb", "ticket": "INC-1" })), "bad_request", "one line");
        assert_eq!(code(json!({ "reason": "x".repeat(MAX_STATEMENT_BYTES + 1), "ticket": "t" })), "bad_request");
        assert_eq!(code(json!({ "reason": "r", "ticket": "t", "expires_at": "never" })), "bad_request");
    }

    #[test]
    fn a_verdict_is_accept_or_flag() {
        assert!(Review::new("flag", Some("no ticket".into())).unwrap().flags());
        assert!(!Review::new("accept", None).unwrap().flags());
        assert_eq!(Review::new("maybe", None).unwrap_err().code(), "bad_request");
        assert_eq!(Review::new("flag", Some("x".repeat(MAX_NOTE_BYTES + 1))).unwrap_err().code(), "bad_request");
    }
}

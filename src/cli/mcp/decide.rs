//! Deciding one tool call for the gateway, on the embedded case store (`--store`) or on an
//! `aarm serve` (`--server`), and waiting out a `step_up` or `defer` until its case resolves.
//! Every path that is not a decided `allow`/`modify` (or a case released as one) is a refusal:
//! an error, an unreachable service, a cancelled call.

use aarm_cases::lifecycle::case::{Case, CaseState};
use aarm_cases::lifecycle::event::Event;
use aarm_cases::lifecycle::service::Lifecycle;
use aarm_cases::store::sqlite::SqliteStore;
use aarm_cases::store::CaseStore;
use aarm_runtime::decision::{Decision, Effect};
use serde_json::{Map, Value};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Reason codes of the gateway's own refusals (the policy's are its rules').
pub mod codes {
    /// The client cancelled the call while its case was pending; the case is cancelled.
    pub const CANCELLED: &str = "mcp.cancelled";
    /// The decision could not be had (store or service error): refused, never forwarded.
    pub const UNDECIDED: &str = "mcp.undecided";
    /// Two argument names map to one aarm name: the call cannot be described unambiguously.
    pub const AMBIGUOUS_ARGUMENTS: &str = "mcp.ambiguous_arguments";
    /// The tool's server is not configured (namespaced gateway) or has exited.
    pub const NO_SERVER: &str = "mcp.no_server";
}

/// How often a pending case is looked at on the embedded store, and how often the client hears
/// that the call still waits.
const POLL: Duration = Duration::from_millis(200);
const PROGRESS_EVERY: Duration = Duration::from_secs(5);

/// What the gateway does with the call.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    /// Forward with these arguments (aarm names; the original ones for `allow`).
    Forward { params: Map<String, Value>, decision: String },
    /// Answer with `isError: true` carrying the code and message.
    Refuse { code: String, message: String },
}

impl Outcome {
    fn refuse(code: &str, message: impl Into<String>) -> Outcome {
        Outcome::Refuse { code: code.into(), message: message.into() }
    }
}

/// Called while a case is pending: a line for the client's progress notification.
pub type Progress<'a> = &'a mut dyn FnMut(u64, &str);

pub trait Decider: Send + Sync {
    /// Decides `request` (docs/json.md) and, for a suspended action, waits for its case. Sees
    /// `cancelled` between waits.
    fn decide(&self, request: &Value, progress: Progress<'_>, cancelled: &AtomicBool) -> Outcome;
    /// Whether the caller sends `context.prior_actions` (the embedded store) or the service
    /// keeps the session's history itself (`aarm serve`, which refuses a request that sends it).
    fn wants_history(&self) -> bool;
}

fn params_of(request: &Value) -> Map<String, Value> {
    request.pointer("/action/params").and_then(Value::as_object).cloned().unwrap_or_default()
}

/// The immediate outcome of a decision that opened no case.
fn settled(decision: &Decision, request: &Value) -> Option<Outcome> {
    match decision.decision {
        Effect::Allow => Some(Outcome::Forward { params: params_of(request), decision: "allow".into() }),
        Effect::Modify => Some(match &decision.modified_action {
            Some(a) => Outcome::Forward { params: a.params.clone(), decision: "modify".into() },
            None => Outcome::refuse(codes::UNDECIDED, "a `modify` decision without the modified action"),
        }),
        Effect::Deny => {
            Some(Outcome::Refuse { code: decision.reason.code.to_string(), message: decision.reason.message.clone() })
        }
        Effect::StepUp | Effect::Defer => None,
    }
}

/// A resolved case's outcome.
fn resolved(case: &Case, request: &Value) -> Outcome {
    let why = || match &case.resolution {
        Some(r) => (r.code.to_string(), r.message.clone()),
        None => (case.state.as_str().to_string(), format!("case {} is {}", case.id, case.state.as_str())),
    };
    match case.state {
        CaseState::Allowed | CaseState::Modified => {
            let params = case.released_action.as_ref().map(|a| a.params.clone()).unwrap_or_else(|| params_of(request));
            let decision = if case.state == CaseState::Modified { "modify" } else { "allow" };
            Outcome::Forward { params, decision: decision.into() }
        }
        _ => {
            let (code, message) = why();
            Outcome::Refuse { code, message: format!("{message} (case {})", case.id) }
        }
    }
}

fn unix_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

/// Decisions and cases on a SQLite store this process opens (`--store`): the same store
/// `aarm case approve --store` acts on from another shell.
pub struct Embedded {
    lifecycle: Mutex<Lifecycle<SqliteStore>>,
    bundle_hash: String,
}

impl Embedded {
    pub fn new(lifecycle: Lifecycle<SqliteStore>, bundle_hash: String) -> Embedded {
        Embedded { lifecycle: Mutex::new(lifecycle), bundle_hash }
    }

    /// Fires what is due (a case's timeout) and reads the case again.
    fn poll(&self, id: &str) -> Result<Option<Case>, String> {
        let mut lc = self.lifecycle.lock().map_err(|_| "the case store lock is poisoned".to_string())?;
        // A tick refused because another process moved the store's clock ahead (`aarm case tick
        // --now`) changes nothing: the case is read as that process left it.
        let _ = lc.tick(unix_now());
        lc.store().get(id).map_err(|e| e.to_string())
    }

    fn cancel(&self, id: &str) {
        if let Ok(mut lc) = self.lifecycle.lock() {
            let _ = lc.apply(id, &Event::Cancel { by: None }, unix_now(), None);
        }
    }
}

impl Decider for Embedded {
    fn wants_history(&self) -> bool {
        true
    }

    fn decide(&self, request: &Value, progress: Progress<'_>, cancelled: &AtomicBool) -> Outcome {
        let submitted = {
            let Ok(mut lc) = self.lifecycle.lock() else {
                return Outcome::refuse(codes::UNDECIDED, "the case store lock is poisoned");
            };
            match lc.submit(&self.bundle_hash, &request.to_string(), unix_now()) {
                Ok(s) => s,
                Err(e) => return Outcome::refuse(codes::UNDECIDED, format!("the call could not be decided: {e}")),
            }
        };
        if let Some(done) = settled(&submitted.decision, request) {
            return done;
        }
        let Some(case) = submitted.case else {
            return Outcome::refuse(codes::UNDECIDED, "a suspended decision opened no case");
        };
        let (mut last_progress, mut n) = (Instant::now(), 0u64);
        progress(n, &format!("waiting for case {} ({})", case.id, submitted.decision.reason.message));
        loop {
            if cancelled.load(Ordering::SeqCst) {
                self.cancel(&case.id);
                return Outcome::refuse(
                    codes::CANCELLED,
                    format!("the client cancelled the call; case {} is cancelled", case.id),
                );
            }
            match self.poll(&case.id) {
                Ok(Some(c)) if c.state.is_resolved() => return resolved(&c, request),
                Ok(Some(_)) => {}
                Ok(None) => {
                    return Outcome::refuse(codes::UNDECIDED, format!("case {} is no longer in the store", case.id))
                }
                Err(e) => return Outcome::refuse(codes::UNDECIDED, format!("case {} cannot be read: {e}", case.id)),
            }
            if last_progress.elapsed() >= PROGRESS_EVERY {
                n += 1;
                last_progress = Instant::now();
                progress(n, &format!("still waiting for case {}", case.id));
            }
            std::thread::sleep(POLL);
        }
    }
}

/// Decisions and cases on an `aarm serve` (`--server`): `POST /v1/decide`, then the case's
/// long-poll (`GET /v1/cases/{id}/wait`) until it resolves. The service notifies the approvers.
pub struct Remote {
    base: String,
    token: String,
    client: reqwest::Client,
    runtime: tokio::runtime::Runtime,
}

/// Each long-poll asks for this many seconds, so that the client hears progress between them.
const WAIT_S: u64 = 5;

impl Remote {
    pub fn new(base: &str, token: String) -> Result<Remote, String> {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .map_err(|e| e.to_string())?;
        let client =
            reqwest::Client::builder().timeout(Duration::from_secs(WAIT_S + 30)).build().map_err(|e| e.to_string())?;
        Ok(Remote { base: base.trim_end_matches('/').to_string(), token, client, runtime })
    }

    fn call(&self, method: reqwest::Method, path: &str, body: Option<&Value>) -> Result<Value, String> {
        let mut req = self.client.request(method, format!("{}{path}", self.base)).bearer_auth(&self.token);
        if let Some(b) = body {
            req = req.json(b);
        }
        self.runtime.block_on(async {
            let resp = req.send().await.map_err(|e| e.to_string())?;
            let status = resp.status();
            let text = resp.text().await.map_err(|e| e.to_string())?;
            if !status.is_success() {
                return Err(format!("{path} answered {status}: {}", text.chars().take(300).collect::<String>()));
            }
            serde_json::from_str(&text).map_err(|e| format!("{path} answered something that is not JSON: {e}"))
        })
    }
}

impl Decider for Remote {
    fn wants_history(&self) -> bool {
        false
    }

    fn decide(&self, request: &Value, progress: Progress<'_>, cancelled: &AtomicBool) -> Outcome {
        let answer = match self.call(reqwest::Method::POST, "/v1/decide", Some(request)) {
            Ok(a) => a,
            Err(e) => return Outcome::refuse(codes::UNDECIDED, format!("the decision service failed: {e}")),
        };
        let decision: Decision = match serde_json::from_value(answer.clone()) {
            Ok(d) => d,
            Err(e) => {
                return Outcome::refuse(
                    codes::UNDECIDED,
                    format!("the decision service's answer is not a decision: {e}"),
                )
            }
        };
        if let Some(done) = settled(&decision, request) {
            return done;
        }
        let Some(id) = answer.get("case").and_then(Value::as_str).map(str::to_string) else {
            return Outcome::refuse(codes::UNDECIDED, "a suspended decision opened no case");
        };
        // Case ids are the service's own (`case-000001`); anything else is not put in a URL.
        if !id.chars().all(|c| c.is_ascii_alphanumeric() || c == '-') {
            return Outcome::refuse(codes::UNDECIDED, "the service named a case id that is not one");
        }
        let mut n = 0u64;
        progress(n, &format!("waiting for case {id} ({})", decision.reason.message));
        loop {
            if cancelled.load(Ordering::SeqCst) {
                let _ =
                    self.call(reqwest::Method::POST, &format!("/v1/cases/{id}/cancel"), Some(&serde_json::json!({})));
                return Outcome::refuse(
                    codes::CANCELLED,
                    format!("the client cancelled the call; case {id} is cancelled"),
                );
            }
            let case = match self.call(reqwest::Method::GET, &format!("/v1/cases/{id}/wait?timeout_s={WAIT_S}"), None) {
                Ok(c) => c,
                Err(e) => return Outcome::refuse(codes::UNDECIDED, format!("case {id} cannot be read: {e}")),
            };
            match serde_json::from_value::<Case>(case) {
                Ok(c) if c.state.is_resolved() => return resolved(&c, request),
                Ok(_) => {}
                Err(e) => return Outcome::refuse(codes::UNDECIDED, format!("case {id} is not readable: {e}")),
            }
            n += 1;
            progress(n, &format!("still waiting for case {id}"));
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use aarm_runtime::decision::PolicyRef;

    fn decision(effect: Effect) -> Decision {
        let policy = PolicyRef::default();
        let mut d = Decision::fail_closed("c", "m", policy);
        d.decision = effect;
        d
    }

    #[test]
    fn a_modify_without_its_action_is_refused() {
        let got = settled(&decision(Effect::Modify), &Value::Null);
        assert!(matches!(got, Some(Outcome::Refuse { code, .. }) if code == codes::UNDECIDED));
    }

    #[test]
    fn a_suspended_decision_is_not_settled() {
        assert_eq!(settled(&decision(Effect::StepUp), &Value::Null), None);
        assert_eq!(settled(&decision(Effect::Defer), &Value::Null), None);
    }
}

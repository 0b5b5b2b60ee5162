//! The deferral service: asks the evidence sources a deferral names for the facts it waits on,
//! and hands what they answered to the lifecycle as one round ([`Event::Round`]), which records
//! every try as a receipt, re-evaluates, and counts the round as one attempt of the deferral.
//!
//! A round goes in three steps, so that no source is asked while the lifecycle's lock is held:
//! [`Resolver::plan`] picks the cases due for a round (from the cases as stored:
//! [`Case::next_round_due`]), [`Resolver::ask`] asks their sources, [`apply`] records the round. The
//! server runs them in the background (rounds.rs); `aarm case tick --sources` runs them once.
//! Both hosts use these same three steps.

use crate::config::{EvidenceSection, Source};
use aarm_cases::lifecycle::case::Case;
use aarm_cases::lifecycle::event::Event;
use aarm_cases::lifecycle::receipt::Receipt;
use aarm_cases::lifecycle::round::{Backoff, SourceTry, TryResult};
use aarm_cases::lifecycle::service::{Lifecycle, LifecycleError};
use aarm_cases::store::CaseStore;
use aarm_runtime::engine::Engine;
use std::collections::{BTreeMap, HashSet};
use std::sync::Mutex;
use std::time::Duration;

/// The largest answer a source may send; a longer one is a failed try (`source.too_large`).
pub const MAX_ANSWER_BYTES: usize = 64 * 1024;

/// Stable codes of failed tries (receipts' `code`, and the `result` a try is counted under).
pub mod codes {
    /// The source answered a status other than 2xx (a redirect included: none is followed).
    pub const STATUS: &str = "source.status";
    /// No answer within the source's `timeout_ms`.
    pub const TIMEOUT: &str = "source.timeout";
    /// The source could not be reached.
    pub const UNREACHABLE: &str = "source.unreachable";
    /// The answer was longer than [`super::MAX_ANSWER_BYTES`].
    pub const TOO_LARGE: &str = "source.too_large";
    /// The answer is not a JSON object, or holds a value the case cannot take (the state
    /// machine's check: wrong type, a fact given before).
    pub const INVALID: &str = "source.invalid";
}

/// One case's round, as planned: the sources to ask and what to send them.
#[derive(Debug, Clone)]
pub struct Plan {
    /// The case the round is for.
    pub case: String,
    /// Rounds recorded when it was planned (the round's number, less one).
    pub round: u32,
    /// Configured source → the facts to ask it, in the decision's order.
    pub asks: BTreeMap<String, Vec<String>>,
    /// What a source is told about the action: `{action, identity, context}`.
    pub request: serde_json::Value,
}

/// What recording a round committed: the case after it, the receipts, and every try. A
/// timeout that fell due before the round is committed and the round refused (`recorded`
/// false, `receipts` the timeout's); nothing committed at all (the case stopped waiting for
/// evidence, another host recorded this round first) leaves `receipts` empty.
#[derive(Debug, Clone)]
pub struct RoundOutcome {
    /// The case after the round (or after what fell due before it).
    pub case: Case,
    /// The receipts committed: the round's, or a timeout's.
    pub receipts: Vec<Receipt>,
    /// Every source asked, and what became of it.
    pub tries: Vec<SourceTry>,
    /// Whether the round itself was recorded (its `source` and `round` receipts).
    pub recorded: bool,
}

/// The configured sources, the client that asks them, and the cases with a round in flight.
pub struct Resolver {
    config: EvidenceSection,
    client: reqwest::Client,
    in_flight: Mutex<HashSet<String>>,
}

impl std::fmt::Debug for Resolver {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Resolver").field("sources", &self.config.sources.keys().collect::<Vec<_>>()).finish()
    }
}

impl Resolver {
    /// The sources `[evidence]` configures, and the client that asks them.
    pub fn new(config: &EvidenceSection) -> Result<Resolver, String> {
        // No redirect is followed: a source answers for itself, never sends the facts' question
        // (and its bearer token) to another host.
        let client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|e| format!("cannot build the evidence sources' HTTP client: {e}"))?;
        Ok(Resolver { config: config.clone(), client, in_flight: Mutex::new(HashSet::new()) })
    }

    /// Whether any source is configured (without one there is never a round).
    pub fn is_enabled(&self) -> bool {
        !self.config.sources.is_empty()
    }

    /// How long a deferral waits between rounds (`[evidence.retry]`).
    pub fn backoff(&self) -> Backoff {
        Backoff { initial_ms: self.config.retry.initial_backoff_ms, max_ms: self.config.retry.max_backoff_ms }
    }

    /// The evidence `engine`'s policy takes from a source that is not configured, as
    /// `(fact, source)`: those facts are only ever provided by hand.
    pub fn unconfigured(&self, engine: &Engine) -> Vec<(String, String)> {
        engine
            .program()
            .schema
            .evidence
            .iter()
            .filter(|e| !e.source.is_empty() && !self.config.sources.contains_key(&e.source))
            .map(|e| (e.name.clone(), e.source.clone()))
            .collect()
    }

    /// Refuses a policy that takes a fact other than a `Bool` from a `confirm` source: a
    /// person's confirm or decline can answer nothing else.
    pub fn check_confirm(&self, engine: &Engine) -> Result<(), String> {
        for e in &engine.program().schema.evidence {
            let confirm = matches!(self.config.sources.get(&e.source), Some(Source::Confirm {}));
            if confirm && e.ty != aarm_runtime::schema::ValueType::Bool {
                return Err(format!(
                    "evidence `{}` comes from \"{}\", a `kind = \"confirm\"` source, but is not a Bool: a person's \
                     confirm or decline answers only a Bool\n  help: declare `evidence {}: Bool from \"{}\"`, or \
                     configure [evidence.sources.{}] as another kind",
                    e.name, e.source, e.name, e.source, e.source
                ));
            }
        }
        Ok(())
    }

    /// The facts `case` waits on that its requesting human answers (`confirm` sources): the
    /// open question, empty when there is none.
    pub fn confirm_facts(&self, case: &Case) -> Vec<String> {
        case.needed_by_source()
            .into_iter()
            .filter(|(s, _)| matches!(self.config.sources.get(s), Some(Source::Confirm {})))
            .flat_map(|(_, facts)| facts)
            .collect()
    }

    /// The rounds due at `now` among `cases` (pending ones, as stored): a case waiting for
    /// evidence that some configured source can give, whose next round is due, and with no
    /// round in flight in this process (it is marked in flight until [`Resolver::done`]).
    pub fn plan(&self, cases: &[Case], now: i64) -> Vec<Plan> {
        let backoff = self.backoff();
        let Ok(mut in_flight) = self.in_flight.lock() else { return Vec::new() };
        let mut plans = Vec::new();
        for case in cases {
            if in_flight.contains(&case.id) || case.next_round_due(&backoff).is_none_or(|due| due > now) {
                continue;
            }
            // A `confirm` source is a question to a person: it is asked, not tried, so a round
            // never waits on it nor counts an attempt against it.
            let asks: BTreeMap<String, Vec<String>> = case
                .needed_by_source()
                .into_iter()
                .filter(|(s, _)| self.config.sources.get(s).is_some_and(Source::asked_in_rounds))
                .collect();
            if asks.is_empty() {
                continue;
            }
            in_flight.insert(case.id.clone());
            let part = |k: &str| case.request.get(k).cloned().unwrap_or(serde_json::Value::Null);
            plans.push(Plan {
                case: case.id.clone(),
                round: case.rounds.done,
                asks,
                request: serde_json::json!({
                    "action": part("action"),
                    "identity": part("identity"),
                    "context": part("context"),
                }),
            });
        }
        plans
    }

    /// The round of `case` is over (recorded or not): it may be planned again.
    pub fn done(&self, case: &str) {
        if let Ok(mut in_flight) = self.in_flight.lock() {
            in_flight.remove(case);
        }
    }

    /// Asks every source of the plan at once, each within its own `timeout_ms`, so a round
    /// lasts as long as its slowest source, not the sum of them; the tries come back in the
    /// plan's order. Never fails: a source that does not answer usefully is a failed try.
    pub async fn ask(&self, plan: &Plan) -> Vec<SourceTry> {
        let tries = plan.asks.iter().map(|(name, facts)| async move {
            let result = match self.config.sources.get(name) {
                Some(source) => self.ask_one(source, plan, facts).await,
                None => failed(codes::UNREACHABLE, "the source is no longer configured".into()),
            };
            SourceTry { source: name.clone(), facts: facts.clone(), result }
        });
        futures_util::future::join_all(tries).await
    }

    async fn ask_one(&self, source: &Source, plan: &Plan, facts: &[String]) -> TryResult {
        match source {
            Source::Http { url, timeout_ms, token, headers } => {
                let body = serde_json::json!({ "case": plan.case, "facts": facts, "request": plan.request });
                let limit = Duration::from_millis(*timeout_ms);
                let mut request = self.client.post(url).timeout(limit).json(&body);
                if let Some(token) = token {
                    request = request.bearer_auth(token);
                }
                for (h, v) in headers {
                    request = request.header(h.as_str(), v.as_str());
                }
                // The client's timeout covers the body too; this bound covers everything else.
                match tokio::time::timeout(limit, answer(request, facts)).await {
                    Ok(result) => result,
                    Err(_) => failed(codes::TIMEOUT, format!("no answer within {timeout_ms} ms")),
                }
            }
            // Never planned (`asked_in_rounds`); were it asked, its facts stay unknown.
            Source::Confirm {} => TryResult::Answered { values: BTreeMap::new() },
        }
    }
}

fn failed(code: &str, message: String) -> TryResult {
    TryResult::Failed { code: code.to_string(), message }
}

/// Sends the question and reads the answer: a JSON object whose members named by `facts` are
/// the values (others are ignored; a fact left out stays unknown).
async fn answer(request: reqwest::RequestBuilder, facts: &[String]) -> TryResult {
    let mut response = match request.send().await {
        Ok(r) => r,
        Err(e) if e.is_timeout() => return failed(codes::TIMEOUT, "no answer in time".into()),
        Err(e) => return failed(codes::UNREACHABLE, format!("cannot reach the source: {e}")),
    };
    let status = response.status();
    if !status.is_success() {
        return failed(codes::STATUS, format!("the source answered HTTP {}", status.as_u16()));
    }
    if response.content_length().is_some_and(|n| n > MAX_ANSWER_BYTES as u64) {
        return failed(codes::TOO_LARGE, format!("the answer is longer than {MAX_ANSWER_BYTES} bytes"));
    }
    let mut body = Vec::new();
    loop {
        match response.chunk().await {
            Ok(Some(chunk)) => {
                if body.len().saturating_add(chunk.len()) > MAX_ANSWER_BYTES {
                    return failed(codes::TOO_LARGE, format!("the answer is longer than {MAX_ANSWER_BYTES} bytes"));
                }
                body.extend_from_slice(&chunk);
            }
            Ok(None) => break,
            Err(e) if e.is_timeout() => return failed(codes::TIMEOUT, "the answer did not arrive in time".into()),
            Err(e) => return failed(codes::UNREACHABLE, format!("the answer broke off: {e}")),
        }
    }
    // Read as strictly as an agent's request: a repeated key or a number an f64 would round
    // is not an answer (the case keeps the tree, and the policy decides on it).
    match aarm_runtime::convert::read_exact(&body) {
        Ok(serde_json::Value::Object(members)) => {
            TryResult::Answered { values: members.into_iter().filter(|(k, _)| facts.iter().any(|f| f == k)).collect() }
        }
        Ok(_) => failed(codes::INVALID, "the answer is not a JSON object".into()),
        Err(e) => failed(codes::INVALID, format!("the answer is not JSON that can be kept exactly: {e}")),
    }
}

/// Records the round the sources answered ([`Event::Round`]), with whatever fell due before it
/// ([`RoundOutcome`]); an error means nothing was committed.
pub fn apply<S: CaseStore>(
    lc: &mut Lifecycle<S>,
    plan: &Plan,
    tries: Vec<SourceTry>,
    now: i64,
) -> Result<RoundOutcome, LifecycleError> {
    let event = Event::Round { round: plan.round, tries: tries.clone() };
    let applied = lc.apply_committed(&plan.case, &event, now, None, None)?;
    let recorded = applied.receipts.iter().any(|r| r.body.event == "round");
    Ok(RoundOutcome { case: applied.case, receipts: applied.receipts, tries, recorded })
}

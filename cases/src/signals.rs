//! The deferral and approval signals an operator watches (the seed's "Operational Signals":
//! deferred actions, time to resolution, timeout and escalation rates), read from receipts.
//!
//! One reading for both places that report them: `aarm serve` counts them in its metrics as it
//! commits each transition (`aarm_deferred_total`, ...), and `aarm case stats` counts them from a
//! store's receipts afterwards. So the two always agree on what a timeout or an escalation is,
//! and on what counts as an evidence source's answer ([`ResolverResult`]).

use crate::lifecycle::case::{Case, CaseState};
use crate::lifecycle::receipt::{Receipt, ReceiptDraft};
use crate::lifecycle::round::{SourceTry, TryResult};
use serde::Serialize;
use std::collections::{BTreeMap, HashMap};

/// What one receipt says, for the signals.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Signals {
    /// A case opened waiting for evidence (a `defer`).
    pub deferred: bool,
    /// A wait (an approval tier or a deferral) ran out of time.
    pub timeout: bool,
    /// People were brought in: `escalate after D to [...]` fired, or a deferral was handed to
    /// approvers (its timeout or its exhausted attempts ended in `step_up`).
    pub escalation: bool,
    /// The case reached a final state with this receipt.
    pub resolved: bool,
}

impl Signals {
    /// The signals one receipt carries, read from its event, state and detail alone (no case
    /// needed), so that any list of receipts can be counted.
    pub fn of(r: &ReceiptDraft) -> Signals {
        let handed_to_people = r.state == CaseState::PendingApproval
            && match r.event.as_str() {
                // A deferral's timeout records its attempts; an approval tier's records its tier.
                "timeout" => r.detail.get("attempts").is_some(),
                // Evidence is taken only while deferred: a `provide` or a sources' `round` that
                // leaves the case waiting for approvers is a deferral handed to people (its
                // attempts ran out into `step_up`, or the facts it learnt call for one).
                "provide" | "round" => true,
                _ => false,
            };
        Signals {
            deferred: r.event == "open" && r.state == CaseState::PendingEvidence,
            timeout: r.event == "timeout",
            escalation: r.event == "escalate" || handed_to_people,
            resolved: r.state.is_resolved() && !r.case.is_empty(),
        }
    }
}

/// What became of one try of an evidence source (the seed's "resolver success rate by source").
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ResolverResult {
    /// The source answered every fact it was asked for.
    Answered,
    /// It answered, without some of the facts (they stay unknown).
    Partial,
    /// A non-2xx answer, a value of the wrong type, no answer in time, ...
    Failed,
}

impl ResolverResult {
    /// How a try counts: every fact it was asked for answered, some of them, or a failed try.
    pub fn of(attempt: &SourceTry) -> ResolverResult {
        match &attempt.result {
            TryResult::Answered { values }
                if attempt.facts.iter().all(|f| values.get(f).is_some_and(|v| !v.is_null())) =>
            {
                ResolverResult::Answered
            }
            TryResult::Answered { .. } => ResolverResult::Partial,
            TryResult::Failed { .. } => ResolverResult::Failed,
        }
    }

    /// The source and the result of a `source` receipt (one try, as the state machine recorded
    /// it: an answer it could not take is a failed try there); `None` for any other receipt.
    pub fn of_receipt(r: &ReceiptDraft) -> Option<(String, ResolverResult)> {
        if r.event != "source" {
            return None;
        }
        let attempt: SourceTry = serde_json::from_value(r.detail.clone()).ok()?;
        let result = ResolverResult::of(&attempt);
        Some((attempt.source, result))
    }

    /// The result's name as counted in [`Stats::resolver_attempts`] and metrics.
    pub fn as_str(self) -> &'static str {
        match self {
            ResolverResult::Answered => "answered",
            ResolverResult::Partial => "partial",
            ResolverResult::Failed => "failed",
        }
    }
}

/// Counts and times of a store's cases (`aarm case stats`).
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Stats {
    /// Cases by their current state (`pending_approval`, `pending_evidence`, `allowed`, ...).
    pub cases_by_state: BTreeMap<String, u64>,
    /// Decisions that opened no case, by effect (`allow`, `deny`, `modify`).
    pub decisions_by_effect: BTreeMap<String, u64>,
    /// Cases opened as deferrals (waiting for evidence rather than approvers).
    pub deferred: u64,
    /// Waits (approval tiers or deferrals) that ran out of time.
    pub timeouts: u64,
    /// Times people were brought in: an escalation fired, or a deferral was handed to approvers.
    pub escalations: u64,
    /// Cases that reached a final state.
    pub resolved: u64,
    /// Seconds from opening to resolution: the median and the 90th percentile (nearest rank),
    /// `None` when no case was resolved.
    pub resolution_seconds_median: Option<i64>,
    /// The 90th percentile of the same (nearest rank); `None` when no case was resolved.
    pub resolution_seconds_p90: Option<i64>,
    /// Tries of evidence sources: source → result (`answered`, `partial`, `failed`) → count.
    pub resolver_attempts: BTreeMap<String, BTreeMap<String, u64>>,
}

impl Stats {
    /// The signals of `cases` (their current states) and `receipts` (every receipt of the store).
    pub fn from_store(cases: &[Case], receipts: &[Receipt]) -> Stats {
        let mut stats = Stats::default();
        for case in cases {
            *stats.cases_by_state.entry(case.state.as_str().to_string()).or_default() += 1;
        }
        let opened: HashMap<&str, i64> = cases.iter().map(|c| (c.id.as_str(), c.opened_at)).collect();
        let mut durations = Vec::new();
        for r in receipts {
            let body = &r.body;
            if body.event == "decide" {
                *stats.decisions_by_effect.entry(body.decision.clone()).or_default() += 1;
                continue;
            }
            if let Some((source, result)) = ResolverResult::of_receipt(body) {
                *stats.resolver_attempts.entry(source).or_default().entry(result.as_str().to_string()).or_default() +=
                    1;
            }
            let s = Signals::of(body);
            stats.deferred += u64::from(s.deferred);
            stats.timeouts += u64::from(s.timeout);
            stats.escalations += u64::from(s.escalation);
            if s.resolved {
                stats.resolved += 1;
                if let Some(at) = opened.get(body.case.as_str()) {
                    durations.push(body.at.saturating_sub(*at).max(0));
                }
            }
        }
        durations.sort_unstable();
        stats.resolution_seconds_median = nearest_rank(&durations, 50);
        stats.resolution_seconds_p90 = nearest_rank(&durations, 90);
        stats
    }
}

/// The `pct`th percentile of sorted values by the nearest-rank method.
fn nearest_rank(sorted: &[i64], pct: usize) -> Option<i64> {
    if sorted.is_empty() {
        return None;
    }
    let rank = (pct * sorted.len()).div_ceil(100).max(1);
    sorted.get(rank - 1).copied()
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing)]
mod tests {
    use super::*;
    use aarm_runtime::decision::{PolicyRef, Reason};
    use serde_json::json;

    fn receipt(event: &str, state: CaseState, detail: serde_json::Value) -> ReceiptDraft {
        ReceiptDraft {
            case: "c1".into(),
            event: event.into(),
            actor: None,
            state,
            decision: "step_up".into(),
            reason: Reason { code: std::sync::Arc::from(""), message: String::new() },
            policy: PolicyRef::default(),
            action_hash: String::new(),
            identity: json!({}),
            at: 0,
            detail,
        }
    }

    #[test]
    fn a_deferral_handed_to_people_is_an_escalation_and_an_approval_tier_timing_out_is_not() {
        let from_defer = receipt("timeout", CaseState::PendingApproval, json!({ "attempts": 2, "due_at": 5 }));
        assert_eq!(Signals::of(&from_defer), Signals { timeout: true, escalation: true, ..Signals::default() });
        let next_tier = receipt("timeout", CaseState::PendingApproval, json!({ "tier": 0, "due_at": 5 }));
        assert_eq!(Signals::of(&next_tier), Signals { timeout: true, ..Signals::default() });
        let exhausted = receipt("provide", CaseState::PendingApproval, json!({}));
        assert!(Signals::of(&exhausted).escalation);
        // A round of the evidence sources that exhausts the attempts hands the case over too
        // (it once went uncounted: only `provide` was read this way).
        let exhausted_by_sources = receipt("round", CaseState::PendingApproval, json!({ "round": 3 }));
        assert!(Signals::of(&exhausted_by_sources).escalation);
        assert!(!Signals::of(&receipt("round", CaseState::PendingEvidence, json!({}))).escalation);
        let still_deferred = receipt("provide", CaseState::PendingEvidence, json!({}));
        assert_eq!(Signals::of(&still_deferred), Signals::default());
        assert!(Signals::of(&receipt("escalate", CaseState::PendingApproval, json!({}))).escalation);
        assert!(Signals::of(&receipt("open", CaseState::PendingEvidence, json!({}))).deferred);
        assert!(!Signals::of(&receipt("open", CaseState::PendingApproval, json!({}))).deferred);
        let denied = receipt("timeout", CaseState::Denied, json!({ "tier": 0 }));
        assert_eq!(Signals::of(&denied), Signals { timeout: true, resolved: true, ..Signals::default() });
    }

    #[test]
    fn a_source_receipt_counts_as_its_source_answered_partly_or_failed() {
        let tried = |detail: serde_json::Value| {
            ResolverResult::of_receipt(&receipt("source", CaseState::PendingEvidence, detail))
                .map(|(s, r)| (s, r.as_str()))
        };
        let answered =
            json!({ "source": "api", "facts": ["a"], "result": "answered", "values": { "a": true }, "round": 1 });
        assert_eq!(tried(answered), Some(("api".into(), "answered")));
        let partial =
            json!({ "source": "api", "facts": ["a", "b"], "result": "answered", "values": { "a": true, "b": null } });
        assert_eq!(tried(partial), Some(("api".into(), "partial")));
        let failed =
            json!({ "source": "api", "facts": ["a"], "result": "failed", "code": "source.timeout", "message": "" });
        assert_eq!(tried(failed), Some(("api".into(), "failed")));
        assert_eq!(tried(json!({ "source": "api" })), None, "not a try");
        let round = receipt(
            "round",
            CaseState::PendingEvidence,
            json!({ "source": "api", "facts": [], "result": "answered", "values": {} }),
        );
        assert_eq!(ResolverResult::of_receipt(&round), None);
    }

    #[test]
    fn percentiles_are_nearest_rank() {
        assert_eq!(nearest_rank(&[], 50), None);
        assert_eq!(nearest_rank(&[7], 90), Some(7));
        let ten: Vec<i64> = (1..=10).collect();
        assert_eq!(nearest_rank(&ten, 50), Some(5));
        assert_eq!(nearest_rank(&ten, 90), Some(9));
        assert_eq!(nearest_rank(&[1, 2, 3], 50), Some(2));
    }
}

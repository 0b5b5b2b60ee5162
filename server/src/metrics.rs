//! `GET /metrics`: the service's counters in the Prometheus text format (prometheus-client, with
//! this service's own registry: no global state, so tests can run several servers).
//!
//! Counting is an atomic add on the request path; the text is written only when scraped. Open
//! cases by state are read from the store at scrape time, so they are exact after a restart and
//! when `aarm case` changes the same store.
//!
//! Label values are bounded: a decision's effect, a rule name from the bundle (the bundle's
//! author picks them, not the agent), a case state, a channel or source name from `serve.toml`, a
//! fixed result word. Nothing an agent sends becomes a label: each new label value is a new time
//! series, and an agent that could choose them could exhaust the service's memory and the
//! monitoring system's.

use aarm_cases::lifecycle::case::{Case, CaseState};
use aarm_cases::lifecycle::receipt::Receipt;
use aarm_cases::signals::Signals;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::registry::Registry;
use std::time::Duration;

/// The content type of the Prometheus text format.
pub const CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct DecisionLabels {
    decision: &'static str,
    rule: String,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct StateLabels {
    state: &'static str,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct DeliveryLabels {
    channel: String,
    result: &'static str,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct SourceLabels {
    source: String,
    result: &'static str,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ResultLabels {
    result: &'static str,
}

/// What became of one try of an evidence source: the reading `aarm case stats` shares.
pub use aarm_cases::signals::ResolverResult;

/// What became of one notification attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeliveryResult {
    /// Sent, and the channel took it.
    Delivered,
    /// Failed; it will be tried again.
    Retry,
    /// Failed, with no attempt left (or a channel `serve.toml` does not configure).
    Failed,
}

impl DeliveryResult {
    /// The label value (`result`) of the result.
    pub fn as_str(self) -> &'static str {
        match self {
            DeliveryResult::Delivered => "delivered",
            DeliveryResult::Retry => "retry",
            DeliveryResult::Failed => "failed",
        }
    }
}

/// The service's metrics.
pub struct Metrics {
    registry: Registry,
    decisions: Family<DecisionLabels, Counter>,
    decision_seconds: Histogram,
    deferred: Counter,
    resolution_seconds: Histogram,
    timeouts: Counter,
    escalations: Counter,
    resolver_attempts: Family<SourceLabels, Counter>,
    open_cases: Family<StateLabels, Gauge>,
    deliveries: Family<DeliveryLabels, Counter>,
    reloads: Family<ResultLabels, Counter>,
    decision_log_dropped: Counter,
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Metrics").finish()
    }
}

impl Default for Metrics {
    fn default() -> Metrics {
        Metrics::new()
    }
}

impl Metrics {
    /// Every metric at zero, registered.
    pub fn new() -> Metrics {
        let mut registry = Registry::default();
        let decisions = Family::<DecisionLabels, Counter>::default();
        // prometheus-client adds `_total` to counters' names.
        registry.register("aarm_decisions", "Decisions answered by /v1/decide, by effect and rule", decisions.clone());
        // 100 µs to ~3.3 s: a decision is microseconds, its synced receipt milliseconds.
        let decision_seconds = Histogram::new(exponential_buckets(0.0001, 2.0, 16));
        registry.register(
            "aarm_decision_seconds",
            "Time to answer /v1/decide, its receipt or case included",
            decision_seconds.clone(),
        );
        let deferred = Counter::default();
        registry.register("aarm_deferred", "Actions deferred for evidence (cases opened by a defer)", deferred.clone());
        // 1 s to ~12 days.
        let resolution_seconds = Histogram::new(exponential_buckets(1.0, 4.0, 11));
        registry.register(
            "aarm_case_resolution_seconds",
            "Time from a case's opening to its resolution, in the service's clock",
            resolution_seconds.clone(),
        );
        let timeouts = Counter::default();
        registry.register(
            "aarm_case_timeouts",
            "Waits (approval tiers, deferrals) that ran out of time",
            timeouts.clone(),
        );
        let escalations = Counter::default();
        registry.register(
            "aarm_case_escalations",
            "Escalations: `escalate after` fired, or a deferral was handed to approvers",
            escalations.clone(),
        );
        let resolver_attempts = Family::<SourceLabels, Counter>::default();
        registry.register(
            "aarm_resolver_attempts",
            "Tries of an evidence source, by source (from serve.toml) and result",
            resolver_attempts.clone(),
        );
        let open_cases = Family::<StateLabels, Gauge>::default();
        registry.register(
            "aarm_open_cases",
            "Cases waiting, by state (read from the store when scraped)",
            open_cases.clone(),
        );
        let deliveries = Family::<DeliveryLabels, Counter>::default();
        registry.register(
            "aarm_notification_deliveries",
            "Notification attempts, by channel (from serve.toml) and result",
            deliveries.clone(),
        );
        let reloads = Family::<ResultLabels, Counter>::default();
        registry.register("aarm_bundle_reloads", "Bundle reloads, by result (ok, unchanged, failed)", reloads.clone());
        let decision_log_dropped = Counter::default();
        registry.register(
            "aarm_decision_log_dropped",
            "Decision log lines dropped because the writer fell behind (its queue was full) or failed",
            decision_log_dropped.clone(),
        );
        Metrics {
            registry,
            decisions,
            decision_seconds,
            deferred,
            resolution_seconds,
            timeouts,
            escalations,
            resolver_attempts,
            open_cases,
            deliveries,
            reloads,
            decision_log_dropped,
        }
    }

    /// One answered decision. `rule` is the bundle's name of the deciding rule (`None`: no rule
    /// decided, e.g. the default or a fail-closed deny); never a string from the request.
    pub fn decided(&self, effect: &'static str, rule: Option<&str>, took: Duration) {
        self.decisions.get_or_create(&DecisionLabels { decision: effect, rule: rule.unwrap_or("").to_string() }).inc();
        self.decision_seconds.observe(took.as_secs_f64());
    }

    /// A case just opened by a decision (what [`Signals::of`] reads from its `open` receipt).
    pub fn opened(&self, case: &Case) {
        if case.state == CaseState::PendingEvidence {
            self.deferred.inc();
        }
    }

    /// The receipts of one committed transition of `case` (open, event, tick).
    pub fn transition(&self, case: &Case, receipts: &[Receipt]) {
        for r in receipts {
            let s = Signals::of(&r.body);
            if s.deferred {
                self.deferred.inc();
            }
            if s.timeout {
                self.timeouts.inc();
            }
            if s.escalation {
                self.escalations.inc();
            }
            if let Some((source, result)) = ResolverResult::of_receipt(&r.body) {
                self.resolver_attempt(&source, result);
            }
            if s.resolved {
                // Whole seconds of the service's clock (the same as the receipts').
                let took = r.body.at.saturating_sub(case.opened_at).max(0);
                self.resolution_seconds.observe(took as f64);
            }
        }
    }

    /// One try of the evidence source `source` (a name from `serve.toml`'s
    /// `[evidence.sources]`, never one from a request or a policy alone: a `source` receipt is
    /// written only by a round, which asks configured sources only).
    pub fn resolver_attempt(&self, source: &str, result: ResolverResult) {
        self.resolver_attempts
            .get_or_create(&SourceLabels { source: source.to_string(), result: result.as_str() })
            .inc();
    }

    /// One notification attempt on `channel` (a name from `serve.toml`; `configured` false: a
    /// channel a policy names that `serve.toml` lacks, counted under one label).
    pub fn delivery(&self, channel: &str, configured: bool, result: DeliveryResult) {
        let channel = if configured { channel.to_string() } else { "unconfigured".to_string() };
        self.deliveries.get_or_create(&DeliveryLabels { channel, result: result.as_str() }).inc();
    }

    /// A bundle reload: `ok` (a new bundle), `unchanged` (the same hash) or `failed`.
    pub fn reload(&self, result: &'static str) {
        self.reloads.get_or_create(&ResultLabels { result }).inc();
    }

    /// A decision log line that could not be written.
    pub fn decision_log_dropped(&self) {
        self.decision_log_dropped.inc();
    }

    /// The metrics text, with the open cases counted from `pending` (the store's pending cases).
    pub fn render(&self, pending: &[Case]) -> Result<String, std::fmt::Error> {
        for state in [CaseState::PendingApproval, CaseState::PendingEvidence] {
            let n = pending.iter().filter(|c| c.state == state).count();
            self.open_cases
                .get_or_create(&StateLabels { state: state.as_str() })
                .set(i64::try_from(n).unwrap_or(i64::MAX));
        }
        let mut out = String::new();
        prometheus_client::encoding::text::encode(&mut out, &self.registry)?;
        Ok(out)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn line<'a>(text: &'a str, prefix: &str) -> Option<&'a str> {
        text.lines().find(|l| l.starts_with(prefix))
    }

    #[test]
    fn resolver_attempts_are_counted_by_source_and_result() {
        let m = Metrics::new();
        m.resolver_attempt("maintenance_api", ResolverResult::Answered);
        m.resolver_attempt("maintenance_api", ResolverResult::Answered);
        m.resolver_attempt("maintenance_api", ResolverResult::Failed);
        let text = m.render(&[]).unwrap();
        assert_eq!(
            line(&text, "aarm_resolver_attempts_total{source=\"maintenance_api\",result=\"answered\"}"),
            Some("aarm_resolver_attempts_total{source=\"maintenance_api\",result=\"answered\"} 2"),
            "{text}"
        );
        assert!(
            text.contains("aarm_resolver_attempts_total{source=\"maintenance_api\",result=\"failed\"} 1"),
            "{text}"
        );
    }

    #[test]
    fn the_unlabelled_metrics_start_at_zero_and_the_labelled_ones_appear_when_counted() {
        let m = Metrics::new();
        let text = m.render(&[]).unwrap();
        for series in [
            "aarm_decision_seconds_count 0",
            "aarm_deferred_total 0",
            "aarm_case_resolution_seconds_count 0",
            "aarm_case_timeouts_total 0",
            "aarm_case_escalations_total 0",
            "aarm_decision_log_dropped_total 0",
            "aarm_open_cases{state=\"pending_approval\"} 0",
            "aarm_open_cases{state=\"pending_evidence\"} 0",
        ] {
            assert!(text.lines().any(|l| l == series), "{series} missing:\n{text}");
        }
        assert!(!text.contains("aarm_decisions_total{"), "{text}");
        m.decided("deny", None, Duration::from_millis(2));
        m.reload("failed");
        let text = m.render(&[]).unwrap();
        assert!(text.lines().any(|l| l == "aarm_decisions_total{decision=\"deny\",rule=\"\"} 1"), "{text}");
        assert!(text.lines().any(|l| l == "aarm_bundle_reloads_total{result=\"failed\"} 1"), "{text}");
        assert!(text.lines().any(|l| l == "aarm_decision_seconds_count 1"), "{text}");
    }

    #[test]
    fn a_channel_serve_toml_lacks_is_one_label_whatever_its_name() {
        let m = Metrics::new();
        m.delivery("webhook:attacker-chosen-1", false, DeliveryResult::Failed);
        m.delivery("webhook:attacker-chosen-2", false, DeliveryResult::Failed);
        let text = m.render(&[]).unwrap();
        assert!(
            text.contains("aarm_notification_deliveries_total{channel=\"unconfigured\",result=\"failed\"} 2"),
            "{text}"
        );
        assert!(!text.contains("attacker-chosen"), "{text}");
    }
}

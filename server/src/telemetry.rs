//! What the service tells its operators beyond its answers: counters and histograms for
//! `/metrics`, OpenTelemetry spans, and the decision log's JSON lines. Every place that decides or
//! commits a transition reports here.

use crate::decision_log::DecisionLogger;
use crate::metrics::Metrics;
use crate::traces::Traces;
use aarm_cases::lifecycle::case::Case;
use aarm_cases::lifecycle::receipt::Receipt;
use std::sync::Arc;

/// Metrics, traces and the decision log.
#[derive(Debug)]
pub struct Telemetry {
    /// Counters and histograms for `/metrics` (shared with the outbox and the decision log).
    pub metrics: Arc<Metrics>,
    /// OpenTelemetry spans, when `[tracing]` or `OTEL_EXPORTER_OTLP_ENDPOINT` is set.
    pub traces: Traces,
    /// Where decision lines go, when `[decision_log]` is configured.
    pub decision_log: Option<DecisionLogger>,
}

impl Telemetry {
    /// Counts and traces the receipts a transition of `case` committed: every place that applies
    /// an event (an API call, the clock, an evidence round) reports through here, so none is left
    /// out.
    pub fn transitioned(&self, case: &Case, receipts: &[Receipt]) {
        self.metrics.transition(case, receipts);
        self.traces.transition(case, receipts);
    }
}

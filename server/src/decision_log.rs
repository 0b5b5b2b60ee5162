//! Decision logs (`[decision_log]` in serve.toml): every answer of `/v1/decide` as one JSON line,
//! to a file or standard output, as OPA's decision logs do — for a log pipeline, beside the
//! receipts (which stay the audit record).
//!
//! Written off the request path: a decide call puts its line in a bounded queue and goes on; a
//! thread of its own redacts, serializes and writes. When the queue is full (the disk or the
//! pipe is slower than the decisions), the line is dropped and counted in
//! `aarm_decision_log_dropped_total`: a slow log never slows, blocks or fails a decision.

use crate::config::DecisionLogSection;
use crate::metrics::Metrics;
use aarm_cases::redact::RedactionKey;
use serde::Serialize;
use serde_json::Value;
use std::io::Write;
use std::sync::mpsc::{sync_channel, Receiver, SyncSender, TrySendError};
use std::sync::Arc;

/// What replaces a redacted value.
pub const REDACTED: &str = "[redacted]";

/// One decision, as logged.
#[derive(Debug, Clone, Serialize)]
pub struct Line {
    /// The decision's own id (the decision JSON's `decision_id`, a ULID).
    pub decision_id: Option<String>,
    /// The caller's `request_id`, when the request carried one.
    pub request_id: Option<String>,
    /// When it was decided (RFC 3339, the service's clock).
    pub time: String,
    pub agent: String,
    pub tool: String,
    pub operation: String,
    /// The deciding rule (`null`: none, e.g. a fail-closed deny).
    pub rule: Option<std::sync::Arc<str>>,
    /// `allow`, `deny`, `modify`, `step_up`, `defer`.
    pub effect: &'static str,
    pub reason_code: std::sync::Arc<str>,
    pub bundle_hash: String,
    /// The hash of the decision's receipt (its `decide` receipt, or its case's `open` receipt);
    /// `null` when it could not be recorded (and the decision is then a deny).
    pub receipt: Option<String>,
    /// The case it opened, for a `step_up` or `defer`.
    pub case: Option<String>,
    /// Time to answer, in milliseconds.
    pub latency_ms: f64,
    /// The action's parameters, with the configured fields redacted.
    pub params: Value,
    /// The fields the policy marks `@redact` (`params.body`): in `params` their keyed hash
    /// replaces them (aarm_cases::redact). Absent when there are none.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub redacted: Vec<String>,
}

/// The sending side: cheap to call on the request path.
#[derive(Debug, Clone)]
pub struct DecisionLogger {
    tx: SyncSender<Line>,
    metrics: Arc<Metrics>,
}

impl DecisionLogger {
    /// Opens the destination and starts the writer thread.
    /// `key`: the deployment's redaction key (none without `--sign-key`: marked values are then
    /// withheld).
    pub fn start(
        config: &DecisionLogSection,
        metrics: Arc<Metrics>,
        key: Option<RedactionKey>,
    ) -> Result<DecisionLogger, String> {
        let out: Box<dyn Write + Send> = if config.path == "-" {
            Box::new(std::io::stdout())
        } else {
            let file = std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(&config.path)
                .map_err(|e| format!("decision log {}: {e}", config.path))?;
            Box::new(file)
        };
        let (tx, rx) = sync_channel(config.queue);
        let redact: Vec<Vec<String>> =
            config.redact.iter().map(|p| p.split('.').map(str::to_string).collect()).collect();
        let writer_metrics = metrics.clone();
        std::thread::Builder::new()
            .name("aarm-decision-log".into())
            .spawn(move || write_lines(rx, out, &Redact { configured: redact, key }, &writer_metrics))
            .map_err(|e| format!("decision log: cannot start its writer: {e}"))?;
        Ok(DecisionLogger { tx, metrics })
    }

    /// Queues a line; drops (and counts) it when the queue is full or the writer is gone.
    pub fn log(&self, line: Line) {
        match self.tx.try_send(line) {
            Ok(()) => {}
            Err(TrySendError::Full(_) | TrySendError::Disconnected(_)) => self.metrics.decision_log_dropped(),
        }
    }
}

/// The writer: takes every queued line, writes it, flushes when the queue is empty. Ends when
/// every sender is gone (the service stopped).
/// What the writer hides: the configured paths (`[decision_log] redact`, replaced by
/// [`REDACTED`]), and each line's `@redact` fields (replaced by their keyed hash). Both apply.
struct Redact {
    configured: Vec<Vec<String>>,
    key: Option<RedactionKey>,
}

impl Redact {
    fn apply(&self, line: &Line) -> Result<Value, String> {
        let mut v = serde_json::to_value(line).map_err(|e| e.to_string())?;
        if let Some(params) = v.get_mut("params") {
            aarm_cases::redact::redact_params(params, &line.redacted, self.key.as_ref());
        }
        for path in &self.configured {
            redact_path(&mut v, path);
        }
        Ok(v)
    }
}

fn write_lines(rx: Receiver<Line>, out: Box<dyn Write + Send>, redact: &Redact, metrics: &Metrics) {
    let mut out = std::io::BufWriter::new(out);
    let mut failing = false;
    while let Ok(first) = rx.recv() {
        let mut next = Some(first);
        while let Some(line) = next {
            let written = redact.apply(&line).and_then(|v| writeln!(out, "{v}").map_err(|e| e.to_string()));
            if let Err(e) = written {
                metrics.decision_log_dropped();
                if !failing {
                    tracing::error!(error = %e, "decision log: cannot write; lines are dropped until it can");
                }
                failing = true;
            }
            next = rx.try_recv().ok();
        }
        match out.flush() {
            Ok(()) => failing = false,
            Err(e) => {
                if !failing {
                    tracing::error!(error = %e, "decision log: cannot write; lines are dropped until it can");
                }
                failing = true;
            }
        }
    }
}

/// Replaces the value at `path` (object keys) with [`REDACTED`], when it is there.
pub fn redact_path(v: &mut Value, path: &[String]) {
    let Some((last, parents)) = path.split_last() else { return };
    let mut cur = v;
    for key in parents {
        match cur.get_mut(key) {
            Some(next) => cur = next,
            None => return,
        }
    }
    if let Some(slot) = cur.as_object_mut().and_then(|o| o.get_mut(last)) {
        *slot = Value::String(REDACTED.into());
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use serde_json::json;

    fn path(s: &str) -> Vec<String> {
        s.split('.').map(str::to_string).collect()
    }

    #[test]
    fn a_redacted_field_keeps_its_key_and_loses_its_value_and_an_absent_one_is_left_alone() {
        let mut v = json!({ "params": { "card_number": "4111111111111111", "amount": 5, "nested": { "cvv": "123" } } });
        redact_path(&mut v, &path("params.card_number"));
        redact_path(&mut v, &path("params.nested.cvv"));
        redact_path(&mut v, &path("params.absent"));
        redact_path(&mut v, &path("params.amount.deeper"));
        assert_eq!(v, json!({ "params": { "card_number": REDACTED, "amount": 5, "nested": { "cvv": REDACTED } } }));
    }
}

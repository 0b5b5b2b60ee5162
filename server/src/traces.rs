//! OpenTelemetry traces: one span per answer of `/v1/decide` (`aarm.decide`) and one per
//! committed case transition (`aarm.case.open`, `aarm.case.approve`, `aarm.case.timeout`, ...),
//! exported over OTLP/HTTP (protobuf) when `[tracing] otlp_endpoint` or the standard
//! `OTEL_EXPORTER_OTLP_ENDPOINT` is set. Spans carry who and what was decided (effect, rule,
//! tool, agent, case, bundle hash), never an action's parameters: they leave the service.
//!
//! Each service has its own tracer provider (not the process-wide `tracing` subscriber, which is
//! installed once per process and would mix several servers' spans in tests). Spans are batched
//! and sent by a background task, off the request path; a failed export drops the batch and is
//! logged once, and never changes a decision.

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, SystemTime};

use aarm_cases::lifecycle::case::Case;
use aarm_cases::lifecycle::receipt::Receipt;
use opentelemetry::trace::{Span as _, Tracer as _, TracerProvider as _};
use opentelemetry::KeyValue;
use opentelemetry_otlp::{Protocol, WithExportConfig as _};
use opentelemetry_sdk::error::OTelSdkResult;
use opentelemetry_sdk::trace::span_processor_with_async_runtime::BatchSpanProcessor;
use opentelemetry_sdk::trace::{SdkTracer, SdkTracerProvider, SpanData, SpanExporter};
use opentelemetry_sdk::Resource;

/// The service name spans are exported under.
pub const SERVICE_NAME: &str = "aarm";
/// The standard variables that turn export on when `serve.toml` says nothing.
const ENV_ENDPOINTS: [&str; 2] = ["OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "OTEL_EXPORTER_OTLP_ENDPOINT"];
/// How long a shutdown waits for the last batch.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(5);

/// The service's tracer, or nothing when traces are not configured.
pub struct Traces {
    exporting: Option<(SdkTracerProvider, SdkTracer)>,
}

impl std::fmt::Debug for Traces {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Traces").field("exporting", &self.exporting.is_some()).finish()
    }
}

/// What one `/v1/decide` answered, as its span tells it.
pub struct Decided<'a> {
    pub decision: &'a str,
    pub rule: Option<&'a str>,
    pub reason_code: &'a str,
    pub tool: &'a str,
    pub agent: &'a str,
    pub bundle_hash: &'a str,
    pub decision_id: Option<&'a str>,
    pub case: Option<&'a str>,
    pub took: Duration,
}

impl Traces {
    /// Exports to `endpoint` (the OTLP/HTTP base, e.g. `http://127.0.0.1:4318`: spans go to
    /// `/v1/traces` under it), else to what the standard variables say, else nowhere. Must run
    /// inside the tokio runtime (the batch task is spawned on it).
    pub fn start(endpoint: Option<&str>) -> Result<Traces, String> {
        let from_env = ENV_ENDPOINTS.iter().any(|v| std::env::var(v).is_ok_and(|s| !s.trim().is_empty()));
        if endpoint.is_none() && !from_env {
            return Ok(Traces { exporting: None });
        }
        let mut builder = opentelemetry_otlp::SpanExporter::builder().with_http().with_protocol(Protocol::HttpBinary);
        if let Some(base) = endpoint {
            builder = builder.with_endpoint(format!("{}/v1/traces", base.trim_end_matches('/')));
        }
        let exporter = builder.build().map_err(|e| format!("tracing.otlp_endpoint: {e}"))?;
        let processor = BatchSpanProcessor::builder(
            WarnOnce { inner: exporter, warned: AtomicBool::new(false) },
            opentelemetry_sdk::runtime::Tokio,
        )
        .build();
        let provider = SdkTracerProvider::builder()
            .with_span_processor(processor)
            .with_resource(Resource::builder().with_service_name(SERVICE_NAME).build())
            .build();
        let tracer = provider.tracer("aarm-server");
        Ok(Traces { exporting: Some((provider, tracer)) })
    }

    /// The span of one answer of `/v1/decide`, begun `took` ago.
    pub fn decided(&self, d: &Decided<'_>) {
        let Some((_, tracer)) = &self.exporting else { return };
        let mut attributes = vec![
            KeyValue::new("aarm.decision", d.decision.to_string()),
            KeyValue::new("aarm.rule", d.rule.unwrap_or("").to_string()),
            KeyValue::new("aarm.reason_code", d.reason_code.to_string()),
            KeyValue::new("aarm.tool", d.tool.to_string()),
            KeyValue::new("aarm.agent", d.agent.to_string()),
            KeyValue::new("aarm.bundle_hash", d.bundle_hash.to_string()),
        ];
        if let Some(id) = d.decision_id {
            attributes.push(KeyValue::new("aarm.decision_id", id.to_string()));
        }
        if let Some(case) = d.case {
            attributes.push(KeyValue::new("aarm.case.id", case.to_string()));
        }
        let end = SystemTime::now();
        let start = end.checked_sub(d.took).unwrap_or(end);
        let mut span =
            tracer.span_builder("aarm.decide").with_start_time(start).with_attributes(attributes).start(tracer);
        span.end_with_timestamp(end);
    }

    /// The span of a case a decision just opened (its `open` receipt, `receipt`).
    pub fn opened(&self, case: &Case, receipt: Option<&str>) {
        let decision = case.decision.decision.as_str();
        self.case_span(case, "open", case.state.as_str(), decision, None, receipt.unwrap_or(""));
    }

    /// The spans of one committed transition of `case`: one per receipt (`approve`, `deny`,
    /// `provide`, `revalidate`, `escalate`, `timeout`, `cancel`, ...).
    pub fn transition(&self, case: &Case, receipts: &[Receipt]) {
        for r in receipts {
            let b = &r.body;
            self.case_span(case, &b.event, b.state.as_str(), &b.decision, b.actor.as_deref(), &r.hash);
        }
    }

    /// One span named `aarm.case.EVENT`.
    fn case_span(&self, case: &Case, event: &str, state: &str, decision: &str, actor: Option<&str>, receipt: &str) {
        let Some((_, tracer)) = &self.exporting else { return };
        let text =
            |v: &serde_json::Value, path: &str| v.pointer(path).and_then(|s| s.as_str()).unwrap_or("").to_string();
        let attributes = vec![
            KeyValue::new("aarm.case.id", case.id.clone()),
            KeyValue::new("aarm.case.event", event.to_string()),
            KeyValue::new("aarm.case.state", state.to_string()),
            KeyValue::new("aarm.decision", decision.to_string()),
            KeyValue::new("aarm.rule", case.decision.rule.clone().unwrap_or_default()),
            KeyValue::new("aarm.tool", text(&case.request, "/action/tool")),
            KeyValue::new("aarm.agent", text(&case.identity, "/agent")),
            KeyValue::new("aarm.actor", actor.unwrap_or("").to_string()),
            KeyValue::new("aarm.bundle_hash", case.bundle_hash.clone()),
            KeyValue::new("aarm.receipt", receipt.to_string()),
        ];
        tracer.span_builder(format!("aarm.case.{event}")).with_attributes(attributes).start(tracer).end();
    }

    /// Sends what is still batched and stops exporting (at shutdown).
    pub async fn shutdown(&self) {
        let Some((provider, _)) = &self.exporting else { return };
        let provider = provider.clone();
        // The SDK's shutdown blocks until the batch task answers: not on a runtime worker.
        let done = tokio::task::spawn_blocking(move || provider.shutdown_with_timeout(SHUTDOWN_GRACE));
        if let Ok(Ok(Err(e))) = tokio::time::timeout(SHUTDOWN_GRACE * 2, done).await {
            tracing::warn!(error = %e, "traces: the last spans were not exported");
        }
    }
}

/// The OTLP exporter, logging its first failure only: a collector that is down must not fill
/// the log, and a span is worth less than a decision (the batch is dropped).
#[derive(Debug)]
struct WarnOnce<E> {
    inner: E,
    warned: AtomicBool,
}

impl<E: SpanExporter> SpanExporter for WarnOnce<E> {
    async fn export(&self, batch: Vec<SpanData>) -> OTelSdkResult {
        let result = self.inner.export(batch).await;
        if let Err(e) = &result {
            if !self.warned.swap(true, Ordering::Relaxed) {
                tracing::warn!(error = %e, "traces: an OTLP export failed (spans dropped; later failures are not logged)");
            }
        }
        result
    }

    fn shutdown_with_timeout(&mut self, timeout: Duration) -> OTelSdkResult {
        self.inner.shutdown_with_timeout(timeout)
    }

    fn set_resource(&mut self, resource: &Resource) {
        self.inner.set_resource(resource);
    }
}

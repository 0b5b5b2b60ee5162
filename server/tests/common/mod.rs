//! The harness of the server's tests: policies compiled to real bundles, the real server on a
//! loopback port with a real SQLite store, a webhook receiver and an SMTP sink on loopback.
//!
//! Time is the test's: the server reads a manual clock ([`Deployment::time`]) that moves only
//! when the test calls [`Deployment::advance`], so "before the timeout" and "after it" do not
//! depend on how loaded the machine is. Waiting is on events (a case changed, a webhook
//! arrived), polled with a generous upper bound ([`WAIT_BOUND`]) that only a broken server
//! reaches; no test asserts how long anything took.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]

pub mod schema;

use aarm_server::clock::{ManualTime, TimeSource};
use aarm_server::config::Config;
use aarm_server::{Options, Running};
use axum::http::HeaderMap;
use serde_json::{json, Value};
use std::future::Future;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// The longest any test waits for an event before failing: far beyond what a loaded machine
/// needs, so reaching it means the event is not coming.
pub const WAIT_BOUND: Duration = Duration::from_secs(60);

/// Polls `probe` until it answers `Some`, failing after [`WAIT_BOUND`] with `what`.
pub async fn eventually<T, F, Fut>(what: &str, mut probe: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let deadline = tokio::time::Instant::now() + WAIT_BOUND;
    loop {
        if let Some(v) = probe().await {
            return v;
        }
        assert!(tokio::time::Instant::now() < deadline, "waited {WAIT_BOUND:?} for {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

pub const POLICY: &str = r#"
policy pay version "1"
tool transfer { amount: Int, to: String }
tool wire { amount: Int }
tool payout { amount: Int }
tool read_file { path: String }
tool rotate { env: String }
tool patch { env: String }
tool refund { amount: Int }
evidence window_ok: Bool from "maintenance_api"
group finance = ["cfo@corp.com", "controller@corp.com"]

/// Large transfers need a finance approver.
rule big on transfer priority 90 {
  when params.amount > 1000
  risk high
  confidence 0.9
  step_up {
    approvers 1 of finance
    timeout 1h -> deny
    notify "webhook:audit", "slack:#finance", "email:approvals@corp.com"
  }
  reason "transfer.big" "Transfer of {params.amount} to {params.to} needs approval"
}

/// Nothing leaves after a file was read in the same session.
rule after_read on transfer priority 95 {
  when any a in context.prior_actions: a.tool == "read_file"
  deny
  reason "exfil.after_read" "A transfer after reading files in this session"
}

rule small on transfer { allow }
rule reads on read_file { allow }

rule wire_big on wire priority 90 {
  when params.amount > 1000
  step_up { approvers 1 of finance  timeout 2s -> deny  notify "webhook:audit" }
  reason "wire.big" "Wire needs approval"
}

rule payout_big on payout priority 90 {
  when params.amount > 1000
  risk critical
  step_up {
    approvers 1 of ["cfo@corp.com"]
    timeout 1h -> deny
    escalate after 1s to ["security@corp.com"]
    notify "webhook:audit"
  }
  reason "payout.big" "Payout needs the CFO"
}

rule rotate_prod on rotate priority 60 {
  when params.env == "prod" and evidence.window_ok is not set
  defer {
    need window_ok
    timeout 1s -> step_up { approvers 1 of role "sre"  timeout 1h -> deny  notify "webhook:audit" }
  }
  reason "rotate.window" "Rotation in prod needs a maintenance window"
}
rule rotate_closed on rotate priority 50 {
  when evidence.window_ok is set and not evidence.window_ok
  deny
}
rule rotate_ok on rotate { allow }

rule patch_prod on patch priority 60 {
  when params.env == "prod" and evidence.window_ok is not set
  defer { need window_ok  timeout 1h -> deny }
}
rule patch_ok on patch { allow }

rule refund_big on refund priority 90 {
  when params.amount > 1000
  step_up {
    approvers 1 of finance
    timeout 1s -> step_up { approvers 1 of ["ceo@corp.com"]  timeout 1h -> deny  notify "webhook:audit" }
    notify "webhook:audit"
  }
}
"#;

pub use tempfile::TempDir;

/// A fresh directory for one test under the system's temp dir (`TMPDIR`), named
/// `aarm-server-NAME-XXXXXX` (unique, so parallel tests and runs never share one), removed with
/// everything in it when dropped, also when the test panics.
pub fn temp_dir(name: &str) -> TempDir {
    tempfile::Builder::new().prefix(&format!("aarm-server-{name}-")).tempdir().unwrap()
}

/// Compiles one policy file to bundle bytes (optionally signed).
pub fn bundle(src: &str, key: Option<&ed25519_dalek::SigningKey>) -> Vec<u8> {
    let loaded = aarm_compiler::load_sources(vec![("policy.aarm".to_string(), src.to_string())]);
    let compiled = aarm_compiler::compile(&loaded);
    let Some(program) = compiled.program else {
        let msgs: Vec<String> =
            compiled.checked.diagnostics.iter().map(|d| format!("{} {}", d.code.as_str(), d.message)).collect();
        panic!("policy does not compile:\n{}", msgs.join("\n"));
    };
    aarm_runtime::bundle::encode(&program, key).unwrap()
}

pub fn config_text(hook: &str, smtp: &str) -> String {
    format!(
        r#"
[auth.agents]
"agent-token" = "finance-agent"
"other-agent-token" = "ops-agent"
"bare-agent-token" = "bare-agent"
[auth.approvers]
"tok-cfo" = "cfo@corp.com"
"tok-controller" = "controller@corp.com"
"tok-security" = "security@corp.com"
"tok-sre" = "sre-lead@corp.com"
"tok-outsider" = "mallory@corp.com"
"tok-ceo" = "ceo@corp.com"
[auth.approver_roles]
"sre-lead@corp.com" = ["sre"]
[auth.agent_roles]
"finance-agent" = ["finance", "payments", "sre"]
"ops-agent" = ["finance"]
[auth.agent_humans]
"finance-agent" = ["*"]
"ops-agent" = ["alice@corp.com"]
[auth.agent_services]
"finance-agent" = ["*"]
"ops-agent" = ["svc-payments"]
[auth.admins]
"tok-ops" = "ops@corp.com"
[[auth.jwt]]
issuer = "https://idp.corp.com"
audience = "aarm"
algorithm = "HS256"
secret = "jwt-test-secret"
kind_claim = "aarm_kind"
roles_claim = "groups"
humans_claim = "acts_for"
[notify.channels]
"webhook:audit" = {{ kind = "webhook", url = "{hook}/hook", secret = "hook-secret" }}
"slack:#finance" = {{ kind = "slack", url = "{hook}/slack" }}
"email:approvals@corp.com" = {{ kind = "email", smtp = "{smtp}", from = "aarm@corp.com" }}
[notify.retry]
max_attempts = 4
initial_backoff_ms = 100
max_backoff_ms = 400
timeout_ms = 2000
"#
    )
}

/// One request the receiver got.
#[derive(Debug, Clone)]
pub struct Hit {
    pub path: String,
    pub headers: HeaderMap,
    pub body: Vec<u8>,
}

impl Hit {
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap()
    }
}

/// One OpenTelemetry span a [`Receiver`] got: its resource's `service.name`, its name, and its
/// attributes (non-strings in debug form).
#[derive(Debug, Clone)]
pub struct ReceivedSpan {
    pub service: String,
    pub name: String,
    pub attributes: std::collections::BTreeMap<String, String>,
}

/// A local HTTP receiver for webhooks and Slack messages. `fail_first` requests get a 500.
pub struct Receiver {
    pub url: String,
    pub hits: Arc<Mutex<Vec<Hit>>>,
    pub fail_first: Arc<AtomicUsize>,
}

impl Receiver {
    pub async fn start() -> Receiver {
        let hits: Arc<Mutex<Vec<Hit>>> = Arc::default();
        let fail_first = Arc::new(AtomicUsize::new(0));
        let (h, f) = (hits.clone(), fail_first.clone());
        let app =
            axum::Router::new().fallback(move |uri: axum::http::Uri, headers: HeaderMap, body: axum::body::Bytes| {
                let (h, f) = (h.clone(), f.clone());
                async move {
                    if f.load(Ordering::SeqCst) > 0 {
                        f.fetch_sub(1, Ordering::SeqCst);
                        return axum::http::StatusCode::INTERNAL_SERVER_ERROR;
                    }
                    h.lock().unwrap().push(Hit { path: uri.path().to_string(), headers, body: body.to_vec() });
                    axum::http::StatusCode::OK
                }
            });
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        Receiver { url, hits, fail_first }
    }

    pub fn hits(&self, path: &str) -> Vec<Hit> {
        self.hits.lock().unwrap().iter().filter(|h| h.path == path).cloned().collect()
    }

    /// The spans received as an OpenTelemetry collector (`POST /v1/traces`, OTLP/HTTP protobuf),
    /// in the order they arrived.
    pub fn spans(&self) -> Vec<ReceivedSpan> {
        use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
        use opentelemetry_proto::tonic::common::v1::{any_value::Value as Any, KeyValue};
        use prost::Message;
        let text = |kv: &KeyValue| match kv.value.as_ref().and_then(|v| v.value.as_ref()) {
            Some(Any::StringValue(s)) => s.clone(),
            other => format!("{other:?}"),
        };
        let mut spans = Vec::new();
        for hit in self.hits("/v1/traces") {
            assert_eq!(hit.headers["content-type"], "application/x-protobuf");
            let request = ExportTraceServiceRequest::decode(hit.body.as_slice()).unwrap();
            for resource in request.resource_spans {
                let attrs = resource.resource.map(|r| r.attributes).unwrap_or_default();
                let service = attrs.iter().find(|kv| kv.key == "service.name").map(text).unwrap_or_default();
                for span in resource.scope_spans.into_iter().flat_map(|s| s.spans) {
                    let attributes = span.attributes.iter().map(|kv| (kv.key.clone(), text(kv))).collect();
                    spans.push(ReceivedSpan { service: service.clone(), name: span.name, attributes });
                }
            }
        }
        spans
    }

    /// Waits until `n` requests to `path` arrived.
    pub async fn wait_for(&self, path: &str, n: usize) -> Vec<Hit> {
        let what = format!("{n} request(s) to {path}");
        eventually(&what, || async { Some(self.hits(path)).filter(|h| h.len() >= n) }).await
    }
}

/// A minimal SMTP server on loopback that keeps every message it accepts.
pub struct SmtpSink {
    pub addr: String,
    pub mails: Arc<Mutex<Vec<String>>>,
}

impl SmtpSink {
    pub async fn start() -> SmtpSink {
        use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap().to_string();
        let mails: Arc<Mutex<Vec<String>>> = Arc::default();
        let m = mails.clone();
        tokio::spawn(async move {
            loop {
                let Ok((sock, _)) = listener.accept().await else { return };
                let m = m.clone();
                tokio::spawn(async move {
                    let (r, mut w) = sock.into_split();
                    let mut r = BufReader::new(r);
                    w.write_all(b"220 sink ESMTP\r\n").await.ok();
                    let mut line = String::new();
                    loop {
                        line.clear();
                        if r.read_line(&mut line).await.unwrap_or(0) == 0 {
                            return;
                        }
                        let cmd = line.trim_end().to_ascii_uppercase();
                        if cmd.starts_with("EHLO") || cmd.starts_with("HELO") {
                            w.write_all(b"250-sink\r\n250 8BITMIME\r\n").await.ok();
                        } else if cmd == "DATA" {
                            w.write_all(b"354 go on\r\n").await.ok();
                            let mut data = String::new();
                            loop {
                                line.clear();
                                if r.read_line(&mut line).await.unwrap_or(0) == 0 {
                                    return;
                                }
                                if line == ".\r\n" {
                                    break;
                                }
                                data.push_str(&line);
                            }
                            m.lock().unwrap().push(data);
                            w.write_all(b"250 queued\r\n").await.ok();
                        } else if cmd == "QUIT" {
                            w.write_all(b"221 bye\r\n").await.ok();
                            return;
                        } else {
                            w.write_all(b"250 ok\r\n").await.ok();
                        }
                    }
                });
            }
        });
        SmtpSink { addr, mails }
    }

    pub async fn wait_for(&self, n: usize) -> Vec<String> {
        let what = format!("{n} mail(s)");
        eventually(&what, || async { Some(self.mails.lock().unwrap().clone()).filter(|m| m.len() >= n) }).await
    }
}

/// A test deployment: a bundle file, a store, a config, the receivers, and the server.
pub struct Deployment {
    pub receiver: Receiver,
    pub smtp: SmtpSink,
    pub server: Option<Running>,
    pub base: String,
    pub http: reqwest::Client,
    /// The server's time (it survives a restart of the deployment): moved by [`Self::advance`].
    pub time: ManualTime,
    /// The bundle, config and store. The last field, so it is removed after the server (and
    /// everything else that may still write into it) is dropped.
    pub dir: TempDir,
}

impl Deployment {
    pub async fn start(name: &str) -> Deployment {
        Deployment::start_with(name, POLICY, |_| {}).await
    }

    pub async fn start_with(name: &str, policy: &str, tune: impl FnOnce(&mut Options)) -> Deployment {
        let dir = temp_dir(name);
        std::fs::write(dir.path().join("policy.aarmb"), bundle(policy, None)).unwrap();
        let receiver = Receiver::start().await;
        let smtp = SmtpSink::start().await;
        let text = config_text(&receiver.url, &smtp.addr);
        std::fs::write(dir.path().join("serve.toml"), &text).unwrap();
        let mut d = Deployment {
            dir,
            receiver,
            smtp,
            server: None,
            base: String::new(),
            http: reqwest::Client::new(),
            time: ManualTime::starting_now(),
        };
        d.boot(tune).await;
        d
    }

    pub fn options(&self) -> Options {
        let config = Config::load(&self.dir.path().join("serve.toml")).unwrap();
        let mut o = Options::new(
            self.dir.path().join("policy.aarmb"),
            self.dir.path().join("cases.db"),
            "127.0.0.1:0".parse().unwrap(),
            config,
        );
        // The test ticks (Deployment::advance, Deployment::tick): the background clock only
        // runs its first tick at start, so what a tick changed is the test's to see.
        o.tick_interval = Duration::from_secs(3600);
        o.outbox_interval = Duration::from_millis(50);
        o.reload_interval = Some(Duration::from_millis(100));
        o.clock = TimeSource::Manual(self.time.clone());
        o
    }

    pub async fn boot(&mut self, tune: impl FnOnce(&mut Options)) {
        let mut o = self.options();
        tune(&mut o);
        let running = aarm_server::start(o).await.unwrap();
        self.base = format!("http://{}", running.addr);
        self.server = Some(running);
    }

    pub async fn stop(&mut self) {
        if let Some(s) = self.server.take() {
            s.stop().await.unwrap();
        }
    }

    /// Restarts the server with its serve.toml rewritten by `edit` (the store, the receivers
    /// and the time stay).
    pub async fn reconfigure(&mut self, edit: impl FnOnce(String) -> String) {
        self.stop().await;
        let path = self.dir.path().join("serve.toml");
        let text = std::fs::read_to_string(&path).unwrap();
        std::fs::write(&path, edit(text)).unwrap();
        self.boot(|_| {}).await;
    }

    pub fn app(&self) -> &Arc<aarm_server::App> {
        &self.server.as_ref().unwrap().app
    }

    /// Runs one tick of the server's clock at the current time and waits for it to finish.
    /// Returns the ids of the cases it changed.
    pub async fn tick(&self) -> Vec<String> {
        self.server.as_ref().unwrap().tick().await.unwrap()
    }

    /// Moves the server's time forward by `by`, then runs one tick: whatever fell due by then
    /// has fired when this returns. Returns the ids of the cases the tick changed.
    pub async fn advance(&self, by: Duration) -> Vec<String> {
        self.time.advance(by);
        self.tick().await
    }

    /// Waits until `n` long-polls (`/wait`, `/events`) follow case `id`, so that what the
    /// test does next happens while they wait.
    pub async fn waiting(&self, id: &str, n: usize) {
        let what = format!("{n} waiter(s) on {id}");
        eventually(&what, || async { (self.app().records.waiters.watching(id) >= n).then_some(()) }).await
    }

    /// Starts the agent's long-poll on case `id` (`/wait`, up to 300 s) and returns once the
    /// server holds it: what the test does next happens while it waits. The task answers the
    /// poll's status and the case.
    pub async fn agent_waiting(&self, id: &str) -> tokio::task::JoinHandle<(u16, Value)> {
        let (http, url) = (self.http.clone(), format!("{}/v1/cases/{id}/wait?timeout_s=300", self.base));
        let waiter = tokio::spawn(async move {
            let res = http.get(url).bearer_auth("agent-token").send().await.unwrap();
            (res.status().as_u16(), res.json::<Value>().await.unwrap())
        });
        self.waiting(id, 1).await;
        waiter
    }

    /// Waits until the case (as the operator sees it) satisfies `done`, and returns it.
    pub async fn case_until(&self, id: &str, done: impl Fn(&Value) -> bool) -> Value {
        let what = format!("case {id} to change");
        eventually(&what, || async {
            let (status, case) = self.get(&format!("/v1/cases/{id}"), "tok-ops").await;
            assert_eq!(status, 200, "{case}");
            done(&case).then_some(case)
        })
        .await
    }

    pub async fn call(&self, method: &str, path: &str, token: Option<&str>, body: Option<Value>) -> (u16, Value) {
        let url = format!("{}{path}", self.base);
        let mut req = match method {
            "GET" => self.http.get(&url),
            "POST" => self.http.post(&url),
            other => panic!("method {other}"),
        };
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        if let Some(b) = body {
            req = req.json(&b);
        }
        let res = req.send().await.unwrap();
        let status = res.status().as_u16();
        let text = res.text().await.unwrap();
        let body = serde_json::from_str(&text).unwrap_or(Value::String(text));
        schema::check_answer(method, path, status, &body);
        (status, body)
    }

    pub async fn get(&self, path: &str, token: &str) -> (u16, Value) {
        self.call("GET", path, Some(token), None).await
    }

    pub async fn post(&self, path: &str, token: &str, body: Value) -> (u16, Value) {
        self.call("POST", path, Some(token), Some(body)).await
    }

    pub async fn decide(&self, request: Value) -> Value {
        let (status, body) = self.post("/v1/decide", "agent-token", request).await;
        assert_eq!(status, 200, "{body}");
        body
    }

    /// The `/metrics` text as an operator reads it (the operational signals and the telemetry
    /// are read there).
    pub async fn metrics_text(&self) -> String {
        let (status, body) = self.get("/metrics", "tok-ops").await;
        assert_eq!(status, 200, "{body}");
        body.as_str().unwrap().to_string()
    }

    /// Every receipt of the store, as the operator sees them, verified as one chain.
    pub async fn verified_chain(&self) -> Vec<aarm_cases::lifecycle::receipt::Receipt> {
        let (status, body) = self.get("/v1/receipts", "tok-ops").await;
        assert_eq!(status, 200, "{body}");
        let chain: Vec<aarm_cases::lifecycle::receipt::Receipt> = serde_json::from_value(body).unwrap();
        aarm_cases::receipts::verify_chain(&chain, &aarm_cases::receipts::VerifyOptions::default()).unwrap();
        chain
    }

    /// The store's state: every case and the whole chain (to show that a call changed nothing).
    pub async fn snapshot(&self) -> (Value, Value) {
        let (_, cases) = self.get("/v1/cases", "tok-ops").await;
        let (_, chain) = self.get("/v1/receipts", "tok-ops").await;
        (cases, chain)
    }
}

/// The case a decision opened.
pub fn case_id(decision: &Value) -> String {
    decision["case"].as_str().unwrap_or_else(|| panic!("no case in {decision}")).to_string()
}

pub fn transfer(amount: i64) -> Value {
    json!({
        "action": { "tool": "transfer", "params": { "amount": amount, "to": "acme" } },
        "identity": { "human": "alice@corp.com", "service": "svc-payments", "roles": ["finance"] },
        "context": { "original_request": "pay the acme invoice", "data_classes": ["PII"], "semantic_distance": 0.7 }
    })
}

pub fn tool(name: &str, amount: i64) -> Value {
    json!({ "action": { "tool": name, "params": { "amount": amount } }, "identity": { "human": "alice@corp.com" } })
}

impl Deployment {
    /// POSTs `body` exactly as given (any bytes), with extra headers; the answer as JSON.
    pub async fn post_raw(&self, path: &str, token: &str, body: Vec<u8>, headers: &[(&str, &str)]) -> (u16, Value) {
        let mut req = self
            .http
            .post(format!("{}{path}", self.base))
            .bearer_auth(token)
            .header("content-type", "application/json")
            .body(body);
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        let res = req.send().await.unwrap();
        let status = res.status().as_u16();
        let text = res.text().await.unwrap();
        let body = serde_json::from_str(&text).unwrap_or(Value::String(text));
        schema::check_answer("POST", path, status, &body);
        (status, body)
    }
}

/// The value of one series in a `/metrics` text (`name{labels}` exactly as the service writes
/// it), if listed.
pub fn metric(text: &str, series: &str) -> Option<f64> {
    text.lines()
        .find_map(|l| l.strip_prefix(series).and_then(|rest| rest.strip_prefix(' ')).map(|v| v.parse().unwrap()))
}

/// The value of one series that must be listed in a `/metrics` text.
pub fn metric_value(text: &str, series: &str) -> f64 {
    metric(text, series).unwrap_or_else(|| panic!("{series} is not in the metrics:\n{text}"))
}

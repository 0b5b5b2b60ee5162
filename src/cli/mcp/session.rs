//! A minimal MCP client session, for `aarm mcp import`: initialize, then requests one at a
//! time, over stdio (a child process) or Streamable HTTP. Each answer is awaited at most
//! `timeout`, and only an answer with the request's own id is taken.

use super::jsonrpc::{self, kind, Frame, Kind};
use super::upstream::{FromUpstream, Upstream, UpstreamError};
use serde_json::{json, Value};
use std::sync::mpsc::{channel, Receiver, RecvTimeoutError};
use std::time::{Duration, Instant};

/// The protocol version the gateway speaks first (a server may answer an older one).
pub const PROTOCOL_VERSION: &str = "2025-06-18";

#[derive(Debug, thiserror::Error)]
pub enum SessionError {
    #[error(transparent)]
    Upstream(#[from] UpstreamError),
    #[error("the server did not answer `{method}` within {seconds} s")]
    Timeout { method: String, seconds: u64 },
    #[error("the server answered `{method}` with an error: {message}")]
    Refused { method: String, message: String },
    #[error("HTTP: {0}")]
    Http(String),
}

enum Transport {
    Stdio { _server: Upstream, writer: super::upstream::UpstreamWriter, rx: Receiver<FromUpstream> },
    Http { url: String, client: reqwest::Client, runtime: tokio::runtime::Runtime, session: Option<String> },
}

pub struct Session {
    transport: Transport,
    next_id: i64,
    timeout: Duration,
    /// The `initialize` result: `serverInfo`, `capabilities`, ...
    pub server: Value,
}

fn initialize_params() -> Value {
    json!({
        "protocolVersion": PROTOCOL_VERSION,
        "capabilities": {},
        "clientInfo": { "name": "aarm", "version": env!("CARGO_PKG_VERSION") }
    })
}

impl Session {
    pub fn stdio(argv: &[String], timeout: Duration) -> Result<Session, SessionError> {
        let (tx, rx) = channel();
        let server = Upstream::spawn("upstream", argv, 0, tx)?;
        let writer = server.writer();
        Session::start(Transport::Stdio { _server: server, writer, rx }, timeout)
    }

    pub fn http(url: &str, timeout: Duration) -> Result<Session, SessionError> {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| SessionError::Http(e.to_string()))?;
        let client =
            reqwest::Client::builder().timeout(timeout).build().map_err(|e| SessionError::Http(e.to_string()))?;
        Session::start(Transport::Http { url: url.to_string(), client, runtime, session: None }, timeout)
    }

    fn start(transport: Transport, timeout: Duration) -> Result<Session, SessionError> {
        let mut s = Session { transport, next_id: 0, timeout, server: Value::Null };
        s.server = s.request("initialize", initialize_params())?;
        s.notify("notifications/initialized")?;
        Ok(s)
    }

    fn notify(&mut self, method: &str) -> Result<(), SessionError> {
        let message = json!({ "jsonrpc": "2.0", "method": method });
        match &mut self.transport {
            Transport::Stdio { writer, .. } => Ok(writer.send(&message)?),
            Transport::Http { .. } => self.post(&message, None).map(|_| ()),
        }
    }

    /// Sends a request and returns its `result`.
    pub fn request(&mut self, method: &str, params: Value) -> Result<Value, SessionError> {
        self.next_id += 1;
        let id = json!(self.next_id);
        let message = jsonrpc::request(&id, method, params);
        let answer = match &mut self.transport {
            Transport::Stdio { writer, rx, .. } => {
                writer.send(&message)?;
                let deadline = Instant::now() + self.timeout;
                loop {
                    let left = deadline.saturating_duration_since(Instant::now());
                    match rx.recv_timeout(left) {
                        Ok(FromUpstream::Frame(_, Frame::Message(m))) => {
                            if matches!(kind(&m), Kind::Response { id: got } if *got == id) {
                                break serde_json::Value::Object(m);
                            }
                            // Notifications, logs, requests to the client, other ids: not ours.
                        }
                        Ok(FromUpstream::Frame(..)) => {}
                        Ok(FromUpstream::Closed(_)) | Err(RecvTimeoutError::Disconnected) => {
                            return Err(UpstreamError::Gone("upstream".into()).into())
                        }
                        Err(RecvTimeoutError::Timeout) => {
                            return Err(SessionError::Timeout {
                                method: method.into(),
                                seconds: self.timeout.as_secs(),
                            })
                        }
                    }
                }
            }
            Transport::Http { .. } => {
                self.post(&message, Some(&id))?.ok_or_else(|| SessionError::Http(format!("no answer to `{method}`")))?
            }
        };
        if let Some(error) = answer.get("error") {
            let message = error.get("message").and_then(Value::as_str).unwrap_or("(no message)").to_string();
            return Err(SessionError::Refused { method: method.into(), message });
        }
        Ok(answer.get("result").cloned().unwrap_or(Value::Null))
    }

    /// One POST of the Streamable HTTP transport; the answer with `id` (a JSON body, or one
    /// event of an SSE stream).
    fn post(&mut self, message: &Value, id: Option<&Value>) -> Result<Option<Value>, SessionError> {
        let Transport::Http { url, client, runtime, session } = &mut self.transport else {
            return Ok(None);
        };
        let mut req = client
            .post(url.as_str())
            .header("Accept", "application/json, text/event-stream")
            .header("MCP-Protocol-Version", PROTOCOL_VERSION)
            .json(message);
        if let Some(s) = session.as_deref() {
            req = req.header("Mcp-Session-Id", s);
        }
        let (status, new_session, content_type, body) = runtime
            .block_on(async {
                let resp = req.send().await?;
                let status = resp.status();
                let header = |name: &str| resp.headers().get(name).and_then(|v| v.to_str().ok()).map(str::to_string);
                let (new_session, content_type) = (header("mcp-session-id"), header("content-type"));
                let body = resp.text().await?;
                Ok::<_, reqwest::Error>((status, new_session, content_type, body))
            })
            .map_err(|e| SessionError::Http(e.to_string()))?;
        if !status.is_success() {
            return Err(SessionError::Http(format!("{url} answered {status}")));
        }
        if new_session.is_some() {
            *session = new_session;
        }
        let Some(id) = id else { return Ok(None) };
        let is_sse = content_type.is_some_and(|c| c.starts_with("text/event-stream"));
        let candidates: Vec<Value> = if is_sse {
            body.lines()
                .filter_map(|l| l.strip_prefix("data:"))
                .filter_map(|d| serde_json::from_str(d.trim()).ok())
                .collect()
        } else {
            serde_json::from_str(&body).ok().into_iter().collect()
        };
        Ok(candidates.into_iter().find(|m| m.get("id") == Some(id) && m.get("method").is_none()))
    }
}

//! `aarm mcp proxy`: an MCP server on stdio for the agent, in front of one or more upstream
//! servers. Everything is forwarded as it is, except that every `tools/call` is decided first
//! (on a worker thread, since a suspended call may wait for a person) and only a decided
//! `allow` or `modify` reaches a server.
//!
//! Ids: every request the gateway sends upstream carries an id of its own (`aarm-N`), mapped
//! back to the client's on the answer; an answer with any other id is dropped. Requests from a
//! server to the client (`roots/list`, `sampling/createMessage`, …) get ids of their own the
//! same way (`aarm-s-N`).

use super::decide::{codes, Decider, Outcome};
use super::jsonrpc::{self, code, kind, Frame, Kind};
use super::names::{field_name, namespaced, split_namespaced, tool_name};
use super::upstream::{FromUpstream, Upstream, UpstreamWriter};
use serde_json::{json, Map, Value};
use std::collections::{HashMap, HashSet};
use std::sync::atomic::AtomicBool;
use std::sync::mpsc::channel;
use std::sync::{Arc, Mutex};

/// A server the gateway starts: its name (the namespace, with `--config`) and command line.
#[derive(Debug)]
pub struct ServerSpec {
    pub name: String,
    pub argv: Vec<String>,
}

/// How the gateway describes its caller and calls to the policy.
pub struct Settings {
    /// `--config`: tools are `NAME__tool`, for the client and the policy alike.
    pub namespaced: bool,
    /// `--filter-tools`: `tools/list` shows only the tools the bundle declares (aarm names).
    pub declared: Option<HashSet<String>>,
    /// `identity` of every request (agent, human, session).
    pub identity: Map<String, Value>,
    /// `context` of every request, from `--context` (`prior_actions` is the gateway's).
    pub context: Map<String, Value>,
}

enum Event {
    Client(Frame),
    ClientClosed,
    Upstream(FromUpstream),
}

/// What an answer from upstream is for.
enum Waiting {
    /// Hand it to the client under its own id.
    Forward { client_id: Value },
    /// One part of an answer gathered from every server (`initialize`, `tools/list`).
    Part { gather: u64 },
}

struct Gather {
    client_id: Value,
    method: String,
    left: usize,
    parts: Vec<(usize, Value)>,
}

struct Shared {
    out: Mutex<std::io::Stdout>,
    /// Upstream id (ours) → (server index, what it is for).
    pending: Mutex<HashMap<String, (usize, Waiting)>>,
    next: Mutex<u64>,
    /// The session's decided calls, oldest first, for `context.prior_actions`.
    history: Mutex<Vec<Value>>,
    /// Calls waiting for a decision, by the client's id: their cancellation flags.
    deciding: Mutex<HashMap<String, Arc<AtomicBool>>>,
}

impl Shared {
    fn send_client(&self, message: &Value) {
        if let Ok(mut out) = self.out.lock() {
            let _ = jsonrpc::write_message(&mut *out, message);
        }
    }

    fn fresh_id(&self, prefix: &str) -> String {
        let mut n = self.next.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        *n += 1;
        format!("{prefix}{n}")
    }
}

/// Calls being decided at once (each has a thread, and may wait for a person); past it a call is
/// answered with an error, never queued unbounded.
pub const MAX_DECIDING: usize = 256;

/// Requests waiting for an answer in each direction (client → servers, servers → client); past
/// it a new one is answered with an error, so that a peer that never answers cannot grow them.
pub const MAX_PENDING: usize = 4096;

fn key(id: &Value) -> String {
    id.to_string()
}

/// A tool result that tells the agent its call was refused, and why.
pub fn refusal(code: &str, message: &str) -> Value {
    json!({
        "content": [{ "type": "text", "text": format!("aarm refused this call ({code}): {message}") }],
        "isError": true,
        "_meta": { "aarm": { "decision": "deny", "code": code } }
    })
}

pub fn run(servers: &[ServerSpec], settings: Settings, decider: Arc<dyn Decider>) -> Result<u8, String> {
    let (tx, rx) = channel::<Event>();
    let (up_tx, up_rx) = channel::<FromUpstream>();
    let mut upstreams = Vec::new();
    for (i, s) in servers.iter().enumerate() {
        upstreams.push(Upstream::spawn(&s.name, &s.argv, i, up_tx.clone()).map_err(|e| e.to_string())?);
    }
    drop(up_tx);
    let writers: Vec<UpstreamWriter> = upstreams.iter().map(Upstream::writer).collect();
    let mut alive: Vec<bool> = vec![true; upstreams.len()];
    {
        let tx = tx.clone();
        std::thread::spawn(move || {
            for m in up_rx {
                if tx.send(Event::Upstream(m)).is_err() {
                    return;
                }
            }
        });
    }
    std::thread::spawn(move || {
        let mut stdin = std::io::BufReader::new(std::io::stdin());
        while let Ok(Some(frame)) = jsonrpc::read_frame(&mut stdin) {
            if tx.send(Event::Client(frame)).is_err() {
                return;
            }
        }
        let _ = tx.send(Event::ClientClosed);
    });
    let shared = Arc::new(Shared {
        out: Mutex::new(std::io::stdout()),
        pending: Mutex::new(HashMap::new()),
        next: Mutex::new(0),
        history: Mutex::new(Vec::new()),
        deciding: Mutex::new(HashMap::new()),
    });
    let settings = Arc::new(settings);
    let mut gathers: HashMap<u64, Gather> = HashMap::new();
    let mut next_gather = 0u64;
    // Requests from a server to the client: our id → (server, its id).
    let mut to_client: HashMap<String, (usize, Value)> = HashMap::new();
    let names: Vec<String> = servers.iter().map(|s| s.name.clone()).collect();

    for event in rx {
        match event {
            Event::ClientClosed => return Ok(super::super::exit::OK),
            Event::Client(Frame::TooLong) => {
                crate::errln!(
                    "aarm mcp proxy: a message from the client is longer than {} bytes; skipped",
                    jsonrpc::MAX_MESSAGE_BYTES
                );
                shared.send_client(&jsonrpc::error(&Value::Null, code::INVALID_REQUEST, "message too long"));
            }
            Event::Client(Frame::Malformed(why)) => {
                shared.send_client(&jsonrpc::error(&Value::Null, code::PARSE_ERROR, why));
            }
            Event::Client(Frame::Message(m)) => match kind(&m) {
                Kind::Invalid(why) => {
                    let id = m.get("id").cloned().unwrap_or(Value::Null);
                    shared.send_client(&jsonrpc::error(&id, code::INVALID_REQUEST, why));
                }
                Kind::Request { id, method } => {
                    let params = m.get("params").cloned().unwrap_or(json!({}));
                    let waiting = shared.pending.lock().map_or(MAX_PENDING, |p| p.len());
                    match method {
                        _ if waiting >= MAX_PENDING && method != "ping" => {
                            shared.send_client(&jsonrpc::error(
                                id,
                                code::UPSTREAM,
                                format!("{MAX_PENDING} requests already wait for a server's answer; try again later"),
                            ))
                        }
                        "tools/call" => start_call(&shared, &settings, &decider, &writers, &alive, &names, id, &params),
                        "ping" => shared.send_client(&jsonrpc::result(id, json!({}))),
                        "initialize" | "tools/list" => {
                            next_gather += 1;
                            let live: Vec<usize> = (0..writers.len()).filter(|i| alive.get(*i) == Some(&true)).collect();
                            gathers.insert(
                                next_gather,
                                Gather { client_id: id.clone(), method: method.to_string(), left: live.len(), parts: Vec::new() },
                            );
                            for i in &live {
                                let up_id = shared.fresh_id("aarm-");
                                if let Ok(mut p) = shared.pending.lock() {
                                    p.insert(key(&json!(up_id)), (*i, Waiting::Part { gather: next_gather }));
                                }
                                if let Some(w) = writers.get(*i) {
                                    let _ = w.send(&jsonrpc::request(&json!(up_id), method, params.clone()));
                                }
                            }
                            finish_gather_if_done(&shared, &settings, &mut gathers, next_gather, &names);
                        }
                        _ if writers.len() == 1 && alive.first() == Some(&true) => {
                            let up_id = shared.fresh_id("aarm-");
                            if let Ok(mut p) = shared.pending.lock() {
                                p.insert(key(&json!(up_id)), (0, Waiting::Forward { client_id: id.clone() }));
                            }
                            if let Some(w) = writers.first() {
                                let _ = w.send(&jsonrpc::request(&json!(up_id), method, params));
                            }
                        }
                        _ => shared.send_client(&jsonrpc::error(
                            id,
                            code::METHOD_NOT_FOUND,
                            format!("`{method}` is not passed through by a gateway in front of several servers (tools only)"),
                        )),
                    }
                }
                Kind::Notification { method } => {
                    if method == "notifications/cancelled" {
                        cancel(&shared, &writers, m.get("params"));
                    } else {
                        let message = Value::Object(m.clone());
                        for (i, w) in writers.iter().enumerate() {
                            if alive.get(i) == Some(&true) {
                                let _ = w.send(&message);
                            }
                        }
                    }
                }
                Kind::Response { id } => match to_client.remove(&key(id)) {
                    Some((i, original)) => {
                        let mut answer = m.clone();
                        answer.insert("id".into(), original);
                        if let Some(w) = writers.get(i) {
                            let _ = w.send(&Value::Object(answer));
                        }
                    }
                    None => {
                        crate::errln!("aarm mcp proxy: the client answered an id nobody asked with ({id}); dropped")
                    }
                },
            },
            Event::Upstream(FromUpstream::Closed(i)) => {
                if let Some(a) = alive.get_mut(i) {
                    *a = false;
                }
                let name = names.get(i).cloned().unwrap_or_default();
                crate::errln!("aarm mcp proxy: the server `{name}` has exited");
                let orphans: Vec<(String, Waiting)> = match shared.pending.lock() {
                    Ok(mut p) => {
                        let ks: Vec<String> = p.iter().filter(|(_, (u, _))| *u == i).map(|(k, _)| k.clone()).collect();
                        ks.into_iter().filter_map(|k| p.remove(&k).map(|(_, w)| (k, w))).collect()
                    }
                    Err(_) => Vec::new(),
                };
                for (_, waiting) in orphans {
                    match waiting {
                        Waiting::Forward { client_id } => shared.send_client(&jsonrpc::error(
                            &client_id,
                            code::UPSTREAM,
                            format!("the server `{name}` exited before answering"),
                        )),
                        Waiting::Part { gather } => {
                            if let Some(g) = gathers.get_mut(&gather) {
                                g.left = g.left.saturating_sub(1);
                            }
                            finish_gather_if_done(&shared, &settings, &mut gathers, gather, &names);
                        }
                    }
                }
                if alive.iter().all(|a| !a) {
                    crate::errln!("aarm mcp proxy: no server is left; stopping");
                    return Ok(super::super::exit::FAILED);
                }
            }
            Event::Upstream(FromUpstream::Frame(i, frame)) => {
                let name = names.get(i).cloned().unwrap_or_default();
                let m = match frame {
                    Frame::Message(m) => m,
                    Frame::TooLong => {
                        crate::errln!("aarm mcp proxy: `{name}` sent a message past the size limit; dropped");
                        continue;
                    }
                    Frame::Malformed(why) => {
                        crate::errln!("aarm mcp proxy: `{name}` sent something that is not JSON-RPC ({why}); dropped");
                        continue;
                    }
                };
                match kind(&m) {
                    Kind::Response { id } => {
                        let found = shared.pending.lock().ok().and_then(|mut p| match p.get(&key(id)) {
                            Some((u, _)) if *u == i => p.remove(&key(id)).map(|(_, w)| w),
                            _ => None,
                        });
                        match found {
                            Some(Waiting::Forward { client_id }) => {
                                let mut answer = m.clone();
                                answer.insert("id".into(), client_id);
                                shared.send_client(&Value::Object(answer));
                            }
                            Some(Waiting::Part { gather }) => {
                                if let Some(g) = gathers.get_mut(&gather) {
                                    g.left = g.left.saturating_sub(1);
                                    g.parts.push((i, Value::Object(m.clone())));
                                }
                                finish_gather_if_done(&shared, &settings, &mut gathers, gather, &names);
                            }
                            None => crate::errln!(
                                "aarm mcp proxy: `{name}` answered an id it was not asked with ({id}); dropped"
                            ),
                        }
                    }
                    Kind::Request { id, .. } if to_client.len() >= MAX_PENDING => {
                        if let Some(w) = writers.get(i) {
                            let _ = w.send(&jsonrpc::error(
                                id,
                                code::UPSTREAM,
                                format!("{MAX_PENDING} requests already wait for the client's answer"),
                            ));
                        }
                    }
                    Kind::Request { id, .. } => {
                        let ours = shared.fresh_id("aarm-s-");
                        to_client.insert(key(&json!(ours)), (i, id.clone()));
                        let mut ask = m.clone();
                        ask.insert("id".into(), json!(ours));
                        shared.send_client(&Value::Object(ask));
                    }
                    Kind::Notification { .. } => shared.send_client(&Value::Object(m.clone())),
                    Kind::Invalid(why) => {
                        crate::errln!("aarm mcp proxy: `{name}` sent an invalid message ({why}); dropped")
                    }
                }
            }
        }
    }
    Ok(super::super::exit::OK)
}

/// Answers a gathered request once every live server has answered (or exited).
fn finish_gather_if_done(
    shared: &Shared,
    settings: &Settings,
    gathers: &mut HashMap<u64, Gather>,
    id: u64,
    names: &[String],
) {
    let done = gathers.get(&id).is_some_and(|g| g.left == 0);
    if !done {
        return;
    }
    let Some(g) = gathers.remove(&id) else { return };
    // A single server's error is the client's answer as it is.
    if let [(_, only)] = g.parts.as_slice() {
        if only.get("error").is_some() || (g.method == "initialize" && !settings.namespaced) {
            let mut answer = only.clone();
            if let Some(o) = answer.as_object_mut() {
                o.insert("id".into(), g.client_id.clone());
            }
            shared.send_client(&answer);
            return;
        }
    }
    let results: Vec<(usize, &Value)> = g.parts.iter().filter_map(|(i, p)| p.get("result").map(|r| (*i, r))).collect();
    if results.is_empty() {
        shared.send_client(&jsonrpc::error(&g.client_id, code::UPSTREAM, format!("no server answered `{}`", g.method)));
        return;
    }
    let answer = if g.method == "initialize" {
        let version = results
            .first()
            .and_then(|(_, r)| r.get("protocolVersion"))
            .cloned()
            .unwrap_or(json!(super::session::PROTOCOL_VERSION));
        json!({
            "protocolVersion": version,
            "capabilities": { "tools": { "listChanged": true } },
            "serverInfo": { "name": "aarm mcp proxy", "version": env!("CARGO_PKG_VERSION") },
            "instructions": format!("Tools of the servers {}, named SERVER__tool.", names.join(", "))
        })
    } else {
        let mut tools = Vec::new();
        let mut next_cursor = None;
        for (i, r) in &results {
            let server = names.get(*i).map(String::as_str).unwrap_or_default();
            for t in r.get("tools").and_then(Value::as_array).into_iter().flatten() {
                let Some(name) = t.get("name").and_then(Value::as_str) else { continue };
                let shown = if settings.namespaced { namespaced(server, name) } else { name.to_string() };
                if settings.declared.as_ref().is_some_and(|d| !d.contains(&tool_name(&shown))) {
                    continue;
                }
                let mut t = t.clone();
                if let Some(o) = t.as_object_mut() {
                    o.insert("name".into(), json!(shown));
                }
                tools.push(t);
            }
            // Paging passes through for one server; several servers' cursors cannot be merged.
            if !settings.namespaced {
                next_cursor = r.get("nextCursor").cloned();
            }
        }
        let mut result = json!({ "tools": tools });
        if let (Some(c), Some(o)) = (next_cursor, result.as_object_mut()) {
            o.insert("nextCursor".into(), c);
        }
        result
    };
    shared.send_client(&jsonrpc::result(&g.client_id, answer));
}

/// `notifications/cancelled` from the client: a call still being decided stops waiting (its case
/// is cancelled); a forwarded one is cancelled upstream under the gateway's id.
fn cancel(shared: &Shared, writers: &[UpstreamWriter], params: Option<&Value>) {
    let Some(request_id) = params.and_then(|p| p.get("requestId")) else { return };
    if let Some(flag) = shared.deciding.lock().ok().and_then(|d| d.get(&key(request_id)).cloned()) {
        flag.store(true, std::sync::atomic::Ordering::SeqCst);
    }
    let forwarded = shared.pending.lock().ok().and_then(|p| {
        p.iter().find_map(|(k, (i, w))| match w {
            Waiting::Forward { client_id } if client_id == request_id => Some((k.clone(), *i)),
            _ => None,
        })
    });
    if let Some((ours, i)) = forwarded {
        if let (Ok(id), Some(w)) = (serde_json::from_str::<Value>(&ours), writers.get(i)) {
            let _ = w.send(&jsonrpc::notification("notifications/cancelled", json!({ "requestId": id })));
        }
    }
}

/// The request the policy decides for one call (docs/json.md), and the MCP names of its
/// arguments by aarm name; or a refusal when the call cannot be described.
fn describe(
    settings: &Settings,
    history: Option<Vec<Value>>,
    name: &str,
    arguments: &Map<String, Value>,
) -> Result<(Value, HashMap<String, String>), (String, String)> {
    let mut params = Map::new();
    let mut original = HashMap::new();
    for (k, v) in arguments {
        let aarm = field_name(k);
        if let Some(other) = original.insert(aarm.clone(), k.clone()) {
            return Err((
                codes::AMBIGUOUS_ARGUMENTS.into(),
                format!("the arguments `{other}` and `{k}` are both `{aarm}` to the policy"),
            ));
        }
        params.insert(aarm, v.clone());
    }
    let mut context = settings.context.clone();
    if let Some(h) = history {
        context.insert("prior_actions".into(), Value::Array(h));
    }
    let request = json!({
        "action": { "tool": tool_name(name), "params": params },
        "identity": settings.identity,
        "context": context,
    });
    Ok((request, original))
}

#[allow(clippy::too_many_arguments)]
fn start_call(
    shared: &Arc<Shared>,
    settings: &Arc<Settings>,
    decider: &Arc<dyn Decider>,
    writers: &[UpstreamWriter],
    alive: &[bool],
    names: &[String],
    id: &Value,
    params: &Value,
) {
    let Some(name) = params.get("name").and_then(Value::as_str).map(str::to_string) else {
        shared.send_client(&jsonrpc::error(id, -32602, "`tools/call` needs a string `name`"));
        return;
    };
    let arguments = match params.get("arguments") {
        None | Some(Value::Null) => Map::new(),
        Some(Value::Object(a)) => a.clone(),
        Some(_) => {
            shared.send_client(&jsonrpc::error(id, -32602, "`arguments` must be an object"));
            return;
        }
    };
    // Where the call would go; an unknown server or one that exited is refused after the
    // decision is recorded (the receipt shows what was asked).
    let route: Option<(usize, String)> = if settings.namespaced {
        split_namespaced(&name)
            .and_then(|(server, tool)| names.iter().position(|n| n == server).map(|i| (i, tool.to_string())))
    } else {
        Some((0, name.clone()))
    };
    let route = route.filter(|(i, _)| alive.get(*i) == Some(&true));
    let writer = route.as_ref().and_then(|(i, _)| writers.get(*i).cloned());
    let progress_token = params.pointer("/_meta/progressToken").cloned();
    let meta = params.get("_meta").cloned();
    let flag = Arc::new(AtomicBool::new(false));
    {
        let Ok(mut d) = shared.deciding.lock() else {
            shared.send_client(&jsonrpc::error(id, code::UPSTREAM, "the gateway's state is poisoned"));
            return;
        };
        // A second call under the id of one still waiting could not be told apart from it (its
        // answer, its cancellation).
        if d.contains_key(&key(id)) {
            shared.send_client(&jsonrpc::error(
                id,
                code::INVALID_REQUEST,
                "a call with this id is still being decided",
            ));
            return;
        }
        if d.len() >= MAX_DECIDING {
            shared.send_client(&jsonrpc::error(
                id,
                code::UPSTREAM,
                format!("{MAX_DECIDING} calls are already waiting for a decision; try again later"),
            ));
            return;
        }
        d.insert(key(id), flag.clone());
    }
    let (shared, settings, decider, id) = (shared.clone(), settings.clone(), decider.clone(), id.clone());
    std::thread::spawn(move || {
        let history = if decider.wants_history() { shared.history.lock().ok().map(|h| h.clone()) } else { None };
        let outcome = match describe(&settings, history, &name, &arguments) {
            Err((code, message)) => Outcome::Refuse { code, message },
            Ok((request, original)) => {
                let mut progress = |n: u64, message: &str| {
                    if let Some(token) = &progress_token {
                        shared.send_client(&jsonrpc::notification(
                            "notifications/progress",
                            json!({ "progressToken": token, "progress": n, "message": message }),
                        ));
                    }
                };
                match decider.decide(&request, &mut progress, &flag) {
                    Outcome::Forward { params, decision } => {
                        // Back to the server's own argument names.
                        let args: Map<String, Value> =
                            params.into_iter().map(|(k, v)| (original.get(&k).cloned().unwrap_or(k), v)).collect();
                        Outcome::Forward { params: args, decision }
                    }
                    refused => refused,
                }
            }
        };
        if let Ok(mut d) = shared.deciding.lock() {
            d.remove(&key(&id));
        }
        let decision = match &outcome {
            Outcome::Forward { decision, .. } => decision.clone(),
            Outcome::Refuse { .. } => "deny".to_string(),
        };
        if let Ok(mut h) = shared.history.lock() {
            h.push(json!({ "tool": tool_name(&name), "decision": decision }));
        }
        match (outcome, route, writer) {
            (Outcome::Refuse { code, message }, _, _) => {
                shared.send_client(&jsonrpc::result(&id, refusal(&code, &message)))
            }
            (Outcome::Forward { .. }, None, _) | (Outcome::Forward { .. }, _, None) => shared.send_client(
                &jsonrpc::result(&id, refusal(codes::NO_SERVER, &format!("no running server provides `{name}`"))),
            ),
            (Outcome::Forward { params, .. }, Some((i, tool)), Some(w)) => {
                let up_id = shared.fresh_id("aarm-");
                if let Ok(mut p) = shared.pending.lock() {
                    p.insert(key(&json!(up_id)), (i, Waiting::Forward { client_id: id.clone() }));
                }
                let mut call = json!({ "name": tool, "arguments": params });
                if let (Some(m), Some(o)) = (meta, call.as_object_mut()) {
                    o.insert("_meta".into(), m);
                }
                if w.send(&jsonrpc::request(&json!(up_id), "tools/call", call)).is_err() {
                    if let Ok(mut p) = shared.pending.lock() {
                        p.remove(&key(&json!(up_id)));
                    }
                    shared.send_client(&jsonrpc::error(&id, code::UPSTREAM, "the server could not be reached"));
                }
            }
        }
    });
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn settings() -> Settings {
        Settings { namespaced: false, declared: None, identity: Map::new(), context: Map::new() }
    }

    #[test]
    fn arguments_that_collide_are_refused() {
        let args = json!({"a-b": 1, "a_b": 2});
        let got = describe(&settings(), None, "t", args.as_object().unwrap());
        assert_eq!(got.unwrap_err().0, codes::AMBIGUOUS_ARGUMENTS);
    }

    #[test]
    fn names_are_mapped_and_history_is_the_context() {
        let args = json!({"dry-run": true});
        let (req, original) = describe(
            &settings(),
            Some(vec![json!({"tool": "x", "decision": "deny"})]),
            "edit-file",
            args.as_object().unwrap(),
        )
        .unwrap();
        assert_eq!(req["action"]["tool"], "edit_file");
        assert_eq!(req["action"]["params"]["dry_run"], true);
        assert_eq!(req["context"]["prior_actions"][0]["decision"], "deny");
        assert_eq!(original["dry_run"], "dry-run");
    }
}

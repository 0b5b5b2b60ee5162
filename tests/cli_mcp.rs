//! `aarm mcp` against real MCP software: the official TypeScript SDK's client (tests/mcp/
//! client.mjs) drives `aarm mcp proxy` in front of the reference filesystem server
//! (@modelcontextprotocol/server-filesystem), both at the versions tests/mcp/package-lock.json
//! pins. Decisions come from examples/mcp_filesystem, cases are on a real SQLite store, and
//! approvals and timeouts are given with the real `aarm case` commands.
//!
//! Without node or the packages (`npm ci --prefix tests/mcp`) the tests skip loudly, unless
//! `AARM_REQUIRE_MCP=1` or `CI=true` (`.ci/run` sets both), where they fail instead.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]

mod common;
use common::{aarm, http_json, root, Served};
use serde_json::{json, Value};
use std::ffi::OsStr;
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

/// How long anything may take before the test gives up: far beyond what any step needs.
const WAIT_BOUND: Duration = Duration::from_secs(120);

fn mcp_dir() -> PathBuf {
    root().join("tests/mcp")
}

fn filesystem_server() -> PathBuf {
    mcp_dir().join("node_modules/@modelcontextprotocol/server-filesystem/dist/index.js")
}

/// Whether the real MCP software is here for the calling test; panics where it must be (CI).
fn available() -> bool {
    // The test harness runs each test on a thread named after it.
    let thread = std::thread::current();
    let test = thread.name().unwrap_or("a test");
    let node = Command::new("node").arg("--version").output().is_ok_and(|o| o.status.success());
    let packages = filesystem_server().exists() && mcp_dir().join("node_modules/@modelcontextprotocol/sdk").exists();
    if node && packages {
        return true;
    }
    let required =
        std::env::var("AARM_REQUIRE_MCP").is_ok_and(|v| v == "1") || std::env::var("CI").is_ok_and(|v| v == "true");
    assert!(!required, "node or the MCP packages are missing: npm ci --prefix tests/mcp (node found: {node})");
    eprintln!("\n!!! SKIPPED {test}: node or the MCP packages are missing (npm ci --prefix tests/mcp) !!!\n");
    false
}

/// A scratch directory with the example's bundle, a store path and the server's root.
struct World {
    dir: common::Scratch,
    bundle: PathBuf,
    store: PathBuf,
    files: PathBuf,
}

fn world(name: &str, policy: &Path) -> World {
    let dir = common::scratch("mcp", name);
    let bundle = dir.join("policy.aarmb");
    let out = aarm().arg("build").arg(policy).arg("-o").arg(&bundle).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let files = dir.join("files");
    std::fs::create_dir_all(&files).unwrap();
    std::fs::write(files.join("notes.txt"), "the notes\n").unwrap();
    World { store: dir.join("cases.db"), bundle, files, dir }
}

fn example_world(name: &str) -> World {
    world(name, &root().join("examples/mcp_filesystem"))
}

/// A world with a policy of its own (`text`), built from a scratch directory of its own.
fn policy_world(name: &str, text: &str) -> World {
    let dir = common::scratch("mcp", &format!("{name}-src"));
    let src = dir.join("policy");
    std::fs::create_dir_all(&src).unwrap();
    std::fs::write(src.join("policy.aarm"), text).unwrap();
    world(name, &src)
}

/// The command line `aarm mcp proxy OPTIONS… [-- UPSTREAM…]`.
fn proxy_command(options: &[String], upstream: &[String]) -> Vec<String> {
    let mut argv = vec![env!("CARGO_BIN_EXE_aarm").to_string(), "mcp".into(), "proxy".into()];
    argv.extend_from_slice(options);
    if !upstream.is_empty() {
        argv.push("--".into());
        argv.extend_from_slice(upstream);
    }
    argv
}

impl World {
    /// `--bundle BUNDLE --store STORE EXTRA…`.
    fn bundle_and_store(&self, extra: &[&str]) -> Vec<String> {
        let mut options = vec![
            "--bundle".into(),
            self.bundle.display().to_string(),
            "--store".into(),
            self.store.display().to_string(),
        ];
        options.extend(extra.iter().map(|s| s.to_string()));
        options
    }

    /// `node server-filesystem FILES`: the reference server on this world's files.
    fn filesystem_server(&self) -> Vec<String> {
        vec!["node".into(), filesystem_server().display().to_string(), self.files.display().to_string()]
    }

    /// `aarm mcp proxy --bundle --store EXTRA… -- node server-filesystem FILES`.
    fn proxy(&self, extra: &[&str]) -> Vec<String> {
        proxy_command(&self.bundle_and_store(extra), &self.filesystem_server())
    }

    fn path(&self, name: &str) -> String {
        self.files.join(name).display().to_string()
    }

    fn case(&self, args: &[&str]) -> Output {
        aarm().arg("case").args(args).arg("--store").arg(&self.store).output().unwrap()
    }

    /// The first pending case, once there is one (bounded by WAIT_BOUND); `client` (the SDK
    /// client, or the proxy itself) must not end before.
    fn wait_for_pending_case(&self, client: &mut Child) -> Value {
        let start = Instant::now();
        loop {
            if self.store.exists() {
                let out = self.case(&["list", "--pending"]);
                if let Some(line) = String::from_utf8_lossy(&out.stdout).lines().next() {
                    return serde_json::from_str(line).unwrap();
                }
            }
            if let Some(status) = client.try_wait().unwrap() {
                panic!("{status} before a case was opened");
            }
            assert!(start.elapsed() < WAIT_BOUND, "no case was opened");
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Starts the SDK client on a `write_file` of `content` to `file` through the proxy (a
    /// step-up in the example policy), and waits for the case it opens: the client and the case.
    fn pending_write(&self, file: &str, content: &str) -> (Child, Value) {
        let args = json!({ "path": self.path(file), "content": content });
        let mut c = client(&["call", "write_file", &args.to_string()], &self.proxy(&[]));
        let case = self.wait_for_pending_case(&mut c);
        (c, case)
    }
}

/// Starts the SDK client on `verb` with `server` as the MCP server command line.
fn client(verb: &[&str], server: &[String]) -> Child {
    client_with_env(verb, server, &[])
}

/// [`client`], with `env` added to its environment.
fn client_with_env(verb: &[&str], server: &[String], env: &[(&str, &OsStr)]) -> Child {
    Command::new("node")
        .arg(mcp_dir().join("client.mjs"))
        .args(verb)
        .arg("--")
        .args(server)
        .envs(env.iter().copied())
        .current_dir(mcp_dir())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

/// The client's JSON output, once it ends (bounded by WAIT_BOUND).
fn finish(mut child: Child) -> Value {
    let start = Instant::now();
    while child.try_wait().unwrap().is_none() {
        if start.elapsed() > WAIT_BOUND {
            let _ = child.kill();
            panic!("the client did not finish");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let out = child.wait_with_output().unwrap();
    serde_json::from_slice(&out.stdout).unwrap_or_else(|_| {
        panic!("client stdout={} stderr={}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr))
    })
}

fn call(w: &World, tool: &str, args: Value, extra: &[&str]) -> Value {
    finish(client(&["call", tool, &args.to_string()], &w.proxy(extra)))
}

fn text(result: &Value) -> String {
    result["result"]["content"][0]["text"].as_str().unwrap_or_default().to_string()
}

/// The names of the tools a `list` gave.
fn tool_names(listed: &Value) -> Vec<&str> {
    listed["tools"].as_array().unwrap().iter().map(|t| t["name"].as_str().unwrap()).collect()
}

/// `aarm check` accepts `tools` (an imported tools file) as `dir`/tools.aarm.
fn assert_checks_as_tools_file(dir: &Path, tools: &str) {
    std::fs::write(dir.join("tools.aarm"), tools).unwrap();
    let check = aarm().arg("check").arg(dir.join("tools.aarm")).output().unwrap();
    assert!(check.status.success(), "{}", String::from_utf8_lossy(&check.stderr));
}

#[test]
fn an_allowed_read_returns_the_file() {
    if !available() {
        return;
    }
    let w = example_world("read");
    let got = call(&w, "read_text_file", json!({ "path": w.path("notes.txt") }), &[]);
    assert_eq!(text(&got), "the notes\n", "{got}");
    assert_ne!(got["result"]["isError"], true);
    // The decision left its receipt in the store.
    let out = aarm().args(["receipts", "export", "--store"]).arg(&w.store).output().unwrap();
    let receipts = String::from_utf8_lossy(&out.stdout);
    assert!(receipts.contains(r#""event":"decide""#) && receipts.contains("mcp_filesystem.reads"), "{receipts}");
}

#[test]
fn a_denied_write_is_an_error_with_the_reason_and_nothing_is_written() {
    if !available() {
        return;
    }
    let w = example_world("deny");
    let got = call(&w, "write_file", json!({ "path": w.path(".env"), "content": "TOKEN=stolen" }), &[]);
    assert_eq!(got["result"]["isError"], true, "{got}");
    assert!(text(&got).contains("fs.secret") && text(&got).contains("holds credentials"), "{got}");
    assert!(!w.files.join(".env").exists());
}

#[test]
fn a_step_up_write_waits_for_an_approval_then_writes() {
    if !available() {
        return;
    }
    let w = example_world("approve");
    let (mut c, case) = w.pending_write("report.txt", "approved text");
    assert_eq!(case["request"]["action"]["tool"], "write_file");
    // Blocked: the file is not there while the case is pending, and the call has not returned.
    assert!(!w.files.join("report.txt").exists());
    assert!(c.try_wait().unwrap().is_none());
    let id = case["id"].as_str().unwrap();
    let out = w.case(&["approve", id, "--by", "lead@corp.com"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let got = finish(c);
    assert_ne!(got["result"]["isError"], true, "{got}");
    assert!(got["progress"].as_u64().unwrap() >= 1, "the client heard no progress while it waited: {got}");
    assert_eq!(std::fs::read_to_string(w.files.join("report.txt")).unwrap(), "approved text");
}

#[test]
fn a_step_up_write_nobody_approves_is_refused_at_its_timeout() {
    if !available() {
        return;
    }
    let w = example_world("timeout");
    let (c, _) = w.pending_write("late.txt", "too late");
    // Time moves past the policy's 10 minutes: the store's clock, as an operator's tick would.
    let out = w.case(&["tick", "--now", "2100-01-01T00:00:00Z"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let got = finish(c);
    assert_eq!(got["result"]["isError"], true, "{got}");
    assert!(text(&got).contains("timeout"), "{got}");
    assert!(!w.files.join("late.txt").exists());
}

#[test]
fn a_modify_forwards_the_modified_arguments() {
    if !available() {
        return;
    }
    let w = example_world("modify");
    std::fs::write(w.files.join("key.pem"), "x").unwrap();
    std::fs::write(w.files.join("b.txt"), "x").unwrap();
    // The agent asks for everything; the policy adds the secret patterns to the exclusions.
    let got = call(&w, "search_files", json!({ "path": w.files.display().to_string(), "pattern": "**/*" }), &[]);
    let found = text(&got);
    assert!(found.contains("b.txt") && !found.contains("key.pem"), "{got}");
}

#[test]
fn tools_the_bundle_does_not_declare_are_hidden_and_denied_by_default() {
    if !available() {
        return;
    }
    let w = policy_world(
        "undeclared",
        "policy p version \"1\"\nsettings { default deny }\ntool read_text_file { path: String, head: Decimal?, tail: Decimal? }\nrule r on read_text_file { allow }\n",
    );
    let listed = finish(client(&["list"], &w.proxy(&["--filter-tools"])));
    assert_eq!(tool_names(&listed), ["read_text_file"]);
    let got = call(&w, "write_file", json!({ "path": w.path("x.txt"), "content": "x" }), &[]);
    assert_eq!(got["result"]["isError"], true, "{got}");
    assert!(text(&got).contains("default.deny"), "{got}");
    assert!(!w.files.join("x.txt").exists());
}

#[test]
fn several_servers_from_a_config_file_have_namespaced_tools() {
    if !available() {
        return;
    }
    let w = policy_world(
        "config",
        "policy p version \"1\"\nsettings { default deny }\ntool docs__read_text_file { path: String, head: Decimal?, tail: Decimal? }\nrule r on docs__read_text_file { allow }\n",
    );
    let other = w.dir.join("other");
    std::fs::create_dir_all(&other).unwrap();
    std::fs::write(other.join("secret.txt"), "not for the agent").unwrap();
    let fs = filesystem_server().display().to_string();
    let config = w.dir.join("mcp.toml");
    std::fs::write(
        &config,
        format!(
            "[servers.docs]\ncommand = [\"node\", {fs:?}, {:?}]\n[servers.other]\ncommand = [\"node\", {fs:?}, {:?}]\n",
            w.files.display().to_string(),
            other.display().to_string()
        ),
    )
    .unwrap();
    let proxy =
        proxy_command(&[vec!["--config".into(), config.display().to_string()], w.bundle_and_store(&[])].concat(), &[]);
    let listed = finish(client(&["list"], &proxy));
    let names = tool_names(&listed);
    assert!(names.contains(&"docs__read_text_file") && names.contains(&"other__read_text_file"), "{names:?}");
    let got =
        finish(client(&["call", "docs__read_text_file", &json!({ "path": w.path("notes.txt") }).to_string()], &proxy));
    assert_eq!(text(&got), "the notes\n", "{got}");
    let path = other.join("secret.txt").display().to_string();
    let got = finish(client(&["call", "other__read_text_file", &json!({ "path": path }).to_string()], &proxy));
    assert_eq!(got["result"]["isError"], true, "{got}");
    assert!(text(&got).contains("default.deny"), "{got}");
}

#[test]
fn import_of_server_filesystem_is_the_example_s_tools() {
    if !available() {
        return;
    }
    let dir = common::scratch("mcp", "import");
    let out = aarm().args(["mcp", "import", "--", "node"]).arg(filesystem_server()).arg(&dir).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let got = String::from_utf8(out.stdout).unwrap();
    let golden = std::fs::read_to_string(root().join("examples/mcp_filesystem/tools.aarm")).unwrap();
    // The second line names the command the tools were imported from.
    let body = |s: &str| s.lines().filter(|l| !l.starts_with("// from ")).collect::<Vec<_>>().join("\n");
    assert_eq!(body(&got), body(&golden), "regenerate examples/mcp_filesystem/tools.aarm (README.md, \"MCP gateway\")");
    assert_checks_as_tools_file(&dir, &got);
}

// ---- hostile input: the client and the upstream are both untrusted

/// A proxy on raw stdio (no SDK), in front of `upstream`, with the world's bundle and store.
struct Raw {
    child: Child,
    lines: std::sync::mpsc::Receiver<Value>,
}

impl Raw {
    /// Starts the proxy with `env` in its environment, and initializes the session.
    fn initialized(w: &World, upstream: &[String], env: &[(&str, &Path)]) -> Raw {
        let argv = proxy_command(&w.bundle_and_store(&[]), upstream);
        let mut child = Command::new(&argv[0])
            .args(&argv[1..])
            .envs(env.iter().copied())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        let (tx, lines) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if tx.send(serde_json::from_str(&line).unwrap_or(Value::String(line))).is_err() {
                    return;
                }
            }
        });
        let mut raw = Raw { child, lines };
        raw.initialize();
        raw
    }

    fn send(&mut self, bytes: &[u8]) {
        let stdin = self.child.stdin.as_mut().unwrap();
        stdin.write_all(bytes).unwrap();
        stdin.flush().unwrap();
    }

    fn send_json(&mut self, v: Value) {
        self.send(format!("{v}\n").as_bytes());
    }

    /// The next message with `id` (others are skipped), within WAIT_BOUND.
    fn answer(&self, id: &Value) -> Value {
        let deadline = Instant::now() + WAIT_BOUND;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            let m = self.lines.recv_timeout(left).expect("no answer from the proxy");
            if &m["id"] == id {
                return m;
            }
        }
    }

    fn initialize(&mut self) {
        self.send_json(json!({"jsonrpc": "2.0", "id": 0, "method": "initialize", "params": {
            "protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "raw", "version": "0"}}}));
        let init = self.answer(&json!(0));
        assert!(init["result"]["serverInfo"].is_object(), "{init}");
        self.send_json(json!({"jsonrpc": "2.0", "method": "notifications/initialized"}));
    }
}

impl Drop for Raw {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn echo_world(name: &str) -> World {
    policy_world(
        name,
        "policy p version \"1\"\nsettings { default deny }\ntool echo { text: String }\nrule r on echo { when params.text != \"forbidden\" allow }\n",
    )
}

fn hostile(mode: &str) -> Vec<String> {
    vec!["python3".into(), mcp_dir().join("hostile_server.py").display().to_string(), mode.into()]
}

#[test]
fn malformed_messages_get_errors_and_the_proxy_keeps_serving() {
    if !available() {
        return;
    }
    let w = echo_world("malformed");
    let log = w.dir.join("calls.log");
    let mut p = Raw::initialized(&w, &hostile("garbage"), &[("HOSTILE_LOG", &log)]);
    p.send(b"{not json\n");
    assert_eq!(p.answer(&Value::Null)["error"]["code"], -32700);
    p.send(b"[1,2]\n");
    assert_eq!(p.answer(&Value::Null)["error"]["code"], -32700);
    p.send_json(json!({"jsonrpc": "1.0", "id": 5, "method": "tools/call"}));
    assert_eq!(p.answer(&json!(5))["error"]["code"], -32600);
    p.send_json(
        json!({"jsonrpc": "2.0", "id": 6, "method": "tools/call", "params": {"name": "echo", "arguments": [1]}}),
    );
    assert_eq!(p.answer(&json!(6))["error"]["code"], -32602);
    // A line past the size limit is skipped whole, and the next one is read.
    let mut huge = vec![b'x'; 17 * 1024 * 1024];
    huge.push(b'\n');
    p.send(&huge);
    assert_eq!(p.answer(&Value::Null)["error"]["code"], -32600);
    // A call whose arguments do not fit the tool's declaration is denied, and never forwarded.
    p.send_json(json!({"jsonrpc": "2.0", "id": 7, "method": "tools/call", "params": {"name": "echo", "arguments": {"text": 7}}}));
    let got = p.answer(&json!(7));
    assert_eq!(got["result"]["isError"], true, "{got}");
    assert!(got["result"]["content"][0]["text"].as_str().unwrap().contains("input.invalid"), "{got}");
    // A decided call still goes through (past the upstream's garbage line).
    p.send_json(json!({"jsonrpc": "2.0", "id": 8, "method": "tools/call", "params": {"name": "echo", "arguments": {"text": "hi"}}}));
    assert_eq!(p.answer(&json!(8))["result"]["content"][0]["text"], "hi");
    let reached = std::fs::read_to_string(&log).unwrap();
    assert_eq!(reached.lines().count(), 1, "only the allowed call reached the server: {reached}");
}

#[test]
fn an_answer_with_another_id_is_dropped_and_a_dead_upstream_is_an_error() {
    if !available() {
        return;
    }
    let w = echo_world("wrong-id");
    let mut p = Raw::initialized(&w, &hostile("wrong_id"), &[]);
    p.send_json(json!({"jsonrpc": "2.0", "id": "a", "method": "tools/call", "params": {"name": "echo", "arguments": {"text": "hi"}}}));
    // The server's answer to "not-yours" never reaches the client; what the server sent after it
    // does (the proxy reads a server's messages in order).
    let deadline = Instant::now() + WAIT_BOUND;
    loop {
        let m = p
            .lines
            .recv_timeout(deadline.saturating_duration_since(Instant::now()))
            .expect("nothing after the wrong id");
        assert_ne!(m["id"], "not-yours", "{m}");
        assert_ne!(m["id"], "a", "the call was answered with the other id's result: {m}");
        if m["params"]["data"] == "after the wrong id" {
            break;
        }
    }
    drop(p);

    let w = echo_world("exit");
    let mut p = Raw::initialized(&w, &hostile("exit"), &[]);
    p.send_json(json!({"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": {"name": "echo", "arguments": {"text": "hi"}}}));
    let got = p.answer(&json!(1));
    assert_eq!(got["error"]["code"], -32000, "{got}");
    // With its only server gone, the proxy stops.
    let start = Instant::now();
    while p.child.try_wait().unwrap().is_none() {
        assert!(start.elapsed() < WAIT_BOUND, "the proxy kept running without a server");
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn a_call_the_policy_denies_never_reaches_the_server() {
    if !available() {
        return;
    }
    let w = echo_world("never");
    let log = w.dir.join("calls.log");
    let mut p = Raw::initialized(&w, &hostile("garbage"), &[("HOSTILE_LOG", &log)]);
    for (id, name) in [(1, "echo"), (2, "undeclared"), (3, "echo-")] {
        p.send_json(json!({"jsonrpc": "2.0", "id": id, "method": "tools/call", "params": {"name": name, "arguments": {"text": "forbidden"}}}));
        assert_eq!(p.answer(&json!(id))["result"]["isError"], true);
    }
    assert!(!log.exists(), "{}", std::fs::read_to_string(&log).unwrap_or_default());
}

// ---- --server: an `aarm serve` decides, opens the case and is approved over HTTP

struct Serve(Child);

impl Drop for Serve {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn with_server_the_service_decides_and_an_approval_over_http_releases_the_call() {
    if !available() {
        return;
    }
    let w = example_world("server");
    let config = w.dir.join("serve.toml");
    std::fs::write(
        &config,
        "[auth.agents]\n\"agent-tok\" = \"coding-agent\"\n[auth.approvers]\n\"lead-tok\" = \"lead@corp.com\"\n",
    )
    .unwrap();
    let served = Served::start(
        aarm()
            .args(["serve", "--config"])
            .arg(&config)
            .arg("--bundle")
            .arg(&w.bundle)
            .arg("--store")
            .arg(w.dir.join("served.db")),
    );
    let addr = &served.addr;
    let url = format!("http://{addr}");
    let proxy = proxy_command(&["--server".into(), url.clone()], &w.filesystem_server());
    let run = |verb: &[&str]| client_with_env(verb, &proxy, &[("AARM_TOKEN", "agent-tok".as_ref())]);
    // A read is allowed by the service.
    let got = finish(run(&["call", "read_text_file", &json!({ "path": w.path("notes.txt") }).to_string()]));
    assert_eq!(text(&got), "the notes\n", "{got}");
    // A write opens a case on the service; the lead approves it there.
    let args = json!({ "path": w.path("served.txt"), "content": "via the service" });
    let mut c = run(&["call", "write_file", &args.to_string()]);
    let start = Instant::now();
    let id = loop {
        let (_, cases) = http_json(addr, "GET", "/v1/cases?state=pending", "lead-tok", "");
        if let Some(id) = cases.as_array().and_then(|a| a.first()).and_then(|c| c["id"].as_str()) {
            break id.to_string();
        }
        if let Some(status) = c.try_wait().unwrap() {
            panic!("the client ended ({status}) before a case was opened");
        }
        assert!(start.elapsed() < WAIT_BOUND, "no case was opened on the service");
        std::thread::sleep(Duration::from_millis(100));
    };
    assert!(!w.files.join("served.txt").exists());
    let (status, case) = http_json(addr, "POST", &format!("/v1/cases/{id}/approve"), "lead-tok", "{}");
    assert_eq!(status, 200, "{case}");
    let got = finish(c);
    assert_ne!(got["result"]["isError"], true, "{got}");
    assert_eq!(std::fs::read_to_string(w.files.join("served.txt")).unwrap(), "via the service");
    // Without a token the proxy refuses to start.
    let out = aarm().args(["mcp", "proxy", "--server", &url, "--", "true"]).env_remove("AARM_TOKEN").output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("AARM_TOKEN"));
}

/// Starts tests/mcp/http_server.mjs; its port once it listens.
fn http_fixture() -> (Serve, u16) {
    let mut child = Command::new("node")
        .arg(mcp_dir().join("http_server.mjs"))
        .current_dir(mcp_dir())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut first = String::new();
    BufReader::new(child.stdout.take().unwrap()).read_line(&mut first).unwrap();
    let port = first.trim().strip_prefix("listening ").unwrap_or_else(|| panic!("{first:?}")).parse().unwrap();
    (Serve(child), port)
}

#[test]
fn import_over_streamable_http_maps_names_and_types_and_reads_every_page() {
    if !available() {
        return;
    }
    let (_server, port) = http_fixture();
    let out = aarm().args(["mcp", "import", "--url", &format!("http://127.0.0.1:{port}/mcp")]).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let got = String::from_utf8(out.stdout).unwrap();
    assert!(got.contains("tool fetch_url { url: String, max_bytes: Int?, headers: String? }"), "{got}");
    assert!(got.contains("tool test_ { value: String, label: String? }"), "{got}");
    assert!(got.contains("/// Fetch a URL.\n/// Returns the body."), "{got}");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("params.headers: an object without declared properties has no aarm type"), "{err}");
    let dir = common::scratch("mcp", "import-http");
    assert_checks_as_tools_file(&dir, &got);
}

#[test]
fn import_of_a_server_that_is_not_there_is_an_error() {
    let out = aarm().args(["mcp", "import", "--", "/nonexistent/mcp-server"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("cannot start `/nonexistent/mcp-server`"));
    // A program that is no MCP server: it ends without answering.
    let out = aarm().args(["mcp", "import", "--timeout-s", "600", "--", "true"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("exited"), "{}", String::from_utf8_lossy(&out.stderr));
}

#[test]
fn a_call_the_client_cancels_while_it_waits_is_refused_and_its_case_cancelled() {
    if !available() {
        return;
    }
    let w = example_world("cancel");
    let mut p = Raw::initialized(&w, &w.filesystem_server(), &[]);
    p.send_json(json!({"jsonrpc": "2.0", "id": 9, "method": "tools/call", "params": {
        "name": "write_file", "arguments": {"path": w.path("never.txt"), "content": "x"},
        "_meta": {"progressToken": "tok-9"}}}));
    // The first progress notification says which case the call waits for.
    let deadline = Instant::now() + WAIT_BOUND;
    let progress = loop {
        let m = p.lines.recv_timeout(deadline.saturating_duration_since(Instant::now())).expect("no progress");
        if m["method"] == "notifications/progress" {
            break m;
        }
    };
    assert_eq!(progress["params"]["progressToken"], "tok-9");
    assert!(progress["params"]["message"].as_str().unwrap().contains("case-000001"), "{progress}");
    p.send_json(
        json!({"jsonrpc": "2.0", "method": "notifications/cancelled", "params": {"requestId": 9, "reason": "user"}}),
    );
    let got = p.answer(&json!(9));
    assert_eq!(got["result"]["isError"], true, "{got}");
    assert!(got["result"]["content"][0]["text"].as_str().unwrap().contains("mcp.cancelled"), "{got}");
    let case: Value = serde_json::from_slice(&w.case(&["show", "case-000001"]).stdout).unwrap();
    assert_eq!(case["state"], "cancelled");
    assert!(!w.files.join("never.txt").exists());
}

#[test]
fn a_second_call_under_the_id_of_a_waiting_one_is_refused() {
    if !available() {
        return;
    }
    let w = example_world("same-id");
    let mut p = Raw::initialized(&w, &w.filesystem_server(), &[]);
    let call = json!({"jsonrpc": "2.0", "id": 4, "method": "tools/call", "params": {
        "name": "write_file", "arguments": {"path": w.path("a.txt"), "content": "x"}}});
    p.send_json(call.clone());
    w.wait_for_pending_case(&mut p.child);
    p.send_json(call);
    let got = p.answer(&json!(4));
    assert_eq!(got["error"]["code"], -32600, "{got}");
}

#[test]
fn a_server_s_request_to_the_client_goes_through_and_its_answer_comes_back() {
    if !available() {
        return;
    }
    // The server starts with an empty directory; the client's root is the one with the notes.
    // Only if `roots/list` went from the server through the proxy to the client, and its answer
    // back, can the server read the notes.
    let w = example_world("roots");
    let empty = w.dir.join("empty");
    std::fs::create_dir_all(&empty).unwrap();
    let server = ["node".into(), filesystem_server().display().to_string(), empty.display().to_string()];
    let args = json!({ "path": w.path("notes.txt") }).to_string();
    let proxy = proxy_command(&w.bundle_and_store(&[]), &server);
    let got =
        finish(client_with_env(&["call", "read_text_file", &args], &proxy, &[("AARM_TEST_ROOT", w.files.as_os_str())]));
    assert_eq!(text(&got), "the notes\n", "{got}");
}

#[test]
fn with_key_an_unsigned_bundle_is_refused_and_the_proxy_does_not_start() {
    let w = example_world("key");
    let key = w.dir.join("key.hex");
    assert!(aarm().arg("keygen").arg(&key).output().unwrap().status.success());
    let proxy_with_key = |bundle: &Path| {
        aarm()
            .args(["mcp", "proxy", "--bundle"])
            .arg(bundle)
            .arg("--store")
            .arg(&w.store)
            .arg("--key")
            .arg(w.dir.join("key.hex.pub"))
            .args(["--", "/nonexistent/never-started"])
            .output()
            .unwrap()
    };
    let out = proxy_with_key(&w.bundle);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("policy.aarmb") && err.contains("sign"), "{err}");
    // Signed with that key, it starts (and stops when its server cannot be started).
    let signed = w.dir.join("signed.aarmb");
    let built = aarm()
        .arg("build")
        .arg(root().join("examples/mcp_filesystem"))
        .arg("-o")
        .arg(&signed)
        .arg("--sign-key")
        .arg(&key)
        .output()
        .unwrap();
    assert!(built.status.success(), "{}", String::from_utf8_lossy(&built.stderr));
    let out = proxy_with_key(&signed);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("cannot start `/nonexistent/never-started`"), "{err}");
}

#[test]
fn a_server_that_never_answers_cannot_grow_the_proxy_s_waiting_requests() {
    if !available() {
        return;
    }
    let w = echo_world("silent");
    let mut p = Raw::initialized(&w, &hostile("silent"), &[]);
    let mut batch = String::new();
    for i in 0..4096 {
        batch.push_str(&format!("{}\n", json!({"jsonrpc": "2.0", "id": i + 100, "method": "resources/list"})));
    }
    p.send(batch.as_bytes());
    p.send_json(json!({"jsonrpc": "2.0", "id": "one-too-many", "method": "resources/list"}));
    let got = p.answer(&json!("one-too-many"));
    assert_eq!(got["error"]["code"], -32000, "{got}");
    assert!(got["error"]["message"].as_str().unwrap().contains("4096 requests already wait"), "{got}");
    // The proxy answers itself still.
    p.send_json(json!({"jsonrpc": "2.0", "id": "p", "method": "ping"}));
    assert_eq!(p.answer(&json!("p"))["result"], json!({}));
}

//! `aarm lsp` driven as an editor drives it: the real binary on stdio, JSON-RPC messages in,
//! answers and published diagnostics out.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]

mod common;

use serde_json::{json, Value};
use std::io::{BufRead, BufReader, Read, Write};
use std::path::Path;
use std::process::{Child, ChildStdin, Stdio};
use std::sync::mpsc::{channel, Receiver};
use std::time::Duration;

/// How long to wait for one message: generous, the machine may be loaded.
const WAIT: Duration = Duration::from_secs(120);

const COMMON: &str = r#"policy pay version "1.0.0"

/// Moves money between accounts.
tool transfer {
  /// How much, in the account's currency.
  amount: Decimal,
  memo: String?,
}

/// The finance team.
group finance = ["a@x.com", "b@x.com"]

/// Whether the payee was verified.
evidence payee_ok: Bool from "kyc"

/// Large amounts.
fn large(x: Decimal) -> Bool = x > 1000
"#;

// Non-ASCII before the names on line 4: `é` is one UTF-16 unit, `😀` two.
const RULES: &str = r#"policy pay version "1.0.0"

/// Big transfers need finance.
rule big on transfer {
  when "café😀".len() > 0 and large(params.amount) and evidence.payee_ok
  step_up {
    approvers 1 of finance
    timeout 1h -> deny
  }
}

test "big needs finance" {
  evidence { payee_ok: true }
  action transfer { amount: 5000 }
  expect step_up rule big
}
"#;

struct Client {
    child: Child,
    stdin: ChildStdin,
    incoming: Receiver<Value>,
    next_id: i64,
    /// Notifications received while waiting for something else.
    pending: Vec<Value>,
}

impl Client {
    fn start() -> Client {
        Client::start_with(&[])
    }

    fn start_with(env: &[(&str, &Path)]) -> Client {
        let mut child = common::aarm()
            .arg("lsp")
            .envs(env.iter().map(|(k, v)| (*k, *v)))
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let stdin = child.stdin.take().unwrap();
        let stdout = child.stdout.take().unwrap();
        let (tx, rx) = channel();
        std::thread::spawn(move || {
            let mut r = BufReader::new(stdout);
            loop {
                let mut length = 0usize;
                loop {
                    let mut line = String::new();
                    if r.read_line(&mut line).unwrap_or(0) == 0 {
                        return;
                    }
                    let line = line.trim_end();
                    if line.is_empty() {
                        break;
                    }
                    if let Some(v) = line.strip_prefix("Content-Length: ") {
                        length = v.parse().unwrap();
                    }
                }
                let mut body = vec![0; length];
                r.read_exact(&mut body).unwrap();
                if tx.send(serde_json::from_slice::<Value>(&body).unwrap()).is_err() {
                    return;
                }
            }
        });
        let mut c = Client { child, stdin, incoming: rx, next_id: 0, pending: Vec::new() };
        let init = c.request("initialize", json!({ "processId": null, "rootUri": null, "capabilities": {} }));
        assert!(init["result"]["capabilities"]["hoverProvider"].as_bool().unwrap(), "{init}");
        c.notify("initialized", json!({}));
        c
    }

    fn send_raw(&mut self, body: &[u8]) {
        write!(self.stdin, "Content-Length: {}\r\n\r\n", body.len()).unwrap();
        self.stdin.write_all(body).unwrap();
        self.stdin.flush().unwrap();
    }

    fn notify(&mut self, method: &str, params: Value) {
        let m = json!({ "jsonrpc": "2.0", "method": method, "params": params });
        self.send_raw(m.to_string().as_bytes());
    }

    fn next(&mut self) -> Value {
        self.incoming.recv_timeout(WAIT).expect("the server answered nothing")
    }

    /// Sends a request and returns the whole response (`result` or `error`).
    fn request(&mut self, method: &str, params: Value) -> Value {
        self.next_id += 1;
        let id = self.next_id;
        let m = json!({ "jsonrpc": "2.0", "id": id, "method": method, "params": params });
        self.send_raw(m.to_string().as_bytes());
        loop {
            let v = self.next();
            if v["id"] == json!(id) {
                return v;
            }
            self.pending.push(v);
        }
    }

    /// The next diagnostics published for `uri`.
    fn diagnostics(&mut self, uri: &str) -> Vec<Value> {
        if let Some(i) = self.pending.iter().position(|v| is_diagnostics_for(v, uri)) {
            let v = self.pending.remove(i);
            return v["params"]["diagnostics"].as_array().unwrap().clone();
        }
        loop {
            let v = self.next();
            if is_diagnostics_for(&v, uri) {
                return v["params"]["diagnostics"].as_array().unwrap().clone();
            }
            self.pending.push(v);
        }
    }

    fn open(&mut self, uri: &str, text: &str) {
        self.notify(
            "textDocument/didOpen",
            json!({ "textDocument": { "uri": uri, "languageId": "aarm", "version": 1, "text": text } }),
        );
    }

    fn change(&mut self, uri: &str, version: i64, text: &str) {
        self.notify(
            "textDocument/didChange",
            json!({ "textDocument": { "uri": uri, "version": version }, "contentChanges": [{ "text": text }] }),
        );
    }

    fn at(&mut self, method: &str, uri: &str, pos: Value, extra: Value) -> Value {
        let mut params = json!({ "textDocument": { "uri": uri }, "position": pos });
        if let (Some(p), Some(e)) = (params.as_object_mut(), extra.as_object()) {
            p.extend(e.clone());
        }
        self.request(method, params)
    }

    /// The text `textDocument/hover` shows at `pos` in `uri`.
    fn hover(&mut self, uri: &str, pos: Value) -> String {
        let h = self.at("textDocument/hover", uri, pos, json!({}));
        h["result"]["contents"]["value"].as_str().unwrap_or_else(|| panic!("no hover text: {h}")).to_string()
    }

    /// The labels `textDocument/completion` offers at `pos` in `uri`.
    fn completion_labels(&mut self, uri: &str, pos: Value) -> Vec<String> {
        let r = self.at("textDocument/completion", uri, pos, json!({}));
        let items = r["result"].as_array().unwrap_or_else(|| panic!("no completion items: {r}"));
        items.iter().map(|i| i["label"].as_str().unwrap().to_string()).collect()
    }

    fn shutdown(mut self) -> i32 {
        let r = self.request("shutdown", Value::Null);
        assert!(r.get("error").is_none(), "{r}");
        self.notify("exit", Value::Null);
        self.child.wait().unwrap().code().unwrap()
    }
}

fn is_diagnostics_for(v: &Value, uri: &str) -> bool {
    v["method"] == "textDocument/publishDiagnostics" && v["params"]["uri"] == uri
}

/// The LSP position (line, UTF-16 column) of the `n`th occurrence of `needle` in `text`, plus
/// `into` characters.
fn pos(text: &str, needle: &str, n: usize, into: usize) -> Value {
    let (at, _) = text.match_indices(needle).nth(n).unwrap_or_else(|| panic!("no {needle:?} #{n}"));
    let before = &text[..at];
    let line = before.matches('\n').count();
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    let col = text[line_start..at].encode_utf16().count() + needle[..into].encode_utf16().count();
    json!({ "line": line, "character": col })
}

fn bundle(name: &str) -> (common::Scratch, String, String) {
    // A canonical path (`common::scratch` makes one), as the server's URIs are.
    let dir = common::scratch("lsp", name);
    std::fs::write(dir.join("common.aarm"), COMMON).unwrap();
    std::fs::write(dir.join("rules.aarm"), RULES).unwrap();
    let uri = |f: &str| format!("file://{}", dir.join(f).display());
    let (c, r) = (uri("common.aarm"), uri("rules.aarm"));
    (dir, c, r)
}

#[test]
fn diagnostics_follow_the_buffer_at_utf16_ranges() {
    let (_dir, _common_uri, rules_uri) = bundle("diagnostics");
    let mut c = Client::start();
    let broken = RULES.replace("params.amount", "params.amout");
    c.open(&rules_uri, &broken);
    let diags = c.diagnostics(&rules_uri);
    assert_eq!(diags.len(), 1, "{diags:?}");
    let d = &diags[0];
    assert_eq!(d["code"], "E0101");
    assert_eq!(d["severity"], 1);
    assert!(d["message"].as_str().unwrap().contains("did you mean `amount`?"), "{d}");
    // `amout` after `café😀` on line 4: the column counts UTF-16 units.
    let start = pos(&broken, "amout", 0, 0);
    assert_eq!(d["range"]["start"], start);
    assert_eq!(d["range"]["end"]["character"], start["character"].as_u64().unwrap() + 5);

    // The quick fix replaces the name with the suggestion.
    let actions = c.request(
        "textDocument/codeAction",
        json!({ "textDocument": { "uri": rules_uri }, "range": d["range"], "context": { "diagnostics": [] } }),
    );
    let edit = &actions["result"][0]["edit"]["changes"][&rules_uri][0];
    assert_eq!(edit["newText"], "amount", "{actions}");
    assert_eq!(edit["range"], d["range"]);

    // The change fixes it: the file's diagnostics are cleared.
    c.change(&rules_uri, 2, RULES);
    assert_eq!(c.diagnostics(&rules_uri), Vec::<Value>::new());
    assert_eq!(c.shutdown(), 0);
}

#[test]
fn a_change_in_one_file_rechecks_the_files_that_use_it() {
    let (_dir, common_uri, rules_uri) = bundle("cross-file");
    let mut c = Client::start();
    c.open(&rules_uri, RULES);
    assert_eq!(c.diagnostics(&rules_uri), Vec::<Value>::new());
    // The unsaved buffer of common.aarm renames the evidence: rules.aarm, unchanged, now errs.
    c.open(&common_uri, COMMON);
    c.change(&common_uri, 2, &COMMON.replace("payee_ok", "payee_verified"));
    let diags = loop {
        let d = c.diagnostics(&rules_uri);
        if !d.is_empty() {
            break d;
        }
    };
    let codes: Vec<&str> = diags.iter().map(|d| d["code"].as_str().unwrap()).collect();
    assert_eq!(codes, ["E0103", "E0103"], "{diags:?}");
    assert_eq!(diags[0]["range"]["start"], pos(RULES, "payee_ok", 0, 0));
    assert_eq!(c.shutdown(), 0);
}

#[test]
fn hover_definition_references_rename_symbols() {
    let (_dir, common_uri, rules_uri) = bundle("navigation");
    let mut c = Client::start();
    c.open(&rules_uri, RULES);
    c.diagnostics(&rules_uri);

    // Hover on a parameter: the field's declaration and its `///` doc.
    let md = c.hover(&rules_uri, pos(RULES, "amount", 0, 2));
    assert!(md.contains("transfer.amount: Decimal") && md.contains("How much"), "{md}");
    // Hover on a fn call: its signature and doc.
    let md = c.hover(&rules_uri, pos(RULES, "large", 0, 1));
    assert!(md.contains("fn large(x: Decimal) -> Bool") && md.contains("Large amounts"), "{md}");
    // Hover on an expression: its type.
    let md = c.hover(&rules_uri, pos(RULES, ".len()", 0, 2));
    assert!(md.contains(": Int"), "{md}");

    // Hover on a group: its members and doc.
    let md = c.hover(&rules_uri, pos(RULES, "finance\n", 0, 1));
    assert!(md.contains(r#"group finance = ["a@x.com", "b@x.com"]"#) && md.contains("The finance team."), "{md}");

    // Definition of a group named in step_up: its declaration in the other file.
    let d = c.at("textDocument/definition", &rules_uri, pos(RULES, "finance\n", 0, 0), json!({}));
    assert_eq!(d["result"]["uri"], common_uri);
    assert_eq!(d["result"]["range"]["start"], pos(COMMON, "finance =", 0, 0));

    // References of evidence: its declaration, the rule, the test.
    let r = c.at(
        "textDocument/references",
        &rules_uri,
        pos(RULES, "payee_ok", 0, 3),
        json!({ "context": { "includeDeclaration": true } }),
    );
    let locs = r["result"].as_array().unwrap();
    assert_eq!(locs.len(), 3, "{r}");
    assert_eq!(locs.iter().filter(|l| l["uri"] == common_uri).count(), 1);

    // Rename a rule: its declaration and the test's `rule big`.
    let e = c.at("textDocument/rename", &rules_uri, pos(RULES, "big on", 0, 0), json!({ "newName": "large_transfer" }));
    let edits = e["result"]["changes"][&rules_uri].as_array().unwrap();
    assert_eq!(edits.len(), 2, "{e}");
    assert!(edits.iter().all(|t| t["newText"] == "large_transfer"));
    assert_eq!(edits[1]["range"]["start"], pos(RULES, "big\n", 0, 0));
    // A keyword is not a name; a tool is not renamed.
    let e = c.at("textDocument/rename", &rules_uri, pos(RULES, "big on", 0, 0), json!({ "newName": "allow" }));
    assert_eq!(e["error"]["code"], -32602, "{e}");
    let e = c.at("textDocument/rename", &rules_uri, pos(RULES, "transfer {", 0, 0), json!({ "newName": "x" }));
    assert_eq!(e["error"]["code"], -32602, "{e}");

    let s = c.request("textDocument/documentSymbol", json!({ "textDocument": { "uri": common_uri } }));
    let c_open = s["error"].is_null();
    // common.aarm is not open: its bundle is checked through rules.aarm's, so it answers too.
    assert!(c_open, "{s}");
    let names: Vec<&str> = s["result"].as_array().unwrap().iter().map(|s| s["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["transfer", "amount", "memo", "payee_ok", "finance", "large"]);
    assert_eq!(c.shutdown(), 0);
}

#[test]
fn completion_offers_what_fits_the_place() {
    let (_dir, _common_uri, rules_uri) = bundle("completion");
    let mut c = Client::start();
    c.open(&rules_uri, RULES);
    c.diagnostics(&rules_uri);

    // `params.` while typing (the buffer does not parse): the rule's tool's fields.
    let typing = RULES.replace("params.amount)", "params.)");
    c.change(&rules_uri, 2, &typing);
    assert_eq!(c.completion_labels(&rules_uri, pos(&typing, "params.", 0, 7)), ["amount", "memo"]);

    let typing = RULES.replace("evidence.payee_ok", "evidence.pay");
    c.change(&rules_uri, 3, &typing);
    assert_eq!(c.completion_labels(&rules_uri, pos(&typing, "evidence.pay", 0, 12)), ["payee_ok"]);

    // Methods by the receiver's type: a String's.
    let typing = RULES.replace("\"café😀\".len()", "\"café😀\".");
    c.change(&rules_uri, 4, &typing);
    let methods = c.completion_labels(&rules_uri, pos(&typing, "😀\".", 0, "😀\".".len()));
    assert!(methods.contains(&"starts_with".to_string()) && methods.contains(&"len".to_string()), "{methods:?}");

    // After `use std.`: the standard library's modules.
    let typing = RULES.replacen("\n\n", "\nuse std.\n\n", 1);
    c.change(&rules_uri, 5, &typing);
    assert_eq!(c.completion_labels(&rules_uri, pos(&typing, "use std.", 0, 8)), ["net", "risk", "text", "time"]);

    // Inside `step_up { }`: its clauses.
    c.change(&rules_uri, 6, RULES);
    let clauses = c.completion_labels(&rules_uri, pos(RULES, "    approvers", 0, 4));
    assert!(clauses.contains(&"escalate".to_string()), "{clauses:?}");
    // At the top of a rule: keywords, groups and fns.
    let all = c.completion_labels(&rules_uri, pos(RULES, "  when", 0, 2));
    assert!(["when", "finance", "large"].iter().all(|l| all.contains(&l.to_string())), "{all:?}");

    // In a test's body: its steps; after `expect`: what a test can expect.
    let typing = format!("{RULES}\ntest \"steps\" {{\n  action transfer {{ amount: 1 }}\n  exp\n  expect rec\n}}\n");
    c.change(&rules_uri, 7, &typing);
    let steps = c.completion_labels(&rules_uri, pos(&typing, "  exp\n", 0, 5));
    assert!(["action", "approve", "provide", "expect"].iter().all(|l| steps.contains(&l.to_string())), "{steps:?}");
    let expectations = c.completion_labels(&rules_uri, pos(&typing, "expect rec", 0, 10));
    assert!(
        ["modify", "cancel", "receipts", "pending"].iter().all(|l| expectations.contains(&l.to_string())),
        "{expectations:?}"
    );
    assert!(!expectations.contains(&"action".to_string()), "{expectations:?}");
    assert_eq!(c.shutdown(), 0);
}

#[test]
fn formatting_is_aarm_fmts_output() {
    let (dir, _common_uri, rules_uri) = bundle("formatting");
    let mut c = Client::start();
    let messy = RULES.replace("  when", "      when").replace("1 of finance", "1   of finance");
    c.open(&rules_uri, &messy);
    c.diagnostics(&rules_uri);
    let r = c.request(
        "textDocument/formatting",
        json!({ "textDocument": { "uri": rules_uri }, "options": { "tabSize": 2, "insertSpaces": true } }),
    );
    let edits = r["result"].as_array().unwrap();
    assert_eq!(edits.len(), 1, "{r}");
    let fmt = run_fmt_stdin(&dir, &messy);
    assert_eq!(edits[0]["newText"], fmt);
    assert_eq!(fmt, RULES);
    assert_eq!(c.shutdown(), 0);
}

fn run_fmt_stdin(dir: &Path, text: &str) -> String {
    let mut child = common::aarm()
        .args(["fmt", "-"])
        .current_dir(dir)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(text.as_bytes()).unwrap();
    String::from_utf8(child.wait_with_output().unwrap().stdout).unwrap()
}

#[test]
fn an_optional_read_gets_an_is_set_guard() {
    let (_dir, _common_uri, rules_uri) = bundle("guard");
    let mut c = Client::start();
    let text = RULES.replace("and evidence.payee_ok", "and params.memo == \"x\"");
    c.open(&rules_uri, &text);
    let diags = c.diagnostics(&rules_uri);
    let d = diags.iter().find(|d| d["code"] == "E0201").unwrap_or_else(|| panic!("{diags:?}"));
    let actions = c.request(
        "textDocument/codeAction",
        json!({ "textDocument": { "uri": rules_uri }, "range": d["range"], "context": { "diagnostics": [] } }),
    );
    let action = &actions["result"][0];
    assert_eq!(action["title"], "add an `is set` guard", "{actions}");
    let edit = &action["edit"]["changes"][&rules_uri][0];
    assert_eq!(edit["newText"], "  when params.memo is set\n");
    assert_eq!(edit["range"]["start"], json!({ "line": 4, "character": 0 }));
    assert_eq!(c.shutdown(), 0);
}

#[test]
fn hostile_messages_get_errors_and_the_server_carries_on() {
    let (_dir, _common_uri, rules_uri) = bundle("hostile");
    let mut c = Client::start();
    // Not JSON: a parse error with a null id.
    c.send_raw(b"{ not json");
    let v = c.next();
    assert_eq!(v["error"]["code"], -32700, "{v}");
    assert_eq!(v["id"], Value::Null);
    // JSON, but not a message.
    c.send_raw(b"[1, 2, 3]");
    assert_eq!(c.next()["error"]["code"], -32700);
    // An unknown method.
    let v = c.request("aarm/nothing", json!({}));
    assert_eq!(v["error"]["code"], -32601, "{v}");
    // Parameters of the wrong shape.
    let v = c.request("textDocument/hover", json!({ "textDocument": 7 }));
    assert_eq!(v["error"]["code"], -32602, "{v}");
    // Any text in a buffer: control characters, NUL, a lone `"`, an astral character.
    let junk = "policy \u{0}\u{1b}[31m \"\u{10FFFF} rule { { { ] ] ) 😀 \\u{zz}\n\r\n\t@@@";
    c.open(&rules_uri, junk);
    let diags = c.diagnostics(&rules_uri);
    assert!(!diags.is_empty());
    // A position past the end of the document, and far past the end of a line.
    let v = c.at("textDocument/hover", &rules_uri, json!({ "line": 999, "character": 0 }), json!({}));
    assert_eq!(v["error"]["code"], -32602, "{v}");
    let v = c.at("textDocument/completion", &rules_uri, json!({ "line": 0, "character": 4_000_000_000u64 }), json!({}));
    assert!(v.get("error").is_none(), "{v}");
    let v = c.at("textDocument/hover", &rules_uri, json!({ "line": 0, "character": 5 }), json!({}));
    assert!(v.get("error").is_none(), "{v}");
    // A document that is not open.
    let v = c.at("textDocument/hover", "file:///nowhere/x.aarm", json!({ "line": 0, "character": 0 }), json!({}));
    assert_eq!(v["error"]["code"], -32602, "{v}");
    // Still answering.
    let v = c.request("textDocument/documentSymbol", json!({ "textDocument": { "uri": rules_uri } }));
    assert!(v.get("error").is_none(), "{v}");
    assert_eq!(c.shutdown(), 0);
}

#[test]
fn requests_before_initialize_and_exit_without_shutdown() {
    let mut child = common::aarm().arg("lsp").stdin(Stdio::piped()).stdout(Stdio::piped()).spawn().unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let body = json!({ "jsonrpc": "2.0", "id": 1, "method": "textDocument/hover", "params": {} }).to_string();
    write!(stdin, "Content-Length: {}\r\n\r\n{body}", body.len()).unwrap();
    let body = json!({ "jsonrpc": "2.0", "method": "exit" }).to_string();
    write!(stdin, "Content-Length: {}\r\n\r\n{body}", body.len()).unwrap();
    drop(stdin);
    let out = child.wait_with_output().unwrap();
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.contains("-32002"), "{text}");
    // `exit` before `shutdown` is exit code 1, as the protocol says.
    assert_eq!(out.status.code(), Some(1));
}

#[test]
fn a_message_over_the_size_limit_is_refused_unread() {
    let mut child = common::aarm().arg("lsp").stdin(Stdio::piped()).stdout(Stdio::piped()).spawn().unwrap();
    let mut stdin = child.stdin.take().unwrap();
    // A length no buffer is allocated for: the server skips what arrives and says why.
    write!(stdin, "Content-Length: 200000000\r\n\r\n{{\"jsonrpc\"").unwrap();
    drop(stdin);
    let out = child.wait_with_output().unwrap();
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.contains("-32700") && text.contains("larger than the limit"), "{text}");
    assert_eq!(out.status.code(), Some(1));
}

#[test]
fn a_file_in_the_home_directory_is_checked_alone() {
    // The home directory is not walked as a bundle: a broken file beside the open one is not read.
    let (dir, _common_uri, rules_uri) = bundle("home");
    std::fs::write(dir.join("broken.aarm"), "rule {").unwrap();
    let mut c = Client::start_with(&[("HOME", &*dir)]);
    c.open(&rules_uri, RULES);
    // rules.aarm alone does not know common.aarm's declarations...
    let diags = c.diagnostics(&rules_uri);
    assert!(diags.iter().any(|d| d["code"] == "E0100"), "{diags:?}");
    // ...and broken.aarm got no diagnostics: it was not read.
    let broken = format!("file://{}", dir.join("broken.aarm").display());
    let r = c.request("textDocument/documentSymbol", json!({ "textDocument": { "uri": broken } }));
    assert_eq!(r["error"]["code"], -32602, "{r}");
    assert!(c.pending.iter().all(|m| !is_diagnostics_for(m, &broken)));
    assert_eq!(c.shutdown(), 0);
}

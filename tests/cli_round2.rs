//! The CLI's second round (issue 18, "The CLI"): standard input for `check` and `fmt`,
//! `keygen` keys used by every command that takes a key, `eval --exit-code`,
//! `inspect --format json`, case and receipt commands that never create a store, and `new`.
//! Every test drives the real binary.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]

use std::io::Write;
use std::path::Path;
use std::process::{Output, Stdio};

mod common;
use common::{aarm, http, root, scratch, Served};

fn run(args: &[&str], dir: &Path) -> Output {
    aarm().args(args).current_dir(dir).output().unwrap()
}

fn run_stdin(args: &[&str], dir: &Path, input: &str) -> Output {
    let mut child = aarm()
        .args(args)
        .current_dir(dir)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    if let Err(e) = child.stdin.take().unwrap().write_all(input.as_bytes()) {
        // A command that refuses its arguments may exit before reading its input: the write then
        // races its exit, and the answer is in its exit status and stderr, not here.
        assert_eq!(e.kind(), std::io::ErrorKind::BrokenPipe, "{e}");
    }
    child.wait_with_output().unwrap()
}

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn ok(out: &Output, what: &str) {
    assert_eq!(out.status.code(), Some(0), "{what}\nstdout: {}\nstderr: {}", stdout(out), stderr(out));
}

const MESSY: &str = "tool t {\n  q: String,\n}\nrule r on t { when params.q==\"x\" // why\n deny }";
const FORMATTED: &str = "tool t { q: String }\n\nrule r on t {\n  when params.q == \"x\" // why\n  deny\n}\n";

// ---------------------------------------------------------------------------------------------
// `-`: standard input

#[test]
fn fmt_dash_formats_standard_input_to_standard_output() {
    let dir = scratch("round2", "fmt-stdin");
    let out = run_stdin(&["fmt", "-"], &dir, MESSY);
    ok(&out, "fmt -");
    assert_eq!(stdout(&out), FORMATTED);
    // Nothing was written to disk, and `--check` answers on the exit status.
    assert_eq!(std::fs::read_dir(&dir).unwrap().count(), 0);
    let out = run_stdin(&["fmt", "--check", "-", "--stdin-filepath", "pol/a.aarm"], &dir, MESSY);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert_eq!(stdout(&out).trim(), "pol/a.aarm");
    ok(&run_stdin(&["fmt", "--check", "-"], &dir, FORMATTED), "formatted stdin passes --check");
}

#[test]
fn fmt_dash_with_a_syntax_error_names_the_stdin_filepath_and_prints_no_text() {
    let dir = scratch("round2", "fmt-stdin-broken");
    let out = run_stdin(&["fmt", "-", "--stdin-filepath", "policies/pay.aarm"], &dir, "rule r on t { when \n");
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(stdout(&out), "", "an editor must not replace its buffer with nothing");
    assert!(stderr(&out).contains("policies/pay.aarm:"), "{}", stderr(&out));
    assert!(!stderr(&out).contains("<stdin>"), "{}", stderr(&out));
}

#[test]
fn check_dash_resolves_use_relative_to_the_stdin_filepath() {
    let dir = scratch("round2", "check-stdin");
    std::fs::create_dir_all(dir.join("pol")).unwrap();
    std::fs::write(dir.join("pol/tools.aarm"), "tool t { x: Int }\n").unwrap();
    let buffer = "policy p version \"1\"\n\nuse ./tools\n\nrule big on t {\n  when params.x > 10\n  deny\n}\n";
    let out = run_stdin(&["check", "-", "--stdin-filepath", "pol/main.aarm"], &dir, buffer);
    ok(&out, "check - with a use");
    assert!(stderr(&out).contains("checked 2 files: no problems"), "{}", stderr(&out));
    // An error in the buffer is reported under the name the editor gave.
    let out = run_stdin(
        &["check", "-", "--stdin-filepath", "pol/main.aarm"],
        &dir,
        "policy p version \"1\"\nuse ./tools\nrule r on nope { deny }\n",
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("pol/main.aarm:3:"), "{}", stderr(&out));
    // Without the path, the text is `<stdin>` and `use ./x` is relative to the working directory.
    let out = run_stdin(&["check", "-"], &dir, "rule r on nope { deny }\n");
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("<stdin>:1:"), "{}", stderr(&out));
}

#[test]
fn stdin_usage_errors_are_refused() {
    let dir = scratch("round2", "stdin-usage");
    let out = run_stdin(&["check", "-", "-"], &dir, "");
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("given 2 times"), "{}", stderr(&out));
    std::fs::write(dir.join("a.aarm"), FORMATTED).unwrap();
    let out = run(&["check", "a.aarm", "--stdin-filepath", "x.aarm"], &dir);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("no path is `-`"), "{}", stderr(&out));
    let out = run_stdin(&["fmt", "-", "a.aarm"], &dir, MESSY);
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(std::fs::read_to_string(dir.join("a.aarm")).unwrap(), FORMATTED);
}

// ---------------------------------------------------------------------------------------------
// `keygen`

#[test]
fn keygen_writes_a_private_seed_and_a_public_key_and_never_overwrites_silently() {
    let dir = scratch("round2", "keygen");
    ok(&run(&["keygen", "signing.key"], &dir), "keygen");
    let secret = std::fs::read_to_string(dir.join("signing.key")).unwrap();
    let public = std::fs::read_to_string(dir.join("signing.key.pub")).unwrap();
    for (what, text) in [("seed", &secret), ("public key", &public)] {
        let hex = text.trim_end();
        assert_eq!(hex.len(), 64, "{what}: {text:?}");
        assert!(hex.bytes().all(|b| b.is_ascii_hexdigit()), "{what}: {text:?}");
    }
    assert_ne!(secret, public);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(dir.join("signing.key")).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600, "the signing key is readable by its owner only");
    }
    let again = run(&["keygen", "signing.key"], &dir);
    assert_eq!(again.status.code(), Some(2));
    assert!(stderr(&again).contains("already exists") && stderr(&again).contains("--force"), "{}", stderr(&again));
    assert_eq!(std::fs::read_to_string(dir.join("signing.key")).unwrap(), secret, "not overwritten");
    // The public key alone existing is refused too: a pair must match.
    std::fs::write(dir.join("other.key.pub"), "x").unwrap();
    assert_eq!(run(&["keygen", "other.key"], &dir).status.code(), Some(2));
    assert!(!dir.join("other.key").exists());
    ok(&run(&["keygen", "signing.key", "--force"], &dir), "keygen --force");
    assert_ne!(std::fs::read_to_string(dir.join("signing.key")).unwrap(), secret, "a new key");
}

/// A scratch directory for the test `name` with the `keygen` pairs `keys`.
fn dir_with_keys(name: &str, keys: &[&str]) -> common::Scratch {
    let dir = scratch("round2", name);
    for key in keys {
        ok(&run(&["keygen", key], &dir), &format!("keygen {key}"));
    }
    dir
}

/// `aarm build examples/EXAMPLE EXTRA…` in `dir`, which must succeed.
fn build_example_in(dir: &Path, example: &str, extra: &[&str]) -> Output {
    let out =
        aarm().arg("build").arg(root().join("examples").join(example)).args(extra).current_dir(dir).output().unwrap();
    ok(&out, &format!("build {example} {extra:?}"));
    out
}

#[test]
fn keygen_keys_sign_and_verify_bundles_with_build_eval_and_inspect() {
    let dir = dir_with_keys("keygen-bundle", &["k", "other"]);
    let request = root().join("examples/quorum_transfer/request.json");
    let built = build_example_in(&dir, "quorum_transfer", &["-o", "signed.aarmb", "--sign-key", "k"]);
    let eval_with_key =
        |key: &str| run(&["eval", "signed.aarmb", "--key", key, "--input", request.to_str().unwrap()], &dir);
    let out = eval_with_key("k.pub");
    ok(&out, "eval --key");
    assert_ne!(serde_json::from_slice::<serde_json::Value>(&out.stdout).unwrap()["reason"]["code"], "bundle_invalid");
    // Another key's public half does not verify it: the key is really used.
    let out = eval_with_key("other.pub");
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let info = run(&["inspect", "signed.aarmb", "--format", "json"], &dir);
    ok(&info, "inspect");
    let info: serde_json::Value = serde_json::from_slice(&info.stdout).unwrap();
    assert_eq!(info["signature"]["algorithm"], "Ed25519");
    assert!(stderr(&built).contains(info["signature"]["key_id"].as_str().unwrap()), "{}", stderr(&built));
}

#[test]
fn keygen_keys_sign_receipts_that_receipts_verify_accepts() {
    let dir = dir_with_keys("keygen-receipts", &["k", "other"]);
    build_example_in(&dir, "quorum_transfer", &["-o", "b.aarmb"]);
    let open = aarm()
        .args([
            "case",
            "open",
            "--store",
            "c.db",
            "--sign-key",
            "k",
            "--now",
            "2026-11-24T10:00:00Z",
            "--bundle",
            "b.aarmb",
            "--input",
        ])
        .arg(root().join("examples/quorum_transfer/request.json"))
        .current_dir(&dir)
        .output()
        .unwrap();
    ok(&open, "case open --sign-key");
    // The export's head is signed too: `verify --key` requires every line signed.
    let export = run(&["receipts", "export", "--store", "c.db", "--sign-key", "k"], &dir);
    ok(&export, "receipts export");
    assert!(!export.stdout.is_empty());
    std::fs::write(dir.join("r.jsonl"), &export.stdout).unwrap();
    ok(&run(&["receipts", "verify", "r.jsonl", "--key", "k.pub"], &dir), "receipts verify --key");
    assert_ne!(run(&["receipts", "verify", "r.jsonl", "--key", "other.pub"], &dir).status.code(), Some(0));
}

#[test]
fn keygen_keys_are_accepted_by_serve() {
    let dir = dir_with_keys("keygen-serve", &["k"]);
    build_example_in(&dir, "quorum_transfer", &["-o", "b.aarmb", "--sign-key", "k"]);
    let served = Served::start(
        aarm()
            .args(["serve", "--bundle", "b.aarmb", "--store", "c.db"])
            .args(["--trusted-key", "k.pub", "--sign-key", "k"])
            .current_dir(&dir),
    );
    let answer = http(&served.addr, "GET /healthz", "", "");
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    assert!(answer.contains("\"policy\":\"treasury\""), "{answer}");
}

// ---------------------------------------------------------------------------------------------
// `eval --exit-code`

const EVERY_DECISION: &str = r#"policy d version "1"
tool t { kind: String, to: String }
rule m on t priority 10 { when params.kind == "modify" modify { params.to = "safe" } }
rule s on t priority 20 { when params.kind == "step_up" step_up { approvers 1 of ["a@x"] timeout 1h -> deny } }
evidence ok: Bool from "svc"
rule f on t priority 30 { when params.kind == "defer" and evidence.ok is not set defer { need ok timeout 1h -> deny } }
rule n on t priority 40 { when params.kind == "deny" deny }
rule a on t priority 1 { when params.kind == "allow" allow }
"#;

#[test]
fn eval_exit_code_gives_each_decision_its_own_status() {
    let dir = scratch("round2", "exit-code");
    std::fs::write(dir.join("d.aarm"), EVERY_DECISION).unwrap();
    for (kind, code) in [("allow", 0), ("modify", 10), ("step_up", 11), ("defer", 12), ("deny", 13)] {
        let request = format!(r#"{{"action": {{"tool": "t", "params": {{"kind": "{kind}", "to": "x"}}}}}}"#);
        let out = run_stdin(&["eval", "d.aarm", "--input", "-", "--exit-code"], &dir, &request);
        let decision: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(decision["decision"], kind, "{}", stderr(&out));
        assert_eq!(out.status.code(), Some(code), "{kind}");
        // Without the flag, a printed decision is exit 0 as before.
        ok(&run_stdin(&["eval", "d.aarm", "--input", "-"], &dir, &request), kind);
    }
    // An invalid request is decided deny, and exits as one.
    let out = run_stdin(&["eval", "d.aarm", "--input", "-", "--exit-code"], &dir, "{\"action\": 1}");
    assert_eq!(out.status.code(), Some(13), "{}", stdout(&out));
    // A bundle that cannot load stays an error (1), never 0.
    std::fs::write(dir.join("bad.aarmb"), b"not a bundle").unwrap();
    let out = run_stdin(&["eval", "bad.aarmb", "--input", "-", "--exit-code"], &dir, "{}");
    assert_eq!(out.status.code(), Some(1));
}

// ---------------------------------------------------------------------------------------------
// `inspect --format json`

#[test]
fn inspect_json_holds_everything_the_human_output_shows() {
    let dir = scratch("round2", "inspect-json");
    build_example_in(&dir, "bulk_delete_confirmation", &["-o", "b.aarmb"]);
    let out = run(&["inspect", "b.aarmb", "--format", "json", "--disassemble"], &dir);
    ok(&out, "inspect --format json");
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let human = stdout(&run(&["inspect", "b.aarmb"], &dir));
    assert!(human.contains(v["hash"].as_str().unwrap()));
    assert!(v["hash"].as_str().unwrap().starts_with("sha256:"));
    assert_eq!(v["signature"], serde_json::Value::Null);
    assert_eq!(v["format"], 4, "the bundle format version (docs/bundle.md)");
    assert!(v["size"].as_u64().unwrap() > 0);
    assert_eq!(v["policies"][0]["name"], "records");
    assert_eq!(v["tools"][0]["name"], "delete_records");
    assert_eq!(v["tools"][0]["fields"][1], serde_json::json!({"name": "count", "type": "Int"}));
    assert_eq!(v["evidence"][0]["source"], "user_confirmation");
    let rules = v["rules"].as_array().unwrap();
    assert_eq!(rules.len(), 5);
    assert!(rules.iter().any(|r| r["name"] == "records.bulk_delete_needs_confirmation"
        && r["decision"] == "defer"
        && r["priority"] == 60));
    for r in rules {
        assert!(human.contains(r["name"].as_str().unwrap()) && human.contains(r["location"].as_str().unwrap()));
    }
    assert!(v["code"]["instructions"].as_u64().unwrap() > 0);
    assert!(v["disassembly"].as_str().unwrap().len() > 10);
    // A damaged bundle prints no JSON and fails.
    let mut bytes = std::fs::read(dir.join("b.aarmb")).unwrap();
    let last = bytes.len() - 1;
    bytes[last] ^= 0xff;
    std::fs::write(dir.join("bad.aarmb"), bytes).unwrap();
    let out = run(&["inspect", "bad.aarmb", "--format", "json"], &dir);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(stdout(&out), "");
}

// ---------------------------------------------------------------------------------------------
// Stores are created by `case open` only

#[test]
fn case_and_receipt_commands_on_a_missing_store_fail_and_create_nothing() {
    let dir = scratch("round2", "no-store");
    let commands: [&[&str]; 9] = [
        &["case", "show", "case-000001", "--store", "missing.db"],
        &["case", "list", "--store", "missing.db"],
        &["case", "list", "--pending", "--store", "missing.db"],
        &["case", "tick", "--store", "missing.db"],
        &["case", "approve", "case-000001", "--by", "a@x", "--store", "missing.db"],
        &["case", "deny", "case-000001", "--by", "a@x", "--store", "missing.db"],
        &["case", "provide", "case-000001", "x=true", "--store", "missing.db"],
        &["case", "cancel", "case-000001", "--store", "missing.db"],
        &["receipts", "export", "--store", "missing.db"],
    ];
    for args in commands {
        let out = run(args, &dir);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {}", stderr(&out));
        assert!(stderr(&out).contains("missing.db: no such case store"), "{args:?}: {}", stderr(&out));
        let left: Vec<_> = std::fs::read_dir(&dir).unwrap().map(|e| e.unwrap().file_name()).collect();
        assert!(left.is_empty(), "{args:?} created {left:?}");
    }
}

// ---------------------------------------------------------------------------------------------
// `new`

#[test]
fn new_scaffolds_a_directory_that_check_test_and_eval_accept() {
    let dir = scratch("round2", "new");
    let out = run(&["new", "payments-policy"], &dir);
    ok(&out, "new");
    for file in ["policy.aarm", "policy_test.aarm", "request.json"] {
        assert!(dir.join("payments-policy").join(file).is_file(), "{file}");
    }
    let out = run(&["check", "payments-policy", "--deny-warnings"], &dir);
    ok(&out, "check");
    assert!(stderr(&out).contains("no problems"), "{}", stderr(&out));
    let out = run(&["test", "payments-policy"], &dir);
    ok(&out, "test");
    assert!(
        stdout(&out).contains("2 passed, 0 failed") || stderr(&out).contains("2 passed, 0 failed"),
        "{}{}",
        stdout(&out),
        stderr(&out)
    );
    let out = run(&["eval", "payments-policy", "--input", "payments-policy/request.json", "--exit-code"], &dir);
    ok(&out, "eval");
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["policy"]["name"], "payments_policy");
    ok(&run(&["fmt", "--check", "payments-policy"], &dir), "the scaffold is formatted");
    // The files are the author's once written: never overwritten.
    let again = run(&["new", "payments-policy"], &dir);
    assert_eq!(again.status.code(), Some(2));
    assert!(stderr(&again).contains("not empty"), "{}", stderr(&again));
}

#[test]
fn new_with_a_name_that_is_a_keyword_still_checks() {
    let dir = scratch("round2", "new-keyword");
    ok(&run(&["new", "rule"], &dir), "new rule");
    ok(&run(&["check", "rule"], &dir), "check");
    ok(&run(&["test", "rule"], &dir), "test");
}

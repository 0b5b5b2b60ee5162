//! End-to-end tests of `aarm build`, `aarm eval` and `aarm inspect` on the examples of
//! docs/language.md: each gives the decision the text says.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]

use serde_json::{json, Value};
use std::io::Write;
use std::path::Path;
use std::process::{Output, Stdio};

mod common;
use common::{aarm, root};

fn scratch(name: &str) -> common::Scratch {
    common::scratch("engine", name)
}

/// `aarm eval BUNDLE --input -` with `request` on stdin; returns (exit code, decision JSON).
fn eval(bundle: &Path, request: &Value, extra: &[&str]) -> (i32, Value) {
    let out = common::eval_stdin(bundle, request.to_string().as_bytes(), extra);
    let code = out.status.code().unwrap_or(-1);
    let decision = serde_json::from_slice(&out.stdout).unwrap_or_else(|_| {
        panic!(
            "no decision JSON: stdout={} stderr={}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    });
    (code, decision)
}

fn build(dir: &str, out: &Path, extra: &[&str]) -> Output {
    aarm().args(["build", dir, "-o"]).arg(out).args(extra).current_dir(root()).output().unwrap()
}

fn transfer(amount: Value) -> Value {
    json!({ "action": { "tool": "transfer_funds", "params": { "amount": amount, "currency": "USD", "recipient": "acme" } },
            "identity": { "human": "alice@corp.com" } })
}

#[test]
fn large_transfer_needs_two_finance_approvers() {
    let dir = scratch("payments");
    let bundle = dir.join("payments.aarmb");
    let out = build("examples/payments", &bundle, &[]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let (code, d) = eval(&bundle, &transfer(json!(10000)), &[]);
    assert_eq!(code, 0);
    assert_eq!(d["decision"], "step_up");
    assert_eq!(d["rule"], "payments.large_transfer");
    assert_eq!(d["reason"]["code"], "transfer.large");
    assert_eq!(d["reason"]["message"], "Transfer of 10000 USD needs two approvers");
    assert_eq!(d["policy"]["name"], "payments");
    assert_eq!(d["policy"]["version"], "1.4.0");
    assert!(d["policy"]["bundle_hash"].as_str().unwrap().starts_with("sha256:"));
    assert_eq!(d["risk"], "high");
    let s = &d["step_up"];
    assert_eq!(s["approvers"], json!(["cfo@corp.com", "controller@corp.com", "lead@corp.com"]));
    assert_eq!(s["quorum"], 2);
    assert_eq!(s["timeout_s"], 1800);
    assert_eq!(s["on_timeout"], "deny");
    assert_eq!(s["escalate"], json!({ "after_s": 900, "to": ["security-manager@corp.com"] }));
    assert_eq!(s["veto"], true);
    assert_eq!(s["self_approval"], false);
    assert_eq!(s["notify"], json!(["slack:#finance-approvals", "email:approvals@corp.com"]));
    // Small transfers run.
    let (_, d) = eval(&bundle, &transfer(json!("120.50")), &[]);
    assert_eq!(d["decision"], "allow");
    assert_eq!(d["rule"], "payments.small_transfer");
}

#[test]
fn eval_compiles_a_directory_directly() {
    let (code, d) = eval(Path::new("examples/payments"), &transfer(json!(6000)), &[]);
    assert_eq!(code, 0);
    assert_eq!(d["decision"], "step_up");
}

#[test]
fn credential_rotation_defers_until_the_window_is_known() {
    let req = |evidence: Value| json!({ "action": { "tool": "rotate_credentials", "params": { "environment": "prod" } }, "evidence": evidence });
    let dir = Path::new("examples/credentials");
    let (_, d) = eval(dir, &req(json!({})), &[]);
    assert_eq!(d["decision"], "defer");
    assert_eq!(d["reason"]["code"], "evidence.required");
    assert_eq!(
        d["defer"]["need"],
        json!([{ "name": "maintenance_window_active", "type": "Bool", "source": "maintenance_api" }])
    );
    assert_eq!(d["defer"]["timeout_s"], 600);
    assert_eq!(d["defer"]["on_timeout"], "deny");
    let (_, d) = eval(dir, &req(json!({ "maintenance_window_active": false })), &[]);
    assert_eq!(d["decision"], "deny");
    assert_eq!(d["rule"], "credentials.rotation_outside_window");
    assert_eq!(d["reason"]["code"], "creds.outside_window");
    let (_, d) = eval(dir, &req(json!({ "maintenance_window_active": true })), &[]);
    assert_eq!(d["decision"], "allow");
    assert_eq!(d["rule"], "credentials.rotation_in_window");
}

#[test]
fn stale_classification_defers_with_its_own_limits_and_restricted_data_is_denied() {
    let req = |evidence: Value| {
        json!({ "action": { "tool": "export_table", "params": { "table": "customers", "destination": "s3://b" } },
                "context": { "classification_age": 172800 }, "evidence": evidence })
    };
    let dir = Path::new("examples/data_export");
    let (_, d) = eval(dir, &req(json!({})), &[]);
    assert_eq!(d["decision"], "defer");
    assert_eq!(d["defer"]["need"][0]["name"], "fresh_classification");
    assert_eq!(d["defer"]["max_attempts"], 3);
    assert_eq!(d["defer"]["on_exhausted"]["step_up"]["role"], "data-steward");
    let (_, d) = eval(dir, &req(json!({ "fresh_classification": "RESTRICTED" })), &[]);
    assert_eq!(d["decision"], "deny");
    assert_eq!(d["rule"], "data_export.export_restricted");
    let (_, d) = eval(dir, &req(json!({ "fresh_classification": "INTERNAL" })), &[]);
    assert_eq!(d["decision"], "allow");
}

#[test]
fn modify_drops_external_recipients() {
    let req = json!({ "action": { "tool": "send_email",
        "params": { "to": ["bob@corp.com", "eve@evil.example"], "subject": "Q3", "body": "numbers" } } });
    let (_, d) = eval(Path::new("examples/payments"), &req, &[]);
    assert_eq!(d["decision"], "modify");
    assert_eq!(d["modified_action"]["params"]["to"], json!(["bob@corp.com"]));
    assert_eq!(d["modified_action"]["params"]["subject"], "[reviewed] Q3");
    assert_eq!(d["modified_action"]["params"]["body"], "numbers");
}

/// A `modify` of a record-typed parameter is a JSON object with the record's field names (as
/// docs/json.md says params are), both when the record is a constant and when it is built from the
/// request; an `Int` written for a `Decimal` field is widened in that field.
#[test]
fn modify_of_a_record_parameter_is_an_object() {
    let dir = common::scratch_with_policy(
        "engine",
        "record_modify",
        r#"policy net version "1"
tool connect { target: { host: String, port: Int, weight: Decimal }, note: String }

rule pin_external on connect priority 20 {
  when not params.target.host.ends_with(".corp")
  modify { params.target = { host: "proxy.corp", port: 3128, weight: 1 } }
}

rule fix_port on connect priority 10 {
  modify { params.target = { host: params.target.host, port: 443, weight: params.target.weight } }
}
"#,
    );
    let req = |host: &str| {
        json!({ "action": { "tool": "connect",
            "params": { "target": { "host": host, "port": 80, "weight": 0.25 }, "note": "n" } } })
    };
    let (code, d) = eval(&dir, &req("evil.example"), &[]);
    assert_eq!((code, &d["decision"]), (0, &json!("modify")), "{d}");
    assert_eq!(d["modified_action"]["params"]["target"], json!({ "host": "proxy.corp", "port": 3128, "weight": 1 }));
    assert_eq!(d["modified_action"]["params"]["note"], "n");
    let (_, d) = eval(&dir, &req("db.corp"), &[]);
    assert_eq!(d["rule"], "net.fix_port", "{d}");
    assert_eq!(d["modified_action"]["params"]["target"], json!({ "host": "db.corp", "port": 443, "weight": 0.25 }));
}

/// Decimals are exact to 18 fractional digits end to end: a literal, a request value, arithmetic
/// and the modified action; a 19th digit is `input.invalid`, never rounded onto the limit; an
/// overflow is a deny.
#[test]
fn decimals_keep_18_fractional_digits_and_never_round() {
    let dir = common::scratch_with_policy(
        "engine",
        "decimal18",
        r#"policy wei version "1"
tool send { amount: Decimal, rate: Decimal }
settings { default allow }

rule over_one_eth on send priority 30 {
  when params.rate == 1 and params.amount > 1.000000000000000000
  deny
}

rule huge_fx on send priority 20 {
  when params.amount * params.rate >= 10000000000000000000.0
  deny
}

rule quote on send priority 10 {
  when params.rate == 1.087654
  modify { params.amount = params.amount * params.rate }
}
"#,
    );
    let req = |amount: &str, rate: &str| json!({ "action": { "tool": "send", "params": { "amount": amount, "rate": rate } } });
    // A send of `amount` at `rate`: its decision, the rule or reason code (at that JSON pointer)
    // that made it where the decision names one, and what the case shows.
    for (amount, rate, decision, by, what) in [
        ("1.000000000000000001", "1", "deny", Some(("/rule", "wei.over_one_eth")), "one wei over"),
        ("1", "1", "allow", None, "exactly one"),
        // A 19th digit would round to exactly 1 and pass: it is refused instead.
        ("1.0000000000000000001", "1", "deny", Some(("/reason/code", "input.invalid")), "a 19th digit"),
        // Near the top of the range, then past it: an overflow (a product of 10^20 or more) is an
        // evaluation error, a deny, never an allow.
        ("0.5", "99999999999999999999.999999999999999999", "deny", Some(("/rule", "wei.huge_fx")), "the top"),
        ("0.5", "10000000000000000000", "allow", None, "5 × 10^18 is below the threshold"),
        ("20", "10000000000000000000", "deny", Some(("/reason/code", "eval.error")), "an overflow"),
    ] {
        let (_, d) = eval(&dir, &req(amount, rate), &[]);
        assert_eq!(d["decision"], decision, "{what}: {d}");
        if let Some((pointer, value)) = by {
            assert_eq!(d.pointer(pointer), Some(&json!(value)), "{what}: {d}");
        }
    }
    // Products are cut to 18 digits; the modified amount keeps every digit, as a string.
    let (_, d) = eval(&dir, &req("0.123456789012345678", "1.087654"), &[]);
    assert_eq!(d["decision"], "modify", "{d}");
    assert_eq!(d["modified_action"]["params"]["amount"], json!("0.134278270396433826"), "{d}");
}

#[test]
fn invalid_input_is_a_deny_not_a_crash() {
    let dir = Path::new("examples/payments");
    for bad in [
        json!({ "action": { "tool": "transfer_funds", "params": { "amount": "lots", "currency": "USD", "recipient": "a" } } }),
        json!({ "action": { "tool": "transfer_funds", "params": { "currency": "USD", "recipient": "a" } } }),
        json!({ "action": { "params": {} } }),
        json!([1, 2, 3]),
    ] {
        let (code, d) = eval(dir, &bad, &[]);
        assert_eq!(code, 0, "any decision exits 0");
        assert_eq!(d["decision"], "deny", "{bad}");
        assert_eq!(d["reason"]["code"], "input.invalid");
    }
    // Truncated JSON and absurd nesting, sent raw.
    for raw in ["{\"action\": {\"tool\": ", &"[".repeat(100_000)] {
        let mut child = aarm()
            .args(["eval", "examples/payments", "--input", "-"])
            .current_dir(root())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        child.stdin.take().unwrap().write_all(raw.as_bytes()).unwrap();
        let out = child.wait_with_output().unwrap();
        let d: Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(d["reason"]["code"], "input.invalid");
    }
    // An undeclared tool is valid input: only `on *` rules and the default apply.
    let (_, d) = eval(dir, &json!({ "action": { "tool": "launch_rockets" } }), &[]);
    assert_eq!(d["decision"], "deny");
    assert_eq!(d["reason"]["code"], "default.deny");
}

#[test]
fn explain_lists_the_rules_tried() {
    let (_, d) = eval(Path::new("examples/payments"), &transfer(json!(10000)), &["--explain"]);
    let tried = d["explain"]["tried"].as_array().unwrap();
    let names: Vec<&str> = tried.iter().map(|t| t["rule"].as_str().unwrap()).collect();
    assert_eq!(names, ["payments.large_transfer", "payments.refund_memo", "payments.small_transfer"]);
    assert_eq!(tried[0]["condition"], "true");
    assert_eq!(tried[2]["condition"], "false");
}

#[test]
fn signed_bundles_inspect_and_tampering() {
    let dir = scratch("signed");
    let key = dir.join("key.hex");
    std::fs::write(&key, "9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60\n").unwrap();
    let public = dir.join("key.pub");
    // The public key of that RFC 8032 test seed.
    std::fs::write(&public, "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a").unwrap();
    let bundle = dir.join("b.aarmb");
    let out = build("examples/credentials", &bundle, &["--sign-key", key.to_str().unwrap()]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let req = json!({ "action": { "tool": "rotate_credentials", "params": { "environment": "prod" } },
                      "evidence": { "maintenance_window_active": true } });
    let (code, d) = eval(&bundle, &req, &["--key", public.to_str().unwrap()]);
    assert_eq!((code, d["decision"].as_str()), (0, Some("allow")));

    let out = aarm().args(["inspect", "--disassemble"]).arg(&bundle).output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{text}");
    assert!(text.contains("signature  Ed25519, key"), "{text}");
    assert!(text.contains("credentials.rotation_outside_window priority 50 -> deny"), "{text}");
    assert!(text.contains("evidence maintenance_window_active"), "{text}");

    // One flipped byte: refused, and eval fails closed.
    let mut bytes = std::fs::read(&bundle).unwrap();
    let mid = bytes.len() / 2;
    bytes[mid] ^= 0x01;
    let bad = dir.join("bad.aarmb");
    std::fs::write(&bad, &bytes).unwrap();
    let (code, d) = eval(&bad, &req, &[]);
    assert_eq!(code, 1);
    assert_eq!(d["decision"], "deny");
    assert_eq!(d["reason"]["code"], "bundle.invalid");
    assert_eq!(aarm().arg("inspect").arg(&bad).output().unwrap().status.code(), Some(1));
}

#[test]
fn build_refuses_policies_with_errors() {
    let dir = common::scratch_with_policy("engine", "broken", "policy p version \"1\"\nrule r on nothing { deny }\n");
    let out = aarm().args(["build", ".", "-o", "x.aarmb"]).current_dir(&dir).output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(!dir.join("x.aarmb").exists());
}

#[test]
fn a_closed_stdout_ends_the_output_without_a_crash() {
    // `aarm inspect --disassemble | head`: the reader goes away long before the 100 KB or so of
    // disassembly are written.
    let dir = scratch("closed_stdout");
    let mut src = String::from("policy p version \"1\"\ntool t { x: Int, s: String }\n");
    for k in 0..400 {
        src.push_str(&format!(
            "rule r{k} on t priority {k} {{ when params.x > {k} and params.s == \"v{k}\"\n deny }}\n"
        ));
    }
    std::fs::write(dir.join("p.aarm"), src).unwrap();
    let bundle = dir.join("p.aarmb");
    let built = aarm().args(["build", "."]).arg("-o").arg(&bundle).current_dir(&dir).output().unwrap();
    assert_eq!(built.status.code(), Some(0), "{}", String::from_utf8_lossy(&built.stderr));
    let mut child = aarm()
        .args(["inspect", "--disassemble"])
        .arg(&bundle)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    drop(child.stdout.take());
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert_eq!(out.status.code(), Some(0), "{stderr}");
}

//! Hostile input to the CLI: `aarm eval` and `aarm case provide` read JSON the way the service
//! and the host API do (runtime/src/json.rs), so a request cannot say two things at once.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]

mod common;
use common::{aarm, root};
use serde_json::Value;
use std::io::Write;
use std::process::Stdio;

fn eval_raw(raw: &str) -> Value {
    let mut child = aarm()
        .args(["eval", "examples/payments", "--input", "-"])
        .current_dir(root())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(raw.as_bytes()).unwrap();
    let out = child.wait_with_output().unwrap();
    serde_json::from_slice(&out.stdout).unwrap_or_else(|_| panic!("stdout={}", String::from_utf8_lossy(&out.stdout)))
}

#[test]
fn eval_refuses_a_repeated_key_at_its_path() {
    let request = |amount: &str| {
        format!(
            r#"{{"action":{{"tool":"transfer_funds","params":{{{amount},"currency":"USD","recipient":"acme"}}}},
               "context":{{"now":"2026-11-24T10:00:00Z"}}}}"#
        )
    };
    // Each copy alone decides differently: a large transfer needs approvers, a small one passes.
    assert_eq!(eval_raw(&request(r#""amount":500000"#))["decision"], "step_up");
    assert_eq!(eval_raw(&request(r#""amount":5"#))["decision"], "allow");
    // Both copies: neither is believed.
    let d = eval_raw(&request(r#""amount":500000,"amount":5"#));
    assert_eq!(d["decision"], "deny", "{d}");
    assert_eq!(d["reason"]["code"], "input.invalid");
    assert!(d["reason"]["message"].as_str().unwrap().starts_with("$.action.params.amount:"), "{d}");
}

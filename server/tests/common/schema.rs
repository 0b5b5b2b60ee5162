//! The published JSON Schemas (docs/schema/decision.json, approval.json) hold for every answer
//! the service gives: [`Deployment::call`](super::Deployment::call) and
//! [`Deployment::post_raw`](super::Deployment::post_raw) pass each successful answer through
//! [`check_answer`], so every test that decides, waits, approves or reads a case validates what
//! it got without asking. One validator per schema, built once per test binary.

use serde_json::Value;
use std::sync::OnceLock;

fn validator(cell: &'static OnceLock<jsonschema::Validator>, text: &str) -> &'static jsonschema::Validator {
    cell.get_or_init(|| jsonschema::validator_for(&serde_json::from_str(text).unwrap()).unwrap())
}

fn decisions() -> &'static jsonschema::Validator {
    static CELL: OnceLock<jsonschema::Validator> = OnceLock::new();
    validator(&CELL, include_str!("../../../docs/schema/decision.json"))
}

fn approvals() -> &'static jsonschema::Validator {
    static CELL: OnceLock<jsonschema::Validator> = OnceLock::new();
    validator(&CELL, include_str!("../../../docs/schema/approval.json"))
}

fn assert_valid(v: &jsonschema::Validator, value: &Value, what: &str) {
    let errors: Vec<String> = v.iter_errors(value).map(|e| format!("{e} at {}", e.instance_path())).collect();
    assert!(errors.is_empty(), "{what} does not match its published schema: {errors:?}\n{value:#}");
}

/// Panics unless `value` is a decision as docs/schema/decision.json publishes it.
pub fn assert_decision(value: &Value, what: &str) {
    assert_valid(decisions(), value, what);
}

/// Panics unless `value` is an approval as docs/schema/approval.json publishes it.
pub fn assert_approval(value: &Value, what: &str) {
    assert_valid(approvals(), value, what);
}

/// Panics unless a case's decision, its outcome (when resolved) and each of its approvals match
/// their schemas.
pub fn assert_case(case: &Value, what: &str) {
    assert_decision(&case["decision"], &format!("{what}: the case's decision"));
    if !case["outcome"].is_null() {
        assert_decision(&case["outcome"], &format!("{what}: the case's outcome"));
    }
    for a in case["approvals"].as_array().into_iter().flatten() {
        assert_approval(a, &format!("{what}: an approval"));
    }
}

/// Validates a successful answer of `path`: a decision from `/v1/decide`; a case (its
/// decision, outcome and approvals) from `/v1/cases/{id}` and its approve, deny, evidence,
/// cancel, confirm, revalidate and wait endpoints; each case of the `/v1/cases` list. Refusals
/// (non-2xx) are problem documents, not decisions.
pub fn check_answer(method: &str, path: &str, status: u16, body: &Value) {
    if !(200..300).contains(&status) {
        return;
    }
    let path = path.split('?').next().unwrap_or(path);
    let what = format!("{method} {path}");
    let segments: Vec<&str> = path.trim_start_matches('/').split('/').collect();
    match segments.as_slice() {
        ["v1", "decide"] => assert_decision(body, &what),
        ["v1", "cases"] => {
            for case in body.as_array().into_iter().flatten() {
                assert_case(case, &what);
            }
        }
        ["v1", "cases", _]
        | ["v1", "cases", _, "approve" | "deny" | "evidence" | "cancel" | "confirm" | "revalidate" | "wait"] => {
            assert_case(body, &what)
        }
        _ => {}
    }
}

//! Hostile input to the CLI: `aarm eval` and `aarm case provide` read JSON the way the service
//! and the host API do (runtime/src/json.rs), so a request cannot say two things at once.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]

mod common;
use common::{aarm, root};
use serde_json::Value;

fn eval_raw(raw: &str) -> Value {
    let out = common::eval_stdin("examples/payments", raw.as_bytes(), &[]);
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

/// Opens a case of the quorum example in `dir/cases.db` at `now`; its id.
fn open_case(dir: &std::path::Path, now: &str) -> String {
    let request = root().join("examples/quorum_transfer/request.json");
    let out = aarm()
        .args(["case", "open", "--store", "cases.db", "--bundle", "q.aarmb", "--input"])
        .arg(&request)
        .args(["--now", now])
        .current_dir(dir)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let d: Value = serde_json::from_slice(&out.stdout).unwrap();
    d["case"].as_str().unwrap().to_string()
}

#[test]
fn case_list_and_tick_skip_an_unreadable_case_and_say_so() {
    let dir = common::scratch("adversarial", "quarantine");
    let out = aarm()
        .args(["build", "examples/quorum_transfer", "-o"])
        .arg(dir.join("q.aarmb"))
        .current_dir(root())
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let broken = open_case(&dir, "2026-11-24T10:00:00Z");
    let fine = open_case(&dir, "2026-11-24T10:00:00Z");
    // Another writer leaves the first case's row unreadable.
    let db = rusqlite::Connection::open(dir.join("cases.db")).unwrap();
    db.execute("UPDATE cases SET json = '{\"id\": ' WHERE id = ?1", [&broken]).unwrap();

    let run = |args: &[&str]| aarm().args(args).args(["--store", "cases.db"]).current_dir(&dir).output().unwrap();
    let list = run(&["case", "list", "--pending"]);
    assert!(list.status.success(), "{}", String::from_utf8_lossy(&list.stderr));
    let listed: Vec<Value> =
        String::from_utf8_lossy(&list.stdout).lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0]["id"], Value::String(fine.clone()));
    assert!(String::from_utf8_lossy(&list.stderr).contains(&format!("{broken} is unreadable")));

    // The clock goes on for the readable case: its first tier times out at 30 minutes, the
    // second an hour later, to a deny.
    for now in ["2026-11-24T10:31:00Z", "2026-11-24T11:35:00Z"] {
        let tick = run(&["case", "tick", "--now", now]);
        assert!(tick.status.success(), "{}", String::from_utf8_lossy(&tick.stderr));
    }
    let shown: Value = serde_json::from_slice(&run(&["case", "show", &fine]).stdout).unwrap();
    assert_eq!(shown["state"], "denied", "{shown}");
}

/// `case provide` keeps the fact with the case as JSON: a number with more digits than an f64
/// keeps is refused (it would be kept, and decided on, rounded: `999.99999999999999999` becomes
/// `1000.0` and passes `< 1000`), and so is a repeated key; the same digits as a string are exact.
#[test]
fn case_provide_refuses_a_number_it_would_round() {
    let dir = common::scratch_with_policy(
        "adversarial",
        "provide-rounded",
        r#"policy pay version "1"
tool payout { amount: Int }
evidence balance: Decimal from "bank"
rule wait on payout priority 90 {
  when evidence.balance is not set
  defer { need balance  timeout 1h -> deny }
}
rule low on payout priority 80 {
  when evidence.balance < 1000
  deny
}
rule ok on payout { allow }
"#,
    );
    std::fs::write(dir.join("r.json"), r#"{"action":{"tool":"payout","params":{"amount":5}}}"#).unwrap();
    let run = |args: &[&str]| aarm().args(args).current_dir(&dir).output().unwrap();
    let built = run(&["build", "p.aarm", "-o", "p.aarmb"]);
    assert!(built.status.success(), "{}", String::from_utf8_lossy(&built.stderr));
    let opened = run(&["case", "open", "--store", "cases.db", "--bundle", "p.aarmb", "--input", "r.json"]);
    assert!(opened.status.success(), "{}", String::from_utf8_lossy(&opened.stderr));
    let case = serde_json::from_slice::<Value>(&opened.stdout).unwrap()["case"].as_str().unwrap().to_string();
    let provide = |fact: &str| run(&["case", "provide", &case, fact, "--by", "bank-bot", "--store", "cases.db"]);
    for fact in ["balance=999.99999999999999999", r#"balance={"x":1,"x":2}"#] {
        let out = provide(fact);
        assert!(!out.status.success(), "{fact} was taken");
        assert!(
            String::from_utf8_lossy(&out.stderr).contains("kept exactly"),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let shown = run(&["case", "show", &case, "--store", "cases.db"]);
    assert_eq!(serde_json::from_slice::<Value>(&shown.stdout).unwrap()["state"], "pending_evidence");
    let out = provide(r#"balance="999.99999999999999999""#);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let shown = run(&["case", "show", &case, "--store", "cases.db"]);
    assert_eq!(serde_json::from_slice::<Value>(&shown.stdout).unwrap()["state"], "denied");
}

//! Conformance through the CLI: one test per requirement row of `docs/conformance.md` that the
//! real `aarm` binary shows (`eval`, `check`, `case`, `receipts` on a SQLite store, driven with
//! `--now`), and the test that holds the table and the conformance tests to each other
//! (`table.rs`). The rows the service shows are in `server/tests/conformance.rs`.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]

mod common;

#[path = "conformance/aarm.rs"]
mod aarm;
#[path = "conformance/contract.rs"]
mod contract;
#[path = "conformance/deferral.rs"]
mod deferral;
#[path = "conformance/table.rs"]
mod table;

use common::aarm as bin;
use serde_json::Value;
use std::process::Output;

/// A policy with a rule for each of the five decisions, chosen by `params.kind`.
pub const FIVE: &str = r#"
policy five version "2.1.0"

tool op { kind: String, amount: Int }
evidence ticket: String from "change_desk"

rule reads on op priority 50 {
  when params.kind == "read"
  allow
  reason "op.read" "Reading is allowed"
}
rule drops on op priority 50 {
  when params.kind == "drop"
  deny
  reason "op.drop" "Dropping {params.amount} rows is never allowed"
}
rule caps on op priority 50 {
  when params.kind == "pay" and params.amount > 100
  modify { params.amount = 100 }
  reason "op.capped" "Payments are capped at 100"
}
rule wires on op priority 50 {
  when params.kind == "wire"
  step_up { approvers 1 of ["cfo@corp.com"]  timeout 1h -> deny }
  reason "op.wire" "Wires need the CFO"
}
rule purges on op priority 50 {
  when params.kind == "purge" and evidence.ticket is not set
  defer { need ticket  timeout 10m -> deny }
  reason "op.purge" "A purge needs a change ticket"
}
rule ticketed on op priority 40 {
  when params.kind == "purge" and evidence.ticket.starts_with("CHG-")
  allow
}
"#;

/// A request for `op` of `kind`, from `pay-bot` on behalf of alice.
pub fn op(kind: &str, amount: i64) -> Value {
    serde_json::json!({
        "action": { "tool": "op", "params": { "kind": kind, "amount": amount } },
        "identity": { "human": "alice@corp.com", "service": "svc-ops", "agent": "pay-bot" },
        "context": { "original_request": "tidy the ledger" }
    })
}

/// A scratch directory with one policy built to `policy.aarmb`, the signing key and its
/// public key, where the CLI runs.
pub struct Dir(pub common::Scratch);

impl Dir {
    pub fn new(name: &str, policy: &str) -> Dir {
        Dir(common::signed_case_dir("conformance", name, "policy", policy))
    }

    pub fn run(&self, args: &[&str]) -> Output {
        bin().args(args).current_dir(&self.0).output().unwrap()
    }

    /// `aarm eval` of `request` against the built bundle, with `extra` flags.
    pub fn eval(&self, request: &Value, extra: &[&str]) -> Output {
        std::fs::write(self.0.join("eval.json"), request.to_string()).unwrap();
        let mut args = vec!["eval", "policy.aarmb", "--input", "eval.json"];
        args.extend_from_slice(extra);
        self.run(&args)
    }

    /// The decision of `aarm eval` for `request`.
    pub fn decide(&self, request: &Value) -> Value {
        let out = self.eval(request, &[]);
        assert!(out.status.success(), "{}", text(&out.stderr));
        serde_json::from_slice(&out.stdout).unwrap()
    }

    /// `aarm case ARGS` on the signed store `cases.db` at `now`.
    pub fn case(&self, args: &[&str], now: &str) -> Output {
        common::signed_case(&self.0, args, now)
    }

    /// `aarm case open` for `request` at `now`: the decision, with `case` and `receipt`.
    pub fn open(&self, request: &Value, now: &str) -> Value {
        std::fs::write(self.0.join("request.json"), request.to_string()).unwrap();
        let out = self.case(&["open", "--bundle", "policy.aarmb", "--input", "request.json"], now);
        assert!(out.status.success(), "{}", text(&out.stderr));
        serde_json::from_slice(&out.stdout).unwrap()
    }

    /// `aarm case show ID`.
    pub fn show(&self, id: &str, now: &str) -> Value {
        let out = self.case(&["show", id], now);
        assert!(out.status.success(), "{}", text(&out.stderr));
        serde_json::from_slice(&out.stdout).unwrap()
    }

    /// A signed export of the whole chain (or of one case) written to `file`: its receipts, then
    /// its head.
    pub fn export(&self, case: Option<&str>, file: &str) -> Vec<Value> {
        let mut args = vec!["receipts", "export", "--store", "cases.db", "--sign-key", "key.hex"];
        if let Some(id) = case {
            args.extend_from_slice(&["--case", id]);
        }
        let out = self.run(&args);
        assert!(out.status.success(), "{}", text(&out.stderr));
        std::fs::write(self.0.join(file), &out.stdout).unwrap();
        text(&out.stdout).lines().map(|l| serde_json::from_str(l).unwrap()).collect()
    }

    /// `aarm receipts verify FILE --key key.pub`.
    pub fn verify(&self, file: &str) -> Output {
        self.run(&["receipts", "verify", file, "--key", "key.pub"])
    }
}

pub fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

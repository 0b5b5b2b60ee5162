//! Issue 13, "Audit trail" and "Identities", through the real CLI binary on a SQLite store:
//! `aarm case …`, `aarm receipts …` and `aarm test`, driven with `--now`.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]

mod common;
use common::aarm;
use serde_json::{json, Value};
use std::path::{Path, PathBuf};
use std::process::Output;

const POLICY: &str = r#"
policy ops version "1"

tool deploy { env: String }
tool transfer { amount: Int }
evidence window_ok: Bool from "maintenance_api"
group finance = ["CFO@corp.com", "controller@corp.com"]

rule prod on deploy priority 90 {
  when params.env == "prod"
  step_up { approvers 1 of role "security-admin"  timeout 1h -> deny }
  reason "deploy.prod" "Production deploys need a security admin"
}
rule other on deploy { allow }

rule big on transfer priority 90 {
  when params.amount > 1000
  step_up { approvers 1 of finance  timeout 1h -> deny }
  reason "transfer.big" "Big transfers need finance"
}
rule small on transfer { allow }

test "a security admin vetoes a production deploy" {
  action deploy { env: "prod" }
  deny by "sec@corp.com" "not this week" roles ["security-admin"]
  expect deny reason "vetoed"
}

test "without the role, a denial is refused" {
  action deploy { env: "prod" }
  deny by "dev@corp.com"
  expect rejected "not_an_approver"
  expect pending
}
"#;

struct Dir(common::Scratch);

impl Dir {
    /// A scratch directory with the policy built to `ops.aarmb`.
    fn new(name: &str) -> Dir {
        Dir(common::signed_case_dir("audit", name, "ops", POLICY))
    }

    fn run(&self, args: &[&str]) -> Output {
        aarm().args(args).current_dir(&self.0).output().unwrap()
    }

    /// `aarm case …` on the signed store `cases.db` at `now`.
    fn case(&self, args: &[&str], now: &str) -> Output {
        common::signed_case(&self.0, args, now)
    }

    /// Opens a case (or decides) for `request` at `now`, with extra flags.
    fn open(&self, request: &Value, now: &str, extra: &[&str]) -> Value {
        std::fs::write(self.0.join("request.json"), request.to_string()).unwrap();
        let mut args = vec!["open", "--bundle", "ops.aarmb", "--input", "request.json"];
        args.extend_from_slice(extra);
        let out = self.case(&args, now);
        assert!(out.status.success(), "{}", stderr(&out));
        serde_json::from_slice(&out.stdout).unwrap()
    }

    fn write(&self, name: &str, text: &str) -> PathBuf {
        let p = self.0.join(name);
        std::fs::write(&p, text).unwrap();
        p
    }
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).to_string()
}

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).to_string()
}

fn deploy(env: &str) -> Value {
    json!({ "action": { "tool": "deploy", "params": { "env": env } },
            "identity": { "human": "alice@corp.com", "agent": "deploy-bot" } })
}

fn transfer(amount: i64, human: &str) -> Value {
    json!({ "action": { "tool": "transfer", "params": { "amount": amount } },
            "identity": { "human": human, "agent": "pay-bot" } })
}

fn verify(dir: &Dir, file: &Path) -> Output {
    dir.run(&["receipts", "verify", file.to_str().unwrap(), "--key", "key.pub"])
}

#[test]
fn case_open_leaves_a_receipt_for_every_decision() {
    let dir = Dir::new("receipts");
    let allowed = dir.open(&deploy("staging"), "2026-11-24T10:00:00Z", &[]);
    let pending = dir.open(&deploy("prod"), "2026-11-24T10:01:00Z", &[]);
    assert_eq!((allowed["decision"].as_str(), pending["decision"].as_str()), (Some("allow"), Some("step_up")));
    let out = dir.run(&["receipts", "export", "--store", "cases.db", "--sign-key", "key.hex"]);
    let text = stdout(&out);
    let receipts: Vec<Value> = text.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(receipts.len(), 3, "two receipts and the export head: {text}");
    assert_eq!(
        (receipts[0]["event"].as_str(), receipts[0]["hash"].as_str()),
        (Some("decide"), allowed["receipt"].as_str())
    );
    assert_eq!(
        (receipts[1]["event"].as_str(), receipts[1]["hash"].as_str()),
        (Some("open"), pending["receipt"].as_str())
    );
    let file = dir.write("all.jsonl", &text);
    let out = verify(&dir, &file);
    assert!(out.status.success(), "{}", stderr(&out));
}

#[test]
fn a_per_case_export_missing_any_receipt_does_not_verify() {
    let dir = Dir::new("export");
    let case = dir.open(&deploy("prod"), "2026-11-24T10:00:00Z", &[])["case"].as_str().unwrap().to_string();
    // Another case's receipts interleave with this one's.
    dir.open(&deploy("prod"), "2026-11-24T10:01:00Z", &[]);
    let out = dir.case(&["deny", &case, "--by", "dev@corp.com", "--roles", "security-admin"], "2026-11-24T10:02:00Z");
    assert!(out.status.success(), "{}", stderr(&out));
    let out = dir.run(&["receipts", "export", "--store", "cases.db", "--case", &case, "--sign-key", "key.hex"]);
    let text = stdout(&out);
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 3, "open, the veto, the head: {text}");
    let whole = dir.write("case.jsonl", &text);
    let out = verify(&dir, &whole);
    assert!(out.status.success(), "{}", stderr(&out));

    // The final veto dropped, head kept: the head names one more receipt.
    let no_veto = dir.write("no-veto.jsonl", &[lines[0], lines[2]].join("\n"));
    let out = verify(&dir, &no_veto);
    assert_eq!(out.status.code(), Some(1), "{}", stdout(&out));
    assert!(stderr(&out).contains("promises 2 receipts"), "{}", stderr(&out));
    // The veto and the head dropped: without a head, completeness cannot be shown.
    let bare = dir.write("bare.jsonl", lines[0]);
    let out = verify(&dir, &bare);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("no head"), "{}", stderr(&out));
    // The veto dropped and the head restated without the key: not signed.
    let mut head: Value = serde_json::from_str(lines[2]).unwrap();
    let first: Value = serde_json::from_str(lines[0]).unwrap();
    head["export_head"]["count"] = json!(1);
    head["export_head"]["last"] = first["hash"].clone();
    head["export_head"].as_object_mut().unwrap().remove("signature");
    let forged = dir.write("forged.jsonl", &[lines[0].to_string(), head.to_string()].join("\n"));
    assert_eq!(verify(&dir, &forged).status.code(), Some(1));
    // The first receipt dropped: the veto is the case's second receipt, not its first.
    let no_open = dir.write("no-open.jsonl", &[lines[1], lines[2]].join("\n"));
    let out = verify(&dir, &no_open);
    assert_eq!(out.status.code(), Some(1));
}

#[test]
fn role_based_approvers_deny_from_the_cli_and_the_test_language() {
    let dir = Dir::new("roles");
    let case = dir.open(&deploy("prod"), "2026-11-24T10:00:00Z", &[])["case"].as_str().unwrap().to_string();
    let out = dir.case(&["deny", &case, "--by", "dev@corp.com"], "2026-11-24T10:01:00Z");
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("not_an_approver"), "{}", stderr(&out));
    let out = dir.case(&["deny", &case, "--by", "sec@corp.com", "--roles", "security-admin"], "2026-11-24T10:02:00Z");
    assert!(out.status.success(), "{}", stderr(&out));
    let c: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!((c["state"].as_str(), c["resolution"]["code"].as_str()), (Some("denied"), Some("vetoed")));

    let out = dir.run(&["test", "policy"]);
    assert!(out.status.success(), "{}{}", stdout(&out), stderr(&out));
    assert!(stdout(&out).contains("2 passed"), "{}", stdout(&out));
}

#[test]
fn identities_compare_case_insensitively_for_self_approval_and_groups() {
    let dir = Dir::new("identities");
    let case = dir.open(&transfer(5000, "Controller@Corp.com"), "2026-11-24T10:00:00Z", &[])["case"]
        .as_str()
        .unwrap()
        .to_string();
    let out = dir.case(&["approve", &case, "--by", "controller@corp.com"], "2026-11-24T10:01:00Z");
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("self_approval"), "{}", stderr(&out));
    // The group says `CFO@corp.com`: `cfo@corp.com` is that member.
    let out = dir.case(&["approve", &case, "--by", "cfo@corp.com"], "2026-11-24T10:02:00Z");
    assert!(out.status.success(), "{}", stderr(&out));
    let c: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(c["state"], "allowed");
}

/// `aarm case` takes requests as written (no door refuses them): a requester padded with white
/// space, a zero-width space or a full-width `＠` is still the approver, so approving is
/// `self_approval`.
#[test]
fn a_padded_or_disguised_requester_cannot_approve_their_own_action() {
    let dir = Dir::new("identities-spoof");
    for (i, requester) in
        ["controller@corp.com ", "controller\u{200b}@corp.com", "controller\u{ff20}corp.com"].iter().enumerate()
    {
        let at = |m: usize| format!("2026-11-24T1{i}:0{m}:00Z");
        let case = dir.open(&transfer(5000, requester), &at(0), &[])["case"].as_str().unwrap().to_string();
        let out = dir.case(&["approve", &case, "--by", "controller@corp.com"], &at(1));
        assert_eq!(out.status.code(), Some(1), "{requester:?}");
        assert!(stderr(&out).contains("self_approval"), "{requester:?}: {}", stderr(&out));
    }
}

#[test]
fn evidence_is_given_once_and_attributed() {
    let dir = Dir::new("evidence");
    let case =
        dir.open(&transfer(5000, "alice@corp.com"), "2026-11-24T10:00:00Z", &[])["case"].as_str().unwrap().to_string();
    let out = dir.case(&["provide", &case, "window_ok=true", "--by", "ops-bot"], "2026-11-24T10:01:00Z");
    assert!(out.status.success(), "{}", stderr(&out));
    let out = dir.case(&["provide", &case, "window_ok=false", "--by", "ops-bot"], "2026-11-24T10:02:00Z");
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("evidence_already_provided"), "{}", stderr(&out));
    let out = dir.run(&["receipts", "export", "--store", "cases.db", "--case", &case]);
    let provide: Value = stdout(&out)
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap())
        .find(|r| r["event"] == "provide")
        .unwrap();
    assert_eq!(provide["actor"], "ops-bot");
    assert!(provide["detail"]["value_hash"].as_str().unwrap().starts_with("sha256:"), "{provide}");
}

#[test]
fn a_release_after_the_credential_expired_is_identity_invalid_until_revalidated() {
    let dir = Dir::new("expiry");
    let opened = dir.open(
        &transfer(5000, "alice@corp.com"),
        "2026-11-24T10:00:00Z",
        &["--identity-valid-until", "2026-11-24T10:05:00Z"],
    );
    let case = opened["case"].as_str().unwrap().to_string();
    let out = dir.case(&["approve", &case, "--by", "cfo@corp.com"], "2026-11-24T10:10:00Z");
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("identity_invalid"), "{}", stderr(&out));
    // Only the requester's own credential renews it.
    let out = dir.case(
        &["revalidate", &case, "--by", "someone-else", "--valid-until", "2026-11-24T11:00:00Z"],
        "2026-11-24T10:11:00Z",
    );
    assert_eq!(out.status.code(), Some(1));
    let out = dir.case(
        &["revalidate", &case, "--by", "pay-bot", "--valid-until", "2026-11-24T11:00:00Z"],
        "2026-11-24T10:12:00Z",
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let out = dir.case(&["approve", &case, "--by", "cfo@corp.com"], "2026-11-24T10:13:00Z");
    assert!(out.status.success(), "{}", stderr(&out));
    let c: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(c["state"], "allowed");
}

//! End-to-end tests of `aarm test`: the standard library's tests and every example's pass with
//! every rule reached, and a failing test says which step, what was expected and what happened.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]

use std::path::{Path, PathBuf};
use std::process::Output;

mod common;
use common::{aarm, root};

fn test(args: &[&str], dir: &Path) -> Output {
    aarm().arg("test").args(args).current_dir(dir).output().unwrap()
}

fn bundles() -> Vec<PathBuf> {
    let mut dirs: Vec<PathBuf> =
        std::fs::read_dir(root().join("examples")).unwrap().map(|e| e.unwrap().path()).filter(|p| p.is_dir()).collect();
    dirs.sort();
    dirs.push(root().join("stdlib"));
    dirs
}

#[test]
fn every_example_and_the_standard_library_pass_their_tests_reaching_every_rule() {
    for dir in bundles() {
        let out = test(&["--format", "json", dir.to_str().unwrap()], &root());
        let report: serde_json::Value = serde_json::from_slice(&out.stdout)
            .unwrap_or_else(|e| panic!("{}: {e}\n{}", dir.display(), String::from_utf8_lossy(&out.stderr)));
        assert_eq!(out.status.code(), Some(0), "{}: {report}", dir.display());
        let results = report["results"].as_array().unwrap();
        assert!(!results.is_empty(), "{} has no tests", dir.display());
        let failed: Vec<&serde_json::Value> = results.iter().filter(|r| r["passed"] != true).collect();
        assert!(failed.is_empty(), "{}: {failed:?}", dir.display());
        assert_eq!(report["rules_not_reached"], serde_json::json!([]), "{}", dir.display());
    }
}

/// A scratch directory for the test `name` with `policy` as its p.aarm.
fn dir_with_policy(name: &str, policy: &str) -> common::Scratch {
    common::scratch_with_policy("test", name, policy)
}

/// Lines 1 to 4 of the small policies below: `big` denies `t` above 10; nothing allows.
const BIG_IS_DENIED: &str = "policy p version \"1\"\ntool t { x: Int }\nrule big on t { when params.x > 10\n deny }\n";
/// A test that fails on [`BIG_IS_DENIED`]: a small `t` is denied by default.
const TEST_SMALL_IS_ALLOWED: &str = "test \"small is allowed\" {\n  action t { x: 3 }\n  expect allow\n}\n";
/// A test that passes on [`BIG_IS_DENIED`].
const TEST_BIG_IS_DENIED: &str = "test \"big is denied\" {\n  action t { x: 30 }\n  expect deny rule big\n}\n";

#[test]
fn a_failing_test_names_its_step_and_exits_1() {
    let dir = dir_with_policy("failing", &[BIG_IS_DENIED, TEST_SMALL_IS_ALLOWED].concat());
    let out = test(&["."], &dir);
    assert_eq!(out.status.code(), Some(1));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("FAILED  small is allowed"), "{stdout}");
    assert!(stdout.contains("step 2 (line 7): expected allow"), "{stdout}");
    assert!(stdout.contains("actual   deny (rule none, reason default.deny)"), "{stdout}");
    assert!(stdout.contains("not reached: p.big"), "{stdout}");
    assert!(stdout.trim_end().ends_with("0 passed, 1 failed"), "{stdout}");
}

/// The policy the test-language tests below run: an operation that opens a case, one that is
/// rewritten, and a tool whose nested records have optional fields.
const OPERATIONS: &str = r#"policy ops version "1"
tool edit { path: String, opts: { mode: String, force: Bool?, limit: Decimal? }, items: List<{ k: String, v: Int? }>? }
rule writes_need_lead on edit {
  when action.operation == "write"
  step_up {
    approvers 1 of role "lead"
    timeout 1h -> deny
  }
  reason "lead" "needs a lead"
}
rule trims_are_rewritten on edit {
  when action.operation == "trim"
  modify { params.path = "/safe" }
  reason "trim" "trimmed"
}
"#;

#[test]
fn operations_modified_parameters_cancellation_receipts_and_nested_optional_fields_can_be_tested() {
    let tests = r#"
test "a write opens a case that the host withdraws" {
  action edit operation "write" { path: "a", opts: { mode: "x" } }
  expect step_up rule writes_need_lead
  cancel
  expect cancel
  expect deny reason "cancelled"
  expect receipts ["open", "cancel"]
}
test "a lead's denial by role is a veto, not a cancellation" {
  action edit operation "write" { path: "a", opts: { mode: "x" } }
  deny by "lead@corp.com" roles ["lead"]
  expect deny reason "vetoed"
  expect receipts ["open", "deny"]
}
test "a trim is rewritten to the safe path" {
  action edit operation "trim" { items: [{ k: "a" }, { v: 1, k: "b" }], path: "a", opts: { force: true, mode: "x", limit: 2 } }
  expect modify { path: "/safe", opts: { mode: "x", limit: 2.0 } } rule trims_are_rewritten
  expect receipts ["decide"]
}
"#;
    let dir = dir_with_policy("language", &format!("{OPERATIONS}{tests}"));
    let out = test(&["."], &dir);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{stdout}{}", String::from_utf8_lossy(&out.stderr));
    assert!(stdout.trim_end().ends_with("3 passed, 0 failed"), "{stdout}");
}

#[test]
fn each_new_expectation_fails_when_it_does_not_hold() {
    let tests = r#"
test "the wrong rewrite" {
  action edit operation "trim" { path: "a", opts: { mode: "x" } }
  expect modify { path: "/other" }
}
test "a veto is not a cancellation" {
  action edit operation "write" { path: "a", opts: { mode: "x" } }
  deny by "lead@corp.com" roles ["lead"]
  expect cancel
}
test "another trail" {
  action edit operation "write" { path: "a", opts: { mode: "x" } }
  expect receipts ["open", "approve"]
}
test "no operation: no rule applies" {
  action edit { path: "a", opts: { mode: "x" } }
  expect step_up
}
"#;
    let dir = dir_with_policy("language-failing", &format!("{OPERATIONS}{tests}"));
    let out = test(&["."], &dir);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{stdout}");
    for want in [
        r#"expected modify {"path":"/other"}"#,
        r#"actual   modify {"path":"/safe","opts":{"mode":"x"}}"#,
        "expected cancel (the case withdrawn)",
        "actual   deny (case denied, rule ops.writes_need_lead, reason vetoed)",
        "expected receipts [open, approve]",
        "actual   receipts [open]",
        "actual   deny (rule none, reason default.deny)",
    ] {
        assert!(stdout.contains(want), "{want}\n{stdout}");
    }
    assert!(stdout.trim_end().ends_with("0 passed, 4 failed"), "{stdout}");
}

#[test]
fn a_test_without_expect_does_not_compile() {
    let tests = "test \"checks nothing\" {\n  action edit { path: \"a\", opts: { mode: \"x\" } }\n}\n";
    let dir = dir_with_policy("no-expect", &format!("{OPERATIONS}{tests}"));
    let out = test(&["."], &dir);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("[E0403]") && stderr.contains("has no `expect` step"), "{stderr}");
}

#[test]
fn filter_runs_only_the_tests_whose_name_contains_it_and_fails_when_it_selects_none() {
    let dir = dir_with_policy("filter", &[BIG_IS_DENIED, TEST_SMALL_IS_ALLOWED, TEST_BIG_IS_DENIED].concat());
    let out = test(&["--filter", "big", "."], &dir);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{stdout}");
    assert!(stdout.contains("ok      big is denied") && !stdout.contains("small"), "{stdout}");
    assert!(stdout.trim_end().ends_with("1 passed, 0 failed"), "{stdout}");

    let out = test(&["--filter", "nothing like it", "."], &dir);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("no test name contains \"nothing like it\""), "{stderr}");
}

#[test]
fn junit_format_is_a_report_a_ci_system_reads_with_each_failure_and_each_broken_bundle() {
    let dir = common::scratch("test", "junit");
    let good = dir.join("good");
    let broken = dir.join("broken");
    std::fs::create_dir_all(&good).unwrap();
    std::fs::create_dir_all(&broken).unwrap();
    let small = "test \"small <is> allowed & fine\" {\n  action t { x: 3 }\n  expect allow\n}\n";
    std::fs::write(good.join("p.aarm"), [BIG_IS_DENIED, small, TEST_BIG_IS_DENIED].concat()).unwrap();
    std::fs::write(broken.join("p.aarm"), "policy q version \"1\"\ntool t { x: Int }\nrule r on t { deny\n").unwrap();
    let out = test(&["--format", "junit", "good", "broken"], &dir);
    assert_eq!(out.status.code(), Some(1));
    let xml = String::from_utf8(out.stdout).unwrap();
    // Read back by the crate's own reader, as a CI system would read it.
    let report = quick_junit::Report::deserialize_from_str(&xml).unwrap_or_else(|e| panic!("{e}\n{xml}"));
    assert_eq!((report.tests, report.failures, report.errors), (3, 1, 1), "{xml}");
    let good = &report.test_suites[0];
    assert_eq!(good.name.as_str(), "good");
    let names: Vec<&str> = good.test_cases.iter().map(|c| c.name.as_str()).collect();
    assert_eq!(names, ["small <is> allowed & fine", "big is denied"]);
    assert!(xml.contains("step 2 (line 7): expected allow"), "{xml}");
    assert!(xml.contains("small &lt;is&gt; allowed &amp; fine"), "{xml}");
    assert_eq!(report.test_suites[1].name.as_str(), "broken");
    assert_eq!(report.test_suites[1].errors, 1, "{xml}");
}

#[test]
fn min_coverage_fails_below_the_share_of_rules_the_tests_reach() {
    let small = "rule small on t { when params.x < 5\n allow }\n";
    let dir = dir_with_policy("min-coverage", &[BIG_IS_DENIED, small, TEST_BIG_IS_DENIED].concat());
    // One rule of two is reached: 50%.
    let out = test(&["--min-coverage", "50", "."], &dir);
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    let out = test(&["--min-coverage", "51", "."], &dir);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("the tests reach 1 of 2 rules (50.0%), below --min-coverage 51%"), "{stderr}");
    // Not a percentage: a usage error.
    let out = test(&["--min-coverage", "101", "."], &dir);
    assert_eq!(out.status.code(), Some(2));
}

/// A policy whose tests take some branches of its conditions: `large`'s line is true and false,
/// `params.amount > 10000` true and false, `params.currency != "EUR"` only true (the second test
/// stops at the amount); `unverified` is consulted only in the second test (the first is decided
/// at priority 50), where `not evidence.kyc_ok` is unknown, then false once the fact is provided.
/// 7 of 9 branches.
const BRANCHES: &str = r#"policy pay version "1"
tool transfer { amount: Int, currency: String }
evidence kyc_ok: Bool from "kyc"

rule large on transfer priority 50 {
  when params.amount > 10000 and params.currency != "EUR"
  deny
}
rule unverified on transfer priority 10 {
  when not evidence.kyc_ok
  deny
}
rule rest on transfer {
  allow
}
test "first: large dollars are denied" {
  action transfer { amount: 20000, currency: "USD" }
  expect deny rule large
}
test "first: a small transfer waits for the KYC check" {
  action transfer { amount: 5, currency: "USD" }
  expect defer
  provide kyc_ok = true
  expect allow rule rest
}
test "second: large euros of an unverified customer" {
  action transfer { amount: 20000, currency: "EUR" }
  evidence { kyc_ok: false }
  expect deny rule unverified
}
"#;

fn branches_dir(name: &str) -> common::Scratch {
    dir_with_policy(name, BRANCHES)
}

#[test]
fn branch_coverage_counts_each_outcome_of_each_condition_the_tests_reached() {
    let dir = branches_dir("branches");
    let out = test(&["--filter", "first", "."], &dir);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{stdout}{}", String::from_utf8_lossy(&out.stderr));
    assert!(stdout.contains("\nrule coverage .: 3 of 3 rules reached by a test (100.0%)\n"), "{stdout}");
    assert!(stdout.contains("\nbranch coverage .: 7 of 9 branches taken (77.7%)\n"), "{stdout}");
    assert!(stdout.contains("\n        --coverage lists the 2 branches not taken\n"), "{stdout}");
    assert!(!stdout.contains("p.aarm:6:34"), "listed only with --coverage: {stdout}");

    let out = test(&["--filter", "first", "--coverage", "."], &dir);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{stdout}");
    let listed: Vec<&str> = stdout.lines().filter(|l| l.starts_with("        p.aarm:")).collect();
    assert_eq!(
        listed,
        [
            "        p.aarm:6:34 `params.currency != \"EUR\"` (rule pay.large): true ✓  false ✗",
            "        p.aarm:10:8 `not evidence.kyc_ok` (rule pay.unverified): true ✗  false ✓  unknown ✓",
        ],
        "{stdout}"
    );

    // The third test takes both: every branch.
    let out = test(&["--coverage", "--min-coverage", "100", "."], &dir);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{stdout}{}", String::from_utf8_lossy(&out.stderr));
    assert!(stdout.contains("\nbranch coverage .: 9 of 9 branches taken (100.0%)\n3 passed, 0 failed"), "{stdout}");
}

#[test]
fn min_coverage_fails_when_the_branches_taken_are_below_it_and_says_so() {
    let dir = branches_dir("min-branches");
    // 7 of 9 branches is 77.7%: 77 passes, 78 does not, while every rule is reached.
    let out = test(&["--filter", "first", "--min-coverage", "77", "."], &dir);
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    let out = test(&["--filter", "first", "--min-coverage", "78", "."], &dir);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("error: the tests take 7 of 9 branches (77.7%), below --min-coverage 78%"), "{stderr}");
    assert!(stderr.contains("help: `aarm test --coverage` lists the conditions"), "{stderr}");
    assert!(!stderr.contains("rules"), "the rules are all reached: {stderr}");
}

#[test]
fn json_and_junit_carry_the_branch_figures_and_the_branches_not_taken() {
    let dir = branches_dir("branches-json");
    let out = test(&["--filter", "first", "--format", "json", "."], &dir);
    assert_eq!(out.status.code(), Some(0));
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!((report["rules_reached"].as_u64(), report["rules_total"].as_u64()), (Some(3), Some(3)));
    assert_eq!((report["branches_taken"].as_u64(), report["branches_total"].as_u64()), (Some(7), Some(9)));
    assert_eq!(
        report["branches_not_taken"],
        serde_json::json!([
            { "rule": "pay.large", "file": "p.aarm", "line": 6, "column": 34,
              "condition": "params.currency != \"EUR\"", "taken": ["true"], "not_taken": ["false"] },
            { "rule": "pay.unverified", "file": "p.aarm", "line": 10, "column": 8,
              "condition": "not evidence.kyc_ok", "taken": ["false", "unknown"], "not_taken": ["true"] },
        ])
    );

    let out = test(&["--filter", "first", "--format", "junit", "."], &dir);
    assert_eq!(out.status.code(), Some(0));
    let xml = String::from_utf8(out.stdout).unwrap();
    let report = quick_junit::Report::deserialize_from_str(&xml).unwrap_or_else(|e| panic!("{e}\n{xml}"));
    let properties: Vec<(&str, &str)> =
        report.test_suites[0].properties.iter().map(|p| (p.name.as_str(), p.value.as_str())).collect();
    for want in [
        ("branches_taken", "7"),
        ("branches_total", "9"),
        ("branch_not_taken", "p.aarm:6:34 `params.currency != \"EUR\"` false (rule pay.large)"),
        ("branch_not_taken", "p.aarm:10:8 `not evidence.kyc_ok` true (rule pay.unverified)"),
    ] {
        assert!(properties.contains(&want), "{want:?} in {properties:?}");
    }
}

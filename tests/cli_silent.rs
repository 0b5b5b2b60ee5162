//! Nothing passes silently: `aarm check`, `aarm test` (and every command that loads policy
//! sources) on a path that holds no `.aarm` file, and `aarm test` on a bundle without any test,
//! exit non-zero with a message that says what is missing and what to do. A CI job whose path
//! is mistyped, or whose test files were deleted, must not go green having looked at nothing.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]

use std::path::Path;
use std::process::Output;

mod common;
use common::{aarm, scratch};

fn run(args: &[&str], dir: &Path) -> Output {
    aarm().args(args).current_dir(dir).output().unwrap()
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// A directory with files in it, none of them a policy (a README, a request, a nested folder).
fn no_policy_dir(name: &str) -> common::Scratch {
    let dir = scratch("silent", name);
    std::fs::write(dir.join("README.md"), "# policies go here\n").unwrap();
    std::fs::write(dir.join("request.json"), "{\"action\": {\"tool\": \"t\"}}\n").unwrap();
    std::fs::create_dir_all(dir.join("nested")).unwrap();
    std::fs::write(dir.join("nested/notes.txt"), "not a policy\n").unwrap();
    dir
}

const RULES_WITHOUT_TESTS: &str =
    "policy p version \"1\"\ntool t { x: Int }\nrule big on t { when params.x > 10\n deny }\n";

const A_TESTED_BUNDLE: &str =
    "policy q version \"1\"\ntool t { x: Int }\nrule big on t { when params.x > 10\n deny }\n\
     test \"big is denied\" {\n  action t { x: 30 }\n  expect deny rule big\n}\n";

/// Runs `aarm ARGS…` in `dir`, which has no policy: it must exit 2 saying so, with the help.
fn refused_for_no_policy(args: &[&str], dir: &Path) -> Output {
    let out = run(args, dir);
    let what = args.join(" ");
    assert_eq!(out.status.code(), Some(2), "{what}: {}{}", stdout(&out), stderr(&out));
    let err = stderr(&out);
    assert!(err.contains("no `.aarm` file in this directory or under it"), "{what}: {err}");
    assert!(err.contains("help: give the directory that holds the policy files"), "{what}: {err}");
    out
}

#[test]
fn check_on_a_directory_without_policies_is_an_error_not_a_clean_run() {
    let dir = no_policy_dir("check");
    let out = refused_for_no_policy(&["check", "."], &dir);
    assert!(!stderr(&out).contains("no problems"), "{}", stderr(&out));
    // The default path (`.`) is no exception.
    refused_for_no_policy(&["check"], &dir);
}

#[test]
fn check_of_several_paths_fails_when_one_of_them_has_no_policy() {
    let dir = no_policy_dir("check-several");
    std::fs::create_dir_all(dir.join("good")).unwrap();
    std::fs::write(dir.join("good/p.aarm"), A_TESTED_BUNDLE).unwrap();
    std::fs::create_dir_all(dir.join("empty")).unwrap();
    let out = run(&["check", "good", "empty"], &dir);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains("empty: no `.aarm` file"), "{}", stderr(&out));
}

#[test]
fn test_on_a_directory_without_policies_is_an_error() {
    let dir = no_policy_dir("test");
    let out = refused_for_no_policy(&["test", "."], &dir);
    assert!(!stdout(&out).contains("0 passed, 0 failed"), "{}", stdout(&out));
}

#[test]
fn build_and_analyze_refuse_a_directory_without_policies_too() {
    let dir = no_policy_dir("build");
    refused_for_no_policy(&["build", ".", "-o", "out.aarmb"], &dir);
    assert!(!dir.join("out.aarmb").exists(), "an empty bundle was written");
    refused_for_no_policy(&["analyze", "."], &dir);
}

#[test]
fn test_on_a_bundle_without_tests_fails_with_a_help() {
    let dir = scratch("silent", "no-tests");
    std::fs::write(dir.join("p.aarm"), RULES_WITHOUT_TESTS).unwrap();
    let out = run(&["test", "."], &dir);
    assert_eq!(out.status.code(), Some(1), "{}{}", stdout(&out), stderr(&out));
    let err = stderr(&out);
    assert!(err.contains("error: . has no `test` block, so nothing was tested"), "{err}");
    assert!(err.contains("or pass `--allow-no-tests`"), "{err}");
    // The same in JSON: the report is printed, the run still fails.
    let out = run(&["test", "--format", "json", "."], &dir);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(stderr(&out).contains("has no `test` block"), "{}", stderr(&out));
}

#[test]
fn allow_no_tests_lets_a_bundle_without_tests_pass() {
    let dir = scratch("silent", "allowed");
    std::fs::write(dir.join("p.aarm"), RULES_WITHOUT_TESTS).unwrap();
    let out = run(&["test", "--allow-no-tests", "."], &dir);
    assert_eq!(out.status.code(), Some(0), "{}{}", stdout(&out), stderr(&out));
    assert!(stdout(&out).trim_end().ends_with("0 passed, 0 failed"), "{}", stdout(&out));
    // The flag does not excuse a path with no policy at all.
    let empty = no_policy_dir("allowed-empty");
    refused_for_no_policy(&["test", "--allow-no-tests", "."], &empty);
}

#[test]
fn one_untested_bundle_among_tested_ones_fails_the_run_but_the_others_still_run() {
    let dir = scratch("silent", "mixed");
    std::fs::create_dir_all(dir.join("tested")).unwrap();
    std::fs::create_dir_all(dir.join("untested")).unwrap();
    std::fs::write(dir.join("tested/q.aarm"), A_TESTED_BUNDLE).unwrap();
    std::fs::write(dir.join("untested/p.aarm"), RULES_WITHOUT_TESTS).unwrap();
    let out = run(&["test", "untested", "tested"], &dir);
    assert_eq!(out.status.code(), Some(1), "{}{}", stdout(&out), stderr(&out));
    assert!(stderr(&out).contains("untested has no `test` block"), "{}", stderr(&out));
    assert!(stdout(&out).contains("ok      big is denied"), "{}", stdout(&out));
    assert!(stdout(&out).trim_end().ends_with("1 passed, 0 failed"), "{}", stdout(&out));
}

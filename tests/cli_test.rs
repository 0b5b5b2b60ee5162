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

#[test]
fn a_failing_test_names_its_step_and_exits_1() {
    let dir = common::scratch("test", "failing");
    std::fs::write(
        dir.join("p.aarm"),
        "policy p version \"1\"\ntool t { x: Int }\nrule big on t { when params.x > 10\n deny }\n\
         test \"small is allowed\" {\n  action t { x: 3 }\n  expect allow\n}\n",
    )
    .unwrap();
    let out = test(&["."], &dir);
    assert_eq!(out.status.code(), Some(1));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("FAILED  small is allowed"), "{stdout}");
    assert!(stdout.contains("step 2 (line 7): expected allow"), "{stdout}");
    assert!(stdout.contains("actual   deny (rule none, reason default.deny)"), "{stdout}");
    assert!(stdout.contains("not reached: p.big"), "{stdout}");
    assert!(stdout.trim_end().ends_with("0 passed, 1 failed"), "{stdout}");
}

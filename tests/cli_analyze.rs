//! End-to-end tests of `aarm analyze`: exit codes (0 clean, 1 findings or errors, 2 I/O), JSON
//! output, and every example analyzing clean.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]

use std::path::Path;
use std::process::Output;

mod common;
use common::{aarm, root};

const CLEAN: &str = "policy p version \"1\"\ntool t { q: String }\nrule r on t { when params.q == \"x\"\n deny }\n";
const SHADOWED: &str =
    "policy p version \"1\"\ntool t { q: String }\nrule always on t priority 9 { deny }\nrule r on t { when params.q == \"x\"\n allow }\n";

fn analyze(args: &[&str], dir: &Path) -> Output {
    aarm().arg("analyze").args(args).current_dir(dir).output().unwrap()
}

#[test]
fn clean_bundle_exits_zero() {
    let dir = common::scratch("analyze", "clean");
    std::fs::write(dir.join("a.aarm"), CLEAN).unwrap();
    let out = analyze(&["a.aarm"], &dir);
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
}

#[test]
fn findings_exit_one_and_print_json() {
    let dir = common::scratch("analyze", "shadowed");
    std::fs::write(dir.join("a.aarm"), SHADOWED).unwrap();
    let out = analyze(&["--format", "json", "a.aarm"], &dir);
    assert_eq!(out.status.code(), Some(1));
    let line = String::from_utf8_lossy(&out.stdout);
    let v: serde_json::Value = serde_json::from_str(line.trim()).unwrap();
    assert_eq!(v["code"], "W0015");
    assert!(v["message"].as_str().unwrap().contains("`p.always`"), "{v}");
}

#[test]
fn errors_exit_one_and_missing_path_exits_two() {
    let dir = common::scratch("analyze", "errors");
    std::fs::write(dir.join("a.aarm"), "policy p version \"1\"\nrule r on nope { deny }\n").unwrap();
    assert_eq!(analyze(&["a.aarm"], &dir).status.code(), Some(1));
    assert_eq!(analyze(&["missing.aarm"], &dir).status.code(), Some(2));
}

#[test]
fn every_example_analyzes_clean() {
    let examples = root().join("examples");
    let mut dirs: Vec<_> =
        std::fs::read_dir(&examples).unwrap().map(|e| e.unwrap().path()).filter(|p| p.is_dir()).collect();
    dirs.sort();
    for d in dirs {
        let out = analyze(&[d.to_str().unwrap()], &examples);
        assert_eq!(out.status.code(), Some(0), "{}: {}", d.display(), String::from_utf8_lossy(&out.stderr));
    }
}

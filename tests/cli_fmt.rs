//! End-to-end tests of `aarm fmt`: `--check` exit codes, rewriting in place, and files with
//! syntax errors left untouched.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]

use std::path::Path;
use std::process::Output;

mod common;
use common::{aarm, root};

const FORMATTED: &str = "tool t { q: String }\n\nrule r on t {\n  when params.q == \"x\" // why\n  deny\n}\n";
const MESSY: &str = "tool t {\n  q: String,\n}\nrule r on t { when params.q==\"x\" // why\n deny }";
const BROKEN: &str = "rule r on t { when params.q == \n";

fn fmt(args: &[&str], dir: &Path) -> Output {
    aarm().arg("fmt").args(args).current_dir(dir).output().unwrap()
}

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[test]
fn check_passes_on_a_formatted_file() {
    let dir = common::scratch("fmt", "formatted");
    std::fs::write(dir.join("a.aarm"), FORMATTED).unwrap();
    let out = fmt(&["--check", "a.aarm"], &dir);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(stdout(&out), "");
}

#[test]
fn check_fails_on_a_messy_file_and_names_it_without_writing() {
    let dir = common::scratch("fmt", "messy-check");
    std::fs::write(dir.join("a.aarm"), FORMATTED).unwrap();
    std::fs::write(dir.join("b.aarm"), MESSY).unwrap();
    let out = fmt(&["--check", "."], &dir);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(stdout(&out).contains("b.aarm"), "{}", stdout(&out));
    assert!(!stdout(&out).contains("a.aarm"), "{}", stdout(&out));
    assert_eq!(std::fs::read_to_string(dir.join("b.aarm")).unwrap(), MESSY);
}

#[test]
fn fmt_rewrites_in_place_and_then_check_passes() {
    let dir = common::scratch("fmt", "rewrite");
    std::fs::write(dir.join("b.aarm"), MESSY).unwrap();
    let out = fmt(&["b.aarm"], &dir);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(std::fs::read_to_string(dir.join("b.aarm")).unwrap(), FORMATTED);
    let again = fmt(&["--check", "b.aarm"], &dir);
    assert_eq!(again.status.code(), Some(0), "{}", stderr(&again));
}

#[test]
fn a_file_with_a_syntax_error_exits_1_and_is_untouched() {
    let dir = common::scratch("fmt", "syntax");
    std::fs::write(dir.join("bad.aarm"), BROKEN).unwrap();
    std::fs::write(dir.join("b.aarm"), MESSY).unwrap();
    let out = fmt(&["."], &dir);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(stderr(&out).contains("bad.aarm"), "{}", stderr(&out));
    assert!(stderr(&out).contains("E0"), "the diagnostics are shown: {}", stderr(&out));
    assert_eq!(std::fs::read_to_string(dir.join("bad.aarm")).unwrap(), BROKEN);
    // The other file is still formatted.
    assert_eq!(std::fs::read_to_string(dir.join("b.aarm")).unwrap(), FORMATTED);
}

#[test]
fn a_missing_path_is_a_usage_error() {
    let dir = common::scratch("fmt", "missing");
    let out = fmt(&["nope.aarm"], &dir);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
}

#[test]
fn the_repository_examples_and_stdlib_are_formatted() {
    let out = fmt(&["--check", "examples", "stdlib"], &root());
    assert_eq!(out.status.code(), Some(0), "run `aarm fmt examples stdlib`:\n{}", stdout(&out));
}

#[test]
fn a_directory_without_policies_is_an_error_not_a_clean_run() {
    let dir = common::scratch("fmt", "no-policy");
    std::fs::write(dir.join("README.md"), "# policies go here\n").unwrap();
    let out = fmt(&["--check", "."], &dir);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains("no `.aarm` file in this directory or under it"), "{}", stderr(&out));
    assert!(stderr(&out).contains("help: give the directory that holds the policy files"), "{}", stderr(&out));
    let out = fmt(&[], &dir);
    assert_eq!(out.status.code(), Some(2), "the default path is no exception: {}", stderr(&out));
}

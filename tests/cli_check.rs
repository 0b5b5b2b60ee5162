//! End-to-end tests of `aarm check`: exit codes, output formats, and hostile input.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]

use std::path::{Path, PathBuf};
use std::process::Output;

mod common;
use common::{aarm, golden_difference, root};

fn scratch(name: &str) -> common::Scratch {
    common::scratch("cli", name)
}

fn check(args: &[&str], dir: &Path) -> Output {
    aarm().arg("check").args(args).current_dir(dir).output().unwrap()
}

fn json_lines(out: &Output) -> Vec<serde_json::Value> {
    String::from_utf8_lossy(&out.stdout).lines().map(|l| serde_json::from_str(l).unwrap()).collect()
}

#[test]
fn examples_and_stdlib_check_clean() {
    // What `.ci/run` checks, with the analysis findings as errors.
    let mut paths: Vec<String> = std::fs::read_dir(root().join("examples"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_dir())
        .map(|p| p.to_string_lossy().to_string())
        .collect();
    paths.sort();
    paths.push("stdlib".into());
    let mut args = vec!["--deny-warnings"];
    args.extend(paths.iter().map(String::as_str));
    let out = check(&args, &root());
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(String::from_utf8_lossy(&out.stderr).contains("no problems"));
}

/// A policy with one error: its rule is on a tool it does not declare.
const RULE_ON_AN_UNKNOWN_TOOL: &str = "policy p version \"1\"\ntool t { x: Int }\nrule r on tt { deny }\n";

#[test]
fn errors_exit_1_and_json_has_the_contract_fields() {
    let dir = common::scratch_with_policy("cli", "json", RULE_ON_AN_UNKNOWN_TOOL);
    let out = check(&["--format", "json", "."], &dir);
    assert_eq!(out.status.code(), Some(1));
    let ds = json_lines(&out);
    assert_eq!(ds.len(), 1, "{ds:?}");
    let d = &ds[0];
    for field in ["code", "severity", "message", "file", "line", "column", "end_line", "end_column", "help"] {
        assert!(d.get(field).is_some(), "missing {field} in {d}");
    }
    assert_eq!(d["code"], "E0100");
    assert_eq!(d["severity"], "error");
    assert_eq!((d["line"].as_u64(), d["column"].as_u64()), (Some(3), Some(11)));
    assert_eq!(d["help"], "did you mean `t`?");
    assert!(d["file"].as_str().unwrap().ends_with("p.aarm"));
}

#[test]
fn warnings_fail_only_with_deny_warnings() {
    let dir = scratch("warn");
    std::fs::write(dir.join("p.aarm"), "settings { default allow }\n").unwrap();
    assert_eq!(check(&["."], &dir).status.code(), Some(0));
    assert_eq!(check(&["--deny-warnings", "."], &dir).status.code(), Some(1));
}

#[test]
fn usage_and_io_errors_exit_2() {
    let dir = scratch("io");
    let out = check(&["does/not/exist"], &dir);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("does/not/exist"));
    assert_eq!(check(&["--format", "xml"], &dir).status.code(), Some(2));
}

#[test]
fn hostile_files_are_diagnostics_not_crashes() {
    let dir = scratch("hostile");
    std::fs::write(dir.join("utf8.aarm"), b"tool t { x: Int }\n\xff\xfe rule").unwrap();
    std::fs::write(dir.join("nul.aarm"), b"tool t {\0\0 x: Int }").unwrap();
    let mut deep = String::from("policy d version \"1\"\ntool t { x: Int }\nrule r on t { when ");
    deep.push_str(&"(".repeat(300_000));
    deep.push_str("true");
    deep.push_str(&")".repeat(300_000));
    deep.push_str(" deny }\n");
    std::fs::write(dir.join("deep.aarm"), deep).unwrap();
    std::fs::write(dir.join("nots.aarm"), format!("fn f() -> Bool = {}true\n", "not ".repeat(300_000))).unwrap();
    std::fs::write(dir.join("name.aarm"), format!("tool {} {{ x: Int }}\n", "a".repeat(1_000_000))).unwrap();
    let random: Vec<u8> = (0..100_000u32).map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8).collect();
    std::fs::write(dir.join("random.aarm"), random).unwrap();
    let out = check(&["--format", "json", "."], &dir);
    assert_eq!(out.status.code(), Some(1), "{}", String::from_utf8_lossy(&out.stderr));
    let codes: Vec<String> = json_lines(&out).iter().map(|d| d["code"].as_str().unwrap().to_string()).collect();
    for want in ["E0023", "E0001", "E0020", "E0021"] {
        assert!(codes.contains(&want.to_string()), "{want} missing from {codes:?}");
    }
}

/// Golden tests: `tests/ui/NAME.aarm` checked alone must print exactly `tests/ui/NAME.stderr`.
/// Run with `AARM_BLESS=1` to rewrite the expected files after an intended change.
#[test]
fn rendered_diagnostics_match_snapshots() {
    let ui = root().join("tests/ui");
    let mut cases: Vec<PathBuf> = std::fs::read_dir(&ui)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "aarm"))
        .collect();
    cases.sort();
    assert!(!cases.is_empty());
    let mut failures = Vec::new();
    for case in cases {
        let name = case.file_name().unwrap().to_string_lossy().to_string();
        let out = aarm()
            .args(["check", &format!("tests/ui/{name}")])
            .env("NO_COLOR", "1")
            .current_dir(root())
            .output()
            .unwrap();
        let got = String::from_utf8_lossy(&out.stderr).to_string();
        failures.extend(golden_difference(&name, &case.with_extension("stderr"), &got));
    }
    assert!(failures.is_empty(), "snapshots differ (AARM_BLESS=1 to accept):\n{}", failures.join("\n"));
}

/// Every code of the `codes!` table has a rendered golden: some `tests/ui/*.stderr` shows
/// `[CODE]` (the `code_*.aarm` files trigger one code each). The few whose trigger is a file at a
/// size limit, or not UTF-8, are not kept as files: they are generated here and must render their
/// code; and the rule-count limit, which needs 100 001 rules, has its own test.
#[test]
fn every_diagnostic_code_has_a_rendered_golden() {
    let mut rendered = String::new();
    for entry in std::fs::read_dir(root().join("tests/ui")).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "stderr") {
            rendered.push_str(&std::fs::read_to_string(path).unwrap());
        }
    }
    let dir = scratch("limit-codes");
    let header = "policy p version \"1\"\ntool t { s: String }\n";
    let limit_string = "a".repeat(aarm::lang::limits::MAX_STRING_BYTES);
    let generated: [(&str, Vec<u8>); 4] = [
        ("E0022", format!("{header}# {}\n", "x".repeat(aarm::lang::limits::MAX_SOURCE_BYTES)).into_bytes()),
        // Not kept as a file: every .aarm file of the repository is read as text by other tests.
        ("E0023", [header.as_bytes(), b"# \xff\xfe\n"].concat()),
        ("E0024", format!("{header}{}", "rule r on t { when a < b < c deny }\n".repeat(205)).into_bytes()),
        ("E0025", format!("{header}rule r on t {{ when params.s == \"{limit_string}\" deny }}\n").into_bytes()),
    ];
    for (code, src) in &generated {
        std::fs::write(dir.join(format!("{code}.aarm")), src).unwrap();
        let out =
            aarm().args(["check", &format!("{code}.aarm")]).env("NO_COLOR", "1").current_dir(&dir).output().unwrap();
        rendered.push_str(&String::from_utf8_lossy(&out.stderr));
    }
    // compiler/tests/limits_rules.rs::more_rules_than_the_limit_is_one_error
    let elsewhere = ["E0026"];
    let missing: Vec<&str> = aarm::lang::Code::ALL
        .iter()
        .map(|c| c.as_str())
        .filter(|c| !rendered.contains(&format!("[{c}]")) && !elsewhere.contains(c))
        .collect();
    assert!(
        missing.is_empty(),
        "codes without a rendered golden in tests/ui (add tests/ui/code_CODE.aarm): {missing:?}"
    );
}

#[test]
fn analysis_findings_are_warnings_of_check() {
    let dir = scratch("findings");
    // `late` can never decide: `first` has no condition and a higher priority on the same tool.
    std::fs::write(
        dir.join("p.aarm"),
        "policy p version \"1\"\ntool t { x: Int }\nrule first on t priority 10 { deny }\nrule late on t { when params.x > 1 allow }\n",
    )
    .unwrap();
    let out = check(&["--format", "json", "."], &dir);
    assert_eq!(out.status.code(), Some(0), "findings are warnings");
    let ds = json_lines(&out);
    assert_eq!(ds.len(), 1, "{ds:?}");
    assert_eq!((ds[0]["code"].as_str(), ds[0]["severity"].as_str()), (Some("W0015"), Some("warning")));
    assert!(ds[0]["message"].as_str().unwrap().contains("`p.first`"), "{ds:?}");
    assert_eq!(check(&["--deny-warnings", "."], &dir).status.code(), Some(1));
    // The same finding from `aarm analyze`, which exits 1 on any.
    let out = aarm().args(["analyze", "--format", "json", "."]).current_dir(&dir).output().unwrap();
    assert_eq!(out.status.code(), Some(1), "findings exit 1");
    assert_eq!(json_lines(&out), ds);
    // A bundle with errors is not analyzed: only the error is reported.
    std::fs::write(dir.join("q.aarm"), "policy q version \"1\"\nrule broken on nope { deny }\n").unwrap();
    let codes: Vec<String> = json_lines(&check(&["--format", "json", "."], &dir))
        .iter()
        .map(|d| d["code"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(codes, ["E0100"]);
    // A library of declarations without rules has nothing "unused" to report.
    let lib = scratch("library");
    std::fs::write(lib.join("lib.aarm"), "fn is_internal(a: String) -> Bool = a.ends_with(\"@corp.com\")\n").unwrap();
    let out = check(&["--format", "json", "--deny-warnings", "."], &lib);
    assert_eq!((out.status.code(), json_lines(&out).len()), (Some(0), 0));
}

#[test]
fn equal_priority_conflicts_are_bounded_on_a_large_bundle() {
    // 300 rules on one tool and one priority, alternating `deny` and `allow`, whose conditions
    // all overlap: every `allow` conflicts with every earlier `deny`, and the other way round.
    let dir = scratch("many_conflicts");
    let mut src = String::from("policy p version \"1\"\ntool t { x: Int }\n");
    for k in 0..300 {
        src.push_str(&format!("rule r{k} on t {{ when params.x > {k}\n {} }}\n", ["deny", "allow"][k % 2]));
    }
    std::fs::write(dir.join("p.aarm"), src).unwrap();
    let ds = json_lines(&check(&["--format", "json", "."], &dir));
    assert!(ds.iter().all(|d| d["code"] == "W0016"), "{ds:?}");
    // One finding per rule for the first 50 conflicting rules (r1..r50), and one that counts the
    // other 249.
    assert_eq!(ds.len(), 51, "{ds:?}");
    assert!(
        ds[49]["message"]
            .as_str()
            .unwrap()
            .starts_with("rule `p.r50` (`deny`) can match together with 25 earlier rules"),
        "{}",
        ds[49]
    );
    assert_eq!(ds[50]["message"], "249 more rules, the first `p.r51`, can match together with earlier rules of equal priority that decide differently (not listed)");
}

#[test]
fn sarif_is_one_log_for_ci_annotations() {
    let dir = common::scratch_with_policy("cli", "sarif", RULE_ON_AN_UNKNOWN_TOOL);
    let out = check(&["--format", "sarif", "."], &dir);
    assert_eq!(out.status.code(), Some(1));
    let log: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(log["version"], "2.1.0");
    let run = &log["runs"][0];
    assert_eq!(run["tool"]["driver"]["name"], "aarm");
    assert!(run["tool"]["driver"]["rules"].as_array().unwrap().iter().any(|r| r["id"] == "E0100"));
    let result = &run["results"][0];
    assert_eq!((result["ruleId"].as_str(), result["level"].as_str()), (Some("E0100"), Some("error")));
    let region = &result["locations"][0]["physicalLocation"]["region"];
    assert_eq!((region["startLine"].as_u64(), region["startColumn"].as_u64()), (Some(3), Some(11)));
    assert!(result["message"]["text"].as_str().unwrap().contains("did you mean `t`?"));

    // Analysis findings are results too, as warnings.
    std::fs::write(
        dir.join("p.aarm"),
        "policy p version \"1\"\ntool t { x: Int }\nrule a on t { when params.x > 1\n deny }\nrule b on t { when params.x < 5\n allow }\n",
    )
    .unwrap();
    let out = check(&["--format", "sarif", "."], &dir);
    assert_eq!(out.status.code(), Some(0));
    let log: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let results = log["runs"][0]["results"].as_array().unwrap();
    assert_eq!(results.len(), 1, "{results:?}");
    assert_eq!((results[0]["ruleId"].as_str(), results[0]["level"].as_str()), (Some("W0016"), Some("warning")));
    let region = &results[0]["locations"][0]["physicalLocation"]["region"];
    assert_eq!(region["startLine"].as_u64(), Some(5), "at the later rule of the pair");
}

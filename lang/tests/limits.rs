//! Untrusted source never crashes the front end. These tests run on the default test thread
//! (2 MiB stack) in a debug build: the nesting limit must keep recursion well inside that.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]

use aarm_lang::limits::{MAX_NAME_BYTES, MAX_NESTING};
use aarm_lang::{parse, Code, FileId, Parsed};
use proptest::prelude::*;

/// Parses `src`. No time box: a test that asserts how fast something ran fails on a loaded
/// machine; what these tests guard is that hostile input ends in a diagnostic, not a crash or
/// a stack overflow (a super-linear regression shows in the benchmarks, or as a hang here).
fn parse_src(src: &str) -> Parsed {
    parse(FileId(0), src)
}

fn codes(p: &Parsed) -> Vec<&'static str> {
    p.diagnostics.iter().map(|d| d.code.as_str()).collect()
}

fn assert_nesting_error(src: &str) {
    let p = parse_src(src);
    assert!(p.diagnostics.iter().any(|d| d.code == Code::NestingTooDeep), "expected E0020, got {:?}", codes(&p));
    // One limit error, not one per level.
    assert!(p.diagnostics.len() <= 3, "{:?}", codes(&p));
}

fn rule_when(cond: &str) -> String {
    format!("rule r on t {{ when {cond} deny }}\n")
}

const DEEP: usize = 200_000;

#[test]
fn deep_parentheses() {
    assert_nesting_error(&rule_when(&format!("{}a{}", "(".repeat(DEEP), ")".repeat(DEEP))));
}

#[test]
fn many_nots() {
    assert_nesting_error(&rule_when(&format!("{}a", "not ".repeat(DEEP))));
}

#[test]
fn many_unary_minus() {
    assert_nesting_error(&rule_when(&format!("{}1 > 0", "-".repeat(DEEP))));
}

#[test]
fn long_addition_chain() {
    assert_nesting_error(&rule_when(&format!("a{} > 0", " + a".repeat(100_000))));
}

#[test]
fn long_field_chain() {
    assert_nesting_error(&rule_when(&format!("params{}", ".f".repeat(100_000))));
}

#[test]
fn deep_lists_records_and_types() {
    assert_nesting_error(&rule_when(&format!("{}1{}", "[".repeat(DEEP), "]".repeat(DEEP))));
    assert_nesting_error(&rule_when(&format!("{}1{}", "{a: ".repeat(DEEP), "}".repeat(DEEP))));
    assert_nesting_error(&format!("tool t {{ a: {}Int{} }}", "List<".repeat(DEEP), ">".repeat(DEEP)));
    assert_nesting_error(&format!("tool t {{ a: {}Int{} }}", "{a: ".repeat(DEEP), "}".repeat(DEEP)));
    assert_nesting_error(&rule_when(&format!("{}a{}", "f(".repeat(DEEP), ")".repeat(DEEP))));
    assert_nesting_error(&rule_when(&format!("{}p", "any x in xs: ".repeat(DEEP))));
    assert_nesting_error(&rule_when(&format!("{}1", "xs.filter(x => ".repeat(DEEP))));
}

/// Exactly at the limit parses; one more level is an error. Measures the deepest accepted
/// nesting of every recursive construct on this (2 MiB) thread.
#[test]
fn nesting_limit_is_exact_and_fits_the_default_stack() {
    // The `when` expression is one level, and each parenthesis one more.
    let ok_parens = MAX_NESTING - 1;
    let src = rule_when(&format!("{}a{}", "(".repeat(ok_parens), ")".repeat(ok_parens)));
    let p = parse_src(&src);
    assert!(p.diagnostics.is_empty(), "{:?}", codes(&p));
    let src = rule_when(&format!("{}a{}", "(".repeat(MAX_NESTING), ")".repeat(MAX_NESTING)));
    let p = parse_src(&src);
    assert_eq!(codes(&p), ["E0020"]);

    // The same depth in a reason message's interpolation, a fn body and a test step.
    let deep = format!("{}a{}", "(".repeat(ok_parens - 2), ")".repeat(ok_parens - 2));
    for src in [
        format!("rule r on t {{ deny reason \"c\" \"{{{deep}}}\" }}"),
        format!("fn f() -> Bool = {deep}"),
        format!("test \"t\" {{ provide e = {deep} }}"),
        format!("rule r on t {{ modify {{ params.x = {deep} }} }}"),
        format!("rule r on t {{ when {}1 deny }}", "- ".repeat(MAX_NESTING - 1)),
        format!("rule r on t {{ when {}1 deny }}", "not ".repeat(MAX_NESTING - 1)),
        format!("tool t {{ a: {}Int{} }}", "List<".repeat(MAX_NESTING - 1), ">".repeat(MAX_NESTING - 1)),
    ] {
        let p = parse_src(&src);
        assert!(p.diagnostics.is_empty(), "{:?} for {}…", codes(&p), &src[..60]);
    }
}

/// Regression guard for the parser's stack use: at the nesting limit, every recursive construct
/// parses within half of the default test stack (measured in a debug build: nested calls, the
/// costliest, take about 0.75 MiB at 128 levels).
#[test]
fn the_deepest_nesting_fits_in_one_mebibyte() {
    let n = MAX_NESTING + 10;
    let sources = [
        rule_when(&format!("{}a{}", "f(".repeat(n), ")".repeat(n))),
        rule_when(&format!("{}a{}", "(".repeat(n), ")".repeat(n))),
        rule_when(&format!("{}a{}", "[".repeat(n), "]".repeat(n))),
        rule_when(&format!("{}a{}", "{k: ".repeat(n), "}".repeat(n))),
        rule_when(&format!("{}a{}", "xs.filter(x => ".repeat(n), ")".repeat(n))),
        rule_when(&format!("{}a", "any x in xs: ".repeat(n))),
        format!("tool t {{ a: {}Int{} }}", "{a: ".repeat(n), "}".repeat(n)),
        format!("rule r on t {{ deny reason \"c\" \"{{{}a{}}}\" }}", "(".repeat(n), ")".repeat(n)),
        format!("test \"t\" {{ action t {{ a: {}1{} }} }}", "{k: ".repeat(n), "}".repeat(n)),
    ];
    let worker = std::thread::Builder::new()
        .stack_size(1 << 20)
        .spawn(move || {
            sources
                .iter()
                .map(|s| parse(FileId(0), s).diagnostics.iter().map(|d| d.code).collect::<Vec<_>>())
                .collect::<Vec<_>>()
        })
        .unwrap();
    for codes in worker.join().unwrap() {
        assert_eq!(codes, [Code::NestingTooDeep]);
    }
}

#[test]
fn very_long_name() {
    let name = "a".repeat(1 << 20);
    let p = parse_src(&format!("tool {name} {{ }}"));
    assert_eq!(codes(&p), ["E0021"]);
    assert!(p.diagnostics[0].message.contains(&MAX_NAME_BYTES.to_string()));
}

#[test]
fn nul_bytes_never_panic() {
    for src in ["\0", "\0\0\0", "rule r on t { when a\0 deny }", "tool \0 { }", "\"\0\"", "/* \0 */", "// \0"] {
        let _ = parse_src(src);
    }
    let p = parse_src("tool t { a: Int }\0");
    assert_eq!(codes(&p), ["E0001"]);
}

#[test]
fn twenty_thousand_rules() {
    let mut src = String::from("policy big version \"1\"\ntool t { x: Int }\n");
    for i in 0..20_000 {
        src.push_str(&format!(
            "/// Rule {i}.\nrule r{i} on t priority {} {{\n  when params.x > {i} and params.x < {}\n  deny\n  reason \"big.r{i}\" \"x is {{params.x}}\"\n}}\n",
            i % 100,
            i + 10
        ));
    }
    let p = parse_src(&src);
    assert!(p.diagnostics.is_empty(), "{:?}", &codes(&p)[..codes(&p).len().min(5)]);
    assert_eq!(p.file.items.len(), 20_001);
}

#[test]
fn twenty_thousand_conjuncts() {
    let cond: Vec<String> = (0..20_000).map(|i| format!("params.x != {i}")).collect();
    let p = parse_src(&rule_when(&cond.join(" and ")));
    assert!(p.diagnostics.is_empty(), "{:?}", codes(&p));
    let p = parse_src(&rule_when(&cond.join("\n or ")));
    assert!(p.diagnostics.is_empty(), "{:?}", codes(&p));
}

#[test]
fn many_errors_are_capped() {
    let src = "rule r on t { when a < b < c deny }\n".repeat(5_000);
    let p = parse_src(&src);
    assert!(p.diagnostics.len() <= aarm_lang::limits::MAX_DIAGNOSTICS_PER_FILE + 1, "{}", p.diagnostics.len());
    assert_eq!(p.diagnostics.last().map(|d| d.code), Some(Code::TooManyErrors));
}

#[test]
fn an_escape_cut_off_by_the_end_of_the_file_stays_inside_it() {
    // Found by `policy_like_noise_never_panics` at 20 000 cases: the span of `\u{` at the very
    // end reached one byte past the file.
    for src in ["test\"\\u{", "test \"\\u{1", "test \"\\u", "group g = [\"\\u{41"] {
        check_invariants(src);
    }
}

/// Invariants of any parse: spans lie inside the file and every diagnostic renders.
fn check_invariants(src: &str) {
    let p = parse(FileId(0), src);
    for d in &p.diagnostics {
        assert!(d.span.start <= d.span.end && d.span.end as usize <= src.len(), "{d:?} in {} bytes", src.len());
    }
    let mut sources = aarm_lang::SourceMap::new();
    let id = sources.add("fuzz.aarm", src);
    for d in p.diagnostics.iter().take(5) {
        let _ = aarm_lang::render::to_json(d, &sources);
        assert_eq!(d.file, id);
        let _ = aarm_lang::render::to_human(d, &sources, false);
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_strings_never_panic(src in any::<String>()) {
        check_invariants(&src);
    }

    #[test]
    fn arbitrary_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..2048)) {
        check_invariants(&String::from_utf8_lossy(&bytes));
    }

    #[test]
    fn policy_like_noise_never_panics(
        words in prop::collection::vec(prop::sample::select(vec![
            "rule", "r", "on", "t", "{", "}", "when", "(", ")", "\"", "\"{", "}\"", "\\", "/*", "*/", "//", "\n",
            "not", "-", "+", ".", "f", "any", "x", "in", ":", "deny", "step_up", "approvers", "1", "of", "10ms",
            "1.5", "5m", "\\u{", "reason", "test", "expect", "=>", "<", ">=", "is", "set", "\0", "é",
        ]), 0..300),
        glue in prop::collection::vec(any::<bool>(), 1..16),
    ) {
        let mut src = String::new();
        for (i, w) in words.iter().enumerate() {
            src.push_str(w);
            if glue[i % glue.len()] {
                src.push(' ');
            }
        }
        check_invariants(&src);
    }
}

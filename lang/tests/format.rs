//! Properties of `aarm_lang::format::format` (the `aarm fmt` layout):
//!
//! - every `.aarm` file of the repository formats (golden error fixtures aside), and the output
//!   reparses to the same tree (spans aside), comments included, in order;
//! - formatting is idempotent;
//! - the same for generated programs (the generator of `pest_differential.rs`), also with random
//!   comments between their tokens, each of which must survive exactly once;
//! - golden files: `tests/format/NAME.aarm` formats to `tests/format/NAME.expected`
//!   (`AARM_BLESS=1` rewrites the expected files).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]

mod common;

use aarm_lang::format::{format, format_parsed, MAX_WIDTH};
use aarm_lang::FileId;
use common::*;
use proptest::prelude::*;
use std::path::{Path, PathBuf};

/// The tree of `src` as a string with every span replaced by `Span`: two sources with equal
/// strings have the same declarations, expressions, docs and comments (texts, in order).
fn shape(src: &str) -> Result<String, String> {
    let parsed = aarm_lang::parse(FileId(0), src);
    if parsed.has_errors() {
        let msgs: Vec<String> = parsed.diagnostics.iter().filter(|d| d.is_error()).map(|d| d.message.clone()).collect();
        return Err(msgs.join("; "));
    }
    Ok(erase_spans(&format!("{:?}", parsed.file)))
}

fn erase_spans(debug: &str) -> String {
    let mut out = String::with_capacity(debug.len());
    let mut rest = debug;
    while let Some(i) = rest.find("Span { start: ") {
        out.push_str(&rest[..i]);
        out.push_str("Span");
        let after = &rest[i..];
        let end = after.find(" }").expect("a span ends with ` }`");
        rest = &after[end + 2..];
    }
    out.push_str(rest);
    out
}

fn comment_texts(src: &str) -> Vec<String> {
    let mut texts: Vec<String> =
        aarm_lang::parse(FileId(0), src).file.comments.iter().map(|c| c.text.clone()).collect();
    texts.sort();
    texts
}

/// Checks every property on one source that parses without errors; returns the formatted text.
fn check_formats(src: &str) -> Result<String, String> {
    let before = shape(src).map_err(|e| format!("the input does not parse: {e}"))?;
    let once = format(src).map_err(|e| format!("format failed: {e}"))?;
    let after = shape(&once).map_err(|e| format!("the output does not parse: {e}\n--- output\n{once}"))?;
    if before != after {
        return Err(format!(
            "the tree changed\n--- input\n{src}\n--- output\n{once}\n--- before\n{before}\n--- after\n{after}"
        ));
    }
    if comment_texts(src) != comment_texts(&once) {
        return Err(format!("comments changed\n--- input\n{src}\n--- output\n{once}"));
    }
    let twice = format(&once).map_err(|e| format!("formatting the output failed: {e}"))?;
    if twice != once {
        return Err(format!("not idempotent\n--- input\n{src}\n--- once\n{once}\n--- twice\n{twice}"));
    }
    Ok(once)
}

// -------------------------------------------------------------------------------------------------
// The repository's files

#[test]
fn every_repository_file_formats_to_the_same_tree_idempotently() {
    let files = repository_aarm_files();
    let mut failures = Vec::new();
    let mut formatted = 0;
    for path in &files {
        let src = std::fs::read_to_string(path).unwrap();
        // Golden error fixtures (with a sibling `.stderr`) may have syntax errors: then the
        // formatter must refuse them.
        if path.with_extension("stderr").exists() && aarm_lang::parse(FileId(0), &src).has_errors() {
            if format(&src).is_ok() {
                failures.push(format!("{}: formatted despite syntax errors", path.display()));
            }
            continue;
        }
        match check_formats(&src) {
            Ok(_) => formatted += 1,
            Err(e) => failures.push(format!("{}: {e}", path.display())),
        }
    }
    eprintln!("{formatted} repository files formatted");
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

/// `format_parsed` with a text's own parse is `format`; with the parse of another text (a caller's
/// mistake) it returns something or an error, but never panics, whatever the two texts are.
#[test]
fn format_parsed_is_format_and_survives_a_mismatched_parse() {
    let sources: Vec<String> =
        repository_aarm_files().iter().take(40).map(|p| std::fs::read_to_string(p).unwrap()).collect();
    for a in &sources {
        let parsed = aarm_lang::parse(FileId(0), a);
        assert_eq!(format_parsed(a, &parsed).ok(), format(a).ok());
        for b in &sources {
            let _ = format_parsed(b, &parsed);
        }
    }
}

// -------------------------------------------------------------------------------------------------
// Golden files

#[test]
fn golden_files() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/format");
    let bless = std::env::var_os("AARM_BLESS").is_some();
    let mut inputs: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == "aarm"))
        .collect();
    inputs.sort();
    assert!(inputs.len() >= 3, "golden inputs in {}", dir.display());
    let mut failures = Vec::new();
    for input in &inputs {
        let src = std::fs::read_to_string(input).unwrap();
        let out = match check_formats(&src) {
            Ok(out) => out,
            Err(e) => {
                failures.push(format!("{}: {e}", input.display()));
                continue;
            }
        };
        let expected_path = input.with_extension("expected");
        if bless {
            std::fs::write(&expected_path, &out).unwrap();
            continue;
        }
        let expected = std::fs::read_to_string(&expected_path).unwrap_or_default();
        if expected != out {
            failures.push(format!(
                "{}: output differs from {} (AARM_BLESS=1 rewrites it)\n--- got\n{out}",
                input.display(),
                expected_path.display()
            ));
        }
        for (n, line) in out.lines().enumerate() {
            if line.chars().count() > MAX_WIDTH && !line.contains("//") && !line.contains('"') {
                failures.push(format!("{}:{}: longer than {MAX_WIDTH} columns", expected_path.display(), n + 1));
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

// -------------------------------------------------------------------------------------------------
// Generated programs

/// What goes between two tokens: whitespace, blank lines, or a numbered comment in every form.
fn render_with_comments(toks: &[String], seps: &[u8]) -> (String, usize) {
    let mut out = String::new();
    let mut n = 0;
    for (i, tok) in toks.iter().enumerate() {
        if i > 0 {
            let sep = seps[i % seps.len()];
            let text = match sep {
                0..=159 => " ".to_string(),
                160..=179 => "\n".to_string(),
                180..=189 => "\n\n".to_string(),
                190..=204 => format!(" /* c{n} */ "),
                205..=219 => format!(" // c{n}\n"),
                220..=234 => format!("\n// c{n}\n"),
                235..=244 => format!("\n\n/* c{n}\n   more */\n\n"),
                _ => format!("\n  // c{n}\n\n"),
            };
            if sep >= 190 {
                n += 1;
            }
            out.push_str(&text);
        }
        out.push_str(tok);
    }
    (out, n)
}

fn config(cases: u32) -> ProptestConfig {
    let cases = std::env::var("PROPTEST_CASES").ok().and_then(|v| v.parse().ok()).unwrap_or(cases);
    ProptestConfig { cases, failure_persistence: None, ..ProptestConfig::default() }
}

proptest! {
    #![proptest_config(config(256))]

    /// Generated programs (with the differential test's whitespace, comments and docs) reparse to
    /// the same tree and format idempotently.
    #[test]
    fn generated_programs_format_to_the_same_tree(toks in program(), seps in separators()) {
        let src = render(&toks, &seps);
        if aarm_lang::parse(FileId(0), &src).has_errors() {
            // A generated literal out of range or a limit: not the formatter's business.
            return Ok(());
        }
        if let Err(e) = check_formats(&src) {
            prop_assert!(false, "{}", e);
        }
    }

    /// Comments anywhere between tokens survive, each exactly once, in order.
    #[test]
    fn random_comments_survive(toks in program(), seps in prop::collection::vec(any::<u8>(), 1..64)) {
        let (src, n) = render_with_comments(&toks, &seps);
        if aarm_lang::parse(FileId(0), &src).has_errors() {
            return Ok(());
        }
        match check_formats(&src) {
            Ok(out) => {
                let mut last = 0;
                for i in 0..n {
                    let marker = format!("c{i}");
                    let found: Vec<usize> = out
                        .match_indices(&marker)
                        .filter(|(at, _)| !out[at + marker.len()..].starts_with(|c: char| c.is_ascii_digit()))
                        .map(|(at, _)| at)
                        .collect();
                    prop_assert_eq!(found.len(), 1, "comment c{} appears {} times in\n{}", i, found.len(), out);
                    prop_assert!(found[0] >= last, "comment c{} moved before an earlier comment in\n{}", i, out);
                    last = found[0];
                }
            }
            Err(e) => prop_assert!(false, "{}", e),
        }
    }
}

/// The generators produce enough formattable programs for the properties to mean something.
#[test]
fn generated_programs_mostly_format() {
    use proptest::strategy::ValueTree;
    use proptest::test_runner::TestRunner;
    let mut runner = TestRunner::deterministic();
    let mut ok = 0;
    for _ in 0..200 {
        let toks = program().new_tree(&mut runner).unwrap().current();
        let seps = separators().new_tree(&mut runner).unwrap().current();
        let (src, _) = render_with_comments(&toks, &seps);
        if format(&src).is_ok() {
            ok += 1;
        }
    }
    eprintln!("{ok}/200 generated programs with comments formatted");
    assert!(ok > 150, "only {ok}/200 generated programs formatted");
}

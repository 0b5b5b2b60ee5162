//! `docs/tutorial.md` is executed as written: every `$` line of its shell blocks runs, in order,
//! with the built `aarm` first on `PATH`, from a temporary directory laid out like the repository
//! root (a copy of `examples/quorum_transfer/`), and what it prints (stdout and stderr merged, as
//! a terminal shows them) must match the lines under it. The policy and test text the page shows
//! must be the example's real text.
//!
//! Conventions the page states: `…` in an output stands for any text (several lines too); hashes
//! (`sha256:` and hex digits) and byte counts are normalised because they change with every
//! compiler version; a last line `[exit N]` is the expected exit status (0 otherwise). Trailing
//! spaces are ignored. Nothing depends on the clock: every `case` command takes `--now`.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]

use std::path::{Path, PathBuf};
use std::process::Command;

mod common;
use common::{root, scratch};

/// The scenario's directory, relative to the repository root, as the tutorial names it.
const EXAMPLE: &str = "examples/quorum_transfer";

/// One fenced block of the page.
struct Block {
    info: String,
    /// 1-based line of the opening fence, for messages.
    line: usize,
    body: Vec<String>,
}

/// One `$` command and what the page says it prints.
struct Step {
    line: usize,
    command: String,
    expected: String,
    exit: i32,
}

fn blocks(page: &str) -> Vec<Block> {
    let mut out = Vec::new();
    let mut open: Option<Block> = None;
    for (i, line) in page.lines().enumerate() {
        match (open.take(), line.strip_prefix("```")) {
            (None, Some(info)) => open = Some(Block { info: info.trim().to_string(), line: i + 1, body: Vec::new() }),
            (Some(block), Some(_)) => out.push(block),
            (Some(mut block), None) => {
                block.body.push(line.to_string());
                open = Some(block);
            }
            (None, None) => {}
        }
    }
    assert!(open.is_none(), "docs/tutorial.md has an unclosed code block");
    out
}

/// The commands of a shell block (one whose first line is a `$` command).
fn steps(block: &Block) -> Vec<Step> {
    let mut out: Vec<Step> = Vec::new();
    for (i, line) in block.body.iter().enumerate() {
        if let Some(command) = line.strip_prefix("$ ") {
            out.push(Step { line: block.line + 1 + i, command: command.to_string(), expected: String::new(), exit: 0 });
        } else if let Some(step) = out.last_mut() {
            step.expected.push_str(line);
            step.expected.push('\n');
        }
    }
    for step in &mut out {
        let trimmed = step.expected.trim_end().to_string();
        let (rest, last) = trimmed.rsplit_once('\n').unwrap_or(("", trimmed.as_str()));
        if let Some(code) = last.strip_prefix("[exit ").and_then(|s| s.strip_suffix(']')) {
            step.exit = code.parse().unwrap_or_else(|_| panic!("line {}: bad exit line {last:?}", step.line));
            step.expected = rest.to_string();
        }
    }
    out
}

/// Replaces what legitimately varies between builds: `sha256:` + hex digits (and an `…` the page
/// puts after a shortened hash) becomes `sha256:<hash>`; `N bytes` becomes `<n> bytes`. Trailing
/// spaces and blank lines at the end go.
fn normalise(text: &str) -> String {
    let mut out = String::new();
    let mut rest = text;
    while let Some(at) = rest.find("sha256:") {
        out.push_str(&rest[..at]);
        out.push_str("sha256:<hash>");
        rest = rest[at + "sha256:".len()..].trim_start_matches(|c: char| c.is_ascii_hexdigit());
        rest = rest.strip_prefix('…').unwrap_or(rest);
    }
    out.push_str(rest);
    let words: Vec<String> = out
        .lines()
        .map(|line| {
            let parts: Vec<&str> = line.split(' ').collect();
            let mut fixed: Vec<&str> = Vec::with_capacity(parts.len());
            for (i, word) in parts.iter().enumerate() {
                let next_is_bytes = parts.get(i + 1).is_some_and(|n| n.trim_end_matches(',') == "bytes");
                if next_is_bytes && !word.is_empty() && word.chars().all(|c| c.is_ascii_digit()) {
                    fixed.push("<n>");
                } else {
                    fixed.push(word);
                }
            }
            fixed.join(" ").trim_end().to_string()
        })
        .collect();
    words.join("\n").trim_end().to_string()
}

/// Whether `actual` matches `pattern`, where `…` in the pattern matches any text.
fn matches(pattern: &str, actual: &str) -> bool {
    let parts: Vec<&str> = pattern.split('…').collect();
    let (first, last) = match (parts.first(), parts.last()) {
        (Some(f), Some(l)) if parts.len() > 1 => (*f, *l),
        _ => return pattern == actual,
    };
    if !actual.starts_with(first) || !actual.ends_with(last) || actual.len() < first.len() + last.len() {
        return false;
    }
    let mut middle = &actual[first.len()..actual.len() - last.len()];
    for part in &parts[1..parts.len() - 1] {
        match middle.find(part) {
            Some(at) => middle = &middle[at + part.len()..],
            None => return false,
        }
    }
    true
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).unwrap();
        }
    }
}

fn example_files() -> Vec<(PathBuf, String)> {
    let mut files: Vec<(PathBuf, String)> = std::fs::read_dir(root().join(EXAMPLE))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_file())
        .map(|p| {
            let text = std::fs::read_to_string(&p).unwrap();
            (p, text)
        })
        .collect();
    files.sort();
    files
}

fn page() -> String {
    std::fs::read_to_string(root().join("docs/tutorial.md")).unwrap()
}

#[test]
fn the_policy_text_the_tutorial_shows_is_the_examples_own() {
    let files = example_files();
    let mut checked = 0;
    for block in blocks(&page()).iter().filter(|b| b.info == "aarm" || b.info == "json") {
        // Paragraph by paragraph: the page may show two tests of a file that has more between them.
        for paragraph in block.body.join("\n").split("\n\n") {
            let paragraph = paragraph.trim_end();
            assert!(
                files.iter().any(|(_, text)| text.contains(paragraph)),
                "docs/tutorial.md line {}: this text is in no file of {EXAMPLE}:\n{paragraph}",
                block.line
            );
            checked += 1;
        }
    }
    assert!(checked >= 5, "only {checked} paragraphs of policy text found");
}

#[test]
fn every_command_of_the_tutorial_runs_as_written_and_prints_what_it_shows() {
    let steps: Vec<Step> = blocks(&page()).iter().filter(|b| b.info.is_empty()).flat_map(steps).collect();
    assert!(steps.len() >= 12, "only {} commands found in docs/tutorial.md", steps.len());

    // The repository root as far as the tutorial needs it.
    let dir = scratch("tutorial", "run");
    copy_dir(&root().join(EXAMPLE), &dir.join(EXAMPLE));
    let bin_dir = Path::new(env!("CARGO_BIN_EXE_aarm")).parent().unwrap().to_path_buf();
    let path = std::env::join_paths(
        std::iter::once(bin_dir).chain(std::env::split_paths(&std::env::var_os("PATH").unwrap_or_default())),
    )
    .unwrap();

    for step in &steps {
        // `exec 2>&1` first, so the command's own redirections (`> receipts.jsonl`) still apply
        // and stderr interleaves with stdout as on a terminal.
        let out = Command::new("sh")
            .arg("-c")
            .arg(format!("exec 2>&1\n{}", step.command))
            .current_dir(&dir)
            .env("PATH", &path)
            .env("NO_COLOR", "1")
            .output()
            .unwrap();
        let actual = String::from_utf8_lossy(&out.stdout);
        let context = format!("docs/tutorial.md line {}: `{}`", step.line, step.command);
        assert_eq!(out.status.code(), Some(step.exit), "{context}: exit status\n{actual}");
        let (expected, actual) = (normalise(&step.expected), normalise(&actual));
        assert!(
            matches(&expected, &actual),
            "{context}: the output differs from the page\n--- the page shows\n{expected}\n--- the command printed\n{actual}"
        );
    }
}

#[test]
fn the_matcher_and_the_normalisation_are_strict_where_they_should_be() {
    assert!(matches("a\n…\nz", "a\nb\nc\nz"));
    assert!(matches("a…m…z", "abcmxyz"));
    assert!(!matches("a…m…z", "abcxyz"));
    assert!(!matches("a…z", "a"));
    assert!(!matches("exact", "exact but longer"));
    assert_eq!(
        normalise("built x (2 rules, 863 bytes, sha256:b98bf99e6c)  \n\n"),
        "built x (2 rules, <n> bytes, sha256:<hash>)"
    );
    assert_eq!(normalise("head sha256:8e7151f1…"), "head sha256:<hash>");
    assert_eq!(normalise("3 receipts"), "3 receipts");
}

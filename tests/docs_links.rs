//! The repository documents itself: every relative link in its Markdown files leads to a file
//! of the repository (and, with `#anchor`, to a heading of that file), and no file points readers
//! at documents a clone does not have (the design notes the project started from lived outside
//! the repository, next to it).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]

use std::path::{Path, PathBuf};

mod common;
use common::root;

/// Directories that are not the project's own text.
const SKIPPED_DIRS: &[&str] = &["target", ".git", "node_modules", "corpus", "artifacts"];

fn files(dir: &Path, extensions: &[&str], out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let entry = entry.unwrap();
        let path = entry.path();
        let name = entry.file_name().to_string_lossy().into_owned();
        if entry.file_type().unwrap().is_dir() {
            if !SKIPPED_DIRS.contains(&name.as_str()) && !name.starts_with('.') {
                files(&path, extensions, out);
            }
        } else if extensions.iter().any(|e| name.ends_with(e)) {
            out.push(path);
        }
    }
}

/// The link targets of a Markdown text: what follows `](` up to `)`, outside code blocks.
fn links(text: &str) -> Vec<(usize, String)> {
    let mut out = Vec::new();
    let mut in_code = false;
    for (i, line) in text.lines().enumerate() {
        if line.trim_start().starts_with("```") {
            in_code = !in_code;
            continue;
        }
        if in_code {
            continue;
        }
        let mut rest = line;
        while let Some(at) = rest.find("](") {
            let after = &rest[at + 2..];
            let Some(end) = after.find(')') else { break };
            out.push((i + 1, after[..end].to_string()));
            rest = &after[end..];
        }
    }
    out
}

/// GitHub's anchor for a heading: lower case, spaces to `-`, punctuation other than `-` and `_`
/// dropped.
fn slug(heading: &str) -> String {
    heading
        .trim()
        .chars()
        .filter_map(|c| match c {
            ' ' => Some('-'),
            '-' | '_' => Some(c),
            c if c.is_alphanumeric() => Some(c.to_ascii_lowercase()),
            _ => None,
        })
        .collect()
}

fn anchors(markdown: &str) -> Vec<String> {
    let mut in_code = false;
    let mut out = Vec::new();
    for line in markdown.lines() {
        if line.trim_start().starts_with("```") {
            in_code = !in_code;
        } else if !in_code && line.starts_with('#') {
            out.push(slug(line.trim_start_matches('#')));
        }
    }
    out
}

#[test]
fn every_relative_link_of_the_markdown_files_leads_to_a_file_and_heading_of_the_repository() {
    let root = root().canonicalize().unwrap();
    let mut pages = Vec::new();
    files(&root, &[".md"], &mut pages);
    assert!(pages.len() >= 10, "only {} Markdown files found", pages.len());
    let mut broken = Vec::new();
    let mut checked = 0;
    for page in &pages {
        let text = std::fs::read_to_string(page).unwrap();
        for (line, target) in links(&text) {
            if target.contains("://") || target.starts_with("mailto:") {
                continue;
            }
            checked += 1;
            let at = format!("{}:{line}: {target}", page.strip_prefix(&root).unwrap().display());
            let (file, anchor) = target.split_once('#').unwrap_or((target.as_str(), ""));
            let resolved = if file.is_empty() { page.clone() } else { page.parent().unwrap().join(file) };
            let Ok(resolved) = resolved.canonicalize() else {
                broken.push(format!("{at}: no such file"));
                continue;
            };
            if !resolved.starts_with(&root) {
                broken.push(format!("{at}: outside the repository"));
                continue;
            }
            if !anchor.is_empty() {
                let target_text = std::fs::read_to_string(&resolved).unwrap_or_default();
                if !anchors(&target_text).iter().any(|a| a == anchor) {
                    broken.push(format!("{at}: no heading with this anchor"));
                }
            }
        }
    }
    assert!(checked >= 20, "only {checked} relative links found");
    assert!(broken.is_empty(), "broken links:\n{}", broken.join("\n"));
}

#[test]
fn no_file_sends_readers_to_documents_outside_the_repository() {
    let root = root();
    let mut sources = Vec::new();
    files(&root, &[".md", ".rs", ".toml", ".aarm", ".pest"], &mut sources);
    // The names of the design notes the project started from; a clone has neither.
    let outside = ["../shared", "DESIGN.md", "LANGUAGE.md"];
    let mut found = Vec::new();
    for file in &sources {
        let relative = file.strip_prefix(&root).unwrap();
        // Test data: a module path `use ../shared/lib` between files the test writes itself.
        if relative == Path::new("compiler/tests/modules.rs") || relative == Path::new("tests/docs_links.rs") {
            continue;
        }
        let text = std::fs::read_to_string(file).unwrap_or_default();
        for (i, line) in text.lines().enumerate() {
            if outside.iter().any(|o| line.contains(o)) {
                found.push(format!("{}:{}: {}", relative.display(), i + 1, line.trim()));
            }
        }
    }
    assert!(found.is_empty(), "references to documents outside the repository:\n{}", found.join("\n"));
}

#[test]
fn slugs_follow_githubs_rule() {
    assert_eq!(slug(" `step_up`"), "step_up");
    assert_eq!(slug(" `use` and bundles"), "use-and-bundles");
    assert_eq!(slug(" Byte layout (format version 1)"), "byte-layout-format-version-1");
    assert_eq!(slug(" Evidence and three-valued logic"), "evidence-and-three-valued-logic");
}

/// The lines of the first fenced block opened by `fence` in `markdown`.
fn fenced_block<'a>(lines: impl Iterator<Item = &'a str>, fence: &str) -> Vec<&'a str> {
    lines.skip_while(|l| l.trim_end() != fence).skip(1).take_while(|l| l.trim_end() != "```").collect()
}

#[test]
fn the_readmes_rust_host_example_is_the_doctest_of_aarm_runtime() {
    let root = root();
    let readme = std::fs::read_to_string(root.join("README.md")).unwrap();
    let shown = fenced_block(readme.lines(), "```rust");
    let lib = std::fs::read_to_string(root.join("runtime/src/lib.rs")).unwrap();
    // The crate documentation's lines, without `//! `, and without the doctest's hidden set-up
    // lines (`# …`), which a reader of the README does not need.
    let doc: Vec<&str> =
        lib.lines().filter_map(|l| l.strip_prefix("//!")).map(|l| l.strip_prefix(' ').unwrap_or(l)).collect();
    let tested: Vec<&str> =
        fenced_block(doc.into_iter(), "```rust").into_iter().filter(|l| !(l.starts_with("# ") || *l == "#")).collect();
    assert!(shown.len() >= 10, "README.md has no ```rust host example");
    assert_eq!(shown, tested, "README.md's Rust example differs from runtime/src/lib.rs's doctest");
}

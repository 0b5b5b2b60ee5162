//! `docs/conformance.md` and the conformance tests are held to each other, so that an auditor
//! can trust the table: every row names a test that exists, runs (its file is compiled into a
//! test target) and is not `#[ignore]`d; every conformance test is named by exactly one row; a
//! `met` row's test asserts something and admits no gap; a `partly` or `not yet` row's test says
//! what is missing in a `Gap:` line of its documentation, and a `not yet` row names the issue
//! that will meet it, the same one its test's gap names.
//!
//! The table is read as GitHub-flavoured Markdown (pulldown-cmark) and the tests as Rust (syn):
//! a test inside a comment, or an `#[ignore]` on another line, cannot fool either.

use crate::common::root;
use pulldown_cmark::{Event, Options, Parser, Tag, TagEnd};
use std::collections::BTreeMap;
use std::path::Path;
use syn::visit::Visit;

/// Where conformance tests live: the directory of each test target's module files, and the
/// target's own file (which wires them in with `#[path = "conformance/…"] mod …;`).
const TARGETS: &[(&str, &str)] =
    &[("tests/conformance", "tests/conformance.rs"), ("server/tests/conformance", "server/tests/conformance.rs")];

/// This file: the checker, not a requirement.
const CHECKER: &str = "tests/conformance/table.rs";

/// One requirement row.
#[derive(Debug, Clone)]
struct Row {
    id: String,
    level: String,
    /// `file::function`, from the `test` column's code span.
    test: String,
    /// The `status` column as written.
    status: String,
}

/// One function with a test attribute, in a conformance file.
#[derive(Debug, Clone, Default)]
struct TestFn {
    /// `file::function`.
    key: String,
    ignored: bool,
    /// The documentation from its `Gap:` line on, if it has one.
    gap: Option<String>,
    /// Whether its body calls an `assert…!` macro itself.
    asserts: bool,
}

/// The requirement rows of every table whose header has the columns `id`, `level`, `test` and
/// `status`.
fn rows(markdown: &str) -> Result<Vec<Row>, String> {
    let mut tables: Vec<Vec<Vec<String>>> = Vec::new();
    let (mut in_cell, mut cell, mut row) = (false, String::new(), Vec::new());
    for event in Parser::new_ext(markdown, Options::ENABLE_TABLES) {
        match event {
            Event::Start(Tag::Table(_)) => tables.push(Vec::new()),
            Event::Start(Tag::TableCell) => (in_cell, cell) = (true, String::new()),
            Event::End(TagEnd::TableCell) => {
                in_cell = false;
                row.push(cell.trim().to_string());
            }
            Event::End(TagEnd::TableHead | TagEnd::TableRow) => {
                if let Some(table) = tables.last_mut() {
                    table.push(std::mem::take(&mut row));
                }
            }
            // A code span keeps its backticks, so that the test column's path can be told apart.
            Event::Code(code) if in_cell => cell.push_str(&format!("`{code}`")),
            Event::Text(t) if in_cell => cell.push_str(&t),
            Event::SoftBreak | Event::HardBreak if in_cell => cell.push(' '),
            _ => {}
        }
    }
    let mut out = Vec::new();
    for table in tables {
        let Some((head, body)) = table.split_first() else { continue };
        let column = |name: &str| head.iter().position(|h| h.eq_ignore_ascii_case(name));
        let (Some(id), Some(level), Some(test), Some(status)) =
            (column("id"), column("level"), column("test"), column("status"))
        else {
            continue;
        };
        for cells in body {
            let get = |i: usize| cells.get(i).cloned().unwrap_or_default();
            let test_cell = get(test);
            let spans: Vec<&str> = test_cell.split('`').skip(1).step_by(2).collect();
            let [path] = spans.as_slice() else {
                return Err(format!("row {}: the test column must hold one `file::function` code span", get(id)));
            };
            out.push(Row { id: get(id), level: get(level), test: path.to_string(), status: get(status) });
        }
    }
    Ok(out)
}

/// Finds the `assert…!` macros a function body calls.
struct Asserts(bool);

impl<'ast> Visit<'ast> for Asserts {
    fn visit_macro(&mut self, m: &'ast syn::Macro) {
        if m.path.segments.last().is_some_and(|s| s.ident.to_string().starts_with("assert")) {
            self.0 = true;
        }
    }
}

fn is_path(attr: &syn::Attribute, last: &str) -> bool {
    attr.path().segments.last().is_some_and(|s| s.ident == last)
}

/// The test functions of one conformance file (`file` as the table names it).
fn tests_in(file: &str, source: &str) -> Result<Vec<TestFn>, String> {
    let ast = syn::parse_file(source).map_err(|e| format!("{file}: {e}"))?;
    let mut out = Vec::new();
    for item in ast.items {
        let syn::Item::Fn(f) = item else { continue };
        if !f.attrs.iter().any(|a| is_path(a, "test")) {
            continue;
        }
        let docs: Vec<String> = f
            .attrs
            .iter()
            .filter_map(|a| match &a.meta {
                syn::Meta::NameValue(nv) if nv.path.is_ident("doc") => match &nv.value {
                    syn::Expr::Lit(syn::ExprLit { lit: syn::Lit::Str(s), .. }) => Some(s.value().trim().to_string()),
                    _ => None,
                },
                _ => None,
            })
            .collect();
        let gap = docs.iter().position(|l| l.starts_with("Gap:")).map(|i| docs[i..].join(" "));
        let mut asserts = Asserts(false);
        asserts.visit_block(&f.block);
        out.push(TestFn {
            key: format!("{file}::{}", f.sig.ident),
            ignored: f.attrs.iter().any(|a| is_path(a, "ignore")),
            gap,
            asserts: asserts.0,
        });
    }
    Ok(out)
}

/// The `#[path = "…"]` module files a test target's own file compiles in, relative to it.
fn wired(target_source: &str) -> Result<Vec<String>, String> {
    let ast = syn::parse_file(target_source).map_err(|e| e.to_string())?;
    let mut out = Vec::new();
    for item in ast.items {
        let syn::Item::Mod(m) = item else { continue };
        for attr in &m.attrs {
            if let syn::Meta::NameValue(nv) = &attr.meta {
                if let (true, syn::Expr::Lit(syn::ExprLit { lit: syn::Lit::Str(s), .. })) =
                    (nv.path.is_ident("path"), &nv.value)
                {
                    out.push(s.value());
                }
            }
        }
    }
    Ok(out)
}

/// The issue a text names (`issue 14` → `14`).
fn issue(text: &str) -> Option<String> {
    let at = text.find("issue ")?;
    let digits: String = text[at + 6..].chars().take_while(char::is_ascii_digit).collect();
    (!digits.is_empty()).then_some(digits)
}

/// Everything wrong between the rows and the tests.
fn problems(rows: &[Row], tests: &[TestFn]) -> Vec<String> {
    let mut out = Vec::new();
    let by_key: BTreeMap<&str, &TestFn> = tests.iter().map(|t| (t.key.as_str(), t)).collect();
    let mut named: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    let mut ids: BTreeMap<&str, usize> = BTreeMap::new();
    for row in rows {
        *ids.entry(row.id.as_str()).or_default() += 1;
        named.entry(row.test.as_str()).or_default().push(row.id.as_str());
        let id = &row.id;
        if row.level != "MUST" && row.level != "SHOULD" {
            out.push(format!("{id}: level `{}` is neither MUST nor SHOULD", row.level));
        }
        let Some(test) = by_key.get(row.test.as_str()) else {
            out.push(format!("{id}: no test `{}` in a conformance file", row.test));
            continue;
        };
        if test.ignored {
            out.push(format!("{id}: `{}` is #[ignore]d", row.test));
        }
        let status = row.status.to_ascii_lowercase();
        if status.starts_with("met") {
            if let Some(gap) = &test.gap {
                out.push(format!("{id}: met, but its test admits a gap: {gap}"));
            }
            if !test.asserts {
                out.push(format!("{id}: met, but `{}` asserts nothing (a placeholder)", row.test));
            }
        } else if status.starts_with("partly") {
            if test.gap.is_none() {
                out.push(format!("{id}: partly, but its test has no `Gap:` line saying what is missing"));
            }
            if !test.asserts {
                out.push(format!("{id}: partly, but `{}` asserts nothing (a placeholder)", row.test));
            }
        } else if status.starts_with("not yet") {
            match (issue(&row.status), test.gap.as_deref()) {
                (None, _) => out.push(format!("{id}: not yet, but the status names no issue that will meet it")),
                (Some(_), None) => out.push(format!("{id}: not yet, but its test has no `Gap:` line")),
                (Some(n), Some(gap)) if issue(gap).as_deref() != Some(n.as_str()) => {
                    out.push(format!("{id}: the status names issue {n}, its test's gap does not: {gap}"))
                }
                _ => {}
            }
        } else {
            out.push(format!("{id}: status `{}` is not met, partly or not yet", row.status));
        }
    }
    out.extend(ids.into_iter().filter(|(_, n)| *n > 1).map(|(id, _)| format!("row id {id} is used twice")));
    for test in tests {
        match named.get(test.key.as_str()).map(Vec::len) {
            None => out.push(format!("`{}` is a conformance test that no row names", test.key)),
            Some(1) => {}
            Some(_) => out.push(format!("`{}` is named by several rows", test.key)),
        }
    }
    out
}

/// Every test of every conformance file, checking that each file is compiled into its target.
fn conformance_tests(repo: &Path) -> Result<Vec<TestFn>, String> {
    let mut out = Vec::new();
    for (dir, target) in TARGETS {
        let target_source = std::fs::read_to_string(repo.join(target)).map_err(|e| format!("{target}: {e}"))?;
        let wired = wired(&target_source).map_err(|e| format!("{target}: {e}"))?;
        let mut files: Vec<String> = std::fs::read_dir(repo.join(dir))
            .map_err(|e| format!("{dir}: {e}"))?
            .filter_map(Result::ok)
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .filter(|n| n.ends_with(".rs"))
            .collect();
        files.sort();
        for name in files {
            let file = format!("{dir}/{name}");
            if !wired.contains(&format!("conformance/{name}")) {
                return Err(format!("{file} is not compiled into {target} (no #[path = \"conformance/{name}\"] mod)"));
            }
            if file == CHECKER {
                continue;
            }
            let source = std::fs::read_to_string(repo.join(&file)).map_err(|e| format!("{file}: {e}"))?;
            out.extend(tests_in(&file, &source)?);
        }
    }
    Ok(out)
}

#[test]
fn the_conformance_table_names_every_conformance_test_and_only_real_ones() {
    let repo = root();
    let table = std::fs::read_to_string(repo.join("docs/conformance.md")).unwrap();
    let rows = rows(&table).unwrap();
    let tests = conformance_tests(&repo).unwrap();
    assert!(rows.len() >= 30, "the table lost rows: {}", rows.len());
    assert_eq!(rows.len(), tests.len(), "one test per row");
    let mut problems = problems(&rows, &tests);
    let count = |word: &str| rows.iter().filter(|r| r.status.to_ascii_lowercase().starts_with(word)).count();
    let summary = format!(
        "Summary: {} requirements; {} met, {} partly, {} not yet.",
        rows.len(),
        count("met"),
        count("partly"),
        count("not yet")
    );
    if !table.contains(&summary) {
        problems.push(format!("the summary line is not `{summary}`"));
    }
    assert!(problems.is_empty(), "docs/conformance.md and the conformance tests disagree:\n{}", problems.join("\n"));
}

/// The checker itself finds each kind of dishonesty.
#[test]
fn the_table_check_refuses_missing_ignored_placeholder_and_unlisted_tests() {
    let table = "\
| id | requirement | level | source | how | test | status |
|---|---|---|---|---|---|---|
| X1 | a | MUST | s | h | `f.rs::real` | met |
| X2 | b | MUST | s | h | `f.rs::gone` | met |
| X3 | c | SHOULD | s | h | `f.rs::ignored` | met |
| X4 | d | MUST | s | h | `f.rs::empty` | met |
| X5 | e | MUST | s | h | `f.rs::gapped` | not yet: issue 24 |
| X6 | f | MAY | s | h | `f.rs::real2` | partly |
";
    let source = r#"
/// Real.
#[test]
fn real() { assert!(true) }
#[test]
#[ignore]
fn ignored() { assert!(true) }
#[tokio::test]
async fn empty() {}
/// Gap: issue 14.
#[test]
fn gapped() {}
#[test]
fn real2() { assert_eq!(1, 1) }
#[test]
fn unlisted() { assert!(true) }
// #[test] fn commented() {}
"#;
    let rows = rows(table).unwrap();
    let tests = tests_in("f.rs", source).unwrap();
    assert_eq!(tests.len(), 6, "{tests:?}");
    let found = problems(&rows, &tests).join("\n");
    for expected in [
        "X2: no test `f.rs::gone`",
        "X3: `f.rs::ignored` is #[ignore]d",
        "X4: met, but `f.rs::empty` asserts nothing",
        "X5: the status names issue 24, its test's gap does not",
        "X6: level `MAY`",
        "X6: partly, but its test has no `Gap:` line",
        "`f.rs::unlisted` is a conformance test that no row names",
    ] {
        assert!(found.contains(expected), "missing {expected:?} in:\n{found}");
    }
    assert!(!found.contains("X1"), "{found}");
    assert_eq!(wired("#[path = \"conformance/a.rs\"]\nmod a;").unwrap(), ["conformance/a.rs"]);
}

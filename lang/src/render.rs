//! Diagnostics for people (ariadne reports) and for programs (one JSON object per diagnostic,
//! with the fields README.md documents for `aarm check --format json`).

use crate::diagnostic::{Diagnostic, Severity};
use crate::source::{SourceFile, SourceMap};
use crate::span::{FileId, Span};
use ariadne::{Color, Config, IndexType, Label, Report, ReportKind};
use serde::Serialize;

/// The JSON form of a diagnostic (contract: the field names are fixed).
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct JsonDiagnostic {
    /// The code, such as `"E0100"`.
    pub code: String,
    /// `"error"` or `"warning"`.
    pub(crate) severity: Severity,
    /// The diagnostic's message.
    pub message: String,
    /// The file's display name from the [`SourceMap`].
    pub file: String,
    /// 1-based line of the start of the span.
    pub line: usize,
    /// 1-based column of the start, in characters (not bytes).
    pub column: usize,
    /// 1-based line of the end of the span.
    pub end_line: usize,
    /// 1-based column just past the end, in characters.
    pub end_column: usize,
    /// The help line, if any (`null` in JSON otherwise).
    pub help: Option<String>,
}

/// The JSON form of one diagnostic. Byte spans become 1-based line and character columns; a
/// diagnostic whose file is not in `sources` is placed at 1:1 rather than dropped. Labels and
/// secondary locations are not part of this form.
pub fn to_json(d: &Diagnostic, sources: &SourceMap) -> JsonDiagnostic {
    let (line, column, end_line, end_column) = match sources.get(d.file) {
        Some(f) => {
            let (l, c) = f.line_col(d.span.start);
            let (el, ec) = f.line_col(d.span.end);
            (l, c, el, ec)
        }
        None => (1, 1, 1, 1),
    };
    JsonDiagnostic {
        code: d.code.as_str().to_string(),
        severity: d.severity,
        message: d.message.clone(),
        file: sources.name(d.file).to_string(),
        line,
        column,
        end_line,
        end_column,
        help: d.help.clone(),
    }
}

/// A SARIF 2.1.0 log of diagnostics, for CI systems that annotate pull requests. Every code the
/// toolchain knows is listed as a rule, so that viewers can show its title.
pub fn to_sarif(diags: &[JsonDiagnostic], tool_version: &str) -> serde_json::Value {
    use crate::diagnostic::Code;
    let rules: Vec<serde_json::Value> = Code::ALL
        .iter()
        .map(|c| {
            serde_json::json!({
                "id": c.as_str(),
                "shortDescription": { "text": c.title() },
                "defaultConfiguration": { "level": level(c.severity()) },
            })
        })
        .collect();
    let results: Vec<serde_json::Value> = diags
        .iter()
        .map(|d| {
            let mut text = d.message.clone();
            if let Some(help) = &d.help {
                text.push_str("\nhelp: ");
                text.push_str(help);
            }
            serde_json::json!({
                "ruleId": d.code,
                "level": level(d.severity),
                "message": { "text": text },
                "locations": [{
                    "physicalLocation": {
                        "artifactLocation": { "uri": d.file.replace('\\', "/") },
                        "region": {
                            "startLine": d.line,
                            "startColumn": d.column,
                            "endLine": d.end_line,
                            "endColumn": d.end_column,
                        }
                    }
                }],
            })
        })
        .collect();
    serde_json::json!({
        "version": "2.1.0",
        "$schema": "https://json.schemastore.org/sarif-2.1.0.json",
        "runs": [{
            "tool": { "driver": { "name": "aarm", "version": tool_version, "informationUri": "https://aarm.dev", "rules": rules } },
            "results": results,
        }],
    })
}

fn level(s: Severity) -> &'static str {
    match s {
        Severity::Error => "error",
        Severity::Warning => "warning",
    }
}

/// Keeps a span inside its file and on character boundaries, so the renderer never sees an
/// impossible range, and gives it in characters.
fn clamp(span: Span, file: Option<&SourceFile>) -> std::ops::Range<usize> {
    let Some(file) = file else { return 0..0 };
    let text = &file.text;
    let fix = |mut i: usize| {
        i = i.min(text.len());
        while i > 0 && !text.is_char_boundary(i) {
            i -= 1;
        }
        i
    };
    let start = fix(span.start as usize);
    let end = fix(span.end as usize).max(start);
    // In characters: ariadne 0.6 heads a section of another file than the primary's with its
    // first label's *character* offset even when told the spans are bytes, so a second file with
    // non-ASCII text before the label was headed with an earlier line (issue 18). Character
    // offsets throughout (`IndexType::Char`) keep every header and label on the right place.
    let chars = |i: usize| text.get(..i).map_or(0, |t| t.chars().count());
    chars(start)..chars(end)
}

/// A section of a report: one file, shown under its name. ariadne heads every section of the
/// primary label's file with the primary's `file:line:col`, so a location of that same file that
/// gets a section of its own (`first declared here`, on an earlier line) is given another id
/// ([`Section::Again`]): it is then headed with its own position. Both ids show the same name and
/// text.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
enum Section {
    Primary(String),
    Again(String),
}

impl std::fmt::Display for Section {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Section::Primary(name) | Section::Again(name) => f.write_str(name),
        }
    }
}

/// Renders one diagnostic as an ariadne report: the message with `file:line:col`, the source
/// lines with the primary and secondary labels, and the help line. `color` adds ANSI colours.
/// Never fails: out-of-range spans are clamped, and a report ariadne cannot draw falls back to a
/// single plain line.
pub fn to_human(d: &Diagnostic, sources: &SourceMap, color: bool) -> String {
    let mut names: Vec<FileId> = vec![d.file];
    names.extend(d.secondary.iter().map(|s| s.file));
    names.sort_unstable();
    names.dedup();
    let mut cache = cache(sources, &names);
    render(d, sources, color, &mut cache)
}

/// Renders diagnostics of one run as ariadne reports, one string each, reading each file's lines
/// once however many reports point into it (a report per diagnostic of a large file would
/// otherwise re-read the whole file every time).
pub fn to_human_all<'a>(
    diags: &'a [Diagnostic],
    sources: &'a SourceMap,
    color: bool,
) -> impl Iterator<Item = String> + 'a {
    let mut files: Vec<FileId> =
        diags.iter().flat_map(|d| std::iter::once(d.file).chain(d.secondary.iter().map(|s| s.file))).collect();
    files.sort_unstable();
    files.dedup();
    let mut cache = cache(sources, &files);
    diags.iter().map(move |d| render(d, sources, color, &mut cache))
}

/// The ariadne sources of `files`, under both section ids (a file the map lacks is empty). The
/// text is borrowed, not copied.
fn cache<'a>(sources: &'a SourceMap, files: &[FileId]) -> impl ariadne::Cache<Section> + 'a {
    let texts: Vec<(Section, &'a str)> = files
        .iter()
        .flat_map(|f| {
            let name = sources.name(*f).to_string();
            let text = sources.get(*f).map_or("", |s| s.text.as_str());
            [(Section::Primary(name.clone()), text), (Section::Again(name), text)]
        })
        .collect();
    ariadne::sources(texts)
}

fn render(d: &Diagnostic, sources: &SourceMap, color: bool, cache: &mut impl ariadne::Cache<Section>) -> String {
    let name = sources.name(d.file).to_string();
    let file = sources.get(d.file);
    let range = clamp(d.span, file);
    let kind = match d.severity {
        Severity::Error => ReportKind::Error,
        Severity::Warning => ReportKind::Warning,
    };
    let (l, c) = file.map(|f| f.line_col(d.span.start)).unwrap_or((1, 1));
    let label_color = if d.severity == Severity::Error { Color::Red } else { Color::Yellow };
    let primary = Label::new((Section::Primary(name.clone()), range.clone()))
        .with_color(label_color)
        .with_message(d.label.as_deref().unwrap_or(d.code.title()));
    let mut report = Report::build(kind, (Section::Primary(name.clone()), range))
        .with_config(Config::default().with_color(color).with_index_type(IndexType::Char))
        .with_code(d.code.as_str())
        .with_message(format!("{} ({name}:{l}:{c})", d.message))
        .with_label(primary);
    // ariadne keeps a label in the primary's section only while the labels before it are in the
    // same file and it ends on a line at or after theirs; any other label starts a new section,
    // which must then not carry the primary's id (its header would repeat the primary's place).
    let end_line =
        |f: Option<&SourceFile>, span: Span| f.map_or(1, |f| f.line_col(span.end.saturating_sub(1).max(span.start)).0);
    let mut joined_line = Some(end_line(file, d.span));
    for s in &d.secondary {
        let sname = sources.name(s.file).to_string();
        let sfile = sources.get(s.file);
        let line = end_line(sfile, s.span);
        let sname = match joined_line {
            Some(last) if s.file == d.file && line >= last => {
                joined_line = Some(line);
                Section::Primary(sname)
            }
            _ if s.file == d.file => {
                joined_line = None;
                Section::Again(sname)
            }
            _ => {
                joined_line = None;
                Section::Primary(sname)
            }
        };
        report = report
            .with_label(Label::new((sname, clamp(s.span, sfile))).with_message(&s.message).with_color(Color::Blue));
    }
    if let Some(help) = &d.help {
        report = report.with_help(help);
    }
    let mut out = Vec::new();
    if report.finish().write(cache, &mut out).is_err() {
        // Fall back to one plain line rather than lose the diagnostic.
        return format!("{}[{}]: {} ({name}:{l}:{c})\n", severity_word(d.severity), d.code.as_str(), d.message);
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn severity_word(s: Severity) -> &'static str {
    match s {
        Severity::Error => "error",
        Severity::Warning => "warning",
    }
}

/// `N errors, M warnings` with correct plurals, for the last line of `aarm check` and friends.
pub fn summary(errors: usize, warnings: usize) -> String {
    let plural = |n: usize, w: &str| if n == 1 { format!("1 {w}") } else { format!("{n} {w}s") };
    format!("{}, {}", plural(errors, "error"), plural(warnings, "warning"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::diagnostic::Code;
    use crate::span::FileId;

    #[test]
    fn json_has_one_based_positions() {
        let mut sm = SourceMap::new();
        let f = sm.add("p.aarm", "rule r on x {\n  deny }\n");
        let d = Diagnostic::new(Code::UnknownTool, f, Span::new(10, 11), "unknown tool `x`").with_help("declare it");
        let j = to_json(&d, &sm);
        assert_eq!((j.line, j.column, j.end_line, j.end_column), (1, 11, 1, 12));
        assert_eq!(j.code, "E0100");
        assert_eq!(j.file, "p.aarm");
    }

    #[test]
    fn human_report_shows_code_place_and_help() {
        let mut sm = SourceMap::new();
        let f = sm.add("p.aarm", "rule r on x {\n  deny }\n");
        let d = Diagnostic::new(Code::UnknownTool, f, Span::new(10, 11), "unknown tool `x`").with_help("declare it");
        let out = to_human(&d, &sm, false);
        assert!(out.contains("E0100"), "{out}");
        assert!(out.contains("p.aarm:1:11"), "{out}");
        assert!(out.contains("declare it"), "{out}");
    }

    #[test]
    fn a_second_file_is_headed_with_its_own_place_after_non_ascii_text() {
        let mut sm = SourceMap::new();
        let a = sm.add("a.aarm", "test \"t\" {}\n");
        // Non-ASCII text before the label: byte and character offsets differ.
        let b_text = "// é — ü «»\n// ✓✓✓✓✓✓✓✓✓✓✓✓✓✓✓✓✓✓✓✓✓✓✓✓✓✓✓✓\ntest \"t\" {}\n";
        let b = sm.add("b.aarm", b_text);
        let at = u32::try_from(b_text.find("\"t\"").unwrap_or(0)).unwrap_or(0);
        let d = Diagnostic::new(Code::DuplicateDeclaration, b, Span::new(at, at + 3), "test \"t\" is declared twice")
            .with_secondary(a, Span::new(5, 8), "first declared here");
        let out = to_human(&d, &sm, false);
        assert!(out.contains("(b.aarm:3:6)") && out.contains("[ b.aarm:3:6 ]"), "{out}");
        assert!(out.contains("[ a.aarm:1:6 ]"), "{out}");
        // And the other way round: the primary in the ASCII file, the second in the other one.
        let d = Diagnostic::new(Code::DuplicateDeclaration, a, Span::new(5, 8), "test \"t\" is declared twice")
            .with_secondary(b, Span::new(at, at + 3), "first declared here");
        let out = to_human(&d, &sm, false);
        assert!(out.contains("[ a.aarm:1:6 ]") && out.contains("[ b.aarm:3:6 ]"), "{out}");
    }

    #[test]
    fn out_of_range_spans_do_not_panic() {
        let mut sm = SourceMap::new();
        let f = sm.add("p.aarm", "é");
        let d = Diagnostic::new(Code::UnknownTool, f, Span::new(1, 999), "x");
        let _ = to_human(&d, &sm, false);
        let d = Diagnostic::new(Code::UnknownTool, FileId(7), Span::new(1, 999), "x");
        let _ = to_human(&d, &sm, false);
    }
}

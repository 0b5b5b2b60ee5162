//! Every syntax error class: its code, where it points (line and column, 1-based, in characters)
//! and what it says. Also: one file with several broken declarations reports each of them.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]

use aarm_lang::diagnostic::Class;
use aarm_lang::render::{to_json, JsonDiagnostic};
use aarm_lang::{parse, SourceMap};

fn diagnostics(src: &str) -> Vec<JsonDiagnostic> {
    let mut sources = SourceMap::new();
    let id = sources.add("p.aarm", src);
    let parsed = parse(id, src);
    parsed.diagnostics.iter().map(|d| to_json(d, &sources)).collect()
}

/// The one diagnostic of `src`, checked field by field.
#[track_caller]
fn one(src: &str, code: &str, line: usize, column: usize, message: &str) -> JsonDiagnostic {
    let ds = diagnostics(src);
    assert_eq!(ds.len(), 1, "expected one diagnostic for {src:?}, got {ds:#?}");
    let d = ds.into_iter().next().unwrap();
    assert_eq!((d.code.as_str(), d.line, d.column, d.message.as_str()), (code, line, column, message), "for {src:?}");
    assert_eq!(d.file, "p.aarm");
    d
}

#[test]
fn e0001_invalid_character() {
    let d = one("tool t { a: Int }\nrule r on t { when !params.a deny }", "E0001", 2, 20, "invalid character `!`");
    assert_eq!(d.help.as_deref(), Some("write `not` for negation and `!=` for inequality"));
    one("rule r on t {\n  when a && b deny }", "E0001", 2, 10, "2 invalid characters, starting with `&`");
    one("tool t { a: Int } \u{0}", "E0001", 1, 19, "invalid character U+0000");
    let ds = diagnostics("group g = [\u{201C}x\u{201D}]");
    let got: Vec<_> = ds.iter().map(|d| (d.code.as_str(), d.column, d.message.as_str())).collect();
    assert_eq!(got, [("E0001", 12, "invalid character `\u{201C}`"), ("E0001", 14, "invalid character `\u{201D}`")]);
    assert_eq!(ds[0].help.as_deref(), Some("replace typographic quotes with plain `\"`"));
    // Columns count characters, not bytes.
    one("group g = [\"é\"] #", "E0001", 1, 17, "invalid character `#`");
}

#[test]
fn e0002_unterminated_string() {
    let d = one("policy p version \"1.0\ntool t { }", "E0002", 1, 18, "string is never closed");
    assert_eq!((d.end_line, d.end_column), (1, 22));
    assert_eq!(d.help.as_deref(), Some("close the string on the same line; write `\\n` for a line break"));
}

#[test]
fn e0003_invalid_escape() {
    let d = one("group g = [\"a\\qb\"]", "E0003", 1, 14, "unknown escape `\\q`");
    assert_eq!((d.end_line, d.end_column), (1, 16));
    one("group g = [\"\\u{zz}\"]", "E0003", 1, 13, "malformed unicode escape");
    // An escape the string ends inside: the span covers what there is of it, no more.
    let d = one("group g = [\"\\u{41\"]", "E0003", 1, 13, "malformed unicode escape");
    assert_eq!((d.end_line, d.end_column), (1, 18));
    one("rule r on t { deny reason \"c\"\n  \"bad \\x\" }", "E0003", 2, 8, "unknown escape `\\x`");
}

#[test]
fn e0004_unterminated_comment() {
    let d = one("tool t { }\n  /* no end\n", "E0004", 2, 3, "block comment is never closed");
    assert_eq!((d.end_line, d.end_column), (2, 5));
    assert_eq!(d.help.as_deref(), Some("close it with `*/`; block comments do not nest"));
}

#[test]
fn e0005_malformed_number() {
    let d = one(
        "rule r on t {\n  when context.age > 10ms deny }",
        "E0005",
        2,
        22,
        "`10ms` is neither a number nor a duration",
    );
    assert!(d.help.as_deref().unwrap().contains("(`ms` is not one)"), "{:?}", d.help);
    let d = one("rule r on t { when a > 1.5h deny }", "E0005", 1, 24, "`1.5h` is neither a number nor a duration");
    assert_eq!(d.help.as_deref(), Some("durations take whole numbers: write `1h30m` rather than `1.5h`"));
    let d = one("rule r on t { when a > 1_000s deny }", "E0005", 1, 24, "`1_000s` is neither a number nor a duration");
    assert_eq!(d.help.as_deref(), Some("durations take plain digits: write `1000s` rather than `1_000s`"));
}

#[test]
fn e0010_unexpected_token() {
    let d = one(
        "tool t { a: Int }\nrule r on t {\n  when params.a = 3\n  deny\n}",
        "E0010",
        3,
        17,
        "expected a decision (`allow`, `deny`, `modify`, `step_up` or `defer`), found `=`",
    );
    assert_eq!(d.help.as_deref(), Some("compare with `==`"));
    let d = one(
        "rule r on t {\n  when a\n}",
        "E0010",
        3,
        1,
        "expected a decision (`allow`, `deny`, `modify`, `step_up` or `defer`), found `}`",
    );
    assert!(d.help.unwrap().starts_with("every rule ends with a decision"));
    let d = one("rule r t { deny }", "E0010", 1, 8, "expected `on`, found `t`");
    assert_eq!(d.help.as_deref(), Some("name the tools the rule applies to: `rule r on TOOL { ... }` (or `on *`)"));
    one("tool t { a: Int", "E0010", 1, 16, "expected `}`, found the end of the file");
    one("group g = [\"a\" \"b\"]", "E0010", 1, 16, "expected `]`, found a string `\"b\"`");
    one("rule r on t { step_up { approvers 2 finance } }", "E0010", 1, 37, "expected `of`, found `finance`");
    let d = one("rule r on t { step_up { timeout 1h } }", "E0010", 1, 36, "expected `->`, found `}`");
    assert_eq!(d.help.as_deref(), Some("say what happens when the limit is reached, e.g. `timeout 30m -> deny`"));
    let d = one("test \"t\" { wait 30 }", "E0010", 1, 17, "expected a duration, found an integer `30`");
    assert_eq!(d.help.as_deref(), Some("durations are written like `30s`, `15m`, `2h`, `1d` or `1h30m`"));
    let d = one("rule r on t { when any x in xs x deny }", "E0010", 1, 32, "expected `:`, found `x`");
    assert_eq!(d.help.as_deref(), Some("a quantifier reads `any x in LIST: CONDITION`"));
    one("frobnicate", "E0010", 1, 1, "expected a declaration (`rule`, `tool`, `context`, `evidence`, `group`, `fn`, `settings`, `use`, `override` or `test`), found `frobnicate`");
}

#[test]
fn e0011_keyword_as_name() {
    let d =
        one("rule deny on t { allow }", "E0011", 1, 6, "`deny` is a reserved word and cannot be used as a rule name");
    assert_eq!(d.help.as_deref(), Some("choose another name, e.g. `deny_`"));
    one("tool t { }\ntool count { }", "E0011", 2, 6, "`count` is a reserved word and cannot be used as a tool name");
    one("fn f(set: Int) -> Int = 1", "E0011", 1, 6, "`set` is a reserved word and cannot be used as a parameter name");
}

#[test]
fn a_reserved_parameter_name_does_not_cascade() {
    // The word is taken as the parameter's name, so the declaration goes on parsing; reading it
    // in the body is the only other error, and `tool` in the body does not start a declaration.
    let ds = diagnostics(
        "fn calls(prior: List<Int>, tool: String) -> Int =\n  count a in prior: a == tool\nfn other(x: Int) -> Int = x\n",
    );
    let got: Vec<_> = ds.iter().map(|d| (d.code.as_str(), d.line, d.column)).collect();
    assert_eq!(got, [("E0011", 1, 28), ("E0010", 2, 26)], "{ds:#?}");
    // Where the word starts the next declaration, it still does: the rule parses.
    let src = "fn\nrule r on t { deny }\n";
    let got: Vec<_> = diagnostics(src).iter().map(|d| (d.code.clone(), d.line, d.column)).collect();
    assert_eq!(got, [("E0011".to_string(), 2, 1)]);
    assert_eq!(parse(aarm_lang::FileId(0), src).file.items.len(), 1);
}

#[test]
fn e0012_chained_comparison() {
    let d = one(
        "rule r on t {\n  when 1 < params.a < 10 deny }",
        "E0012",
        2,
        21,
        "comparison `<` cannot follow another comparison",
    );
    assert_eq!(d.help.as_deref(), Some("join the comparisons with `and`, e.g. `a < b and b < c`"));
    one("rule r on t { when a == b in c deny }", "E0012", 1, 27, "comparison `in` cannot follow another comparison");
}

#[test]
fn e0013_header_not_first() {
    let d = one(
        "tool t { }\npolicy p version \"1\"",
        "E0013",
        2,
        1,
        "the policy header must be the first declaration of the file",
    );
    assert!(d.help.unwrap().contains("move `policy NAME version"));
    one(
        "policy p version \"1\"\npolicy q version \"2\"",
        "E0013",
        2,
        1,
        "a second policy header must be the first declaration of the file",
    );
}

#[test]
fn e0014_invalid_interpolation() {
    let d = one(
        "rule r on t { deny reason \"c\" \"total {params.amount\" }",
        "E0014",
        1,
        38,
        "`{` is never closed in this reason message",
    );
    assert_eq!(d.help.as_deref(), Some("close the interpolation with `}`, or write `\\{` for a literal brace"));
    one("rule r on t { deny reason \"c\" \"a } b\" }", "E0014", 1, 34, "unmatched `}` in reason message");
    // A string literal inside an interpolation ends the message at its opening quote: said so,
    // at that quote, and the cut-off rest of the line is not reported again.
    let d = one(
        "rule r on t { deny reason \"c\" \"a {f(\"x\")} b\" }",
        "E0014",
        1,
        37,
        "a string literal cannot appear inside an interpolation: its `\"` ends the reason message",
    );
    assert!(d.help.unwrap().contains("interpolations hold no strings"));
    let d = one(
        "rule r on t { deny reason \"c\" \"{ {a: 1} }\" }",
        "E0014",
        1,
        32,
        "an interpolation cannot contain braces or comments",
    );
    assert_eq!((d.end_line, d.end_column), (1, 42));
    one(
        "rule r on t { deny reason \"c\" \"{a /* c */} //\" }",
        "E0014",
        1,
        32,
        "an interpolation cannot contain braces or comments",
    );
    // An interpolation is parsed as an expression, and its errors point inside the string.
    one("rule r on t { deny reason \"c\" \"x {a +} y\" }", "E0010", 1, 38, "expected an expression, found `}`");
}

#[test]
fn e0306_invalid_risk_level() {
    let d = one("rule r on t {\n  risk severe\n  deny }", "E0306", 2, 8, "unknown risk level `severe`");
    assert_eq!(d.help.as_deref(), Some("risk levels are `low`, `medium`, `high` and `critical`"));
    one("rule r on t { step_up { risk extreme } }", "E0306", 1, 30, "unknown risk level `extreme`");
}

/// Every syntax code of `diagnostic.rs` is exercised above.
#[test]
fn every_syntax_code_is_covered() {
    let covered = ["E0001", "E0002", "E0003", "E0004", "E0005", "E0010", "E0011", "E0012", "E0013", "E0014", "E0306"];
    for code in aarm_lang::Code::ALL {
        if code.class() == Class::Syntax {
            assert!(covered.contains(&code.as_str()), "no test for {}", code.as_str());
        }
    }
}

/// Recovery: each broken declaration is reported, and the good ones between them still parse.
#[test]
fn several_broken_declarations_report_several_errors() {
    let src = "\
policy p version \"1\"
tool t { a: Int b: Int }
rule one on t {
  when params.a = 3
  deny
}
group g = [\"x\"]
rule two on t { when 1 < params.a < 2 deny }
rule deny on t { allow }
tool u { a: Int }
rule three on t { risk severe allow }
test \"t\" { wait 30 }
rule four on t priority 1 { when params.a > 10ms deny }
fn f(x: Int) -> Int = x +
rule five on t { allow }
";
    let ds = diagnostics(src);
    let got: Vec<(&str, usize)> = ds.iter().map(|d| (d.code.as_str(), d.line)).collect();
    assert_eq!(
        got,
        [
            ("E0005", 13),
            ("E0010", 2),
            ("E0010", 4),
            ("E0012", 8),
            ("E0011", 9),
            ("E0306", 11),
            ("E0010", 12),
            ("E0010", 15),
        ],
        "{ds:#?}"
    );
    let parsed = parse(aarm_lang::FileId(0), src);
    let names: Vec<String> = parsed
        .file
        .items
        .iter()
        .filter_map(|i| match &i.kind {
            aarm_lang::ast::ItemKind::Group(g) => Some(g.name.name.clone()),
            aarm_lang::ast::ItemKind::Tool(t) => Some(t.name.name.clone()),
            aarm_lang::ast::ItemKind::Rule(r) => Some(r.name.name.clone()),
            _ => None,
        })
        .collect();
    assert_eq!(names, ["g", "u", "four", "five"]);
}

//! The reference grammar (`lang/aarm.pest`) and the production parser (`aarm_lang::parse`) must
//! accept and reject the same inputs.
//!
//! "The production parser accepts" means: no diagnostic of class [`Class::Syntax`]. Names, types,
//! literal values and resource limits are checked by the production front end only and are not the
//! grammar's business. Inputs: every `.aarm` file of the repository (all must be accepted), a table
//! of tricky snippets, and proptest-generated programs, valid ones and mutated ones.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]

use aarm_lang::diagnostic::Class;
use aarm_lang::FileId;
use pest::Parser as _;
use proptest::prelude::*;
use std::path::{Path, PathBuf};

#[derive(pest_derive::Parser)]
#[grammar = "aarm.pest"]
struct Reference;

/// `Ok(())` if the grammar accepts, else pest's error message.
fn pest_verdict(src: &str) -> Result<(), String> {
    Reference::parse(Rule::file, src).map(|_| ()).map_err(|e| e.to_string())
}

/// What the production parser says. `None` when a resource limit stopped it (the grammar has no
/// limits, so there is nothing to compare).
fn production_verdict(src: &str) -> Option<Result<(), String>> {
    let parsed = aarm_lang::parse(FileId(0), src);
    if parsed.diagnostics.iter().any(|d| d.code.class() == Class::Limit) {
        return None;
    }
    let syntax: Vec<String> = parsed
        .diagnostics
        .iter()
        .filter(|d| d.code.class() == Class::Syntax)
        .map(|d| format!("{} at {}..{}: {}", d.code.as_str(), d.span.start, d.span.end, d.message))
        .collect();
    Some(if syntax.is_empty() { Ok(()) } else { Err(syntax.join("\n")) })
}

/// Checks agreement; returns whether both accepted (`None` if not comparable).
fn check_agree(src: &str) -> Result<Option<bool>, String> {
    let Some(prod) = production_verdict(src) else { return Ok(None) };
    let reference = pest_verdict(src);
    match (&prod, &reference) {
        (Ok(()), Ok(())) => Ok(Some(true)),
        (Err(_), Err(_)) => Ok(Some(false)),
        (Ok(()), Err(e)) => Err(format!("production ACCEPTS, grammar REJECTS:\n--- source\n{src}\n--- pest\n{e}")),
        (Err(e), Ok(())) => Err(format!("production REJECTS, grammar ACCEPTS:\n--- source\n{src}\n--- production\n{e}")),
    }
}

// -------------------------------------------------------------------------------------------------
// a. every `.aarm` file of the repository

fn aarm_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else { return };
    for entry in entries.flatten() {
        let path = entry.path();
        let name = entry.file_name().to_string_lossy().into_owned();
        if name.starts_with('.') || name == "target" {
            continue;
        }
        if path.is_dir() {
            aarm_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "aarm") {
            out.push(path);
        }
    }
}

/// Every `.aarm` file of the repository is accepted by both, except golden error fixtures (a file
/// with a sibling `.stderr`, e.g. `tests/ui/syntax.aarm`), where both must merely agree.
#[test]
fn every_repository_file_is_accepted_by_both() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let mut files = Vec::new();
    aarm_files(&root, &mut files);
    files.sort();
    assert!(files.len() >= 5, "expected the examples and stdlib, found {files:?}");
    let mut failures = Vec::new();
    for path in &files {
        let src = std::fs::read_to_string(path).unwrap();
        if path.with_extension("stderr").exists() {
            if let Err(e) = check_agree(&src) {
                failures.push(format!("{}: {e}", path.display()));
            }
            continue;
        }
        if let Err(e) = pest_verdict(&src) {
            failures.push(format!("{}: grammar rejects:\n{e}", path.display()));
        }
        match production_verdict(&src) {
            Some(Ok(())) => {}
            Some(Err(e)) => failures.push(format!("{}: production rejects:\n{e}", path.display())),
            None => failures.push(format!("{}: production hit a limit", path.display())),
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

// -------------------------------------------------------------------------------------------------
// b. tricky snippets

/// Wraps a condition into a rule.
fn when(cond: &str) -> String {
    format!("rule r on t {{ when {cond} deny }}")
}

/// Wraps a reason message (given with its quotes) into a rule.
fn reason(msg: &str) -> String {
    format!("rule r on t {{ deny reason \"c\" {msg} }}")
}

fn snippets() -> Vec<(String, bool)> {
    let mut v: Vec<(String, bool)> = Vec::new();
    let mut ok = |s: &str| v.push((s.to_string(), true));
    // ---- files and headers
    ok("");
    ok("   // only a comment\n");
    ok("/* block */");
    ok("/// doc for nothing\n");
    ok("policy p version \"1.0\"");
    ok("policy p version \"\"");
    ok("policy version version \"x\"");
    ok("/// doc\npolicy p version \"1\" rule r on t { allow }");
    ok("rule r on t priority 5 { when params.x > 1 deny }");
    ok("rule r on t priority -5 { allow }");
    ok("rule r on t priority - 5 { allow }");
    ok("rule r on * { allow }");
    ok("rule r on a, b, c { allow }");
    ok("rule r on t { risk high confidence 0.85 allow }");
    ok("rule r on t { confidence 1 when a when b risk low deny reason \"x.y\" \"z\" }");
    ok("use std.text");
    ok("use ./common");
    ok("use ../lib/common-2.x");
    ok("use a.policy.rule");
    ok("settings { }");
    ok("settings { default deny conflict restrictive min_confidence 0.6 }");
    ok("settings { conflict defer default allow min_confidence 1 }");
    ok("settings { defer timeout 10m -> deny, attempts 3 -> deny step_up timeout 1h -> deny }");
    ok("settings { defer attempts 1 -> step_up { approvers 1 of g } }");
    ok("tool t { }");
    ok("tool t { a: Int }");
    ok("tool t { a: Int, }");
    ok("tool t { count: Int, set: String?, rule: List<List<String>>, r: { x: Int, y: Set<Int>? }? }");
    ok("context { environment: String, maintenance_window: Bool?, }");
    ok("context { }");
    ok("evidence e: Bool");
    ok("evidence e: Bool from \"api\"");
    ok("evidence from: from from \"from\"");
    ok("group g = []");
    ok("group g = [\"a\", \"b\",]");
    ok("fn f() -> Bool = true");
    ok("fn f(a: Int, b: List<String>,) -> Int = a + b.len()");
    ok("fn f(x: List<Int>) -> List<Int> = x");
    ok("fn f() -> Set<List<Int>> = g()");
    ok("fn f() -> List<Int>= x");
    ok("fn f() -> List<List<Int>>= x");
    ok("fn f(x: List<Int>)->List<Int>=x");
    // ---- contextual words as names
    ok("tool timeout { approvers: Int } group role = [] group of = []");
    ok("rule r on t { step_up { approvers 1 of role } }");
    ok("rule r on t { step_up { approvers 1 of role \"admin\" } }");
    ok("rule r on t { step_up { approvers 1 of of } }");
    ok("rule r on t { step_up { approvers 1 of [\"a\"] timeout 1h -> step_up { approvers 1 of g } } }");
    ok("rule r on t { step_up { escalate after 15m to [\"x\"] escalate after 1h to g veto no veto self_approval risk critical notify \"a\", \"b\" } }");
    ok("rule r on t { defer { } }");
    ok("rule r on t { defer { need a, b timeout 10m -> deny attempts 3 -> cancel } }");
    ok("rule r on t { defer { need timeout timeout 1d -> allow } }");
    ok("rule r on t { modify { } }");
    ok("rule r on t { modify { params.a = 1; params.b = 2 params.count = 3; } }");
    ok("rule r on t { modify { params.to = params.to.filter(x => is_internal(x)) } }");
    // ---- expressions
    ok(&when("a < b and b < c"));
    ok(&when("a == b or not c != d"));
    ok(&when("not not not a"));
    ok(&when("- - 1 < 2"));
    ok(&when("1 - -1 == 0"));
    ok(&when("a * b / c + d - e"));
    ok(&when("params.memo is set"));
    ok(&when("params.memo is not set"));
    ok(&when("x in g"));
    ok(&when("x in [1, 2, 3,]"));
    ok(&when("[] == []"));
    ok(&when("{ } == { a: 1, count: 2, rule: 3, }"));
    ok(&when("params.count.set.rule.policy.not.and"));
    ok(&when("action.tool == \"x\" and identity.roles.contains(\"a\") and context.now.hour() > 1"));
    ok(&when("evidence.window"));
    ok(&when("any x in xs: x > 1"));
    ok(&when("all x in xs: any y in x: y"));
    ok(&when("(count x in xs: x) > 3"));
    ok(&when("not any x in xs: p(x)"));
    ok(&when("a and any x in xs: p or q"));
    ok(&when("any x in a in b: c"));
    ok(&when("xs.filter(x => x > 1).len() == 0"));
    ok(&when("xs.filter(x => any y in x: y,)"));
    ok(&when("f(x => x, 1, [2],)"));
    ok(&when("f()"));
    ok(&when("10m > 1h30m"));
    ok(&when("1d2d3h4m5s.seconds() > 0"));
    ok(&when("10_000 > 1_0._5"));
    ok(&when("1.5 > 0.0001"));
    ok(&when("1.e"));
    ok(&when("1.5.x"));
    ok(&when("10_ == 1__0"));
    ok(&when("\"\\\" \\\\ \\n \\t \\r \\{ \\} \\u{20AC} \\u{1}\" == \"{not interpolated}\""));
    ok(&when("a /* comment */ and // line\n b"));
    ok(&when("params./* c */x"));
    ok(&when("params.// c\n x"));
    ok(&when("params./// doc\n x"));
    ok("use ./a//b");
    ok(&when("(((a)))"));
    ok(&when("a<-1"));
    ok("rule r on t { when a deny } rule s on t { when b allow }");
    ok("rule r on t { when a risk high deny }");
    // ---- reason templates
    ok(&reason("\"plain\""));
    ok(&reason("\"\""));
    ok(&reason("\"Transfer of {params.amount} {params.currency}\""));
    ok(&reason("\"{ a + 1 }{b}\""));
    ok(&reason("\"\\{ not a hole \\}\""));
    ok(&reason("\"euro \\u{20AC} and {x}\""));
    ok(&reason("\"{xs.filter(x => x > 1).len()}\""));
    ok(&reason("\"{any x in xs: x}\""));
    ok(&reason("\"{[1, 2]}\""));
    ok(&reason("\"http://example.com/{x} /* not a comment */\""));
    // ---- tests
    ok("test \"t\" { }");
    ok("test \"t\" { action transfer_funds { amount: 10_000, currency: \"USD\", } identity { human: \"a\" } context { x: 1 } evidence { e: true } }");
    ok("test \"t\" { approve by \"a\" approve by \"b\" roles [\"r\"] deny by \"c\" deny by \"d\" \"why\" }");
    ok("test \"t\" { provide e = true wait 31m cancel expect pending expect rejected \"self_approval\" }");
    ok("test \"t\" { expect allow expect deny rule r expect step_up rule p.r reason \"x\" expect modify reason \"y\" expect defer }");

    let mut bad = |s: &str| v.push((s.to_string(), false));
    // ---- lexical
    bad("rule r on t { when a deny } \0");
    bad("tool t { a: Int } #");
    bad("rule r on t { when a & b deny }");
    bad("rule r on t { when !a deny }");
    bad("rule r on t { when 'a' deny }");
    bad("\u{FEFF}tool t {}");
    bad("rule r on t { when a\u{0B}deny }");
    bad("group g = [\"unterminated]");
    bad("group g = [\"line\nbreak\"]");
    bad("group g = [\"bad \\q escape\"]");
    bad("group g = [\"bad \\u{zz} escape\"]");
    bad("group g = [\"bad \\u{1234567} escape\"]");
    bad("group g = [\"bad \\u escape\"]");
    bad("/* never closed");
    bad("tool t { } /* never */ /* closed");
    bad(&when("10ms > 1"));
    bad(&when("1.5h > 1"));
    bad(&when("10_000s > 1"));
    bad(&when("1h30 > 1"));
    bad(&when("3x"));
    bad(&when("0x10"));
    bad(&when("1h_"));
    bad(&when(".5"));
    bad(&when("1..2"));
    bad(&when("a.1"));
    bad(&when("1.5."));
    // ---- structure
    bad("tool t { } policy p version \"1\"");
    bad("policy p version \"1\" policy q version \"2\"");
    bad("policy p");
    bad("policy p version 1");
    bad("policy rule version \"1\"");
    bad("rule r { allow }");
    bad("rule r on t { }");
    bad("rule r on t { when a }");
    bad("rule r on t { allow deny }");
    bad("rule r on t { allow reason \"c\" }");
    bad("rule r on t { allow reason \"c\" \"m\" when a }");
    bad("rule r on t { deny when a }");
    bad("rule r on t priority 1.5 { allow }");
    bad("rule r on t priority --5 { allow }");
    bad("rule r on t priority x { allow }");
    bad("rule r on *, t { allow }");
    bad("rule r on t, { allow }");
    bad("rule count on t { allow }");
    bad("rule r on set { allow }");
    bad("rule r on t { risk extreme allow }");
    bad("rule r on t { risk allow }");
    bad("rule r on t { allow");
    bad("rule r on t { allow }}");
    bad("tool t { a: Int b: Int }");
    bad("tool t { a: Int,, }");
    bad("tool t { , }");
    bad("tool t { a: set }");
    bad("tool t { a: Int?? }");
    bad("tool t { a: List<Int }");
    bad("tool t");
    bad("tool rule { }");
    bad("group g = [a]");
    bad("group g = [\"a\" \"b\"]");
    bad("group g = [,]");
    bad("group g [\"a\"]");
    bad("evidence e Bool");
    bad("evidence e: Bool from");
    bad("fn f() -> Bool");
    bad("fn f() Bool = true");
    bad("fn f() -> Int>= x");
    bad("fn f() -> List<Int>== x");
    bad("fn f(a) -> Bool = true");
    bad("fn f() - > Bool = true");
    bad("use");
    bad("use ./");
    bad("use .//x");
    bad("use ..//x");
    bad("use std.");
    bad("use \"std\"");
    bad("settings { default maybe }");
    bad("settings { defer timeout 10m }");
    bad("settings { defer timeout 10m -> deny, }");
    bad("settings { step_up attempts 3 -> deny }");
    bad("settings { timeout 1h -> deny }");
    bad("settings");
    bad("rule r on t { step_up { approvers 1 } }");
    bad("rule r on t { step_up { approvers 1 of } }");
    bad("rule r on t { step_up { approvers x of g } }");
    bad("rule r on t { step_up { timeout 1h deny } }");
    bad("rule r on t { step_up { timeout 60 -> deny } }");
    bad("rule r on t { step_up { escalate 1h to g } }");
    bad("rule r on t { step_up { notify } }");
    bad("rule r on t { step_up { notify \"a\", } }");
    bad("rule r on t { step_up { veto no } }");
    bad("rule r on t { step_up { timeout 1h -> step_up } }");
    bad("rule r on t { step_up }");
    bad("rule r on t { defer { need } }");
    bad("rule r on t { defer { need a, } }");
    bad("rule r on t { defer { attempts 1h -> deny } }");
    bad("rule r on t { defer { timeout 1h -> maybe } }");
    bad("rule r on t { modify { x = 1 } }");
    bad("rule r on t { modify { params.x == 1 } }");
    bad("rule r on t { modify { params.x = } }");
    bad("rule r on t { modify { ; } }");
    bad("rule r on t { modify { params = 1 } }");
    // ---- expressions
    bad(&when("a < b < c"));
    bad(&when("a == b == c"));
    bad(&when("a < b in c"));
    bad(&when("a in b in c"));
    bad(&when("a is set is set"));
    bad(&when("a is set == true"));
    bad(&when("a is"));
    bad(&when("a is not"));
    bad(&when("a is = b"));
    bad(&when("a is null"));
    bad(&when("a not in b"));
    bad(&when("a = b"));
    bad(&when("a < = b"));
    bad(&when("a and"));
    bad(&when("and a"));
    bad(&when("not"));
    bad(&when("a +"));
    bad(&when("a + + b"));
    bad(&when("(a"));
    bad(&when("a)"));
    bad(&when("()"));
    bad(&when("[1 2]"));
    bad(&when("[,]"));
    bad(&when("{ a 1 }"));
    bad(&when("{ a: 1 b: 2 }"));
    bad(&when("{ 1: 2 }"));
    bad(&when("f(,)"));
    bad(&when("f(a b)"));
    bad(&when("a."));
    bad(&when("a.(b)"));
    bad(&when("count"));
    bad(&when("set"));
    bad(&when("rule"));
    bad(&when("any x xs: p"));
    bad(&when("any x in xs p"));
    bad(&when("any in xs: p"));
    bad(&when("any count in xs: p"));
    bad(&when("1 + any x in xs: p"));
    bad(&when("a == any x in xs: p"));
    bad(&when("count x in xs: p > 3 > 2"));
    bad(&when("[x => 1]"));
    bad(&when("xs.filter(any => true)"));
    bad(&when("xs.filter(x => )"));
    bad(&when("xs.filter(x ==> 1)"));
    bad(&when("a ->b"));
    bad(&when("a ./b"));
    bad(&when("a / /b"));
    bad(&when("a /*/ b"));
    bad(&when("a */ b"));
    // ---- reason templates
    bad(&reason("\"{\""));
    bad(&reason("\"{a\""));
    bad(&reason("\"a}\""));
    bad(&reason("\"{}\""));
    bad(&reason("\"{ }\""));
    bad(&reason("\"{a b}\""));
    bad(&reason("\"{{a}}\""));
    bad(&reason("\"{ {a: 1} }\""));
    bad(&reason("\"{a /* c */}\""));
    bad(&reason("\"{a /* c */} see http://x\""));
    bad(&reason("\"{a // c}\""));
    bad(&reason("\"{a\\}}\""));
    bad(&reason("\"{a\\\"}\""));
    bad(&reason("\"{\\\"a\\\"}\""));
    bad(&reason("\"\\u{zz}\""));
    bad(&reason("\"\\u{41 {a}\""));
    bad(&reason("\"\\q\""));
    bad(&reason("\"{a + }\""));
    bad(&reason("\"{10ms}\""));
    bad(&reason("\"{a < b < c}\""));
    bad("rule r on t { deny reason \"c\" }");
    bad("rule r on t { deny reason \"c\" x }");
    bad("rule r on t { deny reason c \"m\" }");
    // ---- tests
    bad("test t { }");
    bad("test \"t\" { action { a: 1 } }");
    bad("test \"t\" { action t }");
    bad("test \"t\" { identity human }");
    bad("test \"t\" { approve \"a\" }");
    bad("test \"t\" { approve by a }");
    bad("test \"t\" { approve by \"a\" roles }");
    bad("test \"t\" { deny by }");
    bad("test \"t\" { deny by \"a\" \"b\" \"c\" }");
    bad("test \"t\" { provide e true }");
    bad("test \"t\" { provide e == true }");
    bad("test \"t\" { wait 30 }");
    bad("test \"t\" { expect }");
    bad("test \"t\" { expect maybe }");
    bad("test \"t\" { expect rejected }");
    bad("test \"t\" { expect allow rule }");
    bad("test \"t\" { expect allow rule a.b.c }");
    bad("test \"t\" { expect allow reason }");
    bad("test \"t\" { expect allow reason x }");
    bad("test \"t\" { frobnicate }");
    bad("test \"t\" {");
    v
}

#[test]
fn tricky_snippets_agree_with_the_expected_verdict() {
    let mut failures = Vec::new();
    for (src, expected) in snippets() {
        let prod = production_verdict(&src).expect("no limits in the snippets");
        let reference = pest_verdict(&src);
        if prod.is_ok() != expected || reference.is_ok() != expected {
            failures.push(format!(
                "expected {}: {src:?}\n  production: {}\n  grammar: {}",
                if expected { "ACCEPT" } else { "REJECT" },
                prod.err().unwrap_or_else(|| "accepts".into()),
                reference.err().unwrap_or_else(|| "accepts".into()).replace('\n', "\n    "),
            ));
        }
    }
    assert!(failures.is_empty(), "{} snippet(s) failed:\n\n{}", failures.len(), failures.join("\n\n"));
}

// -------------------------------------------------------------------------------------------------
// c. generated programs
//
// A program is generated as a list of tokens (each a lexeme), joined by whitespace or comments.
// Expressions carry their precedence level so that an operand is parenthesised exactly when the
// grammar needs it; nesting is kept small because pest is recursive.

type Toks = Vec<String>;

/// Precedence levels, loosest first.
const QUANT: u8 = 0;
const OR: u8 = 1;
const AND: u8 = 2;
const NOT: u8 = 3;
const CMP: u8 = 4;
const ADD: u8 = 5;
const MUL: u8 = 6;
const UNARY: u8 = 7;
const POSTFIX: u8 = 8;

#[derive(Clone, Debug)]
struct E {
    toks: Toks,
    prec: u8,
}

fn t(words: &[&str]) -> Toks {
    words.iter().map(|w| (*w).to_string()).collect()
}

fn cat(parts: impl IntoIterator<Item = Toks>) -> Toks {
    parts.into_iter().flatten().collect()
}

/// The expression as an operand that needs at least level `min`.
fn operand(e: &E, min: u8) -> Toks {
    if e.prec >= min {
        e.toks.clone()
    } else {
        cat([t(&["("]), e.toks.clone(), t(&[")"])])
    }
}

fn e(toks: Toks, prec: u8) -> E {
    E { toks, prec }
}

/// Comma-separated, with an optional trailing comma.
fn comma_list(items: Vec<Toks>, trailing: bool) -> Toks {
    let n = items.len();
    let mut out = Vec::new();
    for (i, item) in items.into_iter().enumerate() {
        out.extend(item);
        if i + 1 < n || (trailing && n > 0) {
            out.push(",".into());
        }
    }
    out
}

/// Declared names: never reserved, sometimes a contextual word.
fn name() -> impl Strategy<Value = String> + Clone {
    prop::sample::select(vec![
        "a", "b", "xs", "amount", "_x1", "timeout", "role", "version", "of", "from", "need", "to", "veto",
        "low", "approvers", "cancel", "expect",
    ])
    .prop_map(str::to_string)
}

/// Field names and record keys: any word, reserved words included.
fn field_name() -> impl Strategy<Value = String> + Clone {
    prop::sample::select(vec!["to", "memo", "count", "set", "rule", "policy", "not", "in", "params", "x_2"])
        .prop_map(str::to_string)
}

fn string_lit() -> impl Strategy<Value = String> + Clone {
    prop::sample::select(vec![
        r#""""#,
        r#""abc""#,
        r#""cfo@corp.com""#,
        r#""esc \" \\ \n \t \r \u{20AC} \{ \} {not a hole}""#,
        r#""/* not a comment */ // nor this""#,
        "\"\u{e9}t\u{e9} \u{1F600}\"",
    ])
    .prop_map(str::to_string)
}

fn duration_lit() -> impl Strategy<Value = String> + Clone {
    prop::sample::select(vec!["30s", "15m", "2h", "1d", "1h30m", "0s"]).prop_map(str::to_string)
}

fn leaf(plain: bool) -> BoxedStrategy<E> {
    let number = prop::sample::select(vec!["0", "42", "10_000", "12.5", "0.0001", "1_0.5_0"])
        .prop_map(|n| e(t(&[n]), POSTFIX));
    let duration = duration_lit().prop_map(|d| e(vec![d], POSTFIX));
    let boolean = prop::sample::select(vec!["true", "false"]).prop_map(|b| e(t(&[b]), POSTFIX));
    let ident = name().prop_map(|n| e(vec![n], POSTFIX));
    let root = (prop::sample::select(vec!["params", "context", "evidence", "identity", "action"]), field_name())
        .prop_map(|(r, f)| e(vec![r.to_string(), ".".into(), f], POSTFIX));
    let bare_root = prop::sample::select(vec!["params", "context"]).prop_map(|r| e(t(&[r]), POSTFIX));
    if plain {
        prop_oneof![number, duration, boolean, ident, root, bare_root].boxed()
    } else {
        let string = string_lit().prop_map(|s| e(vec![s], POSTFIX));
        prop_oneof![number, duration, boolean, string, ident, root, bare_root].boxed()
    }
}

/// Expressions of every precedence level. `plain` leaves out strings and braces (for reason
/// message interpolations).
fn expr_with(plain: bool) -> BoxedStrategy<E> {
    leaf(plain)
        .prop_recursive(3, 24, 3, move |inner| {
            let args = prop::collection::vec(
                prop_oneof![
                    3 => inner.clone().prop_map(|a| a.toks),
                    1 => (name(), inner.clone()).prop_map(|(x, b)| cat([vec![x, "=>".into()], b.toks])),
                ],
                0..3,
            );
            let paren = inner.clone().prop_map(|a| e(cat([t(&["("]), a.toks, t(&[")"])]), POSTFIX));
            let list = (prop::collection::vec(inner.clone(), 0..3), any::<bool>()).prop_map(|(items, tr)| {
                e(cat([t(&["["]), comma_list(items.into_iter().map(|i| i.toks).collect(), tr), t(&["]"])]), POSTFIX)
            });
            let call = (name(), args.clone(), any::<bool>())
                .prop_map(|(f, a, tr)| e(cat([vec![f, "(".into()], comma_list(a, tr), t(&[")"])]), POSTFIX));
            let member = (inner.clone(), field_name(), proptest::option::of((args, any::<bool>()))).prop_map(
                |(recv, f, call)| {
                    let mut toks = cat([operand(&recv, POSTFIX), vec![".".into(), f]]);
                    if let Some((a, tr)) = call {
                        toks = cat([toks, t(&["("]), comma_list(a, tr), t(&[")"])]);
                    }
                    e(toks, POSTFIX)
                },
            );
            let neg = inner.clone().prop_map(|a| e(cat([t(&["-"]), operand(&a, UNARY)]), UNARY));
            let mul = (inner.clone(), prop::sample::select(vec!["*", "/"]), inner.clone())
                .prop_map(|(a, op, b)| e(cat([operand(&a, MUL), t(&[op]), operand(&b, UNARY)]), MUL));
            let add = (inner.clone(), prop::sample::select(vec!["+", "-"]), inner.clone())
                .prop_map(|(a, op, b)| e(cat([operand(&a, ADD), t(&[op]), operand(&b, MUL)]), ADD));
            let cmp = (inner.clone(), prop::sample::select(vec!["==", "!=", "<", "<=", ">", ">=", "in"]), inner.clone())
                .prop_map(|(a, op, b)| e(cat([operand(&a, ADD), t(&[op]), operand(&b, ADD)]), CMP));
            let is_set = (inner.clone(), any::<bool>()).prop_map(|(a, neg)| {
                let tail = if neg { t(&["is", "not", "set"]) } else { t(&["is", "set"]) };
                e(cat([operand(&a, ADD), tail]), CMP)
            });
            let not = inner.clone().prop_map(|a| {
                // `not` takes a `not`-level operand or a quantifier without parentheses.
                let arg = if a.prec == QUANT { a.toks.clone() } else { operand(&a, NOT) };
                e(cat([t(&["not"]), arg]), NOT)
            });
            let logic = (inner.clone(), prop::sample::select(vec!["and", "or"]), inner.clone()).prop_map(|(a, op, b)| {
                let level = if op == "and" { AND } else { OR };
                e(cat([operand(&a, level), t(&[op]), operand(&b, level + 1)]), level)
            });
            let quant = (prop::sample::select(vec!["any", "all", "count"]), name(), inner.clone(), inner.clone())
                .prop_map(|(q, x, xs, body)| e(cat([vec![q.to_string(), x, "in".into()], xs.toks, t(&[":"]), body.toks]), QUANT));
            if plain {
                prop_oneof![paren, list, call, member, neg, mul, add, cmp, is_set, not, logic, quant].boxed()
            } else {
                let record = (prop::collection::vec((field_name(), inner.clone()), 0..3), any::<bool>()).prop_map(
                    |(fields, tr)| {
                        let fields = fields.into_iter().map(|(k, v)| cat([vec![k, ":".into()], v.toks])).collect();
                        e(cat([t(&["{"]), comma_list(fields, tr), t(&["}"])]), POSTFIX)
                    },
                );
                prop_oneof![paren, list, record, call, member, neg, mul, add, cmp, is_set, not, logic, quant].boxed()
            }
        })
        .boxed()
}

fn expr() -> BoxedStrategy<Toks> {
    expr_with(false).prop_map(|x| x.toks).boxed()
}

/// A reason message with interpolations, as one string token.
fn template() -> impl Strategy<Value = String> {
    let part = prop_oneof![
        prop::sample::select(vec!["Transfer of ", " needs ", "\\{literal\\}", "\\u{20AC}", "\\\"q\\\"", "://x/ "])
            .prop_map(str::to_string),
        expr_with(true).prop_map(|x| format!("{{{}}}", x.toks.join(" "))),
    ];
    prop::collection::vec(part, 0..4).prop_map(|parts| format!("\"{}\"", parts.concat()))
}

fn type_expr() -> BoxedStrategy<Toks> {
    let base = (prop::sample::select(vec!["Bool", "Int", "Decimal", "String", "Duration", "Time"]), any::<bool>())
        .prop_map(|(n, opt)| if opt { t(&[n, "?"]) } else { t(&[n]) });
    base.prop_recursive(2, 6, 2, |inner| {
        prop_oneof![
            (prop::sample::select(vec!["List", "Set"]), inner.clone(), any::<bool>()).prop_map(|(n, arg, opt)| {
                cat([t(&[n, "<"]), arg, t(&[">"]), if opt { t(&["?"]) } else { vec![] }])
            }),
            (prop::collection::vec((field_name(), inner), 0..3), any::<bool>(), any::<bool>()).prop_map(
                |(fields, tr, opt)| {
                    let fields = fields.into_iter().map(|(k, v)| cat([vec![k, ":".into()], v])).collect();
                    cat([t(&["{"]), comma_list(fields, tr), t(&["}"]), if opt { t(&["?"]) } else { vec![] }])
                }
            ),
        ]
    })
    .boxed()
}

fn fields() -> impl Strategy<Value = Toks> {
    (prop::collection::vec((field_name(), type_expr()), 0..4), any::<bool>()).prop_map(|(fs, tr)| {
        comma_list(fs.into_iter().map(|(k, ty)| cat([vec![k, ":".into()], ty])).collect(), tr)
    })
}

fn string_list() -> impl Strategy<Value = Toks> {
    (prop::collection::vec(string_lit(), 0..3), any::<bool>())
        .prop_map(|(xs, tr)| cat([t(&["["]), comma_list(xs.into_iter().map(|s| vec![s]).collect(), tr), t(&["]"])]))
}

fn risk_level() -> impl Strategy<Value = String> {
    prop::sample::select(vec!["low", "medium", "high", "critical"]).prop_map(str::to_string)
}

fn step_up_clause(outcome: BoxedStrategy<Toks>) -> impl Strategy<Value = Toks> {
    prop_oneof![
        (1u8..4, prop_oneof![
            string_lit().prop_map(|s| vec!["role".into(), s]),
            string_list(),
            name().prop_map(|n| vec![n]),
        ])
        .prop_map(|(n, from)| cat([vec!["approvers".into(), n.to_string(), "of".into()], from])),
        (duration_lit(), outcome).prop_map(|(d, o)| cat([vec!["timeout".into(), d, "->".into()], o])),
        (duration_lit(), prop_oneof![string_list(), name().prop_map(|n| vec![n])])
            .prop_map(|(d, to)| cat([vec!["escalate".into(), "after".into(), d, "to".into()], to])),
        Just(t(&["veto"])),
        Just(t(&["no", "veto"])),
        Just(t(&["self_approval"])),
        risk_level().prop_map(|r| vec!["risk".into(), r]),
        prop::collection::vec(string_lit(), 1..3).prop_map(|cs| {
            cat([t(&["notify"]), comma_list(cs.into_iter().map(|c| vec![c]).collect(), false)])
        }),
    ]
}

/// An outcome; `nested` allows one further `step_up { ... }` tier.
fn outcome(nested: bool) -> BoxedStrategy<Toks> {
    let simple = prop::sample::select(vec!["allow", "deny", "cancel"]).prop_map(|o| t(&[o]));
    if nested {
        prop_oneof![3 => simple, 1 => step_up_block(false).prop_map(|b| cat([t(&["step_up"]), b]))].boxed()
    } else {
        simple.boxed()
    }
}

fn step_up_block(nested: bool) -> BoxedStrategy<Toks> {
    prop::collection::vec(step_up_clause(outcome(nested)), 0..4)
        .prop_map(|cs| cat([t(&["{"]), cat(cs), t(&["}"])]))
        .boxed()
}

fn limit() -> impl Strategy<Value = Toks> {
    prop_oneof![
        (duration_lit(), outcome(true)).prop_map(|(d, o)| cat([vec!["timeout".into(), d, "->".into()], o])),
        (1u8..5, outcome(true)).prop_map(|(n, o)| cat([vec!["attempts".into(), n.to_string(), "->".into()], o])),
    ]
}

fn defer_block() -> impl Strategy<Value = Toks> {
    let clause = prop_oneof![
        prop::collection::vec(name(), 1..3)
            .prop_map(|ns| cat([t(&["need"]), comma_list(ns.into_iter().map(|n| vec![n]).collect(), false)])),
        limit(),
    ];
    prop::collection::vec(clause, 0..3).prop_map(|cs| cat([t(&["{"]), cat(cs), t(&["}"])]))
}

fn decision() -> impl Strategy<Value = Toks> {
    let assignment = (field_name(), expr(), any::<bool>()).prop_map(|(f, v, semi)| {
        cat([vec!["params".into(), ".".into(), f, "=".into()], v, if semi { t(&[";"]) } else { vec![] }])
    });
    prop_oneof![
        Just(t(&["allow"])),
        Just(t(&["deny"])),
        prop::collection::vec(assignment, 0..3).prop_map(|a| cat([t(&["modify", "{"]), cat(a), t(&["}"])])),
        step_up_block(true).prop_map(|b| cat([t(&["step_up"]), b])),
        defer_block().prop_map(|b| cat([t(&["defer"]), b])),
    ]
}

fn rule() -> impl Strategy<Value = Toks> {
    let targets = prop_oneof![
        Just(t(&["*"])),
        prop::collection::vec(name(), 1..3).prop_map(|ns| comma_list(ns.into_iter().map(|n| vec![n]).collect(), false)),
    ];
    let priority = proptest::option::of((any::<bool>(), 0u16..1000))
        .prop_map(|p| match p {
            None => vec![],
            Some((true, n)) => vec!["priority".into(), "-".into(), n.to_string()],
            Some((false, n)) => vec!["priority".into(), n.to_string()],
        });
    let clause = prop_oneof![
        3 => expr().prop_map(|x| cat([t(&["when"]), x])),
        1 => risk_level().prop_map(|r| vec!["risk".into(), r]),
        1 => prop::sample::select(vec!["0.85", "1", "0"]).prop_map(|c| t(&["confidence", c])),
    ];
    let reason = proptest::option::of((string_lit(), template())).prop_map(|r| match r {
        None => vec![],
        Some((code, msg)) => vec!["reason".into(), code, msg],
    });
    (name(), targets, priority, prop::collection::vec(clause, 0..3), decision(), reason).prop_map(
        |(n, targets, priority, clauses, decision, reason)| {
            cat([vec!["rule".into(), n, "on".into()], targets, priority, t(&["{"]), cat(clauses), decision, reason, t(&["}"])])
        },
    )
}

fn record() -> impl Strategy<Value = Toks> {
    (prop::collection::vec((field_name(), expr()), 0..3), any::<bool>()).prop_map(|(fs, tr)| {
        let fs = fs.into_iter().map(|(k, v)| cat([vec![k, ":".into()], v])).collect();
        cat([t(&["{"]), comma_list(fs, tr), t(&["}"])])
    })
}

fn test_decl() -> impl Strategy<Value = Toks> {
    let decision = prop::sample::select(vec!["allow", "deny", "modify", "step_up", "defer"]).prop_map(str::to_string);
    let step = prop_oneof![
        (name(), record()).prop_map(|(tool, r)| cat([vec!["action".into(), tool], r])),
        (prop::sample::select(vec!["identity", "context", "evidence"]), record())
            .prop_map(|(k, r)| cat([t(&[k]), r])),
        (string_lit(), proptest::option::of(expr()))
            .prop_map(|(by, roles)| cat([vec!["approve".into(), "by".into(), by], roles.map_or(vec![], |r| cat([t(&["roles"]), r]))])),
        (string_lit(), proptest::option::of(string_lit()))
            .prop_map(|(by, why)| cat([vec!["deny".into(), "by".into(), by], why.into_iter().collect()])),
        (name(), expr()).prop_map(|(n, v)| cat([vec!["provide".into(), n, "=".into()], v])),
        duration_lit().prop_map(|d| vec!["wait".into(), d]),
        Just(t(&["cancel"])),
        Just(t(&["expect", "pending"])),
        string_lit().prop_map(|s| vec!["expect".into(), "rejected".into(), s]),
        (decision, proptest::option::of((name(), proptest::option::of(name()))), proptest::option::of(string_lit()))
            .prop_map(|(d, rule, reason)| {
                let rule = match rule {
                    None => vec![],
                    Some((a, None)) => vec!["rule".into(), a],
                    Some((a, Some(b))) => vec!["rule".into(), a, ".".into(), b],
                };
                let reason = reason.map_or(vec![], |r| vec!["reason".into(), r]);
                cat([vec!["expect".into(), d], rule, reason])
            }),
    ];
    (string_lit(), prop::collection::vec(step, 0..5))
        .prop_map(|(n, steps)| cat([vec!["test".into(), n, "{".into()], cat(steps), t(&["}"])]))
}

fn setting() -> impl Strategy<Value = Toks> {
    prop_oneof![
        prop::sample::select(vec!["allow", "deny"]).prop_map(|d| t(&["default", d])),
        prop::sample::select(vec!["restrictive", "defer"]).prop_map(|c| t(&["conflict", c])),
        prop::sample::select(vec!["0.6", "1", "0.0001"]).prop_map(|c| t(&["min_confidence", c])),
        prop::collection::vec(limit(), 1..3).prop_map(|ls| cat([t(&["defer"]), comma_list(ls, false)])),
        (duration_lit(), outcome(true)).prop_map(|(d, o)| cat([vec!["step_up".into(), "timeout".into(), d, "->".into()], o])),
    ]
}

fn item() -> impl Strategy<Value = Toks> {
    prop_oneof![
        1 => prop_oneof![
            Just(t(&["use", "./common"])),
            Just(t(&["use", "../lib/x-y.aarm"])),
            (name(), prop::collection::vec(field_name(), 0..3))
                .prop_map(|(n, rest)| cat([vec!["use".into(), n], cat(rest.into_iter().map(|r| vec![".".into(), r]))])),
        ],
        1 => prop::collection::vec(setting(), 0..4).prop_map(|s| cat([t(&["settings", "{"]), cat(s), t(&["}"])])),
        1 => (name(), fields()).prop_map(|(n, f)| cat([vec!["tool".into(), n, "{".into()], f, t(&["}"])])),
        1 => fields().prop_map(|f| cat([t(&["context", "{"]), f, t(&["}"])])),
        1 => (name(), type_expr(), proptest::option::of(string_lit()))
            .prop_map(|(n, ty, from)| cat([vec!["evidence".into(), n, ":".into()], ty, from.map_or(vec![], |s| vec!["from".into(), s])])),
        1 => (name(), string_list()).prop_map(|(n, l)| cat([vec!["group".into(), n, "=".into()], l])),
        1 => (name(), prop::collection::vec((name(), type_expr()), 0..3), any::<bool>(), type_expr(), expr()).prop_map(
            |(n, params, tr, ret, body)| {
                let params = params.into_iter().map(|(p, ty)| cat([vec![p, ":".into()], ty])).collect();
                cat([vec!["fn".into(), n, "(".into()], comma_list(params, tr), t(&[")", "->"]), ret, t(&["="]), body])
            }
        ),
        3 => rule(),
        2 => test_decl(),
    ]
}

fn program() -> impl Strategy<Value = Toks> {
    let header = proptest::option::of((name(), string_lit()))
        .prop_map(|h| h.map_or(vec![], |(n, v)| vec!["policy".into(), n, "version".into(), v]));
    (header, prop::collection::vec(item(), 0..8)).prop_map(|(h, items)| cat([h, cat(items)]))
}

/// What separates two tokens: mostly a space, sometimes a line break or a comment.
fn separators() -> impl Strategy<Value = Vec<u8>> {
    prop::collection::vec(any::<u8>(), 1..64)
}

fn render(toks: &[String], seps: &[u8]) -> String {
    let mut out = String::new();
    for (i, tok) in toks.iter().enumerate() {
        if i > 0 {
            out.push_str(match seps[i % seps.len()] {
                0..=199 => " ",
                200..=229 => "\n",
                230..=239 => " /* c */ ",
                240..=249 => " // c\n",
                _ => "\n/// doc\n",
            });
        }
        out.push_str(tok);
    }
    out
}

/// Tokens that a mutation may insert.
const VOCABULARY: &[&str] = &[
    "policy", "use", "settings", "tool", "context", "evidence", "group", "fn", "rule", "test", "on", "priority",
    "when", "risk", "confidence", "reason", "allow", "deny", "modify", "step_up", "defer", "and", "or", "not",
    "in", "is", "set", "any", "all", "count", "true", "false", "params", "action", "identity", "version",
    "default", "timeout", "attempts", "approvers", "of", "role", "escalate", "after", "to", "veto", "no",
    "notify", "need", "approve", "by", "expect", "pending", "rejected", "cancel", "wait", "provide", "high",
    "x", "1", "1.5", "5m", "\"s\"", "\"{x}\"", "./p", "{", "}", "(", ")", "[", "]", ",", ";", ":", ".", "?",
    "*", "/", "+", "-", "->", "=>", "=", "==", "!=", "<", "<=", ">", ">=",
];

#[derive(Clone, Debug)]
enum Mutation {
    Delete(usize),
    Duplicate(usize),
    Swap(usize),
    Insert(usize, &'static str),
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        any::<usize>().prop_map(Mutation::Delete),
        any::<usize>().prop_map(Mutation::Duplicate),
        any::<usize>().prop_map(Mutation::Swap),
        (any::<usize>(), prop::sample::select(VOCABULARY)).prop_map(|(i, w)| Mutation::Insert(i, w)),
    ]
}

fn mutate(mut toks: Toks, m: &Mutation) -> Toks {
    let n = toks.len();
    match *m {
        Mutation::Insert(i, w) => toks.insert(i % (n + 1), w.to_string()),
        _ if n == 0 => {}
        Mutation::Delete(i) => {
            toks.remove(i % n);
        }
        Mutation::Duplicate(i) => {
            let tok = toks[i % n].clone();
            toks.insert(i % n, tok);
        }
        Mutation::Swap(i) => {
            if n >= 2 {
                toks.swap(i % (n - 1), i % (n - 1) + 1);
            }
        }
    }
    toks
}

/// `PROPTEST_CASES=100000` runs a longer campaign.
/// Characters that a character-level edit may insert: the ones where lexing decisions are made.
const CHARS: &[char] = &[
    ' ', '\n', '"', '\\', '{', '}', '/', '*', '.', '-', '>', '<', '=', '_', '0', '5', 'a', 'm', 's', 'u', ',', ':',
    '(', '[', '!', '?', '\0', '\u{e9}',
];

/// Up to three character edits (delete, insert, replace) at byte positions rounded to characters.
fn edit_chars(src: &str, edits: &[(u8, usize, char)]) -> String {
    let mut chars: Vec<char> = src.chars().collect();
    for &(kind, at, c) in edits {
        let n = chars.len();
        match kind % 3 {
            0 if n > 0 => {
                chars.remove(at % n);
            }
            1 => chars.insert(at % (n + 1), c),
            _ if n > 0 => chars[at % n] = c,
            _ => {}
        }
    }
    chars.into_iter().collect()
}

fn config(cases: u32) -> ProptestConfig {
    let cases = std::env::var("PROPTEST_CASES").ok().and_then(|v| v.parse().ok()).unwrap_or(cases);
    ProptestConfig { cases, failure_persistence: None, ..ProptestConfig::default() }
}

proptest! {
    #![proptest_config(config(512))]

    #[test]
    fn generated_programs_are_accepted_by_both(toks in program(), seps in separators()) {
        let src = render(&toks, &seps);
        match check_agree(&src) {
            Ok(Some(true)) | Ok(None) => {}
            Ok(Some(false)) => prop_assert!(false, "both reject a generated program:\n{}\n{:?}", src, production_verdict(&src)),
            Err(e) => prop_assert!(false, "{}", e),
        }
    }

    #[test]
    fn character_edits_get_the_same_verdict(
        toks in program(),
        seps in separators(),
        edits in prop::collection::vec((any::<u8>(), any::<usize>(), prop::sample::select(CHARS)), 1..4),
    ) {
        let src = edit_chars(&render(&toks, &seps), &edits);
        if let Err(e) = check_agree(&src) {
            prop_assert!(false, "after {:?}: {}", edits, e);
        }
    }

    #[test]
    fn mutated_programs_get_the_same_verdict(toks in program(), seps in separators(), m in mutation()) {
        let src = render(&mutate(toks, &m), &seps);
        if let Err(e) = check_agree(&src) {
            prop_assert!(false, "after {:?}: {}", m, e);
        }
    }
}

/// The generator reaches every construct, and the mutations produce both verdicts.
#[test]
fn generator_covers_the_grammar() {
    use proptest::strategy::ValueTree;
    use proptest::test_runner::TestRunner;
    let mut runner = TestRunner::deterministic();
    let mut seen = std::collections::HashSet::new();
    let (mut accepted, mut rejected, mut skipped) = (0, 0, 0);
    let mut sample = String::new();
    let mut total = 0;
    for _ in 0..300 {
        let toks = program().new_tree(&mut runner).unwrap().current();
        let seps = separators().new_tree(&mut runner).unwrap().current();
        let m = mutation().new_tree(&mut runner).unwrap().current();
        if toks.len() > sample.len() / 4 && toks.len() < 400 {
            sample = render(&toks, &seps);
        }
        total += toks.len();
        seen.extend(toks.iter().cloned());
        match check_agree(&render(&mutate(toks, &m), &seps)) {
            Ok(Some(true)) => accepted += 1,
            Ok(Some(false)) => rejected += 1,
            Ok(None) => skipped += 1,
            Err(e) => panic!("{e}"),
        }
    }
    let missing: Vec<&&str> = VOCABULARY
        .iter()
        .filter(|w| !["x", "1", "1.5", "5m", "\"s\"", "\"{x}\"", "./p", "high", "?"].contains(*w) && !seen.contains(**w))
        .collect();
    eprintln!("{} tokens on average; mutated: {accepted} accepted, {rejected} rejected, {skipped} skipped\nsample:\n{sample}", total / 300);
    assert!(missing.is_empty(), "the generator never produced {missing:?}");
    assert!(accepted > 20 && rejected > 20, "{accepted} accepted, {rejected} rejected");
}

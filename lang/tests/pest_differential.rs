//! The reference grammar (`lang/aarm.pest`) and the production parser (`aarm_lang::parse`) must
//! accept and reject the same inputs.
//!
//! "The production parser accepts" means: no diagnostic of class [`Class::Syntax`]. Names, types,
//! literal values and resource limits are checked by the production front end only and are not the
//! grammar's business. Inputs: every `.aarm` file of the repository (all must be accepted), a table
//! of tricky snippets, and proptest-generated programs, valid ones and mutated ones.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]

mod common;

use aarm_lang::diagnostic::Class;
use aarm_lang::FileId;
use pest::Parser as _;
use proptest::prelude::*;

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
        (Err(e), Ok(())) => {
            Err(format!("production REJECTS, grammar ACCEPTS:\n--- source\n{src}\n--- production\n{e}"))
        }
    }
}

// -------------------------------------------------------------------------------------------------
// a. every `.aarm` file of the repository

/// Every `.aarm` file of the repository is accepted by both, except golden error fixtures (a file
/// with a sibling `.stderr`, e.g. `tests/ui/syntax.aarm`), where both must merely agree.
#[test]
fn every_repository_file_is_accepted_by_both() {
    let files = repository_aarm_files();
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
    ok("settings { allow_valid 5m default deny }");
    ok(r#"settings { review "security-team" allow_valid 1h }"#);
    ok(r#"override on delete_database by role "incident-commander" for 1h requires reason, ticket"#);
    ok(r#"override on a, b by ["x@corp.com"] for 30m"#);
    ok("override on a by oncall for 1h requires rule, test\nrule r on a { deny }");
    ok("override on a by role for 1h");
    ok(r#"override on a by role "r" for 1h requires reason notify "slack:#sec", "webhook:audit""#);
    ok(r#"override on a by g for 1h notify "email:sec@corp.com""#);
    ok("fn override(x: Int) -> Bool = x > 1");
    ok("rule r on t { valid 30s allow }");
    ok(r#"settings { action_hash_ignores ["params.requested_at", "params.nonce"] allow_valid 5m }"#);
    ok("settings { action_hash_ignores [] }");
    ok("rule r on t { when x risk high valid 1h30m confidence 0.5 modify { params.a = 1 } }");
    ok("rule r on t { valid 1m valid 2m deny }");
    ok("rule r on t { step_up { approvers 1 of g valid 1h timeout 2h -> deny } }");
    ok("rule r on t { step_up { approvers 2 of g  limits amount, count  valid 1h } }");
    ok("rule r on t { step_up { limits in, to, limits } }");
    ok("rule r on t { step_up { approvers 1 of g timeout 1h -> step_up { approvers 1 of h limits amount } } }");
    ok("rule r on t { when valid allow }");
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
    ok("test \"t\" { approve by \"a\" approve by \"b\" roles [\"r\"] deny by \"c\" deny by \"d\" \"why\" deny by \"e\" roles [\"r\"] deny by \"f\" \"why\" roles [\"r\"] }");
    ok("test \"t\" { provide e = true wait 31m cancel expect pending expect rejected \"self_approval\" }");
    ok("test \"t\" { expect allow expect deny rule r expect step_up rule p.r reason \"x\" expect modify reason \"y\" expect defer }");
    ok("test \"t\" { action t operation \"write\" { a: { b: 1 } } expect modify { a: 1 } rule r reason \"m\" expect modify { } expect cancel expect receipts [\"open\", \"cancel\"] }");

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
    bad("settings { allow_valid 5 }");
    bad("settings { allow_valid }");
    bad("rule r on t { valid allow }");
    bad(r#"settings { action_hash_ignores "params.a" }"#);
    bad("settings { action_hash_ignores }");
    bad("rule r on t { valid 30 allow }");
    bad("rule r on t { allow valid 30s }");
    bad("rule r on t { step_up { approvers 1 of g valid } }");
    bad("rule r on t { step_up { approvers 1 of g limits } }");
    bad("rule r on t { step_up { limits amount, } }");
    bad("rule r on t { step_up { limits \"amount\" } }");
    bad("rule r on t { step_up { limits params.amount } }");
    bad("rule r on t { step_up { limits amount count } }");
    bad("settings { review security }");
    bad("override on * by role \"r\" for 1h");
    bad("override on a by role \"r\"");
    bad("override on a for 1h");
    bad("override on a by g for 1h requires");
    bad("override on a by g for 1h requires reason,");
    bad("override on a by g for 1h notify");
    bad("override on a by g for 1h notify \"x\",");
    bad("override on a by g for 1h notify slack");
    bad("override on a by g for 1h notify \"x\" requires reason");
    bad("override a by g for 1h");
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
    bad("test \"t\" { action t operation { a: 1 } }");
    bad("test \"t\" { action t operation write { a: 1 } }");
    bad("test \"t\" { action t { a: 1 } operation \"w\" }");
    bad("test \"t\" { expect receipts }");
    bad("test \"t\" { expect allow { a: 1 } }");
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

// The generator lives in `tests/common/mod.rs` (shared with `tests/format.rs`).
use common::*;

/// Tokens that a mutation may insert: the reserved words (the lexer's own list) and these.
const OTHER_TOKENS: &[&str] = &[
    "version",
    "default",
    "timeout",
    "attempts",
    "approvers",
    "of",
    "role",
    "escalate",
    "after",
    "to",
    "veto",
    "no",
    "notify",
    "limits",
    "need",
    "approve",
    "by",
    "expect",
    "pending",
    "rejected",
    "cancel",
    "wait",
    "provide",
    "high",
    "x",
    "1",
    "1.5",
    "5m",
    "\"s\"",
    "\"{x}\"",
    "./p",
    "{",
    "}",
    "(",
    ")",
    "[",
    "]",
    ",",
    ";",
    ":",
    ".",
    "?",
    "*",
    "/",
    "+",
    "-",
    "->",
    "=>",
    "=",
    "==",
    "!=",
    "<",
    "<=",
    ">",
    ">=",
];

fn vocabulary() -> Vec<&'static str> {
    aarm_lang::token::RESERVED_WORDS.iter().chain(OTHER_TOKENS).copied().collect()
}

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
        (any::<usize>(), prop::sample::select(vocabulary())).prop_map(|(i, w)| Mutation::Insert(i, w)),
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
    let missing: Vec<&str> = vocabulary()
        .into_iter()
        .filter(|w| !["x", "1", "1.5", "5m", "\"s\"", "\"{x}\"", "./p", "high", "?"].contains(w) && !seen.contains(*w))
        .collect();
    eprintln!(
        "{} tokens on average; mutated: {accepted} accepted, {rejected} rejected, {skipped} skipped\nsample:\n{sample}",
        total / 300
    );
    assert!(missing.is_empty(), "the generator never produced {missing:?}");
    assert!(accepted > 20 && rejected > 20, "{accepted} accepted, {rejected} rejected");
}

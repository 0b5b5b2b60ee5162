//! Checker tests: each error class with its code, line and message, plus the behaviour of
//! narrowing, widening and the IR produced.

use crate::ir::{self, ExprKind};
use crate::modules::load_sources;
use crate::types::Type;
use aarm_lang::render::to_json;
use aarm_lang::Code;

/// (code, line, message) of every diagnostic of a one-file bundle.
fn diags(src: &str) -> Vec<(String, usize, String)> {
    let loaded = load_sources(vec![("p.aarm".into(), src.into())]);
    let checked = super::check(&loaded);
    checked
        .diagnostics
        .iter()
        .map(|d| {
            let j = to_json(d, &loaded.sources);
            (j.code, j.line, j.message)
        })
        .collect()
}

fn bundle(src: &str) -> ir::Bundle {
    let loaded = load_sources(vec![("p.aarm".into(), src.into())]);
    let checked = super::check(&loaded);
    let errors: Vec<_> = checked.diagnostics.iter().filter(|d| d.is_error()).map(|d| d.message.clone()).collect();
    assert!(errors.is_empty(), "unexpected errors: {errors:?}");
    checked.bundle.expect("no errors, so a bundle")
}

/// Asserts exactly one diagnostic with `code` on `line` whose message contains `text`.
#[track_caller]
fn assert_one(src: &str, code: Code, line: usize, text: &str) {
    let ds = diags(src);
    let hits: Vec<_> = ds.iter().filter(|(c, _, _)| c == code.as_str()).collect();
    assert_eq!(hits.len(), 1, "expected one {} in {ds:#?}", code.as_str());
    let (_, l, m) = hits[0];
    assert_eq!(*l, line, "line of {m}");
    assert!(m.contains(text), "message {m:?} lacks {text:?}");
}

const HEADER: &str = "policy p version \"1\"\n\
tool transfer_funds { amount: Decimal, currency: String, memo: String?, tags: List<String> }\n\
tool send_email { to: List<String>, subject: String }\n\
group fin = [\"a@corp.com\", \"b@corp.com\"]\n\
evidence window_ok: Bool from \"maint\"\n";

fn with_header(rest: &str) -> String {
    format!("{HEADER}{rest}")
}

#[test]
fn examples_style_policy_is_clean() {
    let b = bundle(&with_header(
        "rule r on transfer_funds priority 5 {\n  when params.amount > 100 and params.currency == \"USD\"\n  deny\n}\n",
    ));
    assert_eq!(b.rules.len(), 1);
    assert_eq!(b.rules[0].qualified_name, "p.r");
    assert_eq!(b.rules[0].priority, 5);
}

#[test]
fn syntax_errors_reach_check() {
    assert_one(
        &with_header("rule r on transfer_funds { when params.amount = 1 deny }\n"),
        Code::UnexpectedToken,
        6,
        "expected",
    );
}

#[test]
fn misspelt_tool_suggests_the_declared_one() {
    assert_one(
        &with_header("rule r on transfer_fund { deny }\n"),
        Code::UnknownTool,
        6,
        "unknown tool `transfer_fund`",
    );
    let ds = diags(&with_header("rule r on transfer_fund { deny }\n"));
    assert!(ds.iter().all(|(c, _, _)| c != "E0101"), "no cascade: {ds:?}");
}

#[test]
fn a_tie_between_two_suggestions_is_broken_the_same_way_every_time() {
    // `pay` is one edit from both tools; the tools are kept in a hash map, whose order changed
    // from one check to the next, and so did the suggestion.
    let src = "policy p\ntool pat { a: Int }\ntool pax { a: Int }\nrule r on pay { deny }\n";
    for _ in 0..32 {
        let loaded = load_sources(vec![("p.aarm".into(), src.into())]);
        let checked = super::check(&loaded);
        let helps: Vec<_> =
            checked.diagnostics.iter().filter(|d| d.code == Code::UnknownTool).map(|d| d.help.clone()).collect();
        assert_eq!(helps, [Some("did you mean `pat`?".to_string())]);
    }
}

#[test]
fn unknown_names_fields_evidence_groups_functions_and_types() {
    assert_one(
        &with_header("rule r on transfer_funds { when nope deny }\n"),
        Code::UnknownName,
        6,
        "unknown name `nope`",
    );
    assert_one(
        &with_header("rule r on transfer_funds { when params.amout > 1 deny }\n"),
        Code::UnknownField,
        6,
        "no field `amout`",
    );
    assert_one(
        &with_header("rule r on transfer_funds { when evidence.windw deny }\n"),
        Code::UnknownEvidence,
        6,
        "`windw`",
    );
    assert_one(
        &with_header("rule r on transfer_funds { step_up { approvers 1 of fn_group } }\n"),
        Code::UnknownGroup,
        6,
        "`fn_group`",
    );
    assert_one(&with_header("rule r on transfer_funds { when nofn(1) deny }\n"), Code::UnknownFunction, 6, "`nofn`");
    assert_one(&with_header("tool t { x: Strin }\n"), Code::UnknownType, 6, "unknown type `Strin`");
    assert_one(
        &with_header("rule r on transfer_funds { when params.currency.lowr() == \"x\" deny }\n"),
        Code::UnknownMethod,
        6,
        "`lowr`",
    );
}

#[test]
fn duplicates_point_at_both() {
    let src = with_header("tool send_email { to: String }\n");
    assert_one(&src, Code::DuplicateDeclaration, 6, "tool `send_email` is declared twice");
    let loaded = load_sources(vec![("p.aarm".into(), src)]);
    let checked = super::check(&loaded);
    let d = checked.diagnostics.iter().find(|d| d.code == Code::DuplicateDeclaration).unwrap();
    assert_eq!(d.secondary.len(), 1, "the first declaration is shown too");
    assert_one(
        &with_header("rule r on send_email { deny }\nrule r on send_email { allow }\n"),
        Code::DuplicateDeclaration,
        7,
        "rule `r` is declared twice",
    );
}

#[test]
fn type_mismatches() {
    assert_one(
        &with_header("rule r on transfer_funds { when params.amount > \"100\" deny }\n"),
        Code::TypeMismatch,
        6,
        "cannot compare `Decimal` with `String`",
    );
    assert_one(
        &with_header("rule r on transfer_funds { when params.currency deny }\n"),
        Code::TypeMismatch,
        6,
        "must be `Bool`",
    );
    assert_one(
        &with_header("rule r on transfer_funds { when params.currency + 1 == \"a\" deny }\n"),
        Code::InvalidOperands,
        6,
        "`+` cannot be applied",
    );
    assert_one(
        &with_header("fn f(x: Int) -> Int = x\nrule r on transfer_funds { when f(params.amount) > 1 deny }\n"),
        Code::TypeMismatch,
        7,
        "expects `Int`, found `Decimal`",
    );
    assert_one(
        &with_header("rule r on transfer_funds { when [1, \"a\"].len() > 1 deny }\n"),
        Code::TypeMismatch,
        6,
        "list elements must share one type",
    );
    assert_one(
        &with_header("rule r on transfer_funds { when params.currency < true deny }\n"),
        Code::TypeMismatch,
        6,
        "cannot compare",
    );
}

#[test]
fn int_widens_to_decimal_explicitly() {
    let b = bundle(&with_header("rule r on transfer_funds { when params.amount > 5000 deny }\n"));
    let ExprKind::Compare { rhs, .. } = &b.rules[0].conditions[0].kind else { panic!("a comparison") };
    assert!(matches!(rhs.kind, ExprKind::Widen(_)), "the Int literal is widened: {rhs:?}");
    assert_eq!(rhs.ty, Type::Decimal);
    assert_one(&with_header("fn f(x: Decimal) -> Int = x\n"), Code::TypeMismatch, 6, "expects `Int`, found `Decimal`");
}

#[test]
fn optional_needs_a_guard_and_the_guard_narrows() {
    assert_one(
        &with_header("rule r on transfer_funds { when params.memo.contains(\"refund\") deny }\n"),
        Code::UnguardedOptional,
        6,
        "`params.memo` is optional",
    );
    // `and`, successive `when` lines, `or` with `is not set`, and `not`.
    for cond in [
        "when params.memo is set and params.memo.contains(\"x\")",
        "when params.memo is set\n when params.memo.contains(\"x\")",
        "when params.memo is not set or params.memo.contains(\"x\")",
        "when not (params.memo is not set) and params.memo == \"x\"",
        // A false `or` had every operand false.
        "when not (params.memo is not set or params.amount > 5) and params.memo == \"x\"",
    ] {
        let b = bundle(&with_header(&format!("rule r on transfer_funds {{ {cond} deny }}\n")));
        assert!(!b.rules.is_empty(), "{cond}");
    }
    // Narrowing does not leak out of the `or` that proved it.
    assert_one(
        &with_header("rule r on transfer_funds { when (params.memo is set or true) and params.memo == \"x\" deny }\n"),
        Code::UnguardedOptional,
        6,
        "may be absent",
    );
    // A false `and` proves only what all its operands would: here nothing.
    assert_one(
        &with_header(
            "rule r on transfer_funds { when (params.memo is not set and false) or params.memo == \"x\" deny }\n",
        ),
        Code::UnguardedOptional,
        6,
        "may be absent",
    );
    // The reason message sees what the `when` lines proved.
    bundle(&with_header(
        "rule r on transfer_funds { when params.memo is set deny reason \"a\" \"memo {params.memo}\" }\n",
    ));
    assert_one(
        &with_header("rule r on transfer_funds { when params.amount is set deny }\n"),
        Code::NotOptional,
        6,
        "always set",
    );
    // Evidence is never optional, but `is set` is how a rule asks whether it is known.
    bundle(&with_header("rule r on transfer_funds { when evidence.window_ok is not set deny }\n"));
}

#[test]
fn fn_cycles_are_named() {
    assert_one(
        &with_header("fn a(x: Int) -> Bool = b(x)\nfn b(x: Int) -> Bool = c(x)\nfn c(x: Int) -> Bool = a(x)\n"),
        Code::FnCycle,
        6,
        "`a` → `b` → `c` → `a`",
    );
    assert_one(&with_header("fn a(x: Int) -> Bool = a(x)\n"), Code::FnCycle, 6, "calls itself");
    bundle(&with_header("fn a(x: Int) -> Bool = b(x) and b(x)\nfn b(x: Int) -> Bool = x > 1\n"));
}

#[test]
fn params_availability() {
    assert_one(&with_header("rule r on * { when params.amount > 1 deny }\n"), Code::ParamsUnavailable, 6, "`on *`");
    assert_one(&with_header("fn f() -> Bool = params.amount > 1\n"), Code::ParamsUnavailable, 6, "in a `fn`");
    assert_one(
        &with_header("rule r on transfer_funds, send_email { when params.amount > 1 deny }\n"),
        Code::FieldNotShared,
        6,
        "not a field of every tool",
    );
    bundle(&with_header(
        "tool b { currency: String }\nrule r on transfer_funds, b { when params.currency == \"USD\" deny }\n",
    ));
}

#[test]
fn step_up_and_defer_clauses() {
    assert_one(
        &with_header("rule r on send_email { step_up { approvers 3 of fin } }\n"),
        Code::QuorumTooLarge,
        6,
        "only 2 identities",
    );
    assert_one(
        &with_header("rule r on send_email { step_up { approvers 0 of fin } }\n"),
        Code::QuorumZero,
        6,
        "at least one",
    );
    assert_one(
        &with_header("rule r on send_email { step_up { timeout 1h -> deny } }\n"),
        Code::MissingApprovers,
        6,
        "who approves",
    );
    assert_one(
        &with_header("rule r on send_email { step_up { approvers 1 of fin timeout 0s -> deny } }\n"),
        Code::NonPositiveDuration,
        6,
        "longer than zero",
    );
    assert_one(
        &with_header("rule r on send_email { step_up { approvers 1 of fin veto veto } }\n"),
        Code::DuplicateClause,
        6,
        "`veto` is given twice",
    );
    assert_one(&with_header("rule r on send_email { defer { need windw } }\n"), Code::UnknownEvidence, 6, "`windw`");
    assert_one(
        &with_header("rule r on send_email { defer { attempts 0 -> deny } }\n"),
        Code::AttemptsZero,
        6,
        "at least one attempt",
    );
    assert_one(
        &with_header("rule r on send_email { confidence 1.5 deny }\n"),
        Code::ConfidenceOutOfRange,
        6,
        "between 0 and 1",
    );
    assert_one(
        &with_header("rule r on send_email { confidence 0.12345 deny }\n"),
        Code::DecimalPrecision,
        6,
        "at most 4 fractional digits",
    );
    assert_one(
        &with_header("rule r on send_email { when 1.0000000000000000001 > 1 deny }\n"),
        Code::DecimalPrecision,
        6,
        "decimals keep at most 18",
    );
    assert_one(
        &with_header("rule r on send_email { when 100000000000000000000.0 > 1 deny }\n"),
        Code::IntegerOutOfRange,
        6,
        "out of range",
    );
    assert_one(
        &with_header("rule r on send_email { step_up { approvers 1 of fin timeout 10m -> allow } }\n"),
        Code::TimeoutAllows,
        6,
        "resolves to `allow`",
    );
    assert_one(
        &with_header("rule r on send_email { step_up { approvers 1 of fin timeout 10m -> deny escalate after 1h to [\"x@corp.com\"] } }\n"),
        Code::NonPositiveDuration,
        6,
        "after the timeout",
    );
    assert_one(
        &with_header("rule r on transfer_funds { modify { params.amount = \"x\" } }\n"),
        Code::TypeMismatch,
        6,
        "expects `Decimal`",
    );
    assert_one(&with_header("rule r on * { modify { params.amount = 1 } }\n"), Code::ModifyField, 6, "on *");
}

#[test]
fn step_up_obligations_are_resolved_with_defaults() {
    let b = bundle(&with_header(
        "settings { step_up timeout 2h -> deny }\n\
         rule r on send_email { risk high step_up { approvers 2 of fin escalate after 30m to [\"sec@corp.com\"] notify \"slack:#x\" } }\n",
    ));
    let ir::Decision::StepUp(s) = &b.rules[0].decision else { panic!("step_up") };
    assert_eq!(s.quorum, 2);
    assert_eq!(s.approvers, ir::Approvers::Identities(vec!["a@corp.com".into(), "b@corp.com".into()]));
    assert_eq!(s.timeout_s, 7200, "from settings");
    assert_eq!(s.on_timeout, ir::Outcome::Deny);
    assert_eq!(s.escalate, Some(ir::Escalation { after_s: 1800, to: vec!["sec@corp.com".into()] }));
    assert!(s.veto && !s.self_approval);
    assert_eq!(s.risk, ir::Risk::High, "from the rule's risk");
    assert_eq!(b.rules[0].reason.code, "rule.r", "default reason code");
}

#[test]
fn settings_rules() {
    assert_one(&with_header("settings { default allow }\n"), Code::DefaultAllow, 6, "default allow");
    assert_one(
        &with_header("settings { default deny }\nsettings { conflict defer }\n"),
        Code::DuplicateSettings,
        7,
        "at most one",
    );
    let b = bundle(&with_header("settings { defer timeout 5m -> deny, attempts 2 -> cancel min_confidence 0.6 }\n"));
    assert_eq!((b.settings.defer_timeout_s, b.settings.defer_attempts), (300, 2));
    assert_eq!(b.settings.defer_on_exhausted, ir::Outcome::Cancel);
    assert_eq!(b.settings.min_confidence, Some(6000));
    assert_eq!(b.settings.allow_valid_s, None, "no allow_valid: allows carry no expiry");
    let b = bundle(&with_header("settings { allow_valid 5m review \"security-team\" }\n"));
    assert_eq!(b.settings.allow_valid_s, Some(300));
    assert_eq!(b.settings.review.as_deref(), Some("security-team"));
}

#[test]
fn methods_quantifiers_and_lambdas() {
    bundle(&with_header(
        "rule r on send_email {\n  when any t in params.to: not t.ends_with(\"@corp.com\")\n  when (count t in params.to: t.glob(\"*@x.com\")) > 2\n  modify { params.to = params.to.filter(x => x.ends_with(\"@corp.com\")) }\n}\n",
    ));
    assert_one(
        &with_header("rule r on send_email { when params.subject.matches(\"[\") deny }\n"),
        Code::InvalidRegex,
        6,
        "invalid regular expression",
    );
    assert_one(
        &with_header("rule r on send_email { when params.subject.matches(params.subject) deny }\n"),
        Code::NotConstant,
        6,
        "string literal",
    );
    assert_one(
        &with_header("rule r on send_email { when any t in params.subject: true deny }\n"),
        Code::TypeMismatch,
        6,
        "ranges over a list",
    );
    assert_one(
        &with_header("rule r on send_email { when params.subject.starts_with() deny }\n"),
        Code::WrongArgumentCount,
        6,
        "takes 1 argument",
    );
    assert_one(
        &with_header("rule r on send_email { when params.to.contains(x => true) deny }\n"),
        Code::LambdaMisplaced,
        6,
        "argument of `filter`",
    );
    // Groups are sets of strings.
    bundle(&with_header("rule r on send_email { when identity.human in fin deny }\n"));
    // The empty list's element type fits any argument.
    bundle(&with_header("rule r on send_email { when [].contains(\"a\") or \"a\" in [] deny }\n"));
}

#[test]
fn rules_need_a_header() {
    let loaded = load_sources(vec![("p.aarm".into(), "tool t { x: Int }\nrule r on t { deny }\n".into())]);
    let checked = super::check(&loaded);
    assert!(checked.diagnostics.iter().any(|d| d.code == Code::MissingPolicyHeader));
    assert!(checked.bundle.is_none());
}

#[test]
fn tests_are_checked_against_declarations() {
    let src = with_header(
        "rule r on send_email { deny }\n\
         test \"t\" {\n\
           action send_email { to: [\"a\"], subjet: \"x\" }\n\
           context { now: \"not a time\" }\n\
           expect deny rule rr\n\
           approve by \"a\"\n\
           expect rejected \"self_aproval\"\n\
           provide windw = true\n\
         }\n",
    );
    let ds = diags(&src);
    let codes: Vec<&str> = ds.iter().map(|(c, _, _)| c.as_str()).collect();
    for want in ["E0101", "E0402", "E0200", "E0107", "E0401", "E0103"] {
        assert!(codes.contains(&want), "{want} missing from {ds:#?}");
    }
    // A valid test reduces to constants, with Int widened where a Decimal is declared.
    let b = bundle(&with_header(
        "rule r on transfer_funds { deny }\ntest \"t\" {\n action transfer_funds { amount: 10_000, currency: \"USD\", tags: [] }\n context { now: \"2026-11-24T10:00:00Z\" }\n expect deny rule p.r reason \"rule.r\"\n}\n",
    ));
    let ir::TestStepKind::Action { params, .. } = &b.tests[0].steps[0].kind else { panic!("action") };
    assert!(
        matches!(params[0], (ref n, ir::Const::Decimal(10_000_000_000_000_000_000_000)) if n == "amount"),
        "{params:?}"
    );
    let ir::TestStepKind::Context(ctx) = &b.tests[0].steps[1].kind else { panic!("context") };
    assert!(matches!(ctx[0].1, ir::Const::Time(1_795_514_400)));
}

#[test]
fn test_steps_in_order() {
    let ds = diags(&with_header("test \"t\" {\n expect deny\n}\n"));
    assert!(ds.iter().any(|(c, l, m)| c == "E0400" && *l == 7 && m.contains("no `action`")), "{ds:?}");
}

#[test]
fn module_cycles_are_reported_through_check() {
    let loaded = load_sources(vec![("a.aarm".into(), "use ./b\n".into()), ("b.aarm".into(), "use ./a\n".into())]);
    let checked = super::check(&loaded);
    assert!(checked.diagnostics.iter().any(|d| d.code == Code::ModuleCycle), "{:?}", checked.diagnostics);
}

#[test]
fn many_rules_and_long_conditions_check() {
    let mut src = String::from("policy p version \"1\"\ntool t { x: Int }\n");
    for i in 0..2_000 {
        src.push_str(&format!("rule r{i} on t priority {i} {{ when params.x > {i} deny }}\n"));
    }
    src.push_str("rule long on t { when ");
    for i in 0..5_000 {
        if i > 0 {
            src.push_str(" and ");
        }
        src.push_str(&format!("params.x != {i}"));
    }
    src.push_str(" allow }\n");
    let b = bundle(&src);
    assert_eq!(b.rules.len(), 2_001);
}

#[test]
fn methods_that_pick_strings_and_lists_apart() {
    // `split`, `at`, `index_of`, `in_cidr`, `utc_offset`, with the types they give.
    let b = bundle(&with_header(
        "rule r on send_email {\n  when params.subject.split(\"@\").at(-1) == \"corp.com\"\n  when params.to.index_of(\"a@corp.com\") > 0\n  when params.subject.in_cidr(\"10.0.0.0/8\")\n  when (context.now + \"+05:30\".utc_offset()).hour() > 9\n  when context.prior_actions.at(0).tool == \"x\"\n  deny\n}\n",
    ));
    let method_type = |i: usize| match &b.rules[0].conditions[i].kind {
        ExprKind::Compare { lhs, .. } => lhs.ty.clone(),
        _ => b.rules[0].conditions[i].ty.clone(),
    };
    assert_eq!(method_type(0), Type::String);
    assert_eq!(method_type(1), Type::Int);
    assert_eq!(method_type(2), Type::Bool);
    // Positions exist in lists only.
    assert_one(
        &with_header("rule r on send_email { when identity.roles.at(0) == \"x\" deny }\n"),
        Code::UnknownMethod,
        6,
        "`Set<String>` has no method `at`",
    );
    assert_one(
        &with_header("rule r on send_email { when params.to.at(\"0\") == \"x\" deny }\n"),
        Code::TypeMismatch,
        6,
        "expects `Int`",
    );
    assert_one(
        &with_header("rule r on send_email { when params.to.index_of(1) > 0 deny }\n"),
        Code::TypeMismatch,
        6,
        "expects `String`",
    );
    assert_one(
        &with_header("rule r on send_email { when params.subject.utc_offset() > 1 deny }\n"),
        Code::TypeMismatch,
        6,
        "`Duration`",
    );
}

#[test]
fn test_actions_write_sets_as_lists() {
    let src = "policy p version \"1\"\ntool t { tags: Set<String>, n: Int }\nrule r on t { when \"x\" in params.tags\n deny }\n";
    bundle(&format!("{src}test \"a set\" {{\n action t {{ tags: [\"x\", \"y\"], n: 1 }}\n expect deny\n}}\n"));
    bundle(&format!("{src}test \"an empty set\" {{\n action t {{ tags: [], n: 1 }}\n expect deny\n}}\n"));
    assert_one(
        &format!("{src}test \"numbers\" {{\n action t {{ tags: [1], n: 1 }}\n expect deny\n}}\n"),
        Code::TypeMismatch,
        6,
        "expects `Set<String>`, found `Set<Int>`",
    );
    // `[]` is shown as `List<?>`.
    assert_one(
        &format!("{src}test \"a list\" {{\n action t {{ tags: [], n: [] }}\n expect deny\n}}\n"),
        Code::TypeMismatch,
        6,
        "expects `Int`, found `List<?>`",
    );
}

#[test]
fn url_and_zone_methods_have_their_types() {
    let b = bundle(&with_header(
        "rule r on send_email {\n  when params.subject.url_host() == \"x\"\n  when params.subject.url_port() > 0\n  when params.subject.url_scheme() + params.subject.url_path() + params.subject.url_query() == \"x\"\n  when context.now.offset_in(params.subject) > 1h\n  deny\n}\n",
    ));
    let lhs = |i: usize| match &b.rules[0].conditions[i].kind {
        ExprKind::Compare { lhs, .. } => lhs.ty.clone(),
        other => panic!("{other:?}"),
    };
    assert_eq!(lhs(0), Type::String);
    assert_eq!(lhs(1), Type::Int);
    assert_eq!(lhs(3), Type::Duration);
}

/// A literal that a method parses is read at compile time: a wrong one is E0211 at the literal,
/// whether given to the method, passed to it through `fn` parameters, or an element of a list a
/// quantifier walks. (Before, each was accepted and every request denied with `eval.error`.)
#[test]
fn a_literal_a_method_cannot_read_is_a_compile_time_error() {
    let rule = |cond: &str| with_header(&format!("rule r on send_email {{\n  when {cond}\n  deny\n}}\n"));
    assert_one(
        &rule("params.subject.in_cidr(\"10.0.0.0/33\")"),
        Code::UnreadableLiteral,
        7,
        "`in_cidr` cannot read \"10.0.0.0/33\"",
    );
    assert_one(&rule("\"10.0.0.256\".in_cidr(params.subject)"), Code::UnreadableLiteral, 7, "`in_cidr` cannot read");
    assert_one(&rule("(context.now + \"CET\".utc_offset()).hour() > 1"), Code::UnreadableLiteral, 7, "`utc_offset`");
    assert_one(
        &rule("context.now.offset_in(\"Europe/Pari\") > 1h"),
        Code::UnreadableLiteral,
        7,
        "`offset_in` cannot read \"Europe/Pari\"",
    );
    assert_one(&rule("\"github.com/x\".url_host() == \"x\""), Code::UnreadableLiteral, 7, "`url_host`");
    // Through `fn` parameters, as far as they go, and through a quantifier over a literal list.
    let through = with_header(
        "fn zone_offset(t: Time, zone: String) -> Duration = t.offset_in(zone)\n\
         fn later(t: Time, z: String) -> Bool = zone_offset(t, z) > 1h\n\
         fn in_any(ip: String, blocks: List<String>) -> Bool = any b in blocks: ip.in_cidr(b)\n\
         rule r on send_email {\n  when later(context.now, \"Mars/Olympus\")\n  when in_any(params.subject, [\"10.0.0.0/8\", \"10.0.0.0/x\"])\n  when any b in [\"fc00::/7\", \"fc00::/200\"]: params.subject.in_cidr(b)\n  deny\n}\n",
    );
    let ds = diags(&through);
    let hits: Vec<_> = ds.iter().filter(|(c, _, _)| c == Code::UnreadableLiteral.as_str()).collect();
    assert_eq!(hits.len(), 3, "{ds:#?}");
    assert!(hits[0].2.contains("`later` passes \"Mars/Olympus\" to `offset_in`"), "{hits:?}");
    assert!(hits[1].2.contains("`in_any` passes \"10.0.0.0/x\" to `in_cidr`"), "{hits:?}");
    assert!(hits[2].2.contains("`in_cidr` cannot read \"fc00::/200\""), "{hits:?}");
    // Readable literals and values known only at run time are fine.
    bundle(&rule(
        "params.subject.in_cidr(\"fc00::/7\") and context.now.offset_in(\"America/New_York\") > 1h and params.subject.in_cidr(params.subject)",
    ));
}

#[test]
fn an_override_names_its_tools_authority_duration_and_statements() {
    let b = bundle(&with_header(
        "override on transfer_funds, send_email by role \"incident-commander\" for 1h requires reason, ticket\n",
    ));
    assert_eq!(b.overrides.len(), 2);
    let o = &b.overrides[0];
    assert_eq!(o.tool, "transfer_funds");
    assert_eq!(o.by, aarm_runtime::policy::Approvers::Role("incident-commander".into()));
    assert_eq!((o.valid_s, o.requires.clone()), (3600, vec!["reason".to_string(), "ticket".to_string()]));
    let b = bundle(&with_header("override on send_email by fin for 30m\n"));
    let o = &b.overrides[0];
    assert_eq!(o.by, aarm_runtime::policy::Approvers::Identities(vec!["a@corp.com".into(), "b@corp.com".into()]));
    assert_eq!(o.requires, vec!["reason".to_string()], "without `requires` a reason is still stated");
    assert!(o.notify.is_empty(), "without `notify` no channel is named");
    let b = bundle(&with_header(
        "override on send_email by fin for 30m requires ticket notify \"slack:#security\", \"webhook:audit\"\n",
    ));
    let o = &b.overrides[0];
    assert_eq!(o.requires, vec!["ticket".to_string()]);
    assert_eq!(o.notify, vec!["slack:#security".to_string(), "webhook:audit".to_string()]);
    let b = bundle(&with_header("override on send_email by fin for 30m notify \"email:sec@corp.com\"\n"));
    assert_eq!(b.overrides[0].notify, vec!["email:sec@corp.com".to_string()], "`notify` without `requires`");
    // `override` is contextual: still an ordinary name elsewhere.
    bundle(&with_header("fn override(x: Int) -> Bool = x > 1\n"));
}

#[test]
fn override_mistakes_have_their_codes() {
    assert_one(
        &with_header("override on transfer_fund by role \"ic\" for 1h\n"),
        Code::UnknownTool,
        6,
        "transfer_fund",
    );
    assert_one(
        &with_header("override on send_email by role \"ic\" for 0s\n"),
        Code::NonPositiveDuration,
        6,
        "an override's duration must be longer than zero",
    );
    assert_one(
        &with_header("override on send_email by role \"ic\" for 1h requires reason, tiket\n"),
        Code::UnknownStatement,
        6,
        "an override cannot require `tiket`",
    );
    assert_one(
        &with_header(
            "override on send_email by role \"ic\" for 1h\noverride on transfer_funds, send_email by fin for 1h\n",
        ),
        Code::DuplicateOverride,
        7,
        "`send_email` already has an `override`",
    );
    assert_one(
        &with_header("override on send_email by role \"ic\" for 1h requires reason, reason\n"),
        Code::DuplicateClause,
        6,
        "`reason` is required twice",
    );
    assert_one(&with_header("override on send_email by finance for 1h\n"), Code::UnknownGroup, 6, "finance");
    let ds = diags(&with_header("override on send_email by role \"ic\" for 1h notify slack\n"));
    assert!(ds.iter().any(|(c, l, m)| c == "E0010" && *l == 6 && m.contains("a channel name")), "{ds:?}");
    let ds = diags(&with_header("override on send_email by role \"ic\"\n"));
    assert!(ds.iter().any(|(c, l, m)| c == "E0010" && *l == 6 && m.contains("expected `for`")), "{ds:?}");
}

/// Declaring names into the tables (any table, in any order) interleaved with questions: a
/// remembered "did you mean" is always the one `suggest` gives over the table as it is then.
mod remembered_suggestions {
    use super::super::{Checker, Decl, Table};
    use crate::ir::{self, Loc};
    use proptest::prelude::*;

    fn name() -> impl Strategy<Value = String> {
        "[ab_]{1,5}"
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(500))]

        #[test]
        fn remembered_suggestions_are_the_computed_ones(
            steps in proptest::collection::vec((0u8..4, any::<bool>(), name()), 0..40),
        ) {
            let sources = aarm_lang::SourceMap::new();
            let mut c = Checker::new(&sources);
            let loc = Loc { file: aarm_lang::FileId(0), span: aarm_lang::Span::default() };
            for (which, declare, name) in steps {
                let table = [Table::Tools, Table::Evidence, Table::Groups, Table::Fns][usize::from(which)];
                if declare {
                    match table {
                        Table::Tools => {
                            c.tools.entry(name).or_insert(Decl { id: ir::ToolId(0), loc });
                        }
                        Table::Evidence => {
                            c.evidence.entry(name).or_insert(Decl { id: ir::EvidenceId(0), loc });
                        }
                        Table::Groups => {
                            c.groups.entry(name).or_insert(Decl { id: ir::GroupId(0), loc });
                        }
                        Table::Fns => {
                            c.fns.entry(name).or_insert(Decl { id: ir::FnId(0), loc });
                        }
                        // Not drawn here: rule names are the test below's.
                        Table::Rules => {}
                    }
                    continue;
                }
                let computed = match table {
                    Table::Tools => c.suggest(&name, c.tools.keys()),
                    Table::Evidence => c.suggest(&name, c.evidence.keys()),
                    Table::Groups => c.suggest(&name, c.groups.keys()),
                    Table::Fns => c.suggest(&name, c.fns.keys()),
                    Table::Rules => continue,
                };
                prop_assert_eq!(c.suggest_declared(table, &name), computed.clone(), "first");
                prop_assert_eq!(c.suggest_declared(table, &name), computed, "remembered");
            }
        }
    }
}

/// A misspelt rule named by several tests gets the same suggestion each time, before and after
/// more rules are declared (the answer is remembered per number of rules).
#[test]
fn repeated_unknown_rule_suggestions_are_the_same() {
    let test = |rule: &str| format!("test \"t {rule}\" {{\n  action t {{ a: 1 }}\n  expect deny rule {rule}\n}}\n");
    let src = format!(
        "policy p version \"1\"\ntool t {{ a: Int }}\nrule alpha on t {{ deny }}\nrule beta on t {{ deny }}\n{}{}{}{}",
        test("alpah"),
        test("alpah"),
        test("p.bta"),
        test("gamma"),
    );
    let helps: Vec<Option<String>> = {
        let loaded = load_sources(vec![("p.aarm".into(), src)]);
        let checked = super::check(&loaded);
        checked.diagnostics.iter().filter(|d| d.code == Code::UnknownRule).map(|d| d.help.clone()).collect()
    };
    assert_eq!(
        helps,
        vec![
            Some("did you mean `alpha`?".to_string()),
            Some("did you mean `alpha`?".to_string()),
            Some("did you mean `p.beta`?".to_string()),
            None
        ]
    );
}

/// The one-field lookup and the names list agree with the table of built-in context fields.
#[test]
fn builtin_context_lookup_is_the_table() {
    let table: Vec<_> = super::builtin_context().collect();
    assert_eq!(table.iter().map(|(n, _, _)| *n).collect::<Vec<_>>(), super::BUILTIN_CONTEXT_NAMES);
    for (name, field, ty) in table.iter().cloned() {
        assert_eq!(super::builtin_context_field(name), Some((field, ty)), "{name}");
    }
    for other in ["", "now ", "Now", "prior_action", "tool", "original_requests"] {
        assert_eq!(super::builtin_context_field(other), None, "{other}");
    }
}

/// The subject of a type mismatch (`the body of `f``, `parameter `x` of `f``, ...) is formatted
/// only when the mismatch is reported; the messages read as they did when it was formatted for
/// every check.
#[test]
fn mismatch_subjects_read_as_before() {
    let messages = |rest: &str| -> Vec<String> {
        diags(&with_header(rest)).into_iter().filter(|(c, _, _)| c == "E0200").map(|(_, _, m)| m).collect()
    };
    assert_eq!(messages("fn f(x: Decimal) -> Int = x\n"), ["the body of `f` expects `Int`, found `Decimal`"]);
    assert_eq!(
        messages("fn f(x: Int) -> Bool = x > 1\nrule r on transfer_funds { when f(params.amount) deny }\n"),
        ["parameter `x` of `f` expects `Int`, found `Decimal`"]
    );
    assert_eq!(
        messages("rule r on transfer_funds { when params.currency deny }\n"),
        ["a `when` condition must be `Bool`, but this is `String`"]
    );
    assert_eq!(
        messages("rule r on transfer_funds { when any t in params.tags: t deny }\n"),
        ["the condition of `any` must be `Bool`, but this is `String`"]
    );
    assert_eq!(
        messages("rule r on transfer_funds { when not params.currency deny }\n"),
        ["the operand of `not` must be `Bool`, but this is `String`"]
    );
    assert_eq!(
        messages("test \"t\" {\n  action transfer_funds { amount: \"x\", currency: 1, tags: [] }\n  expect allow\n}\n"),
        ["`amount` expects `Decimal`, found `String`", "`currency` expects `String`, found `Int`"]
    );
}

/// "Did you mean" over the tables, whose sorted names are now kept between lookups: every
/// misspelt name still gets the nearest declared name, the first in sorted order on a tie, in
/// rules and tests alike and after more declarations.
#[test]
fn suggestions_over_kept_sorted_tables() {
    let src = with_header(
        "tool send_emails { to: String }\n\
         rule a on transfer_fund { when params.amount > 1 deny }\n\
         rule b on send_emai { when true deny }\n\
         group fim = [\"c@corp.com\"]\n\
         rule c on send_email { when \"x\" in fin2 deny }\n\
         test \"t\" {\n  action sendemail { to: [\"a\"], subject: \"s\" }\n  expect deny\n}\n",
    );
    let loaded = load_sources(vec![("p.aarm".into(), src)]);
    let checked = super::check(&loaded);
    let helps: Vec<(String, Option<String>)> =
        checked.diagnostics.iter().map(|d| (d.message.clone(), d.help.clone())).collect();
    let help = |message: &str| {
        helps
            .iter()
            .find(|(m, _)| m == message)
            .and_then(|(_, h)| h.clone())
            .unwrap_or_else(|| panic!("{message}: {helps:#?}"))
    };
    assert_eq!(help("unknown tool `transfer_fund`"), "did you mean `transfer_funds`?");
    // `send_email` and `send_emails` are both one edit away: the first in sorted order wins.
    assert_eq!(help("unknown tool `send_emai`"), "did you mean `send_email`?");
    assert_eq!(
        help("tool `sendemail` is not declared, so only `on *` rules and the default apply to it"),
        "did you mean `send_email`?"
    );
    assert_eq!(help("unknown name `fin2`"), "did you mean `fin`?");
}

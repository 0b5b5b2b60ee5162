//! Test helpers shared by `pest_differential.rs` and `format.rs`: the repository's `.aarm` files,
//! and a proptest generator of syntactically valid programs, as token lists, and their rendering
//! with random whitespace and comments between the tokens.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing, dead_code)]

use proptest::prelude::*;

pub type Toks = Vec<String>;

/// Precedence levels, loosest first.
pub const QUANT: u8 = 0;
pub const OR: u8 = 1;
pub const AND: u8 = 2;
pub const NOT: u8 = 3;
pub const CMP: u8 = 4;
pub const ADD: u8 = 5;
pub const MUL: u8 = 6;
pub const UNARY: u8 = 7;
pub const POSTFIX: u8 = 8;

#[derive(Clone, Debug)]
pub struct E {
    pub toks: Toks,
    pub prec: u8,
}

pub fn t(words: &[&str]) -> Toks {
    words.iter().map(|w| (*w).to_string()).collect()
}

pub fn cat(parts: impl IntoIterator<Item = Toks>) -> Toks {
    parts.into_iter().flatten().collect()
}

/// The expression as an operand that needs at least level `min`.
pub fn operand(e: &E, min: u8) -> Toks {
    if e.prec >= min {
        e.toks.clone()
    } else {
        cat([t(&["("]), e.toks.clone(), t(&[")"])])
    }
}

pub fn e(toks: Toks, prec: u8) -> E {
    E { toks, prec }
}

/// Comma-separated, with an optional trailing comma.
pub fn comma_list(items: Vec<Toks>, trailing: bool) -> Toks {
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
pub fn name() -> impl Strategy<Value = String> + Clone {
    prop::sample::select(vec![
        "a",
        "b",
        "xs",
        "amount",
        "_x1",
        "timeout",
        "role",
        "version",
        "of",
        "from",
        "need",
        "to",
        "veto",
        "low",
        "approvers",
        "cancel",
        "expect",
    ])
    .prop_map(str::to_string)
}

/// Field names and record keys: any word, reserved words included.
pub fn field_name() -> impl Strategy<Value = String> + Clone {
    prop::sample::select(vec!["to", "memo", "count", "set", "rule", "policy", "not", "in", "params", "x_2"])
        .prop_map(str::to_string)
}

pub fn string_lit() -> impl Strategy<Value = String> + Clone {
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

pub fn duration_lit() -> impl Strategy<Value = String> + Clone {
    prop::sample::select(vec!["30s", "15m", "2h", "1d", "1h30m", "0s"]).prop_map(str::to_string)
}

pub fn leaf(plain: bool) -> BoxedStrategy<E> {
    let number =
        prop::sample::select(vec!["0", "42", "10_000", "12.5", "0.0001", "1_0.5_0"]).prop_map(|n| e(t(&[n]), POSTFIX));
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
pub fn expr_with(plain: bool) -> BoxedStrategy<E> {
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
            let cmp =
                (inner.clone(), prop::sample::select(vec!["==", "!=", "<", "<=", ">", ">=", "in"]), inner.clone())
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
            let logic =
                (inner.clone(), prop::sample::select(vec!["and", "or"]), inner.clone()).prop_map(|(a, op, b)| {
                    let level = if op == "and" { AND } else { OR };
                    e(cat([operand(&a, level), t(&[op]), operand(&b, level + 1)]), level)
                });
            let quant = (prop::sample::select(vec!["any", "all", "count"]), name(), inner.clone(), inner.clone())
                .prop_map(|(q, x, xs, body)| {
                    e(cat([vec![q.to_string(), x, "in".into()], xs.toks, t(&[":"]), body.toks]), QUANT)
                });
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

pub fn expr() -> BoxedStrategy<Toks> {
    expr_with(false).prop_map(|x| x.toks).boxed()
}

/// A reason message with interpolations, as one string token.
pub fn template() -> impl Strategy<Value = String> {
    let part = prop_oneof![
        prop::sample::select(vec!["Transfer of ", " needs ", "\\{literal\\}", "\\u{20AC}", "\\\"q\\\"", "://x/ "])
            .prop_map(str::to_string),
        expr_with(true).prop_map(|x| format!("{{{}}}", x.toks.join(" "))),
    ];
    prop::collection::vec(part, 0..4).prop_map(|parts| format!("\"{}\"", parts.concat()))
}

pub fn type_expr() -> BoxedStrategy<Toks> {
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

pub fn fields() -> impl Strategy<Value = Toks> {
    (prop::collection::vec((field_name(), type_expr()), 0..4), any::<bool>())
        .prop_map(|(fs, tr)| comma_list(fs.into_iter().map(|(k, ty)| cat([vec![k, ":".into()], ty])).collect(), tr))
}

pub fn string_list() -> impl Strategy<Value = Toks> {
    (prop::collection::vec(string_lit(), 0..3), any::<bool>())
        .prop_map(|(xs, tr)| cat([t(&["["]), comma_list(xs.into_iter().map(|s| vec![s]).collect(), tr), t(&["]"])]))
}

pub fn risk_level() -> impl Strategy<Value = String> {
    prop::sample::select(vec!["low", "medium", "high", "critical"]).prop_map(str::to_string)
}

pub fn step_up_clause(outcome: BoxedStrategy<Toks>) -> impl Strategy<Value = Toks> {
    prop_oneof![
        (
            1u8..4,
            prop_oneof![string_lit().prop_map(|s| vec!["role".into(), s]), string_list(), name().prop_map(|n| vec![n]),]
        )
            .prop_map(|(n, from)| cat([vec!["approvers".into(), n.to_string(), "of".into()], from])),
        (duration_lit(), outcome).prop_map(|(d, o)| cat([vec!["timeout".into(), d, "->".into()], o])),
        (duration_lit(), prop_oneof![string_list(), name().prop_map(|n| vec![n])])
            .prop_map(|(d, to)| cat([vec!["escalate".into(), "after".into(), d, "to".into()], to])),
        Just(t(&["veto"])),
        Just(t(&["no", "veto"])),
        Just(t(&["self_approval"])),
        risk_level().prop_map(|r| vec!["risk".into(), r]),
        prop::collection::vec(string_lit(), 1..3)
            .prop_map(|cs| { cat([t(&["notify"]), comma_list(cs.into_iter().map(|c| vec![c]).collect(), false)]) }),
        // Parameter names, reserved words included (`limits count, in`).
        prop::collection::vec(prop_oneof![field_name(), name()], 1..3)
            .prop_map(|fs| { cat([t(&["limits"]), comma_list(fs.into_iter().map(|f| vec![f]).collect(), false)]) }),
    ]
}

/// An outcome; `nested` allows one further `step_up { ... }` tier.
pub fn outcome(nested: bool) -> BoxedStrategy<Toks> {
    let simple = prop::sample::select(vec!["allow", "deny", "cancel"]).prop_map(|o| t(&[o]));
    if nested {
        prop_oneof![3 => simple, 1 => step_up_block(false).prop_map(|b| cat([t(&["step_up"]), b]))].boxed()
    } else {
        simple.boxed()
    }
}

pub fn step_up_block(nested: bool) -> BoxedStrategy<Toks> {
    prop::collection::vec(step_up_clause(outcome(nested)), 0..4)
        .prop_map(|cs| cat([t(&["{"]), cat(cs), t(&["}"])]))
        .boxed()
}

pub fn limit() -> impl Strategy<Value = Toks> {
    prop_oneof![
        (duration_lit(), outcome(true)).prop_map(|(d, o)| cat([vec!["timeout".into(), d, "->".into()], o])),
        (1u8..5, outcome(true)).prop_map(|(n, o)| cat([vec!["attempts".into(), n.to_string(), "->".into()], o])),
    ]
}

pub fn defer_block() -> impl Strategy<Value = Toks> {
    let clause = prop_oneof![
        prop::collection::vec(name(), 1..3)
            .prop_map(|ns| cat([t(&["need"]), comma_list(ns.into_iter().map(|n| vec![n]).collect(), false)])),
        limit(),
    ];
    prop::collection::vec(clause, 0..3).prop_map(|cs| cat([t(&["{"]), cat(cs), t(&["}"])]))
}

pub fn decision() -> impl Strategy<Value = Toks> {
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

pub fn rule() -> impl Strategy<Value = Toks> {
    let targets = prop_oneof![
        Just(t(&["*"])),
        prop::collection::vec(name(), 1..3).prop_map(|ns| comma_list(ns.into_iter().map(|n| vec![n]).collect(), false)),
    ];
    let priority = proptest::option::of((any::<bool>(), 0u16..1000)).prop_map(|p| match p {
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
            cat([
                vec!["rule".into(), n, "on".into()],
                targets,
                priority,
                t(&["{"]),
                cat(clauses),
                decision,
                reason,
                t(&["}"]),
            ])
        },
    )
}

pub fn record() -> impl Strategy<Value = Toks> {
    (prop::collection::vec((field_name(), expr()), 0..3), any::<bool>()).prop_map(|(fs, tr)| {
        let fs = fs.into_iter().map(|(k, v)| cat([vec![k, ":".into()], v])).collect();
        cat([t(&["{"]), comma_list(fs, tr), t(&["}"])])
    })
}

pub fn test_decl() -> impl Strategy<Value = Toks> {
    let decision = prop::sample::select(vec!["allow", "deny", "modify", "step_up", "defer"]).prop_map(str::to_string);
    let step = prop_oneof![
        (name(), record()).prop_map(|(tool, r)| cat([vec!["action".into(), tool], r])),
        (prop::sample::select(vec!["identity", "context", "evidence"]), record()).prop_map(|(k, r)| cat([t(&[k]), r])),
        (string_lit(), proptest::option::of(expr())).prop_map(|(by, roles)| cat([
            vec!["approve".into(), "by".into(), by],
            roles.map_or(vec![], |r| cat([t(&["roles"]), r]))
        ])),
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

pub fn setting() -> impl Strategy<Value = Toks> {
    prop_oneof![
        prop::sample::select(vec!["allow", "deny"]).prop_map(|d| t(&["default", d])),
        prop::sample::select(vec!["restrictive", "defer"]).prop_map(|c| t(&["conflict", c])),
        prop::sample::select(vec!["0.6", "1", "0.0001"]).prop_map(|c| t(&["min_confidence", c])),
        prop::collection::vec(limit(), 1..3).prop_map(|ls| cat([t(&["defer"]), comma_list(ls, false)])),
        (duration_lit(), outcome(true))
            .prop_map(|(d, o)| cat([vec!["step_up".into(), "timeout".into(), d, "->".into()], o])),
    ]
}

pub fn item() -> impl Strategy<Value = Toks> {
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

pub fn program() -> impl Strategy<Value = Toks> {
    let header = proptest::option::of((name(), string_lit()))
        .prop_map(|h| h.map_or(vec![], |(n, v)| vec!["policy".into(), n, "version".into(), v]));
    (header, prop::collection::vec(item(), 0..8)).prop_map(|(h, items)| cat([h, cat(items)]))
}

/// What separates two tokens: mostly a space, sometimes a line break or a comment.
pub fn separators() -> impl Strategy<Value = Vec<u8>> {
    prop::collection::vec(any::<u8>(), 1..64)
}

pub fn render(toks: &[String], seps: &[u8]) -> String {
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

/// Every `.aarm` file of the repository (hidden folders and `target` left out), sorted; at least
/// the examples and the standard library, so that a moved tree cannot make a test pass empty.
pub fn repository_aarm_files() -> Vec<std::path::PathBuf> {
    fn walk(dir: &std::path::Path, out: &mut Vec<std::path::PathBuf>) {
        let Ok(entries) = std::fs::read_dir(dir) else { return };
        for entry in entries.flatten() {
            let path = entry.path();
            let name = entry.file_name().to_string_lossy().into_owned();
            if name.starts_with('.') || name == "target" {
                continue;
            }
            if path.is_dir() {
                walk(&path, out);
            } else if path.extension().is_some_and(|e| e == "aarm") {
                out.push(path);
            }
        }
    }
    let mut files = Vec::new();
    walk(&std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(".."), &mut files);
    files.sort();
    assert!(files.len() >= 5, "expected the examples and stdlib, found {files:?}");
    files
}

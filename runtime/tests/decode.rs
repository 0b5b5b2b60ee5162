#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]
//! The one-pass reader (`decode::request`) against the reference reader (`convert::read_tree`)
//! on generated request texts, valid, invalid and hostile: whatever the one-pass reader produces
//! is exactly the reference reader's request, and it never accepts what the reference refuses.
//! `convert_str` (the two together) answers as the reference does, refusals word for word.

use aarm_runtime::convert::{
    convert_read, convert_str, read_exact, read_request, read_tree, Limits, MAX_DEPTH_CEILING,
};
use aarm_runtime::decode;
use aarm_runtime::schema::{EvidenceSchema, FieldSchema, Schema, ToolSchema, ValueType};
use proptest::prelude::*;

const NOW: i64 = 1_795_514_400; // 2026-11-24T10:00:00Z

fn field(name: &str, ty: ValueType) -> FieldSchema {
    FieldSchema { name: name.into(), ty }
}

fn opt(t: ValueType) -> ValueType {
    ValueType::Optional(Box::new(t))
}

fn schema() -> Schema {
    let record = ValueType::Record(vec![("a".into(), ValueType::Int), ("b".into(), opt(ValueType::String))]);
    Schema {
        tools: vec![
            ToolSchema {
                name: "transfer_funds".into(),
                fields: vec![
                    field("amount", ValueType::Decimal),
                    field("currency", ValueType::String),
                    field("recipient", ValueType::String),
                    field("memo", opt(ValueType::String)),
                ],
                doc: None,
            },
            ToolSchema {
                name: "kitchen_sink".into(),
                fields: vec![
                    field("flag", opt(ValueType::Bool)),
                    field("count", opt(ValueType::Int)),
                    field("wait", opt(ValueType::Duration)),
                    field("at", opt(ValueType::Time)),
                    field("tags", opt(ValueType::List(Box::new(ValueType::String)))),
                    field("ids", opt(ValueType::Set(Box::new(ValueType::Int)))),
                    field("rec", opt(record)),
                ],
                doc: None,
            },
        ],
        context: vec![field("environment", opt(ValueType::String)), field("tier", opt(ValueType::Int))],
        evidence: vec![
            EvidenceSchema { name: "window".into(), ty: ValueType::Bool, source: "cmdb".into() },
            EvidenceSchema { name: "risk_score".into(), ty: ValueType::Decimal, source: "risk".into() },
        ],
        by_name: Default::default(),
    }
}

/// The two readers agree: a request the one-pass reader produces is the reference's (compared
/// through `Debug`, which shows every field, `params_json` in its order); it declines whatever
/// the reference refuses; and `convert_str` answers as the reference, errors word for word.
/// Returns whether the one-pass reader took the text.
fn agree(text: &str, limits: &Limits) -> bool {
    agree_in(&schema(), text, limits)
}

/// [`agree`] against another schema.
fn agree_in(schema: &Schema, text: &str, limits: &Limits) -> bool {
    let fast = decode::request(schema, text, NOW, limits);
    let tree = read_tree(schema, text, NOW, limits);
    let both = convert_str(schema, text, NOW, limits);
    match (&fast, &tree) {
        (Some(a), Ok(b)) => {
            assert_eq!(format!("{a:?}"), format!("{b:?}"), "{text}");
            // The one-pass reader keeps the params as spans of the text, the reference as JSON
            // values: read back, they are the same object.
            let map = a.params_json.to_map();
            assert!(map.is_some(), "the kept params do not read back: {text}");
            assert_eq!(map, b.params_json.to_map(), "{text}");
        }
        (Some(a), Err(e)) => panic!("the one-pass reader accepted what the reference refuses ({e}): {text}\n{a:?}"),
        (None, _) => {}
    }
    match (&both, &tree) {
        (Ok(a), Ok(b)) => assert_eq!(format!("{a:?}"), format!("{b:?}"), "{text}"),
        (Err(a), Err(b)) => assert_eq!(a, b, "{text}"),
        _ => panic!("convert_str {both:?} but the reference {tree:?}: {text}"),
    }
    fast.is_some()
}

// ------------------------------------------------------------------------------------------------
// Generated texts, assembled as text so that they can repeat keys, escape, nest and misspell.

fn number() -> impl Strategy<Value = String> {
    prop_oneof![
        any::<i64>().prop_map(|i| i.to_string()),
        any::<u64>().prop_map(|i| i.to_string()),
        (-100_000_000i64..100_000_000, 0u32..6).prop_map(|(i, s)| format!("{}", i as f64 / 10f64.powi(s as i32))),
        any::<f64>().prop_map(|f| serde_json::to_string(&f).unwrap_or_default()),
        prop::sample::select(vec![
            "0",
            "-0",
            "1",
            "-1",
            "10000",
            "10000.50",
            "1.50000",
            "1e3",
            "1E3",
            "1.5e-3",
            "2.5E+2",
            "0.00001",
            "0.1",
            "0.10000000000000000001",
            "0.30000000000000004",
            "123456789012345678",
            "1234567890123456789",
            "9223372036854775807",
            "9223372036854775808",
            "-9223372036854775808",
            "-9223372036854775809",
            "18446744073709551615",
            "18446744073709551616",
            "1e400",
            "1e-400",
            "-1e400",
            "5e-324",
            "1e308",
            "1e-7",
            "0e5",
            "-0.0",
            "100e-2",
            "0.0001",
            "922337203685477.5807",
            "9e18",
            "01",
            "1.",
            ".5",
            "+1",
            "-",
            "1e",
            "1e+",
            "--1",
            "1.5.5",
            "0x10",
            "NaN",
            "Infinity",
            "1_000",
        ])
        .prop_map(str::to_string),
    ]
}

fn string() -> impl Strategy<Value = String> {
    prop_oneof![
        "[a-z0-9_.:@ -]{0,12}".prop_map(|s| format!("\"{s}\"")),
        any::<String>().prop_map(|s| serde_json::to_string(&s).unwrap_or_default()),
        prop::sample::select(vec![
            r#""USD""#,
            r#""acme""#,
            r#""10000.50""#,
            r#""1h30m""#,
            r#""-2d""#,
            r#""2026-11-24T10:00:00Z""#,
            r#""1e3""#,
            r#""-0""#,
            r#""9e18""#,
            r#""0.00001""#,
            r#""a\nb""#,
            r#""\u00e9t\u00e9""#,
            r#""\/path""#,
            r#""\ud83d\ude00""#,
            r#""\ud800""#,
            r#""\udc00x""#,
            r#""\ud800\u0041""#,
            r#""\x""#,
            r#""\u12""#,
            r#""\u0000""#,
            "\"tab\there\"",
            "\"line\nbreak\"",
            r#""é""#,
            r#""""#,
            r#""\"quoted\"""#,
            r#""\\""#,
            r#""unterminated"#,
            r#""a\"#,
            "\"\u{200b}\"",
        ])
        .prop_map(str::to_string),
    ]
}

fn leaf() -> impl Strategy<Value = String> {
    prop_oneof![
        3 => number(),
        3 => string(),
        1 => prop::sample::select(vec!["true", "false", "null", "tru", "nul", "[]", "{}", "[", "}", ""]).prop_map(str::to_string),
    ]
}

fn key() -> impl Strategy<Value = String> {
    prop_oneof![
        4 => prop::sample::select(vec![
            "amount", "currency", "recipient", "memo", "flag", "count", "wait", "at", "tags", "ids", "rec", "a", "b",
            "tool", "operation", "params", "action", "identity", "human", "agent", "roles", "context", "environment",
            "tier", "now", "prior_actions", "decision", "data_classes", "semantic_distance", "evidence", "window",
            "risk_score", "request_id", "ammount", "odd key",
        ])
        .prop_map(|k| format!("\"{k}\"")),
        1 => string(),
    ]
}

/// Spaces JSON allows between tokens (and one it does not).
fn ws() -> impl Strategy<Value = &'static str> {
    prop::sample::select(vec!["", "", "", " ", "\n", "\t", "\r\n  ", "\u{a0}"])
}

fn value() -> impl Strategy<Value = String> {
    leaf().prop_recursive(6, 48, 6, |inner| {
        prop_oneof![
            (prop::collection::vec((inner.clone(), ws()), 0..6), any::<bool>()).prop_map(|(items, trailing)| {
                let body: Vec<String> = items.into_iter().map(|(v, w)| format!("{w}{v}{w}")).collect();
                format!("[{}{}]", body.join(","), if trailing { "," } else { "" })
            }),
            prop::collection::vec((key(), inner, ws()), 0..6).prop_map(|members| {
                let body: Vec<String> = members.into_iter().map(|(k, v, w)| format!("{w}{k}{w}:{v}")).collect();
                format!("{{{}}}", body.join(","))
            }),
        ]
    })
}

/// An object of `members` (key text, value text), in that order.
fn object(members: &[(String, String)], w: &str) -> String {
    let body: Vec<String> = members.iter().map(|(k, v)| format!("{w}\"{k}\"{w}:{w}{v}")).collect();
    format!("{{{}{w}}}", body.join(","))
}

/// Well-typed values for the declared names, and a few wrong ones.
fn typed(name: &str) -> BoxedStrategy<String> {
    let s = |v: Vec<&'static str>| prop::sample::select(v).prop_map(str::to_string).boxed();
    match name {
        "amount" | "risk_score" | "semantic_distance" => prop_oneof![
            3 => s(vec!["10000", "10000.5", "\"10000.50\"", "1e3", "0.0001", "-3", "\"1.5e3\"", "922337203685477"]),
            1 => number().boxed(),
        ]
        .boxed(),
        "currency" | "recipient" | "memo" | "environment" | "human" | "agent" | "tool" | "operation" => {
            prop_oneof![3 => string(), 1 => s(vec!["null", "1", "[]"])].boxed()
        }
        "flag" | "window" => s(vec!["true", "false", "null", "0", "\"true\""]),
        "count" | "tier" => prop_oneof![3 => any::<i32>().prop_map(|i| i.to_string()), 1 => number()].boxed(),
        "wait" => s(vec!["5400", "\"1h30m\"", "\"45s\"", "\"-2d\"", "\"1m1h\"", "1.5", "null"]),
        "at" | "now" => {
            s(vec!["\"2026-11-24T10:00:00Z\"", "\"2026-11-24T10:00:00+02:00\"", "\"yesterday\"", "0", "null"])
        }
        "tags" | "roles" | "data_classes" => prop::collection::vec(prop_oneof![4 => string(), 1 => leaf()], 0..5)
            .prop_map(|v| format!("[{}]", v.join(",")))
            .boxed(),
        "ids" => prop::collection::vec(prop_oneof![4 => any::<i16>().prop_map(|i| i.to_string()), 1 => leaf()], 0..5)
            .prop_map(|v| format!("[{}]", v.join(",")))
            .boxed(),
        "rec" => (any::<i16>(), prop_oneof![string(), Just("null".to_string())], 0u8..4)
            .prop_map(|(a, b, shape)| match shape {
                0 => format!("{{\"a\":{a},\"b\":{b}}}"),
                1 => format!("{{\"a\":{a}}}"),
                2 => format!("{{\"b\":{b},\"a\":{a}}}"),
                _ => format!("{{\"a\":{a},\"c\":1}}"),
            })
            .boxed(),
        "prior_actions" => prop::collection::vec((string(), string(), 0u8..5), 0..3)
            .prop_map(|v| {
                let items: Vec<String> = v
                    .into_iter()
                    .map(|(t, d, shape)| match shape {
                        0 => format!("{{\"tool\":{t}}}"),
                        1 => format!("{{\"tool\":{t},\"decision\":{d},\"tool\":{t}}}"),
                        2 => format!("{{\"decision\":{d},\"tool\":{t}}}"),
                        _ => format!("{{\"tool\":{t},\"decision\":{d}}}"),
                    })
                    .collect();
                format!("[{}]", items.join(","))
            })
            .boxed(),
        _ => value().boxed(),
    }
}

/// Members drawn from `names` (each with a typed value, sometimes a value of any shape), in a
/// shuffled order, sometimes one repeated, sometimes one misspelled.
fn members(names: &'static [&'static str]) -> impl Strategy<Value = Vec<(String, String)>> {
    let one =
        prop::sample::select(names).prop_flat_map(|n| (Just(n.to_string()), prop_oneof![9 => typed(n), 1 => value()]));
    (prop::collection::vec(one, 0..names.len() + 2), 0u8..10).prop_map(|(mut m, twist)| {
        // Keep the first of each name unless the twist repeats or misspells one.
        let mut seen = std::collections::HashSet::new();
        let repeat = twist == 0;
        m.retain(|(k, _)| seen.insert(k.clone()) || repeat);
        if twist == 1 {
            if let Some((k, _)) = m.first_mut() {
                k.push('x');
            }
        }
        m
    })
}

const TRANSFER: &[&str] = &["amount", "currency", "recipient", "memo"];
const SINK: &[&str] = &["flag", "count", "wait", "at", "tags", "ids", "rec"];
const IDENTITY: &[&str] = &["human", "agent", "roles"];
const CONTEXT: &[&str] = &["environment", "tier", "now", "prior_actions", "data_classes", "semantic_distance"];
const EVIDENCE: &[&str] = &["window", "risk_score"];

fn request_text() -> impl Strategy<Value = String> {
    let tool = prop::sample::select(vec!["transfer_funds", "kitchen_sink", "undeclared", "transfer_fund"]);
    let params = prop_oneof![members(TRANSFER), members(SINK)];
    let request_id = prop_oneof![
        Just(None),
        "[a-zA-Z0-9_.:-]{1,20}".prop_map(|s| Some(format!("\"{s}\""))),
        prop::sample::select(vec!["\"\"", "\"with space\"", "\"é\"", "null", "7"]).prop_map(|s| Some(s.to_string())),
    ];
    (
        tool,
        params,
        (members(IDENTITY), members(CONTEXT), members(EVIDENCE)),
        request_id,
        (0u8..64, 0u8..8, ws()),
        prop_oneof![9 => Just(String::new()), 1 => value()],
    )
        .prop_map(|(tool, params, (identity, context, evidence), request_id, (parts, order, w), extra)| {
            let params = object(&params, w);
            let mut action = vec![("tool".to_string(), format!("\"{tool}\"")), ("params".to_string(), params)];
            if parts & 1 == 1 {
                action.push(("operation".to_string(), "\"execute\"".to_string()));
            }
            if order & 1 == 1 {
                action.reverse();
            }
            let mut top = vec![("action".to_string(), object(&action, w))];
            if parts & 2 == 2 {
                top.push(("identity".to_string(), object(&identity, w)));
            }
            if parts & 4 == 4 {
                top.push(("context".to_string(), object(&context, w)));
            }
            if parts & 8 == 8 {
                top.push(("evidence".to_string(), object(&evidence, w)));
            }
            if let Some(id) = request_id {
                top.push(("request_id".to_string(), id));
            }
            if parts & 16 == 16 {
                top.push(("identity".to_string(), "null".to_string()));
            }
            if !extra.is_empty() {
                top.push(("extra".to_string(), extra));
            }
            if order & 2 == 2 {
                top.reverse();
            }
            let text = object(&top, w);
            match order {
                4 => format!("{text} x"),
                5 => text.get(..text.len() / 2).unwrap_or_default().to_string(),
                _ => format!("{w}{text}{w}"),
            }
        })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(
        std::env::var("PROPTEST_CASES").ok().and_then(|c| c.parse().ok()).unwrap_or(1024)
    ))]

    #[test]
    fn generated_requests_read_alike(text in request_text()) {
        agree(&text, &Limits::default());
    }

    #[test]
    fn generated_requests_read_alike_under_tight_limits(text in request_text()) {
        let limits = Limits { max_depth: 3, max_string_bytes: 8, max_list_len: 2, max_request_bytes: 300 };
        agree(&text, &limits);
    }

    /// Roles and data classes of any length, repeats anywhere: the one-pass reader keeps up to
    /// eight on the stack and moves to a vector past that; either way the first occurrences in
    /// order, as the reference reader keeps them, and it never declines them.
    #[test]
    fn sets_of_any_length_keep_their_first_occurrences(
        roles in prop::collection::vec(0usize..12, 0..30),
        classes in prop::collection::vec(0usize..12, 0..30),
    ) {
        let names = |xs: &[usize]| xs.iter().map(|i| format!("\"name-{i}\"")).collect::<Vec<_>>().join(",");
        let text = format!(
            r#"{{"action":{{"tool":"transfer_funds","params":{{"amount":1,"currency":"USD","recipient":"a"}}}},"identity":{{"human":"h","roles":[{}]}},"context":{{"data_classes":[{}]}}}}"#,
            names(&roles),
            names(&classes)
        );
        prop_assert!(agree(&text, &Limits::default()), "declined: {}", text);
    }

    #[test]
    fn any_json_like_text_reads_alike(text in value()) {
        agree(&text, &Limits::default());
    }

    #[test]
    fn arbitrary_text_reads_alike(text in any::<String>()) {
        agree(&text, &Limits::default());
    }
}

/// The one-pass reader is not a reader of nothing: typical requests, with every part, in any
/// order, with escapes, unicode, nulls and repeated set elements, take it.
#[test]
fn typical_requests_take_the_one_pass_path() {
    let texts = [
        r#"{"action":{"tool":"transfer_funds","params":{"amount":10000,"currency":"USD","recipient":"acme"}}}"#,
        r#"{"request_id":"req-1","action":{"tool":"transfer_funds","operation":"execute","params":{"amount":"10000.50","currency":"USD","recipient":"acme","memo":null}},"identity":{"human":"alice@corp.com","agent":"finance-agent","roles":["finance","finance","ops"]},"context":{"environment":"prod","tier":2,"now":"2026-11-24T10:00:00Z","prior_actions":[{"tool":"read","decision":"allow"}],"data_classes":["PII"],"semantic_distance":0.2},"evidence":{"window":true,"risk_score":null}}"#,
        "{ \"action\" : { \"params\" : { \"amount\" : 1.5e3 , \"currency\" : \"\\u20ac\" , \"recipient\" : \"caf\u{e9} \\\"x\\\"\\n\" } ,\n \"tool\" : \"transfer_funds\" } }\n",
        r#"{"action":{"tool":"kitchen_sink","params":{"flag":true,"count":-7,"wait":"1h30m","at":"2026-11-24T10:00:00+02:00","tags":["a","\ud83d\ude00"],"ids":[3,1,3],"rec":{"b":null,"a":1}}}}"#,
        r#"{"action":{"tool":"undeclared","params":{"anything":[1,{"x":null}],"y":-0}},"identity":null,"context":null}"#,
    ];
    for text in texts {
        assert!(agree(text, &Limits::default()), "declined: {text}");
    }
}

/// Hostile texts the reference refuses are declined, and `convert_str` words the refusal.
#[test]
fn hostile_texts_are_declined_and_refused_as_before() {
    let deep = format!(
        "{{\"action\":{{\"tool\":\"undeclared\",\"params\":{{\"x\":{}1{}}}}}}}",
        "[".repeat(200),
        "]".repeat(200)
    );
    let texts = [
        r#"{"action":{"tool":"transfer_funds","params":{"amount":500000,"amount":5,"currency":"USD","recipient":"a"}}}"#,
        r#"{"action":{"tool":"undeclared","params":{"x":{"k":1,"k":2}}}}"#,
        r#"{"action":{"tool":"t"},"action":{"tool":"t"}}"#,
        r#"{"action":{"tool":"transfer_funds","params":{"amount":0.10000000000000000001,"currency":"USD","recipient":"a"}}}"#,
        r#"{"action":{"tool":"undeclared","params":{"x":0.10000000000000000001}},"context":{"semantic_distance":0.1}}"#,
        r#"{"action":{"tool":"undeclared","params":{"x":1e400}}}"#,
        r#"{"action":{"tool":"undeclared","params":{"x":"\ud800"}}}"#,
        r#"{"action":{"tool":"undeclared","params":{"x":01}}}"#,
        "{\"action\":{\"tool\":\"undeclared\",\"params\":{\"x\":\"a\u{1}b\"}}}",
        r#"{"action":{"tool":"undeclared"}} trailing"#,
        "\u{feff}{\"action\":{\"tool\":\"undeclared\"}}",
        r#"{"action":{"tool":"transfer_funds","params":{"ammount":1}}}"#,
        r#"{"action":{"tool":"kitchen_sink","params":{"count":9223372036854775808}}}"#,
        r#"{"action":{"tool":"kitchen_sink","params":{"count":-0}}}"#,
        // A repeated key inside a declared record: its value would be kept as the span of its
        // text, which serde_json reads with the last copy winning.
        r#"{"action":{"tool":"kitchen_sink","params":{"rec":{"a":1,"a":2}}}}"#,
        r#"{"action":{"params":{"rec":{"a":1,"b":null,"a":2}},"tool":"kitchen_sink"}}"#,
        r#"{"request_id":"","action":{"tool":"x"}}"#,
        &deep,
    ];
    for text in texts {
        assert!(!agree(text, &Limits::default()), "taken: {text}");
        assert!(convert_str(&schema(), text, NOW, &Limits::default()).is_err(), "accepted: {text}");
    }
}

/// A tool of 64 declared parameters is read against its declaration as the params are read (a bit
/// per field marks the ones seen); at 65 the one-pass reader reads the params as an object and
/// converts them afterwards. On both sides of that limit the readers agree, in the order given
/// and reversed, and a parameter given twice is refused, on either side of the tool's name.
#[test]
fn a_tool_of_64_and_of_65_parameters_reads_alike_and_refuses_a_repeat() {
    for n in [64usize, 65] {
        let names: Vec<String> = (0..n).map(|i| format!("p{i}")).collect();
        let fields = names.iter().map(|f| field(f, ValueType::Int)).collect();
        let schema = Schema {
            tools: vec![ToolSchema { name: "wide".into(), fields, doc: None }],
            context: Vec::new(),
            evidence: Vec::new(),
            by_name: Default::default(),
        };
        let given: Vec<String> = names.iter().enumerate().map(|(i, f)| format!("\"{f}\":{i}")).collect();
        let reversed: Vec<String> = given.iter().rev().cloned().collect();
        for params in [given.join(","), reversed.join(",")] {
            let text = format!(r#"{{"action":{{"tool":"wide","params":{{{params}}}}}}}"#);
            assert!(agree_in(&schema, &text, &Limits::default()), "{n} parameters: declined");
            let request = convert_str(&schema, &text, NOW, &Limits::default()).expect("a valid request");
            assert_eq!(request.params_json.len(), n);
            assert!(request.params_json.keys().eq(params.split(',').map(|p| p.split('"').nth(1).unwrap())));
        }
        let repeated = format!("{},\"p{}\":0", given.join(","), n - 1);
        for text in [
            format!(r#"{{"action":{{"tool":"wide","params":{{{repeated}}}}}}}"#),
            format!(r#"{{"action":{{"params":{{{repeated}}},"tool":"wide"}}}}"#),
        ] {
            assert!(!agree_in(&schema, &text, &Limits::default()), "{n} parameters, one repeated: declined");
            let refused = convert_str(&schema, &text, NOW, &Limits::default()).expect_err("a repeated parameter");
            assert!(refused.message.contains("appears twice"), "{refused}");
        }
    }
}

/// A schema of many tools finds a request's tool by binary search over the names (a short one
/// by scanning them in order): every tool of 40, declared out of order, is found with its own
/// parameters, in both readers, whichever comes first of `tool` and `params`; a name no tool has
/// is an undeclared tool.
#[test]
fn a_request_finds_its_tool_among_many() {
    let names: Vec<String> = (0..40).map(|i| format!("tool_{}", (i * 17) % 40)).collect();
    let schema = Schema {
        tools: names
            .iter()
            .map(|name| ToolSchema {
                name: name.clone(),
                fields: vec![field(&format!("p_{name}"), ValueType::Int)],
                doc: None,
            })
            .collect(),
        context: Vec::new(),
        evidence: Vec::new(),
        by_name: Default::default(),
    };
    for (i, name) in names.iter().enumerate() {
        for text in [
            format!(r#"{{"action":{{"tool":"{name}","params":{{"p_{name}":{i}}}}}}}"#),
            format!(r#"{{"action":{{"params":{{"p_{name}":{i}}},"tool":"{name}"}}}}"#),
        ] {
            assert!(agree_in(&schema, &text, &Limits::default()), "declined: {text}");
            let request = convert_str(&schema, &text, NOW, &Limits::default()).expect("a valid request");
            assert_eq!(request.tool_index, Some(i), "{text}");
        }
    }
    let text = r#"{"action":{"tool":"tool_40","params":{"x":1}}}"#;
    assert!(agree_in(&schema, text, &Limits::default()));
    assert_eq!(convert_str(&schema, text, NOW, &Limits::default()).expect("undeclared").tool_index, None);
}

// ------------------------------------------------------------------------------------------------
// A request read, edited by its host, then decided (`read_request` + `convert_read`), as the
// server does when it binds the caller's agent into the body.

proptest! {
    /// The edit keeps the refusal of a `Decimal` whose digits the reading rounded: the edited
    /// tree is refused at the same path with the same words as the text, where writing the tree
    /// back to text (what the server did) hands the converter the rounded number, and it is taken.
    #[test]
    fn an_edited_read_request_still_refuses_a_rounded_decimal(whole in 0u64..100_000, digits in "[0-9]{17,30}") {
        let amount = format!("{whole}.{digits}1");
        let text = format!(
            r#"{{"action":{{"tool":"transfer_funds","params":{{"amount":{amount},"currency":"EUR","recipient":"acme"}}}}}}"#
        );
        let limits = Limits::default();
        let refused = read_tree(&schema(), &text, NOW, &limits).expect_err("a rounded Decimal in the text");
        prop_assert_eq!(&refused.path, "$.action.params.amount");
        let mut read = read_request(&text, &limits).expect("the text reads");
        read.json["identity"] = serde_json::json!({ "agent": "bound-by-the-host" });
        prop_assert_eq!(convert_read(&schema(), &read, NOW, &limits).expect_err("still refused"), refused);
        prop_assert!(convert_str(&schema(), &read.json.to_string(), NOW, &limits).is_ok(), "the hazard this guards against");
    }
}

/// `read_exact` (a case event's body) refuses a number an f64 rounds wherever it sits, naming
/// its path, and takes every number an f64 keeps; it refuses what the strict reader refuses.
#[test]
fn read_exact_refuses_a_rounded_number_anywhere_and_keeps_the_rest() {
    for (text, path) in [
        (r#"{"limit":1000.0000000000000001}"#, "$.limit"),
        (r#"{"a":{"b":[1,2,0.10000000000000000001]}}"#, "$.a.b[2]"),
        (r#"{"ok":0.5,"x":[{"y":123456789.123456789123}]}"#, "$.x[0].y"),
    ] {
        let e = read_exact(text.as_bytes()).expect_err(text);
        assert_eq!(e.path, path, "{text}");
        assert!(e.message.contains("send it as a string"), "{e}");
    }
    let kept =
        r#"{"a":0.1,"b":1e3,"c":-2.5E-3,"d":9223372036854775807,"e":18446744073709551615,"f":0.30000000000000004}"#;
    assert_eq!(
        read_exact(kept.as_bytes()).expect("every number kept"),
        serde_json::from_str::<serde_json::Value>(kept).unwrap()
    );
    assert_eq!(read_exact(br#"{"a":1,"a":2}"#).expect_err("repeated key").path, "$.a");
    assert!(read_exact(b"{\"a\":\"\xff\"}").expect_err("not UTF-8").message.contains("UTF-8"));
    // Nesting just under the reader's ceiling is read; at the ceiling (serde_json's own
    // recursion limit) and past it, it is refused at `$`; a rounded number at the bottom of the
    // deepest nesting read is still found, with its path.
    let nested = |depth: usize, leaf: &str| format!("{}{leaf}{}", "[".repeat(depth), "]".repeat(depth));
    assert!(read_exact(nested(MAX_DEPTH_CEILING - 1, "1").as_bytes()).is_ok());
    for depth in [MAX_DEPTH_CEILING, MAX_DEPTH_CEILING + 1, 10_000] {
        assert_eq!(read_exact(nested(depth, "1").as_bytes()).expect_err("too deep").path, "$", "{depth}");
    }
    let deep = read_exact(nested(MAX_DEPTH_CEILING - 1, "0.10000000000000000001").as_bytes()).expect_err("rounded");
    assert_eq!(deep.path, format!("${}", "[0]".repeat(MAX_DEPTH_CEILING - 1)));
}

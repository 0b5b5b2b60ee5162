#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]
//! JSON request → `Request` conversion: the docs/json.md contract, every rule's exact error path,
//! limits, hostile input, and the way back (`value_to_json`).

use aarm_runtime::convert::{
    convert_str, convert_value, params_to_json, typed_value_to_json, value_to_json, InputError, Limits,
};
use aarm_runtime::decimal::DECIMAL_LIMIT;
use aarm_runtime::request::Request;
use aarm_runtime::schema::{EvidenceSchema, FieldSchema, Schema, ToolSchema, ValueType};
use aarm_runtime::value::{format_time, parse_time, Value};
use proptest::prelude::*;
use serde_json::{json, Value as Json};

/// A decimal written in ten-thousandths (`15_000` is 1.5), in the runtime's units of 10^-18.
fn d4(ten_thousandths: i64) -> i128 {
    i128::from(ten_thousandths) * 100_000_000_000_000
}

const NOW: i64 = 1_795_514_400; // 2026-11-24T10:00:00Z

fn field(name: &str, ty: ValueType) -> FieldSchema {
    FieldSchema { name: name.into(), ty }
}

fn opt(t: ValueType) -> ValueType {
    ValueType::Optional(Box::new(t))
}

fn list(t: ValueType) -> ValueType {
    ValueType::List(Box::new(t))
}

fn set(t: ValueType) -> ValueType {
    ValueType::Set(Box::new(t))
}

fn record_type() -> ValueType {
    ValueType::Record(vec![("a".into(), ValueType::Int), ("b".into(), opt(ValueType::String))])
}

/// Every type the schema can declare, one parameter each.
fn all_types() -> Vec<FieldSchema> {
    vec![
        field("flag", ValueType::Bool),
        field("count", ValueType::Int),
        field("price", ValueType::Decimal),
        field("name", ValueType::String),
        field("wait", ValueType::Duration),
        field("at", ValueType::Time),
        field("tags", list(ValueType::String)),
        field("ids", set(ValueType::Int)),
        field("rec", record_type()),
        field("recs", list(record_type())),
        field("maybe", opt(ValueType::Decimal)),
        field("nested", list(set(ValueType::Decimal))),
    ]
}

fn schema() -> Schema {
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
                name: "send_email".into(),
                fields: vec![
                    field("to", list(ValueType::String)),
                    field("cc", opt(set(ValueType::String))),
                    field("subject", ValueType::String),
                    field("attachments", opt(ValueType::Int)),
                ],
                doc: None,
            },
            ToolSchema { name: "kitchen_sink".into(), fields: all_types(), doc: None },
        ],
        context: vec![field("environment", ValueType::String), field("tier", opt(ValueType::Int))],
        evidence: vec![
            EvidenceSchema { name: "maintenance_window_active".into(), ty: ValueType::Bool, source: "cmdb".into() },
            EvidenceSchema { name: "risk_score".into(), ty: ValueType::Decimal, source: "risk-api".into() },
        ],
        by_name: Default::default(),
    }
}

fn design_example() -> Json {
    json!({
      "action":   { "tool": "transfer_funds", "operation": "execute",
                    "params": { "amount": 10000, "currency": "USD", "recipient": "acme" } },
      "identity": { "human": "alice@corp.com", "service": "svc-payments", "agent": "finance-agent",
                    "session": "s-81", "roles": ["finance"] },
      "context":  { "original_request": "pay the acme invoice", "prior_actions": [],
                    "data_classes": ["PII"], "semantic_distance": 0.2,
                    "now": "2026-11-24T10:00:00Z", "environment": "prod" },
      "evidence": { "maintenance_window_active": true }
    })
}

fn conv(j: &Json) -> Result<Request, InputError> {
    let r = convert_value(&schema(), j, NOW, &Limits::default());
    // The text path must agree with the value path.
    let t = convert_str(&schema(), &j.to_string(), NOW, &Limits::default());
    match (&r, &t) {
        (Ok(_), Ok(_)) => {}
        (Err(a), Err(b)) => assert_eq!(a, b, "convert_value and convert_str disagree"),
        _ => panic!("convert_value {r:?} vs convert_str {t:?}"),
    }
    r
}

fn ok(j: Json) -> Request {
    conv(&j).unwrap_or_else(|e| panic!("expected success, got {e}"))
}

fn err(j: Json) -> InputError {
    match conv(&j) {
        Ok(r) => panic!("expected an error, got {r:?}"),
        Err(e) => e,
    }
}

fn err_str(text: &str) -> InputError {
    match convert_str(&schema(), text, NOW, &Limits::default()) {
        Ok(r) => panic!("expected an error, got {r:?}"),
        Err(e) => e,
    }
}

#[track_caller]
fn assert_err(e: &InputError, path: &str, message_part: &str) {
    assert_eq!(e.path, path, "path of {e}");
    assert!(e.message.contains(message_part), "message of {e} should contain {message_part:?}");
}

/// A transfer with the given params (merged over valid ones).
fn transfer(params: Json) -> Json {
    let mut p = json!({ "amount": 1, "currency": "USD", "recipient": "acme" });
    for (k, v) in params.as_object().unwrap() {
        p[k] = v.clone();
    }
    json!({ "action": { "tool": "transfer_funds", "params": p }, "context": { "environment": "prod" } })
}

fn kitchen_params() -> Json {
    json!({
        "flag": true, "count": -5, "price": "12.3456", "name": "n", "wait": "1h30m",
        "at": "2026-11-24T10:00:00Z", "tags": ["a", "b", "a"], "ids": [3, 1, 3, 2, 1],
        "rec": { "a": 1 }, "recs": [{ "a": 2, "b": "x" }, { "a": 3, "b": null }],
        "nested": [["1.5", 1.5, 2], []]
    })
}

fn kitchen(overrides: Json) -> Json {
    let mut p = kitchen_params();
    for (k, v) in overrides.as_object().unwrap() {
        p[k] = v.clone();
    }
    json!({ "action": { "tool": "kitchen_sink", "params": p }, "context": { "environment": "prod" } })
}

fn s(v: &Value) -> String {
    match v {
        Value::Str(s) => s.to_string(),
        other => panic!("not a string: {other:?}"),
    }
}

fn items(v: &Value) -> Vec<Value> {
    match v {
        Value::List(items) | Value::Record(items) => items.to_vec(),
        other => panic!("not a list: {other:?}"),
    }
}

fn eq(a: &Value, b: &Value) -> bool {
    a.equals(b) == Some(true)
}

fn dec(text: &str) -> Value {
    let r = ok(transfer(json!({ "amount": text })));
    r.params[0].clone()
}

// ------------------------------------------------------------------------------------------------
// The contract's example and the shape of the document

#[test]
fn design_example_converts() {
    let r = ok(design_example());
    assert_eq!(&*r.tool, "transfer_funds");
    assert_eq!(r.tool_index, Some(0));
    assert_eq!(&*r.operation, "execute");
    assert_eq!(r.params.len(), 4);
    assert!(eq(&r.params[0], &Value::Decimal(d4(100_000_000))));
    assert_eq!(s(&r.params[1]), "USD");
    assert_eq!(s(&r.params[2]), "acme");
    assert!(matches!(r.params[3], Value::Absent));
    assert_eq!(
        Json::Object(r.params_json.to_map().unwrap()),
        json!({ "amount": 10000, "currency": "USD", "recipient": "acme" })
    );
    assert_eq!(&*r.identity.human, "alice@corp.com");
    assert_eq!(&*r.identity.service, "svc-payments");
    assert_eq!(&*r.identity.agent, "finance-agent");
    assert_eq!(&*r.identity.session, "s-81");
    assert_eq!(items(&r.identity.roles).iter().map(s).collect::<Vec<_>>(), ["finance"]);
    assert_eq!(s(&r.context.original_request), "pay the acme invoice");
    assert!(items(&r.context.prior_actions).is_empty());
    assert_eq!(items(&r.context.data_classes).iter().map(s).collect::<Vec<_>>(), ["PII"]);
    assert!(eq(&r.context.semantic_distance, &Value::Decimal(d4(2000))));
    assert!(eq(&r.context.now, &Value::Time(NOW)));
    assert_eq!(r.context.declared.len(), 2);
    assert_eq!(s(&r.context.declared[0]), "prod");
    assert!(matches!(r.context.declared[1], Value::Absent));
    assert_eq!(r.evidence.len(), 2);
    assert!(eq(r.evidence[0].as_ref().unwrap(), &Value::Bool(true)));
    assert!(r.evidence[1].is_none());
}

#[test]
fn minimal_request_gets_the_defaults() {
    let r = ok(json!({ "action": { "tool": "web_search" }, "context": { "environment": "dev" } }));
    assert_eq!(&*r.tool, "web_search");
    assert_eq!(r.tool_index, None);
    assert_eq!(&*r.operation, "");
    assert!(r.params.is_empty());
    assert!(r.params_json.is_empty());
    for id in [&r.identity.human, &r.identity.service, &r.identity.agent, &r.identity.session] {
        assert_eq!(&**id, "");
    }
    assert!(items(&r.identity.roles).is_empty());
    assert_eq!(s(&r.context.original_request), "");
    assert!(items(&r.context.prior_actions).is_empty());
    assert!(items(&r.context.data_classes).is_empty());
    assert!(matches!(r.context.semantic_distance, Value::Absent));
    assert!(eq(&r.context.now, &Value::Time(NOW)));
    assert_eq!(r.evidence.len(), 2);
    assert!(r.evidence.iter().all(Option::is_none));
}

#[test]
fn null_is_absent_for_optional_parts() {
    let r = ok(json!({
        "action": { "tool": "web_search", "operation": null, "params": null },
        "identity": { "human": null, "roles": null },
        "context": { "environment": "dev", "tier": null, "now": null, "semantic_distance": null,
                     "prior_actions": null, "data_classes": null, "original_request": null },
        "evidence": null
    }));
    assert_eq!(&*r.operation, "");
    assert!(r.params_json.is_empty());
    assert_eq!(&*r.identity.human, "");
    assert!(matches!(r.context.declared[1], Value::Absent));
    assert!(eq(&r.context.now, &Value::Time(NOW)));
    let r = ok(json!({ "action": { "tool": "x" }, "identity": null, "context": { "environment": "e" } }));
    assert_eq!(&*r.identity.agent, "");
}

#[test]
fn top_level_must_be_an_object() {
    for j in [json!([]), json!("action"), json!(1), json!(null), json!(true)] {
        assert_err(&err(j), "$", "expected a JSON object");
    }
    assert_err(&err_str("[1, 2]"), "$", "expected a JSON object, found array");
}

#[test]
fn unknown_top_level_keys_are_errors() {
    let mut j = design_example();
    j["evidense"] = json!({});
    let e = err(j);
    assert_eq!(e.path, "$.evidense");
    assert_eq!(e.message, "unknown top-level key \"evidense\" (did you mean \"evidence\"?)");
    let mut j = design_example();
    j["weird key"] = json!(1);
    let e = err(j);
    assert_eq!(e.path, "$[\"weird key\"]");
    assert_eq!(e.message, "unknown top-level key \"weird key\"");
}

#[test]
fn action_is_required_and_an_object() {
    assert_err(&err(json!({ "identity": {} })), "$.action", "missing required key \"action\"");
    assert_err(&err(json!({ "action": "transfer_funds" })), "$.action", "expected an object, found string");
    assert_err(&err(json!({ "action": null })), "$.action", "expected an object, found null");
    assert_err(&err(json!({ "action": { "tool": "x", "op": "y" } })), "$.action.op", "unknown action key \"op\"");
}

#[test]
fn tool_is_the_only_mandatory_field() {
    assert_err(&err(json!({ "action": {} })), "$.action.tool", "missing required key \"tool\"");
    assert_err(&err(json!({ "action": { "tool": 7 } })), "$.action.tool", "expected String, found number 7");
    assert_err(&err(json!({ "action": { "tool": null } })), "$.action.tool", "expected String, found null");
    assert_err(
        &err(json!({ "action": { "tool": "x", "operation": 1 } })),
        "$.action.operation",
        "expected String, found number 1",
    );
    assert_err(
        &err(json!({ "action": { "tool": "x", "params": [] } })),
        "$.action.params",
        "expected an object, found array",
    );
}

// ------------------------------------------------------------------------------------------------
// Params of declared and undeclared tools

#[test]
fn undeclared_tool_params_are_not_checked() {
    let params = json!({ "anything": [1, { "deep": null }], "amount": "abc" });
    let r = ok(json!({ "action": { "tool": "shell", "operation": "exec", "params": params.clone() },
                      "context": { "environment": "prod" } }));
    assert_eq!(r.tool_index, None);
    assert!(r.params.is_empty());
    assert_eq!(Json::Object(r.params_json.to_map().unwrap()), params);
}

#[test]
fn params_json_is_kept_as_given() {
    let r = ok(transfer(json!({ "amount": "10000.50", "memo": null })));
    assert_eq!(r.params_json.get("amount").as_deref(), Some(&json!("10000.50")));
    assert_eq!(r.params_json.get("memo").as_deref(), Some(&json!(null)));
}

#[test]
fn missing_required_parameter_names_it() {
    let j = json!({ "action": { "tool": "transfer_funds", "params": { "amount": 1, "recipient": "a" } } });
    let e = err(j);
    assert_eq!(e.path, "$.action.params.currency");
    assert_eq!(e.message, "missing required parameter \"currency\" (String)");
    // No params at all: the first declared field is reported.
    let e = err(json!({ "action": { "tool": "transfer_funds" } }));
    assert_eq!(e.path, "$.action.params.amount");
    assert_eq!(e.message, "missing required parameter \"amount\" (Decimal)");
}

#[test]
fn unknown_parameter_suggests_a_close_name() {
    let j = json!({ "action": { "tool": "transfer_funds",
        "params": { "ammount": 1, "currency": "USD", "recipient": "a" } } });
    let e = err(j);
    assert_eq!(e.path, "$.action.params.ammount");
    assert_eq!(e.message, "unknown parameter \"ammount\" (did you mean \"amount\"?)");
    let e = err(transfer(json!({ "colour": "red" })));
    assert_eq!(e.path, "$.action.params.colour");
    assert_eq!(e.message, "unknown parameter \"colour\"");
}

#[test]
fn wrong_parameter_type() {
    let e = err(transfer(json!({ "amount": "abc" })));
    assert_eq!(e.path, "$.action.params.amount");
    assert_eq!(e.message, "expected Decimal, found string \"abc\"");
    let e = err(transfer(json!({ "currency": 5 })));
    assert_eq!(e.path, "$.action.params.currency");
    assert_eq!(e.message, "expected String, found number 5");
    let e = err(transfer(json!({ "amount": null })));
    assert_eq!(e.path, "$.action.params.amount");
    assert_eq!(e.message, "expected Decimal, found null");
    let e = err(transfer(json!({ "memo": ["x"] })));
    assert_eq!(e.path, "$.action.params.memo");
    assert_eq!(e.message, "expected String, found array");
}

#[test]
fn optional_parameters_may_be_absent_or_null() {
    let r = ok(transfer(json!({})));
    assert!(matches!(r.params[3], Value::Absent));
    let r = ok(transfer(json!({ "memo": null })));
    assert!(matches!(r.params[3], Value::Absent));
    let r = ok(transfer(json!({ "memo": "refund" })));
    assert_eq!(s(&r.params[3]), "refund");
}

#[test]
fn params_are_in_slot_order() {
    let r = ok(json!({ "action": { "tool": "send_email",
        "params": { "subject": "hi", "attachments": 2, "to": ["b@x", "a@x"] } }, "context": { "environment": "e" } }));
    assert_eq!(r.tool_index, Some(1));
    assert_eq!(items(&r.params[0]).iter().map(s).collect::<Vec<_>>(), ["b@x", "a@x"]);
    assert!(matches!(r.params[1], Value::Absent));
    assert_eq!(s(&r.params[2]), "hi");
    assert!(eq(&r.params[3], &Value::Int(2)));
}

// ------------------------------------------------------------------------------------------------
// Types

#[test]
fn every_type_converts() {
    let r = ok(kitchen(json!({})));
    let p = &r.params;
    assert!(eq(&p[0], &Value::Bool(true)));
    assert!(eq(&p[1], &Value::Int(-5)));
    assert!(eq(&p[2], &Value::Decimal(d4(123_456))));
    assert_eq!(s(&p[3]), "n");
    assert!(eq(&p[4], &Value::Duration(5400)));
    assert!(eq(&p[5], &Value::Time(NOW)));
    assert_eq!(items(&p[6]).iter().map(s).collect::<Vec<_>>(), ["a", "b", "a"], "a list keeps duplicates");
    assert!(eq(&p[7], &Value::list(vec![Value::Int(3), Value::Int(1), Value::Int(2)])), "a set drops them");
    assert!(eq(&p[8], &Value::Record(vec![Value::Int(1), Value::Absent].into())));
    assert!(eq(
        &p[9],
        &Value::list(vec![
            Value::Record(vec![Value::Int(2), Value::str("x")].into()),
            Value::Record(vec![Value::Int(3), Value::Absent].into()),
        ])
    ));
    assert!(matches!(p[10], Value::Absent));
    assert!(eq(
        &p[11],
        &Value::list(vec![
            Value::list(vec![Value::Decimal(d4(15_000)), Value::Decimal(d4(20_000))]),
            Value::empty_list()
        ])
    ));
}

#[test]
fn bool_accepts_only_booleans() {
    assert_err(
        &err(kitchen(json!({ "flag": "true" }))),
        "$.action.params.flag",
        "expected Bool, found string \"true\"",
    );
    assert_err(&err(kitchen(json!({ "flag": 1 }))), "$.action.params.flag", "expected Bool, found number 1");
}

#[test]
fn int_accepts_only_integers_in_range() {
    assert!(eq(&ok(kitchen(json!({ "count": i64::MIN }))).params[1], &Value::Int(i64::MIN)));
    assert!(eq(&ok(kitchen(json!({ "count": i64::MAX }))).params[1], &Value::Int(i64::MAX)));
    let path = "$.action.params.count";
    assert_err(&err(kitchen(json!({ "count": 1.0 }))), path, "expected Int, found number 1.0");
    assert_err(&err(kitchen(json!({ "count": 1.5 }))), path, "expected Int, found number 1.5");
    assert_err(&err(kitchen(json!({ "count": "3" }))), path, "expected Int, found string \"3\"");
    assert_err(&err(kitchen(json!({ "count": 9_223_372_036_854_775_808u64 }))), path, "out of range");
    let text = kitchen(json!({})).to_string().replace("\"count\":-5", "\"count\":1e3");
    assert_err(&err_str(&text), path, "expected Int, found number");
    let text = kitchen(json!({})).to_string().replace("\"count\":-5", "\"count\":-99999999999999999999");
    assert_err(&err_str(&text), path, "out of range");
}

#[test]
fn decimal_numbers_and_strings_are_equal() {
    assert!(eq(&dec("10000.50"), &Value::Decimal(d4(100_005_000))));
    let r = ok(transfer(json!({ "amount": 10000.5 })));
    assert!(eq(&r.params[0], &dec("10000.50")));
    assert!(eq(&ok(transfer(json!({ "amount": 10000 }))).params[0], &dec("10000")));
    assert!(eq(&dec("-0.0001"), &Value::Decimal(d4(-1))));
    assert!(eq(&dec("1.50000"), &Value::Decimal(d4(15_000))), "trailing zeros are exact");
    assert!(eq(&dec("1e3"), &Value::Decimal(d4(10_000_000))), "exact exponent forms are accepted");
    assert!(eq(&dec("99999999999999999999.999999999999999999"), &Value::Decimal(DECIMAL_LIMIT - 1)));
    assert!(eq(&dec("0.000000000000000001"), &Value::Decimal(1)), "18 fractional digits are exact");
    assert!(eq(&dec("1e-18"), &Value::Decimal(1)));
    // An exponent form written as a JSON number.
    let text = transfer(json!({})).to_string().replace("\"amount\":1", "\"amount\":2.5e2");
    let r = convert_str(&schema(), &text, NOW, &Limits::default()).unwrap();
    assert!(eq(&r.params[0], &Value::Decimal(d4(2_500_000))));
}

#[test]
fn decimal_never_rounds() {
    let path = "$.action.params.amount";
    let e = err(transfer(json!({ "amount": 1e-19 })));
    assert_err(&e, path, "more than 18 fractional digits");
    let e = err(transfer(json!({ "amount": "0.0000000000000000001" })));
    assert_eq!(e.message, "Decimal string \"0.0000000000000000001\" has more than 18 fractional digits");
    // An attacker's 1000.0000000000000000001 is not 1000, as a string or as a JSON number.
    let e = err(transfer(json!({ "amount": "1000.0000000000000000001" })));
    assert_err(&e, path, "more than 18 fractional digits");
    let text = transfer(json!({})).to_string().replace("\"amount\":1", "\"amount\":1000.0000000000000000001");
    assert_err(&err_str(&text), path, "send the Decimal as a string");
    assert_err(&err(transfer(json!({ "amount": "1e20" }))), path, "out of range");
    assert_err(&err(transfer(json!({ "amount": "-100000000000000000000" }))), path, "out of range");
    // More digits than an f64 keeps: rejected from the text, not silently read as 0.1.
    let text = transfer(json!({})).to_string().replace("\"amount\":1", "\"amount\":0.10000000000000000001");
    assert_err(&err_str(&text), path, "send the Decimal as a string");
    // The same value as a string is simply too precise.
    assert_err(&err(transfer(json!({ "amount": "0.10000000000000000001" }))), path, "more than 18 fractional digits");
}

#[test]
fn decimal_range_is_checked() {
    let path = "$.action.params.amount";
    let text = transfer(json!({})).to_string().replace("\"amount\":1", "\"amount\":1e20");
    assert_err(&err_str(&text), path, "out of range");
    assert_err(&err(transfer(json!({ "amount": 1e20 }))), path, "out of range");
    assert_err(&err(transfer(json!({ "amount": "100000000000000000000" }))), path, "out of range");
    assert_err(&err(transfer(json!({ "amount": "-100000000000000000000" }))), path, "out of range");
    // Every Int is a Decimal: the largest JSON integers are in range.
    assert!(eq(&ok(transfer(json!({ "amount": u64::MAX }))).params[0], &dec("18446744073709551615")));
    assert!(eq(&ok(transfer(json!({ "amount": i64::MIN }))).params[0], &dec("-9223372036854775808")));
    assert_err(&err(transfer(json!({ "amount": "1e999999999" }))), path, "out of range");
    for bad in ["", "1.", ".5", "1,000", "NaN", "Infinity", "0x10", "+1", " 1"] {
        assert_err(&err(transfer(json!({ "amount": bad }))), path, "expected Decimal, found string");
    }
    assert_err(&err(transfer(json!({ "amount": true }))), path, "expected Decimal, found bool true");
}

#[test]
fn string_type() {
    assert_err(&err(kitchen(json!({ "name": 1 }))), "$.action.params.name", "expected String, found number 1");
    let e = err(kitchen(json!({ "name": { "k": "v" } })));
    assert_eq!(e.path, "$.action.params.name");
    assert!(e.message.starts_with("expected String, found object"), "{e}");
}

#[test]
fn duration_seconds_or_string() {
    let d = |v: Json| ok(kitchen(json!({ "wait": v }))).params[4].clone();
    assert!(eq(&d(json!(5400)), &d(json!("1h30m"))));
    assert!(eq(&d(json!("1d2h3m4s")), &Value::Duration(93_784)));
    assert!(eq(&d(json!("0s")), &Value::Duration(0)));
    assert!(eq(&d(json!(-30)), &Value::Duration(-30)));
    assert!(eq(&d(json!("-30s")), &Value::Duration(-30)));
    let path = "$.action.params.wait";
    for bad in [json!(1.5), json!("1.5h"), json!("10ms"), json!("30m1h"), json!("90"), json!("")] {
        assert_err(&err(kitchen(json!({ "wait": bad }))), path, "expected Duration");
    }
    assert_err(&err(kitchen(json!({ "wait": true }))), path, "expected Duration, found bool true");
}

#[test]
fn time_is_rfc3339() {
    let t = |v: Json| ok(kitchen(json!({ "at": v }))).params[5].clone();
    assert!(eq(&t(json!("2026-11-24T11:00:00+01:00")), &Value::Time(NOW)));
    assert!(eq(&t(json!("2026-11-24T10:00:00.123Z")), &Value::Time(NOW)));
    let path = "$.action.params.at";
    for bad in [json!("2026-02-30T00:00:00Z"), json!("yesterday"), json!("2026-11-24")] {
        assert_err(&err(kitchen(json!({ "at": bad }))), path, "expected Time (RFC 3339");
    }
    assert_err(&err(kitchen(json!({ "at": NOW }))), path, "expected Time, found number");
}

#[test]
fn list_elements_have_index_paths() {
    let j = json!({ "action": { "tool": "send_email", "params": { "subject": "s", "to": ["a", "b", 3] } } });
    let e = err(j);
    assert_eq!(e.path, "$.action.params.to[2]");
    assert_eq!(e.message, "expected String, found number 3");
    let e = err(json!({ "action": { "tool": "send_email", "params": { "subject": "s", "to": "a" } } }));
    assert_eq!(e.path, "$.action.params.to");
    assert_eq!(e.message, "expected List<String>, found string \"a\"");
    assert_err(&err(kitchen(json!({ "nested": [[1], [2, "x"]] }))), "$.action.params.nested[1][1]", "expected Decimal");
}

#[test]
fn sets_drop_duplicates_keeping_first_order() {
    let r = ok(json!({ "action": { "tool": "send_email",
        "params": { "subject": "s", "to": [], "cc": ["b", "a", "b", "c", "a"] } }, "context": { "environment": "e" } }));
    assert_eq!(items(&r.params[1]).iter().map(s).collect::<Vec<_>>(), ["b", "a", "c"]);
    // Equality after conversion: "1.5", 1.5 and "1.50" are one Decimal.
    let r = ok(kitchen(json!({ "nested": [["1.5", 1.5, "1.50", 2]] })));
    assert!(eq(&items(&r.params[11])[0], &Value::list(vec![Value::Decimal(d4(15_000)), Value::Decimal(d4(20_000))])));
    // Large sets stay fast (hash-bucketed, not quadratic).
    let big: Vec<i64> = (0..100_000).map(|i| i % 50_000).collect();
    let r = ok(kitchen(json!({ "ids": big })));
    assert_eq!(items(&r.params[7]).len(), 50_000);
    assert_err(&err(kitchen(json!({ "ids": [1, "2"] }))), "$.action.params.ids[1]", "expected Int");
}

#[test]
fn records_match_their_declaration_exactly() {
    let e = err(kitchen(json!({ "rec": { "a": 1, "c": 2 } })));
    assert_eq!(e.path, "$.action.params.rec.c");
    assert_eq!(e.message, "unknown field \"c\"", "no suggestion of a one-letter name");
    let e = err(kitchen(json!({ "rec": { "b": "x" } })));
    assert_eq!(e.path, "$.action.params.rec.a");
    assert_eq!(e.message, "missing required field \"a\" (Int)");
    let e = err(kitchen(json!({ "recs": [{ "a": 1 }, { "a": "1" }] })));
    assert_eq!(e.path, "$.action.params.recs[1].a");
    assert_eq!(e.message, "expected Int, found string \"1\"");
    let e = err(kitchen(json!({ "rec": [1] })));
    assert_eq!(e.path, "$.action.params.rec");
    assert_eq!(e.message, "expected { a: Int, b: String? }, found array");
}

// ------------------------------------------------------------------------------------------------
// Identity, context, evidence

#[test]
fn identity_roles_are_deduplicated_strings() {
    let r = ok(json!({ "action": { "tool": "x" }, "context": { "environment": "e" },
        "identity": { "roles": ["finance", "admin", "finance"] } }));
    assert_eq!(items(&r.identity.roles).iter().map(s).collect::<Vec<_>>(), ["finance", "admin"]);
    let e = err(json!({ "action": { "tool": "x" }, "identity": { "roles": ["a", "b", 7] } }));
    assert_eq!(e.path, "$.identity.roles[2]");
    assert_eq!(e.message, "expected String, found number 7");
    let e = err(json!({ "action": { "tool": "x" }, "identity": { "roles": "admin" } }));
    assert_eq!(e.path, "$.identity.roles");
    let e = err(json!({ "action": { "tool": "x" }, "identity": { "human": 1 } }));
    assert_eq!(e.path, "$.identity.human");
    assert_eq!(e.message, "expected String, found number 1");
}

#[test]
fn unknown_identity_key() {
    let e = err(json!({ "action": { "tool": "x" }, "identity": { "humn": "alice" } }));
    assert_eq!(e.path, "$.identity.humn");
    assert_eq!(e.message, "unknown identity field \"humn\" (did you mean \"human\"?)");
    assert_err(&err(json!({ "action": { "tool": "x" }, "identity": [] })), "$.identity", "expected an object");
}

fn with_context(ctx: Json) -> Json {
    json!({ "action": { "tool": "x" }, "context": ctx })
}

#[test]
fn context_builtins() {
    let r = ok(with_context(json!({
        "environment": "prod", "tier": 2,
        "prior_actions": [{ "tool": "read_file", "decision": "allow" }, { "tool": "send_email", "decision": "deny" }],
        "data_classes": ["PII", "PCI", "PII"], "semantic_distance": "0.25", "now": "2026-11-24T11:00:00+01:00"
    })));
    let prior = items(&r.context.prior_actions);
    assert_eq!(prior.len(), 2);
    assert!(eq(&prior[1], &Value::Record(vec![Value::str("send_email"), Value::str("deny")].into())));
    assert_eq!(items(&r.context.data_classes).iter().map(s).collect::<Vec<_>>(), ["PII", "PCI"]);
    assert!(eq(&r.context.semantic_distance, &Value::Decimal(d4(2500))));
    assert!(eq(&r.context.now, &Value::Time(NOW)));
    assert!(eq(&r.context.declared[1], &Value::Int(2)));
}

#[test]
fn context_errors() {
    let pa = |v: Json| err(with_context(json!({ "environment": "e", "prior_actions": v })));
    let e = pa(json!([{ "tool": "a", "decision": "allow", "extra": 1 }]));
    assert_eq!(e.path, "$.context.prior_actions[0].extra");
    assert!(e.message.starts_with("unknown key \"extra\""), "{e}");
    let e = pa(json!([{ "tool": "a", "decision": "allow" }, { "tool": "b" }]));
    assert_eq!(e.path, "$.context.prior_actions[1].decision");
    assert_eq!(e.message, "missing required key \"decision\"");
    assert_err(&pa(json!([{ "tool": 1, "decision": "d" }])), "$.context.prior_actions[0].tool", "expected String");
    assert_err(&pa(json!(["read_file"])), "$.context.prior_actions[0]", "expected an object");
    assert_err(&pa(json!({})), "$.context.prior_actions", "expected an array");

    let c = |v: Json| err(with_context(v));
    assert_err(&c(json!({ "environment": "e", "data_classes": [1] })), "$.context.data_classes[0]", "expected String");
    assert_err(
        &c(json!({ "environment": "e", "semantic_distance": "far" })),
        "$.context.semantic_distance",
        "expected Decimal",
    );
    assert_err(&c(json!({ "environment": "e", "now": "today" })), "$.context.now", "expected Time");
    assert_err(
        &c(json!({ "environment": "e", "original_request": 1 })),
        "$.context.original_request",
        "expected String",
    );
    // Declared context fields: required and optional.
    let e = c(json!({}));
    assert_eq!(e.path, "$.context.environment");
    assert_eq!(e.message, "missing required context field \"environment\" (String)");
    assert_err(&c(json!({ "environment": null })), "$.context.environment", "expected String, found null");
    assert_err(&c(json!({ "environment": "e", "tier": "2" })), "$.context.tier", "expected Int");
    let e = c(json!({ "environment": "e", "enviroment": "e" }));
    assert_eq!(e.path, "$.context.enviroment");
    assert_eq!(e.message, "unknown context field \"enviroment\" (did you mean \"environment\"?)");
    assert_err(&err(json!({ "action": { "tool": "x" } })), "$.context.environment", "missing required context field");
}

fn with_evidence(ev: Json) -> Json {
    json!({ "action": { "tool": "x" }, "context": { "environment": "e" }, "evidence": ev })
}

#[test]
fn evidence_by_declared_name() {
    let r = ok(with_evidence(json!({ "risk_score": "0.75" })));
    assert!(r.evidence[0].is_none());
    assert!(eq(r.evidence[1].as_ref().unwrap(), &Value::Decimal(d4(7500))));
    let r = ok(with_evidence(json!({ "maintenance_window_active": null, "risk_score": 1 })));
    assert!(r.evidence[0].is_none(), "null is not given");
    assert!(eq(r.evidence[1].as_ref().unwrap(), &Value::Decimal(d4(10_000))));
    let e = err(with_evidence(json!({ "risk_scor": 1 })));
    assert_eq!(e.path, "$.evidence.risk_scor");
    assert_eq!(e.message, "unknown evidence \"risk_scor\" (did you mean \"risk_score\"?)");
    let e = err(with_evidence(json!({ "maintenance_window_active": "yes" })));
    assert_eq!(e.path, "$.evidence.maintenance_window_active");
    assert_eq!(e.message, "expected Bool, found string \"yes\"");
    assert_err(&err(with_evidence(json!([true]))), "$.evidence", "expected an object");
}

/// The tool is a name every call repeats: two requests of one thread share one string, and
/// handing it on takes a reference count, not a copy.
#[test]
fn strings_in_the_request_are_shared() {
    let (r, again) = (ok(design_example()), ok(design_example()));
    assert!(std::sync::Arc::ptr_eq(&r.tool, &again.tool));
    let count = std::sync::Arc::strong_count(&r.tool);
    let a: std::sync::Arc<str> = r.tool.clone();
    assert_eq!(std::sync::Arc::strong_count(&a), count + 1);
}

// ------------------------------------------------------------------------------------------------
// Bad JSON and limits

#[test]
fn bad_json_is_an_input_error() {
    let full = design_example().to_string();
    for cut in [1, 10, full.len() / 2, full.len() - 1] {
        let e = err_str(&full[..cut]);
        assert_eq!(e.path, "$");
        assert!(e.message.starts_with("invalid JSON"), "{e}");
    }
    for text in
        ["", "   ", "NaN", "{\"action\": NaN}", "{\"action\": {\"tool\": \"x\"}} trailing", "{'a': 1}", "\u{feff}{}"]
    {
        assert_err(&err_str(text), "$", "");
    }
    let e = err_str(r#"{"action":{"tool":"transfer_funds","params":{"amount":Infinity}}}"#);
    assert_err(&e, "$", "invalid JSON");
    let e = err_str(r#"{"action":{"tool":"transfer_funds","params":{"amount":1e400}}}"#);
    assert_err(&e, "$", "invalid JSON");
}

#[test]
fn absurd_nesting_is_an_input_error() {
    let deep = "[".repeat(100_000);
    let e = err_str(&deep);
    assert_eq!(e.path, "$");
    assert_eq!(e.message, "JSON nested deeper than 64 levels");
    let inside = format!(r#"{{"action":{{"tool":"x","params":{{"a":{}}}}}}}"#, "[".repeat(100_000));
    assert_eq!(err_str(&inside).message, "JSON nested deeper than 64 levels");
    let closed = format!(r#"{{"action":{{"tool":"x","params":{{"a":{}{}}}}}}}"#, "[".repeat(100), "]".repeat(100));
    assert_eq!(err_str(&closed).message, "JSON nested deeper than 64 levels");
    // Brackets inside strings are not nesting.
    let text = format!(r#"{{"action":{{"tool":"{}"}},"context":{{"environment":"e"}}}}"#, "[".repeat(1000));
    convert_str(&schema(), &text, NOW, &Limits::default()).unwrap();
}

#[test]
fn depth_limit_is_exact_and_applies_to_values_too() {
    fn nest(levels: usize) -> Json {
        // Top-level object (1), action (2), params (3), then `levels` arrays.
        let mut v = json!(1);
        for _ in 0..levels {
            v = json!([v]);
        }
        json!({ "action": { "tool": "x", "params": { "a": v } }, "context": { "environment": "e" } })
    }
    let limits = Limits { max_depth: 10, ..Limits::default() };
    let ok_doc = nest(7);
    convert_value(&schema(), &ok_doc, NOW, &limits).unwrap();
    convert_str(&schema(), &ok_doc.to_string(), NOW, &limits).unwrap();
    let deep = nest(8);
    let a = convert_value(&schema(), &deep, NOW, &limits).unwrap_err();
    let b = convert_str(&schema(), &deep.to_string(), NOW, &limits).unwrap_err();
    assert_eq!(a, b);
    assert_eq!(a.path, "$");
    assert_eq!(a.message, "JSON nested deeper than 10 levels");
    // A huge configured depth is capped at 128 (serde_json's own limit).
    let limits = Limits { max_depth: usize::MAX, ..Limits::default() };
    let e = convert_value(&schema(), &nest(200), NOW, &limits).unwrap_err();
    assert_eq!(e.message, "JSON nested deeper than 128 levels");
}

#[test]
fn string_list_and_size_limits() {
    let limits = Limits { max_string_bytes: 8, max_list_len: 3, max_request_bytes: 200, max_depth: 64 };
    let run = |j: Json| convert_value(&schema(), &j, NOW, &limits);
    let e = run(json!({ "action": { "tool": "x", "params": { "p": ["ok", "123456789"] } } })).unwrap_err();
    assert_eq!(e.path, "$.action.params.p[1]");
    assert_eq!(e.message, "string is 9 bytes, more than the limit of 8");
    let e = run(json!({ "action": { "tool": "x", "params": { "p": [1, 2, 3, 4] } } })).unwrap_err();
    assert_eq!(e.path, "$.action.params.p");
    assert_eq!(e.message, "array has 4 elements, more than the limit of 3");
    let e = run(json!({ "action": { "tool": "x", "params": { "a_long_key": 1 } } })).unwrap_err();
    assert_eq!(e.path, "$.action.params");
    assert!(e.message.starts_with("a key is 10 bytes"), "{e}");
    let e = run(json!({ "action": { "tool": "x" }, "identity": { "roles": ["a", "b", "c", "d"] } })).unwrap_err();
    assert_eq!(e.path, "$.identity.roles");
    let text = format!(r#"{{"action":{{"tool":"{}"}}}}"#, "x".repeat(300));
    let e = convert_str(&schema(), &text, NOW, &limits).unwrap_err();
    assert_eq!(e.path, "$");
    assert!(e.message.contains("more than the limit of 200"), "{e}");
    let d = Limits::default();
    assert_eq!(
        (d.max_depth, d.max_string_bytes, d.max_list_len, d.max_request_bytes),
        (64, 1 << 20, 100_000, 16 << 20)
    );
}

// ------------------------------------------------------------------------------------------------
// Back to JSON

#[test]
fn value_to_json_shapes() {
    assert_eq!(value_to_json(&Value::Decimal(d4(100_005_000))), json!(10000.5));
    assert_eq!(value_to_json(&Value::Decimal(d4(100_000_000))), json!(10000));
    assert_eq!(value_to_json(&Value::Decimal(d4(-1))), json!(-0.0001));
    assert_eq!(value_to_json(&Value::Decimal(DECIMAL_LIMIT - 1)), json!("99999999999999999999.999999999999999999"));
    assert_eq!(value_to_json(&Value::Decimal(1_234_567_890_123_456_789)), json!("1.234567890123456789"));
    assert_eq!(value_to_json(&Value::Time(NOW)), json!("2026-11-24T10:00:00Z"));
    assert_eq!(value_to_json(&Value::Duration(5400)), json!(5400));
    assert_eq!(value_to_json(&Value::Absent), json!(null));
    assert_eq!(value_to_json(&Value::list(vec![Value::Int(1), Value::str("a")])), json!([1, "a"]));
    let rec = Value::Record(vec![Value::Int(1), Value::Absent].into());
    assert_eq!(value_to_json(&rec), json!([1, null]));
    assert_eq!(typed_value_to_json(&rec, &record_type()), json!({ "a": 1, "b": null }));
}

#[test]
fn converted_params_round_trip_through_json() {
    let r = ok(kitchen(json!({ "maybe": "0.0001" })));
    let tool = &schema().tools[2];
    let back = params_to_json(tool, &r.params);
    let again = ok(json!({ "action": { "tool": "kitchen_sink", "params": back }, "context": { "environment": "e" } }));
    assert_eq!(r.params.len(), again.params.len());
    for (a, b) in r.params.iter().zip(again.params.iter()) {
        assert!(eq(a, b), "{a:?} != {b:?}");
    }
}

/// One value of a type through `typed_value_to_json` and back through both converters.
fn round_trip(v: &Value, ty: &ValueType) {
    let schema = Schema {
        tools: vec![ToolSchema { name: "t".into(), fields: vec![field("v", ty.clone())], doc: None }],
        ..Schema::default()
    };
    let j = json!({ "action": { "tool": "t", "params": { "v": typed_value_to_json(v, ty) } } });
    let a = convert_value(&schema, &j, NOW, &Limits::default()).unwrap_or_else(|e| panic!("{v:?} as {ty}: {e}"));
    let b =
        convert_str(&schema, &j.to_string(), NOW, &Limits::default()).unwrap_or_else(|e| panic!("{v:?} as {ty}: {e}"));
    assert!(eq(&a.params[0], v), "{v:?} as {ty} came back as {:?}", a.params[0]);
    assert!(eq(&b.params[0], v), "{v:?} as {ty} came back from text as {:?}", b.params[0]);
    if !matches!(v, Value::Record(_)) && !matches!(ty, ValueType::Optional(_)) {
        assert_eq!(value_to_json(v), typed_value_to_json(v, ty));
    }
}

#[test]
fn value_to_json_round_trips_every_type() {
    let cases: Vec<(Value, ValueType)> = vec![
        (Value::Bool(false), ValueType::Bool),
        (Value::Int(i64::MIN), ValueType::Int),
        (Value::Decimal(-(DECIMAL_LIMIT - 1)), ValueType::Decimal),
        (Value::Decimal(1), ValueType::Decimal),
        (Value::Decimal(d4(123_456_789_012_345)), ValueType::Decimal),
        (Value::Decimal(d4(-5)), ValueType::Decimal),
        (Value::str("héllo \"x\""), ValueType::String),
        (Value::Duration(-5400), ValueType::Duration),
        (Value::Time(-86_400), ValueType::Time),
        (Value::list(vec![Value::str("a"), Value::str("a")]), list(ValueType::String)),
        (Value::list(vec![Value::Decimal(d4(15_000)), Value::Decimal(d4(1))]), set(ValueType::Decimal)),
        (Value::Record(vec![Value::Int(1), Value::str("b")].into()), record_type()),
        (Value::Record(vec![Value::Int(1), Value::Absent].into()), record_type()),
        (Value::Absent, opt(ValueType::Time)),
        (Value::Time(NOW), opt(ValueType::Time)),
        (Value::list(vec![Value::list(vec![Value::Duration(1)])]), list(set(ValueType::Duration))),
    ];
    for (v, ty) in &cases {
        round_trip(v, ty);
    }
}

// ------------------------------------------------------------------------------------------------
// Properties

fn arb_json() -> impl Strategy<Value = Json> {
    let leaf = prop_oneof![
        Just(Json::Null),
        any::<bool>().prop_map(Json::Bool),
        any::<i64>().prop_map(|i| json!(i)),
        any::<u64>().prop_map(|i| json!(i)),
        any::<f64>().prop_map(|f| serde_json::Number::from_f64(f).map_or(Json::Null, Json::Number)),
        "[a-z0-9_.:+-]{0,12}".prop_map(Json::String),
        prop_oneof![
            Just("10000.50"),
            Just("1h30m"),
            Just("2026-11-24T10:00:00Z"),
            Just("USD"),
            Just("1e3"),
            Just("amount"),
            Just("tool"),
            Just("0.00001"),
            Just("-0"),
            Just("9e18"),
        ]
        .prop_map(|s| Json::String(s.into())),
        any::<String>().prop_map(Json::String),
    ];
    let keys = prop_oneof![
        Just("action".to_string()),
        Just("tool".to_string()),
        Just("params".to_string()),
        Just("amount".to_string()),
        Just("currency".to_string()),
        Just("recipient".to_string()),
        Just("memo".to_string()),
        Just("identity".to_string()),
        Just("roles".to_string()),
        Just("context".to_string()),
        Just("environment".to_string()),
        Just("prior_actions".to_string()),
        Just("evidence".to_string()),
        Just("risk_score".to_string()),
        Just("rec".to_string()),
        Just("a".to_string()),
        Just("b".to_string()),
        "[a-z]{1,6}",
    ];
    leaf.prop_recursive(6, 64, 8, move |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..8).prop_map(Json::Array),
            prop::collection::btree_map(keys.clone(), inner, 0..8).prop_map(|m| Json::Object(m.into_iter().collect())),
        ]
    })
}

/// Arbitrary JSON placed where the converter looks, so that it gets past the first checks.
fn arb_request() -> impl Strategy<Value = Json> {
    let tools = prop_oneof![Just("transfer_funds"), Just("send_email"), Just("kitchen_sink"), Just("other")];
    (tools, arb_json(), arb_json(), arb_json(), arb_json(), 0..6u8).prop_map(|(tool, params, id, ctx, ev, which)| {
        let mut j = json!({ "action": { "tool": tool, "params": params } });
        if which & 1 == 1 {
            j["identity"] = id;
        }
        if which & 2 == 2 {
            j["context"] = ctx;
        }
        if which & 4 == 4 {
            j["evidence"] = ev;
        }
        j
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(
        std::env::var("PROPTEST_CASES").ok().and_then(|c| c.parse().ok()).unwrap_or(512)
    ))]

    #[test]
    fn arbitrary_text_never_panics(text in any::<String>()) {
        let _ = convert_str(&schema(), &text, NOW, &Limits::default());
    }

    #[test]
    fn json_like_text_never_panics(text in r#"[\[\]{}",:0-9eE.+\-a-z ]{0,200}"#) {
        let _ = convert_str(&schema(), &text, NOW, &Limits::default());
    }

    #[test]
    fn arbitrary_json_never_panics(j in arb_json()) {
        let _ = convert_value(&schema(), &j, NOW, &Limits::default());
        let _ = convert_str(&schema(), &j.to_string(), NOW, &Limits::default());
    }

    #[test]
    fn arbitrary_requests_never_panic_and_both_paths_agree(j in arb_request()) {
        let a = convert_value(&schema(), &j, NOW, &Limits::default());
        let b = convert_str(&schema(), &j.to_string(), NOW, &Limits::default());
        match (&a, &b) {
            (Ok(x), Ok(y)) => {
                prop_assert_eq!(x.params.len(), y.params.len());
                for (p, q) in x.params.iter().zip(y.params.iter()) {
                    prop_assert!(eq(p, q));
                }
            }
            // Messages may differ in a float's last digits: serde_json's default float parser
            // is not correctly rounded, so reparsing printed text can move an f64 by an ulp.
            (Err(x), Err(y)) => prop_assert_eq!(&x.path, &y.path),
            // Only the text path sees digits an f64 dropped.
            (Ok(_), Err(y)) => prop_assert!(y.message.contains("send the Decimal as a string"), "{}", y),
            (Err(x), Ok(_)) => prop_assert!(false, "value path failed alone: {}", x),
        }
    }

    #[test]
    fn decimals_round_trip(d in -(DECIMAL_LIMIT - 1)..DECIMAL_LIMIT) {
        round_trip(&Value::Decimal(d), &ValueType::Decimal);
    }

    #[test]
    fn small_decimals_round_trip(d in -10_000_000_000i64..10_000_000_000) {
        round_trip(&Value::Decimal(d4(d)), &ValueType::Decimal);
        prop_assert!(value_to_json(&Value::Decimal(d4(d))).is_number());
    }

    #[test]
    fn ints_durations_and_times_round_trip(i in any::<i64>(), t in -62_135_596_800i64..253_402_300_799) {
        round_trip(&Value::Int(i), &ValueType::Int);
        round_trip(&Value::Duration(i), &ValueType::Duration);
        round_trip(&Value::Time(t), &ValueType::Time);
        prop_assert_eq!(parse_time(&format_time(t)), Some(t));
    }

    #[test]
    fn strings_round_trip(s in any::<String>()) {
        round_trip(&Value::str(&s), &ValueType::String);
        round_trip(&Value::list(vec![Value::str(&s), Value::str(&s)]), &list(ValueType::String));
        round_trip(&Value::list(vec![Value::str(&s)]), &set(ValueType::String));
    }
}

#[test]
fn a_repeated_key_is_refused_at_its_path_never_the_last_one_wins() {
    // Through the host API's text path: the policy must not see `amount: 5` while the host
    // (or any reader keeping the first copy) sends 500 000.
    let smuggled = r#"{"action":{"tool":"transfer","params":{"amount":500000,"amount":5,"to":"acme"}}}"#;
    assert_err(&err_str(smuggled), "$.action.params.amount", "appears twice");
    // Anywhere in the document: identity, evidence, an undeclared tool's params, arrays.
    let e = err_str(r#"{"action":{"tool":"transfer"},"identity":{"agent":"a","agent":"b"}}"#);
    assert_err(&e, "$.identity.agent", "appears twice");
    let e = err_str(r#"{"action":{"tool":"other","params":{"rows":[{"x":1},{"x":1,"x":2}]}}}"#);
    assert_err(&e, "$.action.params.rows[1].x", "appears twice");
    let e = err_str(r#"{"action":{"tool":"transfer"},"action":{"tool":"noop"}}"#);
    assert_err(&e, "$.action", "appears twice");
}

/// A parameter given twice is refused wherever the params stand and whatever the tool: the
/// request keeps its params as a list that assumes distinct keys (`Params`), and a policy must
/// never see one value while the scope or a `modify` carries the other.
#[test]
fn a_parameter_given_twice_is_refused_on_every_reading_path() {
    let texts = [
        // A declared tool named before its params: read against the declaration.
        r#"{"action": {"tool": "transfer_funds", "params": {"amount": 1, "currency": "USD", "recipient": "a", "amount": 2}}, "context": {"environment": "dev"}}"#,
        // The params before the tool: read as an object first.
        r#"{"action": {"params": {"amount": 1, "currency": "USD", "recipient": "a", "amount": 2}, "tool": "transfer_funds"}, "context": {"environment": "dev"}}"#,
        // An undeclared tool.
        r#"{"action": {"tool": "web_search", "params": {"q": "a", "q": "b"}}, "context": {"environment": "dev"}}"#,
    ];
    for (text, key) in texts.iter().zip(["amount", "amount", "q"]) {
        assert_err(&err_str(text), &format!("$.action.params.{key}"), "appears twice in one object");
    }
}

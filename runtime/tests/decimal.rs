//! `Decimal` arithmetic and text against a reference: arbitrary-precision integers (num-bigint),
//! over values with all 18 fractional digits and up to 20 integer digits.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]

use aarm_runtime::convert::{convert_value, value_to_json, Limits};
use aarm_runtime::decimal::{self, DECIMAL_LIMIT, DECIMAL_SCALE};
use aarm_runtime::schema::{FieldSchema, Schema, ToolSchema, ValueType};
use aarm_runtime::value::{format_decimal, Value};
use num_bigint::BigInt;
use proptest::prelude::*;
use serde_json::json;

/// The reference: the exact result truncated toward zero (BigInt division truncates, as Rust's
/// does), `None` when it is out of range.
fn reference(exact_num: BigInt, den: BigInt) -> Option<i128> {
    let q = exact_num / den;
    let q = i128::try_from(q).ok()?;
    (q > -DECIMAL_LIMIT && q < DECIMAL_LIMIT).then_some(q)
}

fn big(x: i128) -> BigInt {
    BigInt::from(x)
}

/// Any decimal in range, biased toward many significant digits and the edges.
fn any_decimal() -> impl Strategy<Value = i128> {
    prop_oneof![
        -(DECIMAL_LIMIT - 1)..DECIMAL_LIMIT,
        -DECIMAL_SCALE * 1_000..DECIMAL_SCALE * 1_000,
        -1_000i128..1_000,
        Just(DECIMAL_LIMIT - 1),
        Just(1 - DECIMAL_LIMIT),
        Just(0i128),
    ]
}

/// The schema of one tool with a `Decimal` field, to read decimals the way a request does.
fn schema() -> Schema {
    Schema {
        tools: vec![ToolSchema {
            name: "pay".into(),
            fields: vec![FieldSchema { name: "amount".into(), ty: ValueType::Decimal }],
            doc: None,
        }],
        ..Schema::default()
    }
}

fn read(text: &str) -> Result<i128, String> {
    let req = json!({ "action": { "tool": "pay", "params": { "amount": text } } });
    let r = convert_value(&schema(), &req, 0, &Limits::default()).map_err(|e| e.message)?;
    match r.params.first() {
        Some(Value::Decimal(d)) => Ok(*d),
        other => Err(format!("{other:?}")),
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2_000))]

    #[test]
    fn arithmetic_matches_arbitrary_precision(a in any_decimal(), b in any_decimal()) {
        prop_assert_eq!(decimal::add(a, b), reference(big(a) + big(b), BigInt::from(1)));
        prop_assert_eq!(decimal::sub(a, b), reference(big(a) - big(b), BigInt::from(1)));
        prop_assert_eq!(decimal::mul(a, b), reference(big(a) * big(b), big(DECIMAL_SCALE)));
        if b == 0 {
            prop_assert_eq!(decimal::div(a, b), None);
        } else {
            prop_assert_eq!(decimal::div(a, b), reference(big(a) * big(DECIMAL_SCALE), big(b)));
        }
    }

    /// parse → format → parse is the identity, and the text is the shortest exact one.
    #[test]
    fn text_round_trips(d in any_decimal()) {
        let text = format_decimal(d);
        prop_assert_eq!(read(&text), Ok(d));
        prop_assert!(!text.contains('.') || !text.ends_with('0'), "{}", text);
        // What a decision prints reads back to the same value too.
        let again = match value_to_json(&Value::Decimal(d)) {
            serde_json::Value::String(s) => s,
            n => n.to_string(),
        };
        prop_assert_eq!(read(&again), Ok(d));
    }

    /// One digit past the 18th is refused, never rounded away.
    #[test]
    fn a_nineteenth_digit_is_refused(d in any_decimal(), extra in 1u8..10) {
        let mut text = format_decimal(d);
        let frac = text.split_once('.').map_or(0, |(_, f)| f.len());
        if frac == 0 {
            text.push('.');
        }
        for _ in frac..18 {
            text.push('0');
        }
        text.push(char::from(b'0' + extra));
        let e = read(&text).unwrap_err();
        prop_assert!(e.contains("more than 18 fractional digits"), "{}", e);
    }
}

//! A receipt's two texts, written field by field: the canonical JSON its hash covers, and the
//! JSON a store keeps as its row. Both are written on every group commit of decision receipts,
//! where the generic paths (serde's flattened map, then the canonical writer's member sort or
//! serde_json's map serializer) were a large part of the commit's cost.
//!
//! Each writer is held to the generic path it replaces, byte for byte, on arbitrary receipts
//! (the property tests of [`super`]): [`canonical`] to [`super::receipt_hash`]'s text (the
//! canonical JSON of the receipt as serialized, without `hash` and `signature`), [`row`] to
//! `serde_json::to_string` of the receipt (floats in `identity` and `detail` included: the row
//! keeps `1.0` as `1.0`, where the canonical text has `1`). Every struct they write is destructured without `..`,
//! so a field added to a receipt, a reason or a policy reference stops the build here instead of
//! being left out of a hash.

use crate::canonical::{write_canonical, write_string};
use crate::lifecycle::receipt::{Receipt, ReceiptDraft, ReceiptSignature};
use aarm_runtime::decision::{PolicyNames, Reason};
use serde_json::Value;
use std::fmt::Write as _;

/// The canonical JSON of `r` without its `hash` and `signature` members: the text its hash is
/// computed over. The members are written in their canonical order (by name, UTF-16 order, which
/// for these ASCII names is byte order); absent optional members are left out as serde leaves
/// them out.
pub(crate) fn canonical(r: &Receipt) -> String {
    let Receipt { seq, body, prev, case_seq, case_prev, hash: _, signature: _ } = r;
    let ReceiptDraft { case, event, actor, state, decision, reason, policy, action_hash, identity, at, detail } = body;
    let mut out = String::with_capacity(768);
    out.push_str("{\"action_hash\":");
    write_string(action_hash, &mut out);
    out.push_str(",\"actor\":");
    match actor {
        Some(actor) => write_string(actor, &mut out),
        None => out.push_str("null"),
    }
    out.push_str(",\"at\":");
    out.push_str(itoa::Buffer::new().format(*at));
    if !case.is_empty() {
        out.push_str(",\"case\":");
        write_string(case, &mut out);
    }
    if let Some(case_prev) = case_prev {
        out.push_str(",\"case_prev\":");
        write_string(case_prev, &mut out);
    }
    if let Some(case_seq) = case_seq {
        out.push_str(",\"case_seq\":");
        out.push_str(itoa::Buffer::new().format(*case_seq));
    }
    out.push_str(",\"decision\":");
    write_string(decision, &mut out);
    out.push_str(",\"detail\":");
    write_canonical(detail, &mut out);
    out.push_str(",\"event\":");
    write_string(event, &mut out);
    out.push_str(",\"identity\":");
    write_canonical(identity, &mut out);
    let PolicyNames { name, version, bundle_hash } = &**policy;
    out.push_str(",\"policy\":{\"bundle_hash\":");
    write_string(bundle_hash, &mut out);
    out.push_str(",\"name\":");
    write_string(name, &mut out);
    out.push_str(",\"version\":");
    write_string(version, &mut out);
    out.push_str("},\"prev\":");
    write_string(prev, &mut out);
    let Reason { code, message } = reason;
    out.push_str(",\"reason\":{\"code\":");
    write_string(code, &mut out);
    out.push_str(",\"message\":");
    write_string(message, &mut out);
    out.push_str("},\"seq\":");
    out.push_str(itoa::Buffer::new().format(*seq));
    out.push_str(",\"state\":");
    write_string(state.as_str(), &mut out);
    out.push('}');
    out
}

/// `serde_json::to_string(r)`, written member by member in the order of the derived serializer
/// (the draft's fields flattened where `seq` is followed by them). Strings are escaped by
/// [`write_string`]: RFC 8785's escapes are serde_json's (`\"`, `\\`, `\b \t \n \f \r`, the
/// other controls as `\u00xx` in lowercase hex, everything else as is), and the tests hold the
/// whole text to serde_json's.
pub(crate) fn row(r: &Receipt) -> String {
    let Receipt { seq, body, prev, case_seq, case_prev, hash, signature } = r;
    let ReceiptDraft { case, event, actor, state, decision, reason, policy, action_hash, identity, at, detail } = body;
    let mut out = String::with_capacity(1024);
    out.push_str("{\"seq\":");
    out.push_str(itoa::Buffer::new().format(*seq));
    if !case.is_empty() {
        out.push_str(",\"case\":");
        write_string(case, &mut out);
    }
    out.push_str(",\"event\":");
    write_string(event, &mut out);
    out.push_str(",\"actor\":");
    match actor {
        Some(actor) => write_string(actor, &mut out),
        None => out.push_str("null"),
    }
    out.push_str(",\"state\":");
    write_string(state.as_str(), &mut out);
    out.push_str(",\"decision\":");
    write_string(decision, &mut out);
    let Reason { code, message } = reason;
    out.push_str(",\"reason\":{\"code\":");
    write_string(code, &mut out);
    out.push_str(",\"message\":");
    write_string(message, &mut out);
    let PolicyNames { name, version, bundle_hash } = &**policy;
    out.push_str("},\"policy\":{\"name\":");
    write_string(name, &mut out);
    out.push_str(",\"version\":");
    write_string(version, &mut out);
    out.push_str(",\"bundle_hash\":");
    write_string(bundle_hash, &mut out);
    out.push_str("},\"action_hash\":");
    write_string(action_hash, &mut out);
    out.push_str(",\"identity\":");
    write_value(identity, &mut out);
    out.push_str(",\"at\":");
    out.push_str(itoa::Buffer::new().format(*at));
    out.push_str(",\"detail\":");
    write_value(detail, &mut out);
    out.push_str(",\"prev\":");
    write_string(prev, &mut out);
    if let Some(case_seq) = case_seq {
        out.push_str(",\"case_seq\":");
        out.push_str(itoa::Buffer::new().format(*case_seq));
    }
    if let Some(case_prev) = case_prev {
        out.push_str(",\"case_prev\":");
        write_string(case_prev, &mut out);
    }
    out.push_str(",\"hash\":");
    write_string(hash, &mut out);
    out.push_str(",\"signature\":");
    match signature {
        Some(ReceiptSignature { key_id, sig }) => {
            out.push_str("{\"key_id\":");
            write_string(key_id, &mut out);
            out.push_str(",\"sig\":");
            write_string(sig, &mut out);
            out.push('}');
        }
        None => out.push_str("null"),
    }
    out.push('}');
    out
}

/// A `serde_json::Value` as `serde_json::to_string` writes it: members in the map's order,
/// numbers as `Number` displays them (serde_json's own formatting: integers exactly, floats by
/// ryu), no whitespace.
fn write_value(v: &Value, out: &mut String) {
    match v {
        Value::Null => out.push_str("null"),
        Value::Bool(true) => out.push_str("true"),
        Value::Bool(false) => out.push_str("false"),
        Value::Number(n) => {
            if let Some(u) = n.as_u64() {
                out.push_str(itoa::Buffer::new().format(u));
            } else if let Some(i) = n.as_i64() {
                out.push_str(itoa::Buffer::new().format(i));
            } else {
                // Writing to a `String` cannot fail.
                let _ = write!(out, "{n}");
            }
        }
        Value::String(s) => write_string(s, out),
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_value(item, out);
            }
            out.push(']');
        }
        Value::Object(map) => {
            out.push('{');
            for (i, (k, item)) in map.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_string(k, out);
                out.push(':');
                write_value(item, out);
            }
            out.push('}');
        }
    }
}

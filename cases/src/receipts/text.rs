//! A receipt's two texts, written field by field: the canonical JSON its hash covers, and the
//! JSON a store keeps as its row. Both are written on every group commit of decision receipts,
//! where the generic paths (serde's flattened map, then the canonical writer's member sort or
//! serde_json's map serializer) were a large part of the commit's cost.
//!
//! Each writer is held to the generic path it replaces, byte for byte, on arbitrary receipts
//! (the property tests of [`super`]): [`canonical`] to [`super::receipt_hash`]'s text (the
//! canonical JSON of the receipt as serialized, without `hash` and `signature`), [`row`] to
//! `serde_json::to_string` of the receipt. Every struct they write is destructured without `..`,
//! so a field added to a receipt, a reason or a policy reference stops the build here instead of
//! being left out of a hash.

use crate::canonical::{write_canonical, write_string};
use crate::lifecycle::receipt::{Receipt, ReceiptDraft, ReceiptSignature};
use aarm_runtime::decision::{PolicyRef, Reason};

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
    let PolicyRef { name, version, bundle_hash } = policy;
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
/// (the draft's fields flattened where `seq` is followed by them), each value by serde_json
/// itself.
pub(crate) fn row(r: &Receipt) -> Result<String, serde_json::Error> {
    let Receipt { seq, body, prev, case_seq, case_prev, hash, signature } = r;
    let ReceiptDraft { case, event, actor, state, decision, reason, policy, action_hash, identity, at, detail } = body;
    let mut out: Vec<u8> = Vec::with_capacity(1024);
    let w = &mut out;
    w.extend_from_slice(b"{\"seq\":");
    w.extend_from_slice(itoa::Buffer::new().format(*seq).as_bytes());
    if !case.is_empty() {
        w.extend_from_slice(b",\"case\":");
        string(w, case)?;
    }
    w.extend_from_slice(b",\"event\":");
    string(w, event)?;
    w.extend_from_slice(b",\"actor\":");
    match actor {
        Some(actor) => string(w, actor)?,
        None => w.extend_from_slice(b"null"),
    }
    w.extend_from_slice(b",\"state\":");
    string(w, state.as_str())?;
    w.extend_from_slice(b",\"decision\":");
    string(w, decision)?;
    let Reason { code, message } = reason;
    w.extend_from_slice(b",\"reason\":{\"code\":");
    string(w, code)?;
    w.extend_from_slice(b",\"message\":");
    string(w, message)?;
    let PolicyRef { name, version, bundle_hash } = policy;
    w.extend_from_slice(b"},\"policy\":{\"name\":");
    string(w, name)?;
    w.extend_from_slice(b",\"version\":");
    string(w, version)?;
    w.extend_from_slice(b",\"bundle_hash\":");
    string(w, bundle_hash)?;
    w.extend_from_slice(b"},\"action_hash\":");
    string(w, action_hash)?;
    w.extend_from_slice(b",\"identity\":");
    serde_json::to_writer(&mut *w, identity)?;
    w.extend_from_slice(b",\"at\":");
    w.extend_from_slice(itoa::Buffer::new().format(*at).as_bytes());
    w.extend_from_slice(b",\"detail\":");
    serde_json::to_writer(&mut *w, detail)?;
    w.extend_from_slice(b",\"prev\":");
    string(w, prev)?;
    if let Some(case_seq) = case_seq {
        w.extend_from_slice(b",\"case_seq\":");
        w.extend_from_slice(itoa::Buffer::new().format(*case_seq).as_bytes());
    }
    if let Some(case_prev) = case_prev {
        w.extend_from_slice(b",\"case_prev\":");
        string(w, case_prev)?;
    }
    w.extend_from_slice(b",\"hash\":");
    string(w, hash)?;
    w.extend_from_slice(b",\"signature\":");
    match signature {
        Some(ReceiptSignature { key_id, sig }) => {
            w.extend_from_slice(b"{\"key_id\":");
            string(w, key_id)?;
            w.extend_from_slice(b",\"sig\":");
            string(w, sig)?;
            w.push(b'}');
        }
        None => w.extend_from_slice(b"null"),
    }
    w.push(b'}');
    // Every piece is serde_json's own UTF-8 text.
    String::from_utf8(out).map_err(<serde_json::Error as serde::ser::Error>::custom)
}

/// A JSON string as serde_json writes it.
fn string(w: &mut Vec<u8>, s: &str) -> Result<(), serde_json::Error> {
    serde_json::to_writer(w, s)
}

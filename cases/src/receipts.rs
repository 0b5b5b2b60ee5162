//! Receipts as evidence: canonical JSON, hashing, sealing into the store's chain, signing, chain
//! verification, and the JSON-lines export format.
//!
//! # The hash and the signature
//!
//! A receipt's `hash` is `sha256:` and 64 lowercase hex digits of SHA-256 over the
//! [`canonical_json`] of the receipt as serialized, **without** its `hash` and `signature` fields
//! (so with `seq`, `prev` and every body field). Because `prev` is inside what is hashed, every
//! receipt commits to the whole chain before it.
//!
//! When the store has a key, the receipt carries an Ed25519 signature over [`SIGNATURE_CONTEXT`]
//! followed by the bytes of the `hash` string (e.g. `sha256:ab12…`), and the signer's key id
//! ([`aarm_runtime::bundle::key_id`]: the first 8 bytes of SHA-256 of the public key, 16 hex digits). The
//! context keeps a receipt signature from being valid for anything else the same key signs (a
//! bundle, say). The signature covers the hash, and the hash covers everything else, so a signed
//! receipt cannot be changed without the key; the `key_id` itself is not signed, but changing it
//! only makes the signature fail (or name an unknown key).
//!
//! # Verification
//!
//! [`verify_chain`] checks a contiguous run of the store's chain and [`verify_subsequence`] a
//! filtered part of it (one case's receipts); see each for exactly what it detects. Neither can
//! tell an **unsigned** chain that was rewritten consistently from the point of an edit onward
//! (every later hash and link recomputed) from a genuine one, unless the verifier knows the true
//! head ([`VerifyOptions::expected_head`]): anyone can compute SHA-256. Signatures with keys the
//! verifier trusts, and `require_signatures`, close that gap.
//!
//! Neither can tell that receipts are missing from the end of a list. Exports end with a signed
//! head naming their count and last hash, and case receipts carry per-case links (`case_seq`,
//! `case_prev`): [`crate::export::verify_export`] checks both.

pub use crate::canonical::canonical_json;
use crate::canonical::to_canonical_json_omitting;
use crate::lifecycle::receipt::{CaseLink, Receipt, ReceiptDraft, ReceiptSignature};
use aarm_runtime::bundle;
use ed25519_dalek::{Signature, Signer, SigningKey, Verifier, VerifyingKey};
use serde::Serialize;
use serde_json::Value;
use sha2::{Digest, Sha256};

pub(crate) mod text;

/// The `prev` of the first receipt of a chain: `sha256:` and 64 zeros.
pub const GENESIS: &str = "sha256:0000000000000000000000000000000000000000000000000000000000000000";

/// What a receipt signature signs, before the bytes of the receipt's `hash` string.
pub const SIGNATURE_CONTEXT: &[u8] = b"aarm receipt v1\0";

// ---------------------------------------------------------------------------------------------
// Hashing and sealing
// ---------------------------------------------------------------------------------------------

/// The hash a receipt must carry: `sha256:<hex>` over the canonical JSON of the receipt without
/// its `hash` and `signature` fields.
pub fn receipt_hash(r: &Receipt) -> String {
    sealed_hash(r)
}

/// The members a sealed record's hash cannot cover: the hash itself, and the signature over it.
const UNHASHED: &[&str] = &["hash", "signature"];

/// `sha256:<hex>` over the canonical JSON of `record` (a receipt, an export head) without its
/// `hash` and `signature` members.
pub(crate) fn sealed_hash<T: Serialize>(record: &T) -> String {
    match to_canonical_json_omitting(record, UNHASHED) {
        Ok(canonical) => sha256_hex(canonical.as_bytes()),
        // Something the direct writer leaves to the `Value` path (no receipt or head holds one).
        Err(_) => sealed_hash_by_value(record),
    }
}

/// [`sealed_hash`] through a `serde_json::Value`: the way records were hashed before the direct
/// writer, and the reference it is held to.
fn sealed_hash_by_value<T: Serialize>(record: &T) -> String {
    match serde_json::to_value(record) {
        Ok(Value::Object(mut map)) => {
            for name in UNHASHED {
                map.remove(*name);
            }
            sha256_hex(canonical_json(&Value::Object(map)).as_bytes())
        }
        // Unreachable for receipts and heads (they always serialize to an object); the result is
        // not a well-formed hash, which verification refuses.
        Ok(_) => "unhashable: not a JSON object".to_string(),
        Err(e) => format!("unhashable: {e}"),
    }
}

/// `sha256:` and the lowercase hex of SHA-256 over `bytes`.
pub(crate) fn sha256_hex(bytes: &[u8]) -> String {
    let mut hex = [0u8; 64];
    match (hex::encode_to_slice(Sha256::digest(bytes), &mut hex), std::str::from_utf8(&hex)) {
        (Ok(()), Ok(digits)) => {
            let mut out = String::with_capacity(7 + 64);
            out.push_str("sha256:");
            out.push_str(digits);
            out
        }
        // Unreachable (64 hex digits are 64 ASCII bytes); not a well-formed hash either way.
        _ => "unhashable: hex encoding failed".to_string(),
    }
}

/// Whether `h` is `sha256:` followed by exactly 64 lowercase hex digits.
fn is_well_formed_hash(h: &str) -> bool {
    h.strip_prefix("sha256:")
        .is_some_and(|hex| hex.len() == 64 && hex.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)))
}

fn signed_message(hash: &str) -> Vec<u8> {
    let mut m = Vec::with_capacity(SIGNATURE_CONTEXT.len() + hash.len());
    m.extend_from_slice(SIGNATURE_CONTEXT);
    m.extend_from_slice(hash.as_bytes());
    m
}

/// Signs a receipt's hash (as [`seal`] does): the signature to put in its `signature` field.
pub fn sign_hash(hash: &str, signer: &SigningKey) -> ReceiptSignature {
    let sig = signer.sign(&signed_message(hash));
    ReceiptSignature { key_id: bundle::key_id(&signer.verifying_key()), sig: hex::encode(sig.to_bytes()) }
}

/// Seals a draft into the chain: sets `seq` and `prev`, computes `hash`, and signs it when a key
/// is given. (Stores seal case receipts with [`seal_linked`].)
pub fn seal(draft: ReceiptDraft, seq: u64, prev: &str, signer: Option<&SigningKey>) -> Receipt {
    seal_linked(draft, seq, prev, None, signer)
}

/// [`seal`], and for a case's receipt its place among that case's receipts (`case_seq`,
/// `case_prev`), which the hash covers.
pub(crate) fn seal_linked(
    draft: ReceiptDraft,
    seq: u64,
    prev: &str,
    link: Option<CaseLink>,
    signer: Option<&SigningKey>,
) -> Receipt {
    let (case_seq, case_prev) = match link {
        Some(l) => (Some(l.seq), Some(l.prev)),
        None => (None, None),
    };
    let mut r =
        Receipt { seq, body: draft, prev: prev.to_string(), case_seq, case_prev, hash: String::new(), signature: None };
    // The text `receipt_hash` hashes, written field by field (`text`'s tests hold the two to the
    // same bytes).
    r.hash = sha256_hex(text::canonical(&r).as_bytes());
    r.signature = signer.map(|key| sign_hash(&r.hash, key));
    r
}

// ---------------------------------------------------------------------------------------------
// Verification
// ---------------------------------------------------------------------------------------------

/// Why a list of receipts is not a genuine (part of a) chain. Each names the receipt by its `seq`
/// (or, for [`ChainError::Malformed`], the line number in the file).
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ChainError {
    /// A receipt's content does not hash to its `hash`: it was changed after it was sealed.
    #[error("receipt seq {seq} was edited: its content does not match its hash")]
    Edited {
        /// The receipt's position in the chain.
        seq: u64,
    },
    #[error(
        "receipts are out of order: seq {found} where seq {expected} was expected next \
         (receipts were reordered, duplicated or inserted)"
    )]
    /// A receipt comes out of order (reordered, duplicated or inserted).
    Reordered {
        /// The `seq` that should come next.
        expected: u64,
        /// The `seq` found instead (not above the one expected).
        found: u64,
    },
    #[error("receipts are missing: seq {found} where seq {expected} was expected next")]
    /// Receipts are missing: the next `seq` skips ahead.
    SeqGap {
        /// The `seq` that should come next.
        expected: u64,
        /// The `seq` found instead.
        found: u64,
    },
    #[error(
        "receipt seq {seq} does not link to the receipt before it (its prev is not that receipt's hash): \
         a receipt was removed, inserted or replaced"
    )]
    /// A receipt's `prev` is not the hash of the receipt before it: the chain is broken there.
    PrevMismatch {
        /// The receipt's position in the chain.
        seq: u64,
    },
    #[error("receipt seq {seq} has an invalid signature")]
    /// A receipt's signature does not verify with the key its key id names.
    BadSignature {
        /// The receipt's position in the chain.
        seq: u64,
    },
    #[error("receipt seq {seq} is signed by key id {key_id}, which is not among the given keys")]
    /// A receipt is signed by a key the verifier was not given: it is not trusted.
    UnknownKey {
        /// The receipt's position in the chain.
        seq: u64,
        /// The key id its signature names.
        key_id: String,
    },
    #[error("receipt seq {seq} is not signed, and signatures are required")]
    /// Signatures are required and a receipt carries none.
    MissingSignature {
        /// The receipt's position in the chain.
        seq: u64,
    },
    /// Signatures are required but no key was given: nothing could be checked, so nothing passes.
    #[error("signatures are required but no key was given to check them (receipts carry only a key id)")]
    NoKeys,
    #[error(
        "the chain ends at {found}, not at the expected head {expected}: receipts were removed or added at the end"
    )]
    /// The last receipt is not the head the verifier expected: receipts were removed or added at
    /// the end.
    HeadMismatch {
        /// The head the verifier knows.
        expected: String,
        /// The hash of the last receipt verified.
        found: String,
    },
    #[error("line {line}: not a receipt: {message}")]
    /// A line of the file is not a receipt.
    Malformed {
        /// The line's number in the file, from 1.
        line: usize,
        /// Why it does not read as a receipt.
        message: String,
    },
}

/// What to check besides hashes, links and order.
#[derive(Clone, Copy, Debug, Default)]
pub struct VerifyOptions<'a> {
    /// Trusted public keys. A signed receipt is checked against the one whose key id it names
    /// ([`ChainError::UnknownKey`] if none); with no keys, signatures cannot be checked (receipts
    /// carry only a key id) and are counted in [`VerifyReport::unchecked_signatures`].
    pub keys: &'a [VerifyingKey],
    /// Every receipt must carry a signature that verifies with one of `keys` (and `keys` must not
    /// be empty: [`ChainError::NoKeys`]).
    pub require_signatures: bool,
    /// The hash of the last receipt, when the verifier knows it (from the store, or an earlier
    /// verification): detects receipts removed from, or appended to, the end.
    pub expected_head: Option<&'a str>,
    /// The receipts start the chain: the first has `seq` 1 and `prev` [`GENESIS`]. Detects
    /// receipts removed from the beginning.
    pub from_genesis: bool,
}

/// What a successful verification saw.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VerifyReport {
    /// How many receipts were verified.
    pub count: usize,
    /// `seq` of the first receipt (0 when there are none).
    pub first_seq: u64,
    /// `seq` of the last receipt (0 when there are none).
    pub last_seq: u64,
    /// Hash of the last receipt ([`GENESIS`] when there are none).
    pub head: String,
    /// Receipts whose signature was verified with a given key.
    pub signed: usize,
    /// Receipts that carry a signature that could not be checked because no keys were given.
    pub unchecked_signatures: usize,
}

/// Checks one receipt on its own: its hash recomputes, `seq` is at least 1, `seq` 1 goes with
/// `prev` = [`GENESIS`] and only with it, and its signature (per the options). Returns whether a
/// signature was verified (`Some(true)`), present but unchecked (`Some(false)`), or absent.
fn check_receipt(r: &Receipt, opts: &VerifyOptions) -> Result<Option<bool>, ChainError> {
    if !is_well_formed_hash(&r.hash) || receipt_hash(r) != r.hash {
        return Err(ChainError::Edited { seq: r.seq });
    }
    if r.seq == 0 {
        return Err(ChainError::Reordered { expected: 1, found: 0 });
    }
    if (r.seq == 1) != (r.prev == GENESIS) {
        return Err(ChainError::PrevMismatch { seq: r.seq });
    }
    match &r.signature {
        None if opts.require_signatures => Err(ChainError::MissingSignature { seq: r.seq }),
        None => Ok(None),
        Some(_) if opts.keys.is_empty() => Ok(Some(false)),
        Some(s) => {
            let key = opts
                .keys
                .iter()
                .find(|k| bundle::key_id(k) == s.key_id)
                .ok_or_else(|| ChainError::UnknownKey { seq: r.seq, key_id: s.key_id.clone() })?;
            let bytes = hex::decode(&s.sig).map_err(|_| ChainError::BadSignature { seq: r.seq })?;
            let sig = Signature::from_slice(&bytes).map_err(|_| ChainError::BadSignature { seq: r.seq })?;
            key.verify(&signed_message(&r.hash), &sig).map_err(|_| ChainError::BadSignature { seq: r.seq })?;
            Ok(Some(true))
        }
    }
}

/// The order error for `found` following `previous` when `expected` is `previous + 1`.
fn order_error(previous: u64, found: u64) -> ChainError {
    match previous.checked_add(1) {
        Some(expected) if found > expected => ChainError::SeqGap { expected, found },
        Some(expected) => ChainError::Reordered { expected, found },
        // Nothing can follow seq u64::MAX.
        None => ChainError::Reordered { expected: u64::MAX, found },
    }
}

fn check_start(first: &Receipt, opts: &VerifyOptions) -> Result<(), ChainError> {
    if opts.from_genesis {
        if first.seq > 1 {
            return Err(ChainError::SeqGap { expected: 1, found: first.seq });
        }
        if first.prev != GENESIS {
            return Err(ChainError::PrevMismatch { seq: first.seq });
        }
    }
    Ok(())
}

fn finish(
    receipts: &[Receipt],
    opts: &VerifyOptions,
    signed: usize,
    unchecked: usize,
) -> Result<VerifyReport, ChainError> {
    let head = receipts.last().map_or_else(|| GENESIS.to_string(), |r| r.hash.clone());
    if let Some(expected) = opts.expected_head {
        if expected != head {
            return Err(ChainError::HeadMismatch { expected: expected.to_string(), found: head });
        }
    }
    Ok(VerifyReport {
        count: receipts.len(),
        first_seq: receipts.first().map_or(0, |r| r.seq),
        last_seq: receipts.last().map_or(0, |r| r.seq),
        head,
        signed,
        unchecked_signatures: unchecked,
    })
}

/// Verifies a contiguous run of a store's chain, in order: every hash recomputes from its
/// receipt ([`ChainError::Edited`]); `seq` increases by exactly 1 ([`ChainError::SeqGap`] for a
/// jump forward, [`ChainError::Reordered`] otherwise); every `prev` is the previous receipt's
/// `hash` ([`ChainError::PrevMismatch`]); `seq` 1 has `prev` [`GENESIS`] and no other receipt
/// does; signatures per [`VerifyOptions::keys`] and [`VerifyOptions::require_signatures`]; with
/// [`VerifyOptions::from_genesis`], the run starts at `seq` 1; with
/// [`VerifyOptions::expected_head`], it ends at that hash.
///
/// So an edited, removed, reordered, duplicated or inserted receipt is detected — except, for
/// unsigned receipts (or signatures not required), a consistent rewrite of everything from the
/// change to the end, which only `expected_head` catches; and receipts removed from the very
/// beginning or end, which only `from_genesis` and `expected_head` catch. An empty list verifies
/// (with head [`GENESIS`]) unless signatures are required without keys or the head differs.
pub fn verify_chain(receipts: &[Receipt], opts: &VerifyOptions) -> Result<VerifyReport, ChainError> {
    verify_links(receipts, opts, |p, r| {
        if p.seq.checked_add(1) != Some(r.seq) {
            return Err(order_error(p.seq, r.seq));
        }
        if r.prev != p.hash {
            return Err(ChainError::PrevMismatch { seq: r.seq });
        }
        Ok(())
    })
}

/// Verifies receipts that are a subsequence of a store's chain, in chain order — typically one
/// case's receipts (`aarm receipts export --case ID`), between which other cases' receipts were
/// left out.
///
/// Checks: every receipt's own hash recomputes ([`ChainError::Edited`]) and its signature (as in
/// [`verify_chain`]); `seq` strictly increases ([`ChainError::Reordered`]); `seq` 1 has `prev`
/// [`GENESIS`] and no other receipt does; where two consecutive items are also adjacent in the
/// chain (their `seq` differ by exactly 1), the later one's `prev` is the earlier one's `hash`
/// ([`ChainError::PrevMismatch`]); `from_genesis` and `expected_head` as in [`verify_chain`].
///
/// It detects: any edit of a receipt's content (with signatures required: any change at all, as
/// only the key holder can recompute a valid signature), reordering, duplication, and a receipt
/// inserted at a `seq` already present or out of order. It cannot detect: receipts removed (a
/// missing `seq` is a legitimate gap — another case's receipt), including at the beginning or end
/// unless `from_genesis` / `expected_head` are given; a genuine receipt of another case (or
/// another store signed by the same key) inserted into a gap; and, without required signatures, a
/// forged receipt with a fresh hash placed into a gap. It does not check that all the receipts
/// belong to one case.
pub fn verify_subsequence(receipts: &[Receipt], opts: &VerifyOptions) -> Result<VerifyReport, ChainError> {
    verify_links(receipts, opts, |p, r| {
        if r.seq <= p.seq {
            return Err(order_error(p.seq, r.seq));
        }
        if p.seq.checked_add(1) == Some(r.seq) && r.prev != p.hash {
            return Err(ChainError::PrevMismatch { seq: r.seq });
        }
        Ok(())
    })
}

/// The walk both verifiers share: each receipt's own hash and signature, the start of the run,
/// `link` between consecutive receipts, then the head and the report.
fn verify_links(
    receipts: &[Receipt],
    opts: &VerifyOptions,
    link: impl Fn(&Receipt, &Receipt) -> Result<(), ChainError>,
) -> Result<VerifyReport, ChainError> {
    if opts.require_signatures && opts.keys.is_empty() {
        return Err(ChainError::NoKeys);
    }
    let (mut signed, mut unchecked) = (0, 0);
    let mut previous: Option<&Receipt> = None;
    for r in receipts {
        match check_receipt(r, opts)? {
            Some(true) => signed += 1,
            Some(false) => unchecked += 1,
            None => {}
        }
        match previous {
            None => check_start(r, opts)?,
            Some(p) => link(p, r)?,
        }
        previous = Some(r);
    }
    finish(receipts, opts, signed, unchecked)
}

// ---------------------------------------------------------------------------------------------
// JSON lines
// ---------------------------------------------------------------------------------------------

/// One receipt per line, compact JSON with the fields in serialization order, each line ending
/// in `\n` (the format of `aarm receipts export`).
pub fn to_json_lines(receipts: &[Receipt]) -> String {
    let mut out = String::new();
    for r in receipts {
        match serde_json::to_string(r) {
            Ok(line) => out.push_str(&line),
            // Unreachable for the receipt types; a line that does not parse keeps the gap visible.
            Err(e) => out.push_str(&format!("!unserializable receipt seq {}: {e}", r.seq)),
        }
        out.push('\n');
    }
    out
}

/// Parses JSON lines back into receipts (blank lines are skipped). A line that is not exactly a
/// receipt is [`ChainError::Malformed`] with its 1-based line number: invalid JSON, a missing or
/// mistyped field, a key repeated in an object (which readers could resolve differently), or a
/// field a receipt does not have (which the hash would not cover).
pub fn from_json_lines(text: &str) -> Result<Vec<Receipt>, ChainError> {
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let line_no = i.saturating_add(1);
        let malformed = |message: String| ChainError::Malformed { line: line_no, message };
        if line.trim().is_empty() {
            continue;
        }
        let value = aarm_runtime::json::parse(line).map_err(|e| malformed(e.to_string()))?;
        let receipt: Receipt = serde_json::from_value(value.clone()).map_err(|e| malformed(e.to_string()))?;
        let reencoded = serde_json::to_value(&receipt).map_err(|e| malformed(e.to_string()))?;
        check_same_fields(&value, &reencoded).map_err(malformed)?;
        out.push(receipt);
    }
    Ok(out)
}

/// The line's object must be exactly what the receipt re-encodes to, except that a top-level
/// field re-encoded as `null` may be absent (an omitted `signature`, say).
fn check_same_fields(line: &Value, reencoded: &Value) -> Result<(), String> {
    let (Value::Object(line), Value::Object(reencoded)) = (line, reencoded) else {
        return Err("a receipt is a JSON object".to_string());
    };
    if let Some(k) = line.keys().find(|k| !reencoded.contains_key(k.as_str())) {
        return Err(format!("unknown field `{k}`"));
    }
    for (k, v) in reencoded {
        match line.get(k) {
            None if v.is_null() => {}
            None => return Err(format!("missing field `{k}`")),
            Some(lv) if lv != v => {
                return Err(format!("field `{k}` has content that is not part of a receipt (an unknown nested field?)"))
            }
            Some(_) => {}
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::canonical::tests::{json, text};
    use crate::lifecycle::state::CaseState;
    use aarm_runtime::decision::{PolicyRef, Reason};
    use proptest::prelude::*;

    fn receipt() -> impl Strategy<Value = Receipt> {
        let state = prop_oneof![
            Just(CaseState::PendingApproval),
            Just(CaseState::PendingEvidence),
            Just(CaseState::Allowed),
            Just(CaseState::Modified),
            Just(CaseState::Denied),
            Just(CaseState::Cancelled),
        ];
        (
            (text(), text(), proptest::option::of(text()), state, text()),
            (text(), text(), (text(), text(), text()), any::<i64>()),
            (json(), json(), text(), text()),
            (any::<u64>(), proptest::option::of((any::<u64>(), text())), proptest::option::of((text(), text()))),
        )
            .prop_map(
                |(
                    (case, event, actor, state, decision),
                    (code, message, (name, version, bundle_hash), at),
                    (identity, detail, action_hash, prev),
                    (seq, link, sig),
                )| {
                    let draft = ReceiptDraft {
                        case,
                        event,
                        actor,
                        state,
                        decision,
                        reason: Reason { code: code.into(), message },
                        policy: PolicyRef::new(name, version, bundle_hash),
                        action_hash,
                        identity,
                        at,
                        detail,
                    };
                    let mut r = seal_linked(draft, seq, &prev, link.map(|(seq, prev)| CaseLink { seq, prev }), None);
                    r.signature = sig.map(|(key_id, sig)| ReceiptSignature { key_id, sig });
                    r
                },
            )
    }

    proptest! {
        /// Receipts are hashed by the direct writer; old receipts were hashed through a `Value`.
        /// Every receipt must hash the same both ways, or a chain written before would stop
        /// verifying.
        #[test]
        fn a_receipt_hashes_as_through_the_tree(r in receipt()) {
            prop_assert_eq!(receipt_hash(&r), sealed_hash_by_value(&r));
            prop_assert!(is_well_formed_hash(&r.hash));
        }

        /// Sealing hashes the text `text::canonical` writes field by field: it must be the text
        /// of the generic writer (and so of the tree), or sealed receipts would stop verifying.
        #[test]
        fn a_receipt_is_sealed_with_the_hash_of_its_canonical_text(r in receipt()) {
            let generic = crate::canonical::to_canonical_json_omitting(&r, UNHASHED).unwrap();
            prop_assert_eq!(text::canonical(&r), generic);
            prop_assert_eq!(&r.hash, &receipt_hash(&r), "seal_linked's hash is the generic one");
            prop_assert_eq!(&r.hash, &sealed_hash_by_value(&r));
        }

        /// A store keeps `text::row` as a receipt's row: the text serde_json writes for it, which
        /// reads back as the same receipt.
        #[test]
        fn a_receipt_row_is_serde_jsons_text_and_reads_back(r in receipt()) {
            let row = text::row(&r);
            prop_assert_eq!(&row, &serde_json::to_string(&r).unwrap());
            let back: Receipt = serde_json::from_str(&row).unwrap();
            prop_assert_eq!(back, r);
        }
    }
}

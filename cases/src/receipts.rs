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
//! # Canonical JSON
//!
//! [`canonical_json`] follows RFC 8785 (JCS): object members sorted by the UTF-16 code units of
//! their names, no whitespace, strings escaped minimally (`\"`, `\\`, `\b \t \n \f \r`, other
//! controls below U+0020 as `\u00xx` with lowercase hex, everything else — including `/`, U+007F,
//! U+2028 and non-ASCII — literally, as UTF-8), floats in ECMAScript `Number.prototype.toString`
//! form (`1e+21`, `0.000001`, `1e-7`, `-0` as `0`). One deliberate difference: JSON integers that
//! serde_json holds as `i64`/`u64` are printed exactly, in decimal; JCS would first round them to
//! the nearest IEEE double. The two agree for every integer of magnitude up to 2^53, which covers
//! every number a receipt holds in practice (`seq`, `at`, counts); above that, this encoding keeps
//! the exact value instead of losing digits.
//!
//! Caveat on floats: serde_json (without its `float_roundtrip` feature) may parse a float's text to
//! a value one ULP off the one that was printed, which would make a receipt whose `detail` or
//! `identity` holds such a float fail verification after an export/import round trip. Receipts
//! hold integers and strings in practice; enabling `serde_json/float_roundtrip` removes the risk.
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

use crate::lifecycle::receipt::{CaseLink, Receipt, ReceiptDraft, ReceiptSignature};
use aarm_runtime::bundle;
use ed25519_dalek::{Signature, Signer, SigningKey, Verifier, VerifyingKey};
use serde_json::{Number, Value};
use sha2::{Digest, Sha256};

/// The `prev` of the first receipt of a chain: `sha256:` and 64 zeros.
pub const GENESIS: &str = "sha256:0000000000000000000000000000000000000000000000000000000000000000";

/// What a receipt signature signs, before the bytes of the receipt's `hash` string.
pub const SIGNATURE_CONTEXT: &[u8] = b"aarm receipt v1\0";

// ---------------------------------------------------------------------------------------------
// Canonical JSON
// ---------------------------------------------------------------------------------------------

/// RFC 8785-style canonical JSON of a value (see the module documentation for the one deliberate
/// difference, exact integers).
pub fn canonical_json(v: &Value) -> String {
    let mut out = String::new();
    write_canonical(v, &mut out);
    out
}

fn write_canonical(v: &Value, out: &mut String) {
    match v {
        Value::Null => out.push_str("null"),
        Value::Bool(true) => out.push_str("true"),
        Value::Bool(false) => out.push_str("false"),
        Value::Number(n) => write_number(n, out),
        Value::String(s) => write_string(s, out),
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_canonical(item, out);
            }
            out.push(']');
        }
        Value::Object(map) => {
            let mut members: Vec<(&String, &Value)> = map.iter().collect();
            members.sort_by(|(a, _), (b, _)| utf16_order(a, b));
            out.push('{');
            for (i, (k, val)) in members.into_iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_string(k, out);
                out.push(':');
                write_canonical(val, out);
            }
            out.push('}');
        }
    }
}

/// The order of `a` and `b` by their UTF-16 code units, as RFC 8785 sorts member names.
///
/// UTF-8 byte order is code point order, and UTF-16 order differs from it only between a
/// character of U+E000..=U+FFFF (UTF-8 lead byte 0xEE or 0xEF) and one above U+FFFF (lead byte
/// 0xF0 or more), which UTF-16 puts first (its surrogates are below U+E000). Names compare
/// bytewise, then, unless their first difference involves such a byte; receipts hash on every
/// write, and their names are ASCII.
fn utf16_order(a: &str, b: &str) -> std::cmp::Ordering {
    let first_difference = a.bytes().zip(b.bytes()).find(|(x, y)| x != y);
    match first_difference {
        Some((x, y)) if x >= 0xEE || y >= 0xEE => a.encode_utf16().cmp(b.encode_utf16()),
        Some((x, y)) => x.cmp(&y),
        // One is a prefix of the other: the shorter comes first in both orders.
        None => a.len().cmp(&b.len()),
    }
}

/// The escape of one byte of a string, when it needs one (RFC 8785: `"`, `\\` and the controls
/// below U+0020; every other character is written as is).
fn escape(byte: u8) -> Option<&'static str> {
    const CONTROLS: [&str; 32] = [
        "\\u0000", "\\u0001", "\\u0002", "\\u0003", "\\u0004", "\\u0005", "\\u0006", "\\u0007", "\\u0008", "\\u0009",
        "\\u000a", "\\u000b", "\\u000c", "\\u000d", "\\u000e", "\\u000f", "\\u0010", "\\u0011", "\\u0012", "\\u0013",
        "\\u0014", "\\u0015", "\\u0016", "\\u0017", "\\u0018", "\\u0019", "\\u001a", "\\u001b", "\\u001c", "\\u001d",
        "\\u001e", "\\u001f",
    ];
    match byte {
        b'"' => Some("\\\""),
        b'\\' => Some("\\\\"),
        0x08 => Some("\\b"),
        b'\t' => Some("\\t"),
        b'\n' => Some("\\n"),
        0x0c => Some("\\f"),
        b'\r' => Some("\\r"),
        0..=0x1f => CONTROLS.get(usize::from(byte)).copied(),
        _ => None,
    }
}

/// A JSON string, escaped as RFC 8785 says; the runs between escapes are copied whole (every
/// byte that needs an escape is ASCII, so a run never splits a character).
fn write_string(s: &str, out: &mut String) {
    out.push('"');
    let mut run_start = 0;
    for (i, byte) in s.bytes().enumerate() {
        if let Some(escaped) = escape(byte) {
            out.push_str(s.get(run_start..i).unwrap_or_default());
            out.push_str(escaped);
            run_start = i + 1;
        }
    }
    out.push_str(s.get(run_start..).unwrap_or_default());
    out.push('"');
}

fn write_number(n: &Number, out: &mut String) {
    if let Some(u) = n.as_u64() {
        out.push_str(&u.to_string());
    } else if let Some(i) = n.as_i64() {
        out.push_str(&i.to_string());
    } else if let Some(f) = n.as_f64() {
        out.push_str(&ecmascript_number(f));
    } else {
        // Only reachable with serde_json's arbitrary_precision: keep its text.
        out.push_str(&n.to_string());
    }
}

/// ECMAScript `Number.prototype.toString(x)` for a finite double (ECMA-262, Number::toString):
/// the shortest digits that round-trip, placed by the exponent rules. Non-finite values (which a
/// `serde_json::Value` cannot hold) print as `null`, as `JSON.stringify` does.
fn ecmascript_number(x: f64) -> String {
    if !x.is_finite() {
        return "null".to_string();
    }
    if x == 0.0 {
        return "0".to_string();
    }
    let Some((digits, e)) = shortest_digits(x.abs()) else { return x.to_string() };
    let digits = digits.as_str();
    // x = 0.d1 d2 … dk × 10^n, with k digits.
    let k = i64::try_from(digits.len()).unwrap_or(i64::MAX);
    let n = e.saturating_add(1);
    let mut s = String::new();
    if x < 0.0 {
        s.push('-');
    }
    if k <= n && n <= 21 {
        s.push_str(digits);
        for _ in 0..(n - k) {
            s.push('0');
        }
    } else if 0 < n && n <= 21 {
        let split = usize::try_from(n).unwrap_or(0);
        let (int_part, frac_part) = digits.split_at(split.min(digits.len()));
        s.push_str(int_part);
        s.push('.');
        s.push_str(frac_part);
    } else if -6 < n && n <= 0 {
        s.push_str("0.");
        for _ in 0..(-n) {
            s.push('0');
        }
        s.push_str(digits);
    } else {
        let mut chars = digits.chars();
        if let Some(first) = chars.next() {
            s.push(first);
        }
        let rest = chars.as_str();
        if !rest.is_empty() {
            s.push('.');
            s.push_str(rest);
        }
        let e = n - 1;
        s.push('e');
        s.push(if e < 0 { '-' } else { '+' });
        s.push_str(&e.unsigned_abs().to_string());
    }
    s
}

/// Splits `{:e}`-style text (`d[.ddd]e[-]N`) into its significant digits (trailing zeros
/// dropped, at least one digit) and its decimal exponent.
fn split_scientific(sci: &str) -> Option<(String, i64)> {
    let (mantissa, exp) = sci.split_once('e')?;
    let e = exp.parse::<i64>().ok()?;
    let digits: String = mantissa.chars().filter(char::is_ascii_digit).collect();
    let trimmed = digits.trim_end_matches('0');
    Some((if trimmed.is_empty() { "0".to_string() } else { trimmed.to_string() }, e))
}

/// Whether `digits` × 10^(e + 1 − len) parses back to exactly `x`.
fn round_trips(digits: &str, e: i64, x: f64) -> bool {
    let mut chars = digits.chars();
    let first = chars.next().unwrap_or('0');
    format!("{first}.{}e{e}", chars.as_str()).parse::<f64>().is_ok_and(|y| y == x)
}

/// `digits` plus one in the last place, unless that carries into a new digit.
fn increment_last(digits: &str) -> Option<String> {
    let mut bytes = digits.as_bytes().to_vec();
    for b in bytes.iter_mut().rev() {
        if *b == b'9' {
            *b = b'0';
        } else {
            *b += 1;
            return String::from_utf8(bytes).ok();
        }
    }
    None
}

/// The shortest significant digits `s` (k of them) that round-trip to the positive finite `x`,
/// and the decimal exponent of the first: x ≈ s₁.s₂…s_k × 10^e. Rust's `{:e}` gives the
/// shortest digits; when two k-digit candidates are exactly equally close to `x`, ECMAScript
/// takes the even one (ECMA-262 Number::toString, note 2), while Rust's choice may be odd: that
/// tie is detected on the exact decimal expansion (a double has at most 767 significant digits).
fn shortest_digits(x: f64) -> Option<(String, i64)> {
    let (digits, e) = split_scientific(&format!("{x:e}"))?;
    let k = digits.len();
    let last_is_odd = digits.bytes().last().is_some_and(|b| b % 2 == 1);
    if !last_is_odd {
        return Some((digits, e));
    }
    let exact = format!("{x:.780e}");
    let (mantissa, exp) = exact.split_once('e')?;
    if exp.parse::<i64>().ok()? != e {
        return Some((digits, e));
    }
    let all: String = mantissa.chars().filter(char::is_ascii_digit).collect();
    let (Some(head), Some(tie_digit), Some(rest)) =
        (all.get(..k), all.get(k..k.saturating_add(1)), all.get(k.saturating_add(1)..))
    else {
        return Some((digits, e));
    };
    if tie_digit != "5" || !rest.bytes().all(|b| b == b'0') {
        return Some((digits, e));
    }
    // x is exactly halfway between `head` and `head + 1` (in the last place); `digits` is one of
    // them, and odd: take the other when it round-trips too.
    let other = if head == digits { increment_last(head) } else { Some(head.to_string()) };
    match other {
        Some(o) if o.len() == k && round_trips(&o, e, x) => Some((o, e)),
        _ => Some((digits, e)),
    }
}

// ---------------------------------------------------------------------------------------------
// Hashing and sealing
// ---------------------------------------------------------------------------------------------

/// The hash a receipt must carry: `sha256:<hex>` over the canonical JSON of the receipt without
/// its `hash` and `signature` fields.
pub fn receipt_hash(r: &Receipt) -> String {
    match serde_json::to_value(r) {
        Ok(Value::Object(mut map)) => {
            map.remove("hash");
            map.remove("signature");
            let canonical = canonical_json(&Value::Object(map));
            format!("sha256:{}", hex::encode(Sha256::digest(canonical.as_bytes())))
        }
        // Unreachable for the receipt types (they always serialize to an object); the result is
        // not a well-formed hash, which verification refuses.
        Ok(_) => "unhashable: a receipt does not serialize to a JSON object".to_string(),
        Err(e) => format!("unhashable: {e}"),
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
    r.hash = receipt_hash(&r);
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
    use proptest::prelude::*;

    /// The writer as first written, character by character: the reference for the byte-run one.
    fn write_string_by_char(s: &str) -> String {
        let mut out = String::from("\"");
        for c in s.chars() {
            match c {
                '"' => out.push_str("\\\""),
                '\\' => out.push_str("\\\\"),
                '\u{8}' => out.push_str("\\b"),
                '\t' => out.push_str("\\t"),
                '\n' => out.push_str("\\n"),
                '\u{c}' => out.push_str("\\f"),
                '\r' => out.push_str("\\r"),
                c if u32::from(c) < 0x20 => out.push_str(&format!("\\u{:04x}", u32::from(c))),
                c => out.push(c),
            }
        }
        out.push('"');
        out
    }

    /// Strings that mix ASCII, every control, and characters on both sides of the UTF-16 order's
    /// one disagreement with byte order (U+E000..=U+FFFF against those above U+FFFF).
    fn text() -> impl Strategy<Value = String> {
        let char = prop_oneof![0u32..0x80, Just(0x7f), 0x80u32..0x800, 0xe000u32..0x1_0000, 0x1_0000u32..0x11_0000,]
            .prop_filter_map("a scalar value", char::from_u32);
        proptest::collection::vec(char, 0..8).prop_map(|cs| cs.into_iter().collect())
    }

    proptest! {
        #[test]
        fn strings_are_escaped_as_by_the_reference(s in text()) {
            let mut out = String::new();
            write_string(&s, &mut out);
            prop_assert_eq!(out, write_string_by_char(&s));
        }

        #[test]
        fn names_sort_by_utf16_code_units(a in text(), b in text()) {
            prop_assert_eq!(utf16_order(&a, &b), a.encode_utf16().cmp(b.encode_utf16()));
            // A shared prefix makes the first difference fall inside the strings.
            let (pa, pb) = (format!("{a}{b}"), format!("{a}{a}"));
            prop_assert_eq!(utf16_order(&pa, &pb), pa.encode_utf16().cmp(pb.encode_utf16()));
        }
    }
}

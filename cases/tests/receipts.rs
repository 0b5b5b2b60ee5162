#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]
//! Receipts: canonical JSON known answers, sealing and signing, chain and subsequence
//! verification against random tampering, and the JSON-lines format.

use aarm_cases::lifecycle::case::CaseState;
use aarm_cases::lifecycle::receipt::{Receipt, ReceiptDraft, ReceiptSignature};
use aarm_cases::receipts::{
    canonical_json, from_json_lines, receipt_hash, seal, sign_hash, to_json_lines, verify_chain, verify_subsequence,
    ChainError, VerifyOptions, VerifyReport, GENESIS, SIGNATURE_CONTEXT,
};
use aarm_runtime::bundle;
use aarm_runtime::decision::{PolicyRef, Reason};
use ed25519_dalek::{Signature, SigningKey, Verifier, VerifyingKey};
use proptest::prelude::*;
use serde_json::{json, Number, Value};
use sha2::{Digest, Sha256};

// ---------------------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------------------

fn trusted_key() -> SigningKey {
    SigningKey::from_bytes(&[7u8; 32])
}

fn attacker_key() -> SigningKey {
    SigningKey::from_bytes(&[66u8; 32])
}

fn draft(case: &str, event: &str, actor: Option<&str>, state: CaseState, at: i64) -> ReceiptDraft {
    ReceiptDraft {
        case: case.to_string(),
        event: event.to_string(),
        actor: actor.map(str::to_string),
        state,
        decision: "step_up".to_string(),
        reason: Reason { code: "large_payment".into(), message: "over 10 000 EUR".to_string() },
        policy: PolicyRef::new("payments", "1.2.0", format!("sha256:{}", "ab".repeat(32))),
        action_hash: format!("sha256:{}", "cd".repeat(32)),
        identity: json!({"agent": "finance-agent", "tenant": "acme"}),
        at,
        detail: json!({"approvals": ["cfo@corp.com"], "quorum": 2}),
    }
}

/// Seals drafts into a chain from genesis.
fn chain_of(drafts: Vec<ReceiptDraft>, signer: Option<&SigningKey>) -> Vec<Receipt> {
    let mut prev = GENESIS.to_string();
    let mut out = Vec::new();
    for (i, d) in drafts.into_iter().enumerate() {
        let r = seal(d, i as u64 + 1, &prev, signer);
        prev = r.hash.clone();
        out.push(r);
    }
    out
}

fn sample_chain(signer: Option<&SigningKey>) -> Vec<Receipt> {
    chain_of(
        vec![
            draft("c1", "open", Some("finance-agent"), CaseState::PendingApproval, 1_700_000_000),
            draft("c2", "open", Some("ops-agent"), CaseState::PendingEvidence, 1_700_000_010),
            draft("c1", "approve", Some("cfo@corp.com"), CaseState::PendingApproval, 1_700_000_020),
            draft("c2", "timeout", None, CaseState::Denied, 1_700_000_030),
            draft("c1", "approve", Some("controller@corp.com"), CaseState::Allowed, 1_700_000_040),
        ],
        signer,
    )
}

fn opts<'a>(keys: &'a [VerifyingKey], require: bool, head: Option<&'a str>) -> VerifyOptions<'a> {
    VerifyOptions { keys, require_signatures: require, expected_head: head, from_genesis: true }
}

fn canon(text: &str) -> String {
    canonical_json(&serde_json::from_str::<Value>(text).unwrap())
}

fn float(bits: u64) -> String {
    canonical_json(&Value::Number(Number::from_f64(f64::from_bits(bits)).unwrap()))
}

// ---------------------------------------------------------------------------------------------
// Canonical JSON
// ---------------------------------------------------------------------------------------------

#[test]
fn canonical_sorts_keys_and_drops_whitespace() {
    assert_eq!(
        canon(r#"{ "b" : 1, "a" : 2, "c": { "z": null, "y": [ 3, 2, 1 ] } }"#),
        r#"{"a":2,"b":1,"c":{"y":[3,2,1],"z":null}}"#
    );
    assert_eq!(canon(r#"{"ab":4,"aa":3,"a":2,"":1}"#), r#"{"":1,"a":2,"aa":3,"ab":4}"#);
    assert_eq!(canon("[]"), "[]");
    assert_eq!(canon("{}"), "{}");
    assert_eq!(canon(r#"[true,false,null,"x"]"#), r#"[true,false,null,"x"]"#);
}

#[test]
fn canonical_nested_arrays_and_objects_keep_array_order() {
    assert_eq!(
        canon(r#"{"z":[{"b":[],"a":{}},[1,[2,{"y":null,"x":true}]]],"a":"s"}"#),
        r#"{"a":"s","z":[{"a":{},"b":[]},[1,[2,{"x":true,"y":null}]]]}"#
    );
}

#[test]
fn canonical_sorts_by_utf16_code_units() {
    // RFC 8785 section 3.2.3's sorting example.
    let input = r#"{
        "\u20ac": "Euro Sign",
        "\r": "Carriage Return",
        "\ufb33": "Hebrew Letter Dalet With Dagesh",
        "1": "One",
        "\ud83d\ude00": "Emoji: Grinning Face",
        "\u0080": "Control",
        "\u00f6": "Latin Small Letter O With Diaeresis"
    }"#;
    let out = canon(input);
    let v: serde_json::Map<String, Value> = serde_json::from_str(&out).unwrap();
    let order: Vec<&str> = v.values().map(|v| v.as_str().unwrap()).collect();
    assert_eq!(
        order,
        [
            "Carriage Return",
            "One",
            "Control",
            "Latin Small Letter O With Diaeresis",
            "Euro Sign",
            "Emoji: Grinning Face",
            "Hebrew Letter Dalet With Dagesh"
        ]
    );
    // U+10000 is D800 DC00 in UTF-16, before U+FFFF (code point order would put it after).
    assert_eq!(canonical_json(&json!({"\u{ffff}": 1, "\u{10000}": 2})), "{\"\u{10000}\":2,\"\u{ffff}\":1}");
}

#[test]
fn canonical_string_escaping() {
    let s: String = (0u32..0x20).map(|c| char::from_u32(c).unwrap()).collect();
    assert_eq!(
        canonical_json(&Value::String(s)),
        r#""\u0000\u0001\u0002\u0003\u0004\u0005\u0006\u0007\b\t\n\u000b\f\r\u000e\u000f\u0010\u0011\u0012\u0013\u0014\u0015\u0016\u0017\u0018\u0019\u001a\u001b\u001c\u001d\u001e\u001f""#
    );
    // Quote and backslash escaped; `/`, DEL, U+2028, non-ASCII and astral characters literal.
    assert_eq!(canonical_json(&json!("\"\\/\u{7f}\u{2028}é€😀")), "\"\\\"\\\\/\u{7f}\u{2028}é€😀\"");
    // The RFC's (and its reference implementation's) escaping sample.
    assert_eq!(
        canon(r#"{"escaping": "\u20ac$\u000F\u000aA'\u0042\u0022\u005c\\\"\/"}"#),
        r#"{"escaping":"€$\u000f\nA'B\"\\\\\"/"}"#
    );
}

#[test]
fn canonical_rfc8785_sample() {
    let input = r#"{
      "numbers": [1E30,4.50,6,2e-3,0.000000000000000000000000001],
      "escaping": "\u20ac$\u000F\u000aA'\u0042\u0022\u005c\\\"\/",
      "other":  [null, true, false]
    }"#;
    let expected =
        r#"{"escaping":"€$\u000f\nA'B\"\\\\\"/","numbers":[1e+30,4.5,6,0.002,1e-27],"other":[null,true,false]}"#;
    assert_eq!(canon(input), expected);
}

#[test]
fn canonical_integers_print_plainly() {
    assert_eq!(canonical_json(&json!(0)), "0");
    assert_eq!(canonical_json(&json!(-1)), "-1");
    assert_eq!(canonical_json(&json!(1_700_000_000)), "1700000000");
    assert_eq!(canonical_json(&json!(9_007_199_254_740_992_i64)), "9007199254740992");
    assert_eq!(canonical_json(&json!(-9_007_199_254_740_992_i64)), "-9007199254740992");
    assert_eq!(canonical_json(&json!(i64::MIN)), "-9223372036854775808");
    // Documented difference from JCS (which rounds to a double, "18446744073709552000"): exact.
    assert_eq!(canonical_json(&json!(u64::MAX)), "18446744073709551615");
    assert_eq!(canonical_json(&json!(9_007_199_254_740_993_u64)), "9007199254740993");
}

#[test]
fn canonical_floats_match_rfc8785_appendix_b() {
    let vectors: [(u64, &str); 22] = [
        (0x0000000000000000, "0"),
        (0x8000000000000000, "0"),
        (0x0000000000000001, "5e-324"),
        (0x8000000000000001, "-5e-324"),
        (0x7fefffffffffffff, "1.7976931348623157e+308"),
        (0xffefffffffffffff, "-1.7976931348623157e+308"),
        (0x4340000000000000, "9007199254740992"),
        (0xc340000000000000, "-9007199254740992"),
        (0x4430000000000000, "295147905179352830000"),
        (0x44b52d02c7e14af5, "9.999999999999997e+22"),
        (0x44b52d02c7e14af6, "1e+23"),
        (0x44b52d02c7e14af7, "1.0000000000000001e+23"),
        (0x444b1ae4d6e2ef4e, "999999999999999700000"),
        (0x444b1ae4d6e2ef4f, "999999999999999900000"),
        (0x444b1ae4d6e2ef50, "1e+21"),
        (0x3eb0c6f7a0b5ed8c, "9.999999999999997e-7"),
        (0x3eb0c6f7a0b5ed8d, "0.000001"),
        (0x41b3de4355555553, "333333333.3333332"),
        (0x41b3de4355555554, "333333333.33333325"),
        (0x41b3de4355555555, "333333333.3333333"),
        (0x41b3de4355555557, "333333333.33333343"),
        (0xbecbf647612f3696, "-0.0000033333333333333333"),
    ];
    for (bits, want) in vectors {
        assert_eq!(float(bits), want, "bits {bits:016x}");
    }
    assert_eq!(float(0x43143ff3c1cb0959), "1424953923781206.2");
    assert_eq!(float(0x41b3de4355555556), "333333333.3333334");
    assert_eq!(canonical_json(&json!(1.0)), "1");
    assert_eq!(canonical_json(&json!(-2.5)), "-2.5");
    assert_eq!(canonical_json(&json!(0.1)), "0.1");
    assert_eq!(canonical_json(&json!(1e-7)), "1e-7");
    assert_eq!(canonical_json(&json!(123e18)), "123000000000000000000");
    assert_eq!(canonical_json(&json!(123e20)), "1.23e+22");
    assert_eq!(canonical_json(&json!(1.5e300)), "1.5e+300");
}

// ---------------------------------------------------------------------------------------------
// Sealing, hashing, signing
// ---------------------------------------------------------------------------------------------

#[test]
fn genesis_is_sha256_and_64_zeros() {
    assert_eq!(GENESIS, format!("sha256:{}", "0".repeat(64)));
}

#[test]
fn hash_is_sha256_of_canonical_json_without_hash_and_signature() {
    let r = seal(
        draft("c1", "open", Some("alice"), CaseState::PendingApproval, 1_700_000_000),
        1,
        GENESIS,
        Some(&trusted_key()),
    );
    let canonical = format!(
        concat!(
            r#"{{"action_hash":"sha256:{cd}","actor":"alice","at":1700000000,"case":"c1","decision":"step_up","#,
            r#""detail":{{"approvals":["cfo@corp.com"],"quorum":2}},"event":"open","#,
            r#""identity":{{"agent":"finance-agent","tenant":"acme"}},"#,
            r#""policy":{{"bundle_hash":"sha256:{ab}","name":"payments","version":"1.2.0"}},"#,
            r#""prev":"{genesis}","reason":{{"code":"large_payment","message":"over 10 000 EUR"}},"#,
            r#""seq":1,"state":"pending_approval"}}"#
        ),
        cd = "cd".repeat(32),
        ab = "ab".repeat(32),
        genesis = GENESIS
    );
    let expected = format!("sha256:{}", hex::encode(Sha256::digest(canonical.as_bytes())));
    assert_eq!(r.hash, expected);
    assert_eq!(receipt_hash(&r), expected);
    // The signature and the hash itself are outside what is hashed.
    let mut unsigned = r.clone();
    unsigned.signature = None;
    unsigned.hash = "x".to_string();
    assert_eq!(receipt_hash(&unsigned), expected);
}

#[test]
fn signature_is_over_the_domain_separated_hash() {
    let key = trusted_key();
    let r = seal(draft("c1", "open", None, CaseState::PendingEvidence, 5), 1, GENESIS, Some(&key));
    let sig = r.signature.clone().unwrap();
    assert_eq!(sig.key_id, bundle::key_id(&key.verifying_key()));
    assert_eq!(sig.key_id.len(), 16);
    let bytes: [u8; 64] = hex::decode(&sig.sig).unwrap().try_into().unwrap();
    let mut message = SIGNATURE_CONTEXT.to_vec();
    message.extend_from_slice(r.hash.as_bytes());
    assert_eq!(SIGNATURE_CONTEXT, b"aarm receipt v1\0");
    key.verifying_key().verify(&message, &Signature::from_bytes(&bytes)).unwrap();
    // Not a signature over the bare hash.
    assert!(key.verifying_key().verify(r.hash.as_bytes(), &Signature::from_bytes(&bytes)).is_err());
    assert_eq!(sign_hash(&r.hash, &key), sig);
}

#[test]
fn seal_sets_seq_prev_and_keeps_the_draft() {
    let d = draft("c9", "cancel", Some("host"), CaseState::Cancelled, 42);
    let r = seal(d.clone(), 17, "sha256:1234", None);
    assert_eq!((r.seq, r.prev.as_str(), &r.body, &r.signature), (17, "sha256:1234", &d, &None));
    assert!(r.hash.starts_with("sha256:") && r.hash.len() == 71);
}

#[test]
fn signed_chain_round_trip() {
    let key = trusted_key();
    let chain = sample_chain(Some(&key));
    let keys = [key.verifying_key()];
    let head = chain.last().unwrap().hash.clone();
    let report = verify_chain(&chain, &opts(&keys, true, Some(&head))).unwrap();
    assert_eq!(
        report,
        VerifyReport { count: 5, first_seq: 1, last_seq: 5, head: head.clone(), signed: 5, unchecked_signatures: 0 }
    );
    // Without keys the signatures cannot be checked: counted, not verified.
    let report = verify_chain(&chain, &opts(&[], false, None)).unwrap();
    assert_eq!((report.signed, report.unchecked_signatures), (0, 5));
    // Requiring signatures without a key is refused outright.
    assert_eq!(verify_chain(&chain, &opts(&[], true, None)), Err(ChainError::NoKeys));
    assert_eq!(verify_subsequence(&chain, &opts(&[], true, None)), Err(ChainError::NoKeys));
    // Only another key: unknown.
    let other = [attacker_key().verifying_key()];
    assert_eq!(
        verify_chain(&chain, &opts(&other, false, None)),
        Err(ChainError::UnknownKey { seq: 1, key_id: bundle::key_id(&key.verifying_key()) })
    );
}

#[test]
fn unsigned_chain_round_trip() {
    let chain = sample_chain(None);
    let head = chain.last().unwrap().hash.clone();
    let report = verify_chain(&chain, &opts(&[], false, Some(&head))).unwrap();
    assert_eq!(report, VerifyReport { count: 5, first_seq: 1, last_seq: 5, head, signed: 0, unchecked_signatures: 0 });
    let keys = [trusted_key().verifying_key()];
    assert_eq!(verify_chain(&chain, &opts(&keys, true, None)), Err(ChainError::MissingSignature { seq: 1 }));
    // Keys given but signatures not required: unsigned receipts pass.
    assert!(verify_chain(&chain, &opts(&keys, false, None)).is_ok());
}

#[test]
fn empty_chain() {
    let report = verify_chain(&[], &opts(&[], false, None)).unwrap();
    assert_eq!(
        report,
        VerifyReport {
            count: 0,
            first_seq: 0,
            last_seq: 0,
            head: GENESIS.to_string(),
            signed: 0,
            unchecked_signatures: 0
        }
    );
    assert!(verify_chain(&[], &opts(&[], false, Some(GENESIS))).is_ok());
    assert!(matches!(verify_chain(&[], &opts(&[], false, Some("sha256:1"))), Err(ChainError::HeadMismatch { .. })));
}

#[test]
fn specific_tampering_is_named() {
    let key = trusted_key();
    let keys = [key.verifying_key()];
    let chain = sample_chain(Some(&key));
    let head = chain.last().unwrap().hash.clone();
    let o = opts(&keys, true, Some(&head));

    let mut c = chain.clone();
    c[2].body.state = CaseState::Allowed;
    assert_eq!(verify_chain(&c, &o), Err(ChainError::Edited { seq: 3 }));

    let mut c = chain.clone();
    c.remove(2);
    assert_eq!(verify_chain(&c, &o), Err(ChainError::SeqGap { expected: 3, found: 4 }));

    let mut c = chain.clone();
    c.pop();
    assert_eq!(
        verify_chain(&c, &o),
        Err(ChainError::HeadMismatch { expected: head.clone(), found: chain[3].hash.clone() })
    );

    let mut c = chain.clone();
    c.remove(0);
    assert_eq!(verify_chain(&c, &o), Err(ChainError::SeqGap { expected: 1, found: 2 }));

    let mut c = chain.clone();
    c.swap(1, 3);
    assert_eq!(verify_chain(&c, &o), Err(ChainError::SeqGap { expected: 2, found: 4 }));

    let mut c = chain.clone();
    c.swap(3, 4);
    assert_eq!(verify_chain(&c, &o), Err(ChainError::SeqGap { expected: 4, found: 5 }));

    let mut c = chain.clone();
    c.insert(2, chain[1].clone());
    assert_eq!(verify_chain(&c, &o), Err(ChainError::Reordered { expected: 3, found: 2 }));

    // Renumbered and re-hashed but not re-linked.
    let mut c = chain.clone();
    c[2].prev = chain[0].hash.clone();
    c[2].hash = receipt_hash(&c[2]);
    c[2].signature = Some(sign_hash(&c[2].hash, &key));
    assert_eq!(verify_chain(&c, &o), Err(ChainError::PrevMismatch { seq: 3 }));

    // Edited, re-hashed, re-signed by the key holder: the next link breaks.
    let mut c = chain.clone();
    c[1].body.actor = Some("mallory".to_string());
    c[1].hash = receipt_hash(&c[1]);
    c[1].signature = Some(sign_hash(&c[1].hash, &key));
    assert_eq!(verify_chain(&c, &o), Err(ChainError::PrevMismatch { seq: 3 }));

    // Edited, re-hashed, re-signed by someone else.
    let mut c = chain.clone();
    c[1].body.at += 1;
    c[1].hash = receipt_hash(&c[1]);
    c[1].signature = Some(sign_hash(&c[1].hash, &attacker_key()));
    assert_eq!(
        verify_chain(&c, &o),
        Err(ChainError::UnknownKey { seq: 2, key_id: bundle::key_id(&attacker_key().verifying_key()) })
    );

    // A signature moved from another receipt, or with a forged key id.
    let mut c = chain.clone();
    c[1].signature = chain[2].signature.clone();
    assert_eq!(verify_chain(&c, &o), Err(ChainError::BadSignature { seq: 2 }));
    let mut c = chain.clone();
    c[1].signature = Some(ReceiptSignature { key_id: "00".repeat(8), sig: "00".repeat(64) });
    assert_eq!(verify_chain(&c, &o), Err(ChainError::UnknownKey { seq: 2, key_id: "00".repeat(8) }));
    let mut c = chain.clone();
    c[1].signature.as_mut().unwrap().sig = "zz".to_string();
    assert_eq!(verify_chain(&c, &o), Err(ChainError::BadSignature { seq: 2 }));
    let mut c = chain.clone();
    c[4].signature = None;
    assert_eq!(verify_chain(&c, &o), Err(ChainError::MissingSignature { seq: 5 }));

    // A receipt claiming seq 1 with some other prev, or another seq with the genesis prev.
    let mut c = chain.clone();
    c[0].prev = chain[4].hash.clone();
    c[0].hash = receipt_hash(&c[0]);
    c[0].signature = Some(sign_hash(&c[0].hash, &key));
    assert_eq!(verify_chain(&c[..1], &opts(&keys, true, None)), Err(ChainError::PrevMismatch { seq: 1 }));
}

#[test]
fn tail_of_a_chain_verifies_without_from_genesis() {
    let chain = sample_chain(None);
    let tail = &chain[2..];
    let o = VerifyOptions { keys: &[], require_signatures: false, expected_head: None, from_genesis: false };
    let report = verify_chain(tail, &o).unwrap();
    assert_eq!((report.count, report.first_seq, report.last_seq), (3, 3, 5));
    assert_eq!(
        verify_chain(tail, &VerifyOptions { from_genesis: true, ..o }),
        Err(ChainError::SeqGap { expected: 1, found: 3 })
    );
}

#[test]
fn subsequence_of_one_case() {
    let key = trusted_key();
    let keys = [key.verifying_key()];
    let chain = sample_chain(Some(&key));
    let c1: Vec<Receipt> = chain.iter().filter(|r| r.body.case == "c1").cloned().collect();
    let c2: Vec<Receipt> = chain.iter().filter(|r| r.body.case == "c2").cloned().collect();
    let o = VerifyOptions { keys: &keys, require_signatures: true, expected_head: None, from_genesis: false };
    let report = verify_subsequence(&c1, &o).unwrap();
    assert_eq!((report.count, report.first_seq, report.last_seq, report.signed), (3, 1, 5, 3));
    assert!(verify_subsequence(&c2, &o).is_ok());
    // The whole chain is a subsequence of itself.
    assert!(verify_subsequence(&chain, &o).is_ok());
    // Not a contiguous chain.
    assert_eq!(verify_chain(&c1, &o), Err(ChainError::SeqGap { expected: 2, found: 3 }));

    let mut t = c1.clone();
    t[1].body.actor = Some("mallory".to_string());
    assert_eq!(verify_subsequence(&t, &o), Err(ChainError::Edited { seq: 3 }));
    let mut t = c1.clone();
    t.swap(0, 2);
    assert_eq!(verify_subsequence(&t, &o), Err(ChainError::Reordered { expected: 6, found: 3 }));
    let mut t = c1.clone();
    t.insert(1, c1[1].clone());
    assert_eq!(verify_subsequence(&t, &o), Err(ChainError::Reordered { expected: 4, found: 3 }));
    // Adjacent seqs are still linked: a re-hashed, re-signed receipt 2 that breaks the link to 1.
    let mut t = chain[..2].to_vec();
    t[1].prev = "sha256:ff".to_string();
    t[1].hash = receipt_hash(&t[1]);
    t[1].signature = Some(sign_hash(&t[1].hash, &key));
    assert_eq!(verify_subsequence(&t, &o), Err(ChainError::PrevMismatch { seq: 2 }));
    // An unsigned forgery in a gap is caught when signatures are required...
    let mut t = c1.clone();
    t.insert(1, seal(draft("c1", "approve", Some("mallory"), CaseState::Allowed, 9), 2, &chain[0].hash, None));
    assert_eq!(verify_subsequence(&t, &o), Err(ChainError::MissingSignature { seq: 2 }));
    // ...but, as documented, not without them, when it links correctly; nor a removal.
    let lax = VerifyOptions { keys: &[], require_signatures: false, expected_head: None, from_genesis: false };
    // (Seq 3 is not adjacent to the kept 1 and 5, so its links are not checked: it is replaced.)
    let forged = vec![
        c1[0].clone(),
        seal(draft("c1", "approve", Some("mallory"), CaseState::Allowed, 9), 3, "sha256:00", None),
        c1[2].clone(),
    ];
    assert!(verify_subsequence(&forged, &lax).is_ok());
    // Where the gap is one receipt wide, the links on both sides are checked.
    let mut tight = c1.clone();
    tight.insert(1, seal(draft("c1", "approve", Some("mallory"), CaseState::Allowed, 9), 2, &chain[0].hash, None));
    assert_eq!(verify_subsequence(&tight, &lax), Err(ChainError::PrevMismatch { seq: 3 }));
    assert!(verify_subsequence(&c1[1..], &lax).is_ok());
    // The head, when known, catches a removal at the end.
    let head = c1.last().unwrap().hash.clone();
    assert!(matches!(
        verify_subsequence(&c1[..2], &VerifyOptions { expected_head: Some(&head), ..o }),
        Err(ChainError::HeadMismatch { .. })
    ));
}

// ---------------------------------------------------------------------------------------------
// JSON lines
// ---------------------------------------------------------------------------------------------

#[test]
fn json_lines_round_trip() {
    for signer in [None, Some(trusted_key())] {
        let chain = sample_chain(signer.as_ref());
        let text = to_json_lines(&chain);
        assert_eq!(text.lines().count(), chain.len());
        assert!(text.ends_with('\n'));
        let first = text.lines().next().unwrap();
        assert!(first.starts_with(r#"{"seq":1,"case":"c1","event":"open","#), "{first}");
        assert!(!first.contains(": ") && !first.contains(", "));
        assert_eq!(from_json_lines(&text).unwrap(), chain);
        // Blank lines and CRLF endings are tolerated.
        let crlf = text.replace('\n', "\r\n\r\n");
        assert_eq!(from_json_lines(&crlf).unwrap(), chain);
    }
    assert_eq!(from_json_lines("").unwrap(), vec![]);
}

#[test]
fn json_lines_malformed() {
    let chain = sample_chain(None);
    let text = to_json_lines(&chain);
    let mut lines: Vec<String> = text.lines().map(str::to_string).collect();

    let line_err = |text: &str| match from_json_lines(text) {
        Err(ChainError::Malformed { line, message }) => (line, message),
        other => panic!("expected Malformed, got {other:?}"),
    };

    // Not JSON.
    let mut l = lines.clone();
    l[2] = "{\"seq\": 3,".to_string();
    assert_eq!(line_err(&l.join("\n")).0, 3);
    // Not an object.
    assert_eq!(line_err("[1,2]").0, 1);
    // A missing field.
    let mut v: Value = serde_json::from_str(&lines[0]).unwrap();
    v.as_object_mut().unwrap().remove("state");
    assert_eq!(line_err(&serde_json::to_string(&v).unwrap()).0, 1);
    // A mistyped field.
    let mut v: Value = serde_json::from_str(&lines[0]).unwrap();
    v["at"] = json!("yesterday");
    assert_eq!(line_err(&serde_json::to_string(&v).unwrap()).0, 1);
    // A field a receipt does not have (the hash would not cover it).
    let mut v: Value = serde_json::from_str(&lines[1]).unwrap();
    v["approved_by"] = json!("ceo");
    lines[1] = serde_json::to_string(&v).unwrap();
    let (line, message) = line_err(&lines.join("\n"));
    assert_eq!(line, 2);
    assert!(message.contains("approved_by"), "{message}");
    // An unknown nested field.
    let mut v: Value = serde_json::from_str(text.lines().next().unwrap()).unwrap();
    v["reason"]["extra"] = json!(1);
    assert_eq!(line_err(&serde_json::to_string(&v).unwrap()).0, 1);
    // A repeated key.
    let first = text.lines().next().unwrap();
    let doubled = first.replacen(r#""event":"open","#, r#""event":"open","event":"cancel","#, 1);
    assert_ne!(doubled, first);
    let (_, message) = line_err(&doubled);
    assert!(message.contains("twice"), "{message}");
    // An omitted `signature` is the same as null.
    let mut v: Value = serde_json::from_str(first).unwrap();
    v.as_object_mut().unwrap().remove("signature");
    assert_eq!(from_json_lines(&serde_json::to_string(&v).unwrap()).unwrap(), vec![chain[0].clone()]);
    // The error names the line.
    let err = ChainError::Malformed { line: 7, message: "x".to_string() };
    assert!(err.to_string().starts_with("line 7:"));
}

// ---------------------------------------------------------------------------------------------
// Random chains, random tampering
// ---------------------------------------------------------------------------------------------

const STATES: [CaseState; 6] = [
    CaseState::PendingApproval,
    CaseState::PendingEvidence,
    CaseState::Allowed,
    CaseState::Modified,
    CaseState::Denied,
    CaseState::Cancelled,
];

fn json_leaf() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(|i| json!(i)),
        any::<u64>().prop_map(|u| json!(u)),
        "[a-z0-9 \\\\\"\u{0}-\u{1f}é€😀]{0,8}".prop_map(Value::String),
    ]
}

fn json_value() -> impl Strategy<Value = Value> {
    json_leaf().prop_recursive(3, 12, 4, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            proptest::collection::btree_map("[a-z_\u{80}-\u{ff}😀]{0,5}", inner, 0..4)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

fn arb_draft() -> impl Strategy<Value = ReceiptDraft> {
    (
        (
            "c[0-3]",
            prop::sample::select(vec![
                "open",
                "approve",
                "deny",
                "provide",
                "reevaluate",
                "escalate",
                "timeout",
                "cancel",
            ]),
        ),
        proptest::option::of("[a-z@.]{1,10}"),
        prop::sample::select(STATES.to_vec()),
        ("[a-z_]{1,8}", "[a-z_]{1,8}", ".{0,12}"),
        any::<i64>(),
        (json_value(), json_value()),
    )
        .prop_map(|((case, event), actor, state, (decision, code, message), at, (identity, detail))| {
            ReceiptDraft {
                case,
                event: event.to_string(),
                actor,
                state,
                decision,
                reason: Reason { code: code.into(), message },
                policy: PolicyRef::new("p", "1", GENESIS),
                action_hash: format!("sha256:{}", "0f".repeat(32)),
                identity,
                at,
                detail,
            }
        })
}

#[derive(Clone, Debug)]
enum Tamper {
    /// Change one field of one receipt (the hash left as it was).
    Edit {
        at: usize,
        field: u8,
    },
    /// Change one field, then recompute the hash (and re-sign with the trusted key when signed).
    EditRehashed {
        at: usize,
        field: u8,
    },
    Remove {
        at: usize,
    },
    Swap {
        a: usize,
        b: usize,
    },
    /// Insert a forged receipt with a recomputed hash; `link`: with the right seq and prev for
    /// its position (so only later links break, or — at the end — only the head).
    Insert {
        at: usize,
        link: bool,
        draft: Box<ReceiptDraft>,
    },
    /// Re-sign one receipt with a key the verifier does not know.
    ResignUnknown {
        at: usize,
    },
    /// Drop one receipt's signature.
    StripSignature {
        at: usize,
    },
    /// Duplicate one receipt in place.
    Duplicate {
        at: usize,
    },
}

fn arb_tamper() -> impl Strategy<Value = Tamper> {
    prop_oneof![
        (any::<usize>(), 0u8..14).prop_map(|(at, field)| Tamper::Edit { at, field }),
        (any::<usize>(), 0u8..12).prop_map(|(at, field)| Tamper::EditRehashed { at, field }),
        any::<usize>().prop_map(|at| Tamper::Remove { at }),
        (any::<usize>(), any::<usize>()).prop_map(|(a, b)| Tamper::Swap { a, b }),
        (any::<usize>(), any::<bool>(), arb_draft()).prop_map(|(at, link, draft)| Tamper::Insert {
            at,
            link,
            draft: Box::new(draft)
        }),
        any::<usize>().prop_map(|at| Tamper::ResignUnknown { at }),
        any::<usize>().prop_map(|at| Tamper::StripSignature { at }),
        any::<usize>().prop_map(|at| Tamper::Duplicate { at }),
    ]
}

/// Changes one field of a receipt so that it differs from before. Fields 0..12 are in the hashed
/// content (body, seq, prev); 12 and 13 are the hash and the signature.
fn edit_field(r: &mut Receipt, field: u8) {
    let b = &mut r.body;
    match field {
        0 => {
            let i = STATES.iter().position(|s| *s == b.state).unwrap();
            b.state = STATES[(i + 1) % STATES.len()];
        }
        1 => b.actor = if b.actor.is_some() { None } else { Some("mallory".to_string()) },
        2 => b.at = b.at.wrapping_add(1),
        3 => b.detail = json!({"tampered": b.detail.clone()}),
        4 => b.case.push('x'),
        5 => b.event.push('x'),
        6 => b.decision.push('x'),
        7 => b.reason.message.push(' '),
        8 => b.policy.make_mut().version = format!("{}.1", b.policy.version),
        9 => b.identity = json!([b.identity.clone()]),
        10 => r.seq = r.seq.wrapping_add(1),
        11 => r.prev = format!("sha256:{}", "11".repeat(32)),
        12 => r.hash = format!("sha256:{}", "22".repeat(32)),
        _ => match &mut r.signature {
            Some(s) => s.sig = format!("{}{}", if s.sig.starts_with('0') { '1' } else { '0' }, &s.sig[1..]),
            None => r.body.at = r.body.at.wrapping_sub(1),
        },
    }
}

/// The significant digits and the decimal exponent of the first, of a decimal number's text.
fn digits_and_exponent(text: &str) -> (String, i64) {
    let text = text.trim_start_matches('-');
    let (mantissa, exp) = text.split_once(['e', 'E']).unwrap_or((text, "0"));
    let exp: i64 = exp.trim_start_matches('+').parse().unwrap();
    let (int, frac) = mantissa.split_once('.').unwrap_or((mantissa, ""));
    let all = format!("{int}{frac}");
    let leading = all.len() - all.trim_start_matches('0').len();
    let digits = all.trim_start_matches('0').trim_end_matches('0').to_string();
    (digits, exp + int.len() as i64 - 1 - leading as i64)
}

/// Applies a tamper; `false` when it does not apply to this chain (nothing changed).
fn apply(chain: &mut Vec<Receipt>, tamper: &Tamper, signed: bool) -> bool {
    let n = chain.len();
    let trusted = trusted_key();
    match tamper {
        Tamper::Edit { at, field } => edit_field(&mut chain[at % n], *field),
        Tamper::EditRehashed { at, field } => {
            let r = &mut chain[at % n];
            edit_field(r, *field);
            r.hash = receipt_hash(r);
            if signed {
                r.signature = Some(sign_hash(&r.hash, &trusted));
            }
        }
        Tamper::Remove { at } => {
            chain.remove(at % n);
        }
        Tamper::Swap { a, b } => {
            let (a, b) = (a % n, b % n);
            if a == b {
                return false;
            }
            chain.swap(a, b);
        }
        Tamper::Insert { at, link, draft } => {
            let pos = at % (n + 1);
            let (seq, prev) = if *link {
                (pos as u64 + 1, if pos == 0 { GENESIS.to_string() } else { chain[pos - 1].hash.clone() })
            } else {
                (pos as u64 + 1, format!("sha256:{}", "33".repeat(32)))
            };
            // A forger without the trusted key: unsigned.
            chain.insert(pos, seal((**draft).clone(), seq, &prev, None));
        }
        Tamper::ResignUnknown { at } => {
            let r = &mut chain[at % n];
            r.signature = Some(sign_hash(&r.hash, &attacker_key()));
        }
        Tamper::StripSignature { at } => {
            let r = &mut chain[at % n];
            if r.signature.is_none() {
                return false;
            }
            r.signature = None;
        }
        Tamper::Duplicate { at } => {
            let r = chain[at % n].clone();
            chain.insert(at % n, r);
        }
    }
    true
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(96))]

    #[test]
    fn any_tampering_is_detected(
        drafts in proptest::collection::vec(arb_draft(), 1..6),
        signed in any::<bool>(),
        tamper in arb_tamper(),
    ) {
        let key = trusted_key();
        let keys = [key.verifying_key()];
        let chain = chain_of(drafts, signed.then_some(&key));
        let head = chain.last().unwrap().hash.clone();
        // Signed chains: signatures required. Unsigned: the verifier knows the head instead.
        let o = if signed {
            VerifyOptions { keys: &keys, require_signatures: true, expected_head: None, from_genesis: true }
        } else {
            VerifyOptions { keys: &keys, require_signatures: false, expected_head: Some(&head), from_genesis: true }
        };
        let report = verify_chain(&chain, &o).unwrap();
        prop_assert_eq!(report.count, chain.len());
        prop_assert_eq!(report.signed, if signed { chain.len() } else { 0 });

        let mut tampered = chain.clone();
        if apply(&mut tampered, &tamper, signed) {
            // With signatures required, only the end can still be cut off unnoticed without a
            // head: add the head for removals of the last receipt.
            let o = if signed { VerifyOptions { expected_head: Some(&head), ..o } } else { o };
            let result = verify_chain(&tampered, &o);
            prop_assert!(result.is_err(), "undetected {:?}: {:?}", tamper, result);
            // And the JSON-lines round trip keeps it detectable.
            let back = from_json_lines(&to_json_lines(&tampered)).unwrap();
            prop_assert!(verify_chain(&back, &o).is_err());
        }
    }

    #[test]
    fn content_tampering_is_detected_in_any_subsequence(
        drafts in proptest::collection::vec(arb_draft(), 2..7),
        keep in proptest::collection::vec(any::<bool>(), 7),
        at in any::<usize>(),
        field in 0u8..13,
    ) {
        let chain = chain_of(drafts, None);
        let sub: Vec<Receipt> =
            chain.iter().zip(keep.iter().chain(std::iter::repeat(&true))).filter(|(_, k)| **k).map(|(r, _)| r.clone()).collect();
        let o = VerifyOptions { keys: &[], require_signatures: false, expected_head: None, from_genesis: false };
        prop_assert!(verify_subsequence(&sub, &o).is_ok());
        if !sub.is_empty() {
            let mut t = sub.clone();
            let i = at % t.len();
            edit_field(&mut t[i], field);
            prop_assert!(verify_subsequence(&t, &o).is_err());
        }
        if sub.len() >= 2 {
            let mut t = sub.clone();
            t.swap(at % sub.len(), (at + 1) % sub.len());
            prop_assert!(verify_subsequence(&t, &o).is_err());
        }
    }

    /// The ECMAScript form of any finite double parses back to it, and has the same digits as
    /// serde_json's (ryu's) shortest form, which also breaks ties to even.
    #[test]
    fn float_formatting_round_trips(bits in any::<u64>()) {
        let x = f64::from_bits(bits);
        prop_assume!(x.is_finite());
        let text = canonical_json(&Value::Number(Number::from_f64(x).unwrap()));
        prop_assert_eq!(text.parse::<f64>().unwrap(), if x == 0.0 { 0.0 } else { x });
        prop_assert_eq!(digits_and_exponent(&text), digits_and_exponent(&serde_json::to_string(&x).unwrap()));
    }

    #[test]
    fn json_lines_round_trip_random(drafts in proptest::collection::vec(arb_draft(), 0..6), signed in any::<bool>()) {
        let key = trusted_key();
        let chain = chain_of(drafts, signed.then_some(&key));
        let back = from_json_lines(&to_json_lines(&chain)).unwrap();
        prop_assert_eq!(&back, &chain);
        let keys = [key.verifying_key()];
        prop_assert!(verify_chain(&back, &opts(&keys, signed, None)).is_ok());
    }
}

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]
//! The `.aarmb` format: round trips, signatures, and refusal of every damaged or hostile file.

use aarm_runtime::bundle::{
    decode, encode, generate_signing_key_hex, key_id, read_info, signing_key_from_file_bytes,
    verifying_key_from_file_bytes, BundleError, FORMAT_VERSION, MAGIC,
};
use aarm_runtime::bytecode::{Chunk, MethodOp, Op};
use aarm_runtime::policy::*;
use aarm_runtime::program::*;
use aarm_runtime::schema::{EvidenceSchema, FieldSchema, Schema, ToolSchema, ValueType};
use aarm_runtime::verify::VerifyError;
use ed25519_dalek::{SigningKey, VerifyingKey};
use proptest::prelude::*;
use sha2::{Digest, Sha256};

const COMPILER: &str = "aarm 0.1.0 (test)";

fn chunk(code: Vec<Op>) -> Chunk {
    Chunk { code, locals: 0, params: 0, spans: Vec::new() }
}

/// One tool `send_email { to }`, one evidence fact, a deny rule with an interpolated reason and
/// an `on *` allow rule.
fn program() -> Program {
    let rule = |name: &str, priority: i64, order: u32, decision: DecisionTemplate, reason: Vec<ReasonPart>| RuleMeta {
        name: name.to_string(),
        qualified_name: format!("p.{name}").into(),
        policy: 0,
        priority,
        order,
        risk: Some(Risk::High),
        confidence: None,
        decision,
        reason_code: format!("p.{name}").into(),
        reason,
        doc: Some("a rule".to_string()),
        location: format!("p.aarm:{order}"),
        // A rule's `valid` travels in the payload (format 4): the round trip below compares it.
        valid_s: Some(30),
    };
    Program {
        compiler_version: COMPILER.to_string(),
        policies: vec![PolicyMeta { name: "p".to_string(), version: "1.0.0".to_string(), doc: None }],
        schema: Schema {
            tools: vec![ToolSchema {
                name: "send_email".to_string(),
                fields: vec![FieldSchema { name: "to".into(), ty: ValueType::String }],
                doc: None,
            }],
            context: vec![],
            evidence: vec![EvidenceSchema {
                name: "approved".to_string(),
                ty: ValueType::Bool,
                source: "crm".to_string(),
            }],
            by_name: Default::default(),
        },
        groups: vec![],
        consts: vec![Const::Str("@corp.com".to_string())],
        regexes: vec![],
        chunks: vec![
            chunk(vec![Op::Param(0), Op::Const(0), Op::Method(MethodOp::EndsWith), Op::Not, Op::Ret]),
            chunk(vec![Op::Param(0), Op::Ret]),
            chunk(vec![Op::Evidence(0), Op::Ret]),
        ],
        functions: vec![],
        rules: vec![
            rule("external", 10, 0, DecisionTemplate::Deny, vec![ReasonPart::Text("to ".into()), ReasonPart::Expr(0)]),
            rule("approved", 0, 1, DecisionTemplate::Allow, vec![]),
        ],
        dispatch: vec![vec![
            Candidate { rule: 0, condition: 0, reason_chunks: vec![1], assignments: vec![] },
            Candidate { rule: 1, condition: 2, reason_chunks: vec![], assignments: vec![] },
        ]],
        dispatch_any: vec![Candidate { rule: 1, condition: 2, reason_chunks: vec![], assignments: vec![] }],
        settings: Settings { defer_timeout_s: 300, ..Settings::default() },
        spans: Default::default(),
        overrides: vec![],
    }
}

fn key(seed: u8) -> SigningKey {
    SigningKey::from_bytes(&[seed; 32])
}

fn payload(p: &Program) -> Vec<u8> {
    bincode::serde::encode_to_vec(p, bincode::config::standard()).unwrap()
}

/// An unsigned bundle built from the byte layout documented in `bundle.rs`.
fn frame(compiler_version: &str, payload: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    out.extend_from_slice(b"AARMB\0\r\n");
    out.extend_from_slice(&FORMAT_VERSION.to_le_bytes());
    out.extend_from_slice(&(compiler_version.len() as u16).to_le_bytes());
    out.extend_from_slice(compiler_version.as_bytes());
    out.push(0);
    out.extend_from_slice(&(payload.len() as u64).to_le_bytes());
    let digest = Sha256::new().chain_update(&out).chain_update(payload).finalize();
    out.extend_from_slice(&digest);
    out.extend_from_slice(payload);
    out
}

#[test]
fn round_trip_unsigned() {
    let p = program();
    let bytes = encode(&p, None).unwrap();
    let (info, decoded) = decode(&bytes, &[], false).unwrap();
    assert_eq!(decoded, p);
    assert_eq!(info.format_version, FORMAT_VERSION);
    assert_eq!(info.compiler_version, COMPILER);
    assert!(!info.signed);
    assert_eq!(info.key_id, None);
    let hash = info.hash_string();
    assert!(hash.starts_with("sha256:"));
    assert_eq!(hash.len(), 7 + 64);
    assert!(hash[7..].chars().all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase()));
    assert_eq!(read_info(&bytes).unwrap(), info);
    // Deterministic.
    assert_eq!(encode(&p, None).unwrap(), bytes);
}

#[test]
fn layout_is_as_documented() {
    let p = program();
    assert_eq!(encode(&p, None).unwrap(), frame(COMPILER, &payload(&p)));
    assert_eq!(&encode(&p, None).unwrap()[..8], &MAGIC);
}

#[test]
fn round_trip_signed_with_trusted_key() {
    let p = program();
    let k = key(7);
    let bytes = encode(&p, Some(&k)).unwrap();
    let (info, decoded) = decode(&bytes, &[k.verifying_key()], true).unwrap();
    assert_eq!(decoded, p);
    assert!(info.signed);
    let id = key_id(&k.verifying_key());
    assert_eq!(id.len(), 16);
    assert_eq!(id, hex::encode(&Sha256::digest(k.verifying_key().as_bytes())[..8]));
    assert_eq!(info.key_id.as_deref(), Some(id.as_str()));
    assert_eq!(read_info(&bytes).unwrap(), info);
    // Among several trusted keys; and with no trusted keys configured the signature still verifies.
    assert!(decode(&bytes, &[key(1).verifying_key(), k.verifying_key()], true).is_ok());
    assert!(decode(&bytes, &[], false).is_ok());
    // Signed and unsigned bundles of one program differ in hash (the flag and key are hashed).
    let unsigned = read_info(&encode(&p, None).unwrap()).unwrap();
    assert_ne!(unsigned.sha256, info.sha256);
}

#[test]
fn untrusted_key_refused() {
    let bytes = encode(&program(), Some(&key(7))).unwrap();
    let err = decode(&bytes, &[key(8).verifying_key()], false).unwrap_err();
    let BundleError::UnknownKey { key_id: id } = &err else { panic!("{err:?}") };
    assert_eq!(id, &key_id(&key(7).verifying_key()));
    assert!(err.to_string().contains(id.as_str()), "{err}");
}

#[test]
fn signature_by_another_key_is_invalid() {
    // Replace the embedded public key with another one (and fix up the digest so that only the
    // signature check can catch it): the signature does not verify under the substituted key.
    let p = program();
    let signer = key(7);
    let claimed = key(8).verifying_key();
    let mut bytes = encode(&p, Some(&signer)).unwrap();
    let pk_at = 8 + 2 + 2 + COMPILER.len() + 1;
    bytes[pk_at..pk_at + 32].copy_from_slice(claimed.as_bytes());
    let hashed_end = pk_at + 32 + 8;
    let payload_start = hashed_end + 32 + 64;
    let digest = Sha256::new().chain_update(&bytes[..hashed_end]).chain_update(&bytes[payload_start..]).finalize();
    bytes[hashed_end..hashed_end + 32].copy_from_slice(&digest);
    for trusted in [vec![], vec![claimed]] {
        let err = decode(&bytes, &trusted, true).unwrap_err();
        assert!(matches!(err, BundleError::SignatureInvalid { .. }), "{err:?}");
    }
}

#[test]
fn unsigned_refused_when_signature_required() {
    let bytes = encode(&program(), None).unwrap();
    let err = decode(&bytes, &[key(7).verifying_key()], true).unwrap_err();
    assert!(matches!(err, BundleError::SignatureMissing), "{err:?}");
    assert!(matches!(decode(&bytes, &[], true), Err(BundleError::SignatureMissing)));
    // Not required: accepted even with trusted keys configured.
    assert!(decode(&bytes, &[key(7).verifying_key()], false).is_ok());
}

/// Every bit flip anywhere, in signed and unsigned bundles, is refused (never a panic, never a
/// success), whatever the host's key configuration.
#[test]
fn tamper_any_byte() {
    let p = program();
    let k = key(3);
    let unsigned = encode(&p, None).unwrap();
    let signed = encode(&p, Some(&k)).unwrap();
    let configs: Vec<(Vec<VerifyingKey>, bool)> =
        vec![(vec![], false), (vec![], true), (vec![k.verifying_key()], false), (vec![k.verifying_key()], true)];
    for bytes in [&unsigned, &signed] {
        for i in 0..bytes.len() {
            for mask in [0x01u8, 0x80, 0xff, 0x10] {
                let mut t = bytes.clone();
                t[i] ^= mask;
                for (trusted, require) in &configs {
                    let r = decode(&t, trusted, *require);
                    assert!(r.is_err(), "byte {i} ^ {mask:#04x} accepted (signed: {})", bytes == &signed);
                }
            }
        }
    }
}

#[test]
fn tamper_error_kinds() {
    let p = program();
    let bytes = encode(&p, Some(&key(3))).unwrap();
    let vlen = COMPILER.len();
    let flip_with = |i: usize, mask: u8| {
        let mut t = bytes.clone();
        t[i] ^= mask;
        decode(&t, &[], false).unwrap_err()
    };
    let flip = |i: usize| flip_with(i, 0x01);
    assert!(matches!(flip(0), BundleError::BadMagic));
    let e = flip_with(8, 0x07); // 4 -> 3
    assert!(matches!(e, BundleError::UnsupportedVersion { found: 3, supported: FORMAT_VERSION }), "{e:?}");
    assert!(e.to_string().contains("version 3") && e.to_string().contains("version 4"), "{e}");
    assert!(matches!(flip(12), BundleError::HashMismatch { .. })); // compiler version text
    assert!(matches!(flip_with(12 + vlen, 0x02), BundleError::BadHeader(_))); // flag 1 -> 3
    assert!(matches!(flip(12 + vlen + 1), BundleError::HashMismatch { .. })); // public key
    let len_at = 12 + vlen + 1 + 32;
    assert!(matches!(flip(len_at), BundleError::Truncated { .. } | BundleError::TrailingBytes { .. }));
    assert!(matches!(flip(len_at + 8), BundleError::HashMismatch { .. })); // digest
    assert!(matches!(flip(len_at + 8 + 32), BundleError::SignatureInvalid { .. })); // signature
    assert!(matches!(flip(bytes.len() - 1), BundleError::HashMismatch { .. })); // payload
}

#[test]
fn truncation_at_every_length_refused() {
    for bytes in [encode(&program(), None).unwrap(), encode(&program(), Some(&key(5))).unwrap()] {
        for n in 0..bytes.len() {
            let r = decode(&bytes[..n], &[], false);
            assert!(r.is_err(), "truncated to {n} bytes accepted");
        }
        let e = decode(&bytes[..bytes.len() - 1], &[], false).unwrap_err();
        assert!(matches!(e, BundleError::Truncated { .. }), "{e:?}");
        assert!(matches!(decode(&bytes[..3], &[], false), Err(BundleError::Truncated { .. })));
        assert!(matches!(decode(&[], &[], false), Err(BundleError::Truncated { .. })));
    }
}

#[test]
fn appended_bytes_refused() {
    for bytes in [encode(&program(), None).unwrap(), encode(&program(), Some(&key(5))).unwrap()] {
        for extra in [&[0u8][..], &[1, 2, 3]] {
            let mut t = bytes.clone();
            t.extend_from_slice(extra);
            let e = decode(&t, &[], false).unwrap_err();
            assert!(matches!(e, BundleError::TrailingBytes { extra: n } if n == extra.len() as u64), "{e:?}");
        }
    }
}

#[test]
fn trailing_bytes_inside_the_payload_refused() {
    // A correctly hashed file whose declared payload holds more than the program.
    let mut pl = payload(&program());
    pl.push(0);
    let e = decode(&frame(COMPILER, &pl), &[], false).unwrap_err();
    assert!(matches!(e, BundleError::Decode(_)), "{e:?}");
}

#[test]
fn garbage_payload_refused() {
    let e = decode(&frame(COMPILER, &[0xff; 40]), &[], false).unwrap_err();
    assert!(matches!(e, BundleError::Decode(_)), "{e:?}");
    let e = decode(&frame(COMPILER, &[]), &[], false).unwrap_err();
    assert!(matches!(e, BundleError::Decode(_)), "{e:?}");
    // A huge length prefix for the first string is refused, not allocated.
    let mut pl = vec![0xfd];
    pl.extend_from_slice(&u64::MAX.to_le_bytes());
    let e = decode(&frame(COMPILER, &pl), &[], false).unwrap_err();
    assert!(matches!(e, BundleError::Decode(_)), "{e:?}");
}

#[test]
fn compiler_version_must_match_payload() {
    let e = decode(&frame("aarm 9.9.9", &payload(&program())), &[], false).unwrap_err();
    assert!(matches!(e, BundleError::CompilerVersionMismatch { .. }), "{e:?}");
}

/// Format version 4 added the `override` declarations, a rule's and a step-up's `valid`,
/// `action_hash_ignores`, the `@redact` marks and `Decimal` constants as `i128` units of 10^-18
/// (version 3 `settings { allow_valid }`, version 2
/// moved the policy vocabulary into one module): an older bundle is refused before its payload is
/// read, by the header and the decoder alike, with both versions named and the fix (rebuild) said.
#[test]
fn an_older_bundle_is_refused_with_a_rebuild_hint() {
    assert_eq!(FORMAT_VERSION, 4);
    for version in [1u16, 2, 3] {
        let mut old = encode(&program(), None).unwrap();
        old[8..10].copy_from_slice(&version.to_le_bytes());
        for e in [read_info(&old).unwrap_err(), decode(&old, &[], false).unwrap_err()] {
            assert!(matches!(e, BundleError::UnsupportedVersion { found, supported: 4 } if found == version), "{e:?}");
            let text = e.to_string();
            assert!(text.contains(&format!("version {version}")) && text.contains("version 4"), "{text}");
            assert!(text.contains("rebuild the bundle"), "{text}");
        }
    }
}

#[test]
fn invalid_header_fields_refused() {
    let bytes = encode(&program(), None).unwrap();
    let flag_at = 12 + COMPILER.len();
    let mut t = bytes.clone();
    t[flag_at] = 2;
    assert!(matches!(decode(&t, &[], false), Err(BundleError::BadHeader(_))));
    assert!(matches!(read_info(&t), Err(BundleError::BadHeader(_))));
    let mut t = bytes.clone();
    t[12] = 0xff; // not UTF-8
    assert!(matches!(read_info(&t), Err(BundleError::BadHeader(_))));
    let mut t = bytes.clone();
    t[8..10].copy_from_slice(&9u16.to_le_bytes());
    let e = read_info(&t).unwrap_err();
    assert!(matches!(e, BundleError::UnsupportedVersion { found: 9, supported: FORMAT_VERSION }));
    assert!(matches!(decode(b"PK\x03\x04 not a bundle", &[], false), Err(BundleError::BadMagic)));
    assert!(matches!(decode(b"AAR", &[], false), Err(BundleError::Truncated { .. })));
    assert!(matches!(decode(b"XAR", &[], false), Err(BundleError::BadMagic)));
}

#[test]
fn read_info_works_on_a_damaged_payload() {
    let k = key(9);
    let mut bytes = encode(&program(), Some(&k)).unwrap();
    let last = bytes.len() - 1;
    bytes[last] ^= 0x55;
    bytes.truncate(bytes.len() - 5);
    let info = read_info(&bytes).unwrap();
    assert!(info.signed);
    assert_eq!(info.key_id, Some(key_id(&k.verifying_key())));
    assert_eq!(info.compiler_version, COMPILER);
    assert!(decode(&bytes, &[], false).is_err());
}

#[test]
fn verifier_runs_on_load() {
    let mut p = program();
    p.chunks[1].code = vec![Op::Param(0), Op::Param(0), Op::Ret];
    let bytes = encode(&p, None).unwrap();
    let e = decode(&bytes, &[], false).unwrap_err();
    assert!(matches!(e, BundleError::Verify(VerifyError::RetDepth { .. })), "{e:?}");
    assert!(e.to_string().contains("chunk 1, instruction 2"), "{e}");
}

/// `Const::List` nesting `n` deep around `Bool(true)`, spliced into an encoded program.
fn nested_const_payload(n: usize) -> Vec<u8> {
    let mut p = program();
    let marker = Const::List(vec![Const::List(vec![Const::Bool(true)])]);
    p.consts.push(marker);
    let pl = payload(&p);
    let pattern = [6u8, 1, 6, 1, 0, 1];
    let at = pl.windows(pattern.len()).position(|w| w == pattern).unwrap();
    let mut out = pl[..at].to_vec();
    for _ in 0..n {
        out.extend_from_slice(&[6, 1]);
    }
    out.extend_from_slice(&[0, 1]);
    out.extend_from_slice(&pl[at + pattern.len()..]);
    out
}

#[test]
fn deeply_nested_payload_refused_without_overflowing_the_stack() {
    // 400 KB that would recurse 200 000 levels deep: an error, on a 1 MiB stack (debug build).
    let bytes = frame(COMPILER, &nested_const_payload(200_000));
    let e = std::thread::Builder::new()
        .stack_size(1024 * 1024)
        .spawn(move || decode(&bytes, &[], false).map(|_| ()))
        .unwrap()
        .join()
        .unwrap()
        .unwrap_err();
    let BundleError::Decode(msg) = &e else { panic!("{e:?}") };
    assert!(msg.contains("nest"), "{msg}");
}

#[test]
fn reasonably_nested_constants_decode() {
    // The language nests at most 128 levels; a constant takes two (enum, list) per level.
    let e = decode(&frame(COMPILER, &nested_const_payload(160)), &[], false).unwrap_err();
    assert!(matches!(&e, BundleError::Decode(m) if m.contains("nest")), "{e:?}");
    let pl = nested_const_payload(140);
    let (_, p) = decode(&frame(COMPILER, &pl), &[], false).unwrap();
    let mut c = p.consts.last().unwrap();
    let mut depth = 0;
    while let Const::List(items) = c {
        c = &items[0];
        depth += 1;
    }
    assert_eq!(depth, 140);
}

#[test]
fn key_files() {
    let (secret_hex, public_hex) = generate_signing_key_hex([4; 32]);
    assert_eq!(secret_hex.len(), 64);
    let sk = signing_key_from_file_bytes(format!("  {secret_hex}\n").as_bytes()).unwrap();
    assert_eq!(sk.to_bytes(), [4; 32]);
    let sk_raw = signing_key_from_file_bytes(&[4; 32]).unwrap();
    assert_eq!(sk_raw.to_bytes(), sk.to_bytes());
    let vk = verifying_key_from_file_bytes(format!("{public_hex}\r\n").as_bytes()).unwrap();
    assert_eq!(vk, sk.verifying_key());
    let vk_raw = verifying_key_from_file_bytes(sk.verifying_key().as_bytes()).unwrap();
    assert_eq!(vk_raw, vk);
    let bytes = encode(&program(), Some(&sk)).unwrap();
    assert!(decode(&bytes, &[vk], true).is_ok());
    for bad in
        [&b""[..], b"abc", &[0u8; 31], &[0u8; 33], b"zz00000000000000000000000000000000000000000000000000000000000000"]
    {
        assert!(matches!(signing_key_from_file_bytes(bad), Err(BundleError::KeyFile(_))), "{bad:?}");
        assert!(matches!(verifying_key_from_file_bytes(bad), Err(BundleError::KeyFile(_))), "{bad:?}");
    }
    let short = &secret_hex[..62];
    let e = signing_key_from_file_bytes(short.as_bytes()).unwrap_err();
    assert!(e.to_string().contains("hex"), "{e}");
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn random_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..1024)) {
        let _ = read_info(&bytes);
        prop_assert!(decode(&bytes, &[], false).is_err());
    }

    #[test]
    fn random_bytes_after_a_valid_prefix_never_panic(
        cut in 0usize..64,
        tail in proptest::collection::vec(any::<u8>(), 0..512),
    ) {
        let good = encode(&program(), Some(&key(2))).unwrap();
        let mut bytes = good[..cut.min(good.len())].to_vec();
        bytes.extend_from_slice(&tail);
        let _ = read_info(&bytes);
        prop_assert!(decode(&bytes, &[], false).is_err());
    }

    #[test]
    fn random_payloads_with_a_correct_hash_never_panic(pl in proptest::collection::vec(any::<u8>(), 0..1024)) {
        // Past the hash: the decoder and verifier meet arbitrary bytes.
        let _ = decode(&frame(COMPILER, &pl), &[], false);
    }

    #[test]
    fn mutated_payloads_with_a_correct_hash_never_panic(
        edits in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..8),
    ) {
        let mut pl = payload(&program());
        for (i, b) in edits {
            let at = i.index(pl.len());
            pl[at] = b;
        }
        let _ = decode(&frame(COMPILER, &pl), &[], false);
    }
}

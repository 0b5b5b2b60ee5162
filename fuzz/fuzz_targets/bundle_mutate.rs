//! Target (2b): mutated valid bundles. A small valid bundle (`examples/payments`) is built once
//! with the compiler; the fuzzer's bytes are applied to it as xor/insert/delete/overwrite
//! mutations ([`aarm_fuzz::mutate`]).
//!
//! First byte, bit 0 set: the mutations go to the payload and the payload length and SHA-256 are
//! recomputed, so bincode decoding, the compiler-version check and the bytecode verifier are
//! reached. Bit 0 clear: the mutations go to the whole file as is (header parsing, length and
//! hash checks). A bundle that still loads must decide the example request (and a few others)
//! without panicking: the verifier is what makes the VM safe on hostile bytecode.
//!
//! First byte, bit 1 set: the base is [`aarm_fuzz::INDEXED_POLICY`] instead, a tool whose rules
//! the engine indexes, and a bundle that still loads must also keep the index's promise on its
//! requests: every candidate the index skips is `false` (`Engine::check_index_skips`), and the
//! engine decides as the same engine without the index. Hostile bytecode must not make the index
//! hide a rule that holds or fails.
#![no_main]

use aarm_fuzz::{
    build, mutate, payments_files, reassemble_unsigned, split_unsigned, INDEXED_POLICY, INDEXED_REQUESTS,
    PAYMENTS_REQUEST,
};
use libfuzzer_sys::fuzz_target;
use std::sync::OnceLock;

static BUNDLE: OnceLock<Vec<u8>> = OnceLock::new();
static INDEXED: OnceLock<Vec<u8>> = OnceLock::new();

const NOW: i64 = 1_795_514_400;

const REQUESTS: [&str; 3] = [
    PAYMENTS_REQUEST,
    r#"{"action": {"tool": "send_email", "params": {"to": ["a@corp.com", "b@evil.com"], "subject": "hi", "body": "x"}}}"#,
    r#"{"action": {"tool": "transfer_funds", "params": {"amount": 10, "currency": "EUR", "recipient": "r", "memo": "Refund"}}}"#,
];

fuzz_target!(|data: &[u8]| {
    let Some((&mode, ops)) = data.split_first() else { return };
    let indexed = mode & 2 == 2;
    let bundle = if indexed {
        INDEXED.get_or_init(|| build(vec![("indexed.aarm".to_string(), INDEXED_POLICY.to_string())]).bytes)
    } else {
        BUNDLE.get_or_init(|| build(payments_files()).bytes)
    };
    let bytes = if mode & 1 == 1 {
        let parts = split_unsigned(bundle);
        let mut payload = parts.payload.to_vec();
        mutate(&mut payload, ops);
        reassemble_unsigned(parts.prefix, &payload)
    } else {
        let mut whole = bundle.clone();
        mutate(&mut whole, ops);
        whole
    };
    let Ok(engine) = aarm_runtime::engine::Engine::load(&bytes, &[], false) else { return };
    if !indexed {
        for req in REQUESTS {
            let _ = engine.decide_json(req, NOW);
        }
        return;
    }
    let scanned = engine.clone().unindexed();
    for json in INDEXED_REQUESTS {
        let Ok(req) = engine.convert(json, NOW) else { continue };
        if let Err(why) = engine.check_index_skips(&req) {
            panic!("{why}\nrequest: {json}");
        }
        assert_eq!(engine.decide(&req), scanned.decide(&req), "the index changed a decision: {json}");
    }
});

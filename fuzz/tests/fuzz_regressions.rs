//! Inputs the fuzzers found, replayed as plain tests (`cargo test --release` in fuzz/). Each
//! bug is also covered in the main workspace's tests, which CI runs; these keep the exact input.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]

use aarm_fuzz::{build, mutate, payments_files, reassemble_unsigned, split_unsigned, PAYMENTS_REQUEST};
use aarm_runtime::engine::Engine;
use std::time::{Duration, Instant};

/// The bundle `bundle_mutate` makes from `input` in payload mode (first byte odd).
fn mutated_payload(input: &[u8]) -> Vec<u8> {
    let bundle = build(payments_files()).bytes;
    let (_, ops) = input.split_first().unwrap();
    let parts = split_unsigned(&bundle);
    let mut payload = parts.payload.to_vec();
    mutate(&mut payload, ops);
    reassemble_unsigned(parts.prefix, &payload)
}

/// bundle_mutate, 2026-12-02 (timeout-ac23e41e…): one byte turns the `jump` closing the `filter`
/// loop of `internal_mail_only`'s `modify` from its `iter_next` to the instruction after, so the
/// body repeats on one element and the result list grows, copied at every step: more than 100 s
/// within the instruction budget. Fixed by charging fuel for the data an instruction copies or
/// walks (`runtime/src/vm.rs`, `work`); tests/fail_closed.rs has the same loop built by hand.
#[test]
fn a_filter_loop_without_iter_next_is_bounded() {
    let bytes = mutated_payload(&[0xfb, 0xff, 0x7b, 0xf9, 0x05]);
    let engine = Engine::load(&bytes, &[], false).expect("the mutated bundle loads");
    let start = Instant::now();
    let requests = [
        PAYMENTS_REQUEST,
        r#"{"action": {"tool": "send_email", "params": {"to": ["a@corp.com", "b@evil.com"], "subject": "hi", "body": "x"}}}"#,
    ];
    for req in requests {
        let _ = engine.decide_json(req, 1_795_514_400);
    }
    assert!(start.elapsed() < Duration::from_secs(10), "{:?}", start.elapsed());
}

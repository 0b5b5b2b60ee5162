//! Target (3): request conversion + evaluation on arbitrary text against `examples/payments`
//! (compiled once at startup).
//!
//! - `engine.decide_json(text, now)` never panics;
//! - text that is not JSON, or that the converter refuses, is a `deny` with `input.invalid`;
//! - for a converted request, `decide_json` equals `decide`, and the reference interpreter
//!   (`aarm_compiler::interpret::decide`) agrees with the VM (a differential on a real example).
#![no_main]

use aarm_fuzz::{build, load, payments_files, Built};
use aarm_runtime::decision::Effect;
use aarm_runtime::engine::Engine;
use libfuzzer_sys::fuzz_target;
use std::sync::OnceLock;

static FIXTURE: OnceLock<(Built, Engine)> = OnceLock::new();

/// 2026-11-24T10:00:00Z.
const NOW: i64 = 1_795_514_400;

fuzz_target!(|data: &[u8]| {
    let (built, engine) = FIXTURE.get_or_init(|| {
        let built = build(payments_files());
        let engine = load(&built);
        (built, engine)
    });
    let text = String::from_utf8_lossy(data);
    let decision = engine.decide_json(&text, NOW);
    let parses = serde_json::from_str::<serde_json::Value>(&text).is_ok();
    match engine.convert(&text, NOW) {
        Err(e) => {
            assert_eq!(decision.decision, Effect::Deny, "refused input must deny: {e}");
            assert_eq!(&*decision.reason.code, "input.invalid", "refused input: {e}");
        }
        Ok(req) => {
            assert!(parses, "the converter accepted text serde_json does not parse: {text:?}");
            assert_eq!(engine.decide(&req), decision);
            let interp = aarm_compiler::interpret::decide(&built.ir, &req, engine.bundle_hash());
            // The interpreter has no span table: it names the failed rule, not the expression.
            assert_eq!(decision.clone().without_error_location(), interp, "VM and interpreter disagree on {text:?}");
        }
    }
    if !parses {
        assert_eq!((decision.decision, &*decision.reason.code), (Effect::Deny, "input.invalid"));
    }
});

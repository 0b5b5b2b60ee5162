//! Target (2a): `Engine::load` on arbitrary bytes. It must return `Ok` or an error, never panic,
//! allocate without bound or overflow the stack. Seeds: bundles built from `examples/` (see
//! `fuzz/README.md`); libFuzzer mutations almost always break the SHA-256, so the verifier and the
//! payload decoder are the job of `bundle_mutate`.
#![no_main]

use aarm_fuzz as _;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(engine) = aarm_runtime::engine::Engine::load(data, &[], false) {
        // A bundle that loads must decide without panicking.
        let _ = engine.decide_json(r#"{"action": {"tool": "transfer_funds", "params": {}}}"#, 0);
    }
});

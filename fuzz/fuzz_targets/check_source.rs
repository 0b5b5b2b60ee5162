//! Target (1): lexer + parser + module loader + checker on arbitrary bytes.
//!
//! The bytes are decoded with `String::from_utf8_lossy`. An input that contains lines
//! `//// file NAME` is split into several files (`aarm_testkit::files`, as the differential tests do), so
//! `use ./NAME` between files is reached too; otherwise it is one file `policy.aarm`.
//! Nothing may panic, hang or overflow the stack; when the checker accepts the bundle, code
//! generation runs too (it may refuse with an error, never panic).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let src = aarm_fuzz::text(data);
    let loaded = aarm_compiler::load_sources(aarm_testkit::files(&src));
    let checked = aarm_compiler::check(&loaded);
    let has_error = checked.diagnostics.iter().any(|d| d.is_error());
    if let Some(bundle) = &checked.bundle {
        assert!(!has_error, "a bundle was produced despite errors");
        let _ = aarm_compiler::codegen::generate(bundle, &loaded);
    }
});

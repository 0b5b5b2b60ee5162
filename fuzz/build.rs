//! Tells `src/lib.rs` whether the fuzz build runs under a sanitizer (`cargo fuzz build` without
//! `-s none` passes `-Zsanitizer=...` in the rustflags): the faster allocator is used only without
//! one, so that AddressSanitizer keeps seeing every heap allocation through its `malloc`.
fn main() {
    println!("cargo::rustc-check-cfg=cfg(aarm_fuzz_sanitizer)");
    println!("cargo::rerun-if-env-changed=CARGO_ENCODED_RUSTFLAGS");
    let flags = std::env::var("CARGO_ENCODED_RUSTFLAGS").unwrap_or_default();
    // `-Zsanitizer=address` (or `-Csanitizer=`, which cargo-fuzz will pass once sanitizers are
    // stable), or the same as two arguments (`-Z`, `sanitizer=address`). Not the coverage
    // options (`-Cllvm-args=-sanitizer-coverage-...`), which every fuzz build has.
    let sanitizer =
        |f: &str| f.starts_with("-Zsanitizer=") || f.starts_with("-Csanitizer=") || f.starts_with("sanitizer=");
    if flags.split('\x1f').any(sanitizer) {
        println!("cargo::rustc-cfg=aarm_fuzz_sanitizer");
    }
}

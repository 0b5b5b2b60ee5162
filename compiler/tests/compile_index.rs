//! `compile` checks without recording the editor index: its diagnostics, bundle and program are
//! `check`'s (and the program `codegen::generate` gives for `check`'s bundle), on the examples,
//! the std modules' tests and generated policies, and its index is empty where `check`'s is not.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]

use aarm_compiler::modules::{load, load_sources, Loaded};
use aarm_compiler::{check, codegen, compile};
use aarm_testkit::generate;
use arbitrary::Unstructured;
use proptest::prelude::*;
use std::path::Path;

/// Whether `compile` and `check` agree on `loaded`; returns whether `check` recorded anything.
fn same(loaded: &Loaded, what: &str) -> bool {
    let compiled = compile(loaded);
    let checked = check(loaded);
    assert_eq!(
        format!("{:?}", compiled.checked.diagnostics),
        format!("{:?}", checked.diagnostics),
        "diagnostics of {what}"
    );
    assert_eq!(format!("{:?}", compiled.checked.bundle), format!("{:?}", checked.bundle), "bundle of {what}");
    match &checked.bundle {
        Some(b) => match codegen::generate(b, loaded) {
            Ok(p) => assert_eq!(compiled.program.as_ref(), Some(&p), "program of {what}"),
            Err(e) => assert_eq!(compiled.codegen_error.map(|e| e.to_string()), Some(e.to_string()), "{what}"),
        },
        None => assert!(compiled.program.is_none(), "{what}"),
    }
    let empty = compiled.checked.index.symbols.is_empty()
        && compiled.checked.index.target_at(aarm_lang::FileId(0), 0).is_none()
        && (0..4096).all(|at| compiled.checked.index.type_at(aarm_lang::FileId(0), at).is_none());
    assert!(empty, "compile recorded an index for {what}");
    !checked.index.symbols.is_empty()
}

fn root() -> &'static Path {
    Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/.."))
}

#[test]
fn examples_and_std_tests_compile_as_they_check() {
    let mut n = 0;
    for dir in std::fs::read_dir(root().join("examples")).unwrap() {
        let dir = dir.unwrap().path();
        if dir.is_dir() {
            assert!(same(&load(std::slice::from_ref(&dir)).unwrap(), &dir.display().to_string()), "{dir:?}");
            n += 1;
        }
    }
    for file in std::fs::read_dir(root().join("stdlib")).unwrap() {
        let file = file.unwrap().path();
        if file.to_string_lossy().ends_with("_test.aarm") {
            same(&load(std::slice::from_ref(&file)).unwrap(), &file.display().to_string());
            n += 1;
        }
    }
    assert!(n > 8, "{n} bundles");
}

#[test]
fn sources_with_errors_compile_as_they_check() {
    for src in [
        "policy p version \"1\"\ntool t { x: Int }\nrule r on t { when params.x > \"a\" deny }\n",
        "tool t { x: Int }\nfn f(a: Int) -> Bool = a\nrule r on u { when f(params.y) deny }\n",
        "use std.net\nuse std.nope\ntool t { x: String }\nrule r on t { when is_internal(params.x) deny }\n",
        "rule { when",
    ] {
        same(&load_sources(aarm_testkit::files(src)), src);
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 128, ..ProptestConfig::default() })]

    /// The differential fuzz target's policies: general and rule-index shaped.
    #[test]
    fn generated_policies_compile_as_they_check(bytes in prop::collection::vec(any::<u8>(), 64..2048), indexed in any::<bool>()) {
        let mut u = Unstructured::new(&bytes);
        let src = if indexed { generate::indexed_policy(&mut u) } else { generate::policy(&mut u, 4) };
        if let Ok(src) = src {
            same(&load_sources(aarm_testkit::files(&src)), &src);
        }
    }
}

//! `aarm-compiler`: AARM policy source → checked, typed IR → a bytecode program, plus the tools
//! that work on the checked IR (analysis, a reference interpreter, `aarm test` and its coverage).
//!
//! The CLI, the server's tests, the language bindings and the benchmarks all reach the compiler
//! through the few functions re-exported here; the modules are public for the commands that need
//! more than a program (`aarm lsp`, `aarm analyze`, `aarm test`) and for the tests that compare
//! the interpreter with the engine.
//!
//! # The passes, in order
//!
//! 1. **Loading** ([`modules`], with [`stdlib`]): [`load`] (or [`load_sources`], [`load_text`],
//!    [`load_with_overlay`]) reads the roots, parses every file, follows `use` (embedded
//!    `std.NAME` modules included) and reports cycles. The result, [`Loaded`], carries the parse
//!    and loader diagnostics; only a root that cannot be read at all is a [`LoadError`].
//! 2. **Checking** ([`mod@check`]): name resolution and type checking of all loaded modules into the
//!    typed IR ([`ir`], with the types of [`types`]). It reports every error it can and produces
//!    an [`ir::Bundle`] only when there is none. On the way it fills the [`index`] (declarations,
//!    references, expression types) that editors query.
//! 3. **Analysis** ([`analyze`], optional): proofs about the checked IR (rules that never decide,
//!    conditions that never hold, …), reported as warnings; [`check_and_analyze`] runs 2 and 3.
//! 4. **Code generation** ([`codegen`]): IR → [`aarm_runtime::program::Program`], the payload the
//!    runtime engine loads; [`compile`] runs 2 and 4.
//!
//! Beside the pipeline: [`interpret`] is the reference interpreter, deciding straight from the IR
//! so that tests can hold the engine to it; [`test_runner`] runs a bundle's `test` blocks through
//! the compiled program and the case lifecycle, and [`coverage`] measures the branches of the
//! rules' conditions those tests took.

#![deny(missing_docs)]

pub mod analyze;
pub mod check;
pub mod codegen;
pub mod coverage;
pub mod index;
pub mod interpret;
pub mod ir;
pub mod modules;
pub mod stdlib;
pub mod test_runner;
mod trace;
pub mod types;

pub use check::{check, Checked};
pub use modules::{load, load_sources, load_text, load_with_overlay, policy_files, LoadError, Loaded};

/// Everything `aarm build` and `aarm eval` need from source: diagnostics, and the program when
/// there are no errors.
pub struct Compiled {
    /// The checker's result: diagnostics and the IR when error-free, as [`check`] gives them,
    /// but no editor index (its `index` is empty: building a bundle does not read it; editors
    /// call [`check`]).
    pub checked: Checked,
    /// The generated program; `None` when the checker found an error or code generation failed.
    pub program: Option<aarm_runtime::program::Program>,
    /// Set when code generation failed on an error-free bundle (a bytecode format limit).
    pub codegen_error: Option<codegen::CodegenError>,
}

/// What `aarm check` reports for one bundle: the checker's diagnostics and, when there is no
/// error, what the analysis proves (W0010–W0018), in source order. The CLI and the Python and
/// Node packages' `check` share it, so that they report the same findings.
pub fn check_and_analyze(loaded: &Loaded) -> Vec<aarm_lang::Diagnostic> {
    let checked = check(loaded);
    let mut diagnostics = checked.diagnostics;
    if let Some(bundle) = &checked.bundle {
        diagnostics.extend(analyze::analyze(bundle));
        diagnostics.sort_by_key(|d| (d.file, d.span.start, d.span.end, d.code.as_str()));
    }
    diagnostics
}

/// Checks loaded modules and, when error-free, generates their program.
pub fn compile(loaded: &Loaded) -> Compiled {
    let checked = check::check_for_build(loaded);
    let (program, codegen_error) = match &checked.bundle {
        Some(bundle) => match codegen::generate(bundle, loaded) {
            Ok(p) => (Some(p), None),
            Err(e) => (None, Some(e)),
        },
        None => (None, None),
    };
    Compiled { checked, program, codegen_error }
}

// The parser reads decimal literals into the runtime's fixed point without depending on the
// runtime: the two definitions of the unit and the range must be one.
const _: () = assert!(
    aarm_lang::parser::DECIMAL_SCALE == aarm_runtime::decimal::DECIMAL_SCALE
        && aarm_lang::parser::DECIMAL_LIMIT == aarm_runtime::decimal::DECIMAL_LIMIT
        && aarm_lang::parser::DECIMAL_DIGITS as u32 == aarm_runtime::decimal::FRACTION_DIGITS
);

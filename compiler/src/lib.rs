//! `aarm-compiler`: AARM policy source → checked, typed IR (and, later, bytecode bundles).
//!
//! - [`modules`], [`stdlib`]: loading a bundle's files, following `use`, the module graph
//! - [`check`]: name resolution and type checking, producing [`ir`]
//! - [`types`]: the language's types
//! - [`index`]: what the checker resolved (declarations, references, types), for editors
//! - [`ir`]: the typed, resolved intermediate representation
//! - [`codegen`]: IR → bytecode [`aarm_runtime::program::Program`]
//! - [`interpret`]: the reference interpreter; [`test_runner`] and [`coverage`]: `aarm test`;
//!   [`trace`]: the condition outcomes the interpreter records for coverage

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
pub mod trace;
pub mod types;

pub use check::{check, Checked};
pub use modules::{load, load_sources, load_text, load_with_overlay, policy_files, LoadError, Loaded};

/// Everything `aarm build` and `aarm eval` need from source: diagnostics, and the program when
/// there are no errors.
pub struct Compiled {
    pub checked: Checked,
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
    let checked = check(loaded);
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

//! `aarm`: the command-line tool and a facade over the three crates of the toolchain.
//!
//! - [`lang`]: source text → syntax tree, diagnostics
//! - [`compiler`]: syntax trees → checked, typed IR
//! - [`runtime`]: what hosts link to evaluate bundles
//!
//! The CLI's commands live in [`cli`], one module per command.

pub mod cli;

pub use aarm_compiler as compiler;
pub use aarm_lang as lang;
pub use aarm_runtime as runtime;

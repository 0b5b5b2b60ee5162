//! `aarm`: the command-line tool and a facade over the crates of the toolchain.
//!
//! - [`lang`]: source text → syntax tree, diagnostics
//! - [`compiler`]: syntax trees → checked, typed IR
//! - [`runtime`]: what hosts link to evaluate bundles
//! - [`cases`]: the lifecycle of suspended actions, receipts and the case stores
//!
//! The CLI's commands live in [`cli`], one module per command.

// `println!`/`eprintln!` panic when their stream is closed (`aarm inspect … | head`, a host that
// closed stderr): the CLI writes through `outln!`/`errln!` (cli/output.rs), which do not.
#![cfg_attr(not(test), deny(clippy::print_stdout, clippy::print_stderr))]

pub mod cli;

pub use aarm_cases as cases;
pub use aarm_compiler as compiler;
pub use aarm_lang as lang;
pub use aarm_runtime as runtime;

//! `aarm-compiler`: AARM policy source → checked, typed IR (and, later, bytecode bundles).
//!
//! - [`modules`], [`stdlib`]: loading a bundle's files, following `use`, the module graph
//! - [`check`]: name resolution and type checking, producing [`ir`]
//! - [`types`]: the language's types
//! - [`ir`]: the typed, resolved intermediate representation

pub mod check;
pub mod ir;
pub mod modules;
pub mod stdlib;
pub mod types;

pub use check::{check, Checked};
pub use modules::{load, load_sources, LoadError, Loaded};

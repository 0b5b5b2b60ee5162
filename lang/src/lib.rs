//! `aarm-lang`: the front end of the AARM policy language — source text to syntax tree.
//!
//! - [`span`], [`source`]: byte spans, files and line/column lookup
//! - [`token`], [`lexer`]: the logos tokenizer and its wrapper
//! - [`parser`]: recursive descent with error recovery, producing the [`ast`]
//! - [`diagnostic`], [`render`]: diagnostics as data, and their human (ariadne) and JSON forms
//! - [`format`]: the canonical layout (`aarm fmt`)
//! - [`limits`]: the resource limits that keep untrusted source from crashing the toolchain
//!
//! The reference grammar is `lang/aarm.pest`; `tests/pest_differential.rs` keeps the two in step.

pub mod ast;
pub mod diagnostic;
pub mod format;
pub(crate) mod lexer;
pub mod limits;
pub mod parser;
pub mod render;
pub(crate) mod source;
pub(crate) mod span;
pub mod token;

pub use diagnostic::{Code, Diagnostic};
pub use parser::{parse, Parsed};
pub use source::{SourceFile, SourceMap};
pub use span::{FileId, Span};

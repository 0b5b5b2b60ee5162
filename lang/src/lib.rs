//! `aarm-lang`: the front end of the AARM policy language — source text to syntax tree, and the
//! diagnostics every later phase reports through.
//!
//! Where to start: [`parse`] turns the text of one `.aarm` file into a [`Parsed`]: always a
//! syntax tree ([`ast::File`], partial where the text was wrong) together with every problem
//! found, as [`Diagnostic`] values. Nothing here panics or stops at the first error on bad input:
//! source text is untrusted, errors are collected rather than thrown, and [`limits`] bounds what
//! one file may cost. `aarm-compiler` takes the tree from there (name resolution, type checking,
//! code generation); this crate knows nothing of types or meaning.
//!
//! - [`Span`], [`FileId`], [`SourceMap`], [`SourceFile`]: byte-offset spans, the files of one run,
//!   and line/column lookup for showing a span to a person
//! - [`parser`]: recursive descent with error recovery, producing the [`ast`]; [`token`] holds the
//!   reserved words (the lexer itself is internal)
//! - [`diagnostic`], [`render`]: diagnostics as data (stable [`Code`]s), and their human (ariadne),
//!   JSON and SARIF forms
//! - [`format`](mod@format): the canonical layout (`aarm fmt`)
//! - [`limits`]: the resource limits that keep untrusted source from crashing the toolchain
//!
//! The reference grammar is `lang/aarm.pest`; `tests/pest_differential.rs` keeps the two in step.
//! `lang/REFERENCE.md` is the language reference for policy authors.

#![deny(missing_docs)]

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

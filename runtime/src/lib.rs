//! `aarm-runtime`: everything a host needs to evaluate AARM bundles. A host links only this
//! crate (never the compiler).
//!
//! - [`value`], [`schema`]: runtime values and the bundle's declared inputs
//! - [`bytecode`], [`program`]: the instruction set and the bundle's contents
//! - [`bundle`]: the `.aarmb` encoding (header, SHA-256, Ed25519) and loading
//! - [`verify`]: the bytecode verifier run on every load
//! - [`json`]: the one strict JSON reader (a repeated key is an error)
//! - [`convert`]: JSON request → [`request::Request`], validated against the schema
//! - [`vm`]: the evaluator; [`engine`]: the host API that ties them together
//! - [`decision`]: the decision JSON of docs/json.md
//! - [`lifecycle`], [`store`], [`receipts`], [`export`]: cases, their store, receipts, and
//!   receipt exports checked for completeness

pub mod bundle;
pub mod bytecode;
pub mod convert;
pub mod decision;
pub mod disasm;
pub mod engine;
pub mod export;
pub mod fuse;
pub mod json;
pub mod lifecycle;
pub mod ops;
pub mod parsed;
pub mod plan;
pub mod program;
pub mod receipts;
pub mod request;
pub mod schema;
pub mod store;
pub mod value;
pub mod verify;
pub mod vm;

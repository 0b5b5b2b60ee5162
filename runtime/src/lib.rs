//! `aarm-runtime`: everything a host needs to evaluate AARM bundles. A host that decides links
//! only this crate (never the compiler, no SQLite, no async, no HTTP); the case service that
//! suspends actions for approvers is the `aarm-cases` crate beside it.
//!
//! - [`value`], [`schema`]: runtime values and the bundle's declared inputs
//! - [`bytecode`], [`program`]: the instruction set and the bundle's contents
//! - [`bundle`]: the `.aarmb` encoding (header, SHA-256, Ed25519) and loading
//! - [`verify`]: the bytecode verifier run on every load
//! - [`spans`]: which source expression each instruction came from, for evaluation errors
//! - [`json`]: the one strict JSON reader (a repeated key is an error)
//! - [`convert`]: JSON request → [`request::Request`], validated against the schema
//! - [`decode`]: the one-pass reader of a request's text that [`convert`] tries first
//! - [`index`]: the leaf tests of a tool's rules in tables, so that a decision skips rules that
//!   cannot hold
//! - [`vm`]: the evaluator; [`engine`]: the host API that ties them together
//! - [`policy`]: the policy vocabulary (effects, step-up, defer, outcomes, risk, constants) the
//!   compiler's IR, the bundle and the engine share
//! - [`assemble`]: decisions built from a resolution, for the engine and the compiler's oracle
//! - [`decision`]: the decision JSON of docs/json.md; [`record`]: its id, times and scope

pub mod assemble;
pub mod bundle;
pub mod bytecode;
pub mod convert;
pub mod decision;
pub mod decode;
pub mod disasm;
pub mod engine;
pub mod fuse;
pub mod index;
pub mod json;
pub mod ops;
pub mod parsed;
pub mod plan;
pub mod policy;
pub mod program;
pub mod record;
pub mod request;
pub mod schema;
pub mod spans;
pub mod value;
pub mod verify;
pub mod vm;

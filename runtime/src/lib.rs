//! `aarm-runtime`: everything a host needs to evaluate AARM bundles. A host that decides links
//! only this crate (never the compiler, no SQLite, no async, no HTTP); the case service that
//! suspends actions for approvers is the `aarm-cases` crate beside it.
//!
//! - [`value`], [`schema`]: runtime values and the bundle's declared inputs; [`decimal`]: the
//!   exact fixed point of `Decimal` values
//! - [`bytecode`], [`program`]: the instruction set and the bundle's contents
//! - [`bundle`]: the `.aarmb` encoding (header, SHA-256, Ed25519) and loading
//! - [`verify`]: the bytecode verifier run on every load
//! - [`spans`]: which source expression each instruction came from, for evaluation errors
//! - [`json`]: the one strict JSON reader (a repeated key is an error)
//! - [`convert`]: JSON request → [`request::Request`], validated against the schema
//! - [`decode`]: the one-pass reader of a request's text that [`convert`] tries first
//! - `input`: what both readers share (the input error and its path, the limits, the built-in
//!   key names, the typed conversion of one value)
//! - `index`: the leaf tests of a tool's rules in tables, so that a decision skips rules that
//!   cannot hold; `live`: the set of a tool's rules it leaves to evaluate
//! - [`vm`]: the evaluator; [`engine`]: the host API that ties them together; [`ops`]: the
//!   primitive operations they share, [`ops::EvalError`]: why evaluating a rule failed
//! - [`policy`]: the policy vocabulary (effects, step-up, defer, outcomes, risk, constants) the
//!   compiler's IR, the bundle and the engine share
//! - [`assemble`]: decisions built from a resolution, for the engine and the compiler's oracle
//! - [`decision`]: the decision JSON of docs/json.md; [`record`]: its id, times and scope
//! - [`redact`]: the request fields a policy marks `@redact`

//!
//! # Deciding from Rust
//!
//! A host loads a bundle built by `aarm build` once, then decides each request the agent makes.
//! The names a host needs are re-exported here; the modules below are for the compiler, the case
//! service and tools that inspect bundles.
//!
//! ```rust
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! # let loaded = aarm_compiler::load(&["../examples/quorum_transfer".into()])?;
//! # let program = aarm_compiler::compile(&loaded).program.ok_or("the example policy has errors")?;
//! # let dir = tempfile::Builder::new().prefix("aarm-host-doctest-").tempdir()?;
//! # std::env::set_current_dir(dir.path())?;
//! # std::fs::write("treasury.aarmb", aarm_runtime::bundle::encode(&program, None)?)?;
//! use aarm_runtime::{Effect, Engine};
//!
//! // `aarm build examples/quorum_transfer -o treasury.aarmb` wrote this bundle.
//! let bytes = std::fs::read("treasury.aarmb")?;
//! // No trusted keys and no signature required here; a production host passes the keys it
//! // trusts and `true`, and a bundle that fails its hash, signature or verifier is refused.
//! let engine = Engine::load(&bytes, &[], false)?;
//!
//! let request = r#"{
//!   "action": { "tool": "transfer_funds",
//!               "params": { "amount": 25000, "currency": "EUR", "recipient": "acme" } },
//!   "identity": { "human": "alice@corp.com", "agent": "treasury-agent" } }"#;
//! let now = 1_796_299_200; // seconds since the Unix epoch, used when the request has no context.now
//!
//! // Invalid input is a `deny` with reason `input.invalid`, never an error to forget to check.
//! // `identify` stamps the decision_id the host hands out with the decision.
//! let decision = engine.decide_json(request, now).identify();
//! assert_eq!(decision.decision, Effect::StepUp);
//! println!("{}", serde_json::to_string_pretty(&decision)?);
//! # Ok(())
//! # }
//! ```
//!
//! A host deciding in a loop converts once and reuses a [`Vm`]: [`Engine::convert`], then
//! [`Engine::evaluate`] (no allocation) and [`Engine::materialize`] for the decision JSON.

#![deny(missing_docs)]

pub mod assemble;
pub mod bundle;
pub mod bytecode;
pub mod convert;
pub mod decimal;
pub mod decision;
pub mod decode;
pub mod disasm;
pub mod engine;
pub(crate) mod eval_error;
pub(crate) mod fuse;
pub(crate) mod index;
pub(crate) mod input;
pub mod json;
pub(crate) mod leading;
pub(crate) mod live;
pub mod ops;
pub mod parsed;
pub(crate) mod plan;
pub mod policy;
pub mod program;
pub mod record;
pub(crate) mod recurring;
pub mod redact;
pub mod regex_memo;
pub mod request;
pub mod schema;
pub mod spans;
pub mod value;
pub mod verify;
pub mod vm;

pub use bundle::BundleError;
pub use convert::InputError;
pub use decision::{Decision, Effect};
pub use engine::{Engine, EngineError, Tried, Verdict};
pub use request::Request;
pub use vm::Vm;

//! `aarm-host`: the part of the Python (`bindings/python`) and Node (`bindings/node`) packages
//! that does not depend on the language. Each package converts its language's values to and from
//! JSON and maps [`HostError`] to its own exceptions; everything else — loading a bundle with its
//! keys, what a bundle declares, `build` and `check`, the case lifecycle on SQLite — is here once,
//! so that both packages answer the same.
//!
//! - [`engine`]: a loaded bundle, its policy and tools, and deciding a request
//! - [`source`]: `build` and `check` of a policy directory, as the CLI does them
//! - [`cases`]: the lifecycle on the embedded SQLite case store
//! - [`error`]: what can fail, by kind
//!
//! Where to start: [`engine::Bundle::load`] loads and verifies a bundle (fail closed: a bundle
//! whose hash, signature or bytecode does not check out is an error, never an engine), and
//! [`cases::Cases::open`] puts it on a case store. Each package's functions are thin wrappers of
//! these; a behaviour both packages must share belongs here, not in one of them.

#![deny(missing_docs)]

pub mod cases;
pub mod engine;
pub mod error;
pub mod source;

pub use error::{ErrorKind, HostError};

/// The clock when the host gives no time: seconds since the epoch.
pub fn now_or_clock(now: Option<i64>) -> i64 {
    now.unwrap_or_else(|| {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
            .unwrap_or(0)
    })
}

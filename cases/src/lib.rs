//! `aarm-cases`: the case service beside the evaluator. A host that only decides links
//! `aarm-runtime`; a host that suspends actions for approvers or evidence links this crate too.
//!
//! - [`lifecycle`]: cases, the events that move them, and the pure state machine
//! - [`store`]: where cases and receipts live (in memory, SQLite or PostgreSQL)
//! - [`receipts`]: signed, hash-chained receipts and their verification
//! - [`export`]: receipt exports with a signed head, checked for completeness
//! - [`overrides`]: break-glass overrides of denials and their review, for every host
//! - [`redact`]: what a record shows of the fields a policy marks `@redact`
//! - [`signals`]: deferrals, timeouts, escalations and resolution times, read from receipts
//!
//! Where to start: [`lifecycle::service::Lifecycle`] is what a host holds. Give it a store
//! ([`store::memory::MemoryStore`] in a test, [`store::any::AnyStore`] for a SQLite file or a
//! PostgreSQL URL) and the bundles it decides with, then `submit` requests and `apply` events
//! ([`lifecycle::event::Event`]). The rules themselves are in [`lifecycle::machine`], a pure
//! function of a case, an event and the time; everything else records and keeps its result.
//!
//! The contracts every part keeps: fail closed (a decision that cannot be recorded is a `deny`,
//! a store failure is an error and never a release), one receipt per step in one hash chain per
//! store (optionally signed with Ed25519), atomic writes of a case with its receipts, and
//! retried events applied once (by `event_id`). Times are seconds since the Unix epoch, from the
//! clock the host supplies, and never go back.

#![deny(missing_docs)]

pub mod canonical;
pub mod export;
pub mod lifecycle;
pub mod overrides;
pub mod receipts;
pub mod redact;
pub mod signals;
pub mod store;

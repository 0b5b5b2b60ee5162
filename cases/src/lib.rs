//! `aarm-cases`: the case service beside the evaluator. A host that only decides links
//! `aarm-runtime`; a host that suspends actions for approvers or evidence links this crate too.
//!
//! - [`lifecycle`]: cases, the events that move them, and the pure state machine
//! - [`store`]: where cases and receipts live (in memory or SQLite)
//! - [`receipts`]: signed, hash-chained receipts and their verification
//! - [`export`]: receipt exports with a signed head, checked for completeness
//! - [`overrides`]: break-glass overrides of denials and their review, for every host
//! - [`redact`]: what a record shows of the fields a policy marks `@redact`
//! - [`signals`]: deferrals, timeouts, escalations and resolution times, read from receipts

pub mod export;
pub mod lifecycle;
pub mod overrides;
pub mod receipts;
pub mod redact;
pub mod signals;
pub mod store;

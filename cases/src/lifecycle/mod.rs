//! The lifecycle of suspended actions: cases, the events that drive them, and their receipts.
//!
//! - [`case`]: the case record; [`state`]: where a case stands
//! - [`event`]: events and the stable rejection reasons
//! - [`receipt`]: receipt records (sealed and verified in [`crate::receipts`])
//! - [`machine`]: the deterministic state machine (quorum, veto, escalation, timeouts, deferral
//!   re-evaluation)
//! - [`identity`]: what the lifecycle asks of the host about identities
//! - [`limits`]: bounded approvals, the caps an approver sets and the limits a release carries
//! - [`round`]: rounds of automatic resolution of a deferral by its evidence sources
//!
//! Cases and receipts are kept by a [`crate::store::CaseStore`].

pub mod action;
pub mod case;
pub mod event;
pub mod identity;
pub mod limits;
pub mod machine;
pub mod receipt;
pub mod round;
pub mod service;
pub mod state;

//! Notifications: when a case starts waiting for approvers (a step-up, a deferral escalated to
//! people, a further tier) or escalates, every channel in the obligation's `notify` list gets
//! the full context of the case, as `[notify.channels]` maps the channel names.
//!
//! - [`message`]: what an approver must see (seed 003), built once from the case
//! - [`outbox`]: deliveries, persisted in the store's database, retried with backoff
//! - [`webhook`], [`slack`], [`email`]: one sender per channel kind

pub mod email;
pub mod message;
pub mod outbox;
pub mod slack;
pub mod webhook;

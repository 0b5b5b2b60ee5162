//! Notifications: when a case starts waiting for approvers (a step-up, a deferral escalated to
//! people, a further tier) or escalates, every channel in the obligation's `notify` list gets
//! the full context of the case, as `[notify.channels]` maps the channel names; when an
//! override is granted or flagged, the channels its `override` declaration names are told.
//!
//! - [`message`]: what an approver must see (seed 003), built once from the case; and
//!   [`message::Message`], what the outbox keeps
//! - [`override_notice`]: what the channels are told of an override
//! - [`names`]: how every message names a tool call
//! - [`outbox`]: deliveries, persisted in the store's database, retried with backoff
//! - [`webhook`], [`slack`], [`email`]: one sender per channel kind

pub(crate) mod email;
pub(crate) mod message;
pub(crate) mod names;
pub(crate) mod notices;
pub mod outbox;
pub mod override_notice;
pub(crate) mod slack;
pub mod webhook;

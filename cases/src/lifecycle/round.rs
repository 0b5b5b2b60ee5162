//! Rounds of automatic resolution of a deferral: a host asks the evidence sources a deferral
//! names (`evidence X: T from "SOURCE"`) for the facts it still needs, and hands what they
//! answered to the state machine as one [`crate::lifecycle::event::Event::Round`]. The machine
//! records every try as a receipt, re-evaluates once, and counts the round as one attempt of
//! the deferral (`attempts N -> OUTCOME`).
//!
//! What is kept between rounds is in the case itself ([`Rounds`]), so that any host reading the
//! store (the server after a restart, `aarm case tick --sources`) derives when the next round is
//! due from the same facts: [`Case::next_round_due`](super::case::Case::next_round_due).

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// The rounds a case has been through.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Rounds {
    /// Rounds recorded so far.
    pub done: u32,
    /// When the last one was recorded (seconds since the epoch).
    pub last_at: Option<i64>,
}

impl Rounds {
    /// Whether no round was recorded yet (the case then leaves `rounds` out of its JSON).
    pub fn is_empty(&self) -> bool {
        self.done == 0 && self.last_at.is_none()
    }
}

/// One source asked for some facts, and what came of it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SourceTry {
    /// The source's name, as the policy's `from "NAME"` writes it.
    pub source: String,
    /// The facts it was asked for.
    pub facts: Vec<String>,
    /// What the source answered, or why it did not; flattened beside `source` and `facts`.
    #[serde(flatten)]
    pub result: TryResult,
}

/// What a source answered. A fact an answer leaves out (or answers `null`) stays unknown.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "result", rename_all = "snake_case")]
pub enum TryResult {
    /// The source answered; it may leave facts out.
    Answered {
        /// The facts it gave, by name; a fact missing or `null` here stays unknown.
        values: BTreeMap<String, serde_json::Value>,
    },
    /// A stable code (`source.status`, `source.timeout`, ...) and what happened.
    Failed {
        /// The stable code, for counting and alerts (`source.status`, `source.timeout`, ...).
        code: String,
        /// What happened, for people: the status, the error, the timeout.
        message: String,
    },
}

impl TryResult {
    /// `answered` or the failure's code: how a try is counted (by source and result).
    pub fn label(&self) -> &str {
        match self {
            TryResult::Answered { .. } => "answered",
            TryResult::Failed { code, .. } => code,
        }
    }
}

/// Exponential backoff between rounds, in milliseconds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Backoff {
    /// The wait after the first round, in milliseconds; it doubles with each round after.
    pub initial_ms: u64,
    /// The longest wait between two rounds, in milliseconds, however many rounds were done.
    pub max_ms: u64,
}

impl Backoff {
    /// The wait after `done` rounds (`done` ≥ 1): `initial_ms · 2^(done-1)`, at most `max_ms`,
    /// in whole seconds rounded up (the lifecycle's clock counts seconds), at least one second.
    pub(crate) fn wait_s(&self, done: u32) -> i64 {
        let doublings = done.saturating_sub(1).min(62);
        let ms = self.initial_ms.saturating_mul(1u64 << doublings).min(self.max_ms);
        i64::try_from(ms.div_ceil(1000)).unwrap_or(i64::MAX).max(1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_up_to_its_maximum_and_never_waits_zero() {
        let b = Backoff { initial_ms: 1000, max_ms: 5000 };
        assert_eq!((1..=5).map(|n| b.wait_s(n)).collect::<Vec<_>>(), vec![1, 2, 4, 5, 5]);
        assert_eq!(Backoff { initial_ms: 1, max_ms: 1 }.wait_s(1), 1);
        assert_eq!(
            Backoff { initial_ms: u64::MAX, max_ms: u64::MAX }.wait_s(u32::MAX),
            i64::try_from(u64::MAX / 1000 + 1).unwrap_or(i64::MAX)
        );
    }
}

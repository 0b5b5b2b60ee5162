//! What a service keeps beside the cases, behind the same store as they: an agent session's
//! history, the idempotency keys of retried calls, the notification outbox, and a write probe
//! for health checks. A server
//! asks these traits, never SQL, so that another backend (PostgreSQL) can keep them too.
//! [`super::sqlite::SqliteStore`] hands out the SQLite implementations
//! ([`super::sqlite::SqliteStore::session_history`], ...), each on a connection of its own to the
//! store's file, so none of them ever holds the lifecycle's write transaction.

use super::StoreError;

/// One action of an agent's session, as its history keeps it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionAction {
    /// The agent that acted (`identity.agent`).
    pub agent: String,
    /// The agent's session, as the request names it: histories are kept per session.
    pub session: String,
    /// The tool the action called.
    pub tool: String,
    /// The decision it got (`allow`, `deny`, ...).
    pub decision: String,
    /// When it was decided, in seconds since the epoch.
    pub at: i64,
}

/// The recorded actions of every session, oldest first.
pub trait SessionHistory: Send + Sync {
    /// Appends `batch` in one transaction: all of it or none.
    fn append(&self, batch: &[SessionAction]) -> Result<(), StoreError>;
    /// Every action at or after `since`, in the order appended.
    fn since(&self, since: i64) -> Result<Vec<SessionAction>, StoreError>;
    /// Forgets the actions before `before`; returns how many.
    fn prune(&self, before: i64) -> Result<usize, StoreError>;
}

/// A key as bound to the call it was first used for, and the answer kept for its retries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BoundKey {
    /// The hash of the call the key was first used for: a retry with another call is refused.
    pub fingerprint: String,
    /// The answer given to that call, to repeat verbatim on a retry; `None` while the first call
    /// is still being answered.
    pub response: Option<String>,
}

/// Idempotency keys by scope (a server's `decide`, or a case id for events).
pub trait IdempotencyKeyStore: Send + Sync {
    /// The key `key` in `scope` if it was bound at or after `since`.
    fn bound(&self, scope: &str, key: &str, since: i64) -> Result<Option<BoundKey>, StoreError>;
    /// Binds `key` to `fingerprint` with its answer (replacing an earlier binding), and forgets
    /// the keys of `scope` bound before `forget_before`.
    fn keep_answer(
        &self,
        scope: &str,
        key: &str,
        fingerprint: &str,
        response: &str,
        now: i64,
        forget_before: i64,
    ) -> Result<(), StoreError>;
    /// Binds `key` to `fingerprint` unless it is bound already (the first binder wins).
    fn bind(&self, scope: &str, key: &str, fingerprint: &str, now: i64) -> Result<(), StoreError>;
}

/// One recorded notification delivery, as `GET /v1/cases/{id}/deliveries` shows it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Delivery {
    /// The outbox's id for it.
    pub id: i64,
    /// The case (or override) the notice is about.
    pub case: String,
    /// The occasion that queued it (a step of the case, `override:granted`, ...): one delivery
    /// per case, occasion and channel.
    pub trigger: String,
    /// The channel's name, as the service's configuration gives it.
    pub channel: String,
    /// The channel's kind (`webhook`, `slack`, `email`, ...).
    pub kind: String,
    /// `pending` (queued or waiting for a retry), `delivered`, or `failed` (gave up).
    pub state: String,
    /// How many attempts were made so far.
    pub attempts: u32,
    /// Why the last attempt failed, when it did.
    pub last_error: Option<String>,
    /// When it was queued, in seconds since the epoch.
    pub created_at: i64,
    /// When it was delivered, in seconds since the epoch; `None` until then.
    pub delivered_at: Option<i64>,
}

/// A channel a message is queued to: its kind, or why it fails at once (an unknown channel).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Queued {
    /// The channel's name.
    pub channel: String,
    /// Its kind, recorded with the delivery.
    pub kind: String,
    /// Why it cannot be sent at all (the delivery is then recorded `failed` at once, so that the
    /// failure shows), or `None` to queue it.
    pub refused: Option<String>,
}

/// A pending delivery whose time has come.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DueDelivery {
    /// The delivery's id, to record the attempt's outcome under.
    pub id: i64,
    /// The channel to send it to.
    pub channel: String,
    /// The message, as queued.
    pub payload: String,
    /// The attempts made before this one.
    pub attempts: u32,
}

/// What became of one attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AttemptOutcome<'a> {
    /// The channel took it: the delivery is `delivered`.
    Delivered {
        /// When, in seconds since the epoch.
        at: i64,
    },
    /// No attempt left: the delivery is `failed` for good.
    GaveUp {
        /// Why the last attempt failed.
        error: &'a str,
    },
    /// Tried again at `next_at_ms`.
    Retry {
        /// Why this attempt failed.
        error: &'a str,
        /// When to try again, in milliseconds since the epoch.
        next_at_ms: i64,
    },
}

/// How long a claimed delivery is kept from other claimants: longer than any attempt may take.
pub const CLAIM_LEASE_MS: i64 = 5 * 60 * 1000;

/// The notification outbox: a delivery per (case, occasion, channel), recorded before anything
/// is sent, so that a notice is never lost to a crash between deciding and sending.
pub trait DeliveryStore: Send + Sync {
    /// Queues `payload` for `case` on `occasion` to each channel, due at `due_ms`; a channel
    /// already queued for that case and occasion is left as it is. Returns how many were new.
    fn queue(
        &self,
        case: &str,
        occasion: &str,
        payload: &str,
        channels: &[Queued],
        due_ms: i64,
        now: i64,
    ) -> Result<usize, StoreError>;
    /// Every delivery of `case`, oldest first.
    fn deliveries(&self, case: &str) -> Result<Vec<Delivery>, StoreError>;
    /// Claims at most `limit` pending deliveries due by `now_ms`, earliest first: each is put
    /// off by [`CLAIM_LEASE_MS`] in the same statement, so another process (a replica) sharing
    /// the store does not claim it too while this one sends it. [`DeliveryStore::record`] then
    /// sets its real state; a claim never recorded (the process died) is due again after the lease.
    fn due(&self, now_ms: i64, limit: i64) -> Result<Vec<DueDelivery>, StoreError>;
    /// When the earliest pending delivery is due (milliseconds), if any.
    fn next_due_ms(&self) -> Result<Option<i64>, StoreError>;
    /// Records attempt number `attempts` of delivery `id`.
    fn record(&self, id: i64, attempts: u32, outcome: AttemptOutcome<'_>) -> Result<(), StoreError>;
}

/// Proves the store takes writes (one row, rewritten each time).
pub trait WriteProbe: Send + Sync {
    /// Writes the probe row with `now`; an error means the store takes no writes (health fails).
    fn write(&self, now: i64) -> Result<(), StoreError>;
}

/// A denial the service answered without opening a case, kept so that an override can name it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Denial {
    /// The denial's `decision_id`, which an override names.
    pub decision_id: String,
    /// The agent that was denied.
    pub agent: String,
    /// The decision JSON as answered (with its `action_hash` and `receipt`).
    pub json: String,
    /// When it was denied, in seconds since the epoch.
    pub at: i64,
}

/// A denial to keep in the same transaction as its `decide` receipt
/// ([`super::CaseStore::record_keeping`]): kept exactly when its receipt is, before its answer
/// can be sent, so that an override never sees a denial that was not recorded nor misses one
/// that was answered. Its answer lacks only the receipt's hash, known once the receipt is sealed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DenialDraft {
    /// The denial's `decision_id`, which an override names.
    pub decision_id: String,
    /// The agent that was denied.
    pub agent: String,
    /// The decision JSON as it will be answered, without its `receipt`: an object's text.
    pub answer: String,
    /// When it was denied, in seconds since the epoch.
    pub at: i64,
}

impl DenialDraft {
    /// The denial answered to `agent` as `answer` (the text of the decision JSON object as it will
    /// be sent, without its `receipt`), whose `decision_id` is `decision_id`; `None` without one
    /// (nothing could name it).
    pub fn of(agent: &str, decision_id: Option<&str>, answer: String, at: i64) -> Option<DenialDraft> {
        Some(DenialDraft { decision_id: decision_id?.to_string(), agent: agent.to_string(), answer, at })
    }

    /// The denial as kept once its receipt is sealed as `receipt`: the answer with its receipt.
    pub fn sealed(self, receipt: &str) -> Denial {
        let json = with_receipt(self.answer, receipt);
        Denial { decision_id: self.decision_id, agent: self.agent, json, at: self.at }
    }
}

/// Names `receipt` in a decision JSON object's text that has no `receipt` yet: its last member,
/// as the service's answer writes it (aarm-server `cases::Answer`), so that a denial kept with
/// its receipt reads exactly as it was answered. Text that is not an object is left as it is.
/// Appended to the text rather than through a `serde_json::Value`: the tree and its writing
/// cost a sixth of a denial over HTTP.
pub fn with_receipt(mut answer: String, receipt: &str) -> String {
    let kept = answer.trim_end().len();
    if !answer.get(..kept).is_some_and(|t| t.ends_with('}')) {
        return answer;
    }
    answer.truncate(kept.saturating_sub(1));
    let empty = answer.trim_end().ends_with('{');
    if !empty {
        answer.push(',');
    }
    answer.push_str("\"receipt\":");
    // A string always serializes; the fallback keeps the text an object all the same.
    answer.push_str(&serde_json::to_string(receipt).unwrap_or_else(|_| "null".into()));
    answer.push('}');
    answer
}

/// A reviewer's verdict on an override.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verdict {
    /// Who reviewed (never the override's author).
    pub reviewer: String,
    /// `accept` or `flag`.
    pub verdict: String,
    /// The reviewer's note, when given.
    pub note: Option<String>,
    /// The hash of the verdict's receipt.
    pub receipt: String,
    /// When, in seconds since the epoch.
    pub at: i64,
}

/// An override as kept: a separate decision naming the denial it overrides.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredOverride {
    /// The override's own `decision_id`.
    pub id: String,
    /// The `decision_id` of the denial it overrides.
    pub overrides: String,
    /// The identity that granted it.
    pub author: String,
    /// The override's decision JSON as answered.
    pub json: String,
    /// The hash of its receipt in the chain.
    pub receipt: String,
    /// When it was granted, in seconds since the epoch.
    pub created_at: i64,
    /// When it stops allowing the action, in seconds since the epoch; another override of the
    /// same denial may be granted only after it.
    pub expires_at: i64,
    /// Its review, once given; `None` while it waits for one.
    pub verdict: Option<Verdict>,
}

/// What [`OverrideStore::grant`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Granted {
    /// The override was kept.
    Granted,
    /// Another override of the same denial is still in force: this one was not kept.
    Active(String),
}

/// The denials a service answered and the overrides granted on them, with their reviews. An
/// override never changes the denial's row: it is a row of its own.
pub trait OverrideStore: Send + Sync {
    /// Keeps a denial (a second call with the same id changes nothing).
    fn remember_denial(&self, denial: &Denial) -> Result<(), StoreError>;
    /// The denial kept under `decision_id`, if any.
    fn denial(&self, decision_id: &str) -> Result<Option<Denial>, StoreError>;
    /// The id of an override of denial `overrides` that expires after `now`, if any.
    fn active(&self, overrides: &str, now: i64) -> Result<Option<String>, StoreError>;
    /// Keeps `o` unless an override of the same denial expires after `now`, in one transaction.
    fn grant(&self, o: &StoredOverride, now: i64) -> Result<Granted, StoreError>;
    /// The override whose own `decision_id` is `id`, if any.
    fn get(&self, id: &str) -> Result<Option<StoredOverride>, StoreError>;
    /// The overrides without a verdict, oldest first.
    fn unreviewed(&self) -> Result<Vec<StoredOverride>, StoreError>;
    /// Records the first verdict on override `id`; `false` when it already had one (or none
    /// such exists).
    fn review(&self, id: &str, verdict: &Verdict) -> Result<bool, StoreError>;
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]
mod tests {
    use super::with_receipt;
    use proptest::prelude::*;
    use serde_json::{json, Value};

    /// What `with_receipt` must give: the object with `receipt` inserted last, as a tree would.
    fn by_tree(answer: &str, receipt: &str) -> Value {
        let mut v: Value = serde_json::from_str(answer).unwrap();
        if let Some(obj) = v.as_object_mut() {
            obj.insert("receipt".into(), json!(receipt));
        }
        v
    }

    #[test]
    fn the_receipt_is_the_last_member_of_any_object() {
        for answer in ["{}", "{ }", "{\"a\":1}", "{\"a\":{\"b\":{}}}  \n", "{\"s\":\"}\"}", "[1]", "\"x\"", "7"] {
            for receipt in ["sha256:00", "quote\"and\\back\u{1}"] {
                let text = with_receipt(answer.to_string(), receipt);
                let read: Value = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{text}: {e}"));
                assert_eq!(read, by_tree(answer, receipt), "{answer}");
                if read.is_object() {
                    assert!(text.ends_with(&format!("{}}}", serde_json::to_string(receipt).unwrap())), "{text}");
                } else {
                    assert_eq!(text, answer, "not an object: left as it is");
                }
            }
        }
    }

    proptest! {
        /// Byte for byte what writing the tree with the receipt inserted gives (serde_json keeps
        /// insertion order), for objects of any members.
        #[test]
        fn appended_as_the_tree_writes_it(members in prop::collection::vec(("[a-z\"\\\\]{0,4}", any::<i64>()), 0..6), receipt in ".{0,12}") {
            let mut obj = serde_json::Map::new();
            for (k, v) in members {
                if k != "receipt" {
                    obj.insert(k, json!(v));
                }
            }
            let answer = Value::Object(obj).to_string();
            prop_assert_eq!(with_receipt(answer.clone(), &receipt), by_tree(&answer, &receipt).to_string());
        }
    }
}

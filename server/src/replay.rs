//! Idempotency keys: a retried call (the same `Idempotency-Key`, or `event_id` in an event's
//! body) is answered as the first one instead of acting twice, so an agent whose connection broke
//! does not open a second case (and ask the approvers twice), nor record the action twice in its
//! session, and a retried approval is not refused as `case_resolved`.
//!
//! A key answers only the call it was first used for: the same caller (kind and identity), the
//! same endpoint, the same case and the same body bytes, summed up as a [`Key::fingerprint`].
//! Any other use of a key — another body, another caller, another endpoint — is refused with 422
//! `idempotency_key_reused` and changes nothing: an earlier answer is never handed to a different
//! request (an `allow` for a small transfer must not answer a large one), and an event is never
//! dropped as a "retry" of someone else's (an approver's deny is not lost because another
//! approver used the same key).
//!
//! Keys live in `serve_idempotency_keys` of the store's file, by scope: `decide` (every agent's
//! decide keys share it, so one agent's key cannot be reused by another), or the case id for
//! events. Decide answers are kept [`KEEP_S`] and written right after the case is (two local
//! commits: a crash between them lets one retry decide again); a key is bound to its event
//! before the event is applied and for as long as the case's applied events are kept (forever),
//! so the store's "already applied" answer is only ever given to the same call. Two calls with
//! the same decide key at the same time: the second is refused with 409 `decide_in_progress`.

use crate::auth::Principal;
use crate::error::ApiError;
use aarm_cases::store::service::IdempotencyKeyStore;
use sha2::{Digest, Sha256};
use std::collections::HashSet;
use std::sync::Mutex;

/// How long a decide answer is kept for retries.
pub const KEEP_S: i64 = 24 * 3600;

/// The scope of decide keys (case events are scoped by their case id).
const DECIDE: &str = "decide";

/// A key as a caller sent it, with the fingerprint of the call it came with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Key {
    pub id: String,
    pub fingerprint: String,
}

impl Key {
    /// `id` used by `caller` on `endpoint` (`decide`, `approve`, ...) for `case` (empty for a
    /// decide) with these body bytes.
    pub fn new(id: String, caller: &Principal, endpoint: &str, case: &str, body: &[u8]) -> Key {
        let mut h = Sha256::new();
        let parts: [&[u8]; 5] =
            [caller.kind.as_str().as_bytes(), caller.id.as_bytes(), endpoint.as_bytes(), case.as_bytes(), body];
        for part in parts {
            // Length-prefixed, so that no two different calls sum up the same.
            h.update((part.len() as u64).to_be_bytes());
            h.update(part);
        }
        Key { id, fingerprint: format!("sha256:{}", hex::encode(h.finalize())) }
    }
}

pub struct IdempotencyKeys {
    store: Box<dyn IdempotencyKeyStore>,
    in_flight: Mutex<HashSet<String>>,
}

impl std::fmt::Debug for IdempotencyKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IdempotencyKeys").finish()
    }
}

fn db<T>(r: Result<T, aarm_cases::store::StoreError>) -> Result<T, ApiError> {
    r.map_err(|e| ApiError::Unavailable(format!("idempotency keys: {e}")))
}

fn reused(key: &Key) -> ApiError {
    ApiError::KeyReused(format!(
        "the idempotency key `{}` was already used for another call (another body, caller, endpoint or case): \
         use a new key for a new call",
        key.id
    ))
}

/// A claim on a decide key while its first call runs; released when dropped.
pub struct Claim<'a> {
    keys: &'a IdempotencyKeys,
    id: String,
}

impl Drop for Claim<'_> {
    fn drop(&mut self) {
        if let Ok(mut set) = self.keys.in_flight.lock() {
            set.remove(&self.id);
        }
    }
}

impl IdempotencyKeys {
    pub fn new(store: Box<dyn IdempotencyKeyStore>) -> IdempotencyKeys {
        IdempotencyKeys { store, in_flight: Mutex::new(HashSet::new()) }
    }

    /// The fingerprint `key` is bound to in `scope` (decide keys: only within [`KEEP_S`] of
    /// `now`), and the answer kept with it.
    fn bound(&self, scope: &str, key: &str, now: i64) -> Result<Option<(String, Option<String>)>, ApiError> {
        let since = if scope == DECIDE { now.saturating_sub(KEEP_S) } else { i64::MIN };
        Ok(db(self.store.bound(scope, key, since))?.map(|b| (b.fingerprint, b.response)))
    }

    /// The first answer to this decide key, if it was given within [`KEEP_S`] of `now`; 422 when
    /// the key was used for another call.
    /// The answer is the JSON text as first sent, checked to be JSON (a damaged row is a 503,
    /// never sent as it is).
    pub fn answered(&self, key: &Key, now: i64) -> Result<Option<String>, ApiError> {
        match self.bound(DECIDE, &key.id, now)? {
            None => Ok(None),
            Some((fingerprint, _)) if fingerprint != key.fingerprint => Err(reused(key)),
            Some((_, None)) => Ok(None),
            Some((_, Some(text))) => match serde_json::from_str::<serde::de::IgnoredAny>(&text) {
                Ok(_) => Ok(Some(text)),
                Err(e) => Err(ApiError::Unavailable(format!("idempotency keys: stored answer: {e}"))),
            },
        }
    }

    /// Claims a decide key for the call that decides it; `None` while another call holds it.
    pub fn claim(&self, key: &Key) -> Option<Claim<'_>> {
        let mut set = self.in_flight.lock().ok()?;
        if !set.insert(key.id.clone()) {
            return None;
        }
        Some(Claim { keys: self, id: key.id.clone() })
    }

    /// Keeps a decide answer, its JSON text as sent (and forgets decide answers older than
    /// [`KEEP_S`]).
    pub fn keep(&self, key: &Key, answer: &str, now: i64) -> Result<(), ApiError> {
        let forget_before = now.saturating_sub(KEEP_S);
        db(self.store.keep_answer(DECIDE, &key.id, &key.fingerprint, answer, now, forget_before))
    }

    /// The first answer to `key` in `scope` (an override's: `override:DENIAL`), kept for good;
    /// 422 when the key was used for another call.
    pub fn answered_in(&self, scope: &str, key: &Key) -> Result<Option<serde_json::Value>, ApiError> {
        match self.bound(scope, &key.id, 0)? {
            None | Some((_, None)) => Ok(None),
            Some((fingerprint, _)) if fingerprint != key.fingerprint => Err(reused(key)),
            Some((_, Some(text))) => serde_json::from_str(&text)
                .map(Some)
                .map_err(|e| ApiError::Unavailable(format!("idempotency keys: stored answer: {e}"))),
        }
    }

    /// Keeps the answer to `key` in `scope` for its retries.
    pub fn keep_in(&self, scope: &str, key: &Key, answer: &serde_json::Value, now: i64) -> Result<(), ApiError> {
        db(self.store.keep_answer(scope, &key.id, &key.fingerprint, &answer.to_string(), now, i64::MIN))
    }

    /// For an event on `case`: `Ok` when the key is new or was bound to this same call; 422 when
    /// it was bound to another.
    pub fn check_event(&self, case: &str, key: &Key) -> Result<(), ApiError> {
        match self.bound(case, &key.id, 0)? {
            Some((fingerprint, _)) if fingerprint != key.fingerprint => Err(reused(key)),
            _ => Ok(()),
        }
    }

    /// Binds the key to this call before its event is applied (see the module doc).
    pub fn bind_event(&self, case: &str, key: &Key, now: i64) -> Result<(), ApiError> {
        db(self.store.bind(case, &key.id, &key.fingerprint, now))?;
        // A concurrent binder (another process on the file) may have won: check who holds the
        // key.
        self.check_event(case, key)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]
mod tests {
    use super::*;
    use aarm_cases::store::any::AnyStore;

    fn keys(dir: &tempfile::TempDir) -> IdempotencyKeys {
        let store = AnyStore::open(&dir.path().join("cases.db"), true).unwrap();
        IdempotencyKeys::new(store.idempotency_keys().unwrap())
    }

    fn key(id: &str, fingerprint: &str) -> Key {
        Key { id: id.into(), fingerprint: fingerprint.into() }
    }

    /// A retry is answered with the first answer's text as sent, byte for byte; the key with
    /// another call's fingerprint is refused; a kept answer that is not JSON (a damaged row) is
    /// a 503, never replayed as it is.
    #[test]
    fn a_replayed_answer_is_the_text_sent_and_a_damaged_one_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let keys = keys(&dir);
        let first = r#"{"decision":"allow","reason":{"message":"caf\u00e9 \"x\""},"receipt":"sha256:1"}"#;
        keys.keep(&key("k1", "f1"), first, 1_000).unwrap();
        assert_eq!(keys.answered(&key("k1", "f1"), 1_001).unwrap().as_deref(), Some(first));
        assert!(matches!(keys.answered(&key("k1", "other"), 1_001), Err(ApiError::KeyReused(_))));
        keys.keep(&key("k2", "f2"), r#"{"decision":"allow""#, 1_000).unwrap();
        assert!(matches!(keys.answered(&key("k2", "f2"), 1_001), Err(ApiError::Unavailable(_))));
        assert_eq!(keys.answered(&key("k3", "f3"), 1_001).unwrap(), None);
    }
}

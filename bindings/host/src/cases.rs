//! The case lifecycle on the embedded SQLite store, for a host that suspends actions without a
//! server: open a case from a request, then approve, deny, provide evidence, move the clock.
//! Only the lifecycle's public service API is used (`Lifecycle`, `Event`, the store's reads).
//!
//! One [`Cases`] serializes its calls on a mutex (a SQLite connection is used by one thread at a
//! time); several processes may open the same store, as several `aarm case` commands do.

use crate::engine::{decision_json, Bundle, Request};
use crate::error::HostError;
pub use aarm_cases::lifecycle::event::Event;
use aarm_cases::lifecycle::identity::NoIdentityService;
use aarm_cases::lifecycle::limits::Caps;
use aarm_cases::lifecycle::service::{Lifecycle, LifecycleError};
use aarm_cases::store::sqlite::SqliteStore;
use aarm_cases::store::CaseStore;
use aarm_runtime::bundle as bundle_file;
use serde_json::Value as Json;
use std::path::Path;
use std::sync::{Mutex, MutexGuard};

/// The case lifecycle of one bundle on one SQLite store: what a package's `Cases` object holds.
/// Every call answers JSON as `aarm case` prints it; a refused event is
/// [`HostError::Rejected`] with its stable code, and the store is left as it was.
pub struct Cases {
    lifecycle: Mutex<Lifecycle<SqliteStore>>,
    bundle: Bundle,
}

fn lifecycle_error(e: LifecycleError) -> HostError {
    match e {
        LifecycleError::Rejected(r) => HostError::Rejected { code: r.as_str() },
        other => HostError::Store(other.to_string()),
    }
}

/// An approver's caps as `POST /v1/cases/{id}/approve` reads its `max`
/// ([`aarm_cases::lifecycle::limits::caps_of_json`], the one reading of them).
pub(crate) fn caps_of_json(max: &Json) -> Result<Caps, HostError> {
    aarm_cases::lifecycle::limits::caps_of_json(max).map_err(|e| HostError::Usage(e.to_string()))
}

fn to_json(v: &impl serde::Serialize) -> Result<Json, HostError> {
    serde_json::to_value(v).map_err(|e| HostError::Store(format!("a case cannot be written as JSON: {e}")))
}

impl Cases {
    /// Opens (or creates) the store at `path`, keeps the bundle in it, and signs the receipts
    /// this host writes with `sign_key` (a key file's contents) when given.
    pub fn open(path: &Path, bundle: Bundle, sign_key: Option<&[u8]>) -> Result<Cases, HostError> {
        let mut store = SqliteStore::open(path).map_err(|e| HostError::Store(e.to_string()))?;
        if let Some(bytes) = sign_key {
            let key =
                bundle_file::signing_key_from_file_bytes(bytes).map_err(|e| HostError::SigningKey(e.to_string()))?;
            store = store.with_signer(key);
        }
        let mut lifecycle = Lifecycle::new(store, Box::new(NoIdentityService));
        lifecycle.add_engine(bundle.engine().clone(), Some(bundle.bytes())).map_err(lifecycle_error)?;
        Ok(Cases { lifecycle: Mutex::new(lifecycle), bundle })
    }

    fn lock(&self) -> Result<MutexGuard<'_, Lifecycle<SqliteStore>>, HostError> {
        self.lifecycle.lock().map_err(|_| {
            HostError::Store("the case store is unusable: a call on another thread failed inside it".into())
        })
    }

    /// Decides the request; a `step_up` or `defer` opens a case. The decision JSON with `case`
    /// (the new case's id, when one was opened) and `receipt` (the hash of the receipt recording
    /// it), as `aarm case open` prints it. A decision the store cannot record is a `deny`
    /// (`store.unavailable`).
    pub fn open_case(&self, request: &Request, now: i64) -> Result<Json, HostError> {
        let (decision, recorded) = self.bundle.decide_recorded(request, now);
        let submitted = self.lock()?.open_decided(decision, &recorded, now).map_err(lifecycle_error)?;
        let mut out = decision_json(&submitted.decision)?;
        if let Some(obj) = out.as_object_mut() {
            if let Some(case) = &submitted.case {
                obj.insert("case".into(), Json::String(case.id.clone()));
            }
            if let Some(receipt) = submitted.receipt {
                obj.insert("receipt".into(), Json::String(receipt));
            }
        }
        Ok(out)
    }

    /// Applies one event; the case as it now stands.
    pub fn apply(&self, case: &str, event: &Event, now: i64) -> Result<Json, HostError> {
        let (case, _) = self.lock()?.apply(case, event, now, None).map_err(lifecycle_error)?;
        to_json(&case)
    }

    /// Approval by `by` with the `roles` the host verified for them, bounded when the approver
    /// says so: `until` (seconds since the epoch) narrows the approval's expiry, and `max` (a
    /// JSON object, read by [`aarm_cases::lifecycle::limits::caps_of_json`]) caps the parameters the step-up's `limits` lists. A
    /// past `until` is refused `until_in_past`; a cap the step-up does not allow
    /// `limit_not_allowed`, one below the action's own value `limit_below_action`.
    pub fn approve(
        &self,
        case: &str,
        by: &str,
        roles: Vec<String>,
        until: Option<i64>,
        max: &Json,
        now: i64,
    ) -> Result<Json, HostError> {
        let event = Event::Approve { by: by.to_string(), roles, until, max: caps_of_json(max)? };
        self.apply(case, &event, now)
    }

    /// Provides each fact of `facts` (a JSON object, fact name → value) in its order, as one
    /// `provide` event each; the case after the last. A refused fact stops there: the facts
    /// before it stay provided.
    pub fn provide(&self, case: &str, facts: &Json, by: Option<&str>, now: i64) -> Result<Json, HostError> {
        let Some(facts) = facts.as_object() else {
            return Err(HostError::Usage("facts must be an object of fact names to values".into()));
        };
        if facts.is_empty() {
            return Err(HostError::Usage("facts is empty: name at least one fact to provide".into()));
        }
        let mut last = Json::Null;
        for (name, value) in facts {
            let event = Event::Provide { name: name.clone(), value: value.clone(), by: by.map(str::to_string) };
            last = self.apply(case, &event, now)?;
        }
        Ok(last)
    }

    /// Fires every timeout and escalation due at `now`; the cases that changed.
    pub fn tick(&self, now: i64) -> Result<Json, HostError> {
        let changed = self.lock()?.tick(now).map_err(lifecycle_error)?;
        to_json(&changed)
    }

    /// The case, or `None` when the store has no case of that id.
    pub fn get(&self, case: &str) -> Result<Option<Json>, HostError> {
        let found = self.lock()?.store().get(case).map_err(|e| HostError::Store(e.to_string()))?;
        found.map(|c| to_json(&c)).transpose()
    }

    /// The receipts of one case, or the whole chain in order.
    pub fn receipts(&self, case: Option<&str>) -> Result<Json, HostError> {
        let receipts = self.lock()?.store().receipts(case).map_err(|e| HostError::Store(e.to_string()))?;
        to_json(&receipts)
    }
}

#[cfg(test)]
mod tests {
    use super::caps_of_json;
    use serde_json::json;

    #[test]
    fn caps_are_read_exactly_from_numbers_and_strings_and_nothing_else() {
        let caps = caps_of_json(&json!({"amount": 5000, "fee": "12.50", "rate": 0.25})).unwrap();
        assert_eq!(caps.get("amount").map(String::as_str), Some("5000"));
        assert_eq!(caps.get("fee").map(String::as_str), Some("12.5"));
        assert_eq!(caps.get("rate").map(String::as_str), Some("0.25"));
        assert!(caps_of_json(&json!(null)).unwrap().is_empty());
        for bad in [json!({"amount": "lots"}), json!({"amount": true}), json!({"amount": null}), json!([5000])] {
            let err = caps_of_json(&bad).unwrap_err();
            assert_eq!(err.kind(), crate::ErrorKind::Usage, "{bad}");
        }
        let err = caps_of_json(&json!({"amount": "1.0000000000000000001"})).unwrap_err();
        assert!(err.to_string().contains("max.amount"), "{err}");
    }
}

//! The lifecycle as a host uses it: decide a request, open a case when the decision suspends
//! it, and drive cases with events — the engine, the state machine and a [`CaseStore`] together.

use super::action::action_hash_ignoring;
use super::case::{Case, Credential};
use super::event::{Event, Rejection};
use super::identity::{IdentityVerifier, VerifiedActor};
use super::machine::{self, Env};
use crate::lifecycle::receipt::{Receipt, ReceiptDraft};
use crate::store::service::DenialDraft;
use crate::store::{CaseStore, Recorded, StoreError};
use aarm_runtime::decision::Decision;
use aarm_runtime::engine::{Engine, EngineError};
use std::collections::HashMap;
use std::sync::Arc;

/// How many times an event is applied again after another writer changed its case first.
const CONFLICT_RETRIES: u32 = 16;

/// Why the lifecycle did not apply an event or decide a request: refused by the rules (nothing
/// changed), or unable to work (the store or the case's bundle failed). Hosts answer a refusal to
/// the caller and fail closed on the others.
#[derive(Debug, thiserror::Error)]
pub enum LifecycleError {
    /// The event was refused; nothing changed (except what was due before it, if anything).
    #[error("rejected: {0}")]
    Rejected(Rejection),
    /// The store failed; whatever the event would have done is not recorded, and so not done.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The bundle a case was opened with is not available or does not load.
    #[error("bundle {hash} of the case cannot be loaded: {message}")]
    Bundle {
        /// The hash of the bundle the case names.
        hash: String,
        /// Why it is not available (not in the store, or it does not load).
        message: String,
    },
}

impl LifecycleError {
    /// The refusal, when this is one: a caller's mistake to answer, unlike a failure of the
    /// store or the bundle.
    pub fn rejection(&self) -> Option<Rejection> {
        match self {
            LifecycleError::Rejected(r) => Some(*r),
            _ => None,
        }
    }
}

/// A decision, the case it opened (for `step_up` and `defer`), and the receipt that records it.
#[derive(Debug, Clone)]
pub struct Submitted {
    /// The decision to answer: the engine's, or a `deny` (`store.unavailable`) when it could
    /// not be recorded.
    pub decision: Decision,
    /// The case opened, when the decision suspends the action (`step_up`, `defer`).
    pub case: Option<Case>,
    /// The hash of the receipt recording the decision: the case's `open` receipt, or the
    /// `decide` receipt of a decision that opened no case. `None` only when the store could not
    /// record it, and then the decision is a `deny` (`store.unavailable`).
    pub receipt: Option<String>,
}

/// An event as [`Lifecycle::apply_committed`] was given it: each attempt applies it again, as
/// a whole, to the case as it then is.
#[derive(Clone, Copy)]
struct Incoming<'a> {
    id: &'a str,
    event: &'a Event,
    now: i64,
    event_id: Option<&'a str>,
    verified: Option<&'a VerifiedActor>,
}

/// What applying an event committed. When something fell due before the event and the event
/// was then refused (an approval after the timeout: the timeout is recorded, the approval
/// refused with `case_resolved`), `receipts` holds what fell due and `refused` the refusal: a
/// host that reports transitions (metrics, traces, notifications) sees every receipt written.
#[derive(Debug, Clone)]
pub struct Applied {
    /// The case as stored after the call.
    pub case: Case,
    /// The receipts the call committed, in chain order (empty when it changed nothing).
    pub receipts: Vec<Receipt>,
    /// Why the event itself was refused, after the receipts above were committed.
    pub refused: Option<Rejection>,
}

impl Applied {
    /// As [`Lifecycle::apply`] answers: the refusal is an error (what fell due before the
    /// event stays committed all the same).
    pub(crate) fn into_result(self) -> Result<(Case, Vec<Receipt>), LifecycleError> {
        match self.refused {
            Some(r) => Err(LifecycleError::Rejected(r)),
            None => Ok((self.case, self.receipts)),
        }
    }
}

/// Fail closed: a decision whose receipt cannot be written is a `deny`, never an unrecorded allow.
fn unrecorded(decision: Decision, why: String) -> Submitted {
    let denied = decision.denied_instead(
        aarm_runtime::decision::codes::STORE_UNAVAILABLE,
        format!("the decision could not be recorded: {why}"),
    );
    Submitted { decision: denied, case: None, receipt: None }
}

/// The lifecycle a host drives: the bundles its cases were opened with, the store that keeps
/// cases and receipts, and the host's identity service. Every event goes through
/// [`Lifecycle::apply`] (or its variants): the state machine decides, the store commits the case
/// and its receipts atomically, and a conflict with another writer is retried on a fresh read.
pub struct Lifecycle<S: CaseStore> {
    store: S,
    engines: HashMap<String, Arc<Engine>>,
    identities: Box<dyn IdentityVerifier + Send + Sync>,
}

impl<S: CaseStore> Lifecycle<S> {
    /// A lifecycle on `store`, with no bundle yet ([`Lifecycle::add_engine`] registers them; a
    /// case's bundle is also read back from the store when needed).
    pub fn new(store: S, identities: Box<dyn IdentityVerifier + Send + Sync>) -> Self {
        Lifecycle { store, engines: HashMap::new(), identities }
    }

    /// The store, to read cases and receipts.
    pub fn store(&self) -> &S {
        &self.store
    }

    /// The store, mutably, for a host that must reach past the lifecycle (a test that takes it
    /// apart); a case changed here rather than through an event gets no receipt.
    pub fn store_mut(&mut self) -> &mut S {
        &mut self.store
    }

    /// Registers a loaded bundle; with its bytes, the store keeps it, so that its cases can be
    /// re-evaluated after a restart or from another process.
    pub fn add_engine(&mut self, engine: Arc<Engine>, bytes: Option<&[u8]>) -> Result<(), LifecycleError> {
        if let Some(b) = bytes {
            self.store.put_bundle(engine.bundle_hash(), b)?;
        }
        self.engines.insert(engine.bundle_hash().to_string(), engine);
        Ok(())
    }

    fn engine(&mut self, hash: &str) -> Result<Arc<Engine>, LifecycleError> {
        if let Some(e) = self.engines.get(hash) {
            return Ok(e.clone());
        }
        let bytes = self
            .store
            .get_bundle(hash)?
            .ok_or_else(|| LifecycleError::Bundle { hash: hash.to_string(), message: "not in the store".into() })?;
        let engine = Engine::load(&bytes, &[], false)
            .map_err(|e: EngineError| LifecycleError::Bundle { hash: hash.to_string(), message: e.to_string() })?;
        let engine = Arc::new(engine);
        self.engines.insert(hash.to_string(), engine.clone());
        Ok(engine)
    }

    /// The engine of bundle `hash`: registered, or loaded from the store (for hosts that show
    /// a case's rule documentation, or re-decide against a case's own bundle).
    pub fn bundle(&mut self, hash: &str) -> Result<Arc<Engine>, LifecycleError> {
        self.engine(hash)
    }

    /// The store refuses a clock earlier than its last recorded event.
    fn check_clock(&self, now: i64) -> Result<(), LifecycleError> {
        match self.store.last_event_at()? {
            Some(last) if now < last => Err(LifecycleError::Rejected(Rejection::ClockWentBack)),
            _ => Ok(()),
        }
    }

    /// Decides a request against the bundle `bundle_hash`; a `step_up` or `defer` opens a case,
    /// any other decision leaves a `decide` receipt. When the store cannot record either, the
    /// decision is a `deny` (`store.unavailable`).
    pub fn submit(&mut self, bundle_hash: &str, request_json: &str, now: i64) -> Result<Submitted, LifecycleError> {
        self.submit_as(bundle_hash, request_json, now, None)
    }

    /// [`Lifecycle::submit`] for a requester whose credential the host verified, valid until
    /// `credential.valid_until`: the case records it, and a release after it is
    /// `identity_invalid` until the requester presents a valid one ([`Event::Revalidate`]).
    pub fn submit_as(
        &mut self,
        bundle_hash: &str,
        request_json: &str,
        now: i64,
        credential: Option<Credential>,
    ) -> Result<Submitted, LifecycleError> {
        let engine = self.engine(bundle_hash)?;
        let decision = engine.decide_json(request_json, now).identify();
        let request: serde_json::Value = serde_json::from_str(request_json).unwrap_or(serde_json::Value::Null);
        self.open_decided_as(decision, &request, now, credential)
    }

    /// Appends `decide` receipts (see [`machine::decided`]) in one write. Each is stamped no
    /// earlier than the store's last event, so that receipt times never decrease along the chain
    /// (a decision already made is recorded, never refused for the clock).
    pub fn record_decisions(&mut self, drafts: Vec<ReceiptDraft>) -> Result<Vec<Receipt>, LifecycleError> {
        Ok(self.record_decisions_keeping(drafts.into_iter().map(|d| (d, None)).collect())?.receipts)
    }

    /// [`Lifecycle::record_decisions`], each receipt with the denial its answer keeps for
    /// overrides, if any, written in the same transaction, each stamped no earlier than the
    /// store's last event ([`CaseStore::record_keeping_stamped`]).
    pub fn record_decisions_keeping(
        &mut self,
        decided: Vec<(ReceiptDraft, Option<DenialDraft>)>,
    ) -> Result<Recorded, LifecycleError> {
        if decided.is_empty() {
            return Ok(Recorded { receipts: Vec::new(), denials: Ok(()) });
        }
        Ok(self.store.record_keeping_stamped(decided)?)
    }

    /// Opens a case for a decision the host already made (with an engine it registered): a
    /// `step_up` or `defer` opens one, other decisions pass through. Hosts that decide outside
    /// the lifecycle's lock (a server deciding allow/deny concurrently) use this for the rest.
    /// When the store cannot record the case, the decision is a `deny` (`store.unavailable`).
    pub fn open_decided(
        &mut self,
        decision: Decision,
        request: &serde_json::Value,
        now: i64,
    ) -> Result<Submitted, LifecycleError> {
        self.open_decided_as(decision, request, now, None)
    }

    /// [`Lifecycle::open_decided`] with the requester's verified credential (see
    /// [`Lifecycle::submit_as`]).
    pub fn open_decided_as(
        &mut self,
        decision: Decision,
        request: &serde_json::Value,
        now: i64,
        credential: Option<Credential>,
    ) -> Result<Submitted, LifecycleError> {
        // No engine for the decision's bundle (a `bundle.invalid` deny): the hash leaves nothing out.
        let ignored = self
            .engine(&decision.policy.bundle_hash)
            .map(|e| e.program().settings.action_hash_ignores.clone())
            .unwrap_or_default();
        let Some((mut case, mut receipt)) = machine::open(&decision, request, now, &ignored) else {
            let recorded = self.record_decisions(vec![machine::decided(
                &decision,
                request,
                action_hash_ignoring(request, &ignored),
                now,
            )]);
            return Ok(match recorded.map(|r| r.into_iter().next()) {
                Ok(Some(r)) => Submitted { decision, case: None, receipt: Some(r.hash) },
                Ok(None) => unrecorded(decision, "the store returned no receipt".into()),
                Err(e) => unrecorded(decision, e.to_string()),
            });
        };
        if let Some(c) = &credential {
            if let Some(detail) = receipt.detail.as_object_mut() {
                detail.insert("credential_valid_until".into(), serde_json::json!(c.valid_until));
            }
        }
        case.credential = credential;
        self.check_clock(now)?;
        match self.store.open(case, receipt) {
            Ok((case, r)) => Ok(Submitted { decision, case: Some(case), receipt: Some(r.hash) }),
            // Fail closed: a step-up or deferral that cannot be recorded would wait forever.
            Err(e) => {
                let denied = decision.denied_instead(
                    aarm_runtime::decision::codes::STORE_UNAVAILABLE,
                    format!("the suspended action could not be recorded: {e}"),
                );
                Ok(Submitted { decision: denied, case: None, receipt: None })
            }
        }
    }

    /// Applies an event to a case. `event_id`, when given, makes a retried event a no-op: an id
    /// already applied to the case answers with the case as stored, even if that first delivery
    /// resolved it.
    pub fn apply(
        &mut self,
        id: &str,
        event: &Event,
        now: i64,
        event_id: Option<&str>,
    ) -> Result<(Case, Vec<Receipt>), LifecycleError> {
        self.apply_verified(id, event, now, event_id, None)
    }

    /// [`Lifecycle::apply`] for an event whose actor the host authenticated: the event's own
    /// receipt records `identity_verified: true` and `verified_actor` (`{ "id", "method" }`),
    /// and so does the approval or denial it adds to the case.
    pub fn apply_verified(
        &mut self,
        id: &str,
        event: &Event,
        now: i64,
        event_id: Option<&str>,
        verified: Option<&VerifiedActor>,
    ) -> Result<(Case, Vec<Receipt>), LifecycleError> {
        self.apply_committed(id, event, now, event_id, verified)?.into_result()
    }

    /// [`Lifecycle::apply_verified`], answering what was committed even when the event itself
    /// was refused after something fell due before it ([`Applied`]). An error means nothing
    /// was committed.
    pub fn apply_committed(
        &mut self,
        id: &str,
        event: &Event,
        now: i64,
        event_id: Option<&str>,
        verified: Option<&VerifiedActor>,
    ) -> Result<Applied, LifecycleError> {
        self.apply_from(Incoming { id, event, now, event_id, verified }, None)
    }

    /// [`Lifecycle::apply_committed`], starting from `read` (the case as the caller just read it
    /// from the store) when given, instead of reading it again.
    fn apply_from(&mut self, incoming: Incoming<'_>, mut read: Option<Case>) -> Result<Applied, LifecycleError> {
        let Incoming { id, event_id, .. } = incoming;
        if let Some(event_id) = event_id {
            if self.store.applied(id, event_id)? {
                let case = self.store.get(id)?.ok_or(LifecycleError::Rejected(Rejection::UnknownCase))?;
                return Ok(Applied { case, receipts: Vec::new(), refused: None });
            }
        }
        // Another writer (another process on a shared store) may commit the case between our
        // read and our commit: the store refuses ours (`Conflict`), and the event is applied
        // again to the case as it now is, read afresh (a second approval of a case the first
        // resolved is then `case_resolved`). Bounded: a case that keeps changing fails closed.
        let mut attempts = 0;
        loop {
            attempts += 1;
            match self.apply_once(incoming, read.take()) {
                Err(LifecycleError::Store(StoreError::Conflict(_))) if attempts < CONFLICT_RETRIES => {}
                other => return other,
            }
        }
    }

    /// One attempt of [`Lifecycle::apply_committed`]: read (unless the caller has), transition,
    /// commit.
    fn apply_once(&mut self, incoming: Incoming<'_>, read: Option<Case>) -> Result<Applied, LifecycleError> {
        let Incoming { id, event, now, event_id, verified } = incoming;
        let case = match read {
            Some(case) => case,
            None => self.store.get(id)?.ok_or(LifecycleError::Rejected(Rejection::UnknownCase))?,
        };
        self.check_clock(now)?;
        let engine = self.engine(&case.bundle_hash)?;
        let env = Env { engine: &engine, identities: self.identities.as_ref() };
        let transition =
            machine::apply_verified_owned(case, event, now, verified, &env).map_err(LifecycleError::Rejected)?;
        let mut case = transition.case;
        let receipts = if transition.receipts.is_empty() {
            Vec::new()
        } else {
            match self.store.commit(&case, transition.receipts, event_id)? {
                Some(r) => r,
                // Already applied: report the case as stored.
                None => {
                    let case = self.store.get(id)?.unwrap_or(case);
                    return Ok(Applied { case, receipts: Vec::new(), refused: None });
                }
            }
        };
        // As the store sealed the case it wrote (CaseStore::commit).
        case.seal_evidence_refs(&receipts);
        Ok(Applied { case, receipts, refused: transition.rejected })
    }

    /// Fires every timeout and escalation due at `now`, across all pending cases.
    pub fn tick(&mut self, now: i64) -> Result<Vec<Case>, LifecycleError> {
        self.check_clock(now)?;
        let mut changed = Vec::new();
        for case in self.store.list(true)? {
            // The listed case is the stored one: the tick starts from it rather than reading
            // each pending case a second time (a query and a decode on a database store).
            let id = case.id.clone();
            let incoming = Incoming { id: &id, event: &Event::Tick, now, event_id: None, verified: None };
            match self.apply_from(incoming, Some(case)).and_then(Applied::into_result) {
                Ok((c, receipts)) if !receipts.is_empty() => changed.push(c),
                Ok(_) => {}
                Err(LifecycleError::Rejected(_)) => {}
                Err(e) => return Err(e),
            }
        }
        Ok(changed)
    }
}

//! Every decision leaves a receipt: the `decide` receipts of decisions that open no case
//! (`allow`, `deny`, `modify`), written with group commit.
//!
//! A decide call queues its receipt and, unless a flush is already asked for and has not yet
//! started, asks for one on the lifecycle's blocking thread; the flush takes every receipt queued
//! so far and writes them in one synced SQLite transaction, then answers each caller with its
//! receipt's hash. Asking once per batch rather than once per call spares a hop to the blocking
//! pool and a turn of the lifecycle's lock for every decision (they were most of the cost of a
//! decision under load: benches/http.sh). Under load, one fsync
//! covers many decisions instead of one each; alone, a decision costs one transaction. The
//! caller answers only once its receipt is durable, and a receipt that cannot be written makes
//! the decision a `deny` (`store.unavailable`) — an unrecorded `allow` is never answered.
//!
//! A `deny` that opens no case travels with its receipt: the flush keeps the denial for
//! overrides in the same transaction
//! ([`aarm_cases::store::CaseStore::record_keeping`]), so a deny costs one synced write like an
//! allow, and an override can name a denial as soon as (and only once) its answer could have
//! been sent. A denial that cannot be kept is logged and stays a denial.

use crate::error::ApiError;
use crate::lifecycle::Cases;
use aarm_cases::lifecycle::receipt::ReceiptDraft;
use aarm_cases::lifecycle::service::Lifecycle;
use aarm_cases::store::any::AnyStore;
use aarm_cases::store::service::DenialDraft;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use tokio::sync::oneshot;

/// The most receipts one transaction writes (bounds the time the lifecycle's lock is held).
const MAX_BATCH: usize = 512;

type Reply = oneshot::Sender<Result<String, String>>;

/// A receipt waiting for its flush: with the denial kept beside it (a `deny`), and its caller.
#[derive(Debug)]
struct Queued {
    draft: ReceiptDraft,
    denial: Option<DenialDraft>,
    reply: Reply,
}

/// Decision receipts waiting for the next flush.
#[derive(Debug, Default)]
pub struct DecisionLog {
    queue: Mutex<Vec<Queued>>,
    /// A flush is asked for and has not yet started to take the queue: whatever is queued now is
    /// written by it. The flush clears this before it takes the queue, so a receipt queued after
    /// the clear asks for a flush of its own and none is left behind.
    asked: AtomicBool,
}

impl DecisionLog {
    /// Writes `draft` (with whatever else is queued), and `denial` in the same transaction, and
    /// returns the receipt's hash once stored.
    pub async fn record(
        self: &Arc<Self>,
        cases: &Cases,
        draft: ReceiptDraft,
        denial: Option<DenialDraft>,
    ) -> Result<String, ApiError> {
        let (reply, answer) = oneshot::channel();
        self.queue
            .lock()
            .map_err(|_| ApiError::Unavailable("the decision log lock is poisoned".into()))?
            .push(Queued { draft, denial, reply });
        if !self.asked.swap(true, Ordering::SeqCst) {
            let log = self.clone();
            let ran = cases
                .run(move |lc| {
                    log.flush(lc);
                    Ok(())
                })
                .await;
            if let Err(e) = ran {
                // The flush never ran: every receipt it would have taken is refused, not left
                // waiting (its decision becomes a deny).
                self.asked.store(false, Ordering::SeqCst);
                self.refuse_queued(&e.to_string());
            }
        }
        match answer.await {
            Ok(Ok(hash)) => Ok(hash),
            Ok(Err(e)) => Err(ApiError::Unavailable(format!("the decision could not be recorded: {e}"))),
            Err(_) => Err(ApiError::Unavailable("the decision was not recorded".into())),
        }
    }

    /// Writes the queued receipts in batches of at most [`MAX_BATCH`], answering each caller.
    fn flush(&self, lc: &mut Lifecycle<AnyStore>) {
        // Before the first take: a receipt queued from here on asks for another flush.
        self.asked.store(false, Ordering::SeqCst);
        loop {
            let taken: Option<Vec<Queued>> = match self.queue.lock() {
                Ok(mut q) => {
                    let n = q.len().min(MAX_BATCH);
                    Some(q.drain(..n).collect())
                }
                Err(_) => None,
            };
            // A poisoned log writes nothing more; its callers are refused, not left waiting (the
            // poisoned guard is dropped by now, so the refusal can take the lock).
            let Some(batch) = taken else { return self.refuse_queued("the decision log lock is poisoned") };
            if batch.is_empty() {
                return;
            }
            let denied: Vec<String> =
                batch.iter().filter_map(|q| q.denial.as_ref().map(|d| d.decision_id.clone())).collect();
            let (decided, replies): (Vec<_>, Vec<Reply>) =
                batch.into_iter().map(|q| ((q.draft, q.denial), q.reply)).unzip();
            match lc.record_decisions_keeping(decided) {
                Ok(recorded) => {
                    if let Err(e) = &recorded.denials {
                        // Each stays a denial, answered with its receipt; it only cannot be
                        // overridden.
                        for decision in &denied {
                            tracing::error!(decision, error = %e, "cannot keep the denial for overrides");
                        }
                    }
                    // A reply left without a receipt is dropped: its caller denies.
                    for (receipt, reply) in recorded.receipts.into_iter().zip(replies) {
                        let _ = reply.send(Ok(receipt.hash));
                    }
                }
                Err(e) => {
                    tracing::error!(error = %e, "cannot record decision receipts");
                    for reply in replies {
                        let _ = reply.send(Err(e.to_string()));
                    }
                }
            }
        }
    }

    /// Answers every queued receipt's caller with `error` (the flush that would have written them
    /// could not run, or the log's lock is poisoned).
    fn refuse_queued(&self, error: &str) {
        // A poisoned queue is still a whole list (a push or a drain cannot stop half-way), and
        // its callers wait on their replies: they are answered all the same.
        let queued: Vec<Queued> =
            self.queue.lock().unwrap_or_else(std::sync::PoisonError::into_inner).drain(..).collect();
        for q in queued {
            let _ = q.reply.send(Err(error.to_string()));
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]
mod tests {
    use super::*;
    use aarm_cases::lifecycle::case::CaseState;
    use aarm_cases::lifecycle::identity::NoIdentityService;
    use aarm_cases::receipts::{verify_chain, VerifyOptions};
    use aarm_cases::store::CaseStore;
    use aarm_runtime::decision::{PolicyRef, Reason};

    fn draft(i: usize) -> ReceiptDraft {
        ReceiptDraft {
            case: String::new(),
            event: "decide".into(),
            actor: Some("agent".into()),
            state: CaseState::Allowed,
            decision: "allow".into(),
            reason: Reason { code: std::sync::Arc::from(""), message: String::new() },
            policy: PolicyRef::new("p", "1", ""),
            action_hash: format!("sha256:{i}"),
            identity: serde_json::json!({}),
            at: 1,
            detail: serde_json::json!({}),
        }
    }

    /// More receipts queued than one batch holds (the limit, twice, and a remainder): one flush
    /// writes them all in order, each caller gets the hash of its own receipt, the chain verifies,
    /// and the next receipt queued asks for a flush again.
    #[test]
    fn one_flush_writes_every_batch_of_a_queue_longer_than_the_limit() {
        // Removed with its -wal and -shm files when dropped, also when an assertion fails.
        let dir = tempfile::Builder::new().prefix("aarm-audit-batches-").tempdir().unwrap();
        let path = dir.path().join("cases.db");
        let mut lc = Lifecycle::new(AnyStore::open(&path, true).unwrap(), Box::new(NoIdentityService));
        let log = DecisionLog::default();
        let n = 2 * MAX_BATCH + 7;
        let mut answers = Vec::new();
        {
            let mut q = log.queue.lock().unwrap();
            for i in 0..n {
                let (reply, answer) = oneshot::channel();
                q.push(Queued { draft: draft(i), denial: None, reply });
                answers.push(answer);
            }
        }
        log.asked.store(true, Ordering::SeqCst);
        log.flush(&mut lc);
        assert!(!log.asked.load(Ordering::SeqCst), "a receipt queued after this flush must ask for another");
        assert!(log.queue.lock().unwrap().is_empty(), "every batch taken");
        let receipts = lc.store().receipts(None).unwrap();
        assert_eq!(receipts.len(), n);
        verify_chain(&receipts, &VerifyOptions::default()).unwrap();
        for (i, mut answer) in answers.into_iter().enumerate() {
            let hash = answer.try_recv().unwrap().unwrap();
            assert_eq!(hash, receipts[i].hash, "caller {i} is answered with its own receipt");
            assert_eq!(receipts[i].body.action_hash, format!("sha256:{i}"));
        }
    }

    /// A queue whose lock was poisoned (a thread panicked holding it) refuses its callers: none
    /// is left waiting for an answer that never comes, and nothing is written.
    #[test]
    fn a_poisoned_queue_refuses_its_callers_instead_of_leaving_them_waiting() {
        let dir = tempfile::Builder::new().prefix("aarm-audit-poisoned-").tempdir().unwrap();
        let path = dir.path().join("cases.db");
        let mut lc = Lifecycle::new(AnyStore::open(&path, true).unwrap(), Box::new(NoIdentityService));
        let log = Arc::new(DecisionLog::default());
        let (reply, mut answer) = oneshot::channel();
        log.queue.lock().unwrap().push(Queued { draft: draft(0), denial: None, reply });
        let poisoner = log.clone();
        let _ = std::thread::spawn(move || {
            let _held = poisoner.queue.lock().unwrap();
            panic!("poison the decision log's lock");
        })
        .join();
        assert!(log.queue.is_poisoned());
        log.flush(&mut lc);
        assert!(answer.try_recv().unwrap().is_err(), "the caller is refused, not answered with a receipt");
        assert!(lc.store().receipts(None).unwrap().is_empty());
    }
}

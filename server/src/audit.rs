//! Every decision leaves a receipt: the `decide` receipts of decisions that open no case
//! (`allow`, `deny`, `modify`), written with group commit.
//!
//! A decide call queues its receipt and asks for a flush on the lifecycle's blocking thread;
//! whichever flush runs first takes every receipt queued so far and writes them in one synced
//! SQLite transaction, then answers each caller with its receipt's hash. Under load, one fsync
//! covers many decisions instead of one each; alone, a decision costs one transaction. The
//! caller answers only once its receipt is durable, and a receipt that cannot be written makes
//! the decision a `deny` (`store.unavailable`) — an unrecorded `allow` is never answered.

use crate::error::ApiError;
use crate::lifecycle::Cases;
use aarm_cases::lifecycle::receipt::ReceiptDraft;
use aarm_cases::lifecycle::service::Lifecycle;
use aarm_cases::store::any::AnyStore;
use std::sync::{Arc, Mutex};
use tokio::sync::oneshot;

/// The most receipts one transaction writes (bounds the time the lifecycle's lock is held).
const MAX_BATCH: usize = 512;

type Reply = oneshot::Sender<Result<String, String>>;

/// Decision receipts waiting for the next flush.
#[derive(Debug, Default)]
pub struct DecisionLog {
    queue: Mutex<Vec<(ReceiptDraft, Reply)>>,
}

impl DecisionLog {
    /// Writes `draft` (with whatever else is queued) and returns its receipt's hash once stored.
    pub async fn record(self: &Arc<Self>, cases: &Cases, draft: ReceiptDraft) -> Result<String, ApiError> {
        let (reply, answer) = oneshot::channel();
        self.queue
            .lock()
            .map_err(|_| ApiError::Unavailable("the decision log lock is poisoned".into()))?
            .push((draft, reply));
        let log = self.clone();
        // This flush may find the queue empty: an earlier one took our receipt and answers it.
        cases
            .run(move |lc| {
                log.flush(lc);
                Ok(())
            })
            .await?;
        match answer.await {
            Ok(Ok(hash)) => Ok(hash),
            Ok(Err(e)) => Err(ApiError::Unavailable(format!("the decision could not be recorded: {e}"))),
            Err(_) => Err(ApiError::Unavailable("the decision was not recorded".into())),
        }
    }

    /// Writes the queued receipts in batches of at most [`MAX_BATCH`], answering each caller.
    fn flush(&self, lc: &mut Lifecycle<AnyStore>) {
        loop {
            let batch: Vec<(ReceiptDraft, Reply)> = match self.queue.lock() {
                Ok(mut q) => {
                    let n = q.len().min(MAX_BATCH);
                    q.drain(..n).collect()
                }
                // Callers of a poisoned log are answered by their dropped reply: not recorded.
                Err(_) => return,
            };
            if batch.is_empty() {
                return;
            }
            let (drafts, replies): (Vec<ReceiptDraft>, Vec<Reply>) = batch.into_iter().unzip();
            match lc.record_decisions(drafts) {
                Ok(receipts) => {
                    // A reply left without a receipt is dropped: its caller denies.
                    for (receipt, reply) in receipts.into_iter().zip(replies) {
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
}

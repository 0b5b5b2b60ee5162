//! The session journal: recorded actions appended to the store's session history
//! ([`SessionHistory`], in the store's file beside the cases) in batches (one transaction per
//! batch: a batch survives a crash of the process once written), loaded back at start-up, pruned
//! after [`super::IDLE_S`].

use super::{Entry, PriorAction, IDLE_S};
use crate::clock::Clock;
use aarm_cases::store::service::{SessionAction, SessionHistory};
use std::sync::Arc;
use tokio::sync::mpsc::UnboundedReceiver;

/// Most entries written in one transaction.
const BATCH: usize = 4096;

/// The sessions' side of the store's [`SessionHistory`].
pub struct Journal {
    history: Box<dyn SessionHistory>,
}

impl std::fmt::Debug for Journal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Journal").finish()
    }
}

impl Journal {
    pub fn new(history: Box<dyn SessionHistory>) -> Journal {
        Journal { history }
    }

    /// Every entry since `since`, oldest first.
    pub fn load(&self, since: i64) -> Result<Vec<Entry>, String> {
        let actions = self.history.since(since).map_err(|e| e.to_string())?;
        Ok(actions
            .into_iter()
            .map(|a| Entry {
                agent: a.agent,
                session: a.session,
                action: PriorAction { tool: a.tool, decision: a.decision },
                at: a.at,
            })
            .collect())
    }

    pub fn append(&self, batch: &[Entry]) -> Result<(), String> {
        let actions: Vec<SessionAction> = batch
            .iter()
            .map(|e| SessionAction {
                agent: e.agent.clone(),
                session: e.session.clone(),
                tool: e.action.tool.clone(),
                decision: e.action.decision.clone(),
                at: e.at,
            })
            .collect();
        self.history.append(&actions).map_err(|e| e.to_string())
    }

    /// Forgets entries older than `before`.
    pub fn prune(&self, before: i64) -> Result<usize, String> {
        self.history.prune(before).map_err(|e| e.to_string())
    }
}

/// Writes what arrives, in batches, until every sender is gone (then the rest is written).
pub async fn run(journal: Journal, clock: Arc<Clock>, mut rx: UnboundedReceiver<Entry>) {
    let journal = Arc::new(journal);
    let mut last_prune = i64::MIN;
    let mut buf = Vec::with_capacity(BATCH);
    loop {
        buf.clear();
        if rx.recv_many(&mut buf, BATCH).await == 0 {
            return;
        }
        let now = clock.now();
        let prune = now.saturating_sub(last_prune) >= 60;
        if prune {
            last_prune = now;
        }
        let j = journal.clone();
        let batch = std::mem::take(&mut buf);
        let written = tokio::task::spawn_blocking(move || {
            let r = j.append(&batch);
            if prune {
                if let Err(e) = j.prune(now.saturating_sub(IDLE_S)) {
                    tracing::warn!(error = %e, "cannot prune the session journal");
                }
            }
            (r, batch)
        })
        .await;
        match written {
            Ok((Ok(()), batch)) => buf = batch,
            Ok((Err(e), batch)) => {
                tracing::error!(error = %e, entries = batch.len(), "session actions kept in memory only");
                buf = batch;
            }
            Err(e) => tracing::error!(error = %e, "session journal task failed"),
        }
    }
}

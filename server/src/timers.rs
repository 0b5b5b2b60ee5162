//! The background clock: fires due timeouts and escalations of every pending case with no
//! request arriving, queues the notifications they call for, and wakes the waiters.
//!
//! It does not read every pending case at every tick: [`crate::due::DueIndex`] keeps, for each pending case
//! the service has seen, when something is next due ([`Case::next_due`], the machine's rule), and a tick applies the clock only to the
//! cases due by then. Every [`RESCAN_TICKS`] ticks it reads them all again, which also picks up
//! cases that another process (`aarm case` on the same store) opened or changed.

use crate::committed::Committed;
use crate::records::Records;
use crate::sessions::Sessions;
use aarm_cases::lifecycle::event::Event;
use aarm_cases::lifecycle::service::LifecycleError;
use aarm_cases::store::{CaseStore, StoreError};
use std::sync::Arc;
use std::time::Duration;
use tokio_util::sync::CancellationToken;

/// A full read of the pending cases every this many ticks.
pub const RESCAN_TICKS: u64 = 60;

/// One tick at the clock's now: returns the ids of the cases that changed. `rescan`: read every
/// pending case from the store (and rebuild the index) instead of trusting the index.
pub async fn tick(records: &Records, committed: &Arc<Committed>, rescan: bool) -> Result<Vec<String>, String> {
    let after_commit = committed.clone();
    let changed = records
        .cases
        .run_at(move |lc, now| {
            if rescan {
                for case in lc.store().list(true)? {
                    after_commit.due.update(&case);
                }
            }
            let mut changed = Vec::new();
            for id in after_commit.due.due(now) {
                match lc.apply(&id, &Event::Tick, now, None) {
                    Ok((after, receipts)) => {
                        after_commit.transitioned(&after, &receipts);
                        for r in &receipts {
                            tracing::info!(case = %after.id, event = %r.body.event, state = after.state.as_str(), "clock");
                        }
                        after_commit.observed(lc, &after, now);
                        if !receipts.is_empty() {
                            changed.push(after.id);
                        }
                    }
                    // Resolved or gone meanwhile (another process): nothing is due any more.
                    // Unreadable (quarantined by the store): it must not stop the clock for the
                    // others.
                    Err(LifecycleError::Rejected(_) | LifecycleError::Store(StoreError::Unreadable { .. })) => {
                        after_commit.due.forget(&id)
                    }
                    Err(e) => return Err(crate::error::ApiError::from(e)),
                }
            }
            Ok(changed)
        })
        .await
        .map_err(|e| e.to_string())?;
    for id in &changed {
        records.waiters.changed(id);
    }
    Ok(changed)
}

/// Ticks every `period` (`options.tick_interval`) until `shutdown`.
pub async fn run(
    records: Arc<Records>,
    committed: Arc<Committed>,
    access: Arc<crate::access::Access>,
    period: Duration,
    shutdown: CancellationToken,
) {
    let mut interval = tokio::time::interval(period);
    interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut ticks: u64 = 0;
    loop {
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = interval.tick() => {}
        }
        ticks = ticks.wrapping_add(1);
        if let Err(e) = tick_once(&records, &committed, &access.sessions, ticks % RESCAN_TICKS == 0).await {
            tracing::error!(error = %e, "clock: cannot fire due timeouts");
        }
    }
}

/// Everything one tick does: fire what is due ([`tick`]), expire idle sessions, drop waiters
/// nobody listens to. Returns the ids of the cases that changed.
pub async fn tick_once(
    records: &Records,
    committed: &Arc<Committed>,
    sessions: &Sessions,
    rescan: bool,
) -> Result<Vec<String>, String> {
    let changed = tick(records, committed, rescan).await;
    sessions.expire(records.cases.now());
    records.waiters.prune();
    changed
}

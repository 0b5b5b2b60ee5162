//! The deferral rounds in the background: every tick, the rounds due are planned, their sources
//! asked (never under the lifecycle's lock) and what they answered recorded, with the steps of
//! sources.rs; every round that commits is reported like any other commit (committed.rs).

use crate::committed::Committed;
use crate::records::Records;
use crate::sources::{apply, Plan, Resolver};
use aarm_cases::lifecycle::service::LifecycleError;
use aarm_cases::store::CaseStore;
use std::sync::Arc;
use std::time::Duration;
use tokio_util::sync::CancellationToken;

/// How many cases' rounds run at once: a case whose sources are slow does not hold up the
/// others' rounds, and a crowd of due cases does not open a connection per case at once.
pub const ROUNDS_AT_ONCE: usize = 16;

/// Runs the rounds due now, once: what the background task does at every interval. Returns the
/// ids of the cases a round changed.
pub async fn resolve_due(
    sources: &Arc<Resolver>,
    records: &Records,
    committed: &Arc<Committed>,
) -> Result<Vec<String>, String> {
    use futures_util::StreamExt;
    if !sources.is_enabled() {
        return Ok(Vec::new());
    }
    let planner = sources.clone();
    let plans = records
        .cases
        .run_at(move |lc, now| Ok(planner.plan(&lc.store().list(true)?, now)))
        .await
        .map_err(|e| e.to_string())?;
    let changed: Vec<Option<String>> = futures_util::stream::iter(plans)
        .map(|plan| round(sources, records, committed, plan))
        .buffer_unordered(ROUNDS_AT_ONCE)
        .collect()
        .await;
    Ok(changed.into_iter().flatten().collect())
}

/// One case's round: asks its sources, records what they answered; the case's id when the round
/// changed it.
async fn round(sources: &Resolver, records: &Records, committed: &Arc<Committed>, plan: Plan) -> Option<String> {
    let tries = sources.ask(&plan).await;
    let recorder = committed.clone();
    let id = plan.case.clone();
    let recorded = records
        .cases
        .run_at(move |lc, now| {
            let outcome = apply(lc, &plan, tries, now);
            // Whatever was committed, the round's receipts or a timeout that fell due first.
            if let Ok(o) = &outcome {
                if !o.receipts.is_empty() {
                    recorder.transitioned(&o.case, &o.receipts);
                    recorder.observed(lc, &o.case, now);
                }
            }
            Ok(outcome)
        })
        .await;
    sources.done(&id);
    match recorded {
        Ok(Ok(o)) if !o.receipts.is_empty() => {
            // Counted from the round's `source` receipts (Committed::transitioned), as `aarm case
            // stats` counts them.
            if o.recorded {
                for t in &o.tries {
                    tracing::info!(case = %id, source = %t.source, result = t.result.label(), "evidence source asked");
                }
            }
            tracing::info!(case = %id, state = o.case.state.as_str(), attempts = o.case.attempts, recorded = o.recorded, "deferral round");
            records.waiters.changed(&id);
            Some(id)
        }
        Ok(Ok(_)) | Ok(Err(LifecycleError::Rejected(_))) => None,
        Ok(Err(e)) => {
            tracing::error!(case = %id, error = %e, "deferral round not recorded");
            None
        }
        Err(e) => {
            tracing::error!(case = %id, error = %e, "deferral round not recorded");
            None
        }
    }
}

/// Runs the due rounds every `period` (`options.tick_interval`) until `shutdown`, beside the
/// clock (a slow source never holds up a timeout or a decision).
pub async fn run(
    sources: Arc<Resolver>,
    records: Arc<Records>,
    committed: Arc<Committed>,
    period: Duration,
    shutdown: CancellationToken,
) {
    if !sources.is_enabled() {
        return;
    }
    // The first round one interval after start, not at once: by then the service is up, and a
    // test driving the clock (which runs rounds through `Running::tick`) is not raced.
    let start = tokio::time::Instant::now().checked_add(period).unwrap_or_else(tokio::time::Instant::now);
    let mut interval = tokio::time::interval_at(start, period);
    interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = interval.tick() => {}
        }
        if let Err(e) = resolve_due(&sources, &records, &committed).await {
            tracing::error!(error = %e, "deferral rounds: cannot read the pending cases");
        }
    }
}

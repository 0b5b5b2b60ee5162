//! The background clock: fires due timeouts and escalations of every pending case with no
//! request arriving, queues the notifications they call for, and wakes the waiters.

use crate::app::App;
use aarm_runtime::lifecycle::case::{Case, CaseState};
use aarm_runtime::lifecycle::event::Event;
use aarm_runtime::lifecycle::service::LifecycleError;
use aarm_runtime::store::CaseStore;
use std::sync::Arc;

/// The earliest moment something is due for `case` (an escalation or the timeout of its wait).
pub fn next_due(case: &Case) -> Option<i64> {
    match case.state {
        CaseState::PendingApproval => {
            let s = case.decision.step_up.as_ref()?;
            let deadline = case.waiting_since.saturating_add(s.timeout_s);
            let escalation =
                s.escalate.as_ref().filter(|_| !case.escalated).map(|e| case.waiting_since.saturating_add(e.after_s));
            Some(escalation.map_or(deadline, |e| e.min(deadline)))
        }
        CaseState::PendingEvidence => {
            let d = case.decision.defer.as_ref()?;
            Some(case.waiting_since.saturating_add(d.timeout_s))
        }
        _ => None,
    }
}

/// One tick at the clock's now: returns the ids of the cases that changed.
pub async fn tick(app: &Arc<App>) -> Result<Vec<String>, String> {
    let app2 = app.clone();
    let changed = app
        .lifecycle(move |lc| {
            let now = app2.clock.now();
            let pending = lc.store().list(true)?;
            let mut changed = Vec::new();
            for case in pending.iter().filter(|c| next_due(c).is_some_and(|t| t <= now)) {
                match lc.apply(&case.id, &Event::Tick, now, None) {
                    Ok((after, receipts)) if !receipts.is_empty() => {
                        for r in &receipts {
                            tracing::info!(case = %after.id, event = %r.body.event, state = after.state.as_str(), "clock");
                        }
                        crate::cases::notify(&app2, lc, &after, now);
                        changed.push(after.id);
                    }
                    Ok(_) | Err(LifecycleError::Rejected(_)) => {}
                    Err(e) => return Err(crate::error::ApiError::from(e)),
                }
            }
            Ok(changed)
        })
        .await
        .map_err(|e| e.to_string())?;
    for id in &changed {
        app.waiters.changed(id);
    }
    Ok(changed)
}

/// Ticks every `options.tick_interval` until shutdown.
pub async fn run(app: Arc<App>) {
    let mut interval = tokio::time::interval(app.options.tick_interval);
    interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = app.shutdown.cancelled() => return,
            _ = interval.tick() => {}
        }
        if let Err(e) = tick(&app).await {
            tracing::error!(error = %e, "clock: cannot fire due timeouts");
        }
        let now = app.clock.now();
        app.sessions.expire(now);
        app.waiters.prune();
    }
}

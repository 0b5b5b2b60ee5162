//! `GET /healthz`: whether the service can decide — the bundle is loaded, the store can be read
//! (on the lifecycle's own connection) and written (a row of `serve_health`, on a connection of
//! its own, so a probe never holds the lifecycle's transaction) — with the cases the store
//! quarantined and the open connections. 503 `store.unavailable` when the store fails either way:
//! a load balancer then takes the instance out, since every decision that needs the store would
//! be a `deny`.

use crate::error::ApiError;
use crate::lifecycle::Cases;
use crate::listen::Connections;
use aarm_cases::store::service::WriteProbe;
use aarm_cases::store::CaseStore;
use aarm_runtime::engine::Engine;
use serde_json::{json, Value};
use std::sync::Arc;

/// The `/healthz` answer, or 503 when the bundle or the store fails.
pub async fn check(
    engine: Arc<Engine>,
    cases: &Cases,
    probe: Arc<dyn WriteProbe>,
    connections: &Connections,
    now: i64,
) -> Result<Value, ApiError> {
    let policy = engine.default_policy();
    let quarantined = cases
        .run(move |lc| {
            lc.store()
                .last_event_at()
                .map_err(|e| ApiError::Unavailable(format!("the case store cannot be read: {e}")))?;
            probe.write(now).map_err(|e| ApiError::Unavailable(format!("the case store cannot be written: {e}")))?;
            Ok(lc.store().unreadable())
        })
        .await?;
    let status = if quarantined.is_empty() { "ok" } else { "degraded" };
    Ok(json!({
        "status": status,
        "bundle_hash": engine.bundle_hash(),
        "policy": &*policy.name,
        "version": &*policy.version,
        "quarantined_cases": quarantined,
        "connections": { "open": connections.open(), "max": connections.max() },
    }))
}

//! Hot reload of the bundle: when the file changes (polled), on SIGHUP, or on
//! `POST /v1/admin/reload`, the new bundle is read and verified (its signature too when keys are
//! trusted), kept in the store by its hash, and becomes the one new requests are decided with.
//! Open cases keep the bundle they were opened with: the lifecycle re-evaluates each against its
//! own `bundle_hash`, which the store keeps (docs/lifecycle.md, "Re-evaluation").
//!
//! A bundle that does not verify is refused and logged; the service keeps deciding with the one
//! it has (never with nothing, never with an unverified one).

use crate::bundle::{load_bundle, CurrentBundle, FileStamp};
use crate::error::ApiError;
use crate::lifecycle::Cases;
use crate::metrics::Metrics;
use crate::sources::Resolver;
use serde::Serialize;
use std::sync::Arc;
use std::time::Duration;
use tokio_util::sync::CancellationToken;

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Reloaded {
    pub bundle_hash: String,
    pub previous: String,
    pub changed: bool,
}

/// Reloads the bundle file now, and counts the result (`aarm_bundle_reloads_total`).
pub async fn reload(
    bundle: &CurrentBundle,
    cases: &Cases,
    sources: &Resolver,
    metrics: &Metrics,
) -> Result<Reloaded, ApiError> {
    let result = reload_file(bundle, cases, sources).await;
    metrics.reload(match &result {
        Ok(r) if r.changed => "ok",
        Ok(_) => "unchanged",
        Err(_) => "failed",
    });
    result
}

async fn reload_file(bundle: &CurrentBundle, cases: &Cases, sources: &Resolver) -> Result<Reloaded, ApiError> {
    let path = bundle.path.clone();
    let trusted = bundle.trusted_keys.clone();
    let (engine, bytes, stamp) = tokio::task::spawn_blocking(move || load_bundle(&path, &trusted))
        .await
        .map_err(|e| ApiError::Unavailable(e.to_string()))?
        .map_err(|e| ApiError::BadRequest(format!("the new bundle is refused: {e}")))?;
    if let Ok(mut s) = bundle.stamp.lock() {
        *s = stamp;
    }
    sources.check_confirm(&engine).map_err(|e| ApiError::BadRequest(format!("the new bundle is refused: {e}")))?;
    let previous = bundle.engine()?.bundle_hash().to_string();
    let hash = engine.bundle_hash().to_string();
    if hash == previous {
        return Ok(Reloaded { bundle_hash: hash, previous, changed: false });
    }
    let engine = Arc::new(engine);
    let registered = engine.clone();
    cases.run(move |lc| Ok(lc.add_engine(registered, Some(&bytes))?)).await?;
    bundle.set_engine(engine)?;
    tracing::info!(bundle = %hash, previous = %previous, "bundle reloaded");
    Ok(Reloaded { bundle_hash: hash, previous, changed: true })
}

/// Whether the file changed since last seen; remembers the new stamp, so that a refused
/// bundle is tried again only when the file changes again (not at every poll).
fn stamp_changed(bundle: &CurrentBundle) -> bool {
    let Ok(meta) = std::fs::metadata(&bundle.path) else { return false };
    let now = FileStamp { len: meta.len(), modified: meta.modified().ok() };
    let Ok(mut seen) = bundle.stamp.lock() else { return false };
    if *seen == now {
        return false;
    }
    *seen = now;
    true
}

/// Watches the bundle file every `poll` (`None`: never) and SIGHUP until `shutdown`; what a
/// reload touches: the bundle it swaps, the lifecycle that keeps every bundle by its hash, the
/// sources a new bundle is checked against, and the counter of reloads.
pub async fn run(
    bundle: Arc<CurrentBundle>,
    records: Arc<crate::records::Records>,
    sources: Arc<Resolver>,
    metrics: Arc<Metrics>,
    poll: Option<Duration>,
    shutdown: CancellationToken,
) {
    #[cfg(unix)]
    let mut hup = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup()).ok();
    loop {
        let polled = async {
            match poll {
                Some(d) => tokio::time::sleep(d).await,
                None => std::future::pending::<()>().await,
            }
        };
        #[cfg(unix)]
        let hangup = async {
            match hup.as_mut() {
                Some(h) => {
                    h.recv().await;
                }
                None => std::future::pending::<()>().await,
            }
        };
        #[cfg(not(unix))]
        let hangup = std::future::pending::<()>();
        let forced = tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = polled => false,
            _ = hangup => true,
        };
        if !forced && !stamp_changed(&bundle) {
            continue;
        }
        if let Err(e) = reload(&bundle, &records.cases, &sources, &metrics).await {
            tracing::error!(error = %e, "bundle reload failed; still deciding with the previous bundle");
        }
    }
}

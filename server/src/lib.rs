//! `aarm-server`: the decision and approval service behind `aarm serve` (server/README.md).
//!
//! Hosts and agents ask for decisions over HTTP; a `step_up` or `defer` opens a case in the
//! SQLite case store; approvers act on it over HTTP or in the inbox; a background clock fires
//! timeouts and escalations; notifications go out through an outbox; every transition leaves a
//! receipt. The crate links only `aarm-runtime` (never the compiler).
//!
//! - [`config`]: `serve.toml`; [`auth`]: bearer tokens and JWTs → a verified principal
//! - [`app`]: the service's parts, start-up; [`routes`]: the HTTP surface; [`cases`]: what it does
//! - the parts: [`bundle`] (the engine), [`records`] (the lifecycle behind its lock,
//!   [`lifecycle`], and the store's side tables), [`committed`] (what follows every commit),
//!   [`notify::notices`], [`sources`], [`access`] (credentials, roles, sessions), [`telemetry`]
//! - [`due`]: when each pending case is due; [`rounds`]: the deferral rounds in the background
//! - [`timers`]: the background clock; [`reload`]: hot reload of the bundle; [`replay`]:
//!   retried decisions (`Idempotency-Key`)
//! - [`sessions`]: `prior_actions` accumulation; [`wait`]: long-poll waiters
//! - [`notify`]: messages, the outbox, webhook / Slack / e-mail senders
//! - [`inbox`]: the approver's web page; [`openapi`]: `/openapi.json`
//! - [`listen`]: connections (cap, header timeout); [`health`]: `/healthz`
//! - [`metrics`]: `/metrics`; [`decision_log`]: every decision as a JSON line

#![deny(missing_docs)]

pub(crate) mod access;
pub mod app;
pub(crate) mod audit;
pub(crate) mod auth;
pub(crate) mod bundle;
pub(crate) mod cases;
pub(crate) mod claims;
pub mod clock;
pub(crate) mod committed;
pub mod config;
pub(crate) mod decision_log;
pub(crate) mod due;
pub mod error;
pub(crate) mod health;
pub(crate) mod identities;
pub(crate) mod inbox;
pub(crate) mod lifecycle;
pub(crate) mod listen;
pub mod logging;
pub mod metrics;
pub mod notify;
pub(crate) mod openapi;
pub mod overrides;
pub mod records;
pub(crate) mod reload;
pub(crate) mod replay;
pub(crate) mod rounds;
pub mod routes;
pub(crate) mod sessions;
pub mod sources;
pub(crate) mod telemetry;
pub(crate) mod timers;
pub(crate) mod traces;
pub mod wait;

pub use app::{App, Limits, Options, ServeError};

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::task::JoinHandle;

/// A started server: its address, its state, and the handle to stop it.
pub struct Running {
    /// The address the API listens on.
    pub addr: SocketAddr,
    /// The address serving `/metrics` without credentials (`--metrics-listen`), when configured.
    pub metrics_addr: Option<SocketAddr>,
    /// The running service's parts.
    pub app: Arc<App>,
    server: JoinHandle<Result<(), ServeError>>,
    background: Vec<JoinHandle<()>>,
}

impl Running {
    /// Asks the server to stop: no new connections; calls in flight finish (long-polls answer
    /// the case as it is); background tasks stop.
    pub fn shutdown(&self) {
        self.app.shutdown.cancel();
    }

    /// Waits until the server and its background tasks have stopped (at most `grace` for the
    /// tasks after the server).
    pub async fn stopped(self, grace: Duration) -> Result<(), ServeError> {
        let result = match self.server.await {
            Ok(r) => r,
            Err(e) => Err(ServeError::Io(e.to_string())),
        };
        // No request can record a session action any more: the journal writes the rest, stops.
        self.app.access.sessions.close();
        for task in self.background {
            if tokio::time::timeout(grace, task).await.is_err() {
                tracing::warn!("a background task did not stop in time");
            }
        }
        // The spans still batched.
        self.app.telemetry.traces.shutdown().await;
        result
    }

    /// Runs one tick of the clock at its current time and returns when it is done: what the
    /// background clock does at every interval, with a full read of the pending cases. Tests
    /// that drive a [`clock::ManualTime`] call it after moving the time, instead of waiting
    /// for the interval; it also runs the deferral rounds then due (sources.rs). Returns the ids
    /// of the cases that changed.
    pub async fn tick(&self) -> Result<Vec<String>, String> {
        let app = &self.app;
        let mut changed = timers::tick_once(&app.records, &app.committed, &app.access.sessions, true).await?;
        changed.extend(rounds::resolve_due(&app.sources, &app.records, &app.committed).await?);
        Ok(changed)
    }

    /// Shuts down and waits.
    pub async fn stop(self) -> Result<(), ServeError> {
        self.shutdown();
        self.stopped(Duration::from_secs(10)).await
    }
}

/// Binds, opens the store, loads the bundle, queues the notifications pending cases still call
/// for, and starts serving with the clock, the outbox and the reloader running.
pub async fn start(options: Options) -> Result<Running, ServeError> {
    let listener = tokio::net::TcpListener::bind(options.listen)
        .await
        .map_err(|e| ServeError::Listen { addr: options.listen.to_string(), message: e.to_string() })?;
    let addr = listener.local_addr().map_err(|e| ServeError::Io(e.to_string()))?;
    let metrics_listener = match options.metrics_listen {
        Some(at) => Some(
            tokio::net::TcpListener::bind(at)
                .await
                .map_err(|e| ServeError::Listen { addr: at.to_string(), message: e.to_string() })?,
        ),
        None => None,
    };
    let metrics_addr = match &metrics_listener {
        Some(l) => Some(l.local_addr().map_err(|e| ServeError::Io(e.to_string()))?),
        None => None,
    };
    let app = tokio::task::spawn_blocking(move || App::new(options, addr))
        .await
        .map_err(|e| ServeError::Io(e.to_string()))??;
    let app = Arc::new(app);
    if !app.options.config.has_credentials() {
        tracing::warn!(
            "serve.toml configures no credential: every call but /healthz, /openapi.json and /inbox is refused"
        );
    }
    recover_notifications(&app.records, &app.committed).await;
    if let Ok(engine) = app.engine() {
        for (fact, source) in app.sources.unconfigured(&engine) {
            tracing::warn!(
                evidence = %fact,
                source = %source,
                "the policy's evidence `{fact}` comes from \"{source}\", which serve.toml does not configure ([evidence.sources.{source}]): it is only provided by hand"
            );
        }
        app.sources.check_confirm(&engine).map_err(ServeError::Config)?;
    }

    let mut background = Vec::new();
    let tick = app.options.tick_interval;
    background.push(tokio::spawn(timers::run(
        app.records.clone(),
        app.committed.clone(),
        app.access.clone(),
        tick,
        app.shutdown.clone(),
    )));
    background.push(tokio::spawn(reload::run(
        app.bundle.clone(),
        app.records.clone(),
        app.sources.clone(),
        app.telemetry.metrics.clone(),
        app.options.reload_interval,
        app.shutdown.clone(),
    )));
    background.push(tokio::spawn(rounds::run(
        app.sources.clone(),
        app.records.clone(),
        app.committed.clone(),
        tick,
        app.shutdown.clone(),
    )));
    if let Some((journal, rx)) = app.access.take_journal() {
        background.push(tokio::spawn(sessions::journal::run(journal, app.clock.clone(), rx)));
    }
    let (notices, poll, stop) = (app.notices.clone(), app.options.outbox_interval, app.shutdown.clone());
    background.push(tokio::spawn(async move { notices.outbox.run(poll, stop).await }));

    if let (Some(listener), Some(at)) = (metrics_listener, metrics_addr) {
        let metrics_app = app.clone();
        background.push(tokio::spawn(async move {
            let app = metrics_app;
            // Its own connection cap: a scraper cannot take the decision service's connections.
            let connections = crate::listen::Connections::new(METRICS_CONNECTIONS);
            let router = routes::metrics_router(app.clone());
            listen::serve(listener, router, &connections, &app.options.config.server, app.shutdown.clone()).await;
        }));
        tracing::info!(addr = %at, "metrics listening (GET /metrics, no credentials)");
    }
    let router = routes::router(app.clone());
    let server_app = app.clone();
    let server = tokio::spawn(async move {
        let app = server_app;
        listen::serve(listener, router, &app.connections, &app.options.config.server, app.shutdown.clone()).await;
        Ok(())
    });
    tracing::info!(%addr, bundle = %app.engine().map(|e| e.bundle_hash().to_string()).unwrap_or_default(), "aarm serve listening");
    Ok(Running { addr, metrics_addr, app, server, background })
}

/// Connections open at once on the `--metrics-listen` address.
const METRICS_CONNECTIONS: usize = 16;

/// After a restart: every pending case is put in the clock's index, and every case waiting
/// for approvers gets the deliveries its state calls for (those already queued are not queued
/// again).
async fn recover_notifications(records: &records::Records, committed: &Arc<committed::Committed>) {
    let committed = committed.clone();
    let result = records
        .cases
        .run_at(move |lc, now| {
            for case in aarm_cases::store::CaseStore::list(lc.store(), true)? {
                committed.observed(lc, &case, now);
            }
            Ok(())
        })
        .await;
    if let Err(e) = result {
        tracing::error!(error = %e, "cannot queue the notifications of pending cases");
    }
}

/// `aarm serve`: runs until SIGINT or SIGTERM, then shuts down gracefully.
pub fn run(options: Options) -> Result<(), ServeError> {
    let runtime =
        tokio::runtime::Builder::new_multi_thread().enable_all().build().map_err(|e| ServeError::Io(e.to_string()))?;
    runtime.block_on(async move {
        // Listened for before the server starts: a signal that arrives while it starts, or just
        // after it logs its address, stops it gracefully instead of killing it.
        let signal = shutdown_signal()?;
        let running = start(options).await?;
        signal.await;
        tracing::info!("shutting down");
        running.stop().await
    })
}

/// SIGINT or SIGTERM; the handlers are installed when this is called, not when it is awaited.
#[cfg(unix)]
fn shutdown_signal() -> Result<impl std::future::Future<Output = ()>, ServeError> {
    use tokio::signal::unix::{signal, SignalKind};
    let listen = |kind: SignalKind, name: &str| {
        signal(kind).map_err(|e| ServeError::Io(format!("cannot listen for {name}: {e}")))
    };
    let mut term = listen(SignalKind::terminate(), "SIGTERM")?;
    let mut int = listen(SignalKind::interrupt(), "SIGINT")?;
    Ok(async move {
        tokio::select! {
            _ = term.recv() => {}
            _ = int.recv() => {}
        }
    })
}

/// Ctrl-C.
#[cfg(not(unix))]
fn shutdown_signal() -> Result<impl std::future::Future<Output = ()>, ServeError> {
    Ok(async {
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    })
}

//! The running service's shared state, and how it starts and stops.
//!
//! One [`App`] is shared by every request and background task; the subsystems take the parts
//! they use. The lifecycle (engine registry, state machine and SQLite store) sits behind one
//! mutex in [`Cases`], because every write is a synced SQLite transaction. Allow and deny
//! decisions never take that lock: they are evaluated on the current engine directly.
//!
//! The store is opened once, here: the SQLite store sets its file up, and hands each part what
//! it keeps beside the cases (the outbox's deliveries, the session history, idempotency keys,
//! the health probe) behind the store's traits (`aarm_cases::store::service`): the server runs
//! no SQL of its own.

use crate::auth::Authenticator;
use crate::clock::{Clock, TimeSource};
use crate::config::Config;
use crate::error::ApiError;
use crate::identities::{Roles, SharedRoles};
use crate::lifecycle::Cases;
use crate::notify::outbox::Outbox;
use crate::sessions::journal::Journal;
use crate::sessions::{Entry, Sessions, IDLE_S};
use crate::wait::Waiters;
use aarm_cases::lifecycle::service::Lifecycle;
use aarm_cases::store::any::AnyStore;
use aarm_cases::store::service::WriteProbe;
use aarm_cases::store::CaseStore;
use aarm_runtime::engine::Engine;
use ed25519_dalek::{SigningKey, VerifyingKey};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;
use tokio_util::sync::CancellationToken;

/// Bounds on what one request may cost.
#[derive(Debug, Clone)]
pub struct Limits {
    /// Largest request body accepted (413 beyond).
    pub max_body_bytes: usize,
    /// Time limit of every call except the long-polls (408 beyond).
    pub request_timeout: Duration,
    /// The longest `/wait` a caller may ask for (longer requests are cut to this).
    pub max_wait: Duration,
}

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            max_body_bytes: 1024 * 1024,
            request_timeout: Duration::from_secs(30),
            max_wait: Duration::from_secs(300),
        }
    }
}

/// Everything `aarm serve` is started with.
#[derive(Debug, Clone)]
pub struct Options {
    pub bundle: PathBuf,
    pub store: PathBuf,
    pub listen: SocketAddr,
    pub config: Config,
    /// Bundles (at start and on reload) must be signed by one of these keys; empty: no check.
    pub trusted_keys: Vec<VerifyingKey>,
    /// Receipts are signed with this key.
    pub sign_key: Option<SigningKey>,
    pub limits: Limits,
    /// How often the clock fires due timeouts and escalations.
    pub tick_interval: Duration,
    /// How often the bundle file is checked for a new version; `None`: only on SIGHUP and
    /// `POST /v1/admin/reload`.
    pub reload_interval: Option<Duration>,
    /// How often the outbox looks for due deliveries (it is also woken when one is queued).
    pub outbox_interval: Duration,
    /// A second address serving only `GET /metrics`, without credentials (for a scraper on a
    /// private network); `None`: `/metrics` only on the main address, for operators.
    pub metrics_listen: Option<SocketAddr>,
    /// Where the service reads the time: the system's wall clock, or a manual time that tests
    /// move (no command-line flag sets it).
    pub clock: TimeSource,
}

impl Options {
    pub fn new(bundle: PathBuf, store: PathBuf, listen: SocketAddr, config: Config) -> Options {
        Options {
            bundle,
            store,
            listen,
            config,
            trusted_keys: Vec::new(),
            sign_key: None,
            limits: Limits::default(),
            tick_interval: Duration::from_secs(1),
            reload_interval: Some(Duration::from_secs(2)),
            outbox_interval: Duration::from_millis(500),
            clock: TimeSource::System,
            metrics_listen: None,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    #[error("cannot read the bundle {path}: {message}")]
    Bundle { path: String, message: String },
    #[error("case store {path}: {message}")]
    Store { path: String, message: String },
    #[error("{0}")]
    Config(String),
    #[error("cannot listen on {addr}: {message}")]
    Listen { addr: String, message: String },
    #[error("server failed: {0}")]
    Io(String),
}

/// The bundle file as last seen by the reloader.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct FileStamp {
    pub len: u64,
    pub modified: Option<std::time::SystemTime>,
}

pub struct App {
    pub options: Options,
    pub auth: Authenticator,
    pub roles: Arc<Roles>,
    /// The lifecycle behind its lock (lifecycle.rs).
    pub cases: Cases,
    /// The bundle new requests are decided with, and its file as last seen.
    pub bundle: CurrentBundle,
    /// The only source of time of the service (shared with the outbox).
    pub clock: Arc<Clock>,
    pub waiters: Arc<Waiters>,
    /// Wakes `waiters` on changes other replicas commit (PostgreSQL); stops when dropped.
    _store_listener: Option<aarm_cases::store::postgres_listen::Listener>,
    pub sessions: Sessions,
    /// The journal and its receiving end, until [`crate::start`] starts its writer.
    pub(crate) journal: Mutex<Option<(Journal, tokio::sync::mpsc::UnboundedReceiver<Entry>)>>,
    pub outbox: Outbox,
    /// Idempotency keys of decides and case events (replay.rs).
    pub keys: crate::replay::IdempotencyKeys,
    /// The store's write probe for `/healthz`.
    pub probe: Arc<dyn WriteProbe>,
    /// Open connections and their cap (listen.rs).
    pub connections: crate::listen::Connections,
    /// `decide` receipts waiting for their group commit.
    pub decisions: Arc<crate::audit::DecisionLog>,
    /// The evidence sources deferrals are resolved with (sources.rs).
    pub sources: crate::sources::Resolver,
    pub public_url: String,
    pub shutdown: CancellationToken,
    /// Counters and histograms for `/metrics`.
    pub metrics: Arc<crate::metrics::Metrics>,
    /// Where decision lines go, when `[decision_log]` is configured.
    pub decision_log: Option<crate::decision_log::DecisionLogger>,
    /// OpenTelemetry spans, when `[tracing]` or `OTEL_EXPORTER_OTLP_ENDPOINT` is set.
    pub traces: crate::traces::Traces,
    /// The denials answered and the overrides granted on them (overrides.rs).
    pub overrides: Box<dyn aarm_cases::store::service::OverrideStore>,
}

/// The bundle new requests are decided with (swapped by a reload), and its file as the
/// reloader last saw it.
pub struct CurrentBundle {
    engine: RwLock<Arc<Engine>>,
    pub stamp: Mutex<FileStamp>,
}

impl std::fmt::Debug for CurrentBundle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CurrentBundle").finish()
    }
}

impl std::fmt::Debug for App {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("App").field("listen", &self.options.listen).finish()
    }
}

/// Reads and verifies a bundle file: hash, bytecode, and the signature when keys are trusted.
pub fn load_bundle(path: &std::path::Path, trusted: &[VerifyingKey]) -> Result<(Engine, Vec<u8>, FileStamp), String> {
    let meta = std::fs::metadata(path).map_err(|e| e.to_string())?;
    let bytes = std::fs::read(path).map_err(|e| e.to_string())?;
    let engine = Engine::load(&bytes, trusted, !trusted.is_empty()).map_err(|e| e.to_string())?;
    Ok((engine, bytes, FileStamp { len: meta.len(), modified: meta.modified().ok() }))
}

impl App {
    /// Opens the store, loads and registers the bundle, and prepares the outbox.
    pub fn new(options: Options, bound: SocketAddr) -> Result<App, ServeError> {
        let store_path = aarm_cases::store::any::describe(&options.store);
        let (engine, bytes, stamp) = load_bundle(&options.bundle, &options.trusted_keys)
            .map_err(|message| ServeError::Bundle { path: options.bundle.display().to_string(), message })?;
        let mut store = AnyStore::open(&options.store, true)
            .map_err(|e| ServeError::Store { path: store_path.clone(), message: e.to_string() })?;
        if let Some(key) = &options.sign_key {
            store = store.with_signer(key.clone());
        }
        let floor = store
            .last_event_at()
            .map_err(|e| ServeError::Store { path: store_path.clone(), message: e.to_string() })?
            .unwrap_or(0);
        let store_error = |message: String| ServeError::Store { path: store_path.clone(), message };
        let clock = Arc::new(Clock::new(options.clock.clone(), floor));
        let deliveries = store.deliveries().map_err(|e| store_error(e.to_string()))?;
        let metrics = Arc::new(crate::metrics::Metrics::new());
        let outbox = Outbox::new(deliveries, options.config.notify.clone(), clock.clone(), metrics.clone())
            .map_err(store_error)?;
        let decision_log = match &options.config.decision_log {
            Some(section) => {
                let key = aarm_cases::redact::key_of(options.sign_key.as_ref());
                Some(
                    crate::decision_log::DecisionLogger::start(section, metrics.clone(), key)
                        .map_err(ServeError::Config)?,
                )
            }
            None => None,
        };
        let endpoint = options.config.tracing.as_ref().map(|t| t.otlp_endpoint.as_str());
        let traces = crate::traces::Traces::start(endpoint).map_err(ServeError::Config)?;
        let keys =
            crate::replay::IdempotencyKeys::new(store.idempotency_keys().map_err(|e| store_error(e.to_string()))?);
        let probe = Arc::from(store.write_probe().map_err(|e| store_error(e.to_string()))?);
        let overrides = store.overrides().map_err(|e| store_error(e.to_string()))?;
        let journal = Journal::new(store.session_history().map_err(|e| store_error(e.to_string()))?);
        let waiters = Arc::new(Waiters::new());
        let store_listener = crate::wait::follow_store(&store, &waiters).map_err(|e| store_error(e.to_string()))?;
        let roles = Arc::new(Roles::new(options.config.auth.approver_roles.clone()));
        let mut lifecycle = Lifecycle::new(store, Box::new(SharedRoles(roles.clone())));
        let engine = Arc::new(engine);
        lifecycle
            .add_engine(engine.clone(), Some(&bytes))
            .map_err(|e| ServeError::Store { path: store_path.clone(), message: e.to_string() })?;
        let connections = crate::listen::Connections::new(options.config.server.max_connections);
        let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
        let sessions = Sessions::journaled(tx);
        let kept = journal.load(clock.now().saturating_sub(IDLE_S)).map_err(store_error)?;
        sessions.restore(kept);
        let auth = Authenticator::new(&options.config.auth).map_err(ServeError::Config)?;
        let sources = crate::sources::Resolver::new(&options.config.evidence).map_err(ServeError::Config)?;
        let public_url = options
            .config
            .server
            .public_url
            .clone()
            .unwrap_or_else(|| format!("http://{bound}"))
            .trim_end_matches('/')
            .to_string();
        Ok(App {
            auth,
            roles,
            cases: Cases::new(lifecycle, clock.clone()),
            bundle: CurrentBundle { engine: RwLock::new(engine), stamp: Mutex::new(stamp) },
            clock,
            waiters,
            _store_listener: store_listener,
            sessions,
            journal: Mutex::new(Some((journal, rx))),
            outbox,
            keys,
            probe,
            connections,
            decisions: Arc::new(crate::audit::DecisionLog::default()),
            sources,
            public_url,
            shutdown: CancellationToken::new(),
            metrics,
            decision_log,
            traces,
            options,
            overrides,
        })
    }

    /// The bundle new requests are decided with.
    pub fn engine(&self) -> Result<Arc<Engine>, ApiError> {
        self.bundle
            .engine
            .read()
            .map(|e| e.clone())
            .map_err(|_| ApiError::Unavailable("the bundle lock is poisoned".into()))
    }

    pub(crate) fn set_engine(&self, engine: Arc<Engine>) -> Result<(), ApiError> {
        let mut current =
            self.bundle.engine.write().map_err(|_| ApiError::Unavailable("the bundle lock is poisoned".into()))?;
        *current = engine;
        Ok(())
    }
}

//! The running service's shared state, and how it starts.
//!
//! [`App`] is a set of parts, each with one job, shared by every request and background task:
//! the decision engine ([`CurrentBundle`]), the case records ([`Records`]: the lifecycle behind
//! its lock, the store's side tables, the waiters), what follows every commit ([`Committed`]),
//! the notifications ([`Notices`]), the evidence sources ([`Resolver`]), credentials, roles and
//! sessions ([`Access`]), and metrics, traces and the decision log ([`Telemetry`]). The HTTP
//! handlers hold the whole [`App`]; everything they call takes only the parts it uses. Allow and
//! deny decisions never take the lifecycle's lock: they are evaluated on the current engine
//! directly.
//!
//! The store is opened once, here: the store sets its file up, and hands each part what it keeps
//! beside the cases (the outbox's deliveries, the session history, idempotency keys, the
//! overrides, the health probe) behind the store's traits (`aarm_cases::store::service`): the
//! server runs no SQL of its own.

use crate::access::Access;
use crate::auth::Authenticator;
use crate::bundle::{load_bundle, CurrentBundle};
use crate::clock::{Clock, TimeSource};
use crate::committed::Committed;
use crate::config::Config;
use crate::error::ApiError;
use crate::identities::{Roles, SharedRoles};
use crate::lifecycle::Cases;
use crate::listen::Connections;
use crate::notify::notices::Notices;
use crate::notify::outbox::Outbox;
use crate::records::Records;
use crate::sessions::journal::Journal;
use crate::sessions::{Sessions, IDLE_S};
use crate::sources::Resolver;
use crate::telemetry::Telemetry;
use crate::wait::Waiters;
use aarm_cases::lifecycle::service::Lifecycle;
use aarm_cases::store::any::AnyStore;
use aarm_cases::store::CaseStore;
use aarm_runtime::engine::Engine;
use ed25519_dalek::{SigningKey, VerifyingKey};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
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
    /// The bundle file (`aarm build`'s output) decisions are made with.
    pub bundle: PathBuf,
    /// The case store: a SQLite file, or a `postgres://` URL.
    pub store: PathBuf,
    /// The address the API listens on (port 0: any free port).
    pub listen: SocketAddr,
    /// `serve.toml`: credentials, channels, sources, logs.
    pub config: Config,
    /// Bundles (at start and on reload) must be signed by one of these keys; empty: no check.
    pub trusted_keys: Vec<VerifyingKey>,
    /// Receipts are signed with this key.
    pub sign_key: Option<SigningKey>,
    /// Bounds on what one request may cost.
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
    /// The options `aarm serve` starts with when no flag says otherwise.
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

/// Why the service could not start, or stopped.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    /// The bundle cannot be read or does not verify.
    #[error("cannot read the bundle {path}: {message}")]
    Bundle {
        /// The bundle file.
        path: String,
        /// What went wrong.
        message: String,
    },
    /// The case store cannot be opened or read.
    #[error("case store {path}: {message}")]
    Store {
        /// The store, as the logs show it (a URL's password left out).
        path: String,
        /// What went wrong.
        message: String,
    },
    /// A setting that cannot work (`serve.toml`, a decision log, tracing, sources).
    #[error("{0}")]
    Config(String),
    /// An address cannot be listened on.
    #[error("cannot listen on {addr}: {message}")]
    Listen {
        /// The address.
        addr: String,
        /// What went wrong.
        message: String,
    },
    /// The runtime, a listener or a task failed.
    #[error("server failed: {0}")]
    Io(String),
}

/// The running service: its options, its clock, and its parts.
pub struct App {
    /// What the service was started with.
    pub options: Options,
    /// The only source of time of the service (shared with the lifecycle and the outbox).
    pub clock: Arc<Clock>,
    /// The bundle new requests are decided with, and its file (bundle.rs, reload.rs).
    pub(crate) bundle: Arc<CurrentBundle>,
    /// The lifecycle, the store's side tables and the waiters (records.rs).
    pub records: Arc<Records>,
    /// What follows every committed change of a case (committed.rs).
    pub(crate) committed: Arc<Committed>,
    /// The outbox and what messages are built with (notify/notices.rs).
    pub notices: Arc<Notices>,
    /// The evidence sources deferrals are resolved with (sources.rs, rounds.rs).
    pub sources: Arc<Resolver>,
    /// Credentials, roles and sessions (access.rs).
    pub(crate) access: Arc<Access>,
    /// Metrics, traces and the decision log (telemetry.rs).
    pub(crate) telemetry: Arc<Telemetry>,
    /// Open connections and their cap (listen.rs).
    pub(crate) connections: Connections,
    /// Cancelled to stop the service: every listener and background task watches it.
    pub shutdown: CancellationToken,
}

impl std::fmt::Debug for App {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("App").field("listen", &self.options.listen).finish()
    }
}

impl App {
    /// Opens the store, loads and registers the bundle, and prepares the outbox.
    pub fn new(options: Options, bound: SocketAddr) -> Result<App, ServeError> {
        let store_path = aarm_cases::store::any::describe(&options.store);
        let store_error = |message: String| ServeError::Store { path: store_path.clone(), message };
        let (engine, bytes, stamp) = load_bundle(&options.bundle, &options.trusted_keys)
            .map_err(|message| ServeError::Bundle { path: options.bundle.display().to_string(), message })?;
        let mut store = AnyStore::open(&options.store, true).map_err(|e| store_error(e.to_string()))?;
        if let Some(key) = &options.sign_key {
            store = store.with_signer(key.clone());
        }
        let floor = store.last_event_at().map_err(|e| store_error(e.to_string()))?.unwrap_or(0);
        let clock = Arc::new(Clock::new(options.clock.clone(), floor));

        let metrics = Arc::new(crate::metrics::Metrics::new());
        let deliveries = store.deliveries().map_err(|e| store_error(e.to_string()))?;
        let outbox = Outbox::new(deliveries, options.config.notify.clone(), clock.clone(), metrics.clone())
            .map_err(store_error)?;
        let public_url = options
            .config
            .server
            .public_url
            .clone()
            .unwrap_or_else(|| format!("http://{bound}"))
            .trim_end_matches('/')
            .to_string();
        let redaction = aarm_cases::redact::key_of(options.sign_key.as_ref());
        let notices = Arc::new(Notices { outbox, public_url, redaction });

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
        let telemetry = Arc::new(Telemetry { metrics: metrics.clone(), traces, decision_log });

        let keys =
            crate::replay::IdempotencyKeys::new(store.idempotency_keys().map_err(|e| store_error(e.to_string()))?);
        let probe = Arc::from(store.write_probe().map_err(|e| store_error(e.to_string()))?);
        let overrides = store.overrides().map_err(|e| store_error(e.to_string()))?;
        let journal = Journal::new(store.session_history().map_err(|e| store_error(e.to_string()))?);
        let waiters = Arc::new(Waiters::new());
        let listener = crate::wait::follow_store(&store, &waiters).map_err(|e| store_error(e.to_string()))?;
        let roles = Arc::new(Roles::new(options.config.auth.approver_roles.clone()));
        let mut lifecycle = Lifecycle::new(store, Box::new(SharedRoles(roles.clone())));
        let engine = Arc::new(engine);
        lifecycle.add_engine(engine.clone(), Some(&bytes)).map_err(|e| store_error(e.to_string()))?;
        let cases = Cases::new(lifecycle, clock.clone());
        let records = Arc::new(Records::new(cases, waiters, keys, overrides, probe, listener));

        let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
        let sessions = Sessions::journaled(tx);
        let kept = journal.load(clock.now().saturating_sub(IDLE_S)).map_err(store_error)?;
        sessions.restore(kept);
        let auth = Authenticator::new(&options.config.auth).map_err(ServeError::Config)?;
        let max_age = options.config.auth.credential_max_age_s;
        let access = Arc::new(Access::new(auth, roles, sessions, (journal, rx), max_age));

        let sources = Arc::new(Resolver::new(&options.config.evidence).map_err(ServeError::Config)?);
        let committed = Arc::new(Committed {
            due: crate::due::DueIndex::new(),
            telemetry: telemetry.clone(),
            notices: notices.clone(),
            sources: sources.clone(),
        });
        let bundle = Arc::new(CurrentBundle::new(engine, stamp, options.bundle.clone(), options.trusted_keys.clone()));
        Ok(App {
            clock,
            bundle,
            records,
            committed,
            notices,
            sources,
            access,
            telemetry,
            connections: Connections::new(options.config.server.max_connections),
            shutdown: CancellationToken::new(),
            options,
        })
    }

    /// The bundle new requests are decided with.
    pub fn engine(&self) -> Result<Arc<Engine>, ApiError> {
        self.bundle.engine()
    }
}

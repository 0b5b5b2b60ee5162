//! `aarm serve`: the decision and approval HTTP service (server/, crate `aarm-server`).

use super::exit;
use aarm_runtime::bundle;
use aarm_server::config::Config;
use aarm_server::logging::{self, Format};
use aarm_server::{Limits, Options};
use clap::{Args, ValueEnum};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum LogFormat {
    Text,
    Json,
}

#[derive(Debug, Args)]
#[command(after_help = "Endpoints, authentication, configuration and limits: server/README.md. \
                        The OpenAPI document is served at /openapi.json, the approver inbox at /inbox.")]
pub struct ServeArgs {
    /// The `.aarmb` bundle to decide with (re-read when the file changes, on SIGHUP, or on
    /// `POST /v1/admin/reload`).
    #[arg(long, value_name = "FILE.aarmb")]
    pub bundle: PathBuf,
    /// The case store: cases, receipts, bundles, deliveries. A SQLite file (created if
    /// missing), or a PostgreSQL database URL, `postgres://USER@HOST:PORT/DB`, that several
    /// replicas share (the database must exist; its tables are created or migrated).
    #[arg(long, value_name = "DB|URL")]
    pub store: PathBuf,
    /// Address to listen on.
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:8181")]
    pub listen: SocketAddr,
    /// A second address that serves only `GET /metrics`, without credentials (for a Prometheus
    /// scraper on a private network). Without it, `/metrics` is on `--listen` for admin tokens.
    #[arg(long, value_name = "ADDR")]
    pub metrics_listen: Option<SocketAddr>,
    /// `serve.toml`: tokens ([auth.agents], [auth.approvers], [auth.admins]), approver roles,
    /// what agents may claim ([auth.agent_roles], [auth.agent_humans], [auth.agent_services]),
    /// JWT issuers ([[auth.jwt]]), notification channels ([notify.channels]). Without it every
    /// authenticated call is refused.
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// A trusted Ed25519 public key (32 bytes, raw or hex); repeatable. With one, the bundle
    /// and every reloaded bundle must be signed by one of them.
    #[arg(long = "trusted-key", value_name = "PUB")]
    pub trusted_keys: Vec<PathBuf>,
    /// Ed25519 key (32-byte seed, raw or hex) that signs the receipts the service writes.
    #[arg(long, value_name = "KEY")]
    pub sign_key: Option<PathBuf>,
    /// Largest request body accepted, in bytes (413 beyond).
    #[arg(long, value_name = "BYTES", default_value_t = 1024 * 1024)]
    pub max_body_bytes: usize,
    /// Time limit of every call except the long-polls, in seconds (408 beyond).
    #[arg(long, value_name = "S", default_value_t = 30)]
    pub request_timeout_s: u64,
    /// The longest `/v1/cases/{id}/wait` (and event stream) a caller may ask for, in seconds.
    #[arg(long, value_name = "S", default_value_t = 300)]
    pub max_wait_s: u64,
    /// How often the clock fires due timeouts and escalations, in milliseconds.
    #[arg(long, value_name = "MS", default_value_t = 1000)]
    pub tick_ms: u64,
    /// How often the bundle file is checked for changes, in seconds (0: only on SIGHUP and
    /// `POST /v1/admin/reload`).
    #[arg(long, value_name = "S", default_value_t = 2)]
    pub reload_interval_s: u64,
    /// Log format on stderr.
    #[arg(long, value_enum, default_value = "text")]
    pub log_format: LogFormat,
    /// Log filter: a level (`info`, `debug`) or directives (`aarm_server=debug,tower_http=info`).
    #[arg(long, value_name = "FILTER", default_value = "info")]
    pub log: String,
}

fn options(args: &ServeArgs) -> Result<Options, String> {
    let config = match &args.config {
        Some(path) => Config::load(path).map_err(|e| e.to_string())?,
        None => Config::default(),
    };
    let mut options = Options::new(args.bundle.clone(), args.store.clone(), args.listen, config);
    for path in &args.trusted_keys {
        let bytes = std::fs::read(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
        let key = bundle::verifying_key_from_file_bytes(&bytes).map_err(|e| format!("{}: {e}", path.display()))?;
        options.trusted_keys.push(key);
    }
    if let Some(path) = &args.sign_key {
        let bytes = std::fs::read(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
        options.sign_key =
            Some(bundle::signing_key_from_file_bytes(&bytes).map_err(|e| format!("{}: {e}", path.display()))?);
    }
    if args.tick_ms == 0 {
        return Err("--tick-ms must be more than 0".into());
    }
    options.limits = Limits {
        max_body_bytes: args.max_body_bytes,
        request_timeout: Duration::from_secs(args.request_timeout_s.max(1)),
        max_wait: Duration::from_secs(args.max_wait_s),
    };
    options.tick_interval = Duration::from_millis(args.tick_ms);
    options.metrics_listen = args.metrics_listen;
    options.reload_interval = (args.reload_interval_s > 0).then(|| Duration::from_secs(args.reload_interval_s));
    Ok(options)
}

pub fn run(args: &ServeArgs) -> ExitCode {
    let format = match args.log_format {
        LogFormat::Text => Format::Text,
        LogFormat::Json => Format::Json,
    };
    if let Err(e) = logging::init(format, &args.log) {
        crate::errln!("error: {e}");
        return ExitCode::from(exit::USAGE);
    }
    let options = match options(args) {
        Ok(o) => o,
        Err(e) => {
            crate::errln!("error: {e}");
            return ExitCode::from(exit::USAGE);
        }
    };
    match aarm_server::run(options) {
        Ok(()) => ExitCode::from(exit::OK),
        Err(e) => {
            crate::errln!("error: {e}");
            ExitCode::from(exit::FAILED)
        }
    }
}

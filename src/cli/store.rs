//! The case store the `case` and `review` commands work on, and the options every one of them
//! takes (`--store`, `--now`, `--sign-key`): read here once, so that each command opens the store,
//! signs its receipts and tells the time the same way.

use aarm_cases::lifecycle::identity::NoIdentityService;
use aarm_cases::lifecycle::service::Lifecycle;
use aarm_cases::store::any::AnyStore;
use aarm_runtime::bundle;
use aarm_runtime::value::parse_time;
use clap::Args;
use std::path::PathBuf;

// The options every store command flattens in (a `//` comment: a doc comment here would become
// the help text of the commands that flatten it).
#[derive(Debug, Args)]
pub struct Common {
    /// The case store: a SQLite file (`case open` creates it if missing; every other command
    /// needs it), or a PostgreSQL database URL, `postgres://USER@HOST:PORT/DB` (shared by
    /// `aarm serve` replicas; the database must exist, its tables are created).
    #[arg(long, value_name = "DB|URL")]
    pub store: PathBuf,
    /// Use this time instead of the clock (RFC 3339); refused if earlier than the store's last
    /// event.
    #[arg(long, value_name = "RFC3339")]
    pub now: Option<String>,
    /// Ed25519 key (32-byte seed, raw or hex) that signs the receipts this command writes.
    #[arg(long, value_name = "KEY")]
    pub sign_key: Option<PathBuf>,
}

/// A time option (`FLAG`) in RFC 3339, as seconds since the Unix epoch.
pub(crate) fn time_arg(flag: &str, t: &str) -> Result<i64, String> {
    parse_time(t).ok_or_else(|| format!("{flag} {t:?} is not an RFC 3339 time"))
}

/// The time of a command: `--now` when given, else the clock.
pub(crate) fn now_of(common: &Common) -> Result<i64, String> {
    match &common.now {
        Some(t) => time_arg("--now", t),
        None => Ok(std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
            .unwrap_or(0)),
    }
}

/// The lifecycle on the store; only `case open` (`create`) may create a missing store.
pub(crate) fn lifecycle(common: &Common, create: bool) -> Result<Lifecycle<AnyStore>, String> {
    let mut store = AnyStore::open(&common.store, create).map_err(|e| e.to_string())?;
    if let Some(path) = &common.sign_key {
        let bytes = std::fs::read(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
        let key = bundle::signing_key_from_file_bytes(&bytes).map_err(|e| e.to_string())?;
        store = store.with_signer(key);
    }
    Ok(Lifecycle::new(store, Box::new(NoIdentityService)))
}

//! `aarm case override` and `aarm review accept|flag`: break-glass overrides and their review
//! from the shell, on the store `aarm serve` keeps (server/README.md, "Overrides and review").
//! The rules are the service's (`aarm_cases::overrides`); what differs is who vouches for the
//! actor: here the operator, with direct access to the store, names them (`--by`, `--roles`),
//! as for `aarm case approve`.
//!
//! The notices go through the store's outbox, as the service's do: queued to the channels the
//! override's declaration names, then sent once right away with `--config`'s
//! `[notify.channels]`; what is not delivered yet stays queued, and `aarm serve` on the same
//! store retries it.

use super::exit;
use super::output::print_json;
use super::store::{lifecycle, now_of, Common};
use aarm_cases::overrides::{self as rules, denied_action, Grant, OverrideError, Review};
use aarm_cases::store::any::AnyStore;
use aarm_cases::store::service::StoredOverride;
use aarm_runtime::engine::Engine;
use aarm_server::clock::{Clock, ManualTime, TimeSource};
use aarm_server::config::Config;
use aarm_server::notify::outbox::Outbox;
use aarm_server::notify::override_notice::OverrideEvent;
use serde_json::{Map, Value};
use std::path::Path;
use std::sync::Arc;

/// Who overrides and what they state, as the command line gives it.
pub struct Given<'a> {
    pub by: &'a str,
    pub roles: &'a [String],
    pub reason: Option<&'a str>,
    pub ticket: Option<&'a str>,
}

/// A refusal: `rejected: CODE: message` on standard error, exit 1; a store failure is an error.
fn refused(e: OverrideError) -> Result<u8, String> {
    match e {
        OverrideError::Store(_) | OverrideError::Unreadable(_) => Err(e.to_string()),
        OverrideError::Lifecycle(ref l) if l.rejection().is_none() => Err(e.to_string()),
        e => {
            crate::errln!("rejected: {}: {e}", e.code());
            Ok(exit::FAILED)
        }
    }
}

/// The channels of `config`, when given; an override whose notice has channels to go to needs
/// them, and is refused before anything is written without them.
fn notify_config(config: Option<&Path>, channels: &[String], what: &str) -> Result<Option<Config>, String> {
    match config {
        Some(path) => Config::load(path).map(Some).map_err(|e| e.to_string()),
        None if channels.is_empty() => Ok(None),
        None => Err(format!(
            "{what} is announced on {}: give --config with the service's serve.toml ([notify.channels])",
            channels.join(", ")
        )),
    }
}

/// Queues the notice of `o` for `event` to `channels` in the store's outbox and sends it once;
/// reports each delivery on standard error.
fn announce(
    store: &AnyStore,
    config: Option<Config>,
    event: OverrideEvent,
    o: &StoredOverride,
    channels: &[String],
    now: i64,
) -> Result<(), String> {
    let Some(config) = config else { return Ok(()) };
    if channels.is_empty() {
        return Ok(());
    }
    let public_url = config.server.public_url.clone().unwrap_or_default();
    let overrides = store.overrides().map_err(|e| e.to_string())?;
    let notice = aarm_server::overrides::notice(overrides.as_ref(), event, o, public_url.trim_end_matches('/'))?;
    let clock = Arc::new(Clock::new(TimeSource::Manual(ManualTime::at(now)), now));
    let deliveries = store.deliveries().map_err(|e| e.to_string())?;
    let outbox = Outbox::new(deliveries, config.notify, clock, Arc::new(aarm_server::metrics::Metrics::new()))?;
    outbox.enqueue_override(&notice, channels, now)?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("cannot start the notifications' client: {e}"))?;
    runtime.block_on(outbox.run_once());
    for d in outbox.list(&o.id)?.iter().filter(|d| d.trigger == event.key()) {
        let error = d.last_error.as_deref().map(|e| format!(" ({e})")).unwrap_or_default();
        let state = if d.state == "pending" { "pending: `aarm serve` on this store retries it" } else { &d.state };
        crate::errln!("{} to {}: {state}{error}", event.as_str(), d.channel);
    }
    Ok(())
}

/// `aarm case override DECISION_ID --by ID [--roles R] --reason … [--ticket …]`: prints the
/// override decision as the service answers it.
pub fn grant(
    common: &Common,
    denial: &str,
    given: &Given<'_>,
    bundle: Option<&Path>,
    config: Option<&Path>,
) -> Result<u8, String> {
    let now = now_of(common)?;
    let mut lc = lifecycle(common, false)?;
    let overrides = lc.store().overrides().map_err(|e| e.to_string())?;
    // The policy in force: the bundle given, else the one that decided the denial.
    let engine = match bundle {
        Some(path) => {
            let bytes = std::fs::read(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
            Arc::new(Engine::load(&bytes, &[], false).map_err(|e| format!("{}: {e}", path.display()))?)
        }
        None => match denied_action(overrides.as_ref(), denial) {
            Ok(d) => lc.bundle(&d.decision.policy.bundle_hash).map_err(|e| e.to_string())?,
            Err(e) => return refused(e),
        },
    };
    let mut stated = Map::new();
    for (name, value) in [("reason", given.reason), ("ticket", given.ticket)] {
        if let Some(v) = value {
            stated.insert(name.to_string(), Value::String(v.to_string()));
        }
    }
    let holds = |role: &str| given.roles.iter().any(|r| r == role);
    let policy = (engine.program(), engine.default_policy());
    let checked = match Grant::check(overrides.as_ref(), policy, denial, given.by, holds, &stated) {
        Ok(g) => g,
        Err(e) => return refused(e),
    };
    let what = format!("an override of {}", checked.policy.tool);
    let config = notify_config(config, &checked.policy.notify, &what)?;
    let granted = match rules::grant(&mut lc, overrides.as_ref(), &checked, now) {
        Ok(g) => g,
        Err(e) => return refused(e),
    };
    print_json(&granted.answer);
    announce(lc.store(), config, OverrideEvent::OverrideGranted, &granted.stored, &checked.policy.notify, now)?;
    Ok(exit::OK)
}

/// `aarm review accept|flag ID --by ID [--note …]`: prints the reviewed override as
/// `POST /v1/reviews/{id}` answers it. A flag is announced where the override's grant was.
pub fn review(
    common: &Common,
    id: &str,
    by: &str,
    verdict: &str,
    note: Option<&str>,
    config: Option<&Path>,
) -> Result<u8, String> {
    let now = now_of(common)?;
    let verdict = match Review::new(verdict, note.map(str::to_string)) {
        Ok(v) => v,
        Err(e) => return refused(e),
    };
    let mut lc = lifecycle(common, false)?;
    let overrides = lc.store().overrides().map_err(|e| e.to_string())?;
    let channels = if verdict.flags() {
        let deliveries = lc.store().deliveries().and_then(|d| d.deliveries(id)).map_err(|e| e.to_string())?;
        aarm_server::overrides::granted_channels(&deliveries)
    } else {
        Vec::new()
    };
    let config = notify_config(config, &channels, &format!("a flag of override {id}"))?;
    let stored = match rules::review(&mut lc, overrides.as_ref(), id, by, &verdict, now) {
        Ok(o) => o,
        Err(e) => return refused(e),
    };
    print_json(&rules::review_view(&stored, now));
    announce(lc.store(), config, OverrideEvent::OverrideFlagged, &stored, &channels, now)?;
    Ok(exit::OK)
}

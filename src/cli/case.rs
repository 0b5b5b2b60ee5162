//! `aarm case open|approve|deny|provide|revalidate|tick|cancel|show|list|stats|override`: drive
//! cases from the shell, across separate processes, on a SQLite case store (`tick --sources` also
//! asks the evidence sources; `override` overrides a denial, as `aarm serve` does).

use super::exit;
use super::output::print_json;
use super::source::read_input;
use super::store::{lifecycle, now_of, time_arg, Common};
use aarm_cases::lifecycle::case::{Case, Credential};
use aarm_cases::lifecycle::event::Event;
use aarm_cases::lifecycle::service::{Lifecycle, LifecycleError};
use aarm_cases::signals::Stats;
use aarm_cases::store::any::AnyStore;
use aarm_cases::store::CaseStore;
use aarm_runtime::bundle;
use aarm_runtime::engine::Engine;
use aarm_runtime::value::parse_time;
use aarm_server::sources;
use clap::{Args, Subcommand};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

#[derive(Debug, Subcommand)]
pub enum CaseCommand {
    /// Evaluate a request; a `step_up` or `defer` opens a case. Prints the decision with `"case"`.
    Open {
        #[command(flatten)]
        common: Common,
        /// The `.aarmb` bundle to decide with (kept in the store for later re-evaluation).
        #[arg(long)]
        bundle: PathBuf,
        /// The request JSON, or `-` for standard input.
        #[arg(long, value_name = "FILE|-")]
        input: PathBuf,
        /// When the requester's credential (that of the request's `identity.agent`) stops being
        /// valid (RFC 3339): a release after it is `identity_invalid` until `case revalidate`.
        #[arg(long, value_name = "RFC3339")]
        identity_valid_until: Option<String>,
    },
    /// An approver approves (`--roles` are the roles the host verified for them).
    Approve {
        id: String,
        #[arg(long)]
        by: String,
        #[arg(long, value_delimiter = ',')]
        roles: Vec<String>,
        /// Narrow the approval: it stops counting at this time, and the allow it releases expires
        /// then at the latest. RFC 3339, or `HH:MM` (UTC, on the day of `--now`); a time already
        /// past is refused (`until_in_past`).
        #[arg(long, value_name = "RFC3339|HH:MM")]
        until: Option<String>,
        /// Cap a parameter the step-up's `limits` lists (repeatable): the approval holds for the
        /// action only at or below it (a cap below the action's own value is refused,
        /// `limit_below_action`; an unlisted parameter `limit_not_allowed`), and the allow it
        /// releases carries it in `limits`.
        #[arg(long = "max", value_name = "PARAM=NUMBER")]
        max: Vec<String>,
        #[command(flatten)]
        common: Common,
    },
    /// An approver denies (`--roles` are the roles the host verified for them: a role-based
    /// approver may deny and veto).
    Deny {
        id: String,
        #[arg(long)]
        by: String,
        #[arg(long)]
        why: Option<String>,
        #[arg(long, value_delimiter = ',')]
        roles: Vec<String>,
        #[command(flatten)]
        common: Common,
    },
    /// Evidence for a deferral: `NAME=JSON` (e.g. `maintenance_window_active=true`), once per fact.
    Provide {
        id: String,
        #[arg(value_name = "NAME=JSON")]
        fact: String,
        /// Who provides it (recorded in the receipt).
        #[arg(long)]
        by: Option<String>,
        #[command(flatten)]
        common: Common,
    },
    /// The requester presented a currently valid credential, valid until `--valid-until`.
    Revalidate {
        id: String,
        /// The credential's identity (the case's requester).
        #[arg(long)]
        by: String,
        #[arg(long, value_name = "RFC3339")]
        valid_until: String,
        #[command(flatten)]
        common: Common,
    },
    /// Move the clock: fire due timeouts and escalations of every pending case; with
    /// `--sources`, then run the deferral rounds due (ask the evidence sources, as `aarm serve`
    /// does).
    Tick {
        #[command(flatten)]
        common: Common,
        /// A TOML file with `[evidence.sources.NAME]` and `[evidence.retry]` (a serve.toml works).
        #[arg(long, value_name = "FILE")]
        sources: Option<PathBuf>,
    },
    /// Override a denial (break-glass), as `POST /v1/decisions/{id}/override` does: a new
    /// `allow` of the denied action for the time the policy's `override` declaration grants,
    /// with its own receipt. `--by` is the authority, as the operator vouches for it (like
    /// `approve --by`); `--roles` are the roles the operator verified they hold.
    Override {
        /// The denial's `decision_id` (a `deny` that opened no case, answered by `aarm serve` or
        /// `aarm case open`).
        decision_id: String,
        /// Who grants the override: its `authority.by` and its receipt's actor.
        #[arg(long)]
        by: String,
        /// The roles the operator verified `--by` holds (`--role` too; comma-separated).
        #[arg(long, alias = "role", value_delimiter = ',')]
        roles: Vec<String>,
        /// The `reason` statement (required unless the declaration's `requires` omits it).
        #[arg(long)]
        reason: Option<String>,
        /// The `ticket` statement, when the declaration requires one.
        #[arg(long)]
        ticket: Option<String>,
        /// The bundle in force (the one `aarm serve --bundle` loads); default: the bundle that
        /// decided the denial, from the store.
        #[arg(long)]
        bundle: Option<PathBuf>,
        /// The service's serve.toml: `[notify.channels]` to send the override's notice to the
        /// channels its declaration names (`notify`), and `[server] public_url` for its link.
        /// Required when the declaration names channels.
        #[arg(long, value_name = "FILE")]
        config: Option<PathBuf>,
        #[command(flatten)]
        common: Common,
    },
    /// Withdraw a case.
    Cancel {
        id: String,
        #[command(flatten)]
        common: Common,
    },
    /// A case as JSON.
    Show {
        id: String,
        #[command(flatten)]
        common: Common,
    },
    /// Every case (or only pending ones) as JSON lines.
    List {
        #[arg(long)]
        pending: bool,
        #[command(flatten)]
        common: Common,
    },
    /// The deferral and approval signals of the store: cases by state, decisions by effect,
    /// deferrals, timeouts, escalations, time to resolution (median, 90th percentile).
    Stats {
        #[arg(long, value_enum, default_value_t = StatsFormat::Human)]
        format: StatsFormat,
        #[command(flatten)]
        common: Common,
    },
}

/// How `aarm case stats` prints.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum StatsFormat {
    /// One signal a line, for people.
    Human,
    /// One JSON object.
    Json,
}

#[derive(Debug, Args)]
pub struct CaseArgs {
    #[command(subcommand)]
    pub command: CaseCommand,
}

/// `--until`: an RFC 3339 time, or `HH:MM` on the (UTC) day of `now`. `14:00` given at 15:00 is
/// 14:00 today, in the past, and refused by the lifecycle: never silently tomorrow.
fn until_arg(t: &str, now: i64) -> Result<i64, String> {
    if let Some(at) = parse_time(t) {
        return Ok(at);
    }
    // Two digits each, below 24 and 60.
    let field = |s: &str, below: i64| {
        (s.len() == 2 && s.bytes().all(|b| b.is_ascii_digit()))
            .then(|| s.parse::<i64>().ok())
            .flatten()
            .filter(|v| *v < below)
    };
    let clock = t.split_once(':').and_then(|(h, m)| Some(field(h, 24)? * 3600 + field(m, 60)? * 60));
    match clock {
        Some(of_day) => Ok(now.div_euclid(86_400).saturating_mul(86_400).saturating_add(of_day)),
        None => Err(format!("--until {t:?} is neither an RFC 3339 time nor HH:MM")),
    }
}

/// `--max PARAM=NUMBER`, each parameter once; the number is read exactly (`5000`, `12.50`).
fn max_args(args: &[String]) -> Result<aarm_cases::lifecycle::limits::Caps, String> {
    let mut caps = aarm_cases::lifecycle::limits::Caps::new();
    for arg in args {
        let (name, value) = arg.split_once('=').ok_or_else(|| format!("--max {arg:?} is not PARAM=NUMBER"))?;
        let cap = aarm_cases::lifecycle::limits::cap_of_text(value)
            .ok_or_else(|| format!("--max {arg:?}: {value:?} is not a number (at most 18 digits after the point)"))?;
        if name.is_empty() || caps.insert(name.to_string(), cap).is_some() {
            return Err(format!("--max {arg:?}: name each parameter once, as `--max amount=5000`"));
        }
    }
    Ok(caps)
}

/// The redaction key derived from the receipts key `--sign-key` names, when it names one.
fn redaction_key(common: &Common) -> Result<Option<aarm_cases::redact::RedactionKey>, String> {
    let Some(path) = &common.sign_key else { return Ok(None) };
    let bytes = std::fs::read(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    let signing = bundle::signing_key_from_file_bytes(&bytes).map_err(|e| e.to_string())?;
    Ok(aarm_cases::redact::RedactionKey::from_signing_key(&signing))
}

/// A case as the CLI prints it: the fields its policy marks `@redact` show their hash under the
/// key derived from `--sign-key` (the same as `aarm serve --sign-key` uses), else `withheld`.
fn print_case(common: &Common, case: &aarm_cases::lifecycle::case::Case) -> Result<(), String> {
    print_json(&aarm_cases::redact::case_json(case, redaction_key(common)?.as_ref()));
    Ok(())
}

/// The evidence sources a `--sources` file (a serve.toml, or only its `[evidence]`) configures.
fn resolver(path: &std::path::Path) -> Result<sources::Resolver, String> {
    let config = aarm_server::config::Config::load(path).map_err(|e| e.to_string())?;
    sources::Resolver::new(&config.evidence)
}

/// The deferral rounds due at `now`, run once: the server's own steps (aarm_server::sources).
/// Returns the cases a round changed.
fn rounds(lc: &mut Lifecycle<AnyStore>, resolver: &sources::Resolver, now: i64) -> Result<Vec<Case>, String> {
    let plans = resolver.plan(&lc.store().list(true).map_err(|e| e.to_string())?, now);
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("cannot start the sources' client: {e}"))?;
    let mut changed = Vec::new();
    for plan in plans {
        let tries = runtime.block_on(resolver.ask(&plan));
        for t in &tries {
            crate::errln!("{}: asked {} for {}: {}", plan.case, t.source, t.facts.join(", "), t.result.label());
        }
        match sources::apply(lc, &plan, tries, now) {
            Ok(outcome) if !outcome.receipts.is_empty() => changed.push(outcome.case),
            Ok(_) | Err(LifecycleError::Rejected(_)) => {}
            Err(e) => return Err(e.to_string()),
        }
    }
    Ok(changed)
}

pub fn run(args: &CaseArgs) -> ExitCode {
    exit::status(run_inner(&args.command))
}

/// Applies an event and reports it: 0 accepted (the case printed), 1 rejected (reason on stderr).
fn event(common: &Common, id: &str, ev: Event) -> Result<u8, String> {
    let now = now_of(common)?;
    let mut lc = lifecycle(common, false)?;
    match lc.apply(id, &ev, now, None) {
        Ok((case, _)) => {
            print_case(common, &case)?;
            Ok(exit::OK)
        }
        Err(LifecycleError::Rejected(r)) => {
            crate::errln!("rejected: {}", r.as_str());
            Ok(exit::FAILED)
        }
        Err(e) => Err(e.to_string()),
    }
}

fn run_inner(cmd: &CaseCommand) -> Result<u8, String> {
    match cmd {
        CaseCommand::Open { common, bundle: path, input, identity_valid_until } => {
            let now = now_of(common)?;
            let bytes = std::fs::read(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
            let engine = match Engine::load(&bytes, &[], false) {
                Ok(e) => e,
                Err(e) => {
                    crate::errln!("error: {}: {e}", path.display());
                    return Ok(exit::FAILED);
                }
            };
            let request = read_input(input).map_err(|e| format!("cannot read {}: {e}", input.display()))?;
            let mut lc = lifecycle(common, true)?;
            let hash = engine.bundle_hash().to_string();
            let ignored = engine.program().settings.action_hash_ignores.clone();
            lc.add_engine(Arc::new(engine), Some(&bytes)).map_err(|e| e.to_string())?;
            let request = String::from_utf8_lossy(&request);
            let credential = match identity_valid_until {
                Some(t) => {
                    let valid_until = time_arg("--identity-valid-until", t)?;
                    let parsed: serde_json::Value = serde_json::from_str(&request).unwrap_or_default();
                    let holder = parsed.pointer("/identity/agent").and_then(|a| a.as_str()).unwrap_or("");
                    Some(Credential { holder: holder.to_string(), valid_until })
                }
                None => None,
            };
            let submitted = match lc.submit_as(&hash, &request, now, credential) {
                Ok(s) => s,
                Err(LifecycleError::Rejected(r)) => {
                    crate::errln!("rejected: {}", r.as_str());
                    return Ok(exit::FAILED);
                }
                Err(e) => return Err(e.to_string()),
            };
            let mut out = serde_json::to_value(&submitted.decision).map_err(|e| e.to_string())?;
            if let Some(obj) = out.as_object_mut() {
                if let Some(case) = &submitted.case {
                    obj.insert("case".into(), serde_json::Value::String(case.id.clone()));
                }
                if let Some(receipt) = &submitted.receipt {
                    obj.insert("receipt".into(), serde_json::Value::String(receipt.clone()));
                }
                // The hash of the action decided, as `aarm serve` answers it: what approvals bind
                // to, and what a script compares with the action it is about to run.
                if let Ok(parsed) = aarm_runtime::json::parse(&request) {
                    let hash = aarm_cases::lifecycle::action::action_hash_ignoring(&parsed, &ignored);
                    obj.insert("action_hash".into(), serde_json::Value::String(hash));
                }
            }
            if submitted.case.is_none() && submitted.decision.decision == aarm_runtime::decision::Effect::Deny {
                // Kept, as `aarm serve` keeps its denials, so that `case override` can name it.
                let agent = serde_json::from_str::<serde_json::Value>(&request)
                    .ok()
                    .and_then(|r| r.pointer("/identity/agent").and_then(|a| a.as_str()).map(str::to_string))
                    .unwrap_or_default();
                let kept = lc
                    .store()
                    .overrides()
                    .and_then(|o| aarm_cases::overrides::keep_denial(o.as_ref(), &agent, &out, now));
                if let Err(e) = kept {
                    crate::errln!("warning: the denial was not kept for overrides: {e}");
                }
            }
            print_json(&out);
            Ok(exit::OK)
        }
        CaseCommand::Override { decision_id, by, roles, reason, ticket, bundle, config, common } => {
            let given = super::overrides::Given { by, roles, reason: reason.as_deref(), ticket: ticket.as_deref() };
            super::overrides::grant(common, decision_id, &given, bundle.as_deref(), config.as_deref())
        }
        CaseCommand::Approve { id, by, roles, until, max, common } => {
            let until = match until {
                Some(t) => Some(until_arg(t, now_of(common)?)?),
                None => None,
            };
            let max = max_args(max)?;
            event(common, id, Event::Approve { by: by.clone(), roles: roles.clone(), until, max })
        }
        CaseCommand::Deny { id, by, why, roles, common } => {
            event(common, id, Event::Deny { by: by.clone(), why: why.clone(), roles: roles.clone() })
        }
        CaseCommand::Provide { id, fact, by, common } => {
            let (name, json) = fact.split_once('=').ok_or_else(|| format!("expected NAME=JSON, found {fact:?}"))?;
            // Kept as JSON with the case: a number an f64 would round is refused, as over HTTP.
            let value = aarm_runtime::convert::read_exact(json.as_bytes())
                .map_err(|e| format!("the value of {name} is not JSON that can be kept exactly: {e}"))?;
            event(common, id, Event::Provide { name: name.to_string(), value, by: by.clone() })
        }
        CaseCommand::Revalidate { id, by, valid_until, common } => {
            let until = time_arg("--valid-until", valid_until)?;
            event(common, id, Event::Revalidate { by: by.clone(), until })
        }
        CaseCommand::Cancel { id, common } => event(common, id, Event::Cancel { by: None }),
        CaseCommand::Tick { common, sources } => {
            let now = now_of(common)?;
            // A sources file that does not work is refused before anything moves.
            let resolver = sources.as_deref().map(resolver).transpose()?;
            let mut lc = lifecycle(common, false)?;
            let mut changed = match lc.tick(now) {
                Ok(changed) => changed,
                Err(LifecycleError::Rejected(r)) => {
                    crate::errln!("rejected: {}", r.as_str());
                    return Ok(exit::FAILED);
                }
                Err(e) => return Err(e.to_string()),
            };
            if let Some(resolver) = &resolver {
                changed.extend(rounds(&mut lc, resolver, now)?);
            }
            for c in &changed {
                crate::outln!("{} {}", c.id, c.state.as_str());
            }
            crate::errln!("{} case(s) changed", changed.len());
            Ok(exit::OK)
        }
        CaseCommand::Show { id, common } => {
            let lc = lifecycle(common, false)?;
            match lc.store().get(id).map_err(|e| e.to_string())? {
                Some(case) => {
                    print_case(common, &case)?;
                    Ok(exit::OK)
                }
                None => {
                    crate::errln!("rejected: unknown_case");
                    Ok(exit::FAILED)
                }
            }
        }
        CaseCommand::Stats { format, common } => {
            let lc = lifecycle(common, false)?;
            let cases = lc.store().list(false).map_err(|e| e.to_string())?;
            let receipts = lc.store().receipts(None).map_err(|e| e.to_string())?;
            let stats = Stats::from_store(&cases, &receipts);
            match format {
                StatsFormat::Json => print_json(&stats),
                StatsFormat::Human => print_stats(&stats),
            }
            for u in lc.store().unreadable() {
                crate::errln!(
                    "warning: {} is unreadable in the store and was not counted (quarantined): {}",
                    u.id,
                    u.message
                );
            }
            Ok(exit::OK)
        }
        CaseCommand::List { pending, common } => {
            let lc = lifecycle(common, false)?;
            for case in lc.store().list(*pending).map_err(|e| e.to_string())? {
                crate::outln!("{}", serde_json::to_string(&case).map_err(|e| e.to_string())?);
            }
            // Skipped by the store (one bad row must not hide the others), but never silently.
            for u in lc.store().unreadable() {
                crate::errln!(
                    "warning: {} is unreadable in the store and was skipped (quarantined): {}",
                    u.id,
                    u.message
                );
            }
            Ok(exit::OK)
        }
    }
}

/// `aarm case stats` for a person: one signal a line.
fn print_stats(s: &Stats) {
    let counts = |m: &std::collections::BTreeMap<String, u64>| {
        if m.is_empty() {
            "none".to_string()
        } else {
            m.iter().map(|(k, v)| format!("{k} {v}")).collect::<Vec<_>>().join(", ")
        }
    };
    let seconds = |v: Option<i64>| v.map_or_else(|| "-".to_string(), |s| format!("{s}s"));
    crate::outln!("cases by state:       {}", counts(&s.cases_by_state));
    crate::outln!("decisions (no case):  {}", counts(&s.decisions_by_effect));
    crate::outln!("deferred:             {}", s.deferred);
    crate::outln!("resolved:             {}", s.resolved);
    crate::outln!("timeouts:             {}", s.timeouts);
    crate::outln!("escalations:          {}", s.escalations);
    crate::outln!(
        "time to resolution:   median {}, p90 {}",
        seconds(s.resolution_seconds_median),
        seconds(s.resolution_seconds_p90)
    );
    if s.resolver_attempts.is_empty() {
        crate::outln!("resolver attempts:    none");
    }
    for (source, results) in &s.resolver_attempts {
        let tries: u64 = results.values().sum();
        let answered = results.get("answered").copied().unwrap_or(0);
        // `tries` is at least 1: a source is listed only with a counted try.
        let rate = answered.saturating_mul(100) / tries.max(1);
        crate::outln!("resolver {source}: {} ({rate}% answered of {tries})", counts(results));
    }
}

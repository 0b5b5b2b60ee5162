//! `aarm mcp import` and `aarm mcp proxy`: the gateway between an agent and its MCP servers
//! (README.md, "MCP gateway"). The protocol layer is this module's own small JSON-RPC over
//! serde_json ([`jsonrpc`]): a gateway must pass every message through as it is, including
//! fields and methods no SDK models, and decide only `tools/call`.

pub mod config;
pub mod decide;
pub mod import;
pub mod jsonrpc;
pub mod names;
pub mod proxy;
pub mod schema;
pub mod session;
pub mod upstream;

use super::exit;
use aarm_cases::lifecycle::identity::NoIdentityService;
use aarm_cases::lifecycle::service::Lifecycle;
use aarm_cases::store::sqlite::SqliteStore;
use aarm_runtime::bundle;
use aarm_runtime::engine::Engine;
use clap::{Args, Subcommand};
use serde_json::{Map, Value};
use std::collections::HashSet;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

#[derive(Debug, Args)]
pub struct McpArgs {
    #[command(subcommand)]
    pub command: McpCommand,
}

#[derive(Debug, Subcommand)]
pub enum McpCommand {
    /// Start an MCP server (or reach one with --url), list its tools, and print them as `tool`
    /// declarations.
    Import(ImportArgs),
    /// Serve MCP on stdio in front of upstream servers, deciding every `tools/call` with a bundle.
    Proxy(Box<ProxyArgs>),
}

#[derive(Debug, Args)]
pub struct ImportArgs {
    /// A server over Streamable HTTP (its MCP endpoint, e.g. http://127.0.0.1:3000/mcp) instead
    /// of a command.
    #[arg(long, conflicts_with = "command")]
    pub url: Option<String>,
    /// How long to wait for each answer of the server.
    #[arg(long, value_name = "SECONDS", default_value_t = 30)]
    pub timeout_s: u64,
    /// The server's command line, after `--`.
    #[arg(last = true, value_name = "COMMAND")]
    pub command: Vec<String>,
}

#[derive(Debug, Args)]
pub struct ProxyArgs {
    /// The `.aarmb` bundle that decides every call (with --server: the service decides, and the
    /// bundle is only needed for --filter-tools).
    #[arg(long)]
    pub bundle: Option<PathBuf>,
    /// The SQLite case store: receipts, and the cases of suspended calls (`aarm case approve
    /// --store DB` releases them). Created if missing.
    #[arg(long, value_name = "DB", conflicts_with = "server", required_unless_present = "server")]
    pub store: Option<PathBuf>,
    /// An `aarm serve` that decides instead (its token in the environment variable AARM_TOKEN).
    #[arg(long, value_name = "URL")]
    pub server: Option<String>,
    /// Public keys (32 bytes, raw or hex) the bundle must be signed with; once given, an
    /// unsigned or otherwise signed bundle is refused and the proxy does not start.
    #[arg(long = "key", value_name = "PUB", requires = "bundle")]
    pub keys: Vec<PathBuf>,
    /// Ed25519 key that signs the receipts written to --store.
    #[arg(long, value_name = "KEY", requires = "store")]
    pub sign_key: Option<PathBuf>,
    /// Upstream servers by name (`[servers.NAME] command = [...]`); their tools are NAME__tool.
    #[arg(long, value_name = "FILE", conflicts_with = "command")]
    pub config: Option<PathBuf>,
    /// `identity.agent` of every call (default: $AARM_AGENT).
    #[arg(long)]
    pub agent: Option<String>,
    /// `identity.human` of every call (default: $AARM_HUMAN).
    #[arg(long)]
    pub human: Option<String>,
    /// `identity.session` (default: $AARM_SESSION, else one per process).
    #[arg(long)]
    pub session: Option<String>,
    /// A JSON object merged into every request's `context` (e.g. `environment`,
    /// `original_request`); `prior_actions` is the gateway's own history of the session.
    #[arg(long, value_name = "FILE")]
    pub context: Option<PathBuf>,
    /// List only the tools the bundle declares.
    #[arg(long, requires = "bundle")]
    pub filter_tools: bool,
    /// The upstream server's command line, after `--`.
    #[arg(last = true, value_name = "COMMAND")]
    pub command: Vec<String>,
}

pub fn run(args: &McpArgs) -> ExitCode {
    let result = match &args.command {
        McpCommand::Import(a) => run_import(a),
        McpCommand::Proxy(a) => run_proxy(a.as_ref()),
    };
    exit::status(result)
}

fn run_import(args: &ImportArgs) -> Result<u8, String> {
    let timeout = Duration::from_secs(args.timeout_s.max(1));
    let (mut session, source) = match (&args.url, args.command.is_empty()) {
        (Some(url), _) => (session::Session::http(url, timeout).map_err(|e| e.to_string())?, url.clone()),
        (None, false) => {
            (session::Session::stdio(&args.command, timeout).map_err(|e| e.to_string())?, args.command.join(" "))
        }
        (None, true) => {
            return Err("name the server: `aarm mcp import -- COMMAND ARGS…` or `aarm mcp import --url URL`".into())
        }
    };
    let tools = import::list_tools(&mut session)?;
    let (text, notes) = import::declarations(&tools, &session.server, &source)?;
    // In the canonical layout, so that `aarm fmt --check` passes on what was imported; text the
    // formatter refuses is a bug of the import, never printed half-formatted.
    let text = aarm_lang::format::format(&text)
        .map_err(|e| format!("the imported declarations do not parse ({e}); please report this"))?;
    crate::out!("{text}");
    for n in &notes {
        crate::errln!("note: {n}");
    }
    crate::errln!("imported {} tool(s)", tools.len());
    Ok(exit::OK)
}

fn env_or(flag: &Option<String>, var: &str) -> Option<String> {
    flag.clone().or_else(|| std::env::var(var).ok()).filter(|s| !s.is_empty())
}

/// The bundle, verified against `keys` when any are given (as `aarm eval --key` does).
fn load_engine(path: &PathBuf, keys: &[PathBuf]) -> Result<(Engine, Vec<u8>), String> {
    let mut trusted = Vec::new();
    for k in keys {
        let b = std::fs::read(k).map_err(|e| format!("cannot read public key {}: {e}", k.display()))?;
        trusted.push(
            bundle::verifying_key_from_file_bytes(&b)
                .map_err(|e| format!("cannot use public key {}: {e}", k.display()))?,
        );
    }
    let bytes = std::fs::read(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    let engine = Engine::load(&bytes, &trusted, !trusted.is_empty()).map_err(|e| format!("{}: {e}", path.display()))?;
    Ok((engine, bytes))
}

fn run_proxy(args: &ProxyArgs) -> Result<u8, String> {
    let servers = match &args.config {
        Some(path) => {
            let text = std::fs::read_to_string(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
            config::parse(&text).map_err(|e| format!("{}: {e}", path.display()))?
        }
        None if args.command.is_empty() => {
            return Err("name the upstream server after `--` (aarm mcp proxy --bundle B --store DB -- COMMAND ARGS…), or several with --config".into())
        }
        None => vec![proxy::ServerSpec { name: "upstream".into(), argv: args.command.clone() }],
    };
    let engine = args.bundle.as_ref().map(|b| load_engine(b, &args.keys)).transpose()?;
    let declared: Option<HashSet<String>> = match (&engine, args.filter_tools) {
        (Some((e, _)), true) => Some(e.program().schema.tools.iter().map(|t| t.name.clone()).collect()),
        _ => None,
    };
    let decider: Arc<dyn decide::Decider> = match (&args.store, &args.server) {
        (Some(db), _) => {
            let Some((engine, bytes)) = engine else {
                return Err("--store decides with a bundle: give --bundle B".into());
            };
            let mut store = SqliteStore::open(db).map_err(|e| e.to_string())?;
            if let Some(path) = &args.sign_key {
                let key_bytes = std::fs::read(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
                store = store.with_signer(bundle::signing_key_from_file_bytes(&key_bytes).map_err(|e| e.to_string())?);
            }
            let mut lc = Lifecycle::new(store, Box::new(NoIdentityService));
            let hash = engine.bundle_hash().to_string();
            lc.add_engine(Arc::new(engine), Some(&bytes)).map_err(|e| e.to_string())?;
            Arc::new(decide::Embedded::new(lc, hash))
        }
        (None, Some(url)) => {
            let token = std::env::var("AARM_TOKEN")
                .map_err(|_| "--server needs the agent's token in the environment variable AARM_TOKEN".to_string())?;
            Arc::new(decide::Remote::new(url, token)?)
        }
        (None, None) => return Err("give --store DB or --server URL: every decision leaves a receipt there".into()),
    };
    let mut identity = Map::new();
    for (key, flag, var) in [("agent", &args.agent, "AARM_AGENT"), ("human", &args.human, "AARM_HUMAN")] {
        if let Some(v) = env_or(flag, var) {
            identity.insert(key.into(), Value::String(v));
        }
    }
    let session = env_or(&args.session, "AARM_SESSION").unwrap_or_else(|| format!("mcp-{}", std::process::id()));
    identity.insert("session".into(), Value::String(session));
    let context = match &args.context {
        Some(path) => {
            let text = std::fs::read_to_string(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
            match serde_json::from_str::<Value>(&text) {
                Ok(Value::Object(m)) if !m.contains_key("prior_actions") => m,
                Ok(Value::Object(_)) => {
                    return Err(format!(
                        "{}: `prior_actions` is the gateway's own record of the session; leave it out",
                        path.display()
                    ))
                }
                _ => return Err(format!("{}: --context is a JSON object (the request's `context`)", path.display())),
            }
        }
        None => Map::new(),
    };
    let settings = proxy::Settings { namespaced: args.config.is_some(), declared, identity, context };
    proxy::run(&servers, settings, decider)
}

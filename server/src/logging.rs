//! Structured logs (tracing): one line per event, as text or JSON, filtered by a level or an
//! `RUST_LOG`-style directive. Credentials are never logged.

use tracing_subscriber::EnvFilter;

/// How log lines are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// Human-readable lines.
    Text,
    /// One JSON object per line.
    Json,
}

/// Installs the global subscriber (once; later calls are ignored). `filter`: `info`,
/// `aarm_server=debug,tower_http=info`, ...
pub fn init(format: Format, filter: &str) -> Result<(), String> {
    let filter = EnvFilter::try_new(filter).map_err(|e| format!("log filter `{filter}`: {e}"))?;
    // Colours only for a person at a terminal: in a file or a pipe, ANSI codes are noise.
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stderr());
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr).with_ansi(ansi);
    let result = match format {
        Format::Text => builder.try_init(),
        Format::Json => builder.json().flatten_event(true).try_init(),
    };
    // Already installed (tests start several servers): keep the first.
    let _ = result;
    Ok(())
}

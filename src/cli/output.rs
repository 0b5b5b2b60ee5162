//! Printing diagnostics in the formats the CLI offers.

use aarm_lang::render::{summary, to_human, to_json};
use aarm_lang::{Diagnostic, SourceMap};
use clap::ValueEnum;
use std::io::{IsTerminal, Write};

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Default)]
pub enum Format {
    /// Reports for people, with the source shown (on stderr).
    #[default]
    Human,
    /// One JSON object per diagnostic and line (on stdout).
    Json,
}

/// Prints diagnostics; returns nothing, since output errors (a closed pipe) are not the
/// author's problem.
pub fn print_diagnostics(diags: &[Diagnostic], sources: &SourceMap, format: Format) {
    match format {
        Format::Human => {
            let color = std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none();
            let mut err = std::io::stderr().lock();
            for d in diags {
                let _ = write!(err, "{}", to_human(d, sources, color));
            }
        }
        Format::Json => {
            let mut out = std::io::stdout().lock();
            for d in diags {
                if let Ok(line) = serde_json::to_string(&to_json(d, sources)) {
                    let _ = writeln!(out, "{line}");
                }
            }
        }
    }
}

/// The closing line of a human run: `checked 3 files: 1 error, 0 warnings`.
pub fn print_summary(files: usize, errors: usize, warnings: usize) {
    let what = if files == 1 { "1 file".to_string() } else { format!("{files} files") };
    if errors == 0 && warnings == 0 {
        eprintln!("checked {what}: no problems");
    } else {
        eprintln!("checked {what}: {}", summary(errors, warnings));
    }
}

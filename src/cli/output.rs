//! Printing diagnostics in the formats the CLI offers.

use aarm_lang::render::{summary, to_human_all, to_json, JsonDiagnostic};
use aarm_lang::{Diagnostic, SourceMap};
use clap::ValueEnum;
use std::io::{IsTerminal, Write};

/// `println!` for the CLI's results: a closed stdout (`aarm inspect … | head`) ends the output
/// quietly instead of panicking, as `println!` does on a broken pipe.
#[macro_export]
macro_rules! outln {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stdout().lock(), $($arg)*);
    }};
}

/// `eprintln!` for the CLI's messages: a closed stderr is ignored instead of panicking, as
/// `eprintln!` does when it cannot write.
#[macro_export]
macro_rules! errln {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stderr().lock(), $($arg)*);
    }};
}

/// `eprint!`, likewise.
#[macro_export]
macro_rules! err {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = write!(std::io::stderr().lock(), $($arg)*);
    }};
}

/// `print!`, likewise.
#[macro_export]
macro_rules! out {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = write!(std::io::stdout().lock(), $($arg)*);
    }};
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Default)]
pub enum Format {
    /// Reports for people, with the source shown (on stderr).
    #[default]
    Human,
    /// One JSON object per diagnostic and line (on stdout).
    Json,
    /// One SARIF 2.1.0 log (on stdout), for CI systems that annotate pull requests.
    Sarif,
}

/// Prints diagnostics; returns nothing, since output errors (a closed pipe) are not the
/// author's problem.
pub fn print_diagnostics(diags: &[Diagnostic], sources: &SourceMap, format: Format) {
    match format {
        Format::Human => {
            let color = std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none();
            let mut err = std::io::stderr().lock();
            for report in to_human_all(diags, sources, color) {
                let _ = write!(err, "{report}");
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
        Format::Sarif => print_sarif(&diags.iter().map(|d| to_json(d, sources)).collect::<Vec<_>>()),
    }
}

/// One SARIF log for diagnostics gathered from any number of bundles.
pub fn print_sarif(diags: &[JsonDiagnostic]) {
    let log = aarm_lang::render::to_sarif(diags, env!("CARGO_PKG_VERSION"));
    match serde_json::to_string_pretty(&log) {
        Ok(s) => crate::outln!("{s}"),
        Err(e) => crate::errln!("error: {e}"),
    }
}

/// The closing line of a human run: `checked 3 files: 1 error, 0 warnings`.
pub fn print_summary(files: usize, errors: usize, warnings: usize) {
    let what = if files == 1 { "1 file".to_string() } else { format!("{files} files") };
    if errors == 0 && warnings == 0 {
        crate::errln!("checked {what}: no problems");
    } else {
        crate::errln!("checked {what}: {}", summary(errors, warnings));
    }
}

/// A command's JSON result on standard output, pretty-printed; a value that cannot be written
/// as JSON is reported on standard error instead.
pub(crate) fn print_json(v: &impl serde::Serialize) {
    match serde_json::to_string_pretty(v) {
        Ok(s) => crate::outln!("{s}"),
        Err(e) => crate::errln!("error: {e}"),
    }
}

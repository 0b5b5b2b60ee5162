//! `aarm check [PATH…] [--deny-warnings] [--format human|json]`.
//!
//! Each PATH is one bundle (as `aarm build PATH` would compile it): a directory with every
//! `.aarm` file under it, or a single file with what it `use`s. Checking several paths checks
//! several independent bundles, so that separate scenarios do not share one namespace.
//!
//! PATH `-` reads one file from standard input (an editor's unsaved buffer): it is named
//! `--stdin-filepath` in diagnostics (default `<stdin>`), and its `use ./x` resolve relative to
//! that path.
//!
//! A bundle without errors is also analyzed: what `aarm analyze` proves (W0010–W0018) is reported
//! with the checker's own warnings, so that `--deny-warnings` in CI covers it too.

use super::exit;
use super::output::{print_diagnostics, print_sarif, print_summary, Format};
use super::source::{is_stdin, load_path, load_stdin, stdin_usage};
use aarm_compiler::check_and_analyze;
use aarm_lang::render::to_json;
use clap::Args;
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Debug, Args)]
pub struct CheckArgs {
    /// Bundles to check: each a directory (searched recursively for `.aarm` files; one without
    /// any is an error, exit 2), a file, or `-` for one file read from standard input.
    #[arg(default_value = ".")]
    pub paths: Vec<PathBuf>,
    /// The path the text read from `-` stands for: named in diagnostics, and the base of its
    /// `use ./x`.
    #[arg(long, value_name = "PATH")]
    pub stdin_filepath: Option<PathBuf>,
    /// Fail (exit 1) on warnings too.
    #[arg(long)]
    pub deny_warnings: bool,
    /// Output format of the diagnostics: `human` (on stderr), `json` (one object per line, on
    /// stdout) or `sarif` (one SARIF 2.1.0 log on stdout, for CI annotations).
    #[arg(long, value_enum, default_value_t = Format::Human)]
    pub format: Format,
}

pub fn run(args: &CheckArgs) -> ExitCode {
    if let Err(code) = stdin_usage(&args.paths, args.stdin_filepath.as_deref()) {
        return ExitCode::from(code);
    }
    let (mut files, mut errors, mut warnings) = (0, 0, 0);
    let mut sarif = Vec::new();
    for path in &args.paths {
        let loaded = if is_stdin(path) {
            match load_stdin(args.stdin_filepath.as_deref()) {
                Ok(l) => l,
                Err(code) => return ExitCode::from(code),
            }
        } else {
            match load_path(path) {
                Ok(l) => l,
                Err(code) => return ExitCode::from(code),
            }
        };
        let diagnostics = check_and_analyze(&loaded);
        if args.format == Format::Sarif {
            // One log for every bundle, printed at the end.
            sarif.extend(diagnostics.iter().map(|d| to_json(d, &loaded.sources)));
        } else {
            print_diagnostics(&diagnostics, &loaded.sources, args.format);
        }
        let e = diagnostics.iter().filter(|d| d.is_error()).count();
        errors += e;
        warnings += diagnostics.len() - e;
        files += loaded.modules.iter().filter(|m| !m.source.is_std()).count();
    }
    match args.format {
        Format::Human => print_summary(files, errors, warnings),
        Format::Sarif => print_sarif(&sarif),
        Format::Json => {}
    }
    if errors > 0 || (args.deny_warnings && warnings > 0) {
        ExitCode::from(exit::FAILED)
    } else {
        ExitCode::from(exit::OK)
    }
}

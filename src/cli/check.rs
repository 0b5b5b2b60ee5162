//! `aarm check [PATH…] [--deny-warnings] [--format human|json]`.

use super::exit;
use super::output::{print_diagnostics, print_summary, Format};
use aarm_compiler::{check, load};
use clap::Args;
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Debug, Args)]
pub struct CheckArgs {
    /// Files or directories of `.aarm` files (directories are searched recursively).
    #[arg(default_value = ".")]
    pub paths: Vec<PathBuf>,
    /// Fail (exit 1) on warnings too.
    #[arg(long)]
    pub deny_warnings: bool,
    /// Output format of the diagnostics.
    #[arg(long, value_enum, default_value_t = Format::Human)]
    pub format: Format,
}

pub fn run(args: &CheckArgs) -> ExitCode {
    let loaded = match load(&args.paths) {
        Ok(l) => l,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(exit::USAGE);
        }
    };
    let checked = check(&loaded);
    print_diagnostics(&checked.diagnostics, &loaded.sources, args.format);
    let errors = checked.diagnostics.iter().filter(|d| d.is_error()).count();
    let warnings = checked.diagnostics.len() - errors;
    let files = loaded.modules.iter().filter(|m| !m.source.is_std()).count();
    if args.format == Format::Human {
        print_summary(files, errors, warnings);
    }
    if errors > 0 || (args.deny_warnings && warnings > 0) {
        ExitCode::from(exit::FAILED)
    } else {
        ExitCode::from(exit::OK)
    }
}

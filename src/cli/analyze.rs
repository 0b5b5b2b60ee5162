//! `aarm analyze [PATH…] [--format human|json]`: the findings of `aarm_compiler::analyze` —
//! shadowed rules, conditions that can never hold, equal-priority conflicts, lifecycles that end
//! in `allow` without approval, deferrals evidence cannot end, unused declarations.
//!
//! Each PATH is one bundle, as for `aarm check`. A bundle with errors is not analyzed: its
//! diagnostics are printed instead.

use super::exit;
use super::output::{print_diagnostics, Format};
use super::source::load_path;
use aarm_compiler::{analyze::analyze, check};
use aarm_lang::render::summary;
use clap::Args;
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Debug, Args)]
pub struct AnalyzeArgs {
    /// Bundles to analyze: each a directory (searched recursively for `.aarm` files) or a file.
    #[arg(default_value = ".")]
    pub paths: Vec<PathBuf>,
    /// Output format of the findings: `human` (on stderr) or `json` (one object per line, on
    /// stdout).
    #[arg(long, value_enum, default_value_t = Format::Human)]
    pub format: Format,
}

pub fn run(args: &AnalyzeArgs) -> ExitCode {
    let (mut errors, mut findings) = (0, 0);
    for path in &args.paths {
        let loaded = match load_path(path) {
            Ok(l) => l,
            Err(code) => return ExitCode::from(code),
        };
        let checked = check(&loaded);
        let Some(bundle) = &checked.bundle else {
            // Errors: show what `aarm check` would, and analyze nothing.
            print_diagnostics(&checked.diagnostics, &loaded.sources, args.format);
            errors += checked.diagnostics.iter().filter(|d| d.is_error()).count();
            continue;
        };
        let found = analyze(bundle);
        print_diagnostics(&found, &loaded.sources, args.format);
        findings += found.len();
        if args.format == Format::Human {
            let what = path.display();
            if found.is_empty() {
                crate::errln!("analyzed {what}: no findings");
            } else {
                crate::errln!(
                    "analyzed {what}: {}",
                    if found.len() == 1 { "1 finding".to_string() } else { format!("{} findings", found.len()) }
                );
            }
        }
    }
    if errors > 0 && args.format == Format::Human {
        crate::errln!("not analyzed: {}", summary(errors, 0));
    }
    if errors > 0 || findings > 0 {
        ExitCode::from(exit::FAILED)
    } else {
        ExitCode::from(exit::OK)
    }
}

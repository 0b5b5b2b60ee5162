//! `aarm fmt [PATH…] [--check]`: rewrite `.aarm` files in the canonical layout
//! (`lang/REFERENCE.md`, "Formatting").
//!
//! Each PATH is a file or a directory searched recursively for `.aarm` files. Without `--check`
//! the files that would change are rewritten in place; with it nothing is written and the run
//! fails if any file would change. A file with syntax errors is left untouched and reported.
//! Exit: 0 when everything is (now) formatted, 1 when `--check` found unformatted files or a
//! file has syntax errors, 2 on usage or I/O errors.

use super::exit;
use super::output::{print_diagnostics, Format};
use aarm_lang::format::format;
use aarm_lang::SourceMap;
use clap::Args;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

#[derive(Debug, Args)]
pub struct FmtArgs {
    /// Files or directories (searched recursively for `.aarm` files) to format.
    #[arg(default_value = ".")]
    pub paths: Vec<PathBuf>,
    /// Write nothing; list the files whose layout is not canonical and exit 1 if there are any.
    #[arg(long)]
    pub check: bool,
}

pub fn run(args: &FmtArgs) -> ExitCode {
    let mut files = Vec::new();
    for path in &args.paths {
        if path.is_dir() {
            if let Err(e) = collect(path, &mut files) {
                crate::errln!("error: cannot read {}: {e}", path.display());
                return ExitCode::from(exit::USAGE);
            }
        } else if path.is_file() {
            files.push(path.clone());
        } else {
            crate::errln!("error: {}: no such file or directory", path.display());
            return ExitCode::from(exit::USAGE);
        }
    }
    files.sort();
    files.dedup();
    let (mut changed, mut broken) = (0usize, 0usize);
    for file in &files {
        let src = match std::fs::read_to_string(file) {
            Ok(s) => s,
            Err(e) => {
                crate::errln!("error: cannot read {}: {e}", file.display());
                return ExitCode::from(exit::USAGE);
            }
        };
        let formatted = match format(&src) {
            Ok(f) => f,
            Err(e) => {
                let mut sources = SourceMap::new();
                let id = sources.add(file.display().to_string(), src.as_str());
                let diags: Vec<_> = e
                    .diagnostics
                    .into_iter()
                    .map(|mut d| {
                        d.file = id;
                        d
                    })
                    .collect();
                print_diagnostics(&diags, &sources, Format::Human);
                crate::errln!("{}: not formatted: syntax errors", file.display());
                broken += 1;
                continue;
            }
        };
        if formatted == src {
            continue;
        }
        changed += 1;
        if args.check {
            crate::outln!("{}", file.display());
        } else if let Err(e) = std::fs::write(file, &formatted) {
            crate::errln!("error: cannot write {}: {e}", file.display());
            return ExitCode::from(exit::USAGE);
        } else {
            crate::errln!("formatted {}", file.display());
        }
    }
    let what = if files.len() == 1 { "1 file".to_string() } else { format!("{} files", files.len()) };
    if args.check {
        crate::errln!("checked {what}: {changed} not formatted, {broken} with syntax errors");
    } else {
        crate::errln!("{what}: {changed} reformatted, {broken} with syntax errors");
    }
    if broken > 0 || (args.check && changed > 0) {
        ExitCode::from(exit::FAILED)
    } else {
        ExitCode::from(exit::OK)
    }
}

/// The `.aarm` files under `dir` (hidden directories and `target` skipped).
fn collect(dir: &Path, out: &mut Vec<PathBuf>) -> std::io::Result<()> {
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        let path = entry.path();
        let name = entry.file_name().to_string_lossy().into_owned();
        if name.starts_with('.') || name == "target" {
            continue;
        }
        if path.is_dir() {
            collect(&path, out)?;
        } else if path.extension().is_some_and(|e| e == "aarm") {
            out.push(path);
        }
    }
    Ok(())
}

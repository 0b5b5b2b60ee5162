//! `aarm fmt [PATH…] [--check]`: rewrite `.aarm` files in the canonical layout
//! (`lang/REFERENCE.md`, "Formatting").
//!
//! Each PATH is a file or a directory searched recursively for `.aarm` files (the module
//! loader's walk, so a directory without any is an error, as for `check`). Without `--check`
//! the files that would change are rewritten in place; with it nothing is written and the run
//! fails if any file would change. A file with syntax errors is left untouched and reported.
//!
//! `aarm fmt -` formats standard input to standard output (an editor's format-on-save); the text
//! is named `--stdin-filepath` (default `<stdin>`) in its diagnostics. Text with syntax errors
//! prints nothing on stdout, so an editor keeps its buffer.
//!
//! Exit: 0 when everything is (now) formatted, 1 when `--check` found unformatted files or a
//! file has syntax errors, 2 on usage or I/O errors.

use super::exit;
use super::output::{print_diagnostics, Format};
use super::source::{is_stdin, read_stdin_source, stdin_usage, STDIN_NAME};
use aarm_compiler::policy_files;
use aarm_lang::format::format;
use aarm_lang::SourceMap;
use clap::Args;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

#[derive(Debug, Args)]
pub struct FmtArgs {
    /// Files or directories (searched recursively for `.aarm` files) to format, or `-` alone to
    /// format standard input to standard output.
    #[arg(default_value = ".")]
    pub paths: Vec<PathBuf>,
    /// Write nothing; list the files whose layout is not canonical and exit 1 if there are any.
    #[arg(long)]
    pub check: bool,
    /// The path the text read from `-` stands for, named in its diagnostics.
    #[arg(long, value_name = "PATH")]
    pub stdin_filepath: Option<PathBuf>,
}

pub fn run(args: &FmtArgs) -> ExitCode {
    if let Err(code) = stdin_usage(&args.paths, args.stdin_filepath.as_deref()) {
        return ExitCode::from(code);
    }
    if args.paths.iter().any(|p| is_stdin(p)) {
        if args.paths.len() > 1 {
            crate::errln!(
                "error: `-` formats standard input to standard output and cannot be mixed with files\n  \
                 help: run `aarm fmt -` and `aarm fmt PATH…` separately"
            );
            return ExitCode::from(exit::USAGE);
        }
        return ExitCode::from(format_stdin(args));
    }
    let mut files = Vec::new();
    for path in &args.paths {
        match policy_files(path) {
            Ok(found) => files.extend(found),
            Err(e) => {
                crate::errln!("error: {e}");
                return ExitCode::from(exit::USAGE);
            }
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
        let Some(formatted) = format_or_report(&src, &file.display().to_string()) else {
            broken += 1;
            continue;
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

/// `aarm fmt -`: the formatted text on stdout (nothing under `--check`, which lists the name when
/// the text is not canonical).
fn format_stdin(args: &FmtArgs) -> u8 {
    let name = args.stdin_filepath.as_deref().unwrap_or(Path::new(STDIN_NAME)).display().to_string();
    let src = match read_stdin_source().map(String::from_utf8) {
        Ok(Ok(s)) => s,
        Ok(Err(_)) => {
            crate::errln!("error: {name}: not valid UTF-8\n  help: policy files are UTF-8 text");
            return exit::FAILED;
        }
        Err(e) => {
            crate::errln!("error: cannot read standard input: {e}");
            return exit::USAGE;
        }
    };
    if src.len() > aarm_lang::limits::MAX_SOURCE_BYTES {
        crate::errln!("error: {name}: larger than the source size limit; not formatted");
        return exit::FAILED;
    }
    let Some(formatted) = format_or_report(&src, &name) else { return exit::FAILED };
    if args.check {
        if formatted == src {
            return exit::OK;
        }
        crate::outln!("{name}");
        return exit::FAILED;
    }
    crate::out!("{formatted}");
    exit::OK
}

/// The canonical layout of `src`, or `None` with its syntax errors printed under `name`.
fn format_or_report(src: &str, name: &str) -> Option<String> {
    match format(src) {
        Ok(f) => Some(f),
        Err(e) => {
            let mut sources = SourceMap::new();
            let id = sources.add(name.to_string(), src);
            let diags: Vec<_> = e
                .diagnostics
                .into_iter()
                .map(|mut d| {
                    d.file = id;
                    d
                })
                .collect();
            print_diagnostics(&diags, &sources, Format::Human);
            crate::errln!("{name}: not formatted: syntax errors");
            None
        }
    }
}

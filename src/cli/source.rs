//! Compiling a policy directory for the commands that need a program (`build`, `eval`),
//! printing its diagnostics the way `aarm check` does.

use super::exit;
use super::output::{print_diagnostics, Format};
use aarm_compiler::{compile, load, load_text, Loaded};
use aarm_lang::limits::MAX_SOURCE_BYTES;
use aarm_runtime::bundle::{self, VerifyingKey};
use aarm_runtime::engine::Engine;
use aarm_runtime::program::Program;
use std::path::{Path, PathBuf};

/// The policy file or directory at `path`, or the exit code to stop with: a path that cannot be
/// read is a usage error (the message is printed).
pub fn load_path(path: &Path) -> Result<Loaded, u8> {
    load(std::slice::from_ref(&path.to_path_buf())).map_err(|e| {
        crate::errln!("error: {e}");
        exit::USAGE
    })
}

/// The public keys at `paths` (32 bytes, raw or hex) that a bundle or a receipt chain must be
/// signed with, or the exit code to stop with: a key that cannot be read or used is a usage error
/// (the message, `cannot use public key PATH: …`, is printed).
pub fn public_keys(paths: &[PathBuf]) -> Result<Vec<VerifyingKey>, u8> {
    paths
        .iter()
        .map(|path| {
            std::fs::read(path)
                .map_err(|e| e.to_string())
                .and_then(|b| bundle::verifying_key_from_file_bytes(&b).map_err(|e| e.to_string()))
                .map_err(|e| {
                    crate::errln!("error: cannot use public key {}: {e}", path.display());
                    exit::USAGE
                })
        })
        .collect()
}

/// A freshly compiled program encoded as `aarm build` writes it and loaded as a host loads it
/// (so the commands that run a program test the bundle, not the compiler's memory), with the
/// bundle's bytes.
pub fn engine_of(program: &Program) -> Result<(Engine, Vec<u8>), String> {
    let bytes = bundle::encode(program, None).map_err(|e| e.to_string())?;
    let engine = Engine::load(&bytes, &[], false).map_err(|e| e.to_string())?;
    Ok((engine, bytes))
}

/// The program of the bundle at `path`, or the exit code to stop with (diagnostics printed).
pub fn compile_path(path: &Path, format: Format) -> Result<Program, u8> {
    let loaded = load_path(path)?;
    let compiled = compile(&loaded);
    print_diagnostics(&compiled.checked.diagnostics, &loaded.sources, format);
    if let Some(e) = compiled.codegen_error {
        crate::errln!("error: {e}");
        return Err(exit::FAILED);
    }
    match compiled.program {
        Some(p) => Ok(p),
        None => {
            let errors = compiled.checked.diagnostics.iter().filter(|d| d.is_error()).count();
            crate::errln!(
                "error: {} has {errors} error{}; nothing was built",
                path.display(),
                if errors == 1 { "" } else { "s" }
            );
            Err(exit::FAILED)
        }
    }
}

/// Reads a file, or standard input for `-`.
pub fn read_input(path: &Path) -> std::io::Result<Vec<u8>> {
    if path.as_os_str() == "-" {
        let mut buf = Vec::new();
        std::io::Read::read_to_end(&mut std::io::stdin().lock(), &mut buf)?;
        Ok(buf)
    } else {
        std::fs::read(path)
    }
}

/// Whether a path argument is `-`, standard input.
pub fn is_stdin(path: &Path) -> bool {
    path.as_os_str() == "-"
}

/// The name standard input goes by in diagnostics when `--stdin-filepath` is not given.
pub const STDIN_NAME: &str = "<stdin>";

/// Refuses `-` given twice (standard input can be read once) and `--stdin-filepath` without `-`
/// (a path that would silently be ignored); the message is printed.
pub fn stdin_usage(paths: &[PathBuf], stdin_filepath: Option<&Path>) -> Result<(), u8> {
    let dashes = paths.iter().filter(|p| is_stdin(p)).count();
    if dashes > 1 {
        crate::errln!(
            "error: `-` (standard input) is given {dashes} times\n  help: standard input holds one file: give `-` once"
        );
        return Err(exit::USAGE);
    }
    if dashes == 0 && stdin_filepath.is_some() {
        crate::errln!("error: --stdin-filepath names the text read from `-`, and no path is `-`\n  help: give `-` as the path, or leave out --stdin-filepath");
        return Err(exit::USAGE);
    }
    Ok(())
}

/// Loads one policy file read from standard input, as if it were `name` (`use ./x` resolve
/// relative to it).
pub fn load_stdin(name: Option<&Path>) -> Result<Loaded, u8> {
    let bytes = read_stdin_source().map_err(|e| {
        crate::errln!("error: cannot read standard input: {e}");
        exit::USAGE
    })?;
    Ok(load_text(name.unwrap_or(Path::new(STDIN_NAME)), bytes))
}

/// Standard input, read up to one byte past the source size limit (what is longer is refused as
/// too large either way, so a huge input costs no more than that).
pub fn read_stdin_source() -> std::io::Result<Vec<u8>> {
    let limit = u64::try_from(MAX_SOURCE_BYTES).unwrap_or(u64::MAX).saturating_add(1);
    let mut buf = Vec::new();
    std::io::Read::read_to_end(&mut std::io::Read::take(std::io::stdin().lock(), limit), &mut buf)?;
    Ok(buf)
}

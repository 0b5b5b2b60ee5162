//! Compiling a policy directory for the commands that need a program (`build`, `eval`),
//! printing its diagnostics the way `aarm check` does.

use super::exit;
use super::output::{print_diagnostics, Format};
use aarm_compiler::{compile, load};
use aarm_runtime::program::Program;
use std::path::Path;

/// The program of the bundle at `path`, or the exit code to stop with (diagnostics printed).
pub fn compile_path(path: &Path, format: Format) -> Result<Program, u8> {
    let loaded = match load(&[path.to_path_buf()]) {
        Ok(l) => l,
        Err(e) => {
            crate::errln!("error: {e}");
            return Err(exit::USAGE);
        }
    };
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

//! `build` and `check` of policy sources, as `aarm build` and `aarm check` do them (the same
//! compiler functions, the same JSON diagnostics as `aarm check --format json`).

use crate::error::HostError;
use aarm_compiler::{check_and_analyze, compile, load};
use aarm_lang::render::{to_json, JsonDiagnostic};
use aarm_runtime::bundle;
use std::path::Path;

/// The bundle bytes of the sources at `path` (a directory, or a file with what it `use`s),
/// signed when `sign_key` (a key file's contents) is given.
pub fn build(path: &Path, sign_key: Option<&[u8]>) -> Result<Vec<u8>, HostError> {
    let key = match sign_key {
        Some(bytes) => {
            Some(bundle::signing_key_from_file_bytes(bytes).map_err(|e| HostError::SigningKey(e.to_string()))?)
        }
        None => None,
    };
    let loaded = load(&[path.to_path_buf()]).map_err(|e| HostError::Source(e.to_string()))?;
    let compiled = compile(&loaded);
    if let Some(e) = compiled.codegen_error {
        return Err(HostError::Encode(e.to_string()));
    }
    let diagnostics = &compiled.checked.diagnostics;
    match compiled.program {
        Some(program) => bundle::encode(&program, key.as_ref()).map_err(|e| HostError::Encode(e.to_string())),
        None => Err(HostError::Build {
            path: path.display().to_string(),
            errors: diagnostics.iter().filter(|d| d.is_error()).count(),
            diagnostics: diagnostics.iter().map(|d| to_json(d, &loaded.sources)).collect(),
        }),
    }
}

/// Every diagnostic `aarm check PATH` reports, errors and warnings, in source order.
pub fn check(path: &Path) -> Result<Vec<JsonDiagnostic>, HostError> {
    let loaded = load(&[path.to_path_buf()]).map_err(|e| HostError::Source(e.to_string()))?;
    Ok(check_and_analyze(&loaded).iter().map(|d| to_json(d, &loaded.sources)).collect())
}

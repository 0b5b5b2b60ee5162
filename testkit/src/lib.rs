//! Fixtures shared by aarm's tests, benches and fuzz targets, so that each exists once:
//!
//! - [`build`] / [`engine`]: policy source text → checked IR, program, bundle bytes and an
//!   [`Engine`] loaded from those bytes as a host loads them;
//! - [`generate`]: the one grammar of random policies and requests of the differential tests
//!   (`compiler/tests/differential.rs` draws its bytes from proptest, `fuzz/fuzz_targets/
//!   differential.rs` from libFuzzer);
//! - [`differential`]: what must hold on a generated case (the VM, the VM without fusion, the
//!   VM without the rule index and the reference interpreter decide alike);
//! - [`indexed`]: a bundle whose rules are indexed, and requests for it, to try the rule index
//!   with hostile bytecode.
//!
//! Not linked by any host crate: it is a dev-dependency only.
//!
//! Where to start: a test that needs an engine calls [`engine`] with policy text (several files
//! with [`FILE_MARK`] lines); a test that needs the bytes too (a case store keeps them) calls
//! [`build`] and then [`Built::engine`]. Both fail with a [`BuildError`] that prints the
//! diagnostics, so that a fixture that does not check says why.

#![deny(missing_docs)]

pub mod differential;
pub mod generate;
pub mod indexed;

use aarm_compiler::{compile, ir, load_sources};
use aarm_runtime::bundle::{self, BundleError};
use aarm_runtime::engine::{Engine, EngineError};
use aarm_runtime::program::Program;
use std::fmt;

/// The line that starts each file of a several-file source for [`files`]: `//// file NAME`.
pub const FILE_MARK: &str = "//// file ";

/// Why a source did not become an engine.
#[derive(thiserror::Error)]
pub enum BuildError {
    /// The checker refused the source: its error diagnostics, one a line (`E0200 message`).
    #[error("the policy does not check:\n{0}")]
    Check(String),
    /// Code generation refused a checked bundle (a bytecode format limit).
    #[error("code generation failed: {0}")]
    Codegen(String),
    /// The generated program did not encode.
    #[error("the bundle does not encode: {0}")]
    Encode(#[from] BundleError),
    /// The encoded bundle did not load.
    #[error("the bundle does not load: {0}")]
    Load(#[from] EngineError),
}

/// `unwrap()` in a test prints `Debug`: the diagnostics, readable.
impl fmt::Debug for BuildError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

/// A compiled bundle: its checked IR (for the reference interpreter), its program, and its
/// encoded bytes (unsigned), as `aarm build` writes them.
pub struct Built {
    /// The checked IR: what the reference interpreter (`aarm_compiler::interpret`) and the
    /// coverage tests read.
    pub ir: ir::Bundle,
    /// The compiled program, before encoding.
    pub program: Program,
    /// The encoded bundle, unsigned: what a host loads, and what a case store keeps.
    pub bytes: Vec<u8>,
}

impl Built {
    /// The engine a host gets from these bytes (`Engine::load`: decoded and verified).
    pub fn engine(&self) -> Result<Engine, BuildError> {
        Ok(Engine::load(&self.bytes, &[], false)?)
    }
}

/// The files of a source: one file `policy.aarm`, or, when `src` starts with [`FILE_MARK`],
/// several, each `//// file NAME` line starting the next.
pub fn files(src: &str) -> Vec<(String, String)> {
    if !src.starts_with(FILE_MARK) {
        return vec![("policy.aarm".to_string(), src.to_string())];
    }
    split_at_marks(src)
        .into_iter()
        .filter(|part| !part.is_empty())
        .map(|part| {
            let (name, text) = part.split_once('\n').unwrap_or((part, ""));
            (name.trim().to_string(), text.to_string())
        })
        .collect()
}

/// `src.split(FILE_MARK)`, collected, with the marks found by `memchr::memmem` (vectorized):
/// `str::split`'s searcher, instrumented in the fuzz build, compared every byte of the source,
/// each comparison a tracing callback. The mark has no prefix that is also its suffix, so its
/// occurrences never overlap and the two find the same ones; each starts with `/`, so every
/// cut is on a character boundary.
fn split_at_marks(src: &str) -> Vec<&str> {
    static MARK: std::sync::OnceLock<memchr::memmem::Finder<'static>> = std::sync::OnceLock::new();
    let mark = MARK.get_or_init(|| memchr::memmem::Finder::new(FILE_MARK));
    let mut parts = Vec::new();
    let mut start = 0;
    for at in mark.find_iter(src.as_bytes()) {
        parts.push(src.get(start..at).unwrap_or_default());
        start = at + FILE_MARK.len();
    }
    parts.push(src.get(start..).unwrap_or_default());
    parts
}

/// Loads, checks, generates and encodes `files` (name, text).
pub fn build_files(files: Vec<(String, String)>) -> Result<Built, BuildError> {
    let loaded = load_sources(files);
    let compiled = compile(&loaded);
    if let Some(e) = compiled.codegen_error {
        return Err(BuildError::Codegen(e.to_string()));
    }
    let (Some(ir), Some(program)) = (compiled.checked.bundle, compiled.program) else {
        let errors: Vec<String> = compiled
            .checked
            .diagnostics
            .iter()
            .filter(|d| d.is_error())
            .map(|d| format!("{} {}", d.code.as_str(), d.message))
            .collect();
        return Err(BuildError::Check(errors.join("\n")));
    };
    let bytes = bundle::encode(&program, None)?;
    Ok(Built { ir, program, bytes })
}

/// [`build_files`] of a source text ([`files`] splits it).
pub fn build(src: &str) -> Result<Built, BuildError> {
    build_files(files(src))
}

/// The engine of a policy source: compiled, encoded and loaded from the bytes.
pub fn engine(src: &str) -> Result<Engine, BuildError> {
    build(src)?.engine()
}

/// `text` with every identifier the system generates replaced by `…`: a run of 16 or more
/// lowercase hex digits (digests, signatures, keyed hashes, trace ids) or a 26-character ULID
/// (decision ids). A test that asserts a secret (a PIN, an amount) appears nowhere in an output
/// searches this instead, so that a digest which happens to contain the secret's digits cannot
/// fail it by chance (`"sha256:c22468d2…"` contains `2468`).
pub fn without_generated_ids(text: &str) -> String {
    let is_hex = |c: char| c.is_ascii_digit() || ('a'..='f').contains(&c);
    // Crockford's base32, as ULIDs are written: digits and capitals but I, L, O and U.
    let is_ulid = |c: char| c.is_ascii_digit() || (c.is_ascii_uppercase() && !"ILOU".contains(c));
    let mut out = String::with_capacity(text.len());
    let mut run = String::new();
    let flush = |run: &mut String, out: &mut String| {
        let generated = (run.len() >= 16 && run.chars().all(is_hex)) || (run.len() == 26 && run.chars().all(is_ulid));
        out.push_str(if generated { "…" } else { run });
        run.clear();
    };
    for c in text.chars() {
        if c.is_ascii_alphanumeric() {
            run.push(c);
        } else {
            flush(&mut run, &mut out);
            out.push(c);
        }
    }
    flush(&mut run, &mut out);
    out
}

#[cfg(test)]
mod tests {
    use super::without_generated_ids;

    /// The marks split a text as `str::split` does, on texts built of marks, near-marks,
    /// slashes, line breaks and words.
    #[test]
    fn files_are_split_as_str_split_splits() {
        let pieces = [super::FILE_MARK, "/// file ", "////", "/", "\n", "a.aarm\n", "é", "policy p {}\n", ""];
        let mut texts = vec![String::new()];
        for a in pieces {
            for b in pieces {
                for c in pieces {
                    for d in pieces {
                        texts.push(format!("{a}{b}{c}{d}"));
                    }
                }
            }
        }
        for text in &texts {
            let expected: Vec<&str> = text.split(super::FILE_MARK).collect();
            assert_eq!(super::split_at_marks(text), expected, "{text:?}");
        }
    }

    #[test]
    fn generated_ids_are_left_out_and_everything_else_kept() {
        let text = r#"{"hash":"sha256:c22468d207f2d44f","id":"01M92JE1KSZ29KMVKDW647M2A0","pin":"2468","n":5000,"ssn":"078-05-1120","note":"pin2468","short":"c22468d2"}"#;
        let out = without_generated_ids(text);
        assert_eq!(
            out,
            r#"{"hash":"sha256:…","id":"…","pin":"2468","n":5000,"ssn":"078-05-1120","note":"pin2468","short":"c22468d2"}"#
        );
        assert!(!without_generated_ids(r#"{"hash":"sha256:c22468d207f2d44f"}"#).contains("2468"));
    }
}

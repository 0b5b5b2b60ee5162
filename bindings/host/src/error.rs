//! What the packages' calls can fail with. Each kind is one exception class in Python
//! (`aarm.BundleError`, ...) and one `code` on a JavaScript `Error`; the message is the same in
//! both.

use aarm_lang::render::JsonDiagnostic;

/// The exception a [`HostError`] becomes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ErrorKind {
    /// A bundle (or a trusted key) that does not load: `aarm.BundleError`, `AARM_BUNDLE`.
    Bundle,
    /// Sources with errors: `aarm.BuildError`, `AARM_BUILD` (with the diagnostics).
    Build,
    /// A case event the lifecycle refused: `aarm.CaseError`, `AARM_CASE` (with the stable code).
    Case,
    /// The case store failed: `aarm.StoreError`, `AARM_STORE`.
    Store,
    /// A file that cannot be read, an argument of the wrong shape: `aarm.Error`, `AARM_USAGE`.
    Usage,
}

/// Everything a package call can fail with. Each variant belongs to one [`ErrorKind`]
/// ([`HostError::kind`]); the message (`Display`) is what both packages show.
#[derive(Debug, thiserror::Error)]
pub enum HostError {
    /// The bundle does not load (its hash, signature or bytecode does not check out): nothing
    /// is decided with it.
    #[error("the bundle cannot be loaded: {0}")]
    Bundle(String),
    #[error("trusted key {index} cannot be used: {message}")]
    /// A trusted public key does not read as an Ed25519 key.
    TrustedKey {
        /// Its position among the keys given, from 0.
        index: usize,
        /// Why it cannot be used.
        message: String,
    },
    /// The key to sign a build with does not read as an Ed25519 signing key.
    #[error("the signing key cannot be used: {0}")]
    SigningKey(String),
    #[error("{path} has {errors} error{}; nothing was built", if *errors == 1 { "" } else { "s" })]
    /// The sources have errors: nothing was built.
    Build {
        /// The sources' path, as given.
        path: String,
        /// How many of the diagnostics are errors.
        errors: usize,
        /// Every diagnostic, errors and warnings, as `aarm check --format json` prints them.
        diagnostics: Vec<JsonDiagnostic>,
    },
    /// The sources cannot be loaded (a path that cannot be read): nothing was checked.
    #[error("{0}")]
    Source(String),
    /// The sources check, but the program could not be generated or encoded as a bundle.
    #[error("the bundle cannot be encoded: {0}")]
    Encode(String),
    /// The lifecycle refused the event; nothing changed.
    #[error("rejected: {code}")]
    Rejected {
        /// The stable code of docs/lifecycle.md (`not_an_approver`, `case_resolved`, ...).
        code: &'static str,
    },
    /// The case store failed, or the lifecycle could not work (a bundle it cannot load); the
    /// event is not recorded, and so not done.
    #[error("{0}")]
    Store(String),
    /// The caller's mistake: a file that cannot be read, an argument of the wrong shape.
    #[error("{0}")]
    Usage(String),
}

impl HostError {
    /// Which exception (Python) or `code` (JavaScript) the error becomes.
    pub fn kind(&self) -> ErrorKind {
        match self {
            HostError::Bundle(_) | HostError::TrustedKey { .. } => ErrorKind::Bundle,
            HostError::Build { .. } => ErrorKind::Build,
            HostError::Rejected { .. } => ErrorKind::Case,
            HostError::Store(_) => ErrorKind::Store,
            HostError::SigningKey(_) | HostError::Source(_) | HostError::Encode(_) | HostError::Usage(_) => {
                ErrorKind::Usage
            }
        }
    }

    /// The diagnostics of a failed build, as `check` reports them.
    pub fn diagnostics(&self) -> &[JsonDiagnostic] {
        match self {
            HostError::Build { diagnostics, .. } => diagnostics,
            _ => &[],
        }
    }

    /// The stable code of a refused case event (`not_an_approver`, `case_resolved`, ...).
    pub fn rejection(&self) -> Option<&'static str> {
        match self {
            HostError::Rejected { code } => Some(code),
            _ => None,
        }
    }
}

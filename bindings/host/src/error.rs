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

#[derive(Debug, thiserror::Error)]
pub enum HostError {
    #[error("the bundle cannot be loaded: {0}")]
    Bundle(String),
    #[error("trusted key {index} cannot be used: {message}")]
    TrustedKey { index: usize, message: String },
    #[error("the signing key cannot be used: {0}")]
    SigningKey(String),
    #[error("{path} has {errors} error{}; nothing was built", if *errors == 1 { "" } else { "s" })]
    Build { path: String, errors: usize, diagnostics: Vec<JsonDiagnostic> },
    #[error("{0}")]
    Source(String),
    #[error("the bundle cannot be encoded: {0}")]
    Encode(String),
    /// The lifecycle refused the event; `code` is the stable code of docs/lifecycle.md.
    #[error("rejected: {code}")]
    Rejected { code: &'static str },
    #[error("{0}")]
    Store(String),
    #[error("{0}")]
    Usage(String),
}

impl HostError {
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

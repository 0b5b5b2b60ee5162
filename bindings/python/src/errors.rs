//! `aarm.Error` and its subclasses, one per [`ErrorKind`]: a host catches `aarm.Error` for all,
//! or the one it can act on.

use aarm_host::{ErrorKind, HostError};
use pyo3::create_exception;
use pyo3::exceptions::PyException;
use pyo3::prelude::*;

create_exception!(aarm, Error, PyException, "Every error of the aarm package.");
create_exception!(aarm, BundleError, Error, "A bundle or a trusted key that does not load.");
create_exception!(aarm, BuildError, Error, "Policy sources with errors; `.diagnostics` lists them.");
create_exception!(aarm, CaseError, Error, "A case event the lifecycle refused; `.code` is its stable code.");
create_exception!(aarm, StoreError, Error, "The case store failed.");

pub fn host_error(e: HostError) -> PyErr {
    let message = e.to_string();
    match e.kind() {
        ErrorKind::Bundle => BundleError::new_err(message),
        ErrorKind::Build => BuildError::new_err(message),
        ErrorKind::Case => Python::attach(|py| {
            let err = CaseError::new_err(message);
            let _ = err.value(py).setattr("code", e.rejection().unwrap_or_default());
            err
        }),
        ErrorKind::Store => StoreError::new_err(message),
        ErrorKind::Usage => Error::new_err(message),
    }
}

/// [`host_error`], with a build's diagnostics as `.diagnostics` (a list of dicts).
pub fn build_error(py: Python<'_>, e: HostError) -> PyErr {
    let diagnostics = pythonize::pythonize(py, e.diagnostics()).ok();
    let err = host_error(e);
    if let Some(d) = diagnostics {
        let _ = err.value(py).setattr("diagnostics", d);
    }
    err
}

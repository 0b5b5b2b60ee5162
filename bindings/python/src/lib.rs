//! The `aarm` Python module. Python values become JSON at the edge (`request.rs`), errors become
//! `aarm.Error` and its subclasses (`errors.rs`); what the calls do is `aarm-host`'s, shared with
//! the Node package.

mod errors;
mod request;

use aarm_host::cases::Cases as HostCases;
use aarm_host::engine::{read_file, Bundle, Request};
use aarm_host::now_or_clock;
use errors::{host_error, BuildError, BundleError, CaseError, Error, StoreError};
use pyo3::exceptions::PyTypeError;
use pyo3::prelude::*;
use pyo3::types::{PyBool, PyByteArray, PyBytes, PyDict, PyFloat, PyInt, PyString};
use pythonize::pythonize;
use std::path::PathBuf;

/// A file's contents: `bytes` as they are, a `str` or `os.PathLike` as a path to read.
fn path_or_bytes(source: &Bound<'_, PyAny>, what: &str) -> PyResult<Vec<u8>> {
    if let Ok(b) = source.cast::<PyBytes>() {
        return Ok(b.as_bytes().to_vec());
    }
    if let Ok(b) = source.cast::<PyByteArray>() {
        return Ok(b.to_vec());
    }
    let path: PathBuf = source
        .extract()
        .map_err(|_| PyTypeError::new_err(format!("{what} must be bytes, or a path as str or os.PathLike")))?;
    read_file(&path, what).map_err(host_error)
}

/// `now` as seconds since the epoch: `None` (the clock), or a time as [`time_of`] reads it.
fn now_of(now: Option<&Bound<'_, PyAny>>) -> PyResult<i64> {
    match now.filter(|n| !n.is_none()) {
        None => Ok(now_or_clock(None)),
        Some(now) => time_of(now, "now"),
    }
}

/// A time, `what` in its errors: an `int` or `float` of seconds since the epoch, an aware
/// `datetime`, or an RFC 3339 `str`. A naive `datetime` is refused: its instant depends on the
/// machine's time zone.
fn time_of(time: &Bound<'_, PyAny>, what: &str) -> PyResult<i64> {
    if let Ok(s) = time.cast::<PyString>() {
        let text = s.to_cow()?;
        return aarm_runtime::value::parse_time(&text).ok_or_else(|| {
            Error::new_err(format!("{what} {text:?} is not an RFC 3339 time (e.g. 2026-11-24T10:00:00Z)"))
        });
    }
    if time.hasattr("tzinfo")? && time.hasattr("timestamp")? {
        if time.getattr("tzinfo")?.is_none() {
            return Err(Error::new_err(format!(
                "{what} is a naive datetime: give it a tzinfo (datetime.timezone.utc), its instant depends on the machine's zone otherwise"
            )));
        }
        let seconds: f64 = time.call_method0("timestamp")?.extract()?;
        return seconds_of(seconds, what);
    }
    if time.cast::<PyBool>().is_ok() {
        return Err(PyTypeError::new_err(format!("{what} is a bool, not a time")));
    }
    if let Ok(i) = time.extract::<i64>() {
        return Ok(i);
    }
    match time.extract::<f64>() {
        Ok(f) => seconds_of(f, what),
        Err(_) => Err(PyTypeError::new_err(format!(
            "{what} must be seconds since the epoch, an aware datetime or an RFC 3339 str"
        ))),
    }
}

/// An approver's caps, `{"amount": 5000}`, as the JSON object `aarm-host` reads: each value an
/// `int`, a `decimal.Decimal` or a `str` holding a decimal number, all read exactly. A `float` is
/// refused: `0.1` is not one tenth, and a cap must be the amount the approver meant.
fn caps_of(max: Option<&Bound<'_, PyAny>>) -> PyResult<serde_json::Value> {
    let Some(max) = max.filter(|m| !m.is_none()) else {
        return Ok(serde_json::Value::Null);
    };
    let dict = max
        .cast::<PyDict>()
        .map_err(|_| PyTypeError::new_err("max must be a dict of caps, such as {\"amount\": 5000}"))?;
    let mut caps = serde_json::Map::new();
    for (name, value) in dict.iter() {
        let name: String =
            name.extract().map_err(|_| PyTypeError::new_err("max's keys must be parameter names (str)"))?;
        let refused = |kind: &str| {
            PyTypeError::new_err(format!(
                "max[{name:?}] is a {kind}: give an int, a decimal.Decimal or a str such as \"12.50\""
            ))
        };
        // `bool` before `int`: in Python a bool is an int.
        let text = if value.cast::<PyBool>().is_ok() {
            return Err(refused("bool"));
        } else if value.cast::<PyFloat>().is_ok() {
            return Err(refused("float, which cannot hold most decimals exactly"));
        } else if let Ok(s) = value.cast::<PyString>() {
            s.to_cow()?.into_owned()
        } else if value.cast::<PyInt>().is_ok() || is_decimal(&value)? {
            value.str()?.to_cow()?.into_owned()
        } else {
            return Err(refused(&value.get_type().name()?.to_cow()?));
        };
        caps.insert(name, serde_json::Value::String(text));
    }
    Ok(serde_json::Value::Object(caps))
}

fn is_decimal(value: &Bound<'_, PyAny>) -> PyResult<bool> {
    let decimal = value.py().import("decimal")?.getattr("Decimal")?;
    value.is_instance(&decimal)
}

fn seconds_of(f: f64, what: &str) -> PyResult<i64> {
    if f.is_finite() && f.abs() < 1e15 {
        // In range, so the cast is exact after flooring.
        #[allow(clippy::cast_possible_truncation)]
        Ok(f.floor() as i64)
    } else {
        Err(Error::new_err(format!("{what} is out of range")))
    }
}

/// A request: a `str` is JSON text for the runtime's strict reader; anything else is walked as
/// a JSON value. Never an error: what cannot be read decides `deny` with `input.invalid`.
fn request_of(request: &Bound<'_, PyAny>) -> Request {
    if let Ok(s) = request.cast::<PyString>() {
        return match s.to_cow() {
            Ok(text) => Request::Text(text.into_owned()),
            Err(_) => Request::Invalid(aarm_runtime::convert::InputError {
                path: "$".into(),
                message: "the request text is not valid Unicode (it holds a lone surrogate)".into(),
            }),
        };
    }
    match request::to_json(request) {
        Ok(v) => Request::Value(v),
        Err(e) => Request::Invalid(e),
    }
}

fn to_py<'py>(py: Python<'py>, value: &impl serde::Serialize) -> PyResult<Bound<'py, PyAny>> {
    pythonize(py, value).map_err(|e| Error::new_err(format!("the answer cannot be converted to Python: {e}")))
}

/// A loaded, verified policy bundle. Immutable; share one across threads.
#[pyclass(frozen, module = "aarm")]
struct Engine {
    bundle: Bundle,
}

#[pymethods]
impl Engine {
    /// Loads a `.aarmb` bundle from a path or its bytes. Raises `aarm.BundleError` when it does
    /// not load (hash, signature, bytecode verification).
    #[staticmethod]
    #[pyo3(signature = (source, trusted_keys = None, require_signature = false))]
    fn load(
        py: Python<'_>,
        source: &Bound<'_, PyAny>,
        trusted_keys: Option<Vec<Bound<'_, PyAny>>>,
        require_signature: bool,
    ) -> PyResult<Engine> {
        let bytes = path_or_bytes(source, "bundle")?;
        let keys = trusted_keys
            .unwrap_or_default()
            .iter()
            .map(|k| path_or_bytes(k, "trusted key"))
            .collect::<PyResult<Vec<_>>>()?;
        let bundle = py.detach(|| Bundle::load(bytes, &keys, require_signature)).map_err(host_error)?;
        Ok(Engine { bundle })
    }

    /// Decides a request (`dict` or JSON `str`) at `now`; the decision as a `dict`. Invalid input
    /// is a `deny` with reason `input.invalid`, never an exception. Releases the GIL while
    /// deciding.
    #[pyo3(signature = (request, now = None))]
    fn decide<'py>(
        &self,
        py: Python<'py>,
        request: &Bound<'py, PyAny>,
        now: Option<&Bound<'py, PyAny>>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let now = now_of(now)?;
        let request = request_of(request);
        let decision = py.detach(|| self.bundle.decide(&request, now));
        to_py(py, &decision)
    }

    /// `sha256:` and the bundle's digest, as decisions and cases name it.
    #[getter]
    fn bundle_hash(&self) -> &str {
        self.bundle.bundle_hash()
    }

    /// `{"name": ..., "version": ...}` of the bundle's policy.
    #[getter]
    fn policy<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        to_py(py, &self.bundle.policy())
    }

    /// The declared tools: `[{"name", "doc", "params": [{"name", "type", "required"}]}]`.
    #[getter]
    fn tools<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        to_py(py, &self.bundle.tools())
    }

    fn __repr__(&self) -> String {
        let p = self.bundle.engine().default_policy();
        format!("<aarm.Engine {} {} {}>", p.name, p.version, self.bundle.bundle_hash())
    }
}

/// Cases on the embedded SQLite store: suspended actions, their approvals and evidence, and the
/// signed, hash-chained receipts, with no server.
#[pyclass(frozen, module = "aarm")]
struct Cases {
    cases: HostCases,
}

fn json_arg(value: &Bound<'_, PyAny>, what: &str) -> PyResult<serde_json::Value> {
    request::to_json(value).map_err(|e| Error::new_err(format!("{what}: {e}")))
}

#[pymethods]
impl Cases {
    /// Opens (or creates) the store at `store_path` for cases of `engine`'s bundle, signing the
    /// receipts with `sign_key` (a key file's path or contents) when given.
    #[new]
    #[pyo3(signature = (store_path, engine, sign_key = None))]
    fn new(
        py: Python<'_>,
        store_path: PathBuf,
        engine: &Engine,
        sign_key: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<Cases> {
        let key = sign_key.map(|k| path_or_bytes(k, "signing key")).transpose()?;
        let bundle = engine.bundle.clone();
        let cases = py.detach(|| HostCases::open(&store_path, bundle, key.as_deref())).map_err(host_error)?;
        Ok(Cases { cases })
    }

    /// Decides the request; a `step_up` or `defer` opens a case. The decision `dict`, with
    /// `case` (the case id, when one was opened) and `receipt`.
    #[pyo3(signature = (request, now = None))]
    fn open<'py>(
        &self,
        py: Python<'py>,
        request: &Bound<'py, PyAny>,
        now: Option<&Bound<'py, PyAny>>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let now = now_of(now)?;
        let request = request_of(request);
        let out = py.detach(|| self.cases.open_case(&request, now)).map_err(host_error)?;
        to_py(py, &out)
    }

    /// Approval by `by`, with the `roles` the host verified for them. The approver may bound it:
    /// `until` (a time, as `now` is read) narrows when the approval expires, and `max` caps the
    /// parameters the step-up's `limits` lists (`{"amount": 5000}`; `int`, `Decimal` or `str`
    /// values, a `float` is a `TypeError`). The case as it now stands; a refused approval raises
    /// `aarm.CaseError` with its `code` (`until_in_past`, `limit_not_allowed`,
    /// `limit_below_action`, ...).
    #[pyo3(signature = (case, by, roles = None, now = None, until = None, max = None))]
    #[allow(clippy::too_many_arguments)]
    fn approve<'py>(
        &self,
        py: Python<'py>,
        case: &str,
        by: &str,
        roles: Option<Vec<String>>,
        now: Option<&Bound<'py, PyAny>>,
        until: Option<&Bound<'py, PyAny>>,
        max: Option<&Bound<'py, PyAny>>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let now = now_of(now)?;
        let until = until.filter(|u| !u.is_none()).map(|u| time_of(u, "until")).transpose()?;
        let max = caps_of(max)?;
        let roles = roles.unwrap_or_default();
        let out = py.detach(|| self.cases.approve(case, by, roles, until, &max, now)).map_err(host_error)?;
        to_py(py, &out)
    }

    /// Denial by `by`, saying `why`.
    #[pyo3(signature = (case, by, why, roles = None, now = None))]
    fn deny<'py>(
        &self,
        py: Python<'py>,
        case: &str,
        by: &str,
        why: &str,
        roles: Option<Vec<String>>,
        now: Option<&Bound<'py, PyAny>>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let now = now_of(now)?;
        let event = aarm_host::cases::Event::Deny {
            by: by.to_string(),
            why: Some(why.to_string()),
            roles: roles.unwrap_or_default(),
        };
        let out = py.detach(|| self.cases.apply(case, &event, now)).map_err(host_error)?;
        to_py(py, &out)
    }

    /// Evidence for a deferral: `facts` maps fact names to values, each provided once.
    #[pyo3(signature = (case, facts, by = None, now = None))]
    fn provide<'py>(
        &self,
        py: Python<'py>,
        case: &str,
        facts: &Bound<'py, PyAny>,
        by: Option<&str>,
        now: Option<&Bound<'py, PyAny>>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let now = now_of(now)?;
        let facts = json_arg(facts, "facts")?;
        let out = py.detach(|| self.cases.provide(case, &facts, by, now)).map_err(host_error)?;
        to_py(py, &out)
    }

    /// Fires every timeout and escalation due at `now`; the cases that changed.
    #[pyo3(signature = (now = None))]
    fn tick<'py>(&self, py: Python<'py>, now: Option<&Bound<'py, PyAny>>) -> PyResult<Bound<'py, PyAny>> {
        let now = now_of(now)?;
        let out = py.detach(|| self.cases.tick(now)).map_err(host_error)?;
        to_py(py, &out)
    }

    /// The case as a `dict`, or `None` when there is no such case.
    fn get<'py>(&self, py: Python<'py>, case: &str) -> PyResult<Bound<'py, PyAny>> {
        let out = py.detach(|| self.cases.get(case)).map_err(host_error)?;
        to_py(py, &out)
    }

    /// The receipts of one case, or of the whole chain in order.
    #[pyo3(signature = (case = None))]
    fn receipts<'py>(&self, py: Python<'py>, case: Option<&str>) -> PyResult<Bound<'py, PyAny>> {
        let out = py.detach(|| self.cases.receipts(case)).map_err(host_error)?;
        to_py(py, &out)
    }
}

/// Compiles the policy sources at `path` (a directory or a file) into bundle bytes, signed with
/// `sign_key` when given. Raises `aarm.BuildError` (with `.diagnostics`) when they have errors.
#[pyfunction]
#[pyo3(signature = (path, sign_key = None))]
fn build<'py>(py: Python<'py>, path: PathBuf, sign_key: Option<&Bound<'py, PyAny>>) -> PyResult<Bound<'py, PyBytes>> {
    let key = sign_key.map(|k| path_or_bytes(k, "signing key")).transpose()?;
    let bytes =
        py.detach(|| aarm_host::source::build(&path, key.as_deref())).map_err(|e| errors::build_error(py, e))?;
    Ok(PyBytes::new(py, &bytes))
}

/// What `aarm check PATH --format json` reports: a list of diagnostic dicts (`code`, `severity`,
/// `message`, `file`, `line`, `column`, `end_line`, `end_column`, `help`).
#[pyfunction]
fn check<'py>(py: Python<'py>, path: PathBuf) -> PyResult<Bound<'py, PyAny>> {
    let diagnostics = py.detach(|| aarm_host::source::check(&path)).map_err(host_error)?;
    to_py(py, &diagnostics)
}

/// Whether a decision dict may still be acted on at `now` (the clock when `None`): an `allow` or
/// `modify` before its `expires_at`. Anything else, a dict that is not a decision included, is not.
#[pyfunction]
#[pyo3(signature = (decision, now = None))]
fn is_current(decision: &Bound<'_, PyAny>, now: Option<&Bound<'_, PyAny>>) -> PyResult<bool> {
    let now = now_of(now)?;
    let decision = json_arg(decision, "decision")?;
    Ok(aarm_host::engine::is_current(&decision, now))
}

#[pymodule]
#[pyo3(name = "aarm")]
fn aarm_module(m: &Bound<'_, PyModule>) -> PyResult<()> {
    let py = m.py();
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    m.add_class::<Engine>()?;
    m.add_class::<Cases>()?;
    m.add_function(wrap_pyfunction!(build, m)?)?;
    m.add_function(wrap_pyfunction!(check, m)?)?;
    m.add_function(wrap_pyfunction!(is_current, m)?)?;
    m.add("Error", py.get_type::<Error>())?;
    m.add("BundleError", py.get_type::<BundleError>())?;
    m.add("BuildError", py.get_type::<BuildError>())?;
    m.add("CaseError", py.get_type::<CaseError>())?;
    m.add("StoreError", py.get_type::<StoreError>())?;
    Ok(())
}

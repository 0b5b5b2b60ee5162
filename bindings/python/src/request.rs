//! Python objects to JSON values, refusing what the runtime's strict text reader refuses, without
//! ever going deeper than the request limits allow (a dict that contains itself, or nested a
//! million times, is an error here and never a stack overflow).
//!
//! `pythonize` is not used for this direction: it has no depth bound.

use aarm_runtime::convert::{InputError, MAX_DEPTH_CEILING};
use pyo3::prelude::*;
use pyo3::types::{PyBool, PyDict, PyFloat, PyInt, PyList, PyString, PyTuple};
use serde_json::{Map, Number, Value as Json};

/// One step of the path to a value, kept only while an error unwinds.
enum Step {
    Key(String),
    Index(usize),
}

struct Failure {
    /// Innermost first.
    steps: Vec<Step>,
    message: String,
}

impl Failure {
    fn new(message: impl Into<String>) -> Failure {
        Failure { steps: Vec::new(), message: message.into() }
    }

    fn at(mut self, step: Step) -> Failure {
        self.steps.push(step);
        self
    }

    /// The path written as the runtime writes it: `$`, `.key`, `["odd key"]`, `[i]`.
    fn into_input_error(self) -> InputError {
        let mut path = String::from("$");
        for step in self.steps.iter().rev() {
            match step {
                Step::Key(k) if is_identifier(k) => {
                    path.push('.');
                    path.push_str(k);
                }
                Step::Key(k) => {
                    path.push('[');
                    path.push_str(&serde_json::to_string(k).unwrap_or_default());
                    path.push(']');
                }
                Step::Index(i) => path.push_str(&format!("[{i}]")),
            }
        }
        InputError { path, message: self.message }
    }
}

fn is_identifier(k: &str) -> bool {
    let mut chars = k.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// The Python value as JSON. `None`, `bool`, `int` (within 64 bits), finite `float`, `str`,
/// `dict` with `str` keys, `list` and `tuple`; anything else is an [`InputError`] at its path.
pub fn to_json(value: &Bound<'_, PyAny>) -> Result<Json, InputError> {
    walk(value, 1).map_err(Failure::into_input_error)
}

fn type_name(value: &Bound<'_, PyAny>) -> String {
    value.get_type().name().map(|n| n.to_string()).unwrap_or_else(|_| "object".into())
}

fn walk(value: &Bound<'_, PyAny>, depth: usize) -> Result<Json, Failure> {
    if value.is_none() {
        return Ok(Json::Null);
    }
    // `bool` before `int`: in Python a bool is an int.
    if let Ok(b) = value.cast::<PyBool>() {
        return Ok(Json::Bool(b.is_true()));
    }
    if value.cast::<PyInt>().is_ok() {
        if let Ok(i) = value.extract::<i64>() {
            return Ok(Json::Number(i.into()));
        }
        if let Ok(u) = value.extract::<u64>() {
            return Ok(Json::Number(u.into()));
        }
        // Not printed: a huge int's digits are themselves a cost (and Python refuses to print
        // one of more than 4300 digits).
        return Err(Failure::new("integer out of range: the engine reads integers of 64 bits"));
    }
    if let Ok(f) = value.cast::<PyFloat>() {
        return Number::from_f64(f.value())
            .map(Json::Number)
            .ok_or_else(|| Failure::new("NaN and infinite numbers are not JSON"));
    }
    if let Ok(s) = value.cast::<PyString>() {
        return s
            .to_cow()
            .map(|s| Json::String(s.to_string()))
            .map_err(|_| Failure::new("the string is not valid Unicode (it holds a lone surrogate)"));
    }
    if depth > MAX_DEPTH_CEILING {
        return Err(Failure::new(format!("nested deeper than {MAX_DEPTH_CEILING} levels")));
    }
    if let Ok(dict) = value.cast::<PyDict>() {
        let mut map = Map::with_capacity(dict.len());
        for (k, v) in dict.iter() {
            let key = match k.cast::<PyString>().map(|s| s.to_cow().map(|c| c.into_owned())) {
                Ok(Ok(key)) => key,
                Ok(Err(_)) => return Err(Failure::new("a key is not valid Unicode (it holds a lone surrogate)")),
                Err(_) => return Err(Failure::new(format!("a key is a {}, not a str", type_name(&k)))),
            };
            let item = walk(&v, depth + 1).map_err(|f| f.at(Step::Key(key.clone())))?;
            map.insert(key, item);
        }
        return Ok(Json::Object(map));
    }
    if let Ok(list) = value.cast::<PyList>() {
        return sequence(list.iter(), list.len(), depth);
    }
    if let Ok(tuple) = value.cast::<PyTuple>() {
        return sequence(tuple.iter(), tuple.len(), depth);
    }
    Err(Failure::new(format!("a {} is not a JSON value", type_name(value))))
}

fn sequence<'py>(items: impl Iterator<Item = Bound<'py, PyAny>>, len: usize, depth: usize) -> Result<Json, Failure> {
    let mut out = Vec::with_capacity(len);
    for (i, item) in items.enumerate() {
        out.push(walk(&item, depth + 1).map_err(|f| f.at(Step::Index(i)))?);
    }
    Ok(Json::Array(out))
}

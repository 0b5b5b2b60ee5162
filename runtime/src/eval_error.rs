//! Why evaluating a rule failed: the one error of the evaluator's operations, the VM and the
//! reference interpreter. Its own module because the primitive operations (`ops`) and the
//! parsers of their string arguments (`parsed`) both return it.

/// Why evaluating a rule failed. A failure never becomes an allow: the rule decides `deny` with
/// reason `eval.error`.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum EvalError {
    #[error("integer overflow")]
    Overflow,
    #[error("division by zero")]
    DivisionByZero,
    #[error("evaluation ran out of fuel")]
    OutOfFuel,
    #[error("an optional value was read while absent")]
    Absent,
    /// A rewritten (`modify`) action must be definite; a value that depends on evidence not yet
    /// known cannot be released.
    #[error("a `modify` value depends on evidence that is not known yet")]
    UnknownInModify,
    /// `xs.at(i)` past either end of the list.
    #[error("index {index} is out of range for a list of {len}")]
    IndexOutOfRange { index: i64, len: u64 },
    /// A string a method parses is not what it must be (`in_cidr`, `utc_offset`, `url_host`, …:
    /// see `parsed.rs`).
    #[error("{0}")]
    Unparsable(&'static str),
    /// The bundle's code is inconsistent (a hostile or corrupt bundle that passed verification).
    #[error("malformed bundle code: {0}")]
    Malformed(&'static str),
}

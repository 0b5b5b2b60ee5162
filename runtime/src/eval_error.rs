//! Why evaluating a rule failed: the one error of the evaluator's operations, the VM and the
//! reference interpreter. Its own module because the primitive operations (`ops`) and the
//! parsers of their string arguments (`parsed`) both return it.

/// Why evaluating a rule failed. A failure never becomes an allow: the rule decides `deny` with
/// reason `eval.error`.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum EvalError {
    /// Integer, decimal, duration or time arithmetic left its range: never wrapped.
    #[error("integer overflow")]
    Overflow,
    /// A division by zero (of an `Int`, a `Decimal` or a `Duration`).
    #[error("division by zero")]
    DivisionByZero,
    /// The evaluation executed more instructions than its fuel allows (a runaway policy).
    #[error("evaluation ran out of fuel")]
    OutOfFuel,
    /// An optional parameter or field was read without an `is set` test and is absent.
    #[error("an optional value was read while absent")]
    Absent,
    /// A rewritten (`modify`) action must be definite; a value that depends on evidence not yet
    /// known cannot be released.
    #[error("a `modify` value depends on evidence that is not known yet")]
    UnknownInModify,
    /// `xs.at(i)` past either end of the list.
    #[error("index {index} is out of range for a list of {len}")]
    IndexOutOfRange {
        /// The index asked for.
        index: i64,
        /// The list's length.
        len: u64,
    },
    /// A string a method parses is not what it must be (`in_cidr`, `utc_offset`, `url_host`, …:
    /// see `parsed.rs`).
    #[error("{0}")]
    Unparsable(&'static str),
    /// The bundle's code is inconsistent (a hostile or corrupt bundle that passed verification).
    #[error("malformed bundle code: {0}")]
    Malformed(&'static str),
}

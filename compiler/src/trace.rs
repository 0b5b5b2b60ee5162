//! What one traced evaluation of a rule's conditions records: the [`Outcome`] each counted
//! condition took, walked in step with its [`Shape`]. The reference interpreter records it and
//! [`crate::coverage`] counts it; this module is what both read, so neither imports the other's
//! internals.

use serde::Serialize;

/// One outcome of a condition in the language's three-valued logic: a coverage branch is a
/// condition paired with one of these.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Outcome {
    /// The condition held.
    True,
    /// The condition did not hold.
    False,
    /// The condition depended on an evidence fact the request did not carry.
    Unknown,
}

impl Outcome {
    /// Every outcome, in the order reports list branches: `true`, `false`, `unknown`.
    pub const ALL: [Outcome; 3] = [Outcome::True, Outcome::False, Outcome::Unknown];

    /// The outcome as the language writes it (and as the JSON report serializes it).
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::True => "true",
            Outcome::False => "false",
            Outcome::Unknown => "unknown",
        }
    }

    pub(crate) fn index(self) -> usize {
        match self {
            Outcome::True => 0,
            Outcome::False => 1,
            Outcome::Unknown => 2,
        }
    }
}

/// Where one counted condition sits: its index in [`crate::coverage::Coverage`]'s conditions and the counted
/// conditions under it, in operand order. The interpreter walks a rule's `when` lines and their
/// shapes in step.
#[derive(Clone, Debug)]
pub(crate) struct Shape {
    pub(crate) id: usize,
    pub(crate) children: Vec<Shape>,
}

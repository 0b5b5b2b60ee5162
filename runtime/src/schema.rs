//! What a bundle says about its inputs: tools and their parameters, declared context fields,
//! evidence facts. Requests are validated and converted against it.

use serde::{Deserialize, Serialize};
use std::sync::Arc;

/// The type of a value as the bundle declares it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum ValueType {
    /// `Bool`.
    Bool,
    /// `Int`: a signed 64-bit integer.
    Int,
    /// `Decimal`: exact, 18 fractional digits.
    Decimal,
    /// `String`.
    String,
    /// `Duration`: whole seconds.
    Duration,
    /// `Time`: seconds since the Unix epoch, UTC.
    Time,
    /// `List<T>`: ordered, duplicates allowed.
    List(Box<ValueType>),
    /// `Set<T>`: distinct elements (a request's duplicates are dropped, the first kept).
    Set(Box<ValueType>),
    /// A record: its fields in declaration order, with their types.
    Record(Vec<(String, ValueType)>),
    /// `T?`: may be absent; reading it absent without an `is set` test is an error.
    Optional(Box<ValueType>),
}

impl std::fmt::Display for ValueType {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ValueType::Bool => TypeForm::Name("Bool"),
            ValueType::Int => TypeForm::Name("Int"),
            ValueType::Decimal => TypeForm::Name("Decimal"),
            ValueType::String => TypeForm::Name("String"),
            ValueType::Duration => TypeForm::Name("Duration"),
            ValueType::Time => TypeForm::Name("Time"),
            ValueType::List(t) => TypeForm::List(&**t),
            ValueType::Set(t) => TypeForm::Set(&**t),
            ValueType::Record(fields) => TypeForm::Record(fields),
            ValueType::Optional(t) => TypeForm::Optional(&**t),
        }
        .fmt(f)
    }
}

/// How a type is written (`List<T>`, `{ a: T, b: U }`, `T?`), in messages and in the decision
/// JSON's `need`: one notation for the bundle's [`ValueType`] and the checker's own type.
pub enum TypeForm<'a, T> {
    /// A type without parameters, by name.
    Name(&'static str),
    /// `List<T>`.
    List(&'a T),
    /// `Set<T>`.
    Set(&'a T),
    /// `{ a: T, b: U }`.
    Record(&'a [(String, T)]),
    /// `T?`.
    Optional(&'a T),
}

impl<T: std::fmt::Display> std::fmt::Display for TypeForm<'_, T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            TypeForm::Name(name) => f.write_str(name),
            TypeForm::List(t) => write!(f, "List<{t}>"),
            TypeForm::Set(t) => write!(f, "Set<{t}>"),
            TypeForm::Record(fields) => {
                write!(f, "{{ ")?;
                for (i, (n, t)) in fields.iter().enumerate() {
                    if i > 0 {
                        write!(f, ", ")?;
                    }
                    write!(f, "{n}: {t}")?;
                }
                write!(f, " }}")
            }
            TypeForm::Optional(t) => write!(f, "{t}?"),
        }
    }
}

/// A declared field: a tool parameter or a `context` field.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FieldSchema {
    /// The field's name; shared, so that a request read from text keeps its parameters' keys
    /// without a copy each (`request::Params`).
    pub name: Arc<str>,
    /// Its declared type, which a request's value must have.
    pub ty: ValueType,
}

/// A declared tool: the parameters a request for it must carry.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ToolSchema {
    /// The tool's name, as requests give it in `action.tool`.
    pub name: String,
    /// In slot order: `params.X` reads slot `position of X`.
    pub fields: Vec<FieldSchema>,
    /// Its doc comment, for `aarm inspect`, the editor and MCP.
    pub doc: Option<String>,
}

/// A declared evidence fact: a value the host may not know when it asks, and may fetch.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct EvidenceSchema {
    /// The fact's name (`evidence.NAME`).
    pub name: String,
    /// Its declared type.
    pub ty: ValueType,
    /// The host's hint of where to look the fact up.
    pub source: String,
}

/// Everything a request is validated against.
#[derive(Clone, Debug, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Schema {
    /// The declared tools, by index (a request's `tool_index`).
    pub tools: Vec<ToolSchema>,
    /// Declared context fields (beyond the built-in ones), in slot order.
    pub context: Vec<FieldSchema>,
    /// The declared evidence facts, by index (a bit of an evidence mask each).
    pub evidence: Vec<EvidenceSchema>,
}

impl Schema {
    pub(crate) fn tool_index(&self, name: &str) -> Option<usize> {
        self.tools.iter().position(|t| t.name == name)
    }
}

#[cfg(test)]
mod tests {
    use super::ValueType;

    #[test]
    fn value_types_print_as_authors_write_them() {
        let record = ValueType::Record(vec![
            ("host".into(), ValueType::String),
            ("tags".into(), ValueType::Set(Box::new(ValueType::String))),
        ]);
        let t = ValueType::Optional(Box::new(ValueType::List(Box::new(record))));
        assert_eq!(t.to_string(), "List<{ host: String, tags: Set<String> }>?");
    }
}

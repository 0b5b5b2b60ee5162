//! What a bundle says about its inputs: tools and their parameters, declared context fields,
//! evidence facts. Requests are validated and converted against it.

use serde::{Deserialize, Serialize};

/// The type of a value as the bundle declares it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum ValueType {
    Bool,
    Int,
    Decimal,
    String,
    Duration,
    Time,
    List(Box<ValueType>),
    Set(Box<ValueType>),
    Record(Vec<(String, ValueType)>),
    Optional(Box<ValueType>),
}

impl std::fmt::Display for ValueType {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ValueType::Bool => write!(f, "Bool"),
            ValueType::Int => write!(f, "Int"),
            ValueType::Decimal => write!(f, "Decimal"),
            ValueType::String => write!(f, "String"),
            ValueType::Duration => write!(f, "Duration"),
            ValueType::Time => write!(f, "Time"),
            ValueType::List(t) => write!(f, "List<{t}>"),
            ValueType::Set(t) => write!(f, "Set<{t}>"),
            ValueType::Record(fields) => {
                write!(f, "{{ ")?;
                for (i, (n, t)) in fields.iter().enumerate() {
                    if i > 0 {
                        write!(f, ", ")?;
                    }
                    write!(f, "{n}: {t}")?;
                }
                write!(f, " }}")
            }
            ValueType::Optional(t) => write!(f, "{t}?"),
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FieldSchema {
    pub name: String,
    pub ty: ValueType,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ToolSchema {
    pub name: String,
    /// In slot order: `params.X` reads slot `position of X`.
    pub fields: Vec<FieldSchema>,
    pub doc: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct EvidenceSchema {
    pub name: String,
    pub ty: ValueType,
    /// The host's hint of where to look the fact up.
    pub source: String,
}

#[derive(Clone, Debug, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Schema {
    pub tools: Vec<ToolSchema>,
    /// Declared context fields (beyond the built-in ones), in slot order.
    pub context: Vec<FieldSchema>,
    pub evidence: Vec<EvidenceSchema>,
}

impl Schema {
    pub fn tool_index(&self, name: &str) -> Option<usize> {
        self.tools.iter().position(|t| t.name == name)
    }
}

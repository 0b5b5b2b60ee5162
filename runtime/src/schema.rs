//! What a bundle says about its inputs: tools and their parameters, declared context fields,
//! evidence facts. Requests are validated and converted against it.

use serde::{Deserialize, Serialize};
use std::fmt;
use std::sync::{Arc, OnceLock};

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
    /// The tools in the order of their names, to find a request's tool by binary search; built
    /// from `tools` when first needed, never part of a bundle, and not copied by `clone` (a
    /// clone builds its own). Whoever changes `tools` in place after a request was read against
    /// this schema resets it (`by_name = Default::default()`); a change in the number of tools
    /// is caught, and the scan used instead.
    #[serde(skip)]
    pub by_name: ToolsByName,
}

/// The indexes of a schema's tools sorted by name (equal names in index order), built once.
/// Derived from the tools, so two of them always compare equal, and a clone starts empty.
#[derive(Default)]
pub struct ToolsByName(OnceLock<Vec<usize>>);

impl Clone for ToolsByName {
    fn clone(&self) -> ToolsByName {
        ToolsByName::default()
    }
}

impl PartialEq for ToolsByName {
    fn eq(&self, _: &ToolsByName) -> bool {
        true
    }
}

impl Eq for ToolsByName {}

impl fmt::Debug for ToolsByName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ToolsByName")
    }
}

/// Up to this many tools a request's tool is found by comparing names in order, which costs
/// less than the binary search's indirection.
const SCANNED_TOOLS: usize = 16;

impl Schema {
    /// The index of the tool named `name`: the first one of that name, as a scan in order would
    /// find it, by binary search in a schema of many tools (a request names one of hundreds of
    /// tools in a large gateway; a scan of 500 names was 2.5 µs of reading the request).
    pub(crate) fn tool_index(&self, name: &str) -> Option<usize> {
        let scan = || self.tools.iter().position(|t| t.name == name);
        if self.tools.len() <= SCANNED_TOOLS {
            return scan();
        }
        let name_of = |i: &usize| self.tools.get(*i).map(|t| t.name.as_str());
        let sorted = self.by_name.0.get_or_init(|| {
            let mut order: Vec<usize> = (0..self.tools.len()).collect();
            // Stable: equal names stay in index order, so the first of them is found.
            order.sort_by(|a, b| name_of(a).cmp(&name_of(b)));
            order
        });
        if sorted.len() != self.tools.len() {
            // Built before tools were added or removed: not this schema's any more.
            return scan();
        }
        let first = sorted.partition_point(|i| name_of(i) < Some(name));
        sorted.get(first).copied().filter(|i| name_of(i) == Some(name))
    }
}

#[cfg(test)]
mod tests {
    use super::{Schema, ToolSchema, ValueType, SCANNED_TOOLS};

    /// With few tools or many, names in any order, repeated or not: the index a scan in order
    /// finds, and `None` for a name no tool has.
    #[test]
    fn a_tool_is_found_as_a_scan_finds_it() {
        for n in [0, 1, 2, SCANNED_TOOLS, SCANNED_TOOLS + 1, 40, 500] {
            // Names out of order, every seventh one a repeat of an earlier name.
            let names: Vec<String> = (0..n)
                .map(|i| {
                    if i % 7 == 6 {
                        format!("tool_{}", (i * 31) % (i + 1))
                    } else {
                        format!("tool_{}", (i * 37) % 1009)
                    }
                })
                .collect();
            let schema = Schema {
                tools: names
                    .iter()
                    .map(|name| ToolSchema { name: name.clone(), fields: Vec::new(), doc: None })
                    .collect(),
                ..Schema::default()
            };
            for probe in names.iter().map(String::as_str).chain(["", "tool_", "tool_99999", "zzz", "Tool_1"]) {
                assert_eq!(schema.tool_index(probe), names.iter().position(|t| t == probe), "{n} tools, {probe}");
            }
        }
    }

    /// The index is derived from the tools it was built on: a clone builds its own, and a tool
    /// added after the index was built is found (the index no longer matches, so the scan runs),
    /// never mistaken for an undeclared one, nor another tool found in its place.
    #[test]
    fn an_index_built_before_the_tools_changed_is_not_trusted() {
        let tool = |name: String| ToolSchema { name, fields: Vec::new(), doc: None };
        let mut schema = Schema { tools: (0..40).map(|i| tool(format!("t{i}"))).collect(), ..Schema::default() };
        assert_eq!(schema.tool_index("t39"), Some(39), "builds the index");
        let mut clone = schema.clone();
        clone.tools.reverse();
        assert_eq!(clone.tool_index("t39"), Some(0), "the clone's own order");
        assert_eq!(schema.tool_index("t39"), Some(39));
        schema.tools.push(tool("added".into()));
        schema.tools.swap(0, 40);
        assert_eq!(schema.tool_index("added"), Some(0));
        assert_eq!(schema.tool_index("t0"), Some(40));
    }

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

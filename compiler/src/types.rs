//! The types of the language (docs/language.md, "Types") and the rules that relate them: widening of `Int`
//! to `Decimal`, and how types are named in messages.

use aarm_runtime::schema::TypeForm;
use std::fmt;

/// The type of a value as the checker knows it: every IR expression carries one, and the editor
/// support shows it on hover. `Display` prints it as an author writes it (`List<String>?`).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Type {
    /// `true` or `false`.
    Bool,
    /// A 64-bit signed integer.
    Int,
    /// Exact fixed point with 18 fractional digits (`aarm_runtime::decimal`).
    Decimal,
    /// UTF-8 text.
    String,
    /// A span of time (`5m`, `2h`), in seconds.
    Duration,
    /// A UTC instant.
    Time,
    /// An ordered list of values of one type.
    List(Box<Type>),
    /// A set of values of one type; `in` and the set methods read it.
    Set(Box<Type>),
    /// A record: named fields in declaration order (the IR reads a field by its position).
    Record(Vec<(String, Type)>),
    /// `T?`: may be absent; read only behind an `is set` guard.
    Optional(Box<Type>),
    /// The element type of an empty list literal: fits any element type.
    Never,
    /// A type that could not be determined because of an earlier error. It is compatible with
    /// everything, so that one mistake is reported once.
    Error,
}

impl Type {
    pub(crate) fn list(t: Type) -> Type {
        Type::List(Box::new(t))
    }

    pub(crate) fn set(t: Type) -> Type {
        Type::Set(Box::new(t))
    }

    pub(crate) fn optional(t: Type) -> Type {
        Type::Optional(Box::new(t))
    }

    pub(crate) fn is_error(&self) -> bool {
        matches!(self, Type::Error)
    }

    pub(crate) fn is_numeric(&self) -> bool {
        matches!(self, Type::Int | Type::Decimal)
    }

    /// The element type of a list or set.
    pub(crate) fn element(&self) -> Option<&Type> {
        match self {
            Type::List(t) | Type::Set(t) => Some(t),
            _ => None,
        }
    }

    pub(crate) fn contains_error(&self) -> bool {
        match self {
            Type::Error => true,
            Type::List(t) | Type::Set(t) | Type::Optional(t) => t.contains_error(),
            Type::Record(fs) => fs.iter().any(|(_, t)| t.contains_error()),
            _ => false,
        }
    }

    /// Whether `<`, `<=`, `>`, `>=` apply.
    pub(crate) fn is_ordered(&self) -> bool {
        matches!(self, Type::Int | Type::Decimal | Type::String | Type::Duration | Type::Time | Type::Error)
    }

    /// How a value of type `from` may be used where `self` is expected: exactly, by widening
    /// `Int` to `Decimal` (also inside lists and sets), or not at all.
    pub(crate) fn accepts(&self, from: &Type) -> Fit {
        if self == from || self.is_error() || from.is_error() {
            return Fit::Exact;
        }
        match (self, from) {
            (Type::Decimal, Type::Int) => Fit::Widen,
            (_, Type::Never) => Fit::Exact,
            (Type::List(a), Type::List(b)) | (Type::Set(a), Type::Set(b)) => a.accepts(b),
            (Type::Optional(a), b) => match a.accepts(b) {
                Fit::No => Fit::No,
                _ => Fit::Exact,
            },
            (Type::Record(want), Type::Record(have)) => {
                if want.len() != have.len() {
                    return Fit::No;
                }
                let mut fit = Fit::Exact;
                for ((wn, wt), (hn, ht)) in want.iter().zip(have) {
                    if wn != hn {
                        return Fit::No;
                    }
                    match wt.accepts(ht) {
                        Fit::No => return Fit::No,
                        Fit::Widen => fit = Fit::Widen,
                        Fit::Exact => {}
                    }
                }
                fit
            }
            _ => Fit::No,
        }
    }

    /// The common type of two operands or list elements (`Int` and `Decimal` meet at `Decimal`).
    pub(crate) fn join(&self, other: &Type) -> Option<Type> {
        if self == other {
            return Some(self.clone());
        }
        match (self, other) {
            (Type::Error, _) | (_, Type::Error) => Some(Type::Error),
            (Type::Never, t) | (t, Type::Never) => Some(t.clone()),
            (Type::Int, Type::Decimal) | (Type::Decimal, Type::Int) => Some(Type::Decimal),
            (Type::List(a), Type::List(b)) => a.join(b).map(Type::list),
            (Type::Set(a), Type::Set(b)) => a.join(b).map(Type::set),
            _ => None,
        }
    }
}

/// The answer of [`Type::accepts`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Fit {
    /// Usable as it is.
    Exact,
    /// Usable once `Int` is widened to `Decimal` (the checker inserts an explicit widening).
    Widen,
    /// Not usable there: a type error.
    No,
}

impl Type {
    /// Appends the type as [`fmt::Display`] writes it, without the formatting machinery (the
    /// editor index writes a signature for every declaration of every check).
    pub(crate) fn write_to(&self, out: &mut String) {
        match self {
            Type::Bool => out.push_str("Bool"),
            Type::Int => out.push_str("Int"),
            Type::Decimal => out.push_str("Decimal"),
            Type::String => out.push_str("String"),
            Type::Duration => out.push_str("Duration"),
            Type::Time => out.push_str("Time"),
            Type::List(t) => {
                out.push_str("List<");
                t.write_to(out);
                out.push('>');
            }
            Type::Set(t) => {
                out.push_str("Set<");
                t.write_to(out);
                out.push('>');
            }
            Type::Record(fields) => {
                out.push_str("{ ");
                for (i, (n, t)) in fields.iter().enumerate() {
                    if i > 0 {
                        out.push_str(", ");
                    }
                    out.push_str(n);
                    out.push_str(": ");
                    t.write_to(out);
                }
                out.push_str(" }");
            }
            Type::Optional(t) => {
                t.write_to(out);
                out.push('?');
            }
            Type::Never | Type::Error => out.push('?'),
        }
    }
}

impl fmt::Display for Type {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Type::Bool => TypeForm::Name("Bool"),
            Type::Int => TypeForm::Name("Int"),
            Type::Decimal => TypeForm::Name("Decimal"),
            Type::String => TypeForm::Name("String"),
            Type::Duration => TypeForm::Name("Duration"),
            Type::Time => TypeForm::Name("Time"),
            Type::List(t) => TypeForm::List(&**t),
            Type::Set(t) => TypeForm::Set(&**t),
            Type::Record(fields) => TypeForm::Record(fields),
            Type::Optional(t) => TypeForm::Optional(&**t),
            // The element type of `[]` (shown as `List<?>`), and a type an earlier error hid.
            Type::Never | Type::Error => TypeForm::Name("?"),
        }
        .fmt(f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn any_type() -> impl proptest::strategy::Strategy<Value = Type> {
        use proptest::prelude::*;
        let leaf = prop_oneof![
            Just(Type::Bool),
            Just(Type::Int),
            Just(Type::Decimal),
            Just(Type::String),
            Just(Type::Duration),
            Just(Type::Time),
            Just(Type::Never),
            Just(Type::Error),
        ];
        leaf.prop_recursive(4, 24, 4, |inner| {
            prop_oneof![
                inner.clone().prop_map(Type::list),
                inner.clone().prop_map(Type::set),
                inner.clone().prop_map(Type::optional),
                proptest::collection::vec(("[a-z_é]{0,4}", inner), 0..4).prop_map(Type::Record),
            ]
        })
    }

    proptest::proptest! {
        /// `write_to` writes what `Display` does.
        #[test]
        fn write_to_is_display(t in any_type()) {
            let mut out = String::from("x");
            t.write_to(&mut out);
            proptest::prop_assert_eq!(out, format!("x{t}"));
        }
    }

    #[test]
    fn int_widens_to_decimal_never_the_reverse() {
        assert_eq!(Type::Decimal.accepts(&Type::Int), Fit::Widen);
        assert_eq!(Type::Int.accepts(&Type::Decimal), Fit::No);
        assert_eq!(Type::list(Type::Decimal).accepts(&Type::list(Type::Int)), Fit::Widen);
        assert_eq!(Type::list(Type::String).accepts(&Type::list(Type::Never)), Fit::Exact);
        assert_eq!(Type::Int.join(&Type::Decimal), Some(Type::Decimal));
        assert_eq!(Type::String.join(&Type::Int), None);
    }

    #[test]
    fn types_print_as_authors_write_them() {
        assert_eq!(Type::optional(Type::list(Type::String)).to_string(), "List<String>?");
        let r = Type::Record(vec![("tool".into(), Type::String), ("n".into(), Type::Int)]);
        assert_eq!(r.to_string(), "{ tool: String, n: Int }");
    }
}

//! What the checker learned about names and types, kept for editors (`aarm lsp`): every place a
//! declaration is named, and the type of every expression it checked.
//!
//! The checker records as it resolves, so an editor asks "what is at this offset" instead of
//! resolving names a second time with rules of its own. Declarations come from the checker's
//! tables when checking ends; they are there even when the bundle has errors.

use crate::ir::{self, Loc};
use crate::types::Type;
use aarm_lang::FileId;
use std::fmt::Write;

/// A declaration a name can refer to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
///
/// Identified by the IR's ids rather than by name, so two declarations that share a name (a
/// field of two tools) stay apart and a target compares cheaply.
pub enum Target {
    /// A `tool` declaration.
    Tool(ir::ToolId),
    /// A tool's field, by its position in the tool's fields.
    Field(ir::ToolId, u32),
    /// An `evidence` declaration.
    Evidence(ir::EvidenceId),
    /// A `group` declaration.
    Group(ir::GroupId),
    /// A `fn` declaration.
    Fn(ir::FnId),
    /// A `rule` declaration.
    Rule(ir::RuleId),
    /// A field the bundle declares on `context`.
    Context(ir::ContextFieldId),
}

/// What kind of declaration a [`Symbol`] is, in the author's words.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SymbolKind {
    /// A `tool`.
    Tool,
    /// A field of a tool's `params`.
    Field,
    /// An `evidence` fact.
    Evidence,
    /// A `group` of identities.
    Group,
    /// A `fn`.
    Fn,
    /// A `rule`.
    Rule,
    /// A declared `context` field.
    Context,
}

impl SymbolKind {
    /// The kind as an author would name it in a sentence (`context field`, `fn`), for messages
    /// such as an editor's refusal to rename.
    pub fn as_str(self) -> &'static str {
        match self {
            SymbolKind::Tool => "tool",
            SymbolKind::Field => "field",
            SymbolKind::Evidence => "evidence",
            SymbolKind::Group => "group",
            SymbolKind::Fn => "fn",
            SymbolKind::Rule => "rule",
            SymbolKind::Context => "context field",
        }
    }
}

/// One declaration: where its name is written, a one-line signature, and its `///` docs.
#[derive(Clone, Debug)]
pub struct Symbol {
    /// The declaration, as names that refer to it record it.
    pub target: Target,
    /// What kind of declaration it is.
    pub kind: SymbolKind,
    /// The declared name, unqualified.
    pub name: String,
    /// The name's span in its declaration.
    pub loc: Loc,
    /// The declaration as an author would write it: `evidence x: Bool from "src"`, `fn f(a: Int) -> Bool`.
    pub signature: String,
    /// The declaration's `///` comment, if it has one.
    pub doc: Option<String>,
}

/// A name written in the source that refers to a declaration (the declaration's own name included).
#[derive(Clone, Copy, Debug)]
pub struct Occurrence {
    /// Where the name is written.
    pub loc: Loc,
    /// The declaration it names.
    pub target: Target,
}

/// The side table: declarations, the places that name them, and the types of expressions.
#[derive(Clone, Debug, Default)]
pub struct Index {
    /// Every declaration of the bundle, once each, in the checker's table order.
    pub symbols: Vec<Symbol>,
    pub(crate) occurrences: Vec<Occurrence>,
    /// The type of each checked expression, by its span (nested expressions each have their own).
    pub(crate) types: Vec<(Loc, Type)>,
    /// `///` docs of declarations whose IR keeps none (groups).
    docs: Vec<(Target, String)>,
    /// Set when nobody will read the index ([`crate::compile`]): nothing is recorded, and it
    /// stays empty.
    pub(crate) off: bool,
}

impl Index {
    pub(crate) fn refer(&mut self, file: FileId, span: aarm_lang::Span, target: Target) {
        if !self.off {
            self.occurrences.push(Occurrence { loc: Loc { file, span }, target });
        }
    }

    /// Keeps the `///` doc of a declaration whose IR has no place for it.
    pub(crate) fn document(&mut self, target: Target, doc: Option<String>) {
        if let (false, Some(doc)) = (self.off, doc) {
            self.docs.push((target, doc));
        }
    }

    pub(crate) fn typed(&mut self, file: FileId, span: aarm_lang::Span, ty: &Type) {
        if !self.off {
            self.types.push((Loc { file, span }, ty.clone()));
        }
    }

    /// Adds the declarations of `bundle` (the checker's tables, complete even with errors), each
    /// also an occurrence of itself so that references and renames include it.
    pub(crate) fn finish(&mut self, bundle: &ir::Bundle) {
        if self.off {
            return;
        }
        let mut symbols = Vec::new();
        for (i, t) in bundle.tools.iter().enumerate() {
            let tool = ir::ToolId(to_u32(i));
            // Room for a short declaration at once, rather than growing from a few bytes.
            let mut signature = String::with_capacity(64);
            signature.push_str("tool ");
            signature.push_str(&t.name);
            signature.push_str(" { ");
            separated(&mut signature, &t.fields, |out, f| {
                out.push_str(&f.name);
                out.push_str(": ");
                f.ty.write_to(out);
                Ok(())
            });
            signature.push_str(" }");
            symbols.push(symbol(Target::Tool(tool), SymbolKind::Tool, &t.name, t.loc, signature, &t.doc));
            for (j, f) in t.fields.iter().enumerate() {
                let mut signature = String::with_capacity(t.name.len() + f.name.len() + 24);
                signature.push_str(&t.name);
                signature.push('.');
                signature.push_str(&f.name);
                signature.push_str(": ");
                f.ty.write_to(&mut signature);
                symbols.push(symbol(
                    Target::Field(tool, to_u32(j)),
                    SymbolKind::Field,
                    &f.name,
                    f.loc,
                    signature,
                    &f.doc,
                ));
            }
        }
        for (i, e) in bundle.evidence.iter().enumerate() {
            let signature = format!("evidence {}: {} from {:?}", e.name, e.ty, e.source);
            symbols.push(symbol(
                Target::Evidence(ir::EvidenceId(to_u32(i))),
                SymbolKind::Evidence,
                &e.name,
                e.loc,
                signature,
                &e.doc,
            ));
        }
        for (i, g) in bundle.groups.iter().enumerate() {
            let mut signature = format!("group {} = [", g.name);
            separated(&mut signature, &g.members, |out, m| write!(out, "{m:?}"));
            signature.push(']');
            symbols.push(symbol(
                Target::Group(ir::GroupId(to_u32(i))),
                SymbolKind::Group,
                &g.name,
                g.loc,
                signature,
                &None,
            ));
        }
        for (i, f) in bundle.fns.iter().enumerate() {
            let mut signature = String::with_capacity(64);
            signature.push_str("fn ");
            signature.push_str(&f.name);
            signature.push('(');
            separated(&mut signature, &f.params, |out, (n, t)| {
                out.push_str(n);
                out.push_str(": ");
                t.write_to(out);
                Ok(())
            });
            signature.push_str(") -> ");
            f.ret.write_to(&mut signature);
            symbols.push(symbol(Target::Fn(ir::FnId(to_u32(i))), SymbolKind::Fn, &f.name, f.loc, signature, &f.doc));
        }
        for (i, r) in bundle.rules.iter().enumerate() {
            let signature = ["rule ", r.qualified_name.as_str()].concat();
            symbols.push(symbol(
                Target::Rule(ir::RuleId(to_u32(i))),
                SymbolKind::Rule,
                &r.name,
                r.loc,
                signature,
                &r.doc,
            ));
        }
        for (i, c) in bundle.context_fields.iter().enumerate() {
            let mut signature = String::with_capacity(32);
            signature.push_str("context.");
            signature.push_str(&c.name);
            signature.push_str(": ");
            c.ty.write_to(&mut signature);
            symbols.push(symbol(
                Target::Context(ir::ContextFieldId(to_u32(i))),
                SymbolKind::Context,
                &c.name,
                c.loc,
                signature,
                &c.doc,
            ));
        }
        for s in &mut symbols {
            if s.doc.is_none() {
                s.doc = self.docs.iter().find(|(t, _)| *t == s.target).map(|(_, d)| d.clone());
            }
        }
        for s in &symbols {
            self.occurrences.push(Occurrence { loc: s.loc, target: s.target });
        }
        self.symbols = symbols;
    }

    /// The name at `offset` of `file` (a cursor just after it counts) that refers to a
    /// declaration, if there is one.
    pub fn occurrence_at(&self, file: FileId, offset: u32) -> Option<Occurrence> {
        self.occurrences
            .iter()
            .filter(|o| o.loc.file == file && o.loc.span.start <= offset && offset <= o.loc.span.end)
            .min_by_key(|o| o.loc.span.len())
            .copied()
    }

    /// The declaration named at `offset` of `file`.
    pub fn target_at(&self, file: FileId, offset: u32) -> Option<Target> {
        self.occurrence_at(file, offset).map(|o| o.target)
    }

    /// The declaration `target` refers to; `None` only for a target from another index.
    pub fn symbol(&self, target: Target) -> Option<&Symbol> {
        self.symbols.iter().find(|s| s.target == target)
    }

    /// Every place `target` is named, its declaration included, in source order and once each.
    pub fn references(&self, target: Target) -> Vec<Loc> {
        let mut locs: Vec<Loc> = self.occurrences.iter().filter(|o| o.target == target).map(|o| o.loc).collect();
        locs.sort_by_key(|l| (l.file, l.span.start, l.span.end));
        locs.dedup();
        locs
    }

    /// The innermost checked expression around `offset` of `file`, and its type.
    pub fn type_at(&self, file: FileId, offset: u32) -> Option<(Loc, &Type)> {
        self.types
            .iter()
            .filter(|(l, _)| l.file == file && l.span.start <= offset && offset < l.span.end)
            .min_by_key(|(l, _)| l.span.len())
            .map(|(l, t)| (*l, t))
    }
}

/// Writes `items` into `out` with `write`, separated by `, ` (what joining their formatted texts
/// gave, without a string per item: the index formats every declaration of every check).
fn separated<T>(out: &mut String, items: &[T], mut write: impl FnMut(&mut String, &T) -> std::fmt::Result) {
    for (i, item) in items.iter().enumerate() {
        if i > 0 {
            out.push_str(", ");
        }
        // Writing to a `String` does not fail.
        let _ = write(out, item);
    }
}

fn symbol(target: Target, kind: SymbolKind, name: &str, loc: Loc, signature: String, doc: &Option<String>) -> Symbol {
    Symbol { target, kind, name: name.to_string(), loc, signature, doc: doc.clone() }
}

fn to_u32(n: usize) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The signatures written piece by piece are the ones formatting each item and joining gave.
    #[test]
    fn signatures_are_the_joined_ones() {
        let src = "policy p version \"1\"\ntool none { }\ntool two { x: Int, y: List<String>? }\n\
                   group empty = []\ngroup some = [\"a\", \"b\\\"c\"]\n\
                   fn f() -> Bool = true\nfn k(x: Int, y: { a: String }) -> Int = x\n\
                   context { c: { a: List<Int>, b: Set<String>? } }\n\
                   rule r on two { when f() deny }\n";
        let loaded = crate::load_sources(vec![("a.aarm".into(), src.into())]);
        let checked = crate::check(&loaded);
        let bundle = checked.bundle.as_ref().expect("no error");
        let signature = |kind: SymbolKind, name: &str| {
            checked.index.symbols.iter().find(|s| s.kind == kind && s.name == name).map(|s| s.signature.clone())
        };
        for t in &bundle.tools {
            let fields = t.fields.iter().map(|f| format!("{}: {}", f.name, f.ty)).collect::<Vec<_>>().join(", ");
            assert_eq!(signature(SymbolKind::Tool, &t.name), Some(format!("tool {} {{ {fields} }}", t.name)));
        }
        for g in &bundle.groups {
            let members = g.members.iter().map(|m| format!("{m:?}")).collect::<Vec<_>>().join(", ");
            assert_eq!(signature(SymbolKind::Group, &g.name), Some(format!("group {} = [{members}]", g.name)));
        }
        for f in &bundle.fns {
            let params = f.params.iter().map(|(n, t)| format!("{n}: {t}")).collect::<Vec<_>>().join(", ");
            assert_eq!(signature(SymbolKind::Fn, &f.name), Some(format!("fn {}({params}) -> {}", f.name, f.ret)));
        }
        for t in &bundle.tools {
            for f in &t.fields {
                let field = checked
                    .index
                    .symbols
                    .iter()
                    .find(|s| s.kind == SymbolKind::Field && s.name == f.name && s.signature.starts_with(&t.name))
                    .map(|s| s.signature.clone());
                assert_eq!(field, Some(format!("{}.{}: {}", t.name, f.name, f.ty)));
            }
        }
        for r in &bundle.rules {
            assert_eq!(signature(SymbolKind::Rule, &r.name), Some(format!("rule {}", r.qualified_name)));
        }
        for c in &bundle.context_fields {
            assert_eq!(signature(SymbolKind::Context, &c.name), Some(format!("context.{}: {}", c.name, c.ty)));
        }
        assert_eq!((bundle.tools.len(), bundle.groups.len(), bundle.fns.len()), (2, 2, 2));
        assert_eq!((bundle.rules.len(), bundle.context_fields.len()), (1, 1));
        assert_eq!(signature(SymbolKind::Tool, "none").as_deref(), Some("tool none {  }"));
    }
}

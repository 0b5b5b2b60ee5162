//! Name resolution and type checking: the modules of a bundle → the typed IR ([`crate::ir`]).
//!
//! The work is split by what is being checked:
//! - `mod.rs` (here): the bundle-wide tables (tools, context, evidence, groups, fns, policies,
//!   settings), duplicate declarations, type expressions, and the order of the passes
//! - `expr.rs`: expressions — name lookup, typing, `is set` narrowing, methods, quantifiers
//! - `fns.rs`: `fn` bodies and the call-cycle check
//! - `rule.rs`: rules, their decisions and clauses, and `settings` limits
//! - `test_block.rs`: `test` blocks, checked against the declarations they exercise
//!
//! Every pass reports every problem it finds and carries on with [`Type::Error`] where a type
//! is unknown, so that one run shows all independent mistakes and no mistake twice.

mod expr;
pub use expr::method_signatures;
mod fns;
mod limits;
mod literals;
mod overrides;
mod redact;
pub(crate) use fns::visit;
mod rule;
mod std_bodies;
mod test_block;

use crate::index::Index;
use crate::ir::{self, Loc};
use crate::modules::{Loaded, Module};
use crate::types::Type;
use aarm_lang::ast::{self, ItemKind, TypeExprKind};
use aarm_lang::diagnostic::{did_you_mean, Candidates};
use aarm_lang::{Code, Diagnostic, FileId, SourceMap};
use std::collections::HashMap;

/// The checker's tables by name: foldhash (seeded per process, so no input can choose its
/// collisions) rather than SipHash, which cost a few percent of checking. Nothing depends on
/// their iteration order: "did you mean" sorts the names it offers.
pub(crate) type Map<K, V> = HashMap<K, V, foldhash::fast::RandomState>;

/// The result of checking a bundle.
#[derive(Debug)]
pub struct Checked {
    /// The IR, present only when there is no error (warnings allowed).
    pub bundle: Option<ir::Bundle>,
    /// The loader's diagnostics and the checker's, sorted by file and position, without
    /// duplicates.
    pub diagnostics: Vec<Diagnostic>,
    /// Declarations, the names that refer to them and the types of expressions, for editors;
    /// filled in by [`check`] whether or not there are errors ([`crate::compile`], which builds
    /// bundles, leaves it empty).
    pub index: Index,
}

/// Checks loaded modules. Module diagnostics (parse errors, missing files) are included.
pub fn check(loaded: &Loaded) -> Checked {
    check_with(loaded, true, true)
}

/// [`check`] without the editor index (left empty): what building a bundle needs
/// ([`crate::compile`]). The diagnostics and the bundle are [`check`]'s.
pub(crate) fn check_for_build(loaded: &Loaded) -> Checked {
    check_with(loaded, true, false)
}

/// [`check`] without the std modules' bodies checked once per process: every body checked in
/// place, as before that cache. The reference the tests hold [`check`] to.
#[doc(hidden)]
pub fn check_from_scratch(loaded: &Loaded) -> Checked {
    check_with(loaded, false, true)
}

fn check_with(loaded: &Loaded, std_cache: bool, index: bool) -> Checked {
    let mut c = Checker::new(&loaded.sources);
    c.std_cache = std_cache;
    c.index.off = !index;
    c.diags.extend(loaded.diagnostics.iter().cloned());
    c.run(&loaded.modules);
    let has_errors = c.diags.iter().any(Diagnostic::is_error);
    let mut diagnostics = c.diags;
    diagnostics.sort_by(|a, b| {
        (a.file, a.span.start, a.span.end, a.code.as_str()).cmp(&(b.file, b.span.start, b.span.end, b.code.as_str()))
    });
    diagnostics.dedup();
    let mut index = std::mem::take(&mut c.index);
    index.finish(&c.bundle);
    Checked { bundle: if has_errors { None } else { Some(c.bundle) }, diagnostics, index }
}

/// A table of names that "did you mean" draws from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(crate) enum Table {
    Tools,
    Evidence,
    Groups,
    Fns,
    /// The rules' bare and qualified names, for tests' `rule NAME`.
    Rules,
}

/// Where a name was declared, for "first declared here" labels.
#[derive(Clone, Copy, Debug)]
struct Decl<I> {
    id: I,
    loc: Loc,
}

pub(crate) struct Checker<'a> {
    sources: &'a SourceMap,
    pub(crate) diags: Vec<Diagnostic>,
    bundle: ir::Bundle,
    tools: Map<String, Decl<ir::ToolId>>,
    evidence: Map<String, Decl<ir::EvidenceId>>,
    groups: Map<String, Decl<ir::GroupId>>,
    fns: Map<String, Decl<ir::FnId>>,
    context: Map<String, Decl<ir::ContextFieldId>>,
    policies: Map<String, ir::PolicyId>,
    /// Rules by bare name, for tests (`expect ... rule NAME`).
    rule_names: Map<String, Vec<ir::RuleId>>,
    /// Rules by qualified name, for duplicate detection in constant time.
    rule_qualified: Map<String, ir::RuleId>,
    /// E0026 is reported once per bundle.
    rule_limit_reported: bool,
    /// "Did you mean" answers already computed over a table of names, by table and its size
    /// then by the misspelt name (see [`Checker::suggest_declared`]).
    suggestions: Map<(Table, usize), Map<String, Option<String>>>,
    /// Each hash-map table's names, sorted and lowercased for "did you mean", as of the table's
    /// size then (see [`Checker::suggest_table`]): misspelt names are looked up many times
    /// between two declarations.
    sorted_names: Map<Table, (usize, Candidates)>,
    pub(crate) index: Index,
    /// Whether std modules' function bodies come from the per-process cache (`std_bodies`).
    std_cache: bool,
    /// The functions whose bodies were spliced from that cache, by ranges of ids.
    spliced: Vec<std::ops::Range<usize>>,
}

/// The names of the built-in context fields (docs/language.md, "What a rule can read"), in the
/// order they are listed.
pub(crate) const BUILTIN_CONTEXT_NAMES: [&str; 5] =
    ["original_request", "prior_actions", "data_classes", "semantic_distance", "now"];

/// Built-in context fields and their types, in [`BUILTIN_CONTEXT_NAMES`]'s order.
pub(crate) fn builtin_context() -> impl Iterator<Item = (&'static str, ir::ContextField, Type)> {
    BUILTIN_CONTEXT_NAMES.into_iter().filter_map(|name| builtin_context_field(name).map(|(f, ty)| (name, f, ty)))
}

/// The built-in context field named `name` and its type: the one place their types are written.
/// Built one at a time (every `context.FIELD` the checker reads looks one up).
pub(crate) fn builtin_context_field(name: &str) -> Option<(ir::ContextField, Type)> {
    Some(match name {
        "original_request" => (ir::ContextField::OriginalRequest, Type::String),
        "prior_actions" => (
            ir::ContextField::PriorActions,
            Type::list(Type::Record(vec![("tool".into(), Type::String), ("decision".into(), Type::String)])),
        ),
        "data_classes" => (ir::ContextField::DataClasses, Type::set(Type::String)),
        "semantic_distance" => (ir::ContextField::SemanticDistance, Type::optional(Type::Decimal)),
        "now" => (ir::ContextField::Now, Type::Time),
        _ => return None,
    })
}

/// Identity fields and their types.
pub(crate) fn identity_fields() -> [(&'static str, ir::IdentityField, Type); 5] {
    [
        ("human", ir::IdentityField::Human, Type::String),
        ("service", ir::IdentityField::Service, Type::String),
        ("agent", ir::IdentityField::Agent, Type::String),
        ("session", ir::IdentityField::Session, Type::String),
        ("roles", ir::IdentityField::Roles, Type::set(Type::String)),
    ]
}

/// Field names and their types.
pub type FieldTypes = Vec<(&'static str, Type)>;

/// The fields of `identity` and the built-in fields of `context`, with their types (for an
/// editor's completion).
pub fn root_fields() -> (FieldTypes, FieldTypes) {
    (
        identity_fields().into_iter().map(|(n, _, t)| (n, t)).collect(),
        builtin_context().map(|(n, _, t)| (n, t)).collect(),
    )
}

fn to_u32(n: usize) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}

impl<'a> Checker<'a> {
    fn new(sources: &'a SourceMap) -> Self {
        Checker {
            sources,
            diags: Vec::new(),
            bundle: ir::Bundle::default(),
            tools: Map::default(),
            evidence: Map::default(),
            groups: Map::default(),
            fns: Map::default(),
            context: Map::default(),
            policies: Map::default(),
            rule_names: Map::default(),
            rule_qualified: Map::default(),
            rule_limit_reported: false,
            suggestions: Map::default(),
            sorted_names: Map::default(),
            index: Index::default(),
            std_cache: true,
            spliced: Vec::new(),
        }
    }

    pub(crate) fn report(&mut self, d: Diagnostic) {
        self.diags.push(d);
    }

    pub(crate) fn text(&self, loc: Loc) -> &str {
        self.sources.get(loc.file).map(|f| f.slice(loc.span)).unwrap_or("")
    }

    fn run(&mut self, modules: &[Module]) {
        self.bundle.std_files = modules.iter().filter(|m| m.source.is_std()).map(|m| m.file).collect();
        // Pass 1: declarations, bundle-wide, so that use before declaration works.
        for m in modules {
            self.declare_policy(m);
        }
        for m in modules {
            for item in &m.ast.items {
                self.declare_item(m.file, item);
            }
        }
        let settings: Vec<(FileId, &ast::Item)> = modules
            .iter()
            .flat_map(|m| {
                m.ast.items.iter().filter(|i| matches!(i.kind, ItemKind::Settings(_))).map(move |i| (m.file, i))
            })
            .collect();
        self.check_settings(&settings);
        // Pass 2: function signatures, then bodies (which may call each other), then cycles.
        let fn_items: Vec<(FileId, &ast::Item, &ast::FnDecl)> = modules
            .iter()
            .flat_map(|m| {
                m.ast.items.iter().filter_map(move |i| match &i.kind {
                    ItemKind::Fn(f) => Some((m.file, i, f)),
                    _ => None,
                })
            })
            .collect();
        self.declare_fns(&fn_items);
        let std: Vec<(FileId, &str)> = modules
            .iter()
            .filter_map(|m| match &m.source {
                crate::modules::ModuleSource::Std(name) => Some((m.file, name.as_str())),
                crate::modules::ModuleSource::File(_) => None,
            })
            .collect();
        self.check_fn_bodies(&fn_items, &std);
        // Pass 3: rules, then tests (which name rules).
        for m in modules {
            self.check_rules(m);
        }
        self.check_overrides(modules);
        self.check_parsed_literals();
        for m in modules {
            for item in &m.ast.items {
                if let ItemKind::Test(t) = &item.kind {
                    self.check_test(m.file, item, t);
                }
            }
        }
    }

    // ---- policies

    fn declare_policy(&mut self, m: &Module) {
        let Some(h) = &m.ast.header else {
            if let Some(rule) = m.ast.items.iter().find(|i| matches!(i.kind, ItemKind::Rule(_))) {
                let span = match &rule.kind {
                    ItemKind::Rule(r) => r.name.span,
                    _ => rule.span,
                };
                self.report(
                    Diagnostic::new(
                        Code::MissingPolicyHeader,
                        m.file,
                        span,
                        "this file declares rules but has no policy header",
                    )
                    .with_label("rule outside any policy")
                    .with_help("start the file with `policy NAME version \"1.0.0\"`; rules are known as `NAME.rule`"),
                );
            }
            return;
        };
        let loc = Loc { file: m.file, span: h.span };
        if let Some(&id) = self.policies.get(&h.name.name) {
            if let Some(p) = self.bundle.policies.get(id.index()) {
                if p.version != h.version.value {
                    let (first_loc, first_version) = (p.loc, p.version.clone());
                    self.report(
                        Diagnostic::new(
                            Code::ConflictingVersion,
                            m.file,
                            h.version.span,
                            format!(
                                "policy `{}` is version \"{}\" here but \"{}\" elsewhere",
                                h.name.name, h.version.value, first_version
                            ),
                        )
                        .with_secondary(first_loc.file, first_loc.span, "declared here")
                        .with_help("every file of one policy carries the same version"),
                    );
                }
            }
            return;
        }
        let id = ir::PolicyId(to_u32(self.bundle.policies.len()));
        self.policies.insert(h.name.name.clone(), id);
        self.bundle.policies.push(ir::Policy {
            name: h.name.name.clone(),
            version: h.version.value.clone(),
            doc: h.doc.as_ref().map(|d| d.text.clone()),
            loc,
        });
    }

    // ---- declarations

    fn duplicate(&mut self, what: &str, name: &ast::Ident, file: FileId, first: Loc) {
        self.report(
            Diagnostic::new(
                Code::DuplicateDeclaration,
                file,
                name.span,
                format!("{what} `{}` is declared twice", name.name),
            )
            .with_label("second declaration")
            .with_secondary(first.file, first.span, "first declared here")
            .with_help(format!("rename one of them or remove the duplicate; {what}s are shared by the whole bundle")),
        );
    }

    fn declare_item(&mut self, file: FileId, item: &ast::Item) {
        let doc = item.doc.as_ref().map(|d| d.text.clone());
        match &item.kind {
            ItemKind::Tool(t) => {
                let loc = Loc { file, span: t.name.span };
                if let Some(first) = self.tools.get(&t.name.name) {
                    let first = first.loc;
                    self.duplicate("tool", &t.name, file, first);
                    return;
                }
                let fields = self.field_decls(file, &t.fields, "tool");
                let redacted = self.redacted_paths(file, "params", &t.fields);
                if !redacted.is_empty() {
                    self.bundle.settings.redact.tools.push((t.name.name.clone(), redacted));
                }
                let id = ir::ToolId(to_u32(self.bundle.tools.len()));
                self.tools.insert(t.name.name.clone(), Decl { id, loc });
                self.bundle.tools.push(ir::Tool { name: t.name.name.clone(), fields, doc, loc });
            }
            ItemKind::Context(c) => {
                let fields = self.field_decls(file, &c.fields, "context");
                for path in self.redacted_paths(file, "context", &c.fields) {
                    if !self.bundle.settings.redact.context.contains(&path) {
                        self.bundle.settings.redact.context.push(path);
                    }
                }
                for (f, decl) in fields.into_iter().zip(&c.fields) {
                    if BUILTIN_CONTEXT_NAMES.contains(&f.name.as_str()) {
                        self.report(
                            Diagnostic::new(
                                Code::DuplicateDeclaration,
                                file,
                                decl.name.span,
                                format!("`context.{}` is built in and cannot be declared again", f.name),
                            )
                            .with_help("built-in context fields: original_request, prior_actions, data_classes, semantic_distance, now"),
                        );
                        continue;
                    }
                    if let Some(first) = self.context.get(&f.name) {
                        let first = first.loc;
                        self.duplicate("context field", &decl.name, file, first);
                        continue;
                    }
                    let id = ir::ContextFieldId(to_u32(self.bundle.context_fields.len()));
                    self.context.insert(f.name.clone(), Decl { id, loc: f.loc });
                    self.bundle.context_fields.push(f);
                }
            }
            ItemKind::Evidence(e) => {
                let loc = Loc { file, span: e.name.span };
                if let Some(first) = self.evidence.get(&e.name.name) {
                    let first = first.loc;
                    self.duplicate("evidence", &e.name, file, first);
                    return;
                }
                self.refuse_redact_in(file, &e.ty, &redact::Place::Evidence(&e.name.name));
                let mut ty = self.resolve_type(file, &e.ty);
                if let Type::Optional(inner) = ty {
                    self.report(
                        Diagnostic::new(Code::OptionalEvidence, file, e.ty.span, format!("evidence `{}` cannot be optional", e.name.name))
                            .with_help(format!(
                                "drop the `?`: evidence that has not arrived yet is already unknown and defers the decision; test it with `evidence.{} is set`",
                                e.name.name
                            )),
                    );
                    ty = *inner;
                }
                let id = ir::EvidenceId(to_u32(self.bundle.evidence.len()));
                self.evidence.insert(e.name.name.clone(), Decl { id, loc });
                self.bundle.evidence.push(ir::Evidence {
                    name: e.name.name.clone(),
                    ty,
                    source: e.source.as_ref().map(|s| s.value.clone()).unwrap_or_default(),
                    doc,
                    loc,
                });
            }
            ItemKind::Group(g) => {
                let loc = Loc { file, span: g.name.span };
                if let Some(first) = self.groups.get(&g.name.name) {
                    let first = first.loc;
                    self.duplicate("group", &g.name, file, first);
                    return;
                }
                let id = ir::GroupId(to_u32(self.bundle.groups.len()));
                self.groups.insert(g.name.name.clone(), Decl { id, loc });
                self.index.document(crate::index::Target::Group(id), doc);
                let mut members: Vec<String> = Vec::new();
                for m in &g.members {
                    if !members.contains(&m.value) {
                        members.push(m.value.clone());
                    }
                }
                self.bundle.groups.push(ir::Group { name: g.name.name.clone(), members, named_by_step_up: false, loc });
            }
            ItemKind::Use(_)
            | ItemKind::Settings(_)
            | ItemKind::Fn(_)
            | ItemKind::Rule(_)
            | ItemKind::Test(_)
            | ItemKind::Override(_) => {}
        }
    }

    /// Fields of a tool, the context or a record type; duplicates reported.
    fn field_decls(&mut self, file: FileId, fields: &[ast::FieldDecl], owner: &str) -> Vec<ir::Field> {
        let mut out: Vec<ir::Field> = Vec::new();
        for f in fields {
            if let Some(first) = out.iter().find(|o| o.name == f.name.name) {
                let first = first.loc;
                self.duplicate(&format!("{owner} field"), &f.name, file, first);
                continue;
            }
            let ty = self.resolve_type(file, &f.ty);
            out.push(ir::Field {
                name: f.name.name.clone(),
                ty,
                doc: f.doc.as_ref().map(|d| d.text.clone()),
                loc: Loc { file, span: f.name.span },
            });
        }
        out
    }

    pub(crate) fn resolve_type(&mut self, file: FileId, t: &ast::TypeExpr) -> Type {
        let base = match &t.kind {
            TypeExprKind::Record(fields) => {
                let fs = self.field_decls(file, fields, "record");
                Type::Record(fs.into_iter().map(|f| (f.name, f.ty)).collect())
            }
            TypeExprKind::Named { name, arg } => {
                let scalar = match name.name.as_str() {
                    "Bool" => Some(Type::Bool),
                    "Int" => Some(Type::Int),
                    "Decimal" => Some(Type::Decimal),
                    "String" => Some(Type::String),
                    "Duration" => Some(Type::Duration),
                    "Time" => Some(Type::Time),
                    _ => None,
                };
                match (name.name.as_str(), scalar, arg) {
                    (_, Some(ty), None) => ty,
                    (_, Some(_), Some(a)) => {
                        self.report(
                            Diagnostic::new(
                                Code::UnknownType,
                                file,
                                a.span,
                                format!("`{}` takes no type argument", name.name),
                            )
                            .with_help(format!("write `{}` alone", name.name)),
                        );
                        Type::Error
                    }
                    ("List" | "Set", None, Some(a)) => {
                        let inner = self.resolve_type(file, a);
                        if let Type::Optional(_) = inner {
                            self.report(
                                Diagnostic::new(
                                    Code::UnknownType,
                                    file,
                                    a.span,
                                    format!("elements of a `{}` cannot be optional", name.name),
                                )
                                .with_help("leave absent elements out of the list instead"),
                            );
                        }
                        if name.name == "List" {
                            Type::list(inner)
                        } else {
                            Type::set(inner)
                        }
                    }
                    ("List" | "Set", None, None) => {
                        self.report(
                            Diagnostic::new(
                                Code::UnknownType,
                                file,
                                name.span,
                                format!("`{}` needs an element type", name.name),
                            )
                            .with_help(format!("write `{}<String>` or another element type", name.name)),
                        );
                        Type::Error
                    }
                    _ => {
                        let known = ["Bool", "Int", "Decimal", "String", "Duration", "Time", "List", "Set"];
                        let mut d = Diagnostic::new(
                            Code::UnknownType,
                            file,
                            name.span,
                            format!("unknown type `{}`", name.name),
                        );
                        d = match did_you_mean(&name.name, known) {
                            Some(s) => d.with_help(format!("did you mean `{s}`?")),
                            None => d.with_help("the types are Bool, Int, Decimal, String, Duration, Time, List<T>, Set<T>, records `{ f: T }` and `T?`"),
                        };
                        self.report(d);
                        Type::Error
                    }
                }
            }
        };
        if t.optional {
            if let Type::Optional(_) = base {
                return base;
            }
            Type::optional(base)
        } else {
            base
        }
    }

    /// "did you mean" over a table's names. They are sorted first: most tables are hash maps,
    /// whose order changes from run to run, and `did_you_mean` gives a tie to the first
    /// candidate, so two equally close names must come in the same order every time.
    fn suggest<'n>(&self, wrong: &str, names: impl IntoIterator<Item = &'n String>) -> Option<String> {
        let mut names: Vec<&str> = names.into_iter().map(String::as_str).collect();
        names.sort_unstable();
        did_you_mean(wrong, names).map(str::to_string)
    }

    /// [`Self::suggest`] over a hash-map table's names, kept sorted (and lowercased, see
    /// [`Candidates`]) per table and its size (the tables only grow), so that they are prepared
    /// once between two declarations rather than for every misspelt name.
    fn suggest_table(&mut self, table: Table, size: usize, wrong: &str) -> Option<String> {
        let cached = self.sorted_names.get(&table).is_some_and(|(n, _)| *n == size);
        if !cached {
            let mut names: Vec<String> = match table {
                Table::Tools => self.tools.keys().cloned().collect(),
                Table::Evidence => self.evidence.keys().cloned().collect(),
                Table::Groups => self.groups.keys().cloned().collect(),
                Table::Fns => self.fns.keys().cloned().collect(),
                Table::Rules => Vec::new(),
            };
            names.sort_unstable();
            self.sorted_names.insert(table, (size, Candidates::new(names)));
        }
        self.sorted_names.get(&table).and_then(|(_, names)| names.did_you_mean(wrong)).map(str::to_string)
    }

    /// [`Self::suggest`] over the names of a table, remembered: a misspelt name is often written
    /// many times (every rule and test on a tool whose declaration failed), and the answer
    /// depends only on the name and the table. The tables only ever grow (nothing is removed
    /// from them), so a table's size says which names it holds.
    pub(crate) fn suggest_declared(&mut self, table: Table, wrong: &str) -> Option<String> {
        let size = match table {
            Table::Tools => self.tools.len(),
            Table::Evidence => self.evidence.len(),
            Table::Groups => self.groups.len(),
            Table::Fns => self.fns.len(),
            Table::Rules => self.bundle.rules.len(),
        };
        if let Some(known) = self.suggestions.get(&(table, size)).and_then(|m| m.get(wrong)) {
            return known.clone();
        }
        let found = match table {
            Table::Tools | Table::Evidence | Table::Groups | Table::Fns => self.suggest_table(table, size, wrong),
            // In the bundle's rule order, which is the same on every run (no sorting needed).
            Table::Rules => {
                did_you_mean(wrong, self.bundle.rules.iter().flat_map(|r| [r.name.as_str(), r.qualified_name.as_str()]))
                    .map(str::to_string)
            }
        };
        self.suggestions.entry((table, size)).or_default().insert(wrong.to_string(), found.clone());
        found
    }

    pub(crate) fn unknown_tool(&mut self, file: FileId, name: &ast::Ident) {
        let mut d = Diagnostic::new(Code::UnknownTool, file, name.span, format!("unknown tool `{}`", name.name))
            .with_label("not declared by any `tool`");
        d = match self.suggest_declared(Table::Tools, &name.name) {
            Some(s) => d.with_help(format!("did you mean `{s}`?")),
            None => d.with_help(format!(
                "declare it: `tool {} {{ field: Type, ... }}`, or use `on *` for every tool",
                name.name
            )),
        };
        self.report(d);
    }
}

#[cfg(test)]
mod tests;

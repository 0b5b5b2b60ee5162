//! The std modules' function bodies, checked once per process.
//!
//! Every bundle that `use`s a std module would otherwise type-check the same bodies again (an
//! input that uses all four modules cost about eight times a trivial one). A std module's body
//! depends on the rest of the bundle only through the names it calls: its parameters and
//! quantifier variables are its own, and any other name (a group, a declared context field, an
//! evidence, a function of another module) fails when the module is checked alone, which keeps
//! it out of this cache. So the bodies are checked once, alone (see [`StdBodies::build`]), and
//! spliced into a bundle when its function table maps every name of the module to that module's
//! own function (no other declaration of the same name came first): the same body, locals,
//! editor index entries and (none) diagnostics as checking it there, with the function ids moved
//! to the module's place and the file id to the module's. Otherwise the bundle checks the bodies
//! itself. At most one entry per std module: the cache is bounded, and holds nothing an input
//! chose.

use super::{to_u32, Checker};
use crate::index::Target;
use crate::ir::{self, ExprKind, FnId};
use crate::modules::{load_sources, ModuleSource};
use crate::stdlib::STD_MODULES;
use crate::types::Type;
use aarm_lang::{FileId, Span};
use std::sync::OnceLock;

/// One std module's functions as checking the module alone gives them.
#[derive(Debug)]
pub(super) struct StdBodies {
    /// The functions' names, in declaration order.
    names: Vec<String>,
    /// Each function's checked body and its number of locals; function ids count from the
    /// module's first function (`FnId(0)`).
    bodies: Vec<(ir::Expr, u32)>,
    /// The index's references made while checking the bodies, in order (all name a function of
    /// the module, counted as in `bodies`).
    references: Vec<(Span, FnId)>,
    /// The index's expression types recorded while checking the bodies, in order.
    types: Vec<(Span, Type)>,
}

impl StdBodies {
    /// The bodies of std module `name`, checked once per process; `None` when it is no std
    /// module or checking it alone reports anything (then every bundle checks it itself).
    pub(super) fn of(name: &str) -> Option<&'static StdBodies> {
        static MEMO: [OnceLock<Option<StdBodies>>; STD_MODULES.len()] = [const { OnceLock::new() }; STD_MODULES.len()];
        let i = STD_MODULES.iter().position(|m| *m == name)?;
        MEMO.get(i)?.get_or_init(|| StdBodies::build(name)).as_ref()
    }

    /// Checks `use std.NAME` alone, from scratch (without this cache).
    fn build(name: &str) -> Option<StdBodies> {
        let loaded = load_sources(vec![("std_bodies.aarm".to_string(), format!("use std.{name}\n"))]);
        if !loaded.diagnostics.is_empty() {
            return None;
        }
        let module = loaded.modules.iter().find(|m| m.source == ModuleSource::Std(name.to_string()))?;
        let file = module.file;
        let mut c = Checker::new(&loaded.sources);
        c.std_cache = false;
        c.run(&loaded.modules);
        if !c.diags.is_empty() {
            return None;
        }
        // Every function of the bundle is the module's (the root file only `use`s it).
        let names: Vec<String> = c.bundle.fns.iter().map(|f| f.name.clone()).collect();
        let declared = module.ast.items.iter().filter(|i| matches!(i.kind, aarm_lang::ast::ItemKind::Fn(_))).count();
        if names.len() != declared || c.bundle.fns.iter().any(|f| f.loc.file != file) {
            return None;
        }
        let mut references = Vec::with_capacity(c.index.occurrences.len());
        for o in &c.index.occurrences {
            match o.target {
                Target::Fn(id) if o.loc.file == file && id.index() < names.len() => references.push((o.loc.span, id)),
                _ => return None,
            }
        }
        let mut types = Vec::with_capacity(c.index.types.len());
        for (loc, ty) in &c.index.types {
            if loc.file != file {
                return None;
            }
            types.push((loc.span, ty.clone()));
        }
        let bodies = c.bundle.fns.iter().map(|f| (f.body.clone(), f.locals)).collect();
        Some(StdBodies { names, bodies, references, types })
    }
}

impl Checker<'_> {
    /// Splices the remembered bodies of std module `name` (in `file`) when its functions are
    /// `first..first + n` of the bundle and each of their names refers to them; returns how many
    /// functions it filled (`None`: check them as usual).
    pub(super) fn splice_std_bodies(
        &mut self,
        name: &str,
        file: FileId,
        first: usize,
        declared: &[&str],
    ) -> Option<usize> {
        if !self.std_cache {
            return None;
        }
        let std = StdBodies::of(name)?;
        if declared.len() != std.names.len() || self.bundle.fns.len() < first.saturating_add(declared.len()) {
            return None;
        }
        let shift = to_u32(first);
        for (j, (have, want)) in declared.iter().zip(&std.names).enumerate() {
            let own = self.fns.get(*have).is_some_and(|d| d.id.index() == first + j);
            if *have != want.as_str() || !own {
                return None;
            }
        }
        self.spliced.push(first..first + declared.len());
        for (j, (body, locals)) in std.bodies.iter().enumerate() {
            let mut body = body.clone();
            shift_calls(&mut body, shift);
            if let Some(f) = self.bundle.fns.get_mut(first + j) {
                f.body = body;
                f.locals = *locals;
            }
        }
        for (span, id) in &std.references {
            self.index.refer(file, *span, Target::Fn(FnId(id.0.saturating_add(shift))));
        }
        for (span, ty) in &std.types {
            self.index.typed(file, *span, ty);
        }
        Some(declared.len())
    }
}

impl Checker<'_> {
    /// Whether function `i` of the bundle has a spliced std body. Such a body calls only its own
    /// module's functions and reported nothing when checked alone, so the later passes over
    /// bodies can pass it by: the E0211 literal check (its literals and the sinks of the
    /// functions it calls are the module's own) and the call-cycle check (no call leaves the
    /// module, whose functions form no cycle, so no cycle goes through it).
    pub(super) fn is_spliced(&self, i: usize) -> bool {
        self.spliced.iter().any(|r| r.contains(&i))
    }
}

/// Adds `by` to the function id of every call in `e`.
fn shift_calls(e: &mut ir::Expr, by: u32) {
    super::fns::visit_mut(e, &mut |e| {
        if let ExprKind::Call { func, .. } = &mut e.kind {
            func.0 = func.0.saturating_add(by);
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every std module checks alone without a diagnostic, so every bundle can use the cache
    /// (`compiler/tests/std_bodies.rs` holds its use to checking from scratch).
    #[test]
    fn every_std_module_is_remembered() {
        for name in STD_MODULES {
            let std = StdBodies::of(name).unwrap_or_else(|| panic!("std.{name} is not remembered"));
            assert!(!std.names.is_empty() && std.names.len() == std.bodies.len(), "std.{name}");
            assert!(!std.types.is_empty(), "std.{name}");
        }
        assert!(StdBodies::of("nope").is_none());
    }
}

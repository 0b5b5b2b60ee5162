//! `fn` declarations: signatures first (so bodies and rules may call any function), then bodies,
//! then the call graph, which must have no cycle — the language has no recursion, so that every
//! evaluation terminates.

use super::expr::{ParamsScope, Scope};
use super::{to_u32, Checker, Decl};
use crate::ir::{self, ExprKind, FnId, Loc};
use crate::types::Type;
use aarm_lang::ast;
use aarm_lang::{Code, Diagnostic, FileId};
use petgraph::algo::tarjan_scc;
use petgraph::graph::{DiGraph, NodeIndex};

impl Checker<'_> {
    pub(super) fn declare_fns(&mut self, items: &[(FileId, &ast::Item, &ast::FnDecl)]) {
        for (file, item, f) in items {
            let loc = Loc { file: *file, span: f.name.span };
            if let Some(first) = self.fns.get(&f.name.name) {
                let first = first.loc;
                self.duplicate("function", &f.name, *file, first);
                // Keep a placeholder so ids stay aligned with `items`.
            }
            let mut params: Vec<(String, Type)> = Vec::new();
            for p in &f.params {
                if params.iter().any(|(n, _)| *n == p.name.name) {
                    self.report(
                        Diagnostic::new(
                            Code::DuplicateDeclaration,
                            *file,
                            p.name.span,
                            format!("parameter `{}` is declared twice", p.name.name),
                        )
                        .with_help("give each parameter its own name"),
                    );
                }
                self.refuse_redact_in(*file, &p.ty, &super::redact::Place::Function(&f.name.name));
                let ty = self.resolve_type(*file, &p.ty);
                params.push((p.name.name.clone(), ty));
            }
            self.refuse_redact_in(*file, &f.ret, &super::redact::Place::Function(&f.name.name));
            let ret = self.resolve_type(*file, &f.ret);
            let id = FnId(to_u32(self.bundle.fns.len()));
            self.fns.entry(f.name.name.clone()).or_insert(Decl { id, loc });
            let locals = to_u32(params.len());
            self.bundle.fns.push(ir::Function {
                name: f.name.name.clone(),
                params,
                ret,
                locals,
                body: ir::Expr { kind: ExprKind::Const(ir::Const::Bool(false)), ty: Type::Error, span: f.body.span },
                doc: item.doc.as_ref().map(|d| d.text.clone()),
                loc,
            });
        }
    }

    /// Checks every function's body; the functions of a std module (`std`: its file and name)
    /// take the bodies checked once per process when they fit (see `std_bodies`).
    pub(super) fn check_fn_bodies(&mut self, items: &[(FileId, &ast::Item, &ast::FnDecl)], std: &[(FileId, &str)]) {
        let mut spliced_until = 0;
        for (i, (file, _, f)) in items.iter().enumerate() {
            if i < spliced_until {
                continue;
            }
            let starts_module = i == 0 || items.get(i - 1).is_some_and(|(prev, _, _)| prev != file);
            if let Some((_, name)) = std.iter().find(|(f, _)| f == file).filter(|_| starts_module) {
                let declared: Vec<&str> = items
                    .get(i..)
                    .unwrap_or_default()
                    .iter()
                    .take_while(|(f, _, _)| f == file)
                    .map(|(_, _, d)| d.name.name.as_str())
                    .collect();
                if let Some(n) = self.splice_std_bodies(name, *file, i, &declared) {
                    spliced_until = i + n;
                    continue;
                }
            }
            let Some(func) = self.bundle.fns.get(i) else { continue };
            let (params, ret) = (func.params.clone(), func.ret.clone());
            let mut scope = Scope::new(*file, ParamsScope::Function);
            for (n, t) in &params {
                scope.bind(n, t.clone());
            }
            let body = self.check_expr(&mut scope, &f.body);
            let body = self.coerce(*file, body, &ret, &format_args!("the body of `{}`", f.name.name));
            if let Some(func) = self.bundle.fns.get_mut(i) {
                func.body = body;
                func.locals = scope.next_local;
            }
        }
        self.check_fn_cycles();
    }

    /// Reports every cycle of the call graph once, naming it in call order.
    fn check_fn_cycles(&mut self) {
        let mut graph: DiGraph<FnId, ()> = DiGraph::new();
        let nodes: Vec<NodeIndex> = (0..self.bundle.fns.len()).map(|i| graph.add_node(FnId(to_u32(i)))).collect();
        for (i, f) in self.bundle.fns.iter().enumerate() {
            if self.is_spliced(i) {
                continue;
            }
            let mut callees = Vec::new();
            collect_calls(&f.body, &mut callees);
            for c in callees {
                if let (Some(&from), Some(&to)) = (nodes.get(i), nodes.get(c.index())) {
                    graph.update_edge(from, to, ());
                }
            }
        }
        for scc in tarjan_scc(&graph) {
            let is_cycle = scc.len() > 1 || scc.first().is_some_and(|n| graph.contains_edge(*n, *n));
            if !is_cycle {
                continue;
            }
            // Name the cycle starting from the function declared first, following calls.
            let mut members: Vec<FnId> = scc.iter().filter_map(|n| graph.node_weight(*n).copied()).collect();
            members.sort();
            let Some(&start) = members.first() else { continue };
            let mut order = vec![start];
            let mut current = start;
            while order.len() < members.len() {
                let next = nodes.get(current.index()).and_then(|n| {
                    graph
                        .neighbors(*n)
                        .filter_map(|m| graph.node_weight(m).copied())
                        .find(|m| members.contains(m) && !order.contains(m))
                });
                match next {
                    Some(n) => {
                        order.push(n);
                        current = n;
                    }
                    None => break,
                }
            }
            let names: Vec<String> = order
                .iter()
                .chain(std::iter::once(&start))
                .filter_map(|id| self.bundle.fns.get(id.index()).map(|f| format!("`{}`", f.name)))
                .collect();
            let Some(first) = self.bundle.fns.get(start.index()) else { continue };
            let loc = first.loc;
            let mut d = Diagnostic::new(
                Code::FnCycle,
                loc.file,
                loc.span,
                if order.len() == 1 {
                    format!("function {} calls itself", names.first().cloned().unwrap_or_default())
                } else {
                    format!("functions call each other in a cycle: {}", names.join(" → "))
                },
            )
            .with_help("policies cannot recurse, so that every decision terminates; compute the value without the cycle, e.g. with `any`, `all` or `count` over a list");
            for id in order.iter().skip(1) {
                if let Some(f) = self.bundle.fns.get(id.index()) {
                    d = d.with_secondary(f.loc.file, f.loc.span, "part of the cycle");
                }
            }
            self.report(d);
        }
    }
}

fn collect_calls(e: &ir::Expr, out: &mut Vec<FnId>) {
    visit(e, &mut |e| {
        if let ExprKind::Call { func, .. } = &e.kind {
            out.push(*func);
        }
    });
}

/// Calls `f` on `e` and every expression inside it (before the expressions inside it). The
/// references live as long as `e`, so that a caller can keep them instead of clones.
pub(crate) fn visit<'e>(e: &'e ir::Expr, f: &mut dyn FnMut(&'e ir::Expr)) {
    f(e);
    match &e.kind {
        ExprKind::Const(_)
        | ExprKind::Param(_)
        | ExprKind::Action(_)
        | ExprKind::Identity(_)
        | ExprKind::Context(_)
        | ExprKind::Evidence(_)
        | ExprKind::Local(_)
        | ExprKind::Group(_) => {}
        ExprKind::List(items) | ExprKind::Logic { operands: items, .. } | ExprKind::Call { args: items, .. } => {
            items.iter().for_each(|i| visit(i, f))
        }
        ExprKind::Record(fields) => fields.iter().for_each(|(_, v)| visit(v, f)),
        ExprKind::Field { base: inner, .. }
        | ExprKind::Unwrap(inner)
        | ExprKind::Widen(inner)
        | ExprKind::Neg(inner)
        | ExprKind::Not(inner)
        | ExprKind::IsSet { value: inner, .. } => visit(inner, f),
        ExprKind::Arith { lhs, rhs, .. } | ExprKind::Compare { lhs, rhs, .. } => {
            visit(lhs, f);
            visit(rhs, f);
        }
        ExprKind::In { element, collection } => {
            visit(element, f);
            visit(collection, f);
        }
        ExprKind::Method { receiver, args, .. } => {
            visit(receiver, f);
            args.iter().for_each(|a| visit(a, f));
        }
        ExprKind::Quantifier { collection, body, .. } => {
            visit(collection, f);
            visit(body, f);
        }
        ExprKind::Filter { collection, predicate, .. } => {
            visit(collection, f);
            visit(predicate, f);
        }
    }
}

/// [`visit`] for a caller that rewrites the expressions: `f` on `e`, then on every expression
/// inside it, in the same order. Kept beside `visit` so that a new kind of expression is walked
/// by both.
pub(crate) fn visit_mut(e: &mut ir::Expr, f: &mut dyn FnMut(&mut ir::Expr)) {
    f(e);
    match &mut e.kind {
        ExprKind::Const(_)
        | ExprKind::Param(_)
        | ExprKind::Action(_)
        | ExprKind::Identity(_)
        | ExprKind::Context(_)
        | ExprKind::Evidence(_)
        | ExprKind::Local(_)
        | ExprKind::Group(_) => {}
        ExprKind::List(items) | ExprKind::Logic { operands: items, .. } | ExprKind::Call { args: items, .. } => {
            items.iter_mut().for_each(|i| visit_mut(i, f))
        }
        ExprKind::Record(fields) => fields.iter_mut().for_each(|(_, v)| visit_mut(v, f)),
        ExprKind::Field { base: inner, .. }
        | ExprKind::Unwrap(inner)
        | ExprKind::Widen(inner)
        | ExprKind::Neg(inner)
        | ExprKind::Not(inner)
        | ExprKind::IsSet { value: inner, .. } => visit_mut(inner, f),
        ExprKind::Arith { lhs: a, rhs: b, .. }
        | ExprKind::Compare { lhs: a, rhs: b, .. }
        | ExprKind::In { element: a, collection: b }
        | ExprKind::Quantifier { collection: a, body: b, .. }
        | ExprKind::Filter { collection: a, predicate: b, .. } => {
            visit_mut(a, f);
            visit_mut(b, f);
        }
        ExprKind::Method { receiver, args, .. } => {
            visit_mut(receiver, f);
            args.iter_mut().for_each(|a| visit_mut(a, f));
        }
    }
}

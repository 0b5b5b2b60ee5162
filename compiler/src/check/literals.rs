//! Literals that a built-in method parses (a CIDR block, a time zone, a URL, an offset) are read
//! when the policy is checked, with the method's own parser (`aarm_runtime::parsed`): one it
//! cannot read is E0211 at the literal, not a deny on every request at run time. This holds for a
//! literal given to the method itself (`ip.in_cidr("10.0.0.0/33")`), for one passed to it through
//! `fn` parameters (`local_time(t, "Europe/Pari")` in `std.time`), and element by element for a
//! literal list that a quantifier or `filter` walks (`ip_in_any(ip, ["10.0.0.0/8", "fc00::/77"])`).
//!
//! Runs once the rules are checked, over the typed IR.

use super::fns::visit;
use super::Checker;
use super::Map;
use crate::ir::{self, Const, ExprKind, FnId, Loc};
use aarm_lang::{Code, Diagnostic, FileId};
use aarm_runtime::bytecode::MethodOp;
use aarm_runtime::parsed::parsed_operand;

/// Where a value ends up parsed: operand `position` (0 the receiver) of method `op`, at `at`.
/// `each`: the value is a list whose elements reach the method (through a quantifier).
#[derive(Clone, Copy, Debug)]
struct Sink {
    op: MethodOp,
    position: usize,
    each: bool,
    at: Loc,
}

/// The sinks of each `fn`'s parameters, computed on demand (`fn`s call each other in any order).
#[derive(Default)]
struct FnSinks {
    /// Per `FnId`: the sinks of each parameter, once known.
    known: Map<FnId, Vec<Vec<Sink>>>,
    /// `fn`s being computed: a cycle (already reported as E0205) contributes nothing.
    busy: Vec<FnId>,
}

fn local_of(e: &ir::Expr) -> Option<u32> {
    match &e.kind {
        ExprKind::Local(id) => Some(id.0),
        _ => None,
    }
}

/// The string literals of `e` with their spans: `e` itself, or (`each`) the elements of a
/// literal list.
fn literals(e: &ir::Expr, each: bool) -> Vec<(&str, aarm_lang::Span)> {
    match (&e.kind, each) {
        (ExprKind::Const(Const::Str(s)), false) => vec![(s.as_str(), e.span)],
        (ExprKind::Const(Const::List(items)), true) => items
            .iter()
            .filter_map(|c| match c {
                Const::Str(s) => Some((s.as_str(), e.span)),
                _ => None,
            })
            .collect(),
        (ExprKind::List(items), true) => items.iter().flat_map(|i| literals(i, false)).collect(),
        _ => Vec::new(),
    }
}

impl FnSinks {
    /// The sinks of the parameters of `func` (none for a `fn` being computed: a cycle).
    fn of(&mut self, bundle: &ir::Bundle, func: FnId) -> &[Vec<Sink>] {
        if !self.known.contains_key(&func) {
            let Some(f) = bundle.fns.get(func.index()) else { return &[] };
            if self.busy.contains(&func) {
                return &[];
            }
            self.busy.push(func);
            let by_local = self.locals(bundle, &f.body, f.loc.file);
            self.busy.retain(|b| *b != func);
            let params: Vec<Vec<Sink>> = (0..f.params.len())
                .map(|i| u32::try_from(i).ok().and_then(|i| by_local.get(&i).cloned()).unwrap_or_default())
                .collect();
            self.known.insert(func, params);
        }
        self.known.get(&func).map_or(&[], Vec::as_slice)
    }

    /// The sinks of the locals (parameters and bound variables) used in `e`, a body in `file`.
    fn locals(&mut self, bundle: &ir::Bundle, e: &ir::Expr, file: FileId) -> Map<u32, Vec<Sink>> {
        // References, not clones: a clone per node copies every subtree once per ancestor.
        let mut nodes = Vec::new();
        visit(e, &mut |n| nodes.push(n));
        let mut out: Map<u32, Vec<Sink>> = Map::default();
        for n in &nodes {
            match &n.kind {
                ExprKind::Method { method, receiver, args } => {
                    let Some(op) = method.primitive() else { continue };
                    for (position, operand) in std::iter::once(&**receiver).chain(args).enumerate() {
                        if let (Some(local), Some(_)) = (local_of(operand), parsed_operand(op, position)) {
                            let at = Loc { file, span: n.span };
                            out.entry(local).or_default().push(Sink { op, position, each: false, at });
                        }
                    }
                }
                ExprKind::Call { func, args } => {
                    let callee = self.of(bundle, *func);
                    for (arg, sinks) in args.iter().zip(callee) {
                        if let Some(local) = local_of(arg) {
                            out.entry(local).or_default().extend(sinks.iter().copied());
                        }
                    }
                }
                ExprKind::Quantifier { var, collection, body: inner, .. }
                | ExprKind::Filter { var, collection, predicate: inner } => {
                    let Some(local) = local_of(collection) else { continue };
                    let elements = self.locals(bundle, inner, file).remove(&var.0).unwrap_or_default();
                    let each = elements.into_iter().filter(|s| !s.each).map(|s| Sink { each: true, ..s });
                    out.entry(local).or_default().extend(each);
                }
                _ => {}
            }
        }
        out
    }
}

impl Checker<'_> {
    /// Reports every literal of the bundle that a method it reaches cannot read (E0211).
    pub(crate) fn check_parsed_literals(&mut self) {
        let mut sinks = FnSinks::default();
        let mut bodies: Vec<(FileId, &ir::Expr)> = Vec::new();
        for (i, f) in self.bundle.fns.iter().enumerate() {
            if !self.is_spliced(i) {
                bodies.push((f.loc.file, &f.body));
            }
        }
        for r in &self.bundle.rules {
            let file = r.loc.file;
            bodies.extend(r.conditions.iter().map(|c| (file, c)));
            bodies.extend(r.reason.message.iter().filter_map(|p| match p {
                ir::TemplatePart::Expr(e) => Some((file, e)),
                ir::TemplatePart::Text(_) => None,
            }));
            if let ir::Decision::Modify(assignments) = &r.decision {
                bodies.extend(assignments.iter().map(|a| (file, &a.value)));
            }
        }
        let mut found = Vec::new();
        // One buffer for every body's nodes.
        let mut nodes: Vec<&ir::Expr> = Vec::new();
        for &(file, body) in &bodies {
            // References, not clones: a clone per node copies every subtree once per ancestor.
            nodes.clear();
            visit(body, &mut |n| nodes.push(n));
            for n in &nodes {
                match &n.kind {
                    ExprKind::Method { method, receiver, args } => {
                        let Some(op) = method.primitive() else { continue };
                        let here = Sink { op, position: 0, each: false, at: Loc { file, span: n.span } };
                        for (position, operand) in std::iter::once(&**receiver).chain(args).enumerate() {
                            found.extend(unreadable(operand, file, Sink { position, ..here }, None));
                        }
                    }
                    ExprKind::Call { func, args } => {
                        let name = self.bundle.fns.get(func.index()).map(|f| f.name.as_str());
                        for (arg, arg_sinks) in args.iter().zip(sinks.of(&self.bundle, *func)) {
                            for s in arg_sinks {
                                found.extend(unreadable(arg, file, *s, name));
                            }
                        }
                    }
                    ExprKind::Quantifier { var, collection, body: inner, .. }
                    | ExprKind::Filter { var, collection, predicate: inner } => {
                        let elements = sinks.locals(&self.bundle, inner, file).remove(&var.0).unwrap_or_default();
                        for s in elements.into_iter().filter(|s| !s.each) {
                            found.extend(unreadable(collection, file, Sink { each: true, ..s }, None));
                        }
                    }
                    _ => {}
                }
            }
        }
        for d in found {
            self.report(d);
        }
    }
}

/// E0211 for each literal of `operand` (in `file`) that `sink`'s method cannot read; `via` is
/// the `fn` the literal is passed to, when it reaches the method through one.
fn unreadable(operand: &ir::Expr, file: FileId, sink: Sink, via: Option<&str>) -> Vec<Diagnostic> {
    let Some(reader) = parsed_operand(sink.op, sink.position) else { return Vec::new() };
    let method = sink.op.name();
    literals(operand, sink.each)
        .into_iter()
        .filter_map(|(text, span)| {
            let problem = reader.check(text).err()?;
            let message = match via {
                Some(f) => format!("`{f}` passes {text:?} to `{method}`, which cannot read it"),
                None => format!("`{method}` cannot read {text:?}"),
            };
            let mut d = Diagnostic::new(Code::UnreadableLiteral, file, span, message)
                .with_label(problem.to_string())
                .with_help(format!("`{method}` reads {}", reader.expects));
            if via.is_some() || sink.at.file != file {
                d = d.with_secondary(sink.at.file, sink.at.span, format!("read by `{method}` here"));
            }
            Some(d)
        })
        .collect()
}

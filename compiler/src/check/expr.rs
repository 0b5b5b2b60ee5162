//! Expressions: name lookup, typing, `is set` narrowing, methods and quantifiers.
//!
//! Narrowing: `e is set` proves `e` present on the path where it is true. The checker tracks the
//! proved paths (`params.memo`, `context.x.y`, `x.f` for a local) as it walks `and`, `or`, `not`
//! and successive `when` lines; reading an optional that is proved becomes an explicit
//! [`ExprKind::Unwrap`], and reading one that is not is error E0201 with the guard to add.

use super::{builtin_context_field, identity_fields, to_u32, Checker, Table, BUILTIN_CONTEXT_NAMES};
use crate::index::Target;
use crate::ir::{self, ActionField, Arith, ContextField, ExprKind, LocalId, Method, MethodOp};
use crate::types::{Fit, Type};
use aarm_lang::ast::{self, BinOp, LogicOp, QuantKind, Root};
use aarm_lang::{Code, Diagnostic, FileId, Span};
use std::collections::HashSet;
use std::fmt;

/// Paths proved present (see [`super::Map`] for the hasher).
type Facts = HashSet<String, foldhash::fast::RandomState>;

/// What `params` means where an expression is checked.
#[derive(Clone, Debug)]
pub(crate) enum ParamsScope {
    /// In a rule `on T1, T2`: the fields the tools share.
    Tools(Vec<ir::ToolId>),
    /// `on *`: any tool, so no known fields.
    AnyTool,
    /// In a `fn`: parameters must be passed explicitly.
    Function,
    /// The rule's tools could not be resolved (already reported): accept any field silently.
    Unresolved,
    /// In `settings` (a step-up's `limits` there): the defaults of every rule, so no tool.
    Settings,
}

/// The environment of one body (a rule or a `fn`).
pub(crate) struct Scope {
    pub(crate) file: FileId,
    pub(crate) params: ParamsScope,
    locals: Vec<(String, LocalId, Type)>,
    pub(crate) next_local: u32,
    /// Paths proved present by an `is set` guard.
    facts: Facts,
}

impl Scope {
    pub(crate) fn new(file: FileId, params: ParamsScope) -> Self {
        Scope { file, params, locals: Vec::new(), next_local: 0, facts: Facts::default() }
    }

    pub(crate) fn bind(&mut self, name: &str, ty: Type) -> LocalId {
        let id = LocalId(self.next_local);
        self.next_local = self.next_local.saturating_add(1);
        self.locals.push((name.to_string(), id, ty));
        id
    }

    fn unbind(&mut self) {
        self.locals.pop();
    }

    fn lookup(&self, name: &str) -> Option<(LocalId, Type)> {
        self.locals.iter().rev().find(|(n, _, _)| n == name).map(|(_, id, t)| (*id, t.clone()))
    }

    /// Adds the facts that hold when `e` is true (used between successive `when` lines).
    pub(crate) fn assume(&mut self, e: &ir::Expr) {
        self.facts.extend(facts_when(e, true));
    }
}

fn ex(kind: ExprKind, ty: Type, span: Span) -> ir::Expr {
    ir::Expr { kind, ty, span }
}

fn error_expr(span: Span) -> ir::Expr {
    ex(ExprKind::Const(ir::Const::Bool(false)), Type::Error, span)
}

/// A stable key for a path that a guard can prove: roots, locals and field chains.
fn path_key(e: &ir::Expr) -> Option<String> {
    match &e.kind {
        ExprKind::Param(f) => Some(format!("params.{f}")),
        ExprKind::Context(ContextField::Declared(id)) => Some(format!("context#{}", id.0)),
        ExprKind::Context(ContextField::SemanticDistance) => Some("context.semantic_distance".into()),
        ExprKind::Local(id) => Some(format!("local#{}", id.0)),
        ExprKind::Field { base, name, .. } => path_key(base).map(|b| format!("{b}.{name}")),
        ExprKind::Unwrap(inner) => path_key(inner),
        _ => None,
    }
}

/// Paths proved present when `e` evaluates to `outcome`.
fn facts_when(e: &ir::Expr, outcome: bool) -> Facts {
    match &e.kind {
        ExprKind::IsSet { value, negated } if *negated != outcome => path_key(value).into_iter().collect(),
        ExprKind::Logic { op, operands } => {
            let each = operands.iter().map(|operand| facts_when(operand, outcome));
            // A true `and` (a false `or`) had every operand come out that way: all their facts
            // hold. A true `or` (a false `and`) had at least one: only the facts they share.
            if (*op == ir::LogicOp::And) == outcome {
                each.flatten().collect()
            } else {
                intersect(each)
            }
        }
        ExprKind::Not(inner) => facts_when(inner, !outcome),
        _ => Facts::default(),
    }
}

fn intersect(mut sets: impl Iterator<Item = Facts>) -> Facts {
    let Some(first) = sets.next() else { return Facts::default() };
    sets.fold(first, |acc, s| acc.intersection(&s).cloned().collect())
}

/// A type in the method table, relative to the receiver.
#[derive(Clone, Copy)]
enum Slot {
    Bool,
    Int,
    Str,
    Dur,
    /// `List<String>`.
    StrList,
    /// The receiver's element type (`Error` for the element of `[]`, which fits any argument).
    El,
    /// `List<El>`.
    ElList,
    /// The receiver's own type.
    Recv,
}

/// One method: its name, its primitive (`None`: `matches`, whose pattern comes later), its
/// argument slots and its result slot.
type MethodSpec = (&'static str, Option<MethodOp>, &'static [Slot], Slot);

const STRING_METHODS: &[MethodSpec] = &[
    ("starts_with", Some(MethodOp::StartsWith), &[Slot::Str], Slot::Bool),
    ("ends_with", Some(MethodOp::EndsWith), &[Slot::Str], Slot::Bool),
    ("contains", Some(MethodOp::StrContains), &[Slot::Str], Slot::Bool),
    ("lower", Some(MethodOp::Lower), &[], Slot::Str),
    ("upper", Some(MethodOp::Upper), &[], Slot::Str),
    ("trim", Some(MethodOp::Trim), &[], Slot::Str),
    ("matches", None, &[Slot::Str], Slot::Bool),
    ("glob", Some(MethodOp::Glob), &[Slot::Str], Slot::Bool),
    ("len", Some(MethodOp::StrLen), &[], Slot::Int),
    ("split", Some(MethodOp::Split), &[Slot::Str], Slot::StrList),
    ("in_cidr", Some(MethodOp::InCidr), &[Slot::Str], Slot::Bool),
    ("is_ip", Some(MethodOp::IsIp), &[], Slot::Bool),
    ("utc_offset", Some(MethodOp::UtcOffset), &[], Slot::Dur),
    ("url_scheme", Some(MethodOp::UrlScheme), &[], Slot::Str),
    ("url_host", Some(MethodOp::UrlHost), &[], Slot::Str),
    ("url_port", Some(MethodOp::UrlPort), &[], Slot::Int),
    ("url_path", Some(MethodOp::UrlPath), &[], Slot::Str),
    ("url_query", Some(MethodOp::UrlQuery), &[], Slot::Str),
];

/// The methods of lists and sets; `filter`'s lambda is checked apart (no argument slot).
const COLLECTION_METHODS: &[MethodSpec] = &[
    ("len", Some(MethodOp::Len), &[], Slot::Int),
    ("contains", Some(MethodOp::Contains), &[Slot::El], Slot::Bool),
    ("contains_any", Some(MethodOp::ContainsAny), &[Slot::ElList], Slot::Bool),
    ("contains_all", Some(MethodOp::ContainsAll), &[Slot::ElList], Slot::Bool),
    ("filter", Some(MethodOp::Len), &[], Slot::Recv),
];

/// Positions mean something in a list only: a set has no order to speak of.
const LIST_ONLY_METHODS: &[MethodSpec] = &[
    ("at", Some(MethodOp::At), &[Slot::Int], Slot::El),
    ("index_of", Some(MethodOp::IndexOf), &[Slot::El], Slot::Int),
];

const TIME_METHODS: &[MethodSpec] = &[
    ("hour", Some(MethodOp::Hour), &[], Slot::Int),
    ("minute", Some(MethodOp::Minute), &[], Slot::Int),
    ("weekday", Some(MethodOp::Weekday), &[], Slot::Int),
    ("offset_in", Some(MethodOp::OffsetIn), &[Slot::Str], Slot::Dur),
];

const DURATION_METHODS: &[MethodSpec] = &[("seconds", Some(MethodOp::Seconds), &[], Slot::Int)];

/// The method table of a receiver type, in the order "unknown method" lists it.
fn method_specs(ty: &Type) -> impl Iterator<Item = &'static MethodSpec> {
    let (common, extra): (&[MethodSpec], &[MethodSpec]) = match ty {
        Type::String => (STRING_METHODS, &[]),
        Type::List(_) => (COLLECTION_METHODS, LIST_ONLY_METHODS),
        Type::Set(_) => (COLLECTION_METHODS, &[]),
        Type::Time => (TIME_METHODS, &[]),
        Type::Duration => (DURATION_METHODS, &[]),
        _ => (&[], &[]),
    };
    common.iter().chain(extra)
}

fn slot_type(slot: Slot, receiver: &Type) -> Type {
    // The element type of `[]` fits any argument.
    let el = || match receiver.element() {
        Some(Type::Never) | None => Type::Error,
        Some(t) => t.clone(),
    };
    match slot {
        Slot::Bool => Type::Bool,
        Slot::Int => Type::Int,
        Slot::Str => Type::String,
        Slot::Dur => Type::Duration,
        Slot::StrList => Type::list(Type::String),
        Slot::El => el(),
        Slot::ElList => Type::list(el()),
        Slot::Recv => receiver.clone(),
    }
}

/// A method of the table with its types for `receiver`: (name, method, argument types, result).
type MethodEntry = (&'static str, Method, Vec<Type>, Type);

fn method_entry(spec: &MethodSpec, receiver: &Type) -> MethodEntry {
    let &(name, op, params, ret) = spec;
    let method = match op {
        Some(op) => Method::Op(op),
        None => Method::Matches(String::new()),
    };
    (name, method, params.iter().map(|p| slot_type(*p, receiver)).collect(), slot_type(ret, receiver))
}

/// Receiver type → (method, argument types, result type). `None` argument type: the lambda of
/// `filter`. Kept in one table so that "unknown method" can list what exists.
fn methods_for(ty: &Type) -> Vec<MethodEntry> {
    method_specs(ty).map(|spec| method_entry(spec, ty)).collect()
}

/// The entry of [`methods_for`] named `name`, without building the others: every method call
/// the checker meets looks one up.
fn method_named(ty: &Type, name: &str) -> Option<MethodEntry> {
    method_specs(ty).find(|spec| spec.0 == name).map(|spec| method_entry(spec, ty))
}

impl Checker<'_> {
    /// Checks an expression in a value position: an optional must have been proved present.
    pub(crate) fn check_expr(&mut self, s: &mut Scope, e: &ast::Expr) -> ir::Expr {
        let checked = self.check_raw(s, e);
        self.require_present(s, e.span, checked)
    }

    /// Checks an expression that must be `Bool`.
    pub(crate) fn check_bool(&mut self, s: &mut Scope, e: &ast::Expr, what: &dyn fmt::Display) -> ir::Expr {
        let checked = self.check_expr(s, e);
        if checked.ty != Type::Bool && !checked.ty.contains_error() {
            self.report(
                Diagnostic::new(
                    Code::TypeMismatch,
                    s.file,
                    e.span,
                    format!("{what} must be `Bool`, but this is `{}`", checked.ty),
                )
                .with_label(format!("`{}`", checked.ty))
                .with_help("compare it with something, e.g. `… == …`, `… > …` or `… is set`"),
            );
        }
        checked
    }

    /// Converts `e` to `want` (widening `Int` to `Decimal`) or reports a mismatch.
    pub(crate) fn coerce(&mut self, file: FileId, e: ir::Expr, want: &Type, what: &dyn fmt::Display) -> ir::Expr {
        match want.accepts(&e.ty) {
            Fit::Exact => e,
            Fit::Widen => self.widen(file, e, want, what),
            Fit::No => {
                let mut d = Diagnostic::new(
                    Code::TypeMismatch,
                    file,
                    e.span,
                    format!("{what} expects `{want}`, found `{}`", e.ty),
                )
                .with_label(format!("this is `{}`", e.ty));
                if *want == Type::Int && e.ty == Type::Decimal {
                    d = d.with_help("a `Decimal` never narrows to `Int` implicitly");
                } else if let Type::Optional(inner) = &e.ty {
                    if inner.accepts(want) != Fit::No {
                        d = d.with_help("guard it with `is set` first");
                    }
                }
                self.report(d);
                error_expr(e.span)
            }
        }
    }

    /// `e` widened to `want`. A `Widen` node converts a number or a list of numbers; inside a
    /// record or list literal the widening goes to the elements that need it, because only the
    /// type says which fields of a record are `Decimal` (a `Widen` around a whole record widened
    /// nothing in the VM's constant pool and failed in the interpreter).
    fn widen(&mut self, file: FileId, e: ir::Expr, want: &Type, what: &dyn fmt::Display) -> ir::Expr {
        let ir::Expr { kind, ty, span } = e;
        match (kind, want) {
            (ExprKind::Record(fields), Type::Record(types)) if fields.len() == types.len() => {
                let fields = fields
                    .into_iter()
                    .zip(types)
                    .map(|((name, value), (_, t))| {
                        let value = self.coerce(file, value, t, what);
                        (name, value)
                    })
                    .collect();
                ex(ExprKind::Record(fields), want.clone(), span)
            }
            (ExprKind::List(items), Type::List(t) | Type::Set(t)) => {
                let items = items.into_iter().map(|item| self.coerce(file, item, t, what)).collect();
                ex(ExprKind::List(items), want.clone(), span)
            }
            (kind, _) => ex(ExprKind::Widen(Box::new(ir::Expr { kind, ty, span })), want.clone(), span),
        }
    }

    fn require_present(&mut self, s: &Scope, span: Span, e: ir::Expr) -> ir::Expr {
        let Type::Optional(inner) = &e.ty else { return e };
        let inner = (**inner).clone();
        if path_key(&e).is_some_and(|k| s.facts.contains(&k)) {
            return ex(ExprKind::Unwrap(Box::new(e)), inner, span);
        }
        let text = self.text(ir::Loc { file: s.file, span }).to_string();
        let help = if path_key(&e).is_some() {
            format!("guard it: `{text} is set and …` (or add a line `when {text} is set` before this one)")
        } else {
            "only fields and variables can be guarded; test the optional part with `is set` first".to_string()
        };
        self.report(
            Diagnostic::new(
                Code::UnguardedOptional,
                s.file,
                span,
                format!("`{text}` is optional (`{}`) and may be absent here", e.ty),
            )
            .with_label("read without an `is set` guard")
            .with_help(help),
        );
        error_expr(span)
    }

    /// Checks without requiring optionals to be present (for `is set` and assignments).
    pub(crate) fn check_raw(&mut self, s: &mut Scope, e: &ast::Expr) -> ir::Expr {
        let checked = self.check_raw_kind(s, e);
        self.index.typed(s.file, e.span, &checked.ty);
        checked
    }

    fn check_raw_kind(&mut self, s: &mut Scope, e: &ast::Expr) -> ir::Expr {
        let span = e.span;
        match &e.kind {
            ast::ExprKind::Bool(b) => ex(ExprKind::Const(ir::Const::Bool(*b)), Type::Bool, span),
            ast::ExprKind::Int(i) => ex(ExprKind::Const(ir::Const::Int(*i)), Type::Int, span),
            ast::ExprKind::Decimal(d) => ex(ExprKind::Const(ir::Const::Decimal(*d)), Type::Decimal, span),
            ast::ExprKind::Str(v) => ex(ExprKind::Const(ir::Const::Str(v.clone())), Type::String, span),
            ast::ExprKind::Duration(d) => ex(ExprKind::Const(ir::Const::Duration(*d)), Type::Duration, span),
            ast::ExprKind::Paren(inner) => {
                let mut out = self.check_raw(s, inner);
                out.span = span;
                out
            }
            ast::ExprKind::Error => error_expr(span),
            ast::ExprKind::List(items) => self.check_list(s, items, span),
            ast::ExprKind::Record(fields) => {
                let mut out: Vec<(String, ir::Expr)> = Vec::new();
                for f in fields {
                    if out.iter().any(|(n, _)| *n == f.name.name) {
                        self.report(
                            Diagnostic::new(
                                Code::DuplicateDeclaration,
                                s.file,
                                f.name.span,
                                format!("field `{}` is given twice", f.name.name),
                            )
                            .with_help("give each field once"),
                        );
                        continue;
                    }
                    let v = self.check_expr(s, &f.value);
                    out.push((f.name.name.clone(), v));
                }
                let ty = Type::Record(out.iter().map(|(n, e)| (n.clone(), e.ty.clone())).collect());
                ex(ExprKind::Record(out), ty, span)
            }
            ast::ExprKind::Name(name) => self.check_name(s, name),
            ast::ExprKind::Root(root) => self.bare_root(s, *root, span),
            ast::ExprKind::Field { base, field } => self.check_field(s, base, field, span),
            ast::ExprKind::Method { receiver, method, args } => self.check_method(s, receiver, method, args, span),
            ast::ExprKind::Call { callee, args } => self.check_call(s, callee, args, span),
            ast::ExprKind::Neg(inner) => {
                let v = self.check_expr(s, inner);
                match v.ty {
                    Type::Int | Type::Decimal | Type::Duration | Type::Error => {
                        let ty = v.ty.clone();
                        ex(ExprKind::Neg(Box::new(v)), ty, span)
                    }
                    _ => {
                        self.report(
                            Diagnostic::new(Code::InvalidOperands, s.file, span, format!("cannot negate a `{}`", v.ty))
                                .with_help("`-` applies to `Int`, `Decimal` and `Duration`; for a `Bool`, write `not`"),
                        );
                        error_expr(span)
                    }
                }
            }
            ast::ExprKind::Not(inner) => {
                let v = self.check_bool(s, inner, &"the operand of `not`");
                ex(ExprKind::Not(Box::new(v)), Type::Bool, span)
            }
            ast::ExprKind::Logic { op, operands } => self.check_logic(s, *op, operands, span),
            ast::ExprKind::Binary { op, lhs, rhs } => self.check_binary(s, *op, lhs, rhs, span),
            ast::ExprKind::In { element, collection } => self.check_in(s, element, collection, span),
            ast::ExprKind::IsSet { value, negated } => {
                let v = self.check_raw(s, value);
                let definite = matches!(v.kind, ExprKind::Evidence(_));
                if !matches!(v.ty, Type::Optional(_) | Type::Error) && !definite {
                    let text = self.text(ir::Loc { file: s.file, span: value.span }).to_string();
                    self.report(
                        Diagnostic::new(
                            Code::NotOptional,
                            s.file,
                            value.span,
                            format!("`{text}` is `{}`, which is always set", v.ty),
                        )
                        .with_help("`is set` applies to optional values (`T?`) and to evidence"),
                    );
                }
                ex(ExprKind::IsSet { value: Box::new(v), negated: *negated }, Type::Bool, span)
            }
            ast::ExprKind::Quantifier { kind, var, collection, body } => {
                self.check_quantifier(s, *kind, var, collection, body, span)
            }
            ast::ExprKind::Lambda { .. } => {
                self.report(
                    Diagnostic::new(
                        Code::LambdaMisplaced,
                        s.file,
                        span,
                        "a lambda (`x => …`) can only be an argument of `filter`",
                    )
                    .with_help(
                        "for a condition over a list, use `any x in xs: …`, `all x in xs: …` or `count x in xs: …`",
                    ),
                );
                error_expr(span)
            }
        }
    }

    fn check_list(&mut self, s: &mut Scope, items: &[ast::Expr], span: Span) -> ir::Expr {
        let mut out = Vec::with_capacity(items.len());
        let mut elem = Type::Never;
        for item in items {
            let v = self.check_expr(s, item);
            match elem.join(&v.ty) {
                Some(t) => elem = t,
                None => {
                    self.report(
                        Diagnostic::new(
                            Code::TypeMismatch,
                            s.file,
                            item.span,
                            format!("list elements must share one type: this is `{}`, earlier ones are `{elem}`", v.ty),
                        )
                        .with_label(format!("`{}`", v.ty)),
                    );
                    elem = Type::Error;
                }
            }
            out.push(v);
        }
        // Widen Int elements of a Decimal list so every element has the list's type.
        let out = out
            .into_iter()
            .map(|v| {
                if elem == Type::Decimal && v.ty == Type::Int {
                    self.coerce(s.file, v, &Type::Decimal, &"a list element")
                } else {
                    v
                }
            })
            .collect();
        ex(ExprKind::List(out), Type::list(elem), span)
    }

    fn check_name(&mut self, s: &mut Scope, name: &ast::Ident) -> ir::Expr {
        if let Some((id, ty)) = s.lookup(&name.name) {
            return ex(ExprKind::Local(id), ty, name.span);
        }
        if let Some(g) = self.groups.get(&name.name) {
            self.index.refer(s.file, name.span, Target::Group(g.id));
            return ex(ExprKind::Group(g.id), Type::set(Type::String), name.span);
        }
        let mut d = Diagnostic::new(Code::UnknownName, s.file, name.span, format!("unknown name `{}`", name.name))
            .with_label("not a variable, parameter or group");
        let mut candidates: Vec<String> = s.locals.iter().map(|(n, _, _)| n.clone()).collect();
        candidates.extend(self.groups.keys().cloned());
        let help = if self.evidence.contains_key(&name.name) {
            Some(format!("evidence is read through its root: `evidence.{}`", name.name))
        } else if self.context.contains_key(&name.name) || BUILTIN_CONTEXT_NAMES.contains(&name.name.as_str()) {
            Some(format!("context fields are read through their root: `context.{}`", name.name))
        } else if identity_fields().iter().any(|(n, _, _)| *n == name.name) {
            Some(format!("write `identity.{}`", name.name))
        } else if let ParamsScope::Tools(tools) = &s.params {
            let is_param = tools.iter().any(|t| self.bundle.tool(*t).is_some_and(|t| t.field(&name.name).is_some()));
            if is_param {
                Some(format!("parameters are read through their root: `params.{}`", name.name))
            } else {
                self.suggest(&name.name, candidates.iter()).map(|c| format!("did you mean `{c}`?"))
            }
        } else {
            self.suggest(&name.name, candidates.iter()).map(|c| format!("did you mean `{c}`?"))
        };
        if let Some(h) = help {
            d = d.with_help(h);
        }
        self.report(d);
        error_expr(name.span)
    }

    fn bare_root(&mut self, s: &Scope, root: Root, span: Span) -> ir::Expr {
        let help = match root {
            Root::Params => "name a parameter, e.g. `params.amount`",
            Root::Action => "the action's fields are `action.tool` and `action.operation`",
            Root::Identity => "name a field: `identity.human`, `.service`, `.agent`, `.session` or `.roles`",
            Root::Context => "name a field, e.g. `context.now` or `context.data_classes`",
            Root::Evidence => "name a declared fact, e.g. `evidence.maintenance_window_active`",
        };
        self.report(
            Diagnostic::new(
                Code::UnknownField,
                s.file,
                span,
                format!("`{}` cannot be used as a whole value", root.as_str()),
            )
            .with_help(help),
        );
        error_expr(span)
    }

    fn unknown_field(&mut self, file: FileId, field: &ast::Ident, owner: &str, known: Vec<String>) -> ir::Expr {
        let mut d =
            Diagnostic::new(Code::UnknownField, file, field.span, format!("{owner} has no field `{}`", field.name));
        d = match self.suggest(&field.name, known.iter()) {
            Some(c) => d.with_help(format!("did you mean `{c}`?")),
            None if known.is_empty() => d,
            None => d.with_help(format!("known fields: {}", known.join(", "))),
        };
        self.report(d);
        error_expr(field.span)
    }

    fn check_field(&mut self, s: &mut Scope, base: &ast::Expr, field: &ast::Ident, span: Span) -> ir::Expr {
        if let ast::ExprKind::Root(root) = base.kind {
            return self.check_root_field(s, root, field, span);
        }
        let b = self.check_expr(s, base);
        match &b.ty {
            Type::Error => error_expr(span),
            Type::Record(fields) => match fields.iter().position(|(n, _)| *n == field.name) {
                Some(i) => {
                    let ty = fields.get(i).map(|(_, t)| t.clone()).unwrap_or(Type::Error);
                    ex(ExprKind::Field { base: Box::new(b), index: to_u32(i), name: field.name.clone() }, ty, span)
                }
                None => {
                    let known = fields.iter().map(|(n, _)| n.clone()).collect();
                    let owner = format!("`{}`", b.ty);
                    self.unknown_field(s.file, field, &owner, known)
                }
            },
            other => {
                let is_method = method_specs(other).any(|spec| spec.0 == field.name);
                let mut d = Diagnostic::new(
                    Code::UnknownField,
                    s.file,
                    field.span,
                    format!("a `{other}` has no field `{}`", field.name),
                );
                if is_method {
                    d = d.with_help(format!("`{0}` is a method: call it as `.{0}()`", field.name));
                }
                self.report(d);
                error_expr(span)
            }
        }
    }

    fn check_root_field(&mut self, s: &mut Scope, root: Root, field: &ast::Ident, span: Span) -> ir::Expr {
        let file = s.file;
        match root {
            Root::Action => match field.name.as_str() {
                "tool" => ex(ExprKind::Action(ActionField::Tool), Type::String, span),
                "operation" => ex(ExprKind::Action(ActionField::Operation), Type::String, span),
                _ => self.unknown_field(file, field, "`action`", vec!["tool".into(), "operation".into()]),
            },
            Root::Identity => match identity_fields().into_iter().find(|(n, _, _)| *n == field.name) {
                Some((_, f, ty)) => ex(ExprKind::Identity(f), ty, span),
                None => {
                    let known = identity_fields().iter().map(|(n, _, _)| n.to_string()).collect();
                    self.unknown_field(file, field, "`identity`", known)
                }
            },
            Root::Context => {
                if let Some((f, ty)) = builtin_context_field(&field.name) {
                    return ex(ExprKind::Context(f), ty, span);
                }
                if let Some(decl) = self.context.get(&field.name) {
                    let id = decl.id;
                    self.index.refer(file, field.span, Target::Context(id));
                    let ty = self.bundle.context_fields.get(id.index()).map(|f| f.ty.clone()).unwrap_or(Type::Error);
                    return ex(ExprKind::Context(ContextField::Declared(id)), ty, span);
                }
                let mut known: Vec<String> = BUILTIN_CONTEXT_NAMES.iter().map(|n| n.to_string()).collect();
                known.extend(self.bundle.context_fields.iter().map(|f| f.name.clone()));
                let r = self.unknown_field(file, field, "`context`", known);
                if let Some(d) = self.diags.last_mut() {
                    if d.help.is_none() {
                        d.help = Some(format!("declare it: `context {{ {}: Type }}`", field.name));
                    }
                }
                r
            }
            Root::Evidence => match self.evidence.get(&field.name) {
                Some(decl) => {
                    let id = decl.id;
                    self.index.refer(file, field.span, Target::Evidence(id));
                    let ty = self.bundle.evidence.get(id.index()).map(|e| e.ty.clone()).unwrap_or(Type::Error);
                    ex(ExprKind::Evidence(id), ty, span)
                }
                None => {
                    let mut d = Diagnostic::new(
                        Code::UnknownEvidence,
                        file,
                        field.span,
                        format!("unknown evidence `{}`", field.name),
                    );
                    d = match self.suggest_declared(Table::Evidence, &field.name) {
                        Some(c) => d.with_help(format!("did you mean `{c}`?")),
                        None => d.with_help(format!("declare it: `evidence {}: Bool from \"source\"`", field.name)),
                    };
                    self.report(d);
                    error_expr(span)
                }
            },
            Root::Params => self.check_param(s, field, span),
        }
    }

    pub(super) fn check_param(&mut self, s: &Scope, field: &ast::Ident, span: Span) -> ir::Expr {
        let tools = match &s.params {
            ParamsScope::Tools(t) => t.clone(),
            ParamsScope::AnyTool => {
                self.report(
                    Diagnostic::new(
                        Code::ParamsUnavailable,
                        s.file,
                        span,
                        "`params` is not available in a rule `on *`",
                    )
                    .with_label("the action may be any tool, so its parameters are unknown")
                    .with_help("name the tools the rule applies to: `on tool_a, tool_b`"),
                );
                return error_expr(span);
            }
            ParamsScope::Unresolved => return error_expr(span),
            ParamsScope::Settings => {
                self.report(
                    Diagnostic::new(
                        Code::ParamsUnavailable,
                        s.file,
                        span,
                        "`params` is not available in `settings`: a step-up there has no parameter to cap",
                    )
                    .with_label("a default for every rule, so for any tool")
                    .with_help(format!(
                        "write the step-up with `limits {}` in the rules of the tools that have it",
                        field.name
                    )),
                );
                return error_expr(span);
            }
            ParamsScope::Function => {
                self.report(
                    Diagnostic::new(Code::ParamsUnavailable, s.file, span, "`params` is not available in a `fn`")
                        .with_help(format!(
                            "pass the value as an argument: `fn f(x: T)` called as `f(params.{})`",
                            field.name
                        )),
                );
                return error_expr(span);
            }
        };
        let mut ty: Option<Type> = None;
        let mut lacking = Vec::new();
        let mut differing = false;
        for t in &tools {
            let Some(tool) = self.bundle.tool(*t) else { continue };
            match tool.field(&field.name) {
                Some((i, f)) => {
                    self.index.refer(s.file, field.span, Target::Field(*t, to_u32(i)));
                    match &ty {
                        None => ty = Some(f.ty.clone()),
                        Some(existing) if *existing != f.ty => differing = true,
                        Some(_) => {}
                    }
                }
                None => lacking.push(tool.name.clone()),
            }
        }
        match ty {
            None => {
                let known: Vec<String> = tools
                    .first()
                    .and_then(|t| self.bundle.tool(*t))
                    .map(|t| t.fields.iter().map(|f| f.name.clone()).collect())
                    .unwrap_or_default();
                let owner = match tools.as_slice() {
                    [one] => format!("tool `{}`", self.bundle.tool(*one).map(|t| t.name.as_str()).unwrap_or("?")),
                    _ => "the rule's tools".to_string(),
                };
                self.unknown_field(s.file, field, &owner, known)
            }
            Some(_) if !lacking.is_empty() => {
                self.report(
                    Diagnostic::new(
                        Code::FieldNotShared,
                        s.file,
                        field.span,
                        format!("`params.{}` is not a field of every tool of this rule", field.name),
                    )
                    .with_label(format!(
                        "missing in {}",
                        lacking.iter().map(|n| format!("`{n}`")).collect::<Vec<_>>().join(", ")
                    ))
                    .with_help("a rule on several tools sees only the fields they share; split the rule per tool"),
                );
                error_expr(span)
            }
            Some(_) if differing => {
                self.report(
                    Diagnostic::new(
                        Code::FieldNotShared,
                        s.file,
                        field.span,
                        format!("`params.{}` has different types in the rule's tools", field.name),
                    )
                    .with_help("a rule on several tools sees only the fields they share with one type; split the rule per tool"),
                );
                error_expr(span)
            }
            Some(ty) => ex(ExprKind::Param(field.name.clone()), ty, span),
        }
    }

    fn check_logic(&mut self, s: &mut Scope, op: LogicOp, operands: &[ast::Expr], span: Span) -> ir::Expr {
        let saved = s.facts.clone();
        let mut out = Vec::with_capacity(operands.len());
        let word = if op == LogicOp::And { "an operand of `and`" } else { "an operand of `or`" };
        for o in operands {
            let v = self.check_bool(s, o, &word);
            // `a and b`: b is checked knowing a holds; `a or b`: knowing a does not.
            let learned = facts_when(&v, op == LogicOp::And);
            s.facts.extend(learned);
            out.push(v);
        }
        s.facts = saved;
        let op = if op == LogicOp::And { ir::LogicOp::And } else { ir::LogicOp::Or };
        ex(ExprKind::Logic { op, operands: out }, Type::Bool, span)
    }

    fn check_binary(&mut self, s: &mut Scope, op: BinOp, lhs: &ast::Expr, rhs: &ast::Expr, span: Span) -> ir::Expr {
        let l = self.check_expr(s, lhs);
        let r = self.check_expr(s, rhs);
        if l.ty.contains_error() || r.ty.contains_error() {
            let ty = if op.is_comparison() { Type::Bool } else { Type::Error };
            return ex(ExprKind::Compare { op, lhs: Box::new(l), rhs: Box::new(r) }, ty, span);
        }
        if op.is_comparison() {
            let Some(joined) = l.ty.join(&r.ty) else {
                let mut d = Diagnostic::new(
                    Code::TypeMismatch,
                    s.file,
                    rhs.span,
                    format!("cannot compare `{}` with `{}`", l.ty, r.ty),
                )
                .with_label(format!("`{}`", r.ty))
                .with_secondary(s.file, lhs.span, format!("`{}`", l.ty));
                let quoted_number =
                    |e: &ast::Expr| matches!(&e.kind, ast::ExprKind::Str(v) if v.parse::<f64>().is_ok());
                if quoted_number(rhs) || quoted_number(lhs) {
                    d = d.with_help("numbers are written without quotes, e.g. `100`");
                } else if l.ty.is_numeric() && r.ty.is_numeric() {
                    d = d.with_help("a `Decimal` never narrows to `Int`");
                }
                self.report(d);
                return error_expr(span);
            };
            let ordered = !matches!(op, BinOp::Eq | BinOp::Ne);
            if ordered && !joined.is_ordered() {
                self.report(
                    Diagnostic::new(
                        Code::NotComparable,
                        s.file,
                        span,
                        format!("`{}` cannot be ordered with `{}`", joined, op.as_str()),
                    )
                    .with_help("`<`, `<=`, `>`, `>=` compare numbers, strings, durations and times"),
                );
                return error_expr(span);
            }
            let l = self.coerce(s.file, l, &joined, &"this comparison");
            let r = self.coerce(s.file, r, &joined, &"this comparison");
            return ex(ExprKind::Compare { op, lhs: Box::new(l), rhs: Box::new(r) }, Type::Bool, span);
        }
        use Type::*;
        let (arith, ty) = match (op, &l.ty, &r.ty) {
            (BinOp::Add, Int, Int) => (Arith::IntAdd, Int),
            (BinOp::Sub, Int, Int) => (Arith::IntSub, Int),
            (BinOp::Mul, Int, Int) => (Arith::IntMul, Int),
            (BinOp::Div, Int, Int) => (Arith::IntDiv, Int),
            (BinOp::Add, Int | Decimal, Int | Decimal) => (Arith::DecAdd, Decimal),
            (BinOp::Sub, Int | Decimal, Int | Decimal) => (Arith::DecSub, Decimal),
            (BinOp::Mul, Int | Decimal, Int | Decimal) => (Arith::DecMul, Decimal),
            (BinOp::Div, Int | Decimal, Int | Decimal) => (Arith::DecDiv, Decimal),
            (BinOp::Add, String, String) => (Arith::Concat, String),
            (BinOp::Add, Time, Duration) | (BinOp::Add, Duration, Time) => (Arith::TimeAddDur, Time),
            (BinOp::Sub, Time, Duration) => (Arith::TimeSubDur, Time),
            (BinOp::Sub, Time, Time) => (Arith::TimeSubTime, Duration),
            (BinOp::Add, Duration, Duration) => (Arith::DurAdd, Duration),
            (BinOp::Sub, Duration, Duration) => (Arith::DurSub, Duration),
            (BinOp::Mul, Duration, Int) | (BinOp::Mul, Int, Duration) => (Arith::DurMulInt, Duration),
            (BinOp::Div, Duration, Int) => (Arith::DurDivInt, Duration),
            _ => {
                let help = match (op, &l.ty, &r.ty) {
                    (BinOp::Add, String, _) | (BinOp::Add, _, String) => {
                        "`+` joins two strings; both sides must be `String`"
                    }
                    (_, Bool, _) | (_, _, Bool) => "combine conditions with `and` / `or`",
                    _ => "arithmetic applies to numbers, to durations, and to times with durations",
                };
                self.report(
                    Diagnostic::new(
                        Code::InvalidOperands,
                        s.file,
                        span,
                        format!("`{}` cannot be applied to `{}` and `{}`", op.as_str(), l.ty, r.ty),
                    )
                    .with_secondary(s.file, lhs.span, format!("`{}`", l.ty))
                    .with_secondary(s.file, rhs.span, format!("`{}`", r.ty))
                    .with_help(help),
                );
                return error_expr(span);
            }
        };
        let (l, r) = if ty == Decimal {
            (self.coerce(s.file, l, &Decimal, &"arithmetic"), self.coerce(s.file, r, &Decimal, &"arithmetic"))
        } else {
            (l, r)
        };
        ex(ExprKind::Arith { op: arith, lhs: Box::new(l), rhs: Box::new(r) }, ty, span)
    }

    fn check_in(&mut self, s: &mut Scope, element: &ast::Expr, collection: &ast::Expr, span: Span) -> ir::Expr {
        let el = self.check_expr(s, element);
        let coll = self.check_expr(s, collection);
        let Some(want) = coll.ty.element().cloned() else {
            if !coll.ty.is_error() {
                let mut d = Diagnostic::new(
                    Code::TypeMismatch,
                    s.file,
                    collection.span,
                    format!("`in` needs a list, a set or a group on its right, found `{}`", coll.ty),
                );
                if coll.ty == Type::String {
                    d = d.with_help("for a substring, write `s.contains(\"…\")`");
                }
                self.report(d);
            }
            return ex(ExprKind::In { element: Box::new(el), collection: Box::new(coll) }, Type::Bool, span);
        };
        let el = if want == Type::Never { el } else { self.coerce(s.file, el, &want, &"`in`") };
        ex(ExprKind::In { element: Box::new(el), collection: Box::new(coll) }, Type::Bool, span)
    }

    fn check_quantifier(
        &mut self,
        s: &mut Scope,
        kind: QuantKind,
        var: &ast::Ident,
        collection: &ast::Expr,
        body: &ast::Expr,
        span: Span,
    ) -> ir::Expr {
        let coll = self.check_expr(s, collection);
        let el = match coll.ty.element() {
            Some(Type::Never) => Type::Error,
            Some(t) => t.clone(),
            None => {
                if !coll.ty.is_error() {
                    self.report(
                        Diagnostic::new(
                            Code::TypeMismatch,
                            s.file,
                            collection.span,
                            format!("`{}` ranges over a list or a set, found `{}`", kind.as_str(), coll.ty),
                        )
                        .with_label(format!("`{}`", coll.ty)),
                    );
                }
                Type::Error
            }
        };
        let id = s.bind(&var.name, el);
        let b = self.check_bool(s, body, &format_args!("the condition of `{}`", kind.as_str()));
        s.unbind();
        let ty = if kind == QuantKind::Count { Type::Int } else { Type::Bool };
        ex(ExprKind::Quantifier { kind, var: id, collection: Box::new(coll), body: Box::new(b) }, ty, span)
    }

    fn check_method(
        &mut self,
        s: &mut Scope,
        receiver: &ast::Expr,
        method: &ast::Ident,
        args: &[ast::Expr],
        span: Span,
    ) -> ir::Expr {
        let recv = self.check_expr(s, receiver);
        if recv.ty.contains_error() {
            for a in args {
                if !matches!(a.kind, ast::ExprKind::Lambda { .. }) {
                    self.check_expr(s, a);
                }
            }
            return error_expr(span);
        }
        let Some((name, m, params, ret)) = method_named(&recv.ty, &method.name) else {
            let names: Vec<String> = method_specs(&recv.ty).map(|spec| spec.0.to_string()).collect();
            let mut d = Diagnostic::new(
                Code::UnknownMethod,
                s.file,
                method.span,
                format!("a `{}` has no method `{}`", recv.ty, method.name),
            );
            d = match self.suggest(&method.name, names.iter()) {
                Some(c) => d.with_help(format!("did you mean `{c}`?")),
                None if names.is_empty() => d.with_help(format!("values of type `{}` have no methods", recv.ty)),
                None => d.with_help(format!("methods of `{}`: {}", recv.ty, names.join(", "))),
            };
            self.report(d);
            return error_expr(span);
        };
        if name == "filter" {
            return self.check_filter(s, recv, args, span);
        }
        if args.len() != params.len() {
            self.report(
                wrong_argument_count(s.file, span, name, params.len(), args.len())
                    .with_help(signature(name, &params, &ret)),
            );
            return error_expr(span);
        }
        let mut m = m;
        let mut out = Vec::with_capacity(args.len());
        for (a, want) in args.iter().zip(&params) {
            if let Method::Matches(_) = m {
                match &a.kind {
                    ast::ExprKind::Str(pattern) => match pattern_verdict(pattern) {
                        Ok(()) => m = Method::Matches(pattern.clone()),
                        Err(detail) => {
                            self.report(
                                Diagnostic::new(
                                    Code::InvalidRegex,
                                    s.file,
                                    a.span,
                                    format!("invalid regular expression: {detail}"),
                                )
                                .with_help(
                                    "patterns use Rust `regex` syntax; in a string, a backslash is written `\\\\`",
                                ),
                            );
                        }
                    },
                    _ => {
                        self.report(
                            Diagnostic::new(
                                Code::NotConstant,
                                s.file,
                                a.span,
                                "the pattern of `matches` must be a string literal",
                            )
                            .with_help("patterns are compiled and checked once, at compile time: write it as \"^…$\""),
                        );
                    }
                }
            }
            if matches!(a.kind, ast::ExprKind::Lambda { .. }) {
                self.check_raw(s, a);
                continue;
            }
            let v = self.check_expr(s, a);
            // contains_any / contains_all take a list or a set of the element type.
            let want = match (&m, &v.ty) {
                (Method::Op(MethodOp::ContainsAny) | Method::Op(MethodOp::ContainsAll), Type::Set(_)) => match want {
                    Type::List(e) => Type::Set(e.clone()),
                    other => other.clone(),
                },
                _ => want.clone(),
            };
            out.push(self.coerce(s.file, v, &want, &format_args!("`{name}`")));
        }
        ex(ExprKind::Method { method: m, receiver: Box::new(recv), args: out }, ret, span)
    }

    fn check_filter(&mut self, s: &mut Scope, recv: ir::Expr, args: &[ast::Expr], span: Span) -> ir::Expr {
        let ty = recv.ty.clone();
        let [arg] = args else {
            self.report(
                Diagnostic::new(Code::WrongArgumentCount, s.file, span, "`filter` takes one argument, a lambda")
                    .with_help("write `xs.filter(x => CONDITION)`"),
            );
            return error_expr(span);
        };
        let ast::ExprKind::Lambda { param, body } = &arg.kind else {
            self.report(
                Diagnostic::new(Code::TypeMismatch, s.file, arg.span, "`filter` expects a lambda")
                    .with_help("write `xs.filter(x => CONDITION)`"),
            );
            return error_expr(span);
        };
        let el = match ty.element() {
            Some(Type::Never) | None => Type::Error,
            Some(t) => t.clone(),
        };
        let id = s.bind(&param.name, el);
        let pred = self.check_bool(s, body, &"the condition of `filter`");
        s.unbind();
        ex(ExprKind::Filter { var: id, collection: Box::new(recv), predicate: Box::new(pred) }, ty, span)
    }

    fn check_call(&mut self, s: &mut Scope, callee: &ast::Ident, args: &[ast::Expr], span: Span) -> ir::Expr {
        let Some(decl) = self.fns.get(&callee.name).copied() else {
            let mut d = Diagnostic::new(
                Code::UnknownFunction,
                s.file,
                callee.span,
                format!("unknown function `{}`", callee.name),
            );
            d = match self.suggest_declared(Table::Fns, &callee.name) {
                Some(c) => d.with_help(format!("did you mean `{c}`?")),
                None => d.with_help("declare it with `fn NAME(x: T) -> R = …`, or `use` the std module that has it"),
            };
            self.report(d);
            for a in args {
                self.check_expr(s, a);
            }
            return error_expr(span);
        };
        self.index.refer(s.file, callee.span, Target::Fn(decl.id));
        let (params, ret) = match self.bundle.fns.get(decl.id.index()) {
            Some(f) => (f.params.clone(), f.ret.clone()),
            None => (Vec::new(), Type::Error),
        };
        if args.len() != params.len() {
            let sig = format!(
                "{}({}) -> {ret}",
                callee.name,
                params.iter().map(|(n, t)| format!("{n}: {t}")).collect::<Vec<_>>().join(", ")
            );
            self.report(
                wrong_argument_count(s.file, span, &callee.name, params.len(), args.len())
                    .with_secondary(decl.loc.file, decl.loc.span, "declared here")
                    .with_help(format!("the signature is `{sig}`")),
            );
            return error_expr(span);
        }
        let mut out = Vec::with_capacity(args.len());
        for (a, (pname, pty)) in args.iter().zip(&params) {
            let v = self.check_expr(s, a);
            out.push(self.coerce(s.file, v, pty, &format_args!("parameter `{pname}` of `{}`", callee.name)));
        }
        ex(ExprKind::Call { func: decl.id, args: out }, ret, span)
    }
}

/// "`NAME` takes N arguments, but M were given": a method's or a function's call alike.
fn wrong_argument_count(file: FileId, span: Span, name: &str, wanted: usize, given: usize) -> Diagnostic {
    let message = format!("`{name}` takes {wanted} argument{}, but {given} {} given", plural(wanted), were(given));
    Diagnostic::new(Code::WrongArgumentCount, file, span, message)
}

fn plural(n: usize) -> &'static str {
    if n == 1 {
        ""
    } else {
        "s"
    }
}

fn were(n: usize) -> &'static str {
    if n == 1 {
        "was"
    } else {
        "were"
    }
}

fn signature(name: &str, params: &[Type], ret: &Type) -> String {
    let ps: Vec<String> = params.iter().map(ToString::to_string).collect();
    format!("the signature is `.{name}({}) -> {ret}`", ps.join(", "))
}

/// The methods a value of type `ty` has, each with its signature `.name(T) -> R` (for an editor's
/// completion: the same table the checker resolves calls with).
pub fn method_signatures(ty: &Type) -> Vec<(&'static str, String)> {
    methods_for(ty)
        .into_iter()
        .map(|(name, _, params, ret)| {
            let ps: Vec<String> = params.iter().map(ToString::to_string).collect();
            (name, format!(".{name}({}) -> {ret}", ps.join(", ")))
        })
        .collect()
}

/// The compiled-size limit of a `matches` pattern the checker accepts: a quarter of what the
/// runtime's verifier allows a bundle (`REGEX_SIZE_LIMIT`, 4 MiB), so that every pattern the
/// checker accepts also loads.
const PATTERN_SIZE_LIMIT: usize = 1 << 20;

/// Whether `pattern` compiles as a `matches` pattern within [`PATTERN_SIZE_LIMIT`], and the
/// reason (the last line of the regex crate's message) when it does not.
fn compile_pattern(pattern: &str) -> Result<(), String> {
    match regex::RegexBuilder::new(pattern).size_limit(PATTERN_SIZE_LIMIT).build() {
        Ok(_) => Ok(()),
        Err(e) => Err(e.to_string().lines().last().unwrap_or("").trim().to_string()),
    }
}

/// At most this many verdicts are remembered (see [`pattern_verdict`]).
const REMEMBERED_PATTERNS: usize = 64;
/// Longer patterns are not remembered: the memo stays within 64 KiB of patterns.
const REMEMBERED_PATTERN_BYTES: usize = 1024;

/// [`compile_pattern`], remembered for the life of the process. Compiling a pattern is costly,
/// and the same patterns come back: `std.net`'s and `std.text`'s in every bundle that uses them,
/// a policy's own each time an editor or the fuzzers check it again. The verdict (accepted, or
/// the error detail) depends on the pattern alone, so a remembered one is the one compiling
/// would give. The memo is bounded: at most [`REMEMBERED_PATTERNS`] patterns of at most
/// [`REMEMBERED_PATTERN_BYTES`], emptied when full.
fn pattern_verdict(pattern: &str) -> Result<(), String> {
    type Memo = Vec<(String, Result<(), String>)>;
    static MEMO: std::sync::Mutex<Memo> = std::sync::Mutex::new(Vec::new());
    if pattern.len() > REMEMBERED_PATTERN_BYTES {
        return compile_pattern(pattern);
    }
    // A poisoned lock (a panic elsewhere while holding it) only costs the memo.
    if let Ok(memo) = MEMO.lock() {
        if let Some((_, verdict)) = memo.iter().find(|(p, _)| p == pattern) {
            return verdict.clone();
        }
    }
    // Compiled without holding the lock: another thread may compile the same pattern meanwhile,
    // and whichever verdict is stored is the same.
    let verdict = compile_pattern(pattern);
    if let Ok(mut memo) = MEMO.lock() {
        if !memo.iter().any(|(p, _)| p == pattern) {
            if memo.len() >= REMEMBERED_PATTERNS {
                memo.clear();
            }
            memo.push((pattern.to_string(), verdict.clone()));
        }
    }
    verdict
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A remembered verdict is the verdict: for a valid pattern, a malformed one, one past the
    /// size limit and one too long to be remembered, the first and later answers match compiling
    /// afresh, also after the memo has filled up and been emptied.
    /// The table as it was built before [`method_specs`]: every entry, allocated on each call.
    /// Receiver type → (method, argument types, result type). `None` argument type: the lambda of
    /// `filter`. Kept in one table so that "unknown method" can list what exists.
    fn methods_for_before(ty: &Type) -> Vec<(&'static str, Method, Vec<Type>, Type)> {
        match ty {
            Type::String => vec![
                ("starts_with", Method::Op(MethodOp::StartsWith), vec![Type::String], Type::Bool),
                ("ends_with", Method::Op(MethodOp::EndsWith), vec![Type::String], Type::Bool),
                ("contains", Method::Op(MethodOp::StrContains), vec![Type::String], Type::Bool),
                ("lower", Method::Op(MethodOp::Lower), vec![], Type::String),
                ("upper", Method::Op(MethodOp::Upper), vec![], Type::String),
                ("trim", Method::Op(MethodOp::Trim), vec![], Type::String),
                ("matches", Method::Matches(String::new()), vec![Type::String], Type::Bool),
                ("glob", Method::Op(MethodOp::Glob), vec![Type::String], Type::Bool),
                ("len", Method::Op(MethodOp::StrLen), vec![], Type::Int),
                ("split", Method::Op(MethodOp::Split), vec![Type::String], Type::list(Type::String)),
                ("in_cidr", Method::Op(MethodOp::InCidr), vec![Type::String], Type::Bool),
                ("is_ip", Method::Op(MethodOp::IsIp), vec![], Type::Bool),
                ("utc_offset", Method::Op(MethodOp::UtcOffset), vec![], Type::Duration),
                ("url_scheme", Method::Op(MethodOp::UrlScheme), vec![], Type::String),
                ("url_host", Method::Op(MethodOp::UrlHost), vec![], Type::String),
                ("url_port", Method::Op(MethodOp::UrlPort), vec![], Type::Int),
                ("url_path", Method::Op(MethodOp::UrlPath), vec![], Type::String),
                ("url_query", Method::Op(MethodOp::UrlQuery), vec![], Type::String),
            ],
            Type::List(el) | Type::Set(el) => {
                // The element type of `[]` fits any argument.
                let el = if **el == Type::Never { Type::Error } else { (**el).clone() };
                let mut methods = vec![
                    ("len", Method::Op(MethodOp::Len), vec![], Type::Int),
                    ("contains", Method::Op(MethodOp::Contains), vec![el.clone()], Type::Bool),
                    ("contains_any", Method::Op(MethodOp::ContainsAny), vec![Type::list(el.clone())], Type::Bool),
                    ("contains_all", Method::Op(MethodOp::ContainsAll), vec![Type::list(el.clone())], Type::Bool),
                    ("filter", Method::Op(MethodOp::Len), vec![], ty.clone()),
                ];
                // Positions mean something in a list only: a set has no order to speak of.
                if matches!(ty, Type::List(_)) {
                    methods.push(("at", Method::Op(MethodOp::At), vec![Type::Int], el.clone()));
                    methods.push(("index_of", Method::Op(MethodOp::IndexOf), vec![el], Type::Int));
                }
                methods
            }
            Type::Time => vec![
                ("hour", Method::Op(MethodOp::Hour), vec![], Type::Int),
                ("minute", Method::Op(MethodOp::Minute), vec![], Type::Int),
                ("weekday", Method::Op(MethodOp::Weekday), vec![], Type::Int),
                ("offset_in", Method::Op(MethodOp::OffsetIn), vec![Type::String], Type::Duration),
            ],
            Type::Duration => vec![("seconds", Method::Op(MethodOp::Seconds), vec![], Type::Int)],
            _ => vec![],
        }
    }

    /// The types the table is asked about: every receiver shape, and some without methods.
    fn receivers() -> Vec<Type> {
        let scalars = [Type::Bool, Type::Int, Type::Decimal, Type::String, Type::Duration, Type::Time];
        let mut out: Vec<Type> = scalars.to_vec();
        out.extend([Type::Never, Type::Error, Type::optional(Type::String)]);
        out.push(Type::Record(vec![("a".into(), Type::Int)]));
        for el in
            scalars.iter().cloned().chain([Type::Never, Type::Error, Type::Record(vec![("b".into(), Type::String)])])
        {
            out.push(Type::list(el.clone()));
            out.push(Type::set(el.clone()));
            out.push(Type::list(Type::list(el)));
        }
        out
    }

    /// The static table gives the entries the allocated one gave, in the same order, and a
    /// lookup by name finds the entry a search of the whole table found.
    #[test]
    fn the_method_table_is_the_former_one() {
        for ty in receivers() {
            let before = methods_for_before(&ty);
            assert_eq!(methods_for(&ty), before, "{ty}");
            let mut names: Vec<&str> = before.iter().map(|(n, ..)| *n).collect();
            names.extend(["", "x", "Len", "lenx", "filter", "matches", "at", "seconds", "hour"]);
            for name in names {
                let found = before.iter().find(|(n, ..)| *n == name).cloned();
                assert_eq!(method_named(&ty, name), found, "{ty}.{name}");
                assert_eq!(method_specs(&ty).any(|spec| spec.0 == name), found.is_some(), "{ty}.{name}");
            }
        }
    }

    #[test]
    fn remembered_pattern_verdicts_are_the_compiled_ones() {
        let long = format!("({}", "a".repeat(REMEMBERED_PATTERN_BYTES));
        let mut patterns = vec!["^\\s*$".to_string(), "(unclosed".into(), "\\w{1000}".into(), "x{2}{3}".into(), long];
        patterns.extend((0..REMEMBERED_PATTERNS + 3).map(|i| format!("^a{{{i}}}[")));
        patterns.extend((0..REMEMBERED_PATTERNS + 3).map(|i| format!("^a{{{i}}}$")));
        for _ in 0..2 {
            for pattern in &patterns {
                assert_eq!(pattern_verdict(pattern), compile_pattern(pattern), "{pattern}");
            }
        }
        assert!(compile_pattern("(unclosed").is_err());
        assert!(compile_pattern("\\w{1000}").is_err());
    }
}

//! `@redact` marks (docs/language.md, "Sensitive fields"): the paths of the marked fields of a
//! tool (`params.body`, `params.card.number`) and of the context (`context.ssn`), and an error
//! for a mark anywhere a path cannot reach (an evidence or function type, a list's elements).

use super::Checker;
use aarm_lang::ast::{self, TypeExprKind};
use aarm_lang::{Code, Diagnostic, FileId};

impl Checker<'_> {
    /// The paths under `root` (`params` or `context`) of the fields marked `@redact`, nested
    /// record fields included (through `?`). A marked record is redacted whole, so marks inside
    /// it add nothing.
    pub(super) fn redacted_paths(&mut self, file: FileId, root: &str, fields: &[ast::FieldDecl]) -> Vec<String> {
        let mut out = Vec::new();
        self.collect_redacted(file, root, fields, &mut out);
        out
    }

    fn collect_redacted(&mut self, file: FileId, prefix: &str, fields: &[ast::FieldDecl], out: &mut Vec<String>) {
        for f in fields {
            // The path is written only for a field that is redacted or that has fields of its own.
            let path = || format!("{prefix}.{}", f.name.name);
            if f.redact.is_some() {
                let path = path();
                if !out.contains(&path) {
                    out.push(path);
                }
            }
            match &f.ty.kind {
                TypeExprKind::Record(inner) if f.redact.is_none() => self.collect_redacted(file, &path(), inner, out),
                TypeExprKind::Record(_) => {}
                TypeExprKind::Named { arg: Some(element), .. } => {
                    self.refuse_redact_in(file, element, &Place::ListElement)
                }
                TypeExprKind::Named { arg: None, .. } => {}
            }
        }
    }

    /// Reports every `@redact` inside `ty`, written where no path reaches.
    pub(super) fn refuse_redact_in(&mut self, file: FileId, ty: &ast::TypeExpr, place: &Place<'_>) {
        let fields = match &ty.kind {
            TypeExprKind::Record(fields) => fields,
            TypeExprKind::Named { arg: Some(inner), .. } => return self.refuse_redact_in(file, inner, place),
            TypeExprKind::Named { arg: None, .. } => return,
        };
        for f in fields {
            if let Some(span) = f.redact {
                let d = Diagnostic::new(Code::RedactMisplaced, file, span, place.message(&f.name.name))
                    .with_label("no record of a request can reach this field")
                    .with_help(place.help());
                self.report(d);
            }
            self.refuse_redact_in(file, &f.ty, place);
        }
    }
}

/// Where a misplaced `@redact` was written.
pub(super) enum Place<'a> {
    /// Inside the element type of a `List` or `Set` field of a tool or the context.
    ListElement,
    /// In the type of evidence `NAME`.
    Evidence(&'a str),
    /// In a function's parameter or return type.
    Function(&'a str),
}

impl Place<'_> {
    fn message(&self, field: &str) -> String {
        match self {
            Place::ListElement => format!("`@redact` on field `{field}` of a list's elements"),
            Place::Evidence(name) => format!("`@redact` on field `{field}` in the type of evidence `{name}`"),
            Place::Function(name) => format!("`@redact` on field `{field}` in a type of function `{name}`"),
        }
    }

    fn help(&self) -> &'static str {
        match self {
            Place::ListElement => {
                "a list's elements have no path of their own: mark the list field itself (`items: List<{ ... }> @redact`)"
            }
            Place::Evidence(_) | Place::Function(_) => {
                "`@redact` marks the fields of a `tool` or of `context` (nested record fields included); remove it here"
            }
        }
    }
}

impl Checker<'_> {
    /// The marked paths a rule on `targets` can read: its tools' and the context's.
    pub(super) fn redacted_for(&self, targets: &ast::Targets) -> Vec<String> {
        let redact = &self.bundle.settings.redact;
        match targets {
            ast::Targets::All(_) => redact.context.clone(),
            ast::Targets::Tools(tools) => {
                let mut out: Vec<String> = Vec::new();
                for path in tools.iter().flat_map(|t| redact.paths_for(&t.name)) {
                    if !out.contains(&path) {
                        out.push(path);
                    }
                }
                out
            }
        }
    }

    /// A reason message is copied into receipts, notifications and the inbox: an interpolation
    /// that reads a marked field (or a record holding one) would print the value there.
    pub(super) fn refuse_redacted_in_reason(&mut self, file: FileId, e: &ast::Expr, marked: &[String]) {
        if marked.is_empty() {
            return;
        }
        let mut reads = Vec::new();
        field_reads(e, &mut reads);
        for (path, span) in reads {
            let hit = marked
                .iter()
                .find(|m| **m == path || m.starts_with(&format!("{path}.")) || path.starts_with(&format!("{m}.")));
            if let Some(m) = hit {
                let d = Diagnostic::new(
                    Code::RedactedInReason,
                    file,
                    span,
                    format!("the reason message shows `{path}`, and `{m}` is marked `@redact`"),
                )
                .with_label("its value would be printed in receipts, notifications and the inbox")
                .with_help("leave the value out of the message; rules may still test it in `when`");
                self.report(d);
            }
        }
    }
}

/// The `params.…` or `context.…` path a chain of field accesses reads.
fn path_of(e: &ast::Expr) -> Option<String> {
    match &e.kind {
        ast::ExprKind::Root(root @ (ast::Root::Params | ast::Root::Context)) => Some(root.as_str().to_string()),
        ast::ExprKind::Field { base, field } => path_of(base).map(|p| format!("{p}.{}", field.name)),
        ast::ExprKind::Paren(inner) => path_of(inner),
        _ => None,
    }
}

/// Every `params`/`context` path `e` reads, outermost first.
fn field_reads(e: &ast::Expr, out: &mut Vec<(String, aarm_lang::Span)>) {
    if let Some(path) = path_of(e) {
        out.push((path, e.span));
        return;
    }
    use ast::ExprKind as K;
    match &e.kind {
        K::Bool(_) | K::Int(_) | K::Decimal(_) | K::Str(_) | K::Duration(_) | K::Name(_) | K::Root(_) | K::Error => {}
        K::List(items) => items.iter().for_each(|x| field_reads(x, out)),
        K::Record(fields) => fields.iter().for_each(|f| field_reads(&f.value, out)),
        K::Field { base, .. } => field_reads(base, out),
        K::Method { receiver, args, .. } => {
            field_reads(receiver, out);
            args.iter().for_each(|x| field_reads(x, out));
        }
        K::Call { args, .. } => args.iter().for_each(|x| field_reads(x, out)),
        K::Neg(x) | K::Not(x) | K::Paren(x) => field_reads(x, out),
        K::Binary { lhs, rhs, .. } => {
            field_reads(lhs, out);
            field_reads(rhs, out);
        }
        K::Logic { operands, .. } => operands.iter().for_each(|x| field_reads(x, out)),
        K::In { element, collection } => {
            field_reads(element, out);
            field_reads(collection, out);
        }
        K::IsSet { value, .. } => field_reads(value, out),
        K::Quantifier { collection, body, .. } => {
            field_reads(collection, out);
            field_reads(body, out);
        }
        K::Lambda { body, .. } => field_reads(body, out),
    }
}

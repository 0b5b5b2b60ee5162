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
            let path = format!("{prefix}.{}", f.name.name);
            if f.redact.is_some() && !out.contains(&path) {
                out.push(path.clone());
            }
            match &f.ty.kind {
                TypeExprKind::Record(inner) if f.redact.is_none() => self.collect_redacted(file, &path, inner, out),
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

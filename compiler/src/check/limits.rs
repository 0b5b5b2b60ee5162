//! `step_up { limits amount, count }`: the parameters an approver may cap (`aarm case approve …
//! --max amount=5000`; docs/language.md, "Bounded approvals"). Each is named as after `params.`:
//! a parameter every tool of the rule has (E0101 unknown, E0113 not shared; no parameter is
//! known in a rule `on *` or in `settings`, E0111), and one an approver can cap (E0310): a
//! number every call carries, that the action hash covers and that is not marked `@redact`.

use super::expr::{ParamsScope, Scope};
use super::Checker;
use crate::types::Type;
use aarm_lang::ast;
use aarm_lang::{Code, Diagnostic, FileId};

/// What a step-up's `limits` may name: the parameters of the rule it belongs to (a timeout's
/// step-up tiers included), and those of them the policy marks `@redact`.
#[derive(Clone, Debug)]
pub(super) struct LimitScope {
    pub(super) params: ParamsScope,
    /// `params.FIELD` (and `context.FIELD`) paths marked `@redact` for the rule's tools.
    pub(super) redacted: Vec<String>,
}

impl LimitScope {
    /// A step-up in `settings`: the default of every rule, so no tool's parameters.
    pub(super) fn settings() -> Self {
        LimitScope { params: ParamsScope::Settings, redacted: Vec::new() }
    }
}

impl Checker<'_> {
    /// The names `limits` lists that approvers may cap, sorted, each once; every other one is
    /// reported.
    pub(super) fn check_limits(&mut self, file: FileId, fields: &[ast::Ident], scope: &LimitScope) -> Vec<String> {
        let params = Scope::new(file, scope.params.clone());
        let mut out: Vec<String> = Vec::new();
        for field in fields {
            let checked = self.check_param(&params, field, field.span);
            if checked.ty.contains_error() {
                continue;
            }
            if let Some((message, help)) = self.uncappable(&field.name, &checked.ty, scope) {
                self.report(
                    Diagnostic::new(Code::UncappableLimit, file, field.span, message)
                        .with_label("approvers cannot cap this")
                        .with_help(help),
                );
                continue;
            }
            if !out.contains(&field.name) {
                out.push(field.name.clone());
            }
        }
        out.sort();
        out
    }

    /// Why approvers cannot cap the parameter `name` of type `ty`, and what to write instead.
    fn uncappable(&self, name: &str, ty: &Type, scope: &LimitScope) -> Option<(String, String)> {
        let path = format!("params.{name}");
        match ty {
            Type::Int | Type::Decimal => {}
            Type::Optional(inner) if matches!(**inner, Type::Int | Type::Decimal) => {
                return Some((
                    format!("`limits` names `{name}`, which a call may leave out (`{ty}`)"),
                    format!("a cap is compared with the action's own value: list parameters every call carries (`{name}: {inner}`)"),
                ));
            }
            _ => {
                return Some((
                    format!("`limits` names `{name}`, a `{ty}`"),
                    "approvers cap numbers: list `Int` or `Decimal` parameters".to_string(),
                ));
            }
        }
        if self.bundle.settings.action_hash_ignores.iter().any(|i| i == name) {
            return Some((
                format!("`limits` names `{name}`, which the action hash leaves out"),
                format!("an approval binds the value it saw through the action hash: remove `\"{path}\"` from `settings {{ action_hash_ignores }}`, or `{name}` from `limits`"),
            ));
        }
        if scope.redacted.contains(&path) {
            return Some((
                format!("`limits` names `{name}`, which is marked `@redact`"),
                format!("approvers see only a keyed hash of it, and a refused cap would tell them about the value: remove `{name}` from `limits`"),
            ));
        }
        None
    }
}

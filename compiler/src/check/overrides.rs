//! `override on TOOL by … for D requires …`: the tools exist, each has one override at most, the
//! duration is positive and the statements are ones the service knows how to ask for. Its
//! `notify` channels are names the host maps, as a `step_up`'s are.

use super::Checker;
use crate::index::Target;
use crate::ir::Loc;
use crate::modules::Module;
use aarm_lang::ast::{self, ItemKind};
use aarm_lang::diagnostic::did_you_mean;
use aarm_lang::{Code, Diagnostic, FileId};
use aarm_runtime::policy::{OverridePolicy, DEFAULT_OVERRIDE_STATEMENTS, OVERRIDE_STATEMENTS};
use std::collections::HashMap;

impl Checker<'_> {
    pub(super) fn check_overrides(&mut self, modules: &[Module]) {
        // The first override of each tool, for "first declared here".
        let mut first: HashMap<String, Loc> = HashMap::new();
        for m in modules {
            for item in &m.ast.items {
                if let ItemKind::Override(o) = &item.kind {
                    self.check_override(m.file, o, &mut first);
                }
            }
        }
    }

    fn check_override(&mut self, file: FileId, o: &ast::OverrideDecl, first: &mut HashMap<String, Loc>) {
        let valid_s = self.positive_duration(file, o.valid, "an override's duration");
        let (by, _) = self.approver_identities(file, &o.by);
        let requires = self.statements(file, &o.requires);
        for t in &o.tools {
            match self.tools.get(&t.name) {
                Some(d) => self.index.refer(file, t.span, Target::Tool(d.id)),
                None => {
                    self.unknown_tool(file, t);
                    continue;
                }
            }
            if let Some(earlier) = first.get(&t.name) {
                self.report(
                    Diagnostic::new(
                        Code::DuplicateOverride,
                        file,
                        t.span,
                        format!("`{}` already has an `override`", t.name),
                    )
                    .with_secondary(earlier.file, earlier.span, "first declared here")
                    .with_help("one declaration says who may override a tool's denials: merge the two"),
                );
                continue;
            }
            first.insert(t.name.clone(), Loc { file, span: t.span });
            self.bundle.overrides.push(OverridePolicy {
                tool: t.name.clone(),
                by: by.clone(),
                valid_s,
                requires: requires.clone(),
                notify: o.notify.iter().map(|c| c.value.clone()).collect(),
            });
        }
    }

    /// The names after `requires` (or the default when there is none), each known and once.
    fn statements(&mut self, file: FileId, names: &[ast::Ident]) -> Vec<String> {
        if names.is_empty() {
            return DEFAULT_OVERRIDE_STATEMENTS.iter().map(|s| (*s).to_string()).collect();
        }
        let mut out: Vec<String> = Vec::new();
        for n in names {
            if !OVERRIDE_STATEMENTS.contains(&n.name.as_str()) {
                let known = OVERRIDE_STATEMENTS.iter().map(|s| format!("`{s}`")).collect::<Vec<_>>().join(", ");
                let help = match did_you_mean(&n.name, OVERRIDE_STATEMENTS.iter().copied()) {
                    Some(s) => format!("did you mean `{s}`? an override can require {known}"),
                    None => format!("an override can require {known}"),
                };
                self.report(
                    Diagnostic::new(
                        Code::UnknownStatement,
                        file,
                        n.span,
                        format!("an override cannot require `{}`", n.name),
                    )
                    .with_label("not a statement the service asks for")
                    .with_help(help),
                );
            } else if out.contains(&n.name) {
                self.report(
                    Diagnostic::new(Code::DuplicateClause, file, n.span, format!("`{}` is required twice", n.name))
                        .with_help("name each statement once"),
                );
            } else {
                out.push(n.name.clone());
            }
        }
        out
    }
}

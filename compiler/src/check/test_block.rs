//! `test` blocks: every step is checked against the declarations it exercises (the action
//! against its tool, context and evidence against their declarations, rule names against the
//! rules), and reduced to constants for the test runner.

use super::{builtin_context, Checker, Table};
use crate::index::Target;
use crate::ir::{self, Const, Loc, TestStepKind};
use crate::types::{Fit, Type};
use aarm_cases::lifecycle::event::Rejection;
use aarm_cases::lifecycle::receipt::RECEIPT_EVENTS;
use aarm_lang::ast::{self, DecisionName, Expectation, ExprKind};
use aarm_lang::diagnostic::did_you_mean;
use aarm_lang::{Code, Diagnostic, FileId, Span};
use aarm_runtime::value::parse_time;
use std::fmt;

impl Checker<'_> {
    pub(super) fn check_test(&mut self, file: FileId, item: &ast::Item, t: &ast::TestDecl) {
        if let Some(prev) = self.bundle.tests.iter().find(|x| x.name == t.name.value) {
            let first = prev.loc;
            self.report(
                Diagnostic::new(
                    Code::DuplicateDeclaration,
                    file,
                    t.name.span,
                    format!("test \"{}\" is declared twice", t.name.value),
                )
                .with_secondary(first.file, first.span, "first declared here")
                .with_help("give each test its own name, so that results can be told apart"),
            );
        }
        let mut steps = Vec::new();
        let mut action: Option<Span> = None;
        let mut evaluated: Option<Span> = None;
        for step in &t.steps {
            let loc = Loc { file, span: step.span };
            let setup = matches!(
                step.kind,
                ast::TestStepKind::Action { .. }
                    | ast::TestStepKind::Identity(_)
                    | ast::TestStepKind::Context(_)
                    | ast::TestStepKind::Evidence(_)
            );
            if setup {
                if let Some(first_eval) = evaluated {
                    self.report(
                        Diagnostic::new(Code::InvalidTestStep, file, step.span, "the request is set up after it was already evaluated")
                            .with_secondary(file, first_eval, "the request is evaluated here")
                            .with_help("put `action`, `identity`, `context` and `evidence` before the first `expect` or lifecycle step"),
                    );
                }
            } else if evaluated.is_none() {
                evaluated = Some(step.span);
                if action.is_none() {
                    self.report(
                        Diagnostic::new(
                            Code::InvalidTestStep,
                            file,
                            step.span,
                            "this step needs a decision, but no `action` was given before it",
                        )
                        .with_help("start the test with `action TOOL { … }`"),
                    );
                }
            }
            let kind = match &step.kind {
                ast::TestStepKind::Action { tool, operation, fields } => {
                    if let Some(first) = action {
                        self.report(
                            Diagnostic::new(Code::InvalidTestStep, file, step.span, "a test has one action")
                                .with_secondary(file, first, "first action here")
                                .with_help("write a second `test` for the other action"),
                        );
                    }
                    action = Some(step.span);
                    self.test_action(file, tool, operation.as_ref().map(|o| o.value.clone()), fields)
                }
                ast::TestStepKind::Identity(fields) => {
                    let schema = as_written_in_tests(super::identity_fields());
                    TestStepKind::Identity(self.test_record(file, fields, &schema, &"`identity`", false))
                }
                ast::TestStepKind::Context(fields) => {
                    let mut schema = as_written_in_tests(builtin_context());
                    schema.extend(self.bundle.context_fields.iter().map(|f| (f.name.clone(), f.ty.clone())));
                    TestStepKind::Context(self.test_record(file, fields, &schema, &"`context`", false))
                }
                ast::TestStepKind::Evidence(fields) => {
                    let mut out = Vec::new();
                    for f in fields {
                        if let Some((id, value)) = self.test_evidence(file, &f.name, &f.value) {
                            out.push((id, value));
                        }
                    }
                    TestStepKind::Evidence(out)
                }
                ast::TestStepKind::Approve { by, roles } => {
                    let roles = self.test_roles(file, roles.as_ref());
                    TestStepKind::Approve { by: by.value.clone(), roles }
                }
                ast::TestStepKind::Deny { by, why, roles } => {
                    let roles = self.test_roles(file, roles.as_ref());
                    TestStepKind::Deny { by: by.value.clone(), why: why.as_ref().map(|w| w.value.clone()), roles }
                }
                ast::TestStepKind::Provide { name, value } => match self.test_evidence(file, name, value) {
                    Some((evidence, value)) => TestStepKind::Provide { evidence, value },
                    None => continue,
                },
                ast::TestStepKind::Wait(d) => {
                    if d.seconds <= 0 {
                        self.report(
                            Diagnostic::new(
                                Code::NonPositiveDuration,
                                file,
                                d.span,
                                "`wait` must move the clock forward",
                            )
                            .with_help("write a positive duration such as `31m`"),
                        );
                    }
                    TestStepKind::Wait { seconds: d.seconds }
                }
                ast::TestStepKind::Cancel => TestStepKind::Cancel,
                ast::TestStepKind::Expect(Expectation::Pending) => TestStepKind::ExpectPending,
                ast::TestStepKind::Expect(Expectation::Rejected(why)) => {
                    // The lifecycle's own list (docs/lifecycle.md, "Refused events").
                    let reasons = || Rejection::ALL.iter().map(|r| r.as_str());
                    if !reasons().any(|r| r == why.value) {
                        let mut d = Diagnostic::new(
                            Code::UnknownRejection,
                            file,
                            why.span,
                            format!("\"{}\" is not a rejection reason of the lifecycle", why.value),
                        );
                        d = match did_you_mean(&why.value, reasons()) {
                            Some(s) => d.with_help(format!("did you mean \"{s}\"?")),
                            None => {
                                d.with_help(format!("the reasons are {}", reasons().collect::<Vec<_>>().join(", ")))
                            }
                        };
                        self.report(d);
                    }
                    TestStepKind::ExpectRejected(why.value.clone())
                }
                ast::TestStepKind::Expect(Expectation::Cancelled) => TestStepKind::ExpectCancelled,
                ast::TestStepKind::Expect(Expectation::Receipts(events)) => {
                    TestStepKind::ExpectReceipts(self.test_receipts(file, events))
                }
                ast::TestStepKind::Expect(Expectation::Decision { decision, params, rule, reason }) => {
                    let rule = rule.as_ref().and_then(|path| self.resolve_rule_ref(file, path));
                    let params = params.as_ref().map(|fields| {
                        let schema = self.action_schema(&t.steps);
                        self.test_record(file, fields, &schema, &"the action", false)
                    });
                    TestStepKind::ExpectDecision {
                        decision: decision_name(*decision),
                        params,
                        rule,
                        reason: reason.as_ref().map(|r| r.value.clone()),
                    }
                }
            };
            steps.push(ir::TestStep { kind, loc });
        }
        if !t.steps.iter().any(|s| matches!(s.kind, ast::TestStepKind::Expect(_))) {
            self.report(
                Diagnostic::new(
                    Code::TestWithoutExpect,
                    file,
                    t.name.span,
                    format!(
                        "test \"{}\" has no `expect` step, so it would pass whatever the policy decides",
                        t.name.value
                    ),
                )
                .with_help("say what the policy must decide, e.g. `expect allow` or `expect deny rule NAME`"),
            );
        }
        self.bundle.tests.push(ir::Test { name: t.name.value.clone(), steps, loc: Loc { file, span: t.name.span } });
        let _ = item;
    }

    fn test_action(
        &mut self,
        file: FileId,
        tool: &ast::Ident,
        operation: Option<String>,
        fields: &[ast::RecordField],
    ) -> TestStepKind {
        let operation = operation.unwrap_or_default();
        let Some(decl) = self.tools.get(&tool.name).copied() else {
            let mut d = Diagnostic::new(
                Code::UndeclaredTestTool,
                file,
                tool.span,
                format!("tool `{}` is not declared, so only `on *` rules and the default apply to it", tool.name),
            );
            d = match self.suggest_declared(Table::Tools, &tool.name) {
                Some(c) => d.with_help(format!("did you mean `{c}`?")),
                None => d.with_help("declare the tool if rules should see its parameters"),
            };
            self.report(d);
            let params = fields
                .iter()
                .filter_map(|f| {
                    self.constant(file, &f.value, &Type::Error, &"a parameter").map(|v| (f.name.name.clone(), v))
                })
                .collect();
            return TestStepKind::Action { tool_name: tool.name.clone(), operation, params };
        };
        self.index.refer(file, tool.span, Target::Tool(decl.id));
        let schema: Vec<(String, Type)> = self
            .bundle
            .tool(decl.id)
            .map(|t| t.fields.iter().map(|f| (f.name.clone(), f.ty.clone())).collect())
            .unwrap_or_default();
        let params = self.test_record(file, fields, &schema, &format_args!("tool `{}`", tool.name), true);
        self.missing_fields(file, tool.span, fields, &schema, &"the action lacks required parameter", Some(decl.loc));
        TestStepKind::Action { tool_name: tool.name.clone(), operation, params }
    }

    /// E0402 for every non-optional field of `schema` that `fields` leaves out.
    fn missing_fields(
        &mut self,
        file: FileId,
        span: Span,
        fields: &[ast::RecordField],
        schema: &[(String, Type)],
        what: &dyn fmt::Display,
        declared: Option<Loc>,
    ) {
        let given: Vec<&str> = fields.iter().map(|f| f.name.name.as_str()).collect();
        let missing: Vec<&str> = schema
            .iter()
            .filter(|(n, t)| !matches!(t, Type::Optional(_)) && !given.contains(&n.as_str()))
            .map(|(n, _)| n.as_str())
            .collect();
        if missing.is_empty() {
            return;
        }
        let mut d = Diagnostic::new(
            Code::MissingField,
            file,
            span,
            format!(
                "{what}{} {}",
                if missing.len() == 1 { "" } else { "s" },
                missing.iter().map(|m| format!("`{m}`")).collect::<Vec<_>>().join(", ")
            ),
        )
        .with_help("a host would refuse this request as `input.invalid`; give every non-optional field (optional ones may be left out)");
        if let Some(decl) = declared {
            d = d.with_secondary(decl.file, decl.span, "tool declared here");
        }
        self.report(d);
    }

    /// A `{ field: constant, ... }` step checked against a schema.
    fn test_record(
        &mut self,
        file: FileId,
        fields: &[ast::RecordField],
        schema: &[(String, Type)],
        owner: &dyn fmt::Display,
        _required_checked_by_caller: bool,
    ) -> Vec<(String, Const)> {
        let mut out: Vec<(String, Const)> = Vec::new();
        for f in fields {
            if out.iter().any(|(n, _)| *n == f.name.name) {
                self.report(
                    Diagnostic::new(
                        Code::DuplicateDeclaration,
                        file,
                        f.name.span,
                        format!("field `{}` is given twice", f.name.name),
                    )
                    .with_help("give each field once"),
                );
                continue;
            }
            let Some((_, ty)) = schema.iter().find(|(n, _)| *n == f.name.name) else {
                let names: Vec<String> = schema.iter().map(|(n, _)| n.clone()).collect();
                let mut d = Diagnostic::new(
                    Code::UnknownField,
                    file,
                    f.name.span,
                    format!("{owner} has no field `{}`", f.name.name),
                );
                d = match did_you_mean(&f.name.name, names.iter().map(String::as_str)) {
                    Some(c) => d.with_help(format!("did you mean `{c}`?")),
                    None => d.with_help(format!("its fields are {}", names.join(", "))),
                };
                self.report(d);
                continue;
            };
            let ty = match ty {
                Type::Optional(inner) => (**inner).clone(),
                other => other.clone(),
            };
            if let Some(v) = self.constant(file, &f.value, &ty, &format_args!("`{}`", f.name.name)) {
                out.push((f.name.name.clone(), v));
            }
        }
        out
    }

    /// The parameters of the test's action's tool (empty for an undeclared tool or no action):
    /// what `expect modify { ... }` is checked against.
    fn action_schema(&self, steps: &[ast::TestStep]) -> Vec<(String, Type)> {
        steps
            .iter()
            .find_map(|s| match &s.kind {
                ast::TestStepKind::Action { tool, .. } => self.tools.get(&tool.name).copied(),
                _ => None,
            })
            .and_then(|decl| self.bundle.tool(decl.id))
            .map(|t| t.fields.iter().map(|f| (f.name.clone(), f.ty.clone())).collect())
            .unwrap_or_default()
    }

    /// The event names of `expect receipts [...]`, each one a receipt's `event`.
    fn test_receipts(&mut self, file: FileId, e: &ast::Expr) -> Vec<String> {
        let ExprKind::List(items) = &e.kind else {
            self.report(
                Diagnostic::new(Code::InvalidTestStep, file, e.span, "`expect receipts` takes a list of event names")
                    .with_help("e.g. `expect receipts [\"open\", \"approve\"]`"),
            );
            return Vec::new();
        };
        let mut out = Vec::new();
        for item in items {
            let ExprKind::Str(name) = &item.kind else {
                self.report(
                    Diagnostic::new(Code::InvalidTestStep, file, item.span, "a receipt event is written as a string")
                        .with_help("e.g. \"approve\""),
                );
                continue;
            };
            if !RECEIPT_EVENTS.contains(&name.as_str()) {
                let mut d = Diagnostic::new(
                    Code::UnknownReceiptEvent,
                    file,
                    item.span,
                    format!("\"{name}\" is not an event a receipt records"),
                );
                d = match did_you_mean(name, RECEIPT_EVENTS.iter().copied()) {
                    Some(s) => d.with_help(format!("did you mean \"{s}\"?")),
                    None => d.with_help(format!("the events are {}", RECEIPT_EVENTS.join(", "))),
                };
                self.report(d);
            }
            out.push(name.clone());
        }
        out
    }

    /// The `roles [...]` of an `approve` or `deny` step: a constant list of strings.
    fn test_roles(&mut self, file: FileId, roles: Option<&ast::Expr>) -> Vec<String> {
        let Some(e) = roles else { return Vec::new() };
        match self.constant(file, e, &Type::list(Type::String), &"`roles`") {
            Some(Const::List(items)) => items
                .into_iter()
                .filter_map(|c| match c {
                    Const::Str(s) => Some(s),
                    _ => None,
                })
                .collect(),
            _ => Vec::new(),
        }
    }

    fn test_evidence(&mut self, file: FileId, name: &ast::Ident, value: &ast::Expr) -> Option<(ir::EvidenceId, Const)> {
        let Some(decl) = self.evidence.get(&name.name).copied() else {
            let mut d =
                Diagnostic::new(Code::UnknownEvidence, file, name.span, format!("unknown evidence `{}`", name.name));
            d = match self.suggest_declared(Table::Evidence, &name.name) {
                Some(c) => d.with_help(format!("did you mean `{c}`?")),
                None => d.with_help(format!("declare it: `evidence {}: Bool from \"source\"`", name.name)),
            };
            self.report(d);
            return None;
        };
        self.index.refer(file, name.span, Target::Evidence(decl.id));
        let ty = self.bundle.evidence.get(decl.id.index()).map(|e| e.ty.clone()).unwrap_or(Type::Error);
        self.constant(file, value, &ty, &format_args!("evidence `{}`", name.name)).map(|v| (decl.id, v))
    }

    fn resolve_rule_ref(&mut self, file: FileId, path: &[ast::Ident]) -> Option<ir::RuleId> {
        let span = match (path.first(), path.last()) {
            (Some(a), Some(b)) => a.span.to(b.span),
            _ => return None,
        };
        let written = path.iter().map(|i| i.name.as_str()).collect::<Vec<_>>().join(".");
        let found: Vec<ir::RuleId> = match path {
            [name] => self.rule_names.get(&name.name).cloned().unwrap_or_default(),
            _ => self
                .bundle
                .rules
                .iter()
                .enumerate()
                .filter(|(_, r)| r.qualified_name == written)
                .map(|(i, _)| ir::RuleId(super::to_u32(i)))
                .collect(),
        };
        match found.as_slice() {
            [one] => {
                if let Some(last) = path.last() {
                    self.index.refer(file, last.span, Target::Rule(*one));
                }
                Some(*one)
            }
            [] => {
                let help = self.suggest_declared(Table::Rules, &written).map(|c| format!("did you mean `{c}`?"));
                let mut d = Diagnostic::new(Code::UnknownRule, file, span, format!("no rule is named `{written}`"));
                if let Some(help) = help {
                    d = d.with_help(help);
                }
                self.report(d);
                None
            }
            many => {
                let names: Vec<String> = many
                    .iter()
                    .filter_map(|id| self.bundle.rule(*id))
                    .map(|r| format!("`{}`", r.qualified_name))
                    .collect();
                self.report(
                    Diagnostic::new(Code::AmbiguousRule, file, span, format!("`{written}` names more than one rule"))
                        .with_help(format!("qualify it with its policy: {}", names.join(" or "))),
                );
                None
            }
        }
    }

    /// A constant value of type `want` (`Type::Error`: any type): literals, lists, records and
    /// negated numbers. `Time` values are written as RFC 3339 strings, sets as lists.
    fn constant(&mut self, file: FileId, e: &ast::Expr, want: &Type, what: &dyn fmt::Display) -> Option<Const> {
        // A record literal is read against its declared shape, so that optional fields may be
        // left out at any depth (as a request's JSON may) and fields may come in any order.
        let shape = match want {
            Type::Optional(inner) => inner.as_ref(),
            other => other,
        };
        match (shape, &e.kind) {
            (_, ExprKind::Paren(inner)) => return self.constant(file, inner, want, what),
            (Type::Record(schema), ExprKind::Record(fields)) => {
                let out = self.test_record(file, fields, schema, what, true);
                self.missing_fields(file, e.span, fields, schema, &format_args!("{what} lacks required field"), None);
                return Some(Const::Record(out));
            }
            (Type::List(el) | Type::Set(el), ExprKind::List(items))
                if matches!(el.as_ref(), Type::Record(_) | Type::Optional(_)) =>
            {
                let mut out = Vec::new();
                for i in items {
                    out.push(self.constant(file, i, el, what)?);
                }
                return Some(Const::List(out));
            }
            _ => {}
        }
        let value = self.const_value(file, e)?;
        let (value, ty) = value;
        if *want == Type::Time {
            if let Const::Str(s) = &value {
                return match parse_time(s) {
                    Some(t) => Some(Const::Time(t)),
                    None => {
                        self.report(
                            Diagnostic::new(Code::TypeMismatch, file, e.span, format!("\"{s}\" is not a time"))
                                .with_help("write times in RFC 3339, e.g. \"2026-11-24T10:00:00Z\""),
                        );
                        None
                    }
                };
            }
        }
        // A set is written as a list, as in a request's JSON.
        let ty = match (want, ty) {
            (Type::Set(_), Type::List(el)) => Type::Set(el),
            (_, ty) => ty,
        };
        match want.accepts(&ty) {
            Fit::Exact => Some(value),
            Fit::Widen => Some(widen(value)),
            Fit::No => {
                self.report(
                    Diagnostic::new(Code::TypeMismatch, file, e.span, format!("{what} expects `{want}`, found `{ty}`"))
                        .with_label(format!("`{ty}`")),
                );
                None
            }
        }
    }

    fn const_value(&mut self, file: FileId, e: &ast::Expr) -> Option<(Const, Type)> {
        Some(match &e.kind {
            ExprKind::Bool(b) => (Const::Bool(*b), Type::Bool),
            ExprKind::Int(i) => (Const::Int(*i), Type::Int),
            ExprKind::Decimal(d) => (Const::Decimal(*d), Type::Decimal),
            ExprKind::Str(s) => (Const::Str(s.clone()), Type::String),
            ExprKind::Duration(d) => (Const::Duration(*d), Type::Duration),
            ExprKind::Paren(inner) => return self.const_value(file, inner),
            ExprKind::Neg(inner) => match self.const_value(file, inner)? {
                (Const::Int(i), t) => (Const::Int(i.checked_neg()?), t),
                (Const::Decimal(d), t) => (Const::Decimal(d.checked_neg()?), t),
                (Const::Duration(d), t) => (Const::Duration(d.checked_neg()?), t),
                _ => return self.not_constant(file, e),
            },
            ExprKind::List(items) => {
                let mut out = Vec::new();
                let mut elem = Type::Never;
                for i in items {
                    let (v, t) = self.const_value(file, i)?;
                    elem = match elem.join(&t) {
                        Some(j) => j,
                        None => {
                            self.report(Diagnostic::new(
                                Code::TypeMismatch,
                                file,
                                i.span,
                                format!("list elements must share one type: this is `{t}`, earlier ones are `{elem}`"),
                            ));
                            return None;
                        }
                    };
                    out.push(v);
                }
                if elem == Type::Decimal {
                    out = out.into_iter().map(widen).collect();
                }
                (Const::List(out), Type::list(elem))
            }
            ExprKind::Record(fields) => {
                let mut out = Vec::new();
                let mut tys = Vec::new();
                for f in fields {
                    let (v, t) = self.const_value(file, &f.value)?;
                    out.push((f.name.name.clone(), v));
                    tys.push((f.name.name.clone(), t));
                }
                (Const::Record(out), Type::Record(tys))
            }
            _ => return self.not_constant(file, e),
        })
    }

    fn not_constant<T>(&mut self, file: FileId, e: &ast::Expr) -> Option<T> {
        self.report(
            Diagnostic::new(Code::NotConstant, file, e.span, "a test gives values literally")
                .with_help("write a literal: a number, string, duration, list or record"),
        );
        None
    }
}

fn widen(c: Const) -> Const {
    match c {
        Const::Int(i) => Const::Decimal(aarm_runtime::decimal::from_int(i)),
        Const::List(items) => Const::List(items.into_iter().map(widen).collect()),
        other => other,
    }
}

fn decision_name(d: DecisionName) -> &'static str {
    d.as_str()
}

/// A built-in record's fields as a test step writes them: name and type, sets given as lists
/// (a test writes `roles: ["a"]`, the policy reads it as a set).
fn as_written_in_tests<F>(fields: impl IntoIterator<Item = (&'static str, F, Type)>) -> Vec<(String, Type)> {
    fields
        .into_iter()
        .map(|(name, _, ty)| {
            let ty = match ty {
                Type::Set(element) => Type::List(element),
                other => other,
            };
            (name.to_string(), ty)
        })
        .collect()
}

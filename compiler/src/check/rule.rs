//! Rules, their decisions and clauses, and the `settings` block.

use super::expr::{ParamsScope, Scope};
use super::limits::LimitScope;
use super::{to_u32, Checker, Table};
use crate::index::Target;
use crate::ir::{self, Loc, Outcome};
use crate::modules::Module;
use crate::types::Type;
use aarm_lang::ast::{self, ItemKind, LimitKind, OutcomeKind, RiskLevel, StepUpClauseKind};
use aarm_lang::parser::DECIMAL_SCALE;
use aarm_lang::{Code, Diagnostic, FileId, Span};
use aarm_runtime::decision::CONFIDENCE_SCALE;
use aarm_runtime::policy::Risk;
use aarm_runtime::value::format_duration;

impl Checker<'_> {
    // ---- settings

    pub(super) fn check_settings(&mut self, blocks: &[(FileId, &ast::Item)]) {
        let Some((file, first)) = blocks.first() else { return };
        for (f, other) in blocks.iter().skip(1) {
            self.report(
                Diagnostic::new(Code::DuplicateSettings, *f, other.span, "a bundle has at most one `settings` block")
                    .with_label("second `settings`")
                    .with_secondary(*file, first.span, "first `settings` here")
                    .with_help("merge the lines into the first block"),
            );
        }
        let ItemKind::Settings(block) = &first.kind else { return };
        let mut settings = ir::Settings::default();
        let mut seen: Vec<(&'static str, Span)> = Vec::new();
        for entry in &block.entries {
            let key = match &entry.kind {
                ast::SettingKind::Default(_) => "default",
                ast::SettingKind::Conflict(_) => "conflict",
                ast::SettingKind::MinConfidence(_) => "min_confidence",
                ast::SettingKind::Defer(_) => "defer",
                ast::SettingKind::StepUpTimeout(_) => "step_up",
                ast::SettingKind::AllowValid(_) => "allow_valid",
                ast::SettingKind::Review(_) => "review",
                ast::SettingKind::ActionHashIgnores(..) => "action_hash_ignores",
            };
            if let Some((_, first_span)) = seen.iter().find(|(k, _)| *k == key) {
                self.duplicate_clause(*file, entry.span, *first_span, &format!("`{key}` setting"));
                continue;
            }
            seen.push((key, entry.span));
            match &entry.kind {
                ast::SettingKind::Default(ast::Effect::Allow) => {
                    settings.default = ir::DefaultEffect::Allow;
                    self.report(
                        Diagnostic::new(
                            Code::DefaultAllow,
                            *file,
                            entry.span,
                            "`default allow` lets every action that no rule matches through",
                        )
                        .with_help("prefer `default deny` and allow what is known to be safe with explicit rules"),
                    );
                }
                ast::SettingKind::Default(ast::Effect::Deny) => settings.default = ir::DefaultEffect::Deny,
                ast::SettingKind::Conflict(ast::ConflictMode::Restrictive) => {
                    settings.conflict = ir::ConflictMode::Restrictive
                }
                ast::SettingKind::Conflict(ast::ConflictMode::Defer) => settings.conflict = ir::ConflictMode::Defer,
                ast::SettingKind::MinConfidence(d) => {
                    settings.min_confidence = Some(self.check_confidence(*file, *d));
                }
                ast::SettingKind::Defer(limits) => {
                    let mut seen_limits: Vec<(bool, Span)> = Vec::new();
                    for l in limits {
                        let is_timeout = matches!(l.kind, LimitKind::Timeout(_));
                        if let Some((_, s)) = seen_limits.iter().find(|(t, _)| *t == is_timeout) {
                            self.duplicate_clause(
                                *file,
                                l.span,
                                *s,
                                if is_timeout { "`timeout`" } else { "`attempts`" },
                            );
                            continue;
                        }
                        seen_limits.push((is_timeout, l.span));
                        let outcome = self.check_outcome(*file, &l.outcome, None, &settings, &LimitScope::settings());
                        match l.kind {
                            LimitKind::Timeout(d) => {
                                settings.defer_timeout_s = self.positive_duration(*file, d, "a deferral timeout");
                                settings.defer_on_timeout = outcome;
                            }
                            LimitKind::Attempts(n) => {
                                settings.defer_attempts = self.attempts(*file, n);
                                settings.defer_on_exhausted = outcome;
                            }
                        }
                    }
                }
                ast::SettingKind::StepUpTimeout(l) => {
                    let outcome = self.check_outcome(*file, &l.outcome, None, &settings, &LimitScope::settings());
                    if let LimitKind::Timeout(d) = l.kind {
                        settings.step_up_timeout_s = self.positive_duration(*file, d, "an approval timeout");
                    }
                    settings.step_up_on_timeout = outcome;
                }
                ast::SettingKind::AllowValid(d) => {
                    settings.allow_valid_s = Some(self.positive_duration(*file, *d, "an allow's validity"));
                }
                ast::SettingKind::Review(s) => settings.review = Some(s.value.clone()),
                ast::SettingKind::ActionHashIgnores(paths, _) => {
                    settings.action_hash_ignores = self.hash_ignores(*file, paths);
                }
            }
        }
        // The `@redact` marks were collected from the declarations, before the settings block.
        settings.redact = std::mem::take(&mut self.bundle.settings.redact);
        self.bundle.settings = settings;
        self.bundle.settings_loc = Some(Loc { file: *file, span: first.span });
    }

    /// `action_hash_ignores`: each path is `params.FIELD`, a top-level parameter some declared
    /// tool has. The tool, the operation and nested fields stay covered: leaving them out would
    /// let an approval stand for a different action.
    fn hash_ignores(&mut self, file: FileId, paths: &[ast::StrLit]) -> Vec<String> {
        let mut fields: Vec<String> = Vec::new();
        for p in paths {
            let field = p.value.strip_prefix("params.").filter(|f| !f.is_empty() && !f.contains('.'));
            let Some(field) = field else {
                self.report(
                    Diagnostic::new(
                        Code::UnknownField,
                        file,
                        p.span,
                        format!("`{}` is not a parameter the action hash can leave out", p.value),
                    )
                    .with_help("name a top-level parameter, `params.FIELD`; the tool, the operation and nested fields always count"),
                );
                continue;
            };
            if !self.bundle.tools.iter().any(|t| t.field(field).is_some()) {
                let known = self.bundle.tools.iter().flat_map(|t| t.fields.iter().map(|f| &f.name));
                let help = match self.suggest(field, known) {
                    Some(c) => format!("did you mean `params.{c}`?"),
                    None => "name a parameter a declared `tool` has".to_string(),
                };
                self.report(
                    Diagnostic::new(Code::UnknownField, file, p.span, format!("no tool has a parameter `{field}`"))
                        .with_help(help),
                );
                continue;
            }
            if !fields.iter().any(|f| f == field) {
                fields.push(field.to_string());
            }
        }
        fields.sort();
        fields
    }

    fn duplicate_clause(&mut self, file: FileId, span: Span, first: Span, what: &str) {
        self.report(
            Diagnostic::new(Code::DuplicateClause, file, span, format!("{what} is given twice"))
                .with_label("second time")
                .with_secondary(file, first, "first time")
                .with_help("keep one of them"),
        );
    }

    /// A confidence in ten-thousandths (`CONFIDENCE_SCALE`): between 0 and 1, at most four
    /// fractional digits (a decision shows it as a JSON number, exact only that far).
    fn check_confidence(&mut self, file: FileId, d: ast::DecLit) -> i64 {
        if !(0..=DECIMAL_SCALE).contains(&d.scaled) {
            self.report(
                Diagnostic::new(Code::ConfidenceOutOfRange, file, d.span, "confidence must be between 0 and 1")
                    .with_help("write a value such as `0.85`"),
            );
        }
        let per_unit = DECIMAL_SCALE / i128::from(CONFIDENCE_SCALE);
        if d.scaled % per_unit != 0 {
            self.report(
                Diagnostic::new(Code::DecimalPrecision, file, d.span, "a confidence keeps at most 4 fractional digits")
                    .with_help("round it to four digits after the point, such as `0.8525`"),
            );
        }
        i64::try_from(d.scaled.clamp(0, DECIMAL_SCALE) / per_unit).unwrap_or(0)
    }

    pub(super) fn positive_duration(&mut self, file: FileId, d: ast::DurLit, what: &str) -> i64 {
        if d.seconds <= 0 {
            self.report(
                Diagnostic::new(Code::NonPositiveDuration, file, d.span, format!("{what} must be longer than zero"))
                    .with_help("write a positive duration such as `30m`"),
            );
        }
        d.seconds
    }

    fn attempts(&mut self, file: FileId, n: ast::IntLit) -> u32 {
        if n.value < 1 {
            self.report(
                Diagnostic::new(Code::AttemptsZero, file, n.span, "a deferral allows at least one attempt")
                    .with_help("write `attempts 1 -> …` or more"),
            );
        }
        u32::try_from(n.value.max(1)).unwrap_or(u32::MAX)
    }

    /// `rule_risk` is the enclosing rule's `risk`: a step-up reached through a timeout shows the
    /// same risk as the rule (docs/language.md: a step-up's risk defaults to the rule's), not `medium`;
    /// its `limits` name the rule's parameters (`limits`).
    fn check_outcome(
        &mut self,
        file: FileId,
        o: &ast::Outcome,
        rule_risk: Option<Risk>,
        settings: &ir::Settings,
        limits: &LimitScope,
    ) -> Outcome {
        match &o.kind {
            OutcomeKind::Deny => Outcome::Deny,
            OutcomeKind::Cancel => Outcome::Cancel,
            OutcomeKind::Allow => {
                self.report(
                    Diagnostic::new(
                        Code::TimeoutAllows,
                        file,
                        o.span,
                        "an unanswered or unresolved action resolves to `allow` here",
                    )
                    .with_label("nobody decided, yet the action runs")
                    .with_help("write `-> deny` (the safe default) or `-> step_up { … }` to ask a person"),
                );
                Outcome::Allow
            }
            OutcomeKind::StepUp(block) => {
                Outcome::StepUp(Box::new(self.check_step_up(file, block, rule_risk, settings, limits)))
            }
        }
    }

    // ---- rules

    pub(super) fn check_rules(&mut self, m: &Module) {
        let policy = m.ast.header.as_ref().and_then(|h| self.policies.get(&h.name.name).copied());
        for item in &m.ast.items {
            let ItemKind::Rule(r) = &item.kind else { continue };
            self.check_rule(m.file, item, r, policy);
        }
    }

    fn check_rule(&mut self, file: FileId, item: &ast::Item, r: &ast::RuleDecl, policy: Option<ir::PolicyId>) {
        if self.bundle.rules.len() >= aarm_lang::limits::MAX_RULES {
            if !self.rule_limit_reported {
                self.rule_limit_reported = true;
                self.report(
                    Diagnostic::new(
                        Code::TooManyRules,
                        file,
                        r.name.span,
                        format!("a bundle holds at most {} rules; this one has more", aarm_lang::limits::MAX_RULES),
                    )
                    .with_help("split the policies into several bundles, or generate fewer, broader rules"),
                );
            }
            return;
        }
        let policy_name =
            policy.and_then(|p| self.bundle.policies.get(p.index())).map(|p| p.name.clone()).unwrap_or_default();
        let qualified =
            if policy_name.is_empty() { r.name.name.clone() } else { format!("{policy_name}.{}", r.name.name) };
        let loc = Loc { file, span: r.name.span };
        // Duplicate rule names within one policy.
        if let Some(existing) = self.rule_qualified.get(&qualified).and_then(|id| self.bundle.rule(*id)) {
            let first = existing.loc;
            self.report(
                Diagnostic::new(
                    Code::DuplicateDeclaration,
                    file,
                    r.name.span,
                    format!("rule `{}` is declared twice in policy `{policy_name}`", r.name.name),
                )
                .with_label("second declaration")
                .with_secondary(first.file, first.span, "first declared here")
                .with_help("rule names identify decisions and receipts; give each rule its own name"),
            );
            return;
        }
        let (targets, params) = match &r.targets {
            ast::Targets::All(_) => (ir::Targets::All, ParamsScope::AnyTool),
            ast::Targets::Tools(tools) => {
                let mut ids = Vec::new();
                for t in tools {
                    match self.tools.get(&t.name) {
                        Some(d) => {
                            self.index.refer(file, t.span, Target::Tool(d.id));
                            if !ids.contains(&d.id) {
                                ids.push(d.id);
                            }
                        }
                        None => self.unknown_tool(file, t),
                    }
                }
                let scope =
                    if ids.len() < tools.len() { ParamsScope::Unresolved } else { ParamsScope::Tools(ids.clone()) };
                (ir::Targets::Tools(ids), scope)
            }
        };
        let mut scope = Scope::new(file, params);
        let mut conditions = Vec::new();
        let mut risk: Option<(Risk, Span)> = None;
        let mut confidence: Option<(i64, Span)> = None;
        let mut valid: Option<(i64, Span)> = None;
        for clause in &r.clauses {
            match clause {
                ast::RuleClause::When(e) => {
                    let c = self.check_bool(&mut scope, e, &"a `when` condition");
                    // Later lines are checked knowing the earlier ones hold.
                    scope.assume(&c);
                    conditions.push(c);
                }
                ast::RuleClause::Risk(lit) => match risk {
                    Some((_, first)) => self.duplicate_clause(file, lit.span, first, "`risk`"),
                    None => risk = Some((lower_risk(lit.level), lit.span)),
                },
                ast::RuleClause::Confidence(d) => match confidence {
                    Some((_, first)) => self.duplicate_clause(file, d.span, first, "`confidence`"),
                    None => confidence = Some((self.check_confidence(file, *d), d.span)),
                },
                ast::RuleClause::Valid(d) => match valid {
                    Some((_, first)) => self.duplicate_clause(file, d.span, first, "`valid`"),
                    None => valid = Some((self.positive_duration(file, *d, "an allow's validity"), d.span)),
                },
            }
        }
        if let Some((_, span)) = valid {
            self.valid_without_allow(file, span, &r.decision.kind);
        }
        let settings = self.bundle.settings.clone();
        let limits = LimitScope { params: scope.params.clone(), redacted: self.redacted_for(&r.targets) };
        let decision = match &r.decision.kind {
            ast::DecisionKind::Allow => ir::Decision::Allow,
            ast::DecisionKind::Deny => ir::Decision::Deny,
            ast::DecisionKind::Modify(assignments) => self.check_modify(&mut scope, r, assignments),
            ast::DecisionKind::StepUp(block) => {
                ir::Decision::StepUp(self.check_step_up(file, block, risk.map(|(l, _)| l), &settings, &limits))
            }
            ast::DecisionKind::Defer(block) => {
                ir::Decision::Defer(self.check_defer(file, block, risk.map(|(l, _)| l), &settings, &limits))
            }
        };
        let reason = match &r.reason {
            Some(reason) => {
                if reason.code.value.trim().is_empty() {
                    self.report(
                        Diagnostic::new(Code::TypeMismatch, file, reason.code.span, "a reason code cannot be empty")
                            .with_help("use a stable dotted code such as \"transfer.large\""),
                    );
                }
                let mut parts = Vec::new();
                let marked = self.redacted_for(&r.targets);
                for p in &reason.message.parts {
                    match p {
                        ast::TemplatePart::Text(t) => parts.push(ir::TemplatePart::Text(t.clone())),
                        ast::TemplatePart::Expr(e) => {
                            self.refuse_redacted_in_reason(file, e, &marked);
                            let v = self.check_expr(&mut scope, e);
                            parts.push(ir::TemplatePart::Expr(v));
                        }
                    }
                }
                ir::Reason { code: reason.code.value.clone(), message: parts }
            }
            None => ir::Reason {
                code: format!("rule.{}", r.name.name),
                message: vec![ir::TemplatePart::Text(format!("decided by rule {qualified}"))],
            },
        };
        let id = ir::RuleId(to_u32(self.bundle.rules.len()));
        self.rule_names.entry(r.name.name.clone()).or_default().push(id);
        self.rule_qualified.insert(qualified.clone(), id);
        self.bundle.rules.push(ir::Rule {
            name: r.name.name.clone(),
            qualified_name: qualified,
            policy: policy.unwrap_or(ir::PolicyId(u32::MAX)),
            targets,
            priority: r.priority.map(|p| p.value).unwrap_or(0),
            conditions,
            risk: risk.map(|(l, _)| l),
            confidence: confidence.map(|(c, _)| c),
            decision,
            reason,
            locals: scope.next_local,
            doc: item.doc.as_ref().map(|d| d.text.clone()),
            loc,
            valid_s: valid.map(|(s, _)| s),
        });
    }

    /// A rule's `valid` times an allow or modify: a denial or a deferral is never acted on, and a
    /// step-up's approval is timed inside its block (`step_up { valid D }`).
    fn valid_without_allow(&mut self, file: FileId, span: Span, decision: &ast::DecisionKind) {
        let help = match decision {
            ast::DecisionKind::Allow | ast::DecisionKind::Modify(_) => return,
            ast::DecisionKind::StepUp(_) => {
                "write it inside the block, `step_up { … valid D }`: it times the approval and the allow it releases"
            }
            ast::DecisionKind::Deny | ast::DecisionKind::Defer(_) => {
                "remove `valid`: only an `allow` or `modify` is acted on, so only they expire"
            }
        };
        self.report(
            Diagnostic::new(Code::ValidWithoutAllow, file, span, "`valid` on a rule that does not allow")
                .with_label("this rule never allows")
                .with_help(help),
        );
    }

    fn check_modify(&mut self, scope: &mut Scope, r: &ast::RuleDecl, assignments: &[ast::Assignment]) -> ir::Decision {
        let file = scope.file;
        if let ParamsScope::AnyTool = scope.params {
            self.report(
                Diagnostic::new(
                    Code::ModifyField,
                    file,
                    r.decision.span,
                    "`modify` needs to know the tool's parameters, but this rule is `on *`",
                )
                .with_help("name the tools the rule rewrites: `on tool_a`"),
            );
            return ir::Decision::Modify(Vec::new());
        }
        let mut out: Vec<ir::Assignment> = Vec::new();
        for a in assignments {
            if let Some(prev) = out.iter().find(|x| x.field == a.field.name) {
                let first = prev.loc.span;
                self.duplicate_clause(file, a.span, first, &format!("the assignment to `params.{}`", a.field.name));
                continue;
            }
            let target = self.check_raw(
                scope,
                &ast::Expr::new(
                    ast::ExprKind::Field {
                        base: Box::new(ast::Expr::new(ast::ExprKind::Root(ast::Root::Params), a.field.span)),
                        field: a.field.clone(),
                    },
                    a.field.span,
                ),
            );
            let value = self.check_raw(scope, &a.value);
            if target.ty.contains_error() {
                continue;
            }
            // An optional field accepts a present value or another optional.
            let value = match (&target.ty, &value.ty) {
                (Type::Optional(_), Type::Optional(_)) => value,
                _ => {
                    let value = match &value.ty {
                        Type::Optional(_) => self.check_expr(scope, &a.value),
                        _ => value,
                    };
                    self.coerce(file, value, &target.ty, &format_args!("`params.{}`", a.field.name))
                }
            };
            out.push(ir::Assignment { field: a.field.name.clone(), value, loc: Loc { file, span: a.span } });
        }
        ir::Decision::Modify(out)
    }

    pub(super) fn approver_identities(
        &mut self,
        file: FileId,
        set: &ast::ApproverSet,
    ) -> (ir::Approvers, Option<usize>) {
        match set {
            ast::ApproverSet::Role(role) => (ir::Approvers::Role(role.value.clone()), None),
            ast::ApproverSet::List { members, .. } => {
                let mut ids: Vec<String> = Vec::new();
                for m in members {
                    if !ids.contains(&m.value) {
                        ids.push(m.value.clone());
                    }
                }
                let n = ids.len();
                (ir::Approvers::Identities(ids), Some(n))
            }
            ast::ApproverSet::Group(name) => match self.groups.get(&name.name) {
                Some(g) => {
                    let id = g.id;
                    self.index.refer(file, name.span, Target::Group(id));
                    if let Some(group) = self.bundle.groups.get_mut(id.index()) {
                        group.named_by_step_up = true;
                    }
                    let members = self.bundle.groups.get(id.index()).map(|g| g.members.clone()).unwrap_or_default();
                    let n = members.len();
                    (ir::Approvers::Identities(members), Some(n))
                }
                None => {
                    let mut d =
                        Diagnostic::new(Code::UnknownGroup, file, name.span, format!("unknown group `{}`", name.name));
                    d = match self.suggest_declared(Table::Groups, &name.name) {
                        Some(c) => d.with_help(format!("did you mean `{c}`?")),
                        None => {
                            d.with_help(format!("declare it: `group {} = [\"a@corp.com\", \"b@corp.com\"]`", name.name))
                        }
                    };
                    self.report(d);
                    (ir::Approvers::Identities(Vec::new()), None)
                }
            },
        }
    }

    pub(super) fn check_step_up(
        &mut self,
        file: FileId,
        block: &ast::StepUpBlock,
        rule_risk: Option<Risk>,
        settings: &ir::Settings,
        limits: &LimitScope,
    ) -> ir::StepUp {
        let mut seen: Vec<(&'static str, Span)> = Vec::new();
        let mut step = ir::StepUp {
            quorum: 1,
            approvers: ir::Approvers::Identities(Vec::new()),
            timeout_s: settings.step_up_timeout_s,
            on_timeout: settings.step_up_on_timeout.clone(),
            escalate: None,
            veto: true,
            self_approval: false,
            risk: rule_risk.unwrap_or(Risk::Medium),
            notify: Vec::new(),
            valid_s: None,
            limits: Vec::new(),
        };
        for clause in &block.clauses {
            let key = match &clause.kind {
                StepUpClauseKind::Approvers { .. } => "`approvers`",
                StepUpClauseKind::Timeout(_) => "`timeout`",
                StepUpClauseKind::Escalate { .. } => "`escalate`",
                StepUpClauseKind::Veto(_) => "`veto`",
                StepUpClauseKind::SelfApproval => "`self_approval`",
                StepUpClauseKind::Risk(_) => "`risk`",
                StepUpClauseKind::Notify(_) => "`notify`",
                StepUpClauseKind::Valid(_) => "`valid`",
                StepUpClauseKind::Limits(_) => "`limits`",
            };
            if let Some((_, first)) = seen.iter().find(|(k, _)| *k == key) {
                self.duplicate_clause(file, clause.span, *first, key);
                continue;
            }
            seen.push((key, clause.span));
            match &clause.kind {
                StepUpClauseKind::Approvers { quorum, from } => {
                    let (set, size) = self.approver_identities(file, from);
                    if quorum.value < 1 {
                        self.report(
                            Diagnostic::new(
                                Code::QuorumZero,
                                file,
                                quorum.span,
                                "a step-up needs at least one approver",
                            )
                            .with_help("write `approvers 1 of …` or more"),
                        );
                    } else if let Some(n) = size {
                        if i64::try_from(n).is_ok_and(|n| quorum.value > n) {
                            self.report(
                                Diagnostic::new(
                                    Code::QuorumTooLarge,
                                    file,
                                    quorum.span,
                                    format!(
                                        "{} approvals are required but only {n} {} can approve",
                                        quorum.value,
                                        if n == 1 { "identity" } else { "identities" }
                                    ),
                                )
                                .with_label("quorum can never be reached")
                                .with_help(format!("lower the quorum to at most {n}, or add approvers to the set")),
                            );
                        }
                    }
                    step.quorum = u32::try_from(quorum.value.max(1)).unwrap_or(u32::MAX);
                    step.approvers = set;
                }
                StepUpClauseKind::Timeout(limit) => {
                    if let LimitKind::Timeout(d) = limit.kind {
                        step.timeout_s = self.positive_duration(file, d, "an approval timeout");
                    }
                    step.on_timeout = self.check_outcome(file, &limit.outcome, rule_risk, settings, limits);
                }
                StepUpClauseKind::Escalate { after, to } => {
                    let after_s = self.positive_duration(file, *after, "an escalation delay");
                    let (set, _) = self.approver_identities(file, to);
                    let to = match set {
                        ir::Approvers::Identities(ids) => ids,
                        ir::Approvers::Role(_) => Vec::new(),
                    };
                    step.escalate = Some(ir::Escalation { after_s, to });
                }
                StepUpClauseKind::Veto(v) => step.veto = *v,
                StepUpClauseKind::SelfApproval => step.self_approval = true,
                StepUpClauseKind::Risk(r) => step.risk = lower_risk(r.level),
                StepUpClauseKind::Notify(channels) => step.notify = channels.iter().map(|c| c.value.clone()).collect(),
                StepUpClauseKind::Valid(d) => {
                    step.valid_s = Some(self.positive_duration(file, *d, "an approval's validity"))
                }
                StepUpClauseKind::Limits(fields) => step.limits = self.check_limits(file, fields, limits),
            }
        }
        if !seen.iter().any(|(k, _)| *k == "`approvers`") {
            self.report(
                Diagnostic::new(Code::MissingApprovers, file, block.span, "this `step_up` does not say who approves")
                    .with_help("add `approvers 1 of GROUP` (or `of [\"a@corp.com\"]`, or `of role \"ROLE\"`)"),
            );
        }
        if let Some(esc) = &step.escalate {
            if esc.after_s >= step.timeout_s && step.timeout_s > 0 {
                self.report(late_escalation(file, block, esc.after_s, step.timeout_s));
            }
        }
        step
    }

    fn check_defer(
        &mut self,
        file: FileId,
        block: &ast::DeferBlock,
        rule_risk: Option<Risk>,
        settings: &ir::Settings,
        limits: &LimitScope,
    ) -> ir::Defer {
        let mut defer = ir::Defer {
            need: Vec::new(),
            timeout_s: settings.defer_timeout_s,
            on_timeout: settings.defer_on_timeout.clone(),
            max_attempts: settings.defer_attempts,
            on_exhausted: settings.defer_on_exhausted.clone(),
        };
        let mut seen: Vec<(&'static str, Span)> = Vec::new();
        for clause in &block.clauses {
            let (key, span) = match clause {
                ast::DeferClause::Need(_, s) => ("`need`", *s),
                ast::DeferClause::Limit(l) => {
                    (if matches!(l.kind, LimitKind::Timeout(_)) { "`timeout`" } else { "`attempts`" }, l.span)
                }
            };
            if let Some((_, first)) = seen.iter().find(|(k, _)| *k == key) {
                self.duplicate_clause(file, span, *first, key);
                continue;
            }
            seen.push((key, span));
            match clause {
                ast::DeferClause::Need(names, _) => {
                    for n in names {
                        match self.evidence.get(&n.name) {
                            Some(d) => {
                                self.index.refer(file, n.span, Target::Evidence(d.id));
                                if !defer.need.contains(&d.id) {
                                    defer.need.push(d.id);
                                }
                            }
                            None => {
                                let mut d = Diagnostic::new(
                                    Code::UnknownEvidence,
                                    file,
                                    n.span,
                                    format!("`need` names unknown evidence `{}`", n.name),
                                );
                                d = match self.suggest_declared(Table::Evidence, &n.name) {
                                    Some(c) => d.with_help(format!("did you mean `{c}`?")),
                                    None => {
                                        d.with_help(format!("declare it: `evidence {}: Bool from \"source\"`", n.name))
                                    }
                                };
                                self.report(d);
                            }
                        }
                    }
                }
                ast::DeferClause::Limit(l) => {
                    let outcome = self.check_outcome(file, &l.outcome, rule_risk, settings, limits);
                    match l.kind {
                        LimitKind::Timeout(d) => {
                            defer.timeout_s = self.positive_duration(file, d, "a deferral timeout");
                            defer.on_timeout = outcome;
                        }
                        LimitKind::Attempts(n) => {
                            defer.max_attempts = self.attempts(file, n);
                            defer.on_exhausted = outcome;
                        }
                    }
                }
            }
        }
        defer
    }
}

/// `escalate after D` with D not before the approval timeout: the case is resolved by the
/// timeout first. Labelled at the delay, with the timeout clause it loses to (when the block has
/// one; otherwise the timeout is the settings' default).
fn late_escalation(file: FileId, block: &ast::StepUpBlock, after_s: i64, timeout_s: i64) -> Diagnostic {
    let clause_span = |want: fn(&StepUpClauseKind) -> Option<Span>| block.clauses.iter().find_map(|c| want(&c.kind));
    let after_span = clause_span(|k| match k {
        StepUpClauseKind::Escalate { after, .. } => Some(after.span),
        _ => None,
    })
    .unwrap_or(block.span);
    let timeout_span = clause_span(|k| match k {
        StepUpClauseKind::Timeout(limit) => match limit.kind {
            LimitKind::Timeout(d) => Some(d.span),
            _ => None,
        },
        _ => None,
    });
    let (after, timeout) = (format_duration(after_s), format_duration(timeout_s));
    let relation = if after_s == timeout_s { "at" } else { "after" };
    let mut d = Diagnostic::new(
        Code::NonPositiveDuration,
        file,
        after_span,
        format!("the escalation after {after} comes {relation} the timeout ({timeout}), so it can never happen"),
    )
    .with_label(format!("{after} is not before the timeout ({timeout})"))
    .with_help(format!("escalate after less than {timeout}, or lengthen the timeout"));
    if let Some(span) = timeout_span {
        d = d.with_secondary(file, span, format!("the case is resolved by this timeout after {timeout}"));
    }
    d
}

/// The syntax's risk keyword as the policy vocabulary's risk.
fn lower_risk(level: RiskLevel) -> Risk {
    match level {
        RiskLevel::Low => Risk::Low,
        RiskLevel::Medium => Risk::Medium,
        RiskLevel::High => Risk::High,
        RiskLevel::Critical => Risk::Critical,
    }
}

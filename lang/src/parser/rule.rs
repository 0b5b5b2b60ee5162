//! Rules and their decisions: `modify`, `step_up { ... }`, `defer { ... }`, limits and outcomes.

use super::{PResult, Parser};
use crate::ast::*;
use crate::diagnostic::{Code, Diagnostic};
use crate::token::Tok;

const DECISIONS: &str = "a decision (`allow`, `deny`, `modify`, `step_up` or `defer`)";

impl Parser<'_> {
    pub(super) fn parse_rule(&mut self) -> PResult<RuleDecl> {
        self.expect(Tok::Rule)?;
        let name = self.expect_ident("a rule name")?;
        if !self.at(Tok::On) {
            let f = self.unexpected("`on`");
            if let Some(d) = self.diags.last_mut() {
                d.help = Some(format!(
                    "name the tools the rule applies to: `rule {} on TOOL {{ ... }}` (or `on *`)",
                    name.name
                ));
            }
            return Err(f);
        }
        self.bump();
        let targets = if let Some(t) = self.eat(Tok::Star) {
            Targets::All(t.span)
        } else {
            let mut tools = vec![self.expect_ident("a tool name or `*`")?];
            while self.eat(Tok::Comma).is_some() {
                tools.push(self.expect_ident("a tool name")?);
            }
            Targets::Tools(tools)
        };
        let priority = if self.eat(Tok::Priority).is_some() {
            let minus = self.eat(Tok::Minus);
            let lit = self.expect_int("an integer priority")?;
            Some(match minus {
                Some(m) => IntLit { value: lit.value.saturating_neg(), span: m.span.to(lit.span) },
                None => lit,
            })
        } else {
            None
        };
        self.expect(Tok::LBrace)?;
        let mut clauses = Vec::new();
        loop {
            match self.kind() {
                Tok::When => {
                    self.bump();
                    clauses.push(RuleClause::When(self.parse_expr()?));
                }
                Tok::Risk => {
                    self.bump();
                    clauses.push(RuleClause::Risk(self.parse_risk_level()?));
                }
                Tok::Confidence => {
                    self.bump();
                    clauses.push(RuleClause::Confidence(self.parse_number("a confidence between 0 and 1")?));
                }
                // `valid` is contextual: no expression or decision starts a rule line with it.
                Tok::Ident if self.at_word("valid") => {
                    self.bump();
                    clauses.push(RuleClause::Valid(self.expect_duration()?));
                }
                _ => break,
            }
        }
        let decision = self.parse_decision()?;
        let reason = if self.at(Tok::Reason) { Some(self.parse_reason()?) } else { None };
        if !self.at(Tok::RBrace) {
            let expected = if reason.is_some() { "`}`" } else { "`reason` or `}`" };
            let before = self.diags.len();
            let f = self.unexpected(expected);
            // Only the diagnostic `unexpected` just added (it adds none after a lexer error): an
            // earlier one, e.g. of the reason message, keeps its own help.
            if let (true, Some(d)) = (self.diags.len() > before, self.diags.last_mut()) {
                d.help = Some("a rule has one decision, after its `when` lines and before its `reason`".into());
            }
            return Err(f);
        }
        self.bump();
        Ok(RuleDecl { name, targets, priority, clauses, decision, reason })
    }

    fn parse_risk_level(&mut self) -> PResult<RiskLit> {
        let t = self.tok();
        if t.kind != Tok::Ident {
            return Err(self.unexpected("a risk level (`low`, `medium`, `high` or `critical`)"));
        }
        self.bump();
        let word = self.text(t.span);
        match RiskLevel::parse(word) {
            Some(level) => Ok(RiskLit { level, span: t.span }),
            None => {
                let d =
                    Diagnostic::new(Code::InvalidRiskLevel, self.file, t.span, format!("unknown risk level `{word}`"))
                        .with_help("risk levels are `low`, `medium`, `high` and `critical`");
                self.report(d);
                Err(super::Fail)
            }
        }
    }

    fn parse_decision(&mut self) -> PResult<Decision> {
        let start = self.tok().span;
        let kind = match self.kind() {
            Tok::Allow => {
                self.bump();
                DecisionKind::Allow
            }
            Tok::Deny => {
                self.bump();
                DecisionKind::Deny
            }
            Tok::Modify => {
                self.bump();
                self.expect(Tok::LBrace)?;
                let mut assignments = Vec::new();
                while !self.at(Tok::RBrace) {
                    let a_start = self.tok().span;
                    if !self.at(Tok::Params) {
                        let f = self.unexpected("`params.FIELD = VALUE` or `}`");
                        if let Some(d) = self.diags.last_mut() {
                            d.help = Some("`modify` can only assign fields of `params`".into());
                        }
                        return Err(f);
                    }
                    self.bump();
                    self.expect(Tok::Dot)?;
                    let field = self.expect_name("a parameter name")?;
                    if self.at(Tok::EqEq) {
                        return Err(self.unexpected("`=`"));
                    }
                    self.expect(Tok::Eq)?;
                    let value = self.parse_expr()?;
                    let span = a_start.to(value.span);
                    assignments.push(Assignment { field, value, span });
                    self.eat(Tok::Semi);
                }
                self.expect(Tok::RBrace)?;
                DecisionKind::Modify(assignments)
            }
            Tok::StepUp => {
                self.bump();
                DecisionKind::StepUp(self.parse_step_up_block()?)
            }
            Tok::Defer => {
                self.bump();
                DecisionKind::Defer(self.parse_defer_block()?)
            }
            _ => return Err(self.unexpected(DECISIONS)),
        };
        Ok(Decision { kind, span: start.to(self.prev_end()) })
    }

    pub(super) fn parse_step_up_block(&mut self) -> PResult<StepUpBlock> {
        let start = self.expect(Tok::LBrace)?.span;
        let mut clauses = Vec::new();
        while !self.at(Tok::RBrace) {
            let c_start = self.tok().span;
            let kind = if self.eat_word("approvers").is_some() {
                let quorum = self.expect_int("the number of approvers needed")?;
                if self.eat_word("of").is_none() {
                    let f = self.unexpected("`of`");
                    if let Some(d) = self.diags.last_mut() {
                        d.help = Some(format!(
                            "write `approvers {} of GROUP`, `of [\"a@corp.com\", ...]` or `of role \"ROLE\"`",
                            quorum.value
                        ));
                    }
                    return Err(f);
                }
                // `role` is contextual: followed by a string it names a role, otherwise it is
                // an ordinary group name (as in the grammar).
                let from = if self.at_word("role") && self.nth(1).kind == Tok::Str {
                    self.bump();
                    ApproverSet::Role(self.expect_string("a role name")?)
                } else {
                    self.parse_approver_set()?
                };
                StepUpClauseKind::Approvers { quorum, from }
            } else if self.at_word("timeout") {
                StepUpClauseKind::Timeout(self.parse_limit()?)
            } else if self.eat_word("escalate").is_some() {
                self.expect_word("after")?;
                let after = self.expect_duration()?;
                self.expect_word("to")?;
                let to = self.parse_approver_set()?;
                StepUpClauseKind::Escalate { after, to }
            } else if self.eat_word("veto").is_some() {
                StepUpClauseKind::Veto(true)
            } else if self.eat_word("no").is_some() {
                self.expect_word("veto")?;
                StepUpClauseKind::Veto(false)
            } else if self.eat_word("self_approval").is_some() {
                StepUpClauseKind::SelfApproval
            } else if self.eat(Tok::Risk).is_some() {
                StepUpClauseKind::Risk(self.parse_risk_level()?)
            } else if self.eat_word("notify").is_some() {
                let mut channels = vec![self.expect_string("a channel name, e.g. \"slack:#approvals\"")?];
                while self.eat(Tok::Comma).is_some() {
                    channels.push(self.expect_string("a channel name")?);
                }
                StepUpClauseKind::Notify(channels)
            } else if self.eat_word("valid").is_some() {
                StepUpClauseKind::Valid(self.expect_duration()?)
            } else if self.eat_word("limits").is_some() {
                // Parameter names, reserved words included (`count`), as after `params.`.
                let mut fields = vec![self.expect_name("a parameter an approver may cap, e.g. `amount`")?];
                while self.eat(Tok::Comma).is_some() {
                    fields.push(self.expect_name("a parameter name")?);
                }
                StepUpClauseKind::Limits(fields)
            } else {
                return Err(self.unexpected(
                    "a `step_up` clause (`approvers`, `timeout`, `escalate`, `veto`, `no veto`, `self_approval`, `risk`, `notify`, `valid`, `limits`) or `}`",
                ));
            };
            clauses.push(StepUpClause { kind, span: c_start.to(self.prev_end()) });
        }
        let end = self.expect(Tok::RBrace)?.span;
        Ok(StepUpBlock { clauses, span: start.to(end) })
    }

    /// A group name or a literal list of identities.
    pub(super) fn parse_approver_set(&mut self) -> PResult<ApproverSet> {
        if self.at(Tok::LBracket) {
            let (members, span) = self.parse_string_list()?;
            Ok(ApproverSet::List { members, span })
        } else if self.at(Tok::Ident) {
            Ok(ApproverSet::Group(self.expect_ident("a group name")?))
        } else {
            Err(self.unexpected("a group name or a list of approvers"))
        }
    }

    fn parse_defer_block(&mut self) -> PResult<DeferBlock> {
        let start = self.expect(Tok::LBrace)?.span;
        let mut clauses = Vec::new();
        while !self.at(Tok::RBrace) {
            if let Some(t) = self.eat_word("need") {
                let mut names = vec![self.expect_ident("an evidence name")?];
                while self.eat(Tok::Comma).is_some() {
                    names.push(self.expect_ident("an evidence name")?);
                }
                let span = t.span.to(self.prev_end());
                clauses.push(DeferClause::Need(names, span));
            } else if self.at_word("timeout") || self.at_word("attempts") {
                clauses.push(DeferClause::Limit(self.parse_limit()?));
            } else {
                return Err(self.unexpected("a `defer` clause (`need`, `timeout`, `attempts`) or `}`"));
            }
        }
        let end = self.expect(Tok::RBrace)?.span;
        Ok(DeferBlock { clauses, span: start.to(end) })
    }

    /// `timeout D -> OUTCOME` or `attempts N -> OUTCOME`.
    pub(super) fn parse_limit(&mut self) -> PResult<Limit> {
        let start = self.tok().span;
        let kind = if self.eat_word("timeout").is_some() {
            LimitKind::Timeout(self.expect_duration()?)
        } else if self.eat_word("attempts").is_some() {
            LimitKind::Attempts(self.expect_int("the number of attempts")?)
        } else {
            return Err(self.unexpected("`timeout` or `attempts`"));
        };
        if !self.at(Tok::Arrow) {
            let f = self.unexpected("`->`");
            if let Some(d) = self.diags.last_mut() {
                d.help = Some("say what happens when the limit is reached, e.g. `timeout 30m -> deny`".into());
            }
            return Err(f);
        }
        self.bump();
        let outcome = self.parse_outcome()?;
        Ok(Limit { kind, outcome, span: start.to(self.prev_end()) })
    }

    fn parse_outcome(&mut self) -> PResult<Outcome> {
        let start = self.tok().span;
        let kind = match self.kind() {
            Tok::Allow => {
                self.bump();
                OutcomeKind::Allow
            }
            Tok::Deny => {
                self.bump();
                OutcomeKind::Deny
            }
            Tok::StepUp => {
                self.bump();
                OutcomeKind::StepUp(self.parse_step_up_block()?)
            }
            _ if self.eat_word("cancel").is_some() => OutcomeKind::Cancel,
            _ => return Err(self.unexpected("an outcome (`deny`, `cancel`, `step_up { ... }` or `allow`)")),
        };
        Ok(Outcome { kind, span: start.to(self.prev_end()) })
    }

    fn parse_reason(&mut self) -> PResult<Reason> {
        let start = self.expect(Tok::Reason)?.span;
        let code = self.expect_string("a reason code, e.g. \"transfer.large\"")?;
        let Some(t) = self.eat(Tok::Str) else {
            let before = self.diags.len();
            let f = self.unexpected("a reason message");
            if let (true, Some(d)) = (self.diags.len() > before, self.diags.last_mut()) {
                d.help = Some(format!("write `reason \"{}\" \"what the approver reads\"`", code.value));
            }
            return Err(f);
        };
        let message = self.parse_template(t.span);
        Ok(Reason { code, message, span: start.to(self.prev_end()) })
    }
}

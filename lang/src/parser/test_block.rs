//! `test "name" { steps }` blocks (docs/language.md, "Tests").

use super::{PResult, Parser};
use crate::ast::*;
use crate::token::Tok;

impl Parser<'_> {
    pub(super) fn parse_test(&mut self) -> PResult<TestDecl> {
        self.expect(Tok::Test)?;
        let name = self.expect_string("the test's name as a string")?;
        self.expect(Tok::LBrace)?;
        let mut steps = Vec::new();
        while !self.at(Tok::RBrace) {
            let start = self.tok().span;
            let kind = self.parse_step()?;
            steps.push(TestStep { kind, span: start.to(self.prev_end()) });
        }
        self.expect(Tok::RBrace)?;
        Ok(TestDecl { name, steps })
    }

    fn parse_step(&mut self) -> PResult<TestStepKind> {
        Ok(match self.kind() {
            Tok::Action => {
                self.bump();
                let tool = self.expect_ident("a tool name")?;
                let operation = if self.eat_word("operation").is_some() {
                    Some(self.expect_string("the action's operation, e.g. \"write\"")?)
                } else {
                    None
                };
                TestStepKind::Action { tool, operation, fields: self.parse_record()? }
            }
            Tok::Identity => {
                self.bump();
                TestStepKind::Identity(self.parse_record()?)
            }
            Tok::Context => {
                self.bump();
                TestStepKind::Context(self.parse_record()?)
            }
            Tok::Evidence => {
                self.bump();
                TestStepKind::Evidence(self.parse_record()?)
            }
            Tok::Deny => {
                self.bump();
                self.expect_word("by")?;
                let by = self.expect_string("the approver's identity")?;
                let why = if self.at(Tok::Str) { Some(self.expect_string("a reason")?) } else { None };
                let roles = if self.eat_word("roles").is_some() { Some(self.parse_expr()?) } else { None };
                TestStepKind::Deny { by, why, roles }
            }
            _ if self.eat_word("approve").is_some() => {
                self.expect_word("by")?;
                let by = self.expect_string("the approver's identity")?;
                let roles = if self.eat_word("roles").is_some() { Some(self.parse_expr()?) } else { None };
                TestStepKind::Approve { by, roles }
            }
            _ if self.eat_word("provide").is_some() => {
                let name = self.expect_ident("an evidence name")?;
                self.expect(Tok::Eq)?;
                TestStepKind::Provide { name, value: self.parse_expr()? }
            }
            _ if self.eat_word("wait").is_some() => TestStepKind::Wait(self.expect_duration()?),
            _ if self.eat_word("cancel").is_some() => TestStepKind::Cancel,
            _ if self.eat_word("expect").is_some() => TestStepKind::Expect(self.parse_expectation()?),
            _ => {
                return Err(self.unexpected(
                    "a test step (`action`, `identity`, `context`, `evidence`, `approve`, `deny`, `provide`, `wait`, `cancel`, `expect`) or `}`",
                ))
            }
        })
    }

    fn parse_expectation(&mut self) -> PResult<Expectation> {
        if self.eat_word("pending").is_some() {
            return Ok(Expectation::Pending);
        }
        if self.eat_word("rejected").is_some() {
            return Ok(Expectation::Rejected(self.expect_string("the rejection reason, e.g. \"self_approval\"")?));
        }
        if self.eat_word("cancel").is_some() {
            return Ok(Expectation::Cancelled);
        }
        if self.eat_word("receipts").is_some() {
            return Ok(Expectation::Receipts(self.parse_expr()?));
        }
        let decision = match self.kind() {
            Tok::Allow => DecisionName::Allow,
            Tok::Deny => DecisionName::Deny,
            Tok::Modify => DecisionName::Modify,
            Tok::StepUp => DecisionName::StepUp,
            Tok::Defer => DecisionName::Defer,
            _ => {
                return Err(self.unexpected(
                    "`allow`, `deny`, `modify`, `step_up`, `defer`, `cancel`, `pending`, `rejected` or `receipts`",
                ))
            }
        };
        self.bump();
        let params =
            if decision == DecisionName::Modify && self.at(Tok::LBrace) { Some(self.parse_record()?) } else { None };
        let rule = if self.eat(Tok::Rule).is_some() {
            let mut path = vec![self.expect_ident("a rule name")?];
            if self.eat(Tok::Dot).is_some() {
                path.push(self.expect_ident("a rule name")?);
            }
            Some(path)
        } else {
            None
        };
        let reason = if self.eat(Tok::Reason).is_some() { Some(self.expect_string("a reason code")?) } else { None };
        Ok(Expectation::Decision { decision, params, rule, reason })
    }
}

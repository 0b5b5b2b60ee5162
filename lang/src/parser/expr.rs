//! Expressions, one function per precedence level, loosest first — the same levels as the
//! `expr` rules of `lang/aarm.pest`.

use super::{PResult, Parser};
use crate::ast::*;
use crate::diagnostic::{Code, Diagnostic};
use crate::token::Tok;

impl Parser<'_> {
    pub(crate) fn parse_expr(&mut self) -> PResult<Expr> {
        self.enter()?;
        let r = self.parse_or();
        self.leave();
        r
    }

    fn parse_logic(&mut self, op: LogicOp) -> PResult<Expr> {
        let (tok, next): (Tok, fn(&mut Self) -> PResult<Expr>) = match op {
            LogicOp::Or => (Tok::Or, |p| p.parse_logic(LogicOp::And)),
            LogicOp::And => (Tok::And, Self::parse_not),
        };
        let first = next(self)?;
        if !self.at(tok) {
            return Ok(first);
        }
        let mut operands = vec![first];
        while self.eat(tok).is_some() {
            operands.push(next(self)?);
        }
        let span = match (operands.first(), operands.last()) {
            (Some(a), Some(b)) => a.span.to(b.span),
            _ => self.prev_end(),
        };
        Ok(Expr::new(ExprKind::Logic { op, operands }, span))
    }

    fn parse_or(&mut self) -> PResult<Expr> {
        self.parse_logic(LogicOp::Or)
    }

    fn parse_not(&mut self) -> PResult<Expr> {
        match self.kind() {
            Tok::Not => {
                let start = self.bump().span;
                self.enter()?;
                let inner = self.parse_not();
                self.leave();
                let inner = inner?;
                let span = start.to(inner.span);
                Ok(Expr::new(ExprKind::Not(Box::new(inner)), span))
            }
            Tok::Any | Tok::All | Tok::Count => self.parse_quantifier(),
            _ => self.parse_cmp(),
        }
    }

    fn parse_quantifier(&mut self) -> PResult<Expr> {
        let t = self.bump();
        let kind = match t.kind {
            Tok::Any => QuantKind::Any,
            Tok::All => QuantKind::All,
            _ => QuantKind::Count,
        };
        let var = self.expect_ident("a variable name")?;
        self.expect(Tok::In)?;
        let collection = self.parse_expr()?;
        if self.eat(Tok::Colon).is_none() {
            let f = self.unexpected("`:`");
            if let Some(d) = self.diags.last_mut() {
                d.help = Some(format!(
                    "a quantifier reads `{} {} in LIST: CONDITION`",
                    kind.as_str(),
                    var.name
                ));
            }
            return Err(f);
        }
        let body = self.parse_expr()?;
        let span = t.span.to(body.span);
        Ok(Expr::new(
            ExprKind::Quantifier { kind, var, collection: Box::new(collection), body: Box::new(body) },
            span,
        ))
    }

    fn cmp_op(kind: Tok) -> Option<BinOp> {
        Some(match kind {
            Tok::EqEq => BinOp::Eq,
            Tok::NotEq => BinOp::Ne,
            Tok::Lt => BinOp::Lt,
            Tok::LtEq => BinOp::Le,
            Tok::Gt => BinOp::Gt,
            Tok::GtEq => BinOp::Ge,
            _ => return None,
        })
    }

    fn parse_cmp(&mut self) -> PResult<Expr> {
        let lhs = self.parse_add()?;
        let expr = if let Some(op) = Self::cmp_op(self.kind()) {
            self.bump();
            let rhs = self.parse_add()?;
            let span = lhs.span.to(rhs.span);
            Expr::new(ExprKind::Binary { op, lhs: Box::new(lhs), rhs: Box::new(rhs) }, span)
        } else if self.eat(Tok::In).is_some() {
            let rhs = self.parse_add()?;
            let span = lhs.span.to(rhs.span);
            Expr::new(ExprKind::In { element: Box::new(lhs), collection: Box::new(rhs) }, span)
        } else if self.eat(Tok::Is).is_some() {
            let negated = self.eat(Tok::Not).is_some();
            if self.at(Tok::Eq) || self.at(Tok::EqEq) {
                return Err(self.unexpected("`set` or `not set`"));
            }
            let end = self.expect(Tok::Set)?.span;
            let span = lhs.span.to(end);
            Expr::new(ExprKind::IsSet { value: Box::new(lhs), negated }, span)
        } else {
            return Ok(lhs);
        };
        if Self::cmp_op(self.kind()).is_some() || self.at(Tok::In) || self.at(Tok::Is) {
            let t = self.tok();
            self.report(
                Diagnostic::new(
                    Code::ChainedComparison,
                    self.file,
                    t.span,
                    format!("comparison {} cannot follow another comparison", t.kind.describe()),
                )
                .with_label("second comparison")
                .with_secondary(self.file, expr.span, "first comparison")
                .with_help("join the comparisons with `and`, e.g. `a < b and b < c`"),
            );
            return Err(super::Fail);
        }
        Ok(expr)
    }

    /// A left-associative chain of binary operators. Each operand after the first deepens the
    /// tree by one, so it counts against the nesting limit.
    fn parse_chain(
        &mut self,
        ops: &[(Tok, BinOp)],
        next: fn(&mut Self) -> PResult<Expr>,
    ) -> PResult<Expr> {
        let mut lhs = next(self)?;
        let mut levels = 0;
        let result = loop {
            let Some(op) = ops.iter().find(|(t, _)| self.at(*t)).map(|(_, op)| *op) else {
                break Ok(lhs);
            };
            self.bump();
            if let Err(f) = self.enter() {
                break Err(f);
            }
            levels += 1;
            let rhs = match next(self) {
                Ok(rhs) => rhs,
                Err(f) => break Err(f),
            };
            let span = lhs.span.to(rhs.span);
            lhs = Expr::new(ExprKind::Binary { op, lhs: Box::new(lhs), rhs: Box::new(rhs) }, span);
        };
        for _ in 0..levels {
            self.leave();
        }
        result
    }

    fn parse_add(&mut self) -> PResult<Expr> {
        self.parse_chain(&[(Tok::Plus, BinOp::Add), (Tok::Minus, BinOp::Sub)], Self::parse_mul)
    }

    fn parse_mul(&mut self) -> PResult<Expr> {
        self.parse_chain(&[(Tok::Star, BinOp::Mul), (Tok::Slash, BinOp::Div)], Self::parse_unary)
    }

    fn parse_unary(&mut self) -> PResult<Expr> {
        if self.at(Tok::Minus) {
            let start = self.bump().span;
            self.enter()?;
            let inner = self.parse_unary();
            self.leave();
            let inner = inner?;
            let span = start.to(inner.span);
            return Ok(Expr::new(ExprKind::Neg(Box::new(inner)), span));
        }
        self.parse_postfix()
    }

    fn parse_postfix(&mut self) -> PResult<Expr> {
        let mut expr = self.parse_primary()?;
        let mut levels = 0;
        let result = loop {
            if self.eat(Tok::Dot).is_none() {
                break Ok(expr);
            }
            if let Err(f) = self.enter() {
                break Err(f);
            }
            levels += 1;
            let name = match self.expect_name("a field or method name") {
                Ok(n) => n,
                Err(f) => break Err(f),
            };
            if self.at(Tok::LParen) {
                let args = match self.parse_args() {
                    Ok(a) => a,
                    Err(f) => break Err(f),
                };
                let span = expr.span.to(self.prev_end());
                expr = Expr::new(ExprKind::Method { receiver: Box::new(expr), method: name, args }, span);
            } else {
                let span = expr.span.to(name.span);
                expr = Expr::new(ExprKind::Field { base: Box::new(expr), field: name }, span);
            }
        };
        for _ in 0..levels {
            self.leave();
        }
        result
    }

    /// `( arg, ... )` where an argument is an expression or a lambda `x => body`.
    fn parse_args(&mut self) -> PResult<Vec<Expr>> {
        self.expect(Tok::LParen)?;
        let mut args = Vec::new();
        while !self.at(Tok::RParen) {
            if self.at(Tok::Ident) && self.nth(1).kind == Tok::FatArrow {
                let param = self.expect_ident("a parameter name")?;
                self.bump();
                let body = self.parse_expr()?;
                let span = param.span.to(body.span);
                args.push(Expr::new(ExprKind::Lambda { param, body: Box::new(body) }, span));
            } else {
                args.push(self.parse_expr()?);
            }
            if self.eat(Tok::Comma).is_none() {
                break;
            }
        }
        self.expect(Tok::RParen)?;
        Ok(args)
    }

    fn parse_primary(&mut self) -> PResult<Expr> {
        let t = self.tok();
        let kind = match t.kind {
            Tok::Duration => {
                self.bump();
                ExprKind::Duration(self.duration_value(t.span).seconds)
            }
            Tok::Int => {
                self.bump();
                ExprKind::Int(self.int_value(t.span).value)
            }
            Tok::Decimal => {
                self.bump();
                ExprKind::Decimal(self.decimal_value(t.span).scaled)
            }
            Tok::Str => {
                self.bump();
                ExprKind::Str(self.decode_string(t.span).value)
            }
            Tok::True => {
                self.bump();
                ExprKind::Bool(true)
            }
            Tok::False => {
                self.bump();
                ExprKind::Bool(false)
            }
            Tok::LBracket => {
                self.bump();
                let mut items = Vec::new();
                while !self.at(Tok::RBracket) {
                    items.push(self.parse_expr()?);
                    if self.eat(Tok::Comma).is_none() {
                        break;
                    }
                }
                self.expect(Tok::RBracket)?;
                ExprKind::List(items)
            }
            Tok::LBrace => ExprKind::Record(self.parse_record()?),
            Tok::LParen => {
                self.bump();
                let inner = self.parse_expr()?;
                self.expect(Tok::RParen)?;
                ExprKind::Paren(Box::new(inner))
            }
            Tok::Ident if self.nth(1).kind == Tok::LParen => {
                let callee = self.expect_ident("a function name")?;
                let args = self.parse_args()?;
                ExprKind::Call { callee, args }
            }
            Tok::Ident => ExprKind::Name(self.expect_ident("a name")?),
            Tok::Params => self.root(Root::Params),
            Tok::Action => self.root(Root::Action),
            Tok::Identity => self.root(Root::Identity),
            Tok::Context => self.root(Root::Context),
            Tok::Evidence => self.root(Root::Evidence),
            _ => return Err(self.unexpected("an expression")),
        };
        Ok(Expr::new(kind, t.span.to(self.prev_end())))
    }

    fn root(&mut self, root: Root) -> ExprKind {
        self.bump();
        ExprKind::Root(root)
    }

    /// `{ name: expr, ... }`, used by record literals and test steps.
    pub(super) fn parse_record(&mut self) -> PResult<Vec<RecordField>> {
        self.expect(Tok::LBrace)?;
        let mut fields = Vec::new();
        while !self.at(Tok::RBrace) {
            let name = self.expect_name("a field name")?;
            self.expect(Tok::Colon)?;
            let value = self.parse_expr()?;
            fields.push(RecordField { name, value });
            if self.eat(Tok::Comma).is_none() {
                break;
            }
        }
        self.expect(Tok::RBrace)?;
        Ok(fields)
    }
}

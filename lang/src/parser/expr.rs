//! Expressions, one function per precedence level, loosest first — the same levels as the
//! `expr` rules of `lang/aarm.pest`.

use super::{PResult, Parser};
use crate::ast::*;
use crate::diagnostic::{Code, Diagnostic};
use crate::token::Tok;

impl Parser<'_> {
    pub(crate) fn parse_expr(&mut self) -> PResult<Expr> {
        self.enter()?;
        let r = self.parse_logic(LogicOp::Or);
        self.leave();
        r
    }

    // Stack use matters here: every level below is on the stack once per nesting level (a
    // parenthesis, a list, a call argument ...), and debug builds give each function a frame as
    // large as all of its temporaries. So each level keeps its common path (one operand, no
    // operator) in a small function and moves the rest into a separate, non-inlined one.

    fn parse_logic(&mut self, op: LogicOp) -> PResult<Expr> {
        let first = match op {
            LogicOp::Or => self.parse_logic(LogicOp::And)?,
            LogicOp::And => self.parse_not()?,
        };
        let tok = match op {
            LogicOp::Or => Tok::Or,
            LogicOp::And => Tok::And,
        };
        if !self.at(tok) {
            return Ok(first);
        }
        self.finish_logic(op, tok, first)
    }

    #[inline(never)]
    fn finish_logic(&mut self, op: LogicOp, tok: Tok, first: Expr) -> PResult<Expr> {
        let mut operands = vec![first];
        while self.eat(tok).is_some() {
            let next = match op {
                LogicOp::Or => self.parse_logic(LogicOp::And)?,
                LogicOp::And => self.parse_not()?,
            };
            operands.push(next);
        }
        let span = match (operands.first(), operands.last()) {
            (Some(a), Some(b)) => a.span.to(b.span),
            _ => self.prev_end(),
        };
        Ok(Expr::new(ExprKind::Logic { op, operands }, span))
    }

    fn parse_not(&mut self) -> PResult<Expr> {
        match self.kind() {
            Tok::Not => self.parse_not_op(),
            Tok::Any | Tok::All | Tok::Count => self.parse_quantifier(),
            _ => self.parse_cmp(),
        }
    }

    #[inline(never)]
    fn parse_not_op(&mut self) -> PResult<Expr> {
        let start = self.bump().span;
        self.enter()?;
        let inner = self.parse_not();
        self.leave();
        let inner = inner?;
        let span = start.to(inner.span);
        Ok(Expr::new(ExprKind::Not(Box::new(inner)), span))
    }

    #[inline(never)]
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
            return Err(self.quantifier_without_colon(kind, &var));
        }
        let body = self.parse_expr()?;
        let span = t.span.to(body.span);
        Ok(Expr::new(ExprKind::Quantifier { kind, var, collection: Box::new(collection), body: Box::new(body) }, span))
    }

    #[cold]
    #[inline(never)]
    fn quantifier_without_colon(&mut self, kind: QuantKind, var: &Ident) -> super::Fail {
        let f = self.unexpected("`:`");
        if let Some(d) = self.diags.last_mut() {
            d.help = Some(format!("a quantifier reads `{} {} in LIST: CONDITION`", kind.as_str(), var.name));
        }
        f
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

    fn at_comparison(&self) -> bool {
        Self::cmp_op(self.kind()).is_some() || self.at(Tok::In) || self.at(Tok::Is)
    }

    fn parse_cmp(&mut self) -> PResult<Expr> {
        let lhs = self.parse_add()?;
        if !self.at_comparison() {
            return Ok(lhs);
        }
        self.finish_cmp(lhs)
    }

    #[inline(never)]
    fn finish_cmp(&mut self, lhs: Expr) -> PResult<Expr> {
        let expr = if let Some(op) = Self::cmp_op(self.kind()) {
            self.bump();
            let rhs = self.parse_add()?;
            let span = lhs.span.to(rhs.span);
            Expr::new(ExprKind::Binary { op, lhs: Box::new(lhs), rhs: Box::new(rhs) }, span)
        } else if self.eat(Tok::In).is_some() {
            let rhs = self.parse_add()?;
            let span = lhs.span.to(rhs.span);
            Expr::new(ExprKind::In { element: Box::new(lhs), collection: Box::new(rhs) }, span)
        } else {
            self.expect(Tok::Is)?;
            let negated = self.eat(Tok::Not).is_some();
            if self.at(Tok::Eq) || self.at(Tok::EqEq) {
                return Err(self.unexpected("`set` or `not set`"));
            }
            let end = self.expect(Tok::Set)?.span;
            let span = lhs.span.to(end);
            Expr::new(ExprKind::IsSet { value: Box::new(lhs), negated }, span)
        };
        if self.at_comparison() {
            return Err(self.chained_comparison(expr.span));
        }
        Ok(expr)
    }

    #[cold]
    #[inline(never)]
    fn chained_comparison(&mut self, first: crate::span::Span) -> super::Fail {
        let t = self.tok();
        self.report(
            Diagnostic::new(
                Code::ChainedComparison,
                self.file,
                t.span,
                format!("comparison {} cannot follow another comparison", t.kind.describe()),
            )
            .with_label("second comparison")
            .with_secondary(self.file, first, "first comparison")
            .with_help("join the comparisons with `and`, e.g. `a < b and b < c`"),
        );
        super::Fail
    }

    fn add_op(kind: Tok) -> Option<BinOp> {
        match kind {
            Tok::Plus => Some(BinOp::Add),
            Tok::Minus => Some(BinOp::Sub),
            _ => None,
        }
    }

    fn mul_op(kind: Tok) -> Option<BinOp> {
        match kind {
            Tok::Star => Some(BinOp::Mul),
            Tok::Slash => Some(BinOp::Div),
            _ => None,
        }
    }

    fn parse_add(&mut self) -> PResult<Expr> {
        let lhs = self.parse_mul()?;
        if Self::add_op(self.kind()).is_none() {
            return Ok(lhs);
        }
        self.finish_chain(lhs, Self::add_op, Self::parse_mul)
    }

    fn parse_mul(&mut self) -> PResult<Expr> {
        let lhs = self.parse_unary()?;
        if Self::mul_op(self.kind()).is_none() {
            return Ok(lhs);
        }
        self.finish_chain(lhs, Self::mul_op, Self::parse_unary)
    }

    /// The rest of a left-associative chain of binary operators. Each operand after the first
    /// deepens the tree by one, so it counts against the nesting limit.
    #[inline(never)]
    fn finish_chain(
        &mut self,
        first: Expr,
        op_of: fn(Tok) -> Option<BinOp>,
        next: fn(&mut Self) -> PResult<Expr>,
    ) -> PResult<Expr> {
        let mut lhs = first;
        let mut levels = 0;
        let result = loop {
            let Some(op) = op_of(self.kind()) else {
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

    fn parse_unary(&mut self) -> PResult<Expr> {
        if self.at(Tok::Minus) {
            return self.parse_neg();
        }
        self.parse_postfix()
    }

    #[inline(never)]
    fn parse_neg(&mut self) -> PResult<Expr> {
        let start = self.bump().span;
        self.enter()?;
        let inner = self.parse_unary();
        self.leave();
        let inner = inner?;
        let span = start.to(inner.span);
        Ok(Expr::new(ExprKind::Neg(Box::new(inner)), span))
    }

    fn parse_postfix(&mut self) -> PResult<Expr> {
        let expr = self.parse_primary()?;
        if !self.at(Tok::Dot) {
            return Ok(expr);
        }
        self.finish_postfix(expr)
    }

    #[inline(never)]
    fn finish_postfix(&mut self, first: Expr) -> PResult<Expr> {
        let mut expr = first;
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
        match self.kind() {
            Tok::LParen => self.parse_paren(),
            Tok::LBracket => self.parse_list(),
            Tok::LBrace => self.parse_record_expr(),
            Tok::Ident if self.nth(1).kind == Tok::LParen => self.parse_call(),
            _ => self.parse_atom(),
        }
    }

    #[inline(never)]
    fn parse_paren(&mut self) -> PResult<Expr> {
        let start = self.expect(Tok::LParen)?.span;
        let inner = self.parse_expr()?;
        let end = self.expect(Tok::RParen)?.span;
        Ok(Expr::new(ExprKind::Paren(Box::new(inner)), start.to(end)))
    }

    #[inline(never)]
    fn parse_list(&mut self) -> PResult<Expr> {
        let start = self.expect(Tok::LBracket)?.span;
        let mut items = Vec::new();
        while !self.at(Tok::RBracket) {
            items.push(self.parse_expr()?);
            if self.eat(Tok::Comma).is_none() {
                break;
            }
        }
        let end = self.expect(Tok::RBracket)?.span;
        Ok(Expr::new(ExprKind::List(items), start.to(end)))
    }

    #[inline(never)]
    fn parse_record_expr(&mut self) -> PResult<Expr> {
        let start = self.tok().span;
        let fields = self.parse_record()?;
        Ok(Expr::new(ExprKind::Record(fields), start.to(self.prev_end())))
    }

    #[inline(never)]
    fn parse_call(&mut self) -> PResult<Expr> {
        let start = self.tok().span;
        let callee = self.expect_ident("a function name")?;
        let args = self.parse_args()?;
        Ok(Expr::new(ExprKind::Call { callee, args }, start.to(self.prev_end())))
    }

    /// Literals, names and roots: the primaries that do not nest.
    #[inline(never)]
    fn parse_atom(&mut self) -> PResult<Expr> {
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

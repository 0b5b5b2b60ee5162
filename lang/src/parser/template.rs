//! Reason messages: `"Transfer of {params.amount} {params.currency}"`. The text between braces is
//! lexed and parsed as an expression in place, so spans point into the string. An interpolation
//! holds no braces, strings or comments (the grammar's `template_expr` says the same).

use super::{Fail, Parser};
use crate::ast::{Expr, Template, TemplatePart};
use crate::diagnostic::{Code, Diagnostic};
use crate::lexer::lex;
use crate::span::Span;
use crate::token::Tok;

impl Parser<'_> {
    /// Parses a string token as a template. Errors are reported; the parts that parsed are kept.
    pub(super) fn parse_template(&mut self, span: Span) -> Template {
        let raw = self.text(span);
        let inner = raw.strip_prefix('"').unwrap_or(raw);
        let inner = inner.strip_suffix('"').unwrap_or(inner);
        let inner_start = span.start.saturating_add(1);
        let mut parts = Vec::new();
        let mut text_start = 0usize;
        let bytes = inner.as_bytes();
        let mut i = 0usize;
        while let Some(&b) = bytes.get(i) {
            match b {
                b'\\' => {
                    // `\u{...}` is one escape: its braces are not an interpolation.
                    if bytes.get(i + 1) == Some(&b'u') && bytes.get(i + 2) == Some(&b'{') {
                        let rest = inner.get(i + 3..).unwrap_or("");
                        i = rest.find('}').map_or(bytes.len(), |c| i + 3 + c + 1);
                    } else {
                        i += 2;
                    }
                }
                b'{' => {
                    self.push_text(inner, text_start, i, inner_start, &mut parts);
                    let at = offset(inner_start, i);
                    let rest = inner.get(i + 1..).unwrap_or("");
                    let close = rest.find('}');
                    let bad = rest.find(['{']).filter(|p| close.is_none_or(|c| *p < c));
                    let comment = [rest.find("//"), rest.find("/*")]
                        .into_iter()
                        .flatten()
                        .min()
                        .filter(|p| close.is_none_or(|c| *p < c));
                    match (close, bad.or(comment)) {
                        (Some(c), None) => {
                            let body = rest.get(..c).unwrap_or("");
                            if let Some(expr) = self.parse_interpolation(body, offset(inner_start, i + 1)) {
                                parts.push(TemplatePart::Expr(expr));
                            }
                            i += c + 2;
                        }
                        (None, _) if self.closes_later_on_the_line(span) => {
                            // `"a {f("x")} b"`: the string literal's opening quote ended the
                            // message, and the `}` is on the line after it.
                            let quote = span.end.saturating_sub(1);
                            self.report(
                                Diagnostic::new(
                                    Code::InvalidInterpolation,
                                    self.file,
                                    Span::new(quote, span.end),
                                    "a string literal cannot appear inside an interpolation: its `\"` ends the reason message",
                                )
                                .with_label("this quote ends the message")
                                .with_secondary(self.file, Span::new(at, at + 1), "the interpolation opened here")
                                .with_help("interpolations hold no strings: write the text outside the braces, or compute it in a `fn` and interpolate the call"),
                            );
                            self.skip_cut_off_rest(span);
                            i = bytes.len();
                        }
                        (None, _) => {
                            self.report(
                                Diagnostic::new(
                                    Code::InvalidInterpolation,
                                    self.file,
                                    Span::new(at, at + 1),
                                    "`{` is never closed in this reason message",
                                )
                                .with_help("close the interpolation with `}`, or write `\\{` for a literal brace"),
                            );
                            i = bytes.len();
                        }
                        (Some(c), Some(_)) => {
                            // Report the hole up to its matching `}` so that the braces inside it
                            // do not cause a second, "unmatched `}`" error.
                            let c = matching_close(rest).unwrap_or(c);
                            self.report(
                                Diagnostic::new(
                                    Code::InvalidInterpolation,
                                    self.file,
                                    Span::new(at, offset(inner_start, i + c + 2)),
                                    "an interpolation cannot contain braces or comments",
                                )
                                .with_help("interpolate a simple expression such as `{params.amount}`; write `\\{` for a literal brace"),
                            );
                            i += c + 2;
                        }
                    }
                    text_start = i;
                }
                b'}' => {
                    let at = offset(inner_start, i);
                    self.report(
                        Diagnostic::new(
                            Code::InvalidInterpolation,
                            self.file,
                            Span::new(at, at + 1),
                            "unmatched `}` in reason message",
                        )
                        .with_help("write `\\}` for a literal brace"),
                    );
                    i += 1;
                }
                _ => i += 1,
            }
        }
        self.push_text(inner, text_start, bytes.len(), inner_start, &mut parts);
        Template { parts, span }
    }

    /// Whether the line goes on after the string token `span` with a quote and then a `}`: an
    /// interpolation left open in the string then held a string literal (`{f("x")}`), whose
    /// opening quote ended the string early; the literal's closing quote is the one after it.
    fn closes_later_on_the_line(&self, span: Span) -> bool {
        let start = span.end.saturating_sub(self.base) as usize;
        let rest = self.src.get(start..).unwrap_or("");
        let line = rest.split('\n').next().unwrap_or("");
        line.find('"').and_then(|q| line.get(q + 1..)).is_some_and(|after| after.contains('}'))
    }

    /// Skips the rest of a message a string literal cut short (`x")} b"` of `"a {f("x")} b"`), up
    /// to and including the string its closing quote opens, on the same line: it would otherwise
    /// be reported again as unexpected tokens.
    fn skip_cut_off_rest(&mut self, span: Span) {
        let start = span.end.saturating_sub(self.base) as usize;
        let rest = self.src.get(start..).unwrap_or("");
        let line_end = span.end.saturating_add(to_u32_len(rest.find('\n').unwrap_or(rest.len())));
        while self.tok().kind != Tok::Eof && self.tok().span.start < line_end {
            if self.bump().kind == Tok::Str {
                break;
            }
        }
    }

    fn push_text(&mut self, inner: &str, from: usize, to: usize, inner_start: u32, parts: &mut Vec<TemplatePart>) {
        if to > from {
            let raw = inner.get(from..to).unwrap_or("");
            let text = self.unescape(raw, offset(inner_start, from), true);
            parts.push(TemplatePart::Text(text));
        }
    }

    fn parse_interpolation(&mut self, body: &str, start: u32) -> Option<Expr> {
        let lexed = lex(self.file, body, start);
        self.diags.extend(lexed.diagnostics);
        let mut sub = Parser::new(self.file, body, lexed.tokens, Vec::new(), start);
        sub.depth = self.depth;
        sub.interpolation = true;
        let result = sub.parse_expr();
        if result.is_ok() && !sub.at(Tok::Eof) {
            let _: Fail = sub.unexpected("`}`");
        }
        let ok = sub.diags.is_empty();
        self.diags.extend(sub.diags);
        match result {
            Ok(e) if ok => Some(e),
            _ => None,
        }
    }
}

/// The byte index in `rest` (the text after an opening `{`) of the `}` that closes it.
fn matching_close(rest: &str) -> Option<usize> {
    let mut depth = 1usize;
    for (i, b) in rest.bytes().enumerate() {
        match b {
            b'{' => depth += 1,
            b'}' => {
                depth -= 1;
                if depth == 0 {
                    return Some(i);
                }
            }
            _ => {}
        }
    }
    None
}

fn offset(base: u32, i: usize) -> u32 {
    base.saturating_add(u32::try_from(i).unwrap_or(u32::MAX))
}

fn to_u32_len(n: usize) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}

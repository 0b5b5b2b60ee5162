//! Source text → tokens. Wraps the logos tokenizer ([`crate::token::Tok`]): separates comments
//! from the token stream, merges runs of invalid characters into one error, and enforces the
//! lexical limits.

use crate::diagnostic::{Code, Diagnostic};
use crate::limits::{MAX_NAME_BYTES, MAX_SOURCE_BYTES, MAX_STRING_BYTES};
use crate::span::{FileId, Span};
use crate::token::Tok;
use logos::Logos;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Token {
    pub(crate) kind: Tok,
    pub(crate) span: Span,
}

/// A comment as the lexer saw it; `doc` marks `///` comments.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct RawComment {
    pub(crate) span: Span,
    pub(crate) doc: bool,
}

#[derive(Debug, Default)]
pub(crate) struct Lexed {
    /// Tokens without comments, always ending with one [`Tok::Eof`].
    pub(crate) tokens: Vec<Token>,
    pub(crate) comments: Vec<RawComment>,
    pub(crate) diagnostics: Vec<Diagnostic>,
}

/// Tokenizes `src`. `base` is added to every span (non-zero when lexing text inside a string).
pub(crate) fn lex(file: FileId, src: &str, base: u32) -> Lexed {
    let mut out = Lexed::default();
    if src.len() > MAX_SOURCE_BYTES {
        out.diagnostics.push(
            Diagnostic::new(
                Code::FileTooLarge,
                file,
                Span::new(0, 0),
                format!("file is {} bytes; the limit is {MAX_SOURCE_BYTES}", src.len()),
            )
            .with_help("split the policy into several files"),
        );
        out.tokens.push(Token { kind: Tok::Eof, span: Span::new(base, base) });
        return out;
    }
    // The test above keeps every offset within `MAX_SOURCE_BYTES`, far below `u32::MAX`, so the
    // casts are exact. (`u32::try_from` was a comparison per offset, two per token, each a
    // comparison-tracing callback under the fuzzer: 2 % of `check_source`.)
    const _: () = assert!(MAX_SOURCE_BYTES < u32::MAX as usize);
    let to_span = |r: std::ops::Range<usize>| {
        let start = (r.start as u32).saturating_add(base);
        let end = (r.end as u32).saturating_add(base);
        Span::new(start, end)
    };
    // About one token per four bytes of source: the vector grows a few times at most, rather
    // than a dozen times from empty.
    out.tokens.reserve(src.len() / 4 + 1);
    let mut lexer = Tok::lexer(src);
    let mut pending_error: Option<Span> = None;
    while let Some(result) = lexer.next() {
        let span = to_span(lexer.span());
        let kind = match result {
            Ok(kind) => kind,
            Err(()) => {
                pending_error = Some(pending_error.map_or(span, |s| s.to(span)));
                continue;
            }
        };
        if let Some(err) = pending_error.take() {
            out.diagnostics.push(invalid_chars(file, src, err, base));
            // The parser sees the run as one token, so that it does not report a second error
            // ("expected ..., found ...") for the same place.
            out.tokens.push(Token { kind: Tok::Error, span: err });
        }
        match kind {
            Tok::LineComment => {
                let text = lexer.slice();
                let doc = text.starts_with("///") && !text.starts_with("////");
                out.comments.push(RawComment { span, doc });
            }
            Tok::BlockComment => out.comments.push(RawComment { span, doc: false }),
            Tok::UnterminatedComment => {
                out.diagnostics.push(
                    Diagnostic::new(
                        Code::UnterminatedComment,
                        file,
                        Span::new(span.start, span.start.saturating_add(2)),
                        "block comment is never closed",
                    )
                    .with_label("this `/*` has no matching `*/`")
                    .with_help("close it with `*/`; block comments do not nest"),
                );
            }
            Tok::UnterminatedStr => {
                out.diagnostics.push(
                    Diagnostic::new(Code::UnterminatedString, file, span, "string is never closed")
                        .with_label("the line ends before the closing `\"`")
                        .with_help("close the string on the same line; write `\\n` for a line break"),
                );
                // Keep a string token so that the parser does not report a second error here.
                out.tokens.push(Token { kind: Tok::Str, span });
            }
            Tok::BadNumber => {
                out.diagnostics.push(bad_number(file, lexer.slice(), span));
                out.tokens.push(Token { kind: Tok::Int, span });
            }
            Tok::Ident if lexer.slice().len() > MAX_NAME_BYTES => {
                out.diagnostics.push(
                    Diagnostic::new(
                        Code::NameTooLong,
                        file,
                        Span::new(span.start, span.start.saturating_add(16)),
                        format!("name is {} bytes long; the limit is {MAX_NAME_BYTES}", lexer.slice().len()),
                    )
                    .with_help("use a shorter name"),
                );
                out.tokens.push(Token { kind, span });
            }
            Tok::Str if lexer.slice().len() > MAX_STRING_BYTES => {
                out.diagnostics.push(Diagnostic::new(
                    Code::StringTooLong,
                    file,
                    Span::new(span.start, span.start.saturating_add(1)),
                    format!("string is {} bytes long; the limit is {MAX_STRING_BYTES}", lexer.slice().len()),
                ));
                out.tokens.push(Token { kind, span });
            }
            _ => out.tokens.push(Token { kind, span }),
        }
    }
    if let Some(err) = pending_error.take() {
        out.diagnostics.push(invalid_chars(file, src, err, base));
        out.tokens.push(Token { kind: Tok::Error, span: err });
    }
    let end = to_span(src.len()..src.len());
    out.tokens.push(Token { kind: Tok::Eof, span: end });
    out
}

fn invalid_chars(file: FileId, src: &str, span: Span, base: u32) -> Diagnostic {
    let local = Span::new(span.start.saturating_sub(base), span.end.saturating_sub(base));
    let text = src.get(local.range()).unwrap_or("");
    let first = text.chars().next().unwrap_or('\u{FFFD}');
    let shown = if first.is_control() || first.is_whitespace() {
        format!("U+{:04X}", u32::from(first))
    } else {
        format!("`{first}`")
    };
    let count = text.chars().count();
    let message = if count == 1 {
        format!("invalid character {shown}")
    } else {
        format!("{count} invalid characters, starting with {shown}")
    };
    let help = match first {
        '!' => Some("write `not` for negation and `!=` for inequality"),
        '&' => Some("write `and` to combine conditions"),
        '|' => Some("write `or` to combine conditions"),
        '\'' => Some("strings use double quotes: \"...\""),
        '#' => Some("comments start with `//`"),
        '\u{201C}' | '\u{201D}' => Some("replace typographic quotes with plain `\"`"),
        _ => None,
    };
    let d = Diagnostic::new(Code::InvalidCharacter, file, span, message);
    match help {
        Some(h) => d.with_help(h),
        None => d,
    }
}

fn bad_number(file: FileId, text: &str, span: Span) -> Diagnostic {
    let digits_end = text.find(|c: char| !c.is_ascii_digit() && c != '_' && c != '.').unwrap_or(0);
    let suffix = text.get(digits_end..).unwrap_or("");
    let d = Diagnostic::new(Code::MalformedNumber, file, span, format!("`{text}` is neither a number nor a duration"));
    if text.contains('.') {
        d.with_help("durations take whole numbers: write `1h30m` rather than `1.5h`")
    } else if text.contains('_') && suffix.chars().all(|c| "dhms".contains(c)) {
        d.with_help("durations take plain digits: write `1000s` rather than `1_000s`")
    } else {
        d.with_help(format!(
            "duration units are `d`, `h`, `m` and `s` (`{}` is not one); otherwise put a space between the number and the name",
            suffix
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kinds(src: &str) -> Vec<Tok> {
        lex(FileId(0), src, 0).tokens.iter().map(|t| t.kind).collect()
    }

    #[test]
    fn words_numbers_and_punctuation() {
        use Tok::*;
        assert_eq!(
            kinds("rule r on t priority 5 { when params.x >= 1.5 deny }"),
            vec![
                Rule, Ident, On, Ident, Priority, Int, LBrace, When, Params, Dot, Ident, GtEq, Decimal, Deny, RBrace,
                Eof
            ]
        );
        assert_eq!(
            kinds("1h30m 30s 10_000 ./common -> =>"),
            vec![Duration, Duration, Int, RelPath, Arrow, FatArrow, Eof]
        );
    }

    #[test]
    fn comments_are_separated_and_docs_marked() {
        let l = lex(FileId(0), "/// doc\n// plain\n//// not doc\n/* block */ tool", 0);
        assert_eq!(l.tokens.len(), 2);
        assert_eq!(l.comments.iter().map(|c| c.doc).collect::<Vec<_>>(), vec![true, false, false, false]);
    }

    #[test]
    fn malformed_input_is_reported_not_fatal() {
        let l = lex(FileId(0), "\"open\n10ms /* never closed", 0);
        let codes: Vec<_> = l.diagnostics.iter().map(|d| d.code).collect();
        assert_eq!(codes, vec![Code::UnterminatedString, Code::MalformedNumber, Code::UnterminatedComment]);
    }

    #[test]
    fn runs_of_invalid_characters_are_one_error() {
        let l = lex(FileId(0), "a \u{0}\u{0}\u{0} b", 0);
        assert_eq!(l.diagnostics.len(), 1);
        assert!(l.diagnostics[0].message.contains("3 invalid characters"), "{}", l.diagnostics[0].message);
    }
}

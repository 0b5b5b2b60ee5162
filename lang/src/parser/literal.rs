//! Decoding literal tokens: string escapes, integers, decimals and durations. Values that are
//! well-formed but out of range are reported with value codes (`E003x`), not as syntax errors.

use super::Parser;
use crate::ast::{DecLit, DurLit, IntLit, StrLit};
use crate::diagnostic::{Code, Diagnostic};
use crate::span::Span;

/// Digits after the point a decimal keeps.
pub const DECIMAL_DIGITS: usize = 18;

/// Units (10^-18) per one: decimals are exact to 18 fractional digits (the runtime's
/// `aarm_runtime::decimal`, which the compiler checks is the same).
pub const DECIMAL_SCALE: i128 = 1_000_000_000_000_000_000;

/// Scaled magnitudes stay below 10^38: a decimal is less than 10^20 in magnitude.
pub const DECIMAL_LIMIT: i128 = 100_000_000_000_000_000_000_000_000_000_000_000_000;

impl Parser<'_> {
    /// Decodes a `"..."` token's escapes. Returns the value; errors are reported.
    pub(super) fn decode_string(&mut self, span: Span) -> StrLit {
        let raw = self.text(span);
        let inner = raw.strip_prefix('"').unwrap_or(raw);
        let inner = inner.strip_suffix('"').unwrap_or(inner);
        let value = self.unescape(inner, span.start.saturating_add(1), false);
        StrLit { value, span }
    }

    /// Decodes escapes in `raw` (the text between the quotes). `start` is the offset of `raw` in
    /// the file. In a template, `{` and `}` are not literal and are handled by the caller.
    pub(super) fn unescape(&mut self, raw: &str, start: u32, _template: bool) -> String {
        // Most strings have no escape: copied whole rather than character by character.
        if !raw.contains('\\') {
            return raw.to_string();
        }
        let mut out = String::with_capacity(raw.len());
        let mut chars = raw.char_indices().peekable();
        while let Some((i, c)) = chars.next() {
            if c != '\\' {
                out.push(c);
                continue;
            }
            let at = start.saturating_add(u32::try_from(i).unwrap_or(0));
            match chars.next() {
                Some((_, '"')) => out.push('"'),
                Some((_, '\\')) => out.push('\\'),
                Some((_, 'n')) => out.push('\n'),
                Some((_, 't')) => out.push('\t'),
                Some((_, 'r')) => out.push('\r'),
                Some((_, '{')) => out.push('{'),
                Some((_, '}')) => out.push('}'),
                Some((u, 'u')) => {
                    let mut hex = String::new();
                    let mut closed = false;
                    // Just past the last character of the escape: the span ends there even when
                    // the string (or the file) ends before the `}`.
                    let mut escape_end = u + 1;
                    let opened = matches!(chars.peek(), Some((_, '{')));
                    if opened {
                        chars.next();
                        escape_end += 1;
                        for (j, h) in chars.by_ref() {
                            escape_end = j + h.len_utf8();
                            if h == '}' {
                                closed = true;
                                break;
                            }
                            hex.push(h);
                        }
                    }
                    let end = start.saturating_add(u32::try_from(escape_end).unwrap_or(0));
                    let span = Span::new(at, end);
                    let well_formed =
                        opened && closed && (1..=6).contains(&hex.len()) && hex.chars().all(|h| h.is_ascii_hexdigit());
                    if !well_formed {
                        self.report(
                            Diagnostic::new(Code::InvalidEscape, self.file, span, "malformed unicode escape")
                                .with_help("write `\\u{...}` with one to six hexadecimal digits, e.g. `\\u{20AC}`"),
                        );
                        continue;
                    }
                    match u32::from_str_radix(&hex, 16).ok().and_then(char::from_u32) {
                        Some(ch) => out.push(ch),
                        None => self.report(
                            Diagnostic::new(
                                Code::InvalidUnicodeEscape,
                                self.file,
                                span,
                                format!("`\\u{{{hex}}}` is not a unicode scalar value"),
                            )
                            .with_help("surrogates (D800–DFFF) and values above 10FFFF are not characters"),
                        ),
                    }
                }
                Some((j, other)) => {
                    let end = start.saturating_add(u32::try_from(j + other.len_utf8()).unwrap_or(0));
                    self.report(
                        Diagnostic::new(
                            Code::InvalidEscape,
                            self.file,
                            Span::new(at, end),
                            format!("unknown escape `\\{other}`"),
                        )
                        .with_help("the escapes are `\\\"`, `\\\\`, `\\n`, `\\t`, `\\r`, `\\{`, `\\}` and `\\u{...}`"),
                    );
                }
                None => {}
            }
        }
        out
    }

    pub(super) fn int_value(&mut self, span: Span) -> IntLit {
        let text = without_underscores(self.text(span));
        let value = match text.parse::<i64>() {
            Ok(v) => v,
            Err(_) => {
                // Only reachable for well-formed digits: malformed ones were reported by the lexer.
                if text.chars().all(|c| c.is_ascii_digit()) && !text.is_empty() {
                    self.report(
                        Diagnostic::new(
                            Code::IntegerOutOfRange,
                            self.file,
                            span,
                            format!("integer `{}` does not fit in 64 bits", self.text(span)),
                        )
                        .with_help(format!("the largest integer is {}", i64::MAX)),
                    );
                }
                0
            }
        };
        IntLit { value, span }
    }

    /// A decimal or integer token in units of 10^-18.
    pub(super) fn decimal_value(&mut self, span: Span) -> DecLit {
        let text = without_underscores(self.text(span));
        let (whole, frac) = text.split_once('.').unwrap_or((&text, ""));
        if frac.len() > DECIMAL_DIGITS {
            self.report(
                Diagnostic::new(
                    Code::DecimalPrecision,
                    self.file,
                    span,
                    format!(
                        "`{}` has {} fractional digits; decimals keep at most {DECIMAL_DIGITS}",
                        self.text(span),
                        frac.len()
                    ),
                )
                .with_help(format!("round the literal to {DECIMAL_DIGITS} digits after the point")),
            );
            return DecLit { scaled: 0, span };
        }
        let mut frac_digits = frac.to_string();
        while frac_digits.len() < DECIMAL_DIGITS {
            frac_digits.push('0');
        }
        let scaled = whole
            .parse::<i128>()
            .ok()
            .and_then(|w| w.checked_mul(DECIMAL_SCALE))
            .and_then(|w| frac_digits.parse::<i128>().ok().and_then(|f| w.checked_add(f)))
            .filter(|d| *d < DECIMAL_LIMIT);
        match scaled {
            Some(scaled) => DecLit { scaled, span },
            None => {
                self.report(
                    Diagnostic::new(
                        Code::IntegerOutOfRange,
                        self.file,
                        span,
                        format!("decimal `{}` is out of range", self.text(span)),
                    )
                    .with_help(format!(
                        "decimals are less than 10^20 in magnitude (20 digits before the point, {DECIMAL_DIGITS} after)"
                    )),
                );
                DecLit { scaled: 0, span }
            }
        }
    }

    pub(super) fn duration_value(&mut self, span: Span) -> DurLit {
        let text = self.text(span).to_string();
        let mut total: Option<i64> = Some(0);
        let mut number = String::new();
        for c in text.chars() {
            if c.is_ascii_digit() {
                number.push(c);
                continue;
            }
            let unit: i64 = match c {
                'd' => 86_400,
                'h' => 3_600,
                'm' => 60,
                _ => 1,
            };
            total = total.and_then(|t| {
                number.parse::<i64>().ok().and_then(|n| n.checked_mul(unit)).and_then(|v| t.checked_add(v))
            });
            number.clear();
        }
        match total {
            Some(seconds) => DurLit { seconds, span },
            None => {
                self.report(Diagnostic::new(
                    Code::DurationOutOfRange,
                    self.file,
                    span,
                    format!("duration `{text}` is too long"),
                ));
                DurLit { seconds: 0, span }
            }
        }
    }
}

/// A number's digits without its `_` separators; borrowed when it has none (most numbers), so
/// that reading one allocates nothing.
fn without_underscores(text: &str) -> std::borrow::Cow<'_, str> {
    if text.contains('_') {
        std::borrow::Cow::Owned(text.chars().filter(|c| *c != '_').collect())
    } else {
        std::borrow::Cow::Borrowed(text)
    }
}

#[cfg(test)]
mod tests {
    proptest::proptest! {
        /// The digits a number is read from are the ones filtering out `_` gave (the former
        /// code, which made a string for every number).
        #[test]
        fn numbers_are_read_from_the_same_digits(text in "[0-9_]{1,25}(\\.[0-9_]{0,22})?|[0-9]{1,20}") {
            let former: String = text.chars().filter(|c| *c != '_').collect();
            let digits = super::without_underscores(&text);
            proptest::prop_assert_eq!(digits.as_ref(), former.as_str());
        }
    }
}

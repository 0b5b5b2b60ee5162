//! The span table: which source expression each instruction came from, so that an evaluation
//! error (`eval.error`) can name `file:line:col` and the expression that failed.
//!
//! The compiler records, per chunk, runs of instructions that share a source expression
//! ([`SpanRun`], kept in [`crate::bytecode::Chunk::spans`]), and one bundle-wide table of those
//! expressions ([`SpanTable`], in [`crate::program::Program::spans`]): file, line, column and a
//! short rendering of the source text. The table is encoded with the rest of the payload (so the
//! bundle hash covers it), checked by the verifier when the bundle is loaded, and read only when
//! an evaluation fails: deciding never looks at it.

use serde::{Deserialize, Serialize};

/// The longest expression text a bundle may carry for one span, in bytes. The compiler shortens
/// longer expressions to [`MAX_SPAN_TEXT`]; a bundle with a longer one is refused at load.
pub const MAX_SPAN_TEXT: usize = 120;

/// From instruction `from` of a chunk on (up to the next run), the code comes from span `span`
/// of the bundle's [`SpanTable`]. Instructions before a chunk's first run have no source.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SpanRun {
    /// The first instruction of the run (index within the chunk).
    pub from: u32,
    /// The source expression (index into [`SpanTable::spans`]).
    pub span: u32,
}

/// One source expression.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SourceSpan {
    /// Index into [`SpanTable::files`].
    pub file: u32,
    /// 1-based line of the expression's start.
    pub line: u32,
    /// 1-based column of the expression's start, in characters.
    pub col: u32,
    /// The expression's source text on one line, shortened to at most [`MAX_SPAN_TEXT`] bytes.
    pub text: String,
}

/// The source expressions the bundle's code refers to.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SpanTable {
    /// File names inside the bundle (`rules/payments.aarm`, `std.net`): as rule locations name them.
    pub files: Vec<String>,
    /// The expressions, by index: what [`SpanRun::span`] names.
    pub spans: Vec<SourceSpan>,
}

/// Where an evaluation failed, as the decision JSON shows it (`error_at`, docs/json.md).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorLocation {
    /// The file, as the bundle names it (`rules/payments.aarm`).
    pub file: String,
    /// 1-based line of the expression's start.
    pub line: u32,
    /// 1-based column, in characters.
    pub col: u32,
    /// The source text of the expression that failed.
    pub expr: String,
}

impl std::fmt::Display for ErrorLocation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}:{} in `{}`", self.file, self.line, self.col, self.expr)
    }
}

impl SpanTable {
    /// The location of span `index`, if the table has it.
    pub fn location(&self, index: u32) -> Option<ErrorLocation> {
        let span = self.spans.get(index as usize)?;
        let file = self.files.get(span.file as usize)?;
        Some(ErrorLocation { file: file.clone(), line: span.line, col: span.col, expr: span.text.clone() })
    }
}

/// An expression's source text as a span shows it: whitespace runs (line breaks included) become
/// one space, and text longer than [`MAX_SPAN_TEXT`] bytes is cut at a character boundary and
/// ends with `…`.
pub fn span_text(source: &str) -> String {
    if is_one_line_already(source) {
        return source.to_string();
    }
    let mut out = ascii_words(source).unwrap_or_else(|| words(source));
    if out.len() <= MAX_SPAN_TEXT {
        return out;
    }
    let ellipsis = '…';
    let mut cut = MAX_SPAN_TEXT - ellipsis.len_utf8();
    while !out.is_char_boundary(cut) {
        cut -= 1;
    }
    out.truncate(cut);
    out.push(ellipsis);
    out
}

/// Whether `source` is its own span text: within [`MAX_SPAN_TEXT`] bytes, ASCII, and with no
/// whitespace but single spaces between words (most expressions: `params.amount > 500`), so that
/// joining its words by one space gives it back unchanged. Read with two tables in a pointer
/// loop, folding flags rather than branching: no comparison per byte, each of which was a
/// tracing callback under the fuzzer in [`ascii_words`]' byte loop, which every space sent
/// there.
fn is_one_line_already(source: &str) -> bool {
    let bytes = source.as_bytes();
    if bytes.len() > MAX_SPAN_TEXT {
        return false;
    }
    let (Some(&first), Some(&last)) = (bytes.first(), bytes.last()) else { return true };
    let mut fits = !byte_is(&SPACE, first) & !byte_is(&SPACE, last);
    let mut after_space = false;
    for &byte in bytes {
        let space = byte_is(&SPACE, byte);
        fits &= !byte_is(&OTHER_BLANK_OR_NOT_ASCII, byte) & !(space & after_space);
        after_space = space;
    }
    fits
}

/// A space.
static SPACE: [bool; 256] = byte_table(b" ", false);

/// The rest of the ASCII whitespace [`ascii_words`] joins (tab, line feed, vertical tab, form
/// feed, carriage return), and every byte of a non-ASCII character.
static OTHER_BLANK_OR_NOT_ASCII: [bool; 256] = byte_table(b"\t\n\x0b\x0c\r", true);

/// A table over the byte values: `true` for `bytes`, and for every byte from 0x80 on when
/// `not_ascii`. Built at compile time.
#[allow(clippy::indexing_slicing)] // indices below 256, evaluated by the compiler, never at run time
const fn byte_table(bytes: &[u8], not_ascii: bool) -> [bool; 256] {
    let mut table = [false; 256];
    let mut i = 0;
    while i < bytes.len() {
        table[bytes[i] as usize] = true;
        i += 1;
    }
    let mut b = 0x80;
    while b < 256 {
        table[b] = not_ascii;
        b += 1;
    }
    table
}

/// A lookup, not a comparison: a `u8` index is below 256, so the bounds check is optimized away.
fn byte_is(table: &[bool; 256], byte: u8) -> bool {
    table.get(usize::from(byte)).copied().unwrap_or(false)
}

/// The words of `source` joined by one space, read up to a little past [`MAX_SPAN_TEXT`] bytes:
/// what is kept depends only on the first MAX_SPAN_TEXT bytes and on whether there are more, so
/// the rest of a long span (a rule's whole condition, a function's body, around each of its
/// sub-expressions) need not be read.
fn words(source: &str) -> String {
    let mut out = String::new();
    for word in source.split_whitespace() {
        if !out.is_empty() {
            out.push(' ');
        }
        out.push_str(word);
        if out.len() > MAX_SPAN_TEXT {
            break;
        }
    }
    out
}

/// [`words`], byte by byte, of a source that is ASCII as far as it is read; `None` at the first
/// other byte read (the caller then takes [`words`]). A span's text is nearly always ASCII, and
/// decoding characters to test each for Unicode whitespace was most of the cost. The ASCII
/// whitespace of `char::is_whitespace` is tab, line feed, vertical tab, form feed, carriage
/// return and space. Past the limit nothing more is read, so a long span is not scanned whole
/// to learn whether it is ASCII.
fn ascii_words(source: &str) -> Option<String> {
    let bytes = source.as_bytes();
    let mut out = String::with_capacity(bytes.len().min(MAX_SPAN_TEXT + 2));
    let mut gap = false;
    let mut i = 0;
    while let Some(&byte) = bytes.get(i) {
        // While no space is pending, the run of plain bytes (ASCII, not whitespace) starting
        // here, up to eight, found a word at a time, is copied whole when it cannot pass the
        // limit: what the loop below does byte by byte (under the fuzzer, each byte's tests
        // were tracing callbacks).
        if !gap {
            let run = bytes.get(i..i + 8).map_or(0, plain_run);
            if run > 0 && out.len() + run <= MAX_SPAN_TEXT + 1 {
                if let Some(words) = source.get(i..i + run) {
                    out.push_str(words);
                    i += run;
                    continue;
                }
            }
        }
        i += 1;
        if matches!(byte, b'\t' | b'\n' | 0x0b | 0x0c | b'\r' | b' ') {
            gap = true;
            continue;
        }
        if out.len() > MAX_SPAN_TEXT {
            break;
        }
        if !byte.is_ascii() {
            return None;
        }
        if gap && !out.is_empty() {
            out.push(' ');
        }
        gap = false;
        out.push(char::from(byte));
    }
    Some(out)
}

/// How many of the first bytes of `block` (eight bytes, else 0) are ASCII other than the
/// whitespace [`ascii_words`] joins (tab, line feed, vertical tab, form feed, carriage return,
/// space), tested a word at a time. Below the first byte of 0x80 or more no byte's sum carries
/// into the next, so each such byte's top bit says whether it is at least 0x09, at least 0x0E,
/// or other than 0x20; the lowest byte flagged is the first that is not plain.
fn plain_run(block: &[u8]) -> usize {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const TOPS: u64 = 0x8080_8080_8080_8080;
    let Ok(word) = <[u8; 8]>::try_from(block) else { return 0 };
    let w = u64::from_le_bytes(word);
    let at_least_tab = w.wrapping_add(0x77 * ONES);
    let past_return = w.wrapping_add(0x72 * ONES);
    let not_space = (w ^ (0x20 * ONES)).wrapping_add(0x7f * ONES);
    let special = (w | (at_least_tab & !past_return) | !not_space) & TOPS;
    (special.trailing_zeros() / 8) as usize
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    /// The function before it stopped reading at the limit: the reference.
    fn span_text_reading_all(source: &str) -> String {
        let mut out = source.split_whitespace().collect::<Vec<_>>().join(" ");
        if out.len() <= MAX_SPAN_TEXT {
            return out;
        }
        let mut cut = MAX_SPAN_TEXT - '…'.len_utf8();
        while !out.is_char_boundary(cut) {
            cut -= 1;
        }
        out.truncate(cut);
        out.push('…');
        out
    }

    proptest::proptest! {
        #[test]
        fn span_text_is_the_one_of_the_whole_text(
            words in proptest::collection::vec(("[a-zé€😀()+.]{0,40}|[a-z()+.]{0,40}", "[ \t\n\r\x0b\x0c]{1,3}|\u{a0}|\u{2028}"), 0..12),
        ) {
            let source: String = words.iter().map(|(w, space)| format!("{w}{space}")).collect();
            proptest::prop_assert_eq!(span_text(&source), span_text_reading_all(&source));
        }
    }

    proptest::proptest! {
        /// Texts of printable ASCII (spaces, doubled or not, at either end or not) and a few
        /// other bytes, short and long: the one-line fast path, where it applies, gives what the
        /// whole text gives.
        #[test]
        fn span_text_of_one_line_texts_is_the_one_of_the_whole_text(
            source in "[ -~]{0,130}|[a-z ]{0,125}|[a-z .()]{0,20}[\t\n\x0b\x0c\ré]?[a-z .()]{0,20}",
        ) {
            proptest::prop_assert_eq!(span_text(&source), span_text_reading_all(&source));
        }
    }

    #[test]
    fn one_line_texts_are_recognised() {
        assert!(is_one_line_already("params.amount > 500"));
        assert!(is_one_line_already(""));
        for text in [" a", "a ", "a  b", "a\tb", "a\nb", "é", &"a".repeat(MAX_SPAN_TEXT + 1)] {
            assert!(!is_one_line_already(text), "{text:?}");
        }
        assert!(is_one_line_already(&"a".repeat(MAX_SPAN_TEXT)));
    }

    /// At the limit, one byte either side of it, and with a two- or four-byte character
    /// straddling the cut: what the early stop keeps is what the whole text gives.
    #[test]
    fn span_text_at_its_limit_is_the_one_of_the_whole_text() {
        for len in MAX_SPAN_TEXT - 4..=MAX_SPAN_TEXT + 4 {
            for tail in ["", " x", "\t\ny", "é", " é", "😀", "\u{a0}z", "  "] {
                for head in ["a".repeat(len), format!("{} b", "a".repeat(len.saturating_sub(2)))] {
                    let source = format!("{head}{tail}");
                    assert_eq!(span_text(&source), span_text_reading_all(&source), "{source:?}");
                    assert!(span_text(&source).len() <= MAX_SPAN_TEXT, "{source:?}");
                }
            }
        }
    }

    /// The word-at-a-time run is the byte-by-byte one, for every byte in every position after
    /// every kind of prefix.
    #[test]
    fn plain_run_is_the_byte_test() {
        let plain = |b: u8| b.is_ascii() && !matches!(b, b'\t' | b'\n' | 0x0b | 0x0c | b'\r' | b' ');
        for b in 0..=255u8 {
            for at in 0..8 {
                for fill in [b'a', b'~', b'!', 0x0f, 0x7f, b' ', 0x80, 0xff, 0x0d] {
                    for after in [b'z', 0xc3, b'\n'] {
                        let mut block = [fill; 8];
                        block[at] = b;
                        if let Some(x) = block.get_mut(at + 1) {
                            *x = after;
                        }
                        let want = block.iter().take_while(|&&x| plain(x)).count();
                        assert_eq!(plain_run(&block), want, "{block:?}");
                    }
                }
            }
        }
        assert_eq!(plain_run(b"abc"), 0, "fewer than eight bytes");
    }

    proptest::proptest! {
        /// Long ASCII runs (the eight-byte blocks) around the limit, with every whitespace byte.
        #[test]
        fn span_text_of_long_ascii_runs_is_the_one_of_the_whole_text(
            words in proptest::collection::vec(("[a-z0-9_.()+\\-]{0,70}", "[ \t\n\r\x0b\x0c]{1,3}|é"), 0..6),
        ) {
            let source: String = words.iter().map(|(w, space)| format!("{w}{space}")).collect();
            proptest::prop_assert_eq!(span_text(&source), span_text_reading_all(&source));
        }
    }

    #[test]
    fn span_text_is_one_line_and_bounded() {
        assert_eq!(span_text("a +\n    b"), "a + b");
        let long = "é".repeat(200);
        let text = span_text(&long);
        assert!(text.len() <= MAX_SPAN_TEXT);
        assert!(text.ends_with('…'));
    }
}

//! LSP positions (line, UTF-16 code unit) ↔ byte offsets of the compiler's spans.
//!
//! The protocol counts characters in UTF-16 code units; the compiler counts bytes of UTF-8. Every
//! conversion goes through here so that text with `é` or `😀` before the cursor lands on the
//! right character.

use aarm_lang::Span;
use lsp_types::{Position, Range};

/// The byte offset of `pos` in `text`. A character past the end of its line is the line's end
/// (as the protocol says); a line past the end of the text is `None`.
pub fn offset(text: &str, pos: Position) -> Option<u32> {
    let line_start = line_start(text, pos.line)?;
    let rest = text.get(line_start..).unwrap_or("");
    let mut units = 0u32;
    let mut bytes = 0usize;
    for ch in rest.chars() {
        if ch == '\n' || ch == '\r' || units >= pos.character {
            break;
        }
        units = units.saturating_add(u32::try_from(ch.len_utf16()).unwrap_or(2));
        bytes += ch.len_utf8();
    }
    u32::try_from(line_start + bytes).ok()
}

/// The position of byte `offset` in `text` (clamped to the text, and back to a character
/// boundary).
pub fn position(text: &str, offset: u32) -> Position {
    let mut offset = (offset as usize).min(text.len());
    while !text.is_char_boundary(offset) {
        offset = offset.saturating_sub(1);
    }
    let before = text.get(..offset).unwrap_or("");
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    let line = before.bytes().filter(|b| *b == b'\n').count();
    let character: usize = before.get(line_start..).unwrap_or("").chars().map(char::len_utf16).sum();
    Position { line: u32::try_from(line).unwrap_or(u32::MAX), character: u32::try_from(character).unwrap_or(u32::MAX) }
}

pub fn range(text: &str, span: Span) -> Range {
    Range { start: position(text, span.start), end: position(text, span.end) }
}

/// The byte offset where line `line` (0-based) starts, if the text has that line.
fn line_start(text: &str, line: u32) -> Option<usize> {
    if line == 0 {
        return Some(0);
    }
    let mut seen = 0u32;
    for (i, b) in text.bytes().enumerate() {
        if b == b'\n' {
            seen += 1;
            if seen == line {
                return Some(i + 1);
            }
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn utf16_columns_round_trip_through_non_ascii_text() {
        // `é` is 2 bytes and 1 UTF-16 unit; `😀` is 4 bytes and 2 units.
        let text = "ab\n\"é😀\" x\n";
        let x = text.find('x').map(|i| i as u32).unwrap_or_default();
        assert_eq!(position(text, x), Position { line: 1, character: 6 });
        assert_eq!(offset(text, Position { line: 1, character: 6 }), Some(x));
        // Past the line's end: the line's end. Past the last line: none.
        assert_eq!(offset(text, Position { line: 0, character: 99 }), Some(2));
        assert_eq!(offset(text, Position { line: 9, character: 0 }), None);
        // Inside a character: back to its start.
        assert_eq!(position(text, 5), Position { line: 1, character: 1 });
    }
}

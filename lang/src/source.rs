//! The files of one run: their names, their text, and line/column lookup for diagnostics.

use crate::span::{FileId, Span};
use std::sync::OnceLock;

/// One source file. The text is valid UTF-8: the caller reports invalid bytes before adding it.
#[derive(Debug, Clone)]
pub struct SourceFile {
    /// The name diagnostics show for the file: the path as the user gave it, or a label such as
    /// an editor's URI. Only displayed, never opened.
    pub name: String,
    /// The whole text; spans are byte offsets into it.
    pub text: String,
    /// Where each line starts, built on first use: most runs never render a diagnostic with a
    /// line number, and every file of a run (std modules included) is added to the map.
    line_starts: OnceLock<Vec<u32>>,
    /// Whether the text is all ASCII (a column is then a byte count), found on first use.
    ascii: OnceLock<bool>,
}

impl SourceFile {
    /// A file; its line index is built when a line is first asked for (see [`Self::line_col`]).
    pub(crate) fn new(name: impl Into<String>, text: impl Into<String>) -> Self {
        SourceFile { name: name.into(), text: text.into(), line_starts: OnceLock::new(), ascii: OnceLock::new() }
    }

    /// The offset of the start of every line. The newlines are found with the `memchr` crate
    /// (vectorized): `match_indices('\n')` tested short lines byte by byte, each test a tracing
    /// callback under the fuzzer.
    fn line_starts(&self) -> &[u32] {
        self.line_starts.get_or_init(|| {
            std::iter::once(0)
                .chain(
                    memchr::memchr_iter(b'\n', self.text.as_bytes()).map(|i| u32::try_from(i + 1).unwrap_or(u32::MAX)),
                )
                .collect()
        })
    }

    /// 1-based line and column (in characters) of a byte offset. Offsets past the end clamp.
    pub fn line_col(&self, offset: u32) -> (usize, usize) {
        let line_starts = self.line_starts();
        let line = match line_starts.binary_search(&offset) {
            Ok(i) => i,
            Err(i) => i.saturating_sub(1),
        };
        let start = line_starts.get(line).copied().unwrap_or(0) as usize;
        let offset = (offset as usize).min(self.text.len());
        // In ASCII text a character is a byte: no need to count the line's characters (code
        // generation asks for the column of every expression it keeps a span of).
        let col = if *self.ascii.get_or_init(|| self.text.is_ascii()) {
            offset.saturating_sub(start)
        } else {
            self.text.get(start..offset).map(|s| s.chars().count()).unwrap_or(offset.saturating_sub(start))
        };
        (line + 1, col + 1)
    }

    /// The text a span covers, or `""` when the span is out of range or splits a character
    /// (never panics).
    pub fn slice(&self, span: Span) -> &str {
        self.text.get(span.range()).unwrap_or("")
    }
}

/// All files of a run, addressed by [`FileId`]. Files are only ever added, so an id stays valid
/// for the life of the map; diagnostics carry ids and are rendered against the map.
#[derive(Debug, Default, Clone)]
pub struct SourceMap {
    files: Vec<SourceFile>,
}

impl SourceMap {
    /// An empty map.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a file and returns its id (the next index). The text must already be valid UTF-8;
    /// adding the same name twice gives two files.
    pub fn add(&mut self, name: impl Into<String>, text: impl Into<String>) -> FileId {
        let id = FileId(u32::try_from(self.files.len()).unwrap_or(u32::MAX));
        self.files.push(SourceFile::new(name, text));
        id
    }

    /// The file of an id, or `None` for an id from another map.
    pub fn get(&self, id: FileId) -> Option<&SourceFile> {
        self.files.get(id.0 as usize)
    }

    /// The display name of a file; `<unknown>` for an id from another map, so that a report can
    /// always be printed.
    pub fn name(&self, id: FileId) -> &str {
        self.get(id).map(|f| f.name.as_str()).unwrap_or("<unknown>")
    }

    /// How many files have been added.
    pub fn len(&self) -> usize {
        self.files.len()
    }

    /// Whether no file has been added.
    pub fn is_empty(&self) -> bool {
        self.files.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_col_counts_characters_from_one() {
        let f = SourceFile::new("a", "ab\ncé d\n");
        assert_eq!(f.line_col(0), (1, 1));
        assert_eq!(f.line_col(3), (2, 1));
        // `d` is after a two-byte character: byte 7, character column 4
        assert_eq!(f.line_col(7), (2, 4));
        assert_eq!(f.line_col(1000), (3, 1));
    }

    /// The former `line_col`, which counted the characters of every line: the reference.
    fn line_col_counting(f: &SourceFile, offset: u32) -> (usize, usize) {
        let line_starts = f.line_starts();
        let line = match line_starts.binary_search(&offset) {
            Ok(i) => i,
            Err(i) => i.saturating_sub(1),
        };
        let start = line_starts.get(line).copied().unwrap_or(0) as usize;
        let offset = (offset as usize).min(f.text.len());
        let col = f.text.get(start..offset).map(|s| s.chars().count()).unwrap_or(offset.saturating_sub(start));
        (line + 1, col + 1)
    }

    proptest::proptest! {
        /// The line index is the one `match_indices('\n')` gave (the former search).
        #[test]
        fn line_starts_are_the_newlines(text in "([a-c\n é\r\t€]|[a-z ]{10,70}\n){0,30}") {
            let f = SourceFile::new("a", text.clone());
            let former: Vec<u32> = std::iter::once(0)
                .chain(text.match_indices('\n').map(|(i, _)| u32::try_from(i + 1).unwrap_or(u32::MAX)))
                .collect();
            proptest::prop_assert_eq!(f.line_starts(), former.as_slice());
        }

        /// The ASCII shortcut gives the columns counting characters gives, at every offset (on
        /// a character boundary or not, past the end too), in ASCII text and in text that is not.
        #[test]
        fn line_col_is_the_character_count(text in "[a-c\\n é\r\t€]{0,40}|[ -~\\n]{0,60}", extra in 0u32..4) {
            let f = SourceFile::new("a", text.clone());
            for offset in 0..=(text.len() as u32 + extra) {
                proptest::prop_assert_eq!(f.line_col(offset), line_col_counting(&f, offset), "{:?} at {}", text, offset);
            }
        }
    }

    #[test]
    fn lines_start_after_each_newline() {
        assert_eq!(SourceFile::new("a", "").line_starts(), [0]);
        assert_eq!(SourceFile::new("a", "\n\nx\r\né\n").line_starts(), [0, 1, 2, 5, 8]);
    }
}

//! Byte spans into one source file, and the id of that file. Offsets are bytes of the UTF-8
//! text, never characters: [`crate::SourceFile::line_col`] converts for display.

use serde::Serialize;

/// A half-open byte range `start..end` in one source file. Small and `Copy`: every AST node
/// carries one, and diagnostics point at them.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
pub struct Span {
    /// Byte offset of the first byte covered (not a character count).
    pub start: u32,
    /// Byte offset just past the last byte covered; equal to `start` for an empty span.
    pub end: u32,
}

impl Span {
    /// The span `start..end`. Not checked: callers pass `start <= end`. A span that runs past its
    /// file is harmless where it is shown: [`crate::SourceFile::slice`] gives `""` and the
    /// renderers clamp it.
    pub const fn new(start: u32, end: u32) -> Self {
        Span { start, end }
    }

    /// The smallest span covering both.
    pub fn to(self, other: Span) -> Span {
        Span { start: self.start.min(other.start), end: self.end.max(other.end) }
    }

    /// An empty span at the end of this one (where a missing token would go).
    pub(crate) fn end_point(self) -> Span {
        Span { start: self.end, end: self.end }
    }

    /// Length in bytes (zero, not an underflow, for a reversed span).
    pub fn len(self) -> u32 {
        self.end.saturating_sub(self.start)
    }

    /// Whether the span covers no bytes (a point, such as where a missing token belongs).
    pub fn is_empty(self) -> bool {
        self.len() == 0
    }

    /// The span as a `usize` range for slicing the file's text. Slice with `str::get`, not
    /// indexing: the range may not be on character boundaries of a different text.
    pub fn range(self) -> std::ops::Range<usize> {
        self.start as usize..self.end as usize
    }
}

/// Index of a file in a [`crate::SourceMap`], in the order the files were added: the first file
/// is `FileId(0)`. Spans do not carry it; diagnostics and the compiler's locations pair the two.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
pub struct FileId(
    /// The position of the file in its [`crate::SourceMap`].
    pub u32,
);

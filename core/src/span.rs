//! Source positions.
//!
//! Every parsed item carries a [`Span`] so that an error, a warning or a UI highlight can point at the exact
//! bytes of the dump it came from.

use serde::{Deserialize, Serialize};

/// A byte range of the input with the line and column of its first byte.
///
/// Lines and columns count from 1; columns count characters (not bytes), as an editor does.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Span {
    /// Byte offset of the first byte (dumps are smaller than 4 GiB).
    pub start: u32,
    /// Byte offset one past the last byte.
    pub end: u32,
    /// Line of the first byte, from 1.
    pub line: u32,
    /// Column of the first byte, from 1, in characters.
    pub col: u32,
}

impl Span {
    /// The span of `len` bytes starting at column `col` of a line that starts at byte `line_start`.
    pub fn within_line(line: u32, line_start: usize, line_text: &str, from: usize, to: usize) -> Span {
        let prefix = &line_text.as_bytes()[..from.min(line_text.len())];
        // Columns count characters; for the ASCII that dumps nearly always are, that is the byte offset.
        let col = if prefix.is_ascii() {
            prefix.len() as u32 + 1
        } else {
            line_text[..from.min(line_text.len())].chars().count() as u32 + 1
        };
        Span { start: (line_start + from) as u32, end: (line_start + to) as u32, line, col }
    }

    /// The byte range, for slicing the input.
    pub fn range(&self) -> std::ops::Range<usize> {
        self.start as usize..self.end as usize
    }

    /// The smallest span that covers both `self` and `other` (which must be on the same line or later).
    pub fn to(self, other: Span) -> Span {
        Span { start: self.start, end: other.end.max(self.end), line: self.line, col: self.col }
    }
}

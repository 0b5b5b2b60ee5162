//! The candidates of a tool that may hold for the request being decided: the set the rule index
//! (`index.rs`) narrows and the engine walks. Its own module so that the `Vm`, which keeps one as
//! scratch space, and the index, which fills it, both read it without reading each other.

/// Scratch space for `ToolIndex::live`, kept in the `Vm` so that evaluation does not allocate.
#[derive(Debug, Default)]
pub(crate) struct Live {
    /// One bit per candidate, by position in the tool's dispatch list: set while the candidate
    /// may hold. Bits past the last candidate are clear.
    pub(crate) mask: Vec<u64>,
    /// The candidates one leaf table says may hold, before they are and-ed into `mask`.
    pub(crate) scratch: Vec<u64>,
    /// The candidates some leaf table says may hold: an `or` of indexed leaves is live only when
    /// one of them is.
    pub(crate) hits: Vec<u64>,
}

impl Live {
    /// The first live candidate at or after `from` (`len` when none is).
    #[inline]
    pub(crate) fn next(&self, from: usize, len: usize) -> usize {
        let mut w = from / 64;
        let Some(first) = self.mask.get(w) else { return len };
        let mut bits = first & (!0u64).checked_shl((from % 64) as u32).unwrap_or(0);
        loop {
            if bits != 0 {
                return (w * 64 + bits.trailing_zeros() as usize).min(len);
            }
            w += 1;
            match self.mask.get(w) {
                Some(b) => bits = *b,
                None => return len,
            }
        }
    }
}

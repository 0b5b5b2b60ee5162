//! The candidates of a tool that may hold for the request being decided: the set the rule index
//! (`index.rs`) narrows and the engine walks. Its own module so that the `Vm`, which keeps one as
//! scratch space, and the index, which fills it, both read it without reading each other.

/// Scratch space for `ToolIndex::live`, kept in the `Vm` so that evaluation does not allocate.
///
/// Three sets of candidates, a bit each by position in the tool's dispatch list:
/// - the *mask*: set while the candidate may hold (bits past the last candidate are clear);
/// - the *scratch*: the candidates one leaf table says may hold, before they are and-ed into the
///   mask;
/// - the *hits*: the candidates some leaf table says may hold (an `or` of indexed leaves is live
///   only when one of them is).
///
/// Sets of up to [`INLINE_WORDS`] × 64 candidates are kept in the struct itself, larger ones on
/// the heap: a fresh `Vm` (one per `Engine::decide`) then allocates nothing for a tool of a few
/// rules (issue 20).
#[derive(Debug, Default)]
pub(crate) struct Live {
    /// Words per set for the current tool.
    words: usize,
    /// The three sets (mask, scratch, hits) when they fit inline.
    inline: [[u64; INLINE_WORDS]; 3],
    /// The three sets when they do not.
    heap: [Vec<u64>; 3],
}

/// Words of a set kept inline: 256 candidates.
const INLINE_WORDS: usize = 4;

impl Live {
    /// Starts the sets of a tool of `words` words: the mask full, the other two empty.
    pub(crate) fn reset(&mut self, words: usize) {
        self.words = words;
        let [mask, scratch, hits] = self.sets_mut();
        mask.fill(!0);
        scratch.fill(0);
        hits.fill(0);
    }

    /// The mask, the scratch and the hits, in that order.
    pub(crate) fn sets_mut(&mut self) -> [&mut [u64]; 3] {
        let words = self.words;
        if words <= INLINE_WORDS {
            let [a, b, c] = &mut self.inline;
            [a, b, c].map(|set| set.get_mut(..words).unwrap_or_default())
        } else {
            let [a, b, c] = &mut self.heap;
            for set in [&mut *a, &mut *b, &mut *c] {
                set.resize(words, 0);
            }
            [a.as_mut_slice(), b.as_mut_slice(), c.as_mut_slice()]
        }
    }

    /// The mask.
    fn mask(&self) -> &[u64] {
        let ([inline, ..], [heap, ..]) = (&self.inline, &self.heap);
        let set = if self.words <= INLINE_WORDS { inline.as_slice() } else { heap.as_slice() };
        set.get(..self.words).unwrap_or(&[])
    }

    /// The first live candidate at or after `from` (`len` when none is).
    #[inline]
    pub(crate) fn next(&self, from: usize, len: usize) -> usize {
        let mask = self.mask();
        let mut w = from / 64;
        let Some(first) = mask.get(w) else { return len };
        let mut bits = first & (!0u64).checked_shl((from % 64) as u32).unwrap_or(0);
        loop {
            if bits != 0 {
                return (w * 64 + bits.trailing_zeros() as usize).min(len);
            }
            w += 1;
            match mask.get(w) {
                Some(b) => bits = *b,
                None => return len,
            }
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing)]
mod tests {
    use super::*;

    /// One `Live` serves tools of every size in turn, inline and on the heap: each reset starts
    /// from a full mask and empty scratch and hits, whatever the tool before left.
    #[test]
    fn a_reset_forgets_the_tool_before_whatever_its_size() {
        let mut live = Live::default();
        for words in [1, 5, 1, INLINE_WORDS, INLINE_WORDS + 1, 2, 7, 3] {
            live.reset(words);
            let [mask, scratch, hits] = live.sets_mut();
            assert_eq!((mask.len(), scratch.len(), hits.len()), (words, words, words));
            assert!(mask.iter().all(|w| *w == !0) && scratch.iter().chain(hits.iter()).all(|w| *w == 0));
            assert_eq!(live.next(0, words * 64), 0);
            // Leave every set the other way round for the next tool.
            let [mask, scratch, hits] = live.sets_mut();
            mask.fill(0);
            scratch.fill(!0);
            hits.fill(!0);
            mask[words - 1] = 1 << 63;
            assert_eq!(live.next(0, words * 64), words * 64 - 1);
            assert_eq!(live.next(words * 64 - 1, words * 64 - 1), words * 64 - 1, "capped at len");
        }
    }
}

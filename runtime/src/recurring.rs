//! Names shared instead of copied: the strings a process reads or writes again and again
//! (a request's operation and who is asking, a decision's rule and reason code) come from a
//! small per-thread table, so that each is a reference count rather than an allocation, a copy
//! and a free (issue 20).

use crate::input::empty_str;
use std::cell::RefCell;
use std::sync::Arc;

thread_local! {
    static RECURRING: RefCell<[[Option<Arc<str>>; 2]; RECURRING_SETS]> = const { RefCell::new([const { [None, None] }; RECURRING_SETS]) };
}

/// Sets of two slots in the per-thread table of [`recurring`] strings.
const RECURRING_SETS: usize = 128;

/// Longer strings are not kept by [`recurring`].
const MAX_RECURRING_BYTES: usize = 48;

/// `s` as a shared string: the one a recent request of this thread gave, when it was the same.
///
/// For the names a host repeats on every call (the operation, the identity's human, agent,
/// service and session, roles, data classes) and those every decision names (its rule, its
/// reason code): an agent's calls mostly come from the same few identities, and sharing them
/// turns an allocation, a copy and a free per name into a lookup and a reference count. A small table per thread, two slots per set with the latest first, so
/// it cannot grow: a string that differs, is too long, or lost its slot is simply copied.
/// Whether a string was shared never shows: it is compared by content before it is reused.
/// Parameter values and free text (`original_request`) are never kept here, so a table
/// outliving a request holds names, not what a call carried.
pub(crate) fn recurring(s: &str) -> Arc<str> {
    if s.is_empty() {
        return empty_str();
    }
    if s.len() > MAX_RECURRING_BYTES {
        return Arc::from(s);
    }
    RECURRING.with(|table| {
        let Ok(mut table) = table.try_borrow_mut() else { return Arc::from(s) };
        let Some([first, second]) = table.get_mut(set_of(s.as_bytes())) else { return Arc::from(s) };
        if let Some(kept) = first.as_ref().filter(|k| ***k == *s) {
            return Arc::clone(kept);
        }
        if second.as_ref().is_some_and(|k| **k == *s) {
            std::mem::swap(first, second);
        } else {
            // The older of the two gives way; the newest goes first.
            *second = first.replace(Arc::from(s));
        }
        first.clone().unwrap_or_else(|| Arc::from(s))
    })
}

/// The set of a short string in the [`recurring`] table: its length and four of its bytes
/// (the first, the middle and the last two), mixed. A handful of loads rather than a pass over
/// the bytes, since it runs for every name of every request; a collision only costs a copy.
fn set_of(bytes: &[u8]) -> usize {
    let n = bytes.len();
    let at = |i: usize| u64::from(bytes.get(i).copied().unwrap_or(0));
    let sample = at(0) | at(n / 2) << 8 | at(n.wrapping_sub(2)) << 16 | at(n.wrapping_sub(1)) << 24 | (n as u64) << 32;
    (sample.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 57) as usize % RECURRING_SETS
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]
mod tests {
    use super::*;

    /// A recurring name comes back shared once it has been seen, always equal to what was
    /// given: across thousands of distinct names (collisions included), long and empty ones.
    #[test]
    fn recurring_names_are_shared_and_never_confused() {
        let first = recurring("alice@corp.com");
        assert!(Arc::ptr_eq(&first, &recurring("alice@corp.com")));
        for i in 0..5_000 {
            let name = format!("agent-{i}");
            assert_eq!(*recurring(&name), *name);
            assert_eq!(*recurring(&name), *name, "the second time, maybe from the table");
        }
        let long = "x".repeat(MAX_RECURRING_BYTES + 1);
        let a = recurring(&long);
        assert_eq!(*a, *long);
        assert!(!Arc::ptr_eq(&a, &recurring(&long)), "long strings are copied, not kept");
        assert_eq!(*recurring(""), *"");
        // Names that differ only in case (a spoofed identity) are never taken for each other.
        for _ in 0..2 {
            for name in ["alice@corp.com", "Alice@corp.com", "ALICE@CORP.COM", "alice@corp.com "] {
                assert_eq!(*recurring(name), *name);
            }
        }
        // Same length, first, middle and last bytes: the same set, still told apart.
        let (x, y) = ("abcdefgh-1-ijkl-1-op", "abcdefgh-1-ijkl-2-op");
        assert_eq!(set_of(x.as_bytes()), set_of(y.as_bytes()));
        assert_eq!(*recurring(x), *x);
        assert_eq!(*recurring(y), *y);
        assert_eq!(*recurring(x), *x);
        // Two names of one set are both kept: alternating between them shares each.
        let a = "agent-a-1".to_string();
        let b =
            (0..10_000).map(|i| format!("agent-b-{i}")).find(|b| set_of(b.as_bytes()) == set_of(a.as_bytes())).unwrap();
        let (shared_a, shared_b) = (recurring(&a), recurring(&b));
        for _ in 0..3 {
            assert!(Arc::ptr_eq(&shared_a, &recurring(&a)));
            assert!(Arc::ptr_eq(&shared_b, &recurring(&b)));
        }
    }
}

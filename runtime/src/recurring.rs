//! Names shared instead of copied: the strings a process reads or writes again and again
//! (a request's operation and who is asking, a decision's rule and reason code) come from a
//! small per-thread table, so that each is a reference count rather than an allocation, a copy
//! and a free (issue 20).

use crate::input::empty_str;
use crate::record::Scope;
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

thread_local! {
    static SCOPES: RefCell<[Option<Scope>; SCOPE_SLOTS]> = const { RefCell::new([const { None }; SCOPE_SLOTS]) };
}

/// Slots in the per-thread table of [`recurring_scope`].
const SCOPE_SLOTS: usize = 32;

/// The scope of a decision on `tool`'s `operation` with `params`: the one a recent decision of
/// this thread had when it held these very three (by address), else a new one, which takes its
/// slot.
///
/// An agent's calls mostly name the same few tools and operations with the same parameters, and
/// the reader gives them the same shared names ([`recurring`], the declaration's): a decision
/// then takes one reference count for its scope instead of three. Comparing addresses is exact
/// because a kept scope holds its names: while it is in the table no other string can be at
/// their addresses. The table holds names only, never a parameter's value.
pub(crate) fn recurring_scope(tool: &Arc<str>, operation: &Arc<str>, params: &Arc<[Arc<str>]>) -> Scope {
    let fresh = || Scope::new(Arc::clone(tool), Arc::clone(operation), Arc::clone(params));
    let address = |p: *const u8| p as usize as u64;
    let mixed = address(Arc::as_ptr(tool).cast())
        ^ address(Arc::as_ptr(operation).cast()).rotate_left(21)
        ^ address(Arc::as_ptr(params).cast()).rotate_left(42);
    let slot = (mixed.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 58) as usize % SCOPE_SLOTS;
    SCOPES.with(|table| {
        let Ok(mut table) = table.try_borrow_mut() else { return fresh() };
        let Some(kept) = table.get_mut(slot) else { return fresh() };
        if let Some(scope) = kept.as_ref().filter(|s| s.holds(tool, operation, params)) {
            return scope.clone();
        }
        let scope = fresh();
        *kept = Some(scope.clone());
        scope
    })
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

    /// A decision's scope is shared when it names the very same tool, operation and parameter
    /// names, and never taken for another: equal text in other allocations, another operation,
    /// other parameters, and thousands of scopes through the table's 32 slots.
    #[test]
    fn recurring_scopes_are_shared_and_never_confused() {
        use crate::record::ScopeNames;
        let names = |ns: &[&str]| -> Arc<[Arc<str>]> { ns.iter().map(|n| Arc::from(*n)).collect() };
        let (tool, op, params) = (Arc::from("payments"), Arc::from("transfer"), names(&["amount", "dest"]));
        let first = recurring_scope(&tool, &op, &params);
        let again = recurring_scope(&tool, &op, &params);
        assert!(first.holds(&tool, &op, &params) && again.holds(&tool, &op, &params));
        assert_eq!(std::ptr::from_ref::<ScopeNames>(&first), std::ptr::from_ref::<ScopeNames>(&again), "shared");
        // Equal text elsewhere is a scope of its own, equal in content.
        let (tool2, params2) = (Arc::from("payments"), names(&["amount", "dest"]));
        let other = recurring_scope(&tool2, &op, &params2);
        assert!(other.holds(&tool2, &op, &params2) && !other.holds(&tool, &op, &params));
        assert_eq!(other, first);
        let refund = Arc::from("refund");
        let scope = recurring_scope(&tool, &refund, &params);
        assert_eq!((&*scope.tool, &*scope.operation), ("payments", "refund"));
        let fewer = names(&["amount"]);
        assert_eq!(recurring_scope(&tool, &op, &fewer).params.len(), 1);
        // Thousands of scopes that differ in one of the three names: slots are shared and
        // reused, and each scope still names exactly what it was asked for.
        let many: Vec<Arc<str>> = (0..2_000).map(|i| Arc::from(format!("name-{i}"))).collect();
        let lists: Vec<Arc<[Arc<str>]>> = many.iter().map(|n| [Arc::clone(n)].into_iter().collect()).collect();
        for _ in 0..2 {
            for (n, list) in many.iter().zip(&lists) {
                for (t, o, p) in [(n, &op, &params), (&tool, n, &params), (&tool, &op, list)] {
                    let scope = recurring_scope(t, o, p);
                    assert!(scope.holds(t, o, p));
                    assert_eq!((&*scope.tool, &*scope.operation, &*scope.params), (&**t, &**o, &**p));
                }
            }
        }
    }
}

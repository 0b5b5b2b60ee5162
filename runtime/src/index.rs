//! Rules indexed within a tool: at load time the engine reads the leading leaf tests of each of a
//! tool's conditions (string equality and membership, integer equality, integer bounds, string
//! prefixes) into tables, so that a decision evaluates only the candidates whose indexed leaves
//! can hold, instead of every rule of the tool one by one.
//!
//! Why it cannot change a decision: a candidate is skipped only when its condition would have
//! been `false` without an error. The index covers the *leading* leaves of a condition that is
//! one leaf or an `and` of leaves (a [`Plan`]), each a test of a parameter against a constant
//! (or a group) whose outcome depends on nothing else. The index is used for a request only when
//! every parameter those leaves read holds a value of the type the tables expect (an `Int` or a
//! `String`: not absent, not unknown) and the fuel of the `Vm` covers those leading leaves: then
//! each of them is `true` or `false` and cannot fail, and the plan stops at the first `false`
//! (`plan::chain`). So when one indexed leaf is `false`, the condition is `false`, and walking the
//! candidate would have changed nothing (a `false` candidate wins nothing, defers nothing and
//! fails nothing). Otherwise, or when the leaf tables say a leaf may hold, the candidate is
//! evaluated as before, so priorities, conflicts, `deny` over `allow`, unknown evidence and
//! errors are decided by the same code on the same candidates, in the same order.
//!
//! The tables are built from the verified, fused program when the engine loads a bundle: the
//! bundle format is unchanged. A candidate whose condition fits no table (quantifiers, calls,
//! `or`, negations, evidence, decimals…) has no indexed leaf and is always evaluated.
// Unlike `vm.rs` and `plan.rs`, a catch-all arm is the safe default here: an instruction the
// index does not know is not indexed, so its condition is always evaluated.

use crate::bytecode::{CmpOp, MethodOp, Op};
use crate::live::Live;
use crate::plan::{Leaf, Plan};
use crate::program::Candidate;
use crate::request::Request;
use crate::value::Value;
use crate::vm::work;
use std::collections::{BTreeMap, HashMap};

/// Tools with fewer candidates are scanned: the lookups would cost more than the conditions (at 5
/// candidates per tool, `compare`'s 10-rule workload, the index cost 19 % more instructions than
/// the scan; at 20 it cost 6× fewer).
pub const MIN_CANDIDATES: usize = 8;
/// Tools with more candidates are scanned: the cumulative bound tables grow with the square of
/// the candidates (4 096 candidates: 2 MiB per bound table).
pub const MAX_CANDIDATES: usize = 4_096;

/// A set of a tool's candidates, by position in its dispatch list.
type Bits = Box<[u64]>;

fn words(len: usize) -> usize {
    len.div_ceil(64)
}

fn set_bit(bits: &mut [u64], i: usize) {
    if let Some(w) = bits.get_mut(i / 64) {
        *w |= 1u64 << (i % 64);
    }
}

fn or_into(acc: &mut [u64], bits: &[u64]) {
    for (a, b) in acc.iter_mut().zip(bits) {
        *a |= *b;
    }
}

/// The type a parameter must hold for the index to apply.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Expect {
    Int,
    Str,
}

/// What one indexed leaf says about its parameter.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Entry {
    /// The parameter is one of these strings (`==`, `in [..]`, `in group`).
    StrIn(Vec<String>),
    /// The parameter equals this integer.
    IntEq(i64),
    /// `param <op> bound` (`<`, `<=`, `>`, `>=`).
    Bound(CmpOp, i64),
    /// The parameter starts with this string.
    Prefix(String),
}

/// Which table an entry goes to (with its slot).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Kind {
    StrIn,
    IntEq,
    Bound(u8),
    Prefix,
}

impl Entry {
    fn kind(&self) -> Kind {
        match self {
            Entry::StrIn(_) => Kind::StrIn,
            Entry::IntEq(_) => Kind::IntEq,
            Entry::Bound(op, _) => Kind::Bound(*op as u8),
            Entry::Prefix(_) => Kind::Prefix,
        }
    }

    fn expect(&self) -> Expect {
        match self {
            Entry::StrIn(_) | Entry::Prefix(_) => Expect::Str,
            Entry::IntEq(_) | Entry::Bound(..) => Expect::Int,
        }
    }
}

/// The strings of a list (a constant or a group), if every item is one: membership of a string
/// in such a list is equality with one of them and cannot fail (an item of another type could).
fn strings_of(v: &Value) -> Option<Vec<String>> {
    let Value::List(items) = v else { return None };
    items.iter().map(|i| if let Value::Str(s) = i { Some(s.to_string()) } else { None }).collect()
}

/// A leaf the index understands: its slot, what it says, and the work of its constant operand
/// (charged as fuel when the leaf runs).
fn classify(leaf: Leaf, consts: &[Value], groups: &[Value]) -> Option<(u16, Entry, u64)> {
    if leaf.negated {
        return None;
    }
    let (slot, entry, operand) = match leaf.op {
        Op::ParamConstCmp { slot, c, konst } => {
            let k = consts.get(konst as usize)?;
            let entry = match (c, k) {
                (CmpOp::Eq, Value::Str(s)) => Entry::StrIn(vec![s.to_string()]),
                (CmpOp::Eq, Value::Int(i)) => Entry::IntEq(*i),
                (CmpOp::Lt | CmpOp::Le | CmpOp::Gt | CmpOp::Ge, Value::Int(i)) => Entry::Bound(c, *i),
                _ => return None,
            };
            (slot, entry, k)
        }
        Op::ParamConstMethod { slot, m: MethodOp::StartsWith, konst } => {
            let k = consts.get(konst as usize)?;
            let Value::Str(s) = k else { return None };
            (slot, Entry::Prefix(s.to_string()), k)
        }
        Op::ParamInConst { slot, konst } => {
            let k = consts.get(konst as usize)?;
            (slot, Entry::StrIn(strings_of(k)?), k)
        }
        Op::ParamInGroup { slot, group } => {
            let g = groups.get(usize::from(group))?;
            (slot, Entry::StrIn(strings_of(g)?), g)
        }
        _ => return None,
    };
    Some((slot, entry, work(operand)))
}

/// One table: the candidates it constrains, and how to find those whose leaf holds.
#[derive(Debug, Clone)]
struct Dim {
    slot: u16,
    /// Candidates with no leaf in this table: never excluded by it.
    free: Bits,
    test: Test,
}

#[derive(Debug, Clone)]
enum Test {
    /// String → the candidates whose leaf holds for it.
    StrIn(HashMap<Box<str>, Bits>),
    IntEq(HashMap<i64, Bits>),
    /// Distinct bounds, ascending, and for each the candidates whose leaf holds when the value
    /// is just past it: for `>` / `>=` those with this bound or a lower one, for `<` / `<=` this
    /// or a higher one.
    Bound {
        op: CmpOp,
        bounds: Vec<i64>,
        sets: Vec<Bits>,
    },
    /// Distinct prefix lengths, ascending, and prefix → the candidates starting with it.
    Prefix {
        lengths: Vec<usize>,
        by_prefix: HashMap<Box<[u8]>, Bits>,
    },
}

/// The leaf tables of one tool's candidates.
#[derive(Debug, Clone)]
pub struct ToolIndex {
    len: usize,
    dims: Vec<Dim>,
    /// Each parameter an indexed condition's leading leaves read, and the type it must hold.
    checks: Vec<(u16, Expect)>,
    /// The most leading leaves of one condition, and the most work of one of their constants:
    /// with the request's values, what those leaves can cost in fuel.
    leading: u64,
    const_work: u64,
}

impl ToolIndex {
    /// The index of a tool's candidates (`plans` by chunk), or `None` when the tool is better
    /// scanned: too few or too many candidates, or no condition with an indexed leaf.
    pub fn build(cands: &[Candidate], plans: &[Plan], consts: &[Value], groups: &[Value]) -> Option<ToolIndex> {
        let len = cands.len();
        if !(MIN_CANDIDATES..=MAX_CANDIDATES).contains(&len) {
            return None;
        }
        let mut entries: BTreeMap<(u16, Kind), Vec<(usize, Entry)>> = BTreeMap::new();
        let mut checks: Vec<(u16, Expect)> = Vec::new();
        let (mut leading, mut const_work) = (0u64, 0u64);
        for (i, c) in cands.iter().enumerate() {
            let leaves: &[Leaf] = match plans.get(c.condition as usize) {
                Some(Plan::Leaf(leaf)) => std::slice::from_ref(leaf),
                Some(Plan::All(leaves)) => leaves,
                Some(Plan::Any(_) | Plan::Vm) | None => &[],
            };
            let mut count = 0u64;
            for leaf in leaves {
                let Some((slot, entry, w)) = classify(*leaf, consts, groups) else { break };
                count += 1;
                const_work = const_work.max(w);
                if !checks.contains(&(slot, entry.expect())) {
                    checks.push((slot, entry.expect()));
                }
                let list = entries.entry((slot, entry.kind())).or_default();
                // One leaf per candidate and table; a second one on the same table is still
                // evaluated (and, being a leading leaf, cannot fail either).
                if list.last().is_none_or(|(j, _)| *j != i) {
                    list.push((i, entry));
                }
            }
            leading = leading.max(count);
        }
        if entries.is_empty() {
            return None;
        }
        let dims = entries.into_iter().map(|((slot, _), list)| Dim::build(slot, len, list)).collect();
        Some(ToolIndex { len, dims, checks, leading, const_work })
    }

    /// Marks in `live` the candidates that may hold for `req` and returns `true`; or returns
    /// `false` when the index does not apply to this request (a parameter of another type, or
    /// fuel that might not cover the leading leaves): then every candidate must be evaluated.
    pub fn live(&self, req: &Request, fuel: u64, live: &mut Live) -> bool {
        let mut value_work = 0u64;
        for (slot, expect) in &self.checks {
            match (req.params.get(usize::from(*slot)), expect) {
                (Some(Value::Int(_)), Expect::Int) => {}
                (Some(v @ Value::Str(_)), Expect::Str) => value_work = value_work.max(work(v)),
                _ => return false,
            }
        }
        // `bool`, then per leaf its three instructions, its operands' work and its merge, then `ret`.
        let per_leaf = 4u64.saturating_add(self.const_work).saturating_add(value_work);
        if fuel < self.leading.saturating_mul(per_leaf).saturating_add(2) {
            return false;
        }
        let n = words(self.len);
        live.mask.clear();
        live.mask.resize(n, !0);
        if let (Some(last), rem @ 1..) = (live.mask.last_mut(), self.len % 64) {
            *last = (1u64 << rem) - 1;
        }
        for dim in &self.dims {
            live.scratch.clear();
            live.scratch.resize(n, 0);
            dim.holding(req, &mut live.scratch);
            for ((m, s), f) in live.mask.iter_mut().zip(&live.scratch).zip(dim.free.iter()) {
                *m &= *s | *f;
            }
        }
        true
    }

    /// How many tables the tool has (for the unit tests).
    #[cfg(test)]
    fn tables(&self) -> usize {
        self.dims.len()
    }
}

impl Dim {
    fn build(slot: u16, len: usize, list: Vec<(usize, Entry)>) -> Dim {
        let n = words(len);
        let empty = || vec![0u64; n].into_boxed_slice();
        let mut free = vec![0u64; n];
        for i in 0..len {
            set_bit(&mut free, i);
        }
        for (i, _) in &list {
            if let Some(w) = free.get_mut(i / 64) {
                *w &= !(1u64 << (i % 64));
            }
        }
        let test = match list.first().map(|(_, e)| e.kind()) {
            Some(Kind::StrIn) => {
                let mut map: HashMap<Box<str>, Bits> = HashMap::new();
                for (i, e) in &list {
                    if let Entry::StrIn(strings) = e {
                        for s in strings {
                            set_bit(map.entry(Box::from(s.as_str())).or_insert_with(empty), *i);
                        }
                    }
                }
                Test::StrIn(map)
            }
            Some(Kind::IntEq) => {
                let mut map: HashMap<i64, Bits> = HashMap::new();
                for (i, e) in &list {
                    if let Entry::IntEq(v) = e {
                        set_bit(map.entry(*v).or_insert_with(empty), *i);
                    }
                }
                Test::IntEq(map)
            }
            Some(Kind::Bound(_)) => {
                let mut by_bound: BTreeMap<i64, Vec<usize>> = BTreeMap::new();
                let mut op = CmpOp::Gt;
                for (i, e) in &list {
                    if let Entry::Bound(c, b) = e {
                        op = *c;
                        by_bound.entry(*b).or_default().push(*i);
                    }
                }
                let bounds: Vec<i64> = by_bound.keys().copied().collect();
                let mut sets: Vec<Bits> = Vec::with_capacity(bounds.len());
                let mut acc = empty();
                let upward = matches!(op, CmpOp::Gt | CmpOp::Ge);
                let groups: Vec<&Vec<usize>> =
                    if upward { by_bound.values().collect() } else { by_bound.values().rev().collect() };
                for members in groups {
                    for i in members {
                        set_bit(&mut acc, *i);
                    }
                    sets.push(acc.clone());
                }
                if !upward {
                    sets.reverse();
                }
                Test::Bound { op, bounds, sets }
            }
            Some(Kind::Prefix) => {
                let mut map: HashMap<Box<[u8]>, Bits> = HashMap::new();
                for (i, e) in &list {
                    if let Entry::Prefix(p) = e {
                        set_bit(map.entry(Box::from(p.as_bytes())).or_insert_with(empty), *i);
                    }
                }
                let mut lengths: Vec<usize> = map.keys().map(|k| k.len()).collect();
                lengths.sort_unstable();
                lengths.dedup();
                Test::Prefix { lengths, by_prefix: map }
            }
            None => Test::StrIn(HashMap::new()),
        };
        Dim { slot, free: free.into_boxed_slice(), test }
    }

    /// Adds to `out` the candidates whose leaf in this table holds for `req` (whose parameter has
    /// the expected type: [`ToolIndex::live`] checked it).
    fn holding(&self, req: &Request, out: &mut [u64]) {
        let value = req.params.get(usize::from(self.slot));
        match (&self.test, value) {
            (Test::StrIn(map), Some(Value::Str(s))) => {
                if let Some(bits) = map.get(&**s) {
                    or_into(out, bits);
                }
            }
            (Test::IntEq(map), Some(Value::Int(v))) => {
                if let Some(bits) = map.get(v) {
                    or_into(out, bits);
                }
            }
            (Test::Bound { op, bounds, sets }, Some(Value::Int(v))) => {
                // The leaf `v <op> b` holds for a prefix (`>`, `>=`) or a suffix (`<`, `<=`) of
                // the ascending bounds.
                let set = match op {
                    CmpOp::Gt => bounds.partition_point(|b| b < v).checked_sub(1).and_then(|k| sets.get(k)),
                    CmpOp::Ge => bounds.partition_point(|b| b <= v).checked_sub(1).and_then(|k| sets.get(k)),
                    CmpOp::Lt => sets.get(bounds.partition_point(|b| b <= v)),
                    CmpOp::Le => sets.get(bounds.partition_point(|b| b < v)),
                    CmpOp::Eq | CmpOp::Ne => None,
                };
                if let Some(bits) = set {
                    or_into(out, bits);
                }
            }
            (Test::Prefix { lengths, by_prefix }, Some(Value::Str(s))) => {
                for l in lengths {
                    let Some(head) = s.as_bytes().get(..*l) else { break };
                    if let Some(bits) = by_prefix.get(head) {
                        or_into(out, bits);
                    }
                }
            }
            // Not reached: `live` checked the types. Holding nothing would exclude candidates,
            // so every candidate is marked instead.
            _ => out.iter_mut().for_each(|w| *w = !0),
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]
mod tests {
    use super::*;
    use crate::vm::{self, Tables, Truth};
    use std::sync::Arc;

    fn request(params: Vec<Value>) -> Request {
        Request::for_tests(params, Default::default())
    }

    fn s(x: &str) -> Value {
        Value::Str(Arc::from(x))
    }

    /// One candidate per leaf, condition `i` being leaf `i` alone.
    fn single_leaves(leaves: &[Op]) -> (Vec<Candidate>, Vec<Plan>) {
        let cands = (0..leaves.len())
            .map(|i| Candidate {
                rule: i as u32,
                condition: i as u32,
                reason_chunks: Vec::new(),
                assignments: Vec::new(),
            })
            .collect();
        let plans = leaves.iter().map(|op| Plan::Leaf(Leaf { op: *op, negated: false })).collect();
        (cands, plans)
    }

    /// For each request, the live candidates are exactly those whose leaf is true (as the VM
    /// computes it): for single-leaf conditions the index is exact.
    fn assert_exact(leaves: &[Op], consts: &[Value], groups: &[Value], values: &[Value]) {
        // Repeated up to the smallest tool the index is built for.
        let leaves: Vec<Op> = leaves.iter().cycle().take(leaves.len().max(MIN_CANDIDATES)).copied().collect();
        let (cands, plans) = single_leaves(&leaves);
        let index = ToolIndex::build(&cands, &plans, consts, groups).expect("indexed");
        let tables = Tables { consts, regexes: &[], groups, functions: &[] };
        let mut live = Live::default();
        for v in values {
            let req = request(vec![v.clone()]);
            assert!(index.live(&req, vm::DEFAULT_FUEL, &mut live), "applies to {v:?}");
            let mut got = Vec::new();
            let mut i = live.next(0, cands.len());
            while i < cands.len() {
                got.push(i);
                i = live.next(i + 1, cands.len());
            }
            let want: Vec<usize> = (0..leaves.len())
                .filter(|&i| {
                    let mut fuel = vm::DEFAULT_FUEL;
                    vm::leaf_truth(&tables, &req, leaves[i], &mut fuel).unwrap() == Truth::True
                })
                .collect();
            assert_eq!(got, want, "value {v:?}");
        }
    }

    #[test]
    fn string_equality_is_a_hash_lookup() {
        let consts = [s("a"), s("b"), s("a"), s("")];
        let leaves: Vec<Op> = (0..4).map(|k| Op::ParamConstCmp { slot: 0, c: CmpOp::Eq, konst: k }).collect();
        assert_exact(&leaves, &consts, &[], &[s("a"), s("b"), s(""), s("c"), s("A")]);
    }

    #[test]
    fn integer_equality_is_a_hash_lookup() {
        let consts = [Value::Int(1), Value::Int(-5), Value::Int(1), Value::Int(i64::MAX)];
        let leaves: Vec<Op> = (0..4).map(|k| Op::ParamConstCmp { slot: 0, c: CmpOp::Eq, konst: k }).collect();
        let values = [1, -5, 0, i64::MAX, i64::MIN].map(Value::Int);
        assert_exact(&leaves, &consts, &[], &values);
    }

    #[test]
    fn thresholds_are_sorted_bounds_for_each_comparison() {
        let bounds = [10, -3, 10, 500, 0, 7];
        let consts: Vec<Value> = bounds.iter().map(|b| Value::Int(*b)).collect();
        let values: Vec<Value> =
            [-4, -3, -2, 0, 6, 7, 9, 10, 11, 499, 500, 501, i64::MIN, i64::MAX].into_iter().map(Value::Int).collect();
        for c in [CmpOp::Gt, CmpOp::Ge, CmpOp::Lt, CmpOp::Le] {
            let leaves: Vec<Op> =
                (0..bounds.len() as u32).map(|k| Op::ParamConstCmp { slot: 0, c, konst: k }).collect();
            assert_exact(&leaves, &consts, &[], &values);
        }
    }

    #[test]
    fn prefixes_are_a_table_by_length() {
        let consts = [s("/etc/"), s("/etc"), s(""), s("/var/log/"), s("/etc/"), s("é")];
        let leaves: Vec<Op> = (0..consts.len() as u32)
            .map(|k| Op::ParamConstMethod { slot: 0, m: MethodOp::StartsWith, konst: k })
            .collect();
        let values = [s("/etc/passwd"), s("/etc"), s("/et"), s(""), s("/var/log/x"), s("/var"), s("éa"), s("e")];
        assert_exact(&leaves, &consts, &[], &values);
    }

    #[test]
    fn group_and_list_membership_are_sets() {
        let consts = [Value::List(Arc::from(vec![s("x"), s("y")])), Value::List(Arc::from(vec![s("z")]))];
        let groups = [Value::List(Arc::from(vec![s("y"), s("w")])), Value::List(Arc::from(Vec::new()))];
        let leaves = [
            Op::ParamInConst { slot: 0, konst: 0 },
            Op::ParamInConst { slot: 0, konst: 1 },
            Op::ParamInGroup { slot: 0, group: 0 },
            Op::ParamInGroup { slot: 0, group: 1 },
        ];
        assert_exact(&leaves, &consts, &groups, &[s("x"), s("y"), s("z"), s("w"), s("v")]);
    }

    #[test]
    fn a_list_with_an_item_of_another_type_is_not_indexed() {
        // `"a" in [1, "a"]` is an error (mismatched element), not `false`: it must be evaluated.
        let consts = [Value::List(Arc::from(vec![Value::Int(1), s("a")]))];
        let (cands, plans) = single_leaves(&[Op::ParamInConst { slot: 0, konst: 0 }; MIN_CANDIDATES]);
        assert!(ToolIndex::build(&cands, &plans, &consts, &[]).is_none());
    }

    #[test]
    fn the_index_steps_aside_for_values_of_another_type_and_low_fuel() {
        let consts = [Value::Int(5)];
        let leaves = [Op::ParamConstCmp { slot: 0, c: CmpOp::Gt, konst: 0 }; MIN_CANDIDATES];
        let (cands, plans) = single_leaves(&leaves);
        let index = ToolIndex::build(&cands, &plans, &consts, &[]).unwrap();
        let mut live = Live::default();
        for v in [Value::Absent, Value::Unknown(1), s("5"), Value::Decimal(50_000)] {
            assert!(!index.live(&request(vec![v.clone()]), vm::DEFAULT_FUEL, &mut live), "{v:?}");
        }
        assert!(!index.live(&request(vec![]), vm::DEFAULT_FUEL, &mut live), "missing slot");
        // A host's fuel limit that the leaf could exhaust: the condition must run (and fail).
        assert!(!index.live(&request(vec![Value::Int(1)]), 5, &mut live));
        assert!(index.live(&request(vec![Value::Int(1)]), 6, &mut live));
    }

    #[test]
    fn only_leading_leaves_of_an_and_are_indexed() {
        // `p1 == "a" and not (p0 > 5) and p0 > 9`: the negation ends the indexed leaves, so a
        // request with p0 = 7 keeps the candidate live (p1 == "a" holds).
        let consts = [s("a"), Value::Int(5), Value::Int(9)];
        let and = Plan::All(vec![
            Leaf { op: Op::ParamConstCmp { slot: 1, c: CmpOp::Eq, konst: 0 }, negated: false },
            Leaf { op: Op::ParamConstCmp { slot: 0, c: CmpOp::Gt, konst: 1 }, negated: true },
            Leaf { op: Op::ParamConstCmp { slot: 0, c: CmpOp::Gt, konst: 2 }, negated: false },
        ]);
        let n = MIN_CANDIDATES;
        let cands: Vec<Candidate> = (0..n as u32)
            .map(|i| Candidate { rule: i, condition: 0, reason_chunks: Vec::new(), assignments: Vec::new() })
            .collect();
        let index = ToolIndex::build(&cands, &[and], &consts, &[]).unwrap();
        assert_eq!(index.tables(), 1);
        let mut live = Live::default();
        // p0 is not read by an indexed leaf: its type does not matter.
        assert!(index.live(&request(vec![Value::Absent, s("a")]), vm::DEFAULT_FUEL, &mut live));
        assert_eq!(live.next(0, n), 0);
        assert!(index.live(&request(vec![Value::Int(7), s("b")]), vm::DEFAULT_FUEL, &mut live));
        assert_eq!(live.next(0, n), n, "p1 == \"a\" is false: no candidate is live");
    }

    #[test]
    fn live_walks_past_word_boundaries() {
        let consts = [Value::Int(0), Value::Int(1)];
        let leaves: Vec<Op> =
            (0..130).map(|i| Op::ParamConstCmp { slot: 0, c: CmpOp::Eq, konst: u32::from(i % 64 == 63) }).collect();
        let (cands, plans) = single_leaves(&leaves);
        let index = ToolIndex::build(&cands, &plans, &consts, &[]).unwrap();
        let mut live = Live::default();
        assert!(index.live(&request(vec![Value::Int(1)]), vm::DEFAULT_FUEL, &mut live));
        assert_eq!(live.next(0, 130), 63);
        assert_eq!(live.next(64, 130), 127);
        assert_eq!(live.next(128, 130), 130);
    }
}

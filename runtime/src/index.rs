//! Rules indexed within a tool: at load time the engine reads the leading leaf tests of each of a
//! tool's conditions (string equality and membership, integer equality, integer and decimal
//! bounds, string prefixes, suffixes and substrings, a constant among a list's items or the
//! caller's roles, an identity string in a group) into tables, so that a decision evaluates only
//! the candidates whose indexed leaves can hold, instead of every rule of the tool one by one.
//!
//! Why it cannot change a decision: a candidate is skipped only when its condition would have
//! been `false` without an error. The index reads the *leading* leaves of a condition
//! ([`plan::leading`]: leaves of its top-level `and`s that run before anything else and whose
//! `false` falls straight to the condition's end, on a plan or on the VM alike), or every leaf of
//! a condition that is one `or` of leaves, each a test of a parameter or an identity field against
//! a constant (or a group) whose outcome depends on nothing else. The index is used for a request
//! only when every value those leaves read has the type the tables expect (an `Int`, a `Decimal`,
//! a `String` or a list of `String`s: not absent, not unknown) and the fuel of the `Vm` covers
//! those leaves: then each of them is `true` or `false` and cannot fail. An `and` stops at its
//! first `false` (`plan::chain`, `and_merge`), so when one indexed leaf of an `and` is `false` the
//! condition is `false`; an `or` of indexed leaves is `false` when none holds. A `false` candidate
//! wins nothing, defers nothing and fails nothing, so walking it would have changed nothing.
//! Otherwise, or when the leaf tables say a leaf may hold, the candidate is evaluated as before,
//! so priorities, conflicts, `deny` over `allow`, unknown evidence and errors are decided by the
//! same code on the same candidates, in the same order.
//!
//! The tables are built from the verified, fused program when the engine loads a bundle: the
//! bundle format is unchanged. A candidate whose condition starts with no leaf a table fits
//! (a quantifier, a call, a negation, evidence, an arithmetic test…) is always evaluated.
// Unlike `vm.rs` and `plan.rs`, a catch-all arm is the safe default here: an instruction the
// index does not know is not indexed, so its condition is always evaluated.

use crate::bytecode::{Chunk, CmpOp, IdentityField, MethodOp, Op};
use crate::leading::{self, Context, Expect, Subject};
use crate::live::Live;
use crate::plan::{self, Leaf, Plan};
use crate::program::Candidate;
use crate::request::Request;
use crate::value::Value;
use crate::vm::work;
use memchr::memmem::Finder;
use std::collections::{BTreeMap, HashMap};

/// The tables' hash maps: built once at load from the policy's constants and only read after,
/// so a request's string can lengthen no probe (its hash picks one; the table's layout is the
/// policy's). foldhash, seeded per process, hashes a short key in a few instructions where
/// SipHash took about a hundred (most of a prefix table's lookup).
type Map<K> = HashMap<K, Bits, foldhash::fast::RandomState>;

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

fn clear_bit(bits: &mut [u64], i: usize) {
    if let Some(w) = bits.get_mut(i / 64) {
        *w &= !(1u64 << (i % 64));
    }
}

fn or_into(acc: &mut [u64], bits: &[u64]) {
    for (a, b) in acc.iter_mut().zip(bits) {
        *a |= *b;
    }
}

/// What one indexed leaf says about its subject.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Entry {
    /// The subject is one of these strings (`==`, `in [..]`, `in group`).
    StrIn(Vec<String>),
    /// The subject equals this integer.
    IntEq(i64),
    /// `subject <op> bound` (`<`, `<=`, `>`, `>=`), on integers or on decimals (both as `i128`:
    /// a decimal is its scaled integer, ordered as such).
    Bound(CmpOp, i128, Expect),
    /// The subject starts with this string.
    Prefix(String),
    /// The subject ends with this string.
    Suffix(String),
    /// The subject contains this string.
    Contains(String),
    /// The subject, a list of strings, has this one among its items (`"x" in params.tags`,
    /// `"admin" in identity.roles`).
    Member(String),
}

/// Which table an entry goes to (with its subject).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Kind {
    StrIn,
    IntEq,
    Bound(u8, Expect),
    Prefix,
    Suffix,
    Contains,
    Member,
}

impl Entry {
    fn kind(&self) -> Kind {
        match self {
            Entry::StrIn(_) => Kind::StrIn,
            Entry::IntEq(_) => Kind::IntEq,
            Entry::Bound(op, _, expect) => Kind::Bound(*op as u8, *expect),
            Entry::Prefix(_) => Kind::Prefix,
            Entry::Suffix(_) => Kind::Suffix,
            Entry::Contains(_) => Kind::Contains,
            Entry::Member(_) => Kind::Member,
        }
    }

    fn expect(&self) -> Expect {
        match self {
            Entry::StrIn(_) | Entry::Prefix(_) | Entry::Suffix(_) | Entry::Contains(_) => Expect::Str,
            Entry::IntEq(_) => Expect::Int,
            Entry::Bound(_, _, expect) => *expect,
            Entry::Member(_) => Expect::Strs,
        }
    }
}

/// The strings of a list (a constant or a group), if every item is one: membership of a string
/// in such a list is equality with one of them and cannot fail (an item of another type could).
fn strings_of(v: &Value) -> Option<Vec<String>> {
    let Value::List(items) = v else { return None };
    items.iter().map(|i| if let Value::Str(s) = i { Some(s.to_string()) } else { None }).collect()
}

fn string_of(v: &Value) -> Option<String> {
    if let Value::Str(s) = v {
        Some(s.to_string())
    } else {
        None
    }
}

/// A leaf the index understands: what it reads, what it says, and the work of its constant
/// operand (charged as fuel when the leaf runs).
fn classify(leaf: Leaf, consts: &[Value], groups: &[Value]) -> Option<(Subject, Entry, u64)> {
    if leaf.negated {
        return None;
    }
    let (subject, entry, operand) = match leaf.op {
        Op::ParamConstCmp { slot, c, konst } => {
            let k = consts.get(konst as usize)?;
            let entry = match (c, k) {
                (CmpOp::Eq, Value::Str(s)) => Entry::StrIn(vec![s.to_string()]),
                (CmpOp::Eq, Value::Int(i)) => Entry::IntEq(*i),
                (CmpOp::Lt | CmpOp::Le | CmpOp::Gt | CmpOp::Ge, Value::Int(i)) => {
                    Entry::Bound(c, i128::from(*i), Expect::Int)
                }
                (CmpOp::Lt | CmpOp::Le | CmpOp::Gt | CmpOp::Ge, Value::Decimal(d)) => Entry::Bound(c, *d, Expect::Dec),
                _ => return None,
            };
            (Subject::Param(slot), entry, k)
        }
        Op::ParamConstMethod { slot, m, konst } => {
            let k = consts.get(konst as usize)?;
            let s = string_of(k)?;
            let entry = match m {
                MethodOp::StartsWith => Entry::Prefix(s),
                MethodOp::EndsWith => Entry::Suffix(s),
                MethodOp::StrContains => Entry::Contains(s),
                _ => return None,
            };
            (Subject::Param(slot), entry, k)
        }
        Op::ParamInConst { slot, konst } => {
            let k = consts.get(konst as usize)?;
            (Subject::Param(slot), Entry::StrIn(strings_of(k)?), k)
        }
        Op::ParamInGroup { slot, group } => {
            let g = groups.get(usize::from(group))?;
            (Subject::Param(slot), Entry::StrIn(strings_of(g)?), g)
        }
        Op::ConstInParam { konst, slot } => {
            let k = consts.get(konst as usize)?;
            (Subject::Param(slot), Entry::Member(string_of(k)?), k)
        }
        Op::ConstInRoles { konst } => {
            let k = consts.get(konst as usize)?;
            (Subject::Roles, Entry::Member(string_of(k)?), k)
        }
        Op::IdentityInGroup { field, group } if field != IdentityField::Roles => {
            let g = groups.get(usize::from(group))?;
            (Subject::Identity(field), Entry::StrIn(strings_of(g)?), g)
        }
        _ => return None,
    };
    Some((subject, entry, work(operand)))
}

/// A subject's value in a request, when it has the type the tables expect.
#[derive(Clone, Copy, Debug)]
enum Given<'r> {
    Bool,
    Int(i64),
    Dec(i128),
    Str(&'r str),
    /// The items of a list, all strings.
    Strs(&'r [Value]),
}

/// Reads `subject` from `req` as `expect` says, with the work the VM charges for reading it;
/// `None` when it holds anything else (then the index does not apply).
#[inline]
fn given(req: &Request, subject: Subject, expect: Expect) -> Option<(Given<'_>, u64)> {
    let value = match subject {
        Subject::Param(slot) => req.params.get(usize::from(slot))?,
        Subject::Roles => &req.identity.roles,
        Subject::Identity(field) => {
            let id = &req.identity;
            let s: &str = match field {
                IdentityField::Human => &id.human,
                IdentityField::Service => &id.service,
                IdentityField::Agent => &id.agent,
                IdentityField::Session => &id.session,
                IdentityField::Roles => return None,
            };
            // As `vm::work` charges a `Value::Str`.
            return (expect == Expect::Str).then_some((Given::Str(s), (s.len() / 64) as u64));
        }
    };
    let g = match (value, expect) {
        (Value::Bool(_), Expect::Bool) => Given::Bool,
        (Value::Int(i), Expect::Int) => Given::Int(*i),
        (Value::Decimal(d), Expect::Dec) => Given::Dec(*d),
        (Value::Str(s), Expect::Str) => Given::Str(s),
        (Value::List(items), Expect::Strs | Expect::Items) => {
            // A list's work is its length (when an instruction takes the list itself); a loop's
            // test of one item charges that item's.
            let mut most = if expect == Expect::Strs { work(value) } else { 0 };
            for item in items.iter() {
                let Value::Str(s) = item else { return None };
                most = most.max((s.len() / 64) as u64);
            }
            return Some((Given::Strs(items), most));
        }
        _ => return None,
    };
    Some((g, work(value)))
}

/// One table: the candidates it constrains, and how to find those whose leaf holds.
#[derive(Debug, Clone)]
struct Dim {
    subject: Subject,
    expect: Expect,
    /// Candidates this table never excludes: those with no leaf in it, and those whose condition
    /// is an `or` (excluded only when none of their leaves holds, in any table).
    free: Bits,
    test: Test,
}

#[derive(Debug, Clone)]
enum Test {
    /// String → the candidates whose leaf holds for it: the subject is that string
    /// (`StrIn`), or has it among its items (`Member`).
    Strings(Map<Box<str>>),
    IntEq(Map<i64>),
    /// Distinct bounds, ascending, and for each the candidates whose leaf holds when the value
    /// is just past it: for `>` / `>=` those with this bound or a lower one, for `<` / `<=` this
    /// or a higher one.
    Bound {
        op: CmpOp,
        bounds: Bounds,
        sets: Vec<Bits>,
    },
    /// Distinct lengths, ascending, and prefix (or suffix) → the candidates starting (or
    /// ending) with it.
    Affix {
        suffix: bool,
        lengths: Vec<usize>,
        by_affix: Map<Box<[u8]>>,
    },
    /// Each distinct substring, searched for once, and the candidates that test for it.
    Contains(Vec<(Finder<'static>, Bits)>),
}

/// A bound table's bounds, ascending: integers are searched as `i64` (half the work of an
/// `i128` comparison), decimals as their scaled `i128`.
#[derive(Debug, Clone)]
enum Bounds {
    Int(Vec<i64>),
    Dec(Vec<i128>),
}

/// The candidates whose leaf `v <op> b` holds, from the ascending `bounds` and their `sets`:
/// a prefix of the bounds (`>`, `>=`) or a suffix (`<`, `<=`).
fn bound_set<'s, T: Ord>(op: CmpOp, bounds: &[T], v: &T, sets: &'s [Bits]) -> Option<&'s Bits> {
    match op {
        CmpOp::Gt => bounds.partition_point(|b| b < v).checked_sub(1).and_then(|k| sets.get(k)),
        CmpOp::Ge => bounds.partition_point(|b| b <= v).checked_sub(1).and_then(|k| sets.get(k)),
        CmpOp::Lt => sets.get(bounds.partition_point(|b| b <= v)),
        CmpOp::Le => sets.get(bounds.partition_point(|b| b < v)),
        CmpOp::Eq | CmpOp::Ne => None,
    }
}

/// The leaf tables of one tool's candidates.
#[derive(Debug, Clone)]
pub struct ToolIndex {
    len: usize,
    dims: Vec<Dim>,
    /// The candidates whose condition is an `or` of indexed leaves, when there are any.
    any: Option<Bits>,
    /// What the code before the indexed leaves reads, with the type it must hold: checked on
    /// each request, as the tables' own subjects are.
    reads: Vec<(Subject, Expect)>,
    /// An upper bound of what an indexed leaf and the code before it cost, in instructions
    /// besides their data: the most `leading::Leading::fixed`, and per parameter iterated before
    /// a leaf the most instructions of one turn. Each instruction charges one unit of fuel and at
    /// most the work of two values, each at most the most work of a constant (`const_work`) or of
    /// a value the request gives.
    fixed: u64,
    loops: Vec<(u16, u64)>,
    const_work: u64,
}

/// Adds one indexed leaf's costs and reads to the tool's.
fn account(lead: &leading::Leading, fixed: &mut u64, loops: &mut Vec<(u16, u64)>, reads: &mut Vec<(Subject, Expect)>) {
    *fixed = (*fixed).max(lead.fixed);
    for (slot, turn) in &lead.loops {
        match loops.iter_mut().find(|(s, _)| s == slot) {
            Some((_, most)) => *most = (*most).max(*turn),
            None => loops.push((*slot, *turn)),
        }
    }
    for r in &lead.reads {
        if !reads.contains(r) {
            reads.push(*r);
        }
    }
}

impl ToolIndex {
    /// The index of a tool's candidates (`plans` and fused `chunks` by condition), or `None` when
    /// the tool is better scanned: too few or too many candidates, or no condition with an
    /// indexed leaf.
    pub(crate) fn build(cands: &[Candidate], plans: &[Plan], chunks: &[Chunk], cx: &Context<'_>) -> Option<ToolIndex> {
        let len = cands.len();
        if !(MIN_CANDIDATES..=MAX_CANDIDATES).contains(&len) {
            return None;
        }
        let mut entries: BTreeMap<(Subject, Kind), Vec<(usize, Entry)>> = BTreeMap::new();
        let mut any: Vec<u64> = vec![0; words(len)];
        let (mut fixed, mut const_work) = (0u64, 0u64);
        let mut loops: Vec<(u16, u64)> = Vec::new();
        let mut reads: Vec<(Subject, Expect)> = Vec::new();
        for (i, c) in cands.iter().enumerate() {
            let (Some(plan), Some(chunk)) = (plans.get(c.condition as usize), chunks.get(c.condition as usize)) else {
                continue;
            };
            let (or_leaves, or_fixed) = plan::any_leaves(plan, chunk);
            if !or_leaves.is_empty() {
                // All of the `or`'s leaves, or none: one that is not indexed may hold.
                let Some(classified) =
                    or_leaves.iter().map(|l| classify(*l, cx.consts, cx.groups)).collect::<Option<Vec<_>>>()
                else {
                    continue;
                };
                set_bit(&mut any, i);
                fixed = fixed.max(or_fixed);
                for (subject, entry, w) in classified {
                    const_work = const_work.max(w);
                    // Every leaf: the candidate holds in the union of their tables.
                    entries.entry((subject, entry.kind())).or_default().push((i, entry));
                }
                continue;
            }
            for lead in leading::leading(chunk, cx) {
                // A leading leaf the tables do not fit (a negation, a decimal equality…) is
                // evaluated; the leaves after it are leading all the same.
                let Some((subject, entry, w)) = classify(lead.leaf, cx.consts, cx.groups) else { continue };
                const_work = const_work.max(w).max(lead.const_work);
                account(&lead, &mut fixed, &mut loops, &mut reads);
                let list = entries.entry((subject, entry.kind())).or_default();
                // One leaf per candidate and table; a second one on the same table is still
                // evaluated (and, being a leading leaf, cannot fail either).
                if list.last().is_none_or(|(j, _)| *j != i) {
                    list.push((i, entry));
                }
            }
        }
        if entries.is_empty() {
            return None;
        }
        let dims: Vec<Dim> =
            entries.into_iter().map(|((subject, _), list)| Dim::build(subject, len, list, &any)).collect();
        // What a table reads is checked with the table.
        reads.retain(|(subject, expect)| !dims.iter().any(|d| d.subject == *subject && d.expect == *expect));
        let any = any.iter().any(|w| *w != 0).then(|| any.into_boxed_slice());
        Some(ToolIndex { len, dims, any, reads, fixed, loops, const_work })
    }

    /// Marks in `live` the candidates that may hold for `req` and returns `true`; or returns
    /// `false` when the index does not apply to this request (a value of another type, or fuel
    /// that might not cover the indexed leaves and the code before them): then every candidate
    /// must be evaluated.
    pub fn live(&self, req: &Request, fuel: u64, live: &mut Live) -> bool {
        let mut value_work = 0u64;
        for (subject, expect) in &self.reads {
            let Some((_, w)) = given(req, *subject, *expect) else { return false };
            value_work = value_work.max(w);
        }
        live.reset(words(self.len));
        let [mask, scratch, hits] = live.sets_mut();
        if let (Some(last), rem @ 1..) = (mask.last_mut(), self.len % 64) {
            *last = (1u64 << rem) - 1;
        }
        for dim in &self.dims {
            let Some((value, w)) = given(req, dim.subject, dim.expect) else { return false };
            value_work = value_work.max(w);
            scratch.fill(0);
            dim.holding(value, scratch);
            for ((m, s), f) in mask.iter_mut().zip(scratch.iter()).zip(dim.free.iter()) {
                *m &= *s | *f;
            }
            if self.any.is_some() {
                or_into(hits, scratch);
            }
        }
        if fuel < self.fuel_needed(req, value_work) {
            return false;
        }
        if let Some(any) = &self.any {
            for ((m, h), a) in mask.iter_mut().zip(hits.iter()).zip(any.iter()) {
                *m &= *h | !*a;
            }
        }
        true
    }

    /// The bound of `fixed` and `loops` for this request: every instruction charges at most one
    /// unit and the work of two values (`vm::work`).
    fn fuel_needed(&self, req: &Request, value_work: u64) -> u64 {
        let mut instructions = self.fixed;
        for (slot, turn) in &self.loops {
            let items = match req.params.get(usize::from(*slot)) {
                Some(Value::List(items)) => items.len() as u64,
                _ => u64::MAX,
            };
            instructions = instructions.saturating_add(items.saturating_add(1).saturating_mul(*turn));
        }
        let per_instruction = 1u64.saturating_add(self.const_work.max(value_work).saturating_mul(2));
        instructions.saturating_mul(per_instruction)
    }

    /// How many tables the tool has (for the unit tests).
    #[cfg(test)]
    fn tables(&self) -> usize {
        self.dims.len()
    }
}

/// A string table from `(candidate, string)` pairs.
fn string_table(pairs: impl Iterator<Item = (usize, Vec<u8>)>, empty: impl Fn() -> Bits) -> Map<Box<[u8]>> {
    let mut map: Map<Box<[u8]>> = Map::default();
    for (i, s) in pairs {
        set_bit(map.entry(s.into_boxed_slice()).or_insert_with(&empty), i);
    }
    map
}

impl Dim {
    /// The table of `list`'s entries (all of one kind) for `len` candidates, `any` marking those
    /// whose condition is an `or`.
    fn build(subject: Subject, len: usize, list: Vec<(usize, Entry)>, any: &[u64]) -> Dim {
        let n = words(len);
        let empty = || vec![0u64; n].into_boxed_slice();
        let mut free = vec![0u64; n];
        for i in 0..len {
            set_bit(&mut free, i);
        }
        for (i, _) in &list {
            clear_bit(&mut free, *i);
        }
        or_into(&mut free, any);
        let expect = list.first().map_or(Expect::Str, |(_, e)| e.expect());
        let test = match list.first().map(|(_, e)| e.kind()) {
            Some(Kind::StrIn | Kind::Member) => {
                let mut map: Map<Box<str>> = Map::default();
                for (i, e) in &list {
                    let strings = match e {
                        Entry::StrIn(strings) => strings.as_slice(),
                        Entry::Member(s) => std::slice::from_ref(s),
                        _ => &[],
                    };
                    for s in strings {
                        set_bit(map.entry(Box::from(s.as_str())).or_insert_with(empty), *i);
                    }
                }
                Test::Strings(map)
            }
            Some(Kind::IntEq) => {
                let mut map: Map<i64> = Map::default();
                for (i, e) in &list {
                    if let Entry::IntEq(v) = e {
                        set_bit(map.entry(*v).or_insert_with(empty), *i);
                    }
                }
                Test::IntEq(map)
            }
            Some(Kind::Bound(..)) => {
                let mut by_bound: BTreeMap<i128, Vec<usize>> = BTreeMap::new();
                let mut op = CmpOp::Gt;
                for (i, e) in &list {
                    if let Entry::Bound(c, b, _) = e {
                        op = *c;
                        by_bound.entry(*b).or_default().push(*i);
                    }
                }
                let bounds = match list.first() {
                    Some((_, Entry::Bound(_, _, Expect::Int))) => {
                        Bounds::Int(by_bound.keys().map(|b| i64::try_from(*b).unwrap_or(i64::MAX)).collect())
                    }
                    _ => Bounds::Dec(by_bound.keys().copied().collect()),
                };
                let mut sets: Vec<Bits> = Vec::with_capacity(by_bound.len());
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
            Some(kind @ (Kind::Prefix | Kind::Suffix)) => {
                let pairs = list.iter().filter_map(|(i, e)| match e {
                    Entry::Prefix(s) | Entry::Suffix(s) => Some((*i, s.as_bytes().to_vec())),
                    _ => None,
                });
                let by_affix = string_table(pairs, empty);
                let mut lengths: Vec<usize> = by_affix.keys().map(|k| k.len()).collect();
                lengths.sort_unstable();
                lengths.dedup();
                Test::Affix { suffix: kind == Kind::Suffix, lengths, by_affix }
            }
            Some(Kind::Contains) => {
                let pairs = list.iter().filter_map(|(i, e)| match e {
                    Entry::Contains(s) => Some((*i, s.as_bytes().to_vec())),
                    _ => None,
                });
                let mut needles: Vec<(Box<[u8]>, Bits)> = string_table(pairs, empty).into_iter().collect();
                needles.sort();
                Test::Contains(needles.into_iter().map(|(k, v)| (Finder::new(&k).into_owned(), v)).collect())
            }
            None => Test::Strings(Map::default()),
        };
        Dim { subject, expect, free: free.into_boxed_slice(), test }
    }

    /// Adds to `out` the candidates whose leaf in this table holds for `value` (read as the
    /// table expects: [`given`]).
    fn holding(&self, value: Given<'_>, out: &mut [u64]) {
        match (&self.test, value) {
            (Test::Strings(map), Given::Str(s)) => {
                if let Some(bits) = map.get(s) {
                    or_into(out, bits);
                }
            }
            (Test::Strings(map), Given::Strs(items)) => {
                for item in items {
                    if let Some(bits) = if let Value::Str(s) = item { map.get(&**s) } else { None } {
                        or_into(out, bits);
                    }
                }
            }
            (Test::IntEq(map), Given::Int(v)) => {
                if let Some(bits) = map.get(&v) {
                    or_into(out, bits);
                }
            }
            (Test::Bound { op, bounds: Bounds::Int(bounds), sets }, Given::Int(v)) => {
                if let Some(bits) = bound_set(*op, bounds, &v, sets) {
                    or_into(out, bits);
                }
            }
            (Test::Bound { op, bounds: Bounds::Dec(bounds), sets }, Given::Dec(v)) => {
                if let Some(bits) = bound_set(*op, bounds, &v, sets) {
                    or_into(out, bits);
                }
            }
            (Test::Affix { suffix, lengths, by_affix }, Given::Str(s)) => {
                let bytes = s.as_bytes();
                for l in lengths {
                    let part = if *suffix {
                        bytes.len().checked_sub(*l).and_then(|k| bytes.get(k..))
                    } else {
                        bytes.get(..*l)
                    };
                    let Some(part) = part else { break };
                    if let Some(bits) = by_affix.get(part) {
                        or_into(out, bits);
                    }
                }
            }
            (Test::Contains(needles), Given::Str(s)) => {
                for (finder, bits) in needles {
                    if finder.find(s.as_bytes()).is_some() {
                        or_into(out, bits);
                    }
                }
            }
            // Not reached: `given` read the value as the table expects. Holding nothing would
            // exclude candidates, so every candidate is marked instead.
            _ => out.iter_mut().for_each(|w| *w = !0),
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]
mod tests {
    use super::*;
    use crate::bytecode::QuantKind;
    use crate::schema::{FieldSchema, ValueType};
    use crate::vm::{self, Tables, Truth};
    use std::sync::Arc;

    fn request(params: Vec<Value>) -> Request {
        Request::for_tests(params, Default::default())
    }

    fn with_identity(mut req: Request, human: &str, roles: &[&str]) -> Request {
        req.identity.human = Arc::from(human);
        req.identity.roles = strs(roles);
        req
    }

    fn s(x: &str) -> Value {
        Value::Str(Arc::from(x))
    }

    fn strs(items: &[&str]) -> Value {
        Value::List(items.iter().map(|i| s(i)).collect())
    }

    fn chunk(code: Vec<Op>) -> Chunk {
        Chunk { code, locals: 0, params: 0, spans: Vec::new() }
    }

    /// What a tool's conditions read: constants, groups, functions and the declared types of its
    /// parameters, by slot.
    struct Tool {
        consts: Vec<Value>,
        groups: Vec<Value>,
        functions: Vec<Chunk>,
        fields: Vec<FieldSchema>,
        shared: leading::Shared,
    }

    impl Tool {
        fn new(consts: &[Value], groups: &[Value], types: &[ValueType]) -> Tool {
            let fields = types
                .iter()
                .enumerate()
                .map(|(i, ty)| FieldSchema { name: Arc::from(format!("p{i}")), ty: ty.clone() })
                .collect();
            let shared = leading::Shared::new(0);
            Tool { consts: consts.to_vec(), groups: groups.to_vec(), functions: Vec::new(), fields, shared }
        }

        fn cx(&self) -> Context<'_> {
            Context {
                consts: &self.consts,
                groups: &self.groups,
                functions: &self.functions,
                fields: &self.fields,
                shared: &self.shared,
            }
        }

        fn tables(&self) -> Tables<'_> {
            Tables { consts: &self.consts, regexes: &[], groups: &self.groups, functions: &self.functions }
        }

        /// The index of one candidate per chunk, condition `i` being chunk `i`.
        fn index(&self, chunks: &[Chunk]) -> Option<ToolIndex> {
            let (cands, plans) = candidates(chunks);
            ToolIndex::build(&cands, &plans, chunks, &self.cx())
        }

        /// The condition's truth on the VM with `fuel` (the engine's plans give the same).
        fn truth(&self, chunk: &Chunk, req: &Request, fuel: u64) -> Result<Truth, crate::ops::EvalError> {
            let mut vm = vm::Vm::new();
            vm.fuel_limit = fuel;
            vm.condition(&self.tables(), chunk, req)
        }
    }

    fn string() -> ValueType {
        ValueType::String
    }

    fn strings() -> ValueType {
        ValueType::List(Box::new(ValueType::String))
    }

    /// A fused leaf as the engine has it: the fused instruction, then the two it stands for
    /// (unreached), then `not` when negated.
    fn leaf_code(leaf: Leaf) -> Vec<Op> {
        let mut code = vec![leaf.op, Op::Pop, Op::Pop];
        if leaf.negated {
            code.push(Op::Not);
        }
        code
    }

    fn plain(op: Op) -> Leaf {
        Leaf { op, negated: false }
    }

    /// The chunk of `leaf`.
    fn leaf_chunk(leaf: Leaf) -> Chunk {
        let mut code = leaf_code(leaf);
        code.push(Op::Ret);
        chunk(code)
    }

    /// A part of an `and` or an `or`: a leaf, or other code leaving one value (its jump targets
    /// relative to its own first instruction).
    #[derive(Clone)]
    enum Part {
        Leaf(Leaf),
        Code(Vec<Op>),
    }

    fn relocated(code: &[Op], at: usize) -> Vec<Op> {
        let to = |t: u32| t + at as u32;
        code.iter()
            .map(|op| match *op {
                Op::AndMerge(t) => Op::AndMerge(to(t)),
                Op::OrMerge(t) => Op::OrMerge(to(t)),
                Op::Jump(t) => Op::Jump(to(t)),
                Op::IterInit { acc, end } => Op::IterInit { acc, end: to(end) },
                Op::IterNext { local, end } => Op::IterNext { local, end: to(end) },
                Op::QuantStep { kind, acc, end } => Op::QuantStep { kind, acc, end: to(end) },
                other => other,
            })
            .collect()
    }

    /// The chunk of an `and` (or an `or`) of `parts`, each merging to the final `ret`.
    fn chain_chunk(parts: &[Part], is_and: bool, locals: u16) -> Chunk {
        let codes: Vec<Vec<Op>> = parts
            .iter()
            .map(|p| match p {
                Part::Leaf(l) => leaf_code(*l),
                Part::Code(c) => c.clone(),
            })
            .collect();
        let end = 1 + codes.iter().map(|c| c.len() + 1).sum::<usize>();
        let mut code = vec![Op::Bool(is_and)];
        for c in codes {
            let at = code.len();
            code.extend(relocated(&c, at));
            code.push(if is_and { Op::AndMerge(end as u32) } else { Op::OrMerge(end as u32) });
        }
        code.push(Op::Ret);
        Chunk { code, locals, params: 0, spans: Vec::new() }
    }

    fn leaves(ls: &[Leaf]) -> Vec<Part> {
        ls.iter().map(|l| Part::Leaf(*l)).collect()
    }

    /// `any x in params.p{slot}: x.<m>(const konst)` (or `all`), `x` in local 0, the answer in
    /// local 1, as the compiler emits it.
    fn quantifier(kind: QuantKind, slot: u16, body: &[Op]) -> Vec<Op> {
        let mut code = vec![Op::Bool(kind == QuantKind::All), Op::SetLocal(1), Op::Param(slot)];
        let end = (8 + body.len()) as u32;
        code.push(Op::IterInit { acc: 1, end });
        code.push(Op::IterNext { local: 0, end });
        code.push(Op::Local(0));
        code.extend_from_slice(body);
        code.push(Op::QuantStep { kind, acc: 1, end });
        code.push(Op::Jump(4));
        code.push(Op::IterEnd);
        code.push(Op::Local(1));
        code
    }

    fn candidates(chunks: &[Chunk]) -> (Vec<Candidate>, Vec<Plan>) {
        let cands = (0..chunks.len())
            .map(|i| Candidate {
                rule: i as u32,
                condition: i as u32,
                reason_chunks: Vec::new(),
                assignments: Vec::new(),
            })
            .collect();
        (cands, chunks.iter().map(Plan::of).collect())
    }

    fn live_list(live: &Live, len: usize) -> Vec<usize> {
        let mut got = Vec::new();
        let mut i = live.next(0, len);
        while i < len {
            got.push(i);
            i = live.next(i + 1, len);
        }
        got
    }

    /// For each request, the live candidates are exactly those whose condition is true, as the
    /// VM computes it: for conditions of indexed leaves only, the index is exact.
    fn assert_exact_chunks(tool: &Tool, chunks: Vec<Chunk>, requests: &[Request]) {
        // Repeated up to the smallest tool the index is built for.
        let n = chunks.len().max(MIN_CANDIDATES);
        let chunks: Vec<Chunk> = chunks.iter().cycle().take(n).cloned().collect();
        let index = tool.index(&chunks).expect("indexed");
        let mut live = Live::default();
        for req in requests {
            assert!(index.live(req, vm::DEFAULT_FUEL, &mut live), "applies to {:?}", req.params);
            let want: Vec<usize> =
                (0..n).filter(|&i| tool.truth(&chunks[i], req, vm::DEFAULT_FUEL).unwrap() == Truth::True).collect();
            assert_eq!(live_list(&live, n), want, "params {:?}, identity {:?}", req.params, req.identity);
        }
    }

    fn assert_exact(leaves: &[Op], tool: &Tool, values: &[Value]) {
        let requests: Vec<Request> = values.iter().map(|v| request(vec![v.clone()])).collect();
        assert_exact_chunks(tool, leaves.iter().map(|op| leaf_chunk(plain(*op))).collect(), &requests);
    }

    #[test]
    fn string_equality_is_a_hash_lookup() {
        let tool = Tool::new(&[s("a"), s("b"), s("a"), s("")], &[], &[string()]);
        let leaves: Vec<Op> = (0..4).map(|k| Op::ParamConstCmp { slot: 0, c: CmpOp::Eq, konst: k }).collect();
        assert_exact(&leaves, &tool, &[s("a"), s("b"), s(""), s("c"), s("A")]);
    }

    #[test]
    fn integer_equality_is_a_hash_lookup() {
        let consts = [Value::Int(1), Value::Int(-5), Value::Int(1), Value::Int(i64::MAX)];
        let tool = Tool::new(&consts, &[], &[ValueType::Int]);
        let leaves: Vec<Op> = (0..4).map(|k| Op::ParamConstCmp { slot: 0, c: CmpOp::Eq, konst: k }).collect();
        assert_exact(&leaves, &tool, &[1, -5, 0, i64::MAX, i64::MIN].map(Value::Int));
    }

    #[test]
    fn thresholds_are_sorted_bounds_for_each_comparison() {
        let bounds = [10, -3, 10, 500, 0, 7];
        let consts: Vec<Value> = bounds.iter().map(|b| Value::Int(*b)).collect();
        let tool = Tool::new(&consts, &[], &[ValueType::Int]);
        let values: Vec<Value> =
            [-4, -3, -2, 0, 6, 7, 9, 10, 11, 499, 500, 501, i64::MIN, i64::MAX].into_iter().map(Value::Int).collect();
        for c in [CmpOp::Gt, CmpOp::Ge, CmpOp::Lt, CmpOp::Le] {
            let leaves: Vec<Op> =
                (0..bounds.len() as u32).map(|k| Op::ParamConstCmp { slot: 0, c, konst: k }).collect();
            assert_exact(&leaves, &tool, &values);
        }
    }

    #[test]
    fn decimal_thresholds_are_sorted_bounds_too() {
        // Decimals are scaled integers (10^18): 12.25, -3, 12.25, 10^-18, the range's top.
        let bounds =
            [12_250_000_000_000_000_000i128, -3_000_000_000_000_000_000, 12_250_000_000_000_000_000, 1, i128::MAX];
        let consts: Vec<Value> = bounds.iter().map(|b| Value::Decimal(*b)).collect();
        let tool = Tool::new(&consts, &[], &[ValueType::Decimal]);
        let values: Vec<Value> = [
            0,
            1,
            2,
            -3_000_000_000_000_000_001,
            12_250_000_000_000_000_000,
            12_250_000_000_000_000_001,
            i128::MAX,
            i128::MIN,
        ]
        .into_iter()
        .map(Value::Decimal)
        .collect();
        for c in [CmpOp::Gt, CmpOp::Ge, CmpOp::Lt, CmpOp::Le] {
            let leaves: Vec<Op> =
                (0..bounds.len() as u32).map(|k| Op::ParamConstCmp { slot: 0, c, konst: k }).collect();
            assert_exact(&leaves, &tool, &values);
        }
        // An integer is not a decimal: the decimal tables step aside for it.
        let chunks = vec![leaf_chunk(plain(Op::ParamConstCmp { slot: 0, c: CmpOp::Gt, konst: 0 })); MIN_CANDIDATES];
        let index = tool.index(&chunks).unwrap();
        assert!(!index.live(&request(vec![Value::Int(20)]), vm::DEFAULT_FUEL, &mut Live::default()));
    }

    #[test]
    fn prefixes_are_a_table_by_length() {
        let tool = Tool::new(&[s("/etc/"), s("/etc"), s(""), s("/var/log/"), s("/etc/"), s("é")], &[], &[string()]);
        let leaves: Vec<Op> =
            (0..6).map(|k| Op::ParamConstMethod { slot: 0, m: MethodOp::StartsWith, konst: k }).collect();
        let values = [s("/etc/passwd"), s("/etc"), s("/et"), s(""), s("/var/log/x"), s("/var"), s("éa"), s("e")];
        assert_exact(&leaves, &tool, &values);
    }

    #[test]
    fn suffixes_and_substrings_are_tables_too() {
        let consts = [s(".pem"), s("pem"), s(""), s("/.ssh/"), s(".."), s("é"), s("a.pem.bak")];
        let tool = Tool::new(&consts, &[], &[string()]);
        let values = [
            s("/k/id.pem"),
            s("pem"),
            s("em"),
            s(""),
            s("/root/.ssh/id"),
            s("/a/../b"),
            s("café"),
            s("xa.pem.bak"),
            s(".ssh"),
        ];
        for m in [MethodOp::EndsWith, MethodOp::StrContains] {
            let leaves: Vec<Op> =
                (0..consts.len() as u32).map(|k| Op::ParamConstMethod { slot: 0, m, konst: k }).collect();
            assert_exact(&leaves, &tool, &values);
        }
    }

    #[test]
    fn group_and_list_membership_are_sets() {
        let consts = [strs(&["x", "y"]), strs(&["z"])];
        let groups = [strs(&["y", "w"]), strs(&[])];
        let tool = Tool::new(&consts, &groups, &[string()]);
        let leaves = [
            Op::ParamInConst { slot: 0, konst: 0 },
            Op::ParamInConst { slot: 0, konst: 1 },
            Op::ParamInGroup { slot: 0, group: 0 },
            Op::ParamInGroup { slot: 0, group: 1 },
        ];
        assert_exact(&leaves, &tool, &[s("x"), s("y"), s("z"), s("w"), s("v")]);
    }

    #[test]
    fn a_constant_among_a_lists_items_or_the_roles_is_a_set() {
        let tool = Tool::new(&[s("admin"), s("dev"), s(""), s("admin")], &[], &[strings()]);
        let lists = [strs(&[]), strs(&["dev"]), strs(&["admin", "dev"]), strs(&["", "x"]), strs(&["Admin"])];
        // `"k" in params.tags`
        let leaves: Vec<Op> = (0..4).map(|konst| Op::ConstInParam { konst, slot: 0 }).collect();
        assert_exact(&leaves, &tool, &lists);
        // `"k" in identity.roles`
        let chunks = (0..4).map(|konst| leaf_chunk(plain(Op::ConstInRoles { konst }))).collect();
        let requests: Vec<Request> = [&[][..], &["dev"], &["admin", "dev"], &["", "x"], &["Admin"]]
            .iter()
            .map(|roles| with_identity(request(Vec::new()), "h", roles))
            .collect();
        assert_exact_chunks(&tool, chunks, &requests);
        // A list with an item that is not a string: the index steps aside.
        let index =
            tool.index(&vec![leaf_chunk(plain(Op::ConstInParam { konst: 0, slot: 0 })); MIN_CANDIDATES]).unwrap();
        let mixed = Value::List(Arc::from(vec![s("admin"), Value::Int(1)]));
        assert!(!index.live(&request(vec![mixed]), vm::DEFAULT_FUEL, &mut Live::default()));
    }

    #[test]
    fn an_identity_string_in_a_group_is_a_hash_lookup() {
        let tool = Tool::new(&[], &[strs(&["a@x", "b@x"]), strs(&["c@x"])], &[]);
        let chunks = [0u16, 1, 0]
            .iter()
            .map(|g| leaf_chunk(plain(Op::IdentityInGroup { field: IdentityField::Human, group: *g })))
            .collect();
        let requests: Vec<Request> =
            ["a@x", "c@x", "", "A@x"].iter().map(|h| with_identity(request(Vec::new()), h, &[])).collect();
        assert_exact_chunks(&tool, chunks, &requests);
    }

    #[test]
    fn an_or_of_indexed_leaves_is_live_when_one_of_them_holds() {
        // `p0.starts_with(k) or p0.ends_with(k') or p1 > b`, with the same table read twice by one
        // candidate (two prefixes): the union, not the intersection.
        let tool =
            Tool::new(&[s("/etc"), s(".pem"), Value::Int(5), s("/var"), s("")], &[], &[string(), ValueType::Int]);
        let pre = |k| plain(Op::ParamConstMethod { slot: 0, m: MethodOp::StartsWith, konst: k });
        let suf = |k| plain(Op::ParamConstMethod { slot: 0, m: MethodOp::EndsWith, konst: k });
        let gt = plain(Op::ParamConstCmp { slot: 1, c: CmpOp::Gt, konst: 2 });
        let chunks = vec![
            chain_chunk(&leaves(&[pre(0), suf(1)]), false, 0),
            chain_chunk(&leaves(&[pre(0), pre(3)]), false, 0),
            chain_chunk(&leaves(&[suf(1), gt]), false, 0),
            leaf_chunk(pre(3)),
            chain_chunk(&leaves(&[pre(3), gt]), true, 0),
        ];
        let mut requests = Vec::new();
        for path in ["/etc/x", "/var/k.pem", "/home/a", "k.pem", ""] {
            for n in [0, 5, 6] {
                requests.push(request(vec![s(path), Value::Int(n)]));
            }
        }
        assert_exact_chunks(&tool, chunks, &requests);
        // An `or` with a leaf the index does not read (a negation) is always live.
        let negated = chain_chunk(&leaves(&[pre(0), Leaf { negated: true, ..pre(3) }]), false, 0);
        assert!(tool.index(&vec![negated; MIN_CANDIDATES]).is_none());
    }

    #[test]
    fn leaves_after_a_quantifier_a_call_and_a_negation_are_leading() {
        // `(all x in params.p0: f(x)) and not (params.p1 == "b") and (any x in params.p0:
        // x.contains("..")) == false and params.p1.starts_with(k)`, `f(a) = a.ends_with("@x")`.
        let mut tool =
            Tool::new(&[s("@x"), s("b"), s(".."), s("/srv/"), s("/"), Value::Bool(false)], &[], &[strings(), string()]);
        tool.functions.push(Chunk {
            code: vec![Op::Local(0), Op::Const(0), Op::Method(MethodOp::EndsWith), Op::Ret],
            locals: 1,
            params: 1,
            spans: Vec::new(),
        });
        let all = quantifier(QuantKind::All, 0, &[Op::Call(0)]);
        let mut any = quantifier(QuantKind::Any, 0, &[Op::Const(2), Op::Method(MethodOp::StrContains)]);
        any.extend([Op::Const(5), Op::Cmp(CmpOp::Eq)]);
        let ne_b = Leaf { op: Op::ParamConstCmp { slot: 1, c: CmpOp::Eq, konst: 1 }, negated: true };
        let conditions: Vec<Chunk> = [3u32, 4]
            .iter()
            .map(|k| {
                let prefix = plain(Op::ParamConstMethod { slot: 1, m: MethodOp::StartsWith, konst: *k });
                chain_chunk(
                    &[Part::Code(all.clone()), Part::Leaf(ne_b), Part::Code(any.clone()), Part::Leaf(prefix)],
                    true,
                    2,
                )
            })
            .collect();
        let lead = leading::leading(&conditions[0], &tool.cx());
        assert_eq!(lead.len(), 2, "the negated leaf and the prefix: {lead:?}");
        assert_eq!(lead[1].loops.len(), 2, "both quantifiers are counted per item");
        let mut requests = Vec::new();
        for list in [strs(&[]), strs(&["a@x"]), strs(&["a@x", "b@y"]), strs(&["a@x", "../x@x"])] {
            for p1 in ["/srv/a", "/home", "b", ""] {
                requests.push(request(vec![list.clone(), s(p1)]));
            }
        }
        // Not exact (the quantifiers are not tables), so: every candidate skipped is false, and
        // with a prefix that holds, a live one.
        let chunks: Vec<Chunk> = conditions.iter().cycle().take(MIN_CANDIDATES).cloned().collect();
        let index = tool.index(&chunks).expect("indexed");
        let mut live = Live::default();
        let mut skipped = 0;
        for req in &requests {
            assert!(index.live(req, vm::DEFAULT_FUEL, &mut live));
            let alive = live_list(&live, MIN_CANDIDATES);
            for (i, c) in chunks.iter().enumerate() {
                if !alive.contains(&i) {
                    skipped += 1;
                    assert_eq!(tool.truth(c, req, vm::DEFAULT_FUEL), Ok(Truth::False), "{i} {:?}", req.params);
                }
            }
        }
        assert!(skipped > 0);
    }

    #[test]
    fn the_fuel_bound_covers_the_code_before_the_leaves() {
        // For every fuel from 0 up: when the index applies, no indexed candidate it skips fails
        // for lack of fuel (it would have been an error, not `false`).
        let mut tool = Tool::new(&[s("@x"), s("/srv/"), s("/")], &[], &[strings(), string()]);
        tool.functions.push(Chunk {
            code: vec![Op::Local(0), Op::Const(0), Op::Method(MethodOp::EndsWith), Op::Ret],
            locals: 1,
            params: 1,
            spans: Vec::new(),
        });
        let chunks: Vec<Chunk> = (0..MIN_CANDIDATES)
            .map(|i| {
                let prefix =
                    plain(Op::ParamConstMethod { slot: 1, m: MethodOp::StartsWith, konst: 1 + (i % 2) as u32 });
                chain_chunk(&[Part::Code(quantifier(QuantKind::All, 0, &[Op::Call(0)])), Part::Leaf(prefix)], true, 2)
            })
            .collect();
        let index = tool.index(&chunks).expect("indexed");
        let long = "a".repeat(300) + "@x";
        for list in [strs(&[]), strs(&["a@x"; 3]), Value::List(vec![s(&long); 7].into())] {
            for p1 in ["/srv/a", "/home", &"x".repeat(200)] {
                let req = request(vec![list.clone(), s(p1)]);
                let mut applied = 0;
                for fuel in 0..3000 {
                    let mut live = Live::default();
                    if !index.live(&req, fuel, &mut live) {
                        continue;
                    }
                    applied += 1;
                    for (i, c) in chunks.iter().enumerate() {
                        if live.next(i, chunks.len()) != i {
                            assert_eq!(tool.truth(c, &req, fuel), Ok(Truth::False), "fuel {fuel}");
                        }
                    }
                }
                assert!(applied > 0, "the index never applied below 3000");
            }
        }
        // A list of 2 000 items only iterated: its length costs turns, not work per instruction,
        // so the index applies with the default fuel; at the least fuel it applies with, every
        // candidate it skips is still `false`.
        let req = request(vec![Value::List(vec![s("a@x"); 2000].into()), s("/home")]);
        let applies = |fuel| index.live(&req, fuel, &mut Live::default());
        assert!(applies(vm::DEFAULT_FUEL));
        let (mut lo, mut hi) = (0u64, vm::DEFAULT_FUEL);
        while lo < hi {
            let mid = lo + (hi - lo) / 2;
            if applies(mid) {
                hi = mid;
            } else {
                lo = mid + 1;
            }
        }
        let mut live = Live::default();
        assert!(index.live(&req, lo, &mut live));
        for (i, c) in chunks.iter().enumerate() {
            if live.next(i, chunks.len()) != i {
                assert_eq!(tool.truth(c, &req, lo), Ok(Truth::False), "fuel {lo}");
            }
        }
    }

    #[test]
    fn code_that_can_fail_ends_the_leading_leaves() {
        let tool = Tool::new(
            &[Value::Int(0), s("a"), Value::Int(5), s("x")],
            &[],
            &[ValueType::Int, string(), ValueType::Optional(Box::new(ValueType::String))],
        );
        let leaf = Part::Leaf(plain(Op::ParamConstCmp { slot: 1, c: CmpOp::Eq, konst: 1 }));
        for before in [
            // `100 / p0 > 5`: a division by zero fails.
            vec![
                Op::Const(2),
                Op::Param(0),
                Op::Arith(crate::bytecode::ArithOp::IntDiv),
                Op::Const(2),
                Op::Cmp(CmpOp::Gt),
            ],
            // `p1 < 5`: mismatched operands (a hostile bundle's code) fail.
            vec![Op::Param(1), Op::Const(2), Op::Cmp(CmpOp::Lt)],
            // An optional parameter may be absent.
            vec![Op::Param(2), Op::Const(3), Op::Cmp(CmpOp::Eq)],
            // Evidence may be unknown, and is not read by the index.
            vec![Op::Evidence(0)],
        ] {
            let c = chain_chunk(&[Part::Code(before.clone()), leaf.clone()], true, 0);
            assert!(leading::leading(&c, &tool.cx()).is_empty(), "{before:?}");
        }
    }

    /// Code no compiler emits, which a crafted bundle could carry: each time, the types read in
    /// order hold on one path only, and a path where they do not fails on the VM. No leaf after
    /// such code is leading.
    #[test]
    fn code_whose_types_hold_on_one_path_only_ends_the_leading_leaves() {
        let mut tool = Tool::new(&[s("."), s("a")], &[], &[string(), strings()]);
        let leaf = Op::ParamConstCmp { slot: 0, c: CmpOp::Eq, konst: 1 };
        let tail = |code: &mut Vec<Op>| {
            let end = code.len() as u32 + 5;
            code.extend([Op::AndMerge(end), leaf, Op::Pop, Op::Pop, Op::AndMerge(end), Op::Ret]);
        };
        // An `and_merge` jumps over a `set_local` and a `param`: arriving with a `Bool` where the
        // reading in order has a `String`, `starts_with` fails.
        let mut jump = vec![
            Op::Bool(true),
            Op::Bool(true),
            Op::Bool(false),
            Op::AndMerge(6),
            Op::SetLocal(0),
            Op::Param(0),
            Op::Const(0),
            Op::Method(MethodOp::StartsWith),
        ];
        tail(&mut jump);
        // A function with code after a `ret` that a jump reaches.
        tool.functions.push(Chunk {
            code: vec![
                Op::Bool(true),
                Op::Bool(false),
                Op::AndMerge(4),
                Op::Ret,
                Op::Local(0),
                Op::Const(0),
                Op::In,
                Op::Ret,
            ],
            locals: 1,
            params: 1,
            spans: Vec::new(),
        });
        let mut call = vec![Op::Bool(true), Op::Param(0), Op::Call(0)];
        tail(&mut call);
        // A local set in a quantifier's turn, read after the loop: an empty list runs no turn.
        let mut turn = vec![Op::Bool(true)];
        turn.extend(relocated(&quantifier(QuantKind::All, 1, &[Op::SetLocal(2), Op::Bool(true)]), 1));
        turn.extend([Op::AndMerge(0), Op::Local(2), Op::Const(0), Op::Method(MethodOp::StartsWith)]);
        // (The quantifier's merge is placed by hand: it goes to the final `ret`.)
        tail(&mut turn);
        let merge_at = turn.iter().position(|op| *op == Op::AndMerge(0)).unwrap();
        let end = turn.len() as u32 - 1;
        turn[merge_at] = Op::AndMerge(end);
        for (what, code, locals) in [("jump", jump, 1), ("call", call, 0), ("turn", turn, 3)] {
            let c = Chunk { code, locals, params: 0, spans: Vec::new() };
            assert!(leading::leading(&c, &tool.cx()).is_empty(), "{what}: {:?}", leading::leading(&c, &tool.cx()));
            let req = request(vec![s("b"), strs(&[])]);
            assert!(tool.truth(&c, &req, vm::DEFAULT_FUEL).is_err(), "{what}: the VM fails on this path");
        }
    }

    /// A loop whose `jump` goes back past its `iter_next` (found by
    /// `compiler/tests/differential.rs`, `hostile_bytecode_cannot_make_the_index_hide_a_rule`):
    /// a turn that takes no next item runs until the fuel is gone, so a leaf after it is not
    /// leading.
    #[test]
    fn a_loop_that_does_not_take_the_next_item_ends_the_leading_leaves() {
        let tool = Tool::new(&[s("x"), s("a")], &[], &[string(), strings()]);
        let mut endless = quantifier(QuantKind::Any, 1, &[Op::Const(0), Op::Method(MethodOp::EndsWith)]);
        let back = endless.iter().position(|op| *op == Op::Jump(4)).unwrap();
        endless[back] = Op::Jump(5);
        let leaf = Part::Leaf(plain(Op::ParamConstCmp { slot: 0, c: CmpOp::Eq, konst: 1 }));
        let c = chain_chunk(&[Part::Code(endless), leaf], true, 2);
        assert!(leading::leading(&c, &tool.cx()).is_empty());
        let req = request(vec![s("b"), strs(&["a"])]);
        assert_eq!(tool.truth(&c, &req, vm::DEFAULT_FUEL), Err(crate::ops::EvalError::OutOfFuel));
    }

    /// Functions each calling the next a thousand times: read once each (per argument types),
    /// the chain costs a few thousand instructions to read; read at every call, 10^12, which
    /// the engine's reading budget (here 64 × the code + 65 536) would cut short, and the leaf
    /// after the call would not be leading.
    #[test]
    fn a_function_is_read_once_per_argument_types() {
        let mut tool = Tool::new(&[s("/"), s("a")], &[], &[string()]);
        tool.functions.push(Chunk {
            code: vec![Op::Local(0), Op::Const(0), Op::Method(MethodOp::StartsWith), Op::Ret],
            locals: 1,
            params: 1,
            spans: Vec::new(),
        });
        for f in 0..3u16 {
            let calls = 1000;
            let end = (1 + 3 * calls) as u32;
            let mut code = vec![Op::Bool(true)];
            for _ in 0..calls {
                code.extend([Op::Local(0), Op::Call(f), Op::AndMerge(end)]);
            }
            code.push(Op::Ret);
            tool.functions.push(Chunk { code, locals: 1, params: 1, spans: Vec::new() });
        }
        let code_size: usize = tool.functions.iter().map(|f| f.code.len()).sum();
        tool.shared = leading::Shared::new(code_size + 16);
        let leaf = Part::Leaf(plain(Op::ParamConstCmp { slot: 0, c: CmpOp::Eq, konst: 1 }));
        let c = chain_chunk(&[Part::Code(vec![Op::Param(0), Op::Call(3)]), leaf], true, 0);
        let lead = leading::leading(&c, &tool.cx());
        assert_eq!(lead.len(), 1, "the leaf after the chain of calls is leading");
        // Its fuel bound counts every call: 1 + 3 000 + 1 instructions per level.
        assert!(lead[0].fixed > 1000 * 1000 * 1000, "{}", lead[0].fixed);
    }

    #[test]
    fn nested_ands_fall_to_the_end_and_an_or_does_not() {
        // `when a and b` then `when c`: `bool(true) bool(true) a and_merge(10) b and_merge(10)
        // and_merge(15) c and_merge(15) ret`, as the compiler emits it.
        let tool = Tool::new(&[s("a")], &[], &[string()]);
        let a = Op::ParamConstCmp { slot: 0, c: CmpOp::Eq, konst: 0 };
        let code = vec![
            Op::Bool(true),
            Op::Bool(true),
            a,
            Op::Pop,
            Op::Pop,
            Op::AndMerge(10),
            a,
            Op::Pop,
            Op::Pop,
            Op::AndMerge(10),
            Op::AndMerge(15),
            a,
            Op::Pop,
            Op::Pop,
            Op::AndMerge(15),
            Op::Ret,
        ];
        let lead = leading::leading(&chunk(code.clone()), &tool.cx());
        // The first leaf, false: 2 bools, the leaf, its merge, the outer merge, `ret`.
        assert_eq!(lead.iter().map(|l| l.fixed).collect::<Vec<_>>(), [8, 12, 16]);
        let req = request(vec![s("b")]);
        assert_eq!(tool.truth(&chunk(code.clone()), &req, 8), Ok(Truth::False));
        assert!(tool.truth(&chunk(code), &req, 7).is_err());
        // `(a and b) or c`: a `false` of `a` goes on to `c`, so nothing is leading.
        let or = vec![
            Op::Bool(false),
            Op::Bool(true),
            a,
            Op::Pop,
            Op::Pop,
            Op::AndMerge(6),
            Op::OrMerge(11),
            a,
            Op::Pop,
            Op::Pop,
            Op::OrMerge(11),
            Op::Ret,
        ];
        assert!(leading::leading(&chunk(or), &tool.cx()).is_empty());
        // A jump past a leaf that carries `true` (a hostile bundle's `true or` around it): the
        // leaf after it is not leading.
        let past = vec![Op::Bool(true), Op::Bool(true), Op::OrMerge(7), a, Op::Pop, Op::Pop, Op::AndMerge(7), Op::Ret];
        assert!(leading::leading(&chunk(past), &tool.cx()).is_empty());
    }

    #[test]
    fn a_list_with_an_item_of_another_type_is_not_indexed() {
        // `"a" in [1, "a"]` is an error (mismatched element), not `false`: it must be evaluated.
        let tool = Tool::new(&[Value::List(Arc::from(vec![Value::Int(1), s("a")]))], &[], &[string()]);
        assert!(tool.index(&vec![leaf_chunk(plain(Op::ParamInConst { slot: 0, konst: 0 })); MIN_CANDIDATES]).is_none());
    }

    #[test]
    fn the_index_steps_aside_for_values_of_another_type_and_low_fuel() {
        let tool = Tool::new(&[Value::Int(5)], &[], &[ValueType::Int]);
        let chunks = vec![leaf_chunk(plain(Op::ParamConstCmp { slot: 0, c: CmpOp::Gt, konst: 0 })); MIN_CANDIDATES];
        let index = tool.index(&chunks).unwrap();
        let mut live = Live::default();
        for v in [Value::Absent, Value::Unknown(1), s("5"), Value::Decimal(50_000)] {
            assert!(!index.live(&request(vec![v.clone()]), vm::DEFAULT_FUEL, &mut live), "{v:?}");
        }
        assert!(!index.live(&request(vec![]), vm::DEFAULT_FUEL, &mut live), "missing slot");
        // A host's fuel limit that the leaf could exhaust (its three instructions and `ret`): the
        // condition must run (and fail).
        let one = request(vec![Value::Int(1)]);
        assert!(!index.live(&one, 3, &mut live));
        assert!(index.live(&one, 4, &mut live));
        assert_eq!(tool.truth(&chunks[0], &one, 4), Ok(Truth::False));
        assert!(tool.truth(&chunks[0], &one, 3).is_err());
    }

    #[test]
    fn a_leaf_the_tables_do_not_fit_is_evaluated_and_the_next_is_indexed() {
        // `p1 == "a" and not (p0 > 5) and p0 > 9`: the negation is not a table, but cannot fail,
        // so `p0 > 9` is indexed too.
        let tool = Tool::new(&[s("a"), Value::Int(5), Value::Int(9)], &[], &[ValueType::Int, string()]);
        let and = chain_chunk(
            &leaves(&[
                plain(Op::ParamConstCmp { slot: 1, c: CmpOp::Eq, konst: 0 }),
                Leaf { op: Op::ParamConstCmp { slot: 0, c: CmpOp::Gt, konst: 1 }, negated: true },
                plain(Op::ParamConstCmp { slot: 0, c: CmpOp::Gt, konst: 2 }),
            ]),
            true,
            0,
        );
        let n = MIN_CANDIDATES;
        let index = tool.index(&vec![and; n]).unwrap();
        assert_eq!(index.tables(), 2);
        let mut live = Live::default();
        for (p0, p1, holds) in [(10, "a", true), (7, "a", false), (10, "b", false)] {
            assert!(index.live(&request(vec![Value::Int(p0), s(p1)]), vm::DEFAULT_FUEL, &mut live));
            assert_eq!(live.next(0, n) == 0, holds, "{p0} {p1}");
        }
        // p0 is read (by the negation and the bound): absent, the index steps aside.
        assert!(!index.live(&request(vec![Value::Absent, s("a")]), vm::DEFAULT_FUEL, &mut live));
    }

    #[test]
    fn live_walks_past_word_boundaries() {
        let tool = Tool::new(&[Value::Int(0), Value::Int(1)], &[], &[ValueType::Int]);
        let chunks: Vec<Chunk> = (0..130)
            .map(|i| leaf_chunk(plain(Op::ParamConstCmp { slot: 0, c: CmpOp::Eq, konst: u32::from(i % 64 == 63) })))
            .collect();
        let index = tool.index(&chunks).unwrap();
        let mut live = Live::default();
        assert!(index.live(&request(vec![Value::Int(1)]), vm::DEFAULT_FUEL, &mut live));
        assert_eq!(live.next(0, 130), 63);
        assert_eq!(live.next(64, 130), 127);
        assert_eq!(live.next(128, 130), 130);
    }
}

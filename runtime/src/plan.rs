//! Straight-line conditions, evaluated without the stack machine.
//!
//! Most rule conditions are a single leaf test or an `and` / `or` of leaf tests, each leaf one
//! fused instruction (`fuse.rs`), possibly under `not`. For those the engine builds a [`Plan`] at
//! load time and evaluates it directly into a [`Truth`]: no value stack, no dispatch loop, no
//! frame. Everything else (quantifiers, arithmetic, calls, nested logic) runs on the VM.
//!
//! A plan is read off the fused code itself and gives the same answer as running that code: leaf
//! tests run in the code's order with the same operations (`vm::leaf_truth`, which shares its
//! operands, fuel and operations with the VM's `vm::leaf_value`), an `and` stops at the first `false` and an `or` at the first `true`
//! (whatever `unknown`s came before, as `AndMerge`/`OrMerge` do), the `unknown`s met on the way
//! are merged, an error in a leaf is the condition's error, and fuel is charged as the VM would
//! charge that code (so running out happens at the same point).
// A new instruction, decision or outcome must be handled wherever these are matched, not fall
// into a catch-all arm unnoticed.
#![warn(clippy::wildcard_enum_match_arm)]

use crate::bytecode::{Chunk, Op};
use crate::fuse::FUSED_LEN;
use crate::ops::EvalError;
use crate::request::Request;
use crate::value::EvidenceMask;
use crate::vm::{self, Tables, Truth};

/// One leaf test: a fused instruction, negated when a `not` follows it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Leaf {
    pub op: Op,
    pub negated: bool,
}

/// How a condition chunk is evaluated.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Plan {
    /// On the VM.
    Vm,
    /// One leaf.
    Leaf(Leaf),
    /// `and` of the leaves, in order.
    All(Vec<Leaf>),
    /// `or` of the leaves, in order.
    Any(Vec<Leaf>),
}

/// The leaf starting at `at`, and where the code goes on after it.
pub(crate) fn leaf_at(code: &[Op], at: usize) -> Option<(Leaf, usize)> {
    let op = *code.get(at)?;
    if !op.is_fused() {
        return None;
    }
    let next = at + FUSED_LEN;
    if *code.get(next)? == Op::Not {
        Some((Leaf { op, negated: true }, next + 1))
    } else {
        Some((Leaf { op, negated: false }, next))
    }
}

impl Plan {
    /// The plan for a fused condition chunk ([`Plan::Vm`] when it is not straight-line).
    pub fn of(chunk: &Chunk) -> Plan {
        let code = chunk.code.as_slice();
        if let Some((leaf, next)) = leaf_at(code, 0) {
            return if code.get(next) == Some(&Op::Ret) { Plan::Leaf(leaf) } else { Plan::Vm };
        }
        let is_and = match code.first() {
            Some(Op::Bool(true)) => true,
            Some(Op::Bool(false)) => false,
            _ => return Plan::Vm,
        };
        let mut leaves = Vec::new();
        let mut at = 1;
        let end = code.len().saturating_sub(1);
        while at < end {
            let Some((leaf, next)) = leaf_at(code, at) else { return Plan::Vm };
            let merges_to_end = match code.get(next) {
                Some(Op::AndMerge(t)) if is_and => *t as usize == end,
                Some(Op::OrMerge(t)) if !is_and => *t as usize == end,
                _ => false,
            };
            if !merges_to_end {
                return Plan::Vm;
            }
            leaves.push(leaf);
            at = next + 1;
        }
        if at != end || code.get(end) != Some(&Op::Ret) || leaves.is_empty() {
            return Plan::Vm;
        }
        if is_and {
            Plan::All(leaves)
        } else {
            Plan::Any(leaves)
        }
    }
}

/// The leaves of a condition that is one `or` of leaves, and the instructions it executes when
/// all of them are `false` (all of its code); empty for any other condition.
pub fn any_leaves(plan: &Plan, chunk: &Chunk) -> (Vec<Leaf>, u64) {
    match plan {
        Plan::Any(leaves) => (leaves.clone(), chunk.code.len() as u64),
        Plan::Vm | Plan::Leaf(_) | Plan::All(_) => (Vec::new(), 0),
    }
}

#[inline(always)]
/// A leaf: the three instructions it stands for, then `not` if negated.
fn leaf_truth(t: &Tables, req: &Request, leaf: Leaf, fuel: &mut u64) -> Result<Truth, EvalError> {
    vm::charge(fuel, FUSED_LEN as u64)?;
    let truth = vm::leaf_truth(t, req, leaf.op, fuel)?;
    if !leaf.negated {
        return Ok(truth);
    }
    vm::charge(fuel, 1)?;
    Ok(match truth {
        Truth::True => Truth::False,
        Truth::False => Truth::True,
        other => other,
    })
}

/// Evaluates a plan other than [`Plan::Vm`] (which gives `None`) with `fuel` instructions, charged
/// as the VM charges the code the plan was read from: its `bool`, each leaf's instructions and
/// data (`vm::work`), each merge and the `ret`; running out is [`EvalError::OutOfFuel`] where the
/// VM would run out.
pub fn eval(plan: &Plan, t: &Tables, req: &Request, fuel: u64) -> Option<Result<Truth, EvalError>> {
    let mut fuel = fuel;
    let (leaves, is_and) = match plan {
        Plan::Vm => return None,
        Plan::Leaf(leaf) => {
            return Some(leaf_truth(t, req, *leaf, &mut fuel).and_then(|truth| {
                vm::charge(&mut fuel, 1)?;
                Ok(truth)
            }))
        }
        Plan::All(leaves) => (leaves, true),
        Plan::Any(leaves) => (leaves, false),
    };
    Some(chain(leaves, is_and, t, req, &mut fuel))
}

fn chain(leaves: &[Leaf], is_and: bool, t: &Tables, req: &Request, fuel: &mut u64) -> Result<Truth, EvalError> {
    vm::charge(fuel, 1)?; // bool
    let mut unknown: EvidenceMask = 0;
    for leaf in leaves {
        let truth = leaf_truth(t, req, *leaf, fuel)?;
        vm::charge(fuel, 1)?; // and_merge / or_merge
        match truth {
            Truth::Unknown(m) => unknown |= m,
            Truth::True if !is_and => {
                vm::charge(fuel, 1)?; // ret
                return Ok(Truth::True);
            }
            Truth::False if is_and => {
                vm::charge(fuel, 1)?;
                return Ok(Truth::False);
            }
            // Not decided yet: the next leaf.
            Truth::True | Truth::False => {}
        }
    }
    vm::charge(fuel, 1)?;
    Ok(if unknown != 0 {
        Truth::Unknown(unknown)
    } else if is_and {
        Truth::True
    } else {
        Truth::False
    })
}

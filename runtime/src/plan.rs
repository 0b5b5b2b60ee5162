//! Straight-line conditions, evaluated without the stack machine.
//!
//! Most rule conditions are a single leaf test or an `and` / `or` of leaf tests, each leaf one
//! fused instruction (`fuse.rs`), possibly under `not`. For those the engine builds a [`Plan`] at
//! load time and evaluates it directly into a [`Truth`]: no value stack, no dispatch loop, no
//! frame. Everything else (quantifiers, arithmetic, calls, nested logic) runs on the VM.
//!
//! A plan is read off the fused code itself and gives the same answer as running that code: leaf
//! tests run in the code's order with the same operations (`vm::leaf_truth`, which shares them with `vm::leaf_value`), an `and` stops at
//! the first `false` and an `or` at the first `true` (whatever `unknown`s came before, as
//! `AndMerge`/`OrMerge` do), the `unknown`s met on the way are merged, and an error in a leaf is
//! the condition's error.

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
fn leaf_at(code: &[Op], at: usize) -> Option<(Leaf, usize)> {
    let op = *code.get(at)?;
    if !op.is_fused() {
        return None;
    }
    let next = at + FUSED_LEN;
    match code.get(next)? {
        Op::Not => Some((Leaf { op, negated: true }, next + 1)),
        _ => Some((Leaf { op, negated: false }, next)),
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

    /// Instructions the chunk would execute at most: a plan runs only when the VM's fuel covers
    /// them all, so that running out of fuel stays the VM's to report.
    pub fn max_steps(chunk: &Chunk) -> u64 {
        chunk.code.len() as u64
    }
}

#[inline(always)]
fn leaf_truth(t: &Tables, req: &Request, leaf: Leaf) -> Result<Truth, EvalError> {
    Ok(match vm::leaf_truth(t, req, leaf.op)? {
        Truth::True if leaf.negated => Truth::False,
        Truth::False if leaf.negated => Truth::True,
        other => other,
    })
}

/// Evaluates a plan other than [`Plan::Vm`] (which gives `None`).
#[inline(always)]
pub fn eval(plan: &Plan, t: &Tables, req: &Request) -> Option<Result<Truth, EvalError>> {
    let (leaves, is_and) = match plan {
        Plan::Vm => return None,
        Plan::Leaf(leaf) => return Some(leaf_truth(t, req, *leaf)),
        Plan::All(leaves) => (leaves, true),
        Plan::Any(leaves) => (leaves, false),
    };
    let mut unknown: EvidenceMask = 0;
    for leaf in leaves {
        match leaf_truth(t, req, *leaf) {
            Err(e) => return Some(Err(e)),
            Ok(Truth::Unknown(m)) => unknown |= m,
            Ok(Truth::True) if !is_and => return Some(Ok(Truth::True)),
            Ok(Truth::False) if is_and => return Some(Ok(Truth::False)),
            Ok(_) => {}
        }
    }
    Some(Ok(if unknown != 0 {
        Truth::Unknown(unknown)
    } else if is_and {
        Truth::True
    } else {
        Truth::False
    }))
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]
mod tests {
    use super::*;
    use crate::bytecode::{CmpOp, MethodOp};
    use crate::fuse::fuse_chunk;

    fn plan(code: Vec<Op>) -> Plan {
        Plan::of(&fuse_chunk(&Chunk { code, locals: 0, params: 0 }))
    }

    const STARTS: Op = Op::Method(MethodOp::StartsWith);

    #[test]
    fn shapes_that_become_plans() {
        let single = plan(vec![Op::Param(0), Op::Const(0), STARTS, Op::Ret]);
        assert!(matches!(single, Plan::Leaf(Leaf { negated: false, .. })));
        let negated = plan(vec![Op::Const(0), Op::Identity(crate::bytecode::IdentityField::Roles), Op::In, Op::Not, Op::Ret]);
        assert_eq!(negated, Plan::Leaf(Leaf { op: Op::ConstInRoles { konst: 0 }, negated: true }));
        let all = plan(vec![
            Op::Bool(true),
            Op::Param(0),
            Op::Const(0),
            STARTS,
            Op::AndMerge(9),
            Op::Param(1),
            Op::Const(1),
            Op::Cmp(CmpOp::Lt),
            Op::AndMerge(9),
            Op::Ret,
        ]);
        assert!(matches!(&all, Plan::All(leaves) if leaves.len() == 2), "{all:?}");
        let any = plan(vec![Op::Bool(false), Op::Param(0), Op::Const(0), Op::In, Op::OrMerge(5), Op::Ret]);
        assert!(matches!(&any, Plan::Any(leaves) if leaves.len() == 1), "{any:?}");
    }

    #[test]
    fn everything_else_runs_on_the_vm() {
        // Not fused (a parameter alone), a merge that jumps elsewhere, and/or mixed, a leaf that
        // is not the whole condition, an evidence read.
        assert_eq!(plan(vec![Op::Param(0), Op::Ret]), Plan::Vm);
        assert_eq!(plan(vec![Op::Bool(true), Op::Param(0), Op::Const(0), STARTS, Op::AndMerge(4), Op::Ret]), Plan::Vm);
        assert_eq!(plan(vec![Op::Bool(true), Op::Param(0), Op::Const(0), STARTS, Op::OrMerge(5), Op::Ret]), Plan::Vm);
        assert_eq!(plan(vec![Op::Param(0), Op::Const(0), STARTS, Op::Bool(true), Op::Ret]), Plan::Vm);
        assert_eq!(plan(vec![Op::Bool(true), Op::Evidence(0), Op::AndMerge(3), Op::Ret]), Plan::Vm);
        assert_eq!(plan(vec![Op::Bool(true), Op::Ret]), Plan::Vm);
    }
}

//! Load-time instruction fusion: the engine rewrites the commonest three-instruction leaf tests
//! of a verified program into one instruction each, so a condition such as
//! `params.path.starts_with("/etc/")` runs as one dispatch that reads the parameter and the
//! constant in place, instead of three dispatches that clone both onto the stack.
//!
//! Why at load time and not in the compiler: the bundle format and the verifier stay as they are
//! (the fused instructions are `#[serde(skip)]`, so no bundle can carry one, and the verifier
//! refuses them in a program built in memory), and every bundle ever built gets the fast path.
//!
//! A fused instruction replaces the first instruction of its sequence; the other two stay in
//! place, and the fused one continues after them. The sequence is fused only when no jump lands
//! on its second or third instruction, so every path through the chunk still sees the same
//! instructions. The VM gives a fused instruction exactly the semantics of its sequence (the same
//! operations on the same values, the same `unknown` propagation, the same fuel).
// A new instruction, decision or outcome must be handled wherever these are matched, not fall
// into a catch-all arm unnoticed.
#![warn(clippy::wildcard_enum_match_arm)]

use crate::bytecode::{Chunk, IdentityField, Op};

/// How many instructions a fused instruction stands for.
pub const FUSED_LEN: usize = 3;

fn fuse3(a: Op, b: Op, c: Op) -> Option<Op> {
    Some(match (a, b, c) {
        (Op::Param(slot), Op::Const(konst), Op::Method(m)) if m.arity() == 1 => Op::ParamConstMethod { slot, m, konst },
        (Op::Param(slot), Op::Const(konst), Op::Cmp(c)) => Op::ParamConstCmp { slot, c, konst },
        (Op::Param(slot), Op::Const(konst), Op::In) => Op::ParamInConst { slot, konst },
        (Op::Const(konst), Op::Param(slot), Op::In) => Op::ConstInParam { konst, slot },
        (Op::Const(konst), Op::Identity(IdentityField::Roles), Op::In) => Op::ConstInRoles { konst },
        (Op::Param(slot), Op::Group(group), Op::In) => Op::ParamInGroup { slot, group },
        (Op::Identity(field), Op::Group(group), Op::In) if field != IdentityField::Roles => {
            Op::IdentityInGroup { field, group }
        }
        _ => return None,
    })
}

/// The chunk with its fusable sequences fused (same length, same jump targets).
pub fn fuse_chunk(chunk: &Chunk) -> Chunk {
    let mut code = chunk.code.clone();
    let mut is_target = vec![false; code.len()];
    for op in &code {
        if let Some(flag) = op.target().and_then(|t| is_target.get_mut(t as usize)) {
            *flag = true;
        }
    }
    let mut i = 0;
    while let (Some(&a), Some(&b), Some(&c)) = (code.get(i), code.get(i + 1), code.get(i + 2)) {
        let lands_inside = is_target.get(i + 1..i + FUSED_LEN).is_none_or(|t| t.iter().any(|&x| x));
        match fuse3(a, b, c) {
            Some(fused) if !lands_inside => {
                if let Some(slot) = code.get_mut(i) {
                    *slot = fused;
                }
                i += FUSED_LEN;
            }
            _ => i += 1,
        }
    }
    Chunk { code, ..chunk.clone() }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]
mod tests {
    use super::*;
    use crate::bytecode::{CmpOp, MethodOp};

    fn chunk(code: Vec<Op>) -> Chunk {
        Chunk { code, locals: 0, params: 0, spans: Vec::new() }
    }

    #[test]
    fn leaf_tests_fuse_and_keep_their_length() {
        let c = chunk(vec![
            Op::Bool(true),
            Op::Param(0),
            Op::Const(1),
            Op::Method(MethodOp::StartsWith),
            Op::AndMerge(9),
            Op::Param(1),
            Op::Const(2),
            Op::Cmp(CmpOp::Le),
            Op::AndMerge(9),
            Op::Ret,
        ]);
        let f = fuse_chunk(&c);
        assert_eq!(f.code.len(), c.code.len());
        assert_eq!(f.code[1], Op::ParamConstMethod { slot: 0, m: MethodOp::StartsWith, konst: 1 });
        assert_eq!(f.code[5], Op::ParamConstCmp { slot: 1, c: CmpOp::Le, konst: 2 });
        // The replaced instructions stay behind the fused one.
        assert_eq!(f.code[2..4], c.code[2..4]);
        assert_eq!(f.code[4], Op::AndMerge(9));
    }

    #[test]
    fn a_jump_into_the_sequence_prevents_fusion() {
        let c = chunk(vec![Op::Jump(2), Op::Param(0), Op::Const(0), Op::In, Op::Ret]);
        assert_eq!(fuse_chunk(&c).code, c.code);
        // A jump to the sequence's first instruction is fine.
        let c = chunk(vec![Op::Jump(1), Op::Param(0), Op::Const(0), Op::In, Op::Ret]);
        assert_eq!(fuse_chunk(&c).code[1], Op::ParamInConst { slot: 0, konst: 0 });
    }

    #[test]
    fn group_membership_fuses() {
        let c = chunk(vec![
            Op::Identity(IdentityField::Human),
            Op::Group(1),
            Op::In,
            Op::Param(0),
            Op::Group(0),
            Op::In,
            Op::Identity(IdentityField::Roles),
            Op::Group(0),
            Op::In,
            Op::Ret,
        ]);
        let f = fuse_chunk(&c);
        assert_eq!(f.code[0], Op::IdentityInGroup { field: IdentityField::Human, group: 1 });
        assert_eq!(f.code[3], Op::ParamInGroup { slot: 0, group: 0 });
        // `roles in group` (a list in a list of strings) is left to the VM.
        assert_eq!(f.code[6], Op::Identity(IdentityField::Roles));
    }

    #[test]
    fn methods_without_one_argument_do_not_fuse() {
        let c = chunk(vec![Op::Param(0), Op::Const(0), Op::Method(MethodOp::Lower), Op::Ret]);
        assert_eq!(fuse_chunk(&c).code, c.code);
    }

    #[test]
    fn role_and_list_membership_fuse() {
        let c = chunk(vec![
            Op::Const(3),
            Op::Identity(IdentityField::Roles),
            Op::In,
            Op::Const(4),
            Op::Param(2),
            Op::In,
            Op::Ret,
        ]);
        let f = fuse_chunk(&c);
        assert_eq!(f.code[0], Op::ConstInRoles { konst: 3 });
        assert_eq!(f.code[3], Op::ConstInParam { konst: 4, slot: 2 });
    }
}

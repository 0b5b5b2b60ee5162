#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]
//! The bytecode verifier: a valid hand-built program passes; each test breaks exactly one rule
//! and expects the specific error.

use aarm_runtime::bytecode::{Chunk, ContextField, MethodOp, Op, QuantKind};
use aarm_runtime::policy::*;
use aarm_runtime::program::*;
use aarm_runtime::schema::{EvidenceSchema, FieldSchema, Schema, ToolSchema, ValueType};
use aarm_runtime::spans::{SourceSpan, SpanRun, SpanTable, MAX_SPAN_TEXT};
use aarm_runtime::verify::{
    verify_program, ChunkRef, ChunkUse, DispatchRef, Table, VerifyError, MAX_CALL_DEPTH, MAX_STACK,
};

fn chunk(code: Vec<Op>, locals: u16) -> Chunk {
    Chunk { code, locals, params: 0, spans: Vec::new() }
}

fn function(code: Vec<Op>, params: u16, locals: u16) -> Chunk {
    Chunk { code, locals, params, spans: Vec::new() }
}

fn rule(name: &str, priority: i64, order: u32, decision: DecisionTemplate, reason: Vec<ReasonPart>) -> RuleMeta {
    RuleMeta {
        name: name.to_string(),
        qualified_name: format!("p.{name}").into(),
        policy: 0,
        priority,
        order,
        risk: None,
        confidence: None,
        decision,
        reason_code: format!("p.{name}").into(),
        reason,
        doc: None,
        location: format!("p.aarm:{}", order + 1),
        valid_s: None,
    }
}

fn cand(rule: u32, condition: u32) -> Candidate {
    Candidate { rule, condition, reason_chunks: vec![], assignments: vec![] }
}

/// Two tools (`send_email { to, cc }`, `read_file { path }`), a declared context field, one
/// evidence fact, a group, a regex, two functions (1 calls 0) and four rules, one of them `on *`.
fn valid_program() -> Program {
    let field = |name: &str, ty: ValueType| FieldSchema { name: name.into(), ty };
    let chunks = vec![
        // 0: params.to.ends_with("@corp.com") and evidence approved
        chunk(
            vec![
                Op::Bool(true),
                Op::Param(0),
                Op::Const(0),
                Op::Method(MethodOp::EndsWith),
                Op::AndMerge(7),
                Op::Evidence(0),
                Op::AndMerge(7),
                Op::Ret,
            ],
            0,
        ),
        // 1: reason interpolation: params.to
        chunk(vec![Op::Param(0), Op::Ret], 0),
        // 2: f1(any x in ["x"]: x.matches(/^[a-z]+$/))
        chunk(
            vec![
                Op::Bool(false),
                Op::SetLocal(1),
                Op::Const(2),
                Op::IterInit { acc: 1, end: 9 },
                Op::IterNext { local: 0, end: 9 },
                Op::Local(0),
                Op::Matches(0),
                Op::QuantStep { kind: QuantKind::Any, acc: 1, end: 9 },
                Op::Jump(4),
                Op::IterEnd,
                Op::Local(1),
                Op::Call(1),
                Op::Ret,
            ],
            2,
        ),
        // 3: modify assignment: params.path.lower()
        chunk(vec![Op::Param(0), Op::Method(MethodOp::Lower), Op::Ret], 0),
        // 4: context.tenant in group admins and approved is set
        chunk(
            vec![
                Op::Context(ContextField::Declared(0)),
                Op::Group(0),
                Op::In,
                Op::EvidenceIsSet(0),
                Op::Cmp(aarm_runtime::bytecode::CmpOp::Eq),
                Op::Ret,
            ],
            0,
        ),
        // 5: true
        chunk(vec![Op::Bool(true), Op::Ret], 0),
        // 6: [x for x in ["x"] where true] (a filter), unused by candidates
        chunk(
            vec![
                Op::MakeList(0),
                Op::SetLocal(1),
                Op::Const(2),
                Op::IterInit { acc: 1, end: 8 },
                Op::IterNext { local: 0, end: 8 },
                Op::Bool(true),
                Op::FilterStep { var: 0, acc: 1 },
                Op::Jump(4),
                Op::IterEnd,
                Op::Local(1),
                Op::Ret,
            ],
            2,
        ),
    ];
    let defer =
        Defer { need: vec![0], timeout_s: 60, on_timeout: Outcome::Deny, max_attempts: 3, on_exhausted: Outcome::Deny };
    Program {
        compiler_version: "aarm 0.1.0 (test)".to_string(),
        policies: vec![PolicyMeta { name: "p".to_string(), version: "1.0.0".to_string(), doc: None }],
        schema: Schema {
            tools: vec![
                ToolSchema {
                    name: "send_email".to_string(),
                    fields: vec![
                        field("to", ValueType::String),
                        field("cc", ValueType::List(Box::new(ValueType::String))),
                    ],
                    doc: None,
                },
                ToolSchema { name: "read_file".to_string(), fields: vec![field("path", ValueType::String)], doc: None },
            ],
            context: vec![field("tenant", ValueType::String)],
            evidence: vec![EvidenceSchema {
                name: "approved".to_string(),
                ty: ValueType::Bool,
                source: "crm".to_string(),
            }],
            by_name: Default::default(),
        },
        groups: vec![GroupData { name: "admins".to_string(), members: vec!["alice".to_string()] }],
        consts: vec![
            Const::Str("@corp.com".to_string()),
            Const::Int(3),
            Const::List(vec![Const::Str("x".to_string())]),
        ],
        regexes: vec!["^[a-z]+$".to_string()],
        chunks,
        functions: vec![
            function(vec![Op::Local(0), Op::Not, Op::Ret], 1, 1),
            function(vec![Op::Local(0), Op::Call(0), Op::Ret], 1, 2),
        ],
        rules: vec![
            rule(
                "no_external",
                10,
                0,
                DecisionTemplate::Deny,
                vec![ReasonPart::Text("to ".into()), ReasonPart::Expr(0)],
            ),
            rule("anything", 0, 1, DecisionTemplate::Allow, vec![]),
            rule("lower_path", 5, 2, DecisionTemplate::Modify(()), vec![]),
            rule("need_approval", 10, 3, DecisionTemplate::Defer(defer), vec![]),
        ],
        dispatch: vec![
            vec![Candidate { reason_chunks: vec![1], ..cand(0, 0) }, cand(3, 4), cand(1, 2)],
            vec![Candidate { assignments: vec![(0, 3)], ..cand(2, 5) }, cand(1, 2)],
        ],
        dispatch_any: vec![cand(1, 2)],
        settings: Settings { defer_timeout_s: 300, ..Settings::default() },
        spans: SpanTable {
            files: vec!["p.aarm".to_string()],
            spans: vec![SourceSpan { file: 0, line: 3, col: 8, text: "n / 0".to_string() }],
        },
        overrides: vec![],
    }
}

fn err(p: &Program) -> VerifyError {
    let e = verify_program(p).expect_err("the program should be refused");
    // Every message says something; none panics to format.
    assert!(!e.to_string().is_empty());
    e
}

#[test]
fn valid_program_passes() {
    assert_eq!(verify_program(&valid_program()), Ok(()));
}

#[test]
fn empty_program_passes() {
    let mut p = valid_program();
    p.schema = Schema::default();
    p.chunks.clear();
    p.functions.clear();
    p.rules.clear();
    p.dispatch.clear();
    p.dispatch_any.clear();
    assert_eq!(verify_program(&p), Ok(()));
}

// ---- tables ----

#[test]
fn too_many_evidence() {
    let mut p = valid_program();
    let e = p.schema.evidence[0].clone();
    p.schema.evidence = vec![e; aarm_runtime::value::MAX_EVIDENCE + 1];
    assert_eq!(err(&p), VerifyError::TooManyEvidence { count: 129, max: 128 });
    p.schema.evidence.pop();
    assert_eq!(verify_program(&p), Ok(()));
}

#[test]
fn dispatch_length_must_match_tools() {
    let mut p = valid_program();
    p.dispatch.pop();
    assert_eq!(err(&p), VerifyError::DispatchLength { dispatch: 1, tools: 2 });
    let mut p = valid_program();
    p.dispatch.push(vec![]);
    assert_eq!(err(&p), VerifyError::DispatchLength { dispatch: 3, tools: 2 });
}

#[test]
fn regex_must_compile() {
    let mut p = valid_program();
    p.regexes[0] = "(unclosed".to_string();
    assert!(matches!(err(&p), VerifyError::BadRegex { index: 0, .. }));
}

#[test]
fn regex_size_is_limited() {
    let mut p = valid_program();
    p.regexes[0] = r"(?:\w{1000}){1000}".to_string();
    let e = err(&p);
    assert!(matches!(e, VerifyError::BadRegex { index: 0, .. }), "{e}");
}

#[test]
fn rule_policy_in_range() {
    let mut p = valid_program();
    p.rules[2].policy = 1;
    assert_eq!(err(&p), VerifyError::PolicyOutOfRange { rule: 2, policy: 1, policies: 1 });
}

#[test]
fn defer_need_in_range() {
    let mut p = valid_program();
    let DecisionTemplate::Defer(d) = &mut p.rules[3].decision else { panic!() };
    d.need = vec![0, 1];
    assert_eq!(err(&p), VerifyError::DeferEvidenceOutOfRange { rule: 3, index: 1, evidence: 1 });
}

// ---- candidates ----

#[test]
fn candidate_rule_in_range() {
    let mut p = valid_program();
    p.dispatch[1][1].rule = 4;
    assert_eq!(
        err(&p),
        VerifyError::RuleOutOfRange { dispatch: DispatchRef::Tool(1), candidate: 1, rule: 4, rules: 4 }
    );
    let mut p = valid_program();
    p.dispatch_any[0].rule = 99;
    assert!(matches!(err(&p), VerifyError::RuleOutOfRange { dispatch: DispatchRef::Any, candidate: 0, .. }));
}

#[test]
fn candidate_condition_chunk_in_range() {
    let mut p = valid_program();
    p.dispatch[0][1].condition = 7;
    assert_eq!(
        err(&p),
        VerifyError::CandidateChunkOutOfRange {
            dispatch: DispatchRef::Tool(0),
            candidate: 1,
            what: ChunkUse::Condition,
            chunk: 7,
            chunks: 7
        }
    );
}

#[test]
fn candidate_reason_chunk_in_range() {
    let mut p = valid_program();
    p.dispatch[0][0].reason_chunks = vec![100];
    assert!(matches!(err(&p), VerifyError::CandidateChunkOutOfRange { what: ChunkUse::Reason, chunk: 100, .. }));
}

#[test]
fn candidate_assignment_chunk_in_range() {
    let mut p = valid_program();
    p.dispatch[1][0].assignments = vec![(0, u32::MAX)];
    assert!(matches!(
        err(&p),
        VerifyError::CandidateChunkOutOfRange { what: ChunkUse::Assignment, chunk: u32::MAX, .. }
    ));
}

#[test]
fn reason_expr_within_candidate_reason_chunks() {
    let mut p = valid_program();
    p.rules[0].reason.push(ReasonPart::Expr(1));
    assert_eq!(
        err(&p),
        VerifyError::ReasonExprOutOfRange {
            dispatch: DispatchRef::Tool(0),
            candidate: 0,
            rule: 0,
            index: 1,
            available: 1
        }
    );
}

#[test]
fn reason_expr_checked_for_every_candidate_of_the_rule() {
    // Rule 1 (`on *`) gains an interpolation; only some of its candidates carry the chunk.
    let mut p = valid_program();
    p.rules[1].reason = vec![ReasonPart::Expr(0)];
    p.dispatch[0][2].reason_chunks = vec![5];
    p.dispatch[1][1].reason_chunks = vec![5];
    assert!(matches!(err(&p), VerifyError::ReasonExprOutOfRange { dispatch: DispatchRef::Any, candidate: 0, .. }));
    p.dispatch_any[0].reason_chunks = vec![5];
    assert_eq!(verify_program(&p), Ok(()));
}

#[test]
fn assignment_slot_within_tool_fields() {
    let mut p = valid_program();
    p.dispatch[1][0].assignments = vec![(1, 3)];
    assert_eq!(
        err(&p),
        VerifyError::AssignmentSlotOutOfRange { dispatch: DispatchRef::Tool(1), candidate: 0, slot: 1, fields: 1 }
    );
}

#[test]
fn no_assignments_for_undeclared_tools() {
    let mut p = valid_program();
    p.dispatch_any[0].assignments = vec![(0, 5)];
    assert_eq!(err(&p), VerifyError::AssignmentWithoutTool { candidate: 0 });
}

#[test]
fn dispatch_sorted_by_priority_then_order() {
    let mut p = valid_program();
    p.dispatch[0].swap(1, 2);
    assert_eq!(
        err(&p),
        VerifyError::DispatchNotSorted {
            dispatch: DispatchRef::Tool(0),
            candidate: 2,
            rule: 3,
            previous: 1,
            previous_rule: 1
        }
    );
    // Equal priority: source order ascending.
    let mut p = valid_program();
    p.dispatch[0].swap(0, 1);
    assert!(matches!(err(&p), VerifyError::DispatchNotSorted { candidate: 1, rule: 0, previous_rule: 3, .. }));
}

#[test]
fn dispatch_any_sorted_too() {
    let mut p = valid_program();
    p.dispatch_any = vec![cand(1, 2), cand(2, 5)];
    assert!(matches!(err(&p), VerifyError::DispatchNotSorted { dispatch: DispatchRef::Any, candidate: 1, .. }));
}

// ---- spans ----

#[test]
fn span_runs_point_into_the_chunk_and_the_table() {
    let mut p = valid_program();
    p.chunks[0].spans = vec![SpanRun { from: 0, span: 0 }];
    p.functions[0].spans = vec![SpanRun { from: 0, span: 0 }];
    verify_program(&p).unwrap();

    let len = p.chunks[0].code.len();
    let past_end = u32::try_from(len).unwrap();
    p.chunks[0].spans = vec![SpanRun { from: past_end, span: 0 }];
    assert_eq!(err(&p), VerifyError::SpanRunOutOfOrder { chunk: ChunkRef::Chunk(0), run: 0, from: past_end, len });

    let mut p = valid_program();
    p.chunks[0].spans = vec![SpanRun { from: 0, span: 0 }, SpanRun { from: 0, span: 0 }];
    assert!(matches!(err(&p), VerifyError::SpanRunOutOfOrder { run: 1, from: 0, .. }));

    let mut p = valid_program();
    p.functions[0].spans = vec![SpanRun { from: 0, span: 1 }];
    assert_eq!(err(&p), VerifyError::SpanOutOfRange { chunk: ChunkRef::Function(0), run: 0, span: 1, spans: 1 });
}

#[test]
fn spans_name_a_file_of_the_table_and_carry_bounded_text() {
    let mut p = valid_program();
    p.spans.spans[0].file = 1;
    assert_eq!(err(&p), VerifyError::SpanFileOutOfRange { span: 0, file: 1, files: 1 });

    let mut p = valid_program();
    p.spans.spans[0].text = "x".repeat(MAX_SPAN_TEXT + 1);
    assert_eq!(err(&p), VerifyError::SpanTextTooLong { span: 0, len: MAX_SPAN_TEXT + 1, max: MAX_SPAN_TEXT });
}

// ---- chunks ----

#[test]
fn chunk_not_empty() {
    let mut p = valid_program();
    p.chunks[6].code.clear();
    assert_eq!(err(&p), VerifyError::EmptyChunk { chunk: ChunkRef::Chunk(6) });
    let mut p = valid_program();
    p.functions[0].code.clear();
    assert_eq!(err(&p), VerifyError::EmptyChunk { chunk: ChunkRef::Function(0) });
}

#[test]
fn chunk_ends_with_ret() {
    let mut p = valid_program();
    p.chunks[5].code = vec![Op::Bool(true), Op::Ret, Op::Bool(true)];
    assert_eq!(err(&p), VerifyError::MissingRet { chunk: ChunkRef::Chunk(5), at: 2, op: Op::Bool(true) });
}

#[test]
fn function_params_within_locals() {
    let mut p = valid_program();
    p.functions[0].params = 2;
    assert!(matches!(err(&p), VerifyError::BadParamCount { chunk: ChunkRef::Function(0), params: 2, .. }));
}

#[test]
fn rule_chunks_have_no_params() {
    let mut p = valid_program();
    p.chunks[5].params = 1;
    p.chunks[5].locals = 1;
    assert!(matches!(err(&p), VerifyError::BadParamCount { chunk: ChunkRef::Chunk(5), params: 1, .. }));
}

#[test]
fn jump_targets_in_range() {
    for op in [
        Op::Jump(3),
        Op::AndMerge(3),
        Op::OrMerge(3),
        Op::IterInit { acc: 0, end: 3 },
        Op::IterNext { local: 0, end: 3 },
        Op::QuantStep { kind: QuantKind::All, acc: 0, end: 3 },
    ] {
        let mut p = valid_program();
        p.chunks[5] = chunk(vec![Op::Bool(true), op, Op::Ret], 1);
        assert_eq!(
            err(&p),
            VerifyError::JumpOutOfRange { chunk: ChunkRef::Chunk(5), at: 1, target: 3, len: 3 },
            "{op:?}"
        );
    }
}

#[test]
fn table_indices_in_range() {
    let cases = [
        (Op::Const(3), Table::Const, 3, 3),
        (Op::Matches(1), Table::Regex, 1, 1),
        (Op::Group(1), Table::Group, 1, 1),
        (Op::Evidence(1), Table::Evidence, 1, 1),
        (Op::EvidenceIsSet(5), Table::Evidence, 5, 1),
        (Op::Context(ContextField::Declared(1)), Table::Context, 1, 1),
        (Op::Call(2), Table::Function, 2, 2),
    ];
    for (op, table, index, len) in cases {
        let mut p = valid_program();
        p.chunks[5] = chunk(vec![Op::Bool(true), op, Op::Ret], 0);
        assert_eq!(
            err(&p),
            VerifyError::IndexOutOfRange { chunk: ChunkRef::Chunk(5), at: 1, table, index, len },
            "{op:?}"
        );
    }
    // In a function body too.
    let mut p = valid_program();
    p.functions[0].code = vec![Op::Const(9), Op::Ret];
    assert!(matches!(err(&p), VerifyError::IndexOutOfRange { chunk: ChunkRef::Function(0), at: 0, .. }));
}

#[test]
fn locals_in_range() {
    let cases = [
        Op::Local(2),
        Op::SetLocal(2),
        Op::IterInit { acc: 2, end: 0 },
        Op::IterNext { local: 2, end: 0 },
        Op::QuantStep { kind: QuantKind::Count, acc: 2, end: 0 },
        Op::FilterStep { var: 2, acc: 0 },
        Op::FilterStep { var: 0, acc: 2 },
    ];
    for op in cases {
        let mut p = valid_program();
        p.chunks[5] = chunk(vec![Op::Bool(true), op, Op::Ret], 2);
        assert_eq!(
            err(&p),
            VerifyError::LocalOutOfRange { chunk: ChunkRef::Chunk(5), at: 1, slot: 2, locals: 2 },
            "{op:?}"
        );
    }
}

#[test]
fn param_within_tool_fields() {
    let mut p = valid_program();
    p.chunks[1].code = vec![Op::Param(2), Op::Ret];
    assert_eq!(
        err(&p),
        VerifyError::ParamOutOfRange { chunk: ChunkRef::Chunk(1), at: 0, slot: 2, tool: 0, fields: 2, candidate: 0 }
    );
}

#[test]
fn param_checked_against_every_tool_using_the_chunk() {
    // Chunk 1 reads slot 1: fine for send_email (2 fields), not for read_file (1 field).
    let mut p = valid_program();
    p.chunks[1].code = vec![Op::Param(1), Op::Ret];
    assert_eq!(verify_program(&p), Ok(()));
    p.dispatch[1][0].reason_chunks = vec![1];
    assert_eq!(
        err(&p),
        VerifyError::ParamOutOfRange { chunk: ChunkRef::Chunk(1), at: 0, slot: 1, tool: 1, fields: 1, candidate: 0 }
    );
}

#[test]
fn no_param_in_candidates_for_undeclared_tools() {
    let mut p = valid_program();
    p.dispatch_any[0].condition = 3; // reads Param(0)
    p.dispatch_any[0].rule = 1;
    assert!(matches!(err(&p), VerifyError::ParamWithoutTool { chunk: ChunkRef::Chunk(3), at: 0, slot: 0, .. }));
}

#[test]
fn no_param_in_functions() {
    let mut p = valid_program();
    p.functions[0].code = vec![Op::Param(0), Op::Ret];
    assert!(matches!(err(&p), VerifyError::ParamWithoutTool { chunk: ChunkRef::Function(0), .. }));
}

// ---- stack depth ----

#[test]
fn stack_underflow() {
    let mut p = valid_program();
    p.chunks[5].code = vec![Op::Bool(true), Op::Arith(aarm_runtime::bytecode::ArithOp::IntAdd), Op::Ret];
    assert!(matches!(
        err(&p),
        VerifyError::StackUnderflow { chunk: ChunkRef::Chunk(5), at: 1, needed: 2, depth: 1, .. }
    ));
}

#[test]
fn call_pops_the_callee_params() {
    // Function 1 takes one argument: calling it with none underflows.
    let mut p = valid_program();
    p.chunks[5].code = vec![Op::Call(1), Op::Ret];
    assert!(matches!(err(&p), VerifyError::StackUnderflow { at: 0, op: Op::Call(1), needed: 1, depth: 0, .. }));
    // With two arguments for a one-parameter function, two values remain at `Ret`.
    let mut p = valid_program();
    p.chunks[5].code = vec![Op::Bool(true), Op::Bool(true), Op::Call(1), Op::Ret];
    assert!(matches!(err(&p), VerifyError::RetDepth { at: 3, depth: 2, .. }));
}

#[test]
fn iteration_needs_its_state_on_the_stack() {
    let mut p = valid_program();
    p.chunks[5] = chunk(vec![Op::IterInit { acc: 0, end: 1 }, Op::Ret], 1);
    assert!(matches!(err(&p), VerifyError::StackUnderflow { at: 0, needed: 1, depth: 0, .. }));
    let mut p = valid_program();
    p.chunks[5] = chunk(vec![Op::Bool(true), Op::IterNext { local: 0, end: 2 }, Op::Ret], 1);
    assert!(matches!(err(&p), VerifyError::StackUnderflow { at: 1, needed: 2, depth: 1, .. }));
}

#[test]
fn stack_overflow() {
    let mut p = valid_program();
    let mut code = vec![Op::Bool(true); MAX_STACK + 1];
    code.push(Op::MakeList(MAX_STACK as u32 + 1));
    code.push(Op::Ret);
    p.chunks[5].code = code.clone();
    assert_eq!(
        err(&p),
        VerifyError::StackOverflow { chunk: ChunkRef::Chunk(5), at: MAX_STACK, depth: MAX_STACK + 1, max: MAX_STACK }
    );
    // Exactly MAX_STACK is fine.
    code.remove(0);
    code[MAX_STACK] = Op::MakeList(MAX_STACK as u32);
    p.chunks[5].code = code;
    assert_eq!(verify_program(&p), Ok(()));
}

#[test]
fn stack_depth_agrees_at_joins() {
    let mut p = valid_program();
    p.chunks[5].code = vec![
        Op::Bool(true),
        Op::Bool(true),
        Op::AndMerge(5), // jumps to 5 with depth 1
        Op::Bool(true),
        Op::Jump(5), // reaches 5 with depth 2
        Op::Ret,
    ];
    assert_eq!(
        err(&p),
        VerifyError::StackMismatch { chunk: ChunkRef::Chunk(5), at: 5, expected: 1, found: 2, from: 4 }
    );
}

#[test]
fn loop_back_edge_must_agree() {
    // A back edge must arrive with the depth its target has from the other path.
    let mut p = valid_program();
    p.chunks[2].code[8] = Op::Jump(5); // depth 2 to `Local(0)`, entered at depth 2: fine
    assert_eq!(verify_program(&p), Ok(()));
    p.chunks[2].code[8] = Op::Jump(6); // to `Matches`, entered at depth 3
    assert!(matches!(err(&p), VerifyError::StackMismatch { at: 6, expected: 3, found: 2, from: 8, .. }));
}

#[test]
fn jump_does_not_fall_through() {
    // Index 3 is reached only by the jump (depth 1); the fall-through from 2 would be depth 2.
    let mut p = valid_program();
    p.chunks[5].code = vec![Op::Bool(true), Op::Jump(3), Op::Bool(true), Op::Ret];
    assert_eq!(verify_program(&p), Ok(()));
}

#[test]
fn exactly_one_value_at_ret() {
    let mut p = valid_program();
    p.chunks[5].code = vec![Op::Bool(true), Op::Bool(true), Op::Ret];
    assert_eq!(err(&p), VerifyError::RetDepth { chunk: ChunkRef::Chunk(5), at: 2, depth: 2 });
    let mut p = valid_program();
    p.chunks[5].code = vec![Op::Ret];
    assert!(matches!(err(&p), VerifyError::StackUnderflow { at: 0, op: Op::Ret, needed: 1, depth: 0, .. }));
    // On a path through a short-circuit too.
    let mut p = valid_program();
    p.chunks[5].code = vec![Op::Bool(true), Op::Bool(true), Op::Bool(true), Op::OrMerge(5), Op::Ret, Op::Ret];
    assert!(matches!(err(&p), VerifyError::RetDepth { depth: 2, .. }));
}

// ---- call graph ----

#[test]
fn call_cycle_named() {
    let mut p = valid_program();
    p.functions[0].code = vec![Op::Local(0), Op::Call(1), Op::Ret];
    assert_eq!(err(&p), VerifyError::CallCycle { cycle: vec![0, 1] });
    assert_eq!(err(&p).to_string(), "functions call each other in a cycle: function 0 -> function 1 -> function 0");
}

#[test]
fn self_call_is_a_cycle() {
    let mut p = valid_program();
    p.functions[1].code = vec![Op::Local(0), Op::Call(1), Op::Ret];
    assert_eq!(err(&p), VerifyError::CallCycle { cycle: vec![1] });
}

#[test]
fn call_depth_limited() {
    let mut p = valid_program();
    let n = MAX_CALL_DEPTH + 1;
    p.functions = (0..n)
        .map(|i| {
            if i + 1 < n {
                function(vec![Op::Local(0), Op::Call(i as u16 + 1), Op::Ret], 1, 1)
            } else {
                function(vec![Op::Local(0), Op::Ret], 1, 1)
            }
        })
        .collect();
    assert_eq!(err(&p), VerifyError::CallTooDeep { function: 0, depth: n, max: MAX_CALL_DEPTH });
    p.functions.remove(0);
    for (i, f) in p.functions.iter_mut().enumerate() {
        if let Some(Op::Call(g)) = f.code.get_mut(1) {
            *g = i as u16 + 1;
        }
    }
    p.chunks[2].code[11] = Op::Call(0);
    assert_eq!(verify_program(&p), Ok(()));
}

#[test]
fn call_graph_check_is_linear_on_dense_graphs() {
    // Each function calls the next 19: without memoisation the paths would be exponential.
    let mut p = valid_program();
    let n = 2000u16;
    p.functions = (0..n)
        .map(|i| {
            let mut code = vec![Op::Local(0)];
            for g in (i + 1)..n.min(i + 20) {
                code.push(Op::Call(g));
            }
            code.push(Op::Ret);
            function(code, 1, 1)
        })
        .collect();
    // The longest chain (each calls i + 1) is n long: the depth error. Without memoisation
    // the 19^2000 paths would never finish: a regression hangs this test, it cannot pass
    // slowly (no wall-clock bound here, which a loaded machine could break).
    assert!(matches!(err(&p), VerifyError::CallTooDeep { .. }));
}

#[test]
fn unreachable_code_is_still_index_checked() {
    let mut p = valid_program();
    p.chunks[5].code = vec![Op::Bool(true), Op::Ret, Op::Const(1000), Op::Ret];
    assert!(matches!(err(&p), VerifyError::IndexOutOfRange { at: 2, table: Table::Const, .. }));
}

#[test]
fn fused_instructions_never_come_from_a_program() {
    // The engine makes these at load time (runtime/src/fuse.rs); a program that carries one is
    // refused, and a bundle cannot even encode one.
    for op in [
        Op::ParamConstMethod { slot: 0, m: MethodOp::StartsWith, konst: 0 },
        Op::ParamConstCmp { slot: 0, c: aarm_runtime::bytecode::CmpOp::Eq, konst: 0 },
        Op::ParamInConst { slot: 0, konst: 0 },
        Op::ConstInParam { konst: 0, slot: 0 },
        Op::ConstInRoles { konst: 0 },
        Op::ParamInGroup { slot: 0, group: 0 },
        Op::IdentityInGroup { field: aarm_runtime::bytecode::IdentityField::Human, group: 0 },
    ] {
        let mut p = valid_program();
        p.chunks[5] = chunk(vec![op, Op::Ret], 0);
        assert_eq!(err(&p), VerifyError::FusedInstruction { chunk: ChunkRef::Chunk(5), at: 0, op }, "{op:?}");
        assert!(aarm_runtime::bundle::encode(&p, None).is_err(), "{op:?} was encoded");
    }
}

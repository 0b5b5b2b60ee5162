//! A readable listing of a program's code, for `aarm inspect --disassemble` and golden tests.
// A new instruction, decision or outcome must be handled wherever these are matched, not fall
// into a catch-all arm unnoticed.
#![warn(clippy::wildcard_enum_match_arm)]

use crate::bytecode::{Chunk, Op};
use crate::policy::Const;
use crate::program::Program;
use std::fmt::Write;

fn const_text(c: &Const) -> String {
    match c {
        Const::Bool(b) => b.to_string(),
        Const::Int(i) => i.to_string(),
        Const::Decimal(d) => crate::value::format_decimal(*d),
        Const::Str(s) => format!("{s:?}"),
        Const::Duration(d) => crate::value::format_duration(*d),
        Const::Time(t) => crate::value::format_time(*t),
        Const::List(items) => format!("[{}]", items.iter().map(const_text).collect::<Vec<_>>().join(", ")),
        Const::Record(items) => {
            format!("{{{}}}", items.iter().map(|(_, c)| const_text(c)).collect::<Vec<_>>().join(", "))
        }
    }
}

#[expect(
    clippy::wildcard_enum_match_arm,
    reason = "every instruction without a table operand prints its Debug form; nothing to forget"
)]
fn op_text(p: &Program, op: &Op) -> String {
    match op {
        Op::Const(i) => {
            format!("const {}", p.consts.get(*i as usize).map(const_text).unwrap_or_else(|| format!("#{i}?")))
        }
        Op::Param(slot) => format!("param {slot}"),
        Op::Evidence(i) => {
            format!("evidence {}", p.schema.evidence.get(usize::from(*i)).map(|e| e.name.as_str()).unwrap_or("?"))
        }
        Op::EvidenceIsSet(i) => {
            format!(
                "evidence_is_set {}",
                p.schema.evidence.get(usize::from(*i)).map(|e| e.name.as_str()).unwrap_or("?")
            )
        }
        Op::Group(i) => format!("group {}", p.groups.get(usize::from(*i)).map(|g| g.name.as_str()).unwrap_or("?")),
        Op::Matches(i) => format!("matches {:?}", p.regexes.get(*i as usize).map(String::as_str).unwrap_or("?")),
        Op::Call(f) => format!("call fn#{f}"),
        other => {
            // The derived Debug form reads well enough for the rest: `AndMerge(7)`, `Cmp(Gt)`.
            let s = format!("{other:?}");
            let mut out = String::new();
            let mut prev_lower = false;
            for ch in s.chars() {
                if ch.is_uppercase() && prev_lower {
                    out.push('_');
                }
                prev_lower = ch.is_lowercase();
                out.extend(ch.to_lowercase());
            }
            out
        }
    }
}

fn chunk_text(p: &Program, out: &mut String, title: &str, chunk: &Chunk) {
    let _ = writeln!(out, "  {title} (locals {}, params {}):", chunk.locals, chunk.params);
    let mut runs = chunk.spans.iter().peekable();
    for (i, op) in chunk.code.iter().enumerate() {
        let text = op_text(p, op);
        // Where the code starts coming from another source expression (the span table).
        match runs.next_if(|r| r.from as usize == i).and_then(|r| p.spans.location(r.span)) {
            Some(at) => {
                let _ = writeln!(out, "    {i:4}  {text:<28}  ; {}:{}:{} {}", at.file, at.line, at.col, at.expr);
            }
            None => {
                let _ = writeln!(out, "    {i:4}  {text}");
            }
        }
    }
}

/// Every rule with its candidates' code, then every function.
pub fn disassemble(p: &Program) -> String {
    let mut out = String::new();
    let tools: Vec<(&str, &Vec<crate::program::Candidate>)> = p
        .schema
        .tools
        .iter()
        .map(|t| t.name.as_str())
        .zip(p.dispatch.iter())
        .chain(std::iter::once(("(undeclared tools)", &p.dispatch_any)))
        .collect();
    for (tool, cands) in tools {
        let _ = writeln!(out, "tool {tool}:");
        for c in cands {
            let Some(rule) = p.rules.get(c.rule as usize) else { continue };
            let _ = writeln!(
                out,
                "rule {} priority {} -> {} ({})",
                rule.qualified_name,
                rule.priority,
                rule.decision.name(),
                rule.location
            );
            if let Some(chunk) = p.chunks.get(c.condition as usize) {
                chunk_text(p, &mut out, "condition", chunk);
            }
            for (k, r) in c.reason_chunks.iter().enumerate() {
                if let Some(chunk) = p.chunks.get(*r as usize) {
                    chunk_text(p, &mut out, &format!("reason part {k}"), chunk);
                }
            }
            for (slot, a) in &c.assignments {
                if let Some(chunk) = p.chunks.get(*a as usize) {
                    chunk_text(p, &mut out, &format!("modify param {slot}"), chunk);
                }
            }
        }
    }
    for (i, f) in p.functions.iter().enumerate() {
        let _ = writeln!(out, "fn#{i}:");
        chunk_text(p, &mut out, "body", f);
    }
    out
}

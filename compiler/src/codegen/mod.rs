//! Code generation: the checked IR → a runtime [`Program`] (the payload of a bundle).
//!
//! - `mod.rs`: the schema, rule metadata, decision templates, candidates and the dispatch table
//! - `expr.rs`: expressions → bytecode chunks
//!
//! A rule on several tools gets one candidate per tool, because `params` slots differ per tool.
//! Candidates are sorted per tool by priority (highest first) then source order, so the VM walks
//! them in resolution order with no sorting at evaluation time.
// A new instruction, decision or outcome must be handled wherever these are matched, not fall
// into a catch-all arm unnoticed.
#![warn(clippy::wildcard_enum_match_arm)]

mod expr;

use crate::ir::{self, Bundle};
use crate::modules::Loaded;
use crate::types::Type;
use aarm_lang::{FileId, Span};
use aarm_runtime::policy::Defer;
use aarm_runtime::program::{Candidate, DecisionTemplate, GroupData, PolicyMeta, Program, ReasonPart, RuleMeta};
use aarm_runtime::schema::{EvidenceSchema, FieldSchema, Schema, ToolSchema, ValueType};
use aarm_runtime::spans::{span_text, SourceSpan, SpanTable};
use aarm_runtime::value::MAX_EVIDENCE;
use expr::{ChunkGen, Pool};

/// Why a bundle the checker accepted still has no program: a limit of the bytecode format, or a
/// compiler bug. Code generation stops with one of these rather than emit a program that would
/// decide differently from the source.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum CodegenError {
    /// More evidence declarations than the runtime's per-request evidence mask has bits for
    /// (`MAX_EVIDENCE`); holds the number declared.
    #[error("the bundle declares {0} evidence facts; at most {MAX_EVIDENCE} are supported")]
    TooManyEvidence(usize),
    /// More of something (named: `"rules"`, `"constants"`, `"instructions"`, …) than the
    /// format's fixed-width indexes can address.
    #[error("the bundle has too many {0} for the bytecode format")]
    TooMany(&'static str),
    /// The checked IR broke an invariant the checker guarantees (a compiler bug).
    #[error("internal compiler error: {0}")]
    Internal(&'static str),
}

/// Generates the program of a checked bundle.
pub fn generate(bundle: &Bundle, loaded: &Loaded) -> Result<Program, CodegenError> {
    if bundle.evidence.len() > MAX_EVIDENCE {
        return Err(CodegenError::TooManyEvidence(bundle.evidence.len()));
    }
    let mut pool = Pool::default();
    let schema = Schema {
        tools: bundle
            .tools
            .iter()
            .map(|t| ToolSchema { name: t.name.clone(), fields: fields(&t.fields), doc: t.doc.clone() })
            .collect(),
        context: fields(&bundle.context_fields),
        evidence: bundle
            .evidence
            .iter()
            .map(|e| EvidenceSchema { name: e.name.clone(), ty: value_type(&e.ty), source: e.source.clone() })
            .collect(),
        by_name: Default::default(),
    };
    // Functions first: rules call them by index (the IR's FnId).
    let mut functions = Vec::with_capacity(bundle.fns.len());
    for f in &bundle.fns {
        let mut g = ChunkGen::new(&mut pool, bundle, None, f.locals, f.loc.file)?;
        g.expr(&f.body)?;
        functions.push(g.finish(u16::try_from(f.params.len()).map_err(|_| CodegenError::TooMany("parameters"))?)?);
    }
    let mut rules = Vec::with_capacity(bundle.rules.len());
    let mut per_tool: Vec<Vec<Candidate>> = vec![Vec::new(); bundle.tools.len()];
    let mut any: Vec<Candidate> = Vec::new();
    for (index, rule) in bundle.rules.iter().enumerate() {
        let order = u32::try_from(index).map_err(|_| CodegenError::TooMany("rules"))?;
        rules.push(rule_meta(rule, order, loaded));
        match &rule.targets {
            ir::Targets::All => any.push(candidate(&mut pool, bundle, rule, order, None)?),
            ir::Targets::Tools(tools) => {
                for t in tools {
                    let c = candidate(&mut pool, bundle, rule, order, Some(*t))?;
                    if let Some(list) = per_tool.get_mut(t.index()) {
                        list.push(c);
                    }
                }
            }
        }
    }
    let key = |c: &Candidate| {
        let r = bundle.rules.get(c.rule as usize);
        (std::cmp::Reverse(r.map(|r| r.priority).unwrap_or(0)), c.rule)
    };
    let dispatch = per_tool
        .into_iter()
        .map(|mut list| {
            list.extend(any.iter().cloned());
            list.sort_by_key(key);
            list
        })
        .collect();
    any.sort_by_key(key);
    let spans = span_table(&pool.spans, loaded);
    let Pool { consts, regexes, chunks, .. } = pool;
    Ok(Program {
        compiler_version: env!("CARGO_PKG_VERSION").to_string(),
        policies: bundle
            .policies
            .iter()
            .map(|p| PolicyMeta { name: p.name.clone(), version: p.version.clone(), doc: p.doc.clone() })
            .collect(),
        schema,
        groups: bundle.groups.iter().map(|g| GroupData { name: g.name.clone(), members: g.members.clone() }).collect(),
        consts,
        regexes,
        chunks,
        functions,
        rules,
        dispatch,
        dispatch_any: any,
        settings: bundle.settings.clone(),
        spans,
        overrides: bundle.overrides.clone(),
    })
}

/// The bundle's span table: each source expression the code came from, with its file named as
/// inside the bundle (like rule locations), its line and column, and its text on one line.
fn span_table(spans: &[(FileId, Span)], loaded: &Loaded) -> SpanTable {
    let mut table = SpanTable::default();
    let mut file_index: crate::check::Map<FileId, u32> = crate::check::Map::default();
    for &(file, span) in spans {
        let next = u32::try_from(table.files.len()).unwrap_or(u32::MAX);
        // The file's name is looked up (and copied) once, when the file is first met.
        let index = *file_index.entry(file).or_insert_with(|| {
            table.files.push(loaded.module(file).map(|m| m.bundle_path.clone()).unwrap_or_default());
            next
        });
        let source = loaded.sources.get(file);
        let (line, col) = source.map(|f| f.line_col(span.start)).unwrap_or((0, 0));
        table.spans.push(SourceSpan {
            file: index,
            line: u32::try_from(line).unwrap_or(u32::MAX),
            col: u32::try_from(col).unwrap_or(u32::MAX),
            text: span_text(source.map(|f| f.slice(span)).unwrap_or("")),
        });
    }
    table
}

fn candidate(
    pool: &mut Pool,
    bundle: &Bundle,
    rule: &ir::Rule,
    order: u32,
    tool: Option<ir::ToolId>,
) -> Result<Candidate, CodegenError> {
    let tool_decl = tool.and_then(|t| bundle.tool(t));
    // The condition: every `when` line, as one `and`.
    let mut g = ChunkGen::new(pool, bundle, tool_decl, rule.locals, rule.loc.file)?;
    g.conditions(&rule.conditions)?;
    let condition = g.finish_chunk()?;
    let mut reason_chunks = Vec::new();
    for part in &rule.reason.message {
        if let ir::TemplatePart::Expr(e) = part {
            let mut g = ChunkGen::new(pool, bundle, tool_decl, rule.locals, rule.loc.file)?;
            g.expr(e)?;
            reason_chunks.push(g.finish_chunk()?);
        }
    }
    let mut assignments = Vec::new();
    if let ir::Decision::Modify(list) = &rule.decision {
        for a in list {
            let Some((slot, _)) = tool_decl.and_then(|t| t.field(&a.field)) else { continue };
            let slot = u16::try_from(slot).map_err(|_| CodegenError::TooMany("parameters"))?;
            let mut g = ChunkGen::new(pool, bundle, tool_decl, rule.locals, rule.loc.file)?;
            g.expr(&a.value)?;
            assignments.push((slot, g.finish_chunk()?));
        }
    }
    Ok(Candidate { rule: order, condition, reason_chunks, assignments })
}

fn rule_meta(rule: &ir::Rule, _order: u32, loaded: &Loaded) -> RuleMeta {
    let mut expr_index = 0u32;
    let reason = rule
        .reason
        .message
        .iter()
        .map(|p| match p {
            ir::TemplatePart::Text(t) => ReasonPart::Text(t.clone()),
            ir::TemplatePart::Expr(_) => {
                let part = ReasonPart::Expr(expr_index);
                expr_index += 1;
                part
            }
        })
        .collect();
    // The bundle path, not the path typed on the command line: bundles are reproducible.
    let location = match (loaded.sources.get(rule.loc.file), loaded.module(rule.loc.file)) {
        (Some(f), Some(m)) => {
            let (line, col) = f.line_col(rule.loc.span.start);
            format!("{}:{line}:{col}", m.bundle_path)
        }
        _ => String::new(),
    };
    RuleMeta {
        name: rule.name.clone(),
        qualified_name: rule.qualified_name.as_str().into(),
        policy: rule.policy.0,
        priority: rule.priority,
        order: _order,
        risk: rule.risk,
        confidence: rule.confidence,
        decision: match &rule.decision {
            ir::Decision::Allow => DecisionTemplate::Allow,
            ir::Decision::Deny => DecisionTemplate::Deny,
            ir::Decision::Modify(_) => DecisionTemplate::Modify(()),
            ir::Decision::StepUp(s) => DecisionTemplate::StepUp(s.clone()),
            ir::Decision::Defer(d) => DecisionTemplate::Defer(defer(d)),
        },
        reason_code: rule.reason.code.as_str().into(),
        reason,
        doc: rule.doc.clone(),
        location,
        valid_s: rule.valid_s,
    }
}

/// A `defer` block as the bundle holds it: evidence by index.
pub(crate) fn defer(d: &ir::Defer) -> Defer {
    Defer {
        need: d.need.iter().filter_map(|e| u16::try_from(e.0).ok()).collect(),
        timeout_s: d.timeout_s,
        on_timeout: d.on_timeout.clone(),
        max_attempts: d.max_attempts,
        on_exhausted: d.on_exhausted.clone(),
    }
}

fn fields(fs: &[ir::Field]) -> Vec<FieldSchema> {
    fs.iter().map(|f| FieldSchema { name: std::sync::Arc::from(f.name.as_str()), ty: value_type(&f.ty) }).collect()
}

/// The runtime form of a checked type. `Never` and `Error` cannot occur in an error-free bundle;
/// they map to `String` rather than panic.
pub(crate) fn value_type(t: &Type) -> ValueType {
    match t {
        Type::Bool => ValueType::Bool,
        Type::Int => ValueType::Int,
        Type::Decimal => ValueType::Decimal,
        Type::String | Type::Never | Type::Error => ValueType::String,
        Type::Duration => ValueType::Duration,
        Type::Time => ValueType::Time,
        Type::List(e) => ValueType::List(Box::new(value_type(e))),
        Type::Set(e) => ValueType::Set(Box::new(value_type(e))),
        Type::Record(fs) => ValueType::Record(fs.iter().map(|(n, t)| (n.clone(), value_type(t))).collect()),
        Type::Optional(e) => ValueType::Optional(Box::new(value_type(e))),
    }
}

//! The host API: load a bundle once, convert each request once, evaluate it as often as needed.
//!
//! ```text
//! let engine = Engine::load(&bytes, &trusted_keys, require_signature)?;
//! let request = engine.convert(json_text, now)?;        // validated, slot-indexed
//! let decision = engine.decide(&request);                // the decision of docs/json.md
//! ```
//!
//! [`Engine::evaluate`] is the allocation-free hot path: it returns a [`Verdict`] that borrows the
//! engine; [`Engine::materialize`] turns it into a [`Decision`] (rendering the reason, building
//! obligations and the modified action), which allocates.
//!
//! Resolution follows "Evaluation" in `lang/REFERENCE.md`.
// A new instruction, decision or outcome must be handled wherever these are matched, not fall
// into a catch-all arm unnoticed.
#![warn(clippy::wildcard_enum_match_arm)]

use crate::assemble::{self, Assigned, Resolved, RuleFacts};
use crate::bundle::{self, BundleError};
use crate::bytecode::Chunk;
use crate::convert::{self, InputError, Limits};
use crate::decision::{codes, Decision, DeferObligation, Need, PolicyRef};
use crate::index::ToolIndex;
use crate::leading::{Context, Shared};
use crate::live::Live;
use crate::ops::EvalError;
use crate::plan::{self, Plan};
use crate::policy::{ConflictMode, Const, DefaultEffect};
use crate::program::{Candidate, DecisionTemplate, Program, ReasonPart, RuleMeta};
use crate::request::Request;
use crate::spans::ErrorLocation;
use crate::value::{EvidenceMask, Value};
use crate::verify::{self, VerifyError};
use crate::vm::{Tables, Truth, Vm};
use regex::Regex;
use std::borrow::Cow;
use std::sync::Arc;

/// Why an engine could not be built. A host that cannot load a bundle has nothing to decide with:
/// it answers `deny` with `bundle.invalid` rather than allow anything.
#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    /// The bundle was refused (format, hash, signature, verifier).
    #[error(transparent)]
    Bundle(#[from] BundleError),
    /// The program (given directly, not as a bundle) failed the verifier.
    #[error(transparent)]
    Verify(#[from] VerifyError),
    /// A `matches` pattern that passed the verifier does not compile.
    #[error("pattern {index} of the bundle does not compile: {message}")]
    Regex {
        /// The pattern (index into the regex table).
        index: usize,
        /// The `regex` crate's reason.
        message: String,
    },
}

/// A loaded, verified bundle, ready to evaluate requests. Immutable and shareable across threads.
/// A clone copies the loaded tables, without decoding or verifying the bundle again.
#[derive(Clone)]
pub struct Engine {
    /// Shared, not copied, by the engines cloned from this one (`unindexed`, `unfused`): it is
    /// only ever read.
    program: Arc<Program>,
    consts: Vec<Value>,
    regexes: Vec<Regex>,
    groups: Vec<Value>,
    /// The program's chunks and functions with their leaf tests fused (`fuse.rs`): what the VM
    /// runs. `program` keeps the code as the bundle has it.
    chunks: Vec<Chunk>,
    functions: Vec<Chunk>,
    /// For each chunk, how a condition in it is evaluated (`plan.rs`).
    plans: Vec<Plan>,
    /// For each declared tool, its candidates' leaf tests in tables (`index.rs`), when it has any.
    index: Vec<Option<ToolIndex>>,
    /// For each policy, how decisions name it (with the bundle's hash), and then the bundle's first
    /// policy (what decisions no rule made name): built once, shared by every decision.
    policy_refs: Vec<PolicyRef>,
    default_policy: PolicyRef,
    limits: Limits,
    /// For each declared tool, its parameter names sorted: what a decision's scope shares
    /// (`assemble::scope_params`).
    sorted_fields: Vec<Arc<[Arc<str>]>>,
}

/// How a request was decided, borrowing the engine: no allocation.
pub type Verdict<'a> = crate::assemble::Verdict<&'a Candidate>;

/// One rule tried by [`Engine::explain`], and what its condition evaluated to.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Tried {
    /// The rule's qualified name (`POLICY.rule`).
    pub rule: String,
    /// Its priority.
    pub priority: i64,
    /// `true`, `false`, `unknown(fact, ...)` or `error: ...`.
    pub condition: String,
    /// Where the rule is declared in the source (`file:line`).
    pub location: String,
}

impl Engine {
    /// Loads a `.aarmb` bundle: hash, signature (see [`bundle::decode`]), verifier, tables.
    pub fn load(
        bytes: &[u8],
        trusted: &[ed25519_dalek::VerifyingKey],
        require_signature: bool,
    ) -> Result<Engine, EngineError> {
        let (info, program) = bundle::decode(bytes, trusted, require_signature)?;
        Engine::from_program(program, info.hash_string())
    }

    /// Builds an engine from a program in memory (the compiler's output), verifying it first.
    pub fn from_program(program: Program, bundle_hash: impl Into<String>) -> Result<Engine, EngineError> {
        verify::verify_program(&program)?;
        let consts: Vec<Value> = program.consts.iter().map(Const::to_value).collect();
        let mut regexes = Vec::with_capacity(program.regexes.len());
        for (index, pattern) in program.regexes.iter().enumerate() {
            let re =
                verify::compile_regex(pattern).map_err(|e| EngineError::Regex { index, message: e.to_string() })?;
            regexes.push(re);
        }
        let groups: Vec<Value> = program
            .groups
            .iter()
            .map(|g| Value::List(g.members.iter().map(|m| Value::Str(Arc::from(m.as_str()))).collect()))
            .collect();
        let chunks: Vec<Chunk> = program.chunks.iter().map(crate::fuse::fuse_chunk).collect();
        let plans: Vec<Plan> = chunks.iter().map(Plan::of).collect();
        let functions: Vec<Chunk> = program.functions.iter().map(crate::fuse::fuse_chunk).collect();
        let code_size = chunks.iter().chain(&functions).map(|c| c.code.len()).sum();
        let shared = Shared::new(code_size);
        let index = program
            .dispatch
            .iter()
            .enumerate()
            .map(|(t, cands)| {
                let fields = program.schema.tools.get(t).map_or(&[][..], |tool| tool.fields.as_slice());
                let cx = Context { consts: &consts, groups: &groups, functions: &functions, fields, shared: &shared };
                ToolIndex::build(cands, &plans, &chunks, &cx)
            })
            .collect();
        let sorted_fields = program
            .schema
            .tools
            .iter()
            .map(|t| {
                let mut names: Vec<Arc<str>> = t.fields.iter().map(|f| Arc::clone(&f.name)).collect();
                names.sort_unstable();
                names.dedup();
                names.into()
            })
            .collect();
        let hash: String = bundle_hash.into();
        let policy_refs: Vec<PolicyRef> = program
            .policies
            .iter()
            .map(|p| PolicyRef::new(p.name.as_str(), p.version.as_str(), hash.as_str()))
            .collect();
        let default_policy = policy_refs.first().cloned().unwrap_or_else(|| PolicyRef::new("", "", hash));
        Ok(Engine {
            program: Arc::new(program),
            consts,
            regexes,
            groups,
            chunks,
            functions,
            plans,
            index,
            policy_refs,
            default_policy,
            limits: Limits::default(),
            sorted_fields,
        })
    }

    /// The same engine with fusion and plans turned off: every condition runs on the VM over the
    /// code exactly as the bundle has it. For differential tests of `fuse.rs` and `plan.rs`, and
    /// to rule them out when diagnosing a decision.
    pub fn unfused(mut self) -> Engine {
        self.chunks = self.program.chunks.clone();
        self.functions = self.program.functions.clone();
        self.plans = vec![Plan::Vm; self.chunks.len()];
        self.index = Vec::new();
        self
    }

    /// The same engine without the rule index (`index.rs`): every candidate of a tool is
    /// evaluated. For differential tests of the index.
    pub fn unindexed(mut self) -> Engine {
        self.index = Vec::new();
        self
    }

    /// Checks the rule index on `req`: every candidate the index skips is evaluated anyway, and
    /// each must be `false` (a skipped candidate that holds, is unknown or fails would have
    /// changed the decision). `Ok` gives how many were skipped, and how many of those have a
    /// condition that runs on the VM (no plan); `Err` names the first that was not `false`. For
    /// differential tests of `index.rs`: a decision hides a wrongly skipped rule whenever another
    /// rule decides the same way.
    pub fn check_index_skips(&self, req: &Request) -> Result<(usize, usize), String> {
        let Some(Some(index)) = req.tool_index.and_then(|t| self.index.get(t)) else { return Ok((0, 0)) };
        let mut vm = Vm::new();
        let mut live = Live::default();
        if !index.live(req, vm.fuel(), &mut live) {
            return Ok((0, 0));
        }
        let cands = self.candidates(req);
        let (mut skipped, mut on_vm) = (0, 0);
        let mut next_live = live.next(0, cands.len());
        for (i, c) in cands.iter().enumerate() {
            if i == next_live {
                next_live = live.next(i + 1, cands.len());
                continue;
            }
            skipped += 1;
            if self.plans.get(c.condition as usize).is_none_or(|p| *p == Plan::Vm) {
                on_vm += 1;
            }
            match self.condition(&mut vm, c, req) {
                Ok(Truth::False) => {}
                other => {
                    let rule = self.rule(c).map_or("?", |r| &*r.qualified_name);
                    return Err(format!("the index skipped candidate {i} ({rule}), whose condition is {other:?}"));
                }
            }
        }
        Ok((skipped, on_vm))
    }

    /// How many declared tools have their rules indexed.
    pub fn indexed_tools(&self) -> usize {
        self.index.iter().filter(|i| i.is_some()).count()
    }

    /// How many chunks have a plan (run without the VM when they are a condition).
    pub fn planned_chunks(&self) -> usize {
        self.plans.iter().filter(|p| **p != Plan::Vm).count()
    }

    /// The program the bundle carries, as decoded (before fusion): its schema, rules and settings.
    pub fn program(&self) -> &Program {
        &self.program
    }

    /// The bundle's hash, `sha256:` and 64 hex digits: what decisions name as `bundle_hash`.
    pub fn bundle_hash(&self) -> &str {
        &self.default_policy.bundle_hash
    }

    /// Converts a request's JSON text, validated against the bundle's schema.
    pub fn convert(&self, json: &str, now: i64) -> Result<Request, InputError> {
        convert::convert_str(&self.program.schema, json, now, &self.limits)
    }

    fn tables(&self) -> Tables<'_> {
        Tables { consts: &self.consts, regexes: &self.regexes, groups: &self.groups, functions: &self.functions }
    }

    fn candidates(&self, req: &Request) -> &[Candidate] {
        match req.tool_index {
            Some(i) => self.program.dispatch.get(i).map(Vec::as_slice).unwrap_or(&[]),
            None => &self.program.dispatch_any,
        }
    }

    fn rule(&self, c: &Candidate) -> Option<&RuleMeta> {
        self.program.rules.get(c.rule as usize)
    }

    fn chunk(&self, i: u32) -> Result<&Chunk, EvalError> {
        self.chunks.get(i as usize).ok_or(EvalError::Malformed("chunk index"))
    }

    #[inline(always)]
    fn condition(&self, vm: &mut Vm, c: &Candidate, req: &Request) -> Result<Truth, EvalError> {
        let tables = self.tables();
        if let Some(plan) = self.plans.get(c.condition as usize) {
            match plan::eval(plan, &tables, req, vm.fuel()) {
                Some(Ok(truth)) => return Ok(truth),
                Some(Err(error)) => {
                    // A plan does not track instructions: run the same code on the VM, which
                    // fails the same way, to learn where (`vm.fault()`). The plan's error stands.
                    let _ = vm.condition(&tables, self.chunk(c.condition)?, req);
                    return Err(error);
                }
                None => {}
            }
        }
        vm.condition(&tables, self.chunk(c.condition)?, req)
    }

    /// Decides `req`: walks the priority levels (see the module doc). Does not allocate once `vm`
    /// has warmed up.
    pub fn evaluate<'a>(&'a self, req: &Request, vm: &mut Vm) -> Verdict<'a> {
        vm.clear_fault();
        match req.tool_index.and_then(|t| self.index.get(t)) {
            Some(Some(index)) => {
                // The index's scratch space, taken out of `vm` only for an indexed tool (it is
                // a few hundred bytes to move).
                let mut live = std::mem::take(&mut vm.live);
                let indexed = index.live(req, vm.fuel(), &mut live);
                let verdict = self.walk(req, vm, indexed.then_some(&live));
                vm.live = live;
                verdict
            }
            _ => self.walk(req, vm, None),
        }
    }

    /// [`Engine::evaluate`]: `live` holds the candidates the index cannot rule out (`index.rs`),
    /// when the index applies; a candidate it skips is `false`.
    fn walk<'a>(&'a self, req: &Request, vm: &mut Vm, live: Option<&Live>) -> Verdict<'a> {
        let cands = self.candidates(req);
        let settings = &self.program.settings;
        let mut pending: EvidenceMask = 0;
        let mut first_unknown: Option<&Candidate> = None;
        let next = |i: usize| match live {
            Some(live) => live.next(i, cands.len()),
            None => i,
        };
        let mut i = next(0);
        while let Some(head) = cands.get(i) {
            let Some(priority) = self.rule(head).map(|r| r.priority) else {
                return Verdict::Error { candidate: head, error: EvalError::Malformed("rule index"), at: None };
            };
            let mut winner: Option<(&Candidate, u8)> = None;
            let mut first_true: Option<(&Candidate, &'static str)> = None;
            let mut conflict = false;
            while let Some(c) = cands.get(i) {
                let Some(rule) = self.rule(c) else {
                    return Verdict::Error { candidate: c, error: EvalError::Malformed("rule index"), at: None };
                };
                if rule.priority != priority {
                    break;
                }
                i = next(i + 1);
                match self.condition(vm, c, req) {
                    Err(error) => return Verdict::Error { candidate: c, error, at: vm.fault() },
                    Ok(Truth::False) => {}
                    Ok(Truth::Unknown(m)) => {
                        pending |= m;
                        first_unknown.get_or_insert(c);
                    }
                    Ok(Truth::True) => {
                        let rank = rule.decision.rank();
                        if winner.is_none_or(|(_, best)| rank > best) {
                            winner = Some((c, rank));
                        }
                        match first_true {
                            None => first_true = Some((c, rule.decision.name())),
                            Some((_, name)) if name != rule.decision.name() => conflict = true,
                            Some(_) => {}
                        }
                    }
                }
            }
            if let Some((w, _)) = winner {
                if let (true, Some(first)) = (pending != 0, first_unknown) {
                    let needing = self.needing_rule(vm, req, cands.get(..i).unwrap_or(&[]), pending);
                    return Verdict::EvidenceDefer { first, mask: pending, needing };
                }
                if conflict && settings.conflict == ConflictMode::Defer {
                    if let Some((first, _)) = first_true {
                        return Verdict::Conflict { first, priority };
                    }
                }
                let low = match (settings.min_confidence, self.rule(w).and_then(|r| r.confidence)) {
                    (Some(min), Some(c)) => c < min,
                    _ => false,
                };
                return if low { Verdict::LowConfidence(w) } else { Verdict::Rule(w) };
            }
        }
        match first_unknown {
            Some(first) if pending != 0 => {
                Verdict::EvidenceDefer { first, mask: pending, needing: self.needing_rule(vm, req, cands, pending) }
            }
            _ => Verdict::Default,
        }
    }

    /// "The evidence's rule": the first walked candidate whose condition is not `false` and whose
    /// explicit `defer` block needs one of the pending facts. Only on the deferral path, so
    /// evaluating the conditions again costs nothing on the hot path.
    fn needing_rule<'a>(
        &'a self,
        vm: &mut Vm,
        req: &Request,
        walked: &'a [Candidate],
        pending: EvidenceMask,
    ) -> Option<&'a Candidate> {
        walked.iter().find(|c| {
            let needs_pending = match self.rule(c).map(|r| &r.decision) {
                Some(DecisionTemplate::Defer(d)) => {
                    d.need.iter().any(|n| 1u128.checked_shl(u32::from(*n)).is_some_and(|bit| pending & bit != 0))
                }
                _ => false,
            };
            needs_pending && !matches!(self.condition(vm, c, req), Ok(Truth::False) | Err(_))
        })
    }

    /// Evaluates and materializes the decision.
    pub fn decide(&self, req: &Request) -> Decision {
        let mut vm = Vm::new();
        let verdict = self.evaluate(req, &mut vm);
        self.materialize(req, &verdict, &mut vm)
    }

    /// Converts and decides; invalid input is a `deny` with reason `input.invalid`.
    pub fn decide_json(&self, json: &str, now: i64) -> Decision {
        match self.convert(json, now) {
            Ok(req) => self.decide(&req),
            Err(e) => self.input_invalid(&e, now),
        }
    }

    /// [`Engine::decide_json`] for a request a host already holds as a JSON value (a Python
    /// `dict` or a JavaScript object converted without text in between). The host's own
    /// conversion must refuse what text would: numbers that are not exact, keys that repeat.
    pub fn decide_value(&self, json: &serde_json::Value, now: i64) -> Decision {
        match convert::convert_value(&self.program.schema, json, now, &self.limits) {
            Ok(req) => self.decide(&req),
            Err(e) => self.input_invalid(&e, now),
        }
    }

    /// Reads a request's bytes (UTF-8, size, depth, repeated keys) for a host that edits it
    /// before deciding it with [`Engine::decide_read`]; see [`convert::ReadRequest`].
    pub fn read(&self, body: &[u8]) -> Result<convert::ReadRequest, InputError> {
        convert::read_request(crate::json::utf8(body)?, &self.limits)
    }

    /// [`Engine::decide_json`] for a request read by [`Engine::read`] and edited since: a
    /// `Decimal` whose digits the reading rounded is refused (`input.invalid`) as the text path
    /// refuses it, never decided on rounded.
    pub fn decide_read(&self, read: &convert::ReadRequest, now: i64) -> Decision {
        match convert::convert_read(&self.program.schema, read, now, &self.limits) {
            Ok(req) => self.decide(&req),
            Err(e) => self.input_invalid(&e, now),
        }
    }

    /// The `input.invalid` deny of a request that could not be read, decided at `now`.
    /// The message never quotes a value inside a field marked `@redact` (receipts record it).
    pub fn input_invalid(&self, error: &InputError, now: i64) -> Decision {
        let message = if self.program.settings.redact.covers_input_path(&error.path) {
            format!(
                "{}: the value does not have the declared type (not shown: the field is marked @redact)",
                error.path
            )
        } else {
            error.to_string()
        };
        Decision::fail_closed(codes::INPUT_INVALID, message, self.default_policy())
            .timed(now, None)
            .for_review(self.program.settings.review.clone())
    }

    /// Every candidate of the request with its condition's value, in the order the engine walks
    /// them (for `aarm eval --explain`).
    pub fn explain(&self, req: &Request) -> Vec<Tried> {
        let mut vm = Vm::new();
        self.candidates(req)
            .iter()
            .filter_map(|c| {
                let rule = self.rule(c)?;
                let condition = match self.condition(&mut vm, c, req) {
                    Ok(Truth::True) => "true".to_string(),
                    Ok(Truth::False) => "false".to_string(),
                    Ok(Truth::Unknown(m)) => format!("unknown({})", self.evidence_names(m).join(", ")),
                    Err(e) => format!("error: {e}"),
                };
                Some(Tried {
                    rule: rule.qualified_name.to_string(),
                    priority: rule.priority,
                    condition,
                    location: rule.location.clone(),
                })
            })
            .collect()
    }

    /// The declared evidence facts in `mask`, in declaration order.
    fn evidence_in(&self, mask: EvidenceMask) -> impl Iterator<Item = &crate::schema::EvidenceSchema> {
        self.program
            .schema
            .evidence
            .iter()
            .enumerate()
            .filter(move |(i, _)| {
                u32::try_from(*i).ok().and_then(|i| 1u128.checked_shl(i)).is_some_and(|b| mask & b != 0)
            })
            .map(|(_, e)| e)
    }

    fn evidence_names(&self, mask: EvidenceMask) -> Vec<String> {
        self.evidence_in(mask).map(|e| e.name.clone()).collect()
    }

    fn policy_ref(&self, index: u32) -> &PolicyRef {
        self.policy_refs.get(index as usize).unwrap_or(&self.default_policy)
    }

    /// The policy reported for decisions no rule made: the bundle's first policy.
    pub fn default_policy(&self) -> PolicyRef {
        self.default_policy.clone()
    }

    /// Turns a verdict into the decision hosts see (`assemble.rs`).
    pub fn materialize(&self, req: &Request, verdict: &Verdict<'_>, vm: &mut Vm) -> Decision {
        assemble::assemble(&mut Assembly { engine: self, req, vm }, req, verdict)
    }

    fn render_reason(&self, rule: &RuleMeta, c: &Candidate, req: &Request, vm: &mut Vm) -> Result<String, EvalError> {
        // Most reasons are one text: copied at its size, not grown into.
        if let [ReasonPart::Text(t)] = rule.reason.as_slice() {
            return Ok(t.to_string());
        }
        let mut out = String::new();
        for part in &rule.reason {
            match part {
                ReasonPart::Text(t) => out.push_str(t),
                ReasonPart::Expr(i) => {
                    let chunk_index = c.reason_chunks.get(*i as usize).ok_or(EvalError::Malformed("reason part"))?;
                    let v = vm.run(&self.tables(), self.chunk(*chunk_index)?, req)?;
                    out.push_str(&v.display());
                }
            }
        }
        Ok(out)
    }

    fn assignments(&self, c: &Candidate, req: &Request, vm: &mut Vm) -> Result<Vec<Assigned>, EvalError> {
        let tool = req
            .tool_index
            .and_then(|i| self.program.schema.tools.get(i))
            .ok_or(EvalError::Malformed("modify of an undeclared tool"))?;
        let mut out = Vec::with_capacity(c.assignments.len());
        for (slot, chunk_index) in &c.assignments {
            let value = vm.run(&self.tables(), self.chunk(*chunk_index)?, req)?;
            let field = tool.fields.get(usize::from(*slot)).ok_or(EvalError::Malformed("modify slot"))?;
            out.push(Assigned { field: field.name.to_string(), ty: field.ty.clone(), value });
        }
        Ok(out)
    }

    fn needs(&self, mask: EvidenceMask) -> Vec<Need> {
        self.evidence_in(mask)
            .map(|e| Need { name: e.name.clone(), ty: e.ty.to_string(), source: e.source.clone() })
            .collect()
    }
}

/// The engine's side of decision assembly: one request, one VM.
struct Assembly<'e, 'r, 'v> {
    engine: &'e Engine,
    req: &'r Request,
    vm: &'v mut Vm,
}

impl<'e> Resolved for Assembly<'e, '_, '_> {
    type Rule = &'e Candidate;
    type Modify = ();
    type Evidence = u16;

    fn rule(&self, c: &'e Candidate) -> Option<RuleFacts<'_, (), u16>> {
        let rule = self.engine.rule(c)?;
        Some(RuleFacts {
            qualified_name: Cow::Borrowed(&rule.qualified_name),
            policy: Cow::Borrowed(self.engine.policy_ref(rule.policy)),
            risk: rule.risk,
            confidence: rule.confidence,
            reason_code: Cow::Borrowed(&rule.reason_code),
            decision: &rule.decision,
            valid_s: rule.valid_s,
        })
    }

    fn default_policy(&self) -> PolicyRef {
        self.engine.default_policy()
    }

    fn default_effect(&self) -> DefaultEffect {
        self.engine.program.settings.default
    }

    fn min_confidence(&self) -> Option<i64> {
        self.engine.program.settings.min_confidence
    }
    fn allow_valid(&self) -> Option<i64> {
        self.engine.program.settings.allow_valid_s
    }
    fn review(&self) -> Option<String> {
        self.engine.program.settings.review.clone()
    }
    fn redaction(&self) -> &crate::redact::Redaction {
        &self.engine.program.settings.redact
    }

    fn sorted_fields(&self, tool_index: usize) -> Option<&Arc<[Arc<str>]>> {
        self.engine.sorted_fields.get(tool_index)
    }

    fn settings_limits(&self) -> DeferObligation {
        DeferObligation::limits(&self.engine.program.settings.defer_limits::<u16>())
    }

    fn needs(&self, mask: EvidenceMask) -> Vec<Need> {
        self.engine.needs(mask)
    }

    fn need_mask(&self, need: &[u16]) -> Result<EvidenceMask, EvalError> {
        Ok(need.iter().filter_map(|n| 1u128.checked_shl(u32::from(*n))).fold(0, |mask, bit| mask | bit))
    }

    fn render_reason(&mut self, c: &'e Candidate) -> Result<String, EvalError> {
        let rule = self.engine.rule(c).ok_or(EvalError::Malformed("rule index"))?;
        self.engine.render_reason(rule, c, self.req, self.vm)
    }

    fn assignments(&mut self, c: &'e Candidate) -> Result<Vec<Assigned>, EvalError> {
        self.engine.assignments(c, self.req, self.vm)
    }

    fn locate(&self, at: u32) -> Option<ErrorLocation> {
        self.engine.program.spans.location(at)
    }

    // The failed chunk was the VM's last run: its fault is where.
    fn last_fault(&self) -> Option<u32> {
        self.vm.fault()
    }
}

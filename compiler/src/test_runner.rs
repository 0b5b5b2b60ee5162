//! `aarm test`: runs the `test` blocks of a bundle through the real pipeline — the compiled
//! program in a bundle, the engine, and the lifecycle with an in-memory store and a simulated
//! clock — never through a separate evaluator.
//!
//! Coverage: the rules the tests' decisions came from, and the branches of the rules' conditions
//! (see [`crate::coverage`]) the requests the engine decided took. The branches are recorded by
//! the reference interpreter deciding each of those requests again, beside the test, so that the
//! engine a host runs has no coverage instrumentation.

use crate::coverage::{Coverage, Outcome};
use crate::ir::{self, Bundle, Const, TestStepKind};
use aarm_cases::lifecycle::case::{Case, CaseState};
use aarm_cases::lifecycle::event::{Event, Rejection};
use aarm_cases::lifecycle::identity::NoIdentityService;
use aarm_cases::lifecycle::service::{Lifecycle, LifecycleError};
use aarm_cases::store::memory::MemoryStore;
use aarm_lang::SourceMap;
use aarm_runtime::decision::{Decision, Effect};
use aarm_runtime::engine::Engine;
use serde::Serialize;
use serde_json::{json, Map, Value};
use std::collections::BTreeSet;
use std::sync::Arc;

/// The simulated clock starts here unless a test's `context` gives `now`.
pub(crate) const DEFAULT_START: i64 = 1_795_514_400; // 2026-11-24T10:00:00Z

/// Why a test failed: the first step whose expectation did not hold, and what happened instead.
/// One per failed test: a test stops at its first failing step.
#[derive(Debug, Clone, Serialize)]
pub struct Failure {
    /// 1-based index of the step that did not hold (0 when the bundle itself failed to load).
    pub step: usize,
    /// 1-based source line of that step, so the report can point at it.
    pub line: usize,
    /// What the step expected, in the test's own terms (`deny rule p.r`, `pending`,
    /// `receipts [...]`, …).
    pub expected: String,
    /// What the engine and the lifecycle produced instead: in the same terms where there is a
    /// result to compare, otherwise a sentence (`nothing evaluated`).
    pub actual: String,
}

/// The outcome of one `test` block.
#[derive(Debug, Clone, Serialize)]
pub struct TestResult {
    /// The test's name as declared.
    pub name: String,
    /// The file that declares it, as the source map names it.
    pub file: String,
    /// 1-based line where the `test` block starts.
    pub line: usize,
    pub(crate) passed: bool,
    /// `None` when every step held; otherwise the first step that did not.
    pub failure: Option<Failure>,
}

/// A condition (see [`crate::coverage`]) with a branch that no request the tests decided took.
#[derive(Debug, Clone, Serialize)]
pub struct BranchesNotTaken {
    /// The rule's qualified name.
    pub rule: String,
    /// The file the condition is in, as the source map names it.
    pub file: String,
    /// 1-based line where the condition starts.
    pub line: usize,
    /// 1-based column (in characters, not bytes) where the condition starts.
    pub column: usize,
    /// The condition's source text, its runs of white space made one space.
    pub condition: String,
    /// Its branches taken, in the order `true`, `false`, `unknown`.
    pub taken: Vec<Outcome>,
    /// Its branches no request took (never empty here), in the same order.
    pub not_taken: Vec<Outcome>,
}

/// What [`run`] found for one bundle: each selected test's result, and the rule and branch
/// coverage of the requests those tests decided. `aarm test` prints it as text, JSON or JUnit
/// XML; the JSON form is this struct serialized.
#[derive(Debug, Clone, Serialize)]
pub struct TestReport {
    /// One per test run, in source order.
    pub results: Vec<TestResult>,
    /// Qualified names of rules no test's decision came from.
    pub rules_not_reached: Vec<String>,
    /// How many rules some test's decision came from.
    pub rules_reached: usize,
    /// How many rules the bundle has.
    pub rules_total: usize,
    /// Branches of the rules' `when` conditions that the requests the tests decided took.
    pub branches_taken: usize,
    /// Branches the rules' `when` conditions have in all (see [`crate::coverage`]).
    pub branches_total: usize,
    /// The conditions with a branch not taken, in source order.
    pub branches_not_taken: Vec<BranchesNotTaken>,
}

impl TestReport {
    /// How many of the tests run passed.
    pub fn passed(&self) -> usize {
        self.results.iter().filter(|r| r.passed).count()
    }
    /// How many of the tests run failed (`results.len() - passed()`).
    pub fn failed(&self) -> usize {
        self.results.len() - self.passed()
    }
}

fn const_json(c: &Const) -> Value {
    match c {
        Const::Bool(b) => json!(b),
        Const::Int(i) => json!(i),
        Const::Decimal(d) => Value::String(aarm_runtime::value::format_decimal(*d)),
        Const::Str(s) => json!(s),
        Const::Duration(d) => json!(d),
        Const::Time(t) => Value::String(aarm_runtime::value::format_time(*t)),
        Const::List(items) => Value::Array(items.iter().map(const_json).collect()),
        Const::Record(fields) => Value::Object(fields.iter().map(|(k, v)| (k.clone(), const_json(v))).collect()),
    }
}

fn fields_json(fields: &[(String, Const)]) -> Map<String, Value> {
    fields.iter().map(|(k, v)| (k.clone(), const_json(v))).collect()
}

/// Runs the tests of `bundle` whose name contains `filter` (every test for `None`) against
/// `engine` (which must be the bundle's compiled program). Coverage counts the tests run.
pub fn run(
    bundle: &Bundle,
    engine: Arc<Engine>,
    bytes: &[u8],
    sources: &SourceMap,
    filter: Option<&str>,
) -> TestReport {
    let mut reached =
        Reached { bundle, engine: engine.clone(), rules: BTreeSet::new(), branches: Coverage::new(bundle) };
    let results = bundle
        .tests
        .iter()
        .filter(|t| filter.is_none_or(|f| t.name.contains(f)))
        .map(|t| run_one(bundle, t, &engine, bytes, sources, &mut reached))
        .collect();
    let rules_not_reached: Vec<String> =
        bundle.rules.iter().map(|r| r.qualified_name.clone()).filter(|n| !reached.rules.contains(n)).collect();
    let branches = &reached.branches;
    TestReport {
        results,
        rules_reached: bundle.rules.len().saturating_sub(rules_not_reached.len()),
        rules_not_reached,
        rules_total: bundle.rules.len(),
        branches_taken: branches.branches_taken(),
        branches_total: branches.branches_total(),
        branches_not_taken: not_taken(bundle, branches, sources),
    }
}

/// What the tests run so far reached: the rules decisions came from, and the branches of the
/// conditions the decided requests took.
struct Reached<'b> {
    bundle: &'b Bundle,
    engine: Arc<Engine>,
    rules: BTreeSet<String>,
    branches: Coverage,
}

impl Reached<'_> {
    /// The engine decided `request` (JSON text) at `now`: the interpreter decides it again,
    /// marking the branches it takes. A request the engine cannot convert reached no rule.
    fn decided(&mut self, request: &str, now: i64) {
        if let Ok(req) = self.engine.convert(request, now) {
            self.branches.decide(self.bundle, &req, self.engine.bundle_hash());
        }
    }
}

/// The conditions with a branch `coverage` has not seen taken, with where they are.
fn not_taken(bundle: &Bundle, coverage: &Coverage, sources: &SourceMap) -> Vec<BranchesNotTaken> {
    let mut out = Vec::new();
    for (id, c) in coverage.conditions().iter().enumerate() {
        let (taken, not_taken): (Vec<Outcome>, Vec<Outcome>) = c.branches().partition(|o| coverage.taken(id, *o));
        if not_taken.is_empty() {
            continue;
        }
        let file = sources.get(c.loc.file);
        let (line, column) = file.map(|f| f.line_col(c.loc.span.start)).unwrap_or((0, 0));
        out.push(BranchesNotTaken {
            rule: bundle.rule(c.rule).map(|r| r.qualified_name.clone()).unwrap_or_default(),
            file: file.map(|f| f.name.clone()).unwrap_or_default(),
            line,
            column,
            condition: file
                .map(|f| f.slice(c.loc.span).split_whitespace().collect::<Vec<_>>().join(" "))
                .unwrap_or_default(),
            taken,
            not_taken,
        });
    }
    out
}

/// What a test has done so far.
struct Run {
    lifecycle: Lifecycle<MemoryStore>,
    hash: String,
    request: Map<String, Value>,
    now: i64,
    decision: Option<Decision>,
    case: Option<Case>,
    last_rejection: Option<Option<Rejection>>,
}

impl Run {
    /// Adds `items` to the request's `identity`, `context` or `evidence` object.
    fn extend_section(&mut self, key: &str, items: impl IntoIterator<Item = (String, Value)>) {
        let mut section = match self.request.remove(key) {
            Some(Value::Object(m)) => m,
            _ => Map::new(),
        };
        section.extend(items);
        self.request.insert(key.to_string(), Value::Object(section));
    }

    /// Evaluates the request at the first step that needs a decision.
    fn ensure_decided(&mut self, reached: &mut Reached) -> Result<(), String> {
        if self.decision.is_some() {
            return Ok(());
        }
        if !self.request.contains_key("action") {
            return Err("no `action` step before this one".into());
        }
        let text = Value::Object(self.request.clone()).to_string();
        let submitted = self.lifecycle.submit(&self.hash, &text, self.now).map_err(|e| e.to_string())?;
        reached.decided(&text, self.now);
        if let Some(r) = &submitted.decision.rule {
            reached.rules.insert(r.to_string());
        }
        self.decision = Some(submitted.decision);
        self.case = submitted.case;
        Ok(())
    }

    fn event(&mut self, event: Event, reached: &mut Reached) -> Result<(), String> {
        self.ensure_decided(reached)?;
        let Some(case) = &self.case else {
            return Err(format!("no case is open to `{}` (the decision was final)", event.name()));
        };
        let id = case.id.clone();
        match self.lifecycle.apply(&id, &event, self.now, None) {
            Ok((c, receipts)) => {
                // Evidence that arrived while the case waited for it: the engine decided the
                // case's request again, now carrying the evidence.
                if receipts.iter().any(|r| r.body.event == "provide" && r.body.detail.get("reevaluated").is_some()) {
                    reached.decided(&c.request.to_string(), self.now);
                }
                note_rules(&c, &mut reached.rules);
                self.case = Some(c);
                self.last_rejection = Some(None);
            }
            Err(LifecycleError::Rejected(r)) => {
                if let Ok(Some(c)) = aarm_cases::store::CaseStore::get(self.lifecycle.store(), &id) {
                    self.case = Some(c);
                }
                self.last_rejection = Some(Some(r));
            }
            Err(e) => return Err(e.to_string()),
        }
        Ok(())
    }
}

/// The parameters of the rewritten action the test's decision (or its case's outcome) carries.
fn modified_params(run: &Run) -> Option<Map<String, Value>> {
    let decision = match (&run.case, &run.decision) {
        (Some(c), _) => c.outcome.as_ref().unwrap_or(&c.decision),
        (None, Some(d)) => d,
        (None, None) => return None,
    };
    decision.modified_action.as_ref().map(|a| a.params.clone())
}

/// Whether a decision's JSON value is the test's constant: numbers by value (a `Decimal` may be
/// a JSON number or its exact decimal text), records by the fields the test names.
fn const_matches(want: &Const, got: &Value) -> bool {
    match (want, got) {
        (Const::Int(_) | Const::Decimal(_), Value::Number(_) | Value::String(_)) => {
            let text = match got {
                Value::String(s) => s.clone(),
                other => other.to_string(),
            };
            let want_text = match want {
                Const::Int(i) => i.to_string(),
                _ => match const_json(want) {
                    Value::String(s) => s,
                    other => other.to_string(),
                },
            };
            same_number(&want_text, &text)
        }
        (Const::List(items), Value::Array(got)) => {
            items.len() == got.len() && items.iter().zip(got).all(|(w, g)| const_matches(w, g))
        }
        (Const::Record(fields), Value::Object(got)) => {
            fields.iter().all(|(k, w)| got.get(k).is_some_and(|g| const_matches(w, g)))
        }
        _ => const_json(want) == *got,
    }
}

/// Two decimal texts name the same number (`2`, `2.0` and `2.00` do).
fn same_number(a: &str, b: &str) -> bool {
    fn norm(s: &str) -> String {
        let s = s.trim();
        let (neg, digits) = match s.strip_prefix('-') {
            Some(rest) => (true, rest),
            None => (false, s),
        };
        let (int, frac) = digits.split_once('.').unwrap_or((digits, ""));
        let int = int.trim_start_matches('0');
        let frac = frac.trim_end_matches('0');
        let body =
            format!("{}{}{}", if int.is_empty() { "0" } else { int }, if frac.is_empty() { "" } else { "." }, frac);
        if neg && body != "0" {
            format!("-{body}")
        } else {
            body
        }
    }
    norm(a) == norm(b)
}

fn note_rules(c: &Case, reached: &mut BTreeSet<String>) {
    for d in [Some(&c.decision), c.outcome.as_ref()].into_iter().flatten() {
        if let Some(r) = &d.rule {
            reached.insert(r.to_string());
        }
    }
}

fn describe(run: &Run) -> String {
    match (&run.case, &run.decision) {
        (Some(c), _) if !c.state.is_resolved() => format!(
            "{} (case {}, rule {}, reason {})",
            c.decision.decision.as_str(),
            c.state.as_str(),
            c.decision.rule.as_deref().unwrap_or("none"),
            c.decision.reason.code
        ),
        (Some(c), _) => {
            let outcome = c.outcome.as_ref();
            format!(
                "{} (case {}, rule {}, reason {})",
                outcome.map(|o| o.decision.as_str()).unwrap_or("?"),
                c.state.as_str(),
                outcome.and_then(|o| o.rule.as_deref()).unwrap_or("none"),
                c.resolution.as_ref().map(|r| &*r.code).unwrap_or("?")
            )
        }
        (None, Some(d)) => {
            format!("{} (rule {}, reason {})", d.decision.as_str(), d.rule.as_deref().unwrap_or("none"), d.reason.code)
        }
        (None, None) => "nothing evaluated yet".into(),
    }
}

fn run_one(
    bundle: &Bundle,
    test: &ir::Test,
    engine: &Arc<Engine>,
    bytes: &[u8],
    sources: &SourceMap,
    reached: &mut Reached,
) -> TestResult {
    let (file, line) = match sources.get(test.loc.file) {
        Some(f) => (f.name.clone(), f.line_col(test.loc.span.start).0),
        None => (String::new(), 0),
    };
    let mut lifecycle = Lifecycle::new(MemoryStore::new(), Box::new(NoIdentityService));
    let setup = lifecycle.add_engine(engine.clone(), Some(bytes));
    let mut run = Run {
        lifecycle,
        hash: engine.bundle_hash().to_string(),
        request: Map::new(),
        now: DEFAULT_START,
        decision: None,
        case: None,
        last_rejection: None,
    };
    let fail = |step: usize, loc: ir::Loc, expected: String, actual: String| {
        let line = sources.get(loc.file).map(|f| f.line_col(loc.span.start).0).unwrap_or(0);
        TestResult {
            name: test.name.clone(),
            file: file.clone(),
            line,
            passed: false,
            failure: Some(Failure { step, line, expected, actual }),
        }
    };
    if let Err(e) = setup {
        return fail(0, test.loc, "the bundle to load".into(), e.to_string());
    }
    for (i, step) in test.steps.iter().enumerate() {
        let n = i + 1;
        let outcome: Result<(), (String, String)> = (|| {
            match &step.kind {
                TestStepKind::Action { tool_name, operation, params, .. } => {
                    run.request.insert(
                        "action".into(),
                        json!({ "tool": tool_name, "operation": operation, "params": fields_json(params) }),
                    );
                }
                TestStepKind::Identity(fields) => run.extend_section("identity", fields_json(fields)),
                TestStepKind::Context(fields) => {
                    for (k, v) in fields {
                        if let (true, Const::Time(t)) = (k == "now", v) {
                            run.now = *t;
                        }
                    }
                    run.extend_section("context", fields_json(fields));
                }
                TestStepKind::Evidence(facts) => {
                    let named: Vec<(String, Value)> = facts
                        .iter()
                        .filter_map(|(id, v)| bundle.evidence.get(id.index()).map(|e| (e.name.clone(), const_json(v))))
                        .collect();
                    run.extend_section("evidence", named);
                }
                TestStepKind::Approve { by, roles } => run
                    .event(
                        Event::Approve { by: by.clone(), roles: roles.clone(), until: None, max: Default::default() },
                        reached,
                    )
                    .map_err(|e| ("the approval to apply".into(), e))?,
                TestStepKind::Deny { by, why, roles } => run
                    .event(Event::Deny { by: by.clone(), why: why.clone(), roles: roles.clone() }, reached)
                    .map_err(|e| ("the denial to apply".into(), e))?,
                TestStepKind::Provide { evidence, value } => {
                    let name = bundle.evidence.get(evidence.index()).map(|e| e.name.clone()).unwrap_or_default();
                    run.event(Event::Provide { name, value: const_json(value), by: None }, reached)
                        .map_err(|e| ("the evidence to apply".into(), e))?
                }
                TestStepKind::Cancel => run
                    .event(Event::Cancel { by: None }, reached)
                    .map_err(|e| ("the cancellation to apply".into(), e))?,
                TestStepKind::Wait { seconds } => {
                    run.ensure_decided(reached).map_err(|e| ("a request to wait on".into(), e))?;
                    run.now = run.now.saturating_add(*seconds);
                    if run.case.as_ref().is_some_and(|c| !c.state.is_resolved()) {
                        run.event(Event::Tick, reached).map_err(|e| ("the clock to move".into(), e))?;
                    }
                }
                TestStepKind::ExpectPending => {
                    run.ensure_decided(reached).map_err(|e| ("pending".into(), e))?;
                    if run.case.as_ref().is_none_or(|c| c.state.is_resolved()) {
                        return Err(("pending".into(), describe(&run)));
                    }
                }
                TestStepKind::ExpectRejected(why) => match &run.last_rejection {
                    Some(Some(r)) if r.as_str() == why => {}
                    Some(Some(r)) => {
                        return Err((format!("rejected \"{why}\""), format!("rejected \"{}\"", r.as_str())))
                    }
                    Some(None) => return Err((format!("rejected \"{why}\""), "the event was accepted".into())),
                    None => return Err((format!("rejected \"{why}\""), "no event before this step".into())),
                },
                TestStepKind::ExpectCancelled => {
                    run.ensure_decided(reached).map_err(|e| ("cancel".into(), e))?;
                    if !run.case.as_ref().is_some_and(|c| c.state == CaseState::Cancelled) {
                        return Err(("cancel (the case withdrawn)".into(), describe(&run)));
                    }
                }
                TestStepKind::ExpectReceipts(want) => {
                    let expected = format!("receipts [{}]", want.join(", "));
                    run.ensure_decided(reached).map_err(|e| (expected.clone(), e))?;
                    let trail = aarm_cases::store::CaseStore::receipts(run.lifecycle.store(), None)
                        .map_err(|e| (expected.clone(), e.to_string()))?;
                    let got: Vec<&str> = trail.iter().map(|r| r.body.event.as_str()).collect();
                    if got != *want {
                        return Err((expected, format!("receipts [{}]", got.join(", "))));
                    }
                }
                TestStepKind::ExpectDecision { decision, params, rule, reason } => {
                    let expected = {
                        let mut s = decision.to_string();
                        if let Some(p) = params {
                            s.push_str(&format!(" {}", Value::Object(fields_json(p))));
                        }
                        if let Some(r) = rule.and_then(|r| bundle.rule(r)) {
                            s.push_str(&format!(" rule {}", r.qualified_name));
                        }
                        if let Some(code) = reason {
                            s.push_str(&format!(" reason \"{code}\""));
                        }
                        s
                    };
                    run.ensure_decided(reached).map_err(|e| (expected.clone(), e))?;
                    let (effect, rule_name, code): (Effect, Option<String>, String) = match (&run.case, &run.decision) {
                        (Some(c), _) if !c.state.is_resolved() => (
                            c.decision.decision,
                            c.decision.rule.as_deref().map(str::to_string),
                            c.decision.reason.code.to_string(),
                        ),
                        (Some(c), _) => {
                            let o = c.outcome.as_ref();
                            let effect = match c.state {
                                CaseState::Allowed => Effect::Allow,
                                CaseState::Modified => Effect::Modify,
                                _ => Effect::Deny,
                            };
                            (
                                effect,
                                o.and_then(|o| o.rule.as_deref().map(str::to_string)),
                                c.resolution.as_ref().map(|r| r.code.to_string()).unwrap_or_default(),
                            )
                        }
                        (None, Some(d)) => {
                            (d.decision, d.rule.as_deref().map(str::to_string), d.reason.code.to_string())
                        }
                        (None, None) => return Err((expected, "nothing evaluated".into())),
                    };
                    let rule_ok = rule
                        .and_then(|r| bundle.rule(r))
                        .is_none_or(|r| rule_name.as_deref() == Some(r.qualified_name.as_str()));
                    let reason_ok = reason.as_ref().is_none_or(|c| *c == code);
                    if effect.as_str() != *decision || !rule_ok || !reason_ok {
                        return Err((expected, describe(&run)));
                    }
                    if let Some(want) = params {
                        let rewritten = modified_params(&run);
                        let holds = rewritten.as_ref().is_some_and(|got| {
                            want.iter().all(|(k, v)| got.get(k).is_some_and(|g| const_matches(v, g)))
                        });
                        if !holds {
                            let got = rewritten.map(Value::Object).unwrap_or(Value::Null);
                            return Err((expected, format!("modify {got}")));
                        }
                    }
                }
            }
            Ok(())
        })();
        if let Err((expected, actual)) = outcome {
            return fail(n, step.loc, expected, actual);
        }
    }
    TestResult { name: test.name.clone(), file, line, passed: true, failure: None }
}

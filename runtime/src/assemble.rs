//! Decision assembly: from how a request was resolved (a [`Verdict`]) to the [`Decision`] hosts
//! see — the reason rendered, the obligations built, the modified action written. Written once,
//! for the engine and for the compiler's reference interpreter: each resolves the request its own
//! way (that is what the differential tests compare) and hands the result here through
//! [`Resolved`].

use crate::convert::typed_value_to_json;
use crate::decision::{
    codes, confidence, format_confidence, ActionOut, Decision, DeferObligation, Effect, Need, PolicyRef, Reason,
    StepUpObligation,
};
use crate::ops::EvalError;
use crate::policy::{DefaultEffect, Risk, RuleDecision};
use crate::record::{schema_default, Scope};
use crate::recurring::{recurring, recurring_scope};
use crate::request::{Params, Request};
use crate::schema::ValueType;
use crate::spans::ErrorLocation;
use crate::value::{EvidenceMask, Value};
use std::borrow::Cow;
use std::sync::Arc;

/// How a request was decided. `R` names a rule the way the resolver does (the engine: a borrowed
/// candidate; the interpreter: an index).
#[derive(Debug, Clone)]
pub enum Verdict<R> {
    /// A rule matched and decides.
    Rule(R),
    /// A rule that might match depends on evidence the request does not carry. `needing` is the
    /// evidence's rule (a walked rule whose `defer` block needs one of the facts), if any: the
    /// deferral is then that rule's own.
    EvidenceDefer {
        /// The first rule walked that might match.
        first: R,
        /// The evidence facts the undecided rules depend on.
        mask: EvidenceMask,
        /// The rule whose own `defer` block applies, if any (see above).
        needing: Option<R>,
    },
    /// Equal-priority rules disagree under `conflict defer`.
    Conflict {
        /// The first matching rule of the level: the decision names it and its policy.
        first: R,
        /// The priority level at which they disagree.
        priority: i64,
    },
    /// The winner's confidence is below `min_confidence`.
    LowConfidence(R),
    /// No rule matched.
    Default,
    /// Evaluating a rule failed: deny. `at` is the span (`spans.rs`) of the instruction that
    /// failed, when known.
    Error {
        /// The rule whose evaluation failed.
        candidate: R,
        /// Why it failed.
        error: EvalError,
        /// The span of the failing instruction, when known.
        at: Option<u32>,
    },
}

/// The facts of one rule a decision shows.
#[derive(Debug, Clone)]
pub struct RuleFacts<'a, M, E> {
    /// `POLICY.rule`, the decision's `rule`: borrowed from a resolver that keeps it shared
    /// (the engine), so a decision takes a reference count, not a copy.
    pub qualified_name: Cow<'a, Arc<str>>,
    /// The rule's policy, as the decision names it: borrowed from a resolver that keeps one per
    /// policy (the engine), so that asking for a rule's facts copies nothing.
    pub policy: Cow<'a, PolicyRef>,
    /// The rule's own `risk`, if any.
    pub risk: Option<Risk>,
    /// Ten-thousandths.
    pub confidence: Option<i64>,
    /// The code of its `reason` (`rule.NAME` when it has none), shared as the name is.
    pub reason_code: Cow<'a, Arc<str>>,
    /// What it decides.
    pub decision: &'a RuleDecision<M, E>,
    /// The rule's `valid` in seconds.
    pub valid_s: Option<i64>,
}

/// One `modify` assignment, evaluated: the field, its declared type, the new value.
pub struct Assigned {
    /// The parameter assigned, by name.
    pub field: String,
    /// Its declared type, which decides how the value is written as JSON.
    pub ty: ValueType,
    /// The value assigned; always known (an unknown one is an error before this).
    pub value: Value,
}

/// What the assembly asks of a resolver: the rules' facts, the settings, and the evaluation of a
/// rule's reason and `modify` values (which only the resolver can run).
pub trait Resolved {
    /// How the resolver names a rule (copied freely).
    type Rule: Copy;
    /// What a `modify` carries in the resolver's rules.
    type Modify;
    /// How the resolver names an evidence fact in a `defer` block.
    type Evidence;
    /// The facts of rule `r`; `None` when the resolver has no such rule (a corrupt bundle).
    fn rule(&self, r: Self::Rule) -> Option<RuleFacts<'_, Self::Modify, Self::Evidence>>;
    /// The policy of decisions no rule made: the bundle's first.
    fn default_policy(&self) -> PolicyRef;
    /// `settings { default }`.
    fn default_effect(&self) -> DefaultEffect;
    /// `settings { min_confidence }` in ten-thousandths.
    fn min_confidence(&self) -> Option<i64>;
    /// `settings { allow_valid }` in seconds.
    fn allow_valid(&self) -> Option<i64>;
    /// `settings { review }`.
    fn review(&self) -> Option<String>;
    /// The fields marked `@redact`.
    fn redaction(&self) -> &crate::redact::Redaction;
    /// The deferral limits of `settings`, for deferrals without a `defer` block of their own.
    fn settings_limits(&self) -> DeferObligation;
    /// The declared facts of `mask`, in declaration order.
    fn needs(&self, mask: EvidenceMask) -> Vec<Need>;
    /// The facts a `defer` block names, as a mask.
    fn need_mask(&self, need: &[Self::Evidence]) -> Result<EvidenceMask, EvalError>;
    /// The message of rule `r` with its interpolations rendered.
    fn render_reason(&mut self, r: Self::Rule) -> Result<String, EvalError>;
    /// The values rule `r`'s `modify` assigns.
    fn assignments(&mut self, r: Self::Rule) -> Result<Vec<Assigned>, EvalError>;
    /// Where span `at` is in the source (the bundle's span table); a resolver without one (the
    /// reference interpreter) knows no location.
    fn locate(&self, _at: u32) -> Option<ErrorLocation> {
        None
    }
    /// The span of the instruction whose failure the last `render_reason` or `assignments`
    /// returned.
    fn last_fault(&self) -> Option<u32> {
        None
    }
    /// The declared parameter names of tool `tool_index`, sorted, when the resolver keeps them
    /// (the engine does, from its load): a decision's scope shares them instead of copying the
    /// request's keys. `None`: the scope's names are copied.
    fn sorted_fields(&self, _tool_index: usize) -> Option<&Arc<[Arc<str>]>> {
        None
    }
}

/// The decision of `verdict` for `req`. A failure while rendering is the deciding rule's
/// `eval.error` deny: never an allow.
pub fn assemble<S: Resolved>(source: &mut S, req: &Request, verdict: &Verdict<S::Rule>) -> Decision {
    let head = match try_assemble(source, req, verdict) {
        Ok(head) => head,
        Err((r, e)) => {
            let at = source.last_fault();
            error_head(source, r, &e, at)
        }
    };
    let now = match req.context.now {
        Value::Time(t) => t,
        _ => 0,
    };
    let (evaluated_at, expires_at) = Decision::times(head.effect, now, valid_s(source, verdict), None);
    let params = scope_params(req, req.tool_index.and_then(|i| source.sorted_fields(i)));
    // Written once, in place: the record fields (see [`crate::record`]) follow from the request,
    // the rest from the head.
    Decision {
        schema: schema_default(),
        decision_id: None,
        request_id: req.request_id.as_deref().map(str::to_string),
        evaluated_at,
        expires_at,
        scope: Some(match params {
            // The declaration's names: a scope this thread may already hold.
            Cow::Borrowed(names) => recurring_scope(&req.tool, &req.operation, names),
            // Names made for this request: no kept scope can hold them, and keeping this one
            // would only hold a caller's key names (an undeclared tool's) in the table.
            Cow::Owned(names) => Scope::new(req.tool.clone(), req.operation.clone(), names),
        }),
        // Where to appeal: never for what the host may go ahead with.
        review: if head.effect.goes_ahead() { None } else { source.review() },
        decision: head.effect,
        rule: head.rule,
        reason: head.reason,
        policy: head.policy,
        risk: head.risk,
        confidence: head.confidence,
        step_up: head.step_up,
        defer: head.defer,
        modified_action: head.modified_action,
        error_at: head.error_at,
        redacted: source.redaction().paths_for(&req.tool),
        overrides: None,
        authority: None,
        limits: Default::default(),
        evidence_refs: Vec::new(),
    }
}

/// What a verdict decides: the decision without the record fields that follow from the request
/// (its time, scope, `request_id`) and without what only hosts add. About a third of a
/// [`Decision`]'s size (144 bytes against 400): the paths that build it move it a few times, and
/// the decision itself is then written once (issue 20).
struct Head {
    effect: Effect,
    rule: Option<Arc<str>>,
    reason: Reason,
    policy: PolicyRef,
    risk: Option<Cow<'static, str>>,
    confidence: Option<f64>,
    step_up: Option<Box<StepUpObligation>>,
    defer: Option<Box<DeferObligation>>,
    modified_action: Option<Box<ActionOut>>,
    error_at: Option<Box<ErrorLocation>>,
}

impl Head {
    /// A decision no rule made: `effect`, for the reason `code` with `message`.
    fn unruled(effect: Effect, code: Arc<str>, message: String, policy: PolicyRef) -> Head {
        Head {
            effect,
            rule: None,
            reason: Reason { code, message },
            policy,
            risk: None,
            confidence: None,
            step_up: None,
            defer: None,
            modified_action: None,
            error_at: None,
        }
    }

    /// A decision `rule` made, or that names it.
    fn of<M, E>(rule: &RuleFacts<'_, M, E>, effect: Effect, code: Arc<str>, message: String) -> Head {
        Head {
            rule: Some(Arc::clone(&rule.qualified_name)),
            risk: rule.risk.map(|r| Cow::Borrowed(r.as_str())),
            confidence: rule.confidence.map(confidence),
            ..Head::unruled(effect, code, message, rule.policy.clone().into_owned())
        }
    }
}

/// How long the decision of `verdict` may be acted on if it allows: the deciding rule's `valid`,
/// else `settings { allow_valid }`. Only a rule's own match allows under its `valid`.
fn valid_s<S: Resolved>(source: &S, verdict: &Verdict<S::Rule>) -> Option<i64> {
    let own = match verdict {
        Verdict::Rule(r) => source.rule(*r).and_then(|f| f.valid_s),
        _ => None,
    };
    own.or_else(|| source.allow_valid())
}

/// The names of `req`'s parameters, sorted: the scope's `params`. `declared` is the request's
/// tool's declared names, sorted, when the resolver keeps them: when every key is one of them
/// (always, for a converted request of a declared tool) the names are shared from it, all of it
/// when every declared name is given; otherwise they are copied from the keys.
pub(crate) fn scope_params<'a>(req: &Request, declared: Option<&'a Arc<[Arc<str>]>>) -> Cow<'a, Arc<[Arc<str>]>> {
    let keys = &req.params_json;
    if let Some(names) = declared {
        if let Some(shared) = by_address(keys, names) {
            return shared;
        }
        if keys.len() == names.len() && keys.keys().all(|k| names.binary_search_by(|n| (**n).cmp(k)).is_ok()) {
            // As many distinct keys as names, each one of them: the same set.
            return Cow::Borrowed(names);
        }
        let mut found: Vec<usize> = Vec::with_capacity(keys.len());
        for k in keys.keys() {
            match names.binary_search_by(|n| (**n).cmp(k)) {
                Ok(i) => found.push(i),
                Err(_) => {
                    found.clear();
                    break;
                }
            }
        }
        if found.len() == keys.len() {
            found.sort_unstable();
            return Cow::Owned(found.iter().filter_map(|&i| names.get(i).cloned()).collect());
        }
    }
    let mut params: Vec<&str> = keys.keys().collect();
    params.sort_unstable();
    Cow::Owned(params.into_iter().map(Arc::from).collect())
}

/// [`scope_params`] when every key is one of `names` by address (the reader gave each key the
/// declaration's own string, and the engine sorted the same strings): no comparison of text.
/// `None` when some key is not (another schema's request, a hand-built one) or the declaration is
/// too long for a scan per key; the caller then compares text.
fn by_address<'a>(keys: &Params, names: &'a Arc<[Arc<str>]>) -> Option<Cow<'a, Arc<[Arc<str>]>>> {
    const SCANNED: usize = 16;
    if names.len() > SCANNED || keys.len() > names.len() {
        return None;
    }
    let mut found = [false; SCANNED];
    for k in keys.shared_keys() {
        let i = names.iter().position(|n| Arc::ptr_eq(n, k))?;
        *found.get_mut(i)? = true;
    }
    if keys.len() == names.len() {
        // As many keys as names, each one of them and the keys distinct: all of them.
        return Some(Cow::Borrowed(names));
    }
    Some(Cow::Owned(names.iter().zip(found).filter(|(_, f)| *f).map(|(n, _)| Arc::clone(n)).collect()))
}

/// The `eval.error` deny of rule `r`, naming where it failed when `at` is known.
fn error_head<S: Resolved>(source: &S, r: S::Rule, e: &EvalError, at: Option<u32>) -> Head {
    let error_at = at.and_then(|i| source.locate(i));
    let place = error_at.as_ref().map(|l| format!(" at {l}")).unwrap_or_default();
    let code = recurring(codes::EVAL_ERROR);
    let mut head = match source.rule(r) {
        Some(rule) => {
            let message = format!("rule {} failed{place}: {e}", rule.qualified_name);
            Head::of(&rule, Effect::Deny, code, message)
        }
        None => Head::unruled(Effect::Deny, code, format!("rule  failed{place}: {e}"), source.default_policy()),
    };
    head.error_at = error_at.map(Box::new);
    head
}

/// A deferral's limits: the rule's own `defer` block, else `settings`.
fn limits<S: Resolved>(source: &S, decision: &RuleDecision<S::Modify, S::Evidence>) -> DeferObligation {
    match decision {
        RuleDecision::Defer(d) => DeferObligation::limits(d),
        _ => source.settings_limits(),
    }
}

fn try_assemble<S: Resolved>(
    source: &mut S,
    req: &Request,
    verdict: &Verdict<S::Rule>,
) -> Result<Head, (S::Rule, EvalError)> {
    let malformed = |r: S::Rule| (r, EvalError::Malformed("rule index"));
    Ok(match verdict {
        Verdict::Default => {
            let (effect, code) = match source.default_effect() {
                DefaultEffect::Allow => (Effect::Allow, codes::DEFAULT_ALLOW),
                DefaultEffect::Deny => (Effect::Deny, codes::DEFAULT_DENY),
            };
            Head::unruled(effect, recurring(code), "no rule matched".to_string(), source.default_policy())
        }
        Verdict::Error { candidate, error, at } => error_head(source, *candidate, error, *at),
        Verdict::EvidenceDefer { mask, needing: Some(r), .. } => {
            // The evidence's rule's own deferral: its reason, its limits, the pending facts.
            let message = source.render_reason(*r).map_err(|e| (*r, e))?;
            let rule = source.rule(*r).ok_or_else(|| malformed(*r))?;
            let mut d = Head::of(&rule, Effect::Defer, Arc::clone(&rule.reason_code), message);
            d.defer = Some(Box::new(DeferObligation { need: source.needs(*mask), ..limits(source, rule.decision) }));
            d
        }
        Verdict::EvidenceDefer { first, mask, needing: None } => {
            let rule = source.rule(*first).ok_or_else(|| malformed(*first))?;
            let need = source.needs(*mask);
            let names: Vec<&str> = need.iter().map(|n| n.name.as_str()).collect();
            let message = format!("waiting for evidence: {}", names.join(", "));
            let mut d = Head::of(&rule, Effect::Defer, recurring(codes::EVIDENCE_REQUIRED), message);
            // The first unknown rule's `defer` block, else `settings`.
            d.defer = Some(Box::new(DeferObligation { need, ..limits(source, rule.decision) }));
            d
        }
        Verdict::Conflict { first, priority } => {
            let rule = source.rule(*first).ok_or_else(|| malformed(*first))?;
            let mut d = Head::of(
                &rule,
                Effect::Defer,
                recurring(codes::CONFLICT),
                format!("rules of priority {priority} disagree"),
            );
            d.defer = Some(Box::new(source.settings_limits()));
            d
        }
        Verdict::LowConfidence(r) => {
            let rule = source.rule(*r).ok_or_else(|| malformed(*r))?;
            let message = format!(
                "confidence {} is below the minimum {}",
                format_confidence(rule.confidence.unwrap_or(0)),
                format_confidence(source.min_confidence().unwrap_or(0))
            );
            let mut d = Head::of(&rule, Effect::Defer, recurring(codes::LOW_CONFIDENCE), message);
            d.defer = Some(Box::new(source.settings_limits()));
            d
        }
        Verdict::Rule(r) => {
            let message = source.render_reason(*r).map_err(|e| (*r, e))?;
            let modified = match source.rule(*r).map(|f| f.decision) {
                Some(RuleDecision::Modify(_)) => {
                    let assigned = source.assignments(*r).map_err(|e| (*r, e))?;
                    Some(modified_action(req, assigned).map_err(|e| (*r, e))?)
                }
                _ => None,
            };
            let rule = source.rule(*r).ok_or_else(|| malformed(*r))?;
            let mut d = Head::of(&rule, rule.decision.effect(), Arc::clone(&rule.reason_code), message);
            match rule.decision {
                RuleDecision::StepUp(s) => {
                    let obligation = StepUpObligation::from(s);
                    if d.risk.is_none() {
                        d.risk = Some(Cow::Owned(obligation.risk.clone()));
                    }
                    d.step_up = Some(Box::new(obligation));
                }
                RuleDecision::Defer(block) => {
                    let mask = source.need_mask(&block.need).map_err(|e| (*r, e))?;
                    d.defer =
                        Some(Box::new(DeferObligation { need: source.needs(mask), ..DeferObligation::limits(block) }));
                }
                RuleDecision::Modify(_) => d.modified_action = modified.map(Box::new),
                RuleDecision::Allow | RuleDecision::Deny => {}
            }
            d
        }
    })
}

/// The request's action with `assigned` written into its params, each value as JSON of its
/// declared type (a record is an object).
fn modified_action(req: &Request, assigned: Vec<Assigned>) -> Result<ActionOut, EvalError> {
    // The params were read as JSON once already; if they no longer read, release nothing.
    let mut params =
        req.params_json.to_map().ok_or(EvalError::Unparsable("the request's params cannot be read again"))?;
    for a in assigned {
        if let Value::Unknown(_) = a.value {
            // A rewritten action must be definite: fail closed.
            return Err(EvalError::UnknownInModify);
        }
        params.insert(a.field, typed_value_to_json(&a.value, &a.ty));
    }
    Ok(ActionOut { tool: req.tool.to_string(), operation: req.operation.to_string(), params })
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]
mod tests {
    use super::*;
    use crate::request::Given;

    fn request(keys: &[&str]) -> Request {
        let params_json: serde_json::Map<_, _> =
            keys.iter().map(|k| (k.to_string(), serde_json::Value::Null)).collect();
        Request::for_tests(Vec::new(), params_json.into())
    }

    /// The scope's names are the request's keys sorted, whether shared from the declaration,
    /// picked from it, or copied: every subset of a declaration, and keys it does not have.
    #[test]
    fn scope_params_are_the_sorted_keys_however_they_are_found() {
        let declared: Arc<[Arc<str>]> = ["amount", "b", "dest", "zeta"].into_iter().map(Arc::from).collect();
        let pool = ["zeta", "amount", "dest", "b", "other", "Amount", ""];
        for mask in 0u32..(1 << pool.len()) {
            let keys: Vec<&str> =
                pool.iter().enumerate().filter(|(i, _)| mask >> i & 1 == 1).map(|(_, k)| *k).collect();
            let req = request(&keys);
            // The same keys, each the declaration's own string where it has one (as the reader
            // gives them), so that the scope finds them by address.
            let shared = Request::for_tests(
                Vec::new(),
                Params::from_text(
                    "null",
                    keys.iter()
                        .map(|k| {
                            let key = declared.iter().find(|n| &***n == *k).cloned().unwrap_or_else(|| Arc::from(*k));
                            (key, Given::Span(0, 4))
                        })
                        .collect(),
                ),
            );
            let mut expected: Vec<String> = keys.iter().map(|k| k.to_string()).collect();
            expected.sort();
            for (req, source) in [(&req, Some(&declared)), (&req, None), (&shared, Some(&declared)), (&shared, None)] {
                let got: Vec<String> = scope_params(req, source).iter().map(|n| n.to_string()).collect();
                assert_eq!(got, expected, "{keys:?}");
            }
        }
        let all = request(&["dest", "zeta", "b", "amount"]);
        assert!(Arc::ptr_eq(&scope_params(&all, Some(&declared)), &declared), "every name given: shared");
        let by_address =
            Params::from_text("null", declared.iter().rev().map(|n| (Arc::clone(n), Given::Span(0, 4))).collect());
        let all = Request::for_tests(Vec::new(), by_address);
        assert!(Arc::ptr_eq(&scope_params(&all, Some(&declared)), &declared), "found by address: shared");
    }
}

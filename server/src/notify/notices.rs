//! The case's notifications as the service queues them: the outbox, the address links point to,
//! and the key redacted values are shown under, with what a message says of the rule that asked.

use super::message::{question_channels, ApprovalContext, DeferralContext, Trigger};
use super::outbox::Outbox;
use aarm_cases::lifecycle::case::{Case, CaseState};
use aarm_cases::lifecycle::service::Lifecycle;
use aarm_cases::redact::RedactionKey;
use aarm_cases::store::any::AnyStore;

/// The outbox and what every message is built with.
#[derive(Debug)]
pub struct Notices {
    /// Deliveries to the configured channels (outbox.rs).
    pub outbox: Outbox,
    /// The service's address as links in messages show it (no trailing `/`).
    pub public_url: String,
    /// The key that redacted values are hashed with: derived from `--sign-key`, so that one
    /// deployment gives one value one digest (aarm_cases::redact).
    pub redaction: Option<RedactionKey>,
}

impl Notices {
    /// `case` as every message and every view but its agent's shows it: the fields marked
    /// `@redact` as their keyed hash.
    pub fn redacted(&self, case: &Case) -> Case {
        aarm_cases::redact::redacted_case(case, self.redaction.as_ref())
    }

    /// Queues the notifications the case's state calls for (idempotent: see outbox.rs).
    /// `question`: the facts the case asks its requesting human for now, if any.
    pub fn notify(&self, lc: &mut Lifecycle<AnyStore>, case: &Case, question: Option<Vec<String>>, now: i64) {
        if case.state == CaseState::PendingEvidence {
            if let Some(facts) = question {
                self.ask_requester(case, facts, now);
            }
        }
        if case.state != CaseState::PendingApproval {
            return;
        }
        let doc = rule_doc(lc, case);
        let deferral = deferral_context(lc, case);
        let mut triggers = vec![Trigger::ApprovalRequested];
        if case.escalated {
            triggers.push(Trigger::Escalated);
        }
        // What the channels send (and the outbox keeps) shows redacted fields as their keyed hash.
        let shown = self.redacted(case);
        for t in triggers {
            if let Err(e) = self.outbox.notify_case(&shown, t, &self.public_url, doc.clone(), deferral.clone(), now) {
                // The case is recorded; only its notification is late. Logged, never fatal.
                tracing::error!(case = %case.id, error = %e, "cannot queue notifications");
            }
        }
    }

    /// A deferral waiting for a fact from a `confirm` source asks its requesting human, once, on
    /// the channels its rule names ([`question_channels`]); the inbox lists the question too.
    fn ask_requester(&self, case: &Case, facts: Vec<String>, now: i64) {
        let channels = question_channels(case);
        if channels.is_empty() {
            return;
        }
        // Like every message, the question shows fields marked `@redact` as their keyed hash.
        let question = ApprovalContext::question(&self.redacted(case), &self.public_url, facts);
        if let Err(e) = self.outbox.enqueue(&question, &Trigger::ConfirmRequested.key(case), &channels, now) {
            // The case is recorded and the inbox lists the question; only its message is late.
            tracing::error!(case = %case.id, error = %e, "cannot queue the question to the requester");
        }
    }
}

/// The documentation of the rule that asked for approval (from the case's own bundle).
pub fn rule_doc(lc: &mut Lifecycle<AnyStore>, case: &Case) -> Option<String> {
    let rule = case.decision.rule.as_deref()?;
    let engine = lc.bundle(&case.bundle_hash).ok()?;
    engine.program().rules.iter().find(|r| &*r.qualified_name == rule).and_then(|r| r.doc.clone())
}

/// For a deferral escalated to people: the evidence its rule waited for and its attempts
/// limit, read from the case's bundle (the case itself no longer holds the deferral).
pub fn deferral_context(lc: &mut Lifecycle<AnyStore>, case: &Case) -> Option<DeferralContext> {
    use aarm_runtime::program::DecisionTemplate;
    if !case.escalated_from_defer {
        return None;
    }
    let engine = case.decision.rule.as_ref().and_then(|_| lc.bundle(&case.bundle_hash).ok());
    let program = engine.as_ref().map(|e| e.program());
    let defer = program.and_then(|p| {
        p.rules.iter().find(|r| case.decision.rule.as_deref() == Some(&*r.qualified_name)).and_then(|r| {
            match &r.decision {
                DecisionTemplate::Defer(d) => Some(d),
                _ => None,
            }
        })
    });
    let awaited = match (program, defer) {
        (Some(p), Some(d)) => {
            d.need.iter().filter_map(|i| p.schema.evidence.get(usize::from(*i)).map(|e| e.name.clone())).collect()
        }
        _ => Vec::new(),
    };
    Some(DeferralContext::new(case, awaited, defer.map(|d| d.max_attempts)))
}

//! What follows every change of a case the service commits, wherever it was committed (an API
//! call, the clock, an evidence round, the restart's recovery): the transition is counted and
//! traced, the case's next due time is remembered for the clock, and the notifications its state
//! calls for are queued.

use crate::access::text;
use crate::due::DueIndex;
use crate::notify::notices::Notices;
use crate::sources::Resolver;
use crate::telemetry::Telemetry;
use aarm_cases::lifecycle::case::{Case, CaseState};
use aarm_cases::lifecycle::receipt::Receipt;
use aarm_cases::lifecycle::service::Lifecycle;
use aarm_cases::store::any::AnyStore;
use std::sync::Arc;

/// The clock's index, and the parts every commit reports to.
#[derive(Debug)]
pub struct Committed {
    /// When each pending case is next due (the background clock's index).
    pub due: DueIndex,
    pub telemetry: Arc<Telemetry>,
    pub notices: Arc<Notices>,
    /// Which facts are a question to the requesting human (`confirm` sources).
    pub sources: Arc<Resolver>,
}

impl Committed {
    /// Counts and traces the receipts a transition of `case` committed ([`Telemetry::transitioned`]).
    pub fn transitioned(&self, case: &Case, receipts: &[Receipt]) {
        self.telemetry.transitioned(case, receipts);
    }

    /// What the service does with every case it sees committed: remember when it is next due (for
    /// the clock), and queue the notifications its state calls for.
    pub fn observed(&self, lc: &mut Lifecycle<AnyStore>, case: &Case, now: i64) {
        self.due.update(case);
        // Only a case waiting for evidence can have a question open.
        let question = (case.state == CaseState::PendingEvidence).then(|| self.open_question(case)).flatten();
        self.notices.notify(lc, case, question, now);
    }

    /// The facts `case` asks its requesting human for now; `None` when it asks nothing (it waits
    /// for no fact from a `confirm` source) or has nobody to ask (no `identity.human`).
    pub fn open_question(&self, case: &Case) -> Option<Vec<String>> {
        let facts = self.sources.confirm_facts(case);
        (!facts.is_empty() && !text(&case.identity, &["human"]).is_empty()).then_some(facts)
    }
}

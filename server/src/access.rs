//! Who the callers are and what they may do: the credentials (auth.rs), the approvers' roles
//! (identities.rs), each agent's sessions (sessions.rs), and the rules of who may see or act on
//! which case.

use crate::auth::{Authenticator, Principal};
use crate::config::Kind;
use crate::identities::Roles;
use crate::sessions::journal::Journal;
use crate::sessions::{Entry, Sessions};
use aarm_cases::lifecycle::case::{Case, Credential};
use aarm_cases::lifecycle::identity::same_identity;
use serde_json::Value;
use std::sync::{Arc, Mutex};
use tokio::sync::mpsc::UnboundedReceiver;

/// The session journal and its receiving end, until the service starts its writer.
type PendingJournal = (Journal, UnboundedReceiver<Entry>);

/// Credentials, roles and sessions.
pub struct Access {
    /// Bearer tokens and JWTs → a verified principal.
    pub auth: Authenticator,
    /// The roles `serve.toml` gives and those credentials asserted (shared with the lifecycle).
    pub roles: Arc<Roles>,
    /// Each agent's sessions, for `prior_actions`.
    pub sessions: Sessions,
    journal: Mutex<Option<PendingJournal>>,
    /// `[auth] credential_max_age_s`: how long a credential is taken to be valid at most.
    credential_max_age_s: Option<u64>,
}

impl std::fmt::Debug for Access {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Access").finish()
    }
}

impl Access {
    /// `journal`: the session journal and the receiving end of `sessions`, for the writer the
    /// service starts ([`Access::take_journal`]).
    pub fn new(
        auth: Authenticator,
        roles: Arc<Roles>,
        sessions: Sessions,
        journal: PendingJournal,
        credential_max_age_s: Option<u64>,
    ) -> Access {
        Access { auth, roles, sessions, journal: Mutex::new(Some(journal)), credential_max_age_s }
    }

    /// The session journal and its receiving end, once (the service starts its writer with them).
    pub(crate) fn take_journal(&self) -> Option<PendingJournal> {
        self.journal.lock().ok().and_then(|mut j| j.take())
    }

    /// Whether a role grants `p` authority: the roles its credential carries and those the
    /// configuration gives it.
    pub fn holds(&self, p: &Principal, role: &str) -> bool {
        p.roles.iter().any(|r| r == role) || self.roles.of(&p.id).iter().any(|r| r == role)
    }

    /// Whether `p` may act (approve or deny) on `case` at `now` ([`Case::eligible`]), with the
    /// roles its credential carries and those the configuration gives it.
    pub fn may_act(&self, case: &Case, p: &Principal, now: i64) -> bool {
        if p.kind != Kind::Approver {
            return false;
        }
        case.eligible(&p.id, |role| self.holds(p, role), now)
    }

    /// Whether `p` may read `case`: operators always; an agent its own cases; an approver the
    /// cases they may act on or that name them ([`Case::names`]).
    pub fn may_read(&self, case: &Case, p: &Principal, now: i64) -> bool {
        match p.kind {
            Kind::Admin => true,
            Kind::Agent => same_identity(text(&case.identity, &["agent"]), &p.id),
            Kind::Approver => self.may_act(case, p, now) || case.names(&p.id),
        }
    }

    /// The requester's credential as verified now: valid until the JWT's `exp` or the configured
    /// maximum age, whichever comes first; `None` when neither bounds it.
    pub fn credential(&self, p: &Principal, now: i64) -> Option<Credential> {
        let max_age = self.credential_max_age_s.map(|s| now.saturating_add_unsigned(s));
        let valid_until = match (p.valid_until, max_age) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }?;
        Some(Credential { holder: p.id.clone(), valid_until })
    }
}

/// The string at `path` in `v`; empty when there is none.
pub fn text<'a>(v: &'a Value, path: &[&str]) -> &'a str {
    let mut cur = v;
    for k in path {
        match cur.get(k) {
            Some(x) => cur = x,
            None => return "",
        }
    }
    cur.as_str().unwrap_or("")
}

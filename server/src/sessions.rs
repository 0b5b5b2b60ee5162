//! Session context accumulation (AARM R2): every action decided for an agent's session is
//! remembered, so that the next request of the session gets `context.prior_actions` filled in
//! without the host keeping that list itself.
//!
//! Sessions are keyed by the *authenticated* agent and the request's `identity.session`: one
//! agent cannot read or poison another agent's session by naming its session id.
//!
//! A history with actions missing would let a sequence policy ("no e-mail out after a PII
//! query") allow what it exists to deny, so nothing is ever dropped from a live session: memory
//! is bounded by refusing instead. A session holds at most [`MAX_ACTIONS`]; past that its
//! requests are denied ([`SessionError::HistoryFull`]). At most [`MAX_SESSIONS`] sessions are
//! kept; a new session beyond that is denied ([`SessionError::Capacity`]) until idle ones
//! expire. Only sessions idle for [`IDLE_S`] are forgotten, whole.
//!
//! Reads are served from memory; every recorded action is also sent to the [`journal`], which
//! appends it to the store's database in batches, so that a restart does not forget what a
//! session already did (a session that read PII before the restart still has). What a crash
//! may lose is the last batch (tens of milliseconds); a graceful shutdown flushes it.

pub mod journal;

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;
use tokio::sync::mpsc::UnboundedSender;

pub const MAX_ACTIONS: usize = 1000;
pub const MAX_SESSIONS: usize = 100_000;
pub const IDLE_S: i64 = 24 * 3600;

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct PriorAction {
    pub tool: String,
    pub decision: String,
}

#[derive(Debug, Default)]
struct Log {
    actions: VecDeque<PriorAction>,
    last_seen: i64,
    /// An action could not be kept (the history was at [`MAX_ACTIONS`]): the history is no
    /// longer complete, and the session's requests are denied from now on.
    overflowed: bool,
}

/// Why a session's history cannot be given: each is a deny for the request, never an empty list.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SessionError {
    #[error("session `{0}` has reached its limit of {MAX_ACTIONS} actions; start a new session")]
    HistoryFull(String),
    #[error("the service keeps at most {MAX_SESSIONS} sessions; session `{0}` cannot be started now")]
    Capacity(String),
    #[error("the session table is unavailable (a lock is poisoned)")]
    Poisoned,
}

impl SessionError {
    /// The reason code of the deny.
    pub fn code(&self) -> &'static str {
        match self {
            SessionError::HistoryFull(_) => "session.history_full",
            SessionError::Capacity(_) => "session.capacity",
            SessionError::Poisoned => "session.unavailable",
        }
    }
}

/// One recorded action, as the journal keeps it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    pub agent: String,
    pub session: String,
    pub action: PriorAction,
    pub at: i64,
}

#[derive(Debug, Default)]
pub struct Sessions {
    map: Mutex<HashMap<(String, String), Log>>,
    journal: Mutex<Option<UnboundedSender<Entry>>>,
}

impl Sessions {
    /// Sessions whose every new action is also sent to `journal`.
    pub fn journaled(journal: UnboundedSender<Entry>) -> Sessions {
        Sessions { map: Mutex::default(), journal: Mutex::new(Some(journal)) }
    }

    /// Puts back what the journal kept (oldest first), without journaling it again.
    pub fn restore(&self, entries: Vec<Entry>) {
        for e in entries {
            self.remember(&e.agent, &e.session, e.action, e.at);
        }
    }

    /// No more journaling: the journal writes what it has and stops (at shutdown, once no
    /// request can record anything any more).
    pub fn close(&self) {
        if let Ok(mut j) = self.journal.lock() {
            j.take();
        }
    }

    /// The session's actions so far, oldest first (empty for a session not seen yet). An error
    /// when the history is not complete or cannot be read: the caller must deny.
    pub fn prior(&self, agent: &str, session: &str) -> Result<Vec<PriorAction>, SessionError> {
        let map = self.map.lock().map_err(|_| SessionError::Poisoned)?;
        match map.get(&(agent.to_string(), session.to_string())) {
            Some(log) if log.overflowed || log.actions.len() >= MAX_ACTIONS => {
                Err(SessionError::HistoryFull(session.to_string()))
            }
            Some(log) => Ok(log.actions.iter().cloned().collect()),
            // Its first action could not be kept anyway.
            None if map.len() >= MAX_SESSIONS => Err(SessionError::Capacity(session.to_string())),
            None => Ok(Vec::new()),
        }
    }

    /// Remembers one decided action (and journals it).
    pub fn record(&self, agent: &str, session: &str, action: PriorAction, now: i64) {
        if let Ok(j) = self.journal.lock() {
            if let Some(tx) = j.as_ref() {
                let entry =
                    Entry { agent: agent.to_string(), session: session.to_string(), action: action.clone(), at: now };
                if tx.send(entry).is_err() {
                    tracing::warn!("session journal is closed: this action is kept in memory only");
                }
            }
        }
        self.remember(agent, session, action, now);
    }

    /// Keeps `action` unless a bound forbids it. What is not kept shows in [`Sessions::prior`]
    /// as an error (an overflowed or a missing session), never as a shorter history.
    fn remember(&self, agent: &str, session: &str, action: PriorAction, now: i64) {
        let Ok(mut map) = self.map.lock() else { return };
        let key = (agent.to_string(), session.to_string());
        if !map.contains_key(&key) && map.len() >= MAX_SESSIONS {
            return;
        }
        let log = map.entry(key).or_default();
        if log.actions.len() >= MAX_ACTIONS {
            log.overflowed = true;
        } else {
            log.actions.push_back(action);
        }
        log.last_seen = now;
    }

    /// Drops sessions idle since before `now - IDLE_S`.
    pub fn expire(&self, now: i64) {
        if let Ok(mut map) = self.map.lock() {
            map.retain(|_, l| l.last_seen >= now.saturating_sub(IDLE_S));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn act(tool: &str) -> PriorAction {
        PriorAction { tool: tool.into(), decision: "allow".into() }
    }

    #[test]
    fn sessions_are_per_agent_and_expire_whole() {
        let s = Sessions::default();
        s.record("a", "s1", act("read"), 10);
        s.record("a", "s1", act("send"), 11);
        s.record("b", "s1", act("delete"), 12);
        assert_eq!(s.prior("a", "s1"), Ok(vec![act("read"), act("send")]));
        assert_eq!(s.prior("b", "s1"), Ok(vec![act("delete")]), "same session id, other agent: separate");
        assert_eq!(s.prior("a", "s2"), Ok(vec![]));
        s.record("a", "s1", act("list"), 20);
        s.expire(12 + IDLE_S + 1);
        assert_eq!(s.prior("b", "s1"), Ok(vec![]), "idle too long: forgotten whole");
        assert_eq!(s.prior("a", "s1").map(|p| p.len()), Ok(3));
    }

    #[test]
    fn a_full_history_is_refused_never_shortened() {
        let s = Sessions::default();
        for i in 0..MAX_ACTIONS - 1 {
            s.record("a", "s1", act(&format!("t{i}")), 20);
        }
        let kept = s.prior("a", "s1");
        assert_eq!(kept.as_ref().map(|p| (p.len(), p[0].tool.as_str())), Ok((MAX_ACTIONS - 1, "t0")));
        s.record("a", "s1", act("last"), 21);
        assert_eq!(s.prior("a", "s1"), Err(SessionError::HistoryFull("s1".into())));
        s.record("a", "s1", act("beyond"), 22);
        assert_eq!(s.prior("a", "s1").map_err(|e| e.code()), Err("session.history_full"));
        assert_eq!(s.prior("a", "s2"), Ok(vec![]), "other sessions go on");
    }

    #[test]
    fn a_full_table_refuses_new_sessions_and_keeps_the_old() {
        let s = Sessions::default();
        for i in 0..MAX_SESSIONS {
            s.record("a", &format!("s{i}"), act("read"), 10);
        }
        assert_eq!(s.prior("b", "new").map_err(|e| e.code()), Err("session.capacity"));
        s.record("b", "new", act("send"), 11);
        assert_eq!(s.prior("b", "new").map_err(|e| e.code()), Err("session.capacity"), "not kept, still refused");
        assert_eq!(s.prior("a", "s0"), Ok(vec![act("read")]), "no live session is dropped to make room");
        s.expire(10 + IDLE_S + 1);
        assert_eq!(s.prior("b", "new"), Ok(vec![]));
    }

    #[test]
    fn a_poisoned_table_is_an_error_not_an_empty_history() {
        let s = std::sync::Arc::new(Sessions::default());
        s.record("a", "s1", act("read"), 10);
        let s2 = s.clone();
        let poisoned = std::thread::spawn(move || {
            let _held = s2.map.lock();
            panic!("poison the lock");
        })
        .join();
        assert!(poisoned.is_err());
        assert_eq!(s.prior("a", "s1"), Err(SessionError::Poisoned));
        assert_eq!(s.prior("a", "s1").map_err(|e| e.code()), Err("session.unavailable"));
    }
}

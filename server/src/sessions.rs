//! Session context accumulation (AARM R2): every action decided for an agent's session is
//! remembered, so that the next request of the session gets `context.prior_actions` filled in
//! without the host keeping that list itself.
//!
//! Sessions are keyed by the *authenticated* agent and the request's `identity.session`: one
//! agent cannot read or poison another agent's session by naming its session id. Memory is
//! bounded: a session keeps its last [`MAX_ACTIONS`], at most [`MAX_SESSIONS`] sessions are kept
//! (the least recently used is dropped first), and sessions idle for [`IDLE_S`] are dropped.
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
    /// Sessions in memory only.
    pub fn new() -> Sessions {
        Sessions::default()
    }

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

    /// The session's actions so far, oldest first (empty for an unknown session).
    pub fn prior(&self, agent: &str, session: &str) -> Vec<PriorAction> {
        let Ok(map) = self.map.lock() else { return Vec::new() };
        map.get(&(agent.to_string(), session.to_string()))
            .map(|l| l.actions.iter().cloned().collect())
            .unwrap_or_default()
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

    fn remember(&self, agent: &str, session: &str, action: PriorAction, now: i64) {
        let Ok(mut map) = self.map.lock() else { return };
        let key = (agent.to_string(), session.to_string());
        if !map.contains_key(&key) && map.len() >= MAX_SESSIONS {
            if let Some(oldest) = map.iter().min_by_key(|(_, l)| l.last_seen).map(|(k, _)| k.clone()) {
                map.remove(&oldest);
            }
        }
        let log = map.entry(key).or_default();
        if log.actions.len() >= MAX_ACTIONS {
            log.actions.pop_front();
        }
        log.actions.push_back(action);
        log.last_seen = now;
    }

    /// Drops sessions idle since before `now - IDLE_S`.
    pub fn expire(&self, now: i64) {
        if let Ok(mut map) = self.map.lock() {
            map.retain(|_, l| l.last_seen >= now.saturating_sub(IDLE_S));
        }
    }

    pub fn len(&self) -> usize {
        self.map.lock().map(|m| m.len()).unwrap_or(0)
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn act(tool: &str) -> PriorAction {
        PriorAction { tool: tool.into(), decision: "allow".into() }
    }

    #[test]
    fn sessions_are_per_agent_bounded_and_expire() {
        let s = Sessions::new();
        s.record("a", "s1", act("read"), 10);
        s.record("a", "s1", act("send"), 11);
        s.record("b", "s1", act("delete"), 12);
        assert_eq!(s.prior("a", "s1"), vec![act("read"), act("send")]);
        assert_eq!(s.prior("b", "s1"), vec![act("delete")], "same session id, other agent: separate");
        assert!(s.prior("a", "s2").is_empty());
        for i in 0..MAX_ACTIONS + 5 {
            s.record("a", "s1", act(&format!("t{i}")), 20);
        }
        let p = s.prior("a", "s1");
        assert_eq!(p.len(), MAX_ACTIONS);
        assert_eq!(p[0].tool, "t5", "the oldest are dropped first");
        s.expire(12 + IDLE_S + 1);
        assert!(s.prior("b", "s1").is_empty(), "idle too long");
        assert_eq!(s.prior("a", "s1").len(), MAX_ACTIONS);
    }
}

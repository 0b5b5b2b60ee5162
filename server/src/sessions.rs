//! Session context accumulation (AARM R2): every action decided for an agent's session is
//! remembered, so that the next request of the session gets `context.prior_actions` filled in
//! without the host keeping that list itself.
//!
//! Sessions are keyed by the *authenticated* agent and the request's `identity.session`: one
//! agent cannot read or poison another agent's session by naming its session id. Memory is
//! bounded: a session keeps its last [`MAX_ACTIONS`], at most [`MAX_SESSIONS`] sessions are kept
//! (the least recently used is dropped first), and sessions idle for [`IDLE_S`] are dropped. The
//! history lives in memory: a restart starts every session afresh (documented in
//! server/README.md).

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;

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

#[derive(Debug, Default)]
pub struct Sessions {
    map: Mutex<HashMap<(String, String), Log>>,
}

impl Sessions {
    pub fn new() -> Sessions {
        Sessions::default()
    }

    /// The session's actions so far, oldest first (empty for an unknown session).
    pub fn prior(&self, agent: &str, session: &str) -> Vec<PriorAction> {
        let Ok(map) = self.map.lock() else { return Vec::new() };
        map.get(&(agent.to_string(), session.to_string()))
            .map(|l| l.actions.iter().cloned().collect())
            .unwrap_or_default()
    }

    /// Remembers one decided action.
    pub fn record(&self, agent: &str, session: &str, action: PriorAction, now: i64) {
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

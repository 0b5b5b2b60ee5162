//! When each pending case is next due: the clock's index (see [`crate::timers`]), so that a tick
//! applies the clock only to the cases due by then, by the case's own rule ([`Case::next_due`]).

use aarm_cases::lifecycle::case::Case;
use std::collections::HashMap;
use std::sync::Mutex;

/// Pending case id → when something is next due for it.
#[derive(Debug, Default)]
pub struct DueIndex {
    map: Mutex<HashMap<String, i64>>,
}

impl DueIndex {
    pub fn new() -> DueIndex {
        DueIndex::default()
    }

    /// The case as last seen: due at its next deadline, or out of the index once resolved.
    pub fn update(&self, case: &Case) {
        if let Ok(mut map) = self.map.lock() {
            match case.next_due() {
                Some(t) => {
                    map.insert(case.id.clone(), t);
                }
                None => {
                    map.remove(&case.id);
                }
            }
        }
    }

    /// The cases due by `now`, earliest first.
    pub fn due(&self, now: i64) -> Vec<String> {
        let Ok(map) = self.map.lock() else { return Vec::new() };
        let mut due: Vec<(i64, String)> =
            map.iter().filter(|(_, t)| **t <= now).map(|(id, t)| (*t, id.clone())).collect();
        due.sort();
        due.into_iter().map(|(_, id)| id).collect()
    }

    pub fn forget(&self, id: &str) {
        if let Ok(mut map) = self.map.lock() {
            map.remove(id);
        }
    }
}

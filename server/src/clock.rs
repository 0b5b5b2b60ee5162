//! The service's clock: wall-clock seconds that never go back. The case store refuses an event
//! earlier than the last one it recorded (`clock_went_back`), so a wall clock stepped back by
//! NTP, or a restart on a machine whose clock is behind the store's, must not make every event
//! fail: the clock holds at the latest time it has handed out until the wall clock catches up.

use std::sync::atomic::{AtomicI64, Ordering};

#[derive(Debug)]
pub struct Clock {
    last: AtomicI64,
}

fn wall() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

impl Clock {
    /// A clock that starts no earlier than `floor` (the store's last event).
    pub fn new(floor: i64) -> Clock {
        Clock { last: AtomicI64::new(floor) }
    }

    /// Seconds since the epoch, never less than any earlier answer.
    pub fn now(&self) -> i64 {
        let t = wall();
        let prev = self.last.fetch_max(t, Ordering::AcqRel);
        prev.max(t)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn never_goes_back_and_follows_the_wall_clock() {
        let ahead = wall() + 3600;
        let c = Clock::new(ahead);
        assert_eq!(c.now(), ahead, "held at the floor");
        let c = Clock::new(0);
        let a = c.now();
        assert!((a - wall()).abs() <= 1);
        assert!(c.now() >= a);
    }
}

//! The service's clock: the one place `aarm serve` reads the time from (case events, the
//! background clock's ticks, notification retries, session expiry, idempotency windows).
//!
//! It never goes back. The case store refuses an event earlier than the last one it recorded
//! (`clock_went_back`), so a wall clock stepped back by NTP, or a restart on a machine whose
//! clock is behind the store's, must not make every event fail: the clock holds at the latest
//! time it has handed out until its source catches up.
//!
//! Its source is the system's wall clock ([`TimeSource::System`], what `aarm serve` uses) or a
//! [`ManualTime`] that only moves when its owner moves it ([`TimeSource::Manual`]): tests make
//! "before the escalation is due" and "after the timeout" facts instead of races with the
//! machine's load. It is chosen in [`crate::Options`], not by a command-line flag.

use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// Milliseconds since the epoch on the system's wall clock.
fn wall_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

fn duration_ms(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

/// A time that moves only when told to. Clones share the same time: the test keeps one and
/// gives another to the server.
#[derive(Debug, Clone)]
pub struct ManualTime {
    ms: Arc<AtomicI64>,
}

impl ManualTime {
    /// A manual time at `secs` seconds since the epoch.
    pub fn at(secs: i64) -> ManualTime {
        ManualTime { ms: Arc::new(AtomicI64::new(secs.saturating_mul(1000))) }
    }

    /// A manual time starting at the wall clock's current second (so that credentials with
    /// real expiry times and receipts' dates stay plausible), then moving only when told to.
    /// It starts on a whole second: case times are in seconds, so "1 ms before the timeout"
    /// is exactly that.
    pub fn starting_now() -> ManualTime {
        ManualTime::at(wall_ms().div_euclid(1000))
    }

    /// Moves the time forward by `by`.
    pub fn advance(&self, by: Duration) {
        let by = duration_ms(by);
        // fetch_update with a closure that always answers Some cannot fail.
        let _ = self.ms.fetch_update(Ordering::AcqRel, Ordering::Acquire, |t| Some(t.saturating_add(by)));
    }

    /// Sets the time to `secs` seconds since the epoch; earlier than now is allowed (a clock
    /// stepped back), and a [`Clock`] reading it holds until it catches up.
    pub fn set(&self, secs: i64) {
        self.ms.store(secs.saturating_mul(1000), Ordering::Release);
    }

    /// Milliseconds since the epoch.
    pub fn now_ms(&self) -> i64 {
        self.ms.load(Ordering::Acquire)
    }
}

/// Where a [`Clock`] reads the time.
#[derive(Debug, Clone, Default)]
pub enum TimeSource {
    /// The system's wall clock.
    #[default]
    System,
    /// A time the owner of the [`ManualTime`] moves.
    Manual(ManualTime),
}

impl TimeSource {
    fn now_ms(&self) -> i64 {
        match self {
            TimeSource::System => wall_ms(),
            TimeSource::Manual(m) => m.now_ms(),
        }
    }
}

/// The service's clock: the time source, never going back (held at the latest time handed out,
/// and never before the store's last event).
#[derive(Debug)]
pub struct Clock {
    source: TimeSource,
    /// The latest time handed out, in milliseconds.
    last_ms: AtomicI64,
}

impl Clock {
    /// A clock reading `source` that starts no earlier than `floor` seconds (the store's last
    /// event).
    pub fn new(source: TimeSource, floor: i64) -> Clock {
        Clock { source, last_ms: AtomicI64::new(floor.saturating_mul(1000)) }
    }

    /// Milliseconds since the epoch, never less than any earlier answer.
    pub fn now_ms(&self) -> i64 {
        let t = self.source.now_ms();
        let prev = self.last_ms.fetch_max(t, Ordering::AcqRel);
        prev.max(t)
    }

    /// Seconds since the epoch, never less than any earlier answer.
    pub fn now(&self) -> i64 {
        self.now_ms().div_euclid(1000)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_system_clock_never_goes_back_and_follows_the_wall_clock() {
        let ahead = wall_ms() / 1000 + 3600;
        let c = Clock::new(TimeSource::System, ahead);
        assert_eq!(c.now(), ahead, "held at the floor");
        let c = Clock::new(TimeSource::System, 0);
        let a = c.now();
        assert!((a - wall_ms() / 1000).abs() <= 1);
        assert!(c.now() >= a);
    }

    #[test]
    fn a_manual_clock_moves_only_when_told_and_never_goes_back() {
        let time = ManualTime::at(1_000);
        let c = Clock::new(TimeSource::Manual(time.clone()), 0);
        assert_eq!(c.now(), 1_000);
        assert_eq!(c.now(), 1_000, "nothing moved it");
        time.advance(Duration::from_millis(1_500));
        assert_eq!((c.now(), c.now_ms()), (1_001, 1_001_500));
        time.set(500);
        assert_eq!(c.now(), 1_001, "set back: the clock holds");
        time.set(2_000);
        assert_eq!(c.now(), 2_000, "caught up");
        let floored = Clock::new(TimeSource::Manual(ManualTime::at(10)), 50);
        assert_eq!(floored.now(), 50, "held at the store's floor");
    }
}

//! Time, passed in by the caller so that tests move it instead of sleeping.

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};

use chrono::{DateTime, Duration, DurationRound, TimeDelta, Utc};

/// A source of the current time.
pub trait Clock: Send + Sync + 'static {
    fn now(&self) -> DateTime<Utc>;
}

/// Truncates to whole microseconds: the precision both databases keep, so a time written and
/// read back compares equal.
pub fn to_micros(t: DateTime<Utc>) -> DateTime<Utc> {
    t.duration_trunc(TimeDelta::microseconds(1)).unwrap_or(t)
}

/// The system clock, at microsecond precision.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> DateTime<Utc> {
        to_micros(Utc::now())
    }
}

/// The system clock shifted by an offset that tests can move forward.
#[derive(Debug, Clone, Default)]
pub struct ShiftedClock {
    offset_micros: Arc<AtomicI64>,
}

impl ShiftedClock {
    /// Moves this clock (and every clone of it) forward.
    pub fn advance(&self, by: Duration) {
        let micros = by.num_microseconds().unwrap_or(i64::MAX);
        self.offset_micros.fetch_add(micros, Ordering::SeqCst);
    }
}

impl Clock for ShiftedClock {
    fn now(&self) -> DateTime<Utc> {
        let offset = Duration::microseconds(self.offset_micros.load(Ordering::SeqCst));
        to_micros(Utc::now() + offset)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shifted_clock_moves_every_clone() {
        let clock = ShiftedClock::default();
        let other = clock.clone();
        let before = other.now();
        clock.advance(Duration::hours(25));
        assert!(other.now() - before >= Duration::hours(25));
    }

    #[test]
    fn times_have_microsecond_precision() {
        let t = SystemClock.now();
        assert_eq!(t.timestamp_subsec_nanos() % 1000, 0);
    }
}

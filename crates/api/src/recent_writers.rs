//! Which database a list or a search reads from: the replica of `DATABASE_READ_URL`, unless
//! the caller changed something a moment ago and would not find its own change there yet.
//!
//! Every change of a record is committed with its audit event by
//! [`crate::audit::record_and_commit`], which marks its actor here (signing in does not count). The memory is
//! this instance's: behind a load balancer without session affinity, a caller's next list may
//! reach another instance and read the replica (reads by id always read the primary).

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use uuid::Uuid;

/// How long after its last change a caller's lists read the primary: far longer than a
/// healthy replica lags.
pub const WINDOW: Duration = Duration::from_secs(10);
/// Past this many callers, those outside the window are forgotten.
const PRUNE_AT: usize = 10_000;

#[derive(Debug, Default)]
pub struct RecentWriters {
    last: Mutex<HashMap<Uuid, Instant>>,
}

impl RecentWriters {
    /// `who` (a user or client id) changed something now.
    pub fn wrote(&self, who: Uuid) {
        let now = Instant::now();
        let mut last = self.lock();
        if last.len() >= PRUNE_AT {
            last.retain(|_, at| now.duration_since(*at) < WINDOW);
        }
        last.insert(who, now);
    }

    pub fn wrote_recently(&self, who: Uuid) -> bool {
        self.lock()
            .get(&who)
            .is_some_and(|at| at.elapsed() < WINDOW)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<Uuid, Instant>> {
        self.last
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn remembers_writers_for_the_window() {
        let writers = RecentWriters::default();
        let (me, other) = (Uuid::now_v7(), Uuid::now_v7());
        writers.wrote(me);
        assert!(writers.wrote_recently(me));
        assert!(!writers.wrote_recently(other));
    }

    #[test]
    fn forgets_old_writers_when_full() {
        let writers = RecentWriters::default();
        let old = Instant::now()
            .checked_sub(WINDOW * 2)
            .unwrap_or_else(Instant::now);
        writers
            .lock()
            .extend((0..PRUNE_AT).map(|_| (Uuid::now_v7(), old)));
        writers.wrote(Uuid::now_v7());
        assert!(writers.lock().len() < PRUNE_AT);
    }
}

//! The active webhook subscriptions, kept in memory: every audited write asks which
//! subscriptions want its events ([`crate::repos::webhooks`]), and looking them up on each
//! write cost a create with a contact a quarter of its throughput on PostgreSQL.
//!
//! A subscription change made through this process is seen by the next write that starts after
//! it commits (its transaction forgets the list when it makes the change and when it commits).
//! One made by another instance sharing the database is seen within [`FRESH_FOR`]; meanwhile a
//! delivery to a subscription deleted or paused there is not written
//! (`webhooks::queue_if_active`).

use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use rapport_domain::webhook::EventType;
use uuid::Uuid;

use crate::{Conn, StoreError};

/// How long a list read from the database is trusted (changes by other instances).
pub const FRESH_FOR: Duration = Duration::from_secs(1);

/// One active subscription: its id and the event types it asked for.
pub(crate) type Subscribed = (Uuid, Vec<EventType>);

#[derive(Debug, Default)]
pub(crate) struct Subscriptions {
    cached: Mutex<Cached>,
}

#[derive(Debug, Default)]
struct Cached {
    /// Counts changes: a list read while one committed is not kept.
    generation: u64,
    list: Option<(Instant, Arc<[Subscribed]>)>,
}

impl Subscriptions {
    fn lock(&self) -> MutexGuard<'_, Cached> {
        self.cached.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The active subscriptions, read on `db` when the list kept is stale or was forgotten.
    pub(crate) async fn active(&self, db: &impl Conn) -> Result<Arc<[Subscribed]>, StoreError> {
        let generation = {
            let cached = self.lock();
            if let Some((read_at, list)) = &cached.list
                && read_at.elapsed() < FRESH_FOR
            {
                return Ok(list.clone());
            }
            cached.generation
        };
        let read_at = Instant::now();
        let list: Arc<[Subscribed]> = crate::repos::webhooks::active(db).await?.into();
        let mut cached = self.lock();
        if cached.generation == generation {
            cached.list = Some((read_at, list.clone()));
        }
        Ok(list)
    }

    /// A subscription changed and committed: read the list again.
    pub(crate) fn forget(&self) {
        let mut cached = self.lock();
        cached.generation += 1;
        cached.list = None;
    }
}

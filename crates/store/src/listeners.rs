//! Who listens to audited writes, kept in memory: the active webhook subscriptions
//! ([`crate::repos::webhooks`]) and the enabled rules with a record-event trigger
//! ([`crate::repos::automation`]). Every audited write asks which of them want its events,
//! and looking them up on each write cost a create with a contact a quarter of its
//! throughput on PostgreSQL.
//!
//! A change made through this process is seen by the next write that starts after it commits
//! (its transaction forgets the lists when it makes the change and when it commits). One made
//! by another instance sharing the database is seen within [`FRESH_FOR`]; meanwhile a
//! delivery to a subscription deleted or paused there is not written
//! (`webhooks::queue_if_active`), and a run of a rule disabled there does nothing (its job
//! reads the rule again).

use std::future::Future;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use rapport_domain::automation::trigger::Trigger;
use rapport_domain::webhook::EventType;
use uuid::Uuid;

use crate::{Conn, StoreError};

/// How long a list read from the database is trusted (changes by other instances).
pub const FRESH_FOR: Duration = Duration::from_secs(1);

/// One active subscription: its id and the event types it asked for.
pub(crate) type Subscribed = (Uuid, Vec<EventType>);

/// One enabled rule with a record-event trigger: its id and trigger.
pub(crate) type EventRule = (Uuid, Trigger);

#[derive(Debug, Default)]
pub(crate) struct Listeners {
    webhooks: Kept<Subscribed>,
    rules: Kept<EventRule>,
}

impl Listeners {
    pub(crate) async fn subscriptions(
        &self,
        db: &impl Conn,
    ) -> Result<Arc<[Subscribed]>, StoreError> {
        self.webhooks.get(crate::repos::webhooks::active(db)).await
    }

    pub(crate) async fn event_rules(&self, db: &impl Conn) -> Result<Arc<[EventRule]>, StoreError> {
        self.rules
            .get(crate::repos::automation::event_rules(db))
            .await
    }

    /// A subscription or a rule changed and committed: read the lists again.
    pub(crate) fn forget(&self) {
        self.webhooks.forget();
        self.rules.forget();
    }
}

/// A list read from the database, trusted for [`FRESH_FOR`].
#[derive(Debug)]
struct Kept<T> {
    cached: Mutex<Cached<T>>,
}

impl<T> Default for Kept<T> {
    fn default() -> Self {
        Kept {
            cached: Mutex::new(Cached {
                generation: 0,
                list: None,
            }),
        }
    }
}

#[derive(Debug)]
struct Cached<T> {
    /// Counts changes: a list read while one committed is not kept.
    generation: u64,
    list: Option<(Instant, Arc<[T]>)>,
}

impl<T> Kept<T> {
    fn lock(&self) -> MutexGuard<'_, Cached<T>> {
        self.cached.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The list, read by `load` when the one kept is stale or was forgotten.
    async fn get(
        &self,
        load: impl Future<Output = Result<Vec<T>, StoreError>>,
    ) -> Result<Arc<[T]>, StoreError> {
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
        let list: Arc<[T]> = load.await?.into();
        let mut cached = self.lock();
        if cached.generation == generation {
            cached.list = Some((read_at, list.clone()));
        }
        Ok(list)
    }

    fn forget(&self) {
        let mut cached = self.lock();
        cached.generation += 1;
        cached.list = None;
    }
}

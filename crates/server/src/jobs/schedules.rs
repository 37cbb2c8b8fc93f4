//! Recurring jobs. Every instance enqueues each schedule's latest occurrence under a key that
//! names it (`schedule:maintenance.purge:2026-12-03T10:15:00+00:00`); the key is unique, so
//! however many instances run, an occurrence is one job and runs once. An occurrence missed
//! while no instance ran runs at the next start; older ones are not caught up.

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use rapport_domain::clock::Clock;
use rapport_domain::job::{BadKind, Job, JobKind, Schedule};
use rapport_store::repos::jobs;
use rapport_store::{Store, StoreError};
use tokio::sync::watch;

/// A job kind and when it recurs.
#[derive(Debug, Clone)]
pub struct Scheduled {
    pub kind: JobKind,
    pub schedule: Schedule,
}

impl Scheduled {
    /// # Errors
    /// `kind` is not a job kind's name.
    pub fn new(kind: &str, schedule: Schedule) -> Result<Scheduled, BadKind> {
        Ok(Scheduled {
            kind: JobKind::parse(kind)?,
            schedule,
        })
    }

    /// The job of the occurrence at `due`.
    fn occurrence(&self, due: DateTime<Utc>, now: DateTime<Utc>) -> Job {
        let key = format!("schedule:{}:{}", self.kind, due.to_rfc3339());
        let payload = serde_json::json!({ "scheduled_for": due });
        Job::new(self.kind.clone(), payload, Some(key), due, now)
    }
}

/// Enqueues each schedule's occurrences as they fall due, checking every `poll`, until `stop`.
pub async fn run(
    store: Store,
    clock: Arc<dyn Clock>,
    schedules: Vec<Scheduled>,
    poll: Duration,
    mut stop: watch::Receiver<bool>,
) {
    // The occurrence each schedule last enqueued (or found enqueued): nothing to write until
    // the next one.
    let mut done: Vec<Option<DateTime<Utc>>> = vec![None; schedules.len()];
    while !*stop.borrow() {
        let now = clock.now();
        for (scheduled, done) in schedules.iter().zip(done.iter_mut()) {
            let due = scheduled.schedule.latest(now);
            if *done == Some(due) {
                continue;
            }
            match enqueue(&store, scheduled.occurrence(due, now)).await {
                Ok(()) => *done = Some(due),
                Err(e) => {
                    tracing::warn!(kind = %scheduled.kind, error = %e, "enqueueing a scheduled job failed; will retry");
                }
            }
        }
        tokio::select! {
            () = tokio::time::sleep(poll) => {}
            _ = stop.changed() => {}
        }
    }
}

async fn enqueue(store: &Store, job: Job) -> Result<(), StoreError> {
    let tx = store.begin().await?;
    jobs::enqueue(&tx, &job).await?;
    rapport_store::commit(tx).await
}

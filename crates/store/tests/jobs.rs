//! The job table's repository, each test on SQLite and PostgreSQL.

#![allow(clippy::expect_used, clippy::unwrap_used)]

mod common;

use std::time::Duration as StdDuration;

use chrono::{DateTime, Duration, Utc};
use common::both;
use rapport_domain::clock::{Clock, SystemClock};
use rapport_domain::job::{Job, JobKind, JobStatus};
use rapport_store::repos::jobs::{self, JobFilter};
use rapport_store::repos::{self};
use rapport_store::{Backend, Store, StoreError};
use serde_json::json;

both!(
    a_key_enqueues_once,
    claims_lease_due_jobs_of_known_kinds,
    an_expired_lease_is_taken_over_and_fences_the_first_worker,
    overlapping_claims_take_different_jobs,
    lists_filter_newest_first,
    purge_keeps_recent_and_dead_jobs,
);

const KIND: &str = "test.work";

fn job(kind: &str, key: Option<&str>, run_at: DateTime<Utc>) -> Job {
    let kind = JobKind::parse(kind).unwrap();
    Job::new(kind, json!({"n": 1}), key.map(Into::into), run_at, run_at)
}

async fn enqueue(store: &Store, job: &Job) -> bool {
    let tx = store.begin().await.unwrap();
    let added = jobs::enqueue(&tx, job).await.unwrap();
    rapport_store::commit(tx).await.unwrap();
    added
}

async fn claim(store: &Store, worker: &str, now: DateTime<Utc>, limit: u64) -> Vec<Job> {
    let tx = store.begin().await.unwrap();
    let claimed = jobs::claim(
        &tx,
        &[KIND],
        worker,
        now,
        now + Duration::seconds(30),
        limit,
    )
    .await
    .unwrap();
    rapport_store::commit(tx).await.unwrap();
    claimed
}

async fn a_key_enqueues_once(store: Store) {
    let now = SystemClock.now();
    assert!(enqueue(&store, &job(KIND, Some("schedule:x:1"), now)).await);
    assert!(!enqueue(&store, &job(KIND, Some("schedule:x:1"), now)).await);
    assert!(enqueue(&store, &job(KIND, None, now)).await);
    assert!(enqueue(&store, &job(KIND, None, now)).await);
    let all = jobs::list(store.conn(), &JobFilter::default(), None, 50)
        .await
        .unwrap();
    assert_eq!(all.items.len(), 3);
}

async fn claims_lease_due_jobs_of_known_kinds(store: Store) {
    let now = SystemClock.now();
    let due = job(KIND, None, now - Duration::seconds(5));
    let later = job(KIND, None, now + Duration::seconds(10));
    let unknown = job("test.other", None, now - Duration::seconds(5));
    for j in [&due, &later, &unknown] {
        enqueue(&store, j).await;
    }
    assert!(
        jobs::any_claimable(store.conn(), &[KIND], now)
            .await
            .unwrap()
    );

    let claimed = claim(&store, "w1", now, 10).await;
    assert_eq!(claimed.len(), 1);
    let got = &claimed[0];
    assert_eq!(got.id, due.id);
    assert_eq!(got.status, JobStatus::Running);
    assert_eq!((got.attempts, got.version), (1, 2));
    assert_eq!(got.worker.as_deref(), Some("w1"));
    assert_eq!(got.lease_expires_at, Some(now + Duration::seconds(30)));
    assert_eq!(got.payload, json!({"n": 1}));

    // Leased: nothing more is due until the later job's time (within the 30 s lease).
    assert!(
        !jobs::any_claimable(store.conn(), &[KIND], now)
            .await
            .unwrap()
    );
    assert!(claim(&store, "w2", now, 10).await.is_empty());
    let at_ten = claim(&store, "w2", now + Duration::seconds(10), 10).await;
    assert_eq!(at_ten.len(), 1);
    assert_eq!(at_ten[0].id, later.id);
}

async fn an_expired_lease_is_taken_over_and_fences_the_first_worker(store: Store) {
    let now = SystemClock.now();
    enqueue(&store, &job(KIND, None, now)).await;
    let first = claim(&store, "w1", now, 1).await.remove(0);

    // w1 dies: past its lease, w2 takes the job as a new attempt.
    let later = now + Duration::seconds(31);
    let second = claim(&store, "w2", later, 1).await.remove(0);
    assert_eq!(second.id, first.id);
    assert_eq!((second.attempts, second.worker.as_deref()), (2, Some("w2")));

    // w1 wakes up and reports: refused, w2's run decides.
    let mut late = first.clone();
    late.succeed(later);
    let tx = store.begin().await.unwrap();
    let refused = repos::save(&tx, &late, later).await;
    assert!(matches!(refused, Err(StoreError::Stale)), "{refused:?}");
    drop(tx);

    let mut done = second.clone();
    done.succeed(later);
    let tx = store.begin().await.unwrap();
    repos::save(&tx, &done, later).await.unwrap();
    rapport_store::commit(tx).await.unwrap();
    let stored = jobs::get(store.conn(), first.id).await.unwrap();
    assert_eq!(stored.status, JobStatus::Succeeded);
    assert_eq!(stored.worker, None);
}

/// Two claims in transactions open at the same time take different jobs, and the second does
/// not wait for the first (PostgreSQL: `SKIP LOCKED`; SQLite runs one writer at a time).
async fn overlapping_claims_take_different_jobs(store: Store) {
    let now = SystemClock.now();
    for _ in 0..10 {
        enqueue(&store, &job(KIND, None, now)).await;
    }
    let mut taken = Vec::new();
    if store.backend() == Backend::Postgres {
        let first = store.begin().await.unwrap();
        let lease = now + Duration::seconds(30);
        let a = jobs::claim(&first, &[KIND], "w1", now, lease, 4)
            .await
            .unwrap();
        let b = tokio::time::timeout(StdDuration::from_secs(5), claim(&store, "w2", now, 4))
            .await
            .expect("the second claim waited for the first");
        rapport_store::commit(first).await.unwrap();
        taken.extend(a);
        taken.extend(b);
    } else {
        taken.extend(claim(&store, "w1", now, 4).await);
        taken.extend(claim(&store, "w2", now, 4).await);
    }
    taken.extend(claim(&store, "w3", now, 10).await);
    let mut ids: Vec<_> = taken.iter().map(|j| j.id).collect();
    ids.sort_unstable();
    ids.dedup();
    assert_eq!((taken.len(), ids.len()), (10, 10));
}

async fn lists_filter_newest_first(store: Store) {
    let now = SystemClock.now();
    let old = job(KIND, None, now);
    let new = job("test.other", None, now);
    enqueue(&store, &old).await;
    enqueue(&store, &new).await;
    let mut dead = jobs::get(store.conn(), old.id).await.unwrap();
    dead.status = JobStatus::Dead;
    let tx = store.begin().await.unwrap();
    repos::save(&tx, &dead, now).await.unwrap();
    rapport_store::commit(tx).await.unwrap();

    let all = jobs::list(store.conn(), &JobFilter::default(), None, 1)
        .await
        .unwrap();
    assert_eq!(all.items[0].id, new.id);
    let rest = jobs::list(store.conn(), &JobFilter::default(), all.next, 1)
        .await
        .unwrap();
    assert_eq!(rest.items[0].id, old.id);
    assert!(rest.next.is_none());

    let by_status = JobFilter {
        status: Some(JobStatus::Dead),
        kind: None,
    };
    let found = jobs::list(store.conn(), &by_status, None, 50)
        .await
        .unwrap();
    assert_eq!(
        found.items.iter().map(|j| j.id).collect::<Vec<_>>(),
        [old.id]
    );
    let by_kind = JobFilter {
        status: None,
        kind: Some("test.other".into()),
    };
    let found = jobs::list(store.conn(), &by_kind, None, 50).await.unwrap();
    assert_eq!(
        found.items.iter().map(|j| j.id).collect::<Vec<_>>(),
        [new.id]
    );
}

async fn purge_keeps_recent_and_dead_jobs(store: Store) {
    let now = SystemClock.now();
    let mut ids = Vec::new();
    for (status, finished) in [
        (JobStatus::Succeeded, now - Duration::days(8)),
        (JobStatus::Succeeded, now - Duration::days(1)),
        (JobStatus::Dead, now - Duration::days(30)),
    ] {
        let j = job(KIND, None, now);
        enqueue(&store, &j).await;
        let mut done = j.clone();
        done.status = status;
        done.finished_at = Some(finished);
        let tx = store.begin().await.unwrap();
        repos::save(&tx, &done, now).await.unwrap();
        rapport_store::commit(tx).await.unwrap();
        ids.push(j.id);
    }
    let tx = store.begin().await.unwrap();
    let purged = jobs::purge_succeeded(&tx, now - Duration::days(7))
        .await
        .unwrap();
    rapport_store::commit(tx).await.unwrap();
    assert_eq!(purged, 1);
    assert!(matches!(
        jobs::get(store.conn(), ids[0]).await,
        Err(StoreError::NotFound)
    ));
    for id in &ids[1..] {
        jobs::get(store.conn(), *id).await.unwrap();
    }
}

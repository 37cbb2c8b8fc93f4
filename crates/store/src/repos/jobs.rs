//! Background jobs: enqueued in the transaction of the change that causes them (an outbox),
//! claimed with a lease by one worker at a time, and saved back after each run with
//! [`save`](super::save): the version a worker claimed is its fencing token, so a worker that
//! lost its lease cannot overwrite the run of the worker that took the job over.

use chrono::{DateTime, Utc};
use rapport_domain::job::{Job, JobKind, JobStatus};
use sea_orm::sea_query::{Expr, LockBehavior, LockType, OnConflict};
use sea_orm::{
    ActiveValue::Set, ColumnTrait, Condition, DatabaseBackend, EntityTrait, QueryFilter,
    QueryOrder, QuerySelect,
};
use uuid::Uuid;

use crate::entities::job::{self, Column, Entity};
use crate::page::{Cursor, Page, SortDir, SortValue, keyset};
use crate::repos::parse_column;
use crate::repos::record::{self, record};
use crate::{Conn, StoreError};

fn to_domain(m: job::Model) -> Result<Job, StoreError> {
    Ok(Job {
        id: m.id,
        kind: parse_column("jobs.kind", &m.kind, JobKind::parse)?,
        payload: m.payload,
        key: m.key,
        status: parse_column("jobs.status", &m.status, JobStatus::parse)?,
        attempts: m.attempts,
        max_attempts: m.max_attempts,
        run_at: m.run_at,
        worker: m.worker,
        lease_expires_at: m.lease_expires_at,
        last_error: m.last_error,
        finished_at: m.finished_at,
        created_at: m.created_at,
        updated_at: m.updated_at,
        version: m.version,
    })
}

fn to_active(j: &Job) -> job::ActiveModel {
    job::ActiveModel {
        id: Set(j.id),
        kind: Set(j.kind.to_string()),
        payload: Set(j.payload.clone()),
        key: Set(j.key.clone()),
        status: Set(j.status.as_str().to_owned()),
        attempts: Set(j.attempts),
        max_attempts: Set(j.max_attempts),
        run_at: Set(j.run_at),
        worker: Set(j.worker.clone()),
        lease_expires_at: Set(j.lease_expires_at),
        last_error: Set(j.last_error.clone()),
        finished_at: Set(j.finished_at),
        created_at: Set(j.created_at),
        updated_at: Set(j.updated_at),
        version: Set(j.version),
    }
}

record!(Job, Entity, to_active: |j| Ok(to_active(j)), from_model: to_domain);

/// Adds `job`, unless a job with its key exists (then nothing is added: `false`).
///
/// # Errors
/// Database failures.
pub async fn enqueue(db: &impl Conn, job: &Job) -> Result<bool, StoreError> {
    // ON CONFLICT DO NOTHING rather than catching the violation: inside a transaction,
    // PostgreSQL refuses every statement after a failed one.
    let inserted = Entity::insert(to_active(job))
        .on_conflict(OnConflict::column(Column::Key).do_nothing().to_owned())
        .exec_without_returning(db)
        .await?;
    Ok(inserted == 1)
}

/// Makes the job with `job.key` due at `job.run_at`: a queued one is moved up, a finished one
/// (succeeded or dead) is queued again with its attempts reset, a running one is left to its
/// run; when there is none, `job` is added. For work that waits on something and is told
/// when it may go on (a webhook delivery behind an earlier one).
///
/// # Errors
/// Database failures.
pub async fn wake(db: &impl Conn, job: &Job) -> Result<(), StoreError> {
    let Some(key) = job.key.as_deref() else {
        enqueue(db, job).await?;
        return Ok(());
    };
    let moved_up = Entity::update_many()
        .col_expr(Column::RunAt, Expr::value(job.run_at))
        .col_expr(Column::UpdatedAt, Expr::value(job.updated_at))
        .col_expr(Column::Version, Expr::col(Column::Version).add(1))
        .filter(Column::Key.eq(key))
        .filter(Column::Status.eq(JobStatus::Queued.as_str()))
        .exec(db)
        .await?;
    let finished = [JobStatus::Succeeded.as_str(), JobStatus::Dead.as_str()];
    let requeued = Entity::update_many()
        .col_expr(Column::Status, Expr::value(JobStatus::Queued.as_str()))
        .col_expr(Column::RunAt, Expr::value(job.run_at))
        .col_expr(Column::Attempts, Expr::value(0))
        .col_expr(Column::LastError, Expr::value(Option::<String>::None))
        .col_expr(
            Column::FinishedAt,
            Expr::value(Option::<DateTime<Utc>>::None),
        )
        .col_expr(Column::Worker, Expr::value(Option::<String>::None))
        .col_expr(
            Column::LeaseExpiresAt,
            Expr::value(Option::<DateTime<Utc>>::None),
        )
        .col_expr(Column::UpdatedAt, Expr::value(job.updated_at))
        .col_expr(Column::Version, Expr::col(Column::Version).add(1))
        .filter(Column::Key.eq(key))
        .filter(Column::Status.is_in(finished))
        .exec(db)
        .await?;
    if moved_up.rows_affected + requeued.rows_affected == 0 {
        enqueue(db, job).await?;
    }
    Ok(())
}

/// # Errors
/// `NotFound` when there is no such job.
pub async fn get(db: &impl Conn, id: Uuid) -> Result<Job, StoreError> {
    record::get(db, id).await
}

/// Jobs of `kinds` that a worker may take at `now`: queued and due, or running on a lease
/// that ran out (its worker died or hung).
fn claimable(kinds: &[&str], now: DateTime<Utc>) -> Condition {
    let due = Condition::all()
        .add(Column::Status.eq(JobStatus::Queued.as_str()))
        .add(Column::RunAt.lte(now));
    let abandoned = Condition::all()
        .add(Column::Status.eq(JobStatus::Running.as_str()))
        .add(Column::LeaseExpiresAt.lt(now));
    Condition::all()
        .add(Column::Kind.is_in(kinds.iter().copied()))
        .add(Condition::any().add(due).add(abandoned))
}

/// Is there a job for a worker of `kinds` to take? A read, so that idle workers do not take
/// SQLite's writer every poll.
///
/// # Errors
/// Database failures.
pub async fn any_claimable(
    db: &impl Conn,
    kinds: &[&str],
    now: DateTime<Utc>,
) -> Result<bool, StoreError> {
    let found = Entity::find()
        .select_only()
        .column(Column::Id)
        .filter(claimable(kinds, now))
        .into_tuple::<Uuid>()
        .one(db)
        .await?;
    Ok(found.is_some())
}

/// Leases up to `limit` claimable jobs of `kinds` to `worker` until `lease_until`, oldest due
/// first, each one attempt more. On PostgreSQL the rows are locked as they are chosen and
/// rows another instance is claiming are skipped (`FOR UPDATE SKIP LOCKED`), so instances
/// never take the same job and never wait for each other; SQLite has one writer at a time.
/// Commit before running them, so that other workers see the lease.
///
/// # Errors
/// Database failures.
pub async fn claim(
    db: &impl Conn,
    kinds: &[&str],
    worker: &str,
    now: DateTime<Utc>,
    lease_until: DateTime<Utc>,
    limit: u64,
) -> Result<Vec<Job>, StoreError> {
    let mut chosen = Entity::find()
        .select_only()
        .column(Column::Id)
        .filter(claimable(kinds, now))
        .order_by_asc(Column::RunAt)
        .order_by_asc(Column::Id)
        .limit(limit);
    if db.get_database_backend() == DatabaseBackend::Postgres {
        chosen = chosen.lock_with_behavior(LockType::Update, LockBehavior::SkipLocked);
    }
    let ids: Vec<Uuid> = chosen.into_tuple().all(db).await?;
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    // Three statements rather than UPDATE … RETURNING, which sea-orm has on SQLite only
    // behind a build flag that changes every insert.
    Entity::update_many()
        .col_expr(Column::Status, Expr::value(JobStatus::Running.as_str()))
        .col_expr(Column::Worker, Expr::value(worker))
        .col_expr(Column::LeaseExpiresAt, Expr::value(lease_until))
        .col_expr(Column::Attempts, Expr::col(Column::Attempts).add(1))
        .col_expr(Column::UpdatedAt, Expr::value(now))
        .col_expr(Column::Version, Expr::col(Column::Version).add(1))
        .filter(Column::Id.is_in(ids.clone()))
        .exec(db)
        .await?;
    let rows = Entity::find()
        .filter(Column::Id.is_in(ids))
        .order_by_asc(Column::RunAt)
        .order_by_asc(Column::Id)
        .all(db)
        .await?;
    rows.into_iter().map(to_domain).collect()
}

/// Filters of the admin's job list.
#[derive(Debug, Clone, Default)]
pub struct JobFilter {
    pub status: Option<JobStatus>,
    pub kind: Option<String>,
}

/// Jobs, newest first.
///
/// # Errors
/// Database failures.
pub async fn list(
    db: &impl Conn,
    filter: &JobFilter,
    after: Option<Cursor>,
    limit: u64,
) -> Result<Page<Job>, StoreError> {
    let mut select = Entity::find();
    if let Some(status) = filter.status {
        select = select.filter(Column::Status.eq(status.as_str()));
    }
    if let Some(kind) = &filter.kind {
        select = select.filter(Column::Kind.eq(kind.as_str()));
    }
    let rows = keyset(select, Column::Id, Column::Id, SortDir::Desc, after, limit)
        .all(db)
        .await?;
    Page::from_models(rows, limit, to_domain, |j| Cursor {
        value: SortValue::Id,
        id: j.id,
    })
}

/// Deletes jobs that succeeded before `before`; dead jobs stay until an admin retries them.
/// A scheduled job's key is kept as long as its row, so keep them longer than a schedule's
/// longest period.
///
/// # Errors
/// Database failures.
pub async fn purge_succeeded(db: &impl Conn, before: DateTime<Utc>) -> Result<u64, StoreError> {
    let result = Entity::delete_many()
        .filter(Column::Status.eq(JobStatus::Succeeded.as_str()))
        .filter(Column::FinishedAt.lt(before))
        .exec(db)
        .await?;
    Ok(result.rows_affected)
}

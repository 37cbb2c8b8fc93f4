//! Job kinds of the tests' own, run by test servers beside the standard ones: one that always
//! fails, one that panics, and one that holds for a while and records each run, so that a
//! test sees which worker ran a job when, and whether two runs of a job overlapped.

use std::time::Duration;

use rapport_domain::grading::GradingRules;
use rapport_server::jobs::{self, Handler, Handlers, JobContext, JobFailure};
use rapport_store::{Backend, Store};
use sea_orm::{ConnectionTrait, DatabaseBackend, Statement, Value};

pub const FAIL: &str = "test.fail";
pub const PANIC: &str = "test.panic";
pub const HOLD: &str = "test.hold";

/// The standard kinds (reminding an hour before a resolution is due, grading by the default
/// rules, erasing deleted customers after 30 days) and the tests' own.
pub fn handlers() -> Handlers {
    jobs::standard_handlers(
        chrono::Duration::hours(1),
        GradingRules::default(),
        chrono::Duration::days(30),
    )
    .and_then(|h| h.with(FAIL, Fail))
    .and_then(|h| h.with(PANIC, Panic))
    .and_then(|h| h.with(HOLD, Hold))
    .expect("test job kinds are well named")
}

/// Fails every run with `boom`.
pub struct Fail;

#[async_trait::async_trait]
impl Handler for Fail {
    async fn run(&self, _ctx: &JobContext) -> Result<(), JobFailure> {
        Err(JobFailure("boom".into()))
    }
}

/// Panics in every run.
pub struct Panic;

#[async_trait::async_trait]
impl Handler for Panic {
    async fn run(&self, _ctx: &JobContext) -> Result<(), JobFailure> {
        panic!("a test job panicking on purpose");
    }
}

/// The table where [`Hold`] records its runs.
pub const PROBE_RUNS: &str = "CREATE TABLE probe_runs (job_id TEXT NOT NULL, worker TEXT NOT NULL, \
     started_at BIGINT NOT NULL, ended_at BIGINT)";

/// Records the start of its run, holds for `payload.ms` milliseconds, records the end. Times
/// are the system's, in microseconds, so a test can compare them with when it killed a process.
pub struct Hold;

#[async_trait::async_trait]
impl Handler for Hold {
    async fn run(&self, ctx: &JobContext) -> Result<(), JobFailure> {
        let (job, worker) = (ctx.job.id.to_string(), ctx.worker.to_string());
        let start = "INSERT INTO probe_runs (job_id, worker, started_at) VALUES ($1, $2, $3)";
        let values = vec![job.clone().into(), worker.clone().into(), now().into()];
        execute(&ctx.store, start, values).await?;
        let ms = ctx.job.payload["ms"].as_u64().unwrap_or(0);
        tokio::time::sleep(Duration::from_millis(ms)).await;
        let end = "UPDATE probe_runs SET ended_at = $1 \
                   WHERE job_id = $2 AND worker = $3 AND ended_at IS NULL";
        execute(
            &ctx.store,
            end,
            vec![now().into(), job.into(), worker.into()],
        )
        .await
    }
}

/// Microseconds since the Unix epoch, by the system clock.
pub fn now() -> i64 {
    chrono::Utc::now().timestamp_micros()
}

/// Runs `sql`, written with `$n` placeholders, in a transaction of its own on either database.
pub async fn execute(store: &Store, sql: &str, values: Vec<Value>) -> Result<(), JobFailure> {
    let (backend, sql) = match store.backend() {
        Backend::Postgres => (DatabaseBackend::Postgres, sql.to_owned()),
        Backend::Sqlite => {
            let mut sql = sql.to_owned();
            for n in (1..=values.len()).rev() {
                sql = sql.replace(&format!("${n}"), "?");
            }
            (DatabaseBackend::Sqlite, sql)
        }
    };
    let tx = store.begin().await?;
    tx.execute(Statement::from_sql_and_values(backend, sql, values))
        .await
        .map_err(|e| JobFailure(e.to_string()))?;
    rapport_store::commit(tx).await?;
    Ok(())
}

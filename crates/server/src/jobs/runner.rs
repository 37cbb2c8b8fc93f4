//! The worker loop that every server process runs: claim due jobs with a lease, run each in
//! its own task while renewing the lease, and save how the run ended. Several processes on one
//! PostgreSQL database share the work (`jobs::claim` skips rows another is claiming); a
//! process that dies stops renewing, and its jobs are taken again when their lease runs out.

use std::sync::Arc;
use std::time::Duration;

use chrono::Duration as Span;
use rapport_domain::clock::Clock;
use rapport_domain::job::Job;
use rapport_store::repos::{self, jobs};
use rapport_store::{Store, StoreError};
use tokio::sync::watch;
use tokio::task::JoinSet;
use tokio::time::Instant;

use super::handler::{Handler, Handlers, JobContext};

/// How a process runs jobs.
#[derive(Debug, Clone, Copy)]
pub struct RunnerOptions {
    /// Jobs run at once by this process; 0 runs none (an instance that only serves HTTP).
    pub workers: usize,
    /// How long a claimed job stays this worker's without a renewal. Renewed every third of
    /// it; a job whose worker died is taken again after at most this long.
    pub lease: Duration,
    /// How often an idle worker looks for due jobs.
    pub poll: Duration,
}

/// Jobs still running when the server stops get this long to finish before they are given
/// back (released to run again).
const GRACE: Duration = Duration::from_secs(10);

/// One process's worker: its name and what it needs to run jobs.
#[derive(Clone)]
pub struct Runner {
    store: Store,
    clock: Arc<dyn Clock>,
    handlers: Arc<Handlers>,
    options: RunnerOptions,
    name: Arc<str>,
}

impl Runner {
    pub fn new(
        store: Store,
        clock: Arc<dyn Clock>,
        handlers: Handlers,
        options: RunnerOptions,
    ) -> Runner {
        Runner {
            store,
            clock,
            handlers: Arc::new(handlers),
            options,
            name: format!("pid-{}-{:08x}", std::process::id(), rand::random::<u32>()).into(),
        }
    }

    /// Claims and runs jobs until `stop` turns true, then lets the runs in flight finish (or
    /// gives them back after [`GRACE`]).
    pub async fn run(self, mut stop: watch::Receiver<bool>) {
        if self.options.workers == 0 {
            return;
        }
        tracing::info!(worker = %self.name, kinds = ?self.handlers.kinds(), "job worker started");
        let mut running = JoinSet::new();
        while !*stop.borrow() {
            let free = self.options.workers.saturating_sub(running.len());
            if free > 0 {
                match self.claim(free as u64).await {
                    Ok(jobs) => {
                        for job in jobs {
                            running.spawn(self.clone().run_one(job, stop.clone()));
                        }
                    }
                    Err(e) => tracing::warn!(error = %e, "claiming jobs failed; will retry"),
                }
            }
            tokio::select! {
                () = tokio::time::sleep(self.options.poll) => {}
                // A run ended: claim the next one now.
                Some(_) = running.join_next(), if !running.is_empty() => {}
                _ = stop.changed() => {}
            }
        }
        while running.join_next().await.is_some() {}
    }

    /// Leases up to `limit` due jobs in a transaction of its own, committed before they run.
    async fn claim(&self, limit: u64) -> Result<Vec<Job>, StoreError> {
        let kinds = self.handlers.kinds();
        let now = self.clock.now();
        if !jobs::any_claimable(self.store.conn(), &kinds, now).await? {
            return Ok(Vec::new());
        }
        let tx = self.store.begin().await?;
        let lease_until = now + self.lease();
        let claimed = jobs::claim(&tx, &kinds, &self.name, now, lease_until, limit).await?;
        rapport_store::commit(tx).await?;
        Ok(claimed)
    }

    fn lease(&self) -> Span {
        Span::from_std(self.options.lease).unwrap_or(Span::seconds(60))
    }

    /// Runs one claimed job to its end, renewing its lease meanwhile.
    async fn run_one(self, mut job: Job, mut stop: watch::Receiver<bool>) {
        let handler = match self.handlers.get(&job.kind) {
            Some(handler) if !job.exhausted() => handler,
            // Claimed past its last attempt: every run before lost its worker.
            _ => {
                let reason = "its worker stopped during every attempt";
                job.fail(reason, self.clock.now());
                self.save(job).await;
                return;
            }
        };
        let mut task = tokio::spawn(run_handler(handler, self.context(&job)));
        let mut renew = tokio::time::interval(self.options.lease / 3);
        renew.tick().await;
        let mut give_back_at: Option<Instant> = None;
        let outcome = loop {
            tokio::select! {
                outcome = &mut task => break outcome,
                _ = renew.tick() => match self.renew(&job).await {
                    Ok(renewed) => job = renewed,
                    Err(StoreError::Stale) => {
                        // Another worker took it (this one was too slow to renew): stop, so
                        // that it never runs twice at once.
                        task.abort();
                        tracing::warn!(job_id = %job.id, kind = %job.kind, "job lost its lease; stopped");
                        return;
                    }
                    Err(e) => tracing::warn!(job_id = %job.id, error = %e, "renewing a job's lease failed; will retry"),
                },
                _ = stop.changed(), if give_back_at.is_none() => {
                    give_back_at = Some(Instant::now() + GRACE);
                }
                () = sleep_until(give_back_at) => {
                    task.abort();
                    tracing::info!(job_id = %job.id, kind = %job.kind, "server stopping: job given back");
                    job.release(self.clock.now());
                    self.save(job).await;
                    return;
                }
            }
        };
        let now = self.clock.now();
        match outcome {
            Ok(Ok(())) => job.succeed(now),
            Ok(Err(failure)) => job.fail(&failure.0, now),
            Err(_) => job.fail("the handler panicked", now),
        }
        if job.status == rapport_domain::job::JobStatus::Dead {
            tracing::warn!(job_id = %job.id, kind = %job.kind, attempts = job.attempts, "job dead after its last attempt");
        } else if job.last_error.is_some() && job.finished_at.is_none() {
            tracing::info!(job_id = %job.id, kind = %job.kind, attempts = job.attempts, "job failed; will retry");
        }
        self.save(job).await;
    }

    fn context(&self, job: &Job) -> JobContext {
        JobContext {
            job: job.clone(),
            store: self.store.clone(),
            clock: self.clock.clone(),
            worker: self.name.clone(),
        }
    }

    /// Extends the lease of a running job by another lease from now.
    async fn renew(&self, job: &Job) -> Result<Job, StoreError> {
        let now = self.clock.now();
        let mut renewed = job.clone();
        renewed.lease_expires_at = Some(now + self.lease());
        save_alone(&self.store, &renewed, now).await
    }

    /// Saves how a run ended. A stale version means the lease ran out and another worker took
    /// the job: its run decides, so nothing is written.
    async fn save(&self, job: Job) {
        match save_alone(&self.store, &job, self.clock.now()).await {
            Ok(_) => {}
            Err(StoreError::Stale) => {
                tracing::warn!(job_id = %job.id, kind = %job.kind, "job ended after its lease ran out; another worker runs it");
            }
            Err(e) => {
                // The lease runs out and the job runs again: at least once.
                tracing::warn!(job_id = %job.id, error = %e, "saving a job's end failed; it will run again");
            }
        }
    }
}

async fn run_handler(
    handler: Arc<dyn Handler>,
    ctx: JobContext,
) -> Result<(), super::handler::JobFailure> {
    handler.run(&ctx).await
}

/// Saves `job` at its version in a transaction of its own.
async fn save_alone(
    store: &Store,
    job: &Job,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<Job, StoreError> {
    let tx = store.begin().await?;
    let saved = repos::save(&tx, job, now).await?;
    rapport_store::commit(tx).await?;
    Ok(saved)
}

/// Sleeps until `at`, or forever when there is none.
async fn sleep_until(at: Option<Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}

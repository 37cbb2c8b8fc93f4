//! Background jobs over HTTP (`/v1/jobs`) and under load: schedules that run once per
//! occurrence across instances, failures that back off and die, an admin's retry, and two
//! server processes on one PostgreSQL database sharing 500 jobs while one of them is killed.

use std::collections::HashMap;
use std::process::Child;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use rapport_domain::clock::Clock;
use rapport_domain::job::{Job, JobKind};
use rapport_store::Store;
use rapport_store::repos::jobs;
use rapport_tests::jobs::{FAIL, HOLD, PANIC, PROBE_RUNS};
use rapport_tests::process::{start_server, wait_ready};
use rapport_tests::{Backend, TempDir};
use rapport_tests::{TestApp, backend_tests, pg};
use sea_orm::{ConnectionTrait, DatabaseBackend, Statement};
use serde_json::{Value, json};

backend_tests!(
    a_schedule_runs_once_per_occurrence,
    jobs_are_for_settings_write,
    a_failing_job_backs_off_dies_and_is_retried,
    the_search_index_compaction_runs_at_start_and_succeeds,
);

const PURGE: &str = "/v1/jobs?kind=maintenance.purge";

/// Polls `path` until `done` holds for its jobs (10 s at most), and answers them.
async fn wait_for(
    app: &TestApp,
    token: &str,
    path: &str,
    done: impl Fn(&[Value]) -> bool,
) -> Vec<Value> {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let reply = app.get(path, token).await;
        reply.assert_status(200);
        let jobs = reply.body["data"].as_array().cloned().unwrap_or_default();
        if done(&jobs) {
            return jobs;
        }
        assert!(Instant::now() < deadline, "{path}: still {jobs:#?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn all_succeeded(count: usize) -> impl Fn(&[Value]) -> bool {
    move |jobs| jobs.len() == count && jobs.iter().all(|j| j["status"] == "succeeded")
}

/// Enqueues a job of `kind` with `max_attempts`, due now by the server's clock.
async fn enqueue(app: &TestApp, kind: &str, max_attempts: i32) -> String {
    let now = app.clock.now();
    let mut job = Job::new(JobKind::parse(kind).unwrap(), json!({}), None, now, now);
    job.max_attempts = max_attempts;
    let store = app.store().await;
    let tx = store.begin().await.unwrap();
    assert!(jobs::enqueue(&tx, &job).await.unwrap());
    rapport_store::commit(tx).await.unwrap();
    store.close().await.unwrap();
    job.id.to_string()
}

/// `search.compact` is scheduled like the purge: its first occurrence runs at start and finds
/// the small index of a new database nothing to merge (on PostgreSQL, nothing to do at all).
/// What it merges is tested in the store (`compacting_the_search_index_keeps_every_match`).
async fn the_search_index_compaction_runs_at_start_and_succeeds(app: TestApp) {
    let admin = app.admin_token().await;
    let jobs = wait_for(
        &app,
        &admin,
        "/v1/jobs?kind=search.compact",
        all_succeeded(1),
    )
    .await;
    assert_eq!(jobs[0]["attempts"], 1);
    assert!(
        jobs[0]["key"]
            .as_str()
            .unwrap()
            .starts_with("schedule:search.compact:")
    );
}

fn time(v: &Value) -> DateTime<Utc> {
    v.as_str().unwrap().parse().unwrap()
}

async fn a_schedule_runs_once_per_occurrence(app: TestApp) {
    let admin = app.admin_token().await;
    // The start enqueues the current occurrence of the 15-minute purge, which runs.
    let first = wait_for(&app, &admin, PURGE, all_succeeded(1))
        .await
        .remove(0);
    assert!(
        first["key"]
            .as_str()
            .unwrap()
            .starts_with("schedule:maintenance.purge:")
    );
    assert_eq!(first["attempts"], 1);
    assert!(first["finished_at"].is_string());
    assert_eq!(first["worker"], Value::Null);

    // A second instance computes the same occurrence: still one job.
    let other = match app.backend {
        Backend::Postgres => Some(app.spawn_beside(|_| {}).await),
        Backend::Sqlite => None,
    };
    // An absence has no event to wait for: six of the schedulers' 50 ms passes.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let reply = app.get(PURGE, &admin).await;
    assert_eq!(reply.body["data"].as_array().unwrap().len(), 1);

    // The next occurrence runs 15 minutes later, once.
    app.clock.advance(chrono::Duration::minutes(15));
    if let Some(other) = &other {
        other.clock.advance(chrono::Duration::minutes(15));
    }
    let admin = app.admin_token().await;
    let both = wait_for(&app, &admin, PURGE, all_succeeded(2)).await;
    assert_ne!(both[0]["key"], both[1]["key"]);
    assert_eq!(
        time(&both[0]["run_at"]) - time(&both[1]["run_at"]),
        chrono::Duration::minutes(15)
    );

    // A week on, the purge deletes the jobs that succeeded more than a week before.
    app.clock.advance(chrono::Duration::days(8));
    if let Some(other) = &other {
        other.clock.advance(chrono::Duration::days(8));
    }
    let admin = app.admin_token().await;
    let left = wait_for(&app, &admin, PURGE, |jobs| {
        jobs.len() == 1 && jobs[0]["status"] == "succeeded"
    })
    .await;
    assert!(time(&left[0]["run_at"]) > app.clock.now() - chrono::Duration::minutes(15));
    let id = first["id"].as_str().unwrap();
    app.get(&format!("/v1/jobs/{id}"), &admin)
        .await
        .assert_problem(404, "not_found");
}

async fn jobs_are_for_settings_write(app: TestApp) {
    let admin = app.admin_token().await;
    let job = wait_for(&app, &admin, PURGE, all_succeeded(1))
        .await
        .remove(0);
    let id = job["id"].as_str().unwrap();

    app.get("/v1/jobs", "").await.assert_status(401);
    let rep = app.user("sales_rep", None).await;
    app.get("/v1/jobs", &rep.token)
        .await
        .assert_problem(403, "forbidden");
    app.post(&format!("/v1/jobs/{id}/retry"), &rep.token, json!({}))
        .await
        .assert_problem(403, "forbidden");

    // A service manager holds settings:write.
    let manager = app.user("service_manager", None).await;
    let reply = app.get(&format!("/v1/jobs/{id}"), &manager.token).await;
    reply.assert_status(200);
    assert_eq!(
        reply.header("etag"),
        Some(format!("\"{}\"", job["version"]).as_str())
    );
    assert_eq!(reply.body["kind"], "maintenance.purge");

    let unknown = uuid::Uuid::now_v7();
    app.get(&format!("/v1/jobs/{unknown}"), &admin)
        .await
        .assert_problem(404, "not_found");
    app.post(&format!("/v1/jobs/{unknown}/retry"), &admin, json!({}))
        .await
        .assert_problem(404, "not_found");
    let bad = app.get("/v1/jobs?status=stuck", &admin).await;
    bad.assert_status(400);
    assert_eq!(bad.error_fields(), ["status"]);

    // Only dead jobs are retried.
    let refused = app
        .post(&format!("/v1/jobs/{id}/retry"), &admin, json!({}))
        .await;
    refused.assert_problem(409, "invalid_transition");
    assert_eq!(refused.body["job_status"], "succeeded");
}

async fn a_failing_job_backs_off_dies_and_is_retried(app: TestApp) {
    let admin = app.admin_token().await;
    let failing = enqueue(&app, FAIL, 3).await;
    let panicking = enqueue(&app, PANIC, 1).await;
    let path = format!("/v1/jobs/{failing}");

    // Each failure is retried after its backoff: 10 s, then 20 s, by the server's clock.
    for (attempt, backoff) in [(1, 10), (2, 20)] {
        let job = wait_for(&app, &admin, &format!("/v1/jobs?kind={FAIL}"), |jobs| {
            jobs[0]["attempts"] == attempt && jobs[0]["status"] == "queued"
        })
        .await
        .remove(0);
        assert_eq!(job["last_error"], "boom");
        let wait = time(&job["run_at"]) - time(&job["updated_at"]);
        assert!(
            wait <= chrono::Duration::seconds(backoff)
                && wait > chrono::Duration::seconds(backoff - 1),
            "attempt {attempt}: retried after {wait}"
        );
        app.clock.advance(chrono::Duration::seconds(backoff));
    }
    // The third attempt was the last.
    let dead = wait_for(&app, &admin, "/v1/jobs?status=dead", |jobs| jobs.len() == 2).await;
    let by_id: HashMap<&str, &Value> = dead
        .iter()
        .map(|j| (j["id"].as_str().unwrap(), j))
        .collect();
    assert_eq!(by_id[failing.as_str()]["attempts"], 3);
    assert!(by_id[failing.as_str()]["finished_at"].is_string());
    assert_eq!(
        by_id[panicking.as_str()]["last_error"],
        "the handler panicked"
    );

    // An admin runs it again, with all its attempts; the retry is audited.
    let retried = app.post(&format!("{path}/retry"), &admin, json!({})).await;
    retried.assert_status(200);
    assert_eq!(retried.body["status"], "queued");
    assert_eq!(retried.body["attempts"], 0);
    assert_eq!(retried.body["finished_at"], Value::Null);
    assert_eq!(app.audit_count(&failing).await, 1);
    wait_for(&app, &admin, &format!("/v1/jobs?kind={FAIL}"), |jobs| {
        jobs[0]["attempts"] == 1 && jobs[0]["status"] == "queued"
    })
    .await;
    app.post(&format!("{path}/retry"), &admin, json!({}))
        .await
        .assert_problem(409, "invalid_transition");
}

/// A server process running the tests' job kinds on `url`, listening on a free port.
fn start_instance(url: &str, data_dir: &TempDir) -> (Child, u16) {
    start_server(
        env!("CARGO_BIN_EXE_rapport-job-probe"),
        Some(url),
        &data_dir.0,
    )
}

async fn count(store: &Store, sql: &str) -> i64 {
    let row = store
        .conn()
        .query_one(Statement::from_string(DatabaseBackend::Postgres, sql))
        .await
        .unwrap()
        .unwrap();
    row.try_get_by_index(0).unwrap()
}

/// One run of a probe job: who ran it, from when to when (system microseconds; no end when
/// its process was killed during it).
struct Run {
    worker: String,
    started_at: i64,
    ended_at: Option<i64>,
}

/// Two server processes on one PostgreSQL database share 500 due jobs; one is killed while it
/// runs some. Every job runs to its end, no job's runs overlap, and the jobs the killed process
/// was running are run again by the other after their lease.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_instances_share_500_jobs_and_take_over_from_a_killed_one() {
    let db = pg::TestDatabase::create().await;
    let (a_dir, b_dir) = (TempDir::new(), TempDir::new());
    let (mut a, a_port) = start_instance(&db.url, &a_dir);
    wait_ready(a_port).await;
    let (mut b, b_port) = start_instance(&db.url, &b_dir);
    wait_ready(b_port).await;

    let store = Store::connect(&rapport_store::DbOptions::new(db.url.clone()))
        .await
        .unwrap();
    store.conn().execute_unprepared(PROBE_RUNS).await.unwrap();
    let now = Utc::now();
    let tx = store.begin().await.unwrap();
    for _ in 0..500 {
        let job = Job::new(
            JobKind::parse(HOLD).unwrap(),
            json!({"ms": 25}),
            None,
            now,
            now,
        );
        jobs::enqueue(&tx, &job).await.unwrap();
    }
    rapport_store::commit(tx).await.unwrap();

    // Kill A while it runs a job.
    let a_runs = format!("worker LIKE 'pid-{}-%'", a.id());
    let deadline = Instant::now() + Duration::from_secs(20);
    let running = format!("SELECT count(*) FROM probe_runs WHERE {a_runs} AND ended_at IS NULL");
    while count(&store, &running).await == 0 {
        assert!(Instant::now() < deadline, "A never ran a job");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    a.kill().unwrap();
    a.wait().unwrap();
    let killed_at = rapport_tests::jobs::now();

    let done = "SELECT count(*) FROM jobs WHERE kind = 'test.hold' AND status = 'succeeded'";
    let deadline = Instant::now() + Duration::from_secs(60);
    while count(&store, done).await < 500 {
        assert!(Instant::now() < deadline, "jobs left undone");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    b.kill().unwrap();
    b.wait().unwrap();

    let rows = store
        .conn()
        .query_all(Statement::from_string(
            DatabaseBackend::Postgres,
            "SELECT job_id, worker, started_at, ended_at FROM probe_runs ORDER BY started_at",
        ))
        .await
        .unwrap();
    let mut runs: HashMap<String, Vec<Run>> = HashMap::new();
    for row in rows {
        runs.entry(row.try_get("", "job_id").unwrap())
            .or_default()
            .push(Run {
                worker: row.try_get("", "worker").unwrap(),
                started_at: row.try_get("", "started_at").unwrap(),
                ended_at: row.try_get("", "ended_at").unwrap(),
            });
    }
    assert_eq!(runs.len(), 500, "every job ran");
    let a_name = format!("pid-{}-", a.id());
    let (mut by_a, mut cut_short) = (0, 0);
    for (job, runs) in &runs {
        assert!(
            runs.iter().any(|r| r.ended_at.is_some()),
            "job {job} never ran to its end"
        );
        for pair in runs.windows(2) {
            // A run cut short ended when its process died, at the latest.
            let end = pair[0].ended_at.unwrap_or(killed_at);
            assert!(pair[1].started_at >= end, "job {job}: two runs at once");
        }
        by_a += runs
            .iter()
            .filter(|r| r.worker.starts_with(&a_name))
            .count();
        if let Some(cut) = runs.iter().position(|r| r.ended_at.is_none()) {
            cut_short += 1;
            assert!(
                runs[cut].worker.starts_with(&a_name),
                "job {job}: only A was killed"
            );
            let again = &runs[cut + 1..];
            assert!(
                again
                    .iter()
                    .any(|r| !r.worker.starts_with(&a_name) && r.ended_at.is_some()),
                "job {job}: not run again by B after A was killed"
            );
        }
    }
    assert!(
        by_a > 0 && cut_short > 0,
        "A ran {by_a} runs, {cut_short} cut short"
    );
    store.close().await.unwrap();
    db.drop_now().await;
}

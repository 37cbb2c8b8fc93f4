//! Faults of the database under a write load: every answer is a success or a 503
//! problem+json (never a 500, never a hang past `RAPPORT_DB_TIMEOUT`), service comes back by
//! itself, and every acknowledged write is kept.
//!
//! - PostgreSQL stops answering (its connections are cut and new ones refused, through a
//!   proxy the test controls, so the shared server keeps running for other tests).
//! - SQLite's disk fills up: a real, small `tmpfs` mount that the test fills. Mounting needs
//!   root, which CI has; elsewhere the test says so and stops. (A disk turning read-only
//!   cannot be staged the same way: Linux refuses to remount read-only a file system with
//!   files open for writing. SQLite reports it with the codes a full disk shares, 503 alike.)

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rapport_tests::proxy::Proxy;
use rapport_tests::{Backend, Reply, TestApp, pg};
use reqwest::Method;
use serde_json::json;

/// Creates a customer; answers its id when acknowledged. Anything but 201 must be a 503
/// problem+json.
async fn create(app: &TestApp, token: &str, name: &str) -> Option<String> {
    create_with(app, token, json!({"name": name})).await
}

async fn create_with(app: &TestApp, token: &str, body: serde_json::Value) -> Option<String> {
    let reply = app.post("/v1/customers", token, body).await;
    match reply.status.as_u16() {
        201 => Some(reply.body["id"].as_str().unwrap().to_owned()),
        _ => {
            unavailable(&reply);
            None
        }
    }
}

fn unavailable(reply: &Reply) {
    reply.assert_problem(503, "service_unavailable");
    assert!(reply.header("retry-after").is_some(), "{:?}", reply.body);
}

/// Every acknowledged customer is there.
async fn all_kept(app: &TestApp, token: &str, ids: &HashSet<String>) {
    for id in ids {
        app.get(&format!("/v1/customers/{id}"), token)
            .await
            .assert_status(200);
    }
}

/// Creates customers until one is acknowledged (within 10 s): service came back by itself.
async fn recovers(app: &TestApp, token: &str, acked: &mut HashSet<String>) {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        if let Some(id) = create(app, token, "Back Again Ltd").await {
            acked.insert(id);
            return;
        }
        assert!(Instant::now() < deadline, "writes never came back");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_postgres_outage_under_load_answers_503_within_the_timeout_and_recovers() {
    const TIMEOUT: Duration = Duration::from_secs(2);
    let db = pg::TestDatabase::create().await;
    let target = db.url.split('@').nth(1).unwrap().split('/').next().unwrap();
    let proxy = Proxy::start(target.to_owned()).await;
    let through_proxy = db.url.replace(target, &format!("127.0.0.1:{}", proxy.port));
    let app = TestApp::spawn_with(Backend::Sqlite, |args| {
        args.database_url = Some(through_proxy.into());
        args.db_timeout = Some(TIMEOUT.as_secs());
    })
    .await;
    let token = app.admin_token().await;
    let app = Arc::new(app);
    let acked = Arc::new(Mutex::new(HashSet::new()));
    let refused = Arc::new(Mutex::new(0_usize));
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let writers: Vec<_> = (0..8)
        .map(|w| {
            let (app, token, acked, refused, stop) = (
                app.clone(),
                token.clone(),
                acked.clone(),
                refused.clone(),
                stop.clone(),
            );
            tokio::spawn(async move {
                let mut i = 0;
                while !stop.load(std::sync::atomic::Ordering::SeqCst) {
                    let started = Instant::now();
                    let created = create(&app, &token, &format!("Load {w}-{i} Ltd")).await;
                    // A margin over the timeout for the answer itself on a busy machine.
                    assert!(
                        started.elapsed() < TIMEOUT + Duration::from_millis(2500),
                        "a request hung for {:?}",
                        started.elapsed()
                    );
                    match created {
                        Some(id) => {
                            acked.lock().unwrap().insert(id);
                        }
                        None => *refused.lock().unwrap() += 1,
                    }
                    i += 1;
                }
            })
        })
        .collect();

    tokio::time::sleep(Duration::from_secs(1)).await;
    proxy.down();
    tokio::time::sleep(Duration::from_secs(1)).await;
    let ready = app.call(Method::GET, "/health/ready", None, None).await;
    unavailable(&ready);
    tokio::time::sleep(Duration::from_secs(3)).await;
    proxy.up();
    tokio::time::sleep(Duration::from_secs(2)).await;
    stop.store(true, std::sync::atomic::Ordering::SeqCst);
    for writer in writers {
        writer.await.expect("a writer failed");
    }

    let mut acked = acked.lock().unwrap().clone();
    assert!(*refused.lock().unwrap() > 0, "the outage refused nothing");
    recovers(&app, &token, &mut acked).await;
    app.call(Method::GET, "/health/ready", None, None)
        .await
        .assert_status(200);
    all_kept(&app, &token, &acked).await;
    drop(app);
    db.drop_now().await;
}

/// A `tmpfs` mounted on a fresh folder, unmounted when dropped.
struct Mount(PathBuf);

impl Mount {
    /// `None` when this process may not mount (not root).
    fn tmpfs(size_mb: u32) -> Option<Mount> {
        let uid = Command::new("id").arg("-u").output().expect("id -u");
        if String::from_utf8_lossy(&uid.stdout).trim() != "0" {
            eprintln!("SKIPPED: mounting a tmpfs needs root (CI runs as root)");
            return None;
        }
        let dir = std::env::temp_dir().join(format!("rapport-mount-{}", uuid::Uuid::now_v7()));
        std::fs::create_dir_all(&dir).expect("mount point");
        run(
            "mount",
            &["-t", "tmpfs", "-o", &format!("size={size_mb}m"), "tmpfs"],
            &dir,
        );
        Some(Mount(dir))
    }
}

impl Drop for Mount {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(&self.0).status();
        let _ = std::fs::remove_dir(&self.0);
    }
}

fn run(program: &str, args: &[&str], path: &Path) {
    let status = Command::new(program)
        .args(args)
        .arg(path)
        .status()
        .unwrap_or_else(|e| panic!("{program}: {e}"));
    assert!(status.success(), "{program} {args:?} {path:?}: {status}");
}

/// Fills the file system of `dir` with a file of zeros until it is full.
fn fill(dir: &Path) -> PathBuf {
    use std::io::Write;
    let path = dir.join("filler");
    let mut file = std::fs::File::create(&path).expect("filler");
    let chunk = vec![0_u8; 64 * 1024];
    while file.write_all(&chunk).is_ok() {}
    // The last bytes that fit, one at a time.
    while file.write_all(&[0]).is_ok() {}
    let _ = file.sync_all();
    path
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_disk_answers_503_loses_nothing_acknowledged_and_recovers_on_sqlite() {
    let Some(mount) = Mount::tmpfs(48) else {
        return;
    };
    let data = mount.0.clone();
    let app = TestApp::spawn_with(Backend::Sqlite, |args| {
        args.data_dir = Some(data);
    })
    .await;
    let token = app.admin_token().await;
    let mut acked = HashSet::new();
    for i in 0..20 {
        acked.insert(
            create(&app, &token, &format!("Before {i} Ltd"))
                .await
                .unwrap(),
        );
    }

    // The disk fills up: writes are refused with 503, and some may still fit (SQLite reuses
    // the space of its write-ahead log), so each answer is a 201 or a 503. Every 201 must be
    // there afterwards: a failed commit once left the writer's connection inside a transaction
    // that never committed, and the writes acknowledged after it were lost.
    let filler = fill(&mount.0);
    let mut refused = 0;
    for i in 0..400 {
        let body = json!({"name": format!("Filling {i} Ltd"), "description": "x".repeat(2000)});
        match create_with(&app, &token, body).await {
            Some(id) => {
                acked.insert(id);
            }
            None => refused += 1,
        }
        if refused >= 3 {
            break;
        }
    }
    assert!(refused >= 1, "a full disk refused no write");
    // Reads go on.
    all_kept(&app, &token, &acked).await;
    std::fs::remove_file(filler).unwrap();
    recovers(&app, &token, &mut acked).await;
    all_kept(&app, &token, &acked).await;
    // SQLite's own check of every page and index.
    let integrity: String = app.scalar("PRAGMA integrity_check").await;
    assert_eq!(integrity, "ok");
    app.stop().await;
    drop(app);
}

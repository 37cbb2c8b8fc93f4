//! `rapport backup` under load, and `rapport restore`. SQLite only: the commands are SQLite's
//! (on PostgreSQL, pg_dump and WAL archiving do it: docs/operations.md).
//!
//! A server takes writes from six clients, each creating a customer and then changing it twice,
//! one request after another, while `rapport backup` runs twice: plain, then encrypted with a
//! passphrase. Each backup is restored into an empty data folder and served by a second
//! server, whose full export must be the source as of one moment: every write acknowledged
//! before the backup started is in it; none sent after it finished is; each client's writes in
//! it are a prefix of what it did (a copy that read tables at different moments would show a
//! later write without an earlier one); and every customer in it is the source's, at the same
//! version and equal, or at an older one. The restored audit chain verifies. Refused: a wrong
//! passphrase, an encrypted backup without one, a restore without the encryption key its
//! fields were sealed under, a restore into a folder holding a database, and a backup over an
//! existing file; none leaves a database behind.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::Output;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use rapport_tests::TempDir;
use rapport_tests::process::{admin_token, cli, start_server, wait_ready};
use serde_json::{Value, json};

const CLI: &str = env!("CARGO_BIN_EXE_rapport-cli");
const PASSPHRASE: &str = "correct horse battery staple";
const WRITERS: usize = 6;

/// One acknowledged write: the customer's version after it, when it was sent and answered.
#[derive(Debug, Clone)]
struct Write {
    id: String,
    version: i64,
    sent: Instant,
    answered: Instant,
}

/// A backup taken during the load, and when its command ran.
struct Taken {
    file: PathBuf,
    started: Instant,
    finished: Instant,
    encrypted: bool,
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_backup_taken_under_load_restores_the_source_as_of_one_moment() {
    let source = TempDir::new();
    let (mut server, port) = start_server(CLI, None, &source.0);
    wait_ready(port).await;
    let base = format!("http://127.0.0.1:{port}");
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap();
    let token = admin_token(&http, &base).await;

    let stop = Arc::new(AtomicBool::new(false));
    let acknowledged = Arc::new(AtomicUsize::new(0));
    let writers: Vec<_> = (0..WRITERS)
        .map(|w| {
            let (http, base, token) = (http.clone(), base.clone(), token.clone());
            let (stop, acknowledged) = (stop.clone(), acknowledged.clone());
            tokio::spawn(async move {
                let mut writes = Vec::new();
                for i in 0.. {
                    if stop.load(Ordering::SeqCst) {
                        break;
                    }
                    let sent = Instant::now();
                    // An idempotency key: its kept answer is sealed under the encryption key.
                    let created = http
                        .post(format!("{base}/v1/customers?allow_duplicate=true"))
                        .bearer_auth(&token)
                        .header("Idempotency-Key", uuid::Uuid::now_v7().to_string())
                        .json(&json!({"name": format!("Backed Up {w}-{i} Ltd"), "tags": ["load"]}))
                        .send()
                        .await
                        .unwrap();
                    assert_eq!(created.status(), 201);
                    let customer: Value = created.json().await.unwrap();
                    let id = customer["id"].as_str().unwrap().to_owned();
                    writes.push(written(&customer, sent));
                    acknowledged.fetch_add(1, Ordering::SeqCst);
                    for change in 1..=2 {
                        let sent = Instant::now();
                        let changed = http
                            .patch(format!("{base}/v1/customers/{id}"))
                            .bearer_auth(&token)
                            .json(&json!({"tags": ["load", format!("change-{change}")]}))
                            .send()
                            .await
                            .unwrap();
                        assert_eq!(changed.status(), 200);
                        writes.push(written(&changed.json().await.unwrap(), sent));
                        acknowledged.fetch_add(1, Ordering::SeqCst);
                    }
                }
                writes
            })
        })
        .collect();

    let backups = TempDir::new();
    let mut taken = Vec::new();
    for (name, encrypted) in [("plain.db", false), ("sealed.bak", true)] {
        let wanted = acknowledged.load(Ordering::SeqCst) + 150;
        wait_for(&acknowledged, wanted).await;
        let file = backups.0.join(name);
        let (dir, path) = (source.0.clone(), file.clone());
        let started = Instant::now();
        let output = tokio::task::spawn_blocking(move || {
            let mut command = cli(CLI, &dir);
            command.arg("backup").arg(&path);
            if encrypted {
                command
                    .env("RAPPORT_BACKUP_PASSPHRASE", PASSPHRASE)
                    .args(["--passphrase-env", "RAPPORT_BACKUP_PASSPHRASE"]);
            }
            command.output().unwrap()
        })
        .await
        .unwrap();
        let finished = Instant::now();
        assert_success(&output, "backup");
        taken.push(Taken {
            file,
            started,
            finished,
            encrypted,
        });
    }
    let wanted = acknowledged.load(Ordering::SeqCst) + 150;
    wait_for(&acknowledged, wanted).await;
    stop.store(true, Ordering::SeqCst);
    let mut writes = Vec::new();
    for writer in writers {
        writes.push(writer.await.unwrap());
    }
    let final_export = export(&http, &base, &token).await;
    assert_eq!(
        final_export.len(),
        writes.iter().flatten().filter(|w| w.version == 1).count()
    );

    let plain = std::fs::read(&taken[0].file).unwrap();
    let sealed = std::fs::read(&taken[1].file).unwrap();
    assert!(plain.starts_with(b"SQLite format 3\0"));
    assert!(sealed.starts_with(b"RAPPORT\x1a"));
    let name = b"Backed Up 0-0 Ltd";
    assert!(plain.windows(name.len()).any(|w| w == name));
    assert!(!sealed.windows(name.len()).any(|w| w == name));

    // Restored side by side: each into an empty folder, checked, then served.
    let mut restored = Vec::new();
    for backup in &taken {
        let dir = TempDir::new();
        let output = restore(&dir.0, &backup.file, backup.encrypted.then_some(PASSPHRASE));
        assert_success(&output, "restore");
        let output = cli(CLI, &dir.0).arg("audit-verify").output().unwrap();
        assert_success(&output, "audit-verify");
        let (server, port) = start_server(CLI, None, &dir.0);
        restored.push((dir, server, port));
    }
    for ((_, _, port), backup) in restored.iter().zip(&taken) {
        wait_ready(*port).await;
        let base = format!("http://127.0.0.1:{port}");
        let token = admin_token(&http, &base).await;
        let copy = export(&http, &base, &token).await;
        check_one_moment(&copy, &final_export, &writes, backup);
    }
    for (_, mut server, _) in restored {
        server.kill().unwrap();
        server.wait().unwrap();
    }

    // Refusals, each leaving no database behind.
    let sealed_file = &taken[1].file;
    let empty = TempDir::new();
    let database = empty.0.join("rapport.db");
    let output = restore(&empty.0, sealed_file, Some("not the passphrase at all"));
    assert_refused(&output, "wrong passphrase");
    assert!(!database.exists());
    let output = restore(&empty.0, sealed_file, None);
    assert_refused(&output, "is encrypted: pass --passphrase-env");
    let mut cut = sealed.clone();
    cut.truncate(sealed.len() - 100);
    let cut_file = backups.0.join("cut.bak");
    std::fs::write(&cut_file, cut).unwrap();
    let output = restore(&empty.0, &cut_file, Some(PASSPHRASE));
    assert_refused(&output, "damaged, changed or cut short");
    assert!(!database.exists());
    let output = cli(CLI, &empty.0)
        .env_remove("RAPPORT_ENCRYPTION_KEY")
        .arg("restore")
        .arg(&taken[0].file)
        .output()
        .unwrap();
    assert_refused(&output, "no encryption key is configured");
    assert!(!database.exists());
    let output = restore(&source.0, &taken[0].file, None);
    assert_refused(
        &output,
        &format!("{} exists", source.0.join("rapport.db").display()),
    );
    let output = cli(CLI, &source.0)
        .arg("backup")
        .arg(&taken[0].file)
        .output()
        .unwrap();
    assert_refused(&output, "exists: choose another name, or pass --force");
    assert_eq!(std::fs::read(&taken[0].file).unwrap(), plain);
    assert_eq!(std::fs::read_dir(&empty.0).unwrap().count(), 0);

    server.kill().unwrap();
    server.wait().unwrap();
}

/// The backup's export `copy` is the source as of one moment between the start and the end
/// of its command.
fn check_one_moment(
    copy: &HashMap<String, Value>,
    source: &HashMap<String, Value>,
    writes: &[Vec<Write>],
    backup: &Taken,
) {
    let version = |c: &Value| c["version"].as_i64().unwrap();
    for (id, customer) in copy {
        let now = &source[id];
        assert!(
            version(customer) <= version(now),
            "{customer} is newer than {now}"
        );
        if version(customer) == version(now) {
            assert_eq!(customer, now);
        }
    }
    let during = writes
        .iter()
        .flatten()
        .filter(|w| w.answered > backup.started && w.sent < backup.finished)
        .count();
    assert!(during > 0, "no write overlapped the backup");
    let mut in_copy = 0;
    for writer in writes {
        let mut missing_since = None;
        for (n, write) in writer.iter().enumerate() {
            let there = copy
                .get(&write.id)
                .is_some_and(|c| version(c) >= write.version);
            if write.answered < backup.started {
                assert!(there, "{write:?}, answered before the backup, is not in it");
            }
            if there {
                assert!(
                    write.sent < backup.finished,
                    "{write:?}, sent after the backup, is in it"
                );
                assert_eq!(
                    missing_since, None,
                    "write {n} of a client is in the backup, an earlier one is not"
                );
                in_copy += usize::from(write.version == 1);
            } else {
                missing_since.get_or_insert(n);
            }
        }
    }
    assert_eq!(copy.len(), in_copy, "customers no client made");
}

fn written(customer: &Value, sent: Instant) -> Write {
    Write {
        id: customer["id"].as_str().unwrap().to_owned(),
        version: customer["version"].as_i64().unwrap(),
        sent,
        answered: Instant::now(),
    }
}

async fn wait_for(acknowledged: &AtomicUsize, count: usize) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while acknowledged.load(Ordering::SeqCst) < count {
        assert!(Instant::now() < deadline, "the writes are too slow");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// `rapport restore file` into `dir`, with `passphrase` in RAPPORT_BACKUP_PASSPHRASE.
fn restore(dir: &Path, file: &Path, passphrase: Option<&str>) -> Output {
    let mut command = cli(CLI, dir);
    command.arg("restore").arg(file);
    if let Some(passphrase) = passphrase {
        command
            .env("RAPPORT_BACKUP_PASSPHRASE", passphrase)
            .args(["--passphrase-env", "RAPPORT_BACKUP_PASSPHRASE"]);
    }
    command.output().unwrap()
}

fn assert_success(output: &Output, what: &str) {
    assert!(
        output.status.success(),
        "{what}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
}

fn assert_refused(output: &Output, why: &str) {
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains(why), "{stderr}");
}

/// Every customer, by id: `GET /v1/exports/customers` (NDJSON).
async fn export(http: &reqwest::Client, base: &str, token: &str) -> HashMap<String, Value> {
    let response = http
        .get(format!("{base}/v1/exports/customers"))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let text = response.text().await.unwrap();
    text.lines()
        .map(|line| {
            let customer: Value = serde_json::from_str(line).unwrap();
            (customer["id"].as_str().unwrap().to_owned(), customer)
        })
        .collect()
}

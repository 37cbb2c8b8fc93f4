//! Helpers of the process tests: the real `rapport` binary as a child process, on a fresh data
//! folder and database.

// Each test binary uses a part of these.
#![allow(dead_code)]

use std::io::{BufRead, BufReader, Read};
use std::panic::AssertUnwindSafe;
use std::path::PathBuf;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use futures_util::FutureExt;
use rapport_testdb::{Backend, TestDatabase};
use reqwest::StatusCode;
use serde_json::{Value, json};
use tokio::sync::mpsc;
use tokio::time::Instant;
use uuid::Uuid;

/// How long a start, a line of output or an exit may take (a debug build on a busy machine).
pub const PATIENCE: Duration = Duration::from_secs(20);
/// How often [`eventually`] looks again.
const POLL: Duration = Duration::from_millis(20);
/// How `rapport serve` introduces the first admin's one-time password.
pub const ONE_TIME_PASSWORD: &str = "One-time password (shown only now): ";

/// Generates `<name>::sqlite` and `<name>::postgres` from `async fn name(db: Db)`.
#[macro_export]
macro_rules! both {
    ($($name:ident),* $(,)?) => {$(
        mod $name {
            #[tokio::test]
            async fn sqlite() { $crate::common::run(rapport_testdb::Backend::Sqlite, super::$name).await }
            #[tokio::test]
            async fn postgres() { $crate::common::run(rapport_testdb::Backend::Postgres, super::$name).await }
        }
    )*};
}

/// Where a child keeps its data: a data folder, and a PostgreSQL database or none (SQLite).
#[derive(Debug, Clone)]
pub struct Db {
    pub dir: PathBuf,
    pub url: Option<String>,
}

impl Db {
    /// A data folder that is never created, for runs that must not touch one.
    pub fn unused() -> Db {
        let dir = std::env::temp_dir().join(format!("rapport-cli-{}", Uuid::now_v7()));
        Db { dir, url: None }
    }
}

/// Runs `test` on a fresh data folder and an empty database, then removes both (also when
/// the test fails).
pub async fn run<F, Fut>(backend: Backend, test: F)
where
    F: FnOnce(Db) -> Fut,
    Fut: Future<Output = ()>,
{
    let mut db = Db::unused();
    std::fs::create_dir_all(&db.dir).unwrap();
    let postgres = match backend {
        Backend::Sqlite => None,
        Backend::Postgres => Some(TestDatabase::create_empty().await),
    };
    db.url = postgres.as_ref().map(|p| p.url.clone());
    let outcome = AssertUnwindSafe(test(db.clone())).catch_unwind().await;
    if let Some(postgres) = postgres {
        postgres.drop_now().await;
    }
    std::fs::remove_dir_all(&db.dir).ok();
    if let Err(panic) = outcome {
        std::panic::resume_unwind(panic);
    }
}

/// A `rapport` child process, killed when dropped.
pub struct Rapport {
    pub child: Child,
    pub base: String,
    pub stdout: mpsc::UnboundedReceiver<String>,
    /// The stdout lines read so far, with their line ends.
    pub seen: Vec<String>,
    pub stderr: Arc<Mutex<String>>,
    pub stderr_reader: Option<JoinHandle<()>>,
}

/// A finished run.
#[derive(Debug)]
pub struct Finished {
    pub status: ExitStatus,
    pub stdout: String,
    pub stderr: String,
}

impl Rapport {
    /// Starts `rapport <args>` on `db`, on a free port, with no inherited settings.
    pub fn spawn(db: &Db, args: &[&str], env: &[(&str, &str)]) -> Rapport {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .unwrap()
            .port();
        let mut command = Command::new(env!("CARGO_BIN_EXE_rapport"));
        for (key, _) in std::env::vars_os() {
            let name = key.to_string_lossy();
            if name.starts_with("RAPPORT_") || name == "DATABASE_URL" {
                command.env_remove(&key);
            }
        }
        command
            .args(args)
            .env("RAPPORT_BIND", format!("127.0.0.1:{port}"))
            .env("RAPPORT_DATA_DIR", &db.dir)
            .env("RAPPORT_WORKERS", "2")
            .env("RAPPORT_LOG", "info")
            .envs(db.url.iter().map(|url| ("DATABASE_URL", url)))
            .envs(env.iter().copied())
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = command.spawn().expect("start rapport");

        let (lines, stdout) = mpsc::unbounded_channel();
        read_lines(child.stdout.take().unwrap(), move |line| {
            let _ = lines.send(line);
        });
        let stderr = Arc::new(Mutex::new(String::new()));
        let sink = stderr.clone();
        let stderr_reader = read_lines(child.stderr.take().unwrap(), move |line| {
            sink.lock().unwrap().push_str(&line);
        });
        Rapport {
            child,
            base: format!("http://127.0.0.1:{port}"),
            stdout,
            seen: Vec::new(),
            stderr,
            stderr_reader: Some(stderr_reader),
        }
    }

    /// Runs `rapport <args>` to its end.
    pub async fn run(db: &Db, args: &[&str], env: &[(&str, &str)]) -> Finished {
        let mut child = Rapport::spawn(db, args, env);
        let status = child.wait().await;
        let stdout = child.seen.concat();
        let stderr = child.stderr();
        Finished {
            status,
            stdout,
            stderr,
        }
    }

    /// Starts `rapport serve` and waits until its banner says it is running.
    pub async fn serve(db: &Db, env: &[(&str, &str)]) -> Rapport {
        // The port was free when `spawn` picked it, but a test running beside this one may
        // take it first: then the server cannot bind, and it starts again on another port.
        for _ in 0..3 {
            let mut server = Rapport::spawn(db, &["serve"], env);
            let Err(why) = server.try_line_starting("  Health:").await else {
                return server;
            };
            if why.starts_with("stdout ended") {
                // It exited: read all it said.
                server.wait().await;
            }
            if !server.output().contains("Address already in use") {
                panic!("{why}\n{}", server.output());
            }
        }
        panic!("no free port to serve on in three tries");
    }

    /// The first stdout line starting with `prefix`, waiting for it.
    pub async fn line_starting(&mut self, prefix: &str) -> String {
        self.try_line_starting(prefix)
            .await
            .unwrap_or_else(|why| panic!("{why}\n{}", self.output()))
    }

    /// Like [`Rapport::line_starting`]; `Err` says why no such line came.
    async fn try_line_starting(&mut self, prefix: &str) -> Result<String, String> {
        if let Some(line) = self.seen.iter().find(|l| l.starts_with(prefix)) {
            return Ok(line.clone());
        }
        let deadline = Instant::now() + PATIENCE;
        loop {
            match tokio::time::timeout_at(deadline, self.stdout.recv()).await {
                Ok(Some(line)) => {
                    self.seen.push(line.clone());
                    if line.starts_with(prefix) {
                        return Ok(line);
                    }
                }
                Ok(None) => return Err(format!("stdout ended before {prefix:?}")),
                Err(_) => return Err(format!("no {prefix:?} within {PATIENCE:?}")),
            }
        }
    }

    pub async fn one_time_password(&mut self) -> String {
        let line = self.line_starting(&format!("  {ONE_TIME_PASSWORD}")).await;
        line.trim().trim_start_matches(ONE_TIME_PASSWORD).to_owned()
    }

    /// Did a stdout line read so far contain `text`?
    pub fn printed(&self, text: &str) -> bool {
        self.seen.iter().any(|line| line.contains(text))
    }

    pub fn assert_not_printed(&self, text: &str) {
        assert!(!self.printed(text), "{text:?} printed:\n{}", self.output());
    }

    pub fn stderr(&self) -> String {
        self.stderr.lock().unwrap().clone()
    }

    /// Stdout and stderr so far, for failure messages.
    pub fn output(&self) -> String {
        format!(
            "stdout:\n{}\nstderr:\n{}",
            self.seen.concat(),
            self.stderr()
        )
    }

    pub fn sigterm(&self) {
        self.signal("TERM");
    }

    /// Sends the signal `name` (`TERM`, `HUP`, …).
    pub fn signal(&self, name: &str) {
        let pid = self.child.id().to_string();
        let kill = Command::new("kill")
            .args([format!("-{name}"), pid.clone()])
            .status()
            .unwrap();
        assert!(kill.success(), "kill -{name} {pid}");
    }

    /// Sends SIGTERM and expects a clean exit.
    pub async fn stop(&mut self) {
        self.sigterm();
        let status = self.wait().await;
        assert!(status.success(), "{status}\n{}", self.output());
    }

    /// Waits for the exit, then reads the rest of stdout and stderr.
    pub async fn wait(&mut self) -> ExitStatus {
        let mut status = None;
        eventually(async || {
            status = self.child.try_wait().unwrap();
            status.is_some()
        })
        .await;
        let Some(status) = status else {
            panic!("still running after {PATIENCE:?}\n{}", self.output());
        };
        while let Some(line) = self.stdout.recv().await {
            self.seen.push(line);
        }
        if let Some(reader) = self.stderr_reader.take() {
            reader.join().unwrap();
        }
        status
    }
}

impl Drop for Rapport {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Polls `done` until it holds; false when it still does not after [`PATIENCE`]. Tests wait
/// on an event this way (a port refusing, a line logged, an exit), never on a fixed sleep.
pub async fn eventually(mut done: impl AsyncFnMut() -> bool) -> bool {
    let deadline = Instant::now() + PATIENCE;
    loop {
        if done().await {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        tokio::time::sleep(POLL).await;
    }
}

/// Reads `from` on a thread, handing each line (with its line end) to `to`.
pub fn read_lines(
    from: impl Read + Send + 'static,
    mut to: impl FnMut(String) + Send + 'static,
) -> JoinHandle<()> {
    std::thread::spawn(move || {
        let (mut from, mut line) = (BufReader::new(from), String::new());
        while from.read_line(&mut line).is_ok_and(|n| n > 0) {
            to(std::mem::take(&mut line));
        }
    })
}

pub fn http() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(PATIENCE)
        .build()
        .unwrap()
}

pub async fn sign_in(base: &str, email: &str, password: &str) -> String {
    let body = json!({"grant_type": "password", "username": email, "password": password});
    let response = http()
        .post(format!("{base}/v1/auth/token"))
        .json(&body)
        .send();
    let response = response.await.unwrap();
    let status = response.status();
    let token: Value = response.json().await.unwrap();
    assert_eq!(status, StatusCode::OK, "sign-in of {email}: {token}");
    token["access_token"].as_str().unwrap().to_owned()
}

/// `GET /v1/me`, which must answer 200.
pub async fn me(base: &str, token: &str) -> Value {
    let response = http()
        .get(format!("{base}/v1/me"))
        .bearer_auth(token)
        .send();
    let response = response.await.unwrap();
    let status = response.status();
    let me = response.json().await.unwrap_or_default();
    assert_eq!(status, StatusCode::OK, "GET /v1/me: {me}");
    me
}

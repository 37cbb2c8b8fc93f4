//! The real `rapport` binary as a child process: the banner and first admin, signals, restarts,
//! configuration errors and the subcommands. Tests that use a database run on SQLite and
//! PostgreSQL (`<name>::sqlite`, `<name>::postgres`).

#![allow(clippy::expect_used, clippy::unwrap_used)]

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
const PATIENCE: Duration = Duration::from_secs(20);
const ONE_TIME_PASSWORD: &str = "One-time password (shown only now): ";
const FIRST_ADMIN: &str = "admin@rapport.local";
const ADMIN_ENV: &[(&str, &str)] = &[
    ("RAPPORT_ADMIN_EMAIL", "boss@rapport.test"),
    ("RAPPORT_ADMIN_PASSWORD", "correct horse battery"),
];

macro_rules! both {
    ($($name:ident),* $(,)?) => {$(
        mod $name {
            #[tokio::test]
            async fn sqlite() { super::run(rapport_testdb::Backend::Sqlite, super::$name).await }
            #[tokio::test]
            async fn postgres() { super::run(rapport_testdb::Backend::Postgres, super::$name).await }
        }
    )*};
}

both!(
    serve_prints_the_admin_password_and_the_token_works,
    admin_from_environment_prints_no_password,
    restart_keeps_data_and_tokens,
    sigterm_finishes_in_flight_requests,
    migrate_then_create_user,
    two_instances_migrate_at_once,
);

async fn serve_prints_the_admin_password_and_the_token_works(db: Db) {
    let mut server = Rapport::serve(&db, &[]).await;
    let password = server.one_time_password().await;
    let base = server.base.clone();
    let banner = server.seen.concat();
    for path in ["/v1", "/docs", "/openapi.json"] {
        assert!(banner.contains(&format!(" {base}{path}\n")), "{banner}");
    }
    assert!(server.printed(&format!("Created the first admin: {FIRST_ADMIN}")));
    for path in ["/docs", "/openapi.json"] {
        let response = http().get(format!("{base}{path}")).send().await.unwrap();
        assert_eq!(response.status(), StatusCode::OK, "GET {path}");
    }

    let me = me(&base, &sign_in(&base, FIRST_ADMIN, &password).await).await;
    assert_eq!(me["role"], "admin");
    assert_eq!(me["email"], FIRST_ADMIN);
    assert_eq!(me["must_change_password"], true);

    server.stop().await;
    let logs = server.stderr();
    assert!(
        logs.contains("/v1/auth/token"),
        "requests are logged:\n{logs}"
    );
    assert!(!logs.contains(&password), "{logs}");
}

async fn admin_from_environment_prints_no_password(db: Db) {
    let mut server = Rapport::serve(&db, ADMIN_ENV).await;
    let token = sign_in(&server.base, ADMIN_ENV[0].1, ADMIN_ENV[1].1).await;
    let me = me(&server.base, &token).await;
    assert_eq!(me["role"], "admin");
    assert_eq!(me["must_change_password"], false);

    server.stop().await;
    server.assert_not_printed(ONE_TIME_PASSWORD);
    let output = server.output();
    assert!(!output.contains(ADMIN_ENV[1].1), "{output}");
}

async fn restart_keeps_data_and_tokens(db: Db) {
    let mut first = Rapport::serve(&db, &[]).await;
    let password = first.one_time_password().await;
    let token = sign_in(&first.base, FIRST_ADMIN, &password).await;
    first.stop().await;

    let mut second = Rapport::serve(&db, &[]).await;
    assert_eq!(me(&second.base, &token).await["email"], FIRST_ADMIN);
    sign_in(&second.base, FIRST_ADMIN, &password).await;
    second.stop().await;
    second.assert_not_printed("Created the first admin");
    second.assert_not_printed(ONE_TIME_PASSWORD);
}

async fn sigterm_finishes_in_flight_requests(db: Db) {
    let mut server = Rapport::serve(&db, ADMIN_ENV).await;
    let token = sign_in(&server.base, ADMIN_ENV[0].1, ADMIN_ENV[1].1).await;
    // A request served first, so the connection the slow body goes on (reused from the pool)
    // is surely accepted before the signal.
    let client = http();
    let live = client.get(format!("{}/health/live", server.base)).send();
    live.await.unwrap().bytes().await.unwrap();
    tokio::time::sleep(Duration::from_millis(50)).await;

    let (chunks, rx) = mpsc::unbounded_channel::<&'static str>();
    let body = futures_util::stream::unfold(rx, |mut rx| async move {
        Some((Ok::<_, std::io::Error>(rx.recv().await?), rx))
    });
    let request = client
        .post(format!("{}/v1/teams", server.base))
        .bearer_auth(&token)
        .header("content-type", "application/json")
        .body(reqwest::Body::wrap_stream(body))
        .send();
    let response = tokio::spawn(request);
    chunks.send(r#"{"name": "slow"#).unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;

    server.sigterm();
    // The shutdown has begun once new connections are refused.
    let (address, deadline) = (&server.base["http://".len()..], Instant::now() + PATIENCE);
    while tokio::net::TcpStream::connect(address).await.is_ok() {
        assert!(Instant::now() < deadline, "still accepting after SIGTERM");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    chunks.send(r#" team"}"#).unwrap();
    drop(chunks);
    let response = match response.await.unwrap() {
        Ok(response) => response,
        Err(e) => panic!("the request in flight failed: {e:?}\n{}", server.output()),
    };
    let status = response.status();
    let team: Value = response.json().await.unwrap_or_default();
    assert_eq!(status, StatusCode::CREATED, "{team}\n{}", server.output());
    assert_eq!(team["name"], "slow team");
    drop(client);
    let exit = server.wait().await;
    assert!(exit.success(), "{exit}\n{}", server.output());
}

async fn migrate_then_create_user(db: Db) {
    let migrated = Rapport::run(&db, &["migrate"], &[]).await;
    assert!(migrated.status.success(), "{migrated:?}");

    let command = "create-user --email x@rapport.test --name X --role sales_rep";
    let created = Rapport::run(&db, &command.split(' ').collect::<Vec<_>>(), &[]).await;
    assert!(created.status.success(), "{created:?}");
    let password = (created.stdout.lines())
        .find_map(|line| line.trim_start().strip_prefix(ONE_TIME_PASSWORD))
        .unwrap_or_else(|| panic!("no one-time password: {created:?}"));

    let mut server = Rapport::serve(&db, &[]).await;
    let token = sign_in(&server.base, "x@rapport.test", password).await;
    assert_eq!(me(&server.base, &token).await["role"], "sales_rep");
    server.stop().await;
    server.assert_not_printed("Created the first admin");
}

async fn two_instances_migrate_at_once(db: Db) {
    let (one, two) = tokio::join!(
        Rapport::run(&db, &["migrate"], &[]),
        Rapport::run(&db, &["migrate"], &[])
    );
    for finished in [one, two] {
        assert!(finished.status.success(), "{finished:?}");
        assert!(finished.stdout.contains("up to date"), "{finished:?}");
    }
    let again = Rapport::run(&db, &["migrate"], &[]).await;
    assert!(again.status.success(), "{again:?}");
}

#[tokio::test]
async fn bad_configuration_exits_2_naming_the_variable() {
    let db = Db::unused();
    let secret = "tooshort-s3cr3t";
    let cases = [("RAPPORT_BIND", "nowhere"), ("RAPPORT_JWT_SECRET", secret)];
    for (name, value) in cases {
        let run = Rapport::run(&db, &["serve"], &[(name, value)]).await;
        assert_eq!(run.status.code(), Some(2), "{run:?}");
        assert!(run.stderr.contains(name), "{run:?}");
        assert!(!run.stderr.contains(secret), "{run:?}");
    }

    let dir = std::env::temp_dir().join(format!("rapport-cli-{}", Uuid::now_v7()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("rapport.toml");
    std::fs::write(&file, "bnid = \"0.0.0.0:9000\"\n").unwrap();
    let run = Rapport::run(&db, &["--config", file.to_str().unwrap(), "serve"], &[]).await;
    std::fs::remove_dir_all(&dir).ok();
    assert_eq!(run.status.code(), Some(2), "{run:?}");
    assert!(run.stderr.contains("bnid"), "{run:?}");
    assert!(
        !db.dir.exists(),
        "nothing is made before the settings are valid"
    );
}

#[tokio::test]
async fn help_documents_every_subcommand() {
    let db = Db::unused();
    let help = Rapport::run(&db, &["--help"], &[]).await;
    assert!(help.status.success(), "{help:?}");
    for command in ["serve", "migrate", "openapi", "create-user"] {
        let listed = help.stdout.contains(&format!("\n  {command} "));
        assert!(listed, "{command} is not listed:\n{}", help.stdout);
    }
    let serve = Rapport::run(&db, &["serve", "--help"], &[]).await;
    assert!(serve.status.success(), "{serve:?}");
    for variable in ["RAPPORT_BIND", "DATABASE_URL"] {
        assert!(serve.stdout.contains(variable), "{}", serve.stdout);
    }
}

#[tokio::test]
async fn openapi_subcommand_prints_the_committed_document() {
    let printed = Rapport::run(&Db::unused(), &["openapi"], &[]).await;
    assert!(printed.status.success(), "{}", printed.stderr);
    // Read now, not at build time: the document may be regenerated meanwhile.
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../openapi/openapi.json");
    let committed = std::fs::read_to_string(path).unwrap();
    if printed.stdout != committed {
        let same = printed.stdout.lines().zip(committed.lines());
        let line = same.take_while(|(a, b)| a == b).count() + 1;
        panic!("`rapport openapi` differs from openapi/openapi.json at line {line}");
    }
}

// ---- helpers ----

/// Where a child keeps its data: a data folder, and a PostgreSQL database or none (SQLite).
#[derive(Debug, Clone)]
struct Db {
    dir: PathBuf,
    url: Option<String>,
}

impl Db {
    /// A data folder that is never created, for runs that must not touch one.
    fn unused() -> Db {
        let dir = std::env::temp_dir().join(format!("rapport-cli-{}", Uuid::now_v7()));
        Db { dir, url: None }
    }
}

/// Runs `test` on a fresh data folder and an empty database, then removes both (also when
/// the test fails).
async fn run<F, Fut>(backend: Backend, test: F)
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
struct Rapport {
    child: Child,
    base: String,
    stdout: mpsc::UnboundedReceiver<String>,
    /// The stdout lines read so far, with their line ends.
    seen: Vec<String>,
    stderr: Arc<Mutex<String>>,
    stderr_reader: Option<JoinHandle<()>>,
}

/// A finished run.
#[derive(Debug)]
struct Finished {
    status: ExitStatus,
    stdout: String,
    stderr: String,
}

impl Rapport {
    /// Starts `rapport <args>` on `db`, on a free port, with no inherited settings.
    fn spawn(db: &Db, args: &[&str], env: &[(&str, &str)]) -> Rapport {
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
    async fn run(db: &Db, args: &[&str], env: &[(&str, &str)]) -> Finished {
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
    async fn serve(db: &Db, env: &[(&str, &str)]) -> Rapport {
        let mut server = Rapport::spawn(db, &["serve"], env);
        server.line_starting("  Health:").await;
        server
    }

    /// The first stdout line starting with `prefix`, waiting for it.
    async fn line_starting(&mut self, prefix: &str) -> String {
        if let Some(line) = self.seen.iter().find(|l| l.starts_with(prefix)) {
            return line.clone();
        }
        let deadline = Instant::now() + PATIENCE;
        loop {
            match tokio::time::timeout_at(deadline, self.stdout.recv()).await {
                Ok(Some(line)) => {
                    self.seen.push(line.clone());
                    if line.starts_with(prefix) {
                        return line;
                    }
                }
                Ok(None) => panic!("stdout ended before {prefix:?}\n{}", self.output()),
                Err(_) => panic!("no {prefix:?} within {PATIENCE:?}\n{}", self.output()),
            }
        }
    }

    async fn one_time_password(&mut self) -> String {
        let line = self.line_starting(&format!("  {ONE_TIME_PASSWORD}")).await;
        line.trim().trim_start_matches(ONE_TIME_PASSWORD).to_owned()
    }

    /// Did a stdout line read so far contain `text`?
    fn printed(&self, text: &str) -> bool {
        self.seen.iter().any(|line| line.contains(text))
    }

    fn assert_not_printed(&self, text: &str) {
        assert!(!self.printed(text), "{text:?} printed:\n{}", self.output());
    }

    fn stderr(&self) -> String {
        self.stderr.lock().unwrap().clone()
    }

    /// Stdout and stderr so far, for failure messages.
    fn output(&self) -> String {
        format!(
            "stdout:\n{}\nstderr:\n{}",
            self.seen.concat(),
            self.stderr()
        )
    }

    fn sigterm(&self) {
        let pid = self.child.id().to_string();
        let kill = Command::new("kill").args(["-TERM", &pid]).status().unwrap();
        assert!(kill.success(), "kill -TERM {pid}");
    }

    /// Sends SIGTERM and expects a clean exit.
    async fn stop(&mut self) {
        self.sigterm();
        let status = self.wait().await;
        assert!(status.success(), "{status}\n{}", self.output());
    }

    /// Waits for the exit, then reads the rest of stdout and stderr.
    async fn wait(&mut self) -> ExitStatus {
        let deadline = Instant::now() + PATIENCE;
        let status = loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                break status;
            }
            assert!(
                Instant::now() < deadline,
                "still running\n{}",
                self.output()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
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

/// Reads `from` on a thread, handing each line (with its line end) to `to`.
fn read_lines(
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

fn http() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(PATIENCE)
        .build()
        .unwrap()
}

async fn sign_in(base: &str, email: &str, password: &str) -> String {
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
async fn me(base: &str, token: &str) -> Value {
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

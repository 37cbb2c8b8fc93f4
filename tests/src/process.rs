//! The server as a separate process (the `rapport-job-probe` binary: `rapport` with the tests'
//! job kinds), for tests that kill it or run several: what `kill -9` and a second machine do.

use std::net::TcpListener;
use std::path::Path;
use std::process::{Child, Command};
use std::time::{Duration, Instant};

use crate::{ADMIN_EMAIL, ADMIN_PASSWORD, ENCRYPTION_KEY, JWT_SECRET};

/// Starts a server on a free port with the test secrets, on PostgreSQL at `database_url` or,
/// without one, on SQLite in `data_dir`. `probe` is `env!("CARGO_BIN_EXE_rapport-job-probe")`
/// of the calling test binary, or `env!("CARGO_BIN_EXE_rapport-cli")` for `rapport` itself.
pub fn start_server(probe: &str, database_url: Option<&str>, data_dir: &Path) -> (Child, u16) {
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut command = Command::new(probe);
    command
        .env_clear()
        .env("RAPPORT_BIND", format!("127.0.0.1:{port}"))
        .env("RAPPORT_DATA_DIR", data_dir)
        .env("RAPPORT_JWT_SECRET", JWT_SECRET)
        .env("RAPPORT_ENCRYPTION_KEY", ENCRYPTION_KEY)
        .env("RAPPORT_ADMIN_EMAIL", ADMIN_EMAIL)
        .env("RAPPORT_ADMIN_PASSWORD", ADMIN_PASSWORD)
        .env("RAPPORT_LOG", "error")
        .env("RAPPORT_WORKERS", "1")
        .env("RAPPORT_JOB_WORKERS", "4")
        .env("RAPPORT_RATE_LIMITS", "ip=10000000,default=10000000")
        .env("RAPPORT_JOB_LEASE", "2")
        .env("RAPPORT_JOB_POLL_MS", "50");
    if let Some(url) = database_url {
        command.env("DATABASE_URL", url);
    }
    let child = command.spawn().expect("the server process starts");
    (child, port)
}

/// Waits (30 s at most) until the server on `port` is ready.
pub async fn wait_ready(port: u16) {
    let deadline = Instant::now() + Duration::from_secs(30);
    let url = format!("http://127.0.0.1:{port}/health/ready");
    while !reqwest::get(&url).await.is_ok_and(|r| r.status() == 200) {
        assert!(
            Instant::now() < deadline,
            "the server on {port} is not ready"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// `rapport` (the `rapport-cli` binary) on the SQLite database in `data_dir`, with the test
/// secrets and nothing else from the environment; add the subcommand and its arguments.
pub fn cli(binary: &str, data_dir: &Path) -> Command {
    let mut command = Command::new(binary);
    command
        .env_clear()
        .env("RAPPORT_DATA_DIR", data_dir)
        .env("RAPPORT_JWT_SECRET", JWT_SECRET)
        .env("RAPPORT_ENCRYPTION_KEY", ENCRYPTION_KEY)
        .env("RAPPORT_LOG", "error");
    command
}

/// The admin's access token from the server at `base`, by a password sign-in.
pub async fn admin_token(http: &reqwest::Client, base: &str) -> String {
    let reply: serde_json::Value = http
        .post(format!("{base}/v1/auth/token"))
        .json(&serde_json::json!({
            "grant_type": "password", "username": ADMIN_EMAIL, "password": ADMIN_PASSWORD,
        }))
        .send()
        .await
        .expect("sign-in sent")
        .json()
        .await
        .expect("a JSON answer");
    reply["access_token"]
        .as_str()
        .expect("an access token")
        .to_owned()
}

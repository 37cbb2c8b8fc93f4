//! The `rapport` server under test: started from the release binary on the seeded database,
//! with its users, tokens, and memory read from `/proc`.

use std::net::{SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use base64::Engine;
use serde_json::{Value, json};

/// The key `rapport-bench` seals registration numbers with (no secret: it is a benchmark).
pub const ENCRYPTION_KEY: [u8; 32] = [42; 32];
/// The password of every user the load signs in as.
pub const PASSWORD: &str = "bench-password-7Qm!x2";
/// Longer than any run, so that no token expires under load.
const TOKEN_TTL_SECS: &str = "14400";

/// A running server.
pub struct Server {
    child: Child,
    pub base: String,
    binary: PathBuf,
    env: Vec<(String, String)>,
    /// From spawn to the first 200 of `/health/ready`.
    pub start_to_ready: Duration,
    client: reqwest::Client,
}

/// The roles the load uses, each with its bearer token.
pub struct Tokens {
    pub admin: String,
    pub marketing: String,
    pub rep: String,
}

impl Server {
    /// Starts `binary serve` on `database_url`, logs and data under `dir`, and waits for it
    /// to be ready.
    ///
    /// # Errors
    /// It does not start, or is not ready within a minute.
    pub async fn start(binary: &Path, database_url: &str, dir: &Path) -> anyhow::Result<Server> {
        Server::start_with(binary, database_url, dir, &[]).await
    }

    /// [`Server::start`] with more environment (`RAPPORT_JOB_WORKERS=0`: no background jobs).
    ///
    /// # Errors
    /// It does not start, or is not ready within a minute.
    pub async fn start_with(
        binary: &Path,
        database_url: &str,
        dir: &Path,
        extra_env: &[(&str, &str)],
    ) -> anyhow::Result<Server> {
        let port = free_port()?;
        let mut env = vec![
            ("DATABASE_URL".to_owned(), database_url.to_owned()),
            ("RAPPORT_BIND".to_owned(), format!("127.0.0.1:{port}")),
            (
                "RAPPORT_DATA_DIR".to_owned(),
                dir.join("data").display().to_string(),
            ),
            (
                "RAPPORT_ENCRYPTION_KEY".to_owned(),
                base64::engine::general_purpose::STANDARD.encode(ENCRYPTION_KEY),
            ),
            (
                "RAPPORT_JWT_SECRET".to_owned(),
                "rapport-bench-jwt-secret-of-40-bytes-long".to_owned(),
            ),
            (
                "RAPPORT_ACCESS_TOKEN_TTL".to_owned(),
                TOKEN_TTL_SECS.to_owned(),
            ),
            // The load comes from one address and a few callers, far past production limits:
            // measured, not limited (the limits' own cost stays in every request).
            (
                "RAPPORT_RATE_LIMITS".to_owned(),
                "ip=100000000,default=100000000".to_owned(),
            ),
        ];
        env.extend(
            extra_env
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned())),
        );
        let log = std::fs::File::create(dir.join("server.log"))?;
        let started = Instant::now();
        let child = Command::new(binary)
            .arg("serve")
            .envs(env.iter().map(|(k, v)| (k, v)))
            .stdin(Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log)
            .spawn()
            .with_context(|| format!("starting {}", binary.display()))?;
        let mut server = Server {
            child,
            base: format!("http://127.0.0.1:{port}"),
            binary: binary.to_owned(),
            env,
            start_to_ready: Duration::ZERO,
            client: reqwest::Client::new(),
        };
        loop {
            if let Ok(r) = server.client.get(server.url("/health/ready")).send().await
                && r.status().is_success()
            {
                break;
            }
            if let Some(status) = server.child.try_wait()? {
                bail!(
                    "the server exited with {status}; see {}",
                    dir.join("server.log").display()
                );
            }
            if started.elapsed() > Duration::from_secs(60) {
                bail!("the server was not ready within a minute");
            }
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
        server.start_to_ready = started.elapsed();
        Ok(server)
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// Creates an admin, a marketing user and a sales rep with `rapport create-user` (the
    /// seeded owners have no password), and signs each in.
    ///
    /// # Errors
    /// A user cannot be created or signed in.
    pub async fn tokens(&self) -> anyhow::Result<Tokens> {
        let mut tokens = Vec::new();
        for role in ["admin", "marketing", "sales_rep"] {
            let email = format!("{role}@load.rapport.example");
            tokens.push(self.sign_in(role, &email).await?);
        }
        let [admin, marketing, rep] = <[String; 3]>::try_from(tokens)
            .map_err(|_| anyhow::anyhow!("three roles, three tokens"))?;
        Ok(Tokens {
            admin,
            marketing,
            rep,
        })
    }

    /// Creates a user of `role` with `rapport create-user` and signs it in; its bearer token.
    ///
    /// # Errors
    /// The user cannot be created (the email is taken) or signed in.
    pub async fn sign_in(&self, role: &str, email: &str) -> anyhow::Result<String> {
        let output = Command::new(&self.binary)
            .args([
                "create-user",
                "--email",
                email,
                "--name",
                "Load Tester",
                "--role",
                role,
            ])
            .envs(self.env.iter().map(|(k, v)| (k, v)))
            .env("RAPPORT_NEW_USER_PASSWORD", PASSWORD)
            .output()?;
        if !output.status.success() {
            bail!(
                "rapport create-user --role {role}: {}",
                String::from_utf8_lossy(&output.stderr)
            );
        }
        let reply: Value = self
            .client
            .post(self.url("/v1/auth/token"))
            .json(&json!({"grant_type": "password", "username": email, "password": PASSWORD}))
            .send()
            .await?
            .error_for_status()
            .with_context(|| format!("signing in the {role}"))?
            .json()
            .await?;
        let token = reply["access_token"]
            .as_str()
            .context("the token answer has no access_token")?;
        Ok(token.to_owned())
    }

    /// Sends a GET and reads its whole answer: the time from sending to the last byte, the
    /// status and the body (of any status).
    ///
    /// # Errors
    /// The request failed (no answer).
    pub async fn get_timed(
        &self,
        path: &str,
        token: &str,
        accept: Option<&str>,
    ) -> anyhow::Result<(Duration, reqwest::StatusCode, String)> {
        let mut request = self
            .client
            .get(self.url(path))
            .bearer_auth(token)
            .timeout(Duration::from_secs(900));
        if let Some(accept) = accept {
            request = request.header(reqwest::header::ACCEPT, accept);
        }
        let start = Instant::now();
        let response = request
            .send()
            .await
            .with_context(|| format!("GET {path}"))?;
        let status = response.status();
        let text = response.text().await?;
        Ok((start.elapsed(), status, text))
    }

    /// Streams a GET's answer without keeping it: the time to its last byte, its bytes and its
    /// lines.
    ///
    /// # Errors
    /// The request failed or was refused.
    pub async fn get_streamed(
        &self,
        path: &str,
        token: &str,
        accept: &str,
    ) -> anyhow::Result<(Duration, u64, u64)> {
        let start = Instant::now();
        let mut response = self
            .client
            .get(self.url(path))
            .bearer_auth(token)
            .header(reqwest::header::ACCEPT, accept)
            .timeout(Duration::from_secs(1800))
            .send()
            .await
            .with_context(|| format!("GET {path}"))?;
        if !response.status().is_success() {
            bail!("GET {path}: {}", response.status());
        }
        let (mut bytes, mut lines) = (0u64, 0u64);
        while let Some(chunk) = response.chunk().await? {
            bytes += chunk.len() as u64;
            lines += chunk.iter().filter(|b| **b == b'\n').count() as u64;
        }
        Ok((start.elapsed(), bytes, lines))
    }

    /// Sends one request and answers its JSON body; fails on anything but a 2xx.
    ///
    /// # Errors
    /// The request failed or was refused.
    pub async fn call(
        &self,
        method: reqwest::Method,
        path: &str,
        token: &str,
        body: Option<&Value>,
    ) -> anyhow::Result<Value> {
        let mut request = self
            .client
            .request(method.clone(), self.url(path))
            .bearer_auth(token);
        if let Some(body) = body {
            request = request.json(body);
        }
        let response = request.send().await?;
        let status = response.status();
        let text = response.text().await?;
        if !status.is_success() {
            bail!("{method} {path}: {status}: {text}");
        }
        Ok(serde_json::from_str(&text)?)
    }

    /// Resident memory now and at its peak, in MiB.
    pub fn memory(&self) -> anyhow::Result<(f64, f64)> {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id()))?;
        let kib = |field: &str| {
            status
                .lines()
                .find_map(|l| l.strip_prefix(field))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
                .with_context(|| format!("{field} missing from /proc/<pid>/status"))
        };
        Ok((kib("VmRSS:")? / 1024.0, kib("VmHWM:")? / 1024.0))
    }

    /// Stops the server as an operator would (SIGTERM) and waits for it.
    pub fn stop(mut self) {
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        let deadline = Instant::now() + Duration::from_secs(40);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The `rapport` binary: `explicit`, else the one beside the running binary (`make bench` and
/// `make soak` build both in release), after checking that it is there.
///
/// # Errors
/// There is no such file.
pub fn binary(explicit: Option<&Path>) -> anyhow::Result<PathBuf> {
    let binary = match explicit {
        Some(path) => path.to_owned(),
        None => std::env::current_exe()?
            .parent()
            .context("this binary has no folder")?
            .join("rapport"),
    };
    anyhow::ensure!(
        binary.is_file(),
        "no server binary at {} (build it with `cargo build --release -p rapport-server`, or pass --server)",
        binary.display()
    );
    Ok(binary)
}

/// A port nothing listens on now.
fn free_port() -> anyhow::Result<u16> {
    let listener = TcpListener::bind(SocketAddr::from(([127, 0, 0, 1], 0)))?;
    Ok(listener.local_addr()?.port())
}

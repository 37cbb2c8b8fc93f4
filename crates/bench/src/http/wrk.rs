//! Running `wrk` on a plan file and reading what its script prints.

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use anyhow::{Context, bail};
use serde::Deserialize;

/// The script, written next to the plans.
pub const SCRIPT: &str = include_str!("load.lua");

/// What one `wrk` run measured (its script's `done()` line).
#[derive(Debug, Clone, Copy, Deserialize)]
pub struct Outcome {
    pub requests: u64,
    pub duration_us: u64,
    pub p50_us: u64,
    pub p99_us: u64,
    pub max_us: u64,
    pub connect_errors: u64,
    pub read_errors: u64,
    pub write_errors: u64,
    /// Answers with a status of 400 or above.
    pub status_errors: u64,
    pub timeouts: u64,
}

impl Outcome {
    pub fn per_second(&self) -> f64 {
        self.requests as f64 / (self.duration_us as f64 / 1e6).max(f64::EPSILON)
    }

    pub fn errors(&self) -> u64 {
        self.connect_errors
            + self.read_errors
            + self.write_errors
            + self.status_errors
            + self.timeouts
    }
}

/// Fails early, with what to do, when `wrk` is missing.
///
/// # Errors
/// `wrk` does not run.
pub fn check_installed() -> anyhow::Result<()> {
    match Command::new("wrk").arg("--version").output() {
        Ok(_) => Ok(()),
        Err(_) => bail!(
            "the HTTP benchmark needs wrk: `apt-get install wrk` (Debian, Ubuntu) or `brew install wrk`; \
             or run with --no-http"
        ),
    }
}

/// Replays `plan` against `base` for `duration` over `connections` connections, from one
/// thread (the server has the other core).
///
/// # Errors
/// `wrk` failed or printed no result.
pub fn run(
    script: &Path,
    plan: &Path,
    base: &str,
    connections: u32,
    duration: Duration,
) -> anyhow::Result<Outcome> {
    let output = Command::new("wrk")
        .args(["-t", "1", "-c", &connections.to_string()])
        .args(["-d", &format!("{}s", duration.as_secs().max(1))])
        .args(["--timeout", "10s", "-s"])
        .arg(script)
        .arg(base)
        .arg("--")
        .arg(plan)
        .output()
        .context("running wrk")?;
    let stdout = String::from_utf8_lossy(&output.stdout);
    if !output.status.success() {
        bail!(
            "wrk failed: {}{}",
            stdout,
            String::from_utf8_lossy(&output.stderr)
        );
    }
    let line = stdout
        .lines()
        .rev()
        .find(|l| l.starts_with('{'))
        .with_context(|| format!("wrk printed no result: {stdout}"))?;
    serde_json::from_str(line).with_context(|| format!("reading wrk's result {line:?}"))
}

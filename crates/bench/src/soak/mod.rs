//! The soak (`make soak`, issue 17): the release server on a fresh database, a world made
//! through its API ([`setup`]), then virtual users of several roles sending a mixed load in a
//! closed loop for a bounded time ([`user`]) while the server's resident memory is sampled.
//!
//! It fails (see [`Report::gates`]) on any 5xx or transport error, on any other non-2xx
//! (every request of the mix is one that should succeed, so a load of 401s or 404s cannot pass
//! for a fast one), on an overall p99 above 100 ms, and on resident memory growing by more
//! than 20% from the reference sample to the last. The reference is the sample at the end of
//! the second minute; a run shorter than three minutes (CI's one minute) has no settled second
//! minute, so it uses the sample at 40% of the run instead.

pub mod setup;
pub mod stats;
mod user;

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::Context;
use serde_json::{Value, json};

use self::stats::{Failure, Kind, Summary};
use self::user::{Shared, VirtualUser};
use crate::http::server::{PASSWORD, Server};
use crate::report::thousands;

/// The highest p99 of all requests that passes.
pub const P99_LIMIT_MS: f64 = 100.0;
/// The most resident memory may grow from the reference sample to the last.
pub const RSS_GROWTH_LIMIT: f64 = 0.20;
/// Progress is printed this often.
const PROGRESS_EVERY: Duration = Duration::from_secs(30);

/// How the soak runs.
pub struct Settings {
    /// The `rapport` binary.
    pub binary: PathBuf,
    pub duration: Duration,
    pub users: usize,
    pub customers: usize,
    pub seed: u64,
    /// How often the server's resident memory is read.
    pub sample_every: Duration,
    /// Where the server's data folder and log go.
    pub dir: PathBuf,
}

/// When the reference memory sample is taken: the end of the second minute, or for a run
/// shorter than three minutes, 40% of the way.
pub fn reference_at(duration: Duration) -> Duration {
    if duration >= Duration::from_secs(180) {
        Duration::from_secs(120)
    } else {
        duration.mul_f64(0.4)
    }
}

/// The server's resident memory at a time of the load.
#[derive(Debug, Clone, Copy)]
pub struct RssSample {
    pub at: Duration,
    pub mib: f64,
}

/// What one soak measured.
pub struct Report {
    pub backend: &'static str,
    pub users: usize,
    pub customers: usize,
    pub seeding: Duration,
    /// From the first request to the last answer.
    pub elapsed: Duration,
    pub rows: Vec<(Option<Kind>, Summary)>,
    pub failures: Vec<Failure>,
    pub samples: Vec<RssSample>,
    pub reference: RssSample,
    pub last: RssSample,
    /// `VmHWM` at the end.
    pub peak_mib: f64,
}

impl Report {
    fn all(&self) -> Summary {
        self.rows
            .iter()
            .find(|(kind, _)| kind.is_none())
            .map(|(_, s)| *s)
            .unwrap_or_default()
    }

    pub fn growth(&self) -> f64 {
        (self.last.mib - self.reference.mib) / self.reference.mib.max(f64::EPSILON)
    }

    pub fn per_second(&self) -> f64 {
        self.all().requests as f64 / self.elapsed.as_secs_f64().max(f64::EPSILON)
    }

    /// The gates that failed, each with its reason; empty when the soak passed.
    pub fn gates(&self) -> Vec<String> {
        let all = self.all();
        let mut failed = Vec::new();
        if all.server_errors + all.transport_errors > 0 {
            failed.push(format!(
                "{}: {} 5xx answers and {} requests with no answer",
                self.backend, all.server_errors, all.transport_errors
            ));
        }
        if all.client_errors > 0 {
            failed.push(format!(
                "{}: {} 4xx answers to requests that should succeed",
                self.backend, all.client_errors
            ));
        }
        if all.requests == 0 {
            failed.push(format!("{}: no request was sent", self.backend));
        }
        if all.p99_ms > P99_LIMIT_MS {
            failed.push(format!(
                "{}: p99 {:.1} ms is above {P99_LIMIT_MS:.0} ms",
                self.backend, all.p99_ms
            ));
        }
        if self.growth() > RSS_GROWTH_LIMIT {
            failed.push(format!(
                "{}: resident memory grew {:+.1}% ({:.1} MiB at {:.0} s, {:.1} MiB at {:.0} s), more than {:.0}%",
                self.backend,
                self.growth() * 100.0,
                self.reference.mib,
                self.reference.at.as_secs_f64(),
                self.last.mib,
                self.last.at.as_secs_f64(),
                RSS_GROWTH_LIMIT * 100.0
            ));
        }
        failed
    }

    pub fn print(&self) {
        let b = self.backend;
        println!(
            "\n## {b}: soak of {:.0} s, {} virtual users, {} customers seeded in {:.1} s\n",
            self.elapsed.as_secs_f64(),
            self.users,
            thousands(self.customers as u64),
            self.seeding.as_secs_f64()
        );
        println!(
            "| request | count | p50 ms | p95 ms | p99 ms | max ms | 4xx | 5xx | no answer |\n|---|---:|---:|---:|---:|---:|---:|---:|---:|"
        );
        for (kind, s) in &self.rows {
            println!(
                "| {} | {} | {:.1} | {:.1} | {:.1} | {:.1} | {} | {} | {} |",
                kind.map_or("all", Kind::name),
                thousands(s.requests),
                s.p50_ms,
                s.p95_ms,
                s.p99_ms,
                s.max_ms,
                s.client_errors,
                s.server_errors,
                s.transport_errors
            );
        }
        let all = self.all();
        println!(
            "\n{b}: {} requests in {:.1} s: {:.0}/s; p99 {:.1} ms (limit {P99_LIMIT_MS:.0})",
            thousands(all.requests),
            self.elapsed.as_secs_f64(),
            self.per_second(),
            all.p99_ms
        );
        println!(
            "{b}: RSS {:.1} MiB at {:.0} s (reference), {:.1} MiB at the end ({:.0} s): {:+.1}% (limit +{:.0}%); peak {:.1} MiB",
            self.reference.mib,
            self.reference.at.as_secs_f64(),
            self.last.mib,
            self.last.at.as_secs_f64(),
            self.growth() * 100.0,
            RSS_GROWTH_LIMIT * 100.0,
            self.peak_mib
        );
        // About a dozen points: every sample is in the JSON file.
        let stride = self.samples.len().div_ceil(12).max(1);
        let every: Vec<String> = self
            .samples
            .iter()
            .enumerate()
            .filter(|(i, _)| i % stride == 0 || *i == self.samples.len() - 1)
            .map(|(_, s)| format!("{:.0} s {:.1}", s.at.as_secs_f64(), s.mib))
            .collect();
        println!("{b}: RSS MiB over time: {}", every.join(", "));
        if !self.failures.is_empty() {
            println!("{b}: the first failed requests (up to ten a user are in the JSON file):");
            for f in self.failures.iter().take(20) {
                println!(
                    "  at {:.1} s: {}: {}: {}",
                    f.at.as_secs_f64(),
                    f.request,
                    f.status.map_or("no answer".to_owned(), |s| s.to_string()),
                    f.body
                );
            }
        }
    }

    pub fn to_json(&self) -> Value {
        json!({
            "backend": self.backend,
            "users": self.users,
            "customers": self.customers,
            "seconds": self.elapsed.as_secs_f64(),
            "requests_per_second": self.per_second(),
            "requests": self.rows.iter().map(|(kind, s)| {
                let mut row = s.to_json();
                row["kind"] = json!(kind.map_or("all", Kind::name));
                row
            }).collect::<Vec<_>>(),
            "rss_mib": self.samples.iter().map(|s| json!([s.at.as_secs_f64(), s.mib])).collect::<Vec<_>>(),
            "rss_reference": {"at_s": self.reference.at.as_secs_f64(), "mib": self.reference.mib},
            "rss_last": {"at_s": self.last.at.as_secs_f64(), "mib": self.last.mib},
            "rss_growth": self.growth(),
            "rss_peak_mib": self.peak_mib,
            "failures": self.failures.iter().map(|f| json!({
                "at_s": f.at.as_secs_f64(), "request": f.request, "status": f.status, "body": f.body,
            })).collect::<Vec<_>>(),
            "failed_gates": self.gates(),
        })
    }
}

/// Starts the server on `url`, soaks it and stops it.
///
/// # Errors
/// The server did not start or died, or the setup failed.
pub async fn run(backend: &'static str, url: &str, settings: &Settings) -> anyhow::Result<Report> {
    let dir = settings.dir.join(backend);
    // A fresh data folder each run: the SQLite database lives elsewhere, but generated
    // secrets and exports would otherwise carry over.
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    let server = Server::start(&settings.binary, url, &dir).await?;
    println!(
        "  {backend}: the server was ready in {:.0} ms; its log: {}",
        server.start_to_ready.as_secs_f64() * 1e3,
        dir.join("server.log").display()
    );
    let result = soak(backend, &server, settings).await;
    server.stop();
    result
}

async fn soak(
    backend: &'static str,
    server: &Server,
    settings: &Settings,
) -> anyhow::Result<Report> {
    const ADMIN: &str = "admin@soak.rapport.example";
    let admin = server.sign_in("admin", ADMIN).await?;
    let seeding = Instant::now();
    let world = setup::build(
        server,
        &admin,
        ADMIN,
        PASSWORD,
        settings.customers,
        settings.seed,
    )
    .await?;
    let seeding = seeding.elapsed();
    println!(
        "  {backend}: seeded {} customers over two teams in {:.1} s",
        thousands(world.customers.len() as u64),
        seeding.as_secs_f64()
    );
    let shared = Arc::new(Shared {
        client: reqwest::Client::new(),
        base: server.base.clone(),
        password: PASSWORD.to_owned(),
        sent: AtomicU64::new(0),
    });
    let mut users = Vec::with_capacity(settings.users);
    for n in 0..settings.users {
        users.push(VirtualUser::sign_in(n, &world, shared.clone(), settings.seed).await?);
    }
    let roles: Vec<&str> = (0..settings.users)
        .map(|n| world.account_for(n).role.name())
        .collect();
    println!(
        "  {backend}: {} virtual users ({}) for {} s",
        settings.users,
        roles.join(", "),
        settings.duration.as_secs()
    );

    let started = Instant::now();
    let deadline = started + settings.duration;
    let mut running = tokio::task::JoinSet::new();
    for user in users {
        running.spawn(user.run(started, deadline));
    }
    let sample = |server: &Server| -> anyhow::Result<RssSample> {
        let (mib, _) = server.memory().with_context(|| {
            format!(
                "the server is gone; see {}",
                settings.dir.join(backend).join("server.log").display()
            )
        })?;
        Ok(RssSample {
            at: started.elapsed(),
            mib,
        })
    };
    let mut samples = vec![sample(server)?];
    let mut next_progress = PROGRESS_EVERY;
    // The sample at the deadline is taken after the users stop, as the last.
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        tokio::time::sleep(settings.sample_every.min(left)).await;
        if Instant::now() >= deadline {
            break;
        }
        let s = sample(server)?;
        samples.push(s);
        if s.at >= next_progress {
            next_progress += PROGRESS_EVERY;
            println!(
                "  {backend}: {:>4.0} s: {} requests, RSS {:.1} MiB",
                s.at.as_secs_f64(),
                thousands(shared.sent.load(Ordering::Relaxed)),
                s.mib
            );
        }
    }
    let mut stats = stats::Stats::default();
    while let Some(done) = running.join_next().await {
        stats.merge(done.context("a virtual user panicked")?);
    }
    let elapsed = started.elapsed();
    let last = sample(server)?;
    samples.push(last);
    let (_, peak_mib) = server.memory()?;
    let reference_time = reference_at(settings.duration);
    let reference = samples
        .iter()
        .find(|s| s.at >= reference_time)
        .copied()
        .unwrap_or(last);
    Ok(Report {
        backend,
        users: settings.users,
        customers: world.customers.len(),
        seeding,
        elapsed,
        rows: stats.summaries(),
        failures: stats.failures,
        samples,
        reference,
        last,
        peak_mib,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_reference_is_the_second_minute_or_forty_percent() {
        assert_eq!(
            reference_at(Duration::from_secs(300)),
            Duration::from_secs(120)
        );
        assert_eq!(
            reference_at(Duration::from_secs(180)),
            Duration::from_secs(120)
        );
        assert_eq!(
            reference_at(Duration::from_secs(60)),
            Duration::from_secs(24)
        );
    }
}

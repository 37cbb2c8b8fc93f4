//! The HTTP benchmark: the release `rapport` binary serves the seeded database, and `wrk`
//! drives each scenario at fixed connection counts. Reads are compared with `/health/live` of
//! the same run, the server's own ceiling on this machine.

mod plan;
pub mod reports;
pub mod server;
pub mod wrk;

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::Context;
use reqwest::Method;
use serde_json::json;
use uuid::Uuid;

pub use self::plan::Inputs;
use self::plan::Plan;
pub use self::server::ENCRYPTION_KEY;
use self::server::Server;
use self::wrk::Outcome;

/// How the HTTP part runs.
pub struct Settings {
    pub binary: PathBuf,
    pub duration: Duration,
    pub connections: Vec<u32>,
    /// Where plans, the script and the server's log go.
    pub dir: PathBuf,
}

/// Whether a scenario reads (and is compared with `/health/live`) or writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Ceiling,
    Read,
    Write,
    Mixed,
}

/// One line of the HTTP table.
#[derive(Debug, Clone)]
pub struct HttpRow {
    pub backend: &'static str,
    pub scenario: &'static str,
    pub connections: u32,
    pub outcome: Outcome,
    /// Requests/s as a share of `/health/live` at the same connection count.
    pub ratio: Option<f64>,
    pub target: Option<(String, bool)>,
}

/// What the HTTP part measured on one backend.
pub struct HttpReport {
    pub rows: Vec<HttpRow>,
    pub start_to_ready: Duration,
    /// Resident memory once ready, before any request.
    pub rss_start_mib: f64,
    /// After the setup's sign-ins and creates, before the load.
    pub rss_idle_mib: f64,
    pub rss_peak_mib: f64,
    pub export: ExportRun,
}

/// The whole customer list exported as NDJSON, before any load: its size, its time, and the
/// server's peak memory once it is done (the peak since start, so the export's own).
#[derive(Debug, Clone, Copy)]
pub struct ExportRun {
    pub lines: u64,
    pub bytes: u64,
    pub elapsed: Duration,
    pub rss_peak_mib: f64,
}

/// The most resident memory exporting every customer may take (issue 11).
const EXPORT_PEAK_TARGET_MIB: f64 = 150.0;

impl ExportRun {
    fn met(&self) -> bool {
        self.rss_peak_mib < EXPORT_PEAK_TARGET_MIB
    }

    fn line(&self, backend: &str) -> String {
        format!(
            "{backend}: export of every customer (NDJSON): {} lines, {:.1} MB in {:.1} s; server peak RSS {:.1} MiB (target < {EXPORT_PEAK_TARGET_MIB:.0}): {}",
            self.lines,
            self.bytes as f64 / 1e6,
            self.elapsed.as_secs_f64(),
            self.rss_peak_mib,
            if self.met() { "met" } else { "MISSED" }
        )
    }
}

/// Exports every customer as the admin and reads the server's peak memory after.
async fn export_all(server: &Server, admin: &str) -> anyhow::Result<ExportRun> {
    let (elapsed, bytes, lines) = server
        .get_streamed("/v1/exports/customers", admin, "application/x-ndjson")
        .await?;
    let (_, rss_peak_mib) = server.memory()?;
    Ok(ExportRun {
        lines,
        bytes,
        elapsed,
        rss_peak_mib,
    })
}

/// Starts the server on `url`, runs every scenario and stops it.
///
/// # Errors
/// The server, the setup or `wrk` failed.
pub async fn run(
    backend: &'static str,
    url: &str,
    inputs: &Inputs,
    settings: &Settings,
) -> anyhow::Result<HttpReport> {
    let dir = settings.dir.join(backend);
    std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    let script = dir.join("load.lua");
    std::fs::write(&script, wrk::SCRIPT)?;
    let server = Server::start(&settings.binary, url, &dir).await?;
    println!(
        "  {backend}: HTTP: the server was ready {:.0} ms after it started",
        server.start_to_ready.as_secs_f64() * 1e3
    );
    let result = measure(backend, &server, inputs, settings, &dir, &script).await;
    server.stop();
    result
}

async fn measure(
    backend: &'static str,
    server: &Server,
    inputs: &Inputs,
    settings: &Settings,
    dir: &Path,
    script: &Path,
) -> anyhow::Result<HttpReport> {
    let (rss_start_mib, _) = server.memory()?;
    let tokens = server.tokens().await?;
    let own = rep_customers(server, &tokens.rep).await?;
    let (rss_idle_mib, _) = server.memory()?;
    let export = export_all(server, &tokens.admin).await?;
    println!("  {}", export.line(backend));
    let tokens = [tokens.admin, tokens.marketing, tokens.rep];
    let mut rows: Vec<HttpRow> = Vec::new();
    for (round, &connections) in settings.connections.iter().enumerate() {
        let writes = inputs.write_slices(round);
        let scenarios: Vec<(&'static str, Kind, Plan)> = vec![
            ("GET /health/live", Kind::Ceiling, Plan::health()),
            ("get by id", Kind::Read, inputs.gets()),
            (
                "list page 1 (stage=customer)",
                Kind::Read,
                inputs.first_page(),
            ),
            (
                "list deep page (stage=customer)",
                Kind::Read,
                inputs.deep_page(),
            ),
            ("q: Chinese fragment", Kind::Read, inputs.search(0)),
            ("q: English prefix", Kind::Read, inputs.search(1)),
            ("q: phone", Kind::Read, inputs.search(2)),
            ("q: email", Kind::Read, inputs.search(3)),
            ("q: pinyin", Kind::Read, inputs.search(4)),
            ("q: phone tail", Kind::Read, inputs.search(5)),
            ("q: inside a word", Kind::Read, inputs.search(6)),
            (
                "create with a contact",
                Kind::Write,
                inputs.creates(writes.phone_digit),
            ),
            (
                "PATCH with If-Match",
                Kind::Write,
                Plan::patches(writes.patch),
            ),
            (
                "mixed: 80% reads, 3 roles",
                Kind::Mixed,
                inputs.mixed(&own, writes.mixed, writes.mixed_phone_digit),
            ),
        ];
        let mut ceiling = None;
        for (name, kind, plan) in scenarios {
            let file = plan.write(dir, name, connections, &tokens)?;
            let outcome = wrk::run(script, &file, &server.base, connections, settings.duration)
                .with_context(|| format!("{name} at {connections} connections"))?;
            if kind == Kind::Ceiling {
                ceiling = Some(outcome.per_second());
            }
            let ratio = match kind {
                Kind::Read | Kind::Mixed => ceiling.map(|c| outcome.per_second() / c),
                Kind::Ceiling | Kind::Write => None,
            };
            let row = HttpRow {
                backend,
                scenario: name,
                connections,
                outcome,
                ratio,
                target: target(backend, name, kind, connections, &outcome, ratio),
            };
            println!("{}", row.line());
            rows.push(row);
        }
    }
    let (_, rss_peak_mib) = server.memory()?;
    Ok(HttpReport {
        rows,
        start_to_ready: server.start_to_ready,
        rss_start_mib,
        rss_idle_mib,
        rss_peak_mib,
        export,
    })
}

/// The sales rep's own customers, made through the API: what its reads in the mixed load get.
async fn rep_customers(server: &Server, token: &str) -> anyhow::Result<Vec<Uuid>> {
    let mut ids = Vec::new();
    for i in 0..20 {
        let body = json!({
            "name": format!("Rep Account {i:02}"),
            "contacts": [{"first_name": "Mei", "last_name": format!("Rep{i:02}"),
                          "emails": [{"address": format!("rep{i:02}@own.rapport.example")}]}]
        });
        let created = server
            .call(Method::POST, "/v1/customers", token, Some(&body))
            .await?;
        let id = created["id"]
            .as_str()
            .and_then(|s| s.parse().ok())
            .context("a created customer has no id")?;
        ids.push(id);
    }
    Ok(ids)
}

/// The targets: searches at every connection count, the rest at 32 connections.
fn target(
    backend: &str,
    name: &str,
    kind: Kind,
    connections: u32,
    outcome: &Outcome,
    ratio: Option<f64>,
) -> Option<(String, bool)> {
    let p99_ms = outcome.p99_us as f64 / 1e3;
    let clean = outcome.errors() == 0;
    if name.starts_with("q:") {
        return Some(("p99 < 50 ms, no errors".to_owned(), p99_ms < 50.0 && clean));
    }
    if connections != 32 || kind == Kind::Ceiling {
        return None;
    }
    let sqlite = backend == "sqlite";
    let share = |min: f64| {
        let ratio = ratio.unwrap_or(0.0);
        (
            format!(
                "≥ {:.0}% of /health/live, p99 < 20 ms, no errors",
                min * 100.0
            ),
            ratio >= min && p99_ms < 20.0 && clean,
        )
    };
    Some(match (kind, name) {
        (Kind::Read, "get by id") => share(if sqlite { 0.20 } else { 0.10 }),
        (Kind::Read, n) if n.starts_with("list") => share(if sqlite { 0.10 } else { 0.05 }),
        (Kind::Write, "create with a contact") => {
            let min = if sqlite { 3000.0 } else { 1500.0 };
            (
                format!("≥ {min:.0}/s, p99 < 50 ms, no errors"),
                outcome.per_second() >= min && p99_ms < 50.0 && clean,
            )
        }
        _ => ("no errors".to_owned(), clean),
    })
}

impl HttpRow {
    /// The row as a line of the Markdown table.
    pub fn line(&self) -> String {
        let o = &self.outcome;
        let ratio = self
            .ratio
            .map_or_else(String::new, |r| format!("{:.1}%", r * 100.0));
        let target = match &self.target {
            Some((what, true)) => format!("met: {what}"),
            Some((what, false)) => format!("MISSED: {what}"),
            None => String::new(),
        };
        format!(
            "| {} | {} | {} | {:.0} | {:.2} | {:.2} | {} | {} | {} |",
            self.backend,
            self.scenario,
            self.connections,
            o.per_second(),
            o.p50_us as f64 / 1e3,
            o.p99_us as f64 / 1e3,
            o.errors(),
            ratio,
            target
        )
    }

    pub fn to_json(&self) -> serde_json::Value {
        let o = &self.outcome;
        json!({
            "backend": self.backend,
            "scenario": self.scenario,
            "connections": self.connections,
            "requests": o.requests,
            "requests_per_second": o.per_second(),
            "p50_ms": o.p50_us as f64 / 1e3,
            "p99_ms": o.p99_us as f64 / 1e3,
            "max_ms": o.max_us as f64 / 1e3,
            "errors": o.errors(),
            "status_errors": o.status_errors,
            "share_of_health_live": self.ratio,
            "target": self.target.as_ref().map(|(what, met)| json!({"what": what, "met": met})),
        })
    }
}

impl HttpReport {
    /// Start-up time and memory, one line.
    pub fn summary(&self) -> String {
        let backend = self.rows.first().map_or("?", |r| r.backend);
        format!(
            "{backend}: start to ready {:.0} ms (target < 1,000); RSS idle {:.1} MiB at start and {:.1} MiB after the setup's sign-ins (target < 40), peak {:.1} MiB (target < 200)",
            self.start_to_ready.as_secs_f64() * 1e3,
            self.rss_start_mib,
            self.rss_idle_mib,
            self.rss_peak_mib
        ) + "\n"
            + &self.export.line(backend)
    }

    pub fn to_json(&self) -> serde_json::Value {
        json!({
            "backend": self.rows.first().map(|r| r.backend),
            "start_to_ready_ms": self.start_to_ready.as_secs_f64() * 1e3,
            "rss_start_mib": self.rss_start_mib,
            "rss_idle_mib": self.rss_idle_mib,
            "rss_peak_mib": self.rss_peak_mib,
            "export": {
                "lines": self.export.lines,
                "bytes": self.export.bytes,
                "seconds": self.export.elapsed.as_secs_f64(),
                "rss_peak_mib": self.export.rss_peak_mib,
                "target_mib": EXPORT_PEAK_TARGET_MIB,
                "met": self.export.met(),
            },
            "rows": self.rows.iter().map(HttpRow::to_json).collect::<Vec<_>>(),
        })
    }
}

/// The header of the table [`HttpRow::line`] writes.
pub const TABLE_HEADER: &str = "| backend | scenario | conns | req/s | p50 ms | p99 ms | errors | × /health/live | target |\n|---|---|---:|---:|---:|---:|---:|---:|---|";

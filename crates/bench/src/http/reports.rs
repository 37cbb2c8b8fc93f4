//! The reports over HTTP: the release server on the seeded database, without background jobs
//! (`RAPPORT_JOB_WORKERS=0`, so that a start-up job does not share the two cores with the
//! reports), answers each report of a one-year range to an admin, one call at a time. Each
//! answer must be a 200 whose figures match what was seeded; then a warm-up and the timed
//! calls give the median and the maximum, held to 2 s.

use std::path::Path;
use std::time::Duration;

use anyhow::Context;
use chrono::{DateTime, SecondsFormat, Utc};
use serde_json::{Value, json};

use super::server::Server;
use crate::history::Facts;
use crate::report::thousands;

/// Every report answers within this (its slowest timed call).
pub const TARGET_MS: f64 = 2_000.0;
/// A first answer this slow gets two timed calls instead of `samples`.
const SLOW: Duration = Duration::from_secs(30);

/// What to ask and what the answers should say.
pub struct Plan<'a> {
    pub from: DateTime<Utc>,
    pub to: DateTime<Utc>,
    pub facts: &'a Facts,
    /// Timed calls per report (after one warm-up).
    pub samples: usize,
}

/// One report's timings.
#[derive(Debug, Clone)]
pub struct ReportRow {
    pub backend: &'static str,
    pub name: &'static str,
    pub path: String,
    pub times_ms: Vec<f64>,
    pub median_ms: f64,
    pub max_ms: f64,
    /// What the answer said (the figures checked), or what was wrong with it.
    pub answer: String,
    /// The answer was not a 200, or its figures were not the seeded ones.
    pub failed: bool,
    /// Held to [`TARGET_MS`] (the duplicates list is only measured).
    pub held: bool,
}

impl ReportRow {
    pub fn missed(&self) -> bool {
        self.held && self.max_ms >= TARGET_MS
    }

    fn target(&self) -> String {
        if self.failed {
            "FAILED".to_owned()
        } else if !self.held {
            "(measured only)".to_owned()
        } else if self.missed() {
            "**MISSED**: max < 2,000 ms".to_owned()
        } else {
            "met: max < 2,000 ms".to_owned()
        }
    }

    /// The row as a line of the Markdown table.
    pub fn line(&self) -> String {
        format!(
            "| {} | {} | {:.1} | {:.1} | {} | {} | {} |",
            self.backend,
            self.name,
            self.median_ms,
            self.max_ms,
            self.times_ms.len(),
            self.answer,
            self.target()
        )
    }

    pub fn to_json(&self) -> Value {
        json!({
            "backend": self.backend,
            "report": self.name,
            "path": self.path,
            "times_ms": self.times_ms,
            "median_ms": self.median_ms,
            "max_ms": self.max_ms,
            "answer": self.answer,
            "failed": self.failed,
            "target": self.held.then_some("max < 2000 ms"),
            "target_met": self.held.then_some(!self.missed() && !self.failed),
        })
    }
}

/// The header of the table [`ReportRow::line`] writes.
pub const TABLE_HEADER: &str = "| backend | report (one-year range, as admin) | median ms | max ms | n | answer | target |\n|---|---|---:|---:|---:|---|---|";

/// How an answer is checked: its figures against the seeded ones, in a few words.
type Check = fn(&Answer, &Facts) -> Result<String, String>;

/// A report's answer.
enum Answer {
    Json(Value),
    Csv(String),
}

struct Call {
    name: &'static str,
    path: String,
    csv: bool,
    held: bool,
    check: Check,
}

fn json_of(answer: &Answer) -> Result<&Value, String> {
    match answer {
        Answer::Json(v) => Ok(v),
        Answer::Csv(_) => Err("CSV instead of JSON".to_owned()),
    }
}

fn int(v: &Value, pointer: &str) -> Result<i64, String> {
    v.pointer(pointer)
        .and_then(Value::as_i64)
        .ok_or_else(|| format!("no {pointer} in the answer"))
}

/// `got` must be `want`: the figure in words, or the mismatch.
fn same(what: &str, got: i64, want: i64) -> Result<String, String> {
    if got == want {
        Ok(format!("{what} {}", thousands(got.unsigned_abs())))
    } else {
        Err(format!("{what} {got}, seeded {want}"))
    }
}

fn pipeline(answer: &Answer, facts: &Facts) -> Result<String, String> {
    let v = json_of(answer)?;
    let totals = v["totals"].as_array().ok_or("no totals")?;
    let count: i64 = totals.iter().filter_map(|t| t["count"].as_i64()).sum();
    let rows = v["rows"].as_array().map_or(0, Vec::len);
    Ok(format!(
        "{}, {rows} rows",
        same("opportunities", count, facts.opportunities)?
    ))
}

fn distribution(answer: &Answer, facts: &Facts) -> Result<String, String> {
    let v = json_of(answer)?;
    let rows = v["rows"].as_array().map_or(0, Vec::len);
    Ok(format!(
        "{}, {rows} groups",
        same("customers", int(v, "/total")?, facts.customers)?
    ))
}

fn lead_response(answer: &Answer, facts: &Facts) -> Result<String, String> {
    let v = json_of(answer)?;
    let groups = v["groups"].as_array().map_or(0, Vec::len);
    Ok(format!(
        "{}, {groups} owners",
        same("leads", int(v, "/total/leads")?, facts.leads)?
    ))
}

fn sales(answer: &Answer, facts: &Facts) -> Result<String, String> {
    let v = json_of(answer)?;
    Ok(format!(
        "{}, {}, {}, {}",
        same(
            "created",
            int(v, "/total/created")?,
            facts.opportunities_created
        )?,
        same("won", int(v, "/total/won")?, facts.won)?,
        same("lost", int(v, "/total/lost")?, facts.lost)?,
        same("activities", int(v, "/total/activities")?, facts.activities)?
    ))
}

fn sales_csv(answer: &Answer, facts: &Facts) -> Result<String, String> {
    let Answer::Csv(text) = answer else {
        return Err("JSON instead of CSV".to_owned());
    };
    let mut lines = text.lines();
    let header: Vec<&str> = lines.next().unwrap_or("").split(',').collect();
    let column = header
        .iter()
        .position(|h| *h == "created")
        .ok_or("no created column")?;
    let total = lines
        .find(|l| l.starts_with("total,"))
        .ok_or("no total line")?;
    let created = total
        .split(',')
        .nth(column)
        .and_then(|c| c.parse::<i64>().ok())
        .ok_or("no created figure")?;
    Ok(format!(
        "{}, {} lines",
        same("created", created, facts.opportunities_created)?,
        text.lines().count()
    ))
}

fn service_levels(answer: &Answer, facts: &Facts) -> Result<String, String> {
    let v = json_of(answer)?;
    let periods = v["periods"].as_array().map_or(0, Vec::len);
    let met = int(v, "/total/first_response/met")?;
    let missed = int(v, "/total/first_response/missed")?;
    Ok(format!(
        "{}, {periods} months, first response met {} / missed {}",
        same("tickets", int(v, "/total/tickets")?, facts.tickets)?,
        thousands(met.unsigned_abs()),
        thousands(missed.unsigned_abs())
    ))
}

fn satisfaction(answer: &Answer, _: &Facts) -> Result<String, String> {
    json_of(answer)?;
    Ok("no surveys seeded".to_owned())
}

fn duplicates(answer: &Answer, _: &Facts) -> Result<String, String> {
    let v = json_of(answer)?;
    let groups = v["data"].as_array().ok_or("no data")?;
    let members: usize = groups
        .iter()
        .filter_map(|g| g["customers"].as_array().map(Vec::len))
        .sum();
    Ok(format!("{} groups of {members} customers", groups.len()))
}

fn calls(plan: &Plan<'_>) -> Vec<Call> {
    let time = |t: DateTime<Utc>| t.to_rfc3339_opts(SecondsFormat::Secs, true);
    let range = format!("from={}&to={}", time(plan.from), time(plan.to));
    let call = |name, path: String, check: Check| Call {
        name,
        path,
        csv: false,
        held: true,
        check,
    };
    vec![
        call("pipeline", "/v1/reports/pipeline".to_owned(), pipeline),
        call(
            "pipeline ?by=owner,month",
            "/v1/reports/pipeline?by=owner,month".to_owned(),
            pipeline,
        ),
        call(
            "customer-distribution ?by=industry,grade",
            format!("/v1/reports/customer-distribution?by=industry,grade&{range}"),
            distribution,
        ),
        call(
            "lead-response ?group_by=owner",
            format!("/v1/reports/lead-response?{range}&group_by=owner"),
            lead_response,
        ),
        call(
            "sales-performance ?group_by=owner",
            format!("/v1/reports/sales-performance?{range}&group_by=owner"),
            sales,
        ),
        Call {
            csv: true,
            ..call(
                "sales-performance ?group_by=owner, CSV",
                format!("/v1/reports/sales-performance?{range}&group_by=owner"),
                sales_csv,
            )
        },
        call(
            "service-levels ?period=month",
            format!("/v1/reports/service-levels?{range}&period=month"),
            service_levels,
        ),
        call(
            "satisfaction",
            format!("/v1/reports/satisfaction?{range}"),
            satisfaction,
        ),
        Call {
            held: false,
            ..call(
                "customers/duplicates ?limit=50 (page 1)",
                "/v1/customers/duplicates?limit=50".to_owned(),
                duplicates,
            )
        },
    ]
}

/// The value at the middle of sorted values (of two middle ones, their mean).
fn median(sorted: &[f64]) -> f64 {
    match sorted.len() {
        0 => f64::NAN,
        n if n % 2 == 1 => sorted[n / 2],
        n => f64::midpoint(sorted[n / 2 - 1], sorted[n / 2]),
    }
}

/// Starts the server on `url` without background jobs, times every report and stops it.
///
/// # Errors
/// The server did not start or an admin could not sign in. A report that answers other than
/// 200, or with other figures than seeded, is a failed row (the caller fails the run).
pub async fn run(
    backend: &'static str,
    url: &str,
    binary: &Path,
    dir: &Path,
    plan: &Plan<'_>,
) -> anyhow::Result<Vec<ReportRow>> {
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    let server = Server::start_with(binary, url, dir, &[("RAPPORT_JOB_WORKERS", "0")]).await?;
    println!(
        "  {backend}: reports: the server (no background jobs) was ready {:.0} ms after it started; log in {}",
        server.start_to_ready.as_secs_f64() * 1e3,
        dir.join("server.log").display()
    );
    let result = time_all(backend, &server, plan).await;
    server.stop();
    result
}

async fn time_all(
    backend: &'static str,
    server: &Server,
    plan: &Plan<'_>,
) -> anyhow::Result<Vec<ReportRow>> {
    let token = server
        .sign_in("admin", "admin@reports.rapport.example")
        .await?;
    println!("\n{TABLE_HEADER}");
    let mut rows = Vec::new();
    for call in calls(plan) {
        let row = time_one(backend, server, &token, &call, plan).await?;
        println!("{}", row.line());
        rows.push(row);
    }
    Ok(rows)
}

async fn time_one(
    backend: &'static str,
    server: &Server,
    token: &str,
    call: &Call,
    plan: &Plan<'_>,
) -> anyhow::Result<ReportRow> {
    let accept = call.csv.then_some("text/csv");
    let mut row = ReportRow {
        backend,
        name: call.name,
        path: call.path.clone(),
        times_ms: Vec::new(),
        median_ms: f64::NAN,
        max_ms: f64::NAN,
        answer: String::new(),
        failed: false,
        held: call.held,
    };
    // The warm-up, whose answer is checked.
    let (took, status, body) = server.get_timed(&call.path, token, accept).await?;
    let checked = if status != reqwest::StatusCode::OK {
        Err(format!(
            "{status}: {}",
            body.chars().take(200).collect::<String>()
        ))
    } else if call.csv {
        (call.check)(&Answer::Csv(body), plan.facts)
    } else {
        match serde_json::from_str::<Value>(&body) {
            Ok(v) => (call.check)(&Answer::Json(v), plan.facts),
            Err(e) => Err(format!("not JSON: {e}")),
        }
    };
    match checked {
        Ok(said) => row.answer = said,
        Err(problem) => {
            row.answer = problem;
            row.failed = true;
            let ms = took.as_secs_f64() * 1e3;
            (row.times_ms, row.median_ms, row.max_ms) = (vec![ms], ms, ms);
            return Ok(row);
        }
    }
    let samples = if took >= SLOW { 2 } else { plan.samples };
    for _ in 0..samples {
        let (took, status, body) = server.get_timed(&call.path, token, accept).await?;
        if status != reqwest::StatusCode::OK {
            row.answer = format!("{status}: {}", body.chars().take(200).collect::<String>());
            row.failed = true;
        }
        row.times_ms.push(took.as_secs_f64() * 1e3);
    }
    let mut sorted = row.times_ms.clone();
    sorted.sort_by(f64::total_cmp);
    row.median_ms = median(&sorted);
    row.max_ms = sorted.last().copied().unwrap_or(f64::NAN);
    Ok(row)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn medians() {
        assert_eq!(median(&[1.0, 2.0, 9.0]), 2.0);
        assert_eq!(median(&[1.0, 2.0, 4.0, 9.0]), 3.0);
    }

    #[test]
    fn the_csv_total_line_is_read() {
        let facts = Facts {
            opportunities_created: 12,
            ..Facts::default()
        };
        let csv = "group,key,created,won\ntotal,,12,3\ngroup,abc,12,3\n";
        assert!(sales_csv(&Answer::Csv(csv.to_owned()), &facts).is_ok());
        let wrong = "group,key,created,won\ntotal,,11,3\n";
        assert!(sales_csv(&Answer::Csv(wrong.to_owned()), &facts).is_err());
    }
}

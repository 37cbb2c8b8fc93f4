//! `rapport-bench`: seeds customers with contacts through the store, then times a get by
//! id, the first and a deep page of a filtered list, and `q` searches by name, phone and
//! email, on SQLite and PostgreSQL; then serves the same database with the release `rapport`
//! binary and drives it over HTTP with `wrk` (see [`http`]). `make bench` runs it at
//! 1,000,000 customers.
//!
//! With the customers it seeds two years of their activities, opportunities, orders and
//! tickets ([`history`]) and times each report of a one-year range over HTTP
//! ([`http::reports`]); `--only-reports` does only that, `--no-reports` skips it.
//!
//! A measurement, not a test: it exits 0 when a target is missed, and says MISSED. It fails
//! when a report answers other than 200 or with figures other than the seeded ones.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

use anyhow::Context;
use chrono::{DurationRound, TimeDelta, Utc};
use clap::{Parser, ValueEnum};
use rand::SeedableRng;
use rand::rngs::StdRng;
use rapport_bench::db::{Backend, Db};
use rapport_bench::measure::{DEEP_PAGE, Op};
use rapport_bench::report::{Row, thousands};
use rapport_bench::{data, history, http, measure, report, seed};
use rapport_migrations::sea_orm::ConnectionTrait;
use rapport_migrations::{Migrator, MigratorTrait};
use rapport_store::repos::search_index::{self, SearchIndex};
use rapport_store::{DbOptions, Store};

/// Seeds a customer base through the store and times reads on it (median and p99).
#[derive(Debug, Parser)]
#[command(name = "rapport-bench", args_override_self = true)]
struct Cli {
    /// The databases to run on. PostgreSQL is the server of RAPPORT_TEST_POSTGRES_URL, where
    /// a fresh database is created and dropped.
    #[arg(long, value_enum, default_value_t = Which::Both)]
    backend: Which,
    /// Customers to seed (each with 1–3 contacts).
    #[arg(long, default_value_t = 1_000_000, value_parser = clap::value_parser!(u64).range(100..))]
    customers: u64,
    /// Timed calls per operation (after a warm-up of 10).
    #[arg(long, default_value_t = 200, value_parser = clap::value_parser!(u64).range(1..))]
    samples: u64,
    /// Seed of the generated data and of the sampled inputs.
    #[arg(long, default_value_t = 42)]
    seed: u64,
    /// Keep the databases afterwards (their locations are printed).
    #[arg(long)]
    keep: bool,
    /// Skip PostgreSQL's `VACUUM ANALYZE` after seeding (measure before autovacuum runs).
    #[arg(long)]
    no_vacuum: bool,
    /// Where the results (`store.json`, `http.json`), the plans and the server's logs go.
    #[arg(long, default_value = "target/bench")]
    out: PathBuf,
    /// Skip the HTTP benchmark (the store-level timings only).
    #[arg(long)]
    no_http: bool,
    /// Seconds of load per HTTP scenario and connection count.
    #[arg(long, default_value_t = 10, value_parser = clap::value_parser!(u64).range(1..))]
    http_seconds: u64,
    /// Connection counts of the HTTP load.
    #[arg(long, value_delimiter = ',', default_values_t = [2, 32])]
    connections: Vec<u32>,
    /// The `rapport` binary to serve with (default: beside this one, as `make bench` builds
    /// both in release).
    #[arg(long)]
    server: Option<PathBuf>,
    /// Only the reports: seed the customers and their history, then time the reports over
    /// HTTP (no store timings, no `wrk` load).
    #[arg(long, conflicts_with_all = ["no_reports", "no_http"])]
    only_reports: bool,
    /// Skip the history (activities, opportunities, orders, tickets) and the reports.
    #[arg(long)]
    no_reports: bool,
    /// Activities seeded per customer.
    #[arg(long, default_value_t = 2.0)]
    activities_per_customer: f64,
    /// Opportunities seeded per customer.
    #[arg(long, default_value_t = 0.3)]
    opportunities_per_customer: f64,
    /// Orders seeded per customer.
    #[arg(long, default_value_t = 0.2)]
    orders_per_customer: f64,
    /// Tickets seeded per customer.
    #[arg(long, default_value_t = 0.2)]
    tickets_per_customer: f64,
    /// Timed calls per report (after one warm-up).
    #[arg(long, default_value_t = 5, value_parser = clap::value_parser!(u64).range(1..))]
    report_samples: u64,
}

impl Cli {
    fn reports(&self) -> bool {
        self.only_reports || !(self.no_reports || self.no_http)
    }

    /// How many of each record the history gets.
    fn volumes(&self) -> anyhow::Result<history::Volumes> {
        let of = |ratio: f64, what: &str| -> anyhow::Result<u64> {
            anyhow::ensure!(
                ratio.is_finite() && ratio >= 0.0,
                "--{what}-per-customer must be a number from 0"
            );
            Ok((self.customers as f64 * ratio).round() as u64)
        };
        Ok(history::Volumes {
            activities: of(self.activities_per_customer, "activities")?,
            opportunities: of(self.opportunities_per_customer, "opportunities")?,
            orders: of(self.orders_per_customer, "orders")?,
            tickets: of(self.tickets_per_customer, "tickets")?,
        })
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Which {
    Sqlite,
    Postgres,
    Both,
}

const WARMUP: usize = 10;
/// Name searches whose every row is checked before timing.
const NAME_CHECKS: usize = 20;

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(&cli).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("rapport-bench: {e:#}");
            ExitCode::FAILURE
        }
    }
}

async fn run(cli: &Cli) -> anyhow::Result<()> {
    let backends: &[Backend] = match cli.backend {
        Which::Both => &[Backend::Sqlite, Backend::Postgres],
        Which::Sqlite => &[Backend::Sqlite],
        Which::Postgres => &[Backend::Postgres],
    };
    let http = http_settings(cli)?;
    let reports = if cli.reports() {
        Some(server_binary(cli)?)
    } else {
        None
    };
    cli.volumes()?;
    std::fs::create_dir_all(&cli.out).with_context(|| format!("creating {}", cli.out.display()))?;
    let mut rows = Vec::new();
    let mut http_reports = Vec::new();
    let mut report_rows = Vec::new();
    for &which in backends {
        let db = Db::create(which, "rapport-bench").await?;
        let result = bench(cli, which, db.url(), http.as_ref(), reports.as_deref()).await;
        db.finish(cli.keep).await;
        let measured = result?;
        rows.extend(measured.store);
        http_reports.extend(measured.http);
        report_rows.extend(measured.reports);
    }
    if !rows.is_empty() {
        if backends.len() > 1 {
            println!("\n## Both backends, through the store");
            report::print(&rows);
        }
        let json: Vec<_> = rows.iter().map(Row::to_json).collect();
        write_json(&cli.out.join("store.json"), &serde_json::Value::Array(json))?;
    }
    if !report_rows.is_empty() {
        print_reports(cli, &report_rows)?;
    }
    if !http_reports.is_empty() {
        println!("\n## Over HTTP (wrk, one thread, on this machine)\n");
        println!("{}", http::TABLE_HEADER);
        for report in &http_reports {
            for row in &report.rows {
                println!("{}", row.line());
            }
        }
        println!();
        for report in &http_reports {
            println!("{}", report.summary());
        }
        let json: Vec<_> = http_reports.iter().map(http::HttpReport::to_json).collect();
        write_json(&cli.out.join("http.json"), &serde_json::Value::Array(json))?;
    }
    let failed: Vec<String> = report_rows
        .iter()
        .filter(|r| r.failed)
        .map(|r| format!("{} / {}: {}", r.backend, r.name, r.answer))
        .collect();
    anyhow::ensure!(
        failed.is_empty(),
        "reports answered wrongly:\n  {}",
        failed.join("\n  ")
    );
    Ok(())
}

/// The reports' table of every backend, the missed targets, and `reports.json`.
fn print_reports(cli: &Cli, rows: &[http::reports::ReportRow]) -> anyhow::Result<()> {
    let v = cli.volumes()?;
    println!(
        "\n## Reports over HTTP: {} customers, {} activities, {} opportunities, {} orders, {} tickets\n",
        thousands(cli.customers),
        thousands(v.activities),
        thousands(v.opportunities),
        thousands(v.orders),
        thousands(v.tickets)
    );
    println!("{}", http::reports::TABLE_HEADER);
    for row in rows {
        println!("{}", row.line());
    }
    println!();
    let missed: Vec<_> = rows.iter().filter(|r| r.missed()).collect();
    if missed.is_empty() {
        println!("Every report answered within 2 s.");
    } else {
        println!(
            "################################################################################"
        );
        for r in missed {
            println!(
                "##  MISSED: {} / {}: max {:.0} ms (median {:.0} ms), target < 2,000 ms",
                r.backend, r.name, r.max_ms, r.median_ms
            );
        }
        println!(
            "################################################################################"
        );
    }
    if cli.customers < 1_000_000 {
        println!("(The target is set for 1,000,000 customers; this run seeded fewer.)");
    }
    let json = serde_json::json!({
        "customers": cli.customers,
        "activities": v.activities,
        "opportunities": v.opportunities,
        "orders": v.orders,
        "tickets": v.tickets,
        "rows": rows.iter().map(http::reports::ReportRow::to_json).collect::<Vec<_>>(),
    });
    write_json(&cli.out.join("reports.json"), &json)
}

fn write_json(path: &std::path::Path, value: &serde_json::Value) -> anyhow::Result<()> {
    std::fs::write(path, serde_json::to_string_pretty(value)?)
        .with_context(|| format!("writing {}", path.display()))?;
    println!("Wrote {}", path.display());
    Ok(())
}

/// The server binary, after checking that it is there.
fn server_binary(cli: &Cli) -> anyhow::Result<PathBuf> {
    http::server::binary(cli.server.as_deref())
}

/// The `wrk` part's settings, after checking that `wrk` and the server binary are there.
fn http_settings(cli: &Cli) -> anyhow::Result<Option<http::Settings>> {
    if cli.no_http || cli.only_reports {
        return Ok(None);
    }
    http::wrk::check_installed()?;
    let binary = server_binary(cli)?;
    Ok(Some(http::Settings {
        binary,
        duration: std::time::Duration::from_secs(cli.http_seconds),
        connections: cli.connections.clone(),
        dir: cli.out.join("http"),
    }))
}

/// What one backend measured.
struct Measured {
    store: Vec<Row>,
    http: Option<http::HttpReport>,
    reports: Vec<http::reports::ReportRow>,
}

/// Seeds, checks and times one backend: the reports too when `reports` names the server.
async fn bench(
    cli: &Cli,
    which: Backend,
    url: &str,
    http: Option<&http::Settings>,
    reports: Option<&std::path::Path>,
) -> anyhow::Result<Measured> {
    let label = which.label();
    // Registration numbers are sealed as in production (the key of a benchmark is no secret).
    rapport_store::crypto::install(rapport_store::crypto::FieldCipher::new(
        http::ENCRYPTION_KEY,
        &[],
    ))?;
    let store = Store::connect(&DbOptions::new(url)).await?;
    Migrator::up(store.writer(), None)
        .await
        .context("migrating")?;
    let anchor = Utc::now().duration_trunc(TimeDelta::days(1))?;
    let samples = usize::try_from(cli.samples)?;
    let total = WARMUP + samples;

    println!(
        "\n## {label}: seeding {} customers (seed {})",
        thousands(cli.customers),
        cli.seed
    );
    let keep = (4 * total as u64).max(2_000).min(cli.customers);
    let seeded = seed::seed(&store, label, cli.customers, cli.seed, keep, anchor).await?;
    let s = seeded.stats;
    println!(
        "  {label}: seeded {} customers and {} contacts in {:.1} s: {:.0} customers/s \
         ({:.1} s of it waiting for the generator)",
        thousands(s.customers),
        thousands(s.contacts),
        seeded.elapsed.as_secs_f64(),
        seeded.per_second(),
        seeded.waiting.as_secs_f64()
    );
    println!(
        "  {label}: {} phones kept, {} generated numbers refused by Phone::parse and skipped; {} emails refused",
        thousands(s.phones),
        thousands(s.phones_skipped),
        thousands(s.emails_skipped)
    );
    let range = (anchor - TimeDelta::days(365), anchor);
    let history = match reports {
        Some(_) => Some(seed_history(cli, label, &store, anchor, range).await?),
        None => None,
    };
    if which == Backend::Sqlite {
        let start = Instant::now();
        let steps = search_index::compact(&store, SearchIndex::Customers).await?;
        println!(
            "  {label}: search index merged into one segment in {:.1} s, {steps} steps (what the server's search.compact job does after a bulk load)",
            start.elapsed().as_secs_f64()
        );
    }
    if which == Backend::Postgres && !cli.no_vacuum {
        let start = Instant::now();
        store.writer().execute_unprepared("VACUUM ANALYZE").await?;
        println!(
            "  {label}: VACUUM ANALYZE in {:.1} s (what autovacuum does after a bulk load)",
            start.elapsed().as_secs_f64()
        );
    }

    let (bytes, search_bytes) = measure::database_size(&store).await?;
    println!(
        "  {label}: database {:.0} MiB, of which the search index {}",
        bytes as f64 / 1048576.0,
        search_bytes.map_or("unknown".to_owned(), |b| format!(
            "{:.0} MiB",
            b as f64 / 1048576.0
        ))
    );
    let time_reports = async |url: &str| -> anyhow::Result<Vec<http::reports::ReportRow>> {
        let (Some(binary), Some(facts)) = (reports, history.as_ref()) else {
            return Ok(Vec::new());
        };
        println!(
            "\n## {label}: reports over HTTP, {} to {}\n",
            range.0.format("%Y-%m-%d"),
            range.1.format("%Y-%m-%d")
        );
        let plan = http::reports::Plan {
            from: range.0,
            to: range.1,
            facts,
            samples: usize::try_from(cli.report_samples)?,
        };
        let dir = cli.out.join("http").join(label).join("reports");
        http::reports::run(label, url, binary, &dir, &plan).await
    };
    if cli.only_reports {
        store.close().await.ok();
        return Ok(Measured {
            store: Vec::new(),
            http: None,
            reports: time_reports(url).await?,
        });
    }

    let mut rng = StdRng::seed_from_u64(cli.seed.wrapping_add(1));
    let gets: Vec<Op> = measure::ids(&seeded.samples, total, &mut rng)
        .into_iter()
        .map(Op::Get)
        .collect();
    let (page, cursor) = measure::deep_page(&store).await?;
    let searches = measure::searches(&seeded.samples, total, &mut rng)?;

    // Before timing: every operation answers what it should.
    for op in gets.iter().take(NAME_CHECKS) {
        if let Op::Get(id) = op {
            measure::check_get(&store, *id).await?;
        }
    }
    let by_name = [
        &searches.chinese,
        &searches.english,
        &searches.pinyin,
        &searches.tail,
        &searches.infix,
    ];
    for (op, id) in by_name
        .iter()
        .flat_map(|kind| kind.iter().take(NAME_CHECKS))
    {
        measure::check_search(&store, op, *id, false).await?;
    }
    for (op, id) in searches.phone.iter().chain(&searches.email) {
        measure::check_search(&store, op, *id, true).await?;
    }
    println!(
        "  {label}: checks passed: gets, page {page} by cursor = by OFFSET, every row of {} name searches matches, \
         {} phone and email searches find their customer",
        by_name.len() * NAME_CHECKS,
        2 * total
    );

    let first = vec![Op::Page(None); total];
    let deep = vec![Op::Page(cursor.clone()); total];
    let deep_name = if page == DEEP_PAGE {
        format!("list page {} (stage=customer)", thousands(page))
    } else {
        format!(
            "list page {} (deepest full page; stage=customer)",
            thousands(page)
        )
    };
    let n = cli.customers;
    let mut rows = vec![
        Row::new(
            label,
            n,
            "get by id + contacts".into(),
            &measure::time(&store, &gets, WARMUP).await?,
        ),
        Row::new(
            label,
            n,
            "list page 1 (stage=customer)".into(),
            &measure::time(&store, &first, WARMUP).await?,
        ),
    ];
    let first_median = rows[1].median_ms;
    rows.push(
        Row::new(
            label,
            n,
            deep_name,
            &measure::time(&store, &deep, WARMUP).await?,
        )
        .deep_page_target(first_median),
    );
    for (name, inputs) in searches.kinds() {
        let ops: Vec<Op> = inputs.iter().map(|(op, _)| op.clone()).collect();
        let timings = measure::time(&store, &ops, WARMUP).await?;
        rows.push(Row::new(label, n, name.into(), &timings).search_target());
    }
    report::print(&rows);
    let Some(http) = http else {
        store.close().await.ok();
        return Ok(Measured {
            store: rows,
            http: None,
            reports: time_reports(url).await?,
        });
    };
    let inputs = http_inputs(&store, &searches, cursor, http.connections.len()).await?;
    store.close().await.ok();
    // Before the load, which adds customers (created now: outside the reports' range).
    let timed = time_reports(url).await?;
    println!("\n## {label}: over HTTP\n\n{}", http::TABLE_HEADER);
    let report = http::run(label, url, &inputs, http).await?;
    Ok(Measured {
        store: rows,
        http: Some(report),
        reports: timed,
    })
}

/// Seeds the customers' history and prints what it made; the figures the reports should give.
async fn seed_history(
    cli: &Cli,
    label: &str,
    store: &Store,
    anchor: chrono::DateTime<Utc>,
    range: (chrono::DateTime<Utc>, chrono::DateTime<Utc>),
) -> anyhow::Result<history::Facts> {
    let volumes = cli.volumes()?;
    println!(
        "\n## {label}: seeding {} activities, {} opportunities, {} orders and {} tickets",
        thousands(volumes.activities),
        thousands(volumes.opportunities),
        thousands(volumes.orders),
        thousands(volumes.tickets)
    );
    let seeded = history::seed(store, label, volumes, cli.seed, anchor, range).await?;
    let kinds: Vec<String> = seeded
        .per_kind
        .iter()
        .map(|(kind, n, took)| {
            format!(
                "{} {kind} in {:.1} s ({:.0}/s)",
                thousands(*n),
                took.as_secs_f64(),
                *n as f64 / took.as_secs_f64().max(f64::EPSILON)
            )
        })
        .collect();
    println!(
        "  {label}: seeded the history in {:.1} s ({:.1} s of it waiting for the generator): {}",
        seeded.elapsed.as_secs_f64(),
        seeded.waiting.as_secs_f64(),
        kinds.join(", ")
    );
    let f = seeded.facts;
    println!(
        "  {label}: in the range: {} customers ({} leads), {} opportunities created, {} won, {} lost, {} activities, {} tickets",
        thousands(f.customers.unsigned_abs()),
        thousands(f.leads.unsigned_abs()),
        thousands(f.opportunities_created.unsigned_abs()),
        thousands(f.won.unsigned_abs()),
        thousands(f.lost.unsigned_abs()),
        thousands(f.activities.unsigned_abs()),
        thousands(f.tickets.unsigned_abs())
    );
    Ok(f)
}

/// Records to read and patch, search texts and the deep page's cursor, for the HTTP load.
async fn http_inputs(
    store: &Store,
    searches: &measure::Searches,
    deep: Option<rapport_store::Cursor>,
    rounds: usize,
) -> anyhow::Result<http::Inputs> {
    /// Enough distinct records for a write scenario's 10 s at 6,000 PATCHes/s.
    const PER_SLICE: usize = 60_000;
    const GETS: usize = 20_000;
    /// Names of the customers the load creates, cycled, drawn with a seed of their own.
    const NEW_NAMES: usize = 1_000;
    const NAMES_SEED: u64 = 7;
    let wanted = GETS + 2 * rounds * PER_SLICE;
    let backend = store.conn().get_database_backend();
    let ids = store
        .conn()
        .query_all(rapport_migrations::sea_orm::Statement::from_string(
            backend,
            format!(
                "SELECT id FROM customers WHERE deleted_at IS NULL ORDER BY random() LIMIT {wanted}"
            ),
        ))
        .await?
        .iter()
        .map(|row| row.try_get::<uuid::Uuid>("", "id"))
        .collect::<Result<Vec<_>, _>>()?;
    let texts = |ops: &[(Op, uuid::Uuid)]| -> Vec<String> {
        ops.iter()
            .filter_map(|(op, _)| match op {
                Op::Search { text, .. } => Some(text.clone()),
                _ => None,
            })
            .collect()
    };
    let deep_cursor = deep.map(|cursor| {
        use base64::Engine;
        let envelope = serde_json::json!({"s": "-created_at", "c": cursor});
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(envelope.to_string())
    });
    Ok(http::Inputs {
        gets: GETS.min(ids.len() / 5).max(1),
        ids,
        searches: searches.kinds().map(|(_, ops)| texts(ops)),
        deep_cursor,
        rounds,
        names: data::new_names(NAMES_SEED, NEW_NAMES),
    })
}

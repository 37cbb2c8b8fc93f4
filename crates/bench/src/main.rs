//! `rapport-bench`: seeds customers with contacts through the store, then times a get by
//! id, the first and a deep page of a filtered list, and `q` searches by name, phone and
//! email, on SQLite and PostgreSQL. `make bench` runs it at 1,000,000 customers.
//!
//! A measurement, not a test: it exits 0 when a target is missed, and says MISSED.

mod data;
mod measure;
mod report;
mod seed;
mod vocab;

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

use anyhow::Context;
use chrono::{DurationRound, TimeDelta, Utc};
use clap::{Parser, ValueEnum};
use rand::SeedableRng;
use rand::rngs::StdRng;
use rapport_migrations::sea_orm::ConnectionTrait;
use rapport_migrations::{Migrator, MigratorTrait};
use rapport_store::{DbOptions, Store};
use rapport_testdb::TestDatabase;

use crate::measure::{DEEP_PAGE, Op};
use crate::report::{Row, thousands};

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
    /// Also write the results as JSON to this file.
    #[arg(long)]
    json: Option<PathBuf>,
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

/// A fresh database for one run.
enum Db {
    Sqlite { dir: PathBuf, url: String },
    Postgres(TestDatabase),
}

impl Db {
    async fn create(which: Which) -> anyhow::Result<Db> {
        if which == Which::Postgres {
            let admin = rapport_testdb::admin_url();
            let probe = Store::connect(&DbOptions::new(admin.clone()))
                .await
                .with_context(|| {
                    format!(
                        "PostgreSQL is not reachable at {admin} (set RAPPORT_TEST_POSTGRES_URL)"
                    )
                })?;
            probe.close().await.ok();
            return Ok(Db::Postgres(TestDatabase::create_empty().await));
        }
        let dir = std::env::temp_dir().join(format!("rapport-bench-{}", uuid::Uuid::now_v7()));
        std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
        let url = format!("sqlite://{}?mode=rwc", dir.join("bench.db").display());
        Ok(Db::Sqlite { dir, url })
    }

    fn url(&self) -> &str {
        match self {
            Db::Sqlite { url, .. } => url,
            Db::Postgres(db) => &db.url,
        }
    }

    async fn finish(self, keep: bool) {
        match (self, keep) {
            (Db::Sqlite { url, .. }, true) => println!("Kept the SQLite database: {url}"),
            (Db::Postgres(db), true) => println!("Kept the PostgreSQL database: {}", db.keep()),
            (Db::Sqlite { dir, .. }, false) => {
                let _ = std::fs::remove_dir_all(dir);
            }
            (Db::Postgres(db), false) => db.drop_now().await,
        }
    }
}

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
    let backends: &[Which] = match cli.backend {
        Which::Both => &[Which::Sqlite, Which::Postgres],
        Which::Sqlite => &[Which::Sqlite],
        Which::Postgres => &[Which::Postgres],
    };
    let mut rows = Vec::new();
    for &which in backends {
        let db = Db::create(which).await?;
        let result = bench(cli, which, db.url()).await;
        db.finish(cli.keep).await;
        let mine = result?;
        report::print(&mine);
        rows.extend(mine);
    }
    if backends.len() > 1 {
        println!("\n## Both backends");
        report::print(&rows);
    }
    if let Some(path) = &cli.json {
        let json: Vec<_> = rows.iter().map(Row::to_json).collect();
        std::fs::write(path, serde_json::to_string_pretty(&json)?)
            .with_context(|| format!("writing {}", path.display()))?;
    }
    Ok(())
}

/// Seeds, checks and times one backend.
async fn bench(cli: &Cli, which: Which, url: &str) -> anyhow::Result<Vec<Row>> {
    let label = if which == Which::Sqlite {
        "sqlite"
    } else {
        "postgres"
    };
    // Registration numbers are sealed as in production (the key of a benchmark is no secret).
    rapport_store::crypto::install(rapport_store::crypto::FieldCipher::new([42; 32], &[]))?;
    let store = Store::connect(&DbOptions::new(url)).await?;
    Migrator::up(store.conn(), None)
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
    if which == Which::Postgres && !cli.no_vacuum {
        let start = Instant::now();
        store.conn().execute_unprepared("VACUUM ANALYZE").await?;
        println!(
            "  {label}: VACUUM ANALYZE in {:.1} s (what autovacuum does after a bulk load)",
            start.elapsed().as_secs_f64()
        );
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
    for (op, id) in searches
        .chinese
        .iter()
        .chain(&searches.english)
        .take(2 * NAME_CHECKS)
    {
        measure::check_search(&store, op, *id, false).await?;
    }
    for (op, id) in searches.phone.iter().chain(&searches.email) {
        measure::check_search(&store, op, *id, true).await?;
    }
    println!(
        "  {label}: checks passed: gets, page {page} by cursor = by OFFSET, every row of {} name searches matches, \
         {} phone and email searches find their customer",
        2 * NAME_CHECKS,
        2 * total
    );

    let first = vec![Op::Page(None); total];
    let deep = vec![Op::Page(cursor); total];
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
    for (name, inputs) in [
        ("q: Chinese name fragment (2 chars)", &searches.chinese),
        ("q: English name prefix (4–6 letters)", &searches.english),
        ("q: phone, typed nationally", &searches.phone),
        ("q: email", &searches.email),
    ] {
        let ops: Vec<Op> = inputs.iter().map(|(op, _)| op.clone()).collect();
        let timings = measure::time(&store, &ops, WARMUP).await?;
        rows.push(Row::new(label, n, name.into(), &timings).search_target());
    }
    store.close().await.ok();
    Ok(rows)
}

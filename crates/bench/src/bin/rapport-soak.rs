//! `rapport-soak`: starts the release `rapport` server on a fresh database, makes two sales
//! teams, users of five roles and a few thousand customers through its API, then sends a mixed
//! load (reads, lists, searches, writes, sign-ins) from virtual users in a closed loop for a
//! bounded time. It exits non-zero, saying why, on any 5xx or other failed request, on an
//! overall p99 above 100 ms, or on the server's resident memory growing by more than 20% (see
//! `rapport_bench::soak`). `make soak` runs it on SQLite, then on PostgreSQL.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context;
use clap::Parser;
use rapport_bench::db::{Backend, Db};
use rapport_bench::http::server;
use rapport_bench::soak::{self, Settings};

/// Soaks the release server with a mixed load and fails on errors, slow answers or growing
/// memory.
#[derive(Debug, Parser)]
#[command(name = "rapport-soak", args_override_self = true)]
struct Cli {
    /// The database to run on. PostgreSQL is the server of RAPPORT_TEST_POSTGRES_URL, where a
    /// fresh database is created and dropped.
    #[arg(long, value_enum, default_value_t = Backend::Sqlite)]
    backend: Backend,
    /// Seconds of load (after the seeding).
    #[arg(long, default_value_t = 300, value_parser = clap::value_parser!(u64).range(10..))]
    duration: u64,
    /// Virtual users, each sending its next request as soon as the last is answered; the
    /// first five sign in as the five accounts. Five already keep a two-core machine busy
    /// (the load runs on the same cores as the server and PostgreSQL): more add queueing,
    /// not throughput.
    #[arg(long, default_value_t = 5, value_parser = clap::value_parser!(u64).range(1..=256))]
    users: u64,
    /// Customers seeded through the API before the load.
    #[arg(long, default_value_t = 3_000, value_parser = clap::value_parser!(u64).range(50..))]
    customers: u64,
    /// Seed of the generated data and of each user's choices.
    #[arg(long, default_value_t = 42)]
    seed: u64,
    /// Seconds between two readings of the server's resident memory.
    #[arg(long, default_value_t = 5, value_parser = clap::value_parser!(u64).range(1..))]
    sample_every: u64,
    /// Where the report (`soak-<backend>.json`) and the server's data folder and log go.
    #[arg(long, default_value = "target/soak")]
    out: PathBuf,
    /// The `rapport` binary to soak (default: beside this one).
    #[arg(long)]
    server: Option<PathBuf>,
    /// Keep the database afterwards (its location is printed).
    #[arg(long)]
    keep: bool,
}

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(&cli).await {
        Ok(failed) if failed.is_empty() => {
            println!("\nThe soak passed.");
            ExitCode::SUCCESS
        }
        Ok(failed) => {
            eprintln!("\nrapport-soak: FAILED:\n  {}", failed.join("\n  "));
            ExitCode::FAILURE
        }
        Err(e) => {
            eprintln!("rapport-soak: {e:#}");
            ExitCode::FAILURE
        }
    }
}

/// Soaks one backend; the gates that failed.
async fn run(cli: &Cli) -> anyhow::Result<Vec<String>> {
    let settings = Settings {
        binary: server::binary(cli.server.as_deref())?,
        duration: Duration::from_secs(cli.duration),
        users: usize::try_from(cli.users)?,
        customers: usize::try_from(cli.customers)?,
        seed: cli.seed,
        sample_every: Duration::from_secs(cli.sample_every),
        dir: cli.out.clone(),
    };
    let backend = cli.backend.label();
    println!(
        "\n## {backend}: soak for {} s with {} virtual users",
        cli.duration, cli.users
    );
    let db = Db::create(cli.backend, "rapport-soak").await?;
    let result = soak::run(backend, db.url(), &settings).await;
    db.finish(cli.keep).await;
    let report = result?;
    report.print();
    let path = cli.out.join(format!("soak-{backend}.json"));
    std::fs::write(&path, serde_json::to_string_pretty(&report.to_json())?)
        .with_context(|| format!("writing {}", path.display()))?;
    println!("Wrote {}", path.display());
    Ok(report.gates())
}

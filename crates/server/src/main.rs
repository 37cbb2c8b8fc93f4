//! `rapport`: the Rapport CRM server.

use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context;
use clap::{Parser, Subcommand};
use rapport_domain::auth::Role;
use rapport_domain::clock::{Clock, SystemClock};
use rapport_domain::email::Email;
use rapport_domain::name::PersonName;
use rapport_domain::password::Password;
use rapport_server::bootstrap;
use rapport_server::config::{ConfigArgs, Settings};
use rapport_server::import_client::{self, ImportRequest};
use rapport_server::startup::Application;
use rapport_server::{backup, database, telemetry};

/// Rapport: a CRM backend with a JSON REST API.
#[derive(Debug, Parser)]
#[command(
    name = "rapport",
    version,
    about = "Rapport: a CRM backend with a JSON REST API.",
    propagate_version = true
)]
struct Cli {
    #[command(flatten)]
    config: ConfigArgs,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Start the server (the default): migrates the database, creates the first admin when
    /// there is no user, and serves HTTP until SIGINT or SIGTERM.
    Serve,
    /// Bring the database schema up to date, then exit.
    Migrate,
    /// Print the OpenAPI document (the same bytes as `GET /openapi.json`).
    Openapi,
    /// Create a user (first setup, scripts). Prints the one-time password when none is given.
    CreateUser {
        /// The user's email (its sign-in name).
        #[arg(long)]
        email: String,
        /// The user's display name.
        #[arg(long)]
        name: String,
        /// admin, sales_manager, sales_rep, marketing, service_manager, service_agent or auditor.
        #[arg(long, default_value = "admin")]
        role: String,
        /// The password; read from RAPPORT_NEW_USER_PASSWORD so it stays out of the shell
        /// history. Without it a one-time password is printed.
        #[arg(long, env = "RAPPORT_NEW_USER_PASSWORD", hide_env_values = true)]
        password: Option<String>,
    },
    /// Re-encrypt what is encrypted at rest under RAPPORT_ENCRYPTION_KEY, reading values sealed
    /// under RAPPORT_ENCRYPTION_OLD_KEYS (and values written before encryption). Run it after
    /// setting a new key, with the old one in RAPPORT_ENCRYPTION_OLD_KEYS on every instance;
    /// once it is done, the old key can go. Safe to run twice, and while servers run.
    RotateKey,
    /// Rebuild the search index with this version's terms (pinyin, inner parts of words,
    /// phone tails). The server does it by itself at start when the index is older; run it
    /// to do it at a time of your choosing. Safe while servers run, and to run twice.
    Reindex,
    /// Seal the audit events not chained yet, then verify the audit trail's hash chain: prints
    /// what it checked, and exits with 1 naming the first broken link. Safe while servers run.
    AuditVerify,
    /// Write a consistent copy of the SQLite database to FILE while servers run (VACUUM INTO),
    /// encrypted with --passphrase-env or --key-file. FILE appears whole or not at all. On
    /// PostgreSQL, use pg_dump or a base backup instead (docs/operations.md).
    Backup {
        /// Where to write the backup.
        file: std::path::PathBuf,
        #[command(flatten)]
        key: backup::KeyArgs,
        /// Replace FILE when it exists.
        #[arg(long)]
        force: bool,
    },
    /// Restore a backup made by `rapport backup` into this configuration's SQLite database,
    /// which must not exist yet (an empty data folder); checks it, then migrates it. An
    /// encrypted backup needs the --passphrase-env or --key-file it was made with.
    Restore {
        /// The backup file.
        file: std::path::PathBuf,
        #[command(flatten)]
        key: backup::KeyArgs,
    },
    /// Import customers from a CSV file through a running server (`POST /v1/imports/customers`),
    /// with a progress bar. Needs an access token with customers:write in RAPPORT_TOKEN. Exits
    /// with 1 when a row was refused or the import failed, listing the first refused rows.
    Import {
        /// The CSV file: UTF-8, comma- or semicolon-separated, its header row first.
        file: std::path::PathBuf,
        /// The server [default: this configuration's address].
        #[arg(long, env = "RAPPORT_URL")]
        url: Option<String>,
        /// An access token with customers:write.
        #[arg(long, env = "RAPPORT_TOKEN", hide_env_values = true)]
        token: String,
        /// A column's field, `HEADER=FIELD` (`HEADER=` skips it); repeat for each column not
        /// named after its field.
        #[arg(long = "map", value_name = "HEADER=FIELD")]
        mapping: Vec<String>,
        /// `,` or `;` [default: what the header row uses].
        #[arg(long)]
        delimiter: Option<String>,
        /// `external_ids.<system>` or `email`: rows matching a customer update it.
        #[arg(long)]
        upsert_on: Option<String>,
        /// Import rows that look like existing customers instead of refusing them.
        #[arg(long)]
        allow_duplicate: bool,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    if let Some(Command::Openapi) = cli.command {
        print!("{}", rapport_api::openapi::document_json());
        return ExitCode::SUCCESS;
    }
    let settings = match Settings::load(&cli.config) {
        Ok(settings) => settings,
        Err(e) => {
            eprintln!("rapport: invalid configuration: {e}");
            return ExitCode::from(2);
        }
    };
    telemetry::init(&settings.log, settings.log_json);
    let result = actix_web::rt::System::new().block_on(async move {
        match cli.command {
            None | Some(Command::Serve) => serve(&settings).await,
            Some(Command::Migrate) => migrate(&settings).await,
            Some(Command::CreateUser {
                email,
                name,
                role,
                password,
            }) => create_user(&settings, &email, &name, &role, password).await,
            Some(Command::RotateKey) => rotate_key(&settings).await,
            Some(Command::Reindex) => reindex(&settings).await,
            Some(Command::AuditVerify) => audit_verify(&settings).await,
            Some(Command::Backup { file, key, force }) => {
                run_backup(&settings, &file, &key, force).await
            }
            Some(Command::Restore { file, key }) => run_restore(&settings, &file, &key).await,
            Some(Command::Import {
                file,
                url,
                token,
                mapping,
                delimiter,
                upsert_on,
                allow_duplicate,
            }) => {
                let request = ImportRequest {
                    base: url.unwrap_or_else(|| local_url(&settings)),
                    token,
                    mapping,
                    delimiter,
                    upsert_on,
                    allow_duplicate,
                };
                import(&request, &file).await
            }
            Some(Command::Openapi) => Ok(()),
        }
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("rapport: {e:#}");
            ExitCode::FAILURE
        }
    }
}

async fn rotate_key(settings: &Settings) -> anyhow::Result<()> {
    let store = database::connect(settings).await?;
    database::migrate(&store).await?;
    let tx = store.begin().await?;
    let customers = rapport_store::repos::customers::reseal(&tx).await?;
    let answers = rapport_store::repos::idempotency::reseal(&tx).await?;
    let tokens = rapport_store::repos::survey_invitations::reseal(&tx).await?;
    rapport_store::commit(tx).await?;
    println!(
        "Re-encrypted under the current key: {customers} registration numbers, {answers} kept answers, {tokens} invitation tokens."
    );
    Ok(())
}

/// Rebuilds the search index, with a progress bar on a terminal.
async fn reindex(settings: &Settings) -> anyhow::Result<()> {
    let store = database::connect(settings).await?;
    database::migrate(&store).await?;
    let total = rapport_store::repos::customers::count_all(store.conn()).await?;
    let bar = indicatif::ProgressBar::new(total);
    bar.set_style(
        indicatif::ProgressStyle::with_template(
            "{bar:40} {pos}/{len} customers, {per_sec}, {eta} left",
        )
        .context("the progress bar's template")?,
    );
    let started = std::time::Instant::now();
    let done =
        rapport_store::repos::customers::rebuild_index(&store, |done| bar.set_position(done))
            .await?;
    bar.finish_and_clear();
    println!(
        "Reindexed {done} customers in {:.1} s.",
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

/// Seals what is pending and verifies the audit chain.
async fn audit_verify(settings: &Settings) -> anyhow::Result<()> {
    use rapport_store::repos::audit_chain;
    let store = database::connect(settings).await?;
    database::migrate(&store).await?;
    let sealed = audit_chain::seal(&store, chrono::Utc::now()).await?;
    let head = audit_chain::head(store.conn()).await?;
    let found = audit_chain::verify(store.conn(), &head).await?;
    println!(
        "Sealed {sealed} new events; checked {} of {} ({} with erased changes).",
        found.sealed, head.seq, found.erased
    );
    match found.first_broken {
        None => {
            println!(
                "The audit chain is intact: event {} ends it with {}.",
                head.seq, head.hash
            );
            Ok(())
        }
        Some(broken) => anyhow::bail!(
            "the audit chain breaks at event {} ({}): {}",
            broken.seq,
            broken
                .event_id
                .map_or_else(|| "no longer there".to_owned(), |id| id.to_string()),
            broken.reason.as_str()
        ),
    }
}

/// Backs the SQLite database up into `file`.
async fn run_backup(
    settings: &Settings,
    file: &std::path::Path,
    key: &backup::KeyArgs,
    force: bool,
) -> anyhow::Result<()> {
    let done = backup::backup(settings, file, key.secret()?, force).await?;
    println!(
        "Backed up {} to {} ({} bytes, {}) in {:.1} s.",
        done.database.display(),
        file.display(),
        done.bytes,
        if done.encrypted {
            "encrypted"
        } else {
            "not encrypted"
        },
        done.elapsed.as_secs_f64()
    );
    if let Some(generated) = done.generated_key {
        println!(
            "The key of the fields encrypted at rest is {}, which the backup does not hold: keep a copy of it apart from the backup.",
            generated.display()
        );
    }
    Ok(())
}

/// Restores `file` into the configured SQLite database.
async fn run_restore(
    settings: &Settings,
    file: &std::path::Path,
    key: &backup::KeyArgs,
) -> anyhow::Result<()> {
    let done = backup::restore(settings, file, key.secret()?).await?;
    println!(
        "Restored {}{} into {} (integrity checked, schema up to date) in {:.1} s.",
        file.display(),
        if done.encrypted { ", decrypted," } else { "" },
        done.database.display(),
        done.elapsed.as_secs_f64()
    );
    Ok(())
}

/// Imports `file` through the server, with a progress bar on a terminal.
async fn import(request: &ImportRequest, file: &std::path::Path) -> anyhow::Result<()> {
    let bar = indicatif::ProgressBar::new(0);
    bar.set_style(
        indicatif::ProgressStyle::with_template("{bar:40} {pos}/{len} rows, {per_sec}, {eta} left")
            .context("the progress bar's template")?,
    );
    let import = import_client::import(request, file, |import| {
        let count = |key: &str| import[key].as_u64().unwrap_or(0);
        bar.set_length(count("total_rows"));
        bar.set_position(count("processed_rows"));
    })
    .await?;
    bar.finish_and_clear();
    println!("{}", import_client::summary(&import));
    if import["status"] != "completed" || import["failed"].as_i64().unwrap_or(0) > 0 {
        anyhow::bail!("not every row was imported");
    }
    Ok(())
}

/// This configuration's server address, as a client on this machine reaches it.
fn local_url(settings: &Settings) -> String {
    let scheme = if settings.tls.is_some() {
        "https"
    } else {
        "http"
    };
    format!(
        "{scheme}://{}:{}",
        display_host(settings),
        settings.bind.port()
    )
}

async fn serve(settings: &Settings) -> anyhow::Result<()> {
    let app = Application::build(settings, Arc::new(SystemClock)).await?;
    let stop = stop_signals().context("installing the SIGINT and SIGTERM handlers")?;
    let handle = app.handle();
    actix_web::rt::spawn(async move {
        stop.await;
        tracing::info!("stopping: finishing the requests in flight");
        handle.stop(true).await;
    });
    let scheme = if app.tls.is_some() { "https" } else { "http" };
    let base = format!("{scheme}://{}:{}", display_host(settings), app.port());
    if let Some(cert) = app.tls.clone() {
        let mut hangups = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup())
            .context("installing the SIGHUP handler")?;
        actix_web::rt::spawn(async move {
            while hangups.recv().await.is_some() {
                match cert.reload() {
                    Ok(()) => tracing::info!("SIGHUP: TLS certificate reloaded"),
                    Err(e) => tracing::error!(
                        error = format!("{e:#}"),
                        "SIGHUP: TLS certificate not reloaded; serving the previous one"
                    ),
                }
            }
        });
    }
    println!("Rapport is running.");
    println!("  API:      {base}/v1");
    println!("  Docs:     {base}/docs");
    println!("  OpenAPI:  {base}/openapi.json");
    println!("  Health:   {base}/health/ready    Metrics: {base}/metrics");
    if let Some(first) = &app.first_admin {
        println!();
        println!("Created the first admin: {}", first.user.email);
        // Double quotes, so that a shell expands $RAPPORT_ADMIN_PASSWORD when pasted.
        let password = match &first.one_time_password {
            Some(otp) => {
                println!("  One-time password (shown only now): {otp}");
                otp.as_str()
            }
            None => {
                println!("  Password: the one in RAPPORT_ADMIN_PASSWORD");
                "$RAPPORT_ADMIN_PASSWORD"
            }
        };
        println!();
        println!("Get a token:");
        println!(
            "  curl -s {base}/v1/auth/token -H 'Content-Type: application/json' \\\n    -d \"{{\\\"grant_type\\\":\\\"password\\\",\\\"username\\\":\\\"{}\\\",\\\"password\\\":\\\"{password}\\\"}}\"",
            first.user.email
        );
        println!("Then: curl -s {base}/v1/me -H \"Authorization: Bearer <access_token>\"");
    }
    tracing::info!(port = app.port(), "listening");
    app.run().await
}

/// Resolves at the first SIGINT or SIGTERM; the handlers are installed when this returns.
fn stop_signals() -> std::io::Result<impl Future<Output = ()>> {
    use tokio::signal::unix::{SignalKind, signal};
    let mut interrupt = signal(SignalKind::interrupt())?;
    let mut terminate = signal(SignalKind::terminate())?;
    Ok(async move {
        tokio::select! {
            _ = interrupt.recv() => {}
            _ = terminate.recv() => {}
        }
    })
}

/// 0.0.0.0 is where the server listens, not an address to browse to.
fn display_host(settings: &Settings) -> String {
    let ip = settings.bind.ip();
    if ip.is_unspecified() {
        "127.0.0.1".to_owned()
    } else {
        ip.to_string()
    }
}

async fn migrate(settings: &Settings) -> anyhow::Result<()> {
    let store = database::connect(settings).await?;
    database::migrate(&store).await?;
    println!("The database schema is up to date.");
    Ok(())
}

async fn create_user(
    settings: &Settings,
    email: &str,
    name: &str,
    role: &str,
    password: Option<String>,
) -> anyhow::Result<()> {
    let email = Email::parse(email).map_err(|e| anyhow::anyhow!("--email: {e}"))?;
    let name = PersonName::parse(name).map_err(|e| anyhow::anyhow!("--name: {e}"))?;
    let role = Role::parse_user_role(role)
        .map_err(|_| anyhow::anyhow!("--role: unknown role `{role}`"))?;
    if let Some(p) = &password {
        Password::parse(p)
            .map_err(|_| anyhow::anyhow!("--password: use at least 10 characters"))?;
    }
    let store = database::connect(settings).await?;
    database::migrate(&store).await?;
    let one_time = password
        .is_none()
        .then(rapport_api::auth::secret::one_time_password);
    let chosen = password.or_else(|| one_time.clone()).unwrap_or_default();
    let user = bootstrap::create_user(
        &store,
        email,
        name,
        role,
        &chosen,
        one_time
            .is_some()
            .then(|| SystemClock.now() + chrono::Duration::seconds(settings.one_time_password_ttl)),
        &SystemClock,
    )
    .await?;
    println!("Created {} ({}) with id {}", user.email, user.role, user.id);
    if let Some(otp) = one_time {
        println!("One-time password (shown only now): {otp}");
    }
    Ok(())
}

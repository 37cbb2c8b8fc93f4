//! `rapport backup`: `VACUUM INTO` a temporary file, encrypt it when asked, put it in place.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use sea_orm::sqlx::sqlite::{SqliteConnectOptions, SqliteConnection};
use sea_orm::sqlx::{self, Connection};
use secrecy::ExposeSecret;

use super::files::TempFile;
use super::sealed::{self, Secret};
use super::{blocking, bytes_bar, sqlite_file, until_stopped};
use crate::config::Settings;

/// The shortest passphrase a backup is encrypted with.
const MIN_PASSPHRASE: usize = 12;

/// What a backup wrote.
#[derive(Debug)]
pub struct BackedUp {
    pub database: PathBuf,
    pub bytes: u64,
    pub encrypted: bool,
    pub elapsed: Duration,
    /// The encryption key of fields at rest is the one generated in the data folder, which
    /// the backup does not hold.
    pub generated_key: Option<PathBuf>,
}

/// Writes a consistent copy of the SQLite database to `file`, encrypted under `secret` when
/// there is one. The copy is `VACUUM INTO`, one read transaction: it is the database as of one
/// moment, and servers keep writing meanwhile. `file` appears whole or not at all, also when
/// SIGINT or SIGTERM stops the command.
///
/// # Errors
/// PostgreSQL, `file` exists (without `replace`), a short passphrase, reading and writing, or
/// a signal.
pub async fn backup(
    settings: &Settings,
    file: &Path,
    secret: Option<Secret>,
    replace: bool,
) -> anyhow::Result<BackedUp> {
    let started = Instant::now();
    let database = sqlite_file(settings, "backup")?;
    anyhow::ensure!(
        database.is_file(),
        "there is no database at {} to back up",
        database.display()
    );
    if let Some(Secret::Passphrase(p)) = &secret {
        anyhow::ensure!(
            p.expose_secret().chars().count() >= MIN_PASSPHRASE,
            "--passphrase-env: use a passphrase of at least {MIN_PASSPHRASE} characters"
        );
    }
    if !replace && file.exists() {
        anyhow::bail!(
            "{} exists: choose another name, or pass --force to replace it",
            file.display()
        );
    }
    let encrypted = secret.is_some();
    let bytes = until_stopped(write(&database, file, secret, replace)).await?;
    let generated_key = settings
        .encryption_key
        .is_none()
        .then(|| settings.data_dir.join("encryption_key"))
        .filter(|key| key.is_file());
    Ok(BackedUp {
        database,
        bytes,
        encrypted,
        elapsed: started.elapsed(),
        generated_key,
    })
}

/// The snapshot, encrypted or not, put in place at `file`; its size.
async fn write(
    database: &Path,
    file: &Path,
    secret: Option<Secret>,
    replace: bool,
) -> anyhow::Result<u64> {
    // The clear snapshot is taken next to the database when it is to be encrypted, so that
    // clear data never reaches the backup's folder; otherwise next to `file`, so that putting
    // it in place is a rename.
    let snapshot_beside = if secret.is_some() { database } else { file };
    let snapshot = TempFile::create_beside(snapshot_beside, "snapshot")?;
    snapshot_into(database, snapshot.path()).await?;
    let ready = match secret {
        None => snapshot,
        Some(secret) => {
            let sealed = TempFile::create_beside(file, "part")?;
            let (input, output) = (snapshot.path().to_path_buf(), sealed.open_for_writing()?);
            let secret = Arc::new(secret);
            blocking(move |stop| {
                let bar = bytes_bar(std::fs::metadata(&input)?.len(), "encrypting")?;
                let mut output = BufWriter::new(stop.writer(output));
                sealed::seal(File::open(&input)?, &mut output, &secret, |n| {
                    bar.set_position(n)
                })
                .context("encrypting the backup")?;
                output.flush()?;
                bar.finish_and_clear();
                Ok(())
            })
            .await?;
            drop(snapshot);
            sealed
        }
    };
    ready.persist(file, replace)
}

/// `VACUUM INTO target` through a connection of our own: under WAL it reads one snapshot
/// while servers go on writing. SQLite reports no progress, so the bar follows the size of
/// `target` against the pages in use.
async fn snapshot_into(database: &Path, target: &Path) -> anyhow::Result<()> {
    let target_text = target
        .to_str()
        .with_context(|| format!("{} is not UTF-8", target.display()))?;
    let options = SqliteConnectOptions::new()
        .filename(database)
        .create_if_missing(false)
        .busy_timeout(Duration::from_secs(30));
    let mut conn = SqliteConnection::connect_with(&options)
        .await
        .with_context(|| format!("opening {}", database.display()))?;
    let in_use: i64 = sqlx::query_scalar(
        "SELECT (c.page_count - f.freelist_count) * s.page_size \
         FROM pragma_page_count() c, pragma_freelist_count() f, pragma_page_size() s",
    )
    .fetch_one(&mut conn)
    .await
    .context("reading the database's size")?;
    let bar = bytes_bar(u64::try_from(in_use).unwrap_or(0), "snapshot")?;
    {
        let vacuum = sqlx::query("VACUUM INTO ?")
            .bind(target_text)
            .execute(&mut conn);
        tokio::pin!(vacuum);
        let mut tick = tokio::time::interval(Duration::from_millis(100));
        loop {
            tokio::select! {
                done = &mut vacuum => {
                    done.with_context(|| format!("copying {} (VACUUM INTO)", database.display()))?;
                    break;
                }
                _ = tick.tick() => {
                    if let Ok(meta) = std::fs::metadata(target) {
                        bar.set_position(meta.len());
                    }
                }
            }
        }
    }
    bar.finish_and_clear();
    conn.close().await?;
    Ok(())
}

//! `rapport restore`: decrypt or copy a backup beside the database's place, check it, put it
//! there, migrate it.

use std::fs::File;
use std::io::{BufWriter, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use sea_orm::sqlx::sqlite::{SqliteConnectOptions, SqliteConnection};
use sea_orm::sqlx::{self, Connection};

use super::files::TempFile;
use super::sealed::{self, Secret};
use super::{blocking, bytes_bar, sqlite_file, until_stopped};
use crate::config::Settings;
use crate::{bootstrap, database, private_files};

const SQLITE_MAGIC: &[u8] = b"SQLite format 3\0";
/// The columns that hold values sealed under the encryption key (`enc1:<key id>:…`).
const SEALED_COLUMNS: [(&str, &str); 4] = [
    ("customers", "registration_number"),
    ("idempotency_keys", "body"),
    ("webhooks", "secret"),
    ("survey_invitations", "token_sealed"),
];

/// What a restore did.
#[derive(Debug)]
pub struct Restored {
    pub database: PathBuf,
    pub encrypted: bool,
    pub elapsed: Duration,
}

/// Puts the backup `file` in place as the configured SQLite database, which must not exist
/// yet; decrypts it with `secret` when it is encrypted, checks it (`PRAGMA integrity_check`,
/// and that this configuration's keys open its encrypted fields), then migrates it. Nothing
/// is left at the database's place when any of it fails before the migration, or when SIGINT
/// or SIGTERM stops it.
///
/// # Errors
/// PostgreSQL, a database already there, a wrong secret, a damaged backup, keys that do not
/// open it, reading and writing, or a signal.
pub async fn restore(
    settings: &Settings,
    file: &Path,
    secret: Option<Secret>,
) -> anyhow::Result<Restored> {
    let started = Instant::now();
    let database = sqlite_file(settings, "restore")?;
    refuse_existing(&database)?;
    let mut input = File::open(file).with_context(|| format!("opening {}", file.display()))?;
    let mut start = [0; 16];
    let n = input.read(&mut start)?;
    let encrypted = sealed::is_sealed(&start[..n]);
    anyhow::ensure!(
        encrypted || start[..n] == *SQLITE_MAGIC,
        "{} is neither a Rapport backup nor an SQLite database",
        file.display()
    );
    let secret = match secret {
        Some(secret) => Some(secret).filter(|_| encrypted),
        None if encrypted => anyhow::bail!(
            "{} is encrypted: pass --passphrase-env VAR or --key-file PATH",
            file.display()
        ),
        None => None,
    };
    if let Some(dir) = database.parent().filter(|d| !d.as_os_str().is_empty()) {
        private_files::create_dir(dir)?;
    }
    until_stopped(async {
        let draft = TempFile::create_beside(&database, "restore")?;
        let (from, output) = (file.to_path_buf(), draft.open_for_writing()?);
        let secret = secret.map(Arc::new);
        blocking(move |stop| {
            let input = File::open(&from)?;
            let bar = bytes_bar(input.metadata()?.len(), "restoring")?;
            let mut output = BufWriter::new(stop.writer(output));
            match secret {
                Some(secret) => sealed::open(input, &mut output, &secret, |n| bar.set_position(n))
                    .with_context(|| format!("decrypting {}", from.display()))?,
                None => {
                    copy(input, &mut output, |n| bar.set_position(n))
                        .with_context(|| format!("copying {}", from.display()))?;
                }
            }
            output.flush()?;
            bar.finish_and_clear();
            Ok(())
        })
        .await?;
        check(draft.path(), settings)
            .await
            .with_context(|| format!("checking {}", file.display()))?;
        // The empty file that a first start which failed leaves: nothing to keep.
        if std::fs::metadata(&database).is_ok_and(|m| m.len() == 0) {
            std::fs::remove_file(&database)?;
        }
        draft.persist(&database, false)?;
        let store = database::connect(settings).await?;
        database::migrate(&store).await
    })
    .await?;
    Ok(Restored {
        database,
        encrypted,
        elapsed: started.elapsed(),
    })
}

/// Refuses when the database is there (or its WAL alone, which SQLite would replay into the
/// restored file).
fn refuse_existing(database: &Path) -> anyhow::Result<()> {
    for suffix in ["", "-wal", "-shm"] {
        let path = PathBuf::from(format!("{}{suffix}", database.display()));
        // The empty file that a first start which failed leaves holds nothing.
        let holds_data = std::fs::metadata(&path).is_ok_and(|m| m.len() > 0 || !suffix.is_empty());
        anyhow::ensure!(
            !holds_data,
            "{} exists: restore only into an empty data folder (move it away, or point \
             RAPPORT_DATA_DIR at a new folder)",
            path.display()
        );
    }
    Ok(())
}

/// The restored file's integrity, and whether this configuration's encryption keys open the
/// fields it holds encrypted: without them the restore would succeed, and each of those
/// fields would fail to read later.
async fn check(draft: &Path, settings: &Settings) -> anyhow::Result<()> {
    // Immutable: no lock and no WAL files beside a file nobody else knows of yet.
    let options = SqliteConnectOptions::new()
        .filename(draft)
        .read_only(true)
        .immutable(true);
    let mut conn = SqliteConnection::connect_with(&options).await?;
    let problems: Vec<String> = sqlx::query_scalar("PRAGMA integrity_check(20)")
        .fetch_all(&mut conn)
        .await
        .context("running PRAGMA integrity_check")?;
    if problems != ["ok"] {
        anyhow::bail!(
            "the backup is damaged: PRAGMA integrity_check found {}",
            problems.join("; ")
        );
    }
    let mut samples = Vec::new();
    for (table, column) in SEALED_COLUMNS {
        // One value per key id (`enc1:` and 8 hex digits); a backup older than a column has
        // none of it.
        let sql = format!(
            "SELECT {column} FROM {table} WHERE {column} LIKE 'enc1:%' \
             GROUP BY substr({column}, 1, 14)"
        );
        if let Ok(values) = sqlx::query_scalar::<_, String>(&sql)
            .fetch_all(&mut conn)
            .await
        {
            samples.extend(values);
        }
    }
    conn.close().await?;
    if samples.is_empty() {
        return Ok(());
    }
    let generated = settings.data_dir.join("encryption_key");
    if settings.encryption_key.is_none() && !generated.exists() {
        // Checked before a key is generated there, which would not open them either.
        anyhow::bail!(
            "the backup holds encrypted fields, and no encryption key is configured: set \
             RAPPORT_ENCRYPTION_KEY to the key of the server the backup comes from, or copy \
             its data folder's encryption_key file to {}",
            generated.display()
        );
    }
    bootstrap::encryption_keys(settings)?;
    for sample in samples {
        if rapport_store::crypto::open(&sample).is_err() {
            let id = sample.get(5..13).unwrap_or("?");
            anyhow::bail!(
                "the backup's encrypted fields were sealed under key {id}, which this \
                 configuration does not hold: set RAPPORT_ENCRYPTION_KEY (or \
                 RAPPORT_ENCRYPTION_OLD_KEYS) to the key of the server the backup comes from"
            );
        }
    }
    Ok(())
}

/// Copies `input` to `output`; `progress` hears the bytes copied so far.
fn copy(
    mut input: impl Read,
    mut output: impl Write,
    mut progress: impl FnMut(u64),
) -> std::io::Result<u64> {
    let mut buf = vec![0; 256 * 1024];
    let mut done = 0;
    loop {
        let n = match input.read(&mut buf) {
            Ok(0) => return Ok(done),
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        output.write_all(&buf[..n])?;
        done += n as u64;
        progress(done);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_restore_refuses_a_database_or_its_wal_but_not_an_empty_file() {
        let dir = std::env::temp_dir().join(format!("rapport-restore-{}", uuid::Uuid::now_v7()));
        std::fs::create_dir_all(&dir).unwrap();
        let database = dir.join("rapport.db");
        refuse_existing(&database).unwrap();
        std::fs::write(&database, b"").unwrap();
        refuse_existing(&database).unwrap();
        std::fs::write(dir.join("rapport.db-wal"), b"").unwrap();
        assert!(refuse_existing(&database).is_err());
        std::fs::remove_file(dir.join("rapport.db-wal")).unwrap();
        std::fs::write(&database, b"SQLite format 3\0").unwrap();
        let refused = refuse_existing(&database).unwrap_err().to_string();
        assert!(
            refused.contains(&database.display().to_string()),
            "{refused}"
        );
        std::fs::remove_dir_all(dir).unwrap();
    }
}

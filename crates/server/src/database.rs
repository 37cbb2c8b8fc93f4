//! Connecting and migrating, safely when several instances start at once.

use std::fs::File;
use std::path::PathBuf;

use anyhow::Context;
use rapport_migrations::{Migrator, MigratorTrait};
use rapport_store::{Backend, DbOptions, Store, StoreError};
use sea_orm::{ConnectionTrait, TransactionTrait};
use secrecy::ExposeSecret;

use crate::config::Settings;
use crate::private_files;

/// An arbitrary constant naming Rapport's migration lock among PostgreSQL advisory locks.
const MIGRATION_LOCK_KEY: i64 = 0x0052_4150_504f_5254;

/// Connects to the configured database, creating the data folder for the default SQLite file.
///
/// # Errors
/// The folder cannot be created or the database cannot be reached.
pub async fn connect(settings: &Settings) -> anyhow::Result<Store> {
    crate::bootstrap::encryption_keys(settings)?;
    if settings.uses_sqlite() {
        private_files::create_dir(&settings.data_dir)?;
        // Created 0600 before SQLite opens it; its journal files take the same mode.
        if let Some(file) = sqlite_path(settings.database_url.expose_secret()) {
            if let Some(dir) = file.parent().filter(|d| !d.as_os_str().is_empty()) {
                private_files::create_dir(dir)?;
            }
            private_files::create_file(&file)?;
        }
    }
    let mut options = DbOptions::new(settings.database_url.expose_secret());
    options.read_url = settings
        .database_read_url
        .as_ref()
        .map(|u| u.expose_secret().to_owned());
    if let Some(max) = settings.db_max_connections {
        options.max_connections = max;
    }
    options.acquire_timeout = settings.db_timeout;
    // Another process may hold the SQLite file for a moment as this one opens it (migrating,
    // or checkpointing as it closes: SQLite answers "database is locked" then without waiting),
    // and a PostgreSQL server may still be starting: try again for a few seconds.
    let deadline = std::time::Instant::now() + CONNECT_PATIENCE;
    loop {
        match Store::connect(&options).await {
            Err(StoreError::Unavailable(e)) if std::time::Instant::now() < deadline => {
                tracing::info!(error = %e, "the database is not available yet; trying again");
                tokio::time::sleep(std::time::Duration::from_millis(100)).await;
            }
            result => return result.context("connecting to the database"),
        }
    }
}

/// How long a start waits for the database.
const CONNECT_PATIENCE: std::time::Duration = std::time::Duration::from_secs(5);

/// Brings the schema up to date. On PostgreSQL, in one transaction holding an advisory lock,
/// so instances starting together migrate one after the other; on SQLite, under a file lock
/// beside the database file.
///
/// # Errors
/// A migration failed (nothing of it is kept on PostgreSQL).
pub async fn migrate(store: &Store) -> anyhow::Result<()> {
    match store.backend() {
        Backend::Postgres => {
            let tx = store.writer().begin().await?;
            tx.execute_unprepared(&format!(
                "SELECT pg_advisory_xact_lock({MIGRATION_LOCK_KEY})"
            ))
            .await?;
            Migrator::up(&tx, None)
                .await
                .context("running migrations")?;
            tx.commit().await?;
        }
        Backend::Sqlite => {
            let _lock = sqlite_lock(store)?;
            Migrator::up(store.writer(), None)
                .await
                .context("running migrations")?;
        }
    }
    Ok(())
}

/// An exclusive lock on `<database file>.migrate.lock`, released when dropped.
fn sqlite_lock(store: &Store) -> anyhow::Result<Option<File>> {
    let Some(path) = sqlite_file(store) else {
        return Ok(None);
    };
    let lock_path = PathBuf::from(format!("{}.migrate.lock", path.display()));
    let file =
        File::create(&lock_path).with_context(|| format!("creating {}", lock_path.display()))?;
    file.lock()
        .with_context(|| format!("locking {}", lock_path.display()))?;
    Ok(Some(file))
}

fn sqlite_file(store: &Store) -> Option<PathBuf> {
    sqlite_path(store.url())
}

/// The file of a `sqlite:` URL; none for an in-memory database or another database.
pub fn sqlite_path(url: &str) -> Option<PathBuf> {
    let rest = url
        .strip_prefix("sqlite://")
        .or_else(|| url.strip_prefix("sqlite:"))?;
    let path = rest.split('?').next()?;
    (!path.is_empty() && !path.contains(":memory:")).then(|| PathBuf::from(path))
}

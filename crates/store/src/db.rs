//! The database handle: connecting to SQLite or PostgreSQL with the settings each needs.

use std::time::Duration;

use sea_orm::sqlx::sqlite::{SqliteJournalMode, SqliteSynchronous};
use sea_orm::{
    ConnectOptions, ConnectionTrait, Database, DatabaseBackend, DatabaseConnection,
    DatabaseTransaction, DbErr, TransactionTrait,
};

use crate::StoreError;

/// Which database a [`Store`] talks to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// Connection settings.
#[derive(Debug, Clone)]
pub struct DbOptions {
    pub url: String,
    /// Pool size. SQLite is best with one connection: it has a single writer, and a pool of
    /// readers that upgrade to writers would fail with `SQLITE_BUSY` under load.
    pub max_connections: u32,
    /// How long a request waits for a pooled connection before failing.
    pub acquire_timeout: Duration,
    /// How long SQLite waits on a lock held by another process before failing.
    pub busy_timeout: Duration,
}

impl DbOptions {
    pub fn new(url: impl Into<String>) -> Self {
        let url = url.into();
        let max_connections = if url.starts_with("sqlite:") { 1 } else { 10 };
        DbOptions {
            url,
            max_connections,
            acquire_timeout: Duration::from_secs(5),
            busy_timeout: Duration::from_secs(5),
        }
    }
}

/// A pool of connections to the one database of this installation.
#[derive(Debug, Clone)]
pub struct Store {
    conn: DatabaseConnection,
    url: String,
}

impl Store {
    /// Connects (and for SQLite, creates the file) with WAL, a busy timeout and foreign keys on.
    ///
    /// # Errors
    /// The database is unreachable or the URL is malformed.
    pub async fn connect(options: &DbOptions) -> Result<Store, StoreError> {
        let busy_timeout = options.busy_timeout;
        let mut opts = ConnectOptions::new(options.url.clone());
        opts.max_connections(options.max_connections)
            .min_connections(0)
            .acquire_timeout(options.acquire_timeout)
            .connect_timeout(options.acquire_timeout)
            .sqlx_logging(false)
            // Plan every execution of a prepared statement for its own parameters: a plan
            // cached for one search term can be a thousand times slower for another.
            .map_sqlx_postgres_opts(|o| o.options([("plan_cache_mode", "force_custom_plan")]))
            .map_sqlx_sqlite_opts(move |o| {
                o.create_if_missing(true)
                    .journal_mode(SqliteJournalMode::Wal)
                    // FULL: a commit that was acknowledged survives a power cut, not only a
                    // killed process.
                    .synchronous(SqliteSynchronous::Full)
                    .busy_timeout(busy_timeout)
                    .foreign_keys(true)
            });
        let conn = Database::connect(opts).await?;
        Ok(Store {
            conn,
            url: options.url.clone(),
        })
    }

    pub fn backend(&self) -> Backend {
        match self.conn.get_database_backend() {
            DatabaseBackend::Postgres => Backend::Postgres,
            _ => Backend::Sqlite,
        }
    }

    /// The URL it connected to (it may hold a password: never log it).
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The pool, for reads outside a transaction and for migrations.
    pub fn conn(&self) -> &DatabaseConnection {
        &self.conn
    }

    /// Starts a transaction: one per request that writes.
    ///
    /// # Errors
    /// No connection could be had.
    pub async fn begin(&self) -> Result<DatabaseTransaction, StoreError> {
        Ok(self.conn.begin().await?)
    }

    /// Checks the database answers (for readiness).
    ///
    /// # Errors
    /// It does not.
    pub async fn ping(&self) -> Result<(), StoreError> {
        self.conn.ping().await.map_err(StoreError::from)
    }

    /// Closes the pool.
    ///
    /// # Errors
    /// Closing failed.
    pub async fn close(self) -> Result<(), DbErr> {
        self.conn.close().await
    }
}

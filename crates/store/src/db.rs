//! The database handle: connecting to SQLite or PostgreSQL with the settings each needs.

use std::sync::Arc;
use std::time::Duration;

use sea_orm::sqlx::sqlite::{SqliteJournalMode, SqliteSynchronous};
use sea_orm::{
    ConnectOptions, ConnectionTrait, Database, DatabaseBackend, DatabaseConnection, DbErr,
    TransactionTrait,
};

use crate::StoreError;
use crate::listeners::Listeners;
use crate::tx::{Tx, Writer};

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
    /// PostgreSQL: a replica for reads that may lag a moment behind the primary (lists and
    /// search). Everything else reads from and writes to `url`.
    pub read_url: Option<String>,
    /// Pool size: PostgreSQL's pool (and the replica's); on SQLite, the readers (SQLite has
    /// one writer, so writes go through one more connection of their own).
    pub max_connections: u32,
    /// How long a request waits for a pooled connection before failing.
    pub acquire_timeout: Duration,
    /// How long SQLite waits on a lock held by another process before failing.
    pub busy_timeout: Duration,
}

impl DbOptions {
    /// Readers of a SQLite database: sqlx runs each SQLite connection on a thread of its own,
    /// so a few readers use every core; more only wait for them.
    pub const SQLITE_READERS: u32 = 4;

    pub fn new(url: impl Into<String>) -> Self {
        let url = url.into();
        let max_connections = if url.starts_with("sqlite:") {
            Self::SQLITE_READERS
        } else {
            10
        };
        DbOptions {
            url,
            read_url: None,
            max_connections,
            acquire_timeout: Duration::from_secs(5),
            busy_timeout: Duration::from_secs(5),
        }
    }
}

/// The connections to the one database of this installation.
///
/// Three ways in, by what a statement needs:
/// - [`Store::begin`] writes (and [`Store::writer`], for migrations). On SQLite that is one
///   connection, so a write waits only for other writes, never for reads (WAL lets readers run
///   beside it).
/// - [`Store::conn`] reads what every acknowledged write has left: a pool of read-only
///   connections on SQLite, the primary's pool on PostgreSQL.
/// - [`Store::replica`] reads what may lag a moment behind (lists, search): the
///   replica of `read_url` when there is one, otherwise the same as `conn`.
#[derive(Debug, Clone)]
pub struct Store {
    writer: DatabaseConnection,
    /// SQLite: the writer, shared by batches of requests (group commit, see [`crate::tx`]).
    batches: Option<Writer>,
    reader: DatabaseConnection,
    replica: Option<DatabaseConnection>,
    url: String,
    /// The webhook subscriptions and rules that listen to audited writes, shared by this
    /// store's transactions.
    listeners: Arc<Listeners>,
}

impl Store {
    /// Connects (and for SQLite, creates the file) with WAL, a busy timeout and foreign keys on.
    ///
    /// # Errors
    /// The database is unreachable or the URL is malformed.
    pub async fn connect(options: &DbOptions) -> Result<Store, StoreError> {
        let sqlite = options.url.starts_with("sqlite:");
        if !sqlite {
            let primary = connect_pool(options, &options.url, Role::Postgres).await?;
            let replica = match &options.read_url {
                Some(url) => Some(connect_pool(options, url, Role::Postgres).await?),
                None => None,
            };
            return Ok(Store {
                batches: None,
                writer: primary.clone(),
                reader: primary,
                replica,
                url: options.url.clone(),
                listeners: Arc::default(),
            });
        }
        let writer = connect_pool(options, &options.url, Role::SqliteWriter).await?;
        // The writer opens the file first: it creates it and switches it to WAL, which
        // readers then share.
        writer.ping().await?;
        let reader = connect_pool(options, &options.url, Role::SqliteReader).await?;
        Ok(Store {
            batches: Some(Writer::new(writer.clone())),
            writer,
            reader,
            replica: None,
            url: options.url.clone(),
            listeners: Arc::default(),
        })
    }

    pub fn backend(&self) -> Backend {
        match self.writer.get_database_backend() {
            DatabaseBackend::Postgres => Backend::Postgres,
            _ => Backend::Sqlite,
        }
    }

    /// The URL it connected to (it may hold a password: never log it).
    pub fn url(&self) -> &str {
        &self.url
    }

    /// Reads that see every acknowledged write (outside a transaction).
    pub fn conn(&self) -> &DatabaseConnection {
        &self.reader
    }

    /// Reads that may lag a moment behind the primary: the replica when there is one.
    pub fn replica(&self) -> &DatabaseConnection {
        self.replica.as_ref().unwrap_or(&self.reader)
    }

    /// Whether [`Store::replica`] is a replica of its own.
    pub fn has_replica(&self) -> bool {
        self.replica.is_some()
    }

    /// The writer itself, for migrations and tools that run before or beside serving. While
    /// requests run, write through [`Store::begin`]: on SQLite the writer is theirs.
    pub fn writer(&self) -> &DatabaseConnection {
        &self.writer
    }

    /// Starts a transaction: one per request that writes. On SQLite it is a savepoint in a
    /// batch that commits together (see [`crate::tx`]).
    ///
    /// # Errors
    /// No connection could be had.
    pub async fn begin(&self) -> Result<Tx, StoreError> {
        match &self.batches {
            Some(writer) => writer.begin(self.listeners.clone()).await,
            None => Ok(Tx::alone(
                self.writer.begin().await?,
                self.listeners.clone(),
            )),
        }
    }

    /// Checks the database answers (for readiness): the primary (on SQLite a reader: the
    /// writer is busy with batches under load) and, when there is one, the replica.
    ///
    /// # Errors
    /// It does not.
    pub async fn ping(&self) -> Result<(), StoreError> {
        self.reader.ping().await?;
        if let Some(replica) = &self.replica {
            replica.ping().await?;
        }
        Ok(())
    }

    /// Closes the pools.
    ///
    /// # Errors
    /// Closing failed.
    pub async fn close(self) -> Result<(), DbErr> {
        let sqlite = self.backend() == Backend::Sqlite;
        if let Some(replica) = self.replica {
            replica.close().await?;
        }
        if sqlite {
            self.reader.close().await?;
        }
        self.writer.close().await
    }
}

/// What a pool is for, which decides its size and, on SQLite, its settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Role {
    /// The primary's pool, or a replica's.
    Postgres,
    SqliteWriter,
    SqliteReader,
}

async fn connect_pool(
    options: &DbOptions,
    url: &str,
    role: Role,
) -> Result<DatabaseConnection, StoreError> {
    let busy_timeout = options.busy_timeout;
    let mut opts = ConnectOptions::new(url.to_owned());
    let size = if role == Role::SqliteWriter {
        1
    } else {
        options.max_connections
    };
    opts.max_connections(size)
        .min_connections(0)
        .acquire_timeout(options.acquire_timeout)
        .connect_timeout(options.acquire_timeout)
        // No ping before each use: it is one more round trip per statement (a tenth of a
        // get's time on SQLite). A connection that broke fails its statement instead, and
        // the pool replaces it.
        .test_before_acquire(false)
        .sqlx_logging(false)
        // Plan every execution of a prepared statement for its own parameters: a plan
        // cached for one search term can be a thousand times slower for another.
        .map_sqlx_postgres_opts(|o| o.options([("plan_cache_mode", "force_custom_plan")]))
        .map_sqlx_sqlite_opts(move |o| {
            // Statement and savepoint journals and sorts in memory: in files they were most
            // of the writes a create made (strace: 28 of every 40 pwrites went to /var/tmp).
            let o = o
                .busy_timeout(busy_timeout)
                .foreign_keys(true)
                .pragma("temp_store", "memory");
            if role == Role::SqliteReader {
                // A reader that tried to write would fight the writer for the lock.
                o.create_if_missing(false).pragma("query_only", "ON")
            } else {
                o.create_if_missing(true)
                    .journal_mode(SqliteJournalMode::Wal)
                    // FULL: a commit that was acknowledged survives a power cut, not only
                    // a killed process.
                    .synchronous(SqliteSynchronous::Full)
            }
        });
    Ok(Database::connect(opts).await?)
}

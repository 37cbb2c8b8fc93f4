//! What a repository call can fail with.

use sea_orm::sqlx::sqlite::SqliteError;
use sea_orm::{DbErr, RuntimeErr, SqlErr, sqlx};

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// No such row (or not in the caller's view).
    #[error("not found")]
    NotFound,
    /// A unique constraint refused the write; carries the database's message, which names
    /// the constraint or the columns.
    #[error("conflict: {0}")]
    Conflict(String),
    /// The row changed since the caller read it (optimistic concurrency).
    #[error("stale version")]
    Stale,
    /// The database cannot be reached (down, restarting, network), or SQLite cannot write its
    /// file (disk full, read-only, failing): nothing was written; retry later.
    #[error("database unavailable: {0}")]
    Unavailable(DbErr),
    /// PostgreSQL ended the transaction for another's sake (a deadlock, 40P01, or a
    /// serialization failure, 40001): nothing was written; retrying succeeds.
    #[error("transaction ended by a conflicting one: {0}")]
    Contended(DbErr),
    /// Anything else: a bug, a broken schema, …
    #[error("database error: {0}")]
    Db(DbErr),
}

impl StoreError {
    /// Did the write break the unique constraint (or index) with this name? SQLite names the
    /// columns instead of the index, so callers pass both spellings.
    pub fn is_conflict_on(&self, names: &[&str]) -> bool {
        matches!(self, StoreError::Conflict(msg) if names.iter().any(|n| msg.contains(n)))
    }
}

impl From<DbErr> for StoreError {
    fn from(err: DbErr) -> Self {
        if let Some(SqlErr::UniqueConstraintViolation(msg)) = err.sql_err() {
            return StoreError::Conflict(msg);
        }
        match err {
            DbErr::RecordNotFound(_) => StoreError::NotFound,
            err if is_unreachable(&err) => StoreError::Unavailable(err),
            err if is_contended(&err) => StoreError::Contended(err),
            other => StoreError::Db(other),
        }
    }
}

/// A job kind misnamed in the code that enqueues it: a bug, reported like a failing statement.
impl From<rapport_domain::job::BadKind> for StoreError {
    fn from(err: rapport_domain::job::BadKind) -> Self {
        StoreError::Db(DbErr::Custom(format!("{err:?}")))
    }
}

/// Did PostgreSQL end the transaction for a conflicting one's sake?
fn is_contended(err: &DbErr) -> bool {
    match err {
        DbErr::Exec(RuntimeErr::SqlxError(sqlx::Error::Database(db)))
        | DbErr::Query(RuntimeErr::SqlxError(sqlx::Error::Database(db))) => {
            db.code().is_some_and(|c| c == "40P01" || c == "40001")
        }
        _ => false,
    }
}

/// Is this the database being unreachable (or its storage failing) rather than a failing
/// statement?
pub(crate) fn is_unreachable(err: &DbErr) -> bool {
    match err {
        DbErr::ConnectionAcquire(_) | DbErr::Conn(_) => true,
        DbErr::Exec(RuntimeErr::SqlxError(e)) | DbErr::Query(RuntimeErr::SqlxError(e)) => {
            match e {
                sqlx::Error::Io(_)
                | sqlx::Error::Tls(_)
                | sqlx::Error::Protocol(_)
                | sqlx::Error::PoolTimedOut
                | sqlx::Error::PoolClosed
                | sqlx::Error::WorkerCrashed => true,
                // PostgreSQL: the server is shutting down, or the database was dropped.
                sqlx::Error::Database(db) => match db.try_downcast_ref::<SqliteError>() {
                    Some(sqlite) => is_storage_failure(sqlite),
                    None => db.code().is_some_and(|c| {
                        c.starts_with("57P") || c == "3D000" || c.starts_with("08")
                    }),
                },
                _ => false,
            }
        }
        _ => false,
    }
}

/// SQLite cannot write its file: SQLITE_READONLY (8), SQLITE_IOERR (10), SQLITE_FULL (13) or
/// SQLITE_CANTOPEN (14), extended codes included. The transaction is rolled back, and the
/// same request succeeds once the operator frees space or makes the disk writable again.
fn is_storage_failure(err: &SqliteError) -> bool {
    use sqlx::error::DatabaseError;
    err.code()
        .and_then(|code| code.parse::<i32>().ok())
        .is_some_and(|code| matches!(code & 0xff, 8 | 10 | 13 | 14))
}

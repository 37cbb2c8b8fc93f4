//! Rapport's persistence: sea-orm entities (private to this crate), repositories that speak
//! domain types, and the database handle for SQLite and PostgreSQL.
//!
//! Every repository function takes a connection (`&impl Conn`): the API passes one
//! transaction per request, so a write and its audit event commit together or not at all.

pub mod crypto;
mod db;
mod entities;
mod error;
mod listeners;
pub mod page;
mod read_conn;
pub mod repos;
mod stats;
mod tx;

pub use db::{Backend, DbOptions, Store};
pub use error::StoreError;
pub use page::{Changes, Cursor, Page, SortDir, SortValue};
pub use read_conn::ReadConn;
/// A connection or a transaction: what every repository function runs on.
pub use sea_orm::ConnectionTrait as Conn;
/// A pool (see [`Store::conn`] and [`Store::replica`]).
pub use sea_orm::DatabaseConnection;
pub use stats::Spread;
pub use tx::Tx;

/// Commits a request's transaction.
///
/// # Errors
/// The commit failed: nothing was written.
pub async fn commit(tx: Tx) -> Result<(), StoreError> {
    tx.commit().await
}

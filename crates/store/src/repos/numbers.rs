//! Gapless document numbers: one counter per prefix and year.

use sea_orm::{DatabaseBackend, Statement};

use crate::{Conn, StoreError};

/// The next document number of `prefix` in `year` (`Q-2026-000123`), taken in the caller's
/// transaction: the counter's row
/// stays locked until it ends (PostgreSQL; SQLite has one writer), so concurrent documents
/// queue for their numbers, and a rolled-back one gives its number back. No gaps, no
/// duplicates.
///
/// # Errors
/// Database failures.
pub async fn next(db: &impl Conn, prefix: &str, year: i32) -> Result<String, StoreError> {
    let backend = db.get_database_backend();
    let sql = match backend {
        DatabaseBackend::Postgres => {
            "INSERT INTO document_numbers (prefix, year, last) VALUES ($1, $2, 1) \
             ON CONFLICT (prefix, year) DO UPDATE SET last = document_numbers.last + 1 \
             RETURNING last"
        }
        _ => {
            "INSERT INTO document_numbers (prefix, year, last) VALUES (?, ?, 1) \
             ON CONFLICT (prefix, year) DO UPDATE SET last = document_numbers.last + 1 \
             RETURNING last"
        }
    };
    let row = db
        .query_one(Statement::from_sql_and_values(
            backend,
            sql,
            [prefix.into(), year.into()],
        ))
        .await?
        .ok_or_else(|| super::corrupt("document_numbers", "no row returned"))?;
    let sequence = row.try_get::<i64>("", "last")?;
    Ok(rapport_domain::quote::document_number(
        prefix, year, sequence,
    ))
}

//! SQLite's search index keeps prefix indexes of 1 to 8 characters, where it kept 1 to 3.
//!
//! FTS5 answers a prefix (`grou*`, `_ithwi*`) from a prefix index of exactly its length by
//! walking one list newest first and stopping at the page, as it does a whole word. Without
//! one it first merges the lists of every indexed word with that start: at 1,000,000
//! customers, 2–17 ms per tier for a common start, which is most of what an English prefix, an
//! inner part or a phone tail cost. Typed prefixes are mostly 4–8 characters, markers
//! included (`_ithwi` for `thwi`, `_t0008` for `8000`).
//!
//! FTS5 cannot add a prefix index to a table, and this contentless table keeps no copy of its
//! terms to refill a new one from: the table is made again empty, and the search index
//! version is set back to 0, so the server rebuilds it at its next start (as after migration
//! 10: in the background, 500 customers per transaction; `rapport reindex` does the same by
//! hand). Until the rebuild has passed a customer, searches do not find it.

use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::DatabaseBackend;

#[derive(DeriveMigrationName)]
pub struct Migration;

/// The table with the given prefix indexes; its other options are those of migration 10.
fn create(prefixes: &str) -> String {
    format!(
        "CREATE VIRTUAL TABLE customer_search USING fts5(terms, \
         tokenize = \"unicode61 remove_diacritics 2 tokenchars '@.+-_'\", prefix = '{prefixes}', \
         content = '', contentless_delete = 1, detail = none)"
    )
}

/// Empties the index under new prefix indexes, to be rebuilt where there are customers.
async fn remake(manager: &SchemaManager<'_>, prefixes: &str) -> Result<(), DbErr> {
    if manager.get_database_backend() != DatabaseBackend::Sqlite {
        return Ok(());
    }
    let db = manager.get_connection();
    for sql in [
        "DROP TABLE customer_search".to_owned(),
        create(prefixes),
        "UPDATE search_index SET version = 0 WHERE EXISTS (SELECT 1 FROM customers)".to_owned(),
    ] {
        db.execute_unprepared(&sql).await?;
    }
    Ok(())
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        remake(manager, "1 2 3 4 5 6 7 8").await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        remake(manager, "1 2 3").await
    }
}

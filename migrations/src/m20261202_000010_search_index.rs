//! The search index learns pinyin, inner parts of words and phone tails (see
//! `rapport_domain::search`), which only a rebuild can add to existing customers.
//!
//! - `search_index` holds the version of the terms the index was built with. It starts at 0
//!   when there are customers, so the server rebuilds the index at its next start
//!   (`rapport reindex` does the same by hand), customer by customer in batches; searches
//!   keep answering from the old terms meanwhile. An empty database starts current.
//! - SQLite's FTS5 table keeps no copy of its terms (`content=''`; `contentless_delete=1`
//!   still lets a customer's terms be replaced) and no positions (`detail=none`: no query
//!   here asks for phrases), so the new terms take less space than the old ones took.

use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::DatabaseBackend;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let db = manager.get_connection();
        db.execute_unprepared(
            "CREATE TABLE search_index (id INTEGER PRIMARY KEY, version BIGINT NOT NULL)",
        )
        .await?;
        // Version 1 is the terms this migration came with: an empty database has nothing to
        // rebuild, one with customers has their older terms (version 0).
        db.execute_unprepared(
            "INSERT INTO search_index (id, version) \
             SELECT 1, CASE WHEN EXISTS (SELECT 1 FROM customers) THEN 0 ELSE 1 END",
        )
        .await?;
        if manager.get_database_backend() == DatabaseBackend::Sqlite {
            for sql in [
                "CREATE VIRTUAL TABLE customer_search_next USING fts5(terms, \
                 tokenize = \"unicode61 remove_diacritics 2 tokenchars '@.+-_'\", prefix = '1 2 3', \
                 content = '', contentless_delete = 1, detail = none)",
                "INSERT INTO customer_search_next (rowid, terms) SELECT rowid, terms FROM customer_search",
                "DROP TABLE customer_search",
                "ALTER TABLE customer_search_next RENAME TO customer_search",
            ] {
                db.execute_unprepared(sql).await?;
            }
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let db = manager.get_connection();
        if manager.get_database_backend() == DatabaseBackend::Sqlite {
            // The terms are not kept: the old table comes back empty, to be rebuilt.
            for sql in [
                "DROP TABLE customer_search",
                "CREATE VIRTUAL TABLE customer_search USING fts5(terms, \
                 tokenize = \"unicode61 remove_diacritics 2 tokenchars '@.+-_'\", prefix = '1 2 3')",
            ] {
                db.execute_unprepared(sql).await?;
            }
        }
        db.execute_unprepared("DROP TABLE search_index").await?;
        Ok(())
    }
}

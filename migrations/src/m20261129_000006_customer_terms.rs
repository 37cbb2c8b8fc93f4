//! PostgreSQL keeps customers' search terms in a narrow table of their own, numbered in the
//! order they were indexed (as SQLite's FTS5 rowids are). A search walks that numbering
//! newest first and stops at a page, reading narrow rows in the order they were written,
//! instead of wide customer rows in id order. SQLite is unchanged.

use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::DatabaseBackend;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        if manager.get_database_backend() != DatabaseBackend::Postgres {
            return Ok(());
        }
        let db = manager.get_connection();
        for sql in [
            "CREATE TABLE customer_terms (\
                seq BIGSERIAL PRIMARY KEY, \
                customer_id UUID NOT NULL UNIQUE REFERENCES customers (id), \
                terms TSVECTOR NOT NULL)",
            "CREATE INDEX customer_terms_terms_idx ON customer_terms USING GIN (terms)",
            // Ten times the default statistics: rare terms are estimated as rare, so the
            // planner reads their few rows through the index instead of walking the table.
            "ALTER TABLE customer_terms ALTER COLUMN terms SET STATISTICS 1000",
            "INSERT INTO customer_terms (customer_id, terms) \
                SELECT id, search_vector FROM customers WHERE search_vector IS NOT NULL ORDER BY id",
            "UPDATE customers SET search_rowid = t.seq FROM customer_terms t WHERE t.customer_id = customers.id",
            "DROP INDEX customers_search_idx",
            "ALTER TABLE customers DROP COLUMN search_vector",
            "CREATE UNIQUE INDEX customers_search_rowid_idx ON customers (search_rowid)",
        ] {
            db.execute_unprepared(sql).await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        if manager.get_database_backend() != DatabaseBackend::Postgres {
            return Ok(());
        }
        let db = manager.get_connection();
        for sql in [
            "DROP INDEX customers_search_rowid_idx",
            "ALTER TABLE customers ADD COLUMN search_vector tsvector",
            "UPDATE customers SET search_vector = t.terms FROM customer_terms t WHERE t.customer_id = customers.id",
            "CREATE INDEX customers_search_idx ON customers USING GIN (search_vector)",
            "DROP TABLE customer_terms",
        ] {
            db.execute_unprepared(sql).await?;
        }
        Ok(())
    }
}

//! PostgreSQL's GIN index of search terms takes each change into the index itself instead
//! of a pending list (`fastupdate = off`). With the list, every search that reads the index
//! first read the whole list (up to 4 MB after a burst of writes: pinyin searches fell from
//! 293 to 68 a second at 1,000,000 customers), and the write that filled the list merged it
//! into the index while its request waited (PATCH p99 0.6–0.8 s). Writes cost more (creates
//! about 20% fewer a second at 32 connections). SQLite is unchanged.

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
        db.execute_unprepared("ALTER INDEX customer_terms_terms_idx SET (fastupdate = off)")
            .await?;
        // What the list holds already moves into the index now, not at the next vacuum.
        db.execute_unprepared("SELECT gin_clean_pending_list('customer_terms_terms_idx')")
            .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        if manager.get_database_backend() != DatabaseBackend::Postgres {
            return Ok(());
        }
        let db = manager.get_connection();
        db.execute_unprepared("ALTER INDEX customer_terms_terms_idx SET (fastupdate = on)")
            .await?;
        Ok(())
    }
}

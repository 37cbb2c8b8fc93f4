//! Batch upserts find a customer by one of its external ids (`external_ids.<system>`): each
//! live customer's external ids join its keys in `customer_keys`, as `external_id` keys valued
//! `<system>:<id>` (never duplicate keys).

use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::DatabaseBackend;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let each = match manager.get_database_backend() {
            DatabaseBackend::Postgres => "jsonb_each_text(c.external_ids)",
            _ => "json_each(c.external_ids)",
        };
        manager
            .get_connection()
            .execute_unprepared(&format!(
                "INSERT INTO customer_keys (customer_id, kind, value) \
                 SELECT c.id, 'external_id', e.key || ':' || e.value FROM customers c, {each} e \
                 WHERE c.deleted_at IS NULL AND c.erased_at IS NULL"
            ))
            .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .get_connection()
            .execute_unprepared("DELETE FROM customer_keys WHERE kind = 'external_id'")
            .await?;
        Ok(())
    }
}

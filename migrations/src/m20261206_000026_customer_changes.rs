//! The customer change feed (`GET /v1/customers?updated_since=`) walks live and deleted
//! customers by (updated_at, id); the older `customers_updated_idx` holds live ones only.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .get_connection()
            .execute_unprepared("CREATE INDEX customers_changes_idx ON customers (updated_at, id)")
            .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .get_connection()
            .execute_unprepared("DROP INDEX customers_changes_idx")
            .await?;
        Ok(())
    }
}

//! Duplicate groups kept as writes happen: names join the other duplicate keys in
//! `customer_keys` (deleted customers keep only their tags there), and `duplicate_keys` holds
//! every key that two or more customers share, with their count.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        use DuplicateKeys as D;
        manager
            .create_table(
                Table::create()
                    .table(D::Table)
                    .col(string_len(D::Kind, 32))
                    .col(string_len(D::Value, 320))
                    .col(big_integer(D::Customers))
                    .primary_key(Index::create().col(D::Kind).col(D::Value))
                    .to_owned(),
            )
            .await?;
        let db = manager.get_connection();
        for sql in [
            "DELETE FROM customer_keys WHERE kind <> 'tag' \
             AND customer_id IN (SELECT id FROM customers WHERE deleted_at IS NOT NULL)",
            "INSERT INTO customer_keys (customer_id, kind, value) \
             SELECT id, 'name', name_key FROM customers \
             WHERE deleted_at IS NULL AND erased_at IS NULL AND name_key <> ''",
            "INSERT INTO duplicate_keys (kind, value, customers) \
             SELECT kind, value, COUNT(*) FROM customer_keys WHERE kind <> 'tag' \
             GROUP BY kind, value HAVING COUNT(*) > 1",
        ] {
            db.execute_unprepared(sql).await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .get_connection()
            .execute_unprepared("DELETE FROM customer_keys WHERE kind = 'name'")
            .await?;
        manager
            .drop_table(Table::drop().table(DuplicateKeys::Table).to_owned())
            .await
    }
}

#[derive(DeriveIden, Clone, Copy)]
enum DuplicateKeys {
    Table,
    Kind,
    Value,
    Customers,
}

//! Audit events name the customer they concern (for its contacts, activities and tasks too),
//! so that a customer's export holds its whole trail and erasure scrubs all of it.

use sea_orm_migration::{prelude::*, schema::*};

use crate::m20261129_000001_identity::index;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(AuditEvents::Table)
                    .add_column(uuid_null(AuditEvents::CustomerId))
                    .to_owned(),
            )
            .await?;
        index(
            manager,
            "audit_events_customer_idx",
            AuditEvents::Table,
            &[AuditEvents::CustomerId, AuditEvents::OccurredAt],
        )
        .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_index(
                Index::drop()
                    .name("audit_events_customer_idx")
                    .table(AuditEvents::Table)
                    .to_owned(),
            )
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(AuditEvents::Table)
                    .drop_column(AuditEvents::CustomerId)
                    .to_owned(),
            )
            .await
    }
}

#[derive(DeriveIden, Clone, Copy)]
enum AuditEvents {
    Table,
    CustomerId,
    OccurredAt,
}

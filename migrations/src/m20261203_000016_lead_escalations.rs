//! Leads escalated for want of a first contact in time: one row each, so that a lead is
//! escalated once.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(LeadEscalations::Table)
                    .col(uuid(LeadEscalations::CustomerId).primary_key())
                    .col(uuid_null(LeadEscalations::NotifiedId))
                    .col(timestamp_with_time_zone(LeadEscalations::EscalatedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .name("lead_escalations_customer_id_fkey")
                            .from(LeadEscalations::Table, LeadEscalations::CustomerId)
                            .to(Alias::new("customers"), Alias::new("id")),
                    )
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(LeadEscalations::Table).to_owned())
            .await
    }
}

#[derive(DeriveIden, Clone, Copy)]
enum LeadEscalations {
    Table,
    CustomerId,
    /// The manager told, if there was one.
    NotifiedId,
    EscalatedAt,
}

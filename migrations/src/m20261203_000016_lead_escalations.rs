//! Leads escalated for want of a first contact in time: one row each, so that a lead is
//! escalated once.
//!
//! Leads already overdue when this runs are recorded as escalated, with nobody notified:
//! otherwise the first run after the upgrade would tell managers about every lead ever missed.

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
            .await?;
        let now = chrono::Utc::now();
        let overdue = Query::select()
            .column(Customers::Id)
            .expr(Expr::value(Option::<uuid::Uuid>::None))
            .expr(Expr::value(now))
            .from(Customers::Table)
            .and_where(Expr::col(Customers::DeletedAt).is_null())
            .and_where(Expr::col(Customers::LifecycleStage).eq("lead"))
            .and_where(Expr::col(Customers::OwnerId).is_not_null())
            .and_where(Expr::col(Customers::FirstContactedAt).is_null())
            .and_where(Expr::col(Customers::FirstContactDueAt).lt(now))
            .to_owned();
        let seed = Query::insert()
            .into_table(LeadEscalations::Table)
            .columns([
                LeadEscalations::CustomerId,
                LeadEscalations::NotifiedId,
                LeadEscalations::EscalatedAt,
            ])
            .select_from(overdue)
            .map_err(|e| DbErr::Migration(e.to_string()))?
            .to_owned();
        manager.exec_stmt(seed).await
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

#[derive(DeriveIden, Clone, Copy)]
enum Customers {
    Table,
    Id,
    DeletedAt,
    LifecycleStage,
    OwnerId,
    FirstContactedAt,
    FirstContactDueAt,
}

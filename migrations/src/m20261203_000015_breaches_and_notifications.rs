//! When a ticket missed each SLA target (recorded once), and users' notifications.

use sea_orm_migration::{prelude::*, schema::*};

use crate::m20261129_000001_identity::index;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // SQLite adds one column per statement.
        for column in [
            Tickets::FirstResponseBreachedAt,
            Tickets::ResolutionBreachedAt,
        ] {
            manager
                .alter_table(
                    Table::alter()
                        .table(Tickets::Table)
                        .add_column(
                            ColumnDef::new(column)
                                .timestamp_with_time_zone()
                                .null()
                                .to_owned(),
                        )
                        .to_owned(),
                )
                .await?;
        }
        manager
            .create_table(
                Table::create()
                    .table(Notifications::Table)
                    .col(uuid(Notifications::Id).primary_key())
                    .col(uuid(Notifications::UserId))
                    .col(string_len(Notifications::Kind, 32))
                    .col(string_len(Notifications::Title, 300))
                    .col(uuid_null(Notifications::TicketId))
                    .col(uuid_null(Notifications::CustomerId))
                    .col(timestamp_with_time_zone_null(Notifications::ReadAt))
                    .col(timestamp_with_time_zone(Notifications::CreatedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .name("notifications_user_id_fkey")
                            .from(Notifications::Table, Notifications::UserId)
                            .to(Alias::new("users"), Alias::new("id")),
                    )
                    .to_owned(),
            )
            .await?;
        index(
            manager,
            "notifications_user_idx",
            Notifications::Table,
            &[
                Notifications::UserId,
                Notifications::CreatedAt,
                Notifications::Id,
            ],
        )
        .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(Notifications::Table).to_owned())
            .await?;
        for column in [
            Tickets::FirstResponseBreachedAt,
            Tickets::ResolutionBreachedAt,
        ] {
            manager
                .alter_table(
                    Table::alter()
                        .table(Tickets::Table)
                        .drop_column(column)
                        .to_owned(),
                )
                .await?;
        }
        Ok(())
    }
}

#[derive(DeriveIden, Clone, Copy)]
enum Tickets {
    Table,
    FirstResponseBreachedAt,
    ResolutionBreachedAt,
}

#[derive(DeriveIden, Clone, Copy)]
enum Notifications {
    Table,
    Id,
    UserId,
    Kind,
    Title,
    TicketId,
    CustomerId,
    ReadAt,
    CreatedAt,
}

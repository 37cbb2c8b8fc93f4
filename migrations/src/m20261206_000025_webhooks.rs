//! Webhooks: subscriptions (`webhooks`, the signing secret sealed) and the outbox of their
//! deliveries (`webhook_deliveries`), written on the transaction of the change they tell of.

use sea_orm_migration::{prelude::*, schema::*};

use crate::m20261129_000001_identity::{fk, index};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        use Webhooks as W;
        manager
            .create_table(
                Table::create()
                    .table(W::Table)
                    .col(uuid(W::Id).primary_key())
                    .col(string_len(W::Url, 2048))
                    .col(string_len_null(W::Description, 500))
                    .col(json_binary(W::EventTypes))
                    .col(string_len(W::Status, 16))
                    .col(string_len_null(W::PausedReason, 200))
                    .col(text(W::Secret))
                    .col(string_len(W::OwnerType, 16))
                    .col(uuid_null(W::OwnerId))
                    .col(timestamp_with_time_zone(W::CreatedAt))
                    .col(timestamp_with_time_zone(W::UpdatedAt))
                    .col(integer(W::Version))
                    .to_owned(),
            )
            .await?;
        index(
            manager,
            "webhooks_owner_idx",
            W::Table,
            &[W::OwnerId, W::Id],
        )
        .await?;

        use WebhookDeliveries as D;
        manager
            .create_table(
                Table::create()
                    .table(D::Table)
                    .col(uuid(D::Id).primary_key())
                    .col(uuid(D::WebhookId))
                    .col(uuid(D::EventId))
                    .col(string_len(D::EventType, 64))
                    .col(string_len(D::Record, 80))
                    .col(json_binary(D::Payload))
                    .col(string_len(D::Status, 16))
                    .col(json_binary(D::Attempts))
                    // While a run posts it: another run does not post it too.
                    .col(timestamp_with_time_zone_null(D::LeasedUntil))
                    .col(timestamp_with_time_zone(D::CreatedAt))
                    .col(timestamp_with_time_zone(D::UpdatedAt))
                    .foreign_key(
                        fk(
                            "webhook_deliveries_webhook_id_fkey",
                            D::Table,
                            D::WebhookId,
                            "webhooks",
                        )
                        .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        // A subscription's deliveries, newest first.
        index(
            manager,
            "webhook_deliveries_webhook_idx",
            D::Table,
            &[D::WebhookId, D::Id],
        )
        .await?;
        // Order per record: is an earlier delivery of this record still pending?
        index(
            manager,
            "webhook_deliveries_record_idx",
            D::Table,
            &[D::WebhookId, D::Record, D::Status, D::Id],
        )
        .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in ["webhook_deliveries", "webhooks"] {
            manager
                .drop_table(Table::drop().table(Alias::new(table)).to_owned())
                .await?;
        }
        Ok(())
    }
}

#[derive(DeriveIden, Clone, Copy)]
enum Webhooks {
    Table,
    Id,
    Url,
    Description,
    EventTypes,
    Status,
    PausedReason,
    Secret,
    OwnerType,
    OwnerId,
    CreatedAt,
    UpdatedAt,
    Version,
}

#[derive(DeriveIden, Clone, Copy)]
enum WebhookDeliveries {
    Table,
    Id,
    WebhookId,
    EventId,
    EventType,
    Record,
    Payload,
    Status,
    Attempts,
    LeasedUntil,
    CreatedAt,
    UpdatedAt,
}

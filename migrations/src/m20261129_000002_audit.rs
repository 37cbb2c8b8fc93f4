//! The audit trail: one row per write, never updated.

use sea_orm_migration::{prelude::*, schema::*};

use crate::m20261129_000001_identity::index;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(AuditEvents::Table)
                    .col(pk_uuid(AuditEvents::Id))
                    .col(timestamp_with_time_zone(AuditEvents::OccurredAt))
                    .col(string_len(AuditEvents::ActorType, 16))
                    .col(uuid_null(AuditEvents::ActorId))
                    .col(string_len(AuditEvents::EntityType, 64))
                    .col(uuid(AuditEvents::EntityId))
                    .col(string_len(AuditEvents::Action, 64))
                    .col(string_len_null(AuditEvents::RequestId, 128))
                    .col(string_len_null(AuditEvents::Ip, 64))
                    .col(json_binary(AuditEvents::Changes))
                    .to_owned(),
            )
            .await?;
        // Pagination walks (occurred_at, id); the filters narrow by entity or actor first.
        index(
            manager,
            "audit_events_occurred_at_idx",
            AuditEvents::Table,
            &[AuditEvents::OccurredAt, AuditEvents::Id],
        )
        .await?;
        index(
            manager,
            "audit_events_entity_idx",
            AuditEvents::Table,
            &[
                AuditEvents::EntityType,
                AuditEvents::EntityId,
                AuditEvents::OccurredAt,
            ],
        )
        .await?;
        index(
            manager,
            "audit_events_actor_idx",
            AuditEvents::Table,
            &[AuditEvents::ActorId, AuditEvents::OccurredAt],
        )
        .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(AuditEvents::Table).to_owned())
            .await
    }
}

#[derive(DeriveIden, Clone, Copy)]
enum AuditEvents {
    Table,
    Id,
    OccurredAt,
    ActorType,
    ActorId,
    EntityType,
    EntityId,
    Action,
    RequestId,
    Ip,
    Changes,
}

//! Background jobs, durable: written in the transaction of the change that causes them,
//! leased by one worker at a time, retried with backoff, kept `dead` for an admin.

use sea_orm_migration::{prelude::*, schema::*};

use crate::m20261129_000001_identity::{index, unique_index};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Jobs::Table)
                    .col(uuid(Jobs::Id).primary_key())
                    .col(string_len(Jobs::Kind, 64))
                    .col(json_binary(Jobs::Payload))
                    // Enqueueing with a key is idempotent (a schedule's occurrence).
                    .col(string_len_null(Jobs::Key, 255))
                    .col(string_len(Jobs::Status, 16))
                    .col(integer(Jobs::Attempts))
                    .col(integer(Jobs::MaxAttempts))
                    .col(timestamp_with_time_zone(Jobs::RunAt))
                    .col(string_len_null(Jobs::Worker, 128))
                    .col(timestamp_with_time_zone_null(Jobs::LeaseExpiresAt))
                    .col(text_null(Jobs::LastError))
                    .col(timestamp_with_time_zone_null(Jobs::FinishedAt))
                    .col(timestamp_with_time_zone(Jobs::CreatedAt))
                    .col(timestamp_with_time_zone(Jobs::UpdatedAt))
                    .col(integer(Jobs::Version))
                    .to_owned(),
            )
            .await?;
        unique_index(manager, "jobs_key_key", Jobs::Table, &[Jobs::Key]).await?;
        // Claiming: queued jobs by due time, running ones by lease.
        index(
            manager,
            "jobs_due_idx",
            Jobs::Table,
            &[Jobs::Status, Jobs::RunAt],
        )
        .await?;
        // The admin's list by status, newest first.
        index(
            manager,
            "jobs_status_idx",
            Jobs::Table,
            &[Jobs::Status, Jobs::Id],
        )
        .await?;
        // Purging finished jobs.
        index(
            manager,
            "jobs_finished_idx",
            Jobs::Table,
            &[Jobs::Status, Jobs::FinishedAt],
        )
        .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(Jobs::Table).to_owned())
            .await
    }
}

#[derive(DeriveIden, Clone, Copy)]
enum Jobs {
    Table,
    Id,
    Kind,
    Payload,
    Key,
    Status,
    Attempts,
    MaxAttempts,
    RunAt,
    Worker,
    LeaseExpiresAt,
    LastError,
    FinishedAt,
    CreatedAt,
    UpdatedAt,
    Version,
}

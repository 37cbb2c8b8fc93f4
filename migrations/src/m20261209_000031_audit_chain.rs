//! The tamper-evident audit trail: `audit_seals` holds each sealed event's place in the hash
//! chain (`seq`), the digest of its changes as sealed and its link; `audit_chain` is the one
//! row of the chain's head, which sealers lock so that one seals at a time. Audit events
//! themselves stay as written.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

/// The link before the first (`rapport_domain::audit_chain::GENESIS`).
const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        use AuditSeals as S;
        manager
            .create_table(
                Table::create()
                    .table(S::Table)
                    .col(big_integer(S::Seq).primary_key())
                    .col(uuid_uniq(S::EventId))
                    .col(string_len(S::ChangesDigest, 64))
                    .col(string_len(S::Hash, 64))
                    .col(timestamp_with_time_zone(S::SealedAt))
                    // Set when erasure scrubs the event's changes: their digest is the
                    // original's, which the scrubbed changes no longer match.
                    .col(timestamp_with_time_zone_null(S::ErasedAt))
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(AuditChain::Table)
                    .col(small_integer(AuditChain::Id).primary_key())
                    .col(big_integer(AuditChain::Seq))
                    .col(string_len(AuditChain::Hash, 64))
                    // The latest `occurred_at` sealed: each pass looks for unsealed events from
                    // a while before it, not through the whole trail.
                    .col(timestamp_with_time_zone_null(AuditChain::SealedThrough))
                    .to_owned(),
            )
            .await?;
        manager
            .exec_stmt(
                Query::insert()
                    .into_table(AuditChain::Table)
                    .columns([AuditChain::Id, AuditChain::Seq, AuditChain::Hash])
                    .values_panic([1.into(), 0.into(), GENESIS.into()])
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(AuditChain::Table).to_owned())
            .await?;
        manager
            .drop_table(Table::drop().table(AuditSeals::Table).to_owned())
            .await
    }
}

#[derive(DeriveIden, Clone, Copy)]
enum AuditSeals {
    Table,
    Seq,
    EventId,
    ChangesDigest,
    Hash,
    SealedAt,
    ErasedAt,
}

#[derive(DeriveIden, Clone, Copy)]
enum AuditChain {
    Table,
    Id,
    Seq,
    Hash,
    SealedThrough,
}

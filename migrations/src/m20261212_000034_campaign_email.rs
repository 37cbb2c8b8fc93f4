//! Email campaigns: one message per member of a campaign (unique per campaign and member, so
//! a send that runs again creates none twice), with the hash of its public token (unique:
//! the public links find their message by it) and what became of it (sent, bounced, opened,
//! clicked, unsubscribed). No address is kept: the contact is read when the message is sent.

use sea_orm_migration::{prelude::*, schema::*};

use crate::m20261129_000001_identity::{fk, index, unique_index};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        use CampaignMessages as M;
        manager
            .create_table(
                Table::create()
                    .table(M::Table)
                    .col(uuid(M::Id).primary_key())
                    .col(uuid(M::CampaignId))
                    .col(uuid(M::MemberId))
                    .col(string_len_null(M::TokenHash, 64))
                    .col(string_len(M::Status, 16))
                    .col(timestamp_with_time_zone_null(M::SentAt))
                    .col(timestamp_with_time_zone_null(M::BouncedAt))
                    .col(timestamp_with_time_zone_null(M::OpenedAt))
                    .col(integer(M::OpenCount))
                    .col(timestamp_with_time_zone_null(M::ClickedAt))
                    .col(integer(M::ClickCount))
                    .col(timestamp_with_time_zone_null(M::UnsubscribedAt))
                    .col(timestamp_with_time_zone(M::CreatedAt))
                    .col(timestamp_with_time_zone(M::UpdatedAt))
                    .foreign_key(
                        fk(
                            "campaign_messages_campaign_id_fkey",
                            M::Table,
                            M::CampaignId,
                            "campaigns",
                        )
                        .on_delete(ForeignKeyAction::Cascade),
                    )
                    .foreign_key(
                        fk(
                            "campaign_messages_member_id_fkey",
                            M::Table,
                            M::MemberId,
                            "campaign_members",
                        )
                        .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        // One message per member of a campaign: a send that runs again creates nothing twice.
        unique_index(
            manager,
            "campaign_messages_member_key",
            M::Table,
            &[M::CampaignId, M::MemberId],
        )
        .await?;
        // The public links find their message by its token's hash.
        unique_index(
            manager,
            "campaign_messages_token_key",
            M::Table,
            &[M::TokenHash],
        )
        .await?;
        // A member's message (the member delete cascades through it).
        index(
            manager,
            "campaign_messages_member_idx",
            M::Table,
            &[M::MemberId],
        )
        .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(CampaignMessages::Table).to_owned())
            .await
    }
}

#[derive(DeriveIden, Clone, Copy)]
enum CampaignMessages {
    Table,
    Id,
    CampaignId,
    MemberId,
    TokenHash,
    Status,
    SentAt,
    BouncedAt,
    OpenedAt,
    OpenCount,
    ClickedAt,
    ClickCount,
    UnsubscribedAt,
    CreatedAt,
    UpdatedAt,
}

//! Marketing campaigns: campaigns, their cost entries and members (contacts of customers,
//! once per campaign), and attribution: a customer may name the campaign it came from
//! (`customers.campaign_id`), as an opportunity already may. Indexes serve the campaign list
//! and its change feed, the members of a campaign, and the campaign report's counts.

use sea_orm_migration::{prelude::*, schema::*};

use crate::m20261129_000001_identity::{fk, index, unique_index};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        use Campaigns as C;
        manager
            .create_table(
                Table::create()
                    .table(C::Table)
                    .col(uuid(C::Id).primary_key())
                    .col(string_len(C::Name, 200))
                    .col(string_len(C::Type, 16))
                    .col(string_len_null(C::Channel, 32))
                    .col(text_null(C::Content))
                    .col(timestamp_with_time_zone_null(C::StartsAt))
                    .col(timestamp_with_time_zone_null(C::EndsAt))
                    .col(big_integer_null(C::BudgetMinor))
                    .col(string_len_null(C::BudgetCurrency, 3))
                    .col(uuid_null(C::OwnerId))
                    .col(string_len(C::Status, 16))
                    .col(string_len_null(C::EmailSubject, 300))
                    .col(text_null(C::EmailBody))
                    .col(uuid_null(C::CreatedBy))
                    .col(timestamp_with_time_zone(C::CreatedAt))
                    .col(timestamp_with_time_zone(C::UpdatedAt))
                    .col(integer(C::Version))
                    .foreign_key(&mut fk(
                        "campaigns_owner_id_fkey",
                        C::Table,
                        C::OwnerId,
                        "users",
                    ))
                    .to_owned(),
            )
            .await?;
        index(
            manager,
            "campaigns_created_idx",
            C::Table,
            &[C::CreatedAt, C::Id],
        )
        .await?;
        index(
            manager,
            "campaigns_changes_idx",
            C::Table,
            &[C::UpdatedAt, C::Id],
        )
        .await?;

        use CampaignCosts as K;
        manager
            .create_table(
                Table::create()
                    .table(K::Table)
                    .col(uuid(K::Id).primary_key())
                    .col(uuid(K::CampaignId))
                    .col(big_integer(K::AmountMinor))
                    .col(string_len(K::Currency, 3))
                    .col(string_len_null(K::Description, 500))
                    .col(date(K::IncurredOn))
                    .col(uuid_null(K::CreatedBy))
                    .col(timestamp_with_time_zone(K::CreatedAt))
                    .foreign_key(
                        fk(
                            "campaign_costs_campaign_id_fkey",
                            K::Table,
                            K::CampaignId,
                            "campaigns",
                        )
                        .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        // A campaign's entries, and the report's sums per campaign and currency.
        index(
            manager,
            "campaign_costs_campaign_idx",
            K::Table,
            &[K::CampaignId, K::Currency, K::AmountMinor],
        )
        .await?;

        use CampaignMembers as M;
        manager
            .create_table(
                Table::create()
                    .table(M::Table)
                    .col(uuid(M::Id).primary_key())
                    .col(uuid(M::CampaignId))
                    .col(uuid(M::CustomerId))
                    .col(uuid(M::ContactId))
                    .col(string_len(M::Status, 16))
                    .col(timestamp_with_time_zone(M::AddedAt))
                    .col(timestamp_with_time_zone_null(M::RespondedAt))
                    .col(timestamp_with_time_zone(M::UpdatedAt))
                    .col(integer(M::Version))
                    .foreign_key(
                        fk(
                            "campaign_members_campaign_id_fkey",
                            M::Table,
                            M::CampaignId,
                            "campaigns",
                        )
                        .on_delete(ForeignKeyAction::Cascade),
                    )
                    .foreign_key(&mut fk(
                        "campaign_members_customer_id_fkey",
                        M::Table,
                        M::CustomerId,
                        "customers",
                    ))
                    .foreign_key(
                        fk(
                            "campaign_members_contact_id_fkey",
                            M::Table,
                            M::ContactId,
                            "contacts",
                        )
                        .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        // A contact is a member of a campaign once; the report counts by status from here.
        unique_index(
            manager,
            "campaign_members_contact_key",
            M::Table,
            &[M::CampaignId, M::ContactId],
        )
        .await?;
        index(
            manager,
            "campaign_members_status_idx",
            M::Table,
            &[M::CampaignId, M::Status, M::CustomerId],
        )
        .await?;
        index(
            manager,
            "campaign_members_contact_idx",
            M::Table,
            &[M::ContactId],
        )
        .await?;
        index(
            manager,
            "campaign_members_customer_idx",
            M::Table,
            &[M::CustomerId],
        )
        .await?;
        index(
            manager,
            "campaign_members_changes_idx",
            M::Table,
            &[M::UpdatedAt, M::Id],
        )
        .await?;

        manager
            .alter_table(
                Table::alter()
                    .table(Customers::Table)
                    .add_column(uuid_null(Customers::CampaignId))
                    .to_owned(),
            )
            .await?;
        // Leads per campaign (the report, the customer list's filter).
        index(
            manager,
            "customers_campaign_idx",
            Customers::Table,
            &[Customers::CampaignId],
        )
        .await?;
        // Opportunities per campaign, with what the report sums.
        index(
            manager,
            "opportunities_campaign_idx",
            Opportunities::Table,
            &[
                Opportunities::CampaignId,
                Opportunities::Status,
                Opportunities::Currency,
                Opportunities::AmountMinor,
            ],
        )
        .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let db = manager.get_connection();
        db.execute_unprepared("DROP INDEX opportunities_campaign_idx")
            .await?;
        db.execute_unprepared("DROP INDEX customers_campaign_idx")
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(Customers::Table)
                    .drop_column(Customers::CampaignId)
                    .to_owned(),
            )
            .await?;
        for table in ["campaign_members", "campaign_costs", "campaigns"] {
            manager
                .drop_table(Table::drop().table(Alias::new(table)).to_owned())
                .await?;
        }
        Ok(())
    }
}

#[derive(DeriveIden, Clone, Copy)]
enum Campaigns {
    Table,
    Id,
    Name,
    Type,
    Channel,
    Content,
    StartsAt,
    EndsAt,
    BudgetMinor,
    BudgetCurrency,
    OwnerId,
    Status,
    EmailSubject,
    EmailBody,
    CreatedBy,
    CreatedAt,
    UpdatedAt,
    Version,
}

#[derive(DeriveIden, Clone, Copy)]
enum CampaignCosts {
    Table,
    Id,
    CampaignId,
    AmountMinor,
    Currency,
    Description,
    IncurredOn,
    CreatedBy,
    CreatedAt,
}

#[derive(DeriveIden, Clone, Copy)]
enum CampaignMembers {
    Table,
    Id,
    CampaignId,
    CustomerId,
    ContactId,
    Status,
    AddedAt,
    RespondedAt,
    UpdatedAt,
    Version,
}

#[derive(DeriveIden, Clone, Copy)]
enum Customers {
    Table,
    CampaignId,
}

#[derive(DeriveIden, Clone, Copy)]
enum Opportunities {
    Table,
    CampaignId,
    Status,
    Currency,
    AmountMinor,
}

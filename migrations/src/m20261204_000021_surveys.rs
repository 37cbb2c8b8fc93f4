//! Satisfaction surveys: surveys (questions as JSON, versioned by `revision`), their triggers,
//! and invitations with their token's hash, their answers and what they were about.

use sea_orm_migration::{prelude::*, schema::*};

use crate::m20261129_000001_identity::{fk, index, unique_index};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        use Surveys as S;
        manager
            .create_table(
                Table::create()
                    .table(S::Table)
                    .col(uuid(S::Id).primary_key())
                    .col(string_len(S::Title, 200))
                    .col(string_len(S::Language, 35))
                    .col(json_binary(S::Questions))
                    .col(integer(S::Revision))
                    .col(uuid_null(S::PreviousId))
                    .col(uuid_null(S::SupersededById))
                    .col(big_integer(S::ExpiresInDays))
                    .col(big_integer(S::QuietDays))
                    .col(big_integer_null(S::FollowUpCsatAtMost))
                    .col(big_integer_null(S::FollowUpNpsAtMost))
                    .col(uuid_null(S::CreatedBy))
                    .col(timestamp_with_time_zone(S::CreatedAt))
                    .col(timestamp_with_time_zone(S::UpdatedAt))
                    .col(integer(S::Version))
                    .to_owned(),
            )
            .await?;
        index(
            manager,
            "surveys_created_idx",
            S::Table,
            &[S::CreatedAt, S::Id],
        )
        .await?;

        use SurveyTriggers as T;
        manager
            .create_table(
                Table::create()
                    .table(T::Table)
                    .col(uuid(T::Id).primary_key())
                    .col(uuid(T::SurveyId))
                    .col(string_len(T::Event, 32))
                    .col(boolean(T::Enabled))
                    .col(timestamp_with_time_zone(T::CreatedAt))
                    .col(timestamp_with_time_zone(T::UpdatedAt))
                    .col(integer(T::Version))
                    .foreign_key(&mut fk(
                        "survey_triggers_survey_id_fkey",
                        T::Table,
                        T::SurveyId,
                        "surveys",
                    ))
                    .to_owned(),
            )
            .await?;
        unique_index(
            manager,
            "survey_triggers_survey_event_key",
            T::Table,
            &[T::SurveyId, T::Event],
        )
        .await?;

        use SurveyInvitations as I;
        manager
            .create_table(
                Table::create()
                    .table(I::Table)
                    .col(uuid(I::Id).primary_key())
                    .col(uuid(I::SurveyId))
                    .col(uuid(I::ContactId))
                    .col(uuid(I::CustomerId))
                    .col(uuid_null(I::TicketId))
                    .col(uuid_null(I::OpportunityId))
                    .col(uuid_null(I::OrderId))
                    .col(string_len(I::Origin, 32))
                    .col(uuid_null(I::TriggerId))
                    .col(string_len_null(I::TriggerKey, 120))
                    .col(string_len(I::Status, 16))
                    // SHA-256 of the token: the token itself is answered once and never kept,
                    // but sealed (`token_sealed`) until its email is sent.
                    .col(string_len(I::TokenHash, 64))
                    .col(text_null(I::TokenSealed))
                    .col(timestamp_with_time_zone(I::ExpiresAt))
                    .col(timestamp_with_time_zone_null(I::OpenedAt))
                    .col(timestamp_with_time_zone_null(I::AnsweredAt))
                    .col(timestamp_with_time_zone_null(I::EmailedAt))
                    .col(uuid_null(I::FollowUpTicketId))
                    .col(json_binary_null(I::Answers))
                    .col(uuid_null(I::AgentId))
                    .col(uuid_null(I::TeamId))
                    .col(string_len_null(I::Channel, 16))
                    .col(string_len_null(I::Category, 16))
                    .col(string_len_null(I::Grade, 16))
                    .col(timestamp_with_time_zone(I::CreatedAt))
                    .col(timestamp_with_time_zone(I::UpdatedAt))
                    .col(integer(I::Version))
                    .foreign_key(&mut fk(
                        "survey_invitations_survey_id_fkey",
                        I::Table,
                        I::SurveyId,
                        "surveys",
                    ))
                    .foreign_key(&mut fk(
                        "survey_invitations_customer_id_fkey",
                        I::Table,
                        I::CustomerId,
                        "customers",
                    ))
                    .to_owned(),
            )
            .await?;
        unique_index(
            manager,
            "survey_invitations_token_key",
            I::Table,
            &[I::TokenHash],
        )
        .await?;
        // One invitation per trigger and what it fired for, however often its job runs.
        unique_index(
            manager,
            "survey_invitations_trigger_key",
            I::Table,
            &[I::TriggerId, I::TriggerKey],
        )
        .await?;
        index(
            manager,
            "survey_invitations_survey_idx",
            I::Table,
            &[I::SurveyId, I::CreatedAt, I::Id],
        )
        .await?;
        // The quiet period: a contact's latest invitation.
        index(
            manager,
            "survey_invitations_contact_idx",
            I::Table,
            &[I::ContactId, I::CreatedAt],
        )
        .await?;
        index(
            manager,
            "survey_invitations_customer_idx",
            I::Table,
            &[I::CustomerId, I::CreatedAt, I::Id],
        )
        .await?;
        index(
            manager,
            "survey_invitations_answered_idx",
            I::Table,
            &[I::AnsweredAt],
        )
        .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in ["survey_invitations", "survey_triggers", "surveys"] {
            manager
                .drop_table(Table::drop().table(Alias::new(table)).to_owned())
                .await?;
        }
        Ok(())
    }
}

#[derive(DeriveIden, Clone, Copy)]
enum Surveys {
    Table,
    Id,
    Title,
    Language,
    Questions,
    Revision,
    PreviousId,
    SupersededById,
    ExpiresInDays,
    QuietDays,
    FollowUpCsatAtMost,
    FollowUpNpsAtMost,
    CreatedBy,
    CreatedAt,
    UpdatedAt,
    Version,
}

#[derive(DeriveIden, Clone, Copy)]
enum SurveyTriggers {
    Table,
    Id,
    SurveyId,
    Event,
    Enabled,
    CreatedAt,
    UpdatedAt,
    Version,
}

#[derive(DeriveIden, Clone, Copy)]
enum SurveyInvitations {
    Table,
    Id,
    SurveyId,
    ContactId,
    CustomerId,
    TicketId,
    OpportunityId,
    OrderId,
    Origin,
    TriggerId,
    TriggerKey,
    Status,
    TokenHash,
    TokenSealed,
    ExpiresAt,
    OpenedAt,
    AnsweredAt,
    EmailedAt,
    FollowUpTicketId,
    Answers,
    AgentId,
    TeamId,
    Channel,
    Category,
    Grade,
    CreatedAt,
    UpdatedAt,
    Version,
}

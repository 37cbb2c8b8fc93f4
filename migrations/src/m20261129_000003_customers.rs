//! Customers and contacts, their activities, tasks and stage changes, the keys duplicates are
//! found by, and full-text search (FTS5 on SQLite, a `tsvector` with a GIN index on
//! PostgreSQL).

use sea_orm_migration::sea_orm::DatabaseBackend;
use sea_orm_migration::{prelude::*, schema::*};

use crate::m20261129_000001_identity::{Teams, Users, index};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Customers::Table)
                    .col(pk_uuid(Customers::Id))
                    .col(string_len(Customers::Name, 200))
                    // Lower-cased name: the sort key of `sort=name`.
                    .col(string_len(Customers::SortName, 200))
                    // `dedupe::name_key`: similar names collide here.
                    .col(string_len(Customers::NameKey, 200))
                    .col(string_len(Customers::Kind, 32))
                    .col(string_len_null(Customers::Industry, 32))
                    .col(string_len_null(Customers::Size, 32))
                    .col(string_len(Customers::Grade, 32))
                    .col(string_len(Customers::LifecycleStage, 32))
                    .col(uuid_null(Customers::OwnerId))
                    .col(uuid_null(Customers::TeamId))
                    .col(json_binary(Customers::Tags))
                    .col(string_len_null(Customers::Source, 32))
                    .col(string_len_null(Customers::Channel, 32))
                    .col(string_len_null(Customers::Website, 2048))
                    .col(string_len_null(Customers::RegistrationNumber, 32))
                    .col(string_len_null(Customers::Country, 2))
                    .col(json_binary(Customers::Addresses))
                    .col(json_binary(Customers::ExternalIds))
                    .col(text_null(Customers::Description))
                    .col(timestamp_with_time_zone_null(Customers::FirstContactDueAt))
                    .col(timestamp_with_time_zone_null(Customers::FirstContactedAt))
                    .col(timestamp_with_time_zone_null(Customers::LastActivityAt))
                    // `last_activity_at`, or the epoch when there was none: a sort key
                    // without NULLs, so keyset pagination stays simple and indexed.
                    .col(timestamp_with_time_zone(Customers::LastActivitySort))
                    .col(timestamp_with_time_zone_null(Customers::DeletedAt))
                    .col(uuid_null(Customers::MergedIntoId))
                    .col(timestamp_with_time_zone_null(Customers::ErasedAt))
                    .col(timestamp_with_time_zone(Customers::CreatedAt))
                    .col(timestamp_with_time_zone(Customers::UpdatedAt))
                    .col(integer(Customers::Version))
                    // SQLite: the rowid of the customer's row in the FTS5 table.
                    .col(big_integer_null(Customers::SearchRowid))
                    .foreign_key(
                        ForeignKey::create()
                            .name("customers_owner_id_fkey")
                            .from(Customers::Table, Customers::OwnerId)
                            .to(Users::Table, Users::Id),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .name("customers_team_id_fkey")
                            .from(Customers::Table, Customers::TeamId)
                            .to(Teams::Table, Teams::Id),
                    )
                    .to_owned(),
            )
            .await?;

        let db = manager.get_connection();
        // Live customers are what lists read: each sort and the common filters get an index
        // that serves keyset pagination without a sort step.
        for sql in [
            "CREATE INDEX customers_created_idx ON customers (created_at, id) WHERE deleted_at IS NULL",
            "CREATE INDEX customers_updated_idx ON customers (updated_at, id) WHERE deleted_at IS NULL",
            "CREATE INDEX customers_name_idx ON customers (sort_name, id) WHERE deleted_at IS NULL",
            "CREATE INDEX customers_activity_idx ON customers (last_activity_sort, id) WHERE deleted_at IS NULL",
            "CREATE INDEX customers_owner_idx ON customers (owner_id, created_at, id) WHERE deleted_at IS NULL",
            "CREATE INDEX customers_team_idx ON customers (team_id, created_at, id) WHERE deleted_at IS NULL",
            "CREATE INDEX customers_stage_idx ON customers (lifecycle_stage, created_at, id) WHERE deleted_at IS NULL",
            "CREATE INDEX customers_name_key_idx ON customers (name_key) WHERE deleted_at IS NULL",
            "CREATE INDEX customers_deleted_idx ON customers (deleted_at, id) WHERE deleted_at IS NOT NULL",
            "CREATE INDEX customers_lead_due_idx ON customers (first_contact_due_at) WHERE first_contacted_at IS NULL AND deleted_at IS NULL",
        ] {
            db.execute_unprepared(sql).await?;
        }

        manager
            .create_table(
                Table::create()
                    .table(Contacts::Table)
                    .col(pk_uuid(Contacts::Id))
                    .col(uuid(Contacts::CustomerId))
                    .col(string_len(Contacts::FirstName, 100))
                    .col(string_len_null(Contacts::LastName, 100))
                    .col(string_len_null(Contacts::Title, 200))
                    .col(json_binary(Contacts::Emails))
                    .col(json_binary(Contacts::Phones))
                    .col(string_len_null(Contacts::PreferredChannel, 32))
                    .col(boolean_null(Contacts::MarketingConsent))
                    .col(timestamp_with_time_zone_null(Contacts::MarketingConsentAt))
                    .col(string_len_null(Contacts::MarketingConsentSource, 32))
                    .col(boolean(Contacts::IsPrimary))
                    .col(timestamp_with_time_zone(Contacts::CreatedAt))
                    .col(timestamp_with_time_zone(Contacts::UpdatedAt))
                    .col(integer(Contacts::Version))
                    .foreign_key(
                        ForeignKey::create()
                            .name("contacts_customer_id_fkey")
                            .from(Contacts::Table, Contacts::CustomerId)
                            .to(Customers::Table, Customers::Id),
                    )
                    .to_owned(),
            )
            .await?;
        index(
            manager,
            "contacts_customer_idx",
            Contacts::Table,
            &[Contacts::CustomerId, Contacts::Id],
        )
        .await?;

        // The normalized emails, phones, registration numbers and tags of each live customer:
        // duplicate detection and tag filters look values up here.
        manager
            .create_table(
                Table::create()
                    .table(CustomerKeys::Table)
                    .col(uuid(CustomerKeys::CustomerId))
                    .col(string_len(CustomerKeys::Kind, 32))
                    .col(string_len(CustomerKeys::Value, 320))
                    .primary_key(
                        Index::create()
                            .col(CustomerKeys::Kind)
                            .col(CustomerKeys::Value)
                            .col(CustomerKeys::CustomerId),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .name("customer_keys_customer_id_fkey")
                            .from(CustomerKeys::Table, CustomerKeys::CustomerId)
                            .to(Customers::Table, Customers::Id),
                    )
                    .to_owned(),
            )
            .await?;
        index(
            manager,
            "customer_keys_customer_idx",
            CustomerKeys::Table,
            &[CustomerKeys::CustomerId],
        )
        .await?;

        manager
            .create_table(
                Table::create()
                    .table(Activities::Table)
                    .col(pk_uuid(Activities::Id))
                    .col(uuid(Activities::CustomerId))
                    .col(uuid_null(Activities::ContactId))
                    .col(string_len(Activities::Kind, 32))
                    .col(string_len_null(Activities::Direction, 16))
                    .col(string_len_null(Activities::Channel, 32))
                    .col(timestamp_with_time_zone(Activities::OccurredAt))
                    .col(string_len(Activities::Summary, 500))
                    .col(text_null(Activities::Details))
                    .col(string_len_null(Activities::Outcome, 500))
                    .col(uuid_null(Activities::RecordedBy))
                    .col(timestamp_with_time_zone(Activities::CreatedAt))
                    .col(timestamp_with_time_zone(Activities::UpdatedAt))
                    .col(integer(Activities::Version))
                    .foreign_key(
                        ForeignKey::create()
                            .name("activities_customer_id_fkey")
                            .from(Activities::Table, Activities::CustomerId)
                            .to(Customers::Table, Customers::Id),
                    )
                    .to_owned(),
            )
            .await?;
        index(
            manager,
            "activities_customer_idx",
            Activities::Table,
            &[
                Activities::CustomerId,
                Activities::OccurredAt,
                Activities::Id,
            ],
        )
        .await?;
        index(
            manager,
            "activities_occurred_idx",
            Activities::Table,
            &[Activities::OccurredAt, Activities::Id],
        )
        .await?;

        manager
            .create_table(
                Table::create()
                    .table(Tasks::Table)
                    .col(pk_uuid(Tasks::Id))
                    .col(string_len(Tasks::Title, 200))
                    .col(text_null(Tasks::Description))
                    .col(uuid_null(Tasks::CustomerId))
                    .col(uuid_null(Tasks::ContactId))
                    .col(uuid(Tasks::AssigneeId))
                    .col(timestamp_with_time_zone_null(Tasks::DueAt))
                    .col(timestamp_with_time_zone_null(Tasks::ReminderAt))
                    .col(string_len(Tasks::Status, 16))
                    .col(timestamp_with_time_zone_null(Tasks::CompletedAt))
                    .col(string_len(Tasks::Origin, 32))
                    .col(uuid_null(Tasks::CreatedBy))
                    .col(timestamp_with_time_zone(Tasks::CreatedAt))
                    .col(timestamp_with_time_zone(Tasks::UpdatedAt))
                    .col(integer(Tasks::Version))
                    .foreign_key(
                        ForeignKey::create()
                            .name("tasks_customer_id_fkey")
                            .from(Tasks::Table, Tasks::CustomerId)
                            .to(Customers::Table, Customers::Id),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .name("tasks_assignee_id_fkey")
                            .from(Tasks::Table, Tasks::AssigneeId)
                            .to(Users::Table, Users::Id),
                    )
                    .to_owned(),
            )
            .await?;
        index(
            manager,
            "tasks_assignee_idx",
            Tasks::Table,
            &[Tasks::AssigneeId, Tasks::Status, Tasks::DueAt],
        )
        .await?;
        index(
            manager,
            "tasks_customer_idx",
            Tasks::Table,
            &[Tasks::CustomerId, Tasks::CreatedAt, Tasks::Id],
        )
        .await?;
        index(
            manager,
            "tasks_created_idx",
            Tasks::Table,
            &[Tasks::CreatedAt, Tasks::Id],
        )
        .await?;

        manager
            .create_table(
                Table::create()
                    .table(StageChanges::Table)
                    .col(pk_uuid(StageChanges::Id))
                    .col(uuid(StageChanges::CustomerId))
                    .col(string_len_null(StageChanges::FromStage, 32))
                    .col(string_len(StageChanges::ToStage, 32))
                    .col(timestamp_with_time_zone(StageChanges::ChangedAt))
                    .col(uuid_null(StageChanges::ChangedBy))
                    .foreign_key(
                        ForeignKey::create()
                            .name("stage_changes_customer_id_fkey")
                            .from(StageChanges::Table, StageChanges::CustomerId)
                            .to(Customers::Table, Customers::Id),
                    )
                    .to_owned(),
            )
            .await?;
        index(
            manager,
            "stage_changes_customer_idx",
            StageChanges::Table,
            &[
                StageChanges::CustomerId,
                StageChanges::ChangedAt,
                StageChanges::Id,
            ],
        )
        .await?;

        match manager.get_database_backend() {
            DatabaseBackend::Postgres => {
                db.execute_unprepared("ALTER TABLE customers ADD COLUMN search_vector tsvector")
                    .await?;
                db.execute_unprepared(
                    "CREATE INDEX customers_search_idx ON customers USING GIN (search_vector)",
                )
                .await?;
            }
            _ => {
                // Terms are made by `rapport_domain::search`; the tokenizer only splits on
                // spaces and keeps the characters of emails and numbers. Prefix indexes make
                // `acm*` cheap.
                db.execute_unprepared(
                    "CREATE VIRTUAL TABLE customer_search USING fts5(terms, \
                     tokenize = \"unicode61 remove_diacritics 2 tokenchars '@.+-_'\", prefix = '1 2 3')",
                )
                .await?;
                db.execute_unprepared(
                    "CREATE UNIQUE INDEX customers_search_rowid_idx ON customers (search_rowid)",
                )
                .await?;
            }
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        if manager.get_database_backend() == DatabaseBackend::Sqlite {
            manager
                .get_connection()
                .execute_unprepared("DROP TABLE IF EXISTS customer_search")
                .await?;
        }
        for table in [
            StageChanges::Table.into_iden(),
            Tasks::Table.into_iden(),
            Activities::Table.into_iden(),
            CustomerKeys::Table.into_iden(),
            Contacts::Table.into_iden(),
            Customers::Table.into_iden(),
        ] {
            manager
                .drop_table(Table::drop().table(table).to_owned())
                .await?;
        }
        Ok(())
    }
}

#[derive(DeriveIden, Clone, Copy)]
pub(crate) enum Customers {
    Table,
    Id,
    Name,
    SortName,
    NameKey,
    Kind,
    Industry,
    Size,
    Grade,
    LifecycleStage,
    OwnerId,
    TeamId,
    Tags,
    Source,
    Channel,
    Website,
    RegistrationNumber,
    Country,
    Addresses,
    ExternalIds,
    Description,
    FirstContactDueAt,
    FirstContactedAt,
    LastActivityAt,
    LastActivitySort,
    DeletedAt,
    MergedIntoId,
    ErasedAt,
    CreatedAt,
    UpdatedAt,
    Version,
    SearchRowid,
}

#[derive(DeriveIden, Clone, Copy)]
enum Contacts {
    Table,
    Id,
    CustomerId,
    FirstName,
    LastName,
    Title,
    Emails,
    Phones,
    PreferredChannel,
    MarketingConsent,
    MarketingConsentAt,
    MarketingConsentSource,
    IsPrimary,
    CreatedAt,
    UpdatedAt,
    Version,
}

#[derive(DeriveIden, Clone, Copy)]
enum CustomerKeys {
    Table,
    CustomerId,
    Kind,
    Value,
}

#[derive(DeriveIden, Clone, Copy)]
enum Activities {
    Table,
    Id,
    CustomerId,
    ContactId,
    Kind,
    Direction,
    Channel,
    OccurredAt,
    Summary,
    Details,
    Outcome,
    RecordedBy,
    CreatedAt,
    UpdatedAt,
    Version,
}

#[derive(DeriveIden, Clone, Copy)]
enum Tasks {
    Table,
    Id,
    Title,
    Description,
    CustomerId,
    ContactId,
    AssigneeId,
    DueAt,
    ReminderAt,
    Status,
    CompletedAt,
    Origin,
    CreatedBy,
    CreatedAt,
    UpdatedAt,
    Version,
}

#[derive(DeriveIden, Clone, Copy)]
enum StageChanges {
    Table,
    Id,
    CustomerId,
    FromStage,
    ToStage,
    ChangedAt,
    ChangedBy,
}

//! Automation rules and their runs. A run is unique per rule and what fired it
//! (`automation_runs_fire_key`): a rule fires once per event per record, and a time trigger
//! once per period per record, however often its job runs. Rules with a record-event trigger
//! are found by their event (`trigger_event`), on every audited write.

use sea_orm_migration::{prelude::*, schema::*};

use crate::m20261129_000001_identity::{fk, index, unique_index};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        use AutomationRules as R;
        use AutomationRuns as X;
        manager
            .create_table(
                Table::create()
                    .table(R::Table)
                    .col(uuid(R::Id).primary_key())
                    .col(string_len(R::Name, 200))
                    .col(text_null(R::Description))
                    .col(boolean(R::Enabled))
                    .col(string_len(R::TriggerKind, 32))
                    .col(string_len_null(R::TriggerEvent, 64))
                    .col(json_binary(R::Trigger))
                    .col(json_binary_null(R::Conditions))
                    .col(json_binary(R::Actions))
                    .col(uuid_null(R::CreatedBy))
                    .col(timestamp_with_time_zone(R::CreatedAt))
                    .col(timestamp_with_time_zone(R::UpdatedAt))
                    .col(integer(R::Version))
                    .to_owned(),
            )
            .await?;
        // The change feed of the rules' list.
        index(
            manager,
            "automation_rules_updated_idx",
            R::Table,
            &[R::UpdatedAt, R::Id],
        )
        .await?;
        manager
            .create_table(
                Table::create()
                    .table(X::Table)
                    .col(uuid(X::Id).primary_key())
                    .col(uuid(X::RuleId))
                    .col(string_len(X::FireKey, 200))
                    .col(string_len(X::Trigger, 64))
                    .col(string_len_null(X::RecordType, 32))
                    .col(uuid_null(X::RecordId))
                    .col(json_binary(X::Chain))
                    .col(string_len(X::Status, 16))
                    .col(string_len_null(X::Reason, 64))
                    .col(json_binary(X::Outcomes))
                    .col(timestamp_with_time_zone(X::CreatedAt))
                    .col(timestamp_with_time_zone(X::UpdatedAt))
                    .col(integer(X::Version))
                    .foreign_key(
                        fk(
                            "automation_runs_rule_id_fkey",
                            X::Table,
                            X::RuleId,
                            "automation_rules",
                        )
                        .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        // Once per rule and firing: what makes a rerun of a job fire nothing twice.
        unique_index(
            manager,
            "automation_runs_fire_key",
            X::Table,
            &[X::RuleId, X::FireKey],
        )
        .await?;
        // A rule's runs, newest first.
        index(
            manager,
            "automation_runs_rule_idx",
            X::Table,
            &[X::RuleId, X::Id],
        )
        .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(AutomationRuns::Table).to_owned())
            .await?;
        manager
            .drop_table(Table::drop().table(AutomationRules::Table).to_owned())
            .await
    }
}

#[derive(DeriveIden, Clone, Copy)]
enum AutomationRules {
    Table,
    Id,
    Name,
    Description,
    Enabled,
    TriggerKind,
    TriggerEvent,
    Trigger,
    Conditions,
    Actions,
    CreatedBy,
    CreatedAt,
    UpdatedAt,
    Version,
}

#[derive(DeriveIden, Clone, Copy)]
enum AutomationRuns {
    Table,
    Id,
    RuleId,
    FireKey,
    Trigger,
    RecordType,
    RecordId,
    Chain,
    Status,
    Reason,
    Outcomes,
    CreatedAt,
    UpdatedAt,
    Version,
}

//! How each team hands out unassigned work, and whose turn it is.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(Teams::Table)
                    .add_column(
                        ColumnDef::new(Teams::Assignment)
                            .string_len(16)
                            .not_null()
                            .default("none")
                            .to_owned(),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(AssignmentTurns::Table)
                    .col(uuid(AssignmentTurns::TeamId))
                    // `ticket` or `lead`: each kind of work takes its own turns.
                    .col(string_len(AssignmentTurns::Work, 16))
                    .col(uuid(AssignmentTurns::LastId))
                    .primary_key(
                        Index::create()
                            .col(AssignmentTurns::TeamId)
                            .col(AssignmentTurns::Work),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .name("assignment_turns_team_id_fkey")
                            .from(AssignmentTurns::Table, AssignmentTurns::TeamId)
                            .to(Teams::Table, Teams::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(AssignmentTurns::Table).to_owned())
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(Teams::Table)
                    .drop_column(Teams::Assignment)
                    .to_owned(),
            )
            .await
    }
}

#[derive(DeriveIden, Clone, Copy)]
enum Teams {
    Table,
    Id,
    Assignment,
}

#[derive(DeriveIden, Clone, Copy)]
enum AssignmentTurns {
    Table,
    TeamId,
    Work,
    LastId,
}

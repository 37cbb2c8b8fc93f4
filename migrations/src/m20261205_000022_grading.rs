//! Value grading: whether a customer's grade was set by hand (and so is kept by the grading
//! job; existing grades other than the default count as set by hand), and the grade changes
//! of customers, for their timelines.

use sea_orm_migration::{prelude::*, schema::*};

use crate::m20261129_000001_identity::index;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(Customers::Table)
                    .add_column(boolean(Customers::GradeLocked).default(false))
                    .to_owned(),
            )
            .await?;
        // Grades other than the default were chosen by someone before grading existed: the
        // first run must not overwrite them.
        manager
            .get_connection()
            .execute_unprepared(
                "UPDATE customers SET grade_locked = TRUE WHERE grade <> 'standard'",
            )
            .await?;
        use GradeChanges as G;
        manager
            .create_table(
                Table::create()
                    .table(G::Table)
                    .col(uuid(G::Id).primary_key())
                    .col(uuid(G::CustomerId))
                    .col(string_len_null(G::FromGrade, 32))
                    .col(string_len(G::ToGrade, 32))
                    .col(small_integer_null(G::Recency))
                    .col(small_integer_null(G::Frequency))
                    .col(small_integer_null(G::Monetary))
                    .col(timestamp_with_time_zone(G::ChangedAt))
                    .col(uuid_null(G::ChangedBy))
                    .foreign_key(
                        ForeignKey::create()
                            .name("grade_changes_customer_id_fkey")
                            .from(G::Table, G::CustomerId)
                            .to(Customers::Table, Customers::Id),
                    )
                    .to_owned(),
            )
            .await?;
        index(
            manager,
            "grade_changes_customer_idx",
            G::Table,
            &[G::CustomerId, G::ChangedAt, G::Id],
        )
        .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(GradeChanges::Table).to_owned())
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(Customers::Table)
                    .drop_column(Customers::GradeLocked)
                    .to_owned(),
            )
            .await
    }
}

#[derive(DeriveIden, Clone, Copy)]
enum Customers {
    Table,
    Id,
    GradeLocked,
}

#[derive(DeriveIden, Clone, Copy)]
enum GradeChanges {
    Table,
    Id,
    CustomerId,
    FromGrade,
    ToGrade,
    Recency,
    Frequency,
    Monetary,
    ChangedAt,
    ChangedBy,
}

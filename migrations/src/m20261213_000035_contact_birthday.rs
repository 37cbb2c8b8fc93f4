//! A contact's birthday: its month and day, and its year when known (all three null when it
//! is unknown), with an index on the month and day for the daily scan of the birthdays
//! celebrated on a day.

use sea_orm_migration::{prelude::*, schema::*};

use crate::m20261129_000001_identity::index;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // One column a statement: SQLite alters a table one change at a time.
        for column in [
            Contacts::BirthdayMonth,
            Contacts::BirthdayDay,
            Contacts::BirthdayYear,
        ] {
            manager
                .alter_table(
                    Table::alter()
                        .table(Contacts::Table)
                        .add_column(small_integer_null(column))
                        .to_owned(),
                )
                .await?;
        }
        index(
            manager,
            "contacts_birthday",
            Contacts::Table,
            &[Contacts::BirthdayMonth, Contacts::BirthdayDay],
        )
        .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_index(
                Index::drop()
                    .name("contacts_birthday")
                    .table(Contacts::Table)
                    .to_owned(),
            )
            .await?;
        for column in [
            Contacts::BirthdayYear,
            Contacts::BirthdayDay,
            Contacts::BirthdayMonth,
        ] {
            manager
                .alter_table(
                    Table::alter()
                        .table(Contacts::Table)
                        .drop_column(column)
                        .to_owned(),
                )
                .await?;
        }
        Ok(())
    }
}

#[derive(DeriveIden, Clone, Copy)]
enum Contacts {
    Table,
    BirthdayMonth,
    BirthdayDay,
    BirthdayYear,
}

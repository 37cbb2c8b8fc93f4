//! Registration numbers are stored encrypted (`enc1:<key id>:<base64>`), longer than the 32
//! characters of the plain number: the column becomes text. SQLite does not enforce lengths.

use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::DatabaseBackend;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        if manager.get_database_backend() != DatabaseBackend::Postgres {
            return Ok(());
        }
        manager
            .alter_table(
                Table::alter()
                    .table(Customers::Table)
                    .modify_column(ColumnDef::new(Customers::RegistrationNumber).text().null())
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        if manager.get_database_backend() != DatabaseBackend::Postgres {
            return Ok(());
        }
        manager
            .alter_table(
                Table::alter()
                    .table(Customers::Table)
                    .modify_column(
                        ColumnDef::new(Customers::RegistrationNumber)
                            .string_len(32)
                            .null(),
                    )
                    .to_owned(),
            )
            .await
    }
}

#[derive(DeriveIden, Clone, Copy)]
enum Customers {
    Table,
    RegistrationNumber,
}

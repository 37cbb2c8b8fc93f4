//! CSV imports: settings, progress and counts (`imports`), the file until its import ends
//! (`import_files`, apart so that reading an import's progress never reads its file), and the
//! rows each import refused (`import_errors`).

use sea_orm_migration::{prelude::*, schema::*};

use crate::m20261129_000001_identity::{fk, index};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        use Imports as I;
        manager
            .create_table(
                Table::create()
                    .table(I::Table)
                    .col(uuid(I::Id).primary_key())
                    .col(string_len(I::Kind, 32))
                    .col(string_len(I::Status, 16))
                    .col(string_len(I::CreatedByType, 16))
                    .col(uuid_null(I::CreatedById))
                    .col(string_len_null(I::RequestId, 100))
                    .col(string_len_null(I::Ip, 64))
                    .col(string_len_null(I::FileName, 255))
                    .col(string_len(I::Delimiter, 1))
                    .col(json_binary(I::Mapping))
                    .col(boolean(I::AllowDuplicate))
                    .col(string_len_null(I::UpsertOn, 100))
                    .col(integer(I::TotalRows))
                    .col(integer(I::ProcessedRows))
                    .col(integer(I::CreatedCount))
                    .col(integer(I::UpdatedCount))
                    .col(integer(I::FailedCount))
                    .col(string_len_null(I::Error, 500))
                    .col(timestamp_with_time_zone(I::CreatedAt))
                    .col(timestamp_with_time_zone_null(I::StartedAt))
                    .col(timestamp_with_time_zone_null(I::FinishedAt))
                    .col(timestamp_with_time_zone(I::UpdatedAt))
                    .col(integer(I::Version))
                    .to_owned(),
            )
            .await?;
        use ImportFiles as F;
        manager
            .create_table(
                Table::create()
                    .table(F::Table)
                    .col(uuid(F::ImportId).primary_key())
                    // The CSV as UTF-8 text, without its byte order mark.
                    .col(text(F::File))
                    .foreign_key(
                        fk(
                            "import_files_import_id_fkey",
                            F::Table,
                            F::ImportId,
                            "imports",
                        )
                        .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        use ImportErrors as E;
        manager
            .create_table(
                Table::create()
                    .table(E::Table)
                    .col(uuid(E::Id).primary_key())
                    .col(uuid(E::ImportId))
                    .col(integer(E::Row))
                    .col(integer(E::Status))
                    .col(json_binary(E::Problem))
                    .foreign_key(
                        fk(
                            "import_errors_import_id_fkey",
                            E::Table,
                            E::ImportId,
                            "imports",
                        )
                        .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        // An import's refused rows, in file order (ids are written in that order).
        index(
            manager,
            "import_errors_import_idx",
            E::Table,
            &[E::ImportId, E::Id],
        )
        .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in ["import_errors", "import_files", "imports"] {
            manager
                .drop_table(Table::drop().table(Alias::new(table)).to_owned())
                .await?;
        }
        Ok(())
    }
}

#[derive(DeriveIden, Clone, Copy)]
enum Imports {
    Table,
    Id,
    Kind,
    Status,
    CreatedByType,
    CreatedById,
    RequestId,
    Ip,
    FileName,
    Delimiter,
    Mapping,
    AllowDuplicate,
    UpsertOn,
    TotalRows,
    ProcessedRows,
    CreatedCount,
    UpdatedCount,
    FailedCount,
    Error,
    CreatedAt,
    StartedAt,
    FinishedAt,
    UpdatedAt,
    Version,
}

#[derive(DeriveIden, Clone, Copy)]
enum ImportFiles {
    Table,
    ImportId,
    File,
}

#[derive(DeriveIden, Clone, Copy)]
enum ImportErrors {
    Table,
    Id,
    ImportId,
    Row,
    Status,
    Problem,
}

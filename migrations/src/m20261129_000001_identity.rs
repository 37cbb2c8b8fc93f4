//! Identity and access: teams, users, integration clients, refresh tokens.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Teams::Table)
                    .col(pk_uuid(Teams::Id))
                    .col(string_len(Teams::Name, 200))
                    // Not a foreign key: users point at teams too, and SQLite cannot add a
                    // constraint to an existing table. The API checks the manager exists.
                    .col(uuid_null(Teams::ManagerId))
                    .col(timestamp_with_time_zone(Teams::CreatedAt))
                    .col(timestamp_with_time_zone(Teams::UpdatedAt))
                    .col(integer(Teams::Version))
                    .to_owned(),
            )
            .await?;
        unique_index(manager, "teams_name_key", Teams::Table, &[Teams::Name]).await?;

        manager
            .create_table(
                Table::create()
                    .table(Users::Table)
                    .col(pk_uuid(Users::Id))
                    .col(string_len(Users::Email, 254))
                    .col(string_len(Users::Name, 100))
                    .col(string_len(Users::Role, 32))
                    .col(uuid_null(Users::TeamId))
                    .col(string(Users::PasswordHash))
                    .col(boolean(Users::MustChangePassword))
                    .col(boolean(Users::Disabled))
                    .col(integer(Users::TokenVersion))
                    .col(timestamp_with_time_zone(Users::CreatedAt))
                    .col(timestamp_with_time_zone(Users::UpdatedAt))
                    .col(integer(Users::Version))
                    .foreign_key(
                        ForeignKey::create()
                            .name("users_team_id_fkey")
                            .from(Users::Table, Users::TeamId)
                            .to(Teams::Table, Teams::Id),
                    )
                    .to_owned(),
            )
            .await?;
        unique_index(manager, "users_email_key", Users::Table, &[Users::Email]).await?;
        index(manager, "users_team_id_idx", Users::Table, &[Users::TeamId]).await?;

        manager
            .create_table(
                Table::create()
                    .table(Clients::Table)
                    .col(pk_uuid(Clients::Id))
                    .col(string_len(Clients::Name, 200))
                    .col(string(Clients::SecretHash))
                    .col(text(Clients::Scopes))
                    .col(boolean(Clients::Disabled))
                    .col(integer(Clients::TokenVersion))
                    .col(uuid_null(Clients::CreatedBy))
                    .col(timestamp_with_time_zone(Clients::CreatedAt))
                    .col(timestamp_with_time_zone(Clients::UpdatedAt))
                    .col(integer(Clients::Version))
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(RefreshTokens::Table)
                    .col(pk_uuid(RefreshTokens::Id))
                    .col(string_len(RefreshTokens::TokenHash, 64))
                    .col(uuid(RefreshTokens::FamilyId))
                    .col(uuid(RefreshTokens::UserId))
                    // The scope granted at sign-in, kept by every rotation (RFC 6749 §6).
                    .col(text(RefreshTokens::Scope))
                    .col(timestamp_with_time_zone(RefreshTokens::ExpiresAt))
                    .col(timestamp_with_time_zone_null(RefreshTokens::UsedAt))
                    .col(timestamp_with_time_zone_null(RefreshTokens::RevokedAt))
                    .col(timestamp_with_time_zone(RefreshTokens::CreatedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .name("refresh_tokens_user_id_fkey")
                            .from(RefreshTokens::Table, RefreshTokens::UserId)
                            .to(Users::Table, Users::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        unique_index(
            manager,
            "refresh_tokens_token_hash_key",
            RefreshTokens::Table,
            &[RefreshTokens::TokenHash],
        )
        .await?;
        index(
            manager,
            "refresh_tokens_family_id_idx",
            RefreshTokens::Table,
            &[RefreshTokens::FamilyId],
        )
        .await?;
        index(
            manager,
            "refresh_tokens_expires_at_idx",
            RefreshTokens::Table,
            &[RefreshTokens::ExpiresAt],
        )
        .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in [
            RefreshTokens::Table.into_iden(),
            Clients::Table.into_iden(),
            Users::Table.into_iden(),
            Teams::Table.into_iden(),
        ] {
            manager
                .drop_table(Table::drop().table(table).to_owned())
                .await?;
        }
        Ok(())
    }
}

/// Creates a named unique index (names let the store tell which constraint a write broke).
pub(crate) async fn unique_index<T: IntoIden + Copy + 'static>(
    manager: &SchemaManager<'_>,
    name: &str,
    table: T,
    columns: &[T],
) -> Result<(), DbErr> {
    let mut stmt = Index::create().name(name).table(table).unique().to_owned();
    for column in columns {
        stmt.col(*column);
    }
    manager.create_index(stmt).await
}

/// A named foreign key from `from.column` to `table.id`.
pub(crate) fn fk<T: IntoIden + Copy + 'static>(
    name: &str,
    from: T,
    column: T,
    table: &str,
) -> ForeignKeyCreateStatement {
    ForeignKey::create()
        .name(name)
        .from(from, column)
        .to(Alias::new(table), Alias::new("id"))
        .to_owned()
}

/// Creates a named index.
pub(crate) async fn index<T: IntoIden + Copy + 'static>(
    manager: &SchemaManager<'_>,
    name: &str,
    table: T,
    columns: &[T],
) -> Result<(), DbErr> {
    let mut stmt = Index::create().name(name).table(table).to_owned();
    for column in columns {
        stmt.col(*column);
    }
    manager.create_index(stmt).await
}

#[derive(DeriveIden, Clone, Copy)]
pub(crate) enum Teams {
    Table,
    Id,
    Name,
    ManagerId,
    CreatedAt,
    UpdatedAt,
    Version,
}

#[derive(DeriveIden, Clone, Copy)]
pub(crate) enum Users {
    Table,
    Id,
    Email,
    Name,
    Role,
    TeamId,
    PasswordHash,
    MustChangePassword,
    Disabled,
    TokenVersion,
    CreatedAt,
    UpdatedAt,
    Version,
}

#[derive(DeriveIden, Clone, Copy)]
enum Clients {
    Table,
    Id,
    Name,
    SecretHash,
    Scopes,
    Disabled,
    TokenVersion,
    CreatedBy,
    CreatedAt,
    UpdatedAt,
    Version,
}

#[derive(DeriveIden, Clone, Copy)]
enum RefreshTokens {
    Table,
    Id,
    TokenHash,
    FamilyId,
    UserId,
    Scope,
    ExpiresAt,
    UsedAt,
    RevokedAt,
    CreatedAt,
}

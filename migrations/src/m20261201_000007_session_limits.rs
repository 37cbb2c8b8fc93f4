//! Limits on sign-ins: a one-time password expires (`users.password_expires_at`), and a
//! sign-in's refresh tokens stop at an absolute age (`refresh_tokens.session_started_at`, copied
//! from token to token as they rotate).

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(Users::Table)
                    .add_column(timestamp_with_time_zone_null(Users::PasswordExpiresAt))
                    .to_owned(),
            )
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(RefreshTokens::Table)
                    .add_column(timestamp_with_time_zone_null(
                        RefreshTokens::SessionStartedAt,
                    ))
                    .to_owned(),
            )
            .await?;
        // Sessions begun before this migration count from their current token.
        manager
            .exec_stmt(
                Query::update()
                    .table(RefreshTokens::Table)
                    .value(
                        RefreshTokens::SessionStartedAt,
                        Expr::col(RefreshTokens::CreatedAt),
                    )
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(RefreshTokens::Table)
                    .drop_column(RefreshTokens::SessionStartedAt)
                    .to_owned(),
            )
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(Users::Table)
                    .drop_column(Users::PasswordExpiresAt)
                    .to_owned(),
            )
            .await
    }
}

#[derive(DeriveIden, Clone, Copy)]
enum Users {
    Table,
    PasswordExpiresAt,
}

#[derive(DeriveIden, Clone, Copy)]
enum RefreshTokens {
    Table,
    SessionStartedAt,
    CreatedAt,
}

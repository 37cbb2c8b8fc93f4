//! `auth_epoch`: one counter that every change able to end a token's validity raises (a user
//! or client disabled, deleted or given a new token version; a sign-in revoked), by trigger,
//! whatever writes it. Servers cache token checks and read this counter about every 250 ms:
//! when it moved, they forget what they cached, so a revocation on one instance reaches every
//! other instance within a second without a database read per request.

use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::DatabaseBackend;

#[derive(DeriveMigrationName)]
pub struct Migration;

/// (trigger, event and table, condition on OLD/NEW or empty).
const TRIGGERS: [(&str, &str, &str); 5] = [
    (
        "auth_epoch_users_update",
        "UPDATE OF disabled, token_version ON users",
        "OLD.disabled <> NEW.disabled OR OLD.token_version <> NEW.token_version",
    ),
    ("auth_epoch_users_delete", "DELETE ON users", ""),
    (
        "auth_epoch_clients_update",
        "UPDATE OF disabled, token_version ON clients",
        "OLD.disabled <> NEW.disabled OR OLD.token_version <> NEW.token_version",
    ),
    ("auth_epoch_clients_delete", "DELETE ON clients", ""),
    (
        "auth_epoch_sessions_update",
        "UPDATE OF revoked_at ON refresh_tokens",
        "OLD.revoked_at IS NULL AND NEW.revoked_at IS NOT NULL",
    ),
];

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let db = manager.get_connection();
        db.execute_unprepared(
            "CREATE TABLE auth_epoch (id INTEGER PRIMARY KEY, value BIGINT NOT NULL); \
             INSERT INTO auth_epoch (id, value) VALUES (1, 0);",
        )
        .await?;
        let postgres = manager.get_database_backend() == DatabaseBackend::Postgres;
        if postgres {
            db.execute_unprepared(
                "CREATE FUNCTION raise_auth_epoch() RETURNS trigger LANGUAGE plpgsql AS $$ \
                 BEGIN UPDATE auth_epoch SET value = value + 1 WHERE id = 1; RETURN NULL; END $$;",
            )
            .await?;
        }
        for (name, event, condition) in TRIGGERS {
            let when = if condition.is_empty() {
                String::new()
            } else {
                format!("WHEN ({condition})")
            };
            let sql = if postgres {
                format!(
                    "CREATE TRIGGER {name} AFTER {event} FOR EACH ROW {when} \
                     EXECUTE FUNCTION raise_auth_epoch()"
                )
            } else {
                format!(
                    "CREATE TRIGGER {name} AFTER {event} FOR EACH ROW {when} \
                     BEGIN UPDATE auth_epoch SET value = value + 1 WHERE id = 1; END"
                )
            };
            db.execute_unprepared(&sql).await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let db = manager.get_connection();
        let postgres = manager.get_database_backend() == DatabaseBackend::Postgres;
        for (name, event, _) in TRIGGERS {
            let table = event.rsplit(' ').next().unwrap_or_default();
            let sql = if postgres {
                format!("DROP TRIGGER IF EXISTS {name} ON {table}")
            } else {
                format!("DROP TRIGGER IF EXISTS {name}")
            };
            db.execute_unprepared(&sql).await?;
        }
        if postgres {
            db.execute_unprepared("DROP FUNCTION IF EXISTS raise_auth_epoch()")
                .await?;
        }
        db.execute_unprepared("DROP TABLE auth_epoch").await?;
        Ok(())
    }
}

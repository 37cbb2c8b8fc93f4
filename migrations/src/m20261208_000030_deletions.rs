//! Change feeds on every paged list: tombstones of records deleted for good (contacts,
//! activities, tasks, teams, clients, webhooks), so that a client that syncs by feed drops its
//! copy; and the indexes the feeds walk, records by (updated_at, id) and tombstones by
//! (entity_type, deleted_at, id).

use sea_orm_migration::{prelude::*, schema::*};

use crate::m20261129_000001_identity::index;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        use Deletions as D;
        manager
            .create_table(
                Table::create()
                    .table(D::Table)
                    .col(string_len(D::EntityType, 32))
                    .col(uuid(D::Id))
                    .primary_key(Index::create().col(D::EntityType).col(D::Id))
                    // Who saw the record: what the feed's visibility checks, as on the record.
                    .col(uuid_null(D::CustomerId))
                    .col(uuid_null(D::AssigneeId))
                    .col(uuid_null(D::CreatedBy))
                    .col(timestamp_with_time_zone(D::DeletedAt))
                    .to_owned(),
            )
            .await?;
        index(
            manager,
            "deletions_feed_idx",
            D::Table,
            &[D::EntityType, D::DeletedAt, D::Id],
        )
        .await?;
        let db = manager.get_connection();
        for table in CHANGED {
            db.execute_unprepared(&format!(
                "CREATE INDEX {table}_changes_idx ON {table} (updated_at, id)"
            ))
            .await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let db = manager.get_connection();
        for table in CHANGED {
            db.execute_unprepared(&format!("DROP INDEX {table}_changes_idx"))
                .await?;
        }
        manager
            .drop_table(Table::drop().table(Deletions::Table).to_owned())
            .await
    }
}

/// The tables whose lists gained a change feed here.
const CHANGED: [&str; 13] = [
    "contacts",
    "activities",
    "tasks",
    "teams",
    "clients",
    "webhooks",
    "users",
    "products",
    "quotes",
    "orders",
    "surveys",
    "articles",
    "survey_invitations",
];

#[derive(DeriveIden, Clone, Copy)]
enum Deletions {
    Table,
    EntityType,
    Id,
    CustomerId,
    AssigneeId,
    CreatedBy,
    DeletedAt,
}

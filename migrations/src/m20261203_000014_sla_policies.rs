//! SLA policies, the due times they give tickets, and the default policies of product.md:
//! complaints resolved within 48 hours, VIP customers sooner.

use sea_orm_migration::{prelude::*, schema::*};

use crate::m20261129_000001_identity::index;

#[derive(DeriveMigrationName)]
pub struct Migration;

/// A default policy: minutes of calendar time.
struct Seed {
    id: &'static str,
    name: &'static str,
    category: Option<&'static str>,
    priority: Option<&'static str>,
    grade: Option<&'static str>,
    first_response: i64,
    resolution: i64,
}

const fn seed(
    id: &'static str,
    name: &'static str,
    (category, priority, grade): (
        Option<&'static str>,
        Option<&'static str>,
        Option<&'static str>,
    ),
    first_response: i64,
    resolution: i64,
) -> Seed {
    Seed {
        id,
        name,
        category,
        priority,
        grade,
        first_response,
        resolution,
    }
}

/// The default policies. Among equally specific matches the tightest wins, so an urgent
/// complaint gets the urgent targets.
const DEFAULTS: [Seed; 5] = [
    seed(
        "0193e5a0-0000-7000-8000-000000000001",
        "Standard",
        (None, None, None),
        8 * 60,
        5 * 24 * 60,
    ),
    seed(
        "0193e5a0-0000-7000-8000-000000000002",
        "Complaints",
        (Some("complaint"), None, None),
        2 * 60,
        48 * 60,
    ),
    seed(
        "0193e5a0-0000-7000-8000-000000000003",
        "VIP",
        (None, None, Some("vip")),
        60,
        48 * 60,
    ),
    seed(
        "0193e5a0-0000-7000-8000-000000000004",
        "VIP complaints",
        (Some("complaint"), None, Some("vip")),
        30,
        24 * 60,
    ),
    seed(
        "0193e5a0-0000-7000-8000-000000000005",
        "Urgent",
        (None, Some("urgent"), None),
        60,
        8 * 60,
    ),
];

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(SlaPolicies::Table)
                    .col(uuid(SlaPolicies::Id).primary_key())
                    .col(string_len(SlaPolicies::Name, 100))
                    .col(string_len_null(SlaPolicies::Category, 32))
                    .col(string_len_null(SlaPolicies::Priority, 16))
                    .col(string_len_null(SlaPolicies::Grade, 16))
                    .col(big_integer(SlaPolicies::FirstResponseMinutes))
                    .col(big_integer(SlaPolicies::ResolutionMinutes))
                    .col(string_len(SlaPolicies::Clock, 16))
                    .col(json_binary_null(SlaPolicies::BusinessHours))
                    .col(timestamp_with_time_zone(SlaPolicies::CreatedAt))
                    .col(timestamp_with_time_zone(SlaPolicies::UpdatedAt))
                    .col(integer(SlaPolicies::Version))
                    .to_owned(),
            )
            .await?;
        let now = chrono::Utc::now();
        for p in DEFAULTS {
            let id = uuid::Uuid::parse_str(p.id).map_err(|e| DbErr::Custom(e.to_string()))?;
            let insert = Query::insert()
                .into_table(SlaPolicies::Table)
                .columns([
                    SlaPolicies::Id,
                    SlaPolicies::Name,
                    SlaPolicies::Category,
                    SlaPolicies::Priority,
                    SlaPolicies::Grade,
                    SlaPolicies::FirstResponseMinutes,
                    SlaPolicies::ResolutionMinutes,
                    SlaPolicies::Clock,
                    SlaPolicies::CreatedAt,
                    SlaPolicies::UpdatedAt,
                    SlaPolicies::Version,
                ])
                .values_panic([
                    id.into(),
                    p.name.into(),
                    p.category.into(),
                    p.priority.into(),
                    p.grade.into(),
                    p.first_response.into(),
                    p.resolution.into(),
                    "calendar".into(),
                    now.into(),
                    now.into(),
                    1.into(),
                ])
                .to_owned();
            manager.exec_stmt(insert).await?;
        }
        // SQLite adds one column per statement.
        for column in [
            ColumnDef::new(Tickets::SlaPolicyId)
                .uuid()
                .null()
                .to_owned(),
            ColumnDef::new(Tickets::FirstResponseDueAt)
                .timestamp_with_time_zone()
                .null()
                .to_owned(),
            ColumnDef::new(Tickets::ResolutionDueAt)
                .timestamp_with_time_zone()
                .null()
                .to_owned(),
            ColumnDef::new(Tickets::PausedAt)
                .timestamp_with_time_zone()
                .null()
                .to_owned(),
            ColumnDef::new(Tickets::PausedMinutes)
                .big_integer()
                .not_null()
                .default(0)
                .to_owned(),
        ] {
            manager
                .alter_table(
                    Table::alter()
                        .table(Tickets::Table)
                        .add_column(column)
                        .to_owned(),
                )
                .await?;
        }
        // The agents' queue: `?status=open&sort=resolution_due_at`.
        index(
            manager,
            "tickets_queue_idx",
            Tickets::Table,
            &[Tickets::Status, Tickets::ResolutionDueAt, Tickets::Id],
        )
        .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_index(
                Index::drop()
                    .name("tickets_queue_idx")
                    .table(Tickets::Table)
                    .to_owned(),
            )
            .await?;
        for column in [
            Tickets::SlaPolicyId,
            Tickets::FirstResponseDueAt,
            Tickets::ResolutionDueAt,
            Tickets::PausedAt,
            Tickets::PausedMinutes,
        ] {
            manager
                .alter_table(
                    Table::alter()
                        .table(Tickets::Table)
                        .drop_column(column)
                        .to_owned(),
                )
                .await?;
        }
        manager
            .drop_table(Table::drop().table(SlaPolicies::Table).to_owned())
            .await
    }
}

#[derive(DeriveIden, Clone, Copy)]
enum SlaPolicies {
    Table,
    Id,
    Name,
    Category,
    Priority,
    Grade,
    FirstResponseMinutes,
    ResolutionMinutes,
    Clock,
    BusinessHours,
    CreatedAt,
    UpdatedAt,
    Version,
}

#[derive(DeriveIden, Clone, Copy)]
enum Tickets {
    Table,
    Status,
    Id,
    SlaPolicyId,
    FirstResponseDueAt,
    ResolutionDueAt,
    PausedAt,
    PausedMinutes,
}

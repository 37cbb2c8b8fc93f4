//! Indexes that let each report read an index instead of the rows it counts (measured at
//! 1,000,000 customers on SQLite, where a report's time went to fetching each row of its
//! range from the table): each holds every column its report's query reads.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

/// (name, table and columns, partial condition).
const INDEXES: &[(&str, &str, &str)] = &[
    // sales-performance: activities per rep, one range per rep.
    (
        "activities_recorder_idx",
        "activities (recorded_by, occurred_at, customer_id)",
        "",
    ),
    // sales-performance: deals closed in a range, with what they are summed by.
    (
        "opportunities_closed_idx",
        "opportunities (closed_at, status, owner_id, team_id, currency, amount_minor, \
         created_at, customer_id)",
        "",
    ),
    // sales-performance: opportunities created in a range, per owner or team.
    (
        "opportunities_created_by_idx",
        "opportunities (created_at, owner_id, team_id, customer_id)",
        "",
    ),
    // lead-response: the leads created in a range (a tenth of the customers, or less).
    (
        "customers_leads_idx",
        "customers (created_at, owner_id, team_id, lifecycle_stage, first_contact_due_at, \
         first_contacted_at, deleted_at)",
        "first_contact_due_at IS NOT NULL AND deleted_at IS NULL",
    ),
    // lead-response's overdue list and the escalation job: uncontacted leads by due time.
    (
        "customers_overdue_idx",
        "customers (lifecycle_stage, first_contact_due_at, id)",
        "first_contacted_at IS NULL AND deleted_at IS NULL",
    ),
    // service-levels: the tickets created in a range, with their targets and outcomes.
    (
        "tickets_levels_idx",
        "tickets (created_at, status, paused_at, first_responded_at, first_response_due_at, \
         first_response_breached_at, resolved_at, resolution_due_at, resolution_breached_at, \
         customer_id, assignee_id, team_id)",
        "",
    ),
    // service-levels: the breaches recorded in a range.
    (
        "tickets_first_breach_idx",
        "tickets (first_response_breached_at, team_id, category, customer_id, assignee_id)",
        "first_response_breached_at IS NOT NULL",
    ),
    (
        "tickets_resolution_breach_idx",
        "tickets (resolution_breached_at, team_id, category, customer_id, assignee_id)",
        "resolution_breached_at IS NOT NULL",
    ),
];

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let db = manager.get_connection();
        for (name, on, condition) in INDEXES {
            let partial = if condition.is_empty() {
                String::new()
            } else {
                format!(" WHERE {condition}")
            };
            db.execute_unprepared(&format!("CREATE INDEX {name} ON {on}{partial}"))
                .await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let db = manager.get_connection();
        for (name, _, _) in INDEXES {
            db.execute_unprepared(&format!("DROP INDEX {name}")).await?;
        }
        Ok(())
    }
}

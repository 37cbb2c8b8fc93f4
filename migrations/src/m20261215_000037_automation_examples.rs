//! Three example automation rules, disabled, for an admin to read, adapt and enable: the
//! call-backs, escalations and reports that product.md asks a CRM to run by itself. They are
//! written in the API's own JSON (`GET /v1/automation-rules` answers them as saved) and
//! checked by the API again when they are enabled. An installation that deletes them does not
//! get them back.

use sea_orm::JsonValue;
use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

/// One example: its fixed id, name, description, trigger kind and event, and its trigger,
/// conditions and actions as JSON.
struct Example {
    id: &'static str,
    name: &'static str,
    description: &'static str,
    trigger_kind: &'static str,
    trigger_event: Option<&'static str>,
    trigger: &'static str,
    conditions: Option<&'static str>,
    actions: &'static str,
}

const EXAMPLES: [Example; 3] = [
    Example {
        id: "0193e5a0-0000-7000-8000-0000000a0001",
        name: "VIP call-back every 30 days",
        description: "Gives the owner of a VIP customer a call-back task when 30 days have \
                      passed since the last call (or since the customer was created).",
        trigger_kind: "callback_cadence",
        trigger_event: None,
        trigger: r#"{"type": "callback_cadence", "days_by_grade": {"vip": 30}, "at": "09:00", "time_zone": "UTC"}"#,
        conditions: None,
        actions: r#"[{"type": "create_task", "title": "Call back {{name}}", "description": null,
                      "assignee": {"type": "owner"}, "due_in_hours": 24}]"#,
    },
    Example {
        id: "0193e5a0-0000-7000-8000-0000000a0002",
        name: "Notify the manager of a new complaint",
        description: "Tells the manager of the assignee's team (or of the customer owner's) when \
                      a complaint ticket is created.",
        trigger_kind: "record_event",
        trigger_event: Some("ticket.created"),
        trigger: r#"{"type": "record_event", "event": "ticket.created"}"#,
        conditions: Some(r#"{"field": "category", "op": "eq", "value": "complaint"}"#),
        actions: r#"[{"type": "notify", "recipient": {"type": "owner_manager"},
                      "title": "New complaint from {{customer.name}}: {{subject}}"}]"#,
    },
    Example {
        id: "0193e5a0-0000-7000-8000-0000000a0003",
        name: "Monthly sales performance to sales managers",
        description: "Emails the previous month's sales-performance report, per rep, to every \
                      sales manager at 08:00 UTC on the first day of each month.",
        trigger_kind: "schedule",
        trigger_event: None,
        trigger: r#"{"type": "schedule", "cron": "0 8 1 * *", "time_zone": "UTC"}"#,
        conditions: None,
        actions: r#"[{"type": "email_report", "report": "sales-performance",
                      "parameters": {"group_by": "owner"}, "period": "previous_month",
                      "to": [], "to_roles": ["sales_manager"]}]"#,
    },
];

fn json(text: &str) -> Result<JsonValue, DbErr> {
    text.parse()
        .map_err(|e| DbErr::Custom(format!("an example rule's JSON: {e}")))
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        use AutomationRules as R;
        let now = chrono::Utc::now();
        for e in EXAMPLES {
            let id = uuid::Uuid::parse_str(e.id).map_err(|e| DbErr::Custom(e.to_string()))?;
            let conditions = e.conditions.map(json).transpose()?;
            let insert = Query::insert()
                .into_table(R::Table)
                .columns([
                    R::Id,
                    R::Name,
                    R::Description,
                    R::Enabled,
                    R::TriggerKind,
                    R::TriggerEvent,
                    R::Trigger,
                    R::Conditions,
                    R::Actions,
                    R::CreatedAt,
                    R::UpdatedAt,
                    R::Version,
                ])
                .values_panic([
                    id.into(),
                    e.name.into(),
                    e.description.into(),
                    false.into(),
                    e.trigger_kind.into(),
                    e.trigger_event.into(),
                    json(e.trigger)?.into(),
                    conditions.into(),
                    json(e.actions)?.into(),
                    now.into(),
                    now.into(),
                    1.into(),
                ])
                .to_owned();
            manager.exec_stmt(insert).await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let ids: Vec<uuid::Uuid> = EXAMPLES
            .iter()
            .filter_map(|e| uuid::Uuid::parse_str(e.id).ok())
            .collect();
        let delete = Query::delete()
            .from_table(AutomationRules::Table)
            .and_where(Expr::col(AutomationRules::Id).is_in(ids))
            .to_owned();
        manager.exec_stmt(delete).await
    }
}

#[derive(DeriveIden, Clone, Copy)]
enum AutomationRules {
    Table,
    Id,
    Name,
    Description,
    Enabled,
    TriggerKind,
    TriggerEvent,
    Trigger,
    Conditions,
    Actions,
    CreatedAt,
    UpdatedAt,
    Version,
}

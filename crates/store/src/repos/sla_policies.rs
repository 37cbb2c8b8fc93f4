//! SLA policies: the targets tickets get.

use rapport_domain::enums::Grade;
use rapport_domain::sla::{BusinessCalendar, PolicyName, SlaClock, SlaPolicy};
use rapport_domain::ticket::{TicketCategory, TicketPriority};
use sea_orm::sea_query::Expr;
use sea_orm::{ActiveValue::Set, ColumnTrait, EntityTrait, QueryFilter, QueryOrder};
use uuid::Uuid;

use crate::entities::sla_policy::{self, Column, Entity};
use crate::entities::ticket;
use crate::repos::delete_row;
use crate::repos::record::{self, record};
use crate::repos::{corrupt, parse_column, parse_optional};
use crate::{Conn, StoreError};

fn to_domain(m: sla_policy::Model) -> Result<SlaPolicy, StoreError> {
    Ok(SlaPolicy {
        id: m.id,
        name: parse_column("sla_policies.name", &m.name, PolicyName::parse)?,
        category: parse_optional(
            "sla_policies.category",
            m.category.as_deref(),
            TicketCategory::parse,
        )?,
        priority: parse_optional(
            "sla_policies.priority",
            m.priority.as_deref(),
            TicketPriority::parse,
        )?,
        grade: parse_optional("sla_policies.grade", m.grade.as_deref(), Grade::parse)?,
        first_response_minutes: m.first_response_minutes,
        resolution_minutes: m.resolution_minutes,
        clock: parse_column("sla_policies.clock", &m.clock, SlaClock::parse)?,
        calendar: m
            .business_hours
            .map(serde_json::from_value::<BusinessCalendar>)
            .transpose()
            .map_err(|e| corrupt("sla_policies.business_hours", e))?,
        created_at: m.created_at,
        updated_at: m.updated_at,
        version: m.version,
    })
}

fn to_active(p: &SlaPolicy) -> Result<sla_policy::ActiveModel, StoreError> {
    let calendar = p
        .calendar
        .as_ref()
        .map(serde_json::to_value)
        .transpose()
        .map_err(|e| corrupt("sla_policies.business_hours", e))?;
    Ok(sla_policy::ActiveModel {
        id: Set(p.id),
        name: Set(p.name.to_string()),
        category: Set(p.category.map(|c| c.as_str().to_owned())),
        priority: Set(p.priority.map(|c| c.as_str().to_owned())),
        grade: Set(p.grade.map(|c| c.as_str().to_owned())),
        first_response_minutes: Set(p.first_response_minutes),
        resolution_minutes: Set(p.resolution_minutes),
        clock: Set(p.clock.as_str().to_owned()),
        business_hours: Set(calendar),
        created_at: Set(p.created_at),
        updated_at: Set(p.updated_at),
        version: Set(p.version),
    })
}

record!(SlaPolicy, Entity, to_active: to_active, from_model: to_domain);

/// # Errors
/// Database failures.
pub async fn insert(db: &impl Conn, policy: &SlaPolicy) -> Result<(), StoreError> {
    Entity::insert(to_active(policy)?)
        .exec_without_returning(db)
        .await?;
    Ok(())
}

/// # Errors
/// `NotFound` when there is no such policy.
pub async fn get(db: &impl Conn, id: Uuid) -> Result<SlaPolicy, StoreError> {
    record::get(db, id).await
}

/// Every policy, oldest first: they are few, and a ticket is matched against all of them.
///
/// # Errors
/// Database failures.
pub async fn all(db: &impl Conn) -> Result<Vec<SlaPolicy>, StoreError> {
    let rows = Entity::find()
        .order_by_asc(Column::CreatedAt)
        .order_by_asc(Column::Id)
        .all(db)
        .await?;
    rows.into_iter().map(to_domain).collect()
}

/// Deletes a policy. Its tickets keep the due times it gave them.
///
/// # Errors
/// `NotFound` when there is no such policy.
pub async fn delete(db: &impl Conn, id: Uuid) -> Result<(), StoreError> {
    ticket::Entity::update_many()
        .col_expr(
            ticket::Column::SlaPolicyId,
            Expr::value(Option::<Uuid>::None),
        )
        .filter(ticket::Column::SlaPolicyId.eq(id))
        .exec(db)
        .await?;
    delete_row::<Entity>(db, id).await
}

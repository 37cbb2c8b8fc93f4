//! How fast leads are first contacted (product.md's 24-hour rule): counts per owner or team in
//! one GROUP BY, the medians of the delays to a first contact in the database, and the leads overdue now.

use chrono::{DateTime, Utc};
use rapport_domain::access::Visibility;
use rapport_domain::customer::Customer;
use rapport_domain::enums::LifecycleStage;
use sea_orm::sea_query::{Expr, NullOrdering, Order};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect, QueryTrait, Select};
use uuid::Uuid;

use super::list::visible;
use super::to_domain;
use crate::entities::customer::{Column, Entity};
use crate::stats::{Spread, count_where, seconds_between, spread};
use crate::{Conn, StoreError};

/// Which leads count: created in `[from, to)`, under the first-contact rule, live, seen.
#[derive(Debug, Clone, Copy)]
pub struct LeadScope {
    pub visibility: Visibility,
    pub from: Option<DateTime<Utc>>,
    pub to: Option<DateTime<Utc>>,
    /// Per owner or per team (`None`: all together).
    pub by_team: Option<bool>,
}

impl LeadScope {
    fn select(&self) -> Select<Entity> {
        let s = visible(Entity::find(), self.visibility)
            .filter(Column::DeletedAt.is_null())
            .filter(Column::FirstContactDueAt.is_not_null());
        crate::page::in_range(s, Column::CreatedAt, self.from, self.to)
    }

    fn group(&self) -> Option<Column> {
        self.by_team.map(|team| {
            if team {
                Column::TeamId
            } else {
                Column::OwnerId
            }
        })
    }
}

/// The leads of one group.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LeadCounts {
    /// The owner or team (`None`: without one, or all together).
    pub key: Option<Uuid>,
    pub leads: i64,
    pub contacted: i64,
    /// Contacted by their due time.
    pub in_time: i64,
    /// Contacted, or past their due time at `now`: those whose timeliness is known.
    pub due: i64,
    /// Still leads, not contacted, and past their due time at `now`.
    pub overdue: i64,
}

/// The counts of each group, in key order (the group without a key last).
///
/// # Errors
/// Database failures.
pub async fn lead_response(
    db: &impl Conn,
    scope: &LeadScope,
    now: DateTime<Utc>,
) -> Result<Vec<LeadCounts>, StoreError> {
    let contacted = || Column::FirstContactedAt.is_not_null();
    let uncontacted_lead_past_due = || {
        Column::FirstContactedAt
            .is_null()
            .and(Column::LifecycleStage.eq(LifecycleStage::Lead.as_str()))
            .and(Column::FirstContactDueAt.lt(now))
    };
    let mut select = scope
        .select()
        .select_only()
        .column_as(Expr::cust("COUNT(*)"), "leads")
        .column_as(Expr::cust("COUNT(first_contacted_at)"), "contacted")
        .column_as(
            count_where(
                Expr::col(Column::FirstContactedAt).lte(Expr::col(Column::FirstContactDueAt)),
            ),
            "in_time",
        )
        .column_as(count_where(uncontacted_lead_past_due()), "overdue")
        .column_as(
            count_where(contacted().or(Column::FirstContactDueAt.lt(now))),
            "due",
        );
    if let Some(group) = scope.group() {
        select = select
            .column_as(group, "key")
            .group_by(group)
            .order_by_with_nulls(group, Order::Asc, NullOrdering::Last);
    }
    let rows = db
        .query_all(select.build(db.get_database_backend()))
        .await?;
    let mut out = Vec::with_capacity(rows.len());
    for row in rows {
        let leads: i64 = row.try_get("", "leads")?;
        if leads == 0 {
            continue;
        }
        let sum = |name: &str| -> Result<i64, StoreError> {
            Ok(row.try_get::<Option<i64>>("", name)?.unwrap_or(0))
        };
        out.push(LeadCounts {
            key: match scope.group() {
                Some(_) => row.try_get("", "key")?,
                None => None,
            },
            leads,
            contacted: row.try_get("", "contacted")?,
            in_time: sum("in_time")?,
            due: sum("due")?,
            overdue: sum("overdue")?,
        });
    }
    Ok(out)
}

/// How long the contacted leads waited for their first contact, in seconds: per group of
/// `scope` when `grouped`, or all together (the key `None`).
///
/// # Errors
/// Database failures.
pub async fn time_to_first_contact(
    db: &impl Conn,
    scope: &LeadScope,
    grouped: bool,
) -> Result<Vec<(Option<Uuid>, Spread)>, StoreError> {
    let backend = db.get_database_backend();
    let mut select = scope
        .select()
        .filter(Column::FirstContactedAt.is_not_null())
        .select_only()
        .column_as(
            seconds_between(backend, "created_at", "first_contacted_at"),
            "secs",
        );
    let group = scope.group().filter(|_| grouped);
    if let Some(group) = group {
        select = select.column_as(group, "grp");
    }
    spread(db, select.build(backend), group.is_some()).await
}

/// The leads the caller sees (still leads) that are past their first-contact due time
/// uncontacted at `now`, the longest overdue first; the rule the escalation job applies.
///
/// # Errors
/// Database failures.
pub async fn overdue_leads(
    db: &impl Conn,
    visibility: Visibility,
    now: DateTime<Utc>,
    limit: u64,
) -> Result<Vec<Customer>, StoreError> {
    visible(Entity::find(), visibility)
        .filter(Column::DeletedAt.is_null())
        .filter(Column::FirstContactedAt.is_null())
        .filter(Column::LifecycleStage.eq(LifecycleStage::Lead.as_str()))
        .filter(Column::FirstContactDueAt.lt(now))
        .order_by_asc(Column::FirstContactDueAt)
        .order_by_asc(Column::Id)
        .limit(limit)
        .all(db)
        .await?
        .into_iter()
        .map(to_domain)
        .collect()
}

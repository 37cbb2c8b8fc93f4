//! How fast leads are first contacted (product.md's 24-hour rule): counts per owner or team in
//! one GROUP BY, the delays of the contacted ones for their median, and the leads overdue now.

use chrono::{DateTime, Utc};
use rapport_domain::access::Visibility;
use rapport_domain::customer::Customer;
use sea_orm::sea_query::{Expr, Func};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect, QueryTrait, Select};
use uuid::Uuid;

use super::list::visible;
use super::to_domain;
use crate::entities::customer::{Column, Entity};
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
        let mut s = visible(Entity::find(), self.visibility)
            .filter(Column::DeletedAt.is_null())
            .filter(Column::FirstContactDueAt.is_not_null());
        if let Some(from) = self.from {
            s = s.filter(Column::CreatedAt.gte(from));
        }
        if let Some(to) = self.to {
            s = s.filter(Column::CreatedAt.lt(to));
        }
        s
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
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LeadCounts {
    /// The owner or team (`None`: without one, or all together).
    pub key: Option<Uuid>,
    pub leads: i64,
    pub contacted: i64,
    /// Contacted by their due time.
    pub in_time: i64,
    /// Not contacted, and past their due time at `now`.
    pub overdue: i64,
}

/// The counts of each group, in key order.
///
/// # Errors
/// Database failures.
pub async fn lead_response(
    db: &impl Conn,
    scope: &LeadScope,
    now: DateTime<Utc>,
) -> Result<Vec<LeadCounts>, StoreError> {
    let mut select = scope
        .select()
        .select_only()
        .column_as(Expr::cust("COUNT(*)"), "leads")
        .column_as(Expr::cust("COUNT(first_contacted_at)"), "contacted")
        .column_as(
            Expr::cust(
                "SUM(CASE WHEN first_contacted_at <= first_contact_due_at THEN 1 ELSE 0 END)",
            ),
            "in_time",
        )
        .column_as::<sea_orm::sea_query::SimpleExpr, _>(
            Func::sum(
                Expr::case(
                    Column::FirstContactedAt
                        .is_null()
                        .and(Column::FirstContactDueAt.lt(now)),
                    1,
                )
                .finally(0),
            )
            .into(),
            "overdue",
        );
    if let Some(group) = scope.group() {
        select = select
            .column_as(group, "key")
            .group_by(group)
            .order_by_asc(group);
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
        out.push(LeadCounts {
            key: match scope.group() {
                Some(_) => row.try_get("", "key")?,
                None => None,
            },
            leads,
            contacted: row.try_get("", "contacted")?,
            in_time: row.try_get::<Option<i64>>("", "in_time")?.unwrap_or(0),
            overdue: row.try_get::<Option<i64>>("", "overdue")?.unwrap_or(0),
        });
    }
    Ok(out)
}

/// Each contacted lead's group and seconds from its creation to its first contact, shortest
/// first: what the medians are taken from.
///
/// # Errors
/// Database failures.
pub async fn contact_delays(
    db: &impl Conn,
    scope: &LeadScope,
) -> Result<Vec<(Option<Uuid>, i64)>, StoreError> {
    let mut select = scope
        .select()
        .filter(Column::FirstContactedAt.is_not_null())
        .select_only()
        .column(Column::CreatedAt)
        .column(Column::FirstContactedAt);
    if let Some(group) = scope.group() {
        select = select.column_as(group, "key");
    }
    let rows = db
        .query_all(select.build(db.get_database_backend()))
        .await?;
    let mut out = Vec::with_capacity(rows.len());
    for row in rows {
        let created: DateTime<Utc> = row.try_get("", "created_at")?;
        let contacted: Option<DateTime<Utc>> = row.try_get("", "first_contacted_at")?;
        let key: Option<Uuid> = match scope.group() {
            Some(_) => row.try_get("", "key")?,
            None => None,
        };
        if let Some(contacted) = contacted {
            out.push((key, (contacted - created).num_seconds().max(0)));
        }
    }
    out.sort_by_key(|(_, secs)| *secs);
    Ok(out)
}

/// The leads the caller sees that are past their first-contact due time uncontacted at
/// `now`, the longest overdue first.
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

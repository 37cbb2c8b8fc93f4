//! Sales performance per rep or team, in GROUP BY queries: opportunities created, won and lost
//! in a range with the won amounts per currency (summed exactly, as text into an `i128`),
//! the lengths of the won deals' sales cycles, and the activities recorded.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use rapport_domain::access::Visibility;
use rapport_domain::currency::CurrencyCode;
use rapport_domain::opportunity::OpportunityStatus;
use sea_orm::sea_query::{Expr, Query};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QuerySelect, QueryTrait, Select, Statement};
use uuid::Uuid;

use crate::entities::{activity, opportunity, user};
use crate::page::in_range;
use crate::repos::{corrupt, customer_visible, parse_optional};
use crate::stats::sum_of_seconds;
use crate::{Conn, StoreError};

/// What counts: records of customers the caller sees, in `[from, to)`, per owner or team.
#[derive(Debug, Clone, Copy)]
pub struct PerformanceScope {
    pub visibility: Visibility,
    pub from: Option<DateTime<Utc>>,
    pub to: Option<DateTime<Utc>>,
    pub by_team: bool,
}

impl PerformanceScope {
    fn opportunities(&self, time: opportunity::Column) -> Select<opportunity::Entity> {
        let s = opportunity::Entity::find().filter(customer_visible(
            opportunity::Column::CustomerId,
            self.visibility,
        ));
        in_range(s, time, self.from, self.to)
    }

    fn key(&self) -> opportunity::Column {
        if self.by_team {
            opportunity::Column::TeamId
        } else {
            opportunity::Column::OwnerId
        }
    }
}

/// The closed deals of one group, status and currency.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Closed {
    pub key: Option<Uuid>,
    pub status: OpportunityStatus,
    pub currency: Option<CurrencyCode>,
    pub count: i64,
    /// In the currency's minor units.
    pub total_minor: i128,
}

/// The sales cycles of one group's won deals.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cycles {
    pub key: Option<Uuid>,
    pub won: i64,
    /// From creation to win, summed over the deals, in seconds.
    pub seconds: i64,
}

/// Every group's figures, as read.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Performance {
    /// Opportunities created in the range, per group.
    pub created: HashMap<Option<Uuid>, i64>,
    /// Won and lost in the range (by `closed_at`), per group, status and currency.
    pub closed: Vec<Closed>,
    /// The deals won in the range, per group, with their sales cycles summed.
    pub cycles: Vec<Cycles>,
    /// Activities recorded in the range, per rep who recorded them or per that rep's team.
    pub activities: HashMap<Option<Uuid>, i64>,
}

/// The figures of every group in `scope`.
///
/// # Errors
/// Database failures.
pub async fn performance(
    db: &impl Conn,
    scope: &PerformanceScope,
) -> Result<Performance, StoreError> {
    use opportunity::Column as O;
    let backend = db.get_database_backend();
    let key = scope.key();
    let mut out = Performance::default();

    let created = scope
        .opportunities(O::CreatedAt)
        .select_only()
        .column_as(key, "key")
        .column_as(Expr::cust("COUNT(*)"), "n")
        .group_by(key);
    for row in db.query_all(created.build(backend)).await? {
        out.created
            .insert(row.try_get("", "key")?, row.try_get("", "n")?);
    }

    let closed = scope
        .opportunities(O::ClosedAt)
        .filter(O::Status.is_in([
            OpportunityStatus::Won.as_str(),
            OpportunityStatus::Lost.as_str(),
        ]))
        .select_only()
        .column_as(key, "key")
        .column(O::Status)
        .column(O::Currency)
        .column_as(Expr::cust("COUNT(*)"), "n")
        .column_as(Expr::cust("CAST(SUM(amount_minor) AS TEXT)"), "total")
        .group_by(key)
        .group_by(O::Status)
        .group_by(O::Currency);
    let column = "opportunities (performance)";
    for row in db.query_all(closed.build(backend)).await? {
        let status: String = row.try_get("", "status")?;
        let currency: Option<String> = row.try_get("", "currency")?;
        let total: Option<String> = row.try_get("", "total")?;
        out.closed.push(Closed {
            key: row.try_get("", "key")?,
            status: OpportunityStatus::parse(&status).map_err(|e| corrupt(column, e))?,
            currency: parse_optional(column, currency.as_deref(), CurrencyCode::parse)?,
            count: row.try_get("", "n")?,
            total_minor: match total {
                Some(t) => t.parse::<i128>().map_err(|e| corrupt(column, e))?,
                None => 0,
            },
        });
    }

    // Each won deal's cycle in seconds, summed per group in the database.
    let won = scope
        .opportunities(O::ClosedAt)
        .filter(O::Status.eq(OpportunityStatus::Won.as_str()))
        .select_only()
        .column_as(key, "key")
        .column_as(Expr::cust("COUNT(*)"), "n")
        .column_as(
            sum_of_seconds(backend, "created_at", "closed_at"),
            "seconds",
        )
        .group_by(key);
    for row in db.query_all(won.build(backend)).await? {
        out.cycles.push(Cycles {
            key: row.try_get("", "key")?,
            won: row.try_get("", "n")?,
            seconds: row.try_get::<i64>("", "seconds")?.max(0),
        });
    }

    // Activities by the rep who recorded them (integration clients are no rep), counted per
    // rep in one index range each; per team, the counts of its members (their team now).
    let per_rep = in_range(
        activity::Entity::find().filter(customer_visible(
            activity::Column::CustomerId,
            scope.visibility,
        )),
        activity::Column::OccurredAt,
        scope.from,
        scope.to,
    )
    .filter(
        activity::Column::RecordedBy.in_subquery(
            Query::select()
                .column(user::Column::Id)
                .from(user::Entity)
                .to_owned(),
        ),
    )
    .select_only()
    .column_as(activity::Column::RecordedBy, "key")
    .column_as(Expr::cust("COUNT(*)"), "n")
    .group_by(activity::Column::RecordedBy)
    .build(backend);
    let counts = if scope.by_team {
        Statement {
            sql: format!(
                "SELECT u.team_id AS key, CAST(SUM(r.n) AS BIGINT) AS n FROM ({}) AS r \
                 JOIN users u ON u.id = r.key GROUP BY u.team_id",
                per_rep.sql
            ),
            ..per_rep
        }
    } else {
        per_rep
    };
    let mut counted = Vec::new();
    for row in db.query_all(counts).await? {
        counted.push((
            row.try_get::<Option<Uuid>>("", "key")?,
            row.try_get("", "n")?,
        ));
    }
    out.activities = counted.into_iter().collect();
    Ok(out)
}

//! Sales performance per rep or team, in GROUP BY queries: opportunities created, won and lost
//! in a range with the won amounts per currency (summed exactly, as text into an `i128`),
//! the lengths of the won deals' sales cycles, and the activities recorded.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use rapport_domain::access::Visibility;
use rapport_domain::currency::CurrencyCode;
use rapport_domain::opportunity::OpportunityStatus;
use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QuerySelect, QueryTrait, Select};
use uuid::Uuid;

use crate::entities::{activity, opportunity, user};
use crate::repos::{corrupt, customer_visible, parse_optional};
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
        let mut s = opportunity::Entity::find().filter(customer_visible(
            opportunity::Column::CustomerId,
            self.visibility,
        ));
        if let Some(from) = self.from {
            s = s.filter(time.gte(from));
        }
        if let Some(to) = self.to {
            s = s.filter(time.lt(to));
        }
        s
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

/// One group's figures, as read.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Performance {
    /// Opportunities created in the range, per group.
    pub created: HashMap<Option<Uuid>, i64>,
    /// Won and lost in the range (by `closed_at`), per group, status and currency.
    pub closed: Vec<Closed>,
    /// Each deal won in the range: its group and its sales cycle in seconds.
    pub cycles: Vec<(Option<Uuid>, i64)>,
    /// Activities recorded in the range, per group of who recorded them.
    pub activities: HashMap<Option<Uuid>, i64>,
}

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

    let won = scope
        .opportunities(O::ClosedAt)
        .filter(O::Status.eq(OpportunityStatus::Won.as_str()))
        .select_only()
        .column_as(key, "key")
        .column(O::CreatedAt)
        .column(O::ClosedAt);
    for row in db.query_all(won.build(backend)).await? {
        let created: DateTime<Utc> = row.try_get("", "created_at")?;
        let closed: Option<DateTime<Utc>> = row.try_get("", "closed_at")?;
        if let Some(closed) = closed {
            let seconds = (closed - created).num_seconds().max(0);
            out.cycles.push((row.try_get("", "key")?, seconds));
        }
    }

    let mut activities = activity::Entity::find().filter(customer_visible(
        activity::Column::CustomerId,
        scope.visibility,
    ));
    if let Some(from) = scope.from {
        activities = activities.filter(activity::Column::OccurredAt.gte(from));
    }
    if let Some(to) = scope.to {
        activities = activities.filter(activity::Column::OccurredAt.lt(to));
    }
    let by_user: Vec<(Option<Uuid>, i64)> = activities
        .select_only()
        .column(activity::Column::RecordedBy)
        .column_as(Expr::cust("COUNT(*)"), "n")
        .group_by(activity::Column::RecordedBy)
        .into_tuple()
        .all(db)
        .await?;
    let teams: HashMap<Uuid, Option<Uuid>> = if scope.by_team {
        user::Entity::find()
            .select_only()
            .column(user::Column::Id)
            .column(user::Column::TeamId)
            .into_tuple::<(Uuid, Option<Uuid>)>()
            .all(db)
            .await?
            .into_iter()
            .collect()
    } else {
        HashMap::new()
    };
    for (user, n) in by_user {
        let group = match scope.by_team {
            true => user.and_then(|u| teams.get(&u).copied().flatten()),
            false => user,
        };
        *out.activities.entry(group).or_default() += n;
    }
    Ok(out)
}

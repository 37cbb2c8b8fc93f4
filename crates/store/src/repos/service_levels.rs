//! Service levels in GROUP BY and window queries over tickets: how many met or missed their
//! first-response and resolution targets, how long those took (median and 90th percentile),
//! the backlog by priority and age, and the breaches by team and category.

use chrono::{DateTime, Utc};
use rapport_domain::access::Visibility;
use rapport_domain::report::{AgeBand, Interval};
use rapport_domain::ticket::{SlaTarget, TicketCategory, TicketPriority, TicketStatus, TicketView};
use sea_orm::sea_query::{CaseStatement, Expr, SimpleExpr};
use sea_orm::{
    ColumnTrait, EntityTrait, IdenStatic, Order, QueryFilter, QueryOrder, QuerySelect, QueryTrait,
    Select,
};
use uuid::Uuid;

use super::tickets::viewed;
use crate::entities::ticket::{Column, Entity};
use crate::page::in_range;
use crate::repos::{corrupt, customer_visible};
use crate::stats::{Spread, count_where, period_start, seconds_between, spread};
use crate::{Conn, StoreError};

/// Which tickets count: those the caller sees (as an agent and through its customers),
/// created in `[from, to)`, per period of their creation when `period` is set.
#[derive(Debug, Clone, Copy)]
pub struct ServiceScope {
    pub view: TicketView,
    pub visibility: Visibility,
    pub from: Option<DateTime<Utc>>,
    pub to: Option<DateTime<Utc>>,
    pub period: Option<Interval>,
}

impl ServiceScope {
    fn seen(&self) -> Select<Entity> {
        Entity::find()
            .filter(viewed(self.view))
            .filter(customer_visible(Column::CustomerId, self.visibility))
    }

    fn created(&self) -> Select<Entity> {
        in_range(self.seen(), Column::CreatedAt, self.from, self.to)
    }
}

/// How the tickets of one period (or of the whole range) did against their targets.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Compliance {
    /// The period's first day; `None` without periods.
    pub period: Option<String>,
    pub tickets: i64,
    pub first_response_met: i64,
    pub first_response_missed: i64,
    pub resolution_met: i64,
    pub resolution_missed: i64,
}

fn active() -> SimpleExpr {
    Column::Status.is_in(
        [
            TicketStatus::New,
            TicketStatus::Open,
            TicketStatus::Pending,
            TicketStatus::Reopened,
        ]
        .map(TicketStatus::as_str),
    )
}

/// Met: done by its due time and never recorded as breached.
fn met(done: Column, due: Column, breached: Column) -> SimpleExpr {
    done.is_not_null()
        .and(Expr::col(done).lte(Expr::col(due)))
        .and(breached.is_null())
}

/// Missed: recorded as breached, done after its due time, or still not done past it while
/// its clock runs (`clock_runs`), as the breach job would find it.
fn missed(
    done: Column,
    due: Column,
    breached: Column,
    clock_runs: SimpleExpr,
    now: DateTime<Utc>,
) -> SimpleExpr {
    breached
        .is_not_null()
        .or(Expr::col(done).gt(Expr::col(due)))
        .or(done.is_null().and(due.lt(now)).and(clock_runs))
}

/// The targets met and missed, per period of creation in period order (or one row).
/// A target whose outcome is not known yet (due later, or paused) is in neither.
///
/// # Errors
/// Database failures.
pub async fn compliance(
    db: &impl Conn,
    scope: &ServiceScope,
    now: DateTime<Utc>,
) -> Result<Vec<Compliance>, StoreError> {
    use Column as C;
    let backend = db.get_database_backend();
    let mut select = scope
        .created()
        .select_only()
        .column_as(Expr::cust("COUNT(*)"), "tickets")
        .column_as(
            count_where(met(
                C::FirstRespondedAt,
                C::FirstResponseDueAt,
                C::FirstResponseBreachedAt,
            )),
            "fr_met",
        )
        .column_as(
            count_where(missed(
                C::FirstRespondedAt,
                C::FirstResponseDueAt,
                C::FirstResponseBreachedAt,
                active(),
                now,
            )),
            "fr_missed",
        )
        .column_as(
            count_where(met(
                C::ResolvedAt,
                C::ResolutionDueAt,
                C::ResolutionBreachedAt,
            )),
            "res_met",
        )
        .column_as(
            count_where(missed(
                C::ResolvedAt,
                C::ResolutionDueAt,
                C::ResolutionBreachedAt,
                active().and(C::PausedAt.is_null()),
                now,
            )),
            "res_missed",
        );
    if let Some(interval) = scope.period {
        select = select
            .column_as(period_start(backend, interval, "created_at"), "period")
            .group_by(Expr::cust("period"))
            .order_by(Expr::cust("period"), Order::Asc);
    }
    let mut out = Vec::new();
    for row in db.query_all(select.build(backend)).await? {
        let tickets: i64 = row.try_get("", "tickets")?;
        if tickets == 0 {
            continue;
        }
        let sum = |name: &str| -> Result<i64, StoreError> {
            Ok(row.try_get::<Option<i64>>("", name)?.unwrap_or(0))
        };
        out.push(Compliance {
            period: match scope.period {
                Some(_) => row.try_get("", "period")?,
                None => None,
            },
            tickets,
            first_response_met: sum("fr_met")?,
            first_response_missed: sum("fr_missed")?,
            resolution_met: sum("res_met")?,
            resolution_missed: sum("res_missed")?,
        });
    }
    Ok(out)
}

/// How long the tickets created in the range took to a first response or to their resolution,
/// in seconds of the clock: per period when `per_period` (keyed by its first day), or all
/// together (the key `None`).
///
/// # Errors
/// Database failures.
pub async fn times(
    db: &impl Conn,
    scope: &ServiceScope,
    target: SlaTarget,
    per_period: bool,
) -> Result<Vec<(Option<String>, Spread)>, StoreError> {
    let backend = db.get_database_backend();
    let done = match target {
        SlaTarget::FirstResponse => Column::FirstRespondedAt,
        SlaTarget::Resolution => Column::ResolvedAt,
    };
    let mut select = scope
        .created()
        .filter(done.is_not_null())
        .select_only()
        .column_as(
            seconds_between(backend, "created_at", done.as_str()),
            "secs",
        );
    let interval = scope.period.filter(|_| per_period);
    if let Some(interval) = interval {
        select = select.column_as(period_start(backend, interval, "created_at"), "grp");
    }
    spread(db, select.build(backend), interval.is_some()).await
}

/// The active tickets of one priority and age.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Backlog {
    pub priority: TicketPriority,
    pub age: AgeBand,
    pub count: i64,
}

/// The tickets the caller sees that are still active at `now` (whenever created), per
/// priority and age.
///
/// # Errors
/// Database failures.
pub async fn backlog(
    db: &impl Conn,
    scope: &ServiceScope,
    now: DateTime<Utc>,
) -> Result<Vec<Backlog>, StoreError> {
    // From the oldest band down, the first whose start its age has reached; else the youngest.
    let [(youngest, _), older @ ..] = AgeBand::STARTS;
    let band = older
        .iter()
        .rev()
        .fold(None::<CaseStatement>, |case, (age, start)| {
            let reached = Column::CreatedAt.lte(now - *start);
            Some(match case {
                None => Expr::case(reached, age.as_str()),
                Some(case) => case.case(reached, age.as_str()),
            })
        })
        .map_or_else(
            || Expr::val(youngest.as_str()).into(),
            |case| case.finally(youngest.as_str()).into(),
        );
    let select = scope
        .seen()
        .filter(active())
        .select_only()
        .column(Column::Priority)
        .column_as::<SimpleExpr, _>(band, "age")
        .column_as(Expr::cust("COUNT(*)"), "n")
        .group_by(Column::Priority)
        .group_by(Expr::cust("age"));
    let column = "tickets (backlog)";
    let mut out = Vec::new();
    for (priority, age, count) in select.into_tuple::<(String, String, i64)>().all(db).await? {
        out.push(Backlog {
            priority: TicketPriority::parse(&priority).map_err(|e| corrupt(column, e))?,
            age: AgeBand::parse(&age).map_err(|e| corrupt(column, e))?,
            count,
        });
    }
    out.sort_by_key(|b| (b.priority, b.age));
    Ok(out)
}

/// The targets missed in the range by one team's tickets of one category.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Breaches {
    pub team_id: Option<Uuid>,
    pub category: TicketCategory,
    pub first_response: i64,
    pub resolution: i64,
}

/// The breaches recorded in `[from, to)` (whenever the ticket was created), per team and
/// category.
///
/// # Errors
/// Database failures.
pub async fn breaches(db: &impl Conn, scope: &ServiceScope) -> Result<Vec<Breaches>, StoreError> {
    let within = |column: Column| {
        let mut c = column.is_not_null();
        if let Some(from) = scope.from {
            c = c.and(column.gte(from));
        }
        if let Some(to) = scope.to {
            c = c.and(column.lt(to));
        }
        c
    };
    let first = within(Column::FirstResponseBreachedAt);
    let resolution = within(Column::ResolutionBreachedAt);
    let select = scope
        .seen()
        .filter(first.clone().or(resolution.clone()))
        .select_only()
        .column(Column::TeamId)
        .column(Column::Category)
        .column_as(count_where(first), "first_response")
        .column_as(count_where(resolution), "resolution")
        .group_by(Column::TeamId)
        .group_by(Column::Category);
    let column = "tickets (breaches)";
    let mut out = Vec::new();
    for (team_id, category, first_response, resolution) in select
        .into_tuple::<(Option<Uuid>, String, Option<i64>, Option<i64>)>()
        .all(db)
        .await?
    {
        out.push(Breaches {
            team_id,
            category: TicketCategory::parse(&category).map_err(|e| corrupt(column, e))?,
            first_response: first_response.unwrap_or(0),
            resolution: resolution.unwrap_or(0),
        });
    }
    out.sort_by_key(|b| (b.team_id.is_none(), b.team_id, b.category));
    Ok(out)
}

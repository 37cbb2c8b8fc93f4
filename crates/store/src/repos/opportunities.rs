//! Opportunities, their stage history, and the pipeline forecast.

use std::collections::BTreeMap;

use chrono::{DateTime, NaiveDate, Utc};
use rapport_domain::access::Visibility;
use rapport_domain::currency::CurrencyCode;
use rapport_domain::enums::Source;
use rapport_domain::money::Money;
use rapport_domain::name::Title;
use rapport_domain::opportunity::{
    LostReason, Opportunity, OpportunityStatus, SalesNote, StageMove,
};
use rapport_domain::pipeline::{Probability, Stage};
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveValue::Set, ColumnTrait, Condition, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder,
    QuerySelect, QueryTrait,
};
use uuid::Uuid;

use crate::entities::opportunity::{self, Column, Entity};
use crate::entities::opportunity_stage_move as moves;
use crate::page::{Cursor, Page, SortDir, SortValue, keyset};
use crate::repos::record::record;
use crate::repos::{corrupt, customer_visible, parse_column, parse_optional};
use crate::{Conn, StoreError};

fn money(
    column: &str,
    minor: Option<i64>,
    currency: Option<&str>,
) -> Result<Option<Money>, StoreError> {
    match (minor, currency) {
        (Some(minor), Some(currency)) => {
            let currency = parse_column(column, currency, CurrencyCode::parse)?;
            Money::from_minor(minor, currency)
                .map(Some)
                .map_err(|e| corrupt(column, e))
        }
        _ => Ok(None),
    }
}

fn to_domain(m: opportunity::Model) -> Result<Opportunity, StoreError> {
    Ok(Opportunity {
        id: m.id,
        customer_id: m.customer_id,
        contact_id: m.contact_id,
        title: parse_column("opportunities.title", &m.title, Title::parse)?,
        source: parse_optional("opportunities.source", m.source.as_deref(), Source::parse)?,
        campaign_id: m.campaign_id,
        amount: money(
            "opportunities.amount",
            m.amount_minor,
            m.currency.as_deref(),
        )?,
        expected_close_date: m.expected_close_date,
        pipeline_id: m.pipeline_id,
        stage_id: m.stage_id,
        status: parse_column("opportunities.status", &m.status, OpportunityStatus::parse)?,
        probability: Probability::new(i64::from(m.probability))
            .map_err(|e| corrupt("opportunities.probability", e))?,
        probability_overridden: m.probability_overridden,
        owner_id: m.owner_id,
        team_id: m.team_id,
        next_step: parse_optional(
            "opportunities.next_step",
            m.next_step.as_deref(),
            SalesNote::parse,
        )?,
        tags: serde_json::from_value(m.tags).map_err(|e| corrupt("opportunities.tags", e))?,
        lost_reason: parse_optional(
            "opportunities.lost_reason",
            m.lost_reason.as_deref(),
            LostReason::parse,
        )?,
        lost_note: parse_optional(
            "opportunities.lost_note",
            m.lost_note.as_deref(),
            SalesNote::parse,
        )?,
        closed_at: m.closed_at,
        stage_entered_at: m.stage_entered_at,
        created_by: m.created_by,
        created_at: m.created_at,
        updated_at: m.updated_at,
        version: m.version,
    })
}

fn to_active(o: &Opportunity) -> opportunity::ActiveModel {
    opportunity::ActiveModel {
        id: Set(o.id),
        customer_id: Set(o.customer_id),
        contact_id: Set(o.contact_id),
        title: Set(o.title.to_string()),
        source: Set(o.source.map(|s| s.as_str().to_owned())),
        campaign_id: Set(o.campaign_id),
        amount_minor: Set(o.amount.map(|a| a.minor())),
        currency: Set(o.amount.map(|a| a.currency().as_str().to_owned())),
        expected_close_date: Set(o.expected_close_date),
        pipeline_id: Set(o.pipeline_id),
        stage_id: Set(o.stage_id),
        status: Set(o.status.as_str().to_owned()),
        probability: Set(i32::from(o.probability.percent())),
        probability_overridden: Set(o.probability_overridden),
        owner_id: Set(o.owner_id),
        team_id: Set(o.team_id),
        next_step: Set(o.next_step.as_ref().map(ToString::to_string)),
        tags: Set(serde_json::Value::from(
            o.tags.iter().map(|t| t.as_str()).collect::<Vec<_>>(),
        )),
        lost_reason: Set(o.lost_reason.map(|r| r.as_str().to_owned())),
        lost_note: Set(o.lost_note.as_ref().map(ToString::to_string)),
        closed_at: Set(o.closed_at),
        stage_entered_at: Set(o.stage_entered_at),
        created_by: Set(o.created_by),
        created_at: Set(o.created_at),
        updated_at: Set(o.updated_at),
        version: Set(o.version),
    }
}

record!(Opportunity, Entity, to_active: |o| Ok(to_active(o)), from_model: to_domain);

/// Inserts an opportunity and the first entry of its history.
///
/// # Errors
/// Database failures.
pub async fn insert(db: &impl Conn, o: &Opportunity) -> Result<(), StoreError> {
    Entity::insert(to_active(o))
        .exec_without_returning(db)
        .await?;
    record_move(db, &o.created_move()).await
}

/// # Errors
/// Database failures.
pub async fn record_move(db: &impl Conn, m: &StageMove) -> Result<(), StoreError> {
    moves::Entity::insert(moves::ActiveModel {
        id: Set(m.id),
        opportunity_id: Set(m.opportunity_id),
        from_stage_id: Set(m.from_stage_id),
        to_stage_id: Set(m.to_stage_id),
        changed_by: Set(m.changed_by),
        changed_at: Set(m.changed_at),
        seconds_in_previous: Set(m.seconds_in_previous),
    })
    .exec_without_returning(db)
    .await?;
    Ok(())
}

/// An opportunity's stage moves, oldest first.
///
/// # Errors
/// Database failures.
pub async fn history(
    db: &impl Conn,
    opportunity_id: Uuid,
    after: Option<Cursor>,
    limit: u64,
) -> Result<Page<StageMove>, StoreError> {
    use moves::Column as M;
    let select = moves::Entity::find().filter(M::OpportunityId.eq(opportunity_id));
    let rows = keyset(select, M::Id, M::Id, SortDir::Asc, after, limit)
        .all(db)
        .await?;
    Page::from_models(
        rows,
        limit,
        |m| {
            Ok(StageMove {
                id: m.id,
                opportunity_id: m.opportunity_id,
                from_stage_id: m.from_stage_id,
                to_stage_id: m.to_stage_id,
                changed_by: m.changed_by,
                changed_at: m.changed_at,
                seconds_in_previous: m.seconds_in_previous,
            })
        },
        |m| Cursor {
            value: SortValue::Id,
            id: m.id,
        },
    )
}

/// Moves every opportunity of the stage `from` into `to` (a removed stage's, of the same
/// kind), each with its history entry and a new version; an open one whose probability was
/// not set by hand takes `to`'s. Answers how many moved.
///
/// # Errors
/// Database failures.
pub async fn move_all(
    db: &impl Conn,
    from: Uuid,
    to: &Stage,
    by: Option<Uuid>,
    now: DateTime<Utc>,
) -> Result<u64, StoreError> {
    let rows: Vec<(Uuid, DateTime<Utc>)> = Entity::find()
        .select_only()
        .column(Column::Id)
        .column(Column::StageEnteredAt)
        .filter(Column::StageId.eq(from))
        .into_tuple()
        .all(db)
        .await?;
    // Well under either database's limit of bound values per statement.
    for chunk in rows.chunks(1000) {
        moves::Entity::insert_many(chunk.iter().map(|(id, entered)| moves::ActiveModel {
            id: Set(Uuid::now_v7()),
            opportunity_id: Set(*id),
            from_stage_id: Set(Some(from)),
            to_stage_id: Set(to.id),
            changed_by: Set(by),
            changed_at: Set(now),
            seconds_in_previous: Set(Some((now - *entered).num_seconds().max(0))),
        }))
        .exec_without_returning(db)
        .await?;
    }
    let takes_the_stages = Condition::all()
        .add(Column::ProbabilityOverridden.eq(false))
        .add(Column::Status.eq(OpportunityStatus::Open.as_str()));
    let probability = Expr::case(takes_the_stages, i32::from(to.probability.percent()))
        .finally(Expr::col(Column::Probability));
    Entity::update_many()
        .col_expr(Column::StageId, Expr::value(to.id))
        .col_expr(Column::Probability, probability.into())
        .col_expr(Column::StageEnteredAt, Expr::value(now))
        .col_expr(Column::UpdatedAt, Expr::value(now))
        .col_expr(Column::Version, Expr::col(Column::Version).add(1))
        .filter(Column::StageId.eq(from))
        .exec(db)
        .await?;
    Ok(rows.len() as u64)
}

/// How many won opportunities the customer has, other than `except`.
///
/// # Errors
/// Database failures.
pub async fn wins_of(db: &impl Conn, customer_id: Uuid, except: Uuid) -> Result<u64, StoreError> {
    Ok(Entity::find()
        .filter(Column::CustomerId.eq(customer_id))
        .filter(Column::Status.eq(OpportunityStatus::Won.as_str()))
        .filter(Column::Id.ne(except))
        .count(db)
        .await?)
}

/// Filters of the opportunity list.
#[derive(Debug, Clone, Default)]
pub struct OpportunityFilter {
    pub pipeline_id: Option<Uuid>,
    pub stage_id: Option<Uuid>,
    pub status: Option<OpportunityStatus>,
    pub owner_id: Option<Uuid>,
    pub team_id: Option<Uuid>,
    pub customer_id: Option<Uuid>,
    pub currency: Option<CurrencyCode>,
    /// Amounts in minor units, both ends included (with `currency`, amounts compare).
    pub amount_min: Option<i64>,
    pub amount_max: Option<i64>,
    /// Expected close dates, both ends included.
    pub close_from: Option<NaiveDate>,
    pub close_to: Option<NaiveDate>,
    /// Changed within these times, both ends included (the change feed).
    pub updated_from: Option<DateTime<Utc>>,
    pub updated_to: Option<DateTime<Utc>>,
}

/// The orders of the opportunity list.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OpportunitySort {
    Created(SortDir),
    Updated(SortDir),
    /// Opportunities without an amount are left out.
    Amount(SortDir),
    /// Opportunities without an expected close date are left out.
    ExpectedClose(SortDir),
}

fn filtered(visibility: Visibility, f: &OpportunityFilter) -> sea_orm::Select<Entity> {
    let mut s = Entity::find().filter(customer_visible(Column::CustomerId, visibility));
    let ids = [
        (Column::PipelineId, f.pipeline_id),
        (Column::StageId, f.stage_id),
        (Column::OwnerId, f.owner_id),
        (Column::TeamId, f.team_id),
        (Column::CustomerId, f.customer_id),
    ];
    for (column, value) in ids {
        if let Some(v) = value {
            s = s.filter(column.eq(v));
        }
    }
    if let Some(status) = f.status {
        s = s.filter(Column::Status.eq(status.as_str()));
    }
    if let Some(c) = f.currency {
        s = s.filter(Column::Currency.eq(c.as_str()));
    }
    if let Some(v) = f.amount_min {
        s = s.filter(Column::AmountMinor.gte(v));
    }
    if let Some(v) = f.amount_max {
        s = s.filter(Column::AmountMinor.lte(v));
    }
    if let Some(d) = f.close_from {
        s = s.filter(Column::ExpectedCloseDate.gte(d));
    }
    if let Some(d) = f.close_to {
        s = s.filter(Column::ExpectedCloseDate.lte(d));
    }
    if let Some(t) = f.updated_from {
        s = s.filter(Column::UpdatedAt.gte(t));
    }
    if let Some(t) = f.updated_to {
        s = s.filter(Column::UpdatedAt.lte(t));
    }
    s
}

/// Opportunities of live customers the caller sees, in `sort` order.
///
/// # Errors
/// Database failures.
pub async fn list(
    db: &impl Conn,
    visibility: Visibility,
    filter: &OpportunityFilter,
    sort: OpportunitySort,
    after: Option<Cursor>,
    limit: u64,
) -> Result<Page<Opportunity>, StoreError> {
    let mut select = filtered(visibility, filter);
    let (column, dir) = match sort {
        OpportunitySort::Created(d) => (Column::CreatedAt, d),
        OpportunitySort::Updated(d) => (Column::UpdatedAt, d),
        OpportunitySort::Amount(d) => {
            select = select.filter(Column::AmountMinor.is_not_null());
            (Column::AmountMinor, d)
        }
        OpportunitySort::ExpectedClose(d) => {
            select = select.filter(Column::ExpectedCloseDate.is_not_null());
            (Column::ExpectedCloseDate, d)
        }
    };
    let rows = keyset(select, column, Column::Id, dir, after, limit)
        .all(db)
        .await?;
    Page::from_models(rows, limit, to_domain, |o| Cursor {
        value: match sort {
            OpportunitySort::Created(_) => SortValue::Time(o.created_at),
            OpportunitySort::Updated(_) => SortValue::Time(o.updated_at),
            OpportunitySort::Amount(_) => SortValue::Int(o.amount.map_or(0, |a| a.minor())),
            OpportunitySort::ExpectedClose(_) => {
                SortValue::Date(o.expected_close_date.unwrap_or_default())
            }
        },
        id: o.id,
    })
}

/// All opportunities of some customers (exports), oldest first.
///
/// # Errors
/// Database failures.
pub async fn of_customers(
    db: &impl Conn,
    customer_ids: &[Uuid],
) -> Result<Vec<Opportunity>, StoreError> {
    Entity::find()
        .filter(Column::CustomerId.is_in(customer_ids.iter().copied()))
        .order_by_asc(Column::Id)
        .all(db)
        .await?
        .into_iter()
        .map(to_domain)
        .collect()
}

/// One group of the forecast: opportunities of one stage, currency (none: without an amount),
/// and, when asked, owner and month of expected close.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct ForecastKey {
    pub stage_id: Uuid,
    pub currency: Option<CurrencyCode>,
    /// With `by_owner`.
    pub owner_id: Option<Uuid>,
    /// `YYYY-MM`, with `by_month`; `None` without an expected close date.
    pub month: Option<String>,
}

/// The sums of one forecast group, amounts in minor units. `i128`: a sum of many amounts of
/// up to 10^15, times a probability, outgrows an `i64`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ForecastSums {
    pub count: i64,
    pub total_minor: i128,
    /// Σ amount × probability, in minor units × percent: divide by 100.
    pub weighted_centi_minor: i128,
}

impl std::ops::AddAssign for ForecastSums {
    fn add_assign(&mut self, other: ForecastSums) {
        self.count += other.count;
        self.total_minor += other.total_minor;
        self.weighted_centi_minor += other.weighted_centi_minor;
    }
}

/// What the forecast is grouped by besides stage and currency.
#[derive(Debug, Clone, Copy, Default)]
pub struct ForecastGrouping {
    pub by_owner: bool,
    pub by_month: bool,
}

/// The pipeline forecast of the opportunities the caller sees: counts and sums in SQL, per
/// stage, currency and probability (and owner, and day of expected close, when asked); the
/// weighting and the months here. Sums are read as text: exact on both databases, whatever
/// their size.
///
/// # Errors
/// Database failures.
pub async fn forecast(
    db: &impl Conn,
    visibility: Visibility,
    filter: &OpportunityFilter,
    grouping: ForecastGrouping,
) -> Result<BTreeMap<ForecastKey, ForecastSums>, StoreError> {
    let mut select = filtered(visibility, filter)
        .select_only()
        .column(Column::StageId)
        .column(Column::Currency)
        .column(Column::Probability)
        .column_as(Expr::cust("COUNT(*)"), "n")
        .column_as(Expr::cust("CAST(SUM(amount_minor) AS TEXT)"), "total")
        .group_by(Column::StageId)
        .group_by(Column::Currency)
        .group_by(Column::Probability);
    if grouping.by_owner {
        select = select.column(Column::OwnerId).group_by(Column::OwnerId);
    }
    if grouping.by_month {
        select = select
            .column(Column::ExpectedCloseDate)
            .group_by(Column::ExpectedCloseDate);
    }
    let rows = db
        .query_all(select.build(db.get_database_backend()))
        .await?;
    let mut out: BTreeMap<ForecastKey, ForecastSums> = BTreeMap::new();
    for row in rows {
        let column = "opportunities (forecast)";
        let currency: Option<String> = row.try_get("", "currency")?;
        let probability: i32 = row.try_get("", "probability")?;
        let total: Option<String> = row.try_get("", "total")?;
        let total_minor = match total {
            Some(t) => t.parse::<i128>().map_err(|e| corrupt(column, e))?,
            None => 0,
        };
        let key = ForecastKey {
            stage_id: row.try_get("", "stage_id")?,
            currency: parse_optional(column, currency.as_deref(), CurrencyCode::parse)?,
            owner_id: if grouping.by_owner {
                row.try_get("", "owner_id")?
            } else {
                None
            },
            month: if grouping.by_month {
                row.try_get::<Option<NaiveDate>>("", "expected_close_date")?
                    .map(|d| d.format("%Y-%m").to_string())
            } else {
                None
            },
        };
        *out.entry(key).or_default() += ForecastSums {
            count: row.try_get("", "n")?,
            total_minor,
            weighted_centi_minor: total_minor * i128::from(probability),
        };
    }
    Ok(out)
}

/// Erases the free text of a customer's opportunities (title, next step, why it was lost),
/// keeping their amounts and stages; each gets a new version.
///
/// # Errors
/// Database failures.
pub async fn erase_text(
    db: &impl Conn,
    customer_id: Uuid,
    tombstone: &str,
    now: DateTime<Utc>,
) -> Result<u64, StoreError> {
    let none = || Expr::value(Option::<String>::None);
    let result = Entity::update_many()
        .col_expr(Column::Title, Expr::value(tombstone))
        .col_expr(Column::NextStep, none())
        .col_expr(Column::LostNote, none())
        .col_expr(Column::UpdatedAt, Expr::value(now))
        .col_expr(Column::Version, Expr::col(Column::Version).add(1))
        .filter(Column::CustomerId.eq(customer_id))
        .exec(db)
        .await?;
    Ok(result.rows_affected)
}

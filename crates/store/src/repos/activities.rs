//! Activities: recorded interactions with customers.

use chrono::{DateTime, Utc};
use rapport_domain::access::Visibility;
use rapport_domain::activity::{Activity, Details, Outcome, Summary};
use rapport_domain::enums::{ActivityKind, Channel, Direction};
use sea_orm::{ActiveValue::Set, ColumnTrait, EntityTrait, QueryFilter};
use uuid::Uuid;

use crate::entities::activity::{self, Column, Entity};
use crate::page::{Changes, Cursor, Page, SortDir, SortValue, list_cursor, list_order};
use crate::repos::delete_row;
use crate::repos::deletions::{self, Deleted, Kind, Tombstone};
use crate::repos::record::{self, record};
use crate::repos::{customer_visible, parse_column, parse_optional};
use crate::{Conn, StoreError};

fn to_domain(m: activity::Model) -> Result<Activity, StoreError> {
    Ok(Activity {
        id: m.id,
        customer_id: m.customer_id,
        contact_id: m.contact_id,
        kind: parse_column("activities.kind", &m.kind, ActivityKind::parse)?,
        direction: parse_optional(
            "activities.direction",
            m.direction.as_deref(),
            Direction::parse,
        )?,
        channel: parse_optional("activities.channel", m.channel.as_deref(), Channel::parse)?,
        occurred_at: m.occurred_at,
        summary: parse_column("activities.summary", &m.summary, Summary::parse)?,
        details: parse_optional("activities.details", m.details.as_deref(), Details::parse)?,
        outcome: parse_optional("activities.outcome", m.outcome.as_deref(), Outcome::parse)?,
        recorded_by: m.recorded_by,
        created_at: m.created_at,
        updated_at: m.updated_at,
        version: m.version,
    })
}

fn to_active(a: &Activity) -> activity::ActiveModel {
    activity::ActiveModel {
        id: Set(a.id),
        customer_id: Set(a.customer_id),
        contact_id: Set(a.contact_id),
        kind: Set(a.kind.as_str().to_owned()),
        direction: Set(a.direction.map(|d| d.as_str().to_owned())),
        channel: Set(a.channel.map(|c| c.as_str().to_owned())),
        occurred_at: Set(a.occurred_at),
        summary: Set(a.summary.to_string()),
        details: Set(a.details.as_ref().map(ToString::to_string)),
        outcome: Set(a.outcome.as_ref().map(ToString::to_string)),
        recorded_by: Set(a.recorded_by),
        created_at: Set(a.created_at),
        updated_at: Set(a.updated_at),
        version: Set(a.version),
    }
}

record!(Activity, Entity, to_active: |a| Ok(to_active(a)), from_model: to_domain);

/// Filters of the activity list.
#[derive(Debug, Clone, Default)]
pub struct ActivityFilter {
    pub customer_id: Option<Uuid>,
    pub contact_id: Option<Uuid>,
    pub kind: Option<ActivityKind>,
    pub from: Option<DateTime<Utc>>,
    pub to: Option<DateTime<Utc>>,
    /// The change feed: activities changed in this span, oldest change first.
    pub changes: Option<Changes>,
}

/// # Errors
/// Database failures.
pub async fn insert(db: &impl Conn, activity: &Activity) -> Result<(), StoreError> {
    Entity::insert(to_active(activity))
        .exec_without_returning(db)
        .await?;
    Ok(())
}

/// # Errors
/// `NotFound` when there is no such activity.
pub async fn get(db: &impl Conn, id: Uuid) -> Result<Activity, StoreError> {
    record::get(db, id).await
}

/// Activities of visible customers, newest first (oldest change first in a change feed).
///
/// # Errors
/// Database failures.
pub async fn list(
    db: &impl Conn,
    visibility: Visibility,
    filter: &ActivityFilter,
    after: Option<Cursor>,
    limit: u64,
) -> Result<Page<Activity>, StoreError> {
    let mut select = Entity::find().filter(customer_visible(Column::CustomerId, visibility));
    if let Some(id) = filter.customer_id {
        select = select.filter(Column::CustomerId.eq(id));
    }
    if let Some(id) = filter.contact_id {
        select = select.filter(Column::ContactId.eq(id));
    }
    if let Some(kind) = filter.kind {
        select = select.filter(Column::Kind.eq(kind.as_str()));
    }
    if let Some(from) = filter.from {
        select = select.filter(Column::OccurredAt.gte(from));
    }
    if let Some(to) = filter.to {
        select = select.filter(Column::OccurredAt.lt(to));
    }
    let own = (Column::OccurredAt, SortDir::Desc);
    let select = list_order(
        select,
        filter.changes,
        own,
        Column::UpdatedAt,
        Column::Id,
        after,
        limit,
    );
    let rows = select.all(db).await?;
    Page::from_models(rows, limit, to_domain, |a| {
        list_cursor(
            filter.changes,
            a.updated_at,
            SortValue::Time(a.occurred_at),
            a.id,
        )
    })
}

/// One page of the activities deleted in `changes` from live customers `visibility` allows
/// (and from `filter.customer_id`), oldest deletion first.
///
/// # Errors
/// Database failures.
pub async fn deleted(
    db: &impl Conn,
    visibility: Visibility,
    filter: &ActivityFilter,
    changes: Changes,
    after: Option<Cursor>,
    limit: u64,
) -> Result<Page<Tombstone>, StoreError> {
    let customer = filter.customer_id;
    deletions::of_customers(
        db,
        Kind::Activity,
        visibility,
        customer,
        changes,
        after,
        limit,
    )
    .await
}

/// All activities of some customers (exports).
///
/// # Errors
/// Database failures.
pub async fn of_customers(
    db: &impl Conn,
    customer_ids: &[Uuid],
) -> Result<Vec<Activity>, StoreError> {
    let rows = Entity::find()
        .filter(Column::CustomerId.is_in(customer_ids.iter().copied()))
        .all(db)
        .await?;
    rows.into_iter().map(to_domain).collect()
}

/// Deletes an activity for good, leaving its tombstone for the change feed.
///
/// # Errors
/// `NotFound` when there is no such activity.
pub async fn delete(
    db: &impl Conn,
    activity: &Activity,
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    delete_row::<Entity>(db, activity.id).await?;
    let deleted = Deleted {
        kind: Kind::Activity,
        id: activity.id,
        customer_id: Some(activity.customer_id),
        assignee_id: None,
        created_by: None,
    };
    deletions::record(db, deleted, now).await
}

/// Replaces the text of a customer's activities with the erasure tombstone; kinds and times
/// stay for reports.
///
/// # Errors
/// Database failures.
pub async fn erase_text(
    db: &impl Conn,
    customer_id: Uuid,
    tombstone: &str,
    now: DateTime<Utc>,
) -> Result<u64, StoreError> {
    use sea_orm::sea_query::Expr;
    let result = Entity::update_many()
        .col_expr(Column::Summary, Expr::value(tombstone))
        .col_expr(Column::Details, Expr::value(Option::<String>::None))
        .col_expr(Column::Outcome, Expr::value(Option::<String>::None))
        .col_expr(Column::UpdatedAt, Expr::value(now))
        .col_expr(Column::Version, Expr::col(Column::Version).add(1))
        .filter(Column::CustomerId.eq(customer_id))
        .exec(db)
        .await?;
    Ok(result.rows_affected)
}

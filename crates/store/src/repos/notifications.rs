//! Users' notifications.

use chrono::{DateTime, Utc};
use rapport_domain::notification::{Notification, NotificationKind, NotificationTitle};
use sea_orm::sea_query::Expr;
use sea_orm::{ActiveValue::Set, ColumnTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect};
use uuid::Uuid;

use crate::entities::notification::{self, Column, Entity};
use crate::page::{Cursor, Page, SortValue};
use crate::repos::parse_column;
use crate::{Conn, StoreError};

fn to_domain(m: notification::Model) -> Result<Notification, StoreError> {
    Ok(Notification {
        id: m.id,
        user_id: m.user_id,
        kind: parse_column("notifications.kind", &m.kind, NotificationKind::parse)?,
        title: parse_column("notifications.title", &m.title, NotificationTitle::parse)?,
        ticket_id: m.ticket_id,
        customer_id: m.customer_id,
        read_at: m.read_at,
        created_at: m.created_at,
    })
}

/// # Errors
/// Database failures.
pub async fn insert(db: &impl Conn, n: &Notification) -> Result<(), StoreError> {
    Entity::insert(notification::ActiveModel {
        id: Set(n.id),
        user_id: Set(n.user_id),
        kind: Set(n.kind.as_str().to_owned()),
        title: Set(n.title.to_string()),
        ticket_id: Set(n.ticket_id),
        customer_id: Set(n.customer_id),
        read_at: Set(n.read_at),
        created_at: Set(n.created_at),
    })
    .exec_without_returning(db)
    .await?;
    Ok(())
}

/// A user's notifications: unread ones first, each part newest first. The cursor holds the
/// part (`0` unread, `1` read) and the last row's time.
///
/// # Errors
/// Database failures.
pub async fn of_user(
    db: &impl Conn,
    user_id: Uuid,
    after: Option<Cursor>,
    limit: u64,
) -> Result<Page<Notification>, StoreError> {
    let (from, bound) = match after {
        Some(Cursor {
            value: SortValue::Ranked(part, micros),
            id,
        }) => (
            part,
            DateTime::from_timestamp_micros(micros).map(|t| (t, id)),
        ),
        _ => (0, None),
    };
    let mut found: Vec<(u8, Notification)> = Vec::new();
    for part in from..=1 {
        let mut select = Entity::find()
            .filter(Column::UserId.eq(user_id))
            .filter(if part == 0 {
                Column::ReadAt.is_null()
            } else {
                Column::ReadAt.is_not_null()
            });
        if let Some((time, id)) = bound.filter(|_| part == from) {
            let row = Expr::tuple([
                Expr::col(Column::CreatedAt).into(),
                Expr::col(Column::Id).into(),
            ]);
            select = select.filter(row.lt(Expr::tuple([Expr::value(time), Expr::value(id)])));
        }
        let wanted = limit + 1 - found.len() as u64;
        let rows = select
            .order_by_desc(Column::CreatedAt)
            .order_by_desc(Column::Id)
            .limit(wanted)
            .all(db)
            .await?;
        for row in rows {
            found.push((part, to_domain(row)?));
        }
        if found.len() as u64 > limit {
            break;
        }
    }
    let page = Page::from_rows(found, limit, |(part, n)| Cursor {
        value: SortValue::Ranked(*part, n.created_at.timestamp_micros()),
        id: n.id,
    });
    Ok(page.map(|(_, n)| n))
}

/// Marks a notification of `user_id` read (once: a second call keeps the first time).
///
/// # Errors
/// `NotFound` when the user has no such notification.
pub async fn mark_read(
    db: &impl Conn,
    user_id: Uuid,
    id: Uuid,
    now: DateTime<Utc>,
) -> Result<Notification, StoreError> {
    Entity::update_many()
        .col_expr(Column::ReadAt, Expr::value(now))
        .filter(Column::Id.eq(id))
        .filter(Column::UserId.eq(user_id))
        .filter(Column::ReadAt.is_null())
        .exec(db)
        .await?;
    let row = Entity::find()
        .filter(Column::Id.eq(id))
        .filter(Column::UserId.eq(user_id))
        .one(db)
        .await?
        .ok_or(StoreError::NotFound)?;
    to_domain(row)
}

/// Deletes notifications read before `before`; unread ones stay, however old.
///
/// # Errors
/// Database failures.
pub async fn purge_read(db: &impl Conn, before: DateTime<Utc>) -> Result<u64, StoreError> {
    let result = Entity::delete_many()
        .filter(Column::ReadAt.lt(before))
        .exec(db)
        .await?;
    Ok(result.rows_affected)
}

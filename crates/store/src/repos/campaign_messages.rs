//! The messages of email campaigns: one per member and campaign, found by the hash of its
//! public token; opens, clicks and unsubscribes are counted by single UPDATE statements, so
//! that concurrent requests never lose a count.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use rapport_domain::campaign_email::{CampaignMessage, EmailCounts, MessageStatus};
use sea_orm::sea_query::{Expr, Func, OnConflict, SimpleExpr};
use sea_orm::{
    ActiveValue::Set, ColumnTrait, EntityTrait, FromQueryResult, QueryFilter, QuerySelect,
};
use uuid::Uuid;

use crate::entities::campaign_message::{self, Column, Entity};
use crate::repos::parse_column;
use crate::{Conn, StoreError};

fn to_domain(m: campaign_message::Model) -> Result<CampaignMessage, StoreError> {
    Ok(CampaignMessage {
        id: m.id,
        campaign_id: m.campaign_id,
        member_id: m.member_id,
        status: parse_column("campaign_messages.status", &m.status, MessageStatus::parse)?,
        sent_at: m.sent_at,
        bounced_at: m.bounced_at,
        opened_at: m.opened_at,
        open_count: m.open_count,
        clicked_at: m.clicked_at,
        click_count: m.click_count,
        unsubscribed_at: m.unsubscribed_at,
        created_at: m.created_at,
        updated_at: m.updated_at,
    })
}

/// Adds a message unless its member has one in the campaign already; answers whether it was
/// added.
///
/// # Errors
/// Database failures.
pub async fn insert(db: &impl Conn, m: &CampaignMessage) -> Result<bool, StoreError> {
    let added = Entity::insert(campaign_message::ActiveModel {
        id: Set(m.id),
        campaign_id: Set(m.campaign_id),
        member_id: Set(m.member_id),
        token_hash: Set(None),
        status: Set(m.status.as_str().to_owned()),
        sent_at: Set(m.sent_at),
        bounced_at: Set(m.bounced_at),
        opened_at: Set(m.opened_at),
        open_count: Set(m.open_count),
        clicked_at: Set(m.clicked_at),
        click_count: Set(m.click_count),
        unsubscribed_at: Set(m.unsubscribed_at),
        created_at: Set(m.created_at),
        updated_at: Set(m.updated_at),
    })
    .on_conflict(
        OnConflict::columns([Column::CampaignId, Column::MemberId])
            .do_nothing()
            .to_owned(),
    )
    .exec_without_returning(db)
    .await?;
    Ok(added > 0)
}

/// # Errors
/// `NotFound` when there is none.
pub async fn get(db: &impl Conn, id: Uuid) -> Result<CampaignMessage, StoreError> {
    let row = Entity::find_by_id(id)
        .one(db)
        .await?
        .ok_or(StoreError::NotFound)?;
    to_domain(row)
}

/// The message whose token hashes to `token_hash`.
///
/// # Errors
/// `NotFound` when there is none.
pub async fn by_token(db: &impl Conn, token_hash: &str) -> Result<CampaignMessage, StoreError> {
    let row = Entity::find()
        .filter(Column::TokenHash.eq(token_hash))
        .one(db)
        .await?
        .ok_or(StoreError::NotFound)?;
    to_domain(row)
}

/// The messages of `member_ids` in campaign `campaign_id`, by member.
///
/// # Errors
/// Database failures.
pub async fn of_members(
    db: &impl Conn,
    campaign_id: Uuid,
    member_ids: &[Uuid],
) -> Result<HashMap<Uuid, CampaignMessage>, StoreError> {
    let mut out = HashMap::new();
    for chunk in member_ids.chunks(500) {
        let rows = Entity::find()
            .filter(Column::CampaignId.eq(campaign_id))
            .filter(Column::MemberId.is_in(chunk.iter().copied()))
            .all(db)
            .await?;
        for row in rows {
            let m = to_domain(row)?;
            out.insert(m.member_id, m);
        }
    }
    Ok(out)
}

async fn update(
    db: &impl Conn,
    id: Uuid,
    now: DateTime<Utc>,
    columns: Vec<(Column, SimpleExpr)>,
) -> Result<(), StoreError> {
    let mut update = Entity::update_many()
        .col_expr(Column::UpdatedAt, Expr::value(now))
        .filter(Column::Id.eq(id));
    for (column, value) in columns {
        update = update.col_expr(column, value);
    }
    if update.exec(db).await?.rows_affected == 0 {
        return Err(StoreError::NotFound);
    }
    Ok(())
}

/// Gives the message the hash of a new token (the one its email is about to carry).
///
/// # Errors
/// `NotFound` when there is no such message.
pub async fn set_token(
    db: &impl Conn,
    id: Uuid,
    token_hash: String,
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    update(
        db,
        id,
        now,
        vec![(Column::TokenHash, Expr::value(token_hash))],
    )
    .await
}

/// Records that the SMTP server took the message (`sent`) or refused it for good (`bounced`).
///
/// # Errors
/// `NotFound` when there is no such message.
pub async fn mark(
    db: &impl Conn,
    id: Uuid,
    status: MessageStatus,
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    let at = match status {
        MessageStatus::Sent => Column::SentAt,
        MessageStatus::Bounced => Column::BouncedAt,
        MessageStatus::Queued => return Err(StoreError::NotFound),
    };
    update(
        db,
        id,
        now,
        vec![
            (Column::Status, Expr::value(status.as_str())),
            (at, Expr::value(now)),
        ],
    )
    .await
}

/// `column`, or `now` when it is null.
fn first(column: Column, now: DateTime<Utc>) -> SimpleExpr {
    Func::coalesce([Expr::col(column).into(), Expr::value(now)]).into()
}

/// Counts an open: the first sets `opened_at`.
///
/// # Errors
/// `NotFound` when there is no such message.
pub async fn count_open(db: &impl Conn, id: Uuid, now: DateTime<Utc>) -> Result<(), StoreError> {
    update(
        db,
        id,
        now,
        vec![
            (Column::OpenedAt, first(Column::OpenedAt, now)),
            (Column::OpenCount, Expr::col(Column::OpenCount).add(1)),
        ],
    )
    .await
}

/// Counts a click, and an open when none was counted yet (images are often blocked).
///
/// # Errors
/// `NotFound` when there is no such message.
pub async fn count_click(db: &impl Conn, id: Uuid, now: DateTime<Utc>) -> Result<(), StoreError> {
    let opens = Expr::cust("CASE WHEN opened_at IS NULL THEN open_count + 1 ELSE open_count END");
    update(
        db,
        id,
        now,
        vec![
            (Column::OpenedAt, first(Column::OpenedAt, now)),
            (Column::OpenCount, opens),
            (Column::ClickedAt, first(Column::ClickedAt, now)),
            (Column::ClickCount, Expr::col(Column::ClickCount).add(1)),
        ],
    )
    .await
}

/// Records the unsubscribe (the first one's time is kept).
///
/// # Errors
/// `NotFound` when there is no such message.
pub async fn count_unsubscribe(
    db: &impl Conn,
    id: Uuid,
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    update(
        db,
        id,
        now,
        vec![(Column::UnsubscribedAt, first(Column::UnsubscribedAt, now))],
    )
    .await
}

#[derive(Debug, FromQueryResult)]
struct CountsRow {
    messages: i64,
    queued: i64,
    sent: i64,
    bounced: i64,
    opened: i64,
    clicked: i64,
    unsubscribed: i64,
    opens: i64,
    clicks: i64,
}

/// What the messages of campaign `campaign_id` came to.
///
/// # Errors
/// Database failures.
pub async fn counts(db: &impl Conn, campaign_id: Uuid) -> Result<EmailCounts, StoreError> {
    let sum = |condition: &str| {
        Expr::cust(format!(
            "COALESCE(SUM(CASE WHEN {condition} THEN 1 ELSE 0 END), 0)"
        ))
    };
    let row = Entity::find()
        .select_only()
        .column_as(Expr::cust("COUNT(*)"), "messages")
        .column_as(sum("status = 'queued'"), "queued")
        .column_as(sum("status = 'sent'"), "sent")
        .column_as(sum("status = 'bounced'"), "bounced")
        .column_as(sum("opened_at IS NOT NULL"), "opened")
        .column_as(sum("clicked_at IS NOT NULL"), "clicked")
        .column_as(sum("unsubscribed_at IS NOT NULL"), "unsubscribed")
        .column_as(Expr::cust("COALESCE(SUM(open_count), 0)"), "opens")
        .column_as(Expr::cust("COALESCE(SUM(click_count), 0)"), "clicks")
        .filter(Column::CampaignId.eq(campaign_id))
        .into_model::<CountsRow>()
        .one(db)
        .await?
        .ok_or(StoreError::NotFound)?;
    let n = |v: i64| u64::try_from(v).unwrap_or(0);
    Ok(EmailCounts {
        messages: n(row.messages),
        queued: n(row.queued),
        sent: n(row.sent),
        bounced: n(row.bounced),
        opened: n(row.opened),
        clicked: n(row.clicked),
        unsubscribed: n(row.unsubscribed),
        opens: n(row.opens),
        clicks: n(row.clicks),
    })
}

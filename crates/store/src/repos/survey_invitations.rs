//! Survey invitations. The token is never stored: only its SHA-256 (to find the invitation a
//! public request names) and, until its email is sent, a sealed copy for the mailer.

use chrono::{DateTime, Utc};
use rapport_domain::access::Visibility;
use rapport_domain::enums::Grade;
use rapport_domain::survey::{Answer, Invitation, InvitationOrigin, InvitationStatus};
use rapport_domain::ticket::{TicketCategory, TicketChannel};
use sea_orm::sea_query::{Expr, OnConflict};
use sea_orm::{
    ActiveValue::Set, ColumnTrait, Condition, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder,
    QuerySelect,
};
use uuid::Uuid;

use crate::entities::survey_invitation::{self, Column, Entity};
use crate::page::{Changes, Cursor, Page, SortDir, SortValue, keyset, list_cursor, list_order};
use crate::repos::record::{self, record};
use crate::repos::{corrupt, customer_visible, parse_column, parse_optional};
use crate::{Conn, StoreError, crypto};

fn to_domain(m: survey_invitation::Model) -> Result<Invitation, StoreError> {
    Ok(Invitation {
        id: m.id,
        survey_id: m.survey_id,
        contact_id: m.contact_id,
        customer_id: m.customer_id,
        ticket_id: m.ticket_id,
        opportunity_id: m.opportunity_id,
        order_id: m.order_id,
        origin: parse_column(
            "survey_invitations.origin",
            &m.origin,
            InvitationOrigin::parse,
        )?,
        trigger_key: m.trigger_key,
        trigger_id: m.trigger_id,
        status: parse_column(
            "survey_invitations.status",
            &m.status,
            InvitationStatus::parse,
        )?,
        expires_at: m.expires_at,
        opened_at: m.opened_at,
        answered_at: m.answered_at,
        emailed_at: m.emailed_at,
        follow_up_ticket_id: m.follow_up_ticket_id,
        answers: m
            .answers
            .map(serde_json::from_value::<Vec<Answer>>)
            .transpose()
            .map_err(|e| corrupt("survey_invitations.answers", e))?,
        agent_id: m.agent_id,
        team_id: m.team_id,
        channel: parse_optional(
            "survey_invitations.channel",
            m.channel.as_deref(),
            TicketChannel::parse,
        )?,
        category: parse_optional(
            "survey_invitations.category",
            m.category.as_deref(),
            TicketCategory::parse,
        )?,
        grade: parse_optional("survey_invitations.grade", m.grade.as_deref(), Grade::parse)?,
        created_at: m.created_at,
        updated_at: m.updated_at,
        version: m.version,
    })
}

/// The record's columns; the token's hash and sealed copy are kept beside it, never saved.
fn to_active(i: &Invitation) -> Result<survey_invitation::ActiveModel, StoreError> {
    let answers = i
        .answers
        .as_ref()
        .map(serde_json::to_value)
        .transpose()
        .map_err(|e| corrupt("survey_invitations.answers", e))?;
    Ok(survey_invitation::ActiveModel {
        id: Set(i.id),
        survey_id: Set(i.survey_id),
        contact_id: Set(i.contact_id),
        customer_id: Set(i.customer_id),
        ticket_id: Set(i.ticket_id),
        opportunity_id: Set(i.opportunity_id),
        order_id: Set(i.order_id),
        origin: Set(i.origin.as_str().to_owned()),
        trigger_id: Set(i.trigger_id),
        trigger_key: Set(i.trigger_key.clone()),
        status: Set(i.status.as_str().to_owned()),
        expires_at: Set(i.expires_at),
        opened_at: Set(i.opened_at),
        answered_at: Set(i.answered_at),
        emailed_at: Set(i.emailed_at),
        follow_up_ticket_id: Set(i.follow_up_ticket_id),
        answers: Set(answers),
        agent_id: Set(i.agent_id),
        team_id: Set(i.team_id),
        channel: Set(i.channel.map(|c| c.as_str().to_owned())),
        category: Set(i.category.map(|c| c.as_str().to_owned())),
        grade: Set(i.grade.map(|g| g.as_str().to_owned())),
        created_at: Set(i.created_at),
        updated_at: Set(i.updated_at),
        version: Set(i.version),
        ..Default::default()
    })
}

record!(Invitation, Entity, to_active: to_active, from_model: to_domain);

/// Inserts `inv` with its token's hash (and, when an email will carry it, the sealed token);
/// `false` when its trigger already invited for its key (nothing is written then).
///
/// # Errors
/// Database failures.
pub async fn insert(
    db: &impl Conn,
    inv: &Invitation,
    token_hash: String,
    token_sealed: Option<String>,
) -> Result<bool, StoreError> {
    let mut row = to_active(inv)?;
    row.token_hash = Set(token_hash);
    row.token_sealed = Set(token_sealed);
    let inserted = Entity::insert(row)
        .on_conflict(
            OnConflict::columns([Column::TriggerId, Column::TriggerKey])
                .do_nothing()
                .to_owned(),
        )
        .exec_without_returning(db)
        .await?;
    Ok(inserted > 0)
}

/// # Errors
/// `NotFound` when there is no such invitation.
pub async fn get(db: &impl Conn, id: Uuid) -> Result<Invitation, StoreError> {
    record::get(db, id).await
}

/// The invitation whose token hashes to `token_hash`.
///
/// # Errors
/// `NotFound` when there is none.
pub async fn id_by_token(db: &impl Conn, token_hash: &str) -> Result<Uuid, StoreError> {
    Entity::find()
        .select_only()
        .column(Column::Id)
        .filter(Column::TokenHash.eq(token_hash))
        .into_tuple()
        .one(db)
        .await?
        .ok_or(StoreError::NotFound)
}

/// When the contact was last invited, by any survey.
///
/// # Errors
/// Database failures.
pub async fn last_invited_at(
    db: &impl Conn,
    contact_id: Uuid,
) -> Result<Option<DateTime<Utc>>, StoreError> {
    Ok(Entity::find()
        .select_only()
        .column(Column::CreatedAt)
        .filter(Column::ContactId.eq(contact_id))
        .order_by_desc(Column::CreatedAt)
        .limit(1)
        .into_tuple()
        .one(db)
        .await?)
}

/// The condition "its status at `now` is `status`" ([`Invitation::status_at`]).
fn status_is(status: InvitationStatus, now: DateTime<Utc>) -> Condition {
    let waiting = || {
        Column::Status.is_in([
            InvitationStatus::Sent.as_str(),
            InvitationStatus::Opened.as_str(),
        ])
    };
    match status {
        InvitationStatus::Expired => Condition::any()
            .add(Column::Status.eq(InvitationStatus::Expired.as_str()))
            .add(
                Condition::all()
                    .add(waiting())
                    .add(Column::ExpiresAt.lte(now)),
            ),
        InvitationStatus::Answered => Condition::all().add(Column::Status.eq(status.as_str())),
        waiting => Condition::all()
            .add(Column::Status.eq(waiting.as_str()))
            .add(Column::ExpiresAt.gt(now)),
    }
}

/// A survey's invitations to live customers the caller sees, newest first.
///
/// # Errors
/// Database failures.
pub async fn list(
    db: &impl Conn,
    visibility: Visibility,
    survey_id: Uuid,
    status: Option<(InvitationStatus, DateTime<Utc>)>,
    changes: Option<Changes>,
    after: Option<Cursor>,
    limit: u64,
) -> Result<Page<Invitation>, StoreError> {
    let mut select = Entity::find()
        .filter(Column::SurveyId.eq(survey_id))
        .filter(customer_visible(Column::CustomerId, visibility));
    if let Some((status, now)) = status {
        select = select.filter(status_is(status, now));
    }
    let own = (Column::CreatedAt, SortDir::Desc);
    let select = list_order(
        select,
        changes,
        own,
        Column::UpdatedAt,
        Column::Id,
        after,
        limit,
    );
    let rows = select.all(db).await?;
    Page::from_models(rows, limit, to_domain, |i| {
        list_cursor(changes, i.updated_at, SortValue::Time(i.created_at), i.id)
    })
}

/// What results count: one survey or all, customers the caller sees, a time range.
#[derive(Debug, Clone, Copy)]
pub struct ResultScope {
    pub survey_id: Option<Uuid>,
    pub visibility: Visibility,
    pub from: Option<DateTime<Utc>>,
    pub to: Option<DateTime<Utc>>,
}

impl ResultScope {
    pub(crate) fn select(&self, time: Column) -> sea_orm::Select<Entity> {
        let mut select =
            Entity::find().filter(customer_visible(Column::CustomerId, self.visibility));
        if let Some(id) = self.survey_id {
            select = select.filter(Column::SurveyId.eq(id));
        }
        if let Some(from) = self.from {
            select = select.filter(time.gte(from));
        }
        if let Some(to) = self.to {
            select = select.filter(time.lt(to));
        }
        select
    }
}

/// How many invitations were sent within the scope, and how many of those are answered.
///
/// # Errors
/// Database failures.
pub async fn invited(db: &impl Conn, scope: &ResultScope) -> Result<(u64, u64), StoreError> {
    let sent = scope.select(Column::CreatedAt).count(db).await?;
    let answered = scope
        .select(Column::CreatedAt)
        .filter(Column::Status.eq(InvitationStatus::Answered.as_str()))
        .count(db)
        .await?;
    Ok((sent, answered))
}

/// All invitations of some customers (exports, timelines), oldest first.
///
/// # Errors
/// Database failures.
pub async fn of_customers(
    db: &impl Conn,
    customer_ids: &[Uuid],
) -> Result<Vec<Invitation>, StoreError> {
    Entity::find()
        .filter(Column::CustomerId.is_in(customer_ids.iter().copied()))
        .order_by_asc(Column::Id)
        .all(db)
        .await?
        .into_iter()
        .map(to_domain)
        .collect()
}

/// A customer's invitations for its timeline: newest first, after the cursor.
///
/// # Errors
/// Database failures.
pub async fn of_customer(
    db: &impl Conn,
    customer_id: Uuid,
    after: Option<Cursor>,
    limit: u64,
) -> Result<Page<Invitation>, StoreError> {
    let rows = keyset(
        Entity::find().filter(Column::CustomerId.eq(customer_id)),
        Column::CreatedAt,
        Column::Id,
        SortDir::Desc,
        after,
        limit,
    )
    .all(db)
    .await?;
    Page::from_models(rows, limit, to_domain, |i| Cursor {
        value: SortValue::Time(i.created_at),
        id: i.id,
    })
}

/// Erasure: the customer's invitations still open are expired (the link in the person's inbox
/// stops working), their free-text answers removed, and any token still sealed for an email
/// dropped; each changed invitation gets a new version. The caller holds the customer's lock.
///
/// # Errors
/// Database failures.
pub async fn erase_text(
    db: &impl Conn,
    customer_id: Uuid,
    now: DateTime<Utc>,
) -> Result<u64, StoreError> {
    Entity::update_many()
        .col_expr(Column::TokenSealed, Expr::value(Option::<String>::None))
        .filter(Column::CustomerId.eq(customer_id))
        .exec(db)
        .await?;
    let changed: Vec<Invitation> = of_customers(db, &[customer_id])
        .await?
        .into_iter()
        .filter_map(|i| {
            let mut erased = i.clone();
            erased.erase_text();
            erased.close(now);
            (erased != i).then_some(erased)
        })
        .collect();
    crate::repos::save_each(db, &changed, Clone::clone, now).await
}

/// Seals every token kept for an email under the current key (`rapport rotate-key`).
///
/// # Errors
/// Database failures, or a token sealed under a key that is not configured.
pub async fn reseal(db: &impl Conn) -> Result<u64, StoreError> {
    let sealed: Vec<(Uuid, String)> = Entity::find()
        .select_only()
        .column(Column::Id)
        .column(Column::TokenSealed)
        .filter(Column::TokenSealed.is_not_null())
        .into_tuple()
        .all(db)
        .await?;
    let mut resealed = 0;
    for (id, token) in sealed {
        if crypto::is_current(&token)? {
            continue;
        }
        Entity::update_many()
            .col_expr(
                Column::TokenSealed,
                Expr::value(crypto::seal(&crypto::open(&token)?)?),
            )
            .filter(Column::Id.eq(id))
            .exec(db)
            .await?;
        resealed += 1;
    }
    Ok(resealed)
}

/// The sealed token of an invitation whose email is not sent yet.
///
/// # Errors
/// `NotFound` when there is no such invitation.
pub async fn sealed_token(db: &impl Conn, id: Uuid) -> Result<Option<String>, StoreError> {
    Entity::find()
        .select_only()
        .column(Column::TokenSealed)
        .filter(Column::Id.eq(id))
        .into_tuple()
        .one(db)
        .await?
        .ok_or(StoreError::NotFound)
}

/// Its email went: `emailed_at` set and the sealed token dropped.
///
/// # Errors
/// Database failures.
pub async fn mark_emailed(db: &impl Conn, id: Uuid, now: DateTime<Utc>) -> Result<(), StoreError> {
    Entity::update_many()
        .col_expr(Column::EmailedAt, Expr::value(now))
        .col_expr(Column::TokenSealed, Expr::value(Option::<String>::None))
        .col_expr(Column::Version, Expr::col(Column::Version).add(1))
        .col_expr(Column::UpdatedAt, Expr::value(now))
        .filter(Column::Id.eq(id))
        .exec(db)
        .await?;
    Ok(())
}

/// Drops the sealed tokens of invitations that expired before their email went (no mail
/// server, or it kept failing): the link could no longer be used, so the token is kept for
/// nothing. Answers how many were dropped.
///
/// # Errors
/// Database failures.
pub async fn forget_expired_tokens(db: &impl Conn, now: DateTime<Utc>) -> Result<u64, StoreError> {
    let result = Entity::update_many()
        .col_expr(Column::TokenSealed, Expr::value(Option::<String>::None))
        .filter(Column::TokenSealed.is_not_null())
        .filter(Column::ExpiresAt.lt(now))
        .exec(db)
        .await?;
    Ok(result.rows_affected)
}

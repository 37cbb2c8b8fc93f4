//! Service tickets and their comments.

use chrono::{DateTime, Utc};
use rapport_domain::access::Visibility;
use rapport_domain::name::Title;
use rapport_domain::ticket::{
    Ticket, TicketCategory, TicketChannel, TicketComment, TicketPriority, TicketStatus, TicketText,
    TicketView,
};
use sea_orm::{ActiveValue::Set, ColumnTrait, Condition, EntityTrait, QueryFilter};
use uuid::Uuid;

use crate::entities::ticket::{self, Column, Entity};
use crate::entities::ticket_comment;
use crate::page::{Cursor, Page, SortDir, SortValue, keyset};
use crate::repos::record::{self, record};
use crate::repos::{corrupt, customer_visible, parse_column, parse_optional};
use crate::{Conn, StoreError};

fn to_domain(m: ticket::Model) -> Result<Ticket, StoreError> {
    Ok(Ticket {
        id: m.id,
        customer_id: m.customer_id,
        contact_id: m.contact_id,
        subject: parse_column("tickets.subject", &m.subject, Title::parse)?,
        description: parse_optional(
            "tickets.description",
            m.description.as_deref(),
            TicketText::parse,
        )?,
        channel: parse_column("tickets.channel", &m.channel, TicketChannel::parse)?,
        category: parse_column("tickets.category", &m.category, TicketCategory::parse)?,
        priority: parse_column("tickets.priority", &m.priority, TicketPriority::parse)?,
        status: parse_column("tickets.status", &m.status, TicketStatus::parse)?,
        assignee_id: m.assignee_id,
        team_id: m.team_id,
        tags: serde_json::from_value(m.tags).map_err(|e| corrupt("tickets.tags", e))?,
        first_responded_at: m.first_responded_at,
        resolved_at: m.resolved_at,
        closed_at: m.closed_at,
        sla_policy_id: m.sla_policy_id,
        first_response_due_at: m.first_response_due_at,
        resolution_due_at: m.resolution_due_at,
        paused_at: m.paused_at,
        paused_minutes: m.paused_minutes,
        first_response_breached_at: m.first_response_breached_at,
        resolution_breached_at: m.resolution_breached_at,
        reminded_at: m.reminded_at,
        created_by: m.created_by,
        created_at: m.created_at,
        updated_at: m.updated_at,
        version: m.version,
    })
}

fn to_active(t: &Ticket) -> ticket::ActiveModel {
    ticket::ActiveModel {
        id: Set(t.id),
        customer_id: Set(t.customer_id),
        contact_id: Set(t.contact_id),
        subject: Set(t.subject.to_string()),
        description: Set(t.description.as_ref().map(ToString::to_string)),
        channel: Set(t.channel.as_str().to_owned()),
        category: Set(t.category.as_str().to_owned()),
        priority: Set(t.priority.as_str().to_owned()),
        status: Set(t.status.as_str().to_owned()),
        assignee_id: Set(t.assignee_id),
        team_id: Set(t.team_id),
        tags: Set(serde_json::Value::from(
            t.tags.iter().map(|tag| tag.as_str()).collect::<Vec<_>>(),
        )),
        first_responded_at: Set(t.first_responded_at),
        resolved_at: Set(t.resolved_at),
        closed_at: Set(t.closed_at),
        sla_policy_id: Set(t.sla_policy_id),
        first_response_due_at: Set(t.first_response_due_at),
        resolution_due_at: Set(t.resolution_due_at),
        paused_at: Set(t.paused_at),
        paused_minutes: Set(t.paused_minutes),
        first_response_breached_at: Set(t.first_response_breached_at),
        resolution_breached_at: Set(t.resolution_breached_at),
        reminded_at: Set(t.reminded_at),
        created_by: Set(t.created_by),
        created_at: Set(t.created_at),
        updated_at: Set(t.updated_at),
        version: Set(t.version),
    }
}

record!(Ticket, Entity, to_active: |t| Ok(to_active(t)), from_model: to_domain);

/// # Errors
/// Database failures.
pub async fn insert(db: &impl Conn, ticket: &Ticket) -> Result<(), StoreError> {
    Entity::insert(to_active(ticket))
        .exec_without_returning(db)
        .await?;
    Ok(())
}

/// # Errors
/// `NotFound` when there is no such ticket.
pub async fn get(db: &impl Conn, id: Uuid) -> Result<Ticket, StoreError> {
    record::get(db, id).await
}

/// Filters of the ticket list.
#[derive(Debug, Clone, Default)]
pub struct TicketFilter {
    pub status: Option<TicketStatus>,
    pub priority: Option<TicketPriority>,
    pub category: Option<TicketCategory>,
    pub assignee_id: Option<Uuid>,
    pub team_id: Option<Uuid>,
    pub customer_id: Option<Uuid>,
    /// Changed within these times, both ends included (the change feed).
    pub updated_from: Option<DateTime<Utc>>,
    pub updated_to: Option<DateTime<Utc>>,
}

pub(crate) fn viewed(view: TicketView) -> Condition {
    let live = customer_visible(Column::CustomerId, Visibility::All);
    match view {
        TicketView::All => Condition::all().add(live),
        TicketView::Agent { me, team } => {
            let mine = Condition::any().add(Column::AssigneeId.eq(me)).add(
                team.map_or(Condition::any(), |t| {
                    Condition::all().add(Column::TeamId.eq(t))
                }),
            );
            Condition::all().add(live).add(mine)
        }
    }
}

/// The orders of the ticket list.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum TicketSort {
    /// Newest first.
    #[default]
    Newest,
    /// The agents' queue: the soonest resolution due time first (tickets without one are left
    /// out).
    ResolutionDue,
    /// The change feed: the oldest change first.
    Updated,
}

/// Tickets of live customers that `view` shows, in `sort` order.
///
/// # Errors
/// Database failures.
pub async fn list(
    db: &impl Conn,
    view: TicketView,
    filter: &TicketFilter,
    sort: TicketSort,
    after: Option<Cursor>,
    limit: u64,
) -> Result<Page<Ticket>, StoreError> {
    let mut select = Entity::find().filter(viewed(view));
    if let Some(status) = filter.status {
        select = select.filter(Column::Status.eq(status.as_str()));
    }
    if let Some(priority) = filter.priority {
        select = select.filter(Column::Priority.eq(priority.as_str()));
    }
    if let Some(category) = filter.category {
        select = select.filter(Column::Category.eq(category.as_str()));
    }
    if let Some(id) = filter.assignee_id {
        select = select.filter(Column::AssigneeId.eq(id));
    }
    if let Some(id) = filter.team_id {
        select = select.filter(Column::TeamId.eq(id));
    }
    if let Some(id) = filter.customer_id {
        select = select.filter(Column::CustomerId.eq(id));
    }
    if let Some(t) = filter.updated_from {
        select = select.filter(Column::UpdatedAt.gte(t));
    }
    if let Some(t) = filter.updated_to {
        select = select.filter(Column::UpdatedAt.lte(t));
    }
    let (column, dir) = match sort {
        TicketSort::Newest => (Column::CreatedAt, SortDir::Desc),
        TicketSort::ResolutionDue => {
            select = select.filter(Column::ResolutionDueAt.is_not_null());
            (Column::ResolutionDueAt, SortDir::Asc)
        }
        TicketSort::Updated => (Column::UpdatedAt, SortDir::Asc),
    };
    let rows = keyset(select, column, Column::Id, dir, after, limit)
        .all(db)
        .await?;
    Page::from_models(rows, limit, to_domain, |t| Cursor {
        value: SortValue::Time(match sort {
            TicketSort::Newest => t.created_at,
            TicketSort::ResolutionDue => t.resolution_due_at.unwrap_or(t.created_at),
            TicketSort::Updated => t.updated_at,
        }),
        id: t.id,
    })
}

fn comment_to_domain(m: ticket_comment::Model) -> Result<TicketComment, StoreError> {
    Ok(TicketComment {
        id: m.id,
        ticket_id: m.ticket_id,
        body: parse_column("ticket_comments.body", &m.body, TicketText::parse)?,
        public: m.public,
        author_id: m.author_id,
        created_at: m.created_at,
    })
}

/// # Errors
/// Database failures.
pub async fn insert_comment(db: &impl Conn, comment: &TicketComment) -> Result<(), StoreError> {
    ticket_comment::Entity::insert(ticket_comment::ActiveModel {
        id: Set(comment.id),
        ticket_id: Set(comment.ticket_id),
        body: Set(comment.body.to_string()),
        public: Set(comment.public),
        author_id: Set(comment.author_id),
        created_at: Set(comment.created_at),
    })
    .exec_without_returning(db)
    .await?;
    Ok(())
}

/// A ticket's comments, oldest first (a conversation reads down).
///
/// # Errors
/// Database failures.
pub async fn comments(
    db: &impl Conn,
    ticket_id: Uuid,
    after: Option<Cursor>,
    limit: u64,
) -> Result<Page<TicketComment>, StoreError> {
    use ticket_comment::Column as C;
    let select = ticket_comment::Entity::find().filter(C::TicketId.eq(ticket_id));
    let rows = keyset(select, C::Id, C::Id, SortDir::Asc, after, limit)
        .all(db)
        .await?;
    Page::from_models(rows, limit, comment_to_domain, |c| Cursor {
        value: SortValue::Id,
        id: c.id,
    })
}

/// All tickets of some customers (exports).
///
/// # Errors
/// Database failures.
pub async fn of_customers(
    db: &impl Conn,
    customer_ids: &[Uuid],
) -> Result<Vec<Ticket>, StoreError> {
    let rows = Entity::find()
        .filter(Column::CustomerId.is_in(customer_ids.iter().copied()))
        .all(db)
        .await?;
    rows.into_iter().map(to_domain).collect()
}

/// All comments on the tickets of some customers, oldest first (exports).
///
/// # Errors
/// Database failures.
pub async fn comments_of_customers(
    db: &impl Conn,
    customer_ids: &[Uuid],
) -> Result<Vec<TicketComment>, StoreError> {
    use sea_orm::{QueryOrder, QuerySelect, QueryTrait};
    use ticket_comment::Column as C;
    let tickets = Entity::find()
        .select_only()
        .column(Column::Id)
        .filter(Column::CustomerId.is_in(customer_ids.iter().copied()))
        .into_query();
    let rows = ticket_comment::Entity::find()
        .filter(C::TicketId.in_subquery(tickets))
        .order_by_asc(C::Id)
        .all(db)
        .await?;
    rows.into_iter().map(comment_to_domain).collect()
}

/// Replaces the text of a customer's tickets and their comments with the erasure tombstone;
/// categories, priorities and times stay for reports.
///
/// # Errors
/// Database failures.
pub async fn erase_text(
    db: &impl Conn,
    customer_id: Uuid,
    tombstone: &str,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<u64, StoreError> {
    use sea_orm::sea_query::Expr;
    use sea_orm::{QuerySelect, QueryTrait};
    use ticket_comment::Column as C;
    let tickets = Entity::find()
        .select_only()
        .column(Column::Id)
        .filter(Column::CustomerId.eq(customer_id))
        .into_query();
    ticket_comment::Entity::update_many()
        .col_expr(C::Body, Expr::value(tombstone))
        .filter(C::TicketId.in_subquery(tickets))
        .exec(db)
        .await?;
    let result = Entity::update_many()
        .col_expr(Column::Subject, Expr::value(tombstone))
        .col_expr(Column::Description, Expr::value(Option::<String>::None))
        .col_expr(Column::UpdatedAt, Expr::value(now))
        .col_expr(Column::Version, Expr::col(Column::Version).add(1))
        .filter(Column::CustomerId.eq(customer_id))
        .exec(db)
        .await?;
    Ok(result.rows_affected)
}

/// Up to `limit` tickets of live customers that have missed a target at `now` not yet
/// recorded (see `Ticket::missed`), oldest due first.
///
/// # Errors
/// Database failures.
pub async fn missing_targets(
    db: &impl Conn,
    now: chrono::DateTime<chrono::Utc>,
    limit: u64,
) -> Result<Vec<Ticket>, StoreError> {
    use sea_orm::{QueryOrder, QuerySelect};
    let active = Column::Status.is_not_in([
        TicketStatus::Resolved.as_str(),
        TicketStatus::Closed.as_str(),
    ]);
    let first = Condition::all()
        .add(Column::FirstRespondedAt.is_null())
        .add(Column::FirstResponseBreachedAt.is_null())
        .add(Column::FirstResponseDueAt.lt(now));
    let resolution = Condition::all()
        .add(Column::PausedAt.is_null())
        .add(Column::ResolutionBreachedAt.is_null())
        .add(Column::ResolutionDueAt.lt(now));
    let rows = Entity::find()
        .filter(customer_visible(Column::CustomerId, Visibility::All))
        .filter(active)
        .filter(Condition::any().add(first).add(resolution))
        .order_by_asc(Column::CreatedAt)
        .limit(limit)
        .all(db)
        .await?;
    rows.into_iter().map(to_domain).collect()
}

/// Up to `limit` assigned tickets of live customers whose resolution falls due between `now`
/// and `until` and whose assignee was not reminded yet (see `Ticket::reminder_due`).
///
/// # Errors
/// Database failures.
pub async fn due_soon(
    db: &impl Conn,
    now: chrono::DateTime<chrono::Utc>,
    until: chrono::DateTime<chrono::Utc>,
    limit: u64,
) -> Result<Vec<Ticket>, StoreError> {
    use sea_orm::{QueryOrder, QuerySelect};
    let done = [
        TicketStatus::Resolved.as_str(),
        TicketStatus::Closed.as_str(),
    ];
    let rows = Entity::find()
        .filter(customer_visible(Column::CustomerId, Visibility::All))
        .filter(Column::Status.is_not_in(done))
        .filter(Column::AssigneeId.is_not_null())
        .filter(Column::PausedAt.is_null())
        .filter(Column::RemindedAt.is_null())
        .filter(Column::ResolutionBreachedAt.is_null())
        .filter(Column::ResolutionDueAt.gt(now))
        .filter(Column::ResolutionDueAt.lte(until))
        .order_by_asc(Column::ResolutionDueAt)
        .limit(limit)
        .all(db)
        .await?;
    rows.into_iter().map(to_domain).collect()
}

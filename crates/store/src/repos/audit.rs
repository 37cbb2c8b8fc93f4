//! The audit trail.

use chrono::{DateTime, Utc};
use rapport_domain::audit::AuditEvent;
use rapport_domain::identity::Actor;
use sea_orm::{ActiveValue::Set, ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter};
use uuid::Uuid;

use crate::entities::audit_event::{self, Column, Entity};
use crate::page::{Cursor, Page, SortDir, SortValue, keyset};
use crate::{Conn, StoreError, Tx};

/// Filters of the audit trail; all optional, combined with AND.
#[derive(Debug, Clone, Default)]
pub struct AuditFilter {
    pub entity_type: Option<String>,
    pub entity_id: Option<Uuid>,
    /// Events about a customer and everything that belongs to it.
    pub customer_id: Option<Uuid>,
    pub actor_id: Option<Uuid>,
    pub action: Option<String>,
    pub from: Option<DateTime<Utc>>,
    pub to: Option<DateTime<Utc>>,
}

pub(crate) fn to_domain(m: audit_event::Model) -> AuditEvent {
    AuditEvent {
        id: m.id,
        occurred_at: m.occurred_at,
        actor: Actor::from_parts(&m.actor_type, m.actor_id),
        entity_type: m.entity_type,
        entity_id: m.entity_id,
        customer_id: m.customer_id,
        action: m.action,
        request_id: m.request_id,
        ip: m.ip,
        changes: m.changes,
    }
}

/// Records one event, and queues the webhook events it is ([`crate::repos::webhooks`]) and
/// the runs of the rules it fires ([`crate::repos::automation`]). Call it on the transaction of the write it describes.
///
/// # Errors
/// Database failures.
pub async fn record(tx: &Tx, event: AuditEvent) -> Result<(), StoreError> {
    if event.entity_type == rapport_domain::webhook::ENTITY_TYPE
        || crate::repos::automation::changes_a_rule(&event)
    {
        tx.changes_listeners();
    }
    crate::repos::webhooks::emit(tx, &event).await?;
    crate::repos::automation::emit(tx, &event).await?;
    let model = audit_event::ActiveModel {
        id: Set(event.id),
        occurred_at: Set(event.occurred_at),
        actor_type: Set(event.actor.kind().to_owned()),
        actor_id: Set(event.actor.id()),
        entity_type: Set(event.entity_type),
        entity_id: Set(event.entity_id),
        customer_id: Set(event.customer_id),
        action: Set(event.action),
        request_id: Set(event.request_id),
        ip: Set(event.ip),
        changes: Set(event.changes),
    };
    Entity::insert(model).exec_without_returning(tx).await?;
    Ok(())
}

fn filtered(filter: &AuditFilter) -> sea_orm::Select<Entity> {
    let mut select = Entity::find();
    if let Some(t) = &filter.entity_type {
        select = select.filter(Column::EntityType.eq(t.as_str()));
    }
    if let Some(id) = filter.entity_id {
        select = select.filter(Column::EntityId.eq(id));
    }
    if let Some(id) = filter.customer_id {
        select = select.filter(Column::CustomerId.eq(id));
    }
    if let Some(id) = filter.actor_id {
        select = select.filter(Column::ActorId.eq(id));
    }
    if let Some(action) = &filter.action {
        select = select.filter(Column::Action.eq(action.as_str()));
    }
    if let Some(from) = filter.from {
        select = select.filter(Column::OccurredAt.gte(from));
    }
    if let Some(to) = filter.to {
        select = select.filter(Column::OccurredAt.lt(to));
    }
    select
}

/// Newest first.
///
/// # Errors
/// Database failures.
pub async fn list(
    db: &impl Conn,
    filter: &AuditFilter,
    after: Option<Cursor>,
    limit: u64,
) -> Result<Page<AuditEvent>, StoreError> {
    let rows = keyset(
        filtered(filter),
        Column::OccurredAt,
        Column::Id,
        SortDir::Desc,
        after,
        limit,
    )
    .all(db)
    .await?;
    Ok(Page::from_rows(
        rows.into_iter().map(to_domain).collect(),
        limit,
        |e| Cursor {
            value: SortValue::Time(e.occurred_at),
            id: e.id,
        },
    ))
}

/// # Errors
/// Database failures.
pub async fn count(db: &impl Conn, filter: &AuditFilter) -> Result<u64, StoreError> {
    Ok(filtered(filter).count(db).await?)
}

/// Every event about these customers and what belongs to them, oldest first (personal data
/// exports and erasure).
///
/// # Errors
/// Database failures.
pub async fn about_customers(
    db: &impl Conn,
    customer_ids: &[Uuid],
) -> Result<Vec<AuditEvent>, StoreError> {
    use sea_orm::{Condition, QueryOrder};
    let ids = || customer_ids.iter().copied();
    let rows = Entity::find()
        .filter(
            Condition::any()
                .add(Column::CustomerId.is_in(ids()))
                .add(Column::EntityId.is_in(ids())),
        )
        .order_by_asc(Column::OccurredAt)
        .order_by_asc(Column::Id)
        .all(db)
        .await?;
    Ok(rows.into_iter().map(to_domain).collect())
}

/// Replaces the recorded changes of one event (erasure scrubs personal values `at`), and
/// marks its seal, if it has one, as erased: the chain keeps the original's digest.
///
/// # Errors
/// Database failures.
pub async fn replace_changes(
    db: &impl Conn,
    id: Uuid,
    changes: serde_json::Value,
    at: DateTime<Utc>,
) -> Result<(), StoreError> {
    use sea_orm::sea_query::Expr;
    Entity::update_many()
        .col_expr(Column::Changes, Expr::value(changes))
        .filter(Column::Id.eq(id))
        .exec(db)
        .await?;
    crate::repos::audit_chain::mark_erased(db, id, at).await
}

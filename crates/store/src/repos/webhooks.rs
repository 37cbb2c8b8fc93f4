//! Webhook subscriptions and their deliveries (the outbox). [`emit`] runs inside
//! [`crate::repos::audit::record`], so every audited write queues its webhook events on its
//! own transaction: an event is delivered if and only if its change committed.

use chrono::{DateTime, Utc};
use rapport_domain::audit::AuditEvent;
use rapport_domain::identity::Actor;
use rapport_domain::job::{Job, JobKind};
use rapport_domain::web_url::WebUrl;
use rapport_domain::webhook::{
    self as hooks, Attempt, DELIVER_JOB, DELIVER_JOB_ATTEMPTS, Delivery, DeliveryStatus, EventType,
    Webhook, WebhookStatus,
};
use sea_orm::sea_query::{Expr, Query};
use sea_orm::{
    ActiveModelTrait, ActiveValue, ActiveValue::Set, ColumnTrait, Condition, EntityTrait, Iterable,
    QueryFilter, QueryOrder, QuerySelect,
};
use serde_json::json;
use uuid::Uuid;

use crate::entities::webhook::{self, Column, Entity};
use crate::entities::webhook_delivery as delivery;
use crate::listeners::Subscribed;
use crate::page::{Changes, Cursor, Page, SortDir, SortValue, keyset, list_cursor, list_order};
use crate::repos::deletions::{self, Deleted, Kind, Tombstone};
use crate::repos::record::{self, record};
use crate::repos::{corrupt, delete_row, jobs, parse_column};
use crate::{Conn, StoreError, Tx, crypto};

fn event_types(column: &str, value: serde_json::Value) -> Result<Vec<EventType>, StoreError> {
    let names: Vec<String> = serde_json::from_value(value).map_err(|e| corrupt(column, e))?;
    names
        .iter()
        .map(|name| parse_column(column, name, EventType::parse))
        .collect()
}

fn to_domain(m: webhook::Model) -> Result<Webhook, StoreError> {
    Ok(Webhook {
        id: m.id,
        url: parse_column("webhooks.url", &m.url, WebUrl::parse)?,
        description: m.description,
        event_types: event_types("webhooks.event_types", m.event_types)?,
        status: parse_column("webhooks.status", &m.status, WebhookStatus::parse)?,
        paused_reason: m.paused_reason,
        secret: crypto::open(&m.secret)?,
        owner: Actor::from_parts(&m.owner_type, m.owner_id),
        created_at: m.created_at,
        updated_at: m.updated_at,
        version: m.version,
    })
}

fn to_active(w: &Webhook) -> Result<webhook::ActiveModel, StoreError> {
    let types: Vec<&str> = w.event_types.iter().map(|t| t.as_str()).collect();
    Ok(webhook::ActiveModel {
        id: Set(w.id),
        url: Set(w.url.as_str().to_owned()),
        description: Set(w.description.clone()),
        event_types: Set(json!(types)),
        status: Set(w.status.as_str().to_owned()),
        paused_reason: Set(w.paused_reason.clone()),
        secret: Set(crypto::seal(&w.secret)?),
        owner_type: Set(w.owner.kind().to_owned()),
        owner_id: Set(w.owner.id()),
        created_at: Set(w.created_at),
        updated_at: Set(w.updated_at),
        version: Set(w.version),
    })
}

record!(Webhook, Entity, to_active: to_active, from_model: to_domain);

/// # Errors
/// Database failures.
pub async fn insert(db: &impl Conn, hook: &Webhook) -> Result<(), StoreError> {
    Entity::insert(to_active(hook)?)
        .exec_without_returning(db)
        .await?;
    Ok(())
}

/// # Errors
/// `NotFound` when there is no such subscription.
pub async fn get(db: &impl Conn, id: Uuid) -> Result<Webhook, StoreError> {
    record::get(db, id).await
}

/// Subscriptions, newest first: all of them, or those of one owner (an integration client).
///
/// # Errors
/// Database failures.
pub async fn list(
    db: &impl Conn,
    owner: Option<Actor>,
    changes: Option<Changes>,
    after: Option<Cursor>,
    limit: u64,
) -> Result<Page<Webhook>, StoreError> {
    let mut select = Entity::find();
    if let Some(owner) = owner {
        select = select
            .filter(Column::OwnerType.eq(owner.kind()))
            .filter(Column::OwnerId.eq(owner.id()));
    }
    let own = (Column::Id, SortDir::Desc);
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
    Page::from_models(rows, limit, to_domain, |w| {
        list_cursor(changes, w.updated_at, SortValue::Id, w.id)
    })
}

/// Deletes a subscription and its deliveries.
///
/// # Errors
/// `NotFound` when there is no such subscription.
pub async fn delete(db: &impl Conn, hook: &Webhook, now: DateTime<Utc>) -> Result<(), StoreError> {
    delivery::Entity::delete_many()
        .filter(delivery::Column::WebhookId.eq(hook.id))
        .exec(db)
        .await?;
    delete_row::<Entity>(db, hook.id).await?;
    let deleted = Deleted {
        created_by: hook.owner.id(),
        ..Deleted::seen_by_all(Kind::Webhook, hook.id)
    };
    deletions::record(db, deleted, now).await
}

/// One page of the subscriptions deleted in `changes` (of `owner` only, when given), oldest
/// deletion first.
///
/// # Errors
/// Database failures.
pub async fn deleted(
    db: &impl Conn,
    owner: Option<Actor>,
    changes: Changes,
    after: Option<Cursor>,
    limit: u64,
) -> Result<Page<Tombstone>, StoreError> {
    use crate::entities::deletion::Column as D;
    let mut visible = Condition::all();
    if let Some(owner) = owner {
        visible = visible.add(D::CreatedBy.eq(owner.id()));
    }
    deletions::page(db, Kind::Webhook, visible, changes, after, limit).await
}

/// Queues the webhook events that `event` is, one delivery for each active subscription to
/// each. Called on the write's transaction by [`crate::repos::audit::record`].
///
/// # Errors
/// Database failures.
pub(crate) async fn emit(tx: &Tx, event: &AuditEvent) -> Result<(), StoreError> {
    let types = hooks::event_types(&event.entity_type, &event.action, &event.changes);
    if types.is_empty() {
        return Ok(());
    }
    let active = tx.subscriptions().await?;
    if active.is_empty() {
        return Ok(());
    }
    let record = format!("{}:{}", event.entity_type, event.entity_id);
    for event_type in types {
        let event_id = Uuid::now_v7();
        let payload = hooks::payload(event, event_type, event_id);
        for (webhook_id, subscribed) in active.iter() {
            if !subscribed.contains(&event_type) {
                continue;
            }
            let delivery = Delivery::new(
                *webhook_id,
                event_type,
                event_id,
                record.clone(),
                payload.clone(),
                event.occurred_at,
            );
            queue_if_active(tx, &delivery).await?;
        }
    }
    Ok(())
}

/// Writes a pending delivery and its job if its subscription is still active: the list
/// [`emit`] works from may be a moment old (another instance's change), and a subscription
/// deleted or paused since is passed over rather than failing the write it follows.
async fn queue_if_active(db: &impl Conn, d: &Delivery) -> Result<(), StoreError> {
    let row = delivery_active(d)?;
    let (mut columns, mut values) = (Vec::new(), Vec::new());
    for column in delivery::Column::iter() {
        if let ActiveValue::Set(value) = row.get(column) {
            columns.push(column);
            values.push(Expr::val(value));
        }
    }
    let still_active = Query::select()
        .exprs(values)
        .from(Entity)
        .and_where(Expr::col((Entity, Column::Id)).eq(d.webhook_id))
        .and_where(Expr::col((Entity, Column::Status)).eq(WebhookStatus::Active.as_str()))
        .to_owned();
    let insert = Query::insert()
        .into_table(delivery::Entity)
        .columns(columns)
        .select_from(still_active)
        .map_err(|e| corrupt("webhook_deliveries", e))?
        .to_owned();
    let written = db.execute(db.get_database_backend().build(&insert)).await?;
    if written.rows_affected() == 1 {
        jobs::enqueue(db, &job_of(d)?).await?;
    }
    Ok(())
}

/// The active subscriptions and their event types, read from the database (writes read them
/// through [`Tx`]'s cache).
///
/// # Errors
/// Database failures.
pub(crate) async fn active(db: &impl Conn) -> Result<Vec<Subscribed>, StoreError> {
    let rows: Vec<(Uuid, serde_json::Value)> = Entity::find()
        .select_only()
        .column(Column::Id)
        .column(Column::EventTypes)
        .filter(Column::Status.eq(WebhookStatus::Active.as_str()))
        .into_tuple()
        .all(db)
        .await?;
    rows.into_iter()
        .map(|(id, types)| Ok((id, event_types("webhooks.event_types", types)?)))
        .collect()
}

/// Writes a pending delivery and the job that posts it.
///
/// # Errors
/// Database failures.
pub async fn queue(db: &impl Conn, d: &Delivery) -> Result<(), StoreError> {
    delivery::Entity::insert(delivery_active(d)?)
        .exec_without_returning(db)
        .await?;
    jobs::enqueue(db, &job_of(d)?).await?;
    Ok(())
}

/// Makes the job that posts `d` due at `d.updated_at` (its subscription was resumed). One
/// job per delivery, keyed by its id.
///
/// # Errors
/// Database failures.
pub async fn wake(db: &impl Conn, d: &Delivery) -> Result<(), StoreError> {
    jobs::wake(db, &job_of(d)?).await
}

fn job_of(d: &Delivery) -> Result<Job, StoreError> {
    let kind = JobKind::parse(DELIVER_JOB).map_err(|e| corrupt("jobs.kind", e))?;
    let mut job = Job::new(
        kind,
        json!({"delivery_id": d.id}),
        Some(format!("{DELIVER_JOB}:{}", d.id)),
        d.updated_at,
        d.updated_at,
    );
    job.max_attempts = DELIVER_JOB_ATTEMPTS;
    Ok(job)
}

fn delivery_active(d: &Delivery) -> Result<delivery::ActiveModel, StoreError> {
    Ok(delivery::ActiveModel {
        id: Set(d.id),
        webhook_id: Set(d.webhook_id),
        event_id: Set(d.event_id),
        event_type: Set(d.event_type.as_str().to_owned()),
        record: Set(d.record.clone()),
        payload: Set(d.payload.clone()),
        status: Set(d.status.as_str().to_owned()),
        attempts: Set(
            serde_json::to_value(&d.attempts).map_err(|e| corrupt("webhook_deliveries", e))?
        ),
        // Saving an attempt ends the lease of the run that made it.
        leased_until: Set(None),
        created_at: Set(d.created_at),
        updated_at: Set(d.updated_at),
    })
}

fn to_delivery(m: delivery::Model) -> Result<Delivery, StoreError> {
    let attempts: Vec<Attempt> = serde_json::from_value(m.attempts)
        .map_err(|e| corrupt("webhook_deliveries.attempts", e))?;
    Ok(Delivery {
        id: m.id,
        webhook_id: m.webhook_id,
        event_id: m.event_id,
        event_type: parse_column(
            "webhook_deliveries.event_type",
            &m.event_type,
            EventType::parse,
        )?,
        record: m.record,
        payload: m.payload,
        status: parse_column(
            "webhook_deliveries.status",
            &m.status,
            DeliveryStatus::parse,
        )?,
        attempts,
        created_at: m.created_at,
        updated_at: m.updated_at,
    })
}

/// # Errors
/// `NotFound` when there is no such delivery.
pub async fn delivery(db: &impl Conn, id: Uuid) -> Result<Delivery, StoreError> {
    let row = delivery::Entity::find_by_id(id)
        .one(db)
        .await?
        .ok_or(StoreError::NotFound)?;
    to_delivery(row)
}

/// The delivery `id`, locked until the transaction ends (PostgreSQL): two runs of its job
/// record their attempts one after the other.
///
/// # Errors
/// `NotFound` when there is no such delivery.
pub async fn delivery_locked(db: &impl Conn, id: Uuid) -> Result<Delivery, StoreError> {
    let row = delivery::Entity::find_by_id(id)
        .lock_exclusive()
        .one(db)
        .await?
        .ok_or(StoreError::NotFound)?;
    to_delivery(row)
}

/// Takes a pending delivery to post it, until `until`: `false` when another run holds it (or
/// it is no longer pending), so that two runs never post it at once.
///
/// # Errors
/// Database failures.
pub async fn take(
    db: &impl Conn,
    id: Uuid,
    now: DateTime<Utc>,
    until: DateTime<Utc>,
) -> Result<bool, StoreError> {
    let taken = delivery::Entity::update_many()
        .col_expr(delivery::Column::LeasedUntil, Expr::value(until))
        .filter(delivery::Column::Id.eq(id))
        .filter(delivery::Column::Status.eq(DeliveryStatus::Pending.as_str()))
        .filter(
            Condition::any()
                .add(delivery::Column::LeasedUntil.is_null())
                .add(delivery::Column::LeasedUntil.lt(now)),
        )
        .exec(db)
        .await?;
    Ok(taken.rows_affected == 1)
}

/// Saves a delivery's status and attempts.
///
/// # Errors
/// Database failures.
pub async fn save_delivery(db: &impl Conn, d: &Delivery) -> Result<(), StoreError> {
    delivery::Entity::update(delivery_active(d)?)
        .exec(db)
        .await?;
    Ok(())
}

/// A subscription's deliveries, newest first, optionally of one status.
///
/// # Errors
/// Database failures.
pub async fn deliveries(
    db: &impl Conn,
    webhook_id: Uuid,
    status: Option<DeliveryStatus>,
    after: Option<Cursor>,
    limit: u64,
) -> Result<Page<Delivery>, StoreError> {
    let mut select = delivery::Entity::find().filter(delivery::Column::WebhookId.eq(webhook_id));
    if let Some(status) = status {
        select = select.filter(delivery::Column::Status.eq(status.as_str()));
    }
    let rows = keyset(
        select,
        delivery::Column::Id,
        delivery::Column::Id,
        SortDir::Desc,
        after,
        limit,
    )
    .all(db)
    .await?;
    Page::from_models(rows, limit, to_delivery, |d| Cursor {
        value: SortValue::Id,
        id: d.id,
    })
}

/// Is a delivery of the same record to the same subscription, raised before `d`, still
/// pending? Then `d` waits: each record's events arrive in order.
///
/// # Errors
/// Database failures.
pub async fn waits(db: &impl Conn, d: &Delivery) -> Result<bool, StoreError> {
    let earlier = delivery::Entity::find()
        .select_only()
        .column(delivery::Column::Id)
        .filter(delivery::Column::WebhookId.eq(d.webhook_id))
        .filter(delivery::Column::Record.eq(d.record.as_str()))
        .filter(delivery::Column::Status.eq(DeliveryStatus::Pending.as_str()))
        .filter(delivery::Column::Id.lt(d.id))
        .into_tuple::<Uuid>()
        .one(db)
        .await?;
    Ok(earlier.is_some())
}

/// The pending delivery of the same record to the same subscription that comes after `d`:
/// sent as soon as `d` succeeds, rather than after its own job's backoff.
///
/// # Errors
/// Database failures.
pub async fn next_in_line(db: &impl Conn, d: &Delivery) -> Result<Option<Delivery>, StoreError> {
    let next = delivery::Entity::find()
        .filter(delivery::Column::WebhookId.eq(d.webhook_id))
        .filter(delivery::Column::Record.eq(d.record.as_str()))
        .filter(delivery::Column::Status.eq(DeliveryStatus::Pending.as_str()))
        .filter(delivery::Column::Id.gt(d.id))
        .order_by_asc(delivery::Column::Id)
        .one(db)
        .await?;
    next.map(to_delivery).transpose()
}

/// A subscription's pending deliveries, oldest first (to queue again when it is resumed).
///
/// # Errors
/// Database failures.
pub async fn pending(db: &impl Conn, webhook_id: Uuid) -> Result<Vec<Delivery>, StoreError> {
    let rows = delivery::Entity::find()
        .filter(delivery::Column::WebhookId.eq(webhook_id))
        .filter(delivery::Column::Status.eq(DeliveryStatus::Pending.as_str()))
        .order_by_asc(delivery::Column::Id)
        .all(db)
        .await?;
    rows.into_iter().map(to_delivery).collect()
}

/// Deletes the deliveries that ended (succeeded or failed) before `before`; pending ones stay.
///
/// # Errors
/// Database failures.
pub async fn purge_finished(db: &impl Conn, before: DateTime<Utc>) -> Result<u64, StoreError> {
    let finished = [
        DeliveryStatus::Succeeded.as_str(),
        DeliveryStatus::Failed.as_str(),
    ];
    let purged = delivery::Entity::delete_many()
        .filter(delivery::Column::Status.is_in(finished))
        .filter(delivery::Column::UpdatedAt.lt(before))
        .exec(db)
        .await?;
    Ok(purged.rows_affected)
}

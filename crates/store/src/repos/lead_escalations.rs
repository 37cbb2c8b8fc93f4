//! Leads not contacted by their first-contact due time, escalated once each.

use chrono::{DateTime, Utc};
use rapport_domain::customer::Customer;
use rapport_domain::enums::LifecycleStage;
use sea_orm::sea_query::{OnConflict, Query};
use sea_orm::{ActiveValue::Set, ColumnTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect};
use uuid::Uuid;

use crate::entities::customer::{self, Column as C};
use crate::entities::lead_escalation::{self, Column, Entity};
use crate::{Conn, StoreError};

/// Up to `limit` live leads with an owner, not contacted by their due time at `now`, and not
/// escalated yet; the most overdue first.
///
/// # Errors
/// Database failures.
pub async fn overdue(
    db: &impl Conn,
    now: DateTime<Utc>,
    limit: u64,
) -> Result<Vec<Uuid>, StoreError> {
    let escalated = Query::select()
        .column(Column::CustomerId)
        .from(Entity)
        .to_owned();
    let ids = customer::Entity::find()
        .select_only()
        .column(C::Id)
        .filter(C::DeletedAt.is_null())
        .filter(C::LifecycleStage.eq(LifecycleStage::Lead.as_str()))
        .filter(C::OwnerId.is_not_null())
        .filter(C::FirstContactedAt.is_null())
        .filter(C::FirstContactDueAt.lt(now))
        .filter(C::Id.not_in_subquery(escalated))
        .order_by_asc(C::FirstContactDueAt)
        .limit(limit)
        .into_tuple::<Uuid>()
        .all(db)
        .await?;
    Ok(ids)
}

/// Records that `customer` was escalated to `notified` at `now`; `false` when it was already
/// (another run got there first).
///
/// # Errors
/// Database failures.
pub async fn record(
    db: &impl Conn,
    customer: &Customer,
    notified: Option<Uuid>,
    now: DateTime<Utc>,
) -> Result<bool, StoreError> {
    let inserted = Entity::insert(lead_escalation::ActiveModel {
        customer_id: Set(customer.id),
        notified_id: Set(notified),
        escalated_at: Set(now),
    })
    .on_conflict(
        OnConflict::column(Column::CustomerId)
            .do_nothing()
            .to_owned(),
    )
    .exec_without_returning(db)
    .await?;
    Ok(inserted == 1)
}

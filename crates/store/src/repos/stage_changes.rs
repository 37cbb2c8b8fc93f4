//! The lifecycle stage changes of customers, for their timelines.

use rapport_domain::activity::StageChange;
use rapport_domain::enums::LifecycleStage;
use sea_orm::{ActiveValue::Set, ColumnTrait, EntityTrait, QueryFilter};
use uuid::Uuid;

use crate::entities::stage_change::{self, Column, Entity};
use crate::page::{Cursor, Page, SortDir, SortValue, keyset};
use crate::repos::parse_column;
use crate::{Conn, StoreError};

fn to_domain(m: stage_change::Model) -> Result<StageChange, StoreError> {
    Ok(StageChange {
        id: m.id,
        customer_id: m.customer_id,
        from: m
            .from_stage
            .as_deref()
            .map(|s| parse_column("stage_changes.from_stage", s, LifecycleStage::parse))
            .transpose()?,
        to: parse_column("stage_changes.to_stage", &m.to_stage, LifecycleStage::parse)?,
        changed_at: m.changed_at,
        changed_by: m.changed_by,
    })
}

/// # Errors
/// Database failures.
pub async fn insert(db: &impl Conn, change: &StageChange) -> Result<(), StoreError> {
    let model = stage_change::ActiveModel {
        id: Set(change.id),
        customer_id: Set(change.customer_id),
        from_stage: Set(change.from.map(|s| s.as_str().to_owned())),
        to_stage: Set(change.to.as_str().to_owned()),
        changed_at: Set(change.changed_at),
        changed_by: Set(change.changed_by),
    };
    Entity::insert(model).exec_without_returning(db).await?;
    Ok(())
}

/// A customer's stage changes, newest first.
///
/// # Errors
/// Database failures.
pub async fn of_customer(
    db: &impl Conn,
    customer_id: Uuid,
    after: Option<Cursor>,
    limit: u64,
) -> Result<Page<StageChange>, StoreError> {
    let select = Entity::find().filter(Column::CustomerId.eq(customer_id));
    let rows = keyset(
        select,
        Column::ChangedAt,
        Column::Id,
        SortDir::Desc,
        after,
        limit,
    )
    .all(db)
    .await?;
    Page::from_models(rows, limit, to_domain, |c| Cursor {
        value: SortValue::Time(c.changed_at),
        id: c.id,
    })
}

//! What sends a survey by itself.

use rapport_domain::survey::{SurveyEvent, SurveyTrigger};
use sea_orm::sea_query::Expr;
use sea_orm::{ActiveValue::Set, ColumnTrait, EntityTrait, QueryFilter, QueryOrder};
use uuid::Uuid;

use crate::entities::survey_trigger::{self, Column, Entity};
use crate::repos::delete_row;
use crate::repos::parse_column;
use crate::repos::record::{self, record};
use crate::{Conn, StoreError};

/// The unique index on a survey and event (SQLite names its columns).
pub const SURVEY_EVENT_KEY: &[&str] = &[
    "survey_triggers_survey_event_key",
    "survey_triggers.survey_id, survey_triggers.event",
];

fn to_domain(m: survey_trigger::Model) -> Result<SurveyTrigger, StoreError> {
    Ok(SurveyTrigger {
        id: m.id,
        survey_id: m.survey_id,
        event: parse_column("survey_triggers.event", &m.event, SurveyEvent::parse)?,
        enabled: m.enabled,
        created_at: m.created_at,
        updated_at: m.updated_at,
        version: m.version,
    })
}

fn to_active(t: &SurveyTrigger) -> Result<survey_trigger::ActiveModel, StoreError> {
    Ok(survey_trigger::ActiveModel {
        id: Set(t.id),
        survey_id: Set(t.survey_id),
        event: Set(t.event.as_str().to_owned()),
        enabled: Set(t.enabled),
        created_at: Set(t.created_at),
        updated_at: Set(t.updated_at),
        version: Set(t.version),
    })
}

record!(SurveyTrigger, Entity, to_active: to_active, from_model: to_domain);

/// # Errors
/// `Conflict` on [`SURVEY_EVENT_KEY`].
pub async fn insert(db: &impl Conn, t: &SurveyTrigger) -> Result<(), StoreError> {
    Entity::insert(to_active(t)?)
        .exec_without_returning(db)
        .await?;
    Ok(())
}

/// # Errors
/// `NotFound` when there is no such trigger.
pub async fn get(db: &impl Conn, id: Uuid) -> Result<SurveyTrigger, StoreError> {
    record::get(db, id).await
}

/// Every trigger, oldest first (they are few).
///
/// # Errors
/// Database failures.
pub async fn all(db: &impl Conn) -> Result<Vec<SurveyTrigger>, StoreError> {
    Entity::find()
        .order_by_asc(Column::CreatedAt)
        .order_by_asc(Column::Id)
        .all(db)
        .await?
        .into_iter()
        .map(to_domain)
        .collect()
}

/// The enabled triggers of `event`.
///
/// # Errors
/// Database failures.
pub async fn enabled_for(
    db: &impl Conn,
    event: SurveyEvent,
) -> Result<Vec<SurveyTrigger>, StoreError> {
    Entity::find()
        .filter(Column::Event.eq(event.as_str()))
        .filter(Column::Enabled.eq(true))
        .order_by_asc(Column::Id)
        .all(db)
        .await?
        .into_iter()
        .map(to_domain)
        .collect()
}

/// The triggers of survey `from` now send its new version `to`.
///
/// # Errors
/// Database failures.
pub async fn follow_version(
    db: &impl Conn,
    from: Uuid,
    to: Uuid,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<u64, StoreError> {
    Ok(Entity::update_many()
        .col_expr(Column::SurveyId, Expr::value(to))
        .col_expr(Column::UpdatedAt, Expr::value(now))
        .col_expr(Column::Version, Expr::col(Column::Version).add(1))
        .filter(Column::SurveyId.eq(from))
        .exec(db)
        .await?
        .rows_affected)
}

/// # Errors
/// `NotFound` when there is no such trigger.
pub async fn delete(db: &impl Conn, id: Uuid) -> Result<(), StoreError> {
    delete_row::<Entity>(db, id).await
}

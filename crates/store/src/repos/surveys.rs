//! Surveys: their questions are JSON, read back through the domain's parsers.

use std::collections::HashMap;

use rapport_domain::article::Language;
use rapport_domain::name::Title;
use rapport_domain::survey::{InvitationStatus, Question, Survey};
use sea_orm::{
    ActiveValue::Set, ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter, QuerySelect,
};
use uuid::Uuid;

use crate::entities::survey::{self, Column, Entity};
use crate::entities::survey_invitation as invitation;
use crate::page::{Changes, Cursor, Page, SortDir, SortValue, list_cursor, list_order};
use crate::repos::record::{self, record};
use crate::repos::{corrupt, parse_column};
use crate::{Conn, StoreError};

fn to_domain(m: survey::Model) -> Result<Survey, StoreError> {
    Ok(Survey {
        id: m.id,
        title: parse_column("surveys.title", &m.title, Title::parse)?,
        language: parse_column("surveys.language", &m.language, Language::parse)?,
        questions: serde_json::from_value::<Vec<Question>>(m.questions)
            .map_err(|e| corrupt("surveys.questions", e))?,
        revision: m.revision,
        previous_id: m.previous_id,
        superseded_by_id: m.superseded_by_id,
        expires_in_days: m.expires_in_days,
        quiet_days: m.quiet_days,
        follow_up_csat_at_most: m.follow_up_csat_at_most,
        follow_up_nps_at_most: m.follow_up_nps_at_most,
        created_by: m.created_by,
        created_at: m.created_at,
        updated_at: m.updated_at,
        version: m.version,
    })
}

fn to_active(s: &Survey) -> Result<survey::ActiveModel, StoreError> {
    Ok(survey::ActiveModel {
        id: Set(s.id),
        title: Set(s.title.to_string()),
        language: Set(s.language.as_str().to_owned()),
        questions: Set(
            serde_json::to_value(&s.questions).map_err(|e| corrupt("surveys.questions", e))?
        ),
        revision: Set(s.revision),
        previous_id: Set(s.previous_id),
        superseded_by_id: Set(s.superseded_by_id),
        expires_in_days: Set(s.expires_in_days),
        quiet_days: Set(s.quiet_days),
        follow_up_csat_at_most: Set(s.follow_up_csat_at_most),
        follow_up_nps_at_most: Set(s.follow_up_nps_at_most),
        created_by: Set(s.created_by),
        created_at: Set(s.created_at),
        updated_at: Set(s.updated_at),
        version: Set(s.version),
    })
}

record!(Survey, Entity, to_active: to_active, from_model: to_domain);

/// # Errors
/// Database failures.
pub async fn insert(db: &impl Conn, s: &Survey) -> Result<(), StoreError> {
    Entity::insert(to_active(s)?)
        .exec_without_returning(db)
        .await?;
    Ok(())
}

/// # Errors
/// `NotFound` when there is no such survey.
pub async fn get(db: &impl Conn, id: Uuid) -> Result<Survey, StoreError> {
    record::get(db, id).await
}

/// Surveys, newest first.
///
/// # Errors
/// Database failures.
pub async fn list(
    db: &impl Conn,
    changes: Option<Changes>,
    after: Option<Cursor>,
    limit: u64,
) -> Result<Page<Survey>, StoreError> {
    let own = (Column::CreatedAt, SortDir::Desc);
    let select = list_order(
        Entity::find(),
        changes,
        own,
        Column::UpdatedAt,
        Column::Id,
        after,
        limit,
    );
    let rows = select.all(db).await?;
    Page::from_models(rows, limit, to_domain, |s| {
        list_cursor(changes, s.updated_at, SortValue::Time(s.created_at), s.id)
    })
}

/// The surveys of `ids` (those that exist), by id.
///
/// # Errors
/// Database failures.
pub async fn get_many(
    db: &impl Conn,
    ids: impl IntoIterator<Item = Uuid>,
) -> Result<HashMap<Uuid, Survey>, StoreError> {
    let mut ids: Vec<Uuid> = ids.into_iter().collect();
    ids.sort_unstable();
    ids.dedup();
    Entity::find()
        .filter(Column::Id.is_in(ids))
        .all(db)
        .await?
        .into_iter()
        .map(|m| to_domain(m).map(|s| (s.id, s)))
        .collect()
}

/// How many answered invitations each of `ids` has.
///
/// # Errors
/// Database failures.
pub async fn answered_counts(
    db: &impl Conn,
    ids: &[Uuid],
) -> Result<HashMap<Uuid, i64>, StoreError> {
    let rows: Vec<(Uuid, i64)> = invitation::Entity::find()
        .select_only()
        .column(invitation::Column::SurveyId)
        .column_as(invitation::Column::Id.count(), "answered")
        .filter(invitation::Column::SurveyId.is_in(ids.iter().copied()))
        .filter(invitation::Column::Status.eq(InvitationStatus::Answered.as_str()))
        .group_by(invitation::Column::SurveyId)
        .into_tuple()
        .all(db)
        .await?;
    Ok(rows.into_iter().collect())
}

/// Whether survey `id` has an answer: then it is versioned, not edited.
///
/// # Errors
/// Database failures.
pub async fn has_answers(db: &impl Conn, id: Uuid) -> Result<bool, StoreError> {
    Ok(invitation::Entity::find()
        .filter(invitation::Column::SurveyId.eq(id))
        .filter(invitation::Column::Status.eq(InvitationStatus::Answered.as_str()))
        .count(db)
        .await?
        > 0)
}

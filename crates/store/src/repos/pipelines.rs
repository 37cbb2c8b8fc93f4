//! Pipelines and their ordered stages.

use rapport_domain::name::Title;
use rapport_domain::opportunity::OpportunityStatus;
use rapport_domain::pipeline::{Pipeline, Probability, Stage, StageKind};
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveValue::Set, ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder,
    QuerySelect,
};
use uuid::Uuid;

use crate::entities::pipeline::{self, Column, Entity};
use crate::entities::{opportunity, pipeline_stage};
use crate::repos::record::{self, Lock, record};
use crate::repos::{corrupt, parse_column};
use crate::{Conn, StoreError};

fn to_domain(m: pipeline::Model) -> Result<Pipeline, StoreError> {
    Ok(Pipeline {
        id: m.id,
        name: parse_column("pipelines.name", &m.name, Title::parse)?,
        is_default: m.is_default,
        // Read beside the row: see `fetch`.
        stages: Vec::new(),
        created_at: m.created_at,
        updated_at: m.updated_at,
        version: m.version,
    })
}

fn to_active(p: &Pipeline) -> pipeline::ActiveModel {
    pipeline::ActiveModel {
        id: Set(p.id),
        name: Set(p.name.to_string()),
        is_default: Set(p.is_default),
        created_at: Set(p.created_at),
        updated_at: Set(p.updated_at),
        version: Set(p.version),
    }
}

// A save writes the pipeline's row; its stages are written by `save_stages`.
record!(Pipeline, Entity, to_active: |p| Ok(to_active(p)), from_model: to_domain);

fn stage_to_domain(m: pipeline_stage::Model) -> Result<Stage, StoreError> {
    Ok(Stage {
        id: m.id,
        name: parse_column("pipeline_stages.name", &m.name, Title::parse)?,
        probability: Probability::new(i64::from(m.probability))
            .map_err(|e| corrupt("pipeline_stages.probability", e))?,
        kind: parse_column("pipeline_stages.kind", &m.kind, StageKind::parse)?,
    })
}

fn stage_row(pipeline_id: Uuid, position: usize, s: &Stage) -> pipeline_stage::ActiveModel {
    pipeline_stage::ActiveModel {
        id: Set(s.id),
        pipeline_id: Set(pipeline_id),
        position: Set(i32::try_from(position).unwrap_or(i32::MAX)),
        name: Set(s.name.to_string()),
        probability: Set(i32::from(s.probability.percent())),
        kind: Set(s.kind.as_str().to_owned()),
    }
}

async fn stages_of(db: &impl Conn, ids: &[Uuid]) -> Result<Vec<(Uuid, Stage)>, StoreError> {
    use pipeline_stage::Column as S;
    pipeline_stage::Entity::find()
        .filter(S::PipelineId.is_in(ids.iter().copied()))
        .order_by_asc(S::Position)
        .all(db)
        .await?
        .into_iter()
        .map(|m| Ok((m.pipeline_id, stage_to_domain(m)?)))
        .collect()
}

/// A pipeline with its stages, read with `lock`.
///
/// # Errors
/// `NotFound` when there is none.
pub async fn fetch(db: &impl Conn, id: Uuid, lock: Lock) -> Result<Pipeline, StoreError> {
    let mut p: Pipeline = record::fetch(db, id, lock).await?;
    p.stages = stages_of(db, &[id])
        .await?
        .into_iter()
        .map(|(_, s)| s)
        .collect();
    Ok(p)
}

/// The pipeline new opportunities go to when none is named.
///
/// # Errors
/// `NotFound` when there is none.
pub async fn default_pipeline(db: &impl Conn) -> Result<Pipeline, StoreError> {
    let row = Entity::find()
        .filter(Column::IsDefault.eq(true))
        .one(db)
        .await?
        .ok_or(StoreError::NotFound)?;
    let mut p = to_domain(row)?;
    p.stages = stages_of(db, &[p.id])
        .await?
        .into_iter()
        .map(|(_, s)| s)
        .collect();
    Ok(p)
}

/// Every pipeline with its stages, the default first, then by name.
///
/// # Errors
/// Database failures.
pub async fn all(db: &impl Conn) -> Result<Vec<Pipeline>, StoreError> {
    let mut pipelines = Entity::find()
        .order_by_desc(Column::IsDefault)
        .order_by_asc(Column::Name)
        .order_by_asc(Column::Id)
        .all(db)
        .await?
        .into_iter()
        .map(to_domain)
        .collect::<Result<Vec<_>, _>>()?;
    let ids: Vec<Uuid> = pipelines.iter().map(|p| p.id).collect();
    for (pipeline_id, stage) in stages_of(db, &ids).await? {
        if let Some(p) = pipelines.iter_mut().find(|p| p.id == pipeline_id) {
            p.stages.push(stage);
        }
    }
    Ok(pipelines)
}

/// # Errors
/// Database failures.
pub async fn insert(db: &impl Conn, p: &Pipeline) -> Result<(), StoreError> {
    Entity::insert(to_active(p))
        .exec_without_returning(db)
        .await?;
    save_stages(db, p, &[]).await
}

/// Writes the stages of `p` in their order: updates those in `existing`, inserts the others.
/// Stages to remove are removed first with [`delete_stage`].
///
/// # Errors
/// Database failures.
pub async fn save_stages(
    db: &impl Conn,
    p: &Pipeline,
    existing: &[Stage],
) -> Result<(), StoreError> {
    for (position, stage) in p.stages.iter().enumerate() {
        let row = stage_row(p.id, position, stage);
        if existing.iter().any(|e| e.id == stage.id) {
            pipeline_stage::Entity::update(row).exec(db).await?;
        } else {
            pipeline_stage::Entity::insert(row)
                .exec_without_returning(db)
                .await?;
        }
    }
    Ok(())
}

/// How many opportunities are in the stage.
///
/// # Errors
/// Database failures.
pub async fn opportunities_in(db: &impl Conn, stage_id: Uuid) -> Result<u64, StoreError> {
    Ok(opportunity::Entity::find()
        .filter(opportunity::Column::StageId.eq(stage_id))
        .count(db)
        .await?)
}

/// How many opportunities are in the pipeline.
///
/// # Errors
/// Database failures.
pub async fn opportunities_of(db: &impl Conn, pipeline_id: Uuid) -> Result<u64, StoreError> {
    Ok(opportunity::Entity::find()
        .filter(opportunity::Column::PipelineId.eq(pipeline_id))
        .count(db)
        .await?)
}

/// Gives the open opportunities of a stage whose probability was not set by hand the stage's
/// new probability, each in a new version.
///
/// # Errors
/// Database failures.
pub async fn retarget_probability(
    db: &impl Conn,
    stage: &Stage,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<u64, StoreError> {
    use opportunity::Column as O;
    Ok(opportunity::Entity::update_many()
        .col_expr(
            O::Probability,
            Expr::value(i32::from(stage.probability.percent())),
        )
        .col_expr(O::UpdatedAt, Expr::value(now))
        .col_expr(O::Version, Expr::col(O::Version).add(1))
        .filter(O::StageId.eq(stage.id))
        .filter(O::ProbabilityOverridden.eq(false))
        .filter(O::Status.eq(OpportunityStatus::Open.as_str()))
        .exec(db)
        .await?
        .rows_affected)
}

/// Removes an empty stage.
///
/// # Errors
/// `NotFound` when there is none.
pub async fn delete_stage(db: &impl Conn, stage_id: Uuid) -> Result<(), StoreError> {
    super::delete_row::<pipeline_stage::Entity>(db, stage_id).await
}

/// Removes a pipeline without opportunities, with its stages.
///
/// # Errors
/// `NotFound` when there is none.
pub async fn delete(db: &impl Conn, id: Uuid) -> Result<(), StoreError> {
    pipeline_stage::Entity::delete_many()
        .filter(pipeline_stage::Column::PipelineId.eq(id))
        .exec(db)
        .await?;
    super::delete_row::<Entity>(db, id).await
}

/// Makes `id` the default pipeline: the one that was stops being it, in a new version.
/// Answers that one as it was, for its audit event.
///
/// # Errors
/// Database failures.
pub async fn make_default(
    db: &impl Conn,
    id: Uuid,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<Option<Pipeline>, StoreError> {
    let Some(row) = Entity::find()
        .filter(Column::Id.ne(id))
        .filter(Column::IsDefault.eq(true))
        .lock_exclusive()
        .one(db)
        .await?
    else {
        return Ok(None);
    };
    let before = to_domain(row)?;
    let after = Pipeline {
        is_default: false,
        ..before.clone()
    };
    crate::repos::save(db, &after, now).await?;
    Ok(Some(before))
}

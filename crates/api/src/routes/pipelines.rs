//! Sales pipelines and their stages. Everyone who reads opportunities reads pipelines;
//! `settings:write` changes them.

use actix_web::{HttpResponse, delete, get, patch, post, web};
use chrono::{DateTime, Utc};
use rapport_domain::Invalid;
use rapport_domain::name::Title;
use rapport_domain::pipeline::{self, Pipeline as DomainPipeline, RawStage};
use rapport_domain::validation::Errors;
use rapport_store::repos::{Lock, opportunities, pipelines};
use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::{IntoParams, ToSchema};
use utoipa_actix_web::service_config::ServiceConfig;
use uuid::Uuid;

use crate::audit;
use crate::auth::Authorized;
use crate::auth::scopes::{OpportunitiesRead, SettingsWrite};
use crate::error::{ApiError, ProblemCode};
use crate::extract::{IfMatch, IfMatchParam, Json, Query};
use crate::i18n::Text;
use crate::patch::Patch;
use crate::respond;
use crate::schemas;
use crate::state::AppState;

pub fn configure(cfg: &mut ServiceConfig) {
    cfg.service(list_pipelines)
        .service(create_pipeline)
        .service(get_pipeline)
        .service(update_pipeline)
        .service(delete_pipeline)
        .service(delete_stage);
}

/// One step of a pipeline.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Stage {
    pub id: Uuid,
    #[schema(example = "Proposal")]
    pub name: String,
    /// The probability (0–100) an opportunity takes when it enters the stage.
    #[schema(example = 50)]
    pub probability: u8,
    #[schema(schema_with = schemas::stage_kind)]
    pub kind: String,
    /// Its place in the pipeline, 0 first.
    pub position: usize,
}

/// A sales pipeline: ordered stages with exactly one `won` stage and at least one `lost` and
/// one `open` stage.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Pipeline {
    pub id: Uuid,
    #[schema(example = "Sales")]
    pub name: String,
    /// New opportunities go here when they name no pipeline. Exactly one pipeline is.
    pub is_default: bool,
    pub stages: Vec<Stage>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub version: i32,
}

impl From<DomainPipeline> for Pipeline {
    fn from(p: DomainPipeline) -> Self {
        Pipeline {
            id: p.id,
            name: p.name.into_string(),
            is_default: p.is_default,
            stages: p
                .stages
                .into_iter()
                .enumerate()
                .map(|(position, s)| Stage {
                    id: s.id,
                    name: s.name.into_string(),
                    probability: s.probability.percent(),
                    kind: s.kind.as_str().to_owned(),
                    position,
                })
                .collect(),
            created_at: p.created_at,
            updated_at: p.updated_at,
            version: p.version,
        }
    }
}

crate::list_type!(PipelineList, Pipeline);

/// A stage in a request: with `id`, an existing stage (fields not sent keep their value);
/// without, a new one.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct StageInput {
    pub id: Option<Uuid>,
    #[schema(example = "Proposal")]
    pub name: Option<String>,
    /// 0–100. Default for a new stage: 100 when `won`, 0 when `lost`, else 50.
    #[schema(example = 50)]
    pub probability: Option<i64>,
    #[schema(schema_with = schemas::stage_kind_or_null)]
    pub kind: Option<String>,
}

impl StageInput {
    fn raw(&self) -> RawStage<'_> {
        RawStage {
            id: self.id,
            name: self.name.as_deref(),
            probability: self.probability,
            kind: self.kind.as_deref(),
        }
    }
}

/// A new pipeline.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreatePipeline {
    #[schema(required = true, example = "Key accounts")]
    pub name: Option<String>,
    /// Make it the default pipeline (the previous default stops being it).
    #[serde(default)]
    pub is_default: bool,
    /// In order.
    #[serde(default)]
    pub stages: Vec<StageInput>,
}

/// Changes to a pipeline. `stages` is the full list in its new order: every existing stage
/// listed by `id` (renamed, re-weighted or moved), new ones without. A stage leaves with
/// `DELETE /v1/pipelines/{id}/stages/{stage_id}`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdatePipeline {
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    pub name: Patch<String>,
    /// `true` makes it the default. The default stops being it only when another becomes it.
    #[serde(default)]
    #[schema(value_type = Option<bool>)]
    pub is_default: Patch<bool>,
    #[serde(default)]
    #[schema(value_type = Option<Vec<StageInput>>)]
    pub stages: Patch<Vec<StageInput>>,
}

/// Where the opportunities of a removed stage go.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct DeleteStageParams {
    /// A stage of the same pipeline and of the same kind. Required when the stage holds
    /// opportunities.
    pub move_to: Option<Uuid>,
}

/// List the pipelines with their stages, the default first.
#[utoipa::path(
    tag = "sales",
    responses((status = 200, body = PipelineList)),
    security(("oauth2" = ["opportunities:read"]))
)]
#[get("/pipelines")]
async fn list_pipelines(
    state: web::Data<AppState>,
    auth: Authorized<OpportunitiesRead>,
) -> Result<HttpResponse, ApiError> {
    let all = pipelines::all(state.list_reads(&auth)).await?;
    Ok(HttpResponse::Ok().json(PipelineList {
        data: all.into_iter().map(Pipeline::from).collect(),
        next_cursor: None,
    }))
}

/// Create a pipeline. Audited.
#[utoipa::path(
    tag = "sales",
    request_body = CreatePipeline,
    responses((status = 201, body = Pipeline, headers(("Location" = String), ("ETag" = String)))),
    security(("oauth2" = ["settings:write"]))
)]
#[post("/pipelines")]
async fn create_pipeline(
    state: web::Data<AppState>,
    auth: Authorized<SettingsWrite>,
    body: Json<CreatePipeline>,
) -> Result<HttpResponse, ApiError> {
    let body = body.into_inner()?;
    let mut errors = Errors::default();
    let name = errors.required("name", body.name.as_deref(), Title::parse);
    let raw: Vec<RawStage<'_>> = body.stages.iter().map(StageInput::raw).collect();
    let stages = pipeline::parse_stages(&raw, &[], "stages", &mut errors);
    let name = errors.finish_with(name)?;
    let now = state.clock.now();
    let p = DomainPipeline {
        id: Uuid::now_v7(),
        name,
        is_default: body.is_default,
        stages,
        created_at: now,
        updated_at: now,
        version: 1,
    };
    let tx = state.store.begin().await?;
    if p.is_default {
        undefault(&tx, &state, &auth, p.id, now).await?;
    }
    pipelines::insert(&tx, &p).await?;
    let body = Pipeline::from(p);
    audit::record_and_commit(
        tx,
        &state,
        &auth.origin,
        audit::Subject::new("pipeline", body.id),
        "create",
        audit::changes(None, Some(&body)),
    )
    .await?;
    Ok(respond::created(
        &body,
        body.version,
        format!("/v1/pipelines/{}", body.id),
    ))
}

/// Get a pipeline with its stages.
#[utoipa::path(
    tag = "sales",
    params(("id" = Uuid, Path)),
    responses((status = 200, body = Pipeline, headers(("ETag" = String)))),
    security(("oauth2" = ["opportunities:read"]))
)]
#[get("/pipelines/{id}")]
async fn get_pipeline(
    state: web::Data<AppState>,
    _auth: Authorized<OpportunitiesRead>,
    id: web::Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    let p = Pipeline::from(pipelines::fetch(state.store.conn(), id.into_inner(), Lock::No).await?);
    Ok(respond::ok(&p, p.version))
}

/// Rename a pipeline, make it the default, or rename, re-weight, reorder and add stages.
/// Opportunities stay in their stages; those whose probability was not set by hand take their
/// stage's new probability. A stage that holds opportunities keeps its kind (409). Audited.
#[utoipa::path(
    tag = "sales",
    params(("id" = Uuid, Path), IfMatchParam),
    request_body = UpdatePipeline,
    responses(
        (status = 200, body = Pipeline, headers(("ETag" = String))),
        (status = 409, description = "A stage that holds opportunities would change its kind", body = crate::error::Problem, content_type = "application/problem+json")
    ),
    security(("oauth2" = ["settings:write"]))
)]
#[patch("/pipelines/{id}")]
async fn update_pipeline(
    state: web::Data<AppState>,
    auth: Authorized<SettingsWrite>,
    id: web::Path<Uuid>,
    if_match: IfMatch,
    body: Json<UpdatePipeline>,
) -> Result<HttpResponse, ApiError> {
    let body = body.into_inner()?;
    let now = state.clock.now();
    let tx = state.store.begin().await?;
    let before = pipelines::fetch(&tx, id.into_inner(), Lock::ForUpdate).await?;
    if_match.check(before.version)?;
    let mut p = before.clone();
    let mut errors = Errors::default();
    body.name
        .required(&mut errors, "name", &mut p.name, Title::parse);
    if let Some(is_default) = body.is_default.into_required(&mut errors, "is_default") {
        // The default stops being it only when another becomes it.
        if before.is_default && !is_default {
            errors.add("is_default", Invalid::NotAllowed);
        }
        p.is_default = is_default;
    }
    if let Some(inputs) = body.stages.into_required(&mut errors, "stages") {
        let raw: Vec<RawStage<'_>> = inputs.iter().map(StageInput::raw).collect();
        p.stages = pipeline::parse_stages(&raw, &before.stages, "stages", &mut errors);
    }
    errors.finish()?;
    for old in &before.stages {
        let Some(new) = p.stage(old.id) else { continue };
        if new.kind != old.kind && pipelines::opportunities_in(&tx, old.id).await? > 0 {
            return Err(ApiError::conflict(
                ProblemCode::Conflict,
                Text::new(
                    format!(
                        "Stage `{}` holds opportunities: it keeps its kind.",
                        old.name
                    ),
                    format!("阶段“{}”中有商机，不能改变其类型。", old.name),
                ),
            ));
        }
    }
    if p.is_default && !before.is_default {
        undefault(&tx, &state, &auth, p.id, now).await?;
    }
    let saved = rapport_store::repos::save(&tx, &p, now).await?;
    pipelines::save_stages(&tx, &saved, &before.stages).await?;
    for new in &saved.stages {
        if before
            .stage(new.id)
            .is_some_and(|old| old.probability != new.probability)
        {
            pipelines::retarget_probability(&tx, new, now).await?;
        }
    }
    let (before, saved) = (Pipeline::from(before), Pipeline::from(saved));
    audit::record_and_commit(
        tx,
        &state,
        &auth.origin,
        audit::Subject::new("pipeline", saved.id),
        "update",
        audit::changes(Some(&before), Some(&saved)),
    )
    .await?;
    Ok(respond::ok(&saved, saved.version))
}

/// Delete a pipeline without opportunities (not the default). Audited.
#[utoipa::path(
    tag = "sales",
    params(("id" = Uuid, Path), IfMatchParam),
    responses(
        (status = 204, description = "Deleted"),
        (status = 409, description = "The default pipeline, or one that holds opportunities", body = crate::error::Problem, content_type = "application/problem+json")
    ),
    security(("oauth2" = ["settings:write"]))
)]
#[delete("/pipelines/{id}")]
async fn delete_pipeline(
    state: web::Data<AppState>,
    auth: Authorized<SettingsWrite>,
    id: web::Path<Uuid>,
    if_match: IfMatch,
) -> Result<HttpResponse, ApiError> {
    let tx = state.store.begin().await?;
    let p = pipelines::fetch(&tx, id.into_inner(), Lock::ForUpdate).await?;
    if_match.check(p.version)?;
    if p.is_default {
        return Err(ApiError::conflict(
            ProblemCode::Conflict,
            Text::new(
                "The default pipeline cannot be deleted: make another one the default first.",
                "默认管道不能删除：请先把另一个管道设为默认。",
            ),
        ));
    }
    let held = pipelines::opportunities_of(&tx, p.id).await?;
    if held > 0 {
        return Err(holds_opportunities(held));
    }
    pipelines::delete(&tx, p.id).await?;
    audit::record_and_commit(
        tx,
        &state,
        &auth.origin,
        audit::Subject::new("pipeline", p.id),
        "delete",
        audit::changes(Some(&Pipeline::from(p)), None),
    )
    .await?;
    Ok(HttpResponse::NoContent().finish())
}

/// Makes `id` the default pipeline: the one that was stops being it, audited.
async fn undefault(
    tx: &rapport_store::Tx,
    state: &AppState,
    caller: &crate::auth::Caller,
    id: Uuid,
    now: chrono::DateTime<Utc>,
) -> Result<(), ApiError> {
    let Some(before) = pipelines::make_default(tx, id, now).await? else {
        return Ok(());
    };
    let after = Pipeline {
        is_default: false,
        ..Pipeline::from(before.clone())
    };
    audit::record(
        tx,
        state,
        &caller.origin,
        audit::Subject::new("pipeline", before.id),
        "update",
        audit::changes(Some(&Pipeline::from(before)), Some(&after)),
    )
    .await
}

fn holds_opportunities(count: u64) -> ApiError {
    let mut extra = serde_json::Map::new();
    extra.insert("opportunities".into(), json!(count));
    ApiError::Conflict {
        code: ProblemCode::Conflict,
        detail: Text::new(
            format!("It holds {count} opportunities: name the stage to move them to (`move_to`)."),
            format!("其中有 {count} 个商机：请指定要移入的阶段（`move_to`）。"),
        ),
        extra,
    }
}

/// Remove a stage. A stage that holds opportunities needs `move_to`, a stage of the same
/// pipeline and kind: its opportunities move there, each move in their history. The pipeline
/// keeps its one `won` stage and a `lost` and an `open` one. Audited.
#[utoipa::path(
    tag = "sales",
    params(("id" = Uuid, Path), ("stage_id" = Uuid, Path), DeleteStageParams, IfMatchParam),
    responses(
        (status = 204, description = "Removed"),
        (status = 409, description = "The stage holds opportunities and no `move_to` was named, or the pipeline would lose an end", body = crate::error::Problem, content_type = "application/problem+json")
    ),
    security(("oauth2" = ["settings:write"]))
)]
#[delete("/pipelines/{id}/stages/{stage_id}")]
async fn delete_stage(
    state: web::Data<AppState>,
    auth: Authorized<SettingsWrite>,
    path: web::Path<(Uuid, Uuid)>,
    params: Query<DeleteStageParams>,
    if_match: IfMatch,
) -> Result<HttpResponse, ApiError> {
    let (id, stage_id) = path.into_inner();
    let move_to = params.into_inner()?.move_to;
    let now = state.clock.now();
    let tx = state.store.begin().await?;
    let before = pipelines::fetch(&tx, id, Lock::ForUpdate).await?;
    if_match.check(before.version)?;
    let stage = before.stage(stage_id).cloned().ok_or(ApiError::NotFound)?;
    let mut p = before.clone();
    p.stages.retain(|s| s.id != stage_id);
    if pipeline::check_ends(&p.stages).is_err() {
        return Err(ApiError::conflict(
            ProblemCode::Conflict,
            Text::new(
                "A pipeline keeps exactly one `won` stage and at least one `lost` and one `open` stage.",
                "管道须保留恰好一个 `won` 阶段，以及至少一个 `lost` 和一个 `open` 阶段。",
            ),
        ));
    }
    // Checked even when nothing moves, so a wrong id is never silently ignored.
    let target = match move_to.map(|id| p.stage(id)) {
        None => None,
        Some(None) => {
            return Err(ApiError::bad_parameter(
                "move_to",
                Invalid::UnknownReference,
            ));
        }
        Some(Some(t)) if t.kind != stage.kind => {
            return Err(ApiError::bad_parameter("move_to", Invalid::NotAllowed));
        }
        Some(target) => target,
    };
    let held = pipelines::opportunities_in(&tx, stage_id).await?;
    if held > 0 {
        let Some(target) = target else {
            return Err(holds_opportunities(held));
        };
        opportunities::move_all(&tx, stage_id, target, auth.user_id(), now).await?;
    }
    pipelines::delete_stage(&tx, stage_id).await?;
    let saved = rapport_store::repos::save(&tx, &p, now).await?;
    pipelines::save_stages(&tx, &saved, &before.stages).await?;
    let (before, saved) = (Pipeline::from(before), Pipeline::from(saved));
    audit::record_and_commit(
        tx,
        &state,
        &auth.origin,
        audit::Subject::new("pipeline", saved.id),
        "update",
        audit::changes(Some(&before), Some(&saved)),
    )
    .await?;
    Ok(HttpResponse::NoContent().finish())
}

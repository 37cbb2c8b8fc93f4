//! Survey triggers: which survey goes out when a ticket is resolved, a deal won, an order
//! fulfilled, or every quarter. Read with `surveys:read`, changed with `settings:write`. The
//! invitations are sent by the `surveys.trigger` and `surveys.quarterly` jobs.

use actix_web::{HttpResponse, delete, get, patch, post, web};
use chrono::{DateTime, Utc};
use rapport_domain::survey::{SurveyEvent, SurveyTrigger as DomainTrigger};
use rapport_domain::validation::{Errors, Invalid};
use rapport_store::StoreError;
use rapport_store::repos::{self, survey_triggers, surveys};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_actix_web::service_config::ServiceConfig;
use uuid::Uuid;

use crate::audit;
use crate::auth::Authorized;
use crate::auth::scopes::{SettingsWrite, SurveysRead};
use crate::error::{ApiError, ProblemCode};
use crate::extract::{IfMatch, IfMatchParam, Json};
use crate::i18n::Text;
use crate::patch::Patch;
use crate::references;
use crate::respond;
use crate::routes::surveys::check_current;
use crate::schemas;
use crate::state::AppState;

pub fn configure(cfg: &mut ServiceConfig) {
    cfg.service(list_survey_triggers)
        .service(create_survey_trigger)
        .service(get_survey_trigger)
        .service(update_survey_trigger)
        .service(delete_survey_trigger);
}

/// Sends a survey when something happens: to the ticket's contact (else its customer's primary
/// contact) when a ticket is resolved, likewise for a won opportunity and a fulfilled order;
/// `quarterly`, to the primary contact of every customer in stage `customer` or `loyal`, once
/// a quarter. Each invitation honours the survey's quiet period and withdrawn consent. When a
/// survey gets a new version, its triggers send the new one.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct SurveyTrigger {
    pub id: Uuid,
    pub survey_id: Uuid,
    #[schema(schema_with = schemas::survey_event)]
    pub event: String,
    pub enabled: bool,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub version: i32,
}

impl From<DomainTrigger> for SurveyTrigger {
    fn from(t: DomainTrigger) -> Self {
        SurveyTrigger {
            id: t.id,
            survey_id: t.survey_id,
            event: t.event.as_str().to_owned(),
            enabled: t.enabled,
            created_at: t.created_at,
            updated_at: t.updated_at,
            version: t.version,
        }
    }
}

crate::list_type!(SurveyTriggerList, SurveyTrigger);

/// A new trigger.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateSurveyTrigger {
    #[schema(required = true)]
    pub survey_id: Option<Uuid>,
    #[schema(schema_with = schemas::survey_event)]
    pub event: Option<String>,
    /// Default `true`.
    pub enabled: Option<bool>,
}

/// Changes to a trigger.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateSurveyTrigger {
    #[serde(default)]
    #[schema(schema_with = schemas::survey_event)]
    pub event: Patch<String>,
    #[serde(default)]
    #[schema(value_type = Option<bool>)]
    pub enabled: Patch<bool>,
}

fn taken(e: StoreError) -> ApiError {
    if e.is_conflict_on(survey_triggers::SURVEY_EVENT_KEY) {
        ApiError::conflict(
            ProblemCode::Duplicate,
            Text::new(
                "This survey already has a trigger for this event.",
                "该问卷已有此事件的触发器。",
            ),
        )
    } else {
        e.into()
    }
}

/// List survey triggers, oldest first.
#[utoipa::path(
    tag = "surveys",
    responses((status = 200, body = SurveyTriggerList)),
    security(("oauth2" = ["surveys:read"]))
)]
#[get("/survey-triggers")]
async fn list_survey_triggers(
    state: web::Data<AppState>,
    _auth: Authorized<SurveysRead>,
) -> Result<HttpResponse, ApiError> {
    let all = survey_triggers::all(state.store.conn()).await?;
    Ok(HttpResponse::Ok().json(SurveyTriggerList {
        data: all.into_iter().map(SurveyTrigger::from).collect(),
        next_cursor: None,
    }))
}

/// Create a survey trigger (409 `duplicate` for a second one of a survey and event). Audited.
#[utoipa::path(
    tag = "surveys",
    request_body = CreateSurveyTrigger,
    responses((status = 201, body = SurveyTrigger, headers(("Location" = String), ("ETag" = String)))),
    security(("oauth2" = ["settings:write"]))
)]
#[post("/survey-triggers")]
async fn create_survey_trigger(
    state: web::Data<AppState>,
    auth: Authorized<SettingsWrite>,
    body: Json<CreateSurveyTrigger>,
) -> Result<HttpResponse, ApiError> {
    let body = body.into_inner()?;
    let tx = state.store.begin().await?;
    let mut errors = Errors::default();
    let event = errors.required("event", body.event.as_deref(), SurveyEvent::parse);
    let survey_id = match body.survey_id {
        None => {
            errors.add("survey_id", Invalid::Required);
            None
        }
        Some(id) => {
            match references::known("survey_id", surveys::get(&tx, id).await, &mut errors)? {
                Some(survey) => {
                    check_current(&survey)?;
                    Some(survey.id)
                }
                None => None,
            }
        }
    };
    let now = state.clock.now();
    let trigger =
        errors.finish_with(
            survey_id
                .zip(event)
                .map(|(survey_id, event)| DomainTrigger {
                    id: Uuid::now_v7(),
                    survey_id,
                    event,
                    enabled: body.enabled.unwrap_or(true),
                    created_at: now,
                    updated_at: now,
                    version: 1,
                }),
        )?;
    survey_triggers::insert(&tx, &trigger)
        .await
        .map_err(taken)?;
    let body = SurveyTrigger::from(trigger);
    audit::record_and_commit(
        tx,
        &state,
        &auth.origin,
        audit::Subject::new("survey_trigger", body.id),
        "create",
        audit::changes(None, Some(&body)),
    )
    .await?;
    Ok(respond::created(
        &body,
        body.version,
        format!("/v1/survey-triggers/{}", body.id),
    ))
}

/// Get a survey trigger.
#[utoipa::path(
    tag = "surveys",
    params(("id" = Uuid, Path)),
    responses((status = 200, body = SurveyTrigger, headers(("ETag" = String)))),
    security(("oauth2" = ["surveys:read"]))
)]
#[get("/survey-triggers/{id}")]
async fn get_survey_trigger(
    state: web::Data<AppState>,
    _auth: Authorized<SurveysRead>,
    id: web::Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    let t = SurveyTrigger::from(survey_triggers::get(state.store.conn(), id.into_inner()).await?);
    Ok(respond::ok(&t, t.version))
}

/// Change a survey trigger: its event, or turn it off and on. Audited.
#[utoipa::path(
    tag = "surveys",
    params(("id" = Uuid, Path), IfMatchParam),
    request_body = UpdateSurveyTrigger,
    responses((status = 200, body = SurveyTrigger, headers(("ETag" = String)))),
    security(("oauth2" = ["settings:write"]))
)]
#[patch("/survey-triggers/{id}")]
async fn update_survey_trigger(
    state: web::Data<AppState>,
    auth: Authorized<SettingsWrite>,
    id: web::Path<Uuid>,
    if_match: IfMatch,
    body: Json<UpdateSurveyTrigger>,
) -> Result<HttpResponse, ApiError> {
    let body = body.into_inner()?;
    let tx = state.store.begin().await?;
    let before: DomainTrigger = repos::get_locked(&tx, id.into_inner()).await?;
    if_match.check(before.version)?;
    let mut t = before.clone();
    let mut errors = Errors::default();
    body.event
        .required(&mut errors, "event", &mut t.event, SurveyEvent::parse);
    if let Some(enabled) = body.enabled.into_required(&mut errors, "enabled") {
        t.enabled = enabled;
    }
    errors.finish()?;
    let saved = SurveyTrigger::from(
        repos::save(&tx, &t, state.clock.now())
            .await
            .map_err(taken)?,
    );
    audit::record_and_commit(
        tx,
        &state,
        &auth.origin,
        audit::Subject::new("survey_trigger", saved.id),
        "update",
        audit::changes(Some(&SurveyTrigger::from(before)), Some(&saved)),
    )
    .await?;
    Ok(respond::ok(&saved, saved.version))
}

/// Delete a survey trigger. The invitations it sent stay. Audited.
#[utoipa::path(
    tag = "surveys",
    params(("id" = Uuid, Path), IfMatchParam),
    responses((status = 204, description = "Deleted")),
    security(("oauth2" = ["settings:write"]))
)]
#[delete("/survey-triggers/{id}")]
async fn delete_survey_trigger(
    state: web::Data<AppState>,
    auth: Authorized<SettingsWrite>,
    id: web::Path<Uuid>,
    if_match: IfMatch,
) -> Result<HttpResponse, ApiError> {
    let tx = state.store.begin().await?;
    let t: DomainTrigger = repos::get_locked(&tx, id.into_inner()).await?;
    if_match.check(t.version)?;
    survey_triggers::delete(&tx, t.id).await?;
    audit::record_and_commit(
        tx,
        &state,
        &auth.origin,
        audit::Subject::new("survey_trigger", t.id),
        "delete",
        audit::changes(Some(&SurveyTrigger::from(t)), None),
    )
    .await?;
    Ok(HttpResponse::NoContent().finish())
}

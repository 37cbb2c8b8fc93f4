//! Surveys: questionnaires of tagged questions. Read with `surveys:read`, written with
//! `surveys:write`. A survey with an answer is versioned (`POST /v1/surveys/{id}/versions`),
//! never edited, so that its answers stay comparable.

use actix_web::{HttpResponse, get, patch, post, web};
use chrono::{DateTime, Utc};
use rapport_domain::article::Language;
use rapport_domain::name::Title;
use rapport_domain::survey::{
    EXPIRES_IN_DAYS, QUIET_DAYS, Question, RawQuestion, Survey as DomainSurvey, parse_questions,
    within,
};
use rapport_domain::validation::{Errors, Invalid};
use rapport_store::repos::{self, survey_triggers, surveys};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_actix_web::service_config::ServiceConfig;
use uuid::Uuid;

use crate::audit;
use crate::auth::Authorized;
use crate::auth::scopes::{SurveysRead, SurveysWrite};
use crate::error::{ApiError, ProblemCode};
use crate::extract::{IfMatch, IfMatchParam, Json, Query};
use crate::feed;
use crate::i18n::Text;
use crate::pagination::{Paged, page_params};
use crate::patch::Patch;
use crate::respond;
use crate::schemas;
use crate::state::AppState;

pub fn configure(cfg: &mut ServiceConfig) {
    cfg.service(list_surveys)
        .service(create_survey)
        .service(get_survey)
        .service(update_survey)
        .service(version_survey);
}

/// One answer a choice question offers.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ChoiceOption {
    /// Lower-case letters, digits and `_`; what an answer sends.
    #[schema(example = "price")]
    pub code: Option<String>,
    #[schema(example = "The price")]
    pub label: Option<String>,
}

/// A question as sent.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct QuestionInput {
    /// Lower-case letters, digits and `_`, unique in the survey; default `q<position>`.
    #[schema(example = "speed")]
    pub id: Option<String>,
    #[schema(schema_with = schemas::question_kind)]
    pub kind: Option<String>,
    #[schema(example = "How quickly did we answer?")]
    pub text: Option<String>,
    /// Default `true`.
    pub required: Option<bool>,
    /// `overall` (the default), `response_speed`, `problem_solving`, `product`, `staff`, or a
    /// code of your own.
    #[schema(example = "response_speed")]
    pub dimension: Option<String>,
    /// A `rating`'s top value, 2 to 10 (required for a rating, refused otherwise).
    pub max: Option<i64>,
    /// A choice question's options: 2 to 20, codes unique.
    pub options: Option<Vec<ChoiceOption>>,
}

/// A question of a survey.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct SurveyQuestion {
    pub id: String,
    #[schema(schema_with = schemas::question_kind)]
    pub kind: String,
    pub text: String,
    pub required: bool,
    pub dimension: String,
    /// A rating's top value; `null` for other kinds.
    pub max: Option<i64>,
    /// `[]` unless a choice question.
    pub options: Vec<ChoiceOption>,
}

impl From<&Question> for SurveyQuestion {
    fn from(q: &Question) -> Self {
        SurveyQuestion {
            id: q.id.to_string(),
            kind: q.kind.as_str().to_owned(),
            text: q.text.to_string(),
            required: q.required,
            dimension: q.dimension.to_string(),
            max: q.max,
            options: options_of(q),
        }
    }
}

pub(crate) fn options_of(q: &Question) -> Vec<ChoiceOption> {
    q.options
        .iter()
        .map(|o| ChoiceOption {
            code: Some(o.code.to_string()),
            label: Some(o.label.to_string()),
        })
        .collect()
}

/// A survey.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Survey {
    pub id: Uuid,
    #[schema(example = "After your ticket")]
    pub title: String,
    #[schema(example = "en")]
    pub language: String,
    pub questions: Vec<SurveyQuestion>,
    /// 1, then one more per new version.
    pub revision: i32,
    /// The survey this one is a new version of.
    pub previous_id: Option<Uuid>,
    /// The newer version that replaced it: it invites no one any more.
    pub superseded_by_id: Option<Uuid>,
    /// How many days an invitation stays answerable.
    pub expires_in_days: i64,
    /// A contact invited (by any survey) within this many days is not invited again.
    pub quiet_days: i64,
    /// A CSAT answer at most this opens a follow-up ticket; `null`: never.
    pub follow_up_csat_at_most: Option<i64>,
    /// An NPS answer at most this opens a follow-up ticket; `null`: never.
    pub follow_up_nps_at_most: Option<i64>,
    /// How many invitations have been answered.
    pub answered: i64,
    pub created_by: Option<Uuid>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub version: i32,
}

impl Survey {
    fn new(s: DomainSurvey, answered: i64) -> Survey {
        Survey {
            id: s.id,
            title: s.title.to_string(),
            language: s.language.as_str().to_owned(),
            questions: s.questions.iter().map(SurveyQuestion::from).collect(),
            revision: s.revision,
            previous_id: s.previous_id,
            superseded_by_id: s.superseded_by_id,
            expires_in_days: s.expires_in_days,
            quiet_days: s.quiet_days,
            follow_up_csat_at_most: s.follow_up_csat_at_most,
            follow_up_nps_at_most: s.follow_up_nps_at_most,
            answered,
            created_by: s.created_by,
            created_at: s.created_at,
            updated_at: s.updated_at,
            version: s.version,
        }
    }
}

crate::list_type!(SurveyList, Survey);

/// A new survey (or a new version of one).
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateSurvey {
    #[schema(required = true, example = "After your ticket")]
    pub title: Option<String>,
    /// `en` (the default), `zh-CN`, …
    pub language: Option<String>,
    /// 1 to 50, in the order they are asked.
    #[schema(required = true)]
    pub questions: Option<Vec<QuestionInput>>,
    /// 1 to 365, default 14.
    pub expires_in_days: Option<i64>,
    /// 0 to 365, default 30.
    pub quiet_days: Option<i64>,
    /// Default 2; `null`: never follow up on CSAT.
    #[serde(default)]
    #[schema(value_type = Option<i64>)]
    pub follow_up_csat_at_most: Patch<i64>,
    /// Default 6; `null`: never follow up on NPS.
    #[serde(default)]
    #[schema(value_type = Option<i64>)]
    pub follow_up_nps_at_most: Patch<i64>,
}

/// Changes to a survey without answers.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateSurvey {
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    pub title: Patch<String>,
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    pub language: Patch<String>,
    #[serde(default)]
    #[schema(value_type = Option<Vec<QuestionInput>>)]
    pub questions: Patch<Vec<QuestionInput>>,
    #[serde(default)]
    #[schema(value_type = Option<i64>)]
    pub expires_in_days: Patch<i64>,
    #[serde(default)]
    #[schema(value_type = Option<i64>)]
    pub quiet_days: Patch<i64>,
    #[serde(default)]
    #[schema(value_type = Option<i64>)]
    pub follow_up_csat_at_most: Patch<i64>,
    #[serde(default)]
    #[schema(value_type = Option<i64>)]
    pub follow_up_nps_at_most: Patch<i64>,
}

/// Paging of surveys.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct SurveyListParams {
    /// 1 to 200, default 50.
    pub limit: Option<i64>,
    pub cursor: Option<String>,
    /// The change feed: every survey changed at or after this time, oldest change first,
    /// each at its latest version. Changes show once they are 5 seconds old. Walk the pages
    /// with `cursor`; at the end, ask again with the last `updated_at` you saw (keep the
    /// highest `version`). Surveys are never deleted (they are closed).
    #[param(example = "2026-12-01T00:00:00Z")]
    pub updated_since: Option<DateTime<Utc>>,
}

fn read_questions(input: &[QuestionInput], errors: &mut Errors) -> Option<Vec<Question>> {
    let options: Vec<Vec<(Option<&str>, Option<&str>)>> = input
        .iter()
        .map(|q| {
            q.options
                .iter()
                .flatten()
                .map(|o| (o.code.as_deref(), o.label.as_deref()))
                .collect()
        })
        .collect();
    let raw: Vec<RawQuestion<'_>> = input
        .iter()
        .zip(&options)
        .map(|(q, opts)| RawQuestion {
            id: q.id.as_deref(),
            kind: q.kind.as_deref(),
            text: q.text.as_deref(),
            required: q.required,
            dimension: q.dimension.as_deref(),
            max: q.max,
            options: q.options.as_ref().map(|_| opts.as_slice()),
        })
        .collect();
    parse_questions(&raw, errors)
}

/// A follow-up threshold: absent takes `default`, `null` turns it off.
fn threshold(
    patch: Patch<i64>,
    field: &str,
    range: std::ops::RangeInclusive<i64>,
    default: Option<i64>,
    errors: &mut Errors,
) -> Option<Option<i64>> {
    match patch {
        Patch::Absent => Some(default),
        Patch::Null => Some(None),
        Patch::Value(v) => errors.check(field, within(range, v)).map(Some),
    }
}

/// The survey a create body describes (`previous`: the survey it is a new version of).
fn read_survey(
    body: CreateSurvey,
    previous: Option<&DomainSurvey>,
    created_by: Option<Uuid>,
    now: DateTime<Utc>,
) -> Result<DomainSurvey, ApiError> {
    let mut errors = Errors::default();
    let title = errors.required("title", body.title.as_deref(), Title::parse);
    let language = errors.check(
        "language",
        Language::parse(body.language.as_deref().unwrap_or("en")),
    );
    let questions = match &body.questions {
        None => {
            errors.add("questions", Invalid::Required);
            None
        }
        Some(q) => read_questions(q, &mut errors),
    };
    let expires = errors.check(
        "expires_in_days",
        within(EXPIRES_IN_DAYS, body.expires_in_days.unwrap_or(14)),
    );
    let quiet = errors.check(
        "quiet_days",
        within(QUIET_DAYS, body.quiet_days.unwrap_or(30)),
    );
    let csat = threshold(
        body.follow_up_csat_at_most,
        "follow_up_csat_at_most",
        1..=5,
        Some(2),
        &mut errors,
    );
    let nps = threshold(
        body.follow_up_nps_at_most,
        "follow_up_nps_at_most",
        0..=10,
        Some(6),
        &mut errors,
    );
    let survey = (|| {
        Some(DomainSurvey {
            id: Uuid::now_v7(),
            title: title?,
            language: language?,
            questions: questions?,
            revision: previous.map_or(1, |p| p.revision + 1),
            previous_id: previous.map(|p| p.id),
            superseded_by_id: None,
            expires_in_days: expires?,
            quiet_days: quiet?,
            follow_up_csat_at_most: csat?,
            follow_up_nps_at_most: nps?,
            created_by,
            created_at: now,
            updated_at: now,
            version: 1,
        })
    })();
    Ok(errors.finish_with(survey)?)
}

/// 409 unless `survey` is the newest version.
pub(crate) fn check_current(survey: &DomainSurvey) -> Result<(), ApiError> {
    if survey.superseded_by_id.is_some() {
        return Err(ApiError::conflict(
            ProblemCode::Conflict,
            Text::new(
                "A newer version of this survey replaced it; use that one.",
                "该问卷已被新版本取代，请使用新版本。",
            ),
        ));
    }
    Ok(())
}

async fn answered(db: &impl rapport_store::Conn, id: Uuid) -> Result<i64, ApiError> {
    Ok(surveys::answered_counts(db, &[id])
        .await?
        .get(&id)
        .copied()
        .unwrap_or(0))
}

/// List surveys, newest first.
#[utoipa::path(
    tag = "surveys",
    params(SurveyListParams),
    responses((status = 200, body = SurveyList)),
    security(("oauth2" = ["surveys:read"]))
)]
#[get("/surveys")]
async fn list_surveys(
    state: web::Data<AppState>,
    auth: Authorized<SurveysRead>,
    params: Query<SurveyListParams>,
) -> Result<HttpResponse, ApiError> {
    let p = params.into_inner()?;
    let sort = feed::sort_or(p.updated_since, "-created_at");
    let (limit, cursor) = page_params(p.limit, p.cursor.as_deref(), sort)?;
    let changes = p.updated_since.map(|since| feed::changes(&state, since));
    let db = state.list_reads(&auth);
    let page = surveys::list(db, changes, cursor, limit).await?;
    let ids: Vec<Uuid> = page.items.iter().map(|s| s.id).collect();
    let counts = surveys::answered_counts(db, &ids).await?;
    Ok(
        HttpResponse::Ok().json(SurveyList::from(Paged::from_page(page, sort, |s| {
            let n = counts.get(&s.id).copied().unwrap_or(0);
            Survey::new(s, n)
        }))),
    )
}

/// Create a survey. Audited.
#[utoipa::path(
    tag = "surveys",
    request_body = CreateSurvey,
    responses((status = 201, body = Survey, headers(("Location" = String), ("ETag" = String)))),
    security(("oauth2" = ["surveys:write"]))
)]
#[post("/surveys")]
async fn create_survey(
    state: web::Data<AppState>,
    auth: Authorized<SurveysWrite>,
    body: Json<CreateSurvey>,
) -> Result<HttpResponse, ApiError> {
    let survey = read_survey(
        body.into_inner()?,
        None,
        auth.actor().id(),
        state.clock.now(),
    )?;
    let tx = state.store.begin().await?;
    surveys::insert(&tx, &survey).await?;
    let body = Survey::new(survey, 0);
    audit::record_and_commit(
        tx,
        &state,
        &auth.origin,
        audit::Subject::new("survey", body.id),
        "create",
        audit::changes(None, Some(&body)),
    )
    .await?;
    Ok(respond::created(
        &body,
        body.version,
        format!("/v1/surveys/{}", body.id),
    ))
}

/// Get a survey.
#[utoipa::path(
    tag = "surveys",
    params(("id" = Uuid, Path)),
    responses((status = 200, body = Survey, headers(("ETag" = String)))),
    security(("oauth2" = ["surveys:read"]))
)]
#[get("/surveys/{id}")]
async fn get_survey(
    state: web::Data<AppState>,
    _auth: Authorized<SurveysRead>,
    id: web::Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    let db = state.store.conn();
    let survey = surveys::get(db, id.into_inner()).await?;
    let n = answered(db, survey.id).await?;
    let body = Survey::new(survey, n);
    Ok(respond::ok(&body, body.version))
}

/// Change a survey that has no answer yet (409 `survey_answered` once it has: create a new
/// version instead). Audited.
#[utoipa::path(
    tag = "surveys",
    params(("id" = Uuid, Path), IfMatchParam),
    request_body = UpdateSurvey,
    responses((status = 200, body = Survey, headers(("ETag" = String)))),
    security(("oauth2" = ["surveys:write"]))
)]
#[patch("/surveys/{id}")]
async fn update_survey(
    state: web::Data<AppState>,
    auth: Authorized<SurveysWrite>,
    id: web::Path<Uuid>,
    if_match: IfMatch,
    body: Json<UpdateSurvey>,
) -> Result<HttpResponse, ApiError> {
    let body = body.into_inner()?;
    let tx = state.store.begin().await?;
    let before: DomainSurvey = repos::get_locked(&tx, id.into_inner()).await?;
    if_match.check(before.version)?;
    check_current(&before)?;
    if surveys::has_answers(&tx, before.id).await? {
        return Err(ApiError::conflict_of(ProblemCode::SurveyAnswered));
    }
    let mut s = before.clone();
    let mut errors = Errors::default();
    body.title
        .required(&mut errors, "title", &mut s.title, Title::parse);
    body.language
        .required(&mut errors, "language", &mut s.language, Language::parse);
    if let Some(q) = body.questions.into_required(&mut errors, "questions")
        && let Some(questions) = read_questions(&q, &mut errors)
    {
        s.questions = questions;
    }
    for (field, patch, slot, range) in [
        (
            "expires_in_days",
            body.expires_in_days,
            &mut s.expires_in_days,
            EXPIRES_IN_DAYS,
        ),
        ("quiet_days", body.quiet_days, &mut s.quiet_days, QUIET_DAYS),
    ] {
        if let Some(v) = patch
            .into_required(&mut errors, field)
            .and_then(|v| errors.check(field, within(range, v)))
        {
            *slot = v;
        }
    }
    for (field, patch, slot, range) in [
        (
            "follow_up_csat_at_most",
            body.follow_up_csat_at_most,
            &mut s.follow_up_csat_at_most,
            1..=5,
        ),
        (
            "follow_up_nps_at_most",
            body.follow_up_nps_at_most,
            &mut s.follow_up_nps_at_most,
            0..=10,
        ),
    ] {
        if let Some(v) = threshold(patch, field, range, *slot, &mut errors) {
            *slot = v;
        }
    }
    errors.finish()?;
    let saved = Survey::new(repos::save(&tx, &s, state.clock.now()).await?, 0);
    audit::record_and_commit(
        tx,
        &state,
        &auth.origin,
        audit::Subject::new("survey", saved.id),
        "update",
        audit::changes(Some(&Survey::new(before, 0)), Some(&saved)),
    )
    .await?;
    Ok(respond::ok(&saved, saved.version))
}

/// A new version of a survey: a new survey (`revision` one more, `previous_id` this one) that
/// replaces it. The old one keeps its answers and its open invitations; its triggers send the
/// new one. Audited.
#[utoipa::path(
    tag = "surveys",
    params(("id" = Uuid, Path)),
    request_body = CreateSurvey,
    responses((status = 201, body = Survey, headers(("Location" = String), ("ETag" = String)))),
    security(("oauth2" = ["surveys:write"]))
)]
#[post("/surveys/{id}/versions")]
async fn version_survey(
    state: web::Data<AppState>,
    auth: Authorized<SurveysWrite>,
    id: web::Path<Uuid>,
    body: Json<CreateSurvey>,
) -> Result<HttpResponse, ApiError> {
    let body = body.into_inner()?;
    let now = state.clock.now();
    let tx = state.store.begin().await?;
    let old: DomainSurvey = repos::get_locked(&tx, id.into_inner()).await?;
    check_current(&old)?;
    let survey = read_survey(body, Some(&old), auth.actor().id(), now)?;
    surveys::insert(&tx, &survey).await?;
    let replaced = DomainSurvey {
        superseded_by_id: Some(survey.id),
        ..old.clone()
    };
    repos::save(&tx, &replaced, now).await?;
    survey_triggers::follow_version(&tx, old.id, survey.id, now).await?;
    let body = Survey::new(survey, 0);
    audit::record(
        &tx,
        &state,
        &auth.origin,
        audit::Subject::new("survey", old.id),
        "update",
        serde_json::json!({"superseded_by_id": {"before": null, "after": body.id}}),
    )
    .await?;
    audit::record(
        &tx,
        &state,
        &auth.origin,
        audit::Subject::new("survey", body.id),
        "create",
        audit::changes(None, Some(&body)),
    )
    .await?;
    audit::commit(tx, &state, &auth.origin).await?;
    Ok(respond::created(
        &body,
        body.version,
        format!("/v1/surveys/{}", body.id),
    ))
}

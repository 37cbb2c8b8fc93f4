//! Background jobs, for admins (`settings:write`): what ran, what waits for a retry, what is
//! dead, and running a dead job again.

use actix_web::{HttpResponse, get, post, web};
use chrono::{DateTime, Utc};
use rapport_domain::job::{self as domain, JobStatus};
use rapport_store::repos::{self, jobs};
use serde::Serialize;
use serde_json::{Map, Value};
use utoipa::{IntoParams, ToSchema};
use utoipa_actix_web::service_config::ServiceConfig;
use uuid::Uuid;

use crate::audit;
use crate::auth::Authorized;
use crate::auth::scopes::SettingsWrite;
use crate::error::{ApiError, ProblemCode};
use crate::extract::{Query, code_param};
use crate::i18n::Text;
use crate::pagination::{Paged, page_params};
use crate::respond;
use crate::schemas;
use crate::state::AppState;

pub fn configure(cfg: &mut ServiceConfig) {
    cfg.service(list_jobs).service(get_job).service(retry_job);
}

/// A unit of background work: a scheduled task (`maintenance.purge`), or work that a change
/// queued in its own transaction. Jobs run at least once; a failed run is retried after 10 s,
/// doubling up to an hour, and a job out of attempts is `dead` until an admin retries it.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Job {
    pub id: Uuid,
    /// What the job does, `area.action`.
    #[schema(example = "maintenance.purge")]
    pub kind: String,
    #[schema(schema_with = schemas::job_status)]
    pub status: String,
    /// The job's input: ids and settings, never personal data.
    #[schema(value_type = Object, example = json!({"scheduled_for": "2026-12-03T10:15:00Z"}))]
    pub payload: Value,
    /// A scheduled job's occurrence (`schedule:<kind>:<time>`): one job per key.
    pub key: Option<String>,
    /// Runs started, the current one included.
    pub attempts: i32,
    /// Runs it gets before it is dead.
    pub max_attempts: i32,
    /// Not run before this time (the next retry, for a failed job).
    pub run_at: DateTime<Utc>,
    /// The worker running it (`pid-<process>-<random>`), while `running`.
    pub worker: Option<String>,
    /// While `running`: past this time without a renewal, another worker takes it over.
    pub lease_expires_at: Option<DateTime<Utc>>,
    /// Why the last failed run failed.
    pub last_error: Option<String>,
    /// When it succeeded or died.
    pub finished_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub version: i32,
}

crate::list_type!(JobList, Job);

impl From<domain::Job> for Job {
    fn from(j: domain::Job) -> Self {
        Job {
            id: j.id,
            kind: j.kind.to_string(),
            status: j.status.as_str().to_owned(),
            payload: j.payload,
            key: j.key,
            attempts: j.attempts,
            max_attempts: j.max_attempts,
            run_at: j.run_at,
            worker: j.worker,
            lease_expires_at: j.lease_expires_at,
            last_error: j.last_error,
            finished_at: j.finished_at,
            created_at: j.created_at,
            updated_at: j.updated_at,
            version: j.version,
        }
    }
}

/// Filters and paging of the job list, newest first.
#[derive(Debug, serde::Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct JobListParams {
    #[param(schema_with = schemas::job_status)]
    pub status: Option<String>,
    /// A job kind, e.g. `maintenance.purge`.
    pub kind: Option<String>,
    /// 1 to 200, default 50.
    pub limit: Option<i64>,
    pub cursor: Option<String>,
}

/// List jobs, newest first (`?status=dead` for those waiting for an admin).
#[utoipa::path(
    tag = "jobs",
    params(JobListParams),
    responses((status = 200, body = JobList)),
    security(("oauth2" = ["settings:write"]))
)]
#[get("/jobs")]
async fn list_jobs(
    state: web::Data<AppState>,
    _auth: Authorized<SettingsWrite>,
    params: Query<JobListParams>,
) -> Result<HttpResponse, ApiError> {
    let p = params.into_inner()?;
    let (limit, cursor) = page_params(p.limit, p.cursor.as_deref(), "-id")?;
    let status = code_param("status", p.status.as_deref(), JobStatus::parse)?;
    let filter = jobs::JobFilter {
        status,
        kind: p.kind,
    };
    let page = jobs::list(state.store.conn(), &filter, cursor, limit).await?;
    Ok(HttpResponse::Ok().json(JobList::from(Paged::from_page(page, "-id", Job::from))))
}

/// Get a job.
#[utoipa::path(
    tag = "jobs",
    params(("id" = Uuid, Path)),
    responses((status = 200, body = Job, headers(("ETag" = String)))),
    security(("oauth2" = ["settings:write"]))
)]
#[get("/jobs/{id}")]
async fn get_job(
    state: web::Data<AppState>,
    _auth: Authorized<SettingsWrite>,
    id: web::Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    let job = Job::from(jobs::get(state.store.conn(), id.into_inner()).await?);
    Ok(respond::ok(&job, job.version))
}

/// Run a dead job again, with all its attempts, now. Audited.
#[utoipa::path(
    tag = "jobs",
    params(("id" = Uuid, Path)),
    responses(
        (status = 200, body = Job, headers(("ETag" = String))),
        (status = 409, description = "The job is not dead (its status in `job_status`)", body = crate::error::Problem, content_type = "application/problem+json")
    ),
    security(("oauth2" = ["settings:write"]))
)]
#[post("/jobs/{id}/retry")]
async fn retry_job(
    state: web::Data<AppState>,
    auth: Authorized<SettingsWrite>,
    id: web::Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    let tx = state.store.begin().await?;
    let before: domain::Job = repos::get_locked(&tx, id.into_inner()).await?;
    let now = state.clock.now();
    let mut after = before.clone();
    after.retry(now).map_err(|e| {
        let mut extra = Map::new();
        extra.insert("job_status".into(), Value::from(e.status.as_str()));
        ApiError::Conflict {
            code: ProblemCode::InvalidTransition,
            detail: Text::new(
                format!("Only dead jobs can be retried; this one is {}.", e.status),
                format!(
                    "只能重试已失败终止（dead）的任务；该任务状态为 {}。",
                    e.status
                ),
            ),
            extra,
        }
    })?;
    let saved = Job::from(repos::save(&tx, &after, now).await?);
    audit::record_and_commit(
        tx,
        &state,
        &auth.origin,
        audit::Subject::new("job", saved.id),
        "retry",
        audit::changes(Some(&Job::from(before)), Some(&saved)),
    )
    .await?;
    Ok(respond::ok(&saved, saved.version))
}

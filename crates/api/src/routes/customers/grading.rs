//! Running the value grading now (`POST /v1/customers/grading/run`); it runs daily too.

use actix_web::http::header;
use actix_web::{HttpResponse, post, web};
use rapport_domain::grading::JOB;
use rapport_domain::job::{Job as DomainJob, JobKind};
use rapport_store::repos::jobs;
use serde_json::json;

use crate::audit;
use crate::auth::Authorized;
use crate::auth::scopes::SettingsWrite;
use crate::error::ApiError;
use crate::routes::jobs::Job;
use crate::state::AppState;

/// Grade every customer now: queues the grading job (RFM from orders and deals won without
/// an order; grades locked by hand are kept), which also runs daily. Answers the job; follow
/// it at its `Location`. Audited.
#[utoipa::path(
    tag = "customers",
    responses((status = 202, body = Job, headers(("Location" = String, description = "The job")))),
    security(("oauth2" = ["settings:write"]))
)]
#[post("/customers/grading/run")]
pub async fn run_grading(
    state: web::Data<AppState>,
    auth: Authorized<SettingsWrite>,
) -> Result<HttpResponse, ApiError> {
    let now = state.clock.now();
    let kind = JobKind::parse(JOB).map_err(|e| ApiError::internal("the grading job kind", e))?;
    let job = DomainJob::new(kind, json!({}), None, now, now);
    let tx = state.store.begin().await?;
    jobs::enqueue(&tx, &job).await?;
    let body = Job::from(job);
    audit::record_and_commit(
        tx,
        &state,
        &auth.origin,
        audit::Subject::new("job", body.id),
        "create",
        audit::changes(None, Some(&body)),
    )
    .await?;
    Ok(HttpResponse::Accepted()
        .insert_header((header::LOCATION, format!("/v1/jobs/{}", body.id)))
        .json(body))
}

//! Liveness, readiness and metrics, outside `/v1`.

use actix_web::{HttpResponse, get, web};
use serde::Serialize;
use utoipa::ToSchema;
use utoipa_actix_web::service_config::ServiceConfig;

use crate::error::{ApiError, Failure};
use crate::middleware::telemetry::Metrics;
use crate::state::AppState;

pub fn configure(cfg: &mut ServiceConfig) {
    cfg.service(live).service(ready).service(metrics);
}

/// The answer of the health checks.
#[derive(Debug, Serialize, ToSchema)]
pub struct Health {
    /// `ok`
    #[schema(example = "ok")]
    pub status: &'static str,
}

/// Liveness: the process answers.
#[utoipa::path(tag = "operations", responses((status = 200, description = "Alive", body = Health)), security(()))]
#[get("/health/live")]
async fn live() -> HttpResponse {
    HttpResponse::Ok().json(Health { status: "ok" })
}

/// Readiness: the database answers too. 503 while it does not; recovers on its own.
#[utoipa::path(tag = "operations", responses((status = 200, description = "Ready", body = Health)), security(()))]
#[get("/health/ready")]
async fn ready(state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    state
        .store
        .ping()
        .await
        .map_err(|e| ApiError::Unavailable(Failure::caused_by("pinging the database", e)))?;
    Ok(HttpResponse::Ok().json(Health { status: "ok" }))
}

/// Prometheus metrics: `rapport_http_requests_total` and
/// `rapport_http_request_duration_seconds` by method, route and status.
#[utoipa::path(
    tag = "operations",
    responses((status = 200, description = "Prometheus text format", body = String, content_type = "text/plain")),
    security(())
)]
#[get("/metrics")]
async fn metrics(metrics: web::Data<Metrics>, state: web::Data<AppState>) -> HttpResponse {
    metrics.set_login_gauges(state.login_limiter.len(), state.passwords.in_flight());
    HttpResponse::Ok()
        .content_type("text/plain; version=0.0.4; charset=utf-8")
        .body(metrics.render())
}

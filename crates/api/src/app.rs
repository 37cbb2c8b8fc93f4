//! The actix application: middleware, routes, the OpenAPI document and the docs page.

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceFactory, ServiceRequest, ServiceResponse};
use actix_web::http::header;
use actix_web::middleware::from_fn;
use actix_web::{App, HttpRequest, HttpResponse, web};
use utoipa_actix_web::AppExt;
use utoipa_swagger_ui::{Config, SwaggerUi};

use crate::allowed_methods::AllowedMethods;
use crate::error::ApiError;
use crate::extract::path_config;
use crate::middleware::browser::{cors, security_headers};
use crate::middleware::idempotency::idempotency;
use crate::middleware::io_home::io_home;
use crate::middleware::masking::mask_personal_fields;
use crate::middleware::problem::render_problems;
use crate::middleware::rate_limit::rate_limit;
use crate::middleware::request_id::request_id;
use crate::middleware::span::request_span;
use crate::middleware::telemetry::{Metrics, telemetry};
use crate::state::AppState;

/// The OpenAPI document as served (the same bytes as `openapi/openapi.json`), and the methods
/// of its paths, read once for every worker.
#[derive(Debug, Clone)]
pub struct OpenApiJson {
    /// Shared bytes: each answer takes a reference, not a copy of the document.
    pub json: web::Bytes,
    pub allowed: AllowedMethods,
}

impl OpenApiJson {
    pub fn new(json: String) -> OpenApiJson {
        let allowed = AllowedMethods::from_document(&json);
        OpenApiJson {
            json: web::Bytes::from(json),
            allowed,
        }
    }
}

/// Builds the application for one worker.
pub fn app(
    state: web::Data<AppState>,
    metrics: web::Data<Metrics>,
    openapi: web::Data<OpenApiJson>,
) -> App<
    impl ServiceFactory<
        ServiceRequest,
        Config = (),
        Response = ServiceResponse<impl MessageBody>,
        Error = actix_web::Error,
        InitError = (),
    >,
> {
    let cors = cors(&state.settings.cors_origins);
    App::new()
        .app_data(state)
        .app_data(metrics)
        .app_data(openapi)
        .app_data(path_config())
        // Outermost last: the request id exists before the request's span names it and before
        // problems quote it; telemetry and everything inside it log within that span;
        // idempotency sits inside, so its refusals are problems too; CORS headers go on
        // problems as well, so a frontend can read them. The lasting runtime's context is
        // outermost, so everything a request opens is its (see `io_home`).
        .wrap(from_fn(idempotency))
        // Outside idempotency, so that replays are masked too.
        .wrap(from_fn(mask_personal_fields))
        // Inside problem rendering, so that a 429 is a problem (with its headers kept).
        .wrap(from_fn(rate_limit))
        .wrap(from_fn(render_problems))
        .wrap(cors)
        .wrap(from_fn(telemetry))
        .wrap(from_fn(request_span))
        .wrap(from_fn(request_id))
        .wrap(from_fn(security_headers))
        .wrap(from_fn(io_home))
        .into_utoipa_app()
        .configure(crate::routes::configure)
        .into_app()
        .route("/openapi.json", web::get().to(serve_openapi))
        .route("/docs", web::get().to(redirect_to_docs))
        .service(SwaggerUi::new("/docs/{_:.*}").config(Config::from("/openapi.json")))
        .default_service(web::to(no_route))
}

async fn serve_openapi(doc: web::Data<OpenApiJson>) -> HttpResponse {
    HttpResponse::Ok()
        .content_type("application/json")
        .body(doc.json.clone())
}

async fn redirect_to_docs() -> HttpResponse {
    HttpResponse::PermanentRedirect()
        .insert_header((header::LOCATION, "/docs/"))
        .finish()
}

/// No route took the request: 405 with `Allow` for a documented path, else 404.
async fn no_route(req: HttpRequest) -> Result<HttpResponse, ApiError> {
    Err(crate::extract::no_such(&req))
}

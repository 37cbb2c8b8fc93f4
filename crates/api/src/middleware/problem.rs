//! Renders every error as `application/problem+json` in the caller's language with the request
//! id — handler errors, extractor errors, and the framework's own 404 and 405 alike, so that no
//! plain-text error ever leaves the server. A failure of ours (500, 503) is logged here, once,
//! with its chain of causes; it runs inside the request's span, so the line names the request.

use actix_web::body::{BoxBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderValue};
use actix_web::middleware::Next;
use actix_web::{Error, HttpMessage};

use crate::error::{ApiError, Chain, PROBLEM_JSON, Problem, ProblemCode};
use crate::i18n::Lang;
use crate::middleware::request_id::RequestId;

/// Middleware: see the module documentation.
///
/// # Errors
/// None of its own: inner errors become problem responses.
pub async fn render_problems(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, Error> {
    let lang = Lang::of(req.request());
    let request_id = req.extensions().get::<RequestId>().map(|r| r.0.clone());
    // Handler and extractor errors arrive as responses carrying their error; inner middleware
    // answers with responses too (never `Err`), so every error passes through here.
    let res = next.call(req).await?.map_into_boxed_body();
    let status = res.status();
    let problem = match res.response().error() {
        Some(err) => match err.as_error::<ApiError>() {
            Some(api_error) => {
                if let Some(failure) = api_error.failure() {
                    tracing::error!(status = status.as_u16(), error = %Chain(failure), "request failed");
                }
                Some(api_error.to_problem(lang))
            }
            None => {
                tracing::debug!(error = %err, "framework error");
                Some(generic(status, lang))
            }
        },
        None if status.is_client_error() || status.is_server_error() => {
            let is_problem = res
                .headers()
                .get(header::CONTENT_TYPE)
                .is_some_and(|ct| ct.as_bytes().starts_with(PROBLEM_JSON.as_bytes()));
            (!is_problem).then(|| generic(status, lang))
        }
        None => None,
    };
    let Some(mut problem) = problem else {
        return Ok(res);
    };
    problem.request_id = request_id;
    let body = serde_json::to_vec(&problem).unwrap_or_default();
    Ok(res.map_body(|head, _| {
        head.headers
            .insert(header::CONTENT_TYPE, HeaderValue::from_static(PROBLEM_JSON));
        head.headers.insert(
            header::CONTENT_LANGUAGE,
            HeaderValue::from_static(lang.tag()),
        );
        head.headers.remove(header::CONTENT_LENGTH);
        BoxBody::new(body)
    }))
}

/// The problem for a status that no [`ApiError`] described (the framework's own answers).
fn generic(status: StatusCode, lang: Lang) -> Problem {
    use ProblemCode as C;
    let code = match status.as_u16() {
        401 => C::Unauthorized,
        403 => C::Forbidden,
        404 => C::NotFound,
        405 => C::MethodNotAllowed,
        409 => C::Conflict,
        412 => C::PreconditionFailed,
        413 => C::PayloadTooLarge,
        415 => C::UnsupportedMediaType,
        422 => C::ValidationFailed,
        429 => C::RateLimited,
        503 => C::ServiceUnavailable,
        s if s >= 500 => C::InternalError,
        _ => C::MalformedRequest,
    };
    Problem::new(status.as_u16(), code, lang)
}

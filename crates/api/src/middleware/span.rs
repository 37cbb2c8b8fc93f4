//! One tracing span per request, so that every line logged while serving it (the access log, a
//! warning in a handler, a failure) names the request id, the method, the route pattern
//! (`/v1/customers/{id}`, never the path with its ids) and, once the token is checked, the
//! caller.

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::middleware::Next;
use actix_web::{Error, HttpMessage};
use tracing::field::Empty;
use tracing::{Instrument, Span};

use crate::auth::{Caller, Principal};
use crate::middleware::request_id::RequestId;

/// The span of the request being served, for what learns more about it later (the caller).
#[derive(Debug, Clone)]
pub struct RequestSpan(Span);

impl RequestSpan {
    /// Records who is calling: the user's id and role, or the integration client's id.
    pub fn record_caller(&self, caller: &Caller) {
        match caller.principal {
            Principal::User { id, .. } => self.0.record("user_id", tracing::field::display(id)),
            Principal::Client { id } => self.0.record("client_id", tracing::field::display(id)),
        };
        self.0.record("role", caller.role().as_str());
    }
}

/// Middleware: opens the request's span and serves the request inside it. It sits inside
/// `request_id`, which it reads.
///
/// # Errors
/// Whatever the inner service fails with.
pub async fn request_span(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<impl MessageBody>, Error> {
    let request_id = req.extensions().get::<RequestId>().map(|r| r.0.clone());
    let route = req
        .match_pattern()
        .unwrap_or_else(|| "unmatched".to_owned());
    // At ERROR level so that the span exists whenever any line is logged: with
    // RAPPORT_LOG=warn, warnings and failures still name their request.
    let span = tracing::error_span!(
        "request",
        request_id = request_id.as_deref().unwrap_or_default(),
        method = req.method().as_str(),
        route,
        user_id = Empty,
        client_id = Empty,
        role = Empty,
    );
    req.extensions_mut().insert(RequestSpan(span.clone()));
    // Inside an async block, so that calling the inner service happens in the span too.
    async move { next.call(req).await }.instrument(span).await
}

//! Middleware every request passes through, outermost first: the lasting runtime's context
//! (io_home), security headers, request id, the request's tracing span, telemetry (metrics and
//! the access log), CORS, problem rendering, request limits, masking of personal fields,
//! idempotency.

pub mod browser;
pub mod idempotency;
pub mod io_home;
pub mod masking;
pub mod problem;
pub mod rate_limit;
pub mod request_id;
pub mod span;
pub mod telemetry;

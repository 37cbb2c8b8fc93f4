//! Middleware every request passes through, outermost first: request id, telemetry (metrics
//! and the access log), problem rendering, idempotency.

pub mod idempotency;
pub mod problem;
pub mod request_id;
pub mod telemetry;

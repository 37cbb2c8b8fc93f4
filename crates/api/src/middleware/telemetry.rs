//! Prometheus metrics and the access log: one line per request with its status and latency,
//! inside the request's span (which names the method, route, request id and caller). The
//! route is the pattern (`/v1/users/{id}`), never the raw path, so ids and tokens in paths stay
//! out of logs and label values stay few.

use std::time::Instant;

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::Method;
use actix_web::middleware::Next;
use actix_web::{Error, web};
use prometheus::{
    Encoder, HistogramOpts, HistogramVec, IntCounterVec, IntGauge, Opts, Registry, TextEncoder,
};

/// The server's metrics, in a registry of their own (so tests can run several servers).
#[derive(Clone)]
pub struct Metrics {
    registry: Registry,
    requests: IntCounterVec,
    latency: HistogramVec,
    login_buckets: IntGauge,
    password_hashes: IntGauge,
}

impl Metrics {
    /// # Errors
    /// Only if the metric definitions are invalid (a bug caught by the unit tests).
    pub fn new() -> Result<Metrics, prometheus::Error> {
        let registry = Registry::new_custom(Some("rapport".into()), None)?;
        let labels = ["method", "route", "status"];
        let requests = IntCounterVec::new(
            Opts::new(
                "http_requests_total",
                "HTTP requests answered, by route and status",
            ),
            &labels,
        )?;
        let latency = HistogramVec::new(
            HistogramOpts::new("http_request_duration_seconds", "HTTP request latency").buckets(
                vec![
                    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0,
                ],
            ),
            &labels,
        )?;
        let login_buckets = IntGauge::new(
            "login_limiter_buckets",
            "Sign-in rate-limit buckets remembered (bounded)",
        )?;
        let password_hashes = IntGauge::new(
            "password_hashes_in_flight",
            "Password hashes running now (bounded by the number of cores)",
        )?;
        registry.register(Box::new(requests.clone()))?;
        registry.register(Box::new(latency.clone()))?;
        registry.register(Box::new(login_buckets.clone()))?;
        registry.register(Box::new(password_hashes.clone()))?;
        Ok(Metrics {
            registry,
            requests,
            latency,
            login_buckets,
            password_hashes,
        })
    }

    /// Sets the gauges of the sign-in defences before a scrape.
    pub fn set_login_gauges(&self, buckets: usize, hashes_in_flight: usize) {
        self.login_buckets
            .set(i64::try_from(buckets).unwrap_or(i64::MAX));
        self.password_hashes
            .set(i64::try_from(hashes_in_flight).unwrap_or(i64::MAX));
    }

    fn observe(&self, method: &Method, route: &str, status: &str, seconds: f64) {
        let labels = [method_label(method), route, status];
        self.requests.with_label_values(&labels).inc();
        self.latency.with_label_values(&labels).observe(seconds);
    }

    /// The Prometheus text exposition of every metric.
    pub fn render(&self) -> String {
        let mut buffer = Vec::new();
        let encoder = TextEncoder::new();
        if let Err(err) = encoder.encode(&self.registry.gather(), &mut buffer) {
            tracing::error!(error = %err, "encoding metrics failed");
        }
        String::from_utf8(buffer).unwrap_or_default()
    }
}

/// The label of a method: the standard ones by name, anything else `OTHER`, so that clients
/// cannot create series at will.
fn method_label(method: &Method) -> &str {
    match method.as_str() {
        known @ ("GET" | "HEAD" | "POST" | "PUT" | "PATCH" | "DELETE" | "OPTIONS" | "TRACE"
        | "CONNECT") => known,
        _ => "OTHER",
    }
}

/// Middleware: counts and times each request and writes its access-log line.
///
/// # Errors
/// Whatever the inner service fails with.
pub async fn telemetry(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<impl MessageBody>, Error> {
    let started = Instant::now();
    let metrics = req.app_data::<web::Data<Metrics>>().cloned();
    let method = req.method().clone();
    let res = next.call(req).await?;
    let elapsed = started.elapsed();
    let route = res
        .request()
        .match_pattern()
        .unwrap_or_else(|| "unmatched".to_owned());
    let status = res.status().as_u16();
    if let Some(metrics) = metrics {
        metrics.observe(&method, &route, &status.to_string(), elapsed.as_secs_f64());
    }
    tracing::info!(
        target: "rapport::access",
        status,
        latency_ms = elapsed.as_secs_f64() * 1000.0,
        "request"
    );
    Ok(res)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_counts_and_histograms() {
        let metrics = Metrics::new().unwrap();
        metrics.observe(&Method::GET, "/v1/me", "200", 0.003);
        let made_up = Method::from_bytes(b"FOO1").unwrap();
        metrics.observe(&made_up, "unmatched", "404", 0.001);
        let text = metrics.render();
        assert!(text.contains(
            r#"rapport_http_requests_total{method="GET",route="/v1/me",status="200"} 1"#
        ));
        assert!(text.contains("rapport_http_request_duration_seconds_bucket"));
        assert!(
            text.contains(r#"method="OTHER""#) && !text.contains("FOO1"),
            "{text}"
        );
    }
}

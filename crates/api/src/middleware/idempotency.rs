//! `Idempotency-Key` on every `POST`, for every route at once: the first answer to a key is
//! kept for 24 hours and replayed to the same caller for the same request; the same key with
//! another request is refused (422). Concurrent requests with one key wait for the first and
//! get its answer, so ten of them create one record.
//!
//! Secrets that an answer shows once (one-time passwords, client secrets, tokens) are not
//! kept: a replay shows them as `null`. Requests are told apart by a keyed HMAC of method, path
//! and body, never a plain hash (bodies can hold passwords). Erasing a customer forgets the
//! answers that mention it.

use std::time::Duration;

use actix_web::body::{BoxBody, MessageBody};
use actix_web::dev::{Payload, ServiceRequest, ServiceResponse};
use actix_web::http::header::{self, HeaderName, HeaderValue};
use actix_web::http::{Method, StatusCode};
use actix_web::middleware::Next;
use actix_web::web::Bytes;
use actix_web::{Error, FromRequest, HttpResponse, web};
use hmac::{Hmac, Mac};
use rapport_store::StoreError;
use rapport_store::repos::idempotency::{self, Claim, StoredResponse};
use sha2::Sha256;

use crate::auth::{Caller, Principal};
use crate::error::{ApiError, ProblemCode};
use crate::extract::{IdempotencyKey, read_body};
use crate::i18n::Text;
use crate::state::AppState;

/// What the request fingerprints' HMAC key is derived for.
const FINGERPRINT_PURPOSE: &str = "idempotency request fingerprint v1";
/// How long a key is remembered.
const TTL_HOURS: i64 = 24;
/// How long a request waits for a concurrent one with the same key.
const WAIT: Duration = Duration::from_secs(10);
const POLL: Duration = Duration::from_millis(50);
/// Fields of answers that must not be stored.
const SECRET_FIELDS: [&str; 5] = [
    "one_time_password",
    "client_secret",
    // A webhook's signing secret.
    "secret",
    "access_token",
    "refresh_token",
];
/// Fields a handler answers once and never again (an invitation's `token` and `url`): put on
/// its response's extensions, they are not kept with the answer either, at any depth.
#[derive(Debug, Clone, Copy)]
pub struct ShowOnce(pub &'static [&'static str]);

/// Headers kept with an answer.
const KEPT_HEADERS: [HeaderName; 4] = [
    header::LOCATION,
    header::ETAG,
    header::CONTENT_TYPE,
    header::CONTENT_LANGUAGE,
];
pub const REPLAYED: HeaderName = HeaderName::from_static("idempotent-replayed");

/// Middleware: see the module documentation.
///
/// # Errors
/// Whatever the inner service fails with.
pub async fn idempotency(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, Error> {
    let applies = req.method() == Method::POST && !req.path().starts_with("/v1/auth/");
    let header = req
        .headers()
        .get(IdempotencyKey::HEADER)
        .map(|v| v.as_bytes().to_vec());
    let (Some(header), true) = (header, applies) else {
        return Ok(next.call(req).await?.map_into_boxed_body());
    };
    let key = match IdempotencyKey::parse(Some(&header)) {
        Ok(IdempotencyKey(Some(key))) => key,
        Ok(IdempotencyKey(None)) => return Ok(next.call(req).await?.map_into_boxed_body()),
        Err(e) => return Ok(req.error_response(e)),
    };
    let Some(state) = req.app_data::<web::Data<AppState>>().cloned() else {
        return Ok(next.call(req).await?.map_into_boxed_body());
    };
    // Keys are per caller, authenticated in full (a disabled user replays nothing). Without
    // valid credentials the handler answers 401 itself.
    let caller = match Caller::from_request(req.request(), &mut Payload::None).await {
        Ok(caller) => match caller.principal {
            Principal::User { id, .. } => format!("user:{id}"),
            Principal::Client { id } => format!("client:{id}"),
        },
        Err(_) => return Ok(next.call(req).await?.map_into_boxed_body()),
    };
    let (http_req, mut payload) = req.into_parts();
    let body = match read_body(&http_req, &mut payload).await {
        Ok(body) => body,
        Err(e) => return Ok(ServiceResponse::from_err(e, http_req)),
    };
    let hash = request_hash(&state.jwt.derive_key(FINGERPRINT_PURPOSE), &http_req, &body);
    let started = std::time::Instant::now();
    loop {
        let now = state.clock.now();
        // Each step of the key commits on its own, before the request goes on: on SQLite the
        // writer is shared, so nothing may write around `Store::begin`.
        let claim = async {
            let tx = state.store.begin().await?;
            let ttl = chrono::Duration::hours(TTL_HOURS);
            let claim = idempotency::claim(&tx, &caller, &key, &hash, now, ttl).await?;
            rapport_store::commit(tx).await?;
            Ok::<_, StoreError>(claim)
        }
        .await;
        let refused = |e: ApiError| Ok(ServiceResponse::from_err(e, http_req.clone()));
        match claim {
            Ok(Claim::Claimed) => break,
            Ok(Claim::Done { request_hash, .. } | Claim::InProgress { request_hash })
                if request_hash != hash =>
            {
                return refused(ApiError::Unprocessable {
                    code: ProblemCode::IdempotencyKeyReused,
                    detail: Text::new(
                        "This Idempotency-Key was used with a different request.",
                        "该幂等键已用于另一个不同的请求。",
                    ),
                });
            }
            Ok(Claim::Done { response, .. }) => {
                return Ok(ServiceResponse::new(http_req, replay(&response)));
            }
            Ok(Claim::InProgress { .. }) if started.elapsed() < WAIT => {
                tokio::time::sleep(POLL).await
            }
            Ok(Claim::InProgress { .. }) => {
                return refused(ApiError::conflict(
                    ProblemCode::Conflict,
                    Text::new(
                        "A request with this Idempotency-Key is still being processed; retry \
                         later.",
                        "使用该幂等键的请求仍在处理中，请稍后重试。",
                    ),
                ));
            }
            Err(e) => return refused(e.into()),
        }
    }

    let req = ServiceRequest::from_parts(http_req, Payload::from(body));
    let res = next.call(req).await?;
    let (http_req, res) = res.into_parts();
    let status = res.status();
    let headers = res.headers().clone();
    let show_once = res.extensions().get::<ShowOnce>().copied();
    let (head, body) = res.into_parts();
    let bytes = match actix_web::body::to_bytes(body).await {
        Ok(bytes) => bytes,
        Err(_) => Bytes::new(),
    };
    let outcome = async {
        let tx = state.store.begin().await?;
        if status.is_server_error() {
            idempotency::release(&tx, &caller, &key).await?;
        } else {
            let stored = StoredResponse {
                status: status.as_u16(),
                headers: KEPT_HEADERS
                    .iter()
                    .filter_map(|name| {
                        headers
                            .get(name)
                            .and_then(|v| v.to_str().ok())
                            .map(|v| (name.as_str().to_owned(), v.to_owned()))
                    })
                    .collect(),
                body: without_secrets(&bytes, show_once.map_or(&[], |s| s.0)),
            };
            idempotency::complete(&tx, &caller, &key, &stored).await?;
        }
        rapport_store::commit(tx).await
    }
    .await;
    if let Err(e) = outcome {
        tracing::warn!(error = %e, "could not record the idempotency key's answer");
    }
    let res = head.set_body(bytes).map_into_boxed_body();
    Ok(ServiceResponse::new(http_req, res))
}

/// What makes two requests the same: method, path with query, and body, under a keyed HMAC.
/// Bodies can hold passwords (user creation, resets), and a plain fast hash of a password
/// kept in the database could be guessed offline; without the server's key it cannot.
fn request_hash(key: &[u8; 32], req: &actix_web::HttpRequest, body: &[u8]) -> String {
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(key)
        .unwrap_or_else(|_| unreachable!("HMAC takes a key of any length"));
    mac.update(req.method().as_str().as_bytes());
    mac.update(b" ");
    mac.update(
        req.uri()
            .path_and_query()
            .map_or("", |p| p.as_str())
            .as_bytes(),
    );
    mac.update(b"\n");
    mac.update(body);
    rapport_domain::digest::hex(mac.finalize().into_bytes())
}

/// The body to keep: JSON with its shown-once secrets, and the handler's `show_once` fields
/// at any depth, set to `null`.
fn without_secrets(body: &[u8], show_once: &[&str]) -> String {
    fn scrub(value: &mut serde_json::Value, fields: &[&str]) {
        match value {
            serde_json::Value::Object(map) => {
                for (key, member) in map.iter_mut() {
                    if fields.contains(&key.as_str()) {
                        *member = serde_json::Value::Null;
                    } else {
                        scrub(member, fields);
                    }
                }
            }
            serde_json::Value::Array(items) => items.iter_mut().for_each(|v| scrub(v, fields)),
            _ => {}
        }
    }
    match serde_json::from_slice::<serde_json::Value>(body) {
        Ok(mut value @ serde_json::Value::Object(_)) => {
            if let serde_json::Value::Object(map) = &mut value {
                for field in SECRET_FIELDS {
                    if let Some(v) = map.get_mut(field) {
                        *v = serde_json::Value::Null;
                    }
                }
            }
            scrub(&mut value, show_once);
            value.to_string()
        }
        _ => String::from_utf8_lossy(body).into_owned(),
    }
}

fn replay(stored: &StoredResponse) -> HttpResponse {
    let status = StatusCode::from_u16(stored.status).unwrap_or(StatusCode::OK);
    let mut res = HttpResponse::build(status);
    for (name, value) in &stored.headers {
        if let (Ok(name), Ok(value)) = (
            HeaderName::try_from(name.as_str()),
            HeaderValue::from_str(value),
        ) {
            res.insert_header((name, value));
        }
    }
    res.insert_header((REPLAYED, "true"));
    res.body(stored.body.clone())
}

#[cfg(test)]
mod tests {
    use actix_web::test::TestRequest;
    use sha2::Digest;

    use super::*;

    #[test]
    fn fingerprints_are_keyed() {
        let req = TestRequest::post().uri("/v1/users").to_http_request();
        let body = br#"{"email":"a@x.cn","password":"correct horse battery"}"#;
        let one = request_hash(&[1; 32], &req, body);
        assert_eq!(one, request_hash(&[1; 32], &req, body));
        assert_ne!(one, request_hash(&[2; 32], &req, body));
        // Not the plain digest that an offline guess at the password could be checked against.
        let mut plain = Sha256::new();
        plain.update(b"POST /v1/users\n");
        plain.update(body);
        let plain: String = plain
            .finalize()
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        assert_ne!(one, plain);
        assert_eq!(one.len(), 64);
    }

    #[test]
    fn secrets_are_not_kept() {
        let kept = without_secrets(br#"{"id":"x","client_secret":"s3cret","name":"n"}"#, &[]);
        assert!(!kept.contains("s3cret"));
        assert!(kept.contains(r#""client_secret":null"#));
        assert!(kept.contains(r#""id":"x""#));
        assert_eq!(without_secrets(b"plain", &[]), "plain");
    }

    #[test]
    fn show_once_fields_are_not_kept_at_any_depth() {
        let body = br#"{"invited":[{"id":"a","token":"t0k","url":"https://x/t0k"}],"token":"t1"}"#;
        let kept = without_secrets(body, &["token", "url"]);
        assert!(!kept.contains("t0k") && !kept.contains("t1"), "{kept}");
        assert!(kept.contains(r#""id":"a""#));
    }
}

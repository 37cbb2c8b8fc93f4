//! Request limits on `/v1`: per client address (every request, before anything else runs) and
//! per caller (each user or integration client, once its token is checked), each a token
//! bucket that refills continuously. Every `/v1` response says where the caller stands, in the
//! IETF draft's headers: `RateLimit-Limit`, `RateLimit-Remaining`, `RateLimit-Reset` (seconds
//! until the bucket is full again) and `RateLimit-Policy` (`<limit>;w=60`). Past a limit the
//! answer is 429 with `Retry-After`. Limits are per minute, set per role, per client and per
//! address by `RAPPORT_RATE_LIMITS`; each instance counts on its own.

use std::collections::HashMap;
use std::net::IpAddr;
use std::time::Instant;

use actix_web::body::{BoxBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{HeaderMap, HeaderName, HeaderValue};
use actix_web::middleware::Next;
use actix_web::{Error, HttpMessage, HttpRequest, web};
use rapport_domain::auth::Role;
use uuid::Uuid;

use crate::auth::Principal;
use crate::buckets::{Bucket, Buckets, Rate};
use crate::client_ip::client_ip;
use crate::error::ApiError;
use crate::state::AppState;

/// Requests a minute: per client address, per role (or `default`), per integration client.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestQuota {
    pub ip: u32,
    pub default: u32,
    pub roles: HashMap<Role, u32>,
    pub clients: HashMap<Uuid, u32>,
}

impl Default for RequestQuota {
    /// 6,000 a minute per address, 1,200 per caller (20 a second sustained, the whole
    /// minute's worth at once).
    fn default() -> Self {
        RequestQuota {
            ip: 6_000,
            default: 1_200,
            roles: HashMap::new(),
            clients: HashMap::new(),
        }
    }
}

impl RequestQuota {
    /// Reads `ip=6000,default=1200,sales_rep=600,client:<id>=3000` (requests a minute; each
    /// entry optional, the others keep their defaults).
    ///
    /// # Errors
    /// The entry that does not read.
    pub fn parse(setting: &str) -> Result<RequestQuota, String> {
        let mut quota = RequestQuota::default();
        for entry in setting.split(',').map(str::trim).filter(|e| !e.is_empty()) {
            let bad = || format!("`{entry}` is not <who>=<requests a minute>");
            let (who, n) = entry.split_once('=').ok_or_else(bad)?;
            let n: u32 = n.trim().parse().ok().filter(|n| *n > 0).ok_or_else(bad)?;
            match who.trim() {
                "ip" => quota.ip = n,
                "default" => quota.default = n,
                other => {
                    if let Some(id) = other.strip_prefix("client:") {
                        let id = Uuid::parse_str(id).map_err(|_| bad())?;
                        quota.clients.insert(id, n);
                    } else {
                        let role: Role = other.parse().map_err(|_| bad())?;
                        quota.roles.insert(role, n);
                    }
                }
            }
        }
        Ok(quota)
    }

    fn of(&self, principal: &Principal) -> u32 {
        match principal {
            Principal::Client { id } => self
                .clients
                .get(id)
                .or_else(|| self.roles.get(&Role::Integration))
                .copied()
                .unwrap_or(self.default),
            Principal::User { role, .. } => self.roles.get(role).copied().unwrap_or(self.default),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum Subject {
    Caller(Uuid),
    Ip(IpAddr),
}

/// Where a caller stands after a request: what the headers say.
#[derive(Debug, Clone, Copy)]
pub struct Allowance {
    limit: u32,
    bucket: Bucket,
}

/// The caller's allowance, set once its token is checked.
#[derive(Debug, Clone, Copy)]
struct CallerAllowance(Allowance);

/// The client address's allowance.
#[derive(Debug, Clone, Copy)]
struct IpAllowance(Allowance);

/// Counts requests and refuses those over a limit.
#[derive(Debug)]
pub struct RequestLimiter {
    quota: RequestQuota,
    buckets: Buckets<Subject>,
}

impl RequestLimiter {
    pub fn new(quota: RequestQuota) -> RequestLimiter {
        RequestLimiter {
            quota,
            buckets: Buckets::new(100_000),
        }
    }

    fn take(&self, subject: Subject, per_minute: u32) -> Result<Allowance, Allowance> {
        let rate = Rate::per_minute(per_minute);
        let allowance = |bucket: Vec<Bucket>| Allowance {
            limit: per_minute,
            bucket: bucket[0],
        };
        self.buckets
            .take(&[(subject, rate)], Instant::now())
            .map(allowance)
            .map_err(allowance)
    }
}

/// Charges the caller of `req` one request (once per request: the caller is cached).
///
/// # Errors
/// `RateLimited` past the caller's limit.
pub fn charge_caller(req: &HttpRequest, principal: &Principal) -> Result<(), ApiError> {
    let Some(state) = req.app_data::<web::Data<AppState>>() else {
        return Ok(());
    };
    let limiter = &state.request_limiter;
    let id = match principal {
        Principal::User { id, .. } | Principal::Client { id } => *id,
    };
    let taken = limiter.take(Subject::Caller(id), limiter.quota.of(principal));
    let (Ok(allowance) | Err(allowance)) = taken;
    req.extensions_mut().insert(CallerAllowance(allowance));
    taken.map(drop).map_err(refusal)
}

fn refusal(allowance: Allowance) -> ApiError {
    ApiError::RateLimited {
        retry_after_secs: allowance.bucket.wait().as_secs_f64().ceil().max(1.0) as u64,
    }
}

/// Middleware: see the module documentation.
///
/// # Errors
/// Whatever the inner service fails with.
pub async fn rate_limit(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, Error> {
    let limited = req.path().starts_with("/v1/");
    let state = req.app_data::<web::Data<AppState>>().cloned();
    if let (true, Some(state), Some(ip)) = (limited, state, client_ip(req.request())) {
        let limiter = &state.request_limiter;
        match limiter.take(Subject::Ip(ip), limiter.quota.ip) {
            Ok(allowance) => {
                req.extensions_mut().insert(IpAllowance(allowance));
            }
            Err(allowance) => {
                let mut res = req.error_response(refusal(allowance));
                tell(res.headers_mut(), allowance);
                return Ok(res.map_into_boxed_body());
            }
        }
    }
    let mut res = next.call(req).await?.map_into_boxed_body();
    let allowance = {
        let extensions = res.request().extensions();
        extensions
            .get::<CallerAllowance>()
            .map(|a| a.0)
            .or_else(|| extensions.get::<IpAllowance>().map(|a| a.0))
    };
    if let Some(allowance) = allowance {
        tell(res.headers_mut(), allowance);
    }
    Ok(res)
}

/// Writes the `RateLimit-*` headers.
fn tell(headers: &mut HeaderMap, allowance: Allowance) {
    let reset = allowance.bucket.refilled_in().as_secs_f64().ceil() as u64;
    let values = [
        ("ratelimit-limit", allowance.limit.to_string()),
        (
            "ratelimit-remaining",
            allowance.bucket.remaining().to_string(),
        ),
        ("ratelimit-reset", reset.to_string()),
        ("ratelimit-policy", format!("{};w=60", allowance.limit)),
    ];
    for (name, value) in values {
        if let Ok(value) = HeaderValue::from_str(&value) {
            headers.insert(HeaderName::from_static(name), value);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_limits_per_address_role_and_client() {
        let id = Uuid::now_v7();
        let quota =
            RequestQuota::parse(&format!("ip=100, sales_rep=30,client:{id}=500,default=60"))
                .unwrap();
        assert_eq!(quota.ip, 100);
        assert_eq!(quota.default, 60);
        let rep = Principal::User {
            id: Uuid::now_v7(),
            role: Role::SalesRep,
            team_id: None,
        };
        let admin = Principal::User {
            id: Uuid::now_v7(),
            role: Role::Admin,
            team_id: None,
        };
        assert_eq!(quota.of(&rep), 30);
        assert_eq!(quota.of(&admin), 60);
        assert_eq!(quota.of(&Principal::Client { id }), 500);
        assert_eq!(quota.of(&Principal::Client { id: Uuid::now_v7() }), 60);
        for bad in ["ip", "ip=0", "ip=-1", "wizard=5", "client:nope=5"] {
            assert!(RequestQuota::parse(bad).is_err(), "{bad}");
        }
        assert_eq!(RequestQuota::parse("").unwrap(), RequestQuota::default());
    }

    #[test]
    fn a_caller_gets_its_limit_then_waits() {
        let limiter = RequestLimiter::new(RequestQuota::default());
        let who = Subject::Caller(Uuid::now_v7());
        for left in (0..3).rev() {
            let a = limiter.take(who.clone(), 3).unwrap();
            assert_eq!(a.bucket.remaining(), left);
        }
        let refused = limiter.take(who, 3).unwrap_err();
        assert_eq!(refused.bucket.remaining(), 0);
        match refusal(refused) {
            ApiError::RateLimited { retry_after_secs } => {
                assert!((19..=20).contains(&retry_after_secs), "{retry_after_secs}");
            }
            other => panic!("{other:?}"),
        }
    }
}

//! The OAuth2 token endpoint (password, client_credentials and refresh_token grants) and token
//! revocation (RFC 7009).
//!
//! Both accept JSON or a form body, and ignore parameters they do not know, as RFC 6749
//! requires of a token endpoint.

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, post, web};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use chrono::{DateTime, Duration, Utc};
use rapport_domain::Invalid;
use rapport_domain::auth::{Role, ScopeSet};
use rapport_domain::email::Email;
use rapport_domain::identity::{Actor, User};
use rapport_domain::validation::Errors;
use rapport_store::Conn;
use rapport_store::repos::refresh_tokens::NewRefreshToken;
use rapport_store::repos::{clients, refresh_tokens, users};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_actix_web::service_config::ServiceConfig;
use uuid::Uuid;

use crate::auth::jwt::Claims;
use serde_json::json;

use crate::audit::{self, Origin};
use crate::auth::secret;
use crate::client_ip::client_ip;
use crate::error::{ApiError, ProblemCode};
use crate::extract::{is_json_content_type, parse_form, parse_json, read_body};
use crate::i18n::Text;
use crate::state::AppState;

pub fn configure(cfg: &mut ServiceConfig) {
    cfg.service(issue_token).service(revoke_token);
}

/// A token request (`application/json` or `application/x-www-form-urlencoded`).
#[derive(Debug, Deserialize, ToSchema)]
pub struct TokenRequest {
    /// `password`, `client_credentials` or `refresh_token`.
    #[schema(example = "password")]
    pub grant_type: String,
    /// The user's email (password grant).
    pub username: Option<String>,
    /// The user's password (password grant).
    pub password: Option<String>,
    /// The integration client's id (client_credentials grant; or HTTP Basic auth).
    pub client_id: Option<String>,
    /// The integration client's secret (client_credentials grant; or HTTP Basic auth).
    pub client_secret: Option<String>,
    /// The refresh token (refresh_token grant).
    pub refresh_token: Option<String>,
    /// Optional: narrow the token to these space-separated scopes.
    pub scope: Option<String>,
}

/// An issued token.
#[derive(Debug, Serialize, ToSchema)]
pub struct TokenResponse {
    /// A JWT to send as `Authorization: Bearer <token>`.
    pub access_token: String,
    /// Always `Bearer`.
    #[schema(example = "Bearer")]
    pub token_type: &'static str,
    /// Seconds until the access token expires.
    #[schema(example = 900)]
    pub expires_in: i64,
    /// For the password and refresh_token grants: exchange it for a new access token. Each
    /// refresh token works once; the answer carries its successor.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub refresh_token: Option<String>,
    /// The granted scopes, space-separated.
    #[schema(example = "customers:read customers:write")]
    pub scope: String,
}

/// A revocation request.
#[derive(Debug, Deserialize, ToSchema)]
pub struct RevokeRequest {
    /// The refresh token to revoke (with every token rotated from the same sign-in).
    pub token: String,
    /// Optional, RFC 7009: `refresh_token`.
    pub token_type_hint: Option<String>,
}

/// The (empty) answer of a revocation.
#[derive(Debug, Serialize, ToSchema)]
pub struct Revoked {}

/// Parses a JSON or form body.
async fn json_or_form<T: DeserializeOwned>(
    req: &HttpRequest,
    mut payload: web::Payload,
) -> Result<T, ApiError> {
    let content_type = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(|v| {
            v.split(';')
                .next()
                .unwrap_or("")
                .trim()
                .to_ascii_lowercase()
        })
        .unwrap_or_default();
    let is_form = content_type == "application/x-www-form-urlencoded";
    if !is_form && !is_json_content_type(&content_type) {
        return Err(ApiError::UnsupportedMediaType);
    }
    let body = read_body(req, &mut payload).await?;
    if is_form {
        parse_form(&body)
    } else {
        parse_json(&body)
    }
}

/// Get an access token.
///
/// Wrong credentials answer 401 whether or not the user exists. Repeated failures per account
/// and per IP answer 429 with `Retry-After`.
#[utoipa::path(
    tag = "auth",
    // Documented as JSON only: the form body (RFC 6749) is taken too, but two content types
    // break generated clients (openapi-python-client #1451).
    request_body(
        content = TokenRequest,
        content_type = "application/json",
        description = "The grant. The same fields are accepted as `application/x-www-form-urlencoded` (RFC 6749)."
    ),
    responses((status = 200, description = "The token", body = TokenResponse)),
    security(())
)]
#[post("/auth/token")]
async fn issue_token(
    state: web::Data<AppState>,
    req: HttpRequest,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let mut body: TokenRequest = json_or_form(&req, payload).await?;
    if let Some((id, secret)) = basic_credentials(&req) {
        body.client_id.get_or_insert(id);
        body.client_secret.get_or_insert(secret);
    }
    let requested = body
        .scope
        .as_deref()
        .map(ScopeSet::parse)
        .transpose()
        .map_err(|e| ApiError::BadRequest {
            code: ProblemCode::InvalidScope,
            detail: Text::new(e.to_string(), format!("未知的权限范围 `{}`", e.0)),
        })?;
    let issued = match body.grant_type.as_str() {
        "password" => password_grant(&state, &req, body, requested).await?,
        "client_credentials" => client_credentials_grant(&state, &req, body, requested).await?,
        "refresh_token" => refresh_grant(&state, body, requested).await?,
        other => {
            return Err(ApiError::BadRequest {
                code: ProblemCode::UnsupportedGrantType,
                detail: Text::new(
                    format!(
                        "`{other}` is not supported: use password, client_credentials or \
                         refresh_token."
                    ),
                    format!(
                        "不支持 `{other}`：请使用 password、client_credentials 或 refresh_token。"
                    ),
                ),
            });
        }
    };
    Ok(HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .insert_header((header::PRAGMA, "no-cache"))
        .json(issued))
}

/// `Authorization: Basic base64(client_id:client_secret)`, as OAuth2 clients send it.
fn basic_credentials(req: &HttpRequest) -> Option<(String, String)> {
    let value = req.headers().get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, encoded) = value.split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let decoded = String::from_utf8(STANDARD.decode(encoded.trim()).ok()?).ok()?;
    let (id, secret) = decoded.split_once(':')?;
    Some((id.to_owned(), secret.to_owned()))
}

/// The scopes to grant: all of `available`, or the requested subset of them.
fn grant_scopes(available: ScopeSet, requested: Option<ScopeSet>) -> Result<ScopeSet, ApiError> {
    match requested {
        None => Ok(available),
        Some(requested) if requested.is_subset_of(available) => Ok(requested),
        Some(requested) => Err(ApiError::BadRequest {
            code: ProblemCode::InvalidScope,
            detail: Text::new(
                format!("Not all of `{requested}` can be granted to this account."),
                format!("无法向该账户授予 `{requested}` 中的全部权限范围。"),
            ),
        }),
    }
}

/// The sign-in a user's tokens belong to: a family of refresh tokens, each replaced by the
/// next, none living past `started_at` plus the session's maximum age.
#[derive(Debug, Clone, Copy)]
struct Session {
    family: Uuid,
    started_at: DateTime<Utc>,
}

/// A user's token answer: an access token, and a new refresh token of `session` stored in `tx`.
async fn tokens_for_user(
    tx: &impl Conn,
    state: &AppState,
    user: &User,
    scopes: ScopeSet,
    session: Session,
) -> Result<TokenResponse, ApiError> {
    let now = state.clock.now();
    let refresh = secret::random_token(32);
    let expires_at = (now + Duration::seconds(state.settings.refresh_token_ttl_secs))
        .min(session.started_at + Duration::seconds(state.settings.session_max_age_secs));
    refresh_tokens::insert(
        tx,
        NewRefreshToken {
            token_hash: secret::sha256_hex(&refresh),
            family_id: session.family,
            user_id: user.id,
            scope: scopes.to_string(),
            expires_at,
            session_started_at: session.started_at,
        },
        now,
    )
    .await?;
    let mut claims = claims(state, user.id, user.role, scopes, user.token_version);
    claims.team_id = user.team_id;
    claims.sid = Some(session.family);
    claims.pwd_change = user.must_change_password;
    Ok(TokenResponse {
        access_token: state.jwt.issue(&claims)?,
        token_type: "Bearer",
        expires_in: state.settings.access_token_ttl_secs,
        refresh_token: Some(refresh),
        scope: scopes.to_string(),
    })
}

fn claims(state: &AppState, sub: Uuid, role: Role, scopes: ScopeSet, version: i32) -> Claims {
    Claims::new(
        sub,
        role.as_str(),
        None,
        scopes.to_string(),
        version,
        state.clock.now(),
        state.settings.access_token_ttl_secs,
    )
}

async fn password_grant(
    state: &AppState,
    req: &HttpRequest,
    body: TokenRequest,
    requested: Option<ScopeSet>,
) -> Result<TokenResponse, ApiError> {
    let mut errors = Errors::default();
    let username = present(&mut errors, "username", body.username);
    let given = present(&mut errors, "password", body.password);
    let (username, given) = errors.finish_with(username.zip(given))?;
    // A username that no user can have costs nothing: no try is counted, no hash is run. The
    // limiter keys on the normalized email, so no spelling of one account gets fresh tries.
    let Ok(email) = Email::parse(&username) else {
        return Err(ApiError::InvalidCredentials);
    };
    let attempt = state.login_limiter.begin(email.as_str(), client_ip(req))?;
    let (user, hash) = match users::find_credentials(state.store.conn(), &email).await? {
        Some((user, hash)) => (Some(user), Some(hash)),
        None => (None, None),
    };
    let verified = match state.passwords.verify(given, hash).await {
        Ok(verified) => verified,
        Err(busy_or_failed) => {
            attempt.give_back();
            return Err(busy_or_failed);
        }
    };
    let user = match user {
        Some(user) if verified && !user.disabled => user,
        _ => return Err(ApiError::InvalidCredentials),
    };
    attempt.give_back();
    let now = state.clock.now();
    if user.password_expired(now) {
        return Err(ApiError::PasswordExpired);
    }
    let scopes = grant_scopes(user.role.scopes(), requested)?;
    let tx = state.store.begin().await?;
    let session = Session {
        family: Uuid::now_v7(),
        started_at: now,
    };
    let answer = tokens_for_user(&tx, state, &user, scopes, session).await?;
    let origin = Origin::of_request(req, Actor::User(user.id));
    // Not `record_and_commit`: a sign-in changes no record, so it neither drops the cached
    // token checks nor sends the user's lists to the primary.
    audit::record(
        &tx,
        state,
        &origin,
        audit::Subject::new("user", user.id),
        "sign_in",
        json!({}),
    )
    .await?;
    rapport_store::commit(tx).await?;
    Ok(answer)
}

async fn client_credentials_grant(
    state: &AppState,
    req: &HttpRequest,
    body: TokenRequest,
    requested: Option<ScopeSet>,
) -> Result<TokenResponse, ApiError> {
    let mut errors = Errors::default();
    let client_id = present(&mut errors, "client_id", body.client_id);
    let given = present(&mut errors, "client_secret", body.client_secret);
    let (client_id, given) = errors.finish_with(client_id.zip(given))?;
    let Ok(id) = client_id.trim().parse::<Uuid>() else {
        return Err(ApiError::InvalidCredentials);
    };
    let attempt = state
        .login_limiter
        .begin(&format!("client:{id}"), client_ip(req))?;
    let client = match clients::find_credentials(state.store.conn(), id).await? {
        Some((client, hash))
            if secret::same_hash(&hash, &secret::sha256_hex(&given)) && !client.disabled =>
        {
            client
        }
        _ => return Err(ApiError::InvalidCredentials),
    };
    attempt.give_back();
    let scopes = grant_scopes(client.scopes, requested)?;
    let claims = claims(
        state,
        client.id,
        Role::Integration,
        scopes,
        client.token_version,
    );
    Ok(TokenResponse {
        access_token: state.jwt.issue(&claims)?,
        token_type: "Bearer",
        expires_in: state.settings.access_token_ttl_secs,
        refresh_token: None,
        scope: scopes.to_string(),
    })
}

async fn refresh_grant(
    state: &AppState,
    body: TokenRequest,
    requested: Option<ScopeSet>,
) -> Result<TokenResponse, ApiError> {
    let mut errors = Errors::default();
    let presented = present(&mut errors, "refresh_token", body.refresh_token);
    let presented = errors.finish_with(presented)?;
    let now = state.clock.now();
    let tx = state.store.begin().await?;
    let Some(stored) = refresh_tokens::find_by_hash(&tx, &secret::sha256_hex(&presented)).await?
    else {
        return Err(ApiError::InvalidCredentials);
    };
    if stored.revoked_at.is_some() || stored.expires_at <= now {
        return Err(ApiError::InvalidCredentials);
    }
    // A used token coming back means two parties hold it: end the whole sign-in.
    if stored.used_at.is_some() || !refresh_tokens::mark_used(&tx, stored.id, now).await? {
        refresh_tokens::revoke_family(&tx, stored.family_id, now).await?;
        rapport_store::commit(tx).await?;
        state.token_checks.forget_all();
        tracing::warn!(family = %stored.family_id, "refresh token reused; sign-in revoked");
        return Err(ApiError::InvalidCredentials);
    }
    let user = users::get(&tx, stored.user_id).await?;
    if user.disabled || user.password_expired(now) {
        return Err(ApiError::InvalidCredentials);
    }
    // The original grant, narrowed to what the role still allows.
    let granted = ScopeSet::parse(&stored.scope).unwrap_or_default();
    let available: ScopeSet = granted
        .iter()
        .filter(|s| user.role.scopes().contains(*s))
        .collect();
    let scopes = grant_scopes(available, requested)?;
    let session = Session {
        family: stored.family_id,
        started_at: stored.session_started_at,
    };
    let answer = tokens_for_user(&tx, state, &user, scopes, session).await?;
    rapport_store::commit(tx).await?;
    Ok(answer)
}

/// A field the grant needs: its absence is recorded as `required`.
fn present<T>(errors: &mut Errors, field: &str, value: Option<T>) -> Option<T> {
    if value.is_none() {
        errors.add(field, Invalid::Required);
    }
    value
}

/// Revoke a refresh token (sign out).
///
/// Revokes the token and every token rotated from the same sign-in. Answers 200 whether or not
/// the token was valid (RFC 7009), so it tells nothing to someone guessing.
#[utoipa::path(
    tag = "auth",
    request_body(
        content = RevokeRequest,
        content_type = "application/json",
        description = "The token to revoke. The same fields are accepted as `application/x-www-form-urlencoded` (RFC 7009)."
    ),
    responses((status = 200, description = "Revoked, or unknown", body = Revoked)),
    security(())
)]
#[post("/auth/revoke")]
async fn revoke_token(
    state: web::Data<AppState>,
    req: HttpRequest,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let body: RevokeRequest = json_or_form(&req, payload).await?;
    let now = state.clock.now();
    let tx = state.store.begin().await?;
    let mut revoked = false;
    if let Some(stored) =
        refresh_tokens::find_by_hash(&tx, &secret::sha256_hex(&body.token)).await?
        && refresh_tokens::revoke_family(&tx, stored.family_id, now).await? > 0
    {
        revoked = true;
        let origin = Origin::of_request(&req, Actor::User(stored.user_id));
        audit::record(
            &tx,
            &state,
            &origin,
            audit::Subject::new("user", stored.user_id),
            "sign_out",
            json!({}),
        )
        .await?;
    }
    rapport_store::commit(tx).await?;
    // Only when a sign-in ended: anyone may call this, and must not empty the cache for free.
    if revoked {
        state.token_checks.forget_all();
    }
    Ok(HttpResponse::Ok().json(Revoked {}))
}

#[cfg(test)]
mod tests {
    use super::*;
    use rapport_domain::auth::Scope;

    #[test]
    fn narrows_but_never_widens_scopes() {
        let rep = Role::SalesRep.scopes();
        assert_eq!(grant_scopes(rep, None).unwrap(), rep);
        let narrow: ScopeSet = [Scope::CustomersRead].into_iter().collect();
        assert_eq!(grant_scopes(rep, Some(narrow)).unwrap(), narrow);
        let wide: ScopeSet = [Scope::AuditRead].into_iter().collect();
        assert!(grant_scopes(rep, Some(wide)).is_err());
    }
}

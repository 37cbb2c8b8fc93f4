//! The caller itself: who it is, and changing its own password.

use actix_web::{HttpResponse, get, post, web};
use rapport_domain::Invalid;
use rapport_domain::password::Password;
use rapport_domain::validation::Errors;
use rapport_store::repos::{clients, refresh_tokens, users};
use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::ToSchema;
use utoipa_actix_web::service_config::ServiceConfig;
use uuid::Uuid;

use crate::audit;
use crate::auth::{Caller, Principal};
use crate::error::ApiError;
use crate::extract::Json;
use crate::i18n::Text;
use crate::schemas;
use crate::state::AppState;

pub fn configure(cfg: &mut ServiceConfig) {
    cfg.service(get_me).service(change_password);
}

/// The caller: a user or an integration client, with the scopes of the token in use.
#[derive(Debug, Serialize, ToSchema)]
pub struct Me {
    pub id: Uuid,
    /// `user` or `client`.
    #[schema(example = "user")]
    pub kind: &'static str,
    /// Users only.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    pub name: String,
    /// `integration` for a client.
    #[schema(schema_with = schemas::role)]
    pub role: String,
    pub team_id: Option<Uuid>,
    /// The scopes of the token in use.
    #[schema(schema_with = schemas::scopes)]
    pub scopes: Vec<String>,
    /// Users only: the password was set by an administrator and should be changed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub must_change_password: Option<bool>,
}

/// Who am I?
#[utoipa::path(tag = "auth", responses((status = 200, body = Me)), security(("oauth2" = [])))]
#[get("/me")]
async fn get_me(state: web::Data<AppState>, caller: Caller) -> Result<HttpResponse, ApiError> {
    let scopes = caller
        .scopes
        .iter()
        .map(|s| s.as_str().to_owned())
        .collect();
    let db = state.store.conn();
    let me = match caller.principal {
        Principal::User { id, .. } => {
            let user = users::get(db, id).await?;
            Me {
                id,
                kind: "user",
                email: Some(user.email.into_string()),
                name: user.name.into_string(),
                role: user.role.as_str().to_owned(),
                team_id: user.team_id,
                scopes,
                must_change_password: Some(user.must_change_password),
            }
        }
        Principal::Client { id } => {
            let client = clients::get(db, id).await?;
            Me {
                id,
                kind: "client",
                email: None,
                name: client.name.into_string(),
                role: "integration".into(),
                team_id: None,
                scopes,
                must_change_password: None,
            }
        }
    };
    Ok(HttpResponse::Ok().json(me))
}

/// A change of one's own password.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ChangePassword {
    pub current_password: String,
    /// At least 10 characters.
    pub new_password: String,
}

/// Change my password.
///
/// Every token of the user stops working, this one included: sign in again.
#[utoipa::path(
    tag = "auth",
    request_body = ChangePassword,
    responses((status = 204, description = "Changed")),
    security(("oauth2" = []))
)]
#[post("/me/password")]
async fn change_password(
    state: web::Data<AppState>,
    caller: Caller,
    body: Json<ChangePassword>,
) -> Result<HttpResponse, ApiError> {
    let Some(user_id) = caller.user_id() else {
        return Err(ApiError::forbidden(Text::new(
            "Integration clients have no password; rotate the secret instead.",
            "集成客户端没有密码，请改为轮换其密钥。",
        )));
    };
    let body = body.into_inner()?;
    let mut errors = Errors::default();
    let new = errors.check("new_password", Password::parse(&body.new_password));
    // Guessing the current password with a stolen token is limited like signing in.
    let attempt = state
        .login_limiter
        .begin(&format!("user:{user_id}"), caller.origin.ip)?;
    let stored = users::password_hash(state.store.conn(), user_id).await?;
    match state
        .passwords
        .verify(body.current_password, Some(stored))
        .await
    {
        Ok(true) => attempt.give_back(),
        Ok(false) => errors.add("current_password", Invalid::Incorrect),
        Err(busy_or_failed) => {
            attempt.give_back();
            return Err(busy_or_failed);
        }
    }
    let new = errors.finish_with(new)?;
    let hash = state.passwords.hash(new.expose().to_owned()).await?;
    let now = state.clock.now();
    let tx = state.store.begin().await?;
    users::set_password(&tx, user_id, hash, None, now).await?;
    refresh_tokens::revoke_user(&tx, user_id, now).await?;
    audit::record_and_commit(
        tx,
        &state,
        &caller.origin,
        audit::Subject::new("user", user_id),
        "change_password",
        json!({}),
    )
    .await?;
    Ok(HttpResponse::NoContent().finish())
}

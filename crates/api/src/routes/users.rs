//! User accounts (`users:write`).

use actix_web::{HttpResponse, get, patch, post, web};
use chrono::{DateTime, Utc};
use rapport_domain::auth::Role;
use rapport_domain::email::Email;
use rapport_domain::identity::{self as domain};
use rapport_domain::name::PersonName;
use rapport_domain::password::Password;
use rapport_domain::validation::Errors;
use rapport_store::repos::{self, refresh_tokens, teams, users};
use rapport_store::{Conn, StoreError, Tx};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_actix_web::service_config::ServiceConfig;
use uuid::Uuid;

use crate::audit;
use crate::auth::scopes::UsersWrite;
use crate::auth::{Authorized, secret};
use crate::error::{ApiError, ProblemCode};
use crate::extract::{IfMatch, IfMatchParam, Json, Query};
use crate::feed;
use crate::i18n::Text;
use crate::pagination::{Paged, page_params};
use crate::patch::Patch;
use crate::references;
use crate::respond;
use crate::schemas;
use crate::state::AppState;

pub fn configure(cfg: &mut ServiceConfig) {
    cfg.service(list_users)
        .service(create_user)
        .service(get_user)
        .service(update_user)
        .service(disable_user)
        .service(enable_user)
        .service(reset_password);
}

/// A user account.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct User {
    pub id: Uuid,
    #[schema(example = "li.lei@example.cn")]
    pub email: String,
    #[schema(example = "Li Lei")]
    pub name: String,
    #[schema(schema_with = schemas::role)]
    pub role: String,
    pub team_id: Option<Uuid>,
    pub disabled: bool,
    pub must_change_password: bool,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub version: i32,
}

crate::list_type!(UserList, User);

impl From<domain::User> for User {
    fn from(u: domain::User) -> Self {
        User {
            id: u.id,
            email: u.email.into_string(),
            name: u.name.into_string(),
            role: u.role.as_str().to_owned(),
            team_id: u.team_id,
            disabled: u.disabled,
            must_change_password: u.must_change_password,
            created_at: u.created_at,
            updated_at: u.updated_at,
            version: u.version,
        }
    }
}

/// A new user account.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateUser {
    #[schema(example = "li.lei@example.cn")]
    pub email: String,
    #[schema(example = "Li Lei")]
    pub name: String,
    #[schema(schema_with = schemas::role)]
    pub role: String,
    pub team_id: Option<Uuid>,
    /// At least 10 characters. Leave it out to get a one-time password in the answer.
    pub password: Option<String>,
}

/// A created user, with its one-time password when none was given (shown this once).
#[derive(Debug, Serialize, ToSchema)]
pub struct CreatedUser {
    #[serde(flatten)]
    pub user: User,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub one_time_password: Option<String>,
}

/// Changes to a user account; absent fields are kept, `null` clears `team_id`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateUser {
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    pub email: Patch<String>,
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    pub name: Patch<String>,
    #[serde(default)]
    #[schema(schema_with = schemas::role_or_null)]
    pub role: Patch<String>,
    #[serde(default)]
    #[schema(value_type = Option<Uuid>, nullable)]
    pub team_id: Patch<Uuid>,
}

/// A password reset: give a password, or get a one-time password.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ResetPassword {
    pub password: Option<String>,
}

/// The outcome of a reset.
#[derive(Debug, Serialize, ToSchema)]
pub struct PasswordReset {
    /// Present when Rapport chose the password: shown this once.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub one_time_password: Option<String>,
}

/// Filters of the user list.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct UserListParams {
    #[param(schema_with = schemas::role)]
    pub role: Option<String>,
    pub team_id: Option<Uuid>,
    pub disabled: Option<bool>,
    /// 1 to 200, default 50.
    pub limit: Option<i64>,
    pub cursor: Option<String>,
    /// The change feed: every user changed at or after this time, oldest change first,
    /// each at its latest version. Changes show once they are 5 seconds old. Walk the pages
    /// with `cursor`; at the end, ask again with the last `updated_at` you saw (keep the
    /// highest `version`). Users are never deleted (they are disabled). Takes the other filters.
    #[param(example = "2026-12-01T00:00:00Z")]
    pub updated_since: Option<DateTime<Utc>>,
}

/// Records a `team_id` error when the team does not exist.
async fn check_team(
    db: &impl Conn,
    team_id: Option<Uuid>,
    errors: &mut Errors,
) -> Result<(), ApiError> {
    if let Some(id) = team_id {
        references::known("team_id", teams::get(db, id).await, errors)?;
    }
    Ok(())
}

fn email_taken(err: StoreError) -> ApiError {
    if err.is_conflict_on(&users::EMAIL_TAKEN) {
        ApiError::conflict(
            ProblemCode::Duplicate,
            Text::new(
                "A user with this email already exists.",
                "使用该电子邮件的用户已存在。",
            ),
        )
    } else {
        err.into()
    }
}

/// List users.
#[utoipa::path(
    tag = "users",
    params(UserListParams),
    responses((status = 200, body = UserList)),
    security(("oauth2" = ["users:write"]))
)]
#[get("/users")]
async fn list_users(
    state: web::Data<AppState>,
    auth: Authorized<UsersWrite>,
    params: Query<UserListParams>,
) -> Result<HttpResponse, ApiError> {
    let params = params.into_inner()?;
    let sort = feed::sort_or(params.updated_since, "id");
    let (limit, cursor) = page_params(params.limit, params.cursor.as_deref(), sort)?;
    let role = params
        .role
        .as_deref()
        .map(Role::parse_user_role)
        .transpose()
        .map_err(|e| {
            ApiError::BadParameters(rapport_domain::ValidationErrors::single("role", e))
        })?;
    let filter = users::UserFilter {
        role,
        team_id: params.team_id,
        disabled: params.disabled,
        changes: params
            .updated_since
            .map(|since| feed::changes(&state, since)),
    };
    let page = users::list(state.list_reads(&auth), &filter, cursor, limit).await?;
    Ok(HttpResponse::Ok().json(UserList::from(Paged::from_page(page, sort, User::from))))
}

/// Create a user.
#[utoipa::path(
    tag = "users",
    request_body = CreateUser,
    responses(
        (status = 201, body = CreatedUser, headers(("Location" = String), ("ETag" = String))),
        (status = 409, description = "The email is taken", body = crate::error::Problem, content_type = "application/problem+json")
    ),
    security(("oauth2" = ["users:write"]))
)]
#[post("/users")]
async fn create_user(
    state: web::Data<AppState>,
    auth: Authorized<UsersWrite>,
    body: Json<CreateUser>,
) -> Result<HttpResponse, ApiError> {
    let body = body.into_inner()?;
    let mut errors = Errors::default();
    let email = errors.check("email", Email::parse(&body.email));
    let name = errors.check("name", PersonName::parse(&body.name));
    let role = errors.check("role", Role::parse_user_role(&body.role));
    let password = errors.check_opt("password", body.password.as_deref(), Password::parse);
    check_team(state.store.conn(), body.team_id, &mut errors).await?;
    let (email, name, role, password) =
        errors.finish_with((|| Some((email?, name?, role?, password?)))())?;

    let one_time = password.is_none().then(secret::one_time_password);
    let chosen = password.map_or_else(
        || one_time.clone().unwrap_or_default(),
        |p| p.expose().to_owned(),
    );
    let hash = state.passwords.hash(chosen).await?;
    let new = users::NewUser {
        id: Uuid::now_v7(),
        email,
        name,
        role,
        team_id: body.team_id,
        password_hash: hash,
        one_time_until: one_time.is_some().then(|| state.one_time_password_expiry()),
    };
    let tx = state.store.begin().await?;
    let user: User = users::insert(&tx, new, state.clock.now())
        .await
        .map_err(email_taken)?
        .into();
    audit::record_and_commit(
        tx,
        &state,
        &auth.origin,
        audit::Subject::new("user", user.id),
        "create",
        audit::changes(None, Some(&user)),
    )
    .await?;
    let location = format!("/v1/users/{}", user.id);
    let version = user.version;
    Ok(respond::created(
        &CreatedUser {
            user,
            one_time_password: one_time,
        },
        version,
        location,
    ))
}

/// Get a user.
#[utoipa::path(
    tag = "users",
    params(("id" = Uuid, Path)),
    responses((status = 200, body = User, headers(("ETag" = String)))),
    security(("oauth2" = ["users:write"]))
)]
#[get("/users/{id}")]
async fn get_user(
    state: web::Data<AppState>,
    _auth: Authorized<UsersWrite>,
    id: web::Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    let user = User::from(users::get(state.store.conn(), id.into_inner()).await?);
    Ok(respond::ok(&user, user.version))
}

/// Is `user` the last enabled admin, so that demoting or disabling it would lock everyone out?
async fn is_last_admin(db: &impl Conn, user: &domain::User) -> Result<bool, ApiError> {
    if user.role != Role::Admin || user.disabled {
        return Ok(false);
    }
    let filter = users::UserFilter {
        role: Some(Role::Admin),
        team_id: None,
        disabled: Some(false),
        changes: None,
    };
    let admins = users::list(db, &filter, None, 2).await?;
    Ok(admins.items.len() < 2)
}

/// Saves `after` in place of `before` with its audit event, refusing to lock out the last
/// admin, and revoking the user's tokens when its access changed.
async fn save_user(
    state: &AppState,
    auth: &Authorized<UsersWrite>,
    tx: Tx,
    before: domain::User,
    mut after: domain::User,
    action: &str,
) -> Result<HttpResponse, ApiError> {
    let locks_out = after.role != Role::Admin || after.disabled;
    if locks_out && is_last_admin(&tx, &before).await? {
        return Err(ApiError::conflict(
            ProblemCode::Conflict,
            Text::new(
                "This is the last enabled admin: appoint another one first.",
                "这是最后一个启用的管理员，请先指定另一位管理员。",
            ),
        ));
    }
    let access_changed = before.role != after.role
        || before.team_id != after.team_id
        || before.disabled != after.disabled;
    let now = state.clock.now();
    if access_changed {
        after.revoke_tokens();
    }
    let saved = repos::save(&tx, &after, now).await.map_err(email_taken)?;
    if access_changed {
        refresh_tokens::revoke_user(&tx, saved.id, now).await?;
    }
    let (before, saved) = (User::from(before), User::from(saved));
    audit::record_and_commit(
        tx,
        state,
        &auth.origin,
        audit::Subject::new("user", saved.id),
        action,
        audit::changes(Some(&before), Some(&saved)),
    )
    .await?;
    Ok(respond::ok(&saved, saved.version))
}

/// Update a user.
///
/// A change of role or team ends the user's sessions: its tokens stop working at once.
#[utoipa::path(
    tag = "users",
    params(("id" = Uuid, Path), IfMatchParam),
    request_body = UpdateUser,
    responses(
        (status = 200, body = User, headers(("ETag" = String))),
        (status = 409, description = "The email is taken, or this would leave no admin", body = crate::error::Problem, content_type = "application/problem+json")
    ),
    security(("oauth2" = ["users:write"]))
)]
#[patch("/users/{id}")]
async fn update_user(
    state: web::Data<AppState>,
    auth: Authorized<UsersWrite>,
    id: web::Path<Uuid>,
    if_match: IfMatch,
    body: Json<UpdateUser>,
) -> Result<HttpResponse, ApiError> {
    let body = body.into_inner()?;
    let tx = state.store.begin().await?;
    let before: domain::User = repos::get_locked(&tx, id.into_inner()).await?;
    if_match.check(before.version)?;
    let mut after = before.clone();
    let mut errors = Errors::default();
    body.email
        .required(&mut errors, "email", &mut after.email, Email::parse);
    body.name
        .required(&mut errors, "name", &mut after.name, PersonName::parse);
    body.role
        .required(&mut errors, "role", &mut after.role, Role::parse_user_role);
    after.team_id = body.team_id.apply_to(after.team_id);
    check_team(
        &tx,
        after.team_id.filter(|t| Some(*t) != before.team_id),
        &mut errors,
    )
    .await?;
    errors.finish()?;
    save_user(&state, &auth, tx, before, after, "update").await
}

/// Disable a user: its tokens stop working at once, and it cannot sign in.
#[utoipa::path(
    tag = "users",
    params(("id" = Uuid, Path)),
    responses(
        (status = 200, body = User),
        (status = 409, description = "Yourself, or the last admin", body = crate::error::Problem, content_type = "application/problem+json")
    ),
    security(("oauth2" = ["users:write"]))
)]
#[post("/users/{id}/disable")]
async fn disable_user(
    state: web::Data<AppState>,
    auth: Authorized<UsersWrite>,
    id: web::Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    let tx = state.store.begin().await?;
    let before: domain::User = repos::get_locked(&tx, id.into_inner()).await?;
    if auth.user_id() == Some(before.id) {
        return Err(ApiError::conflict(
            ProblemCode::Conflict,
            Text::new("You cannot disable yourself.", "您不能停用自己。"),
        ));
    }
    let after = domain::User {
        disabled: true,
        ..before.clone()
    };
    save_user(&state, &auth, tx, before, after, "disable").await
}

/// Enable a disabled user.
#[utoipa::path(
    tag = "users",
    params(("id" = Uuid, Path)),
    responses((status = 200, body = User)),
    security(("oauth2" = ["users:write"]))
)]
#[post("/users/{id}/enable")]
async fn enable_user(
    state: web::Data<AppState>,
    auth: Authorized<UsersWrite>,
    id: web::Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    let tx = state.store.begin().await?;
    let before: domain::User = repos::get_locked(&tx, id.into_inner()).await?;
    let after = domain::User {
        disabled: false,
        ..before.clone()
    };
    save_user(&state, &auth, tx, before, after, "enable").await
}

/// Reset a user's password: the given one, or a one-time password answered once. The user's
/// tokens stop working at once. Not one's own: that is `POST /v1/me/password`, which asks
/// for the current password (a stolen token must not be enough to take the account).
#[utoipa::path(
    tag = "users",
    params(("id" = Uuid, Path)),
    request_body(content = Option<ResetPassword>, description = "Optional"),
    responses(
        (status = 200, body = PasswordReset),
        (status = 409, description = "Yourself: use `POST /v1/me/password`", body = crate::error::Problem, content_type = "application/problem+json")
    ),
    security(("oauth2" = ["users:write"]))
)]
#[post("/users/{id}/reset-password")]
async fn reset_password(
    state: web::Data<AppState>,
    auth: Authorized<UsersWrite>,
    id: web::Path<Uuid>,
    req: actix_web::HttpRequest,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let body = crate::extract::optional_json::<ResetPassword>(&req, payload)
        .await?
        .unwrap_or_default();
    let password = body
        .password
        .as_deref()
        .map(Password::parse)
        .transpose()
        .map_err(|e| ApiError::invalid("password", e))?;
    let user = users::get(state.store.conn(), id.into_inner()).await?;
    if auth.user_id() == Some(user.id) {
        return Err(ApiError::conflict(
            ProblemCode::Conflict,
            Text::new(
                "Change your own password with POST /v1/me/password.",
                "请通过 POST /v1/me/password 修改您自己的密码。",
            ),
        ));
    }
    let one_time = password.is_none().then(secret::one_time_password);
    let chosen = password.map_or_else(
        || one_time.clone().unwrap_or_default(),
        |p| p.expose().to_owned(),
    );
    let hash = state.passwords.hash(chosen).await?;
    let now = state.clock.now();
    let tx = state.store.begin().await?;
    let one_time_until = one_time.is_some().then(|| state.one_time_password_expiry());
    users::set_password(&tx, user.id, hash, one_time_until, now).await?;
    refresh_tokens::revoke_user(&tx, user.id, now).await?;
    audit::record_and_commit(
        tx,
        &state,
        &auth.origin,
        audit::Subject::new("user", user.id),
        "reset_password",
        serde_json::json!({}),
    )
    .await?;
    Ok(HttpResponse::Ok().json(PasswordReset {
        one_time_password: one_time,
    }))
}

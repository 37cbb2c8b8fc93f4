//! Integration clients (`users:write`): OAuth2 client credentials with granted scopes.

use actix_web::{HttpResponse, delete, get, patch, post, web};
use chrono::{DateTime, Utc};
use rapport_domain::Invalid;
use rapport_domain::auth::{Scope, ScopeSet};
use rapport_domain::identity as domain;
use rapport_domain::name::OrgName;
use rapport_domain::validation::{Errors, index};
use rapport_store::repos::{self, clients};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_actix_web::service_config::ServiceConfig;
use uuid::Uuid;

use crate::audit;
use crate::auth::scopes::UsersWrite;
use crate::auth::{Authorized, secret};
use crate::error::ApiError;
use crate::extract::{IfMatch, IfMatchParam, Json, Query};
use crate::feed;
use crate::pagination::{Paged, page_params};
use crate::patch::Patch;
use crate::respond;
use crate::schemas;
use crate::state::AppState;

pub fn configure(cfg: &mut ServiceConfig) {
    cfg.service(list_clients)
        .service(create_client)
        .service(get_client)
        .service(update_client)
        .service(delete_client)
        .service(rotate_secret);
}

/// An integration client, with the scopes it may be granted. It signs in with
/// `grant_type=client_credentials`, using its `id` as `client_id`.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Client {
    pub id: Uuid,
    #[schema(example = "ERP sync")]
    pub name: String,
    /// The scopes it may be granted.
    #[schema(schema_with = schemas::scopes)]
    pub scopes: Vec<String>,
    pub disabled: bool,
    pub created_by: Option<Uuid>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub version: i32,
}

crate::list_type!(ClientList, Client, with_deletions);

impl From<domain::Client> for Client {
    fn from(c: domain::Client) -> Self {
        Client {
            id: c.id,
            name: c.name.into_string(),
            scopes: c.scopes.iter().map(|s| s.as_str().to_owned()).collect(),
            disabled: c.disabled,
            created_by: c.created_by,
            created_at: c.created_at,
            updated_at: c.updated_at,
            version: c.version,
        }
    }
}

/// A client with its secret: answered once, at creation or rotation.
#[derive(Debug, Serialize, ToSchema)]
pub struct ClientWithSecret {
    #[serde(flatten)]
    pub client: Client,
    /// The same as `id`.
    pub client_id: Uuid,
    /// Shown this once; only its hash is kept.
    pub client_secret: String,
}

/// A new client. Its scopes are a subset of `customers:*`, `opportunities:*`, `tickets:*`,
/// `tasks:*`, `surveys:*`, `campaigns:*`, `reports:read`, `webhooks:write`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateClient {
    #[schema(example = "ERP sync")]
    pub name: String,
    #[schema(schema_with = schemas::scopes)]
    pub scopes: Vec<String>,
}

/// Changes to a client. A change of scopes or disabling ends its current tokens.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateClient {
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    pub name: Patch<String>,
    #[serde(default)]
    #[schema(schema_with = schemas::scopes_or_null)]
    pub scopes: Patch<Vec<String>>,
    #[serde(default)]
    #[schema(value_type = Option<bool>)]
    pub disabled: Patch<bool>,
}

/// Paging of the client list.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ClientListParams {
    /// 1 to 200, default 50.
    pub limit: Option<i64>,
    pub cursor: Option<String>,
    /// The change feed: every client changed at or after this time, oldest change first,
    /// each at its latest version, and in `deleted` those deleted since then, in the same
    /// order under the same cursor. Changes show once they are 5 seconds old. Walk the pages
    /// with `cursor`; at the end, ask again with the last `updated_at` or `deleted_at` you
    /// saw (keep the highest `version`).
    #[param(example = "2026-12-01T00:00:00Z")]
    pub updated_since: Option<DateTime<Utc>>,
}

/// The scopes an integration client can be granted (api.md), named in error messages.
pub const GRANTABLE: &[&str] = &[
    "customers:read",
    "customers:write",
    "customers:delete",
    "customers:privacy",
    "opportunities:read",
    "opportunities:write",
    "tickets:read",
    "tickets:write",
    "tasks:read",
    "tasks:write",
    "surveys:read",
    "surveys:write",
    "campaigns:read",
    "campaigns:write",
    "reports:read",
    "webhooks:write",
];

fn parse_scopes(names: &[String], errors: &mut Errors) -> ScopeSet {
    let mut set = ScopeSet::EMPTY;
    for (i, name) in names.iter().enumerate() {
        match name.parse::<Scope>() {
            Ok(scope) if scope.grantable_to_clients() => set.insert(scope),
            _ => errors.add(index("scopes", i), Invalid::NotOneOf { allowed: GRANTABLE }),
        }
    }
    set
}

/// List clients.
#[utoipa::path(
    tag = "clients",
    params(ClientListParams),
    responses((status = 200, body = ClientList)),
    security(("oauth2" = ["users:write"]))
)]
#[get("/clients")]
async fn list_clients(
    state: web::Data<AppState>,
    auth: Authorized<UsersWrite>,
    params: Query<ClientListParams>,
) -> Result<HttpResponse, ApiError> {
    let params = params.into_inner()?;
    let sort = feed::sort_or(params.updated_since, "id");
    let (limit, cursor) = page_params(params.limit, params.cursor.as_deref(), sort)?;
    let changes = params
        .updated_since
        .map(|since| feed::changes(&state, since));
    let db = state.list_reads(&auth);
    let page = clients::list(db, changes, cursor.clone(), limit).await?;
    let (page, deleted) = feed::with_deletions(
        page,
        changes,
        limit,
        |c| (c.updated_at, c.id),
        |changes| clients::deleted(db, changes, cursor, limit),
    )
    .await?;
    Ok(HttpResponse::Ok().json(ClientList::new(
        Paged::from_page(page, sort, Client::from),
        deleted,
    )))
}

/// Create a client. The answer holds its secret, this once.
#[utoipa::path(
    tag = "clients",
    request_body = CreateClient,
    responses((status = 201, body = ClientWithSecret, headers(("Location" = String), ("ETag" = String)))),
    security(("oauth2" = ["users:write"]))
)]
#[post("/clients")]
async fn create_client(
    state: web::Data<AppState>,
    auth: Authorized<UsersWrite>,
    body: Json<CreateClient>,
) -> Result<HttpResponse, ApiError> {
    let body = body.into_inner()?;
    let mut errors = Errors::default();
    let name = errors.check("name", OrgName::parse(&body.name));
    let scopes = parse_scopes(&body.scopes, &mut errors);
    let name = errors.finish_with(name)?;
    let secret_value = secret::random_token(32);
    let new = clients::NewClient {
        id: Uuid::now_v7(),
        name,
        scopes,
        secret_hash: secret::sha256_hex(&secret_value),
        created_by: auth.user_id(),
    };
    let tx = state.store.begin().await?;
    let client = Client::from(clients::insert(&tx, new, state.clock.now()).await?);
    audit::record_and_commit(
        tx,
        &state,
        &auth.origin,
        audit::Subject::new("client", client.id),
        "create",
        audit::changes(None, Some(&client)),
    )
    .await?;
    let (id, version) = (client.id, client.version);
    let body = ClientWithSecret {
        client,
        client_id: id,
        client_secret: secret_value,
    };
    Ok(respond::created(
        &body,
        version,
        format!("/v1/clients/{id}"),
    ))
}

/// Get a client.
#[utoipa::path(
    tag = "clients",
    params(("id" = Uuid, Path)),
    responses((status = 200, body = Client, headers(("ETag" = String)))),
    security(("oauth2" = ["users:write"]))
)]
#[get("/clients/{id}")]
async fn get_client(
    state: web::Data<AppState>,
    _auth: Authorized<UsersWrite>,
    id: web::Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    let client = Client::from(clients::get(state.store.conn(), id.into_inner()).await?);
    Ok(respond::ok(&client, client.version))
}

/// Update a client.
#[utoipa::path(
    tag = "clients",
    params(("id" = Uuid, Path), IfMatchParam),
    request_body = UpdateClient,
    responses((status = 200, body = Client, headers(("ETag" = String)))),
    security(("oauth2" = ["users:write"]))
)]
#[patch("/clients/{id}")]
async fn update_client(
    state: web::Data<AppState>,
    auth: Authorized<UsersWrite>,
    id: web::Path<Uuid>,
    if_match: IfMatch,
    body: Json<UpdateClient>,
) -> Result<HttpResponse, ApiError> {
    let body = body.into_inner()?;
    let tx = state.store.begin().await?;
    let before: domain::Client = repos::get_locked(&tx, id.into_inner()).await?;
    if_match.check(before.version)?;
    let mut after = before.clone();
    let mut errors = Errors::default();
    body.name
        .required(&mut errors, "name", &mut after.name, OrgName::parse);
    body.scopes
        .collection(&mut errors, &mut after.scopes, |names, e| {
            Some(parse_scopes(&names, e))
        });
    if let Some(disabled) = body.disabled.into_required(&mut errors, "disabled") {
        after.disabled = disabled;
    }
    errors.finish()?;
    if after.disabled != before.disabled || after.scopes != before.scopes {
        after.revoke_tokens();
    }
    let saved = Client::from(repos::save(&tx, &after, state.clock.now()).await?);
    let before = Client::from(before);
    audit::record_and_commit(
        tx,
        &state,
        &auth.origin,
        audit::Subject::new("client", saved.id),
        "update",
        audit::changes(Some(&before), Some(&saved)),
    )
    .await?;
    Ok(respond::ok(&saved, saved.version))
}

/// Delete a client: its tokens stop working at once.
#[utoipa::path(
    tag = "clients",
    params(("id" = Uuid, Path), IfMatchParam),
    responses((status = 204, description = "Deleted")),
    security(("oauth2" = ["users:write"]))
)]
#[delete("/clients/{id}")]
async fn delete_client(
    state: web::Data<AppState>,
    auth: Authorized<UsersWrite>,
    id: web::Path<Uuid>,
    if_match: IfMatch,
) -> Result<HttpResponse, ApiError> {
    let tx = state.store.begin().await?;
    let client: domain::Client = repos::get_locked(&tx, id.into_inner()).await?;
    if_match.check(client.version)?;
    clients::delete(&tx, client.id, state.clock.now()).await?;
    let client = Client::from(client);
    audit::record_and_commit(
        tx,
        &state,
        &auth.origin,
        audit::Subject::new("client", client.id),
        "delete",
        audit::changes(Some(&client), None),
    )
    .await?;
    Ok(HttpResponse::NoContent().finish())
}

/// Replace a client's secret: the old one and the client's tokens stop working at once.
#[utoipa::path(
    tag = "clients",
    params(("id" = Uuid, Path)),
    responses((status = 200, body = ClientWithSecret)),
    security(("oauth2" = ["users:write"]))
)]
#[post("/clients/{id}/rotate-secret")]
async fn rotate_secret(
    state: web::Data<AppState>,
    auth: Authorized<UsersWrite>,
    id: web::Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    let secret_value = secret::random_token(32);
    let tx = state.store.begin().await?;
    let client = clients::set_secret(
        &tx,
        id.into_inner(),
        secret::sha256_hex(&secret_value),
        state.clock.now(),
    )
    .await?;
    let client = Client::from(client);
    audit::record_and_commit(
        tx,
        &state,
        &auth.origin,
        audit::Subject::new("client", client.id),
        "rotate_secret",
        serde_json::json!({}),
    )
    .await?;
    let (id, version) = (client.id, client.version);
    Ok(respond::ok(
        &ClientWithSecret {
            client,
            client_id: id,
            client_secret: secret_value,
        },
        version,
    ))
}

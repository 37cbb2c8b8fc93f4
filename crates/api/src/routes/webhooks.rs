//! Webhook subscriptions (`webhooks:write`) and their deliveries. An admin sees every
//! subscription; an integration client sees only its own (others are 404). Events are queued
//! by the audit trail on the transaction of each change (`rapport_store::repos::webhooks`)
//! and posted by the `webhooks.deliver` job.

use actix_web::{HttpResponse, delete, get, patch, post, web};
use chrono::{DateTime, Utc};
use rapport_domain::Invalid;
use rapport_domain::auth::Role;
use rapport_domain::name::Name;
use rapport_domain::validation::{Errors, index};
use rapport_domain::web_url::WebUrl;
use rapport_domain::webhook::{self as domain, DeliveryStatus, EventType, WebhookStatus};
use rapport_store::repos::{self, webhooks};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::{IntoParams, ToSchema};
use utoipa_actix_web::service_config::ServiceConfig;
use uuid::Uuid;

use crate::audit;
use crate::auth::scopes::WebhooksWrite;
use crate::auth::{Authorized, Caller, secret};
use crate::error::ApiError;
use crate::extract::{IfMatch, IfMatchParam, Json, Query, code_param};
use crate::feed;
use crate::outbound;
use crate::pagination::{Paged, page_params};
use crate::patch::Patch;
use crate::respond;
use crate::schemas;
use crate::state::AppState;

pub fn configure(cfg: &mut ServiceConfig) {
    cfg.service(list_webhooks)
        .service(create_webhook)
        .service(get_webhook)
        .service(update_webhook)
        .service(delete_webhook)
        .service(list_deliveries)
        .service(get_delivery)
        .service(replay_delivery);
}

/// A subscription: events of `event_types` are posted to `url` as JSON
/// ([`WebhookEvent`]), signed in the `Rapport-Signature` header:
/// `t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<body>" keyed with the secret>`. Check the
/// signature over the raw body, and refuse a `t` more than 300 seconds from your clock (a
/// replay). Delivery is at least once (drop an event `id` you have seen), in order per
/// record; a 2xx answer within 10 seconds is a success. Failed deliveries are retried with
/// exponential backoff (10 s doubling to an hour) for 24 hours; then the subscription is
/// `paused` with a `paused_reason`, and resumed by setting `status` to `active`.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Webhook {
    pub id: Uuid,
    #[schema(example = "https://erp.example.cn/rapport/events")]
    pub url: String,
    pub description: Option<String>,
    #[schema(schema_with = schemas::webhook_event_types)]
    pub event_types: Vec<String>,
    #[schema(schema_with = schemas::webhook_status)]
    pub status: String,
    /// Why Rapport paused it (its deliveries failed for a day); `null` otherwise.
    pub paused_reason: Option<String>,
    /// `user` (an admin) or `client` (an integration client).
    #[schema(example = "client")]
    pub owner_type: String,
    pub owner_id: Option<Uuid>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub version: i32,
}

crate::list_type!(WebhookList, Webhook, with_deletions);

impl From<domain::Webhook> for Webhook {
    fn from(w: domain::Webhook) -> Self {
        Webhook {
            id: w.id,
            url: w.url.into_string(),
            description: w.description,
            event_types: w
                .event_types
                .iter()
                .map(|t| t.as_str().to_owned())
                .collect(),
            status: w.status.as_str().to_owned(),
            paused_reason: w.paused_reason,
            owner_type: w.owner.kind().to_owned(),
            owner_id: w.owner.id(),
            created_at: w.created_at,
            updated_at: w.updated_at,
            version: w.version,
        }
    }
}

/// A subscription with its signing secret: answered once, at creation.
#[derive(Debug, Serialize, ToSchema)]
pub struct WebhookWithSecret {
    #[serde(flatten)]
    pub webhook: Webhook,
    /// The HMAC key of the signatures (`whsec_…`). Shown this once.
    pub secret: String,
}

/// A new subscription. The URL must be `http(s)` and reach a public address (loopback,
/// private, link-local and metadata addresses are refused unless the installation allows
/// them); each event type needs the scope that reads its record.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateWebhook {
    #[schema(example = "https://erp.example.cn/rapport/events")]
    pub url: String,
    #[schema(example = "ERP sync")]
    pub description: Option<String>,
    #[schema(schema_with = schemas::webhook_event_types)]
    pub event_types: Vec<String>,
}

/// Changes to a subscription. `status: active` resumes a paused one: its pending deliveries
/// are sent again, in order.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateWebhook {
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    pub url: Patch<String>,
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    pub description: Patch<String>,
    #[serde(default)]
    #[schema(schema_with = schemas::webhook_event_types_or_null)]
    pub event_types: Patch<Vec<String>>,
    #[serde(default)]
    #[schema(schema_with = schemas::webhook_status_or_null)]
    pub status: Patch<String>,
}

/// One try at posting a delivery.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct DeliveryAttempt {
    pub attempted_at: DateTime<Utc>,
    /// The receiver's HTTP status; `null` when no answer came.
    pub response_status: Option<u16>,
    /// From sending the request to the answer's status line.
    pub latency_ms: u64,
    /// Why no answer came: `timed out`, `could not connect`, `refused: private_address`, …
    pub error: Option<String>,
}

/// An event on its way to a subscription, with each attempt (the first and the latest 49
/// are kept).
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct WebhookDelivery {
    pub id: Uuid,
    pub webhook_id: Uuid,
    /// The event's id: the same in a replay.
    pub event_id: Uuid,
    #[schema(schema_with = schemas::webhook_event_type)]
    pub event_type: String,
    #[schema(schema_with = schemas::delivery_status)]
    pub status: String,
    pub attempts: Vec<DeliveryAttempt>,
    /// The body posted: a [`WebhookEvent`].
    #[schema(value_type = WebhookEvent)]
    pub payload: Value,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

crate::list_type!(WebhookDeliveryList, WebhookDelivery);

impl From<domain::Delivery> for WebhookDelivery {
    fn from(d: domain::Delivery) -> Self {
        WebhookDelivery {
            id: d.id,
            webhook_id: d.webhook_id,
            event_id: d.event_id,
            event_type: d.event_type.as_str().to_owned(),
            status: d.status.as_str().to_owned(),
            attempts: d
                .attempts
                .into_iter()
                .map(|a| DeliveryAttempt {
                    attempted_at: a.attempted_at,
                    response_status: a.response_status,
                    latency_ms: a.latency_ms,
                    error: a.error,
                })
                .collect(),
            payload: d.payload,
            created_at: d.created_at,
            updated_at: d.updated_at,
        }
    }
}

/// Who made the change an event tells of.
#[derive(Debug, Serialize, ToSchema)]
pub struct EventActor {
    /// `user`, `client` or `system` (a background job).
    #[serde(rename = "type")]
    pub kind: String,
    pub id: Option<Uuid>,
}

/// The record an event is about.
#[derive(Debug, Serialize, ToSchema)]
pub struct EventData {
    /// The record's kind: `customer`, `contact`, `opportunity`, `ticket`,
    /// `survey_invitation`, …
    #[schema(example = "customer")]
    pub object: String,
    pub id: Uuid,
    /// The customer it belongs to.
    pub customer_id: Option<Uuid>,
    /// `{"field": {"before": …, "after": …}}` for each field that changed (every field of a
    /// created record), as in the audit trail; encrypted fields show `[encrypted]`.
    #[schema(value_type = Object)]
    pub changes: Value,
}

/// The body of every webhook delivery. Fetch the record by `data.id` for its current state.
#[derive(Debug, Serialize, ToSchema)]
pub struct WebhookEvent {
    /// Unique per event (a replay has the same id): drop one you have seen.
    pub id: Uuid,
    #[serde(rename = "type")]
    #[schema(schema_with = schemas::webhook_event_type)]
    pub kind: String,
    pub occurred_at: DateTime<Utc>,
    pub actor: EventActor,
    pub data: EventData,
}

/// Paging of the subscription list.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct WebhookListParams {
    /// 1 to 200, default 50.
    pub limit: Option<i64>,
    pub cursor: Option<String>,
    /// The change feed: every subscription changed at or after this time, oldest change first,
    /// each at its latest version, and in `deleted` those deleted since then, in the same
    /// order under the same cursor. Changes show once they are 5 seconds old. Walk the pages
    /// with `cursor`; at the end, ask again with the last `updated_at` or `deleted_at` you
    /// saw (keep the highest `version`).
    #[param(example = "2026-12-01T00:00:00Z")]
    pub updated_since: Option<DateTime<Utc>>,
}

/// Filter and paging of a subscription's deliveries.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct DeliveryListParams {
    #[param(schema_with = schemas::delivery_status)]
    pub status: Option<String>,
    /// 1 to 200, default 50.
    pub limit: Option<i64>,
    pub cursor: Option<String>,
}

/// Reads the event types; each needs the scope that reads its record.
fn parse_event_types(
    names: &[String],
    caller: &Caller,
    errors: &mut Errors,
) -> Option<Vec<EventType>> {
    if names.is_empty() {
        errors.add("event_types", Invalid::Required);
        return None;
    }
    let mut types = Vec::new();
    for (i, name) in names.iter().enumerate() {
        match EventType::parse(name) {
            Ok(t) if !caller.scopes.contains(t.read_scope()) => {
                errors.add(index("event_types", i), Invalid::NotAllowed);
            }
            Ok(t) if !types.contains(&t) => types.push(t),
            Ok(_) => errors.add(index("event_types", i), Invalid::Duplicate),
            Err(e) => errors.add(index("event_types", i), e),
        }
    }
    Some(types)
}

/// A description: the shared text rules (`Name`), up to 500 characters; blank is none.
fn parse_description(text: &str) -> Result<String, Invalid> {
    if text.trim().is_empty() {
        return Ok(String::new());
    }
    Name::<500>::parse(text).map(Name::into_string)
}

/// Reads a URL and checks where it leads.
async fn parse_url(input: &str, state: &AppState) -> Result<WebUrl, Invalid> {
    let url = WebUrl::parse(input)?;
    outbound::target(&url, state.settings.webhooks_allow_private).await?;
    Ok(url)
}

async fn visible(state: &AppState, caller: &Caller, id: Uuid) -> Result<domain::Webhook, ApiError> {
    let hook = webhooks::get(state.store.conn(), id).await?;
    caller.check_owner(hook.owner)?;
    Ok(hook)
}

/// List subscriptions, newest first.
#[utoipa::path(
    tag = "webhooks",
    params(WebhookListParams),
    responses((status = 200, body = WebhookList)),
    security(("oauth2" = ["webhooks:write"]))
)]
#[get("/webhooks")]
async fn list_webhooks(
    state: web::Data<AppState>,
    auth: Authorized<WebhooksWrite>,
    params: Query<WebhookListParams>,
) -> Result<HttpResponse, ApiError> {
    let params = params.into_inner()?;
    let sort = feed::sort_or(params.updated_since, "id");
    let (limit, cursor) = page_params(params.limit, params.cursor.as_deref(), sort)?;
    let owner = (auth.role() != Role::Admin).then(|| auth.actor());
    let changes = params
        .updated_since
        .map(|since| feed::changes(&state, since));
    let db = state.list_reads(&auth);
    let page = webhooks::list(db, owner, changes, cursor.clone(), limit).await?;
    let (page, deleted) = feed::with_deletions(
        page,
        changes,
        limit,
        |w| (w.updated_at, w.id),
        |changes| webhooks::deleted(db, owner, changes, cursor, limit),
    )
    .await?;
    Ok(HttpResponse::Ok().json(WebhookList::new(
        Paged::from_page(page, sort, Webhook::from),
        deleted,
    )))
}

/// Subscribe a URL to event types. The answer holds the signing secret, this once.
#[utoipa::path(
    tag = "webhooks",
    request_body = CreateWebhook,
    responses((status = 201, body = WebhookWithSecret, headers(("Location" = String), ("ETag" = String)))),
    security(("oauth2" = ["webhooks:write"]))
)]
#[post("/webhooks")]
async fn create_webhook(
    state: web::Data<AppState>,
    auth: Authorized<WebhooksWrite>,
    body: Json<CreateWebhook>,
) -> Result<HttpResponse, ApiError> {
    let body = body.into_inner()?;
    let mut errors = Errors::default();
    let url = errors.check("url", parse_url(&body.url, &state).await);
    let description = errors.check_opt(
        "description",
        body.description.as_deref(),
        parse_description,
    );
    let event_types = parse_event_types(&body.event_types, &auth, &mut errors);
    let (url, event_types) = errors.finish_with(url.zip(event_types))?;
    let now = state.clock.now();
    let secret_value = format!("whsec_{}", secret::random_token(32));
    let hook = domain::Webhook {
        id: Uuid::now_v7(),
        url,
        description: description.flatten().filter(|d| !d.is_empty()),
        event_types,
        status: WebhookStatus::Active,
        paused_reason: None,
        secret: secret_value.clone(),
        owner: auth.actor(),
        created_at: now,
        updated_at: now,
        version: 1,
    };
    let tx = state.store.begin().await?;
    webhooks::insert(&tx, &hook).await?;
    let hook = Webhook::from(hook);
    audit::record_and_commit(
        tx,
        &state,
        &auth.origin,
        audit::Subject::new(domain::ENTITY_TYPE, hook.id),
        "create",
        audit::changes(None, Some(&hook)),
    )
    .await?;
    let (id, version) = (hook.id, hook.version);
    Ok(respond::created(
        &WebhookWithSecret {
            webhook: hook,
            secret: secret_value,
        },
        version,
        format!("/v1/webhooks/{id}"),
    ))
}

/// Get a subscription.
#[utoipa::path(
    tag = "webhooks",
    params(("id" = Uuid, Path)),
    responses((status = 200, body = Webhook, headers(("ETag" = String)))),
    security(("oauth2" = ["webhooks:write"]))
)]
#[get("/webhooks/{id}")]
async fn get_webhook(
    state: web::Data<AppState>,
    auth: Authorized<WebhooksWrite>,
    id: web::Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    let hook = Webhook::from(visible(&state, &auth, id.into_inner()).await?);
    Ok(respond::ok(&hook, hook.version))
}

/// Update a subscription; `status: active` resumes a paused one.
#[utoipa::path(
    tag = "webhooks",
    params(("id" = Uuid, Path), IfMatchParam),
    request_body = UpdateWebhook,
    responses((status = 200, body = Webhook, headers(("ETag" = String)))),
    security(("oauth2" = ["webhooks:write"]))
)]
#[patch("/webhooks/{id}")]
async fn update_webhook(
    state: web::Data<AppState>,
    auth: Authorized<WebhooksWrite>,
    id: web::Path<Uuid>,
    if_match: IfMatch,
    body: Json<UpdateWebhook>,
) -> Result<HttpResponse, ApiError> {
    let body = body.into_inner()?;
    let mut errors = Errors::default();
    // Resolved before the transaction: a slow DNS answer holds no lock.
    let url = match body.url.into_required(&mut errors, "url") {
        Some(url) => errors.check("url", parse_url(&url, &state).await),
        None => None,
    };
    let tx = state.store.begin().await?;
    let before: domain::Webhook = repos::get_locked(&tx, id.into_inner()).await?;
    auth.check_owner(before.owner)?;
    if_match.check(before.version)?;
    let mut after = before.clone();
    if let Some(url) = url {
        after.url = url;
    }
    body.description.optional(
        &mut errors,
        "description",
        &mut after.description,
        parse_description,
    );
    if let Some(names) = body.event_types.into_required(&mut errors, "event_types")
        && let Some(types) = parse_event_types(&names, &auth, &mut errors)
    {
        after.event_types = types;
    }
    body.status.required(
        &mut errors,
        "status",
        &mut after.status,
        WebhookStatus::parse,
    );
    errors.finish()?;
    let resumed = before.status == WebhookStatus::Paused && after.status == WebhookStatus::Active;
    if after.status == WebhookStatus::Active {
        after.paused_reason = None;
    }
    let now = state.clock.now();
    let saved = repos::save(&tx, &after, now).await?;
    if resumed {
        for delivery in webhooks::pending(&tx, saved.id).await? {
            webhooks::wake(
                &tx,
                &domain::Delivery {
                    updated_at: now,
                    ..delivery
                },
            )
            .await?;
        }
    }
    let (before, saved) = (Webhook::from(before), Webhook::from(saved));
    audit::record_and_commit(
        tx,
        &state,
        &auth.origin,
        audit::Subject::new(domain::ENTITY_TYPE, saved.id),
        "update",
        audit::changes(Some(&before), Some(&saved)),
    )
    .await?;
    Ok(respond::ok(&saved, saved.version))
}

/// Delete a subscription and its deliveries: nothing more is sent to it.
#[utoipa::path(
    tag = "webhooks",
    params(("id" = Uuid, Path), IfMatchParam),
    responses((status = 204, description = "Deleted")),
    security(("oauth2" = ["webhooks:write"]))
)]
#[delete("/webhooks/{id}")]
async fn delete_webhook(
    state: web::Data<AppState>,
    auth: Authorized<WebhooksWrite>,
    id: web::Path<Uuid>,
    if_match: IfMatch,
) -> Result<HttpResponse, ApiError> {
    let tx = state.store.begin().await?;
    let hook: domain::Webhook = repos::get_locked(&tx, id.into_inner()).await?;
    auth.check_owner(hook.owner)?;
    if_match.check(hook.version)?;
    webhooks::delete(&tx, &hook, state.clock.now()).await?;
    let hook = Webhook::from(hook);
    audit::record_and_commit(
        tx,
        &state,
        &auth.origin,
        audit::Subject::new(domain::ENTITY_TYPE, hook.id),
        "delete",
        audit::changes(Some(&hook), None),
    )
    .await?;
    Ok(HttpResponse::NoContent().finish())
}

/// A subscription's deliveries, newest first, each with its attempts (`?status=failed` for
/// those given up).
#[utoipa::path(
    tag = "webhooks",
    params(("id" = Uuid, Path), DeliveryListParams),
    responses((status = 200, body = WebhookDeliveryList)),
    security(("oauth2" = ["webhooks:write"]))
)]
#[get("/webhooks/{id}/deliveries")]
async fn list_deliveries(
    state: web::Data<AppState>,
    auth: Authorized<WebhooksWrite>,
    id: web::Path<Uuid>,
    params: Query<DeliveryListParams>,
) -> Result<HttpResponse, ApiError> {
    let params = params.into_inner()?;
    let hook = visible(&state, &auth, id.into_inner()).await?;
    let status = code_param("status", params.status.as_deref(), DeliveryStatus::parse)?;
    let (limit, cursor) = page_params(params.limit, params.cursor.as_deref(), "id")?;
    let page = webhooks::deliveries(state.store.conn(), hook.id, status, cursor, limit).await?;
    Ok(
        HttpResponse::Ok().json(WebhookDeliveryList::from(Paged::from_page(
            page,
            "id",
            WebhookDelivery::from,
        ))),
    )
}

/// The delivery of a subscription's own, or 404.
async fn delivery_of(
    db: &impl rapport_store::Conn,
    hook: &domain::Webhook,
    id: Uuid,
) -> Result<domain::Delivery, ApiError> {
    let delivery = webhooks::delivery(db, id).await?;
    if delivery.webhook_id == hook.id {
        Ok(delivery)
    } else {
        Err(ApiError::NotFound)
    }
}

/// Get one delivery with its attempts.
#[utoipa::path(
    tag = "webhooks",
    params(("id" = Uuid, Path), ("delivery_id" = Uuid, Path)),
    responses((status = 200, body = WebhookDelivery)),
    security(("oauth2" = ["webhooks:write"]))
)]
#[get("/webhooks/{id}/deliveries/{delivery_id}")]
async fn get_delivery(
    state: web::Data<AppState>,
    auth: Authorized<WebhooksWrite>,
    path: web::Path<(Uuid, Uuid)>,
) -> Result<HttpResponse, ApiError> {
    let (id, delivery_id) = path.into_inner();
    let hook = visible(&state, &auth, id).await?;
    let delivery = delivery_of(state.store.conn(), &hook, delivery_id).await?;
    Ok(HttpResponse::Ok().json(WebhookDelivery::from(delivery)))
}

/// Send a delivery's event again, as a new delivery with the same event id (after the
/// subscription's earlier deliveries of the same record).
#[utoipa::path(
    tag = "webhooks",
    params(("id" = Uuid, Path), ("delivery_id" = Uuid, Path)),
    responses((status = 201, body = WebhookDelivery, headers(("Location" = String)))),
    security(("oauth2" = ["webhooks:write"]))
)]
#[post("/webhooks/{id}/deliveries/{delivery_id}/replay")]
async fn replay_delivery(
    state: web::Data<AppState>,
    auth: Authorized<WebhooksWrite>,
    path: web::Path<(Uuid, Uuid)>,
) -> Result<HttpResponse, ApiError> {
    let (id, delivery_id) = path.into_inner();
    let hook = visible(&state, &auth, id).await?;
    let tx = state.store.begin().await?;
    let original = delivery_of(&tx, &hook, delivery_id).await?;
    let replay = original.replay(state.clock.now());
    webhooks::queue(&tx, &replay).await?;
    audit::record_and_commit(
        tx,
        &state,
        &auth.origin,
        audit::Subject::new(domain::ENTITY_TYPE, hook.id),
        "replay",
        serde_json::json!({"delivery_id": {"before": original.id, "after": replay.id}}),
    )
    .await?;
    let location = format!("/v1/webhooks/{}/deliveries/{}", hook.id, replay.id);
    Ok(HttpResponse::Created()
        .insert_header(("Location", location))
        .json(WebhookDelivery::from(replay)))
}

//! Activities: calls, emails, meetings, visits, chats and notes recorded against customers.

use actix_web::{HttpRequest, HttpResponse, delete, get, patch, post, web};
use chrono::{DateTime, Utc};
use rapport_domain::Invalid;
use rapport_domain::activity::{Activity as DomainActivity, Details, Outcome, Summary};
use rapport_domain::enums::{ActivityKind, Channel, Direction};
use rapport_domain::name::Name;
use rapport_domain::validation::Errors;
use rapport_store::Tx;
use rapport_store::repos::activities::{self, ActivityFilter};
use rapport_store::repos::{self, Lock, customers, tasks};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_actix_web::service_config::ServiceConfig;
use uuid::Uuid;

use crate::audit;
use crate::auth::Authorized;
use crate::auth::scopes::{CustomersRead, CustomersWrite};
use crate::batch::{self, BatchBody, BatchResult, Written};
use crate::error::ApiError;
use crate::extract::{IfMatch, IfMatchParam, Json, Query, code_param};
use crate::feed;
use crate::i18n::Lang;
use crate::pagination::{Paged, page_params};
use crate::patch::Patch;
use crate::respond;
use crate::routes::customers::access;
use crate::schemas;
use crate::state::AppState;

pub fn configure(cfg: &mut ServiceConfig) {
    // `/activities/batch` before `/activities/{id}`, which would take it for an id.
    cfg.service(list_activities)
        .service(create_activity)
        .service(batch_activities)
        .service(get_activity)
        .service(update_activity)
        .service(delete_activity);
}

/// A recorded interaction with a customer.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Activity {
    pub id: Uuid,
    pub customer_id: Uuid,
    pub contact_id: Option<Uuid>,
    #[schema(schema_with = schemas::activity_kind)]
    pub kind: String,
    #[schema(schema_with = schemas::direction_or_null)]
    pub direction: Option<String>,
    #[schema(schema_with = schemas::channel_or_null)]
    pub channel: Option<String>,
    pub occurred_at: DateTime<Utc>,
    #[schema(example = "Discussed the Q3 order")]
    pub summary: String,
    pub details: Option<String>,
    pub outcome: Option<String>,
    /// The user or client who recorded it.
    pub recorded_by: Option<Uuid>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub version: i32,
}

impl From<DomainActivity> for Activity {
    fn from(a: DomainActivity) -> Self {
        Activity {
            id: a.id,
            customer_id: a.customer_id,
            contact_id: a.contact_id,
            kind: a.kind.as_str().to_owned(),
            direction: a.direction.map(|d| d.as_str().to_owned()),
            channel: a.channel.map(|c| c.as_str().to_owned()),
            occurred_at: a.occurred_at,
            summary: a.summary.into_string(),
            details: a.details.map(Name::into_string),
            outcome: a.outcome.map(Name::into_string),
            recorded_by: a.recorded_by,
            created_at: a.created_at,
            updated_at: a.updated_at,
            version: a.version,
        }
    }
}

crate::list_type!(ActivityList, Activity, with_deletions);

/// A new activity.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateActivity {
    #[schema(required = true)]
    pub customer_id: Option<Uuid>,
    /// A contact of that customer.
    pub contact_id: Option<Uuid>,
    #[schema(schema_with = schemas::activity_kind, required = true)]
    pub kind: Option<String>,
    #[schema(schema_with = schemas::direction_or_null)]
    pub direction: Option<String>,
    #[schema(schema_with = schemas::channel_or_null)]
    pub channel: Option<String>,
    /// Default: now.
    pub occurred_at: Option<DateTime<Utc>>,
    #[schema(required = true, example = "Discussed the Q3 order")]
    pub summary: Option<String>,
    pub details: Option<String>,
    pub outcome: Option<String>,
}

/// Changes to an activity; `null` clears optional fields.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateActivity {
    #[serde(default)]
    #[schema(value_type = Option<Uuid>, nullable)]
    pub contact_id: Patch<Uuid>,
    #[serde(default)]
    #[schema(schema_with = schemas::activity_kind)]
    pub kind: Patch<String>,
    #[serde(default)]
    #[schema(schema_with = schemas::direction_or_null)]
    pub direction: Patch<String>,
    #[serde(default)]
    #[schema(schema_with = schemas::channel_or_null)]
    pub channel: Patch<String>,
    #[serde(default)]
    #[schema(value_type = Option<DateTime<Utc>>)]
    pub occurred_at: Patch<DateTime<Utc>>,
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    pub summary: Patch<String>,
    #[serde(default)]
    #[schema(value_type = Option<String>, nullable)]
    pub details: Patch<String>,
    #[serde(default)]
    #[schema(value_type = Option<String>, nullable)]
    pub outcome: Patch<String>,
}

/// Filters of the activity list.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ActivityListParams {
    pub customer_id: Option<Uuid>,
    pub contact_id: Option<Uuid>,
    #[param(schema_with = schemas::activity_kind)]
    pub kind: Option<String>,
    /// Occurred at or after.
    pub from: Option<DateTime<Utc>>,
    /// Occurred before.
    pub to: Option<DateTime<Utc>>,
    /// 1 to 200, default 50.
    pub limit: Option<i64>,
    pub cursor: Option<String>,
    /// The change feed: every activity changed at or after this time, oldest change first,
    /// each at its latest version, and in `deleted` those deleted for good since then (with
    /// their `id`, `customer_id` and `deleted_at`), in the same order under the same cursor.
    /// Changes show once they are 5 seconds old. Walk the pages with `cursor`; at the end, ask
    /// again with the last `updated_at` or `deleted_at` you saw (keep the highest `version`).
    /// Deletions follow `customer_id`, not the other filters (a deleted activity has nothing
    /// left to test; dropping an id you never had is harmless). A deleted customer's
    /// activities leave the feed with it (its tombstone is in the customer feed).
    #[param(example = "2026-12-01T00:00:00Z")]
    pub updated_since: Option<DateTime<Utc>>,
}

/// List activities of the customers the caller can see, newest first; or their change feed.
#[utoipa::path(
    tag = "activities",
    params(ActivityListParams),
    responses((status = 200, body = ActivityList)),
    security(("oauth2" = ["customers:read"]))
)]
#[get("/activities")]
async fn list_activities(
    state: web::Data<AppState>,
    auth: Authorized<CustomersRead>,
    params: Query<ActivityListParams>,
) -> Result<HttpResponse, ApiError> {
    let p = params.into_inner()?;
    let sort = feed::sort_or(p.updated_since, "-occurred_at");
    let (limit, cursor) = page_params(p.limit, p.cursor.as_deref(), sort)?;
    let kind = code_param("kind", p.kind.as_deref(), ActivityKind::parse)?;
    let filter = ActivityFilter {
        customer_id: p.customer_id,
        contact_id: p.contact_id,
        kind,
        from: p.from,
        to: p.to,
        changes: p.updated_since.map(|since| feed::changes(&state, since)),
    };
    let (db, visibility) = (state.list_reads(&auth), auth.visibility());
    let page = activities::list(db, visibility, &filter, cursor.clone(), limit).await?;
    let (page, deleted) = feed::with_deletions(
        page,
        filter.changes,
        limit,
        |a| (a.updated_at, a.id),
        |changes| activities::deleted(db, visibility, &filter, changes, cursor, limit),
    )
    .await?;
    Ok(HttpResponse::Ok().json(ActivityList::new(
        Paged::from_page(page, sort, Activity::from),
        deleted,
    )))
}

/// Record an activity.
///
/// It keeps the customer's `last_activity_at` up to date; the first one that reaches the
/// customer (anything but a note) sets `first_contacted_at` and completes the lead follow-up
/// task.
#[utoipa::path(
    tag = "activities",
    request_body = CreateActivity,
    responses((status = 201, body = Activity, headers(("Location" = String), ("ETag" = String)))),
    security(("oauth2" = ["customers:write"]))
)]
#[post("/activities")]
async fn create_activity(
    state: web::Data<AppState>,
    auth: Authorized<CustomersWrite>,
    body: Json<CreateActivity>,
) -> Result<HttpResponse, ApiError> {
    let body = body.into_inner()?;
    let tx = state.store.begin().await?;
    let body = create(&tx, &state, &auth, body).await?;
    audit::commit(tx, &state, &auth.origin).await?;
    Ok(respond::created(
        &body,
        body.version,
        format!("/v1/activities/{}", body.id),
    ))
}

/// Records an activity on `tx`, audited: the create request's work, and a batch item's. Every
/// refusal comes before the first write.
///
/// # Errors
/// 422 for invalid fields or a customer or contact the caller cannot see.
pub(crate) async fn create(
    tx: &Tx,
    state: &AppState,
    auth: &Authorized<CustomersWrite>,
    body: CreateActivity,
) -> Result<Activity, ApiError> {
    let now = state.clock.now();
    let mut errors = Errors::default();
    let customer =
        access::referenced(tx, auth, body.customer_id, body.contact_id, &mut errors).await?;
    let kind = match body.kind.as_deref() {
        Some(k) => errors.check("kind", ActivityKind::parse(k)),
        None => {
            errors.add("kind", Invalid::Required);
            None
        }
    };
    let direction = errors.check_opt("direction", body.direction.as_deref(), Direction::parse);
    let channel = errors.check_opt("channel", body.channel.as_deref(), Channel::parse);
    let summary = match body.summary.as_deref() {
        Some(s) => errors.check("summary", Summary::parse(s)),
        None => {
            errors.add("summary", Invalid::Required);
            None
        }
    };
    let details = errors.check_opt("details", body.details.as_deref(), Details::parse);
    let outcome = errors.check_opt("outcome", body.outcome.as_deref(), Outcome::parse);
    let (customer, kind, direction, channel, summary, details, outcome) =
        errors.finish_with((|| {
            Some((
                customer?, kind?, direction?, channel?, summary?, details?, outcome?,
            ))
        })())?;
    let activity = DomainActivity {
        id: uuid::Uuid::now_v7(),
        customer_id: customer.id,
        contact_id: body.contact_id,
        kind,
        direction,
        channel,
        occurred_at: body
            .occurred_at
            .map_or(now, rapport_domain::clock::to_micros),
        summary,
        details,
        outcome,
        recorded_by: auth.actor().id(),
        created_at: now,
        updated_at: now,
        version: 1,
    };
    activities::insert(tx, &activity).await?;
    let reached = kind.reaches_customer();
    customers::touch_activity(tx, customer.id, activity.occurred_at, reached, now).await?;
    if reached && customer.first_contacted_at.is_none() {
        tasks::complete_lead_follow_ups(tx, customer.id, now).await?;
    }
    let body = Activity::from(activity);
    audit::record(
        tx,
        state,
        &auth.origin,
        audit::Subject::of_customer("activity", body.id, Some(body.customer_id)),
        "create",
        audit::changes(None, Some(&body)),
    )
    .await?;
    Ok(body)
}

crate::batch_request!(ActivityBatch, ActivityBatchItem => CreateActivity);

/// Record or change up to 200 activities.
///
/// Each item is written with the rules of `POST /v1/activities` (or of
/// `PATCH /v1/activities/{id}` when it carries an `id`), audited and announced to webhooks one
/// by one, in one transaction. The answer lists each item in order: `201` recorded, `200`
/// changed, or its problem. Refused items write nothing; with `all_or_none`, one refused item
/// refuses the whole batch (422 `batch_failed`).
#[utoipa::path(
    tag = "activities",
    request_body = ActivityBatch,
    responses(
        (status = 200, body = BatchResult, description = "Each item's outcome, in order"),
        (status = 422, description = "Invalid `items`, or an `all_or_none` batch with refused items (`batch_failed`, with `items`)", body = crate::error::Problem, content_type = "application/problem+json")
    ),
    security(("oauth2" = ["customers:write"]))
)]
#[post("/activities/batch")]
async fn batch_activities(
    req: HttpRequest,
    state: web::Data<AppState>,
    auth: Authorized<CustomersWrite>,
    body: Json<BatchBody>,
) -> Result<HttpResponse, ApiError> {
    let body = body.into_inner()?;
    let record = async |tx: &Tx, body: CreateActivity| {
        let a = create(tx, &state, &auth, body).await?;
        Ok(Written::created(a.id, a.version))
    };
    let change = async |tx: &Tx, id: Uuid, body: UpdateActivity| {
        let a = update(tx, &state, &auth, id, body, None).await?;
        Ok(Written::updated(a.id, a.version))
    };
    batch::by_id(&state, &auth.origin, Lang::of(&req), body, record, change).await
}

/// Get an activity.
#[utoipa::path(
    tag = "activities",
    params(("id" = Uuid, Path)),
    responses((status = 200, body = Activity, headers(("ETag" = String)))),
    security(("oauth2" = ["customers:read"]))
)]
#[get("/activities/{id}")]
async fn get_activity(
    state: web::Data<AppState>,
    auth: Authorized<CustomersRead>,
    id: web::Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    let activity = Activity::from(
        access::of_customer::<DomainActivity>(state.store.conn(), &auth, id.into_inner(), Lock::No)
            .await?,
    );
    Ok(respond::ok(&activity, activity.version))
}

/// Change an activity.
#[utoipa::path(
    tag = "activities",
    params(("id" = Uuid, Path), IfMatchParam),
    request_body = UpdateActivity,
    responses((status = 200, body = Activity, headers(("ETag" = String)))),
    security(("oauth2" = ["customers:write"]))
)]
#[patch("/activities/{id}")]
async fn update_activity(
    state: web::Data<AppState>,
    auth: Authorized<CustomersWrite>,
    id: web::Path<Uuid>,
    if_match: IfMatch,
    body: Json<UpdateActivity>,
) -> Result<HttpResponse, ApiError> {
    let body = body.into_inner()?;
    let tx = state.store.begin().await?;
    let saved = update(&tx, &state, &auth, id.into_inner(), body, Some(&if_match)).await?;
    audit::commit(tx, &state, &auth.origin).await?;
    Ok(respond::ok(&saved, saved.version))
}

/// Applies a change to activity `id` on `tx`, audited: the change request's work, and a batch
/// item's. Every refusal comes before the first write.
///
/// # Errors
/// 404 when the caller cannot change it, 412 on a stale `if_match`, 422 for invalid fields.
pub(crate) async fn update(
    tx: &Tx,
    state: &AppState,
    auth: &Authorized<CustomersWrite>,
    id: Uuid,
    body: UpdateActivity,
    if_match: Option<&IfMatch>,
) -> Result<Activity, ApiError> {
    let before = access::of_customer::<DomainActivity>(tx, auth, id, Lock::ForUpdate).await?;
    if let Some(if_match) = if_match {
        if_match.check(before.version)?;
    }
    let mut a = before.clone();
    let mut errors = Errors::default();
    a.contact_id = body.contact_id.apply_to(a.contact_id);
    if a.contact_id != before.contact_id {
        access::check_contact(tx, a.customer_id, a.contact_id, &mut errors).await?;
    }
    body.kind
        .required(&mut errors, "kind", &mut a.kind, ActivityKind::parse);
    body.direction
        .optional(&mut errors, "direction", &mut a.direction, Direction::parse);
    body.channel
        .optional(&mut errors, "channel", &mut a.channel, Channel::parse);
    if let Some(at) = body.occurred_at.into_required(&mut errors, "occurred_at") {
        a.occurred_at = rapport_domain::clock::to_micros(at);
    }
    body.summary
        .required(&mut errors, "summary", &mut a.summary, Summary::parse);
    body.details
        .optional(&mut errors, "details", &mut a.details, Details::parse);
    body.outcome
        .optional(&mut errors, "outcome", &mut a.outcome, Outcome::parse);
    errors.finish()?;
    let now = state.clock.now();
    // A note that turns out to have been a call is the customer's first contact after all.
    if a.kind.reaches_customer() && !before.kind.reaches_customer() {
        let customer = customers::get(tx, a.customer_id).await?;
        customers::touch_activity(tx, customer.id, a.occurred_at, true, now).await?;
        if customer.first_contacted_at.is_none() {
            tasks::complete_lead_follow_ups(tx, customer.id, now).await?;
        }
    }
    let saved = Activity::from(repos::save(tx, &a, now).await?);
    let before = Activity::from(before);
    audit::record(
        tx,
        state,
        &auth.origin,
        audit::Subject::of_customer("activity", saved.id, Some(saved.customer_id)),
        "update",
        audit::changes(Some(&before), Some(&saved)),
    )
    .await?;
    Ok(saved)
}

/// Delete an activity.
#[utoipa::path(
    tag = "activities",
    params(("id" = Uuid, Path), IfMatchParam),
    responses((status = 204, description = "Deleted")),
    security(("oauth2" = ["customers:write"]))
)]
#[delete("/activities/{id}")]
async fn delete_activity(
    state: web::Data<AppState>,
    auth: Authorized<CustomersWrite>,
    id: web::Path<Uuid>,
    if_match: IfMatch,
) -> Result<HttpResponse, ApiError> {
    let tx = state.store.begin().await?;
    let activity =
        access::of_customer::<DomainActivity>(&tx, &auth, id.into_inner(), Lock::ForUpdate).await?;
    if_match.check(activity.version)?;
    activities::delete(&tx, &activity, state.clock.now()).await?;
    let before = Activity::from(activity);
    audit::record_and_commit(
        tx,
        &state,
        &auth.origin,
        audit::Subject::of_customer("activity", before.id, Some(before.customer_id)),
        "delete",
        audit::changes(Some(&before), None),
    )
    .await?;
    Ok(HttpResponse::NoContent().finish())
}

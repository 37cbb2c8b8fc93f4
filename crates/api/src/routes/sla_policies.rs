//! SLA policies: first-response and resolution targets by ticket category, priority and
//! customer grade. Read with `tickets:read`, changed with `settings:write`.

use actix_web::{HttpResponse, delete, get, patch, post, web};
use chrono::{DateTime, Utc};
use rapport_domain::Invalid;
use rapport_domain::enums::Grade;
use rapport_domain::sla::{
    BusinessCalendar, MAX_TARGET_MINUTES, PolicyName, SlaClock, SlaPolicy as DomainPolicy, day_name,
};
use rapport_domain::ticket::{TicketCategory, TicketPriority};
use rapport_domain::validation::Errors;
use rapport_store::repos::{self, sla_policies};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_actix_web::service_config::ServiceConfig;
use uuid::Uuid;

use crate::audit;
use crate::auth::Authorized;
use crate::auth::scopes::{SettingsWrite, TicketsRead};
use crate::error::ApiError;
use crate::extract::{IfMatch, IfMatchParam, Json};
use crate::patch::Patch;
use crate::respond;
use crate::schemas;
use crate::state::AppState;

pub fn configure(cfg: &mut ServiceConfig) {
    cfg.service(list_sla_policies)
        .service(create_sla_policy)
        .service(get_sla_policy)
        .service(update_sla_policy)
        .service(delete_sla_policy);
}

/// Working hours in a time zone, minus holidays: what a `business` clock counts.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BusinessHours {
    /// An IANA time zone.
    #[schema(example = "Asia/Shanghai")]
    pub time_zone: String,
    /// At least one interval; a day may have several (a lunch break).
    pub weekly: Vec<WorkingInterval>,
    /// Dates (`YYYY-MM-DD`) with no working hours.
    #[serde(default)]
    #[schema(example = json!(["2026-10-01", "2026-10-02"]))]
    pub holidays: Vec<String>,
}

/// One working interval of a weekday, local time.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct WorkingInterval {
    /// `mon` to `sun`.
    #[schema(example = "mon")]
    pub day: String,
    /// `HH:MM`.
    #[schema(example = "09:00")]
    pub start: String,
    /// `HH:MM`, after `start`.
    #[schema(example = "18:00")]
    pub end: String,
}

impl From<BusinessCalendar> for BusinessHours {
    fn from(c: BusinessCalendar) -> Self {
        BusinessHours {
            time_zone: c.zone.name().to_owned(),
            weekly: c
                .weekly
                .iter()
                .map(|h| WorkingInterval {
                    day: day_name(h.day).to_owned(),
                    start: h.start.format("%H:%M").to_string(),
                    end: h.end.format("%H:%M").to_string(),
                })
                .collect(),
            holidays: c.holidays.iter().map(|d| d.to_string()).collect(),
        }
    }
}

impl BusinessHours {
    fn read(&self, errors: &mut Errors) -> Option<BusinessCalendar> {
        let weekly: Vec<(String, String, String)> = self
            .weekly
            .iter()
            .map(|w| (w.day.clone(), w.start.clone(), w.end.clone()))
            .collect();
        BusinessCalendar::parse(
            &self.time_zone,
            &weekly,
            &self.holidays,
            "business_hours",
            errors,
        )
    }
}

/// Targets for the tickets it matches. A ticket gets the most specific matching policy (the
/// one naming most of category, priority and grade); among equally specific ones, the
/// tightest resolution target.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct SlaPolicy {
    pub id: Uuid,
    #[schema(example = "VIP complaints")]
    pub name: String,
    /// `null`: every category (and so for priority and grade).
    #[schema(schema_with = schemas::ticket_category_or_null)]
    pub category: Option<String>,
    #[schema(schema_with = schemas::ticket_priority_or_null)]
    pub priority: Option<String>,
    #[schema(schema_with = schemas::grade_or_null)]
    pub grade: Option<String>,
    /// Minutes from the ticket's creation to its first public reply.
    #[schema(example = 30)]
    pub first_response_minutes: i64,
    /// Minutes from the ticket's creation to its resolution (time `pending` not counted).
    #[schema(example = 1440)]
    pub resolution_minutes: i64,
    #[schema(schema_with = schemas::sla_clock)]
    pub clock: String,
    /// What a `business` clock counts.
    pub business_hours: Option<BusinessHours>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub version: i32,
}

impl From<DomainPolicy> for SlaPolicy {
    fn from(p: DomainPolicy) -> Self {
        SlaPolicy {
            id: p.id,
            name: p.name.into_string(),
            category: p.category.map(|c| c.as_str().to_owned()),
            priority: p.priority.map(|c| c.as_str().to_owned()),
            grade: p.grade.map(|c| c.as_str().to_owned()),
            first_response_minutes: p.first_response_minutes,
            resolution_minutes: p.resolution_minutes,
            clock: p.clock.as_str().to_owned(),
            business_hours: p.calendar.map(BusinessHours::from),
            created_at: p.created_at,
            updated_at: p.updated_at,
            version: p.version,
        }
    }
}

crate::list_type!(SlaPolicyList, SlaPolicy);

/// A new policy.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateSlaPolicy {
    #[schema(required = true, example = "VIP complaints")]
    pub name: Option<String>,
    #[schema(schema_with = schemas::ticket_category_or_null)]
    pub category: Option<String>,
    #[schema(schema_with = schemas::ticket_priority_or_null)]
    pub priority: Option<String>,
    #[schema(schema_with = schemas::grade_or_null)]
    pub grade: Option<String>,
    #[schema(required = true, example = 30)]
    pub first_response_minutes: Option<i64>,
    #[schema(required = true, example = 1440)]
    pub resolution_minutes: Option<i64>,
    /// Default `calendar`; `business` needs `business_hours`.
    #[schema(schema_with = schemas::sla_clock_or_null)]
    pub clock: Option<String>,
    pub business_hours: Option<BusinessHours>,
}

/// Changes to a policy; `null` clears category, priority, grade or business hours. Tickets
/// keep the due times they have; new tickets and re-prioritized ones get the new targets.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateSlaPolicy {
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    pub name: Patch<String>,
    #[serde(default)]
    #[schema(schema_with = schemas::ticket_category_or_null)]
    pub category: Patch<String>,
    #[serde(default)]
    #[schema(schema_with = schemas::ticket_priority_or_null)]
    pub priority: Patch<String>,
    #[serde(default)]
    #[schema(schema_with = schemas::grade_or_null)]
    pub grade: Patch<String>,
    #[serde(default)]
    #[schema(value_type = Option<i64>)]
    pub first_response_minutes: Patch<i64>,
    #[serde(default)]
    #[schema(value_type = Option<i64>)]
    pub resolution_minutes: Patch<i64>,
    #[serde(default)]
    #[schema(schema_with = schemas::sla_clock)]
    pub clock: Patch<String>,
    #[serde(default)]
    #[schema(value_type = Option<BusinessHours>, nullable)]
    pub business_hours: Patch<BusinessHours>,
}

fn minutes(errors: &mut Errors, field: &str, value: i64) -> Option<i64> {
    let range = 1..=MAX_TARGET_MINUTES;
    let invalid = Invalid::OutOfRange {
        min: 1,
        max: MAX_TARGET_MINUTES,
    };
    errors.check(
        field,
        if range.contains(&value) {
            Ok(value)
        } else {
            Err(invalid)
        },
    )
}

/// A `business` clock needs business hours.
fn check_clock(policy: &DomainPolicy, errors: &mut Errors) {
    if policy.clock == SlaClock::Business && policy.calendar.is_none() {
        errors.add("business_hours", Invalid::Required);
    }
}

/// List SLA policies, oldest first.
#[utoipa::path(
    tag = "tickets",
    responses((status = 200, body = SlaPolicyList)),
    security(("oauth2" = ["tickets:read"]))
)]
#[get("/sla-policies")]
async fn list_sla_policies(
    state: web::Data<AppState>,
    _auth: Authorized<TicketsRead>,
) -> Result<HttpResponse, ApiError> {
    let all = sla_policies::all(state.store.conn()).await?;
    Ok(HttpResponse::Ok().json(SlaPolicyList {
        data: all.into_iter().map(SlaPolicy::from).collect(),
        next_cursor: None,
    }))
}

/// Create an SLA policy. Audited.
#[utoipa::path(
    tag = "tickets",
    request_body = CreateSlaPolicy,
    responses((status = 201, body = SlaPolicy, headers(("Location" = String), ("ETag" = String)))),
    security(("oauth2" = ["settings:write"]))
)]
#[post("/sla-policies")]
async fn create_sla_policy(
    state: web::Data<AppState>,
    auth: Authorized<SettingsWrite>,
    body: Json<CreateSlaPolicy>,
) -> Result<HttpResponse, ApiError> {
    let body = body.into_inner()?;
    let mut errors = Errors::default();
    let required = |errors: &mut Errors, field: &str, value: Option<i64>| {
        if value.is_none() {
            errors.add(field, Invalid::Required);
        }
        value.and_then(|v| minutes(errors, field, v))
    };
    let name = match body.name.as_deref() {
        Some(n) => errors.check("name", PolicyName::parse(n)),
        None => {
            errors.add("name", Invalid::Required);
            None
        }
    };
    let category = errors.check_opt("category", body.category.as_deref(), TicketCategory::parse);
    let priority = errors.check_opt("priority", body.priority.as_deref(), TicketPriority::parse);
    let grade = errors.check_opt("grade", body.grade.as_deref(), Grade::parse);
    let first = required(
        &mut errors,
        "first_response_minutes",
        body.first_response_minutes,
    );
    let resolution = required(&mut errors, "resolution_minutes", body.resolution_minutes);
    let clock = match body.clock.as_deref() {
        None => Some(SlaClock::Calendar),
        Some(c) => errors.check("clock", SlaClock::parse(c)),
    };
    let calendar = match &body.business_hours {
        None => Some(None),
        Some(hours) => hours.read(&mut errors).map(Some),
    };
    let now = state.clock.now();
    let policy = (|| {
        Some(DomainPolicy {
            id: Uuid::now_v7(),
            name: name?,
            category: category?,
            priority: priority?,
            grade: grade?,
            first_response_minutes: first?,
            resolution_minutes: resolution?,
            clock: clock?,
            calendar: calendar?,
            created_at: now,
            updated_at: now,
            version: 1,
        })
    })();
    if let Some(p) = &policy {
        check_clock(p, &mut errors);
    }
    let policy = errors.finish_with(policy)?;
    let tx = state.store.begin().await?;
    sla_policies::insert(&tx, &policy).await?;
    let body = SlaPolicy::from(policy);
    audit::record_and_commit(
        tx,
        &state,
        &auth.origin,
        audit::Subject::new("sla_policy", body.id),
        "create",
        audit::changes(None, Some(&body)),
    )
    .await?;
    Ok(respond::created(
        &body,
        body.version,
        format!("/v1/sla-policies/{}", body.id),
    ))
}

/// Get an SLA policy.
#[utoipa::path(
    tag = "tickets",
    params(("id" = Uuid, Path)),
    responses((status = 200, body = SlaPolicy, headers(("ETag" = String)))),
    security(("oauth2" = ["tickets:read"]))
)]
#[get("/sla-policies/{id}")]
async fn get_sla_policy(
    state: web::Data<AppState>,
    _auth: Authorized<TicketsRead>,
    id: web::Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    let policy = SlaPolicy::from(sla_policies::get(state.store.conn(), id.into_inner()).await?);
    Ok(respond::ok(&policy, policy.version))
}

/// Change an SLA policy. Audited.
#[utoipa::path(
    tag = "tickets",
    params(("id" = Uuid, Path), IfMatchParam),
    request_body = UpdateSlaPolicy,
    responses((status = 200, body = SlaPolicy, headers(("ETag" = String)))),
    security(("oauth2" = ["settings:write"]))
)]
#[patch("/sla-policies/{id}")]
async fn update_sla_policy(
    state: web::Data<AppState>,
    auth: Authorized<SettingsWrite>,
    id: web::Path<Uuid>,
    if_match: IfMatch,
    body: Json<UpdateSlaPolicy>,
) -> Result<HttpResponse, ApiError> {
    let body = body.into_inner()?;
    let tx = state.store.begin().await?;
    let before: DomainPolicy = repos::get_locked(&tx, id.into_inner()).await?;
    if_match.check(before.version)?;
    let mut p = before.clone();
    let mut errors = Errors::default();
    body.name
        .required(&mut errors, "name", &mut p.name, PolicyName::parse);
    body.category.optional(
        &mut errors,
        "category",
        &mut p.category,
        TicketCategory::parse,
    );
    body.priority.optional(
        &mut errors,
        "priority",
        &mut p.priority,
        TicketPriority::parse,
    );
    body.grade
        .optional(&mut errors, "grade", &mut p.grade, Grade::parse);
    for (field, patch, slot) in [
        (
            "first_response_minutes",
            body.first_response_minutes,
            &mut p.first_response_minutes,
        ),
        (
            "resolution_minutes",
            body.resolution_minutes,
            &mut p.resolution_minutes,
        ),
    ] {
        if let Some(v) = patch
            .into_required(&mut errors, field)
            .and_then(|v| minutes(&mut errors, field, v))
        {
            *slot = v;
        }
    }
    body.clock
        .required(&mut errors, "clock", &mut p.clock, SlaClock::parse);
    match body.business_hours {
        Patch::Absent => {}
        Patch::Null => p.calendar = None,
        Patch::Value(hours) => {
            if let Some(calendar) = hours.read(&mut errors) {
                p.calendar = Some(calendar);
            }
        }
    }
    check_clock(&p, &mut errors);
    errors.finish()?;
    let saved = SlaPolicy::from(repos::save(&tx, &p, state.clock.now()).await?);
    audit::record_and_commit(
        tx,
        &state,
        &auth.origin,
        audit::Subject::new("sla_policy", saved.id),
        "update",
        audit::changes(Some(&SlaPolicy::from(before)), Some(&saved)),
    )
    .await?;
    Ok(respond::ok(&saved, saved.version))
}

/// Delete an SLA policy. Its tickets keep their due times. Audited.
#[utoipa::path(
    tag = "tickets",
    params(("id" = Uuid, Path), IfMatchParam),
    responses((status = 204, description = "Deleted")),
    security(("oauth2" = ["settings:write"]))
)]
#[delete("/sla-policies/{id}")]
async fn delete_sla_policy(
    state: web::Data<AppState>,
    auth: Authorized<SettingsWrite>,
    id: web::Path<Uuid>,
    if_match: IfMatch,
) -> Result<HttpResponse, ApiError> {
    let tx = state.store.begin().await?;
    let policy: DomainPolicy = repos::get_locked(&tx, id.into_inner()).await?;
    if_match.check(policy.version)?;
    sla_policies::delete(&tx, policy.id).await?;
    audit::record_and_commit(
        tx,
        &state,
        &auth.origin,
        audit::Subject::new("sla_policy", policy.id),
        "delete",
        audit::changes(Some(&SlaPolicy::from(policy)), None),
    )
    .await?;
    Ok(HttpResponse::NoContent().finish())
}

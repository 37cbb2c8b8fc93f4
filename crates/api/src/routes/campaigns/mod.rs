//! Marketing campaigns (`campaigns:read` to read, `campaigns:write` to change): the campaign
//! itself here, its cost entries in [`costs`], its members in [`members`].

mod costs;
pub(crate) mod members;
pub(crate) mod report;

use actix_web::{HttpResponse, delete, get, patch, post, web};
use chrono::{DateTime, Utc};
use rapport_domain::Invalid;
use rapport_domain::auth::Scope;
use rapport_domain::campaign::{
    BodyTemplate, Campaign as DomainCampaign, CampaignContent, CampaignProblem, CampaignStatus,
    CampaignType, SubjectTemplate,
};
use rapport_domain::enums::Channel;
use rapport_domain::name::Title;
use rapport_domain::validation::Errors;
use rapport_store::Conn;
use rapport_store::repos::campaigns::{self, CampaignFilter};
use rapport_store::repos::{self};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_actix_web::service_config::ServiceConfig;
use uuid::Uuid;

use crate::audit;
use crate::auth::Authorized;
use crate::auth::scopes::{CampaignsRead, CampaignsWrite};
use crate::error::ApiError;
use crate::extract::{IfMatch, IfMatchParam, Json, Query, code_param, user_param};
use crate::feed;
use crate::money::MoneyBody;
use crate::pagination::{Paged, page_params};
use crate::patch::Patch;
use crate::references;
use crate::respond;
use crate::state::AppState;

pub fn configure(cfg: &mut ServiceConfig) {
    cfg.service(list_campaigns)
        .service(create_campaign)
        .service(get_campaign)
        .service(update_campaign)
        .service(delete_campaign);
    costs::configure(cfg);
    members::configure(cfg);
    report::configure(cfg);
}

/// A marketing campaign. Its figures (members, responses, leads, won deals, cost, ROI) are
/// in `GET /v1/reports/campaigns`.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Campaign {
    pub id: Uuid,
    #[schema(example = "Shenzhen expo 2027")]
    pub name: String,
    #[serde(rename = "type")]
    #[schema(schema_with = crate::schemas::campaign_type)]
    pub kind: String,
    #[schema(schema_with = crate::schemas::channel_or_null)]
    pub channel: Option<String>,
    /// The planned content, as written.
    pub content: Option<String>,
    pub starts_at: Option<DateTime<Utc>>,
    /// After `starts_at`.
    pub ends_at: Option<DateTime<Utc>>,
    pub budget: Option<MoneyBody>,
    /// The user in charge.
    pub owner_id: Option<Uuid>,
    #[schema(schema_with = crate::schemas::campaign_status)]
    pub status: String,
    /// Email campaigns: the subject template (merge fields as in `email_body`).
    pub email_subject: Option<String>,
    /// Email campaigns: the body template, with merge fields `{{contact.first_name}}`,
    /// `{{contact.last_name}}`, `{{customer.name}}` and `{{unsubscribe_url}}`.
    pub email_body: Option<String>,
    pub created_by: Option<Uuid>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub version: i32,
}

impl From<DomainCampaign> for Campaign {
    fn from(c: DomainCampaign) -> Self {
        Campaign {
            id: c.id,
            name: c.name.into_string(),
            kind: c.kind.as_str().to_owned(),
            channel: c.channel.map(|ch| ch.as_str().to_owned()),
            content: c.content.map(|t| t.into_string()),
            starts_at: c.starts_at,
            ends_at: c.ends_at,
            budget: c.budget.map(MoneyBody::from),
            owner_id: c.owner_id,
            status: c.status.as_str().to_owned(),
            email_subject: c.email_subject.map(|t| t.as_str().to_owned()),
            email_body: c.email_body.map(|t| t.as_str().to_owned()),
            created_by: c.created_by,
            created_at: c.created_at,
            updated_at: c.updated_at,
            version: c.version,
        }
    }
}

crate::list_type!(CampaignList, Campaign, with_deletions);

/// A new campaign, `planned`. `owner_id` defaults to the caller (a user).
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateCampaign {
    #[schema(required = true, example = "Shenzhen expo 2027")]
    pub name: Option<String>,
    #[serde(rename = "type")]
    #[schema(required = true, schema_with = crate::schemas::campaign_type)]
    pub kind: Option<String>,
    #[schema(schema_with = crate::schemas::channel_or_null)]
    pub channel: Option<String>,
    pub content: Option<String>,
    pub starts_at: Option<DateTime<Utc>>,
    pub ends_at: Option<DateTime<Utc>>,
    pub budget: Option<MoneyBody>,
    pub owner_id: Option<Uuid>,
    /// Only for type `email`.
    pub email_subject: Option<String>,
    /// Only for type `email`; unknown merge fields are refused.
    pub email_body: Option<String>,
}

/// Changes to a campaign; `null` clears an optional field. `status` moves it:
/// `planned → active → completed | cancelled`, `planned → cancelled`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateCampaign {
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    pub name: Patch<String>,
    #[serde(default, rename = "type")]
    #[schema(schema_with = crate::schemas::campaign_type)]
    pub kind: Patch<String>,
    #[serde(default)]
    #[schema(schema_with = crate::schemas::channel_or_null)]
    pub channel: Patch<String>,
    #[serde(default)]
    #[schema(value_type = Option<String>, nullable)]
    pub content: Patch<String>,
    #[serde(default)]
    #[schema(value_type = Option<DateTime<Utc>>, nullable)]
    pub starts_at: Patch<DateTime<Utc>>,
    #[serde(default)]
    #[schema(value_type = Option<DateTime<Utc>>, nullable)]
    pub ends_at: Patch<DateTime<Utc>>,
    #[serde(default)]
    #[schema(value_type = Option<MoneyBody>, nullable)]
    pub budget: Patch<MoneyBody>,
    #[serde(default)]
    #[schema(value_type = Option<Uuid>, nullable)]
    pub owner_id: Patch<Uuid>,
    #[serde(default)]
    #[schema(schema_with = crate::schemas::campaign_status)]
    pub status: Patch<String>,
    #[serde(default)]
    #[schema(value_type = Option<String>, nullable)]
    pub email_subject: Patch<String>,
    #[serde(default)]
    #[schema(value_type = Option<String>, nullable)]
    pub email_body: Patch<String>,
}

/// Filters of the campaign list, newest first.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct CampaignListParams {
    #[param(schema_with = crate::schemas::campaign_status)]
    pub status: Option<String>,
    #[serde(rename = "type")]
    #[param(rename = "type", schema_with = crate::schemas::campaign_type)]
    pub kind: Option<String>,
    /// A user id, or `me`.
    pub owner_id: Option<String>,
    /// 1 to 200, default 50.
    pub limit: Option<i64>,
    pub cursor: Option<String>,
    /// The change feed: every campaign changed at or after this time, oldest change first,
    /// each at its latest version, and the campaigns deleted since in `deleted`. Changes show
    /// once they are 5 seconds old. Walk the pages with `cursor`; at the end, ask again with
    /// the last `updated_at` you saw (keep the highest `version`). Takes the filters.
    #[param(example = "2026-12-01T00:00:00Z")]
    pub updated_since: Option<DateTime<Utc>>,
}

/// The owner a request names: a user who may run campaigns.
async fn check_owner(db: &impl Conn, id: Uuid, errors: &mut Errors) -> Result<(), ApiError> {
    references::user_with(db, "owner_id", id, Scope::CampaignsWrite, errors).await?;
    Ok(())
}

/// The problems of the campaign's fields taken together, each at its field.
fn check_together(c: &DomainCampaign, errors: &mut Errors) {
    for problem in c.problems() {
        match problem {
            CampaignProblem::EndsBeforeStart => errors.add("ends_at", Invalid::EndsBeforeStart),
            CampaignProblem::EmailFieldsOnOtherType => {
                if c.email_subject.is_some() {
                    errors.add("email_subject", Invalid::NotAllowed);
                }
                if c.email_body.is_some() {
                    errors.add("email_body", Invalid::NotAllowed);
                }
            }
        }
    }
}

/// The campaign `id`; 404 when there is none.
pub(crate) async fn existing(db: &impl Conn, id: Uuid) -> Result<DomainCampaign, ApiError> {
    Ok(campaigns::get(db, id).await?)
}

/// List campaigns, newest first; or their change feed.
#[utoipa::path(
    tag = "campaigns",
    params(CampaignListParams),
    responses((status = 200, body = CampaignList)),
    security(("oauth2" = ["campaigns:read"]))
)]
#[get("/campaigns")]
async fn list_campaigns(
    state: web::Data<AppState>,
    auth: Authorized<CampaignsRead>,
    params: Query<CampaignListParams>,
) -> Result<HttpResponse, ApiError> {
    let p = params.into_inner()?;
    let sort = feed::sort_or(p.updated_since, "-created_at");
    let (limit, cursor) = page_params(p.limit, p.cursor.as_deref(), sort)?;
    let filter = CampaignFilter {
        status: code_param("status", p.status.as_deref(), CampaignStatus::parse)?,
        kind: code_param("type", p.kind.as_deref(), CampaignType::parse)?,
        owner_id: user_param("owner_id", p.owner_id.as_deref(), auth.user_id())?,
        changes: p.updated_since.map(|since| feed::changes(&state, since)),
    };
    let db = state.list_reads(&auth);
    let page = campaigns::list(db, &filter, cursor.clone(), limit).await?;
    let (page, deleted) = feed::with_deletions(
        page,
        filter.changes,
        limit,
        |c| (c.updated_at, c.id),
        |changes| campaigns::deleted(db, changes, cursor, limit),
    )
    .await?;
    Ok(HttpResponse::Ok().json(CampaignList::new(
        Paged::from_page(page, sort, Campaign::from),
        deleted,
    )))
}

/// Create a campaign, `planned`. Audited.
#[utoipa::path(
    tag = "campaigns",
    request_body = CreateCampaign,
    responses((status = 201, body = Campaign, headers(("Location" = String), ("ETag" = String)))),
    security(("oauth2" = ["campaigns:write"]))
)]
#[post("/campaigns")]
async fn create_campaign(
    state: web::Data<AppState>,
    auth: Authorized<CampaignsWrite>,
    body: Json<CreateCampaign>,
) -> Result<HttpResponse, ApiError> {
    let body = body.into_inner()?;
    let mut errors = Errors::default();
    let name = errors.required("name", body.name.as_deref(), Title::parse);
    let kind = errors.required("type", body.kind.as_deref(), CampaignType::parse);
    let channel = errors.check_opt("channel", body.channel.as_deref(), Channel::parse);
    let content = errors.check_opt("content", body.content.as_deref(), CampaignContent::parse);
    let budget = match &body.budget {
        Some(b) => b.read("budget", &mut errors).map(Some),
        None => Some(None),
    };
    let email_subject = errors.check_opt(
        "email_subject",
        body.email_subject.as_deref(),
        SubjectTemplate::parse,
    );
    let email_body = errors.check_opt(
        "email_body",
        body.email_body.as_deref(),
        BodyTemplate::parse,
    );
    let owner_id = body.owner_id.or(auth.user_id());
    let db = state.store.conn();
    if let Some(owner) = body.owner_id {
        check_owner(db, owner, &mut errors).await?;
    }
    let now = state.clock.now();
    let fields = (|| {
        Some((
            name?,
            kind?,
            channel?,
            content?,
            budget?,
            email_subject?,
            email_body?,
        ))
    })();
    let campaign = fields.map(
        |(name, kind, channel, content, budget, email_subject, email_body)| DomainCampaign {
            id: Uuid::now_v7(),
            name,
            kind,
            channel,
            content,
            starts_at: body.starts_at,
            ends_at: body.ends_at,
            budget,
            owner_id,
            status: CampaignStatus::Planned,
            email_subject,
            email_body,
            created_by: auth.user_id(),
            created_at: now,
            updated_at: now,
            version: 1,
        },
    );
    match &campaign {
        Some(c) => check_together(c, &mut errors),
        None => {
            if let (Some(starts), Some(ends)) = (body.starts_at, body.ends_at)
                && ends <= starts
            {
                errors.add("ends_at", Invalid::EndsBeforeStart);
            }
        }
    }
    let campaign = errors.finish_with(campaign)?;
    let tx = state.store.begin().await?;
    campaigns::insert(&tx, &campaign).await?;
    let body = Campaign::from(campaign);
    audit::record_and_commit(
        tx,
        &state,
        &auth.origin,
        audit::Subject::new("campaign", body.id),
        "create",
        audit::changes(None, Some(&body)),
    )
    .await?;
    Ok(respond::created(
        &body,
        body.version,
        format!("/v1/campaigns/{}", body.id),
    ))
}

/// Get a campaign.
#[utoipa::path(
    tag = "campaigns",
    params(("id" = Uuid, Path)),
    responses((status = 200, body = Campaign, headers(("ETag" = String)))),
    security(("oauth2" = ["campaigns:read"]))
)]
#[get("/campaigns/{id}")]
async fn get_campaign(
    state: web::Data<AppState>,
    _auth: Authorized<CampaignsRead>,
    id: web::Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    let c = Campaign::from(existing(state.store.conn(), id.into_inner()).await?);
    Ok(respond::ok(&c, c.version))
}

/// Change a campaign, or move its status (409 `invalid_transition` with `allowed` for a
/// move the workflow refuses). Audited.
#[utoipa::path(
    tag = "campaigns",
    params(("id" = Uuid, Path), IfMatchParam),
    request_body = UpdateCampaign,
    responses((status = 200, body = Campaign, headers(("ETag" = String)))),
    security(("oauth2" = ["campaigns:write"]))
)]
#[patch("/campaigns/{id}")]
async fn update_campaign(
    state: web::Data<AppState>,
    auth: Authorized<CampaignsWrite>,
    id: web::Path<Uuid>,
    if_match: IfMatch,
    body: Json<UpdateCampaign>,
) -> Result<HttpResponse, ApiError> {
    let body = body.into_inner()?;
    let tx = state.store.begin().await?;
    let before: DomainCampaign = repos::get_locked(&tx, id.into_inner()).await?;
    if_match.check(before.version)?;
    let mut c = before.clone();
    let mut errors = Errors::default();
    body.name
        .required(&mut errors, "name", &mut c.name, Title::parse);
    body.kind
        .required(&mut errors, "type", &mut c.kind, CampaignType::parse);
    body.channel
        .optional(&mut errors, "channel", &mut c.channel, Channel::parse);
    body.content.optional(
        &mut errors,
        "content",
        &mut c.content,
        CampaignContent::parse,
    );
    c.starts_at = body.starts_at.apply_to(c.starts_at);
    c.ends_at = body.ends_at.apply_to(c.ends_at);
    body.budget.collection(&mut errors, &mut c.budget, |b, e| {
        b.read("budget", e).map(Some)
    });
    match body.owner_id {
        Patch::Value(owner) => {
            check_owner(&tx, owner, &mut errors).await?;
            c.owner_id = Some(owner);
        }
        Patch::Null => c.owner_id = None,
        Patch::Absent => {}
    }
    body.email_subject.optional(
        &mut errors,
        "email_subject",
        &mut c.email_subject,
        SubjectTemplate::parse,
    );
    body.email_body.optional(
        &mut errors,
        "email_body",
        &mut c.email_body,
        BodyTemplate::parse,
    );
    let status = body
        .status
        .into_required(&mut errors, "status")
        .and_then(|s| errors.check("status", CampaignStatus::parse(&s)));
    check_together(&c, &mut errors);
    errors.finish()?;
    if let Some(status) = status.filter(|s| *s != c.status) {
        c.move_to(status).map_err(|e| {
            ApiError::status_refused(("A campaign", "营销活动"), e.from, e.to, e.allowed)
        })?;
    }
    let saved = Campaign::from(repos::save(&tx, &c, state.clock.now()).await?);
    audit::record_and_commit(
        tx,
        &state,
        &auth.origin,
        audit::Subject::new("campaign", saved.id),
        "update",
        audit::changes(Some(&Campaign::from(before)), Some(&saved)),
    )
    .await?;
    Ok(respond::ok(&saved, saved.version))
}

/// Delete a campaign with its members and cost entries. Customers and opportunities that
/// name it keep its id. Audited.
#[utoipa::path(
    tag = "campaigns",
    params(("id" = Uuid, Path), IfMatchParam),
    responses((status = 204, description = "Deleted")),
    security(("oauth2" = ["campaigns:write"]))
)]
#[delete("/campaigns/{id}")]
async fn delete_campaign(
    state: web::Data<AppState>,
    auth: Authorized<CampaignsWrite>,
    id: web::Path<Uuid>,
    if_match: IfMatch,
) -> Result<HttpResponse, ApiError> {
    let tx = state.store.begin().await?;
    let campaign: DomainCampaign = repos::get_locked(&tx, id.into_inner()).await?;
    if_match.check(campaign.version)?;
    campaigns::delete(&tx, campaign.id, state.clock.now()).await?;
    let before = Campaign::from(campaign);
    audit::record_and_commit(
        tx,
        &state,
        &auth.origin,
        audit::Subject::new("campaign", before.id),
        "delete",
        audit::changes(Some(&before), None),
    )
    .await?;
    Ok(HttpResponse::NoContent().finish())
}

/// The refusal of a change to the members of a campaign that is over.
pub(crate) fn check_open(c: &DomainCampaign) -> Result<(), ApiError> {
    if matches!(
        c.status,
        CampaignStatus::Completed | CampaignStatus::Cancelled
    ) {
        return Err(ApiError::conflict(
            crate::error::ProblemCode::Conflict,
            crate::i18n::Text::new(
                format!(
                    "The campaign is {}: its members no longer change.",
                    c.status
                ),
                format!("该营销活动已{}，成员不能再变更。", c.status),
            ),
        ));
    }
    Ok(())
}

//! A campaign's actual cost entries: added and deleted, never changed (a correction is a
//! deletion and a new entry). Each is audited on the campaign's cost entry.

use actix_web::{HttpResponse, delete, get, post, web};
use chrono::{DateTime, NaiveDate, Utc};
use rapport_domain::campaign::{CostDescription, CostEntry};
use rapport_domain::validation::{Errors, parse_date};
use rapport_store::repos::campaigns;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_actix_web::service_config::ServiceConfig;
use uuid::Uuid;

use super::existing;
use crate::audit;
use crate::auth::Authorized;
use crate::auth::scopes::{CampaignsRead, CampaignsWrite};
use crate::error::ApiError;
use crate::extract::{Json, Query};
use crate::money::MoneyBody;
use crate::pagination::{Paged, page_params};
use crate::state::AppState;

pub fn configure(cfg: &mut ServiceConfig) {
    cfg.service(list_costs)
        .service(add_cost)
        .service(delete_cost);
}

/// An actual cost of a campaign.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Cost {
    pub id: Uuid,
    pub campaign_id: Uuid,
    pub amount: MoneyBody,
    pub description: Option<String>,
    /// The day it was incurred.
    #[schema(value_type = String, format = Date, example = "2026-12-01")]
    pub incurred_on: NaiveDate,
    pub created_by: Option<Uuid>,
    pub created_at: DateTime<Utc>,
}

impl From<CostEntry> for Cost {
    fn from(c: CostEntry) -> Self {
        Cost {
            id: c.id,
            campaign_id: c.campaign_id,
            amount: MoneyBody::from(c.amount),
            description: c.description.map(|d| d.into_string()),
            incurred_on: c.incurred_on,
            created_by: c.created_by,
            created_at: c.created_at,
        }
    }
}

crate::list_type!(CostList, Cost);

/// A new cost entry.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateCost {
    #[schema(required = true)]
    pub amount: Option<MoneyBody>,
    pub description: Option<String>,
    /// `YYYY-MM-DD`; default today (UTC).
    #[schema(example = "2026-12-01")]
    pub incurred_on: Option<String>,
}

/// The page of a campaign's cost entries, the latest incurred first.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct CostListParams {
    /// 1 to 200, default 50.
    pub limit: Option<i64>,
    pub cursor: Option<String>,
}

/// List a campaign's cost entries, the latest incurred first.
#[utoipa::path(
    tag = "campaigns",
    params(("id" = Uuid, Path), CostListParams),
    responses((status = 200, body = CostList)),
    security(("oauth2" = ["campaigns:read"]))
)]
#[get("/campaigns/{id}/costs")]
async fn list_costs(
    state: web::Data<AppState>,
    auth: Authorized<CampaignsRead>,
    id: web::Path<Uuid>,
    params: Query<CostListParams>,
) -> Result<HttpResponse, ApiError> {
    let p = params.into_inner()?;
    let sort = "-incurred_on";
    let (limit, cursor) = page_params(p.limit, p.cursor.as_deref(), sort)?;
    let campaign = existing(state.store.conn(), id.into_inner()).await?;
    let page = campaigns::costs(state.list_reads(&auth), campaign.id, cursor, limit).await?;
    Ok(HttpResponse::Ok().json(CostList::from(Paged::from_page(page, sort, Cost::from))))
}

/// Add an actual cost entry to a campaign. Audited.
#[utoipa::path(
    tag = "campaigns",
    params(("id" = Uuid, Path)),
    request_body = CreateCost,
    responses((status = 201, body = Cost, headers(("Location" = String)))),
    security(("oauth2" = ["campaigns:write"]))
)]
#[post("/campaigns/{id}/costs")]
async fn add_cost(
    state: web::Data<AppState>,
    auth: Authorized<CampaignsWrite>,
    id: web::Path<Uuid>,
    body: Json<CreateCost>,
) -> Result<HttpResponse, ApiError> {
    let body = body.into_inner()?;
    let now = state.clock.now();
    let mut errors = Errors::default();
    let amount = match &body.amount {
        Some(a) => a.read("amount", &mut errors),
        None => {
            errors.add("amount", rapport_domain::Invalid::Required);
            None
        }
    };
    let description = errors.check_opt(
        "description",
        body.description.as_deref(),
        CostDescription::parse,
    );
    let incurred_on = match body.incurred_on.as_deref() {
        Some(day) => errors.check("incurred_on", parse_date(day)),
        None => Some(now.date_naive()),
    };
    let tx = state.store.begin().await?;
    let campaign = existing(&tx, id.into_inner()).await?;
    let entry = errors.finish_with((|| {
        Some(CostEntry {
            id: Uuid::now_v7(),
            campaign_id: campaign.id,
            amount: amount?,
            description: description?,
            incurred_on: incurred_on?,
            created_by: auth.user_id(),
            created_at: now,
        })
    })())?;
    campaigns::add_cost(&tx, &entry).await?;
    let body = Cost::from(entry);
    audit::record_and_commit(
        tx,
        &state,
        &auth.origin,
        audit::Subject::new("campaign_cost", body.id),
        "create",
        audit::changes(None, Some(&body)),
    )
    .await?;
    let location = format!("/v1/campaigns/{}/costs", body.campaign_id);
    Ok(HttpResponse::Created()
        .insert_header((actix_web::http::header::LOCATION, location))
        .json(&body))
}

/// Delete a cost entry of a campaign. Audited.
#[utoipa::path(
    tag = "campaigns",
    params(("id" = Uuid, Path), ("cost_id" = Uuid, Path)),
    responses((status = 204, description = "Deleted")),
    security(("oauth2" = ["campaigns:write"]))
)]
#[delete("/campaigns/{id}/costs/{cost_id}")]
async fn delete_cost(
    state: web::Data<AppState>,
    auth: Authorized<CampaignsWrite>,
    path: web::Path<(Uuid, Uuid)>,
) -> Result<HttpResponse, ApiError> {
    let (campaign_id, cost_id) = path.into_inner();
    let tx = state.store.begin().await?;
    let entry = campaigns::get_cost(&tx, campaign_id, cost_id).await?;
    campaigns::delete_cost(&tx, campaign_id, cost_id).await?;
    let before = Cost::from(entry);
    audit::record_and_commit(
        tx,
        &state,
        &auth.origin,
        audit::Subject::new("campaign_cost", before.id),
        "delete",
        audit::changes(Some(&before), None),
    )
    .await?;
    Ok(HttpResponse::NoContent().finish())
}

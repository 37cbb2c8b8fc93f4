//! Reports. `pipeline`: the forecast of a pipeline for the caller's view.

use std::collections::BTreeMap;

use actix_web::{HttpResponse, get, web};
use rapport_domain::Invalid;
use rapport_domain::currency::CurrencyCode;
use rapport_domain::opportunity::OpportunityStatus;
use rapport_domain::pricing::round;
use rapport_store::repos::opportunities::{
    self, ForecastGrouping, ForecastSums, OpportunityFilter,
};
use rapport_store::repos::{Lock, pipelines};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_actix_web::service_config::ServiceConfig;
use uuid::Uuid;

use crate::auth::Authorized;
use crate::auth::scopes::ReportsRead;
use crate::error::ApiError;
use crate::extract::{Query, code_param};
use crate::money::MoneyBody;
use crate::schemas;
use crate::state::AppState;

pub fn configure(cfg: &mut ServiceConfig) {
    cfg.service(pipeline_report);
}

/// The forecast's parameters.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PipelineReportParams {
    /// Default: the default pipeline.
    pub pipeline_id: Option<Uuid>,
    /// Only opportunities with this status; default all.
    #[param(schema_with = schemas::opportunity_status)]
    pub status: Option<String>,
    /// Extra groupings, comma separated: `owner`, `month` (of the expected close date).
    #[param(example = "owner,month")]
    pub by: Option<String>,
}

/// One group of the forecast: a stage and a currency (and an owner and a month when asked).
#[derive(Debug, Serialize, ToSchema)]
pub struct ForecastRow {
    pub stage_id: Uuid,
    pub stage_name: String,
    #[schema(schema_with = schemas::stage_kind)]
    pub stage_kind: String,
    pub position: usize,
    /// `null` for opportunities without an amount (counted, never summed).
    pub currency: Option<String>,
    /// With `by=owner`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub owner_id: Option<Option<Uuid>>,
    /// With `by=month`: `YYYY-MM` of the expected close date (`null` without one).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<String>, example = "2026-12")]
    pub month: Option<Option<String>>,
    pub count: i64,
    /// The sum of the amounts; `null` without a currency.
    pub total: Option<MoneyBody>,
    /// Σ amount × probability / 100, rounded to the currency; `null` without a currency.
    pub weighted: Option<MoneyBody>,
}

/// The sums of one currency over every stage.
#[derive(Debug, Serialize, ToSchema)]
pub struct ForecastTotal {
    pub currency: Option<String>,
    pub count: i64,
    pub total: Option<MoneyBody>,
    pub weighted: Option<MoneyBody>,
}

/// A pipeline's forecast: per stage (in order) and per currency, never adding one currency to
/// another.
#[derive(Debug, Serialize, ToSchema)]
pub struct PipelineReport {
    pub pipeline_id: Uuid,
    pub rows: Vec<ForecastRow>,
    pub totals: Vec<ForecastTotal>,
}

/// The amounts of a group in its currency: its total, and its weighted sum rounded to the
/// currency. Sums may pass what one amount may hold, so they are not `Money`.
fn amounts(
    currency: Option<CurrencyCode>,
    sums: &ForecastSums,
) -> Result<(Option<MoneyBody>, Option<MoneyBody>), ApiError> {
    let Some(currency) = currency else {
        return Ok((None, None));
    };
    let units = currency.minor_units();
    let money = |minor: i128, scale: u32| {
        Decimal::try_from_i128_with_scale(minor, scale)
            .map(|d| MoneyBody {
                amount: round(d, currency).to_string(),
                currency: currency.as_str().to_owned(),
            })
            .map_err(|e| ApiError::internal("a forecast sum is out of range", e))
    };
    Ok((
        Some(money(sums.total_minor, units)?),
        Some(money(sums.weighted_centi_minor, units + 2)?),
    ))
}

/// The pipeline forecast: per stage, the count, total and probability-weighted amount of the
/// opportunities the caller sees, per currency, optionally per owner and per month of expected
/// close.
#[utoipa::path(
    tag = "sales",
    params(PipelineReportParams),
    responses((status = 200, body = PipelineReport)),
    security(("oauth2" = ["reports:read"]))
)]
#[get("/reports/pipeline")]
async fn pipeline_report(
    state: web::Data<AppState>,
    auth: Authorized<ReportsRead>,
    params: Query<PipelineReportParams>,
) -> Result<HttpResponse, ApiError> {
    let p = params.into_inner()?;
    let mut grouping = ForecastGrouping::default();
    for part in p.by.as_deref().unwrap_or("").split(',').map(str::trim) {
        match part {
            "" => {}
            "owner" => grouping.by_owner = true,
            "month" => grouping.by_month = true,
            _ => {
                return Err(ApiError::bad_parameter(
                    "by",
                    Invalid::NotOneOf {
                        allowed: &["owner", "month"],
                    },
                ));
            }
        }
    }
    let status = code_param("status", p.status.as_deref(), OpportunityStatus::parse)?;
    let db = state.list_reads(&auth);
    let pipeline = match p.pipeline_id {
        None => pipelines::default_pipeline(db).await?,
        Some(id) => pipelines::fetch(db, id, Lock::No).await?,
    };
    let filter = OpportunityFilter {
        pipeline_id: Some(pipeline.id),
        status,
        ..OpportunityFilter::default()
    };
    let groups = opportunities::forecast(db, auth.visibility(), &filter, grouping).await?;
    let mut rows = Vec::with_capacity(groups.len());
    let mut totals: BTreeMap<Option<CurrencyCode>, ForecastSums> = BTreeMap::new();
    for (key, sums) in &groups {
        let (Some(position), Some(stage)) = (
            pipeline.position(key.stage_id),
            pipeline.stage(key.stage_id),
        ) else {
            continue;
        };
        let (total, weighted) = amounts(key.currency, sums)?;
        rows.push(ForecastRow {
            stage_id: stage.id,
            stage_name: stage.name.to_string(),
            stage_kind: stage.kind.as_str().to_owned(),
            position,
            currency: key.currency.map(|c| c.as_str().to_owned()),
            owner_id: grouping.by_owner.then_some(key.owner_id),
            month: grouping.by_month.then(|| key.month.clone()),
            count: sums.count,
            total,
            weighted,
        });
        *totals.entry(key.currency).or_default() += *sums;
    }
    // In the pipeline's order (the groups come in id order).
    rows.sort_by(|a, b| {
        (a.position, &a.currency, a.owner_id, &a.month).cmp(&(
            b.position,
            &b.currency,
            b.owner_id,
            &b.month,
        ))
    });
    let totals = totals
        .iter()
        .map(|(currency, sums)| {
            let (total, weighted) = amounts(*currency, sums)?;
            Ok(ForecastTotal {
                currency: currency.map(|c| c.as_str().to_owned()),
                count: sums.count,
                total,
                weighted,
            })
        })
        .collect::<Result<Vec<_>, ApiError>>()?;
    Ok(HttpResponse::Ok().json(PipelineReport {
        pipeline_id: pipeline.id,
        rows,
        totals,
    }))
}

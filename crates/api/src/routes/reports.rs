//! Reports. `pipeline`: the forecast of a pipeline for the caller's view.

use actix_web::{HttpResponse, get, web};
use rapport_domain::Invalid;
use rapport_domain::currency::CurrencyCode;
use rapport_domain::money::Money;
use rapport_domain::opportunity::OpportunityStatus;
use rapport_domain::pricing::round;
use rapport_store::repos::opportunities::{self, ForecastGrouping, OpportunityFilter};
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

/// The amounts of a group: its total and weighted sums as money.
fn amounts(
    currency: Option<&str>,
    total_minor: i64,
    weighted_centi_minor: i64,
) -> Result<(Option<MoneyBody>, Option<MoneyBody>), ApiError> {
    let Some(code) = currency else {
        return Ok((None, None));
    };
    let currency = CurrencyCode::parse(code)
        .map_err(|e| ApiError::internal("a stored currency does not parse", e))?;
    let units = currency.minor_units();
    let money = |d: Decimal| {
        Money::new(round(d, currency), currency)
            .map(MoneyBody::from)
            .map_err(|e| ApiError::internal("a forecast sum is out of range", e))
    };
    Ok((
        Some(money(Decimal::new(total_minor, units))?),
        Some(money(Decimal::new(weighted_centi_minor, units + 2))?),
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
    let db = state.list_reads(&auth);
    let pipeline = match p.pipeline_id {
        None => pipelines::default_pipeline(db).await?,
        Some(id) => pipelines::fetch(db, id, Lock::No).await?,
    };
    let filter = OpportunityFilter {
        pipeline_id: Some(pipeline.id),
        status: code_param("status", p.status.as_deref(), OpportunityStatus::parse)?,
        ..OpportunityFilter::default()
    };
    let groups = opportunities::forecast(db, auth.visibility(), &filter, grouping).await?;
    let mut rows = Vec::with_capacity(groups.len());
    let mut totals: Vec<(Option<String>, i64, i64, i64)> = Vec::new();
    for (key, sums) in &groups {
        let Some((position, stage)) = pipeline
            .stages
            .iter()
            .enumerate()
            .find(|(_, s)| s.id == key.stage_id)
        else {
            continue;
        };
        let (total, weighted) = amounts(
            key.currency.as_deref(),
            sums.total_minor,
            sums.weighted_centi_minor,
        )?;
        rows.push(ForecastRow {
            stage_id: stage.id,
            stage_name: stage.name.to_string(),
            stage_kind: stage.kind.as_str().to_owned(),
            position,
            currency: key.currency.clone(),
            owner_id: grouping.by_owner.then_some(key.owner_id),
            month: grouping.by_month.then(|| key.month.clone()),
            count: sums.count,
            total,
            weighted,
        });
        match totals.iter_mut().find(|t| t.0 == key.currency) {
            Some(t) => {
                t.1 += sums.count;
                t.2 += sums.total_minor;
                t.3 += sums.weighted_centi_minor;
            }
            None => totals.push((
                key.currency.clone(),
                sums.count,
                sums.total_minor,
                sums.weighted_centi_minor,
            )),
        }
    }
    rows.sort_by(|a, b| {
        (a.position, &a.currency, a.owner_id, &a.month).cmp(&(
            b.position,
            &b.currency,
            b.owner_id,
            &b.month,
        ))
    });
    totals.sort_by(|a, b| a.0.cmp(&b.0));
    let totals = totals
        .into_iter()
        .map(|(currency, count, total, weighted)| {
            let (total, weighted) = amounts(currency.as_deref(), total, weighted)?;
            Ok(ForecastTotal {
                currency,
                count,
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

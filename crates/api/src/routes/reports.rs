//! Reports over the caller's view: `pipeline` (the forecast of a pipeline),
//! `customer-distribution`, `lead-response` and `sales-performance`. Each answers CSV too (`crate::table`).
//!
//! Each report is a function of the state, the caller and its query read (`<Report>Query::read`
//! of the parameters), which the handler answers and an automation rule's `email_report`
//! sends: both have the same figures.

use std::collections::{BTreeMap, HashMap};

use actix_web::{HttpRequest, HttpResponse, get, web};
use chrono::{DateTime, Utc};
use rapport_domain::Invalid;
use rapport_domain::currency::CurrencyCode;
use rapport_domain::opportunity::OpportunityStatus;
use rapport_domain::pricing::round;
use rapport_domain::report::{CustomerDimension, Grouping, ratio};
use rapport_store::Spread;
use rapport_store::repos::customers::{LeadCounts, LeadScope};
use rapport_store::repos::opportunities::{
    self, ForecastGrouping, ForecastSums, OpportunityFilter,
};
use rapport_store::repos::performance::{self, Performance, PerformanceScope};
use rapport_store::repos::{Lock, customers, pipelines};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_actix_web::service_config::ServiceConfig;
use uuid::Uuid;

use crate::auth::scopes::ReportsRead;
use crate::auth::{Authorized, Caller};
use crate::error::ApiError;
use crate::extract::{Query, code_param};
use crate::money::MoneyBody;
use crate::schemas;
use crate::state::AppState;
use crate::table::{self, Table, cell};

pub fn configure(cfg: &mut ServiceConfig) {
    cfg.service(pipeline_report)
        .service(customer_distribution_report)
        .service(lead_response_report)
        .service(sales_performance_report);
}

/// The forecast's extra groupings, as `by` names them.
pub const FORECAST_BY: &[&str] = &["owner", "month"];

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
    #[param(example = "owner,month", schema_with = schemas::forecast_by)]
    pub by: Option<String>,
}

/// The forecast's query, read.
#[derive(Debug, Clone)]
pub struct PipelineQuery {
    pub pipeline_id: Option<Uuid>,
    pub status: Option<OpportunityStatus>,
    pub grouping: ForecastGrouping,
}

impl PipelineQuery {
    /// # Errors
    /// 400 naming a parameter that takes no such value.
    pub fn read(p: PipelineReportParams) -> Result<PipelineQuery, ApiError> {
        let mut grouping = ForecastGrouping::default();
        // Exactly as documented: empty, or `owner` and `month` comma separated, no spaces.
        let parts =
            p.by.as_deref()
                .filter(|by| !by.is_empty())
                .map(|by| by.split(','));
        for part in parts.into_iter().flatten() {
            match part {
                "owner" => grouping.by_owner = true,
                "month" => grouping.by_month = true,
                _ => {
                    return Err(ApiError::bad_parameter(
                        "by",
                        Invalid::NotOneOf {
                            allowed: FORECAST_BY,
                        },
                    ));
                }
            }
        }
        Ok(PipelineQuery {
            pipeline_id: p.pipeline_id,
            status: code_param("status", p.status.as_deref(), OpportunityStatus::parse)?,
            grouping,
        })
    }
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

impl Table for PipelineReport {
    fn header(&self) -> Vec<&'static str> {
        vec![
            "stage_id",
            "stage_name",
            "stage_kind",
            "position",
            "currency",
            "owner_id",
            "month",
            "count",
            "total",
            "weighted",
        ]
    }

    /// A line per row, then a line per currency's totals (`stage_name` = `total`).
    fn rows(&self) -> Vec<Vec<String>> {
        let totals = self.totals.iter().map(|t| {
            vec![
                String::new(),
                "total".to_owned(),
                String::new(),
                String::new(),
                cell(t.currency.as_ref()),
                String::new(),
                String::new(),
                t.count.to_string(),
                cell(t.total.as_ref().map(|m| &m.amount)),
                cell(t.weighted.as_ref().map(|m| &m.amount)),
            ]
        });
        self.rows
            .iter()
            .map(|r| {
                vec![
                    r.stage_id.to_string(),
                    r.stage_name.clone(),
                    r.stage_kind.clone(),
                    r.position.to_string(),
                    cell(r.currency.as_ref()),
                    cell(r.owner_id.flatten()),
                    cell(r.month.clone().flatten()),
                    r.count.to_string(),
                    cell(r.total.as_ref().map(|m| &m.amount)),
                    cell(r.weighted.as_ref().map(|m| &m.amount)),
                ]
            })
            .chain(totals)
            .collect()
    }
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
    responses((status = 200, description = "The forecast; CSV (one line per row) with `Accept: text/csv`", content(
        (PipelineReport = "application/json"),
        (String = "text/csv")
    )), (status = 404, description = "No such pipeline", body = crate::error::Problem, content_type = "application/problem+json")),
    security(("oauth2" = ["reports:read"]))
)]
#[get("/reports/pipeline")]
async fn pipeline_report(
    req: HttpRequest,
    state: web::Data<AppState>,
    auth: Authorized<ReportsRead>,
    params: Query<PipelineReportParams>,
) -> Result<HttpResponse, ApiError> {
    let query = PipelineQuery::read(params.into_inner()?)?;
    let report = pipeline(&state, &auth, &query).await?;
    table::respond(&req, &report, "pipeline")
}

/// The forecast of `query` over what `caller` sees.
///
/// # Errors
/// 404 for no such pipeline; database failures.
pub async fn pipeline(
    state: &AppState,
    caller: &Caller,
    query: &PipelineQuery,
) -> Result<PipelineReport, ApiError> {
    let grouping = query.grouping;
    let db = state.list_reads(caller);
    let pipeline = match query.pipeline_id {
        None => pipelines::default_pipeline(db).await?,
        Some(id) => pipelines::fetch(db, id, Lock::No).await?,
    };
    let filter = OpportunityFilter {
        pipeline_id: Some(pipeline.id),
        status: query.status,
        ..OpportunityFilter::default()
    };
    let groups = opportunities::forecast(db, caller.visibility(), &filter, grouping).await?;
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
    Ok(PipelineReport {
        pipeline_id: pipeline.id,
        rows,
        totals,
    })
}

/// What the distribution counts by.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct DistributionParams {
    /// One or two of `kind`, `industry`, `size`, `grade`, `lifecycle_stage`, `country`,
    /// `source`, `channel`, comma separated.
    #[param(example = "industry,grade", schema_with = schemas::distribution_by)]
    pub by: Option<String>,
    /// Customers created from this time on.
    pub from: Option<DateTime<Utc>>,
    /// Customers created before this time.
    pub to: Option<DateTime<Utc>>,
}

/// The distribution's query, read.
#[derive(Debug, Clone)]
pub struct DistributionQuery {
    /// One or two fields, distinct.
    dimensions: Vec<CustomerDimension>,
    pub from: Option<DateTime<Utc>>,
    pub to: Option<DateTime<Utc>>,
}

impl DistributionQuery {
    /// # Errors
    /// 400 naming a parameter that takes no such value.
    pub fn read(p: DistributionParams) -> Result<DistributionQuery, ApiError> {
        let dimensions =
            p.by.as_deref()
                .unwrap_or("")
                .split(',')
                .map(CustomerDimension::parse)
                .collect::<Result<Vec<_>, _>>()
                .map_err(|invalid| ApiError::bad_parameter("by", invalid))?;
        match dimensions.as_slice() {
            [_] => {}
            [one, two] if one != two => {}
            _ => {
                return Err(ApiError::bad_parameter(
                    "by",
                    Invalid::OutOfRange { min: 1, max: 2 },
                ));
            }
        }
        Ok(DistributionQuery {
            dimensions,
            from: p.from,
            to: p.to,
        })
    }
}

/// One group of customers.
#[derive(Debug, Serialize, ToSchema)]
pub struct DistributionRow {
    /// The group's value of each field of `by`, in its order (`null`: none set).
    #[schema(example = json!(["manufacturing", "vip"]))]
    pub values: Vec<Option<String>>,
    pub count: i64,
    /// Percent of `total`, one decimal.
    pub share: f64,
}

/// How the customers the caller sees spread over one or two of their fields.
#[derive(Debug, Serialize, ToSchema)]
pub struct CustomerDistribution {
    #[schema(example = json!(["industry", "grade"]))]
    pub by: Vec<String>,
    /// Every live customer the caller sees.
    pub total: i64,
    /// Largest first.
    pub rows: Vec<DistributionRow>,
    #[serde(skip)]
    dimensions: Vec<CustomerDimension>,
}

impl Table for CustomerDistribution {
    fn header(&self) -> Vec<&'static str> {
        let mut header: Vec<&'static str> = self.dimensions.iter().map(|d| d.as_str()).collect();
        header.extend(["count", "share"]);
        header
    }

    fn rows(&self) -> Vec<Vec<String>> {
        self.rows
            .iter()
            .map(|r| {
                let mut line: Vec<String> = r.values.iter().map(|v| cell(v.as_ref())).collect();
                line.push(r.count.to_string());
                line.push(r.share.to_string());
                line
            })
            .collect()
    }
}

/// How the customers the caller sees spread over one or two fields (`by`): the count and share
/// of each group, largest first.
#[utoipa::path(
    tag = "reports",
    params(DistributionParams),
    responses((status = 200, description = "The groups; CSV (a column per field, then count and share) with `Accept: text/csv`", content(
        (CustomerDistribution = "application/json"),
        (String = "text/csv")
    ))),
    security(("oauth2" = ["reports:read"]))
)]
#[get("/reports/customer-distribution")]
async fn customer_distribution_report(
    req: HttpRequest,
    state: web::Data<AppState>,
    auth: Authorized<ReportsRead>,
    params: Query<DistributionParams>,
) -> Result<HttpResponse, ApiError> {
    let query = DistributionQuery::read(params.into_inner()?)?;
    let report = customer_distribution(&state, &auth, &query).await?;
    table::respond(&req, &report, "customer-distribution")
}

/// The distribution of `query` over the customers `caller` sees.
///
/// # Errors
/// Database failures.
pub async fn customer_distribution(
    state: &AppState,
    caller: &Caller,
    query: &DistributionQuery,
) -> Result<CustomerDistribution, ApiError> {
    let dimensions = query.dimensions.clone();
    // `read` made them one or two.
    let (first, second) = match dimensions.as_slice() {
        [one, two] => (*one, Some(*two)),
        [one, ..] => (*one, None),
        [] => return Err(ApiError::bad_parameter("by", Invalid::Required)),
    };
    let groups = customers::distribution(
        state.list_reads(caller),
        caller.visibility(),
        first,
        second,
        (query.from, query.to),
    )
    .await?;
    let total: i64 = groups.iter().map(|(_, n)| n).sum();
    let rows = groups
        .into_iter()
        .map(|(values, count)| DistributionRow {
            values,
            count,
            share: ratio(count, total.unsigned_abs(), 100, 1),
        })
        .collect();
    Ok(CustomerDistribution {
        by: dimensions.iter().map(|d| d.as_str().to_owned()).collect(),
        total,
        rows,
        dimensions,
    })
}

/// The leads counted, and how they are grouped.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct LeadResponseParams {
    /// Leads created from this time on.
    pub from: Option<DateTime<Utc>>,
    /// Leads created before this time.
    pub to: Option<DateTime<Utc>>,
    /// `owner` or `team`; default: all together.
    #[param(schema_with = schemas::report_grouping)]
    pub group_by: Option<String>,
}

/// The lead-response query, read.
#[derive(Debug, Clone)]
pub struct LeadResponseQuery {
    pub from: Option<DateTime<Utc>>,
    pub to: Option<DateTime<Utc>>,
    /// `Some(true)`: per team; `Some(false)`: per owner; `None`: all together.
    pub by_team: Option<bool>,
}

impl LeadResponseQuery {
    /// # Errors
    /// 400 naming a parameter that takes no such value.
    pub fn read(p: LeadResponseParams) -> Result<LeadResponseQuery, ApiError> {
        Ok(LeadResponseQuery {
            from: p.from,
            to: p.to,
            by_team: code_param("group_by", p.group_by.as_deref(), Grouping::parse)?
                .map(|g| g == Grouping::Team),
        })
    }
}

/// How one group's leads were first contacted.
#[derive(Debug, Serialize, ToSchema)]
pub struct LeadResponse {
    /// The owner or team (`null`: none, or every lead together).
    pub key: Option<Uuid>,
    /// Leads under the first-contact rule created in the range.
    pub leads: i64,
    /// Contacted at least once (a call, meeting, visit, email or chat).
    pub contacted: i64,
    /// Contacted by their due time.
    pub in_time: i64,
    /// Contacted, or past their due time: those whose timeliness is known.
    pub due: i64,
    /// `in_time / due`, percent, one decimal (leads still within their time do not count).
    pub in_time_share: f64,
    /// Still leads, not contacted, and past their due time now.
    pub overdue: i64,
    /// The median time from creation to first contact of the contacted ones (of the two middle
    /// ones, their mean), in whole seconds rounded half away from zero; `null` when none was
    /// contacted.
    pub median_seconds_to_first_contact: Option<i64>,
}

/// A lead past its first-contact due time, uncontacted.
#[derive(Debug, Serialize, ToSchema)]
pub struct OverdueLead {
    pub id: Uuid,
    pub name: String,
    pub owner_id: Option<Uuid>,
    pub team_id: Option<Uuid>,
    pub first_contact_due_at: Option<DateTime<Utc>>,
}

/// How fast leads are first contacted (the 24-hour rule, `RAPPORT_LEAD_FOLLOW_UP_HOURS`).
#[derive(Debug, Serialize, ToSchema)]
pub struct LeadResponseReport {
    /// Every lead of the range together.
    pub total: LeadResponse,
    /// Per owner or team with `group_by`, in id order; `[]` without.
    pub groups: Vec<LeadResponse>,
    /// The 100 longest overdue leads the caller sees now, whenever created.
    pub overdue_leads: Vec<OverdueLead>,
}

impl Table for LeadResponseReport {
    fn header(&self) -> Vec<&'static str> {
        vec![
            "group",
            "key",
            "leads",
            "contacted",
            "in_time",
            "due",
            "in_time_share",
            "overdue",
            "median_seconds_to_first_contact",
        ]
    }

    fn rows(&self) -> Vec<Vec<String>> {
        let line = |group: &str, r: &LeadResponse| {
            vec![
                group.to_owned(),
                cell(r.key),
                r.leads.to_string(),
                r.contacted.to_string(),
                r.in_time.to_string(),
                r.due.to_string(),
                r.in_time_share.to_string(),
                r.overdue.to_string(),
                cell(r.median_seconds_to_first_contact),
            ]
        };
        let mut rows = vec![line("total", &self.total)];
        rows.extend(self.groups.iter().map(|g| line("group", g)));
        rows
    }
}

fn lead_row(counts: &LeadCounts, spread: Option<&Spread>) -> LeadResponse {
    LeadResponse {
        key: counts.key,
        leads: counts.leads,
        contacted: counts.contacted,
        in_time: counts.in_time,
        due: counts.due,
        in_time_share: ratio(counts.in_time, counts.due.unsigned_abs(), 100, 1),
        overdue: counts.overdue,
        median_seconds_to_first_contact: spread.and_then(|s| s.median),
    }
}

/// The leads created in the range that the caller sees: how many were contacted by their due
/// time, the median time to a first contact, how many are overdue; per owner or team; and the
/// leads overdue now.
#[utoipa::path(
    tag = "reports",
    params(LeadResponseParams),
    responses((status = 200, description = "The report; CSV (the totals, then one line per group) with `Accept: text/csv`", content(
        (LeadResponseReport = "application/json"),
        (String = "text/csv")
    ))),
    security(("oauth2" = ["reports:read"]))
)]
#[get("/reports/lead-response")]
async fn lead_response_report(
    req: HttpRequest,
    state: web::Data<AppState>,
    auth: Authorized<ReportsRead>,
    params: Query<LeadResponseParams>,
) -> Result<HttpResponse, ApiError> {
    let query = LeadResponseQuery::read(params.into_inner()?)?;
    let report = lead_response(&state, &auth, &query).await?;
    table::respond(&req, &report, "lead-response")
}

/// The lead response of `query` over the customers `caller` sees.
///
/// # Errors
/// Database failures.
pub async fn lead_response(
    state: &AppState,
    caller: &Caller,
    query: &LeadResponseQuery,
) -> Result<LeadResponseReport, ApiError> {
    let by_team = query.by_team;
    let now = state.clock.now();
    let db = state.list_reads(caller);
    let scope = LeadScope {
        visibility: caller.visibility(),
        from: query.from,
        to: query.to,
        by_team,
    };
    let counts = customers::lead_response(db, &scope, now).await?;
    let all = customers::time_to_first_contact(db, &scope, false).await?;
    let per_group: HashMap<Option<Uuid>, Spread> = match by_team {
        None => HashMap::new(),
        Some(_) => customers::time_to_first_contact(db, &scope, true)
            .await?
            .into_iter()
            .collect(),
    };
    let sum = counts
        .iter()
        .fold(LeadCounts::default(), |acc, c| LeadCounts {
            key: None,
            leads: acc.leads + c.leads,
            contacted: acc.contacted + c.contacted,
            in_time: acc.in_time + c.in_time,
            due: acc.due + c.due,
            overdue: acc.overdue + c.overdue,
        });
    let groups = match by_team {
        None => Vec::new(),
        Some(_) => counts
            .iter()
            .map(|c| lead_row(c, per_group.get(&c.key)))
            .collect(),
    };
    let overdue_leads = customers::overdue_leads(db, caller.visibility(), now, 100)
        .await?
        .into_iter()
        .map(|c| OverdueLead {
            id: c.id,
            name: c.name.to_string(),
            owner_id: c.owner_id,
            team_id: c.team_id,
            first_contact_due_at: c.first_contact_due_at,
        })
        .collect();
    Ok(LeadResponseReport {
        total: lead_row(&sum, all.first().map(|(_, s)| s)),
        groups,
        overdue_leads,
    })
}

/// The range and grouping of sales performance.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct SalesPerformanceParams {
    /// From this time on: opportunities created, deals closed, activities recorded.
    pub from: Option<DateTime<Utc>>,
    /// Before this time.
    pub to: Option<DateTime<Utc>>,
    /// `owner` (the default: per rep) or `team`.
    #[param(schema_with = schemas::report_grouping)]
    pub group_by: Option<String>,
}

/// The sales-performance query, read.
#[derive(Debug, Clone)]
pub struct SalesPerformanceQuery {
    pub from: Option<DateTime<Utc>>,
    pub to: Option<DateTime<Utc>>,
    /// Per team rather than per rep.
    pub by_team: bool,
}

impl SalesPerformanceQuery {
    /// # Errors
    /// 400 naming a parameter that takes no such value.
    pub fn read(p: SalesPerformanceParams) -> Result<SalesPerformanceQuery, ApiError> {
        Ok(SalesPerformanceQuery {
            from: p.from,
            to: p.to,
            by_team: code_param("group_by", p.group_by.as_deref(), Grouping::parse)?
                == Some(Grouping::Team),
        })
    }
}

/// The deals won in one currency.
#[derive(Debug, Serialize, ToSchema)]
pub struct WonAmount {
    pub count: i64,
    pub total: MoneyBody,
    /// `total / count`, rounded to the currency.
    pub average_deal: MoneyBody,
}

/// One rep's or team's sales.
#[derive(Debug, Serialize, ToSchema)]
pub struct SalesPerformance {
    /// The rep or team (`null`: none, or everyone together).
    pub key: Option<Uuid>,
    /// Opportunities created in the range.
    pub created: i64,
    /// Won in the range.
    pub won: i64,
    /// Lost in the range.
    pub lost: i64,
    /// `won / (won + lost)`, percent, one decimal; `null` when none closed.
    pub win_rate: Option<f64>,
    /// Per currency, never added together (deals without an amount are only counted).
    pub won_amounts: Vec<WonAmount>,
    /// The mean days from creation to the win of the deals won, one decimal.
    pub average_sales_cycle_days: Option<f64>,
    /// Activities recorded in the range: by the rep, or by the team's members (their team now).
    pub activities: i64,
}

/// Sales per rep or team.
#[derive(Debug, Serialize, ToSchema)]
pub struct SalesPerformanceReport {
    #[schema(example = "owner")]
    pub group_by: String,
    /// In id order.
    pub groups: Vec<SalesPerformance>,
    /// Everyone together.
    pub total: SalesPerformance,
}

impl Table for SalesPerformanceReport {
    fn header(&self) -> Vec<&'static str> {
        vec![
            "group",
            "key",
            "created",
            "won",
            "lost",
            "win_rate",
            "activities",
            "average_sales_cycle_days",
            "currency",
            "won_count",
            "won_total",
            "average_deal",
        ]
    }

    /// A line per group and currency (one line for a group without won amounts).
    fn rows(&self) -> Vec<Vec<String>> {
        let lines = |group: &str, p: &SalesPerformance| {
            let head = vec![
                group.to_owned(),
                cell(p.key),
                p.created.to_string(),
                p.won.to_string(),
                p.lost.to_string(),
                cell(p.win_rate),
                p.activities.to_string(),
                cell(p.average_sales_cycle_days),
            ];
            if p.won_amounts.is_empty() {
                let mut line = head;
                line.extend([String::new(), String::new(), String::new(), String::new()]);
                return vec![line];
            }
            p.won_amounts
                .iter()
                .map(|w| {
                    let mut line = head.clone();
                    line.extend([
                        w.total.currency.clone(),
                        w.count.to_string(),
                        w.total.amount.clone(),
                        w.average_deal.amount.clone(),
                    ]);
                    line
                })
                .collect()
        };
        let mut rows = lines("total", &self.total);
        for g in &self.groups {
            rows.extend(lines("group", g));
        }
        rows
    }
}

/// One group's figures from what was read (`key`: `Some(k)` for group `k`, `None` for all).
fn sales_of(read: &Performance, key: Option<Option<Uuid>>) -> Result<SalesPerformance, ApiError> {
    let mine = |k: &Option<Uuid>| key.is_none_or(|want| want == *k);
    let sum_of = |map: &std::collections::HashMap<Option<Uuid>, i64>| {
        map.iter()
            .filter(|(k, _)| mine(k))
            .map(|(_, n)| n)
            .sum::<i64>()
    };
    let closed = read.closed.iter().filter(|c| mine(&c.key));
    let count = |status| {
        read.closed
            .iter()
            .filter(|c| mine(&c.key) && c.status == status)
            .map(|c| c.count)
            .sum::<i64>()
    };
    let (won, lost) = (
        count(OpportunityStatus::Won),
        count(OpportunityStatus::Lost),
    );
    let mut by_currency: BTreeMap<CurrencyCode, (i64, i128)> = BTreeMap::new();
    for c in closed.filter(|c| c.status == OpportunityStatus::Won) {
        if let Some(currency) = c.currency {
            let slot = by_currency.entry(currency).or_default();
            slot.0 += c.count;
            slot.1 += c.total_minor;
        }
    }
    let won_amounts = by_currency
        .into_iter()
        .map(|(currency, (count, minor))| {
            let total = Decimal::try_from_i128_with_scale(minor, currency.minor_units())
                .map_err(|e| ApiError::internal("a won total is out of range", e))?;
            let money = |d: Decimal| MoneyBody {
                amount: round(d, currency).to_string(),
                currency: currency.as_str().to_owned(),
            };
            Ok(WonAmount {
                count,
                total: money(total),
                average_deal: money(total / Decimal::from(count.max(1))),
            })
        })
        .collect::<Result<Vec<_>, ApiError>>()?;
    let (deals, seconds) = read
        .cycles
        .iter()
        .filter(|c| mine(&c.key))
        .fold((0i64, 0i64), |(n, s), c| (n + c.won, s + c.seconds));
    let days = (deals > 0).then(|| ratio(seconds, deals.unsigned_abs() * 86_400, 1, 1));
    Ok(SalesPerformance {
        key: key.flatten(),
        created: sum_of(&read.created),
        won,
        lost,
        win_rate: (won + lost > 0).then(|| ratio(won, (won + lost).unsigned_abs(), 100, 1)),
        won_amounts,
        average_sales_cycle_days: days,
        activities: sum_of(&read.activities),
    })
}

/// Per rep (or team): opportunities created, won and lost in the range, the win rate, the won
/// amounts and average deal per currency, the average sales cycle, and the activities logged;
/// over the customers the caller sees.
#[utoipa::path(
    tag = "reports",
    params(SalesPerformanceParams),
    responses((status = 200, description = "The report; CSV (a line per group and currency) with `Accept: text/csv`", content(
        (SalesPerformanceReport = "application/json"),
        (String = "text/csv")
    ))),
    security(("oauth2" = ["reports:read"]))
)]
#[get("/reports/sales-performance")]
async fn sales_performance_report(
    req: HttpRequest,
    state: web::Data<AppState>,
    auth: Authorized<ReportsRead>,
    params: Query<SalesPerformanceParams>,
) -> Result<HttpResponse, ApiError> {
    let query = SalesPerformanceQuery::read(params.into_inner()?)?;
    let report = sales_performance(&state, &auth, &query).await?;
    table::respond(&req, &report, "sales-performance")
}

/// The sales performance of `query` over the customers `caller` sees.
///
/// # Errors
/// Database failures.
pub async fn sales_performance(
    state: &AppState,
    caller: &Caller,
    query: &SalesPerformanceQuery,
) -> Result<SalesPerformanceReport, ApiError> {
    let by_team = query.by_team;
    let scope = PerformanceScope {
        visibility: caller.visibility(),
        from: query.from,
        to: query.to,
        by_team,
    };
    let read = performance::performance(state.list_reads(caller), &scope).await?;
    let mut keys: Vec<Option<Uuid>> = read
        .created
        .keys()
        .chain(read.activities.keys())
        .copied()
        .chain(read.closed.iter().map(|c| c.key))
        .collect();
    keys.sort_unstable();
    keys.dedup();
    let groups = keys
        .into_iter()
        .map(|k| sales_of(&read, Some(k)))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(SalesPerformanceReport {
        group_by: if by_team { "team" } else { "owner" }.to_owned(),
        groups,
        total: sales_of(&read, None)?,
    })
}

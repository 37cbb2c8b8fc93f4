//! `GET /v1/reports/campaigns`: per campaign (or per type) and currency, members and
//! responses, leads, deals and won deals, what was won and spent, and the rates between
//! them. Counts are per campaign (the same in each of its currency rows); money is per
//! currency.

use std::collections::BTreeMap;

use actix_web::{HttpRequest, HttpResponse, get, web};
use chrono::{DateTime, Utc};
use rapport_domain::campaign::{CampaignStatus, CampaignType, cost_per_lead_minor, roi_percent};
use rapport_domain::campaign_email::per_sent;
use rapport_domain::currency::CurrencyCode;
use rapport_domain::report::ratio;
use rapport_store::repos::campaigns::{self, CampaignFigures, EmailFigures, ReportFilter};
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
use crate::state::AppState;
use crate::table::{self, Table, cell};

pub fn configure(cfg: &mut ServiceConfig) {
    cfg.service(campaign_report);
}

rapport_domain::string_enum! {
    /// The rows of the campaign report: one per campaign, or per campaign type.
    pub enum CampaignGrouping {
        Campaign => "campaign",
        Type => "type",
    }
}

/// The campaign report's parameters.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct CampaignReportParams {
    /// Campaigns whose period overlaps `[from, to)`: a campaign runs from `starts_at` (or its
    /// creation) until `ends_at` (or on, without one).
    pub from: Option<DateTime<Utc>>,
    pub to: Option<DateTime<Utc>>,
    #[serde(rename = "type")]
    #[param(rename = "type", schema_with = crate::schemas::campaign_type)]
    pub kind: Option<String>,
    #[param(schema_with = crate::schemas::campaign_status)]
    pub status: Option<String>,
    /// `campaign` (default) or `type`.
    #[param(example = "campaign")]
    pub group_by: Option<String>,
}

/// The campaign report's query, read.
#[derive(Debug, Clone)]
pub struct CampaignReportQuery {
    pub grouping: CampaignGrouping,
    pub filter: ReportFilter,
}

impl CampaignReportQuery {
    /// # Errors
    /// 400 naming a parameter that takes no such value.
    pub fn read(p: CampaignReportParams) -> Result<CampaignReportQuery, ApiError> {
        Ok(CampaignReportQuery {
            grouping: code_param("group_by", p.group_by.as_deref(), CampaignGrouping::parse)?
                .unwrap_or(CampaignGrouping::Campaign),
            filter: ReportFilter {
                from: p.from,
                to: p.to,
                kind: code_param("type", p.kind.as_deref(), CampaignType::parse)?,
                status: code_param("status", p.status.as_deref(), CampaignStatus::parse)?,
            },
        })
    }
}

/// One campaign (or type) in one currency.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct CampaignReportRow {
    /// `null` when grouped by type.
    pub campaign_id: Option<Uuid>,
    /// `null` when grouped by type.
    pub name: Option<String>,
    #[serde(rename = "type")]
    #[schema(schema_with = crate::schemas::campaign_type)]
    pub kind: String,
    /// `null` when grouped by type.
    #[schema(schema_with = crate::schemas::campaign_status_or_null)]
    pub status: Option<String>,
    /// The currency of the money columns: one row per currency won or spent in; `null` (with
    /// no money) for a campaign with neither.
    pub currency: Option<String>,
    /// Members whose customer the caller sees.
    pub members: i64,
    /// Members who responded, attended or converted.
    pub responses: i64,
    /// `responses / members`, percent, 1 decimal.
    pub response_rate: f64,
    /// Live customers that name the campaign (`campaign_id`).
    pub leads: i64,
    /// Opportunities that name the campaign, in every currency.
    pub opportunities: i64,
    /// Of them, won.
    pub won: i64,
    /// What its won opportunities in this currency sum to.
    pub won_amount: Option<MoneyBody>,
    /// `won / leads`, percent, 1 decimal.
    pub conversion_rate: f64,
    /// Its actual cost entries in this currency.
    pub cost: Option<MoneyBody>,
    /// `cost / leads`; `null` without leads.
    pub cost_per_lead: Option<MoneyBody>,
    /// `(won_amount − cost) / cost`, percent, 1 decimal; `null` without cost.
    pub roi: Option<f64>,
    /// Email messages sent to those members (campaigns of type `email`).
    pub sent: i64,
    /// Messages the mail server refused for good.
    pub bounced: i64,
    /// Sent messages opened at least once (the open pixel, or a click).
    pub opened: i64,
    /// Sent messages with a tracked link clicked.
    pub clicked: i64,
    /// Members who unsubscribed through a message's link.
    pub unsubscribed: i64,
    /// `opened / sent`, percent, 1 decimal; `null` before any is sent.
    pub open_rate: Option<f64>,
    /// `clicked / sent`, percent, 1 decimal; `null` before any is sent.
    pub click_rate: Option<f64>,
}

/// The campaign report.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct CampaignReport {
    #[schema(example = "campaign")]
    pub group_by: String,
    pub from: Option<DateTime<Utc>>,
    pub to: Option<DateTime<Utc>>,
    pub rows: Vec<CampaignReportRow>,
}

impl Table for CampaignReport {
    fn header(&self) -> Vec<&'static str> {
        vec![
            "campaign_id",
            "name",
            "type",
            "status",
            "currency",
            "members",
            "responses",
            "response_rate",
            "leads",
            "opportunities",
            "won",
            "won_amount",
            "conversion_rate",
            "cost",
            "cost_per_lead",
            "roi",
            "sent",
            "bounced",
            "opened",
            "clicked",
            "unsubscribed",
            "open_rate",
            "click_rate",
        ]
    }

    fn rows(&self) -> Vec<Vec<String>> {
        let amount = |m: &Option<MoneyBody>| cell(m.as_ref().map(|m| &m.amount));
        self.rows
            .iter()
            .map(|r| {
                vec![
                    cell(r.campaign_id),
                    cell(r.name.as_ref()),
                    r.kind.clone(),
                    cell(r.status.as_ref()),
                    cell(r.currency.as_ref()),
                    r.members.to_string(),
                    r.responses.to_string(),
                    r.response_rate.to_string(),
                    r.leads.to_string(),
                    r.opportunities.to_string(),
                    r.won.to_string(),
                    amount(&r.won_amount),
                    r.conversion_rate.to_string(),
                    amount(&r.cost),
                    amount(&r.cost_per_lead),
                    cell(r.roi),
                    r.sent.to_string(),
                    r.bounced.to_string(),
                    r.opened.to_string(),
                    r.clicked.to_string(),
                    r.unsubscribed.to_string(),
                    cell(r.open_rate),
                    cell(r.click_rate),
                ]
            })
            .collect()
    }
}

/// Minor units of `currency` as an amount.
fn money(minor: i128, currency: CurrencyCode) -> Result<MoneyBody, ApiError> {
    let amount = Decimal::try_from_i128_with_scale(minor, currency.minor_units())
        .map_err(|e| ApiError::internal("a campaign sum is out of range", e))?;
    Ok(MoneyBody {
        amount: amount.to_string(),
        currency: currency.as_str().to_owned(),
    })
}

fn percent(num: i64, den: i64) -> f64 {
    ratio(num, den.unsigned_abs(), 100, 1)
}

/// The rows of one campaign's (or one type's summed) figures, one per currency.
fn rows_of(
    f: &CampaignFigures,
    id_and_name: Option<(Uuid, String)>,
    status: Option<CampaignStatus>,
) -> Result<Vec<CampaignReportRow>, ApiError> {
    let (campaign_id, name) = id_and_name.unzip();
    let e = f.email;
    let count = |n: i64| u64::try_from(n).unwrap_or(0);
    let row = |currency: Option<CurrencyCode>| -> Result<CampaignReportRow, ApiError> {
        let (won_minor, cost_minor) = currency.map_or((0, 0), |c| {
            (
                f.won_minor.get(&c).copied().unwrap_or(0),
                f.cost_minor.get(&c).copied().unwrap_or(0),
            )
        });
        let leads = u64::try_from(f.leads).unwrap_or(0);
        Ok(CampaignReportRow {
            campaign_id,
            name: name.clone(),
            kind: f.kind.as_str().to_owned(),
            status: status.map(|s| s.as_str().to_owned()),
            currency: currency.map(|c| c.as_str().to_owned()),
            members: f.members,
            responses: f.responses,
            response_rate: percent(f.responses, f.members),
            leads: f.leads,
            opportunities: f.opportunities,
            won: f.won,
            won_amount: currency.map(|c| money(won_minor, c)).transpose()?,
            conversion_rate: percent(f.won, f.leads),
            cost: currency.map(|c| money(cost_minor, c)).transpose()?,
            cost_per_lead: match (currency, cost_per_lead_minor(cost_minor, leads)) {
                (Some(c), Some(per)) => Some(money(i128::from(per), c)?),
                _ => None,
            },
            roi: currency.and_then(|_| roi_percent(won_minor, cost_minor)),
            sent: e.sent,
            bounced: e.bounced,
            opened: e.opened,
            clicked: e.clicked,
            unsubscribed: e.unsubscribed,
            open_rate: per_sent(count(e.opened), count(e.sent)),
            click_rate: per_sent(count(e.clicked), count(e.sent)),
        })
    };
    let mut currencies: Vec<CurrencyCode> = f
        .won_minor
        .keys()
        .chain(f.cost_minor.keys())
        .copied()
        .collect();
    currencies.sort();
    currencies.dedup();
    if currencies.is_empty() {
        return Ok(vec![row(None)?]);
    }
    currencies.into_iter().map(|c| row(Some(c))).collect()
}

/// The figures of the campaigns of each type, summed.
fn by_type(figures: Vec<CampaignFigures>) -> Vec<CampaignFigures> {
    let mut types: BTreeMap<CampaignType, CampaignFigures> = BTreeMap::new();
    for f in figures {
        let sum = types.entry(f.kind).or_insert_with(|| CampaignFigures {
            campaign_id: Uuid::nil(),
            name: String::new(),
            kind: f.kind,
            status: f.status,
            members: 0,
            responses: 0,
            leads: 0,
            opportunities: 0,
            won: 0,
            won_minor: BTreeMap::new(),
            cost_minor: BTreeMap::new(),
            email: EmailFigures::default(),
        });
        sum.members += f.members;
        sum.responses += f.responses;
        sum.leads += f.leads;
        sum.opportunities += f.opportunities;
        sum.won += f.won;
        sum.email += f.email;
        for (c, minor) in f.won_minor {
            *sum.won_minor.entry(c).or_default() += minor;
        }
        for (c, minor) in f.cost_minor {
            *sum.cost_minor.entry(c).or_default() += minor;
        }
    }
    types.into_values().collect()
}

/// Campaign results: per campaign (or per type, `group_by=type`) and currency, members and
/// responses, leads (customers that name the campaign), opportunities and won ones, won
/// amount, cost (its cost entries), cost per lead and ROI, and its email messages: sent,
/// bounced, opened, clicked, unsubscribed, open and click rates. Members, leads and deals count
/// the customers the caller sees.
#[utoipa::path(
    tag = "reports",
    params(CampaignReportParams),
    responses((status = 200, description = "The rows; CSV (one line per row, money as its amount) with `Accept: text/csv`", content(
        (CampaignReport = "application/json"),
        (String = "text/csv")
    ))),
    security(("oauth2" = ["reports:read"]))
)]
#[get("/reports/campaigns")]
async fn campaign_report(
    req: HttpRequest,
    state: web::Data<AppState>,
    auth: Authorized<ReportsRead>,
    params: Query<CampaignReportParams>,
) -> Result<HttpResponse, ApiError> {
    let query = CampaignReportQuery::read(params.into_inner()?)?;
    let report = campaigns(&state, &auth, &query).await?;
    table::respond(&req, &report, "campaigns")
}

/// The campaign report of `query` over the customers `caller` sees.
///
/// # Errors
/// Database failures.
pub async fn campaigns(
    state: &AppState,
    caller: &Caller,
    query: &CampaignReportQuery,
) -> Result<CampaignReport, ApiError> {
    let (grouping, filter) = (query.grouping, &query.filter);
    let figures = campaigns::report(state.list_reads(caller), caller.visibility(), filter).await?;
    let mut rows = Vec::new();
    match grouping {
        CampaignGrouping::Campaign => {
            for f in &figures {
                rows.extend(rows_of(
                    f,
                    Some((f.campaign_id, f.name.clone())),
                    Some(f.status),
                )?);
            }
        }
        CampaignGrouping::Type => {
            for f in &by_type(figures) {
                rows.extend(rows_of(f, None, None)?);
            }
        }
    }
    Ok(CampaignReport {
        group_by: grouping.as_str().to_owned(),
        from: filter.from,
        to: filter.to,
        rows,
    })
}

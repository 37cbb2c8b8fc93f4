//! The service-levels report: SLA compliance and response and resolution times of the tickets
//! the caller sees, per period, with the backlog now and the breaches by team and category.

use std::collections::HashMap;

use actix_web::{HttpRequest, HttpResponse, get, web};
use chrono::{DateTime, NaiveDate, Utc};
use rapport_domain::report::{Interval, ratio};
use rapport_domain::ticket::SlaTarget;
use rapport_store::Spread;
use rapport_store::repos::service_levels::{self, Compliance, ServiceScope};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_actix_web::service_config::ServiceConfig;
use uuid::Uuid;

use crate::auth::scopes::ReportsRead;
use crate::auth::{Authorized, Caller};
use crate::error::ApiError;
use crate::extract::{Query, code_param};
use crate::schemas;
use crate::state::AppState;
use crate::table::{self, Table, cell};

pub fn configure(cfg: &mut ServiceConfig) {
    cfg.service(service_levels_report);
}

/// The range and periods of the report.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ServiceLevelsParams {
    /// Tickets created from this time on (breaches recorded from then).
    pub from: Option<DateTime<Utc>>,
    /// Tickets created before this time (breaches recorded before then).
    pub to: Option<DateTime<Utc>>,
    /// `week` or `month`: the figures per period of creation too.
    #[param(example = "week", schema_with = schemas::report_interval)]
    pub period: Option<String>,
}

/// The report's query, read.
#[derive(Debug, Clone)]
pub struct ServiceLevelsQuery {
    pub from: Option<DateTime<Utc>>,
    pub to: Option<DateTime<Utc>>,
    pub period: Option<Interval>,
}

impl ServiceLevelsQuery {
    /// # Errors
    /// 400 naming a parameter that takes no such value.
    pub fn read(p: ServiceLevelsParams) -> Result<ServiceLevelsQuery, ApiError> {
        Ok(ServiceLevelsQuery {
            from: p.from,
            to: p.to,
            period: code_param("period", p.period.as_deref(), Interval::parse)?,
        })
    }
}

/// How one target (first response or resolution) was kept.
#[derive(Debug, Serialize, ToSchema)]
pub struct TargetLevel {
    /// Done by the due time, never breached.
    pub met: i64,
    /// Breached, done late, or past due and not done (while the clock runs).
    pub missed: i64,
    /// `met / (met + missed)`, percent, one decimal; `null` when no outcome is known yet.
    pub compliance: Option<f64>,
    /// The tickets done (responded to, or resolved), whatever their target.
    pub done: i64,
    /// From creation to done, in seconds of the clock (business hours and pauses included):
    /// the median (of two middle ones, their mean, rounded half away from zero) …
    pub median_seconds: Option<i64>,
    /// … and the 90th percentile (nearest rank).
    pub p90_seconds: Option<i64>,
}

/// The tickets of one period, or of the whole range.
#[derive(Debug, Serialize, ToSchema)]
pub struct ServiceLevel {
    /// The period's first day (a Monday, or the 1st); `null` for the whole range.
    pub period: Option<NaiveDate>,
    /// Tickets created.
    pub tickets: i64,
    pub first_response: TargetLevel,
    pub resolution: TargetLevel,
}

/// Active tickets of one priority and age.
#[derive(Debug, Serialize, ToSchema)]
pub struct BacklogGroup {
    #[schema(example = "high")]
    pub priority: String,
    /// `under_1d`, `1d_to_3d`, `3d_to_7d` or `over_7d` since creation.
    #[schema(example = "1d_to_3d")]
    pub age: String,
    pub count: i64,
}

/// The breaches recorded in the range of one team's tickets of one category.
#[derive(Debug, Serialize, ToSchema)]
pub struct BreachGroup {
    pub team_id: Option<Uuid>,
    #[schema(example = "complaint")]
    pub category: String,
    pub first_response: i64,
    pub resolution: i64,
}

/// SLA compliance and times, the backlog and the breaches.
#[derive(Debug, Serialize, ToSchema)]
pub struct ServiceLevelsReport {
    /// Every ticket created in the range.
    pub total: ServiceLevel,
    /// Per period with `period`, oldest first; `[]` without.
    pub periods: Vec<ServiceLevel>,
    /// The tickets active now (whenever created), by priority then age.
    pub backlog: Vec<BacklogGroup>,
    /// By team (in id order, without a team last) then category.
    pub breaches: Vec<BreachGroup>,
}

/// One line per figure (`section, key, figure, value`), as the satisfaction report has them.
impl Table for ServiceLevelsReport {
    fn header(&self) -> Vec<&'static str> {
        vec!["section", "key", "figure", "value"]
    }

    fn rows(&self) -> Vec<Vec<String>> {
        let mut rows: Vec<Vec<String>> = Vec::new();
        let mut put = |section: &str, key: String, figure: &str, value: String| {
            rows.push(vec![section.to_owned(), key, figure.to_owned(), value]);
        };
        let levels =
            |put: &mut dyn FnMut(&str, String, &str, String), section: &str, l: &ServiceLevel| {
                let key = cell(l.period);
                put(section, key.clone(), "tickets", l.tickets.to_string());
                for (name, t) in [
                    ("first_response", &l.first_response),
                    ("resolution", &l.resolution),
                ] {
                    let figures = [
                        ("met", t.met.to_string()),
                        ("missed", t.missed.to_string()),
                        ("compliance", cell(t.compliance)),
                        ("done", t.done.to_string()),
                        ("median_seconds", cell(t.median_seconds)),
                        ("p90_seconds", cell(t.p90_seconds)),
                    ];
                    for (figure, value) in figures {
                        put(section, key.clone(), &format!("{name}.{figure}"), value);
                    }
                }
            };
        levels(&mut put, "total", &self.total);
        for p in &self.periods {
            levels(&mut put, "period", p);
        }
        for b in &self.backlog {
            put(
                "backlog",
                format!("{}:{}", b.priority, b.age),
                "count",
                b.count.to_string(),
            );
        }
        for b in &self.breaches {
            let key = format!("{}:{}", cell(b.team_id), b.category);
            put(
                "breaches",
                key.clone(),
                "first_response",
                b.first_response.to_string(),
            );
            put("breaches", key, "resolution", b.resolution.to_string());
        }
        rows
    }
}

fn target_level(met: i64, missed: i64, spread: Option<&Spread>) -> TargetLevel {
    TargetLevel {
        met,
        missed,
        compliance: (met + missed > 0).then(|| ratio(met, (met + missed).unsigned_abs(), 100, 1)),
        done: spread.map_or(0, |s| s.count),
        median_seconds: spread.and_then(|s| s.median),
        p90_seconds: spread.and_then(|s| s.p90),
    }
}

fn level(
    c: &Compliance,
    period: Option<NaiveDate>,
    first: Option<&Spread>,
    resolution: Option<&Spread>,
) -> ServiceLevel {
    ServiceLevel {
        period,
        tickets: c.tickets,
        first_response: target_level(c.first_response_met, c.first_response_missed, first),
        resolution: target_level(c.resolution_met, c.resolution_missed, resolution),
    }
}

/// The tickets the caller sees created in the range: first-response and resolution
/// compliance, and the median and 90th percentile times to each, in all and per week or month;
/// the active tickets by priority and age; the breaches recorded in the range by team and
/// category.
#[utoipa::path(
    tag = "reports",
    params(ServiceLevelsParams),
    responses((status = 200, description = "The report; CSV (`section,key,figure,value`) with `Accept: text/csv`", content(
        (ServiceLevelsReport = "application/json"),
        (String = "text/csv")
    ))),
    security(("oauth2" = ["reports:read"]))
)]
#[get("/reports/service-levels")]
async fn service_levels_report(
    req: HttpRequest,
    state: web::Data<AppState>,
    auth: Authorized<ReportsRead>,
    params: Query<ServiceLevelsParams>,
) -> Result<HttpResponse, ApiError> {
    let query = ServiceLevelsQuery::read(params.into_inner()?)?;
    let report = service_levels(&state, &auth, &query).await?;
    table::respond(&req, &report, "service-levels")
}

/// The service levels of `query` over the tickets `caller` sees.
///
/// # Errors
/// Database failures.
pub async fn service_levels(
    state: &AppState,
    caller: &Caller,
    query: &ServiceLevelsQuery,
) -> Result<ServiceLevelsReport, ApiError> {
    let scope = ServiceScope {
        view: caller.ticket_view(),
        visibility: caller.visibility(),
        from: query.from,
        to: query.to,
        period: query.period,
    };
    let now = state.clock.now();
    let db = state.list_reads(caller);
    let counts = service_levels::compliance(db, &scope, now).await?;
    let mut spreads: HashMap<(SlaTarget, bool), HashMap<Option<String>, Spread>> = HashMap::new();
    for target in [SlaTarget::FirstResponse, SlaTarget::Resolution] {
        for per_period in [false, true] {
            if per_period && scope.period.is_none() {
                continue;
            }
            let read = service_levels::times(db, &scope, target, per_period).await?;
            spreads.insert((target, per_period), read.into_iter().collect());
        }
    }
    let spread = |target, period: &Option<String>| {
        spreads
            .get(&(target, period.is_some()))
            .and_then(|by| by.get(period))
    };
    let total = counts
        .iter()
        .fold(Compliance::default(), |a, c| Compliance {
            period: None,
            tickets: a.tickets + c.tickets,
            first_response_met: a.first_response_met + c.first_response_met,
            first_response_missed: a.first_response_missed + c.first_response_missed,
            resolution_met: a.resolution_met + c.resolution_met,
            resolution_missed: a.resolution_missed + c.resolution_missed,
        });
    let periods = match scope.period {
        None => Vec::new(),
        Some(_) => counts
            .iter()
            .map(|c| {
                let day = c
                    .period
                    .as_deref()
                    .map(|d| d.parse::<NaiveDate>())
                    .transpose()
                    .map_err(|e| ApiError::internal("a period is not a date", e))?;
                Ok(level(
                    c,
                    day,
                    spread(SlaTarget::FirstResponse, &c.period),
                    spread(SlaTarget::Resolution, &c.period),
                ))
            })
            .collect::<Result<Vec<_>, ApiError>>()?,
    };
    let backlog = service_levels::backlog(db, &scope, now)
        .await?
        .into_iter()
        .map(|b| BacklogGroup {
            priority: b.priority.as_str().to_owned(),
            age: b.age.as_str().to_owned(),
            count: b.count,
        })
        .collect();
    let breaches = service_levels::breaches(db, &scope)
        .await?
        .into_iter()
        .map(|b| BreachGroup {
            team_id: b.team_id,
            category: b.category.as_str().to_owned(),
            first_response: b.first_response,
            resolution: b.resolution,
        })
        .collect();
    Ok(ServiceLevelsReport {
        total: level(
            &total,
            None,
            spread(SlaTarget::FirstResponse, &None),
            spread(SlaTarget::Resolution, &None),
        ),
        periods,
        backlog,
        breaches,
    })
}

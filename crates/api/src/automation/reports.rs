//! The reports an `email_report` action sends. Its saved `parameters` are read as the report's
//! query string is (`GET /v1/reports/<name>?…`: the same parameters, the same parsers), when
//! the rule is saved and again when its job runs; the report is then run by the report's own
//! function and written as the CSV that `Accept: text/csv` answers, so the attachment holds
//! the API's figures exactly.

use chrono::{DateTime, SecondsFormat, Utc};
use rapport_domain::automation::action::ReportPeriod;
use rapport_domain::validation::{Errors, FieldError, path};
use rapport_domain::{Invalid, ValidationErrors};
use rapport_store::Conn;
use rapport_store::repos::{Lock, pipelines, surveys};
use serde::de::DeserializeOwned;
use serde_json::{Map, Value};
use utoipa::IntoParams;
use utoipa::openapi::path::ParameterIn;

use crate::auth::Caller;
use crate::error::ApiError;
use crate::extract::parse_query;
use crate::references;
use crate::routes::campaigns::report::{self as campaigns, CampaignReportParams};
use crate::routes::reports::{self, DistributionParams, LeadResponseParams};
use crate::routes::reports::{PipelineReportParams, SalesPerformanceParams};
use crate::routes::service_levels::{self, ServiceLevelsParams};
use crate::routes::survey_results::{self, SatisfactionParams};
use crate::state::AppState;
use crate::table;

/// The reports an `email_report` action can send: the paths under `/v1/reports/`.
pub const REPORTS: &[&str] = &[
    "pipeline",
    "customer-distribution",
    "lead-response",
    "sales-performance",
    "service-levels",
    "satisfaction",
    "campaigns",
];

/// A report of [`REPORTS`] with its query, read.
#[derive(Debug, Clone)]
pub enum ReportQuery {
    Pipeline(reports::PipelineQuery),
    CustomerDistribution(reports::DistributionQuery),
    LeadResponse(reports::LeadResponseQuery),
    SalesPerformance(reports::SalesPerformanceQuery),
    ServiceLevels(service_levels::ServiceLevelsQuery),
    Satisfaction(survey_results::SatisfactionQuery),
    Campaigns(campaigns::CampaignReportQuery),
}

impl ReportQuery {
    /// Reads `parameters` as the query of report `name`, each refusal at `report` or
    /// `parameters.<name>`: a parameter the report does not take is `unknown_field`, a value
    /// it refuses has the code the report answers (`invalid_choice`, `invalid_type`, …).
    ///
    /// # Errors
    /// The refusals.
    pub fn read(
        name: &str,
        parameters: &Map<String, Value>,
    ) -> Result<ReportQuery, ValidationErrors> {
        use ReportQuery as Q;
        match name {
            "pipeline" => {
                query_of::<PipelineReportParams, _>(parameters, reports::PipelineQuery::read)
                    .map(Q::Pipeline)
            }
            "customer-distribution" => {
                query_of::<DistributionParams, _>(parameters, reports::DistributionQuery::read)
                    .map(Q::CustomerDistribution)
            }
            "lead-response" => {
                query_of::<LeadResponseParams, _>(parameters, reports::LeadResponseQuery::read)
                    .map(Q::LeadResponse)
            }
            "sales-performance" => query_of::<SalesPerformanceParams, _>(
                parameters,
                reports::SalesPerformanceQuery::read,
            )
            .map(Q::SalesPerformance),
            "service-levels" => query_of::<ServiceLevelsParams, _>(
                parameters,
                service_levels::ServiceLevelsQuery::read,
            )
            .map(Q::ServiceLevels),
            "satisfaction" => query_of::<SatisfactionParams, _>(
                parameters,
                survey_results::SatisfactionQuery::read,
            )
            .map(Q::Satisfaction),
            "campaigns" => query_of::<CampaignReportParams, _>(
                parameters,
                campaigns::CampaignReportQuery::read,
            )
            .map(Q::Campaigns),
            _ => Err(ValidationErrors::single(
                "report",
                Invalid::NotOneOf { allowed: REPORTS },
            )),
        }
    }

    /// Reads the query an `email_report` action sends at `now`: its `parameters`, with `from`
    /// and `to` set by its `period`. A report that takes no time range refuses a period, at
    /// `period`.
    ///
    /// # Errors
    /// The refusals, as [`ReportQuery::read`]'s.
    pub fn of_action(
        report: &str,
        parameters: &Map<String, Value>,
        period: Option<ReportPeriod>,
        now: DateTime<Utc>,
    ) -> Result<ReportQuery, ValidationErrors> {
        let Some(period) = period else {
            return ReportQuery::read(report, parameters);
        };
        let mut parameters = parameters.clone();
        let (from, to) = period.range(now);
        for (key, at) in [("from", from), ("to", to)] {
            let at = at.to_rfc3339_opts(SecondsFormat::Secs, true);
            parameters.insert(key.to_owned(), Value::String(at));
        }
        let refused = match ReportQuery::read(report, &parameters) {
            Ok(query) => return Ok(query),
            Err(refused) => refused,
        };
        let mut errors = Errors::default();
        let mut period_refused = false;
        for FieldError { field, invalid } in refused.into_errors() {
            if field == "parameters.from" || field == "parameters.to" {
                if !period_refused {
                    errors.add("period", Invalid::NotAllowed);
                    period_refused = true;
                }
            } else {
                errors.add(field, invalid);
            }
        }
        Err(errors
            .finish()
            .err()
            .unwrap_or(ValidationErrors::single("period", Invalid::NotAllowed)))
    }

    /// Checks that the records the query names (a pipeline, a survey) exist, as the report
    /// does (it answers 404 otherwise): `unknown_reference` at `<at>.parameters.<name>`.
    ///
    /// # Errors
    /// Database failures.
    pub async fn check_references(
        &self,
        db: &impl Conn,
        at: &str,
        errors: &mut Errors,
    ) -> Result<(), ApiError> {
        let parameters = path(at, "parameters");
        match self {
            ReportQuery::Pipeline(q) => {
                if let Some(id) = q.pipeline_id {
                    let field = path(&parameters, "pipeline_id");
                    references::known(&field, pipelines::fetch(db, id, Lock::No).await, errors)?;
                }
            }
            ReportQuery::Satisfaction(q) => {
                if let Some(id) = q.survey_id {
                    let field = path(&parameters, "survey_id");
                    references::known(&field, surveys::get(db, id).await, errors)?;
                }
            }
            _ => {}
        }
        Ok(())
    }

    /// The report as `caller` sees it, as the CSV `GET /v1/reports/<name>` answers with
    /// `Accept: text/csv`.
    ///
    /// # Errors
    /// What the report answers (404 for a pipeline or survey gone since); database failures.
    pub async fn csv(&self, state: &AppState, caller: &Caller) -> Result<Vec<u8>, ApiError> {
        match self {
            ReportQuery::Pipeline(q) => table::csv(&reports::pipeline(state, caller, q).await?),
            ReportQuery::CustomerDistribution(q) => {
                table::csv(&reports::customer_distribution(state, caller, q).await?)
            }
            ReportQuery::LeadResponse(q) => {
                table::csv(&reports::lead_response(state, caller, q).await?)
            }
            ReportQuery::SalesPerformance(q) => {
                table::csv(&reports::sales_performance(state, caller, q).await?)
            }
            ReportQuery::ServiceLevels(q) => {
                table::csv(&service_levels::service_levels(state, caller, q).await?)
            }
            ReportQuery::Satisfaction(q) => {
                table::csv(&survey_results::satisfaction(state, caller, q).await?)
            }
            ReportQuery::Campaigns(q) => table::csv(&campaigns::campaigns(state, caller, q).await?),
        }
    }
}

/// Reads `parameters` as the query string of a report whose parameters are `P` and whose
/// query `read` makes of them.
fn query_of<P, Q>(
    parameters: &Map<String, Value>,
    read: impl FnOnce(P) -> Result<Q, ApiError>,
) -> Result<Q, ValidationErrors>
where
    P: DeserializeOwned + IntoParams,
{
    // The names the report documents: the query string's own.
    let known: Vec<String> = P::into_params(|| Some(ParameterIn::Query))
        .into_iter()
        .map(|p| p.name)
        .collect();
    let mut errors = Errors::default();
    let mut query = form_urlencoded::Serializer::new(String::new());
    for (name, value) in parameters {
        let at = path("parameters", name);
        if !known.contains(name) {
            errors.add(at, Invalid::UnknownField);
            continue;
        }
        match value {
            Value::String(s) => query.append_pair(name, s),
            Value::Number(n) => query.append_pair(name, &n.to_string()),
            Value::Bool(b) => query.append_pair(name, if *b { "true" } else { "false" }),
            _ => {
                errors.add(at, Invalid::InvalidType);
                continue;
            }
        };
    }
    errors.finish()?;
    parse_query::<P>(&query.finish())
        .and_then(read)
        .map_err(|e| match e {
            ApiError::BadParameters(refused) => {
                let mut errors = Errors::default();
                for e in refused.into_errors() {
                    errors.add(path("parameters", &e.field), e.invalid);
                }
                errors
                    .finish()
                    .err()
                    .unwrap_or(ValidationErrors::single("parameters", Invalid::InvalidType))
            }
            // A report's query refuses its parameters only (400); anything else is no value
            // a saved rule can hold either.
            _ => ValidationErrors::single("parameters", Invalid::InvalidType),
        })
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn fields(report: &str, parameters: Value) -> Vec<(String, &'static str)> {
        let parameters = parameters.as_object().cloned().unwrap_or_default();
        match ReportQuery::read(report, &parameters) {
            Ok(_) => Vec::new(),
            Err(e) => e
                .into_errors()
                .into_iter()
                .map(|e| (e.field, e.invalid.code()))
                .collect(),
        }
    }

    #[test]
    fn a_period_sets_the_range_of_reports_that_take_one() {
        let now = "2027-03-01T08:00:00Z".parse().unwrap();
        let monthly = Some(ReportPeriod::PreviousMonth);
        let Ok(ReportQuery::SalesPerformance(q)) =
            ReportQuery::of_action("sales-performance", &Map::new(), monthly, now)
        else {
            panic!("sales-performance takes a period");
        };
        assert_eq!(q.from, Some("2027-02-01T00:00:00Z".parse().unwrap()));
        assert_eq!(q.to, Some("2027-03-01T00:00:00Z".parse().unwrap()));
        let refused = ReportQuery::of_action("pipeline", &Map::new(), monthly, now)
            .unwrap_err()
            .into_errors();
        assert_eq!(refused.len(), 1);
        assert_eq!(
            (refused[0].field.as_str(), refused[0].invalid.code()),
            ("period", "not_allowed")
        );
    }

    #[test]
    fn parameters_are_read_as_the_reports_query() {
        assert!(fields("sales-performance", json!({})).is_empty());
        assert!(
            fields(
                "sales-performance",
                json!({"group_by": "team", "from": "2026-01-01T00:00:00Z"})
            )
            .is_empty()
        );
        assert!(fields("campaigns", json!({"type": "email", "group_by": "type"})).is_empty());
        assert!(fields("customer-distribution", json!({"by": "industry,grade"})).is_empty());
        assert!(fields("pipeline", json!({"by": "owner", "status": "open"})).is_empty());
        assert!(fields("service-levels", json!({"period": "week"})).is_empty());
        assert!(
            fields(
                "satisfaction",
                json!({"interval": "week", "group_by": "team"})
            )
            .is_empty()
        );
        assert!(fields("lead-response", json!({"group_by": "owner"})).is_empty());
    }

    #[test]
    fn refusals_name_the_parameter_with_the_reports_code() {
        assert_eq!(
            fields("sales-performance", json!({"period": "month"})),
            [("parameters.period".to_owned(), "unknown_field")]
        );
        assert_eq!(
            fields("sales-performance", json!({"group_by": "stage"})),
            [("parameters.group_by".to_owned(), "invalid_choice")]
        );
        assert_eq!(
            fields("sales-performance", json!({"from": "yesterday"})),
            [("parameters.from".to_owned(), "invalid_type")]
        );
        assert_eq!(
            fields("sales-performance", json!({"from": ["2026-01-01"]})),
            [("parameters.from".to_owned(), "invalid_type")]
        );
        // Its distribution needs `by`, as the report does.
        assert_eq!(
            fields("customer-distribution", json!({})),
            [("parameters.by".to_owned(), "required")]
        );
        assert_eq!(
            fields("pipeline", json!({"pipeline_id": 7})),
            [("parameters.pipeline_id".to_owned(), "invalid_type")]
        );
        assert_eq!(
            fields("churn", json!({})),
            [("report".to_owned(), "invalid_choice")]
        );
    }
}

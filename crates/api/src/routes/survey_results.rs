//! Satisfaction results: response rate, CSAT, NPS, averages per dimension, distributions per
//! question, a trend per week or month, and breakdowns; for one survey
//! (`GET /v1/surveys/{id}/results`, `surveys:read`) or for all
//! (`GET /v1/reports/satisfaction`, `reports:read`). Both count only customers the caller
//! sees. The answers are counted in the database (per slice, question and value), so a report
//! reads a few rows per question whatever the number of answers.

use std::collections::{BTreeMap, HashMap};

use actix_web::{HttpRequest, HttpResponse, get, web};
use chrono::{DateTime, NaiveDate, Utc};
use rapport_domain::access::Visibility;
use rapport_domain::report::Interval;
use rapport_domain::report::ratio;
use rapport_domain::survey::{QuestionTally, ResultGroup, Survey, Tally};
use rapport_store::Conn;
use rapport_store::repos::satisfaction::{self, Slicing};
use rapport_store::repos::survey_invitations::{self, ResultScope};
use rapport_store::repos::surveys;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_actix_web::service_config::ServiceConfig;
use uuid::Uuid;

use crate::auth::scopes::{ReportsRead, SurveysRead};
use crate::auth::{Authorized, Caller};
use crate::error::ApiError;
use crate::extract::{Query, code_param};
use crate::schemas;
use crate::state::AppState;
use crate::table::{self, Table, cell};

pub fn configure(cfg: &mut ServiceConfig) {
    cfg.service(survey_results).service(satisfaction_report);
}

/// Which answers count and how they are grouped.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ResultParams {
    /// Answers from this time on (invitations sent from it, for the response rate).
    pub from: Option<DateTime<Utc>>,
    /// Answers before this time.
    pub to: Option<DateTime<Utc>>,
    /// The periods of `trend`: `week` (from Monday) or `month` (the default), UTC.
    #[param(schema_with = schemas::report_interval)]
    pub interval: Option<String>,
    /// Break the results down by `agent` (the ticket's assignee, else the opportunity's or
    /// the customer's owner, when invited), `team`, `channel` or `category` (the ticket's), or
    /// `grade` (the customer's when invited).
    #[param(schema_with = schemas::satisfaction_grouping)]
    pub group_by: Option<String>,
}

/// Satisfaction across surveys.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct SatisfactionParams {
    /// One survey only.
    pub survey_id: Option<Uuid>,
    /// As in a survey's results.
    pub from: Option<DateTime<Utc>>,
    pub to: Option<DateTime<Utc>>,
    /// `week` or `month` (the default).
    #[param(schema_with = schemas::report_interval)]
    pub interval: Option<String>,
    /// `agent`, `team`, `channel`, `category` or `grade`.
    #[param(schema_with = schemas::satisfaction_grouping)]
    pub group_by: Option<String>,
}

/// The range and grouping of results, read.
#[derive(Debug, Clone)]
pub struct ResultQuery {
    pub from: Option<DateTime<Utc>>,
    pub to: Option<DateTime<Utc>>,
    pub interval: Interval,
    pub group: Option<ResultGroup>,
}

impl ResultQuery {
    /// # Errors
    /// 400 naming a parameter that takes no such value.
    pub fn read(p: ResultParams) -> Result<ResultQuery, ApiError> {
        Ok(ResultQuery {
            from: p.from,
            to: p.to,
            interval: code_param("interval", p.interval.as_deref(), Interval::parse)?
                .unwrap_or(Interval::Month),
            group: code_param("group_by", p.group_by.as_deref(), ResultGroup::parse)?,
        })
    }
}

/// The satisfaction report's query, read.
#[derive(Debug, Clone)]
pub struct SatisfactionQuery {
    pub survey_id: Option<Uuid>,
    pub range: ResultQuery,
}

impl SatisfactionQuery {
    /// # Errors
    /// 400 naming a parameter that takes no such value.
    pub fn read(p: SatisfactionParams) -> Result<SatisfactionQuery, ApiError> {
        Ok(SatisfactionQuery {
            survey_id: p.survey_id,
            range: ResultQuery::read(ResultParams {
                from: p.from,
                to: p.to,
                interval: p.interval,
                group_by: p.group_by,
            })?,
        })
    }
}

/// CSAT: the share of csat answers of 4 or 5.
#[derive(Debug, Serialize, ToSchema)]
pub struct CsatScore {
    pub responses: u64,
    pub satisfied: u64,
    /// Percent, one decimal.
    #[schema(example = 66.7)]
    pub score: f64,
}

/// NPS: promoters (9–10) minus detractors (0–6), in percent of the nps answers.
#[derive(Debug, Serialize, ToSchema)]
pub struct NpsScore {
    pub responses: u64,
    pub promoters: u64,
    pub passives: u64,
    pub detractors: u64,
    /// −100 to 100, one decimal.
    #[schema(example = 12.5)]
    pub score: f64,
}

/// The numeric answers of one dimension.
#[derive(Debug, Serialize, ToSchema)]
pub struct DimensionScore {
    #[schema(example = "response_speed")]
    pub dimension: String,
    pub responses: u64,
    /// The mean of its answers, each scaled to 0–100 (`(value − min) / (max − min) × 100`),
    /// one decimal.
    pub average: f64,
}

/// How often one value was answered.
#[derive(Debug, Serialize, ToSchema)]
pub struct ValueCount {
    /// A value of the scale, or an option's code.
    pub value: String,
    pub count: u64,
}

/// The answers of one question.
#[derive(Debug, Serialize, ToSchema)]
pub struct QuestionResult {
    pub question_id: String,
    #[schema(schema_with = schemas::question_kind)]
    pub kind: String,
    pub responses: u64,
    /// On the question's own scale, two decimals; `null` for choices and text.
    pub average: Option<f64>,
    /// Every value of the scale or every option, ascending, zeros kept; `[]` for text.
    pub distribution: Vec<ValueCount>,
}

/// The answers of one period or group.
#[derive(Debug, Serialize, ToSchema)]
pub struct Slice {
    pub answered: u64,
    /// CSAT percent, or `null` without csat answers.
    pub csat: Option<f64>,
    /// NPS, or `null` without nps answers.
    pub nps: Option<f64>,
}

/// The answers of one period.
#[derive(Debug, Serialize, ToSchema)]
pub struct TrendPoint {
    /// The period's first day (UTC).
    pub period: NaiveDate,
    #[serde(flatten)]
    pub slice: Slice,
}

/// The answers of one group.
#[derive(Debug, Serialize, ToSchema)]
pub struct GroupResult {
    /// The user, team, channel, category or grade; `null` for answers without one.
    pub key: Option<String>,
    #[serde(flatten)]
    pub slice: Slice,
}

/// Satisfaction results.
#[derive(Debug, Serialize, ToSchema)]
pub struct SatisfactionResults {
    /// The survey, or `null` across surveys.
    pub survey_id: Option<Uuid>,
    /// Invitations sent in the range.
    pub invited: u64,
    /// How many of those are answered (by now).
    pub invited_answered: u64,
    /// Invitations answered in the range (what the scores count).
    pub answered: u64,
    /// `invited_answered / invited`, percent, one decimal; `null` when none was sent.
    pub response_rate: Option<f64>,
    pub csat: Option<CsatScore>,
    pub nps: Option<NpsScore>,
    /// Sorted by dimension.
    pub dimensions: Vec<DimensionScore>,
    /// Per question, in the survey's order (`[]` in the report).
    pub questions: Vec<QuestionResult>,
    /// The periods with answers, oldest first.
    pub trend: Vec<TrendPoint>,
    /// Per group, when `group_by` is given; by `answered`, most first.
    pub breakdown: Vec<GroupResult>,
}

/// One line per figure (`section, key, figure, value`): every number of the JSON answer, the
/// totals, CSAT and NPS with their counts, each dimension, question and value, each period of
/// the trend and each group.
impl Table for SatisfactionResults {
    fn header(&self) -> Vec<&'static str> {
        vec!["section", "key", "figure", "value"]
    }

    fn rows(&self) -> Vec<Vec<String>> {
        let mut rows: Vec<Vec<String>> = Vec::new();
        let mut put = |section: &str, key: &str, figure: &str, value: String| {
            rows.push(vec![
                section.to_owned(),
                key.to_owned(),
                figure.to_owned(),
                value,
            ]);
        };
        put("total", "", "invited", self.invited.to_string());
        put(
            "total",
            "",
            "invited_answered",
            self.invited_answered.to_string(),
        );
        put("total", "", "answered", self.answered.to_string());
        put("total", "", "response_rate", cell(self.response_rate));
        if let Some(c) = &self.csat {
            put("total", "", "csat", c.score.to_string());
            put("total", "", "csat_responses", c.responses.to_string());
            put("total", "", "csat_satisfied", c.satisfied.to_string());
        }
        if let Some(n) = &self.nps {
            put("total", "", "nps", n.score.to_string());
            put("total", "", "nps_responses", n.responses.to_string());
            put("total", "", "nps_promoters", n.promoters.to_string());
            put("total", "", "nps_passives", n.passives.to_string());
            put("total", "", "nps_detractors", n.detractors.to_string());
        }
        for d in &self.dimensions {
            put(
                "dimension",
                &d.dimension,
                "responses",
                d.responses.to_string(),
            );
            put("dimension", &d.dimension, "average", d.average.to_string());
        }
        for q in &self.questions {
            put(
                "question",
                &q.question_id,
                "responses",
                q.responses.to_string(),
            );
            put("question", &q.question_id, "average", cell(q.average));
            for v in &q.distribution {
                put(
                    "question",
                    &q.question_id,
                    &format!("count:{}", v.value),
                    v.count.to_string(),
                );
            }
        }
        let mut slices = |section: &str, key: &str, s: &Slice| {
            put(section, key, "answered", s.answered.to_string());
            put(section, key, "csat", cell(s.csat));
            put(section, key, "nps", cell(s.nps));
        };
        for t in &self.trend {
            slices("trend", &t.period.to_string(), &t.slice);
        }
        for g in &self.breakdown {
            slices("breakdown", &cell(g.key.as_ref()), &g.slice);
        }
        rows
    }
}

fn slice(t: &Tally) -> Slice {
    Slice {
        answered: t.answered,
        csat: t.csat.score(),
        nps: t.nps.score(),
    }
}

/// The tallies of one slicing: per slice, the answered invitations and their answers' scores.
async fn tallies(
    db: &impl Conn,
    scope: &ResultScope,
    slicing: Slicing,
    surveys: &HashMap<Uuid, Survey>,
) -> Result<BTreeMap<Option<String>, Tally>, ApiError> {
    let mut out: BTreeMap<Option<String>, Tally> = BTreeMap::new();
    for (slice, n) in satisfaction::answered_counts(db, scope, slicing).await? {
        out.entry(slice).or_default().answered = n;
    }
    for c in satisfaction::answer_counts(db, scope, slicing).await? {
        if let Some(survey) = surveys.get(&c.survey_id) {
            out.entry(c.slice)
                .or_default()
                .count(survey, &c.question_id, &c.value, c.count);
        }
    }
    Ok(out)
}

/// Counts the answers of `survey` (or of every survey) in range, in the database, and
/// summarizes them.
async fn results(
    db: &impl Conn,
    visibility: Visibility,
    survey: Option<Survey>,
    p: &ResultQuery,
) -> Result<SatisfactionResults, ApiError> {
    let (interval, group) = (p.interval, p.group);
    let scope = ResultScope {
        survey_id: survey.as_ref().map(|s| s.id),
        visibility,
        from: p.from,
        to: p.to,
    };
    let invited = survey_invitations::invited(db, &scope).await?;
    // Every answer in range falls in one period: the total and the questions' distributions
    // are the sums of the trend's counts, not queries of their own.
    let counts = satisfaction::answer_counts(db, &scope, Slicing::Period(interval)).await?;
    let surveys = surveys::get_many(db, counts.iter().map(|c| c.survey_id)).await?;
    let mut total = Tally::default();
    let mut trend: BTreeMap<Option<String>, Tally> = BTreeMap::new();
    for (period, n) in satisfaction::answered_counts(db, &scope, Slicing::Period(interval)).await? {
        total.answered += n;
        trend.entry(period).or_default().answered = n;
    }
    let mut questions: Vec<QuestionTally> = survey
        .as_ref()
        .map(|s| s.questions.iter().map(QuestionTally::new).collect())
        .unwrap_or_default();
    for c in &counts {
        let Some(s) = surveys.get(&c.survey_id) else {
            continue;
        };
        total.count(s, &c.question_id, &c.value, c.count);
        trend
            .entry(c.slice.clone())
            .or_default()
            .count(s, &c.question_id, &c.value, c.count);
        if let Some(only) = &survey {
            for (q, tally) in only.questions.iter().zip(&mut questions) {
                if q.id == c.question_id {
                    tally.add(&c.value, c.count);
                }
            }
        }
    }
    let groups = match group {
        Some(g) => tallies(db, &scope, Slicing::Group(g), &surveys).await?,
        None => BTreeMap::new(),
    };
    let mut breakdown: Vec<GroupResult> = groups
        .iter()
        .map(|(key, t)| GroupResult {
            key: key.clone(),
            slice: slice(t),
        })
        .collect();
    breakdown.sort_by_key(|g| std::cmp::Reverse(g.slice.answered));
    Ok(SatisfactionResults {
        survey_id: survey.as_ref().map(|s| s.id),
        invited: invited.0,
        invited_answered: invited.1,
        answered: total.answered,
        response_rate: (invited.0 > 0).then(|| ratio(invited.1 as i64, invited.0, 100, 1)),
        csat: total.csat.score().map(|score| CsatScore {
            responses: total.csat.responses,
            satisfied: total.csat.satisfied,
            score,
        }),
        nps: total.nps.score().map(|score| NpsScore {
            responses: total.nps.responses,
            promoters: total.nps.promoters,
            passives: total.nps.passives,
            detractors: total.nps.detractors,
            score,
        }),
        dimensions: total
            .dimension_averages()
            .into_iter()
            .map(|(d, responses, average)| DimensionScore {
                dimension: d.to_string(),
                responses,
                average,
            })
            .collect(),
        questions: survey
            .as_ref()
            .map(|s| {
                s.questions
                    .iter()
                    .zip(&questions)
                    .map(|(q, t)| QuestionResult {
                        question_id: q.id.to_string(),
                        kind: q.kind.as_str().to_owned(),
                        responses: t.responses,
                        average: t.average(q),
                        distribution: t
                            .distribution
                            .iter()
                            .map(|(value, count)| ValueCount {
                                value: value.clone(),
                                count: *count,
                            })
                            .collect(),
                    })
                    .collect()
            })
            .unwrap_or_default(),
        trend: trend
            .iter()
            .filter_map(|(period, t)| {
                let period = NaiveDate::parse_from_str(period.as_deref()?, "%Y-%m-%d").ok()?;
                Some(TrendPoint {
                    period,
                    slice: slice(t),
                })
            })
            .collect(),
        breakdown,
    })
}

/// A survey's results, over the customers the caller sees.
#[utoipa::path(
    tag = "surveys",
    params(("id" = Uuid, Path), ResultParams),
    responses((status = 200, description = "The results; CSV (`section,key,figure,value`, one line per figure) with `Accept: text/csv`", content(
        (SatisfactionResults = "application/json"),
        (String = "text/csv")
    ))),
    security(("oauth2" = ["surveys:read"]))
)]
#[get("/surveys/{id}/results")]
async fn survey_results(
    req: HttpRequest,
    state: web::Data<AppState>,
    auth: Authorized<SurveysRead>,
    id: web::Path<Uuid>,
    params: Query<ResultParams>,
) -> Result<HttpResponse, ApiError> {
    let p = params.into_inner()?;
    let db = state.list_reads(&auth);
    let survey = surveys::get(db, id.into_inner()).await?;
    let results = results(db, auth.visibility(), Some(survey), &ResultQuery::read(p)?).await?;
    table::respond(&req, &results, "survey-results")
}

/// Satisfaction across surveys (or of one, `survey_id`), over the customers the caller sees.
#[utoipa::path(
    tag = "reports",
    params(SatisfactionParams),
    responses((status = 200, description = "The results; CSV (`section,key,figure,value`, one line per figure) with `Accept: text/csv`", content(
        (SatisfactionResults = "application/json"),
        (String = "text/csv")
    )), (status = 404, description = "No such survey", body = crate::error::Problem, content_type = "application/problem+json")),
    security(("oauth2" = ["reports:read"]))
)]
#[get("/reports/satisfaction")]
async fn satisfaction_report(
    req: HttpRequest,
    state: web::Data<AppState>,
    auth: Authorized<ReportsRead>,
    params: Query<SatisfactionParams>,
) -> Result<HttpResponse, ApiError> {
    let query = SatisfactionQuery::read(params.into_inner()?)?;
    let report = satisfaction(&state, &auth, &query).await?;
    table::respond(&req, &report, "satisfaction")
}

/// Satisfaction across surveys (or of `query.survey_id`) over the customers `caller` sees.
///
/// # Errors
/// 404 for no such survey; database failures.
pub async fn satisfaction(
    state: &AppState,
    caller: &Caller,
    query: &SatisfactionQuery,
) -> Result<SatisfactionResults, ApiError> {
    let db = state.list_reads(caller);
    let survey = match query.survey_id {
        Some(id) => Some(surveys::get(db, id).await?),
        None => None,
    };
    let mut out = results(db, caller.visibility(), survey, &query.range).await?;
    // The report compares surveys: per question, see a survey's own results.
    out.questions.clear();
    Ok(out)
}

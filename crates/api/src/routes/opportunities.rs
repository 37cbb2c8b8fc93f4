//! Opportunities: possible sales moving through a pipeline. They follow their customer's
//! visibility (a sales rep sees those of its customers; 404 otherwise).

use actix_web::{HttpRequest, HttpResponse, get, patch, post, web};
use chrono::{DateTime, NaiveDate, Utc};
use rapport_domain::Invalid;
use rapport_domain::currency::CurrencyCode;
use rapport_domain::customer::Customer;
use rapport_domain::enums::Source;
use rapport_domain::money::Money;
use rapport_domain::name::Title;
use rapport_domain::opportunity::{
    Loss, LostReason, MoveRefusal, Opportunity as DomainOpportunity, OpportunityStatus, SalesNote,
    StageMove as DomainMove, may_reopen,
};
use rapport_domain::pipeline::{Pipeline, Probability, StageKind};
use rapport_domain::survey::SurveyEvent;
use rapport_domain::tag::parse_tags;
use rapport_domain::validation::{Errors, parse_date};
use rapport_store::repos::opportunities::{self, OpportunityFilter, OpportunitySort};
use rapport_store::repos::{self, Lock, pipelines};
use rapport_store::{SortDir, Tx};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_actix_web::service_config::ServiceConfig;
use uuid::Uuid;

use crate::audit;
use crate::auth::scopes::{OpportunitiesRead, OpportunitiesWrite};
use crate::auth::{Authorized, Caller};
use crate::batch::{self, BatchBody, BatchResult, Written};
use crate::error::ApiError;
use crate::extract::{IfMatch, IfMatchParam, Json, Query, code_param, user_param};
use crate::feed;
use crate::i18n::{Lang, Text};
use crate::invitations;
use crate::money::MoneyBody;
use crate::pagination::{Paged, page_params};
use crate::patch::Patch;
use crate::respond;
use crate::routes::customers::{access, record_stage};
use crate::schemas;
use crate::state::AppState;

pub fn configure(cfg: &mut ServiceConfig) {
    // `/opportunities/batch` before `/opportunities/{id}`, which would take it for an id.
    cfg.service(list_opportunities)
        .service(create_opportunity)
        .service(batch_opportunities)
        .service(get_opportunity)
        .service(update_opportunity)
        .service(move_opportunity)
        .service(opportunity_history);
}

/// A possible sale.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Opportunity {
    pub id: Uuid,
    pub customer_id: Uuid,
    /// The primary contact, one of the customer's.
    pub contact_id: Option<Uuid>,
    #[schema(example = "Printers for the Shenzhen office")]
    pub title: String,
    #[schema(schema_with = schemas::source_or_null)]
    pub source: Option<String>,
    pub campaign_id: Option<Uuid>,
    pub amount: Option<MoneyBody>,
    pub expected_close_date: Option<NaiveDate>,
    pub pipeline_id: Uuid,
    pub stage_id: Uuid,
    #[schema(schema_with = schemas::opportunity_status)]
    pub status: String,
    /// 0–100: the stage's, unless set by hand (`probability_overridden`); 100 when won, 0
    /// when lost.
    pub probability: u8,
    pub probability_overridden: bool,
    pub owner_id: Option<Uuid>,
    pub team_id: Option<Uuid>,
    pub next_step: Option<String>,
    pub tags: Vec<String>,
    #[schema(schema_with = schemas::lost_reason_or_null)]
    pub lost_reason: Option<String>,
    pub lost_note: Option<String>,
    /// When it was won or lost.
    pub closed_at: Option<DateTime<Utc>>,
    /// When it entered its stage.
    pub stage_entered_at: DateTime<Utc>,
    pub created_by: Option<Uuid>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub version: i32,
}

impl From<DomainOpportunity> for Opportunity {
    fn from(o: DomainOpportunity) -> Self {
        Opportunity {
            id: o.id,
            customer_id: o.customer_id,
            contact_id: o.contact_id,
            title: o.title.into_string(),
            source: o.source.map(|s| s.as_str().to_owned()),
            campaign_id: o.campaign_id,
            amount: o.amount.map(MoneyBody::from),
            expected_close_date: o.expected_close_date,
            pipeline_id: o.pipeline_id,
            stage_id: o.stage_id,
            status: o.status.as_str().to_owned(),
            probability: o.probability.percent(),
            probability_overridden: o.probability_overridden,
            owner_id: o.owner_id,
            team_id: o.team_id,
            next_step: o.next_step.map(|n| n.into_string()),
            tags: o.tags.into_iter().map(|t| t.into_string()).collect(),
            lost_reason: o.lost_reason.map(|r| r.as_str().to_owned()),
            lost_note: o.lost_note.map(|n| n.into_string()),
            closed_at: o.closed_at,
            stage_entered_at: o.stage_entered_at,
            created_by: o.created_by,
            created_at: o.created_at,
            updated_at: o.updated_at,
            version: o.version,
        }
    }
}

crate::list_type!(OpportunityList, Opportunity);

/// A new opportunity.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateOpportunity {
    #[schema(required = true)]
    pub customer_id: Option<Uuid>,
    /// The primary contact, one of the customer's.
    pub contact_id: Option<Uuid>,
    #[schema(required = true, example = "Printers for the Shenzhen office")]
    pub title: Option<String>,
    #[schema(schema_with = schemas::source_or_null)]
    pub source: Option<String>,
    pub campaign_id: Option<Uuid>,
    pub amount: Option<MoneyBody>,
    /// `YYYY-MM-DD`.
    #[schema(value_type = Option<String>, example = "2026-12-31")]
    pub expected_close_date: Option<String>,
    /// Default: the default pipeline.
    pub pipeline_id: Option<Uuid>,
    /// An open stage of the pipeline; default its first open stage. Won and lost are reached
    /// by a stage move.
    pub stage_id: Option<Uuid>,
    /// 0–100, set by hand; default the stage's.
    pub probability: Option<i64>,
    /// Default: the customer's owner, else the caller.
    pub owner_id: Option<Uuid>,
    /// Default: the owner's team.
    pub team_id: Option<Uuid>,
    pub next_step: Option<String>,
    #[serde(default)]
    pub tags: Vec<String>,
}

/// Changes to an opportunity; `null` clears optional fields. A `stage_id` moves it as
/// `POST /v1/opportunities/{id}/stage` does.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateOpportunity {
    #[serde(default)]
    #[schema(value_type = Option<Uuid>, nullable)]
    pub contact_id: Patch<Uuid>,
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    pub title: Patch<String>,
    #[serde(default)]
    #[schema(schema_with = schemas::source_or_null)]
    pub source: Patch<String>,
    #[serde(default)]
    #[schema(value_type = Option<Uuid>, nullable)]
    pub campaign_id: Patch<Uuid>,
    #[serde(default)]
    #[schema(value_type = Option<MoneyBody>, nullable)]
    pub amount: Patch<MoneyBody>,
    #[serde(default)]
    #[schema(value_type = Option<String>, nullable, example = "2026-12-31")]
    pub expected_close_date: Patch<String>,
    #[serde(default)]
    #[schema(value_type = Option<Uuid>)]
    pub stage_id: Patch<Uuid>,
    /// 0–100 sets it by hand; `null` gives it back to the stage.
    #[serde(default)]
    #[schema(value_type = Option<i64>, nullable)]
    pub probability: Patch<i64>,
    #[serde(default)]
    #[schema(value_type = Option<Uuid>, nullable)]
    pub owner_id: Patch<Uuid>,
    #[serde(default)]
    #[schema(value_type = Option<Uuid>, nullable)]
    pub team_id: Patch<Uuid>,
    #[serde(default)]
    #[schema(value_type = Option<String>, nullable)]
    pub next_step: Patch<String>,
    #[serde(default)]
    #[schema(value_type = Option<Vec<String>>, nullable)]
    pub tags: Patch<Vec<String>>,
    /// With a move to a `lost` stage.
    #[serde(default)]
    #[schema(schema_with = schemas::lost_reason_or_null)]
    pub lost_reason: Patch<String>,
    #[serde(default)]
    #[schema(value_type = Option<String>, nullable)]
    pub lost_note: Patch<String>,
}

/// A stage move.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MoveStage {
    /// A stage of the opportunity's pipeline.
    #[schema(required = true)]
    pub stage_id: Option<Uuid>,
    /// Sets the amount with the move (a won deal needs one).
    pub amount: Option<MoneyBody>,
    /// Required for a `lost` stage.
    #[schema(schema_with = schemas::lost_reason_or_null)]
    pub lost_reason: Option<String>,
    pub lost_note: Option<String>,
}

/// One entry of an opportunity's history.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct StageMove {
    pub id: Uuid,
    /// `null` for its creation.
    pub from_stage_id: Option<Uuid>,
    pub to_stage_id: Uuid,
    /// The user or client who moved it.
    pub changed_by: Option<Uuid>,
    pub changed_at: DateTime<Utc>,
    /// Whole seconds it spent in `from_stage_id`.
    pub seconds_in_previous: Option<i64>,
}

impl From<DomainMove> for StageMove {
    fn from(m: DomainMove) -> Self {
        StageMove {
            id: m.id,
            from_stage_id: m.from_stage_id,
            to_stage_id: m.to_stage_id,
            changed_by: m.changed_by,
            changed_at: m.changed_at,
            seconds_in_previous: m.seconds_in_previous,
        }
    }
}

crate::list_type!(StageMoveList, StageMove);

/// Filters and order of the opportunity list.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct OpportunityListParams {
    pub pipeline_id: Option<Uuid>,
    pub stage_id: Option<Uuid>,
    #[param(schema_with = schemas::opportunity_status)]
    pub status: Option<String>,
    /// A user id, or `me`.
    #[param(schema_with = schemas::user_or_me)]
    pub owner_id: Option<String>,
    pub team_id: Option<Uuid>,
    pub customer_id: Option<Uuid>,
    /// ISO 4217; required with `amount_min` or `amount_max`.
    pub currency: Option<String>,
    /// Decimal string, included.
    pub amount_min: Option<String>,
    /// Decimal string, included.
    pub amount_max: Option<String>,
    /// `YYYY-MM-DD`, included.
    pub expected_close_from: Option<String>,
    /// `YYYY-MM-DD`, included.
    pub expected_close_to: Option<String>,
    /// One of [`SORTS`]; described in `schemas` (`OpportunitySort`).
    #[param(schema_with = crate::schemas::opportunity_sort)]
    pub sort: Option<String>,
    /// 1 to 200, default 50.
    pub limit: Option<i64>,
    pub cursor: Option<String>,
    /// The change feed: every opportunity changed at or after this time (a move to another
    /// customer by a merge included), oldest change first, each at its latest version.
    /// Changes show once they are 5 seconds old. Walk the pages with `cursor`; at the end, ask
    /// again with the last `updated_at` you saw (keep the highest `version`). Opportunities
    /// are never deleted; those of a deleted customer leave the list with it (its tombstone is
    /// in the customer feed). Takes the other filters, and no `sort` but `updated_at`.
    #[param(example = "2026-12-01T00:00:00Z")]
    pub updated_since: Option<DateTime<Utc>>,
}

/// The orders of the opportunity list (`schemas::opportunity_sort` in the document).
pub(crate) const SORTS: &[&str] = &[
    "-created_at",
    "created_at",
    "-updated_at",
    "updated_at",
    "amount",
    "-amount",
    "expected_close_date",
    "-expected_close_date",
];

fn sort_of(name: &str) -> Result<OpportunitySort, ApiError> {
    let (dir, field) = match name.strip_prefix('-') {
        Some(f) => (SortDir::Desc, f),
        None => (SortDir::Asc, name),
    };
    Ok(match field {
        "created_at" => OpportunitySort::Created(dir),
        "updated_at" => OpportunitySort::Updated(dir),
        "amount" => OpportunitySort::Amount(dir),
        "expected_close_date" => OpportunitySort::ExpectedClose(dir),
        _ => {
            return Err(ApiError::bad_parameter(
                "sort",
                Invalid::NotOneOf { allowed: SORTS },
            ));
        }
    })
}

/// Paging of a history.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct HistoryParams {
    /// 1 to 200, default 50.
    pub limit: Option<i64>,
    pub cursor: Option<String>,
}

fn refused(refusal: MoveRefusal) -> ApiError {
    match refusal {
        MoveRefusal::Incomplete(errors) => errors.into(),
        MoveRefusal::ReopenNeedsManager => ApiError::forbidden(Text::new(
            "Only a sales manager or an admin reopens a won or lost opportunity.",
            "只有销售经理或管理员可以重新打开已赢单或已输单的商机。",
        )),
    }
}

/// Where a stage move goes: a stage of the opportunity's pipeline, and why a lost deal was
/// lost.
pub(crate) struct Target<'a> {
    pub pipeline: &'a Pipeline,
    pub stage_id: Uuid,
    pub loss: Loss,
}

/// Saves a changed opportunity with its audit event, in the caller's transaction; answers it
/// as saved.
pub(crate) async fn save_audited(
    tx: &Tx,
    state: &AppState,
    caller: &Caller,
    before: &DomainOpportunity,
    after: &DomainOpportunity,
    now: DateTime<Utc>,
) -> Result<Opportunity, ApiError> {
    let saved = Opportunity::from(repos::save(tx, after, now).await?);
    audit::record(
        tx,
        state,
        &caller.origin,
        audit::Subject::of_customer("opportunity", saved.id, Some(saved.customer_id)),
        "update",
        audit::changes(Some(&Opportunity::from(before.clone())), Some(&saved)),
    )
    .await?;
    Ok(saved)
}

/// Moves `o` into its target stage, records the move, and, when it is won, moves its customer
/// along the lifecycle. The caller saves `o` afterwards.
pub(crate) async fn apply_move(
    tx: &Tx,
    state: &AppState,
    caller: &Caller,
    o: &mut DomainOpportunity,
    Target {
        pipeline,
        stage_id,
        loss,
    }: Target<'_>,
    now: DateTime<Utc>,
) -> Result<(), ApiError> {
    let Some(stage) = pipeline.stage(stage_id) else {
        return Err(ApiError::invalid("stage_id", Invalid::UnknownReference));
    };
    if stage.id == o.stage_id {
        return Ok(());
    }
    let m = o
        .move_to(
            stage,
            loss,
            may_reopen(caller.role()),
            caller.actor().id(),
            now,
        )
        .map_err(refused)?;
    opportunities::record_move(tx, &m).await?;
    if stage.kind == StageKind::Won {
        advance_customer(tx, state, caller, o, now).await?;
        invitations::on_event(tx, SurveyEvent::OpportunityWon, o.id, now).await?;
    }
    Ok(())
}

/// A won deal makes its customer a customer, and a repeat win makes it loyal, each step
/// through the lifecycle rule, recorded on its timeline and audited.
async fn advance_customer(
    tx: &Tx,
    state: &AppState,
    caller: &Caller,
    o: &DomainOpportunity,
    now: DateTime<Utc>,
) -> Result<(), ApiError> {
    let before: Customer = repos::get_locked(tx, o.customer_id).await?;
    let wins = opportunities::wins_of(tx, o.customer_id, o.id).await?;
    let steps = before.lifecycle_stage.after_win(wins);
    if steps.is_empty() {
        return Ok(());
    }
    let mut c = before.clone();
    for &to in steps {
        let from = c.lifecycle_stage;
        c.lifecycle_stage = to;
        record_stage(tx, &c, Some(from), caller.actor().id(), now).await?;
    }
    let saved = repos::save(tx, &c, now).await?;
    let (before, after) = (
        crate::routes::customers::types::Customer::from(before),
        crate::routes::customers::types::Customer::from(saved),
    );
    audit::record(
        tx,
        state,
        &caller.origin,
        audit::Subject::customer(after.id),
        "update",
        audit::changes(Some(&before), Some(&after)),
    )
    .await
}

/// List the opportunities the caller sees.
#[utoipa::path(
    tag = "sales",
    params(OpportunityListParams),
    responses((status = 200, body = OpportunityList)),
    security(("oauth2" = ["opportunities:read"]))
)]
#[get("/opportunities")]
async fn list_opportunities(
    state: web::Data<AppState>,
    auth: Authorized<OpportunitiesRead>,
    params: Query<OpportunityListParams>,
) -> Result<HttpResponse, ApiError> {
    let p = params.into_inner()?;
    let (sort_name, window) = match p.updated_since {
        Some(since) => {
            feed::check(p.sort.as_deref())?;
            (feed::SORT, Some(feed::window(&state, since)))
        }
        None => (p.sort.as_deref().unwrap_or("-created_at"), None),
    };
    let sort = sort_of(sort_name)?;
    let (limit, cursor) = page_params(p.limit, p.cursor.as_deref(), sort_name)?;
    let owner_id = user_param("owner_id", p.owner_id.as_deref(), auth.user_id())?;
    let currency = code_param("currency", p.currency.as_deref(), CurrencyCode::parse)?;
    let bound = |field: &str, value: Option<&str>| -> Result<Option<i64>, ApiError> {
        let Some(v) = value else { return Ok(None) };
        let currency =
            currency.ok_or_else(|| ApiError::bad_parameter("currency", Invalid::Required))?;
        Money::parse_amount(v)
            .and_then(|a| Money::new(a, currency))
            .map(|m| Some(m.minor()))
            .map_err(|e| ApiError::bad_parameter(field, e))
    };
    let filter = OpportunityFilter {
        pipeline_id: p.pipeline_id,
        stage_id: p.stage_id,
        status: code_param("status", p.status.as_deref(), OpportunityStatus::parse)?,
        owner_id,
        team_id: p.team_id,
        customer_id: p.customer_id,
        currency,
        amount_min: bound("amount_min", p.amount_min.as_deref())?,
        amount_max: bound("amount_max", p.amount_max.as_deref())?,
        close_from: code_param(
            "expected_close_from",
            p.expected_close_from.as_deref(),
            parse_date,
        )?,
        close_to: code_param(
            "expected_close_to",
            p.expected_close_to.as_deref(),
            parse_date,
        )?,
        updated_from: window.map(|(from, _)| from),
        updated_to: window.map(|(_, to)| to),
    };
    let page = opportunities::list(
        state.list_reads(&auth),
        auth.visibility(),
        &filter,
        sort,
        cursor,
        limit,
    )
    .await?;
    Ok(
        HttpResponse::Ok().json(OpportunityList::from(Paged::from_page(
            page,
            sort_name,
            Opportunity::from,
        ))),
    )
}

/// Create an opportunity for a customer the caller sees. Audited; its history starts with
/// its first stage.
#[utoipa::path(
    tag = "sales",
    request_body = CreateOpportunity,
    responses((status = 201, body = Opportunity, headers(("Location" = String), ("ETag" = String)))),
    security(("oauth2" = ["opportunities:write"]))
)]
#[post("/opportunities")]
async fn create_opportunity(
    state: web::Data<AppState>,
    auth: Authorized<OpportunitiesWrite>,
    body: Json<CreateOpportunity>,
) -> Result<HttpResponse, ApiError> {
    let body = body.into_inner()?;
    let tx = state.store.begin().await?;
    let body = create(&tx, &state, &auth, body).await?;
    audit::commit(tx, &state, &auth.origin).await?;
    Ok(respond::created(
        &body,
        body.version,
        format!("/v1/opportunities/{}", body.id),
    ))
}

/// Creates an opportunity on `tx`, audited: the create request's work, and a batch item's.
///
/// # Errors
/// 422 for invalid fields, or a customer, pipeline, stage or owner that does not do.
/// The campaign a deal names must exist: `unknown_reference` at `campaign_id` otherwise.
async fn check_campaign(tx: &Tx, id: Uuid, errors: &mut Errors) -> Result<(), ApiError> {
    let found = rapport_store::repos::campaigns::get(tx, id).await;
    crate::references::known("campaign_id", found, errors)?;
    Ok(())
}

pub(crate) async fn create(
    tx: &Tx,
    state: &AppState,
    auth: &Authorized<OpportunitiesWrite>,
    body: CreateOpportunity,
) -> Result<Opportunity, ApiError> {
    let now = state.clock.now();
    let mut errors = Errors::default();
    let customer =
        access::referenced(tx, auth, body.customer_id, body.contact_id, &mut errors).await?;
    let title = errors.required("title", body.title.as_deref(), Title::parse);
    let source = errors.check_opt("source", body.source.as_deref(), Source::parse);
    let amount = match &body.amount {
        Some(a) => a.read("amount", &mut errors).map(Some),
        None => Some(None),
    };
    let close = errors.check_opt(
        "expected_close_date",
        body.expected_close_date.as_deref(),
        parse_date,
    );
    let pipeline = match body.pipeline_id {
        None => Some(pipelines::default_pipeline(tx).await?),
        Some(id) => crate::references::known(
            "pipeline_id",
            pipelines::fetch(tx, id, Lock::No).await,
            &mut errors,
        )?,
    };
    let stage = pipeline.as_ref().and_then(|p| match body.stage_id {
        None => p.first_open().cloned(),
        Some(id) => match p.stage(id) {
            Some(s) if s.kind == StageKind::Open => Some(s.clone()),
            Some(_) => {
                errors.add("stage_id", Invalid::NotAllowed);
                None
            }
            None => {
                errors.add("stage_id", Invalid::UnknownReference);
                None
            }
        },
    });
    let probability = errors.check_opt("probability", body.probability, Probability::new);
    let next_step = errors.check_opt("next_step", body.next_step.as_deref(), SalesNote::parse);
    let tags = parse_tags(&body.tags, "tags", &mut errors);
    if let Some(id) = body.campaign_id {
        check_campaign(tx, id, &mut errors).await?;
    }
    // The customer's owner by default: its deals are its owner's.
    let owner = body.owner_id.or(customer.as_ref().and_then(|c| c.owner_id));
    let (owner, team) = access::on_create(tx, auth, owner, body.team_id, &mut errors).await?;
    let (customer, title, source, amount, close, pipeline, stage, probability, next_step) = errors
        .finish_with((|| {
            Some((
                customer?,
                title?,
                source?,
                amount?,
                close?,
                pipeline?,
                stage?,
                probability?,
                next_step?,
            ))
        })())?;
    let o = DomainOpportunity {
        id: Uuid::now_v7(),
        customer_id: customer.id,
        contact_id: body.contact_id,
        title,
        source,
        campaign_id: body.campaign_id,
        amount,
        expected_close_date: close,
        pipeline_id: pipeline.id,
        stage_id: stage.id,
        status: OpportunityStatus::Open,
        probability: probability.unwrap_or(stage.probability),
        probability_overridden: probability.is_some(),
        owner_id: owner,
        team_id: team,
        next_step,
        tags,
        lost_reason: None,
        lost_note: None,
        closed_at: None,
        stage_entered_at: now,
        created_by: auth.actor().id(),
        created_at: now,
        updated_at: now,
        version: 1,
    };
    opportunities::insert(tx, &o).await?;
    let body = Opportunity::from(o);
    audit::record(
        tx,
        state,
        &auth.origin,
        audit::Subject::of_customer("opportunity", body.id, Some(body.customer_id)),
        "create",
        audit::changes(None, Some(&body)),
    )
    .await?;
    Ok(body)
}

crate::batch_request!(OpportunityBatch, OpportunityBatchItem => CreateOpportunity);

/// Create or change up to 200 opportunities.
///
/// Each item is written with the rules of `POST /v1/opportunities` (or of
/// `PATCH /v1/opportunities/{id}` when it carries an `id`, stage moves included), audited and
/// announced to webhooks one by one, in one transaction. The answer lists each item in order:
/// `201` created, `200` changed, or its problem. Refused items write nothing; with
/// `all_or_none`, one refused item refuses the whole batch (422 `batch_failed`).
#[utoipa::path(
    tag = "sales",
    request_body = OpportunityBatch,
    responses(
        (status = 200, body = BatchResult, description = "Each item's outcome, in order"),
        (status = 422, description = "Invalid `items`, or an `all_or_none` batch with refused items (`batch_failed`, with `items`)", body = crate::error::Problem, content_type = "application/problem+json")
    ),
    security(("oauth2" = ["opportunities:write"]))
)]
#[post("/opportunities/batch")]
async fn batch_opportunities(
    req: HttpRequest,
    state: web::Data<AppState>,
    auth: Authorized<OpportunitiesWrite>,
    body: Json<BatchBody>,
) -> Result<HttpResponse, ApiError> {
    let body = body.into_inner()?;
    let new = async |tx: &Tx, body: CreateOpportunity| {
        let o = create(tx, &state, &auth, body).await?;
        Ok(Written::created(o.id, o.version))
    };
    let change = async |tx: &Tx, id: Uuid, body: UpdateOpportunity| {
        let o = update(tx, &state, &auth, id, body, None).await?;
        Ok(Written::updated(o.id, o.version))
    };
    batch::by_id(&state, &auth.origin, Lang::of(&req), body, new, change).await
}

/// Get an opportunity.
#[utoipa::path(
    tag = "sales",
    params(("id" = Uuid, Path)),
    responses((status = 200, body = Opportunity, headers(("ETag" = String)))),
    security(("oauth2" = ["opportunities:read"]))
)]
#[get("/opportunities/{id}")]
async fn get_opportunity(
    state: web::Data<AppState>,
    auth: Authorized<OpportunitiesRead>,
    id: web::Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    let o = access::of_customer::<DomainOpportunity>(
        state.store.conn(),
        &auth,
        id.into_inner(),
        Lock::No,
    )
    .await?;
    let o = Opportunity::from(o);
    Ok(respond::ok(&o, o.version))
}

/// Change an opportunity. A new `stage_id` is a stage move: won needs an amount, lost a
/// `lost_reason`, and only managers reopen a closed deal (403). Audited.
#[utoipa::path(
    tag = "sales",
    params(("id" = Uuid, Path), IfMatchParam),
    request_body = UpdateOpportunity,
    responses((status = 200, body = Opportunity, headers(("ETag" = String)))),
    security(("oauth2" = ["opportunities:write"]))
)]
#[patch("/opportunities/{id}")]
async fn update_opportunity(
    state: web::Data<AppState>,
    auth: Authorized<OpportunitiesWrite>,
    id: web::Path<Uuid>,
    if_match: IfMatch,
    body: Json<UpdateOpportunity>,
) -> Result<HttpResponse, ApiError> {
    let body = body.into_inner()?;
    let tx = state.store.begin().await?;
    let saved = update(&tx, &state, &auth, id.into_inner(), body, Some(&if_match)).await?;
    audit::commit(tx, &state, &auth.origin).await?;
    Ok(respond::ok(&saved, saved.version))
}

/// Applies a change to opportunity `id` on `tx`, audited: the change request's work, and a
/// batch item's.
///
/// # Errors
/// 404 when the caller cannot change it, 412 on a stale `if_match`, 422 for invalid fields,
/// 403 for a reopening that needs a manager.
pub(crate) async fn update(
    tx: &Tx,
    state: &AppState,
    auth: &Authorized<OpportunitiesWrite>,
    id: Uuid,
    body: UpdateOpportunity,
    if_match: Option<&IfMatch>,
) -> Result<Opportunity, ApiError> {
    let now = state.clock.now();
    let before = access::of_customer::<DomainOpportunity>(tx, auth, id, Lock::ForUpdate).await?;
    if let Some(if_match) = if_match {
        if_match.check(before.version)?;
    }
    let mut o = before.clone();
    let mut errors = Errors::default();
    o.contact_id = body.contact_id.apply_to(o.contact_id);
    if o.contact_id != before.contact_id {
        access::check_contact(tx, o.customer_id, o.contact_id, &mut errors).await?;
    }
    body.title
        .required(&mut errors, "title", &mut o.title, Title::parse);
    body.source
        .optional(&mut errors, "source", &mut o.source, Source::parse);
    o.campaign_id = body.campaign_id.apply_to(o.campaign_id);
    if let Some(id) = o.campaign_id.filter(|id| Some(*id) != before.campaign_id) {
        check_campaign(tx, id, &mut errors).await?;
    }
    match body.amount {
        Patch::Absent => {}
        Patch::Null => o.amount = None,
        Patch::Value(a) => o.amount = a.read("amount", &mut errors).or(o.amount),
    }
    body.expected_close_date.optional(
        &mut errors,
        "expected_close_date",
        &mut o.expected_close_date,
        parse_date,
    );
    body.next_step
        .optional(&mut errors, "next_step", &mut o.next_step, SalesNote::parse);
    body.tags.collection(&mut errors, &mut o.tags, |tags, e| {
        Some(parse_tags(&tags, "tags", e))
    });
    let current = (o.owner_id, o.team_id);
    (o.owner_id, o.team_id) =
        access::on_update(tx, auth, current, body.owner_id, body.team_id, &mut errors).await?;
    let mut loss = o.loss();
    body.lost_reason.optional(
        &mut errors,
        "lost_reason",
        &mut loss.reason,
        LostReason::parse,
    );
    body.lost_note
        .optional(&mut errors, "lost_note", &mut loss.note, SalesNote::parse);
    let stage_id = body.stage_id.into_required(&mut errors, "stage_id");
    let moves = stage_id.filter(|s| *s != o.stage_id);
    // Without a move, what the deal is now decides; with one, after it.
    let probability = match body.probability {
        Patch::Absent => None,
        Patch::Null => Some(None),
        Patch::Value(p) => errors.check("probability", Probability::new(p)).map(Some),
    };
    if moves.is_none() {
        if probability.is_some() && o.is_closed() {
            errors.add("probability", Invalid::NotAllowed);
        }
        if let Err(e) = o.correct_loss(loss.clone()) {
            errors.add("lost_reason", e);
        }
        if o.status == OpportunityStatus::Won && o.amount.is_none() {
            errors.add("amount", Invalid::Required);
        }
    }
    errors.finish()?;
    if moves.is_some() || probability == Some(None) {
        let pipeline = pipelines::fetch(tx, o.pipeline_id, Lock::No).await?;
        if let Some(stage_id) = moves {
            let target = Target {
                pipeline: &pipeline,
                stage_id,
                loss,
            };
            apply_move(tx, state, auth, &mut o, target, now).await?;
        }
        if probability == Some(None)
            && let Some(stage) = pipeline.stage(o.stage_id)
        {
            o.reset_probability(stage)
                .map_err(|e| ApiError::invalid("probability", e))?;
        }
    }
    if let Some(Some(p)) = probability {
        o.override_probability(p)
            .map_err(|e| ApiError::invalid("probability", e))?;
    }
    let saved = save_audited(tx, state, auth, &before, &o, now).await?;
    Ok(saved)
}

/// Move an opportunity to another stage of its pipeline, recorded in its history with the
/// time spent in the previous stage. Won needs an amount (here or already set) and sets
/// `closed_at`, and moves a `lead` or `prospect` customer to `customer` (a repeat win to
/// `loyal`); lost needs a `lost_reason`; only managers reopen a closed deal (403). Audited.
#[utoipa::path(
    tag = "sales",
    params(("id" = Uuid, Path), IfMatchParam),
    request_body = MoveStage,
    responses((status = 200, body = Opportunity, headers(("ETag" = String)))),
    security(("oauth2" = ["opportunities:write"]))
)]
#[post("/opportunities/{id}/stage")]
async fn move_opportunity(
    state: web::Data<AppState>,
    auth: Authorized<OpportunitiesWrite>,
    id: web::Path<Uuid>,
    if_match: IfMatch,
    body: Json<MoveStage>,
) -> Result<HttpResponse, ApiError> {
    let body = body.into_inner()?;
    let now = state.clock.now();
    let tx = state.store.begin().await?;
    let before =
        access::of_customer::<DomainOpportunity>(&tx, &auth, id.into_inner(), Lock::ForUpdate)
            .await?;
    if_match.check(before.version)?;
    let mut o = before.clone();
    let mut errors = Errors::default();
    if body.stage_id.is_none() {
        errors.add("stage_id", Invalid::Required);
    }
    if let Some(a) = &body.amount {
        o.amount = a.read("amount", &mut errors).or(o.amount);
    }
    let loss = Loss {
        reason: errors
            .check_opt(
                "lost_reason",
                body.lost_reason.as_deref(),
                LostReason::parse,
            )
            .flatten(),
        note: errors
            .check_opt("lost_note", body.lost_note.as_deref(), SalesNote::parse)
            .flatten(),
    };
    let stage_id = errors.finish_with(body.stage_id)?;
    if stage_id == o.stage_id {
        // Staying, as a `PATCH` without a move: a lost deal's reason may be corrected.
        o.correct_loss(loss)
            .map_err(|e| ApiError::invalid("lost_reason", e))?;
    } else {
        let pipeline = pipelines::fetch(&tx, o.pipeline_id, Lock::No).await?;
        let target = Target {
            pipeline: &pipeline,
            stage_id,
            loss,
        };
        apply_move(&tx, &state, &auth, &mut o, target, now).await?;
    }
    if o == before {
        let unchanged = Opportunity::from(before);
        return Ok(respond::ok(&unchanged, unchanged.version));
    }
    let saved = save_audited(&tx, &state, &auth, &before, &o, now).await?;
    audit::commit(tx, &state, &auth.origin).await?;
    Ok(respond::ok(&saved, saved.version))
}

/// An opportunity's stage moves, oldest first: from, to, who, when, and the time spent in
/// the previous stage.
#[utoipa::path(
    tag = "sales",
    params(("id" = Uuid, Path), HistoryParams),
    responses((status = 200, body = StageMoveList)),
    security(("oauth2" = ["opportunities:read"]))
)]
#[get("/opportunities/{id}/history")]
async fn opportunity_history(
    state: web::Data<AppState>,
    auth: Authorized<OpportunitiesRead>,
    id: web::Path<Uuid>,
    params: Query<HistoryParams>,
) -> Result<HttpResponse, ApiError> {
    let p = params.into_inner()?;
    let (limit, cursor) = page_params(p.limit, p.cursor.as_deref(), "id")?;
    let db = state.store.conn();
    let o = access::of_customer::<DomainOpportunity>(db, &auth, id.into_inner(), Lock::No).await?;
    let page = opportunities::history(db, o.id, cursor, limit).await?;
    Ok(
        HttpResponse::Ok().json(StageMoveList::from(Paged::from_page(
            page,
            "id",
            StageMove::from,
        ))),
    )
}

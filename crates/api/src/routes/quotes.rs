//! Quotes for opportunities: numbered without gaps per year, priced exactly, edited only as
//! drafts, `draft → sent → accepted | rejected | expired`. They follow their customer's
//! visibility, with the opportunities scopes.

use actix_web::{HttpResponse, get, patch, post, web};
use chrono::{DateTime, Datelike, NaiveDate, Utc};
use rapport_domain::Invalid;
use rapport_domain::currency::CurrencyCode;
use rapport_domain::opportunity::Opportunity as DomainOpportunity;
use rapport_domain::quote::{DocumentNotes, Quote as DomainQuote, QuoteStatus};
use rapport_domain::validation::{Errors, parse_date};
use rapport_store::Tx;
use rapport_store::repos::quotes::{self, QuoteFilter};
use rapport_store::repos::{self, Lock, numbers};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_actix_web::service_config::ServiceConfig;
use uuid::Uuid;

use crate::audit;
use crate::auth::scopes::{OpportunitiesRead, OpportunitiesWrite};
use crate::auth::{Authorized, Caller};
use crate::error::{ApiError, ProblemCode};
use crate::extract::{IfMatch, IfMatchParam, Json, Query, code_param};
use crate::feed;
use crate::i18n::Text;
use crate::pagination::{Paged, page_params};
use crate::patch::Patch;
use crate::references;
use crate::respond;
use crate::routes::customers::access;
use crate::routes::line_items::{self, DocumentTotals, LineInput, LineItem};
use crate::routes::opportunities;
use crate::schemas;
use crate::state::AppState;

pub fn configure(cfg: &mut ServiceConfig) {
    cfg.service(list_quotes)
        .service(create_quote)
        .service(get_quote)
        .service(update_quote);
}

/// How long a quote is valid when no `valid_until` is given.
const DEFAULT_VALIDITY_DAYS: i64 = 30;

/// A quote for an opportunity.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Quote {
    pub id: Uuid,
    /// Unique, without gaps per year.
    #[schema(example = "Q-2026-000123")]
    pub number: String,
    pub opportunity_id: Uuid,
    pub customer_id: Uuid,
    #[schema(example = "CNY")]
    pub currency: String,
    /// A sent quote past its `valid_until` day reads as `expired`.
    #[schema(schema_with = schemas::quote_status)]
    pub status: String,
    /// The last day it can be accepted.
    pub valid_until: NaiveDate,
    pub lines: Vec<LineItem>,
    pub totals: DocumentTotals,
    pub notes: Option<String>,
    pub sent_at: Option<DateTime<Utc>>,
    /// When it was accepted, rejected or expired.
    pub decided_at: Option<DateTime<Utc>>,
    pub created_by: Option<Uuid>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub version: i32,
}

impl From<DomainQuote> for Quote {
    fn from(q: DomainQuote) -> Self {
        Quote {
            id: q.id,
            number: q.number,
            opportunity_id: q.opportunity_id,
            customer_id: q.customer_id,
            currency: q.currency.as_str().to_owned(),
            status: q.status.as_str().to_owned(),
            valid_until: q.valid_until,
            lines: q.lines.into_iter().map(LineItem::from).collect(),
            totals: q.totals.into(),
            notes: q.notes.map(|n| n.into_string()),
            sent_at: q.sent_at,
            decided_at: q.decided_at,
            created_by: q.created_by,
            created_at: q.created_at,
            updated_at: q.updated_at,
            version: q.version,
        }
    }
}

crate::list_type!(QuoteList, Quote);

/// A new draft quote.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateQuote {
    #[schema(required = true)]
    pub opportunity_id: Option<Uuid>,
    /// ISO 4217; default the opportunity's amount's currency.
    #[schema(example = "CNY")]
    pub currency: Option<String>,
    /// `YYYY-MM-DD`; default 30 days from today.
    #[schema(example = "2026-12-31")]
    pub valid_until: Option<String>,
    #[serde(default)]
    #[schema(min_items = 1, max_items = 200)]
    pub lines: Vec<LineInput>,
    pub notes: Option<String>,
}

/// Changes to a quote. Lines, validity and notes change only while it is a `draft` (409
/// otherwise); `status` moves it on (`sent`, then `accepted` or `rejected`). Accepting sets
/// the opportunity's amount to the quote's total.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateQuote {
    #[serde(default)]
    #[schema(value_type = Option<Vec<LineInput>>)]
    pub lines: Patch<Vec<LineInput>>,
    #[serde(default)]
    #[schema(value_type = Option<String>, example = "2026-12-31")]
    pub valid_until: Patch<String>,
    #[serde(default)]
    #[schema(value_type = Option<String>, nullable)]
    pub notes: Patch<String>,
    #[serde(default)]
    #[schema(schema_with = schemas::quote_status)]
    pub status: Patch<String>,
}

/// Filters of the quote list, newest first.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct QuoteListParams {
    pub opportunity_id: Option<Uuid>,
    pub customer_id: Option<Uuid>,
    #[param(schema_with = schemas::quote_status)]
    pub status: Option<String>,
    /// 1 to 200, default 50.
    pub limit: Option<i64>,
    pub cursor: Option<String>,
    /// The change feed: every quote changed at or after this time, oldest change first,
    /// each at its latest version. Changes show once they are 5 seconds old. Walk the pages
    /// with `cursor`; at the end, ask again with the last `updated_at` you saw (keep the
    /// highest `version`). Quotes are never deleted; those of a deleted customer leave the
    /// feed with it (its tombstone is in the customer feed). Takes the other filters (a
    /// quote that expires by date alone has not changed).
    #[param(example = "2026-12-01T00:00:00Z")]
    pub updated_since: Option<DateTime<Utc>>,
}

fn not_a_draft(status: QuoteStatus) -> ApiError {
    ApiError::conflict(
        ProblemCode::Conflict,
        Text::new(
            format!("The quote is `{status}`: only drafts are edited. Make a new quote instead."),
            format!("报价单状态为 `{status}`：只能编辑草稿。请新建报价单。"),
        ),
    )
}

/// List the quotes the caller sees, newest first.
#[utoipa::path(
    tag = "sales",
    params(QuoteListParams),
    responses((status = 200, body = QuoteList)),
    security(("oauth2" = ["opportunities:read"]))
)]
#[get("/quotes")]
async fn list_quotes(
    state: web::Data<AppState>,
    auth: Authorized<OpportunitiesRead>,
    params: Query<QuoteListParams>,
) -> Result<HttpResponse, ApiError> {
    let p = params.into_inner()?;
    let sort = feed::sort_or(p.updated_since, "-created_at");
    let (limit, cursor) = page_params(p.limit, p.cursor.as_deref(), sort)?;
    let now = state.clock.now();
    let filter = QuoteFilter {
        opportunity_id: p.opportunity_id,
        customer_id: p.customer_id,
        status: code_param("status", p.status.as_deref(), QuoteStatus::parse)?
            .map(|status| (status, now.date_naive())),
        changes: p.updated_since.map(|since| feed::changes(&state, since)),
    };
    let page = quotes::list(
        state.list_reads(&auth),
        auth.visibility(),
        &filter,
        cursor,
        limit,
    )
    .await?;
    Ok(
        HttpResponse::Ok().json(QuoteList::from(Paged::from_page(page, sort, |q| {
            Quote::from(q.as_of(now))
        }))),
    )
}

/// Create a draft quote for an opportunity the caller sees. Its number is the next of the
/// year, without gaps even under concurrent creation. Audited.
#[utoipa::path(
    tag = "sales",
    request_body = CreateQuote,
    responses((status = 201, body = Quote, headers(("Location" = String), ("ETag" = String)))),
    security(("oauth2" = ["opportunities:write"]))
)]
#[post("/quotes")]
async fn create_quote(
    state: web::Data<AppState>,
    auth: Authorized<OpportunitiesWrite>,
    body: Json<CreateQuote>,
) -> Result<HttpResponse, ApiError> {
    let body = body.into_inner()?;
    let now = state.clock.now();
    let tx = state.store.begin().await?;
    let mut errors = Errors::default();
    let opportunity = match body.opportunity_id {
        None => {
            errors.add("opportunity_id", Invalid::Required);
            None
        }
        Some(id) => {
            let found = access::of_customer::<DomainOpportunity>(&tx, &auth, id, Lock::No).await;
            references::known("opportunity_id", found, &mut errors)?
        }
    };
    let currency = match (&body.currency, &opportunity) {
        (Some(c), _) => errors.check("currency", CurrencyCode::parse(c)),
        (None, Some(o)) => {
            let c = o.amount.map(|a| a.currency());
            if c.is_none() {
                errors.add("currency", Invalid::Required);
            }
            c
        }
        (None, None) => None,
    };
    let valid_until = match &body.valid_until {
        Some(d) => errors.check("valid_until", parse_date(d)),
        None => Some(now.date_naive() + chrono::Duration::days(DEFAULT_VALIDITY_DAYS)),
    };
    let notes = errors.check_opt("notes", body.notes.as_deref(), DocumentNotes::parse);
    let priced = line_items::price(&tx, currency, &body.lines, &mut errors).await?;
    let (opportunity, currency, valid_until, notes, (lines, totals)) =
        errors.finish_with((|| {
            Some((opportunity?, currency?, valid_until?, notes?, priced?))
        })())?;
    let q = DomainQuote {
        id: Uuid::now_v7(),
        number: numbers::next(&tx, "Q", now.year()).await?,
        opportunity_id: opportunity.id,
        customer_id: opportunity.customer_id,
        currency,
        status: QuoteStatus::Draft,
        valid_until,
        lines,
        totals,
        notes,
        sent_at: None,
        decided_at: None,
        created_by: auth.actor().id(),
        created_at: now,
        updated_at: now,
        version: 1,
    };
    quotes::insert(&tx, &q).await?;
    let body = Quote::from(q);
    audit::record_and_commit(
        tx,
        &state,
        &auth.origin,
        audit::Subject::of_customer("quote", body.id, Some(body.customer_id)),
        "create",
        audit::changes(None, Some(&body)),
    )
    .await?;
    Ok(respond::created(
        &body,
        body.version,
        format!("/v1/quotes/{}", body.id),
    ))
}

/// Get a quote.
#[utoipa::path(
    tag = "sales",
    params(("id" = Uuid, Path)),
    responses((status = 200, body = Quote, headers(("ETag" = String)))),
    security(("oauth2" = ["opportunities:read"]))
)]
#[get("/quotes/{id}")]
async fn get_quote(
    state: web::Data<AppState>,
    auth: Authorized<OpportunitiesRead>,
    id: web::Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    let now = state.clock.now();
    let q = Quote::from(
        access::of_customer::<DomainQuote>(state.store.conn(), &auth, id.into_inner(), Lock::No)
            .await?
            .as_of(now),
    );
    Ok(respond::ok(&q, q.version))
}

/// Edit a draft quote, or move a quote on: `sent`, then `accepted` (which sets its
/// opportunity's amount to the quote's total) or `rejected`. Other moves answer 409 with
/// `allowed`. Audited.
#[utoipa::path(
    tag = "sales",
    params(("id" = Uuid, Path), IfMatchParam),
    request_body = UpdateQuote,
    responses(
        (status = 200, body = Quote, headers(("ETag" = String))),
        (status = 409, description = "Not a draft, or a status move the workflow does not allow (`allowed`)", body = crate::error::Problem, content_type = "application/problem+json")
    ),
    security(("oauth2" = ["opportunities:write"]))
)]
#[patch("/quotes/{id}")]
async fn update_quote(
    state: web::Data<AppState>,
    auth: Authorized<OpportunitiesWrite>,
    id: web::Path<Uuid>,
    if_match: IfMatch,
    body: Json<UpdateQuote>,
) -> Result<HttpResponse, ApiError> {
    let body = body.into_inner()?;
    let now = state.clock.now();
    let tx = state.store.begin().await?;
    let before = access::of_customer::<DomainQuote>(&tx, &auth, id.into_inner(), Lock::ForUpdate)
        .await?
        .as_of(now);
    if_match.check(before.version)?;
    let mut q = before.clone();
    let edits = !body.lines.is_absent() || !body.valid_until.is_absent() || !body.notes.is_absent();
    if edits && q.status != QuoteStatus::Draft {
        return Err(not_a_draft(q.status));
    }
    let mut errors = Errors::default();
    if let Some(inputs) = body.lines.into_required(&mut errors, "lines")
        && let Some((lines, totals)) =
            line_items::price(&tx, Some(q.currency), &inputs, &mut errors).await?
    {
        q.lines = lines;
        q.totals = totals;
    }
    body.valid_until
        .required(&mut errors, "valid_until", &mut q.valid_until, parse_date);
    body.notes
        .optional(&mut errors, "notes", &mut q.notes, DocumentNotes::parse);
    let mut status = q.status;
    body.status
        .required(&mut errors, "status", &mut status, QuoteStatus::parse);
    errors.finish()?;
    if status != q.status {
        q.move_to(status, now).map_err(|e| {
            ApiError::status_refused(("A quote", "报价单"), e.from, e.to, e.allowed)
        })?;
    }
    if q.status == QuoteStatus::Accepted && before.status != QuoteStatus::Accepted {
        set_opportunity_amount(&tx, &state, &auth, &q, now).await?;
    }
    // A stored `sent` that reads as expired is saved as expired with any change.
    let saved = Quote::from(repos::save(&tx, &q, now).await?);
    audit::record_and_commit(
        tx,
        &state,
        &auth.origin,
        audit::Subject::of_customer("quote", saved.id, Some(saved.customer_id)),
        "update",
        audit::changes(Some(&Quote::from(before)), Some(&saved)),
    )
    .await?;
    Ok(respond::ok(&saved, saved.version))
}

/// An accepted quote's total is its opportunity's amount.
async fn set_opportunity_amount(
    tx: &Tx,
    state: &AppState,
    caller: &Caller,
    q: &DomainQuote,
    now: DateTime<Utc>,
) -> Result<(), ApiError> {
    // The quote's customer is the caller's to see already.
    let before: DomainOpportunity = repos::get_locked(tx, q.opportunity_id).await?;
    if before.amount == Some(q.totals.total) {
        return Ok(());
    }
    let o = DomainOpportunity {
        amount: Some(q.totals.total),
        ..before.clone()
    };
    opportunities::save_audited(tx, state, caller, &before, &o, now).await?;
    Ok(())
}

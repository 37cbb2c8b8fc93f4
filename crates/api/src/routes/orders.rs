//! Orders: recorded purchases, made from an accepted quote or directly, numbered without gaps
//! per year, `confirmed → fulfilled | cancelled`. An order wins its opportunity if it is still
//! open. They follow their customer's visibility, with the opportunities scopes.

use actix_web::{HttpResponse, get, patch, post, web};
use chrono::{DateTime, Datelike, Utc};
use rapport_domain::Invalid;
use rapport_domain::currency::CurrencyCode;
use rapport_domain::money::Money;
use rapport_domain::opportunity::{Loss, Opportunity as DomainOpportunity};
use rapport_domain::quote::{DocumentNotes, Order as DomainOrder, OrderStatus, Quote, QuoteStatus};
use rapport_domain::survey::SurveyEvent;
use rapport_domain::validation::Errors;
use rapport_store::repos::orders::{self, OrderFilter};
use rapport_store::repos::{self, Lock, numbers, pipelines};
use rapport_store::{Conn, Tx};
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
use crate::invitations;
use crate::pagination::{Paged, page_params};
use crate::patch::Patch;
use crate::references;
use crate::respond;
use crate::routes::customers::access;
use crate::routes::line_items::{self, DocumentTotals, LineInput, LineItem};
use crate::routes::loyalty;
use crate::routes::opportunities;
use crate::schemas;
use crate::state::AppState;

pub fn configure(cfg: &mut ServiceConfig) {
    cfg.service(list_orders)
        .service(create_order)
        .service(get_order)
        .service(update_order);
}

/// A recorded purchase.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Order {
    pub id: Uuid,
    /// Unique, without gaps per year.
    #[schema(example = "O-2026-000042")]
    pub number: String,
    pub customer_id: Uuid,
    pub opportunity_id: Option<Uuid>,
    /// The accepted quote it was made from.
    pub quote_id: Option<Uuid>,
    #[schema(example = "CNY")]
    pub currency: String,
    #[schema(schema_with = schemas::order_status)]
    pub status: String,
    pub lines: Vec<LineItem>,
    pub totals: DocumentTotals,
    pub notes: Option<String>,
    pub ordered_at: DateTime<Utc>,
    pub fulfilled_at: Option<DateTime<Utc>>,
    pub cancelled_at: Option<DateTime<Utc>>,
    pub created_by: Option<Uuid>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub version: i32,
}

impl From<DomainOrder> for Order {
    fn from(o: DomainOrder) -> Self {
        Order {
            id: o.id,
            number: o.number,
            customer_id: o.customer_id,
            opportunity_id: o.opportunity_id,
            quote_id: o.quote_id,
            currency: o.currency.as_str().to_owned(),
            status: o.status.as_str().to_owned(),
            lines: o.lines.into_iter().map(LineItem::from).collect(),
            totals: o.totals.into(),
            notes: o.notes.map(|n| n.into_string()),
            ordered_at: o.ordered_at,
            fulfilled_at: o.fulfilled_at,
            cancelled_at: o.cancelled_at,
            created_by: o.created_by,
            created_at: o.created_at,
            updated_at: o.updated_at,
            version: o.version,
        }
    }
}

crate::list_type!(OrderList, Order);

/// A new order: from an accepted quote (`quote_id`; its customer, opportunity, currency and
/// lines are copied, and nothing else may be given but `notes`), or directly (`customer_id`,
/// `currency`, `lines`, optionally one of the customer's opportunities).
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateOrder {
    pub quote_id: Option<Uuid>,
    pub customer_id: Option<Uuid>,
    pub opportunity_id: Option<Uuid>,
    #[schema(example = "CNY")]
    pub currency: Option<String>,
    #[serde(default)]
    pub lines: Vec<LineInput>,
    pub notes: Option<String>,
}

/// Changes to an order: its notes, or its status (`fulfilled` or `cancelled`; other moves
/// answer 409 with `allowed`).
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateOrder {
    #[serde(default)]
    #[schema(value_type = Option<String>, nullable)]
    pub notes: Patch<String>,
    #[serde(default)]
    #[schema(schema_with = schemas::order_status)]
    pub status: Patch<String>,
}

/// Filters of the order list, newest first.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct OrderListParams {
    pub opportunity_id: Option<Uuid>,
    pub customer_id: Option<Uuid>,
    #[param(schema_with = schemas::order_status)]
    pub status: Option<String>,
    /// 1 to 200, default 50.
    pub limit: Option<i64>,
    pub cursor: Option<String>,
    /// The change feed: every order changed at or after this time, oldest change first,
    /// each at its latest version. Changes show once they are 5 seconds old. Walk the pages
    /// with `cursor`; at the end, ask again with the last `updated_at` you saw (keep the
    /// highest `version`). Orders are never deleted; those of a deleted customer leave the
    /// feed with it (its tombstone is in the customer feed). Takes the other filters.
    #[param(example = "2026-12-01T00:00:00Z")]
    pub updated_since: Option<DateTime<Utc>>,
}

/// List the orders the caller sees, newest first; or their change feed.
#[utoipa::path(
    tag = "sales",
    params(OrderListParams),
    responses((status = 200, body = OrderList)),
    security(("oauth2" = ["opportunities:read"]))
)]
#[get("/orders")]
async fn list_orders(
    state: web::Data<AppState>,
    auth: Authorized<OpportunitiesRead>,
    params: Query<OrderListParams>,
) -> Result<HttpResponse, ApiError> {
    let p = params.into_inner()?;
    let sort = feed::sort_or(p.updated_since, "-created_at");
    let (limit, cursor) = page_params(p.limit, p.cursor.as_deref(), sort)?;
    let filter = OrderFilter {
        opportunity_id: p.opportunity_id,
        customer_id: p.customer_id,
        status: code_param("status", p.status.as_deref(), OrderStatus::parse)?,
        changes: p.updated_since.map(|since| feed::changes(&state, since)),
    };
    let page = orders::list(
        state.list_reads(&auth),
        auth.visibility(),
        &filter,
        cursor,
        limit,
    )
    .await?;
    Ok(HttpResponse::Ok().json(OrderList::from(Paged::from_page(page, sort, Order::from))))
}

/// What a new order is made of, before its number.
struct Draft {
    customer_id: Uuid,
    opportunity: Option<DomainOpportunity>,
    quote_id: Option<Uuid>,
    currency: CurrencyCode,
    lines: Vec<rapport_domain::pricing::Line>,
    totals: rapport_domain::pricing::Totals,
}

async fn from_quote(
    tx: &impl Conn,
    caller: &Caller,
    body: &CreateOrder,
    quote_id: Uuid,
    now: DateTime<Utc>,
    errors: &mut Errors,
) -> Result<Option<Draft>, ApiError> {
    for (field, given) in [
        ("customer_id", body.customer_id.is_some()),
        ("opportunity_id", body.opportunity_id.is_some()),
        ("currency", body.currency.is_some()),
        ("lines", !body.lines.is_empty()),
    ] {
        if given {
            errors.add(field, Invalid::NotAllowed);
        }
    }
    let found = access::of_customer::<Quote>(tx, caller, quote_id, Lock::ForUpdate).await;
    let Some(quote) = references::known("quote_id", found, errors)? else {
        return Ok(None);
    };
    let quote = quote.as_of(now);
    if quote.status != QuoteStatus::Accepted {
        return Err(ApiError::conflict(
            ProblemCode::Conflict,
            Text::new(
                format!(
                    "The quote is `{}`: orders are made from accepted quotes.",
                    quote.status
                ),
                format!(
                    "报价单状态为 `{}`：只能根据已接受的报价单下单。",
                    quote.status
                ),
            ),
        ));
    }
    // Its customer is the quote's, which the caller sees.
    let opportunity: DomainOpportunity = repos::get_locked(tx, quote.opportunity_id).await?;
    Ok(Some(Draft {
        customer_id: quote.customer_id,
        opportunity: Some(opportunity),
        quote_id: Some(quote.id),
        currency: quote.currency,
        lines: quote.lines,
        totals: quote.totals,
    }))
}

async fn direct(
    tx: &impl Conn,
    caller: &Caller,
    body: &CreateOrder,
    errors: &mut Errors,
) -> Result<Option<Draft>, ApiError> {
    let customer = access::referenced(tx, caller, body.customer_id, None, errors).await?;
    let opportunity = match body.opportunity_id {
        None => None,
        Some(id) => {
            let o = references::known(
                "opportunity_id",
                access::of_customer::<DomainOpportunity>(tx, caller, id, Lock::ForUpdate).await,
                errors,
            )?;
            if let (Some(o), Some(c)) = (&o, &customer)
                && o.customer_id != c.id
            {
                errors.add("opportunity_id", Invalid::UnknownReference);
            }
            o
        }
    };
    let currency = errors.required("currency", body.currency.as_deref(), CurrencyCode::parse);
    let priced = line_items::price(tx, currency, &body.lines, errors).await?;
    Ok((|| {
        let (lines, totals) = priced?;
        Some(Draft {
            customer_id: customer?.id,
            opportunity,
            quote_id: None,
            currency: currency?,
            lines,
            totals,
        })
    })())
}

/// An order wins its opportunity if it is open: with the order's `total` as its amount when it
/// has none.
async fn win_opportunity(
    tx: &Tx,
    state: &AppState,
    caller: &Caller,
    before: DomainOpportunity,
    total: Money,
    now: DateTime<Utc>,
) -> Result<(), ApiError> {
    if before.is_closed() {
        return Ok(());
    }
    let pipeline = pipelines::fetch(tx, before.pipeline_id, Lock::No).await?;
    let Some(won) = pipeline.won_stage() else {
        return Ok(());
    };
    let mut o = before.clone();
    if o.amount.is_none() {
        o.amount = Some(total);
    }
    let target = opportunities::Target {
        pipeline: &pipeline,
        stage_id: won.id,
        loss: Loss::default(),
    };
    opportunities::apply_move(tx, state, caller, &mut o, target, now).await?;
    opportunities::save_audited(tx, state, caller, &before, &o, now).await?;
    Ok(())
}

/// Record an order, from an accepted quote (one order per quote) or directly. Its number is
/// the next of the year, without gaps. Its opportunity, if open, is won. Audited.
#[utoipa::path(
    tag = "sales",
    request_body = CreateOrder,
    responses(
        (status = 201, body = Order, headers(("Location" = String), ("ETag" = String))),
        (status = 409, description = "The quote is not accepted, or has an order already", body = crate::error::Problem, content_type = "application/problem+json")
    ),
    security(("oauth2" = ["opportunities:write"]))
)]
#[post("/orders")]
async fn create_order(
    state: web::Data<AppState>,
    auth: Authorized<OpportunitiesWrite>,
    body: Json<CreateOrder>,
) -> Result<HttpResponse, ApiError> {
    let body = body.into_inner()?;
    let now = state.clock.now();
    let tx = state.store.begin().await?;
    let mut errors = Errors::default();
    let draft = match body.quote_id {
        Some(id) => from_quote(&tx, &auth, &body, id, now, &mut errors).await?,
        None => direct(&tx, &auth, &body, &mut errors).await?,
    };
    let notes = errors.check_opt("notes", body.notes.as_deref(), DocumentNotes::parse);
    let (draft, notes) = errors.finish_with((|| Some((draft?, notes?)))())?;
    // The win first: the number's counter stays locked from here to the commit.
    let opportunity_id = draft.opportunity.as_ref().map(|o| o.id);
    if let Some(opportunity) = draft.opportunity {
        win_opportunity(&tx, &state, &auth, opportunity, draft.totals.total, now).await?;
    }
    let order = DomainOrder {
        id: Uuid::now_v7(),
        number: numbers::next(&tx, "O", now.year()).await?,
        customer_id: draft.customer_id,
        opportunity_id,
        quote_id: draft.quote_id,
        currency: draft.currency,
        status: OrderStatus::Confirmed,
        lines: draft.lines,
        totals: draft.totals,
        notes,
        ordered_at: now,
        fulfilled_at: None,
        cancelled_at: None,
        created_by: auth.actor().id(),
        created_at: now,
        updated_at: now,
        version: 1,
    };
    orders::insert(&tx, &order).await.map_err(|e| {
        if e.is_conflict_on(orders::QUOTE_ORDERED) {
            ApiError::conflict(
                ProblemCode::Duplicate,
                Text::new("This quote has an order already.", "此报价单已有订单。"),
            )
        } else {
            e.into()
        }
    })?;
    loyalty::on_order_created(&tx, order.id, now).await?;
    let body = Order::from(order);
    audit::record_and_commit(
        tx,
        &state,
        &auth.origin,
        audit::Subject::of_customer("order", body.id, Some(body.customer_id)),
        "create",
        audit::changes(None, Some(&body)),
    )
    .await?;
    Ok(respond::created(
        &body,
        body.version,
        format!("/v1/orders/{}", body.id),
    ))
}

/// Get an order.
#[utoipa::path(
    tag = "sales",
    params(("id" = Uuid, Path)),
    responses((status = 200, body = Order, headers(("ETag" = String)))),
    security(("oauth2" = ["opportunities:read"]))
)]
#[get("/orders/{id}")]
async fn get_order(
    state: web::Data<AppState>,
    auth: Authorized<OpportunitiesRead>,
    id: web::Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    let o = Order::from(
        access::of_customer::<DomainOrder>(state.store.conn(), &auth, id.into_inner(), Lock::No)
            .await?,
    );
    Ok(respond::ok(&o, o.version))
}

/// Fulfil or cancel an order, or change its notes. Audited.
#[utoipa::path(
    tag = "sales",
    params(("id" = Uuid, Path), IfMatchParam),
    request_body = UpdateOrder,
    responses(
        (status = 200, body = Order, headers(("ETag" = String))),
        (status = 409, description = "A status move the workflow does not allow (`allowed`)", body = crate::error::Problem, content_type = "application/problem+json")
    ),
    security(("oauth2" = ["opportunities:write"]))
)]
#[patch("/orders/{id}")]
async fn update_order(
    state: web::Data<AppState>,
    auth: Authorized<OpportunitiesWrite>,
    id: web::Path<Uuid>,
    if_match: IfMatch,
    body: Json<UpdateOrder>,
) -> Result<HttpResponse, ApiError> {
    let body = body.into_inner()?;
    let now = state.clock.now();
    let tx = state.store.begin().await?;
    let before =
        access::of_customer::<DomainOrder>(&tx, &auth, id.into_inner(), Lock::ForUpdate).await?;
    if_match.check(before.version)?;
    let mut o = before.clone();
    let mut errors = Errors::default();
    body.notes
        .optional(&mut errors, "notes", &mut o.notes, DocumentNotes::parse);
    let mut status = o.status;
    body.status
        .required(&mut errors, "status", &mut status, OrderStatus::parse);
    errors.finish()?;
    if status != o.status {
        o.move_to(status, now)
            .map_err(|e| ApiError::status_refused(("An order", "订单"), e.from, e.to, e.allowed))?;
        if status == OrderStatus::Fulfilled {
            invitations::on_event(&tx, SurveyEvent::OrderFulfilled, o.id, now).await?;
        }
        if status == OrderStatus::Cancelled {
            loyalty::on_order_cancelled(&tx, o.id, now).await?;
        }
    }
    let saved = Order::from(repos::save(&tx, &o, now).await?);
    audit::record_and_commit(
        tx,
        &state,
        &auth.origin,
        audit::Subject::of_customer("order", saved.id, Some(saved.customer_id)),
        "update",
        audit::changes(Some(&Order::from(before)), Some(&saved)),
    )
    .await?;
    Ok(respond::ok(&saved, saved.version))
}

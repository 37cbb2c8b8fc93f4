//! Loyalty: the program's settings (`/loyalty-program`), and each customer's points ledger and
//! tier (`/customers/{id}/loyalty`, `/customers/{id}/loyalty/transactions`). Orders earn
//! points through the `loyalty.earn` job queued with them (a cancellation queues
//! `loyalty.reverse`); the daily `loyalty.expire` job expires points oldest first and lowers
//! tiers whose earnings aged out. Reading follows the customer's visibility.

use actix_web::{HttpResponse, get, patch, post, web};
use chrono::{DateTime, Utc};
use rapport_domain::Invalid;
use rapport_domain::auth::Scope;
use rapport_domain::currency::CurrencyCode;
use rapport_domain::job::{Job, JobKind};
use rapport_domain::loyalty::{
    EARN_JOB, EarnRate, LoyaltyKind, LoyaltyReason, MAX_POINTS, Program, REVERSE_JOB, Thresholds,
    Tier, Transaction, parse_expiry_months,
};
use rapport_domain::validation::{Errors, index, path};
use rapport_store::repos::loyalty::{self, Entry, LedgerFilter, PostError};
use rapport_store::repos::{self, jobs};
use rapport_store::{Conn, StoreError};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};
use utoipa::{IntoParams, ToSchema};
use utoipa_actix_web::service_config::ServiceConfig;
use uuid::Uuid;

use crate::audit;
use crate::auth::Authorized;
use crate::auth::scopes::{CustomersRead, CustomersWrite, SettingsWrite};
use crate::error::{ApiError, ProblemCode};
use crate::extract::{IfMatch, IfMatchParam, Json, Query, code_param};
use crate::i18n::Text;
use crate::pagination::{Paged, page_params};
use crate::patch::Patch;
use crate::respond;
use crate::routes::customers::access;
use crate::schemas;
use crate::state::AppState;

pub fn configure(cfg: &mut ServiceConfig) {
    cfg.service(get_loyalty_program)
        .service(update_loyalty_program)
        .service(get_customer_loyalty)
        .service(list_loyalty_transactions)
        .service(create_loyalty_transaction);
}

/// Queues the earning of a new order's points (`loyalty.earn:<order_id>`), on the order's
/// transaction.
///
/// # Errors
/// Database failures.
pub async fn on_order_created(
    tx: &impl Conn,
    order_id: Uuid,
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    enqueue(tx, EARN_JOB, order_id, now).await
}

/// Queues taking back a cancelled order's points (`loyalty.reverse:<order_id>`), on the
/// cancellation's transaction.
///
/// # Errors
/// Database failures.
pub async fn on_order_cancelled(
    tx: &impl Conn,
    order_id: Uuid,
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    enqueue(tx, REVERSE_JOB, order_id, now).await
}

async fn enqueue(
    tx: &impl Conn,
    kind: &str,
    order_id: Uuid,
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    let job = Job::new(
        JobKind::parse(kind)?,
        json!({ "order_id": order_id }),
        Some(format!("{kind}:{order_id}")),
        now,
        now,
    );
    jobs::enqueue(tx, &job).await?;
    Ok(())
}

/// Points per unit of an order's total in one currency.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EarnRateBody {
    #[schema(example = "CNY")]
    pub currency: String,
    /// A decimal string, 0 to 10000 with at most 4 decimals; earned points round down.
    #[schema(example = "1")]
    pub points_per_unit: String,
}

/// The points each tier starts at, by the points earned in the last 12 months; each strictly
/// above the one before.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TierThresholds {
    #[schema(example = 1000)]
    pub silver: i64,
    #[schema(example = 5000)]
    pub gold: i64,
    #[schema(example = 20000)]
    pub platinum: i64,
}

/// The loyalty program's settings (one for the whole system).
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct LoyaltyProgram {
    /// Points per unit of an order's total, by currency; an order in a currency without a
    /// rate earns nothing.
    pub earn_rates: Vec<EarnRateBody>,
    /// How long earned points stay valid (1 to 120 months).
    #[schema(example = 24)]
    pub expiry_months: u32,
    pub tiers: TierThresholds,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub version: i32,
}

impl From<Program> for LoyaltyProgram {
    fn from(p: Program) -> Self {
        LoyaltyProgram {
            earn_rates: p
                .earn_rates
                .iter()
                .map(|r| EarnRateBody {
                    currency: r.currency.as_str().to_owned(),
                    points_per_unit: r.points_per_unit.to_string(),
                })
                .collect(),
            expiry_months: p.expiry_months,
            tiers: TierThresholds {
                silver: p.tiers.silver,
                gold: p.tiers.gold,
                platinum: p.tiers.platinum,
            },
            created_at: p.created_at,
            updated_at: p.updated_at,
            version: p.version,
        }
    }
}

/// Changes to the loyalty program; what is left out stays. New rates apply to orders earned
/// from then on, a new expiry to points earned from then on; tiers are recomputed at each
/// customer's next ledger write and by the daily job.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateLoyaltyProgram {
    /// The whole list of rates (replaces it); one per currency.
    #[serde(default)]
    #[schema(value_type = Option<Vec<EarnRateBody>>)]
    pub earn_rates: Patch<Vec<EarnRateBody>>,
    #[serde(default)]
    #[schema(value_type = Option<i64>, example = 24)]
    pub expiry_months: Patch<i64>,
    #[serde(default)]
    #[schema(value_type = Option<TierThresholds>)]
    pub tiers: Patch<TierThresholds>,
}

/// The loyalty program's settings: earn rates, expiry, tier thresholds.
#[utoipa::path(
    tag = "loyalty",
    responses((status = 200, body = LoyaltyProgram, headers(("ETag" = String)))),
    security(("oauth2" = ["customers:read"]))
)]
#[get("/loyalty-program")]
async fn get_loyalty_program(
    state: web::Data<AppState>,
    _auth: Authorized<CustomersRead>,
) -> Result<HttpResponse, ApiError> {
    let p = LoyaltyProgram::from(loyalty::program(state.store.conn()).await?);
    Ok(respond::ok(&p, p.version))
}

fn read_rates(rates: Vec<EarnRateBody>, errors: &mut Errors) -> Option<Vec<EarnRate>> {
    let mut out = Vec::new();
    let mut ok = true;
    for (i, r) in rates.iter().enumerate() {
        let at = index("earn_rates", i);
        let currency = errors.check(path(&at, "currency"), CurrencyCode::parse(&r.currency));
        let rate = errors.check(
            path(&at, "points_per_unit"),
            EarnRate::parse_points_per_unit(&r.points_per_unit),
        );
        match (currency, rate) {
            (Some(currency), Some(points_per_unit)) => {
                if out.iter().any(|o: &EarnRate| o.currency == currency) {
                    errors.add(path(&at, "currency"), Invalid::Duplicate);
                    ok = false;
                }
                out.push(EarnRate {
                    currency,
                    points_per_unit,
                });
            }
            _ => ok = false,
        }
    }
    ok.then_some(out)
}

/// Change the loyalty program's settings. `If-Match` guards against overwriting a change
/// made since it was read. Audited.
#[utoipa::path(
    tag = "loyalty",
    params(IfMatchParam),
    request_body = UpdateLoyaltyProgram,
    responses((status = 200, body = LoyaltyProgram, headers(("ETag" = String)))),
    security(("oauth2" = ["settings:write"]))
)]
#[patch("/loyalty-program")]
async fn update_loyalty_program(
    state: web::Data<AppState>,
    auth: Authorized<SettingsWrite>,
    if_match: IfMatch,
    body: Json<UpdateLoyaltyProgram>,
) -> Result<HttpResponse, ApiError> {
    let body = body.into_inner()?;
    let now = state.clock.now();
    let tx = state.store.begin().await?;
    let before: Program = repos::get_locked(&tx, Program::ID).await?;
    if_match.check(before.version)?;
    let mut p = before.clone();
    let mut errors = Errors::default();
    if let Some(rates) = body.earn_rates.into_required(&mut errors, "earn_rates")
        && let Some(rates) = read_rates(rates, &mut errors)
    {
        p.earn_rates = rates;
    }
    if let Some(months) = body
        .expiry_months
        .into_required(&mut errors, "expiry_months")
        && let Some(months) = errors.check("expiry_months", parse_expiry_months(months))
    {
        p.expiry_months = months;
    }
    if let Some(t) = body.tiers.into_required(&mut errors, "tiers") {
        match Thresholds::new(t.silver, t.gold, t.platinum) {
            Ok(tiers) => p.tiers = tiers,
            Err(refused) => {
                for (name, invalid) in refused {
                    errors.add(path("tiers", name), invalid);
                }
            }
        }
    }
    errors.finish()?;
    let saved = LoyaltyProgram::from(repos::save(&tx, &p, now).await?);
    audit::record_and_commit(
        tx,
        &state,
        &auth.origin,
        audit::Subject::new("loyalty_program", Program::ID),
        "update",
        audit::changes(Some(&LoyaltyProgram::from(before)), Some(&saved)),
    )
    .await?;
    Ok(respond::ok(&saved, saved.version))
}

/// A customer's loyalty standing.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct LoyaltyAccount {
    pub customer_id: Uuid,
    /// Points available to redeem.
    #[schema(example = 1250)]
    pub balance: i64,
    /// Set at each ledger write and by the daily job, from `earned_12m`.
    #[schema(schema_with = schemas::tier)]
    pub tier: String,
    /// Points earned in the last 12 months (earnings less reversals).
    pub earned_12m: i64,
    /// The tier above this one; `null` at the top.
    #[schema(schema_with = schemas::tier_or_null)]
    pub next_tier: Option<String>,
    /// Points still to earn (within 12 months) to reach `next_tier`; `null` at the top.
    pub points_to_next_tier: Option<i64>,
    /// Points that expire in the next 30 days unless spent first (oldest points go first).
    pub expiring_30d: i64,
    /// The last change of the balance or tier; `null` before the first ledger row.
    pub updated_at: Option<DateTime<Utc>>,
}

/// A customer's loyalty balance and tier, with what comes next: the points to the next tier
/// and the points expiring in the next 30 days.
#[utoipa::path(
    tag = "loyalty",
    params(("id" = Uuid, Path)),
    responses((status = 200, body = LoyaltyAccount)),
    security(("oauth2" = ["customers:read"]))
)]
#[get("/customers/{id}/loyalty")]
async fn get_customer_loyalty(
    state: web::Data<AppState>,
    auth: Authorized<CustomersRead>,
    id: web::Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    let db = state.store.conn();
    let customer = access::visible(db, &auth, id.into_inner()).await?;
    let now = state.clock.now();
    let program = loyalty::program(db).await?;
    let account = loyalty::account(db, customer.id).await?;
    let outlook = loyalty::outlook(db, customer.id, now).await?;
    let tier = account.as_ref().map_or(Tier::Member, |a| a.tier);
    let next = program.tiers.next_after(tier, outlook.earned_12m);
    Ok(HttpResponse::Ok().json(LoyaltyAccount {
        customer_id: customer.id,
        balance: account.as_ref().map_or(0, |a| a.balance),
        tier: tier.as_str().to_owned(),
        earned_12m: outlook.earned_12m,
        next_tier: next.map(|(t, _)| t.as_str().to_owned()),
        points_to_next_tier: next.map(|(_, n)| n),
        expiring_30d: outlook.expiring_soon,
        updated_at: account.map(|a| a.updated_at),
    }))
}

/// One row of a customer's points ledger (never edited; a reversal is a new row).
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct LoyaltyTransaction {
    pub id: Uuid,
    pub customer_id: Uuid,
    #[schema(schema_with = schemas::loyalty_kind)]
    pub kind: String,
    /// Positive for earnings and positive adjustments, negative for the rest.
    #[schema(example = -100)]
    pub points: i64,
    /// The order that earned (or gave back) them.
    pub order_id: Option<Uuid>,
    pub reason: Option<String>,
    /// When earned points expire (`earn` rows).
    pub expires_at: Option<DateTime<Utc>>,
    /// The balance after this row.
    pub balance_after: i64,
    /// The user or client that wrote it; `null` for the system (earnings, expiries,
    /// reversals).
    pub created_by: Option<Uuid>,
    pub created_at: DateTime<Utc>,
}

impl From<Transaction> for LoyaltyTransaction {
    fn from(t: Transaction) -> Self {
        LoyaltyTransaction {
            id: t.id,
            customer_id: t.customer_id,
            kind: t.kind.as_str().to_owned(),
            points: t.points,
            order_id: t.order_id,
            reason: t.reason.map(LoyaltyReason::into_string),
            expires_at: t.expires_at,
            balance_after: t.balance_after,
            created_by: t.actor.id(),
            created_at: t.created_at,
        }
    }
}

crate::list_type!(LoyaltyTransactionList, LoyaltyTransaction);

/// Filters of a customer's ledger, newest first.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct LoyaltyTransactionParams {
    #[param(schema_with = schemas::loyalty_kind)]
    pub kind: Option<String>,
    /// 1 to 200, default 50.
    pub limit: Option<i64>,
    pub cursor: Option<String>,
}

/// A customer's points ledger, newest first.
#[utoipa::path(
    tag = "loyalty",
    params(("id" = Uuid, Path), LoyaltyTransactionParams),
    responses((status = 200, body = LoyaltyTransactionList)),
    security(("oauth2" = ["customers:read"]))
)]
#[get("/customers/{id}/loyalty/transactions")]
async fn list_loyalty_transactions(
    state: web::Data<AppState>,
    auth: Authorized<CustomersRead>,
    id: web::Path<Uuid>,
    params: Query<LoyaltyTransactionParams>,
) -> Result<HttpResponse, ApiError> {
    let p = params.into_inner()?;
    let sort = "-created_at";
    let (limit, cursor) = page_params(p.limit, p.cursor.as_deref(), sort)?;
    let filter = LedgerFilter {
        kind: code_param("kind", p.kind.as_deref(), LoyaltyKind::parse)?,
    };
    let db = state.list_reads(&auth);
    let customer = access::visible(db, &auth, id.into_inner()).await?;
    let page = loyalty::ledger(db, customer.id, &filter, cursor, limit).await?;
    Ok(
        HttpResponse::Ok().json(LoyaltyTransactionList::from(Paged::from_page(
            page,
            sort,
            LoyaltyTransaction::from,
        ))),
    )
}

/// A ledger row a client writes: a redemption, or an adjustment (admins).
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateLoyaltyTransaction {
    /// `redeem` or `adjust`; the other kinds are written by the system.
    #[schema(schema_with = schemas::loyalty_kind)]
    pub kind: Option<String>,
    /// `redeem`: the points to spend (positive). `adjust`: the points to add (positive) or
    /// take (negative); never zero.
    #[schema(example = 100)]
    pub points: Option<i64>,
    /// Why; required for `adjust`. Up to 500 characters.
    pub reason: Option<String>,
}

/// The refusal of a debit beyond the balance.
fn insufficient(balance: i64) -> ApiError {
    let mut extra = Map::new();
    extra.insert("balance".into(), Value::from(balance));
    ApiError::Conflict {
        code: ProblemCode::InsufficientPoints,
        detail: Text::new(
            format!("The balance is {balance} points; it does not cover this."),
            format!("积分余额为 {balance}，不足以扣除。"),
        ),
        extra,
    }
}

/// Redeem a customer's points (`customers:write`), or adjust them with a reason
/// (`settings:write` as well). A debit beyond the balance answers 409
/// `insufficient_points` with the `balance`; concurrent redemptions queue on the account, so
/// none overdraws. Answers the ledger row, whose `balance_after` is the new balance; its
/// `Location` is the customer's loyalty standing. Audited.
#[utoipa::path(
    tag = "loyalty",
    params(("id" = Uuid, Path)),
    request_body = CreateLoyaltyTransaction,
    responses(
        (status = 201, body = LoyaltyTransaction, headers(("Location" = String), ("ETag" = String))),
        (status = 409, description = "The balance does not cover the debit (`insufficient_points`, with `balance`)", body = crate::error::Problem, content_type = "application/problem+json")
    ),
    security(("oauth2" = ["customers:write"]))
)]
#[post("/customers/{id}/loyalty/transactions")]
async fn create_loyalty_transaction(
    state: web::Data<AppState>,
    auth: Authorized<CustomersWrite>,
    id: web::Path<Uuid>,
    body: Json<CreateLoyaltyTransaction>,
) -> Result<HttpResponse, ApiError> {
    let now = state.clock.now();
    let tx = state.store.begin().await?;
    // The customer first: one outside the caller's view does not exist for it.
    let customer = access::visible(&tx, &auth, id.into_inner()).await?;
    let body = body.into_inner()?;
    let mut errors = Errors::default();
    let kind = errors
        .required("kind", body.kind.as_deref(), LoyaltyKind::parse)
        .and_then(|kind| match kind {
            LoyaltyKind::Redeem | LoyaltyKind::Adjust => Some(kind),
            _ => {
                errors.add(
                    "kind",
                    Invalid::NotOneOf {
                        allowed: &["redeem", "adjust"],
                    },
                );
                None
            }
        });
    if kind == Some(LoyaltyKind::Adjust) {
        auth.require(Scope::SettingsWrite)?;
    }
    let points = match (kind, body.points) {
        (_, None) => {
            errors.add("points", Invalid::Required);
            None
        }
        (Some(LoyaltyKind::Adjust), Some(p)) => {
            if p == 0 || !(-MAX_POINTS..=MAX_POINTS).contains(&p) {
                errors.add(
                    "points",
                    Invalid::OutOfRange {
                        min: -MAX_POINTS,
                        max: MAX_POINTS,
                    },
                );
                None
            } else {
                Some(p)
            }
        }
        (_, Some(p)) => {
            if (1..=MAX_POINTS).contains(&p) {
                Some(p)
            } else {
                errors.add(
                    "points",
                    Invalid::OutOfRange {
                        min: 1,
                        max: MAX_POINTS,
                    },
                );
                None
            }
        }
    };
    let reason = match kind {
        Some(LoyaltyKind::Adjust) => {
            errors.required("reason", body.reason.as_deref(), LoyaltyReason::parse)
        }
        _ => errors
            .check_opt("reason", body.reason.as_deref(), LoyaltyReason::parse)
            .flatten(),
    };
    let (kind, points) = errors.finish_with((|| Some((kind?, points?)))())?;
    let entry = match (kind, reason) {
        (LoyaltyKind::Adjust, Some(reason)) => Entry::Adjust { points, reason },
        (_, reason) => Entry::Redeem { points, reason },
    };
    let program = loyalty::program(&tx).await?;
    let posted = loyalty::post(&tx, &program, customer.id, entry, auth.actor(), now)
        .await
        .map_err(|e| match e {
            PostError::Insufficient(i) => insufficient(i.balance),
            PostError::Store(e) => e.into(),
        })?;
    let origin = &auth.origin;
    loyalty::audit(
        &tx,
        &posted,
        origin.actor,
        origin.request_id.clone(),
        origin.ip.map(|ip| ip.to_string()),
        now,
    )
    .await?;
    let Some(row) = posted.transaction else {
        return Err(ApiError::internal(
            "a loyalty write",
            "a redemption or adjustment wrote no ledger row",
        ));
    };
    audit::commit(tx, &state, &auth.origin).await?;
    let body = LoyaltyTransaction::from(row);
    Ok(respond::created(
        &body,
        1,
        format!("/v1/customers/{}/loyalty", customer.id),
    ))
}

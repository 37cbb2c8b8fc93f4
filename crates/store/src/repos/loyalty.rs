//! Loyalty: the program's settings, each customer's account and its ledger. Every ledger write
//! goes through [`post`]: it locks the account first (made on the first write), so concurrent
//! writes of one customer queue up on PostgreSQL (SQLite has one writer) and a debit never
//! takes the balance below zero.

use chrono::{DateTime, Duration, Utc};
use rapport_domain::audit::AuditEvent;
use rapport_domain::currency::CurrencyCode;
use rapport_domain::identity::Actor;
use rapport_domain::loyalty::{
    self, Account, EXPIRING_SOON_DAYS, EarnRate, Insufficient, LoyaltyKind, LoyaltyReason, Program,
    Thresholds, Tier, Transaction,
};
use sea_orm::sea_query::{Expr, OnConflict};
use sea_orm::{
    ActiveValue::Set, ColumnTrait, DbBackend, EntityTrait, QueryFilter, QueryOrder, QuerySelect,
    Statement,
};
use serde_json::{Value, json};
use uuid::Uuid;

use crate::entities::loyalty_account::{self, Entity as Accounts};
use crate::entities::loyalty_program::{self, Entity as Programs};
use crate::entities::loyalty_transaction::{self, Column, Entity as Transactions};
use crate::page::{Cursor, Page, SortDir, SortValue, keyset};
use crate::repos::record::record;
use crate::repos::{self, parse_column, parse_optional};
use crate::{Conn, StoreError, Tx};

fn corrupt(what: &str) -> StoreError {
    repos::corrupt(&format!("loyalty_program.{what}"), "not what was stored")
}

fn program_from(m: loyalty_program::Model) -> Result<Program, StoreError> {
    let rates = m
        .earn_rates
        .as_array()
        .ok_or_else(|| corrupt("earn_rates"))?;
    let earn_rates = rates
        .iter()
        .map(|r| {
            let text = |name: &str| r[name].as_str().ok_or_else(|| corrupt("earn_rates"));
            Ok(EarnRate {
                currency: parse_column(
                    "loyalty_program.earn_rates",
                    text("currency")?,
                    CurrencyCode::parse,
                )?,
                points_per_unit: parse_column(
                    "loyalty_program.earn_rates",
                    text("points_per_unit")?,
                    EarnRate::parse_points_per_unit,
                )?,
            })
        })
        .collect::<Result<Vec<_>, StoreError>>()?;
    Ok(Program {
        id: m.id,
        earn_rates,
        expiry_months: u32::try_from(m.expiry_months).map_err(|_| corrupt("expiry_months"))?,
        tiers: Thresholds {
            silver: m.silver_points,
            gold: m.gold_points,
            platinum: m.platinum_points,
        },
        created_at: m.created_at,
        updated_at: m.updated_at,
        version: m.version,
    })
}

/// The rates as stored (and answered): `[{"currency": "CNY", "points_per_unit": "1"}]`.
pub fn rates_json(rates: &[EarnRate]) -> Value {
    Value::Array(
        rates
            .iter()
            .map(|r| json!({"currency": r.currency.as_str(), "points_per_unit": r.points_per_unit.to_string()}))
            .collect(),
    )
}

fn program_to_active(p: &Program) -> Result<loyalty_program::ActiveModel, StoreError> {
    Ok(loyalty_program::ActiveModel {
        id: Set(p.id),
        earn_rates: Set(rates_json(&p.earn_rates)),
        expiry_months: Set(i32::try_from(p.expiry_months).map_err(|_| corrupt("expiry_months"))?),
        silver_points: Set(p.tiers.silver),
        gold_points: Set(p.tiers.gold),
        platinum_points: Set(p.tiers.platinum),
        created_at: sea_orm::ActiveValue::NotSet,
        updated_at: Set(p.updated_at),
        version: Set(p.version),
    })
}

record!(Program, Programs, to_active: program_to_active, from_model: program_from);

/// The program's settings (seeded by the migration).
///
/// # Errors
/// Database failures; `NotFound` if the row is gone.
pub async fn program(db: &impl Conn) -> Result<Program, StoreError> {
    repos::record::get(db, Program::ID).await
}

fn account_from(m: loyalty_account::Model) -> Result<Account, StoreError> {
    Ok(Account {
        id: m.id,
        balance: m.balance,
        tier: parse_column("loyalty_accounts.tier", &m.tier, Tier::parse)?,
        created_at: m.created_at,
        updated_at: m.updated_at,
        version: m.version,
    })
}

fn account_to_active(a: &Account) -> Result<loyalty_account::ActiveModel, StoreError> {
    Ok(loyalty_account::ActiveModel {
        id: Set(a.id),
        balance: Set(a.balance),
        tier: Set(a.tier.as_str().to_owned()),
        created_at: Set(a.created_at),
        updated_at: Set(a.updated_at),
        version: Set(a.version),
    })
}

record!(Account, Accounts, to_active: account_to_active, from_model: account_from);

/// A customer's account; `None` before its first ledger row.
///
/// # Errors
/// Database failures.
pub async fn account(db: &impl Conn, customer_id: Uuid) -> Result<Option<Account>, StoreError> {
    match repos::record::get(db, customer_id).await {
        Ok(a) => Ok(Some(a)),
        Err(StoreError::NotFound) => Ok(None),
        Err(e) => Err(e),
    }
}

/// The customer's account, made if it has none, locked until the transaction ends.
///
/// # Errors
/// Database failures.
pub async fn lock_account(
    db: &impl Conn,
    customer_id: Uuid,
    now: DateTime<Utc>,
) -> Result<Account, StoreError> {
    // ON CONFLICT DO NOTHING: a concurrent first write waits for the other's row instead
    // of failing (PostgreSQL refuses every statement after a failed one).
    Accounts::insert(account_to_active(&Account::new(customer_id, now))?)
        .on_conflict(
            OnConflict::column(loyalty_account::Column::Id)
                .do_nothing()
                .to_owned(),
        )
        .exec_without_returning(db)
        .await?;
    repos::get_locked(db, customer_id).await
}

fn transaction_from(m: loyalty_transaction::Model) -> Result<Transaction, StoreError> {
    Ok(Transaction {
        id: m.id,
        customer_id: m.customer_id,
        kind: parse_column("loyalty_transactions.kind", &m.kind, LoyaltyKind::parse)?,
        points: m.points,
        order_id: m.order_id,
        reason: parse_optional(
            "loyalty_transactions.reason",
            m.reason.as_deref(),
            LoyaltyReason::parse,
        )?,
        expires_at: m.expires_at,
        balance_after: m.balance_after,
        actor: Actor::from_parts(&m.actor_type, m.actor_id),
        created_at: m.created_at,
    })
}

async fn insert(db: &impl Conn, t: &Transaction) -> Result<(), StoreError> {
    let model = loyalty_transaction::ActiveModel {
        id: Set(t.id),
        customer_id: Set(t.customer_id),
        kind: Set(t.kind.as_str().to_owned()),
        points: Set(t.points),
        order_id: Set(t.order_id),
        reason: Set(t.reason.as_ref().map(ToString::to_string)),
        expires_at: Set(t.expires_at),
        balance_after: Set(t.balance_after),
        actor_type: Set(t.actor.kind().to_owned()),
        actor_id: Set(t.actor.id()),
        created_at: Set(t.created_at),
    };
    Transactions::insert(model)
        .exec_without_returning(db)
        .await?;
    Ok(())
}

/// The row of `kind` written for `order_id`, if any.
async fn of_order(
    db: &impl Conn,
    order_id: Uuid,
    kind: LoyaltyKind,
) -> Result<Option<Transaction>, StoreError> {
    Transactions::find()
        .filter(Column::OrderId.eq(order_id))
        .filter(Column::Kind.eq(kind.as_str()))
        .one(db)
        .await?
        .map(transaction_from)
        .transpose()
}

/// What a customer's ledger sums to, for its tier and its expiry.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Sums {
    /// Earnings less reversals since the tier window's start.
    pub earned_in_window: i64,
    /// Earnings that expire by the given time.
    pub earned_due: i64,
    /// Every debit so far (redemptions, negative adjustments, expiries, reversals), positive.
    pub debits: i64,
}

/// # Errors
/// Database failures.
pub async fn sums(
    db: &impl Conn,
    customer_id: Uuid,
    window_start: DateTime<Utc>,
    due_by: DateTime<Utc>,
) -> Result<Sums, StoreError> {
    let backend = db.get_database_backend();
    let (a, b, c) = match backend {
        DbBackend::Postgres => ("$1", "$2", "$3"),
        _ => ("?", "?", "?"),
    };
    let sql = format!(
        "SELECT \
           CAST(COALESCE(SUM(CASE WHEN kind IN ('earn', 'reversal') AND created_at >= {a} \
             THEN points ELSE 0 END), 0) AS BIGINT) AS in_window, \
           CAST(COALESCE(SUM(CASE WHEN kind = 'earn' AND expires_at <= {b} \
             THEN points ELSE 0 END), 0) AS BIGINT) AS due, \
           CAST(COALESCE(SUM(CASE WHEN points < 0 THEN 0 - points ELSE 0 END), 0) AS BIGINT) \
             AS debits \
         FROM loyalty_transactions WHERE customer_id = {c}"
    );
    let statement = Statement::from_sql_and_values(
        backend,
        sql,
        [window_start.into(), due_by.into(), customer_id.into()],
    );
    let Some(row) = db.query_one(statement).await? else {
        return Ok(Sums::default());
    };
    Ok(Sums {
        earned_in_window: row.try_get("", "in_window")?,
        earned_due: row.try_get("", "due")?,
        debits: row.try_get("", "debits")?,
    })
}

/// What a summary of an account shows besides its balance and tier.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Outlook {
    pub earned_12m: i64,
    pub expiring_soon: i64,
}

/// The points earned in the tier window and those expiring in the next 30 days (FIFO).
///
/// # Errors
/// Database failures.
pub async fn outlook(
    db: &impl Conn,
    customer_id: Uuid,
    now: DateTime<Utc>,
) -> Result<Outlook, StoreError> {
    let soon = now + Duration::days(EXPIRING_SOON_DAYS);
    let s = sums(db, customer_id, loyalty::tier_window_start(now), soon).await?;
    Ok(Outlook {
        earned_12m: s.earned_in_window,
        expiring_soon: loyalty::expiring(s.earned_due, s.debits),
    })
}

/// A ledger write to make.
#[derive(Debug, Clone)]
pub enum Entry {
    /// An order's points, once per order (none when zero).
    Earn {
        order_id: Uuid,
        points: i64,
        expires_at: DateTime<Utc>,
    },
    /// Points spent (positive), refused beyond the balance.
    Redeem {
        points: i64,
        reason: Option<LoyaltyReason>,
    },
    /// A correction of either sign; a negative one is refused beyond the balance.
    Adjust { points: i64, reason: LoyaltyReason },
    /// A cancelled order's earning taken back, once per order, capped at the balance.
    Reverse { order_id: Uuid },
    /// The points due by the time expired (FIFO), and the tier brought up to date.
    Expire,
}

/// What a ledger write did.
#[derive(Debug, Clone)]
pub struct Posted {
    /// The row written; `None` when there was nothing to write (done already, or zero).
    pub transaction: Option<Transaction>,
    pub before: Account,
    pub after: Account,
}

/// Why a write was refused.
#[derive(Debug, thiserror::Error)]
pub enum PostError {
    #[error("the balance of {} points does not cover it", .0.balance)]
    Insufficient(Insufficient),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Writes `entry` on the ledger of `customer_id` by `actor`, with the account locked, and keeps
/// the account's balance and tier (by `program`'s thresholds) in step, all in `db`'s
/// transaction.
///
/// # Errors
/// `Insufficient` for a debit beyond the balance; database failures.
pub async fn post(
    db: &impl Conn,
    program: &Program,
    customer_id: Uuid,
    entry: Entry,
    actor: Actor,
    now: DateTime<Utc>,
) -> Result<Posted, PostError> {
    let before = lock_account(db, customer_id, now).await?;
    let balance = before.balance;
    let insufficient = PostError::Insufficient;
    let row = |kind, points: i64, order_id, reason, expires_at| Transaction {
        id: Uuid::now_v7(),
        customer_id,
        kind,
        points,
        order_id,
        reason,
        expires_at,
        balance_after: balance + points,
        actor,
        created_at: now,
    };
    let written = match entry {
        Entry::Earn {
            order_id,
            points,
            expires_at,
        } => {
            let done = of_order(db, order_id, LoyaltyKind::Earn).await?.is_some();
            (!done && points > 0).then(|| {
                row(
                    LoyaltyKind::Earn,
                    points,
                    Some(order_id),
                    None,
                    Some(expires_at),
                )
            })
        }
        Entry::Redeem { points, reason } => {
            loyalty::debit(balance, points).map_err(insufficient)?;
            Some(row(LoyaltyKind::Redeem, -points, None, reason, None))
        }
        Entry::Adjust { points, reason } => {
            if points < 0 {
                loyalty::debit(balance, -points).map_err(insufficient)?;
            }
            Some(row(LoyaltyKind::Adjust, points, None, Some(reason), None))
        }
        Entry::Reverse { order_id } => {
            let done = of_order(db, order_id, LoyaltyKind::Reversal)
                .await?
                .is_some();
            let earned = of_order(db, order_id, LoyaltyKind::Earn).await?;
            match earned {
                Some(earned) if !done => {
                    let back = loyalty::reversal_points(earned.points, balance);
                    // The cap, when it bit, is recorded on the row.
                    let reason = (back < earned.points)
                        .then(|| {
                            LoyaltyReason::parse(&format!(
                                "The order earned {} points; {back} taken back, the balance held no more.",
                                earned.points
                            ))
                            .ok()
                        })
                        .flatten();
                    Some(row(
                        LoyaltyKind::Reversal,
                        -back,
                        Some(order_id),
                        reason,
                        None,
                    ))
                }
                _ => None,
            }
        }
        Entry::Expire => {
            let s = sums(db, customer_id, now, now).await?;
            let due = loyalty::expiring(s.earned_due, s.debits).min(balance);
            (due > 0).then(|| row(LoyaltyKind::Expire, -due, None, None, None))
        }
    };
    if let Some(t) = &written {
        insert(db, t).await?;
    }
    let window = sums(db, customer_id, loyalty::tier_window_start(now), now).await?;
    let mut after = before.clone();
    after.balance = written.as_ref().map_or(balance, |t| t.balance_after);
    after.tier = program.tiers.tier_for(window.earned_in_window);
    if after != before {
        after = repos::save(db, &after, now).await?;
    }
    Ok(Posted {
        transaction: written,
        before,
        after,
    })
}

/// Records the audit events of `posted`: the ledger row (`loyalty_transaction`, `create`) and
/// a tier change (`loyalty_account`, `tier_changed`), on the write's transaction.
///
/// # Errors
/// Database failures.
pub async fn audit(
    tx: &Tx,
    posted: &Posted,
    actor: Actor,
    request_id: Option<String>,
    ip: Option<String>,
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    let customer_id = posted.after.id;
    let event = |entity_type: &str, entity_id, action: &str, changes| AuditEvent {
        id: Uuid::now_v7(),
        occurred_at: now,
        actor,
        entity_type: entity_type.to_owned(),
        entity_id,
        customer_id: Some(customer_id),
        action: action.to_owned(),
        request_id: request_id.clone(),
        ip: ip.clone(),
        changes,
    };
    if let Some(t) = &posted.transaction {
        let after = |v: Value| json!({"before": null, "after": v});
        let changes = json!({
            "kind": after(json!(t.kind.as_str())),
            "points": after(json!(t.points)),
            "order_id": after(json!(t.order_id)),
            "reason": after(json!(t.reason.as_ref().map(|r| r.as_str()))),
            "expires_at": after(json!(t.expires_at)),
            "balance_after": after(json!(t.balance_after)),
        });
        crate::repos::audit::record(tx, event("loyalty_transaction", t.id, "create", changes))
            .await?;
    }
    if posted.before.tier != posted.after.tier {
        let changes = json!({"tier": {
            "before": posted.before.tier.as_str(),
            "after": posted.after.tier.as_str(),
        }});
        crate::repos::audit::record(
            tx,
            event("loyalty_account", customer_id, "tier_changed", changes),
        )
        .await?;
    }
    Ok(())
}

/// Filters of a customer's ledger.
#[derive(Debug, Clone, Default)]
pub struct LedgerFilter {
    pub kind: Option<LoyaltyKind>,
}

/// A customer's ledger, newest first.
///
/// # Errors
/// Database failures.
pub async fn ledger(
    db: &impl Conn,
    customer_id: Uuid,
    filter: &LedgerFilter,
    after: Option<Cursor>,
    limit: u64,
) -> Result<Page<Transaction>, StoreError> {
    let mut select = Transactions::find().filter(Column::CustomerId.eq(customer_id));
    if let Some(kind) = filter.kind {
        select = select.filter(Column::Kind.eq(kind.as_str()));
    }
    let rows = keyset(
        select,
        Column::CreatedAt,
        Column::Id,
        SortDir::Desc,
        after,
        limit,
    )
    .all(db)
    .await?;
    Page::from_models(rows, limit, transaction_from, |t| Cursor {
        value: SortValue::Time(t.created_at),
        id: t.id,
    })
}

/// A customer's whole ledger, oldest first (exports).
///
/// # Errors
/// Database failures.
pub async fn of_customer(
    db: &impl Conn,
    customer_id: Uuid,
) -> Result<Vec<Transaction>, StoreError> {
    Transactions::find()
        .filter(Column::CustomerId.eq(customer_id))
        .order_by_asc(Column::CreatedAt)
        .order_by_asc(Column::Id)
        .all(db)
        .await?
        .into_iter()
        .map(transaction_from)
        .collect()
}

/// One page of the accounts that may have points to expire or a tier to lower, in id order
/// after `after`.
///
/// # Errors
/// Database failures.
pub async fn accounts_to_review(
    db: &impl Conn,
    after: Option<Uuid>,
    limit: u64,
) -> Result<Vec<Uuid>, StoreError> {
    use loyalty_account::Column as A;
    let mut select =
        Accounts::find().filter(A::Balance.gt(0).or(A::Tier.ne(Tier::Member.as_str())));
    if let Some(after) = after {
        select = select.filter(A::Id.gt(after));
    }
    Ok(select
        .select_only()
        .column(A::Id)
        .order_by_asc(A::Id)
        .limit(limit)
        .into_tuple()
        .all(db)
        .await?)
}

/// Blanks the reasons of a customer's ledger rows (free text); the points stay. Answers how
/// many rows held one.
///
/// # Errors
/// Database failures.
pub async fn erase_text(
    db: &impl Conn,
    customer_id: Uuid,
    tombstone: &str,
) -> Result<u64, StoreError> {
    let result = Transactions::update_many()
        .col_expr(Column::Reason, Expr::value(tombstone))
        .filter(Column::CustomerId.eq(customer_id))
        .filter(Column::Reason.is_not_null())
        .exec(db)
        .await?;
    Ok(result.rows_affected)
}

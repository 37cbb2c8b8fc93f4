//! Quotes with their line items, and what quotes and orders share: lines and totals.

use chrono::NaiveDate;
use rapport_domain::currency::CurrencyCode;
use rapport_domain::money::Money;
use rapport_domain::pricing::{Line, Totals};
use rapport_domain::quote::{DocumentNotes, Quote, QuoteStatus};
use sea_orm::{
    ActiveValue::Set, ColumnTrait, Condition, EntityTrait, QueryFilter, QueryOrder, QuerySelect,
};
use uuid::Uuid;

use crate::entities::quote::{self, Column, Entity};
use crate::page::{Changes, Cursor, Page, SortDir, SortValue, list_cursor, list_order};
use crate::repos::record::record;
use crate::repos::{corrupt, customer_visible, parse_column, parse_optional};
use crate::{Conn, StoreError};
use rapport_domain::access::Visibility;

/// Reads stored lines and totals (minor units) back.
pub(crate) fn read_priced(
    table: &str,
    lines: serde_json::Value,
    currency: &str,
    minor: [i64; 4],
) -> Result<(CurrencyCode, Vec<Line>, Totals), StoreError> {
    let currency = parse_column(&format!("{table}.currency"), currency, CurrencyCode::parse)?;
    let column = format!("{table}.lines");
    let lines = serde_json::from_value::<Vec<Line>>(lines)
        .map_err(|e| corrupt(&column, e))?
        .iter()
        .map(|line| line.restored(currency).map_err(|e| corrupt(&column, e)))
        .collect::<Result<Vec<_>, _>>()?;
    let money = |m: i64| Money::from_minor(m, currency).map_err(|e| corrupt(table, e));
    let totals = Totals {
        subtotal: money(minor[0])?,
        discount: money(minor[1])?,
        tax: money(minor[2])?,
        total: money(minor[3])?,
    };
    Ok((currency, lines, totals))
}

/// The stored form of lines.
pub(crate) fn lines_json(lines: &[Line]) -> Result<serde_json::Value, StoreError> {
    serde_json::to_value(lines).map_err(|e| corrupt("lines", e))
}

/// Replaces the free text of a customer's documents (notes, line descriptions) with
/// `tombstone`: its personal data erased, its amounts kept.
pub(crate) fn erased_lines(lines: &[Line], tombstone: &str) -> Vec<Line> {
    lines
        .iter()
        .map(|l| Line {
            description: tombstone.to_owned(),
            ..l.clone()
        })
        .collect()
}

fn to_domain(m: quote::Model) -> Result<Quote, StoreError> {
    let minor = [
        m.subtotal_minor,
        m.discount_minor,
        m.tax_minor,
        m.total_minor,
    ];
    let (currency, lines, totals) = read_priced("quotes", m.lines, &m.currency, minor)?;
    Ok(Quote {
        id: m.id,
        number: m.number,
        opportunity_id: m.opportunity_id,
        customer_id: m.customer_id,
        currency,
        status: parse_column("quotes.status", &m.status, QuoteStatus::parse)?,
        valid_until: m.valid_until,
        lines,
        totals,
        notes: parse_optional("quotes.notes", m.notes.as_deref(), DocumentNotes::parse)?,
        sent_at: m.sent_at,
        decided_at: m.decided_at,
        created_by: m.created_by,
        created_at: m.created_at,
        updated_at: m.updated_at,
        version: m.version,
    })
}

fn to_active(q: &Quote) -> Result<quote::ActiveModel, StoreError> {
    Ok(quote::ActiveModel {
        id: Set(q.id),
        number: Set(q.number.clone()),
        customer_id: Set(q.customer_id),
        currency: Set(q.currency.as_str().to_owned()),
        status: Set(q.status.as_str().to_owned()),
        lines: Set(lines_json(&q.lines)?),
        subtotal_minor: Set(q.totals.subtotal.minor()),
        discount_minor: Set(q.totals.discount.minor()),
        tax_minor: Set(q.totals.tax.minor()),
        total_minor: Set(q.totals.total.minor()),
        notes: Set(q.notes.as_ref().map(ToString::to_string)),
        created_by: Set(q.created_by),
        created_at: Set(q.created_at),
        updated_at: Set(q.updated_at),
        version: Set(q.version),
        opportunity_id: Set(q.opportunity_id),
        valid_until: Set(q.valid_until),
        sent_at: Set(q.sent_at),
        decided_at: Set(q.decided_at),
    })
}

record!(Quote, Entity, to_active: to_active, from_model: to_domain);

/// # Errors
/// Database failures.
pub async fn insert(db: &impl Conn, q: &Quote) -> Result<(), StoreError> {
    Entity::insert(to_active(q)?)
        .exec_without_returning(db)
        .await?;
    Ok(())
}

/// Filters of the quote list.
#[derive(Debug, Clone, Default)]
pub struct QuoteFilter {
    pub opportunity_id: Option<Uuid>,
    pub customer_id: Option<Uuid>,
    /// The status as of a day ([`Quote::as_of`]): a sent quote past its last day is expired,
    /// whether the scheduled check recorded it yet or not.
    pub status: Option<(QuoteStatus, NaiveDate)>,
    /// The change feed: records changed in this span, oldest change first.
    pub changes: Option<Changes>,
}

/// Quotes of live customers the caller sees, newest first.
///
/// # Errors
/// Database failures.
pub async fn list(
    db: &impl Conn,
    visibility: Visibility,
    filter: &QuoteFilter,
    after: Option<Cursor>,
    limit: u64,
) -> Result<Page<Quote>, StoreError> {
    let mut select = Entity::find().filter(customer_visible(Column::CustomerId, visibility));
    if let Some(id) = filter.opportunity_id {
        select = select.filter(Column::OpportunityId.eq(id));
    }
    if let Some(id) = filter.customer_id {
        select = select.filter(Column::CustomerId.eq(id));
    }
    if let Some((status, today)) = filter.status {
        let sent = || Column::Status.eq(QuoteStatus::Sent.as_str());
        select = select.filter(match status {
            QuoteStatus::Sent => Condition::all()
                .add(sent())
                .add(Column::ValidUntil.gte(today)),
            QuoteStatus::Expired => Condition::any()
                .add(Column::Status.eq(QuoteStatus::Expired.as_str()))
                .add(
                    Condition::all()
                        .add(sent())
                        .add(Column::ValidUntil.lt(today)),
                ),
            other => Condition::all().add(Column::Status.eq(other.as_str())),
        });
    }
    let own = (Column::CreatedAt, SortDir::Desc);
    let select = list_order(
        select,
        filter.changes,
        own,
        Column::UpdatedAt,
        Column::Id,
        after,
        limit,
    );
    let rows = select.all(db).await?;
    Page::from_models(rows, limit, to_domain, |q| {
        list_cursor(
            filter.changes,
            q.updated_at,
            SortValue::Time(q.created_at),
            q.id,
        )
    })
}

/// Sent quotes whose last day is before `today`: what the expiry check moves.
///
/// # Errors
/// Database failures.
pub async fn overdue_ids(
    db: &impl Conn,
    today: NaiveDate,
    limit: u64,
) -> Result<Vec<Uuid>, StoreError> {
    Ok(Entity::find()
        .select_only()
        .column(Column::Id)
        .filter(Column::Status.eq(QuoteStatus::Sent.as_str()))
        .filter(Column::ValidUntil.lt(today))
        .order_by_asc(Column::Id)
        .limit(limit)
        .into_tuple()
        .all(db)
        .await?)
}

/// All quotes of some customers (exports), oldest first.
///
/// # Errors
/// Database failures.
pub async fn of_customers(db: &impl Conn, customer_ids: &[Uuid]) -> Result<Vec<Quote>, StoreError> {
    Entity::find()
        .filter(Column::CustomerId.is_in(customer_ids.iter().copied()))
        .order_by_asc(Column::Id)
        .all(db)
        .await?
        .into_iter()
        .map(to_domain)
        .collect()
}

/// Erases the free text of a customer's quotes (notes, line descriptions), keeping their
/// amounts; each quote gets a new version.
///
/// # Errors
/// Database failures.
pub async fn erase_text(
    db: &impl Conn,
    customer_id: Uuid,
    tombstone: &str,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<u64, StoreError> {
    let quotes = of_customers(db, &[customer_id]).await?;
    let erased = |q: &Quote| Quote {
        notes: None,
        lines: erased_lines(&q.lines, tombstone),
        ..q.clone()
    };
    crate::repos::save_each(db, &quotes, erased, now).await
}

//! Orders: recorded purchases, with their line items.

use rapport_domain::access::Visibility;
use rapport_domain::quote::{DocumentNotes, Order, OrderStatus};
use sea_orm::{ActiveValue::Set, ColumnTrait, EntityTrait, QueryFilter, QueryOrder};
use uuid::Uuid;

use crate::entities::order::{self, Column, Entity};
use crate::page::{Changes, Cursor, Page, SortDir, SortValue, list_cursor, list_order};
use crate::repos::quotes::{erased_lines, lines_json, read_priced};
use crate::repos::record::record;
use crate::repos::save_each;
use crate::repos::{customer_visible, parse_column, parse_optional};
use crate::{Conn, StoreError};

/// The unique index that allows one order per quote (SQLite names the column).
pub const QUOTE_ORDERED: &[&str] = &["orders_quote_id_key", "orders.quote_id"];

fn to_domain(m: order::Model) -> Result<Order, StoreError> {
    let minor = [
        m.subtotal_minor,
        m.discount_minor,
        m.tax_minor,
        m.total_minor,
    ];
    let (currency, lines, totals) = read_priced("orders", m.lines, &m.currency, minor)?;
    Ok(Order {
        id: m.id,
        number: m.number,
        customer_id: m.customer_id,
        opportunity_id: m.opportunity_id,
        quote_id: m.quote_id,
        currency,
        status: parse_column("orders.status", &m.status, OrderStatus::parse)?,
        lines,
        totals,
        notes: parse_optional("orders.notes", m.notes.as_deref(), DocumentNotes::parse)?,
        ordered_at: m.ordered_at,
        fulfilled_at: m.fulfilled_at,
        cancelled_at: m.cancelled_at,
        created_by: m.created_by,
        created_at: m.created_at,
        updated_at: m.updated_at,
        version: m.version,
    })
}

fn to_active(o: &Order) -> Result<order::ActiveModel, StoreError> {
    Ok(order::ActiveModel {
        id: Set(o.id),
        number: Set(o.number.clone()),
        customer_id: Set(o.customer_id),
        currency: Set(o.currency.as_str().to_owned()),
        status: Set(o.status.as_str().to_owned()),
        lines: Set(lines_json(&o.lines)?),
        subtotal_minor: Set(o.totals.subtotal.minor()),
        discount_minor: Set(o.totals.discount.minor()),
        tax_minor: Set(o.totals.tax.minor()),
        total_minor: Set(o.totals.total.minor()),
        notes: Set(o.notes.as_ref().map(ToString::to_string)),
        created_by: Set(o.created_by),
        created_at: Set(o.created_at),
        updated_at: Set(o.updated_at),
        version: Set(o.version),
        opportunity_id: Set(o.opportunity_id),
        quote_id: Set(o.quote_id),
        ordered_at: Set(o.ordered_at),
        fulfilled_at: Set(o.fulfilled_at),
        cancelled_at: Set(o.cancelled_at),
    })
}

record!(Order, Entity, to_active: to_active, from_model: to_domain);

/// # Errors
/// `Conflict` on [`QUOTE_ORDERED`].
pub async fn insert(db: &impl Conn, o: &Order) -> Result<(), StoreError> {
    Entity::insert(to_active(o)?)
        .exec_without_returning(db)
        .await?;
    Ok(())
}

/// Filters of the order list.
#[derive(Debug, Clone, Default)]
pub struct OrderFilter {
    pub opportunity_id: Option<Uuid>,
    pub customer_id: Option<Uuid>,
    pub status: Option<OrderStatus>,
    /// The change feed: records changed in this span, oldest change first.
    pub changes: Option<Changes>,
}

/// Orders of live customers the caller sees, newest first.
///
/// # Errors
/// Database failures.
pub async fn list(
    db: &impl Conn,
    visibility: Visibility,
    filter: &OrderFilter,
    after: Option<Cursor>,
    limit: u64,
) -> Result<Page<Order>, StoreError> {
    let mut select = Entity::find().filter(customer_visible(Column::CustomerId, visibility));
    if let Some(id) = filter.opportunity_id {
        select = select.filter(Column::OpportunityId.eq(id));
    }
    if let Some(id) = filter.customer_id {
        select = select.filter(Column::CustomerId.eq(id));
    }
    if let Some(status) = filter.status {
        select = select.filter(Column::Status.eq(status.as_str()));
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
    Page::from_models(rows, limit, to_domain, |o| {
        list_cursor(
            filter.changes,
            o.updated_at,
            SortValue::Time(o.created_at),
            o.id,
        )
    })
}

/// All orders of some customers (exports), oldest first.
///
/// # Errors
/// Database failures.
pub async fn of_customers(db: &impl Conn, customer_ids: &[Uuid]) -> Result<Vec<Order>, StoreError> {
    Entity::find()
        .filter(Column::CustomerId.is_in(customer_ids.iter().copied()))
        .order_by_asc(Column::Id)
        .all(db)
        .await?
        .into_iter()
        .map(to_domain)
        .collect()
}

/// Erases the free text of a customer's orders (notes, line descriptions), keeping their
/// amounts (they are purchases); each order gets a new version.
///
/// # Errors
/// Database failures.
pub async fn erase_text(
    db: &impl Conn,
    customer_id: Uuid,
    tombstone: &str,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<u64, StoreError> {
    let orders = of_customers(db, &[customer_id]).await?;
    let erased = |o: &Order| Order {
        notes: None,
        lines: erased_lines(&o.lines, tombstone),
        ..o.clone()
    };
    save_each(db, &orders, erased, now).await
}

//! The product catalog.

use rapport_domain::money::Money;
use rapport_domain::name::Title;
use rapport_domain::pricing::Percent;
use rapport_domain::product::{Product, ProductCode, ProductDescription};
use sea_orm::{ActiveValue::Set, ColumnTrait, EntityTrait, QueryFilter};
use uuid::Uuid;

use crate::entities::product::{self, Column, Entity};
use crate::page::{Changes, Cursor, Page, SortDir, SortValue, list_cursor, list_order};
use crate::repos::record::{self, record};
use crate::repos::{corrupt, parse_column, parse_optional};
use crate::{Conn, StoreError};

/// The unique index of product codes (SQLite names the column).
pub const CODE_TAKEN: &[&str] = &["products_code_key", "products.code_key"];

/// A price as stored: `{"amount": "12.50", "currency": "CNY"}`.
#[derive(serde::Serialize, serde::Deserialize)]
struct StoredPrice {
    amount: String,
    currency: String,
}

fn to_domain(m: product::Model) -> Result<Product, StoreError> {
    let prices: Vec<StoredPrice> =
        serde_json::from_value(m.prices).map_err(|e| corrupt("products.prices", e))?;
    Ok(Product {
        id: m.id,
        code: parse_column("products.code", &m.code, ProductCode::parse)?,
        name: parse_column("products.name", &m.name, Title::parse)?,
        description: parse_optional(
            "products.description",
            m.description.as_deref(),
            ProductDescription::parse,
        )?,
        prices: prices
            .iter()
            .map(|p| {
                Money::parse(&p.amount, &p.currency).map_err(|e| corrupt("products.prices", e))
            })
            .collect::<Result<_, _>>()?,
        tax_rate: parse_column("products.tax_rate", &m.tax_rate, Percent::parse)?,
        active: m.active,
        created_at: m.created_at,
        updated_at: m.updated_at,
        version: m.version,
    })
}

fn to_active(p: &Product) -> Result<product::ActiveModel, StoreError> {
    Ok(product::ActiveModel {
        id: Set(p.id),
        code: Set(p.code.as_str().to_owned()),
        code_key: Set(p.code.key()),
        name: Set(p.name.to_string()),
        description: Set(p.description.as_ref().map(ToString::to_string)),
        prices: Set(serde_json::to_value(
            p.prices
                .iter()
                .map(|m| StoredPrice {
                    amount: m.amount_string(),
                    currency: m.currency().as_str().to_owned(),
                })
                .collect::<Vec<_>>(),
        )
        .map_err(|e| corrupt("products.prices", e))?),
        tax_rate: Set(p.tax_rate.value().to_string()),
        active: Set(p.active),
        created_at: Set(p.created_at),
        updated_at: Set(p.updated_at),
        version: Set(p.version),
    })
}

record!(Product, Entity, to_active: to_active, from_model: to_domain);

/// # Errors
/// `Conflict` on [`CODE_TAKEN`].
pub async fn insert(db: &impl Conn, p: &Product) -> Result<(), StoreError> {
    Entity::insert(to_active(p)?)
        .exec_without_returning(db)
        .await?;
    Ok(())
}

/// # Errors
/// `NotFound` when there is none.
pub async fn get(db: &impl Conn, id: Uuid) -> Result<Product, StoreError> {
    record::get(db, id).await
}

/// The products of `ids` that exist, in no order.
///
/// # Errors
/// Database failures.
pub async fn get_many(db: &impl Conn, ids: &[Uuid]) -> Result<Vec<Product>, StoreError> {
    Entity::find()
        .filter(Column::Id.is_in(ids.iter().copied()))
        .all(db)
        .await?
        .into_iter()
        .map(to_domain)
        .collect()
}

/// Products, newest first; with `active`, only those active (or not).
///
/// # Errors
/// Database failures.
pub async fn list(
    db: &impl Conn,
    active: Option<bool>,
    changes: Option<Changes>,
    after: Option<Cursor>,
    limit: u64,
) -> Result<Page<Product>, StoreError> {
    let mut select = Entity::find();
    if let Some(active) = active {
        select = select.filter(Column::Active.eq(active));
    }
    let own = (Column::CreatedAt, SortDir::Desc);
    let select = list_order(
        select,
        changes,
        own,
        Column::UpdatedAt,
        Column::Id,
        after,
        limit,
    );
    let rows = select.all(db).await?;
    Page::from_models(rows, limit, to_domain, |p| {
        list_cursor(changes, p.updated_at, SortValue::Time(p.created_at), p.id)
    })
}

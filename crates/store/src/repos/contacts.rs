//! Contacts of customers.

use chrono::{DateTime, Utc};
use rapport_domain::access::Visibility;
use rapport_domain::birthday::Birthday;
use rapport_domain::contact::{Contact, MarketingConsent};
use rapport_domain::enums::{ConsentSource, PreferredChannel};
use rapport_domain::name::{PersonName, Title};
use sea_orm::sea_query::{Expr, SimpleExpr};
use sea_orm::{
    ActiveValue::Set, ColumnTrait, DbBackend, EntityTrait, QueryFilter, QueryOrder, QuerySelect,
};
use uuid::Uuid;

use crate::entities::contact::{self, Column, Entity};
use crate::page::{Changes, Cursor, Page, SortDir, SortValue, list_cursor, list_order};
use crate::repos::delete_row;
use crate::repos::deletions::{self, Deleted, Kind, Tombstone};
use crate::repos::record::{self, record};
use crate::repos::{corrupt, customer_visible, parse_column, parse_optional};
use crate::{Conn, StoreError};

pub(crate) fn to_domain(m: contact::Model) -> Result<Contact, StoreError> {
    let consent = match (
        m.marketing_consent,
        m.marketing_consent_at,
        m.marketing_consent_source.as_deref(),
    ) {
        (Some(granted), Some(at), Some(source)) => Some(MarketingConsent {
            granted,
            at,
            source: parse_column(
                "contacts.marketing_consent_source",
                source,
                ConsentSource::parse,
            )?,
        }),
        _ => None,
    };
    let birthday = match (m.birthday_month, m.birthday_day) {
        (Some(month), Some(day)) => Some(
            Birthday::restore(month.into(), day.into(), m.birthday_year.map(i64::from))
                .map_err(|e| corrupt("contacts.birthday", e))?,
        ),
        _ => None,
    };
    Ok(Contact {
        id: m.id,
        customer_id: m.customer_id,
        first_name: parse_column("contacts.first_name", &m.first_name, PersonName::parse)?,
        last_name: parse_optional(
            "contacts.last_name",
            m.last_name.as_deref(),
            PersonName::parse,
        )?,
        title: parse_optional("contacts.title", m.title.as_deref(), Title::parse)?,
        emails: serde_json::from_value(m.emails).map_err(|e| corrupt("contacts.emails", e))?,
        phones: serde_json::from_value(m.phones).map_err(|e| corrupt("contacts.phones", e))?,
        preferred_channel: parse_optional(
            "contacts.preferred_channel",
            m.preferred_channel.as_deref(),
            PreferredChannel::parse,
        )?,
        marketing_consent: consent,
        birthday,
        is_primary: m.is_primary,
        created_at: m.created_at,
        updated_at: m.updated_at,
        version: m.version,
    })
}

fn to_active(c: &Contact) -> contact::ActiveModel {
    let json = |v: serde_json::Result<serde_json::Value>| v.unwrap_or(serde_json::Value::Null);
    contact::ActiveModel {
        id: Set(c.id),
        customer_id: Set(c.customer_id),
        first_name: Set(c.first_name.to_string()),
        last_name: Set(c.last_name.as_ref().map(ToString::to_string)),
        title: Set(c.title.as_ref().map(ToString::to_string)),
        emails: Set(json(serde_json::to_value(&c.emails))),
        phones: Set(json(serde_json::to_value(&c.phones))),
        preferred_channel: Set(c.preferred_channel.map(|p| p.as_str().to_owned())),
        marketing_consent: Set(c.marketing_consent.map(|m| m.granted)),
        marketing_consent_at: Set(c.marketing_consent.map(|m| m.at)),
        marketing_consent_source: Set(c.marketing_consent.map(|m| m.source.as_str().to_owned())),
        birthday_month: Set(c.birthday.map(|b| b.month().into())),
        birthday_day: Set(c.birthday.map(|b| b.day().into())),
        birthday_year: Set(c.birthday.and_then(|b| b.year())),
        is_primary: Set(c.is_primary),
        created_at: Set(c.created_at),
        updated_at: Set(c.updated_at),
        version: Set(c.version),
    }
}

record!(Contact, Entity, to_active: |c| Ok(to_active(c)), from_model: to_domain);

/// Inserts contacts as given (the caller sets ids, times and version 1).
///
/// # Errors
/// Database failures.
pub async fn insert_many(db: &impl Conn, contacts: &[Contact]) -> Result<(), StoreError> {
    if contacts.is_empty() {
        return Ok(());
    }
    Entity::insert_many(contacts.iter().map(to_active))
        .exec_without_returning(db)
        .await?;
    Ok(())
}

/// # Errors
/// `NotFound` when there is no such contact.
pub async fn get(db: &impl Conn, id: Uuid) -> Result<Contact, StoreError> {
    record::get(db, id).await
}

/// Filters of the contact list.
#[derive(Debug, Clone, Copy, Default)]
pub struct ContactFilter {
    pub customer_id: Option<Uuid>,
    /// Only contacts without any email.
    pub without_email: bool,
    /// Only contacts without any phone.
    pub without_phone: bool,
    /// The change feed: contacts changed in this span, oldest change first.
    pub changes: Option<Changes>,
}

/// `column` holds an empty JSON array.
fn empty_array(backend: DbBackend, column: &str) -> SimpleExpr {
    Expr::cust(match backend {
        DbBackend::Postgres => format!("jsonb_array_length(contacts.{column}) = 0"),
        _ => format!("json_array_length(contacts.{column}) = 0"),
    })
}

/// One page of the contacts of the live customers `visibility` allows, newest first (oldest
/// change first in a change feed).
///
/// # Errors
/// Database failures.
pub async fn list(
    db: &impl Conn,
    visibility: Visibility,
    filter: &ContactFilter,
    after: Option<Cursor>,
    limit: u64,
) -> Result<Page<Contact>, StoreError> {
    let backend = db.get_database_backend();
    let mut select = Entity::find().filter(customer_visible(Column::CustomerId, visibility));
    if let Some(id) = filter.customer_id {
        select = select.filter(Column::CustomerId.eq(id));
    }
    if filter.without_email {
        select = select.filter(empty_array(backend, "emails"));
    }
    if filter.without_phone {
        select = select.filter(empty_array(backend, "phones"));
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
    Page::from_models(rows, limit, to_domain, |c| {
        list_cursor(
            filter.changes,
            c.updated_at,
            SortValue::Time(c.created_at),
            c.id,
        )
    })
}

/// One page of the contacts deleted in `changes` from live customers `visibility` allows
/// (and from `filter.customer_id`), oldest deletion first.
///
/// # Errors
/// Database failures.
pub async fn deleted(
    db: &impl Conn,
    visibility: Visibility,
    filter: &ContactFilter,
    changes: Changes,
    after: Option<Cursor>,
    limit: u64,
) -> Result<Page<Tombstone>, StoreError> {
    let customer = filter.customer_id;
    deletions::of_customers(
        db,
        Kind::Contact,
        visibility,
        customer,
        changes,
        after,
        limit,
    )
    .await
}

/// The contacts of a customer: the primary first, then in creation order.
///
/// # Errors
/// Database failures.
pub async fn of_customer(db: &impl Conn, customer_id: Uuid) -> Result<Vec<Contact>, StoreError> {
    let rows = Entity::find()
        .filter(Column::CustomerId.eq(customer_id))
        .order_by_desc(Column::IsPrimary)
        .order_by_asc(Column::Id)
        .all(db)
        .await?;
    rows.into_iter().map(to_domain).collect()
}

/// The customer's primary contact, if it has one.
///
/// # Errors
/// Database failures.
pub async fn primary_of(db: &impl Conn, customer_id: Uuid) -> Result<Option<Contact>, StoreError> {
    Entity::find()
        .filter(Column::CustomerId.eq(customer_id))
        .filter(Column::IsPrimary.eq(true))
        .one(db)
        .await?
        .map(to_domain)
        .transpose()
}

/// The contacts of several customers, by customer, each in [`of_customer`]'s order.
///
/// # Errors
/// Database failures.
pub async fn of_customers(
    db: &impl Conn,
    customer_ids: &[Uuid],
) -> Result<std::collections::HashMap<Uuid, Vec<Contact>>, StoreError> {
    let rows = Entity::find()
        .filter(Column::CustomerId.is_in(customer_ids.iter().copied()))
        .order_by_asc(Column::CustomerId)
        .order_by_desc(Column::IsPrimary)
        .order_by_asc(Column::Id)
        .all(db)
        .await?;
    let mut out: std::collections::HashMap<Uuid, Vec<Contact>> = std::collections::HashMap::new();
    for row in rows {
        let contact = to_domain(row)?;
        out.entry(contact.customer_id).or_default().push(contact);
    }
    Ok(out)
}

/// The contacts of live customers whose birthday is on `month`/`day` (year aside), in id
/// order, `limit` at a time after the id `after`: the daily scan of the birthdays of a day
/// (in a common year, 28 February's and 29 February's: `birthday::celebrated_on`).
///
/// # Errors
/// Database failures.
pub async fn born_on(
    db: &impl Conn,
    month: u8,
    day: u8,
    after: Option<Uuid>,
    limit: u64,
) -> Result<Vec<Contact>, StoreError> {
    let mut select = Entity::find()
        .filter(customer_visible(Column::CustomerId, Visibility::All))
        .filter(Column::BirthdayMonth.eq(i16::from(month)))
        .filter(Column::BirthdayDay.eq(i16::from(day)));
    if let Some(after) = after {
        select = select.filter(Column::Id.gt(after));
    }
    let rows = select.order_by_asc(Column::Id).limit(limit).all(db).await?;
    rows.into_iter().map(to_domain).collect()
}

/// Makes `primary` the only primary contact of its customer.
///
/// # Errors
/// Database failures.
pub async fn clear_other_primaries(
    db: &impl Conn,
    customer_id: Uuid,
    primary: Uuid,
) -> Result<(), StoreError> {
    Entity::update_many()
        .col_expr(Column::IsPrimary, Expr::value(false))
        .filter(Column::CustomerId.eq(customer_id))
        .filter(Column::Id.ne(primary))
        .filter(Column::IsPrimary.eq(true))
        .exec(db)
        .await?;
    Ok(())
}

/// Deletes a contact for good, leaving its tombstone for the change feed.
///
/// # Errors
/// `NotFound` when there is no such contact.
pub async fn delete(
    db: &impl Conn,
    contact: &Contact,
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    delete_row::<Entity>(db, contact.id).await?;
    let deleted = Deleted {
        kind: Kind::Contact,
        id: contact.id,
        customer_id: Some(contact.customer_id),
        assignee_id: None,
        created_by: None,
    };
    deletions::record(db, deleted, now).await
}

//! Customers: rows, their search terms and duplicate keys, lists, and merges.

mod distribution;
mod duplicates;
mod index;
mod lead_response;
mod list;
mod merge;
mod term_shares;

pub use distribution::distribution;
pub use duplicates::{DuplicateGroup, duplicate_groups, find_duplicates, holding, rebuild_groups};
pub use index::{
    INDEX_VERSION, count_all, document as search_document, duplicate_keys, external_id_key,
    index_new, index_version, rebuild_index, reindex, reindex_batch, set_index_version,
};
pub use lead_response::{
    LeadCounts, LeadScope, lead_response, overdue_leads, time_to_first_contact,
};
pub(crate) use list::visible as visible_only;
pub use list::{CustomerFilter, CustomerSort, list};
pub use merge::{Moved, move_children};

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use rapport_domain::contact::Contact;
use rapport_domain::customer::{Customer, Description};
use rapport_domain::dedupe::name_key;
use rapport_domain::enums::{
    Channel, CustomerKind, Grade, Industry, LifecycleStage, SizeBand, Source,
};
use rapport_domain::name::OrgName;
use rapport_domain::registration_number::RegistrationNumber;
use rapport_domain::web_url::WebUrl;
use sea_orm::{ActiveValue::Set, ColumnTrait, EntityTrait, QueryFilter, QueryOrder};
use uuid::Uuid;

use crate::entities::customer::{self, Column, Entity};
use crate::repos::record::{self, record};
use crate::repos::{parse_column, parse_optional};
use crate::{Conn, StoreError, crypto};

/// Where `last_activity_sort` puts customers that never had an activity: first ascending,
/// last descending.
fn epoch() -> DateTime<Utc> {
    DateTime::<Utc>::UNIX_EPOCH
}

/// Reads a JSON column.
fn json<T: serde::de::DeserializeOwned>(
    column: &str,
    value: serde_json::Value,
) -> Result<T, StoreError> {
    serde_json::from_value(value).map_err(|e| crate::repos::corrupt(column, e))
}

fn to_domain(m: customer::Model) -> Result<Customer, StoreError> {
    Ok(Customer {
        id: m.id,
        name: parse_column("customers.name", &m.name, OrgName::parse)?,
        kind: parse_column("customers.kind", &m.kind, CustomerKind::parse)?,
        industry: parse_optional("customers.industry", m.industry.as_deref(), Industry::parse)?,
        size: parse_optional("customers.size", m.size.as_deref(), SizeBand::parse)?,
        grade: parse_column("customers.grade", &m.grade, Grade::parse)?,
        grade_locked: m.grade_locked,
        lifecycle_stage: parse_column(
            "customers.lifecycle_stage",
            &m.lifecycle_stage,
            LifecycleStage::parse,
        )?,
        owner_id: m.owner_id,
        team_id: m.team_id,
        tags: json("customers.tags", m.tags)?,
        source: parse_optional("customers.source", m.source.as_deref(), Source::parse)?,
        channel: parse_optional("customers.channel", m.channel.as_deref(), Channel::parse)?,
        website: parse_optional("customers.website", m.website.as_deref(), WebUrl::parse)?,
        registration_number: m
            .registration_number
            .as_deref()
            .map(|sealed| {
                parse_column(
                    "customers.registration_number",
                    &crypto::open(sealed)?,
                    |v| RegistrationNumber::parse(v, None),
                )
            })
            .transpose()?,
        country: parse_optional(
            "customers.country",
            m.country.as_deref(),
            rapport_domain::country::CountryCode::parse,
        )?,
        addresses: json("customers.addresses", m.addresses)?,
        external_ids: json::<BTreeMap<String, String>>("customers.external_ids", m.external_ids)?,
        description: parse_optional(
            "customers.description",
            m.description.as_deref(),
            Description::parse,
        )?,
        first_contact_due_at: m.first_contact_due_at,
        first_contacted_at: m.first_contacted_at,
        last_activity_at: m.last_activity_at,
        deleted_at: m.deleted_at,
        merged_into_id: m.merged_into_id,
        campaign_id: m.campaign_id,
        erased_at: m.erased_at,
        created_at: m.created_at,
        updated_at: m.updated_at,
        version: m.version,
    })
}

fn to_active(c: &Customer) -> Result<customer::ActiveModel, StoreError> {
    let json = |v: serde_json::Result<serde_json::Value>| v.unwrap_or(serde_json::Value::Null);
    Ok(customer::ActiveModel {
        id: Set(c.id),
        name: Set(c.name.to_string()),
        // Lower-casing can lengthen a name (`İ` → `i̇`): keys stay within their 200 characters.
        sort_name: Set(c.name.as_str().to_lowercase().chars().take(200).collect()),
        name_key: Set(name_key(c.name.as_str()).chars().take(200).collect()),
        kind: Set(c.kind.as_str().to_owned()),
        industry: Set(c.industry.map(|v| v.as_str().to_owned())),
        size: Set(c.size.map(|v| v.as_str().to_owned())),
        grade: Set(c.grade.as_str().to_owned()),
        grade_locked: Set(c.grade_locked),
        lifecycle_stage: Set(c.lifecycle_stage.as_str().to_owned()),
        owner_id: Set(c.owner_id),
        team_id: Set(c.team_id),
        tags: Set(json(serde_json::to_value(&c.tags))),
        source: Set(c.source.map(|v| v.as_str().to_owned())),
        channel: Set(c.channel.map(|v| v.as_str().to_owned())),
        website: Set(c.website.as_ref().map(|w| w.as_str().to_owned())),
        // Encrypted at rest (see `crypto`).
        registration_number: Set(c
            .registration_number
            .as_ref()
            .map(|r| crypto::seal(r.as_str()))
            .transpose()?),
        country: Set(c.country.map(|v| v.as_str().to_owned())),
        addresses: Set(json(serde_json::to_value(&c.addresses))),
        external_ids: Set(json(serde_json::to_value(&c.external_ids))),
        description: Set(c.description.as_ref().map(|d| d.to_string())),
        first_contact_due_at: Set(c.first_contact_due_at),
        first_contacted_at: Set(c.first_contacted_at),
        last_activity_at: Set(c.last_activity_at),
        last_activity_sort: Set(c.last_activity_at.unwrap_or_else(epoch)),
        deleted_at: Set(c.deleted_at),
        merged_into_id: Set(c.merged_into_id),
        campaign_id: Set(c.campaign_id),
        erased_at: Set(c.erased_at),
        created_at: Set(c.created_at),
        updated_at: Set(c.updated_at),
        version: Set(c.version),
        // Written by `reindex`, never by a save.
        search_rowid: sea_orm::ActiveValue::NotSet,
    })
}

record!(Customer, Entity, to_active: to_active, from_model: to_domain);

/// Inserts a customer as given (the caller sets id, times and version 1). Call [`reindex`]
/// once its contacts are in.
///
/// # Errors
/// Database failures.
pub async fn insert(db: &impl Conn, customer: &Customer) -> Result<(), StoreError> {
    Entity::insert(to_active(customer)?)
        .exec_without_returning(db)
        .await?;
    Ok(())
}

/// Inserts many customers with their contacts, keys and search terms, a few hundred rows per
/// statement: what bulk loads use instead of one [`insert`] per customer. The duplicate groups
/// are left as they are: a load calls [`rebuild_groups`] once at its end.
///
/// # Errors
/// Database failures.
pub async fn insert_batch(
    db: &impl Conn,
    batch: &[(Customer, Vec<Contact>)],
) -> Result<(), StoreError> {
    index::insert_batch(db, batch, |chunk, entries| {
        chunk
            .iter()
            .zip(entries)
            .map(|((customer, _), entry)| {
                let mut active = to_active(customer)?;
                active.search_rowid = Set(Some(*entry));
                Ok(active)
            })
            .collect()
    })
    .await
}

/// A customer, deleted or not (callers decide what a deleted one means to them).
///
/// # Errors
/// `NotFound` when there is no such customer.
pub async fn get(db: &impl Conn, id: Uuid) -> Result<Customer, StoreError> {
    record::get(db, id).await
}

/// A customer, deleted or not, with its contacts (primary first, then oldest first): one
/// statement, a join, so that a read is one round trip.
///
/// # Errors
/// `NotFound` when there is no such customer.
pub async fn with_contacts(
    db: &impl Conn,
    id: Uuid,
) -> Result<(Customer, Vec<Contact>), StoreError> {
    use crate::entities::contact::{Column as ContactColumn, Entity as Contacts};
    let (customer, contacts) = Entity::find_by_id(id)
        .find_with_related(Contacts)
        .order_by_desc(ContactColumn::IsPrimary)
        .order_by_asc(ContactColumn::Id)
        .all(db)
        .await?
        .into_iter()
        .next()
        .ok_or(StoreError::NotFound)?;
    let contacts = contacts
        .into_iter()
        .map(crate::repos::contacts::to_domain)
        .collect::<Result<_, _>>()?;
    Ok((to_domain(customer)?, contacts))
}

/// The customers with these ids that exist, in no particular order.
///
/// # Errors
/// Database failures.
pub async fn get_many(db: &impl Conn, ids: &[Uuid]) -> Result<Vec<Customer>, StoreError> {
    let rows = Entity::find()
        .filter(Column::Id.is_in(ids.iter().copied()))
        .all(db)
        .await?;
    rows.into_iter().map(to_domain).collect()
}

/// Records an activity at `at` on a customer without a read-modify-write race: the latest
/// time wins `last_activity_at`, and when the activity reached the customer, the first one
/// wins `first_contacted_at`. Bumps the version like any change.
///
/// # Errors
/// `NotFound` when there is no such customer.
pub async fn touch_activity(
    db: &impl Conn,
    id: Uuid,
    at: DateTime<Utc>,
    reached_customer: bool,
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    use sea_orm::sea_query::Expr;
    // The later time wins; a NULL loses to any time.
    let later = |column: Column| {
        Expr::case(
            Expr::col(column).is_null().or(Expr::col(column).lt(at)),
            Expr::value(at),
        )
        .finally(Expr::col(column))
    };
    let mut update = Entity::update_many()
        .col_expr(Column::LastActivityAt, later(Column::LastActivityAt).into())
        .col_expr(
            Column::LastActivitySort,
            later(Column::LastActivitySort).into(),
        )
        .col_expr(Column::UpdatedAt, Expr::value(now))
        .col_expr(Column::Version, Expr::col(Column::Version).add(1));
    if reached_customer {
        let first = Expr::case(
            Expr::col(Column::FirstContactedAt).is_null(),
            Expr::value(at),
        )
        .finally(Expr::col(Column::FirstContactedAt));
        update = update.col_expr(Column::FirstContactedAt, first.into());
    }
    if update
        .filter(Column::Id.eq(id))
        .exec(db)
        .await?
        .rows_affected
        == 0
    {
        return Err(StoreError::NotFound);
    }
    Ok(())
}

/// The customers merged into `id`, directly or through others (soft-deleted duplicates whose
/// records now belong to it).
///
/// # Errors
/// Database failures.
pub async fn merged_into(db: &impl Conn, id: Uuid) -> Result<Vec<Customer>, StoreError> {
    let mut found = Vec::new();
    let mut frontier = vec![id];
    while !frontier.is_empty() {
        let rows = Entity::find()
            .filter(Column::MergedIntoId.is_in(frontier.clone()))
            .all(db)
            .await?;
        frontier = rows.iter().map(|m| m.id).collect();
        for row in rows {
            found.push(to_domain(row)?);
        }
    }
    Ok(found)
}

/// Serializes writers that use the same duplicate keys until the end of the transaction, so a
/// duplicate check and the insert it guards act as one. PostgreSQL takes an advisory lock per
/// key (in a fixed order, so two writers cannot deadlock); SQLite has one writer at a time.
///
/// # Errors
/// Database failures.
pub async fn lock_keys(db: &impl Conn, keys: &[(&str, String)]) -> Result<(), StoreError> {
    use sea_orm::{DatabaseBackend, Statement};
    if db.get_database_backend() != DatabaseBackend::Postgres {
        return Ok(());
    }
    let mut names: Vec<String> = keys
        .iter()
        .map(|(kind, value)| format!("{kind}:{value}"))
        .collect();
    names.sort();
    names.dedup();
    for name in names {
        db.execute(Statement::from_sql_and_values(
            DatabaseBackend::Postgres,
            "SELECT pg_advisory_xact_lock(hashtext($1))",
            [name.into()],
        ))
        .await?;
    }
    Ok(())
}

/// How many customers (deleted ones too) belong to a team.
///
/// # Errors
/// Database failures.
pub async fn count_in_team(db: &impl Conn, team_id: Uuid) -> Result<u64, StoreError> {
    use sea_orm::PaginatorTrait;
    Ok(Entity::find()
        .filter(Column::TeamId.eq(team_id))
        .count(db)
        .await?)
}

/// Seals every registration number not yet under the current key (older keys' and values
/// written before encryption) and rewrites those customers' keys and search terms, whose
/// keyed hashes change with the key. Not a change of the customers: no version bump, no
/// audit. Safe to run again, and while the server runs.
///
/// # Errors
/// Database failures, or a value sealed under a key that is not configured.
pub async fn reseal(db: &impl Conn) -> Result<u64, StoreError> {
    use sea_orm::QuerySelect;
    let rows: Vec<(Uuid, String)> = Entity::find()
        .select_only()
        .column(Column::Id)
        .column(Column::RegistrationNumber)
        .filter(Column::RegistrationNumber.is_not_null())
        .into_tuple()
        .all(db)
        .await?;
    let mut resealed = 0;
    for (id, stored) in rows {
        if crypto::is_current(&stored)? {
            continue;
        }
        let sealed = crypto::seal(&crypto::open(&stored)?)?;
        Entity::update_many()
            .col_expr(
                Column::RegistrationNumber,
                sea_orm::sea_query::Expr::value(sealed),
            )
            .filter(Column::Id.eq(id))
            .exec(db)
            .await?;
        let customer = get(db, id).await?;
        let contacts = crate::repos::contacts::of_customer(db, id).await?;
        reindex(db, &customer, &contacts).await?;
        resealed += 1;
    }
    Ok(resealed)
}

/// Up to `limit` customers deleted before `cutoff` and not erased yet, oldest deletion first:
/// those whose retention has ended. Merged duplicates are left out: they are part of their
/// survivor's history, and go when it is erased.
///
/// # Errors
/// Database failures.
pub async fn deleted_before(
    db: &impl Conn,
    cutoff: DateTime<Utc>,
    limit: u64,
) -> Result<Vec<Customer>, StoreError> {
    use sea_orm::QuerySelect;
    Entity::find()
        .filter(Column::DeletedAt.lt(cutoff))
        .filter(Column::ErasedAt.is_null())
        .filter(Column::MergedIntoId.is_null())
        .order_by_asc(Column::DeletedAt)
        .order_by_asc(Column::Id)
        .limit(limit)
        .all(db)
        .await?
        .into_iter()
        .map(to_domain)
        .collect()
}

//! Duplicates: live customers sharing a key (an email, a phone, a registration number or a
//! name key, in `customer_keys`). The groups are kept in `duplicate_keys` as the keys change
//! (every key shared by two or more customers, with their count), so the list of groups pages
//! through that table instead of grouping every key on each call; a daily job rebuilds it.

use std::collections::BTreeSet;

use rapport_domain::access::Visibility;
use sea_orm::sea_query::{Alias, Expr, Query};
use sea_orm::{ColumnTrait, DatabaseBackend, EntityTrait, QueryFilter, Statement};
use uuid::Uuid;

use super::list::visible;
use crate::entities::customer::{Column, Entity};
use crate::{Conn, StoreError};

/// A key: its kind (`email`, `phone`, `registration_number`, `name`) and value.
pub(crate) type Key = (String, String);

/// Kinds that are no duplicate keys (kept in `customer_keys` to filter or look up by).
pub(crate) const NOT_DUPLICATES: &[&str] = &["tag", "external_id"];

/// The `n`th placeholder: `?` (SQLite) or `$n` (PostgreSQL).
fn slot(backend: DatabaseBackend, n: usize) -> String {
    match backend {
        DatabaseBackend::Postgres => format!("${n}"),
        _ => "?".to_owned(),
    }
}

/// Deletes a customer's rows of `customer_keys` (before its keys are written anew) and
/// answers its duplicate keys (not tags) as they were, in the same statement.
pub(crate) async fn take_keys(
    db: &impl Conn,
    customer_id: Uuid,
) -> Result<BTreeSet<Key>, StoreError> {
    let backend = db.get_database_backend();
    let delete = Query::delete()
        .from_table(Alias::new("customer_keys"))
        .and_where(Expr::col(Alias::new("customer_id")).eq(customer_id))
        .returning(Query::returning().columns([Alias::new("kind"), Alias::new("value")]))
        .to_owned();
    let mut keys = BTreeSet::new();
    for row in db.query_all(backend.build(&delete)).await? {
        let key: Key = (row.try_get("", "kind")?, row.try_get("", "value")?);
        if !NOT_DUPLICATES.contains(&key.0.as_str()) {
            keys.insert(key);
        }
    }
    Ok(keys)
}

/// Recounts the customers holding each of `keys` (after this transaction's own changes to
/// `customer_keys`) and keeps `duplicate_keys` in step: a key shared by two or more is a
/// group, any other is none. On PostgreSQL each key is locked for the rest of the
/// transaction first (in key order, so writers never deadlock), so that two customers taking
/// the same key at once are counted by whichever commits second.
///
/// Two statements whatever the number of keys (three on PostgreSQL, with the locks): an
/// upsert of those now shared and a delete of those no longer.
pub(crate) async fn refresh(db: &impl Conn, keys: &BTreeSet<Key>) -> Result<(), StoreError> {
    let keys: Vec<&Key> = keys
        .iter()
        .filter(|(kind, _)| !NOT_DUPLICATES.contains(&kind.as_str()))
        .collect();
    if keys.is_empty() {
        return Ok(());
    }
    let backend = db.get_database_backend();
    // `WITH k (kind, value) AS (VALUES (?, ?), ...)`, in key order, and its values.
    let rows: Vec<String> = (0..keys.len())
        .map(|i| {
            format!(
                "({}, {})",
                slot(backend, 2 * i + 1),
                slot(backend, 2 * i + 2)
            )
        })
        .collect();
    let with = format!("WITH k (kind, value) AS (VALUES {})", rows.join(", "));
    let values = || -> Vec<sea_orm::Value> {
        keys.iter()
            .flat_map(|(kind, value)| [kind.clone().into(), value.clone().into()])
            .collect()
    };
    let holders = |of: &str| {
        format!(
            "(SELECT COUNT(*) FROM customer_keys c WHERE c.kind = {of}.kind AND c.value = {of}.value)"
        )
    };
    let mut statements = Vec::with_capacity(3);
    if backend == DatabaseBackend::Postgres {
        // A VALUES list is read in its order: the locks are taken in key order.
        statements.push(format!(
            "{with} SELECT pg_advisory_xact_lock(hashtextextended(kind || ':' || value, 0)) FROM k"
        ));
    }
    statements.push(format!(
        "{with} INSERT INTO duplicate_keys (kind, value, customers) \
         SELECT kind, value, n FROM (SELECT kind, value, {} AS n FROM k) AS counted WHERE n > 1 \
         ON CONFLICT (kind, value) DO UPDATE SET customers = excluded.customers",
        holders("k")
    ));
    statements.push(format!(
        "{with} DELETE FROM duplicate_keys WHERE (kind, value) IN (SELECT kind, value FROM k) \
         AND {} < 2",
        holders("duplicate_keys")
    ));
    for sql in statements {
        db.execute(Statement::from_sql_and_values(backend, sql, values()))
            .await?;
    }
    Ok(())
}

/// Rebuilds `duplicate_keys` from `customer_keys`, in one statement: what the daily job does
/// (a group missed by any path is found within a day), and what a bulk load does once at its
/// end (`insert_batch` leaves the groups as they are: counting each key of every batch would
/// cost a bulk load more than the load itself).
///
/// # Errors
/// Database failures.
pub async fn rebuild_groups(db: &impl Conn) -> Result<u64, StoreError> {
    let backend = db.get_database_backend();
    db.execute(Statement::from_string(
        backend,
        "DELETE FROM duplicate_keys",
    ))
    .await?;
    let inserted = db
        .execute(Statement::from_string(
            backend,
            "INSERT INTO duplicate_keys (kind, value, customers) \
             SELECT kind, value, COUNT(*) FROM customer_keys \
             WHERE kind NOT IN ('tag', 'external_id') \
             GROUP BY kind, value HAVING COUNT(*) > 1",
        ))
        .await?;
    Ok(inserted.rows_affected())
}

/// Live customers visible to the caller that share a key (`("email", "a@b.cn")`) with the
/// given ones, except `except`.
///
/// # Errors
/// Database failures.
pub async fn find_duplicates(
    db: &impl Conn,
    visibility: Visibility,
    keys: &[(&str, String)],
    except: Option<Uuid>,
) -> Result<Vec<Uuid>, StoreError> {
    let keys: Vec<_> = keys
        .iter()
        .filter(|(kind, _)| !NOT_DUPLICATES.contains(kind))
        .collect();
    if keys.is_empty() {
        return Ok(Vec::new());
    }
    let mut any_key = sea_orm::Condition::any();
    for (kind, value) in keys {
        any_key = any_key.add(
            sea_orm::Condition::all()
                .add(Expr::col(Alias::new("kind")).eq(kind.to_string()))
                .add(Expr::col(Alias::new("value")).eq(value.clone())),
        );
    }
    let sub = Query::select()
        .column(Alias::new("customer_id"))
        .from(Alias::new("customer_keys"))
        .cond_where(any_key)
        .to_owned();
    let mut select = visible(Entity::find(), visibility)
        .filter(Column::DeletedAt.is_null())
        .filter(Column::Id.in_subquery(sub));
    if let Some(id) = except {
        select = select.filter(Column::Id.ne(id));
    }
    let rows = select.all(db).await?;
    Ok(rows.into_iter().map(|m| m.id).collect())
}

/// The live customers visible to the caller that hold the key `(kind, value)`: what a batch
/// upsert matches an item by (`external_id`, `email`).
///
/// # Errors
/// Database failures.
pub async fn holding(
    db: &impl Conn,
    visibility: Visibility,
    kind: &str,
    value: &str,
) -> Result<Vec<Uuid>, StoreError> {
    let sub = Query::select()
        .column(Alias::new("customer_id"))
        .from(Alias::new("customer_keys"))
        .and_where(Expr::col(Alias::new("kind")).eq(kind))
        .and_where(Expr::col(Alias::new("value")).eq(value))
        .to_owned();
    let rows = visible(Entity::find(), visibility)
        .filter(Column::DeletedAt.is_null())
        .filter(Column::Id.in_subquery(sub))
        .all(db)
        .await?;
    Ok(rows.into_iter().map(|m| m.id).collect())
}

/// Customers that are probably one and the same.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DuplicateGroup {
    /// `email`, `phone`, `registration_number` or `name`.
    pub reason: String,
    /// The shared value (for names: the normalized name key).
    pub value: String,
    pub customer_ids: Vec<Uuid>,
}

/// Groups of two or more live customers visible to the caller that share a key, ordered by
/// (reason, value), starting after `after`.
///
/// A caller that sees every customer pages through the kept groups; one that sees some (a
/// rep's, a team's) groups the keys of those customers, which are few.
///
/// # Errors
/// Database failures.
pub async fn duplicate_groups(
    db: &impl Conn,
    visibility: Visibility,
    after: Option<(String, String)>,
    limit: u64,
) -> Result<Vec<DuplicateGroup>, StoreError> {
    let backend = db.get_database_backend();
    let (after_reason, after_value) = after.unwrap_or_default();
    // (kind, value) of the table `t`, after the cursor, in order.
    let col = |t: &str, c: &str| Expr::col((Alias::new(t), Alias::new(c)));
    let after = |t: &str| {
        Expr::tuple([col(t, "kind").into(), col(t, "value").into()]).gt(Expr::tuple([
            Expr::val(after_reason.clone()).into(),
            Expr::val(after_value.clone()).into(),
        ]))
    };
    let mut page = Query::select();
    let t = if visibility == Visibility::All {
        page.from(Alias::new("duplicate_keys"))
            .and_where(after("duplicate_keys"));
        "duplicate_keys"
    } else {
        let vis = crate::repos::customer_visible(Column::Id, visibility);
        page.from_as(Alias::new("customer_keys"), Alias::new("k"))
            .inner_join(
                Alias::new("customers"),
                Expr::cust("customers.id = k.customer_id"),
            )
            .and_where(Expr::cust("k.kind NOT IN ('tag', 'external_id')"))
            .and_where(vis)
            .and_where(after("k"))
            .group_by_columns([
                (Alias::new("k"), Alias::new("kind")),
                (Alias::new("k"), Alias::new("value")),
            ])
            .and_having(Expr::cust("COUNT(*) > 1"));
        "k"
    };
    page.expr_as(col(t, "kind"), Alias::new("kind"))
        .expr_as(col(t, "value"), Alias::new("value"))
        .order_by((Alias::new(t), Alias::new("kind")), sea_orm::Order::Asc)
        .order_by((Alias::new(t), Alias::new("value")), sea_orm::Order::Asc)
        .limit(limit);
    let rows = db.query_all(backend.build(&page)).await?;
    let mut groups = Vec::with_capacity(rows.len());
    for row in rows {
        let reason: String = row.try_get("", "kind")?;
        let value: String = row.try_get("", "value")?;
        let mut customer_ids =
            find_duplicates(db, visibility, &[(reason.as_str(), value.clone())], None).await?;
        customer_ids.sort();
        if customer_ids.len() > 1 {
            groups.push(DuplicateGroup {
                reason,
                value,
                customer_ids,
            });
        }
    }
    Ok(groups)
}

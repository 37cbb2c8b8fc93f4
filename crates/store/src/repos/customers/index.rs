//! What a customer is found by: its duplicate keys (`customer_keys`) and its search terms
//! (SQLite FTS5 `customer_search`, PostgreSQL `customer_terms` with a GIN index).

use std::collections::BTreeSet;

use rapport_domain::contact::Contact;
use rapport_domain::customer::Customer;
use rapport_domain::dedupe::name_key;
use rapport_domain::search::SearchDocument;
use sea_orm::sea_query::{Alias, Query};
use sea_orm::{DatabaseBackend, Statement};

use super::duplicates;
use crate::repos::search_index::{self, SearchIndex};
use crate::{Conn, StoreError, crypto};

/// The registration number's keyed hash: it is stored encrypted, so keys and search terms
/// hold the hash, never the number.
fn blinded_number(customer: &Customer) -> Result<Option<String>, StoreError> {
    customer
        .registration_number
        .as_ref()
        .map(|number| crypto::blind(number.as_str()))
        .transpose()
}

/// The value of an external id's key: `<system>:<id>`.
pub fn external_id_key(system: &str, id: &str) -> String {
    format!("{system}:{id}")
}

/// The keys duplicates are detected by, and tags and external ids are looked up by:
/// `(kind, value)`.
pub(crate) fn keys(
    customer: &Customer,
    contacts: &[Contact],
    blinded_number: Option<&str>,
) -> BTreeSet<(&'static str, String)> {
    let mut keys = BTreeSet::new();
    if customer.erased_at.is_some() {
        return keys;
    }
    for tag in &customer.tags {
        keys.insert(("tag", tag.as_str().to_owned()));
    }
    // A deleted customer is nobody's duplicate (until restored); its tags still filter the
    // list of deleted customers.
    if customer.deleted_at.is_some() {
        return keys;
    }
    // Looked up by batch upserts (`external_ids.<system>`); never a duplicate key.
    for (system, id) in &customer.external_ids {
        keys.insert(("external_id", external_id_key(system, id)));
    }
    let name: String = name_key(customer.name.as_str()).chars().take(200).collect();
    if !name.is_empty() {
        keys.insert(("name", name));
    }
    for contact in contacts {
        for email in &contact.emails {
            keys.insert(("email", email.address.as_str().to_owned()));
        }
        for phone in &contact.phones {
            keys.insert(("phone", phone.number.as_str().to_owned()));
        }
    }
    if let Some(number) = blinded_number {
        keys.insert(("registration_number", number.to_owned()));
    }
    keys
}

/// The keys a new customer would be a duplicate by (its emails, phones and registration
/// number; a shared name alone is listed as a likely duplicate, never refused), for checking
/// before it is written.
///
/// # Errors
/// No encryption key is installed.
pub fn duplicate_keys(
    customer: &Customer,
    contacts: &[Contact],
) -> Result<Vec<(&'static str, String)>, StoreError> {
    let number = blinded_number(customer)?;
    Ok(keys(customer, contacts, number.as_deref())
        .into_iter()
        .filter(|(kind, _)| !duplicates::NOT_DUPLICATES.contains(kind) && *kind != "name")
        .collect())
}

/// The search terms of a customer and its contacts.
pub fn document(
    customer: &Customer,
    contacts: &[Contact],
    blinded_number: Option<&str>,
) -> SearchDocument {
    let mut doc = SearchDocument::default();
    if customer.erased_at.is_some() {
        return doc;
    }
    doc.add_text(customer.name.as_str());
    if let Some(number) = blinded_number {
        doc.add_identifier(number);
    }
    for contact in contacts {
        doc.add_person(
            contact.first_name.as_str(),
            contact.last_name.as_ref().map(|n| n.as_str()),
        );
        for email in &contact.emails {
            doc.add_email(&email.address);
        }
        for phone in &contact.phones {
            doc.add_phone(&phone.number);
        }
    }
    doc
}

/// Rewrites the keys and search terms of `customer` from its current values and contacts.
/// Call it in the transaction of every write that changes them.
///
/// # Errors
/// Database failures.
pub async fn reindex(
    db: &impl Conn,
    customer: &Customer,
    contacts: &[Contact],
) -> Result<(), StoreError> {
    write_index(db, customer, contacts, false).await
}

/// [`reindex`] for a customer inserted in this transaction: it has no keys to take back and
/// no search entry yet, so the two lookups are left out (an import writes thousands).
///
/// # Errors
/// Database failures.
pub async fn index_new(
    db: &impl Conn,
    customer: &Customer,
    contacts: &[Contact],
) -> Result<(), StoreError> {
    write_index(db, customer, contacts, true).await
}

async fn write_index(
    db: &impl Conn,
    customer: &Customer,
    contacts: &[Contact],
    new: bool,
) -> Result<(), StoreError> {
    let number = blinded_number(customer)?;
    let before = if new {
        BTreeSet::new()
    } else {
        duplicates::take_keys(db, customer.id).await?
    };
    let now = keys(customer, contacts, number.as_deref());
    insert_keys(db, now.iter().map(|(k, v)| (customer.id, *k, v.clone()))).await?;
    // The groups of the keys it lost or gained change; a write that keeps its keys (most
    // do) costs nothing more.
    let after: BTreeSet<duplicates::Key> = now
        .into_iter()
        .filter(|(kind, _)| !duplicates::NOT_DUPLICATES.contains(kind))
        .map(|(k, v)| (k.to_owned(), v))
        .collect();
    let changed: BTreeSet<duplicates::Key> = before.symmetric_difference(&after).cloned().collect();
    duplicates::refresh(db, &changed).await?;

    write_terms(
        db,
        customer.id,
        document(customer, contacts, number.as_deref()).joined(),
        new,
    )
    .await
}

/// Writes a customer's search terms: in place when it has an entry in the search index, as a
/// new, newest entry otherwise (whose number `customers.search_rowid` keeps); a `new`
/// customer has none.
async fn write_terms(
    db: &impl Conn,
    customer_id: uuid::Uuid,
    terms: String,
    new: bool,
) -> Result<(), StoreError> {
    let backend = db.get_database_backend();
    let sql = |sqlite: &str, postgres: &str| match backend {
        DatabaseBackend::Postgres => postgres.to_owned(),
        _ => sqlite.to_owned(),
    };
    let entry: Option<i64> = if new {
        None
    } else {
        let row = db
            .query_one(Statement::from_sql_and_values(
                backend,
                sql(
                    "SELECT search_rowid FROM customers WHERE id = ?",
                    "SELECT search_rowid FROM customers WHERE id = $1",
                ),
                [customer_id.into()],
            ))
            .await?;
        row.and_then(|r| r.try_get::<Option<i64>>("", "search_rowid").ok().flatten())
    };
    if let Some(entry) = entry {
        let update = sql(
            "UPDATE customer_search SET terms = ? WHERE rowid = ?",
            "UPDATE customer_terms SET terms = array_to_tsvector(string_to_array($1, ' ')) WHERE seq = $2",
        );
        db.execute(Statement::from_sql_and_values(
            backend,
            update,
            [terms.into(), entry.into()],
        ))
        .await?;
        return Ok(());
    }
    let inserted = match backend {
        DatabaseBackend::Postgres => {
            db.query_one(Statement::from_sql_and_values(
                backend,
                "INSERT INTO customer_terms (customer_id, terms) VALUES ($1, array_to_tsvector(string_to_array($2, ' '))) \
                 RETURNING seq AS entry",
                [customer_id.into(), terms.into()],
            ))
            .await?
        }
        _ => {
            // FTS5 tables answer no RETURNING: the rowid is the connection's last one.
            db.execute(Statement::from_sql_and_values(backend, "INSERT INTO customer_search (terms) VALUES (?)", [terms.into()]))
                .await?;
            db.query_one(Statement::from_string(backend, "SELECT last_insert_rowid() AS entry")).await?
        }
    };
    let entry: i64 = inserted.ok_or(StoreError::NotFound)?.try_get("", "entry")?;
    db.execute(Statement::from_sql_and_values(
        backend,
        sql(
            "UPDATE customers SET search_rowid = ? WHERE id = ?",
            "UPDATE customers SET search_rowid = $1 WHERE id = $2",
        ),
        [entry.into(), customer_id.into()],
    ))
    .await?;
    Ok(())
}

/// Inserts duplicate keys, a few hundred rows per statement.
pub(crate) async fn insert_keys(
    db: &impl Conn,
    keys: impl Iterator<Item = (uuid::Uuid, &'static str, String)>,
) -> Result<(), StoreError> {
    let backend = db.get_database_backend();
    let keys: Vec<_> = keys.collect();
    for chunk in keys.chunks(300) {
        let mut insert = Query::insert()
            .into_table(Alias::new("customer_keys"))
            .columns([
                Alias::new("customer_id"),
                Alias::new("kind"),
                Alias::new("value"),
            ])
            .to_owned();
        for (id, kind, value) in chunk {
            insert.values_panic([(*id).into(), (*kind).into(), value.clone().into()]);
        }
        db.execute(backend.build(&insert)).await?;
    }
    Ok(())
}

/// Rows per statement of a bulk insert: well under both databases' parameter limits.
const BATCH_ROWS: usize = 400;

/// Inserts customers (as `models` makes them for each chunk, given their search index
/// numbers), their contacts, keys and search terms.
pub(crate) async fn insert_batch(
    db: &impl Conn,
    batch: &[(Customer, Vec<Contact>)],
    models: impl Fn(
        &[(Customer, Vec<Contact>)],
        &[i64],
    ) -> Result<Vec<crate::entities::customer::ActiveModel>, StoreError>,
) -> Result<(), StoreError> {
    use sea_orm::EntityTrait;
    let backend = db.get_database_backend();
    for chunk in batch.chunks(BATCH_ROWS) {
        let entries = next_entries(db, chunk.len()).await?;
        crate::entities::customer::Entity::insert_many(models(chunk, &entries)?)
            .exec_without_returning(db)
            .await?;
        let contacts: Vec<Contact> = chunk.iter().flat_map(|(_, c)| c.iter().cloned()).collect();
        for part in contacts.chunks(BATCH_ROWS) {
            crate::repos::contacts::insert_many(db, part).await?;
        }
        let numbers = chunk
            .iter()
            .map(|(c, _)| blinded_number(c))
            .collect::<Result<Vec<_>, _>>()?;
        insert_keys(
            db,
            chunk
                .iter()
                .zip(&numbers)
                .flat_map(|((c, contacts), number)| {
                    keys(c, contacts, number.as_deref())
                        .into_iter()
                        .map(|(k, v)| (c.id, k, v))
                }),
        )
        .await?;

        let mut rows = Vec::with_capacity(chunk.len());
        let mut values = Vec::with_capacity(chunk.len() * 3);
        for (((customer, contacts), entry), number) in chunk.iter().zip(&entries).zip(&numbers) {
            let terms = document(customer, contacts, number.as_deref()).joined();
            match backend {
                DatabaseBackend::Postgres => {
                    let n = values.len();
                    rows.push(format!(
                        "(${}, ${}, array_to_tsvector(string_to_array(${}, ' ')))",
                        n + 1,
                        n + 2,
                        n + 3
                    ));
                    values.extend([(*entry).into(), customer.id.into(), terms.into()]);
                }
                _ => {
                    rows.push("(?, ?)".to_owned());
                    values.extend([(*entry).into(), terms.into()]);
                }
            }
        }
        let insert = match backend {
            DatabaseBackend::Postgres => {
                "INSERT INTO customer_terms (seq, customer_id, terms) VALUES "
            }
            _ => "INSERT INTO customer_search (rowid, terms) VALUES ",
        };
        let sql = format!("{insert}{}", rows.join(", "));
        db.execute(Statement::from_sql_and_values(backend, sql, values))
            .await?;
    }
    Ok(())
}

/// The search index numbers of the next `n` entries: PostgreSQL draws them from the sequence
/// (concurrent writers get distinct ones); SQLite, with one writer, continues after the last.
async fn next_entries(db: &impl Conn, n: usize) -> Result<Vec<i64>, StoreError> {
    let backend = db.get_database_backend();
    let count = i64::try_from(n).unwrap_or(i64::MAX);
    match backend {
        DatabaseBackend::Postgres => {
            let rows = db
                .query_all(Statement::from_sql_and_values(
                    backend,
                    "SELECT nextval('customer_terms_seq_seq') AS entry FROM generate_series(1, $1)",
                    [count.into()],
                ))
                .await?;
            rows.iter()
                .map(|r| r.try_get::<i64>("", "entry").map_err(StoreError::from))
                .collect()
        }
        _ => {
            let row = db
                .query_one(Statement::from_string(
                    backend,
                    "SELECT COALESCE(MAX(search_rowid), 0) AS last FROM customers",
                ))
                .await?;
            let last: i64 = row.map_or(Ok(0), |r| r.try_get("", "last"))?;
            Ok((1..=count).map(|i| last + i).collect())
        }
    }
}

/// The version of the search terms this code writes. A database whose index holds older
/// terms is rebuilt with [`reindex_batch`] (`rapport reindex`, or the server at its start);
/// raise it whenever `rapport_domain::search` indexes something new.
pub const INDEX_VERSION: i64 = 1;

/// The version of the terms the search index was built with.
///
/// # Errors
/// Database failures.
pub async fn index_version(db: &impl Conn) -> Result<i64, StoreError> {
    let backend = db.get_database_backend();
    let row = db
        .query_one(Statement::from_string(
            backend,
            "SELECT version FROM search_index WHERE id = 1",
        ))
        .await?;
    Ok(row.map_or(Ok(0), |r| r.try_get("", "version"))?)
}

/// Records that the search index holds the terms of `version`.
///
/// # Errors
/// Database failures.
pub async fn set_index_version(db: &impl Conn, version: i64) -> Result<(), StoreError> {
    let backend = db.get_database_backend();
    let sql = match backend {
        DatabaseBackend::Postgres => "UPDATE search_index SET version = $1 WHERE id = 1",
        _ => "UPDATE search_index SET version = ? WHERE id = 1",
    };
    db.execute(Statement::from_sql_and_values(
        backend,
        sql,
        [version.into()],
    ))
    .await?;
    Ok(())
}

/// Rewrites the search terms of up to `batch` customers (deleted and erased ones too) whose
/// id follows `after`, in id order. Answers the last id done and how many there were, or
/// `None` past the last customer. On PostgreSQL the batch's customers are locked while it
/// runs, so a concurrent change cannot be overwritten with terms read before it.
///
/// # Errors
/// Database failures.
pub async fn reindex_batch(
    db: &impl Conn,
    after: Option<uuid::Uuid>,
    batch: u64,
) -> Result<Option<(uuid::Uuid, usize)>, StoreError> {
    use crate::entities::customer::{Column, Entity};
    use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect};
    let mut select = Entity::find().order_by_asc(Column::Id).limit(batch);
    if let Some(after) = after {
        select = select.filter(Column::Id.gt(after));
    }
    let rows = select.lock_exclusive().all(db).await?;
    let Some(last) = rows.last().map(|r| r.id) else {
        return Ok(None);
    };
    let ids: Vec<uuid::Uuid> = rows.iter().map(|r| r.id).collect();
    let mut contacts = crate::repos::contacts::of_customers(db, &ids).await?;
    let mut entries = Vec::with_capacity(rows.len());
    for row in rows {
        let entry = row.search_rowid;
        let customer = super::to_domain(row)?;
        let theirs = contacts.remove(&customer.id).unwrap_or_default();
        match entry {
            Some(entry) => {
                let number = blinded_number(&customer)?;
                let terms = document(&customer, &theirs, number.as_deref()).joined();
                entries.push((entry, terms));
            }
            // Never indexed: it gets its entry the way a write gives it one.
            None => reindex(db, &customer, &theirs).await?,
        }
    }
    let count = ids.len();
    replace_terms(db, entries).await?;
    Ok(Some((last, count)))
}

/// Customers per transaction of [`rebuild_index`]: small enough that requests waiting for
/// SQLite's writer wait for one batch at most, large enough that a million customers take
/// minutes, not hours.
const REBUILD_BATCH: u64 = 500;

/// Rewrites every customer's search terms, one transaction per batch, then records the
/// index's version and merges the segments the batches left (see
/// [`crate::repos::search_index`]). `progress` hears how many customers are done after each batch. Safe to
/// run while servers run, and twice: each batch writes what a change of its customers would.
///
/// # Errors
/// Database failures; the batches before it stay done.
pub async fn rebuild_index(
    store: &crate::Store,
    mut progress: impl FnMut(u64),
) -> Result<u64, StoreError> {
    let mut after = None;
    let mut done = 0;
    loop {
        let tx = store.begin().await?;
        match reindex_batch(&tx, after, REBUILD_BATCH).await? {
            Some((last, count)) => {
                crate::commit(tx).await?;
                after = Some(last);
                done += count as u64;
                progress(done);
            }
            None => {
                set_index_version(&tx, INDEX_VERSION).await?;
                crate::commit(tx).await?;
                search_index::compact(store, SearchIndex::Customers).await?;
                return Ok(done);
            }
        }
    }
}

/// Replaces the terms of existing search index entries, a few hundred per statement.
async fn replace_terms(db: &impl Conn, entries: Vec<(i64, String)>) -> Result<(), StoreError> {
    let backend = db.get_database_backend();
    for chunk in entries.chunks(BATCH_ROWS) {
        let mut values: Vec<sea_orm::Value> = Vec::with_capacity(chunk.len() * 2);
        match backend {
            DatabaseBackend::Postgres => {
                let rows: Vec<String> = (0..chunk.len())
                    .map(|i| format!("(CAST(${} AS BIGINT), ${})", 2 * i + 1, 2 * i + 2))
                    .collect();
                for (entry, terms) in chunk {
                    values.extend([(*entry).into(), terms.clone().into()]);
                }
                let sql = format!(
                    "UPDATE customer_terms SET terms = array_to_tsvector(string_to_array(v.terms, ' ')) \
                     FROM (VALUES {}) AS v (seq, terms) WHERE customer_terms.seq = v.seq",
                    rows.join(", ")
                );
                db.execute(Statement::from_sql_and_values(backend, sql, values))
                    .await?;
            }
            _ => {
                // A contentless FTS5 table replaces an entry by deleting it and inserting it
                // again under the same rowid.
                let marks = vec!["?"; chunk.len()].join(", ");
                let ids: Vec<sea_orm::Value> = chunk.iter().map(|(e, _)| (*e).into()).collect();
                db.execute(Statement::from_sql_and_values(
                    backend,
                    format!("DELETE FROM customer_search WHERE rowid IN ({marks})"),
                    ids,
                ))
                .await?;
                for (entry, terms) in chunk {
                    values.extend([(*entry).into(), terms.clone().into()]);
                }
                let rows = vec!["(?, ?)"; chunk.len()].join(", ");
                db.execute(Statement::from_sql_and_values(
                    backend,
                    format!("INSERT INTO customer_search (rowid, terms) VALUES {rows}"),
                    values,
                ))
                .await?;
            }
        }
    }
    Ok(())
}

/// How many customers there are, deleted and erased ones included (what a rebuild of the
/// search index goes through).
///
/// # Errors
/// Database failures.
pub async fn count_all(db: &impl Conn) -> Result<u64, StoreError> {
    use sea_orm::{EntityTrait, PaginatorTrait};
    Ok(crate::entities::customer::Entity::find().count(db).await?)
}

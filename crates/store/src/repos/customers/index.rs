//! What a customer is found by: its duplicate keys (`customer_keys`) and its search terms
//! (SQLite FTS5 `customer_search`, PostgreSQL `customers.search_vector`).

use std::collections::BTreeSet;

use rapport_domain::contact::Contact;
use rapport_domain::customer::Customer;
use rapport_domain::search::SearchDocument;
use sea_orm::sea_query::{Alias, Expr, Query};
use sea_orm::{DatabaseBackend, Statement};

use crate::{Conn, StoreError};

/// The keys duplicates are detected by, and tags are filtered by: `(kind, value)`.
pub(crate) fn keys(customer: &Customer, contacts: &[Contact]) -> BTreeSet<(&'static str, String)> {
    let mut keys = BTreeSet::new();
    if customer.erased_at.is_some() {
        return keys;
    }
    for contact in contacts {
        for email in &contact.emails {
            keys.insert(("email", email.address.as_str().to_owned()));
        }
        for phone in &contact.phones {
            keys.insert(("phone", phone.number.as_str().to_owned()));
        }
    }
    if let Some(number) = &customer.registration_number {
        keys.insert(("registration_number", number.clone()));
    }
    for tag in &customer.tags {
        keys.insert(("tag", tag.as_str().to_owned()));
    }
    keys
}

/// The keys a new customer would be a duplicate by (its emails, phones and registration
/// number), for checking before it is written.
pub fn duplicate_keys(customer: &Customer, contacts: &[Contact]) -> Vec<(&'static str, String)> {
    keys(customer, contacts)
        .into_iter()
        .filter(|(kind, _)| *kind != "tag")
        .collect()
}

/// The search terms of a customer and its contacts.
pub(crate) fn document(customer: &Customer, contacts: &[Contact]) -> SearchDocument {
    let mut doc = SearchDocument::default();
    if customer.erased_at.is_some() {
        return doc;
    }
    doc.add_text(&customer.name);
    if let Some(number) = &customer.registration_number {
        doc.add_identifier(number);
    }
    for contact in contacts {
        doc.add_text(&contact.full_name());
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
    let backend = db.get_database_backend();
    let delete = Query::delete()
        .from_table(Alias::new("customer_keys"))
        .and_where(Expr::col(Alias::new("customer_id")).eq(customer.id))
        .to_owned();
    db.execute(backend.build(&delete)).await?;
    insert_keys(
        db,
        keys(customer, contacts)
            .into_iter()
            .map(|(k, v)| (customer.id, k, v)),
    )
    .await?;

    let terms = document(customer, contacts).joined();
    match backend {
        DatabaseBackend::Postgres => {
            db.execute(Statement::from_sql_and_values(
                backend,
                "UPDATE customers SET search_vector = array_to_tsvector(string_to_array($1, ' ')) WHERE id = $2",
                [terms.into(), customer.id.into()],
            ))
            .await?;
        }
        _ => {
            let row = db
                .query_one(Statement::from_sql_and_values(
                    backend,
                    "SELECT search_rowid FROM customers WHERE id = ?",
                    [customer.id.into()],
                ))
                .await?;
            let rowid: Option<i64> =
                row.and_then(|r| r.try_get::<Option<i64>>("", "search_rowid").ok().flatten());
            match rowid {
                Some(rowid) => {
                    db.execute(Statement::from_sql_and_values(
                        backend,
                        "UPDATE customer_search SET terms = ? WHERE rowid = ?",
                        [terms.into(), rowid.into()],
                    ))
                    .await?;
                }
                None => {
                    db.execute(Statement::from_sql_and_values(
                        backend,
                        "INSERT INTO customer_search (terms) VALUES (?)",
                        [terms.into()],
                    ))
                    .await?;
                    db.execute(Statement::from_sql_and_values(
                        backend,
                        "UPDATE customers SET search_rowid = last_insert_rowid() WHERE id = ?",
                        [customer.id.into()],
                    ))
                    .await?;
                }
            }
        }
    }
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

/// Inserts customers (as `models` makes them for each chunk, given the first FTS rowid on
/// SQLite), their contacts, keys and search terms.
pub(crate) async fn insert_batch(
    db: &impl Conn,
    batch: &[(Customer, Vec<Contact>)],
    models: impl Fn(
        &[(Customer, Vec<Contact>)],
        Option<i64>,
    ) -> Vec<crate::entities::customer::ActiveModel>,
) -> Result<(), StoreError> {
    use sea_orm::EntityTrait;
    let backend = db.get_database_backend();
    let mut next_rowid = match backend {
        DatabaseBackend::Postgres => None,
        _ => {
            let row = db
                .query_one(Statement::from_string(
                    backend,
                    "SELECT COALESCE(MAX(search_rowid), 0) + 1 AS next FROM customers",
                ))
                .await?;
            Some(row.map_or(Ok(1), |r| r.try_get::<i64>("", "next"))?)
        }
    };
    for chunk in batch.chunks(BATCH_ROWS) {
        crate::entities::customer::Entity::insert_many(models(chunk, next_rowid))
            .exec_without_returning(db)
            .await?;
        let contacts: Vec<Contact> = chunk.iter().flat_map(|(_, c)| c.iter().cloned()).collect();
        for part in contacts.chunks(BATCH_ROWS) {
            crate::repos::contacts::insert_many(db, part).await?;
        }
        insert_keys(
            db,
            chunk
                .iter()
                .flat_map(|(c, contacts)| keys(c, contacts).into_iter().map(|(k, v)| (c.id, k, v))),
        )
        .await?;
        let terms: Vec<(uuid::Uuid, String)> = chunk
            .iter()
            .map(|(c, contacts)| (c.id, document(c, contacts).joined()))
            .collect();
        match backend {
            DatabaseBackend::Postgres => {
                let mut sql = String::from(
                    "UPDATE customers SET search_vector = array_to_tsvector(string_to_array(v.terms, ' ')) FROM (VALUES ",
                );
                let mut values = Vec::with_capacity(terms.len() * 2);
                for (i, (id, text)) in terms.into_iter().enumerate() {
                    if i > 0 {
                        sql.push_str(", ");
                    }
                    sql.push_str(&format!("(${}::uuid, ${}::text)", 2 * i + 1, 2 * i + 2));
                    values.push(id.into());
                    values.push(text.into());
                }
                sql.push_str(") AS v(id, terms) WHERE customers.id = v.id");
                db.execute(Statement::from_sql_and_values(backend, sql, values))
                    .await?;
            }
            _ => {
                let first = next_rowid.unwrap_or(1);
                let mut sql = String::from("INSERT INTO customer_search (rowid, terms) VALUES ");
                let mut values = Vec::with_capacity(terms.len() * 2);
                for (i, (_, text)) in terms.into_iter().enumerate() {
                    if i > 0 {
                        sql.push_str(", ");
                    }
                    sql.push_str("(?, ?)");
                    values.push((first + i64::try_from(i).unwrap_or(0)).into());
                    values.push(text.into());
                }
                db.execute(Statement::from_sql_and_values(backend, sql, values))
                    .await?;
                next_rowid = Some(first + i64::try_from(chunk.len()).unwrap_or(0));
            }
        }
    }
    Ok(())
}

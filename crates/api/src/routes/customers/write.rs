//! Steps shared by the writes of customers and contacts.

use chrono::{DateTime, Utc};
use rapport_domain::activity::StageChange;
use rapport_domain::contact::Contact;
use rapport_domain::customer::Customer;
use rapport_domain::enums::LifecycleStage;
use rapport_store::Conn;
use rapport_store::repos::{contacts, customers, stage_changes};
use uuid::Uuid;

use crate::error::ApiError;

/// Rewrites the search terms and duplicate keys of `customer` after a write to it or its
/// contacts; answers its contacts.
///
/// # Errors
/// Database failures.
pub async fn reindex(db: &impl Conn, customer: &Customer) -> Result<Vec<Contact>, ApiError> {
    let contacts = contacts::of_customer(db, customer.id).await?;
    customers::reindex(db, customer, &contacts).await?;
    Ok(contacts)
}

/// Puts a stage change on the customer's timeline (`from` is `None` at creation).
///
/// # Errors
/// Database failures.
pub async fn record_stage(
    db: &impl Conn,
    customer: &Customer,
    from: Option<LifecycleStage>,
    by: Option<Uuid>,
    now: DateTime<Utc>,
) -> Result<(), ApiError> {
    let change = StageChange {
        id: Uuid::now_v7(),
        customer_id: customer.id,
        from,
        to: customer.lifecycle_stage,
        changed_at: now,
        changed_by: by,
    };
    stage_changes::insert(db, &change).await?;
    Ok(())
}

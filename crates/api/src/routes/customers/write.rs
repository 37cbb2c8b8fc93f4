//! Steps shared by the writes of customers and contacts.

use chrono::{DateTime, Utc};
use rapport_domain::activity::StageChange;
use rapport_domain::contact::Contact;
use rapport_domain::customer::Customer;
use rapport_domain::enums::{Grade, LifecycleStage};
use rapport_domain::grading::GradeChange;
use rapport_store::Conn;
use rapport_store::repos::{contacts, customers, grading, stage_changes};
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

/// Puts a grade change by hand on the customer's timeline (`from` is `None` at creation).
///
/// # Errors
/// Database failures.
pub async fn record_grade(
    db: &impl Conn,
    customer: &Customer,
    from: Option<Grade>,
    by: Option<Uuid>,
    now: DateTime<Utc>,
) -> Result<(), ApiError> {
    let change = GradeChange {
        id: Uuid::now_v7(),
        customer_id: customer.id,
        from,
        to: customer.grade,
        scores: None,
        changed_at: now,
        changed_by: by,
    };
    grading::insert(db, &change).await?;
    Ok(())
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

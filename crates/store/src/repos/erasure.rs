//! Erasing a customer's personal data, irreversibly: when asked (`POST
//! /v1/customers/{id}/erase`) and when a deleted customer's retention ends (the
//! `maintenance.purge` job). One way to do it, so both forget the same things.

use chrono::{DateTime, Utc};
use rapport_domain::contact::Contact;
use rapport_domain::customer::{Customer, ERASED};
use serde_json::Value;

use crate::repos::{
    self, activities, audit, contacts, customers, idempotency, loyalty, opportunities, orders,
    quotes, survey_invitations, tasks, tickets,
};
use crate::{Conn, StoreError};

/// Erases `customer` and the customers merged into it (the same person or company): names,
/// contact details, addresses, notes, ticket texts and comments, quote and order lines, survey
/// answers' free text, and the values in every audit event about them are replaced by
/// `[erased]`; kind, industry, grade, stage, owner, dates and amounts stay for reports. Kept
/// answers that an idempotent replay would show again are forgotten. Answers `customer` erased,
/// with its contacts.
///
/// The caller records the erasure's own audit event, naming who asked.
///
/// # Errors
/// Database failures; `Stale` when one of them changed meanwhile.
pub async fn erase(
    db: &impl Conn,
    customer: Customer,
    now: DateTime<Utc>,
) -> Result<(Customer, Vec<Contact>), StoreError> {
    let mut everyone = customers::merged_into(db, customer.id).await?;
    let first = customer.id;
    everyone.insert(0, customer);
    let ids: Vec<_> = everyone.iter().map(|c| c.id).collect();
    let mut answer = None;
    for one in everyone {
        let mut people = Vec::new();
        for person in contacts::of_customer(db, one.id).await? {
            people.push(repos::save(db, &person.erased(now), now).await?);
        }
        activities::erase_text(db, one.id, ERASED, now).await?;
        tasks::erase_text(db, one.id, ERASED, now).await?;
        tickets::erase_text(db, one.id, ERASED, now).await?;
        opportunities::erase_text(db, one.id, ERASED, now).await?;
        quotes::erase_text(db, one.id, ERASED, now).await?;
        orders::erase_text(db, one.id, ERASED, now).await?;
        loyalty::erase_text(db, one.id, ERASED).await?;
        survey_invitations::erase_text(db, one.id, now).await?;
        let erased = repos::save(db, &one.erased(now), now).await?;
        customers::reindex(db, &erased, &people).await?;
        if erased.id == first {
            answer = Some((erased, people));
        }
    }
    // Every event about them (contacts, activities and tasks included, deleted ones too).
    for event in audit::about_customers(db, &ids).await? {
        audit::replace_changes(db, event.id, scrub(event.changes), now).await?;
    }
    idempotency::forget_answers_mentioning(db, &ids).await?;
    answer.ok_or(StoreError::NotFound)
}

/// The recorded values of an audit event, each replaced by the tombstone.
fn scrub(changes: Value) -> Value {
    match changes {
        Value::Object(map) => Value::Object(map.into_iter().map(|(k, v)| (k, scrub(v))).collect()),
        Value::Null => Value::Null,
        _ => Value::from(ERASED),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn scrubbing_keeps_the_shape_and_drops_the_values() {
        let changes = json!({"name": {"before": null, "after": "张伟"}, "tags": {"before": ["a"], "after": []}});
        assert_eq!(
            scrub(changes),
            json!({"name": {"before": null, "after": "[erased]"}, "tags": {"before": "[erased]", "after": "[erased]"}})
        );
    }
}

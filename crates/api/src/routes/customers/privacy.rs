//! Personal data: everything held about a customer, and its irreversible erasure.

use actix_web::{HttpResponse, get, post, web};
use chrono::{DateTime, Utc};
use rapport_domain::customer::ERASED;
use rapport_store::repos::{
    self, activities, audit as audit_repo, contacts, customers, grading, idempotency,
    opportunities, orders, quotes, stage_changes, survey_invitations, surveys, tasks, tickets,
};
use serde::Serialize;
use serde_json::{Value, json};
use utoipa::ToSchema;
use uuid::Uuid;

use super::access;
use super::timeline::{GradeChange, StageChange};
use super::types::{Contact, Customer};
use super::write::reindex;
use crate::audit;
use crate::auth::Authorized;
use crate::auth::scopes::CustomersPrivacy;
use crate::error::{ApiError, Failure};
use crate::routes::activities::Activity;
use crate::routes::audit_events::AuditEvent;
use crate::routes::opportunities::Opportunity;
use crate::routes::orders::Order;
use crate::routes::quotes::Quote;
use crate::routes::survey_invitations::Invitation;
use crate::routes::tasks::Task;
use crate::routes::tickets::{Ticket, TicketComment};
use crate::state::AppState;

/// Everything Rapport holds about a customer and its contacts.
#[derive(Debug, Serialize, ToSchema)]
pub struct CustomerExport {
    pub exported_at: DateTime<Utc>,
    pub customer: Customer,
    pub contacts: Vec<Contact>,
    pub activities: Vec<Activity>,
    pub tasks: Vec<Task>,
    pub stage_changes: Vec<StageChange>,
    pub grade_changes: Vec<GradeChange>,
    pub tickets: Vec<Ticket>,
    /// The replies and internal notes on those tickets.
    pub ticket_comments: Vec<TicketComment>,
    pub opportunities: Vec<Opportunity>,
    pub quotes: Vec<Quote>,
    pub orders: Vec<Order>,
    /// Survey invitations and their answers.
    pub survey_invitations: Vec<Invitation>,
    /// Who changed what about the customer and its contacts.
    pub audit_events: Vec<AuditEvent>,
}

/// Export a customer's personal data as one JSON document.
#[utoipa::path(
    tag = "privacy",
    params(("id" = Uuid, Path)),
    responses((status = 200, body = CustomerExport)),
    security(("oauth2" = ["customers:privacy"]))
)]
#[get("/customers/{id}/export")]
pub async fn export_customer(
    state: web::Data<AppState>,
    auth: Authorized<CustomersPrivacy>,
    id: web::Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    let now = state.clock.now();
    let tx = state.store.begin().await?;
    let customer = access::any_visible(&tx, &auth, id.into_inner()).await?;
    // The records of customers merged into this one belong to it now, and their trail too.
    let mut ids = vec![customer.id];
    ids.extend(
        customers::merged_into(&tx, customer.id)
            .await?
            .iter()
            .map(|c| c.id),
    );
    let people = contacts::of_customer(&tx, customer.id).await?;
    let invitations = survey_invitations::of_customers(&tx, &[customer.id]).await?;
    let asked = surveys::get_many(&tx, invitations.iter().map(|i| i.survey_id)).await?;
    let export = CustomerExport {
        exported_at: now,
        activities: activities::of_customers(&tx, &[customer.id])
            .await?
            .into_iter()
            .map(Activity::from)
            .collect(),
        tasks: tasks::of_customers(&tx, &[customer.id])
            .await?
            .into_iter()
            .map(|t| Task::new(t, now))
            .collect(),
        stage_changes: stage_changes::of_customer(&tx, customer.id, None, 10_000)
            .await?
            .items
            .into_iter()
            .map(StageChange::from)
            .collect(),
        grade_changes: grading::of_customer(&tx, customer.id, None, 10_000)
            .await?
            .items
            .into_iter()
            .map(GradeChange::from)
            .collect(),
        tickets: tickets::of_customers(&tx, &[customer.id])
            .await?
            .into_iter()
            .map(Ticket::from)
            .collect(),
        ticket_comments: tickets::comments_of_customers(&tx, &[customer.id])
            .await?
            .into_iter()
            .map(TicketComment::from)
            .collect(),
        opportunities: opportunities::of_customers(&tx, &[customer.id])
            .await?
            .into_iter()
            .map(Opportunity::from)
            .collect(),
        quotes: quotes::of_customers(&tx, &[customer.id])
            .await?
            .into_iter()
            .map(|q| Quote::from(q.as_of(now)))
            .collect(),
        orders: orders::of_customers(&tx, &[customer.id])
            .await?
            .into_iter()
            .map(Order::from)
            .collect(),
        survey_invitations: invitations
            .into_iter()
            .map(|i| {
                let survey = asked.get(&i.survey_id);
                Invitation::new(i, survey, now)
            })
            .collect(),
        audit_events: audit_repo::about_customers(&tx, &ids)
            .await?
            .into_iter()
            .map(AuditEvent::from)
            .collect(),
        contacts: people.into_iter().map(Contact::from).collect(),
        customer: Customer::from(customer.clone()),
    };
    audit::record_and_commit(
        tx,
        &state,
        &auth.origin,
        audit::Subject::customer(customer.id),
        "export",
        json!({}),
    )
    .await?;
    Ok(HttpResponse::Ok()
        .insert_header((
            "Content-Disposition",
            format!("attachment; filename=\"customer-{}.json\"", customer.id),
        ))
        .json(export))
}

/// The recorded values of an audit event, each replaced by the tombstone.
fn scrub(changes: Value) -> Value {
    match changes {
        Value::Object(map) => Value::Object(map.into_iter().map(|(k, v)| (k, scrub(v))).collect()),
        Value::Null => Value::Null,
        _ => Value::from(ERASED),
    }
}

/// Erase a customer's personal data, irreversibly.
///
/// Names, contact details, addresses, notes, ticket texts and comments, and the values in its
/// audit events are replaced by `[erased]`; free-text survey answers are removed; kind, industry, grade, stage, owner, dates and
/// counts stay for reports.
#[utoipa::path(
    tag = "privacy",
    params(("id" = Uuid, Path)),
    responses((status = 200, body = Customer)),
    security(("oauth2" = ["customers:privacy"]))
)]
#[post("/customers/{id}/erase")]
pub async fn erase_customer(
    state: web::Data<AppState>,
    auth: Authorized<CustomersPrivacy>,
    id: web::Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    let now = state.clock.now();
    let tx = state.store.begin().await?;
    let customer = access::any_to_change(&tx, &auth, id.into_inner()).await?;
    // Customers merged into this one are the same person or company: erased with it.
    let mut everyone = customers::merged_into(&tx, customer.id).await?;
    let ids: Vec<_> = std::iter::once(customer.id)
        .chain(everyone.iter().map(|c| c.id))
        .collect();
    everyone.push(customer);
    let mut erased_body = None;
    for one in everyone {
        for person in contacts::of_customer(&tx, one.id).await? {
            repos::save(&tx, &person.erased(now), now).await?;
        }
        activities::erase_text(&tx, one.id, ERASED, now).await?;
        tasks::erase_text(&tx, one.id, ERASED, now).await?;
        tickets::erase_text(&tx, one.id, ERASED, now).await?;
        opportunities::erase_text(&tx, one.id, ERASED, now).await?;
        quotes::erase_text(&tx, one.id, ERASED, now).await?;
        orders::erase_text(&tx, one.id, ERASED, now).await?;
        survey_invitations::erase_text(&tx, one.id, now).await?;
        let erased = repos::save(&tx, &one.erased(now), now).await?;
        let people = reindex(&tx, &erased).await?;
        if erased.id == ids[0] {
            erased_body = Some(Customer::with_contacts(erased, people));
        }
    }
    // Every event about them (contacts, activities and tasks included, deleted ones too).
    for event in audit_repo::about_customers(&tx, &ids).await? {
        audit_repo::replace_changes(&tx, event.id, scrub(event.changes), now).await?;
    }
    // And every kept answer that a replay of a create or an update would show again.
    idempotency::forget_answers_mentioning(&tx, &ids).await?;
    audit::record_and_commit(
        tx,
        &state,
        &auth.origin,
        audit::Subject::customer(ids[0]),
        "erase",
        json!({"erased": true}),
    )
    .await?;
    let body = erased_body
        .ok_or_else(|| ApiError::Internal(Failure::new("the erased customer went missing")))?;
    Ok(HttpResponse::Ok().json(body))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scrubbing_keeps_the_shape_and_drops_the_values() {
        let changes = json!({"name": {"before": null, "after": "张伟"}, "tags": {"before": ["a"], "after": []}});
        assert_eq!(
            scrub(changes),
            json!({"name": {"before": null, "after": "[erased]"}, "tags": {"before": "[erased]", "after": "[erased]"}})
        );
    }
}

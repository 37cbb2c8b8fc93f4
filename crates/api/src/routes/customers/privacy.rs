//! Personal data: everything held about a customer, and its irreversible erasure.

use actix_web::{HttpResponse, get, post, web};
use chrono::{DateTime, Utc};
use rapport_domain::customer::ERASED;
use rapport_store::repos::{
    activities, audit as audit_repo, contacts, customers, stage_changes, tasks,
};
use serde::Serialize;
use serde_json::{Value, json};
use utoipa::ToSchema;
use uuid::Uuid;

use super::access;
use super::timeline::StageChange;
use super::types::{Contact, Customer};
use super::write::reindex;
use crate::audit;
use crate::auth::Authorized;
use crate::auth::scopes::CustomersPrivacy;
use crate::error::ApiError;
use crate::routes::activities::Activity;
use crate::routes::audit_events::AuditEvent;
use crate::routes::tasks::Task;
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
    let people = contacts::of_customer(&tx, customer.id).await?;
    let mut entity_ids = vec![customer.id];
    entity_ids.extend(people.iter().map(|c| c.id));
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
        audit_events: audit_repo::of_entities(&tx, &entity_ids)
            .await?
            .into_iter()
            .map(AuditEvent::from)
            .collect(),
        contacts: people.into_iter().map(Contact::from).collect(),
        customer: Customer::from(customer.clone()),
    };
    audit::record(
        &tx,
        &state,
        &auth.origin,
        "customer",
        customer.id,
        "export",
        json!({}),
    )
    .await?;
    rapport_store::commit(tx).await?;
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
/// Names, contact details, addresses, notes and the values in its audit events are replaced
/// by `[erased]`; kind, industry, grade, stage, owner, dates and counts stay for reports.
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
    let customer = access::any_visible(&tx, &auth, id.into_inner()).await?;
    let people = contacts::of_customer(&tx, customer.id).await?;
    let mut entity_ids = vec![customer.id];
    for person in &people {
        entity_ids.push(person.id);
        contacts::save(&tx, &person.erased(now), now).await?;
    }
    activities::erase_text(&tx, customer.id, ERASED, now).await?;
    tasks::erase_text(&tx, customer.id, ERASED, now).await?;
    for event in audit_repo::of_entities(&tx, &entity_ids).await? {
        audit_repo::replace_changes(&tx, event.id, scrub(event.changes)).await?;
    }
    let erased = customers::save(&tx, &customer.erased(now), now).await?;
    let people = reindex(&tx, &erased).await?;
    audit::record(
        &tx,
        &state,
        &auth.origin,
        "customer",
        erased.id,
        "erase",
        json!({"erased": true}),
    )
    .await?;
    rapport_store::commit(tx).await?;
    let body = Customer::with_contacts(erased, people);
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

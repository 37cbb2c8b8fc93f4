//! Personal data: everything held about a customer, and its irreversible erasure.

use actix_web::{HttpResponse, get, post, web};
use chrono::{DateTime, Utc};
use rapport_store::repos::{
    activities, audit as audit_repo, contacts, customers, erasure, grading, loyalty, opportunities,
    orders, quotes, stage_changes, survey_invitations, surveys, tasks, tickets,
};
use serde::Serialize;
use serde_json::json;
use utoipa::ToSchema;
use uuid::Uuid;

use super::access;
use super::timeline::{GradeChange, StageChange};
use super::types::{Contact, Customer};
use crate::audit;
use crate::auth::Authorized;
use crate::auth::scopes::CustomersPrivacy;
use crate::error::ApiError;
use crate::routes::activities::Activity;
use crate::routes::audit_events::AuditEvent;
use crate::routes::loyalty::LoyaltyTransaction;
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
    /// The loyalty points ledger, oldest first.
    pub loyalty_transactions: Vec<LoyaltyTransaction>,
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
        loyalty_transactions: loyalty::of_customer(&tx, customer.id)
            .await?
            .into_iter()
            .map(LoyaltyTransaction::from)
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
    let (erased, people) = erasure::erase(&tx, customer, now).await?;
    let body = Customer::with_contacts(erased, people);
    audit::record_and_commit(
        tx,
        &state,
        &auth.origin,
        audit::Subject::customer(body.id),
        "erase",
        json!({"erased": true}),
    )
    .await?;
    Ok(HttpResponse::Ok().json(body))
}

//! Every five minutes: leads not contacted by their first-contact due time (product.md's
//! 24-hour rule) are escalated once each: the owner's team manager is notified, and the
//! escalation audited.

use chrono::{DateTime, Utc};
use rapport_domain::audit::AuditEvent;
use rapport_domain::customer::Customer;
use rapport_domain::identity::Actor;
use rapport_domain::notification::{Notification, NotificationKind};
use rapport_store::repos::{audit, customers, lead_escalations, notifications, teams, users};
use rapport_store::{Conn, Store, StoreError};
use serde_json::json;
use uuid::Uuid;

use super::handler::{Handler, JobContext, JobFailure};

pub const ESCALATE: &str = "leads.escalate";

/// Leads handled per run; the next run takes the rest.
const BATCH: u64 = 200;

pub struct Escalate;

#[async_trait::async_trait]
impl Handler for Escalate {
    async fn run(&self, ctx: &JobContext) -> Result<(), JobFailure> {
        let now = ctx.clock.now();
        let overdue = lead_escalations::overdue(ctx.store.conn(), now, BATCH).await?;
        let mut escalated = 0;
        for id in overdue {
            if escalate(&ctx.store, id, now).await? {
                escalated += 1;
            }
        }
        if escalated > 0 {
            tracing::info!(escalated, "overdue leads escalated");
        }
        Ok(())
    }
}

/// Escalates lead `id` in one transaction with its notification and audit event; `false`
/// when it was escalated already.
async fn escalate(store: &Store, id: Uuid, now: DateTime<Utc>) -> Result<bool, StoreError> {
    let tx = store.begin().await?;
    let lead = customers::get(&tx, id).await?;
    // Contacted (or deleted) since it was listed: nothing to escalate.
    if !lead.follow_up_overdue(now) {
        return Ok(false);
    }
    let manager = manager_of_owner(&tx, &lead).await?;
    if !lead_escalations::record(&tx, &lead, manager, now).await? {
        return Ok(false);
    }
    if let Some(manager) = manager {
        let title = format!("Lead not contacted in time: {}", lead.name.as_str());
        let note = Notification::new(
            manager,
            NotificationKind::LeadOverdue,
            &title,
            None,
            Some(lead.id),
            now,
        );
        notifications::insert(&tx, &note).await?;
    }
    audit::record(
        &tx,
        AuditEvent {
            id: Uuid::now_v7(),
            occurred_at: now,
            actor: Actor::System,
            entity_type: "customer".into(),
            entity_id: lead.id,
            customer_id: Some(lead.id),
            action: "follow_up_escalated".into(),
            request_id: None,
            ip: None,
            changes: json!({
                "first_contact_due_at": lead.first_contact_due_at,
                "notified_id": manager,
            }),
        },
    )
    .await?;
    rapport_store::commit(tx).await?;
    Ok(true)
}

/// The manager of the team of the lead's owner.
async fn manager_of_owner(db: &impl Conn, lead: &Customer) -> Result<Option<Uuid>, StoreError> {
    let Some(owner) = lead.owner_id else {
        return Ok(None);
    };
    let team = match users::get(db, owner).await {
        Ok(user) => user.team_id,
        Err(StoreError::NotFound) => None,
        Err(e) => return Err(e),
    };
    match team {
        None => Ok(None),
        Some(team) => match teams::get(db, team).await {
            Ok(team) => Ok(team.manager_id),
            Err(StoreError::NotFound) => Ok(None),
            Err(e) => Err(e),
        },
    }
}

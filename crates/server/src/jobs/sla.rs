//! Every minute: tickets that missed an SLA target are marked breached (each target once),
//! raised one priority step, their team's manager notified (or, with no manager, the
//! assignee), and the breach audited; assignees of tickets whose resolution is due within the
//! reminder lead time are reminded (once per due time).

use chrono::{DateTime, Utc};
use rapport_domain::audit::AuditEvent;
use rapport_domain::identity::Actor;
use rapport_domain::notification::{Notification, NotificationKind};
use rapport_domain::ticket::{SlaTarget, Ticket};
use rapport_store::repos::{self, audit, notifications, teams, tickets};
use rapport_store::{Store, StoreError};
use serde_json::json;
use uuid::Uuid;

use super::handler::{Handler, JobContext, JobFailure};

pub const CHECK: &str = "sla.check";

/// Tickets handled per transaction.
const BATCH: u64 = 100;

pub struct Check {
    /// How long before the resolution is due its assignee is reminded; zero: never.
    pub reminder: chrono::Duration,
}

#[async_trait::async_trait]
impl Handler for Check {
    async fn run(&self, ctx: &JobContext) -> Result<(), JobFailure> {
        let now = ctx.clock.now();
        if self.reminder > chrono::Duration::zero() {
            remind(&ctx.store, now, self.reminder).await?;
        }
        let mut breached = 0;
        loop {
            let due = tickets::missing_targets(ctx.store.conn(), now, BATCH).await?;
            if due.is_empty() {
                break;
            }
            let mut progressed = false;
            for ticket in due {
                match breach(&ctx.store, ticket.id, now).await {
                    Ok(n) => {
                        breached += n;
                        progressed |= n > 0;
                    }
                    // Changed meanwhile by a request: the next run sees it as it is then.
                    Err(StoreError::Stale) => {}
                    Err(e) => return Err(e.into()),
                }
            }
            if !progressed {
                break;
            }
        }
        if breached > 0 {
            tracing::info!(breached, "SLA targets missed");
        }
        Ok(())
    }
}

/// Records the targets ticket `id` has missed at `now`, in one transaction with its
/// notification and audit event: a second run finds them recorded and does nothing.
async fn breach(store: &Store, id: Uuid, now: DateTime<Utc>) -> Result<usize, StoreError> {
    let tx = store.begin().await?;
    let mut ticket: Ticket = repos::get_locked(&tx, id).await?;
    let missed = ticket.missed(now);
    if missed.is_empty() {
        return Ok(0);
    }
    let priority_before = ticket.priority;
    for target in &missed {
        ticket.record_breach(*target, now);
    }
    let saved = repos::save(&tx, &ticket, now).await?;
    let names: Vec<&str> = missed.iter().map(|t| t.as_str()).collect();
    if let Some(user) = escalate_to(&tx, &saved).await? {
        let what = if missed.contains(&SlaTarget::FirstResponse) {
            "first response"
        } else {
            "resolution"
        };
        let title = format!("SLA breached ({what}): {}", saved.subject.as_str());
        let note = Notification::new(
            user,
            NotificationKind::SlaBreached,
            &title,
            Some(saved.id),
            Some(saved.customer_id),
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
            entity_type: "ticket".into(),
            entity_id: saved.id,
            customer_id: Some(saved.customer_id),
            action: "sla_breached".into(),
            request_id: None,
            ip: None,
            changes: json!({
                "targets": names,
                "priority": {"before": priority_before.as_str(), "after": saved.priority.as_str()},
            }),
        },
    )
    .await?;
    rapport_store::commit(tx).await?;
    Ok(missed.len())
}

/// Reminds the assignees of tickets due within `lead`, each in a transaction with its
/// notification.
async fn remind(
    store: &Store,
    now: DateTime<Utc>,
    lead: chrono::Duration,
) -> Result<(), StoreError> {
    for listed in tickets::due_soon(store.conn(), now, now + lead, BATCH).await? {
        let tx = store.begin().await?;
        let mut ticket: Ticket = repos::get_locked(&tx, listed.id).await?;
        let Some(assignee) = ticket
            .assignee_id
            .filter(|_| ticket.reminder_due(now, lead))
        else {
            continue;
        };
        ticket.reminded_at = Some(now);
        let saved = match repos::save(&tx, &ticket, now).await {
            Ok(saved) => saved,
            // Changed meanwhile by a request: the next run sees it as it is then.
            Err(StoreError::Stale) => continue,
            Err(e) => return Err(e),
        };
        let title = format!("Resolution due soon: {}", saved.subject.as_str());
        let note = Notification::new(
            assignee,
            NotificationKind::SlaReminder,
            &title,
            Some(saved.id),
            Some(saved.customer_id),
            now,
        );
        notifications::insert(&tx, &note).await?;
        rapport_store::commit(tx).await?;
    }
    Ok(())
}

/// Who hears of a breach: the manager of the ticket's team, else its assignee.
async fn escalate_to(
    db: &impl rapport_store::Conn,
    ticket: &Ticket,
) -> Result<Option<Uuid>, StoreError> {
    let manager = match ticket.team_id {
        Some(team) => match teams::get(db, team).await {
            Ok(team) => team.manager_id,
            Err(StoreError::NotFound) => None,
            Err(e) => return Err(e),
        },
        None => None,
    };
    Ok(manager.or(ticket.assignee_id))
}

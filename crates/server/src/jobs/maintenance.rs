//! Housekeeping, every 15 minutes: refresh tokens expired for a day, idempotency keys past
//! their 24 hours, jobs that succeeded more than a week ago, webhook deliveries that ended
//! more than 30 days ago, notifications read more than 90 days ago, the sealed tokens of
//! survey invitations that expired unsent, and deleted customers past their retention
//! (`RAPPORT_DELETED_RETENTION_DAYS`), erased.

use chrono::{DateTime, Duration, Utc};
use rapport_domain::audit::AuditEvent;
use rapport_domain::customer::Customer;
use rapport_domain::identity::Actor;
use rapport_store::repos::{
    audit, customers, erasure, idempotency, jobs, notifications, refresh_tokens,
    survey_invitations, webhooks,
};
use rapport_store::{Store, StoreError};
use serde_json::json;
use uuid::Uuid;

use super::handler::{Handler, JobContext, JobFailure};

pub const PURGE: &str = "maintenance.purge";

/// How long a finished job stays listed, and its schedule key kept (longer than the longest
/// schedule, a day).
const KEEP_SUCCEEDED: Duration = Duration::days(7);

/// How long a finished webhook delivery stays listed with its attempts.
const KEEP_DELIVERIES: Duration = Duration::days(30);

/// How long a read notification stays in its user's inbox.
const KEEP_READ_NOTIFICATIONS: Duration = Duration::days(90);

/// Deleted customers erased per pass of the loop (each in its own transaction, so that
/// SQLite's writer is held for one customer at a time).
const ERASE_BATCH: u64 = 50;

/// Deletes what has expired, in one transaction, then erases the deleted customers whose
/// retention has ended, one transaction each: a second run finds nothing more.
pub struct Purge {
    /// How long a deleted customer can be restored before it is erased.
    pub keep_deleted: Duration,
}

#[async_trait::async_trait]
impl Handler for Purge {
    async fn run(&self, ctx: &JobContext) -> Result<(), JobFailure> {
        let now = ctx.clock.now();
        let tx = ctx.store.begin().await?;
        let tokens = refresh_tokens::purge_expired(&tx, now - Duration::days(1)).await?;
        let keys = idempotency::purge_expired(&tx, now).await?;
        let jobs = jobs::purge_succeeded(&tx, now - KEEP_SUCCEEDED).await?;
        let deliveries = webhooks::purge_finished(&tx, now - KEEP_DELIVERIES).await?;
        let read = notifications::purge_read(&tx, now - KEEP_READ_NOTIFICATIONS).await?;
        let invitations = survey_invitations::forget_expired_tokens(&tx, now).await?;
        rapport_store::commit(tx).await?;
        let erased = erase_deleted(&ctx.store, now - self.keep_deleted, now).await?;
        if tokens + keys + jobs + deliveries + read + invitations + erased > 0 {
            tracing::info!(
                tokens,
                keys,
                jobs,
                deliveries,
                read,
                invitations,
                erased,
                "expired refresh tokens, idempotency keys, jobs, webhook deliveries, read notifications and invitation tokens purged; deleted customers past retention erased"
            );
        }
        Ok(())
    }
}

/// Erases every customer deleted before `cutoff` (and not erased yet), each with an audit
/// event by the system. Answers how many were erased.
async fn erase_deleted(
    store: &Store,
    cutoff: DateTime<Utc>,
    now: DateTime<Utc>,
) -> Result<u64, StoreError> {
    let mut erased = 0;
    loop {
        let due = customers::deleted_before(store.conn(), cutoff, ERASE_BATCH).await?;
        let found = due.len() as u64;
        for candidate in due {
            let tx = store.begin().await?;
            // Read again in the transaction: a restore may have come between.
            let customer = customers::get(&tx, candidate.id).await?;
            if customer.deleted_at.is_none_or(|at| at >= cutoff) || customer.erased_at.is_some() {
                continue;
            }
            let deleted_at = customer.deleted_at;
            let (customer, _) = erasure::erase(&tx, customer, now).await?;
            audit::record(&tx, purged_event(&customer, deleted_at, now)).await?;
            rapport_store::commit(tx).await?;
            erased += 1;
        }
        if found < ERASE_BATCH {
            return Ok(erased);
        }
    }
}

/// The audit event of a deleted customer erased when its retention ended.
fn purged_event(
    customer: &Customer,
    deleted_at: Option<DateTime<Utc>>,
    now: DateTime<Utc>,
) -> AuditEvent {
    AuditEvent {
        id: Uuid::now_v7(),
        occurred_at: now,
        actor: Actor::System,
        entity_type: "customer".into(),
        entity_id: customer.id,
        customer_id: Some(customer.id),
        action: "purge".into(),
        request_id: None,
        ip: None,
        changes: json!({"erased": true, "deleted_at": deleted_at}),
    }
}

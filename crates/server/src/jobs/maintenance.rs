//! Housekeeping, every 15 minutes: refresh tokens expired for a day, idempotency keys past
//! their 24 hours, jobs that succeeded more than a week ago, webhook deliveries that ended
//! more than 30 days ago, and notifications read more than 90 days ago.

use chrono::Duration;
use rapport_store::repos::{idempotency, jobs, notifications, refresh_tokens, webhooks};

use super::handler::{Handler, JobContext, JobFailure};

pub const PURGE: &str = "maintenance.purge";

/// How long a finished job stays listed, and its schedule key kept (longer than the longest
/// schedule, a day).
const KEEP_SUCCEEDED: Duration = Duration::days(7);

/// How long a finished webhook delivery stays listed with its attempts.
const KEEP_DELIVERIES: Duration = Duration::days(30);

/// How long a read notification stays in its user's inbox.
const KEEP_READ_NOTIFICATIONS: Duration = Duration::days(90);

/// Deletes what has expired, in one transaction: a second run deletes nothing more.
pub struct Purge;

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
        rapport_store::commit(tx).await?;
        if tokens + keys + jobs + deliveries + read > 0 {
            tracing::info!(
                tokens,
                keys,
                jobs,
                deliveries,
                read,
                "expired refresh tokens, idempotency keys, jobs, webhook deliveries and read notifications purged"
            );
        }
        Ok(())
    }
}

//! Housekeeping, every 15 minutes: refresh tokens expired for a day, idempotency keys past
//! their 24 hours, and jobs that succeeded more than a week ago.

use chrono::Duration;
use rapport_store::repos::{idempotency, jobs, refresh_tokens};

use super::handler::{Handler, JobContext, JobFailure};

pub const PURGE: &str = "maintenance.purge";

/// How long a finished job stays listed, and its schedule key kept (longer than the longest
/// schedule, a day).
const KEEP_SUCCEEDED: Duration = Duration::days(7);

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
        rapport_store::commit(tx).await?;
        if tokens + keys + jobs > 0 {
            tracing::info!(
                tokens,
                keys,
                jobs,
                "expired refresh tokens, idempotency keys and jobs purged"
            );
        }
        Ok(())
    }
}

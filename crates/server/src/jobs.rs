//! Background jobs. Each run is idempotent (deletes of what has expired), so every instance can
//! run them at once without coordination.

use std::sync::Arc;
use std::time::Duration;

use chrono::Duration as Span;
use rapport_domain::clock::Clock;
use rapport_store::Store;
use rapport_store::repos::{idempotency, refresh_tokens};
use tokio::task::JoinHandle;

/// How often maintenance runs.
const EVERY: Duration = Duration::from_secs(15 * 60);

/// Starts the maintenance loop: purging refresh tokens expired for a day and idempotency keys
/// past their 24 hours.
pub fn spawn(store: Store, clock: Arc<dyn Clock>) -> JoinHandle<()> {
    tokio::spawn(async move {
        let mut interval = tokio::time::interval(EVERY);
        loop {
            interval.tick().await;
            let cutoff = clock.now() - Span::days(1);
            match refresh_tokens::purge_expired(store.conn(), cutoff).await {
                Ok(0) => {}
                Ok(n) => tracing::info!(purged = n, "expired refresh tokens purged"),
                Err(e) => tracing::warn!(error = %e, "purging refresh tokens failed; will retry"),
            }
            match idempotency::purge_expired(store.conn(), clock.now()).await {
                Ok(0) => {}
                Ok(n) => tracing::info!(purged = n, "expired idempotency keys purged"),
                Err(e) => tracing::warn!(error = %e, "purging idempotency keys failed; will retry"),
            }
        }
    })
}

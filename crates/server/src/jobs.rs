//! Background jobs. Each run is idempotent (deletes of what has expired, reading a counter),
//! so every instance can run them at once without coordination.

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Duration as Span, Utc};
use rapport_api::auth::token_checks::{self, TokenChecks};
use rapport_domain::clock::Clock;
use rapport_store::repos::{idempotency, refresh_tokens};
use rapport_store::{Store, StoreError};
use tokio::task::JoinHandle;

/// How often maintenance runs.
const EVERY: Duration = Duration::from_secs(15 * 60);

/// Starts the background work: maintenance, watching for revoked tokens, and rebuilding the
/// search index once when it is outdated.
pub fn spawn(
    store: Store,
    clock: Arc<dyn Clock>,
    token_checks: Arc<TokenChecks>,
) -> JoinHandle<()> {
    let watch = token_checks::watch(store.clone(), token_checks);
    tokio::spawn(async move {
        tokio::join!(
            crate::reindex::when_outdated(store.clone()),
            maintenance(store, clock),
            watch
        );
    })
}

/// Purges refresh tokens expired for a day and idempotency keys past their 24 hours, in a
/// transaction of their own (on SQLite the writer is shared with requests).
async fn maintenance(store: Store, clock: Arc<dyn Clock>) {
    let mut interval = tokio::time::interval(EVERY);
    loop {
        interval.tick().await;
        match purge(&store, clock.now()).await {
            Ok((tokens, keys)) if tokens + keys > 0 => {
                tracing::info!(
                    tokens,
                    keys,
                    "expired refresh tokens and idempotency keys purged"
                );
            }
            Ok(_) => {}
            Err(e) => tracing::warn!(error = %e, "purging expired rows failed; will retry"),
        }
    }
}

async fn purge(store: &Store, now: DateTime<Utc>) -> Result<(u64, u64), StoreError> {
    let tx = store.begin().await?;
    let tokens = refresh_tokens::purge_expired(&tx, now - Span::days(1)).await?;
    let keys = idempotency::purge_expired(&tx, now).await?;
    rapport_store::commit(tx).await?;
    Ok((tokens, keys))
}

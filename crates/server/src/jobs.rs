//! Background jobs. Each run is idempotent (deletes of what has expired, reading a counter),
//! so every instance can run them at once without coordination.

use std::sync::Arc;
use std::time::Duration;

use chrono::Duration as Span;
use rapport_api::auth::token_checks::{self, TokenChecks};
use rapport_domain::clock::Clock;
use rapport_store::repos::{idempotency, refresh_tokens};
use rapport_store::{Store, StoreError, Tx};
use tokio::task::JoinHandle;

/// How often maintenance runs.
const EVERY: Duration = Duration::from_secs(15 * 60);

/// Starts the background loops: maintenance, and watching for revoked tokens.
pub fn spawn(
    store: Store,
    clock: Arc<dyn Clock>,
    token_checks: Arc<TokenChecks>,
) -> JoinHandle<()> {
    let watch = token_checks::watch(store.clone(), token_checks);
    tokio::spawn(async move {
        tokio::join!(maintenance(store, clock), watch);
    })
}

/// Purges refresh tokens expired for a day and idempotency keys past their 24 hours.
async fn maintenance(store: Store, clock: Arc<dyn Clock>) {
    let mut interval = tokio::time::interval(EVERY);
    loop {
        interval.tick().await;
        let cutoff = clock.now() - Span::days(1);
        match purge(&store, |tx| {
            Box::pin(refresh_tokens::purge_expired(tx, cutoff))
        })
        .await
        {
            Ok(0) => {}
            Ok(n) => tracing::info!(purged = n, "expired refresh tokens purged"),
            Err(e) => tracing::warn!(error = %e, "purging refresh tokens failed; will retry"),
        }
        let now = clock.now();
        match purge(&store, |tx| Box::pin(idempotency::purge_expired(tx, now))).await {
            Ok(0) => {}
            Ok(n) => tracing::info!(purged = n, "expired idempotency keys purged"),
            Err(e) => tracing::warn!(error = %e, "purging idempotency keys failed; will retry"),
        }
    }
}

type Delete<'t> = std::pin::Pin<Box<dyn Future<Output = Result<u64, StoreError>> + Send + 't>>;

/// One purge in a transaction of its own: on SQLite the writer is shared with requests.
async fn purge(
    store: &Store,
    delete: impl for<'t> FnOnce(&'t Tx) -> Delete<'t>,
) -> Result<u64, StoreError> {
    let tx = store.begin().await?;
    let purged = delete(&tx).await?;
    rapport_store::commit(tx).await?;
    Ok(purged)
}

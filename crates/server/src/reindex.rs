//! Rebuilding the search index with the terms this code writes: by hand (`rapport reindex`)
//! or at the server's start when the index was built by an older version.

use std::time::Instant;

use rapport_store::repos::customers::{self, INDEX_VERSION};
use rapport_store::{Store, StoreError};

/// Does the search index hold terms older than this code writes?
///
/// # Errors
/// Database failures.
pub async fn outdated(store: &Store) -> Result<bool, StoreError> {
    Ok(customers::index_version(store.conn()).await? < INDEX_VERSION)
}

/// Rebuilds the index when it is outdated, logging its progress every tenth. Searches answer
/// from the old terms meanwhile.
pub async fn when_outdated(store: Store) {
    match outdated(&store).await {
        Ok(false) => return,
        Ok(true) => {}
        Err(e) => {
            tracing::warn!(error = %e, "search index: could not read its version");
            return;
        }
    }
    let total = customers::count_all(store.conn()).await.unwrap_or(0);
    tracing::info!(
        customers = total,
        "search index: rebuilding with this version's terms; searches use the old ones meanwhile"
    );
    let started = Instant::now();
    let step = (total / 10).max(1);
    let mut next = step;
    let result = customers::rebuild_index(&store, |done| {
        if done >= next {
            tracing::info!(done, total, "search index: rebuilding");
            next = done + step;
        }
    })
    .await;
    match result {
        Ok(done) => tracing::info!(
            customers = done,
            seconds = started.elapsed().as_secs_f64(),
            "search index: rebuilt"
        ),
        Err(e) => tracing::error!(
            error = %e,
            "search index: rebuilding failed; it resumes at the next start, or run `rapport reindex`"
        ),
    }
}

//! Rebuilding the search index with the terms this code writes: by hand (`rapport reindex`)
//! or at the server's start when the index was built by an older version.

use std::time::Instant;

use rapport_store::repos::customers::{self, INDEX_VERSION};
use rapport_store::{Store, StoreError};

/// Customers per transaction: small enough that requests waiting for SQLite's writer wait
/// for one batch at most, large enough that a million customers take minutes, not hours.
const BATCH: u64 = 500;

/// Does the search index hold terms older than this code writes?
///
/// # Errors
/// Database failures.
pub async fn outdated(store: &Store) -> Result<bool, StoreError> {
    Ok(customers::index_version(store.conn()).await? < INDEX_VERSION)
}

/// Rewrites every customer's search terms, one transaction per batch, then records the
/// index's version. `progress` hears how many customers are done after each batch. Safe to
/// run while servers run, and twice: each batch writes what a change of its customers would.
///
/// # Errors
/// Database failures; the batches before it stay done.
pub async fn rebuild(store: &Store, mut progress: impl FnMut(u64)) -> Result<u64, StoreError> {
    let mut after = None;
    let mut done = 0;
    loop {
        let tx = store.begin().await?;
        match customers::reindex_batch(&tx, after, BATCH).await? {
            Some((last, count)) => {
                rapport_store::commit(tx).await?;
                after = Some(last);
                done += count as u64;
                progress(done);
            }
            None => {
                customers::set_index_version(&tx, INDEX_VERSION).await?;
                rapport_store::commit(tx).await?;
                return Ok(done);
            }
        }
    }
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
    let result = rebuild(&store, |done| {
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

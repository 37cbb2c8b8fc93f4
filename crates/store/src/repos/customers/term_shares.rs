//! How common PostgreSQL's customer search terms are, from its own statistics of
//! `customer_terms` (`pg_stats.most_common_elems`), read into memory once every few minutes.
//!
//! A search asks it which way to read each rank's matches (see `list::tier_page`). Planning
//! a statement whose `tsquery` PostgreSQL estimates itself costs 0.7–1 ms at 1,000,000
//! customers (it unpacks the 10,000 most common terms every time); statements that hide the
//! `tsquery` from the planner plan in microseconds, and this choice is made here instead.
//! The choice only decides speed: every way of reading finds the same records.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rapport_domain::search::TermShares;
use sea_orm::{DatabaseBackend, Statement};

use crate::{Conn, StoreError};

/// How long statistics read are used before they are read again: `ANALYZE` (autovacuum's,
/// after enough writes) changes them slowly.
const FRESH_FOR: Duration = Duration::from_secs(300);

/// One process serves one database, so one copy is kept per process.
static CACHE: Mutex<Option<(Instant, Arc<TermShares>)>> = Mutex::new(None);

/// The shares of the most common terms, read again when older than [`FRESH_FOR`]. While one
/// caller reads them again, the others go on with the copy they have; a failed read leaves
/// it too (statistics only make searches faster).
pub(super) async fn term_shares(db: &impl Conn) -> Arc<TermShares> {
    let stale = {
        let mut cache = CACHE.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        match cache.as_mut() {
            Some((read_at, shares)) if read_at.elapsed() < FRESH_FOR => return shares.clone(),
            Some((read_at, shares)) => {
                // This caller reads them again; the others keep the copy meanwhile.
                *read_at = Instant::now();
                Some(shares.clone())
            }
            None => None,
        }
    };
    match read(db).await {
        Ok(shares) => {
            let shares = Arc::new(shares);
            let mut cache = CACHE.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
            *cache = Some((Instant::now(), shares.clone()));
            shares
        }
        Err(error) => {
            tracing::warn!(%error, "could not read the search terms' statistics");
            stale.unwrap_or_default()
        }
    }
}

/// Reads the statistics; none before the table was first analyzed.
async fn read(db: &impl Conn) -> Result<TermShares, StoreError> {
    // The frequencies array ends with three summary numbers; the terms end before them.
    let rows = db
        .query_all(Statement::from_string(
            DatabaseBackend::Postgres,
            "SELECT e.term, e.share::float8 AS share \
             FROM pg_stats s, \
                  unnest(s.most_common_elems::text::text[], s.most_common_elem_freqs) \
                  AS e(term, share) \
             WHERE s.schemaname = current_schema() AND s.tablename = 'customer_terms' \
               AND s.attname = 'terms' AND e.term IS NOT NULL",
        ))
        .await?;
    let shares = rows
        .iter()
        .map(|row| Ok((row.try_get("", "term")?, row.try_get("", "share")?)))
        .collect::<Result<Vec<(String, f64)>, StoreError>>()?;
    Ok(TermShares::new(shares))
}

//! How common PostgreSQL's customer search terms are, from its own statistics of
//! `customer_terms` (`pg_stats.most_common_elems`), read into memory once every few minutes.
//!
//! A search asks it which way to read each rank's matches (see `list::tier_page`). Planning
//! a statement whose `tsquery` PostgreSQL estimates itself costs 0.7–1 ms at 1,000,000
//! customers (it unpacks the 10,000 most common terms every time); statements that hide the
//! `tsquery` from the planner plan in microseconds, and this choice is made here instead.
//! The choice only decides speed: every way of reading finds the same records.

use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use rapport_domain::search::TermShares;
use sea_orm::{DatabaseBackend, Statement};

use crate::{Conn, StoreError};

/// How long statistics read are used before they are read again: `ANALYZE` (autovacuum's,
/// after enough writes) changes them slowly.
const FRESH_FOR: Duration = Duration::from_secs(300);

/// One process serves one database, so one copy is kept per process, with when it was last
/// read (or began to be).
static CACHE: Mutex<Option<(Option<Instant>, Arc<TermShares>)>> = Mutex::new(None);

/// The shares of the most common terms, read again when older than [`FRESH_FOR`]. While one
/// caller reads them, the others go on with the copy there is (none at first: searches then
/// walk, see `list::read_for`); a failed read leaves it too. Statistics only make searches
/// faster.
pub(super) async fn term_shares(db: &impl Conn) -> Arc<TermShares> {
    let current = {
        let mut cache = CACHE.lock().unwrap_or_else(PoisonError::into_inner);
        let (read_at, shares) = cache.get_or_insert_with(|| (None, Arc::default()));
        if read_at.is_some_and(|at| at.elapsed() < FRESH_FOR) {
            return shares.clone();
        }
        // This caller reads them; the others keep the copy meanwhile.
        *read_at = Some(Instant::now());
        shares.clone()
    };
    match read(db).await {
        Ok(shares) => {
            let shares = Arc::new(shares);
            let mut cache = CACHE.lock().unwrap_or_else(PoisonError::into_inner);
            *cache = Some((Some(Instant::now()), shares.clone()));
            shares
        }
        Err(error) => {
            tracing::warn!(%error, "could not read the search terms' statistics");
            current
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
    // The planner's own count of the entries, as of the same `ANALYZE` or a later vacuum.
    let records = db
        .query_one(Statement::from_string(
            DatabaseBackend::Postgres,
            "SELECT GREATEST(reltuples, 0)::float8 AS records FROM pg_class \
             WHERE oid = 'customer_terms'::regclass",
        ))
        .await?
        .map_or(Ok(0.0), |row| row.try_get("", "records"))?;
    Ok(TermShares::new(shares, records))
}

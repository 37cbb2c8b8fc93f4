//! Keeping SQLite's FTS5 search indexes quick to read.
//!
//! FTS5 writes each commit's terms as a new segment and merges segments a level at a time; a
//! search looks each term up in every segment. A bulk load (an import, a rebuild, months of
//! writes) leaves several large segments: at 1,000,000 customers the seeded index had 15, and
//! merged into one it answered pinyin, tail and inner-part searches 1.5–1.8× faster over
//! HTTP. [`compact`] merges them, in short steps that let other writes in between.
//! PostgreSQL's GIN indexes keep no segments: there, both functions do nothing.

use sea_orm::{DatabaseBackend, Statement};

use crate::{Conn, Store, StoreError};

/// An FTS5 search index.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SearchIndex {
    Customers,
    Articles,
}

impl SearchIndex {
    pub const ALL: [SearchIndex; 2] = [SearchIndex::Customers, SearchIndex::Articles];

    /// Its FTS5 table.
    pub fn table(self) -> &'static str {
        match self {
            SearchIndex::Customers => "customer_search",
            SearchIndex::Articles => "article_search",
        }
    }
}

/// Pages of merged index written per step: a step holds SQLite's writer for tens of
/// milliseconds.
const STEP_PAGES: i64 = 500;

/// The segments of `index` with at least `min_pages` leaf pages (each page starts
/// with a row of its `_idx` table); 0 on PostgreSQL.
///
/// # Errors
/// Database failures.
pub async fn segments(
    db: &impl Conn,
    index: SearchIndex,
    min_pages: u64,
) -> Result<u64, StoreError> {
    let table = index.table();
    let backend = db.get_database_backend();
    if backend == DatabaseBackend::Postgres {
        return Ok(0);
    }
    let sql = format!(
        "SELECT COUNT(*) AS n FROM (SELECT segid FROM {table}_idx GROUP BY segid HAVING COUNT(*) >= ?)"
    );
    let row = db
        .query_one(Statement::from_sql_and_values(
            backend,
            sql,
            [i64::try_from(min_pages).unwrap_or(i64::MAX).into()],
        ))
        .await?;
    let n: i64 = row.map_or(Ok(0), |r| r.try_get("", "n"))?;
    Ok(u64::try_from(n).unwrap_or(0))
}

/// Merges every segment of `index` into one, [`STEP_PAGES`] at a time, each step
/// its own transaction; answers the steps taken (0: there was one segment or none). Searches
/// answer throughout, from the segments as they are.
///
/// # Errors
/// Database failures (the steps before stay done).
pub async fn compact(store: &Store, index: SearchIndex) -> Result<u64, StoreError> {
    let table = index.table();
    if store.backend() == crate::Backend::Postgres {
        return Ok(0);
    }
    let merge = format!("INSERT INTO {table} ({table}, rank) VALUES ('merge', ?)");
    // Negative: all segments count as one level, so a merge starts however few there are;
    // positive: go on with the merge started (FTS5's `merge` command).
    let mut pages = -STEP_PAGES;
    let mut steps = 0;
    loop {
        let tx = store.begin().await?;
        let before = total_changes(&tx).await?;
        tx.execute(Statement::from_sql_and_values(
            DatabaseBackend::Sqlite,
            merge.clone(),
            [pages.into()],
        ))
        .await?;
        // FTS5 writes at least two rows when a step merged something.
        let merged = total_changes(&tx).await? - before >= 2;
        crate::commit(tx).await?;
        if !merged {
            return Ok(steps);
        }
        steps += 1;
        pages = STEP_PAGES;
    }
}

async fn total_changes(db: &impl Conn) -> Result<i64, StoreError> {
    let row = db
        .query_one(Statement::from_string(
            DatabaseBackend::Sqlite,
            "SELECT total_changes() AS n",
        ))
        .await?;
    Ok(row.map_or(Ok(0), |r| r.try_get("", "n"))?)
}

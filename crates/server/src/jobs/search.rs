//! `search.compact`, every 15 minutes: merges an FTS5 search index into one segment once a
//! bulk load (an import, many writes) has left it two large ones, so that searches look each
//! term up once (see `rapport_store::repos::search_index`). On PostgreSQL it finds nothing
//! to do.

use std::time::Instant;

use rapport_store::repos::search_index::{self, SearchIndex};

use super::handler::{Handler, JobContext, JobFailure};

pub const COMPACT: &str = "search.compact";

/// A segment this large (in leaf pages of about 4 KB) is worth merging into the others; the
/// small ones each commit writes are cheap to look in, and FTS5 merges them by itself.
const LARGE_SEGMENT_PAGES: u64 = 1_000;

pub struct Compact;

#[async_trait::async_trait]
impl Handler for Compact {
    async fn run(&self, ctx: &JobContext) -> Result<(), JobFailure> {
        for index in SearchIndex::ALL {
            let large =
                search_index::segments(ctx.store.conn(), index, LARGE_SEGMENT_PAGES).await?;
            if large < 2 {
                continue;
            }
            let started = Instant::now();
            let steps = search_index::compact(&ctx.store, index).await?;
            tracing::info!(
                index = index.table(),
                large_segments = large,
                steps,
                seconds = started.elapsed().as_secs_f64(),
                "search index merged into one segment"
            );
        }
        Ok(())
    }
}

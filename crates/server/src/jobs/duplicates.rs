//! `customers.duplicates`, daily: rebuilds the kept duplicate groups from the customers' keys.
//! Writes keep them in step as they happen; this puts right any group a path missed (two
//! imports of one new key at once), within a day.

use rapport_store::repos::customers;

use super::handler::{Handler, JobContext, JobFailure};

pub const REBUILD: &str = "customers.duplicates";

pub struct Rebuild;

#[async_trait::async_trait]
impl Handler for Rebuild {
    async fn run(&self, ctx: &JobContext) -> Result<(), JobFailure> {
        let tx = ctx.store.begin().await?;
        let groups = customers::rebuild_groups(&tx).await?;
        rapport_store::commit(tx).await?;
        tracing::info!(groups, "duplicate groups rebuilt");
        Ok(())
    }
}

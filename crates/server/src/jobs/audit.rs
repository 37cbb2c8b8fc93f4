//! Sealing the audit trail into its hash chain, every minute
//! ([`rapport_store::repos::audit_chain`]).

use rapport_store::repos::audit_chain;

use super::handler::{Handler, JobContext, JobFailure};

pub const SEAL: &str = "audit.seal";

/// Chains the events committed since the last pass; a second run finds nothing to seal.
pub struct Seal;

#[async_trait::async_trait]
impl Handler for Seal {
    async fn run(&self, ctx: &JobContext) -> Result<(), JobFailure> {
        let sealed = audit_chain::seal(&ctx.store, ctx.clock.now()).await?;
        if sealed > 0 {
            tracing::debug!(sealed, "audit events sealed into the chain");
        }
        Ok(())
    }
}

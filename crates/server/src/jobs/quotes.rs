//! Every fifteen minutes: sent quotes past their last day become `expired`, each in its own
//! transaction with its audit event. Reads already show them expired before this runs
//! (`Quote::as_of`); this makes the stored status, lists by status and exports agree.

use chrono::{DateTime, Utc};
use rapport_domain::audit::AuditEvent;
use rapport_domain::identity::Actor;
use rapport_domain::quote::{Quote, QuoteStatus};
use rapport_store::repos::{self, audit, quotes};
use rapport_store::{Store, StoreError};
use serde_json::json;
use uuid::Uuid;

use super::handler::{Handler, JobContext, JobFailure};

pub const EXPIRE: &str = "quotes.expire";

/// Quotes handled per run; the next run takes the rest.
const BATCH: u64 = 500;

pub struct Expire;

#[async_trait::async_trait]
impl Handler for Expire {
    async fn run(&self, ctx: &JobContext) -> Result<(), JobFailure> {
        let now = ctx.clock.now();
        let overdue = quotes::overdue_ids(ctx.store.conn(), now.date_naive(), BATCH).await?;
        let mut expired = 0;
        for id in overdue {
            if expire(&ctx.store, id, now).await? {
                expired += 1;
            }
        }
        if expired > 0 {
            tracing::info!(expired, "quotes expired");
        }
        Ok(())
    }
}

/// Expires quote `id` if it is still sent and past its day; `false` when it was not (answered
/// or expired in between: the handler may run more than once).
async fn expire(store: &Store, id: Uuid, now: DateTime<Utc>) -> Result<bool, StoreError> {
    let tx = store.begin().await?;
    let quote: Quote = repos::get_locked(&tx, id).await?;
    if !quote.is_overdue(now) {
        return Ok(false);
    }
    let expired = repos::save(&tx, &quote.as_of(now), now).await?;
    audit::record(
        &tx,
        AuditEvent {
            id: Uuid::now_v7(),
            occurred_at: now,
            actor: Actor::System,
            entity_type: "quote".into(),
            entity_id: expired.id,
            customer_id: Some(expired.customer_id),
            action: "update".into(),
            request_id: None,
            ip: None,
            changes: json!({
                "status": {"before": QuoteStatus::Sent.as_str(), "after": QuoteStatus::Expired.as_str()},
                "valid_until": expired.valid_until,
            }),
        },
    )
    .await?;
    rapport_store::commit(tx).await?;
    Ok(true)
}

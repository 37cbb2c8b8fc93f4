//! Loyalty points. `loyalty.earn` (queued with each new order) writes the order's earning once;
//! `loyalty.reverse` (queued when an order is cancelled) takes it back once, never below a
//! zero balance; `loyalty.expire` (daily) expires points oldest first and brings tiers up to
//! date as earnings age out of the 12-month window. Each customer's writes are one transaction
//! with the account locked and the audit events, by `Actor::System`; a rerun writes nothing
//! more.

use chrono::{DateTime, Utc};
use rapport_domain::identity::Actor;
use rapport_domain::quote::{Order, OrderStatus};
use rapport_store::repos::loyalty::{self, Entry, PostError};
use rapport_store::repos::{self, Lock};
use rapport_store::{Store, StoreError};
use uuid::Uuid;

use super::handler::{Handler, JobContext, JobFailure};

pub use rapport_domain::loyalty::{EARN_JOB as EARN, EXPIRE_JOB as EXPIRE, REVERSE_JOB as REVERSE};

/// Accounts read per page of the daily job; each is written in its own transaction.
const PAGE: u64 = 500;

fn order_of(ctx: &JobContext) -> Result<Uuid, JobFailure> {
    ctx.job.payload["order_id"]
        .as_str()
        .and_then(|s| Uuid::parse_str(s).ok())
        .ok_or_else(|| JobFailure("the job names no order".into()))
}

fn failure(e: PostError) -> JobFailure {
    JobFailure(e.to_string())
}

/// Writes `entry` for `customer_id` and its audit events, in one transaction.
async fn post(
    tx: &rapport_store::Tx,
    customer_id: Uuid,
    entry: Entry,
    now: DateTime<Utc>,
) -> Result<(), JobFailure> {
    let program = loyalty::program(tx).await?;
    let posted = loyalty::post(tx, &program, customer_id, entry, Actor::System, now)
        .await
        .map_err(failure)?;
    loyalty::audit(tx, &posted, Actor::System, None, None, now).await?;
    Ok(())
}

/// The order's points, once.
pub struct Earn;

#[async_trait::async_trait]
impl Handler for Earn {
    async fn run(&self, ctx: &JobContext) -> Result<(), JobFailure> {
        let order_id = order_of(ctx)?;
        let now = ctx.clock.now();
        let tx = ctx.store.begin().await?;
        let found: Order = repos::fetch(&tx, order_id, Lock::No).await?;
        let program = loyalty::program(&tx).await?;
        let points = program.points_for(&found.totals.total);
        if points == 0 {
            return Ok(());
        }
        // The account first, then the order again: a cancellation committed before this
        // earning is seen, and one committed after it finds the earning to reverse.
        loyalty::lock_account(&tx, found.customer_id, now).await?;
        let order: Order = repos::fetch(&tx, order_id, Lock::No).await?;
        if order.status == OrderStatus::Cancelled {
            return Ok(());
        }
        let entry = Entry::Earn {
            order_id,
            points,
            expires_at: program.expires_at(order.ordered_at),
        };
        post(&tx, order.customer_id, entry, now).await?;
        rapport_store::commit(tx).await?;
        Ok(())
    }
}

/// A cancelled order's points taken back, once.
pub struct Reverse;

#[async_trait::async_trait]
impl Handler for Reverse {
    async fn run(&self, ctx: &JobContext) -> Result<(), JobFailure> {
        let order_id = order_of(ctx)?;
        let now = ctx.clock.now();
        let tx = ctx.store.begin().await?;
        let order: Order = repos::fetch(&tx, order_id, Lock::No).await?;
        post(&tx, order.customer_id, Entry::Reverse { order_id }, now).await?;
        rapport_store::commit(tx).await?;
        Ok(())
    }
}

/// Expiry and tiers of every account that has points or a tier above `member`.
pub struct Expire;

#[async_trait::async_trait]
impl Handler for Expire {
    async fn run(&self, ctx: &JobContext) -> Result<(), JobFailure> {
        let now = ctx.clock.now();
        let mut after = None;
        let mut reviewed = 0;
        loop {
            let page = loyalty::accounts_to_review(ctx.store.conn(), after, PAGE).await?;
            let Some(last) = page.last() else { break };
            after = Some(*last);
            for customer_id in page {
                review(&ctx.store, customer_id, now).await?;
                reviewed += 1;
            }
        }
        tracing::info!(reviewed, "loyalty accounts reviewed");
        Ok(())
    }
}

async fn review(store: &Store, customer_id: Uuid, now: DateTime<Utc>) -> Result<(), JobFailure> {
    let tx = store.begin().await.map_err(JobFailure::from)?;
    post(&tx, customer_id, Entry::Expire, now).await?;
    rapport_store::commit(tx)
        .await
        .map_err(|e: StoreError| JobFailure::from(e))
}

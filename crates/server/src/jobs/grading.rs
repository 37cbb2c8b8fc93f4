//! `customers.grading`, daily and on demand (`POST /v1/customers/grading/run`): grades every
//! live customer whose grade is not locked by hand from its purchases (RFM), each change in
//! its customer's new version with a grade change on its timeline and an audit event.
//! Running it again changes nothing more, so a retried or doubled run is harmless.

use chrono::{DateTime, Utc};
use rapport_domain::audit::AuditEvent;
use rapport_domain::customer::Customer;
use rapport_domain::enums::Grade;
use rapport_domain::grading::{GradeChange, GradingRules, RfmScores};
use rapport_domain::identity::Actor;
use rapport_store::repos::{self, Lock, audit, grading};
use rapport_store::{Store, StoreError};
use serde_json::json;
use uuid::Uuid;

use super::handler::{Handler, JobContext, JobFailure};

pub use rapport_domain::grading::JOB as GRADE;

/// Customers read per page; the changes of a page are written in one transaction.
const PAGE: u64 = 500;

pub struct Grading {
    pub rules: GradingRules,
}

#[async_trait::async_trait]
impl Handler for Grading {
    async fn run(&self, ctx: &JobContext) -> Result<(), JobFailure> {
        let now = ctx.clock.now();
        let scores = grading::scores(ctx.store.conn(), self.rules.window_start(now)).await?;
        let mut after = None;
        let mut changed = 0;
        loop {
            let page = grading::gradable(ctx.store.conn(), after, PAGE).await?;
            let Some((last, _)) = page.last() else { break };
            after = Some(*last);
            let due: Vec<(Uuid, Option<RfmScores>)> = page
                .iter()
                .filter(|(id, grade)| self.rules.grade(scores.get(id).copied()) != *grade)
                .map(|(id, _)| (*id, scores.get(id).copied()))
                .collect();
            if !due.is_empty() {
                changed += regrade(&ctx.store, &due, self.rules, now).await?;
            }
        }
        tracing::info!(graded = scores.len(), changed, "customers graded");
        Ok(())
    }
}

/// Sets the grade `scores` give each customer of `due`, in one transaction; answers how many
/// changed (one changed or locked by hand since it was read is left as it is now).
async fn regrade(
    store: &Store,
    due: &[(Uuid, Option<RfmScores>)],
    rules: GradingRules,
    now: DateTime<Utc>,
) -> Result<u64, StoreError> {
    let tx = store.begin().await?;
    let mut changed = 0;
    for (id, scores) in due {
        let customer: Customer = repos::fetch(&tx, *id, Lock::ForUpdate).await?;
        let grade = rules.grade(*scores);
        if customer.grade_locked || customer.deleted_at.is_some() || customer.grade == grade {
            continue;
        }
        let before = customer.grade;
        let saved = repos::save(&tx, &Customer { grade, ..customer }, now).await?;
        let change = GradeChange {
            id: Uuid::now_v7(),
            customer_id: saved.id,
            from: Some(before),
            to: grade,
            scores: *scores,
            changed_at: now,
            changed_by: None,
        };
        grading::insert(&tx, &change).await?;
        audit::record(&tx, graded_event(&change, before, saved.version)).await?;
        changed += 1;
    }
    rapport_store::commit(tx).await?;
    Ok(changed)
}

fn graded_event(change: &GradeChange, before: Grade, version: i32) -> AuditEvent {
    AuditEvent {
        id: Uuid::now_v7(),
        occurred_at: change.changed_at,
        actor: Actor::System,
        entity_type: "customer".into(),
        entity_id: change.customer_id,
        customer_id: Some(change.customer_id),
        action: "graded".into(),
        request_id: None,
        ip: None,
        changes: json!({
            "grade": {"before": before.as_str(), "after": change.to.as_str()},
            "version": {"before": version - 1, "after": version},
            "rfm": change.scores.map(|s| json!({
                "recency": s.recency, "frequency": s.frequency, "monetary": s.monetary,
            })),
        }),
    }
}

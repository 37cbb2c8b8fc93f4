//! `webhooks.deliver`: posts one delivery to its subscription's URL, signed, and records the
//! attempt. A failed attempt fails the job, so the runner retries it with its backoff (10 s
//! doubling to an hour); after [`give_up_after`] of failures the delivery is `failed` and the
//! subscription paused. A delivery waits (fails its run, to be retried) while an earlier one
//! of the same record to the same subscription is pending, so each record's events arrive in
//! order; the run that delivers one goes on with the next of its record. The HTTP call is
//! made outside any transaction: a slow receiver holds no lock.

use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use rapport_api::outbound;
use rapport_domain::audit::AuditEvent;
use rapport_domain::identity::Actor;
use rapport_domain::webhook::{
    Attempt, Delivery, DeliveryStatus, Webhook, WebhookStatus, give_up_after, signature,
};
use rapport_store::repos::{self, audit, webhooks};
use rapport_store::{Store, StoreError};
use serde_json::json;
use uuid::Uuid;

use super::handler::{Handler, JobContext, JobFailure};

/// How long a receiver has to answer.
const TIMEOUT: Duration = Duration::from_secs(10);

pub struct Deliver {
    /// May deliveries go to loopback, private and link-local addresses?
    allow_private: bool,
}

impl Deliver {
    pub fn new(allow_private: bool) -> Deliver {
        Deliver { allow_private }
    }
}

#[async_trait::async_trait]
impl Handler for Deliver {
    async fn run(&self, ctx: &JobContext) -> Result<(), JobFailure> {
        let id = ctx
            .job
            .payload
            .get("delivery_id")
            .and_then(|v| v.as_str())
            .and_then(|v| Uuid::parse_str(v).ok())
            .ok_or_else(|| JobFailure("no delivery_id in the payload".into()))?;
        let db = ctx.store.conn();
        let delivery = match webhooks::delivery(db, id).await {
            Err(StoreError::NotFound) => return Ok(()),
            other => other?,
        };
        if delivery.status != DeliveryStatus::Pending {
            return Ok(());
        }
        let hook = match webhooks::get(db, delivery.webhook_id).await {
            Err(StoreError::NotFound) => return Ok(()),
            other => other?,
        };
        // Queued again when the subscription is resumed.
        if hook.status == WebhookStatus::Paused {
            return Ok(());
        }
        if webhooks::waits(db, &delivery).await? {
            return Err(JobFailure(
                "waits for an earlier delivery of the same record".into(),
            ));
        }
        // This delivery, then the record's next ones while they succeed: a record's events
        // wait for each other, so the run that clears the way takes the next at once.
        let own = delivery.id;
        let mut delivery = delivery;
        loop {
            let now = ctx.clock.now();
            let lease = now + chrono::Duration::from_std(TIMEOUT * 3).unwrap_or_default();
            if !take(&ctx.store, delivery.id, now, lease).await? {
                // Another run posts it. Its own job checks again later: that run may fail.
                return if delivery.id == own {
                    Err(JobFailure("being sent by another run".into()))
                } else {
                    Ok(())
                };
            }
            let attempt = post(&hook, &delivery, now, self.allow_private).await;
            let failure = (!attempt.succeeded()).then(|| describe(&attempt));
            match (record(&ctx.store, delivery.id, attempt).await?, failure) {
                (DeliveryStatus::Succeeded, _) => {
                    match webhooks::next_in_line(db, &delivery).await? {
                        Some(next) => delivery = next,
                        None => return Ok(()),
                    }
                }
                // A later delivery's own job retries it.
                (DeliveryStatus::Pending, Some(failure)) if delivery.id == own => {
                    return Err(JobFailure(failure));
                }
                _ => return Ok(()),
            }
        }
    }
}

/// Takes delivery `id` for this run until `until` (see [`webhooks::take`]).
async fn take(
    store: &Store,
    id: Uuid,
    now: DateTime<Utc>,
    until: DateTime<Utc>,
) -> Result<bool, StoreError> {
    let tx = store.begin().await?;
    let taken = webhooks::take(&tx, id, now, until).await?;
    rapport_store::commit(tx).await?;
    Ok(taken)
}

/// Records `attempt` on the delivery; pauses the subscription when the delivery has failed
/// for too long. Answers the delivery's status.
async fn record(store: &Store, id: Uuid, attempt: Attempt) -> Result<DeliveryStatus, StoreError> {
    let now = attempt.attempted_at;
    let tx = store.begin().await?;
    let mut delivery = webhooks::delivery_locked(&tx, id).await?;
    if delivery.status != DeliveryStatus::Pending {
        // Another run of this job got there first.
        return Ok(delivery.status);
    }
    delivery.record(attempt);
    webhooks::save_delivery(&tx, &delivery).await?;
    match delivery.status {
        DeliveryStatus::Failed => pause(&tx, delivery.webhook_id, now).await?,
        DeliveryStatus::Succeeded => {
            // The next event of the record goes now, not after the backoff of its wait.
            if let Some(next) = webhooks::next_in_line(&tx, &delivery).await? {
                webhooks::wake(
                    &tx,
                    &Delivery {
                        updated_at: now,
                        ..next
                    },
                )
                .await?;
            }
        }
        DeliveryStatus::Pending => {}
    }
    rapport_store::commit(tx).await?;
    Ok(delivery.status)
}

/// Pauses a subscription whose delivery failed for [`give_up_after`], flagged with why.
async fn pause(
    tx: &rapport_store::Tx,
    webhook_id: Uuid,
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    let hook: Webhook = repos::get_locked(tx, webhook_id).await?;
    if hook.status == WebhookStatus::Paused {
        return Ok(());
    }
    let reason = format!(
        "deliveries failed for {} hours",
        give_up_after().num_hours()
    );
    let paused = Webhook {
        status: WebhookStatus::Paused,
        paused_reason: Some(reason.clone()),
        ..hook
    };
    let saved = repos::save(tx, &paused, now).await?;
    tracing::warn!(webhook_id = %saved.id, "webhook paused: {reason}");
    audit::record(
        tx,
        AuditEvent {
            id: Uuid::now_v7(),
            occurred_at: now,
            actor: Actor::System,
            entity_type: rapport_domain::webhook::ENTITY_TYPE.into(),
            entity_id: saved.id,
            customer_id: None,
            action: "update".into(),
            request_id: None,
            ip: None,
            changes: json!({
                "status": {"before": "active", "after": "paused"},
                "paused_reason": {"before": null, "after": reason},
            }),
        },
    )
    .await
}

/// Posts `delivery` once and says how it went.
async fn post(
    hook: &Webhook,
    delivery: &Delivery,
    now: DateTime<Utc>,
    allow_private: bool,
) -> Attempt {
    let started = Instant::now();
    let result = send(hook, delivery, now, allow_private).await;
    let latency_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
    let (response_status, error) = match result {
        Ok(status) => (Some(status), None),
        Err(error) => (None, Some(error)),
    };
    Attempt {
        attempted_at: now,
        response_status,
        latency_ms,
        error,
    }
}

async fn send(
    hook: &Webhook,
    delivery: &Delivery,
    now: DateTime<Utc>,
    allow_private: bool,
) -> Result<u16, String> {
    // Checked again at each attempt: a name may resolve elsewhere since the subscription.
    let target = outbound::target(&hook.url, allow_private)
        .await
        .map_err(|e| format!("refused: {}", e.code()))?;
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(TIMEOUT)
        .connect_timeout(TIMEOUT / 2)
        .resolve(&target.host, target.addr)
        .user_agent(concat!("Rapport-Webhooks/", env!("CARGO_PKG_VERSION")))
        .build()
        .map_err(|e| format!("no HTTP client: {e}"))?;
    let body = serde_json::to_vec(&delivery.payload).map_err(|e| e.to_string())?;
    let response = client
        .post(hook.url.as_str())
        .header("Content-Type", "application/json")
        .header(
            "Rapport-Signature",
            signature(&hook.secret, now.timestamp(), &body),
        )
        .header("Rapport-Event-Id", delivery.event_id.to_string())
        .header("Rapport-Event-Type", delivery.event_type.as_str())
        .header("Rapport-Delivery-Id", delivery.id.to_string())
        .body(body)
        .send()
        .await
        .map_err(|e| {
            if e.is_timeout() {
                "timed out".to_owned()
            } else if e.is_connect() {
                "could not connect".to_owned()
            } else {
                "the request failed".to_owned()
            }
        })?;
    Ok(response.status().as_u16())
}

/// A failed attempt, for the job's `last_error`.
fn describe(attempt: &Attempt) -> String {
    match (&attempt.response_status, &attempt.error) {
        (Some(status), _) => format!("the receiver answered {status}"),
        (None, Some(error)) => error.clone(),
        (None, None) => "no answer".into(),
    }
}

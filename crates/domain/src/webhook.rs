//! Webhooks: subscriptions of a URL to event types, the events a recorded write raises, how a
//! delivery is signed, which addresses a delivery may go to, and when failing deliveries stop.
//!
//! Events come from the audit trail: every write records an audit event on its transaction,
//! and [`event_types`] says which webhook events that audit event is. So a write that is
//! audited raises its webhook events with no code of its own, in the same transaction (the
//! outbox), and a new resource's events only need a line here.

use std::net::IpAddr;

use chrono::{DateTime, Duration, Utc};
use hmac::{Hmac, Mac};
use serde_json::{Value, json};
use sha2::Sha256;
use uuid::Uuid;

use crate::audit::AuditEvent;
use crate::auth::Scope;
use crate::identity::Actor;
use crate::web_url::WebUrl;

crate::string_enum! {
    /// What happened, named `<object>.<what>`. Each event's `data` names the record, the
    /// customer it belongs to and the fields that changed (`{"field": {"before", "after"}}`,
    /// as in the audit trail).
    pub enum EventType {
        CustomerCreated => "customer.created",
        CustomerUpdated => "customer.updated",
        CustomerDeleted => "customer.deleted",
        CustomerRestored => "customer.restored",
        CustomerMerged => "customer.merged",
        CustomerErased => "customer.erased",
        ContactCreated => "contact.created",
        ContactUpdated => "contact.updated",
        ContactDeleted => "contact.deleted",
        ActivityCreated => "activity.created",
        TaskCreated => "task.created",
        TaskUpdated => "task.updated",
        OpportunityCreated => "opportunity.created",
        OpportunityUpdated => "opportunity.updated",
        OpportunityStageChanged => "opportunity.stage_changed",
        OpportunityWon => "opportunity.won",
        OpportunityLost => "opportunity.lost",
        QuoteCreated => "quote.created",
        QuoteUpdated => "quote.updated",
        OrderCreated => "order.created",
        OrderUpdated => "order.updated",
        TicketCreated => "ticket.created",
        TicketUpdated => "ticket.updated",
        TicketSlaBreached => "ticket.sla_breached",
        SurveyAnswered => "survey.answered",
        LoyaltyTransactionCreated => "loyalty.transaction_created",
        LoyaltyTierChanged => "loyalty.tier_changed",
        CampaignCreated => "campaign.created",
        CampaignUpdated => "campaign.updated",
        CampaignDeleted => "campaign.deleted",
        CampaignMemberAdded => "campaign_member.added",
        CampaignMemberUpdated => "campaign_member.updated",
        CampaignMemberRemoved => "campaign_member.removed",
        AutomationTriggered => "automation.triggered",
    }
}

impl EventType {
    /// What the event tells of, for the OpenAPI document.
    pub fn description(self) -> &'static str {
        use EventType as E;
        match self {
            E::CustomerCreated => "A customer was created (`changes` holds every field).",
            E::CustomerUpdated => {
                "A customer's fields changed (by a person, an integration or a rule such as grading)."
            }
            E::CustomerDeleted => "A customer was deleted (it can be restored for a while).",
            E::CustomerRestored => "A deleted customer was restored.",
            E::CustomerMerged => {
                "Duplicates were merged into this customer (`changes.duplicate_ids`)."
            }
            E::CustomerErased => "A customer's personal data was erased.",
            E::ContactCreated => "A contact was created.",
            E::ContactUpdated => "A contact's fields changed.",
            E::ContactDeleted => "A contact was deleted.",
            E::ActivityCreated => "An activity was recorded.",
            E::TaskCreated => "A task was created.",
            E::TaskUpdated => "A task changed (completed, reassigned, …).",
            E::OpportunityCreated => "An opportunity was created.",
            E::OpportunityUpdated => "An opportunity's fields changed.",
            E::OpportunityStageChanged => {
                "An opportunity moved to another stage (`changes.stage_id`)."
            }
            E::OpportunityWon => "An opportunity was won.",
            E::OpportunityLost => "An opportunity was lost.",
            E::QuoteCreated => "A quote was created.",
            E::QuoteUpdated => "A quote changed (sent, accepted, expired, …).",
            E::OrderCreated => "An order was created.",
            E::OrderUpdated => "An order changed.",
            E::TicketCreated => "A ticket was opened.",
            E::TicketUpdated => "A ticket's fields changed (status, assignee, …).",
            E::TicketSlaBreached => "A ticket missed an SLA target (`changes.targets`).",
            E::SurveyAnswered => {
                "A customer answered a satisfaction survey (the record is the invitation)."
            }
            E::LoyaltyTransactionCreated => {
                "A row was written on a customer's loyalty ledger (earned, redeemed, adjusted, expired or reversed points)."
            }
            E::LoyaltyTierChanged => {
                "A customer's loyalty tier changed (`changes.tier`; the record is the account, whose id is the customer's)."
            }
            E::CampaignCreated => "A marketing campaign was created.",
            E::CampaignUpdated => "A campaign's fields or status changed.",
            E::CampaignDeleted => "A campaign was deleted, with its members and costs.",
            E::CampaignMemberAdded => "A contact was added to a campaign.",
            E::CampaignMemberUpdated => "A campaign member's status changed.",
            E::CampaignMemberRemoved => "A contact was removed from a campaign.",
            E::AutomationTriggered => {
                "An automation rule's `webhook_event` action ran (the record is the rule; `changes` holds `record_type` and `record_id`)."
            }
        }
    }

    /// The scope a subscriber needs to receive this event: the one that reads its record.
    pub fn read_scope(self) -> Scope {
        use EventType as E;
        match self {
            E::CustomerCreated
            | E::CustomerUpdated
            | E::CustomerDeleted
            | E::CustomerRestored
            | E::CustomerMerged
            | E::CustomerErased
            | E::ContactCreated
            | E::ContactUpdated
            | E::ContactDeleted
            | E::ActivityCreated
            | E::LoyaltyTransactionCreated
            | E::LoyaltyTierChanged => Scope::CustomersRead,
            E::TaskCreated | E::TaskUpdated => Scope::TasksRead,
            E::OpportunityCreated
            | E::OpportunityUpdated
            | E::OpportunityStageChanged
            | E::OpportunityWon
            | E::OpportunityLost
            | E::QuoteCreated
            | E::QuoteUpdated
            | E::OrderCreated
            | E::OrderUpdated => Scope::OpportunitiesRead,
            E::TicketCreated | E::TicketUpdated | E::TicketSlaBreached => Scope::TicketsRead,
            E::SurveyAnswered => Scope::SurveysRead,
            E::CampaignCreated
            | E::CampaignUpdated
            | E::CampaignDeleted
            | E::CampaignMemberAdded
            | E::CampaignMemberUpdated
            | E::CampaignMemberRemoved => Scope::CampaignsRead,
            E::AutomationTriggered => Scope::SettingsWrite,
        }
    }
}

/// The webhook events an audited write is. An update can be several: an opportunity moved to
/// its won stage is `opportunity.updated`, `opportunity.stage_changed` and `opportunity.won`.
pub fn event_types(entity_type: &str, action: &str, changes: &Value) -> Vec<EventType> {
    use EventType as E;
    let after = |field: &str| changes.get(field).and_then(|c| c.get("after"));
    let changed = |field: &str| changes.get(field).is_some();
    match (entity_type, action) {
        ("customer", "create") => vec![E::CustomerCreated],
        ("customer", "update" | "graded") => vec![E::CustomerUpdated],
        ("customer", "delete") => vec![E::CustomerDeleted],
        ("customer", "restore") => vec![E::CustomerRestored],
        ("customer", "merge") => vec![E::CustomerMerged],
        ("customer", "erase") => vec![E::CustomerErased],
        ("contact", "create") => vec![E::ContactCreated],
        ("contact", "update") => vec![E::ContactUpdated],
        ("contact", "delete") => vec![E::ContactDeleted],
        ("activity", "create") => vec![E::ActivityCreated],
        ("task", "create") => vec![E::TaskCreated],
        ("task", "update") => vec![E::TaskUpdated],
        ("opportunity", "create") => vec![E::OpportunityCreated],
        ("opportunity", "update") => {
            let mut types = vec![E::OpportunityUpdated];
            if changed("stage_id") {
                types.push(E::OpportunityStageChanged);
            }
            match after("status").and_then(Value::as_str) {
                Some("won") => types.push(E::OpportunityWon),
                Some("lost") => types.push(E::OpportunityLost),
                _ => {}
            }
            types
        }
        ("quote", "create") => vec![E::QuoteCreated],
        ("quote", "update") => vec![E::QuoteUpdated],
        ("order", "create") => vec![E::OrderCreated],
        ("order", "update") => vec![E::OrderUpdated],
        ("campaign", "create") => vec![E::CampaignCreated],
        ("campaign", "update") => vec![E::CampaignUpdated],
        ("campaign", "delete") => vec![E::CampaignDeleted],
        ("campaign_member", "create") => vec![E::CampaignMemberAdded],
        ("campaign_member", "update") => vec![E::CampaignMemberUpdated],
        ("campaign_member", "delete") => vec![E::CampaignMemberRemoved],
        ("ticket", "create") => vec![E::TicketCreated],
        ("ticket", "update") => vec![E::TicketUpdated],
        ("ticket", "sla_breached") => vec![E::TicketSlaBreached],
        ("loyalty_transaction", "create") => vec![E::LoyaltyTransactionCreated],
        ("loyalty_account", "tier_changed") => vec![E::LoyaltyTierChanged],
        ("automation_rule", "triggered") => vec![E::AutomationTriggered],
        ("survey_invitation", "update")
            if after("status").and_then(Value::as_str) == Some("answered") =>
        {
            vec![E::SurveyAnswered]
        }
        _ => Vec::new(),
    }
}

/// An event's body, as delivered: `{"id", "type", "occurred_at", "actor", "data"}`. Each
/// event has an id of its own (a receiver drops one it has seen: delivery is at least once).
pub fn payload(event: &AuditEvent, event_type: EventType, event_id: Uuid) -> Value {
    json!({
        "id": event_id,
        "type": event_type.as_str(),
        "occurred_at": event.occurred_at,
        "actor": {"type": event.actor.kind(), "id": event.actor.id()},
        "data": {
            "object": event.entity_type,
            "id": event.entity_id,
            "customer_id": event.customer_id,
            "changes": event.changes,
        },
    })
}

crate::string_enum! {
    /// `active` subscriptions get events; `paused` ones get none, and their pending deliveries
    /// wait until the subscription is active again.
    pub enum WebhookStatus {
        Active => "active",
        Paused => "paused",
    }
}

/// A subscription: events of `event_types` are posted to `url`, signed with `secret`.
#[derive(Debug, Clone, PartialEq)]
pub struct Webhook {
    pub id: Uuid,
    pub url: WebUrl,
    pub description: Option<String>,
    pub event_types: Vec<EventType>,
    pub status: WebhookStatus,
    /// Why a paused subscription was paused by Rapport (its deliveries failed for a day).
    pub paused_reason: Option<String>,
    /// The HMAC key of its signatures (`whsec_…`): sealed at rest, shown once at creation.
    pub secret: String,
    /// Who created it: an admin, or the integration client whose subscription it is.
    pub owner: Actor,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub version: i32,
}

impl Webhook {
    pub fn wants(&self, event_type: EventType) -> bool {
        self.status == WebhookStatus::Active && self.event_types.contains(&event_type)
    }
}

crate::string_enum! {
    /// `pending` until an attempt gets a 2xx (`succeeded`), or until attempts have failed for
    /// [`GIVE_UP_AFTER`] (`failed`, and the subscription is paused).
    pub enum DeliveryStatus {
        Pending => "pending",
        Succeeded => "succeeded",
        Failed => "failed",
    }
}

/// One try at posting a delivery.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Attempt {
    pub attempted_at: DateTime<Utc>,
    /// The receiver's HTTP status; none when no answer came (refused, timed out).
    pub response_status: Option<u16>,
    pub latency_ms: u64,
    /// Why it failed, when no answer came or the address was refused.
    pub error: Option<String>,
}

impl Attempt {
    pub fn succeeded(&self) -> bool {
        self.response_status
            .is_some_and(|status| (200..300).contains(&status))
    }
}

/// An event on its way to one subscription. Deliveries of one record to one subscription go
/// out in the order they were raised: one waits while an earlier one is pending.
#[derive(Debug, Clone, PartialEq)]
pub struct Delivery {
    pub id: Uuid,
    pub webhook_id: Uuid,
    pub event_id: Uuid,
    pub event_type: EventType,
    /// The record the event is about (`customer:<id>`): the unit of ordering.
    pub record: String,
    pub payload: Value,
    pub status: DeliveryStatus,
    /// The latest attempts, oldest first (at most [`MAX_ATTEMPTS_KEPT`]).
    pub attempts: Vec<Attempt>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// The entity type of a subscription in the audit trail.
pub const ENTITY_TYPE: &str = "webhook";

/// The job kind that posts one delivery (its payload: `{"delivery_id"}`).
pub const DELIVER_JOB: &str = "webhooks.deliver";

/// Runs a delivery's job gets: with the runner's backoff (10 s doubling to an hour), more
/// than [`give_up_after`] holds, counting the runs that wait for an earlier delivery.
pub const DELIVER_JOB_ATTEMPTS: i32 = 48;

/// Attempts kept on a delivery: the first ones and the latest say what went wrong.
pub const MAX_ATTEMPTS_KEPT: usize = 50;

/// How long a delivery is retried before it is given up and its subscription paused.
pub fn give_up_after() -> Duration {
    Duration::hours(24)
}

/// How old a signature's timestamp may be when a receiver checks it (documented for
/// receivers: older ones are replays).
pub const REPLAY_WINDOW_SECONDS: i64 = 300;

impl Delivery {
    /// A pending delivery of `payload` (an event of `event_type`) to `webhook_id`.
    pub fn new(
        webhook_id: Uuid,
        event_type: EventType,
        event_id: Uuid,
        record: String,
        payload: Value,
        now: DateTime<Utc>,
    ) -> Delivery {
        Delivery {
            id: Uuid::now_v7(),
            webhook_id,
            event_id,
            event_type,
            record,
            payload,
            status: DeliveryStatus::Pending,
            attempts: Vec::new(),
            created_at: now,
            updated_at: now,
        }
    }

    /// Records an attempt; `succeeded` on a 2xx, `failed` when it failed and the delivery is
    /// older than [`give_up_after`].
    pub fn record(&mut self, attempt: Attempt) {
        let now = attempt.attempted_at;
        self.status = if attempt.succeeded() {
            DeliveryStatus::Succeeded
        } else if now - self.created_at >= give_up_after() {
            DeliveryStatus::Failed
        } else {
            DeliveryStatus::Pending
        };
        self.attempts.push(attempt);
        if self.attempts.len() > MAX_ATTEMPTS_KEPT {
            self.attempts.remove(1);
        }
        self.updated_at = now;
    }

    /// A new delivery of the same event (a replay): the receiver sees the same event id.
    pub fn replay(&self, now: DateTime<Utc>) -> Delivery {
        Delivery::new(
            self.webhook_id,
            self.event_type,
            self.event_id,
            self.record.clone(),
            self.payload.clone(),
            now,
        )
    }
}

/// The `Rapport-Signature` header of `body` sent at `timestamp` (Unix seconds):
/// `t=<timestamp>,v1=<hex HMAC-SHA256 of "<timestamp>.<body>" keyed with the secret>`.
pub fn signature(secret: &str, timestamp: i64, body: &[u8]) -> String {
    // HMAC takes a key of any length: `new_from_slice` cannot fail.
    let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(secret.as_bytes()) else {
        return String::new();
    };
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    let digest = mac.finalize().into_bytes();
    format!("t={timestamp},v1={}", crate::digest::hex(digest))
}

/// May a delivery go to `ip`? Not to loopback, private (RFC 1918, unique local), link-local
/// (which holds the cloud metadata address 169.254.169.254), shared (100.64/10),
/// unspecified, broadcast, multicast or documentation addresses, nor their IPv4-mapped forms.
pub fn is_public(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => {
            let [a, b, ..] = v4.octets();
            !(v4.is_loopback()
                || v4.is_private()
                || v4.is_link_local()
                || v4.is_unspecified()
                || v4.is_broadcast()
                || v4.is_multicast()
                || v4.is_documentation()
                || a == 0
                || (a == 100 && (64..128).contains(&b))
                || a >= 240)
        }
        IpAddr::V6(v6) => {
            if let Some(v4) = v6.to_ipv4_mapped() {
                return is_public(IpAddr::V4(v4));
            }
            let first = v6.segments()[0];
            !(v6.is_loopback()
                || v6.is_unspecified()
                || v6.is_multicast()
                || (first & 0xfe00) == 0xfc00
                || (first & 0xffc0) == 0xfe80
                || first == 0x2001 && v6.segments()[1] == 0x0db8)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_opportunity_won_is_three_events() {
        let changes = json!({
            "stage_id": {"before": "a", "after": "b"},
            "status": {"before": "open", "after": "won"},
        });
        assert_eq!(
            event_types("opportunity", "update", &changes),
            vec![
                EventType::OpportunityUpdated,
                EventType::OpportunityStageChanged,
                EventType::OpportunityWon
            ]
        );
        let renamed = json!({"name": {"before": "a", "after": "b"}});
        assert_eq!(
            event_types("opportunity", "update", &renamed),
            vec![EventType::OpportunityUpdated]
        );
    }

    #[test]
    fn only_an_answered_invitation_is_an_event() {
        let answered = json!({"status": {"before": "sent", "after": "answered"}});
        let opened = json!({"status": {"before": "sent", "after": "opened"}});
        assert_eq!(
            event_types("survey_invitation", "update", &answered),
            vec![EventType::SurveyAnswered]
        );
        assert!(event_types("survey_invitation", "update", &opened).is_empty());
        assert!(event_types("user", "update", &opened).is_empty());
        assert!(event_types("customer", "export", &opened).is_empty());
    }

    #[test]
    fn loyalty_rows_and_tier_changes_are_events() {
        let tier = json!({"tier": {"before": "member", "after": "silver"}});
        assert_eq!(
            event_types("loyalty_account", "tier_changed", &tier),
            vec![EventType::LoyaltyTierChanged]
        );
        assert_eq!(
            event_types("loyalty_transaction", "create", &json!({})),
            vec![EventType::LoyaltyTransactionCreated]
        );
        assert_eq!(
            EventType::LoyaltyTierChanged.read_scope(),
            Scope::CustomersRead
        );
    }

    #[test]
    fn signatures_are_hmac_sha256_of_timestamp_dot_body() {
        // Computed apart, with Python's `hmac.new(key, b"1700000000.{...}", sha256)`.
        let sig = signature("whsec_test", 1_700_000_000, b"{\"a\":1}");
        assert_eq!(
            sig,
            "t=1700000000,v1=38877139021993b830af32feea6e18a8da83eb2f6e49ee50bd9e4cf4ca4d3789"
        );
        assert_ne!(sig, signature("whsec_other", 1_700_000_000, b"{\"a\":1}"));
        assert_ne!(sig, signature("whsec_test", 1_700_000_001, b"{\"a\":1}"));
    }

    #[test]
    fn private_and_metadata_addresses_are_not_public() {
        for ip in [
            "127.0.0.1",
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "169.254.169.254",
            "100.64.0.1",
            "0.0.0.0",
            "::1",
            "fd00::1",
            "fe80::1",
            "::ffff:127.0.0.1",
            "::ffff:169.254.169.254",
        ] {
            assert!(!is_public(ip.parse().unwrap()), "{ip}");
        }
        for ip in ["93.184.216.34", "8.8.8.8", "2606:4700::1111"] {
            assert!(is_public(ip.parse().unwrap()), "{ip}");
        }
    }

    #[test]
    fn a_delivery_fails_after_a_day_of_failed_attempts() {
        let start = DateTime::from_timestamp(1_700_000_000, 0).unwrap();
        let mut d = Delivery::new(
            Uuid::now_v7(),
            EventType::CustomerCreated,
            Uuid::now_v7(),
            "customer:x".into(),
            json!({}),
            start,
        );
        let failed = |at| Attempt {
            attempted_at: at,
            response_status: Some(500),
            latency_ms: 3,
            error: None,
        };
        d.record(failed(start + Duration::hours(23)));
        assert_eq!(d.status, DeliveryStatus::Pending);
        d.record(failed(start + Duration::hours(24)));
        assert_eq!(d.status, DeliveryStatus::Failed);

        let mut ok = d.replay(start + Duration::hours(25));
        ok.record(Attempt {
            response_status: Some(204),
            ..failed(start + Duration::hours(25))
        });
        assert_eq!(ok.status, DeliveryStatus::Succeeded);
        assert_eq!(ok.event_id, d.event_id);
    }
}

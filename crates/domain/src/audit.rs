//! The audit trail: who changed what, when and from where.

use chrono::{DateTime, Utc};
use uuid::Uuid;

use crate::identity::Actor;

/// One recorded write.
#[derive(Debug, Clone, PartialEq)]
pub struct AuditEvent {
    pub id: Uuid,
    pub occurred_at: DateTime<Utc>,
    pub actor: Actor,
    pub entity_type: String,
    pub entity_id: Uuid,
    /// The customer the event concerns: the customer itself, or the one a contact, activity
    /// or task belongs to.
    pub customer_id: Option<Uuid>,
    pub action: String,
    pub request_id: Option<String>,
    pub ip: Option<String>,
    /// `{"field": {"before": …, "after": …}}` for the fields that changed; never secrets.
    pub changes: serde_json::Value,
}

//! Notifications: what a user is told by Rapport itself (a breached SLA, an assignment), read
//! at `/v1/me/notifications`.

use chrono::{DateTime, Utc};
use uuid::Uuid;

use crate::name::Name;

/// What a notification says, in a line.
pub type NotificationTitle = Name<300>;

crate::string_enum! {
    /// Why a user is told.
    pub enum NotificationKind {
        /// A ticket of the user's team missed an SLA target (to the team's manager).
        SlaBreached => "sla_breached",
        /// A ticket assigned to the user is due soon.
        SlaReminder => "sla_reminder",
        /// A ticket was assigned to the user.
        TicketAssigned => "ticket_assigned",
        /// A lead owned by someone in the user's team was not contacted in time (to the
        /// team's manager).
        LeadOverdue => "lead_overdue",
        /// An automation rule's action.
        Automation => "automation",
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Notification {
    pub id: Uuid,
    /// Whom it is for.
    pub user_id: Uuid,
    pub kind: NotificationKind,
    pub title: NotificationTitle,
    pub ticket_id: Option<Uuid>,
    pub customer_id: Option<Uuid>,
    pub read_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
}

impl Notification {
    /// A new, unread notification for `user_id`. A long title is cut, not refused.
    pub fn new(
        user_id: Uuid,
        kind: NotificationKind,
        title: &str,
        ticket_id: Option<Uuid>,
        customer_id: Option<Uuid>,
        now: DateTime<Utc>,
    ) -> Notification {
        Notification {
            id: Uuid::now_v7(),
            user_id,
            kind,
            title: NotificationTitle::composed("", title),
            ticket_id,
            customer_id,
            read_at: None,
            created_at: now,
        }
    }
}

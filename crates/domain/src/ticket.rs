//! Service tickets: a customer's request or complaint, worked by agents through
//! `new → open → pending → resolved → closed`, reopened within a window after resolution.

use chrono::{DateTime, Duration, Utc};
use uuid::Uuid;

use crate::auth::Role;
use crate::name::{Name, Title};
use crate::tag::Tag;

/// What the customer wrote or what the agent found, at length.
pub type TicketText = Name<10_000>;

crate::string_enum! {
    /// How a ticket reached us.
    pub enum TicketChannel {
        Phone => "phone",
        Email => "email",
        Web => "web",
        Wechat => "wechat",
        Chat => "chat",
        InPerson => "in_person",
    }
}

crate::string_enum! {
    /// What a ticket is about; complaints get the tightest targets.
    pub enum TicketCategory {
        Inquiry => "inquiry",
        Request => "request",
        Incident => "incident",
        Complaint => "complaint",
    }
}

crate::string_enum! {
    /// How urgent a ticket is.
    pub enum TicketPriority {
        Low => "low",
        Normal => "normal",
        High => "high",
        Urgent => "urgent",
    }
}

crate::string_enum! {
    /// Where a ticket stands. `pending`: waiting for the customer.
    pub enum TicketStatus {
        New => "new",
        Open => "open",
        Pending => "pending",
        Resolved => "resolved",
        Closed => "closed",
        Reopened => "reopened",
    }
}

impl TicketStatus {
    /// The statuses a ticket may move to from this one (reopening also needs the window).
    pub fn allowed_next(self) -> &'static [TicketStatus] {
        use TicketStatus::*;
        match self {
            New => &[Open, Pending, Resolved],
            Open | Reopened => &[Pending, Resolved],
            Pending => &[Open, Resolved],
            Resolved => &[Closed, Reopened],
            Closed => &[],
        }
    }

    /// Is the ticket still being worked (not resolved or closed)?
    pub fn is_active(self) -> bool {
        !matches!(self, TicketStatus::Resolved | TicketStatus::Closed)
    }
}

/// A status move the rules refuse, with the moves they allow from there now.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("a ticket cannot move from {from} to {to}")]
pub struct TicketMoveError {
    pub from: TicketStatus,
    pub to: TicketStatus,
    pub allowed: Vec<TicketStatus>,
}

/// A customer's service request or complaint.
#[derive(Debug, Clone, PartialEq)]
pub struct Ticket {
    pub id: Uuid,
    pub customer_id: Uuid,
    pub contact_id: Option<Uuid>,
    pub subject: Title,
    pub description: Option<TicketText>,
    pub channel: TicketChannel,
    pub category: TicketCategory,
    pub priority: TicketPriority,
    pub status: TicketStatus,
    pub assignee_id: Option<Uuid>,
    pub team_id: Option<Uuid>,
    pub tags: Vec<Tag>,
    /// The first public reply by staff.
    pub first_responded_at: Option<DateTime<Utc>>,
    pub resolved_at: Option<DateTime<Utc>>,
    pub closed_at: Option<DateTime<Utc>>,
    /// The user or client who opened it.
    pub created_by: Option<Uuid>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub version: i32,
}

impl Ticket {
    /// Moves to `to` at `now`: resolving stamps `resolved_at`, closing `closed_at`; a resolved
    /// ticket reopens only within `reopen_window` of its resolution.
    ///
    /// # Errors
    /// [`TicketMoveError`] with the moves allowed now.
    pub fn move_to(
        &mut self,
        to: TicketStatus,
        now: DateTime<Utc>,
        reopen_window: Duration,
    ) -> Result<(), TicketMoveError> {
        let may_reopen = self
            .resolved_at
            .is_some_and(|resolved| now - resolved <= reopen_window);
        let allowed: Vec<TicketStatus> = self
            .status
            .allowed_next()
            .iter()
            .copied()
            .filter(|s| *s != TicketStatus::Reopened || may_reopen)
            .collect();
        if !allowed.contains(&to) {
            return Err(TicketMoveError {
                from: self.status,
                to,
                allowed,
            });
        }
        match to {
            TicketStatus::Resolved => self.resolved_at = Some(now),
            TicketStatus::Closed => self.closed_at = Some(now),
            TicketStatus::Reopened => self.resolved_at = None,
            _ => {}
        }
        self.status = to;
        Ok(())
    }

    /// A comment was added at `now`. The first public reply by staff is the first response,
    /// and takes a new ticket to `open`.
    pub fn record_comment(&mut self, public: bool, now: DateTime<Utc>) {
        if public && self.first_responded_at.is_none() {
            self.first_responded_at = Some(now);
            if self.status == TicketStatus::New {
                self.status = TicketStatus::Open;
            }
        }
    }
}

/// A reply to the customer (`public`) or a note for staff only, on a ticket.
#[derive(Debug, Clone, PartialEq)]
pub struct TicketComment {
    pub id: Uuid,
    pub ticket_id: Uuid,
    pub body: TicketText,
    pub public: bool,
    /// The user or client who wrote it.
    pub author_id: Option<Uuid>,
    pub created_at: DateTime<Utc>,
}

/// Which tickets a caller sees.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TicketView {
    /// Every ticket (service managers, admins, integration clients).
    All,
    /// A service agent's: its team's tickets and those assigned to it.
    Agent { me: Uuid, team: Option<Uuid> },
}

impl TicketView {
    pub fn of(role: Role, user_id: Uuid, team_id: Option<Uuid>) -> TicketView {
        match role {
            Role::ServiceAgent => TicketView::Agent {
                me: user_id,
                team: team_id,
            },
            _ => TicketView::All,
        }
    }

    pub fn allows(self, ticket: &Ticket) -> bool {
        match self {
            TicketView::All => true,
            TicketView::Agent { me, team } => {
                ticket.assignee_id == Some(me) || (team.is_some() && ticket.team_id == team)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> DateTime<Utc> {
        s.parse().unwrap()
    }

    fn ticket() -> Ticket {
        let now = at("2026-12-01T09:00:00Z");
        Ticket {
            id: Uuid::now_v7(),
            customer_id: Uuid::now_v7(),
            contact_id: None,
            subject: Title::parse("Printer jams").unwrap(),
            description: None,
            channel: TicketChannel::Phone,
            category: TicketCategory::Complaint,
            priority: TicketPriority::Normal,
            status: TicketStatus::New,
            assignee_id: None,
            team_id: None,
            tags: Vec::new(),
            first_responded_at: None,
            resolved_at: None,
            closed_at: None,
            created_by: None,
            created_at: now,
            updated_at: now,
            version: 1,
        }
    }

    #[test]
    fn moves_follow_the_workflow_and_stamp_their_times() {
        let window = Duration::days(7);
        let mut t = ticket();
        let now = at("2026-12-01T10:00:00Z");
        let refused = t.move_to(TicketStatus::Closed, now, window).unwrap_err();
        assert_eq!(
            refused.allowed,
            [
                TicketStatus::Open,
                TicketStatus::Pending,
                TicketStatus::Resolved
            ]
        );
        t.move_to(TicketStatus::Pending, now, window).unwrap();
        t.move_to(TicketStatus::Resolved, now, window).unwrap();
        assert_eq!(t.resolved_at, Some(now));
        t.move_to(TicketStatus::Reopened, now + Duration::days(7), window)
            .unwrap();
        assert_eq!(t.resolved_at, None);
        t.move_to(TicketStatus::Resolved, now, window).unwrap();
        t.move_to(TicketStatus::Closed, now, window).unwrap();
        assert_eq!(t.closed_at, Some(now));
        let none = t.move_to(TicketStatus::Open, now, window).unwrap_err();
        assert!(none.allowed.is_empty());
    }

    #[test]
    fn reopening_is_refused_after_the_window() {
        let window = Duration::days(7);
        let mut t = ticket();
        let resolved = at("2026-12-01T10:00:00Z");
        t.move_to(TicketStatus::Resolved, resolved, window).unwrap();
        let late = resolved + Duration::days(7) + Duration::seconds(1);
        let refused = t.move_to(TicketStatus::Reopened, late, window).unwrap_err();
        assert_eq!(refused.allowed, [TicketStatus::Closed]);
        assert_eq!(t.status, TicketStatus::Resolved);
    }

    #[test]
    fn the_first_public_reply_is_the_first_response() {
        let mut t = ticket();
        let now = at("2026-12-01T10:00:00Z");
        t.record_comment(false, now);
        assert_eq!((t.first_responded_at, t.status), (None, TicketStatus::New));
        t.record_comment(true, now);
        assert_eq!(t.first_responded_at, Some(now));
        assert_eq!(t.status, TicketStatus::Open);
        t.record_comment(true, now + Duration::hours(1));
        assert_eq!(t.first_responded_at, Some(now));
    }

    #[test]
    fn agents_see_their_team_and_their_own_tickets() {
        let (me, team) = (Uuid::now_v7(), Uuid::now_v7());
        let view = TicketView::of(Role::ServiceAgent, me, Some(team));
        let mut t = ticket();
        assert!(!view.allows(&t));
        t.team_id = Some(team);
        assert!(view.allows(&t));
        t.team_id = None;
        t.assignee_id = Some(me);
        assert!(view.allows(&t));
        assert!(!TicketView::of(Role::ServiceAgent, me, None).allows(&ticket()));
        assert_eq!(
            TicketView::of(Role::ServiceManager, me, None),
            TicketView::All
        );
    }
}

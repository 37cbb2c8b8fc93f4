//! Service tickets: a customer's request or complaint, worked by agents through
//! `new → open → pending → resolved → closed`, reopened within a window after resolution.

use chrono::{DateTime, Duration, Utc};
use uuid::Uuid;

use crate::auth::Role;
use crate::name::{Name, Title};
use crate::sla::SlaPolicy;
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

impl TicketPriority {
    /// One step more urgent (`urgent` stays `urgent`): what a breach does.
    pub fn raised(self) -> TicketPriority {
        match self {
            TicketPriority::Low => TicketPriority::Normal,
            TicketPriority::Normal => TicketPriority::High,
            TicketPriority::High | TicketPriority::Urgent => TicketPriority::Urgent,
        }
    }
}

crate::string_enum! {
    /// The two targets of an SLA.
    pub enum SlaTarget {
        FirstResponse => "first_response",
        Resolution => "resolution",
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
    /// The SLA policy its due times come from.
    pub sla_policy_id: Option<Uuid>,
    pub first_response_due_at: Option<DateTime<Utc>>,
    pub resolution_due_at: Option<DateTime<Utc>>,
    /// Since when it waits on the customer (`pending`): its resolution clock is paused.
    pub paused_at: Option<DateTime<Utc>>,
    /// Minutes of its policy's clock spent `pending` before, added to its resolution target.
    pub paused_minutes: i64,
    /// When the first response was found late (once).
    pub first_response_breached_at: Option<DateTime<Utc>>,
    /// When the resolution was found late (once).
    pub resolution_breached_at: Option<DateTime<Utc>>,
    /// When its assignee was reminded that the resolution is due soon (once per due time).
    pub reminded_at: Option<DateTime<Utc>>,
    /// The user or client who opened it.
    pub created_by: Option<Uuid>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub version: i32,
}

/// What a new ticket is given; the rest starts empty.
#[derive(Debug, Clone)]
pub struct NewTicket {
    pub customer_id: Uuid,
    pub contact_id: Option<Uuid>,
    pub subject: Title,
    pub description: Option<TicketText>,
    pub channel: TicketChannel,
    pub category: TicketCategory,
    pub priority: TicketPriority,
    pub assignee_id: Option<Uuid>,
    pub team_id: Option<Uuid>,
    pub tags: Vec<Tag>,
    pub created_by: Option<Uuid>,
}

impl Ticket {
    /// A `new` ticket opened at `now`, without due times yet ([`Ticket::apply_sla`]).
    pub fn new(t: NewTicket, now: DateTime<Utc>) -> Ticket {
        Ticket {
            id: Uuid::now_v7(),
            customer_id: t.customer_id,
            contact_id: t.contact_id,
            subject: t.subject,
            description: t.description,
            channel: t.channel,
            category: t.category,
            priority: t.priority,
            status: TicketStatus::New,
            assignee_id: t.assignee_id,
            team_id: t.team_id,
            tags: t.tags,
            first_responded_at: None,
            resolved_at: None,
            closed_at: None,
            sla_policy_id: None,
            first_response_due_at: None,
            resolution_due_at: None,
            paused_at: None,
            paused_minutes: 0,
            first_response_breached_at: None,
            resolution_breached_at: None,
            reminded_at: None,
            created_by: t.created_by,
            created_at: now,
            updated_at: now,
            version: 1,
        }
    }

    /// Moves to `to` at `now`: resolving stamps `resolved_at`, closing `closed_at`; a resolved
    /// ticket reopens only within `reopen_window` of its resolution. Time `pending` pauses the
    /// resolution clock of `policy`: leaving `pending` moves the resolution due time by the
    /// time spent there.
    ///
    /// # Errors
    /// [`TicketMoveError`] with the moves allowed now.
    pub fn move_to(
        &mut self,
        to: TicketStatus,
        now: DateTime<Utc>,
        reopen_window: Duration,
        policy: Option<&SlaPolicy>,
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
        if let Some(since) = self.paused_at.take() {
            let paused = policy.map_or((now - since).num_minutes(), |p| {
                p.minutes_between(since, now)
            });
            self.paused_minutes += paused;
            if policy.is_none() {
                // Its policy is gone: the due time it had moves by the pause.
                self.resolution_due_at = self
                    .resolution_due_at
                    .map(|due| due + Duration::minutes(paused));
                self.reminded_at = None;
            }
        }
        match to {
            TicketStatus::Pending => self.paused_at = Some(now),
            TicketStatus::Resolved => self.resolved_at = Some(now),
            TicketStatus::Closed => self.closed_at = Some(now),
            TicketStatus::Reopened => self.resolved_at = None,
            _ => {}
        }
        self.status = to;
        if policy.is_some() {
            self.apply_sla(policy);
        }
        Ok(())
    }

    /// Takes its due times from `policy` (none: no due times): the first response counts from
    /// the ticket's creation, the resolution too, plus the time it spent `pending`.
    pub fn apply_sla(&mut self, policy: Option<&SlaPolicy>) {
        self.sla_policy_id = policy.map(|p| p.id);
        self.first_response_due_at =
            policy.map(|p| p.add(self.created_at, p.first_response_minutes));
        let due =
            policy.map(|p| p.add(self.created_at, p.resolution_minutes + self.paused_minutes));
        if due != self.resolution_due_at {
            // A new due time gets its own reminder.
            self.reminded_at = None;
        }
        self.resolution_due_at = due;
    }

    /// Should its assignee be reminded now that the resolution is due within `lead`? Once per
    /// due time, while the ticket is active, its clock runs and the target is not missed yet.
    pub fn reminder_due(&self, now: DateTime<Utc>, lead: Duration) -> bool {
        self.status.is_active()
            && self.assignee_id.is_some()
            && self.paused_at.is_none()
            && self.reminded_at.is_none()
            && self.resolution_breached_at.is_none()
            && self
                .resolution_due_at
                .is_some_and(|due| due > now && due - now <= lead)
    }

    /// The targets it has missed at `now` and not yet recorded: a first response still not
    /// given, a resolution of an active ticket whose clock runs (not `pending`).
    pub fn missed(&self, now: DateTime<Utc>) -> Vec<SlaTarget> {
        let mut missed = Vec::new();
        let late = |due: Option<DateTime<Utc>>| due.is_some_and(|due| due < now);
        if self.status.is_active()
            && self.first_responded_at.is_none()
            && self.first_response_breached_at.is_none()
            && late(self.first_response_due_at)
        {
            missed.push(SlaTarget::FirstResponse);
        }
        if self.status.is_active()
            && self.paused_at.is_none()
            && self.resolution_breached_at.is_none()
            && late(self.resolution_due_at)
        {
            missed.push(SlaTarget::Resolution);
        }
        missed
    }

    /// Records a missed target at `now` and raises the priority one step (its due times stay).
    pub fn record_breach(&mut self, target: SlaTarget, now: DateTime<Utc>) {
        match target {
            SlaTarget::FirstResponse => self.first_response_breached_at = Some(now),
            SlaTarget::Resolution => self.resolution_breached_at = Some(now),
        }
        self.priority = self.priority.raised();
    }

    /// Has it missed a target?
    pub fn sla_breached(&self) -> bool {
        self.first_response_breached_at.is_some() || self.resolution_breached_at.is_some()
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
        Ticket::new(
            NewTicket {
                customer_id: Uuid::now_v7(),
                contact_id: None,
                subject: Title::parse("Printer jams").unwrap(),
                description: None,
                channel: TicketChannel::Phone,
                category: TicketCategory::Complaint,
                priority: TicketPriority::Normal,
                assignee_id: None,
                team_id: None,
                tags: Vec::new(),
                created_by: None,
            },
            now,
        )
    }

    #[test]
    fn moves_follow_the_workflow_and_stamp_their_times() {
        let window = Duration::days(7);
        let mut t = ticket();
        let now = at("2026-12-01T10:00:00Z");
        let refused = t
            .move_to(TicketStatus::Closed, now, window, None)
            .unwrap_err();
        assert_eq!(
            refused.allowed,
            [
                TicketStatus::Open,
                TicketStatus::Pending,
                TicketStatus::Resolved
            ]
        );
        t.move_to(TicketStatus::Pending, now, window, None).unwrap();
        t.move_to(TicketStatus::Resolved, now, window, None)
            .unwrap();
        assert_eq!(t.resolved_at, Some(now));
        t.move_to(
            TicketStatus::Reopened,
            now + Duration::days(7),
            window,
            None,
        )
        .unwrap();
        assert_eq!(t.resolved_at, None);
        t.move_to(TicketStatus::Resolved, now, window, None)
            .unwrap();
        t.move_to(TicketStatus::Closed, now, window, None).unwrap();
        assert_eq!(t.closed_at, Some(now));
        let none = t
            .move_to(TicketStatus::Open, now, window, None)
            .unwrap_err();
        assert!(none.allowed.is_empty());
    }

    #[test]
    fn reopening_is_refused_after_the_window() {
        let window = Duration::days(7);
        let mut t = ticket();
        let resolved = at("2026-12-01T10:00:00Z");
        t.move_to(TicketStatus::Resolved, resolved, window, None)
            .unwrap();
        let late = resolved + Duration::days(7) + Duration::seconds(1);
        let refused = t
            .move_to(TicketStatus::Reopened, late, window, None)
            .unwrap_err();
        assert_eq!(refused.allowed, [TicketStatus::Closed]);
        assert_eq!(t.status, TicketStatus::Resolved);
    }

    #[test]
    fn pending_pauses_the_resolution_clock() {
        use crate::sla::{PolicyName, SlaClock};
        let mut t = ticket();
        let created = t.created_at;
        let policy = SlaPolicy {
            id: Uuid::now_v7(),
            name: PolicyName::parse("Complaints").unwrap(),
            category: None,
            priority: None,
            grade: None,
            first_response_minutes: 120,
            resolution_minutes: 48 * 60,
            clock: SlaClock::Calendar,
            calendar: None,
            created_at: created,
            updated_at: created,
            version: 1,
        };
        t.apply_sla(Some(&policy));
        assert_eq!(t.first_response_due_at, Some(created + Duration::hours(2)));
        assert_eq!(t.resolution_due_at, Some(created + Duration::hours(48)));
        let window = Duration::days(7);
        t.move_to(
            TicketStatus::Pending,
            created + Duration::hours(1),
            window,
            Some(&policy),
        )
        .unwrap();
        t.move_to(
            TicketStatus::Open,
            created + Duration::hours(6),
            window,
            Some(&policy),
        )
        .unwrap();
        assert_eq!(t.paused_minutes, 5 * 60);
        assert_eq!(t.resolution_due_at, Some(created + Duration::hours(53)));
        assert_eq!(t.first_response_due_at, Some(created + Duration::hours(2)));
    }

    #[test]
    fn a_missed_target_is_found_once_and_raises_the_priority() {
        let mut t = ticket();
        let created = t.created_at;
        t.first_response_due_at = Some(created + Duration::hours(2));
        t.resolution_due_at = Some(created + Duration::hours(48));
        assert!(t.missed(created + Duration::hours(2)).is_empty());
        let late = created + Duration::hours(3);
        assert_eq!(t.missed(late), [SlaTarget::FirstResponse]);
        t.record_breach(SlaTarget::FirstResponse, late);
        assert!(t.missed(late).is_empty());
        assert!(t.sla_breached());
        assert_eq!(t.priority, TicketPriority::High);
        // Waiting on the customer, the resolution clock does not run out.
        t.paused_at = Some(created + Duration::hours(40));
        assert!(t.missed(created + Duration::hours(50)).is_empty());
        t.paused_at = None;
        assert_eq!(
            t.missed(created + Duration::hours(50)),
            [SlaTarget::Resolution]
        );
        t.status = TicketStatus::Resolved;
        assert!(t.missed(created + Duration::hours(50)).is_empty());
        assert_eq!(TicketPriority::Urgent.raised(), TicketPriority::Urgent);
    }

    #[test]
    fn the_assignee_is_reminded_once_before_the_resolution_is_due() {
        let mut t = ticket();
        let due = t.created_at + Duration::hours(48);
        t.resolution_due_at = Some(due);
        let lead = Duration::hours(1);
        assert!(
            !t.reminder_due(due - Duration::hours(2), lead),
            "nobody to remind"
        );
        t.assignee_id = Some(Uuid::now_v7());
        assert!(!t.reminder_due(due - Duration::hours(2), lead));
        assert!(t.reminder_due(due - Duration::minutes(30), lead));
        assert!(
            !t.reminder_due(due + Duration::minutes(1), lead),
            "late: a breach instead"
        );
        t.reminded_at = Some(due - Duration::minutes(30));
        assert!(!t.reminder_due(due - Duration::minutes(10), lead));
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

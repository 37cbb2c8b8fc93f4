//! Activities (recorded interactions) and tasks (follow-ups to do).

use chrono::{DateTime, Utc};
use uuid::Uuid;

use crate::customer::Customer;
use crate::enums::{ActivityKind, Channel, Direction, TaskStatus};
use crate::name::{Name, Title};

/// What an activity was about, in a line.
pub type Summary = Name<500>;
/// What was said or done, at length.
pub type Details = Name<10_000>;
/// What came of it.
pub type Outcome = Name<500>;
/// What a task asks, at length.
pub type TaskDescription = Name<5000>;

/// A recorded interaction with a customer.
#[derive(Debug, Clone, PartialEq)]
pub struct Activity {
    pub id: Uuid,
    pub customer_id: Uuid,
    pub contact_id: Option<Uuid>,
    pub kind: ActivityKind,
    pub direction: Option<Direction>,
    pub channel: Option<Channel>,
    pub occurred_at: DateTime<Utc>,
    pub summary: Summary,
    pub details: Option<Details>,
    pub outcome: Option<Outcome>,
    /// The user or client who recorded it.
    pub recorded_by: Option<Uuid>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub version: i32,
}

impl ActivityKind {
    /// Does this kind of activity reach the customer (and so count as a contact)? A note is
    /// written about a customer, not to it.
    pub fn reaches_customer(self) -> bool {
        self != ActivityKind::Note
    }
}

crate::string_enum! {
    /// Where a task came from.
    pub enum TaskOrigin {
        /// Someone created it.
        Manual => "manual",
        /// The lead follow-up rule created it for a new lead's owner.
        LeadFollowUp => "lead_follow_up",
        /// An automation rule's action created it.
        Automation => "automation",
    }
}

/// A follow-up to do.
#[derive(Debug, Clone, PartialEq)]
pub struct Task {
    pub id: Uuid,
    pub title: Title,
    pub description: Option<TaskDescription>,
    pub customer_id: Option<Uuid>,
    pub contact_id: Option<Uuid>,
    pub assignee_id: Uuid,
    pub due_at: Option<DateTime<Utc>>,
    pub reminder_at: Option<DateTime<Utc>>,
    pub status: TaskStatus,
    pub completed_at: Option<DateTime<Utc>>,
    pub origin: TaskOrigin,
    pub created_by: Option<Uuid>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub version: i32,
}

impl Task {
    /// The lead follow-up rule's task: `owner` contacts the new lead `customer` by `due`.
    pub fn lead_follow_up(
        customer: &Customer,
        owner: Uuid,
        due: DateTime<Utc>,
        by: Option<Uuid>,
        now: DateTime<Utc>,
        id: Uuid,
    ) -> Task {
        Task {
            id,
            // A long customer name is cut to fit the title, not refused.
            title: Title::composed("Follow up new lead: ", customer.name.as_str()),
            description: None,
            customer_id: Some(customer.id),
            contact_id: None,
            assignee_id: owner,
            due_at: Some(due),
            reminder_at: None,
            status: TaskStatus::Open,
            completed_at: None,
            origin: TaskOrigin::LeadFollowUp,
            created_by: by,
            created_at: now,
            updated_at: now,
            version: 1,
        }
    }

    /// Open and past its due time.
    pub fn is_overdue(&self, now: DateTime<Utc>) -> bool {
        self.status == TaskStatus::Open && self.due_at.is_some_and(|due| due < now)
    }

    /// Moves to `status`, stamping `completed_at` when it becomes done and clearing it when
    /// reopened.
    pub fn set_status(&mut self, status: TaskStatus, now: DateTime<Utc>) {
        if status == self.status {
            return;
        }
        self.completed_at = (status == TaskStatus::Done).then_some(now);
        self.status = status;
    }
}

/// A change of a customer's lifecycle stage, for its timeline.
#[derive(Debug, Clone, PartialEq)]
pub struct StageChange {
    pub id: Uuid,
    pub customer_id: Uuid,
    /// `None` when the customer was created in `to`.
    pub from: Option<crate::enums::LifecycleStage>,
    pub to: crate::enums::LifecycleStage,
    pub changed_at: DateTime<Utc>,
    pub changed_by: Option<Uuid>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::Duration;

    fn task(due: Option<DateTime<Utc>>) -> Task {
        let now = Utc::now();
        Task {
            id: Uuid::now_v7(),
            title: Title::parse("Call back").unwrap(),
            description: None,
            customer_id: None,
            contact_id: None,
            assignee_id: Uuid::now_v7(),
            due_at: due,
            reminder_at: None,
            status: TaskStatus::Open,
            completed_at: None,
            origin: TaskOrigin::Manual,
            created_by: None,
            created_at: now,
            updated_at: now,
            version: 1,
        }
    }

    #[test]
    fn a_lead_follow_up_cuts_a_long_name_to_fit_its_title() {
        let now = Utc::now();
        let mut lead = crate::customer::tests::customer("x");
        lead.name = crate::name::OrgName::parse(&"长".repeat(200)).unwrap();
        let owner = Uuid::now_v7();
        let task = Task::lead_follow_up(&lead, owner, now, None, now, Uuid::now_v7());
        assert_eq!(task.title.as_str().chars().count(), 200);
        assert!(task.title.as_str().starts_with("Follow up new lead: 长"));
        assert_eq!(
            (task.assignee_id, task.customer_id, task.origin),
            (owner, Some(lead.id), TaskOrigin::LeadFollowUp)
        );
    }

    #[test]
    fn overdue_only_while_open() {
        let now = Utc::now();
        let mut t = task(Some(now - Duration::hours(1)));
        assert!(t.is_overdue(now));
        t.set_status(TaskStatus::Done, now);
        assert!(!t.is_overdue(now));
        assert_eq!(t.completed_at, Some(now));
        t.set_status(TaskStatus::Open, now);
        assert!(t.completed_at.is_none());
        assert!(!task(None).is_overdue(now));
    }

    #[test]
    fn notes_do_not_count_as_contact() {
        assert!(!ActivityKind::Note.reaches_customer());
        assert!(ActivityKind::Call.reaches_customer());
    }
}

//! The actions that email: `send_email` (to the record's contact, with marketing consent, or
//! to a user) and `email_report` (a report as CSV to users). The action queues a job on its
//! transaction (so it is queued once, with the run's outcome); the job, which holds the SMTP
//! settings, reads the rule and the record again, writes the email and sends it. A job's
//! payload holds ids only.

use chrono::{DateTime, Utc};
use rapport_domain::automation::action::{Action, Person};
use rapport_domain::automation::condition::RecordType;
use rapport_domain::automation::run::Effect;
use rapport_domain::contact::Contact;
use rapport_domain::job::{Job, JobKind};
use rapport_store::Tx;
use rapport_store::repos::{contacts, jobs, users};
use serde::{Deserialize, Serialize};
use serde_json::json;
use uuid::Uuid;

use super::actions::{Acting, named_user, no_recipient, person};
use super::records::Subject;
use crate::error::{ApiError, ProblemCode};

/// Sends one `send_email` action's email.
pub const EMAIL_JOB: &str = "automation.email";
/// Runs one `email_report` action's report and emails it.
pub const REPORT_JOB: &str = "automation.report";

pub use rapport_domain::automation::run::Recipient;

/// What an email job carries: ids only.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EmailJob {
    pub rule_id: Uuid,
    /// The action's place in the rule.
    pub action: usize,
    pub run_id: Uuid,
    pub record_type: Option<RecordType>,
    pub record_id: Option<Uuid>,
    /// `send_email`'s recipient; `email_report` names its users in the rule.
    pub recipient: Option<Recipient>,
    /// When the rule fired: an emailed report's `period` is the one before.
    #[serde(default)]
    pub fired_at: Option<DateTime<Utc>>,
}

/// Queues the email of `action` (a `send_email` or an `email_report`).
///
/// # Errors
/// 409 `email_not_configured` without SMTP; 409 `consent_withdrawn` for a contact without
/// marketing consent; 409 `no_recipient` for no one to write to.
pub async fn apply(
    tx: &Tx,
    acting: &Acting<'_>,
    subject: Option<&Subject>,
    index: usize,
    action: &Action,
) -> Result<Option<Effect>, ApiError> {
    if !acting.state.settings.send_email {
        return Err(ApiError::conflict_of(ProblemCode::EmailNotConfigured));
    }
    let (kind, recipient) = match action {
        Action::SendEmail { to, .. } => {
            let recipient = match (to, subject) {
                (Person::Contact, Some(subject)) => {
                    Recipient::Contact(contact_of(tx, subject).await?)
                }
                (person_kind, Some(subject)) => {
                    Recipient::User(person(tx, subject, *person_kind).await?)
                }
                (person_kind, None) => Recipient::User(named_user(tx, *person_kind).await?),
            };
            (EMAIL_JOB, Some(recipient))
        }
        Action::EmailReport { to, to_roles, .. } => {
            // Refused only when no one can get it; a user disabled since the rule was saved
            // is recorded as not sent by the job.
            if users::enabled_among(tx, to, to_roles).await?.is_empty() {
                return Err(no_recipient());
            }
            (REPORT_JOB, None)
        }
        _ => return Ok(None),
    };
    let payload = EmailJob {
        rule_id: acting.rule.id,
        action: index,
        run_id: acting.run_id.unwrap_or_else(Uuid::nil),
        record_type: subject.map(|s| s.record_type),
        record_id: subject.map(|s| s.id),
        recipient,
        fired_at: Some(acting.now),
    };
    let job = Job::new(
        JobKind::parse(kind).map_err(|e| ApiError::internal("an email job's kind", e))?,
        json!(payload),
        Some(format!("{kind}:{}:{index}", payload.run_id)),
        acting.now,
        acting.now,
    );
    jobs::enqueue(tx, &job).await?;
    Ok(Some(Effect {
        entity_type: "job".to_owned(),
        id: job.id,
    }))
}

/// The contact an email to the record's contact goes to: the record's own (a contact, a
/// campaign member's), else the customer's primary contact; it must have an email address
/// and marketing consent.
async fn contact_of(tx: &Tx, subject: &Subject) -> Result<Uuid, ApiError> {
    let contact: Contact = match subject.contact_id {
        Some(id) => contacts::get(tx, id).await?,
        None => contacts::primary_of(tx, subject.customer_id)
            .await?
            .ok_or_else(no_recipient)?,
    };
    if contact.emails.is_empty() {
        return Err(no_recipient());
    }
    if !contact.has_marketing_consent() {
        return Err(ApiError::conflict_of(ProblemCode::ConsentWithdrawn));
    }
    Ok(contact.id)
}

//! Inviting a contact to answer a survey: what every way of sending one shares (by hand, in a
//! batch, by a trigger's job). The contact is read locked, so that two invitations to one
//! contact queue and the quiet period holds; the token is random (256 bits), answered once and
//! stored only as its hash (sealed beside it until its email is sent).

use chrono::{DateTime, Duration, Utc};
use rapport_domain::contact::Contact;
use rapport_domain::customer::Customer;
use rapport_domain::job::{Job, JobKind};
use rapport_domain::opportunity::Opportunity;
use rapport_domain::quote::Order;
use rapport_domain::survey::{
    Invitation, InvitationOrigin, InvitationStatus, SkipReason, Survey, SurveyEvent, refusal,
};
use rapport_domain::ticket::Ticket;
use rapport_store::repos::{self, jobs, survey_invitations};
use rapport_store::{Conn, StoreError, crypto};
use serde_json::json;
use uuid::Uuid;

use crate::auth::secret::{random_token, sha256_hex};

/// The job that emails an invitation's link.
pub const EMAIL_JOB: &str = "surveys.email";

/// The job that sends the surveys of a trigger's event.
pub const TRIGGER_JOB: &str = "surveys.trigger";

/// `event` happened to record `id` (a ticket, an opportunity, an order): its triggers' surveys
/// go out from a job committed with the change (once per event and record).
///
/// # Errors
/// Database failures.
pub async fn on_event(
    tx: &impl Conn,
    event: SurveyEvent,
    id: Uuid,
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    let job = Job::new(
        JobKind::parse(TRIGGER_JOB)?,
        json!({ "event": event.as_str(), "id": id }),
        Some(format!("{TRIGGER_JOB}:{}:{id}", event.as_str())),
        now,
        now,
    );
    jobs::enqueue(tx, &job).await?;
    Ok(())
}

/// What an invitation is about: at most one of them.
#[derive(Debug, Clone, Default)]
pub struct About {
    pub ticket: Option<Ticket>,
    pub opportunity: Option<Opportunity>,
    pub order: Option<Order>,
}

/// One invitation to send.
pub struct Invite<'a> {
    pub survey: &'a Survey,
    pub contact_id: Uuid,
    pub customer: &'a Customer,
    pub about: About,
    pub origin: InvitationOrigin,
    /// The trigger and what it fired for: one invitation per pair.
    pub trigger: Option<(Uuid, String)>,
}

/// A sent invitation and its token (answered now, never again).
#[derive(Debug)]
pub struct Issued {
    pub invitation: Invitation,
    pub token: String,
}

/// What became of an invitation to send.
#[derive(Debug)]
pub enum Outcome {
    Issued(Box<Issued>),
    Skipped(SkipReason),
    /// Its trigger already invited for this (the trigger's job ran again).
    AlreadyInvited,
}

/// Sends `invite` at `now` in the caller's transaction; with `email`, a contact with an
/// address gets the link by email (job [`EMAIL_JOB`], after the commit).
///
/// # Errors
/// `NotFound` when the contact is gone or not the customer's; database failures.
pub async fn invite(
    tx: &impl Conn,
    invite: Invite<'_>,
    email: bool,
    now: DateTime<Utc>,
) -> Result<Outcome, StoreError> {
    // The customer first, then the contact: the order of merges and contact changes, so that
    // they queue instead of deadlocking; the contact's lock makes the quiet period hold.
    let _: Customer = repos::get_locked(tx, invite.customer.id).await?;
    let contact: Contact = repos::get_locked(tx, invite.contact_id).await?;
    if contact.customer_id != invite.customer.id {
        return Err(StoreError::NotFound);
    }
    let last = survey_invitations::last_invited_at(tx, contact.id).await?;
    if let Some(reason) = refusal(
        contact.marketing_consent,
        last,
        invite.survey.quiet_days,
        now,
    ) {
        return Ok(Outcome::Skipped(reason));
    }
    let token = random_token(32);
    let sealed = match email && !contact.emails.is_empty() {
        true => Some(crypto::seal(&token)?),
        false => None,
    };
    let mails = sealed.is_some();
    let invitation = snapshot(&invite, contact.id, now);
    if !survey_invitations::insert(tx, &invitation, sha256_hex(&token), sealed).await? {
        return Ok(Outcome::AlreadyInvited);
    }
    if mails {
        let job = Job::new(
            JobKind::parse(EMAIL_JOB)?,
            json!({ "invitation_id": invitation.id }),
            Some(format!("{EMAIL_JOB}:{}", invitation.id)),
            now,
            now,
        );
        jobs::enqueue(tx, &job).await?;
    }
    Ok(Outcome::Issued(Box::new(Issued { invitation, token })))
}

/// The invitation, with what it is about as it is now (the results' breakdowns).
fn snapshot(invite: &Invite<'_>, contact_id: Uuid, now: DateTime<Utc>) -> Invitation {
    let About {
        ticket,
        opportunity,
        order,
    } = &invite.about;
    let customer = invite.customer;
    let (agent_id, team_id) = match (ticket, opportunity) {
        (Some(t), _) => (t.assignee_id, t.team_id),
        (None, Some(o)) => (o.owner_id, o.team_id),
        (None, None) => (customer.owner_id, customer.team_id),
    };
    Invitation {
        id: Uuid::now_v7(),
        survey_id: invite.survey.id,
        contact_id,
        customer_id: customer.id,
        ticket_id: ticket.as_ref().map(|t| t.id),
        opportunity_id: opportunity.as_ref().map(|o| o.id),
        order_id: order.as_ref().map(|o| o.id),
        origin: invite.origin,
        trigger_id: invite.trigger.as_ref().map(|(id, _)| *id),
        trigger_key: invite.trigger.as_ref().map(|(_, key)| key.clone()),
        status: InvitationStatus::Sent,
        expires_at: now + Duration::days(invite.survey.expires_in_days),
        opened_at: None,
        answered_at: None,
        emailed_at: None,
        follow_up_ticket_id: None,
        answers: None,
        agent_id,
        team_id,
        channel: ticket.as_ref().map(|t| t.channel),
        category: ticket.as_ref().map(|t| t.category),
        grade: Some(customer.grade),
        created_at: now,
        updated_at: now,
        version: 1,
    }
}

/// The link an invitation gives: `template` with its token in place of `{token}`.
pub fn link(template: &str, token: &str) -> String {
    template.replace("{token}", token)
}

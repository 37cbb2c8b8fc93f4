//! Survey jobs. `surveys.trigger` sends the surveys of the triggers of an event (a ticket
//! resolved, a deal won, an order fulfilled), enqueued with the change; `surveys.quarterly`
//! (daily) enqueues the quarter's `surveys.quarter` once, which invites the primary contact of
//! every active customer; `surveys.email` emails an invitation's link. Each invitation is one
//! per trigger and subject (a unique key), so a job that runs again invites no one twice.

use chrono::{DateTime, Utc};
use lettre::message::Mailbox;
use lettre::message::header::ContentType;
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use rapport_api::invitations::{self, About, Invite, Outcome};
use rapport_domain::audit::AuditEvent;
use rapport_domain::customer::Customer;
use rapport_domain::enums::LifecycleStage;
use rapport_domain::identity::Actor;
use rapport_domain::job::{Job, JobKind};
use rapport_domain::opportunity::Opportunity;
use rapport_domain::quote::Order;
use rapport_domain::survey::{Invitation, InvitationOrigin, SurveyEvent, SurveyTrigger, quarter};
use rapport_store::repos::customers::{self, CustomerFilter, CustomerSort};
use rapport_store::repos::{
    self, Lock, audit, contacts, jobs, survey_invitations, survey_triggers, surveys, tickets,
};
use rapport_store::{SortDir, Store, StoreError, crypto};
use serde_json::json;
use uuid::Uuid;

use super::handler::{Handler, JobContext, JobFailure};
use crate::config::Smtp;

pub use rapport_api::invitations::{EMAIL_JOB as EMAIL, TRIGGER_JOB as TRIGGER};
pub const QUARTERLY: &str = "surveys.quarterly";
pub const QUARTER: &str = "surveys.quarter";

/// Customers read per page of the quarterly pass.
const PAGE: u64 = 200;

/// Who a trigger invites, and what about.
struct Recipient<'a> {
    contact_id: Uuid,
    customer: &'a Customer,
    about: About,
}

/// Sends the survey of `trigger` (for `key`) to `to`, in its own transaction with its audit
/// event; nothing when the contact is skipped or was invited for this already.
async fn send(
    store: &Store,
    trigger: &SurveyTrigger,
    key: String,
    to: Recipient<'_>,
    email: bool,
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    let survey = surveys::get(store.conn(), trigger.survey_id).await?;
    if survey.superseded_by_id.is_some() {
        return Ok(());
    }
    let tx = store.begin().await?;
    let invite = Invite {
        survey: &survey,
        contact_id: to.contact_id,
        customer: to.customer,
        about: to.about,
        origin: InvitationOrigin::from(trigger.event),
        trigger: Some((trigger.id, key)),
    };
    match invitations::invite(&tx, invite, email, now).await {
        Ok(Outcome::Issued(issued)) => {
            audit::record(&tx, sent_event(&issued.invitation, now)).await?;
            rapport_store::commit(tx).await
        }
        Ok(Outcome::Skipped(_) | Outcome::AlreadyInvited) | Err(StoreError::NotFound) => Ok(()),
        Err(e) => Err(e),
    }
}

fn sent_event(inv: &Invitation, now: DateTime<Utc>) -> AuditEvent {
    AuditEvent {
        id: Uuid::now_v7(),
        occurred_at: now,
        actor: Actor::System,
        entity_type: "survey_invitation".into(),
        entity_id: inv.id,
        customer_id: Some(inv.customer_id),
        action: "create".into(),
        request_id: None,
        ip: None,
        changes: json!({
            "survey_id": {"before": null, "after": inv.survey_id},
            "contact_id": {"before": null, "after": inv.contact_id},
            "trigger": {"before": null, "after": inv.origin.as_str()},
        }),
    }
}

/// The live customer `id`, or `None` when it was deleted or merged away.
async fn live_customer(store: &Store, id: Uuid) -> Result<Option<Customer>, StoreError> {
    let customer: Customer = repos::fetch(store.conn(), id, Lock::No).await?;
    Ok((customer.deleted_at.is_none() && customer.merged_into_id.is_none()).then_some(customer))
}

async fn primary_contact(store: &Store, customer_id: Uuid) -> Result<Option<Uuid>, StoreError> {
    Ok(contacts::primary_of(store.conn(), customer_id)
        .await?
        .map(|c| c.id))
}

/// The customer, the contact (if the record names one) and what the invitation is about, of
/// record `id` of `event`.
async fn subject_of(
    store: &Store,
    event: SurveyEvent,
    id: Uuid,
) -> Result<Option<(Uuid, Option<Uuid>, About)>, StoreError> {
    let db = store.conn();
    Ok(Some(match event {
        SurveyEvent::TicketResolved => {
            let t = tickets::get(db, id).await?;
            let about = About {
                ticket: Some(t.clone()),
                ..About::default()
            };
            (t.customer_id, t.contact_id, about)
        }
        SurveyEvent::OpportunityWon => {
            let o: Opportunity = repos::fetch(db, id, Lock::No).await?;
            let about = About {
                opportunity: Some(o.clone()),
                ..About::default()
            };
            (o.customer_id, o.contact_id, about)
        }
        SurveyEvent::OrderFulfilled => {
            let o: Order = repos::fetch(db, id, Lock::No).await?;
            let about = About {
                order: Some(o.clone()),
                ..About::default()
            };
            (o.customer_id, None, about)
        }
        SurveyEvent::Quarterly => return Ok(None),
    }))
}

/// `surveys.trigger`: `{"event": "ticket_resolved", "id": "<ticket>"}`.
pub struct Trigger {
    /// Whether invitations are emailed (SMTP is configured).
    pub email: bool,
}

#[async_trait::async_trait]
impl Handler for Trigger {
    async fn run(&self, ctx: &JobContext) -> Result<(), JobFailure> {
        let payload = &ctx.job.payload;
        let event = payload["event"]
            .as_str()
            .and_then(|e| SurveyEvent::parse(e).ok())
            .ok_or_else(|| JobFailure("the payload names no survey event".into()))?;
        let id = payload["id"]
            .as_str()
            .and_then(|id| id.parse::<Uuid>().ok())
            .ok_or_else(|| JobFailure("the payload names no record".into()))?;
        let triggers = survey_triggers::enabled_for(ctx.store.conn(), event).await?;
        if triggers.is_empty() {
            return Ok(());
        }
        let subject = subject_of(&ctx.store, event, id).await;
        let (customer_id, contact_id, about) = match subject {
            Ok(Some(found)) => found,
            // Deleted since (or a quarterly event, which names no record): nothing to send.
            Ok(None) | Err(StoreError::NotFound) => return Ok(()),
            Err(e) => return Err(e.into()),
        };
        let Some(customer) = live_customer(&ctx.store, customer_id).await? else {
            return Ok(());
        };

        let contact = match contact_id {
            Some(c) => Some(c),
            None => primary_contact(&ctx.store, customer.id).await?,
        };
        let Some(contact) = contact else {
            return Ok(());
        };
        let now = ctx.clock.now();
        for trigger in &triggers {
            let key = format!("{}:{id}", event.as_str());
            let to = Recipient {
                contact_id: contact,
                customer: &customer,
                about: about.clone(),
            };
            send(&ctx.store, trigger, key, to, self.email, now).await?;
        }
        Ok(())
    }
}

/// Whether `now` is within the first five days of its quarter (UTC).
fn in_first_days_of_quarter(now: DateTime<Utc>) -> bool {
    use chrono::Datelike;
    now.month0().is_multiple_of(3) && now.day() <= 5
}

/// `surveys.quarterly` (daily): enqueues this quarter's pass once (its key is the quarter), in
/// the quarter's first five days.
pub struct Quarterly;

#[async_trait::async_trait]
impl Handler for Quarterly {
    async fn run(&self, ctx: &JobContext) -> Result<(), JobFailure> {
        if survey_triggers::enabled_for(ctx.store.conn(), SurveyEvent::Quarterly)
            .await?
            .is_empty()
        {
            return Ok(());
        }
        let now = ctx.clock.now();
        // The pass is keyed by its quarter while its job is kept (`maintenance.purge` keeps
        // finished jobs 7 days): enqueued only in the quarter's first days, it runs once.
        if !in_first_days_of_quarter(now) {
            return Ok(());
        }
        let quarter = quarter(now);
        let kind = JobKind::parse(QUARTER).map_err(|e| JobFailure(format!("{e:?}")))?;
        let job = Job::new(
            kind,
            json!({ "quarter": quarter }),
            Some(format!("{QUARTER}:{quarter}")),
            now,
            now,
        );
        let tx = ctx.store.begin().await?;
        jobs::enqueue(&tx, &job).await?;
        rapport_store::commit(tx).await?;
        Ok(())
    }
}

/// `surveys.quarter`: `{"quarter": "2026-Q4"}`, the primary contact of every customer in
/// stage `customer` or `loyal`, for each quarterly trigger.
pub struct Quarter {
    pub email: bool,
}

#[async_trait::async_trait]
impl Handler for Quarter {
    async fn run(&self, ctx: &JobContext) -> Result<(), JobFailure> {
        let quarter = ctx.job.payload["quarter"]
            .as_str()
            .ok_or_else(|| JobFailure("the payload names no quarter".into()))?
            .to_owned();
        let triggers =
            survey_triggers::enabled_for(ctx.store.conn(), SurveyEvent::Quarterly).await?;
        let now = ctx.clock.now();
        let mut invited = 0u64;
        for stage in [LifecycleStage::Customer, LifecycleStage::Loyal] {
            let filter = CustomerFilter {
                lifecycle_stage: Some(stage),
                ..CustomerFilter::default()
            };
            let mut cursor = None;
            loop {
                let page = customers::list(
                    ctx.store.conn(),
                    rapport_domain::access::Visibility::All,
                    &filter,
                    CustomerSort::CreatedAt,
                    SortDir::Asc,
                    cursor,
                    PAGE,
                )
                .await?;
                let ids: Vec<Uuid> = page.items.iter().map(|c| c.id).collect();
                let people = contacts::of_customers(ctx.store.conn(), &ids).await?;
                for customer in &page.items {
                    let primary = people
                        .get(&customer.id)
                        .and_then(|cs| cs.iter().find(|c| c.is_primary));
                    let Some(contact) = primary else { continue };
                    for trigger in &triggers {
                        let key = format!("quarter:{quarter}:{}", customer.id);
                        let to = Recipient {
                            contact_id: contact.id,
                            customer,
                            about: About::default(),
                        };
                        send(&ctx.store, trigger, key, to, self.email, now).await?;
                        invited += 1;
                    }
                }
                match page.next {
                    Some(next) => cursor = Some(next),
                    None => break,
                }
            }
        }
        tracing::info!(quarter, considered = invited, "quarterly surveys sent");
        Ok(())
    }
}

/// What an admin sees of a failed send: the kind of failure and the server's code, never its
/// reply, which may quote the recipient's address.
pub(crate) fn smtp_failure(e: lettre::transport::smtp::Error) -> JobFailure {
    let kind = if e.is_permanent() {
        "refused permanently"
    } else if e.is_transient() {
        "refused for now"
    } else if e.is_timeout() {
        "timed out"
    } else {
        "failed"
    };
    match e.status() {
        Some(code) => JobFailure(format!("the SMTP server {kind} ({code})")),
        None => JobFailure(format!("sending through the SMTP server {kind}")),
    }
}

/// `surveys.email`: `{"invitation_id": "…"}`, through the configured SMTP server.
pub struct Email {
    transport: AsyncSmtpTransport<Tokio1Executor>,
    from: Mailbox,
    /// `RAPPORT_SURVEY_URL`.
    link: String,
}

impl Email {
    /// # Errors
    /// The SMTP URL or the sender cannot be used.
    pub fn new(smtp: &Smtp, link: String) -> anyhow::Result<Email> {
        let (transport, from) = smtp.mailer()?;
        Ok(Email {
            transport,
            from,
            link,
        })
    }
}

#[async_trait::async_trait]
impl Handler for Email {
    async fn run(&self, ctx: &JobContext) -> Result<(), JobFailure> {
        let id = ctx.job.payload["invitation_id"]
            .as_str()
            .and_then(|id| id.parse::<Uuid>().ok())
            .ok_or_else(|| JobFailure("the payload names no invitation".into()))?;
        let db = ctx.store.conn();
        // Sent already (the token is dropped then), or erased: nothing to send.
        let Some(sealed) = survey_invitations::sealed_token(db, id).await? else {
            return Ok(());
        };
        let invitation = survey_invitations::get(db, id).await?;
        // Answered or expired while the job waited: the link is of no use any more.
        if invitation.check_open(ctx.clock.now()).is_err() {
            return Ok(());
        }
        let contact = match contacts::get(db, invitation.contact_id).await {
            Ok(c) => c,
            Err(StoreError::NotFound) => return Ok(()),
            Err(e) => return Err(e.into()),
        };
        let Some(address) = contact.emails.first() else {
            return Ok(());
        };
        let survey = surveys::get(db, invitation.survey_id).await?;
        let token = crypto::open(&sealed)?;
        let url = invitations::link(&self.link, &token);
        let to: Mailbox = address
            .address
            .as_str()
            .parse()
            .map_err(|_| JobFailure("the contact's email address cannot be mailed".into()))?;
        let zh = survey.language.as_str().starts_with("zh");
        let body = if zh {
            format!(
                "{}，您好：\n\n请花一分钟告诉我们您的感受：\n{url}\n\n此链接仅可使用一次，有效期至 {}。\n",
                contact.first_name.as_str(),
                invitation.expires_at.format("%Y-%m-%d"),
            )
        } else {
            format!(
                "Hello {},\n\nPlease take a minute to tell us how we did:\n{url}\n\nThe link works once, until {}.\n",
                contact.first_name.as_str(),
                invitation.expires_at.format("%Y-%m-%d"),
            )
        };
        let message = Message::builder()
            .from(self.from.clone())
            .to(to)
            .subject(survey.title.as_str())
            .header(ContentType::TEXT_PLAIN)
            .body(body)
            .map_err(|e| JobFailure(format!("building the invitation email: {e}")))?;
        self.transport.send(message).await.map_err(smtp_failure)?;
        let tx = ctx.store.begin().await?;
        survey_invitations::mark_emailed(&tx, id, ctx.clock.now()).await?;
        rapport_store::commit(tx).await?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_quarterly_pass_is_enqueued_in_a_quarters_first_days_only() {
        let at = |s: &str| s.parse::<DateTime<Utc>>().unwrap();
        assert!(in_first_days_of_quarter(at("2026-10-01T00:00:00Z")));
        assert!(in_first_days_of_quarter(at("2027-01-05T23:59:00Z")));
        assert!(!in_first_days_of_quarter(at("2027-01-06T00:00:00Z")));
        assert!(!in_first_days_of_quarter(at("2026-11-01T00:00:00Z")));
        assert!(!in_first_days_of_quarter(at("2026-12-04T00:00:00Z")));
    }
}

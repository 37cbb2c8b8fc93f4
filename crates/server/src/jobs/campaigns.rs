//! Email campaign jobs. `campaigns.send` (enqueued by `POST /v1/campaigns/{id}/send`) creates
//! one message per member whose contact, read now, holds marketing consent and has an email
//! address, unless the member unsubscribed; each message is created once (a unique key), and
//! its `campaigns.email` job is enqueued with it, due at the configured rate. `campaigns.email`
//! sends it once through the configured SMTP server: a permanent refusal (5xx) marks it
//! `bounced` for good, a transient one is retried by the runner.

use chrono::{DateTime, Utc};
use lettre::message::header::{HeaderName, HeaderValue};
use lettre::message::{Mailbox, MultiPart};
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use rapport_api::auth::secret::{random_token, sha256_hex};
use rapport_domain::access::Visibility;
use rapport_domain::audit::AuditEvent;
use rapport_domain::campaign::{Campaign, CampaignStatus, Member, MemberStatus, MergeField};
use rapport_domain::campaign_email::{
    self, CampaignMessage, EMAIL_JOB, MessageStatus, SEND_JOB, Tracking,
};
use rapport_domain::contact::Contact;
use rapport_domain::customer::Customer;
use rapport_domain::identity::Actor;
use rapport_domain::job::{Job, JobKind};
use rapport_store::repos::campaigns::{self, MemberFilter};
use rapport_store::repos::{self, Lock, audit, campaign_messages, contacts, jobs};
use rapport_store::{Store, StoreError};
use serde_json::json;
use uuid::Uuid;

use super::handler::{Handler, JobContext, JobFailure};
use super::surveys::smtp_failure;
use crate::config::Smtp;

pub const SEND: &str = SEND_JOB;
pub const EMAIL: &str = EMAIL_JOB;

/// Members read per page.
const PAGE: u64 = 200;

fn id_in(ctx: &JobContext, field: &str) -> Result<Uuid, JobFailure> {
    ctx.job.payload[field]
        .as_str()
        .and_then(|id| id.parse::<Uuid>().ok())
        .ok_or_else(|| JobFailure(format!("the payload names no {field}")))
}

/// Whether the contact may be mailed: marketing consent granted, and an address.
fn mailable(contact: &Contact) -> bool {
    contact.has_marketing_consent() && !contact.emails.is_empty()
}

/// The contact `id`, or `None` when it is gone.
async fn contact(store: &Store, id: Uuid) -> Result<Option<Contact>, StoreError> {
    match contacts::get(store.conn(), id).await {
        Ok(c) => Ok(Some(c)),
        Err(StoreError::NotFound) => Ok(None),
        Err(e) => Err(e),
    }
}

/// `campaigns.send`: `{"campaign_id": "…"}`.
pub struct Send {
    /// Emails a minute, at most (`RAPPORT_CAMPAIGN_RATE`).
    pub rate: u32,
}

#[async_trait::async_trait]
impl Handler for Send {
    async fn run(&self, ctx: &JobContext) -> Result<(), JobFailure> {
        let campaign_id = id_in(ctx, "campaign_id")?;
        let campaign = match campaigns::get(ctx.store.conn(), campaign_id).await {
            Ok(c) => c,
            Err(StoreError::NotFound) => return Ok(()),
            Err(e) => return Err(e.into()),
        };
        // Completed or cancelled since, or its email emptied: nothing more goes out.
        if campaign.status != CampaignStatus::Active || !campaign.is_sendable() {
            return Ok(());
        }
        let kind = JobKind::parse(EMAIL).map_err(|e| JobFailure(format!("{e:?}")))?;
        let spacing = chrono::Duration::microseconds(60_000_000 / i64::from(self.rate.max(1)));
        let now = ctx.clock.now();
        let mut queued = 0i32;
        let mut cursor = None;
        loop {
            let page = campaigns::list_members(
                ctx.store.conn(),
                campaign.id,
                Visibility::All,
                &MemberFilter::default(),
                cursor,
                PAGE,
            )
            .await?;
            let mut chosen = Vec::new();
            for member in &page.items {
                if member.status == MemberStatus::Unsubscribed {
                    continue;
                }
                // Read now: consent withdrawn since the member was added counts.
                if contact(&ctx.store, member.contact_id)
                    .await?
                    .is_some_and(|c| mailable(&c))
                {
                    chosen.push(member.id);
                }
            }
            let tx = ctx.store.begin().await?;
            for member_id in chosen {
                let message = CampaignMessage::new(campaign.id, member_id, now);
                if !campaign_messages::insert(&tx, &message).await? {
                    continue;
                }
                let due = now + spacing * queued;
                queued += 1;
                let job = Job::new(
                    kind.clone(),
                    json!({ "message_id": message.id }),
                    Some(format!("{EMAIL}:{}", message.id)),
                    due,
                    now,
                );
                jobs::enqueue(&tx, &job).await?;
            }
            rapport_store::commit(tx).await?;
            match page.next {
                Some(next) => cursor = Some(next),
                None => break,
            }
        }
        tracing::info!(campaign = %campaign.id, queued, "campaign messages queued");
        Ok(())
    }
}

/// The public links of one message.
struct Links<'a> {
    base: &'a str,
    token: &'a str,
}

impl Tracking for Links<'_> {
    fn click_url(&self, n: usize) -> String {
        format!("{}/v1/public/email/{}/click/{n}", self.base, self.token)
    }
    fn open_url(&self) -> String {
        format!("{}/v1/public/email/{}/open.gif", self.base, self.token)
    }
    fn unsubscribe_url(&self) -> String {
        format!("{}/v1/public/email/{}/unsubscribe", self.base, self.token)
    }
}

/// The audit event of a message sent or bounced, on the customer's trail (the contact's
/// timeline of campaign email).
fn event(
    message: &CampaignMessage,
    member: &Member,
    action: &str,
    now: DateTime<Utc>,
) -> AuditEvent {
    AuditEvent {
        id: Uuid::now_v7(),
        occurred_at: now,
        actor: Actor::System,
        entity_type: "campaign_message".into(),
        entity_id: message.id,
        customer_id: Some(member.customer_id),
        action: action.into(),
        request_id: None,
        ip: None,
        changes: json!({
            "campaign_id": {"before": null, "after": message.campaign_id},
            "contact_id": {"before": null, "after": member.contact_id},
        }),
    }
}

/// `campaigns.email`: `{"message_id": "…"}`, through the configured SMTP server.
pub struct Email {
    transport: AsyncSmtpTransport<Tokio1Executor>,
    from: Mailbox,
    /// `RAPPORT_PUBLIC_URL`, without a trailing slash.
    base: String,
}

impl Email {
    /// # Errors
    /// The SMTP URL or the sender cannot be used.
    pub fn new(smtp: &Smtp, base: String) -> anyhow::Result<Email> {
        let (transport, from) = smtp.mailer()?;
        Ok(Email {
            transport,
            from,
            base,
        })
    }

    /// The email of `message` to `contact`, carrying `token`.
    fn build(
        &self,
        campaign: &Campaign,
        contact: &Contact,
        customer: &Customer,
        token: &str,
    ) -> Result<Option<Message>, JobFailure> {
        let (Some(subject), Some(body)) = (&campaign.email_subject, &campaign.email_body) else {
            return Ok(None);
        };
        let Some(address) = contact.emails.first() else {
            return Ok(None);
        };
        let to: Mailbox = address
            .address
            .as_str()
            .parse()
            .map_err(|_| JobFailure("the contact's email address cannot be mailed".into()))?;
        let links = Links {
            base: &self.base,
            token,
        };
        let unsubscribe = links.unsubscribe_url();
        let value = |field: MergeField| match field {
            MergeField::ContactFirstName => contact.first_name.as_str().to_owned(),
            MergeField::ContactLastName => contact
                .last_name
                .as_ref()
                .map(|n| n.as_str().to_owned())
                .unwrap_or_default(),
            MergeField::CustomerName => customer.name.as_str().to_owned(),
            MergeField::UnsubscribeUrl => unsubscribe.clone(),
        };
        let subject = subject.render(value);
        let rendered = campaign_email::render(body, &links, value);
        let message = Message::builder()
            .from(self.from.clone())
            .to(to)
            .subject(subject.replace(['\r', '\n'], " "))
            .raw_header(HeaderValue::new(
                HeaderName::new_from_ascii_str("List-Unsubscribe"),
                format!("<{unsubscribe}>"),
            ))
            .raw_header(HeaderValue::new(
                HeaderName::new_from_ascii_str("List-Unsubscribe-Post"),
                "List-Unsubscribe=One-Click".into(),
            ))
            .multipart(MultiPart::alternative_plain_html(
                rendered.text,
                rendered.html,
            ))
            .map_err(|e| JobFailure(format!("building the campaign email: {e}")))?;
        Ok(Some(message))
    }
}

#[async_trait::async_trait]
impl Handler for Email {
    async fn run(&self, ctx: &JobContext) -> Result<(), JobFailure> {
        let id = id_in(ctx, "message_id")?;
        let db = ctx.store.conn();
        let message = match campaign_messages::get(db, id).await {
            Ok(m) => m,
            Err(StoreError::NotFound) => return Ok(()),
            Err(e) => return Err(e.into()),
        };
        // Sent or bounced already: never twice.
        if message.status != MessageStatus::Queued {
            return Ok(());
        }
        let campaign = campaigns::get(db, message.campaign_id).await?;
        if campaign.status != CampaignStatus::Active {
            return Ok(());
        }
        let member = campaigns::get_member(db, campaign.id, message.member_id).await?;
        if member.status == MemberStatus::Unsubscribed {
            return Ok(());
        }
        // Read now: consent withdrawn or the address removed while the message waited.
        let Some(contact) = contact(&ctx.store, member.contact_id).await? else {
            return Ok(());
        };
        if !mailable(&contact) {
            return Ok(());
        }
        let customer: Customer = repos::fetch(db, member.customer_id, Lock::No).await?;
        if customer.deleted_at.is_some() || customer.merged_into_id.is_some() {
            return Ok(());
        }
        // A new token for each attempt: one that never reached anyone is replaced.
        let token = random_token(32);
        let Some(email) = self.build(&campaign, &contact, &customer, &token)? else {
            return Ok(());
        };
        let tx = ctx.store.begin().await?;
        campaign_messages::set_token(&tx, id, sha256_hex(&token), ctx.clock.now()).await?;
        rapport_store::commit(tx).await?;
        let (status, action) = match self.transport.send(email).await {
            Ok(_) => (MessageStatus::Sent, "send"),
            // Refused for good (a 5xx reply, e.g. 550 at RCPT): a bounce, not retried.
            Err(e) if e.is_permanent() => (MessageStatus::Bounced, "bounce"),
            Err(e) => return Err(smtp_failure(e)),
        };
        let now = ctx.clock.now();
        let tx = ctx.store.begin().await?;
        campaign_messages::mark(&tx, id, status, now).await?;
        audit::record(&tx, event(&message, &member, action, now)).await?;
        rapport_store::commit(tx).await?;
        Ok(())
    }
}

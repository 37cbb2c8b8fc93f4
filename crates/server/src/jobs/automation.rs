//! Automation rules' jobs (see `rapport_api::automation`). They need the API's state: each
//! action is done as the API does it. `automation.run` is one firing of a rule;
//! `automation.email` and `automation.report` (registered with SMTP only, queued by the
//! emailing actions) send a `send_email` action's email and an `email_report` action's report.
//! Each email is marked on the action's outcome before it goes (`rapport_api::automation::
//! letters`): a rerun sends none twice, a permanent refusal (5xx) is recorded as `bounced`
//! rather than retried, a transient one is retried with the job.

use actix_web::web;
use lettre::message::header::ContentType;
use lettre::message::{Attachment, Mailbox, MultiPart, SinglePart};
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use rapport_api::AppState;
use rapport_api::automation::letters::{self, Letter, Mailing};
use rapport_api::automation::mail::{EMAIL_JOB, EmailJob, REPORT_JOB};
use rapport_api::automation::{self, letters::Attachment as File};
use rapport_domain::automation::run::EmailStatus;
use rapport_store::repos::automation::Firing;

use super::handler::{Handler, JobContext, JobFailure};
use super::surveys::smtp_failure;
use crate::config::Smtp;

pub use rapport_store::repos::automation::RUN_JOB as RUN;
pub const EMAIL: &str = EMAIL_JOB;
pub const REPORT: &str = REPORT_JOB;

pub struct Run {
    state: web::Data<AppState>,
}

impl Run {
    pub fn new(state: web::Data<AppState>) -> Run {
        Run { state }
    }
}

#[async_trait::async_trait]
impl Handler for Run {
    async fn run(&self, ctx: &JobContext) -> Result<(), JobFailure> {
        let firing: Firing = serde_json::from_value(ctx.job.payload.clone())
            .map_err(|e| JobFailure(format!("the job names no firing: {e}")))?;
        automation::execute(&self.state, &firing)
            .await
            .map_err(|e| JobFailure(e.to_string()))
    }
}

/// Which of the emailing actions a job sends.
#[derive(Debug, Clone, Copy)]
enum Kind {
    Email,
    Report,
}

/// `automation.email` and `automation.report`: `EmailJob` payloads (ids only), through the
/// configured SMTP server.
pub struct Send {
    kind: Kind,
    state: web::Data<AppState>,
    transport: AsyncSmtpTransport<Tokio1Executor>,
    from: Mailbox,
}

impl Send {
    /// The `automation.email` and `automation.report` handlers, sharing one connection pool.
    ///
    /// # Errors
    /// The SMTP URL or the sender cannot be used.
    pub fn both(state: &web::Data<AppState>, smtp: &Smtp) -> anyhow::Result<(Send, Send)> {
        let (transport, from) = smtp.mailer()?;
        let send = |kind| Send {
            kind,
            state: state.clone(),
            transport: transport.clone(),
            from: from.clone(),
        };
        Ok((send(Kind::Email), send(Kind::Report)))
    }

    /// `letter` as a message: plain text with its escaped HTML, and the attachment if any.
    fn message(&self, letter: &Letter, file: Option<&File>) -> Result<Option<Message>, JobFailure> {
        // An address the contact or user record holds that cannot be mailed: none is sent.
        let Ok(to) = letter.address.parse::<Mailbox>() else {
            return Ok(None);
        };
        let body = MultiPart::alternative_plain_html(letter.text.clone(), letter.html.clone());
        let body = match file {
            None => body,
            Some(file) => {
                let content_type = ContentType::parse(file.content_type)
                    .map_err(|e| JobFailure(format!("the attachment's type: {e}")))?;
                // Base64 whatever the content: the file arrives byte for byte as written.
                let part: SinglePart = Attachment::new(file.file_name.clone()).body(
                    lettre::message::Body::new_with_encoding(
                        file.content.clone(),
                        lettre::message::header::ContentTransferEncoding::Base64,
                    )
                    .map_err(|_| JobFailure("encoding the attachment".into()))?,
                    content_type,
                );
                MultiPart::mixed().multipart(body).singlepart(part)
            }
        };
        Message::builder()
            .from(self.from.clone())
            .to(to)
            .subject(letter.subject.clone())
            .multipart(body)
            .map(Some)
            .map_err(|e| JobFailure(format!("building the automation email: {e}")))
    }
}

#[async_trait::async_trait]
impl Handler for Send {
    async fn run(&self, ctx: &JobContext) -> Result<(), JobFailure> {
        let job: EmailJob = serde_json::from_value(ctx.job.payload.clone())
            .map_err(|e| JobFailure(format!("the job names no email: {e}")))?;
        let state = &self.state;
        let mailing: Mailing = match self.kind {
            Kind::Email => letters::email(state, &job).await,
            Kind::Report => letters::report(state, &job).await,
        }
        .map_err(|e| JobFailure(format!("reading what to send failed: {e}")))?;
        for (to, reason) in mailing.not_sent {
            letters::not_sent(state, &job, to, reason).await?;
        }
        let mut failure = None;
        let customer = mailing.customer_id;
        for letter in &mailing.letters {
            // Built before it is claimed: a claim is given up only to a send.
            let Some(message) = self.message(letter, mailing.attachment.as_ref())? else {
                let reason = "invalid_address".to_owned();
                letters::not_sent(state, &job, letter.to, reason).await?;
                continue;
            };
            if !letters::claim(state, &job, letter.to).await? {
                continue;
            }
            match self.transport.send(message).await {
                Ok(_) => {
                    letters::settle(state, &job, customer, letter.to, EmailStatus::Sent, None)
                        .await?;
                }
                // Refused for good (a 5xx reply, e.g. 550 at RCPT): a bounce, not retried.
                Err(e) if e.is_permanent() => {
                    let code = e.status().map(|c| c.to_string());
                    letters::settle(state, &job, customer, letter.to, EmailStatus::Bounced, code)
                        .await?;
                }
                // Refused for now, or unreachable: given back, tried again with the job.
                Err(e) => {
                    letters::release(state, &job, letter.to).await?;
                    failure = Some(smtp_failure(e));
                }
            }
        }
        failure.map_or(Ok(()), Err)
    }
}

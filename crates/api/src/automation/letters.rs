//! What the emailing actions' jobs send (`automation.email`, `automation.report`), read again
//! when the job runs: the rule and its action (by its index), the record, the recipients now.
//! Each email's marker is kept on the action's outcome in the run (`Outcome::emails`): it is
//! taken (`sending`) before the email goes to the SMTP server and settled after, under the
//! run's lock, so a rerun of the job sends no email twice. The server's jobs hold the SMTP
//! transport and call these.

use chrono::{DateTime, Utc};
use rapport_domain::audit::AuditEvent;
use rapport_domain::automation::action::Action;
use rapport_domain::automation::rule::Rule;
use rapport_domain::automation::run::{EmailStatus, Outcome, Recipient, Run};
use rapport_domain::campaign_email::html_text;
use rapport_store::StoreError;
use rapport_store::repos::{self, automation, contacts, users};
use serde_json::{Value, json};
use uuid::Uuid;

use super::actions::report_recipients;
use super::mail::EmailJob;
use super::records;
use super::reports::ReportQuery;
use crate::audit;
use crate::error::{ApiError, ProblemCode};
use crate::state::AppState;

/// Why an email was not sent (besides the problem codes of the API's refusals).
pub const RECORD_GONE: &str = "record_gone";
/// The action was changed or removed from its rule since its job was queued.
pub const ACTION_CHANGED: &str = "action_changed";

/// One email to one recipient.
#[derive(Debug, Clone)]
pub struct Letter {
    pub to: Recipient,
    /// The recipient's address (personal data: never logged).
    pub address: String,
    /// On one line.
    pub subject: String,
    pub text: String,
    /// The text, HTML-escaped, its line breaks as `<br>`.
    pub html: String,
}

/// A file every letter of a mailing carries.
#[derive(Debug, Clone)]
pub struct Attachment {
    pub file_name: String,
    pub content_type: &'static str,
    pub content: Vec<u8>,
}

/// What a job has to do: its letters, and the recipients it writes to no one for (`reason`).
#[derive(Debug, Clone, Default)]
pub struct Mailing {
    pub letters: Vec<Letter>,
    pub attachment: Option<Attachment>,
    pub not_sent: Vec<(Recipient, String)>,
    /// The customer of the record the emails are about, for their audit events.
    pub customer_id: Option<Uuid>,
}

impl Mailing {
    fn not_sent(to: Recipient, reason: &str) -> Mailing {
        Mailing {
            not_sent: vec![(to, reason.to_owned())],
            ..Mailing::default()
        }
    }
}

/// The rule of `job`, `None` when it is gone (its runs went with it).
async fn rule_of(state: &AppState, job: &EmailJob) -> Result<Option<Rule>, ApiError> {
    match automation::get(state.store.conn(), job.rule_id).await {
        Ok(rule) => Ok(Some(rule)),
        Err(StoreError::NotFound) => Ok(None),
        Err(e) => Err(e.into()),
    }
}

fn one_line(text: &str) -> String {
    text.replace(['\r', '\n'], " ")
}

/// The email of a `send_email` action's job: its subject and body rendered over the record
/// as it is now, to the contact (its first address, while it holds marketing consent) or the
/// user it was queued for.
///
/// # Errors
/// Database failures.
pub async fn email(state: &AppState, job: &EmailJob) -> Result<Mailing, ApiError> {
    let Some(to) = job.recipient else {
        return Ok(Mailing::default());
    };
    let Some(rule) = rule_of(state, job).await? else {
        return Ok(Mailing::default());
    };
    let Some(Action::SendEmail { subject, body, .. }) = rule.actions.get(job.action) else {
        return Ok(Mailing::not_sent(to, ACTION_CHANGED));
    };
    let db = state.store.conn();
    let (json, customer_id) = match (job.record_type, job.record_id) {
        (Some(record_type), Some(id)) => match records::load(db, record_type, id).await? {
            Some(subject) => (subject.json, Some(subject.customer_id)),
            None => return Ok(Mailing::not_sent(to, RECORD_GONE)),
        },
        _ => (Value::Null, None),
    };
    let address = match to {
        Recipient::Contact(id) => match contacts::get(db, id).await {
            Ok(contact) => {
                // Read now: consent withdrawn while the email waited counts.
                if !contact.has_marketing_consent() {
                    return Ok(Mailing::not_sent(
                        to,
                        ProblemCode::ConsentWithdrawn.as_str(),
                    ));
                }
                contact
                    .emails
                    .first()
                    .map(|e| e.address.as_str().to_owned())
            }
            Err(StoreError::NotFound) => None,
            Err(e) => return Err(e.into()),
        },
        Recipient::User(id) => user_address(state, id).await?,
    };
    let Some(address) = address else {
        return Ok(Mailing::not_sent(to, ProblemCode::NoRecipient.as_str()));
    };
    let rule_name = rule.name.as_str();
    let text = body.render(&json, rule_name);
    Ok(Mailing {
        letters: vec![Letter {
            to,
            address,
            subject: one_line(&subject.render(&json, rule_name)),
            html: html_text(&text),
            text,
        }],
        customer_id,
        ..Mailing::default()
    })
}

/// The address of user `id`, `None` when it is gone or disabled.
async fn user_address(state: &AppState, id: Uuid) -> Result<Option<String>, ApiError> {
    match users::get(state.store.conn(), id).await {
        Ok(user) if !user.disabled => Ok(Some(user.email.as_str().to_owned())),
        Ok(_) | Err(StoreError::NotFound) => Ok(None),
        Err(e) => Err(e.into()),
    }
}

/// The emails of an `email_report` action's job: the report run now with the action's saved
/// parameters, as the rule sees it (every record, as an admin), attached as the CSV the API
/// answers, to each of its users.
///
/// # Errors
/// Database failures (a refusal of the report, such as a pipeline deleted since, is recorded
/// as each recipient's reason instead).
pub async fn report(state: &AppState, job: &EmailJob) -> Result<Mailing, ApiError> {
    let Some(rule) = rule_of(state, job).await? else {
        return Ok(Mailing::default());
    };
    let Some(Action::EmailReport {
        report,
        parameters,
        period,
        to,
        to_roles,
    }) = rule.actions.get(job.action)
    else {
        // Its users are the action's: with the action gone there is no one to tell.
        return Ok(Mailing::default());
    };
    let to = report_recipients(state.store.conn(), to, to_roles).await?;
    let recipients: Vec<Recipient> = to.iter().map(|id| Recipient::User(*id)).collect();
    let refused = |reason: &str| Mailing {
        not_sent: recipients
            .iter()
            .map(|to| (*to, reason.to_owned()))
            .collect(),
        ..Mailing::default()
    };
    // The period is the one before the firing, however late the job runs.
    let fired_at = job.fired_at.unwrap_or_else(|| state.clock.now());
    let Ok(query) = ReportQuery::of_action(report, parameters, *period, fired_at) else {
        return Ok(refused(ProblemCode::ValidationFailed.as_str()));
    };
    let caller = super::caller_of(&rule, Some(job.run_id));
    let content = match query.csv(state, &caller).await {
        Ok(csv) => csv,
        Err(e) if e.is_ours() => return Err(e),
        Err(e) => return Ok(refused(e.code().as_str())),
    };
    let now = state.clock.now();
    let subject = one_line(&format!("{}: {report}", rule.name.as_str()));
    let covering = period.map_or_else(String::new, |p| {
        let (from, to) = p.range(fired_at);
        format!(
            ", covering {} to {} UTC",
            from.format("%Y-%m-%d %H:%M"),
            to.format("%Y-%m-%d %H:%M")
        )
    });
    let text = format!(
        "The report {report} as of {} UTC{covering} is attached ({report}.csv).\n\n\
         Sent by the automation rule \"{}\".\n",
        now.format("%Y-%m-%d %H:%M"),
        rule.name.as_str(),
    );
    let mut mailing = Mailing {
        attachment: Some(Attachment {
            file_name: format!("{report}.csv"),
            content_type: "text/csv; charset=utf-8",
            content,
        }),
        ..Mailing::default()
    };
    for id in to {
        let to = Recipient::User(id);
        match user_address(state, id).await? {
            Some(address) => mailing.letters.push(Letter {
                to,
                address,
                subject: subject.clone(),
                html: html_text(&text),
                text: text.clone(),
            }),
            None => mailing
                .not_sent
                .push((to, ProblemCode::NoRecipient.as_str().to_owned())),
        }
    }
    Ok(mailing)
}

/// Changes the outcome of `job`'s action in its run, locked, with `change` (which answers
/// whether it changed anything); `None` when the run or the outcome is gone.
/// `event`, if any, is recorded on the same transaction when the outcome changed.
async fn on_outcome<T>(
    state: &AppState,
    job: &EmailJob,
    change: impl FnOnce(&mut Outcome, DateTime<Utc>) -> (T, bool),
    event: Option<AuditEvent>,
) -> Result<Option<T>, StoreError> {
    let tx = state.store.begin().await?;
    let mut run: Run = match repos::get_locked(&tx, job.run_id).await {
        Ok(run) => run,
        Err(StoreError::NotFound) => return Ok(None),
        Err(e) => return Err(e),
    };
    let now = state.clock.now();
    let Some(outcome) = run.outcomes.iter_mut().find(|o| o.index == job.action) else {
        return Ok(None);
    };
    let (answer, changed) = change(outcome, now);
    if changed {
        repos::save(&tx, &run, now).await?;
        if let Some(event) = event {
            repos::audit::record(&tx, event).await?;
        }
        rapport_store::commit(tx).await?;
    }
    Ok(Some(answer))
}

/// Takes the email to `to` for sending: `false` when the job has begun on it already (sent,
/// not sent, bounced, or a send that may have gone), or its run is gone.
///
/// # Errors
/// Database failures.
pub async fn claim(state: &AppState, job: &EmailJob, to: Recipient) -> Result<bool, StoreError> {
    let claimed = on_outcome(
        state,
        job,
        |outcome, now| {
            let claimed = outcome.claim_email(to, now);
            (claimed, claimed)
        },
        None,
    )
    .await?;
    Ok(claimed == Some(true))
}

/// Records what became of the email to `to` once claimed, `sent` or `bounced`, and audits it
/// (`email_sent`, `email_bounced` on the rule, with the rule as the actor and the record's
/// customer, `customer_id`).
///
/// # Errors
/// Database failures.
pub async fn settle(
    state: &AppState,
    job: &EmailJob,
    customer_id: Option<Uuid>,
    to: Recipient,
    status: EmailStatus,
    reason: Option<String>,
) -> Result<(), StoreError> {
    let (kind, recipient) = match to {
        Recipient::Contact(id) => ("contact", id),
        Recipient::User(id) => ("user", id),
    };
    let event = audit::event(
        state,
        &super::origin_of(job.rule_id, Some(job.run_id)),
        audit::Subject::of_customer(automation::ENTITY_TYPE, job.rule_id, customer_id),
        &format!("email_{}", status.as_str()),
        json!({
            "run_id": {"before": null, "after": job.run_id},
            "action": {"before": null, "after": job.action},
            "recipient_type": {"before": null, "after": kind},
            "recipient_id": {"before": null, "after": recipient},
            "reason": {"before": null, "after": reason},
        }),
    );
    on_outcome(
        state,
        job,
        |outcome, now| {
            // Only an email claimed for sending is settled (and audited), once.
            let claimed = outcome
                .email_to(to)
                .is_some_and(|e| e.status == EmailStatus::Sending);
            if claimed {
                outcome.settle_email(to, status, reason, now);
            }
            ((), claimed)
        },
        Some(event),
    )
    .await?;
    Ok(())
}

/// Records that no email goes to `to`, for `reason`, unless the job has begun on it already
/// (a rerun never turns a sent email into one not sent).
///
/// # Errors
/// Database failures.
pub async fn not_sent(
    state: &AppState,
    job: &EmailJob,
    to: Recipient,
    reason: String,
) -> Result<(), StoreError> {
    on_outcome(
        state,
        job,
        |outcome, now| {
            if outcome.email_to(to).is_some() {
                return ((), false);
            }
            outcome.settle_email(to, EmailStatus::NotSent, Some(reason), now);
            ((), true)
        },
        None,
    )
    .await?;
    Ok(())
}

/// Gives back the claim on the email to `to`: its send failed for now, and the job will try
/// again.
///
/// # Errors
/// Database failures.
pub async fn release(state: &AppState, job: &EmailJob, to: Recipient) -> Result<(), StoreError> {
    on_outcome(
        state,
        job,
        |outcome, _| {
            let had = outcome
                .email_to(to)
                .is_some_and(|e| e.status == EmailStatus::Sending);
            outcome.release_email(to);
            ((), had)
        },
        None,
    )
    .await?;
    Ok(())
}

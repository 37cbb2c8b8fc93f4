//! Background work. Durable jobs (`jobs` table) run on [`runner::Runner`], which every
//! instance runs; recurring ones are enqueued by [`schedules`]. Two loops stay per instance
//! because each keeps this process's own state: watching for revoked tokens, and rebuilding an
//! outdated search index once at start (idempotent, so instances may overlap).

pub mod audit;
pub mod automation;
pub mod automation_time;
pub mod campaigns;
pub mod duplicates;
pub mod grading;
pub mod handler;
pub mod imports;
pub mod leads;
pub mod loyalty;
pub mod maintenance;
pub mod quotes;
pub mod runner;
pub mod schedules;
pub mod search;
pub mod sla;
pub mod surveys;
pub mod webhooks;

use std::sync::Arc;

use rapport_api::auth::token_checks::{self, TokenChecks};
use rapport_domain::clock::Clock;
use rapport_domain::grading::GradingRules;
use rapport_domain::job::{BadKind, Schedule};
use rapport_store::Store;
use tokio::sync::watch;
use tokio::task::JoinHandle;

pub use handler::{Handler, Handlers, JobContext, JobFailure};
pub use runner::{Runner, RunnerOptions};
pub use schedules::Scheduled;

/// The job kinds every server runs; `sla_reminder` is how long before a ticket's resolution
/// is due its assignee is reminded (zero: never), `keep_deleted` how long a deleted customer
/// stays restorable before it is erased.
///
/// # Errors
/// A kind is misnamed (a bug, caught by the unit test below).
pub fn standard_handlers(
    sla_reminder: chrono::Duration,
    grading: GradingRules,
    keep_deleted: chrono::Duration,
) -> Result<Handlers, BadKind> {
    Handlers::default()
        .with(maintenance::PURGE, maintenance::Purge { keep_deleted })?
        .with(audit::SEAL, audit::Seal)?
        .with(
            sla::CHECK,
            sla::Check {
                reminder: sla_reminder,
            },
        )?
        .with(leads::ESCALATE, leads::Escalate)?
        .with(quotes::EXPIRE, quotes::Expire)?
        .with(surveys::TRIGGER, surveys::Trigger { email: false })?
        .with(surveys::QUARTERLY, surveys::Quarterly)?
        .with(surveys::QUARTER, surveys::Quarter { email: false })?
        .with(grading::GRADE, grading::Grading { rules: grading })?
        .with(duplicates::REBUILD, duplicates::Rebuild)?
        .with(loyalty::EARN, loyalty::Earn)?
        .with(loyalty::REVERSE, loyalty::Reverse)?
        .with(loyalty::EXPIRE, loyalty::Expire)?
        .with(automation_time::TICK, automation_time::Tick)?
        .with(automation_time::SCAN, automation_time::Scan)?
        .with(search::COMPACT, search::Compact)
}

/// `handlers` with survey invitations emailed through `smtp` (when configured): the survey
/// kinds then enqueue emails, and `surveys.email` sends them with links of `survey_url`.
///
/// # Errors
/// The SMTP settings cannot be used.
pub fn with_mail(
    handlers: Handlers,
    smtp: Option<&crate::config::Smtp>,
    survey_url: &str,
) -> anyhow::Result<Handlers> {
    let Some(smtp) = smtp else {
        return Ok(handlers);
    };
    Ok(handlers
        .with(surveys::TRIGGER, surveys::Trigger { email: true })?
        .with(surveys::QUARTER, surveys::Quarter { email: true })?
        .with(
            surveys::EMAIL,
            surveys::Email::new(smtp, survey_url.to_owned())?,
        )?)
}

/// `handlers` with email campaigns sent through `smtp` (when configured): `campaigns.send`
/// queues the messages, `campaigns.email` sends them, `rate` a minute at most, with public
/// links under `public_url`. Without SMTP, `POST /v1/campaigns/{id}/send` refuses.
///
/// # Errors
/// The SMTP settings cannot be used.
pub fn with_campaign_mail(
    handlers: Handlers,
    smtp: Option<&crate::config::Smtp>,
    public_url: &str,
    rate: u32,
) -> anyhow::Result<Handlers> {
    let Some(smtp) = smtp else {
        return Ok(handlers);
    };
    Ok(handlers
        .with(campaigns::SEND, campaigns::Send { rate })?
        .with(
            campaigns::EMAIL,
            campaigns::Email::new(smtp, public_url.to_owned())?,
        )?)
}

/// `handlers` with automation rules' emails sent through `smtp` (when configured):
/// `automation.email` (a `send_email` action's email) and `automation.report` (an
/// `email_report` action's report). They read as the API does, with its `state`. Without
/// SMTP the emailing actions are refused (`email_not_configured`) and queue nothing.
///
/// # Errors
/// The SMTP settings cannot be used.
pub fn with_automation_mail(
    handlers: Handlers,
    state: &actix_web::web::Data<rapport_api::AppState>,
    smtp: Option<&crate::config::Smtp>,
) -> anyhow::Result<Handlers> {
    let Some(smtp) = smtp else {
        return Ok(handlers);
    };
    let (email, report) = automation::Send::both(state, smtp)?;
    Ok(handlers
        .with(automation::EMAIL, email)?
        .with(automation::REPORT, report)?)
}

/// The recurring jobs.
///
/// # Errors
/// A kind is misnamed (a bug, caught by the unit test below).
pub fn standard_schedules() -> Result<Vec<Scheduled>, BadKind> {
    Ok(vec![
        Scheduled::new(maintenance::PURGE, Schedule::EveryMinutes(15))?,
        Scheduled::new(audit::SEAL, Schedule::EveryMinutes(1))?,
        Scheduled::new(automation_time::TICK, Schedule::EveryMinutes(1))?,
        Scheduled::new(sla::CHECK, Schedule::EveryMinutes(1))?,
        Scheduled::new(leads::ESCALATE, Schedule::EveryMinutes(5))?,
        Scheduled::new(quotes::EXPIRE, Schedule::EveryMinutes(15))?,
        Scheduled::new(search::COMPACT, Schedule::EveryMinutes(15))?,
        Scheduled::new(
            surveys::QUARTERLY,
            Schedule::Daily {
                at: chrono::NaiveTime::MIN,
                zone: chrono_tz::UTC,
            },
        )?,
        Scheduled::new(
            duplicates::REBUILD,
            Schedule::Daily {
                at: chrono::NaiveTime::from_hms_opt(3, 0, 0).unwrap_or(chrono::NaiveTime::MIN),
                zone: chrono_tz::UTC,
            },
        )?,
        Scheduled::new(
            loyalty::EXPIRE,
            Schedule::Daily {
                at: chrono::NaiveTime::from_hms_opt(1, 0, 0).unwrap_or(chrono::NaiveTime::MIN),
                zone: chrono_tz::UTC,
            },
        )?,
        Scheduled::new(
            grading::GRADE,
            Schedule::Daily {
                at: chrono::NaiveTime::from_hms_opt(2, 0, 0).unwrap_or(chrono::NaiveTime::MIN),
                zone: chrono_tz::UTC,
            },
        )?,
    ])
}

/// The running background work of one server.
pub struct Background {
    stop: watch::Sender<bool>,
    /// The job worker and the scheduler: they stop when told.
    jobs: JoinHandle<()>,
    /// Loops of this process only: aborted at stop.
    watchers: JoinHandle<()>,
}

impl Background {
    /// Starts the job worker, the scheduler, the revoked-token watch and, when the search
    /// index is outdated, its rebuild.
    pub fn spawn(
        store: Store,
        clock: Arc<dyn Clock>,
        token_checks: Arc<TokenChecks>,
        handlers: Handlers,
        schedules: Vec<Scheduled>,
        options: RunnerOptions,
    ) -> Background {
        let (stop, stopped) = watch::channel(false);
        let runner = Runner::new(store.clone(), clock.clone(), handlers, options);
        let scheduler = schedules::run(
            store.clone(),
            clock,
            schedules,
            options.poll,
            stopped.clone(),
        );
        let jobs = tokio::spawn(async move {
            tokio::join!(runner.run(stopped), scheduler);
        });
        let watch = token_checks::watch(store.clone(), token_checks);
        let watchers = tokio::spawn(async move {
            tokio::join!(crate::reindex::when_outdated(store), watch);
        });
        Background {
            stop,
            jobs,
            watchers,
        }
    }

    /// Stops taking jobs and waits for the runs in flight (each gets a grace period, then is
    /// given back to run again).
    pub async fn stop(self) {
        self.watchers.abort();
        // Err: every receiver is gone, the loops have ended already.
        let _ = self.stop.send(true);
        if let Err(e) = self.jobs.await {
            tracing::warn!(error = %e, "the job worker ended badly");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_standard_kinds_and_schedules_are_well_named() {
        let handlers = standard_handlers(
            chrono::Duration::hours(1),
            GradingRules::default(),
            chrono::Duration::days(30),
        )
        .unwrap();
        for scheduled in standard_schedules().unwrap() {
            assert!(
                handlers.get(&scheduled.kind).is_some(),
                "{}",
                scheduled.kind
            );
        }
    }
}

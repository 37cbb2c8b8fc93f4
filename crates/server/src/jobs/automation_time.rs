//! Automation rules' time triggers: `automation.tick` (every minute) fires each schedule's
//! latest occurrence and queues each relative trigger's latest daily scan, keyed by it, so
//! several instances fire it once; `automation.scan` fires the rule on each record due that
//! day, keyed by the record's period.

use chrono::{DateTime, Datelike, NaiveDate, Utc};
use rapport_domain::automation::trigger::{Due, Relative, Trigger, TriggerKind};
use rapport_domain::birthday::celebrated_on;
use rapport_domain::job::{Job, JobKind};
use rapport_store::repos::automation::{self as repo, Firing, due};
use rapport_store::repos::{contacts, jobs};
use rapport_store::{Conn, StoreError};
use serde_json::json;
use uuid::Uuid;

use super::handler::{Handler, JobContext, JobFailure};

/// Every minute: each enabled rule with a time trigger fires its schedule's latest occurrence,
/// or queues the scan of its latest local day, keyed by it (so once, however many instances
/// tick). An occurrence or day due before the rule was last saved is not caught up.
pub const TICK: &str = "automation.tick";

/// One daily scan of a relative time trigger: fires the rule on each record due that day.
pub const SCAN: &str = "automation.scan";

/// Records read per transaction of a scan.
const SCAN_PAGE: u64 = 500;

pub struct Tick;

#[async_trait::async_trait]
impl Handler for Tick {
    async fn run(&self, ctx: &JobContext) -> Result<(), JobFailure> {
        let now = ctx.clock.now();
        let rules = repo::time_rules(ctx.store.conn()).await?;
        let due: Vec<_> = rules
            .iter()
            .filter_map(|rule| Some((rule, rule.trigger.due(now)?)))
            .filter(|(rule, due)| match due {
                Due::Occurrence(at) | Due::Scan { at, .. } => *at >= rule.updated_at,
            })
            .collect();
        if due.is_empty() {
            return Ok(());
        }
        // One write for every rule: each enqueue is keyed, so a minute that finds them
        // queued already writes nothing new.
        let tx = ctx.store.begin().await?;
        for (rule, due) in due {
            match due {
                Due::Occurrence(at) => {
                    let firing = Firing {
                        rule_id: rule.id,
                        fire_key: format!("schedule:{}", at.to_rfc3339()),
                        trigger: TriggerKind::Schedule.as_str().to_owned(),
                        record_type: None,
                        record_id: None,
                        chain: Vec::new(),
                    };
                    repo::fire(&tx, &firing, now).await?;
                }
                Due::Scan { day, at } => {
                    let kind = JobKind::parse(SCAN).map_err(|e| JobFailure(e.to_string()))?;
                    let job = Job::new(
                        kind,
                        json!({"rule_id": rule.id, "day": day, "at": at}),
                        Some(format!("{SCAN}:{}:{day}", rule.id)),
                        at,
                        now,
                    );
                    jobs::enqueue(&tx, &job).await?;
                }
            }
        }
        rapport_store::commit(tx).await?;
        Ok(())
    }
}

pub struct Scan;

#[async_trait::async_trait]
impl Handler for Scan {
    async fn run(&self, ctx: &JobContext) -> Result<(), JobFailure> {
        let payload = &ctx.job.payload;
        let read = |key: &str| payload.get(key).cloned().unwrap_or_default();
        let rule_id: Uuid = serde_json::from_value(read("rule_id"))
            .map_err(|e| JobFailure(format!("the job names no rule: {e}")))?;
        let day: NaiveDate = serde_json::from_value(read("day"))
            .map_err(|e| JobFailure(format!("the job names no day: {e}")))?;
        let at: DateTime<Utc> = serde_json::from_value(read("at"))
            .map_err(|e| JobFailure(format!("the job names no time: {e}")))?;
        let rule = match repo::get(ctx.store.conn(), rule_id).await {
            Ok(rule) if rule.enabled => rule,
            Ok(_) | Err(StoreError::NotFound) => return Ok(()),
            Err(e) => return Err(e.into()),
        };
        let (Trigger::Daily { relative, .. }, Some(record_type)) =
            (&rule.trigger, rule.trigger.record_type())
        else {
            return Ok(());
        };
        let trigger = rule.trigger.kind().as_str();
        let mut pages = Pages::new(relative, day, at);
        while let Some(page) = pages.next(ctx.store.conn()).await? {
            let tx = ctx.store.begin().await?;
            for (id, fire_key) in page {
                let firing = Firing {
                    rule_id,
                    fire_key,
                    trigger: trigger.to_owned(),
                    record_type: Some(record_type),
                    record_id: Some(id),
                    chain: Vec::new(),
                };
                repo::fire(&tx, &firing, ctx.clock.now()).await?;
            }
            rapport_store::commit(tx).await?;
        }
        Ok(())
    }
}

/// Walks the records a relative trigger has due, a page at a time: one walk, or one per
/// (month, day) pair of a birthday, or one per grade of a call-back cadence.
struct Pages<'a> {
    relative: &'a Relative,
    day: NaiveDate,
    at: DateTime<Utc>,
    walk: usize,
    after: Option<Uuid>,
}

impl<'a> Pages<'a> {
    fn new(relative: &'a Relative, day: NaiveDate, at: DateTime<Utc>) -> Pages<'a> {
        Pages {
            relative,
            day,
            at,
            walk: 0,
            after: None,
        }
    }

    fn walks(&self) -> usize {
        match self.relative {
            Relative::Birthday => celebrated_on(self.day).len(),
            Relative::CallbackCadence { days_by_grade } => days_by_grade.len(),
            Relative::Inactivity { .. } | Relative::BeforeClose { .. } => 1,
        }
    }

    /// The next page, `None` once every walk is done.
    async fn next(&mut self, db: &impl Conn) -> Result<Option<Vec<due::DueRecord>>, StoreError> {
        if self.walk >= self.walks() {
            return Ok(None);
        }
        let (page, next) = self.read(db).await?;
        match next {
            Some(after) => self.after = Some(after),
            None => {
                self.walk += 1;
                self.after = None;
            }
        }
        Ok(Some(page))
    }

    /// A page of the current walk, and the id to go on after when there is more.
    async fn read(
        &self,
        db: &impl Conn,
    ) -> Result<(Vec<due::DueRecord>, Option<Uuid>), StoreError> {
        match self.relative {
            Relative::Inactivity { days } => {
                let window = Relative::window(*days, self.at);
                let page = due::quiet_customers(db, window, self.after, SCAN_PAGE).await?;
                let next = full(&page);
                Ok((page, next))
            }
            Relative::BeforeClose { days } => {
                let dates = Relative::close_dates(*days, self.day);
                let page = due::closing(db, &dates, self.after, SCAN_PAGE).await?;
                let next = full(&page);
                Ok((page, next))
            }
            Relative::Birthday => {
                let pairs = celebrated_on(self.day);
                let Some((month, day)) = pairs.get(self.walk).copied() else {
                    return Ok((Vec::new(), None));
                };
                let contacts = contacts::born_on(db, month, day, self.after, SCAN_PAGE).await?;
                let year = self.day.year();
                let page: Vec<due::DueRecord> = contacts
                    .iter()
                    .map(|c| (c.id, format!("birthday:{}:{year}", c.id)))
                    .collect();
                let next = full(&page);
                Ok((page, next))
            }
            Relative::CallbackCadence { days_by_grade } => {
                let Some((grade, days)) = days_by_grade.get(self.walk).copied() else {
                    return Ok((Vec::new(), None));
                };
                let window = Relative::window(days, self.at);
                due::due_callbacks(db, grade, window, self.after, SCAN_PAGE).await
            }
        }
    }
}

/// The id to go on after, when the page was full.
fn full(page: &[due::DueRecord]) -> Option<Uuid> {
    (page.len() as u64 == SCAN_PAGE)
        .then(|| page.last().map(|(id, _)| *id))
        .flatten()
}

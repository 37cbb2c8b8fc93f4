//! Background jobs: what a job is, how it moves between states, when a failed one runs again,
//! and when a schedule is next due. The store keeps jobs; the server's runner claims and runs
//! them (at least once: handlers are idempotent).

use chrono::{DateTime, Days, Duration, NaiveTime, TimeZone, Utc};
use chrono_tz::Tz;
use serde_json::Value;
use uuid::Uuid;

crate::string_enum! {
    /// Where a job is: `queued` (waiting for `run_at`, also between retries), `running`
    /// (leased to a worker), `succeeded`, or `dead` (out of attempts, until an admin retries it).
    pub enum JobStatus {
        Queued => "queued",
        Running => "running",
        Succeeded => "succeeded",
        Dead => "dead",
    }
}

/// Attempts a job gets before it is `dead`: with [`backoff`], about 2.3 hours of retries.
pub const DEFAULT_MAX_ATTEMPTS: i32 = 10;

/// The longest an error message kept on a job may be, in characters.
const MAX_ERROR_CHARS: usize = 2_000;

/// What a job does, named `area.action` (`maintenance.purge`): lower-case ASCII letters,
/// digits, `_` and `.`, starting with a letter, at most 64 characters.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct JobKind(String);

impl JobKind {
    /// # Errors
    /// [`BadKind`] for anything but the shape above.
    pub fn parse(s: &str) -> Result<JobKind, BadKind> {
        let well_formed = (1..=64).contains(&s.len())
            && s.starts_with(|c: char| c.is_ascii_lowercase())
            && s.chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || c == '.');
        if well_formed {
            Ok(JobKind(s.to_owned()))
        } else {
            Err(BadKind)
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for JobKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// Not a job kind's name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("job kinds are dotted lower-case names such as `maintenance.purge`")]
pub struct BadKind;

/// A unit of background work.
#[derive(Debug, Clone, PartialEq)]
pub struct Job {
    pub id: Uuid,
    pub kind: JobKind,
    /// What the handler needs: ids and settings, never personal data or secrets (admins list
    /// jobs, and a job outlives the records it names).
    pub payload: Value,
    /// Makes enqueueing idempotent: a second job with the same key is not added (a schedule's
    /// occurrence, a record's pending rebuild).
    pub key: Option<String>,
    pub status: JobStatus,
    /// Runs started so far, the current one included.
    pub attempts: i32,
    pub max_attempts: i32,
    /// Not run before this time.
    pub run_at: DateTime<Utc>,
    /// The worker holding the job while it runs.
    pub worker: Option<String>,
    /// When the worker's lease ends unless it renews it: past it, another worker takes the job.
    pub lease_expires_at: Option<DateTime<Utc>>,
    pub last_error: Option<String>,
    pub finished_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub version: i32,
}

/// A move the job's state does not allow: retrying a job that is not dead.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("a {status} job cannot be retried; only dead ones can")]
pub struct NotDead {
    pub status: JobStatus,
}

impl Job {
    /// A queued job of `kind`, due at `run_at`.
    pub fn new(
        kind: JobKind,
        payload: Value,
        key: Option<String>,
        run_at: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> Job {
        Job {
            id: Uuid::now_v7(),
            kind,
            payload,
            key,
            status: JobStatus::Queued,
            attempts: 0,
            max_attempts: DEFAULT_MAX_ATTEMPTS,
            run_at,
            worker: None,
            lease_expires_at: None,
            last_error: None,
            finished_at: None,
            created_at: now,
            updated_at: now,
            version: 1,
        }
    }

    /// Has every attempt been started? A job claimed again past its last attempt was lost by
    /// its workers each time (a handler that kills its process): it is not run again.
    pub fn exhausted(&self) -> bool {
        self.attempts > self.max_attempts
    }

    /// The run ended well.
    pub fn succeed(&mut self, now: DateTime<Utc>) {
        self.status = JobStatus::Succeeded;
        self.finished_at = Some(now);
        self.end_run(now);
    }

    /// The run failed with `error`: queued again after [`backoff`], or `dead` when that was the
    /// last attempt.
    pub fn fail(&mut self, error: &str, now: DateTime<Utc>) {
        self.last_error = Some(error.chars().take(MAX_ERROR_CHARS).collect());
        if self.attempts >= self.max_attempts {
            self.status = JobStatus::Dead;
            self.finished_at = Some(now);
        } else {
            self.status = JobStatus::Queued;
            self.run_at = now + backoff(self.attempts);
        }
        self.end_run(now);
    }

    /// The worker stops before the run ends (a graceful shutdown): the job is due again at once
    /// and the unfinished run is not counted.
    pub fn release(&mut self, now: DateTime<Utc>) {
        self.status = JobStatus::Queued;
        self.attempts = (self.attempts - 1).max(0);
        self.run_at = now;
        self.end_run(now);
    }

    /// An admin runs a dead job again, with all its attempts.
    ///
    /// # Errors
    /// [`NotDead`] for a job in any other state.
    pub fn retry(&mut self, now: DateTime<Utc>) -> Result<(), NotDead> {
        if self.status != JobStatus::Dead {
            return Err(NotDead {
                status: self.status,
            });
        }
        self.status = JobStatus::Queued;
        self.attempts = 0;
        self.run_at = now;
        self.finished_at = None;
        self.updated_at = now;
        Ok(())
    }

    fn end_run(&mut self, now: DateTime<Utc>) {
        self.worker = None;
        self.lease_expires_at = None;
        self.updated_at = now;
    }
}

/// How long after its `attempt`-th failed run a job runs again: 10 s, doubling each time, at
/// most an hour.
pub fn backoff(attempt: i32) -> Duration {
    let doublings = u32::try_from(attempt.saturating_sub(1))
        .unwrap_or(0)
        .min(12);
    (Duration::seconds(10) * 2_i32.pow(doublings)).min(Duration::hours(1))
}

/// When a recurring job is due.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Schedule {
    /// Every N minutes, at multiples of N since the Unix epoch (every 15 minutes: :00, :15, …).
    EveryMinutes(u32),
    /// Once a day at a wall-clock time in a time zone.
    Daily { at: NaiveTime, zone: Tz },
}

impl Schedule {
    /// The latest time at or before `now` when the schedule was due. Every instance computes
    /// the same occurrence, which is what makes a scheduled job run once across instances.
    pub fn latest(&self, now: DateTime<Utc>) -> DateTime<Utc> {
        match *self {
            Schedule::EveryMinutes(minutes) => {
                let step = i64::from(minutes.max(1)) * 60;
                let start = now.timestamp().div_euclid(step) * step;
                DateTime::from_timestamp(start, 0).unwrap_or(now)
            }
            Schedule::Daily { at, zone } => {
                let today = now.with_timezone(&zone).date_naive();
                [Some(today), today.checked_sub_days(Days::new(1))]
                    .into_iter()
                    .flatten()
                    .filter_map(|day| local_time(zone, day.and_time(at)))
                    .find(|t| *t <= now)
                    .unwrap_or(now)
            }
        }
    }
}

/// A wall-clock time in `zone` as UTC: the earlier of two when clocks go back, and the first
/// time after the gap when they go forward (02:30 on a spring-forward night runs at 03:00).
fn local_time(zone: Tz, local: chrono::NaiveDateTime) -> Option<DateTime<Utc>> {
    (0..=120)
        .step_by(15)
        .find_map(|minutes| {
            zone.from_local_datetime(&(local + Duration::minutes(minutes)))
                .earliest()
        })
        .map(|t| t.with_timezone(&Utc))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> DateTime<Utc> {
        s.parse().unwrap()
    }

    fn job() -> Job {
        let kind = JobKind::parse("maintenance.purge").unwrap();
        Job::new(
            kind,
            Value::Null,
            None,
            at("2026-12-01T00:00:00Z"),
            at("2026-12-01T00:00:00Z"),
        )
    }

    #[test]
    fn kinds_are_dotted_lower_case_names() {
        assert!(JobKind::parse("maintenance.purge").is_ok());
        assert!(JobKind::parse("sla.check_2").is_ok());
        for bad in ["", "Maintenance", "2fa.send", "a b", "a-b", &"a".repeat(65)] {
            assert_eq!(JobKind::parse(bad), Err(BadKind), "{bad:?}");
        }
    }

    #[test]
    fn backoff_doubles_from_ten_seconds_up_to_an_hour() {
        let secs: Vec<i64> = (1..=11).map(|a| backoff(a).num_seconds()).collect();
        assert_eq!(
            secs,
            [10, 20, 40, 80, 160, 320, 640, 1280, 2560, 3600, 3600]
        );
        assert_eq!(backoff(0), Duration::seconds(10));
        assert_eq!(backoff(i32::MAX), Duration::hours(1));
    }

    #[test]
    fn a_failed_run_is_queued_again_after_its_backoff_then_dead() {
        let mut j = job();
        let now = at("2026-12-01T10:00:00Z");
        j.status = JobStatus::Running;
        j.attempts = 3;
        j.worker = Some("w1".into());
        j.fail("timeout", now);
        assert_eq!(j.status, JobStatus::Queued);
        assert_eq!(j.run_at, now + Duration::seconds(40));
        assert_eq!(j.worker, None);
        assert_eq!(j.last_error.as_deref(), Some("timeout"));

        j.attempts = DEFAULT_MAX_ATTEMPTS;
        j.fail(&"x".repeat(5_000), now);
        assert_eq!(j.status, JobStatus::Dead);
        assert_eq!(j.finished_at, Some(now));
        assert_eq!(j.last_error.map(|e| e.len()), Some(MAX_ERROR_CHARS));
    }

    #[test]
    fn only_dead_jobs_are_retried_and_get_all_their_attempts_back() {
        let mut j = job();
        let now = at("2026-12-02T10:00:00Z");
        assert_eq!(
            j.retry(now),
            Err(NotDead {
                status: JobStatus::Queued
            })
        );
        j.status = JobStatus::Dead;
        j.attempts = DEFAULT_MAX_ATTEMPTS;
        j.finished_at = Some(now);
        j.retry(now).unwrap();
        assert_eq!(
            (j.status, j.attempts, j.run_at),
            (JobStatus::Queued, 0, now)
        );
        assert_eq!(j.finished_at, None);
    }

    #[test]
    fn a_released_run_does_not_count() {
        let mut j = job();
        let now = at("2026-12-02T10:00:00Z");
        j.status = JobStatus::Running;
        j.attempts = 1;
        j.release(now);
        assert_eq!(
            (j.status, j.attempts, j.run_at),
            (JobStatus::Queued, 0, now)
        );
        assert!(!j.exhausted());
        j.attempts = DEFAULT_MAX_ATTEMPTS + 1;
        assert!(j.exhausted());
    }

    #[test]
    fn every_n_minutes_falls_on_multiples_of_n() {
        let s = Schedule::EveryMinutes(15);
        assert_eq!(
            s.latest(at("2026-12-01T10:14:59Z")),
            at("2026-12-01T10:00:00Z")
        );
        assert_eq!(
            s.latest(at("2026-12-01T10:15:00Z")),
            at("2026-12-01T10:15:00Z")
        );
    }

    #[test]
    fn daily_runs_at_a_wall_clock_time_in_its_zone() {
        let s = Schedule::Daily {
            at: NaiveTime::from_hms_opt(3, 0, 0).unwrap(),
            zone: chrono_tz::Asia::Shanghai,
        };
        // 03:00 in Shanghai is 19:00 UTC the day before.
        assert_eq!(
            s.latest(at("2026-12-01T19:00:00Z")),
            at("2026-12-01T19:00:00Z")
        );
        assert_eq!(
            s.latest(at("2026-12-01T18:59:59Z")),
            at("2026-11-30T19:00:00Z")
        );
    }

    #[test]
    fn daily_handles_clocks_changing() {
        let zone = chrono_tz::Europe::Berlin;
        let daily = |h, m| Schedule::Daily {
            at: NaiveTime::from_hms_opt(h, m, 0).unwrap(),
            zone,
        };
        // 2026-03-29: 02:00 → 03:00 in Berlin; 02:30 does not exist and runs at 03:00 CEST.
        assert_eq!(
            daily(2, 30).latest(at("2026-03-29T12:00:00Z")),
            at("2026-03-29T01:00:00Z")
        );
        // 2026-10-25: 03:00 → 02:00; 02:30 happens twice and runs the first time (CEST).
        assert_eq!(
            daily(2, 30).latest(at("2026-10-25T12:00:00Z")),
            at("2026-10-25T00:30:00Z")
        );
    }
}

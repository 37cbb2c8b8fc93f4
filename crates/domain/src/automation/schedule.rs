//! When automation rules with time triggers are due: cron expressions in a time zone
//! ([`Cron`]), and the local days of daily scans for relative triggers ([`local_day`],
//! [`day_start`]).
//!
//! Pure: callers pass the time in. As with [`crate::job::Schedule::latest`], every instance
//! computes the same occurrence from the same `now`, so a job enqueued under a key naming
//! that occurrence runs once however many instances there are.
//!
//! # When clocks change
//!
//! An expression is read on the wall clock of its zone, and a matched wall-clock time that
//! the zone's clocks skip or repeat is resolved to one instant, by one rule for every
//! expression and for [`day_start`]:
//!
//! - A time that does not exist (clocks go forward) fires at the first instant after the
//!   gap. In Berlin on 2026-03-29, `30 2 * * *` fires at 03:00 CEST. Several skipped times
//!   fire once, together: `*/15 * * * *` fires at 01:45 CET, then 03:00 CEST, then 03:15.
//!   A daily job is not lost on that night, and an hourly one (`30 * * * *`) also fires at
//!   03:00, between 01:30 and 03:30.
//! - A time that happens twice (clocks go back) fires once, the first time. In Berlin on
//!   2026-10-25, `30 2 * * *` fires at 02:30 CEST and not at 02:30 CET; `*/15 * * * *` fires
//!   from 02:00 to 02:45 CEST, then at 03:00 CET, an hour later: no rule runs twice for one
//!   wall-clock time.
//!
//! Occurrences are then in the order of their wall-clock times, which is what lets the
//! searches skip by field (a month, a day, an hour at a time) instead of minute by minute.

mod pattern;
#[cfg(test)]
mod tests;

use chrono::{
    DateTime, Days, Months, NaiveDate, NaiveDateTime, NaiveTime, Offset, TimeDelta, TimeZone,
    Timelike, Utc,
};
use chrono_tz::Tz;

use crate::validation::{Errors, Invalid, ValidationErrors};
use pattern::Pattern;

/// Where a bad expression is reported.
const CRON_FIELD: &str = "schedule.cron";
/// Where a bad time zone is reported.
const ZONE_FIELD: &str = "schedule.time_zone";
/// Longer than any sensible expression (every minute listed is 170 characters); the bound
/// keeps junk out of storage.
const MAX_CHARS: usize = 500;
/// How far back [`Cron::latest`] looks: a yearly rule is always found.
const LOOK_BACK_DAYS: u64 = 366;
/// How far ahead [`Cron::next_after`] looks. Every expression [`Cron::parse`] accepts fires
/// within a few decades (the rarest, `0 0 29 2 */6`, waits for a leap day on a weekend).
const LOOK_AHEAD: Months = Months::new(100 * 12);
/// The longest gap a zone's clocks have skipped: Samoa skipped 2011-12-30 whole.
const MAX_GAP_MINUTES: i64 = 48 * 60;

/// A standard 5-field cron expression (`minute hour day-of-month month day-of-week`) read on
/// the wall clock of an IANA time zone.
///
/// Fields take `*`, values, lists (`1,15`), ranges (`1-5`) and steps (`*/15`, `1-30/2`,
/// `5/15` from 5 to the end); months and weekdays also take names (`jan`, `mon-fri`), and
/// Sunday is 0 or 7. When both day fields are restricted (neither starts with `*`), a day
/// that matches either fires, as in every cron; otherwise a day must match both. Nicknames
/// (`@daily`), seconds, years and Quartz's `L`, `W`, `#` and `?` are refused, so that what
/// is stored means the same to anyone who reads it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cron {
    /// Normalized: lower case, one space between fields.
    expr: String,
    zone: Tz,
    pattern: Pattern,
}

impl Cron {
    /// An expression and the name of its time zone (`Asia/Shanghai`).
    ///
    /// # Errors
    /// Every bad part: at `schedule.cron`, `required` when blank, `out_of_range` for a number
    /// outside its field (minute 60) or a step of 0, `too_long` past 500 characters, and
    /// `invalid_date` for anything else, an expression that can never fire (`0 0 31 2 *`)
    /// included; at `schedule.time_zone`, `required` when blank and `invalid_choice` for a
    /// name that is not an IANA zone.
    pub fn parse(expr: &str, zone: &str) -> Result<Cron, ValidationErrors> {
        let mut errors = Errors::default();
        let pattern = errors.check(CRON_FIELD, parse_expr(expr));
        let zone = errors.check(ZONE_FIELD, parse_zone(zone));
        let (pattern, zone) = errors.finish_with(pattern.zip(zone))?;
        let expr = expr.split_whitespace().collect::<Vec<_>>().join(" ");
        Ok(Cron {
            expr: expr.to_ascii_lowercase(),
            zone,
            pattern,
        })
    }

    /// The expression as stored and answered: lower case, one space between fields.
    pub fn as_str(&self) -> &str {
        &self.expr
    }

    pub fn zone(&self) -> Tz {
        self.zone
    }

    /// The latest occurrence at or before `now`, when there is one in the 366 days up to
    /// `now`. Every instance computes the same one, so a job enqueued under a key naming it
    /// runs once; an occurrence exactly at `now` is already due.
    pub fn latest(&self, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
        let oldest = now
            .checked_sub_days(Days::new(LOOK_BACK_DAYS))
            .unwrap_or(DateTime::<Utc>::MIN_UTC);
        let first_day = oldest.with_timezone(&self.zone).date_naive();
        let mut until = wall_clock_ceiling(self.zone, now);
        loop {
            let local = self.pattern.last_until(until, first_day)?;
            let at = resolve(self.zone, local);
            if at <= now {
                return (at >= oldest).then_some(at);
            }
            // A wall-clock time after `now`'s on the first pass of a repeated hour.
            until = local.checked_sub_signed(TimeDelta::minutes(1))?;
        }
    }

    /// The first occurrence after `t` (strictly), for showing when a rule runs next. `None`
    /// only past chrono's last date: every expression that parses fires within a century.
    pub fn next_after(&self, t: DateTime<Utc>) -> Option<DateTime<Utc>> {
        let mut from = t.with_timezone(&self.zone).naive_local();
        let last_day = from
            .date()
            .checked_add_months(LOOK_AHEAD)
            .unwrap_or(NaiveDate::MAX);
        loop {
            let local = self.pattern.first_from(from, last_day)?;
            let at = resolve(self.zone, local);
            if at > t {
                return Some(at);
            }
            // `t` itself, a time skipped into the same instant, or the first pass of a
            // repeated hour while `t` is on the second.
            from = local.checked_add_signed(TimeDelta::minutes(1))?;
        }
    }
}

/// The local date in `zone` at `now`: the day a daily scan covers.
pub fn local_day(now: DateTime<Utc>, zone: Tz) -> NaiveDate {
    now.with_timezone(&zone).date_naive()
}

/// The instant a daily scan for the local day `date` is due: `at` on that day in `zone`.
/// When clocks change that night it follows the rule of the module's documentation: a
/// skipped time is the first instant after the gap, a repeated one the first of the two.
pub fn day_start(date: NaiveDate, at: NaiveTime, zone: Tz) -> DateTime<Utc> {
    resolve(zone, date.and_time(at))
}

fn parse_expr(expr: &str) -> Result<Pattern, Invalid> {
    if expr.trim().is_empty() {
        Err(Invalid::Required)
    } else if expr.chars().count() > MAX_CHARS {
        Err(Invalid::TooLong { max: MAX_CHARS })
    } else {
        Pattern::parse(expr)
    }
}

/// An IANA name, as the SLA calendars read theirs (`invalid_choice` without a list: there
/// are hundreds).
fn parse_zone(zone: &str) -> Result<Tz, Invalid> {
    if zone.trim().is_empty() {
        return Err(Invalid::Required);
    }
    zone.parse::<Tz>()
        .map_err(|_| Invalid::NotOneOf { allowed: &[] })
}

/// A wall-clock time in `zone` as one instant: the first of two when clocks go back, the
/// first instant after the gap when they go forward.
fn resolve(zone: Tz, local: NaiveDateTime) -> DateTime<Utc> {
    zone.from_local_datetime(&local)
        .earliest()
        .map(|t| t.with_timezone(&Utc))
        .or_else(|| after_gap(zone, local))
        .unwrap_or_else(|| as_if_no_gap(zone, local))
}

/// The first instant after the gap that `local` falls in: the first whole minute that
/// exists, since zones move their clocks on whole minutes.
fn after_gap(zone: Tz, local: NaiveDateTime) -> Option<DateTime<Utc>> {
    let minute = local.date().and_hms_opt(local.hour(), local.minute(), 0)?;
    (1..=MAX_GAP_MINUTES).find_map(|m| {
        let later = minute.checked_add_signed(TimeDelta::minutes(m))?;
        zone.from_local_datetime(&later)
            .earliest()
            .map(|t| t.with_timezone(&Utc))
    })
}

/// Never reached (no zone skips two days): `local` read with the offset of the instant of
/// the same digits, which at least answers an instant near it.
fn as_if_no_gap(zone: Tz, local: NaiveDateTime) -> DateTime<Utc> {
    let offset = zone
        .offset_from_utc_datetime(&local)
        .fix()
        .local_minus_utc();
    local
        .checked_sub_signed(TimeDelta::seconds(offset.into()))
        .unwrap_or(local)
        .and_utc()
}

/// The latest wall-clock time whose occurrence can be at or before `now`: `now`'s own, or,
/// when `now` is on the second pass of a repeated hour, the end of that hour's first pass
/// (its times all resolved to instants before `now`).
fn wall_clock_ceiling(zone: Tz, now: DateTime<Utc>) -> NaiveDateTime {
    let local = now.with_timezone(&zone).naive_local();
    match zone.from_local_datetime(&local) {
        chrono::LocalResult::Ambiguous(first, second) if second == now => {
            local.checked_add_signed(second - first).unwrap_or(local)
        }
        _ => local,
    }
}

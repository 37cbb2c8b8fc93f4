//! Service-level targets: which policy a ticket gets (the most specific match), and when its
//! first response and resolution are due, in calendar time or in business hours (a weekly
//! schedule in a time zone, minus holidays).

use chrono::{DateTime, Datelike, Duration, NaiveDate, NaiveTime, TimeZone, Utc, Weekday};
use chrono_tz::Tz;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::enums::Grade;
use crate::name::Name;
use crate::ticket::{TicketCategory, TicketPriority};
use crate::validation::{Errors, Invalid, index};

/// A policy's name.
pub type PolicyName = Name<100>;

/// The longest target: a year, in minutes.
pub const MAX_TARGET_MINUTES: i64 = 366 * 24 * 60;

crate::string_enum! {
    /// How a policy counts its targets.
    pub enum SlaClock {
        /// Every hour of every day.
        Calendar => "calendar",
        /// Only the hours of its business calendar.
        Business => "business",
    }
}

/// One working interval of a weekday, in the calendar's time zone.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct WorkingHours {
    pub day: Weekday,
    pub start: NaiveTime,
    pub end: NaiveTime,
}

/// When the team works: weekly hours in a time zone, minus holidays.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BusinessCalendar {
    pub zone: Tz,
    pub weekly: Vec<WorkingHours>,
    pub holidays: Vec<NaiveDate>,
}

/// How far ahead a due time is searched: with at least one working interval a week, a target
/// of a year ends within about four hundred days plus the holidays.
const SEARCH_DAYS: u32 = 3 * 366;

impl BusinessCalendar {
    /// A calendar from the client's raw values, every bad part recorded at its path under
    /// `field` (`business_hours.weekly[2].end`).
    pub fn parse(
        zone: &str,
        weekly: &[(String, String, String)],
        holidays: &[String],
        field: &str,
        errors: &mut Errors,
    ) -> Option<BusinessCalendar> {
        let zone = errors.check(
            format!("{field}.time_zone"),
            zone.parse::<Tz>()
                .map_err(|_| Invalid::NotOneOf { allowed: &[] }),
        );
        if weekly.is_empty() {
            errors.add(format!("{field}.weekly"), Invalid::Required);
        }
        let mut hours = Vec::new();
        for (i, (day, start, end)) in weekly.iter().enumerate() {
            let at = index(&format!("{field}.weekly"), i);
            let day = errors.check(format!("{at}.day"), parse_day(day));
            let start = errors.check(format!("{at}.start"), parse_time(start));
            let end = errors.check(format!("{at}.end"), parse_time(end));
            if let (Some(day), Some(start), Some(end)) = (day, start, end) {
                if end <= start {
                    errors.add(format!("{at}.end"), Invalid::OutOfRange { min: 0, max: 0 });
                } else {
                    hours.push(WorkingHours { day, start, end });
                }
            }
        }
        let mut days = Vec::new();
        for (i, day) in holidays.iter().enumerate() {
            let parsed = crate::validation::parse_date(day);
            if let Some(d) = errors.check(index(&format!("{field}.holidays"), i), parsed) {
                days.push(d);
            }
        }
        days.sort_unstable();
        days.dedup();
        Some(BusinessCalendar {
            zone: zone?,
            weekly: hours,
            holidays: days,
        })
    }

    /// The working intervals of a local date, as UTC times.
    fn intervals(&self, date: NaiveDate) -> Vec<(DateTime<Utc>, DateTime<Utc>)> {
        if self.holidays.binary_search(&date).is_ok() {
            return Vec::new();
        }
        let mut found: Vec<_> = self
            .weekly
            .iter()
            .filter(|h| h.day == date.weekday())
            .filter_map(|h| {
                let start = self
                    .zone
                    .from_local_datetime(&date.and_time(h.start))
                    .earliest()?;
                let end = self
                    .zone
                    .from_local_datetime(&date.and_time(h.end))
                    .latest()?;
                Some((start.with_timezone(&Utc), end.with_timezone(&Utc)))
            })
            .collect();
        found.sort_unstable();
        found
    }

    /// `minutes` of working time after `from`; `None` when the calendar has no working time
    /// within [`SEARCH_DAYS`].
    pub fn add(&self, from: DateTime<Utc>, minutes: i64) -> Option<DateTime<Utc>> {
        let mut left = Duration::minutes(minutes);
        let first = from.with_timezone(&self.zone).date_naive();
        for offset in 0..SEARCH_DAYS {
            let date = first.checked_add_days(chrono::Days::new(u64::from(offset)))?;
            for (start, end) in self.intervals(date) {
                let start = start.max(from);
                if end <= start {
                    continue;
                }
                if end - start >= left {
                    return Some(start + left);
                }
                left -= end - start;
            }
        }
        None
    }

    /// The working time between `from` and `to`, in whole minutes.
    pub fn minutes_between(&self, from: DateTime<Utc>, to: DateTime<Utc>) -> i64 {
        let mut total = Duration::zero();
        let first = from.with_timezone(&self.zone).date_naive();
        let last = to.with_timezone(&self.zone).date_naive();
        let mut date = first;
        while date <= last {
            for (start, end) in self.intervals(date) {
                let (start, end) = (start.max(from), end.min(to));
                if end > start {
                    total += end - start;
                }
            }
            let Some(next) = date.succ_opt() else { break };
            date = next;
        }
        total.num_minutes()
    }
}

fn parse_day(day: &str) -> Result<Weekday, Invalid> {
    const DAYS: &[&str] = &["mon", "tue", "wed", "thu", "fri", "sat", "sun"];
    match DAYS.iter().position(|d| *d == day) {
        Some(i) => Ok(Weekday::try_from(u8::try_from(i).unwrap_or(0)).unwrap_or(Weekday::Mon)),
        None => Err(Invalid::NotOneOf { allowed: DAYS }),
    }
}

/// The three-letter name a day is written with (`mon`).
pub fn day_name(day: Weekday) -> &'static str {
    ["mon", "tue", "wed", "thu", "fri", "sat", "sun"][day.num_days_from_monday() as usize]
}

fn parse_time(time: &str) -> Result<NaiveTime, Invalid> {
    NaiveTime::parse_from_str(time, "%H:%M").map_err(|_| Invalid::InvalidDate)
}

/// Targets for the tickets a policy matches.
#[derive(Debug, Clone, PartialEq)]
pub struct SlaPolicy {
    pub id: Uuid,
    pub name: PolicyName,
    /// `None` matches every category (and so for priority and grade).
    pub category: Option<TicketCategory>,
    pub priority: Option<TicketPriority>,
    pub grade: Option<Grade>,
    pub first_response_minutes: i64,
    pub resolution_minutes: i64,
    pub clock: SlaClock,
    /// With [`SlaClock::Business`].
    pub calendar: Option<BusinessCalendar>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub version: i32,
}

/// What a ticket is matched on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SlaSubject {
    pub category: TicketCategory,
    pub priority: TicketPriority,
    /// The customer's grade.
    pub grade: Option<Grade>,
}

impl SlaPolicy {
    pub fn matches(&self, s: SlaSubject) -> bool {
        self.category.is_none_or(|c| c == s.category)
            && self.priority.is_none_or(|p| p == s.priority)
            && self.grade.is_none_or(|g| Some(g) == s.grade)
    }

    /// How many of category, priority and grade it names.
    pub fn specificity(&self) -> usize {
        usize::from(self.category.is_some())
            + usize::from(self.priority.is_some())
            + usize::from(self.grade.is_some())
    }

    /// `minutes` of this policy's clock after `from`.
    pub fn add(&self, from: DateTime<Utc>, minutes: i64) -> DateTime<Utc> {
        match (&self.clock, &self.calendar) {
            (SlaClock::Business, Some(calendar)) => calendar
                .add(from, minutes)
                .unwrap_or(from + Duration::minutes(minutes)),
            _ => from + Duration::minutes(minutes),
        }
    }

    /// The time of this policy's clock between `from` and `to`, in minutes.
    pub fn minutes_between(&self, from: DateTime<Utc>, to: DateTime<Utc>) -> i64 {
        match (&self.clock, &self.calendar) {
            (SlaClock::Business, Some(calendar)) => calendar.minutes_between(from, to),
            _ => (to - from).num_minutes(),
        }
    }
}

/// The policy for `subject`: the most specific match; among equally specific ones, the
/// tightest resolution target, then the oldest.
pub fn choose(policies: &[SlaPolicy], subject: SlaSubject) -> Option<&SlaPolicy> {
    policies
        .iter()
        .filter(|p| p.matches(subject))
        .min_by_key(|p| {
            (
                std::cmp::Reverse(p.specificity()),
                p.resolution_minutes,
                p.created_at,
                p.id,
            )
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> DateTime<Utc> {
        s.parse().unwrap()
    }

    fn shanghai_office() -> BusinessCalendar {
        let mut errors = Errors::default();
        let weekdays = ["mon", "tue", "wed", "thu", "fri"]
            .map(|d| (d.to_owned(), "09:00".to_owned(), "18:00".to_owned()));
        let calendar = BusinessCalendar::parse(
            "Asia/Shanghai",
            &weekdays,
            &["2026-10-01".to_owned()],
            "business_hours",
            &mut errors,
        );
        errors.finish().unwrap();
        calendar.unwrap()
    }

    fn policy(
        category: Option<TicketCategory>,
        grade: Option<Grade>,
        resolution_minutes: i64,
    ) -> SlaPolicy {
        let now = at("2026-01-01T00:00:00Z");
        SlaPolicy {
            id: Uuid::now_v7(),
            name: PolicyName::parse("p").unwrap(),
            category,
            priority: None,
            grade,
            first_response_minutes: 60,
            resolution_minutes,
            clock: SlaClock::Calendar,
            calendar: None,
            created_at: now,
            updated_at: now,
            version: 1,
        }
    }

    #[test]
    fn business_time_skips_nights_weekends_and_holidays() {
        let office = shanghai_office();
        // Friday 2026-09-25 17:00 Shanghai (09:00 UTC): one hour left that day, then the
        // weekend; 4 hours end Monday 12:00 (04:00 UTC).
        assert_eq!(
            office.add(at("2026-09-25T09:00:00Z"), 240),
            Some(at("2026-09-28T04:00:00Z"))
        );
        // Wednesday 2026-09-30 17:00: one hour, Thursday is the national day, so Friday 11:00.
        assert_eq!(
            office.add(at("2026-09-30T09:00:00Z"), 180),
            Some(at("2026-10-02T03:00:00Z"))
        );
        // Saturday counts from Monday's opening.
        assert_eq!(
            office.add(at("2026-09-26T02:00:00Z"), 60),
            Some(at("2026-09-28T02:00:00Z"))
        );
        assert_eq!(
            office.minutes_between(at("2026-09-25T09:00:00Z"), at("2026-09-28T04:00:00Z")),
            240
        );
    }

    #[test]
    fn calendars_are_checked_part_by_part() {
        let mut errors = Errors::default();
        let weekly = [
            ("mon".to_owned(), "09:00".to_owned(), "18:00".to_owned()),
            ("someday".to_owned(), "9".to_owned(), "08:00".to_owned()),
            ("tue".to_owned(), "18:00".to_owned(), "09:00".to_owned()),
        ];
        let calendar = BusinessCalendar::parse(
            "Mars/Olympus",
            &weekly,
            &["10/01".to_owned()],
            "bh",
            &mut errors,
        );
        assert!(calendar.is_none());
        let fields: Vec<String> = errors
            .finish()
            .unwrap_err()
            .errors()
            .iter()
            .map(|e| e.field.clone())
            .collect();
        assert_eq!(
            fields,
            [
                "bh.time_zone",
                "bh.weekly[1].day",
                "bh.weekly[1].start",
                "bh.weekly[2].end",
                "bh.holidays[0]"
            ]
        );
    }

    #[test]
    fn the_most_specific_policy_wins_then_the_tightest() {
        let general = policy(None, None, 5 * 24 * 60);
        let complaints = policy(Some(TicketCategory::Complaint), None, 48 * 60);
        let vip_complaints = policy(Some(TicketCategory::Complaint), Some(Grade::Vip), 24 * 60);
        let vip = policy(None, Some(Grade::Vip), 36 * 60);
        let all = [
            general.clone(),
            complaints.clone(),
            vip_complaints.clone(),
            vip.clone(),
        ];
        let subject = |category, grade| SlaSubject {
            category,
            priority: TicketPriority::Normal,
            grade,
        };
        let pick = |s| choose(&all, s).map(|p| p.id);
        assert_eq!(
            pick(subject(TicketCategory::Complaint, Some(Grade::Vip))),
            Some(vip_complaints.id)
        );
        assert_eq!(
            pick(subject(TicketCategory::Complaint, None)),
            Some(complaints.id)
        );
        assert_eq!(
            pick(subject(TicketCategory::Inquiry, Some(Grade::Vip))),
            Some(vip.id)
        );
        assert_eq!(
            pick(subject(TicketCategory::Inquiry, None)),
            Some(general.id)
        );
        // Equally specific: the tighter resolution target.
        let both = [complaints.clone(), vip.clone()];
        let s = subject(TicketCategory::Complaint, Some(Grade::Vip));
        assert_eq!(choose(&both, s).map(|p| p.id), Some(vip.id));
    }
}

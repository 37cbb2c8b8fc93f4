//! The five fields of a cron expression as sets of values, and the search for the next or
//! previous wall-clock minute they match. Time zones are the parent module's business: this
//! part knows only local dates and times.

use chrono::{Datelike, Months, NaiveDate, NaiveDateTime, NaiveTime, Timelike};

use crate::validation::Invalid;

/// A parsed expression: one bit per value each field allows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Pattern {
    /// Bits 0 to 59.
    minutes: u64,
    /// Bits 0 to 23.
    hours: u64,
    /// Bits 1 to 31.
    days: u64,
    /// Bits 1 to 12.
    months: u64,
    /// Bits 0 (Sunday) to 6 (Saturday); a 7 is folded into 0.
    weekdays: u64,
    /// Both day fields are restricted (neither starts with `*`): cron's usual rule is that a
    /// day matching either of them fires. Otherwise a day must match both, and the
    /// unrestricted one allows every day anyway.
    either_day: bool,
}

/// What one field accepts.
struct Field {
    min: u32,
    max: u32,
    /// Names for the values from `first_named` on (`jan` is 1, `sun` is 0).
    names: &'static [&'static str],
    first_named: u32,
    /// Sunday written as 0 ends a range as 7 (`fri-sun`): the weekday field only.
    sunday_ends_ranges: bool,
}

const MINUTE: Field = Field::numbers(0, 59);
const HOUR: Field = Field::numbers(0, 23);
const DAY: Field = Field::numbers(1, 31);
const MONTH: Field = Field {
    min: 1,
    max: 12,
    names: &[
        "jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec",
    ],
    first_named: 1,
    sunday_ends_ranges: false,
};
/// 0 and 7 are both Sunday, so that `mon-sun` and `0-6` both read naturally.
const WEEKDAY: Field = Field {
    min: 0,
    max: 7,
    names: &["sun", "mon", "tue", "wed", "thu", "fri", "sat"],
    first_named: 0,
    sunday_ends_ranges: true,
};

/// The longest month of each month number, February in a leap year.
const MONTH_DAYS: [u32; 12] = [31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];

impl Pattern {
    /// Reads `minute hour day-of-month month day-of-week`, separated by blanks.
    ///
    /// # Errors
    /// `OutOfRange` for a number outside its field (or a step of 0); `InvalidDate` for
    /// anything else that is not a standard expression, and for one that can never fire
    /// (`0 0 31 2 *`).
    pub(super) fn parse(expr: &str) -> Result<Pattern, Invalid> {
        let parts: Vec<&str> = expr.split_whitespace().collect();
        let [minute, hour, day, month, weekday] = parts[..] else {
            return Err(Invalid::InvalidDate);
        };
        let pattern = Pattern {
            minutes: MINUTE.parse(minute)?,
            hours: HOUR.parse(hour)?,
            days: DAY.parse(day)?,
            months: MONTH.parse(month)?,
            weekdays: fold_sunday(WEEKDAY.parse(weekday)?),
            either_day: !day.starts_with('*') && !weekday.starts_with('*'),
        };
        if pattern.can_fire() {
            Ok(pattern)
        } else {
            Err(Invalid::InvalidDate)
        }
    }

    /// Every field allows at least one value once parsed, so only a day of the month that no
    /// allowed month has (the 31st of February) can keep a pattern from ever firing. Any date
    /// falls on every weekday over the years, so the weekdays never do.
    fn can_fire(&self) -> bool {
        self.either_day
            || (1..=12).any(|month| {
                has(self.months, month)
                    && self.days & ones_through(MONTH_DAYS[month as usize - 1]) != 0
            })
    }

    /// Does `date` pass the month and both day fields?
    fn date_matches(&self, date: NaiveDate) -> bool {
        let day = has(self.days, date.day());
        let weekday = has(self.weekdays, date.weekday().num_days_from_sunday());
        let days = if self.either_day {
            day || weekday
        } else {
            day && weekday
        };
        days && has(self.months, date.month())
    }

    /// Does the pattern fire at the wall-clock minute of `local`?
    #[cfg(test)]
    pub(super) fn matches(&self, local: NaiveDateTime) -> bool {
        self.date_matches(local.date())
            && has(self.hours, local.hour())
            && has(self.minutes, local.minute())
    }

    /// The first matched minute at or after `from` (its seconds ignored) on a day no later
    /// than `last`. Months that do not match are skipped whole, days one by one (at most a
    /// few hundred a year), and the time of day is found from the bits.
    pub(super) fn first_from(&self, from: NaiveDateTime, last: NaiveDate) -> Option<NaiveDateTime> {
        let mut day = from.date();
        let mut earliest = (from.hour(), from.minute());
        while day <= last {
            if !has(self.months, day.month()) {
                day = self.next_month_start(day)?;
            } else if let Some(time) = self.first_time(day, earliest) {
                return Some(day.and_time(time));
            } else {
                day = day.succ_opt()?;
            }
            earliest = (0, 0);
        }
        None
    }

    /// The last matched minute at or before `until` (its seconds ignored) on a day no earlier
    /// than `first`: [`Pattern::first_from`] backwards.
    pub(super) fn last_until(
        &self,
        until: NaiveDateTime,
        first: NaiveDate,
    ) -> Option<NaiveDateTime> {
        let mut day = until.date();
        let mut latest = (until.hour(), until.minute());
        while day >= first {
            if !has(self.months, day.month()) {
                day = self.previous_month_end(day)?;
            } else if let Some(time) = self.last_time(day, latest) {
                return Some(day.and_time(time));
            } else {
                day = day.pred_opt()?;
            }
            latest = (23, 59);
        }
        None
    }

    /// The first matched time of day on `day` at or after `(hour, minute)`.
    fn first_time(&self, day: NaiveDate, (hour, minute): (u32, u32)) -> Option<NaiveTime> {
        if !self.date_matches(day) {
            return None;
        }
        if has(self.hours, hour)
            && let Some(minute) = next_bit(self.minutes, minute)
        {
            return NaiveTime::from_hms_opt(hour, minute, 0);
        }
        let hour = next_bit(self.hours, hour + 1)?;
        NaiveTime::from_hms_opt(hour, next_bit(self.minutes, 0)?, 0)
    }

    /// The last matched time of day on `day` at or before `(hour, minute)`.
    fn last_time(&self, day: NaiveDate, (hour, minute): (u32, u32)) -> Option<NaiveTime> {
        if !self.date_matches(day) {
            return None;
        }
        if has(self.hours, hour)
            && let Some(minute) = previous_bit(self.minutes, minute)
        {
            return NaiveTime::from_hms_opt(hour, minute, 0);
        }
        let hour = previous_bit(self.hours, hour.checked_sub(1)?)?;
        NaiveTime::from_hms_opt(hour, previous_bit(self.minutes, 59)?, 0)
    }

    /// The 1st of the next allowed month after `day`'s.
    fn next_month_start(&self, day: NaiveDate) -> Option<NaiveDate> {
        match next_bit(self.months, day.month() + 1) {
            Some(month) => NaiveDate::from_ymd_opt(day.year(), month, 1),
            None => NaiveDate::from_ymd_opt(day.year() + 1, next_bit(self.months, 1)?, 1),
        }
    }

    /// The last day of the last allowed month before `day`'s.
    fn previous_month_end(&self, day: NaiveDate) -> Option<NaiveDate> {
        let (year, month) = match previous_bit(self.months, day.month() - 1) {
            Some(month) => (day.year(), month),
            None => (day.year() - 1, previous_bit(self.months, 12)?),
        };
        NaiveDate::from_ymd_opt(year, month, 1)?
            .checked_add_months(Months::new(1))?
            .pred_opt()
    }
}

impl Field {
    const fn numbers(min: u32, max: u32) -> Field {
        Field {
            min,
            max,
            names: &[],
            first_named: 0,
            sunday_ends_ranges: false,
        }
    }

    /// A comma-separated list of `*`, values and ranges, each with an optional `/step`.
    fn parse(&self, text: &str) -> Result<u64, Invalid> {
        text.split(',')
            .try_fold(0, |bits, part| Ok(bits | self.parse_part(part)?))
    }

    /// `*`, `5`, `1-5`, `*/15`, `1-30/2`, or `5/15` (from 5 to the field's end, every 15).
    fn parse_part(&self, part: &str) -> Result<u64, Invalid> {
        let (range, step) = match part.split_once('/') {
            Some((range, step)) => (range, Some(number(step, 1, self.max)?)),
            None => (part, None),
        };
        let (low, high) = if range == "*" {
            (self.min, self.max)
        } else if let Some((low, high)) = range.split_once('-') {
            let low = self.value(low)?;
            (low, self.range_end(low, self.value(high)?))
        } else {
            let value = self.value(range)?;
            (value, if step.is_some() { self.max } else { value })
        };
        if low > high {
            return Err(Invalid::InvalidDate);
        }
        let step = step.unwrap_or(1) as usize;
        Ok((low..=high).step_by(step).fold(0, |bits, v| bits | 1 << v))
    }

    /// Sunday written as 0 (or `sun`) ends a weekday range as 7: `fri-sun`.
    fn range_end(&self, low: u32, high: u32) -> u32 {
        if self.sunday_ends_ranges && high == 0 && low > 0 {
            7
        } else {
            high
        }
    }

    /// A number in the field's range, or one of its names in any case.
    fn value(&self, text: &str) -> Result<u32, Invalid> {
        if is_number(text) {
            return number(text, self.min, self.max);
        }
        self.names
            .iter()
            .position(|name| name.eq_ignore_ascii_case(text))
            .and_then(|i| u32::try_from(i).ok())
            .map(|i| i + self.first_named)
            .ok_or(Invalid::InvalidDate)
    }
}

fn is_number(text: &str) -> bool {
    !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit())
}

/// A decimal number from `min` to `max`.
fn number(text: &str, min: u32, max: u32) -> Result<u32, Invalid> {
    if !is_number(text) {
        return Err(Invalid::InvalidDate);
    }
    text.parse::<u32>()
        .ok()
        .filter(|v| (min..=max).contains(v))
        .ok_or(Invalid::OutOfRange {
            min: min.into(),
            max: max.into(),
        })
}

fn fold_sunday(weekdays: u64) -> u64 {
    (weekdays | (weekdays >> 7)) & 0x7f
}

fn has(bits: u64, value: u32) -> bool {
    value < 64 && bits & (1 << value) != 0
}

/// Bits 0 to `last`.
fn ones_through(last: u32) -> u64 {
    if last >= 63 {
        u64::MAX
    } else {
        (1 << (last + 1)) - 1
    }
}

/// The lowest set bit at or above `from`.
fn next_bit(bits: u64, from: u32) -> Option<u32> {
    let rest = if from >= 64 {
        0
    } else {
        bits & (u64::MAX << from)
    };
    (rest != 0).then(|| rest.trailing_zeros())
}

/// The highest set bit at or below `upto`.
fn previous_bit(bits: u64, upto: u32) -> Option<u32> {
    let rest = bits & ones_through(upto);
    (rest != 0).then(|| 63 - rest.leading_zeros())
}

//! A contact's birthday: a month and a day, and the year when it is known.

use chrono::{Datelike, NaiveDate};

use crate::validation::{Errors, Invalid, ValidationErrors, path};

/// The earliest year of birth taken.
pub const FIRST_YEAR: i16 = 1900;

/// A birthday as a client sent it: plain numbers that [`Birthday::parse`] checks.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RawBirthday {
    pub month: Option<i64>,
    pub day: Option<i64>,
    pub year: Option<i64>,
}

/// The day of the year someone was born on, and the year when known.
///
/// The day exists in its month (29 February too, without a year); with a year, the date
/// exists and is not in the future.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Birthday {
    month: u8,
    day: u8,
    year: Option<i16>,
}

impl Birthday {
    /// Reads a birthday sent at `birthday`.
    ///
    /// ```
    /// use chrono::NaiveDate;
    /// use rapport_domain::birthday::{Birthday, RawBirthday};
    /// let today = NaiveDate::from_ymd_opt(2026, 12, 13).unwrap();
    /// let raw = RawBirthday { month: Some(4), day: Some(31), year: None };
    /// let refused = Birthday::parse(&raw, today).unwrap_err();
    /// assert_eq!(refused.errors()[0].field, "birthday.day");
    /// ```
    ///
    /// # Errors
    /// Every refused part at its path (`birthday.month`, `birthday.day`, `birthday.year`): see
    /// [`Birthday::read`].
    pub fn parse(raw: &RawBirthday, today: NaiveDate) -> Result<Birthday, ValidationErrors> {
        let mut errors = Errors::default();
        let birthday = Birthday::read(raw, "birthday", today, &mut errors);
        errors.finish_with(birthday)
    }

    /// Reads a birthday sent at `at` (`contacts[0].birthday`), recording each refused part
    /// at its path: a missing month or day is `required`; a month outside 1–12, or a day
    /// outside its month (1–29 in February), is `out_of_range` there; a year before 1900 or
    /// after `today`'s is `out_of_range` at `year`; a date that only its year makes wrong (29
    /// February of a common year, a day later this year than `today`) is `invalid_date` at
    /// `year`.
    pub fn read(
        raw: &RawBirthday,
        at: &str,
        today: NaiveDate,
        errors: &mut Errors,
    ) -> Option<Birthday> {
        match check(raw, Some(today)) {
            Ok(birthday) => Some(birthday),
            Err(refused) => {
                for (part, invalid) in refused {
                    errors.add(path(at, part), invalid);
                }
                None
            }
        }
    }

    /// A stored birthday, read back: checked as [`Birthday::parse`] does, but for the
    /// future, which a date already accepted can no longer reach.
    ///
    /// # Errors
    /// The refused parts, as [`Birthday::parse`] names them.
    pub fn restore(month: i64, day: i64, year: Option<i64>) -> Result<Birthday, ValidationErrors> {
        let raw = RawBirthday {
            month: Some(month),
            day: Some(day),
            year,
        };
        check(&raw, None).map_err(|refused| {
            let mut errors = Errors::default();
            for (part, invalid) in refused {
                errors.add(path("birthday", part), invalid);
            }
            match errors.finish() {
                Err(all) => all,
                Ok(()) => ValidationErrors::single("birthday", Invalid::InvalidDate),
            }
        })
    }

    /// 1 (January) to 12.
    pub fn month(&self) -> u8 {
        self.month
    }

    /// 1 to 31, a day of [`Birthday::month`].
    pub fn day(&self) -> u8 {
        self.day
    }

    /// The year of birth, when known.
    pub fn year(&self) -> Option<i16> {
        self.year
    }

    /// Whether the birthday is celebrated on `date`: its month and day, whatever the year;
    /// a birthday on 29 February is celebrated on 28 February in common years.
    pub fn falls_on(&self, date: NaiveDate) -> bool {
        celebrated_on(date)
            .iter()
            .any(|&(month, day)| (month, day) == (self.month, self.day))
    }
}

/// The (month, day) pairs of the birthdays celebrated on `date`: its own, and on 28 February
/// of a common year 29 February's too. What a daily scan of birthdays looks up.
pub fn celebrated_on(date: NaiveDate) -> Vec<(u8, u8)> {
    // A month and a day of a `NaiveDate` always fit.
    let own = (
        u8::try_from(date.month()).unwrap_or(0),
        u8::try_from(date.day()).unwrap_or(0),
    );
    if own == (2, 28) && !date.leap_year() {
        vec![own, (2, 29)]
    } else {
        vec![own]
    }
}

/// The days of `month` in a leap year (a birthday without a year may be 29 February).
fn days_in(month: u8) -> u8 {
    match month {
        2 => 29,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Checks a birthday; `today` bounds its year and date (none when reading back a stored one).
fn check(
    raw: &RawBirthday,
    today: Option<NaiveDate>,
) -> Result<Birthday, Vec<(&'static str, Invalid)>> {
    let mut refused = Vec::new();
    let month = match raw.month {
        None => {
            refused.push(("month", Invalid::Required));
            None
        }
        Some(m) => match u8::try_from(m).ok().filter(|m| (1..=12).contains(m)) {
            Some(m) => Some(m),
            None => {
                refused.push(("month", Invalid::OutOfRange { min: 1, max: 12 }));
                None
            }
        },
    };
    // Without a valid month, the day is checked against the longest one.
    let last = month.map_or(31, days_in);
    let day = match raw.day {
        None => {
            refused.push(("day", Invalid::Required));
            None
        }
        Some(d) => match u8::try_from(d).ok().filter(|d| (1..=last).contains(d)) {
            Some(d) => Some(d),
            None => {
                refused.push((
                    "day",
                    Invalid::OutOfRange {
                        min: 1,
                        max: i64::from(last),
                    },
                ));
                None
            }
        },
    };
    let latest = today.map_or(i64::from(i16::MAX), |t| i64::from(t.year()));
    let year = match raw.year {
        None => Some(None),
        Some(y) => match i16::try_from(y)
            .ok()
            .filter(|y| (i64::from(FIRST_YEAR)..=latest).contains(&i64::from(*y)))
        {
            Some(y) => Some(Some(y)),
            None => {
                refused.push((
                    "year",
                    Invalid::OutOfRange {
                        min: i64::from(FIRST_YEAR),
                        max: latest,
                    },
                ));
                None
            }
        },
    };
    let (Some(month), Some(day), Some(year)) = (month, day, year) else {
        return Err(refused);
    };
    if let Some(y) = year {
        // The month and day exist in a leap year: only the year can make the date wrong.
        let date = NaiveDate::from_ymd_opt(i32::from(y), u32::from(month), u32::from(day));
        let wrong = match (date, today) {
            (None, _) => true,
            (Some(date), Some(today)) => date > today,
            (Some(_), None) => false,
        };
        if wrong {
            return Err(vec![("year", Invalid::InvalidDate)]);
        }
    }
    Ok(Birthday { month, day, year })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn date(y: i32, m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, d).unwrap()
    }

    fn today() -> NaiveDate {
        date(2026, 12, 13)
    }

    fn raw(month: i64, day: i64, year: Option<i64>) -> RawBirthday {
        RawBirthday {
            month: Some(month),
            day: Some(day),
            year,
        }
    }

    /// The refused parts of a birthday, as (field, code).
    fn refused(raw: &RawBirthday) -> Vec<(String, &'static str)> {
        Birthday::parse(raw, today())
            .unwrap_err()
            .errors()
            .iter()
            .map(|e| (e.field.clone(), e.invalid.code()))
            .collect()
    }

    fn field(name: &str, code: &'static str) -> Vec<(String, &'static str)> {
        vec![(name.to_owned(), code)]
    }

    #[test]
    fn takes_a_day_with_or_without_a_year() {
        let b = Birthday::parse(&raw(5, 17, Some(1980)), today()).unwrap();
        assert_eq!((b.month(), b.day(), b.year()), (5, 17, Some(1980)));
        let b = Birthday::parse(&raw(12, 31, None), today()).unwrap();
        assert_eq!((b.month(), b.day(), b.year()), (12, 31, None));
        assert!(Birthday::parse(&raw(1, 1, Some(1900)), today()).is_ok());
        assert!(Birthday::parse(&raw(12, 13, Some(2026)), today()).is_ok());
    }

    #[test]
    fn the_29th_of_february_needs_no_year_or_a_leap_one() {
        assert!(Birthday::parse(&raw(2, 29, None), today()).is_ok());
        assert!(Birthday::parse(&raw(2, 29, Some(2024)), today()).is_ok());
        assert!(Birthday::parse(&raw(2, 29, Some(2000)), today()).is_ok());
        assert_eq!(
            refused(&raw(2, 29, Some(2023))),
            field("birthday.year", "invalid_date")
        );
        assert_eq!(
            refused(&raw(2, 29, Some(1900))),
            field("birthday.year", "invalid_date"),
            "1900 was not a leap year"
        );
    }

    #[test]
    fn refuses_a_month_outside_the_year() {
        for month in [0, 13, -1, i64::MAX] {
            assert_eq!(
                refused(&raw(month, 1, None)),
                field("birthday.month", "out_of_range")
            );
        }
        let errors = Birthday::parse(&raw(13, 1, None), today()).unwrap_err();
        assert_eq!(
            errors.errors()[0].invalid,
            Invalid::OutOfRange { min: 1, max: 12 }
        );
    }

    #[test]
    fn refuses_a_day_outside_its_month() {
        for (month, day, max) in [(4, 31, 30), (2, 30, 29), (6, 0, 30), (1, 32, 31)] {
            let errors = Birthday::parse(&raw(month, day, None), today()).unwrap_err();
            assert_eq!(errors.errors()[0].field, "birthday.day");
            assert_eq!(
                errors.errors()[0].invalid,
                Invalid::OutOfRange { min: 1, max }
            );
        }
        // With a wrong month, the day is held to 31 days.
        assert_eq!(
            refused(&raw(13, 32, None)),
            [
                ("birthday.month".to_owned(), "out_of_range"),
                ("birthday.day".to_owned(), "out_of_range"),
            ]
        );
        assert_eq!(
            refused(&raw(13, 31, None)),
            field("birthday.month", "out_of_range")
        );
    }

    #[test]
    fn refuses_a_year_before_1900_or_in_the_future() {
        for year in [1899, 2027, -5, 100_000] {
            let errors = Birthday::parse(&raw(1, 1, Some(year)), today()).unwrap_err();
            assert_eq!(errors.errors()[0].field, "birthday.year");
            assert_eq!(
                errors.errors()[0].invalid,
                Invalid::OutOfRange {
                    min: 1900,
                    max: 2026
                }
            );
        }
        assert_eq!(
            refused(&raw(12, 14, Some(2026))),
            field("birthday.year", "invalid_date"),
            "tomorrow"
        );
    }

    #[test]
    fn month_and_day_are_required() {
        let nothing = RawBirthday::default();
        assert_eq!(
            refused(&nothing),
            [
                ("birthday.month".to_owned(), "required"),
                ("birthday.day".to_owned(), "required"),
            ]
        );
    }

    #[test]
    fn reads_at_the_path_it_is_given() {
        let mut errors = Errors::default();
        let read = Birthday::read(
            &raw(4, 31, Some(1850)),
            "contacts[1].birthday",
            today(),
            &mut errors,
        );
        assert!(read.is_none());
        let fields: Vec<_> = errors
            .finish()
            .unwrap_err()
            .into_errors()
            .into_iter()
            .map(|e| e.field)
            .collect();
        assert_eq!(
            fields,
            ["contacts[1].birthday.day", "contacts[1].birthday.year"]
        );
    }

    #[test]
    fn a_stored_birthday_is_restored_whatever_the_day() {
        let b = Birthday::restore(12, 31, Some(2026)).unwrap();
        assert_eq!((b.month(), b.day(), b.year()), (12, 31, Some(2026)));
        assert!(Birthday::restore(2, 29, None).is_ok());
        assert!(Birthday::restore(2, 29, Some(2023)).is_err());
        assert!(Birthday::restore(13, 1, None).is_err());
        assert!(Birthday::restore(1, 1, Some(1899)).is_err());
    }

    #[test]
    fn falls_on_its_day_every_year() {
        let b = Birthday::parse(&raw(5, 17, Some(1980)), today()).unwrap();
        assert!(b.falls_on(date(2027, 5, 17)));
        assert!(b.falls_on(date(1980, 5, 17)));
        assert!(!b.falls_on(date(2027, 5, 18)));
        assert!(!b.falls_on(date(2027, 6, 17)));
        let new_year = Birthday::parse(&raw(1, 1, None), today()).unwrap();
        assert!(new_year.falls_on(date(2030, 1, 1)));
        assert!(!new_year.falls_on(date(2029, 12, 31)));
    }

    #[test]
    fn the_29th_of_february_falls_on_the_28th_in_common_years() {
        let leap = Birthday::parse(&raw(2, 29, Some(2024)), today()).unwrap();
        assert!(leap.falls_on(date(2028, 2, 29)));
        assert!(!leap.falls_on(date(2028, 2, 28)), "a leap year has its own");
        assert!(leap.falls_on(date(2027, 2, 28)));
        assert!(leap.falls_on(date(2100, 2, 28)), "2100 is a common year");
        assert!(!leap.falls_on(date(2027, 3, 1)));
        let on_the_28th = Birthday::parse(&raw(2, 28, None), today()).unwrap();
        assert!(on_the_28th.falls_on(date(2027, 2, 28)));
        assert!(on_the_28th.falls_on(date(2028, 2, 28)));
        assert!(!on_the_28th.falls_on(date(2028, 2, 29)));
    }

    #[test]
    fn a_day_celebrates_its_own_birthdays_and_in_common_years_the_29th() {
        assert_eq!(celebrated_on(date(2027, 5, 17)), [(5, 17)]);
        assert_eq!(celebrated_on(date(2027, 2, 28)), [(2, 28), (2, 29)]);
        assert_eq!(celebrated_on(date(2028, 2, 28)), [(2, 28)]);
        assert_eq!(celebrated_on(date(2028, 2, 29)), [(2, 29)]);
    }
}

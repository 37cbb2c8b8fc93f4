//! What reports group by, and how they round.

use chrono::{Datelike, Duration, NaiveDate};
use rust_decimal::prelude::ToPrimitive;
use rust_decimal::{Decimal, RoundingStrategy};

crate::string_enum! {
    /// Who a report's figures are per.
    pub enum Grouping {
        /// The owner (a rep).
        Owner => "owner",
        Team => "team",
    }
}

crate::string_enum! {
    /// A field of customers a distribution counts by.
    pub enum CustomerDimension {
        Kind => "kind",
        Industry => "industry",
        Size => "size",
        Grade => "grade",
        LifecycleStage => "lifecycle_stage",
        Country => "country",
        Source => "source",
        Channel => "channel",
    }
}

crate::string_enum! {
    /// The periods of a trend.
    pub enum Interval {
        Week => "week",
        Month => "month",
    }
}

impl Interval {
    /// The first day of the period holding `day`: its Monday, or the 1st of its month.
    pub fn start(self, day: NaiveDate) -> NaiveDate {
        match self {
            Interval::Week => day - Duration::days(i64::from(day.weekday().num_days_from_monday())),
            Interval::Month => day.with_day(1).unwrap_or(day),
        }
    }
}

crate::string_enum! {
    /// How long an open ticket has waited, in a backlog.
    pub enum AgeBand {
        /// Less than a day.
        UnderOneDay => "under_1d",
        /// One to three days.
        OneToThreeDays => "1d_to_3d",
        /// Three to seven days.
        ThreeToSevenDays => "3d_to_7d",
        /// Seven days or more.
        OverSevenDays => "over_7d",
    }
}

impl AgeBand {
    /// The bands from the youngest, each with the age it starts at.
    pub const STARTS: [(AgeBand, Duration); 4] = [
        (AgeBand::UnderOneDay, Duration::zero()),
        (AgeBand::OneToThreeDays, Duration::days(1)),
        (AgeBand::ThreeToSevenDays, Duration::days(3)),
        (AgeBand::OverSevenDays, Duration::days(7)),
    ];

    /// The band of an `age`.
    pub fn of(age: Duration) -> AgeBand {
        Self::STARTS
            .iter()
            .rev()
            .find(|(_, start)| age >= *start)
            .map_or(AgeBand::UnderOneDay, |(band, _)| *band)
    }
}

/// The 1-based ranks, among `n` values in ascending order, of the median (the middle one, or
/// the two middle ones) and of the 90th percentile (the nearest rank, ⌈0.9·n⌉).
pub fn quantile_ranks(n: i64) -> QuantileRanks {
    QuantileRanks {
        median: ((n + 1) / 2, (n + 2) / 2),
        p90: (9 * n + 9) / 10,
    }
}

/// See [`quantile_ranks`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QuantileRanks {
    pub median: (i64, i64),
    pub p90: i64,
}

/// The median of the two middle values `a` and `b` (the same one when `n` is odd): their
/// mean, rounded half away from zero.
pub fn middle(a: i64, b: i64) -> i64 {
    ratio(a + b, 2, 1, 0) as i64
}

/// `num / den × scale`, rounded half away from zero to `places` decimals, computed exactly
/// in decimals (a float would round 1.005 down); 0 when `den` is 0 (a share of nothing).
pub fn ratio(num: i64, den: u64, scale: i64, places: u32) -> f64 {
    if den == 0 {
        return 0.0;
    }
    rounded(
        Decimal::from(num) * Decimal::from(scale) / Decimal::from(den),
        places,
    )
}

pub(crate) fn rounded(x: Decimal, places: u32) -> f64 {
    x.round_dp_with_strategy(places, RoundingStrategy::MidpointAwayFromZero)
        .to_f64()
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn periods_start_on_monday_or_the_first() {
        let day = NaiveDate::from_ymd_opt(2026, 12, 4).unwrap();
        assert_eq!(Interval::Week.start(day).to_string(), "2026-11-30");
        assert_eq!(Interval::Month.start(day).to_string(), "2026-12-01");
    }

    #[test]
    fn ranks_pick_the_middle_and_the_nearest_ninetieth() {
        assert_eq!(
            quantile_ranks(1),
            QuantileRanks {
                median: (1, 1),
                p90: 1
            }
        );
        assert_eq!(
            quantile_ranks(4),
            QuantileRanks {
                median: (2, 3),
                p90: 4
            }
        );
        assert_eq!(
            quantile_ranks(10),
            QuantileRanks {
                median: (5, 6),
                p90: 9
            }
        );
        assert_eq!(
            quantile_ranks(11),
            QuantileRanks {
                median: (6, 6),
                p90: 10
            }
        );
        assert_eq!(middle(7, 8), 8, "7.5 rounds half away from zero");
        assert_eq!(middle(4, 10), 7);
    }

    #[test]
    fn ages_fall_in_their_band() {
        assert_eq!(AgeBand::of(Duration::hours(23)), AgeBand::UnderOneDay);
        assert_eq!(AgeBand::of(Duration::days(1)), AgeBand::OneToThreeDays);
        assert_eq!(AgeBand::of(Duration::days(6)), AgeBand::ThreeToSevenDays);
        assert_eq!(AgeBand::of(Duration::days(30)), AgeBand::OverSevenDays);
    }
}

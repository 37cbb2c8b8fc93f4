//! Value grading (RFM): each customer's purchases score recency, frequency and monetary value
//! 1 to 5 by quintile among all buying customers, and the sum of the three sets its grade.

use chrono::{DateTime, Utc};
use uuid::Uuid;

use crate::enums::Grade;

/// The kind of the grading job.
pub const JOB: &str = "customers.grading";

/// How many quantiles a score has: 1 (lowest fifth) to 5 (highest).
pub const QUANTILES: i64 = 5;

/// The quantile score of the value ranked `rank` (1-based, ties sharing the lowest rank)
/// among `n` values in ascending order: 1 to [`QUANTILES`].
pub fn quantile_score(rank: i64, n: i64) -> i64 {
    if n <= 0 {
        return 1;
    }
    (1 + QUANTILES * (rank - 1) / n).clamp(1, QUANTILES)
}

/// A customer's recency, frequency and monetary scores, each 1 to 5.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RfmScores {
    /// How recent the last purchase is: 5 for the most recent fifth.
    pub recency: i16,
    /// How many purchases.
    pub frequency: i16,
    /// How much was spent, compared within each currency (the best of its currencies).
    pub monetary: i16,
}

impl RfmScores {
    pub fn total(self) -> i16 {
        self.recency + self.frequency + self.monetary
    }
}

/// What makes a grade: the score sums (3 to 15) from which a customer is `vip` or `standard`
/// (below: `potential`, as a customer without purchases in the window is), and how many
/// months of purchases count.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GradingRules {
    pub vip_from: i16,
    pub standard_from: i16,
    pub months: u32,
}

impl Default for GradingRules {
    fn default() -> Self {
        GradingRules {
            vip_from: 13,
            standard_from: 7,
            months: 24,
        }
    }
}

/// Grading rules that cannot grade.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("grading rules: {0}")]
pub struct BadRules(pub &'static str);

impl GradingRules {
    /// # Errors
    /// The thresholds are outside 3 to 15 or the `vip` one is not above the `standard` one,
    /// or no month counts.
    pub fn new(vip_from: i16, standard_from: i16, months: u32) -> Result<GradingRules, BadRules> {
        if !(3..=15).contains(&vip_from) || !(3..=15).contains(&standard_from) {
            return Err(BadRules("a threshold is outside 3 to 15"));
        }
        if vip_from <= standard_from {
            return Err(BadRules("the vip threshold must be above the standard one"));
        }
        if months == 0 {
            return Err(BadRules("at least one month of purchases must count"));
        }
        Ok(GradingRules {
            vip_from,
            standard_from,
            months,
        })
    }

    /// The grade of a customer with `scores` (`None`: no purchase in the window).
    pub fn grade(self, scores: Option<RfmScores>) -> Grade {
        match scores.map(RfmScores::total) {
            Some(total) if total >= self.vip_from => Grade::Vip,
            Some(total) if total >= self.standard_from => Grade::Standard,
            _ => Grade::Potential,
        }
    }

    /// The first time whose purchases count at `now`.
    pub fn window_start(self, now: DateTime<Utc>) -> DateTime<Utc> {
        now.checked_sub_months(chrono::Months::new(self.months))
            .unwrap_or(DateTime::<Utc>::MIN_UTC)
    }
}

/// A change of a customer's grade, for its timeline: by hand (`changed_by` a user, no scores)
/// or by the grading job (no one, with the scores that made it).
#[derive(Debug, Clone, PartialEq)]
pub struct GradeChange {
    pub id: Uuid,
    pub customer_id: Uuid,
    /// `None` when the customer was created with `to`.
    pub from: Option<Grade>,
    pub to: Grade,
    pub scores: Option<RfmScores>,
    pub changed_at: DateTime<Utc>,
    pub changed_by: Option<Uuid>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quintiles_score_one_to_five_and_ties_share_a_score() {
        let scores: Vec<i64> = (1..=10).map(|rank| quantile_score(rank, 10)).collect();
        assert_eq!(scores, [1, 1, 2, 2, 3, 3, 4, 4, 5, 5]);
        assert_eq!(quantile_score(1, 1), 1);
        assert_eq!(quantile_score(3, 3), 4, "the top of three values");
        assert_eq!(quantile_score(1, 3), 1);
    }

    #[test]
    fn the_score_sum_sets_the_grade() {
        let rules = GradingRules::default();
        let scores = |r, f, m| {
            Some(RfmScores {
                recency: r,
                frequency: f,
                monetary: m,
            })
        };
        assert_eq!(rules.grade(scores(5, 4, 4)), Grade::Vip);
        assert_eq!(rules.grade(scores(5, 4, 3)), Grade::Standard);
        assert_eq!(rules.grade(scores(3, 2, 2)), Grade::Standard);
        assert_eq!(rules.grade(scores(2, 2, 2)), Grade::Potential);
        assert_eq!(rules.grade(None), Grade::Potential);
    }

    #[test]
    fn rules_are_checked() {
        assert!(GradingRules::new(13, 7, 24).is_ok());
        assert!(GradingRules::new(7, 7, 24).is_err());
        assert!(GradingRules::new(16, 7, 24).is_err());
        assert!(GradingRules::new(13, 2, 24).is_err());
        assert!(GradingRules::new(13, 7, 0).is_err());
        let now: DateTime<Utc> = "2026-12-05T00:00:00Z".parse().unwrap();
        assert_eq!(
            GradingRules::default().window_start(now).to_rfc3339(),
            "2024-12-05T00:00:00+00:00"
        );
    }
}

//! Loyalty: a points ledger per customer (earned from orders, redeemed, adjusted by an admin,
//! expired oldest first) and a tier by the points earned in the last twelve months.
//!
//! The ledger is never edited: a balance is the sum of its rows, a reversal is a new row.
//! Points are whole numbers; earned points round down.

use chrono::{DateTime, Months, Utc};
use rust_decimal::Decimal;
use rust_decimal::prelude::ToPrimitive;
use uuid::Uuid;

use crate::currency::CurrencyCode;
use crate::identity::Actor;
use crate::money::Money;
use crate::name::Name;
use crate::validation::Invalid;

/// Why points were adjusted or redeemed (free text).
pub type LoyaltyReason = Name<500>;

/// The job that earns an order's points (`loyalty.earn:<order_id>`).
pub const EARN_JOB: &str = "loyalty.earn";
/// The job that takes back a cancelled order's points (`loyalty.reverse:<order_id>`).
pub const REVERSE_JOB: &str = "loyalty.reverse";
/// The daily job that expires points and recomputes tiers.
pub const EXPIRE_JOB: &str = "loyalty.expire";

/// The months over which earned points make a tier.
pub const TIER_MONTHS: u32 = 12;
/// The days ahead over which expiring points are shown.
pub const EXPIRING_SOON_DAYS: i64 = 30;
/// The most points one request may redeem or adjust.
pub const MAX_POINTS: i64 = 1_000_000_000;

crate::string_enum! {
    /// What a ledger row records.
    pub enum LoyaltyKind {
        /// Points earned by an order.
        Earn => "earn",
        /// Points spent by the customer.
        Redeem => "redeem",
        /// A correction by an admin, with a reason (either sign).
        Adjust => "adjust",
        /// Points past their expiry, oldest first.
        Expire => "expire",
        /// The points of a cancelled order taken back.
        Reversal => "reversal",
    }
}

crate::string_enum! {
    /// A customer's loyalty tier, by the points earned in the last twelve months.
    pub enum Tier {
        Member => "member",
        Silver => "silver",
        Gold => "gold",
        Platinum => "platinum",
    }
}

/// Points per unit of an order's total in one currency.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EarnRate {
    pub currency: CurrencyCode,
    pub points_per_unit: Decimal,
}

impl EarnRate {
    /// The most points one unit may earn.
    pub const MAX: i64 = 10_000;

    /// Reads a rate: a decimal string from 0 to [`EarnRate::MAX`], with at most 4 decimals.
    ///
    /// # Errors
    /// `Required` when blank, `InvalidAmount` otherwise.
    pub fn parse_points_per_unit(input: &str) -> Result<Decimal, Invalid> {
        let rate = Money::parse_amount(input)?;
        if rate.normalize().scale() > 4 {
            return Err(Invalid::InvalidAmount);
        }
        if rate > Decimal::from(Self::MAX) {
            return Err(Invalid::InvalidAmount);
        }
        Ok(rate.normalize())
    }
}

/// The points a tier starts at (each strictly above the one before).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Thresholds {
    pub silver: i64,
    pub gold: i64,
    pub platinum: i64,
}

impl Default for Thresholds {
    fn default() -> Self {
        Thresholds {
            silver: 1000,
            gold: 5000,
            platinum: 20000,
        }
    }
}

impl Thresholds {
    /// Checks that each threshold is within 1..=[`MAX_POINTS`] and above the one before;
    /// answers the refused ones by name (`silver`, `gold`, `platinum`).
    ///
    /// # Errors
    /// Each refused threshold with why.
    pub fn new(
        silver: i64,
        gold: i64,
        platinum: i64,
    ) -> Result<Thresholds, Vec<(&'static str, Invalid)>> {
        let mut refused = Vec::new();
        let mut floor = 1;
        for (name, value) in [("silver", silver), ("gold", gold), ("platinum", platinum)] {
            if !(floor..=MAX_POINTS).contains(&value) {
                refused.push((
                    name,
                    Invalid::OutOfRange {
                        min: floor,
                        max: MAX_POINTS,
                    },
                ));
            }
            floor = value.saturating_add(1).max(floor + 1);
        }
        if refused.is_empty() {
            Ok(Thresholds {
                silver,
                gold,
                platinum,
            })
        } else {
            Err(refused)
        }
    }

    /// The tier of `earned` points (earned in the last twelve months).
    pub fn tier_for(&self, earned: i64) -> Tier {
        if earned >= self.platinum {
            Tier::Platinum
        } else if earned >= self.gold {
            Tier::Gold
        } else if earned >= self.silver {
            Tier::Silver
        } else {
            Tier::Member
        }
    }

    /// The tier above `tier` and the points still to earn (over `earned`) to reach it; `None`
    /// at the top.
    pub fn next_after(&self, tier: Tier, earned: i64) -> Option<(Tier, i64)> {
        let (next, at) = match tier {
            Tier::Member => (Tier::Silver, self.silver),
            Tier::Silver => (Tier::Gold, self.gold),
            Tier::Gold => (Tier::Platinum, self.platinum),
            Tier::Platinum => return None,
        };
        Some((next, at.saturating_sub(earned).max(0)))
    }
}

/// How many months earned points stay valid: 1 to 120.
///
/// # Errors
/// `OutOfRange`.
pub fn parse_expiry_months(months: i64) -> Result<u32, Invalid> {
    u32::try_from(months)
        .ok()
        .filter(|m| (1..=120).contains(m))
        .ok_or(Invalid::OutOfRange { min: 1, max: 120 })
}

/// The program's settings (one, admin-configurable).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Program {
    pub id: Uuid,
    pub earn_rates: Vec<EarnRate>,
    pub expiry_months: u32,
    pub tiers: Thresholds,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub version: i32,
}

impl Program {
    /// The id of the one program row.
    pub const ID: Uuid = Uuid::nil();

    /// The points an order of `total` earns: its amount times its currency's rate, rounded
    /// down; nothing in a currency without a rate.
    pub fn points_for(&self, total: &Money) -> i64 {
        self.earn_rates
            .iter()
            .find(|r| r.currency == total.currency())
            .and_then(|r| (total.amount() * r.points_per_unit).floor().to_i64())
            .unwrap_or(0)
            .max(0)
    }

    /// When points earned at `earned_at` expire.
    pub fn expires_at(&self, earned_at: DateTime<Utc>) -> DateTime<Utc> {
        earned_at
            .checked_add_months(Months::new(self.expiry_months))
            .unwrap_or(DateTime::<Utc>::MAX_UTC)
    }
}

/// The start of the window of earnings that makes a tier at `now`.
pub fn tier_window_start(now: DateTime<Utc>) -> DateTime<Utc> {
    now.checked_sub_months(Months::new(TIER_MONTHS))
        .unwrap_or(DateTime::<Utc>::MIN_UTC)
}

/// The points that expire by a time (FIFO): every debit so far (redemptions, negative
/// adjustments, expiries and reversals, as a positive sum) consumed the oldest earnings first,
/// so what is left of the earnings due by then is `earned_due − debits`, never below zero.
/// Writing that many as an `expire` row makes the next computation zero: a rerun expires
/// nothing more.
pub fn expiring(earned_due: i64, debits: i64) -> i64 {
    earned_due.saturating_sub(debits).max(0)
}

/// The points a cancelled order takes back: what it earned, but never more than the balance
/// (the rest was spent already).
pub fn reversal_points(earned: i64, balance: i64) -> i64 {
    earned.min(balance).max(0)
}

/// A debit the balance does not cover.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Insufficient {
    pub balance: i64,
}

/// The balance after taking `points` (positive) from `balance`.
///
/// # Errors
/// `Insufficient` when it would go below zero.
pub fn debit(balance: i64, points: i64) -> Result<i64, Insufficient> {
    match balance.checked_sub(points) {
        Some(after) if after >= 0 => Ok(after),
        _ => Err(Insufficient { balance }),
    }
}

/// A customer's loyalty account: its balance and tier, kept in step with its ledger.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Account {
    /// The customer's id (one account per customer).
    pub id: Uuid,
    pub balance: i64,
    pub tier: Tier,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub version: i32,
}

impl Account {
    /// The account of a customer with no ledger yet.
    pub fn new(customer_id: Uuid, now: DateTime<Utc>) -> Account {
        Account {
            id: customer_id,
            balance: 0,
            tier: Tier::Member,
            created_at: now,
            updated_at: now,
            version: 1,
        }
    }
}

/// One ledger row, never edited.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Transaction {
    pub id: Uuid,
    pub customer_id: Uuid,
    pub kind: LoyaltyKind,
    /// Positive for earnings and positive adjustments, negative for the rest.
    pub points: i64,
    pub order_id: Option<Uuid>,
    pub reason: Option<LoyaltyReason>,
    /// When earned points expire (earn rows).
    pub expires_at: Option<DateTime<Utc>>,
    pub balance_after: i64,
    pub actor: Actor,
    pub created_at: DateTime<Utc>,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn program(rates: &[(&str, &str)]) -> Program {
        let t = DateTime::<Utc>::UNIX_EPOCH;
        Program {
            id: Program::ID,
            earn_rates: rates
                .iter()
                .map(|(c, r)| EarnRate {
                    currency: CurrencyCode::parse(c).unwrap(),
                    points_per_unit: EarnRate::parse_points_per_unit(r).unwrap(),
                })
                .collect(),
            expiry_months: 24,
            tiers: Thresholds::default(),
            created_at: t,
            updated_at: t,
            version: 1,
        }
    }

    #[test]
    fn points_are_the_total_times_the_rate_rounded_down() {
        let p = program(&[("CNY", "1"), ("USD", "2.5")]);
        assert_eq!(p.points_for(&Money::parse("199.99", "CNY").unwrap()), 199);
        assert_eq!(p.points_for(&Money::parse("10.30", "USD").unwrap()), 25);
        assert_eq!(p.points_for(&Money::parse("0.39", "USD").unwrap()), 0);
        // No rate for the currency: nothing.
        assert_eq!(p.points_for(&Money::parse("1000", "EUR").unwrap()), 0);
    }

    #[test]
    fn rates_are_decimal_strings_within_bounds() {
        assert_eq!(
            EarnRate::parse_points_per_unit("0.5000").unwrap(),
            Decimal::new(5, 1)
        );
        assert_eq!(
            EarnRate::parse_points_per_unit("-1"),
            Err(Invalid::InvalidAmount)
        );
        assert_eq!(
            EarnRate::parse_points_per_unit("0.00001"),
            Err(Invalid::InvalidAmount)
        );
        assert_eq!(
            EarnRate::parse_points_per_unit("10001"),
            Err(Invalid::InvalidAmount)
        );
        assert_eq!(EarnRate::parse_points_per_unit(" "), Err(Invalid::Required));
    }

    #[test]
    fn fifo_expiry_lets_debits_consume_the_oldest_earnings() {
        // Earned 100 (expires first) and 50; redeemed 80. By the first expiry, 20 of the
        // 100 are left (LIFO would say 70).
        assert_eq!(expiring(100, 80), 20);
        // After that expiry (a debit of 20), by the second: 150 due − 100 debited.
        assert_eq!(expiring(150, 80 + 20), 50);
        // A rerun right after writing it expires nothing more.
        assert_eq!(expiring(150, 80 + 20 + 50), 0);
        // Debits beyond what is due: nothing expires.
        assert_eq!(expiring(100, 120), 0);
        assert_eq!(expiring(0, 0), 0);
    }

    #[test]
    fn tiers_start_at_their_thresholds() {
        let t = Thresholds::default();
        assert_eq!(t.tier_for(0), Tier::Member);
        assert_eq!(t.tier_for(999), Tier::Member);
        assert_eq!(t.tier_for(1000), Tier::Silver);
        assert_eq!(t.tier_for(4999), Tier::Silver);
        assert_eq!(t.tier_for(5000), Tier::Gold);
        assert_eq!(t.tier_for(20000), Tier::Platinum);
        assert_eq!(t.tier_for(-5), Tier::Member);
        assert_eq!(t.next_after(Tier::Member, 400), Some((Tier::Silver, 600)));
        assert_eq!(t.next_after(Tier::Silver, 1000), Some((Tier::Gold, 4000)));
        // A tier kept until the daily job lowers it: nothing more to earn for the next.
        assert_eq!(t.next_after(Tier::Member, 1200), Some((Tier::Silver, 0)));
        assert_eq!(t.next_after(Tier::Platinum, 25000), None);
    }

    #[test]
    fn thresholds_increase_strictly() {
        assert!(Thresholds::new(1000, 5000, 20000).is_ok());
        let refused = Thresholds::new(1000, 1000, 500).unwrap_err();
        let names: Vec<&str> = refused.iter().map(|(n, _)| *n).collect();
        assert_eq!(names, ["gold", "platinum"]);
        let refused = Thresholds::new(0, 5, 6).unwrap_err();
        assert_eq!(refused[0].0, "silver");
    }

    #[test]
    fn expiry_months_are_one_to_120() {
        assert_eq!(parse_expiry_months(24), Ok(24));
        assert!(parse_expiry_months(0).is_err());
        assert!(parse_expiry_months(121).is_err());
    }

    #[test]
    fn debits_never_go_below_zero() {
        assert_eq!(debit(100, 10), Ok(90));
        assert_eq!(debit(100, 100), Ok(0));
        assert_eq!(debit(5, 10), Err(Insufficient { balance: 5 }));
        assert_eq!(reversal_points(100, 30), 30);
        assert_eq!(reversal_points(100, 300), 100);
    }

    #[test]
    fn earnings_expire_after_the_program_months() {
        let p = program(&[]);
        let t: DateTime<Utc> = "2026-01-31T10:00:00Z".parse().unwrap();
        assert_eq!(
            p.expires_at(t),
            "2028-01-31T10:00:00Z".parse::<DateTime<Utc>>().unwrap()
        );
        assert_eq!(
            tier_window_start(t),
            "2025-01-31T10:00:00Z".parse::<DateTime<Utc>>().unwrap()
        );
    }
}

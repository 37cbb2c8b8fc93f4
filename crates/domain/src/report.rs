//! What reports group by, and how they round.

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

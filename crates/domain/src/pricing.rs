//! Line items and their totals, computed exactly with decimals and rounded per currency.
//!
//! Each line is rounded on its own, half away from zero, to the currency's minor units
//! (2 places for CNY, USD and EUR, 0 for JPY): `gross = quantity × unit price`, then the
//! discount on it, then the tax on what remains. A document's totals are the sums of its
//! rounded lines, so the lines printed on a quote always add up to its total.

use rust_decimal::{Decimal, RoundingStrategy};
use uuid::Uuid;

use crate::currency::CurrencyCode;
use crate::money::Money;
use crate::name::Title;
use crate::validation::Invalid;

/// How many of a thing: a positive decimal with at most 4 decimals, below a billion.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Quantity(Decimal);

impl Quantity {
    /// # Errors
    /// `InvalidQuantity` for anything but a positive plain decimal string with at most 4
    /// decimals below 1,000,000,000.
    pub fn parse(input: &str) -> Result<Self, Invalid> {
        let value = plain_decimal(input).ok_or(Invalid::InvalidQuantity)?;
        if value.is_zero() || value.scale() > 4 || value >= Decimal::from(1_000_000_000) {
            return Err(Invalid::InvalidQuantity);
        }
        Ok(Quantity(value))
    }

    pub fn value(self) -> Decimal {
        self.0
    }
}

/// A percentage (a discount, a tax rate): 0 to 100 with at most 4 decimals.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Percent(Decimal);

impl Percent {
    /// # Errors
    /// `InvalidPercent` for anything but a plain decimal string from 0 to 100 with at most 4
    /// decimals.
    pub fn parse(input: &str) -> Result<Self, Invalid> {
        let value = plain_decimal(input).ok_or(Invalid::InvalidPercent)?;
        if value.scale() > 4 || value > Decimal::ONE_HUNDRED {
            return Err(Invalid::InvalidPercent);
        }
        Ok(Percent(value))
    }

    pub fn value(self) -> Decimal {
        self.0
    }

    /// This share of `amount`, not rounded.
    fn of(self, amount: Decimal) -> Decimal {
        amount * self.0 / Decimal::ONE_HUNDRED
    }
}

/// A decimal written plainly (`"12"`, `"0.5"`), normalized (`"1.50"` is `1.5`).
fn plain_decimal(input: &str) -> Option<Decimal> {
    Money::parse_amount(input).ok().map(|d| d.normalize())
}

/// Rounds to the currency's minor units, half away from zero.
pub fn round(amount: Decimal, currency: CurrencyCode) -> Decimal {
    let mut rounded = amount.round_dp_with_strategy(
        currency.minor_units(),
        RoundingStrategy::MidpointAwayFromZero,
    );
    rounded.rescale(currency.minor_units());
    rounded
}

/// One line of a quote or an order: a product or free text, with its computed amounts.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Line {
    pub product_id: Option<Uuid>,
    pub description: String,
    pub quantity: Decimal,
    pub unit_price: Decimal,
    pub discount_percent: Decimal,
    pub tax_rate: Decimal,
    /// `quantity × unit_price`, rounded.
    pub subtotal: Decimal,
    /// The discount on the subtotal, rounded.
    pub discount: Decimal,
    /// The tax on what remains after the discount, rounded.
    pub tax: Decimal,
    /// `subtotal − discount + tax`.
    pub total: Decimal,
}

impl Line {
    /// Prices a line in `currency`.
    ///
    /// # Errors
    /// `InvalidAmount` when its total has more integer digits than money may.
    pub fn priced(
        product_id: Option<Uuid>,
        description: &Title,
        quantity: Quantity,
        unit_price: Money,
        discount: Percent,
        tax_rate: Percent,
    ) -> Result<Line, Invalid> {
        let currency = unit_price.currency();
        let subtotal = round(quantity.value() * unit_price.amount(), currency);
        let discount_amount = round(discount.of(subtotal), currency);
        let tax = round(tax_rate.of(subtotal - discount_amount), currency);
        let total = subtotal - discount_amount + tax;
        Money::new(total, currency)?;
        Ok(Line {
            product_id,
            description: description.to_string(),
            quantity: quantity.value(),
            unit_price: unit_price.amount(),
            discount_percent: discount.value(),
            tax_rate: tax_rate.value(),
            subtotal,
            discount: discount_amount,
            tax,
            total,
        })
    }
}

impl Line {
    /// A stored line read back: each part through its parser, and its amounts priced again
    /// in `currency`, which must give the stored ones.
    ///
    /// # Errors
    /// The first part that does not parse; `InvalidAmount` when a stored amount is not what
    /// its parts give.
    pub fn restored(&self, currency: CurrencyCode) -> Result<Line, Invalid> {
        let line = Line::priced(
            self.product_id,
            &Title::parse(&self.description)?,
            Quantity::parse(&self.quantity.to_string())?,
            Money::new(self.unit_price, currency)?,
            Percent::parse(&self.discount_percent.to_string())?,
            Percent::parse(&self.tax_rate.to_string())?,
        )?;
        if line != *self {
            return Err(Invalid::InvalidAmount);
        }
        Ok(line)
    }
}

/// The sums of a document's lines.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Totals {
    pub subtotal: Money,
    pub discount: Money,
    pub tax: Money,
    pub total: Money,
}

impl Totals {
    /// # Errors
    /// `InvalidAmount` when a sum has more integer digits than money may.
    pub fn of(lines: &[Line], currency: CurrencyCode) -> Result<Totals, Invalid> {
        let sum =
            |f: fn(&Line) -> Decimal| Money::new(lines.iter().map(f).sum::<Decimal>(), currency);
        Ok(Totals {
            subtotal: sum(|l| l.subtotal)?,
            discount: sum(|l| l.discount)?,
            tax: sum(|l| l.tax)?,
            total: sum(|l| l.total)?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line(qty: &str, price: &str, currency: &str, discount: &str, tax: &str) -> Line {
        Line::priced(
            None,
            &Title::parse("Toner").unwrap(),
            Quantity::parse(qty).unwrap(),
            Money::parse(price, currency).unwrap(),
            Percent::parse(discount).unwrap(),
            Percent::parse(tax).unwrap(),
        )
        .unwrap()
    }

    fn s(d: Decimal) -> String {
        d.to_string()
    }

    #[test]
    fn a_line_rounds_each_step_half_away_from_zero() {
        // 3 × 3.35 = 10.05; 5% of it is 0.5025 → 0.50; 13% of 9.55 is 1.2415 → 1.24.
        let l = line("3", "3.35", "CNY", "5", "13");
        assert_eq!(
            [s(l.subtotal), s(l.discount), s(l.tax), s(l.total)],
            ["10.05", "0.50", "1.24", "10.79"]
        );
        // 0.5 of a cent: 1 × 0.25 at 10% off is 0.025 → 0.03.
        let l = line("1", "0.25", "USD", "10", "0");
        assert_eq!(s(l.discount), "0.03");
        assert_eq!(s(l.total), "0.22");
    }

    #[test]
    fn yen_has_no_decimals() {
        // 1.5 × 333 = 499.5 → 500; 10% tax → 50.
        let l = line("1.5", "333", "JPY", "0", "10");
        assert_eq!([s(l.subtotal), s(l.tax), s(l.total)], ["500", "50", "550"]);
    }

    #[test]
    fn totals_are_exact_sums() {
        let lines = [
            line("1", "0.10", "USD", "0", "0"),
            line("1", "0.20", "USD", "0", "0"),
        ];
        let t = Totals::of(&lines, CurrencyCode::parse("USD").unwrap()).unwrap();
        assert_eq!(t.total.amount_string(), "0.30");
        assert_eq!(t.subtotal.amount_string(), "0.30");
        assert_eq!(t.tax.amount_string(), "0.00");
    }

    #[test]
    fn quantities_and_percentages_are_checked() {
        assert!(Quantity::parse("0").is_err());
        assert!(Quantity::parse("-1").is_err());
        assert!(Quantity::parse("1.23456").is_err());
        assert!(Quantity::parse("1e3").is_err());
        assert_eq!(Quantity::parse("2.50").unwrap().value().to_string(), "2.5");
        assert!(Percent::parse("100.01").is_err());
        assert!(Percent::parse("abc").is_err());
        assert_eq!(Percent::parse("0").unwrap(), Percent::default());
        assert_eq!(Percent::parse("8.25").unwrap().value().to_string(), "8.25");
    }

    #[test]
    fn a_stored_line_reads_back_only_as_priced() {
        let cny = CurrencyCode::parse("CNY").unwrap();
        let l = line("3", "3.35", "CNY", "5", "13");
        assert_eq!(l.restored(cny), Ok(l.clone()));
        let tampered = Line {
            total: l.total + Decimal::ONE,
            ..l.clone()
        };
        assert_eq!(tampered.restored(cny), Err(Invalid::InvalidAmount));
        let blank = Line {
            description: " ".into(),
            ..l
        };
        assert_eq!(blank.restored(cny), Err(Invalid::Required));
    }

    #[test]
    fn a_line_too_large_for_money_is_refused() {
        let r = Line::priced(
            None,
            &Title::parse("Everything").unwrap(),
            Quantity::parse("999999999").unwrap(),
            Money::parse("999999999", "CNY").unwrap(),
            Percent::default(),
            Percent::default(),
        );
        assert_eq!(r, Err(Invalid::InvalidAmount));
    }
}

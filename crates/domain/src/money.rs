//! Money: an exact, non-negative decimal amount in an ISO 4217 currency.

use std::fmt;

use rust_decimal::Decimal;

use crate::currency::CurrencyCode;
use crate::validation::Invalid;

/// An exact amount of money (pipeline amounts, budgets, costs): never negative, at most
/// [`Money::MAX_INTEGER_DIGITS`] digits before the point, and no more decimals than its
/// currency has minor units. The amount is kept with exactly that many decimals.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Money {
    amount: Decimal,
    currency: CurrencyCode,
}

impl Money {
    /// Digits allowed before the decimal point (just under a quadrillion).
    pub const MAX_INTEGER_DIGITS: usize = 15;
    /// The longest amount string read; anything longer is refused before it is parsed.
    const MAX_INPUT_LEN: usize = 64;

    /// Reads an amount string and a currency code together.
    ///
    /// Callers that report the two JSON fields separately use [`Money::parse_amount`],
    /// [`CurrencyCode::parse`] and [`Money::new`] instead.
    ///
    /// # Errors
    /// The currency's error first (`Required`, `InvalidCurrency`), then the amount's
    /// (`Required`, `InvalidAmount`).
    pub fn parse(amount: &str, currency: &str) -> Result<Self, Invalid> {
        let currency = CurrencyCode::parse(currency)?;
        Money::new(Money::parse_amount(amount)?, currency)
    }

    /// Reads an amount written as a plain decimal string: digits, optionally a point and more
    /// digits (`"1234.5"`, `"0.05"`, `"100"`). No sign, exponent, grouping or spaces inside;
    /// surrounding whitespace is ignored. The scale is checked by [`Money::new`], which knows
    /// the currency.
    ///
    /// # Errors
    /// `Required` when blank; `InvalidAmount` when it is not such a string, is negative, or has
    /// more than [`Money::MAX_INTEGER_DIGITS`] digits before the point.
    pub fn parse_amount(amount: &str) -> Result<Decimal, Invalid> {
        let amount = amount.trim();
        if amount.is_empty() {
            return Err(Invalid::Required);
        }
        if amount.len() > Self::MAX_INPUT_LEN {
            return Err(Invalid::InvalidAmount);
        }
        let (integer, fraction) = match amount.split_once('.') {
            Some((integer, fraction)) => (integer, Some(fraction)),
            None => (amount, None),
        };
        let all_digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
        if !all_digits(integer) || !fraction.is_none_or(all_digits) {
            return Err(Invalid::InvalidAmount);
        }
        if integer.trim_start_matches('0').len() > Self::MAX_INTEGER_DIGITS {
            return Err(Invalid::InvalidAmount);
        }
        Decimal::from_str_exact(amount).map_err(|_| Invalid::InvalidAmount)
    }

    /// Builds money from an exact amount. Trailing zeros do not count as decimals:
    /// `1.500` is a valid `CNY` amount (`1.50`), `12.345` is not.
    ///
    /// # Errors
    /// `InvalidAmount` when the amount is negative, has more than
    /// [`Money::MAX_INTEGER_DIGITS`] digits before the point, or more decimals than the
    /// currency's minor units.
    pub fn new(amount: Decimal, currency: CurrencyCode) -> Result<Self, Invalid> {
        if amount.is_sign_negative() && !amount.is_zero() {
            return Err(Invalid::InvalidAmount);
        }
        let mut amount = amount.normalize();
        amount.set_sign_positive(true);
        if amount.scale() > currency.minor_units() || amount.trunc() >= max_exclusive() {
            return Err(Invalid::InvalidAmount);
        }
        amount.rescale(currency.minor_units());
        // In minor units it fits an i64 (the store's column), even with 4 minor units.
        if i64::try_from(amount.mantissa()).is_err() {
            return Err(Invalid::InvalidAmount);
        }
        Ok(Money { amount, currency })
    }

    /// The amount, with exactly the currency's minor units as its scale.
    pub fn amount(&self) -> Decimal {
        self.amount
    }

    pub fn currency(&self) -> CurrencyCode {
        self.currency
    }

    /// The amount in the currency's minor units (cents, fen; yen for JPY): how the store
    /// keeps it, so that SQL sums stay exact on every database.
    pub fn minor(&self) -> i64 {
        // `Money::new` refuses amounts whose minor units do not fit.
        i64::try_from(self.amount.mantissa()).unwrap_or(i64::MAX)
    }

    /// Money from an amount in minor units ([`Money::minor`]).
    ///
    /// # Errors
    /// `InvalidAmount` when negative or too large.
    pub fn from_minor(minor: i64, currency: CurrencyCode) -> Result<Self, Invalid> {
        Money::new(Decimal::new(minor, currency.minor_units()), currency)
    }

    /// The canonical amount string, with exactly the currency's minor units of decimals:
    /// `"1234.50"` for CNY, `"1235"` for JPY.
    pub fn amount_string(&self) -> String {
        self.amount.to_string()
    }
}

/// 10^15: the smallest amount with too many integer digits.
fn max_exclusive() -> Decimal {
    Decimal::from(10_u64.pow(Money::MAX_INTEGER_DIGITS as u32))
}

/// `1234.50 CNY`.
impl fmt::Display for Money {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.amount, self.currency)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn money(amount: &str, currency: &str) -> Result<String, Invalid> {
        Money::parse(amount, currency).map(|m| m.amount_string())
    }

    #[test]
    fn keeps_exactly_the_minor_units() {
        assert_eq!(money("1234.5", "CNY").unwrap(), "1234.50");
        assert_eq!(money("1234.50", "cny").unwrap(), "1234.50");
        assert_eq!(money(" 0.1 ", "USD").unwrap(), "0.10");
        assert_eq!(money("100", "USD").unwrap(), "100.00");
        assert_eq!(money("1235", "JPY").unwrap(), "1235");
        assert_eq!(money("1.250", "KWD").unwrap(), "1.250");
        assert_eq!(money("0", "CNY").unwrap(), "0.00");
        assert_eq!(money("007.5", "CNY").unwrap(), "7.50");
    }

    #[test]
    fn is_exact_where_floats_are_not() {
        let a = Money::parse("0.10", "USD").unwrap().amount();
        let b = Money::parse("0.20", "USD").unwrap().amount();
        assert_eq!((a + b).to_string(), "0.30");
    }

    #[test]
    fn trailing_zeros_are_not_decimals() {
        assert_eq!(money("1.500", "CNY").unwrap(), "1.50");
        assert_eq!(money("100.00", "JPY").unwrap(), "100");
    }

    #[test]
    fn refuses_more_decimals_than_the_currency_has() {
        assert_eq!(money("12.345", "CNY"), Err(Invalid::InvalidAmount));
        assert_eq!(money("100.5", "JPY"), Err(Invalid::InvalidAmount));
        assert_eq!(money("1.2345", "KWD"), Err(Invalid::InvalidAmount));
    }

    #[test]
    fn refuses_what_is_not_a_plain_decimal_string() {
        let bad = [
            "-1", "-0", "+1", "1e3", "1E3", "1,000", "1 000", "1.", ".5", "1.2.3", "abc", "0x10",
            "NaN", "inf", "１２", "12.5 CNY",
        ];
        for bad in bad {
            assert_eq!(
                Money::parse_amount(bad),
                Err(Invalid::InvalidAmount),
                "{bad}"
            );
        }
        assert_eq!(Money::parse_amount("  "), Err(Invalid::Required));
    }

    #[test]
    fn at_most_fifteen_integer_digits() {
        assert_eq!(
            money("999999999999999.99", "CNY").unwrap(),
            "999999999999999.99"
        );
        assert_eq!(
            money("000999999999999999", "CNY").unwrap(),
            "999999999999999.00"
        );
        assert_eq!(
            money("1000000000000000", "CNY"),
            Err(Invalid::InvalidAmount)
        );
        assert_eq!(money(&"9".repeat(40), "CNY"), Err(Invalid::InvalidAmount));
        assert_eq!(
            money(&format!("1.{}", "0".repeat(70)), "CNY"),
            Err(Invalid::InvalidAmount)
        );
    }

    #[test]
    fn minor_units_always_fit_the_store() {
        // CLF has 4 minor units: 15 integer digits would not fit an i64 of them.
        assert_eq!(
            Money::parse("999999999999999.9999", "CLF"),
            Err(Invalid::InvalidAmount)
        );
        assert!(Money::parse("99999999999999.9999", "CLF").is_ok());
    }

    #[test]
    fn minor_units_round_trip() {
        let m = Money::parse("1234.5", "CNY").unwrap();
        assert_eq!(m.minor(), 123_450);
        assert_eq!(Money::from_minor(123_450, m.currency()).unwrap(), m);
        let yen = Money::parse("1235", "JPY").unwrap();
        assert_eq!(yen.minor(), 1235);
        assert_eq!(
            Money::from_minor(-1, yen.currency()),
            Err(Invalid::InvalidAmount)
        );
    }

    #[test]
    fn reports_the_currency_first() {
        assert_eq!(Money::parse("-1", "RMB"), Err(Invalid::InvalidCurrency));
        assert_eq!(Money::parse("1", ""), Err(Invalid::Required));
        assert_eq!(Money::parse("", "CNY"), Err(Invalid::Required));
    }

    #[test]
    fn new_checks_decimals_built_elsewhere() {
        let cny = CurrencyCode::parse("CNY").unwrap();
        assert_eq!(
            Money::new(Decimal::new(-1, 0), cny),
            Err(Invalid::InvalidAmount)
        );
        assert_eq!(
            Money::new(Decimal::new(12_345, 3), cny),
            Err(Invalid::InvalidAmount)
        );
        let mut negative_zero = Decimal::ZERO;
        negative_zero.set_sign_negative(true);
        let zero = Money::new(negative_zero, cny).unwrap();
        assert_eq!(zero.amount_string(), "0.00");
        let m = Money::new(Decimal::new(123_450, 2), cny).unwrap();
        assert_eq!(m.to_string(), "1234.50 CNY");
        assert_eq!(m.currency(), cny);
    }
}

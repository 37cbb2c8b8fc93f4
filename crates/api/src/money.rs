//! Money on the wire, as the contract fixes it: `{"amount": "1234.50", "currency": "CNY"}`,
//! the amount a decimal string, never a float.

use rapport_domain::currency::CurrencyCode;
use rapport_domain::money::Money;
use rapport_domain::validation::{Errors, path};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// An exact amount in a currency. The amount has exactly the currency's minor units of
/// decimals in answers (`"0.30"` CNY, `"1235"` JPY) and at most that many in requests.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MoneyBody {
    /// A decimal string: digits, optionally a point and decimals.
    #[schema(example = "1234.50")]
    pub amount: String,
    /// ISO 4217.
    #[schema(example = "CNY")]
    pub currency: String,
}

impl From<Money> for MoneyBody {
    fn from(m: Money) -> Self {
        MoneyBody {
            amount: m.amount_string(),
            currency: m.currency().as_str().to_owned(),
        }
    }
}

impl MoneyBody {
    /// The money, or its errors at `field.amount` and `field.currency`.
    pub fn read(&self, field: &str, errors: &mut Errors) -> Option<Money> {
        let currency = errors.check(path(field, "currency"), CurrencyCode::parse(&self.currency));
        let amount = errors.check(path(field, "amount"), Money::parse_amount(&self.amount))?;
        errors.check(path(field, "amount"), Money::new(amount, currency?))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_the_bad_part() {
        let mut errors = Errors::default();
        let bad = MoneyBody {
            amount: "1.234".into(),
            currency: "CNY".into(),
        };
        assert!(bad.read("amount", &mut errors).is_none());
        let e = errors.finish().unwrap_err();
        assert_eq!(e.errors()[0].field, "amount.amount");
        let mut errors = Errors::default();
        let good = MoneyBody {
            amount: "0.1".into(),
            currency: "USD".into(),
        };
        let m = good.read("amount", &mut errors).unwrap();
        assert_eq!(MoneyBody::from(m).amount, "0.10");
    }
}

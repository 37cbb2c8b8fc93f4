//! The product catalog: what can be quoted, with a price per currency.

use chrono::{DateTime, Utc};
use uuid::Uuid;

use crate::currency::CurrencyCode;
use crate::money::Money;
use crate::name::{Name, Title};
use crate::pricing::Percent;
use crate::validation::Invalid;

/// A product's longer description.
pub type ProductDescription = Name<5000>;

/// A product's code (SKU): 1 to 64 letters, digits, `-`, `_` or `.`, kept as typed and unique
/// without regard to case.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ProductCode(String);

impl ProductCode {
    pub const MAX: usize = 64;

    /// # Errors
    /// `Required` when blank, `TooLong` past 64 characters, `InvalidType` with other
    /// characters.
    pub fn parse(input: &str) -> Result<Self, Invalid> {
        let code = input.trim();
        if code.is_empty() {
            return Err(Invalid::Required);
        }
        if code.chars().count() > Self::MAX {
            return Err(Invalid::TooLong { max: Self::MAX });
        }
        if !code
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
        {
            return Err(Invalid::InvalidType);
        }
        Ok(ProductCode(code.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The form its uniqueness is checked in.
    pub fn key(&self) -> String {
        self.0.to_ascii_uppercase()
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Product {
    pub id: Uuid,
    pub code: ProductCode,
    pub name: Title,
    pub description: Option<ProductDescription>,
    /// At most one price per currency.
    pub prices: Vec<Money>,
    /// The tax rate a quote line of it takes unless the line says otherwise.
    pub tax_rate: Percent,
    /// Inactive products cannot be quoted.
    pub active: bool,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub version: i32,
}

impl Product {
    /// Its price in `currency`, if it has one.
    pub fn price_in(&self, currency: CurrencyCode) -> Option<Money> {
        self.prices
            .iter()
            .copied()
            .find(|p| p.currency() == currency)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_plain() {
        assert_eq!(ProductCode::parse(" TNR-100 ").unwrap().as_str(), "TNR-100");
        assert_eq!(ProductCode::parse("tnr-100").unwrap().key(), "TNR-100");
        assert_eq!(ProductCode::parse("a b"), Err(Invalid::InvalidType));
        assert_eq!(ProductCode::parse(""), Err(Invalid::Required));
        assert!(ProductCode::parse(&"x".repeat(65)).is_err());
    }
}

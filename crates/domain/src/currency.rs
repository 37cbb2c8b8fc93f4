//! Currencies: ISO 4217 codes with their minor units.

use std::fmt;

use crate::validation::Invalid;

/// Every ISO 4217 currency in use (List One, as of 2026), with its minor units (decimals),
/// sorted by code. Fund codes (`BOV`, `CLF`, `USN`, …) are kept; precious metals, bond-market
/// units, `XDR`, `XSU`, `XUA` and the `XTS`/`XXX` placeholders have no minor units and are not
/// money a deal is priced in; replaced currencies (`HRK`, `BGN`, `ANG`, `SLL`, `ZWL`) are gone.
const CURRENCIES: [(&str, u8); 165] = [
    ("AED", 2),
    ("AFN", 2),
    ("ALL", 2),
    ("AMD", 2),
    ("AOA", 2),
    ("ARS", 2),
    ("AUD", 2),
    ("AWG", 2),
    ("AZN", 2),
    ("BAM", 2),
    ("BBD", 2),
    ("BDT", 2),
    ("BHD", 3),
    ("BIF", 0),
    ("BMD", 2),
    ("BND", 2),
    ("BOB", 2),
    ("BOV", 2),
    ("BRL", 2),
    ("BSD", 2),
    ("BTN", 2),
    ("BWP", 2),
    ("BYN", 2),
    ("BZD", 2),
    ("CAD", 2),
    ("CDF", 2),
    ("CHE", 2),
    ("CHF", 2),
    ("CHW", 2),
    ("CLF", 4),
    ("CLP", 0),
    ("CNY", 2),
    ("COP", 2),
    ("COU", 2),
    ("CRC", 2),
    ("CUC", 2),
    ("CUP", 2),
    ("CVE", 2),
    ("CZK", 2),
    ("DJF", 0),
    ("DKK", 2),
    ("DOP", 2),
    ("DZD", 2),
    ("EGP", 2),
    ("ERN", 2),
    ("ETB", 2),
    ("EUR", 2),
    ("FJD", 2),
    ("FKP", 2),
    ("GBP", 2),
    ("GEL", 2),
    ("GHS", 2),
    ("GIP", 2),
    ("GMD", 2),
    ("GNF", 0),
    ("GTQ", 2),
    ("GYD", 2),
    ("HKD", 2),
    ("HNL", 2),
    ("HTG", 2),
    ("HUF", 2),
    ("IDR", 2),
    ("ILS", 2),
    ("INR", 2),
    ("IQD", 3),
    ("IRR", 2),
    ("ISK", 0),
    ("JMD", 2),
    ("JOD", 3),
    ("JPY", 0),
    ("KES", 2),
    ("KGS", 2),
    ("KHR", 2),
    ("KMF", 0),
    ("KPW", 2),
    ("KRW", 0),
    ("KWD", 3),
    ("KYD", 2),
    ("KZT", 2),
    ("LAK", 2),
    ("LBP", 2),
    ("LKR", 2),
    ("LRD", 2),
    ("LSL", 2),
    ("LYD", 3),
    ("MAD", 2),
    ("MDL", 2),
    ("MGA", 2),
    ("MKD", 2),
    ("MMK", 2),
    ("MNT", 2),
    ("MOP", 2),
    ("MRU", 2),
    ("MUR", 2),
    ("MVR", 2),
    ("MWK", 2),
    ("MXN", 2),
    ("MXV", 2),
    ("MYR", 2),
    ("MZN", 2),
    ("NAD", 2),
    ("NGN", 2),
    ("NIO", 2),
    ("NOK", 2),
    ("NPR", 2),
    ("NZD", 2),
    ("OMR", 3),
    ("PAB", 2),
    ("PEN", 2),
    ("PGK", 2),
    ("PHP", 2),
    ("PKR", 2),
    ("PLN", 2),
    ("PYG", 0),
    ("QAR", 2),
    ("RON", 2),
    ("RSD", 2),
    ("RUB", 2),
    ("RWF", 0),
    ("SAR", 2),
    ("SBD", 2),
    ("SCR", 2),
    ("SDG", 2),
    ("SEK", 2),
    ("SGD", 2),
    ("SHP", 2),
    ("SLE", 2),
    ("SOS", 2),
    ("SRD", 2),
    ("SSP", 2),
    ("STN", 2),
    ("SVC", 2),
    ("SYP", 2),
    ("SZL", 2),
    ("THB", 2),
    ("TJS", 2),
    ("TMT", 2),
    ("TND", 3),
    ("TOP", 2),
    ("TRY", 2),
    ("TTD", 2),
    ("TWD", 2),
    ("TZS", 2),
    ("UAH", 2),
    ("UGX", 0),
    ("USD", 2),
    ("USN", 2),
    ("UYI", 0),
    ("UYU", 2),
    ("UYW", 4),
    ("UZS", 2),
    ("VED", 2),
    ("VES", 2),
    ("VND", 0),
    ("VUV", 0),
    ("WST", 2),
    ("XAF", 0),
    ("XCD", 2),
    ("XCG", 2),
    ("XOF", 0),
    ("XPF", 0),
    ("YER", 2),
    ("ZAR", 2),
    ("ZMW", 2),
    ("ZWG", 2),
];

/// The codes of [`CURRENCIES`], in its order.
const fn codes() -> [&'static str; CURRENCIES.len()] {
    let mut codes = [""; CURRENCIES.len()];
    let mut i = 0;
    while i < CURRENCIES.len() {
        codes[i] = CURRENCIES[i].0;
        i += 1;
    }
    codes
}

/// An active ISO 4217 currency code (`CNY`, `USD`, …), upper-case, knowing its minor units.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct CurrencyCode {
    code: &'static str,
    minor_units: u8,
}

impl CurrencyCode {
    /// Every active code, sorted: the names alone, for code lists that take strings (the
    /// conditions of automation rules). Derived from the one table, so never out of step.
    pub const CODES: [&'static str; CURRENCIES.len()] = codes();

    /// Reads a code in any case, with surrounding whitespace: ` cny ` is `CNY`.
    ///
    /// # Errors
    /// `Required` when blank, `InvalidCurrency` when it is not an active code.
    pub fn parse(input: &str) -> Result<Self, Invalid> {
        let code = input.trim().to_ascii_uppercase();
        if code.is_empty() {
            return Err(Invalid::Required);
        }
        CURRENCIES
            .binary_search_by(|(known, _)| known.cmp(&code.as_str()))
            .ok()
            .and_then(|i| CURRENCIES.get(i))
            .map(|&(code, minor_units)| CurrencyCode { code, minor_units })
            .ok_or(Invalid::InvalidCurrency)
    }

    /// Every active currency, sorted by code (for the OpenAPI document and pickers).
    pub fn all() -> impl Iterator<Item = CurrencyCode> {
        CURRENCIES
            .iter()
            .map(|&(code, minor_units)| CurrencyCode { code, minor_units })
    }

    pub fn as_str(self) -> &'static str {
        self.code
    }

    /// How many decimals an amount in this currency has: 2 for `CNY`, 0 for `JPY`, 3 for `KWD`.
    pub fn minor_units(self) -> u32 {
        u32::from(self.minor_units)
    }
}

impl fmt::Display for CurrencyCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code)
    }
}

impl AsRef<str> for CurrencyCode {
    fn as_ref(&self) -> &str {
        self.code
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn knows_the_minor_units() {
        let units = |code: &str| CurrencyCode::parse(code).unwrap().minor_units();
        assert_eq!(units("CNY"), 2);
        assert_eq!(units("USD"), 2);
        assert_eq!(units("EUR"), 2);
        assert_eq!(units("JPY"), 0);
        assert_eq!(units("KRW"), 0);
        assert_eq!(units("KWD"), 3);
        assert_eq!(units("BHD"), 3);
        assert_eq!(units("CLF"), 4);
    }

    #[test]
    fn the_codes_are_the_table_s() {
        let all: Vec<&str> = CurrencyCode::all().map(CurrencyCode::as_str).collect();
        assert_eq!(CurrencyCode::CODES.as_slice(), all.as_slice());
    }

    #[test]
    fn accepts_any_case_and_trims() {
        assert_eq!(CurrencyCode::parse(" cny ").unwrap().as_str(), "CNY");
        assert_eq!(CurrencyCode::parse("Usd").unwrap().to_string(), "USD");
    }

    #[test]
    fn refuses_unknown_withdrawn_and_non_money_codes() {
        for bad in [
            "RMB", "US", "USDT", "BTC", "HRK", "DEM", "XAU", "XXX", "XTS", "¥", "156",
        ] {
            assert_eq!(
                CurrencyCode::parse(bad),
                Err(Invalid::InvalidCurrency),
                "{bad}"
            );
        }
        assert_eq!(CurrencyCode::parse(""), Err(Invalid::Required));
    }

    #[test]
    fn the_table_is_sorted_unique_and_well_formed() {
        assert!(
            CURRENCIES.windows(2).all(|w| w[0].0 < w[1].0),
            "sorted and unique"
        );
        for currency in CurrencyCode::all() {
            let code = currency.as_str();
            assert!(
                code.len() == 3 && code.bytes().all(|b| b.is_ascii_uppercase()),
                "{code}"
            );
            assert!(currency.minor_units() <= 4, "{code}");
            assert_eq!(CurrencyCode::parse(code), Ok(currency));
        }
    }
}

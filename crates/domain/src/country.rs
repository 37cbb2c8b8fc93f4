//! Countries: ISO 3166-1 alpha-2 codes.

use std::fmt;

use crate::validation::Invalid;

/// An officially assigned ISO 3166-1 alpha-2 country code (`CN`, `US`, …), upper-case.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct CountryCode(&'static str);

impl CountryCode {
    /// Every officially assigned ISO 3166-1 alpha-2 code, sorted.
    pub const CODES: [&'static str; 249] = [
        "AD", "AE", "AF", "AG", "AI", "AL", "AM", "AO", "AQ", "AR", "AS", "AT", "AU", "AW", "AX",
        "AZ", "BA", "BB", "BD", "BE", "BF", "BG", "BH", "BI", "BJ", "BL", "BM", "BN", "BO", "BQ",
        "BR", "BS", "BT", "BV", "BW", "BY", "BZ", "CA", "CC", "CD", "CF", "CG", "CH", "CI", "CK",
        "CL", "CM", "CN", "CO", "CR", "CU", "CV", "CW", "CX", "CY", "CZ", "DE", "DJ", "DK", "DM",
        "DO", "DZ", "EC", "EE", "EG", "EH", "ER", "ES", "ET", "FI", "FJ", "FK", "FM", "FO", "FR",
        "GA", "GB", "GD", "GE", "GF", "GG", "GH", "GI", "GL", "GM", "GN", "GP", "GQ", "GR", "GS",
        "GT", "GU", "GW", "GY", "HK", "HM", "HN", "HR", "HT", "HU", "ID", "IE", "IL", "IM", "IN",
        "IO", "IQ", "IR", "IS", "IT", "JE", "JM", "JO", "JP", "KE", "KG", "KH", "KI", "KM", "KN",
        "KP", "KR", "KW", "KY", "KZ", "LA", "LB", "LC", "LI", "LK", "LR", "LS", "LT", "LU", "LV",
        "LY", "MA", "MC", "MD", "ME", "MF", "MG", "MH", "MK", "ML", "MM", "MN", "MO", "MP", "MQ",
        "MR", "MS", "MT", "MU", "MV", "MW", "MX", "MY", "MZ", "NA", "NC", "NE", "NF", "NG", "NI",
        "NL", "NO", "NP", "NR", "NU", "NZ", "OM", "PA", "PE", "PF", "PG", "PH", "PK", "PL", "PM",
        "PN", "PR", "PS", "PT", "PW", "PY", "QA", "RE", "RO", "RS", "RU", "RW", "SA", "SB", "SC",
        "SD", "SE", "SG", "SH", "SI", "SJ", "SK", "SL", "SM", "SN", "SO", "SR", "SS", "ST", "SV",
        "SX", "SY", "SZ", "TC", "TD", "TF", "TG", "TH", "TJ", "TK", "TL", "TM", "TN", "TO", "TR",
        "TT", "TV", "TW", "TZ", "UA", "UG", "UM", "US", "UY", "UZ", "VA", "VC", "VE", "VG", "VI",
        "VN", "VU", "WF", "WS", "YE", "YT", "ZA", "ZM", "ZW",
    ];

    /// Reads a code in any case, with surrounding whitespace: ` cn ` is `CN`.
    ///
    /// # Errors
    /// `Required` when blank, `InvalidCountry` when it is not an assigned code.
    pub fn parse(input: &str) -> Result<Self, Invalid> {
        let code = input.trim().to_ascii_uppercase();
        if code.is_empty() {
            return Err(Invalid::Required);
        }
        Self::CODES
            .binary_search(&code.as_str())
            .ok()
            .and_then(|i| Self::CODES.get(i).copied())
            .map(CountryCode)
            .ok_or(Invalid::InvalidCountry)
    }

    pub fn as_str(self) -> &'static str {
        self.0
    }
}

impl fmt::Display for CountryCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.0)
    }
}

impl AsRef<str> for CountryCode {
    fn as_ref(&self) -> &str {
        self.0
    }
}

crate::serde_str::serde_as_str!(CountryCode, CountryCode::parse);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_any_case_and_trims() {
        assert_eq!(CountryCode::parse("cn").unwrap().as_str(), "CN");
        assert_eq!(CountryCode::parse(" Us ").unwrap().as_str(), "US");
        assert_eq!(CountryCode::parse("AX").unwrap().to_string(), "AX");
        assert_eq!(CountryCode::parse("zw").unwrap().as_str(), "ZW");
    }

    #[test]
    fn refuses_unassigned_and_other_forms() {
        for bad in ["UK", "EU", "XK", "ZZ", "CHN", "C", "156", "c n", "中国"] {
            assert_eq!(
                CountryCode::parse(bad),
                Err(Invalid::InvalidCountry),
                "{bad}"
            );
        }
        assert_eq!(CountryCode::parse("  "), Err(Invalid::Required));
    }

    #[test]
    fn the_list_is_sorted_unique_and_well_formed() {
        assert!(
            CountryCode::CODES.windows(2).all(|w| w[0] < w[1]),
            "sorted and unique"
        );
        for code in CountryCode::CODES {
            assert!(
                code.len() == 2 && code.bytes().all(|b| b.is_ascii_uppercase()),
                "{code}"
            );
            assert_eq!(CountryCode::parse(code).unwrap().as_str(), code);
        }
    }
}

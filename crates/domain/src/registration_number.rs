//! Company registration numbers, checked where the country has a checksum.

use std::fmt;

use crate::country::CountryCode;
use crate::validation::Invalid;

/// A company's registration number, upper-case with spaces removed.
///
/// For China (`CN`) it is the 18-character unified social credit code of GB 32100-2015, with
/// its check character verified. Elsewhere (or with no country) it is 2 to 32 ASCII letters,
/// digits and `-` `.` `/`, as registries write them.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RegistrationNumber(String);

/// The characters of a unified social credit code, in the order of their values 0..=30
/// (no I, O, S, V, Z).
const USCC_CHARSET: &[u8; 31] = b"0123456789ABCDEFGHJKLMNPQRTUWXY";
/// The weights of the first 17 characters: 3^i mod 31.
const USCC_WEIGHTS: [u32; 17] = [
    1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28,
];
const USCC_LEN: usize = 18;

impl RegistrationNumber {
    pub const MIN_LEN: usize = 2;
    pub const MAX_LEN: usize = 32;

    /// Reads a registration number for a company in `country`. Surrounding and inner spaces
    /// are dropped and letters upper-cased first.
    ///
    /// # Errors
    /// `Required` when blank. For `CN`, `InvalidRegistrationNumber` for a wrong length,
    /// character or check character. Otherwise `InvalidRegistrationNumber` for a character
    /// other than ASCII letters, digits, `-`, `.`, `/` and spaces, `TooShort` under 2 and
    /// `TooLong` past 32 characters.
    pub fn parse(input: &str, country: Option<&CountryCode>) -> Result<Self, Invalid> {
        let normalized: String = input
            .trim()
            .chars()
            .filter(|c| *c != ' ')
            .map(|c| c.to_ascii_uppercase())
            .collect();
        if normalized.is_empty() {
            return Err(Invalid::Required);
        }
        if crate::masking::is_masked(&normalized) {
            return Err(Invalid::Masked);
        }
        if country.is_some_and(|c| c.as_str() == "CN") {
            return if is_valid_uscc(&normalized) {
                Ok(RegistrationNumber(normalized))
            } else {
                Err(Invalid::InvalidRegistrationNumber)
            };
        }
        if !normalized
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '.' | '/'))
        {
            return Err(Invalid::InvalidRegistrationNumber);
        }
        if normalized.len() < Self::MIN_LEN {
            return Err(Invalid::TooShort { min: Self::MIN_LEN });
        }
        if normalized.len() > Self::MAX_LEN {
            return Err(Invalid::TooLong { max: Self::MAX_LEN });
        }
        Ok(RegistrationNumber(normalized))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn into_string(self) -> String {
        self.0
    }
}

impl fmt::Display for RegistrationNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The value (0..=30) of a unified social credit code character.
fn uscc_value(c: u8) -> Option<u32> {
    USCC_CHARSET
        .iter()
        .position(|&known| known == c)
        .and_then(|i| u32::try_from(i).ok())
}

/// The check character of a unified social credit code from its first 17 characters;
/// `None` when there are not 17 or one is outside the charset.
fn uscc_check_char(first17: &[u8]) -> Option<u8> {
    if first17.len() != USCC_WEIGHTS.len() {
        return None;
    }
    let mut sum = 0;
    for (&c, weight) in first17.iter().zip(USCC_WEIGHTS) {
        sum += uscc_value(c)? * weight;
    }
    let check = (31 - sum % 31) % 31;
    USCC_CHARSET.get(usize::try_from(check).ok()?).copied()
}

/// Whether `code` (already upper-case) is an 18-character unified social credit code with the
/// right check character.
fn is_valid_uscc(code: &str) -> bool {
    let bytes = code.as_bytes();
    match bytes.split_last() {
        Some((&check, first17)) if bytes.len() == USCC_LEN => {
            uscc_check_char(first17) == Some(check)
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cn() -> CountryCode {
        CountryCode::parse("CN").unwrap()
    }

    /// Completes 17 characters into a valid code.
    fn with_check(first17: &str) -> String {
        let check = uscc_check_char(first17.as_bytes()).unwrap();
        format!("{first17}{}", char::from(check))
    }

    /// Published codes of real companies, verified with the algorithm under test.
    const KNOWN_VALID: [&str; 6] = [
        "91350100M000100Y43",
        "911100001000130007",
        "91440300708461136T",
        "91310000607216596U",
        "91110108551385082Q",
        "914403001922038216",
    ];

    #[test]
    fn weights_are_powers_of_three_mod_31() {
        let mut w = 1;
        for weight in USCC_WEIGHTS {
            assert_eq!(weight, w);
            w = w * 3 % 31;
        }
    }

    #[test]
    fn accepts_real_unified_social_credit_codes() {
        for code in KNOWN_VALID {
            assert_eq!(
                RegistrationNumber::parse(code, Some(&cn()))
                    .unwrap()
                    .as_str(),
                code
            );
        }
        let computed = with_check("91110000MA01ABCD1");
        assert!(
            RegistrationNumber::parse(&computed, Some(&cn())).is_ok(),
            "{computed}"
        );
    }

    #[test]
    fn normalizes_case_and_spaces() {
        let parsed = RegistrationNumber::parse(" 9135 0100 m000 100y 43 ", Some(&cn())).unwrap();
        assert_eq!(parsed.as_str(), "91350100M000100Y43");
    }

    #[test]
    fn refuses_wrong_check_length_or_charset() {
        let bad = [
            "91350100M000100Y44",  // wrong check character
            "91350100M000100Y4",   // 17 characters
            "91350100M000100Y433", // 19 characters
            "91350100M000100I43",  // I is not in the charset
            "91350100M000100Y4O",  // nor is O
            "91350100-M000100Y4",  // punctuation
            "９1350100M000100Y43", // full-width digit
        ];
        for bad in bad {
            let result = RegistrationNumber::parse(bad, Some(&cn()));
            assert_eq!(result, Err(Invalid::InvalidRegistrationNumber), "{bad}");
        }
        assert_eq!(
            RegistrationNumber::parse("   ", Some(&cn())),
            Err(Invalid::Required)
        );
    }

    #[test]
    fn every_single_character_change_is_caught() {
        let code = KNOWN_VALID[0].as_bytes();
        for i in 0..code.len() {
            for &c in USCC_CHARSET.iter().filter(|&&c| c != code[i]) {
                let mut changed = code.to_vec();
                changed[i] = c;
                let changed = String::from_utf8(changed).unwrap();
                assert!(!is_valid_uscc(&changed), "{changed}");
            }
        }
    }

    #[test]
    fn other_countries_take_common_registry_formats() {
        let us = CountryCode::parse("US").unwrap();
        let gb = CountryCode::parse("GB").unwrap();
        let parse = RegistrationNumber::parse;
        assert_eq!(
            parse("12-3456789", Some(&us)).unwrap().as_str(),
            "12-3456789"
        );
        assert_eq!(parse("sc 123456", Some(&gb)).unwrap().as_str(), "SC123456");
        assert_eq!(parse("HRB 12345/B", None).unwrap().as_str(), "HRB12345/B");
        assert_eq!(parse("B.123.456", None).unwrap().as_str(), "B.123.456");
        assert_eq!(parse("1", None), Err(Invalid::TooShort { min: 2 }));
        assert_eq!(
            parse(&"1".repeat(33), None),
            Err(Invalid::TooLong { max: 32 })
        );
        assert_eq!(
            parse("12_34", None),
            Err(Invalid::InvalidRegistrationNumber)
        );
        assert_eq!(
            parse("注册号123", None),
            Err(Invalid::InvalidRegistrationNumber)
        );
        assert_eq!(parse("", None), Err(Invalid::Required));
    }
}

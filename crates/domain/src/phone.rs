//! Phone numbers: read in any common format, kept in E.164 (`+8613800138000`).

use std::fmt;

use phonenumber::PhoneNumber;
use phonenumber::country::Id;
use phonenumber::metadata::DATABASE;

use crate::country::CountryCode;
use crate::validation::Invalid;

/// The region whose numbering plan applies to a number written without a country code
/// (`RAPPORT_DEFAULT_REGION`, `CN` or `US`): a region the phone number metadata knows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Region {
    id: Id,
    calling_code: u16,
}

impl Region {
    /// Reads a region code in any case (`cn`, `US`). Besides ISO 3166-1 countries, the
    /// metadata knows a few phone-only regions such as `AC` (Ascension) and `XK` (Kosovo).
    ///
    /// # Errors
    /// `Required` when blank, `InvalidCountry` for a code with no numbering plan.
    pub fn parse(input: &str) -> Result<Self, Invalid> {
        let code = input.trim().to_ascii_uppercase();
        if code.is_empty() {
            return Err(Invalid::Required);
        }
        let id: Id = code.parse().map_err(|_| Invalid::InvalidCountry)?;
        let meta = DATABASE.by_id(id.as_ref()).ok_or(Invalid::InvalidCountry)?;
        Ok(Region {
            id,
            calling_code: meta.country_code(),
        })
    }

    /// The region of a country, when the country has a numbering plan of its own (not every
    /// ISO territory does: `AQ`, `BV`, `HM`, …).
    ///
    /// # Errors
    /// `InvalidCountry` when it has none.
    pub fn for_country(country: CountryCode) -> Result<Self, Invalid> {
        Region::parse(country.as_str())
    }

    pub fn as_str(&self) -> &str {
        self.id.as_ref()
    }

    /// The international calling code: 86 for `CN`, 1 for `US`.
    pub fn calling_code(self) -> u16 {
        self.calling_code
    }

    pub fn id(self) -> Id {
        self.id
    }
}

impl From<Region> for Id {
    fn from(region: Region) -> Id {
        region.id
    }
}

impl fmt::Display for Region {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A valid phone number in E.164 form: `+`, the calling code, the national significant
/// number. Two spellings of one number compare equal.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Phone {
    e164: String,
    /// Where the national significant number starts in `e164`.
    national_at: usize,
}

impl Phone {
    /// The longest input read; anything longer is no phone number.
    pub const MAX_INPUT_LEN: usize = 64;

    /// Reads a phone number written in any common national or international format:
    /// `138 0013 8000`, `(415) 555-2671`, `+86 138-0013-8000`, `0086 138 0013 8000`,
    /// `tel:+1-415-555-2671`, full-width `＋８６ １３８…`. A number without a country code is
    /// read by the numbering plan of `default_region`; one after the region's international
    /// call prefix (`00`, `011`) or with `+` by its own country's.
    ///
    /// # Errors
    /// `Required` when blank, `TooLong` past 64 characters, `InvalidPhone` when it is not a
    /// valid number (a possible-looking but unassigned number too) or carries an extension,
    /// which E.164 cannot hold.
    pub fn parse(input: &str, default_region: Region) -> Result<Self, Invalid> {
        let input = input.trim();
        if input.is_empty() {
            return Err(Invalid::Required);
        }
        if crate::masking::is_masked(input) {
            return Err(Invalid::Masked);
        }
        if input.chars().count() > Self::MAX_INPUT_LEN {
            return Err(Invalid::TooLong {
                max: Self::MAX_INPUT_LEN,
            });
        }
        let input = halfwidth(input);
        let number = read(&input, default_region).ok_or(Invalid::InvalidPhone)?;
        if number.extension().is_some() || !phonenumber::is_valid(&number) {
            return Err(Invalid::InvalidPhone);
        }
        let phone = Phone::from_number(&number);
        // Only keep what reads back as itself, so a stored number always parses again.
        match read(&phone.e164, default_region) {
            Some(again) if Phone::from_number(&again) == phone => Ok(phone),
            _ => Err(Invalid::InvalidPhone),
        }
    }

    /// A number as stored or answered: the E.164 form that [`Phone::parse`] made. Only its shape
    /// and calling code are checked, not the numbering plan again: every read of a customer
    /// reads its phones, and the full parse costs two passes of `phonenumber`'s regular
    /// expressions each, which showed as a tenth of a get's time in the profile.
    ///
    /// # Errors
    /// `InvalidPhone` when it is not `+`, a known calling code and at most 15 digits in all.
    pub fn from_e164(stored: &str) -> Result<Self, Invalid> {
        let digits = stored.strip_prefix('+').ok_or(Invalid::InvalidPhone)?;
        if !(4..=15).contains(&digits.len()) || !digits.bytes().all(|b| b.is_ascii_digit()) {
            return Err(Invalid::InvalidPhone);
        }
        // Calling codes are prefix-free (ITU E.164): the first one that exists is the one.
        let code_len = (1..=3)
            .find(|&n| {
                digits
                    .get(..n)
                    .and_then(|code| code.parse::<u16>().ok())
                    .is_some_and(|code| DATABASE.by_code(&code).is_some())
            })
            .ok_or(Invalid::InvalidPhone)?;
        Ok(Phone {
            e164: stored.to_owned(),
            national_at: 1 + code_len,
        })
    }

    fn from_number(number: &PhoneNumber) -> Self {
        let code = number.code().value().to_string();
        let national = number.national().to_string();
        Phone {
            e164: format!("+{code}{national}"),
            national_at: 1 + code.len(),
        }
    }

    /// The E.164 form: `+8613800138000`.
    pub fn as_str(&self) -> &str {
        &self.e164
    }

    /// The E.164 form without `+`: `8613800138000`.
    pub fn digits(&self) -> &str {
        self.e164.get(1..).unwrap_or_default()
    }

    /// The national significant number, without calling code or trunk prefix:
    /// `13800138000`. Italian numbers keep their leading zero (`0612345678`).
    pub fn national_digits(&self) -> &str {
        self.e164.get(self.national_at..).unwrap_or_default()
    }

    pub fn into_string(self) -> String {
        self.e164
    }
}

/// Parses with the `phonenumber` crate, working around its handling of international input:
/// given a default region, phonenumber 0.3 strips a national prefix by that region's rules even
/// when the number names another country (`+86 138…` read with `US` loses its `1`). A number
/// with another country's code is therefore read again by its own country's rules.
fn read(input: &str, region: Region) -> Option<PhoneNumber> {
    if input.starts_with('+') {
        return phonenumber::parse(None, input).ok();
    }
    let number = phonenumber::parse(Some(region.id), input).ok()?;
    let code = number.code().value();
    if code == region.calling_code {
        return Some(number);
    }
    // Another country's code, after an international call prefix (`00`, `011`) or in a
    // `tel:` URI: replace the prefix with `+` and let the number pick its own rules.
    let international = match without_call_prefix(input, region) {
        Some(plus) => phonenumber::parse(None, plus),
        None => phonenumber::parse(None, input),
    };
    international
        .ok()
        .filter(|again| again.code().value() == code)
}

/// Full-width forms (`＋８６ １３８…`, as Chinese and Japanese input methods type them) as
/// their ASCII characters, which the parser expects.
fn halfwidth(input: &str) -> String {
    input
        .chars()
        .map(|c| match c {
            '\u{FF01}'..='\u{FF5E}' => char::from_u32(u32::from(c) - 0xFEE0).unwrap_or(c),
            '\u{3000}' => ' ',
            _ => c,
        })
        .collect()
}

/// `0039 06 1234 5678` dialled from `CN` → `+390612345678`: the digits with the region's
/// international call prefix replaced by `+`. `None` when the input is not plain digits and
/// separators starting with that prefix.
fn without_call_prefix(input: &str, region: Region) -> Option<String> {
    if !input
        .chars()
        .all(|c| c.is_ascii_digit() || matches!(c, ' ' | '-' | '.' | '(' | ')' | '/'))
    {
        return None;
    }
    let digits: String = input.chars().filter(char::is_ascii_digit).collect();
    let prefix = DATABASE.by_id(region.as_str())?.international_prefix()?;
    let found = prefix.find(&digits)?;
    let rest = digits.get(found.end()..)?;
    (found.start() == 0).then(|| format!("+{rest}"))
}

impl fmt::Display for Phone {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.e164)
    }
}

impl AsRef<str> for Phone {
    fn as_ref(&self) -> &str {
        &self.e164
    }
}

// Stored and answered phones are E.164. Input from clients is read by `Phone::parse` with the
// caller's region, never through serde.
crate::serde_str::serde_as_str!(Phone, Phone::from_e164);

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    fn region(code: &str) -> Region {
        Region::parse(code).unwrap()
    }

    fn e164(input: &str, default_region: &str) -> Result<String, Invalid> {
        Phone::parse(input, region(default_region)).map(Phone::into_string)
    }

    #[test]
    fn reads_national_numbers_by_the_default_region() {
        assert_eq!(e164("138 0013 8000", "CN").unwrap(), "+8613800138000");
        assert_eq!(e164("(415) 555-2671", "US").unwrap(), "+14155552671");
        assert_eq!(e164("1 415 555 2671", "US").unwrap(), "+14155552671");
        assert_eq!(e164("010-6552 9988", "CN").unwrap(), "+861065529988");
        assert_eq!(e164("020 7946 0958", "GB").unwrap(), "+442079460958");
        assert_eq!(e164("06 1234 5678", "IT").unwrap(), "+390612345678");
    }

    #[test]
    fn reads_international_numbers_whatever_the_region() {
        for r in ["CN", "US", "GB", "IT", "DE", "JP", "RU", "AU", "BR"] {
            assert_eq!(
                e164("+86 138-0013-8000", r).unwrap(),
                "+8613800138000",
                "{r}"
            );
            assert_eq!(e164("+1 (415) 555-2671", r).unwrap(), "+14155552671", "{r}");
            assert_eq!(e164("+39 06 1234 5678", r).unwrap(), "+390612345678", "{r}");
            assert_eq!(
                e164("tel:+44-20-7946-0958", r).unwrap(),
                "+442079460958",
                "{r}"
            );
        }
        assert_eq!(e164("+44 (0)20 7946 0958", "CN").unwrap(), "+442079460958");
        assert_eq!(e164("+86 (0)10 6552 9988", "US").unwrap(), "+861065529988");
    }

    #[test]
    fn reads_full_width_forms() {
        assert_eq!(
            e164("＋８６ １３８－００１３－８０００", "US").unwrap(),
            "+8613800138000"
        );
        assert_eq!(
            e164("（０１０）６５５２\u{3000}９９８８", "CN").unwrap(),
            "+861065529988"
        );
    }

    #[test]
    fn reads_international_call_prefixes_of_the_default_region() {
        assert_eq!(e164("0086 138 0013 8000", "GB").unwrap(), "+8613800138000");
        assert_eq!(e164("00 39 06 1234 5678", "CN").unwrap(), "+390612345678");
        assert_eq!(
            e164("011 86 138 0013 8000", "US").unwrap(),
            "+8613800138000"
        );
        assert_eq!(e164("0011 1 415 555 2671", "AU").unwrap(), "+14155552671");
    }

    #[test]
    fn exposes_digits_for_search() {
        let phone = Phone::parse("138 0013 8000", region("CN")).unwrap();
        assert_eq!(phone.as_str(), "+8613800138000");
        assert_eq!(phone.digits(), "8613800138000");
        assert_eq!(phone.national_digits(), "13800138000");
        let rome = Phone::parse("+39 06 1234 5678", region("US")).unwrap();
        assert_eq!(rome.national_digits(), "0612345678");
        let london = Phone::parse("020 7946 0958", region("GB")).unwrap();
        assert_eq!(london.national_digits(), "2079460958");
    }

    #[test]
    fn refuses_what_is_no_valid_number() {
        let bad = [
            ("12345", "CN"),
            ("138 0013 800", "CN"),
            ("555-2671", "US"),
            ("(415) 555-267", "US"),
            ("+86 123", "US"),
            ("+999 1234 5678", "US"),
            ("abc", "US"),
            ("+", "US"),
            ("415-555-2671 ext. 12", "US"),
            ("99999999999999999999999", "US"),
        ];
        for (input, r) in bad {
            assert_eq!(e164(input, r), Err(Invalid::InvalidPhone), "{input} in {r}");
        }
        assert_eq!(e164("  ", "CN"), Err(Invalid::Required));
        assert_eq!(
            e164(&"1".repeat(65), "CN"),
            Err(Invalid::TooLong { max: 64 })
        );
    }

    #[test]
    fn regions_are_those_with_a_numbering_plan() {
        assert_eq!(region("cn").as_str(), "CN");
        assert_eq!(region(" us ").calling_code(), 1);
        assert_eq!(region("CN").calling_code(), 86);
        assert_eq!(Id::from(region("GB")), Id::GB);
        assert!(Region::parse("XK").is_ok(), "phone-only regions");
        for bad in ["ZZ", "UK", "CHN", "A"] {
            assert_eq!(Region::parse(bad), Err(Invalid::InvalidCountry), "{bad}");
        }
        assert_eq!(Region::parse(""), Err(Invalid::Required));
        let cn = CountryCode::parse("CN").unwrap();
        assert_eq!(Region::for_country(cn), Ok(region("CN")));
        let antarctica = CountryCode::parse("AQ").unwrap();
        assert_eq!(
            Region::for_country(antarctica),
            Err(Invalid::InvalidCountry)
        );
    }

    /// Every country that has a numbering plan.
    fn regions() -> Vec<Region> {
        CountryCode::CODES
            .iter()
            .filter_map(|c| Region::parse(c).ok())
            .collect()
    }

    #[test]
    fn most_countries_have_a_numbering_plan() {
        assert!(regions().len() > 240, "{}", regions().len());
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2000))]

        #[test]
        fn accepted_numbers_round_trip_through_e164(
            from in proptest::sample::select(regions()),
            again_in in proptest::sample::select(regions()),
            digits in "0?[1-9][0-9]{5,12}",
        ) {
            if let Ok(phone) = Phone::parse(&digits, from) {
                prop_assert!(phone.as_str().starts_with('+'));
                prop_assert_eq!(format!("+{}", phone.digits()), phone.as_str());
                prop_assert!(phone.digits().ends_with(phone.national_digits()));
                prop_assert_eq!(Phone::parse(phone.as_str(), again_in), Ok(phone.clone()));
                prop_assert_eq!(Phone::parse(phone.as_str(), from), Ok(phone));
            }
        }

        #[test]
        fn never_panics_on_arbitrary_text(
            r in proptest::sample::select(regions()),
            input in any::<String>(),
        ) {
            let _ = Phone::parse(&input, r);
        }

        #[test]
        fn never_panics_on_phone_like_text(
            r in proptest::sample::select(regions()),
            input in "[0-9+() .#*;:=/x-]{0,30}|(tel:|\\+)[0-9a-z;=+-]{0,30}",
        ) {
            let _ = Phone::parse(&input, r);
        }
    }
}

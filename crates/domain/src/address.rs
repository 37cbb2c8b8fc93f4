//! Postal addresses of customers.

use crate::country::CountryCode;
use crate::enums::AddressLabel;
use crate::name::Name;
use crate::validation::{Errors, Invalid, path};

/// A street line, city or region: trimmed, whitespace collapsed, at most 200 characters.
pub type AddressLine = Name<200>;
/// A postal code as written locally (`100020`, `SW1A 1AA`), at most 20 characters.
pub type PostalCode = Name<20>;

/// A postal address. `line1`, `city` and `country` are required.
#[derive(Debug, Clone, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Address {
    pub label: AddressLabel,
    pub line1: AddressLine,
    pub line2: Option<AddressLine>,
    pub city: AddressLine,
    /// Province, state or county.
    pub region: Option<AddressLine>,
    pub postal_code: Option<PostalCode>,
    pub country: CountryCode,
}

/// An address as the request sent it; `None` for an absent (or `null`) field.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RawAddress<'a> {
    pub label: Option<&'a str>,
    pub line1: Option<&'a str>,
    pub line2: Option<&'a str>,
    pub city: Option<&'a str>,
    pub region: Option<&'a str>,
    pub postal_code: Option<&'a str>,
    pub country: Option<&'a str>,
}

impl Address {
    /// Reads an address sent at `at` (`addresses[0]`), recording each bad part at its own
    /// path (`addresses[0].country`). A blank optional part counts as absent.
    ///
    /// Returns `None` when any part was refused; every refusal is in `errors` then.
    pub fn parse(raw: &RawAddress<'_>, at: &str, errors: &mut Errors) -> Option<Address> {
        let label = required(errors, at, "label", raw.label, AddressLabel::parse);
        let line1 = required(errors, at, "line1", raw.line1, AddressLine::parse);
        let line2 = optional(errors, at, "line2", raw.line2, AddressLine::parse);
        let city = required(errors, at, "city", raw.city, AddressLine::parse);
        let region = optional(errors, at, "region", raw.region, AddressLine::parse);
        let postal_code = optional(
            errors,
            at,
            "postal_code",
            raw.postal_code,
            PostalCode::parse,
        );
        let country = required(errors, at, "country", raw.country, CountryCode::parse);
        Some(Address {
            label: label?,
            line1: line1?,
            line2: line2?,
            city: city?,
            region: region?,
            postal_code: postal_code?,
            country: country?,
        })
    }
}

/// A part that must be there: absent is `Required`.
fn required<T>(
    errors: &mut Errors,
    at: &str,
    field: &str,
    input: Option<&str>,
    parse: impl FnOnce(&str) -> Result<T, Invalid>,
) -> Option<T> {
    errors.check(
        path(at, field),
        input.ok_or(Invalid::Required).and_then(parse),
    )
}

/// A part that may be absent or blank. `Some(None)` when absent, `None` when refused.
fn optional<T>(
    errors: &mut Errors,
    at: &str,
    field: &str,
    input: Option<&str>,
    parse: impl FnOnce(&str) -> Result<T, Invalid>,
) -> Option<Option<T>> {
    let input = input.filter(|s| !s.trim().is_empty());
    errors.check_opt(path(at, field), input, parse)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn beijing() -> RawAddress<'static> {
        RawAddress {
            label: Some("office"),
            line1: Some(" 朝阳区建国路 88 号 "),
            line2: Some(""),
            city: Some("北京"),
            region: None,
            postal_code: Some("100020"),
            country: Some("cn"),
        }
    }

    #[test]
    fn reads_a_complete_address() {
        let mut errors = Errors::default();
        let address = Address::parse(&beijing(), "addresses[0]", &mut errors).unwrap();
        assert!(errors.is_empty());
        assert_eq!(address.label, AddressLabel::Office);
        assert_eq!(address.line1.as_str(), "朝阳区建国路 88 号");
        assert_eq!(address.line2, None, "blank optional parts are absent");
        assert_eq!(address.region, None);
        assert_eq!(address.postal_code.unwrap().as_str(), "100020");
        assert_eq!(address.country.as_str(), "CN");
    }

    #[test]
    fn records_every_bad_part_at_its_path() {
        let long = "x".repeat(201);
        let raw = RawAddress {
            label: Some("head_office"),
            line1: None,
            city: Some(&long),
            postal_code: Some("123456789012345678901"),
            country: Some("XX"),
            ..beijing()
        };
        let mut errors = Errors::default();
        assert!(Address::parse(&raw, "addresses[1]", &mut errors).is_none());
        let errors = errors.finish().unwrap_err();
        let found: Vec<(&str, &str)> = errors
            .errors()
            .iter()
            .map(|e| (e.field.as_str(), e.invalid.code()))
            .collect();
        assert_eq!(
            found,
            [
                ("addresses[1].label", "invalid_choice"),
                ("addresses[1].line1", "required"),
                ("addresses[1].city", "too_long"),
                ("addresses[1].postal_code", "too_long"),
                ("addresses[1].country", "invalid_country"),
            ]
        );
    }

    #[test]
    fn blank_required_parts_are_required() {
        let raw = RawAddress {
            line1: Some("  "),
            city: Some(""),
            country: None,
            ..beijing()
        };
        let mut errors = Errors::default();
        assert!(Address::parse(&raw, "", &mut errors).is_none());
        let errors = errors.finish().unwrap_err();
        let fields: Vec<&str> = errors.errors().iter().map(|e| e.field.as_str()).collect();
        assert_eq!(fields, ["line1", "city", "country"]);
        assert!(
            errors
                .errors()
                .iter()
                .all(|e| e.invalid == Invalid::Required)
        );
    }
}

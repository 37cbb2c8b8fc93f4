//! Field-level validation: what is wrong ([`Invalid`]), where ([`FieldError`]), and a collector
//! ([`Errors`]) so that one answer lists every bad field of a request at once.

use std::fmt;

/// Why one value was refused. The `code` is stable and part of the public API; the API layer
/// turns it into a localized message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Invalid {
    /// A required value is missing or blank.
    Required,
    /// Longer than `max` characters (or items, for lists).
    TooLong {
        max: usize,
    },
    /// Shorter than `min` characters.
    TooShort {
        min: usize,
    },
    /// Outside the allowed numeric range.
    OutOfRange {
        min: i64,
        max: i64,
    },
    /// Not one of the allowed values of an enumeration.
    NotOneOf {
        allowed: &'static [&'static str],
    },
    InvalidEmail,
    InvalidPhone,
    InvalidCountry,
    InvalidCurrency,
    InvalidAmount,
    InvalidUrl,
    InvalidRegistrationNumber,
    InvalidTag,
    /// Not a URL slug (lower-case letters, digits and single hyphens).
    InvalidSlug,
    /// Not a language tag (`en`, `zh-CN`).
    InvalidLanguage,
    InvalidUuid,
    InvalidDate,
    /// A pipeline's stages without exactly one `won`, at least one `lost` and one `open` stage,
    /// or without a stage it has (stages are removed one by one, saying where their
    /// opportunities go).
    InvalidStages,
    /// A quantity that is not a positive decimal string with at most 4 decimals.
    InvalidQuantity,
    /// A percentage that is not a decimal string from 0 to 100 with at most 4 decimals.
    InvalidPercent,
    /// Not a code (lower-case letters, digits and underscores, up to 40).
    InvalidCode,
    /// The same value appears twice where it must be unique.
    Duplicate,
    /// An id that names no record (or none the caller can see).
    UnknownReference,
    /// A field the caller may not set (server-managed, or beyond the caller's role).
    NotAllowed,
    /// A field the API does not know (a typo would otherwise drop data silently).
    UnknownField,
    /// Wrong JSON type (a number where a string is expected, …).
    InvalidType,
    /// A secret the caller had to know and did not (the current password).
    Incorrect,
    /// A password that does not meet the policy.
    WeakPassword {
        min: usize,
    },
    /// A masked value (`+86 138****8000`) sent back as if it were the real one.
    Masked,
    /// A URL whose host is, or resolves to, a loopback, private, link-local or metadata
    /// address (where a server-side request must not go).
    PrivateAddress,
    /// A URL whose host name does not resolve.
    UnresolvableHost,
    /// A file that is not UTF-8 text.
    InvalidEncoding,
    /// A CSV row that cannot be read as the header's columns.
    InvalidCsv,
    /// An end that is not after its start (`ends_at` before `starts_at`).
    EndsBeforeStart,
}

impl Invalid {
    /// The stable, machine-readable code.
    pub fn code(&self) -> &'static str {
        match self {
            Invalid::Required => "required",
            Invalid::TooLong { .. } => "too_long",
            Invalid::TooShort { .. } => "too_short",
            Invalid::OutOfRange { .. } => "out_of_range",
            Invalid::NotOneOf { .. } => "invalid_choice",
            Invalid::InvalidEmail => "invalid_email",
            Invalid::InvalidPhone => "invalid_phone",
            Invalid::InvalidCountry => "invalid_country",
            Invalid::InvalidCurrency => "invalid_currency",
            Invalid::InvalidAmount => "invalid_amount",
            Invalid::InvalidUrl => "invalid_url",
            Invalid::InvalidRegistrationNumber => "invalid_registration_number",
            Invalid::InvalidTag => "invalid_tag",
            Invalid::InvalidSlug => "invalid_slug",
            Invalid::InvalidLanguage => "invalid_language",
            Invalid::InvalidUuid => "invalid_uuid",
            Invalid::InvalidDate => "invalid_date",
            Invalid::InvalidStages => "invalid_stages",
            Invalid::InvalidQuantity => "invalid_quantity",
            Invalid::InvalidPercent => "invalid_percent",
            Invalid::InvalidCode => "invalid_code",
            Invalid::Duplicate => "duplicate",
            Invalid::UnknownReference => "unknown_reference",
            Invalid::NotAllowed => "not_allowed",
            Invalid::UnknownField => "unknown_field",
            Invalid::InvalidType => "invalid_type",
            Invalid::Incorrect => "incorrect",
            Invalid::WeakPassword { .. } => "weak_password",
            Invalid::Masked => "masked_value",
            Invalid::PrivateAddress => "private_address",
            Invalid::UnresolvableHost => "unresolvable_host",
            Invalid::InvalidEncoding => "invalid_encoding",
            Invalid::InvalidCsv => "invalid_csv",
            Invalid::EndsBeforeStart => "ends_before_start",
        }
    }

    /// Every code [`Invalid::code`] can return, for the OpenAPI document.
    pub const CODES: &'static [&'static str] = &[
        "required",
        "too_long",
        "too_short",
        "out_of_range",
        "invalid_choice",
        "invalid_email",
        "invalid_phone",
        "invalid_country",
        "invalid_currency",
        "invalid_amount",
        "invalid_url",
        "invalid_registration_number",
        "invalid_tag",
        "invalid_slug",
        "invalid_language",
        "invalid_uuid",
        "invalid_date",
        "invalid_stages",
        "invalid_quantity",
        "invalid_percent",
        "invalid_code",
        "duplicate",
        "unknown_reference",
        "not_allowed",
        "unknown_field",
        "invalid_type",
        "incorrect",
        "weak_password",
        "masked_value",
        "private_address",
        "unresolvable_host",
        "invalid_encoding",
        "invalid_csv",
        "ends_before_start",
    ];
}

impl fmt::Display for Invalid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

impl std::error::Error for Invalid {}

/// One refused field: its path in the request (`contacts[1].phones[0].number`) and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldError {
    pub field: String,
    pub invalid: Invalid,
}

/// Reads a calendar date written `YYYY-MM-DD`.
///
/// # Errors
/// `InvalidDate`.
pub fn parse_date(input: &str) -> Result<chrono::NaiveDate, Invalid> {
    chrono::NaiveDate::parse_from_str(input.trim(), "%Y-%m-%d").map_err(|_| Invalid::InvalidDate)
}

/// Every refused field of one request. Never empty.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ValidationErrors(Vec<FieldError>);

impl ValidationErrors {
    /// One refused field.
    pub fn single(field: impl Into<String>, invalid: Invalid) -> Self {
        ValidationErrors(vec![FieldError {
            field: field.into(),
            invalid,
        }])
    }

    pub fn errors(&self) -> &[FieldError] {
        &self.0
    }

    pub fn into_errors(self) -> Vec<FieldError> {
        self.0
    }
}

impl fmt::Display for ValidationErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let parts: Vec<String> = self
            .0
            .iter()
            .map(|e| format!("{}: {}", e.field, e.invalid))
            .collect();
        write!(f, "invalid fields: {}", parts.join(", "))
    }
}

impl std::error::Error for ValidationErrors {}

/// Collects field errors while a request is parsed into domain values.
///
/// ```
/// use rapport_domain::{email::Email, validation::Errors};
/// let mut errors = Errors::default();
/// let email = errors.check("email", Email::parse("not-an-email"));
/// assert!(email.is_none());
/// assert_eq!(errors.finish().unwrap_err().errors()[0].field, "email");
/// ```
#[derive(Debug, Default)]
pub struct Errors(Vec<FieldError>);

impl Errors {
    /// Keeps the value when it is valid; records the error under `field` otherwise.
    pub fn check<T>(&mut self, field: impl Into<String>, result: Result<T, Invalid>) -> Option<T> {
        match result {
            Ok(value) => Some(value),
            Err(invalid) => {
                self.add(field, invalid);
                None
            }
        }
    }

    /// Like [`Errors::check`] for an optional input: `None` stays `None` without an error.
    pub fn check_opt<T, I>(
        &mut self,
        field: impl Into<String>,
        input: Option<I>,
        parse: impl FnOnce(I) -> Result<T, Invalid>,
    ) -> Option<Option<T>> {
        match input {
            None => Some(None),
            Some(input) => self.check(field, parse(input)).map(Some),
        }
    }

    /// Like [`Errors::check`] for a required input: `None` is `Required` at `field`.
    pub fn required<T, I>(
        &mut self,
        field: impl Into<String>,
        input: Option<I>,
        parse: impl FnOnce(I) -> Result<T, Invalid>,
    ) -> Option<T> {
        self.check(field, input.ok_or(Invalid::Required).and_then(parse))
    }

    pub fn add(&mut self, field: impl Into<String>, invalid: Invalid) {
        self.0.push(FieldError {
            field: field.into(),
            invalid,
        });
    }

    /// Takes over the errors of a nested part of the request.
    pub fn extend(&mut self, other: ValidationErrors) {
        self.0.extend(other.0);
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// # Errors
    /// Every recorded field error, when there is at least one.
    pub fn finish(self) -> Result<(), ValidationErrors> {
        if self.0.is_empty() {
            Ok(())
        } else {
            Err(ValidationErrors(self.0))
        }
    }

    /// Returns `value` when no error was recorded and `value` is present.
    ///
    /// # Errors
    /// Every recorded field error. A `None` value with no recorded error means the caller
    /// forgot to record one, which is reported as a required field at `""`.
    pub fn finish_with<T>(self, value: Option<T>) -> Result<T, ValidationErrors> {
        self.finish()?;
        value.ok_or_else(|| ValidationErrors::single("", Invalid::Required))
    }

    /// Returns the value of `result` when neither it nor this collection holds an error.
    ///
    /// # Errors
    /// The field errors of `result`, then the ones recorded here.
    pub fn finish_with_result<T>(
        self,
        result: Result<T, ValidationErrors>,
    ) -> Result<T, ValidationErrors> {
        match result {
            Ok(value) => self.finish().map(|()| value),
            Err(mut refused) => {
                refused.0.extend(self.0);
                Err(refused)
            }
        }
    }
}

/// Builds field paths the way clients address them: `contacts[1].phones[0]`.
pub fn path(parent: &str, field: &str) -> String {
    if parent.is_empty() {
        field.to_owned()
    } else {
        format!("{parent}.{field}")
    }
}

/// `contacts` + 1 → `contacts[1]`.
pub fn index(parent: &str, i: usize) -> String {
    format!("{parent}[{i}]")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn collects_every_error_in_order() {
        let mut errors = Errors::default();
        errors.add("a", Invalid::Required);
        let kept: Option<u8> = errors.check("b", Err(Invalid::InvalidEmail));
        assert!(kept.is_none());
        let kept = errors.check("c", Ok(3));
        assert_eq!(kept, Some(3));
        let all = errors.finish().unwrap_err();
        let fields: Vec<_> = all.errors().iter().map(|e| e.field.as_str()).collect();
        assert_eq!(fields, ["a", "b"]);
    }

    #[test]
    fn no_error_finishes_ok() {
        assert!(Errors::default().finish().is_ok());
    }

    #[test]
    fn paths_nest_like_clients_write_them() {
        assert_eq!(path("", "name"), "name");
        assert_eq!(path(&index("contacts", 1), "phones"), "contacts[1].phones");
        assert_eq!(
            index(&path(&index("contacts", 1), "phones"), 0),
            "contacts[1].phones[0]"
        );
    }

    #[test]
    fn every_code_is_listed() {
        let samples = [
            Invalid::Required,
            Invalid::TooLong { max: 1 },
            Invalid::TooShort { min: 1 },
            Invalid::OutOfRange { min: 0, max: 1 },
            Invalid::NotOneOf { allowed: &[] },
            Invalid::InvalidEmail,
            Invalid::InvalidPhone,
            Invalid::InvalidCountry,
            Invalid::InvalidCurrency,
            Invalid::InvalidAmount,
            Invalid::InvalidUrl,
            Invalid::InvalidRegistrationNumber,
            Invalid::InvalidTag,
            Invalid::InvalidSlug,
            Invalid::InvalidLanguage,
            Invalid::InvalidUuid,
            Invalid::InvalidDate,
            Invalid::InvalidStages,
            Invalid::InvalidQuantity,
            Invalid::InvalidPercent,
            Invalid::InvalidCode,
            Invalid::Duplicate,
            Invalid::UnknownReference,
            Invalid::NotAllowed,
            Invalid::UnknownField,
            Invalid::InvalidType,
            Invalid::Incorrect,
            Invalid::WeakPassword { min: 1 },
            Invalid::Masked,
            Invalid::PrivateAddress,
            Invalid::UnresolvableHost,
            Invalid::InvalidEncoding,
            Invalid::InvalidCsv,
            Invalid::EndsBeforeStart,
        ];
        assert_eq!(samples.len(), Invalid::CODES.len());
        for s in samples {
            assert!(
                Invalid::CODES.contains(&s.code()),
                "{} not listed",
                s.code()
            );
        }
    }
}

//! Parsers never panic: each parser of the domain crate is fed arbitrary text (any Unicode,
//! printable ASCII, number-like and long inputs), and what it accepts reads back as itself, so
//! that a stored value is always one the API would accept again. The number of cases per
//! property is proptest's (256; `PROPTEST_CASES` raises it).

// A failed property is a failed test.
#![allow(clippy::unwrap_used)]

use proptest::prelude::*;
use rapport_domain::article::{Language, Slug};
use rapport_domain::country::CountryCode;
use rapport_domain::currency::CurrencyCode;
use rapport_domain::email::Email;
use rapport_domain::import::Field;
use rapport_domain::markdown::Markdown;
use rapport_domain::money::Money;
use rapport_domain::name::{OrgName, PersonName};
use rapport_domain::password::Password;
use rapport_domain::phone::Region;
use rapport_domain::pricing::{Percent, Quantity};
use rapport_domain::product::ProductCode;
use rapport_domain::registration_number::RegistrationNumber;
use rapport_domain::search::SearchQuery;
use rapport_domain::sla::BusinessCalendar;
use rapport_domain::survey::Code;
use rapport_domain::tag::Tag;
use rapport_domain::validation::{Errors, parse_date};
use rapport_domain::web_url::WebUrl;

/// Text that parsers meet: anything, printable ASCII, number-like, and long.
fn text() -> impl Strategy<Value = String> {
    prop_oneof![
        any::<String>(),
        "[ -~]{0,64}",
        "[-+0-9.,eE ()]{0,24}",
        "[a-zA-Z0-9@._%+-]{0,40}",
        "\\PC{200,1200}",
    ]
}

/// Region and country codes, some real.
fn code() -> impl Strategy<Value = String> {
    prop_oneof![
        "[A-Z]{2,3}",
        Just("CN".to_owned()),
        Just("US".to_owned()),
        text()
    ]
}

proptest! {
    #[test]
    fn emails(input in prop_oneof![text(), " ?[a-zA-Z0-9._%+-]{1,20}@[a-zA-Z0-9-]{1,12}(\\.[a-zA-Z]{2,6}){1,2} ?"]) {
        if let Ok(email) = Email::parse(&input) {
            prop_assert_eq!(Email::parse(email.as_str()), Ok(email.clone()));
        }
    }

    #[test]
    fn names_and_tags(input in prop_oneof![text(), "[ \t]{0,2}[\\p{Han}a-zA-Z ]{1,30}[ \t]{0,2}"]) {
        if let Ok(name) = OrgName::parse(&input) {
            prop_assert_eq!(OrgName::parse(name.as_str()), Ok(name.clone()));
        }
        if let Ok(name) = PersonName::parse(&input) {
            prop_assert_eq!(PersonName::parse(name.as_str()), Ok(name.clone()));
        }
        if let Ok(tag) = Tag::parse(&input) {
            prop_assert_eq!(Tag::parse(tag.as_str()), Ok(tag.clone()));
        }
    }

    #[test]
    fn codes(input in text()) {
        if let Ok(code) = ProductCode::parse(&input) {
            prop_assert_eq!(ProductCode::parse(code.as_str()), Ok(code.clone()));
        }
        if let Ok(code) = Code::parse(&input) {
            prop_assert_eq!(Code::parse(code.as_str()), Ok(code.clone()));
        }
        if let Ok(slug) = Slug::parse(&input) {
            prop_assert_eq!(Slug::parse(slug.as_str()), Ok(slug.clone()));
        }
        let _ = Slug::from_title(&input);
        if let Ok(language) = Language::parse(&input) {
            prop_assert_eq!(Language::parse(language.as_str()), Ok(language.clone()));
        }
        let _ = Field::parse(&input);
    }

    #[test]
    fn countries_currencies_and_regions(input in code()) {
        if let Ok(country) = CountryCode::parse(&input) {
            prop_assert_eq!(CountryCode::parse(country.as_str()), Ok(country));
        }
        if let Ok(currency) = CurrencyCode::parse(&input) {
            prop_assert_eq!(CurrencyCode::parse(currency.as_str()), Ok(currency));
        }
        let _ = Region::parse(&input);
    }

    #[test]
    fn registration_numbers(input in text(), country in code()) {
        let country = CountryCode::parse(&country).ok();
        if let Ok(number) = RegistrationNumber::parse(&input, country.as_ref()) {
            prop_assert_eq!(
                RegistrationNumber::parse(number.as_str(), country.as_ref()),
                Ok(number.clone())
            );
        }
    }

    #[test]
    fn money_and_numbers(
        amount in prop_oneof![text(), " ?-?[0-9]{1,16}(\\.[0-9]{0,6})? ?", "[0-9]{1,3}(,[0-9]{3}){0,4}(\\.[0-9]{1,2})?"],
        currency in prop_oneof![code(), Just("CNY".to_owned()), Just("JPY".to_owned()), Just("usd".to_owned())],
    ) {
        if let Ok(money) = Money::parse(&amount, &currency) {
            let again = Money::parse(&money.amount_string(), money.currency().as_str());
            prop_assert_eq!(again, Ok(money));
        }
        let _ = Money::parse_amount(&amount);
        if let Ok(quantity) = Quantity::parse(&amount) {
            prop_assert_eq!(Quantity::parse(&quantity.value().to_string()), Ok(quantity));
        }
        if let Ok(percent) = Percent::parse(&amount) {
            prop_assert_eq!(Percent::parse(&percent.value().to_string()), Ok(percent));
        }
    }

    #[test]
    fn urls_dates_and_free_text(
        input in prop_oneof![text(), "(https?://)?[a-z0-9.-]{1,20}(:[0-9]{1,5})?(/[ -~]{0,20})?", "[0-9]{4}-[0-9]{2}-[0-9]{2}"],
    ) {
        if let Ok(url) = WebUrl::parse(&input) {
            prop_assert_eq!(WebUrl::parse(url.as_str()), Ok(url.clone()));
        }
        if let Ok(date) = parse_date(&input) {
            prop_assert_eq!(parse_date(&date.to_string()), Ok(date));
        }
        let _ = Markdown::parse(&input);
        let _ = Password::parse(&input).is_ok();
    }

    #[test]
    fn search_queries(input in text(), region in "[A-Z]{2}") {
        let region = Region::parse(&region).unwrap_or_else(|_| Region::parse("CN").unwrap());
        let _ = SearchQuery::parse(&input, region);
    }

    #[test]
    fn business_calendars(
        zone in text(),
        weekly in proptest::collection::vec((text(), "[0-9:]{0,6}", "[0-9:]{0,6}"), 0..8),
        holidays in proptest::collection::vec(text(), 0..4),
    ) {
        let mut errors = Errors::default();
        let calendar = BusinessCalendar::parse(&zone, &weekly, &holidays, "business_hours", &mut errors);
        prop_assert_eq!(calendar.is_some(), errors.finish().is_ok());
    }
}

//! Contacts: the people at a customer.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::birthday::{Birthday, RawBirthday};
use crate::customer::MAX_ITEMS;
use crate::email::Email;
use crate::enums::{ConsentSource, ContactLabel, PreferredChannel};
use crate::name::{Name, PersonName, Title};
use crate::phone::{Phone, Region};
use crate::validation::{Errors, Invalid, ValidationErrors, index, path};

crate::string_enum! {
    /// A way to reach a contact.
    pub enum ContactPoint {
        Email => "email",
        Phone => "phone",
    }
}

/// An email address with its label.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EmailEntry {
    pub address: Email,
    pub label: ContactLabel,
}

/// A phone number (E.164) with its label.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PhoneEntry {
    pub number: Phone,
    pub label: ContactLabel,
}

/// Whether a contact agreed to marketing, and when and how that was given or withdrawn.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MarketingConsent {
    pub granted: bool,
    pub at: DateTime<Utc>,
    pub source: ConsentSource,
}

/// A person at a customer.
#[derive(Debug, Clone, PartialEq)]
pub struct Contact {
    pub id: Uuid,
    pub customer_id: Uuid,
    pub first_name: PersonName,
    pub last_name: Option<PersonName>,
    pub title: Option<Title>,
    /// The first is the primary address.
    pub emails: Vec<EmailEntry>,
    /// The first is the primary number.
    pub phones: Vec<PhoneEntry>,
    pub preferred_channel: Option<PreferredChannel>,
    pub marketing_consent: Option<MarketingConsent>,
    pub birthday: Option<Birthday>,
    /// The customer's main contact (one per customer at most).
    pub is_primary: bool,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub version: i32,
}

/// An email address or a phone number as sent, with its label.
#[derive(Debug, Clone, Copy, Default)]
pub struct RawLabelled<'a> {
    pub value: Option<&'a str>,
    pub label: Option<&'a str>,
}

/// A marketing consent as sent.
#[derive(Debug, Clone, Copy, Default)]
pub struct RawConsent<'a> {
    pub granted: Option<bool>,
    pub source: Option<&'a str>,
    /// When it was given or withdrawn, if not now (imports).
    pub at: Option<DateTime<Utc>>,
}

/// A new contact as a client sent it: plain values that [`Contact::create`] checks.
#[derive(Debug, Clone, Default)]
pub struct RawContact<'a> {
    pub first_name: Option<&'a str>,
    pub last_name: Option<&'a str>,
    pub title: Option<&'a str>,
    pub emails: Vec<RawLabelled<'a>>,
    pub phones: Vec<RawLabelled<'a>>,
    pub preferred_channel: Option<&'a str>,
    pub marketing_consent: Option<RawConsent<'a>>,
    pub birthday: Option<RawBirthday>,
    pub is_primary: Option<bool>,
}

/// Where a new contact goes, and what reading it takes besides the client's values.
#[derive(Debug, Clone, Copy)]
pub struct NewContact {
    pub customer_id: Uuid,
    /// Decided by the caller, who knows the customer's other contacts.
    pub is_primary: bool,
    /// The region of national phone numbers.
    pub region: Region,
    pub now: DateTime<Utc>,
    pub new_id: fn() -> Uuid,
}

impl Contact {
    /// Has it given marketing consent (and not withdrawn it)?
    pub fn has_marketing_consent(&self) -> bool {
        self.marketing_consent.is_some_and(|c| c.granted)
    }

    /// Whether `other` is the same person as far as a batch upsert can tell: they share an
    /// email or a phone number, or, when `other` has neither, the same names.
    pub fn same_as(&self, other: &Contact) -> bool {
        if other.emails.is_empty() && other.phones.is_empty() {
            return self.first_name == other.first_name && self.last_name == other.last_name;
        }
        other
            .emails
            .iter()
            .any(|e| self.emails.iter().any(|mine| mine.address == e.address))
            || other
                .phones
                .iter()
                .any(|p| self.phones.iter().any(|mine| mine.number == p.number))
    }

    /// A new contact from what a client sent.
    ///
    /// # Errors
    /// Every refused field, each at its path (`phones[0].number`).
    pub fn create(raw: &RawContact<'_>, new: &NewContact) -> Result<Contact, ValidationErrors> {
        let mut errors = Errors::default();
        let contact = Contact::read(raw, "", new, &mut errors);
        errors.finish_with(contact)
    }

    /// Reads a new contact at `at` (`contacts[1]`), recording every refused field in `errors`.
    pub(crate) fn read(
        raw: &RawContact<'_>,
        at: &str,
        new: &NewContact,
        errors: &mut Errors,
    ) -> Option<Contact> {
        let first_name = errors.check(
            path(at, "first_name"),
            raw.first_name
                .ok_or(Invalid::Required)
                .and_then(PersonName::parse),
        );
        let last_name = errors.check_opt(path(at, "last_name"), raw.last_name, PersonName::parse);
        let title = errors.check_opt(path(at, "title"), raw.title, Title::parse);
        let emails = read_emails(&raw.emails, &path(at, "emails"), errors);
        let phones = read_phones(&raw.phones, &path(at, "phones"), new.region, errors);
        let preferred_channel = errors.check_opt(
            path(at, "preferred_channel"),
            raw.preferred_channel,
            PreferredChannel::parse,
        );
        let marketing_consent = match &raw.marketing_consent {
            Some(c) => read_consent(c, &path(at, "marketing_consent"), new.now, errors).map(Some),
            None => Some(None),
        };
        let birthday = match &raw.birthday {
            Some(b) => {
                Birthday::read(b, &path(at, "birthday"), new.now.date_naive(), errors).map(Some)
            }
            None => Some(None),
        };
        Some(Contact {
            id: (new.new_id)(),
            customer_id: new.customer_id,
            first_name: first_name?,
            last_name: last_name?,
            title: title?,
            emails: emails?,
            phones: phones?,
            preferred_channel: preferred_channel?,
            marketing_consent: marketing_consent?,
            birthday: birthday?,
            is_primary: new.is_primary,
            created_at: new.now,
            updated_at: new.now,
            version: 1,
        })
    }

    /// "First Last", as people read it.
    pub fn full_name(&self) -> String {
        match &self.last_name {
            Some(last) => format!("{} {last}", self.first_name),
            None => self.first_name.to_string(),
        }
    }

    /// The contact with its personal data replaced: names become tombstones, addresses,
    /// numbers and the birthday go, consent is withdrawn as of `now`.
    pub fn erased(&self, now: DateTime<Utc>) -> Contact {
        Contact {
            first_name: Name::tombstone(),
            last_name: None,
            title: None,
            emails: Vec::new(),
            phones: Vec::new(),
            preferred_channel: None,
            birthday: None,
            marketing_consent: self.marketing_consent.map(|_| MarketingConsent {
                granted: false,
                at: now,
                source: ConsentSource::Other,
            }),
            ..self.clone()
        }
    }
}

/// An email or phone entry of a contact: a value with a label.
trait Labelled: Sized {
    type Value: PartialEq;
    /// The value's field in the body (`address`, `number`).
    const FIELD: &'static str;
    /// The label when none is given.
    const DEFAULT_LABEL: ContactLabel;
    fn new(value: Self::Value, label: ContactLabel) -> Self;
    fn value(&self) -> &Self::Value;
}

impl Labelled for EmailEntry {
    type Value = Email;
    const FIELD: &'static str = "address";
    const DEFAULT_LABEL: ContactLabel = ContactLabel::Work;
    fn new(address: Email, label: ContactLabel) -> Self {
        EmailEntry { address, label }
    }
    fn value(&self) -> &Email {
        &self.address
    }
}

impl Labelled for PhoneEntry {
    type Value = Phone;
    const FIELD: &'static str = "number";
    const DEFAULT_LABEL: ContactLabel = ContactLabel::Mobile;
    fn new(number: Phone, label: ContactLabel) -> Self {
        PhoneEntry { number, label }
    }
    fn value(&self) -> &Phone {
        &self.number
    }
}

/// Reads labelled values (`[{"address": …, "label": …}]`) at `at[i]`: each value parsed, the
/// label defaulted, and a value given twice refused.
fn read_labelled<E: Labelled>(
    raw: &[RawLabelled<'_>],
    at: &str,
    parse: impl Fn(&str) -> Result<E::Value, Invalid>,
    errors: &mut Errors,
) -> Option<Vec<E>> {
    if raw.len() > MAX_ITEMS {
        errors.add(at, Invalid::TooLong { max: MAX_ITEMS });
        return None;
    }
    let mut out: Vec<E> = Vec::with_capacity(raw.len());
    let mut ok = true;
    for (i, item) in raw.iter().enumerate() {
        let item_at = index(at, i);
        let field = path(&item_at, E::FIELD);
        let value = errors.check(
            field.clone(),
            item.value.ok_or(Invalid::Required).and_then(&parse),
        );
        let label = errors.check(
            path(&item_at, "label"),
            item.label.map_or(Ok(E::DEFAULT_LABEL), ContactLabel::parse),
        );
        match (value, label) {
            (Some(value), Some(_)) if out.iter().any(|e| *e.value() == value) => {
                errors.add(field, Invalid::Duplicate);
                ok = false;
            }
            (Some(value), Some(label)) => out.push(E::new(value, label)),
            _ => ok = false,
        }
    }
    ok.then_some(out)
}

/// Reads emails at `at[i]` (label default `work`); a repeated address is refused.
pub fn read_emails(
    raw: &[RawLabelled<'_>],
    at: &str,
    errors: &mut Errors,
) -> Option<Vec<EmailEntry>> {
    read_labelled(raw, at, Email::parse, errors)
}

/// Reads phones at `at[i]` into E.164 (label default `mobile`); a repeated number is refused.
pub fn read_phones(
    raw: &[RawLabelled<'_>],
    at: &str,
    region: Region,
    errors: &mut Errors,
) -> Option<Vec<PhoneEntry>> {
    read_labelled(raw, at, |n| Phone::parse(n, region), errors)
}

/// Reads a marketing consent at `at`; its time defaults to `now` and may not be later.
pub fn read_consent(
    raw: &RawConsent<'_>,
    at: &str,
    now: DateTime<Utc>,
    errors: &mut Errors,
) -> Option<MarketingConsent> {
    if raw.granted.is_none() {
        errors.add(path(at, "granted"), Invalid::Required);
    }
    let source = errors.check(
        path(at, "source"),
        raw.source
            .ok_or(Invalid::Required)
            .and_then(ConsentSource::parse),
    );
    let when = raw.at.map(crate::clock::to_micros).unwrap_or(now);
    if when > now {
        errors.add(path(at, "at"), Invalid::InvalidDate);
        return None;
    }
    Some(MarketingConsent {
        granted: raw.granted?,
        at: when,
        source: source?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn erasure_removes_every_way_to_reach_the_person() {
        let now = Utc::now();
        let contact = Contact {
            id: Uuid::now_v7(),
            customer_id: Uuid::now_v7(),
            first_name: PersonName::parse("Lei").unwrap(),
            last_name: PersonName::parse("Li").ok(),
            title: Title::parse("CTO").ok(),
            emails: vec![EmailEntry {
                address: Email::parse("li@x.cn").unwrap(),
                label: ContactLabel::Work,
            }],
            phones: vec![],
            preferred_channel: Some(PreferredChannel::Email),
            marketing_consent: Some(MarketingConsent {
                granted: true,
                at: now,
                source: ConsentSource::WebForm,
            }),
            birthday: Birthday::restore(5, 17, Some(1980)).ok(),
            is_primary: true,
            created_at: now,
            updated_at: now,
            version: 1,
        };
        assert_eq!(contact.full_name(), "Lei Li");
        let erased = contact.erased(now);
        assert_eq!(erased.full_name(), crate::customer::ERASED);
        assert!(erased.emails.is_empty() && erased.title.is_none());
        assert!(erased.birthday.is_none());
        assert!(!erased.marketing_consent.unwrap().granted);
    }

    #[test]
    fn entries_round_trip_as_json() {
        let entry = PhoneEntry {
            number: Phone::parse("+8613800138000", crate::phone::Region::parse("CN").unwrap())
                .unwrap(),
            label: ContactLabel::Mobile,
        };
        let json = serde_json::to_string(&entry).unwrap();
        assert_eq!(json, r#"{"number":"+8613800138000","label":"mobile"}"#);
        assert_eq!(serde_json::from_str::<PhoneEntry>(&json).unwrap(), entry);
        assert!(serde_json::from_str::<PhoneEntry>(r#"{"number":"12","label":"mobile"}"#).is_err());
    }
}

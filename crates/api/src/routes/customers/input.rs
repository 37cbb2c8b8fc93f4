//! Reading customer and contact bodies into domain values, collecting every refused field
//! with its path (`contacts[1].phones[0].number`) so one answer lists them all.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use rapport_domain::Invalid;
use rapport_domain::address::{Address, RawAddress};
use rapport_domain::contact::{EmailEntry, MarketingConsent, PhoneEntry};
use rapport_domain::country::CountryCode;
use rapport_domain::email::Email;
use rapport_domain::enums::{
    Channel, ConsentSource, ContactLabel, CustomerKind, Grade, Industry, LifecycleStage,
    PreferredChannel, SizeBand, Source,
};
use rapport_domain::name::{Name, OrgName, PersonName, Title};
use rapport_domain::phone::{Phone, Region};
use rapport_domain::registration_number::RegistrationNumber;
use rapport_domain::tag::{Tag, parse_tags};
use rapport_domain::validation::{Errors, index, path};
use rapport_domain::web_url::WebUrl;

use super::types::{
    Address as AddressBody, ConsentBody, CreateContact, CreateCustomer, EmailBody, PhoneBody,
};

/// A customer's description: free text up to 5000 characters.
pub type Description = Name<5000>;

/// Most contacts, emails, phones, addresses and external ids one request may hold.
const MAX_ITEMS: usize = 100;

/// The fields of a new customer, valid.
#[derive(Debug, Clone)]
pub struct CustomerFields {
    pub name: String,
    pub kind: CustomerKind,
    pub industry: Option<Industry>,
    pub size: Option<SizeBand>,
    pub grade: Grade,
    pub lifecycle_stage: LifecycleStage,
    pub tags: Vec<Tag>,
    pub source: Option<Source>,
    pub channel: Option<Channel>,
    pub website: Option<String>,
    pub registration_number: Option<String>,
    pub country: Option<CountryCode>,
    pub addresses: Vec<Address>,
    pub external_ids: BTreeMap<String, String>,
    pub description: Option<String>,
}

/// The fields of a new contact, valid.
#[derive(Debug, Clone)]
pub struct ContactFields {
    pub first_name: String,
    pub last_name: Option<String>,
    pub title: Option<String>,
    pub emails: Vec<EmailEntry>,
    pub phones: Vec<PhoneEntry>,
    pub preferred_channel: Option<PreferredChannel>,
    pub marketing_consent: Option<MarketingConsent>,
    pub is_primary: Option<bool>,
}

/// Parses an optional enum value, recording its error at `field`.
pub fn opt_enum<T>(
    errors: &mut Errors,
    field: &str,
    value: Option<&str>,
    parse: fn(&str) -> Result<T, Invalid>,
) -> Option<T> {
    errors.check_opt(field, value, parse).flatten()
}

/// Reads a new customer and its contacts.
pub fn customer(
    body: &CreateCustomer,
    region: Region,
    now: DateTime<Utc>,
    errors: &mut Errors,
) -> Option<(CustomerFields, Vec<ContactFields>)> {
    let name = match body.name.as_deref() {
        Some(n) => errors.check("name", OrgName::parse(n)),
        None => {
            errors.add("name", Invalid::Required);
            None
        }
    };
    let kind = errors.check(
        "kind",
        body.kind
            .as_deref()
            .map_or(Ok(CustomerKind::Enterprise), CustomerKind::parse),
    );
    let industry = errors.check_opt("industry", body.industry.as_deref(), Industry::parse);
    let size = errors.check_opt("size", body.size.as_deref(), SizeBand::parse);
    let grade = errors.check(
        "grade",
        body.grade
            .as_deref()
            .map_or(Ok(Grade::Standard), Grade::parse),
    );
    let stage = errors.check(
        "lifecycle_stage",
        body.lifecycle_stage
            .as_deref()
            .map_or(Ok(LifecycleStage::Lead), LifecycleStage::parse),
    );
    let tags = parse_tags(&body.tags, "tags", errors);
    let source = errors.check_opt("source", body.source.as_deref(), Source::parse);
    let channel = errors.check_opt("channel", body.channel.as_deref(), Channel::parse);
    let website = errors.check_opt("website", body.website.as_deref(), WebUrl::parse);
    let country = errors.check_opt("country", body.country.as_deref(), CountryCode::parse);
    let addresses = addresses(&body.addresses, errors);
    let registration_country = registration_country(country.flatten(), &addresses, region);
    let registration_number = errors.check_opt(
        "registration_number",
        body.registration_number.as_deref(),
        |r| RegistrationNumber::parse(r, registration_country.as_ref()),
    );
    let external_ids = external_ids(&body.external_ids, errors);
    let description = errors.check_opt(
        "description",
        body.description.as_deref(),
        Description::parse,
    );
    if body.contacts.len() > MAX_ITEMS {
        errors.add("contacts", Invalid::TooLong { max: MAX_ITEMS });
    }
    let contacts: Vec<Option<ContactFields>> = body
        .contacts
        .iter()
        .enumerate()
        .map(|(i, c)| contact(c, &index("contacts", i), region, now, errors))
        .collect();
    let contacts: Option<Vec<ContactFields>> = contacts.into_iter().collect();
    let fields = CustomerFields {
        name: name?.into_string(),
        kind: kind?,
        industry: industry?,
        size: size?,
        grade: grade?,
        lifecycle_stage: stage?,
        tags,
        source: source?,
        channel: channel?,
        website: website?.map(WebUrl::into_string),
        registration_number: registration_number?.map(RegistrationNumber::into_string),
        country: country?,
        addresses: addresses?,
        external_ids: external_ids?,
        description: description?.map(Name::into_string),
    };
    Some((fields, contacts?))
}

/// The country a registration number is checked against: the customer's, else its first
/// address's, else the server's default region.
pub fn registration_country(
    country: Option<CountryCode>,
    addresses: &Option<Vec<Address>>,
    region: Region,
) -> Option<CountryCode> {
    country
        .or_else(|| {
            addresses
                .as_ref()
                .and_then(|a| a.first())
                .map(|a| a.country)
        })
        .or_else(|| CountryCode::parse(region.as_str()).ok())
}

/// Reads addresses at `addresses[i]`.
pub fn addresses(bodies: &[AddressBody], errors: &mut Errors) -> Option<Vec<Address>> {
    if bodies.len() > MAX_ITEMS {
        errors.add("addresses", Invalid::TooLong { max: MAX_ITEMS });
        return None;
    }
    let parsed: Vec<Option<Address>> = bodies
        .iter()
        .enumerate()
        .map(|(i, a)| {
            let raw = RawAddress {
                label: a.label.as_deref(),
                line1: a.line1.as_deref(),
                line2: a.line2.as_deref(),
                city: a.city.as_deref(),
                region: a.region.as_deref(),
                postal_code: a.postal_code.as_deref(),
                country: a.country.as_deref(),
            };
            Address::parse(&raw, &index("addresses", i), errors)
        })
        .collect();
    parsed.into_iter().collect()
}

/// Reads external ids: system names of 1–50 `[a-z0-9_.-]`, ids of 1–200 characters.
pub fn external_ids(
    ids: &BTreeMap<String, String>,
    errors: &mut Errors,
) -> Option<BTreeMap<String, String>> {
    if ids.len() > 20 {
        errors.add("external_ids", Invalid::TooLong { max: 20 });
        return None;
    }
    let mut ok = true;
    for (system, id) in ids {
        let field = path("external_ids", system);
        let valid_system = (1..=50).contains(&system.len())
            && system
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"_.-".contains(&b));
        if !valid_system {
            errors.add(field.clone(), Invalid::InvalidType);
            ok = false;
        }
        let len = id.trim().chars().count();
        if len == 0 || len > 200 {
            errors.add(
                field,
                if len == 0 {
                    Invalid::Required
                } else {
                    Invalid::TooLong { max: 200 }
                },
            );
            ok = false;
        }
    }
    ok.then(|| {
        ids.iter()
            .map(|(k, v)| (k.clone(), v.trim().to_owned()))
            .collect()
    })
}

/// Reads a new contact at `at` (`contacts[1]`, or `` for a contact body of its own).
pub fn contact(
    body: &CreateContact,
    at: &str,
    region: Region,
    now: DateTime<Utc>,
    errors: &mut Errors,
) -> Option<ContactFields> {
    let first_name = match body.first_name.as_deref() {
        Some(n) => errors.check(path(at, "first_name"), PersonName::parse(n)),
        None => {
            errors.add(path(at, "first_name"), Invalid::Required);
            None
        }
    };
    let last_name = errors.check_opt(
        path(at, "last_name"),
        body.last_name.as_deref(),
        PersonName::parse,
    );
    let title = errors.check_opt(path(at, "title"), body.title.as_deref(), Title::parse);
    let emails = emails(&body.emails, &path(at, "emails"), errors);
    let phones = phones(&body.phones, &path(at, "phones"), region, errors);
    let preferred = errors.check_opt(
        path(at, "preferred_channel"),
        body.preferred_channel.as_deref(),
        PreferredChannel::parse,
    );
    let consent = match &body.marketing_consent {
        Some(c) => consent(c, &path(at, "marketing_consent"), now, errors).map(Some),
        None => Some(None),
    };
    Some(ContactFields {
        first_name: first_name?.into_string(),
        last_name: last_name?.map(Name::into_string),
        title: title?.map(Name::into_string),
        emails: emails?,
        phones: phones?,
        preferred_channel: preferred?,
        marketing_consent: consent?,
        is_primary: body.is_primary,
    })
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
fn labelled<E: Labelled>(
    items: Vec<(Option<&str>, Option<&str>)>,
    at: &str,
    parse: impl Fn(&str) -> Result<E::Value, Invalid>,
    errors: &mut Errors,
) -> Option<Vec<E>> {
    if items.len() > MAX_ITEMS {
        errors.add(at, Invalid::TooLong { max: MAX_ITEMS });
        return None;
    }
    let mut out: Vec<E> = Vec::with_capacity(items.len());
    let mut ok = true;
    for (i, (value, label)) in items.into_iter().enumerate() {
        let item = index(at, i);
        let field = path(&item, E::FIELD);
        let value = match value {
            Some(v) => errors.check(field.clone(), parse(v)),
            None => {
                errors.add(field.clone(), Invalid::Required);
                None
            }
        };
        let label = errors.check(
            path(&item, "label"),
            label.map_or(Ok(E::DEFAULT_LABEL), ContactLabel::parse),
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
pub fn emails(bodies: &[EmailBody], at: &str, errors: &mut Errors) -> Option<Vec<EmailEntry>> {
    let items = bodies
        .iter()
        .map(|b| (b.address.as_deref(), b.label.as_deref()))
        .collect();
    labelled(items, at, Email::parse, errors)
}

/// Reads phones at `at[i]` into E.164 (label default `mobile`); a repeated number is refused.
pub fn phones(
    bodies: &[PhoneBody],
    at: &str,
    region: Region,
    errors: &mut Errors,
) -> Option<Vec<PhoneEntry>> {
    let items = bodies
        .iter()
        .map(|b| (b.number.as_deref(), b.label.as_deref()))
        .collect();
    labelled(items, at, |n| Phone::parse(n, region), errors)
}

/// Reads a marketing consent; its time defaults to now and may not be in the future.
pub fn consent(
    body: &ConsentBody,
    at: &str,
    now: DateTime<Utc>,
    errors: &mut Errors,
) -> Option<MarketingConsent> {
    let granted = body.granted;
    if granted.is_none() {
        errors.add(path(at, "granted"), Invalid::Required);
    }
    let source = match body.source.as_deref() {
        Some(s) => errors.check(path(at, "source"), ConsentSource::parse(s)),
        None => {
            errors.add(path(at, "source"), Invalid::Required);
            None
        }
    };
    let when = body.at.map(rapport_domain::clock::to_micros).unwrap_or(now);
    if when > now {
        errors.add(path(at, "at"), Invalid::InvalidDate);
        return None;
    }
    Some(MarketingConsent {
        granted: granted?,
        at: when,
        source: source?,
    })
}

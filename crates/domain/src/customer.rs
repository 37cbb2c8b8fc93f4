//! Customers: the companies and people Rapport sells to and serves, with the rules that act on
//! them (lead follow-up, merging, erasure).

use std::collections::BTreeMap;

use chrono::{DateTime, Duration, Utc};
use uuid::Uuid;

use crate::address::{Address, RawAddress};
use crate::contact::{Contact, NewContact, RawContact};
use crate::country::CountryCode;
use crate::enums::{Channel, CustomerKind, Grade, Industry, LifecycleStage, SizeBand, Source};
use crate::name::{Name, OrgName};
use crate::phone::Region;
use crate::registration_number::RegistrationNumber;
use crate::tag::{Tag, parse_tags};
use crate::validation::{Errors, Invalid, ValidationErrors, index, path};
use crate::web_url::WebUrl;

/// A customer's description: free text up to 5000 characters.
pub type Description = Name<5000>;

/// Most contacts, addresses, emails or phones one write may hold.
pub const MAX_ITEMS: usize = 100;
/// Most external ids a customer holds.
pub const MAX_EXTERNAL_IDS: usize = 20;

/// A customer as stored.
#[derive(Debug, Clone, PartialEq)]
pub struct Customer {
    pub id: Uuid,
    pub name: OrgName,
    pub kind: CustomerKind,
    pub industry: Option<Industry>,
    pub size: Option<SizeBand>,
    pub grade: Grade,
    /// Set by hand: the grading job leaves it as it is.
    pub grade_locked: bool,
    pub lifecycle_stage: LifecycleStage,
    pub owner_id: Option<Uuid>,
    pub team_id: Option<Uuid>,
    pub tags: Vec<Tag>,
    pub source: Option<Source>,
    /// The marketing campaign it came from (a lead of a campaign).
    pub campaign_id: Option<Uuid>,
    pub channel: Option<Channel>,
    pub website: Option<WebUrl>,
    pub registration_number: Option<RegistrationNumber>,
    pub country: Option<CountryCode>,
    pub addresses: Vec<Address>,
    /// Ids of this customer in integrators' systems (`{"erp": "C-1001"}`).
    pub external_ids: BTreeMap<String, String>,
    pub description: Option<Description>,
    /// When a lead must have been contacted (the lead follow-up rule).
    pub first_contact_due_at: Option<DateTime<Utc>>,
    pub first_contacted_at: Option<DateTime<Utc>>,
    pub last_activity_at: Option<DateTime<Utc>>,
    pub deleted_at: Option<DateTime<Utc>>,
    /// Set when merged into another customer (and soft-deleted).
    pub merged_into_id: Option<Uuid>,
    /// Set when its personal data was erased; irreversible.
    pub erased_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub version: i32,
}

/// The tombstone that replaces erased personal text.
pub const ERASED: &str = "[erased]";

/// The lead follow-up rule: a new lead must be contacted within `hours`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LeadFollowUp {
    pub hours: i64,
}

impl Default for LeadFollowUp {
    fn default() -> Self {
        LeadFollowUp { hours: 24 }
    }
}

impl LeadFollowUp {
    /// When a customer created `now` in `stage` must be first contacted: only leads have a
    /// due time.
    pub fn due_at(self, stage: LifecycleStage, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
        (stage == LifecycleStage::Lead).then(|| now + Duration::hours(self.hours))
    }
}

/// A new customer as a client sent it, with its contacts: plain values that
/// [`Customer::create`] checks.
#[derive(Debug, Clone)]
pub struct RawCustomer<'a> {
    pub name: Option<&'a str>,
    pub kind: Option<&'a str>,
    pub industry: Option<&'a str>,
    pub size: Option<&'a str>,
    pub grade: Option<&'a str>,
    pub lifecycle_stage: Option<&'a str>,
    pub tags: &'a [String],
    pub source: Option<&'a str>,
    pub channel: Option<&'a str>,
    pub website: Option<&'a str>,
    pub registration_number: Option<&'a str>,
    pub country: Option<&'a str>,
    pub addresses: Vec<RawAddress<'a>>,
    pub external_ids: &'a BTreeMap<String, String>,
    pub description: Option<&'a str>,
    pub contacts: Vec<RawContact<'a>>,
}

/// What creating a customer takes besides the client's values.
#[derive(Debug, Clone, Copy)]
pub struct Creation {
    /// Already checked against the caller's rights.
    pub owner_id: Option<Uuid>,
    pub team_id: Option<Uuid>,
    /// The campaign it came from, already checked to exist; its source defaults to
    /// `campaign`.
    pub campaign_id: Option<Uuid>,
    /// The region of national phone numbers, and of registration numbers when the customer
    /// names no country.
    pub region: Region,
    pub lead_follow_up: LeadFollowUp,
    pub now: DateTime<Utc>,
    /// Makes the ids of the customer and its contacts.
    pub new_id: fn() -> Uuid,
}

impl Customer {
    /// A live lead not contacted by its first-contact due time: what the 24-hour rule
    /// escalates.
    pub fn follow_up_overdue(&self, now: DateTime<Utc>) -> bool {
        self.deleted_at.is_none()
            && self.lifecycle_stage == LifecycleStage::Lead
            && self.first_contacted_at.is_none()
            && self.first_contact_due_at.is_some_and(|due| due < now)
    }

    /// A new customer and its contacts from what a client sent: an `enterprise` `lead` of
    /// grade `standard` unless it says otherwise, a lead with its first-contact due time, and
    /// the contact marked primary (else the first) as its primary contact.
    ///
    /// # Errors
    /// Every refused field, each at its path (`contacts[1].phones[0].number`).
    pub fn create(
        raw: &RawCustomer<'_>,
        at: &Creation,
    ) -> Result<(Customer, Vec<Contact>), ValidationErrors> {
        let mut errors = Errors::default();
        let e = &mut errors;
        let name = e.check(
            "name",
            raw.name.ok_or(Invalid::Required).and_then(OrgName::parse),
        );
        let kind = e.check(
            "kind",
            raw.kind
                .map_or(Ok(CustomerKind::Enterprise), CustomerKind::parse),
        );
        let industry = e.check_opt("industry", raw.industry, Industry::parse);
        let size = e.check_opt("size", raw.size, SizeBand::parse);
        let grade = e.check("grade", raw.grade.map_or(Ok(Grade::Standard), Grade::parse));
        let stage = e.check(
            "lifecycle_stage",
            raw.lifecycle_stage
                .map_or(Ok(LifecycleStage::Lead), LifecycleStage::parse),
        );
        let tags = parse_tags(raw.tags, "tags", e);
        let source = e.check_opt("source", raw.source, Source::parse);
        let channel = e.check_opt("channel", raw.channel, Channel::parse);
        let website = e.check_opt("website", raw.website, WebUrl::parse);
        let country = e.check_opt("country", raw.country, CountryCode::parse);
        let addresses = read_addresses(&raw.addresses, e);
        let checked_in = registration_country(
            country.flatten(),
            addresses.as_deref().unwrap_or_default(),
            at.region,
        );
        let registration_number =
            e.check_opt("registration_number", raw.registration_number, |r| {
                RegistrationNumber::parse(r, checked_in.as_ref())
            });
        let external_ids = read_external_ids(raw.external_ids, e);
        let description = e.check_opt("description", raw.description, Description::parse);
        let id = (at.new_id)();
        let contacts = read_contacts(&raw.contacts, id, at, e);
        let customer = (|| {
            let stage = stage?;
            Some(Customer {
                id,
                name: name?,
                kind: kind?,
                industry: industry?,
                size: size?,
                grade: grade?,
                // A grade given at creation is a choice made by hand.
                grade_locked: raw.grade.is_some(),
                lifecycle_stage: stage,
                owner_id: at.owner_id,
                team_id: at.team_id,
                tags,
                source: source?.or(at.campaign_id.map(|_| Source::Campaign)),
                campaign_id: at.campaign_id,
                channel: channel?,
                website: website?,
                registration_number: registration_number?,
                country: country?,
                addresses: addresses?,
                external_ids: external_ids?,
                description: description?,
                first_contact_due_at: at.lead_follow_up.due_at(stage, at.now),
                first_contacted_at: None,
                last_activity_at: None,
                deleted_at: None,
                merged_into_id: None,
                erased_at: None,
                created_at: at.now,
                updated_at: at.now,
                version: 1,
            })
        })();
        errors.finish_with(customer.zip(contacts))
    }

    /// The values a merge keeps: the survivor's, with each empty field filled from the first
    /// duplicate that has it; tags, addresses and external ids are united; the earliest first
    /// contact and the latest activity are kept.
    pub fn merged_with(&self, duplicates: &[Customer]) -> Customer {
        let mut merged = self.clone();
        for dup in duplicates {
            fill(&mut merged.industry, dup.industry);
            fill(&mut merged.size, dup.size);
            fill(&mut merged.owner_id, dup.owner_id);
            fill(&mut merged.team_id, dup.team_id);
            fill(&mut merged.source, dup.source);
            fill(&mut merged.campaign_id, dup.campaign_id);
            fill(&mut merged.channel, dup.channel);
            fill(&mut merged.website, dup.website.clone());
            fill(
                &mut merged.registration_number,
                dup.registration_number.clone(),
            );
            fill(&mut merged.country, dup.country);
            fill(&mut merged.description, dup.description.clone());
            for tag in &dup.tags {
                if !merged.tags.contains(tag) {
                    merged.tags.push(tag.clone());
                }
            }
            for address in &dup.addresses {
                if !merged.addresses.contains(address) {
                    merged.addresses.push(address.clone());
                }
            }
            for (system, id) in &dup.external_ids {
                merged
                    .external_ids
                    .entry(system.clone())
                    .or_insert_with(|| id.clone());
            }
            merged.first_contacted_at = earliest(merged.first_contacted_at, dup.first_contacted_at);
            merged.last_activity_at = latest(merged.last_activity_at, dup.last_activity_at);
        }
        merged
    }

    /// The customer with its personal data replaced by tombstones: the name, website,
    /// registration number, addresses, external ids and description go; kind, industry,
    /// grade, stage, owner and dates stay for reports.
    pub fn erased(&self, now: DateTime<Utc>) -> Customer {
        Customer {
            name: Name::tombstone(),
            tags: Vec::new(),
            website: None,
            registration_number: None,
            addresses: Vec::new(),
            external_ids: BTreeMap::new(),
            description: None,
            erased_at: Some(now),
            ..self.clone()
        }
    }
}

/// The contacts of a new customer at `contacts[i]`: the one marked primary (else the first)
/// is its primary contact.
fn read_contacts(
    raw: &[RawContact<'_>],
    customer_id: Uuid,
    at: &Creation,
    errors: &mut Errors,
) -> Option<Vec<Contact>> {
    let primary = raw
        .iter()
        .position(|c| c.is_primary == Some(true))
        .unwrap_or(0);
    read_contacts_at(
        raw,
        customer_id,
        Some(primary),
        (at.region, at.now, at.new_id),
        errors,
    )
}

/// Contacts to add to an existing customer, at `contacts[i]` (a batch upsert's): only the one
/// marked primary is primary.
///
/// # Errors
/// Every refused field, each at its path.
pub fn more_contacts(
    raw: &[RawContact<'_>],
    customer_id: Uuid,
    region: Region,
    now: DateTime<Utc>,
) -> Result<Vec<Contact>, ValidationErrors> {
    let mut errors = Errors::default();
    let primary = raw.iter().position(|c| c.is_primary == Some(true));
    let read = read_contacts_at(
        raw,
        customer_id,
        primary,
        (region, now, Uuid::now_v7),
        &mut errors,
    );
    errors.finish_with(read)
}

fn read_contacts_at(
    raw: &[RawContact<'_>],
    customer_id: Uuid,
    primary: Option<usize>,
    (region, now, new_id): (Region, DateTime<Utc>, fn() -> Uuid),
    errors: &mut Errors,
) -> Option<Vec<Contact>> {
    if raw.len() > MAX_ITEMS {
        errors.add("contacts", Invalid::TooLong { max: MAX_ITEMS });
        return None;
    }
    // Every contact is read, so that one answer lists the errors of all of them.
    let read: Vec<Option<Contact>> = raw
        .iter()
        .enumerate()
        .map(|(i, c)| {
            let new = NewContact {
                customer_id,
                is_primary: Some(i) == primary,
                region,
                now,
                new_id,
            };
            Contact::read(c, &index("contacts", i), &new, errors)
        })
        .collect();
    read.into_iter().collect()
}

/// The country a registration number is checked against: the customer's, else its first
/// address's, else the server's default region.
pub fn registration_country(
    country: Option<CountryCode>,
    addresses: &[Address],
    region: Region,
) -> Option<CountryCode> {
    country
        .or_else(|| addresses.first().map(|a| a.country))
        .or_else(|| CountryCode::parse(region.as_str()).ok())
}

/// Reads addresses at `addresses[i]`.
pub fn read_addresses(raw: &[RawAddress<'_>], errors: &mut Errors) -> Option<Vec<Address>> {
    if raw.len() > MAX_ITEMS {
        errors.add("addresses", Invalid::TooLong { max: MAX_ITEMS });
        return None;
    }
    let read: Vec<Option<Address>> = raw
        .iter()
        .enumerate()
        .map(|(i, a)| Address::parse(a, &index("addresses", i), errors))
        .collect();
    read.into_iter().collect()
}

/// Reads external ids: system names of 1–50 `[a-z0-9_.-]`, ids of 1–200 characters.
pub fn read_external_ids(
    ids: &BTreeMap<String, String>,
    errors: &mut Errors,
) -> Option<BTreeMap<String, String>> {
    if ids.len() > MAX_EXTERNAL_IDS {
        errors.add(
            "external_ids",
            Invalid::TooLong {
                max: MAX_EXTERNAL_IDS,
            },
        );
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
            let invalid = if len == 0 {
                Invalid::Required
            } else {
                Invalid::TooLong { max: 200 }
            };
            errors.add(field, invalid);
            ok = false;
        }
    }
    ok.then(|| {
        ids.iter()
            .map(|(k, v)| (k.clone(), v.trim().to_owned()))
            .collect()
    })
}

fn fill<T>(slot: &mut Option<T>, value: Option<T>) {
    if slot.is_none() {
        *slot = value;
    }
}

fn earliest(a: Option<DateTime<Utc>>, b: Option<DateTime<Utc>>) -> Option<DateTime<Utc>> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}

fn latest(a: Option<DateTime<Utc>>, b: Option<DateTime<Utc>>) -> Option<DateTime<Utc>> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.max(b)),
        (a, b) => a.or(b),
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    pub(crate) fn customer(name: &str) -> Customer {
        let now = Utc::now();
        Customer {
            id: Uuid::now_v7(),
            name: OrgName::parse(name).unwrap(),
            kind: CustomerKind::Enterprise,
            industry: None,
            size: None,
            grade: Grade::Standard,
            grade_locked: false,
            lifecycle_stage: LifecycleStage::Lead,
            owner_id: None,
            team_id: None,
            tags: vec![],
            source: None,
            campaign_id: None,
            channel: None,
            website: None,
            registration_number: None,
            country: None,
            addresses: vec![],
            external_ids: BTreeMap::new(),
            description: None,
            first_contact_due_at: None,
            first_contacted_at: None,
            last_activity_at: None,
            deleted_at: None,
            merged_into_id: None,
            erased_at: None,
            created_at: now,
            updated_at: now,
            version: 1,
        }
    }

    const NO_IDS: &BTreeMap<String, String> = &BTreeMap::new();

    fn creation(now: DateTime<Utc>) -> Creation {
        Creation {
            owner_id: None,
            team_id: None,
            campaign_id: None,
            region: Region::parse("CN").unwrap(),
            lead_follow_up: LeadFollowUp { hours: 24 },
            now,
            new_id: Uuid::now_v7,
        }
    }

    #[test]
    fn a_lead_of_a_campaign_has_the_campaign_as_source() {
        let now = DateTime::from_timestamp(1_800_000_000, 0).unwrap();
        let campaign = Uuid::now_v7();
        let at = Creation {
            campaign_id: Some(campaign),
            ..creation(now)
        };
        let (c, _) = Customer::create(&raw(Some("Fair Lead")), &at).unwrap();
        assert_eq!(c.campaign_id, Some(campaign));
        assert_eq!(c.source, Some(Source::Campaign));
        let given = RawCustomer {
            source: Some("referral"),
            ..raw(Some("Referred"))
        };
        let (c, _) = Customer::create(&given, &at).unwrap();
        assert_eq!(c.source, Some(Source::Referral), "a source given is kept");
    }

    fn raw(name: Option<&str>) -> RawCustomer<'_> {
        RawCustomer {
            name,
            kind: None,
            industry: None,
            size: None,
            grade: None,
            lifecycle_stage: None,
            tags: &[],
            source: None,
            channel: None,
            website: None,
            registration_number: None,
            country: None,
            addresses: vec![],
            external_ids: NO_IDS,
            description: None,
            contacts: vec![],
        }
    }

    #[test]
    fn creates_a_typed_lead_with_defaults_and_a_primary_contact() {
        let now = Utc::now();
        let mut input = raw(Some("  深圳张氏科技  有限公司 "));
        input.website = Some("zhangshi.example.cn");
        input.contacts = vec![
            RawContact {
                first_name: Some("Lei"),
                ..RawContact::default()
            },
            RawContact {
                first_name: Some("Wei"),
                is_primary: Some(true),
                ..RawContact::default()
            },
        ];
        let (customer, contacts) = Customer::create(&input, &creation(now)).unwrap();
        assert_eq!(customer.name.as_str(), "深圳张氏科技 有限公司");
        assert_eq!(customer.kind, CustomerKind::Enterprise);
        assert_eq!(customer.lifecycle_stage, LifecycleStage::Lead);
        assert_eq!(
            customer.first_contact_due_at,
            Some(now + Duration::hours(24))
        );
        assert_eq!(
            customer.website.as_ref().map(WebUrl::as_str),
            Some("https://zhangshi.example.cn/")
        );
        let primary: Vec<bool> = contacts.iter().map(|c| c.is_primary).collect();
        assert_eq!(primary, [false, true]);
        assert!(contacts.iter().all(|c| c.customer_id == customer.id));
    }

    #[test]
    fn creation_reports_every_refused_field_with_its_path() {
        let mut input = raw(None);
        input.grade = Some("gold");
        input.country = Some("CN");
        input.registration_number = Some("91350100M000100Y44");
        input.contacts = vec![RawContact {
            first_name: Some("Lei"),
            phones: vec![crate::contact::RawLabelled {
                value: Some("12"),
                label: None,
            }],
            birthday: Some(crate::birthday::RawBirthday {
                month: Some(2),
                day: Some(30),
                year: None,
            }),
            ..RawContact::default()
        }];
        let errors = Customer::create(&input, &creation(Utc::now())).unwrap_err();
        let fields: Vec<(&str, &str)> = errors
            .errors()
            .iter()
            .map(|e| (e.field.as_str(), e.invalid.code()))
            .collect();
        assert_eq!(
            fields,
            [
                ("name", "required"),
                ("grade", "invalid_choice"),
                ("registration_number", "invalid_registration_number"),
                ("contacts[0].phones[0].number", "invalid_phone"),
                ("contacts[0].birthday.day", "out_of_range"),
            ]
        );
    }

    #[test]
    fn only_leads_get_a_first_contact_due_time() {
        let now = Utc::now();
        let rule = LeadFollowUp { hours: 24 };
        assert_eq!(
            rule.due_at(LifecycleStage::Lead, now),
            Some(now + Duration::hours(24))
        );
        assert_eq!(rule.due_at(LifecycleStage::Customer, now), None);
    }

    #[test]
    fn merge_keeps_survivor_values_and_fills_gaps() {
        let mut survivor = customer("Acme");
        survivor.website = WebUrl::parse("https://acme.example/").ok();
        survivor.tags = vec![Tag::parse("a").unwrap()];
        let mut dup = customer("ACME Ltd");
        dup.website = WebUrl::parse("https://other.example/").ok();
        dup.industry = Some(Industry::Manufacturing);
        dup.tags = vec![Tag::parse("a").unwrap(), Tag::parse("b").unwrap()];
        dup.external_ids.insert("erp".into(), "C-1".into());
        let merged = survivor.merged_with(&[dup]);
        assert_eq!(merged.name.as_str(), "Acme");
        assert_eq!(merged.website, survivor.website);
        assert_eq!(merged.industry, Some(Industry::Manufacturing));
        assert_eq!(merged.tags.len(), 2);
        assert_eq!(merged.external_ids["erp"], "C-1");
        assert_eq!(merged.id, survivor.id);
    }

    #[test]
    fn erasure_keeps_no_personal_text() {
        let mut c = customer("张伟");
        c.website = WebUrl::parse("https://zhangwei.example/").ok();
        c.description = Description::parse("likes tea").ok();
        c.lifecycle_stage = LifecycleStage::Loyal;
        let erased = c.erased(Utc::now());
        assert_eq!(erased.name.as_str(), ERASED);
        assert!(erased.website.is_none() && erased.description.is_none());
        assert_eq!(
            erased.lifecycle_stage,
            LifecycleStage::Loyal,
            "aggregates stay"
        );
        assert!(erased.erased_at.is_some());
    }
}

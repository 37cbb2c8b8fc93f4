//! Request and response bodies of customers and contacts.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use rapport_domain::address::Address as DomainAddress;
use rapport_domain::birthday::Birthday as DomainBirthday;
use rapport_domain::contact as dc;
use rapport_domain::customer as dm;
use rapport_domain::name::Name;
use rapport_domain::registration_number::RegistrationNumber;
use rapport_domain::web_url::WebUrl;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use crate::patch::Patch;
use crate::schemas;

/// A postal address.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Address {
    #[schema(schema_with = schemas::address_label, required = true)]
    pub label: Option<String>,
    #[schema(required = true, example = "88 Century Avenue")]
    pub line1: Option<String>,
    pub line2: Option<String>,
    #[schema(required = true, example = "Shanghai")]
    pub city: Option<String>,
    /// Province, state or county.
    pub region: Option<String>,
    pub postal_code: Option<String>,
    /// ISO 3166-1 alpha-2.
    #[schema(required = true, example = "CN")]
    pub country: Option<String>,
}

impl From<&DomainAddress> for Address {
    fn from(a: &DomainAddress) -> Self {
        Address {
            label: Some(a.label.as_str().to_owned()),
            line1: Some(a.line1.as_str().to_owned()),
            line2: a.line2.as_ref().map(|l| l.as_str().to_owned()),
            city: Some(a.city.as_str().to_owned()),
            region: a.region.as_ref().map(|r| r.as_str().to_owned()),
            postal_code: a.postal_code.as_ref().map(|p| p.as_str().to_owned()),
            country: Some(a.country.as_str().to_owned()),
        }
    }
}

/// An email address of a contact.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EmailBody {
    /// Checked and lower-cased.
    #[schema(required = true, example = "li.lei@example.cn")]
    pub address: Option<String>,
    /// Default `work`.
    #[schema(schema_with = schemas::contact_label)]
    pub label: Option<String>,
}

/// A phone number of a contact: sent in any common format, answered in E.164.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PhoneBody {
    /// National numbers use the server's default region (`138 0013 8000` in CN).
    #[schema(required = true, example = "+8613800138000")]
    pub number: Option<String>,
    /// Default `mobile`.
    #[schema(schema_with = schemas::contact_label)]
    pub label: Option<String>,
}

/// Marketing consent as sent: given or withdrawn, how, and optionally when (default: now).
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ConsentBody {
    #[schema(required = true)]
    pub granted: Option<bool>,
    #[schema(schema_with = schemas::consent_source, required = true)]
    pub source: Option<String>,
    /// When it was given or withdrawn, if not now (imports); never in the future.
    pub at: Option<DateTime<Utc>>,
}

/// Marketing consent: whether, when and how it was given or withdrawn.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Consent {
    pub granted: bool,
    pub at: DateTime<Utc>,
    #[schema(schema_with = schemas::consent_source)]
    pub source: String,
}

/// A contact's birthday: its month and day, and its year when known.
///
/// The day must exist in its month (29 February may be given without a year); with a year
/// (1900 to this one), the date must exist and not be in the future. A refused part is named
/// at its path: `birthday.month` or `birthday.day` (`out_of_range`, `required`), and
/// `birthday.year`, `out_of_range` for a year before 1900 or after this one, `invalid_date`
/// for a date that only its year makes wrong (29 February of a common year, a day still to
/// come this year).
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Birthday {
    /// 1 (January) to 12.
    #[schema(value_type = i64, required = true, minimum = 1, maximum = 12, example = 5)]
    pub month: Option<i64>,
    /// 1 to the last day of the month (29 in February).
    #[schema(value_type = i64, required = true, minimum = 1, maximum = 31, example = 17)]
    pub day: Option<i64>,
    /// The year of birth when known: 1900 to this year.
    #[schema(minimum = 1900, example = 1980)]
    pub year: Option<i64>,
}

impl From<DomainBirthday> for Birthday {
    fn from(b: DomainBirthday) -> Self {
        Birthday {
            month: Some(b.month().into()),
            day: Some(b.day().into()),
            year: b.year().map(i64::from),
        }
    }
}

/// A new contact.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateContact {
    #[schema(required = true, example = "Lei")]
    pub first_name: Option<String>,
    #[schema(example = "Li")]
    pub last_name: Option<String>,
    #[schema(example = "Purchasing manager")]
    pub title: Option<String>,
    /// The first is the primary address.
    #[serde(default)]
    pub emails: Vec<EmailBody>,
    /// The first is the primary number.
    #[serde(default)]
    pub phones: Vec<PhoneBody>,
    #[schema(schema_with = schemas::preferred_channel_or_null)]
    pub preferred_channel: Option<String>,
    pub marketing_consent: Option<ConsentBody>,
    pub birthday: Option<Birthday>,
    /// The customer's main contact; the first contact of a customer is its primary one.
    pub is_primary: Option<bool>,
}

/// Changes to a contact; absent fields are kept, `null` clears.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateContact {
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    pub first_name: Patch<String>,
    #[serde(default)]
    #[schema(value_type = Option<String>, nullable)]
    pub last_name: Patch<String>,
    #[serde(default)]
    #[schema(value_type = Option<String>, nullable)]
    pub title: Patch<String>,
    #[serde(default)]
    #[schema(value_type = Option<Vec<EmailBody>>, nullable)]
    pub emails: Patch<Vec<EmailBody>>,
    #[serde(default)]
    #[schema(value_type = Option<Vec<PhoneBody>>, nullable)]
    pub phones: Patch<Vec<PhoneBody>>,
    #[serde(default)]
    #[schema(schema_with = schemas::preferred_channel_or_null)]
    pub preferred_channel: Patch<String>,
    #[serde(default)]
    #[schema(value_type = Option<ConsentBody>)]
    pub marketing_consent: Patch<ConsentBody>,
    #[serde(default)]
    #[schema(value_type = Option<Birthday>)]
    pub birthday: Patch<Birthday>,
    #[serde(default)]
    #[schema(value_type = Option<bool>)]
    pub is_primary: Patch<bool>,
}

/// A contact: a person at a customer.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Contact {
    pub id: Uuid,
    pub customer_id: Uuid,
    pub first_name: String,
    pub last_name: Option<String>,
    pub title: Option<String>,
    pub emails: Vec<EmailOut>,
    pub phones: Vec<PhoneOut>,
    #[schema(schema_with = schemas::preferred_channel_or_null)]
    pub preferred_channel: Option<String>,
    pub marketing_consent: Option<Consent>,
    pub birthday: Option<Birthday>,
    pub is_primary: bool,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub version: i32,
}

/// An email address as answered.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct EmailOut {
    #[schema(example = "li.lei@example.cn")]
    pub address: String,
    #[schema(schema_with = schemas::contact_label)]
    pub label: String,
}

/// A phone number as answered: E.164.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct PhoneOut {
    #[schema(example = "+8613800138000")]
    pub number: String,
    #[schema(schema_with = schemas::contact_label)]
    pub label: String,
}

impl From<dc::Contact> for Contact {
    fn from(c: dc::Contact) -> Self {
        Contact {
            id: c.id,
            customer_id: c.customer_id,
            first_name: c.first_name.into_string(),
            last_name: c.last_name.map(Name::into_string),
            title: c.title.map(Name::into_string),
            emails: c
                .emails
                .into_iter()
                .map(|e| EmailOut {
                    address: e.address.into_string(),
                    label: e.label.as_str().to_owned(),
                })
                .collect(),
            phones: c
                .phones
                .into_iter()
                .map(|p| PhoneOut {
                    number: p.number.into_string(),
                    label: p.label.as_str().to_owned(),
                })
                .collect(),
            preferred_channel: c.preferred_channel.map(|p| p.as_str().to_owned()),
            marketing_consent: c.marketing_consent.map(|m| Consent {
                granted: m.granted,
                at: m.at,
                source: m.source.as_str().to_owned(),
            }),
            birthday: c.birthday.map(Birthday::from),
            is_primary: c.is_primary,
            created_at: c.created_at,
            updated_at: c.updated_at,
            version: c.version,
        }
    }
}

/// A new customer, optionally with its contacts.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateCustomer {
    #[schema(required = true, example = "深圳张氏科技有限公司")]
    pub name: Option<String>,
    /// Default `enterprise`.
    #[schema(schema_with = schemas::customer_kind)]
    pub kind: Option<String>,
    #[schema(schema_with = schemas::industry_or_null)]
    pub industry: Option<String>,
    #[schema(schema_with = schemas::size_band_or_null)]
    pub size: Option<String>,
    /// Default `standard`, which the daily value grading (RFM) then sets; a grade given
    /// here is set by hand and kept (`grade_locked`).
    #[schema(schema_with = schemas::grade)]
    pub grade: Option<String>,
    /// Default `lead` (which sets `first_contact_due_at` and a follow-up task for the owner).
    #[schema(schema_with = schemas::lifecycle_stage)]
    pub lifecycle_stage: Option<String>,
    /// Default: the caller. A sales rep can only own its customers; a sales manager can give
    /// them to its team.
    pub owner_id: Option<Uuid>,
    /// Default: the owner's team.
    pub team_id: Option<Uuid>,
    #[serde(default)]
    #[schema(example = json!(["key-account", "2026-expo"]))]
    pub tags: Vec<String>,
    /// Default `campaign` when `campaign_id` is given.
    #[schema(schema_with = schemas::source_or_null)]
    pub source: Option<String>,
    /// The marketing campaign it came from (a lead of a campaign).
    pub campaign_id: Option<Uuid>,
    #[schema(schema_with = schemas::channel_or_null)]
    pub channel: Option<String>,
    #[schema(example = "https://zhangshi.example.cn")]
    pub website: Option<String>,
    /// Checked by country: China's 18-character unified social credit code has a checksum.
    #[schema(example = "91350100M000100Y43")]
    pub registration_number: Option<String>,
    /// ISO 3166-1 alpha-2; decides how the registration number is checked.
    #[schema(example = "CN")]
    pub country: Option<String>,
    #[serde(default)]
    pub addresses: Vec<Address>,
    /// Ids in integrators' systems: `{"erp": "C-1001"}`.
    #[serde(default)]
    pub external_ids: BTreeMap<String, String>,
    pub description: Option<String>,
    #[serde(default)]
    pub contacts: Vec<CreateContact>,
}

/// Changes to a customer; absent fields are kept, `null` clears optional ones.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateCustomer {
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    pub name: Patch<String>,
    #[serde(default)]
    #[schema(schema_with = schemas::customer_kind)]
    pub kind: Patch<String>,
    #[serde(default)]
    #[schema(schema_with = schemas::industry_or_null)]
    pub industry: Patch<String>,
    #[serde(default)]
    #[schema(schema_with = schemas::size_band_or_null)]
    pub size: Patch<String>,
    /// Set by hand: also locks it (`grade_locked`) unless the body unlocks it.
    #[serde(default)]
    #[schema(schema_with = schemas::grade)]
    pub grade: Patch<String>,
    /// `false` lets the value grading set the grade again; `true` keeps it as it is.
    #[serde(default)]
    #[schema(value_type = Option<bool>)]
    pub grade_locked: Patch<bool>,
    /// `lead → prospect → customer → loyal`; `churned` from any stage; `churned → prospect`.
    /// Other moves answer 409 with `allowed_stages`.
    #[serde(default)]
    #[schema(schema_with = schemas::lifecycle_stage)]
    pub lifecycle_stage: Patch<String>,
    /// Reassigning needs a sales manager (within its team) or an admin.
    #[serde(default)]
    #[schema(value_type = Option<Uuid>, nullable)]
    pub owner_id: Patch<Uuid>,
    #[serde(default)]
    #[schema(value_type = Option<Uuid>, nullable)]
    pub team_id: Patch<Uuid>,
    #[serde(default)]
    #[schema(value_type = Option<Vec<String>>, nullable)]
    pub tags: Patch<Vec<String>>,
    #[serde(default)]
    #[schema(schema_with = schemas::source_or_null)]
    pub source: Patch<String>,
    /// The marketing campaign it came from.
    #[serde(default)]
    #[schema(value_type = Option<Uuid>, nullable)]
    pub campaign_id: Patch<Uuid>,
    #[serde(default)]
    #[schema(schema_with = schemas::channel_or_null)]
    pub channel: Patch<String>,
    #[serde(default)]
    #[schema(value_type = Option<String>, nullable)]
    pub website: Patch<String>,
    #[serde(default)]
    #[schema(value_type = Option<String>, nullable)]
    pub registration_number: Patch<String>,
    #[serde(default)]
    #[schema(value_type = Option<String>, nullable)]
    pub country: Patch<String>,
    #[serde(default)]
    #[schema(value_type = Option<Vec<Address>>, nullable)]
    pub addresses: Patch<Vec<Address>>,
    #[serde(default)]
    #[schema(value_type = Option<BTreeMap<String, String>>, nullable)]
    pub external_ids: Patch<BTreeMap<String, String>>,
    #[serde(default)]
    #[schema(value_type = Option<String>, nullable)]
    pub description: Patch<String>,
}

/// A customer: a company or a person Rapport sells to or serves.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Customer {
    pub id: Uuid,
    pub name: String,
    #[schema(schema_with = schemas::customer_kind)]
    pub kind: String,
    #[schema(schema_with = schemas::industry_or_null)]
    pub industry: Option<String>,
    #[schema(schema_with = schemas::size_band_or_null)]
    pub size: Option<String>,
    #[schema(schema_with = schemas::grade)]
    pub grade: String,
    /// Set by hand: the daily value grading (RFM) leaves it as it is.
    pub grade_locked: bool,
    #[schema(schema_with = schemas::lifecycle_stage)]
    pub lifecycle_stage: String,
    pub owner_id: Option<Uuid>,
    pub team_id: Option<Uuid>,
    pub tags: Vec<String>,
    #[schema(schema_with = schemas::source_or_null)]
    pub source: Option<String>,
    /// The marketing campaign it came from.
    pub campaign_id: Option<Uuid>,
    #[schema(schema_with = schemas::channel_or_null)]
    pub channel: Option<String>,
    pub website: Option<String>,
    pub registration_number: Option<String>,
    pub country: Option<String>,
    pub addresses: Vec<Address>,
    pub external_ids: BTreeMap<String, String>,
    pub description: Option<String>,
    /// When a lead must have been contacted (set at creation of a lead).
    pub first_contact_due_at: Option<DateTime<Utc>>,
    /// The first activity that reached the customer.
    pub first_contacted_at: Option<DateTime<Utc>>,
    pub last_activity_at: Option<DateTime<Utc>>,
    /// Set when the customer was merged into another one.
    pub merged_into_id: Option<Uuid>,
    /// Set when its personal data was erased.
    pub erased_at: Option<DateTime<Utc>>,
    pub deleted_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub version: i32,
    /// Its contacts, on single-customer answers (not in lists).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub contacts: Option<Vec<Contact>>,
}

impl From<dm::Customer> for Customer {
    fn from(c: dm::Customer) -> Self {
        Customer {
            id: c.id,
            name: c.name.into_string(),
            kind: c.kind.as_str().to_owned(),
            industry: c.industry.map(|v| v.as_str().to_owned()),
            size: c.size.map(|v| v.as_str().to_owned()),
            grade: c.grade.as_str().to_owned(),
            grade_locked: c.grade_locked,
            lifecycle_stage: c.lifecycle_stage.as_str().to_owned(),
            owner_id: c.owner_id,
            team_id: c.team_id,
            tags: c.tags.into_iter().map(|t| t.into_string()).collect(),
            source: c.source.map(|v| v.as_str().to_owned()),
            campaign_id: c.campaign_id,
            channel: c.channel.map(|v| v.as_str().to_owned()),
            website: c.website.map(WebUrl::into_string),
            registration_number: c.registration_number.map(RegistrationNumber::into_string),
            country: c.country.map(|v| v.as_str().to_owned()),
            addresses: c.addresses.iter().map(Address::from).collect(),
            external_ids: c.external_ids,
            description: c.description.map(Name::into_string),
            first_contact_due_at: c.first_contact_due_at,
            first_contacted_at: c.first_contacted_at,
            last_activity_at: c.last_activity_at,
            merged_into_id: c.merged_into_id,
            erased_at: c.erased_at,
            deleted_at: c.deleted_at,
            created_at: c.created_at,
            updated_at: c.updated_at,
            version: c.version,
            contacts: None,
        }
    }
}

impl Customer {
    /// The customer alone (its contacts' changes are audited on the contacts).
    pub fn without_contacts(&self) -> Customer {
        Customer {
            contacts: None,
            ..self.clone()
        }
    }

    /// The customer with its contacts, for single-customer answers.
    pub fn with_contacts(customer: dm::Customer, contacts: Vec<dc::Contact>) -> Customer {
        Customer {
            contacts: Some(contacts.into_iter().map(Contact::from).collect()),
            ..Customer::from(customer)
        }
    }
}

crate::list_type!(CustomerList, Customer);
crate::list_type!(ContactList, Contact, with_deletions);

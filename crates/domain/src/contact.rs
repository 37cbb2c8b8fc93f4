//! Contacts: the people at a customer.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::customer::ERASED;
use crate::email::Email;
use crate::enums::{ConsentSource, ContactLabel, PreferredChannel};
use crate::phone::Phone;

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
    pub first_name: String,
    pub last_name: Option<String>,
    pub title: Option<String>,
    /// The first is the primary address.
    pub emails: Vec<EmailEntry>,
    /// The first is the primary number.
    pub phones: Vec<PhoneEntry>,
    pub preferred_channel: Option<PreferredChannel>,
    pub marketing_consent: Option<MarketingConsent>,
    /// The customer's main contact (one per customer at most).
    pub is_primary: bool,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub version: i32,
}

impl Contact {
    /// "First Last", as people read it.
    pub fn full_name(&self) -> String {
        match &self.last_name {
            Some(last) => format!("{} {last}", self.first_name),
            None => self.first_name.clone(),
        }
    }

    /// The contact with its personal data replaced: names become tombstones, addresses and
    /// numbers go, consent is withdrawn as of `now`.
    pub fn erased(&self, now: DateTime<Utc>) -> Contact {
        Contact {
            first_name: ERASED.to_owned(),
            last_name: None,
            title: None,
            emails: Vec::new(),
            phones: Vec::new(),
            preferred_channel: None,
            marketing_consent: self.marketing_consent.map(|_| MarketingConsent {
                granted: false,
                at: now,
                source: ConsentSource::Other,
            }),
            ..self.clone()
        }
    }
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
            first_name: "Lei".into(),
            last_name: Some("Li".into()),
            title: Some("CTO".into()),
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
            is_primary: true,
            created_at: now,
            updated_at: now,
            version: 1,
        };
        assert_eq!(contact.full_name(), "Lei Li");
        let erased = contact.erased(now);
        assert_eq!(erased.full_name(), ERASED);
        assert!(erased.emails.is_empty() && erased.title.is_none());
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

//! Request bodies of customers and contacts as the domain's raw values, which the domain
//! checks in one call (`Customer::create`, `Contact::create`, …) with every refused field at
//! its path (`contacts[1].phones[0].number`).

use rapport_domain::address::RawAddress;
use rapport_domain::birthday::RawBirthday;
use rapport_domain::contact::{RawConsent, RawContact, RawLabelled};
use rapport_domain::customer::RawCustomer;

use super::types::{
    Address as AddressBody, Birthday, ConsentBody, CreateContact, CreateCustomer, EmailBody,
    PhoneBody,
};

impl CreateCustomer {
    pub fn raw(&self) -> RawCustomer<'_> {
        RawCustomer {
            name: self.name.as_deref(),
            kind: self.kind.as_deref(),
            industry: self.industry.as_deref(),
            size: self.size.as_deref(),
            grade: self.grade.as_deref(),
            lifecycle_stage: self.lifecycle_stage.as_deref(),
            tags: &self.tags,
            source: self.source.as_deref(),
            channel: self.channel.as_deref(),
            website: self.website.as_deref(),
            registration_number: self.registration_number.as_deref(),
            country: self.country.as_deref(),
            addresses: addresses(&self.addresses),
            external_ids: &self.external_ids,
            description: self.description.as_deref(),
            contacts: self.contacts.iter().map(CreateContact::raw).collect(),
        }
    }
}

impl CreateContact {
    pub fn raw(&self) -> RawContact<'_> {
        RawContact {
            first_name: self.first_name.as_deref(),
            last_name: self.last_name.as_deref(),
            title: self.title.as_deref(),
            emails: emails(&self.emails),
            phones: phones(&self.phones),
            preferred_channel: self.preferred_channel.as_deref(),
            marketing_consent: self.marketing_consent.as_ref().map(ConsentBody::raw),
            birthday: self.birthday.as_ref().map(Birthday::raw),
            is_primary: self.is_primary,
        }
    }
}

impl ConsentBody {
    pub fn raw(&self) -> RawConsent<'_> {
        RawConsent {
            granted: self.granted,
            source: self.source.as_deref(),
            at: self.at,
        }
    }
}

impl Birthday {
    pub fn raw(&self) -> RawBirthday {
        RawBirthday {
            month: self.month,
            day: self.day,
            year: self.year,
        }
    }
}

pub fn addresses(bodies: &[AddressBody]) -> Vec<RawAddress<'_>> {
    bodies
        .iter()
        .map(|a| RawAddress {
            label: a.label.as_deref(),
            line1: a.line1.as_deref(),
            line2: a.line2.as_deref(),
            city: a.city.as_deref(),
            region: a.region.as_deref(),
            postal_code: a.postal_code.as_deref(),
            country: a.country.as_deref(),
        })
        .collect()
}

pub fn emails(bodies: &[EmailBody]) -> Vec<RawLabelled<'_>> {
    bodies
        .iter()
        .map(|b| RawLabelled {
            value: b.address.as_deref(),
            label: b.label.as_deref(),
        })
        .collect()
}

pub fn phones(bodies: &[PhoneBody]) -> Vec<RawLabelled<'_>> {
    bodies
        .iter()
        .map(|b| RawLabelled {
            value: b.number.as_deref(),
            label: b.label.as_deref(),
        })
        .collect()
}

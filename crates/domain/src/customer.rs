//! Customers: the companies and people Rapport sells to and serves, with the rules that act on
//! them (lead follow-up, merging, erasure).

use std::collections::BTreeMap;

use chrono::{DateTime, Duration, Utc};
use uuid::Uuid;

use crate::address::Address;
use crate::country::CountryCode;
use crate::enums::{Channel, CustomerKind, Grade, Industry, LifecycleStage, SizeBand, Source};
use crate::tag::Tag;

/// A customer as stored.
#[derive(Debug, Clone, PartialEq)]
pub struct Customer {
    pub id: Uuid,
    pub name: String,
    pub kind: CustomerKind,
    pub industry: Option<Industry>,
    pub size: Option<SizeBand>,
    pub grade: Grade,
    pub lifecycle_stage: LifecycleStage,
    pub owner_id: Option<Uuid>,
    pub team_id: Option<Uuid>,
    pub tags: Vec<Tag>,
    pub source: Option<Source>,
    pub channel: Option<Channel>,
    /// Normalized `https://…` URL.
    pub website: Option<String>,
    /// Normalized (upper-case, no spaces).
    pub registration_number: Option<String>,
    pub country: Option<CountryCode>,
    pub addresses: Vec<Address>,
    /// Ids of this customer in integrators' systems (`{"erp": "C-1001"}`).
    pub external_ids: BTreeMap<String, String>,
    pub description: Option<String>,
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

impl Customer {
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
            name: ERASED.to_owned(),
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
            name: name.into(),
            kind: CustomerKind::Enterprise,
            industry: None,
            size: None,
            grade: Grade::Standard,
            lifecycle_stage: LifecycleStage::Lead,
            owner_id: None,
            team_id: None,
            tags: vec![],
            source: None,
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
        survivor.website = Some("https://acme.example/".into());
        survivor.tags = vec![Tag::parse("a").unwrap()];
        let mut dup = customer("ACME Ltd");
        dup.website = Some("https://other.example/".into());
        dup.industry = Some(Industry::Manufacturing);
        dup.tags = vec![Tag::parse("a").unwrap(), Tag::parse("b").unwrap()];
        dup.external_ids.insert("erp".into(), "C-1".into());
        let merged = survivor.merged_with(&[dup]);
        assert_eq!(merged.name, "Acme");
        assert_eq!(merged.website.as_deref(), Some("https://acme.example/"));
        assert_eq!(merged.industry, Some(Industry::Manufacturing));
        assert_eq!(merged.tags.len(), 2);
        assert_eq!(merged.external_ids["erp"], "C-1");
        assert_eq!(merged.id, survivor.id);
    }

    #[test]
    fn erasure_keeps_no_personal_text() {
        let mut c = customer("张伟");
        c.website = Some("https://zhangwei.example/".into());
        c.description = Some("likes tea".into());
        c.lifecycle_stage = LifecycleStage::Loyal;
        let erased = c.erased(Utc::now());
        assert_eq!(erased.name, ERASED);
        assert!(erased.website.is_none() && erased.description.is_none());
        assert_eq!(
            erased.lifecycle_stage,
            LifecycleStage::Loyal,
            "aggregates stay"
        );
        assert!(erased.erased_at.is_some());
    }
}

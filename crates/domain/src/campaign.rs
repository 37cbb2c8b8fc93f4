//! Marketing campaigns: what is planned (type, channel, content, period, budget), what it
//! cost (cost entries), who takes part (members: contacts of customers, each with a status)
//! and, for email campaigns, the subject and body templates with their merge fields.
//!
//! A campaign moves `planned → active → completed | cancelled`, or `planned → cancelled`.
//! A member moves freely between its statuses; `responded_at` is set the first time it moves
//! to a response (responded, attended, converted).

use chrono::{DateTime, NaiveDate, Utc};
use uuid::Uuid;

use crate::enums::Channel;
use crate::money::Money;
use crate::name::{Name, Title};
use crate::quote::StatusRefusal;
use crate::validation::Invalid;

/// A cost entry's description.
pub type CostDescription = Name<500>;

crate::string_enum! {
    /// What kind of campaign it is.
    pub enum CampaignType {
        Email => "email",
        Event => "event",
        Social => "social",
        Wechat => "wechat",
        Ads => "ads",
        Referral => "referral",
        Other => "other",
    }
}

crate::string_enum! {
    /// Where a campaign stands.
    pub enum CampaignStatus {
        Planned => "planned",
        Active => "active",
        Completed => "completed",
        Cancelled => "cancelled",
    }
}

impl CampaignStatus {
    /// The statuses a campaign may move to from this one.
    pub fn allowed_next(self) -> &'static [CampaignStatus] {
        use CampaignStatus::*;
        match self {
            Planned => &[Active, Cancelled],
            Active => &[Completed, Cancelled],
            Completed | Cancelled => &[],
        }
    }
}

crate::string_enum! {
    /// Where a member of a campaign stands.
    pub enum MemberStatus {
        Invited => "invited",
        Responded => "responded",
        Attended => "attended",
        Converted => "converted",
        Unsubscribed => "unsubscribed",
    }
}

impl MemberStatus {
    /// The statuses that count as a response in the campaign report.
    pub const RESPONSES: &'static [MemberStatus] = &[
        MemberStatus::Responded,
        MemberStatus::Attended,
        MemberStatus::Converted,
    ];

    pub fn is_response(self) -> bool {
        Self::RESPONSES.contains(&self)
    }
}

/// Text kept as typed (line breaks matter): non-blank, at most `MAX` characters, no control
/// characters but line breaks and tabs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Text<const MAX: usize>(String);

impl<const MAX: usize> Text<MAX> {
    /// # Errors
    /// `Required` when blank, `TooLong` past `MAX` characters, `InvalidType` with control
    /// characters.
    pub fn parse(input: &str) -> Result<Self, Invalid> {
        if input
            .chars()
            .any(|c| c.is_control() && !matches!(c, '\n' | '\r' | '\t'))
        {
            return Err(Invalid::InvalidType);
        }
        if input.trim().is_empty() {
            return Err(Invalid::Required);
        }
        if input.chars().count() > MAX {
            return Err(Invalid::TooLong { max: MAX });
        }
        Ok(Text(input.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn into_string(self) -> String {
        self.0
    }
}

impl<const MAX: usize> std::fmt::Display for Text<MAX> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// A campaign's planned content.
pub type CampaignContent = Text<20_000>;

crate::string_enum! {
    /// A value an email template may name as `{{name}}`.
    pub enum MergeField {
        ContactFirstName => "contact.first_name",
        ContactLastName => "contact.last_name",
        CustomerName => "customer.name",
        UnsubscribeUrl => "unsubscribe_url",
    }
}

/// A piece of a template: text as written, or a merge field.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Segment {
    Text(String),
    Field(MergeField),
}

/// An email subject or body with merge fields (`{{contact.first_name}}`, spaces inside the
/// braces allowed), kept as typed. Every `{{` opens a merge field that must be one of
/// [`MergeField`] and be closed by `}}`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Template<const MAX: usize> {
    source: Text<MAX>,
    segments: Vec<Segment>,
}

/// An email's subject template (one line).
pub type SubjectTemplate = Template<300>;
/// An email's body template.
pub type BodyTemplate = Template<100_000>;

impl<const MAX: usize> Template<MAX> {
    /// # Errors
    /// As [`Text::parse`]; `NotOneOf` (listing the merge fields) for an unknown or unclosed
    /// merge field.
    pub fn parse(input: &str) -> Result<Self, Invalid> {
        let source = Text::<MAX>::parse(input)?;
        let mut segments = Vec::new();
        let mut rest = input;
        while let Some(open) = rest.find("{{") {
            if open > 0 {
                segments.push(Segment::Text(rest[..open].to_owned()));
            }
            let after = &rest[open + 2..];
            let close = after.find("}}").ok_or(Invalid::NotOneOf {
                allowed: MergeField::NAMES,
            })?;
            let field =
                MergeField::parse(after[..close].trim()).map_err(|_| Invalid::NotOneOf {
                    allowed: MergeField::NAMES,
                })?;
            segments.push(Segment::Field(field));
            rest = &after[close + 2..];
        }
        if !rest.is_empty() {
            segments.push(Segment::Text(rest.to_owned()));
        }
        Ok(Template { source, segments })
    }

    pub fn as_str(&self) -> &str {
        self.source.as_str()
    }

    pub fn segments(&self) -> &[Segment] {
        &self.segments
    }

    /// The text with each merge field replaced by `value(field)` (an HTML body escapes the
    /// values it passes, not the template).
    pub fn render(&self, mut value: impl FnMut(MergeField) -> String) -> String {
        let mut out = String::with_capacity(self.source.as_str().len());
        for segment in &self.segments {
            match segment {
                Segment::Text(t) => out.push_str(t),
                Segment::Field(f) => out.push_str(&value(*f)),
            }
        }
        out
    }
}

/// A marketing campaign.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Campaign {
    pub id: Uuid,
    pub name: Title,
    pub kind: CampaignType,
    pub channel: Option<Channel>,
    pub content: Option<CampaignContent>,
    pub starts_at: Option<DateTime<Utc>>,
    pub ends_at: Option<DateTime<Utc>>,
    pub budget: Option<Money>,
    pub owner_id: Option<Uuid>,
    pub status: CampaignStatus,
    /// For `email` campaigns: needed before it is sent, may be absent while planned.
    pub email_subject: Option<SubjectTemplate>,
    pub email_body: Option<BodyTemplate>,
    pub created_by: Option<Uuid>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub version: i32,
}

/// Why a campaign's fields do not fit together.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CampaignProblem {
    /// `ends_at` is not after `starts_at`.
    EndsBeforeStart,
    /// An email subject or body on a campaign that is not of type `email`.
    EmailFieldsOnOtherType,
}

impl Campaign {
    /// The problems of its fields taken together.
    pub fn problems(&self) -> Vec<CampaignProblem> {
        let mut out = Vec::new();
        if let (Some(starts), Some(ends)) = (self.starts_at, self.ends_at)
            && ends <= starts
        {
            out.push(CampaignProblem::EndsBeforeStart);
        }
        if self.kind != CampaignType::Email
            && (self.email_subject.is_some() || self.email_body.is_some())
        {
            out.push(CampaignProblem::EmailFieldsOnOtherType);
        }
        out
    }

    /// Moves the campaign to `to`.
    ///
    /// # Errors
    /// [`StatusRefusal`] when the workflow does not allow it.
    pub fn move_to(&mut self, to: CampaignStatus) -> Result<(), StatusRefusal<CampaignStatus>> {
        if !self.status.allowed_next().contains(&to) {
            return Err(StatusRefusal {
                from: self.status,
                to,
                allowed: self.status.allowed_next(),
            });
        }
        self.status = to;
        Ok(())
    }

    /// Can it be sent by email: an email campaign with a subject and a body.
    pub fn is_sendable(&self) -> bool {
        self.kind == CampaignType::Email
            && self.email_subject.is_some()
            && self.email_body.is_some()
    }
}

/// An actual cost of a campaign. Entries are added and deleted, never changed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CostEntry {
    pub id: Uuid,
    pub campaign_id: Uuid,
    pub amount: Money,
    pub description: Option<CostDescription>,
    pub incurred_on: NaiveDate,
    pub created_by: Option<Uuid>,
    pub created_at: DateTime<Utc>,
}

/// A contact of a customer taking part in a campaign (once per campaign).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Member {
    pub id: Uuid,
    pub campaign_id: Uuid,
    pub customer_id: Uuid,
    pub contact_id: Uuid,
    pub status: MemberStatus,
    pub added_at: DateTime<Utc>,
    /// When it first moved to a response.
    pub responded_at: Option<DateTime<Utc>>,
    pub updated_at: DateTime<Utc>,
    pub version: i32,
}

impl Member {
    /// A new member, invited at `now`.
    pub fn new(campaign_id: Uuid, customer_id: Uuid, contact_id: Uuid, now: DateTime<Utc>) -> Self {
        Member {
            id: Uuid::now_v7(),
            campaign_id,
            customer_id,
            contact_id,
            status: MemberStatus::Invited,
            added_at: now,
            responded_at: None,
            updated_at: now,
            version: 1,
        }
    }

    /// Moves the member to `to` at `now`; a response keeps the time of the first.
    pub fn move_to(&mut self, to: MemberStatus, now: DateTime<Utc>) {
        if to.is_response() && self.responded_at.is_none() {
            self.responded_at = Some(now);
        }
        self.status = to;
    }
}

crate::string_enum! {
    /// Why a contact or customer was not added to a campaign.
    pub enum SkipReason {
        /// The contact has not granted marketing consent (absent, or withdrawn).
        NoMarketingConsent => "no_marketing_consent",
        /// The contact is a member already.
        AlreadyMember => "already_member",
        /// The customer has no contacts.
        NoContacts => "no_contacts",
        /// No such customer or contact in the caller's view (batches only).
        NotFound => "not_found",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn campaign() -> Campaign {
        let now = DateTime::from_timestamp(1_800_000_000, 0).unwrap();
        Campaign {
            id: Uuid::now_v7(),
            name: Title::parse("Expo 2027").unwrap(),
            kind: CampaignType::Event,
            channel: None,
            content: None,
            starts_at: Some(now),
            ends_at: Some(now + chrono::Duration::days(2)),
            budget: None,
            owner_id: None,
            status: CampaignStatus::Planned,
            email_subject: None,
            email_body: None,
            created_by: None,
            created_at: now,
            updated_at: now,
            version: 1,
        }
    }

    #[test]
    fn status_moves_follow_the_workflow() {
        let mut c = campaign();
        assert!(c.move_to(CampaignStatus::Completed).is_err());
        c.move_to(CampaignStatus::Active).unwrap();
        c.move_to(CampaignStatus::Completed).unwrap();
        let refused = c.move_to(CampaignStatus::Active).unwrap_err();
        assert!(refused.allowed.is_empty());
        let mut c = campaign();
        c.move_to(CampaignStatus::Cancelled).unwrap();
        assert_eq!(c.status, CampaignStatus::Cancelled);
    }

    #[test]
    fn ends_after_it_starts() {
        let mut c = campaign();
        assert!(c.problems().is_empty());
        c.ends_at = c.starts_at;
        assert_eq!(c.problems(), vec![CampaignProblem::EndsBeforeStart]);
        c.ends_at = None;
        assert!(c.problems().is_empty());
    }

    #[test]
    fn email_fields_belong_to_email_campaigns() {
        let mut c = campaign();
        c.email_body = Some(BodyTemplate::parse("Hi").unwrap());
        assert_eq!(c.problems(), vec![CampaignProblem::EmailFieldsOnOtherType]);
        assert!(!c.is_sendable());
        c.kind = CampaignType::Email;
        assert!(c.problems().is_empty());
        assert!(!c.is_sendable());
        c.email_subject = Some(SubjectTemplate::parse("News").unwrap());
        assert!(c.is_sendable());
    }

    #[test]
    fn templates_know_their_merge_fields() {
        let t = BodyTemplate::parse(
            "Dear {{contact.first_name}} {{ contact.last_name }},\nof {{customer.name}}.\n{{unsubscribe_url}}",
        )
        .unwrap();
        let fields: Vec<MergeField> = t
            .segments()
            .iter()
            .filter_map(|s| match s {
                Segment::Field(f) => Some(*f),
                Segment::Text(_) => None,
            })
            .collect();
        assert_eq!(fields, MergeField::ALL);
        let out = t.render(|f| format!("<{}>", f.as_str()));
        assert_eq!(
            out,
            "Dear <contact.first_name> <contact.last_name>,\nof <customer.name>.\n<unsubscribe_url>"
        );
        assert_eq!(t.as_str().lines().count(), 3);
    }

    #[test]
    fn templates_refuse_unknown_or_unclosed_fields() {
        let unknown = Invalid::NotOneOf {
            allowed: MergeField::NAMES,
        };
        assert_eq!(
            BodyTemplate::parse("Hi {{contact.email}}"),
            Err(unknown.clone())
        );
        assert_eq!(BodyTemplate::parse("Hi {{contact.first_name"), Err(unknown));
        assert_eq!(BodyTemplate::parse("  "), Err(Invalid::Required));
        assert_eq!(
            BodyTemplate::parse("no fields").unwrap().segments().len(),
            1
        );
    }

    #[test]
    fn responses_keep_their_first_time() {
        let t0 = DateTime::from_timestamp(1_800_000_000, 0).unwrap();
        let t1 = t0 + chrono::Duration::hours(1);
        let mut m = Member::new(Uuid::now_v7(), Uuid::now_v7(), Uuid::now_v7(), t0);
        assert_eq!(m.status, MemberStatus::Invited);
        m.move_to(MemberStatus::Unsubscribed, t0);
        assert_eq!(m.responded_at, None);
        m.move_to(MemberStatus::Responded, t0);
        m.move_to(MemberStatus::Converted, t1);
        assert_eq!(m.responded_at, Some(t0));
        assert!(MemberStatus::Attended.is_response());
        assert!(!MemberStatus::Invited.is_response());
    }
}

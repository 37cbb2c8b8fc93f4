//! What a condition can test: the records a rule fires on, their fields with the kind of value
//! each holds, and the operators each kind takes.
//!
//! A field's name is the JSON name the API answers for that record (`amount.amount` for a
//! nested value), so that a condition reads like the record a user sees, and the rule runner
//! evaluates it on the record's JSON answer as it is. Code lists come from the domain enums'
//! `NAMES`, so a new value of an enum is at once a value a condition may name.

use crate::campaign::MemberStatus;
use crate::country::CountryCode;
use crate::currency::CurrencyCode;
use crate::enums::{
    Channel, ConsentSource, CustomerKind, Grade, Industry, LifecycleStage, PreferredChannel,
    SizeBand, Source,
};
use crate::opportunity::{LostReason, OpportunityStatus};
use crate::quote::{OrderStatus, QuoteStatus};
use crate::survey::{InvitationOrigin, InvitationStatus};
use crate::ticket::{TicketCategory, TicketChannel, TicketPriority, TicketStatus};

use super::Op;
use FieldKind::{Bool, Code, Date, Decimal, Id, Number, Tags, Text, Time};

crate::string_enum! {
    /// The records an automation rule can fire on.
    pub enum RecordType {
        Customer => "customer",
        Contact => "contact",
        Opportunity => "opportunity",
        Quote => "quote",
        Order => "order",
        Ticket => "ticket",
        CampaignMember => "campaign_member",
        SurveyInvitation => "survey_invitation",
    }
}

impl RecordType {
    /// Whether the record belongs to a customer: then its conditions may also test the
    /// customer's fields under `customer.` (`customer.grade`), and the rule runner places the
    /// customer's JSON answer under a `customer` key of the record's.
    pub fn has_customer(self) -> bool {
        self != RecordType::Customer
    }
}

/// One field a condition may test.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Field {
    /// The JSON name, dotted for a nested value (`amount.currency`, `customer.grade`).
    pub name: &'static str,
    pub kind: FieldKind,
}

/// What a field holds, which decides the operators it takes and how values compare.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FieldKind {
    /// Free text, compared without regard to case.
    Text,
    /// One value of a closed list (the wire names), compared exactly.
    Code(&'static [&'static str]),
    /// A UUID.
    Id,
    /// A JSON number.
    Number,
    /// An exact decimal, written as a decimal string (an amount of money).
    Decimal,
    /// An instant, RFC 3339.
    Time,
    /// A calendar day, `YYYY-MM-DD`.
    Date,
    Bool,
    /// A list of tags: `contains` one, `in` any of them.
    Tags,
}

/// The operators of free text.
const TEXT_OPS: &[&str] = &[
    "eq",
    "ne",
    "in",
    "not_in",
    "contains",
    "is_empty",
    "is_not_empty",
];
/// The operators of codes and ids: equality only, since their order means nothing.
const CODE_OPS: &[&str] = &["eq", "ne", "in", "not_in", "is_empty", "is_not_empty"];
/// The operators of numbers, amounts, times and days.
const ORDERED_OPS: &[&str] = &[
    "eq",
    "ne",
    "gt",
    "gte",
    "lt",
    "lte",
    "is_empty",
    "is_not_empty",
];
const BOOL_OPS: &[&str] = &["eq", "ne", "is_empty", "is_not_empty"];
/// `eq` is not among them: a list of tags equal to one tag is rarely what a user means.
const TAGS_OPS: &[&str] = &["contains", "in", "not_in", "is_empty", "is_not_empty"];

impl FieldKind {
    /// The wire names of the operators this kind takes (listed when another one is refused).
    pub fn ops(self) -> &'static [&'static str] {
        match self {
            Text => TEXT_OPS,
            Code(_) | Id => CODE_OPS,
            Number | Decimal | Time | Date => ORDERED_OPS,
            Bool => BOOL_OPS,
            Tags => TAGS_OPS,
        }
    }

    /// Whether this kind takes `op`.
    pub fn takes(self, op: Op) -> bool {
        self.ops().contains(&op.as_str())
    }
}

/// The fields a condition on `record` may test, the customer's under `customer.` for a record
/// that belongs to one ([`RecordType::has_customer`]).
///
/// Kept to what list filters and rules need: personal free text (names of people, emails,
/// phones, addresses, descriptions, notes) and bookkeeping (`version`) are left out.
pub fn fields(record: RecordType) -> &'static [Field] {
    match record {
        RecordType::Customer => CUSTOMER,
        RecordType::Contact => CONTACT,
        RecordType::Opportunity => OPPORTUNITY,
        RecordType::Quote => QUOTE,
        RecordType::Order => ORDER,
        RecordType::Ticket => TICKET,
        RecordType::CampaignMember => CAMPAIGN_MEMBER,
        RecordType::SurveyInvitation => SURVEY_INVITATION,
    }
}

/// The field of `record` named `name`.
pub fn field(record: RecordType, name: &str) -> Option<Field> {
    fields(record).iter().copied().find(|f| f.name == name)
}

const fn f(name: &'static str, kind: FieldKind) -> Field {
    Field { name, kind }
}

/// A record's table: its own fields, then the customer's, each name after `$prefix`.
/// The customer's fields are written here once, for the customer itself (no prefix) and for
/// every record that belongs to one (`customer.`).
macro_rules! with_customer_fields {
    ($prefix:literal, [$($own:expr),* $(,)?]) => {
        &[
            $($own,)*
            f(concat!($prefix, "id"), Id),
            f(concat!($prefix, "kind"), Code(CustomerKind::NAMES)),
            f(concat!($prefix, "name"), Text),
            f(concat!($prefix, "industry"), Code(Industry::NAMES)),
            f(concat!($prefix, "size"), Code(SizeBand::NAMES)),
            f(concat!($prefix, "grade"), Code(Grade::NAMES)),
            f(concat!($prefix, "grade_locked"), Bool),
            f(concat!($prefix, "lifecycle_stage"), Code(LifecycleStage::NAMES)),
            f(concat!($prefix, "owner_id"), Id),
            f(concat!($prefix, "team_id"), Id),
            f(concat!($prefix, "tags"), Tags),
            f(concat!($prefix, "source"), Code(Source::NAMES)),
            f(concat!($prefix, "campaign_id"), Id),
            f(concat!($prefix, "channel"), Code(Channel::NAMES)),
            f(concat!($prefix, "country"), Code(&CountryCode::CODES)),
            f(concat!($prefix, "first_contact_due_at"), Time),
            f(concat!($prefix, "first_contacted_at"), Time),
            f(concat!($prefix, "last_activity_at"), Time),
            f(concat!($prefix, "created_at"), Time),
            f(concat!($prefix, "updated_at"), Time),
        ]
    };
}

static CUSTOMER: &[Field] = with_customer_fields!("", []);

static CONTACT: &[Field] = with_customer_fields!(
    "customer.",
    [
        f("id", Id),
        f("customer_id", Id),
        f("title", Text),
        f("preferred_channel", Code(PreferredChannel::NAMES)),
        f("marketing_consent.granted", Bool),
        f("marketing_consent.source", Code(ConsentSource::NAMES)),
        f("marketing_consent.at", Time),
        f("is_primary", Bool),
        f("created_at", Time),
        f("updated_at", Time),
    ]
);

static OPPORTUNITY: &[Field] = with_customer_fields!(
    "customer.",
    [
        f("id", Id),
        f("customer_id", Id),
        f("contact_id", Id),
        f("title", Text),
        f("source", Code(Source::NAMES)),
        f("campaign_id", Id),
        f("amount.amount", Decimal),
        f("amount.currency", Code(&CurrencyCode::CODES)),
        f("expected_close_date", Date),
        f("pipeline_id", Id),
        f("stage_id", Id),
        f("status", Code(OpportunityStatus::NAMES)),
        f("probability", Number),
        f("probability_overridden", Bool),
        f("owner_id", Id),
        f("team_id", Id),
        f("next_step", Text),
        f("tags", Tags),
        f("lost_reason", Code(LostReason::NAMES)),
        f("closed_at", Time),
        f("stage_entered_at", Time),
        f("created_by", Id),
        f("created_at", Time),
        f("updated_at", Time),
    ]
);

static QUOTE: &[Field] = with_customer_fields!(
    "customer.",
    [
        f("id", Id),
        f("number", Text),
        f("opportunity_id", Id),
        f("customer_id", Id),
        f("currency", Code(&CurrencyCode::CODES)),
        f("status", Code(QuoteStatus::NAMES)),
        f("valid_until", Date),
        f("totals.subtotal.amount", Decimal),
        f("totals.discount.amount", Decimal),
        f("totals.tax.amount", Decimal),
        f("totals.total.amount", Decimal),
        f("sent_at", Time),
        f("decided_at", Time),
        f("created_by", Id),
        f("created_at", Time),
        f("updated_at", Time),
    ]
);

static ORDER: &[Field] = with_customer_fields!(
    "customer.",
    [
        f("id", Id),
        f("number", Text),
        f("customer_id", Id),
        f("opportunity_id", Id),
        f("quote_id", Id),
        f("currency", Code(&CurrencyCode::CODES)),
        f("status", Code(OrderStatus::NAMES)),
        f("totals.subtotal.amount", Decimal),
        f("totals.discount.amount", Decimal),
        f("totals.tax.amount", Decimal),
        f("totals.total.amount", Decimal),
        f("ordered_at", Time),
        f("fulfilled_at", Time),
        f("cancelled_at", Time),
        f("created_by", Id),
        f("created_at", Time),
        f("updated_at", Time),
    ]
);

static TICKET: &[Field] = with_customer_fields!(
    "customer.",
    [
        f("id", Id),
        f("customer_id", Id),
        f("contact_id", Id),
        f("subject", Text),
        f("channel", Code(TicketChannel::NAMES)),
        f("category", Code(TicketCategory::NAMES)),
        f("priority", Code(TicketPriority::NAMES)),
        f("status", Code(TicketStatus::NAMES)),
        f("assignee_id", Id),
        f("team_id", Id),
        f("tags", Tags),
        f("first_responded_at", Time),
        f("resolved_at", Time),
        f("closed_at", Time),
        f("sla_policy_id", Id),
        f("first_response_due_at", Time),
        f("resolution_due_at", Time),
        f("paused_at", Time),
        f("sla_breached", Bool),
        f("first_response_breached_at", Time),
        f("resolution_breached_at", Time),
        f("created_by", Id),
        f("created_at", Time),
        f("updated_at", Time),
    ]
);

static CAMPAIGN_MEMBER: &[Field] = with_customer_fields!(
    "customer.",
    [
        f("id", Id),
        f("campaign_id", Id),
        f("customer_id", Id),
        f("contact_id", Id),
        f("status", Code(MemberStatus::NAMES)),
        f("added_at", Time),
        f("responded_at", Time),
        f("updated_at", Time),
    ]
);

static SURVEY_INVITATION: &[Field] = with_customer_fields!(
    "customer.",
    [
        f("id", Id),
        f("survey_id", Id),
        f("contact_id", Id),
        f("customer_id", Id),
        f("ticket_id", Id),
        f("opportunity_id", Id),
        f("order_id", Id),
        f("trigger", Code(InvitationOrigin::NAMES)),
        f("status", Code(InvitationStatus::NAMES)),
        f("expires_at", Time),
        f("opened_at", Time),
        f("answered_at", Time),
        f("emailed_at", Time),
        f("follow_up_ticket_id", Id),
        f("created_at", Time),
        f("updated_at", Time),
    ]
);

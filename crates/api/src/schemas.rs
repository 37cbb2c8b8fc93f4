//! The code lists of the OpenAPI document. Each domain enum is one named component
//! (`#/components/schemas/Industry`) that fields reference, and a nullable field references it
//! as `oneOf: [$ref, {type: null}]` rather than adding `null` to the list: a generated client
//! then gets one class per list instead of several per field.
//!
//! Request types still take these fields as strings, so one answer can list every bad field
//! rather than stop at the first unknown value; only the document names the list, with
//! `#[schema(schema_with = schemas::industry_or_null)]` on the field. That replaces the field's
//! whole schema, its doc comment and example included, so notes that clients need go on the
//! type. `openapi::document` adds [`code_lists`] to the components.

use rapport_domain::activity::TaskOrigin;
use rapport_domain::article::{ArticleKind, ArticleStatus, Audience};
use rapport_domain::assignment::AssignmentRule;
use rapport_domain::auth::{Role, Scope};
use rapport_domain::contact::ContactPoint;
use rapport_domain::enums::{
    ActivityKind, AddressLabel, Channel, ConsentSource, ContactLabel, CustomerKind, Direction,
    Grade, Industry, LifecycleStage, PreferredChannel, SizeBand, Source, TaskStatus,
};
use rapport_domain::import::ImportStatus;
use rapport_domain::job::JobStatus;
use rapport_domain::loyalty::{LoyaltyKind, Tier};
use rapport_domain::opportunity::{LostReason, OpportunityStatus};
use rapport_domain::pipeline::StageKind;
use rapport_domain::quote::{OrderStatus, QuoteStatus};
use rapport_domain::report::{CustomerDimension, Grouping, Interval};
use rapport_domain::sla::SlaClock;
use rapport_domain::survey::{
    InvitationOrigin, InvitationStatus, QuestionKind, ResultGroup, SkipReason, SurveyEvent,
};
use rapport_domain::ticket::{TicketCategory, TicketChannel, TicketPriority, TicketStatus};
use rapport_domain::webhook::{DeliveryStatus, EventType, WebhookStatus};
use utoipa::openapi::RefOr;
use utoipa::openapi::schema::{
    AnyOfBuilder, ArrayBuilder, KnownFormat, ObjectBuilder, OneOfBuilder, Ref, Schema,
    SchemaFormat, SchemaType, Type,
};

/// A code list: the name of its component, what it is, and its values.
#[derive(Debug, Clone)]
pub struct CodeList {
    pub name: &'static str,
    pub description: &'static str,
    pub values: Vec<&'static str>,
}

impl CodeList {
    /// The component: a string, one of the values.
    pub fn schema(&self) -> Schema {
        ObjectBuilder::new()
            .schema_type(Type::String)
            .description(Some(self.description))
            .enum_values(Some(self.values.iter().copied()))
            .into()
    }
}

fn reference(name: &str) -> RefOr<Schema> {
    RefOr::Ref(Ref::from_schema_name(name))
}

fn or_null(name: &str) -> RefOr<Schema> {
    let null = ObjectBuilder::new().schema_type(Type::Null);
    OneOfBuilder::new().item(reference(name)).item(null).into()
}

macro_rules! code_lists {
    ($($name:ident: $values:expr, $description:literal => $one:ident, $or_null:ident;)*) => {
        /// Every code list, each a component of the document.
        pub fn code_lists() -> Vec<CodeList> {
            vec![$(CodeList {
                name: stringify!($name),
                description: $description,
                values: $values.to_vec(),
            }),*]
        }

        $(
            #[doc = concat!("A field holding a `", stringify!($name), "`.")]
            pub fn $one() -> RefOr<Schema> {
                reference(stringify!($name))
            }

            #[doc = concat!("A field holding a `", stringify!($name), "`, or `null`.")]
            pub fn $or_null() -> RefOr<Schema> {
                or_null(stringify!($name))
            }
        )*
    };
}

code_lists! {
    CustomerKind: CustomerKind::NAMES, "What kind of party a customer is."
        => customer_kind, customer_kind_or_null;
    Industry: Industry::NAMES, "The sector a customer works in."
        => industry, industry_or_null;
    SizeBand: SizeBand::NAMES, "How many people a customer employs."
        => size_band, size_band_or_null;
    Grade: Grade::NAMES, "A customer's value grade."
        => grade, grade_or_null;
    LifecycleStage: LifecycleStage::NAMES, "Where a customer is in its relationship with us."
        => lifecycle_stage, lifecycle_stage_or_null;
    Source: Source::NAMES, "How a customer first found us."
        => source, source_or_null;
    Channel: Channel::NAMES, "The channel of a first contact or of an activity."
        => channel, channel_or_null;
    PreferredChannel: PreferredChannel::NAMES, "How a contact prefers to be reached."
        => preferred_channel, preferred_channel_or_null;
    ContactLabel: ContactLabel::NAMES, "The label of a contact's email address or phone number."
        => contact_label, contact_label_or_null;
    AddressLabel: AddressLabel::NAMES, "What an address is used for."
        => address_label, address_label_or_null;
    ActivityKind: ActivityKind::NAMES, "The kind of a recorded interaction."
        => activity_kind, activity_kind_or_null;
    Direction: Direction::NAMES, "Who started an interaction: the customer or we."
        => direction, direction_or_null;
    TaskStatus: TaskStatus::NAMES, "Where a follow-up task stands."
        => task_status, task_status_or_null;
    TaskOrigin: TaskOrigin::NAMES,
        "Where a task came from: `lead_follow_up` when the lead follow-up rule made it."
        => task_origin, task_origin_or_null;
    TicketChannel: TicketChannel::NAMES, "How a ticket reached us."
        => ticket_channel, ticket_channel_or_null;
    TicketCategory: TicketCategory::NAMES, "What a ticket is about."
        => ticket_category, ticket_category_or_null;
    TicketPriority: TicketPriority::NAMES, "How urgent a ticket is."
        => ticket_priority, ticket_priority_or_null;
    TicketStatus: TicketStatus::NAMES,
        "Where a ticket stands: `new → open → pending → resolved → closed`, `reopened` within a window after resolution."
        => ticket_status, ticket_status_or_null;
    SlaClock: SlaClock::NAMES, "How an SLA policy counts: `calendar` hours, or `business` hours of its calendar."
        => sla_clock, sla_clock_or_null;
    AssignmentRule: AssignmentRule::NAMES,
        "How a team hands out new work without an assignee: `none`, `round_robin` or `least_loaded`."
        => assignment_rule, assignment_rule_or_null;
    ArticleKind: ArticleKind::NAMES,
        "What a knowledge-base article is: `solution`, `faq`, `success_case`, `playbook` or `policy`."
        => article_kind, article_kind_or_null;
    Audience: Audience::NAMES,
        "Who reads a published article: staff only (`internal`) or anyone, in the help center (`public`)."
        => audience, audience_or_null;
    ArticleStatus: ArticleStatus::NAMES,
        "Where an article stands: `draft → published → archived`; an archived article may be published again."
        => article_status, article_status_or_null;
    JobStatus: JobStatus::NAMES,
        "Where a background job is: `queued` (also between retries), `running`, `succeeded` or `dead` (out of attempts)."
        => job_status, job_status_or_null;
    StageKind: StageKind::NAMES,
        "Whether a pipeline stage is still in play (`open`) or one of its ends (`won`, `lost`)."
        => stage_kind, stage_kind_or_null;
    OpportunityStatus: OpportunityStatus::NAMES,
        "Where an opportunity stands, from its stage's kind: `open`, `won` or `lost`."
        => opportunity_status, opportunity_status_or_null;
    LostReason: LostReason::NAMES, "Why a deal was lost (free text goes in `lost_note`)."
        => lost_reason, lost_reason_or_null;
    QuoteStatus: QuoteStatus::NAMES,
        "Where a quote stands: `draft → sent → accepted | rejected | expired` (a sent quote expires after its `valid_until` day)."
        => quote_status, quote_status_or_null;
    OrderStatus: OrderStatus::NAMES, "Where an order stands: `confirmed → fulfilled | cancelled`."
        => order_status, order_status_or_null;
    LoyaltyKind: LoyaltyKind::NAMES,
        "What a loyalty ledger row records: `earn` (an order's points), `redeem`, `adjust` (by an admin, with a reason), `expire` (oldest points first) or `reversal` (a cancelled order's points taken back)."
        => loyalty_kind, loyalty_kind_or_null;
    Tier: Tier::NAMES, "A loyalty tier, by the points earned in the last 12 months."
        => tier, tier_or_null;
    QuestionKind: QuestionKind::NAMES,
        "What a survey question asks: `csat` (1–5), `nps` (0–10), `rating` (1–max), `single_choice`, `multi_choice` or `text`."
        => question_kind, question_kind_or_null;
    InvitationStatus: InvitationStatus::NAMES,
        "Where a survey invitation stands: `sent`, `opened` (read), `answered`, or `expired` (unanswered past `expires_at`)."
        => invitation_status, invitation_status_or_null;
    InvitationOrigin: InvitationOrigin::NAMES, "How a survey invitation was sent: by hand, or by a trigger's event."
        => invitation_origin, invitation_origin_or_null;
    SurveyEvent: SurveyEvent::NAMES, "What a survey trigger answers to."
        => survey_event, survey_event_or_null;
    SkipReason: SkipReason::NAMES, "Why a contact was not invited to a survey."
        => skip_reason, skip_reason_or_null;
    ConsentSource: ConsentSource::NAMES, "How a contact gave or withdrew marketing consent."
        => consent_source, consent_source_or_null;
    CampaignType: rapport_domain::campaign::CampaignType::NAMES, "What kind of marketing campaign it is."
        => campaign_type, campaign_type_or_null;
    CampaignStatus: rapport_domain::campaign::CampaignStatus::NAMES,
        "Where a campaign stands: `planned → active → completed | cancelled`, or `planned → cancelled`."
        => campaign_status, campaign_status_or_null;
    MemberStatus: rapport_domain::campaign::MemberStatus::NAMES,
        "Where a campaign member stands; `responded`, `attended` and `converted` count as responses, `unsubscribed` withdraws the contact's marketing consent."
        => member_status, member_status_or_null;
    MemberSkipReason: rapport_domain::campaign::SkipReason::NAMES,
        "Why a contact or customer was not added to a campaign: `no_marketing_consent` (none recorded, or withdrawn), `already_member`, `no_contacts` (a customer without contacts), `not_found` (in a batch: nothing the caller sees)."
        => member_skip_reason, member_skip_reason_or_null;
    Role: Role::NAMES,
        "The role of a user account, or `integration` for an integration client."
        => role, role_or_null;
    ReportPeriod: rapport_domain::automation::action::ReportPeriod::NAMES,
        "The time an emailed report covers, set as its `from` and `to` when it is sent: the whole UTC day, week (from Monday) or month before the one it is sent in."
        => report_period, report_period_or_null;
    ReportRole: rapport_domain::automation::action::REPORT_ROLES,
        "A role an automation rule's emailed report can go to: the roles with `reports:read`."
        => report_role, report_role_or_null;
    Scope: Scope::ALL.map(Scope::as_str), "An OAuth2 scope: what a token allows."
        => scope, scope_or_null;
    WebhookEventType: EventType::NAMES,
        "What a webhook event tells of, `<object>.<what>`; the top-level `webhooks` section describes each."
        => webhook_event_type, webhook_event_type_or_null;
    AutomationTriggerType: rapport_domain::automation::trigger::TriggerKind::NAMES,
        "What fires an automation rule: a record event, a cron schedule, or a relative day (`inactivity`, `before_close`, `birthday`, `callback_cadence`), checked once a local day at `at` in `time_zone`."
        => automation_trigger_type, automation_trigger_type_or_null;
    AutomationEvent: rapport_domain::automation::trigger::TriggerEvent::NAMES,
        "The record events an automation rule can fire on (`customer.updated` narrows with `field` and `to`)."
        => automation_event, automation_event_or_null;
    AutomationActionType: rapport_domain::automation::action::ActionType::NAMES,
        "What an automation rule's action does."
        => automation_action_type, automation_action_type_or_null;
    AutomationPerson: rapport_domain::automation::action::PersonKind::NAMES,
        "Whom an action addresses: the record's `owner`, the `owner_manager` (the manager of the owner's team), a `user` (`user_id`), a team's members in turn (`round_robin`, `team_id`; tasks), or the record's `contact` (emails, with marketing consent)."
        => automation_person, automation_person_or_null;
    AutomationRecordType: rapport_domain::automation::condition::RecordType::NAMES,
        "The kind of record an automation rule looks at."
        => automation_record_type, automation_record_type_or_null;
    ConditionOperator: rapport_domain::automation::condition::Op::NAMES,
        "A condition's operator; which fit depends on the field's kind."
        => condition_operator, condition_operator_or_null;
    AutomationRunStatus: rapport_domain::automation::run::RunStatus::NAMES,
        "Where a rule's run is: `running`, `succeeded`, `failed` (an action failed after its retries), `skipped` (conditions not met, record gone, rule disabled) or `stopped` (a loop or a chain too deep)."
        => automation_run_status, automation_run_status_or_null;
    AutomationOutcomeStatus: rapport_domain::automation::run::OutcomeStatus::NAMES,
        "What became of an action: `done`, `refused` (the API's rules refused it; nothing changed), `retrying`, `failed`."
        => automation_outcome_status, automation_outcome_status_or_null;
    AutomationEmailStatus: rapport_domain::automation::run::EmailStatus::NAMES,
        "What became of an action's email: `sending` (being handed to the mail server; one whose worker stopped then is never sent again), `sent`, `not_sent` (see its `reason`), `bounced` (refused for good by the mail server)."
        => automation_email_status, automation_email_status_or_null;
    WebhookStatus: WebhookStatus::NAMES,
        "`active` subscriptions get events; `paused` ones get none until resumed (their pending deliveries wait)."
        => webhook_status, webhook_status_or_null;
    BatchOutcome: crate::batch::Outcome::NAMES,
        "What became of a batch item: `created`, `updated`, or `failed` (its `error` says why)."
        => batch_outcome, batch_outcome_or_null;
    DeliveryStatus: DeliveryStatus::NAMES,
        "`pending` until a 2xx answer (`succeeded`), or `failed` after 24 hours of failed attempts."
        => delivery_status, delivery_status_or_null;
    CustomerSort: crate::routes::customers::list::SORTS,
        "The order of the customer list; `-` for descending. Default `-created_at`; with `q`, by relevance: a whole email, phone or registration number first, then whole words, word starts, pinyin, and last insides of words and phone tails; newest first within each. In the change feed, `updated_at` only."
        => customer_sort, customer_sort_or_null;
    OpportunitySort: crate::routes::opportunities::SORTS,
        "The order of the opportunity list; `-` for descending, default `-created_at`. Sorting by amount or expected close leaves out opportunities without one. In the change feed, `updated_at` only."
        => opportunity_sort, opportunity_sort_or_null;
    TicketSort: crate::routes::tickets::DOCUMENTED_SORTS,
        "The order of the ticket list: `-created_at` (newest first, the default) or `resolution_due_at` (the agents' queue: soonest due first; tickets without a due time are left out); `updated_at` in the change feed only."
        => ticket_sort, ticket_sort_or_null;
    UserAlias: ["me"], "`me`: the caller, where a user's id is asked for."
        => user_alias, user_alias_or_null;
    ReportGrouping: Grouping::NAMES, "How a report groups its rows: per rep (`owner`) or per `team`."
        => report_grouping, report_grouping_or_null;
    ReportInterval: Interval::NAMES, "The periods of a report: `week` (from Monday) or `month`, UTC."
        => report_interval, report_interval_or_null;
    SatisfactionGrouping: ResultGroup::NAMES,
        "How survey results break down: `agent`, `team`, `channel` or `category` (the ticket's), or `grade` (the customer's when invited)."
        => satisfaction_grouping, satisfaction_grouping_or_null;
    AuditChainBreak: rapport_domain::audit_chain::Broken::NAMES,
        "Why the audit chain breaks at a place: `missing` (a sealed event or its seal was deleted), `content` (the event's fields or its hash differ from what was sealed), `changes` (its changes differ, and erasure did not scrub them), `head` (the chain ends elsewhere than its recorded head)."
        => audit_chain_break, audit_chain_break_or_null;
    ImportStatus: ImportStatus::NAMES,
        "`queued` until a worker takes it, `running` while its rows are imported, then `completed`, or `failed` when it stopped for a reason no row caused (`error` says which)."
        => import_status, import_status_or_null;
}

/// A field holding a list of webhook event types.
pub fn webhook_event_types() -> RefOr<Schema> {
    list_of(webhook_event_type())
}

/// A field holding a list of webhook event types, or `null`.
pub fn webhook_event_types_or_null() -> RefOr<Schema> {
    list_or_null(webhook_event_type())
}

/// A field holding a list of scopes.
pub fn scopes() -> RefOr<Schema> {
    list_of(scope())
}

/// A field holding a list of scopes, or `null`.
pub fn scopes_or_null() -> RefOr<Schema> {
    list_or_null(scope())
}

/// A field holding a list of report roles, or `null`.
pub fn report_roles_or_null() -> RefOr<Schema> {
    list_or_null(report_role())
}

/// A list of `item`s.
fn list_of(item: RefOr<Schema>) -> RefOr<Schema> {
    ArrayBuilder::new().items(item).into()
}

/// A list of `item`s, or `null`.
fn list_or_null(item: RefOr<Schema>) -> RefOr<Schema> {
    ArrayBuilder::new()
        .schema_type(SchemaType::from_iter([Type::Array, Type::Null]))
        .items(item)
        .into()
}

/// A user parameter (`owner_id`, `assignee_id`): a user's id, or `me` for the caller, as
/// `extract::user_param` reads it.
pub fn user_or_me() -> RefOr<Schema> {
    let id = ObjectBuilder::new()
        .schema_type(Type::String)
        .format(Some(SchemaFormat::KnownFormat(KnownFormat::Uuid)));
    // anyOf, not oneOf: `format` only annotates, so `me` would match both.
    AnyOfBuilder::new()
        .description(Some("A user's id, or `me` for the caller."))
        .item(id)
        .item(user_alias())
        .into()
}

/// [`user_or_me`], or `null`.
pub fn user_or_me_or_null() -> RefOr<Schema> {
    let null = ObjectBuilder::new().schema_type(Type::Null);
    OneOfBuilder::new().item(user_or_me()).item(null).into()
}

/// A parameter of 1 to `most` of `values`, comma separated (`by=industry,grade`), with no
/// spaces; or empty too, when `empty` (the same as leaving it out).
fn comma_list(values: &[&str], most: usize, empty: bool) -> RefOr<Schema> {
    let one = values.join("|");
    let list = format!("({one})(,({one})){{0,{}}}", most - 1);
    let pattern = if empty {
        format!("^({list})?$")
    } else {
        format!("^{list}$")
    };
    ObjectBuilder::new()
        .schema_type(Type::String)
        .pattern(Some(pattern))
        .into()
}

/// The forecast's extra groupings (`by=owner,month`).
pub fn forecast_by() -> RefOr<Schema> {
    comma_list(crate::routes::reports::FORECAST_BY, 2, true)
}

/// The customer distribution's one or two fields (`by=industry,grade`).
pub fn distribution_by() -> RefOr<Schema> {
    comma_list(CustomerDimension::NAMES, 2, false)
}

/// The contact points a contact lacks (`missing=email,phone`).
pub fn missing_contact_points() -> RefOr<Schema> {
    comma_list(ContactPoint::NAMES, ContactPoint::NAMES.len(), false)
}

#[cfg(test)]
mod tests {
    use serde_json::{Value, json};

    use crate::openapi::document;

    /// The code lists, as clients find them among the components.
    const NAMES: [&str; 67] = [
        "AuditChainBreak",
        "AutomationTriggerType",
        "AutomationEvent",
        "AutomationActionType",
        "AutomationPerson",
        "AutomationRecordType",
        "ConditionOperator",
        "AutomationRunStatus",
        "AutomationOutcomeStatus",
        "AutomationEmailStatus",
        "CampaignType",
        "CampaignStatus",
        "MemberStatus",
        "MemberSkipReason",
        "UserAlias",
        "ReportGrouping",
        "ReportInterval",
        "ReportPeriod",
        "ReportRole",
        "SatisfactionGrouping",
        "CustomerSort",
        "OpportunitySort",
        "TicketSort",
        "ImportStatus",
        "BatchOutcome",
        "QuestionKind",
        "InvitationStatus",
        "InvitationOrigin",
        "SurveyEvent",
        "SkipReason",
        "StageKind",
        "OpportunityStatus",
        "LostReason",
        "QuoteStatus",
        "OrderStatus",
        "LoyaltyKind",
        "Tier",
        "ArticleKind",
        "Audience",
        "ArticleStatus",
        "CustomerKind",
        "Industry",
        "SizeBand",
        "Grade",
        "LifecycleStage",
        "Source",
        "Channel",
        "PreferredChannel",
        "ContactLabel",
        "AddressLabel",
        "ActivityKind",
        "Direction",
        "TaskStatus",
        "TaskOrigin",
        "JobStatus",
        "TicketChannel",
        "TicketCategory",
        "TicketPriority",
        "TicketStatus",
        "SlaClock",
        "AssignmentRule",
        "ConsentSource",
        "Role",
        "Scope",
        "WebhookEventType",
        "WebhookStatus",
        "DeliveryStatus",
    ];

    /// Collects every `enum` under `value`, with where it is.
    fn enums<'a>(at: &str, value: &'a Value, found: &mut Vec<(String, &'a Value)>) {
        match value {
            Value::Object(members) => {
                for (key, member) in members {
                    if key == "enum" {
                        found.push((at.to_owned(), member));
                    } else {
                        enums(&format!("{at}/{key}"), member, found);
                    }
                }
            }
            Value::Array(items) => {
                for (i, item) in items.iter().enumerate() {
                    enums(&format!("{at}/{i}"), item, found);
                }
            }
            _ => {}
        }
    }

    #[test]
    fn each_code_list_is_one_named_component() {
        let doc = document();
        let schemas = &doc["components"]["schemas"];
        for name in NAMES {
            let list = &schemas[name];
            let values = list["enum"].as_array();
            let strings = values.is_some_and(|v| !v.is_empty() && v.iter().all(Value::is_string));
            assert!(strings && list["type"] == "string", "{name}: {list}");
        }
        let reference = |name: &str| json!({"$ref": format!("#/components/schemas/{name}")});
        let customer = &schemas["Customer"]["properties"];
        assert_eq!(customer["kind"], reference("CustomerKind"));
        let nullable = json!({"oneOf": [reference("Industry"), {"type": "null"}]});
        assert_eq!(customer["industry"], nullable);
        assert_eq!(
            schemas["Me"]["properties"]["scopes"]["items"],
            reference("Scope")
        );
    }

    #[test]
    fn no_schema_inlines_an_enum() {
        let doc = document();
        let mut found = Vec::new();
        enums("#", &doc, &mut found);
        for (at, values) in &found {
            let nulls = values.as_array().is_some_and(|v| v.contains(&Value::Null));
            assert!(!nulls, "an enum with null at {at}: {values}");
            let component = at.strip_prefix("#/components/schemas/");
            let named = component.is_some_and(|name| NAMES.contains(&name));
            assert!(named, "an inline enum at {at}: {values}");
        }
        assert_eq!(found.len(), NAMES.len(), "one enum per code list");
    }
}

//! What a rule does when it fires. Each action is read here for its shape; what needs the
//! database (does that user exist, is that change one the API takes) the API checks on save,
//! and again when the action runs, through the same code as the API's own requests.

use chrono::{DateTime, Datelike, Days, Months, NaiveDate, NaiveTime, Utc};
use serde_json::{Map, Value, json};
use uuid::Uuid;

use super::condition::RecordType;
use super::template::Template;
use crate::auth::{Role, Scope};
use crate::tag::Tag;
use crate::validation::{Errors, Invalid, path};

crate::string_enum! {
    /// The kinds of action (the `type` of each action).
    pub enum ActionType {
        /// A task (title template, assignee, due in N hours).
        CreateTask => "create_task",
        /// A notification to a user (`/v1/me/notifications`).
        Notify => "notify",
        /// An email to the record's contact (with marketing consent) or to a user.
        SendEmail => "send_email",
        /// A change of the record's fields, as `PATCH` takes it.
        UpdateRecord => "update_record",
        /// A tag added to the record's customer.
        AddTag => "add_tag",
        /// The customer's owner picked by its team's assignment rule.
        AssignOwner => "assign_owner",
        /// The webhook event `automation.triggered` for the record.
        WebhookEvent => "webhook_event",
        /// A report of `/v1/reports/*` run with saved parameters and emailed as CSV.
        EmailReport => "email_report",
    }
}

crate::string_enum! {
    /// Who an action's task, notification or email is for.
    pub enum PersonKind {
        /// The record's owner (a customer's, an opportunity's; a ticket's assignee).
        Owner => "owner",
        /// The manager of the owner's team.
        OwnerManager => "owner_manager",
        /// A user named by `user_id`.
        User => "user",
        /// The members of `team_id` in turn (tasks only).
        RoundRobin => "round_robin",
        /// The record's contact (a contact, a campaign member; else the customer's primary
        /// contact), emails only, and only with marketing consent.
        Contact => "contact",
    }
}

crate::string_enum! {
    /// The time an emailed report covers, set as its `from` and `to` when it is sent: the
    /// whole UTC day, week (from Monday) or month before the one it is sent in.
    pub enum ReportPeriod {
        PreviousDay => "previous_day",
        PreviousWeek => "previous_week",
        PreviousMonth => "previous_month",
    }
}

impl ReportPeriod {
    /// `[from, to)` of the period before the one holding `now`.
    pub fn range(self, now: DateTime<Utc>) -> (DateTime<Utc>, DateTime<Utc>) {
        let today = now.date_naive();
        let (from, to) = match self {
            ReportPeriod::PreviousDay => (today - Days::new(1), today),
            ReportPeriod::PreviousWeek => {
                let monday = today - Days::new(u64::from(today.weekday().num_days_from_monday()));
                (monday - Days::new(7), monday)
            }
            ReportPeriod::PreviousMonth => {
                let first = today.with_day(1).unwrap_or(today);
                (first - Months::new(1), first)
            }
        };
        let start = |day: NaiveDate| day.and_time(NaiveTime::MIN).and_utc();
        (start(from), start(to))
    }
}

/// A person an action addresses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Person {
    Owner,
    OwnerManager,
    User(Uuid),
    RoundRobin(Uuid),
    Contact,
}

impl Person {
    fn to_json(self) -> Value {
        match self {
            Person::Owner => json!({"type": PersonKind::Owner.as_str()}),
            Person::OwnerManager => json!({"type": PersonKind::OwnerManager.as_str()}),
            Person::User(id) => json!({"type": PersonKind::User.as_str(), "user_id": id}),
            Person::RoundRobin(id) => {
                json!({"type": PersonKind::RoundRobin.as_str(), "team_id": id})
            }
            Person::Contact => json!({"type": PersonKind::Contact.as_str()}),
        }
    }

    /// A user named in it, for the API to check.
    pub fn user_id(self) -> Option<Uuid> {
        match self {
            Person::User(id) => Some(id),
            _ => None,
        }
    }
}

/// Whom each action may address (`PersonKind` names).
const TASK_ASSIGNEES: &[&str] = &["owner", "owner_manager", "user", "round_robin"];
const RECORD_PEOPLE: &[&str] = &["owner", "owner_manager", "user"];
const USERS_ONLY: &[&str] = &["user"];
const EMAIL_RECIPIENTS: &[&str] = &["contact", "owner", "owner_manager", "user"];

/// The roles an emailed report may go to: those with `reports:read`.
pub const REPORT_ROLES: [&str; 5] = [
    "admin",
    "sales_manager",
    "marketing",
    "service_manager",
    "auditor",
];

/// The longest a task may be due after its rule fires, in hours (a year).
pub const MAX_DUE_HOURS: u32 = 8_760;
/// The most actions a rule has.
pub const MAX_ACTIONS: usize = 10;
/// The most users an emailed report goes to.
pub const MAX_REPORT_RECIPIENTS: usize = 50;

/// One action of a rule.
#[derive(Debug, Clone, PartialEq)]
pub enum Action {
    CreateTask {
        title: Template,
        description: Option<Template>,
        assignee: Person,
        due_in_hours: u32,
    },
    Notify {
        recipient: Person,
        title: Template,
    },
    SendEmail {
        to: Person,
        subject: Template,
        body: Template,
    },
    /// The fields as the record's `PATCH` takes them, checked by the API.
    UpdateRecord {
        changes: Map<String, Value>,
    },
    AddTag {
        tag: Tag,
    },
    AssignOwner,
    WebhookEvent,
    EmailReport {
        /// A report's path under `/v1/reports/` (`sales-performance`), checked by the API.
        report: String,
        /// Its query parameters, checked by the API as the report's query is.
        parameters: Map<String, Value>,
        /// Sets `from` and `to` when it is sent.
        period: Option<ReportPeriod>,
        /// Users named by id.
        to: Vec<Uuid>,
        /// And every enabled user of these roles (of [`REPORT_ROLES`]) when the report is
        /// sent: a seeded rule cannot know user ids.
        to_roles: Vec<Role>,
    },
}

impl Action {
    pub fn action_type(&self) -> ActionType {
        match self {
            Action::CreateTask { .. } => ActionType::CreateTask,
            Action::Notify { .. } => ActionType::Notify,
            Action::SendEmail { .. } => ActionType::SendEmail,
            Action::UpdateRecord { .. } => ActionType::UpdateRecord,
            Action::AddTag { .. } => ActionType::AddTag,
            Action::AssignOwner => ActionType::AssignOwner,
            Action::WebhookEvent => ActionType::WebhookEvent,
            Action::EmailReport { .. } => ActionType::EmailReport,
        }
    }

    /// The action as it is sent and answered.
    pub fn to_json(&self) -> Value {
        let mut out = match self {
            Action::CreateTask {
                title,
                description,
                assignee,
                due_in_hours,
            } => json!({
                "title": title.as_str(),
                "description": description.as_ref().map(Template::as_str),
                "assignee": assignee.to_json(),
                "due_in_hours": due_in_hours,
            }),
            Action::Notify { recipient, title } => {
                json!({"recipient": recipient.to_json(), "title": title.as_str()})
            }
            Action::SendEmail { to, subject, body } => {
                json!({"to": to.to_json(), "subject": subject.as_str(), "body": body.as_str()})
            }
            Action::UpdateRecord { changes } => json!({"changes": changes}),
            Action::AddTag { tag } => json!({"tag": tag.as_str()}),
            Action::AssignOwner | Action::WebhookEvent => json!({}),
            Action::EmailReport {
                report,
                parameters,
                period,
                to,
                to_roles,
            } => {
                let roles: Vec<&str> = to_roles.iter().map(|r| r.as_str()).collect();
                json!({"report": report, "parameters": parameters,
                       "period": period.map(ReportPeriod::as_str), "to": to, "to_roles": roles})
            }
        };
        out["type"] = json!(self.action_type().as_str());
        out
    }

    /// Reads one action as sent, for a rule on `record` (`None`: a schedule, no record), each
    /// problem at its path under `at`.
    pub fn read(
        value: &Value,
        record: Option<RecordType>,
        at: &str,
        errors: &mut Errors,
    ) -> Option<Action> {
        let Some(object) = value.as_object() else {
            errors.add(at, Invalid::InvalidType);
            return None;
        };
        let kind = match object.get("type").and_then(Value::as_str) {
            Some(kind) => errors.check(path(at, "type"), ActionType::parse(kind))?,
            None => {
                errors.add(path(at, "type"), Invalid::Required);
                return None;
            }
        };
        let keys = keys_of(kind);
        for key in object.keys() {
            if key != "type" && !keys.contains(&key.as_str()) {
                errors.add(path(at, key), Invalid::UnknownField);
            }
        }
        let needs_record = !matches!(kind, ActionType::EmailReport | ActionType::Notify);
        if record.is_none() && needs_record {
            // A schedule fires on no record: only reports and notifications to a user.
            errors.add(path(at, "type"), Invalid::NotAllowed);
            return None;
        }
        let reader = Reader { object, at, record };
        reader.action(kind, errors)
    }
}

fn keys_of(kind: ActionType) -> &'static [&'static str] {
    match kind {
        ActionType::CreateTask => &["title", "description", "assignee", "due_in_hours"],
        ActionType::Notify => &["recipient", "title"],
        ActionType::SendEmail => &["to", "subject", "body"],
        ActionType::UpdateRecord => &["changes"],
        ActionType::AddTag => &["tag"],
        ActionType::AssignOwner | ActionType::WebhookEvent => &[],
        ActionType::EmailReport => &["report", "parameters", "period", "to", "to_roles"],
    }
}

/// Reads the parts of one action object.
struct Reader<'a> {
    object: &'a Map<String, Value>,
    at: &'a str,
    record: Option<RecordType>,
}

impl Reader<'_> {
    fn field(&self, key: &str) -> String {
        path(self.at, key)
    }

    fn action(&self, kind: ActionType, errors: &mut Errors) -> Option<Action> {
        match kind {
            ActionType::CreateTask => {
                let title = self.template("title", 200, errors);
                let description = match self.object.get("description") {
                    None | Some(Value::Null) => Some(None),
                    Some(_) => self.template("description", 2_000, errors).map(Some),
                };
                let assignee = self.person("assignee", TASK_ASSIGNEES, errors);
                let due = self.due(errors);
                Some(Action::CreateTask {
                    title: title?,
                    description: description?,
                    assignee: assignee?,
                    due_in_hours: due?,
                })
            }
            ActionType::Notify => {
                let allowed = if self.record.is_some() {
                    RECORD_PEOPLE
                } else {
                    USERS_ONLY
                };
                let recipient = self.person("recipient", allowed, errors);
                let title = self.template("title", 300, errors);
                Some(Action::Notify {
                    recipient: recipient?,
                    title: title?,
                })
            }
            ActionType::SendEmail => {
                let to = self.person("to", EMAIL_RECIPIENTS, errors);
                let subject = self.template("subject", 200, errors);
                let body = self.template("body", 20_000, errors);
                Some(Action::SendEmail {
                    to: to?,
                    subject: subject?,
                    body: body?,
                })
            }
            ActionType::UpdateRecord => match self.object.get("changes") {
                Some(Value::Object(changes)) if !changes.is_empty() => Some(Action::UpdateRecord {
                    changes: changes.clone(),
                }),
                Some(Value::Object(_)) | None => {
                    errors.add(self.field("changes"), Invalid::Required);
                    None
                }
                Some(_) => {
                    errors.add(self.field("changes"), Invalid::InvalidType);
                    None
                }
            },
            ActionType::AddTag => {
                let tag = self.text("tag", errors)?;
                let tag = errors.check(self.field("tag"), Tag::parse(tag))?;
                Some(Action::AddTag { tag })
            }
            ActionType::AssignOwner => Some(Action::AssignOwner),
            ActionType::WebhookEvent => Some(Action::WebhookEvent),
            ActionType::EmailReport => self.report(errors),
        }
    }

    fn text(&self, key: &str, errors: &mut Errors) -> Option<&str> {
        match self.object.get(key) {
            Some(Value::String(s)) => Some(s),
            None | Some(Value::Null) => {
                errors.add(self.field(key), Invalid::Required);
                None
            }
            Some(_) => {
                errors.add(self.field(key), Invalid::InvalidType);
                None
            }
        }
    }

    fn template(&self, key: &str, max: usize, errors: &mut Errors) -> Option<Template> {
        let text = self.text(key, errors)?;
        errors.check(self.field(key), Template::parse(text, max, self.record))
    }

    fn due(&self, errors: &mut Errors) -> Option<u32> {
        let at = self.field("due_in_hours");
        match self.object.get("due_in_hours") {
            None | Some(Value::Null) => Some(24),
            Some(value) => match value.as_u64() {
                Some(hours) if hours <= u64::from(MAX_DUE_HOURS) => u32::try_from(hours).ok(),
                Some(_) => {
                    errors.add(
                        at,
                        Invalid::OutOfRange {
                            min: 0,
                            max: i64::from(MAX_DUE_HOURS),
                        },
                    );
                    None
                }
                None => {
                    errors.add(at, Invalid::InvalidType);
                    None
                }
            },
        }
    }

    fn person(
        &self,
        key: &str,
        allowed: &'static [&'static str],
        errors: &mut Errors,
    ) -> Option<Person> {
        let at = self.field(key);
        let Some(object) = self.object.get(key).and_then(Value::as_object) else {
            let invalid = if self.object.get(key).is_none() {
                Invalid::Required
            } else {
                Invalid::InvalidType
            };
            errors.add(at, invalid);
            return None;
        };
        let kind = match object.get("type").and_then(Value::as_str) {
            Some(kind) => errors.check(path(&at, "type"), PersonKind::parse(kind))?,
            None => {
                errors.add(path(&at, "type"), Invalid::Required);
                return None;
            }
        };
        if !allowed.contains(&kind.as_str()) {
            errors.add(path(&at, "type"), Invalid::NotOneOf { allowed });
            return None;
        }
        let id_key = match kind {
            PersonKind::User => Some("user_id"),
            PersonKind::RoundRobin => Some("team_id"),
            _ => None,
        };
        for key in object.keys() {
            if key != "type" && Some(key.as_str()) != id_key {
                errors.add(path(&at, key), Invalid::UnknownField);
            }
        }
        let id = match id_key {
            Some(key) => {
                let field = path(&at, key);
                match object.get(key).and_then(Value::as_str) {
                    Some(id) => Some(
                        errors
                            .check(field, Uuid::parse_str(id).map_err(|_| Invalid::InvalidUuid))?,
                    ),
                    None => {
                        errors.add(field, Invalid::Required);
                        return None;
                    }
                }
            }
            None => None,
        };
        Some(match (kind, id) {
            (PersonKind::User, Some(id)) => Person::User(id),
            (PersonKind::RoundRobin, Some(id)) => Person::RoundRobin(id),
            (PersonKind::Owner, _) => Person::Owner,
            (PersonKind::OwnerManager, _) => Person::OwnerManager,
            _ => Person::Contact,
        })
    }

    fn report(&self, errors: &mut Errors) -> Option<Action> {
        let report = self.text("report", errors).map(str::to_owned);
        let parameters = match self.object.get("parameters") {
            None | Some(Value::Null) => Some(Map::new()),
            Some(Value::Object(p)) => Some(p.clone()),
            Some(_) => {
                errors.add(self.field("parameters"), Invalid::InvalidType);
                None
            }
        };
        let period = match self.object.get("period") {
            None | Some(Value::Null) => Some(None),
            Some(Value::String(p)) => errors
                .check(self.field("period"), ReportPeriod::parse(p))
                .map(Some),
            Some(_) => {
                errors.add(self.field("period"), Invalid::InvalidType);
                None
            }
        };
        if let (Some(Some(_)), Some(p)) = (&period, &parameters) {
            // The period sets them.
            for key in ["from", "to"] {
                if p.contains_key(key) {
                    errors.add(path(&self.field("parameters"), key), Invalid::NotAllowed);
                }
            }
        }
        let to = self.list("to", errors, |id| {
            id.as_str()
                .and_then(|s| Uuid::parse_str(s).ok())
                .ok_or(Invalid::InvalidUuid)
        });
        let to_roles = self.list("to_roles", errors, |role| {
            let role = Role::parse_user_role(role.as_str().unwrap_or_default())?;
            // A role that cannot read reports does not get them mailed either.
            if role.scopes().contains(Scope::ReportsRead) {
                Ok(role)
            } else {
                Err(Invalid::NotOneOf {
                    allowed: &REPORT_ROLES,
                })
            }
        });
        let (to, to_roles) = (to?, to_roles?);
        if to.is_empty() && to_roles.is_empty() {
            errors.add(self.field("to"), Invalid::Required);
            return None;
        }
        Some(Action::EmailReport {
            report: report?,
            parameters: parameters?,
            period: period?,
            to,
            to_roles,
        })
    }

    /// An optional list of at most [`MAX_REPORT_RECIPIENTS`] items, each read by `item`.
    fn list<T>(
        &self,
        key: &str,
        errors: &mut Errors,
        item: impl Fn(&Value) -> Result<T, Invalid>,
    ) -> Option<Vec<T>> {
        let at = self.field(key);
        let items = match self.object.get(key) {
            None | Some(Value::Null) => return Some(Vec::new()),
            Some(Value::Array(items)) => items,
            Some(_) => {
                errors.add(at, Invalid::InvalidType);
                return None;
            }
        };
        if items.len() > MAX_REPORT_RECIPIENTS {
            errors.add(
                at,
                Invalid::TooLong {
                    max: MAX_REPORT_RECIPIENTS,
                },
            );
            return None;
        }
        let mut read = Vec::new();
        let mut ok = true;
        for (i, value) in items.iter().enumerate() {
            match item(value) {
                Ok(v) => read.push(v),
                Err(invalid) => {
                    errors.add(crate::validation::index(&at, i), invalid);
                    ok = false;
                }
            }
        }
        ok.then_some(read)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(
        value: Value,
        record: Option<RecordType>,
    ) -> Result<Action, Vec<(String, &'static str)>> {
        let mut errors = Errors::default();
        let action = Action::read(&value, record, "actions[0]", &mut errors);
        errors.finish_with(action).map_err(|e| {
            e.into_errors()
                .into_iter()
                .map(|e| (e.field, e.invalid.code()))
                .collect()
        })
    }

    #[test]
    fn actions_round_trip() {
        let user = Uuid::now_v7();
        for value in [
            json!({"type": "create_task", "title": "Call {{name}}", "description": null,
                   "assignee": {"type": "owner"}, "due_in_hours": 24}),
            json!({"type": "notify", "recipient": {"type": "user", "user_id": user}, "title": "New complaint"}),
            json!({"type": "update_record", "changes": {"lifecycle_stage": "customer"}}),
            json!({"type": "add_tag", "tag": "vip"}),
            json!({"type": "assign_owner"}),
            json!({"type": "webhook_event"}),
            json!({"type": "email_report", "report": "sales-performance", "parameters": {"group_by": "team"}, "period": null, "to": [user], "to_roles": []}),
            json!({"type": "email_report", "report": "pipeline", "parameters": {}, "period": "previous_month", "to": [], "to_roles": ["sales_manager"]}),
        ] {
            let action = read(value.clone(), Some(RecordType::Customer)).unwrap();
            assert_eq!(action.to_json(), value);
        }
    }

    #[test]
    fn a_period_is_the_whole_one_before_now() {
        let at = |s: &str| s.parse::<DateTime<Utc>>().unwrap();
        // Monday 1 March 2027, 08:00.
        let now = at("2027-03-01T08:00:00Z");
        assert_eq!(
            ReportPeriod::PreviousDay.range(now),
            (at("2027-02-28T00:00:00Z"), at("2027-03-01T00:00:00Z"))
        );
        assert_eq!(
            ReportPeriod::PreviousWeek.range(now),
            (at("2027-02-22T00:00:00Z"), at("2027-03-01T00:00:00Z"))
        );
        assert_eq!(
            ReportPeriod::PreviousMonth.range(now),
            (at("2027-02-01T00:00:00Z"), at("2027-03-01T00:00:00Z"))
        );
        // Sunday 31 January: the week before is the one from 18 January.
        assert_eq!(
            ReportPeriod::PreviousWeek.range(at("2027-01-31T23:59:59Z")),
            (at("2027-01-18T00:00:00Z"), at("2027-01-25T00:00:00Z"))
        );
        assert_eq!(
            ReportPeriod::PreviousMonth.range(at("2027-01-15T00:00:00Z")),
            (at("2026-12-01T00:00:00Z"), at("2027-01-01T00:00:00Z"))
        );
    }

    #[test]
    fn report_roles_are_those_that_read_reports() {
        let reading: Vec<&str> = Role::USER_ROLES
            .iter()
            .filter(|r| r.scopes().contains(Scope::ReportsRead))
            .map(|r| r.as_str())
            .collect();
        assert_eq!(reading, REPORT_ROLES);
    }

    #[test]
    fn refusals_name_their_part() {
        assert_eq!(
            read(json!({"type": "create_task", "title": "", "assignee": {"type": "contact"}, "due_in_hours": 9999}), Some(RecordType::Customer)).unwrap_err(),
            [
                ("actions[0].title".to_owned(), "required"),
                ("actions[0].assignee.type".to_owned(), "invalid_choice"),
                ("actions[0].due_in_hours".to_owned(), "out_of_range"),
            ]
        );
        assert_eq!(
            read(json!({"type": "add_tag", "tag": "x"}), None).unwrap_err(),
            [("actions[0].type".to_owned(), "not_allowed")]
        );
        assert_eq!(
            read(
                json!({"type": "email_report", "report": "pipeline", "to": ["nope"]}),
                None
            )
            .unwrap_err(),
            [("actions[0].to[0]".to_owned(), "invalid_uuid")]
        );
        assert_eq!(
            read(
                json!({"type": "email_report", "report": "pipeline", "to_roles": ["integration"]}),
                None
            )
            .unwrap_err(),
            [("actions[0].to_roles[0]".to_owned(), "invalid_choice")]
        );
        assert_eq!(
            read(
                json!({"type": "email_report", "report": "lead-response", "period": "previous_month",
                       "parameters": {"from": "2026-01-01T00:00:00Z"}, "to": [Uuid::now_v7()]}),
                None
            )
            .unwrap_err(),
            [("actions[0].parameters.from".to_owned(), "not_allowed")]
        );
        assert_eq!(
            read(
                json!({"type": "email_report", "report": "pipeline", "to_roles": ["sales_rep"]}),
                None
            )
            .unwrap_err(),
            [("actions[0].to_roles[0]".to_owned(), "invalid_choice")]
        );
        assert_eq!(
            read(
                json!({"type": "email_report", "report": "pipeline", "to": [], "to_roles": []}),
                None
            )
            .unwrap_err(),
            [("actions[0].to".to_owned(), "required")]
        );
    }
}

//! Each action of a rule, done on a transaction through the same code as the API's requests:
//! a rule can never do what the API refuses. Every effect is audited with the rule as its
//! actor (the transaction's origin).

use chrono::{DateTime, Duration, Utc};
use rapport_domain::activity::{Task as DomainTask, TaskDescription, TaskOrigin};
use rapport_domain::auth::Role;
use rapport_domain::automation::action::{Action, Person};
use rapport_domain::automation::condition::RecordType;
use rapport_domain::automation::rule::Rule;
use rapport_domain::automation::run::Effect;
use rapport_domain::enums::TaskStatus;
use rapport_domain::identity::Team;
use rapport_domain::name::Title;
use rapport_domain::notification::{Notification, NotificationKind};
use rapport_store::repos::assignment::{self, Work};
use rapport_store::repos::{customers, notifications, tasks, teams, users};
use rapport_store::{Conn, StoreError, Tx};
use serde_json::{Value, json};
use uuid::Uuid;

use super::records::Subject;
use crate::audit::{self, Origin};
use crate::auth::{Authorized, Caller};
use crate::error::{ApiError, ProblemCode};
use crate::extract::parse_value;
use crate::routes;
use crate::state::AppState;

/// What an action runs with: the rule, acting as itself.
pub struct Acting<'a> {
    pub state: &'a AppState,
    pub rule: &'a Rule,
    pub caller: &'a Caller,
    pub now: DateTime<Utc>,
    /// The run it belongs to (`None`: a dry run).
    pub run_id: Option<Uuid>,
}

impl Acting<'_> {
    fn origin(&self) -> &Origin {
        &self.caller.origin
    }
}

/// Does `action` (the rule's `index`-th) on `tx` for `subject` (`None`: a schedule's run),
/// answering what it made or changed.
///
/// # Errors
/// A refusal of the API's rules (4xx: recorded, not retried) or a failure (5xx: retried).
pub async fn apply(
    tx: &Tx,
    acting: &Acting<'_>,
    subject: Option<&Subject>,
    index: usize,
    action: &Action,
) -> Result<Option<Effect>, ApiError> {
    let empty = Value::Null;
    let json = subject.map_or(&empty, |s| &s.json);
    match action {
        Action::CreateTask {
            title,
            description,
            assignee,
            due_in_hours,
        } => {
            let subject = needs(subject)?;
            let assignee = person(tx, subject, *assignee).await?;
            let rule_name = acting.rule.name.as_str();
            let description = description
                .as_ref()
                .map(|d| TaskDescription::composed("", &d.render(json, rule_name)));
            let task = DomainTask {
                id: Uuid::now_v7(),
                title: Title::composed("", &title.render(json, rule_name)),
                description,
                customer_id: Some(subject.customer_id),
                contact_id: subject.contact_id,
                assignee_id: assignee,
                due_at: Some(acting.now + Duration::hours(i64::from(*due_in_hours))),
                reminder_at: None,
                status: TaskStatus::Open,
                completed_at: None,
                origin: TaskOrigin::Automation,
                created_by: None,
                created_at: acting.now,
                updated_at: acting.now,
                version: 1,
            };
            tasks::insert(tx, &task).await?;
            let body = routes::tasks::Task::new(task, acting.now);
            audit::record(
                tx,
                acting.state,
                acting.origin(),
                audit::Subject::of_customer("task", body.id, body.customer_id),
                "create",
                audit::changes(None, Some(&body)),
            )
            .await?;
            Ok(effect("task", body.id))
        }
        Action::Notify { recipient, title } => {
            let user = match subject {
                Some(subject) => person(tx, subject, *recipient).await?,
                None => named_user(tx, *recipient).await?,
            };
            let text = title.render(json, acting.rule.name.as_str());
            let ticket = subject
                .filter(|s| s.record_type == RecordType::Ticket)
                .map(|s| s.id);
            let n = Notification::new(
                user,
                NotificationKind::Automation,
                &text,
                ticket,
                subject.map(|s| s.customer_id),
                acting.now,
            );
            notifications::insert(tx, &n).await?;
            audit::record(
                tx,
                acting.state,
                acting.origin(),
                audit::Subject::of_customer("notification", n.id, n.customer_id),
                "create",
                json!({
                    "user_id": {"before": null, "after": n.user_id},
                    "title": {"before": null, "after": n.title.as_str()},
                }),
            )
            .await?;
            Ok(effect("notification", n.id))
        }
        Action::UpdateRecord { changes } => {
            let subject = needs(subject)?;
            update_record(tx, acting, subject, Value::Object(changes.clone())).await
        }
        Action::AddTag { tag } => {
            let subject = needs(subject)?;
            let customer = customers::get(tx, subject.customer_id).await?;
            if customer.tags.contains(tag) {
                return Ok(None);
            }
            let mut tags: Vec<&str> = customer.tags.iter().map(|t| t.as_str()).collect();
            tags.push(tag.as_str());
            update_customer(tx, acting, subject.customer_id, json!({ "tags": tags })).await
        }
        Action::AssignOwner => {
            let subject = needs(subject)?;
            let team = subject.team_id.ok_or_else(no_recipient)?;
            let owner = assignment::pick(tx, team, Work::Lead)
                .await?
                .ok_or_else(no_recipient)?;
            if subject.owner_id == Some(owner) {
                return Ok(None);
            }
            update_customer(
                tx,
                acting,
                subject.customer_id,
                json!({ "owner_id": owner }),
            )
            .await
        }
        Action::WebhookEvent => {
            let subject = needs(subject)?;
            audit::record(
                tx,
                acting.state,
                acting.origin(),
                audit::Subject::of_customer(
                    "automation_rule",
                    acting.rule.id,
                    Some(subject.customer_id),
                ),
                rapport_store::repos::automation::TRIGGERED,
                json!({
                    "rule_name": {"before": null, "after": acting.rule.name.as_str()},
                    "record_type": {"before": null, "after": subject.record_type.as_str()},
                    "record_id": {"before": null, "after": subject.id},
                }),
            )
            .await?;
            Ok(None)
        }
        Action::SendEmail { .. } | Action::EmailReport { .. } => {
            super::mail::apply(tx, acting, subject, index, action).await
        }
    }
}

fn effect(entity_type: &str, id: Uuid) -> Option<Effect> {
    Some(Effect {
        entity_type: entity_type.to_owned(),
        id,
    })
}

fn needs(subject: Option<&Subject>) -> Result<&Subject, ApiError> {
    subject.ok_or_else(no_recipient)
}

pub(super) fn no_recipient() -> ApiError {
    ApiError::conflict_of(ProblemCode::NoRecipient)
}

/// The user `person` names for `subject`.
pub(super) async fn person(tx: &Tx, subject: &Subject, person: Person) -> Result<Uuid, ApiError> {
    match person {
        Person::Owner => active_user(tx, subject.owner_id.ok_or_else(no_recipient)?).await,
        Person::OwnerManager => {
            let owner = users::get(tx, subject.owner_id.ok_or_else(no_recipient)?).await;
            let team_id = owner
                .ok()
                .and_then(|o| o.team_id)
                .ok_or_else(no_recipient)?;
            let team: Team = teams::get(tx, team_id).await?;
            active_user(tx, team.manager_id.ok_or_else(no_recipient)?).await
        }
        Person::RoundRobin(team) => assignment::pick(tx, team, Work::Task)
            .await
            .map_err(|e| match e {
                StoreError::NotFound => no_recipient(),
                e => e.into(),
            })?
            .ok_or_else(no_recipient),
        Person::User(_) | Person::Contact => named_user(tx, person).await,
    }
}

/// The user a person names by id.
pub(super) async fn named_user(tx: &Tx, person: Person) -> Result<Uuid, ApiError> {
    active_user(tx, person.user_id().ok_or_else(no_recipient)?).await
}

/// Whom an `email_report` action writes to: its users, then the enabled users of its roles,
/// each once (whether a named user can still receive it is for the sender to see).
///
/// # Errors
/// Database failures.
pub(super) async fn report_recipients(
    db: &impl Conn,
    to: &[Uuid],
    to_roles: &[Role],
) -> Result<Vec<Uuid>, ApiError> {
    let mut recipients = to.to_vec();
    for id in users::enabled_among(db, &[], to_roles).await? {
        if !recipients.contains(&id) {
            recipients.push(id);
        }
    }
    Ok(recipients)
}

async fn active_user(tx: &Tx, id: Uuid) -> Result<Uuid, ApiError> {
    match users::get(tx, id).await {
        Ok(user) if !user.disabled => Ok(id),
        Ok(_) | Err(StoreError::NotFound) => Err(no_recipient()),
        Err(e) => Err(e.into()),
    }
}

/// A change of the record through its `PATCH`'s own code.
async fn update_record(
    tx: &Tx,
    acting: &Acting<'_>,
    subject: &Subject,
    changes: Value,
) -> Result<Option<Effect>, ApiError> {
    match subject.record_type {
        RecordType::Customer => update_customer(tx, acting, subject.id, changes).await,
        RecordType::Opportunity => {
            let body = parse_value(changes)?;
            let auth = Authorized::check(acting.caller.clone())?;
            let o = routes::opportunities::update(tx, acting.state, &auth, subject.id, body, None)
                .await?;
            Ok(effect("opportunity", o.id))
        }
        RecordType::Ticket => {
            let body = parse_value(changes)?;
            let auth = Authorized::check(acting.caller.clone())?;
            let t =
                routes::tickets::update(tx, acting.state, &auth, subject.id, body, None).await?;
            Ok(effect("ticket", t.id))
        }
        _ => Err(ApiError::invalid(
            "type",
            rapport_domain::Invalid::NotAllowed,
        )),
    }
}

async fn update_customer(
    tx: &Tx,
    acting: &Acting<'_>,
    id: Uuid,
    changes: Value,
) -> Result<Option<Effect>, ApiError> {
    let body = parse_value(changes)?;
    let auth = Authorized::check(acting.caller.clone())?;
    let c = routes::customers::change::update(tx, acting.state, &auth, id, body, None).await?;
    Ok(effect("customer", c.id))
}

/// Checks an `update_record` action's changes as its record's `PATCH` reads them, when the
/// rule is saved: each refusal at `at` (`actions[0].changes.lifecycle_stage`).
///
/// # Errors
/// 422 naming the fields; `type` when the record cannot be changed so.
pub fn check_changes(record: RecordType, changes: &Value) -> Result<(), ApiError> {
    match record {
        RecordType::Customer => {
            parse_value::<routes::customers::types::UpdateCustomer>(changes.clone()).map(drop)
        }
        RecordType::Opportunity => {
            parse_value::<routes::opportunities::UpdateOpportunity>(changes.clone()).map(drop)
        }
        RecordType::Ticket => {
            parse_value::<routes::tickets::UpdateTicket>(changes.clone()).map(drop)
        }
        _ => Err(ApiError::invalid(
            "type",
            rapport_domain::Invalid::NotAllowed,
        )),
    }
}

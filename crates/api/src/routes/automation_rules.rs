//! Automation rules (`settings:write`): when a record event happens or a time comes, if the
//! conditions hold, do the actions. Their runs, and a dry run on a record.

use std::collections::BTreeMap;

use actix_web::{HttpResponse, delete, get, patch, post, web};
use chrono::{DateTime, Utc};
use rapport_domain::Invalid;
use rapport_domain::automation::action::{Action, Person};
use rapport_domain::automation::condition::{Condition, RecordType};
use rapport_domain::automation::rule::{RawRule, Rule as DomainRule, RuleParts};
use rapport_domain::automation::run::{Email, Outcome, Recipient, Run, RunStatus};
use rapport_domain::automation::trigger::{Trigger, TriggerKind};
use rapport_domain::validation::{Errors, FieldError, index, path};
use rapport_store::Conn;
use rapport_store::repos::automation::{self, RuleFilter};
use rapport_store::repos::{self, teams, users};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::{IntoParams, ToSchema};
use utoipa_actix_web::service_config::ServiceConfig;
use uuid::Uuid;

use crate::audit;
use crate::auth::Authorized;
use crate::auth::scopes::SettingsWrite;
use crate::automation::{self as runner, actions::check_changes};
use crate::error::ApiError;
use crate::extract::{IfMatch, IfMatchParam, Json, Query, code_param};
use crate::feed;
use crate::pagination::{Paged, page_params};
use crate::patch::Patch;
use crate::references;
use crate::respond;
use crate::state::AppState;

pub fn configure(cfg: &mut ServiceConfig) {
    cfg.service(list_automation_rules)
        .service(create_automation_rule)
        .service(get_automation_rule)
        .service(update_automation_rule)
        .service(delete_automation_rule)
        .service(list_automation_runs)
        .service(test_automation_rule);
}

/// When a rule fires. `type: record_event` takes `event` (and for `customer.updated` and
/// `ticket.updated` optionally `field`, and `to`: fires only when that field changed, to that
/// value). `type: schedule` takes `cron` (5 fields: minute hour day month weekday) and
/// `time_zone` (IANA, default `UTC`), and fires once per occurrence on no record. The
/// relative kinds are checked once a local day at `at` (`HH:MM`, default `09:00`) in
/// `time_zone`: `inactivity` (a customer with no activity for `days` days, once per quiet
/// spell), `before_close` (an open opportunity whose expected close is `days` days away),
/// `birthday` (a contact's birthday), `callback_cadence` (`days_by_grade`: a customer whose
/// last call is that many days old for its grade, e.g. `{"vip": 30, "standard": 90}`).
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[schema(as = AutomationTrigger)]
pub struct TriggerDoc {
    #[serde(rename = "type")]
    #[schema(schema_with = crate::schemas::automation_trigger_type)]
    pub kind: String,
    #[schema(schema_with = crate::schemas::automation_event)]
    pub event: Option<String>,
    pub field: Option<String>,
    pub to: Option<Value>,
    #[schema(example = "0 9 1 * *")]
    pub cron: Option<String>,
    #[schema(example = "Asia/Shanghai")]
    pub time_zone: Option<String>,
    #[schema(minimum = 1, maximum = 3650)]
    pub days: Option<u32>,
    #[schema(example = "09:00")]
    pub at: Option<String>,
    pub days_by_grade: Option<BTreeMap<String, u32>>,
}

/// A condition over the record's fields (those of the customer list's filters and the
/// record's own, customer fields as `customer.<field>`): a test `{"field", "op", "value"}`
/// (no `value` for `is_empty` / `is_not_empty`), or `{"all": [...]}`, `{"any": [...]}`,
/// `{"not": {...}}`; at most 5 deep and 50 tests.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[schema(as = AutomationCondition)]
pub struct ConditionDoc {
    /// Conditions that must all hold (each shaped as this one).
    #[schema(value_type = Option<Vec<Object>>)]
    pub all: Option<Vec<Value>>,
    /// Conditions of which one must hold (each shaped as this one).
    #[schema(value_type = Option<Vec<Object>>)]
    pub any: Option<Vec<Value>>,
    /// A condition that must not hold (shaped as this one).
    #[schema(value_type = Option<Object>)]
    pub not: Option<Value>,
    pub field: Option<String>,
    #[schema(schema_with = crate::schemas::condition_operator)]
    pub op: Option<String>,
    pub value: Option<Value>,
}

/// Whom an action addresses.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[schema(as = AutomationPersonRef)]
pub struct PersonDoc {
    #[serde(rename = "type")]
    #[schema(schema_with = crate::schemas::automation_person)]
    pub kind: String,
    /// For `user`.
    pub user_id: Option<Uuid>,
    /// For `round_robin`.
    pub team_id: Option<Uuid>,
}

/// One action, by `type`: `create_task` (`title`, `description`: templates; `assignee`;
/// `due_in_hours`, default 24), `notify` (`recipient`, `title`), `send_email` (`to`,
/// `subject`, `body`), `update_record` (`changes`: the fields as the record's `PATCH` takes
/// them; customers, opportunities, tickets), `add_tag` (`tag`, on the customer),
/// `assign_owner` (the customer's owner by its team's assignment rule), `webhook_event` (the
/// event `automation.triggered`), `email_report` (`report`: a path under `/v1/reports/`,
/// `parameters`: its query, checked as the report checks it; `period`: `previous_day`,
/// `previous_week` or `previous_month` (UTC), setting its `from` and `to` when it is sent;
/// `to`: user ids, `to_roles`: every enabled user of these roles (with `reports:read`) when
/// it is sent, one of them at least; the report's CSV as an admin sees it, attached). The
/// emailing actions need SMTP (`email_not_configured`
/// when they run without), and `send_email` writes to a contact only while it holds
/// marketing consent. Templates take merge fields `{{name}}`, `{{customer.name}}` (any
/// condition field) and `{{rule.name}}`.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[schema(as = AutomationAction)]
pub struct ActionDoc {
    #[serde(rename = "type")]
    #[schema(schema_with = crate::schemas::automation_action_type)]
    pub kind: String,
    pub title: Option<String>,
    pub description: Option<String>,
    pub assignee: Option<PersonDoc>,
    pub due_in_hours: Option<u32>,
    pub recipient: Option<PersonDoc>,
    pub to: Option<Value>,
    pub subject: Option<String>,
    pub body: Option<String>,
    pub changes: Option<BTreeMap<String, Value>>,
    pub tag: Option<String>,
    pub report: Option<String>,
    pub parameters: Option<BTreeMap<String, Value>>,
    #[schema(schema_with = crate::schemas::report_period_or_null)]
    pub period: Option<String>,
    #[schema(schema_with = crate::schemas::report_roles_or_null)]
    pub to_roles: Option<Vec<String>>,
}

/// An automation rule.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct AutomationRule {
    pub id: Uuid,
    #[schema(example = "VIP call-back every 30 days")]
    pub name: String,
    pub description: Option<String>,
    /// Only enabled rules fire.
    pub enabled: bool,
    #[schema(value_type = TriggerDoc)]
    pub trigger: Value,
    /// `null`: every record the trigger fires on.
    #[schema(value_type = Option<ConditionDoc>)]
    pub conditions: Option<Value>,
    #[schema(value_type = Vec<ActionDoc>)]
    pub actions: Vec<Value>,
    /// The record the trigger looks at; `null` for a schedule.
    #[schema(schema_with = crate::schemas::automation_record_type_or_null)]
    pub record_type: Option<String>,
    /// For a schedule: its next occurrence.
    pub next_run_at: Option<DateTime<Utc>>,
    pub created_by: Option<Uuid>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub version: i32,
}

impl AutomationRule {
    fn new(r: DomainRule, now: DateTime<Utc>) -> AutomationRule {
        let next_run_at = match &r.trigger {
            Trigger::Schedule(cron) => cron.next_after(now),
            _ => None,
        };
        AutomationRule {
            id: r.id,
            name: r.name.to_string(),
            description: r.description.as_ref().map(ToString::to_string),
            enabled: r.enabled,
            trigger: r.trigger.to_json(),
            conditions: r.conditions.as_ref().map(Condition::to_json),
            actions: r.actions.iter().map(Action::to_json).collect(),
            record_type: r.trigger.record_type().map(|t| t.as_str().to_owned()),
            next_run_at,
            created_by: r.created_by,
            created_at: r.created_at,
            updated_at: r.updated_at,
            version: r.version,
        }
    }
}

crate::list_type!(AutomationRuleList, AutomationRule, with_deletions);

/// A new rule. It is disabled unless `enabled` says otherwise.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateAutomationRule {
    #[schema(required = true)]
    pub name: Option<String>,
    pub description: Option<String>,
    pub enabled: Option<bool>,
    #[schema(required = true, value_type = TriggerDoc)]
    pub trigger: Option<Value>,
    #[schema(value_type = Option<ConditionDoc>)]
    pub conditions: Option<Value>,
    #[schema(required = true, value_type = Vec<ActionDoc>)]
    pub actions: Option<Vec<Value>>,
}

/// Changes to a rule; the rule is checked whole again.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateAutomationRule {
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    pub name: Patch<String>,
    #[serde(default)]
    #[schema(value_type = Option<String>, nullable)]
    pub description: Patch<String>,
    #[serde(default)]
    #[schema(value_type = Option<bool>)]
    pub enabled: Patch<bool>,
    #[serde(default)]
    #[schema(value_type = Option<TriggerDoc>)]
    pub trigger: Patch<Value>,
    #[serde(default)]
    #[schema(value_type = Option<ConditionDoc>, nullable)]
    pub conditions: Patch<Value>,
    #[serde(default)]
    #[schema(value_type = Option<Vec<ActionDoc>>)]
    pub actions: Patch<Vec<Value>>,
}

/// Filters of the rules' list, newest first.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct AutomationRuleListParams {
    pub enabled: Option<bool>,
    #[param(schema_with = crate::schemas::automation_trigger_type)]
    pub trigger_type: Option<String>,
    /// 1 to 200, default 50.
    pub limit: Option<i64>,
    pub cursor: Option<String>,
    /// The change feed: every rule changed at or after this time, oldest change first, and
    /// the rules deleted since in `deleted`. Changes show once they are 5 seconds old.
    #[param(example = "2026-12-01T00:00:00Z")]
    pub updated_since: Option<DateTime<Utc>>,
}

/// Reads a rule's parts, then checks what they name in the database: users and teams that
/// exist, changes its record's `PATCH` takes.
async fn read_parts(db: &impl Conn, raw: &RawRule<'_>) -> Result<RuleParts, ApiError> {
    let parts = RuleParts::read(raw)?;
    let mut errors = Errors::default();
    for (i, action) in parts.actions.iter().enumerate() {
        let at = index("actions", i);
        check_action(db, &at, action, parts.trigger.record_type(), &mut errors).await?;
    }
    errors.finish()?;
    Ok(parts)
}

async fn check_action(
    db: &impl Conn,
    at: &str,
    action: &Action,
    record: Option<RecordType>,
    errors: &mut Errors,
) -> Result<(), ApiError> {
    let people: Vec<(&str, Person)> = match action {
        Action::CreateTask { assignee, .. } => vec![("assignee", *assignee)],
        Action::Notify { recipient, .. } => vec![("recipient", *recipient)],
        Action::SendEmail { to, .. } => vec![("to", *to)],
        _ => Vec::new(),
    };
    for (key, person) in people {
        match person {
            Person::User(id) => {
                let field = path(&path(at, key), "user_id");
                references::known(&field, users::get(db, id).await, errors)?;
            }
            Person::RoundRobin(id) => {
                let field = path(&path(at, key), "team_id");
                references::known(&field, teams::get(db, id).await, errors)?;
            }
            _ => {}
        }
    }
    match action {
        Action::UpdateRecord { changes } => {
            let checked = record
                .map(|r| check_changes(r, &Value::Object(changes.clone())))
                .unwrap_or_else(|| Err(ApiError::invalid("type", Invalid::NotAllowed)));
            if let Err(e) = checked {
                let ApiError::Validation(refused) = e else {
                    return Err(e);
                };
                for FieldError { field, invalid } in refused.into_errors() {
                    let field = if field == "type" {
                        path(at, "type")
                    } else {
                        path(&path(at, "changes"), &field)
                    };
                    errors.add(field, invalid);
                }
            }
        }
        Action::EmailReport {
            report,
            parameters,
            period,
            to,
            to_roles: _,
        } => {
            for (i, user) in to.iter().enumerate() {
                let field = index(&path(at, "to"), i);
                references::known(&field, users::get(db, *user).await, errors)?;
            }
            // Any time will do: a period's range is always well formed.
            let query =
                runner::reports::ReportQuery::of_action(report, parameters, *period, Utc::now());
            match query {
                Ok(query) => query.check_references(db, at, errors).await?,
                Err(refused) => {
                    for FieldError { field, invalid } in refused.into_errors() {
                        errors.add(path(at, &field), invalid);
                    }
                }
            }
        }
        _ => {}
    }
    Ok(())
}

/// List automation rules, newest first; or their change feed.
#[utoipa::path(
    tag = "automation",
    params(AutomationRuleListParams),
    responses((status = 200, body = AutomationRuleList)),
    security(("oauth2" = ["settings:write"]))
)]
#[get("/automation-rules")]
async fn list_automation_rules(
    state: web::Data<AppState>,
    auth: Authorized<SettingsWrite>,
    params: Query<AutomationRuleListParams>,
) -> Result<HttpResponse, ApiError> {
    let p = params.into_inner()?;
    let sort = feed::sort_or(p.updated_since, "-id");
    let (limit, cursor) = page_params(p.limit, p.cursor.as_deref(), sort)?;
    let filter = RuleFilter {
        enabled: p.enabled,
        trigger_kind: code_param(
            "trigger_type",
            p.trigger_type.as_deref(),
            TriggerKind::parse,
        )?,
        changes: p.updated_since.map(|since| feed::changes(&state, since)),
    };
    let db = state.list_reads(&auth);
    let page = automation::list(db, &filter, cursor.clone(), limit).await?;
    let (page, deleted) = feed::with_deletions(
        page,
        filter.changes,
        limit,
        |r| (r.updated_at, r.id),
        |changes| automation::deleted(db, changes, cursor, limit),
    )
    .await?;
    let now = state.clock.now();
    Ok(HttpResponse::Ok().json(AutomationRuleList::new(
        Paged::from_page(page, sort, |r| AutomationRule::new(r, now)),
        deleted,
    )))
}

/// Create an automation rule; every part is checked (422 naming each refused part by its
/// path: `trigger.event`, `conditions.all[0].op`, `actions[1].assignee.user_id`). Audited.
#[utoipa::path(
    tag = "automation",
    request_body = CreateAutomationRule,
    responses((status = 201, body = AutomationRule, headers(("Location" = String), ("ETag" = String)))),
    security(("oauth2" = ["settings:write"]))
)]
#[post("/automation-rules")]
async fn create_automation_rule(
    state: web::Data<AppState>,
    auth: Authorized<SettingsWrite>,
    body: Json<CreateAutomationRule>,
) -> Result<HttpResponse, ApiError> {
    let body = body.into_inner()?;
    let raw = RawRule {
        name: body.name.as_deref(),
        description: body.description.as_deref(),
        enabled: body.enabled.unwrap_or(false),
        trigger: body.trigger.as_ref(),
        conditions: body.conditions.as_ref(),
        actions: body.actions.as_deref(),
    };
    let parts = read_parts(state.store.conn(), &raw).await?;
    let now = state.clock.now();
    let rule = DomainRule::new(parts, auth.user_id(), now);
    let tx = state.store.begin().await?;
    automation::insert(&tx, &rule).await?;
    let body = AutomationRule::new(rule, now);
    audit::record_and_commit(
        tx,
        &state,
        &auth.origin,
        audit::Subject::new(automation::ENTITY_TYPE, body.id),
        "create",
        audit::changes(None, Some(&body)),
    )
    .await?;
    Ok(respond::created(
        &body,
        body.version,
        format!("/v1/automation-rules/{}", body.id),
    ))
}

/// Get an automation rule.
#[utoipa::path(
    tag = "automation",
    params(("id" = Uuid, Path)),
    responses((status = 200, body = AutomationRule, headers(("ETag" = String)))),
    security(("oauth2" = ["settings:write"]))
)]
#[get("/automation-rules/{id}")]
async fn get_automation_rule(
    state: web::Data<AppState>,
    _auth: Authorized<SettingsWrite>,
    id: web::Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    let rule = automation::get(state.store.conn(), id.into_inner()).await?;
    let body = AutomationRule::new(rule, state.clock.now());
    Ok(respond::ok(&body, body.version))
}

/// Change an automation rule (enable or disable it with `enabled`); the rule is checked
/// whole again. Audited.
#[utoipa::path(
    tag = "automation",
    params(("id" = Uuid, Path), IfMatchParam),
    request_body = UpdateAutomationRule,
    responses((status = 200, body = AutomationRule, headers(("ETag" = String)))),
    security(("oauth2" = ["settings:write"]))
)]
#[patch("/automation-rules/{id}")]
async fn update_automation_rule(
    state: web::Data<AppState>,
    auth: Authorized<SettingsWrite>,
    id: web::Path<Uuid>,
    if_match: IfMatch,
    body: Json<UpdateAutomationRule>,
) -> Result<HttpResponse, ApiError> {
    let body = body.into_inner()?;
    let tx = state.store.begin().await?;
    let before: DomainRule = repos::get_locked(&tx, id.into_inner()).await?;
    if_match.check(before.version)?;
    let (name, description) = (
        before.name.to_string(),
        before.description.as_ref().map(ToString::to_string),
    );
    let trigger = before.trigger.to_json();
    let conditions = before.conditions.as_ref().map(Condition::to_json);
    let actions: Vec<Value> = before.actions.iter().map(Action::to_json).collect();
    let mut errors = Errors::default();
    let name = body.name.into_required(&mut errors, "name").unwrap_or(name);
    let description = body.description.apply_to(description);
    let enabled = body
        .enabled
        .into_required(&mut errors, "enabled")
        .unwrap_or(before.enabled);
    let trigger = body
        .trigger
        .into_required(&mut errors, "trigger")
        .unwrap_or(trigger);
    let conditions = body.conditions.apply_to(conditions);
    let actions = body
        .actions
        .into_required(&mut errors, "actions")
        .unwrap_or(actions);
    errors.finish()?;
    let raw = RawRule {
        name: Some(&name),
        description: description.as_deref(),
        enabled,
        trigger: Some(&trigger),
        conditions: conditions.as_ref(),
        actions: Some(&actions),
    };
    let parts = read_parts(&tx, &raw).await?;
    let now = state.clock.now();
    let saved = repos::save(&tx, &before.with(parts), now).await?;
    let (before, after) = (
        AutomationRule::new(before, now),
        AutomationRule::new(saved, now),
    );
    audit::record_and_commit(
        tx,
        &state,
        &auth.origin,
        audit::Subject::new(automation::ENTITY_TYPE, after.id),
        "update",
        audit::changes(Some(&before), Some(&after)),
    )
    .await?;
    Ok(respond::ok(&after, after.version))
}

/// Delete an automation rule and its runs. Audited.
#[utoipa::path(
    tag = "automation",
    params(("id" = Uuid, Path), IfMatchParam),
    responses((status = 204, description = "Deleted")),
    security(("oauth2" = ["settings:write"]))
)]
#[delete("/automation-rules/{id}")]
async fn delete_automation_rule(
    state: web::Data<AppState>,
    auth: Authorized<SettingsWrite>,
    id: web::Path<Uuid>,
    if_match: IfMatch,
) -> Result<HttpResponse, ApiError> {
    let tx = state.store.begin().await?;
    let rule: DomainRule = repos::get_locked(&tx, id.into_inner()).await?;
    if_match.check(rule.version)?;
    let now = state.clock.now();
    automation::delete(&tx, rule.id, now).await?;
    let before = AutomationRule::new(rule, now);
    audit::record_and_commit(
        tx,
        &state,
        &auth.origin,
        audit::Subject::new(automation::ENTITY_TYPE, before.id),
        "delete",
        audit::changes(Some(&before), None),
    )
    .await?;
    Ok(HttpResponse::NoContent().finish())
}

/// A record an action made or changed.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ActionEffect {
    /// `task`, `notification`, `customer`, `opportunity`, `ticket`, `job` (an email queued).
    pub entity_type: String,
    pub id: Uuid,
}

/// What became of one action.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ActionOutcome {
    /// The action's place in the rule's `actions`.
    pub index: usize,
    #[serde(rename = "type")]
    #[schema(schema_with = crate::schemas::automation_action_type)]
    pub kind: String,
    #[schema(schema_with = crate::schemas::automation_outcome_status)]
    pub status: String,
    /// The problem code of a refusal or failure (`invalid_transition`, `no_recipient`).
    pub code: Option<String>,
    pub detail: Option<String>,
    pub effect: Option<ActionEffect>,
    pub attempts: u32,
    /// The emails of `send_email` and `email_report`, one per recipient, as their job sends
    /// them; `[]` for the other actions and before the job ran.
    pub emails: Vec<ActionEmail>,
}

/// One email of an action, to one recipient.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ActionEmail {
    /// `contact` or `user`.
    #[schema(example = "user")]
    pub recipient_type: String,
    pub recipient_id: Uuid,
    #[schema(schema_with = crate::schemas::automation_email_status)]
    pub status: String,
    /// Why it was not sent (`consent_withdrawn`, `no_recipient`, `record_gone`,
    /// `action_changed`, or the code of the report's refusal), or the mail server's reply
    /// code of a bounce.
    pub reason: Option<String>,
    pub at: DateTime<Utc>,
}

impl From<Email> for ActionEmail {
    fn from(e: Email) -> Self {
        let (recipient_type, recipient_id) = match e.to {
            Recipient::Contact(id) => ("contact", id),
            Recipient::User(id) => ("user", id),
        };
        ActionEmail {
            recipient_type: recipient_type.to_owned(),
            recipient_id,
            status: e.status.as_str().to_owned(),
            reason: e.reason,
            at: e.at,
        }
    }
}

impl From<Outcome> for ActionOutcome {
    fn from(o: Outcome) -> Self {
        ActionOutcome {
            index: o.index,
            kind: o.action_type.as_str().to_owned(),
            status: o.status.as_str().to_owned(),
            code: o.code,
            detail: o.detail,
            effect: o.effect.map(|e| ActionEffect {
                entity_type: e.entity_type,
                id: e.id,
            }),
            attempts: o.attempts,
            emails: o.emails.into_iter().map(ActionEmail::from).collect(),
        }
    }
}

/// One step of the chain of rules that led to a run.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ChainStep {
    pub rule_id: Uuid,
    pub record_id: Option<Uuid>,
}

/// One firing of a rule.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct AutomationRun {
    pub id: Uuid,
    pub rule_id: Uuid,
    /// The event (`customer.updated`) or time trigger (`birthday`) that fired it.
    pub trigger: String,
    #[schema(schema_with = crate::schemas::automation_record_type_or_null)]
    pub record_type: Option<String>,
    pub record_id: Option<Uuid>,
    #[schema(schema_with = crate::schemas::automation_run_status)]
    pub status: String,
    /// Why it was skipped (`conditions_not_met`, `record_gone`, `rule_disabled`) or stopped
    /// (`loop`: the rule already ran on this record in this chain; `chain_too_deep`).
    pub reason: Option<String>,
    /// The rules whose actions led here, first one first; empty when a person's or the
    /// system's write fired it.
    pub chain: Vec<ChainStep>,
    /// The chain's length: 0 for a rule fired by a person's write.
    pub chain_depth: usize,
    pub actions: Vec<ActionOutcome>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl From<Run> for AutomationRun {
    fn from(r: Run) -> Self {
        AutomationRun {
            id: r.id,
            rule_id: r.rule_id,
            trigger: r.trigger,
            record_type: r.record_type.map(|t| t.as_str().to_owned()),
            record_id: r.record_id,
            status: r.status.as_str().to_owned(),
            reason: r.reason,
            chain_depth: r.chain.len(),
            chain: r
                .chain
                .into_iter()
                .map(|l| ChainStep {
                    rule_id: l.rule_id,
                    record_id: l.record_id,
                })
                .collect(),
            actions: r.outcomes.into_iter().map(ActionOutcome::from).collect(),
            created_at: r.created_at,
            updated_at: r.updated_at,
        }
    }
}

crate::list_type!(AutomationRunList, AutomationRun);

/// Filters of a rule's runs, newest first.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct AutomationRunListParams {
    #[param(schema_with = crate::schemas::automation_run_status)]
    pub status: Option<String>,
    /// 1 to 200, default 50.
    pub limit: Option<i64>,
    pub cursor: Option<String>,
}

/// List a rule's runs, newest first: each firing, its record, and each action's outcome.
#[utoipa::path(
    tag = "automation",
    params(("id" = Uuid, Path), AutomationRunListParams),
    responses((status = 200, body = AutomationRunList)),
    security(("oauth2" = ["settings:write"]))
)]
#[get("/automation-rules/{id}/runs")]
async fn list_automation_runs(
    state: web::Data<AppState>,
    auth: Authorized<SettingsWrite>,
    id: web::Path<Uuid>,
    params: Query<AutomationRunListParams>,
) -> Result<HttpResponse, ApiError> {
    let p = params.into_inner()?;
    let sort = "-id";
    let (limit, cursor) = page_params(p.limit, p.cursor.as_deref(), sort)?;
    let status = code_param("status", p.status.as_deref(), RunStatus::parse)?;
    let db = state.list_reads(&auth);
    let rule = automation::get(state.store.conn(), id.into_inner()).await?;
    let page = automation::runs(db, rule.id, status, cursor, limit).await?;
    Ok(
        HttpResponse::Ok().json(AutomationRunList::from(Paged::from_page(
            page,
            sort,
            AutomationRun::from,
        ))),
    )
}

/// A dry run's record.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TestAutomationRule {
    /// The record to try the rule on (of the rule's `record_type`); none for a schedule.
    pub record_id: Option<Uuid>,
}

/// What a rule would do to a record.
#[derive(Debug, Serialize, ToSchema)]
pub struct AutomationTestResult {
    pub rule_id: Uuid,
    #[schema(schema_with = crate::schemas::automation_record_type_or_null)]
    pub record_type: Option<String>,
    pub record_id: Option<Uuid>,
    /// Do the rule's conditions hold for the record? When not, no action is tried.
    pub conditions_met: bool,
    /// Each action as it would end: `done` with the `effect` it would have, or `refused`
    /// with why. Nothing is written or sent.
    pub actions: Vec<ActionOutcome>,
}

/// Try a rule on a record without doing anything (a dry run): whether its conditions hold,
/// and what each action would do or why it would be refused. Every action runs in a
/// transaction that is rolled back; no email is sent.
#[utoipa::path(
    tag = "automation",
    params(("id" = Uuid, Path)),
    request_body = TestAutomationRule,
    responses((status = 200, body = AutomationTestResult)),
    security(("oauth2" = ["settings:write"]))
)]
#[post("/automation-rules/{id}/test")]
async fn test_automation_rule(
    state: web::Data<AppState>,
    _auth: Authorized<SettingsWrite>,
    id: web::Path<Uuid>,
    body: Json<TestAutomationRule>,
) -> Result<HttpResponse, ApiError> {
    let body = body.into_inner()?;
    let rule = automation::get(state.store.conn(), id.into_inner()).await?;
    let record = match (rule.trigger.record_type(), body.record_id) {
        (Some(record_type), Some(id)) => Some((record_type, id)),
        (Some(_), None) => {
            return Err(ApiError::invalid("record_id", Invalid::Required));
        }
        (None, Some(_)) => return Err(ApiError::invalid("record_id", Invalid::NotAllowed)),
        (None, None) => None,
    };
    let dry = runner::dry_run(&state, &rule, record)
        .await
        .map_err(|e| match e {
            ApiError::NotFound => ApiError::invalid("record_id", Invalid::UnknownReference),
            e => e,
        })?;
    Ok(HttpResponse::Ok().json(AutomationTestResult {
        rule_id: rule.id,
        record_type: dry
            .subject
            .as_ref()
            .map(|s| s.record_type.as_str().to_owned()),
        record_id: dry.subject.as_ref().map(|s| s.id),
        conditions_met: dry.conditions_met,
        actions: dry.outcomes.into_iter().map(ActionOutcome::from).collect(),
    }))
}

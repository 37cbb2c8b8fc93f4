//! Automation rules and their runs. [`emit`] runs inside [`crate::repos::audit::record`], as
//! webhooks' does: every audited write queues the runs of the rules its events fire, on its
//! own transaction, so a rule fires if and only if the change committed.

use chrono::{DateTime, Utc};
use rapport_domain::audit::AuditEvent;
use rapport_domain::automation::action::Action;
use rapport_domain::automation::condition::{Condition, RecordType};
use rapport_domain::automation::rule::{Rule, RuleDescription, RuleName};
use rapport_domain::automation::run::{self as runs, Link, Outcome, Run, RunStatus};
use rapport_domain::automation::trigger::{self, Trigger, TriggerKind};
use rapport_domain::job::{Job, JobKind};
use sea_orm::sea_query::OnConflict;
use sea_orm::{
    ActiveValue::Set, ColumnTrait, Condition as Where, EntityTrait, QueryFilter, QuerySelect,
};
use serde_json::Value;
use uuid::Uuid;

use crate::entities::automation_rule::{self, Column, Entity};
use crate::entities::automation_run::{self, Column as RunColumn, Entity as Runs};
use crate::page::{Changes, Cursor, Page, SortDir, SortValue, keyset, list_cursor, list_order};
use crate::repos::deletions::{self, Deleted, Kind, Tombstone};
use crate::repos::record::{self, record};
use crate::repos::{corrupt, delete_row, jobs, parse_column, parse_optional};
use crate::{Conn, StoreError, Tx};

/// The job that runs one firing of a rule (`automation.run`).
pub const RUN_JOB: &str = "automation.run";

/// The audit trail's entity type of a rule.
pub const ENTITY_TYPE: &str = "automation_rule";

/// The audit action of a rule's `webhook_event` action: recorded on the rule, it changes
/// nothing of it.
pub const TRIGGERED: &str = "triggered";

/// Does `event` change a rule (so that the rules kept in memory are read again)?
pub(crate) fn changes_a_rule(event: &AuditEvent) -> bool {
    event.entity_type == ENTITY_TYPE
        && matches!(event.action.as_str(), "create" | "update" | "delete")
}

fn json_column<T>(
    column: &str,
    value: Result<T, rapport_domain::ValidationErrors>,
) -> Result<T, StoreError> {
    value.map_err(|e| corrupt(column, e))
}

fn to_domain(m: automation_rule::Model) -> Result<Rule, StoreError> {
    let trigger = json_column(
        "automation_rules.trigger",
        Trigger::parse(&m.trigger, "trigger"),
    )?;
    let conditions = match (&m.conditions, trigger.record_type()) {
        (Some(value), Some(record)) => Some(json_column(
            "automation_rules.conditions",
            Condition::parse(value, record, "conditions"),
        )?),
        _ => None,
    };
    let values = m
        .actions
        .as_array()
        .ok_or_else(|| corrupt("automation_rules.actions", "not a list"))?;
    let mut errors = rapport_domain::validation::Errors::default();
    let actions: Option<Vec<Action>> = values
        .iter()
        .map(|v| Action::read(v, trigger.record_type(), "actions", &mut errors))
        .collect();
    let actions = json_column("automation_rules.actions", errors.finish_with(actions))?;
    Ok(Rule {
        id: m.id,
        name: parse_column("automation_rules.name", &m.name, RuleName::parse)?,
        description: parse_optional(
            "automation_rules.description",
            m.description.as_deref(),
            RuleDescription::parse,
        )?,
        enabled: m.enabled,
        trigger,
        conditions,
        actions,
        created_by: m.created_by,
        created_at: m.created_at,
        updated_at: m.updated_at,
        version: m.version,
    })
}

fn to_active(r: &Rule) -> Result<automation_rule::ActiveModel, StoreError> {
    let event = match &r.trigger {
        Trigger::RecordEvent { event, .. } => Some(event.as_str().to_owned()),
        _ => None,
    };
    Ok(automation_rule::ActiveModel {
        id: Set(r.id),
        name: Set(r.name.to_string()),
        description: Set(r.description.as_ref().map(ToString::to_string)),
        enabled: Set(r.enabled),
        trigger_kind: Set(r.trigger.kind().as_str().to_owned()),
        trigger_event: Set(event),
        trigger: Set(r.trigger.to_json()),
        conditions: Set(r.conditions.as_ref().map(Condition::to_json)),
        actions: Set(Value::Array(
            r.actions.iter().map(Action::to_json).collect(),
        )),
        created_by: Set(r.created_by),
        created_at: Set(r.created_at),
        updated_at: Set(r.updated_at),
        version: Set(r.version),
    })
}

record!(Rule, Entity, to_active: to_active, from_model: to_domain);

fn run_to_domain(m: automation_run::Model) -> Result<Run, StoreError> {
    let chain: Vec<Link> =
        serde_json::from_value(m.chain).map_err(|e| corrupt("automation_runs.chain", e))?;
    let outcomes: Vec<Outcome> =
        serde_json::from_value(m.outcomes).map_err(|e| corrupt("automation_runs.outcomes", e))?;
    Ok(Run {
        id: m.id,
        rule_id: m.rule_id,
        fire_key: m.fire_key,
        trigger: m.trigger,
        record_type: parse_optional(
            "automation_runs.record_type",
            m.record_type.as_deref(),
            RecordType::parse,
        )?,
        record_id: m.record_id,
        chain,
        status: parse_column("automation_runs.status", &m.status, RunStatus::parse)?,
        reason: m.reason,
        outcomes,
        created_at: m.created_at,
        updated_at: m.updated_at,
        version: m.version,
    })
}

fn run_to_active(r: &Run) -> Result<automation_run::ActiveModel, StoreError> {
    let json = |column: &str, value: Result<Value, serde_json::Error>| {
        value.map_err(|e| corrupt(column, e))
    };
    Ok(automation_run::ActiveModel {
        id: Set(r.id),
        rule_id: Set(r.rule_id),
        fire_key: Set(r.fire_key.clone()),
        trigger: Set(r.trigger.clone()),
        record_type: Set(r.record_type.map(|t| t.as_str().to_owned())),
        record_id: Set(r.record_id),
        chain: Set(json(
            "automation_runs.chain",
            serde_json::to_value(&r.chain),
        )?),
        status: Set(r.status.as_str().to_owned()),
        reason: Set(r.reason.clone()),
        outcomes: Set(json(
            "automation_runs.outcomes",
            serde_json::to_value(&r.outcomes),
        )?),
        created_at: Set(r.created_at),
        updated_at: Set(r.updated_at),
        version: Set(r.version),
    })
}

record!(Run, Runs, to_active: run_to_active, from_model: run_to_domain);

/// # Errors
/// Database failures.
pub async fn insert(db: &impl Conn, rule: &Rule) -> Result<(), StoreError> {
    Entity::insert(to_active(rule)?)
        .exec_without_returning(db)
        .await?;
    Ok(())
}

/// # Errors
/// `NotFound` when there is no such rule.
pub async fn get(db: &impl Conn, id: Uuid) -> Result<Rule, StoreError> {
    record::get(db, id).await
}

/// Filters of the rules' list.
#[derive(Debug, Clone, Copy, Default)]
pub struct RuleFilter {
    pub enabled: Option<bool>,
    pub trigger_kind: Option<TriggerKind>,
    pub changes: Option<Changes>,
}

/// Rules, newest first (or the change feed's order).
///
/// # Errors
/// Database failures.
pub async fn list(
    db: &impl Conn,
    filter: &RuleFilter,
    after: Option<Cursor>,
    limit: u64,
) -> Result<Page<Rule>, StoreError> {
    let mut select = Entity::find();
    if let Some(enabled) = filter.enabled {
        select = select.filter(Column::Enabled.eq(enabled));
    }
    if let Some(kind) = filter.trigger_kind {
        select = select.filter(Column::TriggerKind.eq(kind.as_str()));
    }
    let own = (Column::Id, SortDir::Desc);
    let select = list_order(
        select,
        filter.changes,
        own,
        Column::UpdatedAt,
        Column::Id,
        after,
        limit,
    );
    let rows = select.all(db).await?;
    Page::from_models(rows, limit, to_domain, |r| {
        list_cursor(filter.changes, r.updated_at, SortValue::Id, r.id)
    })
}

/// Deletes a rule and its runs for good, leaving its tombstone.
///
/// # Errors
/// `NotFound` when there is no such rule.
pub async fn delete(db: &impl Conn, id: Uuid, now: DateTime<Utc>) -> Result<(), StoreError> {
    Runs::delete_many()
        .filter(RunColumn::RuleId.eq(id))
        .exec(db)
        .await?;
    delete_row::<Entity>(db, id).await?;
    deletions::record(db, Deleted::seen_by_all(Kind::AutomationRule, id), now).await
}

/// One page of the rules deleted in `changes`, oldest deletion first.
///
/// # Errors
/// Database failures.
pub async fn deleted(
    db: &impl Conn,
    changes: Changes,
    after: Option<Cursor>,
    limit: u64,
) -> Result<Page<Tombstone>, StoreError> {
    deletions::page(
        db,
        Kind::AutomationRule,
        Where::all(),
        changes,
        after,
        limit,
    )
    .await
}

/// The enabled rules with a record-event trigger, read from the database (writes read them
/// through [`Tx`]'s cache).
///
/// # Errors
/// Database failures.
pub(crate) async fn event_rules(db: &impl Conn) -> Result<Vec<(Uuid, Trigger)>, StoreError> {
    let rows: Vec<(Uuid, Value)> = Entity::find()
        .select_only()
        .column(Column::Id)
        .column(Column::Trigger)
        .filter(Column::Enabled.eq(true))
        .filter(Column::TriggerKind.eq(TriggerKind::RecordEvent.as_str()))
        .into_tuple()
        .all(db)
        .await?;
    rows.into_iter()
        .map(|(id, value)| {
            let trigger = json_column(
                "automation_rules.trigger",
                Trigger::parse(&value, "trigger"),
            )?;
            Ok((id, trigger))
        })
        .collect()
}

/// The enabled rules with a time trigger, for the scheduler.
///
/// # Errors
/// Database failures.
pub async fn time_rules(db: &impl Conn) -> Result<Vec<Rule>, StoreError> {
    let rows = Entity::find()
        .filter(Column::Enabled.eq(true))
        .filter(Column::TriggerKind.ne(TriggerKind::RecordEvent.as_str()))
        .all(db)
        .await?;
    rows.into_iter().map(to_domain).collect()
}

/// What one firing's job carries: ids, never personal data.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Firing {
    pub rule_id: Uuid,
    pub fire_key: String,
    pub trigger: String,
    pub record_type: Option<RecordType>,
    /// The record, or what points at it (a campaign message for a click).
    pub record_id: Option<Uuid>,
    pub chain: Vec<Link>,
}

impl Firing {
    fn job(&self, now: DateTime<Utc>) -> Result<Job, StoreError> {
        let kind = JobKind::parse(RUN_JOB).map_err(|e| corrupt("jobs.kind", e))?;
        let payload = serde_json::to_value(self).map_err(|e| corrupt("jobs.payload", e))?;
        let key = format!("{RUN_JOB}:{}:{}", self.rule_id, self.fire_key);
        Ok(Job::new(kind, payload, Some(key), now, now))
    }

    /// The run this firing starts.
    pub fn run(&self, now: DateTime<Utc>) -> Run {
        let record = self.record_type.zip(self.record_id);
        Run::new(
            self.rule_id,
            self.fire_key.clone(),
            &self.trigger,
            record,
            self.chain.clone(),
            now,
        )
    }
}

/// Queues `firing`'s job, unless its rule already fired so (the job's key), or records why it
/// may not fire (a loop, a chain too deep) as a stopped run.
///
/// # Errors
/// Database failures.
pub async fn fire(db: &impl Conn, firing: &Firing, now: DateTime<Utc>) -> Result<(), StoreError> {
    match runs::may_fire(&firing.chain, firing.rule_id, firing.record_id) {
        Ok(()) => {
            jobs::enqueue(db, &firing.job(now)?).await?;
        }
        Err(stop) => {
            insert_run(db, &firing.run(now).stopped(stop)).await?;
        }
    }
    Ok(())
}

/// Fires the rules that `event`'s record events start, on the write's transaction, as the
/// next step of the transaction's chain (empty unless a rule's action wrote it). Called by
/// [`crate::repos::audit::record`].
///
/// # Errors
/// Database failures.
pub(crate) async fn emit(tx: &Tx, event: &AuditEvent) -> Result<(), StoreError> {
    let events = trigger::events_of(&event.entity_type, &event.action, &event.changes);
    if events.is_empty() {
        return Ok(());
    }
    let rules = tx.event_rules().await?;
    for (rule_id, trigger) in rules.iter() {
        let Some(fired) = events
            .iter()
            .find(|e| trigger.fires_on(**e, &event.changes))
        else {
            continue;
        };
        let firing = Firing {
            rule_id: *rule_id,
            fire_key: format!("event:{}", event.id),
            trigger: fired.as_str().to_owned(),
            record_type: Some(fired.record_type()),
            record_id: Some(fired.record_id(event.entity_id, &event.changes)),
            chain: tx.chain().to_vec(),
        };
        fire(tx, &firing, event.occurred_at).await?;
    }
    Ok(())
}

/// Writes `run` unless its rule already has a run of its key; answers whether it was written.
///
/// # Errors
/// Database failures.
pub async fn insert_run(db: &impl Conn, run: &Run) -> Result<bool, StoreError> {
    let written = Runs::insert(run_to_active(run)?)
        .on_conflict(
            OnConflict::columns([RunColumn::RuleId, RunColumn::FireKey])
                .do_nothing()
                .to_owned(),
        )
        .exec_without_returning(db)
        .await?;
    Ok(written > 0)
}

/// The run of `rule_id` fired by `fire_key`.
///
/// # Errors
/// `NotFound` when there is none.
pub async fn run_of(db: &impl Conn, rule_id: Uuid, fire_key: &str) -> Result<Run, StoreError> {
    let row = Runs::find()
        .filter(RunColumn::RuleId.eq(rule_id))
        .filter(RunColumn::FireKey.eq(fire_key))
        .one(db)
        .await?
        .ok_or(StoreError::NotFound)?;
    run_to_domain(row)
}

/// A rule's runs, newest first.
///
/// # Errors
/// Database failures.
pub async fn runs(
    db: &impl Conn,
    rule_id: Uuid,
    status: Option<RunStatus>,
    after: Option<Cursor>,
    limit: u64,
) -> Result<Page<Run>, StoreError> {
    let mut select = Runs::find().filter(RunColumn::RuleId.eq(rule_id));
    if let Some(status) = status {
        select = select.filter(RunColumn::Status.eq(status.as_str()));
    }
    let rows = keyset(
        select,
        RunColumn::Id,
        RunColumn::Id,
        SortDir::Desc,
        after,
        limit,
    )
    .all(db)
    .await?;
    Page::from_models(rows, limit, run_to_domain, |r| Cursor {
        value: SortValue::Id,
        id: r.id,
    })
}

/// The records a relative time trigger has due in one scan, a page at a time: each with the
/// key that keeps its firing to once per period (`inactivity:<customer>:<quiet since>`).
pub mod due {
    use std::collections::HashMap;

    use chrono::{DateTime, NaiveDate, Utc};
    use rapport_domain::enums::{ActivityKind, Grade};
    use rapport_domain::opportunity::OpportunityStatus;
    use sea_orm::sea_query::Expr;
    use sea_orm::{ColumnTrait, Condition, EntityTrait, QueryFilter, QueryOrder, QuerySelect};
    use uuid::Uuid;

    use crate::entities::activity::{Column as A, Entity as Activities};
    use crate::entities::customer::{Column as C, Entity as Customers};
    use crate::entities::opportunity::{Column as O, Entity as Opportunities};
    use crate::{Conn, StoreError};

    /// A record due, and the key of its period.
    pub type DueRecord = (Uuid, String);

    fn between(column: C, from: DateTime<Utc>, to: DateTime<Utc>) -> Condition {
        Condition::all().add(column.gt(from)).add(column.lte(to))
    }

    /// Live customers quiet since a moment in `(from, to]`: their last activity, or their
    /// creation when they have none.
    ///
    /// # Errors
    /// Database failures.
    pub async fn quiet_customers(
        db: &impl Conn,
        (from, to): (DateTime<Utc>, DateTime<Utc>),
        after: Option<Uuid>,
        limit: u64,
    ) -> Result<Vec<DueRecord>, StoreError> {
        let quiet = Condition::any()
            .add(between(C::LastActivityAt, from, to))
            .add(
                Condition::all()
                    .add(C::LastActivityAt.is_null())
                    .add(between(C::CreatedAt, from, to)),
            );
        let mut select = Customers::find()
            .select_only()
            .column(C::Id)
            .column(C::LastActivityAt)
            .column(C::CreatedAt)
            .filter(C::DeletedAt.is_null())
            .filter(quiet);
        if let Some(after) = after {
            select = select.filter(C::Id.gt(after));
        }
        let rows: Vec<(Uuid, Option<DateTime<Utc>>, DateTime<Utc>)> = select
            .order_by_asc(C::Id)
            .limit(limit)
            .into_tuple()
            .all(db)
            .await?;
        Ok(rows
            .into_iter()
            .map(|(id, last, created)| {
                let since = last.unwrap_or(created);
                (id, format!("inactivity:{id}:{}", since.to_rfc3339()))
            })
            .collect())
    }

    /// Open opportunities expected to close on one of `dates`.
    ///
    /// # Errors
    /// Database failures.
    pub async fn closing(
        db: &impl Conn,
        dates: &[NaiveDate],
        after: Option<Uuid>,
        limit: u64,
    ) -> Result<Vec<DueRecord>, StoreError> {
        let mut select = Opportunities::find()
            .select_only()
            .column(O::Id)
            .column(O::ExpectedCloseDate)
            .filter(O::Status.eq(OpportunityStatus::Open.as_str()))
            .filter(O::ExpectedCloseDate.is_in(dates.iter().copied()));
        if let Some(after) = after {
            select = select.filter(O::Id.gt(after));
        }
        let rows: Vec<(Uuid, Option<NaiveDate>)> = select
            .order_by_asc(O::Id)
            .limit(limit)
            .into_tuple()
            .all(db)
            .await?;
        Ok(rows
            .into_iter()
            .filter_map(|(id, date)| Some((id, format!("before_close:{id}:{}", date?))))
            .collect())
    }

    /// Live customers of `grade` whose last call (their creation, without one) is in
    /// `(from, to]`. It reads a page of the grade's customers made by `to`, then their last
    /// calls: the answer may be shorter than `limit` with more to come; go on after `next`.
    ///
    /// # Errors
    /// Database failures.
    pub async fn due_callbacks(
        db: &impl Conn,
        grade: Grade,
        (from, to): (DateTime<Utc>, DateTime<Utc>),
        after: Option<Uuid>,
        limit: u64,
    ) -> Result<(Vec<DueRecord>, Option<Uuid>), StoreError> {
        let mut select = Customers::find()
            .select_only()
            .column(C::Id)
            .column(C::CreatedAt)
            .filter(C::DeletedAt.is_null())
            .filter(C::Grade.eq(grade.as_str()))
            .filter(C::CreatedAt.lte(to));
        if let Some(after) = after {
            select = select.filter(C::Id.gt(after));
        }
        let page: Vec<(Uuid, DateTime<Utc>)> = select
            .order_by_asc(C::Id)
            .limit(limit)
            .into_tuple()
            .all(db)
            .await?;
        let next = if page.len() as u64 == limit {
            page.last().map(|(id, _)| *id)
        } else {
            None
        };
        let calls: Vec<(Uuid, Option<DateTime<Utc>>)> = Activities::find()
            .select_only()
            .column(A::CustomerId)
            .column_as(Expr::col(A::OccurredAt).max(), "last_call")
            .filter(A::Kind.eq(ActivityKind::Call.as_str()))
            .filter(A::CustomerId.is_in(page.iter().map(|(id, _)| *id)))
            .group_by(A::CustomerId)
            .into_tuple()
            .all(db)
            .await?;
        let calls: HashMap<Uuid, Option<DateTime<Utc>>> = calls.into_iter().collect();
        let due = page
            .into_iter()
            .filter_map(|(id, created)| {
                let last = calls.get(&id).copied().flatten().unwrap_or(created);
                (last > from && last <= to)
                    .then(|| (id, format!("callback:{id}:{}", last.to_rfc3339())))
            })
            .collect();
        Ok((due, next))
    }
}

//! Running automation rules: a firing's job reads the rule and the record, checks the
//! conditions, then does each action in a transaction of its own with the action's outcome
//! saved on the run in the same transaction, so that a rerun of the job (at least once) does
//! nothing twice. A refused action is recorded and not retried; a failing one is retried with
//! the job, then recorded as failed; the other actions run either way. The dry run
//! ([`dry_run`]) does the same in transactions it never commits, and sends nothing.

pub mod actions;
pub mod letters;
pub mod mail;
pub mod records;
pub mod reports;

use rapport_domain::auth::Role;
use rapport_domain::automation::action::Action;
use rapport_domain::automation::condition::RecordType;
use rapport_domain::automation::rule::Rule;
use rapport_domain::automation::run::{
    Effect, Link, MAX_ACTION_ATTEMPTS, Outcome, OutcomeStatus, Run, RunStatus,
};
use rapport_domain::identity::Actor;
use rapport_store::repos::automation::{self, Firing};
use rapport_store::repos::{self};
use rapport_store::{StoreError, Tx};
use uuid::Uuid;

use self::actions::Acting;
use self::records::Subject;
use crate::audit::Origin;
use crate::auth::{Caller, Principal};
use crate::error::ApiError;
use crate::i18n::Lang;
use crate::state::AppState;

/// The rule as a caller: it acts with every scope and sees every record (an admin configured
/// it), and its writes are audited as its own (`automation_rule`).
pub fn caller_of(rule: &Rule, run_id: Option<Uuid>) -> Caller {
    Caller {
        principal: Principal::Client { id: rule.id },
        scopes: Role::Admin.scopes(),
        origin: origin_of(rule.id, run_id),
    }
}

/// Where a rule's effects come from: the rule, its run as the request.
pub fn origin_of(rule_id: Uuid, run_id: Option<Uuid>) -> Origin {
    Origin {
        actor: Actor::Rule(rule_id),
        request_id: run_id.map(|id| format!("automation-run-{id}")),
        ip: None,
    }
}

/// Why a run's job must run again: an action failed and has attempts left.
#[derive(Debug, thiserror::Error)]
#[error("{failed} action(s) failed and will be retried: {detail}")]
pub struct Retry {
    pub failed: usize,
    pub detail: String,
}

/// Runs one firing of a rule (the `automation.run` job), once however often it is called.
///
/// # Errors
/// [`Retry`] when an action failed and has attempts left; a database failure.
pub async fn execute(state: &AppState, firing: &Firing) -> Result<(), RunError> {
    let db = state.store.conn();
    let rule = match automation::get(db, firing.rule_id).await {
        Ok(rule) => rule,
        // A rule deleted since: its runs went with it.
        Err(StoreError::NotFound) => return Ok(()),
        Err(e) => return Err(RunError::Store(e)),
    };
    let now = state.clock.now();
    let tx = state.store.begin().await?;
    automation::insert_run(&tx, &firing.run(now)).await?;
    rapport_store::commit(tx).await?;
    let run = automation::run_of(db, rule.id, &firing.fire_key).await?;
    if run.finished() {
        return Ok(());
    }
    let subject = match (firing.record_type, firing.record_id) {
        (Some(record_type), Some(id)) => match records::load(db, record_type, id).await? {
            Some(subject) => Some(subject),
            None => return end(state, &run, RunStatus::Skipped, "record_gone").await,
        },
        _ => None,
    };
    if !rule.enabled {
        return end(state, &run, RunStatus::Skipped, "rule_disabled").await;
    }
    if let Some(subject) = &subject
        && !rule.applies_to(&subject.json)
    {
        return end(state, &run, RunStatus::Skipped, "conditions_not_met").await;
    }
    let mut chain = firing.chain.clone();
    chain.push(Link {
        rule_id: rule.id,
        record_id: subject.as_ref().map(|s| s.id),
    });
    let caller = caller_of(&rule, Some(run.id));
    let acting = Acting {
        state,
        rule: &rule,
        caller: &caller,
        now,
        run_id: Some(run.id),
    };
    let mut retry = Vec::new();
    for (index, action) in rule.actions.iter().enumerate() {
        if run.outcome(index).is_some_and(Outcome::settled) {
            continue;
        }
        let attempts = run.outcome(index).map_or(0, |o| o.attempts) + 1;
        let tx = state.store.begin().await?.with_chain(chain.clone());
        let outcome = match actions::apply(&tx, &acting, subject.as_ref(), index, action).await {
            Ok(effect) => {
                let done = outcome(index, action, OutcomeStatus::Done, attempts, effect, None);
                save_outcome(&tx, &rule, run.id, done, now).await?;
                rapport_store::commit(tx).await?;
                continue;
            }
            Err(e) if e.is_ours() => {
                drop(tx);
                let status = if attempts >= MAX_ACTION_ATTEMPTS {
                    OutcomeStatus::Failed
                } else {
                    retry.push(e.to_string());
                    OutcomeStatus::Retrying
                };
                outcome(index, action, status, attempts, None, Some(&e))
            }
            Err(e) => {
                drop(tx);
                outcome(
                    index,
                    action,
                    OutcomeStatus::Refused,
                    attempts,
                    None,
                    Some(&e),
                )
            }
        };
        let tx = state.store.begin().await?;
        save_outcome(&tx, &rule, run.id, outcome, now).await?;
        rapport_store::commit(tx).await?;
    }
    if retry.is_empty() {
        Ok(())
    } else {
        Err(RunError::Retry(Retry {
            failed: retry.len(),
            detail: retry.join("; "),
        }))
    }
}

/// Why a run's job failed.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    #[error(transparent)]
    Retry(Retry),
    #[error("reading or saving the run failed: {0}")]
    Store(#[from] StoreError),
    #[error("the run failed: {0}")]
    Api(#[from] ApiError),
}

fn outcome(
    index: usize,
    action: &Action,
    status: OutcomeStatus,
    attempts: u32,
    effect: Option<Effect>,
    error: Option<&ApiError>,
) -> Outcome {
    Outcome {
        index,
        action_type: action.action_type(),
        status,
        code: error.map(|e| e.code().as_str().to_owned()),
        detail: error.and_then(|e| e.to_problem(Lang::En).detail),
        effect,
        attempts,
        emails: Vec::new(),
    }
}

/// Saves `outcome` on run `run_id` (locked: two runs of one job queue), ending the run once
/// every action is settled.
async fn save_outcome(
    tx: &Tx,
    rule: &Rule,
    run_id: Uuid,
    outcome: Outcome,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<(), StoreError> {
    let mut run: Run = repos::get_locked(tx, run_id).await?;
    run.record(outcome);
    run.settle(rule.actions.len());
    repos::save(tx, &run, now).await?;
    Ok(())
}

async fn end(state: &AppState, run: &Run, status: RunStatus, reason: &str) -> Result<(), RunError> {
    let tx = state.store.begin().await?;
    let mut run: Run = repos::get_locked(&tx, run.id).await?;
    if !run.finished() {
        run.status = status;
        run.reason = Some(reason.to_owned());
        repos::save(&tx, &run, state.clock.now()).await?;
    }
    rapport_store::commit(tx).await?;
    Ok(())
}

/// What a rule would do to a record, found by doing it in transactions that are never
/// committed (nothing is sent either).
#[derive(Debug)]
pub struct DryRun {
    pub subject: Option<Subject>,
    pub conditions_met: bool,
    pub outcomes: Vec<Outcome>,
}

/// The dry run of `rule` on the record `record_id` (`None` for a schedule).
///
/// # Errors
/// 404 when the record is not there; database failures.
pub async fn dry_run(
    state: &AppState,
    rule: &Rule,
    record: Option<(RecordType, Uuid)>,
) -> Result<DryRun, ApiError> {
    let db = state.store.conn();
    let subject = match record {
        Some((record_type, id)) => Some(
            records::load(db, record_type, id)
                .await?
                .ok_or(ApiError::NotFound)?,
        ),
        None => None,
    };
    let conditions_met = subject.as_ref().is_none_or(|s| rule.applies_to(&s.json));
    let mut outcomes = Vec::new();
    if conditions_met {
        let caller = caller_of(rule, None);
        let acting = Acting {
            state,
            rule,
            caller: &caller,
            now: state.clock.now(),
            run_id: None,
        };
        for (index, action) in rule.actions.iter().enumerate() {
            // Dropped, never committed: whatever the action wrote is undone.
            let tx = state.store.begin().await?;
            let result = actions::apply(&tx, &acting, subject.as_ref(), index, action).await;
            drop(tx);
            outcomes.push(match result {
                Ok(effect) => outcome(index, action, OutcomeStatus::Done, 1, effect, None),
                Err(e) if e.is_ours() => return Err(e),
                Err(e) => outcome(index, action, OutcomeStatus::Refused, 1, None, Some(&e)),
            });
        }
    }
    Ok(DryRun {
        subject,
        conditions_met,
        outcomes,
    })
}

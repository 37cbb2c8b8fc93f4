//! A rule's firing on one record (a run): what fired it, the chain of rules that led to it,
//! and each action's outcome. A run is keyed by its rule and what fired it (`fire_key`), so
//! a rule fires once per event per record, and a time trigger once per period per record,
//! however often its job runs.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::action::ActionType;
use super::condition::RecordType;

/// The longest chain of rules firing each other's rules (A's action fires B, whose action
/// fires C, …). A rule that would fire past it is stopped and its run says so.
pub const MAX_CHAIN_DEPTH: usize = 5;

/// How often a failing action runs before its failure is recorded for good.
pub const MAX_ACTION_ATTEMPTS: u32 = 3;

/// One rule having fired on one record, a step of a chain.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Link {
    pub rule_id: Uuid,
    pub record_id: Option<Uuid>,
}

/// Why a rule was stopped instead of run: its actions would run it again.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stop {
    /// The rule already ran on this record in this chain.
    Loop,
    /// The chain is [`MAX_CHAIN_DEPTH`] long.
    TooDeep,
}

/// May `rule` fire on `record` as the next step of `chain`?
///
/// # Errors
/// The [`Stop`] that keeps it from firing.
pub fn may_fire(chain: &[Link], rule: Uuid, record: Option<Uuid>) -> Result<(), Stop> {
    let link = Link {
        rule_id: rule,
        record_id: record,
    };
    if chain.contains(&link) {
        Err(Stop::Loop)
    } else if chain.len() >= MAX_CHAIN_DEPTH {
        Err(Stop::TooDeep)
    } else {
        Ok(())
    }
}

crate::string_enum! {
    /// Where a run is.
    pub enum RunStatus {
        /// Its actions are running (or waiting to be retried).
        Running => "running",
        /// Every action done (or refused by the rules the API applies: see its outcomes).
        Succeeded => "succeeded",
        /// An action failed after its retries; the others ran.
        Failed => "failed",
        /// The conditions did not hold: nothing was done.
        Skipped => "skipped",
        /// The chain would loop or grow too deep: nothing was done.
        Stopped => "stopped",
    }
}

crate::string_enum! {
    /// What became of one action.
    pub enum OutcomeStatus {
        /// It did what it says (see `effect`).
        Done => "done",
        /// The API's rules refused it (an invalid lifecycle move, a contact without
        /// consent): nothing changed; `detail` says why.
        Refused => "refused",
        /// It failed and will be tried again (`attempts` so far).
        Retrying => "retrying",
        /// It failed [`MAX_ACTION_ATTEMPTS`] times: nothing changed.
        Failed => "failed",
    }
}

crate::string_enum! {
    /// What became of one email of an action (`send_email`, `email_report`).
    pub enum EmailStatus {
        /// Being handed to the SMTP server. A worker that stopped right then leaves it so:
        /// whether it went is not known, and it is not sent again (at most once).
        Sending => "sending",
        /// The SMTP server took it.
        Sent => "sent",
        /// Not sent, for `reason` (`consent_withdrawn`, `no_recipient`, `record_gone`, …).
        NotSent => "not_sent",
        /// The SMTP server refused it for good (a 5xx reply): not tried again.
        Bounced => "bounced",
    }
}

/// Whom an action's email is for: a contact or a user, by id.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", content = "id", rename_all = "snake_case")]
pub enum Recipient {
    Contact(Uuid),
    User(Uuid),
}

/// One email of an action, kept on its outcome: the marker that keeps a rerun of the email's
/// job from sending it twice.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Email {
    pub to: Recipient,
    pub status: EmailStatus,
    /// Why it was not sent or bounced: a problem code, or the SMTP reply's code.
    pub reason: Option<String>,
    pub at: DateTime<Utc>,
}

/// What one action did, or why not.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Outcome {
    pub index: usize,
    #[serde(rename = "type")]
    pub action_type: ActionType,
    pub status: OutcomeStatus,
    /// A problem's code on a refusal (`invalid_transition`), or what failed.
    pub code: Option<String>,
    pub detail: Option<String>,
    /// The record it made or changed.
    pub effect: Option<Effect>,
    pub attempts: u32,
    /// The emails its job sent or did not send, one per recipient (emailing actions only).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub emails: Vec<Email>,
}

/// A record an action made or changed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Effect {
    pub entity_type: String,
    pub id: Uuid,
}

impl Outcome {
    /// Is it settled, so that a rerun of the run leaves it?
    pub fn settled(&self) -> bool {
        self.status != OutcomeStatus::Retrying
    }

    /// The email to `to`, once its job has begun on it.
    pub fn email_to(&self, to: Recipient) -> Option<&Email> {
        self.emails.iter().find(|e| e.to == to)
    }

    /// Takes the email to `to` for sending (`sending`), unless its job has begun on it
    /// already: `false` then, and nothing changes.
    pub fn claim_email(&mut self, to: Recipient, now: DateTime<Utc>) -> bool {
        if self.email_to(to).is_some() {
            return false;
        }
        self.emails.push(Email {
            to,
            status: EmailStatus::Sending,
            reason: None,
            at: now,
        });
        true
    }

    /// Records what became of the email to `to` (claimed or not).
    pub fn settle_email(
        &mut self,
        to: Recipient,
        status: EmailStatus,
        reason: Option<String>,
        now: DateTime<Utc>,
    ) {
        self.emails.retain(|e| e.to != to);
        self.emails.push(Email {
            to,
            status,
            reason,
            at: now,
        });
    }

    /// Gives back a claim on the email to `to` (its send failed for now and will be tried
    /// again).
    pub fn release_email(&mut self, to: Recipient) {
        self.emails
            .retain(|e| !(e.to == to && e.status == EmailStatus::Sending));
    }
}

/// One firing of a rule.
#[derive(Debug, Clone, PartialEq)]
pub struct Run {
    pub id: Uuid,
    pub rule_id: Uuid,
    /// What fired it, unique per rule: `event:<audit event id>`, `schedule:<time>`,
    /// `birthday:<contact>:<year>`, …
    pub fire_key: String,
    /// The trigger event's or kind's name (`customer.updated`, `birthday`).
    pub trigger: String,
    pub record_type: Option<RecordType>,
    pub record_id: Option<Uuid>,
    /// The rules that led here, first one first (empty: fired by a person's or system's write).
    pub chain: Vec<Link>,
    pub status: RunStatus,
    /// Why it was stopped (`loop`, `chain_too_deep`) or skipped.
    pub reason: Option<String>,
    pub outcomes: Vec<Outcome>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub version: i32,
}

impl Run {
    pub fn new(
        rule_id: Uuid,
        fire_key: String,
        trigger: &str,
        record: Option<(RecordType, Uuid)>,
        chain: Vec<Link>,
        now: DateTime<Utc>,
    ) -> Run {
        Run {
            id: Uuid::now_v7(),
            rule_id,
            fire_key,
            trigger: trigger.to_owned(),
            record_type: record.map(|(t, _)| t),
            record_id: record.map(|(_, id)| id),
            chain,
            status: RunStatus::Running,
            reason: None,
            outcomes: Vec::new(),
            created_at: now,
            updated_at: now,
            version: 1,
        }
    }

    /// A run that did not happen because of `stop`.
    pub fn stopped(mut self, stop: Stop) -> Run {
        self.status = RunStatus::Stopped;
        self.reason = Some(
            match stop {
                Stop::Loop => "loop",
                Stop::TooDeep => "chain_too_deep",
            }
            .to_owned(),
        );
        self
    }

    /// Is it over (a rerun of its job does nothing)?
    pub fn finished(&self) -> bool {
        self.status != RunStatus::Running
    }

    /// The outcome of action `index` so far.
    pub fn outcome(&self, index: usize) -> Option<&Outcome> {
        self.outcomes.iter().find(|o| o.index == index)
    }

    /// Records `outcome`, replacing an earlier one of its action.
    pub fn record(&mut self, outcome: Outcome) {
        self.outcomes.retain(|o| o.index != outcome.index);
        self.outcomes.push(outcome);
        self.outcomes.sort_by_key(|o| o.index);
    }

    /// Ends the run once every one of its `actions` is settled: `failed` when one failed.
    pub fn settle(&mut self, actions: usize) {
        let settled = (0..actions).all(|i| self.outcome(i).is_some_and(Outcome::settled));
        if !settled {
            return;
        }
        let failed = self
            .outcomes
            .iter()
            .any(|o| o.status == OutcomeStatus::Failed);
        self.status = if failed {
            RunStatus::Failed
        } else {
            RunStatus::Succeeded
        };
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_chain_stops_at_a_loop_and_at_its_depth() {
        let (a, b) = (Uuid::now_v7(), Uuid::now_v7());
        let record = Some(Uuid::now_v7());
        let chain = [Link {
            rule_id: a,
            record_id: record,
        }];
        assert_eq!(may_fire(&chain, b, record), Ok(()));
        assert_eq!(may_fire(&chain, a, record), Err(Stop::Loop));
        // The same rule on another record is no loop.
        assert_eq!(may_fire(&chain, a, Some(Uuid::now_v7())), Ok(()));
        let deep: Vec<Link> = (0..MAX_CHAIN_DEPTH)
            .map(|_| Link {
                rule_id: Uuid::now_v7(),
                record_id: record,
            })
            .collect();
        assert_eq!(may_fire(&deep, a, record), Err(Stop::TooDeep));
    }

    #[test]
    fn a_run_settles_when_every_action_has() {
        let mut run = Run::new(
            Uuid::now_v7(),
            "event:1".into(),
            "customer.created",
            None,
            vec![],
            Utc::now(),
        );
        let outcome = |index, status| Outcome {
            index,
            action_type: ActionType::Notify,
            status,
            code: None,
            detail: None,
            effect: None,
            attempts: 1,
            emails: Vec::new(),
        };
        run.record(outcome(0, OutcomeStatus::Done));
        run.record(outcome(1, OutcomeStatus::Retrying));
        run.settle(2);
        assert_eq!(run.status, RunStatus::Running);
        run.record(outcome(1, OutcomeStatus::Failed));
        run.settle(2);
        assert_eq!(run.status, RunStatus::Failed);
        assert_eq!(run.outcomes.len(), 2);
    }

    #[test]
    fn an_email_is_claimed_once() {
        let now = Utc::now();
        let mut outcome = Outcome {
            index: 0,
            action_type: ActionType::SendEmail,
            status: OutcomeStatus::Done,
            code: None,
            detail: None,
            effect: None,
            attempts: 1,
            emails: Vec::new(),
        };
        let to = Recipient::User(Uuid::now_v7());
        assert!(outcome.claim_email(to, now));
        assert!(!outcome.claim_email(to, now), "claimed already");
        // A transient failure gives it back; a second claim takes it again.
        outcome.release_email(to);
        assert!(outcome.claim_email(to, now));
        outcome.settle_email(to, EmailStatus::Sent, None, now);
        outcome.release_email(to);
        assert_eq!(
            outcome.email_to(to).map(|e| e.status),
            Some(EmailStatus::Sent)
        );
        assert!(!outcome.claim_email(to, now), "sent already");
        // Outcomes stored before emails were kept read back without them.
        let stored = serde_json::json!({"index": 0, "type": "notify", "status": "done",
            "code": null, "detail": null, "effect": null, "attempts": 1});
        let read: Outcome = serde_json::from_value(stored).unwrap();
        assert!(read.emails.is_empty());
    }
}

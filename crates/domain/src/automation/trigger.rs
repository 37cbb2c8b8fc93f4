//! When a rule fires: on a record event (read off the audit trail, as webhooks are), or on
//! time (a schedule, or a relative day such as a contact's birthday).

use chrono::{DateTime, Days, Duration, NaiveDate, NaiveTime, Utc};
use chrono_tz::Tz;
use serde_json::{Map, Value, json};
use uuid::Uuid;

use super::condition::{Condition, RecordType};
use super::schedule::{Cron, day_start, local_day};
use crate::validation::{Errors, Invalid, ValidationErrors, path};

crate::string_enum! {
    /// The record events a rule can fire on. Each is read off an audit event
    /// ([`events_of`]), so every write the API audits can fire rules, whoever made it.
    pub enum TriggerEvent {
        CustomerCreated => "customer.created",
        /// Any change; narrowed by the trigger's `field` (and `to`): lifecycle or grade
        /// changes are `field: lifecycle_stage` / `field: grade`.
        CustomerUpdated => "customer.updated",
        OpportunityCreated => "opportunity.created",
        OpportunityStageChanged => "opportunity.stage_changed",
        OpportunityWon => "opportunity.won",
        OpportunityLost => "opportunity.lost",
        QuoteAccepted => "quote.accepted",
        OrderConfirmed => "order.confirmed",
        TicketCreated => "ticket.created",
        TicketUpdated => "ticket.updated",
        TicketSlaBreached => "ticket.sla_breached",
        SurveyAnswered => "survey.answered",
        CampaignMemberClicked => "campaign_member.clicked",
        CampaignMemberResponded => "campaign_member.responded",
    }
}

impl TriggerEvent {
    /// The record the rule then looks at.
    pub fn record_type(self) -> RecordType {
        use TriggerEvent as E;
        match self {
            E::CustomerCreated | E::CustomerUpdated => RecordType::Customer,
            E::OpportunityCreated
            | E::OpportunityStageChanged
            | E::OpportunityWon
            | E::OpportunityLost => RecordType::Opportunity,
            E::QuoteAccepted => RecordType::Quote,
            E::OrderConfirmed => RecordType::Order,
            E::TicketCreated | E::TicketUpdated | E::TicketSlaBreached => RecordType::Ticket,
            E::SurveyAnswered => RecordType::SurveyInvitation,
            E::CampaignMemberClicked | E::CampaignMemberResponded => RecordType::CampaignMember,
        }
    }

    /// May the trigger name a `field` that changed (an update)?
    fn takes_field(self) -> bool {
        matches!(
            self,
            TriggerEvent::CustomerUpdated | TriggerEvent::TicketUpdated
        )
    }
}

impl TriggerEvent {
    /// The record an event of this kind is about, from its audit event's `entity_id` and
    /// `changes`: the entity itself, except for a click, which is recorded against the
    /// campaign message and names its member in `member_id`.
    pub fn record_id(self, entity_id: Uuid, changes: &Value) -> Uuid {
        match self {
            TriggerEvent::CampaignMemberClicked => changes
                .get("member_id")
                .and_then(|c| c.get("after"))
                .and_then(Value::as_str)
                .and_then(|id| Uuid::parse_str(id).ok())
                .unwrap_or(entity_id),
            _ => entity_id,
        }
    }
}

/// The trigger events an audit event is (`entity_type`, `action`, `changes` as recorded).
pub fn events_of(entity_type: &str, action: &str, changes: &Value) -> Vec<TriggerEvent> {
    use TriggerEvent as E;
    let after = |field: &str| {
        changes
            .get(field)
            .and_then(|c| c.get("after"))
            .and_then(Value::as_str)
    };
    match (entity_type, action) {
        ("customer", "create") => vec![E::CustomerCreated],
        ("customer", "update" | "graded") => vec![E::CustomerUpdated],
        ("opportunity", "create") => vec![E::OpportunityCreated],
        ("opportunity", "update") => {
            let mut events = Vec::new();
            if changes.get("stage_id").is_some() {
                events.push(E::OpportunityStageChanged);
            }
            match after("status") {
                Some("won") => events.push(E::OpportunityWon),
                Some("lost") => events.push(E::OpportunityLost),
                _ => {}
            }
            events
        }
        ("quote", "update") if after("status") == Some("accepted") => vec![E::QuoteAccepted],
        ("order", "create" | "update") if after("status") == Some("confirmed") => {
            vec![E::OrderConfirmed]
        }
        ("ticket", "create") => vec![E::TicketCreated],
        ("ticket", "update") => vec![E::TicketUpdated],
        ("ticket", "sla_breached") => vec![E::TicketSlaBreached],
        ("survey_invitation", "update") if after("status") == Some("answered") => {
            vec![E::SurveyAnswered]
        }
        ("campaign_message", "click") => vec![E::CampaignMemberClicked],
        ("campaign_member", "update") if after("status") == Some("responded") => {
            vec![E::CampaignMemberResponded]
        }
        _ => Vec::new(),
    }
}

crate::string_enum! {
    /// What kind of trigger a rule has (the `type` of its `trigger`).
    pub enum TriggerKind {
        /// A record event (`event`, optionally `field` and `to`).
        RecordEvent => "record_event",
        /// A cron schedule in a time zone: fires once per occurrence, on no record.
        Schedule => "schedule",
        /// A customer with no activity for `days` days: once per quiet spell.
        Inactivity => "inactivity",
        /// An open opportunity whose expected close is `days` days away: once per close date.
        BeforeClose => "before_close",
        /// A contact's birthday: once a year.
        Birthday => "birthday",
        /// A customer not called back for the days its grade asks (`days_by_grade`): once per
        /// call-back due.
        CallbackCadence => "callback_cadence",
    }
}

/// When a rule fires.
#[derive(Debug, Clone, PartialEq)]
pub enum Trigger {
    RecordEvent {
        event: TriggerEvent,
        /// Fires only when this field changed…
        field: Option<String>,
        /// …to this value (a test `field eq to` on the record after the change).
        to: Option<Value>,
    },
    Schedule(Cron),
    /// The time triggers that look at records once a local day, at `daily.at` in
    /// `daily.time_zone`.
    Daily {
        daily: Daily,
        relative: Relative,
    },
}

/// The local time of day a relative trigger's daily scan runs.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Daily {
    pub at: NaiveTime,
    pub time_zone: Tz,
}

/// The relative time triggers.
#[derive(Debug, Clone, PartialEq)]
pub enum Relative {
    Inactivity {
        days: u32,
    },
    BeforeClose {
        days: u32,
    },
    Birthday,
    /// Days between call-backs by grade (`a`, `b`, …); grades not named are not called.
    CallbackCadence {
        days_by_grade: Vec<(crate::enums::Grade, u32)>,
    },
}

/// The longest a relative trigger may count, in days.
pub const MAX_DAYS: u32 = 3_650;

impl Trigger {
    pub fn kind(&self) -> TriggerKind {
        match self {
            Trigger::RecordEvent { .. } => TriggerKind::RecordEvent,
            Trigger::Schedule(_) => TriggerKind::Schedule,
            Trigger::Daily { relative, .. } => match relative {
                Relative::Inactivity { .. } => TriggerKind::Inactivity,
                Relative::BeforeClose { .. } => TriggerKind::BeforeClose,
                Relative::Birthday => TriggerKind::Birthday,
                Relative::CallbackCadence { .. } => TriggerKind::CallbackCadence,
            },
        }
    }

    /// The record the rule looks at, `None` for a schedule (its actions name no record).
    pub fn record_type(&self) -> Option<RecordType> {
        match self {
            Trigger::RecordEvent { event, .. } => Some(event.record_type()),
            Trigger::Schedule(_) => None,
            Trigger::Daily { relative, .. } => Some(match relative {
                Relative::Inactivity { .. } | Relative::CallbackCadence { .. } => {
                    RecordType::Customer
                }
                Relative::BeforeClose { .. } => RecordType::Opportunity,
                Relative::Birthday => RecordType::Contact,
            }),
        }
    }

    /// Does a record event of `event` with these audited `changes` fire this trigger?
    pub fn fires_on(&self, event: TriggerEvent, changes: &Value) -> bool {
        let Trigger::RecordEvent {
            event: wanted,
            field,
            to,
        } = self
        else {
            return false;
        };
        if *wanted != event {
            return false;
        }
        let Some(field) = field else {
            return true;
        };
        let Some(change) = changes.get(field.as_str()) else {
            return false;
        };
        match to {
            None => true,
            Some(to) => change.get("after") == Some(to),
        }
    }

    /// Reads a trigger as sent (`{"type": "record_event", "event": …}`), each problem at its
    /// path under `at`.
    ///
    /// # Errors
    /// Every refused part.
    pub fn parse(value: &Value, at: &str) -> Result<Trigger, ValidationErrors> {
        let mut errors = Errors::default();
        let trigger = read(value, at, &mut errors);
        errors.finish_with(trigger)
    }

    /// The trigger as it is sent and answered.
    pub fn to_json(&self) -> Value {
        match self {
            Trigger::RecordEvent { event, field, to } => {
                let mut out =
                    json!({"type": TriggerKind::RecordEvent.as_str(), "event": event.as_str()});
                if let Some(field) = field {
                    out["field"] = json!(field);
                }
                if let Some(to) = to {
                    out["to"] = to.clone();
                }
                out
            }
            Trigger::Schedule(cron) => json!({
                "type": TriggerKind::Schedule.as_str(),
                "cron": cron.as_str(),
                "time_zone": cron.zone().name(),
            }),
            Trigger::Daily { daily, relative } => {
                let mut out = json!({
                    "type": self.kind().as_str(),
                    "at": daily.at.format("%H:%M").to_string(),
                    "time_zone": daily.time_zone.name(),
                });
                match relative {
                    Relative::Inactivity { days } | Relative::BeforeClose { days } => {
                        out["days"] = json!(days);
                    }
                    Relative::Birthday => {}
                    Relative::CallbackCadence { days_by_grade } => {
                        let by: Map<String, Value> = days_by_grade
                            .iter()
                            .map(|(grade, days)| (grade.as_str().to_owned(), json!(days)))
                            .collect();
                        out["days_by_grade"] = Value::Object(by);
                    }
                }
                out
            }
        }
    }
}

/// What a time trigger has due at a time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Due {
    /// A schedule's occurrence: the rule fires once for it, on no record.
    Occurrence(DateTime<Utc>),
    /// A relative trigger's scan of the records due on a local day, due at `at`.
    Scan { day: NaiveDate, at: DateTime<Utc> },
}

/// How many days a relative trigger's scan looks back: a record whose moment came while no
/// instance ran (up to a week) is still caught; its run's key keeps it to once.
pub const CATCH_UP_DAYS: u64 = 7;

impl Trigger {
    /// The latest occurrence or daily scan due at `now`; `None` for a record event (and a
    /// schedule with no occurrence in the last year). Every instance computes the same one,
    /// so keying its job by it makes it run once.
    pub fn due(&self, now: DateTime<Utc>) -> Option<Due> {
        match self {
            Trigger::RecordEvent { .. } => None,
            Trigger::Schedule(cron) => cron.latest(now).map(Due::Occurrence),
            Trigger::Daily { daily, .. } => {
                let today = local_day(now, daily.time_zone);
                let at = day_start(today, daily.at, daily.time_zone);
                if at <= now {
                    Some(Due::Scan { day: today, at })
                } else {
                    let yesterday = today.pred_opt()?;
                    let at = day_start(yesterday, daily.at, daily.time_zone);
                    Some(Due::Scan { day: yesterday, at })
                }
            }
        }
    }
}

impl Relative {
    /// For the triggers counted from a moment (the last activity, the last call): the span
    /// of moments that make a record due in the scan of `at`, `days` after it: `(from, to]`.
    pub fn window(days: u32, at: DateTime<Utc>) -> (DateTime<Utc>, DateTime<Utc>) {
        let to = at - Duration::days(i64::from(days));
        let from = to - Days::new(CATCH_UP_DAYS);
        (from, to)
    }

    /// For `before_close`: the expected close dates due in the scan of local `day`, oldest
    /// first (the catch-up days, then `day` + `days`).
    pub fn close_dates(days: u32, day: NaiveDate) -> Vec<NaiveDate> {
        (0..=CATCH_UP_DAYS)
            .rev()
            .filter_map(|back| day.checked_sub_days(Days::new(back)))
            .filter_map(|d| d.checked_add_days(Days::new(u64::from(days))))
            .collect()
    }
}

/// The keys each trigger kind takes besides `type`.
fn keys_of(kind: TriggerKind) -> &'static [&'static str] {
    match kind {
        TriggerKind::RecordEvent => &["event", "field", "to"],
        TriggerKind::Schedule => &["cron", "time_zone"],
        TriggerKind::Inactivity | TriggerKind::BeforeClose => &["days", "at", "time_zone"],
        TriggerKind::Birthday => &["at", "time_zone"],
        TriggerKind::CallbackCadence => &["days_by_grade", "at", "time_zone"],
    }
}

fn read(value: &Value, at: &str, errors: &mut Errors) -> Option<Trigger> {
    let Some(object) = value.as_object() else {
        errors.add(at, Invalid::InvalidType);
        return None;
    };
    let kind = match object.get("type").and_then(Value::as_str) {
        Some(kind) => errors.check(path(at, "type"), TriggerKind::parse(kind))?,
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
    let text = |key: &str| object.get(key).and_then(Value::as_str);
    match kind {
        TriggerKind::RecordEvent => read_event(object, at, errors),
        TriggerKind::Schedule => {
            let cron = text("cron").unwrap_or_default();
            let zone = text("time_zone").unwrap_or("UTC");
            match Cron::parse(cron, zone) {
                Ok(cron) => Some(Trigger::Schedule(cron)),
                Err(e) => {
                    for error in e.into_errors() {
                        let field = error.field.rsplit('.').next().unwrap_or("cron").to_owned();
                        errors.add(path(at, &field), error.invalid);
                    }
                    None
                }
            }
        }
        _ => {
            let daily = read_daily(object, at, errors);
            let mut days = || read_days(object.get("days"), &path(at, "days"), errors);
            let relative = match kind {
                TriggerKind::Inactivity => days().map(|days| Relative::Inactivity { days }),
                TriggerKind::BeforeClose => days().map(|days| Relative::BeforeClose { days }),
                TriggerKind::Birthday => Some(Relative::Birthday),
                _ => read_cadence(
                    object.get("days_by_grade"),
                    &path(at, "days_by_grade"),
                    errors,
                ),
            };
            Some(Trigger::Daily {
                daily: daily?,
                relative: relative?,
            })
        }
    }
}

fn read_event(object: &Map<String, Value>, at: &str, errors: &mut Errors) -> Option<Trigger> {
    let event = match object.get("event").and_then(Value::as_str) {
        Some(event) => errors.check(path(at, "event"), TriggerEvent::parse(event)),
        None => {
            errors.add(path(at, "event"), Invalid::Required);
            None
        }
    }?;
    let field = match object.get("field") {
        None | Some(Value::Null) => None,
        Some(Value::String(field)) if event.takes_field() => Some(field.clone()),
        Some(Value::String(_)) => {
            errors.add(path(at, "field"), Invalid::NotAllowed);
            return None;
        }
        Some(_) => {
            errors.add(path(at, "field"), Invalid::InvalidType);
            return None;
        }
    };
    let to = match object.get("to") {
        None | Some(Value::Null) => None,
        Some(to) => Some(to.clone()),
    };
    match (&field, &to) {
        (None, Some(_)) => {
            errors.add(path(at, "to"), Invalid::NotAllowed);
            return None;
        }
        (Some(field), to) => {
            // The field and value are checked as the test `field eq to` is.
            let test = match to {
                Some(to) => json!({"field": field, "op": "eq", "value": to}),
                None => json!({"field": field, "op": "is_not_empty"}),
            };
            if let Err(e) = Condition::parse(&test, event.record_type(), at) {
                for error in e.into_errors() {
                    let key = if error.field.ends_with("value") {
                        "to"
                    } else {
                        "field"
                    };
                    errors.add(path(at, key), error.invalid);
                }
                return None;
            }
        }
        (None, None) => {}
    }
    Some(Trigger::RecordEvent { event, field, to })
}

fn read_daily(object: &Map<String, Value>, at: &str, errors: &mut Errors) -> Option<Daily> {
    let time = match object.get("at") {
        None | Some(Value::Null) => NaiveTime::from_hms_opt(9, 0, 0),
        Some(Value::String(s)) => {
            let parsed = NaiveTime::parse_from_str(s, "%H:%M").map_err(|_| Invalid::InvalidDate);
            errors.check(path(at, "at"), parsed)
        }
        Some(_) => {
            errors.add(path(at, "at"), Invalid::InvalidType);
            None
        }
    };
    let zone = match object.get("time_zone") {
        None | Some(Value::Null) => Some(Tz::UTC),
        Some(Value::String(s)) => errors.check(
            path(at, "time_zone"),
            s.parse::<Tz>().map_err(|_| Invalid::InvalidCode),
        ),
        Some(_) => {
            errors.add(path(at, "time_zone"), Invalid::InvalidType);
            None
        }
    };
    Some(Daily {
        at: time?,
        time_zone: zone?,
    })
}

fn read_days(value: Option<&Value>, at: &str, errors: &mut Errors) -> Option<u32> {
    match value.map(Value::as_u64) {
        None => {
            errors.add(at, Invalid::Required);
            None
        }
        Some(Some(days)) if (1..=u64::from(MAX_DAYS)).contains(&days) => u32::try_from(days).ok(),
        Some(Some(_)) => {
            errors.add(
                at,
                Invalid::OutOfRange {
                    min: 1,
                    max: i64::from(MAX_DAYS),
                },
            );
            None
        }
        Some(None) => {
            errors.add(at, Invalid::InvalidType);
            None
        }
    }
}

fn read_cadence(value: Option<&Value>, at: &str, errors: &mut Errors) -> Option<Relative> {
    let Some(object) = value.and_then(Value::as_object) else {
        errors.add(
            at,
            if value.is_none() {
                Invalid::Required
            } else {
                Invalid::InvalidType
            },
        );
        return None;
    };
    if object.is_empty() {
        errors.add(at, Invalid::Required);
        return None;
    }
    let mut days_by_grade = Vec::new();
    for (grade, days) in object {
        let field = path(at, grade);
        let grade = errors.check(&field, crate::enums::Grade::parse(grade));
        let days = read_days(Some(days), &field, errors);
        if let (Some(grade), Some(days)) = (grade, days) {
            days_by_grade.push((grade, days));
        }
    }
    days_by_grade.sort_by_key(|(grade, _)| *grade);
    Some(Relative::CallbackCadence { days_by_grade })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_click_is_about_its_member() {
        let (message, member) = (Uuid::now_v7(), Uuid::now_v7());
        let changes = json!({"member_id": {"before": null, "after": member}});
        let events = events_of("campaign_message", "click", &changes);
        assert_eq!(events, [TriggerEvent::CampaignMemberClicked]);
        assert_eq!(events[0].record_id(message, &changes), member);
        let ticket = Uuid::now_v7();
        assert_eq!(
            TriggerEvent::TicketUpdated.record_id(ticket, &changes),
            ticket
        );
    }

    fn fields(value: Value) -> Vec<(String, &'static str)> {
        match Trigger::parse(&value, "trigger") {
            Ok(t) => panic!("accepted {t:?}"),
            Err(e) => e
                .into_errors()
                .into_iter()
                .map(|e| (e.field, e.invalid.code()))
                .collect(),
        }
    }

    #[test]
    fn record_events_round_trip() {
        for value in [
            json!({"type": "record_event", "event": "customer.created"}),
            json!({"type": "record_event", "event": "customer.updated", "field": "lifecycle_stage", "to": "customer"}),
            json!({"type": "record_event", "event": "ticket.updated", "field": "status"}),
            json!({"type": "birthday", "at": "08:30", "time_zone": "Asia/Shanghai"}),
            json!({"type": "inactivity", "days": 30, "at": "09:00", "time_zone": "UTC"}),
            json!({"type": "callback_cadence", "days_by_grade": {"vip": 30, "standard": 90}, "at": "09:00", "time_zone": "Asia/Shanghai"}),
        ] {
            let trigger = Trigger::parse(&value, "trigger").unwrap();
            assert_eq!(trigger.to_json(), value);
        }
    }

    #[test]
    fn refusals_name_their_part() {
        assert_eq!(
            fields(json!({"type": "record_event", "event": "customer.exploded"})),
            [("trigger.event".to_owned(), "invalid_choice")]
        );
        assert_eq!(
            fields(json!({"type": "record_event", "event": "customer.updated", "field": "colour"})),
            [("trigger.field".to_owned(), "unknown_field")]
        );
        assert_eq!(
            fields(
                json!({"type": "record_event", "event": "customer.updated", "field": "lifecycle_stage", "to": "king"})
            ),
            [("trigger.to".to_owned(), "invalid_choice")]
        );
        assert_eq!(
            fields(
                json!({"type": "inactivity", "days": 0, "time_zone": "Mars/Olympus", "colour": 1})
            ),
            [
                ("trigger.colour".to_owned(), "unknown_field"),
                ("trigger.time_zone".to_owned(), "invalid_code"),
                ("trigger.days".to_owned(), "out_of_range"),
            ]
        );
        assert_eq!(
            fields(json!({"type": "callback_cadence", "days_by_grade": {"z": 3}})),
            [("trigger.days_by_grade.z".to_owned(), "invalid_choice")]
        );
    }

    #[test]
    fn a_field_trigger_fires_only_on_its_change() {
        let trigger = Trigger::parse(
            &json!({"type": "record_event", "event": "customer.updated", "field": "lifecycle_stage", "to": "customer"}),
            "trigger",
        )
        .unwrap();
        let moved = json!({"lifecycle_stage": {"before": "prospect", "after": "customer"}});
        let other = json!({"lifecycle_stage": {"before": "customer", "after": "loyal"}});
        let name = json!({"name": {"before": "A", "after": "B"}});
        assert!(trigger.fires_on(TriggerEvent::CustomerUpdated, &moved));
        assert!(!trigger.fires_on(TriggerEvent::CustomerUpdated, &other));
        assert!(!trigger.fires_on(TriggerEvent::CustomerUpdated, &name));
        assert!(!trigger.fires_on(TriggerEvent::CustomerCreated, &moved));
    }

    #[test]
    fn a_daily_trigger_is_due_from_its_local_time() {
        let trigger = Trigger::parse(
            &json!({"type": "birthday", "at": "09:00", "time_zone": "Asia/Shanghai"}),
            "trigger",
        )
        .unwrap();
        let at = |s: &str| DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc);
        let day = |s: &str| NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap();
        // 08:59 in Shanghai on the 8th: the 7th's scan is the latest due.
        assert_eq!(
            trigger.due(at("2026-12-08T00:59:00Z")),
            Some(Due::Scan {
                day: day("2026-12-07"),
                at: at("2026-12-07T01:00:00Z")
            })
        );
        assert_eq!(
            trigger.due(at("2026-12-08T01:00:00Z")),
            Some(Due::Scan {
                day: day("2026-12-08"),
                at: at("2026-12-08T01:00:00Z")
            })
        );
        let (from, to) = Relative::window(30, at("2026-12-08T01:00:00Z"));
        assert_eq!(to, at("2026-11-08T01:00:00Z"));
        assert_eq!(from, at("2026-11-01T01:00:00Z"));
        assert_eq!(
            Relative::close_dates(3, day("2026-12-08")).last(),
            Some(&day("2026-12-11"))
        );
    }

    #[test]
    fn audit_events_map_to_trigger_events() {
        let won = json!({"status": {"before": "open", "after": "won"}, "stage_id": {}});
        assert_eq!(
            events_of("opportunity", "update", &won),
            [
                TriggerEvent::OpportunityStageChanged,
                TriggerEvent::OpportunityWon
            ]
        );
        let accepted = json!({"status": {"before": "sent", "after": "accepted"}});
        assert_eq!(
            events_of("quote", "update", &accepted),
            [TriggerEvent::QuoteAccepted]
        );
        assert!(events_of("quote", "update", &json!({})).is_empty());
        assert_eq!(
            events_of("customer", "graded", &json!({})),
            [TriggerEvent::CustomerUpdated]
        );
    }
}

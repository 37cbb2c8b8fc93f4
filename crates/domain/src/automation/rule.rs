//! An automation rule: a name, whether it runs, a trigger, conditions and ordered actions.

use chrono::{DateTime, Utc};
use serde_json::Value;
use uuid::Uuid;

use super::action::{Action, MAX_ACTIONS};
use super::condition::Condition;
use super::trigger::Trigger;
use crate::name::Name;
use crate::validation::{Errors, Invalid, ValidationErrors, index};

pub type RuleName = Name<200>;
pub type RuleDescription = Name<2_000>;

#[derive(Debug, Clone, PartialEq)]
pub struct Rule {
    pub id: Uuid,
    pub name: RuleName,
    pub description: Option<RuleDescription>,
    pub enabled: bool,
    pub trigger: Trigger,
    /// `None`: the rule acts on every record its trigger fires on.
    pub conditions: Option<Condition>,
    pub actions: Vec<Action>,
    pub created_by: Option<Uuid>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub version: i32,
}

/// The parts of a rule as sent (a create, or a change merged over the rule as it is).
#[derive(Debug, Clone, Copy)]
pub struct RawRule<'a> {
    pub name: Option<&'a str>,
    pub description: Option<&'a str>,
    pub enabled: bool,
    pub trigger: Option<&'a Value>,
    pub conditions: Option<&'a Value>,
    pub actions: Option<&'a [Value]>,
}

/// The checked parts of a rule.
#[derive(Debug, Clone, PartialEq)]
pub struct RuleParts {
    pub name: RuleName,
    pub description: Option<RuleDescription>,
    pub enabled: bool,
    pub trigger: Trigger,
    pub conditions: Option<Condition>,
    pub actions: Vec<Action>,
}

impl RuleParts {
    /// Reads every part, the conditions and actions against the trigger's record.
    ///
    /// # Errors
    /// Every refused part with its path (`trigger.event`, `conditions.all[0].op`,
    /// `actions[1].assignee.user_id`).
    pub fn read(raw: &RawRule<'_>) -> Result<RuleParts, ValidationErrors> {
        let mut errors = Errors::default();
        let name = errors.required("name", raw.name, RuleName::parse);
        let description = errors.check_opt("description", raw.description, RuleDescription::parse);
        let trigger = match raw.trigger {
            Some(value) => Trigger::parse(value, "trigger")
                .map_err(|e| errors.extend(e))
                .ok(),
            None => {
                errors.add("trigger", Invalid::Required);
                None
            }
        };
        let record = trigger.as_ref().and_then(Trigger::record_type);
        let conditions = match (raw.conditions, &trigger) {
            (None | Some(Value::Null), _) => Some(None),
            (Some(_), Some(t)) if t.record_type().is_none() => {
                errors.add("conditions", Invalid::NotAllowed);
                None
            }
            (Some(value), Some(_)) => record.and_then(|record| {
                Condition::parse(value, record, "conditions")
                    .map_err(|e| errors.extend(e))
                    .ok()
                    .map(Some)
            }),
            (Some(_), None) => None,
        };
        let actions = read_actions(raw.actions, trigger.as_ref(), &mut errors);
        let (name, description, trigger, conditions, actions) = errors.finish_with((|| {
            Some((name?, description?, trigger?, conditions?, actions?))
        })())?;
        Ok(RuleParts {
            name,
            description,
            enabled: raw.enabled,
            trigger,
            conditions,
            actions,
        })
    }
}

fn read_actions(
    values: Option<&[Value]>,
    trigger: Option<&Trigger>,
    errors: &mut Errors,
) -> Option<Vec<Action>> {
    let values = match values {
        Some(values) if !values.is_empty() => values,
        _ => {
            errors.add("actions", Invalid::Required);
            return None;
        }
    };
    if values.len() > MAX_ACTIONS {
        errors.add("actions", Invalid::TooLong { max: MAX_ACTIONS });
        return None;
    }
    // Without a trigger the actions cannot be checked against its record.
    let trigger = trigger?;
    let record = trigger.record_type();
    let actions: Vec<Option<Action>> = values
        .iter()
        .enumerate()
        .map(|(i, value)| Action::read(value, record, &index("actions", i), errors))
        .collect();
    actions.into_iter().collect()
}

impl Rule {
    /// A new rule made of `parts` by `created_by`.
    pub fn new(parts: RuleParts, created_by: Option<Uuid>, now: DateTime<Utc>) -> Rule {
        Rule {
            id: Uuid::now_v7(),
            name: parts.name,
            description: parts.description,
            enabled: parts.enabled,
            trigger: parts.trigger,
            conditions: parts.conditions,
            actions: parts.actions,
            created_by,
            created_at: now,
            updated_at: now,
            version: 1,
        }
    }

    /// The rule with `parts` in place of its own.
    pub fn with(&self, parts: RuleParts) -> Rule {
        Rule {
            name: parts.name,
            description: parts.description,
            enabled: parts.enabled,
            trigger: parts.trigger,
            conditions: parts.conditions,
            actions: parts.actions,
            ..self.clone()
        }
    }

    /// Do the rule's conditions hold for `record` (its JSON, customer fields under
    /// `customer`)?
    pub fn applies_to(&self, record: &Value) -> bool {
        self.conditions.as_ref().is_none_or(|c| c.matches(record))
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn read(trigger: Value, conditions: Value, actions: Value) -> Result<RuleParts, Vec<String>> {
        let actions = actions.as_array().cloned().unwrap_or_default();
        RuleParts::read(&RawRule {
            name: Some("VIP call-back"),
            description: None,
            enabled: true,
            trigger: Some(&trigger),
            conditions: Some(&conditions),
            actions: Some(&actions),
        })
        .map_err(|e| e.into_errors().into_iter().map(|e| e.field).collect())
    }

    #[test]
    fn a_rule_checks_its_parts_against_its_trigger() {
        let parts = read(
            json!({"type": "record_event", "event": "ticket.created"}),
            json!({"field": "customer.grade", "op": "eq", "value": "vip"}),
            json!([{"type": "notify", "recipient": {"type": "owner_manager"}, "title": "Complaint from {{customer.name}}"}]),
        )
        .unwrap();
        assert!(parts.applies_to_json());
        let refused = read(
            json!({"type": "schedule", "cron": "0 9 1 * *", "time_zone": "Asia/Shanghai"}),
            json!({"field": "grade", "op": "eq", "value": "vip"}),
            json!([{"type": "add_tag", "tag": "x"}]),
        )
        .unwrap_err();
        assert_eq!(refused, ["conditions", "actions[0].type"]);
        let none = read(
            json!({"type": "record_event", "event": "customer.created"}),
            Value::Null,
            json!([]),
        )
        .unwrap_err();
        assert_eq!(none, ["actions"]);
    }

    impl RuleParts {
        fn applies_to_json(&self) -> bool {
            let rule = Rule::new(self.clone(), None, Utc::now());
            rule.applies_to(&json!({"customer": {"grade": "vip"}}))
                && !rule.applies_to(&json!({"customer": {"grade": "standard"}}))
        }
    }
}

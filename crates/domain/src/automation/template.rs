//! Texts of actions with merge fields (`Call {{name}} back`, `{{customer.name}}`): the fields
//! of the record the rule fires on, as its conditions name them, and `{{rule.name}}`.

use serde_json::Value;

use super::condition::{RecordType, field};
use crate::validation::Invalid;

/// The merge field every template may use.
const RULE_NAME: &str = "rule.name";

#[derive(Debug, Clone, PartialEq, Eq)]
enum Part {
    Text(String),
    Field(String),
}

/// A text with merge fields, kept as typed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Template {
    source: String,
    parts: Vec<Part>,
}

impl Template {
    /// Reads `input` (at most `max` characters) for a rule on `record` (`None`: a schedule,
    /// whose templates name only `rule.name`).
    ///
    /// # Errors
    /// `Required` when blank, `TooLong`, `UnknownField` for a merge field the record has not
    /// or an unclosed `{{`.
    pub fn parse(input: &str, max: usize, record: Option<RecordType>) -> Result<Template, Invalid> {
        if input.trim().is_empty() {
            return Err(Invalid::Required);
        }
        if input.chars().count() > max {
            return Err(Invalid::TooLong { max });
        }
        let known =
            |name: &str| name == RULE_NAME || record.is_some_and(|r| field(r, name).is_some());
        let mut parts = Vec::new();
        let mut rest = input;
        while let Some(open) = rest.find("{{") {
            if open > 0 {
                parts.push(Part::Text(rest[..open].to_owned()));
            }
            let after = &rest[open + 2..];
            let close = after.find("}}").ok_or(Invalid::UnknownField)?;
            let name = after[..close].trim();
            if !known(name) {
                return Err(Invalid::UnknownField);
            }
            parts.push(Part::Field(name.to_owned()));
            rest = &after[close + 2..];
        }
        if !rest.is_empty() {
            parts.push(Part::Text(rest.to_owned()));
        }
        Ok(Template {
            source: input.to_owned(),
            parts,
        })
    }

    pub fn as_str(&self) -> &str {
        &self.source
    }

    /// The text with each field's value from `record` (its JSON as the API answers it,
    /// customer fields under `customer`); an empty value is an empty text.
    pub fn render(&self, record: &Value, rule_name: &str) -> String {
        let mut out = String::new();
        for part in &self.parts {
            match part {
                Part::Text(text) => out.push_str(text),
                Part::Field(name) if name == RULE_NAME => out.push_str(rule_name),
                Part::Field(name) => {
                    let value = name
                        .split('.')
                        .try_fold(record, |value, key| value.get(key));
                    match value {
                        Some(Value::String(s)) => out.push_str(s),
                        Some(Value::Null) | None => {}
                        Some(Value::Array(items)) => {
                            let texts: Vec<String> = items
                                .iter()
                                .map(|v| v.as_str().map_or_else(|| v.to_string(), str::to_owned))
                                .collect();
                            out.push_str(&texts.join(", "));
                        }
                        Some(other) => out.push_str(&other.to_string()),
                    }
                }
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn fields_render_from_the_record() {
        let t = Template::parse(
            "Call {{ name }} ({{grade}}) for {{rule.name}}: {{tags}}",
            200,
            Some(RecordType::Customer),
        )
        .unwrap();
        let record = json!({"name": "深圳张氏科技", "grade": null, "tags": ["vip", "cn"]});
        assert_eq!(
            t.render(&record, "VIP call-back"),
            "Call 深圳张氏科技 () for VIP call-back: vip, cn"
        );
    }

    #[test]
    fn unknown_fields_are_refused() {
        let customer = Some(RecordType::Customer);
        assert_eq!(
            Template::parse("Hi {{colour}}", 50, customer),
            Err(Invalid::UnknownField)
        );
        assert_eq!(
            Template::parse("Hi {{name", 50, customer),
            Err(Invalid::UnknownField)
        );
        assert_eq!(
            Template::parse("Hi {{name}}", 50, None),
            Err(Invalid::UnknownField)
        );
        assert_eq!(Template::parse(" ", 50, customer), Err(Invalid::Required));
        assert!(Template::parse("Report {{rule.name}}", 50, None).is_ok());
    }
}

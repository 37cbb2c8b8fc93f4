//! The conditions of automation rules: "when a trigger fires on a record, if the conditions
//! hold, do the actions". A condition is a small expression over the record's fields, with
//! the list filters' operators, parsed and type-checked against the record's fields once,
//! when the rule is saved, so that a running rule never meets a field or a value it cannot
//! read.
//!
//! On the wire, stored and answered as the same JSON:
//!
//! ```json
//! {"all": [
//!   {"field": "customer.grade", "op": "eq", "value": "vip"},
//!   {"any": [{"field": "priority", "op": "in", "value": ["high", "urgent"]},
//!            {"not": {"field": "tags", "op": "contains", "value": "calm"}}]},
//!   {"field": "assignee_id", "op": "is_empty"}
//! ]}
//! ```
//!
//! A condition is evaluated on the record's JSON answer ([`Condition::matches`]); a record that
//! belongs to a customer carries the customer's JSON answer under its `customer` key.
//!
//! # Comparing
//!
//! Text compares without regard to case (`contains` finds a substring); codes exactly (their
//! wire names); ids as UUIDs; times as instants (RFC 3339, any offset); days as days; amounts
//! as exact decimals (a value is a decimal string, as the API writes amounts: `"1000.50"`);
//! numbers as JSON numbers. A list of tags `contains` one tag, or is `in` a list when it holds
//! any of them, without regard to case.
//!
//! # Missing and null values
//!
//! A field that is absent, `null`, or holds a value that cannot be read as its kind (a
//! malformed time) has no value, and then:
//! - `is_empty` holds (as it does for `""` and `[]`), `is_not_empty` does not;
//! - `eq`, `in`, `contains` and the comparisons (`gt`, `gte`, `lt`, `lte`) do not hold;
//! - `ne` and `not_in` hold: they are the negations of `eq` and `in`, because a user who writes
//!   "grade is not vip" means the records without a grade too;
//! - `not` is plain negation: `not gt 5` holds for a record without the value.

mod eval;
mod parse;
mod schema;

use chrono::{DateTime, NaiveDate, Utc};
use rust_decimal::Decimal;
use serde_json::{Map, Value, json};
use uuid::Uuid;

use crate::validation::ValidationErrors;

pub use schema::{Field, FieldKind, RecordType, field, fields};

crate::string_enum! {
    /// What a test checks of a field's value. Which ones a field takes depends on its kind
    /// ([`FieldKind::ops`]).
    pub enum Op {
        /// Equal (text without regard to case, times as instants, amounts as exact decimals).
        Eq => "eq",
        /// Not equal, or no value.
        Ne => "ne",
        /// Equal to one of a list; for tags, holding any of them.
        In => "in",
        /// None of a list, or no value.
        NotIn => "not_in",
        Gt => "gt",
        Gte => "gte",
        Lt => "lt",
        Lte => "lte",
        /// Text: holds the value as a substring, without regard to case. Tags: holds that tag.
        Contains => "contains",
        /// No value: absent, `null`, `""` or `[]`.
        IsEmpty => "is_empty",
        IsNotEmpty => "is_not_empty",
    }
}

impl Op {
    /// Whether the operator compares with a `value` (`is_empty` and `is_not_empty` do not).
    pub fn takes_value(self) -> bool {
        !matches!(self, Op::IsEmpty | Op::IsNotEmpty)
    }

    /// Whether the `value` is a list (`in`, `not_in`).
    pub fn takes_list(self) -> bool {
        matches!(self, Op::In | Op::NotIn)
    }
}

/// The deepest a condition nests: the root is at depth 1, a test inside `all` at depth 2.
pub const MAX_DEPTH: usize = 5;
/// The most tests one condition holds.
pub const MAX_TESTS: usize = 50;
/// The most values of one `in` or `not_in` list.
pub const MAX_LIST: usize = 100;
/// The longest text value, in characters.
pub const MAX_TEXT: usize = 200;

/// A condition on one record: a test of a field, or tests combined.
#[derive(Debug, Clone, PartialEq)]
pub enum Condition {
    /// Every one holds (never empty).
    All(Vec<Condition>),
    /// At least one holds (never empty).
    Any(Vec<Condition>),
    Not(Box<Condition>),
    Test(Test),
}

/// A test of one field: `{"field": "grade", "op": "eq", "value": "vip"}`.
#[derive(Debug, Clone, PartialEq)]
pub struct Test {
    field: Field,
    op: Op,
    operand: Operand,
    /// The value as it was written, answered back as it came: a time keeps its offset, an
    /// amount its trailing zeros, so what a user saved is what the user reads.
    written: Option<Value>,
}

/// What a test compares with, read as its field's kind.
#[derive(Debug, Clone, PartialEq)]
enum Operand {
    /// `is_empty`, `is_not_empty`.
    None,
    One(Scalar),
    /// `in`, `not_in`: never empty.
    List(Vec<Scalar>),
}

/// One value of a field's kind, as tests compare them.
#[derive(Debug, Clone, PartialEq)]
enum Scalar {
    /// Text and tags lower-cased (they compare without regard to case); codes as they are.
    Text(String),
    Id(Uuid),
    Number(f64),
    Decimal(Decimal),
    Time(DateTime<Utc>),
    Date(NaiveDate),
    Bool(bool),
}

impl Condition {
    /// Reads a condition written as JSON for a rule on `record`, every field and value checked
    /// against that record's [`fields`].
    ///
    /// # Errors
    /// Every problem at once, each at its path under `at` (`conditions.all[1].op`):
    /// `invalid_type` for a node that is not an object or a value of the wrong JSON type;
    /// `unknown_field` for a field the record does not have and for a key a node does not
    /// take; `invalid_choice` for an unknown operator, one the field's kind does not take
    /// (listing those it takes) and a code outside its list; `required` for an empty `all`,
    /// `any` or `in` list and a missing value; `not_allowed` for a value given to `is_empty`
    /// or `is_not_empty`; `invalid_uuid`, `invalid_date` (times and days), `invalid_amount`,
    /// `invalid_tag` for values that do not read as their kind; `too_long` for a text value
    /// past [`MAX_TEXT`] characters, a list past [`MAX_LIST`] values, a node deeper than
    /// [`MAX_DEPTH`] (at that node) and the test past [`MAX_TESTS`] (at that test).
    pub fn parse(
        json: &Value,
        record: RecordType,
        at: &str,
    ) -> Result<Condition, ValidationErrors> {
        parse::parse(json, record, at)
    }

    /// The condition as JSON, as [`Condition::parse`] reads it back.
    pub fn to_json(&self) -> Value {
        match self {
            Condition::All(items) => {
                json!({ "all": items.iter().map(Condition::to_json).collect::<Vec<_>>() })
            }
            Condition::Any(items) => {
                json!({ "any": items.iter().map(Condition::to_json).collect::<Vec<_>>() })
            }
            Condition::Not(inner) => json!({ "not": inner.to_json() }),
            Condition::Test(test) => test.to_json(),
        }
    }

    /// Whether the condition holds for `record`, the record's JSON answer (with its customer's
    /// under `customer` for a record that belongs to one). Missing values: see the module's
    /// documentation.
    pub fn matches(&self, record: &Value) -> bool {
        match self {
            Condition::All(items) => items.iter().all(|c| c.matches(record)),
            Condition::Any(items) => items.iter().any(|c| c.matches(record)),
            Condition::Not(inner) => !inner.matches(record),
            Condition::Test(test) => test.matches(record),
        }
    }

    /// The names of the fields the condition tests, each once, in the order they first appear
    /// (for the rule runner to know what it must load: a `customer.` field needs the customer).
    pub fn fields(&self) -> Vec<&'static str> {
        let mut names = Vec::new();
        self.collect_fields(&mut names);
        names
    }

    fn collect_fields(&self, names: &mut Vec<&'static str>) {
        match self {
            Condition::All(items) | Condition::Any(items) => {
                items.iter().for_each(|c| c.collect_fields(names));
            }
            Condition::Not(inner) => inner.collect_fields(names),
            Condition::Test(test) => {
                if !names.contains(&test.field.name) {
                    names.push(test.field.name);
                }
            }
        }
    }
}

impl Test {
    /// The field tested.
    pub fn field(&self) -> Field {
        self.field
    }

    pub fn op(&self) -> Op {
        self.op
    }

    /// The value as written, if the operator takes one.
    pub fn value(&self) -> Option<&Value> {
        self.written.as_ref()
    }

    fn to_json(&self) -> Value {
        let mut node = Map::new();
        node.insert("field".to_owned(), Value::from(self.field.name));
        node.insert("op".to_owned(), Value::from(self.op.as_str()));
        if let Some(value) = &self.written {
            node.insert("value".to_owned(), value.clone());
        }
        Value::Object(node)
    }
}

#[cfg(test)]
mod tests;

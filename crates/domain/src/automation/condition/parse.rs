//! Reading a condition's JSON: every node, field, operator and value checked against the
//! record's fields, every problem recorded at its path before answering.

use chrono::{DateTime, Utc};
use serde_json::{Map, Value};
use uuid::Uuid;

use crate::money::Money;
use crate::tag::Tag;
use crate::validation::{Errors, Invalid, ValidationErrors, index, parse_date, path};

use super::{
    Condition, Field, FieldKind, MAX_DEPTH, MAX_LIST, MAX_TESTS, MAX_TEXT, Op, Operand, RecordType,
    Scalar, Test, field,
};

pub(super) fn parse(
    json: &Value,
    record: RecordType,
    at: &str,
) -> Result<Condition, ValidationErrors> {
    let mut parser = Parser {
        record,
        errors: Errors::default(),
        tests: 0,
    };
    let condition = parser.node(json, at, 1);
    parser.errors.finish_with(condition)
}

/// One reading: the record's fields, the errors so far, the tests met so far.
struct Parser {
    record: RecordType,
    errors: Errors,
    tests: usize,
}

/// An operator as read.
#[derive(Debug, Clone, Copy)]
enum ReadOp {
    /// Known, and taken by the field's kind.
    Fits(Op),
    /// Known, but refused by the field's kind, or the field is unknown: its value is still
    /// checked for presence.
    Known(Op),
    /// Absent, not a string or not an operator (recorded).
    Unreadable,
}

/// The keys of a combining node; any other object is a test.
const GROUPS: [&str; 3] = ["all", "any", "not"];
const TEST_KEYS: &[&str] = &["field", "op", "value"];

impl Parser {
    /// Reads the node at `at`, `depth` deep. `None` when an error was recorded.
    fn node(&mut self, json: &Value, at: &str, depth: usize) -> Option<Condition> {
        if depth > MAX_DEPTH {
            // Nothing below is read: one error for the whole branch is enough.
            self.errors.add(at, Invalid::TooLong { max: MAX_DEPTH });
            return None;
        }
        let Some(object) = json.as_object() else {
            self.errors.add(at, Invalid::InvalidType);
            return None;
        };
        match GROUPS.into_iter().find(|key| object.contains_key(*key)) {
            Some(key) => self.group(object, key, at, depth),
            None => self.test(object, at).map(Condition::Test),
        }
    }

    /// `{"all": […]}`, `{"any": […]}` or `{"not": …}`.
    fn group(
        &mut self,
        object: &Map<String, Value>,
        key: &'static str,
        at: &str,
        depth: usize,
    ) -> Option<Condition> {
        self.unknown_keys(object, &[key], at);
        let inner = object.get(key)?;
        let inner_at = path(at, key);
        // A stray key recorded above fails the whole reading; the node itself may read fine.
        match key {
            "not" => self
                .node(inner, &inner_at, depth + 1)
                .map(|inner| Condition::Not(Box::new(inner))),
            "all" => self.items(inner, &inner_at, depth).map(Condition::All),
            _ => self.items(inner, &inner_at, depth).map(Condition::Any),
        }
    }

    /// The items of `all` or `any`: a non-empty array, each item read even after a bad one.
    fn items(&mut self, json: &Value, at: &str, depth: usize) -> Option<Vec<Condition>> {
        let Some(items) = json.as_array() else {
            self.errors.add(at, Invalid::InvalidType);
            return None;
        };
        if items.is_empty() {
            self.errors.add(at, Invalid::Required);
            return None;
        }
        let read: Vec<Option<Condition>> = items
            .iter()
            .enumerate()
            .map(|(i, item)| self.node(item, &index(at, i), depth + 1))
            .collect();
        read.into_iter().collect()
    }

    fn unknown_keys(&mut self, object: &Map<String, Value>, known: &[&str], at: &str) {
        for key in object.keys().filter(|k| !known.contains(&k.as_str())) {
            self.errors.add(path(at, key), Invalid::UnknownField);
        }
    }

    /// `{"field": …, "op": …, "value": …}`.
    fn test(&mut self, object: &Map<String, Value>, at: &str) -> Option<Test> {
        self.unknown_keys(object, TEST_KEYS, at);
        self.count_test(at);
        let field = self.field(object.get("field"), &path(at, "field"));
        let op = self.op(object.get("op"), field, &path(at, "op"));
        let written = object.get("value");
        let operand = self.operand(field, op, written, &path(at, "value"));
        let ReadOp::Fits(op) = op else {
            return None;
        };
        Some(Test {
            field: field?,
            op,
            operand: operand?,
            written: written.cloned(),
        })
    }

    /// Records the test past [`MAX_TESTS`], once.
    fn count_test(&mut self, at: &str) {
        self.tests += 1;
        if self.tests == MAX_TESTS + 1 {
            self.errors.add(at, Invalid::TooLong { max: MAX_TESTS });
        }
    }

    fn field(&mut self, json: Option<&Value>, at: &str) -> Option<Field> {
        let name = self.string(json, at)?;
        let found = field(self.record, name);
        if found.is_none() {
            self.errors.add(at, Invalid::UnknownField);
        }
        found
    }

    /// The operator, checked against the field's kind when the field is known.
    fn op(&mut self, json: Option<&Value>, field: Option<Field>, at: &str) -> ReadOp {
        let Some(name) = self.string(json, at) else {
            return ReadOp::Unreadable;
        };
        let Some(op) = self.errors.check(at, Op::parse(name)) else {
            return ReadOp::Unreadable;
        };
        match field {
            Some(field) if field.kind.takes(op) => ReadOp::Fits(op),
            Some(field) => {
                let allowed = field.kind.ops();
                self.errors.add(at, Invalid::NotOneOf { allowed });
                ReadOp::Known(op)
            }
            // The unknown field is recorded; the operator alone is fine.
            None => ReadOp::Known(op),
        }
    }

    /// The value: present exactly when the operator takes one (checked whenever the operator
    /// is known), and read as the field's kind when the operator fits the field.
    fn operand(
        &mut self,
        field: Option<Field>,
        op: ReadOp,
        json: Option<&Value>,
        at: &str,
    ) -> Option<Operand> {
        let known = match op {
            ReadOp::Fits(op) | ReadOp::Known(op) => op,
            ReadOp::Unreadable => return None,
        };
        let json = match (known.takes_value(), json) {
            (false, None) => return Some(Operand::None),
            (false, Some(_)) => {
                self.errors.add(at, Invalid::NotAllowed);
                return None;
            }
            (true, None | Some(Value::Null)) => {
                self.errors.add(at, Invalid::Required);
                return None;
            }
            (true, Some(json)) => json,
        };
        let (Some(field), ReadOp::Fits(op)) = (field, op) else {
            return None;
        };
        if op.takes_list() {
            self.list(field.kind, json, at).map(Operand::List)
        } else {
            self.errors
                .check(at, scalar(field.kind, json))
                .map(Operand::One)
        }
    }

    /// The values of `in` and `not_in`: 1 to [`MAX_LIST`], each checked.
    fn list(&mut self, kind: FieldKind, json: &Value, at: &str) -> Option<Vec<Scalar>> {
        let Some(items) = json.as_array() else {
            self.errors.add(at, Invalid::InvalidType);
            return None;
        };
        if items.is_empty() {
            self.errors.add(at, Invalid::Required);
            return None;
        }
        if items.len() > MAX_LIST {
            self.errors.add(at, Invalid::TooLong { max: MAX_LIST });
            return None;
        }
        let read: Vec<Option<Scalar>> = items
            .iter()
            .enumerate()
            .map(|(i, item)| self.errors.check(index(at, i), scalar(kind, item)))
            .collect();
        read.into_iter().collect()
    }

    /// A string at `at`: `Required` when absent or `null`, `InvalidType` when not a string.
    fn string<'a>(&mut self, json: Option<&'a Value>, at: &str) -> Option<&'a str> {
        match json {
            None | Some(Value::Null) => {
                self.errors.add(at, Invalid::Required);
                None
            }
            Some(Value::String(s)) => Some(s),
            Some(_) => {
                self.errors.add(at, Invalid::InvalidType);
                None
            }
        }
    }
}

/// One value of `kind`.
fn scalar(kind: FieldKind, json: &Value) -> Result<Scalar, Invalid> {
    match kind {
        FieldKind::Number => json
            .as_f64()
            .map(Scalar::Number)
            .ok_or(Invalid::InvalidType),
        FieldKind::Bool => json.as_bool().map(Scalar::Bool).ok_or(Invalid::InvalidType),
        _ => text_scalar(kind, json.as_str().ok_or(Invalid::InvalidType)?),
    }
}

/// One value of a kind written as a JSON string.
fn text_scalar(kind: FieldKind, text: &str) -> Result<Scalar, Invalid> {
    match kind {
        FieldKind::Text => free_text(text),
        FieldKind::Code(allowed) => code(allowed, text),
        FieldKind::Id => Uuid::parse_str(text)
            .map(Scalar::Id)
            .map_err(|_| Invalid::InvalidUuid),
        FieldKind::Decimal => Money::parse_amount(text).map(Scalar::Decimal),
        FieldKind::Time => DateTime::parse_from_rfc3339(text)
            .map(|t| Scalar::Time(t.with_timezone(&Utc)))
            .map_err(|_| Invalid::InvalidDate),
        FieldKind::Date => parse_date(text).map(Scalar::Date),
        FieldKind::Tags => Tag::parse(text).map(|t| Scalar::Text(t.into_string())),
        FieldKind::Number | FieldKind::Bool => Err(Invalid::InvalidType),
    }
}

/// Free text: not blank, at most [`MAX_TEXT`] characters; kept lower-cased, as it compares.
fn free_text(text: &str) -> Result<Scalar, Invalid> {
    if text.trim().is_empty() {
        return Err(Invalid::Required);
    }
    if text.chars().count() > MAX_TEXT {
        return Err(Invalid::TooLong { max: MAX_TEXT });
    }
    Ok(Scalar::Text(text.to_lowercase()))
}

/// A code: exactly one of `allowed`.
fn code(allowed: &'static [&'static str], text: &str) -> Result<Scalar, Invalid> {
    if allowed.contains(&text) {
        Ok(Scalar::Text(text.to_owned()))
    } else if text.trim().is_empty() {
        Err(Invalid::Required)
    } else {
        Err(Invalid::NotOneOf { allowed })
    }
}

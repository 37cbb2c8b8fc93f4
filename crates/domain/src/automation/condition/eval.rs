//! Evaluating a test on a record's JSON answer. The semantics of missing values are the
//! module's (see `condition.rs`): no value fails every test but `is_empty`, `ne` and `not_in`.

use std::cmp::Ordering;

use chrono::{DateTime, NaiveDate, Utc};
use rust_decimal::Decimal;
use serde_json::Value;
use uuid::Uuid;

use super::{FieldKind, Op, Operand, Scalar, Test};

impl Test {
    /// Whether the test holds for `record`.
    pub fn matches(&self, record: &Value) -> bool {
        let found = lookup(record, self.field.name);
        match self.op {
            Op::IsEmpty => is_empty(found),
            Op::IsNotEmpty => !is_empty(found),
            Op::Ne => !self.holds(Op::Eq, found),
            Op::NotIn => !self.holds(Op::In, found),
            op => self.holds(op, found),
        }
    }

    /// Whether the positive `op` (not a negation, not an emptiness test) holds of `found`.
    fn holds(&self, op: Op, found: Option<&Value>) -> bool {
        let Some(found) = found else {
            return false;
        };
        if self.field.kind == FieldKind::Tags {
            return tags_hold(op, &self.operand, found);
        }
        let Some(actual) = read(self.field.kind, found) else {
            return false;
        };
        match (op, &self.operand) {
            (Op::Contains, Operand::One(Scalar::Text(needle))) => {
                matches!(&actual, Scalar::Text(text) if text.contains(needle.as_str()))
            }
            (Op::In, Operand::List(values)) => values.iter().any(|v| equal(&actual, v)),
            (op, Operand::One(value)) => ordered(op, compare(&actual, value)),
            _ => false,
        }
    }
}

/// The value at a dotted path (`amount.amount`, `customer.grade`); `None` when any step is
/// missing or not an object.
fn lookup<'a>(record: &'a Value, name: &str) -> Option<&'a Value> {
    name.split('.')
        .try_fold(record, |value, key| value.get(key))
}

/// No value: absent, `null`, `""` or `[]`.
fn is_empty(found: Option<&Value>) -> bool {
    match found {
        None | Some(Value::Null) => true,
        Some(Value::String(s)) => s.is_empty(),
        Some(Value::Array(items)) => items.is_empty(),
        Some(_) => false,
    }
}

/// Whether `op` holds for the order of the record's value to the test's.
fn ordered(op: Op, order: Option<Ordering>) -> bool {
    let Some(order) = order else {
        return false;
    };
    match op {
        Op::Eq => order.is_eq(),
        Op::Gt => order.is_gt(),
        Op::Gte => order.is_ge(),
        Op::Lt => order.is_lt(),
        Op::Lte => order.is_le(),
        _ => false,
    }
}

fn equal(a: &Scalar, b: &Scalar) -> bool {
    compare(a, b).is_some_and(Ordering::is_eq)
}

/// The order of two values of one kind; `None` across kinds (which parsing rules out).
fn compare(a: &Scalar, b: &Scalar) -> Option<Ordering> {
    match (a, b) {
        (Scalar::Text(a), Scalar::Text(b)) => Some(a.cmp(b)),
        (Scalar::Id(a), Scalar::Id(b)) => Some(a.cmp(b)),
        (Scalar::Number(a), Scalar::Number(b)) => a.partial_cmp(b),
        (Scalar::Decimal(a), Scalar::Decimal(b)) => Some(a.cmp(b)),
        (Scalar::Time(a), Scalar::Time(b)) => Some(a.cmp(b)),
        (Scalar::Date(a), Scalar::Date(b)) => Some(a.cmp(b)),
        (Scalar::Bool(a), Scalar::Bool(b)) => Some(a.cmp(b)),
        _ => None,
    }
}

/// The record's value read as `kind`; `None` when it cannot be, which counts as no value.
/// Text is lower-cased (it compares without regard to case), codes are kept as they are.
fn read(kind: FieldKind, value: &Value) -> Option<Scalar> {
    match kind {
        FieldKind::Text | FieldKind::Tags => value.as_str().map(|s| Scalar::Text(s.to_lowercase())),
        FieldKind::Code(_) => value.as_str().map(|s| Scalar::Text(s.to_owned())),
        FieldKind::Id => value
            .as_str()
            .and_then(|s| Uuid::parse_str(s).ok())
            .map(Scalar::Id),
        FieldKind::Number => value.as_f64().map(Scalar::Number),
        FieldKind::Decimal => decimal(value).map(Scalar::Decimal),
        FieldKind::Time => value.as_str().and_then(time).map(Scalar::Time),
        FieldKind::Date => value.as_str().and_then(date).map(Scalar::Date),
        FieldKind::Bool => value.as_bool().map(Scalar::Bool),
    }
}

/// An amount as answered (a decimal string), or a JSON number written without an exponent.
fn decimal(value: &Value) -> Option<Decimal> {
    match value {
        Value::String(s) => s.trim().parse().ok(),
        Value::Number(n) => n.to_string().parse().ok(),
        _ => None,
    }
}

fn time(text: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(text)
        .ok()
        .map(|t| t.with_timezone(&Utc))
}

fn date(text: &str) -> Option<NaiveDate> {
    NaiveDate::parse_from_str(text, "%Y-%m-%d").ok()
}

/// `contains`: the record holds that tag; `in`: it holds any of them. Tags compare without
/// regard to case; a value that is not a list of strings is no value.
fn tags_hold(op: Op, operand: &Operand, found: &Value) -> bool {
    let Some(items) = found.as_array() else {
        return false;
    };
    let has = |wanted: &Scalar| {
        items
            .iter()
            .filter_map(|item| read(FieldKind::Tags, item))
            .any(|tag| tag == *wanted)
    };
    match (op, operand) {
        (Op::Contains, Operand::One(tag)) => has(tag),
        (Op::In, Operand::List(tags)) => tags.iter().any(has),
        _ => false,
    }
}

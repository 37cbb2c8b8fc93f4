//! The condition language's tests: the field tables, parsing (every error at its path),
//! evaluation (a truth table per kind and operator, missing values), and the round trip.

mod eval;
mod parse;
mod round_trip;
mod schema;

use serde_json::Value;

use super::{Condition, RecordType};
use crate::validation::Invalid;

/// Reads a condition that must be valid.
fn condition(record: RecordType, json: &Value) -> Condition {
    Condition::parse(json, record, "conditions").unwrap()
}

/// The errors of a condition that must be refused, as (path, error).
fn refused(record: RecordType, json: &Value) -> Vec<(String, Invalid)> {
    Condition::parse(json, record, "conditions")
        .unwrap_err()
        .into_errors()
        .into_iter()
        .map(|e| (e.field, e.invalid))
        .collect()
}

/// One refused path.
fn at(path: &str, invalid: Invalid) -> (String, Invalid) {
    (path.to_owned(), invalid)
}

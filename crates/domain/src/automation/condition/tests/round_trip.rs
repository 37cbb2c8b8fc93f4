//! Generated conditions read back as themselves: what a rule stores is what it answers, and
//! what it answers is what it reads again.

use proptest::prelude::*;
use serde_json::{Value, json};

use crate::automation::condition::{
    Condition, Field, FieldKind, MAX_TESTS, Op, RecordType, fields,
};

/// The opportunity's table has every kind of field, its customer's included.
const RECORD: RecordType = RecordType::Opportunity;

fn value_of(kind: FieldKind) -> BoxedStrategy<Value> {
    match kind {
        FieldKind::Text => "[A-Za-z0-9展会][A-Za-z0-9 展会]{0,11}"
            .prop_map(Value::from)
            .boxed(),
        FieldKind::Code(values) => prop::sample::select(values).prop_map(Value::from).boxed(),
        FieldKind::Id => any::<u128>()
            .prop_map(|n| Value::from(uuid::Uuid::from_u128(n).to_string()))
            .boxed(),
        FieldKind::Number => prop_oneof![
            any::<i32>().prop_map(Value::from),
            (-1.0e6..1.0e6f64).prop_map(Value::from),
        ]
        .boxed(),
        FieldKind::Decimal => "[0-9]{1,9}(\\.[0-9]{1,4})?".prop_map(Value::from).boxed(),
        FieldKind::Time => (
            2000..2100i32,
            1..=12u32,
            1..=28u32,
            0..24u32,
            prop::sample::select(&["Z", "+08:00", "-05:00", ".250Z"][..]),
        )
            .prop_map(|(y, m, d, h, zone)| {
                Value::from(format!("{y:04}-{m:02}-{d:02}T{h:02}:30:00{zone}"))
            })
            .boxed(),
        FieldKind::Date => (2000..2100i32, 1..=12u32, 1..=28u32)
            .prop_map(|(y, m, d)| Value::from(format!("{y:04}-{m:02}-{d:02}")))
            .boxed(),
        FieldKind::Bool => any::<bool>().prop_map(Value::from).boxed(),
        FieldKind::Tags => "[a-z0-9:_-]{1,12}".prop_map(Value::from).boxed(),
    }
}

/// A test of `field`, with one of the operators its kind takes and a value of its kind.
fn test_of(field: Field) -> BoxedStrategy<Value> {
    let name = field.name;
    prop::sample::select(field.kind.ops())
        .prop_flat_map(move |op| {
            let op = Op::parse(op).unwrap_or(Op::IsEmpty);
            let value = if op.takes_list() {
                prop::collection::vec(value_of(field.kind), 1..4)
                    .prop_map(Value::from)
                    .prop_map(Some)
                    .boxed()
            } else if op.takes_value() {
                value_of(field.kind).prop_map(Some).boxed()
            } else {
                Just(None).boxed()
            };
            value.prop_map(move |value| {
                let mut node = json!({"field": name, "op": op.as_str()});
                if let Some(value) = value {
                    node["value"] = value;
                }
                node
            })
        })
        .boxed()
}

/// Conditions up to five deep, `all`, `any` and `not` around tests of any field.
fn condition() -> impl Strategy<Value = Value> {
    let leaf = prop::sample::select(fields(RECORD)).prop_flat_map(test_of);
    leaf.prop_recursive(4, 40, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 1..4).prop_map(|items| json!({ "all": items })),
            prop::collection::vec(inner.clone(), 1..4).prop_map(|items| json!({ "any": items })),
            inner.prop_map(|item| json!({ "not": item })),
        ]
    })
}

fn tests_in(json: &Value) -> usize {
    match json {
        Value::Object(node) if node.contains_key("field") => 1,
        Value::Object(node) => node.values().map(tests_in).sum(),
        Value::Array(items) => items.iter().map(tests_in).sum(),
        _ => 0,
    }
}

proptest! {
    #[test]
    fn conditions_round_trip(json in condition()) {
        prop_assume!(tests_in(&json) <= MAX_TESTS);
        let parsed = Condition::parse(&json, RECORD, "conditions").unwrap();
        let answered = parsed.to_json();
        prop_assert_eq!(&answered, &json);
        prop_assert_eq!(Condition::parse(&answered, RECORD, "conditions").unwrap(), parsed.clone());
        // Evaluating never panics, and `not` is negation, on any record.
        let record = json!({"status": "open", "amount": {"amount": "5"}, "customer": {}});
        let negated = Condition::Not(Box::new(parsed.clone()));
        prop_assert_eq!(negated.matches(&record), !parsed.matches(&record));
    }

    #[test]
    fn ne_and_not_in_are_the_negations_of_eq_and_in(
        found in prop_oneof![
            Just(Value::Null),
            any::<i8>().prop_map(Value::from),
            "[a-c]{0,2}".prop_map(Value::from),
        ],
        wanted in any::<i8>(),
    ) {
        let record = json!({"probability": found.clone(), "title": found});
        let check = |field: &str, value: Value| {
            let eq = json!({"field": field, "op": "eq", "value": value.clone()});
            let ne = json!({"field": field, "op": "ne", "value": value});
            let eq = Condition::parse(&eq, RECORD, "").unwrap().matches(&record);
            let ne = Condition::parse(&ne, RECORD, "").unwrap().matches(&record);
            eq != ne
        };
        prop_assert!(check("probability", Value::from(wanted)));
        let text = format!("a{}", wanted.rem_euclid(3));
        prop_assert!(check("title", Value::from(text)));
        let list = json!([wanted.to_string()]);
        let is_in = json!({"field": "title", "op": "in", "value": list.clone()});
        let not_in = json!({"field": "title", "op": "not_in", "value": list});
        let is_in = Condition::parse(&is_in, RECORD, "").unwrap().matches(&record);
        let not_in = Condition::parse(&not_in, RECORD, "").unwrap().matches(&record);
        prop_assert_ne!(is_in, not_in);
    }
}

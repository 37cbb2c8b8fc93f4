use serde_json::{Value, json};

use super::condition;
use crate::automation::condition::RecordType;

const OPPORTUNITY: RecordType = RecordType::Opportunity;

/// Whether `{"field": field, "op": op, "value": value}` (no value for `Null`) holds for
/// `record` on an opportunity.
fn holds(field: &str, op: &str, value: Value, record: &Value) -> bool {
    let mut node = json!({"field": field, "op": op});
    if !value.is_null() {
        node["value"] = value;
    }
    condition(OPPORTUNITY, &node).matches(record)
}

/// Checks one test against a record per row: `(value in the record, expected)`.
fn table(field: &str, op: &str, value: Value, rows: &[(Value, bool)]) {
    for (found, expected) in rows {
        let record = record_with(field, found.clone());
        assert_eq!(
            holds(field, op, value.clone(), &record),
            *expected,
            "{field} {op} {value} on {found}"
        );
    }
}

/// A record holding `value` at the dotted path `field`.
fn record_with(field: &str, value: Value) -> Value {
    field
        .rsplit('.')
        .fold(value, |inner, key| json!({ key: inner }))
}

const NO: Value = Value::Null;

#[test]
fn text_compares_without_case() {
    let rows = |a: bool, b: bool, c: bool| {
        vec![
            (json!("Trade Expo 2026"), a),
            (json!("trade expo 2026"), b),
            (json!("Other"), c),
        ]
    };
    table(
        "title",
        "eq",
        json!("TRADE EXPO 2026"),
        &rows(true, true, false),
    );
    table(
        "title",
        "ne",
        json!("trade expo 2026"),
        &rows(false, false, true),
    );
    table(
        "title",
        "in",
        json!(["x", "Trade Expo 2026"]),
        &rows(true, true, false),
    );
    table(
        "title",
        "not_in",
        json!(["x", "trade expo 2026"]),
        &rows(false, false, true),
    );
    table("title", "contains", json!("EXPO"), &rows(true, true, false));
    table(
        "title",
        "contains",
        json!("expo 2027"),
        &rows(false, false, false),
    );
}

#[test]
fn text_contains_works_beyond_ascii() {
    table(
        "title",
        "contains",
        json!("展会"),
        &[(json!("2026 上海展会"), true), (json!("上海"), false)],
    );
}

#[test]
fn codes_compare_exactly() {
    table(
        "status",
        "eq",
        json!("won"),
        &[
            (json!("won"), true),
            (json!("WON"), false),
            (json!("lost"), false),
        ],
    );
    table(
        "status",
        "in",
        json!(["won", "lost"]),
        &[(json!("lost"), true), (json!("open"), false)],
    );
    table(
        "status",
        "not_in",
        json!(["won", "lost"]),
        &[(json!("lost"), false), (json!("open"), true)],
    );
}

#[test]
fn ids_compare_as_uuids() {
    let id = "5a1f0e6c-2b8a-4c39-9c1e-1d6a3f2b9e10";
    let rows = [
        (json!(id), true),
        (json!(id.to_uppercase()), true),
        (json!("3b0d1c1a-0000-4000-8000-000000000000"), false),
        (json!("not an id"), false),
    ];
    table("owner_id", "eq", json!(id), &rows);
    table(
        "owner_id",
        "ne",
        json!(id.to_uppercase()),
        &rows.clone().map(|(v, expected)| (v, !expected)),
    );
}

#[test]
fn numbers_compare_as_numbers() {
    let rows = |lt: bool, eq: bool, gt: bool| {
        [
            (json!(40), lt),
            (json!(50), eq),
            (json!(50.0), eq),
            (json!(60), gt),
        ]
    };
    table("probability", "eq", json!(50), &rows(false, true, false));
    table("probability", "ne", json!(50), &rows(true, false, true));
    table("probability", "gt", json!(50), &rows(false, false, true));
    table("probability", "gte", json!(50), &rows(false, true, true));
    table("probability", "lt", json!(50), &rows(true, false, false));
    table("probability", "lte", json!(50.0), &rows(true, true, false));
}

#[test]
fn amounts_compare_as_exact_decimals() {
    let rows = [
        (json!("1000.49"), false),
        (json!("1000.50"), true),
        (json!("1000.5"), true),
        (json!("1000.51"), true),
        (json!("99999999999999.99"), true),
        (json!(1000.5), true),
    ];
    table("amount.amount", "gte", json!("1000.5"), &rows);
    table(
        "amount.amount",
        "eq",
        json!("0.3"),
        &[
            (json!("0.30"), true),
            (json!("0.299999999999999999"), false),
        ],
    );
    table(
        "amount.amount",
        "lt",
        json!("0.3"),
        &[(json!("0.299999999999999999"), true), (json!("0.3"), false)],
    );
}

#[test]
fn currencies_are_codes() {
    table(
        "amount.currency",
        "in",
        json!(["CNY", "HKD"]),
        &[(json!("CNY"), true), (json!("USD"), false)],
    );
}

#[test]
fn times_compare_as_instants() {
    let rows = [
        (json!("2026-03-01T00:00:00Z"), true),
        (json!("2026-03-01T08:00:00+08:00"), true),
        (json!("2026-03-01T00:00:00.000001Z"), false),
        (json!("2026-02-28T23:59:59Z"), false),
    ];
    table("closed_at", "eq", json!("2026-03-01T08:00:00+08:00"), &rows);
    table(
        "closed_at",
        "gt",
        json!("2026-03-01T08:00:00+08:00"),
        &[
            (json!("2026-03-01T00:00:00.000001Z"), true),
            (json!("2026-03-01T07:00:00+07:00"), false),
        ],
    );
    table(
        "closed_at",
        "lte",
        json!("2026-03-01T00:00:00Z"),
        &[
            (json!("2026-02-28T20:00:00-05:00"), false),
            (json!("2026-02-28T18:59:59-05:00"), true),
        ],
    );
}

#[test]
fn days_compare_as_days() {
    let rows = [
        (json!("2026-06-29"), true),
        (json!("2026-06-30"), true),
        (json!("2026-07-01"), false),
    ];
    table("expected_close_date", "lte", json!("2026-06-30"), &rows);
    table(
        "expected_close_date",
        "gt",
        json!("2026-06-30"),
        &rows.clone().map(|(v, expected)| (v, !expected)),
    );
}

#[test]
fn booleans_compare_as_booleans() {
    table(
        "probability_overridden",
        "eq",
        json!(true),
        &[
            (json!(true), true),
            (json!(false), false),
            (json!("true"), false),
        ],
    );
    table(
        "probability_overridden",
        "ne",
        json!(true),
        &[(json!(true), false), (json!(false), true), (NO, true)],
    );
}

#[test]
fn tags_contain_one_or_any_of_a_list() {
    let rows = |a: bool, b: bool, c: bool, d: bool| {
        [
            (json!(["key-account", "expo"]), a),
            (json!(["Key-Account"]), b),
            (json!(["key"]), c),
            (json!([]), d),
        ]
    };
    table(
        "tags",
        "contains",
        json!("KEY-ACCOUNT"),
        &rows(true, true, false, false),
    );
    table(
        "tags",
        "in",
        json!(["expo", "key"]),
        &rows(true, false, true, false),
    );
    table(
        "tags",
        "not_in",
        json!(["expo", "key"]),
        &rows(false, true, false, true),
    );
    table("tags", "is_empty", NO, &rows(false, false, false, true));
    table("tags", "contains", json!("key"), &[(json!("key"), false)]);
}

#[test]
fn no_value_fails_every_test_but_is_empty_ne_and_not_in() {
    // Absent, `null`, and a value that does not read as the field's kind.
    let records = [
        json!({}),
        json!({"probability": null}),
        json!({"probability": "50"}),
    ];
    let cases = [
        ("eq", json!(50), false),
        ("ne", json!(50), true),
        ("gt", json!(50), false),
        ("gte", json!(50), false),
        ("lt", json!(50), false),
        ("lte", json!(50), false),
    ];
    for record in &records {
        for (op, value, expected) in &cases {
            assert_eq!(
                holds("probability", op, value.clone(), record),
                *expected,
                "{op} on {record}"
            );
        }
    }
    let missing = json!({});
    assert!(!holds("title", "contains", json!("x"), &missing));
    assert!(!holds("status", "in", json!(["open"]), &missing));
    assert!(holds("status", "not_in", json!(["open"]), &missing));
    assert!(!holds("tags", "contains", json!("x"), &missing));
    assert!(!holds("tags", "in", json!(["x"]), &missing));
    assert!(holds("tags", "not_in", json!(["x"]), &missing));
    assert!(holds("customer.grade", "ne", json!("vip"), &missing));
}

#[test]
fn is_empty_means_absent_null_blank_or_no_items() {
    let rows = [
        (NO, true),
        (json!(""), true),
        (json!([]), true),
        (json!(" "), false),
        (json!("x"), false),
        (json!(0), false),
        (json!(false), false),
        (json!(["x"]), false),
    ];
    table("next_step", "is_empty", NO, &rows);
    table(
        "next_step",
        "is_not_empty",
        NO,
        &rows.clone().map(|(v, expected)| (v, !expected)),
    );
    assert!(holds("next_step", "is_empty", NO, &json!({})));
    assert!(holds(
        "amount.amount",
        "is_empty",
        NO,
        &json!({"amount": null})
    ));
    assert!(!holds(
        "amount.amount",
        "is_empty",
        NO,
        &json!({"amount": {"amount": "1"}})
    ));
}

#[test]
fn not_is_plain_negation() {
    let not_gt = condition(
        OPPORTUNITY,
        &json!({"not": {"field": "probability", "op": "gt", "value": 50}}),
    );
    assert!(not_gt.matches(&json!({"probability": 10})));
    assert!(!not_gt.matches(&json!({"probability": 90})));
    assert!(not_gt.matches(&json!({})));
}

#[test]
fn all_any_and_not_nest() {
    let vip_deal = condition(
        OPPORTUNITY,
        &json!({"all": [
            {"field": "customer.grade", "op": "eq", "value": "vip"},
            {"any": [
                {"field": "amount.amount", "op": "gte", "value": "100000"},
                {"field": "tags", "op": "contains", "value": "strategic"}
            ]},
            {"not": {"field": "status", "op": "in", "value": ["won", "lost"]}}
        ]}),
    );
    let deal = |grade: &str, amount: &str, tags: Value, status: &str| {
        json!({
            "status": status,
            "amount": {"amount": amount, "currency": "CNY"},
            "tags": tags,
            "customer": {"grade": grade, "tags": []}
        })
    };
    assert!(vip_deal.matches(&deal("vip", "250000.00", json!([]), "open")));
    assert!(vip_deal.matches(&deal("vip", "10.00", json!(["Strategic"]), "open")));
    assert!(!vip_deal.matches(&deal("vip", "10.00", json!(["other"]), "open")));
    assert!(!vip_deal.matches(&deal("standard", "250000.00", json!([]), "open")));
    assert!(!vip_deal.matches(&deal("vip", "250000.00", json!([]), "won")));
    assert!(!vip_deal.matches(&json!({"status": "open"})));
}

#[test]
fn customer_fields_are_read_under_customer() {
    let on_contact = condition(
        RecordType::Contact,
        &json!({"all": [
            {"field": "customer.tags", "op": "contains", "value": "vip"},
            {"field": "marketing_consent.granted", "op": "eq", "value": true}
        ]}),
    );
    let contact = json!({
        "marketing_consent": {"granted": true, "source": "web_form", "at": "2026-01-01T00:00:00Z"},
        "customer": {"tags": ["vip"]}
    });
    assert!(on_contact.matches(&contact));
    assert!(!on_contact.matches(&json!({"marketing_consent": {"granted": true}, "tags": ["vip"]})));
}

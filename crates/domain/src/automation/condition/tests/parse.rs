use serde_json::{Value, json};

use super::{at, condition, refused};
use crate::automation::condition::{
    Condition, FieldKind, MAX_DEPTH, MAX_LIST, MAX_TESTS, MAX_TEXT, Op, RecordType,
};
use crate::enums::Grade;
use crate::ticket::TicketPriority;
use crate::validation::Invalid;

const OPPORTUNITY: RecordType = RecordType::Opportunity;

fn test(field: &str, op: &str, value: Value) -> Value {
    json!({"field": field, "op": op, "value": value})
}

/// `{"all": items}`.
fn all(items: Vec<Value>) -> Value {
    json!({ "all": items })
}

#[test]
fn reads_the_wire_shape_and_answers_it_back() {
    let json = json!({"all": [
        {"field": "customer.grade", "op": "eq", "value": "vip"},
        {"any": [
            {"field": "priority", "op": "in", "value": ["high", "urgent"]},
            {"not": {"field": "tags", "op": "contains", "value": "calm"}}
        ]},
        {"field": "assignee_id", "op": "is_empty"}
    ]});
    let parsed = condition(RecordType::Ticket, &json);
    assert_eq!(parsed.to_json(), json);
    assert_eq!(
        parsed.fields(),
        ["customer.grade", "priority", "tags", "assignee_id"]
    );
    let Condition::All(items) = &parsed else {
        panic!("not all: {parsed:?}");
    };
    let Condition::Test(first) = &items[0] else {
        panic!("not a test: {:?}", items[0]);
    };
    assert_eq!(first.field().name, "customer.grade");
    assert_eq!(first.op(), Op::Eq);
    assert_eq!(first.value(), Some(&json!("vip")));
}

#[test]
fn a_test_alone_is_a_condition() {
    let json = test("status", "eq", json!("open"));
    let parsed = condition(OPPORTUNITY, &json);
    assert!(matches!(parsed, Condition::Test(_)));
    assert_eq!(parsed.to_json(), json);
}

#[test]
fn values_keep_how_they_were_written() {
    let json = all(vec![
        test("closed_at", "gte", json!("2026-03-01T08:00:00+08:00")),
        test("amount.amount", "gt", json!("1000.50")),
        test(
            "owner_id",
            "eq",
            json!("5A1F0E6C-2B8A-4C39-9C1E-1D6A3F2B9E10"),
        ),
        test("title", "contains", json!("Expo")),
    ]);
    assert_eq!(condition(OPPORTUNITY, &json).to_json(), json);
}

#[test]
fn names_an_unknown_field_at_its_path() {
    let json = all(vec![
        test("status", "eq", json!("open")),
        test("colour", "eq", json!("red")),
    ]);
    assert_eq!(
        refused(OPPORTUNITY, &json),
        [at("conditions.all[1].field", Invalid::UnknownField)]
    );
}

#[test]
fn customer_fields_are_tested_on_the_records_of_a_customer_only() {
    let json = test("customer.grade", "eq", json!("vip"));
    condition(RecordType::Contact, &json);
    condition(RecordType::SurveyInvitation, &json);
    assert_eq!(
        refused(RecordType::Customer, &json),
        [at("conditions.field", Invalid::UnknownField)]
    );
    condition(RecordType::Customer, &test("grade", "eq", json!("vip")));
}

#[test]
fn refuses_an_unknown_operator_listing_them_all() {
    let json = test("probability", "between", json!(5));
    assert_eq!(
        refused(OPPORTUNITY, &json),
        [at(
            "conditions.op",
            Invalid::NotOneOf { allowed: Op::NAMES }
        )]
    );
}

#[test]
fn refuses_an_operator_the_kind_does_not_take_listing_those_it_takes() {
    let code_ops = FieldKind::Code(&[]).ops();
    assert_eq!(
        refused(OPPORTUNITY, &test("status", "gt", json!("open"))),
        [at("conditions.op", Invalid::NotOneOf { allowed: code_ops })]
    );
    assert_eq!(
        refused(
            OPPORTUNITY,
            &test("probability_overridden", "contains", json!(true))
        ),
        [at(
            "conditions.op",
            Invalid::NotOneOf {
                allowed: FieldKind::Bool.ops()
            }
        )]
    );
    assert_eq!(
        refused(OPPORTUNITY, &test("tags", "eq", json!("vip"))),
        [at(
            "conditions.op",
            Invalid::NotOneOf {
                allowed: FieldKind::Tags.ops()
            }
        )]
    );
}

#[test]
fn refuses_values_of_the_wrong_json_type() {
    for (field, value) in [
        ("title", json!(5)),
        ("probability", json!("50")),
        ("probability_overridden", json!("true")),
        ("status", json!(1)),
        ("owner_id", json!(7)),
        ("amount.amount", json!(1000)),
        ("closed_at", json!(1_700_000_000)),
        ("expected_close_date", json!(["2026-01-01"])),
        ("title", json!({"text": "x"})),
    ] {
        assert_eq!(
            refused(OPPORTUNITY, &test(field, "eq", value)),
            [at("conditions.value", Invalid::InvalidType)],
            "{field}"
        );
    }
}

#[test]
fn refuses_values_that_do_not_read_as_their_kind() {
    let cases = [
        (
            "status",
            "eq",
            json!("won!"),
            Invalid::NotOneOf {
                allowed: crate::opportunity::OpportunityStatus::NAMES,
            },
        ),
        (
            "customer.grade",
            "eq",
            json!("VIP"),
            Invalid::NotOneOf {
                allowed: Grade::NAMES,
            },
        ),
        ("customer.grade", "eq", json!(" "), Invalid::Required),
        ("owner_id", "eq", json!("not-a-uuid"), Invalid::InvalidUuid),
        (
            "closed_at",
            "gt",
            json!("2026-03-01 08:00"),
            Invalid::InvalidDate,
        ),
        ("closed_at", "gt", json!("2026-03-01"), Invalid::InvalidDate),
        (
            "expected_close_date",
            "lt",
            json!("2026-02-30"),
            Invalid::InvalidDate,
        ),
        (
            "amount.amount",
            "gt",
            json!("1,000"),
            Invalid::InvalidAmount,
        ),
        ("amount.amount", "gt", json!("-5"), Invalid::InvalidAmount),
        ("amount.amount", "gt", json!("1e3"), Invalid::InvalidAmount),
        ("tags", "contains", json!("two words"), Invalid::InvalidTag),
        ("title", "contains", json!("  "), Invalid::Required),
        (
            "title",
            "eq",
            json!("x".repeat(MAX_TEXT + 1)),
            Invalid::TooLong { max: MAX_TEXT },
        ),
    ];
    for (field, op, value, invalid) in cases {
        assert_eq!(
            refused(OPPORTUNITY, &test(field, op, value.clone())),
            [at("conditions.value", invalid)],
            "{field} {op} {value}"
        );
    }
    condition(
        OPPORTUNITY,
        &test("title", "eq", json!("x".repeat(MAX_TEXT))),
    );
}

#[test]
fn in_takes_a_list_of_one_to_a_hundred_values_each_checked() {
    let priority = |value: Value| test("priority", "in", value);
    let ticket = RecordType::Ticket;
    assert_eq!(
        refused(ticket, &priority(json!("high"))),
        [at("conditions.value", Invalid::InvalidType)]
    );
    assert_eq!(
        refused(ticket, &priority(json!([]))),
        [at("conditions.value", Invalid::Required)]
    );
    let too_many: Vec<&str> = vec!["high"; MAX_LIST + 1];
    assert_eq!(
        refused(ticket, &priority(json!(too_many))),
        [at("conditions.value", Invalid::TooLong { max: MAX_LIST })]
    );
    condition(ticket, &priority(json!(vec!["high"; MAX_LIST])));
    assert_eq!(
        refused(
            ticket,
            &json!({"field": "priority", "op": "not_in", "value": ["high", "highest", 3]})
        ),
        [
            at(
                "conditions.value[1]",
                Invalid::NotOneOf {
                    allowed: TicketPriority::NAMES
                }
            ),
            at("conditions.value[2]", Invalid::InvalidType),
        ]
    );
    assert_eq!(
        refused(ticket, &test("tags", "in", json!(["ok", "not ok"]))),
        [at("conditions.value[1]", Invalid::InvalidTag)]
    );
}

#[test]
fn a_value_is_given_exactly_when_the_operator_takes_one() {
    assert_eq!(
        refused(OPPORTUNITY, &test("owner_id", "is_empty", json!("x"))),
        [at("conditions.value", Invalid::NotAllowed)]
    );
    assert_eq!(
        refused(OPPORTUNITY, &test("owner_id", "is_not_empty", Value::Null)),
        [at("conditions.value", Invalid::NotAllowed)]
    );
    assert_eq!(
        refused(OPPORTUNITY, &json!({"field": "owner_id", "op": "eq"})),
        [at("conditions.value", Invalid::Required)]
    );
    assert_eq!(
        refused(OPPORTUNITY, &test("owner_id", "ne", Value::Null)),
        [at("conditions.value", Invalid::Required)]
    );
    // Checked with an unknown field, and with an operator the field refuses, too.
    assert_eq!(
        refused(OPPORTUNITY, &test("colour", "is_empty", json!("red"))),
        [
            at("conditions.field", Invalid::UnknownField),
            at("conditions.value", Invalid::NotAllowed),
        ]
    );
    assert_eq!(
        refused(OPPORTUNITY, &json!({"field": "status", "op": "gt"}))
            .into_iter()
            .map(|(path, _)| path)
            .collect::<Vec<_>>(),
        ["conditions.op", "conditions.value"]
    );
}

#[test]
fn field_and_op_are_required_strings() {
    assert_eq!(
        refused(OPPORTUNITY, &json!({})),
        [
            at("conditions.field", Invalid::Required),
            at("conditions.op", Invalid::Required),
        ]
    );
    assert_eq!(
        refused(
            OPPORTUNITY,
            &json!({"field": 1, "op": ["eq"], "value": "x"})
        ),
        [
            at("conditions.field", Invalid::InvalidType),
            at("conditions.op", Invalid::InvalidType),
        ]
    );
}

#[test]
fn refuses_keys_a_node_does_not_take() {
    let stray = json!({"field": "status", "op": "eq", "value": "open", "values": ["won"]});
    assert_eq!(
        refused(OPPORTUNITY, &all(vec![stray])),
        [at("conditions.all[0].values", Invalid::UnknownField)]
    );
    let two_groups = json!({
        "all": [test("status", "eq", json!("open"))],
        "any": [test("status", "eq", json!("won"))],
    });
    assert_eq!(
        refused(OPPORTUNITY, &two_groups),
        [at("conditions.any", Invalid::UnknownField)]
    );
    let not_and_test = json!({"not": test("status", "eq", json!("open")), "field": "status"});
    assert_eq!(
        refused(OPPORTUNITY, &not_and_test),
        [at("conditions.field", Invalid::UnknownField)]
    );
}

#[test]
fn refuses_nodes_that_are_not_objects_and_empty_groups() {
    assert_eq!(
        refused(OPPORTUNITY, &json!("status = open")),
        [at("conditions", Invalid::InvalidType)]
    );
    assert_eq!(
        refused(OPPORTUNITY, &json!({"all": [[], null]})),
        [
            at("conditions.all[0]", Invalid::InvalidType),
            at("conditions.all[1]", Invalid::InvalidType),
        ]
    );
    assert_eq!(
        refused(OPPORTUNITY, &json!({"any": {"field": "status"}})),
        [at("conditions.any", Invalid::InvalidType)]
    );
    assert_eq!(
        refused(OPPORTUNITY, &json!({"all": []})),
        [at("conditions.all", Invalid::Required)]
    );
    assert_eq!(
        refused(OPPORTUNITY, &json!({"not": {"any": []}})),
        [at("conditions.not.any", Invalid::Required)]
    );
    assert_eq!(
        refused(OPPORTUNITY, &json!({"not": null})),
        [at("conditions.not", Invalid::InvalidType)]
    );
}

/// `levels` nodes deep: `not` around `not` … around one test.
fn nested_nots(levels: usize) -> Value {
    (1..levels).fold(
        test("status", "eq", json!("open")),
        |inner, _| json!({ "not": inner }),
    )
}

#[test]
fn nests_at_most_five_deep() {
    condition(OPPORTUNITY, &nested_nots(MAX_DEPTH));
    assert_eq!(
        refused(OPPORTUNITY, &nested_nots(MAX_DEPTH + 1)),
        [at(
            "conditions.not.not.not.not.not",
            Invalid::TooLong { max: MAX_DEPTH }
        )]
    );
    let deep = json!({"all": [
        test("status", "eq", json!("open")),
        {"any": [{"all": [{"not": {"all": [test("status", "eq", json!("won"))]}}]}]}
    ]});
    assert_eq!(
        refused(OPPORTUNITY, &deep),
        [at(
            "conditions.all[1].any[0].all[0].not.all[0]",
            Invalid::TooLong { max: MAX_DEPTH }
        )]
    );
}

#[test]
fn holds_at_most_fifty_tests() {
    let tests = |n: usize| {
        all((0..n)
            .map(|_| test("probability", "gt", json!(10)))
            .collect())
    };
    condition(OPPORTUNITY, &tests(MAX_TESTS));
    assert_eq!(
        refused(OPPORTUNITY, &tests(MAX_TESTS + 2)),
        [at(
            "conditions.all[50]",
            Invalid::TooLong { max: MAX_TESTS }
        )]
    );
}

#[test]
fn collects_every_error_in_the_order_of_the_document() {
    let json = json!({"all": [
        test("colour", "eq", json!("red")),
        {"any": [
            test("status", "contains", json!("o")),
            test("probability", "gt", json!("high")),
        ]},
        {"not": {"field": "closed_at", "op": "is_empty", "value": true}},
        {"all": []},
        test("owner_id", "in", json!(["x"])),
    ]});
    assert_eq!(
        refused(OPPORTUNITY, &json),
        [
            at("conditions.all[0].field", Invalid::UnknownField),
            at(
                "conditions.all[1].any[0].op",
                Invalid::NotOneOf {
                    allowed: FieldKind::Code(&[]).ops()
                }
            ),
            at("conditions.all[1].any[1].value", Invalid::InvalidType),
            at("conditions.all[2].not.value", Invalid::NotAllowed),
            at("conditions.all[3].all", Invalid::Required),
            at("conditions.all[4].value[0]", Invalid::InvalidUuid),
        ]
    );
}

#[test]
fn paths_start_at_the_prefix_given() {
    let json = all(vec![test("colour", "eq", json!("red"))]);
    let errors = Condition::parse(&json, OPPORTUNITY, "")
        .unwrap_err()
        .into_errors();
    assert_eq!(errors[0].field, "all[0].field");
    let errors = Condition::parse(&json, OPPORTUNITY, "rules[2].conditions")
        .unwrap_err()
        .into_errors();
    assert_eq!(errors[0].field, "rules[2].conditions.all[0].field");
}

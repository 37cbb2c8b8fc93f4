use std::collections::HashSet;

use crate::automation::condition::{FieldKind, Op, RecordType, field, fields};
use crate::enums::Grade;

#[test]
fn every_record_names_each_field_once() {
    for &record in RecordType::ALL {
        let names: Vec<&str> = fields(record).iter().map(|f| f.name).collect();
        let unique: HashSet<&str> = names.iter().copied().collect();
        assert_eq!(unique.len(), names.len(), "{record} names a field twice");
        assert!(names.contains(&"id"), "{record} has no id");
    }
}

#[test]
fn records_of_a_customer_have_its_fields_under_customer() {
    let customer = fields(RecordType::Customer);
    assert!(customer.iter().all(|f| !f.name.starts_with("customer.")));
    for &record in RecordType::ALL.iter().filter(|r| r.has_customer()) {
        for own in customer {
            let name = format!("customer.{}", own.name);
            let theirs = field(record, &name);
            assert_eq!(theirs.map(|f| f.kind), Some(own.kind), "{record}: {name}");
        }
    }
    assert!(!RecordType::Customer.has_customer());
}

#[test]
fn codes_come_from_the_domain_enums() {
    let grade = field(RecordType::Customer, "grade").unwrap();
    assert_eq!(grade.kind, FieldKind::Code(Grade::NAMES));
    let currency = field(RecordType::Opportunity, "amount.currency").unwrap();
    let FieldKind::Code(codes) = currency.kind else {
        panic!("currency is not a code: {currency:?}");
    };
    assert!(codes.contains(&"CNY") && codes.contains(&"USD"));
    for &record in RecordType::ALL {
        for f in fields(record) {
            if let FieldKind::Code(values) = f.kind {
                assert!(!values.is_empty(), "{record}: {} has no values", f.name);
            }
        }
    }
}

#[test]
fn personal_free_text_is_left_out() {
    for name in ["emails", "phones", "addresses", "description", "first_name"] {
        assert_eq!(field(RecordType::Contact, name), None, "{name}");
        assert_eq!(field(RecordType::Customer, name), None, "{name}");
    }
    assert_eq!(field(RecordType::Ticket, "description"), None);
    assert_eq!(field(RecordType::Opportunity, "lost_note"), None);
}

#[test]
fn nested_values_are_dotted_paths() {
    let amount = field(RecordType::Opportunity, "amount.amount").unwrap();
    assert_eq!(amount.kind, FieldKind::Decimal);
    let total = field(RecordType::Order, "totals.total.amount").unwrap();
    assert_eq!(total.kind, FieldKind::Decimal);
    let consent = field(RecordType::Contact, "marketing_consent.granted").unwrap();
    assert_eq!(consent.kind, FieldKind::Bool);
}

#[test]
fn every_kind_lists_real_operators() {
    let kinds = [
        FieldKind::Text,
        FieldKind::Code(Grade::NAMES),
        FieldKind::Id,
        FieldKind::Number,
        FieldKind::Decimal,
        FieldKind::Time,
        FieldKind::Date,
        FieldKind::Bool,
        FieldKind::Tags,
    ];
    let mut used = HashSet::new();
    for kind in kinds {
        for name in kind.ops() {
            let op = Op::parse(name).unwrap();
            assert!(kind.takes(op));
            used.insert(op);
        }
        assert!(
            kind.takes(Op::IsEmpty) && kind.takes(Op::IsNotEmpty),
            "{kind:?}"
        );
    }
    assert_eq!(used.len(), Op::ALL.len(), "an operator no kind takes");
}

#[test]
fn the_operators_each_kind_takes() {
    assert!(!FieldKind::Code(Grade::NAMES).takes(Op::Gt));
    assert!(!FieldKind::Bool.takes(Op::Contains));
    assert!(!FieldKind::Tags.takes(Op::Eq));
    assert!(FieldKind::Tags.takes(Op::Contains));
    assert!(FieldKind::Text.takes(Op::Contains));
    assert!(FieldKind::Time.takes(Op::Lte));
    assert!(!FieldKind::Time.takes(Op::In));
    assert!(!FieldKind::Id.takes(Op::Contains));
}

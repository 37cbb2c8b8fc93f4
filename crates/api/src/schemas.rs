//! OpenAPI schemas of the domain's code lists. Request types take these fields as strings (so
//! one answer can list every bad field, not stop at the first unknown value), and
//! `#[schema(schema_with = ...)]` shows clients the allowed values.

use rapport_domain::enums::{
    ActivityKind, AddressLabel, Channel, ConsentSource, ContactLabel, CustomerKind, Direction,
    Grade, Industry, LifecycleStage, PreferredChannel, SizeBand, Source, TaskStatus,
};
use serde_json::Value;
use utoipa::openapi::schema::{Object, ObjectBuilder, SchemaType, Type};

fn string_enum(values: &'static [&'static str], nullable: bool) -> Object {
    let mut enum_values: Vec<Value> = values.iter().map(|v| Value::from(*v)).collect();
    let schema_type = if nullable {
        enum_values.push(Value::Null);
        SchemaType::from_iter([Type::String, Type::Null])
    } else {
        SchemaType::from(Type::String)
    };
    ObjectBuilder::new()
        .schema_type(schema_type)
        .enum_values(Some(enum_values))
        .build()
}

macro_rules! enum_schemas {
    ($($name:ident, $nullable:ident => $ty:ty;)*) => {$(
        #[doc = concat!("The values of `", stringify!($ty), "`.")]
        pub fn $name() -> Object {
            string_enum(<$ty>::NAMES, false)
        }

        #[doc = concat!("The values of `", stringify!($ty), "`, or `null`.")]
        pub fn $nullable() -> Object {
            string_enum(<$ty>::NAMES, true)
        }
    )*};
}

enum_schemas! {
    customer_kind, customer_kind_or_null => CustomerKind;
    industry, industry_or_null => Industry;
    size_band, size_band_or_null => SizeBand;
    grade, grade_or_null => Grade;
    lifecycle_stage, lifecycle_stage_or_null => LifecycleStage;
    source, source_or_null => Source;
    channel, channel_or_null => Channel;
    preferred_channel, preferred_channel_or_null => PreferredChannel;
    contact_label, contact_label_or_null => ContactLabel;
    address_label, address_label_or_null => AddressLabel;
    activity_kind, activity_kind_or_null => ActivityKind;
    direction, direction_or_null => Direction;
    task_status, task_status_or_null => TaskStatus;
    consent_source, consent_source_or_null => ConsentSource;
}

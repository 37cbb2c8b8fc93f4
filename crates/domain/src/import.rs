//! CSV imports of customers: which file column fills which field (the mapping), how a row
//! becomes the body that `POST /v1/customers` takes, and the import's record.
//!
//! A row is written through the same create (or upsert) as the API's, so every rule is the
//! API's own; this module only decides where each cell goes, and which column an error of
//! that body came from.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde_json::{Map, Value, json};
use uuid::Uuid;

use crate::identity::Actor;
use crate::validation::{Errors, Invalid, ValidationErrors};

/// The job kind that imports a file's rows.
pub const RUN_JOB: &str = "imports.run";

crate::string_enum! {
    /// Where an import is: waiting for a worker, importing rows, done, or stopped by a
    /// failure that no row caused (its importer lost the right to write customers).
    pub enum ImportStatus {
        Queued => "queued",
        Running => "running",
        Completed => "completed",
        Failed => "failed",
    }
}

/// An address without a label is the customer's billing address.
const DEFAULT_ADDRESS_LABEL: &str = "billing";

/// Every field a column can fill: the customer's own, as `POST /v1/customers` names them;
/// `external_ids.<system>` (any system's name for `<system>`); `address.*`, the customer's
/// one address of the row; `contact.*`, the row's one contact (its first email and phone).
pub const FIELDS: &[&str] = &[
    "name",
    "kind",
    "industry",
    "size",
    "grade",
    "lifecycle_stage",
    "owner_id",
    "team_id",
    "tags",
    "source",
    "channel",
    "website",
    "registration_number",
    "country",
    "description",
    "external_ids.<system>",
    "address.label",
    "address.line1",
    "address.line2",
    "address.city",
    "address.region",
    "address.postal_code",
    "address.country",
    "contact.first_name",
    "contact.last_name",
    "contact.title",
    "contact.email",
    "contact.phone",
    "contact.preferred_channel",
];

/// A field a column fills.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub enum Field {
    Customer(&'static str),
    ExternalId(String),
    Address(&'static str),
    Contact(&'static str),
}

impl Field {
    /// Reads a field's name (`name`, `contact.email`, `external_ids.erp`).
    ///
    /// # Errors
    /// `NotOneOf` listing [`FIELDS`].
    pub fn parse(name: &str) -> Result<Field, Invalid> {
        let name = name.trim();
        let unknown = Invalid::NotOneOf { allowed: FIELDS };
        if let Some(system) = name.strip_prefix("external_ids.") {
            return if system.is_empty() || system.contains(['<', '>']) {
                Err(unknown)
            } else {
                Ok(Field::ExternalId(system.to_owned()))
            };
        }
        let known = FIELDS.iter().copied().find(|f| *f == name).ok_or(unknown)?;
        Ok(match known.split_once('.') {
            Some(("address", f)) => Field::Address(f),
            Some(("contact", f)) => Field::Contact(f),
            _ => Field::Customer(known),
        })
    }

    pub fn name(&self) -> String {
        match self {
            Field::Customer(f) => (*f).to_owned(),
            Field::ExternalId(system) => format!("external_ids.{system}"),
            Field::Address(f) => format!("address.{f}"),
            Field::Contact(f) => format!("contact.{f}"),
        }
    }

    /// Where the field's value sits in the customer body, as its errors name it.
    fn path(&self) -> String {
        match self {
            Field::Customer(f) => (*f).to_owned(),
            Field::ExternalId(system) => format!("external_ids.{system}"),
            Field::Address(f) => format!("addresses[0].{f}"),
            Field::Contact("email") => "contacts[0].emails".to_owned(),
            Field::Contact("phone") => "contacts[0].phones".to_owned(),
            Field::Contact(f) => format!("contacts[0].{f}"),
        }
    }
}

/// One mapped column: the file's header, its position, the field it fills.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Column {
    pub header: String,
    pub index: usize,
    pub field: Field,
}

/// Which column fills which field, for one file's header row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mapping {
    pub columns: Vec<Column>,
    /// Headers that fill nothing: named as no field, or mapped to nothing on purpose.
    pub ignored: Vec<String>,
}

/// A header as a field name: trimmed, lower case, spaces and hyphens as `_` (`Lifecycle
/// Stage` is `lifecycle_stage`).
fn as_field_name(header: &str) -> String {
    header
        .trim()
        .to_lowercase()
        .chars()
        .map(|c| if c == ' ' || c == '-' { '_' } else { c })
        .collect()
}

impl Mapping {
    /// The mapping of a file with `headers`: each column named in `given` fills the field it
    /// names there (`null` or `""`: nothing); every other column fills the field it is
    /// named after, if any (so that an export's CSV imports as it is).
    ///
    /// # Errors
    /// Every problem at once, each under `mapping.<header>` (a header the file lacks, a field
    /// that does not exist, two columns for one field) or `file` (two columns with one header,
    /// no column for `name`).
    pub fn resolve(
        headers: &[String],
        given: &BTreeMap<String, Option<String>>,
    ) -> Result<Mapping, ValidationErrors> {
        let mut errors = Errors::default();
        let mut seen: Vec<&str> = Vec::new();
        for header in headers {
            let header = header.trim();
            if seen.contains(&header) {
                errors.add("file", Invalid::Duplicate);
            }
            seen.push(header);
        }
        for header in given.keys() {
            if !seen.contains(&header.trim()) {
                errors.add(format!("mapping.{header}"), Invalid::UnknownField);
            }
        }
        let mut columns: Vec<Column> = Vec::new();
        let mut ignored = Vec::new();
        for (index, header) in headers.iter().enumerate() {
            let header = header.trim();
            let chosen = given
                .iter()
                .find(|(k, _)| k.trim() == header)
                .map(|(_, v)| v.as_deref().map(str::trim).filter(|v| !v.is_empty()));
            let field = match chosen {
                Some(None) => None,
                Some(Some(name)) => errors.check(format!("mapping.{header}"), Field::parse(name)),
                None => Field::parse(&as_field_name(header)).ok(),
            };
            let Some(field) = field else {
                ignored.push(header.to_owned());
                continue;
            };
            if columns.iter().any(|c| c.field == field) {
                errors.add(format!("mapping.{header}"), Invalid::Duplicate);
                continue;
            }
            columns.push(Column {
                header: header.to_owned(),
                index,
                field,
            });
        }
        if !columns.iter().any(|c| c.field == Field::Customer("name")) {
            errors.add("mapping", Invalid::Required);
        }
        errors.finish()?;
        Ok(Mapping { columns, ignored })
    }

    /// The customer body of a row: each mapped cell that is not blank, where its field goes.
    pub fn item(&self, cells: &[String]) -> Value {
        let mut item = Map::new();
        let mut external_ids = Map::new();
        let mut address = Map::new();
        let mut contact = Map::new();
        for column in &self.columns {
            let cell = cells.get(column.index).map_or("", |c| c.trim());
            if cell.is_empty() {
                continue;
            }
            let (target, key, value) = match &column.field {
                Field::Customer("tags") => {
                    let tags: Vec<&str> = cell
                        .split(';')
                        .map(str::trim)
                        .filter(|t| !t.is_empty())
                        .collect();
                    (&mut item, "tags".to_owned(), json!(tags))
                }
                Field::Customer(f) => (&mut item, (*f).to_owned(), json!(cell)),
                Field::ExternalId(system) => (&mut external_ids, system.clone(), json!(cell)),
                Field::Address(f) => (&mut address, (*f).to_owned(), json!(cell)),
                Field::Contact("email") => (
                    &mut contact,
                    "emails".to_owned(),
                    json!([{ "address": cell }]),
                ),
                Field::Contact("phone") => (
                    &mut contact,
                    "phones".to_owned(),
                    json!([{ "number": cell }]),
                ),
                Field::Contact(f) => (&mut contact, (*f).to_owned(), json!(cell)),
            };
            target.insert(key, value);
        }
        if !external_ids.is_empty() {
            item.insert("external_ids".into(), Value::Object(external_ids));
        }
        if !address.is_empty() {
            address
                .entry("label")
                .or_insert_with(|| json!(DEFAULT_ADDRESS_LABEL));
            item.insert("addresses".into(), json!([address]));
        }
        if !contact.is_empty() {
            item.insert("contacts".into(), json!([contact]));
        }
        Value::Object(item)
    }

    /// The header of the column an error at `path` of a row's body came from (the most
    /// precise one), if a column filled it.
    pub fn column_of(&self, path: &str) -> Option<&str> {
        self.columns
            .iter()
            .map(|c| (c.field.path(), &c.header))
            .filter(|(prefix, _)| {
                path.strip_prefix(prefix.as_str())
                    .is_some_and(|rest| rest.is_empty() || rest.starts_with(['.', '[']))
            })
            .max_by_key(|(prefix, _)| prefix.len())
            .map(|(_, header)| header.as_str())
    }
}

/// An import of a CSV file: its settings, its progress and its counts. The file itself is
/// kept beside the record until the import ends.
#[derive(Debug, Clone, PartialEq)]
pub struct Import {
    pub id: Uuid,
    /// What it imports: `customers`.
    pub kind: String,
    pub status: ImportStatus,
    /// Who imports: each row is written as this caller would write it.
    pub created_by: Actor,
    /// The request that started it, for the rows' audit events.
    pub request_id: Option<String>,
    pub ip: Option<String>,
    pub file_name: Option<String>,
    pub delimiter: u8,
    pub mapping: Mapping,
    pub allow_duplicate: bool,
    /// `external_ids.<system>` or `email`: rows matching a customer update it.
    pub upsert_on: Option<String>,
    /// Data rows of the file (the header row excluded).
    pub total_rows: i32,
    pub processed_rows: i32,
    pub created: i32,
    pub updated: i32,
    pub failed: i32,
    /// Why a `failed` import stopped.
    pub error: Option<String>,
    pub created_at: DateTime<Utc>,
    pub started_at: Option<DateTime<Utc>>,
    pub finished_at: Option<DateTime<Utc>>,
    pub updated_at: DateTime<Utc>,
    pub version: i32,
}

impl Import {
    pub fn is_done(&self) -> bool {
        matches!(self.status, ImportStatus::Completed | ImportStatus::Failed)
    }
}

/// A row that was not imported, and why (its problem, as the API would answer it).
#[derive(Debug, Clone, PartialEq)]
pub struct RowError {
    pub id: Uuid,
    pub import_id: Uuid,
    /// The row's number as a spreadsheet shows it: the header is row 1.
    pub row: i32,
    /// The status its own request would have had.
    pub status: i32,
    pub problem: Value,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(names: &[&str]) -> Vec<String> {
        names.iter().map(|h| (*h).to_owned()).collect()
    }

    fn given(pairs: &[(&str, Option<&str>)]) -> BTreeMap<String, Option<String>> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), v.map(str::to_owned)))
            .collect()
    }

    fn cells(values: &[&str]) -> Vec<String> {
        values.iter().map(|v| (*v).to_owned()).collect()
    }

    #[test]
    fn columns_named_after_fields_map_themselves_and_others_are_ignored() {
        let mapping = Mapping::resolve(
            &headers(&["id", "Name", "Lifecycle Stage", "tags", "created_at"]),
            &BTreeMap::new(),
        )
        .unwrap();
        let fields: Vec<String> = mapping.columns.iter().map(|c| c.field.name()).collect();
        assert_eq!(fields, ["name", "lifecycle_stage", "tags"]);
        assert_eq!(mapping.ignored, ["id", "created_at"]);
    }

    #[test]
    fn a_row_becomes_the_create_body() {
        let mapping = Mapping::resolve(
            &headers(&[
                "Firma", "E-Mail", "Telefon", "Vorname", "Stadt", "ERP", "Tags",
            ]),
            &given(&[
                ("Firma", Some("name")),
                ("E-Mail", Some("contact.email")),
                ("Telefon", Some("contact.phone")),
                ("Vorname", Some("contact.first_name")),
                ("Stadt", Some("address.city")),
                ("ERP", Some("external_ids.erp")),
            ]),
        )
        .unwrap();
        let item = mapping.item(&cells(&[
            " Acme ",
            "a@acme.example",
            "",
            "Ann",
            "Berlin",
            "C-1",
            "vip; expo ;",
        ]));
        assert_eq!(
            item,
            json!({
                "name": "Acme",
                "contacts": [{"emails": [{"address": "a@acme.example"}], "first_name": "Ann"}],
                "addresses": [{"city": "Berlin", "label": "billing"}],
                "external_ids": {"erp": "C-1"},
                "tags": ["vip", "expo"],
            })
        );
        assert_eq!(
            mapping.column_of("contacts[0].emails[0].address"),
            Some("E-Mail")
        );
        assert_eq!(mapping.column_of("contacts[0].first_name"), Some("Vorname"));
        assert_eq!(mapping.column_of("contacts[0].last_name"), None);
        assert_eq!(mapping.column_of("name"), Some("Firma"));
        assert_eq!(mapping.column_of("names"), None);
        assert_eq!(mapping.column_of("tags[1]"), Some("Tags"));
    }

    #[test]
    fn a_short_row_fills_what_it_has() {
        let mapping = Mapping::resolve(&headers(&["name", "website"]), &BTreeMap::new()).unwrap();
        assert_eq!(mapping.item(&cells(&["Acme"])), json!({"name": "Acme"}));
    }

    #[test]
    fn every_mapping_problem_is_named() {
        let err = Mapping::resolve(
            &headers(&["Firma", "Firma2", "Notes", "Notes"]),
            &given(&[
                ("Firma", Some("nom")),
                ("Missing", Some("name")),
                ("Firma2", Some("contact.email")),
                ("Notes", None),
            ]),
        )
        .unwrap_err();
        let fields: Vec<&str> = err.errors().iter().map(|e| e.field.as_str()).collect();
        assert_eq!(
            fields,
            ["file", "mapping.Missing", "mapping.Firma", "mapping"]
        );
    }

    #[test]
    fn two_columns_cannot_fill_one_field() {
        let err = Mapping::resolve(
            &headers(&["name", "Company"]),
            &given(&[("Company", Some("name"))]),
        )
        .unwrap_err();
        assert_eq!(err.errors()[0].field, "mapping.Company");
        assert_eq!(err.errors()[0].invalid, Invalid::Duplicate);
    }

    #[test]
    fn fields_parse_and_name_themselves() {
        for name in FIELDS.iter().filter(|f| !f.contains('<')) {
            assert_eq!(Field::parse(name).unwrap().name(), *name);
        }
        assert_eq!(
            Field::parse("external_ids.erp").unwrap(),
            Field::ExternalId("erp".into())
        );
        assert!(Field::parse("external_ids.").is_err());
        assert!(Field::parse("contact.birthday").is_err());
    }
}

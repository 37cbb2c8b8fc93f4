//! CSV imports: the record (progress and counts, saved at its version so that two workers
//! never both count a chunk), its file until it ends, and the rows it refused.

use rapport_domain::identity::Actor;
use rapport_domain::import::{Column, Field, Import, ImportStatus, Mapping, RowError};
use sea_orm::ActiveValue::Set;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
use serde_json::{Value, json};
use uuid::Uuid;

use crate::entities::import::{self, Entity};
use crate::entities::{import_error, import_file};
use crate::page::{Cursor, Page, SortDir, SortValue, keyset};
use crate::repos::record::{self, record};
use crate::repos::{corrupt, parse_column};
use crate::{Conn, StoreError};

fn mapping_json(m: &Mapping) -> Value {
    let columns: Vec<Value> = m
        .columns
        .iter()
        .map(|c| json!({"header": c.header, "index": c.index, "field": c.field.name()}))
        .collect();
    json!({"columns": columns, "ignored": m.ignored})
}

fn mapping_of(value: &Value) -> Result<Mapping, StoreError> {
    let bad = || corrupt("imports.mapping", "not a mapping");
    let mut columns = Vec::new();
    for c in value["columns"].as_array().ok_or_else(bad)? {
        columns.push(Column {
            header: c["header"].as_str().ok_or_else(bad)?.to_owned(),
            index: c["index"]
                .as_u64()
                .and_then(|i| usize::try_from(i).ok())
                .ok_or_else(bad)?,
            field: parse_column(
                "imports.mapping",
                c["field"].as_str().ok_or_else(bad)?,
                Field::parse,
            )?,
        });
    }
    let ignored = value["ignored"]
        .as_array()
        .ok_or_else(bad)?
        .iter()
        .map(|h| h.as_str().map(str::to_owned).ok_or_else(bad))
        .collect::<Result<_, _>>()?;
    Ok(Mapping { columns, ignored })
}

fn to_domain(m: import::Model) -> Result<Import, StoreError> {
    Ok(Import {
        id: m.id,
        kind: m.kind,
        status: parse_column("imports.status", &m.status, ImportStatus::parse)?,
        created_by: Actor::from_parts(&m.created_by_type, m.created_by_id),
        request_id: m.request_id,
        ip: m.ip,
        file_name: m.file_name,
        delimiter: *m
            .delimiter
            .as_bytes()
            .first()
            .ok_or_else(|| corrupt("imports.delimiter", "empty"))?,
        mapping: mapping_of(&m.mapping)?,
        allow_duplicate: m.allow_duplicate,
        upsert_on: m.upsert_on,
        total_rows: m.total_rows,
        processed_rows: m.processed_rows,
        created: m.created_count,
        updated: m.updated_count,
        failed: m.failed_count,
        error: m.error,
        created_at: m.created_at,
        started_at: m.started_at,
        finished_at: m.finished_at,
        updated_at: m.updated_at,
        version: m.version,
    })
}

fn to_active(i: &Import) -> Result<import::ActiveModel, StoreError> {
    Ok(import::ActiveModel {
        id: Set(i.id),
        kind: Set(i.kind.clone()),
        status: Set(i.status.as_str().to_owned()),
        created_by_type: Set(i.created_by.kind().to_owned()),
        created_by_id: Set(i.created_by.id()),
        request_id: Set(i.request_id.clone()),
        ip: Set(i.ip.clone()),
        file_name: Set(i.file_name.clone()),
        delimiter: Set(char::from(i.delimiter).to_string()),
        mapping: Set(mapping_json(&i.mapping)),
        allow_duplicate: Set(i.allow_duplicate),
        upsert_on: Set(i.upsert_on.clone()),
        total_rows: Set(i.total_rows),
        processed_rows: Set(i.processed_rows),
        created_count: Set(i.created),
        updated_count: Set(i.updated),
        failed_count: Set(i.failed),
        error: Set(i.error.clone()),
        created_at: Set(i.created_at),
        started_at: Set(i.started_at),
        finished_at: Set(i.finished_at),
        updated_at: Set(i.updated_at),
        version: Set(i.version),
    })
}

record!(Import, Entity, to_active: to_active, from_model: to_domain);

/// Adds an import and its file.
///
/// # Errors
/// Database failures.
pub async fn insert(db: &impl Conn, import: &Import, file: String) -> Result<(), StoreError> {
    Entity::insert(to_active(import)?)
        .exec_without_returning(db)
        .await?;
    import_file::Entity::insert(import_file::ActiveModel {
        import_id: Set(import.id),
        file: Set(file),
    })
    .exec_without_returning(db)
    .await?;
    Ok(())
}

/// # Errors
/// `NotFound` when there is no such import.
pub async fn get(db: &impl Conn, id: Uuid) -> Result<Import, StoreError> {
    record::get(db, id).await
}

/// The file of an import that has not ended.
///
/// # Errors
/// `NotFound` once the import has ended (its file is gone).
pub async fn file(db: &impl Conn, id: Uuid) -> Result<String, StoreError> {
    import_file::Entity::find_by_id(id)
        .one(db)
        .await?
        .map(|f| f.file)
        .ok_or(StoreError::NotFound)
}

/// Forgets an ended import's file: it holds personal data that the customers it made now
/// hold, where erasure and retention reach them.
///
/// # Errors
/// Database failures.
pub async fn drop_file(db: &impl Conn, id: Uuid) -> Result<(), StoreError> {
    import_file::Entity::delete_by_id(id).exec(db).await?;
    Ok(())
}

/// Keeps the rows an import refused.
///
/// # Errors
/// Database failures.
pub async fn add_errors(db: &impl Conn, errors: &[RowError]) -> Result<(), StoreError> {
    if errors.is_empty() {
        return Ok(());
    }
    import_error::Entity::insert_many(errors.iter().map(|e| import_error::ActiveModel {
        id: Set(e.id),
        import_id: Set(e.import_id),
        row: Set(e.row),
        status: Set(e.status),
        problem: Set(e.problem.clone()),
    }))
    .exec_without_returning(db)
    .await?;
    Ok(())
}

/// The rows an import refused, in file order.
///
/// # Errors
/// Database failures.
pub async fn errors(
    db: &impl Conn,
    import_id: Uuid,
    after: Option<Cursor>,
    limit: u64,
) -> Result<Page<RowError>, StoreError> {
    let select = import_error::Entity::find().filter(import_error::Column::ImportId.eq(import_id));
    let rows = keyset(
        select,
        import_error::Column::Id,
        import_error::Column::Id,
        SortDir::Asc,
        after,
        limit,
    )
    .all(db)
    .await?;
    Page::from_models(
        rows,
        limit,
        |m| {
            Ok(RowError {
                id: m.id,
                import_id: m.import_id,
                row: m.row,
                status: m.status,
                problem: m.problem,
            })
        },
        |e| Cursor {
            value: SortValue::Id,
            id: e.id,
        },
    )
}

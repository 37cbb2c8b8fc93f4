//! CSV imports of customers. `POST /v1/imports/customers` reads the file and its mapping,
//! refuses what cannot be imported at all, keeps the file and answers 202 at once. The
//! `imports.run` job ([`run`]) then writes the rows a chunk per transaction, each row through
//! the customer batch's create-or-upsert (the rules, audit events and webhooks of
//! `POST /v1/customers`), saving the import's progress on the chunk's transaction: a worker
//! that stops resumes after the last chunk saved, and no row is written twice.

use std::collections::BTreeMap;

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, ResponseError, get, post, web};
use chrono::{DateTime, Utc};
use rapport_domain::Invalid;
use rapport_domain::import::{self as domain, ImportStatus, Mapping, RowError};
use rapport_domain::job::{Job, JobKind};
use rapport_store::repos::{self, imports, jobs};
use rapport_store::{StoreError, Tx};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use super::batch::{UpsertOn, write_item};
use crate::audit::{self, Origin};
use crate::auth::scopes::CustomersWrite;
use crate::auth::{Authorized, Caller};
use crate::batch::{Outcome, in_savepoint};
use crate::csv_file::{self, DELIMITERS, Row, Rows};
use crate::error::{ApiError, Failure, Problem};
use crate::extract::{Query, read_body};
use crate::i18n::Lang;
use crate::pagination::{Paged, page_params};
use crate::schemas;
use crate::state::AppState;

/// Rows per transaction: few enough that SQLite's other writers wait for one chunk at most,
/// enough that commits do not dominate.
const CHUNK: usize = 100;
/// Refused rows answered with the import; `GET /v1/imports/{id}/errors` pages through all.
const ERRORS_SHOWN: u64 = 100;

/// How to read the file.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ImportParams {
    /// A JSON object from the file's column headers to fields
    /// (`{"Firma": "name", "Telefon": "contact.phone", "Notizen": null}`; `null` skips a
    /// column). A column it does not name fills the field it is named after, if any, so a
    /// file with the export's headers needs none. See `ImportColumn.field` for the fields.
    #[param(example = r#"{"Company": "name", "E-mail": "contact.email"}"#)]
    pub mapping: Option<String>,
    /// `,` or `;`. Default: whichever the header row holds more of.
    #[param(example = ";")]
    pub delimiter: Option<String>,
    /// Import rows that look like existing customers (same email, phone or registration
    /// number) instead of refusing them as `duplicate`.
    pub allow_duplicate: Option<bool>,
    /// As a customer batch's: `external_ids.<system>` or `email`. A row matching a customer
    /// updates it (and adds its contact when new) instead of creating one.
    #[param(example = "external_ids.erp")]
    pub upsert_on: Option<String>,
    /// The file's name, shown with the import.
    #[param(example = "customers.csv")]
    pub file_name: Option<String>,
}

/// A CSV file, sent as it is (`Content-Type: text/csv`).
#[derive(Debug, ToSchema)]
#[schema(value_type = String, format = Binary)]
#[allow(dead_code)]
pub struct CsvFile(Vec<u8>);

/// A file column and the field it fills.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ImportColumn {
    /// The column's header in the file.
    #[schema(example = "Telefon")]
    pub column: String,
    /// The customer's own fields (`name`, `kind`, `industry`, `size`, `grade`,
    /// `lifecycle_stage`, `owner_id`, `team_id`, `tags` separated by `;`, `source`,
    /// `channel`, `website`, `registration_number`, `country`, `description`),
    /// `external_ids.<system>`, the row's one address (`address.label` (default `billing`),
    /// `address.line1`, `address.line2`, `address.city`, `address.region`,
    /// `address.postal_code`, `address.country`) and its one contact (`contact.first_name`,
    /// `contact.last_name`, `contact.title`, `contact.email`, `contact.phone`,
    /// `contact.preferred_channel`).
    #[schema(example = "contact.phone")]
    pub field: String,
}

/// A row that was not imported.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ImportRowError {
    /// The row's number as a spreadsheet shows it: the header is row 1, the first data row
    /// 2 (a cell that spans lines is still one row).
    #[schema(example = 17)]
    pub row: i32,
    /// The status the row's own `POST /v1/customers` would have had (422, 409, 404, …).
    pub status: u16,
    /// Why, as that request would have been answered; `errors[].field` names the file's
    /// column where one filled the field (`Telefon`), else the field's path in the customer
    /// body.
    #[schema(value_type = Problem)]
    pub error: Value,
}

crate::list_type!(ImportRowErrorList, ImportRowError);

/// An import: its settings, its progress and what became of its rows.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Import {
    pub id: Uuid,
    /// What it imports.
    #[schema(example = "customers")]
    pub kind: String,
    #[schema(schema_with = schemas::import_status)]
    pub status: String,
    pub file_name: Option<String>,
    /// The file's separator.
    #[schema(example = ",")]
    pub delimiter: String,
    /// The columns that fill a field.
    pub columns: Vec<ImportColumn>,
    /// The columns that fill nothing.
    pub ignored_columns: Vec<String>,
    pub allow_duplicate: bool,
    pub upsert_on: Option<String>,
    /// The file's rows (its header excluded).
    pub total_rows: i32,
    /// Rows done so far: created, updated or refused.
    pub processed_rows: i32,
    pub created: i32,
    pub updated: i32,
    pub failed: i32,
    /// Why a `failed` import stopped.
    pub error: Option<String>,
    /// `user` or `client`: whose rights each row is written with.
    #[schema(example = "user")]
    pub created_by_type: String,
    pub created_by_id: Option<Uuid>,
    pub created_at: DateTime<Utc>,
    pub started_at: Option<DateTime<Utc>>,
    pub finished_at: Option<DateTime<Utc>>,
    pub updated_at: DateTime<Utc>,
    /// The first 100 refused rows, in file order; `GET /v1/imports/{id}/errors` pages
    /// through all of them.
    pub errors: Vec<ImportRowError>,
}

impl Import {
    fn new(i: domain::Import, errors: Vec<RowError>) -> Import {
        Import {
            id: i.id,
            kind: i.kind,
            status: i.status.as_str().to_owned(),
            file_name: i.file_name,
            delimiter: char::from(i.delimiter).to_string(),
            columns: i
                .mapping
                .columns
                .into_iter()
                .map(|c| ImportColumn {
                    column: c.header,
                    field: c.field.name(),
                })
                .collect(),
            ignored_columns: i.mapping.ignored,
            allow_duplicate: i.allow_duplicate,
            upsert_on: i.upsert_on,
            total_rows: i.total_rows,
            processed_rows: i.processed_rows,
            created: i.created,
            updated: i.updated,
            failed: i.failed,
            error: i.error,
            created_by_type: i.created_by.kind().to_owned(),
            created_by_id: i.created_by.id(),
            created_at: i.created_at,
            started_at: i.started_at,
            finished_at: i.finished_at,
            updated_at: i.updated_at,
            errors: errors.into_iter().map(ImportRowError::from).collect(),
        }
    }
}

impl From<RowError> for ImportRowError {
    fn from(e: RowError) -> Self {
        ImportRowError {
            row: e.row,
            status: u16::try_from(e.status).unwrap_or(500),
            error: e.problem,
        }
    }
}

/// The import's settings from the request's parameters.
struct Settings {
    mapping: BTreeMap<String, Option<String>>,
    delimiter: Option<u8>,
    upsert_on: Option<String>,
}

impl Settings {
    fn parse(params: &ImportParams) -> Result<Settings, ApiError> {
        let mapping = match params.mapping.as_deref() {
            None => BTreeMap::new(),
            Some(raw) => serde_json::from_str(raw)
                .map_err(|_| ApiError::bad_parameter("mapping", Invalid::InvalidType))?,
        };
        let delimiter = match params.delimiter.as_deref() {
            None => None,
            Some(",") => Some(b','),
            Some(";") => Some(b';'),
            Some(_) => {
                let allowed = Invalid::NotOneOf {
                    allowed: DELIMITERS,
                };
                return Err(ApiError::bad_parameter("delimiter", allowed));
            }
        };
        // Checked now, so that a bad key is the request's problem rather than every row's.
        UpsertOn::parse(params.upsert_on.as_deref())?;
        Ok(Settings {
            mapping,
            delimiter,
            upsert_on: params.upsert_on.clone(),
        })
    }
}

/// Is the body CSV (`text/csv`, any charset parameter aside)?
fn is_csv(req: &HttpRequest) -> bool {
    req.headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|media| media.trim().eq_ignore_ascii_case("text/csv"))
}

/// Import customers from a CSV file.
///
/// The body is the file: UTF-8 (with or without a byte order mark), comma- or
/// semicolon-separated, its first row the column headers. The file and `mapping` are checked
/// at once (422 for a file that is not UTF-8, a mapping naming a column the file lacks or a
/// field that does not exist, or no column for `name`); then the import answers 202 and its
/// rows are imported in the background, each as `POST /v1/customers` would create it (or as
/// a customer batch would upsert it, with `upsert_on`), with the caller's rights, audit
/// events and webhooks. Follow it at `Location` (`GET /v1/imports/{id}`): its progress, and
/// each refused row with its problem. A rerun of the same file with `upsert_on` imports
/// nothing twice. Files up to `RAPPORT_MAX_IMPORT_BYTES` (64 MiB by default).
#[utoipa::path(
    tag = "imports",
    params(ImportParams),
    request_body(content = CsvFile, content_type = "text/csv", description = "The CSV file, its header row first", example = "name,contact.first_name,contact.email,contact.phone\n深圳张氏科技有限公司,Wei,wei@zhangshi.example.cn,+86 138 0013 8000\n"),
    responses(
        (status = 202, body = Import, description = "Accepted: the rows are imported in the background", headers(("Location" = String))),
    ),
    security(("oauth2" = ["customers:write"]))
)]
#[post("/imports/customers")]
pub async fn import_customers(
    req: HttpRequest,
    state: web::Data<AppState>,
    auth: Authorized<CustomersWrite>,
    params: Query<ImportParams>,
    mut payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let params = params.into_inner()?;
    let settings = Settings::parse(&params)?;
    if !is_csv(&req) {
        return Err(ApiError::UnsupportedMediaType);
    }
    let text = csv_file::decode(&read_body(&req, &mut payload).await?)?;
    let delimiter = settings.delimiter.unwrap_or_else(|| csv_file::sniff(&text));
    let mut rows = Rows::open(&text, delimiter)?;
    let mapping = Mapping::resolve(rows.headers(), &settings.mapping)?;
    let total_rows = i32::try_from(rows.by_ref().count()).unwrap_or(i32::MAX);
    if total_rows == 0 {
        return Err(ApiError::invalid("file", Invalid::Required));
    }
    let now = state.clock.now();
    let import = domain::Import {
        id: Uuid::now_v7(),
        kind: "customers".into(),
        status: ImportStatus::Queued,
        created_by: auth.actor(),
        request_id: auth.origin.request_id.clone(),
        ip: auth.origin.ip.map(|ip| ip.to_string()),
        file_name: params.file_name.map(|n| n.chars().take(255).collect()),
        delimiter,
        mapping,
        allow_duplicate: params.allow_duplicate.unwrap_or(false),
        upsert_on: settings.upsert_on,
        total_rows,
        processed_rows: 0,
        created: 0,
        updated: 0,
        failed: 0,
        error: None,
        created_at: now,
        started_at: None,
        finished_at: None,
        updated_at: now,
        version: 1,
    };
    let kind = JobKind::parse(domain::RUN_JOB)
        .map_err(|e| ApiError::Internal(Failure::caused_by("naming the import job", e)))?;
    let job = Job::new(
        kind,
        json!({ "import_id": import.id }),
        Some(format!("import:{}", import.id)),
        now,
        now,
    );
    let tx = state.store.begin().await?;
    imports::insert(&tx, &import, text).await?;
    jobs::enqueue(&tx, &job).await?;
    audit::record(
        &tx,
        &state,
        &auth.origin,
        audit::Subject::new("import", import.id),
        "create",
        json!({
            "kind": import.kind,
            "file_name": import.file_name,
            "total_rows": import.total_rows,
            "upsert_on": import.upsert_on,
            "allow_duplicate": import.allow_duplicate,
        }),
    )
    .await?;
    audit::commit(tx, &state, &auth.origin).await?;
    Ok(HttpResponse::Accepted()
        .insert_header((header::LOCATION, format!("/v1/imports/{}", import.id)))
        .json(Import::new(import, Vec::new())))
}

/// The import `id` if the caller may see it: its importer, or an admin.
async fn visible(state: &AppState, caller: &Caller, id: Uuid) -> Result<domain::Import, ApiError> {
    let import = imports::get(state.store.conn(), id).await?;
    caller.check_owner(import.created_by)?;
    Ok(import)
}

/// Get an import: its progress, counts and first refused rows.
///
/// Only its importer (and admins) see it.
#[utoipa::path(
    tag = "imports",
    params(("id" = Uuid, Path)),
    responses((status = 200, body = Import)),
    security(("oauth2" = ["customers:write"]))
)]
#[get("/imports/{id}")]
pub async fn get_import(
    state: web::Data<AppState>,
    auth: Authorized<CustomersWrite>,
    id: web::Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    let import = visible(&state, &auth, id.into_inner()).await?;
    let errors = imports::errors(state.store.conn(), import.id, None, ERRORS_SHOWN).await?;
    Ok(HttpResponse::Ok().json(Import::new(import, errors.items)))
}

/// Paging through an import's refused rows.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ImportErrorParams {
    #[param(minimum = 1, maximum = 200)]
    pub limit: Option<i64>,
    pub cursor: Option<String>,
}

/// List an import's refused rows, in file order.
#[utoipa::path(
    tag = "imports",
    params(("id" = Uuid, Path), ImportErrorParams),
    responses((status = 200, body = ImportRowErrorList)),
    security(("oauth2" = ["customers:write"]))
)]
#[get("/imports/{id}/errors")]
pub async fn list_import_errors(
    state: web::Data<AppState>,
    auth: Authorized<CustomersWrite>,
    id: web::Path<Uuid>,
    params: Query<ImportErrorParams>,
) -> Result<HttpResponse, ApiError> {
    let params = params.into_inner()?;
    let (limit, cursor) = page_params(params.limit, params.cursor.as_deref(), "id")?;
    let import = visible(&state, &auth, id.into_inner()).await?;
    let page = imports::errors(state.store.conn(), import.id, cursor, limit).await?;
    Ok(
        HttpResponse::Ok().json(ImportRowErrorList::from(Paged::from_page(
            page,
            "id",
            ImportRowError::from,
        ))),
    )
}

/// The `imports.run` job's work: imports the rows of import `id` not done yet, a chunk per
/// transaction. An import whose importer can no longer write customers stops as `failed`.
///
/// # Errors
/// A failure of ours (the job retries, resuming after the last chunk saved), or `Stale` when
/// another worker saved a chunk of it meanwhile.
pub async fn run(state: &AppState, id: Uuid) -> Result<(), ApiError> {
    let mut import = imports::get(state.store.conn(), id).await?;
    if import.is_done() {
        return Ok(());
    }
    let origin = Origin {
        actor: import.created_by,
        request_id: import.request_id.clone(),
        ip: import.ip.as_deref().and_then(|ip| ip.parse().ok()),
    };
    let auth = match Caller::as_now(state, origin).await? {
        Some(caller) => Authorized::<CustomersWrite>::check(caller).ok(),
        None => None,
    };
    let Some(auth) = auth else {
        return stop(
            state,
            id,
            "Its importer can no longer write customers (disabled, deleted, or without customers:write).",
        )
        .await;
    };
    let file = imports::file(state.store.conn(), id).await?;
    let upsert_on = UpsertOn::parse(import.upsert_on.as_deref())?;
    let done = usize::try_from(import.processed_rows).unwrap_or(0);
    let mut rows = Rows::open(&file, import.delimiter)?.skip(done).peekable();
    loop {
        let chunk: Vec<Row> = rows.by_ref().take(CHUNK).collect();
        let last = rows.peek().is_none();
        let tx = state.store.begin().await?;
        let mut current: domain::Import = repos::get_locked(&tx, id).await?;
        if current.version != import.version {
            return Err(StoreError::Stale.into());
        }
        let mut refused = Vec::new();
        for row in chunk {
            let outcome =
                write_row(&tx, state, &auth, upsert_on.as_ref(), &current, row.cells).await?;
            current.processed_rows += 1;
            match outcome {
                Ok(Outcome::Created) => current.created += 1,
                Ok(_) => current.updated += 1,
                Err(e) => {
                    current.failed += 1;
                    refused.push(row_error(&current, row.number, &e));
                }
            }
        }
        imports::add_errors(&tx, &refused).await?;
        let now = state.clock.now();
        current.started_at.get_or_insert(now);
        current.status = ImportStatus::Running;
        if last {
            current.status = ImportStatus::Completed;
            current.finished_at = Some(now);
            imports::drop_file(&tx, id).await?;
        }
        import = repos::save(&tx, &current, now).await?;
        audit::commit(tx, state, &auth.origin).await?;
        if last {
            return Ok(());
        }
    }
}

/// Writes one row in a savepoint: `Ok` with its outcome or its refusal, `Err` for a failure
/// of ours (the chunk is not saved).
async fn write_row(
    tx: &Tx,
    state: &AppState,
    auth: &Authorized<CustomersWrite>,
    upsert_on: Option<&UpsertOn>,
    import: &domain::Import,
    cells: Result<Vec<String>, Invalid>,
) -> Result<Result<Outcome, ApiError>, ApiError> {
    let cells = match cells {
        Ok(cells) => cells,
        Err(invalid) => return Ok(Err(ApiError::invalid("row", invalid))),
    };
    let item = import.mapping.item(&cells);
    let allow_duplicate = import.allow_duplicate;
    let outcome = in_savepoint(tx, async |tx: &Tx| {
        write_item(tx, state, auth, upsert_on, allow_duplicate, item).await
    })
    .await?;
    match outcome {
        Ok(written) => Ok(Ok(written.outcome)),
        Err(e) if e.is_ours() => Err(e),
        Err(e) => Ok(Err(e)),
    }
}

/// A refused row as kept: its problem, its fields named by the file's columns.
fn row_error(import: &domain::Import, number: u64, e: &ApiError) -> RowError {
    let mut problem: Problem = e.to_problem(Lang::default());
    for field in problem.errors.iter_mut().flatten() {
        if let Some(column) = import.mapping.column_of(&field.field) {
            field.field = column.to_owned();
        }
    }
    RowError {
        id: Uuid::now_v7(),
        import_id: import.id,
        row: i32::try_from(number).unwrap_or(i32::MAX),
        status: i32::from(e.status_code().as_u16()),
        problem: serde_json::to_value(problem).unwrap_or(Value::Null),
    }
}

/// Ends import `id` as `failed`, saying why, and forgets its file. Rows imported before stay.
///
/// # Errors
/// Database failures.
pub async fn stop(state: &AppState, id: Uuid, reason: &str) -> Result<(), ApiError> {
    let tx = state.store.begin().await?;
    let mut import: domain::Import = repos::get_locked(&tx, id).await?;
    if import.is_done() {
        return Ok(());
    }
    let now = state.clock.now();
    import.status = ImportStatus::Failed;
    import.error = Some(reason.chars().take(500).collect());
    import.finished_at = Some(now);
    imports::drop_file(&tx, id).await?;
    repos::save(&tx, &import, now).await?;
    rapport_store::commit(tx).await?;
    tracing::warn!(import_id = %id, reason, "import stopped");
    Ok(())
}

//! `GET /v1/exports/customers`: every customer of a filtered list (the list's filters and
//! `q`, in its order), streamed as NDJSON or CSV a page at a time, so that an export of a
//! million customers holds one page in memory, never the whole list.

use actix_web::http::header;
use actix_web::web::Bytes;
use actix_web::{HttpRequest, HttpResponse, get, web};
use futures_util::stream;
use rapport_domain::access::Visibility;
use rapport_domain::masking::Masking;
use rapport_store::Cursor;
use rapport_store::repos::customers::{self, CustomerFilter, CustomerSort};
use rapport_store::{DatabaseConnection, SortDir};
use serde_json::Value;

use super::list::{CustomerFilterParams, customer_filter, parse_sort, searching};
use super::types::Customer;
use crate::auth::Authorized;
use crate::auth::scopes::CustomersRead;
use crate::error::ApiError;
use crate::extract::Query;
use crate::middleware::masking::{mask, masking_of};
use crate::state::AppState;
use crate::table::{defused, wants_csv};

/// Customers read per query.
const PAGE: u64 = 500;

/// The CSV columns: the customer's flat fields, as JSON names them (NDJSON has every field).
const COLUMNS: &[&str] = &[
    "id",
    "name",
    "kind",
    "industry",
    "size",
    "grade",
    "grade_locked",
    "lifecycle_stage",
    "owner_id",
    "team_id",
    "tags",
    "source",
    "campaign_id",
    "channel",
    "website",
    "registration_number",
    "country",
    "description",
    "first_contact_due_at",
    "first_contacted_at",
    "last_activity_at",
    "created_at",
    "updated_at",
    "version",
];

/// A cell of a customer's field as JSON has it: text as is, lists (tags) joined by `;`.
fn cell_of(field: &Value) -> String {
    match field {
        Value::Null => String::new(),
        Value::String(s) => s.clone(),
        Value::Array(items) => items.iter().map(cell_of).collect::<Vec<_>>().join(";"),
        other => other.to_string(),
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Format {
    Csv,
    Ndjson,
}

impl Format {
    /// One page of customers (as JSON, masked for the caller) as bytes; the CSV header
    /// before the first.
    fn encode(self, first: bool, page: &[Value]) -> Result<Bytes, ApiError> {
        match self {
            Format::Ndjson => {
                let mut out = Vec::new();
                for c in page {
                    serde_json::to_writer(&mut out, c)
                        .map_err(|e| ApiError::internal("writing an NDJSON line", e))?;
                    out.push(b'\n');
                }
                Ok(out.into())
            }
            Format::Csv => {
                let mut out = csv::Writer::from_writer(Vec::new());
                if first {
                    out.write_record(COLUMNS)
                        .map_err(|e| ApiError::internal("writing a CSV header", e))?;
                }
                for c in page {
                    out.write_record(COLUMNS.iter().map(|column| defused(cell_of(&c[*column]))))
                        .map_err(|e| ApiError::internal("writing a CSV row", e))?;
                }
                Ok(out
                    .into_inner()
                    .map_err(|e| ApiError::internal("finishing CSV rows", e))?
                    .into())
            }
        }
    }
}

/// What each page of an export reads.
struct Walk {
    db: DatabaseConnection,
    visibility: Visibility,
    filter: CustomerFilter,
    sort: CustomerSort,
    dir: SortDir,
    format: Format,
    /// The personal fields the caller sees masked: the masking middleware sees JSON
    /// answers only, so the export masks its own.
    masking: Masking,
}

impl Walk {
    /// The page after `cursor` (the first for `None`), encoded, and the cursor of the next.
    async fn page(
        &self,
        cursor: Option<Cursor>,
        first: bool,
    ) -> Result<(Bytes, Option<Cursor>), ApiError> {
        let page = customers::list(
            &self.db,
            self.visibility,
            &self.filter,
            self.sort,
            self.dir,
            cursor,
            PAGE,
        )
        .await?;
        let mut items = Vec::with_capacity(page.items.len());
        for c in page.items {
            let mut value = serde_json::to_value(Customer::from(c))
                .map_err(|e| ApiError::internal("writing a customer", e))?;
            mask(&mut value, self.masking);
            items.push(value);
        }
        Ok((self.format.encode(first, &items)?, page.next))
    }
}

/// Export customers.
///
/// Every customer of the list that the same filters and `q` would page through (in its
/// order: newest first, or by relevance with `q`), in one streamed answer: NDJSON (one
/// customer per line, as the list answers it), or CSV with `Accept: text/csv` (a header row,
/// then the customer's flat fields; tags joined by `;`). Pages are read one after another, so
/// a customer changed during a long export shows as it was when its page was read. A sales
/// rep exports the customers it owns, a sales manager its team's, other roles all; personal
/// fields are masked as in every answer to the caller.
#[utoipa::path(
    tag = "customers",
    params(CustomerFilterParams),
    responses(
        (status = 200, description = "The customers, streamed", content(
            (Customer = "application/x-ndjson"),
            (String = "text/csv")
        )),
    ),
    security(("oauth2" = ["customers:read"]))
)]
#[get("/exports/customers")]
pub async fn export_customers(
    req: HttpRequest,
    state: web::Data<AppState>,
    auth: Authorized<CustomersRead>,
    filters: Query<CustomerFilterParams>,
) -> Result<HttpResponse, ApiError> {
    let f = filters.into_inner()?;
    let (sort, dir, _) = parse_sort(None, searching(&f))?;
    let format = if wants_csv(&req) {
        Format::Csv
    } else {
        Format::Ndjson
    };
    let (media, name) = match format {
        Format::Csv => ("text/csv; charset=utf-8", "customers.csv"),
        Format::Ndjson => ("application/x-ndjson", "customers.ndjson"),
    };
    let mut answer = HttpResponse::Ok();
    answer
        .content_type(media)
        .insert_header((header::VARY, "Accept"))
        .insert_header((
            header::CONTENT_DISPOSITION,
            format!("attachment; filename=\"{name}\""),
        ));
    let Some(filter) = customer_filter(&state, &auth, f)? else {
        // Nothing searchable in `q`: nothing matches (CSV still has its header).
        return Ok(answer.body(format.encode(true, &[])?));
    };
    // The first page is read before answering, so that a failure is still a problem+json.
    let walk = Walk {
        db: state.list_reads(&auth).clone(),
        visibility: auth.visibility(),
        filter,
        sort,
        dir,
        format,
        masking: masking_of(&auth),
    };
    let (first, next) = walk.page(None, true).await?;
    let rest = stream::try_unfold((walk, next), |(walk, cursor)| async move {
        let Some(cursor) = cursor else {
            return Ok(None);
        };
        let (bytes, next) = walk.page(Some(cursor), false).await?;
        Ok(Some((bytes, (walk, next))))
    });
    let body = futures_util::StreamExt::chain(stream::once(async { Ok(first) }), rest);
    // A failure after the first page can only cut the answer short; it is logged.
    let body = futures_util::TryStreamExt::map_err(body, |e: ApiError| {
        tracing::error!(error = %e, "customer export failed midway");
        std::io::Error::other("the export failed")
    });
    Ok(answer.streaming(body))
}

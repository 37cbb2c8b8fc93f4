//! `POST /v1/customers/batch`: up to 200 customers created or updated in one request, matched
//! to existing ones by an external id or an email when asked (upsert).

use actix_web::{HttpRequest, HttpResponse, post, web};
use rapport_domain::Invalid;
use rapport_domain::customer::more_contacts;
use rapport_store::Tx;
use rapport_store::repos::{contacts, customers};
use serde::Deserialize;
use serde_json::{Value, json};
use uuid::Uuid;

use super::change;
use super::create::{self, CreateParams};
use super::types::{CreateContact, CreateCustomer, UpdateCustomer};
use crate::auth::Authorized;
use crate::auth::scopes::CustomersWrite;
use crate::batch::{self, BatchBody, BatchResult, Written, email_addresses, one_match};
use crate::error::ApiError;
use crate::extract::{Json, Query, parse_value};
use crate::i18n::Lang;
use crate::state::AppState;

crate::batch_request!(
    CustomerBatch,
    CreateCustomer,
    "Upsert: `external_ids.<system>` matches an item to the live customer holding the same id \
     in that system (`external_ids.erp`); `email` matches it to the customer with a contact \
     holding one of the item's contact emails (compared normalized). A matched customer is \
     updated with the item's fields (absent ones are kept) and gets the item's contacts it \
     does not have yet (same email or phone, or same names when neither); an item matching no \
     customer the caller can see is created. Without `upsert_on` every item is created."
);

/// What items are matched to existing customers by.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum UpsertOn {
    /// `external_ids.<system>`.
    ExternalId(String),
    Email,
}

impl UpsertOn {
    pub(super) fn parse(raw: Option<&str>) -> Result<Option<UpsertOn>, ApiError> {
        let Some(raw) = raw else {
            return Ok(None);
        };
        if raw == "email" {
            return Ok(Some(UpsertOn::Email));
        }
        match raw.strip_prefix("external_ids.") {
            Some(system) if !system.is_empty() => Ok(Some(UpsertOn::ExternalId(system.into()))),
            _ => Err(ApiError::invalid(
                "upsert_on",
                Invalid::NotOneOf {
                    allowed: &["external_ids.<system>", "email"],
                },
            )),
        }
    }

    /// The keys of `item` to match on (`customer_keys` kind and values).
    fn keys(&self, item: &Value) -> Result<(&'static str, Vec<String>), ApiError> {
        match self {
            UpsertOn::ExternalId(system) => {
                let field = format!("external_ids.{system}");
                let id = item
                    .pointer(&format!("/external_ids/{system}"))
                    .and_then(Value::as_str)
                    .map(str::trim)
                    .filter(|id| !id.is_empty())
                    .ok_or_else(|| ApiError::invalid(field, Invalid::Required))?;
                Ok(("external_id", vec![customers::external_id_key(system, id)]))
            }
            UpsertOn::Email => {
                let contacts = item.get("contacts").and_then(Value::as_array);
                let emails = email_addresses(
                    contacts
                        .into_iter()
                        .flatten()
                        .filter_map(|c| c.get("emails")),
                );
                if emails.is_empty() {
                    return Err(ApiError::invalid("contacts", Invalid::Required));
                }
                Ok(("email", emails))
            }
        }
    }

    /// The customer `item` matches, if any: one the caller can see holding one of its keys.
    async fn find(
        &self,
        tx: &Tx,
        auth: &Authorized<CustomersWrite>,
        item: &Value,
    ) -> Result<Option<Uuid>, ApiError> {
        let (kind, values) = self.keys(item)?;
        let keys: Vec<(&str, String)> = values.iter().map(|v| (kind, v.clone())).collect();
        // Two batches upserting one key at once: the second waits, then finds the first's.
        customers::lock_keys(tx, &keys).await?;
        let mut found = Vec::new();
        for value in &values {
            found.extend(customers::holding(tx, auth.visibility(), kind, value).await?);
        }
        one_match(found, "customers", kind)
    }
}

/// Create or update up to 200 customers.
///
/// Each item is a customer as `POST /v1/customers` takes it, written with the same rules (and
/// the same duplicate check, unless `allow_duplicate=true`), audited and announced to webhooks
/// one by one, in one transaction. The answer lists each item in order: `201` created, `200`
/// updated (by `upsert_on`), or its problem. Refused items write nothing; with
/// `all_or_none`, one refused item refuses the whole batch (422 `batch_failed`).
#[utoipa::path(
    tag = "customers",
    params(CreateParams),
    request_body = CustomerBatch,
    responses(
        (status = 200, body = BatchResult, description = "Each item's outcome, in order"),
        (status = 422, description = "Invalid `items` or `upsert_on`, or an `all_or_none` batch with refused items (`batch_failed`, with `items`)", body = crate::error::Problem, content_type = "application/problem+json")
    ),
    security(("oauth2" = ["customers:write"]))
)]
#[post("/customers/batch")]
pub async fn batch_customers(
    req: HttpRequest,
    state: web::Data<AppState>,
    auth: Authorized<CustomersWrite>,
    params: Query<CreateParams>,
    body: Json<BatchBody>,
) -> Result<HttpResponse, ApiError> {
    let params = params.into_inner()?;
    let body = body.into_inner()?;
    let upsert_on = UpsertOn::parse(body.upsert_on.as_deref())?;
    let allow_duplicate = params.allow_duplicate.unwrap_or(false);
    let write = async |tx: &Tx, item: Value| {
        write_item(tx, &state, &auth, upsert_on.as_ref(), allow_duplicate, item).await
    };
    batch::run(&state, &auth.origin, Lang::of(&req), body, write).await
}

/// Writes one item: creates it, or updates the customer it matches by `upsert_on` (adding
/// its contacts the customer lacks). A batch's item and an import's row alike.
pub(super) async fn write_item(
    tx: &Tx,
    state: &AppState,
    auth: &Authorized<CustomersWrite>,
    upsert_on: Option<&UpsertOn>,
    allow_duplicate: bool,
    item: Value,
) -> Result<Written, ApiError> {
    if !item.is_object() {
        return Err(ApiError::invalid("", Invalid::InvalidType));
    }
    let found = match upsert_on {
        Some(on) => on.find(tx, auth, &item).await?,
        None => None,
    };
    let Some(id) = found else {
        let body: CreateCustomer = parse_value(item)?;
        let created = create::create(tx, state, auth, body, allow_duplicate).await?;
        return Ok(Written::created(created.id, created.version));
    };
    let mut item = item;
    let contacts = item
        .as_object_mut()
        .and_then(|fields| fields.remove("contacts"))
        .unwrap_or_else(|| json!([]));
    let body: UpdateCustomer = parse_value(item)?;
    let ItemContacts { contacts: bodies } = parse_value(json!({ "contacts": contacts }))?;
    let raw: Vec<_> = bodies.iter().map(CreateContact::raw).collect();
    // Read first: a refused contact refuses the item before anything is written.
    let read = more_contacts(&raw, id, state.settings.default_region, state.clock.now())?;
    let updated = change::update(tx, state, auth, id, body, None).await?;
    let mut existing = contacts::of_customer(tx, id).await?;
    for (body, contact) in bodies.into_iter().zip(read) {
        if existing.iter().any(|e| e.same_as(&contact)) {
            continue;
        }
        crate::routes::contacts::create(tx, state, auth, id, body).await?;
        existing.push(contact);
    }
    Ok(Written::updated(updated.id, updated.version))
}

/// The contacts of an item that updates a customer.
#[derive(Debug, Deserialize)]
struct ItemContacts {
    #[serde(default)]
    contacts: Vec<CreateContact>,
}

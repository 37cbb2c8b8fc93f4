//! `POST /v1/contacts/batch`: up to 200 contacts added or updated in one request, matched to
//! existing ones by email when asked (upsert).

use actix_web::{HttpRequest, HttpResponse, post, web};
use rapport_domain::Invalid;
use rapport_store::Tx;
use rapport_store::repos::{contacts, customers};
use serde::Deserialize;
use serde_json::Value;
use utoipa::ToSchema;
use uuid::Uuid;

use crate::auth::Authorized;
use crate::auth::scopes::CustomersWrite;
use crate::batch::{self, BatchBody, BatchResult, Written, email_addresses, one_match};
use crate::error::ApiError;
use crate::extract::{Json, parse_value};
use crate::i18n::Lang;
use crate::routes::contacts as contact_routes;
use crate::routes::customers::types::{CreateContact, UpdateContact};
use crate::state::AppState;

/// A contact in a batch: a contact as `POST /v1/customers/{id}/contacts` takes it, and the
/// customer it belongs to.
#[derive(Debug, Deserialize, ToSchema)]
#[allow(dead_code)]
pub struct ContactBatchItem {
    /// The customer to add it to: required unless `upsert_on` finds the contact, and when
    /// given, `upsert_on` looks among this customer's contacts only.
    pub customer_id: Option<Uuid>,
    #[serde(flatten)]
    pub contact: CreateContact,
}

crate::batch_request!(
    ContactBatch,
    ContactBatchItem,
    "Upsert: `email` matches an item to the contact holding one of the item's emails (compared \
     normalized), among the contacts of its `customer_id` when it names one, else among every \
     contact the caller sees. A matched contact is updated with the item's fields (absent ones \
     are kept); an item matching none is added to its `customer_id`. Without `upsert_on` every \
     item is added."
);

/// Add or update up to 200 contacts.
///
/// Each item is written with the rules of `POST /v1/customers/{id}/contacts` (or of
/// `PATCH /v1/contacts/{id}` when `upsert_on` finds it), audited and announced to webhooks one
/// by one, in one transaction. The answer lists each item in order: `201` added, `200` updated,
/// or its problem. Refused items write nothing; with `all_or_none`, one refused item refuses
/// the whole batch (422 `batch_failed`).
#[utoipa::path(
    tag = "contacts",
    request_body = ContactBatch,
    responses(
        (status = 200, body = BatchResult, description = "Each item's outcome, in order"),
        (status = 422, description = "Invalid `items` or `upsert_on`, or an `all_or_none` batch with refused items (`batch_failed`, with `items`)", body = crate::error::Problem, content_type = "application/problem+json")
    ),
    security(("oauth2" = ["customers:write"]))
)]
#[post("/contacts/batch")]
pub async fn batch_contacts(
    req: HttpRequest,
    state: web::Data<AppState>,
    auth: Authorized<CustomersWrite>,
    body: Json<BatchBody>,
) -> Result<HttpResponse, ApiError> {
    let body = body.into_inner()?;
    let by_email = match body.upsert_on.as_deref() {
        None => false,
        Some("email") => true,
        Some(_) => {
            return Err(ApiError::invalid(
                "upsert_on",
                Invalid::NotOneOf {
                    allowed: &["email"],
                },
            ));
        }
    };
    let write = async |tx: &Tx, item: Value| write_item(tx, &state, &auth, by_email, item).await;
    batch::run(&state, &auth.origin, Lang::of(&req), body, write).await
}

async fn write_item(
    tx: &Tx,
    state: &AppState,
    auth: &Authorized<CustomersWrite>,
    by_email: bool,
    item: Value,
) -> Result<Written, ApiError> {
    let Value::Object(mut fields) = item else {
        return Err(ApiError::invalid("", Invalid::InvalidType));
    };
    let customer_id = match fields.remove("customer_id") {
        None | Some(Value::Null) => None,
        Some(id) => Some(
            parse_value::<Uuid>(id)
                .map_err(|_| ApiError::invalid("customer_id", Invalid::InvalidType))?,
        ),
    };
    let item = Value::Object(fields);
    let found = match by_email {
        true => find(tx, auth, customer_id, &item).await?,
        false => None,
    };
    if let Some(id) = found {
        let body: UpdateContact = parse_value(item)?;
        let saved = contact_routes::update(tx, state, auth, id, body, None).await?;
        return Ok(Written::updated(saved.id, saved.version));
    }
    let customer_id =
        customer_id.ok_or_else(|| ApiError::invalid("customer_id", Invalid::Required))?;
    let body: CreateContact = parse_value(item)?;
    let created = contact_routes::create(tx, state, auth, customer_id, body).await?;
    Ok(Written::created(created.id, created.version))
}

/// The contact `item` matches by email, if any: among `customer_id`'s contacts, or among those
/// of every customer the caller sees.
async fn find(
    tx: &Tx,
    auth: &Authorized<CustomersWrite>,
    customer_id: Option<Uuid>,
    item: &Value,
) -> Result<Option<Uuid>, ApiError> {
    let emails = email_addresses(item.get("emails"));
    if emails.is_empty() {
        return Err(ApiError::invalid("emails", Invalid::Required));
    }
    let keys: Vec<(&str, String)> = emails.iter().map(|e| ("email", e.clone())).collect();
    // Two batches upserting one email at once: the second waits, then finds the first's.
    customers::lock_keys(tx, &keys).await?;
    let mut holders = Vec::new();
    for email in &emails {
        holders.extend(customers::holding(tx, auth.visibility(), "email", email).await?);
    }
    holders.sort();
    holders.dedup();
    let mut found = Vec::new();
    for holder in holders
        .into_iter()
        .filter(|h| customer_id.is_none_or(|c| c == *h))
    {
        for contact in contacts::of_customer(tx, holder).await? {
            if contact
                .emails
                .iter()
                .any(|e| emails.contains(&e.address.as_str().to_owned()))
            {
                found.push(contact.id);
            }
        }
    }
    one_match(found, "contacts", "emails")
}

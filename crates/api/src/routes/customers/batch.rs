//! `POST /v1/customers/batch`: up to 200 customers created or updated in one request, matched
//! to existing ones by an external id or an email when asked (upsert).

use actix_web::{HttpRequest, HttpResponse, post, web};
use rapport_domain::Invalid;
use rapport_domain::contact::Contact as DomainContact;
use rapport_domain::customer::more_contacts;
use rapport_domain::email::Email;
use rapport_store::Tx;
use rapport_store::repos::{contacts, customers};
use serde::Deserialize;
use serde_json::{Map, Value, json};
use uuid::Uuid;

use super::create::{self, CreateParams};
use super::types::{Contact, CreateContact, CreateCustomer, UpdateCustomer};
use super::{change, write};
use crate::audit;
use crate::auth::Authorized;
use crate::auth::scopes::CustomersWrite;
use crate::batch::{BatchBody, BatchResult, Results, Written, read_item};
use crate::error::{ApiError, ProblemCode};
use crate::extract::{Json, Query};
use crate::i18n::{Lang, Text};
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
enum UpsertOn {
    /// `external_ids.<system>`.
    ExternalId(String),
    Email,
}

impl UpsertOn {
    fn parse(raw: Option<&str>) -> Result<Option<UpsertOn>, ApiError> {
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
                let mut emails: Vec<String> = item
                    .get("contacts")
                    .and_then(Value::as_array)
                    .into_iter()
                    .flatten()
                    .filter_map(|c| c.get("emails").and_then(Value::as_array))
                    .flatten()
                    .filter_map(|e| e.get("address").and_then(Value::as_str))
                    .filter_map(|a| Email::parse(a).ok())
                    .map(|e| e.as_str().to_owned())
                    .collect();
                emails.sort();
                emails.dedup();
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
        found.sort();
        found.dedup();
        match found.as_slice() {
            [] => Ok(None),
            [id] => Ok(Some(*id)),
            _ => {
                let mut extra = Map::new();
                extra.insert("matching_ids".into(), json!(found));
                Err(ApiError::Conflict {
                    code: ProblemCode::AmbiguousMatch,
                    detail: Text::new(
                        format!("{} customers match this item's `{kind}`.", found.len()),
                        format!("有 {} 个客户与该条目的 `{kind}` 匹配。", found.len()),
                    ),
                    extra,
                })
            }
        }
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
    body.check_size()?;
    let upsert_on = UpsertOn::parse(body.upsert_on.as_deref())?;
    let allow_duplicate = params.allow_duplicate.unwrap_or(false);
    let tx = state.store.begin().await?;
    let mut results = Results::default();
    for (index, item) in body.items.into_iter().enumerate() {
        let outcome = write_item(
            &tx,
            &state,
            &auth,
            upsert_on.as_ref(),
            allow_duplicate,
            item,
        )
        .await;
        results.push(index, outcome)?;
    }
    results
        .finish(
            tx,
            &state,
            &auth.origin,
            body.all_or_none.unwrap_or(false),
            Lang::of(&req),
        )
        .await
}

async fn write_item(
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
        let body: CreateCustomer = read_item(item)?;
        let created = create::create(tx, state, auth, body, allow_duplicate).await?;
        return Ok(Written::created(created.id, created.version));
    };
    let mut item = item;
    let contacts = item
        .as_object_mut()
        .and_then(|fields| fields.remove("contacts"))
        .unwrap_or_else(|| json!([]));
    let body: UpdateCustomer = read_item(item)?;
    let ItemContacts { contacts } = read_item(json!({ "contacts": contacts }))?;
    let raw: Vec<_> = contacts.iter().map(CreateContact::raw).collect();
    let new = more_contacts(&raw, id, state.settings.default_region, state.clock.now())?;
    let updated = change::update(tx, state, auth, id, body, None).await?;
    add_contacts(tx, state, auth, id, new).await?;
    Ok(Written::updated(updated.id, updated.version))
}

/// The contacts of an item that updates a customer.
#[derive(Debug, Deserialize)]
struct ItemContacts {
    #[serde(default)]
    contacts: Vec<CreateContact>,
}

/// Adds to customer `id` the contacts of `new` it does not have yet, audited; the first of
/// them is its primary contact when it has none.
async fn add_contacts(
    tx: &Tx,
    state: &AppState,
    auth: &Authorized<CustomersWrite>,
    id: Uuid,
    new: Vec<DomainContact>,
) -> Result<(), ApiError> {
    let existing = contacts::of_customer(tx, id).await?;
    let mut new: Vec<DomainContact> = new
        .into_iter()
        .filter(|n| !existing.iter().any(|e| e.same_as(n)))
        .collect();
    if new.is_empty() {
        return Ok(());
    }
    if !existing.iter().chain(&new).any(|c| c.is_primary) {
        new[0].is_primary = true;
    }
    contacts::insert_many(tx, &new).await?;
    if let Some(primary) = new.iter().find(|c| c.is_primary) {
        contacts::clear_other_primaries(tx, id, primary.id).await?;
    }
    let customer = super::access::to_change(tx, auth, id).await?;
    write::reindex(tx, &customer).await?;
    for contact in new {
        let body = Contact::from(contact);
        audit::record(
            tx,
            state,
            &auth.origin,
            audit::Subject::of_customer("contact", body.id, Some(id)),
            "create",
            audit::changes(None, Some(&body)),
        )
        .await?;
    }
    Ok(())
}

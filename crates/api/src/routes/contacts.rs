//! Contacts: the people at a customer (`/v1/customers/{id}/contacts`, `/v1/contacts/{id}`),
//! and the list of all the contacts a caller sees (`/v1/contacts`).

use actix_web::{HttpResponse, delete, get, patch, post, web};
use chrono::{DateTime, Utc};
use rapport_domain::birthday::Birthday;
use rapport_domain::contact::{
    Contact as DomainContact, ContactPoint, NewContact, read_consent, read_emails, read_phones,
};
use rapport_domain::enums::PreferredChannel;
use rapport_domain::name::{PersonName, Title};
use rapport_domain::validation::Errors;
use rapport_store::Tx;
use rapport_store::repos::contacts::ContactFilter;
use rapport_store::repos::{self, Lock, contacts};
use serde::Deserialize;
use utoipa::IntoParams;
use utoipa_actix_web::service_config::ServiceConfig;
use uuid::Uuid;

use crate::audit;
use crate::auth::Authorized;
use crate::auth::scopes::{CustomersRead, CustomersWrite};
use crate::error::ApiError;
use crate::extract::{IfMatch, IfMatchParam, Json, Query};
use crate::feed;
use crate::pagination::{Paged, page_params};
use crate::respond;
use crate::routes::customers::types::{Contact, ContactList, CreateContact, UpdateContact};
use crate::routes::customers::{access, input, reindex};
use crate::schemas;
use crate::state::AppState;

pub fn configure(cfg: &mut ServiceConfig) {
    // `/contacts/batch` before `/contacts/{id}`, which would take it for an id.
    cfg.service(list_all_contacts)
        .service(list_contacts)
        .service(create_contact)
        .service(super::contact_batch::batch_contacts)
        .service(get_contact)
        .service(update_contact)
        .service(delete_contact);
}

/// Filters and paging of the contact list.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ContactListParams {
    pub customer_id: Option<Uuid>,
    /// `email`, `phone` or `email,phone`: only contacts without any of each (without both, for
    /// two), to clean up or complete.
    #[param(example = "email,phone", schema_with = schemas::missing_contact_points)]
    pub missing: Option<String>,
    /// 1 to 200, default 50.
    pub limit: Option<i64>,
    pub cursor: Option<String>,
    /// The change feed: every contact changed at or after this time, oldest change first,
    /// each at its latest version, and in `deleted` those deleted for good since then (with
    /// their `id`, `customer_id` and `deleted_at`), in the same order under the same cursor.
    /// Changes show once they are 5 seconds old. Walk the pages with `cursor`; at the end, ask
    /// again with the last `updated_at` or `deleted_at` you saw (keep the highest `version`).
    /// Deletions follow `customer_id`, not `missing` (a deleted contact has nothing left to
    /// test; dropping an id you never had is harmless). A deleted customer's contacts leave
    /// the feed with it (its tombstone is in the customer feed).
    #[param(example = "2026-12-01T00:00:00Z")]
    pub updated_since: Option<DateTime<Utc>>,
}

/// List the contacts of the customers the caller sees, newest first; or their change feed.
#[utoipa::path(
    tag = "contacts",
    params(ContactListParams),
    responses((status = 200, body = ContactList)),
    security(("oauth2" = ["customers:read"]))
)]
#[get("/contacts")]
async fn list_all_contacts(
    state: web::Data<AppState>,
    auth: Authorized<CustomersRead>,
    params: Query<ContactListParams>,
) -> Result<HttpResponse, ApiError> {
    let p = params.into_inner()?;
    let sort = feed::sort_or(p.updated_since, "-created_at");
    let (limit, cursor) = page_params(p.limit, p.cursor.as_deref(), sort)?;
    let missing = p
        .missing
        .as_deref()
        .map(|list| list.split(',').map(ContactPoint::parse).collect())
        .transpose()
        .map_err(|invalid| ApiError::bad_parameter("missing", invalid))?
        .unwrap_or_else(Vec::new);
    let filter = ContactFilter {
        customer_id: p.customer_id,
        without_email: missing.contains(&ContactPoint::Email),
        without_phone: missing.contains(&ContactPoint::Phone),
        changes: p.updated_since.map(|since| feed::changes(&state, since)),
    };
    let (db, visibility) = (state.list_reads(&auth), auth.visibility());
    let page = contacts::list(db, visibility, &filter, cursor.clone(), limit).await?;
    let (page, deleted) = feed::with_deletions(
        page,
        filter.changes,
        limit,
        |c| (c.updated_at, c.id),
        |changes| contacts::deleted(db, visibility, &filter, changes, cursor, limit),
    )
    .await?;
    Ok(HttpResponse::Ok().json(ContactList::new(
        Paged::from_page(page, sort, Contact::from),
        deleted,
    )))
}

/// List a customer's contacts (the primary one first).
#[utoipa::path(
    tag = "contacts",
    params(("id" = Uuid, Path, description = "The customer")),
    responses((status = 200, body = ContactList)),
    security(("oauth2" = ["customers:read"]))
)]
#[get("/customers/{id}/contacts")]
async fn list_contacts(
    state: web::Data<AppState>,
    auth: Authorized<CustomersRead>,
    id: web::Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    let db = state.store.conn();
    let customer = access::visible(db, &auth, id.into_inner()).await?;
    let data = contacts::of_customer(db, customer.id)
        .await?
        .into_iter()
        .map(Contact::from)
        .collect();
    Ok(HttpResponse::Ok().json(ContactList {
        data,
        next_cursor: None,
        deleted: None,
    }))
}

/// Add a contact to a customer.
#[utoipa::path(
    tag = "contacts",
    params(("id" = Uuid, Path, description = "The customer")),
    request_body = CreateContact,
    responses((status = 201, body = Contact, headers(("Location" = String), ("ETag" = String)))),
    security(("oauth2" = ["customers:write"]))
)]
#[post("/customers/{id}/contacts")]
async fn create_contact(
    state: web::Data<AppState>,
    auth: Authorized<CustomersWrite>,
    id: web::Path<Uuid>,
    body: Json<CreateContact>,
) -> Result<HttpResponse, ApiError> {
    let body = body.into_inner()?;
    let tx = state.store.begin().await?;
    let body = create(&tx, &state, &auth, id.into_inner(), body).await?;
    audit::commit(tx, &state, &auth.origin).await?;
    Ok(respond::created(
        &body,
        body.version,
        format!("/v1/contacts/{}", body.id),
    ))
}

/// Adds a contact to customer `customer_id` on `tx`, audited: the create request's work, and a
/// batch item's. Every refusal comes before the first write.
///
/// # Errors
/// 404 when the caller cannot see the customer, 422 for invalid fields.
pub(crate) async fn create(
    tx: &Tx,
    state: &AppState,
    auth: &Authorized<CustomersWrite>,
    customer_id: Uuid,
    body: CreateContact,
) -> Result<Contact, ApiError> {
    let now = state.clock.now();
    let customer = access::visible(tx, auth, customer_id).await?;
    let raw = body.raw();
    // The first contact of a customer is its primary one unless the body says otherwise.
    let is_primary = match raw.is_primary {
        Some(primary) => primary,
        None => contacts::of_customer(tx, customer.id).await?.is_empty(),
    };
    let new = NewContact {
        customer_id: customer.id,
        is_primary,
        region: state.settings.default_region,
        now,
        new_id: Uuid::now_v7,
    };
    let contact = DomainContact::create(&raw, &new)?;
    contacts::insert_many(tx, std::slice::from_ref(&contact)).await?;
    if contact.is_primary {
        contacts::clear_other_primaries(tx, customer.id, contact.id).await?;
    }
    reindex(tx, &customer).await?;
    let body = Contact::from(contact);
    audit::record(
        tx,
        state,
        &auth.origin,
        audit::Subject::of_customer("contact", body.id, Some(body.customer_id)),
        "create",
        audit::changes(None, Some(&body)),
    )
    .await?;
    Ok(body)
}

/// Get a contact.
#[utoipa::path(
    tag = "contacts",
    params(("id" = Uuid, Path)),
    responses((status = 200, body = Contact, headers(("ETag" = String)))),
    security(("oauth2" = ["customers:read"]))
)]
#[get("/contacts/{id}")]
async fn get_contact(
    state: web::Data<AppState>,
    auth: Authorized<CustomersRead>,
    id: web::Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    let (contact, _) = access::of_customer_with::<DomainContact>(
        state.store.conn(),
        &auth,
        id.into_inner(),
        Lock::No,
    )
    .await?;
    let body = Contact::from(contact);
    Ok(respond::ok(&body, body.version))
}

/// Change a contact.
#[utoipa::path(
    tag = "contacts",
    params(("id" = Uuid, Path), IfMatchParam),
    request_body = UpdateContact,
    responses((status = 200, body = Contact, headers(("ETag" = String)))),
    security(("oauth2" = ["customers:write"]))
)]
#[patch("/contacts/{id}")]
async fn update_contact(
    state: web::Data<AppState>,
    auth: Authorized<CustomersWrite>,
    id: web::Path<Uuid>,
    if_match: IfMatch,
    body: Json<UpdateContact>,
) -> Result<HttpResponse, ApiError> {
    let body = body.into_inner()?;
    let tx = state.store.begin().await?;
    let saved = update(&tx, &state, &auth, id.into_inner(), body, Some(&if_match)).await?;
    audit::commit(tx, &state, &auth.origin).await?;
    Ok(respond::ok(&saved, saved.version))
}

/// Applies a change to contact `id` on `tx`, audited: the change request's work, and a batch
/// item's. Every refusal comes before the first write.
///
/// # Errors
/// 404 when the caller cannot change it, 412 on a stale `if_match`, 422 for invalid fields.
pub(crate) async fn update(
    tx: &Tx,
    state: &AppState,
    auth: &Authorized<CustomersWrite>,
    id: Uuid,
    body: UpdateContact,
    if_match: Option<&IfMatch>,
) -> Result<Contact, ApiError> {
    let now = state.clock.now();
    let region = state.settings.default_region;
    let (before, customer) =
        access::of_customer_with::<DomainContact>(tx, auth, id, Lock::ForUpdate).await?;
    if let Some(if_match) = if_match {
        if_match.check(before.version)?;
    }
    let mut c = before.clone();
    let mut errors = Errors::default();
    body.first_name.required(
        &mut errors,
        "first_name",
        &mut c.first_name,
        PersonName::parse,
    );
    body.last_name.optional(
        &mut errors,
        "last_name",
        &mut c.last_name,
        PersonName::parse,
    );
    body.title
        .optional(&mut errors, "title", &mut c.title, Title::parse);
    body.emails.collection(&mut errors, &mut c.emails, |v, e| {
        read_emails(&input::emails(&v), "emails", e)
    });
    body.phones.collection(&mut errors, &mut c.phones, |v, e| {
        read_phones(&input::phones(&v), "phones", region, e)
    });
    body.preferred_channel.optional(
        &mut errors,
        "preferred_channel",
        &mut c.preferred_channel,
        PreferredChannel::parse,
    );
    body.marketing_consent
        .collection(&mut errors, &mut c.marketing_consent, |v, e| {
            read_consent(&v.raw(), "marketing_consent", now, e).map(Some)
        });
    body.birthday
        .collection(&mut errors, &mut c.birthday, |v, e| {
            Birthday::read(&v.raw(), "birthday", now.date_naive(), e).map(Some)
        });
    if let Some(primary) = body.is_primary.into_required(&mut errors, "is_primary") {
        c.is_primary = primary;
    }
    errors.finish()?;
    let saved = repos::save(tx, &c, now).await?;
    if saved.is_primary && !before.is_primary {
        contacts::clear_other_primaries(tx, customer.id, saved.id).await?;
    }
    reindex(tx, &customer).await?;
    let (before, saved) = (Contact::from(before), Contact::from(saved));
    audit::record(
        tx,
        state,
        &auth.origin,
        audit::Subject::of_customer("contact", saved.id, Some(saved.customer_id)),
        "update",
        audit::changes(Some(&before), Some(&saved)),
    )
    .await?;
    Ok(saved)
}

/// Delete a contact.
#[utoipa::path(
    tag = "contacts",
    params(("id" = Uuid, Path), IfMatchParam),
    responses((status = 204, description = "Deleted")),
    security(("oauth2" = ["customers:write"]))
)]
#[delete("/contacts/{id}")]
async fn delete_contact(
    state: web::Data<AppState>,
    auth: Authorized<CustomersWrite>,
    id: web::Path<Uuid>,
    if_match: IfMatch,
) -> Result<HttpResponse, ApiError> {
    let tx = state.store.begin().await?;
    let (contact, customer) =
        access::of_customer_with::<DomainContact>(&tx, &auth, id.into_inner(), Lock::ForUpdate)
            .await?;
    if_match.check(contact.version)?;
    contacts::delete(&tx, &contact, state.clock.now()).await?;
    reindex(&tx, &customer).await?;
    let before = Contact::from(contact);
    audit::record_and_commit(
        tx,
        &state,
        &auth.origin,
        audit::Subject::of_customer("contact", before.id, Some(before.customer_id)),
        "delete",
        audit::changes(Some(&before), None),
    )
    .await?;
    Ok(HttpResponse::NoContent().finish())
}

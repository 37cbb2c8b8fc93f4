//! Contacts: the people at a customer (`/v1/customers/{id}/contacts`, `/v1/contacts/{id}`).

use actix_web::{HttpResponse, delete, get, patch, post, web};
use rapport_domain::Invalid;
use rapport_domain::contact::Contact as DomainContact;
use rapport_domain::enums::PreferredChannel;
use rapport_domain::name::{Name, PersonName, Title};
use rapport_domain::validation::Errors;
use rapport_store::Conn;
use rapport_store::repos::contacts;
use utoipa_actix_web::service_config::ServiceConfig;
use uuid::Uuid;

use crate::audit;
use crate::auth::scopes::{CustomersRead, CustomersWrite};
use crate::auth::{Authorized, Caller};
use crate::error::ApiError;
use crate::extract::{IfMatch, IfMatchParam, Json};
use crate::patch::Patch;
use crate::respond;
use crate::routes::customers::types::{Contact, ContactList, CreateContact, UpdateContact};
use crate::routes::customers::{
    access, contact_from_fields, parse_consent, parse_contact, parse_emails, parse_phones, reindex,
};
use crate::state::AppState;

pub fn configure(cfg: &mut ServiceConfig) {
    cfg.service(list_contacts)
        .service(create_contact)
        .service(get_contact)
        .service(update_contact)
        .service(delete_contact);
}

/// A contact whose customer the caller sees (and is not deleted); 404 otherwise.
async fn visible_contact(
    db: &impl Conn,
    caller: &Caller,
    id: Uuid,
) -> Result<(DomainContact, rapport_domain::customer::Customer), ApiError> {
    let contact = contacts::get(db, id).await?;
    let customer = access::visible(db, caller, contact.customer_id).await?;
    Ok((contact, customer))
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
    let now = state.clock.now();
    let tx = state.store.begin().await?;
    let customer = access::visible(&tx, &auth, id.into_inner()).await?;
    let mut errors = Errors::default();
    let fields = parse_contact(&body, "", state.settings.default_region, now, &mut errors);
    let fields = errors.finish_with(fields)?;
    let existing = contacts::of_customer(&tx, customer.id).await?;
    let primary = fields.is_primary.unwrap_or(existing.is_empty());
    let contact = contact_from_fields(fields, customer.id, primary, now);
    contacts::insert_many(&tx, std::slice::from_ref(&contact)).await?;
    if primary {
        contacts::clear_other_primaries(&tx, customer.id, contact.id).await?;
    }
    reindex(&tx, &customer).await?;
    let body = Contact::from(contact);
    audit::record_and_commit(
        tx,
        &state,
        &auth.origin,
        audit::Subject::of_customer("contact", body.id, Some(body.customer_id)),
        "create",
        audit::changes(None, Some(&body)),
    )
    .await?;
    Ok(respond::created(
        &body,
        body.version,
        format!("/v1/contacts/{}", body.id),
    ))
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
    let (contact, _) = visible_contact(state.store.conn(), &auth, id.into_inner()).await?;
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
    let now = state.clock.now();
    let region = state.settings.default_region;
    let tx = state.store.begin().await?;
    let (before, customer) = visible_contact(&tx, &auth, id.into_inner()).await?;
    if_match.check(before.version)?;
    let mut c = before.clone();
    let mut errors = Errors::default();
    match body.first_name {
        Patch::Absent => {}
        Patch::Null => errors.add("first_name", Invalid::Required),
        Patch::Value(v) => {
            if let Some(n) = errors.check("first_name", PersonName::parse(&v)) {
                c.first_name = n.into_string();
            }
        }
    }
    match body.last_name {
        Patch::Absent => {}
        Patch::Null => c.last_name = None,
        Patch::Value(v) => {
            c.last_name = errors
                .check("last_name", PersonName::parse(&v))
                .map(Name::into_string)
                .or(c.last_name)
        }
    }
    match body.title {
        Patch::Absent => {}
        Patch::Null => c.title = None,
        Patch::Value(v) => {
            c.title = errors
                .check("title", Title::parse(&v))
                .map(Name::into_string)
                .or(c.title)
        }
    }
    match body.emails {
        Patch::Absent => {}
        Patch::Null => c.emails = Vec::new(),
        Patch::Value(v) => c.emails = parse_emails(&v, "emails", &mut errors).unwrap_or(c.emails),
    }
    match body.phones {
        Patch::Absent => {}
        Patch::Null => c.phones = Vec::new(),
        Patch::Value(v) => {
            c.phones = parse_phones(&v, "phones", region, &mut errors).unwrap_or(c.phones)
        }
    }
    match body.preferred_channel {
        Patch::Absent => {}
        Patch::Null => c.preferred_channel = None,
        Patch::Value(v) => {
            c.preferred_channel = errors
                .check("preferred_channel", PreferredChannel::parse(&v))
                .or(c.preferred_channel)
        }
    }
    match body.marketing_consent {
        Patch::Absent => {}
        Patch::Null => c.marketing_consent = None,
        Patch::Value(v) => {
            c.marketing_consent =
                parse_consent(&v, "marketing_consent", now, &mut errors).or(c.marketing_consent)
        }
    }
    match body.is_primary {
        Patch::Absent => {}
        Patch::Null => errors.add("is_primary", Invalid::Required),
        Patch::Value(v) => c.is_primary = v,
    }
    errors.finish()?;
    let saved = contacts::save(&tx, &c, now).await?;
    if saved.is_primary && !before.is_primary {
        contacts::clear_other_primaries(&tx, customer.id, saved.id).await?;
    }
    reindex(&tx, &customer).await?;
    let (before, saved) = (Contact::from(before), Contact::from(saved));
    audit::record_and_commit(
        tx,
        &state,
        &auth.origin,
        audit::Subject::of_customer("contact", saved.id, Some(saved.customer_id)),
        "update",
        audit::changes(Some(&before), Some(&saved)),
    )
    .await?;
    Ok(respond::ok(&saved, saved.version))
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
    let (contact, customer) = visible_contact(&tx, &auth, id.into_inner()).await?;
    if_match.check(contact.version)?;
    contacts::delete(&tx, contact.id).await?;
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

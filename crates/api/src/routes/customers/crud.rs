//! Customers: list, create, read, change, delete, restore.

use actix_web::{HttpResponse, delete, get, patch, post, web};
use chrono::{DateTime, Utc};
use rapport_domain::activity::{StageChange, Task, TaskOrigin};
use rapport_domain::customer::Customer as DomainCustomer;
use rapport_domain::enums::{
    Channel, CustomerKind, Grade, Industry, LifecycleStage, SizeBand, Source, TaskStatus,
};
use rapport_domain::name::OrgName;
use rapport_domain::registration_number::RegistrationNumber;
use rapport_domain::search::SearchQuery;
use rapport_domain::tag::{Tag, parse_tags};
use rapport_domain::validation::Errors;
use rapport_domain::web_url::WebUrl;
use rapport_domain::{Invalid, ValidationErrors};
use rapport_store::repos::customers::{self, CustomerFilter, CustomerSort};
use rapport_store::repos::{contacts, stage_changes, tasks};
use rapport_store::{Conn, SortDir};
use serde::Deserialize;
use serde_json::{Map, Value, json};
use utoipa::IntoParams;
use uuid::Uuid;

use super::access;
use super::input::{self, Description};
use super::types::{CreateCustomer, Customer, CustomerList, UpdateCustomer};
use super::write::{contact_from_fields, reindex};
use crate::audit;
use crate::auth::Authorized;
use crate::auth::scopes::{CustomersDelete, CustomersRead, CustomersWrite};
use crate::error::ApiError;
use crate::extract::{IfMatch, IfMatchParam, Json, Query};
use crate::pagination::{Paged, page_params};
use crate::patch::Patch;
use crate::respond;
use crate::state::AppState;

/// Filters, search, sort and paging of the customer list.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct CustomerListParams {
    /// Free text: name, contact names, emails, phones (typed any way) and registration number.
    /// Words match by prefix; Chinese matches any character or pair of characters.
    pub q: Option<String>,
    #[param(schema_with = crate::schemas::customer_kind)]
    pub kind: Option<String>,
    #[param(schema_with = crate::schemas::industry)]
    pub industry: Option<String>,
    #[param(schema_with = crate::schemas::size_band)]
    pub size: Option<String>,
    #[param(schema_with = crate::schemas::grade)]
    pub grade: Option<String>,
    #[param(schema_with = crate::schemas::lifecycle_stage)]
    pub lifecycle_stage: Option<String>,
    pub owner_id: Option<Uuid>,
    pub team_id: Option<Uuid>,
    pub tag: Option<String>,
    #[param(schema_with = crate::schemas::source)]
    pub source: Option<String>,
    #[param(schema_with = crate::schemas::channel)]
    pub channel: Option<String>,
    /// Created at or after.
    pub created_after: Option<DateTime<Utc>>,
    /// Created before.
    pub created_before: Option<DateTime<Utc>>,
    pub updated_after: Option<DateTime<Utc>>,
    pub updated_before: Option<DateTime<Utc>>,
    /// `true`: only leads whose first-contact due time has passed without a contact.
    pub first_contact_overdue: Option<bool>,
    /// `true`: list deleted customers (to restore them); needs `customers:delete`.
    pub deleted: Option<bool>,
    /// `name`, `created_at`, `updated_at` or `last_activity_at`; `-` for descending. Default
    /// `-created_at`; with `q`, the search index's order (newest entries first), which stays
    /// fast however many customers match.
    pub sort: Option<String>,
    /// 1 to 200, default 50.
    pub limit: Option<i64>,
    pub cursor: Option<String>,
}

/// `?allow_duplicate=true` creates the customer even when it looks like an existing one.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct CreateParams {
    pub allow_duplicate: Option<bool>,
}

const SORTS: &[&str] = &[
    "name",
    "-name",
    "created_at",
    "-created_at",
    "updated_at",
    "-updated_at",
    "last_activity_at",
    "-last_activity_at",
];

/// The sort of a list; with `q` and no `sort`, the search index's order.
fn parse_sort(
    sort: Option<&str>,
    searching: bool,
) -> Result<(CustomerSort, SortDir, &'static str), ApiError> {
    if sort.is_none() && searching {
        return Ok((CustomerSort::SearchOrder, SortDir::Desc, "search"));
    }
    let name = sort.unwrap_or("-created_at");
    let Some(canonical) = SORTS.iter().find(|s| **s == name) else {
        return Err(ApiError::BadParameters(ValidationErrors::single(
            "sort",
            Invalid::NotOneOf { allowed: SORTS },
        )));
    };
    let (dir, field) = match canonical.strip_prefix('-') {
        Some(field) => (SortDir::Desc, field),
        None => (SortDir::Asc, *canonical),
    };
    let sort = match field {
        "name" => CustomerSort::Name,
        "updated_at" => CustomerSort::UpdatedAt,
        "last_activity_at" => CustomerSort::LastActivityAt,
        _ => CustomerSort::CreatedAt,
    };
    Ok((sort, dir, canonical))
}

fn param<T>(
    errors: &mut Errors,
    name: &str,
    value: Option<&str>,
    parse: fn(&str) -> Result<T, Invalid>,
) -> Option<T> {
    input::opt_enum(errors, name, value, parse)
}

/// List customers.
///
/// A sales rep sees the customers it owns, a sales manager its team's, other roles all.
#[utoipa::path(
    tag = "customers",
    params(CustomerListParams),
    responses((status = 200, body = CustomerList)),
    security(("oauth2" = ["customers:read"]))
)]
#[get("/customers")]
pub async fn list_customers(
    state: web::Data<AppState>,
    auth: Authorized<CustomersRead>,
    params: Query<CustomerListParams>,
) -> Result<HttpResponse, ApiError> {
    let p = params.into_inner()?;
    let searching = p.q.as_deref().is_some_and(|q| !q.trim().is_empty());
    let (sort, dir, sort_name) = parse_sort(p.sort.as_deref(), searching)?;
    let (limit, cursor) = page_params(p.limit, p.cursor.as_deref(), sort_name)?;
    let mut errors = Errors::default();
    let filter = CustomerFilter {
        kind: param(&mut errors, "kind", p.kind.as_deref(), CustomerKind::parse),
        industry: param(
            &mut errors,
            "industry",
            p.industry.as_deref(),
            Industry::parse,
        ),
        size: param(&mut errors, "size", p.size.as_deref(), SizeBand::parse),
        grade: param(&mut errors, "grade", p.grade.as_deref(), Grade::parse),
        lifecycle_stage: param(
            &mut errors,
            "lifecycle_stage",
            p.lifecycle_stage.as_deref(),
            LifecycleStage::parse,
        ),
        owner_id: p.owner_id,
        team_id: p.team_id,
        tag: param(&mut errors, "tag", p.tag.as_deref(), Tag::parse).map(Tag::into_string),
        source: param(&mut errors, "source", p.source.as_deref(), Source::parse),
        channel: param(&mut errors, "channel", p.channel.as_deref(), Channel::parse),
        created_from: p.created_after,
        created_to: p.created_before,
        updated_from: p.updated_after,
        updated_to: p.updated_before,
        first_contact_overdue_at: p
            .first_contact_overdue
            .unwrap_or(false)
            .then(|| state.clock.now()),
        search: None,
        deleted: p.deleted.unwrap_or(false),
    };
    errors.finish().map_err(ApiError::BadParameters)?;
    if filter.deleted {
        auth.require(rapport_domain::auth::Scope::CustomersDelete)?;
    }
    let mut filter = filter;
    if let Some(q) = p.q.as_deref().filter(|q| !q.trim().is_empty()) {
        match SearchQuery::parse(q, state.settings.default_region) {
            Some(query) => filter.search = Some(query),
            // Nothing searchable in it (only punctuation): nothing matches.
            None => {
                return Ok(HttpResponse::Ok().json(CustomerList {
                    data: Vec::new(),
                    next_cursor: None,
                }));
            }
        }
    }
    let page = customers::list(
        state.store.conn(),
        auth.visibility(),
        &filter,
        sort,
        dir,
        cursor,
        limit,
    )
    .await?;
    Ok(HttpResponse::Ok().json(CustomerList::from(Paged::from_page(
        page,
        sort_name,
        Customer::from,
    ))))
}

/// Create a customer, optionally with its contacts.
///
/// A new lead gets `first_contact_due_at` and a follow-up task for its owner. A customer that
/// shares an email, phone or registration number with one the caller can see is refused with
/// 409 naming it (`duplicate_ids`), unless `allow_duplicate=true`.
#[utoipa::path(
    tag = "customers",
    params(CreateParams),
    request_body = CreateCustomer,
    responses(
        (status = 201, body = Customer, headers(("Location" = String), ("ETag" = String))),
        (status = 409, description = "Looks like an existing customer (`duplicate_ids`)", body = crate::error::Problem, content_type = "application/problem+json")
    ),
    security(("oauth2" = ["customers:write"]))
)]
#[post("/customers")]
pub async fn create_customer(
    state: web::Data<AppState>,
    auth: Authorized<CustomersWrite>,
    params: Query<CreateParams>,
    body: Json<CreateCustomer>,
) -> Result<HttpResponse, ApiError> {
    let params = params.into_inner()?;
    let body = body.into_inner()?;
    let now = state.clock.now();
    let db = state.store.conn();
    let mut errors = Errors::default();
    let parsed = input::customer(&body, state.settings.default_region, now, &mut errors);
    let (owner_id, team_id) =
        access::on_create(db, &auth, body.owner_id, body.team_id, &mut errors).await?;
    let (fields, contact_fields) = errors.finish_with(parsed)?;

    let customer = DomainCustomer {
        id: Uuid::now_v7(),
        name: fields.name,
        kind: fields.kind,
        industry: fields.industry,
        size: fields.size,
        grade: fields.grade,
        lifecycle_stage: fields.lifecycle_stage,
        owner_id,
        team_id,
        tags: fields.tags,
        source: fields.source,
        channel: fields.channel,
        website: fields.website,
        registration_number: fields.registration_number,
        country: fields.country,
        addresses: fields.addresses,
        external_ids: fields.external_ids,
        description: fields.description,
        first_contact_due_at: state
            .settings
            .lead_follow_up
            .due_at(fields.lifecycle_stage, now),
        first_contacted_at: None,
        last_activity_at: None,
        deleted_at: None,
        merged_into_id: None,
        erased_at: None,
        created_at: now,
        updated_at: now,
        version: 1,
    };
    let primary = contact_fields
        .iter()
        .position(|c| c.is_primary == Some(true))
        .unwrap_or(0);
    let contacts: Vec<_> = contact_fields
        .into_iter()
        .enumerate()
        .map(|(i, c)| contact_from_fields(c, customer.id, i == primary, now))
        .collect();

    if !params.allow_duplicate.unwrap_or(false) {
        let keys = customers::duplicate_keys(&customer, &contacts);
        let mut found = customers::find_duplicates(db, auth.visibility(), &keys, None).await?;
        if !found.is_empty() {
            found.sort();
            let mut extra = Map::new();
            extra.insert("duplicate_ids".into(), json!(found));
            return Err(ApiError::Conflict {
                code: "duplicate",
                detail: "A customer with the same email, phone or registration number exists; \
                         merge them, or create with allow_duplicate=true."
                    .into(),
                extra,
            });
        }
    }

    let tx = state.store.begin().await?;
    customers::insert(&tx, &customer).await?;
    contacts::insert_many(&tx, &contacts).await?;
    customers::reindex(&tx, &customer, &contacts).await?;
    record_stage(&tx, &customer, None, auth.user_id(), now).await?;
    if let (Some(due), Some(owner)) = (customer.first_contact_due_at, customer.owner_id) {
        tasks::insert(
            &tx,
            &follow_up_task(&customer, owner, due, auth.user_id(), now),
        )
        .await?;
    }
    let body = Customer::with_contacts(customer, contacts);
    audit::record(
        &tx,
        &state,
        &auth.origin,
        audit::Subject::customer(body.id),
        "create",
        audit::changes(None, Some(&body)),
    )
    .await?;
    rapport_store::commit(tx).await?;
    let location = format!("/v1/customers/{}", body.id);
    Ok(respond::created(&body, body.version, location))
}

/// The lead follow-up rule's task for a new lead's owner.
fn follow_up_task(
    customer: &DomainCustomer,
    owner: Uuid,
    due: DateTime<Utc>,
    by: Option<Uuid>,
    now: DateTime<Utc>,
) -> Task {
    Task {
        id: Uuid::now_v7(),
        title: format!("Follow up new lead: {}", customer.name),
        description: None,
        customer_id: Some(customer.id),
        contact_id: None,
        assignee_id: owner,
        due_at: Some(due),
        reminder_at: None,
        status: TaskStatus::Open,
        completed_at: None,
        origin: TaskOrigin::LeadFollowUp,
        created_by: by,
        created_at: now,
        updated_at: now,
        version: 1,
    }
}

async fn record_stage(
    db: &impl Conn,
    customer: &DomainCustomer,
    from: Option<LifecycleStage>,
    by: Option<Uuid>,
    now: DateTime<Utc>,
) -> Result<(), ApiError> {
    let change = StageChange {
        id: Uuid::now_v7(),
        customer_id: customer.id,
        from,
        to: customer.lifecycle_stage,
        changed_at: now,
        changed_by: by,
    };
    stage_changes::insert(db, &change).await?;
    Ok(())
}

/// Get a customer, with its contacts.
#[utoipa::path(
    tag = "customers",
    params(("id" = Uuid, Path)),
    responses((status = 200, body = Customer, headers(("ETag" = String)))),
    security(("oauth2" = ["customers:read"]))
)]
#[get("/customers/{id}")]
pub async fn get_customer(
    state: web::Data<AppState>,
    auth: Authorized<CustomersRead>,
    id: web::Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    let db = state.store.conn();
    let customer = access::visible(db, &auth, id.into_inner()).await?;
    let contacts = contacts::of_customer(db, customer.id).await?;
    let body = Customer::with_contacts(customer, contacts);
    Ok(respond::ok(&body, body.version))
}

/// Sets a required field from a patch: `null` is refused.
fn patch_required<T>(
    errors: &mut Errors,
    field: &str,
    patch: Patch<String>,
    slot: &mut T,
    parse: impl FnOnce(&str) -> Result<T, Invalid>,
) {
    match patch {
        Patch::Absent => {}
        Patch::Null => errors.add(field, Invalid::Required),
        Patch::Value(v) => {
            if let Some(value) = errors.check(field, parse(&v)) {
                *slot = value;
            }
        }
    }
}

/// Sets an optional field from a patch: `null` clears it.
fn patch_optional<T, U>(
    errors: &mut Errors,
    field: &str,
    patch: Patch<String>,
    slot: &mut Option<U>,
    parse: impl FnOnce(&str) -> Result<T, Invalid>,
    into: impl FnOnce(T) -> U,
) {
    match patch {
        Patch::Absent => {}
        Patch::Null => *slot = None,
        Patch::Value(v) => {
            if let Some(value) = errors.check(field, parse(&v)) {
                *slot = Some(into(value));
            }
        }
    }
}

/// Applies the plain fields of a change (everything but owner, team and stage).
fn apply_fields(
    c: &mut DomainCustomer,
    body: UpdateCustomer,
    region: rapport_domain::phone::Region,
    errors: &mut Errors,
) {
    let mut name = c.name.clone();
    patch_required(errors, "name", body.name, &mut name, |v| {
        OrgName::parse(v).map(OrgName::into_string)
    });
    c.name = name;
    patch_required(errors, "kind", body.kind, &mut c.kind, CustomerKind::parse);
    patch_required(errors, "grade", body.grade, &mut c.grade, Grade::parse);
    patch_optional(
        errors,
        "industry",
        body.industry,
        &mut c.industry,
        Industry::parse,
        |v| v,
    );
    patch_optional(
        errors,
        "size",
        body.size,
        &mut c.size,
        SizeBand::parse,
        |v| v,
    );
    patch_optional(
        errors,
        "source",
        body.source,
        &mut c.source,
        Source::parse,
        |v| v,
    );
    patch_optional(
        errors,
        "channel",
        body.channel,
        &mut c.channel,
        Channel::parse,
        |v| v,
    );
    patch_optional(
        errors,
        "website",
        body.website,
        &mut c.website,
        WebUrl::parse,
        WebUrl::into_string,
    );
    patch_optional(
        errors,
        "description",
        body.description,
        &mut c.description,
        Description::parse,
        |d| d.into_string(),
    );
    patch_optional(
        errors,
        "country",
        body.country,
        &mut c.country,
        rapport_domain::country::CountryCode::parse,
        |v| v,
    );
    match body.tags {
        Patch::Absent => {}
        Patch::Null => c.tags = Vec::new(),
        Patch::Value(tags) => c.tags = parse_tags(&tags, "tags", errors),
    }
    match body.addresses {
        Patch::Absent => {}
        Patch::Null => c.addresses = Vec::new(),
        Patch::Value(a) => {
            if let Some(addresses) = input::addresses(&a, errors) {
                c.addresses = addresses;
            }
        }
    }
    match body.external_ids {
        Patch::Absent => {}
        Patch::Null => c.external_ids.clear(),
        Patch::Value(ids) => {
            if let Some(ids) = input::external_ids(&ids, errors) {
                c.external_ids = ids;
            }
        }
    }
    // The registration number is checked against the country as it is after this change.
    let country = input::registration_country(c.country, &Some(c.addresses.clone()), region);
    patch_optional(
        errors,
        "registration_number",
        body.registration_number,
        &mut c.registration_number,
        |v| RegistrationNumber::parse(v, country.as_ref()),
        RegistrationNumber::into_string,
    );
}

/// Change a customer.
///
/// Lifecycle stages move `lead → prospect → customer → loyal`, to `churned` from any stage,
/// and from `churned` back to `prospect`; other moves answer 409 with `allowed_stages`.
/// Reassigning the owner needs a sales manager (within its team) or an admin.
#[utoipa::path(
    tag = "customers",
    params(("id" = Uuid, Path), IfMatchParam),
    request_body = UpdateCustomer,
    responses(
        (status = 200, body = Customer, headers(("ETag" = String))),
        (status = 409, description = "A lifecycle move the rules forbid (`allowed_stages`)", body = crate::error::Problem, content_type = "application/problem+json")
    ),
    security(("oauth2" = ["customers:write"]))
)]
#[patch("/customers/{id}")]
pub async fn update_customer(
    state: web::Data<AppState>,
    auth: Authorized<CustomersWrite>,
    id: web::Path<Uuid>,
    if_match: IfMatch,
    body: Json<UpdateCustomer>,
) -> Result<HttpResponse, ApiError> {
    let body = body.into_inner()?;
    let now = state.clock.now();
    let tx = state.store.begin().await?;
    let before = access::visible(&tx, &auth, id.into_inner()).await?;
    if_match.check(before.version)?;
    let mut after = before.clone();
    let mut errors = Errors::default();
    let (owner, team, stage) = (
        body.owner_id.clone(),
        body.team_id.clone(),
        body.lifecycle_stage.clone(),
    );
    apply_fields(&mut after, body, state.settings.default_region, &mut errors);
    let (owner_id, team_id) =
        access::on_update(&tx, &auth, &before, owner, team, &mut errors).await?;
    after.owner_id = owner_id;
    after.team_id = team_id;
    let new_stage = match stage {
        Patch::Absent => None,
        Patch::Null => {
            errors.add("lifecycle_stage", Invalid::Required);
            None
        }
        Patch::Value(v) => errors.check("lifecycle_stage", LifecycleStage::parse(&v)),
    };
    errors.finish()?;
    if let Some(to) = new_stage.filter(|to| *to != before.lifecycle_stage) {
        after.lifecycle_stage = before.lifecycle_stage.transition(to).map_err(|e| {
            let mut extra = Map::new();
            extra.insert("from".into(), Value::from(e.from.as_str()));
            extra.insert("to".into(), Value::from(e.to.as_str()));
            extra.insert(
                "allowed_stages".into(),
                json!(e.allowed.iter().map(|s| s.as_str()).collect::<Vec<_>>()),
            );
            ApiError::Conflict {
                code: "invalid_transition",
                detail: format!("A customer cannot move from `{}` to `{}`.", e.from, e.to),
                extra,
            }
        })?;
    }
    let saved = customers::save(&tx, &after, now).await?;
    if saved.lifecycle_stage != before.lifecycle_stage {
        record_stage(
            &tx,
            &saved,
            Some(before.lifecycle_stage),
            auth.user_id(),
            now,
        )
        .await?;
    }
    let contacts = reindex(&tx, &saved).await?;
    let (before, body) = (
        Customer::from(before),
        Customer::with_contacts(saved, contacts),
    );
    audit::record(
        &tx,
        &state,
        &auth.origin,
        audit::Subject::customer(body.id),
        "update",
        audit::changes(
            Some(&before),
            Some(&Customer {
                contacts: None,
                ..body.clone()
            }),
        ),
    )
    .await?;
    rapport_store::commit(tx).await?;
    Ok(respond::ok(&body, body.version))
}

/// Delete a customer (soft: `POST /v1/customers/{id}/restore` undoes it).
#[utoipa::path(
    tag = "customers",
    params(("id" = Uuid, Path), IfMatchParam),
    responses((status = 204, description = "Deleted")),
    security(("oauth2" = ["customers:delete"]))
)]
#[delete("/customers/{id}")]
pub async fn delete_customer(
    state: web::Data<AppState>,
    auth: Authorized<CustomersDelete>,
    id: web::Path<Uuid>,
    if_match: IfMatch,
) -> Result<HttpResponse, ApiError> {
    let now = state.clock.now();
    let tx = state.store.begin().await?;
    let before = access::visible(&tx, &auth, id.into_inner()).await?;
    if_match.check(before.version)?;
    let saved = customers::save(
        &tx,
        &DomainCustomer {
            deleted_at: Some(now),
            ..before.clone()
        },
        now,
    )
    .await?;
    let (before, after) = (Customer::from(before), Customer::from(saved));
    audit::record(
        &tx,
        &state,
        &auth.origin,
        audit::Subject::customer(after.id),
        "delete",
        audit::changes(Some(&before), Some(&after)),
    )
    .await?;
    rapport_store::commit(tx).await?;
    Ok(HttpResponse::NoContent().finish())
}

/// Restore a deleted customer.
#[utoipa::path(
    tag = "customers",
    params(("id" = Uuid, Path)),
    responses(
        (status = 200, body = Customer),
        (status = 409, description = "Not deleted, or erased", body = crate::error::Problem, content_type = "application/problem+json")
    ),
    security(("oauth2" = ["customers:delete"]))
)]
#[post("/customers/{id}/restore")]
pub async fn restore_customer(
    state: web::Data<AppState>,
    auth: Authorized<CustomersDelete>,
    id: web::Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    let now = state.clock.now();
    let tx = state.store.begin().await?;
    let before = access::any_visible(&tx, &auth, id.into_inner()).await?;
    if before.deleted_at.is_none() {
        return Err(ApiError::conflict(
            "conflict",
            "The customer is not deleted.",
        ));
    }
    let restored = DomainCustomer {
        deleted_at: None,
        merged_into_id: None,
        ..before.clone()
    };
    let saved = customers::save(&tx, &restored, now).await?;
    let contacts = reindex(&tx, &saved).await?;
    let before = Customer::from(before);
    let body = Customer::with_contacts(saved, contacts);
    audit::record(
        &tx,
        &state,
        &auth.origin,
        audit::Subject::customer(body.id),
        "restore",
        audit::changes(
            Some(&before),
            Some(&Customer {
                contacts: None,
                ..body.clone()
            }),
        ),
    )
    .await?;
    rapport_store::commit(tx).await?;
    Ok(respond::ok(&body, body.version))
}

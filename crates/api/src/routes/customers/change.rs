//! Reading, changing, deleting and restoring a customer.

use actix_web::{HttpResponse, delete, get, patch, post, web};
use rapport_domain::country::CountryCode;
use rapport_domain::customer::{
    Customer as DomainCustomer, Description, read_addresses, read_external_ids,
    registration_country,
};
use rapport_domain::enums::{
    Channel, CustomerKind, Grade, Industry, LifecycleStage, SizeBand, Source,
};
use rapport_domain::name::OrgName;
use rapport_domain::phone::Region;
use rapport_domain::registration_number::RegistrationNumber;
use rapport_domain::tag::parse_tags;
use rapport_domain::validation::Errors;
use rapport_domain::web_url::WebUrl;
use rapport_store::Tx;
use rapport_store::repos::tasks;
use rapport_store::repos::{self};
use uuid::Uuid;

use super::access;
use super::input;
use super::types::{Customer, UpdateCustomer};
use super::write::{record_grade, record_stage, reindex};
use crate::audit;
use crate::auth::Authorized;
use crate::auth::scopes::{CustomersDelete, CustomersRead, CustomersWrite};
use crate::error::{ApiError, ProblemCode};
use crate::extract::{IfMatch, IfMatchParam, Json};
use crate::i18n::Text;
use crate::patch::Patch;
use crate::references;
use crate::respond;
use crate::state::AppState;

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
    let (customer, contacts) =
        access::visible_with_contacts(state.store.conn(), &auth, id.into_inner()).await?;
    let body = Customer::with_contacts(customer, contacts);
    Ok(respond::ok(&body, body.version))
}

/// Applies the plain fields of a change (everything but owner, team and stage).
fn apply_fields(c: &mut DomainCustomer, body: UpdateCustomer, region: Region, errors: &mut Errors) {
    body.name
        .required(errors, "name", &mut c.name, OrgName::parse);
    body.kind
        .required(errors, "kind", &mut c.kind, CustomerKind::parse);
    if !body.grade.is_absent() {
        c.grade_locked = true;
    }
    body.grade
        .required(errors, "grade", &mut c.grade, Grade::parse);
    if let Some(locked) = body.grade_locked.into_required(errors, "grade_locked") {
        c.grade_locked = locked;
    }
    body.industry
        .optional(errors, "industry", &mut c.industry, Industry::parse);
    body.size
        .optional(errors, "size", &mut c.size, SizeBand::parse);
    body.source
        .optional(errors, "source", &mut c.source, Source::parse);
    body.channel
        .optional(errors, "channel", &mut c.channel, Channel::parse);
    body.website
        .optional(errors, "website", &mut c.website, WebUrl::parse);
    body.description.optional(
        errors,
        "description",
        &mut c.description,
        Description::parse,
    );
    body.country
        .optional(errors, "country", &mut c.country, CountryCode::parse);
    body.tags.collection(errors, &mut c.tags, |tags, e| {
        Some(parse_tags(&tags, "tags", e))
    });
    body.addresses.collection(errors, &mut c.addresses, |a, e| {
        read_addresses(&input::addresses(&a), e)
    });
    body.external_ids
        .collection(errors, &mut c.external_ids, |ids, e| {
            read_external_ids(&ids, e)
        });
    // The registration number is checked against the country as it is after this change.
    let country = registration_country(c.country, &c.addresses, region);
    body.registration_number.optional(
        errors,
        "registration_number",
        &mut c.registration_number,
        |v| RegistrationNumber::parse(v, country.as_ref()),
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
    let tx = state.store.begin().await?;
    let body = update(&tx, &state, &auth, id.into_inner(), body, Some(&if_match)).await?;
    audit::commit(tx, &state, &auth.origin).await?;
    Ok(respond::ok(&body, body.version))
}

/// Applies a change to customer `id` on `tx`, audited: the change request's work, and a
/// batch item's. Every refusal comes before the first write.
///
/// # Errors
/// 404 when the caller cannot change it, 412 on a stale `if_match`, 422 for invalid fields,
/// 409 for a lifecycle move the rules forbid.
pub(crate) async fn update(
    tx: &Tx,
    state: &AppState,
    auth: &Authorized<CustomersWrite>,
    id: Uuid,
    body: UpdateCustomer,
    if_match: Option<&IfMatch>,
) -> Result<Customer, ApiError> {
    let now = state.clock.now();
    let before = access::to_change(tx, auth, id).await?;
    if let Some(if_match) = if_match {
        if_match.check(before.version)?;
    }
    let mut after = before.clone();
    let mut errors = Errors::default();
    let (owner, team, stage, campaign) = (
        body.owner_id.clone(),
        body.team_id.clone(),
        body.lifecycle_stage.clone(),
        body.campaign_id.clone(),
    );
    apply_fields(&mut after, body, state.settings.default_region, &mut errors);
    match campaign {
        Patch::Value(id) => {
            let found = rapport_store::repos::campaigns::get(tx, id).await;
            if let Some(c) = references::known("campaign_id", found, &mut errors)? {
                after.campaign_id = Some(c.id);
            }
        }
        Patch::Null => after.campaign_id = None,
        Patch::Absent => {}
    }
    let (owner_id, team_id) = access::on_update(
        tx,
        auth,
        (before.owner_id, before.team_id),
        owner,
        team,
        &mut errors,
    )
    .await?;
    after.owner_id = owner_id;
    after.team_id = team_id;
    let new_stage = stage
        .into_required(&mut errors, "lifecycle_stage")
        .and_then(|v| errors.check("lifecycle_stage", LifecycleStage::parse(&v)));
    errors.finish()?;
    if let Some(to) = new_stage.filter(|to| *to != before.lifecycle_stage) {
        after.lifecycle_stage = before.lifecycle_stage.transition(to).map_err(|e| {
            let allowed: Vec<&str> = e.allowed.iter().map(|s| s.as_str()).collect();
            ApiError::invalid_transition(
                Text::new(
                    format!("A customer cannot move from `{}` to `{}`.", e.from, e.to),
                    format!("客户不能从 `{}` 变更为 `{}`。", e.from, e.to),
                ),
                e.from.as_str(),
                e.to.as_str(),
                "allowed_stages",
                &allowed,
            )
        })?;
    }
    let saved = repos::save(tx, &after, now).await?;
    // The lead follow-up task is the owner's: a new owner takes it over.
    if let Some(owner) = saved.owner_id.filter(|o| Some(*o) != before.owner_id) {
        tasks::reassign_lead_follow_ups(tx, saved.id, owner, now).await?;
    }
    if saved.lifecycle_stage != before.lifecycle_stage {
        record_stage(
            tx,
            &saved,
            Some(before.lifecycle_stage),
            auth.user_id(),
            now,
        )
        .await?;
    }
    if saved.grade != before.grade {
        record_grade(tx, &saved, Some(before.grade), auth.user_id(), now).await?;
    }
    let contacts = reindex(tx, &saved).await?;
    let (before, body) = (
        Customer::from(before),
        Customer::with_contacts(saved, contacts),
    );
    audit::record(
        tx,
        state,
        &auth.origin,
        audit::Subject::customer(body.id),
        "update",
        audit::changes(Some(&before), Some(&body.without_contacts())),
    )
    .await?;
    Ok(body)
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
    let before = access::to_change(&tx, &auth, id.into_inner()).await?;
    if_match.check(before.version)?;
    let saved = repos::save(
        &tx,
        &DomainCustomer {
            deleted_at: Some(now),
            ..before.clone()
        },
        now,
    )
    .await?;
    // Its duplicate keys go (it is nobody's duplicate while deleted); its tags stay.
    reindex(&tx, &saved).await?;
    let (before, after) = (Customer::from(before), Customer::from(saved));
    audit::record_and_commit(
        tx,
        &state,
        &auth.origin,
        audit::Subject::customer(after.id),
        "delete",
        audit::changes(Some(&before), Some(&after)),
    )
    .await?;
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
    let before = access::any_to_change(&tx, &auth, id.into_inner()).await?;
    if before.deleted_at.is_none() {
        return Err(ApiError::conflict(
            ProblemCode::Conflict,
            Text::new("The customer is not deleted.", "该客户未被删除。"),
        ));
    }
    // A merged duplicate's records belong to its survivor now, and an erased customer stays
    // erased: neither comes back.
    if before.merged_into_id.is_some() || before.erased_at.is_some() {
        return Err(ApiError::conflict(
            ProblemCode::Conflict,
            Text::new(
                "A merged or erased customer cannot be restored.",
                "已合并或已擦除的客户无法恢复。",
            ),
        ));
    }
    let restored = DomainCustomer {
        deleted_at: None,
        ..before.clone()
    };
    let saved = repos::save(&tx, &restored, now).await?;
    let contacts = reindex(&tx, &saved).await?;
    let before = Customer::from(before);
    let body = Customer::with_contacts(saved, contacts);
    audit::record_and_commit(
        tx,
        &state,
        &auth.origin,
        audit::Subject::customer(body.id),
        "restore",
        audit::changes(Some(&before), Some(&body.without_contacts())),
    )
    .await?;
    Ok(respond::ok(&body, body.version))
}

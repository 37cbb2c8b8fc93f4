//! Creating customers, with their contacts, the lead follow-up rule and duplicate checks.

use actix_web::{HttpResponse, post, web};
use rapport_domain::activity::Task;
use rapport_domain::customer::{Creation, Customer as DomainCustomer};
use rapport_domain::enums::LifecycleStage;
use rapport_domain::validation::Errors;
use rapport_store::Tx;
use rapport_store::repos::assignment::{self, Work};
use rapport_store::repos::customers::{self};
use rapport_store::repos::{contacts, tasks};
use serde::Deserialize;
use serde_json::{Map, json};
use utoipa::IntoParams;
use uuid::Uuid;

use super::access;
use super::types::{CreateCustomer, Customer};
use super::write::{record_grade, record_stage};
use crate::audit;
use crate::auth::Authorized;
use crate::auth::scopes::CustomersWrite;
use crate::error::{ApiError, ProblemCode};
use crate::extract::{Json, Query};
use crate::i18n::Text;
use crate::references;
use crate::respond;
use crate::state::AppState;

/// `?allow_duplicate=true` creates the customer even when it looks like an existing one.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct CreateParams {
    pub allow_duplicate: Option<bool>,
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
    // Everything from the checks to the write happens in one transaction, so two requests
    // with the same email cannot both pass the duplicate check.
    let tx = state.store.begin().await?;
    let body = create(
        &tx,
        &state,
        &auth,
        body,
        params.allow_duplicate.unwrap_or(false),
    )
    .await?;
    audit::commit(tx, &state, &auth.origin).await?;
    let location = format!("/v1/customers/{}", body.id);
    Ok(respond::created(&body, body.version, location))
}

/// Creates a customer and its contacts on `tx`, audited: the create request's work, and a
/// batch item's. Every refusal comes before the first write.
///
/// # Errors
/// 422 for invalid fields, 409 for a likely duplicate (unless `allow_duplicate`), 404 for an
/// owner or team the caller cannot give it to.
pub(super) async fn create(
    tx: &Tx,
    state: &AppState,
    auth: &Authorized<CustomersWrite>,
    body: CreateCustomer,
    allow_duplicate: bool,
) -> Result<Customer, ApiError> {
    let now = state.clock.now();
    let mut errors = Errors::default();
    let (owner_id, team_id) =
        access::on_create(tx, auth, body.owner_id, body.team_id, &mut errors).await?;
    // One reference check, only for a lead of a campaign.
    let campaign_id = match body.campaign_id {
        Some(id) => references::known(
            "campaign_id",
            rapport_store::repos::campaigns::get(tx, id).await,
            &mut errors,
        )?
        .map(|c| c.id),
        None => None,
    };
    let creation = Creation {
        owner_id,
        team_id,
        campaign_id,
        region: state.settings.default_region,
        lead_follow_up: state.settings.lead_follow_up,
        now,
        new_id: Uuid::now_v7,
    };
    let (customer, contacts) =
        errors.finish_with_result(DomainCustomer::create(&body.raw(), &creation))?;

    if !allow_duplicate {
        let keys = customers::duplicate_keys(&customer, &contacts)?;
        customers::lock_keys(tx, &keys).await?;
        let mut found = customers::find_duplicates(tx, auth.visibility(), &keys, None).await?;
        if !found.is_empty() {
            found.sort();
            let mut extra = Map::new();
            extra.insert("duplicate_ids".into(), json!(found));
            return Err(ApiError::Conflict {
                code: ProblemCode::Duplicate,
                detail: Text::new(
                    "A customer with the same email, phone or registration number exists; merge \
                     them, or create with allow_duplicate=true.",
                    "已存在电子邮件、电话或注册号相同的客户；请合并，或使用 allow_duplicate=true \
                     创建。",
                ),
                extra,
            });
        }
    }

    let mut customer = customer;
    // A lead nobody owns (an integration's) goes to its team's sales reps by the team's rule.
    if let (None, Some(team), LifecycleStage::Lead) = (
        customer.owner_id,
        customer.team_id,
        customer.lifecycle_stage,
    ) {
        customer.owner_id = assignment::pick(tx, team, Work::Lead).await?;
    }
    customers::insert(tx, &customer).await?;
    contacts::insert_many(tx, &contacts).await?;
    customers::index_new(tx, &customer, &contacts).await?;
    record_stage(tx, &customer, None, auth.user_id(), now).await?;
    if customer.grade_locked {
        record_grade(tx, &customer, None, auth.user_id(), now).await?;
    }
    if let (Some(due), Some(owner)) = (customer.first_contact_due_at, customer.owner_id) {
        tasks::insert(
            tx,
            &Task::lead_follow_up(&customer, owner, due, auth.user_id(), now, Uuid::now_v7()),
        )
        .await?;
    }
    let body = Customer::with_contacts(customer, contacts);
    // Each contact's own creation too: its history starts here, and `contact.created` fires.
    for contact in body.contacts.iter().flatten() {
        audit::record(
            tx,
            state,
            &auth.origin,
            audit::Subject::of_customer("contact", contact.id, Some(body.id)),
            "create",
            audit::changes(None, Some(contact)),
        )
        .await?;
    }
    audit::record(
        tx,
        state,
        &auth.origin,
        audit::Subject::customer(body.id),
        "create",
        audit::changes(None, Some(&body)),
    )
    .await?;
    Ok(body)
}

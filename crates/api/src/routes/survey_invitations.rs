//! Invitations to answer a survey, sent by hand, one or a batch (`surveys:write`), and read
//! with `surveys:read` for customers the caller sees. An invitation's `token` and `url` are in
//! the answer that creates it, and never again.

use actix_web::{HttpResponse, get, post, web};
use chrono::{DateTime, Utc};
use rapport_domain::auth::Scope;
use rapport_domain::enums::{Grade, LifecycleStage};
use rapport_domain::opportunity::Opportunity;
use rapport_domain::survey::{
    Invitation as DomainInvitation, InvitationOrigin, InvitationStatus, SkipReason,
    Survey as DomainSurvey, answer_json,
};
use rapport_domain::validation::{Errors, Invalid};
use rapport_store::repos::customers::{self, CustomerFilter, CustomerSort};
use rapport_store::repos::{self, Lock, contacts, survey_invitations, surveys, tickets};
use rapport_store::{Conn, ReadConn, SortDir, StoreError, Tx};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_actix_web::service_config::ServiceConfig;
use uuid::Uuid;

use crate::audit;
use crate::auth::scopes::{SurveysRead, SurveysWrite};
use crate::auth::{Authorized, Caller};
use crate::error::{ApiError, ProblemCode};
use crate::extract::{Json, Query, code_param, user_param};
use crate::feed;
use crate::invitations::{self, About, Invite, Issued, Outcome};
use crate::middleware::idempotency::ShowOnce;
use crate::pagination::{Paged, page_params};
use crate::respond;
use crate::routes::customers::access;
use crate::routes::surveys::check_current;
use crate::schemas;
use crate::state::AppState;

pub fn configure(cfg: &mut ServiceConfig) {
    cfg.service(list_invitations)
        .service(create_invitation)
        .service(create_invitations)
        .service(get_invitation);
}

/// What an invitation's creating answer holds and nothing keeps (not even an idempotent
/// replay).
const SHOW_ONCE: ShowOnce = ShowOnce(&["token", "url"]);

/// The most invitations one batch sends.
const MAX_BATCH: usize = 200;

/// One answer of an answered invitation.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct InvitationAnswer {
    #[schema(example = "speed")]
    pub question_id: String,
    /// A number (csat, nps, rating), a string (text, single choice) or a list of codes.
    #[schema(value_type = Object)]
    pub value: serde_json::Value,
}

/// An invitation to answer a survey.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Invitation {
    pub id: Uuid,
    pub survey_id: Uuid,
    pub contact_id: Uuid,
    pub customer_id: Uuid,
    pub ticket_id: Option<Uuid>,
    pub opportunity_id: Option<Uuid>,
    pub order_id: Option<Uuid>,
    #[schema(schema_with = schemas::invitation_origin)]
    pub trigger: String,
    #[schema(schema_with = schemas::invitation_status)]
    pub status: String,
    pub expires_at: DateTime<Utc>,
    pub opened_at: Option<DateTime<Utc>>,
    pub answered_at: Option<DateTime<Utc>>,
    /// When its link was emailed (`null`: no email, or not yet).
    pub emailed_at: Option<DateTime<Utc>>,
    /// The ticket a low score opened.
    pub follow_up_ticket_id: Option<Uuid>,
    /// `null` until answered.
    pub answers: Option<Vec<InvitationAnswer>>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub version: i32,
}

impl Invitation {
    /// As shown at `now` (an unanswered one past its expiry is `expired`); `survey` names its
    /// questions' kinds.
    pub fn new(i: DomainInvitation, survey: Option<&DomainSurvey>, now: DateTime<Utc>) -> Self {
        let answers = i.answers.as_ref().map(|answers| {
            answers
                .iter()
                .map(|a| {
                    let question =
                        survey.and_then(|s| s.questions.iter().find(|q| q.id == a.question_id));
                    InvitationAnswer {
                        question_id: a.question_id.to_string(),
                        value: answer_json(question, &a.value),
                    }
                })
                .collect()
        });
        Invitation {
            id: i.id,
            survey_id: i.survey_id,
            contact_id: i.contact_id,
            customer_id: i.customer_id,
            ticket_id: i.ticket_id,
            opportunity_id: i.opportunity_id,
            order_id: i.order_id,
            trigger: i.origin.as_str().to_owned(),
            status: i.status_at(now).as_str().to_owned(),
            expires_at: i.expires_at,
            opened_at: i.opened_at,
            answered_at: i.answered_at,
            emailed_at: i.emailed_at,
            follow_up_ticket_id: i.follow_up_ticket_id,
            answers,
            created_at: i.created_at,
            updated_at: i.updated_at,
            version: i.version,
        }
    }
}

crate::list_type!(InvitationList, Invitation);

/// A new invitation, with what to give the customer: answered once, never again.
#[derive(Debug, Serialize, ToSchema)]
pub struct IssuedInvitation {
    #[serde(flatten)]
    pub invitation: Invitation,
    /// The invitation's secret: 43 characters, base64url.
    pub token: String,
    /// The link to give the contact (`RAPPORT_SURVEY_URL` with the token).
    pub url: String,
}

/// Invite a contact.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateInvitation {
    #[schema(required = true)]
    pub contact_id: Option<Uuid>,
    /// A ticket of the contact's customer the survey is about (or an opportunity: one at most).
    pub ticket_id: Option<Uuid>,
    /// An opportunity of the contact's customer the survey is about.
    pub opportunity_id: Option<Uuid>,
}

/// Which customers a batch invites: the primary contact of each one the caller sees that
/// matches every given field (200 at most).
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CustomerSelection {
    #[schema(schema_with = schemas::lifecycle_stage_or_null)]
    pub lifecycle_stage: Option<String>,
    #[schema(schema_with = schemas::grade_or_null)]
    pub grade: Option<String>,
    pub tag: Option<String>,
    /// A user id, or `me`.
    #[schema(schema_with = schemas::user_or_me_or_null)]
    pub owner_id: Option<String>,
    pub team_id: Option<Uuid>,
}

/// Invite several contacts: `contact_ids`, or the primary contacts of the customers a
/// `filter` selects (one of them).
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateInvitations {
    /// 1 to 200 contacts.
    pub contact_ids: Option<Vec<Uuid>>,
    pub filter: Option<CustomerSelection>,
}

/// A contact a batch did not invite, and why.
#[derive(Debug, Serialize, ToSchema)]
pub struct Skipped {
    /// `null` when the customer has no primary contact.
    pub contact_id: Option<Uuid>,
    pub customer_id: Option<Uuid>,
    #[schema(schema_with = schemas::skip_reason)]
    pub reason: String,
}

/// What a batch did.
#[derive(Debug, Serialize, ToSchema)]
pub struct InvitationBatch {
    pub invited: Vec<IssuedInvitation>,
    pub skipped: Vec<Skipped>,
}

/// Filters of a survey's invitations.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct InvitationListParams {
    #[param(schema_with = schemas::invitation_status)]
    pub status: Option<String>,
    /// 1 to 200, default 50.
    pub limit: Option<i64>,
    pub cursor: Option<String>,
    /// The change feed: every invitation changed at or after this time (sent, opened,
    /// answered), oldest change first, each at its latest version. Changes show once they are
    /// 5 seconds old. Walk the pages with `cursor`; at the end, ask again with the last
    /// `updated_at` you saw (keep the highest `version`). Invitations are never deleted;
    /// those of a deleted customer leave the feed with it. Takes `status` (an invitation
    /// that expires by date alone has not changed).
    #[param(example = "2026-12-01T00:00:00Z")]
    pub updated_since: Option<DateTime<Utc>>,
}

/// The survey to invite to: the newest version only.
async fn current_survey(db: &impl Conn, id: Uuid) -> Result<DomainSurvey, ApiError> {
    let survey = surveys::get(db, id).await?;
    check_current(&survey)?;
    Ok(survey)
}

fn issued(state: &AppState, issued: Issued, survey: &DomainSurvey) -> IssuedInvitation {
    let now = issued.invitation.created_at;
    IssuedInvitation {
        url: invitations::link(&state.settings.survey_url, &issued.token),
        token: issued.token,
        invitation: Invitation::new(issued.invitation, Some(survey), now),
    }
}

async fn record_sent(
    tx: &Tx,
    state: &AppState,
    caller: &Caller,
    sent: &IssuedInvitation,
) -> Result<(), ApiError> {
    audit::record(
        tx,
        state,
        &caller.origin,
        audit::Subject::of_customer(
            "survey_invitation",
            sent.invitation.id,
            Some(sent.invitation.customer_id),
        ),
        "create",
        audit::changes(None, Some(&sent.invitation)),
    )
    .await
}

/// The ticket or opportunity a new invitation names (one at most), checked to be of
/// `customer_id` and visible to the caller (its scope, and for a ticket the caller's view of
/// tickets): anything else is an unknown reference.
async fn about(
    db: &impl Conn,
    caller: &Caller,
    body: &CreateInvitation,
    customer_id: Uuid,
    errors: &mut Errors,
) -> Result<About, ApiError> {
    let mut about = About::default();
    if body.ticket_id.is_some() && body.opportunity_id.is_some() {
        errors.add("opportunity_id", Invalid::NotAllowed);
        return Ok(about);
    }
    if let Some(id) = body.ticket_id {
        let seen = caller.scopes.contains(Scope::TicketsRead);
        match tickets::get(db, id).await {
            Ok(t) if seen && t.customer_id == customer_id && caller.ticket_view().allows(&t) => {
                about.ticket = Some(t);
            }
            Ok(_) | Err(StoreError::NotFound) => errors.add("ticket_id", Invalid::UnknownReference),
            Err(e) => return Err(e.into()),
        }
    }
    if let Some(id) = body.opportunity_id {
        // The customer is one the caller sees, and so are its opportunities.
        let seen = caller.scopes.contains(Scope::OpportunitiesRead);
        match repos::fetch::<Opportunity>(db, id, Lock::No).await {
            Ok(o) if seen && o.customer_id == customer_id => about.opportunity = Some(o),
            Ok(_) | Err(StoreError::NotFound) => {
                errors.add("opportunity_id", Invalid::UnknownReference);
            }
            Err(e) => return Err(e.into()),
        }
    }
    Ok(about)
}

/// The customer of contact `id`, when the caller sees both.
async fn contact_customer(
    db: &impl Conn,
    caller: &Caller,
    id: Uuid,
) -> Result<Option<rapport_domain::customer::Customer>, ApiError> {
    let contact = match contacts::get(db, id).await {
        Ok(c) => c,
        Err(StoreError::NotFound) => return Ok(None),
        Err(e) => return Err(e.into()),
    };
    match access::visible(db, caller, contact.customer_id).await {
        Ok(c) => Ok(Some(c)),
        Err(ApiError::NotFound) => Ok(None),
        Err(e) => Err(e),
    }
}

fn skipped(reason: SkipReason) -> ApiError {
    ApiError::conflict_of(match reason {
        SkipReason::ConsentWithdrawn => ProblemCode::ConsentWithdrawn,
        _ => ProblemCode::QuietPeriod,
    })
}

/// Invite a contact to answer a survey: the answer holds the invitation's `token` and `url`,
/// shown this once. With `RAPPORT_SMTP_URL` set, a contact with an email address also gets the
/// link by email. 409 `quiet_period` when the contact was invited within the survey's
/// `quiet_days`, `consent_withdrawn` when it withdrew its consent. Audited.
#[utoipa::path(
    tag = "surveys",
    params(("id" = Uuid, Path)),
    request_body = CreateInvitation,
    responses((status = 201, body = IssuedInvitation, headers(("Location" = String), ("ETag" = String)))),
    security(("oauth2" = ["surveys:write"]))
)]
#[post("/surveys/{id}/invitations")]
async fn create_invitation(
    state: web::Data<AppState>,
    auth: Authorized<SurveysWrite>,
    id: web::Path<Uuid>,
    body: Json<CreateInvitation>,
) -> Result<HttpResponse, ApiError> {
    let body = body.into_inner()?;
    let now = state.clock.now();
    let tx = state.store.begin().await?;
    let survey = current_survey(&tx, id.into_inner()).await?;
    let mut errors = Errors::default();
    let customer = match body.contact_id {
        None => {
            errors.add("contact_id", Invalid::Required);
            None
        }
        Some(contact) => {
            let found = contact_customer(&tx, &auth, contact).await?;
            if found.is_none() {
                errors.add("contact_id", Invalid::UnknownReference);
            }
            found
        }
    };
    let about = match &customer {
        Some(c) => about(&tx, &auth, &body, c.id, &mut errors).await?,
        None => About::default(),
    };
    let (customer, contact_id) = errors.finish_with(customer.zip(body.contact_id))?;
    let invite = Invite {
        survey: &survey,
        contact_id,
        customer: &customer,
        about,
        origin: InvitationOrigin::Manual,
        trigger: None,
    };
    let sent = match invitations::invite(&tx, invite, state.settings.send_email, now).await? {
        Outcome::Issued(i) => issued(&state, *i, &survey),
        Outcome::Skipped(reason) => return Err(skipped(reason)),
        Outcome::AlreadyInvited => return Err(ApiError::internal("manual invitation", "keyed")),
    };
    record_sent(&tx, &state, &auth, &sent).await?;
    audit::commit(tx, &state, &auth.origin).await?;
    let location = format!(
        "/v1/surveys/{}/invitations/{}",
        survey.id, sent.invitation.id
    );
    let mut res = respond::created(&sent, sent.invitation.version, location);
    res.extensions_mut().insert(SHOW_ONCE);
    Ok(res)
}

/// The contacts a batch names, with their customers; those the caller does not see are
/// skipped as `not_found`, customers without a primary contact as `no_contact`.
async fn batch_targets(
    db: &impl ReadConn,
    caller: &Caller,
    body: CreateInvitations,
    skipped: &mut Vec<Skipped>,
) -> Result<Vec<(Uuid, rapport_domain::customer::Customer)>, ApiError> {
    let mut targets = Vec::new();
    match (body.contact_ids, body.filter) {
        (Some(ids), None) => {
            if ids.is_empty() || ids.len() > MAX_BATCH {
                return Err(ApiError::invalid(
                    "contact_ids",
                    Invalid::OutOfRange {
                        min: 1,
                        max: MAX_BATCH as i64,
                    },
                ));
            }
            let mut seen = std::collections::HashSet::new();
            for id in ids.into_iter().filter(|id| seen.insert(*id)) {
                match contact_customer(db, caller, id).await? {
                    Some(customer) => targets.push((id, customer)),
                    None => skipped.push(Skipped {
                        contact_id: Some(id),
                        customer_id: None,
                        reason: SkipReason::NotFound.as_str().to_owned(),
                    }),
                }
            }
        }
        (None, Some(selection)) => {
            let mut errors = Errors::default();
            let filter = CustomerFilter {
                lifecycle_stage: errors
                    .check_opt(
                        "filter.lifecycle_stage",
                        selection.lifecycle_stage.as_deref(),
                        LifecycleStage::parse,
                    )
                    .flatten(),
                grade: errors
                    .check_opt("filter.grade", selection.grade.as_deref(), Grade::parse)
                    .flatten(),
                owner_id: match user_param(
                    "filter.owner_id",
                    selection.owner_id.as_deref(),
                    caller.user_id(),
                ) {
                    Ok(id) => id,
                    Err(_) => {
                        errors.add("filter.owner_id", Invalid::InvalidUuid);
                        None
                    }
                },
                team_id: selection.team_id,
                tag: selection.tag,
                ..CustomerFilter::default()
            };
            errors.finish()?;
            let page = customers::list(
                db,
                caller.visibility(),
                &filter,
                CustomerSort::CreatedAt,
                SortDir::Desc,
                None,
                MAX_BATCH as u64,
            )
            .await?;
            if page.next.is_some() {
                return Err(ApiError::invalid(
                    "filter",
                    Invalid::TooLong { max: MAX_BATCH },
                ));
            }
            let ids: Vec<Uuid> = page.items.iter().map(|c| c.id).collect();
            let primaries = contacts::of_customers(db, &ids).await?;
            for customer in page.items {
                let primary = primaries
                    .get(&customer.id)
                    .and_then(|contacts| contacts.iter().find(|c| c.is_primary));
                match primary {
                    Some(contact) => targets.push((contact.id, customer)),
                    None => skipped.push(Skipped {
                        contact_id: None,
                        customer_id: Some(customer.id),
                        reason: SkipReason::NoContact.as_str().to_owned(),
                    }),
                }
            }
        }
        _ => {
            return Err(ApiError::invalid("contact_ids", Invalid::Required));
        }
    }
    Ok(targets)
}

/// Invite several contacts at once: `contact_ids` (1 to 200), or the primary contacts of the
/// customers a `filter` selects (at most 200). Contacts in their quiet period, who withdrew
/// consent, or not seen are skipped, with the reason. Each invitation is audited.
#[utoipa::path(
    tag = "surveys",
    params(("id" = Uuid, Path)),
    request_body = CreateInvitations,
    responses((status = 200, body = InvitationBatch)),
    security(("oauth2" = ["surveys:write"]))
)]
#[post("/surveys/{id}/invitations/batch")]
async fn create_invitations(
    state: web::Data<AppState>,
    auth: Authorized<SurveysWrite>,
    id: web::Path<Uuid>,
    body: Json<CreateInvitations>,
) -> Result<HttpResponse, ApiError> {
    let body = body.into_inner()?;
    let now = state.clock.now();
    let tx = state.store.begin().await?;
    let survey = current_survey(&tx, id.into_inner()).await?;
    let mut skipped = Vec::new();
    let mut targets = batch_targets(&tx, &auth, body, &mut skipped).await?;
    // Locked in id order (customer, then contact), like every write of several records.
    targets.sort_by_key(|(contact, customer)| (customer.id, *contact));
    let mut invited = Vec::new();
    for (contact_id, customer) in targets {
        let invite = Invite {
            survey: &survey,
            contact_id,
            customer: &customer,
            about: About::default(),
            origin: InvitationOrigin::Manual,
            trigger: None,
        };
        match invitations::invite(&tx, invite, state.settings.send_email, now).await? {
            Outcome::Issued(i) => {
                let sent = issued(&state, *i, &survey);
                record_sent(&tx, &state, &auth, &sent).await?;
                invited.push(sent);
            }
            Outcome::Skipped(reason) => skipped.push(Skipped {
                contact_id: Some(contact_id),
                customer_id: Some(customer.id),
                reason: reason.as_str().to_owned(),
            }),
            Outcome::AlreadyInvited => {}
        }
    }
    audit::commit(tx, &state, &auth.origin).await?;
    let mut res = HttpResponse::Ok().json(InvitationBatch { invited, skipped });
    res.extensions_mut().insert(SHOW_ONCE);
    Ok(res)
}

/// A survey's invitations to customers the caller sees, newest first.
#[utoipa::path(
    tag = "surveys",
    params(("id" = Uuid, Path), InvitationListParams),
    responses((status = 200, body = InvitationList)),
    security(("oauth2" = ["surveys:read"]))
)]
#[get("/surveys/{id}/invitations")]
async fn list_invitations(
    state: web::Data<AppState>,
    auth: Authorized<SurveysRead>,
    id: web::Path<Uuid>,
    params: Query<InvitationListParams>,
) -> Result<HttpResponse, ApiError> {
    let p = params.into_inner()?;
    let sort = feed::sort_or(p.updated_since, "-created_at");
    let (limit, cursor) = page_params(p.limit, p.cursor.as_deref(), sort)?;
    let status = code_param("status", p.status.as_deref(), InvitationStatus::parse)?;
    let changes = p.updated_since.map(|since| feed::changes(&state, since));
    let now = state.clock.now();
    let db = state.list_reads(&auth);
    let survey = surveys::get(db, id.into_inner()).await?;
    let page = survey_invitations::list(
        db,
        auth.visibility(),
        survey.id,
        status.map(|s| (s, now)),
        changes,
        cursor,
        limit,
    )
    .await?;
    Ok(
        HttpResponse::Ok().json(InvitationList::from(Paged::from_page(page, sort, |i| {
            Invitation::new(i, Some(&survey), now)
        }))),
    )
}

/// One invitation of a survey (its customer must be one the caller sees).
#[utoipa::path(
    tag = "surveys",
    params(("id" = Uuid, Path), ("invitation_id" = Uuid, Path)),
    responses((status = 200, body = Invitation, headers(("ETag" = String)))),
    security(("oauth2" = ["surveys:read"]))
)]
#[get("/surveys/{id}/invitations/{invitation_id}")]
async fn get_invitation(
    state: web::Data<AppState>,
    auth: Authorized<SurveysRead>,
    path: web::Path<(Uuid, Uuid)>,
) -> Result<HttpResponse, ApiError> {
    let (survey_id, id) = path.into_inner();
    let db = state.store.conn();
    let invitation = survey_invitations::get(db, id).await?;
    if invitation.survey_id != survey_id {
        return Err(ApiError::NotFound);
    }
    access::visible(db, &auth, invitation.customer_id).await?;
    let survey = surveys::get(db, survey_id).await?;
    let body = Invitation::new(invitation, Some(&survey), state.clock.now());
    Ok(respond::ok(&body, body.version))
}

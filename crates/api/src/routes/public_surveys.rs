//! The public side of a survey invitation: read its questions and answer them once, with the
//! invitation's token and nothing else. Rate limited per client address. An unknown token,
//! well formed or not, answers the same 404, so a caller learns nothing about other tokens;
//! nothing internal (ids of staff, customers, tickets) is ever answered here.

use actix_web::{HttpRequest, HttpResponse, get, post, web};
use chrono::{DateTime, Utc};
use rapport_domain::customer::Customer;
use rapport_domain::identity::Actor;
use rapport_domain::survey::{Invitation, Refusal, Survey};
use rapport_domain::ticket::{
    NewTicket, Ticket as DomainTicket, TicketCategory, TicketChannel, TicketPriority,
};
use rapport_store::repos::{self, Lock, survey_invitations, surveys, tickets};
use rapport_store::{Conn, StoreError};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use utoipa::ToSchema;
use utoipa_actix_web::service_config::ServiceConfig;

use crate::audit::{self, Origin};
use crate::auth::secret::sha256_hex;
use crate::client_ip::client_ip;
use crate::error::{ApiError, ProblemCode};
use crate::extract::Json;
use crate::routes::tickets::{Ticket, open_ticket};
use crate::schemas;
use crate::state::AppState;

pub fn configure(cfg: &mut ServiceConfig) {
    cfg.service(get_public_survey).service(answer_public_survey);
}

/// One answer a choice question offers.
#[derive(Debug, Serialize, ToSchema)]
pub struct PublicOption {
    pub code: String,
    pub label: String,
}

/// A question, as the person answering sees it.
#[derive(Debug, Serialize, ToSchema)]
pub struct PublicQuestion {
    /// What an answer names as `question_id`.
    pub id: String,
    #[schema(schema_with = schemas::question_kind)]
    pub kind: String,
    pub text: String,
    pub required: bool,
    /// The lowest value of a csat (1), nps (0) or rating (1); `null` otherwise.
    pub min: Option<i64>,
    /// The highest value of a csat (5), nps (10) or rating; `null` otherwise.
    pub max: Option<i64>,
    /// `[]` unless a choice question.
    pub options: Vec<PublicOption>,
}

/// An invitation's survey, as the person answering sees it.
#[derive(Debug, Serialize, ToSchema)]
pub struct PublicSurvey {
    pub title: String,
    pub language: String,
    /// After this, the invitation answers 410.
    pub expires_at: DateTime<Utc>,
    pub questions: Vec<PublicQuestion>,
}

impl PublicSurvey {
    fn new(s: &Survey, expires_at: DateTime<Utc>) -> PublicSurvey {
        PublicSurvey {
            title: s.title.to_string(),
            language: s.language.as_str().to_owned(),
            expires_at,
            questions: s
                .questions
                .iter()
                .map(|q| {
                    let scale = q.scale();
                    PublicQuestion {
                        id: q.id.to_string(),
                        kind: q.kind.as_str().to_owned(),
                        text: q.text.to_string(),
                        required: q.required,
                        min: scale.map(|s| s.0),
                        max: scale.map(|s| s.1),
                        options: q
                            .options
                            .iter()
                            .map(|o| PublicOption {
                                code: o.code.to_string(),
                                label: o.label.to_string(),
                            })
                            .collect(),
                    }
                })
                .collect(),
        }
    }
}

/// One answer.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AnswerInput {
    #[schema(required = true, example = "speed")]
    pub question_id: Option<String>,
    /// A number (csat, nps, rating), an option's code (single choice), a list of codes (multi
    /// choice), or a string (text, up to 2,000 characters).
    #[serde(default)]
    #[schema(value_type = Object, example = 5)]
    pub value: Value,
}

/// The answers to an invitation's survey.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SurveyAnswers {
    #[schema(required = true)]
    pub answers: Option<Vec<AnswerInput>>,
}

/// The per-address limit of the public endpoints.
fn limit(req: &HttpRequest, state: &AppState) -> Result<(), ApiError> {
    match client_ip(req) {
        Some(ip) => state.public_limiter.take_ip(ip),
        None => Ok(()),
    }
}

/// The invitation a token names, read with `lock`, and its customer; 404 for any token that
/// names none, and for an invitation whose customer was deleted or merged away.
async fn invitation_of(
    db: &impl Conn,
    token: &str,
    lock: Lock,
) -> Result<(Invitation, Customer), ApiError> {
    let well_formed = token.len() == 43
        && token
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    if !well_formed {
        return Err(ApiError::NotFound);
    }
    let id = survey_invitations::id_by_token(db, &sha256_hex(token)).await?;
    let unlocked: Invitation = repos::fetch(db, id, Lock::No).await?;
    // The customer before the invitation: the order of merges, which move invitations.
    let customer: Customer = repos::fetch(db, unlocked.customer_id, lock).await?;
    let invitation: Invitation = repos::fetch(db, id, lock).await?;
    let live = customer.deleted_at.is_none() && customer.merged_into_id.is_none();
    if !live || invitation.customer_id != customer.id {
        return Err(ApiError::NotFound);
    }
    Ok((invitation, customer))
}

fn refused(r: Refusal) -> ApiError {
    match r {
        Refusal::Expired => ApiError::Gone(ProblemCode::Expired),
        Refusal::AlreadyAnswered => ApiError::conflict_of(ProblemCode::AlreadyAnswered),
    }
}

/// Read the survey of an invitation. The first read marks it `opened`. 404 for an unknown
/// token, 409 `already_answered`, 410 `expired`; 429 past the per-address limit.
#[utoipa::path(
    tag = "public",
    params(("token" = String, Path, description = "The invitation's token")),
    responses(
        (status = 200, body = PublicSurvey),
        (status = 404, description = "No invitation has this token", body = crate::error::Problem, content_type = "application/problem+json"),
        (status = 409, description = "Answered already", body = crate::error::Problem, content_type = "application/problem+json"),
        (status = 410, description = "Expired", body = crate::error::Problem, content_type = "application/problem+json"),
        (status = 429, description = "Too many requests from this address", body = crate::error::Problem, content_type = "application/problem+json")
    ),
    security(())
)]
#[get("/public/surveys/{token}")]
async fn get_public_survey(
    req: HttpRequest,
    state: web::Data<AppState>,
    token: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    limit(&req, &state)?;
    let now = state.clock.now();
    let tx = state.store.begin().await?;
    let (mut invitation, _) = invitation_of(&tx, &token, Lock::ForUpdate).await?;
    invitation.check_open(now).map_err(refused)?;
    let survey = surveys::get(&tx, invitation.survey_id).await?;
    if invitation.open(now) {
        repos::save(&tx, &invitation, now).await?;
        rapport_store::commit(tx).await?;
    }
    Ok(HttpResponse::Ok().json(PublicSurvey::new(&survey, invitation.expires_at)))
}

/// Answer an invitation's survey, once: `{"answers": [{"question_id": "speed", "value": 5}]}`.
/// 422 names each refused answer (`answers.<question_id>`); 409 `already_answered` the second
/// time; 410 `expired`. A low score opens a follow-up ticket.
#[utoipa::path(
    tag = "public",
    params(("token" = String, Path, description = "The invitation's token")),
    request_body = SurveyAnswers,
    responses(
        (status = 204, description = "Answered"),
        (status = 404, description = "No invitation has this token", body = crate::error::Problem, content_type = "application/problem+json"),
        (status = 409, description = "Answered already", body = crate::error::Problem, content_type = "application/problem+json"),
        (status = 410, description = "Expired", body = crate::error::Problem, content_type = "application/problem+json"),
        (status = 422, description = "Refused answers, each named `answers.<question_id>`", body = crate::error::Problem, content_type = "application/problem+json"),
        (status = 429, description = "Too many requests from this address", body = crate::error::Problem, content_type = "application/problem+json")
    ),
    security(())
)]
#[post("/public/surveys/{token}")]
async fn answer_public_survey(
    req: HttpRequest,
    state: web::Data<AppState>,
    token: web::Path<String>,
    body: Json<SurveyAnswers>,
) -> Result<HttpResponse, ApiError> {
    limit(&req, &state)?;
    let body = body.into_inner()?;
    let now = state.clock.now();
    let tx = state.store.begin().await?;
    let (before, customer) = invitation_of(&tx, &token, Lock::ForUpdate).await?;
    before.check_open(now).map_err(refused)?;
    // Shared: answers do not wait on each other, but an edit of the survey waits for them.
    let survey: Survey = repos::fetch(&tx, before.survey_id, Lock::Share).await?;
    let Some(items) = body.answers else {
        return Err(ApiError::invalid(
            "answers",
            rapport_domain::Invalid::Required,
        ));
    };
    let raw: Vec<(Option<&str>, &Value)> = items
        .iter()
        .map(|a| (a.question_id.as_deref(), &a.value))
        .collect();
    let answers = survey.check_answers(&raw)?;
    let follow_up = survey.needs_follow_up(&answers);
    let mut invitation = before.clone();
    invitation.answer(answers, now).map_err(refused)?;
    let origin = Origin::of_request(&req, Actor::System);
    if follow_up {
        let ticket = open_follow_up(&tx, &survey, &invitation, &customer, now).await?;
        invitation.follow_up_ticket_id = Some(ticket.id);
        let ticket = Ticket::from(ticket);
        audit::record(
            &tx,
            &state,
            &origin,
            audit::Subject::of_customer("ticket", ticket.id, Some(ticket.customer_id)),
            "create",
            audit::changes(None, Some(&ticket)),
        )
        .await?;
    }
    let saved = repos::save(&tx, &invitation, now).await?;
    audit::record(
        &tx,
        &state,
        &origin,
        audit::Subject::of_customer("survey_invitation", saved.id, Some(saved.customer_id)),
        "update",
        json!({
            "status": {"before": before.status.as_str(), "after": saved.status.as_str()},
            "follow_up_ticket_id": {"before": null, "after": saved.follow_up_ticket_id},
        }),
    )
    .await?;
    audit::commit(tx, &state, &origin).await?;
    Ok(HttpResponse::NoContent().finish())
}

/// The ticket a low score opens: a complaint for the team of the ticket the invitation was
/// about (the customer's owner when that ticket has no team), else a request for the
/// customer's owner.
async fn open_follow_up(
    tx: &impl Conn,
    survey: &Survey,
    invitation: &Invitation,
    customer: &Customer,
    now: DateTime<Utc>,
) -> Result<DomainTicket, ApiError> {
    let about = match invitation.ticket_id {
        Some(id) => match tickets::get(tx, id).await {
            Ok(t) => Some(t),
            Err(StoreError::NotFound) => None,
            Err(e) => return Err(e.into()),
        },
        None => None,
    };
    let (category, channel, team_id, assignee_id) = match &about {
        // The ticket's team hands it out; without one, the customer's owner and team take it.
        Some(t) if t.team_id.is_some() => (TicketCategory::Complaint, t.channel, t.team_id, None),
        Some(t) => (
            TicketCategory::Complaint,
            t.channel,
            customer.team_id,
            customer.owner_id,
        ),
        None => (
            TicketCategory::Request,
            TicketChannel::Web,
            customer.team_id,
            customer.owner_id,
        ),
    };
    let answers = invitation.answers.as_deref().unwrap_or_default();
    let ticket = DomainTicket::new(
        NewTicket {
            customer_id: customer.id,
            contact_id: Some(invitation.contact_id),
            subject: survey.follow_up_subject(),
            description: Some(survey.follow_up_text(answers)),
            channel,
            category,
            priority: TicketPriority::High,
            assignee_id,
            team_id,
            tags: Vec::new(),
            created_by: None,
        },
        now,
    );
    open_ticket(tx, ticket, customer.grade, None, now).await
}

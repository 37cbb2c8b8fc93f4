//! Service tickets and their comments. Agents see their team's tickets and those assigned to
//! them; service managers, admins and integration clients see all (`Caller::ticket_view`).

use actix_web::{HttpRequest, HttpResponse, get, patch, post, web};
use chrono::{DateTime, Utc};
use rapport_domain::Invalid;
use rapport_domain::auth::Scope;
use rapport_domain::customer::Customer;
use rapport_domain::enums::Grade;
use rapport_domain::name::{Name, Title};
use rapport_domain::notification::{Notification, NotificationKind};
use rapport_domain::sla::{self, SlaPolicy, SlaSubject};
use rapport_domain::survey::SurveyEvent;
use rapport_domain::tag::parse_tags;
use rapport_domain::ticket::{
    NewTicket, Ticket as DomainTicket, TicketCategory, TicketChannel,
    TicketComment as DomainComment, TicketPriority, TicketStatus, TicketText,
};
use rapport_domain::validation::Errors;
use rapport_store::repos::articles;
use rapport_store::repos::assignment::{self, Work};
use rapport_store::repos::tickets::{self, TicketFilter, TicketSort};
use rapport_store::repos::{self, Lock, notifications, sla_policies, teams};
use rapport_store::{Conn, StoreError, Tx};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_actix_web::service_config::ServiceConfig;
use uuid::Uuid;

use crate::audit;
use crate::auth::scopes::{TicketsRead, TicketsWrite};
use crate::auth::{Authorized, Caller};
use crate::batch::{self, BatchBody, BatchResult, Written};
use crate::error::ApiError;
use crate::extract::{IfMatch, IfMatchParam, Json, Query, code_param, user_param};
use crate::feed;
use crate::i18n::Lang;
use crate::invitations;
use crate::pagination::{Paged, page_params};
use crate::patch::Patch;
use crate::references;
use crate::respond;
use crate::routes::customers::access;
use crate::schemas;
use crate::state::AppState;

pub fn configure(cfg: &mut ServiceConfig) {
    // `/tickets/batch` before `/tickets/{id}`, which would take it for an id.
    cfg.service(list_tickets)
        .service(create_ticket)
        .service(batch_tickets)
        .service(get_ticket)
        .service(update_ticket)
        .service(list_ticket_comments)
        .service(create_ticket_comment);
}

/// A customer's service request or complaint.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Ticket {
    pub id: Uuid,
    pub customer_id: Uuid,
    pub contact_id: Option<Uuid>,
    #[schema(example = "The printer jams on every second page")]
    pub subject: String,
    pub description: Option<String>,
    #[schema(schema_with = schemas::ticket_channel)]
    pub channel: String,
    #[schema(schema_with = schemas::ticket_category)]
    pub category: String,
    #[schema(schema_with = schemas::ticket_priority)]
    pub priority: String,
    /// `new → open → pending → resolved → closed`; `reopened` within a window after
    /// resolution. Other moves answer 409 with `allowed`.
    #[schema(schema_with = schemas::ticket_status)]
    pub status: String,
    pub assignee_id: Option<Uuid>,
    pub team_id: Option<Uuid>,
    pub tags: Vec<String>,
    /// The first public reply by staff.
    pub first_responded_at: Option<DateTime<Utc>>,
    pub resolved_at: Option<DateTime<Utc>>,
    pub closed_at: Option<DateTime<Utc>>,
    /// The SLA policy its due times come from: the most specific one matching its category,
    /// priority and customer grade (`/v1/sla-policies`).
    pub sla_policy_id: Option<Uuid>,
    /// When the first public reply is due.
    pub first_response_due_at: Option<DateTime<Utc>>,
    /// When it must be resolved; time spent `pending` moves it later.
    pub resolution_due_at: Option<DateTime<Utc>>,
    /// While `pending`: since when its resolution clock is paused.
    pub paused_at: Option<DateTime<Utc>>,
    /// Has it missed a target? A missed target is recorded once, raises the priority one step
    /// and notifies the team's manager.
    pub sla_breached: bool,
    /// When the missed first response was recorded.
    pub first_response_breached_at: Option<DateTime<Utc>>,
    /// When the missed resolution was recorded.
    pub resolution_breached_at: Option<DateTime<Utc>>,
    /// The user or client who opened it.
    pub created_by: Option<Uuid>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub version: i32,
}

impl From<DomainTicket> for Ticket {
    fn from(t: DomainTicket) -> Self {
        let sla_breached = t.sla_breached();
        Ticket {
            id: t.id,
            customer_id: t.customer_id,
            contact_id: t.contact_id,
            subject: t.subject.into_string(),
            description: t.description.map(Name::into_string),
            channel: t.channel.as_str().to_owned(),
            category: t.category.as_str().to_owned(),
            priority: t.priority.as_str().to_owned(),
            status: t.status.as_str().to_owned(),
            assignee_id: t.assignee_id,
            team_id: t.team_id,
            tags: t.tags.into_iter().map(|t| t.into_string()).collect(),
            first_responded_at: t.first_responded_at,
            resolved_at: t.resolved_at,
            closed_at: t.closed_at,
            sla_policy_id: t.sla_policy_id,
            first_response_due_at: t.first_response_due_at,
            resolution_due_at: t.resolution_due_at,
            paused_at: t.paused_at,
            sla_breached,
            first_response_breached_at: t.first_response_breached_at,
            resolution_breached_at: t.resolution_breached_at,
            created_by: t.created_by,
            created_at: t.created_at,
            updated_at: t.updated_at,
            version: t.version,
        }
    }
}

crate::list_type!(TicketList, Ticket);

/// A new ticket.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateTicket {
    #[schema(required = true)]
    pub customer_id: Option<Uuid>,
    /// A contact of that customer.
    pub contact_id: Option<Uuid>,
    #[schema(required = true, example = "The printer jams on every second page")]
    pub subject: Option<String>,
    pub description: Option<String>,
    #[schema(schema_with = schemas::ticket_channel, required = true)]
    pub channel: Option<String>,
    #[schema(schema_with = schemas::ticket_category, required = true)]
    pub category: Option<String>,
    /// Default `normal`.
    #[schema(schema_with = schemas::ticket_priority_or_null)]
    pub priority: Option<String>,
    /// A user who works tickets (a role with `tickets:write`).
    pub assignee_id: Option<Uuid>,
    /// Default: the assignee's team, else the caller's. Without an assignee, the team's
    /// `assignment` rule picks one of its service agents.
    pub team_id: Option<Uuid>,
    #[serde(default)]
    pub tags: Vec<String>,
}

/// Changes to a ticket; `null` clears optional fields. A `status` the workflow does not allow
/// from the current one answers 409 with `allowed`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateTicket {
    #[serde(default)]
    #[schema(value_type = Option<Uuid>, nullable)]
    pub contact_id: Patch<Uuid>,
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    pub subject: Patch<String>,
    #[serde(default)]
    #[schema(value_type = Option<String>, nullable)]
    pub description: Patch<String>,
    #[serde(default)]
    #[schema(schema_with = schemas::ticket_channel)]
    pub channel: Patch<String>,
    #[serde(default)]
    #[schema(schema_with = schemas::ticket_category)]
    pub category: Patch<String>,
    #[serde(default)]
    #[schema(schema_with = schemas::ticket_priority)]
    pub priority: Patch<String>,
    #[serde(default)]
    #[schema(schema_with = schemas::ticket_status)]
    pub status: Patch<String>,
    #[serde(default)]
    #[schema(value_type = Option<Uuid>, nullable)]
    pub assignee_id: Patch<Uuid>,
    #[serde(default)]
    #[schema(value_type = Option<Uuid>, nullable)]
    pub team_id: Patch<Uuid>,
    #[serde(default)]
    #[schema(value_type = Option<Vec<String>>, nullable)]
    pub tags: Patch<Vec<String>>,
}

/// Filters of the ticket list, newest first.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct TicketListParams {
    #[param(schema_with = schemas::ticket_status)]
    pub status: Option<String>,
    #[param(schema_with = schemas::ticket_priority)]
    pub priority: Option<String>,
    #[param(schema_with = schemas::ticket_category)]
    pub category: Option<String>,
    /// A user id, or `me`.
    #[param(schema_with = schemas::user_or_me)]
    pub assignee_id: Option<String>,
    pub team_id: Option<Uuid>,
    pub customer_id: Option<Uuid>,
    /// One of [`DOCUMENTED_SORTS`]; described in `schemas` (`TicketSort`).
    #[param(schema_with = crate::schemas::ticket_sort)]
    pub sort: Option<String>,
    /// 1 to 200, default 50.
    pub limit: Option<i64>,
    pub cursor: Option<String>,
    /// The change feed: every ticket changed at or after this time (a move to another
    /// customer by a merge included), oldest change first, each at its latest version.
    /// Changes show once they are 5 seconds old. Walk the pages with `cursor`; at the end, ask
    /// again with the last `updated_at` you saw (keep the highest `version`). Tickets are never
    /// deleted; those of a deleted customer leave the list with it (its tombstone is in the
    /// customer feed). Takes the other filters, and no `sort` but `updated_at`.
    #[param(example = "2026-12-01T00:00:00Z")]
    pub updated_since: Option<DateTime<Utc>>,
}

const SORTS: &[&str] = &["-created_at", "resolution_due_at"];

/// [`SORTS`] and the change feed's (`schemas::ticket_sort` in the document).
pub(crate) const DOCUMENTED_SORTS: &[&str] = &["-created_at", "resolution_due_at", "updated_at"];

/// A public reply to the customer or an internal note.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct TicketComment {
    pub id: Uuid,
    pub ticket_id: Uuid,
    pub body: String,
    /// `true`: a reply the customer sees; `false`: a note for staff.
    pub public: bool,
    /// The user or client who wrote it.
    pub author_id: Option<Uuid>,
    pub created_at: DateTime<Utc>,
    /// Comments are not changed: the time of their creation.
    pub updated_at: DateTime<Utc>,
    /// Always 1: comments are not changed.
    pub version: i32,
}

impl From<DomainComment> for TicketComment {
    fn from(c: DomainComment) -> Self {
        TicketComment {
            id: c.id,
            ticket_id: c.ticket_id,
            body: c.body.into_string(),
            public: c.public,
            author_id: c.author_id,
            created_at: c.created_at,
            updated_at: c.created_at,
            version: 1,
        }
    }
}

crate::list_type!(TicketCommentList, TicketComment);

/// A new comment.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateTicketComment {
    #[schema(
        required = true,
        example = "We have sent a technician for tomorrow morning."
    )]
    pub body: Option<String>,
    /// `true`: a reply to the customer (the first one by staff is the ticket's first response);
    /// default `false`, an internal note.
    #[serde(default)]
    pub public: bool,
}

/// Paging of a ticket's comments, oldest first.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct CommentListParams {
    /// 1 to 200, default 50.
    pub limit: Option<i64>,
    pub cursor: Option<String>,
}

/// A ticket the caller sees, read with `lock`, and its customer; 404 otherwise (and for a
/// deleted customer's).
pub(crate) async fn visible_ticket(
    db: &impl Conn,
    caller: &Caller,
    id: Uuid,
    lock: Lock,
) -> Result<(DomainTicket, Customer), ApiError> {
    let ticket = repos::fetch::<DomainTicket>(db, id, lock).await?;
    if !caller.ticket_view().allows(&ticket) {
        return Err(ApiError::NotFound);
    }
    // The customer's view: every role that reads tickets sees every live customer.
    let customer = access::visible(db, caller, ticket.customer_id).await?;
    Ok((ticket, customer))
}

/// The team of `assignee_id` when it is a user who works tickets; the field's error
/// otherwise.
async fn check_assignee(
    db: &impl Conn,
    assignee_id: Option<Uuid>,
    errors: &mut Errors,
) -> Result<Option<Uuid>, ApiError> {
    let Some(id) = assignee_id else {
        return Ok(None);
    };
    let user = references::user_with(db, "assignee_id", id, Scope::TicketsWrite, errors).await?;
    Ok(user.and_then(|u| u.team_id))
}

async fn check_team(
    db: &impl Conn,
    team_id: Option<Uuid>,
    errors: &mut Errors,
) -> Result<(), ApiError> {
    if let Some(id) = team_id {
        references::known("team_id", teams::get(db, id).await, errors)?;
    }
    Ok(())
}

/// The policy a ticket of a customer of `grade` gets now, by its category and priority.
async fn policy_for(
    db: &impl Conn,
    ticket: &DomainTicket,
    grade: Grade,
) -> Result<Option<SlaPolicy>, ApiError> {
    let subject = SlaSubject {
        category: ticket.category,
        priority: ticket.priority,
        grade: Some(grade),
    };
    Ok(sla::choose(&sla_policies::all(db).await?, subject).cloned())
}

/// The policy a ticket has (none when it was deleted).
async fn policy_of(db: &impl Conn, ticket: &DomainTicket) -> Result<Option<SlaPolicy>, ApiError> {
    match ticket.sla_policy_id {
        None => Ok(None),
        Some(id) => match sla_policies::get(db, id).await {
            Ok(p) => Ok(Some(p)),
            Err(StoreError::NotFound) => Ok(None),
            Err(e) => Err(e.into()),
        },
    }
}

/// Opens a new ticket of a customer of `grade`: its SLA policy's due times, an assignee by its
/// team's rule when it names none, and a notification for the assignee (unless `opened_by`
/// assigned itself).
pub(crate) async fn open_ticket(
    db: &impl Conn,
    mut ticket: DomainTicket,
    grade: Grade,
    opened_by: Option<Uuid>,
    now: DateTime<Utc>,
) -> Result<DomainTicket, ApiError> {
    ticket.apply_sla(policy_for(db, &ticket, grade).await?.as_ref());
    // Nobody named: the team hands it out by its rule.
    if let (None, Some(team)) = (ticket.assignee_id, ticket.team_id) {
        ticket.assignee_id = assignment::pick(db, team, Work::Ticket).await?;
    }
    tickets::insert(db, &ticket).await?;
    notify_assignee(db, opened_by, &ticket, now).await?;
    Ok(ticket)
}

/// Tells a ticket's new assignee, unless it assigned itself.
async fn notify_assignee(
    db: &impl Conn,
    changed_by: Option<Uuid>,
    ticket: &DomainTicket,
    now: DateTime<Utc>,
) -> Result<(), ApiError> {
    let Some(assignee) = ticket.assignee_id.filter(|a| Some(*a) != changed_by) else {
        return Ok(());
    };
    let title = format!("Ticket assigned to you: {}", ticket.subject.as_str());
    let note = Notification::new(
        assignee,
        NotificationKind::TicketAssigned,
        &title,
        Some(ticket.id),
        Some(ticket.customer_id),
        now,
    );
    notifications::insert(db, &note).await?;
    Ok(())
}

/// List the tickets the caller sees, newest first.
#[utoipa::path(
    tag = "tickets",
    params(TicketListParams),
    responses((status = 200, body = TicketList)),
    security(("oauth2" = ["tickets:read"]))
)]
#[get("/tickets")]
async fn list_tickets(
    state: web::Data<AppState>,
    auth: Authorized<TicketsRead>,
    params: Query<TicketListParams>,
) -> Result<HttpResponse, ApiError> {
    let p = params.into_inner()?;
    let window = match p.updated_since {
        Some(since) => {
            feed::check(p.sort.as_deref())?;
            Some(feed::window(&state, since))
        }
        None => None,
    };
    let sort_name = match window {
        Some(_) => feed::SORT,
        None => p.sort.as_deref().unwrap_or("-created_at"),
    };
    let sort = match sort_name {
        "-created_at" => TicketSort::Newest,
        "resolution_due_at" => TicketSort::ResolutionDue,
        feed::SORT if window.is_some() => TicketSort::Updated,
        _ => {
            return Err(ApiError::bad_parameter(
                "sort",
                Invalid::NotOneOf { allowed: SORTS },
            ));
        }
    };
    let (limit, cursor) = page_params(p.limit, p.cursor.as_deref(), sort_name)?;
    let assignee_id = user_param("assignee_id", p.assignee_id.as_deref(), auth.user_id())?;
    let filter = TicketFilter {
        status: code_param("status", p.status.as_deref(), TicketStatus::parse)?,
        priority: code_param("priority", p.priority.as_deref(), TicketPriority::parse)?,
        category: code_param("category", p.category.as_deref(), TicketCategory::parse)?,
        assignee_id,
        team_id: p.team_id,
        customer_id: p.customer_id,
        updated_from: window.map(|(from, _)| from),
        updated_to: window.map(|(_, to)| to),
    };
    let page = tickets::list(
        state.list_reads(&auth),
        auth.ticket_view(),
        &filter,
        sort,
        cursor,
        limit,
    )
    .await?;
    Ok(HttpResponse::Ok().json(TicketList::from(Paged::from_page(
        page,
        sort_name,
        Ticket::from,
    ))))
}

/// Open a ticket.
#[utoipa::path(
    tag = "tickets",
    request_body = CreateTicket,
    responses((status = 201, body = Ticket, headers(("Location" = String), ("ETag" = String)))),
    security(("oauth2" = ["tickets:write"]))
)]
#[post("/tickets")]
async fn create_ticket(
    state: web::Data<AppState>,
    auth: Authorized<TicketsWrite>,
    body: Json<CreateTicket>,
) -> Result<HttpResponse, ApiError> {
    let body = body.into_inner()?;
    let tx = state.store.begin().await?;
    let body = create(&tx, &state, &auth, body).await?;
    audit::commit(tx, &state, &auth.origin).await?;
    Ok(respond::created(
        &body,
        body.version,
        format!("/v1/tickets/{}", body.id),
    ))
}

/// Opens a ticket on `tx`, audited: the create request's work, and a batch item's. Every
/// refusal comes before the first write.
///
/// # Errors
/// 422 for invalid fields, or a customer, contact, assignee or team that does not do.
pub(crate) async fn create(
    tx: &Tx,
    state: &AppState,
    auth: &Authorized<TicketsWrite>,
    body: CreateTicket,
) -> Result<Ticket, ApiError> {
    let now = state.clock.now();
    let mut errors = Errors::default();
    let customer =
        access::referenced(tx, auth, body.customer_id, body.contact_id, &mut errors).await?;
    let required = |errors: &mut Errors, field: &str, value: Option<&str>| {
        if value.is_none() {
            errors.add(field, Invalid::Required);
        }
        value.map(str::to_owned)
    };
    let subject = required(&mut errors, "subject", body.subject.as_deref())
        .and_then(|s| errors.check("subject", Title::parse(&s)));
    let description = errors.check_opt(
        "description",
        body.description.as_deref(),
        TicketText::parse,
    );
    let channel = required(&mut errors, "channel", body.channel.as_deref())
        .and_then(|s| errors.check("channel", TicketChannel::parse(&s)));
    let category = required(&mut errors, "category", body.category.as_deref())
        .and_then(|s| errors.check("category", TicketCategory::parse(&s)));
    let priority = match body.priority.as_deref() {
        None => Some(TicketPriority::Normal),
        Some(p) => errors.check("priority", TicketPriority::parse(p)),
    };
    let assignee_team = check_assignee(tx, body.assignee_id, &mut errors).await?;
    check_team(tx, body.team_id, &mut errors).await?;
    let tags = parse_tags(&body.tags, "tags", &mut errors);
    let (customer, subject, description, channel, category, priority) =
        errors.finish_with((|| {
            Some((
                customer?,
                subject?,
                description?,
                channel?,
                category?,
                priority?,
            ))
        })())?;
    let caller_team = match auth.principal {
        crate::auth::Principal::User { team_id, .. } => team_id,
        crate::auth::Principal::Client { .. } => None,
    };
    let ticket = DomainTicket::new(
        NewTicket {
            customer_id: customer.id,
            contact_id: body.contact_id,
            subject,
            description,
            channel,
            category,
            priority,
            assignee_id: body.assignee_id,
            team_id: body.team_id.or(assignee_team).or(caller_team),
            tags,
            created_by: auth.actor().id(),
        },
        now,
    );
    let ticket = open_ticket(tx, ticket, customer.grade, auth.user_id(), now).await?;
    let body = Ticket::from(ticket);
    audit::record(
        tx,
        state,
        &auth.origin,
        audit::Subject::of_customer("ticket", body.id, Some(body.customer_id)),
        "create",
        audit::changes(None, Some(&body)),
    )
    .await?;
    Ok(body)
}

crate::batch_request!(TicketBatch, TicketBatchItem => CreateTicket);

/// Open or change up to 200 tickets.
///
/// Each item is written with the rules of `POST /v1/tickets` (or of `PATCH /v1/tickets/{id}`
/// when it carries an `id`), with its SLA due times, audited and announced to webhooks one by
/// one, in one transaction. The answer lists each item in order: `201` opened, `200` changed,
/// or its problem. Refused items write nothing; with `all_or_none`, one refused item refuses
/// the whole batch (422 `batch_failed`).
#[utoipa::path(
    tag = "tickets",
    request_body = TicketBatch,
    responses(
        (status = 200, body = BatchResult, description = "Each item's outcome, in order"),
        (status = 422, description = "Invalid `items`, or an `all_or_none` batch with refused items (`batch_failed`, with `items`)", body = crate::error::Problem, content_type = "application/problem+json")
    ),
    security(("oauth2" = ["tickets:write"]))
)]
#[post("/tickets/batch")]
async fn batch_tickets(
    req: HttpRequest,
    state: web::Data<AppState>,
    auth: Authorized<TicketsWrite>,
    body: Json<BatchBody>,
) -> Result<HttpResponse, ApiError> {
    let body = body.into_inner()?;
    let open = async |tx: &Tx, body: CreateTicket| {
        let t = create(tx, &state, &auth, body).await?;
        Ok(Written::created(t.id, t.version))
    };
    let change = async |tx: &Tx, id: Uuid, body: UpdateTicket| {
        let t = update(tx, &state, &auth, id, body, None).await?;
        Ok(Written::updated(t.id, t.version))
    };
    batch::by_id(&state, &auth.origin, Lang::of(&req), body, open, change).await
}

/// Get a ticket.
#[utoipa::path(
    tag = "tickets",
    params(("id" = Uuid, Path)),
    responses((status = 200, body = Ticket, headers(("ETag" = String)))),
    security(("oauth2" = ["tickets:read"]))
)]
#[get("/tickets/{id}")]
async fn get_ticket(
    state: web::Data<AppState>,
    auth: Authorized<TicketsRead>,
    id: web::Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    let ticket = Ticket::from(
        visible_ticket(state.store.conn(), &auth, id.into_inner(), Lock::No)
            .await?
            .0,
    );
    Ok(respond::ok(&ticket, ticket.version))
}

/// Change a ticket: its fields, its assignee or team, or its status along the workflow. A new
/// category or priority takes the due times of the policy that matches now; time `pending`
/// moves the resolution due time later.
#[utoipa::path(
    tag = "tickets",
    params(("id" = Uuid, Path), IfMatchParam),
    request_body = UpdateTicket,
    responses(
        (status = 200, body = Ticket, headers(("ETag" = String))),
        (status = 409, description = "A status move the workflow does not allow (`allowed`)", body = crate::error::Problem, content_type = "application/problem+json")
    ),
    security(("oauth2" = ["tickets:write"]))
)]
#[patch("/tickets/{id}")]
async fn update_ticket(
    state: web::Data<AppState>,
    auth: Authorized<TicketsWrite>,
    id: web::Path<Uuid>,
    if_match: IfMatch,
    body: Json<UpdateTicket>,
) -> Result<HttpResponse, ApiError> {
    let body = body.into_inner()?;
    let tx = state.store.begin().await?;
    let saved = update(&tx, &state, &auth, id.into_inner(), body, Some(&if_match)).await?;
    audit::commit(tx, &state, &auth.origin).await?;
    Ok(respond::ok(&saved, saved.version))
}

/// Applies a change to ticket `id` on `tx`, audited: the change request's work, and a batch
/// item's. Every refusal comes before the first write.
///
/// # Errors
/// 404 when the caller cannot change it, 412 on a stale `if_match`, 422 for invalid fields,
/// 409 for a status move the workflow forbids.
pub(crate) async fn update(
    tx: &Tx,
    state: &AppState,
    auth: &Authorized<TicketsWrite>,
    id: Uuid,
    body: UpdateTicket,
    if_match: Option<&IfMatch>,
) -> Result<Ticket, ApiError> {
    let (before, customer) = visible_ticket(tx, auth, id, Lock::ForUpdate).await?;
    if let Some(if_match) = if_match {
        if_match.check(before.version)?;
    }
    let now = state.clock.now();
    let mut t = before.clone();
    let mut errors = Errors::default();
    t.contact_id = body.contact_id.apply_to(t.contact_id);
    if t.contact_id != before.contact_id {
        access::check_contact(tx, t.customer_id, t.contact_id, &mut errors).await?;
    }
    body.subject
        .required(&mut errors, "subject", &mut t.subject, Title::parse);
    body.description.optional(
        &mut errors,
        "description",
        &mut t.description,
        TicketText::parse,
    );
    body.channel
        .required(&mut errors, "channel", &mut t.channel, TicketChannel::parse);
    body.category.required(
        &mut errors,
        "category",
        &mut t.category,
        TicketCategory::parse,
    );
    body.priority.required(
        &mut errors,
        "priority",
        &mut t.priority,
        TicketPriority::parse,
    );
    t.assignee_id = body.assignee_id.apply_to(t.assignee_id);
    if t.assignee_id != before.assignee_id {
        check_assignee(tx, t.assignee_id, &mut errors).await?;
    }
    t.team_id = body.team_id.apply_to(t.team_id);
    if t.team_id != before.team_id {
        check_team(tx, t.team_id, &mut errors).await?;
    }
    body.tags.collection(&mut errors, &mut t.tags, |tags, e| {
        Some(parse_tags(&tags, "tags", e))
    });
    let mut status = t.status;
    body.status
        .required(&mut errors, "status", &mut status, TicketStatus::parse);
    errors.finish()?;
    // A new category or priority can change the policy, and so the due times.
    let retargeted = t.category != before.category || t.priority != before.priority;
    let policy = if retargeted {
        policy_for(tx, &t, customer.grade).await?
    } else {
        policy_of(tx, &t).await?
    };
    if retargeted {
        t.apply_sla(policy.as_ref());
    }
    if status != t.status {
        let window = chrono::Duration::days(state.settings.ticket_reopen_days);
        t.move_to(status, now, window, policy.as_ref())
            .map_err(|e| {
                ApiError::status_refused(("A ticket", "工单"), e.from, e.to, &e.allowed)
            })?;
    }
    if t.assignee_id != before.assignee_id {
        notify_assignee(tx, auth.user_id(), &t, now).await?;
    }
    if t.status == TicketStatus::Resolved && before.status != TicketStatus::Resolved {
        // Its linked articles helped solve it.
        articles::record_uses(tx, t.id, now).await?;
        invitations::on_event(tx, SurveyEvent::TicketResolved, t.id, now).await?;
    }
    let saved = Ticket::from(repos::save(tx, &t, now).await?);
    let before = Ticket::from(before);
    audit::record(
        tx,
        state,
        &auth.origin,
        audit::Subject::of_customer("ticket", saved.id, Some(saved.customer_id)),
        "update",
        audit::changes(Some(&before), Some(&saved)),
    )
    .await?;
    Ok(saved)
}

/// A ticket's comments, oldest first.
#[utoipa::path(
    tag = "tickets",
    params(("id" = Uuid, Path), CommentListParams),
    responses((status = 200, body = TicketCommentList)),
    security(("oauth2" = ["tickets:read"]))
)]
#[get("/tickets/{id}/comments")]
async fn list_ticket_comments(
    state: web::Data<AppState>,
    auth: Authorized<TicketsRead>,
    id: web::Path<Uuid>,
    params: Query<CommentListParams>,
) -> Result<HttpResponse, ApiError> {
    let p = params.into_inner()?;
    let (limit, cursor) = page_params(p.limit, p.cursor.as_deref(), "id")?;
    let db = state.store.conn();
    let (ticket, _) = visible_ticket(db, &auth, id.into_inner(), Lock::No).await?;
    let page = tickets::comments(db, ticket.id, cursor, limit).await?;
    Ok(
        HttpResponse::Ok().json(TicketCommentList::from(Paged::from_page(
            page,
            "id",
            TicketComment::from,
        ))),
    )
}

/// Add a public reply or an internal note. The first public reply by staff is the ticket's
/// first response (`first_responded_at`), and takes a `new` ticket to `open`.
#[utoipa::path(
    tag = "tickets",
    params(("id" = Uuid, Path)),
    request_body = CreateTicketComment,
    responses((status = 201, body = TicketComment, headers(("Location" = String), ("ETag" = String)))),
    security(("oauth2" = ["tickets:write"]))
)]
#[post("/tickets/{id}/comments")]
async fn create_ticket_comment(
    state: web::Data<AppState>,
    auth: Authorized<TicketsWrite>,
    id: web::Path<Uuid>,
    body: Json<CreateTicketComment>,
) -> Result<HttpResponse, ApiError> {
    let body = body.into_inner()?;
    let tx = state.store.begin().await?;
    let (ticket, _) = visible_ticket(&tx, &auth, id.into_inner(), Lock::ForUpdate).await?;
    let mut errors = Errors::default();
    let text = match body.body.as_deref() {
        Some(b) => errors.check("body", TicketText::parse(b)),
        None => {
            errors.add("body", Invalid::Required);
            None
        }
    };
    let text = errors.finish_with(text)?;
    let now = state.clock.now();
    let comment = DomainComment {
        id: Uuid::now_v7(),
        ticket_id: ticket.id,
        body: text,
        public: body.public,
        author_id: auth.actor().id(),
        created_at: now,
    };
    tickets::insert_comment(&tx, &comment).await?;
    let mut answered = ticket.clone();
    answered.record_comment(comment.public, now);
    if answered != ticket {
        repos::save(&tx, &answered, now).await?;
    }
    let body = TicketComment::from(comment);
    audit::record_and_commit(
        tx,
        &state,
        &auth.origin,
        audit::Subject::of_customer("ticket_comment", body.id, Some(ticket.customer_id)),
        "create",
        audit::changes(None, Some(&body)),
    )
    .await?;
    Ok(respond::created(
        &body,
        body.version,
        format!("/v1/tickets/{}/comments", body.ticket_id),
    ))
}

//! Tasks: follow-ups assigned to users, made by people or by rules.

use actix_web::{HttpResponse, delete, get, patch, post, web};
use chrono::{DateTime, Utc};
use rapport_domain::Invalid;
use rapport_domain::access::Visibility;
use rapport_domain::activity::{Task as DomainTask, TaskDescription, TaskOrigin};
use rapport_domain::auth::Scope;
use rapport_domain::enums::TaskStatus;
use rapport_domain::name::{Name, Title};
use rapport_domain::validation::Errors;
use rapport_store::repos::tasks::{self, TaskFilter, TaskScope};
use rapport_store::repos::{self, Lock, contacts, customers, users};
use rapport_store::{Conn, StoreError};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_actix_web::service_config::ServiceConfig;
use uuid::Uuid;

use crate::audit;
use crate::auth::scopes::{TasksRead, TasksWrite};
use crate::auth::{Authorized, Caller};
use crate::error::ApiError;
use crate::extract::{IfMatch, IfMatchParam, Json, Query, code_param, user_param};
use crate::feed;
use crate::pagination::{Paged, page_params};
use crate::patch::Patch;
use crate::references;
use crate::respond;
use crate::routes::customers::access;
use crate::schemas;
use crate::state::AppState;

pub fn configure(cfg: &mut ServiceConfig) {
    cfg.service(list_tasks)
        .service(create_task)
        .service(get_task)
        .service(update_task)
        .service(delete_task);
}

/// A follow-up to do.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Task {
    pub id: Uuid,
    #[schema(example = "Send the quotation")]
    pub title: String,
    pub description: Option<String>,
    pub customer_id: Option<Uuid>,
    pub contact_id: Option<Uuid>,
    pub assignee_id: Uuid,
    pub due_at: Option<DateTime<Utc>>,
    pub reminder_at: Option<DateTime<Utc>>,
    #[schema(schema_with = schemas::task_status)]
    pub status: String,
    pub completed_at: Option<DateTime<Utc>>,
    #[schema(schema_with = schemas::task_origin)]
    pub origin: String,
    /// Open and past its due time.
    pub overdue: bool,
    pub created_by: Option<Uuid>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub version: i32,
}

impl Task {
    /// The answer for a task, as of `now`.
    pub fn new(t: DomainTask, now: DateTime<Utc>) -> Task {
        Task {
            overdue: t.is_overdue(now),
            id: t.id,
            title: t.title.into_string(),
            description: t.description.map(Name::into_string),
            customer_id: t.customer_id,
            contact_id: t.contact_id,
            assignee_id: t.assignee_id,
            due_at: t.due_at,
            reminder_at: t.reminder_at,
            status: t.status.as_str().to_owned(),
            completed_at: t.completed_at,
            origin: t.origin.as_str().to_owned(),
            created_by: t.created_by,
            created_at: t.created_at,
            updated_at: t.updated_at,
            version: t.version,
        }
    }
}

crate::list_type!(TaskList, Task, with_deletions);

/// A new task.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateTask {
    #[schema(required = true, example = "Send the quotation")]
    pub title: Option<String>,
    pub description: Option<String>,
    pub customer_id: Option<Uuid>,
    /// A contact of `customer_id`.
    pub contact_id: Option<Uuid>,
    /// Default: the caller (required for integration clients).
    pub assignee_id: Option<Uuid>,
    pub due_at: Option<DateTime<Utc>>,
    pub reminder_at: Option<DateTime<Utc>>,
}

/// Changes to a task; `status: done` stamps `completed_at`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateTask {
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    pub title: Patch<String>,
    #[serde(default)]
    #[schema(value_type = Option<String>, nullable)]
    pub description: Patch<String>,
    #[serde(default)]
    #[schema(value_type = Option<Uuid>)]
    pub assignee_id: Patch<Uuid>,
    #[serde(default)]
    #[schema(value_type = Option<DateTime<Utc>>, nullable)]
    pub due_at: Patch<DateTime<Utc>>,
    #[serde(default)]
    #[schema(value_type = Option<DateTime<Utc>>, nullable)]
    pub reminder_at: Patch<DateTime<Utc>>,
    #[serde(default)]
    #[schema(schema_with = schemas::task_status)]
    pub status: Patch<String>,
}

/// Filters of the task list.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct TaskListParams {
    /// A user id, or `me`.
    #[param(schema_with = schemas::user_or_me)]
    pub assignee_id: Option<String>,
    pub customer_id: Option<Uuid>,
    #[param(schema_with = schemas::task_status)]
    pub status: Option<String>,
    /// `true`: only open tasks past their due time.
    pub overdue: Option<bool>,
    /// 1 to 200, default 50.
    pub limit: Option<i64>,
    pub cursor: Option<String>,
    /// The change feed: every task changed at or after this time, oldest change first,
    /// each at its latest version, and in `deleted` those deleted for good since then (with
    /// their `id`, `customer_id` and `deleted_at`), in the same order under the same cursor.
    /// Changes show once they are 5 seconds old. Walk the pages with `cursor`; at the end, ask
    /// again with the last `updated_at` or `deleted_at` you saw (keep the highest `version`).
    /// Deletions follow `assignee_id` and `customer_id`, not `status` or `overdue` (a deleted
    /// task has nothing left to test; dropping an id you never had is harmless). A deleted
    /// customer's tasks leave the feed with it (its tombstone is in the customer feed).
    #[param(example = "2026-12-01T00:00:00Z")]
    pub updated_since: Option<DateTime<Utc>>,
}

/// The tasks a caller sees: those of the customers it may read, and about no customer its own
/// (or all, for a caller that sees every customer).
fn scope_of(caller: &Caller) -> TaskScope {
    let visibility = caller.visibility();
    TaskScope {
        me: caller.user_id(),
        customers: if caller.scopes.contains(Scope::CustomersRead) {
            visibility
        } else {
            Visibility::Nothing
        },
        all_unattached: visibility == Visibility::All,
    }
}

/// A task the caller sees (its own, or one of a customer it sees); 404 otherwise.
async fn visible_task(
    db: &impl Conn,
    caller: &Caller,
    id: Uuid,
    lock: Lock,
) -> Result<DomainTask, ApiError> {
    let task = repos::fetch::<DomainTask>(db, id, lock).await?;
    let scope = scope_of(caller);
    // A task of a customer is seen with the (live) customer, and only with it.
    let customer_visible = match task.customer_id {
        Some(id) => match customers::get(db, id).await {
            Ok(c) => c.deleted_at.is_none() && scope.customers.allows(c.owner_id, c.team_id),
            Err(StoreError::NotFound) => false,
            Err(e) => return Err(e.into()),
        },
        None => false,
    };
    if tasks::is_visible(&task, scope, customer_visible) {
        Ok(task)
    } else {
        Err(ApiError::NotFound)
    }
}

async fn check_assignee(db: &impl Conn, id: Uuid, errors: &mut Errors) -> Result<(), ApiError> {
    match users::get(db, id).await {
        Ok(u) if !u.disabled => Ok(()),
        Ok(_) | Err(StoreError::NotFound) => {
            errors.add("assignee_id", Invalid::UnknownReference);
            Ok(())
        }
        Err(e) => Err(e.into()),
    }
}

/// List tasks: the caller's own, and those of customers it sees, newest first; or their change
/// feed.
#[utoipa::path(
    tag = "tasks",
    params(TaskListParams),
    responses((status = 200, body = TaskList)),
    security(("oauth2" = ["tasks:read"]))
)]
#[get("/tasks")]
async fn list_tasks(
    state: web::Data<AppState>,
    auth: Authorized<TasksRead>,
    params: Query<TaskListParams>,
) -> Result<HttpResponse, ApiError> {
    let p = params.into_inner()?;
    let sort = feed::sort_or(p.updated_since, "-created_at");
    let (limit, cursor) = page_params(p.limit, p.cursor.as_deref(), sort)?;
    let assignee_id = user_param("assignee_id", p.assignee_id.as_deref(), auth.user_id())?;
    let status = code_param("status", p.status.as_deref(), TaskStatus::parse)?;
    let now = state.clock.now();
    let filter = TaskFilter {
        assignee_id,
        customer_id: p.customer_id,
        status,
        overdue_at: p.overdue.unwrap_or(false).then_some(now),
        changes: p.updated_since.map(|since| feed::changes(&state, since)),
    };
    let (db, scope) = (state.list_reads(&auth), scope_of(&auth));
    let page = tasks::list(db, scope, &filter, cursor.clone(), limit).await?;
    let answer = |t| Task::new(t, now);
    let (page, deleted) = feed::with_deletions(
        page,
        filter.changes,
        limit,
        |t| (t.updated_at, t.id),
        |changes| tasks::deleted(db, scope, &filter, changes, cursor, limit),
    )
    .await?;
    Ok(HttpResponse::Ok().json(TaskList::new(Paged::from_page(page, sort, answer), deleted)))
}

/// Create a task.
#[utoipa::path(
    tag = "tasks",
    request_body = CreateTask,
    responses((status = 201, body = Task, headers(("Location" = String), ("ETag" = String)))),
    security(("oauth2" = ["tasks:write"]))
)]
#[post("/tasks")]
async fn create_task(
    state: web::Data<AppState>,
    auth: Authorized<TasksWrite>,
    body: Json<CreateTask>,
) -> Result<HttpResponse, ApiError> {
    let body = body.into_inner()?;
    let now = state.clock.now();
    let tx = state.store.begin().await?;
    let mut errors = Errors::default();
    let title = match body.title.as_deref() {
        Some(t) => errors.check("title", Title::parse(t)),
        None => {
            errors.add("title", Invalid::Required);
            None
        }
    };
    let description = errors.check_opt(
        "description",
        body.description.as_deref(),
        TaskDescription::parse,
    );
    if let Some(id) = body.customer_id {
        references::known(
            "customer_id",
            access::visible(&tx, &auth, id).await,
            &mut errors,
        )?;
    }
    if let Some(contact) = body.contact_id {
        match (contacts::get(&tx, contact).await, body.customer_id) {
            (Ok(c), Some(customer)) if c.customer_id == customer => {}
            (
                Err(
                    e @ (StoreError::Db(_) | StoreError::Unavailable(_) | StoreError::Contended(_)),
                ),
                _,
            ) => {
                return Err(e.into());
            }
            _ => errors.add("contact_id", Invalid::UnknownReference),
        }
    }
    let assignee = body.assignee_id.or(auth.user_id());
    match assignee {
        Some(id) => check_assignee(&tx, id, &mut errors).await?,
        None => errors.add("assignee_id", Invalid::Required),
    }
    let (title, description, assignee_id) =
        errors.finish_with((|| Some((title?, description?, assignee?)))())?;
    let task = DomainTask {
        id: Uuid::now_v7(),
        title,
        description,
        customer_id: body.customer_id,
        contact_id: body.contact_id,
        assignee_id,
        due_at: body.due_at.map(rapport_domain::clock::to_micros),
        reminder_at: body.reminder_at.map(rapport_domain::clock::to_micros),
        status: TaskStatus::Open,
        completed_at: None,
        origin: TaskOrigin::Manual,
        created_by: auth.user_id(),
        created_at: now,
        updated_at: now,
        version: 1,
    };
    tasks::insert(&tx, &task).await?;
    let body = Task::new(task, now);
    audit::record_and_commit(
        tx,
        &state,
        &auth.origin,
        audit::Subject::of_customer("task", body.id, body.customer_id),
        "create",
        audit::changes(None, Some(&body)),
    )
    .await?;
    Ok(respond::created(
        &body,
        body.version,
        format!("/v1/tasks/{}", body.id),
    ))
}

/// Get a task.
#[utoipa::path(
    tag = "tasks",
    params(("id" = Uuid, Path)),
    responses((status = 200, body = Task, headers(("ETag" = String)))),
    security(("oauth2" = ["tasks:read"]))
)]
#[get("/tasks/{id}")]
async fn get_task(
    state: web::Data<AppState>,
    auth: Authorized<TasksRead>,
    id: web::Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    let task = Task::new(
        visible_task(state.store.conn(), &auth, id.into_inner(), Lock::No).await?,
        state.clock.now(),
    );
    Ok(respond::ok(&task, task.version))
}

/// Change a task.
#[utoipa::path(
    tag = "tasks",
    params(("id" = Uuid, Path), IfMatchParam),
    request_body = UpdateTask,
    responses((status = 200, body = Task, headers(("ETag" = String)))),
    security(("oauth2" = ["tasks:write"]))
)]
#[patch("/tasks/{id}")]
async fn update_task(
    state: web::Data<AppState>,
    auth: Authorized<TasksWrite>,
    id: web::Path<Uuid>,
    if_match: IfMatch,
    body: Json<UpdateTask>,
) -> Result<HttpResponse, ApiError> {
    let body = body.into_inner()?;
    let now = state.clock.now();
    let tx = state.store.begin().await?;
    let before = visible_task(&tx, &auth, id.into_inner(), Lock::ForUpdate).await?;
    if_match.check(before.version)?;
    let mut t = before.clone();
    let mut errors = Errors::default();
    body.title
        .required(&mut errors, "title", &mut t.title, Title::parse);
    body.description.optional(
        &mut errors,
        "description",
        &mut t.description,
        TaskDescription::parse,
    );
    if let Some(id) = body.assignee_id.into_required(&mut errors, "assignee_id") {
        check_assignee(&tx, id, &mut errors).await?;
        t.assignee_id = id;
    }
    t.due_at = body
        .due_at
        .map(rapport_domain::clock::to_micros)
        .apply_to(t.due_at);
    t.reminder_at = body
        .reminder_at
        .map(rapport_domain::clock::to_micros)
        .apply_to(t.reminder_at);
    if let Some(status) = body
        .status
        .into_required(&mut errors, "status")
        .and_then(|v| errors.check("status", TaskStatus::parse(&v)))
    {
        t.set_status(status, now);
    }
    errors.finish()?;
    let saved = Task::new(repos::save(&tx, &t, now).await?, now);
    let before = Task::new(before, now);
    audit::record_and_commit(
        tx,
        &state,
        &auth.origin,
        audit::Subject::of_customer("task", saved.id, saved.customer_id),
        "update",
        audit::changes(Some(&before), Some(&saved)),
    )
    .await?;
    Ok(respond::ok(&saved, saved.version))
}

/// Delete a task.
#[utoipa::path(
    tag = "tasks",
    params(("id" = Uuid, Path), IfMatchParam),
    responses((status = 204, description = "Deleted")),
    security(("oauth2" = ["tasks:write"]))
)]
#[delete("/tasks/{id}")]
async fn delete_task(
    state: web::Data<AppState>,
    auth: Authorized<TasksWrite>,
    id: web::Path<Uuid>,
    if_match: IfMatch,
) -> Result<HttpResponse, ApiError> {
    let now = state.clock.now();
    let tx = state.store.begin().await?;
    let task = visible_task(&tx, &auth, id.into_inner(), Lock::ForUpdate).await?;
    if_match.check(task.version)?;
    tasks::delete(&tx, &task, state.clock.now()).await?;
    let before = Task::new(task, now);
    audit::record_and_commit(
        tx,
        &state,
        &auth.origin,
        audit::Subject::of_customer("task", before.id, before.customer_id),
        "delete",
        audit::changes(Some(&before), None),
    )
    .await?;
    Ok(HttpResponse::NoContent().finish())
}

//! Teams: read by any signed-in caller, managed with `users:write`.

use actix_web::{HttpResponse, delete, get, patch, post, web};
use chrono::{DateTime, Utc};
use rapport_domain::assignment::AssignmentRule;
use rapport_domain::identity as domain;
use rapport_domain::name::OrgName;
use rapport_domain::validation::Errors;
use rapport_store::repos::{self, customers, teams, users};
use rapport_store::{Conn, StoreError};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_actix_web::service_config::ServiceConfig;
use uuid::Uuid;

use crate::audit;
use crate::auth::scopes::UsersWrite;
use crate::auth::{Authorized, Caller};
use crate::error::{ApiError, ProblemCode};
use crate::extract::{IfMatch, IfMatchParam, Json, Query};
use crate::feed;
use crate::i18n::Text;
use crate::pagination::{Paged, page_params};
use crate::patch::Patch;
use crate::references;
use crate::respond;
use crate::schemas;
use crate::state::AppState;

pub fn configure(cfg: &mut ServiceConfig) {
    cfg.service(list_teams)
        .service(create_team)
        .service(get_team)
        .service(update_team)
        .service(delete_team);
}

/// A team, led by a manager.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Team {
    pub id: Uuid,
    #[schema(example = "East China sales")]
    pub name: String,
    /// The user who leads the team: escalations and alerts go to it.
    pub manager_id: Option<Uuid>,
    /// How work created for the team without an assignee is handed out: new tickets to its
    /// service agents, new leads without an owner to its sales reps (disabled users
    /// skipped): `none`, `round_robin` or `least_loaded` (fewest active tickets or leads).
    #[schema(schema_with = schemas::assignment_rule)]
    pub assignment: String,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub version: i32,
}

crate::list_type!(TeamList, Team, with_deletions);

impl From<domain::Team> for Team {
    fn from(t: domain::Team) -> Self {
        Team {
            id: t.id,
            name: t.name.into_string(),
            manager_id: t.manager_id,
            assignment: t.assignment.as_str().to_owned(),
            created_at: t.created_at,
            updated_at: t.updated_at,
            version: t.version,
        }
    }
}

/// A new team.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateTeam {
    #[schema(example = "East China sales")]
    pub name: String,
    pub manager_id: Option<Uuid>,
    /// Default `none`.
    #[schema(schema_with = schemas::assignment_rule_or_null)]
    pub assignment: Option<String>,
}

/// Changes to a team; `null` clears the manager.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateTeam {
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    pub name: Patch<String>,
    #[serde(default)]
    #[schema(value_type = Option<Uuid>, nullable)]
    pub manager_id: Patch<Uuid>,
    #[serde(default)]
    #[schema(schema_with = schemas::assignment_rule)]
    pub assignment: Patch<String>,
}

/// Paging of the team list.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct TeamListParams {
    /// 1 to 200, default 50.
    pub limit: Option<i64>,
    pub cursor: Option<String>,
    /// The change feed: every team changed at or after this time, oldest change first,
    /// each at its latest version, and in `deleted` those deleted since then, in the same
    /// order under the same cursor. Changes show once they are 5 seconds old. Walk the pages
    /// with `cursor`; at the end, ask again with the last `updated_at` or `deleted_at` you
    /// saw (keep the highest `version`).
    #[param(example = "2026-12-01T00:00:00Z")]
    pub updated_since: Option<DateTime<Utc>>,
}

async fn check_manager(
    db: &impl Conn,
    manager_id: Option<Uuid>,
    errors: &mut Errors,
) -> Result<(), ApiError> {
    if let Some(id) = manager_id {
        references::known("manager_id", users::get(db, id).await, errors)?;
    }
    Ok(())
}

fn name_taken(err: StoreError) -> ApiError {
    if err.is_conflict_on(&teams::NAME_TAKEN) {
        ApiError::conflict(
            ProblemCode::Duplicate,
            Text::new("A team with this name already exists.", "同名团队已存在。"),
        )
    } else {
        err.into()
    }
}

/// List teams.
#[utoipa::path(
    tag = "teams",
    params(TeamListParams),
    responses((status = 200, body = TeamList)),
    security(("oauth2" = []))
)]
#[get("/teams")]
async fn list_teams(
    state: web::Data<AppState>,
    caller: Caller,
    params: Query<TeamListParams>,
) -> Result<HttpResponse, ApiError> {
    let params = params.into_inner()?;
    let sort = feed::sort_or(params.updated_since, "id");
    let (limit, cursor) = page_params(params.limit, params.cursor.as_deref(), sort)?;
    let changes = params
        .updated_since
        .map(|since| feed::changes(&state, since));
    let db = state.list_reads(&caller);
    let page = teams::list(db, changes, cursor.clone(), limit).await?;
    let (page, deleted) = feed::with_deletions(
        page,
        changes,
        limit,
        |t| (t.updated_at, t.id),
        |changes| teams::deleted(db, changes, cursor, limit),
    )
    .await?;
    Ok(HttpResponse::Ok().json(TeamList::new(
        Paged::from_page(page, sort, Team::from),
        deleted,
    )))
}

/// Create a team.
#[utoipa::path(
    tag = "teams",
    request_body = CreateTeam,
    responses(
        (status = 201, body = Team, headers(("Location" = String), ("ETag" = String))),
        (status = 409, description = "The name is taken", body = crate::error::Problem, content_type = "application/problem+json")
    ),
    security(("oauth2" = ["users:write"]))
)]
#[post("/teams")]
async fn create_team(
    state: web::Data<AppState>,
    auth: Authorized<UsersWrite>,
    body: Json<CreateTeam>,
) -> Result<HttpResponse, ApiError> {
    let body = body.into_inner()?;
    let mut errors = Errors::default();
    let name = errors.check("name", OrgName::parse(&body.name));
    let assignment = match body.assignment.as_deref() {
        None => Some(AssignmentRule::None),
        Some(rule) => errors.check("assignment", AssignmentRule::parse(rule)),
    };
    check_manager(state.store.conn(), body.manager_id, &mut errors).await?;
    let (name, assignment) = errors.finish_with(name.zip(assignment))?;
    let tx = state.store.begin().await?;
    let team: Team = teams::insert(
        &tx,
        Uuid::now_v7(),
        name,
        body.manager_id,
        assignment,
        state.clock.now(),
    )
    .await
    .map_err(name_taken)?
    .into();
    audit::record_and_commit(
        tx,
        &state,
        &auth.origin,
        audit::Subject::new("team", team.id),
        "create",
        audit::changes(None, Some(&team)),
    )
    .await?;
    Ok(respond::created(
        &team,
        team.version,
        format!("/v1/teams/{}", team.id),
    ))
}

/// Get a team.
#[utoipa::path(
    tag = "teams",
    params(("id" = Uuid, Path)),
    responses((status = 200, body = Team, headers(("ETag" = String)))),
    security(("oauth2" = []))
)]
#[get("/teams/{id}")]
async fn get_team(
    state: web::Data<AppState>,
    _caller: Caller,
    id: web::Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    let team = Team::from(teams::get(state.store.conn(), id.into_inner()).await?);
    Ok(respond::ok(&team, team.version))
}

/// Update a team.
#[utoipa::path(
    tag = "teams",
    params(("id" = Uuid, Path), IfMatchParam),
    request_body = UpdateTeam,
    responses(
        (status = 200, body = Team, headers(("ETag" = String))),
        (status = 409, description = "The name is taken", body = crate::error::Problem, content_type = "application/problem+json")
    ),
    security(("oauth2" = ["users:write"]))
)]
#[patch("/teams/{id}")]
async fn update_team(
    state: web::Data<AppState>,
    auth: Authorized<UsersWrite>,
    id: web::Path<Uuid>,
    if_match: IfMatch,
    body: Json<UpdateTeam>,
) -> Result<HttpResponse, ApiError> {
    let body = body.into_inner()?;
    let tx = state.store.begin().await?;
    let before: domain::Team = repos::get_locked(&tx, id.into_inner()).await?;
    if_match.check(before.version)?;
    let mut after = before.clone();
    let mut errors = Errors::default();
    body.name
        .required(&mut errors, "name", &mut after.name, OrgName::parse);
    after.manager_id = body.manager_id.apply_to(after.manager_id);
    body.assignment.required(
        &mut errors,
        "assignment",
        &mut after.assignment,
        AssignmentRule::parse,
    );
    check_manager(
        &tx,
        after.manager_id.filter(|m| Some(*m) != before.manager_id),
        &mut errors,
    )
    .await?;
    errors.finish()?;
    let saved = Team::from(
        repos::save(&tx, &after, state.clock.now())
            .await
            .map_err(name_taken)?,
    );
    let before = Team::from(before);
    audit::record_and_commit(
        tx,
        &state,
        &auth.origin,
        audit::Subject::new("team", saved.id),
        "update",
        audit::changes(Some(&before), Some(&saved)),
    )
    .await?;
    Ok(respond::ok(&saved, saved.version))
}

/// Delete a team that has no members.
#[utoipa::path(
    tag = "teams",
    params(("id" = Uuid, Path), IfMatchParam),
    responses(
        (status = 204, description = "Deleted"),
        (status = 409, description = "The team still has members", body = crate::error::Problem, content_type = "application/problem+json")
    ),
    security(("oauth2" = ["users:write"]))
)]
#[delete("/teams/{id}")]
async fn delete_team(
    state: web::Data<AppState>,
    auth: Authorized<UsersWrite>,
    id: web::Path<Uuid>,
    if_match: IfMatch,
) -> Result<HttpResponse, ApiError> {
    let tx = state.store.begin().await?;
    let team: domain::Team = repos::get_locked(&tx, id.into_inner()).await?;
    if_match.check(team.version)?;
    if users::count_in_team(&tx, team.id).await? > 0
        || customers::count_in_team(&tx, team.id).await? > 0
    {
        return Err(ApiError::conflict(
            ProblemCode::Conflict,
            Text::new(
                "The team still has members or customers: move them first.",
                "该团队仍有成员或客户，请先将其移出。",
            ),
        ));
    }
    teams::delete(&tx, team.id, state.clock.now()).await?;
    let team = Team::from(team);
    audit::record_and_commit(
        tx,
        &state,
        &auth.origin,
        audit::Subject::new("team", team.id),
        "delete",
        audit::changes(Some(&team), None),
    )
    .await?;
    Ok(HttpResponse::NoContent().finish())
}

//! Teams.

use chrono::{DateTime, Utc};
use rapport_domain::assignment::AssignmentRule;
use rapport_domain::identity::Team;
use rapport_domain::name::OrgName;
use sea_orm::{ActiveValue::Set, Condition, EntityTrait};
use uuid::Uuid;

use crate::entities::team::{self, Column, Entity};
use crate::page::{Changes, Cursor, Page, SortDir, SortValue, list_cursor, list_order};
use crate::repos::deletions::{self, Deleted, Kind, Tombstone};
use crate::repos::record::{self, record};
use crate::repos::{delete_row, parse_column};
use crate::{Conn, StoreError};

/// The unique index on the team name; SQLite reports the column instead.
pub const NAME_TAKEN: [&str; 2] = ["teams_name_key", "teams.name"];

fn to_domain(m: team::Model) -> Result<Team, StoreError> {
    Ok(Team {
        id: m.id,
        name: parse_column("teams.name", &m.name, OrgName::parse)?,
        manager_id: m.manager_id,
        assignment: parse_column("teams.assignment", &m.assignment, AssignmentRule::parse)?,
        created_at: m.created_at,
        updated_at: m.updated_at,
        version: m.version,
    })
}

/// The columns a save writes.
fn to_active(t: &Team) -> team::ActiveModel {
    team::ActiveModel {
        name: Set(t.name.to_string()),
        manager_id: Set(t.manager_id),
        assignment: Set(t.assignment.as_str().to_owned()),
        updated_at: Set(t.updated_at),
        version: Set(t.version),
        ..Default::default()
    }
}

record!(Team, Entity, to_active: |t| Ok(to_active(t)), from_model: to_domain);

/// # Errors
/// `Conflict` when the name is taken (see [`NAME_TAKEN`]).
pub async fn insert(
    db: &impl Conn,
    id: Uuid,
    name: OrgName,
    manager_id: Option<Uuid>,
    assignment: AssignmentRule,
    now: DateTime<Utc>,
) -> Result<Team, StoreError> {
    let model = team::ActiveModel {
        id: Set(id),
        name: Set(name.into_string()),
        manager_id: Set(manager_id),
        assignment: Set(assignment.as_str().to_owned()),
        created_at: Set(now),
        updated_at: Set(now),
        version: Set(1),
    };
    to_domain(Entity::insert(model).exec_with_returning(db).await?)
}

/// # Errors
/// `NotFound` when there is no such team.
pub async fn get(db: &impl Conn, id: Uuid) -> Result<Team, StoreError> {
    record::get(db, id).await
}

/// Teams in creation order.
///
/// # Errors
/// Database failures.
pub async fn list(
    db: &impl Conn,
    changes: Option<Changes>,
    after: Option<Cursor>,
    limit: u64,
) -> Result<Page<Team>, StoreError> {
    let own = (Column::Id, SortDir::Asc);
    let select = list_order(
        Entity::find(),
        changes,
        own,
        Column::UpdatedAt,
        Column::Id,
        after,
        limit,
    );
    let rows = select.all(db).await?;
    Page::from_models(rows, limit, to_domain, |t| {
        list_cursor(changes, t.updated_at, SortValue::Id, t.id)
    })
}

/// Deletes a team for good, leaving its tombstone for the change feed.
///
/// # Errors
/// `NotFound` when there is no such team.
pub async fn delete(db: &impl Conn, id: Uuid, now: DateTime<Utc>) -> Result<(), StoreError> {
    delete_row::<Entity>(db, id).await?;
    deletions::record(db, Deleted::seen_by_all(Kind::Team, id), now).await
}

/// One page of the teams deleted in `changes`, oldest deletion first.
///
/// # Errors
/// Database failures.
pub async fn deleted(
    db: &impl Conn,
    changes: Changes,
    after: Option<Cursor>,
    limit: u64,
) -> Result<Page<Tombstone>, StoreError> {
    deletions::page(db, Kind::Team, Condition::all(), changes, after, limit).await
}

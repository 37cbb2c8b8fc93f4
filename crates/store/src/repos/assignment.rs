//! Handing out unassigned work within a team: who may take it, how much open work each has,
//! and whose turn it is.

use std::collections::HashMap;

use rapport_domain::assignment::{AssignmentRule, Candidate};
use rapport_domain::auth::Role;
use rapport_domain::enums::LifecycleStage;
use rapport_domain::identity::Team;
use rapport_domain::ticket::TicketStatus;
use sea_orm::sea_query::{Expr, OnConflict};
use sea_orm::{ActiveValue::Set, ColumnTrait, EntityTrait, QueryFilter, QuerySelect};
use uuid::Uuid;

use crate::entities::{assignment_turn, ticket, user};
use crate::repos::record;
use crate::{Conn, StoreError};

/// What is handed out; each takes its own turns.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Work {
    /// A ticket, to the team's service agents.
    Ticket,
    /// A lead nobody owns, to the team's sales reps.
    Lead,
    /// An automation rule's task, to every member in turn, whatever the team's rule.
    Task,
}

impl Work {
    fn name(self) -> &'static str {
        match self {
            Work::Ticket => "ticket",
            Work::Lead => "lead",
            Work::Task => "task",
        }
    }

    /// The role that takes it; `None`: any member.
    fn role(self) -> Option<Role> {
        match self {
            Work::Ticket => Some(Role::ServiceAgent),
            Work::Lead => Some(Role::SalesRep),
            Work::Task => None,
        }
    }

    /// How it is handed out: by the team's rule, or (tasks) in turn.
    fn rule(self, team: &Team) -> AssignmentRule {
        match self {
            Work::Ticket | Work::Lead => team.assignment,
            Work::Task => AssignmentRule::RoundRobin,
        }
    }
}

/// The member of `team_id` to give new `work` to under the team's rule, recorded as the last
/// one picked; `None` when the team hands out nothing or has nobody to take it. Locks the team
/// row: two picks in one team queue up, so each sees the other's turn.
///
/// # Errors
/// `NotFound` when there is no such team.
pub async fn pick(db: &impl Conn, team_id: Uuid, work: Work) -> Result<Option<Uuid>, StoreError> {
    let team: Team = record::get_locked(db, team_id).await?;
    let rule = work.rule(&team);
    if rule == AssignmentRule::None {
        return Ok(None);
    }
    let mut select = user::Entity::find()
        .select_only()
        .column(user::Column::Id)
        .filter(user::Column::TeamId.eq(team_id))
        .filter(user::Column::Disabled.eq(false));
    if let Some(role) = work.role() {
        select = select.filter(user::Column::Role.eq(role.as_str()));
    }
    let members: Vec<Uuid> = select.into_tuple().all(db).await?;
    let open = match work {
        Work::Ticket => open_tickets(db, &members).await?,
        Work::Lead => open_leads(db, &members).await?,
        Work::Task => HashMap::new(),
    };
    let candidates: Vec<Candidate> = members
        .iter()
        .map(|id| Candidate {
            id: *id,
            open: open.get(id).copied().unwrap_or(0),
        })
        .collect();
    let last = assignment_turn::Entity::find_by_id((team_id, work.name().to_owned()))
        .one(db)
        .await?
        .map(|t| t.last_id);
    let Some(chosen) = rule.pick(&candidates, last) else {
        return Ok(None);
    };
    assignment_turn::Entity::insert(assignment_turn::ActiveModel {
        team_id: Set(team_id),
        work: Set(work.name().to_owned()),
        last_id: Set(chosen),
    })
    .on_conflict(
        OnConflict::columns([
            assignment_turn::Column::TeamId,
            assignment_turn::Column::Work,
        ])
        .update_column(assignment_turn::Column::LastId)
        .to_owned(),
    )
    .exec_without_returning(db)
    .await?;
    Ok(Some(chosen))
}

/// How many active tickets each of `users` is assigned.
async fn open_tickets(db: &impl Conn, users: &[Uuid]) -> Result<HashMap<Uuid, u64>, StoreError> {
    let done = [
        TicketStatus::Resolved.as_str(),
        TicketStatus::Closed.as_str(),
    ];
    let rows: Vec<(Option<Uuid>, i64)> = ticket::Entity::find()
        .select_only()
        .column(ticket::Column::AssigneeId)
        .column_as(Expr::col(ticket::Column::Id).count(), "open")
        .filter(ticket::Column::AssigneeId.is_in(users.iter().copied()))
        .filter(ticket::Column::Status.is_not_in(done))
        .group_by(ticket::Column::AssigneeId)
        .into_tuple()
        .all(db)
        .await?;
    Ok(counts(rows))
}

/// How many live leads each of `users` owns.
async fn open_leads(db: &impl Conn, users: &[Uuid]) -> Result<HashMap<Uuid, u64>, StoreError> {
    use crate::entities::customer::{Column as C, Entity as Customers};
    let rows: Vec<(Option<Uuid>, i64)> = Customers::find()
        .select_only()
        .column(C::OwnerId)
        .column_as(Expr::col(C::Id).count(), "open")
        .filter(C::OwnerId.is_in(users.iter().copied()))
        .filter(C::LifecycleStage.eq(LifecycleStage::Lead.as_str()))
        .filter(C::DeletedAt.is_null())
        .group_by(C::OwnerId)
        .into_tuple()
        .all(db)
        .await?;
    Ok(counts(rows))
}

fn counts(rows: Vec<(Option<Uuid>, i64)>) -> HashMap<Uuid, u64> {
    rows.into_iter()
        .filter_map(|(id, n)| Some((id?, u64::try_from(n).unwrap_or(0))))
        .collect()
}

//! Tasks: follow-ups assigned to users.

use chrono::{DateTime, Utc};
use rapport_domain::access::Visibility;
use rapport_domain::activity::{Task, TaskDescription, TaskOrigin};
use rapport_domain::enums::TaskStatus;
use rapport_domain::name::Title;
use sea_orm::sea_query::Expr;
use sea_orm::{ActiveValue::Set, ColumnTrait, Condition, EntityTrait, QueryFilter};
use uuid::Uuid;

use crate::entities::task::{self, Column, Entity};
use crate::page::{Changes, Cursor, Page, SortDir, SortValue, list_cursor, list_order};
use crate::repos::delete_row;
use crate::repos::deletions::{self, Deleted, Kind, Tombstone};
use crate::repos::record::{self, record};
use crate::repos::{customer_visible, parse_column, parse_optional};
use crate::{Conn, StoreError};

fn to_domain(m: task::Model) -> Result<Task, StoreError> {
    Ok(Task {
        id: m.id,
        title: parse_column("tasks.title", &m.title, Title::parse)?,
        description: parse_optional(
            "tasks.description",
            m.description.as_deref(),
            TaskDescription::parse,
        )?,
        customer_id: m.customer_id,
        contact_id: m.contact_id,
        assignee_id: m.assignee_id,
        due_at: m.due_at,
        reminder_at: m.reminder_at,
        status: parse_column("tasks.status", &m.status, TaskStatus::parse)?,
        completed_at: m.completed_at,
        origin: parse_column("tasks.origin", &m.origin, TaskOrigin::parse)?,
        created_by: m.created_by,
        created_at: m.created_at,
        updated_at: m.updated_at,
        version: m.version,
    })
}

fn to_active(t: &Task) -> task::ActiveModel {
    task::ActiveModel {
        id: Set(t.id),
        title: Set(t.title.to_string()),
        description: Set(t.description.as_ref().map(ToString::to_string)),
        customer_id: Set(t.customer_id),
        contact_id: Set(t.contact_id),
        assignee_id: Set(t.assignee_id),
        due_at: Set(t.due_at),
        reminder_at: Set(t.reminder_at),
        status: Set(t.status.as_str().to_owned()),
        completed_at: Set(t.completed_at),
        origin: Set(t.origin.as_str().to_owned()),
        created_by: Set(t.created_by),
        created_at: Set(t.created_at),
        updated_at: Set(t.updated_at),
        version: Set(t.version),
    }
}

record!(Task, Entity, to_active: |t| Ok(to_active(t)), from_model: to_domain);

/// Filters of the task list.
#[derive(Debug, Clone, Default)]
pub struct TaskFilter {
    pub assignee_id: Option<Uuid>,
    pub customer_id: Option<Uuid>,
    pub status: Option<TaskStatus>,
    /// Open tasks due before this time.
    pub overdue_at: Option<DateTime<Utc>>,
    /// The change feed: tasks changed in this span, oldest change first.
    pub changes: Option<Changes>,
}

/// Which tasks a caller sees. A task about a customer is seen with the customer and only with
/// it: its assignee who lost the customer (or a caller that may not read customers) does not
/// see it. A task about no customer is seen by its assignee and creator, or by everyone who
/// sees every customer.
#[derive(Debug, Clone, Copy)]
pub struct TaskScope {
    /// The calling user, if it is one.
    pub me: Option<Uuid>,
    /// The live customers whose tasks the caller sees.
    pub customers: Visibility,
    /// Does the caller see every task about no customer?
    pub all_unattached: bool,
}

impl TaskScope {
    /// Every task of live customers and every unattached one.
    pub const ALL: TaskScope = TaskScope {
        me: None,
        customers: Visibility::All,
        all_unattached: true,
    };
}

/// The tasks `scope` sees, over a table's customer, assignee and creator columns (the tasks'
/// own, or their tombstones').
fn visible<C: ColumnTrait>(scope: TaskScope, [customer, assignee, creator]: [C; 3]) -> Condition {
    let unattached = if scope.all_unattached {
        Condition::all().add(customer.is_null())
    } else if let Some(me) = scope.me {
        Condition::all()
            .add(customer.is_null())
            .add(Condition::any().add(assignee.eq(me)).add(creator.eq(me)))
    } else {
        Condition::all().add(Expr::cust("1 = 0"))
    };
    // `customer_visible` admits live customers only: a deleted customer's tasks go with it.
    Condition::any()
        .add(customer_visible(customer, scope.customers))
        .add(unattached)
}

/// # Errors
/// Database failures.
pub async fn insert(db: &impl Conn, task: &Task) -> Result<(), StoreError> {
    Entity::insert(to_active(task))
        .exec_without_returning(db)
        .await?;
    Ok(())
}

/// # Errors
/// `NotFound` when there is no such task.
pub async fn get(db: &impl Conn, id: Uuid) -> Result<Task, StoreError> {
    record::get(db, id).await
}

/// Can a caller with `scope` see this task?
pub fn is_visible(task: &Task, scope: TaskScope, customer_visible: bool) -> bool {
    match task.customer_id {
        Some(_) => customer_visible,
        None => {
            scope.all_unattached
                || scope
                    .me
                    .is_some_and(|me| task.assignee_id == me || task.created_by == Some(me))
        }
    }
}

/// Tasks the caller sees, newest first (oldest change first in a change feed).
///
/// # Errors
/// Database failures.
pub async fn list(
    db: &impl Conn,
    scope: TaskScope,
    filter: &TaskFilter,
    after: Option<Cursor>,
    limit: u64,
) -> Result<Page<Task>, StoreError> {
    let columns = [Column::CustomerId, Column::AssigneeId, Column::CreatedBy];
    let mut select = Entity::find().filter(visible(scope, columns));
    if let Some(id) = filter.assignee_id {
        select = select.filter(Column::AssigneeId.eq(id));
    }
    if let Some(id) = filter.customer_id {
        select = select.filter(Column::CustomerId.eq(id));
    }
    if let Some(status) = filter.status {
        select = select.filter(Column::Status.eq(status.as_str()));
    }
    if let Some(now) = filter.overdue_at {
        select = select
            .filter(Column::Status.eq(TaskStatus::Open.as_str()))
            .filter(Column::DueAt.lt(now));
    }
    let own = (Column::CreatedAt, SortDir::Desc);
    let select = list_order(
        select,
        filter.changes,
        own,
        Column::UpdatedAt,
        Column::Id,
        after,
        limit,
    );
    let rows = select.all(db).await?;
    Page::from_models(rows, limit, to_domain, |t| {
        list_cursor(
            filter.changes,
            t.updated_at,
            SortValue::Time(t.created_at),
            t.id,
        )
    })
}

/// One page of the tasks deleted in `changes` that `scope` saw (and of `filter.assignee_id`
/// and `filter.customer_id`), oldest deletion first.
///
/// # Errors
/// Database failures.
pub async fn deleted(
    db: &impl Conn,
    scope: TaskScope,
    filter: &TaskFilter,
    changes: Changes,
    after: Option<Cursor>,
    limit: u64,
) -> Result<Page<Tombstone>, StoreError> {
    use crate::entities::deletion::Column as D;
    let mut visible = visible(scope, [D::CustomerId, D::AssigneeId, D::CreatedBy]);
    if let Some(id) = filter.assignee_id {
        visible = Condition::all().add(visible).add(D::AssigneeId.eq(id));
    }
    if let Some(id) = filter.customer_id {
        visible = Condition::all().add(visible).add(D::CustomerId.eq(id));
    }
    deletions::page(db, Kind::Task, visible, changes, after, limit).await
}

/// All tasks of some customers (exports).
///
/// # Errors
/// Database failures.
pub async fn of_customers(db: &impl Conn, customer_ids: &[Uuid]) -> Result<Vec<Task>, StoreError> {
    let rows = Entity::find()
        .filter(Column::CustomerId.is_in(customer_ids.iter().copied()))
        .all(db)
        .await?;
    rows.into_iter().map(to_domain).collect()
}

/// The open lead follow-up tasks of a customer, to update (with their version bumped).
fn open_lead_follow_ups(customer_id: Uuid, now: DateTime<Utc>) -> sea_orm::UpdateMany<Entity> {
    Entity::update_many()
        .col_expr(Column::UpdatedAt, Expr::value(now))
        .col_expr(Column::Version, Expr::col(Column::Version).add(1))
        .filter(Column::CustomerId.eq(customer_id))
        .filter(Column::Origin.eq(TaskOrigin::LeadFollowUp.as_str()))
        .filter(Column::Status.eq(TaskStatus::Open.as_str()))
}

/// Marks the open lead follow-up tasks of a customer done (it was contacted).
///
/// # Errors
/// Database failures.
pub async fn complete_lead_follow_ups(
    db: &impl Conn,
    customer_id: Uuid,
    now: DateTime<Utc>,
) -> Result<u64, StoreError> {
    let done = open_lead_follow_ups(customer_id, now)
        .col_expr(Column::Status, Expr::value(TaskStatus::Done.as_str()))
        .col_expr(Column::CompletedAt, Expr::value(now));
    Ok(done.exec(db).await?.rows_affected)
}

/// Deletes a task for good, leaving its tombstone for the change feed.
///
/// # Errors
/// `NotFound` when there is no such task.
pub async fn delete(db: &impl Conn, task: &Task, now: DateTime<Utc>) -> Result<(), StoreError> {
    delete_row::<Entity>(db, task.id).await?;
    let deleted = Deleted {
        kind: Kind::Task,
        id: task.id,
        customer_id: task.customer_id,
        assignee_id: Some(task.assignee_id),
        created_by: task.created_by,
    };
    deletions::record(db, deleted, now).await
}

/// Replaces the text of a customer's tasks with the erasure tombstone.
///
/// # Errors
/// Database failures.
pub async fn erase_text(
    db: &impl Conn,
    customer_id: Uuid,
    tombstone: &str,
    now: DateTime<Utc>,
) -> Result<u64, StoreError> {
    let result = Entity::update_many()
        .col_expr(Column::Title, Expr::value(tombstone))
        .col_expr(Column::Description, Expr::value(Option::<String>::None))
        .col_expr(Column::UpdatedAt, Expr::value(now))
        .col_expr(Column::Version, Expr::col(Column::Version).add(1))
        .filter(Column::CustomerId.eq(customer_id))
        .exec(db)
        .await?;
    Ok(result.rows_affected)
}

/// Gives the open lead follow-up tasks of a customer to its new owner.
///
/// # Errors
/// Database failures.
pub async fn reassign_lead_follow_ups(
    db: &impl Conn,
    customer_id: Uuid,
    owner: Uuid,
    now: DateTime<Utc>,
) -> Result<u64, StoreError> {
    let moved =
        open_lead_follow_ups(customer_id, now).col_expr(Column::AssigneeId, Expr::value(owner));
    Ok(moved.exec(db).await?.rows_affected)
}

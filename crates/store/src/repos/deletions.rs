//! Tombstones of records deleted for good (contacts, activities, tasks). A deleted row is
//! gone, so its list's change feed shows the deletion from here: the record's id, what
//! decides who saw it, and when it went. Each is written by its record's `delete`, on the
//! delete's own transaction.

use chrono::{DateTime, Utc};
use rapport_domain::access::Visibility;
use sea_orm::{ActiveValue::Set, ColumnTrait, Condition, EntityTrait, QueryFilter};
use uuid::Uuid;

use crate::entities::deletion::{self, Column, Entity};
use crate::page::{Changes, Cursor, Page, SortValue};
use crate::repos::customer_visible;
use crate::{Conn, StoreError};

/// What kind of record a tombstone stands for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    Contact,
    Activity,
    Task,
    Team,
    Client,
    Webhook,
    Campaign,
    AutomationRule,
}

impl Kind {
    fn as_str(self) -> &'static str {
        match self {
            Kind::Contact => "contact",
            Kind::Activity => "activity",
            Kind::Task => "task",
            Kind::Team => "team",
            Kind::Client => "client",
            Kind::Webhook => "webhook",
            Kind::Campaign => "campaign",
            Kind::AutomationRule => "automation_rule",
        }
    }
}

/// A deleted record in a change feed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tombstone {
    pub id: Uuid,
    /// The customer it belonged to; `None` for a task about no customer.
    pub customer_id: Option<Uuid>,
    pub deleted_at: DateTime<Utc>,
}

/// A record being deleted, with what its list's visibility checks.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Deleted {
    pub kind: Kind,
    pub id: Uuid,
    pub customer_id: Option<Uuid>,
    /// A task's assignee and creator, who see it when it is about no customer; a webhook's
    /// owner is its creator.
    pub assignee_id: Option<Uuid>,
    pub created_by: Option<Uuid>,
}

impl Deleted {
    /// A record that everyone who lists its kind sees.
    pub(crate) fn seen_by_all(kind: Kind, id: Uuid) -> Deleted {
        Deleted {
            kind,
            id,
            customer_id: None,
            assignee_id: None,
            created_by: None,
        }
    }
}

/// Writes the tombstone of a record deleted `at`.
///
/// # Errors
/// Database failures.
pub(crate) async fn record(
    db: &impl Conn,
    d: Deleted,
    at: DateTime<Utc>,
) -> Result<(), StoreError> {
    Entity::insert(deletion::ActiveModel {
        entity_type: Set(d.kind.as_str().to_owned()),
        id: Set(d.id),
        customer_id: Set(d.customer_id),
        assignee_id: Set(d.assignee_id),
        created_by: Set(d.created_by),
        deleted_at: Set(at),
    })
    .exec_without_returning(db)
    .await?;
    Ok(())
}

/// One page of the tombstones of `kind` in `changes` of live customers `visibility` allows
/// (and of `customer_id` only, when given).
///
/// # Errors
/// Database failures.
pub(crate) async fn of_customers(
    db: &impl Conn,
    kind: Kind,
    visibility: Visibility,
    customer_id: Option<Uuid>,
    changes: Changes,
    after: Option<Cursor>,
    limit: u64,
) -> Result<Page<Tombstone>, StoreError> {
    let mut visible = Condition::all().add(customer_visible(Column::CustomerId, visibility));
    if let Some(id) = customer_id {
        visible = visible.add(Column::CustomerId.eq(id));
    }
    page(db, kind, visible, changes, after, limit).await
}

/// One page of the tombstones of `kind` in `changes` that `visible` admits (a condition on
/// this table's columns), oldest deletion first by (`deleted_at`, id).
///
/// # Errors
/// Database failures.
pub(crate) async fn page(
    db: &impl Conn,
    kind: Kind,
    visible: Condition,
    changes: Changes,
    after: Option<Cursor>,
    limit: u64,
) -> Result<Page<Tombstone>, StoreError> {
    let select = Entity::find()
        .filter(Column::EntityType.eq(kind.as_str()))
        .filter(visible);
    let rows = changes
        .walk(select, Column::DeletedAt, Column::Id, after, limit)
        .all(db)
        .await?;
    let tombstones = rows
        .into_iter()
        .map(|m| Tombstone {
            id: m.id,
            customer_id: m.customer_id,
            deleted_at: m.deleted_at,
        })
        .collect();
    Ok(Page::from_rows(tombstones, limit, |t| Cursor {
        value: SortValue::Time(t.deleted_at),
        id: t.id,
    }))
}

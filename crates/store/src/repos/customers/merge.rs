//! Moving what hangs off duplicates onto the surviving customer.

use chrono::{DateTime, Utc};
use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter};
use uuid::Uuid;

use crate::entities::{
    activity, campaign_member, contact, grade_change, opportunity, order, quote, stage_change,
    survey_invitation, task, ticket,
};
use crate::{Conn, StoreError};

/// How many records a merge moves.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Moved {
    pub contacts: u64,
    pub activities: u64,
    pub tasks: u64,
    pub stage_changes: u64,
    pub tickets: u64,
    pub opportunities: u64,
    pub quotes: u64,
    pub orders: u64,
    pub survey_invitations: u64,
    pub grade_changes: u64,
}

/// Counts (with `dry_run`) or moves the contacts, activities, tasks, stage changes, tickets,
/// opportunities, quotes, orders, survey invitations and grade changes of `from` onto `to`.
/// The primary contact stays the survivor's: moved contacts lose the flag. A moved record that
/// has versions gets its next one, changed `now`: the change feeds and `If-Match` see the move.
///
/// # Errors
/// Database failures.
pub async fn move_children(
    db: &impl Conn,
    from: &[Uuid],
    to: Uuid,
    dry_run: bool,
    now: DateTime<Utc>,
) -> Result<Moved, StoreError> {
    let contacts = if dry_run {
        count::<contact::Entity>(db, contact::Column::CustomerId, from).await?
    } else {
        contact::Entity::update_many()
            .col_expr(contact::Column::CustomerId, Expr::value(to))
            .col_expr(contact::Column::IsPrimary, Expr::value(false))
            .col_expr(contact::Column::UpdatedAt, Expr::value(now))
            .col_expr(
                contact::Column::Version,
                Expr::col(contact::Column::Version).add(1),
            )
            .filter(contact::Column::CustomerId.is_in(from.iter().copied()))
            .exec(db)
            .await?
            .rows_affected
    };
    let to = (!dry_run).then_some(to);
    macro_rules! versioned {
        ($entity:ident) => {
            reassign_versioned::<$entity::Entity>(
                db,
                [
                    $entity::Column::CustomerId,
                    $entity::Column::UpdatedAt,
                    $entity::Column::Version,
                ],
                from,
                to,
                now,
            )
            .await?
        };
    }
    // Campaign memberships follow their contacts (not counted in `Moved`).
    versioned!(campaign_member);
    Ok(Moved {
        contacts,
        activities: versioned!(activity),
        tasks: versioned!(task),
        stage_changes: reassign::<stage_change::Entity>(
            db,
            stage_change::Column::CustomerId,
            from,
            to,
        )
        .await?,
        tickets: versioned!(ticket),
        opportunities: versioned!(opportunity),
        quotes: versioned!(quote),
        orders: versioned!(order),
        survey_invitations: versioned!(survey_invitation),
        grade_changes: reassign::<grade_change::Entity>(
            db,
            grade_change::Column::CustomerId,
            from,
            to,
        )
        .await?,
    })
}

/// As [`reassign`], for a record with versions: each moved row also gets `updated_at = now`
/// and its next `version` (`columns`: its customer id, its `updated_at`, its `version`).
async fn reassign_versioned<E: EntityTrait>(
    db: &impl Conn,
    [customer_id, updated_at, version]: [E::Column; 3],
    from: &[Uuid],
    to: Option<Uuid>,
    now: DateTime<Utc>,
) -> Result<u64, StoreError>
where
    E::Model: Sync,
{
    let Some(to) = to else {
        return count::<E>(db, customer_id, from).await;
    };
    Ok(E::update_many()
        .col_expr(customer_id, Expr::value(to))
        .col_expr(updated_at, Expr::value(now))
        .col_expr(version, Expr::col(version).add(1))
        .filter(customer_id.is_in(from.iter().copied()))
        .exec(db)
        .await?
        .rows_affected)
}

/// How many rows of `E` name one of `from` in `column`.
async fn count<E: EntityTrait>(
    db: &impl Conn,
    column: E::Column,
    from: &[Uuid],
) -> Result<u64, StoreError>
where
    E::Model: Sync,
{
    Ok(E::find()
        .filter(column.is_in(from.iter().copied()))
        .count(db)
        .await?)
}

/// Points the rows of `E` naming one of `from` in `column` at `to`; with no `to`, only
/// counts them (a dry run).
async fn reassign<E: EntityTrait>(
    db: &impl Conn,
    column: E::Column,
    from: &[Uuid],
    to: Option<Uuid>,
) -> Result<u64, StoreError>
where
    E::Model: Sync,
{
    let Some(to) = to else {
        return count::<E>(db, column, from).await;
    };
    Ok(E::update_many()
        .col_expr(column, Expr::value(to))
        .filter(column.is_in(from.iter().copied()))
        .exec(db)
        .await?
        .rows_affected)
}

//! Moving what hangs off duplicates onto the surviving customer.

use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter};
use uuid::Uuid;

use crate::entities::{
    activity, contact, grade_change, opportunity, order, quote, stage_change, survey_invitation,
    task, ticket,
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
/// The primary contact stays the survivor's: moved contacts lose the flag.
///
/// # Errors
/// Database failures.
pub async fn move_children(
    db: &impl Conn,
    from: &[Uuid],
    to: Uuid,
    dry_run: bool,
) -> Result<Moved, StoreError> {
    let contacts = if dry_run {
        count::<contact::Entity>(db, contact::Column::CustomerId, from).await?
    } else {
        contact::Entity::update_many()
            .col_expr(contact::Column::CustomerId, Expr::value(to))
            .col_expr(contact::Column::IsPrimary, Expr::value(false))
            .filter(contact::Column::CustomerId.is_in(from.iter().copied()))
            .exec(db)
            .await?
            .rows_affected
    };
    let to = (!dry_run).then_some(to);
    Ok(Moved {
        contacts,
        activities: reassign::<activity::Entity>(db, activity::Column::CustomerId, from, to)
            .await?,
        tasks: reassign::<task::Entity>(db, task::Column::CustomerId, from, to).await?,
        stage_changes: reassign::<stage_change::Entity>(
            db,
            stage_change::Column::CustomerId,
            from,
            to,
        )
        .await?,
        tickets: reassign::<ticket::Entity>(db, ticket::Column::CustomerId, from, to).await?,
        opportunities: reassign::<opportunity::Entity>(
            db,
            opportunity::Column::CustomerId,
            from,
            to,
        )
        .await?,
        quotes: reassign::<quote::Entity>(db, quote::Column::CustomerId, from, to).await?,
        orders: reassign::<order::Entity>(db, order::Column::CustomerId, from, to).await?,
        survey_invitations: reassign::<survey_invitation::Entity>(
            db,
            survey_invitation::Column::CustomerId,
            from,
            to,
        )
        .await?,
        grade_changes: reassign::<grade_change::Entity>(
            db,
            grade_change::Column::CustomerId,
            from,
            to,
        )
        .await?,
    })
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

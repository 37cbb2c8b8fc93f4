//! Moving what hangs off duplicates onto the surviving customer.

use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter};
use uuid::Uuid;

use crate::entities::{activity, contact, opportunity, order, quote, stage_change, task, ticket};
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
}

/// Counts (with `dry_run`) or moves the contacts, activities, tasks, stage changes, tickets,
/// opportunities, quotes and orders of
/// `from` onto `to`. The primary contact stays the survivor's: moved contacts lose the flag.
///
/// # Errors
/// Database failures.
pub async fn move_children(
    db: &impl Conn,
    from: &[Uuid],
    to: Uuid,
    dry_run: bool,
) -> Result<Moved, StoreError> {
    let ids = || from.iter().copied();
    if dry_run {
        return Ok(Moved {
            contacts: contact::Entity::find()
                .filter(contact::Column::CustomerId.is_in(ids()))
                .count(db)
                .await?,
            activities: activity::Entity::find()
                .filter(activity::Column::CustomerId.is_in(ids()))
                .count(db)
                .await?,
            tasks: task::Entity::find()
                .filter(task::Column::CustomerId.is_in(ids()))
                .count(db)
                .await?,
            stage_changes: stage_change::Entity::find()
                .filter(stage_change::Column::CustomerId.is_in(ids()))
                .count(db)
                .await?,
            tickets: ticket::Entity::find()
                .filter(ticket::Column::CustomerId.is_in(ids()))
                .count(db)
                .await?,
            opportunities: opportunity::Entity::find()
                .filter(opportunity::Column::CustomerId.is_in(ids()))
                .count(db)
                .await?,
            quotes: quote::Entity::find()
                .filter(quote::Column::CustomerId.is_in(ids()))
                .count(db)
                .await?,
            orders: order::Entity::find()
                .filter(order::Column::CustomerId.is_in(ids()))
                .count(db)
                .await?,
        });
    }
    let contacts = contact::Entity::update_many()
        .col_expr(contact::Column::CustomerId, Expr::value(to))
        .col_expr(contact::Column::IsPrimary, Expr::value(false))
        .filter(contact::Column::CustomerId.is_in(ids()))
        .exec(db)
        .await?
        .rows_affected;
    let activities = activity::Entity::update_many()
        .col_expr(activity::Column::CustomerId, Expr::value(to))
        .filter(activity::Column::CustomerId.is_in(ids()))
        .exec(db)
        .await?
        .rows_affected;
    let tasks = task::Entity::update_many()
        .col_expr(task::Column::CustomerId, Expr::value(to))
        .filter(task::Column::CustomerId.is_in(ids()))
        .exec(db)
        .await?
        .rows_affected;
    let stage_changes = stage_change::Entity::update_many()
        .col_expr(stage_change::Column::CustomerId, Expr::value(to))
        .filter(stage_change::Column::CustomerId.is_in(ids()))
        .exec(db)
        .await?
        .rows_affected;
    let tickets = ticket::Entity::update_many()
        .col_expr(ticket::Column::CustomerId, Expr::value(to))
        .filter(ticket::Column::CustomerId.is_in(ids()))
        .exec(db)
        .await?
        .rows_affected;
    let opportunities = opportunity::Entity::update_many()
        .col_expr(opportunity::Column::CustomerId, Expr::value(to))
        .filter(opportunity::Column::CustomerId.is_in(ids()))
        .exec(db)
        .await?
        .rows_affected;
    let quotes = quote::Entity::update_many()
        .col_expr(quote::Column::CustomerId, Expr::value(to))
        .filter(quote::Column::CustomerId.is_in(ids()))
        .exec(db)
        .await?
        .rows_affected;
    let orders = order::Entity::update_many()
        .col_expr(order::Column::CustomerId, Expr::value(to))
        .filter(order::Column::CustomerId.is_in(ids()))
        .exec(db)
        .await?
        .rows_affected;
    Ok(Moved {
        contacts,
        activities,
        tasks,
        stage_changes,
        tickets,
        opportunities,
        quotes,
        orders,
    })
}

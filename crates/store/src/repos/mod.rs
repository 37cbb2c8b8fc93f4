//! Repositories: one module per aggregate, functions that take a connection and speak domain
//! types.

pub mod activities;
pub mod audit;
pub mod clients;
pub mod contacts;
pub mod customers;
pub mod idempotency;
pub mod refresh_tokens;
pub mod stage_changes;
pub mod tasks;
pub mod teams;
pub mod users;

use rapport_domain::access::Visibility;
use sea_orm::ColumnTrait;
use sea_orm::sea_query::{Expr, Query, SimpleExpr};

use crate::StoreError;

/// A stored value that no longer parses: a bug or a manual edit, never the client's fault.
pub(crate) fn corrupt(column: &str, err: impl std::fmt::Display) -> StoreError {
    StoreError::Db(sea_orm::DbErr::Type(format!("{column}: {err}")))
}

/// Parses a stored value with its domain parser.
pub(crate) fn parse_column<T, E: std::fmt::Display>(
    column: &str,
    value: &str,
    parse: impl FnOnce(&str) -> Result<T, E>,
) -> Result<T, StoreError> {
    parse(value).map_err(|e| corrupt(column, e))
}

/// The condition "the customer in `customer_id` is visible": a sub-select on customers, for
/// tables that hang off a customer.
pub(crate) fn customer_visible(
    customer_id: impl ColumnTrait,
    visibility: Visibility,
) -> SimpleExpr {
    use crate::entities::customer::Column as C;
    let of = |column: C, value: uuid::Uuid| {
        Query::select()
            .column(C::Id)
            .from(crate::entities::customer::Entity)
            .and_where(Expr::col(column).eq(value))
            .to_owned()
    };
    match visibility {
        Visibility::All => Expr::cust("1 = 1"),
        Visibility::Owner(user) => customer_id.in_subquery(of(C::OwnerId, user)),
        Visibility::Team(team) => customer_id.in_subquery(of(C::TeamId, team)),
        Visibility::Nothing => Expr::cust("1 = 0"),
    }
}

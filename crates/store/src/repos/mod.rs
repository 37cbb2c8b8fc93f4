//! Repositories: one module per aggregate, functions that take a connection and speak domain
//! types.

pub mod activities;
pub mod article_categories;
pub mod articles;
pub mod assignment;
pub mod audit;
pub mod audit_chain;
pub mod auth_epoch;
pub mod automation;
pub mod campaign_messages;
pub mod campaigns;
pub mod clients;
pub mod contacts;
pub mod customers;
pub mod deletions;
pub mod erasure;
pub mod grading;
pub mod idempotency;
pub mod imports;
pub mod jobs;
pub mod lead_escalations;
pub mod loyalty;
pub mod notifications;
pub mod numbers;
pub mod opportunities;
pub mod orders;
pub mod performance;
pub mod pipelines;
pub mod products;
pub mod quotes;
pub mod record;
pub mod refresh_tokens;
pub mod satisfaction;
pub mod search_index;
pub mod service_levels;
pub mod sla_policies;
pub mod stage_changes;
pub mod survey_invitations;
pub mod survey_triggers;
pub mod surveys;
pub mod tasks;
pub mod teams;
pub mod tickets;
pub mod users;
pub mod webhooks;

use rapport_domain::access::Visibility;
use sea_orm::ColumnTrait;
use sea_orm::sea_query::{Expr, Query, SimpleExpr};

use crate::StoreError;

pub(crate) use record::save_each;
pub use record::{Lock, fetch, get_locked, insert_all, lock_all, save};

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

/// Parses an optional stored value with its domain parser.
pub(crate) fn parse_optional<T, E: std::fmt::Display>(
    column: &str,
    value: Option<&str>,
    parse: impl FnOnce(&str) -> Result<T, E>,
) -> Result<Option<T>, StoreError> {
    value.map(|v| parse_column(column, v, parse)).transpose()
}

/// Deletes the row with this primary key.
///
/// # Errors
/// `NotFound` when there is none.
pub(crate) async fn delete_row<E>(db: &impl crate::Conn, id: uuid::Uuid) -> Result<(), StoreError>
where
    E: sea_orm::EntityTrait,
    <E::PrimaryKey as sea_orm::PrimaryKeyTrait>::ValueType: From<uuid::Uuid>,
{
    if E::delete_by_id(id).exec(db).await?.rows_affected == 0 {
        return Err(StoreError::NotFound);
    }
    Ok(())
}

/// The condition "the customer in `customer_id` is live and visible": a sub-select on
/// customers, for tables that hang off a customer. Records of deleted customers are hidden
/// with them.
pub(crate) fn customer_visible(
    customer_id: impl ColumnTrait,
    visibility: Visibility,
) -> SimpleExpr {
    use crate::entities::customer::{Column as C, Entity as Customers};
    let live_of = |column: C, value: uuid::Uuid| {
        Query::select()
            .column(C::Id)
            .from(Customers)
            .and_where(Expr::col(column).eq(value))
            .and_where(Expr::col(C::DeletedAt).is_null())
            .to_owned()
    };
    match visibility {
        // The deleted are few: excluding them beats listing every live customer.
        Visibility::All => customer_id.not_in_subquery(
            Query::select()
                .column(C::Id)
                .from(Customers)
                .and_where(Expr::col(C::DeletedAt).is_not_null())
                .to_owned(),
        ),
        Visibility::Owner(user) => customer_id.in_subquery(live_of(C::OwnerId, user)),
        Visibility::Team(team) => customer_id.in_subquery(live_of(C::TeamId, team)),
        Visibility::Nothing => Expr::cust("1 = 0"),
    }
}
